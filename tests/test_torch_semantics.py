"""PyTorch's semantics where lumina uses PyTorch's names: NaN and inf through compare-and-select ops,
overflow-safe statistics, calling conventions, axes and sizes. PyTorch 2.13 CPU (or float64 NumPy,
where torch itself overflows) is the oracle."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import lumina
import lumina.nn as nn
from lumina.errors import LuminaIndexError, LuminaTraceError, LuminaTypeError, LuminaValueError
from lumina.nn import functional as F

NAN, INF = math.nan, math.inf
SPECIAL = np.array([NAN, INF, -INF, 0.0, -0.0, 1.0, -2.5, 3e38, -3e38, 1e-40], np.float32)


def _same(got, want):
    """Equal values with NaN positions, signs of infinities and dtypes equal."""
    got = got.numpy() if isinstance(got, lumina.Tensor) else np.asarray(got)
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


def _grads(fn_l, fn_t, *arrays):
    """Gradients of ``fn(x...).sum()`` from lumina and torch, per input."""
    xs = [lumina.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    fn_l(*xs).sum().backward()
    fn_t(*ts).sum().backward()
    return [(x.grad.numpy(), t.grad.numpy()) for x, t in zip(xs, ts)]


# ---- 1. NaN and inf ----------------------------------------------------------------------------

@pytest.mark.parametrize("relu", [lambda L, x: x.relu(), lambda L, x: L.relu(x),
                                  lambda L, x: (F.relu if L is lumina else TF.relu)(x),
                                  lambda L, x: (nn.ReLU() if L is lumina else torch.nn.ReLU())(x)],
                         ids=["method", "function", "F.relu", "nn.ReLU"])
def test_relu_keeps_nan_and_its_gradient(relu):
    a = SPECIAL.copy()
    _same(relu(lumina, lumina.tensor(a)), relu(torch, torch.tensor(a)))
    for got, want in _grads(lambda x: relu(lumina, x), lambda t: relu(torch, t), a):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_return_the_first_nan(name):
    a = np.array([[1.0, NAN, 3.0, NAN], [2.0, 2.0, -INF, INF], [NAN, 0.0, 0.0, 1.0]], np.float32)
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            _same(getattr(lumina.tensor(a), name)(dim, keepdim), getattr(torch.tensor(a), name)(dim, keepdim))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_values_and_gradients_at_nan(name):
    x = np.array([1.0, NAN, 3.0, 2.0, NAN, -0.0], np.float32)
    y = np.array([2.0, 2.0, NAN, 2.0, NAN, 0.0], np.float32)
    _same(getattr(lumina, name)(lumina.tensor(x), lumina.tensor(y)), getattr(torch, name)(torch.tensor(x), torch.tensor(y)))
    for got, want in _grads(getattr(lumina, name), getattr(torch, name), x, y):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("bounds", [(None, 2.0), (1.0, None), (1.0, 2.0), (2.0, 1.0), (NAN, None), (None, NAN),
                                    (NAN, 2.0), (1.0, NAN)])
def test_clamp_with_scalar_bounds_nan_included(bounds):
    a = np.array([0.0, 1.5, 3.0, NAN, -INF, INF], np.float32)
    _same(lumina.tensor(a).clamp(*bounds), torch.tensor(a).clamp(*bounds))


def test_clamp_with_tensor_bounds_holding_nan():
    x = np.array([1.0, NAN, 3.0, 0.5, 5.0, 2.0], np.float32)
    lo = np.array([2.0, 0.0, NAN, 0.0, 0.0, 3.0], np.float32)
    hi = np.array([4.0, 4.0, 4.0, NAN, 4.0, 1.0], np.float32)
    _same(lumina.tensor(x).clamp(lumina.tensor(lo), lumina.tensor(hi)),
          torch.tensor(x).clamp(torch.tensor(lo), torch.tensor(hi)))
    _same(lumina.tensor(x).clamp(min=lumina.tensor(lo)), torch.tensor(x).clamp(min=torch.tensor(lo)))
    finite = np.isfinite(x) & np.isfinite(lo)     # torch's gradients where the result is not NaN
    gl, gt = _grads(lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b), x, lo)[1]
    np.testing.assert_array_equal(gl[finite], gt[finite])
    for got, want in _grads(lambda a, b, c: a.clamp(b, c), lambda a, b, c: a.clamp(b, c),
                            x[[0, 3, 4, 5]], lo[[0, 3, 4, 5]] * 0 + 1, hi[[0, 0, 4, 5]]):
        np.testing.assert_array_equal(got, want)


def test_max_min_over_nan_and_their_gradients():
    a = np.array([[1.0, NAN, 3.0], [1.0, 3.0, 3.0], [-INF, -INF, -INF]], np.float32)
    for name in ("max", "min"):
        got, want = getattr(lumina.tensor(a), name)(1), getattr(torch.tensor(a), name)(1)
        _same(got.values, want.values)
        _same(got.indices, want.indices)
        for g, w in _grads(lambda x: getattr(x, name)(1).values, lambda t: getattr(t, name)(1).values, a):
            np.testing.assert_array_equal(g, w)
        for g, w in _grads(lambda x: getattr(x, name)(), lambda t: getattr(t, name)(), a):
            np.testing.assert_array_equal(g, w)


# ---- 2. overflow-safe statistics -----------------------------------------------------------------

def test_var_std_of_huge_values_are_exact():
    assert lumina.tensor([3e38, 3e38]).var().item() == 0.0
    np.testing.assert_allclose(lumina.tensor([1e30, -1e30]).std().item(), math.sqrt(2) * 1e30, rtol=1e-6)
    np.testing.assert_allclose(lumina.tensor([1e-30, -1e-30]).std().item(), math.sqrt(2) * 1e-30, rtol=1e-6)
    big = np.array([[3e38, -3e38, 1e38], [1e20, 1e20 + 1e14, 1e20]], np.float32)
    want = big.astype(np.float64).var(1, ddof=1)
    np.testing.assert_allclose(lumina.tensor(big).var(1).numpy(), want.astype(np.float32), rtol=1e-6)


def test_layer_norm_and_batch_norm_of_huge_values():
    a = np.array([1e38, 1e38, -1e38, 1.0], np.float32)
    a64 = a.astype(np.float64)
    want = (a64 - a64.mean()) / np.sqrt(a64.var() + 1e-5)
    np.testing.assert_allclose(F.layer_norm(lumina.tensor(a), (4,)).numpy(), want, rtol=1e-5)
    np.testing.assert_array_equal(F.layer_norm(lumina.tensor([1e38, 1e38]), (2,)).numpy(), [0.0, 0.0])
    x = np.array([[[1e37]], [[-1e37]], [[3e37]]], np.float32).repeat(2, 1)      # [N=3, C=2, 1]
    x64 = x.astype(np.float64)
    want = (x64 - x64.mean((0, 2), keepdims=True)) / np.sqrt(x64.var((0, 2), keepdims=True) + 1e-5)
    rm, rv = lumina.zeros(2), lumina.ones(2)
    got = F.batch_norm(lumina.tensor(x), rm, rv, training=True)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)   # the float32 mean's rounding
    np.testing.assert_allclose(rm.numpy(), 0.1 * x64.mean((0, 2)), rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(float(np.float32(-3e38)), float(np.float32(3e38)), width=32), min_size=2, max_size=9),
       st.integers(0, 1))
def test_var_std_layer_norm_match_float64(values, correction):
    a = np.array(values, np.float32)
    a64 = a.astype(np.float64)
    var = a64.var(ddof=correction)
    got = lumina.tensor(a).var(correction=correction).item()
    if var <= np.finfo(np.float32).max:
        np.testing.assert_allclose(got, var, rtol=1e-5, atol=1e-38)
    np.testing.assert_allclose(lumina.tensor(a).std(correction=correction).item(), np.sqrt(var), rtol=1e-5,
                               atol=1e-38)
    if max(a64[a64 > 0].sum(), -a64[a64 < 0].sum()) > 0.99 * np.finfo(np.float32).max:
        return   # the documented limit: the mean is sum / N in float32, partial sums in any order
    sigma = np.sqrt(a64.var() + 1e-5)
    want = (a64 - a64.mean()) / sigma
    ulps = len(a) * np.abs(a64).max() * 2.0 ** -23 / sigma   # the float32 mean's rounding, in output units
    np.testing.assert_allclose(F.layer_norm(lumina.tensor(a), (len(a),)).numpy(), want, rtol=2e-4,
                               atol=2e-4 + ulps)


def test_layer_norm_gradients_match_the_exact_ones():
    """torch where it does not overflow, the float64 formula ``(w - mean(w) - y mean(w y)) / sigma``
    (Ba et al. 2016) at a scale where torch's float32 gradient is NaN."""
    rng = np.random.default_rng(0)
    w = np.arange(5.0)
    for scale in (1.0, 1e30):
        a = (rng.standard_normal((3, 5)) * scale).astype(np.float32)
        x = lumina.tensor(a, requires_grad=True)
        (F.layer_norm(x, (5,)) * lumina.tensor(w.astype(np.float32))).sum().backward()
        a64 = a.astype(np.float64)
        sigma = np.sqrt(a64.var(1, keepdims=True) + 1e-5)
        y = (a64 - a64.mean(1, keepdims=True)) / sigma
        want = (w - w.mean() - y * (w * y).mean(1, keepdims=True)) / sigma
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-3, atol=1e-5 / scale)
        if scale == 1.0:
            t = torch.tensor(a, requires_grad=True)
            (TF.layer_norm(t, (5,)) * torch.tensor(w, dtype=torch.float32)).sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


