"""Reductions, ArgMax/ArgMin, softmax and the normalisations (LayerNormalization, BatchNormalization,
RMSNormalization), and Pad."""
from __future__ import annotations

import math

import numpy as np

from ...ir.dtypes import DType
from ...nn import functional as F
from ...tensor.reductions import normalize
from ...tensor.movement import pad
from ...tensor import Tensor, arange, tensor, where
from .registry import (axes_index, axes_of, axis_of, check_constant, handler, is_static, optional, static,
                       tensor_of)


def _mean(x: Tensor, axes, keepdim: bool) -> Tensor:
    """The mean; of integers in float64, truncated back toward zero (ONNX Runtime's integer
    division of the sum by the count)."""
    if x.dtype.is_float:
        return x.mean(axes, keepdim=keepdim)
    return x.to(DType.float64).mean(axes, keepdim=keepdim).to(x.dtype)


_REDUCE = {
    "ReduceSum": lambda x, a, k: x.sum(a, keepdim=k), "ReduceMean": _mean,
    "ReduceMax": lambda x, a, k: x.amax(a, keepdim=k), "ReduceMin": lambda x, a, k: x.amin(a, keepdim=k),
    "ReduceSumSquare": lambda x, a, k: (x * x).sum(a, keepdim=k),
    "ReduceL1": lambda x, a, k: x.abs().sum(a, keepdim=k),
    "ReduceL2": lambda x, a, k: (x * x).sum(a, keepdim=k).sqrt(),
    "ReduceLogSum": lambda x, a, k: x.sum(a, keepdim=k).log(),
    "ReduceLogSumExp": lambda x, a, k: x.logsumexp(a, keepdim=k),
}

_NOOP = {   # noop_with_empty_axes and no axes: the elementwise part alone (ONNX Runtime, onnx.reference)
    "ReduceSumSquare": lambda x: x * x, "ReduceL1": Tensor.abs, "ReduceL2": lambda x: (x * x).sqrt(),
    "ReduceLogSum": Tensor.log,
}

_EMPTY = {   # a reduction over no elements (ONNX opset 18's reductions): the op's identity
    "ReduceSum": 0.0, "ReduceSumSquare": 0.0, "ReduceL1": 0.0, "ReduceL2": 0.0, "ReduceMean": math.nan,
    "ReduceMax": -math.inf, "ReduceMin": math.inf, "ReduceLogSum": -math.inf, "ReduceLogSumExp": -math.inf,
}


def _empty_reduction(ctx, x: Tensor, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    """The result of reducing ``x`` over ``axes`` where one of them has size 0: ``_EMPTY`` of the
    op, an infinity being the dtype's extreme where the dtype has none (as the spec says)."""
    shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes]
    dtype = x.dtype.numpy
    value = _EMPTY[ctx.op_type]
    if not x.dtype.is_float:
        if math.isnan(value):
            raise ctx.error(f"the mean of an empty set of {x.dtype.name} values (axes {list(axes)} of input "
                            f"shape {list(x.shape)}) is undefined")
        if math.isinf(value):
            value = np.iinfo(dtype).min if value < 0 else np.iinfo(dtype).max
    return np.full(check_constant(ctx, shape, dtype), value, dtype)


@handler(*_REDUCE)
def _reduce(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axes = axes_of(ctx, xs, attrs, x.ndim)
    if not axes and attrs.get("noop_with_empty_axes", 0):
        return [_NOOP.get(ctx.op_type, lambda v: v)(x)]
    axes = tuple(sorted(set(axes))) if axes else tuple(range(x.ndim))
    keep = bool(attrs.get("keepdims", 1))
    if x.dtype is DType.bool and ctx.op_type in ("ReduceMax", "ReduceMin"):   # any / all: empty is False / True
        hits = (x if ctx.op_type == "ReduceMax" else ~x).to(DType.int64).sum(axes, keepdim=keep)
        return [hits > 0 if ctx.op_type == "ReduceMax" else hits == 0]
    if any(x.shape[a] == 0 for a in axes):
        return [_empty_reduction(ctx, x, axes, keep)]
    return [_REDUCE[ctx.op_type](x, axes, keep)]


@handler("ArgMax", "ArgMin")
def _argmax(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis, keep = axis_of(ctx, attrs.get("axis", 0), x.ndim), bool(attrs.get("keepdims", 1))
    if x.shape[axis] == 0:
        raise ctx.error(f"axis {axis} of input shape {list(x.shape)} is empty: there is no "
                        f"{'largest' if ctx.op_type == 'ArgMax' else 'smallest'} element")
    if not attrs.get("select_last_index", 0):
        return [x.argmax(axis, keepdim=keep) if ctx.op_type == "ArgMax" else x.argmin(axis, keepdim=keep)]
    # the last position holding the extreme; NaN is the extreme where there is one (NumPy, torch and
    # onnx.reference: max propagates NaN), and NaN == NaN is false, so NaNs are matched by x != x
    best = x.amax(axis, keepdim=True) if ctx.op_type == "ArgMax" else x.amin(axis, keepdim=True)
    hit = (x == best) | (x != x) if x.dtype.is_float else x == best
    n = x.shape[axis]
    pos = arange(n).reshape([n if a == axis else 1 for a in range(x.ndim)])
    return [where(hit, pos, -1).amax(axis, keepdim=keep)]


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
    axes = (axes_index(ctx, [int(a) for a in static(ctx, xs[3], "axes").reshape(-1)], rank, unique=True)
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
        return [fn(x, axis_of(ctx, attrs.get("axis", -1), x.ndim))]
    axis = axis_of(ctx, attrs.get("axis", 1), x.ndim)   # before opset 13: over the flattened trailing dims
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
    return [fn(flat, 1).reshape(x.shape)]


@handler("LayerNormalization")
def _layer_norm(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis = axis_of(ctx, attrs.get("axis", -1), x.ndim)
    scale = tensor_of(xs[1])
    bias = tensor_of(xs[2]) if len(xs) > 2 and xs[2] is not None else None
    eps = attrs.get("epsilon", 1e-5)
    y = F.layer_norm(x, x.shape[axis:], scale, bias, eps)
    if ctx.n_outputs == 1:
        return [y]
    axes = tuple(range(axis, x.ndim))     # the optional Mean and InvStdDev outputs, kept dims
    _, mean, var = normalize(x, axes, eps)
    return [y, mean, 1.0 / (var + eps).sqrt()]


@handler("RMSNormalization")
def _rms_norm(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis = axis_of(ctx, attrs.get("axis", -1), x.ndim)
    axes = tuple(range(axis, x.ndim))
    y = x / ((x * x).mean(axes, keepdim=True) + attrs.get("epsilon", 1e-5)).sqrt()
    return [y * tensor_of(xs[1])]


@handler("BatchNormalization")
def _batch_norm(ctx, xs, attrs):
    if attrs.get("training_mode", 0):
        raise ctx.error("training_mode=1 is not supported (inference only)")
    x, scale, bias, mean, var = (tensor_of(v) for v in xs[:5])
    return [F.batch_norm(x, mean, var, scale, bias, training=False, eps=attrs.get("epsilon", 1e-5))]


