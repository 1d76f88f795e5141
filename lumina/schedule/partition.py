"""Fusion: partition a graph into kernels.

    part = partition(graph, target, FusionOptions())
    print(part.describe())    # every kernel, why its root has a buffer, every refused candidate

Each kernel materialises one value (its *root*) into a buffer and inlines every producer that is not
itself materialised: chains of elementwise ops fuse together, into the reduction that consumes them,
and movement ops become index arithmetic. A value is materialised when it is

* a graph input or output, a non-scalar constant, a reduction or a ``dot``;
* read by more than one node, unless recomputing it in each reader is cheaper than a round trip
  through memory (at most ``FusionOptions.recompute_budget`` cheap ops: ``relu``'s compare, a bias
  add);
* the operand of an ``expand`` that grows it (inlining would recompute it once per broadcast copy);
* what a ``dot`` operand is a strided view of: its base, or the deepest value of its movement
  chain it is a strided view of, or the operand itself (the GEMM reads strided views directly);
* more than ``FusionOptions.max_depth`` inlined ops deep (keeps kernels, and their compile time,
  bounded).

Then, each step switched by ``FusionOptions``, kernels merge:

* **GEMM epilogues** (``schedule.epilogues``): a ``dot`` read by one elementwise kernel only at its
  own position becomes that kernel's GEMM (``relu(x @ w + b)``), within what the target's GEMM
  takes (``Target.epilogue_dtypes``, ``Target.max_epilogue_inputs``).
* **Multi-output row kernels** and **row-fused GEMMs** (``schedule.row_fusion``): reductions over
  the same rows and the kernels that read them per row become one kernel of several stages (a
  softmax, a LayerNorm), and such a kernel over whole rows of a GEMM's result joins the GEMM.

The data (``Kernel``, ``Partition``...) is in ``schedule.groups``; every kernel's ``reason`` and every
``Refusal`` say why, which ``Partition.describe()`` prints for inspection.
"""
from __future__ import annotations

from types import MappingProxyType

from ..ir.graph import Graph, Node, Value
from ..ir.ops import Kind, Op
from .epilogues import epilogue_results, fuse_epilogues
from .groups import (Cause, Kernel, Materialized, Partition, Refusal, RefusalKind, own_cost,
                     readers_of)
from .options import FusionOptions
from .row_fusion import fuse_rows
from .views import view_base, view_chain


def partition(graph: Graph, target, options: FusionOptions = FusionOptions()) -> Partition:
    """Partition ``graph`` into kernels (see the module docstring) for ``target`` (a
    ``backends.target.Target``, read duck-typed: ``epilogue_dtypes``, ``max_epilogue_inputs``) with
    ``options``; never raises on a valid graph."""
    aliases = _output_aliases(graph)
    mat, refused = _materialize(graph, aliases, options)
    kernels = _group_all(graph, mat)
    if options.epilogues:
        marks = epilogue_results(graph, mat, kernels)
        if marks:
            mat.update(marks)
            kernels = _group_all(graph, mat)
        epilogues = fuse_epilogues(kernels, mat, target)
        kernels = epilogues.kernels
        refused += epilogues.refused
        for key in epilogues.fused:   # computed in the GEMM of an epilogue: no buffer of its own
            del mat[key]
    if options.multi_output:
        outputs = {id(aliases.get(id(v), v)) for v in graph.outputs}
        order = {id(n): i for i, n in enumerate(graph.nodes)}
        rows = fuse_rows(kernels, outputs, order, target, options)
        kernels = rows.kernels
        refused += rows.refused
        for key in rows.registers:    # row stages read only within their row kernel
            del mat[key]
        refused = _restate_dot_refusals(kernels, refused)
    reasons = MappingProxyType({key: m.reason for key, m in mat.items()})
    return Partition(graph, tuple(kernels), reasons, MappingProxyType(aliases), tuple(refused))


def _output_aliases(graph: Graph) -> dict[int, Value]:
    """id(output) -> the computed value it only reshapes: the output shares that value's buffer."""
    aliases = {}
    for v in graph.outputs:
        base = v
        while base.op is Op.RESHAPE:
            base = base.node.inputs[0]
        if base is not v and base.op not in (Op.INPUT, Op.CONST):
            aliases[id(v)] = base
    return aliases


