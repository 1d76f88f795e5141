"""Reductions over dims: ``sum``, ``mean`` and ``prod``, ``logsumexp``, the order statistics
``amax``/``amin``, ``max``/``min`` (with indices), ``argmax``/``argmin``, the moments ``var``/``std``
and the overflow-safe moments that ``layer_norm``, ``batch_norm`` and group statistics share.

Semantics are PyTorch 2.13's (``torch.amax``, ``torch.max``, ``torch.var``):

* NaN wins: the max / min of a slice holding NaN is NaN, and ``argmax`` / ``argmin`` / ``max(dim)``
  return the index of its first NaN.
* Gradients: ``amax`` / ``amin`` and the full ``max()`` / ``min()`` share the gradient evenly among
  the tied extremes (a NaN counts as a tie of a NaN result); ``max(dim)`` / ``min(dim)`` give it all
  to the returned index.
* A reduction over a dim of size 0 raises ``LuminaIndexError`` (torch: ``IndexError``), and a full
  reduction of an empty tensor raises ``LuminaValueError``: there is no identity to return.

The IR has one extreme reduction, ``reduce_max`` (NaN-propagating, IEEE 754-2019 ``maximum``). The
minimum is ``f(max(f(x)))`` with an order-reversing bijection ``f``: ``-x`` for floats, and
``~x = -x - 1`` (wrapping) for integers, which unlike ``-x`` has no overflow at the most negative
value.

The IR has no product reduction either: ``prod`` multiplies halves, ``x[:n/2] * x[n/2:]``, ``log2(n)``
times (``product_last``). Its gradient comes from autodiff through the multiplies, so it is the
exact product of the other factors, zeros included (torch's ``prod_backward`` divides where no
factor is 0). The order of the products is not torch's (nor is torch's own the same for every
length): a product that overflows or underflows part way can differ, an exact product of
representable size is off by a few ulps at most.
"""
from __future__ import annotations

import math
from collections import namedtuple

from ..errors import LuminaIndexError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.ops import Op
from .core import Tensor, no_grad
from .creation import arange, ones, zeros
from .elementwise import maximum, minimum, where
from .movement import pad
from .recorded import recorded
from .shapes import count

# torch.return_types.max / .min: named tuples of (values, indices).
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])

# Deviations are scaled down when the data's magnitude exceeds 2^50, so their squares stay below
# float32's 2^128; see ``scaled_moments``.
_BIG = 2.0 ** 50


def _check_nonempty(x, axes: tuple[int, ...], op: str, full: bool) -> None:
    if full and x.numel() == 0:
        raise LuminaValueError(f"{op}: the reduction over every dim of an empty {x._value.type} has no "
                               "identity; give a dim")
    for a in axes:
        if x.shape[a] == 0:
            raise LuminaIndexError(f"{op}: reduction dim {a} of {x._value.type} has size 0")


def _reversed_order(x):
    """An order-reversing bijection of ``x``'s dtype that is its own inverse: ``-x`` for floats,
    ``~x`` (``-x - 1``, wrapping) for integers."""
    return -x if x.dtype.is_float else -x - 1


def amax(x, dim=None, keepdim: bool = False, *, op: str = "amax"):
    """``torch.amax``: the maximum over ``dim`` (an int or a tuple; every dim when None); NaN
    propagates; bool stays bool. Raises LuminaIndexError for a dim out of range or of size 0."""
    axes = x._axes(dim, op)
    _check_nonempty(x, axes, op, full=dim is None)
    src = x.to(DType.int64) if x.dtype is DType.bool else x
    out = Tensor._result(B.reduce(Op.REDUCE_MAX, src._touch(), axes, keepdim), src)
    return out.to(DType.bool) if x.dtype is DType.bool else out


def amin(x, dim=None, keepdim: bool = False, *, op: str = "amin"):
    """``torch.amin``: the minimum over ``dim``; see ``amax``."""
    if x.dtype is DType.bool:
        return amin(x.to(DType.int64), dim, keepdim, op=op).to(DType.bool)
    return _reversed_order(amax(_reversed_order(x), dim, keepdim, op=op))


