"""The gamma family and ``erfinv`` as PyTorch 2.13's (https://pytorch.org/docs/stable/special.html):
``lgamma``, ``digamma``, ``polygamma`` and ``erfinv``, functions, Tensor methods and in-place
methods, decomposed into lumina's primitives.

- ``lgamma``: Lanczos' approximation (g = 7, 9 terms; Numerical Recipes 3rd ed. §6.1, Godfrey's
  coefficients) for ``x >= 0.5`` and the reflection ``log(pi / |sin(pi x)|) - lgamma(1 - x)`` below,
  with ``sin(pi x)`` from the exact fractional part of ``x``. Its error is within 8 eps of
  ``max(1, |lgamma(x)|)`` (absolute near the roots 1 and 2, where every formula cancels).
- ``digamma`` / ``polygamma(n, x)``: the recurrence ``psi(x) = psi(x + 10) - sum 1 / (x + k)`` (and
  its derivatives) up to ``x >= 10``, then the asymptotic series in Bernoulli numbers (Abramowitz &
  Stegun 6.3.18, 6.4.11); ``digamma`` and ``polygamma(1, .)`` reflect for ``x < 0.5`` (A&S 6.3.7,
  6.4.7). ``digamma(0)`` is -inf and a negative integer NaN, as torch's. Within 8 eps of
  ``max(1, |result|)``. ``polygamma(1, .)`` is torch's ``calc_trigamma`` formula (about 1e-9
  relative, as torch's); ``n = 2`` reflects too; ``n >= 3`` is NaN at negative non-integers.
- ``erfinv``: torch's own algorithm (``calc_erfinv``: a rational approximation in the centre and in
  ``sqrt(-log((1 - |y|) / 2))`` in the tails, then two Newton steps on ``erf``), in the input's
  dtype, so it is within 4 ulps of torch's where erf is.

float32 ``lgamma`` / ``digamma`` / ``polygamma`` compute in float64 and round once (the Lanczos sum
cancels); 16-bit floats and integers as ``special_math.in_float32``. Gradients are torch's formulas:
``digamma(x)`` for lgamma, ``polygamma(n + 1, x)`` for polygamma, ``sqrt(pi) / 2 * exp(erfinv(y)^2)``
for erfinv.
"""
from __future__ import annotations

import math

from ..errors import LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from .core import Tensor
from .creation import const
from .elementwise import where
from .inplace import update
from .rounding import floor
from .special_math import as_float, smooth

_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7)

# Bernoulli numbers B2, B4, ..., B16
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)
_SHIFT = 10


def _wide(fn):
    """``fn`` computed in float64 for float32, float16 and bfloat16 inputs (integers and bools
    first promoted to float32), rounded once to the input's float dtype."""
    def run(x: Tensor, *args) -> Tensor:
        x = as_float(x)
        if x.dtype is DType.float64:
            return fn(x, *args)
        return fn(x.to(DType.float64), *args).to(x.dtype)
    return run


def _abs_sin_pi(x: Tensor) -> Tensor:
    """``|sin(pi x)|`` from the exact fractional part of ``x`` (0 at integers, also past 2^53)."""
    f = x - floor(x)
    return (math.pi * where(f > 0.5, 1.0 - f, f)).sin()


def _lanczos(z: Tensor) -> Tensor:
    """``lgamma(z)`` for ``z >= 0.5``."""
    w = z - 1.0
    a = const(_LANCZOS[0], z.dtype) + sum(c / (w + i) for i, c in enumerate(_LANCZOS[1:], start=1))
    t = w + 7.5
    return 0.5 * math.log(2 * math.pi) + (w + 0.5) * t.log() - t + a.log()


@_wide
def _lgamma_value(d: Tensor) -> Tensor:
    big = d >= 0.5
    right = _lanczos(where(big, d, 1.0))
    left_z = where(big, 0.5, 1.0 - d)
    left = (math.pi / _abs_sin_pi(where(big, 0.5, d))).log() - _lanczos(left_z)
    value = where(big, right, left)
    value = where((d == 1.0) | (d == 2.0), 0.0, value)      # the roots, exactly (torch's are)
    value = where(d == math.inf, d, where(d == -math.inf, math.inf, value))
    return where(d != d, d, value)


def lgamma(input: Tensor) -> Tensor:
    """``torch.lgamma``: ``log |Gamma(x)|`` (inf at 0, the negative integers and ±inf; NaN at NaN).
    Same shape; a float dtype (integers and bools give float32). Gradient ``g * digamma(x)``."""
    x = as_float(input)
    d = x.detach()
    return smooth(x, _lgamma_value(d), digamma(d))


