"""The SSA data model: ``Value``, ``Node`` and ``Graph``.

A ``Node`` applies one primitive ``Op`` to operand values with named attributes and defines exactly
one SSA value, which is the node itself (``Value`` names the same class: read it as "the result of").
Nodes are immutable and refer to their operands directly, so any set of values is also a DAG; a
``Graph`` is a topologically ordered list of nodes with designated inputs (``input`` nodes) and
outputs. Passes build new graphs; values are compared by identity.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from ..errors import LuminaIRError
from .dtypes import DType
from .ops import Op, infer_type
from .types import TensorType


class Node:
    """One primitive application ``op(*inputs, **attrs)`` and the SSA value it defines.

    Every primitive has exactly one result, so the node *is* its value (as in torch.fx): ``node.out``
    and ``value.node`` both return the object itself, ``Value`` is another name for this class, and
    no reference cycle ties a value to its node (so buffers bound to dead values are freed at once).
    ``attrs`` is a plain dict treated as immutable; for ``const`` it holds ``value`` (a NumPy
    array), for ``input`` its ``name``. Arithmetic operators build new nodes (same-shape operands,
    no broadcasting) so that rule tables (VJPs, simplifications) read like the math; ``==`` stays
    identity so values can key dicts.
    """

    __slots__ = ("op", "inputs", "attrs", "type", "__weakref__")

    def __init__(self, op: Op, inputs: Sequence["Node"], attrs: dict, type: TensorType):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = attrs
        self.type = type

    @property
    def out(self) -> "Node":
        return self

    @property
    def node(self) -> "Node":
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    def __repr__(self) -> str:
        return f"<Value {self.type} = {self.op.value}>"

    # Operator sugar for rule tables; see builder.py for the full vocabulary.
    def __add__(self, other): return builder.add(self, other)
    def __sub__(self, other): return builder.sub(self, other)
    def __mul__(self, other): return builder.mul(self, other)
    def __truediv__(self, other): return builder.div(self, other)
    def __neg__(self): return builder.unary(Op.NEG, self)


Value = Node


def emit(op: Op, inputs: Sequence[Value] = (), type: TensorType | None = None, **attrs) -> Value:
    """Build a node, inferring its type from the op's rule (``input``/``const`` take ``type``)."""
    if type is None:
        type = infer_type(op, [v.type for v in inputs], attrs)
    return Node(op, inputs, attrs, type)


def topo_sort(outputs: Iterable[Value]) -> list[Node]:
    """Every node reachable from ``outputs``, operands before users (iterative; deep chains are fine)."""
    order: list[Node] = []
    done: set[int] = set()
    for root in outputs:
        stack = [(root.node, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            for v in reversed(node.inputs):
                if id(v.node) not in done:
                    stack.append((v.node, False))
    return order


class Graph:
    """A function in SSA form: ``nodes`` in topological order, ``inputs`` and ``outputs`` values.

    ``inputs`` are the outputs of ``input`` nodes, in call order; every ``input`` node in ``nodes``
    is among them. ``print(graph)`` shows the IR text; ``ir.parse`` reads it back.
    """

    def __init__(self, nodes: list[Node], inputs: list[Value], outputs: list[Value], name: str = "main"):
        self.nodes = list(nodes)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.name = name

    @classmethod
    def from_outputs(cls, outputs: Sequence[Value], inputs: Sequence[Value] | None = None,
                     name: str = "main") -> "Graph":
        """The graph computing ``outputs``; ``inputs`` fixes the argument order (and may include
        unused inputs). Raises LuminaIRError if an ``input`` node is reachable but not listed."""
        nodes = topo_sort(list(outputs) + list(inputs or []))
        found = [n.out for n in nodes if n.op is Op.INPUT]
        if inputs is None:
            inputs = found
        else:
            listed = {id(v) for v in inputs}
            missing = [v for v in found if id(v) not in listed]
            if missing:
                raise LuminaIRError(f"graph {name}: outputs depend on inputs not listed as arguments: "
                                    f"{[v.node.attrs.get('name') for v in missing]}")
        return cls(nodes, list(inputs), list(outputs), name)

    def users(self) -> dict[Value, list[Node]]:
        """For each value, the nodes that read it (graph outputs are not counted)."""
        table: dict[Value, list[Node]] = {n.out: [] for n in self.nodes}
        for n in self.nodes:
            for v in n.inputs:
                table[v].append(n)
        return table

    def __str__(self) -> str:
        from .printer import print_graph
        return print_graph(self)

    def as_text(self) -> str:
        return str(self)

    def structural_hash(self) -> str:
        """A hex digest equal for graphs that differ only in value numbering and input names."""
        from .printer import structural_hash
        return structural_hash(self)

    def to_networkx(self):
        """A ``networkx.DiGraph``: vertex ``i`` is ``nodes[i]`` (op, shape, dtype, type, attrs),
        one edge per operand (see ``export.to_networkx``)."""
        from .export import to_networkx
        return to_networkx(self)

    def to_dot(self, partition=None, forward_outputs: int | None = None, kernel_names=None):
        """A ``graphviz.Digraph`` of this graph; a fusion ``partition`` of it draws kernels as
        clusters; forward and backward nodes are coloured apart (see ``export.to_dot``)."""
        from .export import to_dot
        return to_dot(self, partition, forward_outputs, kernel_names)


from . import builder  # noqa: E402  (Value's operators need it; builder imports this module)
