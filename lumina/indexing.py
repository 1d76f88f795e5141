"""Indexing with integer tensors: ``x[idx]``, ``x[:, idx]``, ``x[ia, ib]``, ``index_select``, ``gather``
and ``take_along_dim``.

Two decompositions, chosen by what their gradients cost:

* ``x[...]`` with index tensors and ``index_select`` pick whole slices, so they are one ``gather``
  primitive (ONNX Gather) on the indexed axes merged into one; the gradient is the primitive's VJP, a
  scatter-add (a dot with a one-hot matrix of ``numel(index) x prod(indexed dims)``).
* ``gather`` / ``take_along_dim`` pick one element per output position along one axis, row by row.
  Written as ``gather`` on a flattened tensor its one-hot VJP would be quadratic in the number of
  rows, so it is a masked sum instead: ``out[..., k] = sum_d where(index[..., k] == d, x[..., d], 0)``
  (work ``numel(index) * x.shape[dim]``, fused into one reduction; its gradient is the same mask).

Negative indices count from the end. Index values that are known when the op is recorded (NumPy
arrays, lists, realised tensors) are range-checked (LuminaValueError); a lazily computed index that
is out of range is clamped by the generated code, never read out of bounds.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from .ir.dtypes import DType
from .ir.graph import emit
from .ir.ops import Op
from .ir.types import TensorType
from .tensor import Tensor, arange, broadcast_shapes, tensor, where
from .tracing import BOUND, STATE


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


def check_range(idx: Tensor, size: int, op: str, where_: str) -> None:
    """Raise LuminaValueError if ``idx``'s values are known and some is outside ``[-size, size)``."""
    vals = known_values(idx)
    if vals is None or vals.size == 0:
        return
    lo, hi = int(vals.min()), int(vals.max())
    if lo < -size or hi >= size:
        bad = lo if lo < -size else hi
        raise LuminaValueError(f"{op}: index {bad} is out of range for {where_} (size {size})")


def _normalized(idx: Tensor, size: int) -> Tensor:
    """``idx`` as int64 with negative entries counted from the end."""
    idx = idx.to(DType.int64)
    return where(idx < 0, idx + size, idx)


def _gather(x: Tensor, axis: int, idx: Tensor) -> Tensor:
    """The ``gather`` primitive: ``x.shape[:axis] + idx.shape + x.shape[axis+1:]``."""
    return Tensor._result(emit(Op.GATHER, (x._touch(), idx._touch()), axis=axis), x)


def advanced_getitem(x: Tensor, key: tuple) -> Tensor:
    """``x[key]`` where some entries of ``key`` are integer index arrays, with PyTorch's rules.

    Basic entries (ints, slices, None, Ellipsis) apply first, as in PyTorch (so an int does not
    count as an advanced index: ``x[0, :, idx]`` has shape ``[x.shape[1], len(idx)]``, where NumPy
    would put ``len(idx)`` first). The index arrays broadcast together to a shape ``S``; if the
    indexed dims are adjacent, ``S`` replaces them in place, otherwise ``S`` comes first. Raises
    LuminaTypeError for bool/float indices, LuminaShapeError when the indices do not broadcast and
    LuminaValueError for known out-of-range values.
    """
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - n_real) + key[i + 1:]
    n_real = sum(1 for k in key if k is not None)
    if n_real > x.ndim:
        raise LuminaValueError(f"getitem: too many indices ({n_real}) for {x._value.type}")
    key = key + (slice(None),) * (x.ndim - n_real)

    basic, adv_dims, adv_idx = [], [], []
    out_dim, in_dim = 0, 0
    for k in key:
        if k is None:
            basic.append(None)
            out_dim += 1
            continue
        if is_index_array(k):
            idx = as_index(k, "getitem")
            check_range(idx, x.shape[in_dim], "getitem", f"dim {in_dim} of {x._value.type}")
            adv_dims.append(out_dim)
            adv_idx.append((idx, x.shape[in_dim]))
            basic.append(slice(None))
            out_dim += 1
        else:
            basic.append(k)
            if not isinstance(k, (int, np.integer)):
                out_dim += 1
        in_dim += 1
    y = x[tuple(basic)]
    try:
        shape = broadcast_shapes("getitem", *(i._value.type for i, _ in adv_idx))
    except LuminaShapeError:
        raise LuminaShapeError("getitem: index arrays of shapes "
                               f"{', '.join(str(list(i.shape)) for i, _ in adv_idx)} do not broadcast "
                               f"together (indexing {x._value.type})") from None
    adjacent = adv_dims == list(range(adv_dims[0], adv_dims[0] + len(adv_dims)))
    q = adv_dims[0] if adjacent else 0
    rest = [d for d in range(y.ndim) if d not in adv_dims]
    y = y.permute(rest[:q] + adv_dims + rest[q:])
    sizes = [y.shape[q + j] for j in range(len(adv_dims))]
    if len(adv_idx) == 1:
        lin = adv_idx[0][0].expand(*shape)
    else:
        lin, stride = None, 1
        for (idx, size) in reversed(adv_idx):
            term = _normalized(idx, size) * stride if stride != 1 else _normalized(idx, size)
            lin = term if lin is None else lin + term
            stride *= size
        lin = lin.expand(*shape)
    merged = y.reshape(y.shape[:q] + (math.prod(sizes),) + y.shape[q + len(sizes):])
    return _gather(merged, q, lin)


