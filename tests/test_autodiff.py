"""Reverse-mode autodiff through the front ends: ``Tensor.backward``, ``lumina.grad``,
``lumina.value_and_grad``, ``no_grad`` and ``detach``.

References are PyTorch CPU float32 (``rtol=1e-4, atol=1e-5``) or closed forms / NumPy loops in
float64 (``rtol=1e-10``) for the 10,000-deep chains, which must not hit Python's recursion limit.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import lumina

GRAD = dict(rtol=1e-4, atol=1e-5)
F64 = dict(rtol=1e-10, atol=1e-12)


def _rand(shape, seed, lo=-2.0, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


# ---- Tensor.backward ------------------------------------------------------------------------------

def test_backward_scalar_matches_torch():
    a, b = _rand((3, 4), 0), _rand((4, 2), 1)
    x, w = lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=True)
    loss = ((x @ w).tanh() * 2.0 + x.sum(1, keepdim=True)).mean()
    loss.backward()
    tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    tloss = ((tx @ tw).tanh() * 2.0 + tx.sum(1, keepdim=True)).mean()
    tloss.backward()
    lumina.realize(loss, x.grad, w.grad)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **GRAD)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), **GRAD)


def test_backward_accumulates_over_two_calls():
    a = _rand((5,), 2)
    x = lumina.tensor(a, requires_grad=True)
    (x * x).sum().backward()
    first = x.grad.numpy().copy()
    np.testing.assert_allclose(first, 2 * a, **GRAD)
    (x.sin()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a + np.cos(a), **GRAD)

    t = torch.tensor(a, requires_grad=True)
    (t * t).sum().backward()
    t.sin().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **GRAD)


def test_backward_twice_through_the_same_graph_accumulates():
    a = _rand((2, 3), 3)
    x = lumina.tensor(a, requires_grad=True)
    y = (x.exp() * 3.0).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3.0 * np.exp(a), **GRAD)


def test_backward_after_reading_the_output_value():
    """Realising the output first (``.item()``) must not drop its history."""
    a = _rand((4,), 4)
    x = lumina.tensor(a, requires_grad=True)
    y = (x * x * x).sum()
    assert y.item() == pytest.approx(float((a.astype(np.float64) ** 3).sum()), rel=1e-5)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * a * a, **GRAD)


def test_backward_with_gradient_for_non_scalar():
    a, g = _rand((3, 4), 5), _rand((3, 4), 6)
    x = lumina.tensor(a, requires_grad=True)
    y = x.sin() * x
    y.backward(gradient=lumina.tensor(g))
    t = torch.tensor(a, requires_grad=True)
    (t.sin() * t).backward(gradient=torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **GRAD)


def test_backward_with_gradient_as_array():
    a, g = _rand((2, 2), 7), _rand((2, 2), 8)
    x = lumina.tensor(a, requires_grad=True)
    (x * 3.0).backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * g, **GRAD)


def test_backward_non_scalar_without_gradient_raises():
    x = lumina.tensor(_rand((3,), 9), requires_grad=True)
    with pytest.raises(lumina.LuminaGradError, match=r"f32\[3\]"):
        (x * 2.0).backward()


def test_backward_gradient_shape_mismatch_raises():
    x = lumina.tensor(_rand((3,), 10), requires_grad=True)
    with pytest.raises(lumina.LuminaGradError):
        (x * 2.0).backward(lumina.tensor(np.ones((4,), np.float32)))


def test_backward_without_requires_grad_raises():
    x = lumina.tensor(_rand((3,), 11))
    with pytest.raises(lumina.LuminaGradError):
        (x * 2.0).sum().backward()


def test_leaf_and_non_leaf_flags():
    x = lumina.tensor([1.0, 2.0], requires_grad=True)
    c = lumina.tensor([3.0, 4.0])
    y = x * c
    assert x.is_leaf and x.requires_grad
    assert not y.is_leaf and y.requires_grad
    assert c.is_leaf and not c.requires_grad
    y.sum().backward()
    assert c.grad is None and y.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_only_leaves_in_the_graph_get_grad():
    x = lumina.tensor([1.0, 2.0], requires_grad=True)
    unused = lumina.tensor([5.0], requires_grad=True)
    (x * x).sum().backward()
    assert unused.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_requires_grad_():
    x = lumina.tensor([1.0, -2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x.abs() * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -3.0])


# ---- no_grad and detach ---------------------------------------------------------------------------

def test_no_grad_cuts_gradient():
    a = _rand((4,), 12)
    x = lumina.tensor(a, requires_grad=True)
    with lumina.no_grad():
        c = x * 2.0
    assert not c.requires_grad
    y = (c * x).sum()  # d/dx = c only: c is a constant
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * a, **GRAD)


def test_no_grad_outputs_have_no_history():
    x = lumina.tensor(_rand((3,), 13), requires_grad=True)
    with lumina.no_grad():
        y = (x.exp() * x).sum()
    assert not y.requires_grad
    with pytest.raises(lumina.LuminaGradError):
        y.backward()


def test_no_grad_restores_state_and_works_as_decorator():
    x = lumina.tensor([1.0, 2.0], requires_grad=True)

    @lumina.no_grad()
    def double(t):
        return t * 2.0

    assert not double(x).requires_grad
    with lumina.no_grad():
        with lumina.no_grad():
            pass
        assert not (x * 1.0).requires_grad
    assert (x * 1.0).requires_grad
    with pytest.raises(ZeroDivisionError):
        with lumina.no_grad():
            1 / 0
    assert (x * 1.0).requires_grad


def test_no_grad_on_a_broadcast_intermediate():
    """The no_grad value is broadcast later; the gradient of x must still be summed correctly."""
    a, b = _rand((3, 1), 14), _rand((4,), 15)
    x, y = lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=True)
    with lumina.no_grad():
        s = x.exp()
    loss = (s * y + x).sum()
    loss.backward()
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    with torch.no_grad():
        ts = tx.exp()
    (ts * ty + tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **GRAD)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), **GRAD)


@pytest.mark.parametrize("view", [
    lambda t: t.reshape(2),
    lambda t: t[:],
    lambda t: t.squeeze(),
    lambda t: t.flatten(),
    lambda t: t.permute(0),
    lambda t: t.reshape(1, 2),
], ids=["reshape_same", "getitem_all", "squeeze_noop", "flatten_1d", "permute_identity", "reshape_new"])
def test_no_grad_view_of_a_leaf_is_constant(view):
    """Under no_grad a view of a leaf is a constant, even a view that changes nothing, so the only
    gradient of ``(c * x).sum()`` is ``c`` (PyTorch agrees for every case here except ``flatten``
    of a 1-D tensor, which PyTorch answers with the tensor object itself)."""
    a = np.array([1.0, 2.0], dtype=np.float32)
    x = lumina.tensor(a, requires_grad=True)
    with lumina.no_grad():
        c = view(x)
    assert not c.requires_grad
    (c.reshape(2) * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a, **GRAD)


def test_parameter_update_under_no_grad_then_backward_again():
    """An SGD loop: the in-place update under no_grad keeps x a leaf that requires grad."""
    a = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    x, t = lumina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for _ in range(3):
        (x.sin() * x).sum().backward()
        (t.sin() * t).sum().backward()
        with lumina.no_grad():
            x.sub_(x.grad * 0.1)
        with torch.no_grad():
            t.sub_(t.grad * 0.1)
        x.grad, t.grad = None, None
    assert x.is_leaf and x.requires_grad
    np.testing.assert_allclose(x.numpy(), t.detach().numpy(), **GRAD)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * t.detach().numpy(), **GRAD)


def test_only_float_tensors_can_require_grad():
    with pytest.raises(lumina.LuminaTypeError):
        lumina.tensor([1, 2, 3], requires_grad=True)


def test_detach_cuts_gradient():
    a = _rand((2, 3), 16)
    x = lumina.tensor(a, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad
    np.testing.assert_array_equal(d.numpy(), a)
    y = (x * x.exp().detach() + x.detach() ** 3.0).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(a), **GRAD)


def test_detach_of_an_intermediate_matches_torch():
    a = _rand((5,), 17)
    x = lumina.tensor(a, requires_grad=True)
    h = x.sin() * x
    loss = (h * h.detach() + h).sum()
    loss.backward()
    t = torch.tensor(a, requires_grad=True)
    th = t.sin() * t
    (th * th.detach() + th).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **GRAD)


# ---- lumina.grad / value_and_grad -----------------------------------------------------------------

def _f(x, y):
    return (x.sin() * y).sum() + (x * x).mean()


def _tf(x, y):
    return (x.sin() * y).sum() + (x * x).mean()


def _torch_grads(a, b):
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = _tf(tx, ty)
    out.backward()
    return out.item(), tx.grad.numpy(), ty.grad.numpy()


def test_grad_argnums_0():
    a, b = _rand((3, 4), 18), _rand((3, 4), 19)
    g = lumina.grad(_f)(lumina.tensor(a), lumina.tensor(b))
    assert isinstance(g, lumina.Tensor) and g.shape == a.shape
    np.testing.assert_allclose(g.numpy(), _torch_grads(a, b)[1], **GRAD)


def test_grad_argnums_1_and_negative():
    a, b = _rand((3, 4), 20), _rand((3, 4), 21)
    _, _, gy = _torch_grads(a, b)
    for argnums in (1, -1):
        g = lumina.grad(_f, argnums=argnums)(lumina.tensor(a), lumina.tensor(b))
        np.testing.assert_allclose(g.numpy(), gy, **GRAD)


def test_grad_argnums_tuple():
    a, b = _rand((2, 5), 22), _rand((2, 5), 23)
    gs = lumina.grad(_f, argnums=(0, 1))(lumina.tensor(a), lumina.tensor(b))
    assert isinstance(gs, tuple) and len(gs) == 2
    _, gx, gy = _torch_grads(a, b)
    np.testing.assert_allclose(gs[0].numpy(), gx, **GRAD)
    np.testing.assert_allclose(gs[1].numpy(), gy, **GRAD)
    one = lumina.grad(_f, argnums=(1,))(lumina.tensor(a), lumina.tensor(b))
    assert isinstance(one, tuple) and len(one) == 1
    np.testing.assert_allclose(one[0].numpy(), gy, **GRAD)


def test_value_and_grad():
    a, b = _rand((4,), 24), _rand((4,), 25)
    value, (gx, gy) = lumina.value_and_grad(_f, argnums=(0, 1))(lumina.tensor(a), lumina.tensor(b))
    tv, tgx, tgy = _torch_grads(a, b)
    lumina.realize(value, gx, gy)
    assert value.shape == ()
    np.testing.assert_allclose(value.item(), tv, rtol=1e-5)
    np.testing.assert_allclose(gx.numpy(), tgx, **GRAD)
    np.testing.assert_allclose(gy.numpy(), tgy, **GRAD)
    value, g = lumina.value_and_grad(_f)(lumina.tensor(a), lumina.tensor(b))
    assert isinstance(g, lumina.Tensor)
    np.testing.assert_allclose(g.numpy(), tgx, **GRAD)


def test_grad_accepts_arrays_and_kwargs_and_leaves_args_untouched():
    a, b = _rand((3,), 26), _rand((3,), 27)
    x = lumina.tensor(a)
    g = lumina.grad(lambda x, y, scale=1.0: _f(x, y) * scale)(x, b, scale=2.0)
    np.testing.assert_allclose(g.numpy(), 2.0 * _torch_grads(a, b)[1], **GRAD)
    assert x.grad is None and not x.requires_grad


def test_grad_of_unused_argument_is_zeros():
    a, b = _rand((2, 3), 28), _rand((4,), 29)
    g = lumina.grad(lambda x, y: (x * 3.0).sum(), argnums=1)(lumina.tensor(a), lumina.tensor(b))
    assert g.shape == b.shape
    np.testing.assert_array_equal(g.numpy(), np.zeros_like(b))


def test_grad_works_inside_no_grad():
    a = _rand((3,), 30)
    with lumina.no_grad():
        g = lumina.grad(lambda x: (x.exp()).sum())(lumina.tensor(a))
    np.testing.assert_allclose(g.numpy(), np.exp(a), **GRAD)


def test_grad_errors():
    x = lumina.tensor(_rand((3,), 31))
    with pytest.raises(lumina.LuminaGradError):  # non-scalar output
        lumina.grad(lambda t: t * 2.0)(x)
    with pytest.raises(lumina.LuminaGradError):  # integer argument
        lumina.grad(lambda t: t.float().sum())(lumina.tensor([1, 2, 3]))
    with pytest.raises(lumina.LuminaGradError):  # argnums out of range
        lumina.grad(lambda t: t.sum(), argnums=1)(x)
    with pytest.raises(lumina.LuminaGradError):  # not a tensor
        lumina.grad(lambda t: 3.0)(x)


def test_grad_with_a_closed_over_parameter():
    """A requires-grad tensor closed over by fn does not receive .grad from lumina.grad."""
    w = lumina.tensor(_rand((3,), 32), requires_grad=True)
    a = _rand((3,), 33)
    g = lumina.grad(lambda x: (x * w).sum())(lumina.tensor(a))
    np.testing.assert_allclose(g.numpy(), w.numpy(), **GRAD)
    assert w.grad is None


# ---- deep chains ----------------------------------------------------------------------------------

DEPTH = 10_000


def test_10000_deep_chain_forward_and_gradient():
    """``y = y * 1.0001 + 0.0`` 10,000 times: y = x * 1.0001**10000, dy/dx = 1.0001**10000.

    float64, so the closed form holds to ~1e-12; the walk must be iterative (the default recursion
    limit is far below the depth)."""
    assert sys.getrecursionlimit() < DEPTH
    a = np.array([0.5, -1.0, 2.0], dtype=np.float64)
    x = lumina.tensor(a, requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = y * 1.0001 + 0.0
    factor = 1.0001 ** DEPTH
    (y * lumina.tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    lumina.realize(y, x.grad)
    np.testing.assert_allclose(y.numpy(), a * factor, **F64)
    np.testing.assert_allclose(x.grad.numpy(), np.array([1.0, 2.0, 3.0]) * factor, **F64)


def test_deep_nonlinear_chain_with_lumina_grad():
    """10,000 alternating ``sin``-bearing / affine steps (deeper than the recursion limit), against
    a NumPy float64 forward/backward loop. Each nonlinear step's VJP needs its own intermediate."""
    depth = DEPTH
    assert sys.getrecursionlimit() < depth

    def step_is_sin(i):
        return i % 2 == 0

    def f(x):
        y = x
        for i in range(depth):
            y = y + 0.01 * y.sin() if step_is_sin(i) else y * 0.9999 + 0.001
        return y.sum()

    a = np.array([0.3, -1.2, 2.5], dtype=np.float64)
    value, g = lumina.value_and_grad(f)(lumina.tensor(a))
    lumina.realize(value, g)

    v, dv = a.copy(), np.ones_like(a)
    for i in range(depth):
        if step_is_sin(i):
            dv = dv * (1.0 + 0.01 * np.cos(v))
            v = v + 0.01 * np.sin(v)
        else:
            dv = dv * 0.9999
            v = v * 0.9999 + 0.001
    np.testing.assert_allclose(value.item(), v.sum(), **F64)
    np.testing.assert_allclose(g.numpy(), dv, **F64)


