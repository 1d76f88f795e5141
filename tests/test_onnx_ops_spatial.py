"""ONNX resampling, transposed / N-d convolution and pooling, and recurrent layers against ONNX
Runtime, on one-node models built with ``onnx.helper`` at shapes the conformance suite does not use;
and the LuminaOnnxErrors for what lumina refuses."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import lumina.onnx
from lumina import LuminaOnnxError

RNG = np.random.default_rng(7)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def one_node(op: str, inputs: dict, outputs: list[str], initializers: dict | None = None, opset: int = 19,
             **attrs) -> bytes:
    """A model of one ``op`` node: ``inputs`` (name -> array, or None for an absent optional input)
    become graph inputs, ``initializers`` constants; outputs are float32 of unknown shape (MaxPool's
    Indices, named "i", int64)."""
    initializers = initializers or {}
    names = list(inputs) + [n for n in initializers if n not in inputs]
    node = helper.make_node(op, [n if (inputs.get(n) is not None or n in initializers) else "" for n in names],
                            outputs, **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in inputs.items() if a is not None]
    graph_outputs = [helper.make_tensor_value_info(o, TensorProto.INT64 if o == "i" else TensorProto.FLOAT, None)
                     for o in outputs if o]
    graph = helper.make_graph([node], op.lower(), graph_inputs, graph_outputs,
                              [numpy_helper.from_array(a, n) for n, a in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model.SerializeToString()


def assert_matches_ort(model: bytes, inputs: dict, rtol=1e-4, atol=1e-5):
    arrays = {n: a for n, a in inputs.items() if a is not None}
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    want = session.run(None, arrays)
    got = list(lumina.onnx.load(model)(**arrays).values())
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# ---- Resize ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("nearest_mode", ["floor", "round_prefer_ceil"])
def test_resize_nearest_asymmetric_by_scales(nearest_mode):
    x = _f32(2, 3, 5, 7)
    # no output position maps exactly halfway between two inputs: there ONNX Runtime (float32) and the
    # ONNX reference (float64) can round differently
    inputs = {"x": x, "roi": None, "scales": np.array([1, 1, 1.7, 0.7], np.float32)}
    model = one_node("Resize", inputs, ["y"], mode="nearest", coordinate_transformation_mode="asymmetric",
                     nearest_mode=nearest_mode)
    assert_matches_ort(model, inputs)


def test_resize_linear_half_pixel_by_sizes_on_two_axes():
    x = _f32(2, 6, 5, 3)
    inputs = {"x": x, "roi": None, "scales": None, "sizes": np.array([9, 2], np.int64)}
    model = one_node("Resize", inputs, ["y"], mode="linear", axes=[1, 2])
    assert_matches_ort(model, inputs)


def test_resize_cubic_align_corners_and_exclude_outside():
    x = _f32(1, 2, 6, 4)
    inputs = {"x": x, "roi": None, "scales": np.array([1, 1, 1.5, 2.25], np.float32)}
    model = one_node("Resize", inputs, ["y"], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1,
                     coordinate_transformation_mode="align_corners")
    assert_matches_ort(model, inputs)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_long_axis_by_gathered_taps(mode):
    x = _f32(1, 2, 3, 41)   # 4 * taps < 41: the taps are gathered, not contracted with a dense matrix
    inputs = {"x": x, "roi": None, "scales": np.array([1, 1, 1, 1.3], np.float32)}
    model = one_node("Resize", inputs, ["y"], mode=mode, coordinate_transformation_mode="pytorch_half_pixel")
    assert_matches_ort(model, inputs)


def test_resize_linear_antialias_downsample():
    x = _f32(1, 1, 12, 9)
    inputs = {"x": x, "roi": None, "scales": None, "sizes": np.array([1, 1, 5, 4], np.int64)}
    model = one_node("Resize", inputs, ["y"], mode="linear", antialias=1)
    assert_matches_ort(model, inputs)


def test_resize_tf_crop_and_resize_extrapolates():
    x = _f32(1, 1, 5, 6)
    inputs = {"x": x, "roi": np.array([0, 0, -0.2, 0.3, 1, 1, 0.9, 1.4], np.float32),
              "scales": None, "sizes": np.array([1, 1, 4, 5], np.int64)}
    model = one_node("Resize", inputs, ["y"], mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
                     extrapolation_value=3.5)
    assert_matches_ort(model, inputs)


def test_upsample_nearest_matches_repeat():
    x = _f32(1, 2, 3, 2)
    model = one_node("Upsample", {"x": x, "scales": np.array([1, 1, 2, 3], np.float32)}, ["y"], opset=9)
    got = lumina.onnx.load(model)(x=x, scales=np.array([1, 1, 2, 3], np.float32))["y"]
    np.testing.assert_array_equal(got, x.repeat(2, axis=2).repeat(3, axis=3))


# ---- ConvTranspose, Conv, Col2Im ------------------------------------------------------------------

def test_conv_transpose_stride_output_padding_groups_bias():
    x, w, b = _f32(2, 4, 5, 3), _f32(4, 3, 3, 2), _f32(6)
    inputs = {"x": x}
    model = one_node("ConvTranspose", inputs, ["y"], {"w": w, "b": b}, strides=[2, 3], output_padding=[1, 2],
                     pads=[1, 0, 0, 1], dilations=[1, 2], group=2)
    assert_matches_ort(model, inputs)


@pytest.mark.parametrize("attrs", [dict(output_shape=[11]), dict(auto_pad="SAME_LOWER")])
def test_conv_transpose_1d_output_shape_and_auto_pad(attrs):
    x, w = _f32(1, 2, 5), _f32(2, 3, 4)
    model = one_node("ConvTranspose", {"x": x}, ["y"], {"w": w}, strides=[2], **attrs)
    assert_matches_ort(model, {"x": x})


def test_conv_transpose_3d_and_conv_3d():
    x, w = _f32(1, 2, 3, 4, 2), _f32(2, 2, 2, 3, 2)
    assert_matches_ort(one_node("ConvTranspose", {"x": x}, ["y"], {"w": w}, strides=[1, 2, 2]), {"x": x})
    x, w, b = _f32(2, 4, 5, 6, 4), _f32(6, 2, 3, 2, 3), _f32(6)
    model = one_node("Conv", {"x": x}, ["y"], {"w": w, "b": b}, strides=[2, 1, 1], pads=[1, 0, 1, 0, 1, 2],
                     dilations=[1, 2, 1], group=2)
    assert_matches_ort(model, {"x": x})


def test_col2im_inverts_a_strided_dilated_unfold():
    x = _f32(2, 2 * 2 * 3, 4 * 4)   # C=2, block 2x3, 4x4 block positions
    inputs = {"x": x, "image_shape": np.array([7, 6], np.int64), "block_shape": np.array([2, 3], np.int64)}
    model = one_node("Col2Im", inputs, ["y"], strides=[2, 1], dilations=[1, 2], pads=[0, 1, 1, 1], opset=18)
    assert_matches_ort(model, inputs)


# ---- pooling --------------------------------------------------------------------------------------

@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_3d_asymmetric_pads_ceil_mode(count_include_pad):
    x = _f32(1, 2, 7, 6, 5)
    model = one_node("AveragePool", {"x": x}, ["y"], kernel_shape=[3, 2, 3], strides=[2, 2, 1],
                     pads=[1, 0, 2, 0, 1, 1], ceil_mode=1, count_include_pad=count_include_pad)
    assert_matches_ort(model, {"x": x})


def test_average_pool_2d_dilations_and_same_lower():
    x = _f32(2, 3, 9, 8)
    model = one_node("AveragePool", {"x": x}, ["y"], kernel_shape=[3, 2], dilations=[2, 3], pads=[2, 0, 1, 1])
    assert_matches_ort(model, {"x": x})
    model = one_node("AveragePool", {"x": x}, ["y"], kernel_shape=[3, 2], strides=[2, 3], auto_pad="SAME_LOWER",
                     count_include_pad=1)
    assert_matches_ort(model, {"x": x})


@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices(storage_order):
    x = _f32(2, 3, 7, 6)
    model = one_node("MaxPool", {"x": x}, ["y", "i"], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
                     storage_order=storage_order)
    assert_matches_ort(model, {"x": x})


def test_max_pool_3d_dilated_and_lp_pool():
    x = _f32(1, 2, 9, 8, 7)
    assert_matches_ort(one_node("MaxPool", {"x": x}, ["y"], kernel_shape=[2, 3, 2], dilations=[2, 1, 2],
                                strides=[2, 2, 1], ceil_mode=1), {"x": x})
    x = _f32(2, 3, 8, 7)
    assert_matches_ort(one_node("LpPool", {"x": x}, ["y"], kernel_shape=[3, 3], strides=[2, 1], pads=[1, 1, 0, 1],
                                p=3), {"x": x}, rtol=1e-4)


def test_max_unpool_undoes_max_pool():
    x = _f32(2, 3, 6, 8)
    pooled, indices = ort.InferenceSession(one_node("MaxPool", {"x": x}, ["y", "i"], kernel_shape=[2, 2], strides=[2, 2]),
                                           providers=["CPUExecutionProvider"]).run(None, {"x": x})
    inputs = {"y": pooled, "i": indices}
    assert_matches_ort(one_node("MaxUnpool", inputs, ["z"], kernel_shape=[2, 2], strides=[2, 2]), inputs)


def test_deform_conv_groups_offset_groups_mask():
    x, w, b = _f32(2, 4, 5, 8), _f32(6, 2, 2, 3), _f32(6)
    offset, mask = _f32(2, 2 * 6 * 2, 3, 2) * 1.5, RNG.uniform(0, 1, (2, 2 * 6, 3, 2)).astype(np.float32)
    inputs = {"x": x, "w": w, "offset": offset, "b": b, "mask": mask}
    model = one_node("DeformConv", inputs, ["y"], group=2, offset_group=2, strides=[2, 3], pads=[1, 0, 0, 1],
                     dilations=[1, 2])
    assert_matches_ort(model, inputs)


@pytest.mark.parametrize("mode,coord", [("avg", "half_pixel"), ("max", "output_half_pixel")])
def test_roi_align(mode, coord):
    inputs = {"x": _f32(2, 3, 9, 7), "rois": np.array([[0.5, 1, 5, 7.5], [-1, 2, 3, 3], [2, 0, 9, 12]], np.float32),
              "batch_indices": np.array([1, 0, 1], np.int64)}
    model = one_node("RoiAlign", inputs, ["y"], mode=mode, coordinate_transformation_mode=coord, output_height=3,
                     output_width=4, sampling_ratio=2, spatial_scale=0.8)
    assert_matches_ort(model, inputs)


# ---- GridSample, AffineGrid, CenterCropPad --------------------------------------------------------

@pytest.mark.parametrize("mode,padding,align", [("linear", "zeros", 0), ("cubic", "border", 1),
                                                ("nearest", "reflection", 0), ("linear", "reflection", 1)])
def test_grid_sample(mode, padding, align):
    x, grid = _f32(2, 3, 5, 4), (RNG.uniform(-1.4, 1.4, (2, 3, 6, 2))).astype(np.float32)
    inputs = {"x": x, "grid": grid}
    model = one_node("GridSample", inputs, ["y"], mode=mode, padding_mode=padding, align_corners=align, opset=20)
    assert_matches_ort(model, inputs, rtol=1e-4, atol=1e-5)


def test_affine_grid_feeds_grid_sample():
    theta = _f32(2, 2, 3) * 0.5
    for align in (0, 1):
        inputs = {"theta": theta, "size": np.array([2, 3, 5, 4], np.int64)}
        assert_matches_ort(one_node("AffineGrid", inputs, ["grid"], align_corners=align, opset=20), inputs)


def test_center_crop_pad():
    x = _f32(5, 8, 3)
    inputs = {"x": x, "shape": np.array([4, 8], np.int64)}
    model = one_node("CenterCropPad", inputs, ["y"], axes=[1, 0], opset=18)
    got = lumina.onnx.load(model)(**inputs)["y"]
    want = np.zeros((8, 4, 3), np.float32)   # axis 1 cropped 8 -> 4 from 2, axis 0 padded 5 -> 8 by (1, 2)
    want[1:6] = x[:, 2:6]
    np.testing.assert_array_equal(got, want)


# ---- recurrent layers -----------------------------------------------------------------------------

def test_lstm_bidirectional_with_bias_states_peepholes_and_sequence_lens():
    t, b, i, h = 5, 3, 4, 6
    inputs = {"x": _f32(t, b, i), "w": _f32(2, 4 * h, i) * 0.5, "r": _f32(2, 4 * h, h) * 0.5,
              "b": _f32(2, 8 * h) * 0.3, "lens": np.array([5, 2, 4], np.int32),
              "h0": _f32(2, b, h), "c0": _f32(2, b, h), "p": _f32(2, 3 * h) * 0.3}
    model = one_node("LSTM", inputs, ["y", "y_h", "y_c"], hidden_size=h, direction="bidirectional")
    assert_matches_ort(model, inputs, rtol=1e-4, atol=1e-5)


def test_gru_linear_before_reset_batch_first_and_rnn_reverse():
    inputs = {"x": _f32(4, 2, 3), "w": _f32(1, 15, 3), "r": _f32(1, 15, 5), "b": _f32(1, 30)}
    model = one_node("GRU", inputs, ["y", "y_h"], hidden_size=5, linear_before_reset=1)
    assert_matches_ort(model, inputs)
    # ONNX Runtime refuses layout=1; it is layout 0 with batch and time swapped
    want_y, want_h = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, inputs)
    batch_first = dict(inputs, x=inputs["x"].transpose(1, 0, 2).copy())
    model = one_node("GRU", batch_first, ["y", "y_h"], hidden_size=5, linear_before_reset=1, layout=1)
    got = lumina.onnx.load(model)(**batch_first)
    np.testing.assert_allclose(got["y"], want_y.transpose(2, 0, 1, 3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["y_h"], want_h.transpose(1, 0, 2), rtol=1e-4, atol=1e-5)
    inputs = {"x": _f32(4, 2, 3), "w": _f32(1, 5, 3), "r": _f32(1, 5, 5)}
    model = one_node("RNN", inputs, ["y", "y_h"], hidden_size=5, direction="reverse", activations=["Relu"])
    assert_matches_ort(model, inputs)


# ---- refusals -------------------------------------------------------------------------------------

def test_unsupported_attributes_name_the_node():
    x = _f32(1, 1, 4, 4)
    inputs = {"x": x, "roi": None, "scales": np.array([1, 1, 2, 2], np.float32)}
    with pytest.raises(LuminaOnnxError, match=r"\(Resize\): antialias=1 is not defined for mode='nearest'"):
        lumina.onnx.load(one_node("Resize", inputs, ["y"], antialias=1))(**{"x": x, "scales": inputs["scales"]})
    inputs = {"x": _f32(2, 1, 3), "w": _f32(1, 1, 3), "r": _f32(1, 1, 1)}
    with pytest.raises(LuminaOnnxError, match=r"\(RNN\): activation 'Gelu' is not supported"):
        lumina.onnx.load(one_node("RNN", inputs, ["y"], hidden_size=1, activations=["Gelu"]))(**inputs)
    with pytest.raises(LuminaOnnxError, match=r"\(GridSample\): padding_mode='wrap' is not supported"):
        lumina.onnx.load(one_node("GridSample", {"x": x, "grid": _f32(1, 2, 2, 2)}, ["y"], padding_mode="wrap",
                                  opset=20))(x=x, grid=_f32(1, 2, 2, 2))
    with pytest.raises(LuminaOnnxError, match=r"\(RoiAlign\): sampling_ratio=0 .* is not supported"):
        inputs = {"x": x, "rois": np.zeros((1, 4), np.float32), "batch_indices": np.zeros(1, np.int64)}
        lumina.onnx.load(one_node("RoiAlign", inputs, ["y"]))(**inputs)
    with pytest.raises(LuminaOnnxError, match=r"\(ConvTranspose\): kernel_shape \[2, 2\] differs"):
        lumina.onnx.load(one_node("ConvTranspose", {"x": x}, ["y"], {"w": _f32(1, 1, 3, 3)},
                                  kernel_shape=[2, 2]))(x=x)
