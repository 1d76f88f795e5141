"""torch's arithmetic functions and keywords on lumina tensors (``lumina.tensor.arithmetic``),
compared with PyTorch CPU: values (bit for bit where torch's kernel is exact), dtypes, NaN / inf /
signed zeros, gradients, errors, and the compiled path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina

RNG = np.random.default_rng(7)
FLOAT_A = np.array([7.5, -7.5, 7.5, -7.5, 0.0, -0.0, np.inf, -np.inf, 3.0, np.nan, 5.0, 0.3, 1.0, -2.0], np.float64)
FLOAT_B = np.array([2.0, 2.0, -2.0, -2.0, 3.0, -3.0, 2.0, 1.0, np.inf, 1.0, 0.0, 0.1, 0.3, -np.inf], np.float64)
INT_A = np.array([7, -7, 7, -7, 0, 5, -6, 9], np.int64)
INT_B = np.array([2, 2, -2, -2, 3, -1, 4, -4], np.int64)

CALLS = [("add", {}), ("add", {"alpha": 2.5}), ("sub", {}), ("sub", {"alpha": -3}), ("mul", {}), ("div", {}),
         ("div", {"rounding_mode": "trunc"}), ("div", {"rounding_mode": "floor"}), ("floor_divide", {}),
         ("fmod", {}), ("remainder", {})]


def _same(lum: np.ndarray, ref: torch.Tensor) -> None:
    ref = ref.detach().numpy()
    assert lum.dtype == ref.dtype
    np.testing.assert_array_equal(lum, ref)
    if lum.dtype.kind == "f":   # zeros' signs (a NaN's sign bit is not part of its value)
        real = ~np.isnan(ref)
        assert np.array_equal(np.signbit(lum[real]), np.signbit(ref[real])), (lum, ref)


@pytest.mark.parametrize("name,kw", CALLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_values_match_torch(name, kw, dtype):
    a, b = FLOAT_A.astype(dtype), FLOAT_B.astype(dtype)
    got = getattr(lumina, name)(lumina.tensor(a), lumina.tensor(b), **kw).numpy()
    method = getattr(lumina.tensor(a), name)(lumina.tensor(b), **kw).numpy()
    want = getattr(torch, name)(torch.tensor(a), torch.tensor(b), **kw)
    if "alpha" in kw:   # torch's kernel fuses a + alpha * b (one rounding); lumina rounds twice
        np.testing.assert_allclose(got, want.numpy(), rtol=np.finfo(dtype).eps, atol=0)
        np.testing.assert_array_equal(got, method)
        return
    _same(got, want)
    _same(method, getattr(torch.tensor(a), name)(torch.tensor(b), **kw))


@pytest.mark.parametrize("name,kw", [c for c in CALLS if c[1].get("alpha") != 2.5])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_values_and_dtypes_match_torch(name, kw, dtype):
    a, b = INT_A.astype(dtype), INT_B.astype(dtype)
    got = getattr(lumina, name)(lumina.tensor(a), lumina.tensor(b), **kw).numpy()
    _same(got, getattr(torch, name)(torch.tensor(a), torch.tensor(b), **kw))
    # a Python number on the right is weak: the tensor's dtype stays
    got = getattr(lumina, name)(lumina.tensor(a), 3, **kw).numpy()
    _same(got, getattr(torch, name)(torch.tensor(a), 3, **kw))


def test_random_floats_fmod_and_remainder_are_exact():
    a = (RNG.standard_normal(400) * 100).astype(np.float32)
    b = (RNG.standard_normal(400) * 3).astype(np.float32)
    for name in ("fmod", "remainder", "floor_divide"):
        for dt in (np.float32, np.float64):
            got = getattr(lumina, name)(lumina.tensor(a.astype(dt)), lumina.tensor(b.astype(dt))).numpy()
            _same(got, getattr(torch, name)(torch.tensor(a.astype(dt)), torch.tensor(b.astype(dt))))


def test_mixed_dtypes_promote_as_torch():
    for x, y in [(np.array([5, -5], np.int32), np.array([2.0, 3.0], np.float32)),
                 (np.array([5, -5], np.int64), np.array([2, 3], np.int32)),
                 (np.array([True, False]), np.array([2, 3], np.int64))]:
        for name in ("add", "mul", "div", "remainder", "fmod", "floor_divide"):
            got = getattr(lumina, name)(lumina.tensor(x), lumina.tensor(y)).numpy()
            _same(got, getattr(torch, name)(torch.tensor(x), torch.tensor(y)))


def test_bool_arithmetic_is_logic_and_bool_alpha():
    t, f = np.array([True, True, False]), np.array([True, False, False])
    for name, kw in [("add", {}), ("mul", {}), ("add", {"alpha": True})]:
        got = getattr(lumina, name)(lumina.tensor(t), lumina.tensor(f), **kw).numpy()
        _same(got, getattr(torch, name)(torch.tensor(t), torch.tensor(f), **kw))


@pytest.mark.parametrize("call", [
    lambda L, T: L.add(T([1, 2]), T([1, 2]), alpha=0.5),          # a float alpha for integers
    lambda L, T: L.add(T([1.0, 2.0]), T([1.0, 2.0]), alpha=True),  # a bool alpha for floats
    lambda L, T: L.sub(T([True]), T([False])),
    lambda L, T: L.div(T([1.0]), T([2.0]), rounding_mode="bogus"),
    lambda L, T: L.floor_divide(T([True]), T([True])),
    lambda L, T: L.remainder(T([True]), T([True])),
    lambda L, T: L.fmod(T([1, 2]), 0),
    lambda L, T: L.remainder(T([1, 2]), T([1, 0])),
    lambda L, T: L.div(T([1, 2]), T([0, 1]), rounding_mode="trunc"),
    lambda L, T: L.floor_divide(T([1, 2]), T([3, 0])),
])
def test_errors_where_torch_raises(call):
    with pytest.raises((RuntimeError, NotImplementedError)):
        call(torch, torch.tensor)
    with pytest.raises(lumina.LuminaError):
        call(lumina, lumina.tensor).numpy()


def test_integer_zero_divisor_computed_in_the_graph_raises_when_run():
    """The divisor's values are unknown when the op is recorded: the check runs in the kernel."""
    x = lumina.tensor([3, 4, 5])
    divisor = x - 4                                      # [-1, 0, 1], computed
    for name in ("floor_divide", "fmod", "remainder"):
        with pytest.raises(lumina.LuminaValueError, match="ZeroDivisionError"):
            getattr(lumina, name)(x, divisor).numpy()
    ok = lumina.remainder(x, x - 6).numpy()              # no zero: runs
    np.testing.assert_array_equal(ok, torch.remainder(torch.tensor([3, 4, 5]), torch.tensor([-3, -2, -1])).numpy())


