"""``ir.symbolic.Sym``: arithmetic agrees with integers at every value of the symbols, and what
the sizes do not decide raises instead of guessing."""
from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumina.errors import LuminaSymbolicError
from lumina.ir.symbolic import HINT, MIN_SIZE, Sym, exact_div, hint

B, T = Sym.symbol("B"), Sym.symbol("T")
values = st.fixed_dictionaries({"B": st.integers(MIN_SIZE, 10**6), "T": st.integers(MIN_SIZE, 10**6)})
ints = st.integers(-50, 50)


@st.composite
def polys(draw):
    """A small polynomial in B and T, as a Sym or an int, with the function computing it."""
    p = draw(ints)
    for _ in range(draw(st.integers(1, 3))):
        c, atom = draw(ints), draw(st.sampled_from([B, T, B * T, B * B]))
        p = p + c * atom
    return p


def ev(p, v):
    return p.evaluate(v) if isinstance(p, Sym) else p


@given(polys(), polys(), values)
def test_arithmetic_agrees_with_ints(p, q, v):
    assert ev(p + q, v) == ev(p, v) + ev(q, v)
    assert ev(p - q, v) == ev(p, v) - ev(q, v)
    assert ev(p * q, v) == ev(p, v) * ev(q, v)
    assert ev(-p, v) == -ev(p, v)


@given(polys(), st.integers(1, 9), values)
def test_exact_division_or_none(p, c, v):
    q = exact_div(p * c, c)
    assert q is not None and ev(q, v) == ev(p, v)
    q = exact_div(p, c)
    if q is not None:
        assert ev(q, v) * c == ev(p, v)


@given(polys(), polys(), values)
def test_comparisons_are_right_or_raise(p, q, v):
    for op in ("__lt__", "__le__", "__gt__", "__ge__"):
        try:
            decided = getattr(p - q, op)(0) if isinstance(p - q, Sym) else getattr(ev(p, v) - ev(q, v), op)(0)
        except LuminaSymbolicError:
            continue
        assert decided == getattr(ev(p, v), op)(ev(q, v))


def test_equality_is_structural_and_values_are_refused():
    assert B * 2 == 2 * B and hash(B * 2) == hash(2 * B)
    assert B != 1 and B != 16 and B != T
    assert (B * T * 6) // (3 * T) == 2 * B and (B * T + B) // (T + 1) == B
    assert str(3 * B * T - 2) == "3*B*T - 2" and hint(B * T) == HINT * HINT
    assert pickle.loads(pickle.dumps(B * T + 1)) == B * T + 1
    for bad in (lambda: int(B), lambda: range(B), lambda: B // 2, lambda: B % 3, lambda: B < 16,
                lambda: 1.0 / B, lambda: float(B)):
        with pytest.raises(LuminaSymbolicError):
            bad()
    assert B > 1 and B >= 2 and not B < 2 and 2 * B - 3 > 0
    with pytest.raises(LuminaSymbolicError):
        Sym.symbol("not a name")
