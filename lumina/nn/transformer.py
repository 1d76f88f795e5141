"""Transformer layers as ``torch.nn``'s (Vaswani et al. 2017, "Attention Is All You Need"):
``TransformerEncoderLayer`` / ``TransformerDecoderLayer`` (post-norm as in the paper, or pre-norm
with ``norm_first``, Xiong et al. 2020), their stacks ``TransformerEncoder`` / ``TransformerDecoder``
and the whole ``Transformer``, with torch's sub-module names so a ``state_dict`` loads into either
(https://pytorch.org/docs/2.13/generated/torch.nn.Transformer.html).

Built on ``nn.MultiheadAttention``. Masks follow its convention: in a bool mask True marks a
position that may *not* attend; a float mask is added to the scores. Differences from torch:
torch's inference fast path (``torch._transformer_encoder_layer_fwd`` and nested tensors, used
in eval mode without autograd) gives the same values up to rounding except that, with
``batch_first=True`` and a ``src_key_padding_mask``, torch's ``TransformerEncoder`` returns 0
at padded positions there; lumina always computes the padded positions as the slow path does.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import to_dtype
from ..tensor import Tensor, arange, full, where
from . import init
from .attention import MultiheadAttention
from .dropout import Dropout
from .functional.activation import gelu, relu
from .layers import Linear, ModuleList
from .module import Module
from .normalization import LayerNorm


def _activation(name: str, activation) -> Callable:
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise LuminaValueError(f"{name}: activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise LuminaTypeError(f"{name}: activation must be 'relu', 'gelu' or a callable, got "
                              f"{type(activation).__name__}")
    return activation


def _check_causal_hint(name: str, mask: Tensor | None, is_causal: bool | None) -> None:
    """torch's hint rule: ``is_causal=True`` says the given mask is causal; it does not stand in
    for one (torch's MultiheadAttention: "Need attn_mask if specifying the is_causal hint")."""
    if is_causal and mask is None:
        raise LuminaValueError(f"{name}: need a mask when is_causal=True is given (is_causal is a hint that the "
                               "mask is causal); make one with Transformer.generate_square_subsequent_mask")


def _check_input(name: str, x: Tensor, what: str, d_model: int, weight: Tensor | None = None) -> None:
    """``x`` is ``[S, N, E]`` / ``[N, S, E]`` / ``[S, E]`` with ``E = d_model`` and, given the layer's
    ``weight``, of its dtype (torch's matrix products refuse mixed dtypes)."""
    if not isinstance(x, Tensor):
        raise LuminaTypeError(f"{name}: {what} must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise LuminaShapeError(f"{name}: {what} must be [S, N, {d_model}], [N, S, {d_model}] (batch_first) or "
                               f"unbatched [S, {d_model}], got {x._value.type}")
    if weight is not None and x.dtype != weight.dtype:
        raise LuminaTypeError(f"{name}: {what} {x._value.type} does not have the weights' dtype {weight.dtype.name}")


class TransformerEncoderLayer(Module):
    """``torch.nn.TransformerEncoderLayer``: self-attention and a feed-forward block
    ``linear2(dropout(activation(linear1(x))))``, each with a residual connection and a
    ``LayerNorm`` after it (before it with ``norm_first``). Sub-modules as torch's: ``self_attn``,
    ``linear1`` ``[dim_feedforward, d_model]``, ``dropout``, ``linear2``, ``norm1``, ``norm2``,
    ``dropout1``, ``dropout2``.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: ``src`` ``[S, N,
    E]`` (``[N, S, E]`` with ``batch_first``) or ``[S, E]``; ``src_mask`` ``[S, S]`` or
    ``[N*nhead, S, S]``; ``src_key_padding_mask`` ``[N, S]``; returns ``src``'s shape and dtype.
    ``is_causal`` is torch's hint that ``src_mask`` is causal. Raises LuminaValueError for an
    activation other than 'relu' / 'gelu' / a callable or ``is_causal`` without a mask,
    LuminaShapeError naming the layer for inputs or masks of the wrong shape and LuminaTypeError
    for an input whose dtype is not the weights' (torch refuses the mixed matrix product).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = relu, layer_norm_eps: float = 1e-05,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.activation = _activation("TransformerEncoderLayer", activation)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _name(self) -> str:
        return f"TransformerEncoderLayer(d_model={self.d_model}, nhead={self.nhead})"

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        _check_input(self._name(), src, "src", self.d_model, self.linear1.weight)
        _check_causal_hint(self._name(), src_mask, is_causal)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None) -> Tensor:
        try:
            y = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                               need_weights=False)[0]
        except LuminaShapeError as e:
            raise LuminaShapeError(f"{self._name()}: {e}") from None
        return self.dropout1(y)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """``torch.nn.TransformerDecoderLayer``: self-attention over ``tgt``, attention from ``tgt`` to
    ``memory`` and the feed-forward block, each with a residual connection and a ``LayerNorm``
    after it (before it with ``norm_first``). Sub-modules as torch's: ``self_attn``,
    ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1`` .. ``norm3``,
    ``dropout1`` .. ``dropout3``.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``: ``tgt`` ``[T, N,
    E]``, ``memory`` ``[S, N, E]`` (batch first with ``batch_first``; unbatched without ``N``),
    ``tgt_mask`` ``[T, T]``, ``memory_mask`` ``[T, S]``, padding masks ``[N, T]`` / ``[N, S]``;
    returns ``tgt``'s shape. Errors as ``TransformerEncoderLayer``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = relu, layer_norm_eps: float = 1e-05,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.activation = _activation("TransformerDecoderLayer", activation)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _name(self) -> str:
        return f"TransformerDecoderLayer(d_model={self.d_model}, nhead={self.nhead})"

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        _check_input(self._name(), tgt, "tgt", self.d_model, self.linear1.weight)
        _check_input(self._name(), memory, "memory", self.d_model, self.linear1.weight)
        _check_causal_hint(self._name(), tgt_mask, tgt_is_causal)
        _check_causal_hint(self._name(), memory_mask, memory_is_causal)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask))
        return self.norm3(x + self._ff_block(x))

    def _attend(self, attn: MultiheadAttention, q: Tensor, kv: Tensor, mask, padding) -> Tensor:
        try:
            return attn(q, kv, kv, attn_mask=mask, key_padding_mask=padding, need_weights=False)[0]
        except LuminaShapeError as e:
            raise LuminaShapeError(f"{self._name()}: {e}") from None

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask) -> Tensor:
        return self.dropout1(self._attend(self.self_attn, x, x, attn_mask, key_padding_mask))

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask, key_padding_mask) -> Tensor:
        return self.dropout2(self._attend(self.multihead_attn, x, mem, attn_mask, key_padding_mask))

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(name: str, layer: Module, n: int, kind: type) -> ModuleList:
    if not isinstance(layer, kind):
        raise LuminaTypeError(f"{name}: expects a {kind.__name__}, got {type(layer).__name__}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise LuminaValueError(f"{name}: num_layers must be a non-negative int, got {n!r}")
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])   # identical initial weights, as torch's


