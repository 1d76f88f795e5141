"""Scalar expressions (``codegen.expr``) as Metal Shading Language statements.

The semantics are the kernel description's (``ir.ops``), the LLVM renderer's too. A description is
legalized first (``LEGALIZE``: ``rand`` becomes SplitMix64 in 64-bit integer operations, a 16-bit
result is computed in float32 and rounded; see ``codegen.legalize``), then each op is a table
entry; the ops whose meaning takes more than one operation are helper functions (``HELPERS``,
defined before a kernel that uses them) rendered from ``codegen.legalize``'s templates, the CPU's
definition: NaN-propagating ``maximum``/``minimum`` (``lum_max``, ``lum_min``; ``ne`` is
unordered), integer ``div`` made total (``lum_div``: x / 0 = 0, MIN / -1 wraps), index
``floordiv``/``mod`` whose dividend may be negative (``lum_floordiv``, ``lum_mod``), the rounding
to bfloat16 (``lum_bf16_round32``) and ``erf``, which MSL lacks (``lum_erf``: the float32
polynomial the CPU uses). Registers: ``bool``, ``int``, ``long`` and ``float``, the 16-bit floats
held in ``float``; memory: bool as ``uchar`` bytes, float16 as ``half``, bfloat16 as its ``ushort``
bit pattern (Metal's own ``bfloat`` type needs MSL 3.1, macOS 14; bit operations work on every
Metal GPU). Integer arithmetic wraps, as it does on the GPU (the CPU shim compiles with
``-fwrapv``).

Metal has no float64: any float64 value raises ``LuminaCodegenError``.

An index check (``expr.Check``) is rendered as its value only: the index, counted from the end when
negative, or 0 when out of range, so the lookup stays in bounds; nothing is recorded in the status
buffer (MSL has no portable 64-bit atomics), so on Metal an index out of range computed on the GPU
is clamped, not reported.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...ir.ops import Op
from ...codegen import expr as E
from ...codegen import legalize as L
from ...codegen.expr import KOp
from ...codegen.kernel import Reduce

LEGALIZE = frozenset({L.Rule.RAND, L.Rule.ROUND_16BIT})
"""The ``codegen.legalize`` rules a description is rendered after (the rest are ``HELPERS``)."""

MEM = {DType.bool: "uchar", DType.int32: "int", DType.int64: "long", DType.float16: "half",
       DType.bfloat16: "ushort", DType.float32: "float"}
REG = {DType.bool: "bool", DType.int32: "int", DType.int64: "long", DType.float16: "float",
       DType.bfloat16: "float", DType.float32: "float"}
# The op tables: ``metal::`` functions of float operands, infix operators (comparisons, C's
# truncating integer ``/`` and ``%``, bitwise ``&`` ``|`` on bools and integers), helper calls.
_MATH = {Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH}
_INFIX = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=",
          Op.EQ: "==", Op.NE: "!=", Op.AND: "&", Op.OR: "|", KOp.TRUNC_DIV: "/", KOp.TRUNC_REM: "%",
          KOp.XOR: "^", KOp.SHR: ">>"}
_CALLS = {KOp.FLOORDIV: ("lum_floordiv", "lum_floordiv"), KOp.MOD: ("lum_floordiv", "lum_mod")}

# Helper functions a kernel's source defines before the kernel when it uses them: name -> (the
# helpers it calls, source); the ones built from legalize's templates are added below.
HELPERS: dict[str, tuple[tuple[str, ...], str]] = {
    "lum_bf16_round": (("lum_bf16_round32",), """\
inline float lum_bf16_round(float x) { return as_type<float>(lum_bf16_round32(x)); }"""),
    "lum_bf16_bits": (("lum_bf16_round32",), """\
inline ushort lum_bf16_bits(float x) { return ushort(lum_bf16_round32(x) >> 16); }"""),
    "lum_bf16_load": ((), """\
inline float lum_bf16_load(ushort b) { return as_type<float>(uint(b) << 16); }"""),
    "lum_f16_round": ((), """\
