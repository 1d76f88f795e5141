"""``nn.functional`` rows beyond the elementwise ones: softmax, one_hot, losses, normalisations,
convolution, pooling, padding, embedding, attention, dropout, pixel_shuffle / pixel_unshuffle."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

import lumina

from ..cases import ALL, FLOATS, Arr, Case, np_dtype
from ..spec import OpSpec
from ..strategies import array, dim_of, rarely, shapes, specials, wants_grad
from ..tensors import lumina_numpy, torch_numpy
from . import functional_more


@st.composite
def _softmax_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), True)
    return Case((x, dim_of(draw, len(shape))), dtype=dtype)


def _softmax_fixed(dtype):
    s = specials(dtype)
    g = True
    return [Case((Arr(np.stack([s, np.full_like(s, 1)], 1), g), 1), dtype=dtype),
            Case((Arr(np.stack([s, s], 1), g), -1), dtype=dtype),
            Case((Arr(np.array([[-np.inf, -np.inf], [np.inf, np.inf], [1e30, -1e30]]).astype(np_dtype(dtype)), g), 1),
                 dtype=dtype)]


@st.composite
def _one_hot_cases(draw, dtype):
    shape = draw(shapes(0, 2))
    n = draw(st.integers(1, 4))
    idx = draw(array("int64", shape, 0, n - 1 if draw(st.integers(0, 9)) else n))   # n: torch raises
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((Arr(idx), n), dtype=dtype)
    if form == 1:
        return Case((Arr(idx), -1), dtype=dtype)
    return Case((Arr(idx),), dtype=dtype)


@st.composite
def _loss_pair(draw, dtype, lo=None, hi=None):
    shape = draw(shapes(0, 3))
    g = wants_grad(dtype, True)
    x = Arr(draw(array(dtype, shape, lo, hi)), g)
    t = Arr(draw(array(dtype, shape, lo, hi)), g)
    form = draw(st.integers(0, 4))
    kw = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))} if form else {}
    if form == 4 and rarely(draw, 4):
        kw = {"reduction": "bogus"}
    return Case((x, t), kw, dtype=dtype)


@st.composite
def _bce_cases(draw, dtype, logits=False):
    shape = draw(shapes(0, 3))
    g = wants_grad(dtype, True)
    lo, hi = (None, None) if logits else (0, 1)
    x = Arr(draw(array(dtype, shape, lo, hi, special=logits or draw(st.integers(0, 5)) == 0)), g)
    t = Arr(draw(array(dtype, shape, 0, 1, special=False)), g)
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.integers(0, 3)) == 0:
        kw["weight"] = Arr(draw(array(dtype, shape, 0, 2, special=False)), True, fd=True)   # torch: no gradient
    if logits and draw(st.integers(0, 3)) == 0 and shape:
        kw["pos_weight"] = Arr(draw(array(dtype, shape[-1:], 0, 3, special=False)), g)
    return Case((x, t), kw, dtype=dtype)


@st.composite
def _pointwise_loss_cases(draw, dtype, knob=None, values=(), lo=None, hi=None, target_lo=None, target_hi=None,
                          extra=(), target_grad=True):
    """``input``, ``target`` of one shape (special values mixed in unless bounded), a reduction
    (or "bogus", torch raises), ``knob`` drawn from ``values``, each name of ``extra`` a bool."""
    shape = draw(shapes(0, 3))
    g = wants_grad(dtype, True)
    x = Arr(draw(array(dtype, shape, lo, hi, special=lo is None)), g)
    t = Arr(draw(array(dtype, shape, target_lo, target_hi, special=target_lo is None)), g and target_grad)
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if knob and draw(st.booleans()):
        kw[knob] = draw(st.sampled_from(values))
    for name in extra:
        if draw(st.booleans()):
            kw[name] = draw(st.booleans())
    if rarely(draw, 12):
        kw["reduction"] = "bogus"
    return Case((x, t), kw, dtype=dtype)


@st.composite
def _kl_div_cases(draw, dtype):
    log_target = draw(st.booleans())
    # probabilities from 0.01: at a zero target lumina's target gradient is 0, torch's NaN (xlogy's
    # log(0) + 0/0); the zero target's value is checked in tests/test_nn_losses_more.py
    case = draw(_pointwise_loss_cases(dtype, lo=-4, hi=0, target_lo=-4 if log_target else 0.01,
                                      target_hi=0 if log_target else 1))
    kw = dict(case.kwargs, log_target=log_target)
    if draw(st.integers(0, 3)) == 0:
        kw["reduction"] = "batchmean"
    return Case(case.args, kw, dtype=dtype)


@st.composite
def _gaussian_nll_cases(draw, dtype):
    """``input``, ``target`` and a positive ``var`` of their shape, the last dim 1 or dropped; some
    variances below ``eps`` (clamped)."""
    shape = draw(shapes(1, 3, min_side=1))
    g = wants_grad(dtype, True)
    x = Arr(draw(array(dtype, shape, special=False)), g)
    t = Arr(draw(array(dtype, shape, special=False)), g)
    vshape = draw(st.sampled_from([shape, shape[:-1] + (1,), shape[:-1]]))
    var = Arr(draw(array(dtype, vshape, 1e-8, 4, special=False)), g)
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.booleans()):
        kw["full"] = True
    return Case((x, t, var), kw, dtype=dtype)


@st.composite
def _pair_target_cases(draw, dtype, embedding=False):
    """``margin_ranking_loss`` (``x1``, ``x2``, ``y`` of one shape) or ``cosine_embedding_loss``
    (``[N, D]`` or ``[D]`` inputs, ``y [N]`` / ``[]``), ``y`` in {1, -1}; a margin; reductions."""
    if embedding:
        shape = draw(st.sampled_from([(draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 3)),)]))
        tshape = shape[:-1]
    else:
        shape = tshape = draw(shapes(0, 2))
    g = wants_grad(dtype, True)

    def draw_input():
        if not embedding:
            return draw(array(dtype, shape))
        # magnitudes >= 0.25: near a zero vector the cosine's gradient is ill-conditioned (1e5 and more)
        signs = np.where(draw(array("bool", shape)), 1, -1).astype(np_dtype(dtype))
        return draw(array(dtype, shape, 0.25, 4, special=False)) * signs
    x1, x2 = Arr(draw_input(), g), Arr(draw_input(), g)
    y = Arr(np.where(draw(array("bool", tshape)), 1, -1).astype(np_dtype(dtype)))
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.booleans()):
        kw["margin"] = draw(st.sampled_from([0.0, 0.5, -0.25]))
    return Case((x1, x2, y), kw, dtype=dtype)


@st.composite
def _triplet_cases(draw, dtype):
    shape = draw(st.sampled_from([(draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 3)),)]))
    g = wants_grad(dtype, True)
    a, p, n = (Arr(draw(array(dtype, shape, special=False)), g) for _ in range(3))
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.booleans()):
        kw["margin"] = draw(st.sampled_from([0.5, 2.0]))
    if draw(st.booleans()):
        kw["p"] = draw(st.sampled_from([1.0, 2.0, 3.0]))
    if draw(st.booleans()):
        kw["swap"] = True
    return Case((a, p, n), kw, dtype=dtype)


@st.composite
def _ctc_cases(draw, dtype):
    """Logits ``[T, N, C]`` (made log-probabilities by the call, where torch's gradient is the true
    one), padded targets ``[N, S]`` without the blank, lengths as tuples; every alignment feasible
    (torch's gradient of an infinite loss is its own); reductions, zero_infinity."""
    t, n, c, s = draw(st.integers(4, 5)), draw(st.integers(1, 2)), draw(st.integers(2, 4)), draw(st.integers(1, 2))
    x = Arr(draw(array(dtype, (t, n, c), special=False)), wants_grad(dtype, True))
    targets = draw(array("int64", (n, s), 1, c - 1))
    tl = tuple(draw(st.integers(0, s)) for _ in range(n))
    il = tuple(draw(st.integers(2 * k, t)) for k in tl)       # 2 * len frames always suffice
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.booleans()):
        kw["zero_infinity"] = True
    return Case((x, Arr(targets), il, tl), kw, dtype=dtype)


