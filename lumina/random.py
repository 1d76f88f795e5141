"""Seedable random tensors from the in-graph counter-based generator (the ``rand`` primitive).

Each draw takes a fresh 64-bit key from a global counter; the bits of element ``i`` are a hash of
(key, i), so a draw is reproducible from ``manual_seed`` alone and independent of threading. Inside
``@lumina.compile`` the counter is a tensor the compiled function advances, so every call draws new
numbers, exactly as eager calls would.
"""
from __future__ import annotations

import math

import numpy as np

from .ir.dtypes import DType, to_dtype
from .ir.graph import emit
from .ir.ops import Op
from .tensor import Tensor, _shape_arg, tensor
from .tracing import STATE

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


def rand(*shape, dtype=DType.float32) -> Tensor:
    """Uniform samples in [0, 1) of ``shape``."""
    dt = to_dtype(dtype)
    shape = _shape_arg(shape, "rand")
    return Tensor(emit(Op.RAND, (_next_key()._touch(),), shape=shape, dtype=dt))


def randn(*shape, dtype=DType.float32) -> Tensor:
    """Standard normal samples by the Box–Muller transform: sqrt(-2 ln(1-u1)) cos(2 pi u2)."""
    shape = _shape_arg(shape, "randn")
    u1, u2 = rand(*shape, dtype=dtype), rand(*shape, dtype=dtype)
    return (-2.0 * (1.0 - u1).log()).sqrt() * (2 * math.pi * u2).cos()


def rand_like(x: Tensor) -> Tensor:
    return rand(*x.shape, dtype=x.dtype)


def randn_like(x: Tensor) -> Tensor:
    return randn(*x.shape, dtype=x.dtype)


def randint(low: int, high: int, shape, dtype=DType.int64) -> Tensor:
    """Integers uniform in [low, high)."""
    u = rand(*_shape_arg((shape,) if isinstance(shape, int) else tuple(shape), "randint"), dtype=DType.float64)
    return (u * float(high - low)).to(dtype) + low
