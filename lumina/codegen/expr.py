"""Scalar expressions of the loop-level kernel description, and the index simplifier.

A kernel computes one scalar ``Expr`` per point of its iteration domain. Expressions are frozen
dataclasses (hashable, so renderers share common subexpressions) over loop variables, immediates and
buffer loads. Index arithmetic is ordinary int64 ``Bin`` nodes; ``floordiv`` and ``mod`` normalise
it with affine forms and value ranges (as in tinygrad's symbolic and Halide's simplifier) so that a
reshape of a contiguous buffer indexes as ``i*N + j``, not as ``((i*N + j) // N) % M``.

**Ops.** A ``Un`` or ``Bin`` names its op with an enum member: the IR primitive itself
(``ir.Op.MUL``: the op means what the IR says, see ``ir.ops``) or, for what only kernels compute,
a ``KOp`` (index ``floordiv``/``mod``, and what ``codegen.legalize`` rewrites into). So
``Op.MUL`` is grep-able from the graph through the description to each renderer's table.
"""
from __future__ import annotations

import enum
import hashlib
import math
import struct
from dataclasses import dataclass, field, fields, replace
from typing import Union

from ..ir.dtypes import DType
from ..errors import LuminaSymbolicError
from ..ir.ops import COMPARISONS, Op
from ..ir.symbolic import Sym, exact_div

I64 = DType.int64


class KOp(enum.Enum):
    """A kernel-only op of a ``Un`` or ``Bin`` (the rest are ``ir.Op`` primitives).

    Lowering emits only the index ops ``FLOORDIV`` and ``MOD`` (int64, Python's floor semantics,
    which the simplifier reasons with). The others exist after ``codegen.legalize``: C's integer
    ``TRUNC_DIV`` / ``TRUNC_REM`` (truncating; the divisor is never 0, nor -1 with the smallest
    dividend), ``XOR``, ``SHR`` (arithmetic shift right, as C's ``>>`` on signed integers),
    ``BITCAST`` (``Un``: the operand's bits as ``dtype``, same width) and ``ROUND`` (``Un``: a
    float32 value rounded to the nearest ``dtype`` value, a 16-bit float, ties to even; the result
    is held in a float32 register as every 16-bit value is)."""
    FLOORDIV = "floordiv"
    MOD = "mod"
    TRUNC_DIV = "trunc_div"
    TRUNC_REM = "trunc_rem"
    XOR = "xor"
    SHR = "shr"
    BITCAST = "bitcast"
    ROUND = "round"


KernelOp = Union[Op, KOp]
_OPS = (Op, KOp)


@dataclass(frozen=True)
class Var:
    """A loop variable ranging over ``[0, extent)``."""
    name: str
    extent: int
    dtype: DType = field(default=I64, compare=False)


@dataclass(frozen=True, eq=False)
class Const:
    """A literal. Two are equal when they are the same value bit for bit: -0.0 is not 0.0 (a
    memo or CSE that merged them would flip the sign of a zero result), and NaN is NaN (so an
    expression holding one equals its copy, as a kernel description read back from disk does)."""
    value: Union[int, float, bool]
    dtype: DType

    def _key(self) -> tuple:
        v = self.value
        return self.dtype, type(v), struct.pack("<d", v) if isinstance(v, float) else v

    def __eq__(self, other) -> bool:
        return isinstance(other, Const) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True)
class Load:
    """``buffers[buf][index]``; ``index`` is an int64 expression in elements."""
    buf: int
    index: "Expr"
    dtype: DType


@dataclass(frozen=True)
class Un:
    """``op(x)``: a unary ``ir.Op`` (``Op.EXP``, ``Op.NEG``, ...) or ``KOp.BITCAST`` / ``KOp.ROUND``."""
    op: KernelOp
    x: "Expr"
    dtype: DType

    def __post_init__(self):
        _check_op(self)