def _ctc_call(L, x, t, il, tl, **k):
    return L.nn.functional.ctc_loss(L.nn.functional.log_softmax(x, 2), t, il, tl, **k)


def _loss_rows() -> list[OpSpec]:
    """The regression, divergence and embedding losses."""
    common = dict(normwise=True, dtypes=("float32", "float64"), ulps=16, accumulates=True)
    return [
        OpSpec("F.smooth_l1_loss", lambda L, x, t, **k: L.nn.functional.smooth_l1_loss(x, t, **k),
               lambda d: _pointwise_loss_cases(d, "beta", (0.0, 0.5, 1.0, 2.0)), **common),
        OpSpec("F.huber_loss", lambda L, x, t, **k: L.nn.functional.huber_loss(x, t, **k),
               lambda d: _pointwise_loss_cases(d, "delta", (0.5, 1.0, 2.0)), **common),
        OpSpec("F.kl_div", lambda L, x, t, **k: L.nn.functional.kl_div(x, t, **k), _kl_div_cases,
               checks="log_target, batchmean; zero targets (xlogy)", **common),
        OpSpec("F.poisson_nll_loss", lambda L, x, t, **k: L.nn.functional.poisson_nll_loss(x, t, **k),
               lambda d: _pointwise_loss_cases(d, lo=-3, hi=3, target_lo=0, target_hi=4, extra=("full",),
                                               target_grad=False),
               checks="log_input=True, full (Stirling's term); count targets not differentiated", **common),
        OpSpec("F.gaussian_nll_loss", lambda L, x, t, v, **k: L.nn.functional.gaussian_nll_loss(x, t, v, **k),
               _gaussian_nll_cases, checks="per-sample variances, variances clamped at eps, full", **common),
        OpSpec("F.margin_ranking_loss", lambda L, a, b, y, **k: L.nn.functional.margin_ranking_loss(a, b, y, **k),
               _pair_target_cases, **common),
        OpSpec("F.cosine_embedding_loss",
               lambda L, a, b, y, **k: L.nn.functional.cosine_embedding_loss(a, b, y, **k),
               lambda d: _pair_target_cases(d, embedding=True), **common),
        OpSpec("F.triplet_margin_loss",
               lambda L, a, pos, neg, **k: L.nn.functional.triplet_margin_loss(a, pos, neg, **k), _triplet_cases,
               checks="p = 1, 2, 3; swap", **common),
        OpSpec("F.ctc_loss", _ctc_call, _ctc_cases, checks="through log_softmax; padded targets, lengths as tuples",
               **common),
    ]


