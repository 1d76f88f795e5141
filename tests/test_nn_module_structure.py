"""How modules are put together, as torch's: ``Sequential`` from modules or an ``OrderedDict``, its
indexing, slicing and editing; ``add_module`` / ``register_module`` / ``register_parameter``
(None slots included); ``nn.init.trunc_normal_``'s distribution; in-place activations inside a
network that trains (torchvision's MobileNetV3 pattern)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from scipy import stats

import lumina
from lumina.errors import LuminaError, LuminaIndexError, LuminaTypeError, LuminaValueError


def _structure(L):
    s = L.nn.Sequential(OrderedDict(a=L.nn.ReLU(), b=L.nn.Tanh(), c=L.nn.Identity()))
    seen = [type(s.b).__name__, [n for n, _ in s.named_children()], [n for n, _ in s[1:].named_children()],
            type(s[-1]).__name__, type(s[1:]).__name__]
    del s[0]
    seen.append([n for n, _ in s.named_children()])
    s.insert(1, L.nn.ReLU())
    seen += [[n for n, _ in s.named_children()], len(s + s)]
    s.append(L.nn.Tanh())
    popped = s.pop(0)
    seen += [type(popped).__name__, [type(m).__name__ for m in s]]
    s[0] = L.nn.Sigmoid()
    seen.append([type(m).__name__ for m in s])
    return seen


def test_sequential_matches_torch():
    assert _structure(lumina) == _structure(torch)


def test_sequential_runs_in_order_and_refuses_bad_input():
    s = lumina.nn.Sequential(OrderedDict(lin=lumina.nn.Linear(2, 2), act=lumina.nn.ReLU()))
    x = lumina.tensor(np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(s(x).numpy(), s.act(s.lin(x)).numpy())
    with pytest.raises(LuminaIndexError, match="out of range"):
        s[2]
    with pytest.raises(LuminaTypeError, match="not a Module"):
        lumina.nn.Sequential(lambda x: x)


def test_registering_matches_torch():
    for L in (torch, lumina):
        m = L.nn.Module()
        m.register_parameter("w", None)
        m.register_parameter("v", L.nn.Parameter(L.ones(2)))
        m.add_module("sub", L.nn.ReLU())
        m.register_module("none", None)
        assert m.w is None and m.none is None
        assert list(m.state_dict()) == ["v"] and [n for n, _ in m.named_children()] == ["sub"]
        assert [n for n, _ in m.named_parameters()] == ["v"]
    m = lumina.nn.Module()
    with pytest.raises(LuminaTypeError, match="Parameter"):
        m.register_parameter("w", lumina.ones(2))
    with pytest.raises(LuminaValueError, match="bad name"):
        m.add_module("a.b", lumina.nn.ReLU())
    with pytest.raises(LuminaTypeError, match="not a Module"):
        m.add_module("f", 3)


def test_trunc_normal_draws_the_truncated_normal():
    w = lumina.zeros(20000)
    lumina.manual_seed(0)
    assert lumina.nn.init.trunc_normal_(w, mean=0.5, std=2.0, a=-1.0, b=3.0) is w
    x = w.numpy()
    assert x.min() >= -1.0 and x.max() <= 3.0
    a, b = (-1.0 - 0.5) / 2.0, (3.0 - 0.5) / 2.0
    assert stats.kstest(x, stats.truncnorm(a, b, loc=0.5, scale=2.0).cdf).pvalue > 1e-3
    with pytest.raises(LuminaValueError, match="std > 0"):
        lumina.nn.init.trunc_normal_(w, std=0.0)
    with pytest.raises(LuminaValueError, match="mass|holds"):
        lumina.nn.init.trunc_normal_(w, mean=0.0, std=1.0, a=50.0, b=60.0)
    with pytest.raises(LuminaError, match="compile"):
        lumina.compile(lambda t: lumina.nn.init.trunc_normal_(t))(lumina.zeros(3))


@pytest.mark.parametrize("name", ["hardswish", "relu", "silu", "hardsigmoid", "relu6", "elu", "leaky_relu",
                                  "selu", "celu", "mish"])
def test_inplace_activation_on_an_intermediate_trains_as_torch(name):
    """``F.<act>(h, inplace=True)`` on a computed ``h``: torch keeps what the backward needs, so
    backward succeeds; lumina's gradient equals torch's."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    got = []
    for L in (torch, lumina):
        w = L.tensor(x, requires_grad=True)
        h = w * 2.0
        y = getattr(L.nn.functional, name)(h, inplace=True)
        assert y is h
        (y * y).sum().backward()
        got.append((y.detach().numpy(), w.grad.numpy()))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-7, atol=1e-12)
