"""Render ``LoopKernel``s and ``RowKernel``s to LLVM IR (via ``llvmlite.ir``) for the CPU.

Each kernel becomes ``void @name(T0* noalias %b0, ..., Tn* noalias %out, i64 %start, i64 %end)``
whose outermost domain loop runs over ``[start, end)`` so the runtime can split it across threads
(a rank-0 domain ignores the range). Loops are plain counted loops the LLVM loop vectorizer turns
into SIMD; a ``sum`` accumulates with ``reassoc nsz`` fast-math flags, which is what lets it be
vectorized (reassociation is the one licence we take; every other float op is IEEE-exact).
Bools live in memory as bytes (NumPy's layout) and in registers as ``i1``.

The numerics that need more than one instruction are ``codegen.legalize``'s, applied to every
kernel first (``LEGALIZE``: all its rules): NumPy's NaN-propagating maximum/minimum, C's total
integer division, floor division of indices, ``rand``'s SplitMix64 bits and the float32 tanh and
erf polynomials become plain operations, and every op whose result is a 16-bit float is computed
in float32 and rounded (``KOp.ROUND``, round-to-nearest-even) back onto the 16-bit grid, so a fused
chain computes the same bits as PyTorch's one-kernel-per-op CPU eager mode whatever the fusion.
What is left is a table from each op to its instruction or intrinsic; float32 exp and log are
inline polynomials (``llvm_math``) so that loops using them still vectorize. The 16-bit floats live
in memory as 16 bits (``half``; ``bfloat16`` as its ``i16`` bit pattern, which llvmlite has no type
for) and in registers as ``float``: a load extends exactly, a store narrows a value already on the
grid. A ``sum`` of 16-bit values accumulates in float32 and rounds once, at the store.

A ``RowKernel`` has the same signature: its domain loops (the outermost over ``[start, end)``) hold
the stages one after another, each its own loop nest; a reduce stage accumulates in a register as
a ``LoopKernel``'s reduction does, and its finished value (rounded as its store would be) is what
later stages read as ``Acc``. Before each stage's loops, the parts of its expressions that do not
depend on them (a row's ``rstd`` from two accumulators, the row's base index) are computed once.
A costly subexpression a later stage shares with an earlier one over loops of the same extents (a
softmax's ``exp(x - max)``, summed by one stage and divided by the next) is kept for the row in a
stack buffer by the earlier stage and loaded by the later one, not recomputed: up to
``ROW_SCRATCH_BYTES`` per kernel, a row that stays in the L1/L2 cache.

An index check (``expr.Check``) costs a subtraction and an unsigned max per point: each site keeps
the largest ``index - low`` (unsigned) in a register, a reduction the loop vectorizer handles like a
sum, and only when the function returns does it compare that with the site's span and, if an index
was out of range, store it in the status buffer with an atomic unsigned max (threads running other
chunks of the loop may store there too). No branch enters the loops, so they vectorize as before.
"""
from __future__ import annotations

import math
from dataclasses import replace

from llvmlite import ir

from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...ir.ops import Op
from ...codegen import expr as E
from ...codegen import legalize as L
from ...codegen.expr import KOp
from . import llvm_math
from ...codegen.coalesce import substitute
from ...codegen.kernel import DOT_RESULT, DotKernel, Epilogue, LoopKernel, Reduce, RowKernel, Stage

I1, I8, I16, I32, I64 = (ir.IntType(w) for w in (1, 8, 16, 32, 64))
F16, F32, F64 = ir.HalfType(), ir.FloatType(), ir.DoubleType()
REG = {DType.bool: I1, DType.int32: I32, DType.int64: I64, DType.float16: F32, DType.bfloat16: F32,
       DType.float32: F32, DType.float64: F64}
MEM = {**REG, DType.bool: I8, DType.float16: F16, DType.bfloat16: I16}
REDUCE_FLAGS = ("reassoc", "nsz")
LEGALIZE = frozenset(L.Rule)
"""The ``codegen.legalize`` rules every kernel is rendered after: all of them."""

