"""Elementwise ONNX operators: unary math, binary arithmetic and comparisons (NumPy-style
broadcasting), Mod, Where, Clip, Cast, Gelu and the variadic Max/Min/Sum/Mean."""
from __future__ import annotations

import numpy as np

from ...ir.dtypes import DType
from ...tensor import Tensor, maximum, minimum, where
from .registry import handler, is_static, lumina_dtype, static, tensor_of


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
    fa, fb = (ta, tb) if ta.dtype.is_float else (ta.to(DType.float64), tb.to(DType.float64))
    q = fa / fb
    t = _trunc(q)
    q = t if fmod else t - (q < t).to(q.dtype)
    out = fa - q * fb
    if ta.dtype.is_float:   # a finite a over an infinite b: a itself (or b, across signs, for floor)
        same_sign = (fa >= 0.0) == (fb > 0.0)
        keep = fa if fmod else where(same_sign | (fa == 0.0), fa, fb)
        out = where((fb.abs() == float("inf")) & (fa.abs() != float("inf")), keep, out)
    return [out if ta.dtype.is_float else out.to(ta.dtype)]


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
    return [x.to(lumina_dtype(ctx, dtype))]


@handler("Gelu")
def _gelu(ctx, xs, attrs):
    return [tensor_of(xs[0]).gelu(attrs.get("approximate", "none"))]


