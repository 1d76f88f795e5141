"""Scalar expressions (``codegen.expr``) as Triton tensor code, and the helper functions the
generated kernels share.

Every expression node becomes one Python assignment in the kernel body (``t7 = tl.exp(t6)``), so a
DAG with shared subtrees is computed once. Values live in registers as ``REG`` types: bools as
``int1``, 16-bit floats as float32 (rounded back onto the 16-bit grid after every op that is not
exact, as ``backends.cpu.llvm`` does), everything else as itself. Memory holds bools as bytes (the
launcher passes ``torch.bool`` buffers viewed as ``uint8``) and 16-bit floats as 16 bits.

The semantics are the LLVM renderer's (``backends.cpu.llvm``), which is the spec:

* float ``maximum``/``minimum`` propagate NaN (NumPy's rule): ``_max``/``_min`` below;
* float ``div`` and ``sqrt`` are IEEE round-to-nearest (``tl.div_rn``, ``tl.sqrt_rn`` for float32;
  float64's ``/`` and ``tl.sqrt`` are IEEE already), not the approximate PTX forms; integer ``div`` is C division made total (x / 0 = 0, MIN / -1 wraps);
  index ``floordiv``/``mod`` floor like Python's (the meaning ``expr.floordiv``/``expr.mod`` give
  them; the CPU's ``sdiv``/``srem`` agree wherever the dividend is non-negative, which is where
  the lowering produces them);
* ``tanh`` is Cephes' ``tanhf`` (float32, the polynomial ``llvm_math`` uses) or ``tanh`` (float64);
  ``pow`` is ``exp2(y * log2|x|)`` in float64 with C's sign and zero rules (Triton has no ``pow``
  outside libdevice, which the interpreter cannot run);
* ``rand`` is the SplitMix64 finaliser of ``(key + 1) * golden + index`` in uint64 arithmetic,
  keeping the top 24 (float32), 53 (float64), 11 (float16) or 8 (bfloat16) bits;
* an index check (``expr.Check``) stores ``index - low`` of an offending lane in the site's status
  element with masked atomics: ``atomic_max`` for an index past the end (a positive value),
  ``atomic_min`` for one below ``low`` (a negative one), so the element, zero before the launch,
  only ever holds an offending value, whatever the order of the lanes; the lanes that pass issue
  no memory traffic. The CPU records the same ``index - low`` (unsigned max there), so one decoder
  (``kernel.IndexCheck.error``) serves both.

exp, log, sin, cos and erf are Triton's (``tl.exp`` ...): on a GPU within a few ulp of the CPU's
Cephes polynomials, not bit-identical.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...ir.ops import Op
from ...codegen import expr as E
from ...codegen.expr import KOp

# Register type of each dtype, and its memory type (what a pointer of that buffer points to).
REG = {DType.bool: "tl.int1", DType.int32: "tl.int32", DType.int64: "tl.int64",
       DType.float16: "tl.float32", DType.bfloat16: "tl.float32", DType.float32: "tl.float32",
       DType.float64: "tl.float64"}
# The Triton signature string of a buffer's pointer (``triton.compile``'s ``signature``).
POINTER = {DType.bool: "*u8", DType.int32: "*i32", DType.int64: "*i64", DType.float16: "*fp16",
           DType.bfloat16: "*bf16", DType.float32: "*fp32", DType.float64: "*fp64"}
_EXACT = {Op.NEG, Op.ABS, Op.MAXIMUM, Op.MINIMUM}
_RAND_BITS = {DType.float16: 11, DType.bfloat16: 8, DType.float32: 24, DType.float64: 53}
_COMPARE = {Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=", Op.EQ: "==", Op.NE: "!="}
_ARITH = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*", KOp.FLOORDIV: "//", KOp.MOD: "%"}
_MATH = {Op.EXP: "tl.exp", Op.LOG: "tl.log", Op.SIN: "tl.sin", Op.COS: "tl.cos", Op.SQRT: "tl.sqrt_rn",
         Op.ERF: "tl.erf"}

PRELUDE = '''\
import triton
import triton.language as tl

_INF = tl.constexpr(float("inf"))
_NAN = tl.constexpr(float("nan"))


@triton.jit
def _or(a, b):
    # bool or through int8: the interpreter cannot | a 0-d bool with a block of bools
    return (a.to(tl.int8) | b.to(tl.int8)) != 0


@triton.jit
def _and(a, b):
    return (a.to(tl.int8) & b.to(tl.int8)) != 0


@triton.jit
def _add(a, b):
    return a + b


@triton.jit
def _max(a, b):
    # NaN-propagating maximum (NumPy's rule, as backends.cpu.llvm): a if it wins or is NaN, else b
    return tl.where(_or(a > b, a != a), a, b)


@triton.jit
def _min(a, b):
    return tl.where(_or(a < b, a != a), a, b)


@triton.jit
def _imax(a, b):
    return tl.where(a > b, a, b)


@triton.jit
def _imin(a, b):
    return tl.where(a < b, a, b)


@triton.jit
def _bf16(x):
    # float32 -> the nearest bfloat16 (ties to even), as float32; NaN stays a quiet NaN
    bits = x.to(tl.uint32, bitcast=True)
    lsb = (bits >> 16) & 1
    rounded = bits + (lsb + 0x7FFF)
    picked = tl.where(x != x, bits | 0x00400000, rounded)
    return (picked & 0xFFFF0000).to(tl.float32, bitcast=True)


@triton.jit
def _bf16_bits(x):
    # float32 -> bfloat16 storage through the bits (no conversion that could flush subnormals)
    bits = _bf16(x).to(tl.uint32, bitcast=True)
    return (bits >> 16).to(tl.uint16).to(tl.bfloat16, bitcast=True)


@triton.jit
def _bf16_load(x):
    # bfloat16 is the top half of a float32
    return (x.to(tl.uint16, bitcast=True).to(tl.uint32) << 16).to(tl.float32, bitcast=True)


@triton.jit
def _f16(x):
    return x.to(tl.float16).to(tl.float32)


@triton.jit
def _idiv(a, b):
    # C division made total: a / 0 = 0 and MIN / -1 wraps (backends.cpu.llvm._int_div)
    zero = b == 0
    neg1 = b == -1
    q = a // tl.where(_or(zero, neg1), 1, b)
    return tl.where(zero, 0, tl.where(neg1, -a, q))


@triton.jit
def _floorfloordiv(a, b):
    # Python's a // b from C's truncating division
    q = a // b
    return q - _and((a % b) != 0, (a < 0) != (b < 0)).to(q.dtype)


@triton.jit
def _floormod(a, b):
    r = a % b
    return r + tl.where(_and(r != 0, (r < 0) != (b < 0)), b, 0)


@triton.jit
def _tanh32(x):
    # Cephes tanhf: odd polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1) above
    ax = tl.abs(x)
    z = x * x
    p = (((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z
         + 1.33314422036e-1) * z - 3.33332819422e-1
    small = p * z * x + x
    e = tl.exp(tl.minimum(ax, 44.0) * 2.0)
    large = 1.0 - tl.div_rn(2.0, e + 1.0)
    large = tl.where(x < 0, -large, large)
    return tl.where(x != x, x, tl.where(ax < 0.625, small, large))


@triton.jit
def _tanh64(x):
    # Cephes tanh (double): x + x^3 P(x^2)/Q(x^2) below |x| = 0.625, the exp form above
    ax = tl.abs(x)
    z = x * x
    p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3
    q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z + 4.84406305325125486048e3
    small = x + x * z * p / q
    e = tl.exp(tl.minimum(ax, 22.0) * 2.0)
    large = 1.0 - 2.0 / (e + 1.0)
    large = tl.where(x < 0, -large, large)
    return tl.where(x != x, x, tl.where(ax < 0.625, small, large))


@triton.jit
def _pow(x, y):
    # x ** y in float64 with C pow's rules for negative bases (integral y only) and y = 0 / x = 1
    xd = x.to(tl.float64)
    yd = y.to(tl.float64)
    r = tl.exp2(yd * tl.log2(tl.abs(xd)))
    integral = tl.floor(yd) == yd
    odd = tl.abs(yd - 2.0 * tl.floor(yd * 0.5)) == 1.0   # read only where integral
    r = tl.where(xd < 0, tl.where(integral, tl.where(odd, -r, r), _NAN), r)
    r = tl.where(_or(yd == 0, xd == 1.0), 1.0, r)
    return r


@triton.jit
def _splitmix(key, index):
    # SplitMix64 finaliser of (key + 1) * golden + index, in uint64 arithmetic (backends.cpu.llvm._rand)
    z = (key + 1).to(tl.uint64) * 0x9E3779B97F4A7C15 + index.to(tl.uint64)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    return z ^ (z >> 31)
'''


def scalar_text(value, dtype: DType) -> str:
    """Python text of constant ``value`` as ``dtype``'s register holds it (a 16-bit float already
    rounded onto its grid; infinities and NaN as the module's constexprs)."""
    if dtype is DType.bool:
        return str(int(bool(value)))
    if not dtype.is_float:
        return str(int(value))
    v = float(value)
    if dtype.is_half:  # a pad value, say, need not be on the 16-bit grid yet
        v = float(np.float32(v).astype(dtype.numpy))
    if math.isnan(v):
        return "_NAN"
    if math.isinf(v):
        return "_INF" if v > 0 else "-_INF"
    return repr(v)


