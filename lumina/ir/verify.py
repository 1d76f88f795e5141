"""The IR verifier: SSA, topological order and every op's shape/dtype rule."""
from __future__ import annotations

from ..errors import LuminaError, LuminaIRError
from .graph import Graph
from .ops import Op, infer_type


def verify(graph: Graph) -> Graph:
    """Check ``graph`` and return it. Raises LuminaIRError naming the first bad node.

    Guarantees on success: each value is defined once, before its uses; each node's type is what its
    op's rule gives for its operands; inputs are exactly the ``input`` nodes; outputs are defined.
    """
    defined: set[int] = set()
    for i, node in enumerate(graph.nodes):
        where = f"verify: node %{i} ({node.op.value})"
        if id(node.out) in defined:
            raise LuminaIRError(f"{where}: value defined twice")
        for v in node.inputs:
            if id(v) not in defined:
                raise LuminaIRError(f"{where}: operand {v} used before its definition")
        if node.op not in (Op.INPUT, Op.CONST):
            try:
                expect = infer_type(node.op, [v.type for v in node.inputs], node.attrs)
            except LuminaError as e:
                raise LuminaIRError(f"{where}: {e}") from None
            if expect != node.out.type:
                raise LuminaIRError(f"{where}: type {node.out.type} but the rule gives {expect}")
        elif node.op is Op.CONST and tuple(node.attrs["value"].shape) != node.out.shape:
            raise LuminaIRError(f"{where}: constant of shape {node.attrs['value'].shape} typed {node.out.type}")
        defined.add(id(node.out))
    declared = {id(v) for v in graph.inputs}
    actual = {id(n.out) for n in graph.nodes if n.op is Op.INPUT}
    if declared != actual:
        raise LuminaIRError(f"verify: graph {graph.name}: inputs do not match its input nodes")
    for v in graph.outputs:
        if id(v) not in defined:
            raise LuminaIRError(f"verify: graph {graph.name}: output {v} is not defined in the graph")
    return graph
