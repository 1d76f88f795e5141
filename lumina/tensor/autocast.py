"""Autocast, after ``torch.autocast("cpu")``: which dtype an op runs in under mixed precision.

    with lumina.autocast("cpu", dtype=lumina.bfloat16):
        loss = F.cross_entropy(model(x), y)     # matmuls in bfloat16, the loss in float32

Autocast policy (PyTorch's CPU op lists). *Lower-precision ops* (matmul, linear, conv) cast their
floating-point operands, except float64 ones, to the autocast dtype: they call
``autocast_operands``. *Float32 ops* (the losses) cast 16-bit operands up to float32: they call
``autocast_fp32``. Every other op runs in the dtype of its inputs; the ones that need range or
precision (``sum``, ``mean``, ``softmax``, ``log_softmax``) accumulate in float32 internally
whatever the autocast state, and round their result once.

The autocast state is thread-local and read when an op is recorded, so inside ``@lumina.compile``
it is part of what a trace depends on (``autocast_state`` joins the compile signature). Loss
scaling (``GradScaler``) is ``lumina.amp``.
"""
from __future__ import annotations

import functools
import threading
from typing import Callable

from ..backends.devices import canonical
from ..errors import LuminaTypeError
from ..ir.dtypes import DType, to_dtype
from .core import Tensor


class _AutocastState(threading.local):
    enabled: bool = False
    dtype: DType = DType.bfloat16


_AUTOCAST = _AutocastState()


class autocast:
    """Context manager (and decorator) that runs lower-precision ops in ``dtype``.

    ``autocast("cpu", dtype=lumina.bfloat16, enabled=True)`` as ``torch.autocast``: ``dtype`` is
    ``lumina.bfloat16`` or ``lumina.float16``, by default torch's for ``device_type`` (bfloat16
    for "cpu", float16 for "cuda" and "metal"); the op lists are PyTorch's CPU ones on every
    device. ``enabled=False`` turns autocast off inside an enclosing region. ``cache_enabled``
    (torch's cache of casted weights) does not change results. Raises LuminaTypeError for any
    other dtype, LuminaDeviceError for an unknown ``device_type``.
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled: bool | None = None):
        device_type = canonical(device_type)
        if dtype is None:
            dtype = DType.bfloat16 if device_type == "cpu" else DType.float16
        dt = to_dtype(dtype, "autocast")
        if not dt.is_half:
            raise LuminaTypeError(f"autocast: dtype must be lumina.bfloat16 or lumina.float16, got {dt}")
        self.device_type, self.dtype, self.enabled = device_type, dt, bool(enabled)
        self._saved: list[tuple[bool, DType]] = []

    def __enter__(self) -> "autocast":
        self._saved.append((_AUTOCAST.enabled, _AUTOCAST.dtype))
        _AUTOCAST.enabled = self.enabled
        if self.enabled:
            _AUTOCAST.dtype = self.dtype
        return self

    def __exit__(self, *exc) -> None:
        _AUTOCAST.enabled, _AUTOCAST.dtype = self._saved.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


def is_autocast_enabled() -> bool:
    return _AUTOCAST.enabled


def get_autocast_dtype() -> DType:
    """The dtype lower-precision ops run in while autocast is enabled."""
    return _AUTOCAST.dtype


def autocast_state() -> DType | None:
    """The autocast dtype when enabled, else None: what a recorded graph depends on."""
    return _AUTOCAST.dtype if _AUTOCAST.enabled else None


def _castable(x, low: bool) -> bool:
    if not isinstance(x, Tensor) or not x.dtype.is_float:
        return False
    return x.dtype is not DType.float64 if low else x.dtype.is_half


def autocast_operands(*tensors):
    """The operands of a lower-precision op (matmul, linear, conv) under the autocast policy:
    floating-point tensors other than float64 cast to the autocast dtype while it is enabled;
    anything else (None, ints, float64) unchanged. Returns a tuple, one entry per argument."""
    if not _AUTOCAST.enabled:
        return tensors
    dt = _AUTOCAST.dtype
    return tuple(t.to(dt) if _castable(t, low=True) else t for t in tensors)


def autocast_fp32(*tensors):
    """The operands of a float32 op (the losses) under the autocast policy: 16-bit float tensors
    cast to float32 while autocast is enabled. Returns a tuple, one entry per argument."""
    if not _AUTOCAST.enabled:
        return tensors
    return tuple(t.to(DType.float32) if _castable(t, low=False) else t for t in tensors)
