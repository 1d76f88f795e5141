"""Random sampling (randperm, multinomial, bernoulli, normal and the in-place fills): lumina's
generator differs from torch's by design, so these check what torch 2.13 guarantees: shapes,
dtypes, ranges, the distributions (Kolmogorov–Smirnov tests against scipy, frequencies against the
probabilities), determinism under lumina.manual_seed, fresh draws inside @lumina.compile, and
torch's errors."""
import numpy as np
import pytest
import torch
from scipy import stats

import lumina
from lumina.errors import LuminaError

N = 20000


def _freq(samples, k):
    return np.bincount(np.asarray(samples).reshape(-1), minlength=k) / np.asarray(samples).size


def test_randperm_is_a_uniform_permutation():
    lumina.manual_seed(1)
    p = lumina.randperm(7)
    assert p.dtype == lumina.int64 and p.shape == (7,)
    assert sorted(p.numpy().tolist()) == list(range(7))
    assert lumina.randperm(4, dtype=lumina.float32).dtype == lumina.float32
    assert lumina.randperm(0).shape == (0,)
    firsts = np.array([lumina.randperm(4).numpy() for _ in range(400)])[:, 0]
    assert stats.chisquare(np.bincount(firsts, minlength=4)).pvalue > 1e-4


def test_multinomial_with_replacement_follows_the_weights():
    w = np.array([1.0, 0.0, 3.0, 6.0], np.float32)
    s = lumina.multinomial(lumina.tensor(w), N, replacement=True)
    assert s.dtype == lumina.int64 and s.shape == (N,)
    f = _freq(s.numpy(), 4)
    assert f[1] == 0
    np.testing.assert_allclose(f, w / w.sum(), atol=0.015)


def test_multinomial_without_replacement():
    w = np.tile(np.array([1.0, 0.0, 3.0, 6.0]), (3000, 1))
    s = lumina.multinomial(lumina.tensor(w), 3).numpy()
    assert s.shape == (3000, 3)
    assert all(len(set(r)) == 3 for r in s)
    np.testing.assert_allclose(_freq(s[:, 0], 4), w[0] / w[0].sum(), atol=0.03)
    # torch 2.13 returns a zero-weight category once the others are used up; so does lumina
    t = torch.multinomial(torch.tensor([1.0, 0.0, 1.0]), 3)
    lum = lumina.multinomial(lumina.tensor(np.array([1.0, 0.0, 1.0])), 3)
    assert sorted(t.tolist()) == sorted(lum.numpy().tolist()) and lum.numpy()[2] == 1


def test_bernoulli():
    p = np.full(N, 0.3, np.float32)
    b = lumina.bernoulli(lumina.tensor(p))
    assert b.dtype == lumina.float32 and set(np.unique(b.numpy())) <= {0.0, 1.0}
    assert abs(b.numpy().mean() - 0.3) < 0.015
    b = lumina.tensor(np.zeros(N)).bernoulli(0.8)
    assert abs(b.numpy().mean() - 0.8) < 0.015
    x = lumina.zeros(N, dtype=lumina.int32)
    assert x.bernoulli_(0.25) is x and x.dtype == lumina.int32
    assert abs(x.numpy().mean() - 0.25) < 0.015


def test_normal_overloads_and_distribution():
    n = lumina.normal(2.0, 3.0, (N,))
    assert n.dtype == lumina.float32 and stats.kstest(n.numpy(), "norm", args=(2, 3)).pvalue > 1e-4
    assert lumina.normal(0.0, 1.0, (2, 3), dtype=lumina.float64).dtype == lumina.float64
    mean, std = lumina.tensor(np.zeros((2, 1))), lumina.tensor(np.ones(3, np.float32))
    assert lumina.normal(mean, std).shape == torch.normal(torch.zeros(2, 1, dtype=torch.float64),
                                                          torch.ones(3)).shape
    assert lumina.normal(mean, std).dtype == lumina.float64
    m = lumina.tensor(np.array([1.0, -1.0]), requires_grad=True)
    lumina.normal(m, 0.5).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("fill,dist,args", [
    (lambda x: x.normal_(1.0, 2.0), "norm", (1, 2)),
    (lambda x: x.uniform_(-1.0, 2.0), "uniform", (-1, 3)),
    (lambda x: x.exponential_(2.0), "expon", (0, 0.5)),
])
def test_in_place_fills_have_torchs_distributions(fill, dist, args):
    x = lumina.zeros(N, dtype=lumina.float64)
    assert fill(x) is x
    assert stats.kstest(x.numpy(), dist, args=args).pvalue > 1e-4


def test_uniform_range_and_geometric():
    x = lumina.zeros(N).uniform_(-1, 2)
    assert x.numpy().min() >= -1 and x.numpy().max() < 2
    g = lumina.zeros(N).geometric_(0.5).numpy()
    assert g.min() >= 1
    np.testing.assert_allclose(_freq(g.astype(int), 5)[1:5], [0.5, 0.25, 0.125, 0.0625], atol=0.015)


