"""Symbolic dims through ``@lumina.compile``: one executable serves every size, and each result
equals eager lumina and NumPy at every size; what cannot stay symbolic falls back to the sizes
(never a wrong answer), and the fallback is explained."""
from __future__ import annotations

import numpy as np
import pytest

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina import dynamic_shapes
from lumina.backends.cpu.symbolic_executable import INSTANCES, SymbolicExecutable

SIZES = (2, 3, 7, 16, 33, 64, 5)


def _symbolic(f) -> bool:
    return isinstance(f._last.executable, SymbolicExecutable)


def _model():
    lumina.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 24), nn.GELU(), nn.Linear(24, 5))


CASES = {
    "elementwise": (lambda x: x * 2.5 - 1.0, lambda x: x * np.float32(2.5) - np.float32(1.0)),
    "sum over the batch": (lambda x: (x * x).sum(0), lambda x: (x * x).sum(0)),
    "sum over the features": (lambda x: x.sum(1), lambda x: x.sum(1)),
    "max over the features": (lambda x: x.amax(1), lambda x: x.max(1)),
    "softmax": (lambda x: F.softmax(x, -1),
                lambda x: np.exp(x - x.max(1, keepdims=True)) / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)),
    "layer_norm": (lambda x: F.layer_norm(x, (12,)),
                   lambda x: (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)),
    "reshape": (lambda x: (x.reshape(-1, 4, 3) + 1).sum(2), lambda x: (x.reshape(-1, 4, 3) + 1).sum(2)),
    "mean over the batch": (lambda x: x.mean(0) - x.mean(), lambda x: x.mean(0) - x.mean()),
    "transpose": (lambda x: x.T * 2, lambda x: x.T * 2),
}


@pytest.mark.parametrize("name", list(CASES))
def test_one_executable_for_every_size(name):
    fn, ref = CASES[name]
    f = lumina.compile(fn, dynamic=True)
    rng = np.random.default_rng(0)
    executables = set()
    for n in SIZES:
        x = rng.standard_normal((n, 12)).astype(np.float32)
        out = f(lumina.tensor(x)).numpy()
        assert out.shape == ref(x).shape
        np.testing.assert_allclose(out, ref(x), rtol=2e-5, atol=2e-5)
        assert _symbolic(f), name
        executables.add(id(f._last.executable))
    assert len(executables) == 1
    assert f.cache_info()["entries"] == 1


def test_mlp_forward_matches_eager_and_keeps_few_instances():
    model = _model()
    f = lumina.compile(lambda x: F.softmax(model(x), -1), dynamic=True)
    rng = np.random.default_rng(1)
    for n in SIZES + (100, 9, 11):
        x = rng.standard_normal((n, 12)).astype(np.float32)
        with lumina.no_grad():
            want = F.softmax(model(lumina.tensor(x)), -1).numpy()
        np.testing.assert_allclose(f(lumina.tensor(x)).numpy(), want, rtol=1e-5, atol=1e-6)
    exe = f._last.executable
    assert isinstance(exe, SymbolicExecutable)
    assert len(exe._instances) == INSTANCES   # older sizes' arenas are freed


def test_automatic_dynamic_after_a_second_size(caplog):
    model = _model()

    @lumina.compile
    def f(x):
        return model(x).relu()
    rng = np.random.default_rng(2)
    with caplog.at_level("INFO", logger="lumina.recompiles"):
        for n in (8, 9, 10, 40, 1, 3):
            x = rng.standard_normal((n, 12)).astype(np.float32)
            with lumina.no_grad():
                want = model(lumina.tensor(x)).relu().numpy()
            np.testing.assert_allclose(f(lumina.tensor(x)).numpy(), want, rtol=1e-5, atol=1e-6)
            assert _symbolic(f) == (n not in (8, 1)), n
    # 8: sizes; 9: the batch dim becomes symbolic; 1: a size of its own (sizes 0 and 1 are kept)
    assert f.cache_info()["entries"] == 3
    assert any("(s0, 12) (dim 0 symbolic" in r.getMessage() for r in caplog.records)


def test_automatic_dynamic_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(dynamic_shapes, "AUTOMATIC", False)
    f = lumina.compile(lambda x: x + 1)
    for n in (3, 4, 5):
        f(lumina.tensor(np.zeros((n, 2), np.float32)))
        assert not _symbolic(f)
    assert f.cache_info()["entries"] == 3


def test_mark_dynamic_and_dynamic_false():
    x = lumina.tensor(np.ones((4, 6), np.float32))
    lumina.mark_dynamic(x, 0)
    f = lumina.compile(lambda x: x + 1)
    f(x)
    assert _symbolic(f)
    g = lumina.compile(lambda x: x + 1, dynamic=False)
    for n in (4, 5, 6):
        np.testing.assert_array_equal(g(lumina.tensor(np.zeros((n, 6), np.float32))).numpy(), 1.0)
        assert not _symbolic(g)
    with pytest.raises(lumina.LuminaValueError):
        lumina.mark_dynamic(x, 2)
    with pytest.raises(lumina.LuminaValueError):
        lumina.compile(lambda x: x, dynamic="yes")


