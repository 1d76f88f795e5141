"""Seedable random tensors from the in-graph counter-based generator (the ``rand`` primitive).

Each draw takes a fresh 64-bit key from a global counter; the bits of element ``i`` are a hash of
(key, i), so a draw is reproducible from ``manual_seed`` alone and independent of threading. Inside
``@lumina.compile`` the counter is a tensor the compiled function advances, so every call draws new
numbers, exactly as eager calls would.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaTypeError
from ..ir.dtypes import DType, to_dtype
from ..ir.graph import emit
from ..ir.ops import Op
from ..tracing import STATE
from .core import Tensor
from .creation import place, tensor
from .shapes import shape_arg

_COUNTER = tensor(np.int64(0))


def manual_seed(seed: int) -> None:
    """Reset the generator: the same seed gives the same sequence of draws."""
    _COUNTER.assign(tensor(np.int64(int(seed) << 32)))
    _COUNTER.numpy()


def _next_key() -> Tensor:
    if STATE.trace is None:
        key = int(_COUNTER.item())
        _COUNTER.assign(tensor(np.int64(key + 1)))
        _COUNTER.numpy()
        return tensor(np.int64(key))
    key = Tensor(_COUNTER._touch())
    _COUNTER.assign(key + 1)
    return key


def _finish(t: Tensor, device, requires_grad: bool, op: str) -> Tensor:
    """A draw on ``device`` (``creation.place``), made a realised leaf when it requires grad
    (as ``lumina.tensor``; floating-point dtypes only, as torch)."""
    if requires_grad:
        if not t.dtype.is_float:
            raise LuminaTypeError(f"{op}: only floating-point tensors can require grad, got {t.dtype.name}")
        t = tensor(t, requires_grad=True)
    return place(t, device, op)


def rand(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of ``size``; float32 unless ``dtype`` is given."""
    dt = DType.float32 if dtype is None else to_dtype(dtype)
    if not size:
        raise LuminaTypeError("rand: missing the size (as torch; lumina.rand(()) is a 0-d sample)")
    shape = shape_arg(size, "rand")
    out = Tensor(emit(Op.RAND, (_next_key()._touch(),), shape=shape, dtype=dt))
    return _finish(out, device, requires_grad, "rand")


def randn(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples by the Box–Muller transform: sqrt(-2 ln(1-u1)) cos(2 pi u2)."""
    if not size:
        raise LuminaTypeError("randn: missing the size (as torch; lumina.randn(()) is a 0-d sample)")
    shape = shape_arg(size, "randn")
    u1, u2 = rand(shape, dtype=dtype), rand(shape, dtype=dtype)
    out = (-2.0 * (1.0 - u1).log()).sqrt() * (2 * math.pi * u2).cos()
    return _finish(out, device, requires_grad, "randn")


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``rand`` of ``input``'s shape, with its dtype unless ``dtype`` is given."""
    return rand(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``randn`` of ``input``'s shape, with its dtype unless ``dtype`` is given."""
    return randn(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randint(low: int, high: int, size, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high) of ``size``; int64 unless ``dtype`` is given."""
    dtype = DType.int64 if dtype is None else dtype
    u = rand(shape_arg((size,) if isinstance(size, int) else tuple(size), "randint"), dtype=DType.float64)
    return _finish((u * float(high - low)).to(dtype) + low, device, requires_grad, "randint")
