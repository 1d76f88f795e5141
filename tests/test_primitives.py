"""Every primitive through the public ``lumina.Tensor`` API: forward vs NumPy, gradient vs PyTorch.

Tolerances (float32 unless stated):

* forward vs NumPy: ``rtol=1e-5, atol=1e-6``. The NumPy reference is evaluated in float64 on the
  same float32 inputs, so it is the correctly rounded answer; lumina's float32 result must be within
  a few dozen ulps of it. ``matmul`` inputs are drawn from ``[-1, 1]`` with short contractions
  (K <= 8) so float32 accumulation stays inside that budget; one larger GEMM uses ``atol=1e-5``.
* gradient vs PyTorch CPU float32: ``rtol=1e-4, atol=1e-5``. The gradient of an output ``y`` is
  taken of the scalar loss ``(y * w).sum()`` for a random weight ``w`` of ``y``'s shape, so every
  element of the output's cotangent differs.
* float64 central finite differences (``eps=1e-6``): ``rtol=1e-5``, plus ``atol=1e-7`` for the
  round-off of ``f(x + eps) - f(x - eps)`` (about ``1e-16 * |f| / eps``).
* integer and bool results: exact, including the result dtype.

Input domains keep every op away from its kinks and poles (``|x| >= 0.2`` for abs/relu/division,
``x >= 0.1`` for log/sqrt/pow bases), so the derivative is unambiguous.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lumina

FWD = dict(rtol=1e-5, atol=1e-6)
GRAD = dict(rtol=1e-4, atol=1e-5)
FD_EPS = 1e-6
FD = dict(rtol=1e-5, atol=1e-7)

_erf = np.vectorize(math.erf, otypes=[np.float64])


# ---- helpers ----------------------------------------------------------------------------------------

def _draw(domain: str, shape, rng: np.random.Generator) -> np.ndarray:
    """float32 data of ``shape`` from a named domain."""
    if domain == "real":
        x = rng.uniform(-3.0, 3.0, shape)
    elif domain == "unit":
        x = rng.uniform(-1.0, 1.0, shape)
    elif domain == "pos":
        x = rng.uniform(0.1, 3.0, shape)
    elif domain == "nonzero":  # |x| in [0.2, 3], both signs
        x = rng.uniform(0.2, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
    elif domain == "small":
        x = rng.uniform(-1.5, 1.5, shape)
    else:
        raise ValueError(domain)
    return np.asarray(x, dtype=np.float32)


def _check(lumina_fn, torch_fn, numpy_fn, arrays, seed=0, fwd=FWD, grad=True):
    """Run ``lumina_fn`` on float32 ``arrays``; compare its value with ``numpy_fn`` (float64) and the
    gradient of ``(out * w).sum()`` w.r.t. every input with PyTorch's."""
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
    xs = [lumina.tensor(a, requires_grad=grad) for a in arrays]
    out = lumina_fn(*xs)
    expected = np.asarray(numpy_fn(*[a.astype(np.float64) for a in arrays]))
    assert out.shape == expected.shape, (out.shape, expected.shape)
    assert out.dtype is lumina.float32
    if not grad:
        np.testing.assert_allclose(out.numpy(), expected, **fwd)
        return
    w = np.random.default_rng(seed + 1000).uniform(0.5, 1.5, out.shape).astype(np.float32)
    (out * lumina.tensor(w)).sum().backward()
    lumina.realize(out, *[x.grad for x in xs])
    np.testing.assert_allclose(out.numpy(), expected, **fwd)

    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = torch_fn(*ts)
    (tout * torch.tensor(w)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.shape == x.shape, (i, x.grad.shape, x.shape)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), err_msg=f"grad of input {i}", **GRAD)


def _same(fn):
    """The same callable works on lumina and torch tensors (identical method names)."""
    return fn, fn


# ---- unary ----------------------------------------------------------------------------------------

def _np_gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


# (id, lumina_fn, torch_fn, numpy_fn, domain)
UNARY = [
    ("neg_op", *_same(lambda x: -x), np.negative, "real"),
    ("neg", *_same(lambda x: x.neg()), np.negative, "real"),
    ("exp", *_same(lambda x: x.exp()), np.exp, "real"),
    ("log", *_same(lambda x: x.log()), np.log, "pos"),
    ("sqrt", *_same(lambda x: x.sqrt()), np.sqrt, "pos"),
    ("sin", *_same(lambda x: x.sin()), np.sin, "real"),
    ("cos", *_same(lambda x: x.cos()), np.cos, "real"),
    ("tanh", *_same(lambda x: x.tanh()), np.tanh, "real"),
    ("abs", *_same(lambda x: x.abs()), np.abs, "nonzero"),
    ("abs_op", *_same(lambda x: abs(x)), np.abs, "nonzero"),
    ("erf", *_same(lambda x: x.erf()), _erf, "real"),
    ("sigmoid", *_same(lambda x: x.sigmoid()), lambda x: 1.0 / (1.0 + np.exp(-x)), "real"),
    ("relu", *_same(lambda x: x.relu()), lambda x: np.maximum(x, 0.0), "nonzero"),
    ("gelu", lambda x: x.gelu(), F.gelu, _np_gelu, "real"),
    ("gelu_none", lambda x: x.gelu(approximate="none"), lambda x: F.gelu(x, approximate="none"),
     _np_gelu, "real"),
    ("gelu_tanh", lambda x: x.gelu(approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"),
     _np_gelu_tanh, "real"),
    # The module-level spellings.
    ("lumina.exp", lumina.exp, torch.exp, np.exp, "real"),
    ("lumina.log", lumina.log, torch.log, np.log, "pos"),
    ("lumina.sqrt", lumina.sqrt, torch.sqrt, np.sqrt, "pos"),
    ("lumina.tanh", lumina.tanh, torch.tanh, np.tanh, "real"),
    ("lumina.sigmoid", lumina.sigmoid, torch.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)), "real"),
    ("lumina.relu", lumina.relu, torch.relu, lambda x: np.maximum(x, 0.0), "nonzero"),
    ("lumina.gelu", lumina.gelu, F.gelu, _np_gelu, "real"),
    ("lumina.abs", lumina.abs, torch.abs, np.abs, "nonzero"),
    ("lumina.neg", lumina.neg, torch.neg, np.negative, "real"),
    ("lumina.erf", lumina.erf, torch.erf, _erf, "real"),
    ("lumina.sin", lumina.sin, torch.sin, np.sin, "real"),
    ("lumina.cos", lumina.cos, torch.cos, np.cos, "real"),
]


