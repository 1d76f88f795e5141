"""Multi-output row kernels: merge reductions over the same rows and their per-row readers.

``fuse_rows`` runs after the single-output partition (``schedule.partition``; its module docstring states
the rules and the cost bounds ``MAX_ROW_ELEMENTS`` and ``ROW_RECOMPUTE_BUDGET``). It walks the
kernels in order; a reduction whose innermost axis is reduced opens a *group* over its rows (the
reduced input shape and axes); a later kernel joins a group when it is

* a reduction over the same rows (a *stage* of role "reduce"),
* elementwise over the rows' whole shape ("full") or over one value per row ("row"),

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

With ``fusion.DOT_ROWS``, each group then looks for its *producer* (``_attach_dot``): a GEMM whose
result's rows are the group's rows and which the stages read only at their own position joins the
group (``_dot_rows``), directly or through one elementwise kernel between them (``_bridge``: a
training step's ReLU), which becomes the group's first stage.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from ..ir.graph import Value
from ..ir.ops import Kind, Op
from . import partition as F

_UNKNOWN = None   # an index entry that is no single dim of the rows' shape
_ZERO = -1        # an index entry that is the constant 0 (a broadcast dim)


@dataclass
class _Group:
    shape: tuple[int, ...]
    axes: tuple[int, ...]
    members: list[int]                                   # kernel indices, in order
    stages: list[F.RowStage]
    roles: dict[int, str] = field(default_factory=dict)  # id(member root) -> role
    cost: dict[int, int] = field(default_factory=dict)   # id(full member root) -> ops per evaluation
    contiguous: bool = True   # the innermost dim (of extent > 1) is reduced: a row is contiguous
    producer: int | None = None   # a row-fused GEMM: the dot kernel whose result's rows these are

    @property
    def length(self) -> int:
        return math.prod(self.shape[a] for a in self.axes)

    @property
    def signature(self) -> tuple:
        return _signature(self.shape, self.axes)


def fuse_rows(kernels: list[F.Kernel], mat: dict[int, str], refused: list[F.Refusal],
              outputs: set[int], order: dict[int, int]) -> list[F.Kernel]:
    """``kernels`` with every group of two or more merged into one ``Kernel`` with ``rows`` set, in
    a topological order; register-only stage results leave ``mat``. ``outputs``: ids of the graph's
    output buffers; ``order``: id(node) -> its position in the graph."""
    producer = {id(k.root): i for i, k in enumerate(kernels)}
    group_of: list[int | None] = [None] * len(kernels)
    groups: list[_Group] = []
    for i, k in enumerate(kernels):
        if k.kind not in ("reduce", "elementwise") or _empty(k):
            continue
        read = [group_of[producer[id(v)]] for v in k.inputs
                if id(v) in producer and group_of[producer[id(v)]] is not None]
        chains = list(dict.fromkeys(reversed(read)))        # the groups it reads, latest first
        key = _row_key(k)
        siblings = [g for g in range(len(groups) - 1, -1, -1)
                    if g not in chains and key is not None and groups[g].signature == _signature(*key)]
        whys = []
        for g in chains + siblings:
            why = _join(groups[g], g, i, k, kernels, producer, group_of)
            if why is None:
                group_of[i] = g
                break
            if g in chains:
                whys.append((groups[g], why))
        if group_of[i] is None:
            for g, why in whys[:1]:
                refused.append(F.Refusal(k.root, kernels[g.members[-1]].root, f"row kernel: {why}"))
            sig = _signature(*key) if key is not None else ()
            if any(reduced and n > 1 for n, reduced in sig):
                group_of[i] = len(groups)
                groups.append(_Group(key[0], key[1], [i], [F.RowStage(k, "reduce")], {id(k.root): "reduce"},
                                     contiguous=sig[-1][1]))
    if F.DOT_ROWS:
        for gi, g in enumerate(groups):
            _attach_dot(g, gi, kernels, producer, group_of, refused, outputs)
    merged = [_merge(g, kernels, mat, outputs, order) for g in groups]
    return _toposort(kernels, group_of, groups, merged)


def _empty(k: F.Kernel) -> bool:
    """Whether kernel ``k`` reads or computes a value with no elements. Such a kernel stays on its
    own: the rows' analysis drops dims of extent <= 1 as broadcast, so a ``[0, 3]`` value would pass
    for the rows of a ``[3]`` one, and a stage of the merged kernel would store a whole row into
    its empty buffer (memory the arena gives to other values). On its own it is cheap: it has no
    elements to read, or none to write."""
    return any(v.type.numel == 0 for v in k.inputs) or any(n.out.type.numel == 0 for n in k.nodes)


def _row_key(k: F.Kernel):
    """``(shape, axes)`` of a reduce kernel's rows, or None."""
    if k.kind != "reduce":
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


