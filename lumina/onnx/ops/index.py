"""Indexing, scatter, scan and layout ONNX operators: GatherElements, GatherND, ScatterElements (and
the older Scatter), ScatterND, TopK, Hardmax, OneHot, Tile, EyeLike, Compress, CumSum, CumProd,
ReduceProd, Einsum, DepthToSpace, SpaceToDepth and Range.

Index tensors the model computes stay lumina tensors. Reads are the ``gather`` primitive (on a
linearised index) or ``lumina.tensor.indexing.gather``'s masked sum; lumina has no scatter
primitive, so a scatter compares every index with the positions it may write (``index == arange``)
and folds the updates in with ``where`` and a sum / max / product over the updates axis: work
``numel(indices) x size of the scattered axis`` (ScatterElements) or ``number of index tuples x
numel(data)`` (ScatterND), fused into one reduction. Values that must be known while tracing (TopK's
``K``, Tile's ``repeats``, OneHot's ``depth``, the scan axis, Compress's condition) are taken with
``static`` and specialise the model on them when they are graph inputs.
"""
from __future__ import annotations

import math
import re

import numpy as np

from ...tensor.indexing import checked_index, select_elements
from ...ir.dtypes import DType
from ...tensor.movement import pad
from ...tensor import Tensor, arange, cat, matmul, maximum, minimum, ones, tensor, where
from .registry import axes_of, axis_of, check_constant, handler, ints, is_static, static, tensor_of


# ---- helpers --------------------------------------------------------------------------------------

def _positions(n: int, axis: int, rank: int) -> Tensor:
    """``arange(n)`` (int64) along ``axis`` of a rank-``rank`` tensor, size 1 elsewhere."""
    return arange(n).reshape([n if a == axis else 1 for a in range(rank)])


def _normalized(idx: Tensor, n: int) -> Tensor:
    """An index tensor as int64 with negative entries counted from the end (ONNX allows
    ``[-n, n)``)."""
    idx = idx.to(DType.int64)
    return where(idx < 0, idx + n, idx)


def _checked(ctx, idx: Tensor, n: int, where_: str) -> Tensor:
    """``idx`` as int64 counted from the end where negative, every entry checked to lie in
    ``[-n, n)`` (ONNX Runtime raises otherwise): a LuminaIndexError naming the node, at once for
    known indices, else when the model runs (``lumina.tensor.indexing.checked_index``)."""
    return checked_index(idx, n, f"node {ctx.name!r} ({ctx.op_type})", where_)


def _flip(x: Tensor, axis: int) -> Tensor:
    n = x.shape[axis]
    return x.index_select(axis, tensor(np.arange(n - 1, -1, -1, dtype=np.int64))) if n > 1 else x


def _lowest(dtype: DType):
    return -math.inf if dtype.is_float else int(np.iinfo(dtype.numpy).min)


def _highest(dtype: DType):
    return math.inf if dtype.is_float else int(np.iinfo(dtype.numpy).max)


def _zero(dtype: DType):
    return 0.0 if dtype.is_float else 0


