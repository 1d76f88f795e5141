"""Reading by index: basic indexing (``x[0]``, ``x[:, 1:3]``, ``x[None]``, ``x[..., 0]``: a view, a
``slice`` primitive) and indexing with integer tensors: ``x[idx]``, ``x[:, idx]``, ``x[ia, ib]``,
``index_select``, ``gather`` and ``take_along_dim``; ``flip``, which reads at reversed constant
indices. Writing by index is ``lumina.tensor.setitem`` and ``lumina.tensor.scatter``.

Two decompositions, chosen by what their gradients cost:

* ``x[...]`` with index tensors and ``index_select`` pick whole slices, so they are one ``gather``
  primitive (ONNX Gather) on the indexed axes merged into one; the gradient is the primitive's VJP, a
  scatter-add (a dot with a one-hot matrix of ``numel(index) x prod(indexed dims)``).
* ``gather`` / ``take_along_dim`` pick one element per output position along one axis, row by row.
  Written as ``gather`` on a flattened tensor its one-hot VJP would be quadratic in the number of
  rows, so it is a masked sum instead: ``out[..., k] = sum_d where(index[..., k] == d, x[..., d], 0)``
  (work ``numel(index) * x.shape[dim]``, fused into one reduction; its gradient is the same mask).

Valid indices are PyTorch's: ``[-size, size)`` for ``x[idx]`` (negative ones count from the end) and
``take_along_dim`` along a dim, ``[0, size)`` for ``index_select``, ``gather``, ``take_along_dim``
without a dim and ``embedding``. Any other index raises ``LuminaIndexError`` naming the op, the index
and the bound: at once when the index values are known as the op is recorded (NumPy arrays, lists,
realised tensors); otherwise when the kernel runs, through a ``check_index`` node in front of the
lookup (``checked_index``; see ``ir.ops``): the kernel records the offending index, the executable
raises after the launch, and meanwhile the lookup reads in bounds. One deliberate difference: torch
2.13's ``take_along_dim(x, i, dim)`` wraps every index modulo the size (``i % size``, meant for the
negative ones), so an index past the end reads another element; here it is an error.

The ONNX importer names its node in these errors through ``op`` (``"node 'g' (Gather)"``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir.symbolic import Sym
from ..errors import LuminaIndexError, LuminaShapeError, LuminaSymbolicError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.graph import emit
from ..ir.ops import Op
from ..ir.types import TensorType
from ..tracing import BOUND, STATE
from .core import Tensor
from .creation import arange, tensor
from .elementwise import where
from .shapes import broadcast_shapes


def is_index_array(k) -> bool:
    """Whether ``k`` is an advanced index (an integer tensor, array or list), not a basic one."""
    return isinstance(k, (Tensor, np.ndarray, list))


def as_index(k, op: str) -> Tensor:
    """``k`` as an integer ``Tensor``; raises LuminaTypeError for bool or float indices."""
    if not isinstance(k, Tensor):
        arr = np.asarray(k)
        if arr.dtype == object:
            raise LuminaTypeError(f"{op}: index {k!r} is not a rectangular array of integers")
        if arr.size == 0 and arr.dtype.kind == "f":  # x[[]] is an empty int64 index, as in torch
            arr = arr.astype(np.int64)
        if arr.dtype.kind == "b":
            raise LuminaTypeError(f"{op}: boolean mask indices are not supported (the result's shape "
                                  "would depend on the data); use lumina.where")
        if arr.dtype.kind not in "iu":
            raise LuminaTypeError(f"{op}: indices must be integers, got a {arr.dtype} array")
        k = tensor(arr.astype(np.int64))
    if k.dtype is DType.bool:
        raise LuminaTypeError(f"{op}: boolean mask indices are not supported (the result's shape would "
                              "depend on the data); use lumina.where")
    if not k.dtype.is_int:
        raise LuminaTypeError(f"{op}: indices must be int32 or int64, got {k._value.type}")
    return k


def known_values(idx: Tensor) -> np.ndarray | None:
    """``idx``'s values if they are known without running anything (realised, outside a trace)."""
    if STATE.trace is not None:
        return None
    if idx._data is not None:
        return idx._data
    return BOUND.get(idx._value)


# Check computed indices as the kernels run (False: for A/B measurements of what the checks cost;
# an index out of range then reads a clamped row, silently).
RUN_TIME_CHECKS = True


