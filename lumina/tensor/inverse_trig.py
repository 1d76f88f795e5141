"""The inverse trigonometric functions as PyTorch 2.13's (https://pytorch.org/docs/stable/torch.html
#pointwise-ops): ``atan``, ``asin``, ``acos``, functions, Tensor methods and in-place methods,
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
from .special_math import as_float, signbit, smooth

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


class InverseTrigMethods:
    """``Tensor``'s atan / asin / acos and their in-place forms."""

    def atan(self) -> Tensor: return atan(self)
    def asin(self) -> Tensor: return asin(self)
    def acos(self) -> Tensor: return acos(self)
    def atan_(self) -> Tensor: return update(self, "atan_", lambda: atan(self))
    def asin_(self) -> Tensor: return update(self, "asin_", lambda: asin(self))
    def acos_(self) -> Tensor: return update(self, "acos_", lambda: acos(self))
