"""index_add / index_copy / index_fill / index_put, take, masked_select, masked_scatter,
repeat_interleave and Tensor.where against torch 2.13: values, dtypes, gradients (torch and finite
differences), in-place forms, inside @lumina.compile, and torch's errors (LuminaIndexError for
indices out of range, at once or when the kernel runs; eager-only ops refused while tracing)."""
import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaError, LuminaIndexError, LuminaTraceError, LuminaTypeError
from tests.gradcheck import check

RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 5))
IDX = np.array([0, 3, 0], np.int64)


@pytest.mark.parametrize("fn", [
    lambda L, F, x, s: L.index_add(x, 0, L.tensor(IDX), s, alpha=-2.0),
    lambda L, F, x, s: x.index_copy(0, L.tensor(np.array([2, 0, 3])), s),
    lambda L, F, x, s: x.index_fill(1, L.tensor(np.array([-1, 1])), 0.5) * s.sum(),
    lambda L, F, x, s: x.index_put((L.tensor(np.array([1, 1, -1])),), s[:, :5].sum(0), accumulate=True),
    lambda L, F, x, s: x.index_put((L.tensor(np.array([1, 2])), L.tensor(np.array([4, 0]))), s[0, :2]),
    lambda L, F, x, s: L.take(x, L.tensor(np.array([[0, -1], [7, 7]]))) * s[0, 0],
    lambda L, F, x, s: L.masked_scatter(x, L.tensor(X[0] > 0), s.reshape(-1)),
    lambda L, F, x, s: L.repeat_interleave(x, L.tensor(np.array([2, 0, 1, 3])), dim=0, output_size=6) * s.sum(),
    lambda L, F, x, s: x.repeat_interleave(3) + s.sum(),
    lambda L, F, x, s: x.where(x > 0, s[0, 0]),
], ids=["index_add", "index_copy", "index_fill", "index_put_acc", "index_put", "take", "masked_scatter",
        "repeat_interleave_tensor", "repeat_interleave_int", "where"])
def test_values_and_gradients_against_torch_and_finite_differences(fn):
    check(fn, X.copy(), RNG.standard_normal((3, 5)))


def test_masked_select_values_and_gradient_eagerly():
    x = RNG.standard_normal((3, 4))
    m = RNG.random((4,)) < 0.5
    lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lo, to = lumina.masked_select(lx, lumina.tensor(m)), torch.masked_select(tx, torch.tensor(m))
    np.testing.assert_array_equal(lo.numpy(), to.detach().numpy())
    c = RNG.standard_normal(to.shape)
    (lo * lumina.tensor(c)).sum().backward()
    (to * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float32])
def test_dtypes_follow_torch(dtype):
    x = (RNG.standard_normal((3, 4)) * 3).astype(dtype)
    src = (RNG.standard_normal((2, 4)) * 3).astype(dtype)
    i = np.array([2, 2])
    for f in [lambda L, a, s: a.index_add(0, L.tensor(i), s),
              lambda L, a, s: a.index_copy(0, L.tensor(np.array([2, 0])), s),
              lambda L, a, s: a.index_fill(1, L.tensor(np.array([3])), 2.5),
              lambda L, a, s: a.index_put((L.tensor(i),), s[0], accumulate=True),
              lambda L, a, s: L.take(a, L.tensor(np.array([11, 0]))),
              lambda L, a, s: L.masked_select(a, a != 0),
              lambda L, a, s: a.repeat_interleave(L.tensor(np.array([1, 0, 2])), dim=0)]:
        got, want = f(lumina, lumina.tensor(x), lumina.tensor(src)).numpy(), f(torch, torch.tensor(x),
                                                                               torch.tensor(src)).numpy()
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6)      # index_add: sums in another order


def test_in_place_forms_return_self_and_match_torch():
    calls = [("index_add_", (1, np.array([4, 4]), RNG.standard_normal((4, 2)))),
             ("index_copy_", (0, np.array([3]), RNG.standard_normal((1, 5)))),
             ("index_fill_", (0, np.array([1]), -7.0)),
             ("masked_scatter_", (X > 0.5, RNG.standard_normal(30)))]
    for name, args in calls:
        lx, tx = lumina.tensor(X), torch.tensor(X)
        la = [lumina.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        ta = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        assert getattr(lx, name)(*la) is lx
        getattr(tx, name)(*ta)
        np.testing.assert_allclose(lx.numpy(), tx.numpy(), rtol=1e-15)
    lx, tx = lumina.tensor(X), torch.tensor(X)
    assert lx.index_put_((lumina.tensor(IDX),), lumina.tensor(np.float64(1.0)), accumulate=True) is lx
    tx.index_put_((torch.tensor(IDX),), torch.tensor(1.0, dtype=torch.float64), accumulate=True)
    np.testing.assert_array_equal(lx.numpy(), tx.numpy())


def test_in_place_on_a_leaf_that_requires_grad_raises():
    x = lumina.tensor(X, requires_grad=True)
    with pytest.raises(LuminaError):
        x.index_add_(0, lumina.tensor(IDX), lumina.tensor(RNG.standard_normal((3, 5))))


def test_inside_compile_with_computed_indices():
    @lumina.compile
    def f(x, i, r):
        return (x.index_add(0, i, x[:3] * 2).index_fill(1, i, 0.0), lumina.take(x, i * 2),
                x.repeat_interleave(r, dim=0, output_size=6), lumina.masked_scatter(x, x > 0, x.reshape(-1) * 10))

    got = f(lumina.tensor(X), lumina.tensor(IDX), lumina.tensor(np.array([1, 2, 0, 3])))
    tx, ti = torch.tensor(X), torch.tensor(IDX)
    want = (tx.index_add(0, ti, tx[:3] * 2).index_fill(1, ti, 0.0), torch.take(tx, ti * 2),
            tx.repeat_interleave(torch.tensor([1, 2, 0, 3]), dim=0), torch.masked_scatter(tx, tx > 0, tx.reshape(-1) * 10))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)


