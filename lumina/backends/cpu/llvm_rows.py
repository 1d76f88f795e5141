"""Render a ``RowKernel`` to an LLVM function for the CPU (``RowBuilder``).

A ``RowKernel`` has a ``LoopKernel``'s signature: its domain loops (the outermost over
``[start, end)``) hold the stages one after another, each its own loop nest; a reduce stage
accumulates in a register as a ``LoopKernel``'s reduction does, and its finished value (rounded as
its store would be) is what later stages read as ``Acc``. Before each stage's loops, the parts of
its expressions that do not depend on them (a row's ``rstd`` from two accumulators, the row's base
index) are computed once. A costly subexpression a later stage shares with an earlier one over
loops of the same extents (a softmax's ``exp(x - max)``, summed by one stage and divided by the
next) is kept for the row in a stack buffer by the earlier stage and loaded by the later one, not
recomputed: up to ``ROW_SCRATCH_BYTES`` per kernel, a row that stays in the L1/L2 cache.
Independent stored reductions that read memory along the innermost domain loop run with their
reduce loops outside it instead (``emit_outer_siblings``), as a ``LoopKernel``'s ``reduce_outer``.
"""
from __future__ import annotations

import math

from llvmlite import ir

from ...codegen import expr as E
from ...codegen.coalesce import substitute
from ...codegen.kernel import RowKernel, Stage
from ...ir.dtypes import DType
from ...ir.ops import Op
from ...ir.symbolic import is_symbolic
from .llvm_expr import I64, REG, KernelBuilder


