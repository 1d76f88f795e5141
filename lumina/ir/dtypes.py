"""Element types of lumina tensors and their promotion rules.

Promotion follows PyTorch's type lattice for tensor-tensor operands (bool < int32 < int64 < float32
< float64); Python scalars are "weak" and do not widen a tensor's dtype (``f32 * 2.0 -> f32``,
``i32 * 2.5 -> f32``), as in PyTorch and JAX.
"""
from __future__ import annotations

import enum

import numpy as np

from ..errors import LuminaTypeError


class DType(enum.Enum):
    """A tensor element type. ``value`` is the short name used in IR text (``f32[2,3]``)."""

    bool = "bool"
    int32 = "i32"
    int64 = "i64"
    float32 = "f32"
    float64 = "f64"

    @property
    def short(self) -> str:
        return self.value

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(self.name)

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    @property
    def is_float(self) -> bool:
        return self in (DType.float32, DType.float64)

    @property
    def is_int(self) -> bool:
        return self in (DType.int32, DType.int64)

    def __repr__(self) -> str:
        return f"lumina.{self.name}"

    __str__ = __repr__


float32, float64, int32, int64 = DType.float32, DType.float64, DType.int32, DType.int64
bool_ = DType.bool

_RANK = {DType.bool: 0, DType.int32: 1, DType.int64: 2, DType.float32: 3, DType.float64: 4}
_BY_SHORT = {d.short: d for d in DType}
_BY_NUMPY = {d.numpy: d for d in DType}


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
    if x is float:
        return DType.float32
    if x is int:
        return DType.int64
    if x is bool:
        return DType.bool
    if isinstance(x, str) and x in _BY_SHORT:
        return _BY_SHORT[x]
    try:
        npd = np.dtype(x)
    except TypeError:
        raise LuminaTypeError(f"{op}: unsupported dtype {x!r}; lumina supports {[d.name for d in DType]}") from None
    if npd not in _BY_NUMPY:
        raise LuminaTypeError(f"{op}: unsupported dtype {npd}; lumina supports {[d.name for d in DType]}")
    return _BY_NUMPY[npd]


def promote(a: DType, b: DType) -> DType:
    """The dtype of a binary op between two tensors of dtypes ``a`` and ``b``."""
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
