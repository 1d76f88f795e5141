"""``F.pad`` in every mode and the padding layers against torch: values and gradients (the gather's
scatter-add against torch's reflection / replication backward kernels), integer dtypes, eager and
``@lumina.compile``, finite differences, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError
from gradcheck import check

RNG = np.random.default_rng(5)
MODES = ["reflect", "replicate", "circular"]


def arr(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, pads", [
    ((2, 3, 5), (1, 2)), ((3, 5), (2, 2)), ((2, 3, 5), (-1, 2)), ((2, 3, 5), (2, -2)),
    ((1, 2, 4, 5), (1, 1, 2, 3)), ((2, 4, 5), (0, 1, -1, 3)), ((1, 2, 3, 4, 5), (1, 1, 1, 2, 2, 0)),
    ((2, 3, 4, 5), (2, 2, 1, 1, 0, 2)),
])
def test_pad_matches_torch_values_and_gradients(mode, shape, pads):
    x = arr(*shape)
    want = torch.nn.functional.pad(torch.tensor(x), pads, mode=mode)
    got = F.pad(lumina.tensor(x), pads, mode=mode)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    check(lambda L, F_, a: F_.pad(a, pads, mode=mode), x, directions=2)


@pytest.mark.parametrize("mode", MODES)
def test_integer_and_float32_inputs_keep_their_dtype(mode):
    for dtype in (np.int64, np.int32, np.float32):
        x = (RNG.integers(-9, 9, (2, 3, 4))).astype(dtype)
        got = F.pad(lumina.tensor(x), (1, 2, 2, 1), mode)
        assert got.dtype.name == np.dtype(dtype).name
        np.testing.assert_array_equal(got.numpy(), torch.nn.functional.pad(torch.tensor(x), (1, 2, 2, 1), mode).numpy())


def test_pad_inside_compile_matches_eager():
    x = arr(2, 3, 4, 5, dtype=np.float32)

    @lumina.compile
    def f(a):
        return F.pad(a, (1, 2, 2, 1), "reflect") + F.pad(a, (1, 2, 2, 1), "circular") * 2 \
            - F.pad(a, (1, 2, 2, 1), "replicate") + F.pad(a, (1, 2, 2, 1), value=3.0)

    tx = torch.tensor(x)
    want = (torch.nn.functional.pad(tx, (1, 2, 2, 1), "reflect") + torch.nn.functional.pad(tx, (1, 2, 2, 1), "circular")
            * 2 - torch.nn.functional.pad(tx, (1, 2, 2, 1), "replicate") + torch.nn.functional.pad(tx, (1, 2, 2, 1),
                                                                                                    value=3.0))
    np.testing.assert_allclose(f(x).numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["Zero", "Constant", "Reflection", "Replication", "Circular"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_padding_layers_match_torch(kind, nd):
    name = f"{kind}Pad{nd}d"
    args = ((1, 2) * nd, 0.5) if kind == "Constant" else ((1, 2) * nd,)
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert ours.padding == theirs.padding and ours.extra_repr() == theirs.extra_repr()
    x = arr(2, 3, *(4,) * nd)
    lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ours(lx), theirs(tx)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    c = arr(*tout.shape)
    (out * lumina.tensor(c)).sum().backward()
    (tout * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert getattr(nn, name)(2, *args[1:]).padding == getattr(torch.nn, name)(2, *args[1:]).padding


@pytest.mark.parametrize("call, err, match", [
    (lambda: F.pad(lumina.tensor(arr(2, 3, 4)), (4, 0), "reflect"), LuminaValueError, "less than"),
    (lambda: F.pad(lumina.tensor(arr(2, 3, 4)), (5, 0), "circular"), LuminaValueError, "more than once"),
    (lambda: F.pad(lumina.tensor(arr(4)), (1, 1), "replicate"), LuminaShapeError, "not supported"),
    (lambda: F.pad(lumina.tensor(arr(1, 1, 1, 1, 4)), (1, 1), "reflect"), LuminaShapeError, "not supported"),
    (lambda: F.pad(lumina.tensor(arr(2, 3, 4)), (1, 1), "reflect", 1.0), LuminaValueError, "value"),
    (lambda: F.pad(lumina.tensor(arr(2, 3, 4)), (1, 1), "mirror"), LuminaValueError, "mode"),
    (lambda: F.pad(lumina.tensor(arr(2, 3, 4)), (1.5, 1), "reflect"), LuminaTypeError, "ints"),
    (lambda: F.pad(lumina.tensor(arr(2, 3, 4)), (-2, -2), "replicate"), LuminaValueError, "no elements"),
    (lambda: nn.ReflectionPad2d((1, 2, 3)), LuminaValueError, "4 ints"),
    (lambda: nn.CircularPad2d(1)(lumina.tensor(arr(4, 4))), LuminaShapeError, "not supported"),
])
def test_bad_input_raises_a_lumina_error(call, err, match):
    with pytest.raises(err, match=match):
        call()
