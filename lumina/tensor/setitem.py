"""``x[key] = value`` with torch's semantics, as in-place updates (``lumina.tensor.inplace``).

``key`` holds ints, slices, None, Ellipsis, integer index tensors/arrays/lists and bool masks;
``value`` (a number, array or tensor) is cast to ``x``'s dtype and broadcast to ``x[key]``'s shape
(leading size-1 dims of the value dropped first, as torch). Three lowerings, by key:

* basic entries only: ``x[key]`` is a view; the value is copied into it (``inplace.copy_``), which
  writes back into ``x``;
* integer index arrays: the basic entries give a view ``y``; the indexed dims of ``y`` are moved
  together and merged (as ``indexing.advanced_getitem`` does) and the value's rows are scattered
  into them: ``where(covered, gather(value, last_writer), y)``, where ``last_writer`` says which
  value row lands on each row (the last one where an index repeats, as torch's CPU kernel). Known
  indices give both as constants; computed ones compare every index with every row, each checked
  against its dim when it runs (``indexing.checked_index``);
* one bool mask with a value that does not depend on how many elements it selects:
  ``where(mask, value, y)``. Any other mask becomes the index arrays of its True elements
  (``nonzero``), which needs its values: a lazily computed mask is computed (outside
  ``@lumina.compile``; inside, LuminaTraceError).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaIndexError, LuminaShapeError, LuminaTraceError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.ops import Op
from ..ir.types import TensorType
from ..tracing import STATE
from .aliases import base
from .core import Tensor
from .creation import tensor
from .elementwise import where
from .indexing import known_values, linear_index, split_advanced, take
from .inplace import NUMBERS, copy_, number
from .shapes import broadcast_shapes


def _is_advanced(k) -> bool:
    return isinstance(k, (Tensor, np.ndarray, list)) or isinstance(k, (bool, np.bool_))


def _as_value(x: Tensor, value) -> Tensor:
    """The assigned value as a tensor of ``x``'s dtype (numbers become constants)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, NUMBERS):
        return Tensor(number(value, x.dtype, "setitem"))
    if isinstance(value, (np.ndarray, list, tuple)):
        return tensor(np.asarray(value), dtype=x.dtype)
    raise LuminaTypeError(f"setitem: cannot assign a {type(value).__name__} to {x._value.type}")


def _fit(value: Tensor, shape: tuple, x: Tensor, expand: bool = True) -> Tensor:
    """``value`` broadcast to the indexed ``shape`` (torch drops leading size-1 dims of the value
    first; without ``expand`` that is all); raises LuminaShapeError where it does not broadcast."""
    while value.ndim > len(shape) and value.shape[0] == 1:
        value = value.reshape(value.shape[1:])
    try:
        ok = broadcast_shapes("setitem", value._value.type, TensorType(shape, value.dtype)) == tuple(shape)
    except LuminaShapeError:
        ok = False
    if not ok:
        raise LuminaShapeError(f"setitem: shape mismatch: value of shape {list(value.shape)} cannot be broadcast "
                               f"to the indexing result of shape {list(shape)} (indexing {x._value.type})")
    return value.expand(tuple(shape)) if expand and value.shape != tuple(shape) else value


def setitem(x: Tensor, key, value) -> None:
    """``x[key] = value`` as torch: ``key`` holds ints, slices, None, Ellipsis, integer index tensors
    /arrays/lists and bool masks; ``value`` (a number, array or tensor) is cast to ``x``'s dtype and
    broadcast to ``x[key]``'s shape. Basic keys write through a view; index arrays scatter (when an
    index repeats, the last write wins, as torch's CPU kernel); a mask writes with ``where``.

    Raises LuminaIndexError for an index out of range (at once when its value is known, else when
    the computation runs) and for a mask whose shape differs from the dims it indexes,
    LuminaShapeError when the value does not broadcast, LuminaValueError when the value is a view of
    ``x`` with index arrays or masks (torch too), and the errors of ``inplace.update``. A mask
    computed inside ``@lumina.compile`` needs a value that does not depend on how many elements it
    selects (LuminaTraceError otherwise)."""
    key = key if isinstance(key, tuple) else (key,)
    if not any(_is_advanced(k) for k in key):
        view = x[key]
        copy_(view, _fit(_as_value(x, value), view.shape, x, expand=False), "setitem")
        return
    _advanced_setitem(x, key, value)