@pytest.mark.parametrize("lfn, tfn, nfn, domain", [u[1:] for u in UNARY], ids=[u[0] for u in UNARY])
def test_unary(lfn, tfn, nfn, domain):
    rng = np.random.default_rng(0)
    _check(lfn, tfn, nfn, [_draw(domain, (3, 5), rng)])


@pytest.mark.parametrize("shape", [(), (1,), (7,), (2, 3, 4)], ids=str)
def test_unary_shapes(shape):
    """Rank 0 through 3, through a chain of unaries (one fused kernel)."""
    rng = np.random.default_rng(1)
    f = lambda x: (x.sin() * x.exp()).tanh() + x.abs().sqrt()  # noqa: E731
    _check(f, f, lambda x: np.tanh(np.sin(x) * np.exp(x)) + np.sqrt(np.abs(x)),
           [_draw("nonzero", shape, rng)])


def test_relu_gradient_at_zero_is_zero():
    """PyTorch's subgradient: relu'(0) = 0."""
    a = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    _check(lambda x: x.relu(), torch.relu, lambda x: np.maximum(x, 0.0), [a])


def test_abs_gradient_at_zero_is_zero():
    a = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    _check(lambda x: x.abs(), torch.abs, np.abs, [a])


def test_exp_log_extremes():
    """exp overflows to inf and underflows to 0; log(0) = -inf; sqrt of a negative is NaN."""
    a = np.array([-200.0, 0.0, 100.0], dtype=np.float32)
    with np.errstate(over="ignore"):
        expected = np.exp(a)
    np.testing.assert_array_equal(lumina.tensor(a).exp().numpy(), expected)
    z = lumina.tensor(np.array([0.0, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(z.log().numpy(), np.array([-np.inf, 0.0], np.float32))
    assert np.isnan(lumina.tensor([-1.0]).sqrt().numpy()[0])


def test_erf_tails_are_exactly_one_and_agree_with_torch():
    """From |x| = 4 on, float32 erf is exactly +-1 (the erfc tail is clamped there for speed, see
    ``codegen.legalize.ERFC_CLAMP``); the whole range agrees with torch to a few ulp."""
    x = np.concatenate([np.linspace(-30, 30, 600_001, dtype=np.float32),
                        np.array([1e30, -1e30, np.inf, -np.inf], np.float32)])
    got = lumina.tensor(x).erf().numpy()
    want = torch.erf(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=5e-7, atol=3e-8)   # a few ulp, as the other primitives
    tail = np.abs(x) >= 4
    np.testing.assert_array_equal(got[tail], np.sign(x[tail]))


def test_sigmoid_saturates_without_nan():
    a = np.array([-100.0, -20.0, 0.0, 20.0, 100.0], dtype=np.float32)
    _check(lambda x: x.sigmoid(), torch.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)), [a])


# ---- binary ---------------------------------------------------------------------------------------

# (id, lumina_fn, torch_fn, numpy_fn, domains)
BINARY = [
    ("add", *_same(lambda a, b: a + b), np.add, ("real", "real")),
    ("sub", *_same(lambda a, b: a - b), np.subtract, ("real", "real")),
    ("mul", *_same(lambda a, b: a * b), np.multiply, ("real", "real")),
    ("div", *_same(lambda a, b: a / b), np.divide, ("real", "nonzero")),
    ("pow", *_same(lambda a, b: a ** b), np.power, ("pos", "small")),
    ("maximum", lumina.maximum, torch.maximum, np.maximum, ("real", "real")),
    ("minimum", lumina.minimum, torch.minimum, np.minimum, ("real", "real")),
    ("maximum_scalar", lambda a, b: lumina.maximum(a, 0.5) * b,
     lambda a, b: torch.maximum(a, torch.tensor(0.5)) * b, lambda a, b: np.maximum(a, 0.5) * b,
     ("real", "real")),
    ("minimum_scalar", lambda a, b: lumina.minimum(a, -0.5) + b,
     lambda a, b: torch.minimum(a, torch.tensor(-0.5)) + b, lambda a, b: np.minimum(a, -0.5) + b,
     ("real", "real")),
    ("mixed_expression", *_same(lambda a, b: (a * b - a / b) ** 2 + b),
     lambda a, b: (a * b - a / b) ** 2 + b, ("real", "nonzero")),
]

# Tensor (op) Python scalar, both orders: (id, fn, numpy_fn, domain).
SCALAR = [
    ("x+2.5", lambda x: x + 2.5, lambda x: x + 2.5, "real"),
    ("2.5+x", lambda x: 2.5 + x, lambda x: 2.5 + x, "real"),
    ("x-1.5", lambda x: x - 1.5, lambda x: x - 1.5, "real"),
    ("3-x", lambda x: 3.0 - x, lambda x: 3.0 - x, "real"),
    ("2*x", lambda x: 2.0 * x, lambda x: 2.0 * x, "real"),
    ("x*-3", lambda x: x * -3.0, lambda x: x * -3.0, "real"),
    ("x/4", lambda x: x / 4.0, lambda x: x / 4.0, "real"),
    ("3/x", lambda x: 3.0 / x, lambda x: 3.0 / x, "nonzero"),
    ("x+int", lambda x: x + 2, lambda x: x + 2, "real"),
    ("int*x", lambda x: 3 * x, lambda x: 3 * x, "real"),
    ("x**2", lambda x: x ** 2, lambda x: x ** 2, "real"),
    ("x**3.0", lambda x: x ** 3.0, lambda x: x ** 3.0, "real"),
    ("x**0.5", lambda x: x ** 0.5, np.sqrt, "pos"),
    ("x**-1.5", lambda x: x ** -1.5, lambda x: x ** -1.5, "pos"),
    ("x**0", lambda x: x ** 0.0, lambda x: x ** 0.0, "real"),
    ("2**x", lambda x: 2.0 ** x, lambda x: 2.0 ** x, "real"),
]


@pytest.mark.parametrize("lfn, tfn, nfn, domains", [b[1:] for b in BINARY], ids=[b[0] for b in BINARY])
def test_binary(lfn, tfn, nfn, domains):
    rng = np.random.default_rng(2)
    _check(lfn, tfn, nfn, [_draw(d, (4, 3), rng) for d in domains])


@pytest.mark.parametrize("fn, nfn, domain", [s[1:] for s in SCALAR], ids=[s[0] for s in SCALAR])
def test_binary_with_python_scalar(fn, nfn, domain):
    rng = np.random.default_rng(3)
    _check(fn, fn, nfn, [_draw(domain, (2, 5), rng)])


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_gradient(op):
    """Where a == b, torch.maximum/minimum give each operand half of the gradient."""
    a = np.array([1.0, 2.0, -3.0, 0.5, 4.0], dtype=np.float32)
    b = np.array([1.0, 1.0, -3.0, 0.7, 4.0], dtype=np.float32)
    _check(getattr(lumina, op), getattr(torch, op), getattr(np, op), [a, b])


def test_maximum_propagates_nan():
    a = lumina.tensor(np.array([np.nan, 1.0, 2.0], dtype=np.float32))
    b = lumina.tensor(np.array([0.0, np.nan, 1.0], dtype=np.float32))
    expected = np.maximum(np.array([np.nan, 1.0, 2.0], np.float32), np.array([0.0, np.nan, 1.0], np.float32))
    np.testing.assert_array_equal(lumina.maximum(a, b).numpy(), expected)
    np.testing.assert_array_equal(lumina.minimum(a, b).numpy(),
                                  np.minimum(np.array([np.nan, 1.0, 2.0], np.float32),
                                             np.array([0.0, np.nan, 1.0], np.float32)))


def test_pow_gradient_at_zero_base():
    """d/dy x**y at x == 0 (y > 0) is 0 in PyTorch, not NaN (0 * log 0)."""
    a = np.array([0.0, 1.5, 2.0], dtype=np.float32)
    b = np.array([2.0, 0.5, 1.5], dtype=np.float32)
    _check(lambda x, y: x ** y, lambda x, y: x ** y, np.power, [a, b])


# ---- comparisons and logical ops --------------------------------------------------------------------

COMPARE = [
    ("lt", lambda a, b: a < b, np.less),
    ("le", lambda a, b: a <= b, np.less_equal),
    ("gt", lambda a, b: a > b, np.greater),
    ("ge", lambda a, b: a >= b, np.greater_equal),
    ("eq", lambda a, b: a == b, np.equal),
    ("ne", lambda a, b: a != b, np.not_equal),
]


def _small_ints_as(dtype, shape, seed):
    """Values in {-2..2}, so equal pairs are common."""
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("fn, nfn", [c[1:] for c in COMPARE], ids=[c[0] for c in COMPARE])
def test_comparisons(fn, nfn, dtype):
    a, b = _small_ints_as(dtype, (3, 4), 4), _small_ints_as(dtype, (3, 4), 5)
    out = fn(lumina.tensor(a), lumina.tensor(b))
    assert out.dtype is lumina.bool
    np.testing.assert_array_equal(out.numpy(), nfn(a, b))
    # Against a Python scalar, on either side.
    np.testing.assert_array_equal(fn(lumina.tensor(a), 1).numpy(), nfn(a, 1))
    np.testing.assert_array_equal(fn(0, lumina.tensor(a)).numpy(), nfn(0, a))


def test_comparison_does_not_block_gradient_of_operands():
    """A mask built from x is piecewise constant; the gradient flows only through the float path."""
    a = np.array([-1.0, 0.5, 2.0, -0.3], dtype=np.float32)
    f = lambda x: x * (x > 0).float() + x.exp() * (x <= 0).float()  # noqa: E731
    _check(f, f, lambda x: np.where(x > 0, x, np.exp(x)), [a])


def test_logical_ops_on_bool():
    rng = np.random.default_rng(6)
    a, b = rng.random((4, 5)) < 0.5, rng.random((4, 5)) < 0.5
    la, lb = lumina.tensor(a), lumina.tensor(b)
    assert la.dtype is lumina.bool
    for got, want in [(la & lb, a & b), (la | lb, a | b), (~la, ~a), (~(la & ~lb), ~(a & ~b)),
                      (la == lb, a == b), (la != lb, a != b)]:
        assert got.dtype is lumina.bool
        np.testing.assert_array_equal(got.numpy(), want)


# ---- where ----------------------------------------------------------------------------------------

def test_where_tensor_operands():
    rng = np.random.default_rng(7)
    c = rng.random((3, 4)) < 0.5
    a, b = _draw("real", (3, 4), rng), _draw("real", (3, 4), rng)
    _check(lambda x, y: lumina.where(lumina.tensor(c), x, y),
           lambda x, y: torch.where(torch.tensor(c), x, y),
           lambda x, y: np.where(c, x, y), [a, b])


def test_where_condition_from_comparison():
    rng = np.random.default_rng(8)
    a, b = _draw("real", (5, 3), rng), _draw("real", (5, 3), rng)
    f = lambda x, y: lumina.where(x > y, x * y, x - y)  # noqa: E731
    g = lambda x, y: torch.where(x > y, x * y, x - y)  # noqa: E731
    _check(f, g, lambda x, y: np.where(x > y, x * y, x - y), [a, b])


@pytest.mark.parametrize("scalar_side", ["x", "y"])
def test_where_with_scalar_branch(scalar_side):
    rng = np.random.default_rng(9)
    c = rng.random((6,)) < 0.5
    a = _draw("real", (6,), rng)
    if scalar_side == "x":
        lf = lambda x: lumina.where(lumina.tensor(c), 2.5, x)  # noqa: E731
        tf = lambda x: torch.where(torch.tensor(c), 2.5, x)  # noqa: E731
        nf = lambda x: np.where(c, 2.5, x)  # noqa: E731
    else:
        lf = lambda x: lumina.where(lumina.tensor(c), x, -1.0)  # noqa: E731
        tf = lambda x: torch.where(torch.tensor(c), x, -1.0)  # noqa: E731
        nf = lambda x: np.where(c, x, -1.0)  # noqa: E731
    _check(lf, tf, nf, [a])


def test_where_int_operands():
    c = np.array([True, False, True])
    a, b = np.array([1, 2, 3], np.int32), np.array([10, 20, 30], np.int32)
    out = lumina.where(lumina.tensor(c), lumina.tensor(a), lumina.tensor(b))
    assert out.dtype is lumina.int32
    np.testing.assert_array_equal(out.numpy(), np.where(c, a, b))


# ---- cast -----------------------------------------------------------------------------------------

CASTS = [
    # (id, source numpy dtype, lumina conversion, target numpy dtype)
    ("f32.double", np.float32, lambda x: x.double(), np.float64),
    ("f32.to(float64)", np.float32, lambda x: x.to(lumina.float64), np.float64),
    ("f32.to(np.float64)", np.float32, lambda x: x.to(np.float64), np.float64),
    ("f32.to('float64')", np.float32, lambda x: x.to("float64"), np.float64),
    ("f32.long", np.float32, lambda x: x.long(), np.int64),
    ("f32.int", np.float32, lambda x: x.int(), np.int32),
    ("f32.bool", np.float32, lambda x: x.bool(), np.bool_),
    ("f32.float", np.float32, lambda x: x.float(), np.float32),
    ("f64.float", np.float64, lambda x: x.float(), np.float32),
    ("f64.long", np.float64, lambda x: x.long(), np.int64),
    ("i64.float", np.int64, lambda x: x.float(), np.float32),
    ("i64.int", np.int64, lambda x: x.int(), np.int32),
    ("i32.long", np.int32, lambda x: x.long(), np.int64),
    ("i32.double", np.int32, lambda x: x.double(), np.float64),
    ("i64.bool", np.int64, lambda x: x.bool(), np.bool_),
    ("bool.float", np.bool_, lambda x: x.float(), np.float32),
    ("bool.long", np.bool_, lambda x: x.long(), np.int64),
    ("bool.type(int32)", np.bool_, lambda x: x.type(lumina.int32), np.int32),
    ("f32.astype(int64)", np.float32, lambda x: x.astype(lumina.int64), np.int64),
]


@pytest.mark.parametrize("src, conv, dst", [c[1:] for c in CASTS], ids=[c[0] for c in CASTS])
def test_cast_forward(src, conv, dst):
    """Float -> int truncates toward zero (as NumPy's astype and PyTorch); nonzero -> True."""
    base = np.array([[-2.75, -1.5, -0.5, 0.0], [0.25, 1.0, 2.5, 7.9]])
    a = (base != 0) if src is np.bool_ else base.astype(src)
    out = conv(lumina.tensor(a))
    assert out.dtype.numpy == np.dtype(dst)
    got = out.numpy()
    assert got.dtype == np.dtype(dst)
    np.testing.assert_array_equal(got, a.astype(dst))


def test_cast_gradient_through_float64_and_back():
    rng = np.random.default_rng(10)
    a = _draw("real", (3, 4), rng)
    lf = lambda x: (x.double() * x.to(lumina.float64).sin()).float()  # noqa: E731
    tf = lambda x: (x.double() * x.double().sin()).float()  # noqa: E731
    _check(lf, tf, lambda x: x * np.sin(x), [a])


def test_cast_float64_output_gradient():
    """A float64 output of a float32 leaf: the leaf's grad is float32 (PyTorch keeps the leaf dtype)."""
    a = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    x = lumina.tensor(a, requires_grad=True)
    y = (x.double() ** 3.0).sum()
    assert y.dtype is lumina.float64
    y.backward()
    assert x.grad.dtype is lumina.float32
    t = torch.tensor(a, requires_grad=True)
    (t.double() ** 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **GRAD)


def test_cast_to_int_cuts_gradient():
    x = lumina.tensor([1.5, 2.5], requires_grad=True)
    assert not x.long().requires_grad
    assert not x.bool().requires_grad
    assert x.double().requires_grad
    # The int path contributes nothing; only the float path carries gradient.
    y = (x * 3.0 + x.long().float()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0], **GRAD)


