"""Backward graphs replayed from templates (``transforms.vjp_cache``): a replayed backward builds
the graph the VJP rules build, and its gradients are PyTorch's, at every step, whatever ran
before it with another structure."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from lumina.ir import graph as B
from lumina.ir.graph import Graph, topo_sort
from lumina.ir.ops import Op
from lumina.transforms import vjp_cache
from lumina.transforms.autodiff import vjp


def _net(L, x, w1, b1, w2, detach_hidden: bool = False):
    """A small network touching the common VJP rules: matmul, broadcast add, ReLU, slicing,
    concatenation, softmax and a mean; ``detach_hidden`` computes a slice of the hidden layer
    without recording its history (the same graph, with other nodes cut)."""
    F = L.nn.functional
    h = F.relu(x @ w1.T + b1)
    with L.set_grad_enabled(not detach_hidden):   # the same graph, cut or not
        head = h[:, :3] * 2.0
    h = L.cat([head, h[:, 3:]], 1)
    return F.log_softmax(h @ w2, dim=1).mean()


def _leaves(L, seed: int):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(5, 4), (8, 4), (8,), (8, 3)]]
    return [L.tensor(arrays[0])] + [L.tensor(a, requires_grad=True) for a in arrays[1:]]


@pytest.mark.parametrize("detach_order", [(False, True, False), (True, False, True)])
def test_replayed_gradients_match_torch_at_every_step(detach_order):
    vjp_cache.clear()
    for step, detach in enumerate(detach_order * 2):   # each structure twice: recorded, then replayed
        ours = _leaves(lumina, step)
        theirs = _leaves(torch, step)
        _net(lumina, *ours, detach_hidden=detach).backward()
        _net(torch, *theirs, detach_hidden=detach).backward()
        for a, b in zip(ours[1:], theirs[1:]):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_replay_builds_the_graph_the_rules_build():
    x = B.emit(Op.INPUT, type=lumina.ir.types.TensorType((4, 3), lumina.float32), name="x")
    w = B.emit(Op.INPUT, type=lumina.ir.types.TensorType((3, 2), lumina.float32), name="w")
    y = B.reduce(Op.REDUCE_SUM, B.unary(Op.EXP, B.dot(x, w, contract=((1,), (0,)))), [0, 1], keepdim=False)
    forward = topo_sort([y])
    vjp_cache.clear()

    def grads():
        seed = B.const(1, y.dtype, y.shape)
        return seed, vjp_cache.cached_vjp(y, seed, [x, w], forward, lambda v: True, None)
    seed, recorded = grads()
    seed2, replayed = grads()
    fresh = vjp([y], [seed2], [x, w], order=forward)
    assert all(r is not f for r, f in zip(replayed, fresh))   # new nodes, over the same forward
    keys = [Graph.from_outputs(g).structure_key() for g in (recorded, replayed, fresh)]
    assert keys[0] == keys[1] == keys[2]


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(vjp_cache, "MAX_TEMPLATES", 3)
    vjp_cache.clear()
    for n in range(1, 7):   # six forward structures
        w = lumina.tensor(np.ones(n, np.float32), requires_grad=True)
        (w * w).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), 2 * np.ones(n, np.float32))
    assert len(vjp_cache._TEMPLATES) == 3


def test_a_gradient_reading_a_leaf_outside_the_forward_graph_is_not_recorded():
    x = B.emit(Op.INPUT, type=lumina.ir.types.TensorType((3,), lumina.float32), name="x")
    other = B.emit(Op.INPUT, type=lumina.ir.types.TensorType((3,), lumina.float32), name="other")
    y = B.unary(Op.EXP, x)
    seed = B.const(1, y.dtype, y.shape)
    assert vjp_cache._record(topo_sort([y]), seed, [seed * other]) is None
    template = vjp_cache._record(topo_sort([y]), seed, [seed * y])
    assert template is not None and len(template.nodes) == 1


def test_an_update_without_history_replays_its_passthrough():
    """``y.add_(1)`` under ``no_grad`` on a tensor with history passes the gradient through (the
    node in ``saved.THROUGH``); recorded at the first step, replayed at the second."""
    vjp_cache.clear()
    for step in range(3):
        rng = np.random.default_rng(step)
        w0 = rng.standard_normal(4).astype(np.float32)
        grads = []
        for L in (lumina, torch):
            w = L.tensor(w0.copy(), requires_grad=True)
            y = w * 3.0
            with L.no_grad():
                y.add_(1.0)
            (y * y).sum().backward()
            grads.append(w.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def _train(L, steps: int, between=None):
    """A few eager SGD steps of a conv-BatchNorm-linear model; ``between(loss)`` runs between
    ``backward`` and the optimizer's step. Returns the losses and the final parameters."""
    L.manual_seed(0)
    model = L.nn.Sequential(L.nn.Conv2d(1, 4, 3, padding=1), L.nn.BatchNorm2d(4), L.nn.ReLU(),
                            L.nn.Flatten(), L.nn.Linear(4 * 5 * 5, 3))
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(3)
    losses = []
    for _ in range(steps):
        x = L.tensor(rng.standard_normal((6, 1, 5, 5)).astype(np.float32))
        y = L.tensor(rng.integers(0, 3, 6))
        opt.zero_grad()
        loss = L.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if between is not None:
            between(loss)
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def _same_start(monkeypatch):
    """Both frameworks start from lumina's initial weights (lumina.manual_seed decides them)."""
    real = torch.nn.Sequential.__init__

    def init(self, *layers):
        real(self, *layers)
        lumina.manual_seed(0)
        ours = lumina.nn.Sequential(lumina.nn.Conv2d(1, 4, 3, padding=1), lumina.nn.BatchNorm2d(4),
                                    lumina.nn.ReLU(), lumina.nn.Flatten(), lumina.nn.Linear(4 * 5 * 5, 3))
        self.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    monkeypatch.setattr(torch.nn.Sequential, "__init__", init)