def _first_index(x, best, d: int, keepdim: bool):
    """The first index along ``d`` where ``x`` equals ``best`` (kept dim) or is NaN."""
    with no_grad():
        n = x.shape[d]
        pos = arange(n).reshape([n if i == d else 1 for i in range(x.ndim)])
        hit = x == best
        if x.dtype.is_float:
            hit = hit | (x != x)
        return amin(where(hit, pos, n), d, keepdim)


def arg_extreme(x, dim, keepdim: bool, largest: bool):
    """``torch.argmax`` / ``argmin``: the index (int64) of the first extreme along ``dim``, or of
    the first NaN; over the flattened tensor when ``dim`` is None (``keepdim`` then keeps every dim
    as size 1). Raises LuminaIndexError for an empty reduced dim."""
    op = "argmax" if largest else "argmin"
    if dim is not None and not isinstance(dim, int):
        raise LuminaTypeError(f"{op}: dim must be an int or None, got {dim!r}")
    if x.ndim == 0 and dim is not None:  # a 0-d tensor's one element is at index 0
        x.reshape(1)._axes(dim, op)
        return zeros((), dtype=DType.int64)
    flat = x.reshape(-1) if dim is None else x
    d = 0 if dim is None else flat._axes(dim, op)[0]
    _check_nonempty(flat, (d,), op, full=False)
    if flat.dtype is DType.bool:
        raise LuminaTypeError(f"{op}: bool inputs are not supported (as torch), got {x._value.type}")
    src = flat
    best = (amax if largest else amin)(src.detach(), d, keepdim=True, op=op)
    out = _first_index(src, best, d, keepdim and dim is not None)
    if dim is None and keepdim:
        out = out.reshape((1,) * x.ndim)
    return out


def extreme(x, dim, keepdim: bool, largest: bool, other=None):
    """``Tensor.max`` / ``min`` with PyTorch's three forms: ``max()`` (a 0-d tensor over every
    element), ``max(dim, keepdim=False)`` (a ``(values, indices)`` named tuple; the gradient goes
    to the index) and ``max(other)`` (``torch.maximum``)."""
    op = "max" if largest else "min"
    if isinstance(dim, Tensor) or other is not None:
        if other is not None and dim is not None:
            raise LuminaTypeError(f"{op}: give either dim or other, not both")
        return (maximum if largest else minimum)(x, dim if other is None else other)
    if dim is None:
        if keepdim:
            raise LuminaTypeError(f"{op}: keepdim needs a dim")
        return (amax if largest else amin)(x, None, op=op)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise LuminaTypeError(f"{op}: dim must be an int, got {dim!r} (amax / amin take a tuple of dims)")
    if x.ndim == 0:
        x.reshape(1)._axes(dim, op)
        return (max_result if largest else min_result)(x, zeros((), dtype=DType.int64))
    d = x._axes(dim, op)[0]
    indices = arg_extreme(x.to(DType.int64) if x.dtype is DType.bool else x, d, True, largest)
    n = x.shape[d]
    pos = arange(n).reshape([n if i == d else 1 for i in range(x.ndim)])
    # The picked element itself (so its gradient is the whole g, as torch's); -0.0 is the additive
    # identity that keeps a picked -0.0's sign.
    values = where(pos == indices, x, -0.0 if x.dtype.is_float else 0).sum(d, keepdim=True)
    if x.dtype is not values.dtype:
        values = values.to(x.dtype)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return (max_result if largest else min_result)(values, indices)