class RowBuilder(KernelBuilder):
    """A ``RowKernel``: per point of the domain, its stages in order (see the module docstring)."""
    def emit(self):
        if _siblings_outer(self.k):
            self.emit_outer_siblings()
        else:
            self.nest(list(self.k.domain), self.row)
        self.finish()

    def emit_outer_siblings(self) -> None:
        """Independent stored reductions over the same loops, reading memory along the innermost
        domain loop (bias gradients' sums over the batch): as ``LoopKernel``'s ``reduce_outer``, the
        reduce loops run outside the innermost domain loop and every stage accumulates in its
        output, so each input row is read once, in order, for all of them."""
        k, b = self.k, self.b
        *outer, inner = k.domain
        first = k.stages[0].vars

        def init():
            self.memo = {}
            for st in k.stages:
                self.store(st.out, self.expr(st.index), self._identity(st.reduce_op, st.value.dtype), st.value.dtype)

        def accumulate():
            self.memo = {}
            for st in k.stages[1:]:   # the stages' loops run as one: the first stage's
                self.vars.update(zip(st.vars, (self.vars[v] for v in first)))
            for st in k.stages:
                ptr = self.pointer(st.out, self.expr(st.index))
                b.store(self._combine(st.reduce_op, b.load(ptr), self.expr(st.value), st.value.dtype), ptr)

        def per_row():
            self.nest([inner], init)
            self.nest(list(first) + [inner], accumulate)

        self.nest(outer, per_row)

    def row(self) -> None:
        """One row's stages. Costly subexpressions an earlier stage computed are kept for the later
        ones in stack scratch rows (``_row_reuse``). A row of symbolic length keeps them in rows of
        ``SYMBOLIC_SCRATCH`` elements when it fits them and recomputes them otherwise: two copies
        of the stages, chosen per call by the row's length."""
        saves, loads, sizes = _row_reuse(self.k)
        scratch = {}
        with self.b.goto_entry_block():
            for sid, (dt, n) in sizes.items():
                capacity = SYMBOLIC_SCRATCH if is_symbolic(n) else n
                scratch[sid] = self.b.alloca(REG[dt], size=ir.Constant(I64, capacity), name=f"row{sid}")
        lengths = {n for _, n in sizes.values() if is_symbolic(n)}
        if not lengths:
            self._stages(saves, loads, scratch)
            return
        fits = None
        for n in lengths:
            ok = self.b.icmp_signed("<=", self.size(n), ir.Constant(I64, SYMBOLIC_SCRATCH))
            fits = ok if fits is None else self.b.and_(fits, ok)
        with self.b.if_else(fits) as (kept, recomputed):
            with kept:
                self._stages(saves, loads, scratch)
            with recomputed:
                self._stages([[] for _ in saves], [{} for _ in loads], {})

    def _stages(self, saves, loads, scratch) -> None:
        self.memo, self.accs = {}, {}

        def reuse(j, before: bool):
            """Load the stage's shared subexpressions (before its value), or keep them (after)."""
            st = self.k.stages[j]
            if not (loads[j] if before else saves[j]):
                return
            pos = self.expr(E.position(st.vars))
            if before:
                for e, sid in loads[j].items():
                    self.memo[e] = self.b.load(self.b.gep(scratch[sid], [pos], inbounds=True))
            else:
                for e, sid in saves[j]:
                    self.b.store(self.memo[e], self.b.gep(scratch[sid], [pos], inbounds=True))

        for j, st in enumerate(self.k.stages):
            exprs = [st.value] + ([st.index] if st.index is not None else [])
            self.hoist(exprs, set(st.vars))
            row_memo = dict(self.memo)
            if st.reduce_op is None:
                def body(st=st, row_memo=row_memo, j=j):
                    self.memo = dict(row_memo)
                    reuse(j, True)
                    value = self.expr(st.value)
                    reuse(j, False)
                    self.store(st.out, self.expr(st.index), value, self.k.buffers[st.out].dtype)
                self.stage_loops(st, body)
                self.memo = row_memo
                continue
            dt = st.value.dtype
            with self.b.goto_entry_block():   # an entry-block alloca, which mem2reg turns into phis
                slot = self.b.alloca(REG[dt], name=f"acc{j}")
            self.b.store(self._identity(st.reduce_op, dt), slot)

            def accumulate(st=st, slot=slot, dt=dt, row_memo=row_memo, j=j):
                self.memo = dict(row_memo)
                reuse(j, True)
                x = self.expr(st.value)
                reuse(j, False)
                self.b.store(self._combine(st.reduce_op, self.b.load(slot), x, dt), slot)
            self.stage_loops(st, accumulate)
            self.memo = row_memo
            self.accs[j] = self._round(self.b.load(slot), dt)   # the value its store would hold
            if st.out is not None:
                self.store(st.out, self.expr(st.index), self.accs[j], self.k.buffers[st.out].dtype)

    def stage_loops(self, st: Stage, body) -> None:
        def nest(level: int):
            if level == len(st.vars):
                body()
                return
            v = st.vars[level]
            self.loop(v, ir.Constant(I64, 0), self.extent(v), lambda: nest(level + 1))
        nest(0)

    def hoist(self, exprs, inner: set) -> None:
        """Compute, at the row level, every largest subexpression of ``exprs`` that reads none of
        the ``inner`` loop variables (``expr.invariant_roots``)."""
        for e in E.invariant_roots(exprs, inner):
            self.expr(e)


_FULL_WIDTH = (DType.float32, DType.float64, DType.int32, DType.int64)
ROW_SCRATCH_BYTES = 1 << 17   # stack buffers of one row kernel (threads have megabytes of stack)
SYMBOLIC_SCRATCH = 1 << 12    # elements of a scratch row for a row of symbolic length
_COSTLY = {Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.ERF, Op.DIV, Op.POW}


