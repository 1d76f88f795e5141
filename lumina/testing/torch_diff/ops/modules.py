"""``nn`` layer rows: each layer built in both libraries (torch's state loaded into lumina's), its
output, input gradients and parameter gradients compared; and ``nn.Parameter``."""
from __future__ import annotations

from hypothesis import strategies as st

from ..cases import Arr, Case
from ..spec import OpSpec
from ..strategies import array, shapes, tensor_only
from .common import mpmath_pair


def _module(name, make, cases, dtypes=("float32",), **kw):
    return [OpSpec(f"nn.{name}", lambda L, m, *a, **k: m(*a, **k), cases=cases, module=make, dtypes=dtypes, **kw)]


@st.composite
def _mod_input(draw, dtype, shape_st=None, special=True):
    shape = draw(shape_st if shape_st is not None else shapes())
    return Case((Arr(draw(array(dtype, shape, special=special)), True),), dtype=dtype)


@st.composite
def _mha_cases(draw, dtype):
    b, L_, S = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    q = Arr(draw(array(dtype, (L_, b, 4), special=False)), True)
    k = Arr(draw(array(dtype, (S, b, 4), special=False)), True)
    kw = {}
    form = draw(st.integers(0, 3))
    if form == 1:
        kw["attn_mask"] = Arr(draw(array("bool", (L_, S))))
    elif form == 2:
        kw["key_padding_mask"] = Arr(draw(array("bool", (b, S))))
    elif form == 3:
        kw["need_weights"] = False
    return Case((q, k, k), kw, dtype=dtype)


def _mha_fully_masked(case: Case) -> bool:
    """A query whose every key is masked (True = may not attend): lumina gives 0, torch NaN."""
    am, kp = case.kwargs.get("attn_mask"), case.kwargs.get("key_padding_mask")
    return (am is not None and am.value.all(-1).any()) or (kp is not None and kp.value.all(-1).any())


def _parameter_check(case, lout, tout) -> list[str]:
    if getattr(lout, "requires_grad", False) and getattr(lout, "is_leaf", False):
        return []
    return ["Parameter: not a leaf that requires grad"]


def specs() -> list[OpSpec]:
    """The ``nn`` layer rows."""
    rows: list[OpSpec] = []
    img = shapes(4, 4, min_side=1)
    rows += _module("ReLU", lambda L: L.nn.ReLU(), _mod_input, exact=True, signed_zeros=False)
    rows += _module("Sigmoid", lambda L: L.nn.Sigmoid(), _mod_input, exact_math=mpmath_pair("sigmoid"), grad_atol=4.0)
    rows += _module("Tanh", lambda L: L.nn.Tanh(), _mod_input, exact_math=mpmath_pair("tanh"), grad_atol=4.0)
    rows += _module("GELU", lambda L: L.nn.GELU(), _mod_input, ulps=8, exact_math=mpmath_pair("gelu"))
    rows += _module("Flatten", lambda L: L.nn.Flatten(), lambda d: _mod_input(d, shapes(1, 4)), exact=True)
    rows_of_3 = shapes(1, 3).map(lambda s: s[:-1] + (3,))
    rows += _module("Linear", lambda L: L.nn.Linear(3, 2), lambda d: _mod_input(d, rows_of_3), accumulates=True,
                    normwise=True)
    rows += _module("Sequential", lambda L: L.nn.Sequential(L.nn.Linear(3, 4), L.nn.ReLU(), L.nn.Linear(4, 2)),
                    lambda d: _mod_input(d, shapes(1, 2).map(lambda s: s[:-1] + (3,))), accumulates=True,
                    normwise=True)
    rows += _module("Conv2d", lambda L: L.nn.Conv2d(2, 3, 3, padding=1), lambda d: _mod_input(
        d, img.map(lambda s: (s[0], 2) + s[2:]), special=False), accumulates=True, normwise=True)
    rows += _module("MaxPool2d", lambda L: L.nn.MaxPool2d(2), lambda d: _mod_input(d, img), exact=True,
                    signed_zeros=False)
    rows += _module("AvgPool2d", lambda L: L.nn.AvgPool2d(2), lambda d: _mod_input(d, img), accumulates=True)
    rows += _module("BatchNorm1d", lambda L: L.nn.BatchNorm1d(3), lambda d: _mod_input(
        d, shapes(2, 3, min_side=2).map(lambda s: (s[0], 3) + s[2:]), special=False), ulps=64, accumulates=True,
        normwise=True)
    rows += _module("BatchNorm2d", lambda L: L.nn.BatchNorm2d(2).eval(), lambda d: _mod_input(
        d, img.map(lambda s: (s[0], 2) + s[2:])), ulps=64, accumulates=True, normwise=True, checks="evaluation mode")
    rows += _module("LayerNorm", lambda L: L.nn.LayerNorm(3), lambda d: _mod_input(
        d, shapes(1, 3).map(lambda s: s[:-1] + (3,))), ulps=64, accumulates=True, normwise=True, homogeneous=0)
    rows += _module("Embedding", lambda L: L.nn.Embedding(5, 2), lambda d: st.builds(
        lambda a: Case((Arr(a),), dtype=d), array("int64", (3,), 0, 4)), dtypes=("int64",), exact=True)
    rows += _module("Dropout", lambda L: L.nn.Dropout(0.5).eval(), _mod_input, exact=True, checks="evaluation: identity")
    rows += _module("MultiheadAttention", lambda L: L.nn.MultiheadAttention(4, 2), _mha_cases, ulps=64, normwise=True,
                    draws=0.5,
                    skip=(("a query whose every key is masked gives 0 in lumina (its documented choice, as "
                           "scaled_dot_product_attention in torch), NaN in torch's MultiheadAttention",
                           _mha_fully_masked),),
                    accumulates=True, checks="torch's default layout (batch_first=False), masks, need_weights")
    rows += [OpSpec("nn.Parameter", lambda L, x: L.nn.Parameter(x.detach()), tensor_only, exact=True, grad=False,
                    check_extra=_parameter_check)]
    return rows
