"""The per-call fast path: an executable binds again only the inputs that changed, and a compiled
function that writes nothing back reuses what its last call read of the captured state. Each
shortcut must give what the full path gives (NumPy / eager lumina as the oracle)."""
from __future__ import annotations

import numpy as np
import pytest

import lumina
from lumina.errors import LuminaTypeError


def _exe(fn, *args):
    return lumina.compile(fn).lower(*args).executable


def test_an_input_array_passed_again_is_read_afresh():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    f = lumina.compile(lambda t: t * 2 + 1)
    np.testing.assert_array_equal(f(x).numpy(), x * 2 + 1)
    x[...] = -x                     # the same array object, new contents
    np.testing.assert_array_equal(f(x).numpy(), x * 2 + 1)


def test_an_input_reshaped_in_place_is_refused_not_read_with_the_old_shape():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    exe = _exe(lambda t: t + 1, x)
    np.testing.assert_array_equal(exe.run([x])[0], x + 1)
    x.shape = (3, 2)                # same object, same data pointer, another shape
    with pytest.raises(LuminaTypeError, match=r"shape \(3, 2\), expected \(2, 3\)"):
        exe.run([x])


def test_the_executable_keeps_no_input_alive():
    import gc
    import weakref
    x = np.ones((4, 4), np.float32)
    exe = _exe(lambda t: t.sum(), x)
    exe.run([x])
    ref = weakref.ref(x)
    del x
    gc.collect()
    assert ref() is None


def test_captured_state_updated_between_calls_is_seen():
    w = lumina.tensor(np.array([1.0, 2.0, 3.0], np.float32))
    f = lumina.compile(lambda x: x * w)
    x = np.ones(3, np.float32)
    np.testing.assert_array_equal(f(x).numpy(), [1, 2, 3])
    with lumina.no_grad():
        w.mul_(10)                  # a new value for the same tensor
    np.testing.assert_array_equal(f(x).numpy(), [10, 20, 30])
    w.numpy()[...] = 7              # the same value, its array written through .numpy()
    np.testing.assert_array_equal(f(x).numpy(), [7, 7, 7])


@pytest.mark.parametrize("how", ["detach", "reshape"])
def test_a_captured_alias_of_a_shared_array_reads_what_eager_reads(how):
    """A ``from_numpy`` tensor updated in place gives its old value a copy (``tracing.Rebinds``):
    a captured tensor that still holds that value must read the copy, as eager code does."""
    arr = np.array([1.0, 2.0, 3.0], np.float32)
    a = lumina.from_numpy(arr)
    c = a.detach() if how == "detach" else a.reshape(3)
    f = lumina.compile(lambda x: x + c)
    x = np.zeros(3, np.float32)
    f(x)
    a.add_(1)
    np.testing.assert_array_equal(f(x).numpy(), (lumina.tensor(x) + c).numpy())


def test_onnx_outputs_are_fresh_arrays_per_call():
    import lumina.onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = lumina.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.array([-1.0, 2.0], np.float32)
    first = model(x)["y"]
    second = model(-x)["y"]
    np.testing.assert_array_equal(first, [0, 2])
    np.testing.assert_array_equal(second, [1, 0])
    assert type(first) is np.ndarray and not np.shares_memory(first, second)
