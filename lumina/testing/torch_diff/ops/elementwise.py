"""Elementwise rows: unary functions (and their ``F.`` and ``Tensor.__op__`` forms), rounding and sign,
the piecewise activations of ``F`` with their parameters, the binary operators with their reflected
forms, comparisons, ``maximum``/``minimum``, ``where``, ``clamp``."""
from __future__ import annotations

import math
import operator

import numpy as np

from hypothesis import strategies as st

from ..cases import ALL, FLOATS, INTS, Arr, Case
from ..spec import OpSpec
from ..strategies import (array, binary_cases, binary_specials, broadcast_shapes, shapes, specials, unary_cases,
                          unary_specials, wants_grad)
from .common import methods, mpmath_pair


_UNARY_FLOAT = dict(exp=4, log=4, sqrt=2, sin=4, cos=4, tanh=4, sigmoid=4, erf=8)


def _unary(name, lo=None, hi=None, dtypes=ALL, exact=False, ulps=4.0, scopes=("lumina", "Tensor"),
           differentiable=True, **kw):
    return methods(name, scopes, cases=unary_cases(lo, hi, differentiable), dtypes=dtypes, exact=exact,
                   ulps=ulps, grad=differentiable, fixed=lambda d: unary_specials(d, differentiable), **kw)


def _dunder(name, fn, cases, fixed=None, dtypes=ALL, exact=False, ulps=4.0, **kw):
    return [OpSpec(f"Tensor.{name}", fn, cases=cases, fixed=fixed, dtypes=dtypes, exact=exact, ulps=ulps, **kw)]


def _binary_dunder(name, op, exact=False, ulps=4.0, differentiable=True, dtypes=ALL, reverse=None):
    """``x op y`` (``Tensor.__op__``); ``reverse`` is the reflected name (``__radd__``), run as
    ``scalar op x`` and ``array op x`` for a NumPy array or list on the left."""
    out = _dunder(name, lambda L, x, y: op(x, y), binary_cases(differentiable=differentiable), exact=exact, ulps=ulps,
                  fixed=lambda d: binary_specials(d, differentiable), dtypes=dtypes, grad=differentiable)
    if reverse:
        @st.composite
        def rcases(draw, dtype):
            x = Arr(draw(array(dtype, draw(shapes()))), wants_grad(dtype, differentiable))
            return Case((x, draw(st.sampled_from([2, -1, 0, 0.5, -0.0, math.inf, math.nan, True]))), dtype=dtype)
        out += _dunder(reverse, lambda L, x, s: op(s, x), rcases, exact=exact, ulps=ulps, dtypes=dtypes,
                       grad=differentiable)
    return out


@st.composite
def _gelu_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes()))), wants_grad(dtype, True))
    form = draw(st.integers(0, 3))
    if form == 0:
        return Case((x,), {"approximate": "tanh"}, dtype=dtype)
    if form == 1:
        return Case((x,), {"approximate": draw(st.sampled_from(["none", "bogus"]))}, dtype=dtype)
    return Case((x,), dtype=dtype)


@st.composite
def _round_cases(draw, dtype):
    """``round(x)`` or ``round(x, decimals=d)`` (integers with decimals raise)."""
    x = Arr(draw(array(dtype, draw(shapes()))), wants_grad(dtype, True))
    if draw(st.integers(0, 2)) == 0:
        return Case((x,), {"decimals": draw(st.integers(-2, 3))}, dtype=dtype)
    return Case((x,), dtype=dtype)


# F.name -> the strategy of its parameters after the input (positional)
_ACTIVATIONS = {
    "elu": st.tuples(st.sampled_from([1.0, 0.5, 2.0])), "selu": st.just(()),
    "celu": st.tuples(st.sampled_from([1.0, 0.5, 2.0])),
    "leaky_relu": st.tuples(st.sampled_from([0.01, 0.2, 0.0, -0.5])),
    "softplus": st.one_of(st.just(()), st.tuples(st.sampled_from([1.0, 2.0, 0.5]), st.sampled_from([20.0, 2.0]))),
    "hardsigmoid": st.just(()), "hardswish": st.just(()), "silu": st.just(()), "mish": st.just(()),
    "softsign": st.just(()), "threshold": st.tuples(st.sampled_from([0.5, 0.0, -1.0]), st.sampled_from([0.0, -2.0, 20.0])),
}


def _activation_cases(name):
    @st.composite
    def cases(draw, dtype):
        x = Arr(draw(array(dtype, draw(shapes()))), wants_grad(dtype, True))
        return Case((x, *draw(_ACTIVATIONS[name])), dtype=dtype)
    return cases