@st.composite
def _class_loss_cases(draw, dtype, log_probs=False):
    """``input [N, C, d...]`` or ``[C]`` and class indices; weights, ignore_index, label smoothing,
    reductions; an index out of range sometimes (torch raises)."""
    c = draw(st.integers(1, 4))
    lead = draw(st.sampled_from([(), (2,), (3,), (2, 2)]))
    ishape = (c,) if not lead else (lead[0], c) + lead[1:]
    tshape = () if not lead else (lead[0],) + lead[1:]
    x = Arr(draw(array(dtype, ishape)), True)
    hi = c if rarely(draw, 12) else c - 1
    target = draw(array("int64", tshape, 0, hi))
    kw = {}
    if draw(st.integers(0, 2)) == 0:
        kw["weight"] = Arr(draw(array(dtype, (c,), 0, 2, special=False)), True, fd=True)   # torch: no gradient
    if draw(st.integers(0, 3)) == 0 and target.size:
        target.reshape(-1)[0] = -100
        kw["ignore_index"] = -100
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if not log_probs and draw(st.integers(0, 3)) == 0:
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5]))
    if not log_probs and draw(st.integers(0, 4)) == 0:       # class probabilities
        p = draw(array(dtype, ishape, 0, 1, special=False))
        return Case((x, Arr(p, True)), {k: v for k, v in kw.items() if k != "ignore_index"}, dtype=dtype)
    return Case((x, Arr(target)), kw, dtype=dtype)


