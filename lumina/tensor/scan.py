"""Scans: ``cumsum`` as a decomposition into ``dot`` with a triangular 0/1 matrix, ``cumprod`` as
log-depth shifted multiplies, and the running extremes ``cummax`` / ``cummin`` (with their indices)
and ``logcumsumexp`` as log-depth shifted combines.

Why a dot rather than log-depth shifted adds (Hillis & Steele): the shifted-add scan is
``log2(n)`` dependent ``pad + slice + add`` levels; fused into one kernel, each level re-reads the
one before it twice, so a fully fused scan recomputes ``O(n)`` loads per element, and materialising
every level costs ``log2(n)`` full passes over memory. A dot with ``T[i, j] = [i <= j]`` runs on
the packed GEMM micro-kernel, adds in a fixed order, and its gradient is the transposed dot (the
reversed cumsum) with no extra rule. To keep the work linear in ``n`` for long axes it is blocked
(two-level, as a blocked prefix sum): the axis is cut into blocks of ``BLOCK``, each block is
scanned by the triangular dot (``n * BLOCK`` multiply-adds), and the block totals are scanned
recursively and added back as exclusive offsets.

A triangular dot multiplies every element by the zeros above the diagonal too, so one infinity or
NaN would spoil every output of its row (``inf * 0`` is NaN). Floats are therefore scanned with
their non-finite elements zeroed, and the running counts of ``+inf``, ``-inf`` and NaN (one int64 scan of the three
indicators stacked) put IEEE's sums back: NaN after a NaN or after both infinities, otherwise the
infinity seen so far.

``cumprod`` has no matrix form, so it is the shifted scan (Hillis & Steele): ``log2(n)`` levels of
``x * pad(x[..., :n - s], (s, 0), value=1)`` for ``s = 1, 2, 4, ...``. Its gradient comes from
autodiff through the multiplies: exact products of the other factors, zeros included.

``cummax`` / ``cummin`` and ``logcumsumexp`` are the same shifted scan over an associative combine
(a (value, index) max; a log-add-exp); see ``_running_extreme`` and ``_log_add_exp``.
"""
from __future__ import annotations

from collections import namedtuple

from ..errors import LuminaTypeError
from ..ir import graph as B
from ..ir.dtypes import DType, to_dtype
from .core import Tensor, no_grad
from .creation import arange, zeros
from .elementwise import maximum, where
from .movement import cat, pad, stack

BLOCK = 128


def _triangular_dot(x: Tensor) -> Tensor:
    """Inclusive scan along the last axis of ``x`` (length ``n <= BLOCK``) as ``x @ T``."""
    n = x.shape[-1]
    i = arange(n)
    upper = (i.reshape(n, 1) <= i.reshape(1, n)).to(x.dtype)  # T[i, j] = 1 for i <= j
    return Tensor._result(B.dot(x._touch(), upper._touch(), contract=((x.ndim - 1,), (0,))), x)


