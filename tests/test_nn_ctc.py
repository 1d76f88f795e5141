"""``ctc_loss`` / ``CTCLoss`` against PyTorch CPU: values for padded and concatenated targets,
unbatched input, each reduction, impossible alignments (inf, or 0 with ``zero_infinity``), a
non-zero blank; gradients through ``log_softmax`` (where torch's log_probs gradient and the true one
agree, see ``ctc_loss``'s docstring) against torch and finite differences through
``@lumina.compile``; bad lengths and labels raise LuminaError."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn.functional as LF
from gradcheck import check
from lumina import LuminaError

RNG = np.random.default_rng(5)
T, N, C = 6, 3, 5
LOGITS = RNG.standard_normal((T, N, C))
TARGETS = np.array([[1, 2, 2], [3, 1, 0], [4, 4, 4]])
IL, TL = (6, 5, 3), (3, 2, 2)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_padded_targets_match_torch(reduction):
    # inside @lumina.compile (the finite differences) the targets are given as NumPy: the lattice is
    # built from their values, which a traced argument does not have
    check(lambda L, F, x: F.ctc_loss(F.log_softmax(x, 2), TARGETS, IL, TL, reduction=reduction), LOGITS,
          directions=2, torch_fn=lambda L, F, x: F.ctc_loss(F.log_softmax(x, 2), torch.tensor(TARGETS),
                                                            torch.tensor(IL), torch.tensor(TL), reduction=reduction))


def test_ctc_loss_concatenated_targets_blank_and_module_match_torch():
    flat = np.array([1, 2, 2, 3, 1, 0, 0])     # blank 4: 0 is a label here
    tl = (3, 2, 2)

    def fn(L, F, x):
        # by keyword: a module call makes positional NumPy arrays tensors, whose values a trace hides
        args = (torch.tensor(flat), torch.tensor(IL), torch.tensor(tl)) if L is torch else (flat, IL, tl)
        kw = dict(zip(("targets", "input_lengths", "target_lengths"), args))
        return L.nn.CTCLoss(blank=4, reduction="sum")(F.log_softmax(x, 2), **kw)
    check(fn, LOGITS, directions=1)


def test_ctc_loss_unbatched_matches_torch():
    x, t = LOGITS[:, 0], np.array([2, 3])
    out = lumina.nn.functional.ctc_loss(LF.log_softmax(lumina.tensor(x), 1), lumina.tensor(t), 6, 2, reduction="none")
    want = torch.nn.functional.ctc_loss(torch.tensor(x).log_softmax(1), torch.tensor(t), torch.tensor(6),
                                        torch.tensor(2), reduction="none")
    assert out.shape == tuple(want.shape) == ()
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-10)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignment_is_inf_or_zero_as_torch(zero_infinity):
    il = (6, 5, 2)     # [4, 4] needs 3 frames (4, blank, 4)
    lx = lumina.tensor(LOGITS, requires_grad=True)
    out = lumina.nn.functional.ctc_loss(LF.log_softmax(lx, 2), lumina.tensor(TARGETS), il, TL, reduction="none",
                                        zero_infinity=zero_infinity)
    tx = torch.tensor(LOGITS, requires_grad=True)
    want = torch.nn.functional.ctc_loss(tx.log_softmax(2), torch.tensor(TARGETS), torch.tensor(il),
                                        torch.tensor(TL), reduction="none", zero_infinity=zero_infinity)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-10)
    if zero_infinity:
        out.sum().backward()
        want.sum().backward()
        np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("args,torch_raises", [
    (dict(input_lengths=(7, 5, 3)), True),                  # longer than T
    (dict(target_lengths=(4, 2, 2)), True),                 # longer than the padded targets
    # blank among the labels: torch's documentation forbids it, its kernel does not check
    (dict(targets=np.array([[1, 0, 2], [3, 1, 1], [4, 4, 4]])), False),
    # a class out of range: torch's CPU kernel does not check it (it reads past the class dim)
    (dict(targets=np.array([[1, 5, 2], [3, 1, 1], [4, 4, 4]])), False),
    (dict(input_lengths=(6, 5)), True),                     # not one per sample
])
def test_bad_lengths_and_labels_raise(args, torch_raises):
    kw = dict(targets=TARGETS, input_lengths=IL, target_lengths=TL) | args
    lp = LF.log_softmax(lumina.tensor(LOGITS), 2)
    with pytest.raises(LuminaError):
        lumina.nn.functional.ctc_loss(lp, lumina.tensor(kw["targets"]), kw["input_lengths"], kw["target_lengths"])
    if torch_raises:
        with pytest.raises(RuntimeError):
            torch.nn.functional.ctc_loss(torch.tensor(LOGITS).log_softmax(2), torch.tensor(kw["targets"]),
                                         torch.tensor(kw["input_lengths"]), torch.tensor(kw["target_lengths"]))
