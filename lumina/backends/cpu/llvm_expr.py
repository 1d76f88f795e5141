"""The part of the CPU's LLVM renderer every kernel function shares: register and memory types,
counted loops, loads and stores, and the expression emitter, a table from each kernel op to its
LLVM instruction or intrinsic (``KernelBuilder``).

The numerics that need more than one instruction are ``codegen.legalize``'s, applied to every
kernel first (``LEGALIZE``: all its rules): NumPy's NaN-propagating maximum/minimum, C's total
integer division, floor division of indices, ``rand``'s SplitMix64 bits and the float32 tanh and
erf polynomials become plain operations, and every op whose result is a 16-bit float is computed
in float32 and rounded (``KOp.ROUND``, round-to-nearest-even) back onto the 16-bit grid, so a fused
chain computes the same bits as PyTorch's one-kernel-per-op CPU eager mode whatever the fusion.
What is left is the table; float32 exp and log are inline polynomials (``llvm_math``) so that
loops using them still vectorize, and every other float op is IEEE-exact. Bools live in memory as
bytes (NumPy's layout) and in registers as ``i1``. The 16-bit floats live in memory as 16 bits
(``half``; ``bfloat16`` as its ``i16`` bit pattern, which llvmlite has no type for) and in
registers as ``float``: a load extends exactly, a store narrows (rounding what is not on the grid
yet: a reduction's result).

An index check (``expr.Check``) costs a subtraction and an unsigned max per point: each site keeps
the largest ``index - low`` (unsigned) in a register, a reduction the loop vectorizer handles like a
sum, and only when the function returns does it compare that with the site's span and, if an index
was out of range, store it in the status buffer with an atomic unsigned max (threads running other
chunks of the loop may store there too). No branch enters the loops, so they vectorize as before.
"""
from __future__ import annotations

import math

from llvmlite import ir

from ...codegen import expr as E
from ...codegen import legalize as L
from ...codegen.expr import KOp
from ...codegen.kernel import LoopKernel, Reduce, RowKernel, kernel_symbols
from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...ir.ops import Op
from ...ir.symbolic import Sym, hint
from . import llvm_math
from .llvm_gemm_ir import loop_id

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


ROLLED_MIN = 16
"""Trip count from which an innermost loop is kept rolled for the vectorizer (``KernelBuilder.nest``)."""

LONG_BODY = 32
"""Instructions from which an innermost loop's body (an erf, a tanh, an exp with its range checks)
is interleaved ``INTERLEAVE_COUNT`` vectors deep: its polynomials are chains of dependent
multiply-adds, and one vector per iteration leaves the FMA units waiting on their latency. LLVM's
cost model picks one for such a body. Measured (Zen 5, f32 erf over 128 x 1536, one thread):
0.72 -> 0.56 ns per element."""
INTERLEAVE_COUNT = 4
UNROLL_DISABLE = ("llvm.loop.unroll.disable",)
INTERLEAVE = ("llvm.loop.interleave.count", ir.Constant(ir.IntType(32), INTERLEAVE_COUNT))


def load_sizes(b: ir.IRBuilder, table, symbols: tuple[str, ...]) -> dict[str, ir.Value]:
    """``{symbol: i64}`` loaded from the sizes table ``table`` (``i64*``, ``symbols`` order)."""
    return {name: b.load(b.gep(table, [ir.Constant(I64, i)], inbounds=True), name=name)
            for i, name in enumerate(symbols)}


def size_value(b: ir.IRBuilder, d, sizes: dict[str, ir.Value]) -> ir.Value:
    """Size ``d`` (an int, or a ``Sym``: its polynomial over the i64 ``sizes`` of its symbols) as
    an i64 at ``b``'s position."""
    if not isinstance(d, Sym):
        return ir.Constant(I64, d)
    total = None
    for mono, coeff in d.terms:
        term = ir.Constant(I64, coeff)
        for name, power in mono:
            for _ in range(power):
                term = b.mul(term, sizes[name], flags=("nsw",))
        total = term if total is None else b.add(total, term, flags=("nsw",))
    return total


