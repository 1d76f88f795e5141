"""The clamp, shrink, gated and parametric activations of ``lumina.nn.functional`` and every
activation module of ``lumina.nn`` against PyTorch CPU: values and gradients in float64 (torch and
finite differences through ``@lumina.compile``), NaN / inf inputs, ``inplace=True`` (the input
updated, its version bumped), rrelu's training randomness, and the errors (LuminaError)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lumina
from gradcheck import check
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4, 5)) * 3
X.flat[:6] = [0.0, -0.0, 6.0, 1.0, -1.0, 0.5]       # the seams of hardtanh / relu6 / the shrinks
XS = X.copy()
XS.flat[:6] = [0.3, -0.7, 5.5, 1.2, -1.3, 0.9]        # the same away from the seams, for finite differences
SPECIALS = np.array([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, 6.0, 7.0, -25.0,
                     25.0, 1e30, -1e30])


def both(name, *args, **kw):
    """``F.name`` in lumina and torch on the same float arrays (and other arguments)."""
    lx = [lumina.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    tx = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    return getattr(lumina.nn.functional, name)(*lx, **kw).numpy(), getattr(torch.nn.functional, name)(*tx, **kw)


POINTWISE = [("relu6", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -2.0, "max_val": 0.5}), ("tanhshrink", {}),
             ("softshrink", {}), ("softshrink", {"lambd": 1.5}), ("hardshrink", {}), ("hardshrink", {"lambd": 2.0}),
             ("logsigmoid", {}), ("rrelu", {}), ("rrelu", {"lower": 0.2, "upper": 0.6})]


@pytest.mark.parametrize("name,kw", POINTWISE, ids=[f"{n}{kw}" for n, kw in POINTWISE])
def test_pointwise_activation_matches_torch(name, kw):
    check(lambda L, F, t: getattr(F, name)(t, **kw), XS)


@pytest.mark.parametrize("name", ["relu6", "hardtanh", "softshrink", "hardshrink"])
def test_gradient_at_the_seams_is_torchs(name):
    x = torch.tensor(X, requires_grad=True)
    getattr(torch.nn.functional, name)(x).sum().backward()
    lx = lumina.tensor(X, requires_grad=True)
    getattr(lumina.nn.functional, name)(lx).sum().backward()
    np.testing.assert_array_equal(lx.grad.numpy(), x.grad.numpy())


@pytest.mark.parametrize("name", ["relu6", "hardtanh", "tanhshrink", "softshrink", "hardshrink", "logsigmoid",
                                  "rrelu"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_values_match_torch(name, dtype):
    """NaN, infinities, signed zeros, huge values: values bit for bit (the transcendental ones within
    a few ulps) and gradients. The NaN gradient is compared on whole vector blocks (16 float32 / 8
    float64 elements), where torch's clamp kernels give 0; their scalar loop passes it instead."""
    s = SPECIALS.astype(dtype)
    mine, theirs = both(name, s)
    close = name in ("tanhshrink", "logsigmoid")
    np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-6 if close else 0, atol=0)
    if not close:
        np.testing.assert_array_equal(np.signbit(mine), np.signbit(theirs.numpy()))
    x = torch.tensor(s, requires_grad=True)
    getattr(torch.nn.functional, name)(x).sum().backward()
    lx = lumina.tensor(s, requires_grad=True)
    getattr(lumina.nn.functional, name)(lx).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), x.grad.numpy(), rtol=1e-6)


def test_relu6_and_hardtanh_take_integers():
    i = np.array([-3, 0, 2, 8, 7], np.int64)
    for name in ("relu6", "hardtanh"):
        mine, theirs = both(name, i)
        assert mine.dtype == np.int64
        np.testing.assert_array_equal(mine, theirs.numpy())
    mine, theirs = both("tanhshrink", i)
    assert mine.dtype == np.float32
    np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("weight", [np.array([0.25]), np.array([0.1, -0.5, 2.0, 0.0])])
def test_prelu_matches_torch(weight):
    check(lambda L, F, x, w: F.prelu(x, w), XS[:, :4], weight)
    check(lambda L, F, x, w: F.prelu(x, w), XS[0, 0], np.array([0.3]))


def test_prelu_takes_a_0d_weight_and_nan():
    x = np.array([math.nan, -2.0, 3.0])
    mine = lumina.nn.functional.prelu(lumina.tensor(x), lumina.tensor(np.array(0.5))).numpy()
    np.testing.assert_array_equal(mine, torch.nn.functional.prelu(torch.tensor(x), torch.tensor(0.5, dtype=torch.float64)).numpy())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_glu_matches_torch(dim):
    x = RNG.standard_normal((4, 6, 2))
    check(lambda L, F, t: F.glu(t, dim), x)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_softmin_matches_torch(dim):
    check(lambda L, F, t: F.softmin(t, dim), XS)
    mine = lumina.nn.functional.softmin(lumina.tensor(X.astype(np.float32)), dim, dtype=lumina.float64)
    theirs = torch.nn.functional.softmin(torch.tensor(X.astype(np.float32)), dim, dtype=torch.float64)
    assert mine.dtype == lumina.float64
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