# The op tables: ``ir.IRBuilder`` methods for integer and bool operands (bool and/or on i1), and
# for float ones; comparison predicates; float intrinsics (``<name>.f32`` / ``.f64``) and the libm
# functions of float64 ops that LLVM has no intrinsic for.
_INT = {Op.ADD: "add", Op.SUB: "sub", Op.MUL: "mul", Op.AND: "and_", Op.OR: "or_", KOp.XOR: "xor",
        KOp.SHR: "ashr", KOp.TRUNC_DIV: "sdiv", KOp.TRUNC_REM: "srem"}
_FLOAT = {Op.ADD: "fadd", Op.SUB: "fsub", Op.MUL: "fmul", Op.DIV: "fdiv"}
_CMP = {Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=", Op.EQ: "==", Op.NE: "!="}
_INTRINSIC = {Op.EXP: "llvm.exp", Op.LOG: "llvm.log", Op.SQRT: "llvm.sqrt", Op.SIN: "llvm.sin",
              Op.COS: "llvm.cos", Op.ABS: "llvm.fabs", Op.POW: "llvm.pow"}
_LIBM64 = {Op.TANH: "tanh", Op.ERF: "erf"}


class _FunctionBuilder:
    def __init__(self, module: ir.Module, k: LoopKernel):
        self.module, self.k = module, k
        args = [MEM[b.dtype].as_pointer() for b in k.buffers] + [I64, I64]
        self.fn = ir.Function(module, ir.FunctionType(ir.VoidType(), args), name=k.name)
        for i, a in enumerate(self.fn.args[:-2]):
            a.name = f"b{i}"
            a.add_attribute("noalias")
        self.start, self.end = self.fn.args[-2:]
        self.start.name, self.end.name = "start", "end"
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.vars: dict[E.Var, ir.Value] = {}
        self.memo: dict = {}
        self.check_slots: dict[tuple[int, int], tuple] = {}

    # ---- loops ------------------------------------------------------------------------------------
    def loop(self, var: E.Var, lo: ir.Value, hi: ir.Value, body):
        b = self.b
        pre = b.block
        head = b.append_basic_block(f"{var.name}.head")
        loop = b.append_basic_block(f"{var.name}.body")
        done = b.append_basic_block(f"{var.name}.done")
        b.cbranch(b.icmp_signed("<", lo, hi), head, done)
        b.position_at_end(head)
        b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(I64, name=var.name)
        i.add_incoming(lo, head)
        self.vars[var] = i
        carried = body()
        nxt = b.add(i, ir.Constant(I64, 1), name=f"{var.name}.next", flags=("nsw",))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_signed("<", nxt, hi), loop, done)
        b.position_at_end(done)
        return pre, head, carried

    def emit(self):
        k = self.k
        if k.reduce_vars and k.reduce_outer:
            self.emit_outer_reduction()
        else:
            self.nest(list(k.domain), self.store_value)
        self.finish()

    def finish(self) -> None:
        """Record the index checks' findings (see the module docstring) and return."""
        b = self.b
        for (buf, site), (slot, span) in self.check_slots.items():
            worst = b.load(slot)
            with b.if_then(b.icmp_unsigned(">=", worst, ir.Constant(I64, span)), likely=False):
                b.atomic_rmw("umax", self.pointer(buf, ir.Constant(I64, site)), worst, "monotonic")
        b.ret_void()

    def nest(self, loops: list, body) -> None:
        """Loops over ``loops`` (outer to inner; the first domain var runs over [start, end))."""
        if not loops:
            body()
            return
        v, rest = loops[0], loops[1:]
        first = bool(self.k.domain) and v is self.k.domain[0]
        lo = self.start if first else ir.Constant(I64, 0)
        hi = self.end if first else ir.Constant(I64, v.extent)
        self.loop(v, lo, hi, lambda: self.nest(rest, body))

    def store_value(self) -> None:
        k = self.k
        value = self.reduction() if k.reduce_vars else self.expr(k.value)
        self.store(len(k.buffers) - 1, self._row_major(k.domain), value, k.out.dtype)

    def emit_outer_reduction(self) -> None:
        """The reduce loops run outside the innermost output loop and accumulate in the output
        buffer: ``for r: for j: out[j] = out[j] + x[r, j]`` reads ``x`` row by row (contiguous and
        vectorisable) where the register-accumulator order would stride down its columns."""
        k, b = self.k, self.b
        out, dt = len(k.buffers) - 1, k.value.dtype
        *outer, inner = k.domain

        def init():
            self.memo = {}
            self.store(out, self._row_major(k.domain), self._identity(k.reduce_op, dt), dt)

        def accumulate():
            self.memo = {}
            index = self._row_major(k.domain)
            acc = b.load(self.pointer(out, index))
            self.store(out, index, self._combine(k.reduce_op, acc, self.expr(k.value), dt), dt)

        def per_row():
            self.nest([inner], init)
            self.nest(list(k.reduce_vars) + [inner], accumulate)

        self.nest(outer, per_row)

    def reduction(self) -> ir.Value:
        """Fold ``value`` over the reduce loops into a register accumulator."""
        k, b = self.k, self.b
        dt = k.value.dtype
        ty = REG[dt]
        init = self._identity(k.reduce_op, dt)
        with b.goto_entry_block():  # an entry-block alloca, which mem2reg turns into phis
            acc_slot = b.alloca(ty, name="acc")
        b.store(init, acc_slot)
        self.memo = {}

        def nest(level: int):
            if level < len(k.reduce_vars):
                v = k.reduce_vars[level]
                self.loop(v, ir.Constant(I64, 0), ir.Constant(I64, v.extent), lambda: nest(level + 1))
                return
            self.memo = {}
            x = self.expr(k.value)
            acc = b.load(acc_slot)
            b.store(self._combine(k.reduce_op, acc, x, dt), acc_slot)

        nest(0)
        self.memo = {}
        return b.load(acc_slot)

    def _identity(self, op: Reduce, dt: DType) -> ir.Constant:
        if op is Reduce.SUM:
            return ir.Constant(REG[dt], 0.0 if dt.is_float else 0)
        if dt.is_float:
            return ir.Constant(REG[dt], -math.inf)
        return ir.Constant(REG[dt], -(1 << (REG[dt].width - 1)))

    def _combine(self, op: Reduce, acc, x, dt: DType):
        b = self.b
        if op is Reduce.SUM:
            return b.fadd(acc, x, flags=REDUCE_FLAGS) if dt.is_float else b.add(acc, x)
        if dt.is_float:
            # IEEE 754-2019 maximum: NaN-propagating (NumPy's max), -0 < +0. The loop vectorizer
            # knows this intrinsic as a reduction; the select form of ``legalize.maximum`` stays scalar.
            return self._call(f"llvm.maximum.{'f64' if dt is DType.float64 else 'f32'}", acc.type, [acc, x])
        a, b = L.param("%a", dt), L.param("%b", dt)
        return self.template(L.maximum(a, b, dt), {a: acc, b: x})

    def _row_major(self, vars) -> ir.Value:
        return self.expr(_row_major_expr(vars)) if vars else ir.Constant(I64, 0)

    # ---- memory -------------------------------------------------------------------------------------
    def pointer(self, buf: int, index: ir.Value):
        return self.b.gep(self.fn.args[buf], [index], inbounds=True)

    def store(self, buf: int, index, value, dt: DType):
        if dt is DType.bool:
            value = self.b.zext(value, I8)
        elif dt is DType.float16:
            value = self.b.fptrunc(value, F16)
        elif dt is DType.bfloat16:   # the top half of the float32, rounded (a reduction's is not yet)
            x = L.param("%x", DType.float32)
            bits = self.template(L.bf16_round_bits(x), {x: value})
            value = self.b.trunc(self.b.lshr(bits, ir.Constant(I32, 16)), I16)
        self.b.store(value, self.pointer(buf, index))

    def load(self, buf: int, index, dt: DType):
        b = self.b
        v = b.load(self.pointer(buf, index))
        if dt is DType.bool:
            return b.icmp_unsigned("!=", v, ir.Constant(I8, 0))
        if dt is DType.float16:
            return b.fpext(v, F32)
        if dt is DType.bfloat16:  # bfloat16 is the top half of a float32
            return b.bitcast(b.shl(b.zext(v, I32), ir.Constant(I32, 16)), F32)
        return v

    def _round(self, x, dt: DType) -> ir.Value:
        """``KOp.ROUND``: a float32 register value rounded to the 16-bit float ``dt`` (and widened
        back); any other ``dt`` leaves it as it is."""
        if dt is DType.float16:
            return self.b.fpext(self.b.fptrunc(x, F16), F32)
        if dt is DType.bfloat16:
            p = L.param("%x", DType.float32)
            return self.template(L.bf16_round(p), {p: x})
        return x

    def template(self, expr: E.Expr, bound: dict) -> ir.Value:
        """The value of ``expr``, a ``codegen.legalize`` template over the ``param``\\ s in
        ``bound`` (each mapped to its value), emitted here."""
        saved, self.memo = self.memo, {}   # the params stand for other values next time
        self.vars.update(bound)
        try:
            return self.expr(expr)
        finally:
            self.memo = saved

    # ---- expressions ----------------------------------------------------------------------------------
    def expr(self, e: E.Expr) -> ir.Value:
        hit = self.memo.get(e)
        if hit is None:
            hit = self.memo[e] = self._expr(e)
        return hit

    def _expr(self, e: E.Expr) -> ir.Value:
        b = self.b
        if isinstance(e, E.Var):
            return self.vars[e]
        if isinstance(e, E.Const):   # a 16-bit one is on its grid (legalize), held as float32
            return ir.Constant(REG[e.dtype], float(e.value) if e.dtype.is_float else int(e.value))
        if isinstance(e, E.Load):
            return self.load(e.buf, self.expr(e.index), e.dtype)
        if isinstance(e, E.Un):
            return self._unary(e.op, self.expr(e.x), e.x.dtype, e.dtype)
        if isinstance(e, E.Bin):
            return self._binary(e.op, self.expr(e.a), self.expr(e.b), e.a.dtype)
        if isinstance(e, E.Select):
            return b.select(self.expr(e.cond), self.expr(e.a), self.expr(e.b))
        if isinstance(e, E.Cast):
            return self._cast(self.expr(e.x), e.x.dtype, e.dtype)
        if isinstance(e, E.Acc) and e.stage in getattr(self, "accs", {}):
            return self.accs[e.stage]
        if isinstance(e, E.Check):
            return self._check(e)
        raise LuminaCodegenError(f"llvm: cannot render {type(e).__name__}")

    def _check(self, e: E.Check) -> ir.Value:
        """The checked index (see ``expr.Check``), folding ``index - low`` into the site's register."""
        b = self.b
        j = self.expr(e.index)
        u = b.sub(j, ir.Constant(I64, e.low))
        span = e.size - e.low
        key = (e.buf, e.site)
        if key not in self.check_slots:
            with b.goto_entry_block():   # an entry-block alloca, which mem2reg turns into phis
                slot = b.alloca(I64, name=f"check{e.site}")
                b.store(ir.Constant(I64, 0), slot)
            self.check_slots[key] = (slot, span)
        slot = self.check_slots[key][0]
        b.store(self._call("llvm.umax.i64", I64, [b.load(slot), u]), slot)
        index = b.select(b.icmp_signed("<", j, ir.Constant(I64, 0)), u, j) if e.low < 0 else j
        return b.select(b.icmp_unsigned("<", u, ir.Constant(I64, span)), index, ir.Constant(I64, 0))

    def _call(self, name: str, ty, args):
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ty, [a.type for a in args]), name=name)
        return self.b.call(fn, args)

    def _unary(self, op: Op | KOp, x, dt: DType, out: DType):
        """``op`` of register value ``x`` (of ``dt``) as a register value of ``out``."""
        b = self.b
        if op is KOp.ROUND:
            return self._round(x, out)
        if op is KOp.BITCAST:
            return b.bitcast(x, REG[out])
        if op is Op.NEG:
            return b.fneg(x) if dt.is_float else b.neg(x)
        if op is Op.NOT:       # all ones: logical not of an i1, bitwise not of an integer
            return b.xor(x, ir.Constant(x.type, -1))
        if op is Op.ABS and not dt.is_float:
            return b.select(b.icmp_signed("<", x, ir.Constant(x.type, 0)), b.neg(x), x)
        if dt.is_float and dt is not DType.float64 and op in llvm_math.FUNCTIONS:
            return llvm_math.FUNCTIONS[op](b, x)   # float32 registers: polynomials that vectorize
        if dt.is_float and op in _INTRINSIC:
            return self._call(f"{_INTRINSIC[op]}.{'f64' if dt is DType.float64 else 'f32'}", x.type, [x])
        if dt is DType.float64 and op in _LIBM64:
            return self._call(_LIBM64[op], x.type, [x])
        raise LuminaCodegenError(f"llvm: no lowering for unary {op.value} on {dt.name}")

    def _binary(self, op: Op | KOp, x, y, dt: DType):
        """``op`` of register values ``x`` and ``y`` (both of ``dt``)."""
        b = self.b
        if op in _CMP:
            if dt.is_float:   # ne is unordered: true for NaN, as NumPy's
                return b.fcmp_unordered("!=", x, y) if op is Op.NE else b.fcmp_ordered(_CMP[op], x, y)
            if dt is DType.bool:   # i1: signed, true would be -1 and order below false
                return b.icmp_unsigned(_CMP[op], x, y)
            return b.icmp_signed(_CMP[op], x, y)
        if dt.is_float and op in _FLOAT:
            return getattr(b, _FLOAT[op])(x, y)
        if dt.is_float and op is Op.POW:
            return self._call(f"{_INTRINSIC[op]}.{'f64' if dt is DType.float64 else 'f32'}", x.type, [x, y])
        if not dt.is_float and op in _INT:
            return getattr(b, _INT[op])(x, y)
        raise LuminaCodegenError(f"llvm: no lowering for binary {op.value} on {dt.name}")

    def _cast(self, x, src: DType, dst: DType):
        """Convert a register value (a 16-bit float is a float32 register: converting to one from
        anything but bool needs a ``KOp.ROUND`` after, which legalization puts there)."""
        b = self.b
        if src is dst:
            return x
        to = REG[dst]
        if dst is DType.bool:
            return b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0)) if src.is_float else \
                b.icmp_unsigned("!=", x, ir.Constant(x.type, 0))
        if src is DType.bool:
            return b.uitofp(x, to) if dst.is_float else b.zext(x, to)
        if src.is_float and dst.is_float:
            if x.type != to:
                x = b.fpext(x, to) if to is F64 else b.fptrunc(x, to)
            return x
        if src.is_float:
            return b.fptosi(x, to)
        if dst.is_float:
            return b.sitofp(x, to)
        return b.sext(x, to) if dst.itemsize > src.itemsize else b.trunc(x, to)


