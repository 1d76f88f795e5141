"""The per-instance normalisations: GroupNormalization, InstanceNormalization,
MeanVarianceNormalization, LRN and LpNormalization. (LayerNormalization, RMSNormalization and
BatchNormalization live in ``reduce``.) Variances are biased (divided by the count), as the spec."""
from __future__ import annotations

import math

import numpy as np

from ...tensor.reductions import normalize, scaled_moments
from ...tensor.movement import pad
from ...tensor import Tensor, where
from .registry import Ctx, axes_index, axis_of, handler, lumina_dtype, tensor_of


def _channels(ctx: Ctx, x: Tensor, what: str, t: Tensor, size: int) -> Tensor:
    """A per-channel (or per-group) parameter ``[size]`` shaped to broadcast against ``x [N, C, ...]``
    along axis 1; LuminaOnnxError for another shape or dtype."""
    if t.shape != (size,) or t.dtype is not x.dtype:
        raise ctx.error(f"{what} must be [{size}] of dtype {x.dtype} for input {list(x.shape)}, got "
                        f"{t.dtype}{list(t.shape)}")
    return t.reshape((1, size) + (1,) * (x.ndim - 2))


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (biased variance), overflow-safe
    (``lumina.tensor.reductions.normalize``)."""
    return normalize(x, axes, eps)[0]


@handler("GroupNormalization")
def _group_norm(ctx, xs, attrs):
    """GroupNormalization (Wu & He 2018): ``x [N, C, ...]`` normalised per instance over each of
    ``num_groups`` groups of channels, in ``stash_type`` precision (default float32), then scaled
    and shifted in the input's dtype by ``scale`` / ``bias`` ``[C]`` (opset 21; the per-group form of
    opset 18 is deprecated, and ``onnx.checker`` refuses it when the model is loaded)."""
    x, scale, bias = (tensor_of(v) for v in xs[:3])
    groups = attrs.get("num_groups")
    if x.ndim < 2 or not x.dtype.is_float:
        raise ctx.error(f"input must be float [N, C, ...], got {x.dtype}{list(x.shape)}")
    n, c = x.shape[:2]
    if groups is None or groups <= 0 or c % groups:
        raise ctx.error(f"num_groups={groups} must divide the {c} channels of input {list(x.shape)}")
    from onnx.helper import tensor_dtype_to_np_dtype
    stash_type = attrs.get("stash_type", 1)
    try:
        stash = lumina_dtype(ctx, np.dtype(tensor_dtype_to_np_dtype(stash_type)))
    except (KeyError, TypeError, ValueError):
        raise ctx.error(f"stash_type={stash_type} is not an ONNX element type") from None
    if not stash.is_float:
        raise ctx.error(f"stash_type={stash_type} ({stash}) must be a float type")
    grouped = x.to(stash).reshape(n, groups, -1)
    y = _normalize(grouped, (2,), attrs.get("epsilon", 1e-5)).reshape(x.shape).to(x.dtype)
    return [y * _channels(ctx, x, "scale", scale, c) + _channels(ctx, x, "bias", bias, c)]


@handler("InstanceNormalization")
def _instance_norm(ctx, xs, attrs):
    """InstanceNormalization (Ulyanov et al. 2016): ``x [N, C, D1, ...]`` normalised per instance and
    channel over ``D1, ...``, then ``* scale[C] + B[C]``."""
    x, scale, bias = (tensor_of(v) for v in xs[:3])
    if x.ndim < 3 or not x.dtype.is_float:
        raise ctx.error(f"input must be float [N, C, D1, ...], got {x.dtype}{list(x.shape)}")
    c = x.shape[1]
    y = _normalize(x, tuple(range(2, x.ndim)), attrs.get("epsilon", 1e-5))
    return [y * _channels(ctx, x, "scale", scale, c) + _channels(ctx, x, "B", bias, c)]


@handler("MeanVarianceNormalization")
def _mean_variance_norm(ctx, xs, attrs):
    """``(x - E[x]) / (sqrt(Var[x]) + 1e-9)`` over ``axes`` (default ``[0, 2, 3]``), as the spec's
    function body."""
    x = tensor_of(xs[0])
    axes = tuple(sorted(set(axes_index(ctx, attrs.get("axes", [0, 2, 3]), x.ndim))))
    mean, _, sum_sq, s = scaled_moments(x, axes)
    std = (sum_sq / float(max(math.prod(x.shape[a] for a in axes), 1))).sqrt() * s
    return [(x - mean) / (std + 1e-9)]


@handler("LRN")
def _lrn(ctx, xs, attrs):
    """Local response normalisation across channels (Krizhevsky et al. 2012):
    ``x / (bias + alpha / size * sum(x[c']^2))^beta`` for ``c'`` from ``c - floor((size-1)/2)`` to
    ``c + ceil((size-1)/2)``, clipped to the channels; ``x [N, C, D1, ...]``."""
    x = tensor_of(xs[0])
    size = attrs.get("size")
    if x.ndim < 3 or not x.dtype.is_float:
        raise ctx.error(f"input must be float [N, C, D1, ...], got {x.dtype}{list(x.shape)}")
    if size is None or size <= 0:
        raise ctx.error(f"size={size} must be a positive int")
    alpha, beta, bias = attrs.get("alpha", 1e-4), attrs.get("beta", 0.75), attrs.get("bias", 1.0)
    lo, hi = (size - 1) // 2, math.ceil((size - 1) / 2)
    c = x.shape[1]
    flat = [0, 0] * (x.ndim - 2) + [lo, hi]   # zero channels before and after (lumina's pad: last dim first)
    squares = pad(x * x, flat)
    window = squares[:, 0:c]
    for i in range(1, size):
        window = window + squares[:, i:i + c]
    return [x / (window * (alpha / size) + bias) ** beta]


@handler("LpNormalization")
def _lp_norm(ctx, xs, attrs):
    """``x / ||x||_p`` along ``axis`` (default -1) for ``p`` 1 or 2; a zero norm gives 0."""
    x = tensor_of(xs[0])
    p, axis = attrs.get("p", 2), attrs.get("axis", -1)
    if p not in (1, 2):
        raise ctx.error(f"p={p} is not supported (1 or 2)")
    axis = axis_of(ctx, axis, x.ndim)
    norm = x.abs().sum(axis, keepdim=True) if p == 1 else (x * x).sum(axis, keepdim=True).sqrt()
    return [x / where(norm == 0.0, 1.0, norm)]   # all-zero lanes: 0 / 1
