"""Sorting and order statistics as torch 2.13's: ``sort``, ``argsort``, ``msort``, ``kthvalue``,
``median``, ``nanmedian``, ``mode``, ``aminmax``, and the eager-only ``unique`` /
``unique_consecutive`` (https://pytorch.org/docs/2.13/torch.html#reduction-ops, #sorting).

Every order comes from one place, ``selection.sorted_along`` (ranks for short axes, Batcher's
bitonic network for long ones): a stable sort with NaN above every number. So ``sort`` and
``argsort`` keep equal elements in index order whatever ``stable`` says (``stable=False`` lets torch
order ties in any way; this is one of them), ``descending=True`` puts the NaNs first, and the order
statistics pick a rank of that order:

* ``kthvalue(k)`` the element of rank ``k - 1`` (so a NaN once ``k`` passes the numbers);
* ``median`` the lower median, rank ``(n - 1) // 2``, or the first NaN of a slice that has one
  (torch propagates NaN); ``nanmedian`` the lower median of the numbers only (the NaNs sort last),
  the first NaN for a slice of NaNs;
* ``mode`` the most frequent value (the smallest among equally frequent ones) with the index of
  its last occurrence, found from run lengths in the sorted slice (a running max, ``scan.cummax``).

Which of several equal elements an order statistic names is unspecified in torch (its CPU
``kthvalue`` is a quickselect); here it is the one the stable order puts at that rank. The values
are read at the indices by a masked sum, so the gradient goes to the named element, as torch's
backward (a scatter into the indices). ``unique`` and ``unique_consecutive`` have outputs whose
size depends on the data: they realise their input and compute on the host, eagerly only.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..errors import LuminaIndexError, LuminaTraceError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from ..tracing import STATE
from .core import Tensor
from .arithmetic import floor_divide
from .creation import arange, tensor, zeros
from .elementwise import where
from .movement import pad
from .reductions import amax, amin, arg_extreme
from .scan import cummax
from .selection import _pick, sorted_along

# torch.return_types: named tuples of (values, indices), and aminmax's (min, max).
sort_result = namedtuple("sort", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])
nanmedian_result = namedtuple("nanmedian", ["values", "indices"])
mode_result = namedtuple("mode", ["values", "indices"])
aminmax_result = namedtuple("aminmax", ["min", "max"])


def _dim_of(x: Tensor, dim, op: str) -> int | None:
    """``dim`` as an axis of ``x`` (None for a 0-d ``x``, after checking ``dim`` is -1 or 0)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise LuminaTypeError(f"{op}: dim must be an int, got {dim!r} for {x._value.type}")
    if x.ndim == 0:
        x.reshape(1)._axes(int(dim), op)
        return None
    return x._axes(int(dim), op)[0]


def _at(x: Tensor, d: int, index: Tensor, keepdim: bool, result):
    """``result(values, index)`` of the elements of ``x`` at ``index`` (one per slice, ``d`` kept
    as size 1), ``d`` squeezed unless ``keepdim``."""
    values = _pick(x, d, index)
    if not keepdim:
        values, index = values.squeeze(d), index.squeeze(d)
    return result(values, index)


def _empty(x: Tensor, d: int, keepdim: bool, result):
    """``result`` of an order statistic over ``d`` of an ``x`` with no elements (another dim is 0)."""
    shape = tuple(1 if a == d else s for a, s in enumerate(x.shape)) if keepdim else x.shape[:d] + x.shape[d + 1:]
    return result(zeros(shape, dtype=x.dtype), zeros(shape, dtype=DType.int64))


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):  # noqa: A002
    """``torch.sort``: ``input`` sorted along ``dim`` (descending with ``descending=True``) and the
    int64 indices of the sorted elements, a ``(values, indices)`` named tuple of ``input``'s shape.

    Every dtype (bool as ``False < True``). Stable whatever ``stable`` says; NaN sorts above every
    number (see the module docstring). The gradient of each value goes to its source element.
    Raises LuminaIndexError for a ``dim`` out of range."""
    x = input
    d = _dim_of(x, dim, "sort")
    if d is None:
        return sort_result(x.clone(), zeros((), dtype=DType.int64))
    if x.numel() == 0:
        return sort_result(x.clone(), zeros(x.shape, dtype=DType.int64))
    return sort_result(*sorted_along(x, d, bool(descending)))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:  # noqa: A002
    """``torch.argsort``: the int64 indices that sort ``input`` along ``dim``; ``sort(...).indices``."""
    x = input
    d = _dim_of(x, dim, "argsort")
    if d is None or x.numel() == 0:
        return zeros(x.shape, dtype=DType.int64)
    return sorted_along(x.detach(), d, bool(descending))[1]


