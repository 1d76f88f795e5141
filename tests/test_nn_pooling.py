"""Pooling against torch: ``max_pool1d/2d/3d`` (with ``return_indices``), ``avg_pool1d/2d/3d``,
``adaptive_avg_pool1d/2d/3d`` and ``adaptive_max_pool1d/2d/3d``: values, indices and gradients
against torch (float64 and float32), finite differences through ``@lumina.compile``, the pooling
layers, the edge cases (kernel == input, stride > kernel, ceil_mode windows past the input, NaN)
and the errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError
from gradcheck import check

RNG = np.random.default_rng(11)


def arr(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def both(name, x, *args, **kw):
    """lumina's and torch's results and input gradients for one call (a cotangent on the values)."""
    lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lo, to = getattr(F, name)(lx, *args, **kw), getattr(torch.nn.functional, name)(tx, *args, **kw)
    lv, tv = (lo[0], to[0]) if isinstance(to, tuple) else (lo, to)
    c = np.random.default_rng(0).standard_normal(tuple(tv.shape)).astype(x.dtype)
    (lv * lumina.tensor(c)).sum().backward()
    (tv * torch.tensor(c)).sum().backward()
    return lo, to, lx.grad.numpy(), tx.grad.numpy()


MAX_CASES = [
    ("max_pool1d", (2, 3, 9), (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ("max_pool1d", (3, 5), (5,), {}),                                        # unbatched, kernel == input
    ("max_pool1d", (1, 2, 3), (3,), dict(dilation=2, ceil_mode=True, stride=3)),  # dilated kernel past the input
    ("max_pool2d", (2, 2, 7, 6), (3,), dict(stride=2, padding=1, dilation=2)),
    ("max_pool2d", (1, 2, 5, 5), (2,), dict(stride=3)),                      # stride > kernel
    ("max_pool3d", (2, 2, 5, 6, 4), (2,), dict(ceil_mode=True)),
    ("max_pool3d", (2, 3, 4, 3), ((2, 1, 3),), dict(stride=(1, 2, 1), padding=(1, 0, 1))),
]


@pytest.mark.parametrize("name, shape, args, kw", MAX_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_values_indices_and_gradients(name, shape, args, kw, dtype):
    lo, to, lg, tg = both(name, arr(*shape, dtype=dtype), *args, return_indices=True, **kw)
    np.testing.assert_array_equal(lo[0].numpy(), to[0].detach().numpy())
    assert lo[1].dtype == lumina.int64
    np.testing.assert_array_equal(lo[1].numpy(), to[1].numpy())
    np.testing.assert_array_equal(lg, tg)


def test_max_pool_with_nan_and_ties_routes_as_torch():
    x = np.array([[[np.nan, 2.0, np.nan, 3.0, 3.0, -np.inf, -np.inf, 1.0, 1.0]]])
    for kw in (dict(kernel_size=3), dict(kernel_size=2, stride=1), dict(kernel_size=4, stride=2, padding=2)):
        lo, to, lg, tg = both("max_pool1d", x, return_indices=True, **kw)
        np.testing.assert_array_equal(lo[0].numpy(), to[0].detach().numpy())
        np.testing.assert_array_equal(lo[1].numpy(), to[1].numpy())
        np.testing.assert_array_equal(lg, tg)


AVG_CASES = [
    ("avg_pool1d", (2, 3, 9), (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool1d", (3, 4), (4,), {}),
    ("avg_pool1d", (1, 2, 5), (2,), dict(stride=3, ceil_mode=True)),
    ("avg_pool2d", (2, 2, 5, 4), (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ("avg_pool3d", (2, 3, 5, 6, 4), (3,), dict(stride=2, padding=1, ceil_mode=True, divisor_override=5)),
    ("avg_pool3d", (2, 4, 3, 5), ((2, 3, 1),), dict(stride=(1, 2, 1), count_include_pad=False)),
]


@pytest.mark.parametrize("name, shape, args, kw", AVG_CASES)
def test_avg_pool_matches_torch_and_finite_differences(name, shape, args, kw):
    check(lambda L, F_, x: getattr(F_, name)(x, *args, **kw), arr(*shape), directions=2)


@pytest.mark.parametrize("name, shape, size", [
    ("adaptive_avg_pool1d", (2, 3, 7), 3), ("adaptive_avg_pool1d", (3, 5), 5), ("adaptive_avg_pool1d", (1, 2, 3), 7),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), (3, None)), ("adaptive_avg_pool2d", (2, 7, 5), 4),
    ("adaptive_avg_pool3d", (1, 2, 5, 4, 3), (2, 3, 1)),
])
def test_adaptive_avg_pool_matches_torch_and_finite_differences(name, shape, size):
    check(lambda L, F_, x: getattr(F_, name)(x, size), arr(*shape), directions=2)


@pytest.mark.parametrize("name, shape, size", [
    ("adaptive_max_pool1d", (2, 3, 7), 3), ("adaptive_max_pool1d", (3, 4), 6),
    ("adaptive_max_pool2d", (2, 3, 7, 5), (3, 4)), ("adaptive_max_pool2d", (2, 5, 6), (None, 4)),
    ("adaptive_max_pool3d", (1, 2, 5, 4, 3), (2, 3, 2)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_max_pool_values_indices_and_gradients(name, shape, size, dtype):
    lo, to, lg, tg = both(name, arr(*shape, dtype=dtype), size, return_indices=True)
    np.testing.assert_array_equal(lo[0].numpy(), to[0].detach().numpy())
    np.testing.assert_array_equal(lo[1].numpy(), to[1].numpy())
    np.testing.assert_allclose(lg, tg, rtol=1e-6, atol=1e-7)   # overlapping windows: sums in another order


def test_max_pool_gradient_against_finite_differences():
    check(lambda L, F_, x: F_.max_pool2d(x, 3, stride=2, padding=1), arr(1, 2, 6, 5), directions=2)
    check(lambda L, F_, x: F_.adaptive_max_pool1d(x, 3), arr(2, 2, 7), directions=2)


def test_compiled_pools_agree_with_eager_and_torch():
    x = arr(2, 3, 8, 7, dtype=np.float32)

    @lumina.compile
    def pools(a):
        v, i = F.max_pool2d(a, 3, 2, 1, return_indices=True)
        return v, i, F.adaptive_avg_pool2d(a, (3, 5)), F.avg_pool1d(a.reshape(2, 3, 56), 4, 3, ceil_mode=True)

    v, i, aa, a1 = pools(x)
    tx = torch.tensor(x)
    tv, ti = torch.nn.functional.max_pool2d(tx, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    np.testing.assert_allclose(aa.numpy(), torch.nn.functional.adaptive_avg_pool2d(tx, (3, 5)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(a1.numpy(), torch.nn.functional.avg_pool1d(tx.reshape(2, 3, 56), 4, 3,
                                                                          ceil_mode=True).numpy(), rtol=1e-6)


@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.MaxPool1d(3, 2, padding=1, return_indices=True), (2, 3, 8)),
    (lambda nn: nn.MaxPool3d(2, ceil_mode=True), (1, 2, 3, 5, 4)),
    (lambda nn: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 7)),
    (lambda nn: nn.AvgPool3d(2, 1, 1, divisor_override=3), (1, 2, 3, 3, 2)),
    (lambda nn: nn.AdaptiveAvgPool1d(3), (2, 3, 8)),
    (lambda nn: nn.AdaptiveAvgPool2d((2, None)), (2, 3, 5, 4)),
    (lambda nn: nn.AdaptiveMaxPool1d(3, return_indices=True), (2, 3, 8)),
    (lambda nn: nn.AdaptiveMaxPool2d(3), (2, 5, 4)),
])
def test_layers_match_torch(make, shape):
    x = arr(*shape)
    ours, theirs = make(nn)(lumina.tensor(x)), make(torch.nn)(torch.tensor(x))
    if isinstance(theirs, tuple):
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
        ours, theirs = ours[0], theirs[0]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    assert make(nn).extra_repr() and vars(make(nn)).get("kernel_size", None) == vars(make(torch.nn)).get(
        "kernel_size", None)


@pytest.mark.parametrize("call, err, match", [
    (lambda: F.max_pool1d(lumina.tensor(arr(2, 3, 4, 5)), 2), LuminaShapeError, "expects input"),
    (lambda: F.max_pool1d(lumina.tensor(arr(1, 2, 5)), 3, padding=2), LuminaValueError, "half"),
    (lambda: F.max_pool1d(lumina.tensor(arr(1, 2, 2)), 4), LuminaShapeError, "larger"),
    (lambda: F.max_pool2d(lumina.tensor(arr(1, 2, 5, 5)), 0), LuminaValueError, "positive"),
    (lambda: F.avg_pool1d(lumina.tensor(np.ones((1, 2, 5), np.int64)), 2), LuminaTypeError, "floating"),
    (lambda: F.avg_pool3d(lumina.tensor(arr(1, 1, 1, 2)), 2, padding=1), LuminaShapeError, "smaller"),
    (lambda: F.avg_pool2d(lumina.tensor(arr(1, 2, 5, 5)), 2, divisor_override=0), LuminaValueError, "divisor"),
    (lambda: F.adaptive_avg_pool2d(lumina.tensor(arr(1, 2, 5, 5)), (1, 2, 3)), LuminaValueError, "output_size"),
    (lambda: F.adaptive_max_pool1d(lumina.tensor(arr(1, 2, 0)), 2), LuminaShapeError, "non-empty"),
    (lambda: F.adaptive_avg_pool1d(lumina.tensor(np.ones((1, 2, 5), np.int64)), 2), LuminaTypeError, "floating"),
])
def test_bad_input_raises_a_lumina_error(call, err, match):
    with pytest.raises(err, match=match):
        call()
