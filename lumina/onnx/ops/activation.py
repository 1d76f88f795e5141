"""Elementwise math and activation ONNX operators that lumina has no primitive for, written with the
primitives it has (exp, log, sqrt, sin, cos, tanh, casts, comparisons, where): inverse and
hyperbolic trigonometry, Floor/Ceil/Round, Sign, IsInf/IsNaN, the ReLU family (Elu, Selu, Celu,
LeakyRelu, PRelu, ThresholdedRelu, Shrink), the hard and smooth gates (HardSigmoid, HardSwish,
Softplus, Softsign, Mish, Swish), and the window functions (Hann, Hamming, Blackman) of a size
known while tracing, which are constants.

Formulas follow the ONNX operator specification; where the textbook form loses precision (``log(1 +
u)`` for small ``u``, ``exp(x) - 1`` near 0, ``sinh`` near 0) a stable rewrite is used, noted at each.
16-bit floats compute in float32 and round once.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.dtypes import DType
from ...tensor import Tensor, where, zeros_like
from .registry import check_constant, handler, ints, is_static, tensor_of


def _float_op(fn):
    """A handler from ``fn(x, attrs) -> Tensor`` on one float input; 16-bit inputs run in float32."""
    def run(ctx, xs, attrs):
        x = tensor_of(xs[0])
        if not x.dtype.is_float:
            raise ctx.error(f"input must be a float tensor, got {x.dtype.name}")
        if x.dtype.is_half:
            y = fn(x.to(DType.float32), attrs)
            return [y if y.dtype is DType.bool else y.to(x.dtype)]
        return [fn(x, attrs)]
    return run


def _register(table: dict) -> None:
    for op, fn in table.items():
        handler(op)(_float_op(fn))


# ---- building blocks ------------------------------------------------------------------------------

def _log1p(u: Tensor) -> Tensor:
    """``log(1 + u)`` accurate for small ``u`` (Goldberg's correction: ``log(w) * u / (w - 1)`` with
    ``w = 1 + u`` rounded cancels the rounding of ``w``)."""
    w = 1.0 + u
    return where(w == 1.0, u, where(w == math.inf, w, w.log() * u / (w - 1.0)))


def _expm1(x: Tensor) -> Tensor:
    """``exp(x) - 1`` accurate near 0: ``2t / (1 - t)`` with ``t = tanh(x / 2)`` for ``|x| < 1``."""
    t = (x * 0.5).tanh()
    return where(x.abs() < 1.0, 2.0 * t / (1.0 - t), x.exp() - 1.0)


def _mantissa_limit(x: Tensor) -> float:
    """The magnitude from which every float of ``x``'s dtype is an integer."""
    return float(2 ** np.finfo(x.dtype.numpy).nmant)


def _trunc(x: Tensor) -> Tensor:
    """Round toward zero through an int64 cast; values at or beyond ``2**mantissa`` (and inf, NaN)
    are already integers and pass through."""
    return where(x.abs() < _mantissa_limit(x), x.to(DType.int64).to(x.dtype), x)


def _floor(x: Tensor, attrs=None) -> Tensor:
    t = _trunc(x)
    return t - (x < t).to(x.dtype)


def _ceil(x: Tensor, attrs=None) -> Tensor:
    t = _trunc(x)
    return t + (x > t).to(x.dtype)


def _round(x: Tensor, attrs=None) -> Tensor:
    """Round half to even (ONNX Round, ``np.round``)."""
    f = _floor(x)
    frac = x - f                           # exact below 2**mantissa
    f_even = _floor(f * 0.5) * 2.0 == f
    up = (frac > 0.5) | ((frac == 0.5) & ~f_even)
    return where(x.abs() < _mantissa_limit(x), f + up.to(x.dtype), x)


