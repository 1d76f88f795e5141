"""Norms and distances: norm (every order lumina decomposes: numbers incl. 0, +-inf, negative and
fractional, 'fro'), dist, cdist (p and compute_mode), cosine_similarity, pairwise_distance; zeros and
ties among the inputs, where torch's gradients are special."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..cases import FLOATS, Arr, Case, Dt, is_float, np_dtype
from ..spec import OpSpec
from ..strategies import array, broadcast_shapes, dim_of, rarely, shapes, wants_grad
from .common import methods

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""

_ORDERS = [2, 1, 0, 3, 0.5, 1.5, -1, math.inf, -math.inf]


def _with_zeros_and_ties(draw, dtype, shape):
    """An array of small integers and halves (so zeros, ties and equal rows are common) or of the
    generator's values, specials included."""
    if draw(st.booleans()):
        vals = draw(st.lists(st.sampled_from([0.0, 0.0, 1.0, -1.0, 2.0, 0.5, -3.0]), min_size=math.prod(shape),
                             max_size=math.prod(shape)))
        return np.array(vals, np.float64).astype(np_dtype(dtype)).reshape(shape)
    return draw(array(dtype, shape))


@st.composite
def _norm_cases(draw, dtype):
    shape = draw(shapes(0, 3))
    x = Arr(_with_zeros_and_ties(draw, dtype, shape), wants_grad(dtype, True))
    p = draw(st.sampled_from(_ORDERS + ["fro", None]))
    form = draw(st.integers(0, 3))
    kw = {}
    if draw(st.integers(0, 5)) == 0 and is_float(dtype):
        kw["dtype"] = Dt("float64")
    if form == 0:
        return Case((x, p), kw, dtype=dtype)
    if form == 1 and len(shape) >= 2:
        dim = tuple(draw(st.permutations(range(len(shape))))[:2])
    else:
        dim = dim_of(draw, len(shape))
    return Case((x, p, dim, draw(st.booleans())), kw, dtype=dtype)


@st.composite
def _dist_cases(draw, dtype):
    sa, sb = draw(broadcast_shapes(2))
    g = wants_grad(dtype, True)
    a, b = Arr(_with_zeros_and_ties(draw, dtype, sa), g), Arr(_with_zeros_and_ties(draw, dtype, sb), g)
    return Case((a, b, draw(st.sampled_from(_ORDERS))), dtype=dtype)


@st.composite
def _cdist_cases(draw, dtype):
    batch = draw(shapes(0, 1, max_side=2))
    p_rows, r_rows, m = draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(0 if rarely(draw, 8) else 1, 3))
    g = wants_grad(dtype, True)
    a = Arr(_with_zeros_and_ties(draw, dtype, batch + (p_rows, m)), g)
    b = Arr(_with_zeros_and_ties(draw, dtype, (p_rows, m + 1) if rarely(draw, 12) else (r_rows, m)), g)
    kw = {}
    if draw(st.integers(0, 3)) == 0:
        kw["compute_mode"] = draw(st.sampled_from(["donot_use_mm_for_euclid_dist",
                                                   "use_mm_for_euclid_dist_if_necessary"]))
    p = -1.0 if rarely(draw, 16) else draw(st.sampled_from([2.0, 1.0, 0.0, 3.0, 0.5, math.inf]))
    return Case((a, b, p), kw, dtype=dtype)


@st.composite
def _cosine_cases(draw, dtype):
    sa, sb = draw(broadcast_shapes(2, min_rank=1))
    g = wants_grad(dtype, True)
    a, b = Arr(_with_zeros_and_ties(draw, dtype, sa), g), Arr(_with_zeros_and_ties(draw, dtype, sb), g)
    rank = max(len(sa), len(sb))
    kw = {"eps": draw(st.sampled_from([1e-8, 0.5, 1e-3]))} if draw(st.booleans()) else {}
    return Case((a, b, dim_of(draw, rank)), kw, dtype=dtype)


@st.composite
def _pairwise_cases(draw, dtype):
    sa, sb = draw(broadcast_shapes(2, min_rank=1))
    g = wants_grad(dtype, True)
    a, b = Arr(_with_zeros_and_ties(draw, dtype, sa), g), Arr(_with_zeros_and_ties(draw, dtype, sb), g)
    kw = {}
    if draw(st.booleans()):
        kw["eps"] = draw(st.sampled_from([0.0, 1e-6, 0.25]))
    if draw(st.booleans()):
        kw["keepdim"] = draw(st.booleans())
    return Case((a, b, draw(st.sampled_from(_ORDERS))), kw, dtype=dtype)


def specs() -> list[OpSpec]:
    """This family's rows."""
    rows = methods("norm", cases=_norm_cases, dtypes=FLOATS + ("int64",), accumulates=True, ulps=8,
                   homogeneous=1, checks="p in 2, 1, 0, 3, 0.5, 1.5, -1, +-inf, 'fro', None; dims; dtype=; "
                                         "gradients at zeros and at inf-norm ties; integer inputs raise")
    rows += methods("dist", cases=_dist_cases, dtypes=FLOATS, accumulates=True, ulps=8, homogeneous=1,
                    checks="broadcasting; equal inputs (gradient 0)")
    rows += [OpSpec("lumina.cdist", lambda L, a, b, p, **k: L.cdist(a, b, p, **k), _cdist_cases,
                    dtypes=("float32", "float64"), accumulates=True, ulps=8, homogeneous=1,
                    checks="p in 0, 0.5, 1, 2, 3, inf; equal rows; batches; errors (columns, p < 0)")]
    for scope in ("lumina", "F"):
        rows += methods("cosine_similarity", scopes=(scope,), cases=_cosine_cases, dtypes=FLOATS,
                        accumulates=True, ulps=8, checks="eps clamps each norm; zero vectors; broadcasting")
        rows += methods("pairwise_distance", scopes=(scope,), cases=_pairwise_cases, dtypes=FLOATS + ("int64",),
                        accumulates=True, ulps=8, checks="eps added to the difference; keepdim; every order")
    return rows
