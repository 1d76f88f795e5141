"""Session-wide test settings, and fixtures several test files share.

The suite's expectations (kernel counts, LLVM text, per-kernel profiles) are those of the cpu
device, so ``@lumina.compile`` without a device runs there even on a machine with a GPU (where the
default device would be cuda); tests of other devices name theirs (``tests/test_devices.py``,
``tests/test_gpu.py``). ``LUMINA_DEVICE=cuda python -m pytest`` runs the rest on the GPU instead.

The disk cache of compiled code is a directory of this session's own (removed at exit) unless
``LUMINA_CACHE`` names one: a run neither reads nor fills the user's cache.
"""
import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

os.environ.setdefault("LUMINA_DEVICE", "cpu")
if "LUMINA_CACHE" not in os.environ:
    os.environ["LUMINA_CACHE"] = tempfile.mkdtemp(prefix="lumina-test-cache-")
    atexit.register(shutil.rmtree, os.environ["LUMINA_CACHE"], ignore_errors=True)


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    """``y = sum(relu(x @ W + b))`` with ``x: f32[batch, 8]``, written with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]), helper.make_node("ReduceSum", ["r"], ["y"], keepdims=0)]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
        [numpy_helper.from_array(rng.random((8, 16), dtype=np.float32), "W"),
         numpy_helper.from_array(rng.random(16, dtype=np.float32), "b")])
    path = tmp_path_factory.mktemp("onnx") / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return str(path)

