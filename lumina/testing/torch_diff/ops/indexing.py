"""Indexing rows: ``x[key]`` (ints, slices, None, Ellipsis, integer and boolean index tensors),
gather, index_select, take_along_dim, flip; scatter, scatter_add and scatter_reduce."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, Arr, Case
from ..spec import OpSpec
from ..strategies import array, dim_of, rarely, shapes, wants_grad
from .common import methods


@st.composite
def getitem_cases(draw, dtype):
    """``x[key]``: per leading dim an int (sometimes out of range: torch raises), a slice (bounds
    past the ends, steps 1-3), None, Ellipsis (at most one), an integer or a boolean index tensor."""
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    key = []
    for d in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.integers(0, 6))
        if kind == 0:
            key.append(draw(st.integers(-d - 1, d)))      # d and -d-1 are out of range: torch raises
        elif kind == 1:
            key.append(slice(draw(st.one_of(st.none(), st.integers(-d - 2, d + 2))),
                             draw(st.one_of(st.none(), st.integers(-d - 2, d + 2))),
                             draw(st.sampled_from([None, 1, 2, 3]))))
        elif kind == 2:
            key.append(None)
        elif kind == 3:
            key.append(Ellipsis)
        elif kind == 4:
            key.append(Arr(np.array(draw(st.lists(st.integers(-d, d - 1), min_size=0, max_size=3)), np.int64)))
        elif kind == 5:
            key.append(Arr(np.array(draw(st.lists(st.booleans(), min_size=d, max_size=d)))))
        else:
            key.append(slice(None))
    if key.count(Ellipsis) > 1:
        key = [k for k in key if k is not Ellipsis]
    return Case((x, tuple(key)), dtype=dtype)


@st.composite
def _gather_cases(draw, dtype, op="gather"):
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    d = dim_of(draw, len(shape), errors=op != "take_along_dim")
    dd = d % len(shape) if -len(shape) <= d < len(shape) else 0
    n = shape[dd]
    # an index out of range: torch raises (take_along_dim does not check its indices: not compared)
    bad = op != "take_along_dim" and rarely(draw, 10)
    hi = n if bad else n - 1
    lo = -n if op != "gather" else 0
    if op == "index_select":
        idx = np.array(draw(st.lists(st.integers(lo if not bad else -n - 1, hi), max_size=4)), np.int64)
        return Case((x, d, Arr(idx)), dtype=dtype)
    others = (lambda s: [s, 1]) if op != "gather" else (lambda s: [s, max(s - 1, 0)])
    ishape = tuple(draw(st.integers(0, 3)) if i == dd else draw(st.sampled_from(others(s))) for i, s in enumerate(shape))
    idx = np.array(draw(st.lists(st.integers(lo, hi), min_size=math.prod(ishape), max_size=math.prod(ishape))),
                   np.int64).reshape(ishape)
    if op == "take_along_dim":
        if draw(st.integers(0, 4)) == 0:
            return Case((x, Arr(idx.reshape(-1) % max(x.value.size, 1))), dtype=dtype)
        return Case((x, Arr(idx), d), dtype=dtype)
    return Case((x, d, Arr(idx)), dtype=dtype)


@st.composite
def flip_cases(draw, dtype):
    """``flip(x, dims)``: distinct dims, sometimes one named twice or out of range (torch raises)."""
    shape = draw(shapes(0, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    r = max(len(shape), 1)
    dims = draw(st.permutations(range(-r, 0) if draw(st.booleans()) else range(r)))[:draw(st.integers(0, r))]
    if rarely(draw, 10):
        dims = list(dims) + [dims[0] if dims else r]
    return Case((x, tuple(dims)), dtype=dtype)


@st.composite
def scatter_cases(draw, dtype, reduce=False, value=False):
    """``scatter(x, dim, index, src)`` (a number for ``src`` with ``value``), or ``scatter_reduce``
    with a reduction and ``include_self`` (``reduce``). The index is no larger than ``x`` outside
    ``dim`` and than ``src`` anywhere; ``src`` is sometimes larger. A plain scatter draws distinct
    indices along ``dim`` (torch leaves duplicates undefined); an index out of range raises."""
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    d = dim_of(draw, len(shape))
    dd = d % len(shape) if -len(shape) <= d < len(shape) else 0
    n = shape[dd]
    ishape = tuple(draw(st.integers(0, n if not reduce else 3)) if a == dd else draw(st.integers(0, s))
                   for a, s in enumerate(shape))
    if reduce:
        idx = np.array(draw(st.lists(st.integers(0, n - 1), min_size=math.prod(ishape), max_size=math.prod(ishape))),
                       np.int64).reshape(ishape)
    else:   # along dim, a different position for each update
        lines = [np.array(draw(st.permutations(range(n))), np.int64)[:ishape[dd]]
                 for _ in range(math.prod(ishape) // max(ishape[dd], 1))]
        idx = np.moveaxis(np.array(lines, np.int64).reshape(
            ishape[:dd] + ishape[dd + 1:] + (ishape[dd],)), -1, dd) if lines else np.zeros(ishape, np.int64)
    if idx.size and rarely(draw, 12):
        idx.reshape(-1)[0] = n                          # out of range: torch raises
    if value:
        return Case((x, d, Arr(idx), draw(st.sampled_from([2, -1.5, 0, math.nan, True]))), dtype=dtype)
    sshape = tuple(i + draw(st.integers(0, 1)) for i in ishape)
    src = Arr(draw(array(dtype, sshape)), wants_grad(dtype, True))
    if not reduce:
        return Case((x, d, Arr(idx), src), dtype=dtype)
    kw = {"include_self": draw(st.booleans())} if draw(st.booleans()) else {}
    return Case((x, d, Arr(idx), src, draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"]))), kw,
                dtype=dtype)


def specs() -> list[OpSpec]:
    """The indexing rows."""
    rows: list[OpSpec] = []
    rows += [OpSpec("Tensor.__getitem__", lambda L, x, k: x[k], getitem_cases, dtypes=("float32", "int64", "bool"),
                    exact=True, checks="ints, slices (steps 1-3, out-of-range bounds), None, Ellipsis, integer and "
                                       "boolean index tensors; out-of-range ints raise")]
    rows += methods("gather", cases=_gather_cases, dtypes=("float32", "float64", "int64"), exact=True,
                    checks="an index out of range raises")
    rows += methods("index_select", cases=lambda d: _gather_cases(d, "index_select"),
                    dtypes=("float32", "int64"), exact=True)
    rows += methods("flip", cases=flip_cases, dtypes=ALL, exact=True, checks="a dim named twice raises")
    rows += methods("scatter", cases=lambda d: st.one_of(scatter_cases(d), scatter_cases(d, value=True)),
                    dtypes=("float32", "float64", "int64", "bool"), exact=True,
                    checks="a number as ``src``; ``src`` larger than the index; an index out of range raises")
    rows += methods("scatter_add", cases=lambda d: scatter_cases(d, reduce=True).map(
        lambda c: Case(c.args[:4], dtype=c.dtype)), dtypes=("float32", "float64", "int64"), accumulates=True,
        checks="repeated indices accumulate")
    rows += methods("scatter_reduce", cases=lambda d: scatter_cases(d, reduce=True),
                    dtypes=("float32", "float64", "int64"), accumulates=True,
                    checks="sum, prod, mean (integers: floor), amax, amin, with and without ``include_self``")
    rows += methods("take_along_dim", cases=lambda d: _gather_cases(d, "take_along_dim"),
                    dtypes=("float32", "int64"), exact=True)
    return rows