def test_data_dependent_sizes_are_refused_while_tracing():
    with pytest.raises(LuminaTraceError, match="masked_select"):
        lumina.compile(lambda x: lumina.masked_select(x, x > 0))(lumina.tensor(X))
    with pytest.raises(LuminaTraceError, match="output_size"):
        lumina.compile(lambda x, r: x.repeat_interleave(r, dim=0))(lumina.tensor(X), lumina.tensor(np.ones(4, np.int64)))


def test_indices_out_of_range_raise_at_once_and_when_computed():
    x = lumina.tensor(X)
    for call in [lambda i: x.index_add(0, i, lumina.tensor(np.ones((1, 5)))),
                 lambda i: x.index_copy(0, i, lumina.tensor(np.ones((1, 5)))),
                 lambda i: x.index_fill(0, i, 1.0), lambda i: lumina.take(x[:, 0], i),
                 lambda i: x.index_put((i,), lumina.tensor(np.float64(1.0)), accumulate=True)]:
        with pytest.raises(LuminaIndexError):
            call(lumina.tensor(np.array([4])))
        with pytest.raises(LuminaIndexError):
            call(lumina.tensor(np.array([-5])))
        with pytest.raises(LuminaIndexError):        # a computed index: checked when the kernel runs
            call(lumina.tensor(np.array([2])) + lumina.tensor(np.array([2]))).numpy()
    with pytest.raises(LuminaIndexError):            # negative: torch's index_add / index_copy refuse them
        x.index_add(0, lumina.tensor(np.array([-1])), lumina.tensor(np.ones((1, 5)))).numpy()


def test_masked_scatter_short_source_raises():
    x = lumina.tensor(X)
    with pytest.raises(RuntimeError):
        torch.masked_scatter(torch.tensor(X), torch.tensor(X > 0), torch.zeros(1, dtype=torch.float64))
    with pytest.raises(LuminaIndexError):
        lumina.masked_scatter(x, lumina.tensor(X > 0), lumina.tensor(np.zeros(1))).numpy()
    with pytest.raises(LuminaIndexError):
        lumina.masked_scatter(x, x > 0, lumina.tensor(np.zeros(1))).numpy()


@pytest.mark.parametrize("call", [
    lambda L, x: x.index_add(0, L.tensor([[0]]), x[:1]),                          # 2-D index
    lambda L, x: x.index_add(0, L.tensor([0, 1]), x[:3]),                         # wrong length
    lambda L, x: x.index_add(0, L.tensor([0]), x[:1].float()),                    # source dtype
    lambda L, x: x.index_add(0, L.tensor([0.0]), x[:1]),                          # float index
    lambda L, x: x.index_copy(0, L.tensor([0], dtype=L.int32), x[:1]),            # int32 index
    lambda L, x: x.index_fill(0, L.tensor([0]), L.tensor([1.0, 2.0])),            # 1-D value
    lambda L, x: L.take(x, L.tensor([0], dtype=L.int32)),
    lambda L, x: L.masked_select(x, L.tensor([1, 0, 1, 0, 1])),                   # non-bool mask
    lambda L, x: L.masked_scatter(x, x > 0, L.tensor([1, 2])),                    # source dtype
    lambda L, x: L.repeat_interleave(x, -1),
    lambda L, x: L.repeat_interleave(x, L.tensor([1, -2, 1, 1]), dim=0),
    lambda L, x: L.repeat_interleave(x, L.tensor([1, 2]), dim=0),
    lambda L, x: L.repeat_interleave(x, L.tensor([1.0, 2.0, 1.0, 1.0]), dim=0),
    lambda L, x: L.repeat_interleave(x, L.tensor([1, 1, 1, 1]), dim=0, output_size=5),
    lambda L, x: x.index_put((L.tensor([0]),) * 3, x[0, 0]),                       # too many indices
    lambda L, x: x.index_put((L.tensor([0]),), x[0, 0].float()),                   # values dtype
    lambda L, x: x.index_add(3, L.tensor([0]), x),                                 # dim out of range
    lambda L, x: L.repeat_interleave(x[0, 0], 2, dim=0),                           # a 0-d input has no dim 0
])
def test_errors_where_torch_raises(call):
    with pytest.raises((RuntimeError, IndexError, TypeError, NotImplementedError)):
        call(torch, torch.tensor(X))
    with pytest.raises(LuminaError):
        call(lumina, lumina.tensor(X))


def test_index_put_with_a_bool_mask():
    m = X > 0
    for acc in (False, True):
        got = lumina.tensor(X).index_put((lumina.tensor(m),), lumina.tensor(np.float64(2.0)), accumulate=acc)
        want = torch.tensor(X).index_put((torch.tensor(m),), torch.tensor(2.0, dtype=torch.float64), accumulate=acc)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    f = lumina.compile(lambda x: x.index_put((x > 0,), lumina.tensor(np.float64(2.0))))
    np.testing.assert_array_equal(f(lumina.tensor(X)).numpy(), np.where(m, 2.0, X))
    with pytest.raises(LuminaTraceError, match="index_put"):
        lumina.compile(lambda x: x.index_put((x > 0,), x[0, 0], accumulate=True))(lumina.tensor(X))
