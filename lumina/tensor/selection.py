"""Selecting by order: ``topk``, the ``k`` largest (or smallest) elements along a dim with their
indices, as ``torch.topk`` (PyTorch 2.13), and ``sorted_along``, the stable order of a whole axis that
``lumina.tensor.sorting`` builds ``sort`` and the order statistics on.

Order: NaN counts as larger than every number, as in torch (so ``largest=True`` returns the NaNs
first and ``largest=False`` last); equal elements come out lowest index first (torch leaves the
order of ties unspecified, and its CPU kernel does not keep it). ``sorted=False`` may return any
order in torch; here the result is always sorted.

The IR has no sort. Two decompositions, chosen by ``k``:

* ``k <= UNROLL``: ``k`` rounds of pick-the-best-untaken (a max, then the first index holding it):
  work ``k * n`` per slice, ``3k`` small reductions in the graph.
* larger ``k``: the rank of every element (how many elements precede it in the order: work ``n * n``
  per slice, one fused reduction), then the element of each rank ``0 .. k-1`` by a masked sum;
  on axes longer than ``RANKED``, the first ``k`` of ``sorted_along`` (the bitonic network).

The values are read back at the chosen indices (a masked sum), so the gradient goes to the element
each index names, as torch's ``topk`` backward (a scatter into the indices).

A whole axis (``sorted_along``) is ordered by the ranks for ``n <= RANKED`` (memory: the ranked
pass compares ``n x n`` pairs per slice and reads the values back by an ``n x n`` masked sum; at
``RANKED = 256`` that is 64K elements per slice, and a graph of a few fused reductions). Longer axes
go through Batcher's bitonic sorting network instead (``_sorted_bitonic``): ``log2(N)^2 / 2``
compare-exchange stages over the axis padded to ``N = 2^m``, work ``N log2(N)^2 / 2`` and memory
linear in ``n``, the values carried through the exchanges so no read-back is needed. Its graph has
that many stages, so it compiles slower (seconds at ``n`` in the thousands) but never needs
``n^2`` memory.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ..errors import LuminaIndexError, LuminaTypeError
from ..ir.dtypes import DType
from .core import Tensor, no_grad
from .creation import arange, tensor, zeros
from .elementwise import where
from .movement import pad, stack
from .reductions import amax, amin

# torch.return_types.topk: a named tuple of (values, indices).
topk_result = namedtuple("topk", ["values", "indices"])

UNROLL = 16

# Axes up to this long are ordered by ranks (n^2 comparisons per slice, a shallow graph); longer ones
# by the bitonic network (n log^2 n, a graph of log^2 n stages).
RANKED = 256


def _positions(n: int, axis: int, rank: int) -> Tensor:
    """``arange(n)`` (int64) along ``axis`` of a rank-``rank`` tensor, size 1 elsewhere."""
    return arange(n).reshape([n if a == axis else 1 for a in range(rank)])


def _extreme_fill(dtype: DType, largest: bool):
    """The value that never wins a ``largest`` (``not largest``) round: the dtype's lowest (highest)."""
    if dtype.is_float:
        return -math.inf if largest else math.inf
    info = np.iinfo(dtype.numpy)
    return int(info.min) if largest else int(info.max)


def _pick(x: Tensor, axis: int, indices: Tensor) -> Tensor:
    """``x``'s elements at ``indices`` (of ``x``'s rank, in range) along ``axis``, by a masked sum
    whose identity (-0.0 for floats) keeps a picked -0.0's sign; the gradient goes to the picked
    element."""
    n = x.shape[axis]
    hit = indices.unsqueeze(axis + 1) == _positions(n, axis + 1, x.ndim + 1)      # [..., k, n, ...]
    zero = -0.0 if x.dtype.is_float else 0
    return where(hit, x.unsqueeze(axis), zero).sum(axis + 1).to(x.dtype)


