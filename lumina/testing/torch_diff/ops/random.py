"""Random sampling: randperm, multinomial, bernoulli, normal and the in-place fills (normal_,
uniform_, exponential_, geometric_, random_, bernoulli_): lumina's streams differ from torch's by
design, so the rows compare dtypes, shapes and errors with torch (``values=False``) and check the
values' ranges (``check_extra``); tests/test_sampling.py checks the distributions."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import lumina

from ..cases import FLOATS, Arr, Case, Dt
from ..spec import OpSpec
from ..strategies import array, rarely, shapes
from ..tensors import lumina_numpy

EXCLUDED: dict[str, str] = {
    "lumina.Generator": "a random stream object, not an op; tests/test_sampling.py checks that a seeded Generator "
                        "repeats its draws whatever else is drawn, and its state round trip",
}
"""This family's namesakes not run by the harness, each with the reason."""


def _values(out):
    """The sample(s) of a result: the tensor itself, or the updated tensor of an in-place call."""
    t = out[0] if isinstance(out, tuple) else out
    return lumina_numpy(t) if isinstance(t, lumina.Tensor) else None


def _within(check, what):
    def extra(case, lout, tout):
        v = _values(lout)
        if v is None or v.size == 0:
            return []
        return [] if check(case, np.asarray(v, np.float64)) else [f"{what}: got {np.unique(v)[:8]}"]
    return extra


@st.composite
def _randperm_cases(draw, dtype):
    n = draw(st.integers(-1 if rarely(draw, 10) else 0, 8))
    kw = {"dtype": Dt(dtype)} if dtype != "int64" or draw(st.booleans()) else {}
    return Case((n,), kw, dtype=dtype)


def _is_permutation(case, v):
    return sorted(v.tolist()) == list(range(case.args[0]))


@st.composite
def _multinomial_cases(draw, dtype):
    """Non-negative weights (1-d or 2-d, some zero; a negative one or an all-zero row now and
    then), ``num_samples`` up to the categories (past them, or 0, rarely), with or without
    replacement."""
    shape = draw(st.sampled_from([(4,), (2, 3), (1, 5)]))
    w = draw(array(dtype, shape, 0, 3, special=False))
    w.reshape(-1, shape[-1])[:, 0] += 1          # every row has weight
    if rarely(draw, 10):
        w.reshape(-1)[0] = -1
    replacement = draw(st.booleans())
    n = draw(st.integers(1, shape[-1] if not replacement else 6))
    if rarely(draw, 10):
        n = draw(st.sampled_from([0, shape[-1] + 1]))
    return Case((Arr(w), n, replacement), dtype=dtype)


def _multinomial_ok(case, v):
    w = np.asarray(case.args[0].value, np.float64).reshape(-1, case.args[0].value.shape[-1])
    rows = v.reshape(w.shape[0], -1).astype(np.int64)
    if ((rows < 0) | (rows >= w.shape[1])).any():
        return False
    if not case.args[2]:        # without replacement: distinct, positive weights first
        return all(len(set(r)) == len(r) and all(w[i, c] > 0 for c in r[:int((w[i] > 0).sum())])
                   for i, r in enumerate(rows))
    return all(w[i, c] > 0 for i, r in enumerate(rows) for c in r)


@st.composite
def _probability_cases(draw, dtype):
    """``bernoulli(p)`` with ``p`` in [0, 1] (1.5 now and then: torch raises), or ``bernoulli(x,
    p)`` with a number."""
    p = draw(array(dtype, draw(shapes(0, 3)), 0, 1, special=False))
    if p.size and rarely(draw, 10):
        p.reshape(-1)[0] = 1.5
    if draw(st.booleans()):
        return Case((Arr(p), draw(st.sampled_from([0.0, 0.3, 1.0, 1.5]))), dtype=dtype)
    return Case((Arr(p),), dtype=dtype)


def _binary_values(case, v):
    return bool(np.isin(v, (0.0, 1.0)).all())


@st.composite
def _normal_cases(draw, dtype):
    """torch's four overloads: tensor / number mean and std (std < 0 now and then), or numbers
    and a size with a dtype."""
    form = draw(st.integers(0, 3))
    std_number = draw(st.sampled_from([1.0, 0.5, 0.0] + ([-1.0] if rarely(draw, 8) else [])))
    mean = Arr(draw(array(dtype, draw(shapes(0, 2)), -3, 3)))
    std = Arr(draw(array(dtype, draw(shapes(0, 2)), 0, 2)))
    if form == 0:
        return Case((mean, std), dtype=dtype)
    if form == 1:
        return Case((mean, std_number), dtype=dtype)
    if form == 2:
        return Case((draw(st.sampled_from([0.0, 2.5])), std), dtype=dtype)
    return Case((0.5, std_number, draw(shapes(0, 3))), {"dtype": Dt(dtype)}, dtype=dtype)


def _in_place(name):
    def call(L, x, *a, **kw):
        y = x.clone()
        r = getattr(y, name)(*a, **kw)
        return y, r, r is y
    return call