class _RowBuilder(_FunctionBuilder):
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
        self.memo, self.accs = {}, {}
        saves, loads, sizes = _row_reuse(self.k)
        scratch = {}
        with self.b.goto_entry_block():
            for sid, (dt, n) in sizes.items():
                scratch[sid] = self.b.alloca(REG[dt], size=ir.Constant(I64, n), name=f"row{sid}")

        def reuse(j, before: bool):
            """Load the stage's shared subexpressions (before its value), or keep them (after)."""
            st = self.k.stages[j]
            if not (loads[j] if before else saves[j]):
                return
            pos = self.expr(_row_major_expr(st.vars))
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
            self.loop(v, ir.Constant(I64, 0), ir.Constant(I64, v.extent), lambda: nest(level + 1))
        nest(0)

    def hoist(self, exprs, inner: set) -> None:
        """Compute, at the row level, every largest subexpression of ``exprs`` that reads none of
        the ``inner`` loop variables (``expr.invariant_roots``)."""
        for e in E.invariant_roots(exprs, inner):
            self.expr(e)


_FULL_WIDTH = (DType.float32, DType.float64, DType.int32, DType.int64)
ROW_SCRATCH_BYTES = 1 << 17   # stack buffers of one row kernel (threads have megabytes of stack)
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
                nbytes = n * 8   # a register value: at most 8 bytes
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


