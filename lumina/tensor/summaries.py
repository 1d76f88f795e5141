"""Reductions torch has under further names, and differences: ``nansum`` / ``nanmean`` (NaN
skipped), ``std_mean`` / ``var_mean`` (both moments at once), ``count_nonzero`` and ``diff``, as
PyTorch 2.13's (https://pytorch.org/docs/stable/torch.html#reduction-ops,
https://pytorch.org/docs/stable/generated/torch.diff.html).

Each is a decomposition into ``where`` / ``sum`` / ``var`` / ``mean``, slices and ``cat``, so
autodiff gives the gradients (NaN entries get 0 in the NaN-skipping ones, as torch's).
"""
from __future__ import annotations

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from .arithmetic import _as_tensor
from .core import Tensor, no_grad
from .elementwise import where
from .movement import cat
from .pointwise import isnan


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.nansum``: ``sum`` with NaN read as 0 (integer and bool inputs: ``sum``, int64).
    Shapes, ``dim`` / ``keepdim`` / ``dtype`` and errors as ``sum``."""
    x = _as_tensor(input, "nansum")
    if x.dtype.is_float:
        x = where(isnan(x), 0.0, x)
    return x.sum(dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.nanmean``: the mean of the elements that are not NaN (NaN where there are none),
    ``nansum / count``. Float inputs only: LuminaTypeError for integers and bool (as torch).
    Gradient: ``g / count`` at the elements that are not NaN, 0 at NaN ones; torch's is NaN at
    the NaN elements of a slice that has nothing else (its ``inf`` times a 0 mask), lumina's 0."""
    x = _as_tensor(input, "nanmean")
    if not x.dtype.is_float:
        raise LuminaTypeError(f"nanmean: expected input to have floating point dtype but got {x._value.type}")
    if dtype is not None:
        x = x.to(dtype)
    keep = ~isnan(x)
    return nansum(x, dim, keepdim) / keep.sum(dim, keepdim).to(x.dtype)


def _welford_mean(x: Tensor, dim, keepdim: bool, op: str) -> Tensor:
    """The mean of ``var_mean`` / ``std_mean`` as torch's Welford recurrence gives it: summed in
    float64 (so float32 slices never overflow; float64 ones are scaled down past 1e300), and NaN
    where an infinity is followed by a further element of the slice (in the order of the reduced
    dims: ``inf - inf`` in the update of the running mean), ``+-inf`` where one ends it."""
    wide = x.to(DType.float64)
    axes = wide._axes(dim, op)
    n = 1
    for a in axes:
        n *= wide.shape[a]
    with no_grad():
        big = wide.detach().abs().amax(axes, keepdim=True) > 1e300 if n else wide.sum(axes, keepdim=True) > 0
        s = big.to(DType.float64) * (2.0 ** -16 - 1.0) + 1.0
    mean = (wide * s).sum(axes, keepdim=True) / float(n) / s
    kept = [i for i in range(wide.ndim) if i not in axes]
    flat = wide.permute((*kept, *axes)).reshape(tuple(wide.shape[i] for i in kept) + (n,))
    early_inf = flat[..., :-1].isinf().any(-1).reshape(mean.shape)
    mean = where(early_inf, float("nan"), mean)
    if not keepdim:
        mean = mean.reshape(tuple(wide.shape[i] for i in kept))
    return mean.to(x.dtype)


def _moment_mean(op: str, input, dim, unbiased, keepdim: bool, correction, root: bool):
    x = _as_tensor(input, op)
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    spread = (x.std if root else x.var)(dim, unbiased, keepdim, correction=correction)
    return spread, _welford_mean(x, dim, keepdim, op)


def var_mean(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """``torch.var_mean``: ``(var, mean)`` over ``dim``: ``Tensor.var`` (``unbiased`` and
    ``correction`` as ``var``'s; a bool in ``dim``'s place is ``unbiased``) and the mean as torch's
    Welford pass computes it (``_welford_mean``: no overflow, NaN after an infinity). A tuple of
    two tensors; errors as ``var`` (float inputs only)."""
    return _moment_mean("var_mean", input, dim, unbiased, keepdim, correction, root=False)


def std_mean(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """``torch.std_mean``: ``(std, mean)``; see ``var_mean``."""
    return _moment_mean("std_mean", input, dim, unbiased, keepdim, correction, root=True)


def count_nonzero(input, dim=None) -> Tensor:
    """``torch.count_nonzero``: the number of elements that are not zero (NaN counts, -0.0 does
    not) over ``dim`` (an int, a tuple, or every dim), an int64 tensor without the reduced dims."""
    x = _as_tensor(input, "count_nonzero")
    return (x != 0).sum(dim, dtype=DType.int64)


def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """``torch.diff``: the ``n``-th forward difference ``out[i] = x[i + 1] - x[i]`` along ``dim``,
    after ``prepend`` / ``append`` are joined to ``input`` there (their other dims must match).
    Bool inputs differ by ``!=`` (as torch); each order shortens ``dim`` by one (never below 0).
    Raises LuminaShapeError for a 0-d input or a prepend / append of another rank,
    LuminaValueError for a negative ``n``."""
    x = _as_tensor(input, "diff")
    if x.ndim == 0:
        raise LuminaShapeError(f"diff: expects input to be at least one-dimensional, got {x._value.type}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise LuminaValueError(f"diff: order must be a non-negative int but got {n!r}")
    d = x._axes(dim, "diff")[0]
    parts = []
    for name, extra in (("prepend", prepend), ("input", x), ("append", append)):
        if extra is None:
            continue
        extra = _as_tensor(extra, "diff")
        if extra.ndim != x.ndim:
            raise LuminaShapeError(f"diff: expects prepend or append to be the same dimension as input: {name} "
                                   f"{extra._value.type}, input {x._value.type}")
        parts.append(extra)
    if len(parts) > 1:
        x = cat(parts, d)
    lead = (slice(None),) * d
    for _ in range(n):
        if x.shape[d] == 0:
            break
        hi, lo = x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)]
        x = hi != lo if x.dtype is DType.bool else hi - lo
    return x


class SummaryMethods:
    """The Tensor methods of this module's ops."""

    def nansum(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        return nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        return nanmean(self, dim, keepdim, dtype=dtype)

    def count_nonzero(self, dim=None) -> Tensor: return count_nonzero(self, dim)

    def diff(self, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
        return diff(self, n, dim, prepend, append)


__all__ = ["nansum", "nanmean", "var_mean", "std_mean", "count_nonzero", "diff", "SummaryMethods"]