def range_message(op: str, where_: str, size: int, negative: bool, name: str = "index",
                  note: str = "") -> str:
    """The text of the error for an index outside its range, ``{index}`` standing for the index:
    ``getitem: index {index} is out of range for dim 0 of f32[3,4] (valid: -3 to 2)``."""
    valid = f"{-size if negative else 0} to {size - 1}" if size else "none, the dim is empty"
    return f"{op}: {name} {{index}} is out of range for {where_} (valid: {valid}{'; ' + note if note else ''})"


def check_range(idx: Tensor, size: int, op: str, where_: str, negative: bool = True,
                name: str = "index", note: str = "") -> None:
    """Raise LuminaIndexError if ``idx``'s values are known and one is outside ``[-size, size)``
    (``[0, size)`` unless ``negative``)."""
    vals = known_values(idx)
    if vals is None or vals.size == 0:
        return
    low = -size if negative else 0
    lo, hi = int(vals.min()), int(vals.max())
    if lo < low or hi >= size:
        bad = lo if lo < low else hi
        raise LuminaIndexError(range_message(op, where_, size, negative, name, note).replace("{index}", str(bad)))


def checked_index(idx: Tensor, size: int, op: str, where_: str, negative: bool = True,
                  name: str = "index", note: str = "") -> Tensor:
    """``idx`` (an integer tensor) as int64 with negative entries counted from the end, every entry
    checked to lie in ``[-size, size)`` (``[0, size)`` unless ``negative``): at once if its values
    are known (``check_range``), else when it is computed (a ``check_index`` node). The error,
    LuminaIndexError, reads ``{op}: {name} 7 is out of range for {where_} (valid: ...; {note})``."""
    check_range(idx, size, op, where_, negative, name, note)
    vals = known_values(idx)
    if vals is not None or idx.numel() == 0:
        idx = idx.to(DType.int64)
        return where(idx < 0, idx + size, idx) if vals is not None and vals.size and vals.min() < 0 else idx
    if size == 0:   # every entry is out of range, and nothing could be read in its place
        raise LuminaIndexError(f"{op}: {where_} is empty, so no {name} is in range; got an index "
                               f"{idx._value.type} of {idx.numel()} entries")
    if not RUN_TIME_CHECKS:
        idx = idx.to(DType.int64)
        return where(idx < 0, idx + size, idx) if negative else idx
    message = range_message(op, where_, size, negative, name, note)
    return Tensor._result(emit(Op.CHECK_INDEX, (idx._touch(),), size=size, low=-size if negative else 0,
                               message=message), idx)


def take(x: Tensor, axis: int, idx: Tensor) -> Tensor:
    """The ``gather`` primitive: the slices of ``x`` along ``axis`` at ``idx``, output
    ``x.shape[:axis] + idx.shape + x.shape[axis+1:]``. ``idx`` must be checked already
    (``checked_index``): an index out of range would read a clamped slice, silently."""
    return Tensor._result(emit(Op.GATHER, (x._touch(), idx._touch()), axis=axis), x)


@dataclass(frozen=True)
class AdvancedKey:
    """A key with integer index arrays split by PyTorch's rules: ``basic`` (the ints, slices and
    None, with a full slice where each array was) applies first and gives a view ``y``; ``arrays``
    holds ``(index, size of its dim, that dim of x)`` per array and ``dims`` the dims of ``y`` they
    index; the arrays broadcast to ``shape``; ``y.permute(perm)`` brings the indexed dims together
    at ``q``: in place when they are adjacent, else first."""
    basic: tuple
    arrays: list
    dims: list
    shape: tuple
    q: int
    perm: list


def split_advanced(x: Tensor, key: tuple, op: str, mismatch: type = LuminaShapeError) -> AdvancedKey:
    """``key`` (no Ellipsis; ints, slices, None and integer index arrays) split for advanced
    indexing (``AdvancedKey``). Index arrays whose values are known are range-checked at once
    (LuminaIndexError); arrays that do not broadcast raise ``mismatch`` naming ``op``."""
    basic, dims, arrays = [], [], []
    out_dim, in_dim = 0, 0
    for k in key:
        if k is None:
            basic.append(None)
            out_dim += 1
            continue
        if is_index_array(k):
            idx = as_index(k, op)
            check_range(idx, x.shape[in_dim], op, f"dim {in_dim} of {x._value.type}")
            dims.append(out_dim)
            arrays.append((idx, x.shape[in_dim], in_dim))
            basic.append(slice(None))
            out_dim += 1
        else:
            basic.append(k)
            if not isinstance(k, (int, np.integer)):
                out_dim += 1
        in_dim += 1
    try:
        shape = broadcast_shapes(op, *(i._value.type for i, _, _ in arrays))
    except LuminaShapeError:
        raise mismatch(f"{op}: index arrays of shapes {', '.join(str(list(i.shape)) for i, _, _ in arrays)} "
                       f"do not broadcast together (indexing {x._value.type})") from None
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    q = dims[0] if adjacent else 0
    rest = [d for d in range(out_dim + x.ndim - in_dim) if d not in dims]
    return AdvancedKey(tuple(basic), arrays, dims, shape, q, rest[:q] + dims + rest[q:])