inline float lum_f16_round(float x) { return float(half(x)); }"""),
}


def reg(dt: DType, where: str) -> str:
    """The MSL register type of ``dt``; float64 raises (Metal has no double)."""
    if dt not in REG:
        raise LuminaCodegenError(f"metal: kernel {where}: dtype {dt.name} is not supported "
                                 f"(Metal has no 64-bit floats)")
    return REG[dt]


def mem(dt: DType, where: str) -> str:
    """The MSL memory (buffer element) type of ``dt``; float64 raises."""
    reg(dt, where)
    return MEM[dt]


def float_literal(v: float) -> str:
    """An exact float32 literal."""
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "(-INFINITY)"
    text = str(np.float32(v))
    if "." not in text and "e" not in text:
        text += ".0"
    return text + "f"


def int_literal(v: int, dt: DType) -> str:
    v = int(v)
    bits = 32 if dt is DType.int32 else 64
    if v == -(1 << (bits - 1)):
        return f"({v + 1}{'L' if bits == 64 else ''} - 1)"
    if bits == 64 and not -(1 << 31) <= v < (1 << 31):
        return f"{v}L"
    return str(v)


def identity(op: Reduce, dt: DType) -> str:
    """The starting value of a "sum" or "max" reduction of ``dt`` values (as ``llvm.py``)."""
    if op is Reduce.SUM:
        return "0.0f" if dt.is_float else "0"
    if dt.is_float:
        return "(-INFINITY)"
    return int_literal(-(1 << (31 if dt is DType.int32 else 63)), dt)


class Emitter:
    """Builds a kernel body: ``expr`` renders an expression as SSA-style typed locals (shared
    subexpressions once per scope), ``line`` adds a statement, ``block`` opens a ``{ }`` scope whose
    locals are forgotten when it closes. ``buffers`` names each kernel buffer (``{index: (name,
    dtype)}``); ``special`` maps a buffer index to a register that stands for every load of it (an
    epilogue's dot result)."""

    def __init__(self, name: str, buffers: dict[int, str], special: dict[int, str] | None = None):
        self.name = name
        self.buffers = buffers
        self.special = special or {}
        self.lines: list[str] = []
        self.depth = 1
        self.scopes: list[dict] = [{}]
        self.vars: dict[E.Var, str] = {}
        self.accs: dict[int, str] = {}
        self.helpers: set[str] = set()
        # the kernel skeletons' own names (metal.py), never given to a loop variable
        self.names: set[str] = {"tg", "lid", "gid", "j", "s", "acc", "bi", "m", "n", "c", "k0", "ka",
                                "kb", "kk", "lum_a", "lum_b"}
        self.count = 0

    # ---- statements -------------------------------------------------------------------------------
    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def block(self, head: str):
        self.line(head + " {")
        self.depth += 1
        self.scopes.append({})
        try:
            yield
        finally:
            self.scopes.pop()
            self.depth -= 1
            self.line("}")

    def fresh(self, stem: str) -> str:
        name, i = stem, 0
        while name in self.names:
            i += 1
            name = f"{stem}_{i}"
        self.names.add(name)
        return name

    def bind(self, var: E.Var, value: str) -> str:
        """Declare loop variable ``var`` (a ``long``) as ``value``; returns its name."""
        stem = "".join(c if c.isalnum() else "_" for c in var.name)
        if stem[:1] in ("t", "b") and stem[1:].isdigit() or not stem[:1].isalpha():
            stem = "v_" + stem   # temporaries are t<i>, buffers b<i>
        name = self.vars.get(var) or self.fresh(stem)
        self.vars[var] = name
        self.line(f"const long {name} = {value};")
        return name

    def unravel(self, vars, flat: str) -> None:
        """Bind ``vars`` (outer to inner) to the row-major unravelling of the index ``flat``."""
        stride = 1
        for i, v in reversed(list(enumerate(vars))):
            value = flat if stride == 1 else f"{flat} / {stride}"
            if i > 0:
                value = f"({value}) % {v.extent}" if stride != 1 else f"{flat} % {v.extent}"
            self.bind(v, value)
            stride *= v.extent

    def use(self, helper: str) -> str:
        self.helpers.add(helper)
        return helper

    def temp(self, dt: DType, rhs: str) -> str:
        self.count += 1
        name = f"t{self.count}"
        self.line(f"const {reg(dt, self.name)} {name} = {rhs};")
        return name

    # ---- memory -------------------------------------------------------------------------------------
    def load(self, buf: int, index: str, dt: DType) -> str:
        x = f"{self.buffers[buf]}[{index}]"
        mem(dt, self.name)
        if dt is DType.bool:
            return f"{x} != 0"
        if dt is DType.float16:
            return f"float({x})"
        if dt is DType.bfloat16:
            return f"{self.use('lum_bf16_load')}({x})"
        return x

    def store(self, buf: int, index: str, value: str, dt: DType) -> None:
        mem(dt, self.name)
        if dt is DType.bool:
            value = f"uchar({value})"
        elif dt is DType.float16:
            value = f"half({value})"
        elif dt is DType.bfloat16:
            value = f"{self.use('lum_bf16_bits')}({value})"
        self.line(f"{self.buffers[buf]}[{index}] = {value};")

    def round(self, x: str, dt: DType) -> str:
        """A float register value rounded onto the grid of the 16-bit float ``dt``."""
        if dt is DType.float16:
            return f"{self.use('lum_f16_round')}({x})"
        if dt is DType.bfloat16:
            return f"{self.use('lum_bf16_round')}({x})"
        return x

    def combine(self, op: Reduce, acc: str, x: str, dt: DType) -> str:
        """``acc`` folded with ``x`` by reduction ``op`` ("sum" or NaN-propagating "max")."""
        if op is Reduce.SUM:
            return f"{acc} + {x}"
        if op is not Reduce.MAX:
            raise LuminaCodegenError(f"metal: kernel {self.name}: unknown reduction {op!r}")
        if dt.is_float:
            return f"{self.use('lum_max')}({acc}, {x})"
        return f"({acc} > {x} ? {acc} : {x})"

    def hoist(self, exprs, inner) -> None:
        """Emit, in the current scope, every largest subexpression of ``exprs`` that reads none of
        the loop variables ``inner``, so a loop over them reuses it (a row's base index, ``log`` of
        an earlier stage's sum). As ``llvm._RowBuilder.hoist``: every index lowering emits is in
        bounds, so a hoisted load is safe even where the loop runs no iteration."""
        roots = E.invariant_roots(exprs, inner)
        for e in reversed(roots):
            self.expr(e)

    # ---- expressions --------------------------------------------------------------------------------
    def expr(self, e: E.Expr) -> str:
        for scope in reversed(self.scopes):
            if e in scope:
                return scope[e]
        out = self._expr(e)
        self.scopes[-1][e] = out
        return out

    def _expr(self, e: E.Expr) -> str:
        if isinstance(e, E.Var):
            if e not in self.vars:
                raise LuminaCodegenError(f"metal: kernel {self.name}: loop variable {e.name} is not bound")
            return self.vars[e]
        if isinstance(e, E.Const):
            return self._const(e)
        if isinstance(e, E.Acc):
            return self.accs[e.stage]
        if isinstance(e, E.Load):
            if e.buf in self.special:
                return self.special[e.buf]
            return self.temp(e.dtype, self.load(e.buf, self.expr(e.index), e.dtype))
        if isinstance(e, E.Un):
            return self.temp(e.dtype, self._unary(e.op, self.expr(e.x), e.x.dtype, e.dtype))
        if isinstance(e, E.Bin):
            return self.temp(e.dtype, self._binary(e.op, self.expr(e.a), self.expr(e.b), e.a.dtype))
        if isinstance(e, E.Select):
            c, a, b = self.expr(e.cond), self.expr(e.a), self.expr(e.b)
            return self.temp(e.dtype, f"{c} ? {a} : {b}")
        if isinstance(e, E.Cast):
            return self._cast(self.expr(e.x), e.x.dtype, e.dtype)
        if isinstance(e, E.Check):   # the value only: see the module docstring
            j = self.expr(e.index)
            low, size = int_literal(e.low, DType.int64), int_literal(e.size, DType.int64)
            index = f"({j} < 0 ? {j} + {size} : {j})" if e.low < 0 else j
            return self.temp(DType.int64, f"({j} >= {low} && {j} < {size}) ? {index} : long(0)")
        raise LuminaCodegenError(f"metal: kernel {self.name}: cannot render {type(e).__name__}")

    def _const(self, e: E.Const) -> str:
        reg(e.dtype, self.name)
        if e.dtype is DType.bool:
            return "true" if e.value else "false"
        if e.dtype.is_float:   # a 16-bit constant is on its grid already (legalize)
            return float_literal(float(e.value))
        return int_literal(e.value, e.dtype)

    def _unary(self, op: Op | KOp, x: str, dt: DType, out: DType) -> str:
        """``op`` of ``x`` (a ``dt`` register) as an ``out`` register."""
        if op is KOp.ROUND:
            return self.round(x, out)
        if op is KOp.BITCAST:
            return f"as_type<{reg(out, self.name)}>({x})"
        if op in (Op.NEG, Op.NOT):
            sign = "-" if op is Op.NEG else "!" if dt is DType.bool else "~"
            return f"{sign}{x}" if x[0].isalpha() else f"{sign}({x})"
        if op is Op.ABS:
            return f"metal::fabs({x})" if dt.is_float else f"({x} < 0 ? -{x} : {x})"
        if dt.is_float and op in _MATH:
            return f"metal::{op.value}({x})"
        if dt.is_float and op is Op.ERF:
            return f"{self.use('lum_erf')}({x})"
        raise LuminaCodegenError(f"metal: kernel {self.name}: no lowering for unary {op.value} on {dt.name}")

    def _binary(self, op: Op | KOp, x: str, y: str, dt: DType) -> str:
        """``op`` of ``x`` and ``y``, both ``dt`` registers."""
        if op in _INFIX:
            return f"{x} {_INFIX[op]} {y}"
        if op in _CALLS:
            helper, function = _CALLS[op]
            self.use(helper)
            return f"{function}({x}, {y})"
        if op is Op.DIV:
            return f"{x} / {y}" if dt.is_float else f"{self.use('lum_div')}({x}, {y})"
        if op is Op.POW and dt.is_float:
            return f"metal::pow({x}, {y})"
        if op in (Op.MAXIMUM, Op.MINIMUM):
            if dt.is_float:
                self.use("lum_max")
                return f"{'lum_max' if op is Op.MAXIMUM else 'lum_min'}({x}, {y})"
            return f"({x} {'>' if op is Op.MAXIMUM else '<'} {y} ? {x} : {y})"
        raise LuminaCodegenError(f"metal: kernel {self.name}: no lowering for binary {op.value} on {dt.name}")

    def _cast(self, x: str, src: DType, dst: DType) -> str:
        """A value converted between register types (a cast to a 16-bit float from anything but
        bool is followed by a ``KOp.ROUND``, which legalization puts there)."""
        reg(src, self.name)
        if src is dst:
            return x
        if dst is DType.bool:
            return self.temp(dst, f"{x} != 0")
        return self.temp(dst, f"{reg(dst, self.name)}({x})")

    def source_helpers(self) -> str:
        """The helpers this kernel used, dependencies first."""
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order:
                return
            for dep in HELPERS[name][0]:
                visit(dep)
            order.append(name)

        for name in sorted(self.helpers):
            visit(name)
        return "\n".join(HELPERS[n][1] for n in order)


def _function(name: str, template: E.Expr, *params: E.Var) -> str:
    """``inline T name(params) { ... }`` computing ``template`` (a ``codegen.legalize`` template
    over the ``params``), one typed local per operation."""
    em = Emitter(name, {})
    for p in params:
        em.vars[p] = p.name
        em.names.add(p.name)
    result = em.expr(template)
    args = ", ".join(f"{reg(p.dtype, name)} {p.name}" for p in params)
    return "\n".join([f"inline {reg(template.dtype, name)} {name}({args}) {{", *em.lines,
                      f"    return {result};", "}"])


def _template_helpers() -> dict[str, tuple[tuple[str, ...], str]]:
    """The ``HELPERS`` entries whose functions are ``codegen.legalize``'s templates."""
    fa, fb, x = L.param("a", DType.float32), L.param("b", DType.float32), L.param("x", DType.float32)
    long_a, long_b = L.param("a", DType.int64), L.param("b", DType.int64)
    int_a, int_b = L.param("a", DType.int32), L.param("b", DType.int32)
    return {
        "lum_bf16_round32": ((), "// float32 bits of x rounded to bfloat16 (nearest, ties to even; NaN stays "
                                 "quiet), low half zero (legalize.bf16_round_bits)\n"
                             + _function("lum_bf16_round32", L.bf16_round_bits(x), x)),
        "lum_max": ((), "// NumPy's maximum/minimum: NaN wins (legalize.maximum)\n"
                    + _function("lum_max", L.maximum(fa, fb, DType.float32), fa, fb) + "\n"
                    + _function("lum_min", L.maximum(fa, fb, DType.float32, smaller=True), fa, fb)),
        "lum_div": ((), "// C division made total, as NumPy: x / 0 = 0, MIN / -1 wraps (legalize.total_div)\n"
                    + _function("lum_div", L.total_div(int_a, int_b, DType.int32), int_a, int_b) + "\n"
                    + _function("lum_div", L.total_div(long_a, long_b, DType.int64), long_a, long_b)),
        "lum_floordiv": ((), "// Python's // and %, for dividends that may be negative "
                             "(legalize.floor_div, floor_mod)\n"
                         + _function("lum_floordiv", L.floor_div(long_a, long_b, DType.int64), long_a, long_b)
                         + "\n" + _function("lum_mod", L.floor_mod(long_a, long_b, DType.int64), long_a, long_b)),
        "lum_erf": ((), "// the CPU's float32 erf (legalize.erf32): Eigen's rational form below |x| = 0.5, "
                        "1 - erfc(|x|) (Numerical Recipes' erfcc)\n"
                    + _function("lum_erf", L.erf32(x), x)),
    }


HELPERS.update(_template_helpers())