@dataclass(frozen=True)
class Bin:
    """``op(a, b)``: a binary ``ir.Op`` (``Op.ADD``, ``Op.LT``, ...; comparisons have a bool
    ``dtype``) or a binary ``KOp``. ``contract``: a float add or multiply that a target may fuse
    with a multiply operand (or the add it feeds) that also says so, into one fused multiply-add
    with one rounding. Only the library's own polynomials (``legalize``'s Horner steps) set it, never
    a user's arithmetic, whose results match NumPy's op by op."""
    op: KernelOp
    a: "Expr"
    b: "Expr"
    dtype: DType
    contract: bool = False

    def __post_init__(self):
        _check_op(self)


def _check_op(e) -> None:
    if not isinstance(e.op, _OPS):   # a string op would match no renderer's table
        raise TypeError(f"{type(e).__name__}: op must be an ir.Op or a KOp, got {e.op!r}")


@dataclass(frozen=True)
class Select:
    cond: "Expr"
    a: "Expr"
    b: "Expr"
    dtype: DType


@dataclass(frozen=True)
class Cast:
    x: "Expr"
    dtype: DType


@dataclass(frozen=True)
class Rand:
    """``rand``'s sample: uniform [0, 1) from the SplitMix64 finaliser of ``key`` and ``index`` (the
    element's row-major position), as ``ir.numerics`` defines it: counter-based, so any order of
    evaluation and any thread split give the same bits. ``codegen.legalize`` turns it into integer
    operations (``Rule.RAND``)."""
    key: "Expr"
    index: "Expr"
    dtype: DType


@dataclass(frozen=True)
class Acc:
    """The result of reduction stage ``stage`` of a ``kernel.RowKernel`` at the current point of its
    outer loops (a register, not a load): how later stages read a row's max, sum or mean."""
    stage: int
    dtype: DType


@dataclass(frozen=True)
class Check:
    """``check_index`` (``ir.ops``) at one point: ``index`` (int64) counted from the end when it is
    negative and ``low`` is ``-size``, and 0 when it is outside ``[low, size)``, so what it indexes
    stays in bounds. An entry outside is recorded in element ``site`` of the kernel's status buffer
    ``buf`` (int64, one element per ``kernel.IndexCheck``): the renderer keeps the largest
    ``index - low`` (unsigned) of the kernel's points and, when it is ``>= size - low``, stores it
    there with an atomic unsigned max; the runtime reads the buffer after the launch."""
    index: "Expr"
    low: int
    size: int
    buf: int
    site: int
    dtype: DType = I64


@dataclass(frozen=True)
class Size:
    """A symbolic size's value (``ir.symbolic.Sym``: ``B``, ``B*T``) as an int64, from the sizes the
    kernel is called with: the ``size`` primitive."""
    value: object   # a Sym
    dtype: DType = I64


Expr = Union[Var, Const, Load, Un, Bin, Select, Cast, Rand, Acc, Check, Size]


def _cached_hash(self) -> int:
    """Hash once per node: expressions are DAGs with shared subtrees, and the dataclass hash would
    walk them as trees (exponential in the depth of fused index arithmetic)."""
    h = self.__dict__.get("_hash")
    if h is None:
        h = hash((type(self).__name__,) + tuple(_hash_key(getattr(self, name)) for name in self._fields))
        object.__setattr__(self, "_hash", h)
    return h


def _hash_key(v):
    return v.value if isinstance(v, _OPS) else v


def stable_key(e) -> str:
    """A digest of expression ``e``'s structure that is the same in every process (Python's
    ``hash`` of a string is not: ``PYTHONHASHSEED``), computed once per node. ``_order`` sorts
    index atoms by it, so generated code does not depend on the process that generated it."""
    key = e.__dict__.get("_stable_key")
    if key is None:
        parts = [type(e).__name__]
        for name in e._fields:
            v = getattr(e, name)
            if isinstance(v, _EXPR_TYPES):
                parts.append(stable_key(v))
            elif isinstance(v, tuple) and any(isinstance(x, _EXPR_TYPES) for x in v):
                parts.append("(" + ",".join(stable_key(x) if isinstance(x, _EXPR_TYPES) else repr(x) for x in v) + ")")
            else:
                parts.append(repr(v.value if isinstance(v, _OPS) else v))
        key = hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()
        object.__setattr__(e, "_stable_key", key)
    return key


