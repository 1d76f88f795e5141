"""Layout: move permutes past elementwise ops, so that two permutes meet and cancel.

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

Exact: an elementwise op applied to permuted operands is the permutation of the op applied to the
operands, element for element.
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


def sink_permutes(graph: Graph) -> Graph:
    """Move every permute past the elementwise ops that read it (see the module docstring), folding
    the permutes that meet. Every output keeps its type and its value bit for bit."""
    return rewrite(graph, _sink)
