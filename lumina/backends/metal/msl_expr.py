"""Scalar expressions (``codegen.expr``) as Metal Shading Language statements.

The semantics are the LLVM renderer's (``backends.cpu.llvm``), which is the spec:

* registers: ``bool``, ``int``, ``long`` and ``float``; float16 and bfloat16 are held in ``float``
  and every op whose result is a 16-bit float rounds it (nearest, ties to even) back onto the 16-bit
  grid, except the exact ones (neg, abs, maximum, minimum);
* memory: bool as ``uchar`` bytes, float16 as ``half``, bfloat16 as its ``ushort`` bit pattern.
  Metal's own ``bfloat`` type needs MSL 3.1 (macOS 14); bit operations work on every Metal GPU and
  are exactly the conversion ``llvm.py`` does (round-to-nearest-even, NaN stays a quiet NaN);
* maximum/minimum and the "max" reduction propagate NaN like NumPy; ``ne`` is unordered;
* integer ``div`` is total (x / 0 = 0, MIN / -1 wraps); index ``floordiv``/``mod`` floor;
* ``Rand`` is SplitMix64 of (key, index) in 64-bit unsigned arithmetic (``ulong``);
* erf has no MSL built-in: ``lum_erf`` is ``llvm_math.erf``'s formula (Eigen's rational form below
  |x| = 0.5, Numerical Recipes' ``erfcc`` above).

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
from ...codegen.expr import KOp
from ...codegen.kernel import Reduce

MEM = {DType.bool: "uchar", DType.int32: "int", DType.int64: "long", DType.float16: "half",
       DType.bfloat16: "ushort", DType.float32: "float"}
REG = {DType.bool: "bool", DType.int32: "int", DType.int64: "long", DType.float16: "float",
       DType.bfloat16: "float", DType.float32: "float"}
_EXACT = {Op.NEG, Op.ABS, Op.MAXIMUM, Op.MINIMUM}
_RAND_BITS = {DType.float16: 11, DType.bfloat16: 8, DType.float32: 24}
_MATH = {Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH}
_CMP = {Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=", Op.EQ: "==", Op.NE: "!="}
_ARITH = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*"}

# Helper functions a kernel's source defines before the kernel when it uses them: name -> (the
# helpers it calls, source).
HELPERS: dict[str, tuple[tuple[str, ...], str]] = {
    "lum_bf16_round32": ((), """\
// float32 bits of x rounded to bfloat16 (nearest, ties to even; NaN stays quiet), low half zero
inline uint lum_bf16_round32(float x) {
    uint bits = as_type<uint>(x);
    uint rounded = bits + (((bits >> 16) & 1u) + 0x7FFFu);
    return (metal::isnan(x) ? (bits | 0x00400000u) : rounded) & 0xFFFF0000u;
}"""),
    "lum_bf16_round": (("lum_bf16_round32",), """\
inline float lum_bf16_round(float x) { return as_type<float>(lum_bf16_round32(x)); }"""),
    "lum_bf16_bits": (("lum_bf16_round32",), """\
inline ushort lum_bf16_bits(float x) { return ushort(lum_bf16_round32(x) >> 16); }"""),
    "lum_bf16_load": ((), """\
inline float lum_bf16_load(ushort b) { return as_type<float>(uint(b) << 16); }"""),
    "lum_f16_round": ((), """\
inline float lum_f16_round(float x) { return float(half(x)); }"""),
    "lum_max": ((), """\
// NumPy's maximum/minimum: NaN wins
inline float lum_max(float a, float b) { return (a > b || metal::isnan(a)) ? a : b; }
inline float lum_min(float a, float b) { return (a < b || metal::isnan(a)) ? a : b; }"""),
    "lum_div": ((), """\
// C division made total, as NumPy: x / 0 = 0, MIN / -1 wraps
inline int lum_div(int x, int y) {
    return y == 0 ? 0 : (y == -1 ? int(0u - uint(x)) : x / y);
}
inline long lum_div(long x, long y) {
    return y == 0 ? 0 : (y == -1 ? long(0ul - ulong(x)) : x / y);
}"""),
    "lum_floordiv": ((), """\
// Python's // and % by a positive constant, for dividends that may be negative
inline long lum_floordiv(long x, long c) { long q = x / c; return (x % c != 0 && x < 0) ? q - 1 : q; }
inline long lum_mod(long x, long c) { long r = x % c; return r < 0 ? r + c : r; }"""),
    "lum_rand": ((), """\
