"""ONNX attention, rotary embedding, SwiGLU, loss and normalisation operators against ONNX Runtime,
at shapes other than the conformance suite's. Every tensor, index and mask is a graph input (computed
data, not a constant), so lumina's decompositions are what runs; plus the refusals."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import lumina.onnx
from lumina import LuminaOnnxError

RNG = np.random.default_rng(11)
_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float16): TensorProto.FLOAT16,
          np.dtype(np.int64): TensorProto.INT64, np.dtype(np.int32): TensorProto.INT32,
          np.dtype(np.bool_): TensorProto.BOOL}


def _model(op, inputs: dict, outputs: list[str], opset: int, **attrs) -> bytes:
    """A one-node model; an input given as None is left out (the empty name), as is an output ""."""
    node = helper.make_node(op, [n if a is not None else "" for n, a in inputs.items()], outputs, **attrs)
    first = _TYPES[next(iter(inputs.values())).dtype]
    graph = helper.make_graph(
        [node], op,
        [helper.make_tensor_value_info(n, _TYPES[a.dtype], a.shape) for n, a in inputs.items() if a is not None],
        [helper.make_tensor_value_info(o, first, None) for o in outputs if o])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def check(op, inputs: dict, outputs=("y",), opset=23, rtol=1e-5, atol=1e-6, **attrs):
    data = _model(op, inputs, list(outputs), opset, **attrs)
    feed = {n: a for n, a in inputs.items() if a is not None}
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feed)
    got = list(lumina.onnx.load(data)(**feed).values())
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def refused(op, inputs: dict, match: str, outputs=("y",), opset=23, **attrs):
    data = _model(op, inputs, list(outputs), opset, **attrs)
    with pytest.raises(LuminaOnnxError, match=match):
        lumina.onnx.load(data)(**{n: a for n, a in inputs.items() if a is not None})


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# ---- Attention ------------------------------------------------------------------------------------

def test_attention_gqa_bool_mask_with_past_kv():
    b, hq, hkv, q_len, past, new, d, dv = 2, 6, 2, 3, 5, 4, 16, 12
    mask = RNG.random((b, 1, q_len, past + new)) > 0.3
    mask[0, 0, 1] = False                       # a query row that attends to nothing: 0, not NaN
    check("Attention", {"Q": _f32(b, hq, q_len, d), "K": _f32(b, hkv, new, d), "V": _f32(b, hkv, new, dv),
                        "attn_mask": mask, "past_key": _f32(b, hkv, past, d), "past_value": _f32(b, hkv, past, dv)},
          outputs=("y", "present_key", "present_value"))


def test_attention_3d_gqa_causal_float_mask_past_softcap_scale():
    b, hq, hkv, q_len, past, new, d, dv = 1, 4, 2, 3, 2, 3, 8, 6
    check("Attention", {"Q": _f32(b, q_len, hq * d), "K": _f32(b, new, hkv * d), "V": _f32(b, new, hkv * dv),
                        "attn_mask": _f32(q_len, past + new),
                        "past_key": _f32(b, hkv, past, d), "past_value": _f32(b, hkv, past, dv)},
          outputs=("y", "present_key", "present_value"), q_num_heads=hq, kv_num_heads=hkv, is_causal=1,
          softcap=2.5, scale=0.3)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_attention_qk_matmul_output_modes(mode):
    check("Attention", {"Q": _f32(1, 4, 3, 8), "K": _f32(1, 2, 5, 8), "V": _f32(1, 2, 5, 8),
                        "attn_mask": _f32(3, 5)},
          outputs=("y", "", "", "qk"), qk_matmul_output_mode=mode, softcap=2.0)


def test_attention_nonpad_kv_seqlen_bottom_right_causal():
    q, kv = _f32(2, 4, 2, 8), _f32(2, 2, 7, 8)
    check("Attention", {"Q": q, "K": kv, "V": kv, "attn_mask": None, "past_key": None, "past_value": None,
                        "nonpad_kv_seqlen": np.array([4, 7])}, opset=24, is_causal=1)
    check("Attention", {"Q": q, "K": kv, "V": kv, "attn_mask": RNG.random((2, 1, 2, 7)) > 0.2,
                        "past_key": None, "past_value": None, "nonpad_kv_seqlen": np.array([3, 6])},
          opset=24, is_causal=1)


def test_attention_refusals():
    q, k = _f32(1, 3, 2, 8), _f32(1, 2, 2, 8)
    refused("Attention", {"Q": q, "K": k, "V": k}, "3 query heads are not a multiple of 2")
    refused("Attention", {"Q": _f32(1, 2, 16), "K": _f32(1, 2, 16), "V": _f32(1, 2, 16)},
            "3-D Q, K, V need the q_num_heads and kv_num_heads")
    refused("Attention", {"Q": _f32(1, 2, 16), "K": _f32(1, 2, 16), "V": _f32(1, 2, 16)},
            "not divisible by 3 heads", q_num_heads=3, kv_num_heads=3)
    refused("Attention", {"Q": k, "K": k, "V": k, "attn_mask": _f32(2, 3)}, r"attn_mask \[2, 3\] must have")
    refused("Attention", {"Q": k, "K": k, "V": k, "attn_mask": _f32(3, 1, 2, 2)},
            r"attention bias \[3, 1, 2, 2\] .* does not broadcast to the scores \[B, Hq, L, S\] = \[1, 2, 2, 2\]")
    refused("Attention", {"Q": k, "K": k, "V": k, "attn_mask": None, "past_key": _f32(1, 2, 4, 8)},
            "past_key and past_value must be given together")


# ---- RotaryEmbedding and SwiGLU -------------------------------------------------------------------

@pytest.mark.parametrize("interleaved,rot", [(0, 0), (1, 0), (0, 6), (1, 6)])
def test_rotary_embedding_with_position_ids(interleaved, rot):
    b, h, s, d = 2, 3, 5, 10
    half = (rot or d) // 2
    check("RotaryEmbedding", {"x": _f32(b, h, s, d), "cos": _f32(16, half), "sin": _f32(16, half),
                              "pos": RNG.integers(0, 16, size=(b, s)).astype(np.int64)},
          interleaved=interleaved, rotary_embedding_dim=rot)


def test_rotary_embedding_3d_without_position_ids():
    b, s, h, d = 2, 4, 3, 8
    check("RotaryEmbedding", {"x": _f32(b, s, h * d), "cos": _f32(b, s, d // 2), "sin": _f32(b, s, d // 2)},
          num_heads=h, interleaved=1)


def test_rotary_embedding_refusals():
    x = _f32(1, 2, 3, 8)
    refused("RotaryEmbedding", {"x": x, "cos": _f32(1, 3, 2), "sin": _f32(1, 3, 2)}, "must be even",
            rotary_embedding_dim=5)
    refused("RotaryEmbedding", {"x": x, "cos": _f32(1, 3, 3), "sin": _f32(1, 3, 3)},
            r"must give \[B, S, rotary_embedding_dim / 2\] = \[1, 3, 4\]")


def test_swiglu_matches_its_definition():
    # ONNX Runtime does not run SwiGLU (opset 28); the oracle is the spec's formula in NumPy.
    a, b = _f32(3, 7), _f32(3, 7)
    data = _model("SwiGLU", {"a": a, "b": b}, ["y"], 28, alpha=0.7)
    (got,) = lumina.onnx.load(data)(a, b).values()
    np.testing.assert_allclose(got, a / (1 + np.exp(-0.7 * a)) * b, rtol=1e-5, atol=1e-6)
    refused("SwiGLU", {"a": a, "b": _f32(3, 1)}, "one shape", opset=28)


# ---- losses ---------------------------------------------------------------------------------------

def _targets(shape, classes, ignore=None):
    t = RNG.integers(0, classes, size=shape).astype(np.int64)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss_weights_and_ignore_index(reduction):
    check("NegativeLogLikelihoodLoss", {"x": _f32(4, 6, 3, 2), "t": _targets((4, 3, 2), 6, ignore=4),
                                        "w": RNG.random(6).astype(np.float32)},
          opset=22, reduction=reduction, ignore_index=4)
    check("NegativeLogLikelihoodLoss", {"x": _f32(5, 7), "t": _targets((5,), 7, ignore=-3)},
          opset=22, reduction=reduction, ignore_index=-3)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_softmax_cross_entropy_weights_ignore_index_log_prob(reduction):
    check("SoftmaxCrossEntropyLoss", {"x": _f32(3, 5, 4), "t": _targets((3, 4), 5, ignore=2),
                                      "w": RNG.random(5).astype(np.float32)},
          outputs=("loss", "log_prob"), opset=13, reduction=reduction, ignore_index=2)
    check("SoftmaxCrossEntropyLoss", {"x": _f32(6, 3), "t": _targets((6,), 3).astype(np.int32)},
          opset=13, reduction=reduction)


def test_loss_refusals():
    refused("NegativeLogLikelihoodLoss", {"x": _f32(3, 5), "t": _targets((3, 1), 5)},
            r"target must hold int class indices of shape \[N, d1, ...\] = \[3\]", opset=22)
    refused("SoftmaxCrossEntropyLoss", {"x": _f32(3, 5), "t": _targets((3,), 5), "w": _f32(4)},
            r"weight must be \[C\] = \[5\]", opset=13)
    refused("SoftmaxCrossEntropyLoss", {"x": _f32(3, 5), "t": _targets((3,), 5)}, "reduction='avg'",
            opset=13, reduction="avg")


# ---- normalisations -------------------------------------------------------------------------------

def test_group_normalization():
    check("GroupNormalization", {"x": _f32(2, 6, 3, 5) * 3 + 1, "scale": _f32(6), "bias": _f32(6)},
          opset=21, num_groups=3, epsilon=1e-3, rtol=1e-4, atol=1e-5)
    check("GroupNormalization", {"x": _f32(3, 8, 7), "scale": _f32(8), "bias": _f32(8)},
          opset=21, num_groups=8, rtol=1e-4, atol=1e-5)


def test_instance_lrn_and_lp_normalization():
    check("InstanceNormalization", {"x": _f32(2, 3, 4, 5) + 2, "s": _f32(3), "b": _f32(3)},
          opset=22, epsilon=1e-3, rtol=1e-4, atol=1e-5)
    check("LRN", {"x": _f32(2, 7, 3, 4)}, opset=13, size=5, alpha=1e-2, beta=0.6, bias=1.5)
    x = _f32(3, 4, 5)
    x[1, :, 2] = 0.0                              # an all-zero lane normalises to 0
    for p in (1, 2):
        check("LpNormalization", {"x": x}, opset=22, p=p, axis=1)


def test_normalization_refusals():
    refused("GroupNormalization", {"x": _f32(1, 6, 2), "scale": _f32(6), "bias": _f32(6)},
            "num_groups=4 must divide the 6 channels", opset=21, num_groups=4)
    refused("GroupNormalization", {"x": _f32(1, 6, 2), "scale": _f32(3), "bias": _f32(6)},
            r"scale must be \[6\]", opset=21, num_groups=3)
    refused("LpNormalization", {"x": _f32(2, 3)}, r"p=3 is not supported \(1 or 2\)", opset=22, p=3)
