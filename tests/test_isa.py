"""The ISA levels of the CPU backend (``lumina.backends.cpu.isa``): every level this CPU runs
compiles whole programs that agree with NumPy and PyTorch, ``LUMINA_ISA`` forces a level and
refuses one the CPU lacks, and ``lumina info`` says which one runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina.backends.cpu import isa as cpu_isa
from lumina.backends.target import target_for
from lumina.cli import main
from lumina.errors import LuminaDeviceError

ISAS = cpu_isa.runnable_isas()


def test_host_isa_is_a_level_and_runnable_levels_end_at_baseline():
    assert cpu_isa.host_isa() in cpu_isa.ISAS
    assert ISAS[0] == cpu_isa.host_isa() and ISAS[-1] == "baseline"


def test_unknown_isa_is_an_error(monkeypatch):
    monkeypatch.setenv("LUMINA_ISA", "avx1024")
    with pytest.raises(LuminaDeviceError, match="LUMINA_ISA='avx1024': expected one of avx512, avx2, baseline"):
        cpu_isa.active_isa()


def test_an_isa_above_the_host_is_refused(monkeypatch):
    monkeypatch.setattr(cpu_isa, "host_isa", lambda: "avx2")   # as on a CPU without AVX-512
    monkeypatch.setenv("LUMINA_ISA", "avx512")
    with pytest.raises(LuminaDeviceError, match="LUMINA_ISA=avx512: this CPU runs avx2 at most"):
        cpu_isa.active_isa()


@pytest.mark.parametrize("isa", ISAS)
def test_target_and_info_follow_the_forced_isa(isa, capsys):
    with cpu_isa.forced(isa):
        target = target_for("cpu")
        assert main(["info"]) == 0
    assert target.isa == isa and target.vector_bits == cpu_isa.vector_bits(isa)
    assert (isa == "avx512") == any(s.startswith("avx512") for s in target.simd)
    out = capsys.readouterr().out
    assert f"isa: {isa}" in out and "gemm float32: " in out and "caches: L1d " in out


def test_cache_sizes_are_positive_and_ordered():
    l1, l2, l3 = cpu_isa.cache_sizes()
    assert 0 < l1 <= l2 <= l3


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_program_agrees_with_numpy_on_every_isa(isa, dtype):
    """GEMMs with fused epilogues, transcendental math and reductions, compiled for ``isa``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 70)).astype(dtype)
    w = rng.standard_normal((70, 130)).astype(dtype)
    bias = rng.standard_normal(130).astype(dtype)

    def f(x, w, bias):
        h = (x @ w + bias).tanh()
        return (h * h.exp()).sum(dim=1), h.softmax(dim=-1)

    with cpu_isa.forced(isa):
        rows, probs = lumina.compile(f)(x, w, bias)
    h = np.tanh(x @ w + bias)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(rows.numpy(), (h * np.exp(h)).sum(axis=1), rtol=tol, atol=tol * 100)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs.numpy(), e / e.sum(axis=1, keepdims=True), rtol=tol, atol=tol)


@pytest.mark.parametrize("isa", ISAS)
def test_training_step_matches_torch_on_every_isa(isa):
    """Three compiled SGD steps of a small MLP in float64, against torch's."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 20))
    y = rng.integers(0, 5, 24)
    lumina.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 67), nn.GELU(), nn.Linear(67, 5)).to(lumina.float64)
    ref = torch.nn.Sequential(torch.nn.Linear(20, 67), torch.nn.GELU(), torch.nn.Linear(67, 5)).double()
    with torch.no_grad():
        for p, q in zip(ref.parameters(), model.parameters()):
            p.copy_(torch.from_numpy(q.numpy()))
    opt = lumina.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    with cpu_isa.forced(isa):
        losses = [step(x, y).item() for _ in range(3)]
    ref_losses = []
    for _ in range(3):
        ref_opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        ref_opt.step()
        ref_losses.append(loss.item())
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)
    for p, q in zip(ref.parameters(), model.parameters()):
        np.testing.assert_allclose(q.numpy(), p.detach().numpy(), rtol=1e-9, atol=1e-12)
