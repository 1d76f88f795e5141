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
