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

**GEMM epilogues.** A ``dot`` whose result is read by exactly one elementwise kernel, only at its own
output position (through elementwise ops and reshapes: ``relu(x @ w + b)``, a per-channel scale and
shift, a residual add of a same-shape buffer, GELU), fuses into that kernel: the kernel keeps its
root and gains ``Kernel.dot``, the GEMM, whose C tile the epilogue rewrites in place after the final
K block (``backends.cpu.llvm_gemm``); the dot result gets no buffer of its own. Reshapes and permutes
between the dot and the elementwise ops (a convolution's ``[O, N*Ho*Wo] -> [N, O, Ho, Wo]``, an NHWC
transpose) are accepted when they re-index the dot's result bijectively and the root's row-major
position of ``C[b, m, n]`` is ``b*sb + m*sm + n*sn``: the GEMM then stores C straight into the root's
buffer through those strides (``Kernel.c_strides``) and the epilogue rewrites it there; any other
re-indexing is refused with its reason, as is a dot with an empty result. When the value at the end
of a dot's single-reader index-preserving chain has several readers (the pre-activation of a
training step, read by the activation and by its backward), that value is materialised as the
epilogue's root instead of being recomputed in each reader. Every candidate that is turned down, and
every value kept out of its readers by the recompute budget, is listed in ``Partition.refused`` with
its reason.

**Multi-output row kernels** (``MULTI_OUTPUT``). Reductions over the same *rows* (the same reduced
input shape and axes, the innermost axis among them) and the kernels that read them per row merge
into one kernel with several stages run one after another for every row (``Kernel.rows``, lowered
to a ``codegen.kernel.RowKernel``): *sibling* reductions that do not depend on each other (a loss's
max and sum), and *row chains*, where a later kernel reads an earlier reduction only broadcast along
the reduced axes at its own row (a softmax's ``exp(x - max)`` and its sum; a LayerNorm's mean,
variance and normalized, affine output). A later stage reads an earlier reduction as a register; an
earlier elementwise result over the whole row is recomputed in the stages that read it. A stage's
result is stored only when a kernel outside the group or the graph's outputs read it (a LayerNorm's
mean and rstd saved for the backward pass); otherwise it lives in registers and gets no buffer.
A candidate is refused, with its reason in ``Partition.refused``, when its row is longer than
``MAX_ROW_ELEMENTS`` (the stages re-read the row and count on it staying in cache), when a stage
would recompute earlier whole-row results of more than ``ROW_RECOMPUTE_BUDGET`` ops per element,
when it reads a stage's result at another row or position, or when it depends on the group through
a kernel outside it (the merged kernel could not be placed).