def test_softmin_implicit_dim_warns_as_torch():
    with pytest.warns(UserWarning, match="Implicit dimension"):
        mine = lumina.nn.functional.softmin(lumina.tensor(X[0]))
    np.testing.assert_allclose(mine.numpy(), torch.nn.functional.softmin(torch.tensor(X[0]), 1), rtol=1e-12)


def test_rrelu_training_draws_slopes_in_the_bounds():
    x = -np.abs(RNG.standard_normal(4000)) - 0.1
    lx = lumina.tensor(x, requires_grad=True)
    y = lumina.nn.functional.rrelu(lx, 0.1, 0.3, training=True)
    y.sum().backward()
    slope = y.numpy() / x
    assert (slope >= 0.1).all() and (slope < 0.3).all()
    assert abs(slope.mean() - 0.2) < 0.01 and slope.std() > 0.05       # uniform on [0.1, 0.3): std 0.058
    np.testing.assert_allclose(lx.grad.numpy(), slope, rtol=1e-12)      # the gradient is the slope drawn
    pos = lumina.nn.functional.rrelu(lumina.tensor(np.abs(x)), training=True)
    np.testing.assert_array_equal(pos.numpy(), np.abs(x))


def test_rrelu_training_draws_fresh_slopes_per_compiled_call():
    f = lumina.compile(lambda x: lumina.nn.functional.rrelu(x, training=True))
    x = -np.ones(64)
    a, b = f(x).numpy(), f(x).numpy()
    assert not np.array_equal(a, b)
    assert ((-a >= 1 / 8) & (-a < 1 / 3)).all()


INPLACE = [("relu6", {}), ("hardtanh", {"min_val": -0.5, "max_val": 0.5}), ("rrelu", {}), ("elu", {}),
           ("selu", {}), ("celu", {"alpha": 2.0}), ("leaky_relu", {"negative_slope": 0.2}), ("silu", {}),
           ("mish", {}), ("hardswish", {}), ("hardsigmoid", {}), ("threshold", {"threshold": 0.1, "value": 2.0})]


@pytest.mark.parametrize("name,kw", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_updates_the_input_as_torch(name, kw):
    lx, tx = lumina.tensor(X.copy()), torch.tensor(X.copy())
    version = lx._version
    lout = getattr(lumina.nn.functional, name)(lx, inplace=True, **kw)
    tout = getattr(torch.nn.functional, name)(tx, inplace=True, **kw)
    assert lout is lx and lx._version > version
    np.testing.assert_allclose(lx.numpy(), tx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lout.numpy(), tout.numpy(), rtol=1e-12)


def test_inplace_on_a_leaf_that_requires_grad_raises_as_torch():
    with pytest.raises(lumina.LuminaError):
        lumina.nn.functional.relu6(lumina.tensor(X, requires_grad=True), inplace=True)
    with pytest.raises(RuntimeError):
        torch.nn.functional.relu6(torch.tensor(X, requires_grad=True), inplace=True)


MODULES = [("SiLU", {}), ("Mish", {}), ("Hardswish", {}), ("ReLU6", {}),
           ("LeakyReLU", {"negative_slope": 0.3}), ("ELU", {"alpha": 0.7}), ("SELU", {}), ("CELU", {"alpha": 1.5}),
           ("Softplus", {"beta": 2.0, "threshold": 3.0}), ("Softsign", {}), ("Tanhshrink", {}), ("LogSigmoid", {}),
           ("Hardtanh", {"min_val": -2.0, "max_val": 1.5}), ("Threshold", {"threshold": 0.2, "value": -3.0}),
           ("Softshrink", {"lambd": 0.6}), ("Hardshrink", {"lambd": 0.6}), ("GLU", {"dim": 1}),
           ("Softmax", {"dim": 1}), ("LogSoftmax", {"dim": -1}), ("Softmin", {"dim": 0}), ("Sigmoid", {}),
           ("Tanh", {}), ("GELU", {"approximate": "tanh"})]


@pytest.mark.parametrize("name,kw", MODULES, ids=[m[0] for m in MODULES])
def test_activation_modules_match_torch(name, kw):
    check(lambda L, F, t: getattr(L.nn, name)(**kw)(t), XS, directions=1)
    assert repr(getattr(lumina.nn, name)(**kw)) == repr(getattr(torch.nn, name)(**kw))


@pytest.mark.parametrize("name", ["ReLU6", "Hardtanh", "SiLU", "Mish", "LeakyReLU", "ELU", "SELU", "CELU",
                                  "Hardswish", "Hardsigmoid"])
def test_activation_modules_inplace(name):
    lx, tx = lumina.tensor(X.copy()), torch.tensor(X.copy())
    assert getattr(lumina.nn, name)(inplace=True)(lx) is lx
    getattr(torch.nn, name)(inplace=True)(tx)
    np.testing.assert_allclose(lx.numpy(), tx.numpy(), rtol=1e-12)
    assert repr(getattr(lumina.nn, name)(inplace=True)) == repr(getattr(torch.nn, name)(inplace=True))


def test_hardsigmoid_module_matches_torch():
    # to float32 precision: torch's float64 hardsigmoid gradient uses a float32 1/6 (off by 3e-8)
    lx, tx = lumina.tensor(XS, requires_grad=True), torch.tensor(XS, requires_grad=True)
    lumina.nn.Hardsigmoid()(lx).sum().backward()
    torch.nn.Hardsigmoid()(tx).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-7)
    assert repr(lumina.nn.Hardsigmoid(inplace=True)) == repr(torch.nn.Hardsigmoid(inplace=True))


