"""Scalar expressions (``codegen.expr``) as Triton tensor code, and the helper functions the
generated kernels share.

Every expression node becomes one Python assignment in the kernel body (``t7 = tl.exp(t6)``), so a
DAG with shared subtrees is computed once; the rounding of a 16-bit op's result (``KOp.ROUND``)
wraps the op in the same statement (``t2 = _f16((t1 + t0))``). Values live in registers as ``REG``
types: bools as ``int1``, 16-bit floats as float32, everything else as itself. Memory holds bools as bytes (the launcher
passes ``torch.bool`` buffers viewed as ``uint8``) and 16-bit floats as 16 bits.

The semantics are the kernel description's (``ir.ops``), the LLVM renderer's too. A description is
legalized first (``LEGALIZE``: ``rand`` becomes SplitMix64 in int64 operations, a 16-bit result is
computed in float32 and rounded; see ``codegen.legalize``), then each op is a table entry. The ops
whose meaning takes more than one operation are helper functions of ``PRELUDE`` rendered from
``codegen.legalize``'s templates, the CPU's definition: NaN-propagating ``maximum``/``minimum``
(``_max``, ``_min``), integer ``div`` (``_idiv``), index ``floordiv``/``mod`` whose operands may be
negative (``_floorfloordiv``, ``_floormod``), the float32 ``tanh`` polynomial (``_tanh32``) and
the rounding to bfloat16 (``_bf16``). Triton's own choices:

* float ``div`` and ``sqrt`` are IEEE round-to-nearest (``tl.div_rn``, ``tl.sqrt_rn`` for float32;
  float64's ``/`` and ``tl.sqrt`` are IEEE already), not the approximate PTX forms;
* float64 ``tanh`` is Cephes' ``tanh`` (``_tanh64``); ``pow`` is ``exp2(y * log2|x|)`` in float64
  with C's sign and zero rules (Triton has no ``pow`` outside libdevice, which the interpreter
  cannot run);
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

from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...ir.ops import Op
from ...codegen import expr as E
from ...codegen import legalize as L
from ...codegen.expr import KOp

LEGALIZE = frozenset({L.Rule.RAND, L.Rule.ROUND_16BIT})
"""The ``codegen.legalize`` rules a description is rendered after (the rest are ``PRELUDE``'s helpers)."""

# Register type of each dtype, and its memory type (what a pointer of that buffer points to).
REG = {DType.bool: "tl.int1", DType.int32: "tl.int32", DType.int64: "tl.int64",
       DType.float16: "tl.float32", DType.bfloat16: "tl.float32", DType.float32: "tl.float32",
       DType.float64: "tl.float64"}
# The Triton signature string of a buffer's pointer (``triton.compile``'s ``signature``).
POINTER = {DType.bool: "*u8", DType.int32: "*i32", DType.int64: "*i64", DType.float16: "*fp16",
           DType.bfloat16: "*bf16", DType.float32: "*fp32", DType.float64: "*fp64"}

# The op tables: ``{x}``, ``{a}``, ``{b}`` are the operands' names. Entries that depend on the
# operands' dtype are in ``_unary`` / ``_binary``.
_UNARY = {Op.NEG: "(-{x})", Op.ABS: "tl.abs({x})", Op.EXP: "tl.exp({x})", Op.LOG: "tl.log({x})",
          Op.SIN: "tl.sin({x})", Op.COS: "tl.cos({x})", Op.ERF: "tl.erf({x})"}
_BINARY = {Op.ADD: "({a} + {b})", Op.SUB: "({a} - {b})", Op.MUL: "({a} * {b})",
           KOp.TRUNC_DIV: "({a} // {b})", KOp.TRUNC_REM: "({a} % {b})", KOp.XOR: "({a} ^ {b})",
           KOp.SHR: "({a} >> {b})", KOp.FLOORDIV: "_floorfloordiv({a}, {b})", KOp.MOD: "_floormod({a}, {b})",
           Op.LT: "({a} < {b})", Op.LE: "({a} <= {b})", Op.GT: "({a} > {b})", Op.GE: "({a} >= {b})",
           Op.EQ: "({a} == {b})", Op.NE: "({a} != {b})"}
_ORDERED = (Op.LT, Op.LE, Op.GT, Op.GE)

_HEADER = '''\
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
'''

_FORMATS = '''\
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
'''

_OWN = '''\
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
'''


def scalar_text(value, dtype: DType) -> str:
    """Python text of constant ``value`` as ``dtype``'s register holds it (infinities and NaN as the
    module's constexprs; a 16-bit float constant is on its grid already, see ``codegen.legalize``)."""
    if dtype is DType.bool:
        return str(int(bool(value)))
    if not dtype.is_float:
        return str(int(value))
    v = float(value)
    if math.isnan(v):
        return "_NAN"
    if math.isinf(v):
        return "_INF" if v > 0 else "-_INF"
    return repr(v)


def literal(value, dtype: DType) -> str:
    """A Triton expression for constant ``value`` as a register of ``dtype`` (a 0-d tensor)."""
    return f"tl.full([], {scalar_text(value, dtype)}, {REG[dtype]})"


def round_to(x: str, dtype: DType) -> str:
    """``KOp.ROUND``: ``x`` (a float32 register) rounded onto ``dtype``'s grid when it is a 16-bit
    float."""
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
    own name ``prefix``. With ``literals`` constants are Python literals written where they are
    used, which take the type of the tensor they meet (a helper function's body, ``PRELUDE``)."""

    def __init__(self, lines: list[str], indent: str, names: dict, pointer, kernel: str,
                 load_override=None, prefix: str = "t", literals: bool = False):
        self.lines, self.indent, self.names = lines, indent, names
        self.pointer, self.kernel, self.load_override = pointer, kernel, load_override
        self.memo: dict = {}
        self.count = 0
        self.prefix = prefix   # unique per emitter of a kernel: a loop body must not rebind outer names
        self.literals = literals

    def emit(self, root: E.Expr) -> str:
        """The name of a tensor holding ``root`` (emitting what is not yet computed)."""
        stack = [(root, False)]
        while stack:   # iterative post-order: fused index arithmetic nests deep
            e, ready = stack.pop()
            if e in self.memo:
                continue
            kids = self._operands(e)
            if ready or not kids:
                text = self._render(e)
                self.memo[e] = text if self.literals and isinstance(e, E.Const) else self._assign(text)
                continue
            stack.append((e, True))
            stack.extend((c, False) for c in kids if c not in self.memo)
        return self.memo[root]

    def _operands(self, e: E.Expr) -> tuple:
        """What ``e``'s statement reads: its children, but an overridden load reads nothing and a
        rounded op not yet computed is written inside the rounding, so it reads the op's operands."""
        if isinstance(e, E.Load) and self._override(e):
            return ()
        if self._folds(e):
            return E.children(e.x)
        return E.children(e)

    def _folds(self, e: E.Expr) -> bool:
        """Whether ``e`` rounds the op of a 16-bit value (computed in float32 from 16-bit operands,
        ``legalize``'s ``ROUND_16BIT``: nothing else reads it) or a conversion not yet computed:
        then one statement does both, ``_f16((a + b))``."""
        if not (isinstance(e, E.Un) and e.op is KOp.ROUND) or e.x in self.memo:
            return False
        op = e.x
        return isinstance(op, E.Cast) or (isinstance(op, (E.Un, E.Bin)) and E.children(op)[0].dtype.is_half)

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
            return scalar_text(e.value, e.dtype) if self.literals else literal(e.value, e.dtype)
        if isinstance(e, E.Load):
            hit = self._override(e)
            if hit is not None:
                return hit
            return from_memory(f"tl.load({self.pointer(e.buf)} + {m[e.index]})", e.dtype)
        if self._folds(e):
            return round_to(self._render(e.x), e.dtype)
        if isinstance(e, E.Un):
            return self._unary(e.op, m[e.x], e.x.dtype, e.dtype)
        if isinstance(e, E.Bin):
            return self._binary(e.op, m[e.a], m[e.b], e.a.dtype)
        if isinstance(e, E.Select):
            return f"tl.where({m[e.cond]}, {m[e.a]}, {m[e.b]})"
        if isinstance(e, E.Cast):
            return self._cast(m[e.x], e.x.dtype, e.dtype)
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

    def _unary(self, op: Op | KOp, x: str, dt: DType, out: DType) -> str:
        """``op`` of ``x`` (a ``dt`` register) as an ``out`` register."""
        if op in _UNARY:
            return _UNARY[op].format(x=x)
        if op is KOp.ROUND:
            return round_to(x, out)
        if op is KOp.BITCAST:
            return f"{x}.to({REG[out]}, bitcast=True)"
        if op is Op.NOT:
            return f"({x} == 0)" if dt is DType.bool else f"(~{x})"
        if op is Op.SQRT and dt.is_float:   # float64 sqrt is IEEE already
            return f"tl.sqrt({x})" if dt is DType.float64 else f"tl.sqrt_rn({x})"
        if op is Op.TANH and dt.is_float:
            return f"_tanh64({x})" if dt is DType.float64 else f"_tanh32({x})"
        raise LuminaCodegenError(f"triton: kernel {self.kernel}: no lowering for unary {op.value} on {dt.name}")

    def _binary(self, op: Op | KOp, x: str, y: str, dt: DType) -> str:
        """``op`` of ``x`` and ``y``, both ``dt`` registers."""
        f = dt.is_float
        if dt is DType.bool and op in _ORDERED:   # int1 orders as signed: true < false
            x, y = f"{x}.to(tl.int8)", f"{y}.to(tl.int8)"
        if op in _BINARY:
            return _BINARY[op].format(a=x, b=y)
        if op in (Op.AND, Op.OR):   # logical on bools, bitwise on integers
            return f"_{op.value}({x}, {y})" if dt is DType.bool else f"({x} {'&' if op is Op.AND else '|'} {y})"
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
        """A value converted between register types (a cast to a 16-bit float from anything but
        bool is followed by a ``KOp.ROUND``, which legalization puts there)."""
        if src is dst or (REG[src] == REG[dst] and src is not DType.bool):
            return x
        if dst is DType.bool:
            return f"({x} != 0)"
        return f"{x}.to({REG[dst]})"


def _helper(name: str, comment: str, template, *params) -> str:
    """The ``@triton.jit`` function ``name(params)`` computing ``template`` (a ``codegen.legalize``
    template over the ``params``)."""
    lines: list[str] = []
    em = Emitter(lines, "    ", {p: p.name for p in params}, None, name, literals=True)
    result = em.emit(template)
    return "\n".join(["@triton.jit", f"def {name}({', '.join(p.name for p in params)}):", f"    # {comment}",
                      *lines, f"    return {result}"]) + "\n"


def _helpers() -> str:
    """The helpers whose bodies are ``codegen.legalize``'s templates."""
    fa, fb = L.param("a", DType.float32), L.param("b", DType.float32)
    ia, ib = L.param("a", DType.int64), L.param("b", DType.int64)
    x = L.param("x", DType.float32)
    return "\n\n".join([
        _helper("_max", "NaN-propagating maximum (legalize.maximum): a if it wins or is NaN, else b",
                L.maximum(fa, fb, DType.float32), fa, fb),
        _helper("_min", "NaN-propagating minimum (legalize.maximum)",
                L.maximum(fa, fb, DType.float32, smaller=True), fa, fb),
        _helper("_imax", "integer maximum (legalize.maximum)", L.maximum(ia, ib, DType.int64), ia, ib),
        _helper("_imin", "integer minimum (legalize.maximum)",
                L.maximum(ia, ib, DType.int64, smaller=True), ia, ib),
        _helper("_bf16", "float32 -> the nearest bfloat16 (ties to even), as float32; NaN stays a quiet NaN "
                         "(legalize.bf16_round)", L.bf16_round(x), x),
        _FORMATS,
        _helper("_idiv", "C division made total: a / 0 = 0 and MIN / -1 wraps (legalize.total_div)",
                L.total_div(ia, ib, DType.int64), ia, ib),
        _helper("_floorfloordiv", "Python's a // b from C's truncating division (legalize.floor_div)",
                L.floor_div(ia, ib, DType.int64), ia, ib),
        _helper("_floormod", "Python's a % b (legalize.floor_mod)", L.floor_mod(ia, ib, DType.int64), ia, ib),
        _helper("_tanh32", "Cephes tanhf (legalize.tanh32), the CPU's polynomial", L.tanh32(x), x),
        _OWN])


PRELUDE = _HEADER + "\n\n" + _helpers() + "\n"
"""The module header every rendered kernel starts with: imports, constants and the helpers."""
