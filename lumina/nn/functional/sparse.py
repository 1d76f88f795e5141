"""``embedding``: row lookup as the ``gather`` primitive (its VJP scatter-adds into the table);
``embedding_bag``: sums, means and maxima of bags of rows, from the lookups and a bag-membership
matrix."""
from __future__ import annotations

import math

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...ir.dtypes import DType
from ...tensor.indexing import as_index, checked_index, known_values
from ...tensor.movement import pad
from ...ir.graph import emit
from ...ir.ops import Op
from ...tensor import Tensor, arange, where


def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """``torch.nn.functional.embedding``: ``weight[input]`` for integer ``input`` of any shape and a
    table ``weight [V, D]``; output ``input.shape + [D]``. Repeated indices accumulate their
    gradients (scatter-add). Rows looked up at ``padding_idx`` pass no gradient to the table.
    Raises LuminaShapeError unless ``weight`` is 2-D, LuminaTypeError for non-integer indices,
    LuminaIndexError for an index outside ``[0, num_embeddings)`` (negative ones too, as PyTorch:
    at once when the indices are known, else when the lookup runs), LuminaValueError for
    ``max_norm``, ``scale_grad_by_freq=True`` and ``sparse=True`` (not supported; ``norm_type``
    only matters with ``max_norm``).
    """
    if max_norm is not None:
        raise LuminaValueError("embedding: max_norm (renormalising the table in place) is not supported")
    if scale_grad_by_freq:
        raise LuminaValueError("embedding: scale_grad_by_freq=True (scaling the table's gradient by inverse "
                               "index frequencies) is not supported")
    if sparse:
        raise LuminaValueError("embedding: sparse=True (a sparse gradient for the table) is not supported: "
                               "lumina's gradients are dense")
    if weight.ndim != 2:
        raise LuminaShapeError(f"embedding: weight must be [num_embeddings, embedding_dim], got {weight._value.type}")
    idx = as_index(input, "embedding")
    v = weight.shape[0]
    idx = checked_index(idx, v, "embedding", f"the table {weight._value.type}", negative=False)
    if padding_idx is not None:
        if not -v <= padding_idx < v:
            raise LuminaValueError(f"embedding: padding_idx {padding_idx} out of range for {weight._value.type}")
        padding_idx %= v
    rows = Tensor._result(emit(Op.GATHER, (weight._touch(), idx._touch()), axis=0), weight)
    if padding_idx is None:
        return rows
    frozen = Tensor._result(emit(Op.GATHER, (weight.detach()._touch(), idx._touch()), axis=0), weight.detach())
    return where((idx == padding_idx).unsqueeze(-1), frozen, rows)


_BAG_MODES = ("sum", "mean", "max")


def _bag_bounds(offsets, n: int, include_last_offset: bool) -> tuple[Tensor, Tensor]:
    """The ``[B]`` start and end positions of the bags that ``offsets`` describe in a flat input of
    ``n`` indices; known offsets are checked at once as torch's kernel checks them."""
    off = as_index(offsets, "embedding_bag")
    if off.ndim != 1:
        raise LuminaShapeError(f"embedding_bag: offsets has to be a 1D Tensor, got {off._value.type}")
    vals = known_values(off)
    if vals is not None and vals.size:
        if vals[0] != 0:
            raise LuminaValueError(f"embedding_bag: offsets[0] has to be 0 (the first bag starts at position 0), "
                                   f"got {int(vals[0])}")
        if (np.diff(vals) < 0).any():
            raise LuminaValueError(f"embedding_bag: offsets must be non-decreasing, got {vals.tolist()}")
        if vals[-1] > n:
            raise LuminaValueError(f"embedding_bag: offsets[-1] {int(vals[-1])} is greater than the input's "
                                   f"length {n}")
    off = off.to(DType.int64)
    if include_last_offset:
        b = max(off.shape[0] - 1, 0)
        return off.narrow(0, 0, b), off.narrow(0, min(1, off.shape[0]), b)
    b = off.shape[0]
    return off, pad(off.narrow(0, min(1, b), max(b - 1, 0)), (0, 1), value=n) if b else off