def test_random_ranges_follow_torch():
    x = lumina.zeros(N, dtype=lumina.int64)
    np.testing.assert_allclose(_freq(x.random_(3, 7).numpy(), 7)[3:], 0.25, atol=0.015)
    assert x.random_(5).numpy().max() == 4 and x.numpy().min() == 0
    assert x.random_().numpy().min() >= 0
    f = lumina.zeros(N).random_().numpy()
    assert f.min() >= 0 and f.max() <= 2 ** 24 and (f == np.floor(f)).all()
    assert set(np.unique(lumina.zeros(50, dtype=lumina.bool).random_().numpy())) <= {False, True}


def test_manual_seed_repeats_the_stream():
    def draws():
        return [lumina.randperm(6).numpy(), lumina.multinomial(lumina.tensor(np.ones(5)), 3).numpy(),
                lumina.normal(0.0, 1.0, (4,)).numpy(), lumina.zeros(3).uniform_().numpy()]
    lumina.manual_seed(123)
    a = draws()
    lumina.manual_seed(123)
    b = draws()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[2], draws()[2])


def test_compiled_draws_are_fresh_each_call():
    @lumina.compile
    def f(w):
        return lumina.multinomial(w, 2), lumina.randperm(5), lumina.zeros(4).normal_()

    w = lumina.tensor(np.ones(6))
    a, b = f(w), f(w)
    assert a[0].shape == (2,) and sorted(a[1].numpy().tolist()) == list(range(5))
    assert not np.array_equal(a[2].numpy(), b[2].numpy())


@pytest.mark.parametrize("call", [
    lambda L: L.multinomial(L.tensor([0.5, -0.1]), 1),
    lambda L: L.multinomial(L.tensor([0.0, 0.0]), 1),
    lambda L: L.multinomial(L.tensor([0.0, float("nan")]), 1),
    lambda L: L.multinomial(L.tensor([1.0, 1.0]), 3),
    lambda L: L.multinomial(L.tensor([1.0, 1.0]), 0),
    lambda L: L.multinomial(L.tensor([1, 1]), 1),
    lambda L: L.multinomial(L.ones(2, 2, 2), 1),
    lambda L: L.randperm(-1),
    lambda L: L.bernoulli(L.tensor([0.0, 1.5])),
    lambda L: L.bernoulli(L.tensor([1, 0])),
    lambda L: L.normal(L.zeros(2), -1.0),
    lambda L: L.normal(0.0, -1.0, (2,)),
    lambda L: L.zeros(3).normal_(0, -1),
    lambda L: L.zeros(3, dtype=L.int64).normal_(),
    lambda L: L.zeros(3).uniform_(1, 0),
    lambda L: L.zeros(3).exponential_(0),
    lambda L: L.zeros(3).random_(3, 3),
    lambda L: L.zeros(3).geometric_(1),
    lambda L: L.zeros(3).bernoulli_(1.5),
])
def test_errors_where_torch_raises(call):
    with pytest.raises((RuntimeError, TypeError, NotImplementedError)):
        call(torch)
    with pytest.raises(LuminaError):
        call(lumina)


def test_in_place_fill_of_a_leaf_that_requires_grad_raises():
    x = lumina.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(LuminaError):
        x.normal_()
    with lumina.no_grad():
        assert x.uniform_() is x


def test_generator_objects_have_their_own_stream():
    g = lumina.Generator().manual_seed(5)
    assert g.initial_seed() == 5 and g.device == "cpu"
    a = [lumina.rand(4, generator=g).numpy(), lumina.randperm(5, generator=g).numpy(),
         lumina.zeros(3).normal_(generator=g).numpy(),
         lumina.multinomial(lumina.tensor(np.ones(4)), 2, generator=g).numpy()]
    g.manual_seed(5)
    lumina.rand(10)                               # the global stream does not disturb g's
    b = [lumina.rand(4, generator=g).numpy(), lumina.randperm(5, generator=g).numpy(),
         lumina.zeros(3).normal_(generator=g).numpy(),
         lumina.multinomial(lumina.tensor(np.ones(4)), 2, generator=g).numpy()]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    state = g.get_state()
    first = lumina.randn(3, generator=g).numpy()
    g.set_state(state)
    np.testing.assert_array_equal(lumina.randn(3, generator=g).numpy(), first)
    with pytest.raises(LuminaError):
        lumina.rand(2, generator=torch.Generator())


def test_generator_inside_compile_advances():
    g = lumina.Generator().manual_seed(0)

    @lumina.compile
    def f(x):
        return x + lumina.rand(3, generator=g)

    x = lumina.zeros(3)
    a, b = f(x).numpy(), f(x).numpy()
    assert not np.array_equal(a, b)
    g.manual_seed(0)
    np.testing.assert_array_equal(f(x).numpy(), a)
