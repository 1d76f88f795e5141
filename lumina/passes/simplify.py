"""Algebraic simplification of movement chains, as a table of rewrite rules.

Each rule sees a node (with its operands already rewritten) and returns a replacement value or
None. Rules only remove work: they never change a value, so they need no cost model.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..ir import builder as B
from ..ir.graph import Graph, Node, Value
from ..ir.ops import Op
from .rewrite import rewrite


def _reshape(node: Node, x: Value) -> Optional[Value]:
    shape = node.attrs["shape"]
    if x.shape == shape:                         # reshape to the same shape
        return x
    if x.op is Op.RESHAPE:                       # reshape(reshape(y)) -> reshape(y)
        return B.reshape(x.node.inputs[0], shape)
    return None


def _permute(node: Node, x: Value) -> Optional[Value]:
    perm = node.attrs["perm"]
    if perm == tuple(range(len(perm))):          # identity permutation
        return x
    if x.op is Op.PERMUTE:                       # permute(permute(y, p), q) -> permute(y, p[q])
        inner = x.node.attrs["perm"]
        return B.permute(x.node.inputs[0], [inner[i] for i in perm])
    return None


def _expand(node: Node, x: Value) -> Optional[Value]:
    if x.shape == node.attrs["shape"]:
        return x
    if x.op is Op.EXPAND:                        # expand(expand(y)) -> expand(y)
        return B.expand(x.node.inputs[0], node.attrs["shape"])
    return None


def _cast(node: Node, x: Value) -> Optional[Value]:
    return x if x.dtype is node.attrs["dtype"] else None


RULES: dict[Op, Callable[[Node, Value], Optional[Value]]] = {
    Op.RESHAPE: _reshape,
    Op.PERMUTE: _permute,
    Op.EXPAND: _expand,
    Op.CAST: _cast,
}


def simplify(graph: Graph) -> Graph:
    """Apply ``RULES`` bottom-up in one sweep (operands are simplified before their users)."""
    def rule(node, ins):
        fn = RULES.get(node.op)
        return fn(node, ins[0]) if fn is not None else None
    return rewrite(graph, rule)
