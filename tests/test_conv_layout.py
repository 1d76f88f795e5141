"""Convolutions compute channels last (``nn.functional.conv``): one GEMM with the output positions
as rows and the channels as columns, and ``transforms.layout`` cancels the permutes between two
convolutions. Results against PyTorch; the layout from the kernel descriptions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from lumina.codegen.kernel import DotKernel
from lumina.nn import functional as F


def _block(lib, x, w1, w2, scale, shift):
    """conv -> per-channel affine (batch norm in eval) -> relu -> max pool -> conv, plus a residual."""
    y = lib.nn.functional.conv2d(x, w1, padding=1) if lib is torch else F.conv2d(x, w1, padding=1)
    y = (y * scale + shift).relu()
    pool = torch.nn.functional.max_pool2d if lib is torch else F.max_pool2d
    y = pool(y, 3, stride=1, padding=1)
    conv = torch.nn.functional.conv2d if lib is torch else F.conv2d
    return conv(y, w2, padding=1) + y


def _operands(rng, n=2, c=5, o=20, size=9):
    return (rng.standard_normal((n, c, size, size)).astype(np.float32),
            rng.standard_normal((o, c, 3, 3)).astype(np.float32) / 4,
            rng.standard_normal((o, o, 3, 3)).astype(np.float32) / 4,
            rng.standard_normal((1, o, 1, 1)).astype(np.float32),
            rng.standard_normal((1, o, 1, 1)).astype(np.float32))


def test_a_convolution_block_matches_torch_and_keeps_channels_last():
    args = _operands(np.random.default_rng(0))
    fn = lumina.compile(lambda *a: _block(lumina, *a))
    got = fn(*args).numpy()
    expect = _block(torch, *(torch.from_numpy(a) for a in args)).numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-4)
    first, last = [k for k in fn.lower(*args).kernels() if isinstance(k, DotKernel)]
    # inside the block: rows are the N*H*W output positions, read in place from the im2col rows; C
    # row-major [N*H*W, O], the channels-last result, not stored transposed (with more than
    # lower.FEW_COLUMNS channels: fewer run as the transposed product)
    assert (first.batch, first.m, first.n) == (1, 2 * 9 * 9, 20)
    assert first.a.strides[2] == 1 and first.c_strides[2] == 1
    # the block's result is [N, O, H, W]: the last GEMM runs per image (its rows split into the
    # images' runs) with the residual add as its epilogue, storing each image's [O, H*W] in place
    assert last.batch == 2 and last.epilogue is not None and last.c_strides == (20 * 81, 81, 1)


@pytest.mark.parametrize("stride, dilation, size", [(1, 1, 7), (2, 1, 9), (1, 2, 10), (3, 1, 11)])
def test_channels_last_convolution_gradients_match_torch(stride, dilation, size):
    """Input, weight and bias gradients through the channels-last im2col (its VJP: the GEMMs and a
    col2im of padded slices), 3x3 and the 7x7 kernel built by skewed taps."""
    rng = np.random.default_rng(stride * 10 + dilation)
    for k in (3, 7):
        if (size + 2 - dilation * (k - 1) - 1) < 0:
            continue
        x = rng.standard_normal((2, 3, size, size))
        w = rng.standard_normal((4, 3, k, k))
        b = rng.standard_normal(4)
        lx, lw, lb = (lumina.tensor(a, requires_grad=True) for a in (x, w, b))
        (F.conv2d(lx, lw, lb, stride=stride, padding=1, dilation=dilation) ** 2).sum().backward()
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        (torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=1, dilation=dilation) ** 2).sum().backward()
        for mine, ref in ((lx, tx), (lw, tw), (lb, tb)):
            np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("groups, multiplier", [(6, 1), (3, 1), (6, 2)], ids=["depthwise", "grouped", "multiplier"])
def test_grouped_and_depthwise_convolutions_match_torch(groups, multiplier):
    """A depthwise convolution runs channels last as a sum over taps (no GEMM); other groupings
    keep the batched GEMM over the groups. Values and all three gradients against PyTorch."""
    rng = np.random.default_rng(groups * 10 + multiplier)
    c = 6
    x = rng.standard_normal((2, c, 10, 9))
    w = rng.standard_normal((c * multiplier, c // groups, 3, 3))
    b = rng.standard_normal(c * multiplier)
    for stride, dilation in ((1, 1), (2, 1), (1, 2)):
        lx, lw, lb = (lumina.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.conv2d(lx, lw, lb, stride=stride, padding=1, dilation=dilation, groups=groups)
        (out ** 2).sum().backward()
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ref = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=1, dilation=dilation, groups=groups)
        (ref ** 2).sum().backward()
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
        for mine, theirs in ((lx, tx), (lw, tw), (lb, tb)):
            np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_pools_read_their_input_in_the_order_it_is_stored():
    """A pool over a convolution's (channels-last) result takes its windows channels last; over a
    stored [N, C, H, W] array, channels first. Both against PyTorch."""
    from lumina.nn.functional.conv import computed_channels_last
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    seen = {}

    def f(x, w):
        y = F.conv2d(x, w, padding=1).relu()
        seen["conv"], seen["input"] = computed_channels_last(y), computed_channels_last(x)
        return F.max_pool2d(y, 2), F.avg_pool2d(x, 2)
    pooled, averaged = lumina.compile(f)(x, w)
    assert seen == {"conv": True, "input": False}
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    np.testing.assert_allclose(pooled.numpy(), torch.nn.functional.max_pool2d(
        torch.nn.functional.conv2d(tx, tw, padding=1).relu(), 2).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(averaged.numpy(), torch.nn.functional.avg_pool2d(tx, 2).numpy(), rtol=1e-6, atol=1e-6)


def test_a_half_precision_depthwise_convolution_accumulates_in_float32():
    """float16 in and out, the sum over the taps in float32 (as the GEMM of an ungrouped float16
    convolution accumulates): within one float16 rounding of PyTorch's float32 result."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 8, 12, 12)).astype(np.float16)
    w = rng.standard_normal((8, 1, 5, 5)).astype(np.float16)
    got = F.conv2d(lumina.tensor(x), lumina.tensor(w), padding=2, groups=8)
    assert got.dtype == lumina.float16
    expect = torch.nn.functional.conv2d(torch.from_numpy(x).float(), torch.from_numpy(w).float(), padding=2, groups=8)
    np.testing.assert_allclose(got.numpy().astype(np.float32), expect.numpy(), rtol=2 ** -10, atol=2 ** -10)