def _row_reuse(k: RowKernel):
    """Which costly subexpressions later stages take from earlier ones (see the module docstring):
    ``(saves, loads, sizes)``: ``saves[t]`` lists ``(expression in stage t's vars, scratch)`` that
    stage t keeps, ``loads[s]`` maps expressions in stage s's vars to the scratch they are loaded
    from, ``sizes[scratch] = (dtype, elements)``."""
    stages = k.stages
    saves: list[list] = [[] for _ in stages]
    loads: list[dict] = [{} for _ in stages]
    sizes: dict[int, tuple] = {}
    kept: dict[tuple, int] = {}   # (stage, expression) -> scratch
    budget = ROW_SCRATCH_BYTES
    subexprs = [_dependent_subexprs(st.value, set(st.vars)) for st in stages]
    avail: list[set] = []   # per stage: what its loop body evaluates or loads (not inside a load)
    costly: dict = {}
    for s, st in enumerate(stages):
        extents = [v.extent for v in st.vars]
        earlier = [t for t in range(s) if stages[t].vars and [v.extent for v in stages[t].vars] == extents]
        _match_earlier(st, s, earlier, stages, subexprs, avail, costly, loads, saves, kept, sizes, budget)
        budget = ROW_SCRATCH_BYTES - sum(n * 8 for _, n in sizes.values())
        reached, stack = set(), [st.value]
        while stack:
            e = stack.pop()
            if e in reached or e not in subexprs[s]:
                continue
            reached.add(e)
            if e not in loads[s]:
                stack.extend(E.children(e))
        avail.append(reached)
    return saves, loads, sizes


def _match_earlier(st, s, earlier, stages, subexprs, avail, costly, loads, saves, kept, sizes, budget):
    """Fill ``loads[s]`` (and the earlier stages' ``saves``) for stage ``st`` (see ``_row_reuse``)."""
    if earlier:
        extents = [v.extent for v in st.vars]
        stack, seen = [st.value], set()
        while stack:
            e = stack.pop()
            if e in seen or e not in subexprs[s]:
                continue
            seen.add(e)
            hit = None
            if _is_costly(e, costly):
                for t in earlier:
                    r = substitute(e, dict(zip(st.vars, stages[t].vars)))
                    if r in avail[t]:
                        hit = (t, r)
                        break
            if hit is None:
                stack.extend(E.children(e))
                continue
            t, r = hit
            sid = loads[t].get(r, kept.get(hit))
            if sid is None:
                n = math.prod(extents)
                nbytes = (SYMBOLIC_SCRATCH if is_symbolic(n) else n) * 8   # a register value: at most 8 bytes
                if nbytes > budget:
                    stack.extend(E.children(e))
                    continue
                budget -= nbytes
                sid = kept[hit] = len(sizes)
                sizes[sid] = (e.dtype, n)
                saves[t].append((r, sid))
            loads[s][e] = sid


def _dependent_subexprs(value: E.Expr, inner: set) -> set:
    """The subexpressions of ``value`` that read a variable of ``inner`` (not hoisted)."""
    return {e for e, d in E.reads_vars([value], inner).items() if d}


def _is_costly(e: E.Expr, memo: dict) -> bool:
    """Whether ``e`` computes an expensive op (worth a store and a load to keep)."""
    hit = memo.get(e)
    if hit is None:
        own = (isinstance(e, E.Un) and e.op in _COSTLY) or (isinstance(e, E.Bin) and e.op in _COSTLY and
                                                           e.dtype.is_float)
        hit = memo[e] = own or any(_is_costly(c, memo) for c in E.children(e)
                                   if not isinstance(c, (E.Var, E.Const, E.Acc)))
    return hit


def _siblings_outer(k: RowKernel) -> bool:
    """Whether ``k`` is independent full-width reductions, each stored, over loops of the same
    extents, whose loads walk memory along the innermost domain loop and not along the innermost
    reduce loop: then ``emit_outer_siblings`` reads memory in order where the row order would
    stride down columns."""
    from ...codegen.lower import contiguous_along_output  # the LoopKernel schedule's own test
    if not k.domain or not k.stages[0].vars:
        return False
    extents = [v.extent for v in k.stages[0].vars]
    for st in k.stages:
        if st.reduce_op is None or st.out is None or st.value.dtype not in _FULL_WIDTH \
                or k.buffers[st.out].dtype is not st.value.dtype or [v.extent for v in st.vars] != extents \
                or _reads_acc(st.value) or not contiguous_along_output(st.value, k.domain, st.vars):
            return False
    return True


def _reads_acc(e: E.Expr) -> bool:
    stack, seen = [e], set()
    while stack:
        e = stack.pop()
        if isinstance(e, E.Acc):
            return True
        if e not in seen:
            seen.add(e)
            stack.extend(E.children(e))
    return False