def _prod_last(x: Tensor) -> Tensor:
    """The product over the last axis, as a tree of ``log2(n)`` halving multiplies (lumina has no
    product reduction); an empty axis gives ones."""
    n = x.shape[-1]
    if n == 0:
        return ones(x.shape[:-1], dtype=x.dtype)
    while n > 1:
        if n % 2:
            x = pad(x, (0, 1), value=1)
            n += 1
        x = x[..., :n // 2] * x[..., n // 2:]
        n //= 2
    return x.reshape(x.shape[:-1])


def _prod(x: Tensor, axes, keepdim: bool) -> Tensor:
    """The product over ``axes`` (sorted, non-negative)."""
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = x.permute(rest + list(axes)).reshape([x.shape[a] for a in rest] + [math.prod(x.shape[a] for a in axes)])
    out = _prod_last(moved)
    if keepdim:
        out = out.reshape([1 if a in axes else d for a, d in enumerate(x.shape)])
    return out


def _scan_last(x: Tensor, combine, fill) -> Tensor:
    """Inclusive scan along the last axis with ``combine`` (Hillis & Steele: ``log2(n)`` shifted
    combines, the shift filled with the identity ``fill``)."""
    n, shift = x.shape[-1], 1
    while shift < n:
        x = combine(x, pad(x[..., :n - shift], (shift, 0), value=fill))
        shift *= 2
    return x


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
    sizes = list(x.shape[b:b + k])
    inner = list(x.shape[b + k:])
    out_shape = list(index.shape[:-1]) + inner
    n_batch, n_cell = math.prod(x.shape[:b]), math.prod(sizes)
    strides = [math.prod(sizes[j + 1:]) for j in range(k)]
    # every index tuple as one position in data flattened to [batch * cells, *inner]
    offset = (np.arange(n_batch, dtype=np.int64) * n_cell).reshape(
        tuple(index.shape[:b]) + (1,) * (len(index.shape) - 1 - b))
    if is_static(x) and is_static(index):
        idx = np.where(index < 0, index + np.array(sizes), index)
        lin = (idx * np.array(strides)).sum(-1) + offset
        return [x.reshape([n_batch * n_cell] + inner)[lin.reshape(-1)].reshape(out_shape)]
    idx = tensor_of(index)
    lin = tensor(offset)
    for j in range(k):
        lin = lin + _checked(ctx, idx[..., j], sizes[j], f"axis {b + j} of data") * strides[j]
    flat = tensor_of(x).reshape([n_batch * n_cell] + inner)
    return [flat.index_select(0, lin.reshape(-1)).reshape(out_shape)]


# ---- scatters -------------------------------------------------------------------------------------

_REDUCTIONS = ("none", "add", "mul", "max", "min")


def _fold_updates(ctx, data: Tensor, hit: Tensor, upd: Tensor, axis: int, reduction: str) -> Tensor:
    """``data`` with the updates folded in. ``hit`` (bool) and ``upd`` broadcast to ``data``'s shape
    with one more axis at ``axis`` (the updates); ``hit`` says which update writes which element.
    ``none`` keeps the last update that writes an element (ONNX leaves duplicates undefined; the
    reference implementation and ONNX Runtime apply them in order)."""
    if reduction not in _REDUCTIONS:
        raise ctx.error(f"reduction={reduction!r} is not supported (one of {', '.join(_REDUCTIONS)})")
    dtype = data.dtype
    if dtype is DType.bool:
        if reduction not in ("none", "max", "min"):
            raise ctx.error(f"reduction={reduction!r} does not apply to bool data")
        out = _fold_updates(ctx, data.to(DType.int64), hit, upd.to(DType.int64), axis, reduction)
        return out != 0
    upd = upd.to(dtype)
    if reduction == "add":
        return data + where(hit, upd, _zero(dtype)).sum(axis).to(dtype)
    if reduction == "mul":
        moved = where(hit, upd, 1.0 if dtype.is_float else 1)
        return data * _prod(moved, (axis,), keepdim=False)
    m = hit.shape[axis]
    order = _positions(m, axis, hit.ndim)
    last = where(hit, order, -1).amax(axis, keepdim=True)      # the last update per element, or -1
    touched = last.reshape(last.shape[:axis] + last.shape[axis + 1:]) >= 0
    if reduction == "none":
        picked = where(hit & (order == last), upd, _zero(dtype)).sum(axis).to(dtype)
        return where(touched, picked, data)
    if reduction == "max":
        best = where(hit, upd, _lowest(dtype)).amax(axis)
        return where(touched, maximum(data, best), data)
    best = where(hit, upd, _highest(dtype)).amin(axis)
    return where(touched, minimum(data, best), data)


@handler("ScatterElements", "Scatter")
def _scatter_elements(ctx, xs, attrs):
    data, index, updates = (tensor_of(v) for v in xs)
    rank = data.ndim
    axis = axis_of(ctx, attrs.get("axis", 0), rank)
    reduction = attrs.get("reduction", "none")
    if index.shape != updates.shape or index.ndim != rank or any(
            i > d for a, (i, d) in enumerate(zip(index.shape, data.shape)) if a != axis):
        raise ctx.error(f"indices {list(index.shape)} and updates {list(updates.shape)} must have one shape, "
                        f"of data's rank ({list(data.shape)}), no larger outside axis {axis}")
    # only the leading block of data that the indices cover (outside the axis) can change
    block = tuple(slice(None) if a == axis else slice(0, i) for a, i in enumerate(index.shape))
    partial = any(i != d for a, (i, d) in enumerate(zip(index.shape, data.shape)) if a != axis)
    target = data[block] if partial else data
    n = data.shape[axis]
    # hit[..., j, p, ...]: update j (along the axis) writes position p of the axis
    hit = _checked(ctx, index, n, f"axis {axis} of data").unsqueeze(axis + 1) == _positions(n, axis + 1, rank + 1)
    out = _fold_updates(ctx, target, hit, updates.unsqueeze(axis + 1), axis, reduction)
    if not partial:
        return [out]
    grow = []
    for a in reversed(range(rank)):
        grow += [0, data.shape[a] - out.shape[a]]
    inside = np.zeros(data.shape, bool)
    inside[block] = True
    return [where(tensor(inside), pad(out, grow), data)]


@handler("ScatterND")
def _scatter_nd(ctx, xs, attrs):
    data, index, updates = (tensor_of(v) for v in xs)
    k = index.shape[-1]
    want = tuple(index.shape[:-1]) + tuple(data.shape[k:])
    if k > data.ndim or updates.shape != want:
        raise ctx.error(f"indices {list(index.shape)} and updates {list(updates.shape)} do not fit data "
                        f"{list(data.shape)}: updates must have shape indices.shape[:-1] + "
                        f"data.shape[indices.shape[-1]:] = {list(want)}")
    sizes = data.shape[:k]
    cells, inner = math.prod(sizes), math.prod(data.shape[k:])
    lin = None
    for j in range(k):
        term = _checked(ctx, index[..., j], sizes[j], f"axis {j} of data") * math.prod(sizes[j + 1:])
        lin = term if lin is None else lin + term
    n_upd = math.prod(index.shape[:-1])
    lin = lin.reshape(n_upd, 1, 1) if lin is not None else tensor(np.zeros((n_upd, 1, 1), np.int64))
    hit = lin == arange(cells).reshape(1, cells, 1)              # [updates, cells, 1]
    out = _fold_updates(ctx, data.reshape(cells, inner), hit, updates.reshape(n_upd, 1, inner), 0,
                        attrs.get("reduction", "none"))
    return [out.reshape(data.shape)]


# ---- selection: TopK, Hardmax, OneHot, Compress -----------------------------------------------

_TOPK_UNROLL = 16


def _top_k(x: Tensor, k: int, axis: int, largest: bool) -> tuple[Tensor, Tensor]:
    """The ``k`` largest (smallest) entries along ``axis``, in order, ties by the lower index (as
    ONNX Runtime and the reference), with their int64 indices.

    Small ``k``: ``k`` rounds of pick-the-best-untaken (work ``k * n``). Larger ``k``: the rank of
    every entry (how many entries precede it in the order: work ``n * n``), then the entry of each
    rank ``0 .. k-1`` by a masked sum."""
    n, rank = x.shape[axis], x.ndim
    pos = _positions(n, axis, rank)
    if k == 0:
        none = x[(slice(None),) * axis + (slice(0, 0),)]
        return none, none.to(DType.int64)
    if k <= _TOPK_UNROLL:
        taken = pos < 0
        fill = _lowest(x.dtype) if largest else _highest(x.dtype)
        values, indices = [], []
        for _ in range(k):
            rest = where(taken, fill, x)
            best = rest.amax(axis, keepdim=True) if largest else rest.amin(axis, keepdim=True)
            first = where((x == best) & ~taken, pos, n).amin(axis, keepdim=True)
            taken = taken | (pos == first)
            values.append(best)
            indices.append(first)
        return cat(values, axis), cat(indices, axis)
    xi, xj = x.unsqueeze(axis + 1), x.unsqueeze(axis)             # entry i along axis, entry j along axis+1
    pi, pj = _positions(n, axis, rank + 1), _positions(n, axis + 1, rank + 1)
    ahead = (xj > xi) if largest else (xj < xi)
    ranks = (ahead | ((xj == xi) & (pj < pi))).to(DType.int64).sum(axis + 1)   # [..., n (i), ...]
    slot = ranks.unsqueeze(axis) == _positions(k, axis, rank + 1)           # [..., k, n, ...]
    values = where(slot, x.unsqueeze(axis), _zero(x.dtype)).sum(axis + 1).to(x.dtype)
    indices = where(slot, pos.unsqueeze(axis), 0).sum(axis + 1)
    return values, indices


@handler("TopK")
def _topk(ctx, xs, attrs):
    x = tensor_of(xs[0])
    k = attrs["k"] if ctx.opset < 10 else ints(ctx, xs[1], "K")[0]
    axis = axis_of(ctx, attrs.get("axis", -1), x.ndim)
    if not 0 <= k <= x.shape[axis]:
        raise ctx.error(f"K={k} is outside [0, {x.shape[axis]}] (axis {axis} of input shape {list(x.shape)})")
    if x.dtype is DType.bool:
        raise ctx.error("bool input is not supported (ONNX TopK takes numbers)")
    values, indices = _top_k(x, k, axis, bool(attrs.get("largest", 1)))   # sorted=0: any order is allowed
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
    """1 at the first maximum along ``axis``, 0 elsewhere, in ``x``'s dtype."""
    first = x.argmax(axis, keepdim=True)
    return (_positions(x.shape[axis], axis, x.ndim) == first).to(x.dtype)


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
    if not idx.dtype.is_int:   # float indices truncate toward zero
        idx = idx.to(DType.int64)
    idx = _normalized(idx, depth)   # in-range negatives wrap; others match no position (all off)
    hot = idx.unsqueeze(axis) == _positions(depth, axis, idx.ndim + 1)
    v = tensor_of(values)
    if v.numel() != 2:
        raise ctx.error(f"values must hold [off_value, on_value], got shape {list(v.shape)}")
    v = v.reshape(2)
    return [where(hot, v[1], v[0])]


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


# ---- construction: Tile, EyeLike, Range -----------------------------------------------------------

@handler("Tile")
def _tile(ctx, xs, attrs):
    x, repeats = xs[0], ints(ctx, xs[1], "repeats")
    if len(repeats) != len(x.shape) or any(r < 0 for r in repeats):
        raise ctx.error(f"repeats {repeats} must hold one non-negative count per dim of shape {list(x.shape)}")
    if is_static(x):
        check_constant(ctx, [r * d for r, d in zip(repeats, x.shape)], x.dtype)
        return [np.tile(x, repeats)]
    # [d0, d1] -> [1, d0, 1, d1] -> expand [r0, d0, r1, d1] -> [r0*d0, r1*d1]
    spread = [s for d in x.shape for s in (1, d)]
    tiled = [s for r, d in zip(repeats, x.shape) for s in (r, d)]
    return [x.reshape(spread).expand(tuple(tiled)).reshape([r * d for r, d in zip(repeats, x.shape)])]


@handler("EyeLike")
def _eye_like(ctx, xs, attrs):
    from onnx.helper import tensor_dtype_to_np_dtype
    x = xs[0]
    if len(x.shape) != 2:
        raise ctx.error(f"input must be 2-D, got shape {list(x.shape)}")
    dtype = (np.dtype(tensor_dtype_to_np_dtype(attrs["dtype"])) if "dtype" in attrs
             else x.dtype if is_static(x) else x.dtype.numpy)
    check_constant(ctx, x.shape, dtype)
    return [np.eye(*x.shape, k=attrs.get("k", 0), dtype=dtype)]


# ---- scans and products ---------------------------------------------------------------------------

def _scan(ctx, xs, attrs, inclusive_scan, identity):
    x = tensor_of(xs[0])
    axis = ints(ctx, xs[1], "axis")
    if len(axis) != 1:
        raise ctx.error(f"axis {axis} must be a single axis")
    axis = axis_of(ctx, axis[0], max(x.ndim, 1))   # a scalar scans to itself
    if x.ndim == 0 or x.shape[axis] == 0:
        return [x]
    n = x.shape[axis]
    last = x.ndim - 1
    y = x.transpose(axis, last) if axis != last else x
    if attrs.get("reverse", 0):
        y = _flip(y, last)
    if attrs.get("exclusive", 0):
        y = pad(y[..., :n - 1], (1, 0), value=identity)
    y = inclusive_scan(y).to(x.dtype)
    if attrs.get("reverse", 0):
        y = _flip(y, last)
    return [y.transpose(axis, last) if axis != last else y]


@handler("CumSum")
def _cumsum(ctx, xs, attrs):
    return _scan(ctx, xs, attrs, lambda y: y.cumsum(-1), 0)   # lumina's cumsum: IEEE inf/NaN, ints in int64


@handler("CumProd")
def _cumprod(ctx, xs, attrs):
    return _scan(ctx, xs, attrs, lambda y: _scan_last(y, lambda a, b: a * b, 1), 1)


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
    return [_prod(x, axes, keep)]


# ---- Einsum ---------------------------------------------------------------------------------------

def _einsum_terms(ctx, equation: str, ranks: list[int]) -> tuple[list[list[str]], list[str]]:
    """The labels of each operand and of the output; ``...`` becomes labels ``*0, *1, ...``
    (right-aligned across operands, as NumPy broadcasts them)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks) or not re.fullmatch(r"[a-zA-Z.]*(,[a-zA-Z.]*)*", lhs) or \
            not re.fullmatch(r"[a-zA-Z.]*", rhs):
        raise ctx.error(f"equation {equation!r} does not fit {len(ranks)} input(s) (letters, '...', ',', '->')")
    n_ell = 0
    for term, r in zip(terms, ranks):
        if "..." in term:
            n_ell = max(n_ell, r - len(term.replace("...", "")))
    ell = [f"*{i}" for i in range(n_ell)]

    def labels(term: str, rank: int | None) -> list[str]:
        head, dots, tail = term.partition("...")
        if "." in head + tail:
            raise ctx.error(f"equation {equation!r}: '.' only as '...'")
        if not dots:
            if rank is not None and len(term) != rank:
                raise ctx.error(f"equation {equation!r}: term {term!r} has {len(term)} labels for an input of "
                                f"rank {rank}")
            return list(term)
        k = (rank - len(head) - len(tail)) if rank is not None else n_ell
        if k < 0:
            raise ctx.error(f"equation {equation!r}: term {term!r} has more labels than its input's rank {rank}")
        return list(head) + ell[n_ell - k:] + list(tail)

    ins = [labels(t, r) for t, r in zip(terms, ranks)]
    if arrow:
        out = labels(rhs, None)
    else:   # implicit output: the broadcast dims, then the letters seen once, in alphabetical order
        letters = [c for t in terms for c in t if c != "."]
        out = ell + sorted(c for c in set(letters) if letters.count(c) == 1)
    for label in out:
        if out.count(label) > 1 or not any(label in t for t in ins):
            raise ctx.error(f"equation {equation!r}: output label {label!r} must appear once in the output "
                            f"and in some input")
    return ins, out


def _diagonal(x: Tensor, labels: list[str]) -> tuple[Tensor, list[str]]:
    """Merge repeated labels of one operand (``ii -> i``): a masked sum over the second copy."""
    labels = list(labels)
    i = 0
    while i < len(labels):
        if labels[i] in labels[i + 1:]:
            j = labels.index(labels[i], i + 1)
            eye = np.eye(x.shape[i], x.shape[j], dtype=bool)
            mask = eye.reshape([x.shape[a] if a in (i, j) else 1 for a in range(x.ndim)])
            x = where(tensor(mask), x, _zero(x.dtype)).sum(j).to(x.dtype)
            del labels[j]
        else:
            i += 1
    return x, labels


def _sum_labels(x: Tensor, labels: list[str], keep) -> tuple[Tensor, list[str]]:
    gone = [a for a, label in enumerate(labels) if label not in keep]
    if gone:
        x = x.sum(tuple(gone)).to(x.dtype)
    return x, [label for label in labels if label in keep]


def _contract(a: Tensor, la: list[str], b: Tensor, lb: list[str], keep) -> tuple[Tensor, list[str]]:
    """``a`` and ``b`` multiplied over their shared labels, summing those not in ``keep``: one
    batched matmul ``[batch, free_a, sum] x [batch, sum, free_b]``."""
    batch = [label for label in la if label in lb and label in keep]
    summed = [label for label in la if label in lb and label not in keep]
    free_a = [label for label in la if label not in lb]
    free_b = [label for label in lb if label not in la]
    size = {**dict(zip(la, a.shape)), **dict(zip(lb, b.shape))}
    n = {name: math.prod(size[label] for label in group) for name, group in
         (("batch", batch), ("summed", summed), ("free_a", free_a), ("free_b", free_b))}
    x = a.permute([la.index(label) for label in batch + free_a + summed]).reshape(
        n["batch"], n["free_a"], n["summed"])
    y = b.permute([lb.index(label) for label in batch + summed + free_b]).reshape(
        n["batch"], n["summed"], n["free_b"])
    out = matmul(x, y).reshape([size[label] for label in batch + free_a + free_b])
    return out, batch + free_a + free_b


@handler("Einsum")
def _einsum(ctx, xs, attrs):
    operands = [tensor_of(x) for x in xs]
    ins, out = _einsum_terms(ctx, attrs["equation"], [t.ndim for t in operands])
    dtype = operands[0].dtype
    if any(t.dtype is not dtype for t in operands) or dtype is DType.bool:
        raise ctx.error(f"inputs must share one numeric dtype, got {[t.dtype.name for t in operands]}")
    compute = DType.float32 if dtype.is_half else dtype   # 16-bit floats accumulate in float32
    size: dict[str, int] = {}
    for t, labels in zip(operands, ins):
        for label, d in zip(labels, t.shape):
            if d != 1 and size.get(label, 1) not in (1, d):
                raise ctx.error(f"equation {attrs['equation']!r}: label {label!r} has sizes {size[label]} and {d}")
            size[label] = d if d != 1 else size.get(label, 1)
    terms = []
    for i, (t, labels) in enumerate(zip(operands, ins)):
        t = t.to(compute)
        t = t.expand(tuple(size[label] for label in labels)) if t.shape != tuple(size[label] for label in labels) else t
        t, labels = _diagonal(t, labels)
        later = {label for other in ins[:i] + ins[i + 1:] for label in other}
        terms.append(_sum_labels(t, labels, later | set(out)))
    acc, la = terms[0]
    for i, (t, lt) in enumerate(terms[1:], start=1):
        keep = set(out) | {label for other in ins[i + 1:] for label in other}
        acc, la = _sum_labels(acc, la, keep | set(lt))
        acc, la = _contract(acc, la, t, lt, keep)
    acc, la = _sum_labels(acc, la, set(out))
    return [acc.permute([la.index(label) for label in out]).to(dtype) if out else acc.to(dtype)]


# ---- DepthToSpace / SpaceToDepth ------------------------------------------------------------------

@handler("DepthToSpace")
def _depth_to_space(ctx, xs, attrs):
    x = tensor_of(xs[0])
    b, mode = attrs["blocksize"], attrs.get("mode", "DCR")
    if x.ndim != 4 or x.shape[1] % (b * b):
        raise ctx.error(f"input must be [N, C, H, W] with C divisible by blocksize^2 = {b * b}, "
                        f"got {list(x.shape)}")
    n, c, h, w = x.shape
    if mode == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        y = x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
    else:
        raise ctx.error(f"mode={mode!r} is not supported ('DCR' or 'CRD')")
    return [y.reshape(n, c // (b * b), h * b, w * b)]


@handler("SpaceToDepth")
def _space_to_depth(ctx, xs, attrs):
    x = tensor_of(xs[0])
    b, mode = attrs["blocksize"], attrs.get("mode", "DCR")
    if x.ndim != 4 or x.shape[2] % b or x.shape[3] % b:
        raise ctx.error(f"input must be [N, C, H, W] with H and W divisible by blocksize {b}, got {list(x.shape)}")
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b)
    if mode == "DCR":
        y = y.permute(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        y = y.permute(0, 1, 3, 5, 2, 4)
    else:
        raise ctx.error(f"mode={mode!r} is not supported ('DCR' or 'CRD')")
    return [y.reshape(n, c * b * b, h // b, w // b)]