@st.composite
def _layer_norm_cases(draw, dtype):
    shape = draw(shapes(1, 3, min_side=1))
    k = draw(st.integers(1, len(shape)))
    ns = shape[len(shape) - k:]
    x = Arr(draw(array(dtype, shape)), True)
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = Arr(draw(array(dtype, ns, special=False)), True)
    if draw(st.booleans()):
        kw["bias"] = Arr(draw(array(dtype, ns, special=False)), True)
    if draw(st.integers(0, 3)) == 0:
        kw["eps"] = draw(st.sampled_from([0.0, 1e-3]))
    if rarely(draw, 10):
        ns = ns + (2,)
    return Case((x, list(ns)), kw, dtype=dtype)


def _norm_fixed(dtype):
    big = float(ml_dtypes.finfo(np_dtype(dtype)).max) * 0.3
    huge = 1e30 if dtype in ("float32", "float64") else big / 4
    rows = np.array([[big, big, -big, 1.0], [huge, -huge, huge, -huge], [3.0, 3.0, 3.0, 3.0]], np.float64)
    return [Case((Arr(rows.astype(np_dtype(dtype)), True), [4]), dtype=dtype)]


@st.composite
def _batch_norm_cases(draw, dtype):
    c = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 3)), c) + tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    x = Arr(draw(array(dtype, shape)), True)
    training = draw(st.booleans())
    rm = Arr(draw(array(dtype, (c,), special=False)))
    rv = Arr(draw(array(dtype, (c,), 0.1, 3, special=False)))
    kw = {"training": training}
    if draw(st.booleans()):
        kw["weight"] = Arr(draw(array(dtype, (c,), special=False)), True)
        kw["bias"] = Arr(draw(array(dtype, (c,), special=False)), True)
    if draw(st.integers(0, 3)) == 0:
        kw["momentum"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
    return Case((x, rm, rv), kw, dtype=dtype)


def _float64_beyond_1e150(case: Case) -> bool:
    x = case.args[0].value
    return x.dtype == np.float64 and bool((np.abs(x[np.isfinite(x)]) > 1e150).any())


def _batch_norm_call(L, x, rm, rv, **kw):
    """Returns the output and the running statistics after the call (updated in training)."""
    out = L.nn.functional.batch_norm(x, rm, rv, **kw)
    return out, rm, rv


@st.composite
def _conv_cases(draw, dtype):
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 1, cin])) if cin == cout or cout % cin == 0 else 1
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw_ = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = Arr(draw(array(dtype, (n, cin, h, w), special=draw(st.integers(0, 3)) == 0)), True)
    wt = Arr(draw(array(dtype, (cout, cin // groups, kh, kw_), special=False)), True)
    kw = {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, (1, 2)]))
    if draw(st.booleans()):
        kw["padding"] = draw(st.sampled_from([0, 1, (1, 0), "same", "valid"]))
    if draw(st.integers(0, 2)) == 0:
        kw["dilation"] = draw(st.sampled_from([1, 2]))
    if groups != 1:
        kw["groups"] = groups
    if kw.get("padding") == "same" and kw.get("stride", 1) != 1:
        kw["stride"] = 1
    args = (x, wt)
    if draw(st.booleans()):
        args = args + (Arr(draw(array(dtype, (cout,), special=False)), True),)
    return Case(args, kw, dtype=dtype)


@st.composite
def _pool_cases(draw, dtype, op):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]
    x = Arr(draw(array(dtype, shape)), True)
    k = draw(st.sampled_from([1, 2, 3, (2, 1)]))
    kw = {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, (2, 1)]))
    if draw(st.booleans()):
        kw["padding"] = draw(st.sampled_from([0, 1]))
    if draw(st.integers(0, 2)) == 0:
        kw["ceil_mode"] = True
    if op == "avg" and draw(st.integers(0, 2)) == 0:
        kw["count_include_pad"] = False
    if op == "max" and draw(st.integers(0, 3)) == 0:
        kw["dilation"] = 2
    return Case((x, k), kw, dtype=dtype)