class KernelBuilder:
    """Emits one kernel function into an ``ir.Module``: ``void @name(T0* noalias %b0, ...,
    i64 %start, i64 %end)`` for kernel description ``k`` (its ``buffers`` as pointers), with the
    loops, loads, stores and expressions every kind of kernel uses; ``llvm.LoopBuilder``,
    ``llvm_rows.RowBuilder`` and ``llvm_epilogue.EpilogueBuilder`` add what their kernels run.
    ``vars`` binds loop variables to values, ``memo`` holds the expressions computed in the
    current loop body (cleared where a body starts)."""
    def __init__(self, module: ir.Module, k: LoopKernel | RowKernel, symbols: tuple[str, ...] = ()):
        self.module, self.k = module, k
        sized = bool(kernel_symbols(k))   # symbolic extents: an ``i64* sizes`` argument (``symbols`` order)
        args = [MEM[b.dtype].as_pointer() for b in k.buffers] + [I64.as_pointer()] * sized + [I64, I64]
        self.fn = ir.Function(module, ir.FunctionType(ir.VoidType(), args), name=k.name)
        for i, a in enumerate(self.fn.args[:len(k.buffers)]):
            a.name = f"b{i}"
            a.add_attribute("noalias")
        self.start, self.end = self.fn.args[-2:]
        self.start.name, self.end.name = "start", "end"
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.vars: dict[E.Var, ir.Value] = {}
        self.memo: dict = {}
        self.check_slots: dict[tuple[int, int], tuple] = {}
        self.sizes: dict[str, ir.Value] = {}
        if sized:
            table = self.fn.args[len(k.buffers)]
            table.name = "sizes"
            self.sizes = load_sizes(self.b, table, symbols)

    def extent(self, v: E.Var) -> ir.Value:
        """Loop ``v``'s trip count: a constant, or a symbolic size computed from the sizes the
        kernel was called with (its polynomial in the symbols)."""
        return self.size(v.extent)

    def size(self, d) -> ir.Value:
        """Size ``d`` (an int or a ``Sym``) as an i64, computed in the entry block."""
        if not isinstance(d, Sym):
            return ir.Constant(I64, d)
        missing = d.symbols - set(getattr(self, "sizes", {}))
        if missing:
            raise LuminaCodegenError(f"llvm: {self.fn.name} computes with the symbolic size {d}, but it is "
                                     f"given no value for {sorted(missing)}")
        with self.b.goto_entry_block():
            return size_value(self.b, d, self.sizes)

    # ---- loops ------------------------------------------------------------------------------------
    def loop(self, var: E.Var, lo: ir.Value, hi: ir.Value, body, rolled: bool = False):
        """``for var in [lo, hi): body()`` (a counted loop; no iteration when ``lo >= hi``);
        ``rolled``: never unrolled before the vectorizer sees it (``llvm.loop.unroll.disable``); a
        long innermost body is interleaved (``LONG_BODY``)."""
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
        backedge = b.cbranch(b.icmp_signed("<", nxt, hi), loop, done)
        properties = [] if not rolled else [UNROLL_DISABLE]
        if self._long_innermost(loop, done):
            properties.append(INTERLEAVE)
        if properties:
            backedge.set_metadata("llvm.loop", loop_id(self.module, *(
                self.module.add_metadata([ir.MetaDataString(self.module, p[0]), *p[1:]]) for p in properties)))
        b.position_at_end(done)
        return pre, head, carried

    def _long_innermost(self, loop: ir.Block, done: ir.Block) -> bool:
        """Whether the loop whose body starts at block ``loop`` (its exit: ``done``, appended
        before the body's other blocks) holds no other loop and at least ``LONG_BODY``
        instructions."""
        blocks = self.b.function.blocks
        body = [loop, *blocks[blocks.index(done) + 1:]]
        if any(block.name.endswith(".head") for block in body):
            return False
        return sum(len(block.instructions) for block in body) >= LONG_BODY

    def finish(self) -> None:
        """Record the index checks' findings (see the module docstring) and return."""
        b = self.b
        for (buf, site), (slot, span) in self.check_slots.items():
            worst = b.load(slot)
            with b.if_then(b.icmp_unsigned(">=", worst, ir.Constant(I64, span)), likely=False):
                b.atomic_rmw("umax", self.pointer(buf, ir.Constant(I64, site)), worst, "monotonic")
        b.ret_void()

    def nest(self, loops: list, body) -> None:
        """Loops over ``loops`` (outer to inner; the first domain var runs over [start, end)).

        An innermost loop at least ``ROLLED_MIN`` long inside another is kept rolled for the
        vectorizer: LLVM would otherwise unroll its constant trip count away first and vectorize
        the outer loop instead, with gathers and scatters. Measured (Zen 5, f32 ``x * w`` over
        [50176, 32], ``w`` [32]): 1.0-2.7 ms unrolled, 0.14 ms rolled, as for [25088, 64]."""
        if not loops:
            body()
            return
        v, rest = loops[0], loops[1:]
        first = bool(self.k.domain) and v is self.k.domain[0]
        lo = self.start if first else ir.Constant(I64, 0)
        hi = self.end if first else self.extent(v)
        rolled = not rest and not first and hint(v.extent) >= ROLLED_MIN
        self.loop(v, lo, hi, lambda: self.nest(rest, body), rolled=rolled)

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
        pa, px = L.param("%a", dt), L.param("%x", dt)
        return self.template(L.maximum(pa, px, dt), {pa: acc, px: x})

    def _row_major(self, vars) -> ir.Value:
        return self.expr(E.position(vars)) if vars else ir.Constant(I64, 0)

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
            return self._binary(e.op, self.expr(e.a), self.expr(e.b), e.a.dtype, e.contract)
        if isinstance(e, E.Select):
            return b.select(self.expr(e.cond), self.expr(e.a), self.expr(e.b))
        if isinstance(e, E.Cast):
            return self._cast(self.expr(e.x), e.x.dtype, e.dtype)
        if isinstance(e, E.Acc) and e.stage in getattr(self, "accs", {}):
            return self.accs[e.stage]
        if isinstance(e, E.Check):
            return self._check(e)
        if isinstance(e, E.Size):
            return self.size(e.value)
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

    def _binary(self, op: Op | KOp, x, y, dt: DType, contract: bool = False):
        """``op`` of register values ``x`` and ``y`` (both of ``dt``); ``contract``: with LLVM's
        ``contract`` flag (``E.Bin.contract``)."""
        b = self.b
        if op in _CMP:
            if dt.is_float:   # ne is unordered: true for NaN, as NumPy's
                return b.fcmp_unordered("!=", x, y) if op is Op.NE else b.fcmp_ordered(_CMP[op], x, y)
            if dt is DType.bool:   # i1: signed, true would be -1 and order below false
                return b.icmp_unsigned(_CMP[op], x, y)
            return b.icmp_signed(_CMP[op], x, y)
        if dt.is_float and op in _FLOAT:
            return getattr(b, _FLOAT[op])(x, y, flags=("contract",) if contract else ())
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