# ---- reductions -----------------------------------------------------------------------------------

DIMS = [None, 0, 1, -1, 2, (0, 2), (-1, 0), (0, 1, 2)]


def _torch_reduce(name, dim, keepdim):
    if name in ("max", "min"):
        fn = torch.amax if name == "max" else torch.amin
        return lambda t: fn(t, dim=() if dim is None else dim, keepdim=keepdim)
    if dim is None:
        return lambda t: getattr(t, name)(dim=tuple(range(t.ndim)), keepdim=keepdim)
    return lambda t: getattr(t, name)(dim=dim, keepdim=keepdim)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reduction(name, dim, keepdim):
    rng = np.random.default_rng(11)
    a = _draw("real", (2, 3, 4), rng)  # continuous values: no ties in max/min
    nfn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[name]
    method = "a" + name if name in ("max", "min") else name   # torch.amax / amin take tuples
    _check(lambda x: getattr(x, method)(dim, keepdim=keepdim), _torch_reduce(name, dim, keepdim),
           lambda x: nfn(x, axis=dim, keepdims=keepdim), [a])


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reduction_module_functions_and_positional_dim(name):
    rng = np.random.default_rng(12)
    a = _draw("real", (3, 5), rng)
    nfn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[name]
    values = getattr(lumina, name)(lumina.tensor(a), 1)
    kept = getattr(lumina.tensor(a), name)(0, True)
    if name in ("max", "min"):      # torch.max(x, dim) is a (values, indices) named tuple
        assert type(values).__name__ == name and values._fields == ("values", "indices")
        values, kept = values.values, kept.values
    np.testing.assert_allclose(values.numpy(), nfn(a, axis=1), **FWD)
    np.testing.assert_allclose(kept.numpy(), nfn(a, axis=0, keepdims=True), **FWD)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_share_gradient(name):
    """Like torch.amax/amin, tied extrema share the gradient evenly."""
    a = np.array([[3.0, 1.0, 3.0, 3.0], [-2.0, -2.0, 0.0, 5.0]], dtype=np.float32)
    for dim in (None, 1, 0):
        _check(lambda x: getattr(x, "a" + name)(dim), _torch_reduce(name, dim, False),
               lambda x: getattr(np, name)(x, axis=dim), [a])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_reduction_propagate_nan(name):
    """torch.amax/amin and np.max/min return NaN for a row holding a NaN, wherever it sits."""
    a = np.array([[np.nan, 1.0, 2.0], [1.0, np.nan, 0.0], [3.0, 1.0, np.nan], [1.0, 2.0, 3.0]],
                 dtype=np.float32)
    x = lumina.tensor(a)
    np.testing.assert_array_equal(getattr(x, "a" + name)(1).numpy(), getattr(np, name)(a, axis=1))
    np.testing.assert_array_equal(getattr(x, "a" + name)(1).numpy(),
                                  getattr(torch, "a" + name)(torch.tensor(a), 1).numpy())
    values, indices = getattr(x, name)(1)
    want = getattr(torch.tensor(a), name)(1)
    np.testing.assert_array_equal(values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), want.indices.numpy())
    assert np.isnan(getattr(x, name)().item())


