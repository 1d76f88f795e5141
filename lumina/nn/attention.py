"""``MultiheadAttention`` (Vaswani et al. 2017, section 3.2.2) with PyTorch's parameter layout."""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..tensor import Tensor, arange, full, where
from . import init
from .functional.activation import dropout
from .functional.attention import _safe_softmax
from .layers import Linear
from .module import Module, Parameter, factory


class MultiheadAttention(Module):
    """``torch.nn.MultiheadAttention``: ``in_proj_weight [3E, E]`` (xavier_uniform_), ``in_proj_bias
    [3E]`` (zeros) and ``out_proj`` (a ``Linear(E, E)`` with a zero bias), as PyTorch lays them out,
    so a ``state_dict`` loads into either.

    ``forward(query, key, value)`` takes ``[B, L, E]`` / ``[B, S, E]`` when ``batch_first`` or
    ``[L, B, E]`` otherwise (the default, as PyTorch's), or unbatched ``[L, E]``; it
    returns ``(output, weights)`` with ``weights`` averaged over heads ``[B, L, S]`` (per head
    ``[B, H, L, S]`` with ``average_attn_weights=False``) or None without ``need_weights``.
    Masks follow PyTorch's MHA convention: in a bool ``attn_mask`` ``[L, S]`` / ``[B*H, L, S]`` or
    ``key_padding_mask [B, S]``, True marks a pair that may *not* attend; float masks are added to
    the scores. ``is_causal=True`` without ``attn_mask`` masks ``j > i``. Rows with no key left
    give 0. ``device`` / ``dtype``: see ``module.factory``. Raises LuminaShapeError naming the layer
    for inputs or masks of the wrong shape, LuminaValueError for what is not supported:
    ``add_bias_kv=True``, ``add_zero_attn=True``, ``kdim`` / ``vdim`` other than ``embed_dim``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        for name, value in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if value:
                raise LuminaValueError(f"MultiheadAttention: {name}=True is not supported")
        if num_heads < 1 or embed_dim % num_heads:
            raise LuminaValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads "
                                   f"{num_heads}")
        if (kdim is not None and kdim != embed_dim) or (vdim is not None and vdim != embed_dim):
            raise LuminaValueError("MultiheadAttention: kdim/vdim other than embed_dim are not supported")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim), np.float32))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, np.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        init.xavier_uniform_(self.in_proj_weight)
        if bias:
            init.zeros_(self.out_proj.bias)
        factory(self, device, dtype)

    def _name(self) -> str:
        return f"MultiheadAttention({self.embed_dim}, num_heads={self.num_heads})"

    def _project(self, x: Tensor, part: int) -> Tensor:
        e = self.embed_dim
        w = self.in_proj_weight[part * e:(part + 1) * e]
        y = x @ w.T
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[part * e:(part + 1) * e]
        b, n, _ = y.shape
        return y.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)   # [B, H, n, D]

    def _as_additive(self, mask: Tensor, what: str) -> Tensor:
        if mask.dtype.name == "bool":
            return where(mask, full(mask.shape, -math.inf, dtype=self.in_proj_weight.dtype), 0.0)
        if not mask.dtype.is_float:
            raise LuminaTypeError(f"{self._name()}: {what} must be bool or float, got {mask._value.type}")
        return mask.to(self.in_proj_weight.dtype)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        e, h = self.embed_dim, self.num_heads
        if (query.ndim != 3 or key.ndim != 3 or value.ndim != 3 or query.shape[-1] != e or key.shape[-1] != e
                or value.shape[-1] != e or key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]):
            raise LuminaShapeError(f"{self._name()}: expects query [B, L, {e}], key and value [B, S, {e}] "
                                   f"(batch_first={self.batch_first}), got {query._value.type}, {key._value.type}, "
                                   f"{value._value.type}")
        b, L, S = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))   # [B, H, L, S]
        if attn_mask is None and is_causal:
            attn_mask = arange(S).reshape(1, S) > arange(L).reshape(L, 1)
        if attn_mask is not None:
            if attn_mask.shape == (L, S):
                m = attn_mask
            elif attn_mask.shape == (b * h, L, S):
                m = attn_mask.reshape(b, h, L, S)
            else:
                raise LuminaShapeError(f"{self._name()}: attn_mask {attn_mask._value.type} must be [L, S] = "
                                       f"[{L}, {S}] or [B*num_heads, L, S] = [{b * h}, {L}, {S}] for query "
                                       f"{query._value.type} and key {key._value.type}")
            scores = scores + self._as_additive(m, "attn_mask")
        if key_padding_mask is not None:
            if unbatched and key_padding_mask.ndim == 1:
                key_padding_mask = key_padding_mask.unsqueeze(0)
            if key_padding_mask.shape != (b, S):
                raise LuminaShapeError(f"{self._name()}: key_padding_mask {key_padding_mask._value.type} must be "
                                       f"[B, S] = [{b}, {S}]")
            scores = scores + self._as_additive(key_padding_mask, "key_padding_mask").reshape(b, 1, 1, S)
        weights = _safe_softmax(scores)
        attended = dropout(weights, self.dropout, self.training) if self.dropout > 0.0 else weights
        out = (attended @ v).transpose(1, 2).reshape(b, L, e)
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        w = attended.mean(1) if average_attn_weights else attended
        return out, (w.squeeze(0) if unbatched else w)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