def _materialize(graph: Graph, aliases: dict[int, Value],
                 options: FusionOptions) -> tuple[dict[int, Materialized], list[Refusal]]:
    """Which values get buffers, and why (the module docstring's rules; the first cause found for a
    value is its reason), and the values kept out of their several readers by the recompute
    budget."""
    users = graph.users()
    mat: dict[int, Materialized] = {}
    refused: list[Refusal] = []
    for v in graph.outputs:
        if id(v) in aliases:
            mat.setdefault(id(aliases[id(v)]), Materialized.because(Cause.OUTPUT, "graph output (reshaped)"))
        else:
            mat.setdefault(id(v), Materialized.because(Cause.OUTPUT))
    # GEMM operands first: what they read is decided before any reader count is weighed.
    for n in graph.nodes:
        if n.op is Op.DOT:
            for operand in n.inputs:
                start, _ = view_base(operand)
                base, _ = view_chain(operand)
                why = ("dot operand base" if start is base else
                       "dot operand (a strided view of this value)" if start is not operand else
                       "dot operand is not a strided view")
                mat.setdefault(id(start), Materialized.because(Cause.DOT_OPERAND, why))
    depth: dict[int, int] = {}
    cost: dict[int, int] = {}   # ops recomputed if this value is inlined into a reader
    budget = options.recompute_budget
    for n in graph.nodes:
        v = n.out
        if n.op is Op.INPUT:
            mat[id(v)] = Materialized.because(Cause.INPUT)
        elif n.op is Op.CONST:
            if v.type.numel != 1:   # a scalar constant is an immediate in its readers
                mat[id(v)] = Materialized.because(Cause.CONSTANT)
        elif n.op is Op.DOT:
            mat.setdefault(id(v), Materialized.because(Cause.DOT))
        elif n.op.kind is Kind.REDUCE:
            mat.setdefault(id(v), Materialized.because(Cause.REDUCTION))
        if n.op is Op.EXPAND and n.out.type.numel > n.inputs[0].type.numel:
            base, _ = view_chain(n.inputs[0])
            if base.op not in (Op.INPUT, Op.CONST):
                mat.setdefault(id(base), Materialized.because(Cause.BROADCAST))
        inline_cost = own_cost(n, budget) + sum(cost[id(u)] for u in n.inputs if id(u) not in mat)
        if n.op.kind not in (Kind.SOURCE, Kind.REDUCE, Kind.DOT) and len(users[v]) > 1 \
                and inline_cost > budget and id(v) not in mat:
            why = (f"{len(users[v])} readers: inlining would recompute {inline_cost} ops per "
                   f"element in each (RECOMPUTE_BUDGET {budget})")
            mat[id(v)] = Materialized.because(Cause.READERS, why)
            refused.append(Refusal(v, None, why, RefusalKind.RECOMPUTE))
        d = 1 + max((depth[id(u)] for u in n.inputs if id(u) not in mat), default=0)
        if d > options.max_depth and id(v) not in mat:
            mat[id(v)] = Materialized.because(Cause.DEPTH, f"fusion depth limit {options.max_depth}")
        depth[id(v)] = 0 if id(v) in mat else d
        cost[id(v)] = 0 if id(v) in mat else inline_cost
    return mat, refused


def _restate_dot_refusals(kernels, refused: list[Refusal]) -> list[Refusal]:
    """``refused`` with each dot refused as an epilogue for its several readers that row fusion
    merged into one kernel restated: say so, rather than count readers that are gone."""
    readers = readers_of(kernels)
    out = []
    for r in refused:
        now = readers.get(id(r.value), [])
        if r.kind is RefusalKind.EPILOGUE_READERS and len(now) == 1 and now[0].rows:
            r = Refusal(r.value, now[0].root, "the reader is a multi-output kernel", RefusalKind.EPILOGUE)
        out.append(r)
    return out


def _group_all(graph: Graph, mat: dict[int, Materialized]) -> list[Kernel]:
    """One kernel per materialised value that is computed (not an input or constant), in graph
    order."""
    return [_group(n.out, mat) for n in graph.nodes
            if id(n.out) in mat and n.op not in (Op.INPUT, Op.CONST)]


def _group(root: Value, mat: dict[int, Materialized]) -> Kernel:
    """The kernel of ``root``: the nodes inlined into it and the materialised values they read."""
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
    return Kernel(root, tuple(nodes), tuple(inputs.values()), mat[id(root)].reason)