def test_reduction_of_large_axis():
    """Long reductions (split into a tree by the compiler) still add up."""
    rng = np.random.default_rng(13)
    a = _draw("unit", (3, 5000), rng)
    _check(lambda x: x.sum(1), lambda t: t.sum(1), lambda x: x.sum(1), [a],
           fwd=dict(rtol=1e-5, atol=1e-4))
    _check(lambda x: x.max(), lambda t: t.amax(), np.max, [a])


def test_reduction_of_0d_tensor():
    x = lumina.tensor(np.float32(2.5), requires_grad=True)
    assert x.shape == ()
    y = x.sum() * 2.0 + x.max() + x.mean()
    y.backward()
    lumina.realize(y, x.grad)
    assert y.item() == pytest.approx(2.5 * 4)
    assert x.grad.item() == pytest.approx(4.0)


# ---- argmax / argmin ------------------------------------------------------------------------------

@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, dim, keepdim):
    """First index of the extremum (ties are common here), int64, like NumPy and PyTorch."""
    a = _small_ints_as(np.float32, (4, 6), 14)
    out = getattr(lumina.tensor(a), name)(dim, keepdim=keepdim)
    expected = getattr(np, name)(a, axis=dim, keepdims=keepdim)
    assert out.dtype is lumina.int64
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    assert tuple(getattr(torch.tensor(a), name)(dim=dim, keepdim=keepdim).shape) == out.shape


