"""Symbolic dimensions: a ``TensorType`` dim is an ``int`` or a ``Sym``, a polynomial with integer
coefficients over named size symbols (``B``, ``2*B``, ``B*T + 1``).

A graph traced with a symbolic dim computes every shape from it (``reshape(-1, C)`` of a
``[B, T, C]`` value is ``[B*T, C]``), so one executable serves every size. As in
``torch.compile``'s dynamic shapes, a symbol stands for a size of **at least 2**: sizes 0 and 1 are
specialised (broadcasting tells 1 apart), so ``B > 0`` is True. Equality is structural: ``B == B``
is True, ``B == 1``, ``B == 16`` and ``B == T`` are False (different sizes, treated as 3 and 4 are:
the program never relies on them coinciding). An order the assumption does not decide
(``B < 16``, ``B < T``), a value (``int(B)``, ``range(B)``) or an inexact division raises
``LuminaSymbolicError``: the compiler then specialises the dims to their sizes (and says why, in
``LUMINA_LOG=recompiles``), never guesses.

Arithmetic keeps a ``Sym`` exact: ``+ - *`` with ints and other ``Sym``s, ``//`` and ``%`` only when
the division is exact (``(B*T) // T`` is ``B``; ``B // 2`` raises). A result without symbols is a
plain ``int``. ``hint(d)``: a size for heuristics (block sizes, thread splits), never for results.
"""
from __future__ import annotations

import ast
import functools
import math
import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Mapping, Union

from ..errors import LuminaSymbolicError

Monomial = tuple[tuple[str, int], ...]   # ((symbol, power), ...) sorted by symbol; () is the constant
MIN_SIZE = 2          # every symbol's value is at least this (sizes 0 and 1 are specialised)
HINT = 64             # the size a symbol stands for in heuristics (``hint``): a batch or a sequence
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    powers = dict(a)
    for name, p in b:
        powers[name] = powers.get(name, 0) + p
    return tuple(sorted(powers.items()))


def _mono_div(a: Monomial, b: Monomial) -> Monomial | None:
    """``a / b`` when ``b`` divides ``a``, else None."""
    powers = dict(a)
    for name, p in b:
        if powers.get(name, 0) < p:
            return None
        powers[name] -= p
    return tuple(sorted((n, p) for n, p in powers.items() if p))


