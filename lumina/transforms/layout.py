"""Layout: move permutes past elementwise ops and reductions, so that two permutes meet and cancel.

A convolution computes channels last (``nn.functional.conv``: its GEMM's rows are the output
positions, its columns the channels) and returns ``permute(y, [N, C, *S] order)``; the next one reads
``permute(x, [N, *S, C] order)``. Between them run elementwise ops on the channels-first tensor (bias,
batch norm, activation, a residual add), and the value that fusion materialises there is stored in
its logical, channels-first order: the GEMM's epilogue then writes it transposed, and the next
im2col reads it transposed.

The rule: an elementwise op (unary, binary, ``where``, ``cast``) whose operands are permutes by one
permutation ``p``, or broadcasts (constants, ``expand``), becomes ``permute(op(...), p)`` on the
unpermuted operands (each broadcast permuted by ``p``'s inverse). Applied bottom-up, the permute
travels down the chain to the next permute, and ``permute(permute(x, p), q)`` folds to one
permutation (the identity, dropped, for a convolution's pair). An operand that is neither (a
tensor stored in the other order) stops the rule: reading it through a permute would only move the
transpose.

A pad of a permute pads the unpermuted value (each axis as much as the axis it becomes) and is
permuted after, and a gather along one axis with a 1-d index gathers along the corresponding
axis, so a pool's padding between two channels-last convolutions adds no transpose.

A reduction of a permute reduces the unpermuted value over the corresponding axes instead (its
kept axes permuted back), so that it reads the value in the order it is stored: a batch norm's
per-channel statistics of a channels-last value.

Exact for elementwise ops (applied to permuted operands, they give the permutation of their
result, element for element), for pads, gathers and ``reduce_max``; a ``reduce_sum`` adds the same elements in
another order, which the code generators already take the licence to choose (they reassociate
sums to vectorise them).
"""
from __future__ import annotations

from ..ir import graph as B
from ..ir.graph import Graph, Node, Value
from ..ir.ops import Op
from .rewrite import reemit, rewrite
from .simplify import RULES as SIMPLIFY


def _is_broadcast(x: Value) -> bool:
    """A constant or an ``expand`` (or a reshape or permute of one): permuting it is index
    arithmetic on a small input."""
    while x.op in (Op.RESHAPE, Op.PERMUTE):
        x = x.node.inputs[0]
    return x.op in (Op.CONST, Op.EXPAND)


def _permuted(x: Value, perm: tuple) -> Value:
    """Broadcast ``x`` permuted by ``perm``: an ``expand`` as the expand of its permuted input."""
    if x.op is Op.EXPAND:
        shape = x.node.attrs["shape"]
        return B.expand(B.permute(x.node.inputs[0], perm), [shape[p] for p in perm])
    return B.permute(x, perm)


def _sink(node: Node, ins: list[Value]) -> Value | None:
    if node.op is Op.PERMUTE:
        return SIMPLIFY[Op.PERMUTE](node, *ins)     # permute(permute(x)) folds, the identity drops
    if node.op in (Op.REDUCE_SUM, Op.REDUCE_MAX):
        return _sink_reduction(node, ins[0])
    if node.op is Op.PAD:
        return _sink_pad(node, ins[0])
    if node.op is Op.GATHER and ins[1].type.rank == 1:
        return _sink_gather(node, *ins)
    if not node.op.is_elementwise:
        return None
    perm = None
    for x in ins:
        if x.op is Op.PERMUTE and not _is_broadcast(x.node.inputs[0]):
            p = tuple(x.node.attrs["perm"])
            if perm is not None and p != perm:
                return None
            perm = p
    if perm is None:
        return None
    inverse = tuple(sorted(range(len(perm)), key=perm.__getitem__))
    operands = []
    for x in ins:
        if x.op is Op.PERMUTE and tuple(x.node.attrs["perm"]) == perm:
            operands.append(x.node.inputs[0])
        elif _is_broadcast(x):
            operands.append(_permuted(x, inverse))
        else:
            return None
    return B.permute(reemit(node, operands), list(perm))


def _sink_pad(node: Node, x: Value) -> Value | None:
    """``pad(permute(y, p))`` as ``permute(pad(y))``, each axis of ``y`` padded as the axis ``p``
    maps it to: a pool's padding of a channels-last activation stays channels last."""
    if x.op is not Op.PERMUTE or _is_broadcast(x.node.inputs[0]):
        return None
    perm, pads = tuple(x.node.attrs["perm"]), node.attrs["pads"]
    source_pads = [None] * len(perm)
    for axis, p in enumerate(perm):
        source_pads[p] = tuple(pads[axis])
    padded = B.emit(Op.PAD, (x.node.inputs[0],), pads=tuple(source_pads), value=node.attrs["value"])
    return B.permute(padded, list(perm))


def _sink_gather(node: Node, x: Value, index: Value) -> Value | None:
    """``gather(permute(y, p), index, axis)`` (a 1-d index: the rank stays) as ``permute`` of the
    gather of ``y`` along the axis ``p`` maps ``axis`` to: an edge padding written as index
    selects (TensorFlow's SAME) keeps a channels-last value channels last."""
    if x.op is not Op.PERMUTE or _is_broadcast(x.node.inputs[0]):
        return None
    perm = tuple(x.node.attrs["perm"])
    gathered = B.emit(Op.GATHER, (x.node.inputs[0], index), axis=perm[node.attrs["axis"]])
    return B.permute(gathered, list(perm))


def _sink_reduction(node: Node, x: Value) -> Value | None:
    """``reduce(permute(y, p), axes)`` as the reduction of ``y`` over the axes ``p`` maps them to,
    permuted back into the order of the kept axes: a batch norm's per-channel statistics of a
    channels-last value reduce its outer axes, read in order."""
    if x.op is not Op.PERMUTE or _is_broadcast(x.node.inputs[0]):
        return None
    perm, source = tuple(x.node.attrs["perm"]), x.node.inputs[0]
    axes, keepdim = node.attrs["axes"], node.attrs["keepdim"]
    reduced = B.reduce(node.op, source, [perm[a] for a in axes], keepdim=keepdim)
    if keepdim:
        return B.permute(reduced, perm)
    kept = [perm[a] for a in range(len(perm)) if a not in axes]   # source axes, in the result's order
    order = sorted(kept)
    return B.permute(reduced, [order.index(a) for a in kept])


def sink_permutes(graph: Graph) -> Graph:
    """Move every permute past the elementwise ops that read it (see the module docstring), folding
    the permutes that meet. Every output keeps its type and its value bit for bit."""
    return rewrite(graph, _sink)
