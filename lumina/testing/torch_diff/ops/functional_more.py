"""More ``nn.functional`` rows: the clamp / shrink / gated / parametric activations, ``softmin``,
``linear`` / ``bilinear``, ``normalize``, group / instance / RMS / local-response normalisation,
``embedding_bag`` and the channel-wise and alpha dropouts (``functional.specs`` adds them)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import lumina

from ..cases import FLOATS, INTS, Arr, Case, np_dtype
from ..spec import OpSpec
from ..strategies import array, dim_of, rarely, shapes, specials, wants_grad
from ..tensors import lumina_numpy, torch_numpy

F64 = ("float32", "float64")


def _fn(name):
    return lambda L, *a, **k: getattr(L.nn.functional, name)(*a, **k)


# torch's clamp and shrink backward kernels disagree with themselves at NaN: the vectorised loop
# (blocks of 8 float64 / 16 float32 elements) gives 0, lumina's choice, the scalar loop (small
# tensors, tails) passes the gradient. Gradients are compared on NaN-free inputs here;
# tests/test_nn_activations.py checks the NaN gradient on a whole vector block.


def _no_nan_grad(dtype, x) -> Arr:
    return Arr(x, wants_grad(dtype, True) and not np.isnan(np.asarray(x, np.float64)).any())


def _pointwise(params):
    """An input of any shape (special values mixed in) and keywords drawn from ``params``."""
    @st.composite
    def cases(draw, dtype):
        return Case((_no_nan_grad(dtype, draw(array(dtype, draw(shapes())))),), draw(params), dtype=dtype)
    return cases


def _pointwise_fixed(kwargs):
    """The special values: NaN without gradients, the others with."""
    def fixed(dtype):
        s = specials(dtype)
        nan = np.isnan(s.astype(np.float64)) if s.dtype.kind == "f" or dtype == "bfloat16" else np.zeros(len(s), bool)
        return [Case((_no_nan_grad(dtype, s[~nan].copy()),), kwargs, dtype=dtype),
                Case((_no_nan_grad(dtype, s.copy()),), kwargs, dtype=dtype)]
    return fixed


def _kw(**choices):
    """Each keyword drawn from its choices or left out."""
    return st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in choices.items()})


@st.composite
def _prelu_cases(draw, dtype):
    shape = draw(shapes(0, 4))
    channels = shape[1] if len(shape) >= 2 else 1
    n = draw(st.sampled_from([1, channels])) if not rarely(draw, 12) else channels + 1
    x = Arr(draw(array(dtype, shape)), True)
    w = Arr(draw(array(dtype, (n,) if draw(st.integers(0, 4)) else (), -1, 1, special=False)), True)
    return Case((x, w), dtype=dtype)


@st.composite
def _glu_cases(draw, dtype):
    shape = list(draw(shapes(1, 3, min_side=1)))
    d = draw(st.integers(-len(shape), len(shape) - 1))
    shape[d] = 2 * shape[d] + (1 if rarely(draw, 10) else 0)
    x = Arr(draw(array(dtype, tuple(shape))), True)
    return Case((x,), {"dim": d}, dtype=dtype)


@st.composite
def _softmin_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    return Case((Arr(draw(array(dtype, shape)), True), dim_of(draw, len(shape))), dtype=dtype)


@st.composite
def _linear_cases(draw, dtype):
    lead = draw(shapes(0, 2, min_side=1))
    i, o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = Arr(draw(array(dtype, lead + (i + (1 if rarely(draw, 12) else 0),), special=False)), True)
    w = Arr(draw(array(dtype, (o, i) if draw(st.integers(0, 5)) else (i,), special=False)), True)
    args = (x, w)
    if draw(st.booleans()) and w.value.ndim == 2:
        args += (Arr(draw(array(dtype, (o,), special=False)), True),)
    return Case(args, dtype=dtype)


@st.composite
def _bilinear_cases(draw, dtype):
    lead = draw(shapes(1, 2, min_side=1))
    i, j, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x1 = Arr(draw(array(dtype, lead + (i,), special=False)), True)
    x2 = Arr(draw(array(dtype, lead + (j + (1 if rarely(draw, 12) else 0),), special=False)), True)
    w = Arr(draw(array(dtype, (o, i, j), special=False)), True)
    args = (x1, x2, w)
    if draw(st.booleans()):
        args += (Arr(draw(array(dtype, (o,), special=False)), True),)
    return Case(args, dtype=dtype)


@st.composite
def _normalize_cases(draw, dtype):
    shape = draw(shapes(1, 3, min_side=1))
    x = draw(array(dtype, shape, special=False))
    if draw(st.integers(0, 4)) == 0:
        x = x * 0      # a zero vector: the eps clamp, and torch's zero gradient of the norm
    kw = draw(_kw(p=[1.0, 2.0, 3.0, math.inf, 0.0], eps=[1e-12, 0.5]))
    kw["dim"] = dim_of(draw, len(shape))
    return Case((Arr(x, True),), kw, dtype=dtype)


@st.composite
def _group_norm_cases(draw, dtype):
    g, per = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    c = g * per
    shape = (draw(st.integers(1, 2)), c) + draw(shapes(0, 2, min_side=1))
    x = Arr(draw(array(dtype, shape, special=False)), True)
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = Arr(draw(array(dtype, (c,), special=False)), True)
        kw["bias"] = Arr(draw(array(dtype, (c,), special=False)), True)
    if draw(st.integers(0, 3)) == 0:
        kw["eps"] = draw(st.sampled_from([0.0, 1e-3]))
    groups = g if not rarely(draw, 12) else c + 1
    return Case((x, groups), kw, dtype=dtype)


def _constant_group(case: Case) -> bool:
    """A group of equal values (zero variance; with special values, NaN there is compared by the
    fixed case of tests/test_nn_norms_more.py)."""
    x, g = case.args[0].value.astype(np.float64), case.args[1]
    if not x.size or x.shape[1] % g:
        return False
    groups = x.reshape(x.shape[0], g, -1)
    return bool((groups.max(-1) == groups.min(-1)).any())


@st.composite
def _instance_norm_cases(draw, dtype):
    c = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), c) + draw(shapes(1, 2, min_side=1))
    if math.prod(shape[2:]) == 1:
        shape = shape[:2] + (2,) + shape[3:]
    x = Arr(draw(array(dtype, shape, special=False)), True)
    kw = {}
    if draw(st.booleans()):
        kw["running_mean"] = Arr(draw(array(dtype, (c,), special=False)))
        kw["running_var"] = Arr(draw(array(dtype, (c,), 0.1, 3, special=False)))
        kw["use_input_stats"] = draw(st.booleans())
        if draw(st.booleans()):
            kw["momentum"] = draw(st.sampled_from([0.0, 0.5]))
    if draw(st.booleans()):
        kw["weight"] = Arr(draw(array(dtype, (c,), special=False)), True)
        kw["bias"] = Arr(draw(array(dtype, (c,), special=False)), True)
    return Case((x,), kw, dtype=dtype)


def _instance_norm_call(L, x, **kw):
    """The output and the running statistics after the call (updated with input stats)."""
    out = L.nn.functional.instance_norm(x, **kw)
    return (out,) + tuple(kw[k] for k in ("running_mean", "running_var") if k in kw)


@st.composite
def _rms_norm_cases(draw, dtype):
    shape = draw(shapes(1, 3, min_side=1))
    k = draw(st.integers(1, len(shape)))
    ns = shape[len(shape) - k:]
    x = Arr(draw(array(dtype, shape)), True)
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = Arr(draw(array(dtype, ns, special=False)), True)
    if draw(st.integers(0, 2)) == 0:
        kw["eps"] = draw(st.sampled_from([1e-5, 0.5]))
    if rarely(draw, 10):
        ns = ns + (2,)
    return Case((x, list(ns)), kw, dtype=dtype)


@st.composite
def _lrn_cases(draw, dtype):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4))) + draw(shapes(1, 2, min_side=1))
    x = Arr(draw(array(dtype, shape, special=False)), True)
    kw = draw(_kw(alpha=[1e-4, 0.5], beta=[0.75, 1.5], k=[1.0, 2.0]))
    return Case((x, draw(st.integers(1, 4))), kw, dtype=dtype)


@st.composite
def _embedding_bag_cases(draw, dtype):
    v, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    w = Arr(draw(array(dtype, (v, d), special=False)), True)
    kw = {"mode": draw(st.sampled_from(["sum", "mean", "max"]))}
    if draw(st.booleans()):
        idx = draw(array("int64", (draw(st.integers(1, 3)), draw(st.integers(1, 3))), 0, v - 1))
        args = (Arr(idx), w)
    else:
        n = draw(st.integers(0, 6))
        idx = draw(array("int64", (n,), 0, v - 1))
        cuts = sorted(draw(st.lists(st.integers(0, n), min_size=0, max_size=3)))
        last = draw(st.booleans())
        offsets = np.array([0] + cuts + ([n] if last else []), np.int64)
        if last:
            kw["include_last_offset"] = True
        args = (Arr(idx), w, Arr(offsets))
    if draw(st.integers(0, 2)) == 0:
        kw["padding_idx"] = draw(st.integers(-v, v - 1))
    if kw["mode"] == "sum" and draw(st.booleans()):
        kw["per_sample_weights"] = Arr(draw(array(dtype, args[0].value.shape, special=False)), True)
    if rarely(draw, 12):
        kw["mode"] = "bogus"
    return Case(args, kw, dtype=dtype)


def _ties(case: Case) -> bool:
    """max mode with two equal candidates in a bag's column: the gradient goes to one of them (both
    libraries the first, but torch's bag order for a padded entry is its own)."""
    w = case.args[1].value
    return case.kwargs.get("mode") == "max" and len(np.unique(w, axis=0)) < len(w)


