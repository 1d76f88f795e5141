"""The ONNX importer never answers a bad model with a wrong result or a bare Python exception: an
axis, axes or perm attribute (or input) outside what the ONNX specification allows, a constant too
large to build, shape arithmetic that NumPy rejects, or an opset version ONNX does not define each
raise a LuminaOnnxError naming the node (name and op type), the attribute and the value; anything
else a handler raises arrives as a LuminaOnnxError chained to it. Valid negative axes still match
ONNX Runtime, and the activations and compare-and-select ops treat NaN as ONNX Runtime does (or, for
the reductions and arg-reductions, where ONNX Runtime's answer depends on the element order, as
``onnx.reference`` and NumPy do)."""
from __future__ import annotations

import re
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from onnx import TensorProto as TP
from onnx import helper
from onnx.reference import ReferenceEvaluator

import lumina
import lumina.onnx
from lumina import LuminaOnnxError
from lumina.onnx.ops import HANDLERS

X23 = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)


def _model(nodes, inputs, initializers=(), opset=17, outputs=("y",), out_type=TP.FLOAT, domains=()):
    """A graph of ``nodes`` over float inputs ``{name: shape}`` and ``initializers`` ``{name: array}``."""
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TP.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, out_type, None) for o in outputs],
        [onnx.numpy_helper.from_array(np.asarray(a), n) for n, a in dict(initializers).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *domains])


def _raises(model, *arrays, fragments=()) -> LuminaOnnxError:
    """Loading and running ``model`` raises exactly a LuminaOnnxError whose message holds each of
    ``fragments``."""
    with pytest.raises(LuminaOnnxError) as info:
        lumina.onnx.load(model)(*arrays)
    assert type(info.value) is LuminaOnnxError
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    return info.value


def _ort(model, *arrays) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: a for i, a in zip(session.get_inputs(), arrays)})


# ---- axes out of range ----------------------------------------------------------------------------

I64 = np.int64
# (op, attributes, initializers (after x), opset, extra outputs, the attribute and value the message names)
BAD_AXES = [
    ("Unsqueeze", {"axes": [2**31]}, {}, 11, (), "axes=[2147483648]"),
    ("Unsqueeze", {}, {"axes": np.array([2**31], I64)}, 13, (), "axes=[2147483648]"),
    ("Unsqueeze", {}, {"axes": np.array([1, -3], I64)}, 13, (), "axes=[1, -3] names an axis twice"),
    ("Transpose", {"perm": [1, 0, -100]}, {}, 17, (), "perm=[1, 0, -100]"),
    ("Transpose", {"perm": [1]}, {}, 17, (), "perm=[1]"),
    ("Transpose", {"perm": [0, 0]}, {}, 17, (), "perm=[0, 0]"),
    ("LayerNormalization", {"axis": -100}, {"scale": np.ones(3, np.float32)}, 17, (), "axis=-100"),
    ("Squeeze", {}, {"axes": np.array([5], I64)}, 13, (), "axes=[5]"),
    ("Squeeze", {"axes": [-3]}, {}, 11, (), "axes=[-3]"),
    ("Concat", {"axis": 2}, {"x2": X23}, 17, (), "axis=2"),
    ("Split", {"axis": -3, "num_outputs": 2}, {}, 18, ("z",), "axis=-3"),
    ("Gather", {"axis": 2}, {"i": np.array([0], I64)}, 17, (), "axis=2"),
    ("Softmax", {"axis": 2}, {}, 13, (), "axis=2"),
    ("Softmax", {"axis": -3}, {}, 11, (), "axis=-3"),
    ("LogSoftmax", {"axis": -3}, {}, 13, (), "axis=-3"),
    ("Hardmax", {"axis": 2}, {}, 13, (), "axis=2"),
    ("Flatten", {"axis": 3}, {}, 13, (), "axis=3"),
    ("Flatten", {"axis": -3}, {}, 13, (), "axis=-3"),
    ("ReduceSum", {}, {"axes": np.array([7], I64)}, 13, (), "axes=[7]"),
    ("ReduceMax", {"axes": [-5]}, {}, 13, (), "axes=[-5]"),
    ("ReduceMean", {}, {"axes": np.array([0, 2], I64)}, 18, (), "axes=[0, 2]"),
    ("ReduceProd", {}, {"axes": np.array([3], I64)}, 18, (), "axes=[3]"),
    ("ReduceLogSumExp", {}, {"axes": np.array([-3], I64)}, 18, (), "axes=[-3]"),
    ("CumSum", {}, {"axis": np.array(3, I64)}, 14, (), "axis=3"),
    ("ArgMax", {"axis": 2}, {}, 13, (), "axis=2"),
    ("ArgMin", {"axis": -3, "select_last_index": 1}, {}, 13, (), "axis=-3"),
    ("GatherElements", {"axis": 2}, {"i": np.zeros((2, 3), I64)}, 13, (), "axis=2"),
    ("ScatterElements", {"axis": 5}, {"i": np.zeros((2, 3), I64), "u": X23}, 18, (), "axis=5"),
    ("TopK", {"axis": 3}, {"k": np.array([1], I64)}, 11, ("idx",), "axis=3"),
    ("Compress", {"axis": 2}, {"c": np.array([True, False])}, 11, (), "axis=2"),
    ("Slice", {}, {"s": np.array([0], I64), "e": np.array([1], I64), "a": np.array([3], I64)}, 13, (), "axes=[3]"),
    ("Pad", {}, {"p": np.array([1, 1], I64), "v": np.array(0, np.float32), "a": np.array([4], I64)}, 18, (),
     "axes=[4]"),
    ("LpNormalization", {"axis": 2}, {}, 13, (), "axis=2"),
    ("MeanVarianceNormalization", {"axes": [9]}, {}, 13, (), "axes=[9]"),
    ("RMSNormalization", {"axis": 3}, {"scale": np.ones(3, np.float32)}, 23, (), "axis=3"),
    ("Resize", {"axes": [5], "mode": "nearest"}, {"roi": np.zeros(0, np.float32), "scales": np.array([2.0], np.float32)},
     18, (), "axes=[5]"),
    ("CenterCropPad", {"axes": [4]}, {"shape": np.array([2], I64)}, 18, (), "axes=[4]"),
]