def linear_index(arrays: list, op: str, x: Tensor) -> Tensor:
    """The row-major linear index into the merged indexed dims of ``AdvancedKey.arrays``, each
    array checked when it runs (``checked_index``: negative entries count from the end)."""
    lin, stride = None, 1
    for idx, size, dim in reversed(arrays):
        term = checked_index(idx, size, op, f"dim {dim} of {x._value.type}")
        term = term * stride if stride != 1 else term
        lin = term if lin is None else lin + term
        stride *= size
    return lin


def advanced_getitem(x: Tensor, key: tuple) -> Tensor:
    """``x[key]`` where some entries of ``key`` are integer index arrays, with PyTorch's rules.

    Basic entries (ints, slices, None, Ellipsis) apply first, as in PyTorch (so an int does not
    count as an advanced index: ``x[0, :, idx]`` has shape ``[x.shape[1], len(idx)]``, where NumPy
    would put ``len(idx)`` first). The index arrays broadcast together to a shape ``S``; if the
    indexed dims are adjacent, ``S`` replaces them in place, otherwise ``S`` comes first. Raises
    LuminaTypeError for bool/float indices, LuminaShapeError when the indices do not broadcast and
    LuminaIndexError for an index outside ``[-size, size)`` of its dim (at once when it is known).
    """
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - n_real) + key[i + 1:]
    n_real = sum(1 for k in key if k is not None)
    if n_real > x.ndim:
        raise LuminaValueError(f"getitem: too many indices ({n_real}) for {x._value.type}")
    key = key + (slice(None),) * (x.ndim - n_real)

    split = split_advanced(x, key, "getitem")
    y = x[split.basic].permute(split.perm)
    q = split.q
    sizes = [y.shape[q + j] for j in range(len(split.dims))]
    lin = linear_index(split.arrays, "getitem", x).expand(tuple(split.shape))
    merged = y.reshape(y.shape[:q] + (math.prod(sizes),) + y.shape[q + len(sizes):])
    return take(merged, q, lin)


def index_select(input: Tensor, dim: int, index) -> Tensor:
    """``torch.index_select``: the slices ``index`` (1-D ints) of ``input`` (``x`` below) along ``dim``.

    Output ``x.shape[:dim] + [len(index)] + x.shape[dim+1:]``; the gradient scatter-adds (repeated
    indices accumulate). Raises LuminaShapeError unless ``index`` is 1-D (or 0-d), LuminaIndexError
    for an index outside ``[0, x.shape[dim])`` (as PyTorch, negative ones too).
    """
    x = input
    d = x._axes(dim, "index_select")[0]
    idx = as_index(index, "index_select")
    if idx.ndim > 1:
        raise LuminaShapeError(f"index_select: index must be 1-D, got {idx._value.type}")
    checked = checked_index(idx, x.shape[d], "index_select", f"dim {d} of {x._value.type}", negative=False)
    return take(x, d, checked.reshape(-1))


