"""Constant folding: replace a node whose operands are all constants by its value.

A fold that would build a constant of more than ``FOLD_LIMIT`` elements is refused (an ``expand`` of a
scalar stays a broadcast instead of becoming a megabyte array), and ``rand`` is never folded.
"""
from __future__ import annotations

from ..ir.graph import Graph, emit
from ..ir.ops import Op
from .evaluate import evaluate
from .rewrite import rewrite

FOLD_LIMIT = 1 << 12


def constant_fold(graph: Graph) -> Graph:
    def rule(node, ins):
        if node.op in (Op.INPUT, Op.CONST, Op.RAND) or not ins:
            return None
        if not all(v.op is Op.CONST for v in ins) or node.out.type.numel > FOLD_LIMIT:
            return None
        value = evaluate(node, [v.node.attrs["value"] for v in ins])
        return emit(Op.CONST, type=node.out.type, value=value)
    return rewrite(graph, rule)
