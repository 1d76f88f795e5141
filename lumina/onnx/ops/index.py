"""Indexing, scatter, scan and layout ONNX operators: GatherElements, GatherND, ScatterElements (and
the older Scatter), ScatterND, TopK, Hardmax, OneHot, Tile, EyeLike, Compress, CumSum, CumProd,
ReduceProd, Einsum, DepthToSpace and SpaceToDepth.

Each handler parses the node's attributes, translates ONNX's semantics into PyTorch's where they
differ (negative indices, which ONNX counts from the end; ScatterElements' reductions; the exclusive
and reverse scans; DepthToSpace's DCR channel order; Hardmax and OneHot as one-hot encodings) and
calls the public tensor function (``lumina.tensor``: ``gather``, ``scatter_reduce``, ``topk``,
``tile``, ``eye``, ``cumsum`` / ``cumprod``, ``prod``, ``einsum``; ``lumina.nn.functional``:
``one_hot``, ``pixel_shuffle`` / ``pixel_unshuffle``). Those functions document their
decompositions. Known (NumPy) inputs of shape arithmetic give known outputs where the op is cheap
to fold (Tile, ReduceProd, GatherElements, GatherND). Values that must be known while tracing
(TopK's ``K``, Tile's ``repeats``, OneHot's ``depth``, the scan axis, Compress's condition) are taken
with ``static`` and specialise the model on them when they are graph inputs.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.dtypes import DType
from ...nn import functional as F
from ...tensor import Tensor, arange, cumprod, cumsum, einsum, eye, pad, tensor, tile, topk, where, zeros
from ...tensor.indexing import checked_index, select_elements
from ...tensor.scatter import scatter_along
from .. import dtypes as onnx_dtypes
from .registry import axes_of, axis_of, check_constant, handler, ints, is_static, lumina_dtype, static, tensor_of


def _checked(ctx, idx: Tensor, n: int, where_: str) -> Tensor:
    """``idx`` as int64 counted from the end where negative, every entry checked to lie in
    ``[-n, n)`` (ONNX Runtime raises otherwise): a LuminaIndexError naming the node, at once for
    known indices, else when the model runs (``lumina.tensor.indexing.checked_index``)."""
    return checked_index(idx, n, f"node {ctx.name!r} ({ctx.op_type})", where_)


def _move_last_to(x: Tensor, axis: int) -> Tensor:
    """``x`` with its last dim moved to ``axis`` (``torch.movedim(x, -1, axis)``)."""
    last = x.ndim - 1
    return x if axis == last else x.permute(list(range(axis)) + [last] + list(range(axis, last)))


# ---- gathers --------------------------------------------------------------------------------------

@handler("GatherElements")
def _gather_elements(ctx, xs, attrs):
    x, index = xs
    axis = axis_of(ctx, attrs.get("axis", 0), len(x.shape))
    if len(index.shape) != len(x.shape):
        raise ctx.error(f"indices of shape {list(index.shape)} must have the rank of data {list(x.shape)}")
    if is_static(x) and is_static(index):
        n = x.shape[axis]
        if index.size and (index.min() < -n or index.max() >= n):
            raise ctx.error(f"indices hold {int(index.min() if index.min() < -n else index.max())}, out of "
                            f"range for axis {axis} of size {n}: ONNX takes [{-n}, {n - 1}]")
        idx = np.where(index < 0, index + x.shape[axis], index)
        return [np.take_along_axis(x, idx, axis)]
    # ONNX counts negative indices from the end; lumina's gather takes [0, n)
    return [select_elements(tensor_of(x), axis, tensor_of(index), f"node {ctx.name!r} ({ctx.op_type})",
                            where_=f"axis {axis} of data")]


@handler("GatherND")
def _gather_nd(ctx, xs, attrs):
    x, index = xs
    b = attrs.get("batch_dims", 0)
    k = index.shape[-1]
    if tuple(x.shape[:b]) != tuple(index.shape[:b]) or b + k > len(x.shape):
        raise ctx.error(f"indices of shape {list(index.shape)} (batch_dims={b}) do not fit data of shape "
                        f"{list(x.shape)}: the batch dims must agree and batch_dims + indices.shape[-1] "
                        f"<= rank")
    out_shape = list(index.shape[:-1]) + list(x.shape[b + k:])
    if is_static(x) and is_static(index):
        sizes = np.array(x.shape[b:b + k], dtype=np.int64)
        if index.size and ((index < -sizes).any() or (index >= sizes).any()):
            raise ctx.error(f"indices hold an entry out of range for data of shape {list(x.shape)} "
                            f"(batch_dims={b}): ONNX takes [-size, size) per axis")
        idx = np.where(index < 0, index + sizes, index)
        grids = np.meshgrid(*(np.arange(n) for n in index.shape[:b]), indexing="ij") if b else []
        lead = tuple(g.reshape(g.shape + (1,) * (index.ndim - 1 - b)) for g in grids)
        return [x[lead + tuple(idx[..., j] for j in range(k))].reshape(out_shape)]
    # x[b0, .., i0, i1, ..]: torch's advanced indexing, with aranges over the batch dims; each index
    # checked first, so that one out of range names the node (negative ones count from the end)
    idx = tensor_of(index)
    lead = idx.ndim - 1
    key = [arange(n).reshape([n if a == j else 1 for a in range(lead)]) for j, n in enumerate(x.shape[:b])]
    key += [_checked(ctx, idx[..., j], x.shape[b + j], f"axis {b + j} of data") for j in range(k)]
    out = tensor_of(x)[tuple(key)] if key else tensor_of(x)
    return [out if list(out.shape) == out_shape else out.expand(*out_shape)]   # k = 0: whole slices


# ---- scatters -------------------------------------------------------------------------------------

# ONNX's reductions as torch's scatter_reduce reductions (always including the data's element);
# "none" is a plain scatter: with duplicate indices the last update wins, as the reference
# implementation and ONNX Runtime apply them in order.
_REDUCTIONS = {"none": None, "add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


def _reduction(ctx, attrs) -> str | None:
    reduction = attrs.get("reduction", "none")
    if reduction not in _REDUCTIONS:
        raise ctx.error(f"reduction={reduction!r} is not supported (one of {', '.join(_REDUCTIONS)})")
    return _REDUCTIONS[reduction]


@handler("ScatterElements", "Scatter")
def _scatter_elements(ctx, xs, attrs):
    data, index, updates = (tensor_of(v) for v in xs)
    axis = axis_of(ctx, attrs.get("axis", 0), data.ndim)
    if index.shape != updates.shape:
        raise ctx.error(f"indices {list(index.shape)} and updates {list(updates.shape)} must have one shape")
    return [scatter_along(data, axis, index, updates.to(data.dtype), _reduction(ctx, attrs),
                          op=f"node {ctx.name!r} ({ctx.op_type})", negative=True)]


@handler("ScatterND")
def _scatter_nd(ctx, xs, attrs):
    data, index, updates = (tensor_of(v) for v in xs)
    k = index.shape[-1]
    want = tuple(index.shape[:-1]) + tuple(data.shape[k:])
    if k > data.ndim or updates.shape != want:
        raise ctx.error(f"indices {list(index.shape)} and updates {list(updates.shape)} do not fit data "
                        f"{list(data.shape)}: updates must have shape indices.shape[:-1] + "
                        f"data.shape[indices.shape[-1]:] = {list(want)}")
    reduce = _reduction(ctx, attrs)
    # each index tuple names one row of data seen as [cells, inner]: a scatter along dim 0
    sizes = data.shape[:k]
    cells, inner = math.prod(sizes), math.prod(data.shape[k:])
    n_upd = math.prod(index.shape[:-1])
    lin = tensor(np.zeros(index.shape[:-1], np.int64))
    for j in range(k):
        lin = lin + _checked(ctx, index[..., j], sizes[j], f"axis {j} of data") * math.prod(sizes[j + 1:])
    rows = lin.reshape(n_upd, 1).expand(n_upd, inner)
    out = scatter_along(data.reshape(cells, inner), 0, rows, updates.reshape(n_upd, inner).to(data.dtype), reduce,
                        op=f"node {ctx.name!r} ({ctx.op_type})", checked=True)
    return [out.reshape(data.shape)]


# ---- selection: TopK, Hardmax, OneHot, Compress -----------------------------------------------

@handler("TopK")
def _topk(ctx, xs, attrs):
    x = tensor_of(xs[0])
    k = attrs["k"] if ctx.opset < 10 else ints(ctx, xs[1], "K")[0]
    axis = axis_of(ctx, attrs.get("axis", -1), x.ndim)
    if not 0 <= k <= x.shape[axis]:
        raise ctx.error(f"K={k} is outside [0, {x.shape[axis]}] (axis {axis} of input shape {list(x.shape)})")
    if x.dtype is DType.bool:
        raise ctx.error("bool input is not supported (ONNX TopK takes numbers)")
    # ONNX breaks ties by the lower index, as lumina's topk; sorted=0 allows any order, sorted is one
    values, indices = topk(x, k, axis, largest=bool(attrs.get("largest", 1)), sorted=True)
    return [values, indices]


@handler("Hardmax")
def _hardmax(ctx, xs, attrs):
    x = tensor_of(xs[0])
    if ctx.opset < 13:   # over the input flattened to 2-D at axis
        axis = axis_of(ctx, attrs.get("axis", 1), x.ndim)
        flat = x.reshape(math.prod(x.shape[:axis]), -1)
        return [_one_hot_max(flat, 1).reshape(x.shape)]
    return [_one_hot_max(x, axis_of(ctx, attrs.get("axis", -1), x.ndim))]


def _one_hot_max(x: Tensor, axis: int) -> Tensor:
    """1 at the first maximum along ``axis``, 0 elsewhere, in ``x``'s dtype: the one-hot encoding of
    ``argmax``, its classes moved from last to ``axis``."""
    hot = F.one_hot(x.argmax(axis), num_classes=x.shape[axis])
    return _move_last_to(hot, axis).to(x.dtype)


@handler("OneHot")
def _one_hot(ctx, xs, attrs):
    index, depth, values = xs
    depth = ints(ctx, depth, "depth")
    if len(depth) != 1 or depth[0] < 1:
        raise ctx.error(f"depth {depth} must be one positive number")
    depth = depth[0]
    idx = tensor_of(index)
    axis = axis_of(ctx, attrs.get("axis", -1), idx.ndim + 1)   # an axis of the output, one rank more
    check_constant(ctx, list(idx.shape) + [depth], np.bool_, "the one-hot mask")
    v = tensor_of(values)
    if v.numel() != 2:
        raise ctx.error(f"values must hold [off_value, on_value], got shape {list(v.shape)}")
    v = v.reshape(2)
    # ONNX: float indices truncate toward zero, in-range negatives wrap, and an index out of range
    # gives an all-off row (torch's one_hot raises for it, so such indices are kept out of its way)
    idx = idx.to(DType.int64)
    idx = where(idx < 0, idx + depth, idx)
    inside = (idx >= 0) & (idx < depth)
    hot = (F.one_hot(where(inside, idx, 0), num_classes=depth) != 0) & inside.unsqueeze(-1)
    return [where(_move_last_to(hot, axis), v[1], v[0])]


@handler("Compress")
def _compress(ctx, xs, attrs):
    x, condition = xs
    keep = np.nonzero(static(ctx, condition, "condition").reshape(-1))[0]
    axis = attrs.get("axis")
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    axis = axis_of(ctx, axis, len(x.shape))
    if keep.size and keep[-1] >= x.shape[axis]:
        raise ctx.error(f"condition selects index {keep[-1]}, beyond axis {axis} of size {x.shape[axis]}")
    if is_static(x):
        return [np.take(x, keep, axis)]
    return [x.index_select(axis, tensor(keep.astype(np.int64)))]


# ---- construction: Tile, EyeLike ------------------------------------------------------------------

@handler("Tile")
def _tile(ctx, xs, attrs):
    x, repeats = xs[0], ints(ctx, xs[1], "repeats")
    if len(repeats) != len(x.shape) or any(r < 0 for r in repeats):
        raise ctx.error(f"repeats {repeats} must hold one non-negative count per dim of shape {list(x.shape)}")
    if is_static(x):
        check_constant(ctx, [r * d for r, d in zip(repeats, x.shape)], x.dtype)
        return [np.tile(x, repeats)]
    return [tile(x, repeats)]


@handler("EyeLike")
def _eye_like(ctx, xs, attrs):
    x = xs[0]
    if len(x.shape) != 2:
        raise ctx.error(f"input must be 2-D, got shape {list(x.shape)}")
    n, m = x.shape
    if "dtype" in attrs:
        dtype = onnx_dtypes.compute_dtype(attrs["dtype"])
        if dtype is None:
            raise ctx.error(f"dtype {onnx_dtypes.type_name(attrs['dtype'])} is not supported")
    else:
        dtype = lumina_dtype(ctx, x.dtype) if is_static(x) else x.dtype
    check_constant(ctx, x.shape, dtype.numpy)
    # torch's eye has no diagonal offset: ONNX's k moves the ones k columns right (rows down for k < 0)
    k = attrs.get("k", 0)
    out = eye(n, m, dtype=dtype)
    if k >= m or -k >= n:
        return [zeros((n, m), dtype=dtype)]
    return [pad(out, (k, -k)) if k >= 0 else pad(out, (0, 0, -k, k))]


# ---- scans and products ---------------------------------------------------------------------------

def _scan(ctx, xs, attrs, scan, identity):
    """CumSum / CumProd: torch's inclusive ``scan`` along the axis, with ONNX's ``reverse`` (a flip
    before and after) and ``exclusive`` (the input shifted by one, the identity in front)."""
    x = tensor_of(xs[0])
    axis = ints(ctx, xs[1], "axis")
    if len(axis) != 1:
        raise ctx.error(f"axis {axis} must be a single axis")
    axis = axis_of(ctx, axis[0], max(x.ndim, 1))   # a scalar scans to itself
    if x.ndim == 0 or x.shape[axis] == 0:
        return [x]
    n = x.shape[axis]
    reverse = bool(attrs.get("reverse", 0))
    y = x.flip(axis) if reverse else x
    if attrs.get("exclusive", 0):
        front = [0, 0] * (x.ndim - 1 - axis) + [1, 0]
        y = pad(y[(slice(None),) * axis + (slice(0, n - 1),)], front, value=identity)
    y = scan(y, axis).to(x.dtype)      # ONNX keeps the input's type (torch's integer scans are int64)
    return [y.flip(axis) if reverse else y]


@handler("CumSum")
def _cumsum(ctx, xs, attrs):
    return _scan(ctx, xs, attrs, cumsum, 0)


@handler("CumProd")
def _cumprod(ctx, xs, attrs):
    return _scan(ctx, xs, attrs, cumprod, 1)


@handler("ReduceProd")
def _reduce_prod(ctx, xs, attrs):
    x = xs[0]
    axes = axes_of(ctx, xs, attrs, len(x.shape))
    if not axes and attrs.get("noop_with_empty_axes", 0):
        return [x]
    axes = tuple(sorted(set(axes))) if axes else tuple(range(len(x.shape)))
    keep = bool(attrs.get("keepdims", 1))
    if is_static(x):
        return [np.prod(x, axis=axes, keepdims=keep).astype(x.dtype)]
    # torch's prod takes one dim: the reduced axes are merged into one, last
    rest = [a for a in range(x.ndim) if a not in axes]
    merged = x.permute(rest + list(axes)).reshape([x.shape[a] for a in rest] + [-1]) if x.ndim else x.reshape(1)
    out = merged.prod(-1).to(x.dtype)       # ONNX keeps the input's type (torch's integer prod is int64)
    return [out.reshape([1 if a in axes else d for a, d in enumerate(x.shape)]) if keep else out]


# ---- Einsum ---------------------------------------------------------------------------------------

@handler("Einsum")
def _einsum(ctx, xs, attrs):
    operands = [tensor_of(x) for x in xs]
    # ONNX's notation is torch's (NumPy's); ONNX keeps the inputs' type where torch's int32 sums give int64
    return [einsum(attrs["equation"], *operands).to(operands[0].dtype)]


# ---- DepthToSpace / SpaceToDepth ------------------------------------------------------------------

def _mode(ctx, attrs) -> str:
    mode = attrs.get("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        raise ctx.error(f"mode={mode!r} is not supported ('DCR' or 'CRD')")
    return mode


@handler("DepthToSpace")
def _depth_to_space(ctx, xs, attrs):
    x = tensor_of(xs[0])
    b, mode = attrs["blocksize"], _mode(ctx, attrs)
    if x.ndim != 4 or x.shape[1] % (b * b):
        raise ctx.error(f"input must be [N, C, H, W] with C divisible by blocksize^2 = {b * b}, "
                        f"got {list(x.shape)}")
    n, c, h, w = x.shape
    if mode == "DCR":   # channels in (block row, block column, C) order: to CRD's (C, row, column)
        x = x.reshape(n, b * b, c // (b * b), h, w).transpose(1, 2).reshape(n, c, h, w)
    return [F.pixel_shuffle(x, b)]     # CRD is pixel_shuffle


@handler("SpaceToDepth")
def _space_to_depth(ctx, xs, attrs):
    x = tensor_of(xs[0])
    b, mode = attrs["blocksize"], _mode(ctx, attrs)
    if x.ndim != 4 or x.shape[2] % b or x.shape[3] % b:
        raise ctx.error(f"input must be [N, C, H, W] with H and W divisible by blocksize {b}, got {list(x.shape)}")
    y = F.pixel_unshuffle(x, b)        # channels in CRD order: (C, block row, block column)
    if mode == "DCR":   # ONNX's default order: (block row, block column, C)
        n, c, h, w = y.shape
        y = y.reshape(n, c // (b * b), b * b, h, w).transpose(1, 2).reshape(n, c, h, w)
    return [y]
