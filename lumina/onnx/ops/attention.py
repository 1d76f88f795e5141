"""The transformer-block operators of opsets 23-28: Attention, RotaryEmbedding and SwiGLU.

Each is a decomposition into lumina's tensor ops (``matmul``, ``softmax`` from
``lumina.nn.functional``, elementwise, movement), so fusion and every backend see primitives.
Semantics follow the operator's function body in the ONNX specification (the ``_expanded``
conformance cases), which fixes where values are rounded to the input precision.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.dtypes import DType
from ...nn import functional as F
from ...tensor.movement import pad
from ...tensor import Tensor, arange, cat, matmul, stack, where
from .registry import Ctx, handler, lumina_dtype, optional, tensor_of

_NEG_INF = -math.inf


# ---- Attention ------------------------------------------------------------------------------------

def _heads_first(ctx: Ctx, x: Tensor, heads: int, what: str) -> Tensor:
    """``[B, S, heads * D]`` -> ``[B, heads, S, D]`` (the 3-D form of the Attention inputs)."""
    b, s, hidden = x.shape
    if heads <= 0 or hidden % heads:
        raise ctx.error(f"{what} {list(x.shape)}: hidden size {hidden} is not divisible by {heads} heads")
    return x.reshape(b, s, heads, hidden // heads).permute(0, 2, 1, 3)


def _repeat_heads(x: Tensor, reps: int) -> Tensor:
    """``[B, H, S, D]`` -> ``[B, H * reps, S, D]``, each head repeated in place (h0, h0, h1, h1, ...),
    as the spec's Unsqueeze/Expand/Reshape (grouped-query attention)."""
    if reps == 1:
        return x
    b, h, s, d = x.shape
    return x.unsqueeze(2).expand(b, h, reps, s, d).reshape(b, h * reps, s, d)


def _select(allowed, dtype: DType) -> Tensor:
    """0 where ``allowed`` (a bool tensor or a NumPy mask known from shapes), -inf elsewhere."""
    if isinstance(allowed, np.ndarray):
        return tensor_of(np.where(allowed, 0.0, _NEG_INF).astype(dtype.numpy))
    zeros = tensor_of(np.zeros((), dtype.numpy))
    return where(allowed, zeros, _NEG_INF)


def _position_bias(ctx: Ctx, attrs, q_len: int, kv_len: int, offset, dtype: DType) -> list[Tensor]:
    """The causal and sliding-window biases (0 / -inf), bottom-right aligned: query ``i`` sits at
    position ``i + offset``. ``offset`` is an int (past length, or 0) or a per-batch int64 tensor
    ``[B]`` (``nonpad_kv_seqlen - q_len``); the bias is then ``[B, 1, q_len, kv_len]``."""
    left, right = attrs.get("left_window_size", -1), attrs.get("right_window_size", -1)
    if left < -1 or right < -1:
        raise ctx.error(f"left_window_size={left}, right_window_size={right}: each must be -1 (unbounded) "
                        f"or >= 0")
    causal = bool(attrs.get("is_causal", 0))
    if not causal and left < 0 and right < 0:
        return []
    if isinstance(offset, Tensor):
        rows = arange(q_len).reshape(1, 1, q_len, 1) + offset.reshape(-1, 1, 1, 1)
        cols = arange(kv_len).reshape(1, 1, 1, kv_len)
    else:
        rows, cols = np.arange(q_len).reshape(q_len, 1) + offset, np.arange(kv_len).reshape(1, kv_len)
    diff = rows - cols   # how far key j lies behind query i
    terms = [diff >= 0] if causal else []
    if left >= 0:
        terms.append(diff <= left)
    if right >= 0:
        terms.append(-diff <= right)
    return [_select(t, dtype) for t in terms]


