"""The regression, divergence and embedding losses of ``lumina.nn.functional`` and every loss
module of ``lumina.nn`` against PyTorch CPU (values and gradients, float64) and finite differences
(through ``@lumina.compile``): smooth_l1, huber, kl_div, poisson_nll, gaussian_nll,
margin_ranking, cosine_embedding, triplet_margin; bad shapes and keywords raise LuminaError."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from gradcheck import check
from lumina import LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(7)
REDUCTIONS = ["mean", "sum", "none"]


def arr(*shape, scale=1.0):
    return RNG.standard_normal(shape) * scale


X, T = arr(4, 5, scale=2), arr(4, 5, scale=2)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1_loss(reduction, beta):
    check(lambda L, F, x, t: F.smooth_l1_loss(x, t, reduction=reduction, beta=beta), X, T)


def test_smooth_l1_loss_broadcasts():
    check(lambda L, F, x, t: F.smooth_l1_loss(x, t), arr(4, 5), arr(5))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber_loss(reduction, delta):
    check(lambda L, F, x, t: F.huber_loss(x, t, reduction=reduction, delta=delta), X, T)


def test_huber_loss_weight():
    check(lambda L, F, x, t, w: F.huber_loss(x, t, weight=w), X, T, np.abs(arr(4, 5)) + 0.1)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div(reduction):
    logp = np.log(np.abs(arr(3, 4)) + 0.1)
    probs = np.abs(arr(3, 4)) + 0.05
    probs[0, 1] = 0.0    # xlogy: 0 there
    check(lambda L, F, x, t: F.kl_div(x, t, reduction=reduction), logp, probs, wrt=[0])
    check(lambda L, F, x, t: F.kl_div(x, t, reduction=reduction, log_target=True), logp, arr(3, 4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll_loss(reduction, log_input, full):
    x = arr(3, 4) if log_input else np.abs(arr(3, 4)) + 0.1
    t = np.round(np.abs(arr(3, 4)) * 3)   # counts, some 0, 1 and above 1
    check(lambda L, F, x, t: F.poisson_nll_loss(x, t, log_input=log_input, full=full, reduction=reduction),
          x, t, wrt=[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 5), (4, 1), (4,)])
def test_gaussian_nll_loss(reduction, var_shape):
    var = np.abs(arr(*var_shape)) + 0.1
    var.flat[0] = 1e-9     # clamped at eps; the clamp is invisible to the gradient, as torch's
    check(lambda L, F, x, t, v: F.gaussian_nll_loss(x, t, v, full=True, reduction=reduction), X, T, var,
          directions=0)
    check(lambda L, F, x, t, v: F.gaussian_nll_loss(x, t, v, reduction=reduction), X, T, np.abs(var) + 0.5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.7])
def test_margin_ranking_loss(reduction, margin):
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    check(lambda L, F, a, b, t: F.margin_ranking_loss(a, b, t, margin=margin, reduction=reduction),
          arr(5), arr(5), y, wrt=[0, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_loss(reduction, margin):
    y = np.array([1.0, -1.0, -1.0, 1.0])
    check(lambda L, F, a, b, t: F.cosine_embedding_loss(a, b, t, margin=margin, reduction=reduction),
          arr(4, 3), arr(4, 3), y, wrt=[0, 1])
    check(lambda L, F, a, b, t: F.cosine_embedding_loss(a, b, t, margin=margin, reduction=reduction),
          arr(3), arr(3), np.array(-1.0), wrt=[0, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,swap", [(2, False), (2, True), (1, False), (3, True)])
def test_triplet_margin_loss(reduction, p, swap):
    check(lambda L, F, a, b, c: F.triplet_margin_loss(a, b, c, margin=1.5, p=p, swap=swap, reduction=reduction),
          arr(4, 3), arr(4, 3), arr(4, 3))


MODULES = [
    ("L1Loss", {}, 2), ("MSELoss", {"reduction": "sum"}, 2), ("SmoothL1Loss", {"beta": 0.5}, 2),
    ("HuberLoss", {"delta": 0.5, "reduction": "none"}, 2), ("KLDivLoss", {"reduction": "batchmean",
                                                                          "log_target": True}, 2),
    ("PoissonNLLLoss", {"full": True}, 2), ("GaussianNLLLoss", {"full": True}, 3),
    ("BCEWithLogitsLoss", {}, 2), ("MarginRankingLoss", {"margin": 0.2}, 3),
    ("TripletMarginLoss", {"swap": True}, 3),
]


@pytest.mark.parametrize("name,kw,n", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(name, kw, n):
    args = [arr(4, 3) for _ in range(n)]
    if name == "GaussianNLLLoss":
        args[2] = np.abs(args[2]) + 0.1
    if name == "MarginRankingLoss":
        args[2] = np.sign(args[2])
    if name == "PoissonNLLLoss":
        args[1] = np.round(np.abs(args[1]) * 3)
    # count targets: torch's Stirling term gives NaN target gradients at counts <= 1, not compared
    wrt = [0] if name == "PoissonNLLLoss" else None
    check(lambda L, F, *xs: getattr(L.nn, name)(**kw)(*xs), *args, wrt=wrt, directions=1)


def test_weighted_class_loss_modules_match_torch():
    """``weight`` / ``pos_weight`` are buffers (realised at construction), so they are made from
    constants here, as a model would hold them."""
    logits, target, w = arr(5, 4), np.array([0, 3, 1, -100, 2]), np.abs(arr(4)) + 0.1
    for name, kw in (("CrossEntropyLoss", {"label_smoothing": 0.1}), ("NLLLoss", {"reduction": "sum"})):
        def fn(L, F, x, t):
            return getattr(L.nn, name)(weight=L.tensor(w), **kw)(x, t)
        check(fn, logits, target, directions=1)
    probs = 1 / (1 + np.exp(-arr(3, 4)))
    bw, pw = np.abs(arr(3, 4)), np.abs(arr(4)) + 0.5
    check(lambda L, F, x, t: L.nn.BCELoss(weight=L.tensor(bw))(x, t), probs, np.round(probs), wrt=[0])
    check(lambda L, F, x, t: L.nn.BCEWithLogitsLoss(pos_weight=L.tensor(pw), reduction="none")(x, t), arr(3, 4),
          np.round(probs), wrt=[0])
    check(lambda L, F, x, t: L.nn.CosineEmbeddingLoss(margin=0.1)(x, t, L.tensor([1.0, -1.0, 1.0])),
          arr(3, 4), arr(3, 4))


def test_loss_module_holds_weight_as_buffer():
    w = lumina.tensor([1.0, 2.0])
    m = lumina.nn.CrossEntropyLoss(weight=w)
    tm = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]))
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
    assert repr(lumina.nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


BAD_CALLS = [
    lambda L, F: F.smooth_l1_loss(L.zeros(3), L.zeros(4)),
    lambda L, F: F.smooth_l1_loss(L.zeros(3), L.zeros(3), beta=-1.0),
    lambda L, F: F.huber_loss(L.zeros(3), L.zeros(3), delta=0.0),
    lambda L, F: F.huber_loss(L.zeros(3), L.zeros(3), reduction="avg"),
    lambda L, F: F.kl_div(L.zeros(3), L.zeros(3), reduction="batch"),
    lambda L, F: F.gaussian_nll_loss(L.zeros(3, 2), L.zeros(3, 2), L.ones(2, 2)),
    lambda L, F: F.gaussian_nll_loss(L.zeros(3), L.zeros(3), L.tensor([1.0, -1.0, 2.0])),
    lambda L, F: F.cosine_embedding_loss(L.zeros(3, 2), L.zeros(3, 2), L.ones(2)),
    lambda L, F: F.cosine_embedding_loss(L.zeros(1, 3, 2), L.zeros(1, 3, 2), L.ones(1, 3)),
    lambda L, F: F.margin_ranking_loss(L.zeros(3), L.zeros(2), L.ones(3)),
    lambda L, F: F.triplet_margin_loss(L.zeros(3, 2), L.zeros(3, 2), L.zeros(2, 2)),
    lambda L, F: F.triplet_margin_loss(L.zeros(3, 2), L.zeros(3, 2), L.zeros(3, 2), margin=0.0),
    lambda L, F: F.poisson_nll_loss(L.zeros(3), L.zeros(3), reduction="avg"),
    lambda L, F: L.nn.MSELoss(reduction="avg")(L.zeros(2), L.zeros(2)),
]


@pytest.mark.parametrize("call", BAD_CALLS)
def test_bad_inputs_raise_lumina_errors_where_torch_raises(call):
    with pytest.raises(Exception):
        call(torch, torch.nn.functional)
    with pytest.raises(LuminaError) as info:
        call(lumina, lumina.nn.functional)
    assert isinstance(info.value, (LuminaShapeError, LuminaValueError))


def test_gaussian_nll_loss_negative_float_variance_and_legacy_keywords_raise():
    with pytest.raises(LuminaValueError, match="negative"):
        lumina.nn.functional.gaussian_nll_loss(lumina.zeros(3), lumina.zeros(3), -1.0)
    with pytest.raises(LuminaValueError, match="size_average"):
        lumina.nn.L1Loss(size_average=True)


@pytest.mark.parametrize("call", [
    lambda L, F, i: F.smooth_l1_loss(i, i),
    lambda L, F, i: F.huber_loss(i, i),
    lambda L, F, i: F.kl_div(i, i),
    lambda L, F, i: F.gaussian_nll_loss(i, i, i),
])
def test_integer_inputs_raise_where_torch_refuses(call):
    with pytest.raises((RuntimeError, NotImplementedError)):
        call(torch, torch.nn.functional, torch.ones(3, dtype=torch.int64))
    with pytest.raises(LuminaTypeError, match="int|i64"):
        call(lumina, lumina.nn.functional, lumina.ones(3, dtype="int64"))


@pytest.mark.parametrize("name,kw,n", [("HuberLoss", {"delta": 0.5}, 2), ("TripletMarginLoss", {"swap": True}, 3),
                                       ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, 2),
                                       ("CrossEntropyLoss", {"label_smoothing": 0.2}, 2)])
def test_loss_module_in_compile_matches_eager_and_torch(name, kw, n):
    """A loss module called inside ``@lumina.compile`` (value and parameter gradients through the
    compiled step) against the eager call and torch, float32."""
    xs = [arr(4, 3).astype(np.float32) for _ in range(n)]
    if name == "CrossEntropyLoss":
        xs[1] = np.array([0, 2, 1, 2])
    lin, tlin = lumina.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    lin.load_state_dict({k: v.detach().numpy() for k, v in tlin.state_dict().items()})
    loss_fn, tloss = getattr(lumina.nn, name)(**kw), getattr(torch.nn, name)(**kw)

    def step(*args):
        out = loss_fn(lin(args[0]), *args[1:])
        out.backward()
        return out

    compiled = lumina.compile(step)
    got = compiled(*[lumina.tensor(x) for x in xs])
    grad_compiled = lin.weight.grad.numpy().copy()
    lin.zero_grad()
    eager = step(*[lumina.tensor(x) for x in xs])
    want = tloss(tlin(torch.tensor(xs[0])), *[torch.tensor(x) for x in xs[1:]])
    want.backward()
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(eager.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_compiled, tlin.weight.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(lin.weight.grad.numpy(), tlin.weight.grad.numpy(), rtol=1e-4, atol=1e-6)