def _role(k: F.Kernel, g: _Group) -> tuple[str | None, str]:
    """The role ``k`` would take among ``g``'s stages and its starting (value, index), or why not."""
    shape, axes = g.shape, g.axes
    full = [d for d, n in enumerate(shape) if n > 1]
    if k.kind == "reduce":
        x = k.root.node.inputs[0]
        if _signature(*_row_key(k)) != g.signature:
            return None, (f"it reduces {x.type} over axes {_row_key(k)[1]}, not the rows "
                          f"{list(shape)} over axes {axes}")
        return "reduce", (x, _onto(x.shape, full))
    root = k.root
    if [n for n in root.shape if n > 1] == [shape[d] for d in full]:
        return "full", (root, _onto(root.shape, full))
    kept = _kept(shape, axes)
    if [n for n in root.shape if n > 1] == [shape[d] for d in kept]:
        return "row", (root, _onto(root.shape, kept))
    return None, f"its result {root.type} is neither the rows' shape {list(shape)} nor one value per row"


def _join(g: _Group, gi: int, i: int, k: F.Kernel, kernels, producer, group_of) -> str | None:
    """Add kernel ``i`` (``k``) to group ``g`` (number ``gi``) and return None, or return why not."""
    role, start = _role(k, g)
    if role is None:
        return start
    if g.length > F.MAX_ROW_ELEMENTS:
        return (f"a row of {g.length} elements exceeds MAX_ROW_ELEMENTS {F.MAX_ROW_ELEMENTS}: "
                f"it would not stay in cache between the stages")
    reads = _reads(k, start, g)
    if isinstance(reads, str):
        return reads
    if not g.contiguous and (role != "reduce" or reads):
        return ("the rows are not contiguous (the innermost dim is kept): only independent sibling "
                "reductions share such a kernel, which accumulates them side by side in their outputs")
    if role == "reduce" and not reads and not _shares_input(g, k, kernels):
        return "a sibling reduction that reads none of the group's buffers: merging would save no pass over memory"
    full = [v for v in reads if g.roles[id(v)] == "full"]
    recompute = sum(g.cost[id(v)] for v in full)   # ops per element to evaluate them in k's stage
    if recompute > F.ROW_RECOMPUTE_BUDGET:
        return (f"its stage would recompute {recompute} ops per element of earlier stages "
                f"(ROW_RECOMPUTE_BUDGET {F.ROW_RECOMPUTE_BUDGET})")
    through = _depends_through(gi, k, kernels, producer, group_of)
    if through is not None:
        return f"it depends on the row kernel through the kernel of another value ({through.type})"
    g.members.append(i)
    g.stages.append(F.RowStage(k, role))
    g.roles[id(k.root)] = role
    g.cost[id(k.root)] = sum(F._own_cost(n) for n in k.nodes) + recompute
    return None


def _stage_reads(g: _Group, k: F.Kernel) -> list[Value] | str:
    """``_reads`` for a kernel that is already a stage of ``g``: the walk starts at its own result,
    which is not a read of itself."""
    own = g.roles.pop(id(k.root))
    try:
        return _reads(k, _role(k, g)[1], g)
    finally:
        g.roles[id(k.root)] = own


def _shares_input(g: _Group, k: F.Kernel, kernels) -> bool:
    """Whether ``k`` reads a buffer some member of ``g`` reads (what a sibling saves is a pass)."""
    mine = {id(v) for j in g.members for v in kernels[j].inputs}
    return any(id(v) in mine for v in k.inputs)


def _reads(k: F.Kernel, start: tuple, g: _Group) -> list[Value] | str:
    """The members of ``g`` that ``k`` reads (each at the right row or position), or why not."""
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
            ok = [e for e, n in zip(idx, v.shape) if n > 1] == (full if role == "full" else kept)
            if not ok:
                where = "position" if role == "full" else "row"
                return f"it reads {v.type} (a {role} stage) away from its own {where}"
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


def _depends_through(gi: int, k: F.Kernel, kernels, producer, group_of) -> Value | None:
    """A value ``k`` reads, computed outside group ``gi``, that depends on the group: then the
    group cannot run as one kernel before ``k`` (None when there is none)."""
    def producers(j):   # the kernels whose results kernel j, or the group it is in, reads
        members = [j] if group_of[j] is None else [m for m, gg in enumerate(group_of) if gg == group_of[j]]
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


