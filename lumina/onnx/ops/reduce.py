"""Reductions, ArgMax/ArgMin, softmax and the normalisations (LayerNormalization, BatchNormalization,
RMSNormalization), and Pad."""
from __future__ import annotations

import numpy as np

from ...ir.dtypes import DType
from ...nn import functional as F
from ...shape_ops import pad
from ...tensor import Tensor, arange, tensor, where
from .registry import axes_of, handler, is_static, optional, static, tensor_of


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
    axis, keep = attrs.get("axis", 0) % max(x.ndim, 1), bool(attrs.get("keepdims", 1))
    if not attrs.get("select_last_index", 0):
        return [x.argmax(axis, keepdim=keep) if ctx.op_type == "ArgMax" else x.argmin(axis, keepdim=keep)]
    best = x.max(axis, keepdim=True) if ctx.op_type == "ArgMax" else x.min(axis, keepdim=True)
    n = x.shape[axis]
    pos = arange(n).reshape([n if a == axis else 1 for a in range(x.ndim)])
    return [where(x == best, pos, -1).max(axis, keepdim=keep)]   # the last position holding it


_PAD_MODES = {"reflect": "reflect", "edge": "edge", "wrap": "wrap"}   # ONNX -> np.pad


def _pad_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """The source position of each output position along one axis (negative amounts crop)."""
    kept = np.arange(n, dtype=np.int64)[max(-lo, 0):n - max(-hi, 0)]
    return np.pad(kept, (max(lo, 0), max(hi, 0)), mode=_PAD_MODES[mode])


@handler("Pad")
def _pad(ctx, xs, attrs):
    x = xs[0]
    mode = attrs.get("mode", "constant")
    if mode != "constant" and mode not in _PAD_MODES:
        raise ctx.error(f"mode={mode!r} is not supported (constant, reflect, edge, wrap)")
    if ctx.opset < 11:
        pads, value = list(attrs["pads"] if "pads" in attrs else attrs["paddings"]), attrs.get("value", 0.0)
    else:
        pads = [int(p) for p in static(ctx, xs[1], "pads").reshape(-1)]
        value = optional(xs, 2)
    rank = len(x.shape)
    axes = ([int(a) % rank for a in static(ctx, xs[3], "axes").reshape(-1)]
            if optional(xs, 3) is not None else list(range(rank)))
    n = len(axes)
    if len(pads) != 2 * n:
        raise ctx.error(f"pads {pads} must hold 2 amounts per padded axis ({n} axes)")
    before, after = dict(zip(axes, pads[:n])), dict(zip(axes, pads[n:]))
    if mode != "constant":   # a gather along each padded axis with a constant index table
        if any(x.shape[a] == 0 and (before[a] or after[a]) for a in axes):
            raise ctx.error(f"mode={mode!r} cannot pad an empty axis (input shape {list(x.shape)})")
        for a in axes:   # as ONNX Runtime: a reflection does not repeat the edge, nor wrap around
            if mode == "reflect" and max(before[a], after[a]) >= x.shape[a]:
                raise ctx.error(f"mode='reflect' pads at most {x.shape[a] - 1} for axis {a} of input shape "
                                f"{list(x.shape)}, got {before[a]} before and {after[a]} after")
        out = x
        for a in axes:
            if before[a] or after[a]:
                idx = _pad_index(x.shape[a], before[a], after[a], mode)
                out = np.take(out, idx, a) if is_static(out) else out.index_select(a, tensor(idx))
        return [out]
    width = [(before.get(d, 0), after.get(d, 0)) for d in range(rank)]
    flat = [p for lo_hi in reversed(width) for p in lo_hi]   # lumina's pad: last dim first; negative crops
    if value is None or not isinstance(value, Tensor):
        value = np.asarray(0 if value is None else value).reshape(()).item()
        if is_static(x) and all(lo >= 0 and hi >= 0 for lo, hi in width):
            return [np.pad(x, width, constant_values=value).astype(x.dtype)]
        return [pad(tensor_of(x), flat, value=float(value))]
    # a computed fill: pad with 0, then the fill wherever the output lies outside the input
    out = pad(tensor_of(x), flat)
    inside = np.zeros(out.shape, bool)
    inside[tuple(slice(max(lo, 0), max(lo, 0) + d + min(lo, 0) + min(hi, 0))
                 for d, (lo, hi) in zip(x.shape, width))] = True
    return [where(tensor(inside), out, value.reshape(()).to(out.dtype))]


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


