"""Sorting and order statistics: sort, argsort, msort, kthvalue, median, nanmedian, mode, unique,
unique_consecutive, cummax/cummin, logcumsumexp, aminmax."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, FLOATS, INTS, Arr, Case, is_float, np_dtype
from ..spec import OpSpec
from ..strategies import array, dim_of, rarely, shapes, wants_grad
from .common import methods

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""


def _with_ties(draw, dtype, shape, specials=True):
    """Small integers (ties likely) of ``dtype``, with NaN and infinities sometimes."""
    if dtype == "bool":
        return draw(array(dtype, shape))
    vals = np.array(draw(st.lists(st.integers(-3, 3), min_size=math.prod(shape), max_size=math.prod(shape))),
                    np.float64)
    if specials and is_float(dtype) and vals.size and draw(st.booleans()):
        picks = draw(st.lists(st.sampled_from([math.nan, math.inf, -math.inf, -0.0]), max_size=3))
        for v in picks:
            vals[draw(st.integers(0, vals.size - 1))] = v
    return vals.astype(np_dtype(dtype)).reshape(shape)


def _distinct(draw, dtype, shape):
    """Distinct values (torch's choice among equal elements is unspecified for kthvalue / median),
    one NaN and infinities among them sometimes."""
    n = math.prod(shape)
    vals = np.array(draw(st.permutations(range(n))), np.float64) - n // 2
    if is_float(dtype) and n and draw(st.booleans()):
        vals = vals * 0.5
        specials = draw(st.lists(st.sampled_from([math.nan, math.inf, -math.inf]), max_size=2, unique=True))
        vals[:min(len(specials), n)] = specials[:n]
        vals = vals[np.array(draw(st.permutations(range(n))), np.int64)]
    return vals.astype(np_dtype(dtype)).reshape(shape)


@st.composite
def _sort_cases(draw, dtype):
    """``sort(x, dim, descending, stable=True)`` over ties, NaN, infinities and signed zeros."""
    shape = draw(shapes(0, 3))
    x = Arr(_with_ties(draw, dtype, shape), wants_grad(dtype, True))
    kw = {"stable": True, "dim": dim_of(draw, len(shape))}   # with stable=, torch takes dim by keyword only
    if draw(st.booleans()):
        kw["descending"] = draw(st.booleans())
    return Case((x,), kw, dtype=dtype)


@st.composite
def _sort_positional(draw, dtype):
    """``sort(x, dim, descending)`` positionally, without ``stable`` (torch may then order ties in
    any way, so the values are distinct)."""
    shape = draw(shapes(0, 3))
    x = Arr(_distinct(draw, dtype, shape), wants_grad(dtype, True))
    dim = dim_of(draw, len(shape))
    return Case((x, dim, draw(st.booleans())) if draw(st.booleans()) else (x, dim), dtype=dtype)


@st.composite
def _msort_cases(draw, dtype):
    shape = draw(shapes(0, 3))
    return Case((Arr(_distinct(draw, dtype, shape), wants_grad(dtype, True)),), dtype=dtype)


@st.composite
def _kthvalue_cases(draw, dtype):
    """``kthvalue(x, k, dim, keepdim)`` over distinct values; ``k`` outside ``[1, n]`` raises."""
    shape = draw(shapes(0, 3))
    x = Arr(_distinct(draw, dtype, shape), wants_grad(dtype, True))
    dim = dim_of(draw, len(shape))
    size = shape[dim % len(shape)] if shape and -len(shape) <= dim < len(shape) else 1
    k = draw(st.sampled_from([0, size + 1])) if rarely(draw, 10) else draw(st.integers(1, max(size, 1)))
    kw = {"keepdim": draw(st.booleans())} if draw(st.booleans()) else {}
    return Case((x, k, dim), kw, dtype=dtype)


@st.composite
def _median_cases(draw, dtype):
    """``median(x)`` and ``median(x, dim[, keepdim])`` over distinct values with one NaN sometimes."""
    shape = draw(shapes(0, 3))
    x = Arr(_distinct(draw, dtype, shape), wants_grad(dtype, True))
    if draw(st.integers(0, 2)) == 0:
        return Case((x,), dtype=dtype)
    kw = {"keepdim": draw(st.booleans())} if draw(st.booleans()) else {}
    return Case((x, dim_of(draw, len(shape))), kw, dtype=dtype)


@st.composite
def _mode_cases(draw, dtype):
    """``mode(x, dim[, keepdim])`` over small integers without NaN (torch's result on NaN depends on
    its sort's internals, and which occurrence it names is unspecified: the row compares the values
    and the elements at the returned indices)."""
    shape = draw(shapes(0, 3))
    x = Arr(_with_ties(draw, dtype, shape, specials=False))
    kw = {"keepdim": draw(st.booleans())} if draw(st.booleans()) else {}
    return Case((x, dim_of(draw, len(shape))), kw, dtype=dtype)


def _mode_call(method: bool):
    """A call of ``mode`` (the function, or the method with ``method``) returning its values and the
    elements at its indices (equal to the values where lumina and torch name different occurrences)."""
    return lambda L, x, *a, **k: _mode_pair(x.mode(*a, **k) if method else L.mode(x, *a, **k), x, *a, **k)


def _mode_pair(result, x, dim, keepdim=False):
    values, indices = result
    if x.ndim == 0:
        return values, x
    d = dim % x.ndim
    at = x.gather(d, indices if keepdim else indices.unsqueeze(d))
    return values, at if keepdim else at.squeeze(d)


@st.composite
def _scan_cases(draw, dtype):
    """``cummax(x, dim)``: ties (the later index wins), NaN, infinities and signed zeros. A ``dim``
    out of range raises; torch 2.13 does not check it for inputs without elements (it returns them),
    lumina raises there too, so empty inputs get a valid ``dim``."""
    shape = draw(shapes(0, 3))
    x = Arr(_with_ties(draw, dtype, shape), wants_grad(dtype, True))
    return Case((x, dim_of(draw, len(shape), errors=math.prod(shape) > 0)), dtype=dtype)


@st.composite
def _logcumsumexp_cases(draw, dtype):
    """``logcumsumexp(x, dim)`` with the special values; the gradient only where every input is
    finite and of moderate size: torch's backward formula (exp of the inputs and outputs, rescaled)
    is NaN at -inf inputs and off by factors near the largest floats (``d out / d x`` of a single
    element at 1.8e308 comes out as a third of the cotangent), where lumina's is the exact one."""
    shape = draw(shapes(0, 3))
    x = draw(array(dtype, shape))
    moderate = bool((np.abs(np.asarray(x, np.float64)) < 1e3).all()) if is_float(dtype) else False
    return Case((Arr(x, moderate), dim_of(draw, len(shape))), dtype=dtype)


@st.composite
def _aminmax_cases(draw, dtype):
    """``aminmax(x)``, ``aminmax(x, dim=, keepdim=)``; empty inputs raise. The gradient is compared
    where there is no NaN: lumina's is amax / amin's (the cotangent shared among a slice's NaNs; see
    the known difference of amax), torch's is NaN across the slice."""
    shape = draw(shapes(0, 3))
    value = _with_ties(draw, dtype, shape)
    x = Arr(value, wants_grad(dtype, True) and not np.isnan(np.asarray(value, np.float64)).any())
    if draw(st.integers(0, 2)) == 0:
        return Case((x,), {"keepdim": draw(st.booleans())} if draw(st.booleans()) else {}, dtype=dtype)
    kw = {"dim": dim_of(draw, len(shape))}
    if draw(st.booleans()):
        kw["keepdim"] = draw(st.booleans())
    return Case((x,), kw, dtype=dtype)


@st.composite
def _unique_cases(draw, dtype):
    """``unique(x, sorted, return_inverse, return_counts, dim)``: ties, NaN (each one distinct)."""
    shape = draw(shapes(0, 3))
    x = Arr(_with_ties(draw, dtype, shape))
    kw = {"return_inverse": draw(st.booleans()), "return_counts": draw(st.booleans())}
    if shape and draw(st.booleans()):
        kw["dim"] = dim_of(draw, len(shape))
    return Case((x,), kw, dtype=dtype)


def specs() -> list[OpSpec]:
    """This family's rows."""
    rows: list[OpSpec] = []
    rows += methods("sort", cases=_sort_cases, dtypes=ALL, exact=True,
                    checks="``(values, indices)``; stable; NaN sorts above every number (first when descending)")
    rows += methods("argsort", cases=_sort_cases, dtypes=ALL, exact=True, grad=False,
                    checks="stable; NaN above every number")
    for name in ("sort", "argsort"):
        rows += [OpSpec(f"{scope}.{name}#positional", call, _sort_positional, dtypes=FLOATS + INTS, exact=True,
                        grad=name == "sort", checks="``(x, dim, descending)`` positionally, the default ``stable``")
                 for scope, call in (("lumina", (lambda n: lambda L, x, *a: getattr(L, n)(x, *a))(name)),
                                     ("Tensor", (lambda n: lambda L, x, *a: getattr(x, n)(*a))(name)))]
    rows += methods("msort", cases=_msort_cases, dtypes=FLOATS + INTS, exact=True, checks="sorts along dim 0")
    rows += methods("kthvalue", cases=_kthvalue_cases, dtypes=FLOATS + INTS, exact=True,
                    checks="``(values, indices)``; NaN ranks above every number; k outside [1, n] raises")
    for name in ("median", "nanmedian"):
        rows += methods(name, cases=_median_cases, dtypes=FLOATS + INTS, exact=True,
                        checks="the lower median; NaN propagates (median) or is skipped (nanmedian)")
    rows += [OpSpec(f"{s}.mode", _mode_call(s == "Tensor"), _mode_cases,
                    dtypes=ALL, exact=True, grad=False,
                    checks="the values, and that the indices name occurrences of them (torch's choice of "
                           "occurrence is unspecified); tests/test_sorting.py checks the gradient")
             for s in ("lumina", "Tensor")]
    for name in ("cummax", "cummin"):
        rows += methods(name, cases=_scan_cases, dtypes=ALL, exact=True,
                        checks="``(values, indices)``; NaN propagates; ties take the later index")
    rows += methods("logcumsumexp", cases=_logcumsumexp_cases, dtypes=FLOATS + INTS, ulps=8, accumulates=True,
                    checks="infinities and NaN; integers raise")
    rows += methods("aminmax", cases=_aminmax_cases, dtypes=ALL, exact=True,
                    checks="``(min, max)``; NaN propagates; empty inputs raise")
    for name in ("unique", "unique_consecutive"):
        rows += methods(name, cases=_unique_cases, dtypes=ALL, exact=True, grad=False,
                        checks="eager only; ``return_inverse``, ``return_counts``, ``dim``; each NaN distinct")
    return rows
