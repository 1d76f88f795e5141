"""In-place updates against PyTorch 2.13: every in-place form lumina offers (``+= -= *= /=``,
``add_`` ``sub_`` ``mul_`` ``div_`` ``zero_`` ``fill_`` ``copy_`` ``clamp_`` ``masked_fill_``,
``x[key] = value``), eager and inside ``@lumina.compile``; views aliasing both ways; torch's errors
(leaf that requires grad, dtype, shape, overlapping views, a value backward needs modified in place);
``no_grad`` updates (``p -= lr * p.grad``) and ``Module`` parameters kept across ``+=``.

Most cases are one program written against the names both libraries share (``prog(lib, ...)`` with
``lib`` torch or lumina), run by both and compared: values, gradients, and which error is raised.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumina
import lumina.nn as nn
from lumina import (LuminaGradError, LuminaIndexError, LuminaShapeError, LuminaTraceError, LuminaTypeError,
                    LuminaValueError)

RNG = np.random.default_rng(14)


def arr(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype) if np.dtype(dtype).kind == "f" else \
        RNG.integers(-5, 5, shape).astype(dtype)


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.numpy()


def _tree(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _make(lib, a, grad=False):
    return lib.tensor(a.copy(), requires_grad=grad) if grad else lib.tensor(a.copy())


def both(prog, *arrays, grad=(), rtol=1e-6, atol=1e-6):
    """Run ``prog(lib, *tensors)`` with torch and lumina (``grad``: the positions whose tensors
    require grad); compare every returned tensor and, for those, their ``.grad``."""
    results = []
    for lib in (torch, lumina):
        ts = [_make(lib, a, i in grad) for i, a in enumerate(arrays)]
        out = _tree(prog(lib, *ts))
        results.append(([_np(o) for o in out],
                        [None if not t.is_leaf or t.grad is None else _np(t.grad) for t in ts]))
    (t_out, t_grads), (l_out, l_grads) = results
    assert len(t_out) == len(l_out)
    for t, lu in zip(t_out, l_out):
        assert t.shape == lu.shape
        np.testing.assert_allclose(lu, t, rtol=rtol, atol=atol)
    for t, lu in zip(t_grads, l_grads):
        assert (t is None) == (lu is None), (t, lu)
        if t is not None:
            np.testing.assert_allclose(lu, t, rtol=rtol, atol=atol)
    return l_out


def raises_both(prog, lumina_error, *arrays, grad=(), match=None, torch_error=(RuntimeError, IndexError)):
    """torch raises for ``prog``; lumina raises ``lumina_error`` (a LuminaError subclass)."""
    with pytest.raises(torch_error):
        prog(torch, *[_make(torch, a, i in grad) for i, a in enumerate(arrays)])
    with pytest.raises(lumina_error, match=match):
        prog(lumina, *[_make(lumina, a, i in grad) for i, a in enumerate(arrays)])


def compiled_both(prog, *arrays, rtol=1e-6, atol=1e-6):
    """``prog(lib, *tensors)`` in torch eager and as a lumina compiled function, twice (the second
    call runs the compiled executable without tracing): the returned tensors and the arguments,
    which the program may update in place, agree after each call."""
    t_args = [torch.tensor(a.copy()) for a in arrays]
    l_args = [lumina.tensor(a.copy()) for a in arrays]
    f = lumina.compile(lambda *xs: prog(lumina, *xs))
    for _ in range(2):
        t_out = _tree(prog(torch, *t_args))
        l_out = _tree(f(*l_args))
        for t, lu in zip(t_out + t_args, l_out + l_args):
            np.testing.assert_allclose(_np(lu), _np(t), rtol=rtol, atol=atol)


# ---- the in-place ops: values, eager and compiled ---------------------------------------------------

OPS = {
    "iadd_scalar": lambda lib, x, y: x.__iadd__(1.5),
    "iadd_tensor": lambda lib, x, y: x.__iadd__(y),
    "isub": lambda lib, x, y: x.__isub__(y),
    "imul": lambda lib, x, y: x.__imul__(y),
    "itruediv": lambda lib, x, y: x.__itruediv__(y),
    "add_alpha": lambda lib, x, y: x.add_(y, alpha=-0.5),
    "sub_alpha": lambda lib, x, y: x.sub_(y, alpha=2),
    "add_scalar_alpha": lambda lib, x, y: x.add_(3, alpha=0.25),
    "mul_": lambda lib, x, y: x.mul_(y),
    "div_": lambda lib, x, y: x.div_(y),
    "div_scalar": lambda lib, x, y: x.div_(4),
    "zero_": lambda lib, x, y: x.zero_(),
    "fill_": lambda lib, x, y: x.fill_(-2.5),
    "fill_0d": lambda lib, x, y: x.fill_(y[0, 1]),
    "copy_": lambda lib, x, y: x.copy_(y),
    "copy_broadcast": lambda lib, x, y: x.copy_(y[1]),
    "clamp_": lambda lib, x, y: x.clamp_(-0.5, 0.5),
    "clamp_min": lambda lib, x, y: x.clamp_(min=0.0),
    "clamp_tensor": lambda lib, x, y: x.clamp_(min=y),
    "masked_fill_": lambda lib, x, y: x.masked_fill_(y > 0, 7.0),
    "masked_fill_0d": lambda lib, x, y: x.masked_fill_(y > 0, y[0, 0]),
    "ipow": lambda lib, x, y: x.__ipow__(2),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_in_place_op_matches_torch_and_returns_self(name):
    def prog(lib, x, y):
        alias = x
        out = OPS[name](lib, x, y)
        assert out is alias
        return x

    both(prog, arr(2, 3), arr(2, 3) + 3.0 * (np.arange(6).reshape(2, 3) % 2 == 0))


@pytest.mark.parametrize("name", ["iadd_tensor", "add_alpha", "mul_", "div_", "fill_", "copy_broadcast",
                                  "clamp_tensor", "masked_fill_"])
def test_in_place_op_inside_compile_updates_its_argument(name):
    compiled_both(lambda lib, x, y: (OPS[name](lib, x, y), x * 2.0)[1:], arr(2, 3), arr(2, 3) + 1.5)


def test_python_statements_rebind_the_same_object():
    x = lumina.tensor(arr(3))
    before = x
    x += 1
    x -= 2.0
    x *= lumina.tensor(arr(3))
    x /= 3
    assert x is before


# ---- torch's dtype and shape rules ------------------------------------------------------------------

@pytest.mark.parametrize("prog", [
    lambda lib, i: i.__iadd__(1.5),                        # int64 += float: result float32
    lambda lib, i: i.__imul__(lib.tensor(2.0)),            # a 0-d float tensor still makes float
    lambda lib, i: i.__itruediv__(2),                      # true division is float
    lambda lib, i: i.add_(i, alpha=1.5),                   # float alpha on an integer tensor
    lambda lib, i: i.clamp_(0.5),
    lambda lib, i: (i > 0).__iadd__(1),                    # bool += int: result int64
])
def test_a_result_the_tensor_cannot_hold_raises(prog):
    raises_both(prog, LuminaTypeError, np.arange(3))


@pytest.mark.parametrize("prog", [
    lambda lib, i: i.fill_(2.7),                           # fill_/copy_/setitem cast like copy_
    lambda lib, i: i.copy_(lib.tensor([1.7, -1.7, 2.2])),
    lambda lib, i: i.masked_fill_(i > 0, 2.5),
    lambda lib, i: i.__iadd__(2),
    lambda lib, i: i.__setitem__(slice(1, None), lib.tensor([1.9, -1.9])),
])
def test_casting_in_place_ops_truncate_like_torch(prog):
    both(lambda lib, i: (prog(lib, i), i)[1], np.arange(3))


def test_narrower_float_and_int_keep_their_dtype():
    def prog(lib, h, i):
        h += lib.tensor(np.full(3, 1e-4))                   # float64 operand, float32 tensor
        i32 = i.int()
        i32 += lib.tensor([1, 2, 3])
        return h, i32
    out = both(prog, arr(3), np.arange(3))
    assert out[1].dtype == np.int32
    x = lumina.tensor(arr(3).astype(np.float16))
    x += 1e-4
    assert x.dtype == lumina.float16


def test_a_result_larger_than_the_tensor_raises():
    raises_both(lambda lib, x: x.__iadd__(lib.ones(2, 3)), LuminaShapeError, arr(3))
    raises_both(lambda lib, x: x.copy_(lib.ones(2, 3)), LuminaShapeError, arr(3))


def test_fill_and_masked_fill_take_only_0d_value_tensors_and_bool_masks():
    raises_both(lambda lib, x: x.fill_(lib.ones(2)), LuminaValueError, arr(2))
    raises_both(lambda lib, x: x.masked_fill_(lib.tensor([True, False]), lib.ones(2)), LuminaValueError, arr(2))
    raises_both(lambda lib, x: x.masked_fill_(lib.tensor([1, 0]), 1.0), LuminaTypeError, arr(2))


def test_out_of_place_masked_fill_broadcasts_and_differentiates():
    both(lambda lib, x, v: ((x.masked_fill(x > 0, v) * x).sum().backward(), x.masked_fill(x > 0, v))[1],
         arr(2, 3), np.float32(3.0), grad=(0, 1))


# ---- autograd ----------------------------------------------------------------------------------------

def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    raises_both(lambda lib, w: w.add_(1), LuminaGradError, arr(3), grad=(0,), match="leaf")
    raises_both(lambda lib, w: w.__imul__(2), LuminaGradError, arr(3), grad=(0,))
    raises_both(lambda lib, w: w[0:2].add_(1), LuminaGradError, arr(3), grad=(0,), match="view of a leaf")
    raises_both(lambda lib, w: w.__setitem__(0, 1.0), LuminaGradError, arr(3), grad=(0,))


def test_sgd_by_hand_under_no_grad_updates_the_leaf_and_keeps_it_a_leaf():
    def prog(lib, w, x):
        for _ in range(3):
            loss = ((x @ w).tanh() ** 2).sum()
            loss.backward()
            with lib.no_grad():
                w -= 0.1 * w.grad
                w.grad.zero_()
        assert w.requires_grad and w.is_leaf
        return w, loss
    both(prog, arr(3, 2), arr(4, 3), grad=(0,), rtol=1e-5, atol=1e-6)


def test_in_place_on_a_tensor_with_history_records_the_op():
    def prog(lib, w, u):
        y = w * 2.0
        y.add_(u)
        y.mul_(u)
        y -= w
        y.clamp_(-1.0, 1.0)
        (y * y).sum().backward()
        return y
    both(prog, arr(4), arr(4), grad=(0, 1))


def test_in_place_on_a_view_records_the_op_and_reaches_the_base():
    def prog(lib, w, u):
        y = w * 1.0
        v = y[1:3]
        v.mul_(u)
        y.t()[0].add_(u.sum())
        (y * y).sum().backward()
        return y, v
    both(prog, arr(3, 2), arr(2, 2), grad=(0, 1))


def test_in_place_under_no_grad_on_a_tensor_with_history_keeps_the_history():
    # torch: the update is not recorded, the gradient passes through as if it had not happened
    def prog(lib, w):
        y = w * 2.0
        with lib.no_grad():
            y.add_(1.0)
            y[0] = 5.0
        (y * y).sum().backward()
        return y
    both(prog, arr(3), grad=(0,))


def test_a_tensor_without_grad_updated_with_one_that_has_it_gets_history():
    def prog(lib, x, w):
        x[1:] = w * 3.0
        assert x.requires_grad and not x.is_leaf
        x.add_(w.sum())
        (x * x).sum().backward()
        return x
    both(prog, arr(3), arr(2), grad=(1,))


def test_setitem_gradients_reach_the_value_and_the_rest():
    idx = np.array([2, 0])

    def prog(lib, w, v):
        x = w * 1.0
        x[lib.tensor(idx)] = v * 2.0
        x[:, 1] = v[0, 0]
        x[x.detach() > 0.5] = 0.0
        ((x ** 2) * lib.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4))).sum().backward()
        return x
    both(prog, arr(3, 4), arr(2, 4), grad=(0, 1))


def test_detach_aliases_and_may_be_modified_without_recording():
    def prog(lib, w):
        d = w.detach()
        d.add_(1.0)
        assert w.is_leaf and w.requires_grad
        (w * w).sum().backward()
        return w, d
    both(prog, arr(3), grad=(0,))


def test_a_view_made_under_no_grad_cannot_be_modified_with_grad_on():
    def prog(lib, w):
        with lib.no_grad():
            v = w[0:2]
        v.add_(1)
    raises_both(prog, LuminaGradError, arr(3), grad=(0,), match="no_grad")

    def inside(lib, w):
        with lib.no_grad():
            v = w[0:2]
            v.add_(1)
        assert w.is_leaf
        return w
    both(inside, arr(3), grad=(0,))


# ---- version counters: a value backward needs, modified in place --------------------------------------

def _exp_then_add(lib, w):
    y = w.exp()             # exp's gradient reads its result
    y.add_(1)
    y.sum().backward()


def _mul_then_mul(lib, w):
    y = w + 1
    z = y * y               # mul's gradient reads its operands
    y.mul_(2)
    z.sum().backward()


def _log_then_setitem(lib, w):
    y = w.exp()
    z = y.log()             # log's gradient reads its input
    y[0] = 1.0
    z.sum().backward()


def _through_another_view(lib, w):
    y = w.sin()
    v = y[1:]
    z = y[:2] * y[:2]       # reads a view of y; v shares its version
    v.zero_()
    z.sum().backward()


@pytest.mark.parametrize("prog", [_exp_then_add, _mul_then_mul, _log_then_setitem, _through_another_view])
def test_modifying_a_value_backward_needs_raises(prog):
    raises_both(prog, LuminaGradError, arr(3), grad=(0,), match="modified by an in-place operation")


def test_modifying_a_value_backward_does_not_need_is_fine():
    def prog(lib, w):
        y = w * 2.0          # a product with a constant keeps nothing of w's result
        z = y + 1.0
        y.add_(5.0)
        (z * 3.0).sum().backward()
        return z, y
    both(prog, arr(3), grad=(0,))


def test_a_leaf_updated_between_forward_and_backward_gets_the_gradient_of_its_old_value():
    def prog(lib, w, x):
        loss = (w + x).sum() + (w * 3.0).sum()     # add and a constant product keep nothing of w
        with lib.no_grad():
            w.mul_(0.5)
        loss2 = loss + (w * x).sum()
        loss2.backward()
        return w
    both(prog, arr(3), arr(3), grad=(0,))


def test_an_optimizer_step_between_forward_and_backward_raises():
    def prog(lib, w, x):
        loss = (w * w * x).sum()      # mul keeps w for the gradient
        with lib.no_grad():
            w.mul_(0.5)
        loss.backward()
    raises_both(prog, LuminaGradError, arr(3), arr(3), grad=(0,))


def test_version_counts_updates_of_the_base_and_its_views():
    def prog(lib, x):
        v = x[0]
        x.add_(1)
        v.mul_(2)
        x[1] = 3.0
        x.zero_()
        x.fill_(1.0)
        x.clamp_(0, 1)
        x.masked_fill_(x > 0, 2.0)
        return x
    for lib in (torch, lumina):
        x = lib.tensor(arr(2, 3))
        prog(lib, x)
        assert x._version == 7 and x[0]._version == 7


# ---- views alias both ways ----------------------------------------------------------------------------

VIEWS = {
    "row": lambda x: x[0],
    "negative_row": lambda x: x[-1],
    "columns": lambda x: x[:, 1:3],
    "strided": lambda x: x[:, ::2],
    "element": lambda x: x[1, 2],
    "none_ellipsis": lambda x: x[None, ..., 1],
    "view": lambda x: x.view(3, 2),
    "reshape": lambda x: x.reshape(-1),
    "flatten": lambda x: x.flatten(),
    "t": lambda x: x.t(),
    "T": lambda x: x.T,
    "transpose": lambda x: x.transpose(0, 1),
    "permute": lambda x: x.permute(1, 0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "detach": lambda x: x.detach(),
    "split": lambda x: x.split(1, dim=1)[1],
    "chunk": lambda x: x.chunk(2, dim=0)[1],
    "iter": lambda x: list(x)[1],
    "view_of_view": lambda x: x.t()[1:, 0],
    "t_reshape_copy": lambda x: x.t().reshape(-1),       # not expressible with strides: a copy
    "contiguous_of_t": lambda x: x.t().contiguous(),     # a copy
    "clone": lambda x: x.clone(),                        # a copy
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_view_and_its_base_see_each_others_updates(name):
    def prog(lib, x):
        v = VIEWS[name](x)
        v.add_(10.0)               # through the view: the base changes
        first = v * 1.0
        x.mul_(-1.0)               # through the base: the view changes
        x[0, 0] = 100.0
        return x, v, first
    both(prog, arr(2, 3))


@pytest.mark.parametrize("name", ["row", "columns", "t", "view_of_view", "t_reshape_copy", "element"])
def test_a_view_and_its_base_inside_compile(name):
    def prog(lib, x):
        v = VIEWS[name](x)
        v += 10.0
        out = v * 1.0
        x.mul_(-1.0)
        return out, v * 1.0
    compiled_both(prog, arr(2, 3))


def test_writing_through_an_expanded_view_raises_unless_each_element_is_written_once():
    raises_both(lambda lib, x: x.expand(2, 3).add_(1), LuminaValueError, arr(3), match="expand")
    both(lambda lib, x: (x.expand(2, 3).__setitem__(0, 5.0), x)[1], arr(3))
    both(lambda lib, x: (x.expand(1, 3).__iadd__(1.0), x)[1], arr(3))


@pytest.mark.parametrize("prog", [
    lambda lib, x: x[1:].__iadd__(x[:-1]),
    lambda lib, x: x[1:].copy_(x[:-1]),
    lambda lib, x: x.__setitem__(slice(1, None), x[:-1]),
    lambda lib, x: x.reshape(3, 3).add_(x.reshape(3, 3).t()),
    lambda lib, x: x.__setitem__(lib.tensor([0, 1]), x[3:5]),
])
def test_partially_overlapping_operands_raise(prog):
    raises_both(prog, LuminaValueError, arr(9), match="clone")


def test_operands_that_are_the_written_elements_or_disjoint_are_fine():
    def prog(lib, x):
        x += x
        x[0:3].mul_(x[0:3])
        x[::2].copy_(x[1::2])
        x[1] = x[1]
        return x
    both(prog, arr(8))


def test_contiguous_is_the_same_tensor_when_already_contiguous():
    for lib in (torch, lumina):
        x = lib.tensor(arr(2, 3))
        assert x.contiguous() is x
        assert x.t().contiguous() is not x


# hypothesis: a random chain of views of a random tensor, then updates through the view and the base
@st.composite
def view_chains(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    steps = []
    cur = list(shape)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["slice", "int", "permute", "reshape", "unsqueeze", "squeeze"]))
        if kind == "slice" and cur:
            axis = draw(st.integers(0, len(cur) - 1))
            lo = draw(st.integers(-cur[axis], cur[axis]))
            hi = draw(st.integers(-cur[axis], cur[axis]))
            step = draw(st.integers(1, 3))
            steps.append(("slice", axis, slice(lo, hi, step)))
            cur[axis] = len(range(*slice(lo, hi, step).indices(cur[axis])))
        elif kind == "int" and cur and all(d > 0 for d in cur):
            axis = draw(st.integers(0, len(cur) - 1))
            i = draw(st.integers(-cur[axis], cur[axis] - 1))
            steps.append(("int", axis, i))
            cur.pop(axis)
        elif kind == "permute" and len(cur) > 1:
            perm = draw(st.permutations(range(len(cur))))
            steps.append(("permute", tuple(perm)))
            cur = [cur[p] for p in perm]
        elif kind == "reshape":
            n = int(np.prod(cur)) if cur else 1
            new = [n] if draw(st.booleans()) or n < 2 else [d for d in (2, n // 2) if n % 2 == 0] or [n]
            if int(np.prod(new)) != n:
                new = [n]
            steps.append(("reshape", tuple(new)))
            cur = list(new)
        elif kind == "unsqueeze":
            axis = draw(st.integers(0, len(cur)))
            steps.append(("unsqueeze", axis))
            cur.insert(axis, 1)
        elif kind == "squeeze" and 1 in cur:
            steps.append(("squeeze", cur.index(1)))
            cur.pop(cur.index(1))
    return shape, steps


def _apply_chain(x, steps):
    for step in steps:
        if step[0] == "slice":
            x = x[(slice(None),) * step[1] + (step[2],)]
        elif step[0] == "int":
            x = x[(slice(None),) * step[1] + (step[2],)]
        elif step[0] == "permute":
            x = x.permute(tuple(step[1]))
        elif step[0] == "reshape":
            x = x.reshape(tuple(step[1]))
        elif step[0] == "unsqueeze":
            x = x.unsqueeze(step[1])
        else:
            x = x.squeeze(step[1])
    return x


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(view_chains())
def test_random_view_chains_alias_as_in_torch(chain):
    shape, steps = chain
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)

    def prog(lib, x):
        v = _apply_chain(x, steps)
        v.add_(100.0)
        w = _apply_chain(x, steps)     # a second view of the same elements
        x.mul_(2.0)
        v[...] = v * 3.0 + 1.0
        return x, v, w
    both(prog, a)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3), st.data())
def test_compute_stride_matches_torch_view_rule(shape, data):
    x = torch.zeros(shape).permute(*reversed(range(len(shape))))
    x = x[tuple(slice(None, None, data.draw(st.integers(1, 2))) for _ in shape)]
    n = x.numel()
    new = data.draw(st.sampled_from([(n,), (1, n), (n, 1)] + ([(2, n // 2)] if n % 2 == 0 else [])))
    from lumina.tensor.aliases import compute_stride
    try:
        expected = x.view(new).stride()
    except RuntimeError:
        expected = None
    got = compute_stride(tuple(x.shape), x.stride(), new)
    assert got == expected


# ---- __setitem__ ----------------------------------------------------------------------------------------

SETITEMS = {
    "int": lambda lib, x, y: x.__setitem__(1, 5.0),
    "negative_int": lambda lib, x, y: x.__setitem__(-1, y[0]),
    "int_int": lambda lib, x, y: x.__setitem__((0, -2), 7.0),
    "slice": lambda lib, x, y: x.__setitem__(slice(1, None), y[:2]),
    "step_slice": lambda lib, x, y: x.__setitem__((slice(None), slice(None, None, 2)), 0.5),
    "negative_slice": lambda lib, x, y: x.__setitem__((slice(-2, None), slice(-3, -1)), y[0, :2]),
    "none_ellipsis": lambda lib, x, y: x.__setitem__((None, Ellipsis, 1), 9.0),
    "index_tensor": lambda lib, x, y: x.__setitem__(lib.tensor([2, 0]), y[:2]),
    "index_negative": lambda lib, x, y: x.__setitem__(lib.tensor([-1, 1]), y[0]),
    "index_duplicate": lambda lib, x, y: x.__setitem__(lib.tensor([0, 0, 1]), y[:3]),
    "index_array": lambda lib, x, y: x.__setitem__(np.array([1]), 3.0),
    "index_list": lambda lib, x, y: x.__setitem__([0, 2], y[1]),
    "index_2d": lambda lib, x, y: x.__setitem__(lib.tensor([[0], [2]]), 4.0),
    "column_index": lambda lib, x, y: x.__setitem__((slice(None), lib.tensor([3, 0])), y[:, :2]),
    "int_and_index": lambda lib, x, y: x.__setitem__((1, lib.tensor([0, 2])), -1.0),
    "two_indices": lambda lib, x, y: x.__setitem__((lib.tensor([0, 2]), lib.tensor([1, 3])), y[0, :2]),
    "mask_rows": lambda lib, x, y: x.__setitem__(lib.tensor([True, False, True]), y[0]),
    "mask_full": lambda lib, x, y: x.__setitem__(x > 0, 0.0),
    "mask_full_values": lambda lib, x, y: x.__setitem__(lib.tensor(np.arange(12).reshape(3, 4) % 3 == 0),
                                                          lib.arange(4).float()),
    "mask_columns": lambda lib, x, y: x.__setitem__((slice(None), lib.tensor([True, False, False, True])), y[:, 3:]),
    "mask_n_rows": lambda lib, x, y: x.__setitem__(lib.tensor([True, False, True]), y[:2]),
    "mask_list": lambda lib, x, y: x.__setitem__([False, True, False], 2.0),
    "mask_lazy": lambda lib, x, y: x.__setitem__(y > 0, y.sum()),
    "mask_lazy_rows": lambda lib, x, y: x.__setitem__(y[:, 0] > 0, y[0]),
}


@pytest.mark.parametrize("name", sorted(SETITEMS))
def test_setitem_matches_torch(name):
    both(lambda lib, x, y: (SETITEMS[name](lib, x, y), x)[1], arr(3, 4), arr(3, 4))


@pytest.mark.parametrize("name", ["int", "slice", "step_slice", "index_tensor", "index_duplicate",
                                  "column_index", "two_indices", "mask_full", "mask_rows", "mask_lazy"])
def test_setitem_inside_compile(name):
    compiled_both(lambda lib, x, y: (SETITEMS[name](lib, x, y), x + 0.0)[1:], arr(3, 4), arr(3, 4))


def test_setitem_with_index_tensors_computed_inside_compile():
    @lumina.compile
    def scatter(x, idx, v):
        x[idx] = v
        x[:, idx] += 1.0
        return x * 1.0

    a, v = arr(4, 4), arr(2, 4)
    for idx in (np.array([3, 1]), np.array([-4, 2])):
        t = torch.tensor(a.copy())
        t[torch.tensor(idx)] = torch.tensor(v)
        t[:, torch.tensor(idx)] += 1.0
        x = lumina.tensor(a.copy())
        out = scatter(x, lumina.tensor(idx), lumina.tensor(v))
        np.testing.assert_allclose(out.numpy(), t.numpy(), rtol=1e-6)
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-6)


def test_a_mask_computed_inside_compile_needs_a_value_that_does_not_count_it():
    @lumina.compile
    def fill(x, y):
        x[y > 0] = y.sum()      # a 0-d value: fine
        return x * 1.0

    a, b = arr(3, 4), arr(3, 4)
    t = torch.tensor(a.copy())
    t[torch.tensor(b) > 0] = torch.tensor(b).sum()
    np.testing.assert_allclose(fill(lumina.tensor(a.copy()), lumina.tensor(b)).numpy(), t.numpy(), rtol=1e-6)

    @lumina.compile
    def rows(x, y):
        x[y > 0] = lumina.ones(2)
        return x

    with pytest.raises(LuminaTraceError, match="number of True"):
        rows(lumina.tensor(arr(2)), lumina.tensor(arr(2)))


@pytest.mark.parametrize("prog,error", [
    (lambda lib, x: x.__setitem__(3, 1.0), LuminaIndexError),
    (lambda lib, x: x.__setitem__((0, -5), 1.0), LuminaIndexError),
    (lambda lib, x: x.__setitem__(lib.tensor([0, 3]), 1.0), LuminaIndexError),
    (lambda lib, x: x.__setitem__((slice(None), lib.tensor([-5])), 1.0), LuminaIndexError),
    (lambda lib, x: x.__setitem__(lib.tensor([True, False]), 1.0), LuminaIndexError),
    (lambda lib, x: x.__setitem__(lib.tensor([0, 1]), lib.ones(3)), LuminaShapeError),
    (lambda lib, x: x.__setitem__(0, lib.ones(2)), LuminaShapeError),
    (lambda lib, x: x.__setitem__(lib.tensor([True, False, True]), lib.ones(3, 4)), LuminaShapeError),
])
def test_setitem_errors(prog, error):
    raises_both(prog, error, arr(3, 4))


# ---- modules and optimizers ------------------------------------------------------------------------------

def test_an_in_place_update_keeps_the_module_parameter():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    names = [n for n, _ in model.named_parameters()]
    before = {n: p for n, p in model.named_parameters()}
    w = model[0].weight.numpy().copy()
    with lumina.no_grad():
        model[0].weight += 1.0
        model[2].bias.mul_(0.0)
        model[0].weight[0] = 0.0
    assert [n for n, _ in model.named_parameters()] == names
    assert all(p is before[n] for n, p in model.named_parameters())
    assert list(model.state_dict()) == names
    expected = w + 1.0
    expected[0] = 0.0
    np.testing.assert_array_equal(model[0].weight.numpy(), expected)
    np.testing.assert_array_equal(model[2].bias.numpy(), np.zeros(2, np.float32))
    with pytest.raises(LuminaGradError, match="leaf"):
        model[0].weight += 1.0
    # the updated parameter still trains: its gradient is found and a step uses it
    opt = lumina.optim.SGD(model.parameters(), lr=0.1)
    model(lumina.tensor(arr(5, 3))).sum().backward()
    assert model[0].weight.grad is not None
    opt.step()


def test_a_compiled_training_step_with_hand_written_updates_matches_torch():
    xs = [arr(8, 3) for _ in range(3)]
    w0, b0 = arr(3, 2), arr(2)

    tw = torch.tensor(w0.copy(), requires_grad=True)
    tb = torch.tensor(b0.copy(), requires_grad=True)
    t_losses = []
    for x in xs:
        loss = ((torch.tensor(x) @ tw + tb).tanh() ** 2).mean()
        loss.backward()
        with torch.no_grad():
            tw -= 0.5 * tw.grad
            tb.sub_(tb.grad, alpha=0.5)
            tw.grad.zero_()
            tb.grad = None
        t_losses.append(loss.item())

    w = lumina.tensor(w0.copy(), requires_grad=True)
    b = lumina.tensor(b0.copy(), requires_grad=True)
    w_view = w[:, 0]      # a view of the parameter, read after the steps

    @lumina.compile
    def step(x):
        nonlocal w
        loss = ((x @ w + b).tanh() ** 2).mean()
        loss.backward()
        with lumina.no_grad():
            w -= 0.5 * w.grad
            b.sub_(b.grad, alpha=0.5)
            w.grad.zero_()
        b.grad = None
        return loss

    losses = [step(x).item() for x in xs]
    np.testing.assert_allclose(losses, t_losses, rtol=1e-5)
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), tb.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_view.numpy(), tw.detach().numpy()[:, 0], rtol=1e-5, atol=1e-6)
    assert w.is_leaf and w.requires_grad


def test_state_updated_through_a_view_inside_compile_is_written_back():
    acc = lumina.tensor(np.zeros((2, 3), np.float32))
    row = acc[1]                       # made before the compiled function: state too

    @lumina.compile
    def add(x):
        acc[0] += x
        row.add_(x * 2.0)
        return row * 1.0

    for i in range(1, 4):
        out = add(lumina.tensor(np.ones(3, np.float32)))
        np.testing.assert_array_equal(out.numpy(), np.full(3, 2.0 * i, np.float32))
    np.testing.assert_array_equal(acc.numpy(), np.array([[3.0] * 3, [6.0] * 3], np.float32))
    np.testing.assert_array_equal(row.numpy(), np.full(3, 6.0, np.float32))


def test_a_numpy_argument_updated_in_place_inside_compile_is_written_back():
    @lumina.compile
    def bump(x):
        x += 1.0
        return x.sum()

    a = np.zeros(3, np.float32)
    bump(a)
    bump(a)
    np.testing.assert_array_equal(a, np.full(3, 2.0, np.float32))


def test_in_place_errors_are_raised_inside_compile_too():
    w = lumina.tensor(arr(3), requires_grad=True)

    @lumina.compile
    def bad(x):
        w.add_(x)
        return w.sum()

    with pytest.raises(LuminaGradError, match="leaf"):
        bad(lumina.tensor(arr(3)))
    np.testing.assert_array_equal(w.numpy(), w.numpy())   # still readable after the failed trace

    @lumina.compile
    def saved(x):
        y = (x * w).exp()
        y.add_(1.0)
        y.sum().backward()
        return y

    with pytest.raises(LuminaGradError, match="modified by an in-place operation"):
        saved(lumina.tensor(arr(3)))

    @lumina.compile
    def cast(i):
        i += 0.5
        return i

    with pytest.raises(LuminaTypeError, match="can't be cast"):
        cast(lumina.tensor(np.arange(3)))


def test_a_compiled_function_with_views_and_setitem_on_cuda_through_tritons_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.delenv("LUMINA_DEVICE", raising=False)

    def prog(lib, x, i, m):
        x[1:, ::2] += 1.0
        x.t()[0] = 7.0
        x[i] = x[0] * 2.0
        m[m > 1] = 0                 # an int64 tensor: the fillers of the write-back are ints
        m[:, 1] *= 3
        return x * 1.0, m + 0

    a, mi, idx = np.arange(12, dtype=np.float32).reshape(3, 4), np.arange(6).reshape(2, 3), np.array([2, 0])
    tx, tm = torch.tensor(a.copy()), torch.tensor(mi.copy())
    t_out = prog(torch, tx, torch.tensor(idx), tm)
    f = lumina.compile(lambda x, i, m: prog(lumina, x, i, m), device="cuda")
    lx, lm = lumina.tensor(a.copy()), lumina.tensor(mi.copy())
    l_out = f(lx, lumina.tensor(idx), lm)
    for t, lu in zip(list(t_out) + [tx, tm], list(l_out) + [lx, lm]):
        np.testing.assert_array_equal(lu.numpy(), t.numpy())


def test_an_index_out_of_range_computed_inside_compile_raises_when_it_runs():
    @lumina.compile
    def put(x, i):
        x[i] = 1.0
        return x * 1.0

    x = lumina.tensor(arr(3, 2))
    put(x, lumina.tensor(np.array([0, 2])))
    with pytest.raises(LuminaIndexError, match="setitem"):
        put(x, lumina.tensor(np.array([0, 3])))


def test_data_is_a_detached_alias():
    def prog(lib, w):
        w.data.mul_(2.0)
        w.data[0] = 5.0
        (w * w).sum().backward()
        return w
    both(prog, arr(3), grad=(0,))


def test_grad_of_a_function_that_updates_its_input_in_place_raises():
    with pytest.raises(RuntimeError):
        torch.func.grad(lambda x: x.mul_(2).sum())(torch.ones(3))
    with pytest.raises(LuminaGradError, match="in place"):
        lumina.grad(lambda x: x.mul_(2).sum())(lumina.ones(3))
    # a clone may be updated: the gradient goes through the update
    g = lumina.grad(lambda x: x.clone().mul_(x).sum())(lumina.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])


def test_state_updated_in_place_outside_compile_does_not_keep_earlier_steps_graphs():
    from lumina.tensor.inplace import PENDING_LIMIT
    w = lumina.tensor(arr(4, 3), requires_grad=True)
    x = lumina.tensor(arr(5, 4))
    for _ in range(3):
        (x @ w).tanh().sum().backward()
        with lumina.no_grad():
            w -= 0.1 * w.grad          # the gradient's graph: computed at once, as in torch
        assert w._realized
        w.grad = None
    buf = lumina.tensor(np.zeros((PENDING_LIMIT + 2, 3), np.float32))
    for i in range(PENDING_LIMIT + 2):
        buf[i] = float(i)              # small writes stay lazy, computed together every PENDING_LIMIT
        assert buf._realized == (i + 1 == PENDING_LIMIT)
    np.testing.assert_array_equal(buf.numpy()[:, 0], np.arange(PENDING_LIMIT + 2, dtype=np.float32))


@pytest.mark.parametrize("prog,error", [
    (lambda lib, i: i.fill_(float("nan")), LuminaValueError),
    (lambda lib, i: i.__setitem__(0, float("inf")), LuminaValueError),
    (lambda lib, i: i.__setitem__(0, 1e30), LuminaValueError),
    (lambda lib, i: i.int().__setitem__(0, 2 ** 40), LuminaValueError),
    (lambda lib, i: i.masked_fill_(i == 0, float("nan")), LuminaValueError),
    (lambda lib, i: i.__setitem__(lib.tensor([0]), lib.tensor([2.5])), LuminaTypeError),   # index_put: dtypes
    (lambda lib, i: i.__setitem__(lib.tensor([0]), lib.tensor(2.5)), LuminaTypeError),
    (lambda lib, i: i.float().__setitem__(i > 0, lib.tensor([1, 2])), LuminaTypeError),
])
def test_values_an_integer_tensor_cannot_take_raise(prog, error):
    raises_both(prog, error, np.arange(3), torch_error=(RuntimeError, OverflowError))


def test_a_0d_value_through_one_mask_is_cast_like_masked_fill():
    both(lambda lib, x: (x.__setitem__(x > 0, lib.tensor(2)), x)[1], arr(3, 2))
    both(lambda lib, i: (i.__setitem__(lib.tensor([0]), 2.9), i)[1], np.arange(3))   # a number: converted


def test_a_compiled_step_between_forward_and_backward_counts_as_an_in_place_update():
    w = lumina.tensor(arr(3), requires_grad=True)

    @lumina.compile
    def scale():
        with lumina.no_grad():
            w.mul_(0.5)
        return w * 1.0

    loss = (w * w).sum()        # mul keeps w for the gradient
    version = w._version
    scale()
    assert w._version > version
    with pytest.raises(LuminaGradError, match="modified by an in-place operation"):
        loss.backward()
    added = (w + 1.0).sum()     # add keeps nothing: the gradient reaches the old value's tensor
    scale()
    added.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3, np.float32))
