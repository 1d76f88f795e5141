"""``nn`` layer rows: each layer built in both libraries (torch's state loaded into lumina's), its
output, input gradients and parameter gradients compared; and ``nn.Parameter``."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..cases import Arr, Case
from ..spec import OpSpec
from ..strategies import array, shapes, tensor_only
from .common import mpmath_pair
from .functional import (_bce_cases, _class_loss_cases, _ctc_cases, _gaussian_nll_cases, _kl_div_cases,
                         _pair_target_cases, _pointwise_loss_cases, _triplet_cases)


def _args_only(cases):
    """A functional row's cases without their keywords (a loss module takes them at construction)."""
    return lambda d: cases(d).map(lambda c: Case(c.args, dtype=c.dtype))


def _open_unit_input(case: Case) -> bool:
    """Probabilities inside (0, 1): at 0 and 1 torch's BCE gradients are its own (a reviewed
    difference of the F.binary_cross_entropy row)."""
    x = case.args[0].value
    return bool(((x > 0) & (x < 1)).all())


def _loss_module_rows() -> list[OpSpec]:
    """Each loss module, built with non-default keywords, on its function's cases."""
    f64 = ("float32", "float64")
    common = dict(dtypes=f64, normwise=True, ulps=16, accumulates=True)
    # finite values here: the specials (and the overflow rounding at them) are the function rows' cases
    pair = _args_only(lambda d: _pointwise_loss_cases(d, lo=-4, hi=4, target_lo=-4, target_hi=4))
    rows = []
    rows += _module("L1Loss", lambda L: L.nn.L1Loss(), pair, **common)
    rows += _module("MSELoss", lambda L: L.nn.MSELoss(reduction="sum"), pair, **common)
    rows += _module("SmoothL1Loss", lambda L: L.nn.SmoothL1Loss(beta=0.5), pair, **common)
    rows += _module("HuberLoss", lambda L: L.nn.HuberLoss(reduction="none", delta=2.0), pair, **common)
    rows += _module("KLDivLoss", lambda L: L.nn.KLDivLoss(reduction="batchmean", log_target=True),
                    _args_only(lambda d: _kl_div_cases(d).filter(lambda c: c.kwargs["log_target"])), **common)
    rows += _module("PoissonNLLLoss", lambda L: L.nn.PoissonNLLLoss(full=True),
                    _args_only(lambda d: _pointwise_loss_cases(d, lo=-3, hi=3, target_lo=0, target_hi=4,
                                                               target_grad=False)), **common)
    rows += _module("GaussianNLLLoss", lambda L: L.nn.GaussianNLLLoss(full=True), _args_only(_gaussian_nll_cases),
                    **common)
    rows += _module("BCELoss", lambda L: L.nn.BCELoss(reduction="sum"), _args_only(
                        lambda d: _bce_cases(d).filter(_open_unit_input)),
                    dtypes=f64, normwise=True, ulps=16, accumulates=True)
    rows += _module("BCEWithLogitsLoss", lambda L: L.nn.BCEWithLogitsLoss(),
                    _args_only(lambda d: _bce_cases(d, logits=True)), **common)
    rows += _module("CrossEntropyLoss", lambda L: L.nn.CrossEntropyLoss(label_smoothing=0.1),
                    _args_only(_class_loss_cases), **common)
    rows += _module("NLLLoss", lambda L: L.nn.NLLLoss(reduction="sum"),
                    _args_only(lambda d: _class_loss_cases(d, log_probs=True)), **common)
    rows += _module("MarginRankingLoss", lambda L: L.nn.MarginRankingLoss(margin=0.5), _args_only(_pair_target_cases),
                    **common)
    rows += _module("CosineEmbeddingLoss", lambda L: L.nn.CosineEmbeddingLoss(margin=0.25),
                    _args_only(lambda d: _pair_target_cases(d, embedding=True)), **common)
    rows += _module("TripletMarginLoss", lambda L: L.nn.TripletMarginLoss(margin=0.5, p=1.0, swap=True),
                    _args_only(_triplet_cases), **common)
    rows += [OpSpec("nn.CTCLoss", lambda L, m, x, *a: m(L.nn.functional.log_softmax(x, 2), *a), cases=_args_only(
        _ctc_cases), module=lambda L: L.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True), **common)]
    return rows