def product_last(x):
    """The product over the last axis of ``x`` (kept in ``x``'s dtype; bool as logical and), as a
    tree of ``log2(n)`` halving multiplies; an empty axis gives ones."""
    n = x.shape[-1]
    if n == 0:
        return ones(x.shape[:-1], dtype=x.dtype)
    while n > 1:
        if n % 2:
            x = pad(x, (0, 1), value=1)
            n += 1
        x = x[..., :n // 2] * x[..., n // 2:]
        n //= 2
    return x.reshape(x.shape[:-1])


def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    """``torch.prod``: the product of every element (``dim=None``: a 0-d tensor) or along one int
    ``dim`` (kept as size 1 with ``keepdim``).

    dtype: ``dtype`` when given (the input is cast first), else bool and integers give int64 (as
    torch's, so ``prod`` of int32 is int64; integer products wrap), floats keep theirs. An empty
    product is 1. See the module docstring for the order of the multiplies and the gradient.
    Raises LuminaTypeError for a dim that is not an int (torch takes one dim), LuminaIndexError for
    one out of range."""
    x = input.to(dtype) if dtype is not None else input if input.dtype.is_float else input.to(DType.int64)
    if dim is None:
        if keepdim:
            raise LuminaTypeError(f"prod: keepdim needs a dim (for {input._value.type})")
        return product_last(x.reshape(-1))
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise LuminaTypeError(f"prod: dim must be one int, got {dim!r} for {input._value.type} (as torch)")
    if x.ndim == 0:
        x.reshape(1)._axes(dim, "prod")
        return x.clone()
    d = x._axes(dim, "prod")[0]
    moved = x.permute([a for a in range(x.ndim) if a != d] + [d]) if d != x.ndim - 1 else x
    out = product_last(moved)
    return out.unsqueeze(d) if keepdim else out


def logsumexp(input, dim, keepdim: bool = False):
    """``torch.logsumexp``: ``log(sum(exp(x)))`` over ``dim`` (an int or a tuple), computed as
    ``m + log(sum(exp(x - m)))`` with ``m`` the (constant) max, so it neither overflows nor
    underflows; a slice of all -inf gives -inf, one holding +inf gives inf, NaN propagates, and an
    empty slice gives -inf. Integers and bool compute in float32 (as torch); 16-bit floats in
    float32, rounded once. The gradient is the softmax of the slice. Raises LuminaIndexError for a
    dim out of range."""
    x = input if input.dtype.is_float else input.to(DType.float32)
    if x.dtype.is_half:
        return logsumexp(x.to(DType.float32), dim, keepdim).to(x.dtype)
    axes = x._axes(dim, "logsumexp")
    kept = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
    if any(x.shape[a] == 0 for a in axes):
        out = zeros(kept, dtype=x.dtype) - math.inf
    else:
        with no_grad():
            m = amax(x.detach(), axes, keepdim=True)
            m = where(m.abs() == math.inf, 0.0, m)    # every element -inf (or one +inf): no shift
        out = (x - m).exp().sum(axes, keepdim=True).log() + m
    return out if keepdim else out.reshape([d for a, d in enumerate(x.shape) if a not in axes])


def _correction(op: str, unbiased, correction) -> float:
    if unbiased is not None and correction is not None:
        raise LuminaTypeError(f"{op}: give either unbiased or correction, not both")
    if unbiased is not None:
        return 1.0 if unbiased else 0.0
    return 1.0 if correction is None else float(correction)


def scaled_moments(x, axes: tuple[int, ...]):
    """``(mean, d, sum_sq, s)`` over ``axes`` (kept as size-1 dims) with deviations scaled so that
    their squares cannot overflow: ``d = (x - mean) / s``, ``sum_sq = sum(d^2)``; the biased
    variance is ``sum_sq / N * s^2``.

    ``s`` is 1 while ``m = max|x|`` is at most ``2^50`` (the plain two-pass computation, bit for bit)
    and ``m * 2^-50`` above (``m`` comes from the same pass as the mean; its gradient is stopped, as
    the results do not depend on ``s``). A nonzero deviation is at least about one ulp of ``m``
    (``m * 2^-24``), so a scaled ``|d|`` lies in ``[2^26, 2^51]`` and ``d^2`` in float32's range. The
    scale multiplies each deviation before it is squared, which LLVM's reassociation of the sum
    cannot factor back out (``sum(x * c)`` it may turn into ``c * sum(x)``, so the mean is the plain
    ``sum(x) / N``). The scaled norm is LAPACK's ``nrm2`` technique.

    Limit: the sum behind the mean is float32's, so a slice whose sum exceeds float32's range
    (``[1.7e38, 1.7e38]``) has an infinite mean and gives NaN, never a finite wrong value."""
    n = math.prod(x.shape[a] for a in axes)
    mean = x.sum(axes, keepdim=True) / float(max(n, 1))
    if n == 0:
        return mean, x - mean, (x - mean).sum(axes, keepdim=True), 1.0
    with no_grad():
        m = amax(x.detach().abs(), axes, keepdim=True)
        s = where(m > _BIG, m * (1.0 / _BIG), 1.0)
    d = (x - mean) * (1.0 / s)
    return mean, d, (d * d).sum(axes, keepdim=True), s


def variance(x, dim, unbiased, keepdim: bool, correction, *, op: str = "var", root: bool = False):
    """``torch.var`` / ``torch.std``: ``sum((x - mean)^2) / max(N - correction, 0)`` over ``dim``
    (every dim when None); ``correction`` defaults to 1 (Bessel), ``unbiased=False`` is
    ``correction=0``; ``N - correction <= 0`` gives inf or NaN, as torch. float32 and 16-bit inputs
    accumulate in float64 (as PyTorch's CPU kernels) and round once, so ``var([3e38, 3e38])`` is 0
    and ``std([1e30, -1e30])`` is ``1.414e30``; float64 inputs use ``scaled_moments``. Raises
    LuminaTypeError for integer inputs (as torch), LuminaIndexError for a dim out of range."""
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: only floating-point inputs are supported (as torch.{op}), got "
                              f"{x._value.type}")
    wide = x.to(DType.float64)
    axes = wide._axes(dim, op)
    n = math.prod(wide.shape[a] for a in axes)
    dof = max(n - _correction(op, unbiased, correction), 0.0)
    _, _, sum_sq, s = scaled_moments(wide, axes)
    if root:
        # torch's std_backward: no gradient where the deviation is 0 (not 0 / 0); the inner
        # where keeps sqrt's own VJP away from 0.
        v = sum_sq / dof
        zero = v == 0.0
        out = where(zero, 0.0, where(zero, 1.0, v).sqrt()) * s
    else:
        out = sum_sq / dof * s * s
    if not keepdim:
        out = out.reshape([d for i, d in enumerate(wide.shape) if i not in axes])
    return out.to(x.dtype)


