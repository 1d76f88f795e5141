"""Multi-output row kernels: merge reductions over the same rows and their per-row readers.

**Row kernels** (``FusionOptions.multi_output``). Reductions over the same *rows* (the same reduced
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
``FusionOptions.max_row_elements`` (the stages re-read the row and count on it staying in cache),
when a stage would recompute earlier whole-row results of more than
``FusionOptions.row_recompute_budget`` ops per element, when it reads a stage's result at another
row or position, or when it depends on the group through a kernel outside it (the merged kernel
could not be placed).

``fuse_rows`` runs after the single-output partition (``schedule.partition``) and the GEMM
epilogues. It walks the kernels in order; a reduction whose innermost axis is reduced opens a
*group* over its rows (the reduced input shape and axes); a later kernel joins a group when it is

* a reduction over the same rows (a *stage* of role ``StageRole.REDUCE``),
* elementwise over the rows' whole shape (``FULL``) or over one value per row (``ROW``),

and it either reads a member (a row chain) or is a reduction independent of the group that reads
one of the group's buffers (a sibling: it saves a pass over that buffer). A kernel that reads or
computes an empty value neither opens nor joins a group (``_empty``). Reductions that keep the
innermost dim (a bias gradient's sum over the batch) group with siblings only: the CPU renderer
accumulates them side by side in their outputs, reading each input row in order.
Whether a member is read only at the reader's own row (a reduction or per-row value, broadcast
along the reduced axes) or position (a whole-row value) is decided on the graph: the index each
node of the reader is evaluated at is followed from its root through elementwise ops, ``expand``,
``permute`` and reshapes that only add or drop size-1 dims (anything else is "unknown", and an
unknown index reaching a member refuses the candidate). The merged kernels are put back in a
topological order (the merged kernel runs where its last member ran, or earlier).

**Elementwise row kernels** (``FusionOptions.elementwise_rows``). After the groups above are made,
elementwise kernels left alone whose results the graph returns (state written back: an
optimizer's moments and parameters), over one shape, merge when a later one reads an earlier one at
its own position or shares an input buffer with the group: one kernel, one pass over each buffer.
Their rows are the shape's trailing dims, at least ``ELEMENTWISE_ROW`` elements (the other dims
are split over threads); only elementwise ops, broadcasts and reshapes take part, so every stage
reads its buffers in order; the checks of ``_join`` apply (positions, recompute budget, dependence
through other kernels).

**Row-fused GEMMs** (``FusionOptions.dot_rows``). When a row kernel's rows are whole rows of a
GEMM's result C (``dot`` or ``dot+epilogue``, of a dtype in ``Target.epilogue_dtypes``, stored
row-major [batch, M, N], the reduced dims being its trailing N) and its stages read C only at their
own position, the GEMM joins it (``_attach_dot``): one kernel computes C, epilogue included, and
runs the stages on each block of finished rows (MatMul + bias + ReLU + LayerNorm; attention scores
+ softmax; a residual add + LayerNorm). C is always stored. The GEMM joins directly or through one
elementwise kernel between them (``_bridge``: a training step's ReLU), which becomes the group's
first stage. The renderers choose the blocks (``codegen.kernel.DotKernel.rows``): the CPU runs the
stages on each MC-row panel from the GEMM's epilogue call while the panel is in L2, a GPU program
owns whole rows. A candidate is refused, with its reason, when the GEMM or the stages depend on each
other through another kernel (a training step's ReLU, stored for the backward pass, sits between
the GEMM and the LayerNorm), when C is permuted or not of an epilogue dtype, or when the epilogue's
and the stages' buffers together exceed ``Target.max_epilogue_inputs`` (the CPU epilogue's
arguments).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field, replace

from ..ir.symbolic import hint
from ..ir.graph import Value
from ..ir.ops import Kind, Op
from .groups import (Kernel, KernelKind, Refusal, RefusalKind, Refused, RowStage, Rows, StageRole,
                     checks_status, own_cost, takes_epilogue)
from .options import FusionOptions

_UNKNOWN = None   # an index entry that is no single dim of the rows' shape
_ZERO = -1        # an index entry that is the constant 0 (a broadcast dim)
_DOTS = (KernelKind.DOT, KernelKind.DOT_EPILOGUE)


@dataclass(frozen=True)
class RowFusion:
    """What ``fuse_rows`` made: the ``kernels`` in a topological order (each group of two or more
    merged into one kernel with ``rows`` set), the ids of the stage results kept in ``registers``
    (they lose their buffers) and the candidates ``refused``."""
    kernels: tuple[Kernel, ...]
    registers: frozenset[int]
    refused: tuple[Refusal, ...]


def fuse_rows(kernels, outputs: set[int], order: dict[int, int], target,
              options: FusionOptions) -> RowFusion:
    """Merge ``kernels`` into row kernels (see the module docstring). ``outputs``: ids of the graph's
    output buffers; ``order``: id(node) -> its position in the graph; ``target`` is read for
    ``epilogue_dtypes`` and ``max_epilogue_inputs`` (row-fused GEMMs)."""
    return _RowFuser(list(kernels), outputs, target, options).run(order)


@dataclass
class _Group:
    """A row kernel being built: the rows (``shape`` reduced over ``axes``), its ``members``
    (indices of the kernels it merges, in order) and their ``stages``."""
    shape: tuple[int, ...]
    axes: tuple[int, ...]
    members: list[int]
    stages: list[RowStage]
    roles: dict[int, StageRole] = field(default_factory=dict)   # id(member root) -> role
    cost: dict[int, int] = field(default_factory=dict)   # id(full member root) -> ops per evaluation
    contiguous: bool = True   # the innermost dim (of extent > 1) is reduced: a row is contiguous
    producer: int | None = None   # a row-fused GEMM: the dot kernel whose result's rows these are
    elementwise: bool = False     # whole-row stages only (``_place_elementwise``)

    @property
    def length(self) -> int:
        return math.prod(self.shape[a] for a in self.axes)

    @property
    def signature(self) -> tuple:
        return _signature(self.shape, self.axes)


class _RowFuser:
    """The state of one ``fuse_rows``: the kernels, the group each is in (``group_of``), the
    groups, and the refusals so far."""

    def __init__(self, kernels: list[Kernel], outputs: set[int], target, options: FusionOptions):
        self.kernels = kernels
        self.outputs = outputs
        self.target = target
        self.options = options
        self.producer = {id(k.root): i for i, k in enumerate(kernels)}   # id(result) -> its kernel
        self.group_of: list[int | None] = [None] * len(kernels)
        self.groups: list[_Group] = []
        self.refused: list[Refusal] = []

    def run(self, order: dict[int, int]) -> RowFusion:
        for i, k in enumerate(self.kernels):
            if k.kind in (KernelKind.REDUCE, KernelKind.ELEMENTWISE) and not _empty(k):
                self._place(i, k)
        if self.options.dot_rows:
            for gi, g in enumerate(self.groups):
                self._attach_dot(g, gi)
        if self.options.elementwise_rows:
            for i, k in enumerate(self.kernels):
                if k.kind is KernelKind.ELEMENTWISE and self.group_of[i] is None and not _empty(k):
                    self._place_elementwise(i, k)
        merged, registers = [], set()
        for g in self.groups:
            kernel, kept = self._merge(g, order)
            merged.append(kernel)
            registers |= kept
        return RowFusion(tuple(self._toposort(merged)), frozenset(registers), tuple(self.refused))

    def _place(self, i: int, k: Kernel) -> None:
        """Join kernel ``i`` to the group it reads (latest first) or to a sibling group over its
        rows; else open a group of its own if it reduces rows."""
        group_of, groups = self.group_of, self.groups
        read = [group_of[self.producer[id(v)]] for v in k.inputs
                if id(v) in self.producer and group_of[self.producer[id(v)]] is not None]
        chains = list(dict.fromkeys(reversed(read)))        # the groups it reads, latest first
        key = _row_key(k)
        siblings = [g for g in range(len(groups) - 1, -1, -1)
                    if g not in chains and key is not None and groups[g].signature == _signature(*key)]
        whys = []
        for g in chains + siblings:
            try:
                self._join(groups[g], g, i, k)
            except Refused as why:
                if g in chains:
                    whys.append((groups[g], why.reason))
                continue
            group_of[i] = g
            return
        for g, why in whys[:1]:
            self.refused.append(Refusal(k.root, self.kernels[g.members[-1]].root, f"row kernel: {why}",
                                        RefusalKind.ROW_KERNEL))
        sig = _signature(*key) if key is not None else ()
        if any(reduced and n > 1 for n, reduced in sig):
            group_of[i] = len(groups)
            groups.append(_Group(key[0], key[1], [i], [RowStage(k, StageRole.REDUCE)],
                                 {id(k.root): StageRole.REDUCE}, contiguous=sig[-1][1]))

    def _place_elementwise(self, i: int, k: Kernel) -> None:
        """Join elementwise kernel ``i`` (``k``, in no group) to an elementwise group over its
        shape that it reads (latest first) or shares an input with; else open one. Such a group
        has whole-row stages only; its rows are the shape's trailing dims (``_elementwise_rows``).
        Only kernels of elementwise ops, broadcasts and reshapes take part: their loads follow the
        rows, so a stage walks each buffer in order, as the kernel alone would."""
        if id(k.root) not in self.outputs or not all(
                n.op.kind in _ELEMENTWISE_KINDS or n.op in (Op.CONST, Op.EXPAND, Op.RESHAPE) for n in k.nodes):
            return
        key = _elementwise_rows(k.root.shape, self.options.max_row_elements)
        if key is None:
            return
        sig = _signature(*key)
        groups = self.groups
        read = {self.group_of[self.producer[id(v)]] for v in k.inputs if id(v) in self.producer} - {None}
        for g in range(len(groups) - 1, -1, -1):
            group = groups[g]
            if not group.elementwise or group.signature != sig or (g not in read and not self._shares_input(group, k)):
                continue
            try:
                self._join(group, g, i, k)
            except Refused:
                continue
            self.group_of[i] = g
            return
        self.group_of[i] = len(groups)
        groups.append(_Group(key[0], key[1], [i], [RowStage(k, StageRole.FULL)], {id(k.root): StageRole.FULL},
                             {id(k.root): self._cost(k)}, elementwise=True))

    def _join(self, g: _Group, gi: int, i: int, k: Kernel) -> None:
        """Add kernel ``i`` (``k``) to group ``g`` (number ``gi``); raise Refused (``g`` unchanged)
        saying why it cannot join."""
        role, start = _role(k, g)
        limit = self.options.max_row_elements
        if hint(g.length) > limit:
            raise Refused(f"a row of {g.length} elements exceeds MAX_ROW_ELEMENTS {limit}: it would not stay "
                          f"in cache between the stages")
        reads = _reads(k, start, g)
        if not g.contiguous and (role is not StageRole.REDUCE or reads):
            raise Refused("the rows are not contiguous (the innermost dim is kept): only independent sibling "
                          "reductions share such a kernel, which accumulates them side by side in their outputs")
        if role is StageRole.REDUCE and not reads and not self._shares_input(g, k):
            raise Refused("a sibling reduction that reads none of the group's buffers: merging would save "
                          "no pass over memory")
        full = [v for v in reads if g.roles[id(v)] is StageRole.FULL]
        recompute = sum(g.cost[id(v)] for v in full)   # ops per element to evaluate them in k's stage
        budget = self.options.row_recompute_budget
        if recompute > budget:
            raise Refused(f"its stage would recompute {recompute} ops per element of earlier stages "
                          f"(ROW_RECOMPUTE_BUDGET {budget})")
        through = self._depends_through(gi, k)
        if through is not None:
            raise Refused(f"it depends on the row kernel through the kernel of another value ({through.type})")
        g.members.append(i)
        g.stages.append(RowStage(k, role))
        g.roles[id(k.root)] = role
        g.cost[id(k.root)] = self._cost(k) + recompute

    def _cost(self, k: Kernel) -> int:
        """Ops per element to evaluate kernel ``k``'s own nodes."""
        return sum(own_cost(n, self.options.recompute_budget) for n in k.nodes)

    def _shares_input(self, g: _Group, k: Kernel) -> bool:
        """Whether ``k`` reads a buffer some member of ``g`` reads (what a sibling saves is a pass)."""
        mine = {id(v) for j in g.members for v in self.kernels[j].inputs}
        return any(id(v) in mine for v in k.inputs)

    def _depends_through(self, gi: int, k: Kernel) -> Value | None:
        """A value ``k`` reads, computed outside group ``gi``, that depends on the group: then the
        group cannot run as one kernel before ``k`` (None when there is none)."""
        kernels, producer, group_of = self.kernels, self.producer, self.group_of
        members_of: dict[int, list[int]] = {}   # group -> the kernels in it, gathered on first need

        def producers(j):   # the kernels whose results kernel j, or the group it is in, reads
            if group_of[j] is None:
                members = [j]
            else:
                if not members_of:
                    for m, gg in enumerate(group_of):
                        if gg is not None:
                            members_of.setdefault(gg, []).append(m)
                members = members_of[group_of[j]]
            return [producer[id(v)] for m in members for v in kernels[m].inputs if id(v) in producer]

        for v in k.inputs:
            p = producer.get(id(v))
            if p is None or group_of[p] == gi:
                continue
            stack, seen = [p], {p}
            while stack:
                j = stack.pop()
                if group_of[j] == gi:
                    return v
                for q in producers(j):
                    if q not in seen:
                        seen.add(q)
                        stack.append(q)
        return None

    def _attach_dot(self, g: _Group, gi: int) -> None:
        """Make the GEMM whose result ``g``'s stages read as whole rows the group's ``producer``: the
        first ``dot`` / ``dot+epilogue`` kernel read by a member that ``_dot_rows`` accepts, or read
        through an elementwise kernel that ``_bridge`` takes in as the group's first stage (a
        training step's ReLU, stored for the backward pass). Each candidate turned down is listed
        in ``refused`` with its reason."""
        kernels = self.kernels
        seen = set()
        for j in list(g.members):
            for v in kernels[j].inputs:
                p = self.producer.get(id(v))
                if p is None or p in seen or self.group_of[p] is not None or _empty(kernels[p]):
                    continue
                seen.add(p)
                kind = kernels[p].kind
                try:
                    if kind in _DOTS:
                        self._dot_rows(g, gi, p)
                    elif kind is KernelKind.ELEMENTWISE and self._dots_read(kernels[p]):
                        self._bridge(g, gi, p)
                    else:
                        continue
                except Refused as why:
                    self.refused.append(Refusal(kernels[p].root, kernels[j].root, f"row-fused GEMM: {why.reason}",
                                                RefusalKind.ROW_GEMM))
                    continue
                return

    def _dots_read(self, k: Kernel) -> list[int]:
        """The ungrouped dot kernels whose results kernel ``k`` reads."""
        found = [self.producer.get(id(v)) for v in k.inputs]
        return list(dict.fromkeys(q for q in found if q is not None and self.group_of[q] is None
                                  and self.kernels[q].kind in _DOTS))

    def _bridge(self, g: _Group, gi: int, e: int) -> None:
        """Take elementwise kernel ``e``, which reads a GEMM's result and which a member of ``g``
        reads, in as ``g``'s first stage (a whole-row value, recomputed where the later stages read
        it, stored when read outside) and join its GEMM as the producer (``_dot_rows``); raise
        Refused saying why not (and leave ``g`` as it was)."""
        ek = self.kernels[e]
        try:
            role = _role(ek, g)[0]
        except Refused:
            role = None
        if role is not StageRole.FULL:
            raise Refused(f"the kernel of {ek.root.type} between the GEMM and the rows is not over the rows' shape")
        if any(id(v) in self.producer and self.group_of[self.producer[id(v)]] == gi for v in ek.inputs):
            raise Refused(f"the kernel of {ek.root.type} between the GEMM and the rows reads the row kernel's results")
        cost = dict(g.cost)
        g.members.insert(0, e)
        g.stages.insert(0, RowStage(ek, StageRole.FULL))
        g.roles[id(ek.root)] = StageRole.FULL
        self.group_of[e] = gi
        try:
            self._restage(g)
            through = self._depends_through(gi, ek)
            if through is not None:
                raise Refused(f"{ek.root.type} reads {through.type}, which depends on the row kernel")
            last = None
            for q in self._dots_read(ek):   # not empty: the caller checked
                try:
                    self._dot_rows(g, gi, q)
                    return
                except Refused as why:
                    last = why
            raise last
        except Refused:
            g.members.pop(0)
            g.stages.pop(0)
            del g.roles[id(ek.root)]
            self.group_of[e] = None
            g.cost = cost
            raise

    def _restage(self, g: _Group) -> None:
        """Recount, stage by stage, the ops each stage recomputes of the earlier whole-row stages it
        reads (as ``_join`` counts them) after a stage was put in front; raise Refused when a stage
        exceeds ``row_recompute_budget``."""
        cost: dict[int, int] = {}
        budget = self.options.row_recompute_budget
        for st in g.stages:
            k = st.kernel
            reads = _stage_reads(g, k)
            recompute = sum(cost[id(v)] for v in reads if g.roles[id(v)] is StageRole.FULL)
            if recompute > budget:
                raise Refused(f"the stage of {k.root.type} would recompute {recompute} ops per element of "
                              f"earlier stages (ROW_RECOMPUTE_BUDGET {budget})")
            cost[id(k.root)] = self._cost(k) + recompute
        g.cost = cost

    def _dot_rows(self, g: _Group, gi: int, p: int) -> None:
        """Join dot kernel ``p`` to group ``g`` (number ``gi``) as its producer, or raise Refused
        saying why not. The stages must read the GEMM's result ``C`` ([batch, M, N], row-major) only
        at their own position, each row of ``g`` must be one row of ``C`` (the reduced dims are its
        trailing N), the GEMM must not depend on the group nor the group on it through another
        kernel, and the epilogue's and the stages' buffers together must fit the GEMM epilogue's
        arguments (``target.max_epilogue_inputs``)."""
        dk = self.kernels[p]
        dot = dk.dot if dk.dot is not None else dk.root.node
        c = dk.root
        if dot.out.type.rank != 3:
            raise Refused(f"the dot {dot.out.type} is not a batched GEMM [batch, M, N] (canonicalize makes it one)")
        batch, m, n = dot.out.shape
        if not takes_epilogue(dot.out, self.target):
            raise Refused(f"{dot.out.dtype.name} GEMMs take no epilogue")
        if dk.rebatch > 1 or dk.c_strides not in (None, (m * n, n, 1)):
            raise Refused("the GEMM stores its result permuted, not as rows")
        sig = g.signature
        reduced = [e for e, r in sig if r]
        if not g.contiguous or any(r for (_, r) in sig[:len(sig) - len(reduced)]) or math.prod(reduced) != n \
                or [e for e in c.shape if e > 1] != [e for e in g.shape if e > 1]:
            raise Refused(f"the rows {list(g.shape)} over axes {list(g.axes)} are not the {batch * m} rows of "
                          f"{n} of the GEMM's result {c.type}")
        g.roles[id(c)] = StageRole.FULL   # read like an earlier whole-row stage: at the reader's own position
        try:
            for st in g.stages:
                _stage_reads(g, st.kernel)
        finally:
            del g.roles[id(c)]
        mine = {id(st.kernel.root) for st in g.stages} | {id(c)}
        extra = {id(v) for st in g.stages for v in st.kernel.inputs if id(v) not in mine}
        buffers = len(extra | _epilogue_reads(dk)) + sum(self._stored(g)) + \
            checks_status([n for st in g.stages for n in st.kernel.nodes] + list(dk.nodes))
        limit = self.target.max_epilogue_inputs
        if buffers > limit:
            raise Refused(f"the epilogue and the stages would take {buffers} buffers besides the result, "
                          f"more than the GEMM epilogue's {limit}")
        through = self._depends_through(gi, dk)
        if through is not None:
            raise Refused(f"the GEMM reads {through.type}, which depends on the row kernel")
        self.group_of[p] = gi
        for j in g.members:
            through = self._depends_through(gi, self.kernels[j])
            if through is not None:
                self.group_of[p] = None
                raise Refused(f"the row kernel reads {through.type}, which depends on the GEMM through another kernel")
        g.producer = p

    def _stored(self, g: _Group) -> list[bool]:
        """Per stage of ``g``: whether its result is read outside the group or is a graph output."""
        mine = set(g.members) | ({g.producer} if g.producer is not None else set())
        read_outside = {id(v) for j, k in enumerate(self.kernels) if j not in mine for v in k.inputs}
        return [id(st.kernel.root) in read_outside or id(st.kernel.root) in self.outputs for st in g.stages]

    def _merge(self, g: _Group, order: dict[int, int]) -> tuple[Kernel | None, set[int]]:
        """The one kernel of group ``g`` and the ids of its stage results kept in registers (None
        and nothing for a group of one without a producer: its kernel stays as it was)."""
        if len(g.members) < 2 and g.producer is None:
            return None, set()
        stages = tuple(replace(st, stored=stored) for st, stored in zip(g.stages, self._stored(g)))
        dk = self.kernels[g.producer] if g.producer is not None else None
        units = ([dk] if dk is not None else []) + [st.kernel for st in stages]
        nodes = {id(n): n for u in units for n in u.nodes}
        inside = {id(st.kernel.root) for st in stages} | ({id(dk.root)} if dk is not None else set())
        inputs = {id(v): v for u in units for v in u.inputs if id(v) not in inside}
        stored = [st.kernel.root for st in stages if st.stored]
        root = stored[-1] if stored else dk.root
        rows = math.prod(n for d, n in enumerate(g.shape) if d not in g.axes)
        reason = f"{len(stages)} stages over {rows} rows of {g.length} elements"
        if dk is not None:
            reason = f"a GEMM and {reason} of its result, the stages on each block of rows as it is finished"
        kernel = Kernel(root, tuple(sorted(nodes.values(), key=lambda n: order[id(n)])), tuple(inputs.values()),
                        reason, rows=Rows(g.shape, g.axes, stages, dk))
        return kernel, {id(st.kernel.root) for st in stages if not st.stored}

    def _toposort(self, merged: list[Kernel | None]) -> list[Kernel]:
        """The final kernels (merged groups and untouched kernels) in a topological order that keeps
        the original one where it can (by each unit's last member)."""
        kernels, group_of = self.kernels, self.group_of
        unit = [group_of[i] if group_of[i] is not None and merged[group_of[i]] is not None else ("k", i)
                for i in range(len(kernels))]
        last: dict = {}
        for i, u in enumerate(unit):
            last[u] = i
        deps: dict = {u: set() for u in last}
        for i, k in enumerate(kernels):
            for v in k.inputs:
                p = self.producer.get(id(v))
                if p is not None and unit[p] != unit[i]:
                    deps[unit[i]].add(unit[p])
        users: dict = {u: [] for u in last}
        for u, ds in deps.items():
            for d in ds:
                users[d].append(u)
        waiting = {u: len(ds) for u, ds in deps.items()}
        ready = [(last[u], u) for u, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        out = []
        while ready:
            _, u = heapq.heappop(ready)
            out.append(merged[u] if not isinstance(u, tuple) else kernels[u[1]])
            for w in users[u]:
                waiting[w] -= 1
                if waiting[w] == 0:
                    heapq.heappush(ready, (last[w], w))
        assert len(out) == len(last), "row fusion left a dependence cycle"
        return out


def _empty(k: Kernel) -> bool:
    """Whether kernel ``k`` reads or computes a value with no elements. Such a kernel stays on its
    own: the rows' analysis drops dims of extent <= 1 as broadcast, so a ``[0, 3]`` value would pass
    for the rows of a ``[3]`` one, and a stage of the merged kernel would store a whole row into
    its empty buffer (memory the arena gives to other values). On its own it is cheap: it has no
    elements to read, or none to write."""
    return any(v.type.numel == 0 for v in k.inputs) or any(n.out.type.numel == 0 for n in k.nodes)


_ELEMENTWISE_KINDS = (Kind.UNARY, Kind.BINARY, Kind.TERNARY, Kind.CAST)

ELEMENTWISE_ROW = 256
"""Elements an elementwise group's row reaches at least where the shape allows: the trailing dims
taken as a row until their product does (a stage loop long enough to vectorize; the other dims
are the rows, split over threads)."""


def _elementwise_rows(shape, limit: int) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(shape, axes)`` of the rows of an elementwise group over ``shape``: its trailing dims,
    together at least ``ELEMENTWISE_ROW`` elements (or all of them); None when that row exceeds
    ``limit`` elements, is symbolic, or the shape has no element."""
    if not all(isinstance(n, int) for n in shape) or math.prod(shape) < 2:
        return None
    axes, length = [], 1
    for d in range(len(shape) - 1, -1, -1):
        if length >= ELEMENTWISE_ROW:
            break
        axes.insert(0, d)
        length *= shape[d]
    return (tuple(shape), tuple(axes)) if length <= limit else None


def _row_key(k: Kernel) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(shape, axes)`` of a reduce kernel's rows, or None."""
    if k.kind is not KernelKind.REDUCE:
        return None
    node = k.root.node
    return tuple(node.inputs[0].shape), tuple(sorted(node.attrs["axes"]))


def _signature(shape, axes) -> tuple:
    """The rows of reducing ``shape`` over ``axes`` up to size-1 dims: ``(extent, reduced)`` of each
    dim of extent > 1 (``[16, 1, 40]`` over axis 2 has the rows of ``[16, 40]`` over axis 1)."""
    return tuple((n, d in axes) for d, n in enumerate(shape) if n > 1)


def _onto(shape, dims: list) -> tuple:
    """An index into ``shape``: its dims of extent > 1 take ``dims`` in order, the others 0."""
    it = iter(dims)
    return tuple(next(it) if n > 1 else _ZERO for n in shape)


def _kept(shape, axes) -> list[int]:
    """The row dims: the dims of ``shape`` not reduced, of extent > 1."""
    return [d for d, n in enumerate(shape) if d not in axes and n > 1]


def _role(k: Kernel, g: _Group) -> tuple[StageRole, tuple]:
    """The role ``k`` would take among ``g``'s stages and its starting (value, index); raises
    Refused saying why it has none."""
    shape, axes = g.shape, g.axes
    full = [d for d, n in enumerate(shape) if n > 1]
    if k.kind is KernelKind.REDUCE:
        x = k.root.node.inputs[0]
        if _signature(*_row_key(k)) != g.signature:
            raise Refused(f"it reduces {x.type} over axes {_row_key(k)[1]}, not the rows "
                          f"{list(shape)} over axes {axes}")
        return StageRole.REDUCE, (x, _onto(x.shape, full))
    root = k.root
    if [n for n in root.shape if n > 1] == [shape[d] for d in full]:
        return StageRole.FULL, (root, _onto(root.shape, full))
    kept = _kept(shape, axes)
    if [n for n in root.shape if n > 1] == [shape[d] for d in kept]:
        return StageRole.ROW, (root, _onto(root.shape, kept))
    raise Refused(f"its result {root.type} is neither the rows' shape {list(shape)} nor one value per row")


def _stage_reads(g: _Group, k: Kernel) -> list[Value]:
    """``_reads`` for a kernel that is already a stage of ``g``: the walk starts at its own result,
    which is not a read of itself."""
    own = g.roles.pop(id(k.root))
    try:
        return _reads(k, _role(k, g)[1], g)
    finally:
        g.roles[id(k.root)] = own


def _reads(k: Kernel, start: tuple, g: _Group) -> list[Value]:
    """The members of ``g`` that ``k`` reads; raises Refused when it reads one away from its own
    row (a per-row value) or position (a whole-row value)."""
    inside = {id(n) for n in k.nodes}
    kept = _kept(g.shape, g.axes)
    full = [d for d, n in enumerate(g.shape) if n > 1]
    seen, found = set(), {}
    stack = [start]
    while stack:
        v, idx = stack.pop()
        if (id(v), idx) in seen:
            continue
        seen.add((id(v), idx))
        role = g.roles.get(id(v))
        if role is not None:
            if [e for e, n in zip(idx, v.shape) if n > 1] != (full if role is StageRole.FULL else kept):
                where = "position" if role is StageRole.FULL else "row"
                raise Refused(f"it reads {v.type} (a {role} stage) away from its own {where}")
            found[id(v)] = v
            continue
        if id(v.node) not in inside or v.op in (Op.INPUT, Op.CONST):
            continue
        stack.extend(_operand_indices(v.node, idx))
    return list(found.values())


def _operand_indices(n, idx: tuple) -> list[tuple[Value, tuple]]:
    """Each operand of node ``n`` with the index it is read at when ``n`` is evaluated at ``idx``."""
    op = n.op
    if op.kind in (Kind.UNARY, Kind.BINARY, Kind.TERNARY, Kind.CAST):
        return [(u, idx) for u in n.inputs]
    if op is Op.EXPAND:
        x = n.inputs[0]
        return [(x, tuple(_ZERO if d == 1 else e for d, e in zip(x.shape, idx)))]
    if op is Op.PERMUTE:
        src = [None] * len(idx)
        for j, p in enumerate(n.attrs["perm"]):
            src[p] = idx[j]
        return [(n.inputs[0], tuple(src))]
    if op is Op.RESHAPE:
        x = n.inputs[0]
        outer = [e for e, d in zip(idx, n.out.shape) if d > 1]
        if [d for d in x.shape if d > 1] == [d for d in n.out.shape if d > 1]:
            it = iter(outer)
            return [(x, tuple(next(it) if d > 1 else _ZERO for d in x.shape))]
        return [(x, (_UNKNOWN,) * len(x.shape))]
    return [(u, (_UNKNOWN,) * len(u.shape)) for u in n.inputs]


def _epilogue_reads(dk: Kernel) -> set[int]:
    """Ids of the buffers the epilogue of dot kernel ``dk`` reads (not only the dot's operands)."""
    if dk.dot is None:
        return set()
    inputs = {id(v) for v in dk.inputs}
    chain, stack = set(), list(dk.dot.inputs)   # the movement ops the operands are views through
    inside = {id(nd) for nd in dk.nodes}
    while stack:
        u = stack.pop()
        if id(u.node) in inside and u.op.kind is Kind.MOVEMENT and id(u.node) not in chain:
            chain.add(id(u.node))
            stack.extend(u.node.inputs)
    return {id(u) for nd in dk.nodes if nd is not dk.dot and id(nd) not in chain
            for u in nd.inputs if id(u) in inputs}
