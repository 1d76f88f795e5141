"""An ONNX model's named dims (``batch``) are symbolic in lumina: one compile serves every size
(sizes 1 and 0 apart), matching ONNX Runtime at each."""
from __future__ import annotations

import numpy as np
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
