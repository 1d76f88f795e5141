"""The hypothesis strategies cases are drawn from: special values (NaN, +-inf, +-0, the extremes and
subnormals of each dtype) mixed with ordinary ones, arrays, small shapes (0-size sides included),
shapes that broadcast together, dims; and the case strategies that several op families share
(unary, binary, reductions), each with its fixed cases of special values."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

from .cases import ALL, INTS, Arr, Case, is_float, np_dtype


def specials(dtype: str) -> np.ndarray:
    """NaN, +-inf, +-0, +-1, the largest and smallest normal and subnormal magnitudes of ``dtype``,
    and a few ordinary values; for integers, 0, +-1 and the extremes; for bool, both."""
    if dtype == "bool":
        return np.array([False, True])
    if dtype in INTS:
        info = np.iinfo(dtype)
        return np.array([0, 1, -1, 2, -3, 7, info.max, info.min], dtype)
    info = ml_dtypes.finfo(np_dtype(dtype))
    vals = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0,
            float(info.max), -float(info.max), float(info.tiny), -float(info.tiny),
            float(info.smallest_subnormal), 1e-3, 20.0, -30.0, 100.0]
    return np.array(vals, np.float64).astype(np_dtype(dtype))


def ordinary(dtype: str) -> st.SearchStrategy:
    """Scalars of ``dtype`` away from every special value."""
    if dtype == "bool":
        return st.booleans()
    if dtype in INTS:
        return st.integers(-6, 6)
    return st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False, width=32)


def element(dtype: str, special_weight: int = 1) -> st.SearchStrategy:
    """Ordinary values, and each special value with probability about ``special_weight / 4``."""
    sp = st.sampled_from(list(specials(dtype).astype(np.float64 if is_float(dtype) else np_dtype(dtype)).tolist()))
    return st.one_of(*([ordinary(dtype)] * (4 - special_weight)), *([sp] * special_weight))


@st.composite
def array(draw, dtype: str, shape: tuple[int, ...], lo=None, hi=None, special: bool = True) -> np.ndarray:
    """An array of ``dtype`` and ``shape``: ordinary values in [lo, hi] (defaults: [-4, 4]) mixed,
    when ``special``, with the special values."""
    n = math.prod(shape)
    if lo is not None or hi is not None:
        lo = -4 if lo is None else lo
        hi = 4 if hi is None else hi
        elem = st.integers(int(lo), int(hi)) if not is_float(dtype) else \
            st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        if special and is_float(dtype):
            elem = st.one_of(elem, elem, elem, st.sampled_from([float(lo), float(hi), 0.0, -0.0]))
    else:
        elem = element(dtype) if special else ordinary(dtype)
    vals = draw(st.lists(elem, min_size=n, max_size=n))
    return np.array(vals, dtype=np.float64 if is_float(dtype) else np_dtype(dtype)).astype(
        np_dtype(dtype)).reshape(shape)


def shapes(min_rank: int = 0, max_rank: int = 3, min_side: int = 0, max_side: int = 3) -> st.SearchStrategy:
    """Small shapes; a 0 side (an empty tensor) is one draw in eight."""
    side = st.one_of(st.integers(max(min_side, 1), max_side), st.integers(max(min_side, 1), max_side),
                     st.integers(max(min_side, 1), max_side), st.integers(max(min_side, 1), max_side),
                     st.integers(max(min_side, 1), max_side), st.integers(max(min_side, 1), max_side),
                     st.integers(max(min_side, 1), max_side), st.just(min_side))
    return st.lists(side, min_size=min_rank, max_size=max_rank).map(tuple)


@st.composite
def broadcast_shapes(draw, n: int, min_rank: int = 0, max_rank: int = 3, mismatch: bool = True):
    """``n`` shapes that broadcast together (each a suffix of a common shape, some sides 1); with
    ``mismatch``, one draw in twelve makes two of them incompatible (torch raises)."""
    base = draw(shapes(min_rank, max_rank))
    out = []
    for _ in range(n):
        k = draw(st.integers(0, len(base)))
        s = [1 if draw(st.integers(0, 3)) == 0 else d for d in base[k:]]
        out.append(tuple(s))
    if mismatch and n > 1 and rarely(draw, 12):
        s = list(out[0]) or [2]
        s[-1] = s[-1] + 2
        out[0] = tuple(s)
        out[1] = tuple(list(out[1]) or [3])
    return out


def wants_grad(dtype: str, differentiable: bool) -> bool:
    """Whether a drawn input's gradient is checked: float inputs of a differentiable op."""
    return differentiable and is_float(dtype)