# ---- broadcasting and shared subexpressions -------------------------------------------------------

@pytest.mark.parametrize("sa, sb", [((3, 1), (4,)), ((1,), (2, 3)), ((), (2, 2)), ((2, 1, 3), (4, 1))],
                         ids=str)
def test_gradient_through_broadcast_inputs(sa, sb):
    a, b = _rand(sa, 34), _rand(sb, 35)
    x, y = lumina.tensor(a, requires_grad=True), lumina.tensor(b, requires_grad=True)
    loss = ((x * y).exp() + x / (y * y + 1.0)).sum()
    loss.backward()
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ((tx * ty).exp() + tx / (ty * ty + 1.0)).sum().backward()
    assert x.grad.shape == sa and y.grad.shape == sb
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **GRAD)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), **GRAD)


def test_gradient_through_explicit_expand():
    a = _rand((3, 1), 36)
    x = lumina.tensor(a, requires_grad=True)
    (x.expand(2, 3, 5) * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 1), 20.0), **GRAD)


def test_shared_subexpression_used_twice():
    """s = sin(x); L = sum(s * s + s)  =>  dL/dx = (2 s + 1) cos x."""
    a = _rand((6,), 37)
    x = lumina.tensor(a, requires_grad=True)
    s = x.sin()
    (s * s + s).sum().backward()
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), (2 * np.sin(a64) + 1) * np.cos(a64), **GRAD)


def test_same_input_on_both_sides_and_diamond():
    """x feeds two branches that rejoin: contributions of every path add up."""
    a = _rand((2, 3), 38)
    x = lumina.tensor(a, requires_grad=True)
    left, right = x.exp(), x * x
    y = (left * right + left / (right + 1.0) + x * x.T.T).sum()
    y.backward()
    t = torch.tensor(a, requires_grad=True)
    tl, tr = t.exp(), t * t
    (tl * tr + tl / (tr + 1.0) + t * t.T.T).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **GRAD)


def test_shared_subexpression_with_lumina_grad():
    def f(x):
        h = (x * 2.0).tanh()
        return (h * h).sum() + h.sum() * h.mean()

    a = _rand((5,), 39)
    t = torch.tensor(a, requires_grad=True)
    th = (t * 2.0).tanh()
    ((th * th).sum() + th.sum() * th.mean()).backward()
    np.testing.assert_allclose(lumina.grad(f)(lumina.tensor(a)).numpy(), t.grad.numpy(), **GRAD)