def test_a_padded_and_index_selected_pool_input_stays_channels_last():
    """TensorFlow-style SAME padding before a pool (edge rows picked with index_select, then a pad,
    as ONNX exports of TF models write it): the pool still reads the convolution's channels-last
    result in order (no kernel reads it transposed, ``transforms.layout`` moves the permute past the
    gathers and the pad), and the result is PyTorch's."""
    from lumina.codegen.kernel import LoopKernel
    from lumina.nn.functional.conv import computed_channels_last
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    seen = {}

    def f(x, w):
        y = F.conv2d(x, w).relu()                                    # [2, 16, 7, 7]
        index = lumina.tensor(np.array([0, *range(7), 6]))
        y = y.index_select(2, index).index_select(3, index)
        y = F.pad(y, (0, 1, 0, 1))
        seen["pool input"] = computed_channels_last(y)
        return F.max_pool2d(y, 2)
    fn = lumina.compile(f)
    got = fn(x, w).numpy()
    assert seen == {"pool input": True}
    ty = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)).relu()
    index = torch.tensor([0, *range(7), 6])
    ty = torch.nn.functional.pad(ty.index_select(2, index).index_select(3, index), (0, 1, 0, 1))
    np.testing.assert_allclose(got, torch.nn.functional.max_pool2d(ty, 2).numpy(), rtol=1e-5, atol=1e-5)
    # the kernel that writes the padded value writes it channels last: its innermost loop runs
    # over the 16 channels, contiguous in its output
    for k in fn.lower(x, w).kernels():
        if isinstance(k, LoopKernel) and "pad" in k.name:
            assert k.domain[-1].extent == 16


def test_a_sum_of_channels_last_slices_stored_channels_first_loops_over_channels_innermost():
    """The input gradient of a convolution sums channels-last slices of the im2col gradient into
    an NCHW result: the CPU loop nest runs the channel loop innermost (``llvm.loop_order``), so
    the loads are whole vectors and only the store strides; a plain transpose (one load, one
    store) keeps the output's order. Both against NumPy."""
    from lumina.backends.cpu.llvm import loop_order
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 6, 3, 32)).astype(np.float32)
    summed = lumina.compile(lambda x: (x[..., 0, :] + x[..., 1, :] + x[..., 2, :]).permute(0, 3, 1, 2))
    transposed = lumina.compile(lambda x: x[..., 0, :].permute(0, 3, 1, 2) * 2.0)
    np.testing.assert_allclose(summed(x).numpy(), (x[..., 0, :] + x[..., 1, :] + x[..., 2, :]).transpose(0, 3, 1, 2),
                               rtol=1e-6)
    np.testing.assert_array_equal(transposed(x).numpy(), x[..., 0, :].transpose(0, 3, 1, 2) * 2.0)
    (k,) = summed.lower(x).kernels()
    order = loop_order(k)
    assert order[0] is k.domain[0] and order[-1].extent == 32 and order[-1] is not k.domain[-1]
    (k,) = transposed.lower(x).kernels()
    assert loop_order(k) == list(k.domain)
