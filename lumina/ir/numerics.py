"""The bits of ``rand``: SplitMix64 and how its output becomes a uniform sample.

``rand(key) {shape, dtype}`` (``ir.ops``) draws element ``i`` (its row-major position) as the
SplitMix64 finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014; Vigna's ``splitmix64.c``) of the 64-bit state ``(key + 1) * GOLDEN + i``, keeping the
top ``RAND_BITS[dtype]`` bits as the fraction ``bits / 2**RAND_BITS``: counter-based, so any order
of evaluation and any split across threads give the same sample. ``key + 1`` keeps key 0 away from
the all-zero state.

This module is the one definition: the reference evaluator (``ir.interpret``) computes it in
NumPy here, and ``codegen.legalize`` builds the same steps from the same constants as kernel
operations for every backend. It lives in ``ir`` because it is what the ``rand`` primitive means.
"""
from __future__ import annotations

import numpy as np

from .dtypes import DType

GOLDEN = 0x9E3779B97F4A7C15
"""The state's increment per element: 2**64 / golden ratio, odd."""

MIX_STEPS = ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None))
"""The finaliser: for each ``(shift, multiplier)``, ``z ^= z >> shift`` (a logical shift of the
unsigned 64 bits), then ``z *= multiplier`` (mod 2**64) when there is one."""

RAND_BITS = {DType.float16: 11, DType.bfloat16: 8, DType.float32: 24, DType.float64: 53}
"""The top bits of the hash a sample of each dtype keeps: its significand's width, so every
``bits / 2**RAND_BITS`` is exact in the dtype and a sample never rounds up to 1.0."""


def as_int64(v: int) -> int:
    """An unsigned 64-bit constant as the int64 with the same bits (kernels compute in int64)."""
    return v - (1 << 64) if v >= 1 << 63 else v


def splitmix64(key: int, index: np.ndarray) -> np.ndarray:
    """The SplitMix64 hash (uint64) of ``key`` (an int64) at each of the int64 positions ``index``."""
    with np.errstate(over="ignore"):
        z = (np.int64(key).astype(np.uint64) + np.uint64(1)) * np.uint64(GOLDEN) \
            + np.asarray(index, np.int64).astype(np.uint64)
        for shift, multiplier in MIX_STEPS:
            z = z ^ (z >> np.uint64(shift))
            if multiplier is not None:
                z = z * np.uint64(multiplier)
    return z


def uniform(key: int, index: np.ndarray, dtype: DType) -> np.ndarray:
    """``rand``'s samples (in ``dtype``, a float dtype) at positions ``index`` for ``key``: in [0, 1)."""
    bits = RAND_BITS[dtype]
    top = splitmix64(key, index) >> np.uint64(64 - bits)
    return (top.astype(np.float64) * 2.0 ** -bits).astype(dtype.numpy)
