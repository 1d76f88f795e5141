"""Reductions: sums, means and products, logsumexp, variance and standard deviation (their positional
forms too), max/min (values and indices, or elementwise), amax/amin, argmax/argmin, topk,
cumulative sums and products."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, FLOATS, INTS, Arr, Case, Dt, is_float, np_dtype
from ..spec import OpSpec
from ..strategies import (array, binary_specials, broadcast_shapes, dim_of, rarely, reduce_cases, reduce_specials,
                          shapes, wants_grad)
from .common import methods


def _var_extra(draw, dtype):
    kind = draw(st.integers(0, 3))
    if kind == 1:
        return {"correction": draw(st.sampled_from([0, 1, 2, None]))}
    if kind == 2:
        return {"unbiased": draw(st.booleans())}
    return {}


@st.composite
def _var_positional(draw, dtype):
    """``var(x, dim, unbiased)`` and ``var(x, unbiased)`` (torch's positional forms)."""
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    if draw(st.booleans()):
        return Case((x, draw(st.booleans())), dtype=dtype)
    return Case((x, dim_of(draw, len(shape), errors=False), draw(st.booleans())), dtype=dtype)


def _var_fixed(dtype):
    if not is_float(dtype):
        return []
    info = ml_dtypes.finfo(np_dtype(dtype))
    big = float(info.max) * 0.9
    huge = 1e30 if dtype in ("float32", "float64") else float(info.max) / 4
    # rows whose variance is representable (the true value of a row spread over +-max overflows)
    rows = np.array([[big, big, big], [big, big * (1 - 2 ** -6), big], [huge, -huge, 0.0]], np.float64)
    x = Arr(rows.astype(np_dtype(dtype)), True)
    # nearly constant rows (no cancellation allowed in the value; the gradient there is
    # ill-conditioned, (x - mean) / std with both a few ulps, so it is not compared)
    # (means exactly representable, so the true deviations are too: a two-pass or shifted form
    # gets them exactly, E[x^2] - E[x]^2 gets 0 or garbage)
    e = float(info.eps)
    near = np.array([[1.0, 1.0 + 4 * e, 1.0, 1.0 + 4 * e], [8192.0, 8192.0 * (1 + 8 * e), 8192.0, 8192.0 * (1 + 8 * e)]])
    y = Arr(near.astype(np_dtype(dtype)))
    return reduce_specials(dtype) + [Case((x, 1), dtype=dtype), Case((x, 1), {"correction": 0}, dtype=dtype),
                                     Case((y, 1), dtype=dtype)]


@st.composite
def _max_cases(draw, dtype):
    """``max(x)``, ``max(x, dim[, keepdim])`` (values and indices) and ``max(x, other)``."""
    form = draw(st.integers(0, 3))
    g = wants_grad(dtype, True)
    if form == 3:
        sa, sb = draw(broadcast_shapes(2))
        return Case((Arr(draw(array(dtype, sa)), g), Arr(draw(array(dtype, sb)), g)), dtype=dtype)
    shape = draw(shapes(0, 3, min_side=1)) if form == 0 else draw(shapes())
    x = Arr(draw(array(dtype, shape)), g)
    if form == 0:
        return Case((x,), dtype=dtype)
    dim = dim_of(draw, len(shape))
    if form == 2:
        return Case((x, dim), {"keepdim": draw(st.booleans())}, dtype=dtype)
    return Case((x, dim), dtype=dtype)


def _max_fixed(dtype):
    return reduce_specials(dtype) + binary_specials(dtype)


@st.composite
def _arg_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)))
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((x,), dtype=dtype)
    dim = dim_of(draw, len(shape))
    return Case((x, dim), {"keepdim": draw(st.booleans())} if form == 2 else {}, dtype=dtype)


def _arg_fixed(dtype):
    return [Case(c.args[:1], dtype=dtype) for c in reduce_specials(dtype, False)[:1]] + \
        [Case((Arr(c.args[0].value), c.args[1]), dtype=dtype) for c in reduce_specials(dtype, False)]


@st.composite
def _cumsum_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    kw = {"dtype": Dt(draw(st.sampled_from(["float64", "int64", "float32"])))} if draw(st.integers(0, 3)) == 0 else {}
    if kw and not is_float(kw["dtype"].name):
        x = Arr(x.value)        # torch's autograd refuses an integer result of a float input that requires grad
    return Case((x, dim_of(draw, len(shape))), kw, dtype=dtype)


@st.composite
def _prod_cases(draw, dtype):
    """``prod(x)``, ``prod(x, dim)``, ``prod(x, dim, keepdim)``, sometimes with ``dtype=``."""
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    kw = {"dtype": Dt(draw(st.sampled_from(["float64", "int64", "float32"])))} if draw(st.integers(0, 5)) == 0 else {}
    if kw and not is_float(kw["dtype"].name):
        x = Arr(x.value)        # torch's autograd refuses an integer result of a float input that requires grad
    if draw(st.integers(0, 3)) == 0:
        return Case((x,), kw, dtype=dtype)
    dim = dim_of(draw, len(shape))
    if draw(st.booleans()):
        kw["keepdim"] = draw(st.booleans())
    return Case((x, dim), kw, dtype=dtype)