def _pickled_state(self) -> dict:
    """An expression's fields for pickle, without its cached ``hash``: Python's hash of a string
    differs between processes, and a stale cached one would make equal expressions unequal to a
    dict (a description read back from the disk cache, ``compiler.cached_program``)."""
    return {k: v for k, v in self.__dict__.items() if k != "_hash"}


_EXPR_TYPES = (Var, Const, Load, Un, Bin, Select, Cast, Rand, Acc, Check, Size)
for _cls in _EXPR_TYPES:
    _cls._fields = tuple(f.name for f in fields(_cls) if f.compare)
    _cls.__hash__ = _cached_hash if _cls is not Const else Const.__hash__   # a leaf hashes its bits
    _cls.__getstate__ = _pickled_state

COMPARE = frozenset(COMPARISONS)
"""The comparison ops (``ir.ops.COMPARISONS``): a ``Bin`` of one has a bool ``dtype``."""


def iconst(v: int) -> Const:
    return Const(int(v), I64)


def children(e: Expr) -> tuple:
    if isinstance(e, (Var, Const, Acc, Size)):
        return ()
    if isinstance(e, Load):
        return (e.index,)
    if isinstance(e, (Un, Cast)):
        return (e.x,)
    if isinstance(e, Bin):
        return (e.a, e.b)
    if isinstance(e, Select):
        return (e.cond, e.a, e.b)
    if isinstance(e, Rand):
        return (e.key, e.index)
    if isinstance(e, Check):
        return (e.index,)
    raise TypeError(e)


def loads(e: Expr) -> list:
    """Every distinct ``Load`` in expression ``e`` (indices included: a gather's load of its index)."""
    out, stack, seen = [], [e], set()
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, Load):
            out.append(x)
        stack.extend(children(x))
    return out


_CHILD_FIELDS = {Load: ("index",), Un: ("x",), Cast: ("x",), Bin: ("a", "b"), Select: ("cond", "a", "b"),
                 Rand: ("key", "index"), Check: ("index",)}


def with_children(e: Expr, kids) -> Expr:
    """``e`` with its children (``children(e)``, in that order) replaced by ``kids``; ``e`` itself
    when every one is the same object."""
    names = _CHILD_FIELDS.get(type(e), ())
    if all(getattr(e, name) is kid for name, kid in zip(names, kids)):
        return e
    return replace(e, **dict(zip(names, kids)))


# ---- affine index forms ---------------------------------------------------------------------------
# An index is kept as {atom: coefficient} + constant, where an atom is a Var or any non-affine
# subexpression (a floordiv, a mod, a select, a load for gather).

Affine = tuple[dict, int]


def _affine(e: Expr) -> Affine:
    # Coefficients and the constant are ints, or symbolic sizes (``ir.symbolic.Sym``: a ``Size``
    # factor, the stride of a dim after a symbolic one).
    if isinstance(e, Const):
        return {}, int(e.value)
    if isinstance(e, Size):
        return {}, e.value
    if isinstance(e, Bin) and e.op is Op.ADD:
        (ta, ca), (tb, cb) = _affine(e.a), _affine(e.b)
        terms = dict(ta)
        for k, v in tb.items():
            terms[k] = terms.get(k, 0) + v
        return {k: v for k, v in terms.items() if v != 0}, ca + cb
    if isinstance(e, Bin) and e.op is Op.SUB:
        (ta, ca), (tb, cb) = _affine(e.a), _affine(e.b)
        terms = dict(ta)
        for k, v in tb.items():
            terms[k] = terms.get(k, 0) - v
        return {k: v for k, v in terms.items() if v != 0}, ca - cb
    if isinstance(e, Bin) and e.op is Op.MUL:
        for x, c in ((e.a, e.b), (e.b, e.a)):
            if isinstance(c, (Const, Size)):
                f = int(c.value) if isinstance(c, Const) else c.value
                t, k = _affine(x)
                return {a: v * f for a, v in t.items() if v * f != 0}, k * f
    return {e: 1}, 0