def _scan_last(x: Tensor) -> Tensor:
    n = x.shape[-1]
    if n <= BLOCK:
        return _triangular_dot(x)
    m = -(-n // BLOCK)
    xp = pad(x, (0, m * BLOCK - n)).reshape(x.shape[:-1] + (m, BLOCK))
    local = _triangular_dot(xp)                                   # [..., m, BLOCK]
    totals = local[..., BLOCK - 1]                                # [..., m]
    before = pad(_scan_last(totals)[..., :m - 1], (1, 0))         # exclusive scan of the totals
    out = (local + before.unsqueeze(-1)).reshape(x.shape[:-1] + (m * BLOCK,))
    return out[..., :n]


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """``torch.cumsum``: ``out[..., j, ...] = sum_{i <= j} x[..., i, ...]`` along ``dim``, ``x``
    being ``input``.

    Same shape as ``x``; bool and integer inputs accumulate in int64 (as PyTorch), floats keep their
    dtype unless ``dtype`` is given. Raises LuminaValueError for a bad ``dim``.
    """
    x = input
    target = to_dtype(dtype) if dtype is not None else (x.dtype if x.dtype.is_float else DType.int64)
    if x.ndim == 0:
        return x.to(target)
    d = x._axes(dim, "cumsum")[0]
    x = x.to(target)
    if x.shape[d] == 0 or x.numel() == 0:
        return x
    last = x.ndim - 1
    xt = x.transpose(d, last) if d != last else x
    out = _scan_finite(xt) if x.dtype.is_float else _scan_last(xt)
    return out.transpose(d, last) if d != last else out


def _scan_finite(x: Tensor) -> Tensor:
    """The inclusive scan of a float ``x`` along its last axis with IEEE semantics for inf and NaN
    (see the module docstring)."""
    inf = float("inf")
    finite = x.abs() < inf                                  # False for +-inf and NaN
    total = _scan_last(where(finite, x, 0.0))
    with no_grad():
        counts = _scan_last(stack([x == inf, x == -inf, x != x]).to(DType.int64))
        pos, neg, nan = counts[0] > 0, counts[1] > 0, counts[2] > 0
        signed_inf = where(pos, total * 0.0 + inf, -inf)       # total * 0 + inf: a tensor of x's dtype
        special = where(nan | (pos & neg), float("nan"), signed_inf)
        any_special = pos | neg | nan
    # Past a non-finite element the value is ``special``, but the gradient still flows into the
    # finite partial sums (``total - total`` is 0: total is finite), as torch's reversed cumsum.
    return where(any_special, special + (total - total.detach()), total)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """``torch.cumprod``: ``out[..., j, ...] = prod_{i <= j} x[..., i, ...]`` along ``dim``, ``x``
    being ``input``.

    Same shape as ``x``; bool and integer inputs multiply in int64 (as PyTorch; integer products
    wrap), floats keep their dtype unless ``dtype`` is given. The order of the multiplies is a
    tree, not torch's left-to-right one: a product that overflows or underflows part way can
    differ (see the module docstring). Raises LuminaIndexError for a bad ``dim``."""
    x = input
    target = to_dtype(dtype) if dtype is not None else (x.dtype if x.dtype.is_float else DType.int64)
    if x.ndim == 0:
        x.reshape(1)._axes(dim, "cumprod")
        return x.to(target).clone()
    d = x._axes(dim, "cumprod")[0]
    x = x.to(target)
    n = x.shape[d]
    if n == 0 or x.numel() == 0:
        return x.clone()
    last = x.ndim - 1
    y = x.transpose(d, last) if d != last else x
    shift = 1
    while shift < n:
        y = y * pad(y[..., :n - shift], (shift, 0), value=1)
        shift *= 2
    return y.transpose(d, last) if d != last else y


# torch.return_types.cummax / .cummin: named tuples of (values, indices).
cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])


def _shifted(y: Tensor, s: int) -> Tensor:
    """``y`` moved ``s`` places later along its last axis (the first ``s`` places repeat ``y[..., :1]``:
    callers mask them out)."""
    n = y.shape[-1]
    return cat([y[..., :1].expand(y.shape[:-1] + (s,)), y[..., :n - s]], -1)


def _running_extreme(x: Tensor, largest: bool) -> tuple[Tensor, Tensor]:
    """The running max (min) of ``x`` along its last axis and the index where it was reached.

    A Hillis & Steele scan of (value, index) pairs: ``log2(n)`` levels, each combining every place
    with the one ``s`` before it. The combine keeps the later pair when its value is at least
    (at most) the earlier one's or is NaN, and the earlier pair when only that one is NaN: the max
    in the order (value, index) with NaN above every number, which is associative, so the scan is
    exact. That is torch's rule: NaN propagates, with the index of the latest NaN, and ties take
    the latest index. The values move by selects, so the gradient goes to the element each index
    names (torch's ``cummax`` backward scatters into the indices)."""
    n = x.shape[-1]
    values, indices = x, arange(n).expand(x.shape)
    pos = arange(n)
    s = 1
    while s < n:
        prev_v, prev_i = _shifted(values, s), _shifted(indices, s)
        key, prev_key = values, prev_v
        if x.dtype is DType.bool:     # ordered as False < True
            key, prev_key = key.to(DType.int32), prev_key.to(DType.int32)
        with no_grad():
            later_wins = (key >= prev_key) if largest else (key <= prev_key)
            if x.dtype.is_float:
                later_wins = (key != key) | ((prev_key == prev_key) & later_wins)
            keep = (pos < s) | later_wins
        values, indices = where(keep, values, prev_v), where(keep, indices, prev_i)
        s *= 2
    return (values if n > 1 else values.clone()), indices


