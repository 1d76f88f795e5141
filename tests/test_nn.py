"""``lumina.nn.functional``: convolution, pooling, normalisation, attention, embedding and dropout.

Every op is a decomposition into primitives; its forward is compared with PyTorch CPU and its
gradient (from autodiff, no hand-written rule) with PyTorch and with float64 finite differences
(``gradcheck.check``).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
import lumina.nn.functional as F
from gradcheck import check
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(5)


def arr(*shape):
    return RNG.standard_normal(shape)


# ---- conv2d ---------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("x_shape,w_shape,kw", [
    ((2, 3, 7, 6), (4, 3, 3, 3), dict()),
    ((1, 2, 8, 7), (3, 2, 3, 2), dict(stride=2, padding=1)),
    ((2, 4, 9, 9), (6, 2, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)),
    ((1, 4, 6, 6), (4, 1, 3, 3), dict(padding="same", groups=4)),            # depthwise
    ((2, 3, 5, 5), (2, 3, 1, 1), dict(stride=3)),                            # 1x1, stride > kernel
    ((3, 6, 6), (2, 3, 2, 2), dict(dilation=2, padding="valid")),            # unbatched CHW
    ((1, 2, 5, 6), (3, 2, 2, 3), dict(padding="same", dilation=(1, 2))),     # uneven 'same': extra at the end
    ((1, 2, 16, 15), (3, 2, 7, 7), dict(stride=2, padding=3)),               # large kernels: im2col by taps
    ((2, 2, 13, 14), (4, 1, 5, 4), dict(stride=(3, 2), dilation=(2, 1), groups=2)),
], ids=["plain", "stride_pad", "dilation_groups", "same_depthwise", "pointwise", "unbatched", "same_even",
        "stem_7x7", "taps_strided_dilated"])
def test_conv2d_matches_torch(x_shape, w_shape, kw):
    groups = kw.get("groups", 1)
    bias = arr(w_shape[0])
    check(lambda L, F, x, w, b: F.conv2d(x, w, b, groups=groups, **{k: v for k, v in kw.items() if k != "groups"}),
          arr(*x_shape), arr(*w_shape), bias, directions=2)


def test_conv2d_float32_against_torch():
    x, w = arr(2, 3, 10, 10).astype(np.float32), arr(5, 3, 3, 3).astype(np.float32)
    out = F.conv2d(lumina.tensor(x), lumina.tensor(w), stride=2, padding=1)
    assert out.dtype is lumina.float32
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_conv2d_errors_name_the_shapes():
    x = lumina.ones(1, 4, 5, 5)
    with pytest.raises(LuminaShapeError, match=r"conv2d: input f32\[1,4,5,5\] has 4 channels, but weight "
                                               r"f32\[8,3,3,3\] with groups=1 expects 3"):
        F.conv2d(x, lumina.ones(8, 3, 3, 3))
    with pytest.raises(LuminaShapeError, match=r"kernel 8x8 .* larger than the padded input 7x7"):
        F.conv2d(x, lumina.ones(2, 4, 8, 8), padding=1)
    with pytest.raises(LuminaShapeError, match=r"dilation 3x3: 7x7\) is larger than the padded input 5x5"):
        F.conv2d(x, lumina.ones(2, 4, 3, 3), dilation=3)
    with pytest.raises(LuminaValueError, match="groups=3"):
        F.conv2d(x, lumina.ones(8, 2, 3, 3), groups=3)
    with pytest.raises(LuminaValueError, match="'same' needs stride 1"):
        F.conv2d(x, lumina.ones(8, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(LuminaTypeError, match="float dtype"):
        F.conv2d(x, lumina.ones(8, 4, 3, 3, dtype=lumina.float64))
    with pytest.raises(LuminaShapeError, match=r"\[N, C, H, W\]"):
        F.conv2d(lumina.ones(4, 5), lumina.ones(8, 4, 3, 3))


# ---- pooling --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(1, 2), dilation=(2, 1)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
], ids=["k2", "k3s2p1", "dilated", "ceil"])
def test_max_pool2d_matches_torch(kw):
    check(lambda L, F, x: F.max_pool2d(x, **kw), arr(2, 3, 7, 8), directions=2)


def test_max_pool2d_gradient_goes_to_the_first_maximum_like_torch():
    """Ties (here after a ReLU, and a constant block) route the whole gradient to one element."""
    x = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.5, 2.0, 2.0], [0.0, 0.0, 3.0, 3.0], [0.0, 0.0, 3.0, 3.0]]]])
    t = lumina.tensor(x, requires_grad=True)
    out = F.max_pool2d(t, 2, stride=1)
    g = arr(*out.shape)
    (out * lumina.tensor(g)).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.max_pool2d(tt, 2, stride=1)
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12)


def test_max_pool2d_propagates_nan():
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 2] = np.nan
    out = F.max_pool2d(lumina.tensor(x), 2).numpy()
    np.testing.assert_array_equal(np.isnan(out), [[[[False, True], [False, False]]]])


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=2, padding=(1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, divisor_override=3),
], ids=["k2", "include_pad", "exclude_pad", "ceil", "ceil_exclude_pad", "divisor"])
def test_avg_pool2d_matches_torch(kw):
    check(lambda L, F, x: F.avg_pool2d(x, **kw), arr(2, 3, 7, 8), directions=2)


def test_pool_errors():
    x = lumina.ones(1, 2, 4, 4)
    with pytest.raises(LuminaValueError, match="at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(LuminaValueError, match="at most half"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(LuminaShapeError, match=r"kernel 5x5 .* larger than the padded input 4x4"):
        F.max_pool2d(x, 5)


# ---- normalisation --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,normalized", [((3, 5), (5,)), ((2, 3, 4, 6), (4, 6))], ids=["1d", "2d"])
def test_layer_norm_matches_torch(shape, normalized):
    check(lambda L, F, x, w, b: F.layer_norm(x, normalized, w, b, eps=1e-5), arr(*shape) * 2 + 1,
          arr(*normalized), arr(*normalized), directions=2)
    check(lambda L, F, x: F.layer_norm(x, normalized), arr(*shape), directions=1)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 2)], ids=["NC", "NCHW"])
def test_batch_norm_training_matches_torch(shape):
    check(lambda L, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), arr(*shape) * 3 - 1,
          arr(shape[1]), arr(shape[1]), directions=2)


def test_batch_norm_running_stats_update_and_eval():
    x = arr(5, 3, 2, 2) * 2 + 0.5
    rm, rv = lumina.tensor(np.zeros(3)), lumina.tensor(np.ones(3))
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    F.batch_norm(lumina.tensor(x), rm, rv, training=True, momentum=0.3)
    torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-12)   # unbiased variance
    check(lambda L, F, x, m, v, w, b: F.batch_norm(x, m, v, w, b, training=False), x, rm.numpy(),
          rv.numpy() + 0.1, arr(3), arr(3), wrt=[0, 3, 4], directions=1)


def test_norm_errors():
    with pytest.raises(LuminaShapeError, match=r"layer_norm: input f32\[2,3\] does not end in normalized_shape \[4\]"):
        F.layer_norm(lumina.ones(2, 3), (4,))
    with pytest.raises(LuminaValueError, match="more than 1 value per channel"):
        F.batch_norm(lumina.ones(1, 3), None, None, training=True)
    with pytest.raises(LuminaShapeError, match=r"running_mean f32\[4\] must be \[3\]"):
        F.batch_norm(lumina.ones(2, 3), lumina.zeros(4), lumina.ones(3))
    for mean, var in ((lumina.zeros(3), None), (None, lumina.ones(3))):   # torch raises ValueError too
        with pytest.raises(LuminaValueError, match="both be None or neither"):
            F.batch_norm(lumina.ones(2, 3), mean, var, training=True)
        with pytest.raises(ValueError, match="both be None or neither"):
            torch.nn.functional.batch_norm(torch.ones(2, 3), None if mean is None else torch.zeros(3),
                                           None if var is None else torch.ones(3), training=True)


# ---- attention ------------------------------------------------------------------------------------

def _qkv(b=(2, 3), L=5, S=6, E=4, Ev=3):
    return arr(*b, L, E), arr(*b, S, E), arr(*b, S, Ev)


def test_attention_plain_and_causal_match_torch():
    q, k, v = _qkv()
    check(lambda L, F, q, k, v: F.scaled_dot_product_attention(q, k, v), q, k, v, directions=2)
    q, k, v = _qkv(L=6)
    check(lambda L, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, k, v, directions=2)


def test_attention_bool_mask_with_a_fully_masked_row_matches_torch():
    q, k, v = _qkv()
    mask = RNG.random((5, 6)) > 0.4
    mask[:, 0] = True
    mask[3] = False                      # no key at all: PyTorch returns 0 for that row
    out = check(lambda L, F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, mask,
                directions=2)
    np.testing.assert_array_equal(out.numpy()[:, :, 3], 0.0)


def test_attention_float_mask_and_scale_match_torch():
    q, k, v = _qkv()
    mask = arr(3, 1, 6)                  # broadcasts over the batch and the queries
    check(lambda L, F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3), q, k, v, mask,
          directions=2)


def test_attention_errors():
    q, k, v = (lumina.tensor(a) for a in _qkv())
    with pytest.raises(LuminaShapeError, match=r"attn_mask bool\[5,5\] does not broadcast to the attention "
                                               r"scores \[..., L, S\] = \[2, 3, 5, 6\]"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=lumina.ones(5, 5, dtype=lumina.bool))
    with pytest.raises(LuminaShapeError, match="expects query"):
        F.scaled_dot_product_attention(q, q, v)
    with pytest.raises(LuminaValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=lumina.ones(5, 6, dtype=lumina.bool), is_causal=True)


# ---- embedding ------------------------------------------------------------------------------------

def test_embedding_with_repeated_indices_matches_torch():
    idx = np.array([[0, 3, 3], [3, 1, 0]])
    check(lambda L, F, i, w: F.embedding(i, w), idx, arr(5, 4), directions=2)


def test_embedding_padding_idx_gets_no_gradient():
    idx = np.array([2, 1, 2, 4])
    # no finite differences: the padding row's value reaches the output, by design without gradient
    out = check(lambda L, F, i, w: F.embedding(i, w, padding_idx=2), idx, arr(5, 3), directions=0)
    assert out.shape == (4, 3)
    w = lumina.tensor(arr(5, 3), requires_grad=True)
    F.embedding(lumina.tensor(idx), w, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[2], 0.0)


def test_embedding_errors():
    w = lumina.ones(4, 3)
    with pytest.raises(LuminaValueError, match=r"embedding: index 4 is out of range for the table f32\[4,3\]"):
        F.embedding(lumina.tensor(np.array([0, 4])), w)
    with pytest.raises(LuminaTypeError, match="integers"):
        F.embedding(np.array([0.5]), w)


# ---- dropout --------------------------------------------------------------------------------------

def test_dropout_mask_statistics_scaling_and_gradient():
    lumina.manual_seed(3)
    x = lumina.tensor(np.ones((200, 250), np.float32), requires_grad=True)
    out = F.dropout(x, p=0.3, training=True)
    out.sum().backward()
    y, g = out.numpy(), x.grad.numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01            # 50,000 Bernoulli(0.7) draws: sd ~ 0.002
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(g, y)             # the gradient is the same mask, same scale
    # row and column keep-rates look independent of position
    assert np.abs(kept.mean(0) - 0.7).max() < 0.15 and np.abs(kept.mean(1) - 0.7).max() < 0.15


def test_dropout_eval_is_identity_and_seeded_draws_reproduce():
    x = lumina.tensor(arr(4, 5).astype(np.float32))
    assert F.dropout(x, 0.5, training=False) is x
    lumina.manual_seed(7)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    lumina.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), 0.0)
    with pytest.raises(LuminaValueError, match="probability"):
        F.dropout(x, 1.5)


def test_dropout_inside_compile_draws_fresh_masks_reproducibly():
    @lumina.compile
    def f(x):
        return F.dropout(x, 0.5)

    x = np.ones((8, 16), np.float32)
    lumina.manual_seed(1)
    first, second = f(x).numpy(), f(x).numpy()
    assert not np.array_equal(first, second)
    lumina.manual_seed(1)
    np.testing.assert_array_equal(f(x).numpy(), first)
