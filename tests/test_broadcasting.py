"""NumPy broadcasting in lumina's binary ops and ``where``, as hypothesis properties.

For two (three, for ``where``) mutually broadcastable shapes and random float32 data:

* the forward value of ``+ * / maximum where`` matches NumPy (evaluated in float64 on the same
  float32 inputs) within ``rtol=1e-5, atol=1e-6``;
* the gradient of ``(f(a, b) * w).sum()`` (``w`` random, of the broadcast shape) w.r.t. every input
  has that input's own shape (the broadcast gradient summed back) and matches PyTorch CPU float32
  within ``rtol=1e-4, atol=1e-5``.

Shapes that do not broadcast raise ``lumina.LuminaShapeError`` naming the op and both operand
types (``f32[2,3]``). Each example compiles LLVM kernels, so example counts are kept moderate.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import lumina

FWD = dict(rtol=1e-5, atol=1e-6)
GRAD = dict(rtol=1e-4, atol=1e-5)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SHAPES2 = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)
SHAPES3 = mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, min_side=1, max_side=4)
SEEDS = st.integers(0, 2 ** 32 - 1)

# (lumina_fn, torch_fn, numpy_fn, draw b away from zero)
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, np.add, False),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, np.multiply, False),
    "div": (lambda a, b: a / b, lambda a, b: a / b, np.divide, True),
    "maximum": (lumina.maximum, torch.maximum, np.maximum, False),
}


def _data(shape, rng, nonzero=False):
    if nonzero:
        x = rng.uniform(0.25, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    else:
        x = rng.uniform(-2.0, 2.0, shape)
    return np.asarray(x, dtype=np.float32)


def _check_grads(leaves, torch_leaves, out_shape, build_lumina, build_torch, expected, rng):
    """Forward vs ``expected`` and gradients of ``(out * w).sum()`` vs torch, with shape checks."""
    out = build_lumina(*leaves)
    assert out.shape == expected.shape
    w = rng.uniform(0.5, 1.5, out_shape).astype(np.float32)
    (out * lumina.tensor(w)).sum().backward()
    lumina.realize(out, *[x.grad for x in leaves])
    np.testing.assert_allclose(out.numpy(), expected, **FWD)

    (build_torch(*torch_leaves) * torch.tensor(w)).sum().backward()
    for i, (x, t) in enumerate(zip(leaves, torch_leaves)):
        assert x.grad.shape == x.shape, f"grad of input {i}: {x.grad.shape} vs input {x.shape}"
        got = x.grad.numpy()
        assert got.shape == x.shape
        np.testing.assert_allclose(got, t.grad.numpy(), err_msg=f"grad of input {i}", **GRAD)


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=SHAPES2, seed=SEEDS)
def test_binary_broadcast(name, shapes, seed):
    lfn, tfn, nfn, nonzero_b = BINARY[name]
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a, b = _data(sa, rng), _data(sb, rng, nonzero=nonzero_b)
    expected = nfn(a.astype(np.float64), b.astype(np.float64))
    leaves = [lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=True)]
    tleaves = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    _check_grads(leaves, tleaves, out_shape, lfn, tfn, expected, rng)


@SETTINGS
@given(shapes=SHAPES3, seed=SEEDS)
def test_where_broadcast(shapes, seed):
    (sc, sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    c = rng.random(sc) < 0.5
    a, b = _data(sa, rng), _data(sb, rng)
    expected = np.where(c, a.astype(np.float64), b.astype(np.float64))
    lc, tc = lumina.tensor(c), torch.tensor(c)
    leaves = [lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=True)]
    tleaves = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    _check_grads(leaves, tleaves, out_shape, lambda x, y: lumina.where(lc, x, y),
                 lambda x, y: torch.where(tc, x, y), expected, rng)


@SETTINGS
@given(shapes=SHAPES3, seed=SEEDS)
def test_three_operand_expression_broadcast(shapes, seed):
    """A chain of broadcasting ops: each input's gradient sums over its own broadcast dims."""
    (sa, sb, sc), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a, b, c = _data(sa, rng), _data(sb, rng), _data(sc, rng, nonzero=True)
    a64, b64, c64 = (v.astype(np.float64) for v in (a, b, c))
    expected = np.maximum(a64 * b64, c64) / c64 + a64
    fn = lambda mx: lambda x, y, z: mx(x * y, z) / z + x  # noqa: E731
    leaves = [lumina.tensor(v, requires_grad=True) for v in (a, b, c)]
    tleaves = [torch.tensor(v, requires_grad=True) for v in (a, b, c)]
    _check_grads(leaves, tleaves, out_shape, fn(lumina.maximum), fn(torch.maximum), expected, rng)