def test_what_needs_a_size_falls_back_to_it(caplog):
    """Code that takes a symbolic size as a number is compiled for its sizes, with the reason
    recorded, and right at every size."""
    f = lumina.compile(lambda x: x * float(x.shape[0]), dynamic=True)
    rng = np.random.default_rng(3)
    with caplog.at_level("INFO", logger="lumina.recompiles"):
        for n in (4, 6):
            x = rng.standard_normal((n, 3)).astype(np.float32)
            np.testing.assert_allclose(f(lumina.tensor(x)).numpy(), x * n, rtol=1e-6)
            assert not _symbolic(f)
    assert any("symbolic compile failed" in line for line in f.cache_info()["recompiles"])


def test_a_symbolic_dim_inside_a_layout_is_a_runtime_stride():
    """A symbolic dim that is not outermost (a transpose, a permute that moves the batch inside)
    makes strides symbolic: the kernels compute them from the sizes they are called with."""
    f = lumina.compile(lambda x: (x.T * 2).reshape(4, -1).cumsum(1) + x.mean(), dynamic=True)
    g = lumina.compile(lambda x: x.reshape(x.shape[0], 2, 2).permute(1, 2, 0).sum(-1), dynamic=True)
    rng = np.random.default_rng(4)
    for n in (3, 5, 8):
        x = rng.standard_normal((n, 4)).astype(np.float32)
        np.testing.assert_allclose(f(lumina.tensor(x)).numpy(), np.cumsum(x.T * 2, 1) + x.mean(), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(g(lumina.tensor(x)).numpy(), x.reshape(n, 2, 2).sum(0), rtol=1e-5, atol=1e-6)
        assert _symbolic(g)


def test_training_step_with_symbolic_batch_matches_eager():
    """A step whose loss is a sum (no mean over the batch): SGD on the same data, compiled with a
    symbolic batch and eagerly, gives the same weights after several batch sizes."""
    def run(compiled: bool):
        model = _model()
        opt = lumina.optim.SGD(model.parameters(), lr=0.05)

        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).sum()
            loss.backward()
            opt.step()
            return loss
        step = lumina.compile(step, dynamic=True) if compiled else step
        rng = np.random.default_rng(5)
        losses = []
        for n in (8, 5, 13, 8):
            x = lumina.tensor(rng.standard_normal((n, 12)).astype(np.float32))
            y = lumina.tensor(rng.standard_normal((n, 5)).astype(np.float32))
            losses.append(step(x, y).item())
        return losses, [p.numpy().copy() for p in model.parameters()], step
    got, weights, step = run(True)
    want, want_weights, _ = run(False)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    for a, b in zip(weights, want_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert _symbolic(step)


def test_symbolic_executable_refuses_a_size_below_two():
    f = lumina.compile(lambda x: x * 3, dynamic=True)
    f(lumina.tensor(np.ones((4, 2), np.float32)))
    exe = f._last.executable
    with pytest.raises(lumina.LuminaTypeError, match="at least 2"):
        exe.run([np.ones((1, 2), np.float32)])
    with pytest.raises(lumina.LuminaTypeError):
        exe.run([np.ones((4, 3), np.float32)])


def test_a_branch_on_a_size_is_guarded():
    """``if n <= 10`` on a symbolic size is decided at the traced size and kept as a guard: a size
    on the other side traces again (one executable per branch), each right."""
    table = lumina.tensor(np.arange(40, dtype=np.float32).reshape(10, 4))

    @lumina.compile(dynamic=True)
    def f(x):
        n = x.shape[0]
        return x + table[:n] if n <= 10 else x * 2
    for n in (3, 7, 12, 20, 5, 10, 11):
        x = np.ones((n, 4), np.float32)
        want = x + np.arange(40, dtype=np.float32).reshape(10, 4)[:n] if n <= 10 else x * 2
        np.testing.assert_array_equal(f(lumina.tensor(x)).numpy(), want)
        assert _symbolic(f)
    assert f.cache_info()["entries"] == 2
    assert any("fail its guards ['s0 <= 10'" in r for r in f.cache_info()["recompiles"])


def _gpt_losses(dynamic, sizes):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "examples" / "micro_gpt.py"
    spec = importlib.util.spec_from_file_location("example_micro_gpt_dyn", path)
    micro_gpt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(micro_gpt)
    lumina.manual_seed(0)
    model = micro_gpt.MicroGPT(20, 16, 2, 32, 4)
    opt = lumina.optim.AdamW(model.parameters(), lr=3e-3)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, 20), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss
    step = lumina.compile(step, dynamic=dynamic)
    ids = np.random.default_rng(0).integers(0, 20, (max(sizes), 17))
    losses = [step(lumina.tensor(ids[:n, :-1]), lumina.tensor(ids[:n, 1:])).item() for n in sizes]
    return losses, step


def test_micro_gpt_step_with_symbolic_batch_equals_the_static_one():
    """The GPT step (attention permutes the batch inside its layouts: symbolic strides; a mean
    over the symbolic batch in the loss) compiled once for every batch size gives the losses of
    the step compiled per size."""
    sizes = (8, 5, 8, 3)
    got, step = _gpt_losses(True, sizes)
    want, _ = _gpt_losses(False, sizes)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert _symbolic(step) and step.cache_info()["entries"] == 1
