"""Creation rows: zeros/ones (and ``_like``), full, arange, eye, tensor (the dtype it infers), and the
random creators, compared on dtype, shape and range (lumina's generator is its own)."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

import lumina

from ..cases import ALL, FLOATS, Arr, Case, Dt
from ..spec import OpSpec
from ..strategies import array, rarely, shapes
from ..tensors import lumina_numpy


@st.composite
def _creation_cases(draw, dtype, like=False, fill=False):
    shape = draw(shapes(0, 3))
    if like:
        x = Arr(draw(array(dtype, shape)))
        kw = {"dtype": Dt(draw(st.sampled_from(ALL)))} if draw(st.booleans()) else {}
        return Case((x,), kw, dtype=dtype)
    kw = {"dtype": Dt(dtype)} if draw(st.booleans()) else {}
    if fill:
        value = draw(st.one_of(st.sampled_from([0, 1, -2, 2.5, -0.0, math.inf, math.nan, True, False]),
                               st.floats(-4, 4)))
        if rarely(draw, 10):
            shape = (2.5,) + shape         # a non-integer size: torch raises
        return Case((shape, value), kw, dtype=dtype)
    form = draw(st.integers(0, 3))
    if form == 0 and rarely(draw, 10):
        shape = shape + (-1,)              # a negative size: torch raises
    if form == 1 and rarely(draw, 10):
        shape = (2.5,)
    return Case(tuple(shape) if form == 0 else (shape,) if form == 1 else (list(shape),), kw, dtype=dtype)


@st.composite
def _arange_cases(draw, dtype):
    nums = st.one_of(st.integers(-6, 6), st.sampled_from([0.5, -1.5, 2.25, 0.1, 3.0]))
    form = draw(st.integers(0, 2))
    kw = {"dtype": Dt(dtype)} if draw(st.integers(0, 2)) == 0 else {}
    if form == 0:
        return Case((draw(nums),), kw, dtype=dtype)
    if form == 1:
        return Case((draw(nums), draw(nums)), kw, dtype=dtype)
    return Case((draw(nums), draw(nums), draw(st.one_of(nums, st.sampled_from([0, -1, -0.5])))), kw, dtype=dtype)


@st.composite
def _eye_cases(draw, dtype):
    """``eye(n)``, ``eye(n, m)``, sometimes with ``dtype=``; a negative size raises."""
    n = draw(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 4))
    args = (n,) if draw(st.booleans()) else (n, draw(st.integers(0, 4)))
    return Case(args, {"dtype": Dt(dtype)} if draw(st.booleans()) else {}, dtype=dtype)


@st.composite
def _tensor_cases(draw, dtype):
    shape = draw(shapes(0, 3))
    vals = draw(array(dtype, shape))
    data = vals.tolist() if dtype != "bfloat16" else vals.astype(np.float64).tolist()
    form = draw(st.integers(0, 5))
    if form == 0:
        return Case((data,), {"dtype": Dt(draw(st.sampled_from(ALL)))}, dtype=dtype)
    if form == 1 and isinstance(data, list) and len(data) >= 2 and isinstance(data[0], list):
        return Case(([data[0], data[1][:-1] or [1]],), dtype=dtype)   # ragged: torch raises
    if form == 2:
        return Case((vals,), dtype=dtype)                             # a NumPy array keeps its dtype
    if form == 3:
        scalars = [1, 2.5, True, -0.0, math.nan, [1, 2.5], [True, 2], [[1], [2]]]
        return Case((draw(st.sampled_from(scalars)),), dtype=dtype)
    return Case((data,), dtype=dtype)


def _tensor_call(L, data, **kw):
    if isinstance(data, np.ndarray) and data.dtype == ml_dtypes.bfloat16:
        data = data.astype(np.float32)
    return L.tensor(data, **kw)


@st.composite
def _random_creation(draw, dtype, op):
    shape = draw(shapes(0, 3))
    if op == "randint":
        lo = draw(st.integers(-3, 3))
        return Case((lo, lo + draw(st.integers(1, 5)), shape), dtype=dtype)
    if op.endswith("_like"):
        return Case((Arr(draw(array(dtype, shape))),), dtype=dtype)
    return Case(tuple(shape), {"dtype": Dt(dtype)} if draw(st.booleans()) else {}, dtype=dtype)


def _random_bounds(op):
    def extra(case, lout, tout):
        if not isinstance(lout, lumina.Tensor):
            return []
        v = lumina_numpy(lout)
        if op in ("rand", "rand_like") and v.size and not ((v >= 0) & (v < 1)).all():
            return [f"{op}: values outside [0, 1): {v.min()}..{v.max()}"]
        if op == "randint" and v.size and not ((v >= case.args[0]) & (v < case.args[1])).all():
            return [f"randint: values outside [{case.args[0]}, {case.args[1]}): {v.min()}..{v.max()}"]
        return []
    return extra


def specs() -> list[OpSpec]:
    """The creation rows."""
    rows: list[OpSpec] = []
    for name in ("zeros", "ones"):
        rows += [OpSpec(f"lumina.{name}", (lambda n: lambda L, *s, **k: getattr(L, n)(*s, **k))(name),
                        _creation_cases, dtypes=ALL, exact=True, grad=False)]
        rows += [OpSpec(f"lumina.{name}_like", (lambda n: lambda L, x, **k: getattr(L, n + "_like")(x, **k))(name),
                        lambda d: _creation_cases(d, like=True), dtypes=ALL, exact=True, grad=False)]
    rows += [OpSpec("lumina.full", lambda L, s, v, **k: L.full(s, v, **k), lambda d: _creation_cases(d, fill=True),
                    dtypes=ALL, exact=True, grad=False, checks="bool/int/float fill values and their inferred dtype"),
             OpSpec("lumina.arange", lambda L, *a, **k: L.arange(*a, **k), _arange_cases, dtypes=ALL, exact=True,
                    grad=False),
             OpSpec("lumina.eye", lambda L, *a, **k: L.eye(*a, **k), _eye_cases, dtypes=ALL, exact=True, grad=False),
             OpSpec("lumina.tensor", _tensor_call, _tensor_cases, dtypes=ALL, exact=True, grad=False,
                    checks="the dtype inferred from Python and NumPy data; ragged lists raise")]
    for name in ("rand", "randn"):
        rows += [OpSpec(f"lumina.{name}", (lambda n: lambda L, *s, **k: getattr(L, n)(*s, **k))(name),
                        (lambda n: lambda d: _random_creation(d, n))(name), dtypes=FLOATS, values=False, grad=False,
                        check_extra=_random_bounds(name),
                        checks="dtype and shape (values: a different generator); rand in [0, 1)"),
                 OpSpec(f"lumina.{name}_like", (lambda n: lambda L, x: getattr(L, n + "_like")(x))(name),
                        (lambda n: lambda d: _random_creation(d, n + "_like"))(name), dtypes=FLOATS, values=False,
                        grad=False, check_extra=_random_bounds(name + "_like"), checks="dtype and shape")]
    rows += [OpSpec("lumina.randint", lambda L, lo, hi, s: L.randint(lo, hi, s),
                    lambda d: _random_creation(d, "randint"), dtypes=("int64",), values=False, grad=False,
                    check_extra=_random_bounds("randint"), checks="dtype, shape, values in [low, high)")]
    return rows