def _attach_dot(g: _Group, gi: int, kernels, producer, group_of, refused, outputs: set[int]) -> None:
    """Make the GEMM whose result ``g``'s stages read as whole rows the group's ``producer``: the
    first ``dot`` / ``dot+epilogue`` kernel read by a member that ``_dot_rows`` accepts, or read
    through an elementwise kernel that ``_bridge`` takes in as the group's first stage (a training
    step's ReLU, stored for the backward pass). Each candidate turned down is listed in
    ``refused`` with its reason."""
    seen = set()
    for j in list(g.members):
        for v in kernels[j].inputs:
            p = producer.get(id(v))
            if p is None or p in seen or group_of[p] is not None or _empty(kernels[p]):
                continue
            seen.add(p)
            kind = kernels[p].kind
            if kind in ("dot", "dot+epilogue"):
                why = _dot_rows(g, gi, p, kernels, producer, group_of, outputs)
            elif kind == "elementwise" and _dots_read(kernels[p], kernels, producer, group_of):
                why = _bridge(g, gi, p, kernels, producer, group_of, outputs)
            else:
                continue
            if why is None:
                return
            refused.append(F.Refusal(kernels[p].root, kernels[j].root, f"row-fused GEMM: {why}"))


def _dots_read(k: F.Kernel, kernels, producer, group_of) -> list[int]:
    """The ungrouped dot kernels whose results kernel ``k`` reads."""
    found = [producer.get(id(v)) for v in k.inputs]
    return list(dict.fromkeys(q for q in found if q is not None and group_of[q] is None
                              and kernels[q].kind in ("dot", "dot+epilogue")))


def _bridge(g: _Group, gi: int, e: int, kernels, producer, group_of, outputs: set[int]) -> str | None:
    """Take elementwise kernel ``e``, which reads a GEMM's result and which a member of ``g``
    reads, in as ``g``'s first stage (a whole-row value, recomputed where the later stages read
    it, stored when read outside) and join its GEMM as the producer (``_dot_rows``); return None,
    or why not (and leave ``g`` as it was)."""
    ek = kernels[e]
    role, _ = _role(ek, g)
    if role != "full":
        return f"the kernel of {ek.root.type} between the GEMM and the rows is not over the rows' shape"
    if any(id(v) in producer and group_of[producer[id(v)]] == gi for v in ek.inputs):
        return f"the kernel of {ek.root.type} between the GEMM and the rows reads the row kernel's results"
    cost = dict(g.cost)
    g.members.insert(0, e)
    g.stages.insert(0, F.RowStage(ek, "full"))
    g.roles[id(ek.root)] = "full"
    group_of[e] = gi
    why = _restage(g)
    if why is None:
        through = _depends_through(gi, ek, kernels, producer, group_of)
        why = None if through is None else f"{ek.root.type} reads {through.type}, which depends on the row kernel"
    if why is None:
        for q in _dots_read(ek, kernels, producer, group_of):
            why = _dot_rows(g, gi, q, kernels, producer, group_of, outputs)
            if why is None:
                return None
    g.members.pop(0)
    g.stages.pop(0)
    del g.roles[id(ek.root)]
    group_of[e] = None
    g.cost = cost
    return why


def _restage(g: _Group) -> str | None:
    """Recount, stage by stage, the ops each stage recomputes of the earlier whole-row stages it
    reads (as ``_join`` counts them) after a stage was put in front; None when every stage is
    within ``ROW_RECOMPUTE_BUDGET``, else why not."""
    cost: dict[int, int] = {}
    for st in g.stages:
        k = st.kernel
        reads = _stage_reads(g, k)
        if isinstance(reads, str):
            return reads
        recompute = sum(cost[id(v)] for v in reads if g.roles[id(v)] == "full")
        if recompute > F.ROW_RECOMPUTE_BUDGET:
            return (f"the stage of {k.root.type} would recompute {recompute} ops per element of earlier "
                    f"stages (ROW_RECOMPUTE_BUDGET {F.ROW_RECOMPUTE_BUDGET})")
        cost[id(k.root)] = sum(F._own_cost(n) for n in k.nodes) + recompute
    g.cost = cost
    return None


