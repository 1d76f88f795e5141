"""``F.linear`` / ``F.bilinear`` / ``nn.Bilinear``, ``F.normalize``, ``F.one_hot``,
``F.embedding_bag`` / ``nn.EmbeddingBag`` and the channel-wise and alpha dropouts (functions and
modules) against PyTorch CPU: values and gradients in float64 (torch and finite differences through
``@lumina.compile``), NaN / inf inputs, train / eval, and the errors (LuminaError)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lumina
from gradcheck import check
from lumina import LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(3)


def arr(*shape, scale=1.0):
    return RNG.standard_normal(shape) * scale


@pytest.mark.parametrize("xshape,wshape,bias", [((4, 3), (2, 3), True), ((2, 5, 3), (4, 3), False),
                                                ((3,), (2, 3), True), ((2, 3), (3,), False)])
def test_linear_matches_torch(xshape, wshape, bias):
    if bias:
        check(lambda L, F, x, w, b: F.linear(x, w, b), arr(*xshape), arr(*wshape), arr(wshape[0]))
    else:
        check(lambda L, F, x, w: F.linear(x, w), arr(*xshape), arr(*wshape))


@pytest.mark.parametrize("lead", [(4,), (2, 3), ()])
def test_bilinear_matches_torch(lead):
    args = (arr(*lead, 3), arr(*lead, 2), arr(5, 3, 2))
    if lead:
        check(lambda L, F, a, b, w, c: F.bilinear(a, b, w, c), *args, arr(5))
    check(lambda L, F, a, b, w: F.bilinear(a, b, w), *args)


def test_bilinear_module_matches_torch():
    tm = torch.nn.Bilinear(3, 2, 4).double()
    lm = lumina.nn.Bilinear(3, 2, 4)
    lm.double()
    lm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    check(lambda L, F, a, b: (lm if L is lumina else tm)(a, b), arr(5, 3), arr(5, 2))
    assert repr(lm) == repr(tm)
    bound = 1 / math.sqrt(3)
    w = lumina.nn.Bilinear(3, 2, 40).weight.numpy()
    assert (np.abs(w) <= bound).all() and np.abs(w).max() > 0.8 * bound


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("dim", [1, 0, -1])
def test_normalize_matches_torch(p, dim):
    x = arr(3, 4, 2)
    if p in (2.0, 1.0, 3.0):
        check(lambda L, F, t: F.normalize(t, p=p, dim=dim), x)
    mine = lumina.nn.functional.normalize(lumina.tensor(x), p, dim).numpy()
    np.testing.assert_allclose(mine, torch.nn.functional.normalize(torch.tensor(x), p, dim).numpy(), rtol=1e-12)


def test_normalize_zero_vectors_eps_and_out():
    x = np.array([[0.0, 0.0], [1e-14, 0.0], [3.0, -4.0], [math.nan, 1.0], [math.inf, 1.0]])
    lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ly, ty = lumina.nn.functional.normalize(lx), torch.nn.functional.normalize(tx)
    np.testing.assert_allclose(ly.numpy(), ty.detach().numpy(), rtol=1e-12)
    c = arr(5, 2)
    (ly * lumina.tensor(c))[:3].sum().backward()
    (ty * torch.tensor(c))[:3].sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)     # 1/eps below eps, 0 at 0
    out = lumina.tensor(np.zeros((5, 2)))
    assert lumina.nn.functional.normalize(lumina.tensor(x), out=out) is out
    np.testing.assert_allclose(out.numpy(), ty.detach().numpy(), rtol=1e-12)


def test_one_hot_matches_torch():
    idx = np.array([[0, 2], [1, 3]])
    np.testing.assert_array_equal(lumina.nn.functional.one_hot(lumina.tensor(idx)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(idx)).numpy())
    np.testing.assert_array_equal(lumina.nn.functional.one_hot(lumina.tensor(idx), 5).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(idx), 5).numpy())


IDX = np.array([1, 2, 4, 4, 3, 0, 5, 2])
BAGS = [(IDX, np.array([0, 3, 3, 5]), False), (IDX, np.array([0, 2, 8]), True), (IDX.reshape(2, 4), None, False),
        (np.zeros(0, np.int64), np.array([0, 0]), False)]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4, -2])
@pytest.mark.parametrize("k", range(len(BAGS)))
def test_embedding_bag_matches_torch(mode, padding_idx, k):
    idx, offsets, last = BAGS[k]

    def fn(L, F, w):
        o = None if offsets is None else L.tensor(offsets)
        return F.embedding_bag(L.tensor(idx), w, o, mode=mode, include_last_offset=last, padding_idx=padding_idx)
    check(fn, arr(6, 3))


def test_embedding_bag_per_sample_weights_match_torch():
    def fn(L, F, w, p):
        return F.embedding_bag(L.tensor(IDX), w, L.tensor(np.array([0, 3, 3, 5])), mode="sum", per_sample_weights=p)
    check(fn, arr(6, 3), arr(8))


def test_embedding_bag_max_gradient_goes_to_the_first_maximum():
    w = np.array([[1.0, 5.0], [1.0, 2.0], [0.0, 5.0]])
    lw, tw = lumina.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    lumina.nn.functional.embedding_bag(lumina.tensor(np.array([0, 1, 2])), lw, lumina.tensor(np.array([0])),
                                       mode="max").sum().backward()
    torch.nn.functional.embedding_bag(torch.tensor([0, 1, 2]), tw, torch.tensor([0]), mode="max").sum().backward()
    np.testing.assert_array_equal(lw.grad.numpy(), tw.grad.numpy())


def test_embedding_bag_inside_compile_with_computed_offsets():
    w = lumina.tensor(arr(6, 3))
    f = lumina.compile(lambda i, o: lumina.nn.functional.embedding_bag(i, w, o, mode="mean"))
    out = f(IDX, np.array([0, 3, 3, 5]))
    ref = torch.nn.functional.embedding_bag(torch.tensor(IDX), torch.tensor(w.numpy()), torch.tensor([0, 3, 3, 5]))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12)


def test_embedding_bag_module_matches_torch():
    tm = torch.nn.EmbeddingBag(6, 3, mode="max", padding_idx=2).double()
    lm = lumina.nn.EmbeddingBag(6, 3, mode="max", padding_idx=2)
    lm.double()
    assert (lm.weight.numpy()[2] == 0).all()
    lm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    check(lambda L, F, w: (lm if L is lumina else tm)(L.tensor(IDX), L.tensor(np.array([0, 3]))), arr(1),
          wrt=[])
    np.testing.assert_allclose(lm(lumina.tensor(IDX), lumina.tensor(np.array([0, 3]))).numpy(),
                               tm(torch.tensor(IDX), torch.tensor([0, 3])).detach().numpy(), rtol=1e-12)
    assert repr(lm) == repr(tm)
    frozen = lumina.nn.EmbeddingBag.from_pretrained(lumina.tensor(arr(4, 2)), mode="sum")
    assert not frozen.weight.requires_grad and frozen.mode == "sum"


@pytest.mark.parametrize("call,error", [
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([1, 3]))), LuminaValueError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([0, 4, 2]))), LuminaValueError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([0, 9]))), LuminaValueError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w), LuminaShapeError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX.reshape(2, 4)), w, lumina.tensor(np.array([0]))),
     LuminaShapeError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([[0]]))), LuminaShapeError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([0])), mode="min"), LuminaValueError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([0])), mode="max",
                                  per_sample_weights=lumina.tensor(arr(8))), LuminaValueError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([0])), mode="sum",
                                  per_sample_weights=lumina.tensor(arr(7))), LuminaShapeError),
    (lambda F, w: F.embedding_bag(lumina.tensor(np.array([0, 6])), w, lumina.tensor(np.array([0]))), LuminaError),
    (lambda F, w: F.embedding_bag(lumina.tensor(IDX), w, lumina.tensor(np.array([0])), padding_idx=6),
     LuminaValueError),
    (lambda F, w: F.linear(lumina.tensor(arr(2, 3)), lumina.tensor(arr(4, 2))), LuminaShapeError),
    (lambda F, w: F.linear(lumina.tensor(arr(2, 3)), lumina.tensor(arr(4, 3).astype(np.float32))), LuminaTypeError),
    (lambda F, w: F.bilinear(lumina.tensor(arr(2, 3)), lumina.tensor(arr(3, 2)), lumina.tensor(arr(4, 3, 2))),
     LuminaShapeError),
    (lambda F, w: F.bilinear(lumina.tensor(arr(2, 3)), lumina.tensor(arr(2, 2)), lumina.tensor(arr(4, 3))),
     LuminaShapeError),
    (lambda F, w: F.normalize(lumina.tensor(arr(2, 3)), dim=2), LuminaError),
    (lambda F, w: F.normalize(lumina.tensor(np.ones(3, np.int64)), dim=0), LuminaTypeError),
])
def test_bad_input_raises_lumina_errors(call, error):
    with pytest.raises(error):
        call(lumina.nn.functional, lumina.tensor(arr(6, 3)))


CHANNEL = [("dropout1d", (4, 6, 5), 2), ("dropout1d", (40, 5), 1), ("dropout2d", (4, 6, 3, 3), 2),
           ("dropout3d", (3, 8, 2, 2, 2), 2), ("dropout3d", (40, 2, 2, 2), 1), ("feature_alpha_dropout", (4, 6, 5), 2)]


@pytest.mark.parametrize("name,shape,lead", CHANNEL, ids=[f"{n}{len(s)}d" for n, s, _ in CHANNEL])
def test_channel_dropout_drops_whole_channels(name, shape, lead):
    x = np.abs(arr(*shape)) + 1.0
    fn = getattr(lumina.nn.functional, name)
    lx = lumina.tensor(x, requires_grad=True)
    y = fn(lx, 0.4, training=True)
    y.sum().backward()
    grad = lx.grad.numpy().reshape(shape[:lead] + (-1,))
    np.testing.assert_array_equal(grad, np.broadcast_to(grad[..., :1], grad.shape))   # one factor per channel
    factors = set(np.round(grad[..., 0].ravel(), 9))
    if name.startswith("dropout"):
        assert factors == {0.0, round(1 / 0.6, 9)}
        np.testing.assert_allclose(y.numpy(), x * lx.grad.numpy(), rtol=1e-12)
    else:
        assert len(factors) == 2
    for p, training in ((0.4, False), (0.0, True)):
        np.testing.assert_array_equal(fn(lumina.tensor(x), p, training=training).numpy(), x)
    np.testing.assert_array_equal(fn(lumina.tensor(x), 1.0, training=True).numpy(),
                                  getattr(torch.nn.functional, name)(torch.tensor(x), 1.0, training=True).numpy())


def test_dropout_drops_inf_to_nan_as_torch():
    x = np.full((64, 4, 2), math.inf)
    y = lumina.nn.functional.dropout1d(lumina.tensor(x), 0.5).numpy()
    assert np.isnan(y).any() and np.isinf(y).any()


def test_alpha_dropout_keeps_mean_and_variance():
    x = arr(200000)
    y = lumina.nn.functional.alpha_dropout(lumina.tensor(x), 0.2, training=True).numpy()
    t = torch.nn.functional.alpha_dropout(torch.tensor(x), 0.2, training=True).numpy()
    assert abs(y.mean() - t.mean()) < 0.01 and abs(y.std() - t.std()) < 0.01
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha ** 2 * 0.2 + 1) * 0.8)
    dropped = np.isclose(y, -alpha * a + alpha * a * 0.2)
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + alpha * a * 0.2, rtol=1e-12)
    assert abs(dropped.mean() - 0.2) < 0.01


def test_dropouts_inside_compile_draw_fresh_masks():
    f = lumina.compile(lambda x: lumina.nn.functional.dropout2d(x, 0.5))
    x = np.ones((8, 8, 2, 2))
    assert not np.array_equal(f(x).numpy(), f(x).numpy())


@pytest.mark.parametrize("name", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_modules_train_and_eval(name):
    shape = {"Dropout1d": (4, 6, 5), "Dropout2d": (4, 6, 3, 3)}.get(name, (2, 6, 2, 2, 2))
    m = getattr(lumina.nn, name)(0.3)
    assert repr(m) == repr(getattr(torch.nn, name)(0.3))
    x = np.abs(arr(*shape)) + 1.0
    assert not np.array_equal(m(lumina.tensor(x)).numpy(), x)
    m.eval()
    np.testing.assert_array_equal(m(lumina.tensor(x)).numpy(), x)
    with pytest.raises(LuminaValueError):
        getattr(lumina.nn, name)(1.5)


@pytest.mark.parametrize("call,error", [
    (lambda F: F.dropout1d(lumina.tensor(arr(2, 3, 4, 5))), LuminaShapeError),
    (lambda F: F.dropout1d(lumina.tensor(arr(2, 3)), 1.5), LuminaValueError),
    (lambda F: F.alpha_dropout(lumina.tensor(arr(2, 3)), -0.1), LuminaValueError),
    (lambda F: F.feature_alpha_dropout(lumina.tensor(arr(3)), 0.5, True), LuminaShapeError),
    (lambda F: F.dropout2d(lumina.tensor(np.ones((2, 3, 4), np.int64))), LuminaTypeError),
])
def test_dropout_errors(call, error):
    with pytest.raises(error):
        call(lumina.nn.functional)


def test_inplace_dropout_updates_the_input():
    x = lumina.tensor(np.ones((4, 6, 5)))
    version = x._version
    assert lumina.nn.functional.dropout1d(x, 0.5, inplace=True) is x and x._version > version
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}