@pytest.mark.parametrize("name,kw", [("add", {"alpha": -1.5}), ("sub", {"alpha": 2.0}), ("mul", {}), ("div", {}),
                                     ("fmod", {}), ("remainder", {}), ("pow", {})])
def test_gradients_match_torch(name, kw):
    a = RNG.uniform(0.5, 4.0, (3, 4)) * RNG.choice([-1.0, 1.0], (3, 4))
    b = RNG.uniform(0.5, 3.0, (4,)) * RNG.choice([-1.0, 1.0], (4,))
    if name == "pow":
        a = np.abs(a)
    g = RNG.standard_normal((3, 4))
    la, lb = lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=True)
    (getattr(lumina, name)(la, lb, **kw) * lumina.tensor(g)).sum().backward()
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (getattr(torch, name)(ta, tb, **kw) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(la.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lb.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_fmod_gradient_matches_finite_differences():
    a = np.array([5.3, -4.1, 2.2]), np.array([1.7, 1.3, -0.9])
    la, lb = lumina.tensor(a[0], requires_grad=True), lumina.tensor(a[1], requires_grad=True)
    lumina.fmod(la, lb).sum().backward()
    eps = 1e-6
    fd_a = (np.fmod(a[0] + eps, a[1]) - np.fmod(a[0] - eps, a[1])) / (2 * eps)
    fd_b = (np.fmod(a[0], a[1] + eps) - np.fmod(a[0], a[1] - eps)) / (2 * eps)
    np.testing.assert_allclose(la.grad.numpy(), fd_a, rtol=1e-6)
    np.testing.assert_allclose(lb.grad.numpy(), fd_b, rtol=1e-6)


def test_rounded_divisions_have_zero_gradient():
    la = lumina.tensor([5.5, -3.2], requires_grad=True)
    out = lumina.div(la, 2.0, rounding_mode="floor") + lumina.floor_divide(la, 3.0) + la.div(2.0, rounding_mode="trunc")
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(la.grad.numpy(), np.zeros(2))


def test_compiled_matches_eager_and_torch():
    @lumina.compile
    def f(x, y):
        return lumina.remainder(x, y) + x.fmod(y) * 2.0 + lumina.div(x, y, rounding_mode="floor") \
            + lumina.add(x, y, alpha=0.5)

    a = (RNG.standard_normal(32) * 10).astype(np.float32)
    b = (RNG.uniform(0.5, 3, 32) * RNG.choice([-1, 1], 32)).astype(np.float32)
    ta, tb = torch.tensor(a), torch.tensor(b)
    want = torch.remainder(ta, tb) + ta.fmod(tb) * 2.0 + torch.div(ta, tb, rounding_mode="floor") \
        + torch.add(ta, tb, alpha=0.5)
    np.testing.assert_array_equal(f(lumina.tensor(a), lumina.tensor(b)).numpy(), want.numpy())


# predicates, nan_to_num, rsqrt / log1p / expm1 / frac, all / any (lumina.tensor.pointwise)

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, -0.5, 1e-8, -1e-8, 1e-4, -0.9999, 50.0, -50.0,
                    100.0, 3.7, -2.5, -3.0, 88.0, 2e-3])