def _expand_key(x: Tensor, key: tuple) -> tuple:
    """``key`` with Ellipsis expanded and trailing full slices added; a bool mask counts for as many
    dims as it has."""
    def dims(k):
        if k is None or k is Ellipsis:
            return 0
        if isinstance(k, (bool, np.bool_)):
            return 0
        if _is_mask(k):
            return _mask_ndim(k)
        return 1
    n_real = sum(dims(k) for k in key)
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise LuminaIndexError(f"setitem: an index can only have a single ellipsis, got {key!r}")
    if n_real > x.ndim:
        raise LuminaIndexError(f"setitem: too many indices ({n_real}) for {x._value.type}")
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - n_real) + key[i + 1:]
    return key + (slice(None),) * (x.ndim - sum(dims(k) for k in key))


def _is_mask(k) -> bool:
    if isinstance(k, Tensor):
        return k.dtype is DType.bool
    if isinstance(k, (np.ndarray, list)):
        return np.asarray(k).dtype == np.bool_
    return False


def _mask_ndim(k) -> int:
    return k.ndim if isinstance(k, Tensor) else np.asarray(k).ndim


def _known(k) -> np.ndarray | None:
    """An index's values if known without running anything (arrays, lists, realised tensors)."""
    if not isinstance(k, Tensor):
        return np.asarray(k)
    return known_values(k)


def _advanced_setitem(x: Tensor, key: tuple, value) -> None:
    single_mask = sum(1 for k in key if _is_advanced(k)) == 1 and any(_is_mask(k) for k in key)
    if isinstance(value, Tensor) and value.dtype is not x.dtype and not (single_mask and value.ndim == 0):
        raise LuminaTypeError(f"setitem: with index arrays or masks the value's dtype must be the indexed "
                              f"tensor's, got {value._value.type} for {x._value.type} (torch's index_put "
                              "raises too); cast the value with .to()")
    if isinstance(value, Tensor) and (value._view is not None or value is x) and base(value) is base(x):
        raise LuminaValueError(
            f"setitem: the value {value._value.type} is a view of the indexed {x._value.type}: some of its "
            "elements may be written before they are read (torch raises too); clone() the value first")
    if any(isinstance(k, (bool, np.bool_)) for k in key):
        raise LuminaTypeError(f"setitem: a Python bool index is not supported (indexing {x._value.type}); "
                              "use a bool mask tensor")
    key = _expand_key(x, key)
    masks = [i for i, k in enumerate(key) if _is_mask(k)]
    if masks:
        # check each mask's shape against the dims it indexes
        in_dim = 0
        for k in key:
            if k is None:
                continue
            if _is_mask(k):
                m_shape = tuple(k.shape) if isinstance(k, Tensor) else np.asarray(k).shape
                if m_shape != x.shape[in_dim:in_dim + len(m_shape)]:
                    raise LuminaIndexError(f"setitem: the shape of the mask {list(m_shape)} does not match the "
                                           f"shape of the indexed dims {list(x.shape[in_dim:in_dim + len(m_shape)])} "
                                           f"of {x._value.type}")
                in_dim += len(m_shape)
            else:
                in_dim += 1
        only_mask = len(masks) == 1 and not any(_is_advanced(k) for i, k in enumerate(key) if i != masks[0])
        if only_mask and _masked_where(x, key, masks[0], value):
            return
        key = _masks_to_indices(x, key)
    _scatter_setitem(x, key, value)


def _masked_where(x: Tensor, key: tuple, m: int, value) -> bool:
    """``x[..., mask, ...] = value`` as ``where`` when ``value`` does not depend on the number of
    selected elements (a number, or a tensor whose dim for them is 1 or absent). False otherwise."""
    mask = key[m] if isinstance(key[m], Tensor) else tensor(np.asarray(key[m]))
    k = mask.ndim
    basic = list(key)
    basic[m:m + 1] = [slice(None)] * k
    y = x[tuple(basic)]
    q = sum(1 for kk in key[:m] if kk is None or not isinstance(kk, (int, np.integer)))
    result = y.shape[:q] + (-1,) + y.shape[q + k:]       # -1: the number of selected elements
    val = _as_value(x, value)
    while val.ndim > len(result) and val.shape[0] == 1:
        val = val.reshape(val.shape[1:])
    lead = len(result) - val.ndim
    if lead < 0:
        return False
    vshape = (1,) * lead + tuple(val.shape)
    if vshape[q] != 1:
        return False
    val = _fit(val.reshape(vshape[:q] + (1,) * k + vshape[q + 1:]), y.shape, x)
    mask_b = mask.reshape((1,) * q + mask.shape + (1,) * (y.ndim - q - k))
    copy_(y, where(mask_b, val.to(x.dtype), y), "setitem")
    return True