@st.composite
def _pad_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    n = draw(st.integers(1, len(shape)))
    pads = draw(st.lists(st.integers(-1, 2), min_size=2 * n, max_size=2 * n))
    kw = {}
    if draw(st.booleans()):
        kw["value"] = draw(st.sampled_from([0.0, 1.5, math.nan, -math.inf]))
    return Case((x, tuple(pads)), kw, dtype=dtype)


@st.composite
def _embedding_cases(draw, dtype):
    v, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = draw(shapes(0, 2))
    idx = draw(array("int64", shape, 0, v - 1 if draw(st.integers(0, 9)) else v))
    w = Arr(draw(array(dtype, (v, d))), True)
    kw = {"padding_idx": draw(st.integers(-v, v - 1))} if draw(st.integers(0, 2)) == 0 else {}
    return Case((Arr(idx), w), kw, dtype=dtype)


@st.composite
def _sdpa_cases(draw, dtype):
    b = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    L_, S, E = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    special = draw(st.integers(0, 3)) == 0
    q = Arr(draw(array(dtype, b + (L_, E), special=special)), True)
    k = Arr(draw(array(dtype, b + (S, E), special=special)), True)
    v = Arr(draw(array(dtype, b + (S, draw(st.integers(1, 3))), special=special)), True)
    kw = {}
    form = draw(st.integers(0, 3))
    if form == 1:
        kw["is_causal"] = True
    elif form == 2:
        kw["attn_mask"] = Arr(draw(array("bool", (L_, S))))
    elif form == 3:
        kw["attn_mask"] = Arr(draw(array(dtype, (L_, S), special=draw(st.booleans()))), True)
    if draw(st.integers(0, 3)) == 0:
        kw["scale"] = draw(st.sampled_from([0.5, 2.0]))
    return Case((q, k, v), kw, dtype=dtype)


def _dropout_check(case, lout, tout):
    """Each output element is 0 or ``x / (1 - p)``; the identity when not training or p = 0."""
    if not isinstance(lout, lumina.Tensor):
        return []
    x = case.args[0].value.astype(np.float64)
    dt = case.args[0].value.dtype
    p = case.kwargs.get("p", 0.5)
    training = case.kwargs.get("training", True)
    y = lumina_numpy(lout).astype(np.float64)
    if not training or p == 0 or p == 1:    # deterministic: torch's result, bit for bit
        t = torch_numpy(tout).astype(np.float64)
        ok = (y == t) | (np.isnan(y) & np.isnan(t))
        return [] if ok.all() else [f"dropout(p={p}, training={training}): lumina {y[~ok][0]!r} where torch has "
                                    f"{t[~ok][0]!r}"]
    with np.errstate(all="ignore"):
        scaled = (x / (1 - p)).astype(dt).astype(np.float64)
        ok = (y == 0) | np.isclose(y, scaled, rtol=1e-3, equal_nan=True) | (np.isnan(y) & np.isnan(scaled))
    return [] if ok.all() else [f"dropout(p={p}): an element is neither 0 nor x/(1-p)"]


