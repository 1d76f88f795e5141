"""Creating tensors: from data (``tensor``), constants (``full``, ``zeros``, ``ones`` and their
``_like`` forms, ``arange``, ``eye``, ``const``) and a creation function's ``device=`` (``place``).
Random tensors are ``lumina.tensor.random``."""
from __future__ import annotations

import math

import numpy as np

from ..backends.devices import canonical
from ..errors import LuminaDeviceError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType, to_dtype
from .core import Tensor
from .shapes import check_size, shape_arg


def const(value, dtype: DType) -> Tensor:
    """A Python number as a 0-d constant tensor of ``dtype`` (an operand that joins any device)."""
    return Tensor(B.const(value, dtype))


def place(t: Tensor, device, op: str) -> Tensor:
    """``t`` on ``device`` (a creation function's ``device=``): None leaves it where it is (a
    constant joins whichever device it meets, as does one made with ``device="cpu"``); another
    device copies it there. Raises LuminaDeviceError naming ``op`` for an unknown or unavailable
    device."""
    if device is None:
        return t
    try:
        name = canonical(device)
        return t.to(name)
    except LuminaDeviceError as e:
        raise LuminaDeviceError(f"{op}: {e}") from None


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A realised tensor holding a copy of ``data`` (array, list or scalar), on ``device`` (see
    ``place``).

    Python floats default to float32 and ints to int64, as in PyTorch; NumPy arrays keep their dtype
    (float64 stays float64). Raises LuminaTypeError for unsupported dtypes, LuminaDeviceError for
    an unknown device.
    """
    if isinstance(data, Tensor):
        data = data.numpy()
    try:
        probe = data if isinstance(data, np.ndarray) else np.asarray(data)
    except (ValueError, TypeError, OverflowError) as e:   # ragged nested lists, huge ints
        raise LuminaValueError(f"tensor: cannot make a tensor of {type(data).__name__} data: {e}") from None
    if probe.dtype == object:
        raise LuminaTypeError(f"tensor: data must be numbers or nested sequences of numbers of equal "
                              f"lengths, got {type(data).__name__} holding {type(probe.flat[0]).__name__ if probe.size else 'nothing'}")
    if dtype is None:
        arr = np.asarray(data)
        if arr.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
            arr = arr.astype(np.float32)
        dt = to_dtype(arr.dtype, "tensor")
    else:
        dt = to_dtype(dtype, "tensor")
        arr = np.asarray(data)
        if dt.is_half and arr.dtype != dt.numpy:  # round from float32, as every cast to 16 bits
            arr = arr.astype(np.float32)
    if not dt.is_float and arr.dtype.kind in "fc" and arr.size and not np.isfinite(arr).all():
        raise LuminaValueError(f"tensor: cannot convert a float NaN or infinity to {dt.name}")
    arr = np.array(arr, dtype=dt.numpy, order="C", copy=True)
    if requires_grad and not dt.is_float:
        raise LuminaTypeError(f"tensor: only floating-point tensors can require grad, got {dt.name}")
    return place(Tensor._from_array(arr, requires_grad), device, "tensor")


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.full``: a tensor of ``size`` filled with ``fill_value`` (a broadcast constant unless
    it requires grad), on ``device`` (see ``place``); the dtype is ``fill_value``'s (bool, int64,
    float32) unless given. Raises LuminaTypeError for non-integer sizes, LuminaValueError for
    negative or too large ones."""
    value = fill_value
    dt = to_dtype(dtype, "full") if dtype is not None else (DType.bool if isinstance(value, bool) else
                                                    DType.float32 if isinstance(value, float) else DType.int64)
    shape = shape_arg(tuple(size) if isinstance(size, (tuple, list)) else (size,), "full", dt)
    if requires_grad:
        return tensor(np.full(shape, value), dt, device, requires_grad=True)
    return place(Tensor(B.const(value, dt, shape)), device, "full")


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.zeros(*size)``: float32 unless ``dtype`` is given; see ``full``."""
    if not size:
        raise LuminaTypeError("zeros: missing the size (as torch; zeros(()) is 0-d)")
    dtype = DType.float32 if dtype is None else dtype
    return full(shape_arg(size, "zeros", to_dtype(dtype)), 0, dtype=dtype, device=device,
                requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.ones(*size)``: float32 unless ``dtype`` is given; see ``full``."""
    if not size:
        raise LuminaTypeError("ones: missing the size (as torch; ones(()) is 0-d)")
    dtype = DType.float32 if dtype is None else dtype
    return full(shape_arg(size, "ones", to_dtype(dtype)), 1, dtype=dtype, device=device,
                requires_grad=requires_grad)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape, with its dtype unless ``dtype`` is given (device: see ``place``)."""
    return zeros(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape; see ``zeros_like``."""
    return ones(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``[start, end)`` in steps of ``step``; int64 for int arguments, else float32. As torch:
    ``arange(end)``, ``arange(start, end)``, ``arange(start, end, step)`` or by keyword
    (``arange(end=5)``). ``device``: see ``place``; ``requires_grad`` needs a float dtype."""
    if requires_grad:
        out = arange(start, end, step, dtype=dtype)
        if not out.dtype.is_float:
            raise LuminaTypeError(f"arange: only floating-point tensors can require grad, got {out.dtype.name}")
        return tensor(out.numpy(), out.dtype, device, requires_grad=True)
    if device is not None:
        return place(arange(start, end, step, dtype=dtype), device, "arange")
    if end is None:
        start, end = 0, start
    for v in (start, end, step):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise LuminaTypeError(f"arange: start, end and step must be numbers, got {v!r}")
        if not math.isfinite(v):
            raise LuminaValueError(f"arange: unsupported range {start} to {end} in steps of {step}")
    if step == 0:
        raise LuminaValueError(f"arange: step must be non-zero (start={start}, end={end})")
    if (end - start) * step < 0:
        raise LuminaValueError(f"arange: upper bound {end} and lower bound {start} inconsistent with "
                               f"step sign {step} (as torch)")
    floaty = any(isinstance(v, (float, np.floating)) for v in (start, end, step))
    dt = to_dtype(dtype) if dtype is not None else (DType.float32 if floaty else DType.int64)
    if dt is DType.bool:
        raise LuminaTypeError("arange: bool is not a supported dtype (as torch)")
    check_size("arange", (math.ceil((end - start) / step),), dt)
    values = np.arange(start, end, step, dtype=np.float64 if floaty else np.int64)
    return Tensor(B.const(values.astype(dt.numpy), dt, values.shape))


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.eye``: an ``n x m`` matrix (``m = n`` when None) with ones on the diagonal and zeros
    elsewhere, float32 unless ``dtype`` is given (bool gives True / False), a constant on
    ``device`` (see ``place``). ``requires_grad`` needs a float dtype. Raises LuminaTypeError for a
    size that is not an int, LuminaValueError for a negative one (torch: "n must be greater or
    equal to 0") or one too large for memory."""
    for name, v in (("n", n), ("m", m)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise LuminaTypeError(f"eye: {name} must be an int, got {v!r}")
        if v is not None and v < 0:
            raise LuminaValueError(f"eye: {name} must be greater or equal to 0, got {v} (as torch)")
    m = n if m is None else m
    dt = to_dtype(dtype, "eye") if dtype is not None else DType.float32
    check_size("eye", (n, m), dt)
    if requires_grad:
        if not dt.is_float:
            raise LuminaTypeError(f"eye: only floating-point tensors can require grad, got {dt.name}")
        return tensor(np.eye(n, m, dtype=dt.numpy), dt, device, requires_grad=True)
    return place(Tensor(B.const(np.eye(int(n), int(m), dtype=dt.numpy), dt, (int(n), int(m)))), device, "eye")