def _masks_to_indices(x: Tensor, key: tuple) -> tuple:
    """Each bool mask replaced by the integer index arrays of its True elements (``nonzero``): the
    mask's values are needed, so a lazy mask is computed (outside ``@lumina.compile`` only)."""
    out = []
    for k in key:
        if not _is_mask(k):
            out.append(k)
            continue
        if _mask_ndim(k) == 0:
            raise LuminaTypeError(f"setitem: a 0-d mask with a value of one row per selected element is not "
                                  f"supported (indexing {x._value.type}); use lumina.where")
        vals = _known(k)
        if vals is None:
            if STATE.trace is not None:
                raise LuminaTraceError(
                    "setitem: x[mask] = value with a value holding one entry per selected element needs the "
                    "number of True elements of a mask computed inside @lumina.compile, which is only known "
                    "when the compiled function runs; use lumina.where(mask, value, x) with a value of x's shape")
            vals = k.numpy()
        out.extend(np.nonzero(np.asarray(vals, dtype=bool)))
    return tuple(out)


def _scatter_setitem(x: Tensor, key: tuple, value) -> None:
    """``x[key] = value`` where ``key`` holds integer index arrays: the basic entries give a view
    ``y``; the indexed dims of ``y`` are moved together and merged (as ``advanced_getitem`` does) and
    the value's rows are scattered into them."""
    split = split_advanced(x, key, "setitem", LuminaIndexError)
    y = x[split.basic]
    yp = y.permute(split.perm)
    q, shape = split.q, split.shape
    sizes = [yp.shape[q + j] for j in range(len(split.dims))]
    pre, post = yp.shape[:q], yp.shape[q + len(sizes):]
    m = math.prod(sizes)
    n = math.prod(shape)
    known = [_known(idx) for idx, _, _ in split.arrays]
    if all(vals is not None for vals in known):      # the rows are known: no index kernel
        lin = np.zeros(shape, dtype=np.int64)
        stride = 1
        for (_, size, _), vals in zip(reversed(split.arrays), reversed(known)):
            v = np.broadcast_to(np.asarray(vals, dtype=np.int64), shape)
            lin = lin + np.where(v < 0, v + size, v) * stride
            stride *= size
        lin = lin.reshape(-1)
    else:
        lin = linear_index(split.arrays, "setitem", x).expand(tuple(shape)).reshape(n)
    val = _fit(_as_value(x, value), pre + tuple(shape) + post, x).to(x.dtype)
    merged = yp.reshape(pre + (m,) + post)
    src = val.reshape(pre + (n,) + post)
    new = _scatter_rows(merged, q, lin, src)
    new_y = new.reshape(yp.shape).permute([int(i) for i in np.argsort(split.perm)])
    copy_(y, new_y, "setitem")


def _scatter_rows(base_: Tensor, axis: int, lin, src: Tensor) -> Tensor:
    """``base_`` with row ``lin[i]`` along ``axis`` replaced by row ``i`` of ``src`` (the last ``i``
    where an index repeats); ``lin`` is an int64 NumPy array or tensor of in-range indices."""
    m, n = base_.shape[axis], src.shape[axis]
    if n == 0:
        return base_
    one = [m if a == axis else 1 for a in range(base_.ndim)]
    if isinstance(lin, np.ndarray):
        winner = np.full(m, -1, dtype=np.int64)
        winner[lin] = np.arange(n, dtype=np.int64)      # NumPy assigns in order: the last one wins
        covered = Tensor(B.const(winner.reshape(one) >= 0, DType.bool, one))
        rows = tensor(np.maximum(winner, 0))
    else:
        hits = lin.reshape(n, 1) == Tensor(B.const(np.arange(m, dtype=np.int64).reshape(1, m), DType.int64, (1, m)))
        order = Tensor(B.const(np.arange(n, dtype=np.int64).reshape(n, 1), DType.int64, (n, 1)))
        who = where(hits, order, -1)
        winner = Tensor(B.reduce(Op.REDUCE_MAX, who._touch(), (0,)))
        covered = (winner >= 0).reshape(one)
        rows = where(winner >= 0, winner, 0)
    picked = take(src, axis, rows)
    return where(covered, picked, base_)


class SetitemMethods:
    """``Tensor``'s writes by index (the package copies them onto ``Tensor``)."""

    def __setitem__(self, key, value) -> None:
        """``x[key] = value`` as torch (ints, slices, None, Ellipsis, integer index arrays, bool
        masks); see ``setitem``."""
        setitem(self, key, value)