# ---- 3. calling conventions ---------------------------------------------------------------------

def test_max_min_forms():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], np.float32)
    x, t = lumina.tensor(a), torch.tensor(a)
    for name in ("max", "min"):
        got, want = getattr(x, name)(1), getattr(t, name)(1)
        assert type(got).__name__ == name and got._fields == ("values", "indices")
        values, indices = got
        _same(values, want.values)
        _same(indices, want.indices)
        kept = getattr(lumina, name)(x, 0, keepdim=True)
        _same(kept.values, getattr(torch, name)(t, 0, keepdim=True).values)
        _same(getattr(x, name)(), getattr(t, name)())
        b = np.array([[3.0, 3.0, 3.0]], np.float32)
        _same(getattr(lumina, name)(x, lumina.tensor(b)), getattr(torch, name)(t, torch.tensor(b)))
    with pytest.raises(LuminaTypeError, match="dim must be an int"):
        x.max((0, 1))
    _same(x.amax((0, 1)), t.amax((0, 1)))


def test_var_std_positional_unbiased_and_correction_none():
    a = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], np.float32)
    x, t = lumina.tensor(a), torch.tensor(a)
    for name in ("var", "std"):
        for args, kwargs in [((), {}), ((1, False), {}), ((1, True, True), {}), ((False,), {}),
                             ((0,), {"correction": None}), ((None,), {"correction": 0}), ((1,), {"correction": 2})]:
            got = getattr(x, name)(*args, **kwargs)
            want = getattr(t, name)(*args, **kwargs)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, err_msg=f"{name}{args}{kwargs}")
    with pytest.raises(LuminaTypeError):
        lumina.tensor([1, 2]).var()
    with pytest.raises(LuminaTypeError):
        lumina.tensor([1, 2]).mean()