@recorded
def normalize(x, axes: tuple[int, ...], eps: float):
    """``(x - E[x]) / sqrt(Var[x] + eps)`` over ``axes`` (biased variance): the core of
    ``layer_norm``, ``batch_norm`` and group / instance normalisation, overflow-safe through
    ``scaled_moments`` (the layer norm of ``[1e38, 1e38, -1e38, 1]`` is finite, as the exact one).
    Returns ``(normalized, mean, biased variance)``, the statistics as size-1 dims."""
    if x.dtype.is_half:       # in float32, rounded once (as PyTorch's CPU kernels)
        out, mean, var = normalize(x.to(DType.float32), axes, eps)
        return out.to(x.dtype), mean.to(x.dtype), var.to(x.dtype)
    n = math.prod(x.shape[a] for a in axes)
    mean, d, sum_sq, s = scaled_moments(x, axes)
    var_s = sum_sq / float(max(n, 1))
    if isinstance(s, float):
        return d / (var_s + eps).sqrt(), mean, var_s
    # eps / s^2: eps itself while s is 1; where it underflows (s > 2^54) the floor keeps an
    # all-equal slice at 0 instead of 0 / 0 (a nonzero var_s there is at least 2^52).
    eps_s = eps / s / s
    if eps > 0:
        eps_s = maximum(eps_s, 2.0 ** -126)
    return d / (var_s + eps_s).sqrt(), mean, var_s * s * s