def test_argmax_of_int_tensor_and_module_function():
    a = np.array([[3, 9, 9], [-1, -5, 4]], dtype=np.int32)
    np.testing.assert_array_equal(lumina.argmax(lumina.tensor(a), 1).numpy(), np.argmax(a, 1))
    np.testing.assert_array_equal(lumina.argmin(lumina.tensor(a)).numpy(), np.argmin(a))


# ---- movement -------------------------------------------------------------------------------------

# (id, input shape, fn (same on lumina and torch), numpy_fn)
MOVEMENT = [
    ("reshape", (2, 3, 4), lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4)),
    ("reshape_tuple", (2, 3, 4), lambda x: x.reshape((4, 6)), lambda x: x.reshape((4, 6))),
    ("reshape_-1", (2, 3, 4), lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    ("reshape_2,-1", (2, 3, 4), lambda x: x.reshape(2, -1), lambda x: x.reshape(2, -1)),
    ("reshape_to_0d", (1, 1), lambda x: x.reshape(()), lambda x: x.reshape(())),
    ("reshape_from_0d", (), lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1)),
    ("view", (2, 3, 4), lambda x: x.view(3, 8), lambda x: x.reshape(3, 8)),
    ("view_-1", (2, 3, 4), lambda x: x.view(-1, 2), lambda x: x.reshape(-1, 2)),
    ("permute", (2, 3, 4), lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1)),
    ("permute_tuple", (2, 3, 4), lambda x: x.permute((1, 2, 0)), lambda x: x.transpose(1, 2, 0)),
    ("permute_neg", (2, 3, 4), lambda x: x.permute(-1, 0, -2), lambda x: x.transpose(2, 0, 1)),
    ("transpose", (2, 3, 4), lambda x: x.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2)),
    ("transpose_neg", (2, 3, 4), lambda x: x.transpose(-1, -2), lambda x: np.swapaxes(x, -1, -2)),
    ("T", (3, 5), lambda x: x.T, lambda x: x.T),
    ("T_then_reshape", (3, 4), lambda x: x.T.reshape(2, 6), lambda x: x.T.reshape(2, 6)),
    ("expand", (3, 1), lambda x: x.expand(3, 4), lambda x: np.broadcast_to(x, (3, 4))),
    ("expand_lead", (3, 1), lambda x: x.expand(2, 3, 5), lambda x: np.broadcast_to(x, (2, 3, 5))),
    ("expand_-1", (1, 4), lambda x: x.expand(3, -1), lambda x: np.broadcast_to(x, (3, 4))),
    ("expand_0d", (), lambda x: x.expand(2, 3), lambda x: np.broadcast_to(x, (2, 3))),
    ("unsqueeze_0", (3, 4), lambda x: x.unsqueeze(0), lambda x: np.expand_dims(x, 0)),
    ("unsqueeze_1", (3, 4), lambda x: x.unsqueeze(1), lambda x: np.expand_dims(x, 1)),
    ("unsqueeze_-1", (3, 4), lambda x: x.unsqueeze(-1), lambda x: np.expand_dims(x, -1)),
    ("unsqueeze_-2", (3, 4), lambda x: x.unsqueeze(-2), lambda x: np.expand_dims(x, -2)),
    ("squeeze", (1, 3, 1, 4), lambda x: x.squeeze(), lambda x: x.squeeze()),
    ("squeeze_0", (1, 3, 1, 4), lambda x: x.squeeze(0), lambda x: x.squeeze(0)),
    ("squeeze_-2", (1, 3, 1, 4), lambda x: x.squeeze(-2), lambda x: x.squeeze(-2)),
    ("squeeze_not_1", (1, 3, 1, 4), lambda x: x.squeeze(1), lambda x: x),
    ("flatten", (2, 3, 4), lambda x: x.flatten(), lambda x: x.reshape(-1)),
    ("flatten_1", (2, 3, 4), lambda x: x.flatten(1), lambda x: x.reshape(2, 12)),
    ("flatten_0_1", (2, 3, 4), lambda x: x.flatten(0, 1), lambda x: x.reshape(6, 4)),
    ("flatten_-2_-1", (2, 3, 4, 5), lambda x: x.flatten(-3, -2), lambda x: x.reshape(2, 12, 5)),
    ("flatten_0d", (), lambda x: x.flatten(), lambda x: x.reshape(1)),
    ("chain", (2, 3, 4), lambda x: x.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(0)[:, 1:7:2],
     lambda x: x.transpose(1, 0, 2).reshape(3, 8).T[None][:, 1:7:2]),
]


