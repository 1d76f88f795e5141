"""Writing by index along one dim: ``scatter``, ``scatter_add`` and ``scatter_reduce`` (PyTorch
2.13's semantics), out of place and in place (``scatter_``, ``scatter_add_``,
``scatter_reduce_``, through ``lumina.tensor.inplace.update``).

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

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from ..ir.ops import Op
from .core import Tensor
from .creation import arange, tensor
from .elementwise import binary_op, where
from .indexing import as_index, checked_index
from .inplace import update
from .movement import cat, pad
from .reductions import amax, amin, product_last

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