class ReductionMethods:
    """``Tensor``'s reductions (the package copies them onto ``Tensor``)."""

    def _reduce(self, op: Op, dim, keepdim: bool, name: str) -> Tensor:
        # torch.sum accumulates bool and int32 in int64; max keeps int32 (bool max is via int64)
        widen = self.dtype is DType.bool or (op is Op.REDUCE_SUM and self.dtype is DType.int32)
        x = self.to(DType.int64) if widen else self
        axes = x._axes(dim, name)
        return Tensor._result(B.reduce(op, x._touch(), axes, keepdim), x)

    def sum(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        """``torch.sum`` over ``dim`` (every dim when None); ``dtype`` casts the input first."""
        x = self if dtype is None else self.to(dtype)
        return x._reduce(Op.REDUCE_SUM, dim, keepdim, "sum")

    def mean(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        """``torch.mean``: the sum over ``dim`` divided by the count (NaN for an empty slice).
        16-bit floats sum and divide in float32 and round once, as PyTorch's CPU kernel. Raises
        LuminaTypeError for integer and bool inputs without a float ``dtype`` (as torch)."""
        x = self if dtype is None else self.to(dtype)
        if not x.dtype.is_float:
            raise LuminaTypeError(f"mean: input dtype must be floating point, got {self._value.type} "
                                  "(pass dtype=lumina.float32, as torch)")
        if x.dtype.is_half:
            return x.to(DType.float32).mean(dim, keepdim).to(x.dtype)
        n = math.prod(x.shape[a] for a in x._axes(dim, "mean"))
        return x.sum(dim, keepdim) / count(n, x.dtype)

    def var(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction=None) -> Tensor:
        """``torch.var``: ``sum((x - mean)^2) / max(N - correction, 0)`` over ``dim`` (every dim
        when None). ``correction`` defaults to 1 (Bessel's unbiased estimate); ``unbiased`` is the
        older spelling (``var(dim, unbiased, keepdim)``, or ``var(unbiased)`` with a bool first).
        Overflow-safe (``scaled_moments``). Raises LuminaTypeError for integer inputs,
        LuminaIndexError for a dim out of range."""
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        return variance(self, dim, unbiased, keepdim, correction, op="var")

    def std(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction=None) -> Tensor:
        """``torch.std``: ``sqrt(var(...))`` computed without squaring large values; see ``var``."""
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        return variance(self, dim, unbiased, keepdim, correction, op="std", root=True)

    def max(self, dim=None, keepdim: bool = False, *, other=None):
        """``torch.max``: over every element (``max()``, a 0-d tensor), along ``dim`` (a
        ``(values, indices)`` named tuple, the first extreme's index; the gradient goes to it), or
        elementwise against a tensor (``max(other)``, ``torch.maximum``). NaN propagates and is
        the index returned. Raises LuminaIndexError for an empty reduced dim; see ``extreme``."""
        return extreme(self, dim, keepdim, True, other)

    def min(self, dim=None, keepdim: bool = False, *, other=None):
        """``torch.min``; see ``Tensor.max``."""
        return extreme(self, dim, keepdim, False, other)

    def amax(self, dim=(), keepdim: bool = False) -> Tensor:
        """``torch.amax``: the maximum over ``dim`` (an int or tuple; ``()`` means every dim, as
        torch); NaN propagates; the gradient is shared evenly among ties."""
        return amax(self, None if dim == () else dim, keepdim)

    def amin(self, dim=(), keepdim: bool = False) -> Tensor:
        """``torch.amin``; see ``Tensor.amax``."""
        return amin(self, None if dim == () else dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """``torch.argmax``: the index (int64) of the first maximum along ``dim`` (of the
        flattened tensor when None), or of the first NaN."""
        return arg_extreme(self, dim, keepdim, True)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """``torch.argmin``; see ``Tensor.argmax``."""
        return arg_extreme(self, dim, keepdim, False)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        """``torch.prod``: the product of every element, or along ``dim``; see ``prod``."""
        return prod(self, dim, keepdim, dtype=dtype)

    def logsumexp(self, dim, keepdim: bool = False) -> Tensor:
        """``torch.logsumexp`` over ``dim``; see ``logsumexp``."""
        return logsumexp(self, dim, keepdim)