**Row-fused GEMMs** (``DOT_ROWS``). When a row kernel's rows are whole rows of a GEMM's result C
(``dot`` or ``dot+epilogue``, float, stored row-major [batch, M, N], the reduced dims being its
trailing N) and its stages read C only at their own position, the GEMM joins it: one kernel
computes C, epilogue included, and runs the stages on each block of finished rows (MatMul + bias +
ReLU + LayerNorm; attention scores + softmax; a residual add + LayerNorm). C is always stored. The
renderers choose the blocks (``codegen.kernel.DotKernel.rows``): the CPU runs the stages on each
MC-row panel from the GEMM's epilogue call while the panel is in L2, a GPU program owns whole rows.
A candidate is refused, with its reason, when the GEMM or the stages depend on each other through
another kernel (a training step's ReLU, stored for the backward pass, sits between the GEMM and
the LayerNorm), when C is permuted or not float, or when the epilogue's and the stages' buffers
together exceed ``MAX_EPILOGUE_INPUTS`` (the CPU epilogue's arguments).
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


EPILOGUES = True          # fuse elementwise epilogues into dots (False: for A/B measurements)
MAX_EPILOGUE_INPUTS = 8   # buffers an epilogue may read besides the dot result (GEMM arguments)
_EPILOGUE_DTYPES = ("float32", "float64")   # the packed GEMMs; the integer one has no epilogue

MULTI_OUTPUT = True       # merge reductions over the same rows and their per-row readers (False: A/B)
DOT_ROWS = True           # row kernels over whole rows of a GEMM's result join the GEMM (False: A/B)
# The stages of a row kernel each walk the row; they save a pass over memory only while the row stays
# in cache between them. 16K elements is 64 KiB per float32 buffer read: within the L2 cache of any
# server core of the last decade (256 KiB to 2 MiB), with room for the two or three buffers a
# normalization reads. A longer row is fetched from DRAM by every stage, as by separate kernels.
MAX_ROW_ELEMENTS = 1 << 14
# A later stage recomputes an earlier whole-row elementwise result instead of loading it (stages read
# no outputs; a renderer may keep it for the row instead, as the LLVM one does for costly ones).
# That replaces a store and a load through memory, not one load as inlining across kernels does,
# so the budget, in ops per element per reading stage, is four times RECOMPUTE_BUDGET: one
# expensive op (exp, div, sqrt) and up to five cheap ones, as a softmax's ``exp(x - max)`` or an
# overflow-safe LayerNorm's ``((x - mean) * r)^2`` behind a training step's stored ReLU.
ROW_RECOMPUTE_BUDGET = 4 * RECOMPUTE_BUDGET


@dataclass
class Kernel:
    """One fused group: ``nodes`` (topological, ending with ``root.node``) read ``inputs``.

    ``dot`` is set for a GEMM with an elementwise epilogue: ``nodes`` starts with the ``dot`` node,
    whose result is never stored on its own, and the rest computes ``root`` from it. ``c_strides``
    (elements) place ``C[b, m, n]`` in the root's row-major buffer when a permute re-indexes it;
    with ``rebatch`` R > 1 (a batch-1 dot only) they are the strides of ``(r, m, n')`` for the column
    ``n = r * N/R + n'``, i.e. the GEMM runs as R GEMMs of N/R columns each.

    ``rows`` is set for a multi-output row kernel (``schedule.row_fusion``): ``nodes`` are all its
    stages' nodes, ``inputs`` the buffers they read from outside it, ``outputs`` the stage results
    it stores (``root`` is the last of them).
    """
    root: Value
    nodes: list[Node]
    inputs: list[Value]
    reason: str
    dot: Node | None = None
    c_strides: tuple[int, int, int] | None = None   # C's strides in the root's buffer; None: row-major
    rebatch: int = 1   # >1: the batch-1 dot's columns run as this many GEMMs (a batched conv's images)
    rows: Rows | None = None     # a multi-output row kernel: its stages (``root`` is its last output)

    @property
    def outputs(self) -> list[Value]:
        """The values this kernel stores, in stage order (``[root]`` but for a row kernel, whose
        GEMM result comes first when it is a row-fused GEMM)."""
        if self.rows is None:
            return [self.root]
        head = [self.rows.producer.root] if self.rows.producer is not None else []
        return head + [st.kernel.root for st in self.rows.stages if st.stored]

    @property
    def kind(self) -> str:
        op = self.root.op
        if self.rows is not None:
            return "dot+rows" if self.rows.producer is not None else "multi-output"
        if self.dot is not None:
            return "dot+epilogue"
        return "dot" if op is Op.DOT else "reduce" if op.kind is Kind.REDUCE else "elementwise"


@dataclass
class RowStage:
    """One stage of a row kernel: the single-output kernel it was (``kernel``), its ``role`` over the
    rows ("reduce": a reduction over the row; "full": an elementwise value over the whole row, the
    reduction's input shape; "row": an elementwise value per row, the reduction's output) and whether
    its result is ``stored`` (read outside the row kernel, or a graph output)."""
    kernel: Kernel
    role: str
    stored: bool = False


@dataclass
class Rows:
    """The rows a multi-output kernel runs over: the reduced input ``shape`` and its reduced ``axes``
    (every reduce stage's), and its ``stages`` in execution order. ``producer`` is set for a
    row-fused GEMM: the ``dot`` or ``dot+epilogue`` kernel whose result (always stored) the stages
    read as whole rows, computed first in the same kernel."""
    shape: tuple[int, ...]
    axes: tuple[int, ...]
    stages: list[RowStage]
    producer: Kernel | None = None


@dataclass(frozen=True)
class Refusal:
    """A fusion candidate that was turned down: ``value`` was not fused into the kernel computing
    ``into`` (None when it has no single consumer), because of ``reason``."""
    value: Value
    into: Value | None
    reason: str


@dataclass
class Partition:
    graph: Graph
    kernels: list[Kernel]
    materialized: dict[int, str] = field(default_factory=dict)   # id(value) -> reason
    aliases: dict[int, Value] = field(default_factory=dict)      # id(output) -> buffer it reshapes
    refused: list[Refusal] = field(default_factory=list)

    def describe(self) -> str:
        """One line per kernel (its kind, outputs, why its root is materialised, the buffers it
        reads, for a multi-output row kernel its stages (result, role, stored or register-only, why
        it was a kernel of its own), the nodes it fuses), then one line per refused fusion candidate
        with its reason."""
        names = {n.out: f"%{i}" for i, n in enumerate(self.graph.nodes)}
        lines = []
        for i, k in enumerate(self.kernels):
            ops = " ".join(f"{names[n.out]}:{n.op.value}" for n in k.nodes)
            ins = ", ".join(names[v] for v in k.inputs)
            outs = ", ".join(names[v] for v in k.outputs)
            stages = ""
            if k.rows is not None:
                stages = "  stages " + ", ".join(
                    f"{names[st.kernel.root]}:{st.role} ({'stored' if st.stored else 'register'}; "
                    f"{st.kernel.reason})" for st in k.rows.stages)
            lines.append(f"kernel {i} ({k.kind}) -> {outs}  [{k.reason}]  reads ({ins}){stages}  fuses {ops}")
        for r in self.refused:
            into = f" into the kernel of {names[r.into]}" if r.into is not None else ""
            lines.append(f"refused: {names[r.value]}:{r.value.op.value}{into}: {r.reason}")
        return "\n".join(lines)


def checks_status(nodes) -> int:
    """1 when ``nodes`` hold a ``check_index``: the kernel then takes one more buffer, the status
    buffer its checks record in (``codegen.kernel``); else 0."""
    return int(any(n.op is Op.CHECK_INDEX for n in nodes))


def _is_scalar_const(v: Value) -> bool:
    return v.op is Op.CONST and v.type.numel == 1


def _own_cost(n: Node) -> int:
    if n.op.kind in (Kind.SOURCE, Kind.MOVEMENT) and n.op not in _EXPENSIVE:
        return 0
    return RECOMPUTE_BUDGET + 1 if n.op in _EXPENSIVE else 1


def partition(graph: Graph) -> Partition:
    """Partition ``graph`` into kernels (see the module docstring); never raises on a valid graph."""
    users = graph.users()
    mat: dict[int, str] = {}
    refused: list[Refusal] = []
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
                and inline_cost() > RECOMPUTE_BUDGET and id(v) not in mat:
            why = (f"{len(users[v])} readers: inlining would recompute {inline_cost()} ops per "
                   f"element in each (RECOMPUTE_BUDGET {RECOMPUTE_BUDGET})")
            mat[id(v)] = why
            refused.append(Refusal(v, None, why))
        d = 1 + max((depth[id(u)] for u in n.inputs if id(u) not in mat), default=0)
        if d > MAX_DEPTH and id(v) not in mat:
            mat[id(v)] = f"fusion depth limit {MAX_DEPTH}"
        depth[id(v)] = 0 if id(v) in mat else d
        cost[id(v)] = 0 if id(v) in mat else inline_cost()

    kernels = _group_all(graph, mat)
    if EPILOGUES:
        if _mark_epilogue_roots(graph, users, mat, kernels):
            kernels = _group_all(graph, mat)
        kernels = _fuse_epilogues(kernels, mat, refused)
    if MULTI_OUTPUT:
        outputs = {id(aliases.get(id(v), v)) for v in graph.outputs}
        from .row_fusion import fuse_rows  # it builds on this module's Kernel
        order = {id(n): i for i, n in enumerate(graph.nodes)}
        kernels = fuse_rows(kernels, mat, refused, outputs, order)
        _restate_dot_refusals(kernels, refused)
    return Partition(graph, kernels, mat, aliases, refused)


def _restate_dot_refusals(kernels: list[Kernel], refused: list[Refusal]) -> None:
    """A dot refused as an epilogue for its several readers that row fusion merged into one
    kernel: say so, rather than count readers that are gone."""
    readers: dict[int, list[Kernel]] = {}
    for k in kernels:
        for v in k.inputs:
            readers.setdefault(id(v), []).append(k)
    for i, r in enumerate(refused):
        now = readers.get(id(r.value), [])
        if r.value.op is Op.DOT and r.reason.startswith("read by") and len(now) == 1 and now[0].rows:
            refused[i] = Refusal(r.value, now[0].root, "the reader is a multi-output kernel")


def _group_all(graph: Graph, mat: dict[int, str]) -> list[Kernel]:
    return [_group(n.out, mat) for n in graph.nodes
            if id(n.out) in mat and n.op not in (Op.INPUT, Op.CONST)]


def _index_preserving(n: Node) -> bool:
    """Whether ``n`` reads each operand at its own output position (in row-major order)."""
    return n.op.kind in (Kind.UNARY, Kind.BINARY) or n.op in (Op.WHERE, Op.CAST, Op.RESHAPE)


def _mark_epilogue_roots(graph: Graph, users, mat: dict[int, str], kernels: list[Kernel]) -> bool:
    """For each dot read by several kernels, materialise the end of its single-reader,
    index-preserving chain when that value has several readers, so it is computed once as the
    dot's epilogue instead of in every reader. Whether any value was marked."""
    reading: dict[int, int] = {}
    for k in kernels:
        for v in k.inputs:
            reading[id(v)] = reading.get(id(v), 0) + 1
    marked = False
    for n in graph.nodes:
        if n.op is not Op.DOT or mat.get(id(n.out)) != "dot" or reading.get(id(n.out), 0) < 2:
            continue
        end, computes = n.out, False
        while True:
            readers = list({id(u): u for u in users[end]}.values())
            if len(readers) != 1 or not _index_preserving(readers[0]) \
                    or readers[0].out.dtype != n.out.dtype or id(end) in mat and end is not n.out:
                break
            end = readers[0].out
            computes = computes or end.op is not Op.RESHAPE
        # a chain of reshapes only would add a pass over C and save nothing
        if computes and id(end) not in mat and len(users[end]) > 1:
            mat[id(end)] = f"dot epilogue result ({len(users[end])} readers)"
            marked = True
    return marked


def _epilogue_refusal(dot: Value, readers: list[Kernel], mat: dict[int, str]) -> str | None:
    """Why ``dot`` cannot become the GEMM of its reader's epilogue, or None when it can."""
    if mat[id(dot)] != "dot":
        return f"the dot result is materialised: {mat[id(dot)]}"
    if dot.dtype.name not in _EPILOGUE_DTYPES:
        return f"{dot.dtype.name} GEMMs take no epilogue"
    if dot.type.numel == 0:
        return f"the dot's result {dot.type} is empty: there is no C to run an epilogue over"
    if len(readers) != 1:
        return f"read by {len(readers)} kernels"
    k = readers[0]
    if k.kind != "elementwise":
        return f"the reader is a {k.kind} kernel"
    if k.root.dtype != dot.dtype or k.root.type.numel != dot.type.numel:
        return f"the epilogue's result {k.root.type} does not fit the dot's buffer {dot.type}"
    reaches = {id(dot)}
    permuted = False
    for node in k.nodes:   # topological: every node on a path from the dot to the root
        if any(id(u) in reaches for u in node.inputs):
            if node.op is Op.PERMUTE:
                permuted = True
            elif not _index_preserving(node):
                return f"{node.op.value} between the dot and the kernel's root changes the index"
            reaches.add(id(node.out))
    extra = len([v for v in k.inputs if v is not dot]) + checks_status(k.nodes)
    if extra > MAX_EPILOGUE_INPUTS:
        return f"the epilogue reads {extra} buffers (MAX_EPILOGUE_INPUTS {MAX_EPILOGUE_INPUTS})"
    if permuted:
        layout = _permuted_c_strides(dot, k)
        if isinstance(layout, str):
            return layout
    return None


def _permuted_c_strides(dot: Value, k: Kernel) -> tuple[tuple[int, int, int], int] | str:
    """``(strides, rebatch)``: the strides (elements) at which ``C[b, m, n]`` sits in the row-major
    buffer of ``k.root`` when every path from ``dot`` to the root is a chain of reshapes, permutes and
    index-preserving ops that re-indexes the dot's result bijectively; otherwise why not (a str).
    When no fixed strides fit but a batch-1 dot's columns split into R equal runs that do (a
    convolution over N > 1 images: ``n = image * Ho*Wo + pixel``), ``strides`` are those of
    ``(r, m, n')`` and ``rebatch`` = R; else ``rebatch`` = 1.

    Exact: follows each element's dot position through the chain (NumPy ``reshape``/``transpose``
    of ``arange``, one int64 array per re-indexed value) and checks the inverse map is affine.
    """
    import numpy as np
    maps: dict[int, np.ndarray] = {id(dot): np.arange(dot.type.numel, dtype=np.int64).reshape(dot.shape)}
    for node in k.nodes:
        ins = [maps[id(u)] for u in node.inputs if id(u) in maps]
        if not ins:
            continue
        if node.op is Op.PERMUTE:
            maps[id(node.out)] = ins[0].transpose(node.attrs["perm"])
        elif node.op is Op.RESHAPE:
            maps[id(node.out)] = ins[0].reshape(node.out.shape)
        else:   # index-preserving (checked by the caller): every operand from the dot at one index
            if any(m.shape != node.out.shape or not np.array_equal(m, ins[0]) for m in ins[1:]):
                return (f"{node.op.value} reads the dot's result through two different re-indexings, "
                        f"not one bijective re-indexing")
            maps[id(node.out)] = ins[0]
    pos = np.empty(dot.type.numel, dtype=np.int64)
    pos[maps[id(k.root)].reshape(-1)] = np.arange(dot.type.numel, dtype=np.int64)
    pos = pos.reshape(dot.shape)
    strides = tuple(int(pos[(0,) * i + (1,) + (0,) * (2 - i)]) if dot.shape[i] > 1 else 0 for i in range(3))
    if _affine_at(pos, strides):
        return strides, 1
    bsz, msz, nsz = dot.shape
    if bsz == 1 and nsz > 1:   # columns in R runs of N/R: C as R GEMMs of [M, N/R]
        run = pos[0, 0] - np.arange(nsz, dtype=np.int64) * strides[2]
        breaks = np.flatnonzero(run)
        n2 = int(breaks[0]) if breaks.size else nsz
        if 1 < n2 < nsz and nsz % n2 == 0:
            split = (int(pos[0, 0, n2]), strides[1], strides[2])
            cols = pos[0].reshape(msz, nsz // n2, n2).transpose(1, 0, 2)
            if _affine_at(cols, split):
                return split, nsz // n2
    return (f"the permuted result {k.root.type} does not hold the GEMM's C {dot.type} at fixed "
                f"strides (the permute splits its rows, or its columns into unequal runs)")


def _affine_at(pos, strides) -> bool:
    """Whether the 3-d integer array ``pos`` is ``i*s0 + j*s1 + k*s2`` at every ``[i, j, k]``."""
    import numpy as np
    b, m, n = (np.arange(d, dtype=np.int64) * s for d, s in zip(pos.shape, strides))
    return bool(np.array_equal(pos, b[:, None, None] + m[None, :, None] + n[None, None, :]))


def _fuse_epilogues(kernels: list[Kernel], mat: dict[int, str], refused: list[Refusal]) -> list[Kernel]:
    """Merge each dot kernel into its one elementwise reader as that kernel's GEMM (see module)."""
    readers: dict[int, list[Kernel]] = {}
    for k in kernels:
        for v in k.inputs:
            readers.setdefault(id(v), []).append(k)
    merged: set[int] = set()
    for d in kernels:
        if d.root.op is not Op.DOT or not readers.get(id(d.root)):
            continue
        dot, into = d.root, readers[id(d.root)]
        why = _epilogue_refusal(dot, into, mat)
        if why is not None:
            refused.append(Refusal(dot, into[0].root if len(into) == 1 else None, why))
            continue
        k = into[0]
        k.dot = dot.node
        if any(n.op is Op.PERMUTE for n in k.nodes):
            k.c_strides, k.rebatch = _permuted_c_strides(dot, k)
        k.nodes = [dot.node] + k.nodes
        inputs = {id(v): v for v in d.inputs}
        inputs.update((id(v), v) for v in k.inputs if v is not dot)
        k.inputs = list(inputs.values())
        k.reason = f"{k.reason}; epilogue of the dot"
        del mat[id(dot)]
        merged.add(id(d))
    return [k for k in kernels if id(k) not in merged]


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