@pytest.mark.parametrize("shape, fn, nfn", [m[1:] for m in MOVEMENT], ids=[m[0] for m in MOVEMENT])
def test_movement(shape, fn, nfn):
    rng = np.random.default_rng(15)
    _check(fn, fn, nfn, [_draw("real", shape, rng)])


@pytest.mark.parametrize("name", ["reshape", "permute", "transpose", "squeeze", "unsqueeze", "flatten"])
def test_movement_module_functions(name):
    a = np.arange(24, dtype=np.float32).reshape(2, 1, 12)
    args = {"reshape": ((4, 6),), "permute": ((2, 0, 1),), "transpose": (0, 2), "squeeze": (1,),
            "unsqueeze": (0,), "flatten": ()}[name]
    np.testing.assert_array_equal(getattr(lumina, name)(lumina.tensor(a), *args).numpy(),
                                  getattr(torch, name)(torch.tensor(a), *args).numpy())


# ---- __getitem__ ----------------------------------------------------------------------------------

S = np.s_
GETITEM = [
    S[1], S[-1], S[0, 2], S[-2, -1, -3], S[1:3], S[::2], S[1::3], S[:, ::2], S[:, 1:5:2],
    S[-3:-1], S[:, -4:], S[2:100], S[:, 1], S[:, -2], S[..., 1], S[..., -1, :], S[1, ...],
    S[None], S[:, None], S[..., None], S[None, 1, None, ::3], S[1, ..., None], S[:, None, 1:4:2],
    S[..., 1:3, ::4], S[3:1], S[0, 0, 0], S[-1, ..., -1],
]


@pytest.mark.parametrize("key", GETITEM, ids=repr)
def test_getitem(key):
    rng = np.random.default_rng(16)
    a = _draw("real", (4, 5, 6), rng)
    _check(lambda x: x[key], lambda t: t[key], lambda x: x[key], [a])


def test_getitem_then_arith_twice_from_same_source():
    """Two slices of one tensor combined: both slice gradients land in the same input."""
    rng = np.random.default_rng(17)
    a = _draw("real", (6, 4), rng)
    f = lambda x: x[1:5] * x[:4] + x[::2].sum(0)  # noqa: E731
    _check(f, f, lambda x: x[1:5] * x[:4] + x[::2].sum(0), [a])


def test_getitem_out_of_range_raises():
    x = lumina.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(lumina.LuminaError):
        x[2]
    with pytest.raises(lumina.LuminaError):
        x[0, -4]
    with pytest.raises(lumina.LuminaError):
        x[0, 0, 0]


# ---- cat / stack ----------------------------------------------------------------------------------

CAT = [
    # (id, shapes, dim)
    ("dim0", [(2, 3), (4, 3)], 0),
    ("dim1", [(2, 3), (2, 1), (2, 5)], 1),
    ("dim-1", [(2, 3, 1), (2, 3, 2)], -1),
    ("mid", [(2, 1, 4), (2, 3, 4), (2, 2, 4)], 1),
    ("one", [(3, 2)], 0),
    ("1d", [(3,), (5,)], 0),
]


@pytest.mark.parametrize("shapes, dim", [c[1:] for c in CAT], ids=[c[0] for c in CAT])
def test_cat(shapes, dim):
    rng = np.random.default_rng(18)
    arrays = [_draw("real", s, rng) for s in shapes]
    _check(lambda *xs: lumina.cat(list(xs), dim), lambda *ts: torch.cat(list(ts), dim),
           lambda *xs: np.concatenate(xs, axis=dim), arrays)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(dim):
    rng = np.random.default_rng(19)
    arrays = [_draw("real", (3, 4), rng) for _ in range(3)]
    _check(lambda *xs: lumina.stack(xs, dim), lambda *ts: torch.stack(ts, dim),
           lambda *xs: np.stack(xs, axis=dim), arrays)


def test_cat_promotes_dtypes():
    a = np.array([1, 2], np.int64)
    b = np.array([0.5], np.float32)
    out = lumina.cat([lumina.tensor(a), lumina.tensor(b)])
    assert out.dtype is lumina.float32
    np.testing.assert_array_equal(out.numpy(), torch.cat([torch.tensor(a), torch.tensor(b)]).numpy())


