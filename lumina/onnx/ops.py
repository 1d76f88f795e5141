"""ONNX operators as lumina ops: one handler per ``op_type``.

A handler gets the node's context, its inputs and its attributes, and returns its outputs. A value is
either a lumina ``Tensor`` (data the model computes) or a NumPy array known while the graph is
traced: initializers of integer dtype, ``Constant`` nodes, and everything computed from them and from
``Shape``. Shape arithmetic (``Shape -> Gather -> Concat -> Reshape``) therefore folds to constants
for the input shapes at hand, as ONNX Runtime's graph optimizer folds it; data is never computed in
NumPy. Semantics follow the ONNX operator specification (https://onnx.ai/onnx/operators/), for the
opset the model imports (``ctx.opset``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import LuminaOnnxError
from ..ir.dtypes import DType, to_dtype
from ..nn import functional as F
from ..shape_ops import pad
from ..tensor import Tensor, cat, matmul, maximum, minimum, tensor, where

_F64 = DType.float64


@dataclass(frozen=True)
class Ctx:
    """The node being imported: for error messages and opset-dependent semantics.
    ``graph_inputs`` maps ``id`` of the traced graph-input tensors to their names."""
    name: str
    op_type: str
    opset: int
    n_outputs: int = 1
    graph_inputs: dict = field(default_factory=dict, compare=False)

    def error(self, message: str) -> LuminaOnnxError:
        return LuminaOnnxError(f"node {self.name!r} ({self.op_type}): {message}")


HANDLERS: dict[str, Callable] = {}


def handler(*op_types: str):
    def register(fn):
        for op in op_types:
            HANDLERS[op] = fn
        return fn
    return register


# ---- values ---------------------------------------------------------------------------------------

def is_static(v) -> bool:
    return isinstance(v, (np.ndarray, np.generic))


def tensor_of(v) -> Tensor:
    """``v`` as a lumina tensor (a known array becomes a constant)."""
    return v if isinstance(v, Tensor) else tensor(np.array(v, order="C"))


class NeedsValue(Exception):
    """A graph input is used where a value must be known while tracing (``Reshape``'s shape,
    ``ReduceSum``'s axes): the model specialises on that input's value and traces again."""
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def static(ctx: Ctx, v, what: str) -> np.ndarray:
    """The value of ``v``, which must be known while tracing (a shape, axes, pads)."""
    if id(v) in ctx.graph_inputs:
        raise NeedsValue(ctx.graph_inputs[id(v)])
    if not is_static(v):
        raise ctx.error(f"{what} must be known at compile time (a constant or computed from shapes), "
                        f"got a computed tensor of shape {list(v.shape)}")
    return v


def ints(ctx: Ctx, v, what: str) -> list[int]:
    return [int(i) for i in static(ctx, v, what).reshape(-1)]


# ---- elementwise ----------------------------------------------------------------------------------

_UNARY = {
    "Relu": Tensor.relu, "Sigmoid": Tensor.sigmoid, "Tanh": Tensor.tanh, "Exp": Tensor.exp,
    "Log": Tensor.log, "Sqrt": Tensor.sqrt, "Neg": Tensor.neg, "Abs": Tensor.abs, "Erf": Tensor.erf,
    "Sin": Tensor.sin, "Cos": Tensor.cos, "Not": Tensor.__invert__,
    "Reciprocal": lambda x: 1.0 / x,
}
_NUMPY_UNARY = {"Neg": np.negative, "Abs": np.abs, "Not": np.logical_not}


@handler(*_UNARY)
def _unary(ctx, xs, attrs):
    (x,) = xs
    if is_static(x) and ctx.op_type in _NUMPY_UNARY and x.dtype.kind in "iub":
        return [_NUMPY_UNARY[ctx.op_type](x)]
    return [_UNARY[ctx.op_type](tensor_of(x))]


def _int_div(a, b):
    return (np.trunc(a / b)).astype(np.result_type(a, b))   # C semantics, as ONNX Runtime


_BINARY = {
    "Add": (lambda a, b: a + b, np.add), "Sub": (lambda a, b: a - b, np.subtract),
    "Mul": (lambda a, b: a * b, np.multiply), "Div": (lambda a, b: a / b, _int_div),
    "Pow": (lambda a, b: a ** b, np.power),
    "Equal": (lambda a, b: a == b, np.equal), "Less": (lambda a, b: a < b, np.less),
    "Greater": (lambda a, b: a > b, np.greater), "LessOrEqual": (lambda a, b: a <= b, np.less_equal),
    "GreaterOrEqual": (lambda a, b: a >= b, np.greater_equal),
    "And": (lambda a, b: a & b, np.logical_and), "Or": (lambda a, b: a | b, np.logical_or),
    "Xor": (lambda a, b: a != b, np.logical_xor),
}


@handler(*_BINARY)
def _binary(ctx, xs, attrs):
    a, b = xs
    lumina_fn, numpy_fn = _BINARY[ctx.op_type]
    if is_static(a) and is_static(b) and a.dtype.kind in "iub" and b.dtype.kind in "iub":
        return [np.asarray(numpy_fn(a, b))]
    if ctx.op_type == "Pow" and is_static(b) and b.size == 1:   # x ** 2 stays a multiply
        return [tensor_of(a) ** float(b.reshape(()))]
    ta, tb = tensor_of(a), tensor_of(b)
    if ctx.op_type in ("Add", "Sub", "Mul", "Div", "Pow") and ta.dtype is not tb.dtype:
        raise ctx.error(f"inputs of dtypes {ta.dtype} and {tb.dtype}: ONNX requires one dtype")
    if ctx.op_type == "Div" and not ta.dtype.is_float:
        raise ctx.error(f"integer division of computed {ta.dtype} tensors is not supported")
    return [lumina_fn(ta, tb)]


def _trunc(q: Tensor) -> Tensor:
    """Round toward zero: through an int64 cast where ``q`` may have a fraction; a float of
    ``2**(mantissa bits)`` or more (and inf, NaN) is its own integer part."""
    big = float(2 ** (np.finfo(q.dtype.numpy).nmant if q.dtype is not DType.bfloat16 else 7))
    return where(q.abs() < big, q.to(DType.int64).to(q.dtype), q)


@handler("Mod")
def _mod(ctx, xs, attrs):
    a, b = xs
    fmod = attrs.get("fmod", 0)
    if is_static(a) and is_static(b):
        return [np.fmod(a, b) if fmod else np.mod(a, b)]
    ta, tb = tensor_of(a), tensor_of(b)
    if ta.dtype is not tb.dtype:
        raise ctx.error(f"inputs of dtypes {ta.dtype} and {tb.dtype}: ONNX requires one dtype")
    if not ta.dtype.is_float and fmod:
        raise ctx.error("fmod=1 applies to float inputs")
    # a - q*b with q = trunc(a/b) (fmod: the sign of a, C's fmod) or floor(a/b) (the sign of b);
    # integers are divided in float64, exact for |a| < 2**53
    fa, fb = (ta, tb) if ta.dtype.is_float else (ta.to(_F64), tb.to(_F64))
    q = fa / fb
    t = _trunc(q)
    q = t if fmod else t - (q < t).to(q.dtype)
    out = fa - q * fb
    if ta.dtype.is_float:   # a finite a over an infinite b: a itself (or b, across signs, for floor)
        same_sign = (fa >= 0.0) == (fb > 0.0)
        keep = fa if fmod else where(same_sign | (fa == 0.0), fa, fb)
        out = where((fb.abs() == float("inf")) & (fa.abs() != float("inf")), keep, out)
    return [out if ta.dtype.is_float else out.to(ta.dtype)]


@handler("RMSNormalization")
def _rms_norm(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis = attrs.get("axis", -1) % x.ndim
    axes = tuple(range(axis, x.ndim))
    y = x / ((x * x).mean(axes, keepdim=True) + attrs.get("epsilon", 1e-5)).sqrt()
    return [y * tensor_of(xs[1])]


@handler("Max", "Min", "Sum", "Mean")
def _variadic(ctx, xs, attrs):
    fn = {"Max": maximum, "Min": minimum, "Sum": lambda a, b: a + b, "Mean": lambda a, b: a + b}[ctx.op_type]
    out = tensor_of(xs[0])
    for x in xs[1:]:
        out = fn(out, tensor_of(x))
    return [out / float(len(xs)) if ctx.op_type == "Mean" else out]


@handler("Where")
def _where(ctx, xs, attrs):
    c, a, b = xs
    if all(is_static(v) for v in xs):
        return [np.where(c, a, b)]
    return [where(tensor_of(c), tensor_of(a), tensor_of(b))]


@handler("Clip")
def _clip(ctx, xs, attrs):
    x = tensor_of(xs[0])
    if ctx.opset < 11:
        lo, hi = attrs.get("min"), attrs.get("max")
    else:
        lo = float(static(ctx, xs[1], "min").reshape(())) if len(xs) > 1 and xs[1] is not None else None
        hi = float(static(ctx, xs[2], "max").reshape(())) if len(xs) > 2 and xs[2] is not None else None
    return [x.clamp(lo, hi)]


@handler("Identity", "Dropout")
def _identity(ctx, xs, attrs):   # Dropout: inference, as ONNX Runtime runs it (mask of ones)
    out = [xs[0]]
    return out + [np.ones(xs[0].shape, bool)] if ctx.op_type == "Dropout" else out


@handler("Cast", "CastLike")
def _cast(ctx, xs, attrs):
    from onnx.helper import tensor_dtype_to_np_dtype
    if ctx.op_type == "CastLike":
        like = xs[1]
        dtype = like.dtype if is_static(like) else like.dtype.numpy
    else:
        dtype = np.dtype(tensor_dtype_to_np_dtype(attrs["to"]))
    x = xs[0]
    if is_static(x):
        return [x.astype(dtype)]
    return [x.to(_lumina_dtype(ctx, dtype))]


def _lumina_dtype(ctx, dtype: np.dtype):
    try:
        return to_dtype(dtype)
    except Exception:
        raise ctx.error(f"dtype {dtype} is not supported") from None


@handler("Gelu")
def _gelu(ctx, xs, attrs):
    return [tensor_of(xs[0]).gelu(attrs.get("approximate", "none"))]


# ---- linear algebra -------------------------------------------------------------------------------

@handler("MatMul")
def _matmul(ctx, xs, attrs):
    return [matmul(tensor_of(xs[0]), tensor_of(xs[1]))]


@handler("Gemm")
def _gemm(ctx, xs, attrs):
    a, b = tensor_of(xs[0]), tensor_of(xs[1])
    a = a.transpose(0, 1) if attrs.get("transA", 0) else a
    b = b.transpose(0, 1) if attrs.get("transB", 0) else b
    out = matmul(a, b)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    out = out * alpha if alpha != 1.0 else out
    if len(xs) > 2 and xs[2] is not None:
        c = tensor_of(xs[2])
        out = out + (c * beta if beta != 1.0 else c)
    return [out]


# ---- shapes and movement --------------------------------------------------------------------------

@handler("Shape")
def _shape(ctx, xs, attrs):
    shape = np.array(xs[0].shape, dtype=np.int64)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    return [shape[start:end]]


@handler("Size")
def _size(ctx, xs, attrs):
    return [np.array(int(np.prod(xs[0].shape)), dtype=np.int64)]


@handler("Constant")
def _constant(ctx, xs, attrs):
    from onnx import numpy_helper
    if "value" in attrs:
        return [numpy_helper.to_array(attrs["value"])]
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return [np.array(attrs[key], dtype=dtype)]
    raise ctx.error(f"unsupported attribute(s) {sorted(attrs)}")


@handler("ConstantOfShape")
def _constant_of_shape(ctx, xs, attrs):
    from onnx import numpy_helper
    value = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    return [np.full(ints(ctx, xs[0], "shape"), value.reshape(-1)[0], dtype=value.dtype)]


@handler("Range")
def _range(ctx, xs, attrs):
    start, limit, delta = (static(ctx, v, n).reshape(()) for v, n in zip(xs, ("start", "limit", "delta")))
    return [np.arange(start, limit, delta, dtype=np.result_type(start, limit, delta))]


@handler("Reshape")
def _reshape(ctx, xs, attrs):
    x, shape = xs[0], ints(ctx, xs[1], "shape")
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


@handler("Flatten")
def _flatten(ctx, xs, attrs):
    x = xs[0]
    axis = attrs.get("axis", 1)
    axis = axis + len(x.shape) if axis < 0 else axis
    lead = int(np.prod(x.shape[:axis]))
    return [x.reshape(lead, int(np.prod(x.shape[axis:])))]


@handler("Transpose")
def _transpose(ctx, xs, attrs):
    x = xs[0]
    perm = attrs.get("perm", list(range(len(x.shape)))[::-1])
    return [np.transpose(x, perm) if is_static(x) else x.permute(*perm)]


def _axes(ctx, xs, attrs, rank: int) -> list[int] | None:
    """``axes`` from the attribute (older opsets) or the second input (newer ones)."""
    if len(xs) > 1 and xs[1] is not None:
        return [a % rank for a in ints(ctx, xs[1], "axes")]
    if "axes" in attrs:
        return [a % rank for a in attrs["axes"]]
    return None


@handler("Unsqueeze")
def _unsqueeze(ctx, xs, attrs):
    x = xs[0]
    axes = sorted(_axes(ctx, xs, attrs, len(x.shape) + len(_raw_axes(ctx, xs, attrs))))
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return [x.reshape(shape)]


def _raw_axes(ctx, xs, attrs) -> list[int]:
    return ints(ctx, xs[1], "axes") if len(xs) > 1 and xs[1] is not None else list(attrs.get("axes", []))


@handler("Squeeze")
def _squeeze(ctx, xs, attrs):
    x = xs[0]
    axes = _axes(ctx, xs, attrs, len(x.shape))
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    for a in axes:
        if x.shape[a] != 1:
            raise ctx.error(f"cannot squeeze axis {a} of size {x.shape[a]} (input shape {list(x.shape)})")
    return [x.reshape([d for i, d in enumerate(x.shape) if i not in axes])]


@handler("Concat")
def _concat(ctx, xs, attrs):
    axis = attrs["axis"]
    if all(is_static(x) for x in xs):
        return [np.concatenate(xs, axis=axis)]
    return [cat([tensor_of(x) for x in xs], axis)]


@handler("Gather")
def _gather(ctx, xs, attrs):
    x, index = xs
    axis = attrs.get("axis", 0) % len(x.shape)
    idx = static(ctx, index, "indices") if is_static(index) else index
    if is_static(x) and is_static(idx):
        return [np.take(x, idx, axis=axis)]
    if is_static(idx):
        idx = np.where(idx < 0, idx + x.shape[axis], idx)
        if idx.ndim == 0:   # a scalar index drops the axis
            key = (slice(None),) * axis + (int(idx),)
            return [tensor_of(x)[key]]
        picked = tensor_of(x).index_select(axis, tensor(idx.reshape(-1)))
        return [picked.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])]
    n = x.shape[axis]   # ONNX allows negative indices, counted from the end
    idx = where(idx < 0, idx + n, idx)
    flat = tensor_of(x).index_select(axis, idx.reshape(-1))
    return [flat.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))]


@handler("Slice")
def _slice(ctx, xs, attrs):
    x = xs[0]
    rank = len(x.shape)
    if ctx.opset < 10:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = ints(ctx, xs[1], "starts"), ints(ctx, xs[2], "ends")
        axes = ints(ctx, xs[3], "axes") if len(xs) > 3 and xs[3] is not None else list(range(len(starts)))
        steps = ints(ctx, xs[4], "steps") if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
    key = [slice(None)] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st < 0 and not is_static(x):
            raise ctx.error(f"negative step {st} on axis {a} is not supported")
        key[a % rank] = slice(s, e, st)
    return [x[tuple(key)]]


@handler("Expand")
def _expand(ctx, xs, attrs):
    x, shape = xs[0], ints(ctx, xs[1], "shape")
    out = np.broadcast_shapes(tuple(x.shape), tuple(shape))
    return [np.broadcast_to(x, out).copy() if is_static(x) else x.broadcast_to(out)]


@handler("Split")
def _split(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis = attrs.get("axis", 0) % x.ndim
    sizes = ints(ctx, xs[1], "split") if len(xs) > 1 and xs[1] is not None else attrs.get("split")
    if sizes is None:
        n = attrs.get("num_outputs") or ctx.n_outputs
        size = -(-x.shape[axis] // n)
        sizes = [min(size, x.shape[axis] - i * size) for i in range(n)]
    return list(x.split(list(sizes), axis))


# ---- reductions and normalisation ------------------------------------------------------------------

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
    axes = _axes(ctx, xs, attrs, x.ndim)
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


@handler("BatchNormalization")
def _batch_norm(ctx, xs, attrs):
    if attrs.get("training_mode", 0):
        raise ctx.error("training_mode=1 is not supported (inference only)")
    x, scale, bias, mean, var = (tensor_of(v) for v in xs[:5])
    return [F.batch_norm(x, mean, var, scale, bias, training=False, eps=attrs.get("epsilon", 1e-5))]


# ---- convolution and pooling ------------------------------------------------------------------------

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


@handler("Trilu")
def _trilu(ctx, xs, attrs):
    x = xs[0]
    k = int(static(ctx, xs[1], "k").reshape(())) if len(xs) > 1 and xs[1] is not None else 0
    tri = np.triu if attrs.get("upper", 1) else np.tril
    if is_static(x):
        return [tri(x, k)]
    keep = tri(np.ones(x.shape[-2:], bool), k)
    return [where(tensor(keep), x, tensor(np.zeros((), x.dtype.numpy)))]