def _indices_unrolled(x: Tensor, k: int, axis: int, largest: bool) -> Tensor:
    """The indices of the ``k`` best elements along ``axis``, in order (see the module docstring)."""
    n, rank = x.shape[axis], x.ndim
    pos = _positions(n, axis, rank)
    nan = (x != x) if x.dtype.is_float else None
    fill = _extreme_fill(x.dtype, largest)
    taken = pos < 0
    slot = _positions(k, axis, rank)
    indices = None
    for r in range(k):
        free = ~taken
        skip = taken if nan is None else taken | nan
        rest = where(skip, fill, x)
        best = amax(rest, axis, keepdim=True) if largest else amin(rest, axis, keepdim=True)
        cand = (x == best) & ~skip
        if nan is not None:
            free_nan = nan & free
            if largest:   # an untaken NaN beats every number
                cand = where(amax(free_nan, axis, keepdim=True), free_nan, cand)
            else:         # NaNs come once the numbers are used up
                cand = where(amax(cand, axis, keepdim=True), cand, free_nan)
        first = amin(where(cand, pos, n), axis, keepdim=True)
        taken = taken | (pos == first)
        # placed in slot r by a select rather than a cat: lumina's row-fused kernels cannot
        # concatenate the outputs of their own reductions (LuminaCodegenError)
        placed = where(slot == r, first, 0)
        indices = placed if indices is None else indices + placed
    return indices


def _indices_ranked(x: Tensor, k: int, axis: int, largest: bool) -> Tensor:
    """The indices of the ``k`` best elements along ``axis`` through every element's rank."""
    n, rank = x.shape[axis], x.ndim
    xi, xj = x.unsqueeze(axis + 1), x.unsqueeze(axis)           # element i along axis, j along axis + 1
    pi, pj = _positions(n, axis, rank + 1), _positions(n, axis + 1, rank + 1)
    if x.dtype.is_float:
        ni, nj = xi != xi, xj != xj
        ahead = ((xj > xi) | (nj & ~ni)) if largest else ((xj < xi) | (ni & ~nj))
        tie = (xj == xi) | (ni & nj)
    else:
        ahead, tie = (xj > xi) if largest else (xj < xi), xj == xi
    ranks = (ahead | (tie & (pj < pi))).to(DType.int64).sum(axis + 1)      # [..., n (i), ...]
    slot = ranks.unsqueeze(axis) == _positions(k, axis, rank + 1)           # [..., k, n (i), ...]
    return where(slot, _positions(n, axis + 1, rank + 1), 0).sum(axis + 1)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """``torch.topk``: the ``k`` largest elements of ``input`` along ``dim`` (the smallest with
    ``largest=False``), as a ``(values, indices)`` named tuple.

    Shapes: ``input.shape`` with ``dim`` of size ``k``; ``values`` has ``input``'s dtype,
    ``indices`` int64. Order, ties and NaN: see the module docstring. Raises LuminaTypeError for a
    bool input (as torch on CPU) or a ``k`` that is not an int, LuminaIndexError for a ``dim`` out
    of range or ``k`` outside ``[0, input.shape[dim]]`` (torch: "selected index k out of range").
    """
    x = input
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise LuminaTypeError(f"topk: k must be an int, got {k!r} for {x._value.type}")
    if x.dtype is DType.bool:
        raise LuminaTypeError(f"topk: bool inputs are not supported (as torch on CPU), got {x._value.type}")
    if x.ndim == 0:   # torch: the one element, for k of 0 or 1
        x.reshape(1)._axes(dim, "topk")
        if not 0 <= k <= 1:
            raise LuminaIndexError(f"topk: selected index k={k} out of range for the 0-d {x._value.type}")
        return topk_result(x.clone(), zeros((), dtype=DType.int64))
    d = x._axes(dim, "topk")[0]
    n = x.shape[d]
    if not 0 <= k <= n:
        raise LuminaIndexError(f"topk: selected index k={k} out of range for dim {d} of size {n} of "
                               f"{x._value.type} (k must be in [0, {n}])")
    if k == 0:
        empty = x[(slice(None),) * d + (slice(0, 0),)]
        return topk_result(empty.clone(), empty.to(DType.int64))
    if k > UNROLL and n > RANKED:   # a long axis: the bitonic network's order, cut to k
        values, indices = sorted_along(x, d, bool(largest))
        return topk_result(values.narrow(d, 0, int(k)), indices.narrow(d, 0, int(k)))
    with_grad = x
    x = x.detach()
    indices = (_indices_unrolled if k <= UNROLL else _indices_ranked)(x, int(k), d, bool(largest))
    return topk_result(_pick(with_grad, d, indices), indices)