def _attention_bias(ctx: Ctx, attrs, mask, nonpad, q_len: int, kv_len: int, past_len: int,
                    dtype: DType) -> Tensor | None:
    """The additive bias of the scores (broadcasting to ``[B, H, q_len, kv_len]``), or None: the
    mask (bool: False -> -inf; float: added), padded with -inf up to ``kv_len``; the causal and
    window terms; and the padding of ``nonpad_kv_seqlen``."""
    terms = []
    if mask is not None:
        m = tensor_of(mask)
        if m.dtype is DType.bool:
            m = _select(m, dtype)
        elif m.dtype is not dtype:
            raise ctx.error(f"attn_mask must be bool or the dtype of Q ({dtype}), got {m.dtype}")
        if m.ndim == 0 or m.ndim > 4 or m.shape[-1] > kv_len:
            raise ctx.error(f"attn_mask {list(m.shape)} must have rank 1 to 4 and at most {kv_len} (the "
                            f"total key length) entries on its last axis")
        if m.shape[-1] < kv_len:
            m = pad(m, [0, kv_len - m.shape[-1]], value=_NEG_INF)
        terms.append(m)
    if nonpad is None:
        terms += _position_bias(ctx, attrs, q_len, kv_len, past_len, dtype)
    else:   # an external cache: keys at and after each sample's length are padding
        lengths = tensor_of(nonpad)
        if lengths.ndim != 1 or not lengths.dtype.is_int:
            raise ctx.error(f"nonpad_kv_seqlen must be an int tensor [B], got {lengths.dtype}{list(lengths.shape)}")
        lengths = lengths.to(DType.int64)
        terms += _position_bias(ctx, attrs, q_len, kv_len, lengths - q_len, dtype)
        terms.append(_select(arange(kv_len).reshape(1, 1, 1, kv_len) < lengths.reshape(-1, 1, 1, 1), dtype))
    if not terms:
        return None
    bias = terms[0]
    for t in terms[1:]:
        bias = bias + t
    return bias


def _softmax_as_is(x: Tensor) -> Tensor:
    """Softmax over the last axis in ``x``'s own precision (``softmax_precision``, or the input's
    when it is not given, as the spec says): for 16-bit floats every step rounds to 16 bits, where
    ``F.softmax`` computes in float32 and rounds once (one unit in the last place apart)."""
    if not x.dtype.is_half:
        return F.softmax(x, -1)
    e = (x - x.detach().amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)