UNARY = ["isnan", "isinf", "isfinite", "nan_to_num", "rsqrt", "log1p", "expm1", "frac"]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_pointwise_floats_match_torch(name, dtype):
    a = SPECIAL.astype(dtype)
    got = getattr(lumina, name)(lumina.tensor(a)).numpy()
    want = getattr(torch, name)(torch.tensor(a)).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=4 * np.finfo(dtype).eps, atol=0)
    _same(getattr(lumina.tensor(a), name)().numpy(), torch.tensor(got))


def test_log1p_and_expm1_keep_their_accuracy_near_zero():
    small = np.array([1e-7, -3e-6, 2e-5, 1e-30, -1e-12], np.float32)
    for name in ("log1p", "expm1"):
        got = getattr(lumina, name)(lumina.tensor(small)).numpy()
        np.testing.assert_allclose(got, getattr(torch, name)(torch.tensor(small)).numpy(), rtol=2e-7)


@pytest.mark.parametrize("name", [n for n in UNARY if n != "frac"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_pointwise_integers_and_bools_match_torch(name, dtype):
    a = np.array([0, 1, 3, 1]).astype(dtype)
    got = getattr(lumina, name)(lumina.tensor(a)).numpy()
    want = getattr(torch, name)(torch.tensor(a)).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-7)


def test_nan_to_num_replacements_and_frac_of_integers():
    a = SPECIAL.astype(np.float32)
    for kw in ({"nan": 2.0}, {"posinf": 9.0, "neginf": -7.5}, {"nan": -1.0, "posinf": 1e3}):
        _same(lumina.nan_to_num(lumina.tensor(a), **kw).numpy(), torch.nan_to_num(torch.tensor(a), **kw))
    with pytest.raises(NotImplementedError):
        torch.frac(torch.tensor([1, 2]))
    with pytest.raises(lumina.LuminaTypeError):
        lumina.frac(lumina.tensor([1, 2]))


@pytest.mark.parametrize("name", ["rsqrt", "log1p", "expm1", "frac", "nan_to_num"])
def test_pointwise_gradients_match_torch(name):
    a = np.concatenate([RNG.uniform(0.1, 3.0, 6), [1e-3, -0.5, 0.25, 2.0]])
    if name in ("frac", "nan_to_num", "expm1"):
        a = np.concatenate([a, -a[:4], [np.inf, -np.inf, np.nan] if name == "nan_to_num" else []])
    g = RNG.standard_normal(a.shape)
    la = lumina.tensor(a, requires_grad=True)
    (getattr(lumina, name)(la) * lumina.tensor(g)).sum().backward()
    ta = torch.tensor(a, requires_grad=True)
    (getattr(torch, name)(ta) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(la.grad.numpy(), ta.grad.numpy(), rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("kw", [{}, {"dim": 0}, {"dim": 1, "keepdim": True}, {"dim": (0, 1)}, {"dim": -1},
                                {"dim": None, "keepdim": True}])
@pytest.mark.parametrize("arr", [np.array([[0.0, np.nan, 1.0], [2.0, 3.0, 0.0]]), np.array([[0, 4, 1], [2, 3, 5]]),
                                 np.array([[True, False, True], [True, True, True]]), np.zeros((0, 3), np.float32)])
def test_all_and_any_match_torch(name, kw, arr):
    got = getattr(lumina, name)(lumina.tensor(arr), **kw).numpy()
    _same(got, getattr(torch, name)(torch.tensor(arr), **kw))
    _same(getattr(lumina.tensor(arr), name)(**kw).numpy(), getattr(torch.tensor(arr), name)(**kw))


def test_all_any_out_of_range_dim_raises():
    with pytest.raises(IndexError):
        torch.all(torch.zeros(2, 3), dim=2)
    with pytest.raises(lumina.LuminaError):
        lumina.all(lumina.zeros(2, 3), dim=2)


def test_pointwise_under_compile():
    @lumina.compile
    def f(x):
        return lumina.nan_to_num(x.log1p() + x.expm1(), nan=-1.0), lumina.isfinite(x).all(dim=0)

    a = np.array([[0.5, -2.0, np.inf], [1e-6, np.nan, 3.0]], np.float32)
    v, ok = f(lumina.tensor(a))
    ta = torch.tensor(a)
    np.testing.assert_allclose(v.numpy(), torch.nan_to_num(ta.log1p() + ta.expm1(), nan=-1.0).numpy(), rtol=1e-6)
    _same(ok.numpy(), torch.isfinite(ta).all(dim=0))


# shape helpers (lumina.tensor.reshaping) and function spellings of methods

CUBE = np.arange(24.0).reshape(2, 3, 4)


def _both(call):
    """``call(L, x)`` in torch and lumina on CUBE: equal results (tuples too), or both raise."""
    try:
        want = call(torch, torch.tensor(CUBE, requires_grad=False))
    except (RuntimeError, IndexError, ValueError, TypeError):
        with pytest.raises(lumina.LuminaError):
            got = call(lumina, lumina.tensor(CUBE))
            [g.numpy() for g in got] if isinstance(got, tuple) else got.numpy()
        return
    got = call(lumina, lumina.tensor(CUBE))
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g.numpy(), w)
    else:
        _same(got.numpy(), want)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, 3, -4])