def _atan(x: Tensor) -> Tensor:
    """Arctangent by Cephes' range reduction (to ``|x| <= tan(pi/8)`` with ``atan(x) = pi/4 +
    atan((x-1)/(x+1))`` and ``pi/2 - atan(1/x)``) and its minimax polynomial (``atanf``, for
    float32) or rational function (``atan``, for float64)."""
    a = x.abs()
    big = a > 2.414213562373095                      # tan(3 pi / 8)
    mid = ~big & (a > (0.66 if x.dtype is DType.float64 else 0.4142135623730950))
    r = where(big, -1.0 / a, where(mid, (a - 1.0) / (a + 1.0), a))
    base = where(big, math.pi / 2, where(mid, math.pi / 4, zeros_like(x)))
    z = r * r
    if x.dtype is DType.float64:
        p = ((((-8.750608600031904122785e-1 * z - 1.615753718733365076637e1) * z
               - 7.500855792314704667340e1) * z - 1.228866684490136173410e2) * z - 6.485021904942025371773e1)
        q = (((((z + 2.485846490142306297962e1) * z + 1.650270098316988542046e2) * z
               + 4.328810604912902668951e2) * z + 4.853903996359136964868e2) * z + 1.945506571482613964425e2)
        y = base + (r * z * p / q + r)
    else:
        poly = ((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z - 3.33329491539e-1
        y = base + (poly * z * r + r)
    return where(x < 0.0, -y, y)


def _asinh(x: Tensor, attrs=None) -> Tensor:
    """``sign(x) log1p(a + a^2 / (1 + sqrt(1 + a^2)))``, ``a = |x|``; ``log(a) + log 2`` where
    ``a^2`` would overflow."""
    a = x.abs()
    y = where(a > 2.0 ** 28, (where(a > 2.0 ** 28, a, 1.0)).log() + math.log(2),
              _log1p(a + a * a / (1.0 + (1.0 + a * a).sqrt())))
    return where(x < 0.0, -y, y)


def _acosh(x: Tensor, attrs=None) -> Tensor:
    """``log1p((x - 1) + sqrt((x - 1)(x + 1)))``; ``log(x) + log 2`` where ``x^2`` would overflow;
    NaN below 1."""
    d = x - 1.0
    y = where(x > 2.0 ** 28, x.log() + math.log(2), _log1p(d + (d * (x + 1.0)).sqrt()))
    return where(x < 1.0, math.nan, y)   # (x - 1)(x + 1) > 0 again below -1


def _atanh(x: Tensor, attrs=None) -> Tensor:
    """``sign(x) log1p(2a / (1 - a)) / 2``, ``a = |x|`` (odd symmetry keeps ``1 + u`` away from 0)."""
    a = x.abs()
    y = 0.5 * _log1p(2.0 * a / (1.0 - a))
    return where(x < 0.0, -y, y)


def _sinh(x: Tensor, attrs=None) -> Tensor:
    """``(e^x - e^-x) / 2``; near 0, ``2t / (1 - t^2)`` with ``t = tanh(x/2)`` (no cancellation)."""
    t = (x * 0.5).tanh()
    return where(x.abs() < 1.0, 2.0 * t / (1.0 - t * t), 0.5 * (x.exp() - (-x).exp()))


def _softplus(x: Tensor, attrs=None) -> Tensor:
    """``log(1 + e^x)`` as ``max(x, 0) + log1p(e^-|x|)``: no overflow, accurate for negative ``x``."""
    return where(x > 0.0, x, 0.0) + _log1p((-x.abs()).exp())


def _clamp01(x: Tensor) -> Tensor:
    return where(x < 0.0, 0.0, where(x > 1.0, 1.0, x))


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875

_register({
    "Atan": lambda x, a: _atan(x),
    "Asin": lambda x, a: _atan(x / ((1.0 - x) * (1.0 + x)).sqrt()),
    "Acos": lambda x, a: 2.0 * _atan(((1.0 - x) / (1.0 + x)).sqrt()),
    "Asinh": _asinh,
    "Acosh": _acosh,
    "Atanh": _atanh,
    "Sinh": _sinh,
    "Cosh": lambda x, a: 0.5 * (x.exp() + (-x).exp()),
    "Tan": lambda x, a: x.sin() / x.cos(),
    "Floor": _floor,
    "Ceil": _ceil,
    "Round": _round,
    "IsNaN": lambda x, a: x != x,
    "Elu": lambda x, a: where(x >= 0.0, x, a.get("alpha", 1.0) * _expm1(x)),
    "Selu": lambda x, a: a.get("gamma", _SELU_GAMMA) * where(
        x > 0.0, x, a.get("alpha", _SELU_ALPHA) * _expm1(x)),
    "Celu": lambda x, a: where(x > 0.0, x, a.get("alpha", 1.0) * _expm1(x / a.get("alpha", 1.0))),
    "LeakyRelu": lambda x, a: where(x >= 0.0, x, a.get("alpha", 0.01) * x),
    "ThresholdedRelu": lambda x, a: where(x > a.get("alpha", 1.0), x, 0.0),
    "HardSigmoid": lambda x, a: _clamp01(a.get("alpha", 0.2) * x + a.get("beta", 0.5)),
    "HardSwish": lambda x, a: x * _clamp01(x * (1 / 6) + 0.5),
    "Softplus": _softplus,
    "Softsign": lambda x, a: x / (1.0 + x.abs()),
    "Mish": lambda x, a: x * _softplus(x).tanh(),
    "Swish": lambda x, a: x * (a.get("alpha", 1.0) * x).sigmoid(),
    "Shrink": lambda x, a: where(x < -a.get("lambd", 0.5), x + a.get("bias", 0.0),
                                 where(x > a.get("lambd", 0.5), x - a.get("bias", 0.0), 0.0)),
})


# ---- ops with integer inputs or a second operand --------------------------------------------------

@handler("Sign")
def _sign(ctx, xs, attrs):
    x = xs[0]
    if is_static(x):
        return [np.sign(x)]
    if x.dtype is DType.bool:
        raise ctx.error("bool input is not supported (ONNX Sign takes numbers)")
    zero = zeros_like(x)
    y = where(x > zero, 1, where(x < zero, -1, zero))
    return [where(x != x, x, y) if x.dtype.is_float else y]   # NaN stays NaN


@handler("IsInf")
def _isinf(ctx, xs, attrs):
    x = tensor_of(xs[0])
    pos, neg = attrs.get("detect_positive", 1), attrs.get("detect_negative", 1)
    if not x.dtype.is_float or not (pos or neg):
        return [x != x]   # all False: integers are finite, NaN is not inf
    hit = x.abs() == math.inf if pos and neg else x == (math.inf if pos else -math.inf)
    return [hit]


@handler("PRelu")
def _prelu(ctx, xs, attrs):
    x, slope = tensor_of(xs[0]), tensor_of(xs[1])
    zero = 0.0 if x.dtype.is_float else 0
    return [where(x < zero, slope * x, x).to(x.dtype)]


# ---- window functions -----------------------------------------------------------------------------

def _window(ctx, xs, attrs, coefficients: tuple[float, ...]):
    """``sum_k (-1)^k a_k cos(2 pi k n / N)`` for ``n < size``, ``N = size`` (periodic) or
    ``size - 1`` (symmetric), computed in float64 and cast to ``output_datatype``."""
    from onnx.helper import tensor_dtype_to_np_dtype
    size = ints(ctx, xs[0], "size")
    if len(size) != 1:
        raise ctx.error(f"size {size} must be a scalar")
    size = check_constant(ctx, [max(size[0], 0)], np.float64, "the window")[0]
    period = size if attrs.get("periodic", 1) else size - 1
    phase = np.arange(size, dtype=np.float64) / max(period, 1)
    w = sum((-1) ** k * a * np.cos(2 * np.pi * k * phase) for k, a in enumerate(coefficients))
    return [w.astype(tensor_dtype_to_np_dtype(attrs.get("output_datatype", 1)))]


@handler("HannWindow")
def _hann(ctx, xs, attrs):
    return _window(ctx, xs, attrs, (0.5, 0.5))


@handler("HammingWindow")
def _hamming(ctx, xs, attrs):
    return _window(ctx, xs, attrs, (25 / 46, 21 / 46))


@handler("BlackmanWindow")
def _blackman(ctx, xs, attrs):
    return _window(ctx, xs, attrs, (0.42, 0.5, 0.08))