@st.composite
def _dropout_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes()))))
    kw = {}
    if draw(st.booleans()):
        kw["p"] = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]))
    if draw(st.booleans()):
        kw["training"] = draw(st.booleans())
    return Case((x,), kw, dtype=dtype)


@st.composite
def _pixel_cases(draw, dtype, shuffle=True):
    """``pixel_shuffle(x, r)`` / ``pixel_unshuffle(x, r)`` with 0 to 2 batch dims; channels (or
    height and width) not divisible, fewer than 3 dims or ``r <= 0`` raise."""
    r = draw(st.integers(1, 3)) if not rarely(draw, 12) else 0
    batch = tuple(draw(st.lists(st.integers(0, 2), max_size=2)))
    q = max(r, 1)
    if shuffle:
        shape = batch + (q * q * draw(st.integers(0, 2)) + (1 if rarely(draw, 10) else 0), draw(st.integers(0, 3)),
                         draw(st.integers(0, 3)))
    else:
        shape = batch + (draw(st.integers(0, 2)), q * draw(st.integers(0, 2)) + (1 if rarely(draw, 10) else 0),
                         q * draw(st.integers(0, 2)))
    if rarely(draw, 12):
        shape = shape[-2:]
    return Case((Arr(draw(array(dtype, shape)), wants_grad(dtype, True)), r), dtype=dtype)


