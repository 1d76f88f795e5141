"""Unary math beyond the IR's primitives, as PyTorch 2.13's pointwise ops
(https://pytorch.org/docs/stable/torch.html#pointwise-ops): the hyperbolic functions ``sinh`` /
``cosh`` and their inverses ``asinh`` / ``acosh`` / ``atanh``, ``log2`` / ``log10`` / ``exp2``,
``reciprocal``, ``deg2rad`` / ``rad2deg``, ``sgn`` / ``signbit``, ``sinc`` and ``logit``, with
their in-place forms (``sinh_``, ...),
each a decomposition into lumina's primitives (exp, log, sqrt, sin, erf, where, ...).

Accuracy. Where the textbook formula cancels (``sinh`` and the inverse hyperbolics near 0,
``acosh`` near 1) the value comes from ``expm1`` / ``log1p`` (``lumina.tensor.pointwise``), and
where it overflows early (``sinh`` / ``cosh`` past ``log(max)``, ``asinh`` / ``acosh`` past
``sqrt(max)``) from a rescaled form; the results are within 4 ulps of torch's in float32 and
float64 (``tests/test_elementwise_more.py`` measures it). Such values are computed without history
and given torch's derivative (``_smooth``), so gradients are torch's formulas (``cosh(x)`` for
``sinh``, ``1 / sqrt(x^2 + 1)`` for ``asinh``, ...), inf and NaN where torch's are.

Dtypes: integer and bool inputs compute in float32 (torch's ``int -> float`` promotion); float16 and
bfloat16 compute in float32 and round once. ``signbit`` returns bool; ``sgn`` keeps the dtype.
"""
from __future__ import annotations

import math

from ..errors import LuminaTypeError
from ..ir.dtypes import DType
from .core import Tensor
from .creation import const
from .elementwise import where
from .inplace import update
from .pointwise import expm1, isfinite, log1p
from .rounding import sign


def as_float(x: Tensor) -> Tensor:
    """``x`` itself when floating, else ``x`` in float32 (torch's integer-to-float promotion)."""
    return x if x.dtype.is_float else x.to(DType.float32)


def in_float32(fn):
    """``fn`` on a float tensor, 16-bit floats computed in float32 and rounded once (as torch's CPU
    kernels), integers and bools promoted to float32 first."""
    def run(input: Tensor) -> Tensor:     # torch's parameter name
        x = as_float(input)
        if x.dtype.is_half:
            return fn(x.to(DType.float32)).to(x.dtype)
        return fn(x)
    run.__name__, run.__qualname__, run.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return run


def tangent(x: Tensor, slope: Tensor) -> Tensor:
    """A term that is 0 in value and ``g * slope`` in gradient (``slope``, torch's derivative
    formula, is taken without history), for ``x`` and ``slope`` of one broadcast shape.

    A finite slope enters as ``-(x_d - x) * slope`` or ``(x - x_d) * slope``, whichever is -0.0
    (so adding it keeps a zero value's sign); an infinite one as ``sqrt(±(x - x_d))``, whose derivative at 0 is
    ±inf (so ``g * inf``, NaN where ``g`` is 0, as torch's); a NaN one as ``sqrt(x - x_d) *
    sqrt(x_d - x)``, 0 with a NaN derivative. A NaN ``x`` makes the term NaN (its value is NaN
    anyway); at ``x = ±inf`` the gradient is NaN where the slope is (as ``sqrt(|1 / x|)``), else 0."""
    xs = where(isfinite(x) | (x != x), x, 0.0)
    t = xs - xs.detach()                 # 0 (NaN at a NaN x) in value, 1 in gradient
    sd = slope.detach()
    finite = isfinite(sd)
    s = where(finite, sd, 0.0)
    lin = where(signbit(s), (xs - xs.detach()) * s, -((xs.detach() - xs) * s))     # -0.0 either way
    steep = (sd == math.inf) | (sd == -math.inf)
    root = where(steep, where(sd < 0.0, 0.0 - t, t), 1.0).sqrt()     # 0 - t: +0, so the slope is +-inf
    nan = sd != sd
    undefined = where(nan, t, 1.0).sqrt() * where(nan, 0.0 - t, 1.0).sqrt()
    # an infinite x with a NaN slope (torch's inf / inf): sqrt(|1 / x|), 0 with a NaN derivative
    at_inf = ((x == math.inf) | (x == -math.inf)) & nan
    far = (1.0 / where(at_inf, x, 1.0)).abs().sqrt()
    return where(at_inf, far, where(finite, lin, where(steep, root, undefined)))