def _coefficient(c) -> Expr:
    """An affine form's coefficient or constant as an expression."""
    return Size(c) if isinstance(c, Sym) else iconst(c)


def _within(e: Expr, c) -> bool:
    """Whether ``0 <= e < c`` for every value of the symbols: by ``e``'s bounds, or ``e`` is a loop
    variable over exactly ``[0, c)`` (a symbolic extent, which ``bounds`` cannot compare:
    ``n % s0`` for ``n`` in ``0..s0`` is ``n``, the index of a broadcast row of a mask)."""
    if isinstance(e, Var) and e.extent == c:
        return True
    lo, hi = bounds(e)
    return 0 <= lo and _below(hi, c)


def _below(x, c) -> bool:
    """Whether ``x < c`` for every value of the symbols (False when the sizes decide it)."""
    try:
        return bool(x < c)
    except LuminaSymbolicError:
        return False


def _recombine(terms: dict, const: int) -> tuple[dict, int]:
    """Fold ``c*k*(e // k) + c*(e % k)`` back into ``c*e`` (what a reshape that splits an axis and
    one that merges it again leave behind), until no such pair is left."""
    changed = True
    while changed:
        changed = False
        for atom, c in list(terms.items()):
            if not (isinstance(atom, Bin) and atom.op is KOp.MOD and isinstance(atom.b, Const)):
                continue
            k = int(atom.b.value)
            partner = floordiv(atom.a, k)
            if terms.get(partner) != c * k:
                continue
            del terms[atom], terms[partner]
            inner, k0 = _affine(atom.a)
            const += c * k0
            for a, v in inner.items():
                terms[a] = terms.get(a, 0) + c * v
            terms = {a: v for a, v in terms.items() if v}
            changed = True
            break
    return terms, const


def _from_affine(terms: dict, const: int) -> Expr:
    if any(isinstance(a, Bin) and a.op is KOp.MOD for a in terms):
        terms, const = _recombine(dict(terms), const)
    out = None
    for atom, coeff in sorted(terms.items(), key=lambda kv: _order(kv[0])):
        term = atom if coeff == 1 else Bin(Op.MUL, atom, _coefficient(coeff), I64)
        out = term if out is None else Bin(Op.ADD, out, term, I64)
    if out is None:
        return _coefficient(const)
    return out if const == 0 else Bin(Op.ADD, out, _coefficient(const), I64)


def _order(atom: Expr):
    # Vars first in name order (outer loops before inner ones), other atoms after.
    return (0, atom.name, "") if isinstance(atom, Var) else (1, type(atom).__name__, stable_key(atom))


_BOUNDED = (Op.ADD, Op.SUB, Op.MUL, KOp.FLOORDIV, KOp.MOD)


def bounds(e: Expr) -> tuple[int, int]:
    """Inclusive [lo, hi] of an int64 index expression (conservative)."""
    if isinstance(e, Var):
        return (0, e.extent - 1) if isinstance(e.extent, int) else (0, 1 << 62)   # a symbolic extent
    if isinstance(e, Const):
        return int(e.value), int(e.value)
    if isinstance(e, Bin) and e.op in _BOUNDED:
        (al, ah), (bl, bh) = bounds(e.a), bounds(e.b)
        if e.op is Op.ADD:
            return al + bl, ah + bh
        if e.op is Op.SUB:
            return al - bh, ah - bl
        if e.op is Op.MUL:
            c = [al * bl, al * bh, ah * bl, ah * bh]
            return min(c), max(c)
        if e.op is KOp.FLOORDIV and bl == bh and bl > 0:
            return al // bl, ah // bl
        if e.op is KOp.MOD and bl == bh and bl > 0:
            return (al, ah) if 0 <= al and ah < bl else (0, bl - 1)
    if isinstance(e, Select):
        al, ah = _bounds_where(e.cond, e.a, *bounds(e.a))
        bl, bh = bounds(e.b)
        if al > ah:   # the condition never holds
            return bl, bh
        return min(al, bl), max(ah, bh)
    if isinstance(e, Check):
        return 0, max(e.size - 1, 0)
    if isinstance(e, Size):
        return 2, 1 << 62   # a symbol is at least 2 (ir.symbolic.MIN_SIZE)
    return -(1 << 62), 1 << 62


