"""Fusion: partition a graph into kernels.

Each kernel materialises one value (its *root*) into a buffer and inlines every producer that is not
itself materialised: chains of elementwise ops fuse together, into the reduction that consumes them,
and movement ops become index arithmetic. A value is materialised when it is

* a graph input or output, a non-scalar constant, a reduction or a ``dot``;
* read by more than one node, unless recomputing it in each reader is cheaper than a round trip
  through memory (at most ``RECOMPUTE_BUDGET`` cheap ops: ``relu``'s compare, a bias add);
* the operand of an ``expand`` that grows it (inlining would recompute it once per broadcast copy);
* what a ``dot`` operand is a strided view of: its base, or the deepest value of its movement
  chain it is a strided view of, or the operand itself (the GEMM reads strided views directly);
* more than ``MAX_DEPTH`` inlined ops deep (keeps kernels, and their compile time, bounded).

``partition(graph)`` returns the kernels in execution order; ``Kernel.reason`` says why its root was
materialised, which ``Partition.describe()`` prints for inspection.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Graph, Node, Value
from ..ir.ops import Kind, Op
from .views import view_base, view_chain

MAX_DEPTH = 64
RECOMPUTE_BUDGET = 2
_EXPENSIVE = {Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.ERF, Op.POW, Op.DIV, Op.RAND,
              Op.GATHER, Op.PAD, Op.CONCAT}


@dataclass
class Kernel:
    """One fused group: ``nodes`` (topological, ending with ``root.node``) read ``inputs``."""
    root: Value
    nodes: list[Node]
    inputs: list[Value]
    reason: str

    @property
    def kind(self) -> str:
        op = self.root.op
        return "dot" if op is Op.DOT else "reduce" if op.kind is Kind.REDUCE else "elementwise"


@dataclass
class Partition:
    graph: Graph
    kernels: list[Kernel]
    materialized: dict[int, str] = field(default_factory=dict)   # id(value) -> reason
    aliases: dict[int, Value] = field(default_factory=dict)      # id(output) -> buffer it reshapes

    def describe(self) -> str:
        names = {n.out: f"%{i}" for i, n in enumerate(self.graph.nodes)}
        lines = []
        for i, k in enumerate(self.kernels):
            ops = " ".join(f"{names[n.out]}:{n.op.value}" for n in k.nodes)
            ins = ", ".join(names[v] for v in k.inputs)
            lines.append(f"kernel {i} ({k.kind}) -> {names[k.root]}  [{k.reason}]  reads ({ins})  fuses {ops}")
        return "\n".join(lines)


def _is_scalar_const(v: Value) -> bool:
    return v.op is Op.CONST and v.type.numel == 1


def _own_cost(n: Node) -> int:
    if n.op.kind in (Kind.SOURCE, Kind.MOVEMENT) and n.op not in _EXPENSIVE:
        return 0
    return RECOMPUTE_BUDGET + 1 if n.op in _EXPENSIVE else 1


def partition(graph: Graph) -> Partition:
    users = graph.users()
    mat: dict[int, str] = {}
    aliases: dict[int, Value] = {}
    for v in graph.outputs:  # an output that only reshapes a computed value shares its buffer
        base = v
        while base.op is Op.RESHAPE:
            base = base.node.inputs[0]
        if base is not v and base.op not in (Op.INPUT, Op.CONST):
            aliases[id(v)] = base
            mat.setdefault(id(base), "graph output (reshaped)")
        else:
            mat.setdefault(id(v), "graph output")
    # GEMM operands first: what they read is decided before any reader count is weighed.
    for n in graph.nodes:
        if n.op is Op.DOT:
            for operand in n.inputs:
                start, _ = view_base(operand)
                base, _ = view_chain(operand)
                mat.setdefault(id(start), "dot operand base" if start is base else
                               "dot operand (a strided view of this value)" if start is not operand else
                               "dot operand is not a strided view")
    depth: dict[int, int] = {}
    cost: dict[int, int] = {}   # ops recomputed if this value is inlined into a reader
    for n in graph.nodes:
        v = n.out
        if n.op is Op.INPUT:
            mat[id(v)] = "input"
        elif n.op is Op.CONST:
            if not _is_scalar_const(v):
                mat[id(v)] = "constant"
        elif n.op is Op.DOT:
            mat.setdefault(id(v), "dot")
        elif n.op.kind is Kind.REDUCE:
            mat.setdefault(id(v), "reduction")
        def inline_cost():
            return _own_cost(n) + sum(cost[id(u)] for u in n.inputs if id(u) not in mat)
        if n.op is Op.EXPAND and n.out.type.numel > n.inputs[0].type.numel:
            base, _ = view_chain(n.inputs[0])
            if base.op not in (Op.INPUT, Op.CONST):
                mat.setdefault(id(base), "broadcast by expand")
        if n.op.kind not in (Kind.SOURCE, Kind.REDUCE, Kind.DOT) and len(users[v]) > 1 \
                and inline_cost() > RECOMPUTE_BUDGET:
            mat.setdefault(id(v), f"{len(users[v])} readers")
        d = 1 + max((depth[id(u)] for u in n.inputs if id(u) not in mat), default=0)
        if d > MAX_DEPTH and id(v) not in mat:
            mat[id(v)] = f"fusion depth limit {MAX_DEPTH}"
        depth[id(v)] = 0 if id(v) in mat else d
        cost[id(v)] = 0 if id(v) in mat else inline_cost()

    kernels = []
    for n in graph.nodes:
        v = n.out
        if id(v) not in mat or n.op in (Op.INPUT, Op.CONST):
            continue
        kernels.append(_group(v, mat))
    return Partition(graph, kernels, mat, aliases)


def _group(root: Value, mat: dict[int, str]) -> Kernel:
    """The nodes inlined into ``root``'s kernel and the materialised values they read."""
    seen: set[int] = set()
    nodes: list[Node] = []
    inputs: dict[int, Value] = {}
    stack = [(root.node, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            nodes.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for u in reversed(node.inputs):
            if id(u) in mat:
                inputs[id(u)] = u
            elif id(u.node) not in seen:
                stack.append((u.node, False))
    if root.op is Op.DOT:  # the GEMM reads its operands through strides
        inputs = {}
        for operand in root.node.inputs:
            base, _ = view_base(operand, lambda p: id(p) in mat)
            inputs[id(base)] = base
    return Kernel(root, nodes, list(inputs.values()), mat[id(root)])