def test_squeeze_takes_a_tuple_and_checks_dims():
    a = np.zeros((1, 3, 1, 2), np.float32)
    for dim in (None, 0, (0, 2), (0, 1), -2, ()):
        assert lumina.tensor(a).squeeze(dim).shape == torch.tensor(a).squeeze(*(() if dim is None else (dim,))).shape
    with pytest.raises(LuminaIndexError):
        lumina.tensor(a).squeeze(4)


def test_one_hot_infers_classes_and_returns_int64():
    _same(F.one_hot(lumina.tensor([0, 2, 1])), TF.one_hot(torch.tensor([0, 2, 1])))
    _same(F.one_hot(lumina.tensor([[0], [3]]), 5), TF.one_hot(torch.tensor([[0], [3]]), 5))
    with pytest.raises(LuminaValueError, match="not smaller than num_classes"):
        F.one_hot(lumina.tensor([0, 3]), 3)
    with pytest.raises(LuminaValueError, match="non-negative"):
        F.one_hot(lumina.tensor([-1, 1]), 3)
    with pytest.raises(LuminaTypeError, match="int64"):
        F.one_hot(lumina.tensor(np.array([0, 1], np.int32)), 3)
    with pytest.raises(LuminaTraceError, match="num_classes=-1"):
        lumina.compile(lambda y: F.one_hot(y))(np.array([0, 1]))


