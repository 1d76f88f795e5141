"""The products of ``torch.linalg`` (https://pytorch.org/docs/2.13/linalg.html): ``matmul`` (the
same function as ``lumina.matmul``), ``vecdot`` and ``cross``, over lumina's elementwise ops."""
from __future__ import annotations

from ..errors import LuminaShapeError, LuminaTypeError
from ..tensor import Tensor, cat, matmul as _matmul
from ..tensor import broadcast_shapes
from ._common import as_tensor


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """``torch.linalg.matmul``: ``torch.matmul`` (see ``lumina.matmul``)."""
    return _matmul(input, other)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """``torch.linalg.vecdot``: ``sum(x * y, dim)`` of broadcast ``x`` and ``y`` (float dtypes: no
    conjugation). Shape: the broadcast shape without ``dim``. Raises LuminaTypeError for integer
    inputs or when the dtypes differ (as torch), LuminaShapeError when the shapes do not broadcast
    (two 1-d inputs must have one size: torch's dot)."""
    op = "linalg.vecdot"
    x, y = as_tensor(op, x, "x"), as_tensor(op, y, "y")
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: Expected a floating point or complex tensor as input. Got {x._value.type}")
    if x.dtype != y.dtype:
        raise LuminaTypeError(f"{op}: Expected x and y to have the same dtype, but found x of type "
                              f"{x._value.type} and y of type {y._value.type} instead.")
    shape = broadcast_shapes(op, x._value.type, y._value.type)
    if x.ndim == 1 and y.ndim == 1 and x.shape != y.shape:    # torch's 1-d case is a dot, which does not broadcast
        raise LuminaShapeError(f"{op}: inconsistent tensor size: x {x._value.type} and y {y._value.type}")
    return (x * y).expand(*shape).sum(dim)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """``torch.linalg.cross``: the cross product of 3-vectors along ``dim`` of broadcast ``input``
    and ``other`` (``(a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0)``), batch dims broadcast (the ranks
    must be equal, as torch's). Raises LuminaShapeError when the dims have no 3 entries, the ranks
    differ or the shapes do not broadcast, LuminaTypeError when the dtypes differ."""
    op = "linalg.cross"
    a, b = as_tensor(op, input, "input"), as_tensor(op, other, "other")
    if a.dtype != b.dtype:
        raise LuminaTypeError(f"{op}: expected input and other to have the same dtype, got {a._value.type} and "
                              f"{b._value.type}")
    if a.ndim != b.ndim:
        raise LuminaShapeError(f"{op}: inputs must have the same number of dimensions, got {a._value.type} and "
                               f"{b._value.type}")
    shape = broadcast_shapes(op, a._value.type, b._value.type)
    d = a._axes(dim, op)[0]
    sizes = [a.shape[d], b.shape[d]]
    if sizes != [3, 3]:
        raise LuminaShapeError(f"{op}: inputs dimension {dim} must have length 3. Got {sizes[0]} and {sizes[1]} "
                               f"({a._value.type} and {b._value.type})")
    a, b = a.expand(*shape), b.expand(*shape)
    a0, a1, a2 = (a.narrow(d, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(d, i, 1) for i in range(3))
    return cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)