def literal(value, dtype: DType) -> str:
    """A Triton expression for constant ``value`` as a register of ``dtype`` (a 0-d tensor)."""
    return f"tl.full([], {scalar_text(value, dtype)}, {REG[dtype]})"


def round_to(x: str, dtype: DType) -> str:
    """``x`` (a float32 register) rounded onto ``dtype``'s grid when it is a 16-bit float."""
    if dtype is DType.float16:
        return f"_f16({x})"
    if dtype is DType.bfloat16:
        return f"_bf16({x})"
    return x


def to_memory(x: str, dtype: DType) -> str:
    """Register value ``x`` of ``dtype`` as the element type its buffer stores."""
    if dtype is DType.bool:
        return f"{x}.to(tl.uint8)"
    if dtype is DType.float16:
        return f"{x}.to(tl.float16)"
    if dtype is DType.bfloat16:
        return f"_bf16_bits({x})"
    return x


def from_memory(x: str, dtype: DType) -> str:
    """A loaded element ``x`` of ``dtype`` as its register type."""
    if dtype is DType.bool:
        return f"({x} != 0)"
    if dtype is DType.bfloat16:
        return f"_bf16_load({x})"
    if dtype is DType.float16:
        return f"{x}.to(tl.float32)"
    return x


class Emitter:
    """Appends the assignments computing expressions to ``lines`` (at ``indent``).

    ``names`` maps a ``Var`` (and, for ``Acc(j)``, the key ``("acc", j)``) to the name of the
    tensor holding it; ``pointer(buf)`` names the pointer a ``Load`` of ``buf`` reads, and
    ``load_override(load)`` may return a name instead (an epilogue's ``Load(DOT_RESULT)``). Results are
    memoised per emitter, so one emitter serves one loop body; each emitter of a kernel takes its
    own name ``prefix``."""

    def __init__(self, lines: list[str], indent: str, names: dict, pointer, kernel: str,
                 load_override=None, prefix: str = "t"):
        self.lines, self.indent, self.names = lines, indent, names
        self.pointer, self.kernel, self.load_override = pointer, kernel, load_override
        self.memo: dict = {}
        self.count = 0
        self.prefix = prefix   # unique per emitter of a kernel: a loop body must not rebind outer names

    def emit(self, root: E.Expr) -> str:
        """The name of a tensor holding ``root`` (emitting what is not yet computed)."""
        stack = [(root, False)]
        while stack:   # iterative post-order: fused index arithmetic nests deep
            e, ready = stack.pop()
            if e in self.memo:
                continue
            kids = () if isinstance(e, E.Load) and self._override(e) else E.children(e)
            if ready or not kids:
                self.memo[e] = self._assign(self._render(e))
                continue
            stack.append((e, True))
            stack.extend((c, False) for c in kids if c not in self.memo)
        return self.memo[root]

    def _override(self, e: E.Load):
        return self.load_override(e) if self.load_override is not None else None

    def _assign(self, text: str) -> str:
        if text.isidentifier():
            return text
        name = f"{self.prefix}{self.count}"
        self.count += 1
        self.lines.append(f"{self.indent}{name} = {text}")
        return name

    def _render(self, e: E.Expr) -> str:
        m = self.memo
        if isinstance(e, E.Var):
            return self.names[e]
        if isinstance(e, E.Acc):
            return self.names[("acc", e.stage)]
        if isinstance(e, E.Const):
            return literal(e.value, e.dtype)
        if isinstance(e, E.Load):
            hit = self._override(e)
            if hit is not None:
                return hit
            return from_memory(f"tl.load({self.pointer(e.buf)} + {m[e.index]})", e.dtype)
        if isinstance(e, E.Un):
            v = self._unary(e.op, m[e.x], e.x.dtype)
            return v if e.op in _EXACT else round_to(v, e.dtype)
        if isinstance(e, E.Bin) and e.op in (KOp.FLOORDIV, KOp.MOD) and not e.a.dtype.is_float:
            return self._floor(e, m[e.a], m[e.b])
        if isinstance(e, E.Bin):
            v = self._binary(e.op, m[e.a], m[e.b], e.a.dtype)
            return v if e.op in _EXACT else round_to(v, e.dtype)
        if isinstance(e, E.Select):
            return f"tl.where({m[e.cond]}, {m[e.a]}, {m[e.b]})"
        if isinstance(e, E.Cast):
            return self._cast(m[e.x], e.x.dtype, e.dtype)
        if isinstance(e, E.Rand):
            bits = _RAND_BITS[e.dtype]
            ty = REG[e.dtype]
            return (f"(_splitmix({m[e.key]}, {m[e.index]}) >> {64 - bits}).to({ty})"
                    f" * tl.full([], {2.0 ** -bits!r}, {ty})")
        if isinstance(e, E.Check):
            return self._check(e, m[e.index])
        raise LuminaCodegenError(f"triton: kernel {self.kernel}: cannot render {type(e).__name__}")

    def _check(self, e: E.Check, j: str) -> str:
        """The checked index, recording offending lanes (see the module docstring)."""
        span = e.size - e.low
        u = self._assign(f"({j} - {literal(e.low, DType.int64)})")
        ptr = self._assign(f"{self.pointer(e.buf)} + ({e.site} + {u} * 0)")   # one per lane
        self.lines.append(f"{self.indent}tl.atomic_max({ptr}, {u}, mask={u} >= {span})")
        self.lines.append(f"{self.indent}tl.atomic_min({ptr}, {u}, mask={u} < 0)")
        index = f"tl.where({j} < 0, {u}, {j})" if e.low < 0 else j
        return f"tl.where(_and({u} >= 0, {u} < {span}), {index}, {literal(0, DType.int64)})"

    def _floor(self, e: E.Bin, x: str, y: str) -> str:
        """Index ``floordiv``/``mod`` with Python's (floor) meaning, which the simplifier reasons
        with; plain C division where the bounds prove both operands non-negative."""
        if E.bounds(e.a)[0] >= 0 and E.bounds(e.b)[0] > 0:
            return f"({x} {_ARITH[e.op]} {y})"
        return f"_floor{e.op.value}({x}, {y})"

    def _unary(self, op: Op, x: str, dt: DType) -> str:
        if op is Op.NEG:
            return f"(-{x})"
        if op is Op.NOT:
            return f"({x} == 0)" if dt is DType.bool else f"(~{x})"
        if op is Op.ABS:
            return f"tl.abs({x})"
        if dt.is_float:
            if op is Op.TANH:
                return f"_tanh64({x})" if dt is DType.float64 else f"_tanh32({x})"
            if op is Op.SQRT and dt is DType.float64:   # float64 sqrt is IEEE already
                return f"tl.sqrt({x})"
            if op in _MATH:
                return f"{_MATH[op]}({x})"
        raise LuminaCodegenError(f"triton: kernel {self.kernel}: no lowering for unary {op.value} on {dt.name}")

    def _binary(self, op: Op | KOp, x: str, y: str, dt: DType) -> str:
        f = dt.is_float
        if op in _ARITH and not (f and op in (KOp.FLOORDIV, KOp.MOD)):
            return f"({x} {_ARITH[op]} {y})"
        if op in (Op.AND, Op.OR) and dt is DType.bool:
            return f"_{op.value}({x}, {y})"
        if op in (Op.AND, Op.OR):        # bitwise on integers
            return f"({x} {'&' if op is Op.AND else '|'} {y})"
        if op in _COMPARE:
            if dt is DType.bool and op not in (Op.EQ, Op.NE):   # int1 orders as signed: true < false
                x, y = f"{x}.to(tl.int8)", f"{y}.to(tl.int8)"
            return f"({x} {_COMPARE[op]} {y})"
        if op is Op.DIV:
            if not f:
                return f"_idiv({x}, {y})"
            return f"({x} / {y})" if dt is DType.float64 else f"tl.div_rn({x}, {y})"
        if op is Op.POW and f:
            return f"_pow({x}, {y}).to({REG[dt]})"
        if op in (Op.MAXIMUM, Op.MINIMUM):
            if dt is DType.bool:
                return f"_i{op.value[:3]}({x}.to(tl.int8), {y}.to(tl.int8)).to(tl.int1)"
            return f"_{'' if f else 'i'}{op.value[:3]}({x}, {y})"
        raise LuminaCodegenError(f"triton: kernel {self.kernel}: no lowering for binary {op.value} on {dt.name}")

    def _cast(self, x: str, src: DType, dst: DType) -> str:
        """As ``backends.cpu.llvm._cast``: a 16-bit target rounds from float32, so float64 and int64
        values round twice (to float32, then to 16 bits), exactly as PyTorch's casts do."""
        if src is dst:
            return x
        if dst is DType.bool:
            return f"({x} != 0)"
        if src is DType.bool:
            return f"{x}.to({REG[dst]})"
        if REG[src] == REG[dst]:
            return round_to(x, dst)
        return round_to(f"{x}.to({REG[dst]})", dst)