@pytest.mark.parametrize("op, attrs, inits, opset, extra, named", BAD_AXES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_AXES)])
def test_an_axis_out_of_range_names_the_node_the_attribute_and_the_value(op, attrs, inits, opset, extra, named):
    node = helper.make_node(op, ["x", *inits], ["y", *extra], name="bad_node", **attrs)
    model = _model([node], {"x": [2, 3]}, inits, opset=opset, outputs=("y", *extra),
                   out_type=TP.INT64 if op.startswith("Arg") else TP.FLOAT)
    _raises(model, X23, fragments=[f"'bad_node' ({op})", named])


def test_onehot_axis_counts_the_output_rank():
    node = helper.make_node("OneHot", ["i", "depth", "values"], ["y"], name="hot", axis=-4)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("i", TP.INT64, [2, 3])],
                              [helper.make_tensor_value_info("y", TP.FLOAT, None)],
                              [helper.make_tensor("depth", TP.INT64, [], [4]),
                               helper.make_tensor("values", TP.FLOAT, [2], [0.0, 1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    _raises(model, np.zeros((2, 3), I64), fragments=["'hot' (OneHot)", "axis=-4", "[-3, 2]"])


VALID_NEGATIVE = [
    ("Unsqueeze", {}, {"axes": np.array([-1, 0], I64)}, 13, ()),
    ("Concat", {"axis": -1}, {"x2": X23}, 17, ()),
    ("Split", {"axis": -1, "num_outputs": 3}, {}, 18, ("z", "w")),
    ("Gather", {"axis": -1}, {"i": np.array([[2, -1], [0, -3]], I64)}, 17, ()),
    ("Softmax", {"axis": -2}, {}, 13, ()),
    ("LogSoftmax", {"axis": -1}, {}, 11, ()),
    ("Flatten", {"axis": 2}, {}, 13, ()),              # axis == rank: [N, 1]
    ("Flatten", {"axis": -2}, {}, 13, ()),
    ("ReduceSum", {"keepdims": 0}, {"axes": np.array([-1, -2], I64)}, 13, ()),
    ("ReduceMax", {"axes": [-2]}, {}, 13, ()),
    ("CumSum", {"reverse": 1}, {"axis": np.array(-1, I64)}, 14, ()),
    ("ArgMax", {"axis": -1, "select_last_index": 1}, {}, 13, ()),
    ("LayerNormalization", {"axis": -1}, {"scale": np.array([1.0, 2.0, 0.5], np.float32)}, 17, ()),
    ("Transpose", {"perm": [1, 0]}, {}, 17, ()),
    ("Squeeze", {}, {"axes": np.zeros(0, I64)}, 13, ()),   # an empty axes input: every size-1 dim
]


@pytest.mark.parametrize("op, attrs, inits, opset, extra", VALID_NEGATIVE,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(VALID_NEGATIVE)])
def test_valid_negative_axes_match_onnxruntime(op, attrs, inits, opset, extra):
    node = helper.make_node(op, ["x", *inits], ["y", *extra], **attrs)
    shape = [1, 3, 1] if op == "Squeeze" else [2, 3]
    x = np.arange(-3, np.prod(shape) - 3, dtype=np.float32).reshape(shape) * 0.7
    model = _model([node], {"x": shape}, inits, opset=opset, outputs=("y", *extra),
                   out_type=TP.INT64 if op.startswith("Arg") else TP.FLOAT)
    got = list(lumina.onnx.load(model)(x).values())
    for g, w in zip(got, _ort(model, x), strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


# ---- shape arithmetic and constants ---------------------------------------------------------------

def test_constant_of_shape_too_large_names_the_node_the_shape_and_the_bytes():
    node = helper.make_node("ConstantOfShape", ["s"], ["y"], name="huge")
    model = _model([node], {}, {"s": np.array([2**40], I64)})
    _raises(model, fragments=["'huge' (ConstantOfShape)", "[1099511627776]", "4398046511104 bytes"])
    model = _model([node], {}, {"s": np.array([2**31, 2**31], I64)})
    _raises(model, fragments=["'huge' (ConstantOfShape)", "[2147483648, 2147483648]"])


SHAPE_ERRORS = [   # (nodes, initializers, what the message names)
    ([helper.make_node("ConstantOfShape", ["s"], ["y"], name="n")], {"s": np.array([3, -1], I64)},
     ["'n' (ConstantOfShape)", "[3, -1]", "negative"]),
    ([helper.make_node("Range", ["a", "b", "d"], ["y"], name="n")],
     {"a": np.array(0, I64), "b": np.array(2**62, I64), "d": np.array(1, I64)}, ["'n' (Range)", "[4611686018427387904]"]),
    ([helper.make_node("Constant", [], [k], value=onnx.numpy_helper.from_array(np.array(v, np.float32)))
      for k, v in (("a", 0.0), ("b", np.inf), ("d", 1.0))] + [helper.make_node("Range", ["a", "b", "d"], ["y"], name="n")],
     {}, ["'n' (Range)", "limit=inf"]),
    ([helper.make_node("Range", ["a", "b", "d"], ["y"], name="n")],
     {"a": np.array(0, I64), "b": np.array(5, I64), "d": np.array(0, I64)}, ["'n' (Range)", "delta must not be 0"]),
    ([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Reshape", ["s", "t"], ["y"], name="n")],
     {"t": np.array([3, 2], I64)}, ["'n' (Reshape)", "[3, 2]", "shape [2]"]),
    ([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Concat", ["s", "t"], ["y"], name="n", axis=0)],
     {"t": np.zeros((1, 1), I64)}, ["'n' (Concat)", "input 1 of shape [1, 1]"]),
    ([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Expand", ["s", "t"], ["y"], name="n")],
     {"t": np.array([3], I64)}, ["'n' (Expand)", "shape [3]"]),
    ([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Tile", ["s", "t"], ["y"], name="n")],
     {"t": np.array([2**40], I64)}, ["'n' (Tile)", "[2199023255552]"]),
    ([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i"], ["y"], name="n")],
     {"i": np.array([5], I64)}, ["'n' (Gather)", "index 5", "[-2, 1]"]),
    ([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Slice", ["s", "a", "b", "c", "d"], ["y"], name="n")],
     {"a": np.array([0], I64), "b": np.array([1], I64), "c": np.array([0], I64), "d": np.array([0], I64)},
     ["'n' (Slice)", "a step of 0"]),
    ([helper.make_node("Split", ["x", "t"], ["y", "z"], name="n", axis=1)], {"t": np.array([1, 1], I64)},
     ["'n' (Split)", "split=[1, 1]", "summing to 3"]),
    ([helper.make_node("HannWindow", ["t"], ["y"], name="n")], {"t": np.array(2**40, I64)},
     ["'n' (HannWindow)", "[1099511627776]"]),
]


@pytest.mark.parametrize("nodes, inits, fragments", SHAPE_ERRORS, ids=[f"{c[0][-1].op_type}-{i}" for i, c in
                                                                        enumerate(SHAPE_ERRORS)])
def test_shape_arithmetic_errors_name_the_node(nodes, inits, fragments):
    out_type = TP.INT64 if nodes[-1].op_type in ("Reshape", "Concat", "Expand", "Tile", "Gather", "Slice") \
        or "b" in inits and inits["b"].dtype == I64 else TP.FLOAT
    outputs = tuple(nodes[-1].output)
    _raises(_model(nodes, {"x": [2, 3]}, inits, opset=18, outputs=outputs, out_type=out_type), X23,
            fragments=fragments)


def test_a_handler_exception_becomes_a_chained_lumina_error(monkeypatch):
    """The safety net: whatever escapes a handler (here a ZeroDivisionError) arrives as a
    LuminaOnnxError naming the node, the op type, the input types and the attributes, with the
    original exception as its cause."""
    def broken(ctx, xs, attrs):
        return [1 // 0]
    monkeypatch.setitem(HANDLERS, "LeakyRelu", broken)
    node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky", alpha=0.5)
    error = _raises(_model([node], {"x": [2, 3]}), X23,
                    fragments=["'leaky' (LeakyRelu)", "float32[2, 3]", "alpha=0.5", "ZeroDivisionError"])
    assert isinstance(error.__cause__, ZeroDivisionError)


def test_resize_of_an_empty_axis_is_a_lumina_error():
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="grow", mode="linear")
    model = _model([node], {"x": [1, 0]}, {"sizes": np.array([1, 4], I64)}, opset=18)
    _raises(model, np.zeros((1, 0), np.float32), fragments=["'grow' (Resize)"])


# ---- opset and IR versions ------------------------------------------------------------------------

@pytest.mark.parametrize("version", [2**40, 2**31, 0, -1, onnx.defs.onnx_opset_version() + 1])
def test_an_opset_version_onnx_does_not_define_is_refused_at_load(version):
    model = _model([helper.make_node("Relu", ["x"], ["y"])], {"x": [2, 3]}, opset=version)
    with pytest.raises(LuminaOnnxError, match=rf"opset_import ai\.onnx version {version} is not one ONNX defines"):
        lumina.onnx.load(model)


def test_other_domains_and_the_ir_version_must_fit():
    relu = [helper.make_node("Relu", ["x"], ["y"])]
    model = _model(relu, {"x": [2, 3]}, domains=[helper.make_opsetid("ai.onnx.ml", 2**40)])
    with pytest.raises(LuminaOnnxError, match=r"opset_import ai\.onnx\.ml version 1099511627776"):
        lumina.onnx.load(model)
    model = _model(relu, {"x": [2, 3]})
    model.ir_version = 2**40
    with pytest.raises(LuminaOnnxError, match=r"ir_version 1099511627776"):
        lumina.onnx.load(model)


def test_symbolic_and_unknown_input_dims_are_handled_as_before():
    """A dim given as a name runs at any size; so does one given as -1 (not valid ONNX, but
    written by some exporters, and read as unknown by ONNX Runtime); a wrong rank is a
    LuminaOnnxError naming the input, not a crash."""
    relu = [helper.make_node("Relu", ["x"], ["y"])]
    graph = helper.make_graph(relu, "g", [helper.make_tensor_value_info("x", TP.FLOAT, ["batch", 3])],
                              [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    model = lumina.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    for n in (1, 4):
        np.testing.assert_array_equal(model(np.ones((n, 3), np.float32))["y"], np.ones((n, 3)))
    graph = helper.make_graph(relu, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [-1, 3])],
                              [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    model = lumina.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    for n in (1, 2, 5):
        np.testing.assert_array_equal(model(np.ones((n, 3), np.float32))["y"], np.ones((n, 3)))
    with pytest.raises(LuminaOnnxError, match=r"input 'x': rank 1 \(shape \[3\]\), expected rank 2 \(\['\?', 3\]\)"):
        model(np.ones(3, np.float32))


# ---- fuzzed attributes: a LuminaError or the right answer -----------------------------------------

AXIS = st.one_of(st.integers(-5, 5), st.sampled_from([2**31, -2**31, 2**63 - 1, -2**63]))
SHAPES = st.lists(st.integers(0, 3), min_size=1, max_size=4)
OPS = ["Softmax", "LogSoftmax", "Flatten", "ArgMax", "Hardmax", "Concat", "Split", "Gather", "CumSum",
       "Unsqueeze", "Squeeze", "ReduceSum", "ReduceMax", "ReduceL2", "Transpose", "Slice", "Tile", "Expand"]


def _fuzz_model(op: str, shape: list[int], axes: list[int], flag: bool):
    inits, outputs, attrs, out_type = {}, ("y",), {}, TP.FLOAT
    if op in ("Softmax", "LogSoftmax", "Flatten", "Hardmax", "Concat", "Gather", "Split"):
        attrs["axis"] = axes[0]
    if op == "ArgMax":
        attrs.update(axis=axes[0], keepdims=int(flag), select_last_index=int(flag))
        out_type = TP.INT64
    if op == "Concat":
        inits["x2"] = np.ones(shape, np.float32)
    if op == "Gather":
        inits["i"] = np.array([0, -1], I64)
    if op == "Split":
        attrs["num_outputs"], outputs = 2, ("y", "z")
    if op == "CumSum":
        inits["axis"], attrs["reverse"] = np.array(axes[0], I64), int(flag)
    if op in ("Unsqueeze", "Squeeze", "ReduceSum", "ReduceMax", "ReduceL2"):
        inits["axes"] = np.array(axes, I64)
        if op.startswith("Reduce"):
            attrs.update(keepdims=int(flag), noop_with_empty_axes=int(not flag))
    if op == "Transpose":
        attrs["perm"] = axes
    if op == "Slice":
        inits.update(starts=np.array(axes, I64), ends=np.array([min(a + 2, 2**63 - 1) for a in axes], I64))
    if op in ("Tile", "Expand"):   # small sizes: huge ones are SHAPE_ERRORS' (and machine-dependent)
        inits["v"] = np.array([a if -5 <= a <= 5 else 1 for a in axes], I64)
    node = helper.make_node(op, ["x", *inits], list(outputs), **attrs)
    return _model([node], {"x": shape}, inits, opset=18, outputs=outputs, out_type=out_type)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(OPS), SHAPES, st.lists(AXIS, min_size=1, max_size=3), st.booleans())
def test_fuzzed_axes_give_a_lumina_error_or_onnxruntimes_answer(op, shape, axes, flag):
    """Any axis values: lumina raises a LuminaError, or runs and agrees with ONNX Runtime (which must
    then accept the model too)."""
    model = _fuzz_model(op, shape, axes, flag)
    x = np.asarray(np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 1.5)
    try:
        got = list(lumina.onnx.load(model)(x).values())
    except lumina.LuminaError:
        return
    want = _ort(model, x)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


# ---- NaN and infinities ---------------------------------------------------------------------------

NAN, INF = np.nan, np.inf
XN = np.array([[NAN, 1.0, -2.0, INF], [-INF, NAN, 0.5, -0.0], [3.0, -1.0, NAN, 0.0]], np.float32)
YN = np.array([[1.0, NAN, 0.0, -INF], [NAN, 2.0, NAN, 5.0], [0.0, -0.5, 1.0, NAN]], np.float32)
ACTIVATIONS = [("Relu", {}), ("LeakyRelu", {"alpha": 0.1}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
               ("ThresholdedRelu", {"alpha": 0.7}), ("Selu", {}), ("Elu", {"alpha": 0.8})]


@pytest.mark.parametrize("op, attrs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations_treat_nan_and_infinities_as_onnxruntime(op, attrs):
    model = _model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": [3, 4]})
    np.testing.assert_allclose(lumina.onnx.load(model)(XN)["y"], _ort(model, XN)[0], rtol=1e-6, atol=0)


BINARY = [("PRelu", ["x", "w"]), ("PRelu", ["w", "x"]), ("Max", ["x", "w"]), ("Min", ["x", "w"]),
          ("Max", ["x", "w", "x"]), ("Min", ["w", "x", "w"])]


@pytest.mark.parametrize("op, inputs", BINARY, ids=[f"{op}-{'-'.join(i)}" for op, i in BINARY])
def test_two_input_ops_treat_nan_as_onnxruntime(op, inputs):
    model = _model([helper.make_node(op, inputs, ["y"])], {"x": [3, 4], "w": [3, 4]})
    np.testing.assert_allclose(lumina.onnx.load(model)(XN, YN)["y"], _ort(model, XN, YN)[0], rtol=0, atol=0)


@pytest.mark.parametrize("lo, hi", [(-1.0, 1.5), (NAN, 1.5), (-1.0, NAN), (NAN, NAN), (2.0, -2.0), (-INF, INF)])
def test_clip_treats_nan_in_the_input_and_the_bounds_as_onnxruntime(lo, hi):
    """A NaN input stays NaN; a NaN bound bounds nothing (``std::min(std::max(x, lo), hi)``)."""
    model = _model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], {"x": [3, 4]},
                   {"lo": np.array(lo, np.float32), "hi": np.array(hi, np.float32)}, opset=13)
    np.testing.assert_array_equal(lumina.onnx.load(model)(XN)["y"], _ort(model, XN)[0])


ARG_CASES = [(op, axis, last, keep) for op in ("ArgMax", "ArgMin") for axis in (0, 1, -1)
             for last in (0, 1) for keep in (0, 1)]


@pytest.mark.parametrize("op, axis, last, keep", ARG_CASES)
def test_argmax_and_argmin_return_the_nan_index_as_onnx_reference(op, axis, last, keep):
    """NaN is the extreme, as NumPy and torch have it: the first NaN's index (the last with
    ``select_last_index``). ONNX Runtime's answer depends on where the NaN stands (a NaN first in
    the row wins, one later is skipped), so ``onnx.reference`` is the oracle."""
    x = np.concatenate([XN, np.array([[1.0, 7.0, 7.0, -3.0]], np.float32), YN])
    model = _model([helper.make_node(op, ["x"], ["y"], axis=axis, select_last_index=last, keepdims=keep)],
                   {"x": list(x.shape)}, opset=13, out_type=TP.INT64)
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    np.testing.assert_array_equal(lumina.onnx.load(model)(x)["y"], want)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
@pytest.mark.parametrize("axes", [[0], [1], [0, 1]])
def test_reduce_max_and_min_propagate_nan_as_onnx_reference(op, axes):
    """Any NaN in the reduced slice gives NaN (NumPy, torch, ``onnx.reference``). ONNX Runtime's
    CPU kernel keeps a NaN only where it is met first (microsoft/onnxruntime#10514), so it is not
    the oracle here."""
    model = _model([helper.make_node(op, ["x"], ["y"], axes=axes)], {"x": [3, 4]}, opset=13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = ReferenceEvaluator(model).run(None, {"x": XN})[0]
    np.testing.assert_array_equal(lumina.onnx.load(model)(XN)["y"], want)


def test_reductions_over_an_empty_set_give_the_identity():
    """ONNX (opset 18): max of nothing is -inf, min +inf, sum 0, log-sum-exp -inf; as ONNX Runtime."""
    for op in ("ReduceMax", "ReduceMin", "ReduceSum", "ReduceLogSumExp", "ReduceL2", "ReduceSumSquare"):
        model = _model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=1)], {"x": [2, 0]},
                       {"axes": np.array([1], I64)}, opset=18)
        x = np.zeros((2, 0), np.float32)
        np.testing.assert_array_equal(lumina.onnx.load(model)(x)["y"], _ort(model, x)[0], err_msg=op)


@pytest.mark.parametrize("op", ["ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                                "ReduceMax", "ReduceSum"])
def test_noop_with_empty_axes_keeps_the_elementwise_part_as_onnxruntime(op):
    model = _model([helper.make_node(op, ["x"], ["y"], noop_with_empty_axes=1)], {"x": [3, 4]}, opset=18)
    x = np.abs(XN) + 0.5 if op == "ReduceLogSum" else XN
    np.testing.assert_allclose(lumina.onnx.load(model)(x)["y"], _ort(model, x)[0], rtol=1e-6)


def test_messages_name_the_node_by_its_position_when_it_has_no_name():
    node = helper.make_node("Transpose", ["x"], ["y"], perm=[2, 0])
    error = _raises(_model([node], {"x": [2, 3]}), X23)
    assert re.search(r"node '#0' \(Transpose\): perm=\[2, 0\]", str(error))
