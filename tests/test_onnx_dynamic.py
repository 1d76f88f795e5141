"""An ONNX model's named dims (``batch``) are symbolic in lumina: one compile serves every size
(sizes 1 and 0 apart), matching ONNX Runtime at each."""
from __future__ import annotations

import numpy as np
import pytest
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import lumina.onnx
from lumina.backends.cpu.symbolic_executable import SymbolicExecutable


def _model() -> bytes:
    """Gemm + Relu + Softmax over a ``batch`` dim, and a Shape/Gather/Concat/Reshape chain that
    computes a shape from the batch size (as exported Transformers do)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 6)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b")
    idx = numpy_helper.from_array(np.array(0, np.int64), "zero")
    tail = numpy_helper.from_array(np.array([2, 3], np.int64), "tail")
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"]),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "tail"], ["target"], axis=0),
        helper.make_node("Reshape", ["r", "target"], ["r3"]),
        helper.make_node("Softmax", ["r3"], ["y"], axis=-1),
    ]
    axes = numpy_helper.from_array(np.array([0], np.int64), "axes")
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, 3])],
                              [w, b, idx, tail, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_named_batch_compiles_once_and_matches_onnxruntime():
    data = _model()
    m = lumina.onnx.load(data)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 17, 64, 5, 1, 40):
        x = rng.standard_normal((n, 8)).astype(np.float32)
        np.testing.assert_allclose(m(x=x)["y"], sess.run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)
    assert m._compiled.cache_info()["entries"] == 2   # batch 1, and every other size
    kinds = sorted(isinstance(e.executable, SymbolicExecutable) for e in m._compiled._recent)
    assert kinds == [False, True]


def test_dims_declared_minus_one_are_unknown_and_zero_is_a_size_as_onnxruntime_reads_them():
    """Some exporters (PaddlePaddle's) declare an unknown dim as -1: any size is accepted and the
    dim is symbolic; a declared 0 is a size, and another one is refused, as by ONNX Runtime."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Relu", ["z"], ["g"])],
                              "minus_one",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3, -1]),
                               helper.make_tensor_value_info("z", TensorProto.FLOAT, [0, 2])],
                              [helper.make_tensor_value_info("h", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("g", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    data = model.SerializeToString()
    m = lumina.onnx.load(data)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    z = np.zeros((0, 2), np.float32)
    for shape in ((1, 3, 48), (2, 3, 192), (5, 3, 7)):
        x = rng.standard_normal(shape).astype(np.float32)
        got, want = m(x=x, z=z), sess.run(None, {"x": x, "z": z})
        np.testing.assert_array_equal(got["h"], want[0])
        assert got["g"].shape == want[1].shape == (0, 2)
    with pytest.raises(lumina.LuminaError, match="input 'z': shape \\[1, 2\\], expected \\[0, 2\\]"):
        m(x=x, z=np.zeros((1, 2), np.float32))
    with pytest.raises(Exception, match="invalid dimensions"):
        sess.run(None, {"x": x, "z": np.zeros((1, 2), np.float32)})
    with pytest.raises(lumina.LuminaError, match="input 'x': rank 2"):
        m(x=np.zeros((2, 3), np.float32), z=z)
