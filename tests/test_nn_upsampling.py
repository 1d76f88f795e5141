"""``F.interpolate`` (every mode), ``F.unfold`` / ``F.fold`` and the upsampling, pixel-shuffle and
im2col layers against torch: values and gradients (float64 to 1e-12, float32), finite differences
through ``@lumina.compile``, eager against compiled, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError
from gradcheck import check

RNG = np.random.default_rng(3)
SHAPES = {"nearest": (2, 2, 4, 5), "nearest-exact": (1, 2, 3, 4, 3), "linear": (2, 3, 5), "bilinear": (1, 2, 4, 5),
          "bicubic": (1, 2, 4, 5), "trilinear": (1, 2, 3, 4, 3), "area": (1, 2, 7, 5)}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def arr(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _kwargs(mode):
    nd = len(SHAPES[mode]) - 2
    yield dict(size=(7,) * nd)
    yield dict(size=(2,) * nd)               # downsampling
    yield dict(scale_factor=1.7)            # the factor sets the source positions
    yield dict(scale_factor=0.6, recompute_scale_factor=True)
    if mode in INTERPOLATING:
        yield dict(size=(5,) * nd, align_corners=True)
        yield dict(size=(1,) * nd, align_corners=True)


@pytest.mark.parametrize("mode", list(SHAPES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interpolate_matches_torch(mode, dtype):
    for kw in _kwargs(mode):
        x = arr(*SHAPES[mode], dtype=dtype)
        tx, lx = torch.tensor(x, requires_grad=True), lumina.tensor(x, requires_grad=True)
        t, y = torch.nn.functional.interpolate(tx, mode=mode, **kw), F.interpolate(lx, mode=mode, **kw)
        assert tuple(y.shape) == tuple(t.shape) and y.dtype.name == np.dtype(dtype).name
        c = arr(*t.shape, dtype=dtype)
        t.backward(torch.tensor(c))
        (y * lumina.tensor(c)).sum().backward()
        tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(y.numpy(), t.detach().numpy(), **tol, err_msg=f"{mode} {kw}")
        np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), **tol, err_msg=f"{mode} {kw} gradient")


@pytest.mark.parametrize("mode", ["linear", "bicubic", "trilinear", "nearest"])
def test_interpolate_gradient_against_finite_differences(mode):
    check(lambda L, F_, x: F_.interpolate(x, scale_factor=1.5, mode=mode), arr(*SHAPES[mode]), directions=2)


def test_integer_inputs_raise_as_in_torch():
    x = RNG.integers(0, 9, (1, 2, 3, 4))
    with pytest.raises(NotImplementedError):
        torch.nn.functional.interpolate(torch.tensor(x), scale_factor=2.5)
    with pytest.raises(LuminaTypeError, match="floating"):
        F.interpolate(lumina.tensor(x), scale_factor=2.5)


def test_compiled_interpolate_and_fold_agree_with_eager():
    x = arr(2, 3, 5, 6, dtype=np.float32)

    @lumina.compile
    def f(a):
        cols = F.unfold(a, 3, padding=1, stride=2)
        return F.interpolate(a, size=(7, 4), mode="bicubic"), cols, F.fold(cols, (5, 6), 3, padding=1, stride=2)

    got = f(x)
    tx = torch.tensor(x)
    tcols = torch.nn.functional.unfold(tx, 3, padding=1, stride=2)
    want = (torch.nn.functional.interpolate(tx, size=(7, 4), mode="bicubic"), tcols,
            torch.nn.functional.fold(tcols, (5, 6), 3, padding=1, stride=2))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 5, 6), dict(kernel_size=2)),
    ((3, 5, 6), dict(kernel_size=(2, 3), stride=2, padding=1, dilation=(2, 1))),   # unbatched
    ((1, 2, 4, 4), dict(kernel_size=4)),                                          # kernel == input
    ((1, 2, 7, 5), dict(kernel_size=2, stride=3)),                                # stride > kernel
])
def test_unfold_and_fold_match_torch_and_finite_differences(shape, kw):
    check(lambda L, F_, x: F_.unfold(x, **kw), arr(*shape), directions=2)
    cols = torch.nn.functional.unfold(torch.zeros(shape), **kw)
    check(lambda L, F_, c: F_.fold(c, shape[-2:], **kw), arr(*cols.shape), directions=2)


@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 4)),
    (lambda nn: nn.Upsample(size=(5, 3), mode="nearest-exact"), (1, 2, 3, 4)),
    (lambda nn: nn.UpsamplingNearest2d(scale_factor=(1.5, 2.0)), (2, 1, 3, 4)),
    (lambda nn: nn.UpsamplingBilinear2d(size=(6, 5)), (2, 1, 3, 4)),
    (lambda nn: nn.PixelShuffle(2), (2, 8, 3, 2)),
    (lambda nn: nn.PixelUnshuffle(3), (1, 2, 6, 3)),
    (lambda nn: nn.Unfold((2, 3), padding=1, stride=2), (2, 2, 5, 4)),
    (lambda nn: nn.Fold((4, 5), 2, stride=(2, 1)), (2, 8, 8)),
])
def test_layers_match_torch(make, shape):
    x = arr(*shape)
    ours, theirs = make(nn), make(torch.nn)
    assert ours.extra_repr() == theirs.extra_repr()
    np.testing.assert_allclose(ours(lumina.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("call, err, match", [
    (lambda: F.interpolate(lumina.tensor(arr(1, 2, 4)), size=5, mode="bilinear"), LuminaShapeError, "4-d"),
    (lambda: F.interpolate(lumina.tensor(arr(1, 2, 4)), size=5, scale_factor=2.0), LuminaValueError, "exactly one"),
    (lambda: F.interpolate(lumina.tensor(arr(1, 2, 4))), LuminaValueError, "exactly one"),
    (lambda: F.interpolate(lumina.tensor(arr(1, 2, 4)), size=5, align_corners=True), LuminaValueError,
     "align_corners"),
    (lambda: F.interpolate(lumina.tensor(arr(1, 2, 4)), size=5, mode="cubic"), LuminaValueError, "unknown mode"),
    (lambda: F.interpolate(lumina.tensor(arr(1, 2, 4, 4)), size=(5, 3, 2)), LuminaShapeError, "spatial dims"),
    (lambda: F.interpolate(lumina.tensor(arr(1, 2, 4, 4)), size=5, mode="bilinear", antialias=True),
     LuminaValueError, "antialias"),
    (lambda: F.interpolate(lumina.tensor(np.ones((1, 2, 4), np.int64)), size=5, mode="linear"), LuminaTypeError,
     "floating"),
    (lambda: F.unfold(lumina.tensor(arr(1, 2, 3, 3)), 4), LuminaShapeError, "larger"),
    (lambda: F.unfold(lumina.tensor(arr(2, 3)), 1), LuminaShapeError, "4-d"),
    (lambda: F.fold(lumina.tensor(arr(1, 8, 5)), (3, 3), 2), LuminaShapeError, "blocks"),
    (lambda: F.fold(lumina.tensor(arr(1, 7, 4)), (3, 3), 2), LuminaShapeError, "divisible"),
])
def test_bad_input_raises_a_lumina_error(call, err, match):
    with pytest.raises(err, match=match):
        call()