def _activation_and_norm_module_rows() -> list[OpSpec]:
    """The activation, dropout (eval mode), normalisation, bilinear and embedding-bag layers, built with
    non-default arguments where they have any."""
    rows = []
    plain = dict(ulps=8, grad_atol=4.0)
    # inputs without NaN where a gradient is compared: torch's clamp kernels disagree with themselves
    # at NaN (see functional_more)
    finite = lambda d: _mod_input(d, special=False)      # noqa: E731
    for name, make in (("SiLU", lambda L: L.nn.SiLU()), ("Mish", lambda L: L.nn.Mish()),
                       ("Hardswish", lambda L: L.nn.Hardswish()), ("Hardsigmoid", lambda L: L.nn.Hardsigmoid()),
                       ("ReLU6", lambda L: L.nn.ReLU6()), ("LeakyReLU", lambda L: L.nn.LeakyReLU(0.2)),
                       ("ELU", lambda L: L.nn.ELU(0.5)), ("SELU", lambda L: L.nn.SELU()),
                       ("CELU", lambda L: L.nn.CELU(2.0)), ("Softplus", lambda L: L.nn.Softplus(2.0, 5.0)),
                       ("Softsign", lambda L: L.nn.Softsign()), ("Tanhshrink", lambda L: L.nn.Tanhshrink()),
                       ("LogSigmoid", lambda L: L.nn.LogSigmoid()), ("Hardtanh", lambda L: L.nn.Hardtanh(-2.0, 0.5)),
                       ("Threshold", lambda L: L.nn.Threshold(0.5, -1.0)),
                       ("Softshrink", lambda L: L.nn.Softshrink(0.3)), ("Hardshrink", lambda L: L.nn.Hardshrink(0.3)),
                       ("RReLU", lambda L: L.nn.RReLU(0.1, 0.3).eval())):
        rows += _module(name, make, finite, **plain)
    channels3 = lambda d: _mod_input(d, shapes(2, 4, min_side=1).map(lambda s: (s[0], 3) + s[2:]),  # noqa: E731
                                     special=False)
    rows += _module("PReLU", lambda L: L.nn.PReLU(3, 0.1), channels3)
    rows += _module("GLU", lambda L: L.nn.GLU(0), lambda d: _mod_input(d, shapes(1, 3, min_side=1).map(
        lambda s: (2 * s[0],) + s[1:]), special=False), ulps=8, grad_atol=4.0)
    for name in ("Softmax", "LogSoftmax", "Softmin"):
        rows += _module(name, (lambda n: lambda L: getattr(L.nn, n)(dim=-1))(name), lambda d: _mod_input(
            d, shapes(1, 3)), normwise=True, ulps=16, accumulates=True)
    for name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"):
        rank = {"Dropout1d": 3, "Dropout2d": 4}.get(name, 5)
        rows += _module(name, (lambda n: lambda L: getattr(L.nn, n)(0.3).eval())(name), lambda d, r=rank: _mod_input(
            d, shapes(r, r, min_side=1)), exact=True, checks="evaluation: identity")
    norm = dict(ulps=64, accumulates=True, normwise=True)
    rows += _module("GroupNorm", lambda L: L.nn.GroupNorm(2, 4), lambda d: _mod_input(
        d, shapes(2, 4, min_side=2).map(lambda s: (s[0], 4) + s[2:]), special=False), **norm)
    for k, name in enumerate(("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"), 1):
        rows += _module(name, (lambda n: lambda L: getattr(L.nn, n)(2, affine=True, track_running_stats=True))(name),
                        lambda d, k=k: _mod_input(d, shapes(k + 2, k + 2, min_side=2).map(
                            lambda s: (s[0], 2) + s[2:]), special=False),
                        checks="affine, tracked running statistics (training mode)", **norm)
    rows += _module("RMSNorm", lambda L: L.nn.RMSNorm([3]), lambda d: _mod_input(
        d, shapes(1, 3, min_side=1).map(lambda s: s[:-1] + (3,))), checks="eps=None", **norm)
    rows += _module("LocalResponseNorm", lambda L: L.nn.LocalResponseNorm(3, alpha=0.5), lambda d: _mod_input(
        d, shapes(3, 4, min_side=1), special=False), **norm)
    rows += _module("BatchNorm3d", lambda L: L.nn.BatchNorm3d(2), lambda d: _mod_input(
        d, shapes(5, 5, min_side=2).map(lambda s: (s[0], 2) + s[2:]), special=False), **norm)
    rows += _module("Bilinear", lambda L: L.nn.Bilinear(2, 3, 2), _bilinear_module_cases, **norm)
    rows += _module("EmbeddingBag", lambda L: L.nn.EmbeddingBag(5, 2, mode="sum"), lambda d: st.builds(
        lambda a, o: Case((Arr(a), Arr(o)), dtype=d), array("int64", (4,), 0, 4),
        st.sampled_from([np.array([0, 2]), np.array([0, 0, 4]), np.array([0])])), dtypes=("int64",),
        accumulates=True, normwise=True, checks="offsets, empty bags")
    return rows


@st.composite
def _bilinear_module_cases(draw, dtype):
    lead = draw(shapes(1, 2, min_side=1))
    return Case((Arr(draw(array(dtype, lead + (2,), special=False)), True),
                 Arr(draw(array(dtype, lead + (3,), special=False)), True)), dtype=dtype)


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
    rows += _module("Identity", lambda L: L.nn.Identity(3, k=1), _mod_input, exact=True)
    rows += _module("Unflatten", lambda L: L.nn.Unflatten(-1, (2, -1)), lambda d: _mod_input(
        d, shapes(1, 3).map(lambda s: s[:-1] + (4,))), exact=True)
    rows += _loss_module_rows()
    rows += _activation_and_norm_module_rows()
    rows += [OpSpec("nn.Parameter", lambda L, x: L.nn.Parameter(x.detach()), tensor_only, exact=True, grad=False,
                    check_extra=_parameter_check)]
    return rows