def _cumulative_extreme(input: Tensor, dim: int, largest: bool):
    op = "cummax" if largest else "cummin"
    result = cummax_result if largest else cummin_result
    x = input
    if x.ndim == 0:
        x.reshape(1)._axes(dim, op)
        return result(x.clone(), zeros((), dtype=DType.int64))
    d = x._axes(dim, op)[0]
    if x.numel() == 0:
        return result(x.clone(), zeros(x.shape, dtype=DType.int64))
    last = x.ndim - 1
    xt = x.transpose(d, last) if d != last else x
    values, indices = _running_extreme(xt, largest)
    if d != last:
        values, indices = values.transpose(d, last), indices.transpose(d, last)
    return result(values, indices)


def cummax(input: Tensor, dim: int):
    """``torch.cummax``: ``values[..., j, ...] = max_{i <= j} x[..., i, ...]`` along ``dim`` and the
    index (int64) where that maximum was last reached, as a ``(values, indices)`` named tuple.

    Same shape and dtype as ``x`` (every dtype, bool included). NaN propagates from the first NaN
    on, its index the latest NaN's; equal maxima take the latest index; the gradient goes to the
    indexed element (https://pytorch.org/docs/2.13/generated/torch.cummax.html). Work
    ``n log2 n`` per slice (see ``_running_extreme``). Raises LuminaIndexError for a bad ``dim``."""
    return _cumulative_extreme(input, dim, True)


def cummin(input: Tensor, dim: int):
    """``torch.cummin``: the running minimum along ``dim`` and its index; see ``cummax``."""
    return _cumulative_extreme(input, dim, False)


def _log_add_exp(a: Tensor, b: Tensor) -> Tensor:
    """``log(exp(a) + exp(b))`` shifted by the larger operand (held constant, so the gradient is
    exactly the softmax weights); a non-finite shift is replaced by 0, which keeps ``-inf + -inf``
    at ``-inf``, ``+inf`` at ``+inf`` and NaN at NaN."""
    with no_grad():
        m = maximum(a, b)
        m = where(m.abs() < float("inf"), m, 0.0)
    return m + ((a - m).exp() + (b - m).exp()).log()


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``torch.logcumsumexp``: ``out[..., j, ...] = log(sum_{i <= j} exp(x[..., i, ...]))`` along
    ``dim``, without overflow (https://pytorch.org/docs/2.13/generated/torch.logcumsumexp.html).

    Same shape and (floating) dtype as ``x``; a Hillis & Steele scan of ``log2(n)`` levels of a
    shifted log-add-exp (see ``_log_add_exp``). The gradient is the softmax weight of each input in
    every later output: 0 at a -inf input, NaN where every input up to it is -inf, as torch's. Raises
    LuminaTypeError for integer and bool inputs (torch has no integer kernel) and LuminaIndexError
    for a bad ``dim``."""
    x = input
    if not x.dtype.is_float:
        raise LuminaTypeError(f"logcumsumexp: integer and bool inputs are not supported (as torch), got "
                              f"{x._value.type}")
    if x.ndim == 0:
        x.reshape(1)._axes(dim, "logcumsumexp")
        return x.clone()
    d = x._axes(dim, "logcumsumexp")[0]
    n = x.shape[d]
    if n == 0 or x.numel() == 0:
        return x.clone()
    last = x.ndim - 1
    y = x.transpose(d, last) if d != last else x
    pos = arange(n)
    s = 1
    while s < n:
        y = where(pos < s, y, _log_add_exp(y, _shifted(y, s)))
        s *= 2
    if n == 1:      # a new tensor, as torch's, not the input itself
        y = y.clone()
    return y.transpose(d, last) if d != last else y


class ScanMethods:
    """``Tensor``'s scans (the package copies them onto ``Tensor``)."""

    def cumsum(self, dim: int, *, dtype=None) -> Tensor:
        """Inclusive prefix sums along ``dim``; see ``cumsum``."""
        return cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: int, *, dtype=None) -> Tensor:
        """Inclusive prefix products along ``dim``; see ``cumprod``."""
        return cumprod(self, dim, dtype=dtype)

    def cummax(self, dim: int):
        """Running maximum along ``dim`` and its index; see ``cummax``."""
        return cummax(self, dim)

    def cummin(self, dim: int):
        """Running minimum along ``dim`` and its index; see ``cummin``."""
        return cummin(self, dim)

    def logcumsumexp(self, dim: int) -> Tensor:
        """Running log-sum-exp along ``dim``; see ``logcumsumexp``."""
        return logcumsumexp(self, dim)
