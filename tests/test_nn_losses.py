"""Losses of ``lumina.nn.functional`` against PyTorch CPU and float64 finite differences:
``cross_entropy`` (class indices with ``weight`` / ``ignore_index`` / ``label_smoothing``, class
probabilities, extra dims), ``nll_loss``, ``binary_cross_entropy`` (+ ``with_logits``), ``mse_loss``,
``l1_loss``."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn.functional as F
from gradcheck import check
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(23)


def arr(*shape):
    return RNG.standard_normal(shape)


TARGET = np.array([1, 0, 3, -100, 2, 3])
LOGITS = RNG.standard_normal((6, 4)) * 3


@pytest.mark.parametrize("kw", [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(label_smoothing=0.15),
    dict(ignore_index=3, label_smoothing=0.2, reduction="none"),
], ids=["mean", "sum", "none", "smoothing", "ignore3_smoothing_none"])
def test_cross_entropy_with_ignored_targets_matches_torch(kw):
    target = np.where(TARGET < 0, kw.get("ignore_index", -100), TARGET)
    check(lambda L, F, x, t: F.cross_entropy(x, t, **kw), LOGITS, target, directions=2)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_class_weights_match_torch(smoothing, reduction):
    w = RNG.uniform(0.2, 2.0, 4)
    check(lambda L, F, x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=smoothing, reduction=reduction,
                                                ignore_index=-100),
          LOGITS, TARGET, w, wrt=[0], directions=2)


def test_cross_entropy_extra_dims_and_unbatched_match_torch():
    check(lambda L, F, x, t: F.cross_entropy(x, t, label_smoothing=0.1), arr(2, 5, 3, 2),
          RNG.integers(0, 5, (2, 3, 2)), directions=2)
    check(lambda L, F, x, t: F.cross_entropy(x, t, reduction="none"), arr(2, 5, 3),
          RNG.integers(0, 5, (2, 3)), directions=1)
    check(lambda L, F, x, t: F.cross_entropy(x, t), arr(5), np.array(2), directions=1)


def test_cross_entropy_probability_targets_match_torch():
    p = RNG.dirichlet(np.ones(4), 6)
    check(lambda L, F, x, t: F.cross_entropy(x, t, label_smoothing=0.1), LOGITS, p, wrt=[0], directions=2)
    w = RNG.uniform(0.5, 1.5, 4)
    check(lambda L, F, x, t, w: F.cross_entropy(x, t, weight=w, reduction="sum"), LOGITS, p, w, wrt=[0],
          directions=1)


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [0.0, 1e4, 0.0]], np.float32)
    t = np.array([0, 2])
    out = F.cross_entropy(lumina.tensor(x), lumina.tensor(t), reduction="none").numpy()
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum", ignore_index=0), dict(reduction="none")],
                         ids=["mean", "sum_ignore0", "none"])
def test_nll_loss_matches_torch(kw):
    logp = np.log(RNG.dirichlet(np.ones(4), 6))
    t = np.array([1, 0, 3, 0, 2, 3])
    check(lambda L, F, x, t: F.nll_loss(x, t, **kw), logp, t, directions=2)
    w = RNG.uniform(0.5, 1.5, 4)
    check(lambda L, F, x, t, w: F.nll_loss(x, t, weight=w, **kw), logp, t, w, wrt=[0], directions=1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_matches_torch(reduction):
    p = RNG.uniform(0.02, 0.98, (3, 5))
    y = RNG.uniform(0, 1, (3, 5))
    check(lambda L, F, p, y: F.binary_cross_entropy(p, y, reduction=reduction), p, y, directions=2)
    check(lambda L, F, p, y, w: F.binary_cross_entropy(p, y, weight=w, reduction=reduction), p, y,
          RNG.uniform(0, 2, (3, 5)), wrt=[0], directions=1)


def test_binary_cross_entropy_clamps_its_logs_like_torch():
    p = np.array([0.0, 1.0, 0.5, 1e-50], np.float64)
    y = np.array([1.0, 0.0, 1.0, 1.0])
    out = F.binary_cross_entropy(lumina.tensor(p), lumina.tensor(y), reduction="none").numpy()
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-12)     # 100, 100, log 2, 100


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_matches_torch(reduction):
    x = arr(4, 3) * 4
    y = RNG.uniform(0, 1, (4, 3))
    check(lambda L, F, x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction), x, y, directions=2)
    pw, w = RNG.uniform(0.5, 3, 3), RNG.uniform(0, 2, (4, 3))
    check(lambda L, F, x, y, w, pw: F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw),
          x, y, w, pw, wrt=[0, 1], directions=1)


def test_binary_cross_entropy_with_logits_is_stable_and_exact_at_zero():
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0], np.float32)
    y = np.array([1.0, 0.0, 0.3, 1.0, 0.0], np.float32)
    t = lumina.tensor(x, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(t, lumina.tensor(y), reduction="sum")
    out.backward()
    tt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(tt, torch.tensor(y), reduction="sum")
    ref.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-6, atol=1e-7)  # sigmoid(x) - y, 0.2 at 0


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_match_torch(name, reduction):
    check(lambda L, F, a, b: getattr(F, name)(a, b, reduction=reduction), arr(3, 4), arr(3, 4), directions=1)


def test_loss_errors():
    x, t = lumina.ones(3, 4), lumina.tensor(np.array([0, 1, 2]))
    with pytest.raises(LuminaValueError, match="reduction must be"):
        F.cross_entropy(x, t, reduction="avg")
    with pytest.raises(LuminaValueError, match="label_smoothing"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(LuminaShapeError, match=r"weight must be \[C\] = \[4\]"):
        F.cross_entropy(x, t, weight=lumina.ones(3))
    with pytest.raises(LuminaShapeError, match=r"nll_loss: target i64\[2\] must be \[3\]"):
        F.nll_loss(x, lumina.tensor(np.array([0, 1])))
    with pytest.raises(LuminaTypeError, match="class indices"):
        F.nll_loss(x, lumina.ones(3))
    with pytest.raises(LuminaShapeError, match=r"binary_cross_entropy: target f32\[3\] must have the input's shape"):
        F.binary_cross_entropy(lumina.ones(3, 1), lumina.ones(3))
    with pytest.raises(LuminaValueError, match="cross_entropy: target -100 is out of range for 4 classes"):
        F.cross_entropy(x, lumina.tensor(np.array([0, -100, 2])), ignore_index=1)
    with pytest.raises(LuminaValueError, match="l1_loss"):
        F.l1_loss(x, x, reduction="max")
