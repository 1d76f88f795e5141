"""The kernel groups a partition is made of, as frozen data, and the predicates every fusion step
shares.

A ``Kernel`` materialises one value (its ``root``) into a buffer and inlines the nodes that compute
it from the buffers it reads; fusion steps (``schedule.epilogues``, ``schedule.row_fusion``) make
new kernels from old ones, never change one. ``Partition`` is the result: the kernels in execution
order, which values have buffers and why, and every fusion candidate turned down with its reason
(``Partition.describe()``). The reasons are text for people; what the partitioner decides on is
held in enums (``KernelKind``, ``StageRole``, ``Cause``, ``RefusalKind``).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping

from ..ir.graph import Graph, Node, Value
from ..ir.ops import Kind, Op


class _Named(str, Enum):
    """An enum whose members are their names as people read them (``describe()``, the profile
    table): they print, format and compare as that text."""

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


class KernelKind(_Named):
    """What a kernel computes."""
    ELEMENTWISE = "elementwise"       # elementwise ops and movement over the root's shape
    REDUCE = "reduce"                 # a reduction, its input inlined
    DOT = "dot"                       # a GEMM alone
    DOT_EPILOGUE = "dot+epilogue"     # a GEMM whose C tile an elementwise epilogue rewrites
    MULTI_OUTPUT = "multi-output"     # a row kernel: several stages over the same rows
    DOT_ROWS = "dot+rows"             # a GEMM, then row stages over its finished rows


class StageRole(_Named):
    """What one stage of a row kernel computes over its rows."""
    REDUCE = "reduce"   # a reduction over the row
    FULL = "full"       # an elementwise value over the whole row (the reduction's input shape)
    ROW = "row"         # an elementwise value per row (the reduction's output shape)


class Cause(Enum):
    """Why a value is materialised (gets a buffer of its own)."""
    OUTPUT = "graph output"
    DOT_OPERAND = "dot operand"               # what a GEMM reads through strides
    INPUT = "input"
    CONSTANT = "constant"                     # a non-scalar constant
    DOT = "dot"                               # a GEMM's result, nothing else asks for it
    REDUCTION = "reduction"
    BROADCAST = "broadcast by expand"         # inlining would recompute it per broadcast copy
    READERS = "several readers"               # over the recompute budget of its readers
    DEPTH = "fusion depth limit"
    EPILOGUE_RESULT = "dot epilogue result"   # a GEMM epilogue's end, read by several kernels


@dataclass(frozen=True)
class Materialized:
    """A value's buffer: ``cause`` (what fusion decides on) and ``reason`` (what ``describe()``
    prints; the cause's text unless it says more)."""
    cause: Cause
    reason: str

    @classmethod
    def because(cls, cause: Cause, reason: str | None = None) -> Materialized:
        return cls(cause, cause.value if reason is None else reason)


class RefusalKind(Enum):
    """The fusion step that turned a candidate down."""
    RECOMPUTE = "recompute"                   # kept out of its readers by the recompute budget
    EPILOGUE = "epilogue"                     # a dot as the GEMM of its reader's epilogue
    EPILOGUE_READERS = "epilogue readers"     # ... refused because several kernels read the dot
    ROW_KERNEL = "row kernel"                 # a kernel as a stage of a row kernel
    ROW_GEMM = "row-fused GEMM"               # a GEMM as the producer of a row kernel


class Refused(Exception):
    """Raised inside the partitioner by a check that turns a fusion candidate down; ``reason``
    (the message) is what ``Partition.describe()`` prints, ``kind`` set when the check knows
    better than its caller which step refused."""

    def __init__(self, reason: str, kind: RefusalKind | None = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True)
class Refusal:
    """A fusion candidate that was turned down: ``value`` was not fused into the kernel computing
    ``into`` (None when it has no single consumer) by the step ``kind``, because of ``reason``."""
    value: Value
    into: Value | None
    reason: str
    kind: RefusalKind


