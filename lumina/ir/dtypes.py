"""Element types of lumina tensors and their promotion rules.

Promotion follows PyTorch's type lattice for tensor-tensor operands (bool < int32 < int64 <
{float16, bfloat16} < float32 < float64, where the two 16-bit floats are unordered: ``f16 + bf16 ->
f32``); Python scalars are "weak" and do not widen a tensor's dtype (``f32 * 2.0 -> f32``,
``bf16 * 2.0 -> bf16``, ``i32 * 2.5 -> f32``), as in PyTorch and JAX.

``float16`` (IEEE binary16) and ``bfloat16`` (8-bit exponent, 7-bit mantissa; NumPy type from
``ml_dtypes``) are storage types: backends hold them in float32 registers and round every result
to 16 bits (round-to-nearest-even), as PyTorch's CPU kernels do.
"""
from __future__ import annotations

import enum

import ml_dtypes
import numpy as np

from ..errors import LuminaTypeError


class DType(enum.Enum):
    """A tensor element type. ``value`` is the short name used in IR text (``f32[2,3]``)."""

    # Members are singletons compared by identity: hash them in C too (Enum's own hash is Python
    # code, and every rule-table lookup pays it). Neither hash is stable across processes.
    __hash__ = object.__hash__

    bool = "bool"
    int32 = "i32"
    int64 = "i64"
    float16 = "f16"
    bfloat16 = "bf16"
    float32 = "f32"
    float64 = "f64"

    @property
    def short(self) -> str:
        return self.value

    @property
    def numpy(self) -> np.dtype:
        return _NUMPY[self]

    @property
    def itemsize(self) -> int:
        return _NUMPY[self].itemsize

    @property
    def is_float(self) -> bool:
        return self in (DType.float16, DType.bfloat16, DType.float32, DType.float64)

    @property
    def is_half(self) -> bool:
        """float16 or bfloat16: 16 bits in memory, computed in float32 registers."""
        return self in (DType.float16, DType.bfloat16)

    @property
    def is_int(self) -> bool:
        return self in (DType.int32, DType.int64)

    def __repr__(self) -> str:
        return f"lumina.{self.name}"

    __str__ = __repr__


_NUMPY = {d: np.dtype(ml_dtypes.bfloat16) if d is DType.bfloat16 else np.dtype(d.name) for d in DType}


float32, float64, int32, int64 = DType.float32, DType.float64, DType.int32, DType.int64
float16, bfloat16 = DType.float16, DType.bfloat16
bool_ = DType.bool

_RANK = {DType.bool: 0, DType.int32: 1, DType.int64: 2, DType.float16: 3, DType.bfloat16: 3,
         DType.float32: 4, DType.float64: 5}
_BY_SHORT = {d.short: d for d in DType}
_BY_NUMPY = {d.numpy: d for d in DType}
_BY_NAME = {"half": DType.float16, "bfloat16": DType.bfloat16}


def from_short(short: str) -> DType:
    """``"f32" -> DType.float32``; raises LuminaTypeError for an unknown name."""
    try:
        return _BY_SHORT[short]
    except KeyError:
        raise LuminaTypeError(f"unknown dtype {short!r}; expected one of {sorted(_BY_SHORT)}") from None


def to_dtype(x, op: str = "dtype") -> DType:
    """Normalise a DType, NumPy dtype, Python type or name (``"float32"``) to a DType.

    Raises LuminaTypeError, naming ``op``, for dtypes lumina does not support (complex64, uint8...).
    """
    if isinstance(x, DType):
        return x
    if isinstance(x, np.dtype):   # the common case first: an array's dtype
        found = _BY_NUMPY.get(x)
        if found is not None:
            return found
    if x is float:
        return DType.float32
    if x is int:
        return DType.int64
    if x is bool:
        return DType.bool
    if isinstance(x, str) and x in _BY_SHORT:
        return _BY_SHORT[x]
    if isinstance(x, str) and x in _BY_NAME:
        return _BY_NAME[x]
    try:
        npd = np.dtype(x)
    except TypeError:
        raise LuminaTypeError(f"{op}: unsupported dtype {x!r}; lumina supports {[d.name for d in DType]}") from None
    if npd not in _BY_NUMPY:
        raise LuminaTypeError(f"{op}: unsupported dtype {npd}; lumina supports {[d.name for d in DType]}")
    return _BY_NUMPY[npd]


def promote(a: DType, b: DType) -> DType:
    """The dtype of a binary op between two tensors of dtypes ``a`` and ``b``."""
    if a is not b and a.is_half and b.is_half:  # neither holds the other: meet in float32
        return DType.float32
    return a if _RANK[a] >= _RANK[b] else b


def scalar_result(t: DType, scalar) -> DType:
    """The dtype of ``tensor(t) op scalar``: a weak Python scalar only lifts bool/int to a float."""
    if isinstance(scalar, bool):
        return t
    if isinstance(scalar, int):
        return DType.int64 if t is DType.bool else t
    if isinstance(scalar, float):
        return t if t.is_float else DType.float32
    raise LuminaTypeError(f"unsupported scalar {scalar!r} of type {type(scalar).__name__}")
