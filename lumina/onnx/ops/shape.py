"""Shape and movement ONNX operators: Shape, Reshape, Transpose, Gather, Slice, Concat, Expand, Split,
Trilu... Known (NumPy) inputs give known outputs, so shape arithmetic folds while tracing."""
from __future__ import annotations

import math

import numpy as np

from ...tensor.indexing import select_slices
from ...ir.symbolic import Sym
from ...tensor import cat, tensor, tril, triu
from .registry import (axes_index, axes_of, axis_of, check_constant, handler, ints, is_static, permutation,
                       static, tensor_of)


@handler("Shape")
def _shape(ctx, xs, attrs):
    # a symbolic dim (``ir.symbolic``) stays symbolic: an object array of sizes, which the shape
    # arithmetic after it (Gather, Concat, Mul, Reshape) carries along
    dims = xs[0].shape
    shape = np.array(dims, dtype=object if any(isinstance(d, Sym) for d in dims) else np.int64)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    return [shape[start:end]]


@handler("Size")
def _size(ctx, xs, attrs):
    return [np.array(int(np.prod(xs[0].shape)), dtype=np.int64)]


@handler("Constant")
def _constant(ctx, xs, attrs):
    from onnx import numpy_helper
    if "value" in attrs:
        return [numpy_helper.to_array(attrs["value"])]
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return [np.array(attrs[key], dtype=dtype)]
    raise ctx.error(f"unsupported attribute(s) {sorted(attrs)}")


@handler("ConstantOfShape")
def _constant_of_shape(ctx, xs, attrs):
    from onnx import numpy_helper
    value = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    if value.size != 1:
        raise ctx.error(f"value must hold one element, got shape {list(value.shape)}")
    shape = check_constant(ctx, ints(ctx, xs[0], "shape"), value.dtype)
    return [np.full(shape, value.reshape(-1)[0], dtype=value.dtype)]


@handler("Range")
def _range(ctx, xs, attrs):
    start, limit, delta = (_scalar(ctx, v, n) for v, n in zip(xs, ("start", "limit", "delta")))
    if delta == 0:
        raise ctx.error("delta must not be 0")
    dtype = np.result_type(start, limit, delta)
    with np.errstate(all="ignore"):
        count = float(np.ceil((np.float64(limit) - np.float64(start)) / np.float64(delta)))
    if not np.isfinite(count):
        raise ctx.error(f"start={start}, limit={limit}, delta={delta} do not give a finite number of elements")
    check_constant(ctx, [max(int(count), 0)], dtype)
    return [np.arange(start, limit, delta, dtype=dtype)]


def _scalar(ctx, v, what: str) -> np.ndarray:
    v = static(ctx, v, what)
    if v.size != 1:
        raise ctx.error(f"{what} must be a scalar, got shape {list(v.shape)}")
    return v.reshape(())


@handler("Reshape")
def _reshape(ctx, xs, attrs):
    x, shape = xs[0], ints(ctx, xs[1], "shape")
    allowzero = attrs.get("allowzero", 0)
    if not allowzero and any(d == 0 for d in shape[len(x.shape):]):
        raise ctx.error(f"shape {shape}: a 0 copies the input's size at that position, and the input "
                        f"{list(x.shape)} has rank {len(x.shape)}")
    if not allowzero:
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    if any(d < -1 for d in shape) or shape.count(-1) > 1:
        raise ctx.error(f"shape {shape}: sizes are non-negative, with at most one -1")
    known = math.prod(d for d in shape if d != -1)
    total = math.prod(x.shape)
    if -1 in shape and (known == 0 or total % known) or -1 not in shape and known != total:
        raise ctx.error(f"cannot reshape an input of shape {list(x.shape)} ({total} elements) to {shape}")
    return [x.reshape(shape)]


@handler("Flatten")
def _flatten(ctx, xs, attrs):
    x = xs[0]
    axis = axis_of(ctx, attrs.get("axis", 1), len(x.shape), upper=len(x.shape))   # axis == rank: [N, 1]
    return [x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))]


@handler("Transpose")
def _transpose(ctx, xs, attrs):
    x = xs[0]
    perm = permutation(ctx, attrs.get("perm", list(range(len(x.shape)))[::-1]), len(x.shape))
    return [np.transpose(x, perm) if is_static(x) else x.permute(list(perm))]


@handler("Unsqueeze")
def _unsqueeze(ctx, xs, attrs):
    x = xs[0]
    rank = len(x.shape) + len(_rawaxes_of(ctx, xs, attrs))   # axes count in the output
    axes = sorted(axes_of(ctx, xs, attrs, rank, unique=True, rank_of="the output") or [])
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return [x.reshape(shape)]


def _rawaxes_of(ctx, xs, attrs) -> list[int]:
    return ints(ctx, xs[1], "axes") if len(xs) > 1 and xs[1] is not None else list(attrs.get("axes", []))


@handler("Squeeze")
def _squeeze(ctx, xs, attrs):
    x = xs[0]
    axes = axes_of(ctx, xs, attrs, len(x.shape))
    if not axes:   # absent, or an empty axes input (as ONNX Runtime): every dim of size 1
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    for a in axes:
        if x.shape[a] != 1:
            raise ctx.error(f"cannot squeeze axis {a} of size {x.shape[a]} (input shape {list(x.shape)})")
    return [x.reshape([d for i, d in enumerate(x.shape) if i not in axes])]


