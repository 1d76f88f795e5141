"""Frozen inputs (an ONNX model's weights): the CPU executable packs a frozen GEMM operand once per
bound array and runs the kernels that read only frozen inputs (a weight transposed, scaled,
permuted to the im2col order) only when another array is bound, keeping their results across
calls. Results against NumPy and ONNX Runtime, with the arrays swapped between calls."""
from __future__ import annotations

import numpy as np
import pytest

import lumina
from lumina.backends.cpu.executable import Prepack
from lumina.tensor.core import Tensor


def _frozen(array: np.ndarray) -> Tensor:
    return Tensor._from_array(np.ascontiguousarray(array), frozen=True)


@pytest.fixture
def packs(monkeypatch):
    """Counts ``Prepack.pack`` calls."""
    calls = []
    original = Prepack.pack
    monkeypatch.setattr(Prepack, "pack", lambda self, address: (calls.append(self.slot), original(self, address)))
    return calls


def test_a_frozen_weight_is_packed_and_transformed_once_per_bound_array(packs):
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((96, 80)).astype(np.float32)
    w2 = rng.standard_normal((96, 80)).astype(np.float32)
    x = rng.standard_normal((64, 80)).astype(np.float32)
    w = _frozen(w1)
    f = lumina.compile(lambda a: a @ (w * 0.5).T + 1.0)
    np.testing.assert_allclose(f(x).numpy(), x @ (w1 * 0.5).T + 1.0, rtol=1e-5, atol=1e-5)
    exe = f.lower(x).executable
    assert [L.name for L in exe.hoisted] and exe.prepacks      # w * 0.5 runs apart; the GEMM reads it packed
    frozen_array = exe.slots[exe.input_slots[1]]
    assert frozen_array.frozen
    packed_before = len(packs)
    for _ in range(3):                                          # the same array: nothing packed again
        np.testing.assert_allclose(exe.run([x, w.numpy()])[0], x @ (w1 * 0.5).T + 1.0, rtol=1e-5, atol=1e-5)
    assert len(packs) == packed_before
    second = np.ascontiguousarray(w2)
    np.testing.assert_allclose(exe.run([x, second])[0], x @ (w2 * 0.5).T + 1.0, rtol=1e-5, atol=1e-5)
    assert len(packs) > packed_before                           # another array: transformed and packed again
    np.testing.assert_allclose(exe.run([x, w.numpy()])[0], x @ (w1 * 0.5).T + 1.0, rtol=1e-5, atol=1e-5)


def test_a_frozen_array_is_read_only():
    w = _frozen(np.ones((4, 4), np.float32))
    with pytest.raises(ValueError):
        w.numpy()[0, 0] = 2.0


def test_an_unfrozen_weight_is_read_at_every_call():
    """A plain (training) parameter changed in place between calls is never served from a packed
    copy."""
    rng = np.random.default_rng(1)
    w = lumina.tensor(rng.standard_normal((96, 80)).astype(np.float32))
    x = rng.standard_normal((64, 80)).astype(np.float32)
    f = lumina.compile(lambda a: a @ w.T)
    assert not f.lower(x).executable.prepacks
    for _ in range(2):
        np.testing.assert_allclose(f(x).numpy(), x @ w.numpy().T, rtol=1e-5, atol=1e-5)
        with lumina.no_grad():
            w.mul_(-2.0)


