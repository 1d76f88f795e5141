"""Elementwise ONNX operators: unary math, binary arithmetic and comparisons (NumPy-style
broadcasting), Pow, Mod, Where, Clip, Cast/CastLike, Gelu and the variadic Max/Min/Sum/Mean.

Integer results of the narrow ONNX types (int8 held in int32...) are wrapped to their range by the
importer after each node (``onnx.dtypes``); uint64, held in int64, is read unsigned where the sign
matters (division, remainder, order)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto as TP

from ...ir.dtypes import DType
from ...tensor import Tensor, maximum, minimum, where
from .. import dtypes as onnx_dtypes
from ..dtypes import cast, idiv, logical, u64_divmod, u64_key
from .registry import handler, is_static, optional, static, tensor_of

_UNARY = {
    "Relu": Tensor.relu, "Sigmoid": Tensor.sigmoid, "Tanh": Tensor.tanh, "Exp": Tensor.exp,
    "Log": Tensor.log, "Sqrt": Tensor.sqrt, "Neg": Tensor.neg, "Abs": Tensor.abs, "Erf": Tensor.erf,
    "Sin": Tensor.sin, "Cos": Tensor.cos, "Not": Tensor.__invert__,
    "Reciprocal": lambda x: 1.0 / x,
}
_NUMPY_UNARY = {"Neg": np.negative, "Abs": np.abs, "Not": np.logical_not}
_UNSIGNED = {elem for elem, t in onnx_dtypes.INTS.items() if not t.signed}


@handler(*_UNARY)
def _unary(ctx, xs, attrs):
    (x,) = xs
    if ctx.op_type == "Abs" and logical(ctx, 0, x) in _UNSIGNED:   # uint64's top bit is no sign
        return [x]
    if is_static(x) and ctx.op_type in _NUMPY_UNARY and x.dtype.kind in "iub":
        return [_NUMPY_UNARY[ctx.op_type](x)]
    return [_UNARY[ctx.op_type](tensor_of(x))]


def _int_div(a, b):
    """C division of known integers, truncating toward zero (x / 0 is 0, as lumina's ``div``)."""
    safe = np.where(b == 0, 1, b)
    q = np.abs(a) // np.abs(safe) * np.sign(a) * np.sign(safe)
    return np.where(b == 0, 0, q).astype(np.result_type(a, b))


_BINARY = {
    "Add": (lambda a, b: a + b, np.add), "Sub": (lambda a, b: a - b, np.subtract),
    "Mul": (lambda a, b: a * b, np.multiply), "Div": (lambda a, b: a / b, _int_div),
    "Pow": (None, None),
    "Equal": (lambda a, b: a == b, np.equal), "Less": (lambda a, b: a < b, np.less),
    "Greater": (lambda a, b: a > b, np.greater), "LessOrEqual": (lambda a, b: a <= b, np.less_equal),
    "GreaterOrEqual": (lambda a, b: a >= b, np.greater_equal),
    "And": (lambda a, b: a & b, np.logical_and), "Or": (lambda a, b: a | b, np.logical_or),
    "Xor": (lambda a, b: a != b, np.logical_xor),
}
_ORDER = {"Less", "Greater", "LessOrEqual", "GreaterOrEqual"}


@handler(*_BINARY)
def _binary(ctx, xs, attrs):
    a, b = xs
    if ctx.op_type == "Pow":
        return [_pow(ctx, a, b)]
    lumina_fn, numpy_fn = _BINARY[ctx.op_type]
    u64 = TP.UINT64 in ctx.in_types
    # known integers (object arrays: sizes, some symbolic, from a Shape) compute while tracing
    if is_static(a) and is_static(b) and a.dtype.kind in "iubO" and b.dtype.kind in "iubO" and not u64:
        with np.errstate(all="ignore"):
            return [np.asarray(numpy_fn(a, b))]
    ta, tb = tensor_of(a), tensor_of(b)
    if ctx.op_type in ("Add", "Sub", "Mul", "Div") and ta.dtype is not tb.dtype:
        raise ctx.error(f"inputs of dtypes {ta.dtype} and {tb.dtype}: ONNX requires one dtype")
    if ctx.op_type == "Div" and not ta.dtype.is_float:   # C division, truncating toward zero
        return [u64_divmod(ta, tb)[0] if u64 else idiv(ta, tb)]
    if u64 and ctx.op_type in _ORDER:   # unsigned order: the top bit flipped
        ta, tb = u64_key(ta), u64_key(tb)
    return [lumina_fn(ta, tb)]


def _pow(ctx, a, b):
    """``a ** b``; the exponent may have another type than the base (ONNX's T1). An integer base
    computes in float64 and truncates back, as ONNX Runtime's kernel (``std::pow``) does."""
    base, exp_type = logical(ctx, 0, a), logical(ctx, 1, b)
    ta = tensor_of(a)
    if ta.dtype.is_float:
        if is_static(b) and b.size == 1 and exp_type != TP.UINT64:   # x ** 2 stays a multiply
            return ta ** float(b.reshape(()))
        return ta ** cast(b, exp_type, onnx_dtypes.elem_of(ta))
    return cast(cast(ta, base, TP.DOUBLE) ** cast(b, exp_type, TP.DOUBLE), TP.DOUBLE, base)


def _trunc(q: Tensor) -> Tensor:
    """Round toward zero: through an int64 cast where ``q`` may have a fraction; a float of
    ``2**(mantissa bits)`` or more (and inf, NaN) is its own integer part."""
    big = float(2 ** (np.finfo(q.dtype.numpy).nmant if q.dtype is not DType.bfloat16 else 7))
    return where(q.abs() < big, q.to(DType.int64).to(q.dtype), q)


@handler("Mod")
def _mod(ctx, xs, attrs):
    a, b = xs
    fmod = attrs.get("fmod", 0)
    u64 = TP.UINT64 in ctx.in_types
    if is_static(a) and is_static(b) and not u64:
        with np.errstate(all="ignore"):
            return [np.fmod(a, b) if fmod else np.mod(a, b)]
    ta, tb = tensor_of(a), tensor_of(b)
    if ta.dtype is not tb.dtype:
        raise ctx.error(f"inputs of dtypes {ta.dtype} and {tb.dtype}: ONNX requires one dtype")
    if not ta.dtype.is_float:
        return [u64_divmod(ta, tb)[1] if u64 else _int_mod(ta, tb, fmod)]
    # a - q*b with q = trunc(a/b) (fmod: the sign of a, C's fmod) or floor(a/b) (the sign of b)
    q = ta / tb
    t = _trunc(q)
    q = t if fmod else t - (q < t).to(q.dtype)
    out = ta - q * tb
    # a finite a over an infinite b: a itself (or b, across signs, for floor)
    same_sign = (ta >= 0.0) == (tb > 0.0)
    keep = ta if fmod else where(same_sign | (ta == 0.0), ta, tb)
    return [where((tb.abs() == float("inf")) & (ta.abs() != float("inf")), keep, out)]


def _int_mod(a: Tensor, b: Tensor, fmod: int) -> Tensor:
    """Integer remainder, exact: ``a - trunc(a/b)*b`` (fmod: the sign of ``a``), moved by ``b`` where
    it has the other sign than ``b`` (the floor remainder, NumPy's ``%``). A zero divisor gives 0, as
    NumPy."""
    r = a - idiv(a, b) * b
    if not fmod:
        r = where((r != 0) & ((r < 0) != (b < 0)), r + b, r)
    return where(b == 0, 0, r)


@handler("Max", "Min", "Sum", "Mean")
def _variadic(ctx, xs, attrs):
    if TP.UINT64 in ctx.in_types and ctx.op_type in ("Max", "Min"):   # unsigned order
        wins = (lambda a, b: u64_key(b) > u64_key(a)) if ctx.op_type == "Max" else \
            (lambda a, b: u64_key(b) < u64_key(a))
        fn = lambda a, b: where(wins(a, b), b, a)
    else:
        fn = {"Max": maximum, "Min": minimum, "Sum": lambda a, b: a + b,
              "Mean": lambda a, b: a + b}[ctx.op_type]
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
    """``min(max(x, lo), hi)`` as ONNX Runtime computes it (``std::min(std::max(x, lo), hi)``): a
    NaN in ``x`` stays NaN, a NaN bound does not bound (every comparison with it is false), and
    ``hi`` wins where ``lo > hi``. An absent bound does not bound. Bounds have the input's type, so
    integers stay integers."""
    x = tensor_of(xs[0])
    if ctx.opset < 11:
        lo, hi = attrs.get("min"), attrs.get("max")
    else:
        lo, hi = (_bound(ctx, optional(xs, i), x, what) for i, what in ((1, "min"), (2, "max")))
    y = x
    if lo is not None:
        y = where(y < lo, lo, y).to(x.dtype)
    if hi is not None:
        y = where(y > hi, hi, y).to(x.dtype)
    return [y]


def _bound(ctx, v, x: Tensor, what: str):
    if v is None:
        return None
    if not is_static(v):
        return tensor_of(v).reshape(())
    if v.size != 1:
        raise ctx.error(f"{what} must be a scalar, got shape {list(v.shape)}")
    return float(v.reshape(())) if x.dtype.is_float else int(v.reshape(()))


@handler("Identity", "Dropout")
def _identity(ctx, xs, attrs):
    """Identity, and Dropout in inference (the output is the input and the mask all ones, as ONNX
    Runtime runs it). Dropout in training mode (``training_mode`` true, or ``is_test=0`` before
    opset 7) draws a random mask, which lumina does not import: refused rather than ignored."""
    out = [xs[0]]
    if ctx.op_type != "Dropout":
        return out
    training = optional(xs, 2)
    ratio = optional(xs, 1)
    if training is not None and bool(static(ctx, training, "training_mode").reshape(())):
        if ratio is None or float(static(ctx, ratio, "ratio").reshape(())) != 0.0:
            raise ctx.error("training_mode=True (random dropout) is not supported; lumina imports Dropout "
                            "for inference")
    return out + [np.ones(xs[0].shape, bool)]


@handler("Cast", "CastLike")
def _cast(ctx, xs, attrs):
    """Cast to any ONNX numeric type: lumina's own, or one it emulates on a wider type
    (``onnx.dtypes``: integers of 2 to 64 bits; float8/float6/float4 rounded to nearest even, with
    ``saturate``; float8e8m0 with ``round_mode``)."""
    x = xs[0]
    dst = logical(ctx, 1, xs[1]) if ctx.op_type == "CastLike" else attrs["to"]
    src = logical(ctx, 0, x)
    for elem, what in ((src, "input"), (dst, "target")):
        if onnx_dtypes.compute_dtype(elem) is None:
            raise ctx.error(f"{what} type {onnx_dtypes.type_name(elem)} is not supported (lumina casts "
                            "between bool, integers of 2 to 64 bits and floats of 4 to 64 bits)")
    round_mode = attrs.get("round_mode", "up")
    if round_mode not in ("up", "down", "nearest"):
        raise ctx.error(f"round_mode {round_mode!r} is not one of 'up', 'down', 'nearest'")
    return [cast(x, src, dst, bool(attrs.get("saturate", 1)), round_mode)]


@handler("Gelu")
def _gelu(ctx, xs, attrs):
    return [tensor_of(xs[0]).gelu(attrs.get("approximate", "none"))]
