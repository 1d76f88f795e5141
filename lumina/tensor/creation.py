"""Creating tensors: from data (``tensor``), constants (``full``, ``zeros``, ``ones``, ``empty`` and
their ``_like`` forms, ``arange``, ``linspace``, ``logspace``, ``eye``, ``const``), grids
(``meshgrid``, ``cartesian_prod``), ``Tensor.new_*`` and a creation function's ``device=``
(``place``). Random tensors are ``lumina.tensor.random``; NumPy and DLPack interop is
``lumina.tensor.interop``."""
from __future__ import annotations

import math

import numpy as np

from ..backends.devices import canonical
from ..errors import LuminaDeviceError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType, to_dtype
from ..ir.graph import emit
from ..ir.ops import Op
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


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.full_like``: ``fill_value`` in ``input``'s shape, with ``input``'s dtype unless
    ``dtype`` is given (the value is cast to it: 2.7 fills an int64 tensor with 2; NaN or an
    infinity into an integer dtype raises LuminaValueError, as torch's overflow check).
    https://pytorch.org/docs/stable/generated/torch.full_like.html"""
    dt = to_dtype(dtype, "full_like") if dtype is not None else input.dtype
    if not dt.is_float and dt is not DType.bool and isinstance(fill_value, float) and not math.isfinite(fill_value):
        raise LuminaValueError(f"full_like: value {fill_value} cannot be converted to {dt.name} without overflow "
                               f"(input {input._value.type})")
    return full(input.shape, fill_value, dtype=dt, device=device, requires_grad=requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.empty(*size)``: a tensor of ``size`` whose values the caller must not rely on. torch
    leaves the memory uninitialised; lumina's is zeros (a constant costs nothing). Float32 unless
    ``dtype`` is given; errors as ``zeros``."""
    if not size:
        raise LuminaTypeError("empty: missing the size (as torch; empty(()) is 0-d)")
    dtype = DType.float32 if dtype is None else dtype
    return full(shape_arg(size, "empty", to_dtype(dtype)), 0, dtype=dtype, device=device,
                requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.empty_like``: an uninitialised tensor of ``input``'s shape (zeros in lumina; see
    ``empty``), ``input``'s dtype unless ``dtype`` is given."""
    return empty(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def _range_arg(v, name: str, op: str):
    """A linspace / logspace bound as a Python number (a 0-d tensor is read)."""
    if isinstance(v, Tensor):
        if v.ndim != 0:
            raise LuminaValueError(f"{op}: {name} must be a 0-d tensor or a number, got {v._value.type}")
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise LuminaTypeError(f"{op}: {name} must be a number, got {v!r}")
    return v


def _steps(start, end, steps, dtype, op: str) -> tuple[float, float, int, DType]:
    """The checked arguments of linspace / logspace: (start, end, steps, result dtype)."""
    start, end = _range_arg(start, "start", op), _range_arg(end, "end", op)
    if isinstance(steps, Tensor):
        steps = steps.item() if steps.ndim == 0 and not steps.dtype.is_float else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise LuminaTypeError(f"{op}: steps must be an int, got {steps!r}")
    if steps < 0:
        raise LuminaValueError(f"{op}: number of steps must be non-negative, got {steps}")
    dt = to_dtype(dtype, op) if dtype is not None else DType.float32
    check_size(op, (int(steps),), dt)
    return start, end, int(steps), dt


def _spaced(lo, hi, steps: int, step, work) -> np.ndarray:
    """torch's two-sided fill: element ``i`` is ``lo + step * i`` in the first half and ``hi - step
    * (steps - 1 - i)`` in the second, so both ends are exact. torch's build computes each as one
    fused multiply-add (one rounding); ``work`` is a wider type that emulates it (float64 for
    float32, the 80-bit long double for float64 and integer results: exact for those, off by an
    ulp in rare float64 cases where rounding twice differs from rounding once)."""
    i = np.arange(steps, dtype=np.int64)
    head = work(lo) + work(step) * i.astype(work)
    tail = work(hi) - work(step) * (steps - 1 - i).astype(work)
    return np.where(i < steps // 2, head, tail)


def _finish(values: np.ndarray, dt: DType, device, requires_grad: bool, op: str) -> Tensor:
    if requires_grad:
        if not dt.is_float:
            raise LuminaTypeError(f"{op}: only floating-point tensors can require grad, got {dt.name}")
        return tensor(values.astype(dt.numpy), dt, device, requires_grad=True)
    with np.errstate(invalid="ignore", over="ignore"):
        out = values.astype(dt.numpy)
    return place(Tensor(B.const(out, dt, out.shape)), device, op)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.linspace``: ``steps`` evenly spaced values from ``start`` to ``end`` inclusive, shape
    ``(steps,)``, float32 unless ``dtype`` is given. The values are torch's CPU kernel's
    (``aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp``): ``step = (end - start) / (steps - 1)``
    in the result dtype (in double for integer results, which then truncate), filled from both ends
    (see ``_spaced``): bit for bit for float32 and integers; float64 within an ulp; float16 /
    bfloat16, which torch computes in half-precision vector steps, within a few ulps. Raises LuminaValueError for negative ``steps``,
    LuminaTypeError for non-numbers. https://pytorch.org/docs/stable/generated/torch.linspace.html"""
    start, end, steps, dt = _steps(start, end, steps, dtype, "linspace")
    if not dt.is_float:
        lo, hi = np.float64(np.trunc(start)), np.float64(np.trunc(end))   # Scalar.to<int>()
        step = (hi - lo) / max(steps - 1, 1)
        values = np.trunc(_spaced(lo, hi, steps, step, np.longdouble).astype(np.float64)) if steps > 1 else np.full(steps, lo)
        values = values != 0 if dt is DType.bool else values
    else:
        scalar = dt.numpy.type
        lo, hi = scalar(start), scalar(end)
        step = (hi - lo) / scalar(max(steps - 1, 1))
        wide = np.longdouble if dt is DType.float64 else np.float64
        values = _spaced(lo, hi, steps, step, wide) if steps > 1 else np.full(steps, lo)
    return _finish(values, dt, device, requires_grad, "linspace")


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.logspace``: ``base ** e`` for ``steps`` exponents ``e`` evenly spaced from ``start``
    to ``end``, shape ``(steps,)``, float32 unless ``dtype`` is given. As torch's CPU code
    (``aten/src/ATen/native/RangeFactories.cpp``): float results take the exponents and the power
    in double, then round (torch's vectorised pow differs in the last place now and then: within 2
    ulps); integer results use float arithmetic and truncate. Errors as ``linspace``. https://pytorch.org/docs/stable/generated/torch.logspace.html"""
    start, end, steps, dt = _steps(start, end, steps, dtype, "logspace")
    base = _range_arg(base, "base", "logspace")
    i = np.arange(steps, dtype=np.int64)
    if steps == 1:
        end = start         # torch: the one value is base ** start
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if dt.is_float:
            scalar = dt.numpy.type
            lo, hi = scalar(start), scalar(end)
            step = np.float64(hi - lo) / np.float64(steps - 1) if steps > 1 else np.float64(0)
            exps = np.where(i < steps // 2, np.float64(lo) + step * i, np.float64(hi) - step * (steps - 1 - i))
            values = np.power(np.float64(base), exps)
        else:
            lo, hi = np.float32(np.trunc(start)), np.float32(np.trunc(end))
            step = np.float32(hi - lo) / np.float32(steps - 1) if steps > 1 else np.float32(0)
            exps = np.where(i < steps // 2, lo + step * i.astype(np.float32),
                            hi - step * (steps - 1 - i).astype(np.float32))
            values = np.power(np.float32(base), exps.astype(np.float32))
            values = values != 0 if dt is DType.bool else np.trunc(values)
    return _finish(values, dt, device, requires_grad, "logspace")


def _tensor_list(tensors, op: str) -> list[Tensor]:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for t in tensors:
        if not isinstance(t, Tensor):
            raise LuminaTypeError(f"{op}: expects tensors, got {type(t).__name__}")
    return list(tensors)


def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    """``torch.meshgrid``: for 0-d or 1-d tensors of sizes ``n1..nk`` (one dtype), k tensors of
    shape ``(n1, ..., nk)`` (``indexing='ij'``, the default) or with the first two sizes swapped
    (``'xy'``); result ``i`` repeats tensor ``i`` along every other dim. Each result is an expanded
    view of its input (gradients sum back). As torch, ``indexing=None`` means ``'ij'`` and warns
    that the argument will be required. Accepts a list of tensors too. Raises LuminaValueError for
    no tensors or an unknown ``indexing``, LuminaShapeError for a tensor of more than 1 dim,
    LuminaTypeError for mixed dtypes. https://pytorch.org/docs/stable/generated/torch.meshgrid.html"""
    tensors = _tensor_list(tensors, "meshgrid")
    if indexing is None:
        import warnings
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
                      "argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise LuminaValueError(f"meshgrid: indexing must be one of 'xy' or 'ij', got {indexing!r}")
    if not tensors:
        raise LuminaValueError("meshgrid: expects a non-empty list of tensors")
    for t in tensors:
        if t.ndim > 1:
            raise LuminaShapeError(f"meshgrid: expects 0D or 1D tensors, got {t._value.type}")
        if t.dtype is not tensors[0].dtype:
            raise LuminaTypeError(f"meshgrid: expects all tensors to have the same dtype, got "
                                  f"{', '.join(str(x._value.type) for x in tensors)}")
    sizes = [t.numel() for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(tensors):
        axis = (1 - i if i < 2 else i) if swap else i
        keep = [1] * len(tensors)
        keep[axis] = sizes[axis]
        v = B.expand(B.reshape(t._touch(), keep), sizes)
        out.append(Tensor._result(v, t))
    return tuple(out)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """``torch.cartesian_prod``: the Cartesian product of k 1-d tensors (one dtype) of sizes
    ``n1..nk``, as a ``(n1 * ... * nk, k)`` tensor whose rows run in ``itertools.product``'s order;
    one tensor gives itself (a copy). Raises LuminaShapeError for a tensor that is not 1-d,
    LuminaTypeError for mixed dtypes, LuminaValueError for none.
    https://pytorch.org/docs/stable/generated/torch.cartesian_prod.html"""
    tensors = _tensor_list(tensors, "cartesian_prod")
    for t in tensors:
        if t.ndim != 1:
            raise LuminaShapeError(f"cartesian_prod: expects 1D tensors, got {t._value.type}")
    if len(tensors) == 1:
        return tensors[0].clone()
    grids = meshgrid(*tensors, indexing="ij")
    n = math.prod(t.numel() for t in tensors)
    columns = [B.reshape(g._touch(), (n, 1)) for g in grids]
    return Tensor._result(emit(Op.CONCAT, columns, axis=1), *tensors)


class CreationMethods:
    """``torch.Tensor``'s ``new_*`` constructors: new tensors with ``self``'s dtype and device
    unless ``dtype`` / ``device`` are given (``self``'s values are not read)."""

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return empty(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        """A copy of ``data`` (a tensor's values, detached, as torch) with ``self``'s dtype and
        device unless given."""
        return tensor(data, dtype or self.dtype, device or self.device, requires_grad=requires_grad)