@pytest.mark.parametrize("between", ["nothing", "an unrelated realisation", "the loss read early"])
def test_eager_steps_match_torch_whatever_is_realised_between_backward_and_step(monkeypatch, between):
    """The realisation after ``backward`` starts with the forward order backward walked, only
    when it computes that loss: another realisation in between takes it over, or leaves it."""
    _same_start(monkeypatch)
    vjp_cache.clear()
    other = {"nothing": None,
             "an unrelated realisation": lambda loss: (lumina.tensor(np.ones(3, np.float32)) * 2).numpy(),
             "the loss read early": lambda loss: loss.item()}[between]
    ours, ours_params = _train(lumina, 4, other)
    theirs, theirs_params = _train(torch, 4)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for a, b in zip(ours_params, theirs_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_seed_from_the_forward_graph_is_not_replayed():
    """``y.backward(y)`` with ``y = exp(w)``: exp's VJP reads ``y`` as well as the cotangent. A
    template made from that call must not serve ``y.backward(ones)`` (the same forward graph)."""
    vjp_cache.clear()
    for step, seed_is_y in enumerate([True, False, True, False]):
        w0 = np.random.default_rng(step).standard_normal(3).astype(np.float32)
        grads = []
        for L in (lumina, torch):
            w = L.tensor(w0, requires_grad=True)
            y = w.exp()
            seed = (y if L is lumina else y.detach()) if seed_is_y else L.tensor(np.ones(3, np.float32))
            y.backward(seed)
            grads.append(w.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def _accumulating(L, mode: str):
    """Four steps whose ``.grad`` accumulates (never zeroed): two losses per step, one loss
    differentiated twice, or ``backward(inputs=)`` alternating between the parameters."""
    rng = np.random.default_rng(0)
    w1 = L.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w2 = L.tensor(rng.standard_normal((3,)).astype(np.float32), requires_grad=True)
    seen = []
    for step in range(4):
        x = L.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        loss = ((x @ w1).tanh() * w2).sum()
        if mode == "two losses":
            loss.backward()
            ((x @ w1).exp() * w2).mean().backward()
        elif mode == "one loss twice":
            loss.backward(retain_graph=True)
            loss.backward()
        else:
            loss.backward(inputs=[w1] if step % 2 else [w2])
        seen.append([None if w.grad is None else w.grad.numpy().copy() for w in (w1, w2)])
    return seen


@pytest.mark.parametrize("mode", ["two losses", "one loss twice", "inputs="])
def test_accumulated_gradients_match_torch(mode):
    vjp_cache.clear()
    for ours, theirs in zip(_accumulating(lumina, mode), _accumulating(torch, mode)):
        for a, b in zip(ours, theirs):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