def test_onnx_convolution_weights_are_permuted_once_and_agree_with_onnxruntime(tmp_path):
    """A convolution (channels last: its im2col rows times the weight) and a Gemm whose weights are
    initializers: the 3x3 weight's permute to the im2col order runs apart from the call, the
    convolution's GEMM reads it packed, and the outputs equal ONNX Runtime's for several inputs."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    import lumina.onnx
    rng = np.random.default_rng(2)
    conv_w = rng.standard_normal((48, 16, 3, 3)).astype(np.float32) * 0.1
    gemm_w = rng.standard_normal((10, 48)).astype(np.float32) * 0.1
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "gw"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "frozen", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 10])],
                              [numpy_helper.from_array(conv_w, "cw"), numpy_helper.from_array(gemm_w, "gw")])
    path = tmp_path / "frozen.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    model = lumina.onnx.load(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((4, 16, 8, 8)).astype(np.float32)
        np.testing.assert_allclose(model(x=x)["y"], session.run(None, {"x": x})[0], rtol=1e-4, atol=1e-4)
    exe = model._compiled.lower(*model._args(model._bind((), {"x": x}))).executable
    assert exe.hoisted and exe.prepacks


def test_repeated_onnx_calls_take_the_shortcut_and_stay_right(tmp_path):
    """An ONNX model called again with arrays of a signature it has seen skips the compiled call's
    lookups (``CompiledFunction.frozen_host_call``): results stay NumPy's when the batch size
    alternates, when the caller rewrites its input array in place, and bad inputs still raise."""
    from onnx import TensorProto, helper, numpy_helper
    import lumina.onnx
    from lumina.errors import LuminaOnnxError
    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w", "b"], ["g"]), helper.make_node("Relu", ["g"], ["y"])],
                              "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")])
    path = tmp_path / "mlp.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    model = lumina.onnx.load(path)
    x1, x3 = rng.standard_normal((1, 8)).astype(np.float32), rng.standard_normal((3, 8)).astype(np.float32)
    for step in range(4):
        for x in (x1, x3):
            np.testing.assert_allclose(model(x)["y"], np.maximum(x @ w + bias, 0), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(model(x=x)["y"], np.maximum(x @ w + bias, 0), rtol=1e-5, atol=1e-6)
            x *= -1.5                                            # the same array, new data
    assert any(fast.__name__ == "call" for fast in model._fast.values())
    with pytest.raises(LuminaOnnxError, match="dtype"):
        model(x1.astype(np.float64))
    with pytest.raises(LuminaOnnxError, match="shape"):
        model(np.ones((2, 7), np.float32))


def test_pinned_inputs_stay_bound_and_are_rebound_after_other_weights_ran(packs):
    """``Executable.pinned``: a call binds only the leading inputs; after a ``run`` with other
    weights, the next pinned call binds its own again (repacked) instead of reading the others."""
    rng = np.random.default_rng(3)
    w1, w2 = (rng.standard_normal((96, 80)).astype(np.float32) for _ in range(2))
    xs = [rng.standard_normal((64, 80)).astype(np.float32) for _ in range(3)]
    w = _frozen(w1)
    f = lumina.compile(lambda a: a @ w.T)
    f(xs[0])
    exe = f.lower(xs[0]).executable
    call = exe.pinned([w.numpy()])
    for x in xs:                                                # a new head array each call
        np.testing.assert_allclose(call([x])[0], x @ w1.T, rtol=1e-5, atol=1e-4)
    packed = len(packs)
    np.testing.assert_allclose(exe.run([xs[0], w2])[0], xs[0] @ w2.T, rtol=1e-5, atol=1e-4)
    assert len(packs) > packed
    np.testing.assert_allclose(call([xs[1]])[0], xs[1] @ w1.T, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(call([xs[2]])[0], xs[2] @ w1.T, rtol=1e-5, atol=1e-4)
    with pytest.raises(lumina.LuminaError):
        call([xs[0][:10]])                                      # a wrong shape is still checked


def test_pinned_and_plain_calls_from_two_threads_each_read_their_own_weights():
    """The pin is checked under the executable's lock: a thread calling with other weights never
    makes a pinned call read them."""
    import threading
    rng = np.random.default_rng(4)
    w1, w2 = (rng.standard_normal((48, 40)).astype(np.float32) for _ in range(2))
    x = rng.standard_normal((30, 40)).astype(np.float32)
    w = _frozen(w1)
    f = lumina.compile(lambda a: a @ w.T)
    f(x)
    exe = f.lower(x).executable
    call = exe.pinned([w.numpy()])
    wrong = []

    def pinned():
        for _ in range(300):
            if not np.allclose(call([x])[0], x @ w1.T, rtol=1e-4, atol=1e-4):
                wrong.append("pinned")

    def plain():
        for _ in range(300):
            if not np.allclose(exe.run([x, w2])[0], x @ w2.T, rtol=1e-4, atol=1e-4):
                wrong.append("plain")
    threads = [threading.Thread(target=pinned), threading.Thread(target=plain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, wrong[:3]
    with pytest.raises(lumina.LuminaError, match="inputs before the pinned"):
        call([x, x])