def _comes_first(a: Tensor, ia: Tensor, b: Tensor, ib: Tensor, n: int, descending: bool) -> Tensor:
    """Whether element ``(a, ia)`` precedes ``(b, ib)`` in a stable sort: NaN above every number,
    equal values (NaNs equal to each other) by index, and padding (index ``>= n``) after everything."""
    if a.dtype.is_float:
        na, nb = a != a, b != b
        ahead = ((a > b) | (na & ~nb)) if descending else ((a < b) | (nb & ~na))
        tie = (a == b) | (na & nb)
    else:
        ahead, tie = (a > b) if descending else (a < b), a == b
    padded = (ia >= n) | (ib >= n)
    return where(padded, ia < ib, ahead | (tie & (ia < ib)))


def _sorted_bitonic(x: Tensor, descending: bool) -> tuple[Tensor, Tensor]:
    """``x`` sorted along its last axis and the source index of each element, by Batcher's bitonic
    network (K. E. Batcher, "Sorting networks and their applications", 1968).

    The axis is padded to ``N = 2^m`` (the padding sorts last) and ``m (m + 1) / 2`` stages of
    compare-exchange run over it; stage ``(k, j)`` pairs place ``p`` with ``p + j`` inside blocks of
    ``2j``, in ascending order where ``p & k == 0``, descending elsewhere. Ties are broken by the
    source index, so the result is the stable order. Work ``N log2(N)^2 / 2`` per slice, memory
    linear. The values move by selects on a detached mask, so the gradient of each output goes to
    the element it came from."""
    n = x.shape[-1]
    size = 1 << max(n - 1, 0).bit_length()
    lead = x.shape[:-1]
    values = pad(x, (0, size - n)) if size > n else x
    index = _positions(size, values.ndim - 1, values.ndim).expand(values.shape)
    k = 2
    while k <= size:
        j = k // 2
        while j >= 1:
            shape = lead + (size // (2 * j), 2, j)
            v, i = values.reshape(shape), index.reshape(shape)
            a, b, ia, ib = v[..., 0, :], v[..., 1, :], i[..., 0, :], i[..., 1, :]
            blocks = np.arange(size // (2 * j)) * (2 * j)
            upward = tensor(((blocks & k) == 0).reshape(-1, 1))
            with no_grad():
                swap = _comes_first(a.detach(), ia, b.detach(), ib, n, descending) != upward
            values = stack([where(swap, b, a), where(swap, a, b)], -2).reshape(lead + (size,))
            index = stack([where(swap, ib, ia), where(swap, ia, ib)], -2).reshape(lead + (size,))
            j //= 2
        k *= 2
    return values[..., :n], index[..., :n]


def sorted_along(x: Tensor, axis: int, descending: bool) -> tuple[Tensor, Tensor]:
    """``x`` stably sorted along ``axis`` (NaN above every number, as torch) and the int64 source
    indices: through every element's rank for axes up to ``RANKED`` long (work ``n^2`` per slice,
    a few fused reductions), by the bitonic network beyond (``_sorted_bitonic``). Bool sorts as
    ``False < True``. The gradient of each value goes to its source element."""
    n = x.shape[axis]
    key = x.to(DType.int32) if x.dtype is DType.bool else x
    if n <= RANKED:
        indices = _indices_ranked(key.detach(), n, axis, bool(descending))
        return _pick(x, axis, indices), indices
    last = x.ndim - 1
    moved = x.transpose(axis, last) if axis != last else x
    keyed = moved.to(DType.int32) if x.dtype is DType.bool else moved
    values, indices = _sorted_bitonic(keyed, bool(descending))
    if x.dtype is DType.bool:
        values = values.to(DType.bool)
    if axis != last:
        values, indices = values.transpose(axis, last), indices.transpose(axis, last)
    return values, indices


class SelectionMethods:
    """``Tensor``'s selections by order (the package copies them onto ``Tensor``)."""

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        """``torch.Tensor.topk``; see ``topk``."""
        return topk(self, k, dim, largest, sorted)
