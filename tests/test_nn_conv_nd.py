"""N-d convolutions against torch: ``conv1d`` / ``conv3d`` / ``conv_transpose1d/2d/3d`` (values,
input / weight / bias gradients against torch and float64 finite differences through
``@lumina.compile``), float32 agreement, the ``Conv*`` / ``ConvTranspose*`` layers with torch's
weights (padding modes, ``output_size``), and the errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError
from gradcheck import check

RNG = np.random.default_rng(7)


def arr(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((2, 4, 7), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    ((2, 3, 7), (4, 3, 3), dict(padding="same", dilation=2)),
    ((3, 6), (2, 3, 6), {}),                                    # unbatched, kernel == input
    ((1, 2, 5), (3, 2, 2), dict(stride=4)),                     # stride > kernel
    ((1, 2, 4, 5, 3), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
    ((1, 2, 5, 4, 4), (2, 1, 3, 3, 3), dict(padding="same", groups=2)),   # 27 taps: the skewed im2col
], ids=["1d-groups", "1d-same-dilated", "1d-unbatched-full", "1d-stride-gt-kernel", "3d", "3d-taps"])
def test_conv_matches_torch_and_finite_differences(x_shape, w_shape, kw):
    nd = len(w_shape) - 2
    fn = lambda L, F_, x, w, b: getattr(F_, f"conv{nd}d")(x, w, b, **kw)   # noqa: E731
    check(fn, arr(*x_shape), arr(*w_shape), arr(w_shape[0]), directions=2)


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((2, 4, 5), (4, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((4, 3), (4, 2, 2), dict(stride=3)),                                   # unbatched, stride > kernel
    ((1, 2, 3, 4), (2, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), dilation=2, output_padding=(1, 2))),
    ((1, 2, 2, 3, 2), (2, 2, 2, 2, 2), dict(stride=2, output_padding=(1, 0, 1))),
    ((1, 3, 4), (3, 1, 5), dict(padding=3)),                               # padding past the kernel crops
], ids=["1d", "1d-unbatched", "2d", "3d", "1d-crop"])
def test_conv_transpose_matches_torch_and_finite_differences(x_shape, w_shape, kw):
    nd = len(w_shape) - 2
    groups = kw.get("groups", 1)
    fn = lambda L, F_, x, w, b: getattr(F_, f"conv_transpose{nd}d")(x, w, b, **kw)   # noqa: E731
    check(fn, arr(*x_shape), arr(*w_shape), arr(w_shape[1] * groups), directions=2)


@pytest.mark.parametrize("op, x_shape, w_shape, kw", [
    ("conv1d", (2, 3, 9), (4, 3, 3), dict(stride=2, padding=2, dilation=2)),
    ("conv3d", (1, 2, 4, 4, 4), (3, 2, 2, 2, 2), dict(padding=1)),
    ("conv_transpose2d", (2, 3, 4, 4), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
])
def test_float32_eager_and_compiled_agree_with_torch(op, x_shape, w_shape, kw):
    x, w = arr(*x_shape, dtype=np.float32), arr(*w_shape, dtype=np.float32)
    want = getattr(torch.nn.functional, op)(torch.tensor(x), torch.tensor(w), **kw).numpy()
    got = getattr(F, op)(lumina.tensor(x), lumina.tensor(w), **kw)
    assert got.dtype == lumina.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    compiled = lumina.compile(lambda a, b: getattr(F, op)(a, b, **kw))
    np.testing.assert_allclose(compiled(x, w).numpy(), want, rtol=1e-5, atol=1e-5)


def _copy(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.Conv1d(2, 4, 3, padding=1, groups=2, padding_mode="reflect"), (2, 2, 6)),
    (lambda nn: nn.Conv1d(2, 3, 4, padding="same", padding_mode="replicate", dilation=2), (2, 2, 7)),
    (lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular"), (1, 2, 4, 5)),
    (lambda nn: nn.Conv3d(2, 3, (2, 3, 1), stride=(1, 2, 1), padding=1, bias=False), (2, 2, 3, 5, 2)),
    (lambda nn: nn.ConvTranspose1d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 2, 5)),
    (lambda nn: nn.ConvTranspose2d(2, 3, (3, 2), stride=(2, 1), dilation=(1, 2)), (2, 4, 3)),
    (lambda nn: nn.ConvTranspose3d(1, 2, 2, stride=2), (1, 1, 2, 3, 2)),
], ids=["conv1d-reflect", "conv1d-same-replicate", "conv2d-circular", "conv3d", "convT1d", "convT2d-unbatched",
        "convT3d"])
def test_layers_match_torch_with_its_weights(make, shape):
    theirs, ours = make(torch.nn).double(), make(nn).double()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _copy(ours, theirs)
    x = arr(*shape)
    tx, lx = torch.tensor(x, requires_grad=True), lumina.tensor(x, requires_grad=True)
    tout, out = theirs(tx), ours(lx)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    c = arr(*tout.shape)
    (tout * torch.tensor(c)).sum().backward()
    (out * lumina.tensor(c)).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_layer_inside_compile_matches_eager():
    layer = nn.Conv1d(3, 4, 3, padding=1, padding_mode="circular")
    x = arr(2, 3, 8, dtype=np.float32)
    eager = layer(lumina.tensor(x)).numpy()
    np.testing.assert_allclose(lumina.compile(lambda a: layer(a))(x).numpy(), eager, rtol=1e-6, atol=1e-6)


def test_conv_transpose_output_size_picks_the_output_padding():
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    _copy(ours, theirs)
    x = arr(1, 2, 4, 4)
    for size in ([8, 8], [7, 8], [1, 3, 8, 7]):
        np.testing.assert_allclose(ours(lumina.tensor(x), output_size=size).numpy(),
                                   theirs(torch.tensor(x), output_size=size).detach().numpy(), rtol=1e-10)
    with pytest.raises(LuminaValueError, match="output size"):
        ours(lumina.tensor(x), output_size=[9, 9])


def test_default_initialisation_bounds_follow_fan_in():
    layer = nn.ConvTranspose1d(4, 6, 3, groups=2)
    bound = 1 / np.sqrt(3 * 3)          # fan_in = weight.shape[1] * k = (6 / 2) * 3
    assert layer.weight.shape == (4, 3, 3)
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound


@pytest.mark.parametrize("call, err, match", [
    (lambda: F.conv1d(lumina.tensor(arr(2, 3, 5)), lumina.tensor(arr(4, 2, 3))), LuminaShapeError, "channels"),
    (lambda: F.conv1d(lumina.tensor(arr(2, 3, 2)), lumina.tensor(arr(4, 3, 3))), LuminaShapeError, "larger"),
    (lambda: F.conv3d(lumina.tensor(arr(2, 3, 5)), lumina.tensor(arr(4, 3, 1, 1, 1))), LuminaShapeError, "expects"),
    (lambda: F.conv1d(lumina.tensor(arr(1, 3, 5)), lumina.tensor(arr(4, 3, 3)), padding="same", stride=2),
     LuminaValueError, "strided"),
    (lambda: F.conv1d(lumina.tensor(arr(1, 3, 5)), lumina.tensor(arr(4, 3, 3, dtype=np.float32))),
     LuminaTypeError, "dtype"),
    (lambda: F.conv1d(lumina.tensor(arr(1, 4, 5)), lumina.tensor(arr(3, 2, 3)), groups=2), LuminaValueError,
     "groups"),
    (lambda: F.conv_transpose1d(lumina.tensor(arr(1, 2, 5)), lumina.tensor(arr(2, 3, 3)), stride=2,
                                output_padding=2), LuminaValueError, "output padding"),
    (lambda: F.conv_transpose2d(lumina.tensor(arr(1, 3, 4, 4)), lumina.tensor(arr(2, 3, 3, 3))), LuminaShapeError,
     "channels"),
    (lambda: F.conv_transpose1d(lumina.tensor(arr(1, 2, 2)), lumina.tensor(arr(2, 3, 2)), padding=3),
     LuminaShapeError, "output size"),
    (lambda: nn.Conv1d(3, 4, 3, groups=2), LuminaValueError, "groups"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), LuminaValueError, "padding_mode"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), LuminaValueError, "zeros"),
    (lambda: nn.Conv1d(3, 4, 3, padding="same", stride=2), LuminaValueError, "strided"),
    (lambda: nn.Conv1d(3, 4, 3)(lumina.tensor(arr(1, 2, 5))), LuminaShapeError, "Conv1d"),
])
def test_bad_input_raises_a_lumina_error(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_the_same_calls_raise_in_torch():
    """The error cases above are torch's errors too (spot checks of the rules they follow)."""
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv_transpose1d(torch.zeros(1, 2, 5), torch.zeros(2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv1d(torch.zeros(1, 3, 5), torch.zeros(4, 3, 3), padding="same", stride=2)
    with pytest.raises(ValueError):
        torch.nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