@pytest.mark.parametrize("start,length", [(0, 1), (1, 2), (-2, 2), (-3, 1), (2, 0), (3, 1), (4, 0), (5, 0), (0, -1),
                                          (-5, 1)])
def test_narrow_matches_torch(dim, start, length):
    _both(lambda L, x: x.narrow(dim, start, length))
    _both(lambda L, x: L.narrow(x, dim, start, length))


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3, 3])
def test_unbind_matches_torch(dim):
    _both(lambda L, x: x.unbind(dim))
    _both(lambda L, x: L.unbind(x, dim))


@pytest.mark.parametrize("src,dst", [(0, 2), (-1, 0), ((0, 1), (2, 0)), ((0, 1), (1,)), ((0, 0), (1, 2)), (3, 0),
                                     ([2], [0]), ((0, 1, 2), (-1, -2, -3))])
def test_movedim_matches_torch(src, dst):
    _both(lambda L, x: x.movedim(src, dst))
    _both(lambda L, x: L.movedim(x, src, dst))


@pytest.mark.parametrize("shifts,dims", [(1, ()), (-5, None), (2, 0), (1, (1,)), ((1, 2), (0, 2)), ((1, 1), (1, 1)),
                                         ((1,), (0, 1)), (7, -1), (1, 3), (100, 1)])