class Sym:
    """A polynomial size over symbols (see the module docstring). Immutable and hashable; build one
    with ``Sym.symbol(name)`` and arithmetic."""
    __slots__ = ("terms", "_hash")

    def __init__(self, terms: dict[Monomial, int]):
        self.terms: tuple[tuple[Monomial, int], ...] = tuple(sorted((m, c) for m, c in terms.items() if c))
        self._hash = hash(self.terms)

    @staticmethod
    def symbol(name: str) -> "Sym":
        """The symbol ``name`` (an identifier: it prints in IR text as a dim)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise LuminaSymbolicError(f"a size symbol is named by an identifier, not {name!r}")
        return Sym({((name, 1),): 1})

    # ---- construction -------------------------------------------------------------------------
    @staticmethod
    def _make(terms: dict[Monomial, int]) -> "Dim":
        terms = {m: c for m, c in terms.items() if c}
        if not terms or set(terms) == {()}:
            return terms.get((), 0)
        return Sym(terms)

    @staticmethod
    def _terms(x) -> dict[Monomial, int]:
        if isinstance(x, Sym):
            return dict(x.terms)
        if isinstance(x, bool) or not isinstance(x, int):
            raise TypeError
        return {(): x} if x else {}

    # ---- arithmetic ---------------------------------------------------------------------------
    def __add__(self, other):
        try:
            o = Sym._terms(other)
        except TypeError:
            return NotImplemented
        t = dict(self.terms)
        for m, c in o.items():
            t[m] = t.get(m, 0) + c
        return Sym._make(t)

    __radd__ = __add__

    def __neg__(self):
        return Sym._make({m: -c for m, c in self.terms})

    def __sub__(self, other):
        try:
            o = Sym._terms(other)
        except TypeError:
            return NotImplemented
        return self + Sym._make({m: -c for m, c in o.items()})

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        try:
            o = Sym._terms(other)
        except TypeError:
            return NotImplemented
        t: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in o.items():
                m = _mono_mul(m1, m2)
                t[m] = t.get(m, 0) + c1 * c2
        return Sym._make(t)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        q = exact_div(self, other)
        if q is None:
            raise LuminaSymbolicError(f"{self} // {other} is not exact: the result depends on the size")
        return q

    def __rfloordiv__(self, other):
        q = exact_div(other, self)
        if q is None:
            raise LuminaSymbolicError(f"{other} // {self} is not exact: the result depends on the size")
        return q

    def __mod__(self, other):
        if exact_div(self, other) is None:
            raise LuminaSymbolicError(f"{self} % {other} depends on the size")
        return 0

    def __rmod__(self, other):
        if exact_div(other, self) is None:
            raise LuminaSymbolicError(f"{other} % {self} depends on the size")
        return 0

    def __truediv__(self, other):
        raise LuminaSymbolicError(f"{self} / {other}: a size used as a number needs its value "
                                  "(a mean over a symbolic dim is computed from its size at run time)")

    __rtruediv__ = __truediv__

    # ---- comparisons (decided with every symbol >= MIN_SIZE, else raise) -----------------------
    def _diff_range(self, other) -> tuple[float, float]:
        """Bounds of ``self - other`` over every value of the symbols."""
        try:
            d = self - other
        except TypeError:
            raise LuminaSymbolicError(f"cannot compare size {self} with {other!r}") from None
        return d._range() if isinstance(d, Sym) else (d, d)

    def _decide(self, other, true_if, false_if, op: str) -> bool:
        lo, hi = self._diff_range(other)
        if true_if(lo, hi):
            return True
        if false_if(lo, hi):
            return False
        env = _ASSUMED.get()
        if env is not None and (self - other).symbols <= set(env.values):
            return env.decide(self, other, op)
        raise LuminaSymbolicError(f"whether {self} {op} {other} depends on the size")

    def _range(self) -> tuple[float, float]:
        """Bounds of the value over symbols >= MIN_SIZE. Each symbol ``x`` is written ``MIN_SIZE + y``
        (``y >= 0``): in the expanded polynomial a term with a positive coefficient is at least 0
        and unbounded above, a negative one the reverse (``12*B**2 - B`` is ``12*y**2 + 47*y + 46``:
        at least 46)."""
        shifted = self
        for name in self.symbols:
            shifted = _substitute(shifted, name, Sym.symbol(name) + MIN_SIZE)
        if not isinstance(shifted, Sym):
            return shifted, shifted
        lo = hi = 0.0
        for m, c in shifted.terms:
            if not m:
                lo += c
                hi += c
            elif c > 0:
                hi = math.inf
            else:
                lo = -math.inf
        return lo, hi

    def __eq__(self, other):
        # Structural: equal polynomials are equal sizes; a different one (``B`` and ``16``, ``B``
        # and ``T``) is a different size, which shape code then treats as it treats 3 and 4 (a
        # broadcast error, a copy): the program never relies on the sizes coinciding.
        if isinstance(other, Sym):
            return other.terms == self.terms
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return False   # a Sym is never a constant (arithmetic returns an int then)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __lt__(self, other):
        return self._decide(other, lambda lo, hi: hi < 0, lambda lo, hi: lo >= 0, "<")

    def __le__(self, other):
        return self._decide(other, lambda lo, hi: hi <= 0, lambda lo, hi: lo > 0, "<=")

    def __gt__(self, other):
        return self._decide(other, lambda lo, hi: lo > 0, lambda lo, hi: hi <= 0, ">")

    def __ge__(self, other):
        return self._decide(other, lambda lo, hi: lo >= 0, lambda lo, hi: hi < 0, ">=")

    def __hash__(self):
        return self._hash

    def __bool__(self):
        return self._decide(0, lambda lo, hi: lo > 0 or hi < 0, lambda lo, hi: lo == hi == 0, "!=")

    def __index__(self):
        raise LuminaSymbolicError(f"size {self} is symbolic: this needs its value")

    __int__ = __index__

    def __float__(self):
        raise LuminaSymbolicError(f"size {self} is symbolic: this needs its value")

    # ---- values -------------------------------------------------------------------------------
    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(name for m, _ in self.terms for name, _ in m)

    def evaluate(self, values: Mapping[str, int]) -> int:
        """The size for ``values`` ({symbol: int}); raises LuminaSymbolicError naming a missing one."""
        total = 0
        for m, c in self.terms:
            term = c
            for name, p in m:
                if name not in values:
                    raise LuminaSymbolicError(f"size {self}: no value for symbol {name}")
                term *= values[name] ** p
            total += term
        return total

    def __str__(self):
        parts = []
        for m, c in sorted(self.terms, key=lambda t: (-sum(p for _, p in t[0]), t[0])):
            factors = [n if p == 1 else f"{n}**{p}" for n, p in m]
            if not factors:
                parts.append(str(c))
            else:
                parts.append("*".join(([] if c in (1, -1) else [str(abs(c))]) + factors))
                if c < 0:
                    parts[-1] = "-" + parts[-1]
        text = " + ".join(parts).replace("+ -", "- ")
        return text

    def __repr__(self):
        return f"Sym({self})"

    def __reduce__(self):
        return (Sym, (dict(self.terms),))


Dim = Union[int, Sym]


def _substitute(p: Sym, name: str, value) -> "Dim":
    """Polynomial ``p`` with symbol ``name`` replaced by ``value`` (an int or a Sym)."""
    total = 0
    for m, c in p.terms:
        term = c
        for n, power in m:
            factor = value if n == name else Sym({((n, 1),): 1})
            for _ in range(power):
                term = term * factor
        total = total + term
    return total


def exact_div(a, b) -> Dim | None:
    """``a / b`` when it divides exactly for every value of the symbols (ints or ``Sym``s), else None."""
    if isinstance(b, int) and not isinstance(b, Sym):
        if b == 0:
            return None
        if isinstance(a, int):
            return a // b if a % b == 0 else None
        if all(c % b == 0 for _, c in a.terms):
            return Sym._make({m: c // b for m, c in a.terms})
        return None
    if isinstance(a, int) and a == 0:
        return 0
    if len(b.terms) != 1:   # a sum: the quotient of the leading terms, if it multiplies back to ``a``
        if not isinstance(a, Sym):
            return None
        (ma, ca), (mb, cb) = a.terms[-1], b.terms[-1]
        mono = _mono_div(ma, mb)
        if mono is None or ca % cb:
            return None
        q = Sym._make({mono: ca // cb})
        back = q * b
        return q if isinstance(back, Sym) and back.terms == a.terms else None
    (mb, cb), = b.terms
    out: dict[Monomial, int] = {}
    for m, c in Sym._terms(a).items():
        q = _mono_div(m, mb)
        if q is None or c % cb:
            return None
        out[q] = c // cb
    return Sym._make(out)


def is_symbolic(d) -> bool:
    """Whether ``d`` (a dim) is a ``Sym``."""
    return isinstance(d, Sym)


def shape_symbols(shape) -> frozenset[str]:
    """The symbols in the dims of ``shape``."""
    out: frozenset[str] = frozenset()
    for d in shape:
        if isinstance(d, Sym):
            out |= d.symbols
    return out


def evaluate(d: Dim, values: Mapping[str, int]) -> int:
    """Dim ``d`` for symbol ``values``."""
    return d.evaluate(values) if isinstance(d, Sym) else d


def evaluate_shape(shape, values: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(evaluate(d, values) for d in shape)


@functools.lru_cache(maxsize=4096)
def _hint(d: Sym) -> int:
    return d.evaluate({name: HINT for name in d.symbols})


def hint(d: Dim) -> int:
    """A size heuristics may plan for: ``d`` itself, or a ``Sym`` at every symbol = ``HINT``. The
    same for every trace, so what a heuristic picks never depends on which size came first."""
    return _hint(d) if isinstance(d, Sym) else d


_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}


def literal(text: str):
    """A Python literal (numbers, strings, tuples, lists, None, booleans) in which identifiers
    are size symbols and sizes may be polynomials (``(4*s0, 3)``, ``B*T + 1``, ``B**2``): how
    the IR parser reads dims and attributes. Raises ValueError for anything else."""
    def go(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return Sym.symbol(node.id)
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [go(e) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = go(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](go(node.left), go(node.right))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base, power = go(node.left), go(node.right)
            if isinstance(power, int) and power >= 0:
                out = 1
                for _ in range(power):
                    out = out * base
                return out
        raise ValueError(f"not a literal or a size: {ast.unparse(node)}")
    try:
        return go(ast.parse(text.strip(), mode="eval").body)
    except SyntaxError as e:
        raise ValueError(f"cannot read {text!r}: {e.msg}") from None


_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b, "!=": lambda a, b: a != b}


class Guards:
    """The sizes a trace runs at (``values``: {symbol: int}) and the guards it recorded: each
    comparison of sizes that the symbols alone do not decide (``B <= 512``, a slice's end within
    its dim) is decided at ``values`` and kept as ``(lhs, op, rhs, outcome)``, as
    ``torch.compile``'s guards are. What was traced holds wherever every guard does
    (``hold``)."""

    def __init__(self, values: Mapping[str, int]):
        self.values = dict(values)
        self.guards: list[tuple] = []

    def decide(self, lhs, rhs, op: str) -> bool:
        outcome = _COMPARE[op](evaluate(lhs, self.values), evaluate(rhs, self.values))
        if (lhs, op, rhs, outcome) not in self.guards:
            self.guards.append((lhs, op, rhs, outcome))
        return outcome

    def hold(self, values: Mapping[str, int]) -> bool:
        """Whether every guard gives its recorded outcome at ``values``."""
        return all(_COMPARE[op](evaluate(a, values), evaluate(b, values)) == outcome
                   for a, op, b, outcome in self.guards)

    def describe(self) -> list[str]:
        return [f"{a} {op} {b}" if outcome else f"not {a} {op} {b}" for a, op, b, outcome in self.guards]


_ASSUMED: ContextVar[Guards | None] = ContextVar("lumina_assumed_sizes", default=None)


@contextmanager
def assuming(values: Mapping[str, int]) -> Iterator[Guards]:
    """Within the block (in this thread), a comparison of sizes that the symbols do not decide is
    decided at ``values`` and recorded as a guard of the yielded ``Guards`` (a trace's)."""
    guards = Guards(values)
    token = _ASSUMED.set(guards)
    try:
        yield guards
    finally:
        _ASSUMED.reset(token)