def rarely(draw, n: int) -> bool:
    """True one draw in ``n``, and never in hypothesis's simplest example (its first): for the
    invalid inputs on which torch raises, which should not crowd out the valid ones."""
    return draw(st.integers(0, n - 1)) == n - 1


def dim_of(draw, rank: int, allow_none: bool = False, errors: bool = True):
    """A dim of a rank-``rank`` tensor, counted from either end; with ``errors`` one draw in twelve
    is out of range (torch raises IndexError)."""
    if allow_none and draw(st.integers(0, 3)) == 0:
        return None
    if errors and rarely(draw, 12):
        return max(rank, 1) + draw(st.integers(0, 2))
    r = max(rank, 1)
    return draw(st.integers(-r, r - 1))


def unary_cases(lo=None, hi=None, differentiable=True):
    @st.composite
    def cases(draw, dtype):
        x = draw(array(dtype, draw(shapes()), lo, hi))
        return Case((Arr(x, wants_grad(dtype, differentiable)),), dtype=dtype)
    return cases


def unary_specials(dtype: str, differentiable: bool = True) -> list[Case]:
    return [Case((Arr(specials(dtype), wants_grad(dtype, differentiable)),), dtype=dtype)]


def binary_cases(scalar_other=True, differentiable=True, other_dtypes=ALL):
    """``x op y`` with broadcasting; ``y`` sometimes a Python scalar or of another dtype (promotion)."""
    @st.composite
    def cases(draw, dtype):
        sa, sb = draw(broadcast_shapes(2))
        x = Arr(draw(array(dtype, sa)), wants_grad(dtype, differentiable))
        kind = draw(st.integers(0, 5))
        if scalar_other and kind == 0:
            return Case((x, draw(st.sampled_from([2, -1, 0, 0.5, -0.0, math.inf, math.nan, True]))), dtype=dtype)
        odt = draw(st.sampled_from(other_dtypes)) if kind == 1 else dtype
        return Case((x, Arr(draw(array(odt, sb)), wants_grad(odt, differentiable))), dtype=dtype)
    return cases


def binary_specials(dtype: str, differentiable: bool = True) -> list[Case]:
    s = specials(dtype)
    g = wants_grad(dtype, differentiable)
    return [Case((Arr(s.reshape(-1, 1), g), Arr(s.reshape(1, -1), g)), dtype=dtype)]


def reduce_cases(keepdim=True, tuple_dims=True, allow_none=True, differentiable=True, extra=None):
    """``x.op()``, ``x.op(dim)``, ``x.op(dim, keepdim)`` with ``dim`` an int, a tuple or None;
    ``extra(draw, dtype)`` adds keyword arguments."""
    @st.composite
    def cases(draw, dtype):
        shape = draw(shapes())
        x = Arr(draw(array(dtype, shape)), wants_grad(dtype, differentiable))
        form = draw(st.integers(0, 3))
        kw = extra(draw, dtype) if extra else {}
        if "dtype" in kw and not is_float(kw["dtype"].name):
            x = Arr(x.value)    # torch's autograd refuses an integer result of a float input that requires grad
        if form == 0:
            return Case((x,), kw, dtype)
        if form == 1 and tuple_dims and len(shape) >= 2:
            dims = tuple(draw(st.permutations(range(len(shape))))[:draw(st.integers(1, len(shape)))])
            dim = dims
        else:
            dim = dim_of(draw, len(shape), allow_none=allow_none)
        if keepdim and draw(st.booleans()):
            return Case((x, dim), {"keepdim": draw(st.booleans()), **kw}, dtype)
        return Case((x, dim), kw, dtype)
    return cases


def reduce_specials(dtype: str, differentiable: bool = True) -> list[Case]:
    """Every special value alone in a row, and with an ordinary value: ``[[s, 1.0], ...]``."""
    s = specials(dtype)
    g = wants_grad(dtype, differentiable)
    pair = np.stack([s, np.full_like(s, 1)], 1)
    same = np.stack([s, s], 1)
    return [Case((Arr(pair, g), 1), dtype=dtype), Case((Arr(same, g), 1), dtype=dtype),
            Case((Arr(pair, g), 0), dtype=dtype)]


@st.composite
def tensor_only(draw, dtype, min_rank=0):
    """One tensor of ``dtype``, rank ``min_rank`` to 3, as the only argument."""
    return Case((Arr(draw(array(dtype, draw(shapes(min_rank)))), wants_grad(dtype, True)),), dtype=dtype)