def _dot_rows(g: _Group, gi: int, p: int, kernels, producer, group_of, outputs: set[int]) -> str | None:
    """Join dot kernel ``p`` to group ``g`` (number ``gi``) as its producer and return None, or
    return why not. The stages must read the GEMM's result ``C`` ([batch, M, N], row-major) only
    at their own position, each row of ``g`` must be one row of ``C`` (the reduced dims are its
    trailing N), the GEMM must not depend on the group nor the group on it through another kernel,
    and the epilogue's and the stages' buffers together must fit the GEMM epilogue's arguments."""
    dk = kernels[p]
    dot = dk.dot if dk.dot is not None else dk.root.node
    c = dk.root
    if dot.out.type.rank != 3:
        return f"the dot {dot.out.type} is not a batched GEMM [batch, M, N] (canonicalize makes it one)"
    batch, m, n = dot.out.shape
    if dot.out.dtype.name not in F._EPILOGUE_DTYPES:
        return f"{dot.out.dtype.name} GEMMs take no epilogue"
    if dk.rebatch > 1 or dk.c_strides not in (None, (m * n, n, 1)):
        return "the GEMM stores its result permuted, not as rows"
    sig = g.signature
    reduced = [e for e, r in sig if r]
    if not g.contiguous or any(r for (_, r) in sig[:len(sig) - len(reduced)]) or math.prod(reduced) != n \
            or [e for e in c.shape if e > 1] != [e for e in g.shape if e > 1]:
        return (f"the rows {list(g.shape)} over axes {list(g.axes)} are not the {batch * m} rows of "
                f"{n} of the GEMM's result {c.type}")
    g.roles[id(c)] = "full"      # read like an earlier whole-row stage: at the reader's own position
    try:
        for st in g.stages:
            reads = _stage_reads(g, st.kernel)
            if isinstance(reads, str):
                return reads
    finally:
        del g.roles[id(c)]
    mine = {id(st.kernel.root) for st in g.stages} | {id(c)}
    extra = {id(v) for st in g.stages for v in st.kernel.inputs if id(v) not in mine}
    buffers = len(extra | _epilogue_reads(dk)) + sum(_stored(g, kernels, outputs)) + \
        F.checks_status([n for st in g.stages for n in st.kernel.nodes] + dk.nodes)
    if buffers > F.MAX_EPILOGUE_INPUTS:
        return (f"the epilogue and the stages would take {buffers} buffers besides the result, "
                f"more than the GEMM epilogue's {F.MAX_EPILOGUE_INPUTS}")
    through = _depends_through(gi, dk, kernels, producer, group_of)
    if through is not None:
        return f"the GEMM reads {through.type}, which depends on the row kernel"
    group_of[p] = gi
    for j in g.members:
        through = _depends_through(gi, kernels[j], kernels, producer, group_of)
        if through is not None:
            group_of[p] = None
            return f"the row kernel reads {through.type}, which depends on the GEMM through another kernel"
    g.producer = p
    return None


def _epilogue_reads(dk: F.Kernel) -> set[int]:
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


def _stored(g: _Group, kernels, outputs: set[int]) -> list[bool]:
    """Per stage of ``g``: whether its result is read outside the group or is a graph output."""
    mine = set(g.members) | ({g.producer} if g.producer is not None else set())
    read_outside = {id(v) for j, k in enumerate(kernels) if j not in mine for v in k.inputs}
    return [id(st.kernel.root) in read_outside or id(st.kernel.root) in outputs for st in g.stages]


def _merge(g: _Group, kernels, mat, outputs: set[int], order) -> F.Kernel | None:
    """The one kernel of group ``g`` (None for a group of one without a producer: its kernel
    stays as it was)."""
    if len(g.members) < 2 and g.producer is None:
        return None
    roots = {id(st.kernel.root) for st in g.stages}
    for st, stored in zip(g.stages, _stored(g, kernels, outputs)):
        st.stored = stored
        if not st.stored:
            del mat[id(st.kernel.root)]
    dk = kernels[g.producer] if g.producer is not None else None
    units = ([dk] if dk is not None else []) + [st.kernel for st in g.stages]
    nodes = {id(n): n for u in units for n in u.nodes}
    inside = roots | ({id(dk.root)} if dk is not None else set())
    inputs = {id(v): v for u in units for v in u.inputs if id(v) not in inside}
    stored = [st.kernel.root for st in g.stages if st.stored]
    root = stored[-1] if stored else dk.root
    rows = math.prod(n for d, n in enumerate(g.shape) if d not in g.axes)
    reason = f"{len(g.stages)} stages over {rows} rows of {g.length} elements"
    if dk is not None:
        reason = f"a GEMM and {reason} of its result, the stages on each block of rows as it is finished"
    return F.Kernel(root, sorted(nodes.values(), key=lambda n: order[id(n)]), list(inputs.values()),
                    reason, rows=F.Rows(g.shape, g.axes, g.stages, dk))


def _toposort(kernels, group_of, groups, merged) -> list[F.Kernel]:
    """The final kernels (merged groups and untouched kernels) in a topological order that keeps
    the original one where it can (by each unit's last member)."""
    unit = [group_of[i] if group_of[i] is not None and merged[group_of[i]] is not None else ("k", i)
            for i in range(len(kernels))]
    producer = {id(k.root): i for i, k in enumerate(kernels)}
    last: dict = {}
    for i, u in enumerate(unit):
        last[u] = i
    deps: dict = {u: set() for u in last}
    for i, k in enumerate(kernels):
        for v in k.inputs:
            p = producer.get(id(v))
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