def msort(input: Tensor) -> Tensor:  # noqa: A002
    """``torch.msort``: ``input`` sorted along dim 0, ``sort(input, 0).values``."""
    return sort(input, 0).values


def _no_bool(x: Tensor, op: str) -> None:
    if x.dtype is DType.bool:
        raise LuminaTypeError(f"{op}: bool inputs are not supported (as torch on CPU), got {x._value.type}")


def _nonempty(x: Tensor, d: int, op: str) -> None:
    if x.shape[d] == 0:
        raise LuminaIndexError(f"{op}: reduction dim {d} of {x._value.type} has size 0")


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):  # noqa: A002
    """``torch.kthvalue``: the ``k``-th smallest element (``k`` from 1) along ``dim`` and its int64
    index, a ``(values, indices)`` named tuple; ``dim`` dropped unless ``keepdim``.

    NaN ranks above every number. Raises LuminaTypeError for bool (as torch on CPU) or a ``k`` that
    is not an int, LuminaIndexError for a bad ``dim`` or ``k`` outside ``[1, input.shape[dim]]``
    (torch: "selected number k out of range")."""
    x = input
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise LuminaTypeError(f"kthvalue: k must be an int, got {k!r} for {x._value.type}")
    _no_bool(x, "kthvalue")
    d = _dim_of(x, dim, "kthvalue")
    n = 1 if d is None else x.shape[d]
    if not 1 <= k <= n:
        raise LuminaIndexError(f"kthvalue: selected number k={k} out of range for dim {dim} of size {n} of "
                               f"{x._value.type} (k must be in [1, {n}])")
    if d is None:
        return kthvalue_result(x.clone(), zeros((), dtype=DType.int64))
    if x.numel() == 0:
        return _empty(x, d, keepdim, kthvalue_result)
    order = sorted_along(x.detach(), d, False)[1]
    index = order.narrow(d, int(k) - 1, 1)
    return _at(x, d, index, keepdim, kthvalue_result)


def _first_nan(x: Tensor, d: int) -> tuple[Tensor, Tensor]:
    """Whether each slice along ``d`` holds a NaN, and the index of its first NaN (kept dim)."""
    n = x.shape[d]
    pos = arange(n).reshape([n if a == d else 1 for a in range(x.ndim)])
    nan = x != x
    return amax(nan, d, keepdim=True), amin(where(nan, pos, n), d, keepdim=True)


