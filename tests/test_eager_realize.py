"""Eager BatchNorm: the running statistics it updates wait for the next realisation instead of
each computing the model's prefix again, and still equal PyTorch's."""
from __future__ import annotations

import sys

import numpy as np
import torch

import lumina


def _stack(L, seed=0):
    L.manual_seed(seed)
    layers = []
    for i in range(4):
        layers += [L.nn.Conv2d(4 if i else 3, 4, 3, padding=1), L.nn.BatchNorm2d(4), L.nn.ReLU()]
    return L.nn.Sequential(*layers)


def test_a_batchnorm_stack_realises_once_per_forward(monkeypatch):
    model = _stack(lumina)
    x = lumina.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32))
    core = sys.modules["lumina.tensor.core"]
    runs = []
    real = core.compile_graph
    monkeypatch.setattr(core, "compile_graph", lambda *a, **k: runs.append(1) or real(*a, **k))
    model(x).sum().item()
    assert len(runs) == 1   # the loss and every layer's running statistics, in one executable


def test_running_statistics_match_torch_after_steps():
    ours, theirs = _stack(lumina), _stack(torch)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
        np.testing.assert_allclose(ours(lumina.tensor(x)).sum().item(), theirs(torch.tensor(x)).sum().item(),
                                   rtol=1e-4)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_loop_that_reads_nothing_keeps_one_step_waiting(monkeypatch):
    """BatchNorm calibration (forwards whose results are never read): each step realises the
    previous step's statistics, so no history grows; the statistics are still torch's."""
    ours, theirs = _stack(lumina), _stack(torch)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    core = sys.modules["lumina.tensor.core"]
    runs = []
    real = core.compile_graph
    monkeypatch.setattr(core, "compile_graph", lambda *a, **k: runs.append(1) or real(*a, **k))
    rng = np.random.default_rng(2)
    for _ in range(5):
        x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
        ours(lumina.tensor(x))
        theirs(torch.tensor(x))
    assert len(runs) == 4
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
