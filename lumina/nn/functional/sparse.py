"""``embedding``: row lookup as the ``gather`` primitive (its VJP scatter-adds into the table)."""
from __future__ import annotations

from ...errors import LuminaShapeError, LuminaValueError
from ...tensor.indexing import as_index, checked_index
from ...ir.graph import emit
from ...ir.ops import Op
from ...tensor import Tensor, where


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