@st.composite
def _channel_dropout_cases(draw, dtype, rank):
    shape = draw(st.sampled_from([rank, rank + 1]).flatmap(lambda r: shapes(r, r, min_side=1)))
    x = Arr(draw(array(dtype, shape, special=False)))
    kw = draw(_kw(p=[0.0, 0.25, 0.5, 1.0, 1.5], training=[True, False]))
    return Case((x,), kw, dtype=dtype)


def _channel_check(rank):
    """Every channel (all the elements of ``x[n, c]``) is either all zeros or all ``x / (1 - p)``."""
    def check(case, lout, tout):
        if not isinstance(lout, lumina.Tensor):
            return []
        x = case.args[0].value.astype(np.float64)
        p, training = case.kwargs.get("p", 0.5), case.kwargs.get("training", True)
        y = lumina_numpy(lout).astype(np.float64)
        if not training or p in (0, 1):
            t = torch_numpy(tout).astype(np.float64)
            return [] if np.array_equal(y, t, equal_nan=True) else [f"p={p}, training={training}: not torch's"]
        lead = 1 if x.ndim == rank else 2
        scaled = (x / (1 - p)).astype(case.args[0].value.dtype).astype(np.float64)
        ys, ss = y.reshape(y.shape[:lead] + (-1,)), scaled.reshape(y.shape[:lead] + (-1,))
        zero = (ys == 0).all(-1)
        kept = np.isclose(ys, ss, rtol=1e-3).all(-1)
        return [] if (zero | kept).all() else [f"p={p}: a channel is neither dropped nor scaled by 1/(1-p)"]
    return check