def smooth(x: Tensor, value: Tensor, slope: Tensor, at_inf=None) -> Tensor:
    """``value`` (accurate, computed without history) whose gradient for ``x`` is ``g * slope``
    (see ``tangent``). At ``x = ±inf`` the gradient is 0, or that of ``at_inf(x)``, a
    differentiable formula with the same value there (called with the infinite elements only,
    others 0, so no ``0 * inf`` reaches the gradient)."""
    out = value.detach() + tangent(x, slope)
    if at_inf is None:
        return out
    inf = (x == math.inf) | (x == -math.inf)
    return where(inf, at_inf(where(inf, x, 0.0)), out)


def signbit(input: Tensor) -> Tensor:
    """``torch.signbit``: bool, True where the sign bit is set: negative numbers, -0.0 and -inf
    (False for integers >= 0 and bools). A NaN counts as positive: lumina has no bit view of
    floats, and every NaN lumina makes (and ``float('nan')``) has a clear sign bit."""
    x = input
    if x.dtype is DType.bool:
        return x & False
    if not x.dtype.is_float:
        return x < 0
    return (x < 0) | ((x == 0) & (1.0 / where(x == 0, x, 1.0) < 0))


def sgn(input: Tensor) -> Tensor:
    """``torch.sgn``: ``torch.sign`` for real tensors (-1, 0 or 1 in the input's dtype; 0 for NaN
    and both zeros, as torch's CPU kernel; a bool tensor is returned as is); the gradient is zero."""
    return sign(input)


@in_float32
def sinh(x: Tensor) -> Tensor:
    """``torch.sinh``: ``(e^x - e^-x) / 2``; near 0 from ``expm1`` (no cancellation), beyond
    ``|x| >= 1`` as ``h (h / 2) - 1 / (2 h^2)`` with ``h = e^(|x|/2)``, which overflows only where
    sinh does (as torch's scalar kernel; its vectorised float32 kernel overflows from 88.72, where
    ``e^x`` does). Same shape; float dtype. Gradient ``g * cosh(x)``."""
    d = x.detach()
    a = d.abs()
    small = a < 1.0
    s = where(small, d, 0.0)
    near = (expm1(s) - expm1(-s)) * 0.5
    h = (where(small, 1.0, a) * 0.5).exp()
    far = h * (h * 0.5) - 0.5 / (h * h)
    value = where(small, near, where(signbit(d), -far, far))
    value = where(d != d, d, value)
    return smooth(x, value, _cosh_value(d), lambda u: (u.exp() - (-u).exp()) * 0.5)


def _cosh_value(a: Tensor) -> Tensor:
    h = (a.abs() * 0.5).exp()
    return h * (h * 0.5) + 0.5 / (h * h)


@in_float32
def cosh(x: Tensor) -> Tensor:
    """``torch.cosh``: ``(e^x + e^-x) / 2`` as ``h (h / 2) + 1 / (2 h^2)`` with ``h = e^(|x|/2)``
    (finite up to cosh's own overflow; see ``sinh``). Same shape; float dtype. Gradient
    ``g * sinh(x)``."""
    d = x.detach()
    return smooth(x, _cosh_value(d), sinh(d), lambda u: (u.exp() + (-u).exp()) * 0.5)


_BIG = 2.0 ** 28     # past it, sqrt(x^2 + 1) is |x| in float64: asinh(x) = log(2|x|)