@st.composite
def _fill_cases(draw, dtype, name):
    """A tensor to fill, and torch's parameters for ``name`` (an invalid one now and then)."""
    x = Arr(draw(array(dtype, draw(shapes(0, 3)))))
    bad = rarely(draw, 8)
    if name == "normal_":
        return Case((x, draw(st.sampled_from([0, 1.5])), -1.0 if bad else draw(st.sampled_from([1, 0.5]))),
                    dtype=dtype)
    if name == "uniform_":
        lo = draw(st.sampled_from([0, -2.0]))
        return Case((x, lo, lo - 1 if bad else lo + draw(st.sampled_from([1, 3.5]))), dtype=dtype)
    if name == "exponential_":
        return Case((x, 0.0 if bad else draw(st.sampled_from([1.0, 2.5]))), dtype=dtype)
    if name == "geometric_":
        return Case((x, 1.0 if bad else draw(st.sampled_from([0.2, 0.7]))), dtype=dtype)
    if name == "bernoulli_":
        return Case((x, 1.5 if bad else draw(st.sampled_from([0.0, 0.4, 1.0]))), dtype=dtype)
    form = draw(st.integers(0, 2))                      # random_
    if form == 0:
        return Case((x,), dtype=dtype)
    if form == 1:
        return Case((x, 0 if bad else draw(st.integers(1, 9))), dtype=dtype)
    lo = draw(st.integers(-5, 5))
    return Case((x, lo, lo if bad else lo + draw(st.integers(1, 9))), dtype=dtype)


def _fill_ok(name):
    def ok(case, v):
        a = case.args[1:]
        if name == "uniform_":
            return bool(((v >= a[0]) & (v <= a[1])).all())      # <=: the float32 rounding of a value near ``to``
        if name in ("exponential_",):
            return bool((v >= 0).all())
        if name == "geometric_":
            return bool(((v >= 1) & (v == np.floor(v))).all())
        if name == "bernoulli_":
            return _binary_values(case, v)
        if name == "random_":
            if case.dtype == "bool":
                return True
            lo, hi = (0, a[0]) if len(a) == 1 else (a[0], a[1]) if len(a) == 2 else (0, math.inf)
            return bool(((v >= lo) & (v < hi) & (v == np.floor(v))).all())
        return bool(np.isfinite(v).all())
    return ok


def specs() -> list[OpSpec]:
    """This family's rows."""
    common = dict(values=False, grad=False)
    rows = [
        OpSpec("lumina.randperm", lambda L, n, **k: L.randperm(n, **k), _randperm_cases,
               dtypes=("int64", "int32", "float32"), check_extra=_within(_is_permutation, "randperm: not a permutation"),
               checks="a permutation of 0..n-1; dtype=; n < 0 raises", **common),
        OpSpec("lumina.multinomial", lambda L, w, n, r: L.multinomial(w, n, r), _multinomial_cases,
               dtypes=("float32", "float64"), check_extra=_within(_multinomial_ok, "multinomial: bad categories"),
               checks="categories in range, of positive weight, distinct without replacement; torch's errors",
               **common),
        OpSpec("Tensor.multinomial", lambda L, w, n, r: w.multinomial(n, r), _multinomial_cases,
               dtypes=("float32",), check_extra=_within(_multinomial_ok, "multinomial: bad categories"), **common),
        OpSpec("lumina.bernoulli", lambda L, p, *a: L.bernoulli(p, *a), _probability_cases, dtypes=FLOATS[:2],
               check_extra=_within(_binary_values, "bernoulli: values other than 0 and 1"),
               checks="0 / 1 in the input's dtype; p outside [0, 1] raises", **common),
        OpSpec("Tensor.bernoulli", lambda L, p, *a: p.bernoulli(*a), _probability_cases, dtypes=("float32",),
               check_extra=_within(_binary_values, "bernoulli: values other than 0 and 1"), **common),
        OpSpec("lumina.normal", lambda L, *a, **k: L.normal(*a, **k), _normal_cases, dtypes=("float32", "float64"),
               check_extra=_within(lambda c, v: bool(np.isfinite(v).all()), "normal: non-finite samples"),
               checks="the four overloads' shapes and dtypes; std < 0 raises", **common),
    ]
    for name in ("normal_", "uniform_", "exponential_", "geometric_", "bernoulli_", "random_"):
        dts = ("float32", "float64") if name in ("normal_", "uniform_", "exponential_") else \
            ("float32", "int64", "int32") + (("bool",) if name in ("random_", "bernoulli_") else ())
        rows += [OpSpec(f"Tensor.{name}", _in_place(name), (lambda n: lambda d: _fill_cases(d, n))(name),
                        dtypes=dts + (("int64",) if name in ("normal_", "uniform_") else ()),
                        check_extra=_within(_fill_ok(name), f"{name}: values out of range"),
                        checks="returns self; the range of the values; torch's errors", **common)]
    return rows
