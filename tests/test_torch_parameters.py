"""The parameters lumina takes for torch's signatures (tests/test_torch_signatures.py) do what
torch's do, or refuse a value lumina does not support with LuminaValueError naming it."""
import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina import LuminaDeviceError, LuminaValueError


def arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_arange_takes_torchs_call_forms():
    for args, kw in [((5,), {}), ((2, 7), {}), ((1, 9, 3), {}), ((), {"end": 4}), ((1,), {"end": 4, "step": 2})]:
        np.testing.assert_array_equal(lumina.arange(*args, **kw).numpy(), torch.arange(*args, **kw).numpy())


def test_creation_functions_take_device_and_requires_grad():
    assert lumina.zeros(2, 3, device="cpu").dtype is lumina.float32
    assert lumina.randint(0, 5, (3,)).dtype is lumina.int64
    x = lumina.rand(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(LuminaDeviceError, match="zeros|full"):
        lumina.zeros(2, device="tpu")
    with pytest.raises(lumina.LuminaTypeError, match="randint: only floating-point"):
        lumina.randint(0, 5, (3,), requires_grad=True)


def test_backward_inputs_limits_the_leaves_and_create_graph_is_refused():
    a, b = lumina.tensor([1.0, 2.0], requires_grad=True), lumina.tensor([3.0], requires_grad=True)
    (a.sum() * b.sum()).backward(inputs=[a], retain_graph=True)
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])
    assert b.grad is None
    with pytest.raises(LuminaValueError, match="create_graph"):
        (a * 2).sum().backward(create_graph=True)
    with pytest.raises(LuminaValueError, match="inputs"):
        (a * 2).sum().backward(inputs=[a * 2])


def test_softmax_without_dim_is_torchs_implicit_dim_with_its_warning():
    for shape in [(4,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = arr(*shape)
        for f, tf in [(F.softmax, torch.nn.functional.softmax), (F.log_softmax, torch.nn.functional.log_softmax)]:
            with pytest.warns(UserWarning, match="Implicit dimension"):
                got = f(lumina.tensor(x)).numpy()
            with pytest.warns(UserWarning):
                want = tf(torch.tensor(x)).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert F.softmax(lumina.tensor(arr(3)), 0, dtype=lumina.float64).dtype is lumina.float64


def test_losses_refuse_the_legacy_arguments_and_weigh_mse_and_l1_as_torch():
    x, t, w = arr(3, 4), arr(3, 4, seed=1), np.abs(arr(3, 4, seed=2))
    with pytest.raises(LuminaValueError, match="size_average"):
        F.mse_loss(lumina.tensor(x), lumina.tensor(t), True)
    with pytest.raises(LuminaValueError, match="reduce"):
        F.cross_entropy(lumina.tensor(x), lumina.tensor(np.array([0, 1, 2])), reduce=False)
    for f, tf in [(F.mse_loss, torch.nn.functional.mse_loss), (F.l1_loss, torch.nn.functional.l1_loss)]:
        for reduction in ("mean", "sum", "none"):
            got = f(lumina.tensor(x), lumina.tensor(t), reduction=reduction, weight=lumina.tensor(w)).numpy()
            want = tf(torch.tensor(x), torch.tensor(t), reduction=reduction, weight=torch.tensor(w)).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-5)


def test_unsupported_values_are_refused():
    with pytest.raises(LuminaValueError, match="sparse"):
        nn.Embedding(4, 2, sparse=True)
    with pytest.raises(LuminaValueError, match="scale_grad_by_freq"):
        F.embedding(lumina.tensor([0]), lumina.ones(4, 2), scale_grad_by_freq=True)
    with pytest.raises(LuminaValueError, match="add_bias_kv"):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)
    with pytest.raises(LuminaValueError, match="differentiable"):
        lumina.optim.SGD(nn.Linear(2, 2).parameters(), differentiable=True)
    with pytest.raises(LuminaValueError, match="assign"):
        nn.Linear(2, 2).load_state_dict(nn.Linear(2, 2).state_dict(), assign=True)


def test_layers_take_dtype_and_module_to_casts_floating_state():
    lin = nn.Linear(3, 2, dtype=lumina.float64)
    assert lin.weight.dtype is lumina.float64 and lin.weight.is_leaf and lin.weight.requires_grad
    bn = nn.BatchNorm1d(3).to(lumina.float16)
    assert bn.running_mean.dtype is lumina.float16 and bn.num_batches_tracked.dtype is lumina.int64
    with pytest.raises(LuminaDeviceError):
        nn.Linear(2, 2, device="tpu")


def test_module_methods_take_torchs_parameters():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(list(model.parameters(recurse=False))) == 0 and len(list(model.parameters())) == 4
    state = model.state_dict(prefix="m.")
    assert list(state) == ["m.0.weight", "m.0.bias", "m.2.weight", "m.2.bias"]
    assert model.state_dict(keep_vars=True)["0.weight"] is model[0].weight
    model(lumina.ones(1, 2)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_inplace_relu_and_dropout_update_their_input():
    x = lumina.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    y = lumina.tensor([1.0, 1.0])
    nn.ReLU(inplace=True)(y)
    out = nn.Dropout(1.0, inplace=True)(y)
    assert out is y and not y.numpy().any()


def test_grouped_query_attention_repeats_the_key_and_value_heads():
    q, k, v = arr(2, 4, 3, 5), arr(2, 2, 6, 5, seed=1), arr(2, 2, 6, 7, seed=2)
    got = F.scaled_dot_product_attention(*map(lumina.tensor, (q, k, v)), enable_gqa=True).numpy()
    want = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)), enable_gqa=True).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_tensor_to_takes_torchs_forms():
    x = lumina.tensor([1.5, 2.5])
    assert x.to(lumina.float64).dtype is lumina.float64
    assert x.to("cpu", lumina.float16).dtype is lumina.float16
    assert x.to(lumina.zeros(1, dtype=lumina.int32)).dtype is lumina.int32
    assert x.to(copy=True) is not x
    assert x.type() == torch.tensor([1.5]).type() and x.type(lumina.int64).dtype is lumina.int64
    assert lumina.max(x, lumina.tensor([2.0, 2.0])).tolist() == [2.0, 2.5]
