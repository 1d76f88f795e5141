"""The argument rules every op shares: sizes (``shape_arg``, ``check_size``), NumPy's broadcasting
(``broadcast_shapes``) and PyTorch's type promotion between tensors (``result_type``)."""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType, promote
from ..ir.ops import Op
from ..ir.symbolic import Sym
from ..ir.types import TensorType
from .core import Tensor

def _physical_memory() -> int:
    """This machine's memory in bytes (2^48 where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 ** 48


MEMORY_BYTES = _physical_memory()


def check_size(op: str, shape: Sequence[int], dtype: DType) -> None:
    """Raise LuminaValueError when a tensor of ``shape`` and ``dtype`` could not be held in this
    machine's memory (``MEMORY_BYTES``): as PyTorch fails to allocate it, and rather than a lazy
    constant that would take hours to reduce (``ones(2**62).sum()``)."""
    numel = math.prod(shape)
    if isinstance(numel, Sym):   # a symbolic size: known, and allocated, only when it runs
        return
    if numel * dtype.itemsize > MEMORY_BYTES:
        raise LuminaValueError(f"{op}: a {dtype.name} tensor of shape {list(shape)} needs "
                               f"{numel * dtype.itemsize / 2**30:.4g} GiB, more than this machine's memory "
                               f"({MEMORY_BYTES / 2**30:.4g} GiB)")


def shape_arg(shape, op: str | None = None, dtype: DType = DType.float32) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` -> ``(2, 3)``. Sizes must be integers (Python, NumPy, or 0-d
    integer tensors), else LuminaTypeError. With ``op`` (a creation function), a negative size or
    one too large for memory (``check_size``) raises LuminaValueError naming it; views (reshape's
    -1, axes) pass ``op=None``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    if op is None and all(type(d) is int for d in shape):   # the common case: plain sizes of a view
        return tuple(shape)
    sizes = []
    for d in shape:
        if isinstance(d, Tensor) and d.ndim == 0 and not d.dtype.is_float and d.dtype is not DType.bool:
            d = d.item()
        if isinstance(d, Sym) and op is None:   # a view's size from a symbolic shape
            sizes.append(d)
            continue
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise LuminaTypeError(f"{op or 'shape'}: sizes must be integers, got {d!r} in "
                                  f"{list(shape) if isinstance(shape, (tuple, list)) else shape!r}")
        sizes.append(int(d))
    shape = tuple(sizes)
    if op is not None:
        if any(d < 0 for d in shape):
            raise LuminaValueError(f"{op}: negative dimension in shape {list(shape)}")
        check_size(op, shape, dtype)
    return shape


def broadcast_shapes(op: str, *types: TensorType) -> tuple[int, ...]:
    """NumPy's broadcast of the operands' shapes; raises LuminaShapeError naming ``op``."""
    first = types[0].shape
    if all(t.shape == first for t in types):
        return first
    rank = max(t.rank for t in types)
    out = []
    for i in range(rank):
        dims = {t.shape[i - rank + t.rank] for t in types if i - rank + t.rank >= 0} - {1}
        if len(dims) > 1:
            raise LuminaShapeError(f"{op}: cannot broadcast {', '.join(map(str, types))}")
        out.append(dims.pop() if dims else 1)
    numels = [t.numel for t in types]
    if not any(isinstance(d, Sym) for d in out + numels) and math.prod(out) > max(numels):
        # an outer product: may outgrow memory (a symbolic size is checked when it is allocated)
        check_size(op, out, max((t.dtype for t in types), key=lambda d: d.itemsize))
    return tuple(out)


def _category(dt: DType) -> int:
    return 2 if dt.is_float else 0 if dt is DType.bool else 1


def result_type(a: Tensor, b: Tensor, a_dtype: DType | None = None) -> DType:
    """``torch.result_type`` of two tensors: a 0-d tensor is like a scalar beside a tensor with
    dims, so it only decides the dtype when its category (bool < integer < float) is higher
    (``f32[3] + f64[]`` is float32, ``i64[3] + f64[]`` float64); otherwise ``promote``.
    ``a_dtype`` overrides ``a``'s dtype (an accumulated result type)."""
    da = a.dtype if a_dtype is None else a_dtype
    if (a.ndim == 0) == (b.ndim == 0):
        return promote(da, b.dtype)
    (dim, d_dim), (zero, d_zero) = ((a, da), (b, b.dtype)) if b.ndim == 0 else ((b, b.dtype), (a, da))
    return d_zero if _category(d_zero) > _category(d_dim) else d_dim


def count(n, dtype: DType):
    """Element count ``n`` as a divisor of ``dtype`` values: ``float(n)``, or for a symbolic size
    (``ir.symbolic``) a 0-d tensor of its value at run time (the ``size`` primitive), so a mean
    over a symbolic dim stays symbolic."""
    if not isinstance(n, Sym):
        return float(n)
    return Tensor(B.cast(B.emit(Op.SIZE, size=n), dtype))
