"""Rows of the further elementwise math (lumina/tensor/special_math.py, binary_math.py): the
hyperbolic functions and their inverses, log2 / log10 / exp2, reciprocal, sinc, logit, sgn /
signbit, deg2rad / rad2deg; hypot, logaddexp(2), xlogy, copysign, heaviside, float_power, lerp,
addcmul / addcdiv; as functions, methods and in-place methods."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, FLOATS, INTS, Arr, Case
from ..spec import OpSpec
from ..strategies import (array, binary_cases, binary_specials, broadcast_shapes, specials, unary_cases,
                          unary_specials, wants_grad)
from .common import methods, mpmath_pair
from .inplace import _inplace, _inplace_cases

_INPLACE_CHECKS = "returns self; integer tensors raise (float results); on a leaf that requires grad it raises"

# name -> ulps (float32 / float64 against torch; 16-bit floats round once from float32)
_UNARY = dict(sinh=4, cosh=4, asinh=4, acosh=4, atanh=4, log2=2, log10=2, exp2=2, reciprocal=1, sinc=4, atan=4, asin=4,
              acos=4)


@st.composite
def _logit_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(st.sampled_from([(), (3,), (2, 3)])))), wants_grad(dtype, True))
    if draw(st.booleans()):
        return Case((x, draw(st.sampled_from([0.1, 1e-6, 0.0, 0.5]))), dtype=dtype)
    return Case((x,), dtype=dtype)


def _negative_zero(case) -> bool:
    return any(isinstance(a, Arr) and a.value.dtype.kind == "f" and bool(np.any((a.value == 0) & np.signbit(a.value)))
               for a in case.args)


def _logit_fixed(dtype):
    s = specials(dtype)
    keep = ~((s == 0) & np.signbit(s)) if dtype in FLOATS else np.ones(s.shape, bool)
    return [Case((Arr(s[keep], wants_grad(dtype, True)),), dtype=dtype)]


_LOGIT_SKIP = (("the gradient at -0.0: torch's scalar kernel gives +inf, its vectorised one -inf (lumina: -inf)",
                _negative_zero),)


def _equal_finite_pair(case) -> bool:
    a, b = case.args[0], case.args[1]
    if not (isinstance(a, Arr) and isinstance(b, Arr)):
        return False
    try:
        x, y = np.broadcast_arrays(np.asarray(a.value, np.float64), np.asarray(b.value, np.float64))
    except ValueError:
        return False
    return bool(np.any((x == y) & np.isfinite(x)))


def _logaddexp2_fixed(dtype):
    s = specials(dtype).astype(np.float64)
    with np.errstate(over="ignore"):
        t = (s * 3 + 0.25).astype(specials(dtype).dtype)
    g = wants_grad(dtype, True)
    return [Case((Arr(s.astype(t.dtype).reshape(-1, 1), g), Arr(t.reshape(1, -1), g)), dtype=dtype)]


_LOGADDEXP2_SKIP = (("equal finite operands: torch's float32 log2(2^-1 + 2^-1) is -1e-8, not 0 (lumina's is the exact "
                     "a + 1; tests/test_elementwise_more.py)", _equal_finite_pair),)


def _unary_rows() -> list[OpSpec]:
    rows = []
    for name, ulps in _UNARY.items():
        rows += methods(name, cases=unary_cases(), dtypes=ALL, ulps=ulps, fixed=unary_specials,
                        checks="integers and bools compute in float32; NaN / inf / ±0 and domain edges as torch")
        rows += [OpSpec(f"Tensor.{name}_", _inplace(f"{name}_"), _inplace_cases(0), dtypes=("float32", "int64"),
                        ulps=ulps, checks=_INPLACE_CHECKS)]
    rows += methods("logit", cases=_logit_cases, dtypes=ALL, ulps=4, fixed=_logit_fixed, skip=_LOGIT_SKIP,
                    checks="eps clamps (gradient 0 outside); NaN outside [0, 1] without eps")
    rows += [OpSpec("Tensor.logit_", _inplace("logit_"), _inplace_cases(0), dtypes=("float32", "int64"), ulps=4,
                    checks=_INPLACE_CHECKS)]
    for name in ("deg2rad", "rad2deg"):
        rows += methods(name, cases=unary_cases(), dtypes=ALL, ulps=1, fixed=unary_specials,
                        checks="integers and bools give float32; in place on integers raises")
        rows += [OpSpec(f"Tensor.{name}_", _inplace(f"{name}_"), _inplace_cases(0), dtypes=("float32", "int64"),
                        ulps=1, checks=_INPLACE_CHECKS)]
    # torch's gradient of sgn is a ZeroTensor, which the runner cannot read: the zero gradient is
    # tests/test_elementwise_more.py::test_signbit_and_sgn's
    rows += methods("sgn", cases=unary_cases(differentiable=False), dtypes=ALL, exact=True, grad=False,
                    fixed=lambda d: unary_specials(d, False), checks="sign for real dtypes, 0 at NaN")
    rows += [OpSpec("Tensor.sgn_", _inplace("sgn_"), _inplace_cases(0), dtypes=("float32", "int64"), exact=True,
                    grad=False, checks="returns self")]
    rows += methods("signbit", cases=unary_cases(differentiable=False), dtypes=ALL, exact=True, grad=False,
                    fixed=lambda d: unary_specials(d, False), checks="bool results; -0.0 and -inf count as negative")
    return rows


def _float_binary(name, ulps, scalar_other=False, dtypes=ALL, other_dtypes=ALL, checks=""):
    return methods(name, cases=binary_cases(scalar_other=scalar_other, other_dtypes=other_dtypes), dtypes=dtypes,
                   ulps=ulps, fixed=binary_specials, checks=checks)


@st.composite
def _heaviside_cases(draw, dtype):
    sa, sb = draw(broadcast_shapes(2))
    odt = dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
    return Case((Arr(draw(array(dtype, sa))), Arr(draw(array(odt, sb)))), dtype=dtype)


@st.composite
def _lerp_cases(draw, dtype):
    sa, sb = draw(broadcast_shapes(2))
    g = wants_grad(dtype, True)
    s = Arr(draw(array(dtype, sa, -4, 4)), g)
    edt = dtype if draw(st.integers(0, 5)) else draw(st.sampled_from(ALL))
    e = Arr(draw(array(edt, sb, -4, 4)), wants_grad(edt, True))
    if draw(st.booleans()):
        return Case((s, e, draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, -0.5, 2.0, math.nan]))), dtype=dtype)
    w = Arr(draw(array(dtype, draw(st.sampled_from([(), (1,)])), -1, 2)), g)
    return Case((s, e, w), dtype=dtype)


def _addc_cases(divide):
    @st.composite
    def cases(draw, dtype):
        s1, s2, s3 = draw(broadcast_shapes(3))
        g = wants_grad(dtype, True)
        a = Arr(draw(array(dtype, s1, -4, 4)), g)
        odt = dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
        b = Arr(draw(array(odt, s2, -4, 4)), wants_grad(odt, True))
        c = Arr(draw(array(dtype, s3, 1 if divide else -4, 4, special=not divide)), g)
        kw = {} if draw(st.booleans()) else {"value": draw(st.sampled_from([2, -1, 0.5, 0, True]))}
        return Case((a, b, c), kw, dtype=dtype)
    return cases


def _binary_rows() -> list[OpSpec]:
    rows = []
    rows += _float_binary("hypot", 2, dtypes=FLOATS, other_dtypes=FLOATS,
                          checks="no overflow; inf beside NaN; integers raise")
    rows += _float_binary("logaddexp", 4, dtypes=FLOATS, other_dtypes=FLOATS, checks="equal infinities; integers raise")
    rows += methods("logaddexp2", cases=binary_cases(scalar_other=False, other_dtypes=FLOATS), dtypes=FLOATS, ulps=4,
                    fixed=_logaddexp2_fixed, skip=_LOGADDEXP2_SKIP, checks="equal infinities; integers raise")
    rows += _float_binary("xlogy", 4, scalar_other=True, checks="0 at x == 0 unless y is NaN; integers in float32")
    rows += _float_binary("atan2", 4, checks="quadrants by the signs of ±0 and ±inf; integers in float32")
    rows += [OpSpec("Tensor.atan2_", _inplace("atan2_"), _inplace_cases(1, (2, 0.5, -1, math.nan)),
                    dtypes=("float32", "float64", "int64"), ulps=4, checks=_INPLACE_CHECKS)]
    rows += _float_binary("copysign", 0, scalar_other=True, checks="-0.0 and -inf signs; integers in float32")
    rows += _float_binary("float_power", 8, scalar_other=True, dtypes=FLOATS[:2] + INTS,
                          checks="float64 results whatever the inputs")
    rows += methods("heaviside", cases=_heaviside_cases, dtypes=ALL, exact=True, grad=False,
                    checks="values at 0, 0 at NaN; dtypes must match")
    rows += methods("lerp", cases=_lerp_cases, dtypes=FLOATS, ulps=2,
                    checks="scalar and tensor weights; end and weight dtypes must match; integers raise")
    rows += methods("addcmul", cases=_addc_cases(False), dtypes=FLOATS[:2] + INTS, ulps=2,
                    checks="value=; integer results with a float value raise")
    rows += methods("addcdiv", cases=_addc_cases(True), dtypes=FLOATS[:2] + INTS, ulps=2,
                    checks="value=; integer operands raise")
    for name, arity in (("hypot_", 1), ("xlogy_", 1), ("copysign_", 1), ("float_power_", 1)):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), _inplace_cases(arity, (2, 0.5, -1, math.nan)),
                        dtypes=("float32", "float64", "int64"), ulps=8, checks=_INPLACE_CHECKS)]
    rows += [OpSpec("Tensor.heaviside_", _inplace("heaviside_"), _heaviside_cases, dtypes=("float32", "int64"),
                    exact=True, grad=False, checks="returns self"),
             OpSpec("Tensor.lerp_", _inplace("lerp_"), _lerp_cases, dtypes=("float32",), ulps=2,
                    checks="returns self"),
             OpSpec("Tensor.addcmul_", _inplace("addcmul_"), _addc_cases(False), dtypes=("float32", "int64"), ulps=2,
                    checks="returns self"),
             OpSpec("Tensor.addcdiv_", _inplace("addcdiv_"), _addc_cases(True), dtypes=("float32",), ulps=2,
                    checks="returns self")]
    return rows


def _near(points, width=0.25, below=None):
    """A skip predicate: the case's first tensor has a finite element within ``width`` of one of
    ``points`` (or below ``below``)."""
    def applies(case) -> bool:
        a = case.args[0] if case.args else None
        if not isinstance(a, Arr) or a.value.dtype.kind != "f":
            return False
        v = np.asarray(a.value, np.float64)
        v = v[np.isfinite(v)]
        close = any(bool(np.any(np.abs(v - p) < width)) for p in points)
        return close or (below is not None and bool(np.any(v < below)))
    return applies


_ROOTS = ("near a root, where both libraries' relative errors grow without bound (lumina's absolute error is within "
          "8 eps; tests/test_elementwise_more.py)")


@st.composite
def _polygamma_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(st.sampled_from([(), (3,), (2, 3)])), 0.05, 30)), wants_grad(dtype, True))
    return Case((draw(st.sampled_from([0, 1, 2])), x), dtype=dtype)


def _gamma_rows() -> list[OpSpec]:
    rows = []
    rows += methods("lgamma", cases=unary_cases(), dtypes=FLOATS[:2] + INTS, ulps=16, fixed=unary_specials,
                    skip=((_ROOTS, _near((1.0, 2.0), below=0.0)),),
                    checks="inf at the poles and ±inf; integers in float32")
    rows += methods("digamma", cases=unary_cases(), dtypes=FLOATS[:2] + INTS, ulps=16, fixed=unary_specials,
                    skip=((_ROOTS, _near((1.4616321449683622,), below=0.0)),),
                    checks="-inf at +0, inf at -0, NaN at negative integers")
    rows += [OpSpec("lumina.polygamma", lambda L, n, x: L.polygamma(n, x), _polygamma_cases, ulps=16,
                    checks="n = 0, 1, 2 for x > 0"),
             OpSpec("Tensor.polygamma", lambda L, n, x: x.polygamma(n), _polygamma_cases, ulps=16,
                    checks="n = 0, 1, 2 for x > 0")]
    rows += methods("erfinv", cases=unary_cases(-0.99, 0.99), dtypes=FLOATS + INTS, ulps=8, fixed=unary_specials,
                    checks="±inf at ±1, NaN beyond, signed zeros")
    for name, lo in (("lgamma_", 2.5), ("digamma_", 2.5), ("erfinv_", -0.9)):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), _inplace_cases(0), dtypes=("float32", "int64"), ulps=16,
                        skip=((_ROOTS, _near((1.0, 1.4616321449683622, 2.0), below=0.0 if lo > 0 else None)),),
                        checks=_INPLACE_CHECKS)]
    rows += [OpSpec("Tensor.polygamma_", lambda L, n, x: _inplace("polygamma_")(L, x, n), _polygamma_cases, ulps=16,
                    checks=_INPLACE_CHECKS)]
    return rows


def _special(name, cases, **kw) -> OpSpec:
    return OpSpec(f"lumina.special.{name}", (lambda n: lambda L, *a, **k: getattr(L.special, n)(*a, **k))(name),
                  cases, **kw)


@st.composite
def _softmax_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(st.sampled_from([(3,), (2, 3)])))), wants_grad(dtype, True))
    return Case((x, draw(st.sampled_from([0, -1]))), dtype=dtype)


def _special_rows() -> list[OpSpec]:
    """``lumina.special``: the same functions as the rows above under torch.special's names, and
    ``entr`` / ``xlog1py``."""
    unary = {"expit": 4, "erfinv": 8, "exp2": 2, "expm1": 4, "log1p": 4, "sinc": 4}
    rows = [_special(n, unary_cases(-0.99, 0.99) if n == "erfinv" else unary_cases(), dtypes=FLOATS[:2] + INTS,
                     ulps=u, fixed=unary_specials, **({"exact_math": mpmath_pair("sigmoid"), "grad_atol": 4.0}
                                                      if n == "expit" else {}))
            for n, u in unary.items()]
    rows += [_special("logit", _logit_cases, ulps=4, fixed=_logit_fixed, skip=_LOGIT_SKIP),
             _special("gammaln", unary_cases(), dtypes=FLOATS[:2], ulps=16, fixed=unary_specials,
                      skip=((_ROOTS, _near((1.0, 2.0), below=0.0)),)),
             _special("digamma", unary_cases(), dtypes=FLOATS[:2], ulps=16, fixed=unary_specials,
                      skip=((_ROOTS, _near((1.4616321449683622,), below=0.0)),)),
             _special("psi", unary_cases(), dtypes=FLOATS[:2], ulps=16, fixed=unary_specials,
                      skip=((_ROOTS, _near((1.4616321449683622,), below=0.0)),)),
             _special("polygamma", _polygamma_cases, ulps=16),
             _special("entr", unary_cases(), dtypes=FLOATS[:2] + INTS, ulps=4, fixed=unary_specials,
                      checks="0 at 0, -inf below; integers in float32"),
             _special("xlogy", binary_cases(), dtypes=FLOATS[:2] + INTS, ulps=4, fixed=binary_specials),
             _special("xlog1py", binary_cases(), dtypes=FLOATS[:2] + INTS, ulps=4, fixed=binary_specials,
                      checks="0 at x == 0 unless y is NaN; integers in float32"),
             _special("softmax", _softmax_cases, ulps=4, normwise=True),
             _special("log_softmax", _softmax_cases, ulps=4, normwise=True)]
    return rows


def specs() -> list[OpSpec]:
    """The further elementwise rows."""
    return _unary_rows() + _binary_rows() + _gamma_rows() + _special_rows()
