"""Convolution and pooling (1-D and 2-D, NCHW): Conv, MaxPool, AveragePool, the global pools."""
from __future__ import annotations

from ...nn import functional as F
from ...shape_ops import pad
from .registry import handler, tensor_of


def _pads2d(ctx, attrs, x, kernel, strides, dilations):
    """ONNX ``pads`` ([top, left, bottom, right]) or ``auto_pad`` as (left, right, top, bottom) for
    ``pad``."""
    auto = attrs.get("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
        (t, b_), (l_, r) = pads
        return l_, r, t, b_
    if auto not in ("NOTSET", "VALID"):
        raise ctx.error(f"auto_pad={auto!r} is not supported")
    t, l_, b_, r = attrs.get("pads", [0, 0, 0, 0]) if auto == "NOTSET" else [0, 0, 0, 0]
    return l_, r, t, b_


def _spatial2d(ctx, x):
    if x.ndim != 4:
        raise ctx.error(f"only 1-D and 2-D (NCL, NCHW) inputs are supported, got shape {list(x.shape)}")


def _lift_1d(attrs: dict) -> dict:
    """A 1-D conv/pool's attributes as those of the 2-D one over ``[N, C, 1, L]``."""
    out = dict(attrs)
    for key, unit in (("kernel_shape", 1), ("strides", 1), ("dilations", 1)):
        if key in attrs:
            out[key] = [unit] + list(attrs[key])
    if "pads" in attrs:
        lo, hi = attrs["pads"]
        out["pads"] = [0, lo, 0, hi]
    return out


def one_d_as_two_d(fn):
    """Run a 2-D handler on 1-D data (``[N, C, L]`` as ``[N, C, 1, L]``, weights likewise)."""
    def wrapped(ctx, xs, attrs):
        if len(xs[0].shape) == 3:
            xs = [tensor_of(x).unsqueeze(2) if x is not None and i < 2 and len(x.shape) == 3 else x
                  for i, x in enumerate(xs)]
            return [y.squeeze(2) for y in fn(ctx, xs, _lift_1d(attrs))]
        return fn(ctx, xs, attrs)
    return wrapped


@handler("Conv")
@one_d_as_two_d
def _conv(ctx, xs, attrs):
    x, w = tensor_of(xs[0]), tensor_of(xs[1])
    _spatial2d(ctx, x)
    bias = tensor_of(xs[2]) if len(xs) > 2 and xs[2] is not None else None
    kernel = attrs.get("kernel_shape", list(w.shape[2:]))
    strides, dilations = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    pads = _pads2d(ctx, attrs, x, kernel, strides, dilations)
    if any(pads):
        x = pad(x, pads)
    return [F.conv2d(x, w, bias, tuple(strides), 0, tuple(dilations), attrs.get("group", 1))]


@handler("MaxPool", "AveragePool")
@one_d_as_two_d
def _pool(ctx, xs, attrs):
    x = tensor_of(xs[0])
    _spatial2d(ctx, x)
    kernel = attrs["kernel_shape"]
    strides, dilations = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    l_, r, t, b_ = _pads2d(ctx, attrs, x, kernel, strides, dilations)
    ceil = bool(attrs.get("ceil_mode", 0))
    if ctx.op_type == "MaxPool":
        if (l_, t) != (r, b_):
            x = pad(x, (l_, r, t, b_), value=float("-inf"))
            l_ = r = t = b_ = 0
        return [F.max_pool2d(x, tuple(kernel), tuple(strides), (t, l_), tuple(dilations), ceil)]
    if list(dilations) != [1, 1]:
        raise ctx.error(f"dilations {list(dilations)} are not supported for AveragePool")
    include = bool(attrs.get("count_include_pad", 0))
    if (l_, t) != (r, b_):
        raise ctx.error(f"asymmetric pads {attrs.get('pads')} are not supported for AveragePool")
    return [F.avg_pool2d(x, tuple(kernel), tuple(strides), (t, l_), ceil, include)]


@handler("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axes = tuple(range(2, x.ndim))
    return [x.mean(axes, keepdim=True) if ctx.op_type == "GlobalAveragePool" else x.max(axes, keepdim=True)]