class TransformerEncoder(Module):
    """``torch.nn.TransformerEncoder``: ``num_layers`` deep copies of ``encoder_layer`` (the same
    initial weights, as torch's ``_get_clones``) under ``layers.{i}``, then ``norm`` if given.
    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)`` passes the masks to every
    layer. ``enable_nested_tensor`` / ``mask_check`` choose torch's inference fast path, which
    lumina does not have; they are kept as attributes. Raises LuminaTypeError when
    ``encoder_layer`` is not a ``TransformerEncoderLayer``."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers, TransformerEncoderLayer)
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``torch.nn.TransformerDecoder``: ``num_layers`` deep copies of ``decoder_layer`` under
    ``layers.{i}``, then ``norm`` if given; ``forward`` as ``TransformerDecoderLayer``'s, the
    masks passed to every layer. Raises LuminaTypeError when ``decoder_layer`` is not a
    ``TransformerDecoderLayer``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers, TransformerDecoderLayer)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """``torch.nn.Transformer``: an encoder of ``num_encoder_layers`` and a decoder of
    ``num_decoder_layers`` layers, each stack followed by a ``LayerNorm`` (``encoder.norm`` /
    ``decoder.norm``), or ``custom_encoder`` / ``custom_decoder``; every parameter with more than
    one dim is re-drawn with ``xavier_uniform_`` as torch's ``_reset_parameters``.

    ``forward(src, tgt, ...)``: ``src`` ``[S, N, E]``, ``tgt`` ``[T, N, E]`` (batch first with
    ``batch_first``, or unbatched ``[S, E]`` / ``[T, E]``); masks as the layers'; returns ``[T, N,
    E]``. Raises LuminaShapeError when the batch sizes of ``src`` and ``tgt`` differ or a feature
    size is not ``d_model``."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = relu, custom_encoder=None, custom_decoder=None,
                 layer_norm_eps: float = 1e-05, batch_first: bool = False, norm_first: bool = False,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        layer_kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                        layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                        **kw)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **layer_kw),
                                              num_encoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                                            **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **layer_kw),
                                              num_decoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                                            **kw))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        name = f"Transformer(d_model={self.d_model}, nhead={self.nhead})"
        _check_input(name, src, "src", self.d_model)
        _check_input(name, tgt, "tgt", self.d_model)
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_dim] != tgt.shape[batch_dim]):
            raise LuminaShapeError(f"{name}: the batch number of src and tgt must be equal, got src "
                                   f"{src._value.type} and tgt {tgt._value.type} (batch_first={self.batch_first})")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """``[sz, sz]`` float mask: 0 on and below the diagonal, -inf above it (a position may not
        attend to later ones); float32 unless ``dtype``, as torch's."""
        dt = to_dtype(dtype) if dtype is not None else to_dtype("float32")
        future = arange(sz).reshape(1, sz) > arange(sz).reshape(sz, 1)
        mask = where(future, full((sz, sz), -math.inf, dtype=dt), full((sz, sz), 0.0, dtype=dt))
        return mask if device is None else mask.to(device)