@handler("Concat")
def _concat(ctx, xs, attrs):
    if not xs or any(x is None for x in xs):
        raise ctx.error("takes one or more inputs, none absent")
    rank = len(xs[0].shape)
    axis = axis_of(ctx, attrs["axis"], rank)
    for i, x in enumerate(xs):
        if len(x.shape) != rank or any(a != b for k, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if k != axis):
            raise ctx.error(f"input {i} of shape {list(x.shape)} does not fit input 0 of shape "
                            f"{list(xs[0].shape)}: all inputs have one rank and agree outside axis {axis}")
    if all(is_static(x) for x in xs):
        return [np.concatenate(xs, axis=axis)]
    return [cat([tensor_of(x) for x in xs], axis)]


@handler("Gather")
def _gather(ctx, xs, attrs):
    x, index = xs
    axis = axis_of(ctx, attrs.get("axis", 0), len(x.shape))
    idx = static(ctx, index, "indices") if is_static(index) else index
    if is_static(idx):
        n = x.shape[axis]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx.min()) if idx.min() < -n else int(idx.max())
            raise ctx.error(f"index {bad} is out of range for axis {axis} of size {n} (input shape "
                            f"{list(x.shape)}): ONNX takes indices in [{-n}, {n - 1}]")
    if is_static(x) and is_static(idx):
        return [np.take(x, idx, axis=axis)]
    if is_static(idx):
        idx = np.where(idx < 0, idx + x.shape[axis], idx)
        if idx.ndim == 0:   # a scalar index drops the axis
            key = (slice(None),) * axis + (int(idx),)
            return [tensor_of(x)[key]]
        picked = tensor_of(x).index_select(axis, tensor(idx.reshape(-1)))
        return [picked.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])]
    # ONNX allows negative indices, counted from the end; one out of range raises when it runs
    return [select_slices(tensor_of(x), axis, idx, f"node {ctx.name!r} (Gather)")]


@handler("Slice")
def _slice(ctx, xs, attrs):
    x = xs[0]
    rank = len(x.shape)
    if ctx.opset < 10:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = ints(ctx, xs[1], "starts"), ints(ctx, xs[2], "ends")
        axes = ints(ctx, xs[3], "axes") if len(xs) > 3 and xs[3] is not None else list(range(len(starts)))
        steps = ints(ctx, xs[4], "steps") if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.error(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} must have one length")
    axes = axes_index(ctx, axes, rank, unique=True)
    if is_static(x) and any(isinstance(v, Sym) for v in (*starts, *ends)):
        x = tensor_of(x)   # a known array cut at a symbolic size: a tensor of symbolic shape
    key = [slice(None)] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise ctx.error(f"steps={steps}: a step of 0 on axis {a}")
        if st < 0 and not is_static(x):
            raise ctx.error(f"negative step {st} on axis {a} is not supported")
        key[a] = slice(s, e, st)
    return [x[tuple(key)]]


@handler("Expand")
def _expand(ctx, xs, attrs):
    x, shape = xs[0], ints(ctx, xs[1], "shape")
    try:
        out = _broadcast(tuple(x.shape), tuple(shape))
    except ValueError:
        raise ctx.error(f"shape {shape} does not broadcast with the input's shape {list(x.shape)}") from None
    if is_static(x):
        check_constant(ctx, out, x.dtype)
    return [np.broadcast_to(x, out).copy() if is_static(x) else x.broadcast_to(out)]


def _broadcast(a: tuple, b: tuple) -> tuple:
    """NumPy's broadcast of two shapes whose sizes may be symbolic (a symbol is never 1)."""
    rank = max(len(a), len(b))
    out = []
    for i in range(rank):
        dims = {s[i - rank + len(s)] for s in (a, b) if i - rank + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(f"cannot broadcast {a} with {b}")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


@handler("Split")
def _split(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axis = axis_of(ctx, attrs.get("axis", 0), x.ndim)
    sizes = ints(ctx, xs[1], "split") if len(xs) > 1 and xs[1] is not None else attrs.get("split")
    if sizes is None:
        n = attrs.get("num_outputs") or ctx.n_outputs
        if n < 1:
            raise ctx.error(f"num_outputs={n}: Split makes at least one output")
        size = -(-x.shape[axis] // n)
        sizes = [max(min(size, x.shape[axis] - i * size), 0) for i in range(n)]
    if any(d < 0 for d in sizes) or sum(sizes) != x.shape[axis]:
        raise ctx.error(f"split={list(sizes)} must be non-negative sizes summing to {x.shape[axis]} (axis {axis} "
                        f"of input shape {list(x.shape)})")
    return list(x.split(list(sizes), axis))


@handler("Trilu")
def _trilu(ctx, xs, attrs):
    x = xs[0]
    k = int(static(ctx, xs[1], "k").reshape(())) if len(xs) > 1 and xs[1] is not None else 0
    upper = bool(attrs.get("upper", 1))
    if is_static(x):
        return [np.triu(x, k) if upper else np.tril(x, k)]
    return [triu(x, k) if upper else tril(x, k)]