def _row_major_expr(vars) -> E.Expr:
    pairs, stride = [], 1
    for v in reversed(vars):
        pairs.append((stride, v))
        stride *= v.extent
    return E.affine_sum(pairs)


EPILOGUE_FUNCTION = "lumina_epilogue"


class _EpilogueBuilder(_FunctionBuilder):
    """``void lumina_epilogue(p0, ..., p{MAX-1}, out, i64 b, i64 m0, i64 m1, i64 n0, i64 n1)``:
    ``out[b, m, n] = value`` for m0 <= m < m1, n0 <= n < n1 of batch entry b (an output panel of a
    GEMM, see ``llvm_gemm``); the inner loop runs along contiguous output columns and vectorizes.
    Epilogue position ``i`` is pointer ``p{i}``; the dot result (``kernel.DOT_RESULT``) is read
    from ``out``, where the GEMM left it."""
    def __init__(self, module: ir.Module, ep: Epilogue, dtype: DType, n_pointers: int, name: str):
        self.module = module
        types = [I8] * n_pointers
        stack = [ep.value]
        while stack:   # each pointer is typed by what is loaded through it
            e = stack.pop()
            if isinstance(e, E.Load) and e.buf != DOT_RESULT:
                types[e.buf] = MEM[e.dtype]
            elif isinstance(e, E.Check):
                types[e.buf] = I64   # the status buffer
            stack.extend(E.children(e))
        types[-1] = MEM[dtype]
        args = [t.as_pointer() for t in types] + [I64] * 5
        self.fn = ir.Function(module, ir.FunctionType(ir.VoidType(), args), name=name)
        for i, a in enumerate(self.fn.args[:n_pointers]):
            a.name = f"p{i}"
            a.add_attribute("noalias")   # an unused pointer repeats another, but is never read
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.ep, self.dtype, self.out = ep, dtype, n_pointers - 1
        self.vars: dict[E.Var, ir.Value] = {}
        self.memo: dict = {}
        self.check_slots: dict[tuple[int, int], tuple] = {}

    def pointer(self, buf: int, index: ir.Value):
        return super().pointer(self.out if buf == DOT_RESULT else buf, index)

    def emit(self):
        bv, mv, nv = self.ep.vars
        batch, m0, m1, n0, n1 = self.fn.args[-5:]
        self.vars[bv] = batch

        def body():
            self.memo = {}
            index = self.expr(self.ep.index)
            value = self.expr(self.ep.value)
            self.store(self.out, index, value, self.dtype)

        self.loop(mv, m0, m1, lambda: self.loop(nv, n0, n1, body))
        self.finish()