def test_rmatmul_passes_the_gradient_to_the_left_operand():
    a = lumina.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = lumina.tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    b.__rmatmul__(a).sum().backward()
    ta, tb = torch.ones(2, 3, requires_grad=True), torch.arange(12.0).reshape(3, 4).requires_grad_()
    (ta @ tb).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())


def test_multihead_attention_defaults_to_sequence_first_as_torch():
    assert nn.MultiheadAttention(8, 2).batch_first is False
    assert torch.nn.MultiheadAttention(8, 2).batch_first is False


# ---- 8. axes and sizes --------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda L: L.ones(2, 3).unsqueeze(5), lambda L: L.ones(2, 3).unsqueeze(-4), lambda L: L.ones(2, 3).sum(2),
    lambda L: L.ones(2, 3).transpose(0, 2), lambda L: L.ones(2, 3).permute(0, 5), lambda L: L.ones(2, 3).flatten(0, 3),
    lambda L: L.ones(2, 3).softmax(3) if L is torch else F.softmax(L.ones(2, 3), 3)])
def test_axes_out_of_range_raise_index_errors(call):
    with pytest.raises(IndexError):
        call(torch)
    with pytest.raises(LuminaIndexError if call is not None else Exception):
        call(lumina)


def test_sizes_must_be_integers_and_fit_in_memory():
    for bad in (2.5, "3", None, True):
        with pytest.raises(TypeError):
            torch.zeros(bad)
        with pytest.raises(LuminaTypeError):
            lumina.zeros(bad)
    with pytest.raises(LuminaValueError, match="more than this machine's memory"):
        lumina.ones(2 ** 62)
    with pytest.raises(LuminaValueError, match="more than this machine's memory"):
        lumina.arange(2 ** 40)
    with pytest.raises(LuminaValueError, match="more than this machine's memory"):
        lumina.ones(2 ** 31, 1) * lumina.ones(1, 2 ** 31)
    with pytest.raises(LuminaValueError, match="inconsistent with step sign"):
        lumina.arange(5, 0)
    assert lumina.zeros(np.int64(3), 2).shape == (3, 2)


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin", "argmax", "argmin"])
def test_extreme_over_an_empty_dim_raises(name):
    for make in (lambda L: L.ones(0, 3), lambda L: L.tensor(np.ones((0, 3), np.float32))):
        with pytest.raises(IndexError):
            getattr(make(torch), name)(0)
        with pytest.raises(LuminaIndexError, match="size 0"):
            getattr(make(lumina), name)(0)
    _same(lumina.ones(3, 0).amax(0), torch.ones(3, 0).amax(0))
    with pytest.raises(LuminaValueError):
        getattr(lumina.ones(0), name)()


def test_ragged_lists_raise_a_lumina_error():
    with pytest.raises(ValueError):
        torch.tensor([[1, 2], [3]])
    with pytest.raises(LuminaValueError, match="tensor"):
        lumina.tensor([[1, 2], [3]])
    with pytest.raises(LuminaTypeError):
        lumina.tensor(["a", "b"])


# ---- 9. a module called on NumPy ---------------------------------------------------------------

def test_module_called_on_a_numpy_array_returns_a_tensor_with_history():
    model = nn.Linear(3, 2)
    out = model(np.ones((4, 3), np.float32))
    assert isinstance(out, lumina.Tensor) and out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(model.weight.grad.numpy(), np.full((2, 3), 4.0, np.float32))