// SplitMix64 (Steele, Lea & Flood 2014) of key and index: the top `bits` bits as a fraction
inline float lum_rand(long key, long index, uint bits, float scale) {
    ulong z = (ulong(key) + 1ul) * 0x9E3779B97F4A7C15ul + ulong(index);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
    z = z ^ (z >> 31);
    return float(z >> (64u - bits)) * scale;
}"""),
    "lum_erf": ((), None),   # built by _erf_source below
}


def _horner(x: str, coeffs) -> str:
    out = float_literal(coeffs[0])
    for c in coeffs[1:]:
        out = f"({out} * {x} + {float_literal(c)})"
    return out


def _erf_source() -> str:
    p = [-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
         -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02]
    q = [-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
         -1.42647390514189e-02]
    tail = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
            0.37409196, 1.00002368, -1.26551223]
    return f"""\
// llvm_math.erf: Eigen's rational form below |x| = 0.5, 1 - erfc(|x|) (Numerical Recipes' erfcc)
inline float lum_erf(float x) {{
    const float xc = metal::fmax(metal::fmin(x, 4.0f), -4.0f);
    const float x2 = xc * xc;
    const float small = xc * {_horner("x2", p)} / {_horner("x2", q)};
    const float z = metal::fmin(metal::fabs(x), 10.0f);
    const float t = 1.0f / (1.0f + z * 0.5f);
    const float tail = t * metal::exp({_horner("t", tail)} - z * z);
    const float y = metal::fabs(x) < 0.5f ? small : metal::copysign(1.0f - tail, x);
    return metal::isnan(x) ? x : y;
}}"""



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
            v = self.temp(e.dtype, self._unary(e.op, self.expr(e.x), e.x.dtype))
            return v if e.op in _EXACT or not e.dtype.is_half else self.temp(e.dtype, self.round(v, e.dtype))
        if isinstance(e, E.Bin):
            v = self.temp(e.dtype, self._binary(e, self.expr(e.a), self.expr(e.b)))
            return v if e.op in _EXACT or not e.dtype.is_half else self.temp(e.dtype, self.round(v, e.dtype))
        if isinstance(e, E.Select):
            c, a, b = self.expr(e.cond), self.expr(e.a), self.expr(e.b)
            return self.temp(e.dtype, f"{c} ? {a} : {b}")
        if isinstance(e, E.Cast):
            return self._cast(self.expr(e.x), e.x.dtype, e.dtype)
        if isinstance(e, E.Rand):
            if e.dtype not in _RAND_BITS:
                reg(e.dtype, self.name)
                raise LuminaCodegenError(f"metal: kernel {self.name}: rand of {e.dtype.name}")
            bits = _RAND_BITS[e.dtype]
            key, index = self.expr(e.key), self.expr(e.index)
            return self.temp(e.dtype, f"{self.use('lum_rand')}({key}, {index}, {bits}u, "
                                      f"{float_literal(2.0 ** -bits)})")
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
        if e.dtype.is_float:   # a 16-bit constant (a pad value) need not be on its grid yet
            return float_literal(float(np.float32(e.value).astype(e.dtype.numpy)))
        return int_literal(e.value, e.dtype)

    def _unary(self, op: Op, x: str, dt: DType) -> str:
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

    def _binary(self, e: E.Bin, x: str, y: str) -> str:
        op, dt = e.op, e.a.dtype
        if op in _ARITH:
            return f"{x} {_ARITH[op]} {y}"
        if op is Op.DIV:
            return f"{x} / {y}" if dt.is_float else f"{self.use('lum_div')}({x}, {y})"
        if op in (KOp.FLOORDIV, KOp.MOD):
            if E.bounds(e.a)[0] >= 0 and E.bounds(e.b)[0] > 0:   # C's / and % agree with floor's
                return f"{x} {'/' if op is KOp.FLOORDIV else '%'} {y}"
            self.use("lum_floordiv")
            return f"{'lum_floordiv' if op is KOp.FLOORDIV else 'lum_mod'}({x}, {y})"
        if op is Op.POW and dt.is_float:
            return f"metal::pow({x}, {y})"
        if op in (Op.MAXIMUM, Op.MINIMUM):
            if dt.is_float:
                self.use("lum_max")
                return f"{'lum_max' if op is Op.MAXIMUM else 'lum_min'}({x}, {y})"
            return f"({x} {'>' if op is Op.MAXIMUM else '<'} {y} ? {x} : {y})"
        if op in _CMP:
            return f"{x} {_CMP[op]} {y}"
        if op in (Op.AND, Op.OR):
            return f"{x} {'&' if op is Op.AND else '|'} {y}"
        raise LuminaCodegenError(f"metal: kernel {self.name}: no lowering for binary {op.value} on {dt.name}")

    def _cast(self, x: str, src: DType, dst: DType) -> str:
        """As ``llvm._cast``: a 16-bit float target rounds from float32."""
        reg(src, self.name)
        if src is dst:
            return x
        if dst is DType.bool:
            return self.temp(dst, f"{x} != 0")
        value = self.temp(dst, f"{reg(dst, self.name)}({x})")
        if dst.is_half and src is not DType.bool:
            return self.temp(dst, self.round(value, dst))
        return value

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


HELPERS["lum_erf"] = ((), _erf_source())