def _activation_fixed(name):
    params = {"elu": (2.0,), "celu": (2.0,), "leaky_relu": (0.1,), "threshold": (0.5, -1.0)}.get(name, ())

    def fixed(dtype):
        return [Case((Arr(specials(dtype), wants_grad(dtype, True)), *params), dtype=dtype)]
    return fixed


@st.composite
def _where_cases(draw, dtype):
    sc, sa, sb = draw(broadcast_shapes(3))
    cond = Arr(draw(array("bool", sc)))
    g = wants_grad(dtype, True)
    a = Arr(draw(array(dtype, sa)), g)
    if draw(st.integers(0, 4)) == 0:
        return Case((cond, a, draw(st.sampled_from([0.0, 1, math.nan, -0.0]))), dtype=dtype)
    odt = dtype if draw(st.integers(0, 3)) else draw(st.sampled_from(ALL))
    return Case((cond, a, Arr(draw(array(odt, sb)), wants_grad(odt, True))), dtype=dtype)


@st.composite
def clamp_cases(draw, dtype):
    """``clamp(x, min, max)``: scalar bounds (NaN and infinities among them), one bound by keyword,
    a tensor ``min``, or tensor bounds that broadcast with ``x``."""
    sx, sb = draw(broadcast_shapes(2))
    x = Arr(draw(array(dtype, sx)), wants_grad(dtype, True))
    form = draw(st.integers(0, 4))
    scal = st.sampled_from([-1, 0, 1, 0.5, -0.0, math.nan, -math.inf, math.inf, 2])
    if form == 0:
        return Case((x, draw(scal), draw(scal)), dtype=dtype)
    if form == 1:
        return Case((x,), {"min": draw(scal)}, dtype=dtype)
    if form == 2:
        return Case((x,), {"max": draw(scal)}, dtype=dtype)
    if form == 3:
        return Case((x, Arr(draw(array(dtype, sb)), wants_grad(dtype, True))), dtype=dtype)
    return Case((x,), {"min": Arr(draw(array(dtype, sb)), wants_grad(dtype, True)),
                       "max": Arr(draw(array(dtype, sb)), wants_grad(dtype, True))}, dtype=dtype)


def _clamp_fixed(dtype):
    s = specials(dtype)
    g = wants_grad(dtype, True)
    return [Case((Arr(s, g), -1, 1), dtype=dtype), Case((Arr(s, g),), {"min": Arr(s[::-1].copy(), g)}, dtype=dtype),
            Case((Arr(s.reshape(-1, 1), g),), {"min": Arr(s.reshape(1, -1), g), "max": 2}, dtype=dtype)]


def _arith_cases(extra=None, differentiable=True, scalars=(2, -3, 0.5, -1.5, 0, True), other_lo=-4):
    """``op(x, y, **extra)`` with ``x`` and ``y`` in [-4, 4] (zeros among them: integer zero
    divisors raise in both libraries), ``y`` broadcast, of another dtype, or a Python number;
    ``y`` in [other_lo, 4] (with zeros and the bounds mixed in only when ``other_lo <= 0``)."""
    @st.composite
    def cases(draw, dtype):
        sa, sb = draw(broadcast_shapes(2))
        x = Arr(draw(array(dtype, sa, -4, 4)), wants_grad(dtype, differentiable))
        kind = draw(st.integers(0, 4))
        kw = draw(extra) if extra is not None else {}
        if kind == 0:
            return Case((x, draw(st.sampled_from(list(scalars)))), kw, dtype=dtype)
        odt = draw(st.sampled_from(ALL)) if kind == 1 else dtype
        y = draw(array(odt, sb, other_lo, 4, special=other_lo <= 0))
        return Case((x, Arr(y, wants_grad(odt, differentiable))), kw, dtype=dtype)
    return cases


def _arith_specials(dtype: str, differentiable: bool = True, finite_grads_only: bool = False) -> list[Case]:
    """NaN, infinities and signed zeros against ordinary values (floats); the integer edge values
    against nonzero divisors."""
    g = wants_grad(dtype, differentiable)
    if dtype == "bool":
        return [Case((Arr(np.array([False, True]), g), Arr(np.array([[True], [True]]), g)), dtype=dtype)]
    if dtype in INTS:
        x = np.array([0, 1, -1, 7, -7, 5, -6], dtype)
        return [Case((Arr(x.reshape(-1, 1), g), Arr(np.array([1, -1, 2, -2, 3, -3], dtype).reshape(1, -1), g)),
                     dtype=dtype)]
    x = np.array([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -3.5, 0.3], dtype)
    f = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -3.5, 0.3, 7.0], dtype)
    return [Case((Arr(x.reshape(-1, 1), g and finite_grads_only is False), Arr(x.reshape(1, -1),
                  g and finite_grads_only is False)), dtype=dtype),
            Case((Arr(f.reshape(-1, 1), g), Arr(f[2:].reshape(1, -1), g)), dtype=dtype)]