# ---- found by the differential harness (lumina.testing.torch_diff) --------------------------------

@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_bool_comparisons_order_false_below_true(op):
    a = np.array([False, False, True, True])
    b = np.array([False, True, False, True])
    _same(getattr(lumina.tensor(a), f"__{op}__")(lumina.tensor(b)), getattr(torch.tensor(a), f"__{op}__")(torch.tensor(b)))


def test_clamp_with_equal_bounds():
    a = np.array([-0.898, 0.5, -3.0, 4.0, NAN], np.float32)
    for lo, hi in ((-0.0, 0.0), (-1.0, -1.0), (2.0, 2.0)):
        _same(lumina.tensor(a).clamp(lo, hi), torch.tensor(a).clamp(lo, hi))
    x = a[:4]
    lo, hi = np.full(4, 1.0, np.float32), np.full(4, 1.0, np.float32)
    for got, want in _grads(lambda p, q, r: p.clamp(q, r), lambda p, q, r: p.clamp(q, r), x, lo, hi):
        np.testing.assert_array_equal(got, want)


def test_std_has_no_gradient_at_zero_deviation():
    for got, want in _grads(lambda x: x.std(), lambda t: t.std(), np.full(3, 2.0, np.float32)):
        np.testing.assert_array_equal(got, want)


def test_mean_loss_over_no_target_is_nan_with_zero_gradient():
    logits = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    target = np.full(3, -100)
    x, t = lumina.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    got, want = F.cross_entropy(x, lumina.tensor(target)), TF.cross_entropy(t, torch.tensor(target))
    assert math.isnan(got.item()) and math.isnan(want.item())
    got.backward()
    want.backward()
    np.testing.assert_array_equal(np.abs(x.grad.numpy()), t.grad.numpy())


def test_a_0d_tensor_promotes_like_a_scalar():
    for a_dt, b_dt in ((torch.bfloat16, torch.float64), (torch.float32, torch.float64), (torch.int64, torch.float64),
                       (torch.int32, torch.int64), (torch.bool, torch.int64)):
        a = torch.tensor([1, 0], dtype=a_dt)
        b = torch.tensor(1, dtype=b_dt)
        la = lumina.tensor(a.float().numpy()).to(str(a_dt).split(".")[1])
        lb = lumina.tensor(b.float().numpy()).to(str(b_dt).split(".")[1])
        assert str((la * lb).dtype).split(".")[-1] == str((a * b).dtype).split(".")[1], (a_dt, b_dt)
        assert str(lumina.where(la > 0, la, lb).dtype).split(".")[-1] == str(torch.where(a > 0, a, b).dtype).split(".")[1]


def test_integer_tensors_refuse_nan_and_0d_size_errors():
    with pytest.raises(LuminaValueError, match="NaN"):
        lumina.tensor(NAN, dtype=lumina.int32)
    with pytest.raises(LuminaIndexError):
        lumina.tensor(3.0).size(0)
    _same(lumina.tensor(3.0).transpose(0, -1), torch.tensor(3.0).transpose(0, -1))


def _layer_norms_with_an_empty_batch(lib, rows, empty, cotangents):
    """The input, weight and bias gradients of one LayerNorm(3) applied to each of ``rows`` and to
    the [0, 3] ``empty``, through one loss (lumina realises every result in one graph)."""
    ln = lib.nn.LayerNorm(3)
    state = {"weight": np.array([0.5, -2.0, 1.5], np.float32), "bias": np.array([0.25, 0.0, -1.0], np.float32)}
    ln.load_state_dict(state if lib is lumina else {k: torch.tensor(v) for k, v in state.items()})
    xs = [lib.tensor(r, requires_grad=True) for r in rows + [empty]]
    outs = [ln(x) for x in xs]
    loss = sum((o * lib.tensor(c)).sum() for o, c in zip(outs, cotangents)) + outs[-1].sum()
    loss.backward()
    results = outs + [x.grad for x in xs] + [ln.weight.grad, ln.bias.grad]
    if lib is lumina:
        lumina.realize(*results)
    return [r.detach().numpy() for r in results]