def index_select(x: Tensor, dim: int, index) -> Tensor:
    """``torch.index_select``: the slices ``index`` (1-D ints) of ``x`` along ``dim``.

    Output ``x.shape[:dim] + [len(index)] + x.shape[dim+1:]``; the gradient scatter-adds (repeated
    indices accumulate). Raises LuminaShapeError unless ``index`` is 1-D (or 0-d).
    """
    d = x._axes(dim, "index_select")[0]
    idx = as_index(index, "index_select")
    if idx.ndim > 1:
        raise LuminaShapeError(f"index_select: index must be 1-D, got {idx._value.type}")
    check_range(idx, x.shape[d], "index_select", f"dim {d} of {x._value.type}")
    return _gather(x, d, idx.reshape(-1))


def gather(x: Tensor, dim: int, index) -> Tensor:
    """``torch.gather``: ``out[i][j][k] = x[index[i][j][k]][j][k]`` for ``dim == 0`` (and likewise).

    ``index`` has ``x``'s rank and ``index.shape[d] <= x.shape[d]`` for ``d != dim``; the output has
    ``index``'s shape and ``x``'s dtype. Decomposed as a masked sum along ``dim`` (see the module
    docstring). Raises LuminaShapeError / LuminaTypeError / LuminaValueError.
    """
    d = x._axes(dim, "gather")[0] if x.ndim else 0
    idx = as_index(index, "gather")
    if idx.ndim != x.ndim or any(i > s for a, (i, s) in enumerate(zip(idx.shape, x.shape)) if a != d):
        raise LuminaShapeError(f"gather: index {idx._value.type} must have the rank of input {x._value.type} "
                               f"and no larger size outside dim {d}")
    if x.ndim == 0:
        return x.reshape(idx.shape)
    check_range(idx, x.shape[d], "gather", f"dim {d} of {x._value.type}")
    if idx.shape[:d] + idx.shape[d + 1:] != x.shape[:d] + x.shape[d + 1:]:
        x = x[tuple(slice(0, idx.shape[a]) if a != d else slice(None) for a in range(x.ndim))]
    n = x.shape[d]
    xm = x.unsqueeze(d)                                          # [..., 1, n, ...]
    im = _normalized(idx, n).unsqueeze(d + 1)                    # [..., k, 1, ...]
    positions = arange(n).reshape([n if a == d + 1 else 1 for a in range(x.ndim + 1)])
    if x.dtype is DType.bool:
        return gather(x.to(DType.int64), d, idx) != 0
    picked = where(im == positions, xm, 0.0 if x.dtype.is_float else 0)
    return picked.sum(d + 1).to(x.dtype)


def take_along_dim(x: Tensor, indices, dim: int | None = None) -> Tensor:
    """``torch.take_along_dim``: like ``gather`` but ``x`` and ``indices`` broadcast outside ``dim``;
    ``dim=None`` indexes the flattened ``x`` with the flattened ``indices``."""
    idx = as_index(indices, "take_along_dim")
    if dim is None:
        check_range(idx, x.numel(), "take_along_dim", f"the flattened {x._value.type}")
        return gather(x.reshape(-1), 0, idx.reshape(-1))
    d = x._axes(dim, "take_along_dim")[0]
    if idx.ndim != x.ndim:
        raise LuminaShapeError(f"take_along_dim: input {x._value.type} and indices {idx._value.type} "
                               "must have the same number of dims")
    check_range(idx, x.shape[d], "take_along_dim", f"dim {d} of {x._value.type}")
    outer = broadcast_shapes("take_along_dim", *(TensorType(t.shape[:d] + (1,) + t.shape[d + 1:], t.dtype)
                                                 for t in (x, idx)))
    x = x.expand(*(outer[:d] + (x.shape[d],) + outer[d + 1:]))
    idx = idx.expand(*(outer[:d] + (idx.shape[d],) + outer[d + 1:]))
    return gather(x, d, idx)
