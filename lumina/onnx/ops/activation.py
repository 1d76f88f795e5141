"""Elementwise math and activation ONNX operators that lumina has no primitive for: inverse and
hyperbolic trigonometry, Floor/Ceil/Round, Sign, IsInf/IsNaN, the ReLU family (Elu, Selu, Celu,
LeakyRelu, PRelu, ThresholdedRelu, Shrink), the hard and smooth gates (HardSigmoid, HardSwish,
Softplus, Softsign, Mish, Swish), and the window functions (Hann, Hamming, Blackman) of a size
known while tracing, which are constants.

Where PyTorch has the op (rounding and sign in ``lumina.tensor.rounding``, the activations in
``lumina.nn.functional``), the handler calls it, translating ONNX's parameters; the rest are written
here with the primitives lumina has (exp, log, sqrt, sin, cos, tanh, casts, comparisons, where).
Formulas follow the ONNX operator specification; where the textbook form loses precision (``log(1 +
u)`` for small ``u``, ``exp(x) - 1`` near 0, ``sinh`` near 0) a stable rewrite is used, noted at each.
16-bit floats compute in float32 and round once.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.dtypes import DType
from ...nn import functional as F
from ...nn.functional.activation import log1p
from ...tensor import Tensor, ceil, floor, sign, where, zeros_like
from ...tensor import round as round_
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
              log1p(a + a * a / (1.0 + (1.0 + a * a).sqrt())))
    return where(x < 0.0, -y, y)


def _acosh(x: Tensor, attrs=None) -> Tensor:
    """``log1p((x - 1) + sqrt((x - 1)(x + 1)))``; ``log(x) + log 2`` where ``x^2`` would overflow;
    NaN below 1."""
    d = x - 1.0
    y = where(x > 2.0 ** 28, x.log() + math.log(2), log1p(d + (d * (x + 1.0)).sqrt()))
    return where(x < 1.0, math.nan, y)   # (x - 1)(x + 1) > 0 again below -1


def _atanh(x: Tensor, attrs=None) -> Tensor:
    """``sign(x) log1p(2a / (1 - a)) / 2``, ``a = |x|`` (odd symmetry keeps ``1 + u`` away from 0)."""
    a = x.abs()
    y = 0.5 * log1p(2.0 * a / (1.0 - a))
    return where(x < 0.0, -y, y)


def _sinh(x: Tensor, attrs=None) -> Tensor:
    """``(e^x - e^-x) / 2``; near 0, ``2t / (1 - t^2)`` with ``t = tanh(x/2)`` (no cancellation)."""
    t = (x * 0.5).tanh()
    return where(x.abs() < 1.0, 2.0 * t / (1.0 - t * t), 0.5 * (x.exp() - (-x).exp()))


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


def _swish(x: Tensor, alpha: float) -> Tensor:
    return F.silu(x) if alpha == 1.0 else x * (alpha * x).sigmoid()


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
    "Floor": lambda x, a: floor(x),
    "Ceil": lambda x, a: ceil(x),
    "Round": lambda x, a: round_(x),             # halves to even, as torch's
    "IsNaN": lambda x, a: x != x,
    # torch's elu is x above 0 and alpha (exp(x) - 1) at 0 too: the same values as ONNX's x >= 0
    "Elu": lambda x, a: F.elu(x, a.get("alpha", 1.0)),
    "Selu": lambda x, a: a.get("gamma", _SELU_GAMMA) * F.elu(x, a.get("alpha", _SELU_ALPHA)),
    "Celu": lambda x, a: F.celu(x, a.get("alpha", 1.0)),
    "LeakyRelu": lambda x, a: F.leaky_relu(x, a.get("alpha", 0.01)),
    # ONNX's x > alpha ? x : 0 sends NaN to 0, torch's threshold (x <= alpha ? 0 : x) keeps it
    "ThresholdedRelu": lambda x, a: where(x != x, 0.0, F.threshold(x, a.get("alpha", 1.0), 0.0)),
    # ONNX's general alpha and beta (torch's hardsigmoid is alpha = 1/6, beta = 1/2 only)
    "HardSigmoid": lambda x, a: (a.get("alpha", 0.2) * x + a.get("beta", 0.5)).clamp(0.0, 1.0),
    "HardSwish": lambda x, a: F.hardswish(x),
    "Softplus": lambda x, a: F.softplus(x),
    "Softsign": lambda x, a: F.softsign(x),
    "Mish": lambda x, a: F.mish(x),
    "Swish": lambda x, a: _swish(x, a.get("alpha", 1.0)),
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
    y = sign(x)
    return [where(x != x, x, y) if x.dtype.is_float else y]   # ONNX keeps NaN (torch's sign gives 0)


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