@st.composite
def _logsumexp_cases(draw, dtype):
    """``logsumexp(x, dim[, keepdim])``, ``dim`` an int or a tuple (torch requires it)."""
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    if len(shape) >= 2 and draw(st.booleans()):
        dim = tuple(draw(st.permutations(range(len(shape))))[:draw(st.integers(1, len(shape)))])
    else:
        dim = dim_of(draw, len(shape))
    return Case((x, dim), {"keepdim": draw(st.booleans())} if draw(st.booleans()) else {}, dtype=dtype)


@st.composite
def _topk_cases(draw, dtype):
    """``topk(x, k, dim, largest)`` over distinct values (torch's order of ties is unspecified, and
    so is which tie gets the gradient), a NaN and infinities among them sometimes; ``k`` past the
    end raises. ``sorted=False`` is left out: torch may return any order then."""
    shape = draw(shapes(0, 3))
    n = math.prod(shape)
    if dtype == "bool":
        x = Arr(draw(array(dtype, shape)))
    else:
        vals = np.array(draw(st.permutations(range(n))), np.float64) - n // 2
        if is_float(dtype) and n and draw(st.booleans()):
            vals = vals * 0.5
            specials = draw(st.lists(st.sampled_from([math.nan, math.inf, -math.inf]), max_size=2, unique=True))
            vals[:min(len(specials), n)] = specials[:n]
            vals = vals[np.array(draw(st.permutations(range(n))), np.int64)] if n else vals
        x = Arr(vals.astype(np_dtype(dtype)).reshape(shape), wants_grad(dtype, True))
    dim = dim_of(draw, len(shape))
    size = shape[dim % len(shape)] if shape and -len(shape) <= dim < len(shape) else 1
    k = size + 1 if rarely(draw, 10) else draw(st.integers(0, size))
    kw = {"largest": draw(st.booleans())} if draw(st.booleans()) else {}
    return Case((x, k, dim), kw, dtype=dtype)


def _sum_extra(draw, dtype):
    return {"dtype": Dt(draw(st.sampled_from(["float64", "int64", "float32"])))} if draw(st.integers(0, 5)) == 0 else {}


def specs() -> list[OpSpec]:
    """The reduction rows."""
    rows: list[OpSpec] = []
    for name in ("sum", "mean"):
        rows += methods(name, cases=reduce_cases(extra=_sum_extra if name == "sum" else None),
                        dtypes=ALL if name == "sum" else FLOATS + INTS, accumulates=True, fixed=reduce_specials)
    for name in ("var", "std"):
        rows += methods(name, cases=reduce_cases(extra=_var_extra),
                        dtypes=FLOATS, ulps=16, accumulates=True, fixed=_var_fixed,
                        homogeneous=2 if name == "var" else 1,
                        checks="``unbiased`` positional and keyword, ``correction`` (incl. None), overflow-safe "
                               "inputs (``[3e38, 3e38]``)")
        rows += [OpSpec(f"{s}.{name}#positional", c, _var_positional, dtypes=("float32",), ulps=16, accumulates=True,
                        homogeneous=2 if name == "var" else 1)
                 for s, c in (("lumina", (lambda n: lambda L, x, *a: getattr(L, n)(x, *a))(name)),
                              ("Tensor", (lambda n: lambda L, x, *a: getattr(x, n)(*a))(name)))]
    for name in ("max", "min"):
        rows += methods(name, cases=_max_cases, dtypes=ALL, exact=True, signed_zeros=False, fixed=_max_fixed,
                        checks="``max(dim)`` returns ``(values, indices)``, ``max(a, b)`` is elementwise")
    for name in ("amax", "amin"):
        rows += methods(name, cases=reduce_cases(allow_none=False), dtypes=ALL, exact=True,
                        signed_zeros=False, fixed=reduce_specials, checks="ties share the gradient")
    for name in ("argmax", "argmin"):
        rows += methods(name, cases=_arg_cases, dtypes=FLOATS + INTS + ("bool",), exact=True, grad=False,
                        fixed=_arg_fixed, checks="the index of a NaN")
    rows += methods("cumsum", cases=_cumsum_cases, dtypes=ALL, accumulates=True,
                    fixed=lambda d: reduce_specials(d)[:2])
    rows += methods("cumprod", cases=_cumsum_cases, dtypes=ALL, accumulates=True,
                    fixed=lambda d: reduce_specials(d)[:2])
    rows += methods("prod", cases=_prod_cases, dtypes=ALL, accumulates=True, fixed=reduce_specials,
                    checks="int32 and bool give int64; ``dtype=``; a tuple of dims raises")
    rows += methods("logsumexp", cases=_logsumexp_cases, dtypes=FLOATS + INTS, accumulates=True,
                    fixed=reduce_specials, checks="rows of -inf and of +inf; integers give float32")
    rows += methods("topk", cases=_topk_cases, dtypes=FLOATS + INTS + ("bool",), exact=True, signed_zeros=False,
                    checks="``(values, indices)``; NaN ranks above every number; k past the end raises")
    for name in ("all", "any"):
        rows += methods(name, cases=reduce_cases(differentiable=False), dtypes=ALL, exact=True, grad=False,
                        fixed=lambda d: reduce_specials(d, False), checks="bool results; NaN is true; empty slices")
    return rows
