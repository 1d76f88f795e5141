"""Scaled dot-product attention (Vaswani et al. 2017) with PyTorch's mask conventions."""
from __future__ import annotations

import math

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor import Tensor, arange, broadcast_shapes, no_grad, where
from .activation import dropout


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dim whose rows that are entirely -inf give 0, not NaN (PyTorch's
    ``_safe_softmax`` in the math attention path)."""
    if scores.numel() == 0:
        return scores
    with no_grad():
        m = scores.detach().amax(-1, keepdim=True)
        m = where(m == -math.inf, 0.0, m)
    e = (scores - m).exp()
    total = e.sum(-1, keepdim=True)
    return e / where(total == 0.0, 1.0, total)


def _repeat_heads(t: Tensor, g: int) -> Tensor:
    """``t.repeat_interleave(g, dim=-3)``: each head of ``[..., H, S, E]`` ``g`` times in a row."""
    *lead, h, s, e = t.shape
    return t.unsqueeze(-3).expand(*lead, h, g, s, e).reshape(*lead, h * g, s, e)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Tensor:
    """``softmax(Q K^T * scale + mask) V`` with ``scale = 1 / sqrt(E)`` by default, as
    ``torch.nn.functional.scaled_dot_product_attention``.

    ``query [..., L, E]``, ``key [..., S, E]``, ``value [..., S, Ev]`` -> ``[..., L, Ev]`` (leading dims
    broadcast). ``attn_mask`` broadcasts to ``[..., L, S]``: a bool mask marks the pairs that *may*
    attend (False -> -inf), a float mask is added to the scores. ``is_causal`` keeps ``j <= i``
    (top-left aligned). Rows with every score masked give 0. ``dropout_p`` drops attention weights
    (use 0 at evaluation). ``enable_gqa`` allows grouped-query attention: key and value with
    ``Hk`` heads (dim -3) serve a query with ``Hq = g * Hk``, each key/value head repeated ``g``
    times in a row (torch's ``repeat_interleave``). Raises LuminaShapeError for mismatched shapes or
    a mask that does not broadcast, LuminaValueError for ``is_causal`` together with ``attn_mask``.
    """
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hk == 0 or hq % hk or value.ndim < 3 or value.shape[-3] != hk:
            raise LuminaShapeError(f"scaled_dot_product_attention: enable_gqa needs the query's heads (dim -3) to "
                                   f"be a multiple of key's and value's, got {query._value.type}, "
                                   f"{key._value.type}, {value._value.type}")
        key, value = (_repeat_heads(t, hq // hk) for t in (key, value))
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise LuminaShapeError(f"scaled_dot_product_attention: query, key and value need at least 2 dims, got "
                               f"{query._value.type}, {key._value.type}, {value._value.type}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise LuminaShapeError(f"scaled_dot_product_attention: expects query [..., L, E], key [..., S, E], "
                               f"value [..., S, Ev], got {query._value.type}, {key._value.type}, {value._value.type}")
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        if attn_mask is not None:
            raise LuminaValueError("scaled_dot_product_attention: pass either attn_mask or is_causal, not both")
        attn_mask = arange(S).reshape(1, S) <= arange(L).reshape(L, 1)
    if attn_mask is not None:
        try:
            shape = broadcast_shapes("scaled_dot_product_attention", attn_mask._value.type, scores._value.type)
        except LuminaShapeError:
            shape = None
        if shape != scores.shape:
            raise LuminaShapeError(f"scaled_dot_product_attention: attn_mask {attn_mask._value.type} does not "
                                   f"broadcast to the attention scores [..., L, S] = {list(scores.shape)} (query "
                                   f"{query._value.type}, key {key._value.type})")
        if attn_mask.dtype.name == "bool":
            scores = where(attn_mask, scores, -math.inf)
        elif attn_mask.dtype.is_float:
            scores = scores + attn_mask.to(scores.dtype)
        else:
            raise LuminaTypeError(f"scaled_dot_product_attention: attn_mask must be bool or float, got "
                                  f"{attn_mask._value.type}")
    weights = _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value
