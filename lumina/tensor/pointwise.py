"""Pointwise functions beyond the IR's primitives, as PyTorch 2.13's
(https://pytorch.org/docs/stable/torch.html#pointwise-ops): the predicates ``isnan`` / ``isinf`` /
``isfinite`` (bool results; integers and bools are always finite), ``nan_to_num``, ``rsqrt``,
``log1p``, ``expm1``, ``frac``; and the logical reductions ``all`` / ``any`` (bool results, NaN
counts as true, an empty reduction is True resp. False).

``log1p`` and ``expm1`` keep their accuracy near 0 with Goldberg's and Kahan's corrections
("What every computer scientist should know about floating-point arithmetic", thm. 4, and
Kahan's expm1): ``log(u) * x / (u - 1)`` for ``u = 1 + x``, ``(u - 1) * x / log(u)`` for ``u =
exp(x)``; their gradients are torch's formulas, ``g / (1 + x)`` and ``g * (expm1(x) + 1)``.
Integer and bool inputs compute in float32, as torch's.
"""
from __future__ import annotations

import math

import ml_dtypes

from ..errors import LuminaTypeError
from ..ir.dtypes import DType
from .core import Tensor
from .elementwise import where
from .rounding import trunc


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.is_float else x.to(DType.float32)


def isnan(input: Tensor) -> Tensor:
    """``torch.isnan``: bool, True where an element is NaN (never for integers or bools)."""
    return input != input if input.dtype.is_float else input.to(DType.bool) & False


def isinf(input: Tensor) -> Tensor:
    """``torch.isinf``: bool, True where an element is +inf or -inf."""
    return input.abs() == math.inf if input.dtype.is_float else input.to(DType.bool) & False


def isfinite(input: Tensor) -> Tensor:
    """``torch.isfinite``: bool, True where an element is neither NaN nor infinite."""
    return input.abs() < math.inf if input.dtype.is_float else input.to(DType.bool) | True