@SETTINGS
@given(shapes=SHAPES2, seed=SEEDS)
def test_broadcast_with_python_scalar_and_0d(shapes, seed):
    """Scalars and 0-d tensors broadcast against anything."""
    (sa, _), _ = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a = _data(sa, rng)
    s = np.float32(rng.uniform(0.5, 2.0))
    x = lumina.tensor(a, requires_grad=True)
    k = lumina.tensor(s, requires_grad=True)
    out = (x * k + 1.5) / 2.0
    np.testing.assert_allclose(out.numpy(), (a.astype(np.float64) * s + 1.5) / 2.0, **FWD)
    out.sum().backward()
    lumina.realize(x.grad, k.grad)
    assert x.grad.shape == a.shape and k.grad.shape == ()
    np.testing.assert_allclose(x.grad.numpy(), np.full(a.shape, s / 2.0), **GRAD)
    np.testing.assert_allclose(k.grad.numpy(), a.astype(np.float64).sum() / 2.0, **GRAD)


# ---- incompatible shapes --------------------------------------------------------------------------

@st.composite
def incompatible_shapes(draw):
    """Two shapes that do not broadcast: some aligned dim is n vs m with n != m, both != 1."""
    a = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    b = list(draw(mutually_broadcastable_shapes(num_shapes=2, base_shape=tuple(a), max_dims=4))
             .input_shapes[0])
    if not b:
        b = [1]
    i = draw(st.integers(1, min(len(a), len(b))))  # aligned from the right
    n = draw(st.integers(2, 5))
    m = draw(st.integers(2, 5).filter(lambda v: v != n))
    a[-i], b[-i] = n, m
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


def _fmt(shape):
    return f"f32[{','.join(map(str, shape))}]"


ERROR_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lumina.maximum,
    "minimum": lumina.minimum,
}


@pytest.mark.parametrize("name", list(ERROR_OPS))
@settings(max_examples=30, deadline=None)
@given(shapes=incompatible_shapes())
def test_incompatible_shapes_raise(name, shapes):
    sa, sb = shapes
    with pytest.raises(ValueError):
        np.broadcast_shapes(sa, sb)  # the generator really is incompatible
    a = lumina.tensor(np.zeros(sa, np.float32))
    b = lumina.tensor(np.ones(sb, np.float32))
    with pytest.raises(lumina.LuminaShapeError) as info:
        ERROR_OPS[name](a, b)
    msg = str(info.value)
    assert name in msg, msg
    assert _fmt(sa) in msg and _fmt(sb) in msg, msg


@settings(max_examples=30, deadline=None)
@given(shapes=incompatible_shapes(), which=st.integers(0, 2))
def test_where_incompatible_shapes_raise(shapes, which):
    sa, sb = shapes
    third = np.broadcast_shapes(sa)  # compatible with sa by construction
    shapes3 = [sa, sb, third]
    shapes3 = shapes3[which:] + shapes3[:which]  # put the clash in any operand position
    cond = lumina.tensor(np.zeros(shapes3[0], bool))
    x = lumina.tensor(np.zeros(shapes3[1], np.float32))
    y = lumina.tensor(np.zeros(shapes3[2], np.float32))
    with pytest.raises(lumina.LuminaShapeError) as info:
        lumina.where(cond, x, y)
    msg = str(info.value)
    assert "where" in msg, msg
    for dtype, shape in zip(("bool", "f32", "f32"), shapes3):
        assert _fmt(shape).replace("f32", dtype) in msg, msg


def test_incompatible_shape_message_example():
    a = lumina.tensor(np.zeros((2, 3), np.float32))
    b = lumina.tensor(np.zeros((4,), np.float32))
    with pytest.raises(lumina.LuminaShapeError, match=r"add.*f32\[2,3\].*f32\[4\]"):
        a + b
    with pytest.raises(lumina.LuminaShapeError, match=r"mul.*f32\[4\].*f32\[2,3\]"):
        b * a
    with pytest.raises(lumina.LuminaError):  # the base class catches it too
        lumina.maximum(a, b)


def test_in_place_ops_do_not_broadcast_self():
    """``x.add_(y)`` keeps x's shape; a y that would grow x is an error."""
    x = lumina.tensor(np.zeros((3, 1), np.float32))
    with pytest.raises(lumina.LuminaShapeError):
        x.add_(lumina.tensor(np.ones((3, 4), np.float32)))
    x.add_(lumina.tensor(np.arange(3, dtype=np.float32).reshape(3, 1)))
    np.testing.assert_array_equal(x.numpy(), np.arange(3, dtype=np.float32).reshape(3, 1))