def _asymptotic(y: Tensor, n: int) -> Tensor:
    """``psi^(n)(y)`` for ``y >= 10`` (A&S 6.3.18 for n = 0, 6.4.11 above)."""
    inv = 1.0 / y
    if n == 0:
        out = y.log() - 0.5 * inv
        inv2 = inv * inv
        power = inv2
        for k, b in enumerate(_BERNOULLI, start=1):
            out = out - (b / (2 * k)) * power
            power = power * inv2
        return out
    # (-1)^(n+1) [ (n-1)! / y^n + n! / (2 y^(n+1)) + sum B_2k (2k+n-1)! / ((2k)! y^(2k+n)) ]
    sign = -1.0 if n % 2 == 0 else 1.0
    yn = inv ** n
    out = math.factorial(n - 1) * yn + math.factorial(n) * 0.5 * yn * inv
    power = yn * inv * inv
    for k, b in enumerate(_BERNOULLI, start=1):
        out = out + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) * power
        power = power * inv * inv
    return sign * out


def _series(x: Tensor, n: int) -> Tensor:
    """``psi^(n)(x)`` for ``x > 0`` (any x where no ``x + k`` is 0): the recurrence up to 10, then
    the asymptotic series."""
    small = x < _SHIFT
    xs = where(small, x, 1.0)
    shifted = _asymptotic(xs + float(_SHIFT), n)
    coeff = (-1.0 if n % 2 == 0 else 1.0) * math.factorial(n)      # psi^(n)(x) = psi^(n)(x+1) + (-1)^(n+1) n! / x^(n+1)
    for k in range(_SHIFT):
        shifted = shifted + coeff / (xs + float(k)) ** (n + 1) if n else shifted - 1.0 / (xs + float(k))
    return where(small, shifted, _asymptotic(where(small, float(_SHIFT), x), n))


def _trigamma(x: Tensor) -> Tensor:
    """torch's ``calc_trigamma``, step for step: reflection below 0.5 (``sin(pi x)`` unreduced, so
    its poles are large finite values as torch's), six recurrence steps, then four terms of the
    asymptotic series (torch's trigamma is accurate to about 1e-9 relative, and this is its
    formula)."""
    left = x < 0.5
    s = (math.pi * where(left, x, 0.25)).sin()
    result = where(left, -(math.pi ** 2) / (s * s), 0.0)
    y = where(left, 1.0 - x, x)
    for _ in range(6):
        result = result + 1.0 / (y * y)
        y = y + 1.0
    ixx = 1.0 / (y * y)
    result = result + (1.0 + 1.0 / (2.0 * y) + ixx * (1.0 / 6 - ixx * (1.0 / 30 - ixx * (1.0 / 42)))) / y
    return where(left, -result, result)


def _frac(x: Tensor) -> Tensor:
    """``x - trunc(x)`` (``modf``'s fractional part, with the sign of ``x``)."""
    f = x - floor(x)
    return where((x < 0) & (f != 0), f - 1.0, f)


@_wide
def _polygamma_value(d: Tensor, n: int) -> Tensor:
    integer = floor(d) == d
    neg = d < 0
    r = _frac(where(neg, d, -0.5))
    if n == 0:
        # torch's calc_digamma: psi(x) = psi(1 - x) - pi / tan(pi r) for x < 0, r = frac(x)
        reflected = _series(1.0 - where(neg, d, -0.5), 0) - math.pi * (math.pi * r).cos() / (math.pi * r).sin()
        value = where(neg, reflected, _series(where(neg, 1.0, d), 0))
        value = where(neg & integer, math.nan, value)
        value = where(d == 0.0, where(d.detach() * 0.0 + 1.0 / where(d == 0.0, d, 1.0) < 0, math.inf,
                                      const(-math.inf, d.dtype)), value)
        value = where(d == math.inf, d, value)
    else:
        sign = -1.0 if n % 2 == 0 else 1.0
        positive = _series(where(neg, 1.0, where(d == 0, 1.0, d)), n)
        if n == 2:
            # psi2(x) = psi2(1 - x) - 2 pi^3 cot(pi x) / sin^2(pi x)
            sn, cs = (math.pi * r).sin(), (math.pi * r).cos()
            reflected = _series(1.0 - where(neg, d, -0.5), 2) - 2 * math.pi ** 3 * cs / (sn * sn * sn)
        else:
            reflected = const(math.nan, d.dtype) + 0.0 * d
        value = where(neg, reflected, positive)
        value = where((d <= 0) & integer, sign * math.inf, value)
        value = where(d == math.inf, math.nan, value)
    return where(d != d, d, value)


def digamma(input: Tensor) -> Tensor:
    """``torch.digamma``: ``psi(x) = Gamma'(x) / Gamma(x)`` (-inf at ±0, NaN at the negative
    integers and -inf, inf at inf; ``-inf`` at +0 and ``+inf`` at -0, as torch's). Gradient
    ``g * polygamma(1, x)``."""
    return polygamma(0, input)


