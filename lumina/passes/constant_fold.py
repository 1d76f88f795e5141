"""Constant folding: replace a node whose operands are all constants by its value.

Broadcast scalars stay scalars: an elementwise op on ``expand``-ed single-element constants folds to
one scalar that is expanded again, so a fold never turns ``relu``'s ``0.0`` into an array. Movement
ops on a scalar are left as they are (they cost nothing), a fold that would build a constant of more
than ``FOLD_LIMIT`` elements is refused, and ``rand`` is never folded.
"""
from __future__ import annotations

import numpy as np

from ..ir import builder as B
from ..ir.graph import Graph, Node, Value, emit
from ..ir.ops import Kind, Op
from ..ir.types import TensorType
from .evaluate import evaluate
from .rewrite import rewrite

FOLD_LIMIT = 1 << 12


def _broadcast_scalar(v: Value) -> np.ndarray | None:
    """The single value behind a chain of reshapes/expands of a one-element constant, or None."""
    while v.op in (Op.RESHAPE, Op.EXPAND):
        v = v.node.inputs[0]
    if v.op is Op.CONST and v.type.numel == 1:
        return v.node.attrs["value"].reshape(())
    return None


def _fold_scalar(node: Node, ins: list[Value]) -> Value | None:
    scalars = [_broadcast_scalar(v) for v in ins]
    if any(s is None for s in scalars):
        return None
    scalar_node = Node(node.op, [], node.attrs, TensorType((), node.out.dtype))
    value = evaluate(scalar_node, scalars)
    return B.const(value, node.out.dtype, node.out.shape)


def constant_fold(graph: Graph) -> Graph:
    def rule(node, ins):
        if node.op in (Op.INPUT, Op.CONST, Op.RAND) or not ins:
            return None
        if node.op.is_elementwise:
            folded = _fold_scalar(node, ins)
            if folded is not None:
                return folded
        if node.op.kind is Kind.MOVEMENT and node.out.type.numel > 1 and \
                all(_broadcast_scalar(v) is not None for v in ins):
            return None
        if not all(v.op is Op.CONST for v in ins) or node.out.type.numel > FOLD_LIMIT:
            return None
        value = evaluate(node, [v.node.attrs["value"] for v in ins])
        return emit(Op.CONST, type=node.out.type, value=value)
    return rewrite(graph, rule)
