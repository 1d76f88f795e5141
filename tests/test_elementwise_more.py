"""The further elementwise math (lumina/tensor/special_math.py, binary_math.py) against PyTorch 2.13
CPU: values within a stated number of ulps in float32 and float64 (special values, signed zeros and
domain edges exactly where torch's are NaN / inf / ±0), dtypes, gradients against torch and float64
finite differences, ``@lumina.compile``, in-place forms and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lumina
from gradcheck import check

SPECIALS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-30, -1e-7, 0.999, -0.999, 1.001, 2.0,
            -3.5, 20.0, -30.0, 88.9, 89.3, 95.0, -95.0, 300.0, 1e10, 3e38, -3e38, 1e-45, 710.0, 1e200]

# name -> (ulps allowed in float32, in float64); measured maxima are below these
UNARY = {"sinh": (4, 4), "cosh": (4, 4), "asinh": (4, 4), "acosh": (4, 4), "atanh": (4, 4), "log2": (2, 2),
         "log10": (2, 2), "exp2": (2, 2), "reciprocal": (1, 1), "sinc": (4, 4), "logit": (4, 4),
         "deg2rad": (1, 1), "rad2deg": (1, 1), "sgn": (0, 0)}

# open intervals of the smooth interior for finite differences
DOMAIN = {"acosh": (1.1, 5.0), "atanh": (-0.9, 0.9), "log2": (0.1, 5.0), "log10": (0.1, 5.0),
          "logit": (0.05, 0.95), "reciprocal": (0.2, 5.0)}


def _inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    rand = np.concatenate([rng.uniform(-5, 5, 64), rng.uniform(-1, 1, 32), 10.0 ** rng.uniform(-20, 20, 32)])
    with np.errstate(over="ignore"):      # 1e200 is inf in float32
        return np.concatenate([np.array(SPECIALS), rand]).astype(dtype)


def _assert_close_ulps(got, want, ulps, what, signed_zeros=True, floor=np.finfo(np.float64).tiny):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    assert (nan_g == nan_w).all(), f"{what}: NaN at {np.flatnonzero(nan_g != nan_w)}"
    inf = np.isinf(want) | np.isinf(got)
    assert (got[inf] == want[inf]).all(), f"{what}: infinities differ {got[inf]} vs {want[inf]}"
    zero = (want == 0) & ~nan_w
    assert (np.signbit(got[zero]) == np.signbit(want[zero])).all() or not signed_zeros, what
    assert (got[zero] == 0).all(), \
        f"{what}: zeros differ {got[zero]} vs {want[zero]}"
    ok = ~(nan_w | inf | zero)
    return _ulps_off(got[ok], want[ok], ulps, what, floor=floor)


def _ulps_off(got, want, ulps, what, eps=None, floor=np.finfo(np.float64).tiny):
    """The largest error in ulps relative to ``max(|want|, floor)``."""
    eps = eps or _ulps_off.eps
    err = np.abs(got - want) / np.maximum(np.abs(want), floor)
    worst = float(err.max() / eps) if err.size else 0.0
    assert worst <= max(ulps, 0.0) + (0 if ulps else 0), f"{what}: {worst:.2f} ulps off (allowed {ulps})"
    return worst


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_match_torch(name, dtype):
    x = _inputs(dtype)
    _ulps_off.eps = float(np.finfo(dtype).eps)
    got = getattr(lumina, name)(lumina.tensor(x)).numpy()
    if name in ("sinh", "cosh"):
        # element by element: torch's vectorised kernel overflows where e^|x| does, its scalar
        # kernel (and lumina) only where the result does
        want = np.array([getattr(torch, name)(torch.tensor([v])).item() for v in x], dtype)
    else:
        want = getattr(torch, name)(torch.tensor(x)).numpy()
    assert got.dtype == want.dtype
    _assert_close_ulps(got, want, UNARY[name][dtype == "float64"], f"{name} {dtype}")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients_match_torch_at_special_values(name):
    if name == "sgn":
        return
    x = _inputs("float64")
    lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    getattr(lumina, name)(lx).sum().backward()
    getattr(torch, name)(tx).sum().backward()
    _ulps_off.eps = 2 ** -52
    want = tx.grad.numpy()
    if name in ("sinh", "cosh"):
        want = np.array([getattr(torch, "cosh" if name == "sinh" else "sinh")(torch.tensor([v])).item() for v in x])
        want[np.isinf(x)] = tx.grad.numpy()[np.isinf(x)]
    # gradients at ±inf inputs are 0 where torch's formula gives -0.0 (atanh): zero signs not compared
    _assert_close_ulps(lx.grad.numpy(), want, 8, f"d{name}", signed_zeros=False)


@pytest.mark.parametrize("name", sorted(set(UNARY) - {"sgn"}))
def test_unary_gradients_finite_differences(name):
    lo, hi = DOMAIN.get(name, (-3.0, 3.0))
    x = np.random.default_rng(1).uniform(lo, hi, (3, 4))
    check(lambda L, F, a: getattr(L, name)(a), x)


@pytest.mark.parametrize("name", ["sinh", "cosh", "asinh", "acosh", "atanh", "log2", "exp2", "reciprocal", "sinc",
                                  "logit", "sgn"])
def test_unary_dtypes_as_torch(name):
    for dt in ("int64", "int32", "bool", "float16", "bfloat16"):
        x = np.array([0, 1, 2, 3]).astype(np.float32).astype(dt) if dt != "bfloat16" else None
        tx = torch.tensor([0.0, 1.0, 2.0, 3.0]).to(getattr(torch, dt))
        lx = lumina.tensor(x) if x is not None else lumina.tensor([0.0, 1.0, 2.0, 3.0]).to(lumina.bfloat16)
        want = getattr(torch, name)(tx)
        got = getattr(lumina, name)(lx)
        assert got.dtype.name == str(want.dtype).removeprefix("torch."), (name, dt)
        np.testing.assert_allclose(got.to(lumina.float64).numpy(), want.double().numpy(), rtol=1e-2)


def test_signbit_and_sgn():
    x = np.array([-0.0, 0.0, -1.0, 2.0, math.inf, -math.inf, math.nan], np.float32)
    np.testing.assert_array_equal(lumina.signbit(lumina.tensor(x)).numpy(), torch.signbit(torch.tensor(x)).numpy())
    i = np.array([-3, 0, 5])
    np.testing.assert_array_equal(lumina.signbit(lumina.tensor(i)).numpy(), torch.signbit(torch.tensor(i)).numpy())
    np.testing.assert_array_equal(lumina.sgn(lumina.tensor(i)).numpy(), torch.sgn(torch.tensor(i)).numpy())
    assert lumina.signbit(lumina.tensor(x)).dtype is lumina.bool


def test_logit_eps_values_and_gradient():
    p = np.array([0.0, 1.0, 0.5, 2.0, -1.0, 0.05, 0.3, math.nan, 0.95, 0.999])
    lx, tx = lumina.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    lumina.logit(lx, eps=0.1).sum().backward()
    torch.logit(tx, eps=0.1).sum().backward()
    np.testing.assert_allclose(lumina.logit(lumina.tensor(p), eps=0.1).numpy(), torch.logit(torch.tensor(p), eps=0.1)
                               .numpy(), rtol=1e-14)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_deg2rad_of_integers_is_float32_and_in_place_refused():
    got = lumina.deg2rad(lumina.tensor([1, 2]))
    assert got.dtype is lumina.float32
    np.testing.assert_allclose(got.numpy(), torch.deg2rad(torch.tensor([1, 2])).numpy(), rtol=1e-7)
    with pytest.raises(lumina.LuminaTypeError, match="deg2rad_"):
        lumina.tensor([1, 2]).deg2rad_()


def test_inplace_unary():
    x = np.array([0.3, -1.2, 2.0])
    for name in ("sinh", "cosh", "asinh", "exp2", "log2", "reciprocal", "sinc", "deg2rad"):
        lt = lumina.tensor(x)
        assert getattr(lt, name + "_")() is lt
        np.testing.assert_allclose(lt.numpy(), getattr(torch.tensor(x), name + "_")().numpy(), rtol=1e-14)
    with pytest.raises(lumina.LuminaTypeError, match="sinh_"):
        lumina.tensor([1, 2]).sinh_()


def test_inside_compile():
    x = np.random.default_rng(2).uniform(0.1, 0.9, (5,)).astype(np.float32)
    y = np.random.default_rng(3).uniform(-2, 2, (5,)).astype(np.float32)

    @lumina.compile
    def f(a, b):
        return (lumina.sinh(b) + lumina.acosh(1.0 + a) + lumina.atanh(a) + lumina.logit(a, eps=0.2) + lumina.sinc(b)
                + lumina.hypot(a, b) + lumina.logaddexp(a, b) + lumina.xlogy(a, b.abs()) + lumina.copysign(a, b)
                + lumina.lerp(a, b, 0.7) + lumina.addcdiv(a, a, b, value=0.5) + lumina.heaviside(b, a))

    def ref(L, a, b):
        return (L.sinh(b) + L.acosh(1.0 + a) + L.atanh(a) + L.logit(a, eps=0.2) + L.sinc(b) + L.hypot(a, b)
                + L.logaddexp(a, b) + L.xlogy(a, b.abs()) + L.copysign(a, b) + L.lerp(a, b, 0.7)
                + L.addcdiv(a, a, b, value=0.5) + L.heaviside(b, a))
    got = f(lumina.tensor(x), lumina.tensor(y)).numpy()
    np.testing.assert_allclose(got, ref(torch, torch.tensor(x), torch.tensor(y)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(got, ref(lumina, lumina.tensor(x), lumina.tensor(y)).numpy(), rtol=1e-6)


# ---- binary ----

BIN_SPECIALS = np.array([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -3.5, 0.3, 1e-30, 3e38, 700.0])

BINARY = {"hypot": 1, "logaddexp": 2, "logaddexp2": 2, "xlogy": 2, "copysign": 0, "float_power": 2}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_match_torch(name, dtype):
    a = BIN_SPECIALS.astype(dtype).reshape(-1, 1)
    b = np.concatenate([BIN_SPECIALS, np.random.default_rng(4).uniform(-4, 4, 8)]).astype(dtype).reshape(1, -1)
    got = getattr(lumina, name)(lumina.tensor(a), lumina.tensor(b)).numpy()
    want = getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy()
    assert got.dtype == want.dtype
    _ulps_off.eps = float(np.finfo(got.dtype).eps)
    # logaddexp near 0 (2^a + 2^b near 1) cancels in both libraries: errors relative to max(|result|, 1)
    floor = 1.0 if name.startswith("logaddexp") else np.finfo(np.float64).tiny
    _assert_close_ulps(got, want, BINARY[name], f"{name} {dtype}", floor=floor)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients(name):
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.2, 3, (3, 4)), rng.uniform(-3, 3, (4,))
    b = np.where(np.abs(b) < 0.2, 0.5, b)
    if name in ("xlogy", "float_power"):
        b = np.abs(b)
    check(lambda L, F, x, y: getattr(L, name)(x, y), a, b)


def test_binary_gradients_at_special_values_match_torch():
    for name in ("hypot", "logaddexp", "xlogy", "copysign"):
        # (torch's gradient at an infinite operand is NaN for hypot and copysign, lumina's 0: not compared)
        a = np.array([0.0, 0.0, 1.0, -2.0, 3.0, 0.0, -1.0, 1e-300])
        b = np.array([0.0, 1.0, 0.0, 2.0, -1.0, -1.0, -1.0, 0.0])
        la, lb = lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=name != "copysign")
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=name != "copysign")
        getattr(lumina, name)(la, lb).sum().backward()
        getattr(torch, name)(ta, tb).sum().backward()
        np.testing.assert_allclose(la.grad.numpy(), ta.grad.numpy(), rtol=1e-14, err_msg=name)
        if name != "copysign":
            np.testing.assert_allclose(lb.grad.numpy(), tb.grad.numpy(), rtol=1e-14, err_msg=name)


def test_binary_scalars_and_promotion():
    for fn, args in ((lambda L, t: L.xlogy(2, t), ()), (lambda L, t: L.xlogy(t, 3), ()),
                     (lambda L, t: L.copysign(t, -0.0), ()), (lambda L, t: L.float_power(t, 2), ()),
                     (lambda L, t: L.float_power(2, t), ())):
        for x in (np.array([1, 2, 0]), np.array([1.5, 0.0, -2.0], np.float32)):
            want = fn(torch, torch.tensor(x))
            got = fn(lumina, lumina.tensor(x))
            assert got.dtype.name == str(want.dtype).removeprefix("torch.")
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_heaviside():
    x = np.array([math.nan, 0.0, -0.0, 1.0, -1.0, math.inf])
    v = np.array([0.5])
    np.testing.assert_array_equal(lumina.heaviside(lumina.tensor(x), lumina.tensor(v)).numpy(),
                                  torch.heaviside(torch.tensor(x), torch.tensor(v)).numpy())
    i = np.array([3, 0, -2])
    np.testing.assert_array_equal(lumina.heaviside(lumina.tensor(i), lumina.tensor([7])).numpy(),
                                  torch.heaviside(torch.tensor(i), torch.tensor([7])).numpy())
    with pytest.raises(lumina.LuminaTypeError, match="heaviside.*same dtype"):
        lumina.heaviside(lumina.tensor([1.0]), lumina.tensor([1]))


@pytest.mark.parametrize("weight", [0.3, 0.7, -0.5, 1.0, 2.0, "tensor"])
def test_lerp_matches_torch_bitwise_and_gradients(weight):
    rng = np.random.default_rng(6)
    s, e = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4,)).astype(np.float32)
    w = rng.uniform(-1, 2, (3, 1)).astype(np.float32) if weight == "tensor" else weight
    lw = lumina.tensor(w) if weight == "tensor" else w
    tw = torch.tensor(w) if weight == "tensor" else w
    # torch's kernel fuses the multiply-add: 1 ulp apart at most
    np.testing.assert_allclose(lumina.lerp(lumina.tensor(s), lumina.tensor(e), lw).numpy(),
                               torch.lerp(torch.tensor(s), torch.tensor(e), tw).numpy(), rtol=2 ** -23, atol=2 ** -24)
    if weight == "tensor":
        check(lambda L, F, a, b, c: L.lerp(a, b, c), s, e, w)
    else:
        check(lambda L, F, a, b: L.lerp(a, b, weight), s, e)


def test_lerp_errors():
    with pytest.raises(lumina.LuminaTypeError, match="lerp"):
        lumina.lerp(lumina.tensor([1.0]), lumina.tensor([1.0], dtype=lumina.float64), 0.5)
    with pytest.raises(lumina.LuminaTypeError, match="lerp"):
        lumina.lerp(lumina.tensor([1]), lumina.tensor([1]), 0.5)


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv(op):
    rng = np.random.default_rng(7)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((3,)), rng.uniform(0.5, 2, (2, 1))
    for value in (1, 0.5, -2):
        check(lambda L, F, x, y, z: getattr(L, op)(x, y, z, value=value), a, b, c)
        lt = lumina.tensor(a)
        getattr(lt, op + "_")(lumina.tensor(b), lumina.tensor(c), value=value)
        np.testing.assert_allclose(lt.numpy(), getattr(torch.tensor(a), op + "_")(torch.tensor(b), torch.tensor(c),
                                                                                  value=value).numpy(), rtol=1e-15)
    ints = [lumina.tensor([1, 2]), lumina.tensor([3, 4]), lumina.tensor([5, 6])]
    if op == "addcmul":
        for value in (2, 0.5, -1.5):     # a float value is truncated for integers, as torch's
            np.testing.assert_array_equal(lumina.addcmul(*ints, value=value).numpy(),
                                          torch.addcmul(torch.tensor([1, 2]), torch.tensor([3, 4]),
                                                        torch.tensor([5, 6]), value=value).numpy())
    else:
        with pytest.raises(lumina.LuminaTypeError, match="addcdiv"):
            lumina.addcdiv(*ints)


def test_binary_errors():
    with pytest.raises(lumina.LuminaTypeError, match="hypot"):
        lumina.hypot(lumina.tensor([1, 2]), lumina.tensor([1, 2]))
    with pytest.raises(lumina.LuminaTypeError, match="hypot.*other"):
        lumina.hypot(lumina.tensor([1.0]), 2.0)
    with pytest.raises(lumina.LuminaTypeError, match="logaddexp"):
        lumina.logaddexp(lumina.tensor([1]), lumina.tensor([1]))
    with pytest.raises(lumina.LuminaShapeError):
        lumina.hypot(lumina.tensor([1.0, 2.0]), lumina.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(lumina.LuminaTypeError, match="float_power_"):
        lumina.tensor([1.0, 2.0]).float_power_(2)
    t = lumina.tensor([1.0, 2.0], dtype=lumina.float64)
    np.testing.assert_array_equal(t.float_power_(2).numpy(), [1.0, 4.0])


# ---- gamma family, erfinv (lumina/tensor/gamma.py) ----

GAMMA_POINTS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, 2.0, -1.0, -2.5, 0.5, 1e-30, 3e38, 1.4616321449683622,
                -0.5, 30.5, 171.6, -100.5, -6.0097]

# name -> (torch function, errors allowed, in eps of max(1, |result|), float32 / float64); polygamma(2, .)
# cancels near its negative poles (measured: 302 eps at most)
GAMMA = {"lgamma": (torch.lgamma, 4, 16), "digamma": (torch.digamma, 4, 8),
         "trigamma": (lambda t: torch.polygamma(1, t), 4, 1), "polygamma2": (lambda t: torch.polygamma(2, t), 4, 512)}
GAMMA_LUMINA = {"lgamma": lumina.lgamma, "digamma": lumina.digamma, "trigamma": lambda t: lumina.polygamma(1, t),
                "polygamma2": lambda t: lumina.polygamma(2, t)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(GAMMA))
def test_gamma_family_matches_torch(name, dtype):
    rng = np.random.default_rng(8)
    x = np.concatenate([GAMMA_POINTS, rng.uniform(-10, 10, 200), 10 ** rng.uniform(-5, 5, 100)]).astype(dtype)
    if name == "trigamma":       # torch's float32 poles come from its float32 sin(pi x): compared in float64
        x = x[~((x < 0) & (np.floor(x) == x))] if dtype == "float32" else x
    got = GAMMA_LUMINA[name](lumina.tensor(x)).numpy()
    tf, u32, u64 = GAMMA[name]
    want = tf(torch.tensor(x)).numpy()
    assert got.dtype == want.dtype
    _ulps_off.eps = float(np.finfo(dtype).eps)
    _assert_close_ulps(got, want, u32 if dtype == "float32" else u64, f"{name} {dtype}", floor=1.0)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "trigamma"])
def test_gamma_family_gradients(name):
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(0.2, 8, 6), rng.uniform(-3.9, -0.1, 6)])
    x = np.where(np.abs(x - np.round(x)) < 0.05, x + 0.1, x)
    fn = {"lgamma": lambda L, F, a: L.lgamma(a), "digamma": lambda L, F, a: L.digamma(a),
          "trigamma": lambda L, F, a: L.polygamma(1, a)}[name]
    # torch's trigamma (also digamma's gradient) is accurate to about 1e-9 relative
    check(fn, x, fd_rtol=1e-5, fd_atol=1e-7) if name == "lgamma" else _close_grads(fn, x)


def _close_grads(fn, x):
    lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fn(lumina, None, lx).sum().backward()
    fn(torch, None, tx).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    h = 1e-6
    fd = (fn(lumina, None, lumina.tensor(x + h)).numpy() - fn(lumina, None, lumina.tensor(x - h)).numpy()) / (2 * h)
    np.testing.assert_allclose(lx.grad.numpy(), fd, rtol=1e-5)


def test_gamma_special_values_and_errors():
    z = np.array([0.0, -0.0, -3.0, math.inf, -math.inf, math.nan])
    for name in ("lgamma", "digamma"):
        np.testing.assert_array_equal(getattr(lumina, name)(lumina.tensor(z)).numpy(),
                                      getattr(torch, name)(torch.tensor(z)).numpy())
    with pytest.raises(lumina.LuminaValueError, match="polygamma.*negative"):
        lumina.polygamma(-1, lumina.tensor([1.0]))
    assert lumina.lgamma(lumina.tensor([1, 2, 5])).dtype is lumina.float32
    t = lumina.tensor([0.5, 3.0])
    assert t.lgamma_() is t
    np.testing.assert_allclose(t.numpy(), torch.tensor([0.5, 3.0]).lgamma_().numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erfinv_matches_torch(dtype):
    rng = np.random.default_rng(10)
    y = np.concatenate([[math.nan, 1.0, -1.0, 0.0, -0.0, 1.5, -2.0, 0.7, -0.7, 1e-30], rng.uniform(-0.99, 0.99, 300)])
    y = y.astype(dtype)
    got = lumina.erfinv(lumina.tensor(y)).numpy()
    want = torch.erfinv(torch.tensor(y)).numpy()
    _ulps_off.eps = float(np.finfo(dtype).eps)
    _assert_close_ulps(got, want, 4, f"erfinv {dtype}")
    # the tails: both refine with Newton steps on erf, whose rounding the slope 1 / erf'(x) magnifies
    t = (1 - np.logspace(-6, -2, 40)).astype(dtype)
    got, want = lumina.erfinv(lumina.tensor(t)).numpy(), torch.erfinv(torch.tensor(t)).numpy()
    slope = np.sqrt(np.pi) / 2 * np.exp(want.astype(np.float64) ** 2)
    assert (np.abs(got - want) <= 4 * np.finfo(dtype).eps * (np.abs(want) + slope)).all()


def test_erfinv_gradient_and_compile():
    y = np.random.default_rng(11).uniform(-0.9, 0.9, (3, 4))
    check(lambda L, F, a: L.erfinv(a), y)
    e = np.array([1.0, -1.0, 0.0, 2.0])
    lx, tx = lumina.tensor(e, requires_grad=True), torch.tensor(e, requires_grad=True)
    lumina.erfinv(lx).sum().backward()
    torch.erfinv(tx).sum().backward()
    np.testing.assert_array_equal(lx.grad.numpy(), tx.grad.numpy())

    @lumina.compile
    def f(a):
        return lumina.erfinv(a) + lumina.lgamma(a + 2.0) + lumina.digamma(a + 2.0) + lumina.polygamma(1, a + 2.0)
    x = y.astype(np.float32)
    want = (torch.erfinv(torch.tensor(x)) + torch.lgamma(torch.tensor(x) + 2) + torch.digamma(torch.tensor(x) + 2)
            + torch.polygamma(1, torch.tensor(x) + 2))
    np.testing.assert_allclose(f(lumina.tensor(x)).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


# ---- lumina.special ----

def test_special_names_are_torch_specials():
    x = np.array([0.3, -1.2, 2.0, 0.5])
    for name in ("expit", "exp2", "expm1", "log1p", "sinc", "gammaln", "digamma", "psi", "entr"):
        np.testing.assert_allclose(getattr(lumina.special, name)(lumina.tensor(x)).numpy(),
                                   getattr(torch.special, name)(torch.tensor(x)).numpy(), rtol=1e-13, err_msg=name)
    p = np.array([0.2, 0.7])
    np.testing.assert_allclose(lumina.special.logit(lumina.tensor(p), eps=0.25).numpy(),
                               torch.special.logit(torch.tensor(p), eps=0.25).numpy(), rtol=1e-14)
    np.testing.assert_allclose(lumina.special.erfinv(lumina.tensor(p)).numpy(),
                               torch.special.erfinv(torch.tensor(p)).numpy(), rtol=1e-14)
    np.testing.assert_allclose(lumina.special.polygamma(1, lumina.tensor(x + 3)).numpy(),
                               torch.special.polygamma(1, torch.tensor(x + 3)).numpy(), rtol=1e-14)
    m = np.random.default_rng(12).standard_normal((2, 3))
    for name in ("softmax", "log_softmax"):
        np.testing.assert_allclose(getattr(lumina.special, name)(lumina.tensor(m), 1).numpy(),
                                   getattr(torch.special, name)(torch.tensor(m), 1).numpy(), rtol=1e-13)


def test_entr_and_xlog1py_values_gradients():
    x = np.array([math.nan, math.inf, -math.inf, 0.0, -0.0, 0.5, 2.0, -1.0, 1e-300])
    lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lumina.special.entr(lx).sum().backward()
    torch.special.entr(tx).sum().backward()
    np.testing.assert_allclose(lumina.special.entr(lumina.tensor(x)).numpy(), torch.special.entr(torch.tensor(x))
                               .numpy(), rtol=1e-15)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-15)
    a = np.array([0.0, 0.0, 1.0, 2.0, 0.0, -3.0, 1.5])
    b = np.array([-1.0, -2.0, -1.0, math.nan, 0.5, 0.25, -0.5])
    la, lb = lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    lumina.special.xlog1py(la, lb).sum().backward()
    torch.special.xlog1py(ta, tb).sum().backward()
    np.testing.assert_allclose(lumina.special.xlog1py(lumina.tensor(a), lumina.tensor(b)).numpy(),
                               torch.special.xlog1py(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-15)
    np.testing.assert_allclose(la.grad.numpy(), ta.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(lb.grad.numpy(), tb.grad.numpy(), rtol=1e-15)
    r = np.random.default_rng(13)
    check(lambda L, F, u, v: L.special.xlog1py(u, v), r.uniform(-2, 2, (3,)), r.uniform(-0.5, 2, (2, 3)))
    check(lambda L, F, u: L.special.entr(u), r.uniform(0.1, 3, (4,)))

    @lumina.compile
    def f(u, v):
        return lumina.special.entr(u) + lumina.special.xlog1py(u, v)
    u, v = r.uniform(0.1, 2, (4,)).astype(np.float32), r.uniform(0, 2, (4,)).astype(np.float32)
    np.testing.assert_allclose(f(lumina.tensor(u), lumina.tensor(v)).numpy(),
                               (torch.special.entr(torch.tensor(u)) + torch.special.xlog1py(torch.tensor(u),
                                                                                           torch.tensor(v))).numpy(),
                               rtol=1e-6)


# ---- atan / asin / acos (lumina/tensor/inverse_trig.py) ----

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["atan", "asin", "acos"])
def test_inverse_trig_matches_torch(name, dtype):
    rng = np.random.default_rng(14)
    x = np.concatenate([[math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 1.0000001, -0.99999, 1e-30, 3e38,
                         1e-45], rng.uniform(-1, 1, 300), 10 ** rng.uniform(-8, 8, 200) * rng.choice([-1, 1], 200)])
    x = x.astype(dtype)
    got, want = getattr(lumina, name)(lumina.tensor(x)).numpy(), getattr(torch, name)(torch.tensor(x)).numpy()
    _ulps_off.eps = float(np.finfo(dtype).eps)
    _assert_close_ulps(got, want, 4, f"{name} {dtype}")     # measured: 1 ulp (float32), 3 (float64)
    lx, tx = lumina.tensor(x.astype(np.float64), requires_grad=True), torch.tensor(x.astype(np.float64),
                                                                                  requires_grad=True)
    getattr(lumina, name)(lx).sum().backward()
    getattr(torch, name)(tx).sum().backward()
    _ulps_off.eps = 2 ** -52
    _assert_close_ulps(lx.grad.numpy(), tx.grad.numpy(), 4, f"d{name}", signed_zeros=False)


@pytest.mark.parametrize("name", ["atan", "asin", "acos"])
def test_inverse_trig_finite_differences_compile_inplace(name):
    x = np.random.default_rng(15).uniform(-0.9, 0.9, (3, 4))
    check(lambda L, F, a: getattr(L, name)(a), x)
    t = lumina.tensor(x)
    assert getattr(t, name + "_")() is t
    np.testing.assert_allclose(t.numpy(), getattr(torch.tensor(x), name + "_")().numpy(), rtol=1e-15)
    assert getattr(lumina, name)(lumina.tensor([0, 1])).dtype is lumina.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_atan2_matches_torch(dtype):
    s = np.array([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -3.5, 1e-30, 3e38, 0.3], dtype)
    a, b = s.reshape(-1, 1), s.reshape(1, -1)
    got, want = lumina.atan2(lumina.tensor(a), lumina.tensor(b)).numpy(), torch.atan2(torch.tensor(a),
                                                                                      torch.tensor(b)).numpy()
    _ulps_off.eps = float(np.finfo(dtype).eps)
    _assert_close_ulps(got, want, 2, f"atan2 {dtype}")       # measured: 1 ulp
    g = np.array([0.0, 1.0, -2.0, 0.5, 0.0, 3.0])
    h = np.array([0.0, 0.0, 3.0, -1.0, -1.0, -0.5])
    la, lb = lumina.tensor(g, requires_grad=True), lumina.tensor(h, requires_grad=True)
    ta, tb = torch.tensor(g, requires_grad=True), torch.tensor(h, requires_grad=True)
    lumina.atan2(la, lb).sum().backward()
    torch.atan2(ta, tb).sum().backward()
    np.testing.assert_allclose(la.grad.numpy(), ta.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(lb.grad.numpy(), tb.grad.numpy(), rtol=1e-15)
    r = np.random.default_rng(16)
    check(lambda L, F, u, v: L.atan2(u, v), r.uniform(-2, 2, (3, 1)), r.uniform(-2, 2, (4,)))
    with pytest.raises(lumina.LuminaTypeError, match="atan2"):
        lumina.atan2(lumina.tensor([1.0]), 2.0)