def embedding_bag(input, weight: Tensor, offsets=None, max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """``torch.nn.functional.embedding_bag``: the sum, mean or max of bags of rows of ``weight [V, D]``
    without materialising the lookups per bag; output ``[B, D]``, ``weight``'s dtype.

    Bags: a 2-D ``input [B, n]`` is B bags of n indices (``offsets`` must be None); a 1-D ``input
    [N]`` is cut at ``offsets [B]`` (bag ``b`` is ``input[offsets[b]:offsets[b + 1]]``, the last
    running to the end, or with ``include_last_offset`` ``offsets`` has B + 1 entries ending at
    N). ``per_sample_weights`` (``input``'s shape, ``mode='sum'`` only) scale the rows.
    ``padding_idx`` entries are left out of the bag (and of a mean's count). An empty bag gives
    zeros. In ``max`` mode the gradient goes to the first maximal entry of each column, as torch's
    ``max_indices``. The bags are a membership matrix built from ``offsets`` with tensor ops, so
    computed offsets work inside ``@lumina.compile`` (their checks then cannot run).

    Raises LuminaShapeError for a ``weight`` that is not 2-D, an ``input`` that is not 1- or 2-D,
    offsets with a 2-D input (or none with a 1-D one) and ``per_sample_weights`` of another shape;
    LuminaValueError for an unknown ``mode``, ``per_sample_weights`` outside ``sum``, a
    ``padding_idx`` out of range, known offsets that do not start at 0, decrease or pass the end,
    and ``max_norm`` / ``scale_grad_by_freq`` / ``sparse`` (not supported); LuminaIndexError for an
    index outside ``[0, V)``; LuminaTypeError for non-integer indices or mixed float dtypes.
    Semantics: https://pytorch.org/docs/2.13/generated/torch.nn.functional.embedding_bag.html
    """
    op = "embedding_bag"
    for name, value, default in (("max_norm", max_norm, None), ("scale_grad_by_freq", scale_grad_by_freq, False),
                                 ("sparse", sparse, False)):
        if value != default:
            raise LuminaValueError(f"{op}: {name}={value!r} is not supported")
    if mode not in _BAG_MODES:
        raise LuminaValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if weight.ndim != 2:
        raise LuminaShapeError(f"{op}: weight has to be a 2D Tensor, got {weight._value.type}")
    idx = as_index(input, op)
    if per_sample_weights is not None:
        if mode != "sum":
            raise LuminaValueError(f"{op}: per_sample_weights is only supported for mode='sum' (got mode={mode!r})")
        if per_sample_weights.shape != idx.shape:
            raise LuminaShapeError(f"{op}: per_sample_weights {per_sample_weights._value.type} must have the "
                                   f"input's shape {list(idx.shape)}")
        if per_sample_weights.dtype is not weight.dtype:
            raise LuminaTypeError(f"{op}: per_sample_weights {per_sample_weights._value.type} must have the "
                                  f"weight's dtype {weight._value.type}")
    if idx.ndim == 2:
        if offsets is not None:
            raise LuminaShapeError(f"{op}: if input is 2D, then offsets has to be None, as input is treated as a "
                                   "mini-batch of fixed length sequences")
        b_count, n_each = idx.shape
        offsets = np.arange(b_count, dtype=np.int64) * n_each
        include_last_offset = False
    elif idx.ndim == 1:
        if offsets is None:
            raise LuminaShapeError(f"{op}: offsets has to be a 1D Tensor but got None (input {idx._value.type})")
    else:
        raise LuminaShapeError(f"{op}: input has to be 1D or 2D Tensor, but got {idx._value.type}")
    v, d = weight.shape
    if padding_idx is not None:
        if not -v <= padding_idx < v:
            raise LuminaValueError(f"{op}: padding_idx {padding_idx} must be within the {v} embeddings")
        padding_idx %= v
    flat = idx.reshape(-1)
    n = flat.shape[0]
    start, end = _bag_bounds(offsets, n, include_last_offset)
    rows = embedding(flat, weight)                                      # [N, D]
    pos = arange(n).reshape(1, n)
    member = (pos >= start.reshape(-1, 1)) & (pos < end.reshape(-1, 1))  # [B, N]
    if padding_idx is not None:
        member = member & (flat != padding_idx).reshape(1, n)
    if mode == "max" and n == 0:      # every bag empty: zeros (an empty product keeps the table's gradient)
        return member.to(weight.dtype) @ rows
    if mode == "max":
        masked = where(member.unsqueeze(-1), rows.unsqueeze(0), -math.inf)       # [B, N, D]
        top = masked.detach().amax(1, keepdim=True)
        first = where(masked.detach() == top, arange(n).reshape(1, n, 1), n).amin(1, keepdim=True)
        chosen = arange(n).reshape(1, n, 1) == first
        out = where(chosen, masked, -math.inf).amax(1)
        return where(member.any(1, keepdim=True), out, 0.0).to(weight.dtype)
    scale = member.to(weight.dtype)
    if per_sample_weights is not None:
        scale = scale * per_sample_weights.reshape(1, n)
    out = scale @ rows
    if mode == "mean":
        count = member.to(weight.dtype).sum(1, keepdim=True)
        out = out / where(count == 0.0, 1.0, count)
    return out