def epilogue_pointers(d: DotKernel) -> tuple[int, ...]:
    """The buffers of ``d`` (positions in ``d.buffers``) passed as the epilogue function's pointers
    ``p0, p1, ...`` (C itself is its ``out``): the elementwise epilogue's (``Epilogue.buffers``,
    in order), then every other buffer the row stages of ``d.rows`` load or store."""
    ptrs = list(d.epilogue.buffers) if d.epilogue is not None else []
    if d.rows is not None:
        used = {st.out for st in d.rows.stages if st.out is not None}
        stack = [e for st in d.rows.stages for e in (st.value, st.index) if e is not None]
        while stack:
            e = stack.pop()
            if isinstance(e, (E.Load, E.Check)):   # a check's buffer: the status buffer
                used.add(e.buf)
            stack.extend(E.children(e))
        ptrs += sorted(used - set(ptrs) - {d.c_buf})
    return tuple(ptrs)


def render_epilogue(d: DotKernel, n_pointers: int) -> str:
    """LLVM IR text of a module defining ``EPILOGUE_FUNCTION`` for GEMM ``d``, with ``n_pointers``
    pointer arguments (``epilogue_pointers(d)``, padded, then C) and ``(b, m0, m1, n0, n1)``, which
    ``llvm_gemm`` calls on each finished panel of C: it applies ``d.epilogue`` to the panel (see
    ``_EpilogueBuilder``); for a row-fused GEMM (``d.rows``) it then runs the row stages on rows
    ``b*M + m0 .. b*M + m1`` once the panel reaches column N (the GEMM's column blocks are its
    outermost loop, so those rows are final), while they are still in L2.
    Raises ``LuminaCodegenError`` when the buffers do not fit in ``n_pointers - 1``."""
    module = ir.Module(name="lumina_epilogue")
    ptrs = epilogue_pointers(d)
    d = L.legalize(d, LEGALIZE)
    if len(ptrs) > n_pointers - 1:
        raise LuminaCodegenError(f"llvm: the epilogue of {d.name} reads {len(ptrs)} buffers besides the "
                                 f"dot result, more than the {n_pointers - 1} pointers of the CPU's "
                                 f"epilogue function (Target.max_epilogue_inputs)")
    if d.rows is None:
        _EpilogueBuilder(module, d.epilogue, d.dtype, n_pointers, EPILOGUE_FUNCTION).emit()
        return str(module)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I8.as_pointer()] * n_pointers + [I64] * 5),
                     name=EPILOGUE_FUNCTION)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    *pointers, out = fn.args[:n_pointers]
    batch, m0, m1, n0, n1 = fn.args[n_pointers:]
    if d.epilogue is not None:
        panel = _EpilogueBuilder(module, d.epilogue, d.dtype, n_pointers, "lumina_panel")
        panel.emit()
        b.call(panel.fn, [b.bitcast(a, t) for a, t in zip(fn.args, panel.fn.function_type.args)])
    rows = _RowBuilder(module, replace(d.rows, name="lumina_rows"))
    rows.emit()
    args = []
    for i, t in enumerate(rows.fn.function_type.args[:-2]):
        src = out if i == d.c_buf else pointers[ptrs.index(i)] if i in ptrs else None
        args.append(b.bitcast(src, t) if src is not None else ir.Constant(t, None))
    base = b.mul(batch, ir.Constant(I64, d.m))
    with b.if_then(b.icmp_signed("==", n1, ir.Constant(I64, d.n))):
        b.call(rows.fn, args + [b.add(base, m0), b.add(base, m1)])
    b.ret_void()
    return str(module)


def render_module(kernels: list[LoopKernel | RowKernel], name: str = "lumina") -> str:
    """LLVM IR text of one module defining every kernel in ``kernels``."""
    module = ir.Module(name=name)
    for k in kernels:
        k = L.legalize(k, LEGALIZE)
        (_RowBuilder if isinstance(k, RowKernel) else _FunctionBuilder)(module, k).emit()
    return str(module)