def test_cat_same_tensor_twice():
    rng = np.random.default_rng(20)
    a = _draw("real", (2, 3), rng)
    _check(lambda x: lumina.cat([x, x * 2.0, x], 1), lambda t: torch.cat([t, t * 2.0, t], 1),
           lambda x: np.concatenate([x, x * 2.0, x], axis=1), [a])


# ---- matmul ---------------------------------------------------------------------------------------

MATMUL = [
    # (id, lhs shape, rhs shape)
    ("vec@vec", (7,), (7,)),
    ("mat@mat", (3, 5), (5, 4)),
    ("mat@mat_1", (1, 8), (8, 1)),
    ("vec@mat", (5,), (5, 3)),
    ("mat@vec", (4, 6), (6,)),
    ("batched", (2, 3, 5), (2, 5, 4)),
    ("batch_bcast_lhs", (3, 5), (2, 5, 4)),
    ("batch_bcast_rhs", (2, 3, 5), (5, 4)),
    ("batch_bcast_both", (2, 1, 3, 4), (5, 4, 6)),
    ("batch_bcast_ones", (1, 3, 2, 4), (2, 1, 4, 3)),
    ("vec@batched", (4,), (3, 4, 2)),
    ("batched@vec", (2, 3, 4), (4,)),
]


@pytest.mark.parametrize("sa, sb", [m[1:] for m in MATMUL], ids=[m[0] for m in MATMUL])
def test_matmul(sa, sb):
    rng = np.random.default_rng(21)
    a, b = _draw("unit", sa, rng), _draw("unit", sb, rng)
    _check(lambda x, y: x @ y, lambda x, y: x @ y, np.matmul, [a, b])


def test_matmul_function_and_rmatmul():
    rng = np.random.default_rng(22)
    a, b = _draw("unit", (3, 4), rng), _draw("unit", (4, 2), rng)
    _check(lumina.matmul, torch.matmul, np.matmul, [a, b])
    # A list on the left defers to Tensor.__rmatmul__.
    np.testing.assert_allclose((a.tolist() @ lumina.tensor(b)).numpy(), a.astype(np.float64) @ b, **FWD)


def test_matmul_large_uneven():
    """Big enough for the tiled GEMM with ragged edges; float32 accumulation over K=67: atol 1e-5."""
    rng = np.random.default_rng(23)
    a, b = _draw("unit", (37, 67), rng), _draw("unit", (67, 29), rng)
    _check(lambda x, y: x @ y, lambda x, y: x @ y, np.matmul, [a, b], fwd=dict(rtol=1e-5, atol=1e-5))


def test_matmul_int():
    a = np.arange(6, dtype=np.int64).reshape(2, 3) - 2
    b = np.arange(12, dtype=np.int64).reshape(3, 4) - 5
    out = lumina.tensor(a) @ lumina.tensor(b)
    assert out.dtype is lumina.int64
    np.testing.assert_array_equal(out.numpy(), a @ b)


def test_matmul_inner_mismatch_raises():
    with pytest.raises(lumina.LuminaShapeError, match=r"f32\[2,3\].*f32\[4,5\]"):
        lumina.tensor(np.zeros((2, 3), np.float32)) @ lumina.tensor(np.zeros((4, 5), np.float32))


# ---- integer and bool forward ---------------------------------------------------------------------

INT_OPS = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("truediv", lambda a, b: a / b),
    ("maximum", lambda a, b: (torch.maximum if isinstance(a, torch.Tensor) else lumina.maximum)(a, b)),
    ("minimum", lambda a, b: (torch.minimum if isinstance(a, torch.Tensor) else lumina.minimum)(a, b)),
    ("neg", lambda a, b: -a),
    ("abs", lambda a, b: abs(b)),
    ("scalar_mul", lambda a, b: a * 3 - 7),
    ("scalar_float", lambda a, b: a * 0.5),
    ("rsub", lambda a, b: 10 - b),
    ("where", lambda a, b: (torch.where if isinstance(a, torch.Tensor) else lumina.where)(a > b, a, b)),
    ("sum", lambda a, b: a.sum(1)),
    ("max", lambda a, b: a.amax(0)),
    ("min", lambda a, b: b.amin()),
    ("mean", lambda a, b: a.mean(0, dtype=torch.float32 if isinstance(a, torch.Tensor) else lumina.float32)),
]


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("fn", [o[1] for o in INT_OPS], ids=[o[0] for o in INT_OPS])
def test_int_forward(fn, dtype):
    """Values and result dtype (PyTorch's promotion) against torch on the same integer data."""
    rng = np.random.default_rng(24)
    a = rng.integers(-50, 50, (3, 4)).astype(dtype)
    b = rng.integers(1, 9, (3, 4)).astype(dtype) * rng.choice([-1, 1], (3, 4)).astype(dtype)
    out = fn(lumina.tensor(a), lumina.tensor(b))
    ref = fn(torch.tensor(a), torch.tensor(b))
    assert out.dtype.name == str(ref.dtype).removeprefix("torch."), (out.dtype, ref.dtype)
    got = out.numpy()
    if ref.dtype.is_floating_point:
        np.testing.assert_allclose(got, ref.numpy(), **FWD)
    else:
        np.testing.assert_array_equal(got, ref.numpy())