@in_float32
def asinh(x: Tensor) -> Tensor:
    """``torch.asinh``: ``log(x + sqrt(x^2 + 1))``, odd, as ``log1p(a + a^2 / (1 + sqrt(1 + a^2)))``
    for ``a = |x|`` (accurate near 0) and ``log(a) + log(2)`` past 2^28 (no overflow of ``a^2``).
    ±0, ±inf and NaN map to themselves. Gradient ``g / sqrt(x^2 + 1)`` (0 at ±inf)."""
    d = x.detach()
    a = d.abs()
    big = a > _BIG
    m = where(big, 1.0, a)
    r = where(big, a.log() + math.log(2.0), log1p(m + m * m / (1.0 + (1.0 + m * m).sqrt())))
    value = where(d != d, d, where(signbit(d), -r, r))
    slope = 1.0 / (d * d + 1.0).sqrt()     # torch's formula: 0 once x^2 overflows
    return smooth(x, value, slope)


@in_float32
def acosh(x: Tensor) -> Tensor:
    """``torch.acosh``: ``log(x + sqrt(x^2 - 1))`` for ``x >= 1`` (NaN below, 0 at 1, inf at inf),
    as ``log1p(t + sqrt(2t + t^2))`` with ``t = x - 1`` (exact near 1) and ``log(x) + log(2)`` past
    2^28. Gradient ``g / sqrt(x^2 - 1)`` (torch's formula): inf at 1 and NaN below."""
    d = x.detach()
    big = d > _BIG
    t = where(big | (d < 1.0), 0.0, d - 1.0)
    r = where(big, d.log() + math.log(2.0), log1p(t + (2.0 * t + t * t).sqrt()))
    value = where(d >= 1.0, r, math.nan)
    value = where(d != d, d, value)
    slope = 1.0 / (d * d - 1.0).sqrt()     # torch's formula: inf at 1, NaN below, 0 once x^2 overflows
    return smooth(x, value, slope)


@in_float32
def atanh(x: Tensor) -> Tensor:
    """``torch.atanh``: ``log((1 + x) / (1 - x)) / 2`` on [-1, 1] (±inf at ±1, NaN beyond), odd,
    as ``log1p(2a / (1 - a)) / 2`` for ``a = |x|`` (accurate near 0). Gradient ``g / (1 - x^2)``
    (inf at ±1, negative beyond, as torch's)."""
    d = x.detach()
    a = d.abs()
    inside = a < 1.0
    m = where(inside, a, 0.0)
    r = where(inside, log1p(2.0 * m / (1.0 - m)) * 0.5, where(a == 1.0, const(math.inf, d.dtype), math.nan))
    value = where(d != d, d, where(signbit(d), -r, r))
    slope = 1.0 / (1.0 - d * d)
    return smooth(x, value, slope)


@in_float32
def log2(x: Tensor) -> Tensor:
    """``torch.log2``: ``log(x) / log(2)`` (-inf at ±0, NaN below 0). Gradient ``g / (x log 2)``."""
    return x.log() * (1.0 / math.log(2.0))


@in_float32
def log10(x: Tensor) -> Tensor:
    """``torch.log10``: ``log(x) / log(10)``. Gradient ``g / (x log 10)``."""
    return x.log() * (1.0 / math.log(10.0))


@in_float32
def exp2(x: Tensor) -> Tensor:
    """``torch.exp2``: ``2^x`` (``pow(2, x)``, exact at integers). Gradient ``g * 2^x * log 2``."""
    return 2.0 ** x


@in_float32
def reciprocal(x: Tensor) -> Tensor:
    """``torch.reciprocal``: ``1 / x`` (±inf at ±0). Gradient ``-g / x^2``."""
    return 1.0 / x


@in_float32
def deg2rad(x: Tensor) -> Tensor:
    """``torch.deg2rad``: ``x * pi / 180``; integers and bools give float32 (their in-place form
    raises, as torch's)."""
    return x * (math.pi / 180.0)


@in_float32
def rad2deg(x: Tensor) -> Tensor:
    """``torch.rad2deg``: ``x * 180 / pi``; see ``deg2rad``."""
    return x * (180.0 / math.pi)


