"""Graph export for inspection: ``networkx`` graphs and Graphviz drawings.

``to_networkx(graph)`` gives one vertex per node (numbered by position, as the IR text numbers
``%i``) with ``op``, ``shape``, ``dtype`` and ``type`` attributes, and one edge per operand carrying
its position (``operand``). ``to_dot(graph, partition)`` draws the graph with the ``graphviz``
package; with a fusion partition each kernel is a cluster holding the nodes it computes (a node
inlined into several kernels is drawn in each, as the kernels recompute it), and kernel inputs are
edges from the kernel that materialised them. Rendering to SVG needs Graphviz's ``dot`` binary
(``scripts/install-system-deps.sh`` installs it).

Forward and backward nodes are told apart structurally, because autodiff emits ordinary IR with no
marks on the nodes it builds (and passes rebuild nodes anyway): the forward part is every node the
*forward outputs* depend on, the rest (gradients, optimizer updates) is backward. Which leading
outputs are the forward ones is the caller's to say; by default, a graph whose output 0 is a float
scalar (a loss) and that has more outputs (``autodiff.grad`` and a compiled training step put the
loss first) has one forward output, any other graph is all forward.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import LuminaIRError
from .ops import Kind, Op

# Fill colours: forward nodes blue, backward (gradients and updates) orange, sources grey.
FORWARD_COLOR = "#cfe2f3"
BACKWARD_COLOR = "#fce5cd"
SOURCE_COLOR = "#eeeeee"


def to_networkx(graph):
    """A ``networkx.DiGraph`` of ``graph``: vertex ``i`` is ``graph.nodes[i]`` (the value ``%i``).

    Vertex attributes: ``op`` (the op's name, str), ``shape`` (tuple of ints), ``dtype`` (short name,
    e.g. ``"f32"``), ``type`` (e.g. ``"f32[4,3]"``), ``attrs`` (the node's attribute dict). An edge
    ``(j, i)`` for each operand ``%j`` of node ``i`` with ``operand`` = the lowest operand position
    it fills (a DiGraph keeps one edge per pair, so ``mul %1, %1`` is one edge) and ``operands`` =
    every position. The graph attributes ``inputs`` and ``outputs`` list vertex numbers in order.
    Raises LuminaIRError if a node reads a value that is not in ``graph.nodes``.
    """
    import networkx as nx
    g = nx.DiGraph(name=graph.name)
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    for i, n in enumerate(graph.nodes):
        g.add_node(i, op=n.op.value, shape=tuple(n.shape), dtype=n.dtype.short, type=str(n.type),
                   attrs=dict(n.attrs))
    for i, n in enumerate(graph.nodes):
        for pos, v in enumerate(n.inputs):
            j = index.get(id(v.node))
            if j is None:
                raise LuminaIRError(f"to_networkx: %{i} ({n.op.value}) reads a value that is not in graph "
                                    f"{graph.name}'s node list")
            if g.has_edge(j, i):
                g.edges[j, i]["operands"].append(pos)
            else:
                g.add_edge(j, i, operand=pos, operands=[pos])
    g.graph["inputs"] = [index[id(v.node)] for v in graph.inputs]
    g.graph["outputs"] = [index[id(v.node)] for v in graph.outputs]
    return g


def default_forward_outputs(graph) -> int:
    """How many leading outputs of ``graph`` are forward results (see the module docstring)."""
    outs = graph.outputs
    if len(outs) > 1 and outs[0].shape == () and outs[0].dtype.is_float:
        return 1
    return len(outs)


def forward_nodes(graph, forward_outputs: int | None = None) -> set[int]:
    """``id`` of every node that the first ``forward_outputs`` outputs depend on (themselves
    included); ``None`` picks ``default_forward_outputs``. The other nodes are the backward part.
    Raises LuminaIRError if ``forward_outputs`` is not in ``[0, len(graph.outputs)]``."""
    if forward_outputs is None:
        forward_outputs = default_forward_outputs(graph)
    if not 0 <= forward_outputs <= len(graph.outputs):
        raise LuminaIRError(f"forward_nodes: forward_outputs={forward_outputs}, graph {graph.name} has "
                            f"{len(graph.outputs)} outputs")
    seen: set[int] = set()
    stack = [v.node for v in graph.outputs[:forward_outputs]]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.extend(v.node for v in n.inputs)
    return seen


def _label(i: int, node) -> str:
    head = f"%{i} {node.op.value}"
    if node.op is Op.INPUT:
        head += f" {node.attrs.get('name', '')}"
    elif node.op is Op.CONST and node.type.numel == 1:
        head += f" {np.asarray(node.attrs['value']).reshape(()).item():g}"
    return f"{head}\n{node.type}"


def to_dot(graph, partition=None, forward_outputs: int | None = None,
           kernel_names: Sequence[str] | None = None):
    """A ``graphviz.Digraph`` drawing ``graph`` (render it with ``.pipe("svg")`` or ``.render``;
    ``.source`` is the DOT text, which needs no Graphviz binary).

    Nodes are labelled ``%i op`` and their type; forward nodes are filled blue, backward ones orange
    (``forward_nodes``), graph inputs and constants are grey ellipses, graph outputs have a bold
    border. ``partition`` (a ``schedule.partition.Partition`` of this very graph) draws each kernel as a
    cluster ``cluster_k<i>`` labelled with its number, kind and outputs (and ``kernel_names[i]`` when
    given, e.g. the generated function names of ``Lowered.kernels()``); nodes no kernel computes
    (inputs, constants, outputs that alias a buffer) stay outside the clusters.
    Raises LuminaIRError if the partition belongs to another graph or ``kernel_names`` has the wrong
    length.
    """
    import graphviz
    forward = forward_nodes(graph, forward_outputs)
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    outputs = {id(v.node) for v in graph.outputs}
    dot = graphviz.Digraph(name=graph.name, graph_attr={"rankdir": "TB", "fontname": "Helvetica"},
                           node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled"},
                           edge_attr={"arrowsize": "0.6"})

    def attrs(n) -> dict:
        a = {"label": _label(index[id(n)], n)}
        if n.op in (Op.INPUT, Op.CONST):
            a.update(shape="ellipse", fillcolor=SOURCE_COLOR)
        else:
            a.update(shape="box", fillcolor=FORWARD_COLOR if id(n) in forward else BACKWARD_COLOR)
        if id(n) in outputs:
            a.update(penwidth="2.5")
        return a

    if partition is None:
        for i, n in enumerate(graph.nodes):
            dot.node(f"n{i}", **attrs(n))
            for v in n.inputs:
                dot.edge(f"n{index[id(v.node)]}", f"n{i}")
        return dot

    if partition.graph is not graph:
        raise LuminaIRError(f"to_dot: the partition is of graph {partition.graph.name!r}, not of the graph "
                            f"drawn ({graph.name!r}); pass the partition of the optimized graph it was made from")
    kernels = partition.kernels
    if kernel_names is not None and len(kernel_names) != len(kernels):
        raise LuminaIRError(f"to_dot: {len(kernel_names)} kernel names for {len(kernels)} kernels")
    home: dict[int, str] = {}          # id(node) -> the DOT node that holds its value's buffer
    for k, kernel in enumerate(kernels):
        for v in kernel.outputs:
            home[id(v.node)] = f"k{k}_n{index[id(v.node)]}"
    in_kernel = {id(n) for kernel in kernels for n in kernel.nodes}
    views = _views_of_one_kernel(graph, kernels, in_kernel, outputs)
    for i, n in enumerate(graph.nodes):
        if id(n) not in in_kernel and id(n) not in views:
            dot.node(f"n{i}", **attrs(n))
        if id(n) not in in_kernel:
            home.setdefault(id(n), f"n{i}")
    for k, kernel in enumerate(kernels):   # a value only ever inlined: its first copy stands for it
        for n in kernel.nodes:
            home.setdefault(id(n), f"k{k}_n{index[id(n)]}")
    for i, n in enumerate(graph.nodes):   # nodes outside every kernel read their operands' buffers
        if id(n) not in in_kernel:
            for v in n.inputs:
                dot.edge(home[id(v.node)], f"n{i}")
    for k, kernel in enumerate(kernels):
        mine = {id(n) for n in kernel.nodes}
        outs = ", ".join(f"%{index[id(v.node)]}" for v in kernel.outputs)   # a row kernel has several
        title = f"kernel {k} ({kernel.kind}) -> {outs}"
        if kernel_names is not None:
            title += f"\n{kernel_names[k]}"
        with dot.subgraph(name=f"cluster_k{k}") as c:
            c.attr(label=title, style="rounded", color="#666666", fontsize="10", labeljust="l")
            for n in kernel.nodes:
                c.node(f"k{k}_n{index[id(n)]}", **attrs(n))
            for n in graph.nodes:   # the views a GEMM reads in place: drawn with the GEMM
                if views.get(id(n)) == k:
                    c.node(f"n{index[id(n)]}", **attrs(n))
        for n in kernel.nodes:
            for v in n.inputs:
                src = f"k{k}_n{index[id(v.node)]}" if id(v.node) in mine else home[id(v.node)]
                dot.edge(src, f"k{k}_n{index[id(n)]}")
    return dot


def _views_of_one_kernel(graph, kernels, in_kernel: set[int], outputs: set[int]) -> dict[int, int]:
    """Movement nodes no kernel computes (a GEMM reads them as strided views of its operands' buffers)
    that one kernel alone reads, directly or through other such views: ``id(node) -> kernel``."""
    reader: dict[int, set[int]] = {}
    for k, kernel in enumerate(kernels):
        for n in kernel.nodes:
            for v in n.inputs:
                reader.setdefault(id(v.node), set()).add(k)
    owner: dict[int, int] = {}
    for n in reversed(graph.nodes):
        if id(n) in in_kernel:
            continue
        if id(n) in outputs or n.op.kind is not Kind.MOVEMENT:
            for v in n.inputs:   # read outside every kernel
                reader.setdefault(id(v.node), set()).add(-1)
            continue
        readers = reader.get(id(n), set())
        if len(readers) == 1:
            owner[id(n)] = next(iter(readers))
            for v in n.inputs:   # its operand is read by the same kernel, through this view
                reader.setdefault(id(v.node), set()).update(readers)
        else:
            for v in n.inputs:   # several readers (or none): the operand stays outside
                reader.setdefault(id(v.node), set()).update(readers or {-1})
    return owner