def test_int_mixed_dtype_promotion():
    i32 = lumina.tensor(np.array([1, -2, 3], np.int32))
    i64 = lumina.tensor(np.array([10, 20, 30], np.int64))
    f32 = lumina.tensor(np.array([0.5, 0.25, 2.0], np.float32))
    f64 = lumina.tensor(np.array([1.0, 2.0, 3.0], np.float64))
    b = lumina.tensor(np.array([True, False, True]))
    cases = [
        (i32 + i64, lumina.int64, [11, 18, 33]),
        (i32 * f32, lumina.float32, [0.5, -0.5, 6.0]),
        (f32 + f64, lumina.float64, [1.5, 2.25, 5.0]),
        (i64 * f64, lumina.float64, [10.0, 40.0, 90.0]),
        (i32 + 2, lumina.int32, [3, 0, 5]),
        (i32 + 2.5, lumina.float32, [3.5, 0.5, 5.5]),
        (b + 1, lumina.int64, [2, 1, 2]),
        (b * i32, lumina.int32, [1, 0, 3]),
        (i64.exp(), lumina.float32, np.exp(np.array([10, 20, 30], np.float32))),
    ]
    for got, dtype, want in cases:
        assert got.dtype is dtype
        np.testing.assert_allclose(got.numpy(), np.asarray(want, dtype=dtype.numpy), **FWD)


def test_int_sum_dtype_follows_torch():
    """torch.sum (and NumPy) accumulate int32 into int64."""
    a = np.array([[2 ** 30, 2 ** 30], [1, 2]], np.int32)
    out = lumina.tensor(a).sum(1)
    ref = torch.tensor(a).sum(1)
    assert out.dtype.name == str(ref.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_bool_forward():
    m = np.array([[True, False, True], [False, False, True]])
    t = lumina.tensor(m)
    assert t.sum().dtype is lumina.int64
    assert t.sum().item() == m.sum()
    np.testing.assert_array_equal(t.sum(0).numpy(), m.sum(0))
    np.testing.assert_array_equal(t.float().mean(1).numpy(), m.mean(1).astype(np.float32))
    np.testing.assert_array_equal(lumina.where(t, lumina.ones(2, 3), -1.0).numpy(),
                                  np.where(m, 1.0, -1.0).astype(np.float32))
    np.testing.assert_array_equal((t & ~t).numpy(), m & ~m)
    np.testing.assert_array_equal(t.reshape(3, 2).numpy(), m.reshape(3, 2))
    np.testing.assert_array_equal(t[:, 1:].numpy(), m[:, 1:])
    np.testing.assert_array_equal(lumina.cat([t, t], 0).numpy(), np.concatenate([m, m], 0))


# ---- float64 central finite differences -----------------------------------------------------------

def _fd_grad(fn, arrays, i):
    """Central-difference gradient of the scalar ``fn`` w.r.t. ``arrays[i]`` (float64)."""
    base = [a.copy() for a in arrays]
    g = np.zeros_like(base[i])
    flat = base[i].reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + FD_EPS
        hi = fn(*[lumina.tensor(a) for a in base]).item()
        flat[k] = old - FD_EPS
        lo = fn(*[lumina.tensor(a) for a in base]).item()
        flat[k] = old
        g.reshape(-1)[k] = (hi - lo) / (2 * FD_EPS)
    return g


def _softmax_loss(x, w):
    e = (x - x.amax(-1, keepdim=True)).exp()
    return ((e / e.sum(-1, keepdim=True)) * w).sum()


def _logsumexp(x, w):
    m = x.amax(1, keepdim=True)
    return ((x - m).exp().sum(1, keepdim=True).log() + m).sum() + (x * w).mean()


def _mlp(x, w):
    h = (x @ w).tanh()
    return (h * h).mean() + (x.reshape(-1)[1:5] * 3.0).sum()


def _norms(x, w):
    return (x * x).sum().sqrt() + (w.abs() + 1.0).log().sum() / x.sigmoid().sum()


def _movement(x, w):
    y = lumina.cat([x.T, w[:, :2] * x.T[:, 1:2]], 1).permute(1, 0)
    return (y.sin() * y.unsqueeze(0).expand(2, *y.shape)).sum() + (x[::2, 1] ** 3.0).sum()


def _gelu_pow(x, w):
    return (x.gelu() * w.gelu(approximate="tanh")).sum() + ((x * x + 1.0) ** w.cos()).sum()


def _where_minmax(x, w):
    return (lumina.where(x > 0, x.exp(), x * w) * lumina.maximum(x, w) / (lumina.minimum(x, w) - 3.0)).sum()


FD_CASES = [
    ("softmax", _softmax_loss, (3, 4), (3, 4)),
    ("logsumexp", _logsumexp, (3, 4), (3, 4)),
    ("mlp", _mlp, (2, 4), (4, 3)),
    ("norms", _norms, (2, 3), (2, 3)),
    ("movement", _movement, (4, 3), (3, 4)),
    ("gelu_pow", _gelu_pow, (2, 3), (2, 3)),
    ("where_minmax", _where_minmax, (3, 3), (3, 3)),
]


@pytest.mark.parametrize("fn, sx, sw", [c[1:] for c in FD_CASES], ids=[c[0] for c in FD_CASES])
def test_float64_finite_differences(fn, sx, sw):
    rng = np.random.default_rng(25)
    # Away from 0 so that where/maximum/minimum/abs have no kink within eps of any input.
    arrays = [rng.uniform(0.3, 1.5, s) * rng.choice([-1.0, 1.0], s) for s in (sx, sw)]
    x, w = (lumina.tensor(a, requires_grad=True) for a in arrays)
    assert x.dtype is lumina.float64
    loss = fn(x, w)
    assert loss.dtype is lumina.float64 and loss.shape == ()
    loss.backward()
    lumina.realize(x.grad, w.grad)
    for i, t in enumerate((x, w)):
        assert t.grad.dtype is lumina.float64
        np.testing.assert_allclose(t.grad.numpy(), _fd_grad(fn, arrays, i), err_msg=f"input {i}", **FD)


def test_float64_forward_matches_numpy():
    rng = np.random.default_rng(26)
    a = rng.uniform(0.1, 1.4, (3, 4))
    x = lumina.tensor(a)
    assert x.dtype is lumina.float64
    out = (x.log() * x.sqrt() + x.sin().exp() - x.tanh() / x.cos()).sum(1)
    expected = (np.log(a) * np.sqrt(a) + np.exp(np.sin(a)) - np.tanh(a) / np.cos(a)).sum(1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