def _remainder_specials(dtype: str) -> list[Case]:
    """``_arith_specials``, gradients only at finite quotients (lumina's are 0 beyond: see
    ``lumina.tensor.arithmetic``)."""
    return _arith_specials(dtype, finite_grads_only=True)


def _arith_rows() -> list[OpSpec]:
    """``add`` / ``sub`` (``alpha``), ``mul``, ``div`` (``rounding_mode``), ``pow``, ``fmod``,
    ``remainder``, ``floor_divide``, as functions and methods."""
    alpha = st.one_of(st.just({}), st.fixed_dictionaries({"alpha": st.sampled_from([2, -1, 0, 0.5, True])}))
    modes = st.one_of(st.just({}), st.fixed_dictionaries({"rounding_mode": st.sampled_from([None, "trunc", "floor",
                                                                                          "bogus"])}))
    rows = []
    rows += methods("add", cases=_arith_cases(alpha), dtypes=ALL, exact=True, fixed=_arith_specials,
                    checks="alpha: int, float (integers raise), bool (only for bool results)")
    rows += methods("sub", cases=_arith_cases(alpha), dtypes=ALL, exact=True, fixed=_arith_specials,
                    checks="alpha; bool operands raise")
    rows += methods("mul", cases=_arith_cases(), dtypes=ALL, exact=True, fixed=_arith_specials)
    rows += methods("div", cases=_arith_cases(modes), dtypes=FLOATS[:2] + INTS, ulps=1, fixed=_arith_specials,
                    checks="rounding_mode None / trunc / floor / invalid; integer zero divisors raise")
    rows += methods("floor_divide", cases=_arith_cases(), dtypes=FLOATS[:2] + INTS, exact=True,
                    fixed=_arith_specials, checks="integer zero divisors raise; zero gradient")
    for name in ("fmod", "remainder"):
        rows += methods(name, cases=_arith_cases(other_lo=1, scalars=(2, -3, 0.5, -1.5)), dtypes=FLOATS[:2] + INTS,
                        exact=True, fixed=_remainder_specials,
                        checks="the sign of the dividend (fmod) / divisor (remainder); NaN for a zero float "
                               "divisor, integer zero divisors raise")
    rows += methods("pow", cases=_arith_cases(scalars=(2, 3, 0.5, -1.5, 0), other_lo=1), dtypes=FLOATS[:2], ulps=8,
                    fixed=_arith_specials)
    return rows


@st.composite
def _nan_to_num_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes()))), wants_grad(dtype, True))
    vals = st.sampled_from([None, 0.0, -1.5, 7.0, 1e6])
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((x,), dtype=dtype)
    if form == 1:
        return Case((x, draw(st.sampled_from([0.0, 2.5, -1.0]))), {"posinf": draw(vals), "neginf": draw(vals)},
                    dtype=dtype)
    return Case((x,), {"nan": draw(st.sampled_from([0.0, -3.0])), "neginf": draw(vals)}, dtype=dtype)


def _pointwise_rows() -> list[OpSpec]:
    """The predicates, ``nan_to_num``, ``rsqrt`` / ``log1p`` / ``expm1`` / ``frac``."""
    rows = []
    for name in ("isnan", "isinf", "isfinite"):
        rows += _unary(name, exact=True, differentiable=False, checks="bool results; integers and bools are finite")
    rows += methods("nan_to_num", cases=_nan_to_num_cases, dtypes=ALL, exact=True, fixed=unary_specials,
                    checks="the dtype's extremes by default; integers unchanged")
    for name in ("rsqrt", "log1p", "expm1"):
        rows += _unary(name, ulps=4, checks="integers compute in float32" +
                       ("; accuracy near 0" if name != "rsqrt" else ""))
    rows += _unary("frac", dtypes=ALL, exact=True, checks="the sign of the input; integers and bools raise")
    return rows