@pytest.mark.parametrize("row", [[0.0, 0.0, 0.0], [1e-45, 0.5, -0.0], [3.0, -1 / 3, 1.0]])
def test_layer_norm_beside_an_empty_batch_matches_torch(row, monkeypatch):
    """A row's LayerNorm realised with that of a [0, 3] tensor: the empty one's kernels once
    passed for stages over the row (gradients of 3e20, NaN or a different garbage value each run)."""
    from lumina.backends.cpu import executable
    monkeypatch.setattr(executable, "POISON", True)
    rows = [np.array(row, np.float32)]
    empty = np.zeros((0, 3), np.float32)
    cots = [np.array([1.0, -0.5, 2.0], np.float32)]
    for _ in range(2):
        got = _layer_norms_with_an_empty_batch(lumina, rows, empty, cots)
        want = _layer_norms_with_an_empty_batch(torch, rows, empty, cots)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_gather_with_an_empty_index_has_a_zero_gradient(monkeypatch):
    """The gradient, a sum over the empty index's rows padded to ``x``'s shape, is zeros (the pad
    once joined a row kernel of no rows, which left it unwritten: fresh buffers are poisoned here,
    so that shows as NaN)."""
    from lumina.backends.cpu import executable
    monkeypatch.setattr(executable, "POISON", True)
    index = np.zeros((2, 0), np.int64)
    grads = []
    for lib in (lumina, torch):
        x = lib.tensor(np.array([[-0.0]], np.float32), requires_grad=True)
        y = lib.gather(x, 0, lib.tensor(index))
        (y * lib.tensor(np.zeros((2, 0), np.float32))).sum().backward()
        if lib is lumina:
            lumina.realize(y, x.grad)
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(*grads)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_bitwise_and_or_not_on_integers_and_bools(dtype):
    a = np.array([0, 1, -1, 2, -3, 7, 100, -100]).astype(dtype)
    b = np.array([3, -1, 5, 6, 7, -8, 1, -1]).astype(dtype)
    for fn in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: ~x):
        _same(fn(lumina.tensor(a), lumina.tensor(b)), fn(torch.tensor(a), torch.tensor(b)))
    with pytest.raises(LuminaTypeError):
        lumina.tensor([1.0]) & lumina.tensor([2.0])


def test_bitwise_ops_on_the_triton_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    a, b = np.array([0, 1, -1, 2, -3, 7]), np.array([3, -1, 5, 6, 7, -8])
    got = lumina.compile(lambda x, y: (x & y, x | y, ~x, x >= y), device="cuda")(a, b)
    for g, want in zip(got, (a & b, a | b, ~a, a >= b)):
        np.testing.assert_array_equal(g.numpy(), want)
    t, f = np.array([False, False, True, True]), np.array([False, True, False, True])
    np.testing.assert_array_equal(lumina.compile(lambda x, y: x >= y, device="cuda")(t, f).numpy(), t >= f)


def test_max_pool2d_gives_a_window_s_gradient_to_its_last_nan_as_torch():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    a[0, 0, 1, 1] = a[0, 0, 0, 0] = a[0, 1, 2, 3] = NAN
    for args in ((2,), (3, 1, 1)):
        got, want = _grads(lambda x: F.max_pool2d(x, *args), lambda t: TF.max_pool2d(t, *args), a)[0]
        np.testing.assert_array_equal(got, want)


def test_gather_refuses_sparse_grad_instead_of_ignoring_it():
    with pytest.raises(LuminaValueError, match="sparse_grad"):
        lumina.ones(2, 3).gather(1, lumina.tensor([[0], [1]]), sparse_grad=True)


def test_integer_tensors_to_integer_scalar_powers():
    a = np.array([2, -3, 0, 7, 2 ** 31 - 1], np.int32)
    for n in (0, 1, 2, 3, 5, 31, 64):
        _same(lumina.tensor(a) ** n, torch.tensor(a) ** n)
    _same(lumina.tensor([True, False]) ** 2, torch.tensor([True, False]) ** 2)
    with pytest.raises(LuminaValueError, match="negative integer powers"):
        lumina.tensor(a) ** -1