def select_slices(x: Tensor, axis: int, index, op: str, negative: bool = True) -> Tensor:
    """ONNX ``Gather``: the slices of ``x`` along ``axis`` at ``index`` (any shape), output
    ``x.shape[:axis] + index.shape + x.shape[axis+1:]``; indices checked (``checked_index``) with
    ``op`` named in the error."""
    idx = as_index(index, op)
    checked = checked_index(idx, x.shape[axis], op, f"axis {axis} of {x._value.type}", negative)
    return take(x, axis, checked.reshape(-1)).reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def gather(input: Tensor, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """``torch.gather``: ``out[i][j][k] = x[index[i][j][k]][j][k]`` for ``dim == 0`` (and likewise),
    ``x`` being ``input``.

    ``index`` has ``x``'s rank and ``index.shape[d] <= x.shape[d]`` for ``d != dim``; the output has
    ``index``'s shape and ``x``'s dtype. Decomposed as a masked sum along ``dim`` (see the module
    docstring). ``sparse_grad=True`` raises LuminaValueError: lumina has no sparse tensors, and a
    dense gradient in its place would not be what was asked for. Raises LuminaShapeError /
    LuminaTypeError, LuminaIndexError for an index outside ``[0, x.shape[dim])`` (as PyTorch,
    negative ones too).
    """
    if sparse_grad:
        raise LuminaValueError(f"gather: sparse_grad=True is not supported (lumina has no sparse tensors) for "
                               f"{input._value.type}")
    return select_elements(input, dim, index, "gather", negative=False)


def select_elements(x: Tensor, dim: int, index, op: str, negative: bool = True, where_: str | None = None) -> Tensor:
    """``gather``'s lookup (ONNX ``GatherElements``) with ``op`` named in its errors, negative
    indices counting from the end when ``negative``; ``where_`` names what is indexed."""
    d = x._axes(dim, op)[0] if x.ndim else 0
    idx = as_index(index, op)
    if idx.ndim != x.ndim or any(i > s for a, (i, s) in enumerate(zip(idx.shape, x.shape)) if a != d):
        raise LuminaShapeError(f"{op}: index {idx._value.type} must have the rank of input {x._value.type} "
                               f"and no larger size outside dim {d}")
    if x.ndim == 0:
        return x.reshape(idx.shape)
    checked = checked_index(idx, x.shape[d], op, where_ or f"dim {d} of {x._value.type}", negative)
    return pick(x, d, checked)


def pick(x: Tensor, d: int, checked: Tensor) -> Tensor:
    """``out[..., k, ...] = x[..., checked[..., k, ...], ...]`` along ``d``, as a masked sum, for an
    index of ``x``'s rank checked already (``checked_index``): an index out of range would read 0."""
    idx = checked
    if idx.shape[:d] + idx.shape[d + 1:] != x.shape[:d] + x.shape[d + 1:]:
        x = x[tuple(slice(0, idx.shape[a]) if a != d else slice(None) for a in range(x.ndim))]
    if x.dtype is DType.bool:
        return pick(x.to(DType.int64), d, idx) != 0
    n = x.shape[d]
    xm = x.unsqueeze(d)                                          # [..., 1, n, ...]
    im = idx.unsqueeze(d + 1)                                    # [..., k, 1, ...]
    positions = arange(n).reshape([n if a == d + 1 else 1 for a in range(x.ndim + 1)])
    picked = where(im == positions, xm, 0.0 if x.dtype.is_float else 0)
    return picked.sum(d + 1).to(x.dtype)


def take_along_dim(input: Tensor, indices, dim: int | None = None) -> Tensor:
    """``torch.take_along_dim``: like ``gather`` but ``input`` (``x`` below) and ``indices``
    broadcast outside ``dim``,
    and negative indices count from the end; ``dim=None`` indexes the flattened ``x`` with the
    flattened ``indices`` (in ``[0, numel)``, as PyTorch). An index out of range raises
    LuminaIndexError (torch 2.13 wraps it modulo the size along a dim: see the module docstring)."""
    x = input
    idx = as_index(indices, "take_along_dim")
    if dim is None:
        checked = checked_index(idx, x.numel(), "take_along_dim", f"the flattened {x._value.type}", negative=False)
        return pick(x.reshape(-1), 0, checked.reshape(-1))
    d = x._axes(dim, "take_along_dim")[0]
    if idx.ndim != x.ndim:
        raise LuminaShapeError(f"take_along_dim: input {x._value.type} and indices {idx._value.type} "
                               "must have the same number of dims")
    outer = broadcast_shapes("take_along_dim", *(TensorType(t.shape[:d] + (1,) + t.shape[d + 1:], t.dtype)
                                                 for t in (x, idx)))
    checked = checked_index(idx, x.shape[d], "take_along_dim", f"dim {d} of {x._value.type}")
    x = x.expand(*(outer[:d] + (x.shape[d],) + outer[d + 1:]))
    return pick(x, d, checked.expand(*(outer[:d] + (idx.shape[d],) + outer[d + 1:])))


def flip(input: Tensor, dims) -> Tensor:
    """``torch.flip``: ``input`` with the order of its elements reversed along each of ``dims`` (an
    int or a sequence of ints; a 0-d tensor takes 0 / -1 and is returned as it is).

    Same shape and dtype; a copy (torch copies too). Each flipped dim is a ``gather`` at the
    constant indices ``n-1, ..., 0``, so its gradient is the gradient flipped back (the gather's
    scatter-add). Raises LuminaIndexError for a dim out of range, LuminaValueError for a dim named
    twice (as torch)."""
    x = input
    axes = x._axes(dims, "flip")
    out = x
    for a in axes:
        n = x.shape[a]
        if n > 1:
            out = take(out, a, tensor(np.arange(n - 1, -1, -1, dtype=np.int64)))
    return out.clone() if out is x else out


class IndexingMethods:
    """``Tensor``'s reads by index (the package copies them onto ``Tensor``)."""

    def __getitem__(self, key) -> Tensor:
        """Basic indexing (ints, slices with positive steps, ``None``, ``Ellipsis``) and, with
        integer index tensors/arrays/lists among the entries, advanced indexing as PyTorch
        (``advanced_getitem``)."""
        key = key if isinstance(key, tuple) else (key,)
        if any(isinstance(k, (Tensor, np.ndarray, list)) for k in key):
            return advanced_getitem(self, key)
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        if n_real > self.ndim:
            raise LuminaValueError(f"getitem: too many indices ({n_real}) for {self._value.type}")
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - n_real) + key[i + 1:]
        key = key + (slice(None),) * (self.ndim - sum(1 for k in key if k is not None))
        starts, stops, steps, out_shape = [], [], [], []
        axis = 0
        shape = self._value.type.shape
        for k in key:
            if k is None:
                out_shape.append(1)
                continue
            d = shape[axis]
            if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
                i = int(k) + d if k < 0 else int(k)
                if not 0 <= i < d:
                    raise LuminaIndexError(f"getitem: index {k} out of range for dim {axis} of {self._value.type}")
                starts.append(i), stops.append(i + 1), steps.append(1)
            elif isinstance(k, slice):
                if k.step is not None and k.step <= 0:
                    raise LuminaValueError(f"getitem: slice step must be positive, got {k.step}")
                lo, hi, st = slice_bounds(k, d)
                starts.append(lo), stops.append(hi), steps.append(st)
                out_shape.append(max(0, -(-(hi - lo) // st)))
            else:
                raise LuminaTypeError(f"getitem: unsupported index {k!r} (advanced indexing is not supported yet)")
            axis += 1
        v = self._touch()
        if (tuple(starts), tuple(stops), tuple(steps)) != ((0,) * len(shape), shape, (1,) * len(shape)):
            v = emit(Op.SLICE, (v,), starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
        return Tensor._result(B.reshape(v, out_shape), self)

    def gather(self, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
        """``torch.Tensor.gather``: see ``gather``."""
        return gather(self, dim, index, sparse_grad=sparse_grad)

    def index_select(self, dim: int, index) -> Tensor:
        """``torch.Tensor.index_select``: see ``index_select``."""
        return index_select(self, dim, index)

    def take_along_dim(self, indices, dim: int | None = None) -> Tensor:
        """``torch.Tensor.take_along_dim``: see ``take_along_dim``."""
        return take_along_dim(self, indices, dim)

    def flip(self, *dims) -> Tensor:
        """``torch.Tensor.flip``: ``flip(0, 1)`` or ``flip((0, 1))``; see ``flip``."""
        if not dims:
            raise LuminaTypeError(f"flip: missing the dims for {self._value.type} (as torch)")
        return flip(self, dims[0] if len(dims) == 1 else dims)


def slice_bounds(k: slice, d) -> tuple:
    """``(start, stop, step)`` of slice ``k`` over a dim of size ``d``, clipped as Python clips,
    with ``stop >= start``. A symbolic size or bound (``ir.symbolic``) is clipped by comparisons
    that a compiled trace decides at its sizes and guards; raises LuminaSymbolicError for a
    symbolic slice with a step other than 1."""
    if not any(isinstance(v, Sym) for v in (k.start, k.stop, k.step, d)):
        lo, hi, st = k.indices(d)
        return lo, max(hi, lo), st
    if k.step not in (None, 1):
        raise LuminaSymbolicError(f"getitem: a slice {k} with a step over a symbolic size {d}")

    def clip(v, default):
        if v is None:
            return default
        if not isinstance(v, Sym) and v < 0:
            v = v + d
        return 0 if v < 0 else d if v > d else v   # Sym comparisons: decided, or guarded
    lo = clip(k.start, 0)
    hi = clip(k.stop, d)
    return lo, (hi if hi >= lo else lo), 1