"""Reductions, ArgMax/ArgMin, softmax and the normalisations (LayerNormalization, BatchNormalization,
RMSNormalization), and Pad."""
from __future__ import annotations

import numpy as np

from ...ir.dtypes import DType
from ...nn import functional as F
from ...shape_ops import pad
from ...tensor import Tensor, tensor, where
from .registry import axes_of, handler, ints, static, tensor_of


def _log_sum_exp(x: Tensor, axes, keepdim: bool) -> Tensor:
    m = x.max(axes, keepdim=True).detach()
    m = where(m.abs() == float("inf"), tensor(np.zeros((), m.dtype.numpy)), m)   # all -inf: log 0
    out = (x - m).exp().sum(axes, keepdim=True).log() + m
    return out if keepdim else out.reshape([d for i, d in enumerate(x.shape) if i not in axes])


_REDUCE = {
    "ReduceSum": lambda x, a, k: x.sum(a, keepdim=k), "ReduceMean": lambda x, a, k: x.mean(a, keepdim=k),
    "ReduceMax": lambda x, a, k: x.max(a, keepdim=k), "ReduceMin": lambda x, a, k: x.min(a, keepdim=k),
    "ReduceSumSquare": lambda x, a, k: (x * x).sum(a, keepdim=k),
    "ReduceL1": lambda x, a, k: x.abs().sum(a, keepdim=k),
    "ReduceL2": lambda x, a, k: (x * x).sum(a, keepdim=k).sqrt(),
    "ReduceLogSum": lambda x, a, k: x.sum(a, keepdim=k).log(),
    "ReduceLogSumExp": _log_sum_exp,
}


@handler(*_REDUCE)
def _reduce(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axes = axes_of(ctx, xs, attrs, x.ndim)
    if not axes and attrs.get("noop_with_empty_axes", 0):
        return [x]
    axes = tuple(axes) if axes else tuple(range(x.ndim))
    keep = bool(attrs.get("keepdims", 1))
    if x.dtype is DType.bool and ctx.op_type in ("ReduceMax", "ReduceMin"):   # any / all: empty is False / True
        hits = (x if ctx.op_type == "ReduceMax" else ~x).to(DType.int64).sum(axes, keepdim=keep)
        return [hits > 0 if ctx.op_type == "ReduceMax" else hits == 0]
    return [_REDUCE[ctx.op_type](x, axes, keep)]


@handler("ArgMax", "ArgMin")
def _argmax(ctx, xs, attrs):
    x = tensor_of(xs[0])
    if attrs.get("select_last_index", 0):
        raise ctx.error("select_last_index=1 is not supported")
    axis, keep = attrs.get("axis", 0), bool(attrs.get("keepdims", 1))
    return [x.argmax(axis, keepdim=keep) if ctx.op_type == "ArgMax" else x.argmin(axis, keepdim=keep)]


@handler("Pad")
def _pad(ctx, xs, attrs):
    x = tensor_of(xs[0])
    mode = attrs.get("mode", "constant")
    if mode != "constant":
        raise ctx.error(f"mode={mode!r} is not supported (only 'constant')")
    if ctx.opset < 11:
        pads, value = list(attrs["pads"]), attrs.get("value", 0.0)
    else:
        pads = ints(ctx, xs[1], "pads")
        value = static(ctx, xs[2], "constant_value").reshape(()).item() if len(xs) > 2 and xs[2] is not None else 0
    axes = ([a % x.ndim for a in ints(ctx, xs[3], "axes")] if len(xs) > 3 and xs[3] is not None
            else list(range(x.ndim)))
    n = len(axes)
    before, after = dict(zip(axes, pads[:n])), dict(zip(axes, pads[n:]))
    flat = []                      # lumina's pad: (last_lo, last_hi, second_last_lo, ...)
    for d in reversed(range(x.ndim)):
        flat += [before.get(d, 0), after.get(d, 0)]
    if any(p < 0 for p in flat):
        raise ctx.error(f"negative pads {pads} are not supported")
    return [pad(x, flat, value=float(value))]


@handler("Softmax", "LogSoftmax")
def _softmax(ctx, xs, attrs):
    x = tensor_of(xs[0])
    fn = F.softmax if ctx.op_type == "Softmax" else F.log_softmax
    if ctx.opset >= 13:
        return [fn(x, attrs.get("axis", -1))]
    axis = attrs.get("axis", 1) % x.ndim   # before opset 13: over the flattened trailing dims
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
    return [fn(flat, 1).reshape(x.shape)]


@handler("LayerNormalization")
def _layer_norm(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis = attrs.get("axis", -1) % x.ndim
    scale = tensor_of(xs[1])
    bias = tensor_of(xs[2]) if len(xs) > 2 and xs[2] is not None else None
    eps = attrs.get("epsilon", 1e-5)
    y = F.layer_norm(x, x.shape[axis:], scale, bias, eps)
    if ctx.n_outputs == 1:
        return [y]
    axes = tuple(range(axis, x.ndim))     # the optional Mean and InvStdDev outputs, kept dims
    return [y, x.mean(axes, keepdim=True), 1.0 / (x.var(axes, correction=0, keepdim=True) + eps).sqrt()]


@handler("RMSNormalization")
def _rms_norm(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis = attrs.get("axis", -1) % x.ndim
    axes = tuple(range(axis, x.ndim))
    y = x / ((x * x).mean(axes, keepdim=True) + attrs.get("epsilon", 1e-5)).sqrt()
    return [y * tensor_of(xs[1])]


@handler("BatchNormalization")
def _batch_norm(ctx, xs, attrs):
    if attrs.get("training_mode", 0):
        raise ctx.error("training_mode=1 is not supported (inference only)")
    x, scale, bias, mean, var = (tensor_of(v) for v in xs[:5])
    return [F.batch_norm(x, mean, var, scale, bias, training=False, eps=attrs.get("epsilon", 1e-5))]