@in_float32
def sinc(x: Tensor) -> Tensor:
    """``torch.sinc``: ``sin(pi x) / (pi x)``, 1 at 0, NaN at ±inf. Gradient torch's formula
    ``g (pi x cos(pi x) - sin(pi x)) / (pi x^2)``, 0 where ``pi x^2`` underflows to 0."""
    d = x.detach()
    zero = d == 0.0
    px = where(zero, 1.0, d) * math.pi
    value = where(zero, 1.0, px.sin() / px)
    sq = d * d * math.pi      # torch's sinc_backward: 0 where x * x * pi is 0
    slope = where(sq == 0.0, 0.0, (px * px.cos() - px.sin()) / where(sq == 0.0, 1.0, sq))
    return smooth(x, value, slope, lambda u: u * math.nan)


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``torch.logit``: ``log(p / (1 - p))``, with ``p`` clamped to ``[eps, 1 - eps]`` when ``eps``
    is given; ±inf at 1 and 0, NaN outside [0, 1] without eps. Integers and bools compute in
    float32. The gradient is torch's ``g / (p (1 - p))``: NaN outside [0, 1] without eps, 0 outside
    ``[eps, 1 - eps]`` with it."""
    def body(p: Tensor) -> Tensor:
        d = p.detach()
        q = d if eps is None else d.clamp(eps, 1.0 - eps)
        value = where(d != d, d, (q / (1.0 - q)).log())
        slope = 1.0 / (d * (1.0 - d))
        if eps is None:
            slope = where((d < 0.0) | (d > 1.0), math.nan, slope)
        else:
            slope = where((d < eps) | (d > 1.0 - eps), 0.0, slope)
        # at ±inf: NaN with a NaN gradient without eps, as torch's; with eps the clamped value, gradient 0
        return smooth(p, value, slope, (lambda u: u * math.nan) if eps is None else None)
    return in_float32(body)(input)


class SpecialMathMethods:
    """``Tensor``'s methods of this module and their in-place forms (the package copies them)."""

    def sinh(self) -> Tensor: return sinh(self)
    def cosh(self) -> Tensor: return cosh(self)
    def asinh(self) -> Tensor: return asinh(self)
    def acosh(self) -> Tensor: return acosh(self)
    def atanh(self) -> Tensor: return atanh(self)
    def log2(self) -> Tensor: return log2(self)
    def log10(self) -> Tensor: return log10(self)
    def exp2(self) -> Tensor: return exp2(self)
    def reciprocal(self) -> Tensor: return reciprocal(self)
    def deg2rad(self) -> Tensor: return deg2rad(self)
    def rad2deg(self) -> Tensor: return rad2deg(self)
    def sinc(self) -> Tensor: return sinc(self)
    def sgn(self) -> Tensor: return sgn(self)
    def signbit(self) -> Tensor: return signbit(self)
    def logit(self, eps: float | None = None) -> Tensor: return logit(self, eps)

    def sinh_(self) -> Tensor: return update(self, "sinh_", lambda: sinh(self))
    def cosh_(self) -> Tensor: return update(self, "cosh_", lambda: cosh(self))
    def asinh_(self) -> Tensor: return update(self, "asinh_", lambda: asinh(self))
    def acosh_(self) -> Tensor: return update(self, "acosh_", lambda: acosh(self))
    def atanh_(self) -> Tensor: return update(self, "atanh_", lambda: atanh(self))
    def log2_(self) -> Tensor: return update(self, "log2_", lambda: log2(self))
    def log10_(self) -> Tensor: return update(self, "log10_", lambda: log10(self))
    def exp2_(self) -> Tensor: return update(self, "exp2_", lambda: exp2(self))
    def reciprocal_(self) -> Tensor: return update(self, "reciprocal_", lambda: reciprocal(self))
    def deg2rad_(self) -> Tensor: return update(self, "deg2rad_", lambda: deg2rad(self))
    def rad2deg_(self) -> Tensor: return update(self, "rad2deg_", lambda: rad2deg(self))
    def sinc_(self) -> Tensor: return update(self, "sinc_", lambda: sinc(self))
    def sgn_(self) -> Tensor: return update(self, "sgn_", lambda: sgn(self))
    def logit_(self, eps: float | None = None) -> Tensor: return update(self, "logit_", lambda: logit(self, eps))