_LIMITS = {Op.GE: (0, None), Op.GT: (1, None), Op.LT: (None, -1), Op.LE: (None, 0)}


def _bounds_where(cond: Expr, x: Expr, lo: int, hi: int) -> tuple[int, int]:
    """``[lo, hi]`` (the bounds of ``x``) narrowed to where ``cond`` holds, for a condition that is
    a conjunction of comparisons of ``x`` itself with constants (the range check of a clamped index,
    ``select(x >= 0 and x < n, x, 0)``: there ``x`` is in ``[0, n)``)."""
    if isinstance(cond, Bin) and cond.op is Op.AND:
        return _bounds_where(cond.b, x, *_bounds_where(cond.a, x, lo, hi))
    if isinstance(cond, Bin) and cond.op in _LIMITS and cond.a is x and isinstance(cond.b, Const):
        low, high = _LIMITS[cond.op]
        c = int(cond.b.value)
        if low is not None:
            lo = max(lo, c + low)
        if high is not None:
            hi = min(hi, c + high)
    return lo, hi


def _split(terms: dict, const, c):
    """Split an affine form into (part divisible by c) and (remainder part). With a symbolic
    ``c`` or coefficients, the divisible part is what divides exactly for every size."""
    if isinstance(c, int) and not any(isinstance(v, Sym) for v in (const, *terms.values())):
        q_terms = {a: v // c for a, v in terms.items() if v % c == 0}
        r_terms = {a: v for a, v in terms.items() if v % c != 0}
        return (q_terms, const // c), (r_terms, const % c)
    q_terms, r_terms = {}, {}
    for a, v in terms.items():
        q = exact_div(v, c)
        if q is None:
            r_terms[a] = v
        else:
            q_terms[a] = q
    q = exact_div(const, c)
    return (q_terms, q if q is not None else 0), (r_terms, 0 if q is not None else const)


def _factor(terms: dict, const: int, c: int):
    """``e = g*A + r`` with ``g`` the largest divisor of ``c`` (> 1) for which the terms whose
    coefficients ``g`` does not divide, plus ``const % g``, stay in ``[0, g)``: returns ``(g, A, r)``
    as expressions, or None. Then ``e // c = A // (c/g)`` and ``e % c = g*(A % (c/g)) + r``."""
    if isinstance(c, Sym) or any(isinstance(v, Sym) for v in (const, *terms.values())):
        return None   # gcds of symbolic sizes: not attempted
    best = None
    for coeff in sorted({abs(v) for v in terms.values()}, reverse=True):
        g = math.gcd(coeff, c)
        if g <= 1 or (best is not None and g <= best[0]):
            continue
        small = {a: v for a, v in terms.items() if v % g}
        r = _from_affine(small, const % g)
        lo, hi = bounds(r)
        if 0 <= lo and hi < g:
            best = (g, _from_affine({a: v // g for a, v in terms.items() if v % g == 0}, const // g), r)
    return best


def floordiv(e: Expr, c) -> Expr:
    """``e // c`` (floor division by a positive constant or symbolic size), simplified."""
    if c == 1:
        return e
    if isinstance(e, Bin) and e.op is KOp.FLOORDIV and isinstance(e.b, (Const, Size)):   # (x // a) // c
        return floordiv(e.a, (int(e.b.value) if isinstance(e.b, Const) else e.b.value) * c)
    terms, k = _affine(e)
    (qt, qk), (rt, rk) = _split(terms, k, c)   # e = c*q + rest, so e // c = q + rest // c
    rest = _from_affine(rt, rk)
    if _within(rest, c):
        inner = iconst(0)
    else:
        factored = _factor(rt, rk, c)
        inner = floordiv(factored[1], c // factored[0]) if factored else Bin(KOp.FLOORDIV, rest, _coefficient(c), I64)
    return affine_sum([(1, _from_affine(qt, qk)), (1, inner)])


def mod(e: Expr, c) -> Expr:
    """``e % c`` (Python's sign convention, positive constant or symbolic size ``c``), simplified."""
    if c == 1:
        return iconst(0)
    terms, k = _affine(e)
    (_, _), (rt, rk) = _split(terms, k, c)
    rest = _from_affine(rt, rk)
    if _within(rest, c):
        return rest
    factored = _factor(rt, rk, c)   # the multiples of c in e are gone: e % c = rest % c
    if factored is not None:
        g, a, r = factored
        return affine_sum([(g, mod(a, c // g)), (1, r)])
    return Bin(KOp.MOD, rest, _coefficient(c), I64)


def affine_sum(pairs, const: int = 0) -> Expr:
    """``sum(coeff * expr) + const``, normalised."""
    terms: dict = {}
    k = const
    for coeff, e in pairs:
        t, c = _affine(e)
        k += coeff * c
        for a, v in t.items():
            terms[a] = terms.get(a, 0) + coeff * v
    return _from_affine({a: v for a, v in terms.items() if v != 0}, k)


def row_major(index, shape) -> Expr:
    """The linear position of ``index`` (one expression per dim) in a row-major array of ``shape``.
    A dim of size 1 indexed by a constant adds nothing (the constant is 0), so a symbolic size
    after it (``[1, B, ...]``) is not a stride; any other index of it is kept (a checked gather
    index must be evaluated, for its check)."""
    pairs, stride = [], 1
    for i, d in zip(reversed(index), reversed(shape)):
        if not (d == 1 and isinstance(i, Const)):
            pairs.append((stride, i))
        stride *= d
    return affine_sum(pairs)


def position(vars) -> Expr:
    """The row-major position of the point ``vars`` (loop variables, outer to inner) in the box of
    their own extents."""
    return row_major(vars, [v.extent for v in vars])


def strides_of(e: Expr, vars: list[Var]) -> tuple[list[int], int] | None:
    """If ``e`` is affine in ``vars`` alone, its per-var coefficients and constant; else None."""
    terms, k = _affine(e)
    if any(not isinstance(a, Var) or a not in vars for a in terms):
        return None
    return [terms.get(v, 0) for v in vars], k


def affine_terms(e: Expr) -> Affine:
    """``e`` as ``({atom: coefficient}, constant)``; non-affine parts are atoms."""
    return _affine(e)


def reads_vars(exprs, inner) -> dict:
    """``{subexpression: whether it reads a loop variable of inner}`` over ``exprs`` (post-order,
    iteratively: fused expressions can be deep)."""
    inner = set(inner)
    depends: dict = {}
    stack = [(e, False) for e in exprs]
    while stack:
        e, done = stack.pop()
        if e in depends:
            continue
        if done:
            depends[e] = (isinstance(e, Var) and e in inner) or any(depends[c] for c in children(e))
            continue
        stack.append((e, True))
        stack.extend((c, False) for c in children(e) if c not in depends)
    return depends


def invariant_roots(exprs, inner) -> list:
    """The largest subexpressions of ``exprs`` that read none of the loop variables ``inner``
    (leaves aside): what a renderer computes once outside the loops over ``inner`` (a row's base
    index, ``log`` of an earlier stage's sum). Hoisting a load is safe: every index that lowering
    emits is in bounds, even where the loop runs no iteration."""
    depends = reads_vars(exprs, inner)
    roots, seen, stack = [], set(), list(exprs)
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if depends[e]:
            stack.extend(children(e))
        elif not isinstance(e, (Var, Const, Acc)):
            roots.append(e)
    return roots
