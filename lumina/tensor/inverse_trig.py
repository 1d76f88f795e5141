"""The inverse trigonometric functions as PyTorch 2.13's (https://pytorch.org/docs/stable/torch.html
#pointwise-ops): ``atan``, ``asin``, ``acos``, ``atan2``, functions, Tensor methods and in-place methods,
decomposed into lumina's primitives.

``atan(x)``: odd; for ``|x| > 1`` it is ``pi/2 - atan(1/|x|)``; on [0, 1] two half-angle steps
``t -> t / (1 + sqrt(1 + t^2))`` bring the argument below tan(pi/16) ~ 0.199, where 13 terms of the
Taylor series ``t - t^3/3 + t^5/5 - ...`` are exact to float64's precision, and the result is 4
times that. ``asin(x) = atan(x / sqrt((1 - x)(1 + x)))`` and ``acos(x) = 2 atan(sqrt((1 - x) / (1 +
x)))`` (no cancellation near ±1). float32 and 16-bit floats compute in float64 and round once;
integers and bools give float32. Within 4 ulps of torch's in float32 and float64
(tests/test_elementwise_more.py). Gradients are torch's formulas: ``1 / (1 + x^2)``, ``±1 / sqrt(1 -
x^2)`` (±inf at ±1, NaN beyond).
"""
from __future__ import annotations

import math

from ..ir.dtypes import DType
from .core import Tensor
from .elementwise import where
from .inplace import update
from .special_math import as_float, signbit, smooth, tangent

_TERMS = 13


def _wide(fn):
    def run(input: Tensor) -> Tensor:     # torch's parameter name
        x = as_float(input)
        if x.dtype is DType.float64:
            return fn(x)
        return fn(x.to(DType.float64)).to(x.dtype)
    run.__name__, run.__qualname__, run.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return run


def _atan_unit(t: Tensor) -> Tensor:
    """``atan(t)`` for ``t`` in [0, 1]."""
    for _ in range(2):
        t = t / (1.0 + (1.0 + t * t).sqrt())
    t2 = t * t
    acc = 0.0 * t + (1.0 / (2 * _TERMS - 1)) * (-1.0 if (_TERMS - 1) % 2 else 1.0)
    for k in range(_TERMS - 2, -1, -1):
        acc = acc * t2 + (1.0 / (2 * k + 1)) * (-1.0 if k % 2 else 1.0)
    return 4.0 * (t * acc)


def _atan_value(d: Tensor) -> Tensor:
    a = d.abs()
    big = a > 1.0
    t = where(big, 1.0 / where(big, a, 1.0), a)
    r = _atan_unit(t)
    r = where(big, math.pi / 2 - r, r)
    r = where(a == math.inf, math.pi / 2, r)
    return where(d != d, d, where(signbit(d), -r, r))


@_wide
def atan(x: Tensor) -> Tensor:
    """``torch.atan``: in (-pi/2, pi/2), ±pi/2 at ±inf, signed zeros kept. Gradient
    ``g / (1 + x^2)``."""
    d = x.detach()
    return smooth(x, _atan_value(d), 1.0 / (1.0 + d * d))


@_wide
def asin(x: Tensor) -> Tensor:
    """``torch.asin``: on [-1, 1] (NaN beyond), signed zeros kept. Gradient
    ``g / sqrt(1 - x^2)`` (inf at ±1, NaN beyond)."""
    d = x.detach()
    q = ((1.0 - d) * (1.0 + d)).sqrt()
    value = _atan_value(d / q)
    value = where(d.abs() > 1.0, math.nan, value)
    return smooth(x, value, 1.0 / (1.0 - d * d).sqrt())


@_wide
def acos(x: Tensor) -> Tensor:
    """``torch.acos``: on [-1, 1] into [0, pi] (NaN beyond). Gradient ``-g / sqrt(1 - x^2)``."""
    d = x.detach()
    value = 2.0 * _atan_value(((1.0 - d) / (1.0 + d)).sqrt())
    value = where(d.abs() > 1.0, math.nan, where(d != d, d, value))
    return smooth(x, value, -1.0 / (1.0 - d * d).sqrt())


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """``torch.atan2``: the angle of ``(other, input)`` in [-pi, pi], as C's atan2: ``atan(|y| /
    |x|)`` moved to the quadrant by the signs of ``x`` and ``y`` (-0.0 counts as negative), pi/4
    or 3pi/4 for two infinities, 0 or pi for two zeros. Both operands are tensors (LuminaTypeError
    otherwise, as torch); they broadcast and promote (integers to float32); float32 and 16-bit
    floats compute in float64 and round once. Gradients torch's: ``x / (x^2 + y^2)`` for ``y``,
    ``-y / (x^2 + y^2)`` for ``x`` (0 where ``x^2 + y^2`` is 0, as torch's)."""
    from .binary_math import _common, _needs_tensor
    _needs_tensor("atan2", "other", other)
    y, x = _common("atan2", input, other)
    dt = y.dtype
    if dt is not DType.float64:
        return atan2(y.to(DType.float64), x.to(DType.float64)).to(dt)
    yd, xd = y.detach(), x.detach()
    ay, ax = yd.abs(), xd.abs()
    both_inf = (ay == math.inf) & (ax == math.inf)
    both_zero = (ay == 0.0) & (ax == 0.0)
    q = where(both_inf | both_zero, 0.0, ay / where(both_zero, 1.0, ax))
    r = where(both_inf, math.pi / 4, _atan_value(q))
    r = where(signbit(xd), math.pi - r, r)
    value = where(signbit(yd), -r, r)
    value = where((yd != yd) | (xd != xd), yd + xd, value)
    # torch's atan2_backward: 1 / (x^2 + y^2), with its infinities (at (0, 0)) set to 0
    recip = 1.0 / (xd * xd + yd * yd)
    recip = where(recip == math.inf, 0.0, recip)
    # value - (0 - T): a zero value keeps its sign whatever zero the tangent terms T are
    return value - (0.0 - (tangent(y, xd * recip) + tangent(x, -yd * recip)))


class InverseTrigMethods:
    """``Tensor``'s atan / asin / acos and their in-place forms."""

    def atan(self) -> Tensor: return atan(self)
    def asin(self) -> Tensor: return asin(self)
    def acos(self) -> Tensor: return acos(self)
    def atan_(self) -> Tensor: return update(self, "atan_", lambda: atan(self))
    def asin_(self) -> Tensor: return update(self, "asin_", lambda: asin(self))
    def acos_(self) -> Tensor: return update(self, "acos_", lambda: acos(self))
    def atan2(self, other) -> Tensor: return atan2(self, other)
    def atan2_(self, other) -> Tensor: return update(self, "atan2_", lambda: atan2(self, other), (other,))