def _median(x: Tensor, dim, keepdim: bool, ignore_nan: bool):
    op = "nanmedian" if ignore_nan else "median"
    result = nanmedian_result if ignore_nan else median_result
    _no_bool(x, op)
    if dim is None:
        if keepdim:
            raise LuminaTypeError(f"{op}: keepdim needs a dim")
        if x.numel() == 0:    # torch: NaN, which its integer kernels turn into the dtype's lowest value
            empty = float("nan") if x.dtype.is_float else int(np.iinfo(x.dtype.numpy).min)
            return tensor(empty, dtype=x.dtype)
        return _median(x.reshape(-1), 0, False, ignore_nan).values
    d = _dim_of(x, dim, op)
    if d is None:
        return result(x.clone(), zeros((), dtype=DType.int64))
    _nonempty(x, d, op)
    if x.numel() == 0:
        return _empty(x, d, keepdim, result)
    n = x.shape[d]
    detached = x.detach()
    order = sorted_along(detached, d, False)[1]
    if not x.dtype.is_float:
        index = order.narrow(d, (n - 1) // 2, 1)
    elif ignore_nan:     # the NaNs sort last: the lower median of the numbers before them
        count = (detached == detached).to(DType.int64).sum(d, keepdim=True)
        rank = where(count > 0, floor_divide(count - 1, 2), 0)
        index = _pick(order, d, rank)
    else:
        has_nan, first_nan = _first_nan(detached, d)
        index = where(has_nan, first_nan, order.narrow(d, (n - 1) // 2, 1))
    return _at(x, d, index, keepdim, result)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """``torch.median``: without ``dim`` the lower median of all elements (a 0-d tensor; NaN if
    there is a NaN, or for an empty input, whose integer median is the dtype's lowest value as in
    torch); with ``dim`` a ``(values, indices)`` named tuple of the
    lower median along ``dim`` (rank ``(n - 1) // 2``) and its int64 index, the first NaN's where
    the slice holds one. ``dim`` dropped unless ``keepdim``; the gradient goes to the indexed
    element. Raises LuminaTypeError for bool, LuminaIndexError for a bad or empty ``dim``."""
    return _median(input, dim, keepdim, ignore_nan=False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """``torch.nanmedian``: ``median`` of the non-NaN elements (NaN, with the index of the first
    NaN, for a slice of NaNs only); see ``median``."""
    return _median(input, dim, keepdim, ignore_nan=True)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):  # noqa: A002
    """``torch.mode``: the most frequent value along ``dim`` (the smallest of equally frequent
    ones) and the int64 index of its last occurrence, a ``(values, indices)`` named tuple.

    Every dtype. NaNs count as one value above every number (torch's result for slices with NaN
    depends on its sort's internals and is not reproduced). Work: a sort and a running max (see
    the module docstring). Raises LuminaIndexError for a bad or empty ``dim``."""
    x = input
    d = _dim_of(x, dim, "mode")
    if d is None:
        return mode_result(x.clone(), zeros((), dtype=DType.int64))
    _nonempty(x, d, "mode")
    if x.numel() == 0:
        return _empty(x, d, keepdim, mode_result)
    n = x.shape[d]
    detached = x.detach()
    values, order = sorted_along(detached, d, False)
    last = x.ndim - 1
    s = values.transpose(d, last) if d != last else values
    if x.dtype is DType.bool:
        s = s.to(DType.int32)
    same = s[..., 1:] == s[..., :-1]
    if x.dtype.is_float:
        same = same | ((s[..., 1:] != s[..., 1:]) & (s[..., :-1] != s[..., :-1]))
    pos = arange(n)
    starts = pad(~same, (1, 0), value=True)          # where a run of equal values begins
    run_start = cummax(where(starts, pos, 0), -1).values
    count = pos - run_start + 1                        # the length of the run so far
    best = arg_extreme(count, -1, True, True)          # the end of the first longest run
    if d != last:
        best = best.transpose(d, last)
    index = _pick(order, d, best)
    return _at(x, d, index, keepdim, mode_result)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """``torch.aminmax``: ``(min, max)`` named tuple of ``amin`` and ``amax`` over ``dim`` (every
    element when None). NaN propagates; equal extremes share the gradient (as torch's). Raises
    LuminaIndexError for a bad or empty ``dim``, LuminaValueError for an empty input without one."""
    x = input
    if dim is None:
        if x.numel() == 0:
            raise LuminaValueError(f"aminmax: cannot reduce the empty {x._value.type}: it has no identity")
        lo, hi = amin(x, None, op="aminmax"), amax(x, None, op="aminmax")
        if keepdim:
            lo, hi = lo.reshape((1,) * x.ndim), hi.reshape((1,) * x.ndim)
        return aminmax_result(lo, hi)
    d = _dim_of(x, dim, "aminmax")
    if d is None:
        return aminmax_result(x.clone(), x.clone())
    return aminmax_result(amin(x, d, keepdim, op="aminmax"), amax(x, d, keepdim, op="aminmax"))


def _host_values(x: Tensor, op: str) -> np.ndarray:
    """``x``'s values, for the ops whose output size depends on them (refused while tracing)."""
    if STATE.trace is not None:
        raise LuminaTraceError(f"{op}: the size of its output depends on the values of the {x._value.type} "
                               "input, so it runs eagerly only, not inside @lumina.compile")
    return x.numpy()


def _unique_result(x: Tensor, values: np.ndarray, inverse: np.ndarray, counts: np.ndarray,
                   return_inverse: bool, return_counts: bool):
    out = [tensor(values, dtype=x.dtype, device=x.device)]
    if return_inverse:
        out.append(tensor(inverse.astype(np.int64), device=x.device))
    if return_counts:
        out.append(tensor(counts.astype(np.int64), device=x.device))
    return out[0] if len(out) == 1 else tuple(out)


def _unique_empty(x: Tensor, a: np.ndarray, d: int | None, op: str, return_inverse: bool, return_counts: bool):
    """``unique``'s result for an input without elements: empty, or, along a ``dim``, torch's error
    where a dim other than ``dim`` has size 0 (its slices could not be told apart)."""
    if d is not None and [i for i, s in enumerate(a.shape) if s == 0] != [d]:
        raise LuminaValueError(f"{op}: {x._value.type} has a dim of size 0 other than dim {d} (or several), so "
                               "its slices along dim cannot be compared (as torch)")
    inverse = np.zeros(x.shape if d is None else (0,), np.int64)
    return _unique_result(x, a.reshape(-1) if d is None else a, inverse, np.zeros(0, np.int64),
                          return_inverse, return_counts)


def _slices(a: np.ndarray, dim: int | None) -> np.ndarray:
    """``a`` as rows to compare: its elements (``dim`` None) or its slices along ``dim``."""
    return a.reshape(-1, 1) if dim is None else np.moveaxis(a, dim, 0).reshape(a.shape[dim], -1)


def _rows_back(rows: np.ndarray, a: np.ndarray, dim: int | None) -> np.ndarray:
    if dim is None:
        return rows.reshape(-1)
    moved = np.moveaxis(a, dim, 0)
    return np.moveaxis(rows.reshape((rows.shape[0],) + moved.shape[1:]), 0, dim)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """``torch.unique``: the distinct elements of ``input`` (flattened, 1-d) or, with ``dim``, its
    distinct slices along ``dim``, in ascending (lexicographic) order; with ``return_inverse`` the
    int64 index of each element (slice) in the output (``input``'s shape, or ``[input.shape[dim]]``),
    with ``return_counts`` the int64 count of each output entry. A tensor, or a tuple when either
    flag is set (https://pytorch.org/docs/2.13/generated/torch.unique.html).

    NaNs are all distinct (as torch's) and sort last. ``sorted=False`` may give any order in torch;
    its CPU kernel sorts, and so does this. Eager only: the output size depends on the values, so it
    realises ``input``; inside ``@lumina.compile`` it raises LuminaTraceError. No gradient (torch
    has none). Raises LuminaIndexError for a bad ``dim``."""
    x = input
    d = None if dim is None else (x._axes(dim, "unique")[0] if x.ndim else _dim_of(x, dim, "unique"))
    a = _host_values(x, "unique")
    if a.size == 0:
        return _unique_empty(x, a, d, "unique", return_inverse, return_counts)
    if d is None and a.dtype.kind == "f":
        a = a.reshape(-1)
        values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True, equal_nan=False)
        return _unique_result(x, values, inverse.reshape(x.shape), counts, return_inverse, return_counts)
    rows = _slices(a, d)
    # the lexicographic order of the rows, then the first row of each run of equal ones
    order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(rows.shape[0])
    ranked = rows[order]
    new = np.ones(len(ranked), bool)
    new[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    group = np.cumsum(new) - 1
    inverse = np.empty(len(rows), np.int64)
    inverse[order] = group
    counts = np.bincount(group)
    values = _rows_back(ranked[new], a, d)
    return _unique_result(x, values, inverse.reshape(x.shape) if d is None else inverse, counts,
                          return_inverse, return_counts)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
                       dim: int | None = None):
    """``torch.unique_consecutive``: ``input`` (flattened, or its slices along ``dim``) with every
    run of equal consecutive entries kept once, in order; ``return_inverse`` / ``return_counts`` as
    in ``unique`` (https://pytorch.org/docs/2.13/generated/torch.unique_consecutive.html).

    NaN equals nothing, so each NaN is its own run (as torch's). Eager only, as ``unique``; raises
    LuminaTraceError inside ``@lumina.compile``, LuminaIndexError for a bad ``dim``."""
    x = input
    d = None if dim is None else (x._axes(dim, "unique_consecutive")[0] if x.ndim
                                  else _dim_of(x, dim, "unique_consecutive"))
    a = _host_values(x, "unique_consecutive")
    if a.size == 0:
        return _unique_empty(x, a, d, "unique_consecutive", return_inverse, return_counts)
    rows = _slices(a, d)
    new = np.ones(rows.shape[0], bool)
    new[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    group = np.cumsum(new) - 1
    counts = np.bincount(group) if len(group) else np.zeros(0, np.int64)
    values = _rows_back(rows[new], a, d)
    return _unique_result(x, values, group.reshape(x.shape) if d is None else group, counts,
                          return_inverse, return_counts)


class SortingMethods:
    """``Tensor``'s sorts and order statistics (the package copies them onto ``Tensor``)."""

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool = False):
        """``torch.Tensor.sort``; see ``sort``."""
        return sort(self, dim, descending, stable=stable)

    def argsort(self, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
        """``torch.Tensor.argsort``; see ``argsort``."""
        return argsort(self, dim, descending, stable=stable)

    def msort(self) -> Tensor:
        """``torch.Tensor.msort``; see ``msort``."""
        return msort(self)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False):
        """``torch.Tensor.kthvalue``; see ``kthvalue``."""
        return kthvalue(self, k, dim, keepdim)

    def median(self, dim: int | None = None, keepdim: bool = False):
        """``torch.Tensor.median``; see ``median``."""
        return median(self, dim, keepdim)

    def nanmedian(self, dim: int | None = None, keepdim: bool = False):
        """``torch.Tensor.nanmedian``; see ``nanmedian``."""
        return nanmedian(self, dim, keepdim)

    def mode(self, dim: int = -1, keepdim: bool = False):
        """``torch.Tensor.mode``; see ``mode``."""
        return mode(self, dim, keepdim)

    def aminmax(self, *, dim: int | None = None, keepdim: bool = False):
        """``torch.Tensor.aminmax``; see ``aminmax``."""
        return aminmax(self, dim=dim, keepdim=keepdim)

    def unique(self, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
               dim: int | None = None):
        """``torch.Tensor.unique``; see ``unique``."""
        return unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None):
        """``torch.Tensor.unique_consecutive``; see ``unique_consecutive``."""
        return unique_consecutive(self, return_inverse, return_counts, dim)