@dataclass(frozen=True)
class Kernel:
    """One fused group: ``nodes`` (topological, ending with ``root.node``) read ``inputs``;
    ``reason`` says why ``root`` is materialised.

    ``dot`` is set for a GEMM with an elementwise epilogue: ``nodes`` starts with the ``dot`` node,
    whose result is never stored on its own, and the rest computes ``root`` from it. ``c_strides``
    (elements) place ``C[b, m, n]`` in the root's row-major buffer when a permute re-indexes it
    (None: row-major); with ``rebatch`` R > 1 (a batch-1 dot only) they are the strides of
    ``(r, m, n')`` for the column ``n = r * N/R + n'``, i.e. the GEMM runs as R GEMMs of N/R
    columns each (a batched convolution's images), or with ``rebatch_rows`` those of ``(r, m', n)``
    for the row ``m = r * M/R + m'`` (R GEMMs of M/R rows each).

    ``rows`` is set for a multi-output row kernel (``schedule.row_fusion``): ``nodes`` are all its
    stages' nodes, ``inputs`` the buffers they read from outside it, ``outputs`` the stage results
    it stores (``root`` is the last of them).
    """
    root: Value
    nodes: tuple[Node, ...]
    inputs: tuple[Value, ...]
    reason: str
    dot: Node | None = None
    c_strides: tuple[int, int, int] | None = None
    rebatch: int = 1
    rebatch_rows: bool = False
    rows: Rows | None = None

    @property
    def outputs(self) -> list[Value]:
        """The values this kernel stores, in stage order (``[root]`` but for a row kernel, whose
        GEMM result comes first when it is a row-fused GEMM); a new list."""
        if self.rows is None:
            return [self.root]
        head = [self.rows.producer.root] if self.rows.producer is not None else []
        return head + [st.kernel.root for st in self.rows.stages if st.stored]

    @property
    def kind(self) -> KernelKind:
        if self.rows is not None:
            return KernelKind.DOT_ROWS if self.rows.producer is not None else KernelKind.MULTI_OUTPUT
        if self.dot is not None:
            return KernelKind.DOT_EPILOGUE
        if self.root.op is Op.DOT:
            return KernelKind.DOT
        return KernelKind.REDUCE if self.root.op.kind is Kind.REDUCE else KernelKind.ELEMENTWISE


@dataclass(frozen=True)
class RowStage:
    """One stage of a row kernel: the single-output kernel it was (``kernel``), its ``role`` over
    the rows and whether its result is ``stored`` (read outside the row kernel, or a graph output;
    otherwise it lives in registers and gets no buffer)."""
    kernel: Kernel
    role: StageRole
    stored: bool = False


@dataclass(frozen=True)
class Rows:
    """The rows a multi-output kernel runs over: the reduced input ``shape`` and its reduced
    ``axes`` (every reduce stage's), and its ``stages`` in execution order. ``producer`` is set for
    a row-fused GEMM: the ``dot`` or ``dot+epilogue`` kernel whose result (always stored) the stages
    read as whole rows, computed first in the same kernel."""
    shape: tuple[int, ...]
    axes: tuple[int, ...]
    stages: tuple[RowStage, ...]
    producer: Kernel | None = None


@dataclass(frozen=True, eq=False)
class Partition:
    """``graph`` (optimized) as ``kernels`` in execution order. ``materialized``: id(value) -> why
    it has a buffer, for every value that has one (inputs and non-scalar constants included);
    ``aliases``: id(graph output) -> the buffer it only reshapes; ``refused``: every fusion
    candidate turned down."""
    graph: Graph
    kernels: tuple[Kernel, ...]
    materialized: Mapping[int, str]
    aliases: Mapping[int, Value]
    refused: tuple[Refusal, ...]

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


def readers_of(kernels) -> dict[int, list[Kernel]]:
    """id(buffer) -> the kernels that read it, in order."""
    readers: dict[int, list[Kernel]] = {}
    for k in kernels:
        for v in k.inputs:
            readers.setdefault(id(v), []).append(k)
    return readers


# Ops worth more than a round trip through memory: never recomputed in several readers.
EXPENSIVE = frozenset(op for op in Op if op.info.costly)   # the ops' records say which (ir.ops.OPS)


def own_cost(n: Node, recompute_budget: int) -> int:
    """Ops per element node ``n`` costs when recomputed: 0 for a source or a plain movement op, 1
    for a cheap op, ``recompute_budget + 1`` for an ``EXPENSIVE`` one (over any budget)."""
    if n.op.kind in (Kind.SOURCE, Kind.MOVEMENT) and n.op not in EXPENSIVE:
        return 0
    return recompute_budget + 1 if n.op in EXPENSIVE else 1


def index_preserving(n: Node) -> bool:
    """Whether ``n`` reads each operand at its own output position (in row-major order)."""
    return n.op.kind in (Kind.UNARY, Kind.BINARY) or n.op in (Op.WHERE, Op.CAST, Op.RESHAPE)


def checks_status(nodes) -> int:
    """1 when ``nodes`` hold a ``check_index``: the kernel then takes one more buffer, the status
    buffer its checks record in (``codegen.kernel``); else 0."""
    return int(any(n.op is Op.CHECK_INDEX for n in nodes))


def takes_epilogue(dot: Value, target) -> bool:
    """Whether ``target``'s GEMM of ``dot``'s dtype takes a fused epilogue (and row stages):
    ``target.epilogue_dtypes`` (a ``backends.target.Target``, read duck-typed) names it."""
    return dot.dtype.name in target.epilogue_dtypes