def test_roll_matches_torch(shifts, dims):
    _both(lambda L, x: x.roll(shifts, dims))
    _both(lambda L, x: L.roll(x, shifts, dims))


def test_as_helpers_and_function_spellings_match_torch():
    _both(lambda L, x: x.view_as(x.reshape(4, 6)))
    _both(lambda L, x: x.view_as(x[0]))
    _both(lambda L, x: x[:, :1].expand_as(x))
    _both(lambda L, x: x.expand_as(x[0]))
    _both(lambda L, x: x.reshape_as(x.reshape(6, 4)))
    _both(lambda L, x: L.clone(x))
    _both(lambda L, x: L.detach(x))
    _both(lambda L, x: L.t(x[0]))
    _both(lambda L, x: L.t(x))
    _both(lambda L, x: L.masked_fill(x, x > 5, -1.0))


def test_shape_helper_gradients_match_torch():
    g = RNG.standard_normal((2, 3, 4))

    def run(L, x):
        parts = x.unbind(1)
        y = L.roll(x, (1, -2), (0, 2)) * L.movedim(x, 2, 0).movedim(0, 2) \
            + x.narrow(2, 1, 2).expand_as(x[..., :2]).sum()
        return (y * parts[1].unsqueeze(1) + L.clone(x).view_as(x)) * L.tensor(g)

    lx = lumina.tensor(CUBE, requires_grad=True)
    run(lumina, lx).sum().backward()
    tx = torch.tensor(CUBE, requires_grad=True)
    run(torch, tx).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_shape_helpers_under_compile():
    @lumina.compile
    def f(x):
        a, b = x.unbind(0)
        return lumina.roll(a, 1, 1) + b.narrow(1, 0, 4).movedim(0, 1).movedim(1, 0)

    tx = torch.tensor(CUBE)
    a, b = tx.unbind(0)
    _same(f(lumina.tensor(CUBE)).numpy(), torch.roll(a, 1, 1) + b.narrow(1, 0, 4))


# matrix products under torch's stricter names (lumina.tensor.linalg)

def _products(L, T, a, b, x, y, c, v, w):
    return (L.mm(T(a), T(b)), T(a).mm(T(b)), L.bmm(T(x), T(y)), T(x).bmm(T(y)), L.outer(T(v), T(w)), T(v).outer(T(w)),
            L.addmm(T(c), T(a), T(b)), L.addmm(T(c), T(a), T(b), beta=0.5, alpha=-2), T(c).addmm(T(a), T(b), alpha=3),
            L.baddbmm(T(c), T(x), T(y), beta=2, alpha=0.25), T(b[:1]).baddbmm(T(x), T(y)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_products_match_torch(dtype):
    def draw(*shape):
        return (RNG.standard_normal(shape) * 3).astype(dtype)
    args = (draw(2, 3), draw(3, 4), draw(2, 2, 3), draw(2, 3, 4), draw(4), draw(5), draw(3))
    if not np.issubdtype(dtype, np.floating):
        args = [np.asarray(a) for a in args]
    for got, want in zip(_products(lumina, lumina.tensor, *args), _products(torch, torch.tensor, *args)):
        assert got.numpy().dtype == want.numpy().dtype and got.shape == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_addmm_beta_zero_ignores_nan_input_and_outer_promotes():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    c = np.full((2, 4), np.nan)
    got = lumina.addmm(lumina.tensor(c), lumina.tensor(a), lumina.tensor(b), beta=0).numpy()
    np.testing.assert_allclose(got, torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b), beta=0).numpy())
    v, w = np.array([1, 2], np.int32), np.array([0.5, 1.5, 2.0], np.float32)
    _same(lumina.outer(lumina.tensor(v), lumina.tensor(w)).numpy(), torch.outer(torch.tensor(v), torch.tensor(w)))