@handler("Attention")
def _attention(ctx, xs, attrs):
    """ONNX Attention (opsets 23-25): ``softmax(softcap(Q K^T * scale) + bias) V``.

    Q ``[B, Hq, L, D]`` / K ``[B, Hkv, S, D]`` / V ``[B, Hkv, S, Dv]``, or their 3-D forms ``[B, L,
    Hq * D]`` with ``q_num_heads`` / ``kv_num_heads``; ``Hq`` a multiple of ``Hkv`` (grouped-query
    attention repeats each KV head). ``past_key`` / ``past_value`` ``[B, Hkv, P, *]`` are prepended
    (``present_key`` / ``present_value`` outputs); ``nonpad_kv_seqlen [B]`` masks the padding of an
    external cache. ``scale`` (default ``1/sqrt(D)``) multiplies Q and K each by its square root, in
    Q's dtype. A query row with every key masked gives 0 (not NaN). Output 3 is ``qk_matmul_output``
    after the QK matmul (mode 0), the softcap (1), the bias (2) or the softmax (3)."""
    q, k, v = (tensor_of(x) for x in xs[:3])
    mask, past_k, past_v, nonpad = (optional(xs, i) for i in (3, 4, 5, 6))
    dtype = q.dtype
    if not dtype.is_float or k.dtype is not dtype or v.dtype is not dtype:
        raise ctx.error(f"Q, K and V must share one float dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.ndim not in (3, 4) or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ctx.error(f"Q, K and V must all be 3-D [B, S, hidden] or all 4-D [B, heads, S, head_size], got "
                        f"{list(q.shape)}, {list(k.shape)}, {list(v.shape)}")
    if (past_k is None) != (past_v is None):
        raise ctx.error("past_key and past_value must be given together")
    if past_k is not None and nonpad is not None:
        raise ctx.error("nonpad_kv_seqlen cannot be combined with past_key / past_value")
    mode = attrs.get("qk_matmul_output_mode", 0)
    if mode not in (0, 1, 2, 3):
        raise ctx.error(f"qk_matmul_output_mode={mode} is not one of 0, 1, 2, 3")
    three_d = q.ndim == 3
    if three_d:
        if "q_num_heads" not in attrs or "kv_num_heads" not in attrs:
            raise ctx.error("3-D Q, K, V need the q_num_heads and kv_num_heads attributes")
        q = _heads_first(ctx, q, attrs["q_num_heads"], "Q")
        k = _heads_first(ctx, k, attrs["kv_num_heads"], "K")
        v = _heads_first(ctx, v, attrs["kv_num_heads"], "V")
    if q.shape[0] != k.shape[0] or k.shape[:3] != v.shape[:3] or q.shape[3] != k.shape[3]:
        raise ctx.error(f"expects Q [B, Hq, L, D], K [B, Hkv, S, D], V [B, Hkv, S, Dv], got {list(q.shape)}, "
                        f"{list(k.shape)}, {list(v.shape)} (as 4-D)")
    if past_k is not None:
        past_k, past_v = tensor_of(past_k), tensor_of(past_v)
        if (past_k.dtype is not dtype or past_v.dtype is not dtype or past_k.ndim != 4 or past_v.ndim != 4
                or past_k.shape[:2] + past_k.shape[3:] != k.shape[:2] + k.shape[3:]
                or past_v.shape[:2] + past_v.shape[3:] != v.shape[:2] + v.shape[3:]
                or past_k.shape[2] != past_v.shape[2]):
            raise ctx.error(f"past_key {list(past_k.shape)} / past_value {list(past_v.shape)} must be "
                            f"[B, Hkv, P, D] / [B, Hkv, P, Dv] like K {list(k.shape)} / V {list(v.shape)} "
                            f"(as 4-D), of dtype {dtype}")
        k, v = cat([past_k, k], 2), cat([past_v, v], 2)
    present_k, present_v = k, v
    hq, hkv = q.shape[1], k.shape[1]
    if hq % hkv:
        raise ctx.error(f"{hq} query heads are not a multiple of {hkv} key/value heads")
    q_len, kv_len = q.shape[2], k.shape[2]
    past_len = past_k.shape[2] if past_k is not None else 0

    scale = attrs.get("scale")
    scale = np.float32(1.0) / np.sqrt(np.float32(q.shape[3])) if scale is None else np.float32(scale)
    root = float(np.sqrt(np.float32(scale)))     # the spec scales Q and K each by sqrt(scale)
    k, v = _repeat_heads(k, hq // hkv), _repeat_heads(v, hq // hkv)
    scores = matmul(q * root, k.permute(0, 1, 3, 2) * root)
    qk = scores
    softcap = attrs.get("softcap", 0.0)
    if softcap > 0.0:
        scores = (scores / softcap).tanh() * softcap
    if mode == 1:
        qk = scores
    bias = _attention_bias(ctx, attrs, mask, nonpad, q_len, kv_len, past_len, dtype)
    if bias is not None:
        try:
            fits = np.broadcast_shapes(bias.shape, scores.shape) == scores.shape
        except ValueError:
            fits = False
        if not fits:
            shape = list(tensor_of(mask).shape) if mask is not None else None
            raise ctx.error(f"the attention bias {list(bias.shape)} (attn_mask {shape} with the causal, window "
                            f"and nonpad_kv_seqlen terms) does not broadcast to the scores [B, Hq, L, S] = "
                            f"{list(scores.shape)}")
        scores = scores + bias
    if mode == 2:
        qk = scores
    precision = attrs.get("softmax_precision")
    if precision is not None:
        from onnx.helper import tensor_dtype_to_np_dtype
        try:
            stash = lumina_dtype(ctx, np.dtype(tensor_dtype_to_np_dtype(precision)))
        except (KeyError, TypeError, ValueError):
            raise ctx.error(f"softmax_precision={precision} is not an ONNX element type") from None
        if not stash.is_float:
            raise ctx.error(f"softmax_precision={precision} ({stash}) must be a float type")
        probs = _softmax_as_is(scores.to(stash)).to(dtype)
    else:
        probs = _softmax_as_is(scores)
    if bias is not None:   # a query row with every key masked attends to nothing
        all_masked = bias.amax(-1, keepdim=True) == _NEG_INF
        probs = where(all_masked, tensor_of(np.zeros((), dtype.numpy)), probs)
    if mode == 3:
        qk = probs
    y = matmul(probs, v)
    if three_d:
        y = y.permute(0, 2, 1, 3).reshape(y.shape[0], q_len, hq * v.shape[3])
    return [y, present_k, present_v, qk]


# ---- RotaryEmbedding ------------------------------------------------------------------------------

@handler("RotaryEmbedding")
def _rotary_embedding(ctx, xs, attrs):
    """RoPE (Su et al. 2021, ONNX RotaryEmbedding-23) on ``input [B, H, S, D]`` or ``[B, S, H * D]``
    (with ``num_heads``). The first ``rotary_embedding_dim`` (default D) features of each head rotate
    by the angles whose cosines / sines are ``cos_cache`` / ``sin_cache``: ``[B, S, R/2]``, or
    ``[max_pos, R/2]`` rows picked by ``position_ids [B, S]``. Pairs are the two halves, or adjacent
    features with ``interleaved=1``."""
    x, cos, sin = (tensor_of(v) for v in xs[:3])
    positions = optional(xs, 3)
    shape = x.shape
    if x.ndim == 4:
        x = x.permute(0, 2, 1, 3)                       # [B, S, H, D]
    elif x.ndim == 3:
        heads = attrs.get("num_heads", 0)
        if heads <= 0 or shape[2] % heads:
            raise ctx.error(f"3-D input {list(shape)} needs num_heads dividing its hidden size {shape[2]}, got "
                            f"num_heads={heads}")
        x = x.reshape(shape[0], shape[1], heads, shape[2] // heads)
    else:
        raise ctx.error(f"input must be [B, H, S, D] or [B, S, hidden], got {list(shape)}")
    b, s, _, d = x.shape
    rot = attrs.get("rotary_embedding_dim", 0) or d
    if rot % 2 or rot > d:
        raise ctx.error(f"rotary_embedding_dim={rot} must be even and at most the head size {d}")
    if positions is not None:
        ids = tensor_of(positions)
        if ids.dtype is not DType.int64 or ids.shape != (b, s):
            raise ctx.error(f"position_ids must be int64 [B, S] = {[b, s]}, got {ids.dtype}{list(ids.shape)}")
        if cos.ndim != 2 or sin.shape != cos.shape:
            raise ctx.error(f"with position_ids, cos_cache and sin_cache must be [max_position, {rot // 2}], "
                            f"got {list(cos.shape)} and {list(sin.shape)}")
        cos = cos[ids]   # [B, S, R/2]
        sin = sin[ids]
    if cos.shape != (b, s, rot // 2) or sin.shape != cos.shape:
        raise ctx.error(f"cos_cache / sin_cache must give [B, S, rotary_embedding_dim / 2] = "
                        f"{[b, s, rot // 2]}, got {list(cos.shape)} / {list(sin.shape)}")
    cos, sin = cos.unsqueeze(2), sin.unsqueeze(2)        # [B, S, 1, R/2]
    x_rot = x[..., :rot]
    if attrs.get("interleaved", 0):
        pairs = x_rot.reshape(b, s, x.shape[2], rot // 2, 2)
        x1, x2 = pairs[..., 0], pairs[..., 1]
    else:
        x1, x2 = x_rot[..., :rot // 2], x_rot[..., rot // 2:]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if attrs.get("interleaved", 0):
        rotated = stack([real, imag], -1).reshape(x_rot.shape)
    else:
        rotated = cat([real, imag], -1)
    out = cat([rotated, x[..., rot:]], -1) if rot < d else rotated
    return [out.permute(0, 2, 1, 3) if len(shape) == 4 else out.reshape(shape)]


# ---- SwiGLU ---------------------------------------------------------------------------------------

@handler("SwiGLU")
def _swiglu(ctx, xs, attrs):
    """ONNX SwiGLU-28: ``A * sigmoid(alpha * A) * B`` (Shazeer 2020), A and B of one shape and
    dtype (no broadcasting)."""
    a, b = tensor_of(xs[0]), tensor_of(xs[1])
    if a.shape != b.shape or a.dtype is not b.dtype or not a.dtype.is_float:
        raise ctx.error(f"A and B must have one shape and one float dtype (no broadcasting), got "
                        f"{a.dtype}{list(a.shape)} and {b.dtype}{list(b.shape)}")
    alpha = attrs.get("alpha", 1.0)
    gate = a * (a * alpha if alpha != 1.0 else a).sigmoid()
    return [gate * b]
