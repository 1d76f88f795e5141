"""Reverse-mode autodiff as a graph transform: one VJP rule per primitive.

``vjp(outputs, cotangents, wrt)`` walks the nodes between ``wrt`` and ``outputs`` in reverse
topological order (iteratively, so 10,000-deep chains are fine), applies each node's rule to the
accumulated cotangent of its output and sums the contributions per operand. The result is ordinary IR:
the backward graph goes through the same passes and codegen as the forward one.

A rule maps ``(g, *operands, out, **attrs)`` to one cotangent per operand (``None`` where the operand
is not differentiable). Rules only see same-shape operands: broadcasting was made explicit by
``expand``, whose rule sums back (``sum_to``).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..errors import LuminaGradError
from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.graph import Graph, Node, Value, emit, topo_sort
from ..ir.ops import Op


def _zeros_like(x: Value) -> Value:
    return B.const(0, x.dtype, x.shape)


def _sign(x: Value) -> Value:
    pos = B.cast(emit(Op.GT, (x, _zeros_like(x))), x.dtype)
    neg = B.cast(emit(Op.LT, (x, _zeros_like(x))), x.dtype)
    return pos - neg


def _maximum_vjp(g, x, y, out):
    """PyTorch's rule for ``maximum``: ``where(x == y, g / 2, g)``, zeroed for ``x`` where
    ``x < y`` and for ``y`` where ``x > y``. Where a NaN is involved every compare is false, so
    both operands get ``g`` (as torch's ``derivatives.yaml``)."""
    share = B.where(emit(Op.EQ, (x, y)), g * 0.5, g)
    return B.where(emit(Op.LT, (x, y)), 0.0, share), B.where(emit(Op.GT, (x, y)), 0.0, share)


def _minimum_vjp(g, x, y, out):
    """PyTorch's rule for ``minimum``; see ``_maximum_vjp`` with the compares swapped."""
    share = B.where(emit(Op.EQ, (x, y)), g * 0.5, g)
    return B.where(emit(Op.GT, (x, y)), 0.0, share), B.where(emit(Op.LT, (x, y)), 0.0, share)


def _pow_vjp(g, x, y, out):
    # d/dx x^y = y x^(y-1) (0 where y == 0); d/dy = x^y log x (0 where x == 0 and y >= 0), as PyTorch.
    y_is_0 = emit(Op.EQ, (y, _zeros_like(y)))
    dx = B.where(y_is_0, 0.0, g * y * emit(Op.POW, (x, y - 1.0)))
    x_is_0 = emit(Op.AND, (emit(Op.EQ, (x, _zeros_like(x))), emit(Op.GE, (y, _zeros_like(y)))))
    dy = B.where(x_is_0, 0.0, g * out * B.unary(Op.LOG, x))
    return dx, dy


def _reduce_sum_vjp(g, x, out, *, axes, keepdim):
    keep = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    return (B.expand(B.reshape(g, keep), x.shape),)


def _reduce_max_vjp(g, x, out, *, axes, keepdim):
    """PyTorch's ``evenly_distribute_backward`` (``torch.max()``): the gradient is shared evenly
    among the elements equal to the maximum, or, where the maximum is NaN, among the NaNs.
    (``torch.amax`` gives NaN gradients to a slice holding NaN; lumina follows ``max()``.)"""
    keep = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    best = B.expand(B.reshape(out, keep), x.shape)
    both_nan = emit(Op.AND, (emit(Op.NE, (x, x)), emit(Op.NE, (best, best))))
    hit = B.cast(emit(Op.OR, (emit(Op.EQ, (x, best)), both_nan)), x.dtype)
    count = B.reduce(Op.REDUCE_SUM, hit, axes, keepdim=True)
    share = B.reshape(g, keep) / count
    return (B.expand(share, x.shape) * hit,)


def _slice_vjp(g, x, out, *, starts, stops, steps):
    for axis, (d, lo, st) in enumerate(zip(x.shape, starts, steps)):
        n = g.shape[axis]
        if st > 1:  # interleave st-1 zeros after each element: [n] -> [n, st] -> [n*st]
            g = B.reshape(g, g.shape[:axis + 1] + (1,) + g.shape[axis + 1:])
            pads = [(0, 0)] * g.type.rank
            pads[axis + 1] = (0, st - 1)
            g = emit(Op.PAD, (g,), pads=tuple(pads), value=0.0)
            g = B.reshape(g, g.shape[:axis] + (n * st,) + g.shape[axis + 2:])
            keep = min(n * st, d - lo)
            if keep < n * st:
                g = _slice_axis(g, axis, 0, keep)
        pads = [(0, 0)] * g.type.rank
        pads[axis] = (lo, d - lo - g.shape[axis])
        if pads[axis] != (0, 0):
            g = emit(Op.PAD, (g,), pads=tuple(pads), value=0.0)
    return (g,)


def _slice_axis(x: Value, axis: int, lo: int, hi: int) -> Value:
    starts = [0] * x.type.rank
    stops = list(x.shape)
    starts[axis], stops[axis] = lo, hi
    return emit(Op.SLICE, (x,), starts=tuple(starts), stops=tuple(stops), steps=(1,) * x.type.rank)


def _pad_vjp(g, x, out, *, pads, value):
    starts = tuple(lo for lo, _ in pads)
    stops = tuple(lo + d for (lo, _), d in zip(pads, x.shape))
    return (emit(Op.SLICE, (g,), starts=starts, stops=stops, steps=(1,) * x.type.rank),)


def _concat_vjp(g, *xs_and_out, axis):
    xs, offset, grads = xs_and_out[:-1], 0, []
    for x in xs:
        grads.append(_slice_axis(g, axis, offset, offset + x.shape[axis]))
        offset += x.shape[axis]
    return tuple(grads)


def _gather_vjp(g, x, idx, out, *, axis):
    """Scatter-add as a dot with a one-hot matrix: dx[..., d, ...] = sum_i g[..., i, ...] [idx_i == d]."""
    d = x.shape[axis]
    idx = B.cast(idx, DType.int64)
    idx = B.where(emit(Op.LT, (idx, B.const(0, idx.dtype, idx.shape))), idx + d, idx)
    flat = B.expand(B.reshape(idx, idx.shape + (1,)), idx.shape + (d,))
    arange = B.broadcast_to(B.const(np.arange(d), idx.dtype, (d,)), idx.shape + (d,))
    onehot = B.cast(emit(Op.EQ, (flat, arange)), x.dtype)
    k = idx.type.rank
    g_idx_axes = tuple(range(axis, axis + k))
    dx = B.dot(g, onehot, contract=(g_idx_axes, tuple(range(k))))  # [pre..., post..., d]
    r = x.type.rank
    perm = list(range(axis)) + [r - 1] + list(range(axis, r - 1))
    return B.permute(dx, perm), None


def _ranges_like(*lists):
    start = 0
    for xs in lists:
        yield tuple(range(start, start + len(xs)))
        start += len(xs)


def _remaining(n, *excluded):
    gone = set().union(*excluded)
    return tuple(i for i in range(n) if i not in gone)


def _dot_lhs_vjp(g, x, y, contract, batch, swap_ans=False):
    """The transpose rule of XLA DotGeneral with respect to its lhs (as in JAX's lax.dot_general)."""
    (x_contract, y_contract), (x_batch, y_batch) = contract, batch
    x_kept = _remaining(x.type.rank, x_contract, x_batch)
    y_kept = _remaining(y.type.rank, y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    x_contract_by_y = [x_contract[i] for i in np.argsort(y_contract)]
    out_axes = np.argsort(list(x_batch) + list(x_kept) + x_contract_by_y)
    res = B.dot(g, y, contract=(ans_y, y_kept), batch=(ans_batch, y_batch))
    return B.permute(res, [int(a) for a in out_axes])


def _dot_vjp(g, x, y, out, *, contract, batch):
    dx = _dot_lhs_vjp(g, x, y, contract, batch)
    swapped_c = (contract[1], contract[0])
    swapped_b = (batch[1], batch[0])
    dy = _dot_lhs_vjp(g, y, x, swapped_c, swapped_b, swap_ans=True)
    return dx, dy


def _permute_vjp(g, x, out, *, perm):
    return (B.permute(g, [int(i) for i in np.argsort(perm)]),)


VJP: dict[Op, Callable] = {
    Op.NEG: lambda g, x, out: (-g,),
    Op.EXP: lambda g, x, out: (g * out,),
    Op.LOG: lambda g, x, out: (g / x,),
    Op.SQRT: lambda g, x, out: (g / (out * 2.0),),
    Op.SIN: lambda g, x, out: (g * B.unary(Op.COS, x),),
    Op.COS: lambda g, x, out: (-(g * B.unary(Op.SIN, x)),),
    Op.TANH: lambda g, x, out: (g * (B.const(1, x.dtype, x.shape) - out * out),),
    Op.ABS: lambda g, x, out: (g * _sign(x),),
    Op.ERF: lambda g, x, out: (g * B.unary(Op.EXP, -(x * x)) * (2 / math.sqrt(math.pi)),),
    Op.ADD: lambda g, x, y, out: (g, g),
    Op.SUB: lambda g, x, y, out: (g, -g),
    Op.MUL: lambda g, x, y, out: (g * y, g * x),
    Op.DIV: lambda g, x, y, out: (g / y, -(g * out / y)),
    Op.POW: _pow_vjp,
    Op.MAXIMUM: _maximum_vjp,
    Op.MINIMUM: _minimum_vjp,
    Op.WHERE: lambda g, c, x, y, out: (None, B.where(c, g, 0.0), B.where(c, 0.0, g)),
    Op.CAST: lambda g, x, out, *, dtype: (B.cast(g, x.dtype) if x.dtype.is_float else None,),
    Op.REDUCE_SUM: _reduce_sum_vjp,
    Op.REDUCE_MAX: _reduce_max_vjp,
    Op.RESHAPE: lambda g, x, out, *, shape: (B.reshape(g, x.shape),),
    Op.PERMUTE: _permute_vjp,
    Op.EXPAND: lambda g, x, out, *, shape: (B.sum_to(g, x.shape),),
    Op.SLICE: _slice_vjp,
    Op.PAD: _pad_vjp,
    Op.CONCAT: _concat_vjp,
    Op.GATHER: _gather_vjp,
    Op.DOT: _dot_vjp,
}
# Piecewise-constant ops and sources carry no gradient (their records say so: ``ir.ops.OPS``).
NON_DIFFERENTIABLE = frozenset(op for op in Op if not op.info.differentiable)


def vjp(outputs: Sequence[Value], cotangents: Sequence[Value], wrt: Sequence[Value],
        differentiable: Callable[[Value], bool] | None = None,
        passthrough: Callable[[Value], bool] | None = None,
        order: Sequence[Node] | None = None) -> list[Value]:
    """Cotangents of ``wrt`` given ``cotangents`` of ``outputs`` (same shapes/dtypes as outputs).

    ``differentiable(v)`` may cut the walk (values computed under ``no_grad``). ``passthrough(v)``
    marks ``where`` nodes whose cotangent goes unchanged to their last operand (an in-place update
    made under ``no_grad`` of a tensor with history: ``where(True, new, old)``, see
    ``lumina.tensor.inplace``). An input with no path to the outputs gets zeros. Raises LuminaGradError if
    a cotangent's type does not match. ``order``: ``topo_sort(outputs)``, when the caller has it.
    """
    for o, c in zip(outputs, cotangents):
        if o.type != c.type:
            raise LuminaGradError(f"vjp: cotangent {c.type} does not match output {o.type}")
    nodes = topo_sort(outputs) if order is None else order
    wanted = {id(w) for w in wrt}
    live: set[int] = set()  # values that depend on some wrt value
    for n in nodes:
        if id(n.out) in wanted or (n.op not in NON_DIFFERENTIABLE and
                                   any(id(v) in live for v in n.inputs)):
            if differentiable is None or differentiable(n.out) or id(n.out) in wanted:
                live.add(id(n.out))
    grads: dict[int, Value] = {}
    for o, c in zip(outputs, cotangents):
        if id(o) in live:
            grads[id(o)] = grads[id(o)] + c if id(o) in grads else c
    for n in reversed(nodes):
        g = grads.get(id(n.out))
        if g is None or n.op in NON_DIFFERENTIABLE or not n.out.dtype.is_float:
            continue
        if passthrough is not None and passthrough(n.out):
            contributions = (None,) * (len(n.inputs) - 1) + (g,)
        else:
            contributions = VJP[n.op](g, *n.inputs, n.out, **n.attrs)
        for v, dv in zip(n.inputs, contributions):
            if dv is None or id(v) not in live:
                continue
            grads[id(v)] = grads[id(v)] + dv if id(v) in grads else dv
    return [grads.get(id(w)) or _zeros_like(w) for w in wrt]


def grad(graph: Graph, wrt: Sequence[int] | None = None) -> Graph:
    """The graph computing ``graph``'s outputs followed by d(output 0)/d(inputs[i]) for i in ``wrt``.

    Output 0 must be a float scalar (the loss). ``wrt`` defaults to every float input.
    Raises LuminaGradError otherwise.
    """
    loss = graph.outputs[0]
    if loss.shape != () or not loss.dtype.is_float:
        raise LuminaGradError(f"grad: output 0 must be a float scalar, got {loss.type}")
    if wrt is None:
        wrt = [i for i, v in enumerate(graph.inputs) if v.dtype.is_float]
    targets = [graph.inputs[i] for i in wrt]
    grads = vjp([loss], [B.const(1, loss.dtype)], targets)
    return Graph.from_outputs(graph.outputs + grads, graph.inputs, name=f"{graph.name}_grad")