@st.composite
def _alpha_dropout_cases(draw, dtype, feature=False):
    x = Arr(draw(array(dtype, draw(shapes(2 if feature else 0, 3, min_side=1)), special=False)))
    kw = draw(_kw(p=[0.0, 0.25, 0.5, 1.0, 1.5], training=[True, False]))
    return Case((x,), kw, dtype=dtype)


def _alpha_check(case, lout, tout):
    """Each element is ``a x + alpha a p`` (kept) or ``-alpha a + alpha a p`` (dropped), ATen's
    affine map; torch's result itself where the op is deterministic."""
    if not isinstance(lout, lumina.Tensor):
        return []
    x = case.args[0].value.astype(np.float64)
    p, training = case.kwargs.get("p", 0.5), case.kwargs.get("training", False)
    y = lumina_numpy(lout).astype(np.float64)
    if not training or p in (0, 1):
        t = torch_numpy(tout).astype(np.float64)
        return [] if np.allclose(y, t, equal_nan=True) else [f"p={p}, training={training}: not torch's"]
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    kept, dropped = a * x + alpha * a * p, -alpha * a + alpha * a * p
    ok = np.isclose(y, kept, rtol=1e-2, atol=1e-2) | np.isclose(y, dropped, rtol=1e-2, atol=1e-2)
    return [] if ok.all() else [f"alpha_dropout(p={p}): an element is neither kept nor dropped"]


