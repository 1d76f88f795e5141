"""The rewriter every pass uses (rebuild a graph node by node, letting a rule replace nodes), and
``splat``, the constant pattern the rule tables match."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import Graph, Node, Value, emit
from ..ir.ops import Op

Rule = Callable[[Node, list[Value]], Value | None]


def reemit(node: Node, inputs: list[Value]) -> Value:
    """``node`` applied to ``inputs``: the node itself when the operands did not change."""
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node.out
    given = node.out.type if node.op in (Op.INPUT, Op.CONST) else None
    return emit(node.op, inputs, type=given, **node.attrs)


def splat(v: Value) -> np.ndarray | None:
    """The single value (a 0-d array of ``v``'s dtype) that every element of ``v`` equals bit for
    bit, when ``v`` is a constant or a chain of reshapes/expands of one; else None."""
    while v.op in (Op.RESHAPE, Op.EXPAND):
        v = v.node.inputs[0]
    if v.op is not Op.CONST:
        return None
    flat = np.ascontiguousarray(v.node.attrs["value"]).reshape(-1)
    if flat.size == 0:
        return None
    bits = flat.view(np.uint8).reshape(flat.size, -1)
    if flat.size > 1 and not ((bits[-1] == bits[0]).all() and (bits == bits[0]).all()):
        return None
    return flat[:1].reshape(())


def rewrite(graph: Graph, rule: Rule) -> Graph:
    """Rebuild ``graph`` in order; ``rule(node, new_operands)`` returns a replacement value for the
    node's output or None to keep the node (re-emitted on the new operands). Unreachable nodes are
    dropped; inputs are kept, in order."""
    env: dict[int, Value] = {}
    for node in graph.nodes:
        ins = [env[id(v)] for v in node.inputs]
        new = rule(node, ins)
        env[id(node.out)] = reemit(node, ins) if new is None else new
    return Graph.from_outputs([env[id(v)] for v in graph.outputs],
                              [env[id(v)] for v in graph.inputs], name=graph.name)


def dce(graph: Graph) -> Graph:
    """Dead-code elimination: keep only the nodes some output depends on.

    Every input stays (it is an argument, in call order), and so does every output, repeated or
    not: the IR has no notion of a droppable output. A traced training step's outputs are exactly
    what the function returned plus the state it updated (parameters, optimizer moments, ``.grad``),
    all read back by the caller, and ``autodiff.grad`` returns the forward outputs and the requested
    gradients only, so there is no unused output to drop; backward values nobody returns are never
    part of such a graph. ``Graph.from_outputs`` (tracing, ``rewrite``) keeps only live nodes
    already; this pass matters for graphs built node by node (``ir.parse``, ``Graph(...)``).
    """
    return Graph.from_outputs(graph.outputs, graph.inputs, name=graph.name)