def test_prelu_module_parameters_and_gradients_match_torch():
    lm, tm = lumina.nn.PReLU(4, init=0.1), torch.nn.PReLU(4, init=0.1).double()
    lm.double()
    np.testing.assert_array_equal(lm.weight.numpy(), tm.weight.detach().numpy())
    x = X[:, :4]
    lx, tx = lumina.tensor(x), torch.tensor(x)
    lm(lx).sum().backward()
    tm(tx).sum().backward()
    np.testing.assert_allclose(lm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-12)
    assert repr(lm) == repr(tm)


def test_rrelu_module_random_in_training_mean_slope_in_eval():
    m = lumina.nn.RReLU(0.1, 0.3)
    x = -np.ones((50, 50))
    y = m(lumina.tensor(x)).numpy()
    assert len(np.unique(y)) > 100
    m.eval()
    np.testing.assert_allclose(m(lumina.tensor(x)).numpy(), torch.nn.RReLU(0.1, 0.3).eval()(torch.tensor(x)).numpy())


def test_activations_inside_compile_match_eager():
    f = lumina.compile(lambda x: lumina.nn.functional.relu6(x) + lumina.nn.functional.softshrink(x)
                       + lumina.nn.functional.glu(x, 1).sum() + lumina.nn.functional.logsigmoid(x))
    eager = (lumina.nn.functional.relu6(lumina.tensor(X)) + lumina.nn.functional.softshrink(lumina.tensor(X))
             + lumina.nn.functional.glu(lumina.tensor(X), 1).sum() + lumina.nn.functional.logsigmoid(lumina.tensor(X)))
    np.testing.assert_allclose(f(X).numpy(), eager.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call,error", [
    (lambda F, x: F.hardtanh(x, 2.0, 1.0), LuminaValueError),
    (lambda F, x: F.softshrink(x, -1.0), LuminaValueError),
    (lambda F, x: F.rrelu(x, 0.5, 0.1), LuminaValueError),
    (lambda F, x: F.glu(x[0, 0, :3]), LuminaShapeError),
    (lambda F, x: F.glu(x[0, 0, 0]), LuminaShapeError),
    (lambda F, x: F.prelu(x, lumina.tensor(np.ones(3))), LuminaShapeError),
    (lambda F, x: F.prelu(x, lumina.tensor(np.ones((1, 1)))), LuminaShapeError),
    (lambda F, x: F.prelu(x, lumina.tensor(np.ones(4, np.float32))), LuminaTypeError),
    (lambda F, x: F.relu6(x > 0), LuminaTypeError),
    (lambda F, x: F.logsigmoid(x.to(lumina.int64)), LuminaTypeError),
    (lambda F, x: F.softmin(x.to(lumina.int64), 0), LuminaTypeError),
])
def test_bad_input_raises_lumina_errors(call, error):
    with pytest.raises(error):
        call(lumina.nn.functional, lumina.tensor(X))


def test_hardtanh_module_checks_its_bounds_and_takes_torchs_old_names():
    with pytest.raises(LuminaValueError):
        lumina.nn.Hardtanh(1.0, 1.0)
    with pytest.warns(FutureWarning):
        m = lumina.nn.Hardtanh(min_value=-3.0)
    assert m.min_val == -3.0
