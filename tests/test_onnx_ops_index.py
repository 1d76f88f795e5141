"""ONNX indexing, scatter, scan, Einsum, Pad and elementwise-math operators against ONNX Runtime, at
shapes other than the conformance suite's; index tensors are graph inputs (computed data, not
constants), so the lumina decompositions (one-hot comparisons, masked sums) are what runs.
Hypothesis checks Tile and Einsum shapes against NumPy."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from onnx import TensorProto, helper

import lumina.onnx
from lumina import LuminaOnnxError

RNG = np.random.default_rng(7)
_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
          np.dtype(np.int64): TensorProto.INT64, np.dtype(np.int32): TensorProto.INT32,
          np.dtype(np.bool_): TensorProto.BOOL}


def _model(op, inputs: dict, n_out=1, opset=18, **attrs) -> bytes:
    """A one-node model whose inputs are all graph inputs (none is a constant)."""
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, list(inputs), outs, **attrs)
    graph = helper.make_graph([node], op, [helper.make_tensor_value_info(n, _TYPES[a.dtype], a.shape)
                                           for n, a in inputs.items()], [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    inferred = {v.name: v.type.tensor_type.elem_type for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    first = _TYPES[next(iter(inputs.values())).dtype]   # where inference gives up (broadcast Einsum)
    graph.output.extend(helper.make_tensor_value_info(o, inferred.get(o, first), None) for o in outs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def check(op, inputs: dict, n_out=1, opset=18, rtol=1e-5, atol=1e-6, **attrs):
    data = _model(op, inputs, n_out, opset, **attrs)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, inputs)
    got = list(lumina.onnx.load(data)(*inputs.values()).values())
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_gather_elements_with_negative_computed_indices():
    x = _f32(4, 5, 3)
    idx = RNG.integers(-5, 5, size=(4, 2, 3)).astype(np.int64)
    check("GatherElements", {"x": x, "i": idx}, axis=1)
    check("GatherElements", {"x": x, "i": RNG.integers(-4, 4, size=(2, 5, 2)).astype(np.int64)}, axis=0)


def test_gather_nd_with_batch_dims():
    x = _f32(3, 4, 5, 2)
    check("GatherND", {"x": x, "i": RNG.integers(-4, 4, size=(3, 6, 2)).astype(np.int64)}, batch_dims=1)
    check("GatherND", {"x": x, "i": RNG.integers(0, 3, size=(2, 2, 1)).astype(np.int64)})


@pytest.mark.parametrize("reduction", ["add", "mul", "max", "min"])
def test_scatter_elements_with_a_reduction_and_duplicate_indices(reduction):
    data = _f32(3, 6)
    idx = np.array([[0, 5, 0, -1], [2, 2, 2, 3]], np.int64)      # duplicates; covers rows 0-1 of 3
    upd = _f32(2, 4)
    check("ScatterElements", {"d": data, "i": idx, "u": upd}, axis=-1, reduction=reduction)


def test_scatter_elements_on_axis_0_and_int_data():
    data = RNG.integers(-9, 9, size=(5, 3)).astype(np.int32)
    idx = np.array([[4, 0, 1], [-1, 3, 2]], np.int64)             # unique per column
    upd = RNG.integers(-9, 9, size=(2, 3)).astype(np.int32)
    check("ScatterElements", {"d": data, "i": idx, "u": upd}, axis=0)
    check("ScatterElements", {"d": data, "i": idx, "u": upd}, axis=0, reduction="add")


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max"])
def test_scatter_nd(reduction):
    data = _f32(5, 4, 3)
    idx = np.array([[[0, 1], [4, -1], [2, 2]], [[1, 0], [3, 3], [0, 2]]], np.int64)   # unique tuples
    upd = _f32(2, 3, 3)
    check("ScatterND", {"d": data, "i": idx, "u": upd}, reduction=reduction)
    if reduction != "none":   # repeated rows fold together
        check("ScatterND", {"d": data, "i": np.array([[1], [3], [1]], np.int64), "u": _f32(3, 4, 3)},
              reduction=reduction)


@pytest.mark.parametrize("k, largest, axis", [(3, 1, -1), (5, 0, 1), (20, 1, -1), (24, 0, 0)])
def test_top_k_values_and_int64_indices_with_ties(k, largest, axis):
    x = np.round(RNG.standard_normal((24, 30)) * 2).astype(np.float32)   # many ties
    check("TopK", {"x": x, "k": np.array([k], np.int64)}, n_out=2, axis=axis, largest=largest, sorted=1)


@pytest.mark.parametrize("equation, shapes", [
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (1, 5, 4, 2)]),   # broadcast batch dims
    ("abc,cd,de->eab", [(2, 3, 4), (4, 5), (5, 6)]),      # three operands, contraction chain
    ("iij,kj", [(3, 3, 4), (2, 4)]),                     # diagonal, implicit output "ik"
])
def test_einsum(equation, shapes):
    inputs = {f"x{i}": _f32(*s) for i, s in enumerate(shapes)}
    check("Einsum", inputs, opset=12, rtol=1e-4, atol=1e-5, equation=equation)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_cumsum_exclusive_and_reverse(dtype):
    x = (RNG.standard_normal((3, 7, 2)) * 5).astype(dtype)
    for exclusive in (0, 1):
        for reverse in (0, 1):
            check("CumSum", {"x": x, "axis": np.array(-2, np.int32)}, exclusive=exclusive, reverse=reverse)


def test_cumsum_with_inf_and_nan_spoils_only_later_sums():
    x = np.array([[1, np.inf, 2, np.nan, 3], [1, -np.inf, np.inf, 2, 3], [1, 2, 3, 4, 5]], np.float32)
    check("CumSum", {"x": x, "axis": np.array(1, np.int64)})
    check("CumSum", {"x": x, "axis": np.array(1, np.int64)}, reverse=1)


def test_cumsum_longer_than_one_block():
    check("CumSum", {"x": _f32(2, 300), "axis": np.array(1, np.int64)}, rtol=1e-4, atol=1e-4, exclusive=1,
          reverse=1)


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap"])
def test_pad_modes(mode):
    x = _f32(2, 5, 6)
    check("Pad", {"x": x, "p": np.array([0, 2, 3, 1, 4, 5], np.int64)}, mode=mode)


def test_pad_reflect_on_chosen_axes():
    x = _f32(3, 4, 5)
    check("Pad", {"x": x, "p": np.array([1, 3, 4, 2], np.int64), "v": np.array(0, np.float32),
                  "a": np.array([-1, 1], np.int64)}, mode="reflect")


def test_pad_constant_with_a_computed_value_and_negative_pads():
    x = _f32(3, 4, 5)
    check("Pad", {"x": x, "p": np.array([1, -1, 2, 0, 2, -2], np.int64), "v": np.array(-3.5, np.float32)},
          mode="constant")


def test_pads_computed_from_a_shape_input_specialise_on_it():
    nodes = [helper.make_node("Sub", ["want", "have"], ["extra"]),
             helper.make_node("Concat", ["zeros", "extra"], ["pads"], axis=0),
             helper.make_node("Pad", ["x", "pads"], ["y"], mode="edge")]
    have = helper.make_tensor("have", TensorProto.INT64, [2], [2, 3])
    zeros = helper.make_tensor("zeros", TensorProto.INT64, [2], [0, 0])
    graph = helper.make_graph(nodes, "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                                           helper.make_tensor_value_info("want", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [have, zeros])
    model = lumina.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    x = _f32(2, 3)
    for want in ([4, 3], [3, 6]):
        got = model(x, np.array(want, np.int64))["y"]
        np.testing.assert_array_equal(got, np.pad(x, [(0, want[0] - 2), (0, want[1] - 3)], mode="edge"))


@pytest.mark.parametrize("op, attrs", [
    ("Acos", {}), ("Asin", {}), ("Atan", {}), ("Atanh", {}), ("Asinh", {}), ("Acosh", {}),
    ("Sinh", {}), ("Cosh", {}), ("Tan", {}), ("Floor", {}), ("Ceil", {}), ("Round", {}), ("Sign", {}),
    ("Elu", {"alpha": 0.7}), ("Selu", {}), ("Celu", {"alpha": 1.5}), ("LeakyRelu", {"alpha": 0.2}),
    ("ThresholdedRelu", {"alpha": 0.3}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {}),
    ("Softplus", {}), ("Softsign", {}), ("Mish", {}), ("Shrink", {"lambd": 0.6, "bias": 0.2}),
])
def test_unary_math_matches_onnxruntime(op, attrs):
    x = np.concatenate([RNG.uniform(-3, 3, 40), [0.0, -0.5, 0.5, 1.5, 2.5, 1.0, -1.0]]).astype(np.float32)
    if op in ("Acos", "Asin", "Atanh"):
        x = np.clip(x / 3, -1, 1).astype(np.float32)
    if op == "Acosh":
        x = (np.abs(x) + 1).astype(np.float32)
    check(op, {"x": x.reshape(-1, 1)}, opset=18, **attrs)


def test_isinf_isnan_prelu():
    x = np.array([[np.inf, -np.inf, np.nan, 0.0, -2.0, 3.0]], np.float32)
    check("IsInf", {"x": x}, detect_negative=0)
    check("IsInf", {"x": x})
    check("IsNaN", {"x": x})
    check("PRelu", {"x": _f32(2, 3, 4), "s": _f32(3, 1)})


def test_windows_and_a_range_computed_from_a_size_input():
    size = np.array(12, np.int64)
    for op in ("HannWindow", "HammingWindow", "BlackmanWindow"):
        check(op, {"n": size}, opset=17, periodic=0)
    # Range(0, Cast(n), 1): the limit is computed from an input, so the model specialises on n
    nodes = [helper.make_node("Cast", ["n"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("", TensorProto.FLOAT, [], [0.0])),
             helper.make_node("Constant", [], ["one"], value=helper.make_tensor("", TensorProto.FLOAT, [], [1.5])),
             helper.make_node("Range", ["zero", "f", "one"], ["y"])]
    graph = helper.make_graph(nodes, "r", [helper.make_tensor_value_info("n", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = lumina.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    for n in (7, 4):
        np.testing.assert_array_equal(model(np.array(n, np.int64))["y"], np.arange(0, n, 1.5, dtype=np.float32))


def test_onehot_hardmax_compress_layout_ops():
    idx = np.array([[1, -1], [7, 0]], np.int64)                  # 7 is out of range: all off
    check("OneHot", {"i": idx, "d": np.array(4, np.int64), "v": np.array([-1, 2], np.float32)}, axis=1)
    check("Hardmax", {"x": np.round(_f32(3, 5, 4))}, opset=13, axis=1)
    check("Compress", {"x": _f32(4, 3), "c": np.array([1, 0, 1], bool)}, axis=1)
    check("DepthToSpace", {"x": _f32(2, 12, 2, 3)}, blocksize=2, mode="CRD")
    check("SpaceToDepth", {"x": _f32(2, 3, 4, 6)}, blocksize=2)
    check("ReduceProd", {"x": _f32(3, 4, 2), "a": np.array([0, -1], np.int64)}, keepdims=0)
    check("CumProd", {"x": _f32(3, 5), "a": np.array(-1, np.int64)}, opset=26, exclusive=1, reverse=1)


def test_argmax_select_last_index():
    x = np.round(_f32(4, 6))
    check("ArgMax", {"x": x}, opset=13, axis=1, keepdims=0, select_last_index=1)
    check("ArgMin", {"x": x}, opset=13, axis=0, select_last_index=1)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.data())
def test_tile_shapes_match_numpy(shape, data):
    repeats = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    x = _f32(*shape)
    model = lumina.onnx.load(_model("Tile", {"x": x, "r": np.array(repeats, np.int64)}))
    np.testing.assert_array_equal(model(x, np.array(repeats, np.int64))["y0"], np.tile(x, repeats))


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_einsum_equations_match_numpy(data):
    letters = "abcd"
    size = {c: data.draw(st.integers(1, 3)) for c in letters}
    terms = [data.draw(st.lists(st.sampled_from(letters), min_size=1, max_size=3)) for _ in range(2)]
    used = sorted(set(terms[0]) | set(terms[1]))
    out = data.draw(st.lists(st.sampled_from(used), unique=True, max_size=len(used)))
    equation = ",".join("".join(t) for t in terms) + "->" + "".join(out)
    xs = [_f32(*[size[c] for c in t]) for t in terms]
    model = lumina.onnx.load(_model("Einsum", {"a": xs[0], "b": xs[1]}, opset=12, equation=equation))
    np.testing.assert_allclose(model(*xs)["y0"], np.einsum(equation, *xs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op, inputs, attrs, message", [
    ("Pad", {"x": np.zeros((2, 3), np.float32), "p": np.array([1, 1, 1, 1], np.int64)}, {"mode": "mirror"},
     "mode='mirror' is not supported"),
    ("Pad", {"x": np.zeros((2, 3), np.float32), "p": np.array([0, 3, 0, 0], np.int64)}, {"mode": "reflect"},
     "at most 2 for axis 1"),
    ("TopK", {"x": np.zeros((2, 3), np.float32), "k": np.array([4], np.int64)}, {}, "K=4 is outside"),
    ("Einsum", {"a": np.zeros((2, 3), np.float32)}, {"equation": "ijk->i"}, "has 3 labels for an input of rank 2"),
    ("ScatterElements", {"d": np.zeros((2, 3), np.float32), "i": np.zeros((2, 2), np.int64),
                         "u": np.zeros((2, 2), np.float32)}, {"reduction": "mean"}, "reduction='mean'"),
    ("DepthToSpace", {"x": np.zeros((1, 8, 2, 2), np.float32)}, {"blocksize": 2, "mode": "XYZ"},
     "mode='XYZ' is not supported"),
    ("SpaceToDepth", {"x": np.zeros((1, 2, 3, 4), np.float32)}, {"blocksize": 2}, "divisible by blocksize"),
])
def test_unsupported_attributes_name_the_node(op, inputs, attrs, message):
    with pytest.raises(LuminaOnnxError, match=message):
        lumina.onnx.load(_model(op, inputs, n_out=2 if op == "TopK" else 1, **attrs))(*inputs.values())


def test_compress_with_a_computed_condition_is_refused():
    nodes = [helper.make_node("Greater", ["x", "z"], ["c"]), helper.make_node("Compress", ["x", "c"], ["y"])]
    graph = helper.make_graph(nodes, "c", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
                                           helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = lumina.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    with pytest.raises(LuminaOnnxError, match="condition must be known at compile time"):
        model(_f32(4), _f32(4))