def nan_to_num(input: Tensor, nan: float | None = None, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """``torch.nan_to_num``: NaN, +inf and -inf replaced by ``nan`` (None: 0), ``posinf`` and
    ``neginf`` (None: the dtype's largest resp. lowest finite value); integers and bools unchanged. Same
    shape and dtype; the gradient is ``g`` where the input is finite, else 0 (torch's)."""
    x = input
    if not x.dtype.is_float:
        return x.clone()
    info = ml_dtypes.finfo(x.dtype.numpy)
    hi = float(info.max) if posinf is None else posinf
    lo = float(info.min) if neginf is None else neginf
    return where(x != x, 0.0 if nan is None else nan, where(x == math.inf, hi, where(x == -math.inf, lo, x)))


def rsqrt(input: Tensor) -> Tensor:
    """``torch.rsqrt``: ``1 / sqrt(x)`` (inf at 0, NaN below); integers and bools in float32."""
    return 1.0 / _float(input).sqrt()


def _with_gradient(value: Tensor, x: Tensor, slope: Tensor, approx: Tensor) -> Tensor:
    """``value`` (accurate, computed without history) with gradient ``g * slope`` (torch's
    formula) for ``x``: ``value - (x - x) * slope``, whose added zero is -0.0 and so keeps a zero
    value's sign. Where ``x`` or the textbook formula ``approx`` is not finite, ``approx`` itself (inf,
    -inf or NaN: the same value, and its derivative is torch's gradient there)."""
    finite = (approx.abs() < math.inf) & (x.abs() < math.inf)
    x_safe = where(finite, x, 0.0)
    zero = -((x_safe.detach() - x_safe) * where(finite, slope, 0.0).detach())
    return where(finite, value.detach() + zero, approx)


def log1p(input: Tensor) -> Tensor:
    """``torch.log1p``: ``log(1 + x)``, accurate near 0 (see the module docstring); -inf at -1,
    NaN below. The gradient is ``g / (1 + x)`` (torch's). 16-bit floats compute in float32 and
    round once."""
    x = _float(input)
    if x.dtype.is_half:
        return log1p(x.to(DType.float32)).to(x.dtype)
    d = x.detach()
    u = 1.0 + d
    value = where(u == 1.0, d, where(d == math.inf, d, u.log() * (d / (u - 1.0))))
    return _with_gradient(value, x, 1.0 / (1.0 + d), (1.0 + x).log())


def expm1(input: Tensor) -> Tensor:
    """``torch.expm1``: ``exp(x) - 1``, accurate near 0 (see the module docstring); -1 at -inf.
    The gradient is ``g * (expm1(x) + 1)`` (torch's)."""
    x = _float(input)
    if x.dtype.is_half:
        return expm1(x.to(DType.float32)).to(x.dtype)
    d = x.detach()
    u = d.exp()
    body = where(u == math.inf, u, (u - 1.0) * (d / u.log()))
    value = where(u == 1.0, d, where(u - 1.0 == -1.0, u - 1.0, body))
    return _with_gradient(value, x, value + 1.0, x.exp() - 1.0)


def frac(input: Tensor) -> Tensor:
    """``torch.frac``: ``x - trunc(x)``, with the sign of ``x`` (NaN for infinities). Same dtype;
    the gradient is ``g``. Raises LuminaTypeError for integers and bools (as torch: not
    implemented)."""
    x = input
    if not x.dtype.is_float:
        raise LuminaTypeError(f"frac: not implemented for {x.dtype} (as torch), got {x._value.type}")
    return x - trunc(x)


def _truth(op: str, x: Tensor, dim, keepdim: bool, every: bool) -> Tensor:
    if isinstance(keepdim, Tensor) or not isinstance(keepdim, (bool, int)):
        raise LuminaTypeError(f"{op}: keepdim must be a bool, got {type(keepdim).__name__}")
    if dim is None and keepdim:
        dim = tuple(range(x.ndim))
    misses = (x == 0) if every else (x != 0)          # NaN != 0: true
    count = misses.to(DType.int64).sum(dim, keepdim)
    return count == 0 if every else count > 0


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 (torch's name)
    """``torch.all``: bool, whether every element over ``dim`` (an int, a tuple of ints, or None:
    all) is nonzero; True for an empty reduction. Raises LuminaIndexError for a dim out of range."""
    return _truth("all", input, dim, keepdim, every=True)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 (torch's name)
    """``torch.any``: bool, whether some element over ``dim`` is nonzero (NaN is); False for an
    empty reduction. See ``all``."""
    return _truth("any", input, dim, keepdim, every=False)


class PointwiseMethods:
    """``Tensor``'s predicates, ``nan_to_num``, ``rsqrt`` / ``log1p`` / ``expm1`` / ``frac`` and
    ``all`` / ``any`` (the package copies these onto ``Tensor``)."""

    def isnan(self) -> Tensor:
        """``torch.Tensor.isnan``; see ``isnan``."""
        return isnan(self)

    def isinf(self) -> Tensor:
        """``torch.Tensor.isinf``; see ``isinf``."""
        return isinf(self)

    def isfinite(self) -> Tensor:
        """``torch.Tensor.isfinite``; see ``isfinite``."""
        return isfinite(self)

    def nan_to_num(self, nan: float | None = None, posinf: float | None = None, neginf: float | None = None) -> Tensor:
        """``torch.Tensor.nan_to_num``; see ``nan_to_num``."""
        return nan_to_num(self, nan, posinf, neginf)

    def rsqrt(self) -> Tensor:
        """``torch.Tensor.rsqrt``; see ``rsqrt``."""
        return rsqrt(self)

    def log1p(self) -> Tensor:
        """``torch.Tensor.log1p``; see ``log1p``."""
        return log1p(self)

    def expm1(self) -> Tensor:
        """``torch.Tensor.expm1``; see ``expm1``."""
        return expm1(self)

    def frac(self) -> Tensor:
        """``torch.Tensor.frac``; see ``frac``."""
        return frac(self)

    def all(self, dim=None, keepdim: bool = False) -> Tensor:
        """``torch.Tensor.all``; see ``all``."""
        return all(self, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False) -> Tensor:
        """``torch.Tensor.any``; see ``any``."""
        return any(self, dim, keepdim)

