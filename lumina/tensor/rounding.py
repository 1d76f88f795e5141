"""Rounding to integers and the sign: ``floor``, ``ceil``, ``trunc``, ``round`` (half to even, with
``decimals``) and ``sign``, as PyTorch 2.13's.

The IR has no rounding primitive. A float rounds toward zero through a cast to int64 and back; from
``2**mantissa bits`` on every float is an integer already, and so are inf and NaN, which pass
through. floor, ceil and round correct the truncation by one where it went the wrong way. A zero
result takes the input's sign (``floor(-0.0)``, ``ceil(-0.5)`` and ``round(-0.4)`` are -0.0, as
torch's).

Gradients: torch's are zero everywhere (the functions are piecewise constant), and the result still
requires grad when the input does; ``_constant_of`` gives lumina's result that shape (a value
autodiff treats as a constant, see ``tracing.STOP_GRAD``).

Integer inputs are returned unchanged (``sign``: -1, 0 or 1 of their dtype); bool inputs raise
LuminaTypeError as in torch, except ``sign``, which returns them.
"""
from __future__ import annotations

import numpy as np

from ..errors import LuminaTypeError
from ..ir.dtypes import DType
from ..ir.graph import emit
from ..ir.ops import Op
from ..tracing import STOP_GRAD
from .core import Tensor, no_grad
from .creation import zeros_like
from .elementwise import where


def _constant_of(value: Tensor, x: Tensor) -> Tensor:
    """``value`` (computed from ``x`` without history) as a result of ``x`` whose gradient is zero:
    it requires grad when ``x`` does, as torch's rounding results."""
    if not x.requires_grad:
        return value
    v = emit(Op.RESHAPE, (value._touch(),), shape=value.shape)
    STOP_GRAD.add(v)
    return Tensor._result(v, x)


def _integer_limit(x: Tensor) -> float:
    """The magnitude from which every float of ``x``'s dtype is an integer."""
    return float(2 ** (7 if x.dtype is DType.bfloat16 else np.finfo(x.dtype.numpy).nmant))


def _trunc(x: Tensor) -> Tensor:
    return where(x.abs() < _integer_limit(x), x.to(DType.int64).to(x.dtype), x)


def _signed_zero(r: Tensor, x: Tensor) -> Tensor:
    """``r`` with a zero taking ``x``'s sign (``x * 0.0`` is a zero of ``x``'s sign)."""
    return where(r == 0.0, x * 0.0, r)


def _rounded(x: Tensor, op: str, rule) -> Tensor:
    if x.dtype is DType.bool:
        raise LuminaTypeError(f"{op}: bool inputs are not supported (as torch), got {x._value.type}")
    if not x.dtype.is_float:
        return x.clone()
    with no_grad():
        d = x.detach()
        if d.dtype.is_half:   # in float32, exact for every 16-bit value, rounded back exactly
            out = rule(d.to(DType.float32)).to(d.dtype)
        else:
            out = rule(d)
    return _constant_of(out, x)


def _floor(x: Tensor) -> Tensor:
    t = _trunc(x)
    return _signed_zero(where(x < t, t - 1.0, t), x)


def _ceil(x: Tensor) -> Tensor:
    t = _trunc(x)
    return _signed_zero(where(x > t, t + 1.0, t), x)


def _round_half_even(x: Tensor) -> Tensor:
    f = where(x < _trunc(x), _trunc(x) - 1.0, _trunc(x))      # floor, sign of zero aside
    frac = x - f                                               # exact below the integer limit
    f_even = _trunc(f * 0.5) * 2.0 == f
    up = (frac > 0.5) | ((frac == 0.5) & ~f_even)
    return _signed_zero(where(x.abs() < _integer_limit(x), where(up, f + 1.0, f), x), x)


def floor(input: Tensor) -> Tensor:
    """``torch.floor``: the largest integer not above each element (same shape and dtype); see the
    module docstring for integers, bool, signed zeros and the gradient."""
    return _rounded(input, "floor", _floor)


def ceil(input: Tensor) -> Tensor:
    """``torch.ceil``: the smallest integer not below each element; see ``floor``."""
    return _rounded(input, "ceil", _ceil)


def trunc(input: Tensor) -> Tensor:
    """``torch.trunc``: each element rounded toward zero; see ``floor``."""
    return _rounded(input, "trunc", lambda x: _signed_zero(_trunc(x), x))


def round(input: Tensor, *, decimals: int | None = None) -> Tensor:  # noqa: A001 (torch's name)
    """``torch.round``: each element rounded to the nearest integer, halves to even (IEEE's
    ``nearbyint``: 2.5 -> 2, 3.5 -> 4), or to ``decimals`` decimal places: ``round(x * 10^d) /
    10^d`` (``round(x / 10^-d) * 10^-d`` for negative ``d``), as torch computes it. See ``floor``.
    ``decimals=None`` means not given: torch's two overloads, of which only the one without
    ``decimals`` takes integers (with it, even 0, LuminaTypeError, as torch)."""
    x = input
    if decimals is not None and not x.dtype.is_float:
        raise LuminaTypeError(f"round: decimals={decimals} needs a float input (as torch), got {x._value.type}")
    if not decimals:
        return _rounded(x, "round", _round_half_even)
    scale = 10.0 ** abs(decimals)
    if decimals > 0:
        return _rounded(x, "round", lambda v: _round_half_even(v * scale) / scale)
    return _rounded(x, "round", lambda v: _round_half_even(v / scale) * scale)


def sign(input: Tensor) -> Tensor:
    """``torch.sign``: -1, 0 or 1 by each element's sign, in its dtype (bool returns itself; 0 for
    both zeros and, as torch's CPU kernel, for NaN). The gradient is zero."""
    x = input
    if x.dtype is DType.bool:
        return x.clone()
    with no_grad():
        d = x.detach()
        zero = zeros_like(d)
        out = where(d > zero, 1, where(d < zero, -1, zero))
    return _constant_of(out, x)


class RoundingMethods:
    """``Tensor``'s rounding methods (the package copies them onto ``Tensor``)."""

    def floor(self) -> Tensor:
        """``torch.Tensor.floor``; see ``floor``."""
        return floor(self)

    def ceil(self) -> Tensor:
        """``torch.Tensor.ceil``; see ``ceil``."""
        return ceil(self)

    def trunc(self) -> Tensor:
        """``torch.Tensor.trunc``; see ``trunc``."""
        return trunc(self)

    def round(self, *, decimals: int | None = None) -> Tensor:
        """``torch.Tensor.round``; see ``round``."""
        return round(self, decimals=decimals)

    def sign(self) -> Tensor:
        """``torch.Tensor.sign``; see ``sign``."""
        return sign(self)