def specs() -> list[OpSpec]:
    """The ``nn.functional`` rows."""
    rows: list[OpSpec] = []
    rows += [OpSpec("F.softmax", lambda L, x, d: L.nn.functional.softmax(x, d), _softmax_cases, normwise=True,
                    dtypes=FLOATS, ulps=16, fixed=_softmax_fixed),
             OpSpec("F.log_softmax", lambda L, x, d: L.nn.functional.log_softmax(x, d), _softmax_cases,
                    normwise=True, dtypes=FLOATS, ulps=16, accumulates=True, fixed=_softmax_fixed),
             OpSpec("Tensor.softmax", lambda L, x, d: x.softmax(d), _softmax_cases, normwise=True, dtypes=FLOATS,
                    ulps=16, fixed=_softmax_fixed),
             OpSpec("Tensor.log_softmax", lambda L, x, d: x.log_softmax(d), _softmax_cases, normwise=True,
                    dtypes=FLOATS, ulps=16, accumulates=True, fixed=_softmax_fixed),
             OpSpec("F.one_hot", lambda L, x, *a: L.nn.functional.one_hot(x, *a), _one_hot_cases, dtypes=("int64",),
                    exact=True, grad=False, checks="``num_classes=-1`` infers the count"),
             OpSpec("F.mse_loss", lambda L, x, t, **k: L.nn.functional.mse_loss(x, t, **k), _loss_pair,
                    normwise=True, dtypes=FLOATS, ulps=8, accumulates=True),
             OpSpec("F.l1_loss", lambda L, x, t, **k: L.nn.functional.l1_loss(x, t, **k), _loss_pair,
                    normwise=True, dtypes=FLOATS, ulps=8, accumulates=True),
             OpSpec("F.binary_cross_entropy", lambda L, x, t, **k: L.nn.functional.binary_cross_entropy(x, t, **k),
                    _bce_cases, normwise=True, dtypes=("float32", "float64"), ulps=16, accumulates=True,
                    checks="probabilities outside [0, 1] raise"),
             OpSpec("F.binary_cross_entropy_with_logits",
                    lambda L, x, t, **k: L.nn.functional.binary_cross_entropy_with_logits(x, t, **k),
                    lambda d: _bce_cases(d, logits=True), normwise=True, dtypes=("float32", "float64"), ulps=16,
                    accumulates=True),
             OpSpec("F.cross_entropy", lambda L, x, t, **k: L.nn.functional.cross_entropy(x, t, **k),
                    _class_loss_cases, normwise=True, dtypes=("float32", "float64"), ulps=16, accumulates=True,
                    checks="weights, ignore_index, label smoothing, class probabilities; a target out of range raises"),
             OpSpec("F.nll_loss", lambda L, x, t, **k: L.nn.functional.nll_loss(x, t, **k),
                    lambda d: _class_loss_cases(d, log_probs=True), normwise=True, dtypes=("float32", "float64"),
                    ulps=16,
                    accumulates=True),
             OpSpec("F.layer_norm", lambda L, x, s, **k: L.nn.functional.layer_norm(x, s, **k), _layer_norm_cases,
                    normwise=True, homogeneous=0, dtypes=("float32", "float64"), ulps=64, accumulates=True, fixed=_norm_fixed,
                    checks="huge rows (overflow-safe statistics)"),
             OpSpec("F.batch_norm", _batch_norm_call, _batch_norm_cases, normwise=True, dtypes=("float32", "float64"),
                    ulps=64, accumulates=True, skip=((
                         "float64 inputs beyond 1e150: torch's batch statistics overflow there (NaN where the true "
                         "result is finite) and, the running statistics not being homogeneous in the input, no "
                         "rescaled reference exists; float32 inputs at the overflow threshold are compared (torch's "
                         "float64 result is their reference)", _float64_beyond_1e150),),
                    checks="training and evaluation; the running statistics after the call"),
             OpSpec("F.conv2d", lambda L, x, w, *b, **k: L.nn.functional.conv2d(x, w, *b, **k), _conv_cases,
                    normwise=True, dtypes=("float32", "float64"), accumulates=True,
                    checks="stride, padding (ints, 'same', 'valid'), dilation, groups"),
             OpSpec("F.max_pool2d", lambda L, x, k_, **k: L.nn.functional.max_pool2d(x, k_, **k),
                    lambda d: _pool_cases(d, "max"), dtypes=("float32", "float64"), exact=True, signed_zeros=False),
             OpSpec("F.avg_pool2d", lambda L, x, k_, **k: L.nn.functional.avg_pool2d(x, k_, **k),
                    lambda d: _pool_cases(d, "avg"), dtypes=("float32", "float64"), accumulates=True),
             OpSpec("F.pad", lambda L, x, p, **k: L.nn.functional.pad(x, p, **k), _pad_cases, dtypes=ALL, exact=True,
                    checks="negative pads (cropping), NaN and -inf fill values"),
             OpSpec("F.embedding", lambda L, i, w, **k: L.nn.functional.embedding(i, w, **k), _embedding_cases,
                    dtypes=("float32", "float64"), exact=True, checks="padding_idx; an index out of range raises"),
             OpSpec("F.scaled_dot_product_attention",
                    lambda L, q, k, v, **kw: L.nn.functional.scaled_dot_product_attention(q, k, v, **kw), _sdpa_cases,
                    normwise=True, dtypes=("float32", "float64"), ulps=64, accumulates=True),
             OpSpec("F.dropout", lambda L, x, **k: L.nn.functional.dropout(x, **k), _dropout_cases,
                    dtypes=("float32", "float64"), values=False, grad=False, check_extra=_dropout_check,
                    checks="every element is 0 or x/(1-p); identity when not training; p outside [0, 1] raises"),
             OpSpec("F.pixel_shuffle", lambda L, x, r: L.nn.functional.pixel_shuffle(x, r), _pixel_cases, dtypes=ALL,
                    exact=True, checks="batch dims; channels not divisible by r^2 raise"),
             OpSpec("F.pixel_unshuffle", lambda L, x, r: L.nn.functional.pixel_unshuffle(x, r),
                    lambda d: _pixel_cases(d, shuffle=False), dtypes=ALL, exact=True,
                    checks="batch dims; a height or width not divisible by r raises")]
    rows += _loss_rows()
    rows += functional_more.specs()
    return rows