def specs() -> list[OpSpec]:
    """The elementwise rows."""
    rows: list[OpSpec] = []
    for name, ulps in _UNARY_FLOAT.items():
        rows += _unary(name, ulps=ulps, exact_math=mpmath_pair(name),
                       grad_atol=4.0 if name in ("tanh", "sigmoid") else 0.0)
    rows += _unary("abs", exact=True) + _unary("neg", exact=True) + _unary("relu", exact=True, signed_zeros=False)
    rows += [OpSpec("F.relu", lambda L, x: L.nn.functional.relu(x), unary_cases(), dtypes=ALL, exact=True,
                    signed_zeros=False, fixed=unary_specials)]
    for name in ("sigmoid", "tanh"):
        rows += [OpSpec(f"F.{name}", (lambda n: lambda L, x: getattr(L.nn.functional, n)(x))(name), unary_cases(),
                        exact_math=mpmath_pair(name), grad_atol=4.0,
                        dtypes=ALL, ulps=4, fixed=unary_specials)]
    for name in ("floor", "ceil", "trunc", "sign"):
        rows += _unary(name, dtypes=ALL, exact=True,
                       checks="integers unchanged, bool raises (sign: returns it); signed zeros; zero gradient")
    rows += methods("round", cases=_round_cases, dtypes=ALL, exact=True, fixed=unary_specials,
                    checks="halves to even; ``decimals``, negative too")
    for name in _ACTIVATIONS:
        rows += [OpSpec(f"F.{name}", (lambda n: lambda L, x, *a: getattr(L.nn.functional, n)(x, *a))(name),
                        _activation_cases(name), dtypes=FLOATS, ulps=4, fixed=_activation_fixed(name),
                        checks="parameters; the gradient at the seams" if name not in ("silu", "mish", "softsign")
                        else "")]
    rows += [OpSpec("F.gelu", lambda L, x, **k: L.nn.functional.gelu(x, **k), _gelu_cases, dtypes=FLOATS, ulps=8,
                    exact_math=mpmath_pair("gelu"),
                    fixed=unary_specials),
             OpSpec("Tensor.__abs__", lambda L, x: abs(x), unary_cases(), dtypes=ALL, exact=True, fixed=unary_specials),
             OpSpec("Tensor.__neg__", lambda L, x: -x, unary_cases(), dtypes=ALL, exact=True, fixed=unary_specials),
             OpSpec("Tensor.__invert__", lambda L, x: ~x, unary_cases(differentiable=False), dtypes=("bool",) + INTS,
                    exact=True, grad=False)]
    # binary operators
    rows += _binary_dunder("__add__", operator.add, exact=True, reverse="__radd__")
    rows += _binary_dunder("__sub__", operator.sub, exact=True, reverse="__rsub__")
    rows += _binary_dunder("__mul__", operator.mul, exact=True, reverse="__rmul__")
    rows += _binary_dunder("__truediv__", operator.truediv, ulps=1, reverse="__rtruediv__")
    rows += _binary_dunder("__pow__", operator.pow, ulps=8, reverse="__rpow__")
    for name, op in (("__lt__", operator.lt), ("__le__", operator.le), ("__gt__", operator.gt),
                     ("__ge__", operator.ge), ("__eq__", operator.eq), ("__ne__", operator.ne)):
        rows += _binary_dunder(name, op, exact=True, differentiable=False)
    for name, op in (("__and__", operator.and_), ("__or__", operator.or_)):
        rows += _binary_dunder(name, op, exact=True, differentiable=False, dtypes=("bool",) + INTS)
    for name in ("maximum", "minimum"):
        rows += [OpSpec(f"lumina.{name}", (lambda n: lambda L, a, b: getattr(L, n)(a, b))(name),
                        binary_cases(scalar_other=False), dtypes=ALL, exact=True, signed_zeros=False,
                        fixed=binary_specials)]
    rows += [OpSpec("lumina.where", lambda L, c, a, b: L.where(c, a, b), _where_cases, dtypes=ALL, exact=True)]
    for scope in ("lumina", "Tensor"):
        for name in ("clamp", "clip"):
            call = (lambda n: (lambda L, x, *a, **k: getattr(L, n)(x, *a, **k)) if scope == "lumina" else
                    (lambda L, x, *a, **k: getattr(x, n)(*a, **k)))(name)
            rows.append(OpSpec(f"{scope}.{name}", call, clamp_cases, dtypes=FLOATS + INTS, exact=True,
                               signed_zeros=False,
                               fixed=_clamp_fixed, checks="NaN bounds (scalar and tensor), min > max"))
    return rows + _arith_rows() + _pointwise_rows()
