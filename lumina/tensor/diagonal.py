"""Diagonals: ``diagonal`` (a view), ``diag``, ``diag_embed``, ``diagflat`` and ``trace``, with
PyTorch 2.13's semantics (https://pytorch.org/docs/stable/generated/torch.diagonal.html and its
neighbours).

All are movement ops, so autodiff gives their gradients. A diagonal of a ``(n, m)`` matrix is a
strided slice of its row-major flattening: element ``i`` of the ``offset``-th diagonal sits at
``i * (m + 1) + offset`` (``- offset * m`` below the main one). So ``diagonal`` is permute ->
reshape -> slice, three view ops: the result is a view of its input, and writes into it reach the
input, as torch's. ``diag_embed`` is the inverse: each element followed by ``m`` zeros, flattened,
shifted by the offset and cut to ``m * m``.
"""
from __future__ import annotations

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.graph import Value, emit
from ..ir.ops import Op
from .core import Tensor


def _offset(offset, op: str) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise LuminaTypeError(f"{op}: the offset must be an int, got {offset!r}")
    return offset


def _slice_last(v: Value, lo: int, hi: int, step: int = 1) -> Value:
    rank = v.type.rank
    return emit(Op.SLICE, (v,), starts=(0,) * (rank - 1) + (lo,), stops=tuple(v.shape[:-1]) + (hi,),
                steps=(1,) * (rank - 1) + (step,))


def _pad_last(v: Value, lo: int, hi: int) -> Value:
    pads = ((0, 0),) * (v.type.rank - 1) + ((lo, hi),)
    return emit(Op.PAD, (v,), pads=pads, value=0.0)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """``torch.diagonal``: the ``offset``-th diagonal (above the main one for ``offset > 0``) of
    each matrix that dims ``dim1`` (rows) and ``dim2`` (columns) span, appended as the last dim:
    shape ``input.shape`` without ``dim1`` / ``dim2`` plus ``(L,)``, where ``L = max(0,
    min(n, m - offset))`` (``min(n + offset, m)`` below). Any dtype; a view of ``input``.
    Raises LuminaIndexError for a dim out of range (inputs of fewer than 2 dims), LuminaValueError
    for ``dim1 == dim2``, LuminaTypeError for a non-int offset."""
    offset = _offset(offset, "diagonal")
    d1, d2 = input._axes(dim1, "diagonal")[0], input._axes(dim2, "diagonal")[0]
    if d1 == d2:
        raise LuminaValueError(f"diagonal: diagonal dimensions cannot be identical {dim1}, {dim2} "
                               f"(input {input._value.type})")
    rest = [a for a in range(input.ndim) if a not in (d1, d2)]
    v = input._touch()
    if rest + [d1, d2] != list(range(input.ndim)):
        v = B.permute(v, rest + [d1, d2])
    n, m = input.shape[d1], input.shape[d2]
    batch = tuple(input.shape[a] for a in rest)
    length = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    start = offset if offset >= 0 else -offset * m
    v = B.reshape(v, batch + (n * m,))
    if length == 0:
        v = _slice_last(v, 0, 0)
    else:
        v = _slice_last(v, start, start + (length - 1) * (m + 1) + 1, m + 1)
    return Tensor._result(v, input)


_take_diagonal = diagonal     # diag's parameter is called ``diagonal``, as torch's


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``torch.diag_embed``: a tensor of one more dim whose ``offset``-th diagonals, in the planes of
    ``dim1`` / ``dim2`` (counted in the result), hold ``input``'s last dim; zeros elsewhere. Shape:
    ``input.shape[:-1]`` with two dims of size ``n + |offset|`` inserted at ``dim1`` and ``dim2``.
    Any dtype. Raises LuminaIndexError for dims out of range, LuminaValueError for ``dim1 ==
    dim2``, LuminaShapeError for a 0-d input."""
    offset = _offset(offset, "diag_embed")
    if input.ndim == 0:
        raise LuminaShapeError(f"diag_embed: expects a tensor of at least 1 dim, got {input._value.type}")
    rank = input.ndim + 1
    probe = Tensor(B.const(0, DType.float32, (1,) * rank))   # only for the dim checks
    d1, d2 = probe._axes(dim1, "diag_embed")[0], probe._axes(dim2, "diag_embed")[0]
    if d1 == d2:
        raise LuminaValueError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2} "
                               f"(input {input._value.type})")
    n = input.shape[-1]
    m = n + abs(offset)
    batch = input.shape[:-1]
    start = offset if offset >= 0 else -offset * m
    v = B.reshape(input._touch(), batch + (n, 1))
    v = _pad_last(v, 0, m)                         # each element then m zeros
    v = B.reshape(v, batch + (n * (m + 1),))
    v = _pad_last(v, start, 0)
    size = n * (m + 1) + start
    v = _pad_last(v, 0, m * m - size) if size < m * m else _slice_last(v, 0, m * m)
    v = B.reshape(v, batch + (m, m))
    perm, others = [], iter(range(rank - 2))
    for a in range(rank):
        perm.append(rank - 2 if a == d1 else rank - 1 if a == d2 else next(others))
    if perm != list(range(rank)):
        v = B.permute(v, perm)
    out = Tensor._result(v, input)
    out._view = None     # new memory, not a view
    return out


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """``torch.diag``: a 1-d ``input`` of size ``n`` gives the ``(n + |d|, n + |d|)`` matrix with
    ``input`` on its ``d``-th diagonal; a 2-d ``input`` gives its ``d``-th diagonal as a new 1-d
    tensor (a copy, as torch). Any dtype. Raises LuminaShapeError for other ranks."""
    _offset(diagonal, "diag")
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return _take_diagonal(input, diagonal, 0, 1).clone()
    raise LuminaShapeError(f"diag: supports 1D or 2D tensors, got {input.ndim}D ({input._value.type})")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """``torch.diagflat``: ``input`` flattened (any shape) on the ``offset``-th diagonal of a square
    matrix of side ``numel + |offset|``."""
    _offset(offset, "diagflat")
    flat = Tensor._result(B.reshape(input._touch(), (input.numel(),)), input)
    return diag_embed(flat, offset, 0, 1)


def trace(input: Tensor) -> Tensor:
    """``torch.trace``: the sum of the main diagonal of a 2-d ``input``, a 0-d tensor; integer
    inputs give int64 (torch's sum promotion), floats keep their dtype. Raises LuminaShapeError for
    another rank, LuminaTypeError for bool (torch: "trace" not implemented for 'Bool')."""
    if input.ndim != 2:
        raise LuminaShapeError(f"trace: expected a matrix, but got tensor with dim {input.ndim} "
                               f"({input._value.type})")
    if input.dtype is DType.bool:
        raise LuminaTypeError(f"trace: not implemented for bool ({input._value.type}), as torch")
    return diagonal(input).sum()


class DiagonalMethods:
    """The Tensor methods of this module."""

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        return diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal: int = 0) -> Tensor:
        return diag(self, diagonal)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
        return diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset: int = 0) -> Tensor:
        return diagflat(self, offset)

    def trace(self) -> Tensor:
        return trace(self)