def polygamma(n: int, input: Tensor) -> Tensor:
    """``torch.polygamma``: the ``n``-th derivative of digamma (n = 0: digamma; n = 1: trigamma on
    the whole line, by torch's own formula; n = 2 on the whole line; n >= 3 for ``x > 0`` and the
    poles, NaN at negative non-integers, where torch sums Hurwitz's zeta). Raises LuminaValueError for a
    negative ``n`` (torch: "polygamma(n, x) does not support negative n") and LuminaTypeError for a
    non-integer one. Gradient ``g * polygamma(n + 1, x)``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise LuminaTypeError(f"polygamma: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise LuminaValueError(f"polygamma: polygamma(n, x) does not support negative n, got n = {n}")
    if not isinstance(input, Tensor):
        raise LuminaTypeError(f"polygamma: input must be a Tensor, got {type(input).__name__}")
    x = as_float(input)
    d = x.detach()
    value = _trigamma_value(d) if n == 1 else _polygamma_value(d, n)
    return smooth(x, value, _trigamma_value(d) if n == 0 else _polygamma_value(d, n + 1))


def _trigamma_value(d: Tensor) -> Tensor:
    """``polygamma(1, x)`` in ``x``'s own dtype (as torch's kernel; 16-bit floats in float32)."""
    if d.dtype.is_half:
        return _trigamma_value(d.to(DType.float32)).to(d.dtype)
    value = _trigamma(where(d.abs() < math.inf, d, 1.0))
    value = where(d == math.inf, 0.0, where(d == -math.inf, math.nan, value))
    return where(d != d, d, value)


_ERFINV_A = (0.886226899, -1.645349621, 0.914624893, -0.140543331)
_ERFINV_B = (-2.118377725, 1.442710462, -0.329097515, 0.012229801)
_ERFINV_C = (-1.970840454, -1.624906493, 3.429567803, 1.641345311)
_ERFINV_D = (3.543889200, 1.637067800)


def _erfinv_value(y: Tensor) -> Tensor:
    a = y.abs()
    central = a <= 0.7
    yc = where(central, y, 0.0)
    z = yc * yc
    num = ((_ERFINV_A[3] * z + _ERFINV_A[2]) * z + _ERFINV_A[1]) * z + _ERFINV_A[0]
    dem = (((_ERFINV_B[3] * z + _ERFINV_B[2]) * z + _ERFINV_B[1]) * z + _ERFINV_B[0]) * z + 1.0
    inner = yc * num / dem
    at = where(central | (a >= 1.0), 0.5, a)
    w = (-((1.0 - at) / 2.0).log()).sqrt()
    num = ((_ERFINV_C[3] * w + _ERFINV_C[2]) * w + _ERFINV_C[1]) * w + _ERFINV_C[0]
    dem = (_ERFINV_D[1] * w + _ERFINV_D[0]) * w + 1.0
    outer = where(y < 0, -num, num) / dem
    x = where(central, inner, outer)
    for _ in range(2):      # two Newton steps, as torch's
        x = x - (x.erf() - y) / ((2.0 / math.sqrt(math.pi)) * (-x * x).exp())
    x = where(a == 1.0, where(y < 0, const(-math.inf, y.dtype), math.inf), where(a > 1.0, math.nan, x))
    return where(y != y, y, x)


def erfinv(input: Tensor) -> Tensor:
    """``torch.erfinv``: the inverse of erf on [-1, 1] (±inf at ±1, NaN beyond; ±0 keep their
    sign). Integers and bools give float32, 16-bit floats compute in float32. Gradient
    ``g * sqrt(pi) / 2 * exp(erfinv(y)^2)`` (inf at ±1)."""
    y = as_float(input)
    if y.dtype.is_half:
        return erfinv(y.to(DType.float32)).to(y.dtype)
    d = y.detach()
    value = _erfinv_value(d)
    return smooth(y, value, 0.5 * math.sqrt(math.pi) * (value * value).exp())


class GammaMethods:
    """``Tensor``'s lgamma / digamma / polygamma / erfinv and their in-place forms."""

    def lgamma(self) -> Tensor: return lgamma(self)
    def digamma(self) -> Tensor: return digamma(self)
    def polygamma(self, n: int) -> Tensor: return polygamma(n, self)
    def erfinv(self) -> Tensor: return erfinv(self)
    def lgamma_(self) -> Tensor: return update(self, "lgamma_", lambda: lgamma(self))
    def digamma_(self) -> Tensor: return update(self, "digamma_", lambda: digamma(self))
    def polygamma_(self, n: int) -> Tensor: return update(self, "polygamma_", lambda: polygamma(n, self))
    def erfinv_(self) -> Tensor: return update(self, "erfinv_", lambda: erfinv(self))
