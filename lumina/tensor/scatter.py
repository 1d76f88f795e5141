"""Writing by index along one dim: ``scatter``, ``scatter_add`` and ``scatter_reduce`` (PyTorch
2.13's semantics), out of place and in place (``scatter_``, ``scatter_add_``,
``scatter_reduce_``, through ``lumina.tensor.inplace.update``); the index ops built on them
(``index_add``, ``index_copy``, ``index_fill``, ``index_put``, ``masked_scatter``, with their
in-place forms) and the reads that need a cumulative sum or the values of a mask (``take``,
``masked_select``, ``repeat_interleave``), with ``Tensor.where``.

For ``dim == 0``, ``out[index[i][j]][j] = src[i][j]`` (``scatter``), ``+=`` (``scatter_add``), or
folded by ``reduce`` (``scatter_reduce``: "sum", "prod", "mean", "amax", "amin"; with
``include_self`` the original element takes part). ``index`` has ``self``'s rank, is no larger than
``self`` outside ``dim`` and no larger than ``src`` anywhere: only the leading block of ``self``
that it covers can change, and only the leading block of ``src`` is read.

lumina has no scatter primitive. A scatter compares every index with the positions it may write
(``hit = index.unsqueeze(dim + 1) == arange(n)``: ``index``'s shape with the written dim's size
``n`` inserted after ``dim``) and folds the updates in with ``where`` and one reduction over
``index``'s ``dim`` (a sum, a product tree, a max): work ``numel(index) * n``, fused into one
reduction. Gradients come from autodiff through that decomposition:

* ``scatter``: ``self`` gets the gradient where nothing is written, ``src`` where it is written.
  With duplicate indices, which torch leaves undefined, the last update along ``dim`` wins (as
  ONNX's reference implementation), and it alone gets the gradient (torch's reaches every one).
* "sum" / "mean": as torch.
* "amax" / "amin": shared evenly among the elements equal to the result, ``self`` included with
  ``include_self``, as torch's backward.
* "prod": the exact product of the other factors (no division), zeros included.

Valid indices are ``[0, self.shape[dim])``; others raise LuminaIndexError, at once when the index
values are known, else when the kernel runs (``indexing.checked_index``). The ONNX importer calls
``scatter_along`` with ``negative=True`` (ONNX counts negative indices from the end).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaIndexError, LuminaShapeError, LuminaTraceError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from ..ir.ops import Op
from ..ir.types import TensorType
from ..tracing import STATE
from .core import Tensor
from .creation import arange, tensor
from .elementwise import binary_op, where
from .indexing import as_index, checked_index, index_select, known_values, linear_index, select_slices
from .indexing import take as take_slices
from .inplace import masked_fill, update
from .movement import cat, pad
from .reductions import amax, amin, product_last
from .scan import cumsum
from .shapes import broadcast_shapes

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
"""``scatter_reduce``'s reductions (torch's names)."""

_LEGACY = {"add": "sum", "multiply": "prod"}   # scatter(..., reduce=), deprecated in torch


def _positions(n: int, axis: int, rank: int) -> Tensor:
    return arange(n).reshape([n if a == axis else 1 for a in range(rank)])


def _extreme(dtype: DType, lowest: bool):
    if dtype.is_float:
        return -math.inf if lowest else math.inf
    info = np.iinfo(dtype.numpy)
    return int(info.min) if lowest else int(info.max)


def _floor_divide(a: Tensor, b: Tensor) -> Tensor:
    """Integer ``a // b`` rounded toward -inf (torch's integer ``mean``) for ``b > 0``: lumina's
    integer ``div`` truncates toward zero, so a negative remainder steps the quotient down."""
    dt = a.dtype
    q = binary_op(Op.DIV, a, b, dt, "scatter_reduce")
    return where(a - q * b < 0, q - 1, q)


def _fold(target: Tensor, hit: Tensor, upd, d: int, reduce: str | None, include_self: bool) -> Tensor:
    """``target`` (``self``'s block) with the updates folded in along ``d``. ``hit`` (bool, rank
    ``target.ndim + 1``) says which update (along ``d``) writes which position (along ``d + 1``);
    ``upd`` is a tensor broadcasting to it, or a number (``scatter``'s value)."""
    dtype = target.dtype
    if dtype is DType.bool:   # torch's bool arithmetic: sum is or, prod is and
        wide = upd.to(DType.int64) if isinstance(upd, Tensor) else int(bool(upd))
        out = _fold(target.to(DType.int64), hit, wide, d, reduce, include_self)
        return out != 0
    touched = amax(hit, d)
    zero = -0.0 if dtype.is_float else 0     # -0.0: the sum of nothing keeps a -0.0's sign
    if reduce is None:
        if not isinstance(upd, Tensor):
            return where(touched, upd, target).to(dtype)
        order = _positions(hit.shape[d], d, hit.ndim)
        last = amax(where(hit, order, -1), d, keepdim=True)            # the last update per position
        return where(touched, where(hit & (order == last), upd, zero).sum(d).to(dtype), target)
    if reduce == "sum":
        total = where(hit, upd, zero).sum(d).to(dtype)
        return (target + total).to(dtype) if include_self else where(touched, total, target)
    if reduce == "prod":
        moved = where(hit, upd, 1)
        moved = moved.permute([a for a in range(moved.ndim) if a != d] + [d])
        total = product_last(moved).to(dtype)
        return (target * total).to(dtype) if include_self else where(touched, total, target)
    if reduce == "mean":
        total = where(hit, upd, zero).sum(d).to(dtype)
        count = hit.to(DType.int64).sum(d)
        if include_self:
            total, count = (target + total).to(dtype), count + 1
        count = count.clamp(min=1)
        mean = (total / count).to(dtype) if dtype.is_float else _floor_divide(total.to(DType.int64), count).to(dtype)
        return mean if include_self else where(touched, mean, target)
    fill = _extreme(dtype, lowest=reduce == "amax")
    cand = where(hit, upd, fill).to(dtype)
    if include_self:
        cand = cat([target.unsqueeze(d), cand], d)
    best = amax(cand, d) if reduce == "amax" else amin(cand, d)
    return where(touched, best, target)


def scatter_along(x: Tensor, dim: int, index, src, reduce: str | None, include_self: bool = True, *,
                  op: str, negative: bool = False, checked: bool = False) -> Tensor:
    """The scatter of the module docstring, for every public form and for the ONNX importer:
    ``src`` a tensor or a number, ``reduce`` None (replace) or one of ``REDUCTIONS``; ``op`` names
    the caller in errors; ``negative``: indices in ``[-n, n)`` count from the end; ``checked``: the
    indices are int64 and in range already (the caller checked them).

    Raises LuminaShapeError for an index or ``src`` whose rank or sizes do not fit, LuminaTypeError
    for a ``src`` of another dtype (torch does not cast) or a non-integer index, LuminaValueError
    for an unknown reduction, LuminaIndexError for a dim or an index out of range."""
    if reduce is not None and reduce not in REDUCTIONS:
        raise LuminaValueError(f"{op}: reduce must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduce!r}")
    idx = as_index(index, op)
    is_tensor = isinstance(src, Tensor)
    if not is_tensor and not isinstance(src, (int, float, bool, np.number, np.bool_)):
        raise LuminaTypeError(f"{op}: src must be a tensor or a number, got {type(src).__name__}")
    if not is_tensor and x.dtype.is_int and isinstance(src, (float, np.floating)) and not (
            math.isfinite(src) and np.iinfo(x.dtype.numpy).min <= src <= np.iinfo(x.dtype.numpy).max):
        raise LuminaValueError(f"{op}: value {src} cannot be converted to {x.dtype.name} without overflow (as torch), "
                               f"for {x._value.type}")
    if x.ndim == 0:   # a 0-d self scatters as one element along dim 0 / -1
        x.reshape(1)._axes(dim, op)
        out = scatter_along(x.reshape(1), 0, idx.reshape(-1) if idx.ndim == 0 else idx,
                            src.reshape(-1) if is_tensor and src.ndim == 0 else src, reduce, include_self,
                            op=op, negative=negative, checked=checked)
        return out.reshape(())
    d = x._axes(dim, op)[0]
    if idx.ndim != x.ndim:
        raise LuminaShapeError(f"{op}: index {idx._value.type} must have as many dims as self {x._value.type}")
    if is_tensor:
        if src.ndim != x.ndim:
            raise LuminaShapeError(f"{op}: src {src._value.type} must have as many dims as self {x._value.type}")
        if src.dtype is not x.dtype:
            raise LuminaTypeError(f"{op}: src {src._value.type} must have self's dtype {x.dtype.name} (as torch)")
    if any(i > s for a, (i, s) in enumerate(zip(idx.shape, x.shape)) if a != d) or \
            (is_tensor and any(i > s for i, s in zip(idx.shape, src.shape))):
        raise LuminaShapeError(f"{op}: index {idx._value.type} must be no larger than self {x._value.type} outside "
                               f"dim {d}" + (f" and no larger than src {src._value.type}" if is_tensor else ""))
    if idx.numel() == 0:
        return x.clone()
    n = x.shape[d]
    if not checked:
        idx = checked_index(idx, n, op, f"dim {d} of {x._value.type}", negative=negative)
    block = tuple(slice(None) if a == d else slice(0, i) for a, i in enumerate(idx.shape))
    partial = any(i != s for a, (i, s) in enumerate(zip(idx.shape, x.shape)) if a != d)
    target = x[block] if partial else x
    upd = src
    if is_tensor:
        upd = src[tuple(slice(0, i) for i in idx.shape)] if src.shape != idx.shape else src
        upd = upd.unsqueeze(d + 1)
    hit = idx.unsqueeze(d + 1) == _positions(n, d + 1, x.ndim + 1)     # update j (along d) writes position p
    out = _fold(target, hit, upd, d, reduce, include_self)
    if not partial:
        return out
    grow = []
    for a in reversed(range(x.ndim)):
        grow += [0, x.shape[a] - out.shape[a]]
    inside = np.zeros(x.shape, bool)
    inside[block] = True
    return where(tensor(inside), pad(out, grow), x)


def _legacy_reduce(reduce, op: str) -> str | None:
    if reduce is None:
        return None
    if reduce not in _LEGACY:
        raise LuminaValueError(f"{op}: reduce must be 'add' or 'multiply', got {reduce!r} (scatter_reduce takes "
                               f"{', '.join(map(repr, REDUCTIONS))})")
    return _LEGACY[reduce]


def scatter(input: Tensor, dim: int, index, src, *, reduce: str | None = None) -> Tensor:
    """``torch.scatter``: ``input`` with ``src``'s elements (a tensor of ``input``'s dtype, or a
    number, torch's ``value``) written at ``index`` along ``dim``; see the module docstring.
    ``reduce`` "add" / "multiply" (deprecated in torch) accumulates instead, as
    ``scatter_reduce``'s "sum" / "prod" with ``include_self``. Output: ``input``'s shape and
    dtype."""
    return scatter_along(input, dim, index, src, _legacy_reduce(reduce, "scatter"), op="scatter")


def scatter_add(input: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """``torch.scatter_add``: ``input`` plus ``src``'s elements added at ``index`` along ``dim``
    (duplicates accumulate); ``scatter_reduce(..., "sum")``."""
    return scatter_along(input, dim, index, _as_src(src, "scatter_add"), "sum", op="scatter_add")


def scatter_reduce(input: Tensor, dim: int, index, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
    """``torch.scatter_reduce``: ``src``'s elements folded into ``input`` at ``index`` along
    ``dim`` by ``reduce`` ("sum", "prod", "mean", "amax", "amin"; integer "mean" rounds toward
    -inf, as torch), ``input``'s element taking part with ``include_self``; elements no index names
    keep ``input``'s value. NaN propagates through "amax" / "amin"."""
    return scatter_along(input, dim, index, _as_src(src, "scatter_reduce"), reduce, include_self,
                         op="scatter_reduce")


def _as_src(src, op: str) -> Tensor:
    if not isinstance(src, Tensor):
        raise LuminaTypeError(f"{op}: src must be a tensor, got {type(src).__name__} (as torch)")
    return src


class ScatterMethods:
    """``Tensor``'s scatters, out of place and in place (the package copies them onto ``Tensor``)."""

    def scatter(self, dim: int, index, src, *, reduce: str | None = None) -> Tensor:
        """``torch.Tensor.scatter``; see ``scatter``."""
        return scatter(self, dim, index, src, reduce=reduce)

    def scatter_add(self, dim: int, index, src) -> Tensor:
        """``torch.Tensor.scatter_add``; see ``scatter_add``."""
        return scatter_add(self, dim, index, src)

    def scatter_reduce(self, dim: int, index, src, reduce: str, *, include_self: bool = True) -> Tensor:
        """``torch.Tensor.scatter_reduce``; see ``scatter_reduce``."""
        return scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_(self, dim: int, index, src, *, reduce: str | None = None) -> Tensor:
        """``torch.Tensor.scatter_``: ``scatter`` written into ``self`` (``inplace.update``:
        torch's in-place checks and version counter); returns ``self``."""
        return update(self, "scatter_", lambda: scatter(self, dim, index, src, reduce=reduce), (index, src))

    def scatter_add_(self, dim: int, index, src) -> Tensor:
        """``torch.Tensor.scatter_add_``: ``scatter_add`` in place; see ``scatter_``."""
        return update(self, "scatter_add_", lambda: scatter_add(self, dim, index, src), (index, src))

    def scatter_reduce_(self, dim: int, index, src, reduce: str, *, include_self: bool = True) -> Tensor:
        """``torch.Tensor.scatter_reduce_``: ``scatter_reduce`` in place; see ``scatter_``."""
        return update(self, "scatter_reduce_",
                      lambda: scatter_reduce(self, dim, index, src, reduce, include_self=include_self), (index, src))


# ---- index_add / index_copy / index_fill / index_put / masked_scatter -------------------------------

def _index_vector(index, x: Tensor, d: int, op: str, long_only: bool) -> Tensor:
    """``index`` as a 1-D integer tensor (a 0-d one is one index); LuminaTypeError for another
    dtype (int64 only with ``long_only``, as torch's ``index_copy`` / ``index_fill``),
    LuminaShapeError for more dims."""
    idx = as_index(index, op)
    if long_only and idx.dtype is not DType.int64:
        raise LuminaTypeError(f"{op}: expected an int64 index, got {idx._value.type} (as torch)")
    if idx.ndim > 1:
        raise LuminaShapeError(f"{op}: index must be a vector or a scalar, got {idx._value.type} for "
                               f"{x._value.type}")
    return idx.reshape(1) if idx.ndim == 0 else idx     # a known index stays known (checked at once)


def _index_source(x: Tensor, dim: int, index, source, op: str, long_only: bool = False):
    """The checks ``index_add`` / ``index_copy`` share: returns ``(d, index expanded to source's
    shape and checked against [0, x.shape[d]), source)``."""
    if not isinstance(source, Tensor):
        raise LuminaTypeError(f"{op}: source must be a tensor, got {type(source).__name__}")
    d = x._axes(dim, op)[0]
    idx = _index_vector(index, x, d, op, long_only)
    if source.dtype is not x.dtype:
        raise LuminaTypeError(f"{op}: self {x._value.type} and source {source._value.type} must have the same "
                              "dtype (as torch)")
    src = source.reshape(1) if source.ndim == 0 and x.ndim == 1 else source
    if src.ndim != x.ndim or any(s != t for a, (s, t) in enumerate(zip(src.shape, x.shape)) if a != d):
        raise LuminaShapeError(f"{op}: source {source._value.type} must match self {x._value.type} outside "
                               f"dim {d}")
    if src.shape[d] != idx.shape[0]:
        raise LuminaShapeError(f"{op}: the number of indices ({idx.shape[0]}) must equal source.size({d}) = "
                               f"{src.shape[d]}")
    checked = checked_index(idx, x.shape[d], op, f"dim {d} of {x._value.type}", negative=False)
    full = checked.reshape([-1 if a == d else 1 for a in range(x.ndim)]).expand(src.shape)
    return d, full, src


def _scalar_self(fn, x: Tensor, dim: int, index, other, op: str) -> Tensor:
    """A 0-d ``self`` indexed as a 1-element vector along dim 0 / -1 (as torch)."""
    x.reshape(1)._axes(dim, op)
    other = other.reshape(-1) if isinstance(other, Tensor) and other.ndim == 0 else other
    return fn(x.reshape(1), 0, index, other).reshape(())


def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """``torch.index_add``: ``input`` with ``alpha * source[..., i, ...]`` added to the slice
    ``index[i]`` along ``dim`` (repeated indices accumulate); output ``input``'s shape and dtype.

    ``index``: 1-D (or 0-d) int32 / int64, entries in ``[0, input.shape[dim])``; ``source`` has
    ``input``'s dtype, rank and sizes except ``source.shape[dim] == len(index)``. ``alpha`` is cast
    to the dtype (truncated for integers, ``bool(alpha)`` for bool, as torch). A ``scatter_add``
    of ``source`` with the index expanded along the other dims. Raises LuminaTypeError,
    LuminaShapeError, LuminaIndexError (for an index out of range, when it is known or when the
    kernel runs). https://pytorch.org/docs/2.13/generated/torch.Tensor.index_add_.html
    """
    if input.ndim == 0:
        return _scalar_self(lambda x, d, i, s: index_add(x, d, i, s, alpha=alpha), input, dim, index, source,
                            "index_add")
    d, full, src = _index_source(input, dim, index, source, "index_add")
    if alpha != 1:
        if input.dtype is DType.bool:
            src = src & bool(alpha)
        else:
            src = (src * (int(alpha) if input.dtype.is_int else alpha)).to(input.dtype)
    return scatter_along(input, d, full, src, "sum", op="index_add", checked=True)


def index_copy(input: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """``torch.index_copy``: ``input`` with the slice ``index[i]`` along ``dim`` replaced by
    ``source[..., i, ...]``. ``index`` int64 (as torch), 1-D or 0-d, in ``[0, size)``; shapes and
    errors as ``index_add``. With a repeated index the last slice wins (torch leaves it
    undefined). https://pytorch.org/docs/2.13/generated/torch.Tensor.index_copy_.html"""
    if input.ndim == 0:
        return _scalar_self(index_copy, input, dim, index, source, "index_copy")
    d, full, src = _index_source(input, dim, index, source, "index_copy", long_only=True)
    return scatter_along(input, d, full, src, None, op="index_copy", checked=True)


def index_fill(input: Tensor, dim: int, index, value) -> Tensor:
    """``torch.index_fill``: ``input`` with the slices ``index`` along ``dim`` set to ``value`` (a
    number or a 0-d tensor, cast to ``input``'s dtype as ``masked_fill``). ``index``: 1-D or 0-d
    int64, entries in ``[-size, size)`` (negative ones count from the end, as torch). Output
    ``input``'s shape and dtype; the gradient reaches ``input`` outside the filled slices (and a
    tensor ``value``). https://pytorch.org/docs/2.13/generated/torch.Tensor.index_fill_.html"""
    if input.ndim == 0:
        return _scalar_self(index_fill, input, dim, index, value, "index_fill")
    d = input._axes(dim, "index_fill")[0]
    idx = _index_vector(index, input, d, "index_fill", long_only=True)
    n = input.shape[d]
    if idx.numel() == 0:
        return masked_fill(input, tensor(np.zeros((), bool)), value, "index_fill")
    checked = checked_index(idx, n, "index_fill", f"dim {d} of {input._value.type}")
    hit = amax(checked.unsqueeze(1) == arange(n).unsqueeze(0), 0)
    mask = hit.reshape([n if a == d else 1 for a in range(input.ndim)])
    return masked_fill(input, mask, value, "index_fill")


def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """``torch.index_put``: ``input[indices] = values`` out of place (``+=`` with ``accumulate``,
    where repeated indices add up; without, the last write wins as torch's CPU kernel).

    ``indices``: a tuple or list of index tensors for the leading dims (int32 / int64, negative
    ones count from the end, or bool masks: with ``accumulate`` they need their values, so eager
    only), broadcasting
    together to a shape ``S``; ``values`` has ``input``'s dtype and broadcasts to ``S +
    input.shape[len(indices):]``. Raises LuminaTypeError (dtypes, a non-tensor), LuminaIndexError
    (too many indices, an index out of range), LuminaShapeError (shapes that do not broadcast).
    https://pytorch.org/docs/2.13/generated/torch.Tensor.index_put_.html"""
    if not isinstance(indices, (tuple, list)) or not all(isinstance(i, Tensor) for i in indices):
        raise LuminaTypeError(f"index_put: indices must be a tuple of tensors, got {indices!r}")
    if not isinstance(values, Tensor):
        raise LuminaTypeError(f"index_put: values must be a tensor, got {type(values).__name__} (as torch)")
    if values.dtype is not input.dtype:
        raise LuminaTypeError(f"index_put: values {values._value.type} must have the dtype of {input._value.type} "
                              "(as torch)")
    n_dims = sum(i.ndim if i.dtype is DType.bool else 1 for i in indices)
    if n_dims > input.ndim:
        raise LuminaIndexError(f"index_put: too many indices for {input._value.type} (got {n_dims})")
    if not accumulate:      # x[indices] = values, whose bool masks need no values when they broadcast
        out = input.clone()
        out[tuple(indices)] = values
        return out
    arrays = []
    for i in indices:
        if i.dtype is DType.bool:
            _eager_only("index_put", f"the bool index {i._value.type} (with accumulate=True)")
            arrays += [tensor(a.astype(np.int64)) for a in np.nonzero(i.numpy())]
        else:
            arrays.append(as_index(i, "index_put"))
    k = len(arrays)
    shape = broadcast_shapes("index_put", *(a._value.type for a in arrays))
    rest = input.shape[k:]
    merged = input.reshape((math.prod(input.shape[:k]),) + rest)
    lin = linear_index([(a, input.shape[j], j) for j, a in enumerate(arrays)], "index_put", input)
    lin = lin.expand(shape).reshape(-1)
    vals = values.expand(broadcast_shapes("index_put", values._value.type, TensorType(shape + rest, values.dtype)))
    vals = vals.reshape((lin.shape[0],) + rest)
    full = lin.reshape((-1,) + (1,) * len(rest)).expand(vals.shape)
    out = scatter_along(merged, 0, full, vals, "sum", op="index_put", checked=True)
    return out.reshape(input.shape)


def masked_scatter(input: Tensor, mask, source: Tensor) -> Tensor:
    """``torch.masked_scatter``: ``input`` (broadcast with the bool ``mask``) with the positions
    where ``mask`` is True, in row-major order, taking the leading elements of ``source`` in turn.

    ``source`` has ``input``'s dtype and at least as many elements as ``mask`` has True ones; the
    k-th True position reads ``source.flatten()[k]``, ``k`` from a cumulative sum of the mask. A
    short ``source`` raises LuminaIndexError (at once when the mask is known, else when the kernel
    runs); a mask that is not bool or a ``source`` of another dtype LuminaTypeError.
    https://pytorch.org/docs/2.13/generated/torch.Tensor.masked_scatter_.html"""
    mask = mask if isinstance(mask, Tensor) else tensor(mask)
    if mask.dtype is not DType.bool:
        raise LuminaTypeError(f"masked_scatter: only boolean masks are supported, got {mask._value.type}")
    if not isinstance(source, Tensor):
        raise LuminaTypeError(f"masked_scatter: source must be a tensor, got {type(source).__name__}")
    if source.dtype is not input.dtype:
        raise LuminaTypeError(f"masked_scatter: self {input._value.type} and source {source._value.type} must "
                              "have the same dtype (as torch)")
    shape = broadcast_shapes("masked_scatter", input._value.type, mask._value.type)
    flat_mask = mask.expand(shape).reshape(-1)
    flat = input.expand(shape).reshape(-1)
    n_src = source.numel()
    if n_src == 0 or flat_mask.numel() == 0:
        known = known_values(mask)
        if flat_mask.numel() and (known is None or known.any()):
            raise LuminaIndexError(f"masked_scatter: source {source._value.type} has fewer elements than the "
                                   f"mask {mask._value.type} has True ones")
        return flat.reshape(shape).clone()
    rank = cumsum(flat_mask.to(DType.int64), 0) - 1
    pos = where(flat_mask, rank, 0)
    checked = checked_index(pos, n_src, "masked_scatter", f"source {source._value.type}", negative=False,
                            name="element", note="source has fewer elements than the mask has True ones")
    picked = take_slices(source.reshape(-1), 0, checked)
    return where(flat_mask, picked, flat).reshape(shape)


# ---- reads: take / masked_select / repeat_interleave ------------------------------------------------

def take(input: Tensor, index) -> Tensor:
    """``torch.take``: ``input`` read as 1-D (row-major) at ``index`` (int64, any shape; entries in
    ``[-numel, numel)``, negative ones from the end); output ``index``'s shape, ``input``'s dtype.
    Raises LuminaTypeError for another index dtype, LuminaIndexError for an index out of range.
    https://pytorch.org/docs/2.13/generated/torch.take.html"""
    idx = as_index(index, "take")
    if idx.dtype is not DType.int64:
        raise LuminaTypeError(f"take: expected an int64 index, got {idx._value.type} (as torch)")
    return select_slices(input.reshape(-1), 0, idx, "take")


def _eager_only(op: str, what: str) -> None:
    if STATE.trace is not None:
        raise LuminaTraceError(f"{op}: the size of its result depends on the values of {what}, so it cannot run "
                               "inside @lumina.compile (as Tensor.item() / tolist()); run it eagerly"
                               + (", or pass output_size=" if op == "repeat_interleave" else ""))


def masked_select(input: Tensor, mask) -> Tensor:
    """``torch.masked_select``: the elements of ``input`` (broadcast with the bool ``mask``) where
    ``mask`` is True, as a 1-D tensor in row-major order (``input``'s dtype; the gradient flows
    back to those elements). The result's size depends on the mask's values, so this runs eagerly
    only: it computes the mask; inside ``@lumina.compile`` it raises LuminaTraceError. A mask that
    is not bool raises LuminaTypeError. https://pytorch.org/docs/2.13/generated/torch.masked_select.html"""
    mask = mask if isinstance(mask, Tensor) else tensor(mask)
    if mask.dtype is not DType.bool:
        raise LuminaTypeError(f"masked_select: expected a bool mask, got {mask._value.type} (as torch)")
    shape = broadcast_shapes("masked_select", input._value.type, mask._value.type)
    _eager_only("masked_select", f"the mask {mask._value.type}")
    where_true = np.flatnonzero(np.broadcast_to(mask.numpy(), shape)).astype(np.int64)
    return take_slices(input.expand(shape).reshape(-1), 0, tensor(where_true))


def repeat_interleave(input: Tensor, repeats, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    """``torch.repeat_interleave``: each slice of ``input`` along ``dim`` repeated ``repeats`` times
    in a row (``input`` flattened first when ``dim`` is None).

    ``repeats``: an int, or an integer tensor of one entry or of ``input.shape[dim]`` entries.
    Output: ``input``'s dtype, size ``sum(repeats)`` along ``dim``. Tensor repeats decide the
    output size by their values: they are computed eagerly; inside ``@lumina.compile`` they need
    ``output_size`` (then the source of output slice ``j`` is the count of cumulative repeats
    ``<= j``, and a total short of ``output_size`` raises LuminaIndexError when the kernel runs).
    Raises LuminaValueError for negative repeats or an ``output_size`` that differs from the
    total, LuminaTypeError / LuminaShapeError for a float or multi-dim ``repeats`` or one of the
    wrong length. https://pytorch.org/docs/2.13/generated/torch.repeat_interleave.html"""
    op = "repeat_interleave"
    if dim is not None and input.ndim == 0:      # torch: a 0-d tensor has no dim to repeat along
        raise LuminaIndexError(f"{op}: dim {dim} is out of range for the 0-d {input._value.type}; use dim=None")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else x._axes(dim, op)[0]
    n = x.shape[d]
    if isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        if repeats < 0:
            raise LuminaValueError(f"{op}: repeats must be non-negative, got {repeats}")
        if output_size is not None and output_size != n * int(repeats):
            raise LuminaValueError(f"{op}: output_size={output_size} differs from the total {n * int(repeats)}")
        grown = x.unsqueeze(d + 1).expand(x.shape[:d + 1] + (int(repeats),) + x.shape[d + 1:])
        return grown.reshape(x.shape[:d] + (n * int(repeats),) + x.shape[d + 1:])
    reps = repeats if isinstance(repeats, Tensor) else tensor(np.asarray(repeats))
    if not reps.dtype.is_int:
        raise LuminaTypeError(f"{op}: repeats must be an integer tensor, got {reps._value.type}")
    if reps.ndim > 1:
        raise LuminaShapeError(f"{op}: repeats must be a 0-d or 1-d tensor, got {reps._value.type}")
    if reps.numel() == 1 and n != 1:
        reps = reps.reshape(1).expand((n,))
    if reps.numel() != n:
        raise LuminaShapeError(f"{op}: repeats {reps._value.type} must have the size of dim {d} of "
                               f"{x._value.type} ({n})")
    reps = reps.reshape(-1)
    if STATE.trace is None:
        counts = reps.numpy().astype(np.int64)
        if (counts < 0).any():
            raise LuminaValueError(f"{op}: repeats must be non-negative, got {counts.min()}")
        if output_size is not None and output_size != int(counts.sum()):
            raise LuminaValueError(f"{op}: output_size={output_size} differs from the total {int(counts.sum())}")
        return index_select(x, d, tensor(np.repeat(np.arange(n, dtype=np.int64), counts)))
    if output_size is None:
        _eager_only(op, f"repeats {reps._value.type}")
    ends = cumsum(reps.to(DType.int64), 0)
    source = (ends.unsqueeze(0) <= arange(output_size).unsqueeze(1)).to(DType.int64).sum(1)
    checked = checked_index(source, n, op, f"dim {d} of {x._value.type}", negative=False, name="output slice's source",
                            note="output_size exceeds the sum of repeats")
    return take_slices(x, d, checked)


class IndexOpMethods:
    """``Tensor``'s index ops (``index_add``... , ``take``, ``masked_select``, ``masked_scatter``,
    ``repeat_interleave``, ``where``), the in-place ones through ``inplace.update``."""

    def index_add(self, dim: int, index, source, *, alpha=1) -> Tensor:
        """``torch.Tensor.index_add``; see ``index_add``."""
        return index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim: int, index, source, *, alpha=1) -> Tensor:
        """``torch.Tensor.index_add_``: ``index_add`` written into ``self``; returns ``self``."""
        return update(self, "index_add_", lambda: index_add(self, dim, index, source, alpha=alpha), (index, source))

    def index_copy(self, dim: int, index, source) -> Tensor:
        """``torch.Tensor.index_copy``; see ``index_copy``."""
        return index_copy(self, dim, index, source)

    def index_copy_(self, dim: int, index, source) -> Tensor:
        """``torch.Tensor.index_copy_``: ``index_copy`` in place."""
        return update(self, "index_copy_", lambda: index_copy(self, dim, index, source), (index, source))

    def index_fill(self, dim: int, index, value) -> Tensor:
        """``torch.Tensor.index_fill``; see ``index_fill``."""
        return index_fill(self, dim, index, value)

    def index_fill_(self, dim: int, index, value) -> Tensor:
        """``torch.Tensor.index_fill_``: ``index_fill`` in place."""
        return update(self, "index_fill_", lambda: index_fill(self, dim, index, value), (index, value))

    def index_put(self, indices, values, accumulate: bool = False) -> Tensor:
        """``torch.Tensor.index_put``; see ``index_put``."""
        return index_put(self, indices, values, accumulate)

    def index_put_(self, indices, values, accumulate: bool = False) -> Tensor:
        """``torch.Tensor.index_put_``: ``index_put`` in place."""
        operands = tuple(indices) + (values,) if isinstance(indices, (tuple, list)) else (values,)
        return update(self, "index_put_", lambda: index_put(self, indices, values, accumulate), operands)

    def masked_scatter(self, mask, source) -> Tensor:
        """``torch.Tensor.masked_scatter``; see ``masked_scatter``."""
        return masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source) -> Tensor:
        """``torch.Tensor.masked_scatter_``: ``masked_scatter`` in place; ``mask`` must broadcast to
        ``self``'s shape (LuminaShapeError)."""
        if isinstance(mask, Tensor) and broadcast_shapes("masked_scatter_", mask._value.type,
                                                         self._value.type) != self.shape:
            raise LuminaShapeError(f"masked_scatter_: mask {mask._value.type} does not broadcast to "
                                   f"{self._value.type}")
        return update(self, "masked_scatter_", lambda: masked_scatter(self, mask, source), (mask, source))

    def take(self, index) -> Tensor:
        """``torch.Tensor.take``; see ``take``."""
        return take(self, index)

    def masked_select(self, mask) -> Tensor:
        """``torch.Tensor.masked_select``; see ``masked_select`` (eager only)."""
        return masked_select(self, mask)

    def repeat_interleave(self, repeats, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
        """``torch.Tensor.repeat_interleave``; see ``repeat_interleave``."""
        return repeat_interleave(self, repeats, dim, output_size=output_size)

    def where(self, condition, other) -> Tensor:
        """``torch.Tensor.where``: ``self`` where ``condition`` is True, else ``other``
        (``lumina.where(condition, self, other)``)."""
        return where(condition, self, other)