@pytest.mark.parametrize("call", [
    lambda L, T: L.mm(T(np.ones((2, 3))), T(np.ones((2, 3)))),
    lambda L, T: L.mm(T(np.ones(3)), T(np.ones((3, 4)))),
    lambda L, T: L.mm(T(np.ones((2, 3), np.float32)), T(np.ones((3, 4)))),
    lambda L, T: L.mm(T(np.ones((2, 3), bool)), T(np.ones((3, 4), bool))),
    lambda L, T: L.bmm(T(np.ones((2, 2, 3))), T(np.ones((1, 3, 4)))),
    lambda L, T: L.bmm(T(np.ones((2, 3))), T(np.ones((3, 4)))),
    lambda L, T: L.outer(T(np.ones((2, 2))), T(np.ones(3))),
    lambda L, T: L.addmm(T(np.ones(3)), T(np.ones((2, 3))), T(np.ones((3, 4)))),
    lambda L, T: L.addmm(T(np.ones(4, np.float32)), T(np.ones((2, 3))), T(np.ones((3, 4)))),
    lambda L, T: L.baddbmm(T(np.ones((3, 4))), T(np.ones((2, 2, 3))), T(np.ones((2, 3, 4)))),
])
def test_product_errors_match_torch(call):
    with pytest.raises((RuntimeError, NotImplementedError)):
        call(torch, torch.tensor)
    with pytest.raises(lumina.LuminaError, match=r"mm|bmm|outer|addmm|baddbmm"):
        call(lumina, lumina.tensor)


def test_product_gradients_match_torch():
    a, b, c = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal((4,))
    x, y = RNG.standard_normal((2, 2, 3)), RNG.standard_normal((2, 3, 4))

    def run(L, T):
        ts = [T(v, requires_grad=True) for v in (a, b, c, x, y)]
        ta, tb, tc, tx, ty = ts
        out = (L.addmm(tc, ta, tb, beta=0.5, alpha=2).sum() + L.baddbmm(tc, tx, ty, beta=-1).sum()
               + (L.outer(tc, tc) ** 2).sum() + L.mm(ta, tb).pow(2).sum() + L.bmm(tx, ty).sum())
        out.backward()
        return [t.grad.numpy() for t in ts]

    for got, want in zip(run(lumina, lumina.tensor), run(torch, torch.tensor)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_products_under_compile():
    @lumina.compile
    def f(c, a, b):
        return lumina.addmm(c, a, b, alpha=0.5) + lumina.outer(c, c)[:2]

    a, b, c = (RNG.standard_normal(s).astype(np.float32) for s in ((2, 4), (4, 4), (4,)))
    want = torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b), alpha=0.5) \
        + torch.outer(torch.tensor(c), torch.tensor(c))[:2]
    np.testing.assert_allclose(f(lumina.tensor(c), lumina.tensor(a), lumina.tensor(b)).numpy(), want.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_pow_with_a_number_base_and_integer_powers():
    e = np.array([0.5, 2.0, -1.0, 3.0])
    _same(lumina.pow(2.0, lumina.tensor(e)).numpy(), torch.pow(2.0, torch.tensor(e)))
    _same(lumina.tensor(e).pow(2).numpy(), torch.tensor(e).pow(2))
    i = np.array([-3, 0, 2, 5], np.int32)
    _same(lumina.pow(lumina.tensor(i), 3).numpy(), torch.pow(torch.tensor(i), 3))