def specs() -> list[OpSpec]:
    """The rows."""
    act = dict(dtypes=FLOATS, ulps=4)
    rows = [
        OpSpec("F.relu6", _fn("relu6"), _pointwise(st.just({})), dtypes=FLOATS + INTS, exact=True,
               fixed=_pointwise_fixed({}), checks="-0.0 kept, NaN passes, zero gradient at 0 and 6"),
        OpSpec("F.hardtanh", _fn("hardtanh"), _pointwise(_kw(min_val=[-1.0, -2.0, 0.0, 3.0], max_val=[1.0, 2.0])),
               dtypes=FLOATS + INTS, exact=True, fixed=_pointwise_fixed({"min_val": -0.5, "max_val": 3.0}),
               checks="bounds; min_val > max_val raises; gradient 0 at the bounds"),
        OpSpec("F.tanhshrink", _fn("tanhshrink"), _pointwise(st.just({})), dtypes=FLOATS + INTS, ulps=8,
               fixed=_pointwise_fixed({}), grad_atol=4.0, checks="integers compute in float32"),
        OpSpec("F.softshrink", _fn("softshrink"), _pointwise(_kw(lambd=[0.5, 0.0, 2.0, -1.0])),
               fixed=_pointwise_fixed({"lambd": 1.0}), signed_zeros=False,
               checks="a negative lambd raises; not the zeros' signs inside [-lambd, lambd] (torch's scalar "
                      "loop gives -0.0 for negative inputs, its vectorised one +0.0, lumina's choice)", **act),
        OpSpec("F.hardshrink", _fn("hardshrink"), _pointwise(_kw(lambd=[0.5, 0.0, 2.0, -1.0])), exact=True,
               dtypes=FLOATS, fixed=_pointwise_fixed({"lambd": 1.0})),
        OpSpec("F.logsigmoid", _fn("logsigmoid"), _pointwise(st.just({})), fixed=_pointwise_fixed({}),
               grad_atol=4.0, checks="no overflow at +-inf and large magnitudes", **act),
        OpSpec("F.rrelu", _fn("rrelu"), _pointwise(_kw(lower=[0.125, 0.0, 0.5], upper=[1 / 3, 0.5, 0.1])),
               fixed=_pointwise_fixed({}), checks="evaluation mode (the mean slope); lower > upper raises; training "
               "(random slopes) in tests/test_nn_activations.py", **act),
        OpSpec("F.prelu", _fn("prelu"), _prelu_cases, dtypes=F64, checks="one weight or one per channel (dim 1); "
               "the wrong count raises"),
        OpSpec("F.glu", _fn("glu"), _glu_cases, dtypes=FLOATS, ulps=8, grad_atol=4.0,
               checks="any dim; an odd size raises"),
        OpSpec("F.softmin", lambda L, x, d: L.nn.functional.softmin(x, d), _softmin_cases, normwise=True,
               dtypes=FLOATS, ulps=16),
        OpSpec("F.linear", _fn("linear"), _linear_cases, dtypes=F64, normwise=True, accumulates=True,
               checks="1-D weight; feature mismatch raises"),
        OpSpec("F.bilinear", _fn("bilinear"), _bilinear_cases, dtypes=F64, normwise=True, accumulates=True,
               ulps=16, checks="batch dims; feature mismatch raises"),
        OpSpec("F.normalize", _fn("normalize"), _normalize_cases, dtypes=F64, normwise=True, accumulates=True,
               ulps=16, checks="p = 0, 1, 2, 3, inf; zero vectors (eps)"),
        OpSpec("F.group_norm", _fn("group_norm"), _group_norm_cases, dtypes=F64, normwise=True, accumulates=True,
               ulps=64, checks="channels not divisible by the groups raise", skip=((
                   "a group of equal values: torch's fused kernel computes x * (rstd * w) + (b - mean * rstd * w), "
                   "rounding off by eps * |x| / sqrt(eps) where lumina's x - mean is exact", _constant_group),)),
        OpSpec("F.instance_norm", _instance_norm_call, _instance_norm_cases, dtypes=F64, normwise=True,
               accumulates=True, ulps=64, checks="running statistics after the call; use_input_stats=False"),
        OpSpec("F.rms_norm", _fn("rms_norm"), _rms_norm_cases, dtypes=FLOATS, normwise=True, accumulates=True,
               ulps=64, checks="eps=None (the dtype's epsilon); a shape mismatch raises"),
        OpSpec("F.local_response_norm", _fn("local_response_norm"), _lrn_cases, dtypes=F64, normwise=True,
               accumulates=True, ulps=16, checks="window sizes 1-4 (even ones too)"),
        OpSpec("F.embedding_bag", _fn("embedding_bag"), _embedding_bag_cases, dtypes=F64, normwise=True,
               accumulates=True, skip=(("equal rows of the table in max mode: the gradient may go to either",
                                        _ties),),
               checks="2-D input; offsets (empty bags, include_last_offset); sum / mean / max; "
                      "per_sample_weights; padding_idx"),
        OpSpec("F.dropout1d", _fn("dropout1d"), lambda d: _channel_dropout_cases(d, 2), values=False, grad=False,
               check_extra=_channel_check(2), checks="whole channels 0 or scaled; unbatched input"),
        OpSpec("F.dropout2d", _fn("dropout2d"), lambda d: _channel_dropout_cases(d, 3), values=False, grad=False,
               check_extra=_channel_check(0), checks="whole channels 0 or scaled"),
        OpSpec("F.dropout3d", _fn("dropout3d"), lambda d: _channel_dropout_cases(d, 4), values=False, grad=False,
               check_extra=_channel_check(4), checks="whole channels 0 or scaled; unbatched input"),
        OpSpec("F.alpha_dropout", _fn("alpha_dropout"), _alpha_dropout_cases, values=False, grad=False,
               check_extra=_alpha_check, checks="each element kept or dropped by ATen's affine map"),
        OpSpec("F.feature_alpha_dropout", _fn("feature_alpha_dropout"),
               lambda d: _alpha_dropout_cases(d, feature=True), values=False, grad=False, check_extra=_alpha_check,
               checks="each element kept or dropped by ATen's affine map"),
    ]
    return rows
