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


def _general_path_forbidden(f, monkeypatch):
    """Make ``f``'s general call path fail, so that a call that returns took the fast path."""
    def refuse(args):
        raise AssertionError("the general call path ran")
    monkeypatch.setattr(f, "_entry", refuse)


def test_a_repeated_call_takes_the_fast_path_and_reads_new_arguments(monkeypatch):
    rng = np.random.default_rng(0)
    f = lumina.compile(lambda a, b: (a * b + 1, a - b))
    a, b = (rng.standard_normal((3, 5)).astype(np.float32) for _ in range(2))
    f(lumina.tensor(a), b)
    _general_path_forbidden(f, monkeypatch)
    for _ in range(3):
        a, b = (rng.standard_normal((3, 5)).astype(np.float32) for _ in range(2))
        s, d = f(lumina.tensor(a), b)
        assert isinstance(s, lumina.Tensor) and s.shape == (3, 5) and s.dtype == lumina.float32
        np.testing.assert_allclose(s.numpy(), a * b + 1, rtol=1e-6)
        np.testing.assert_array_equal(d.numpy(), a - b)


@pytest.mark.parametrize("change", ["shape", "dtype", "requires_grad", "non_contiguous", "lazy", "view",
                                    "autocast", "options"])
def test_a_call_unlike_the_last_leaves_the_fast_path_and_gets_the_right_answer(change):
    """Each change either needs another compiled signature (counted) or data the fast path does not
    bind as it is; the answer is NumPy's (eager lumina's under autocast)."""
    rng = np.random.default_rng(1)
    w = lumina.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    f = lumina.compile(lambda x: (x @ w).exp())
    x = rng.standard_normal((2, 4)).astype(np.float32)
    f(lumina.tensor(x))
    f(lumina.tensor(x))
    assert f._fast is not None
    arg, expected, context, signatures = lumina.tensor(x), np.exp(x @ w.numpy()), None, 2
    if change == "shape":
        x = rng.standard_normal((3, 4)).astype(np.float32)
        arg, expected = lumina.tensor(x), np.exp(x @ w.numpy())
    elif change == "dtype":
        arg, expected = lumina.tensor(x.astype(np.float64)), np.exp(x.astype(np.float64) @ w.numpy())
    elif change == "requires_grad":
        arg = lumina.tensor(x, requires_grad=True)
    elif change == "non_contiguous":
        f(x)                          # now the fast path of a contiguous array argument
        arg = np.repeat(x, 2, axis=1)[:, ::2]   # the same values, strided
        signatures = 2
    elif change == "lazy":
        arg, signatures = lumina.tensor(x / 2) * 2, 1   # not realised yet
    elif change == "view":
        junk = np.full_like(x, 100)
        arg, signatures = lumina.tensor(np.concatenate([junk, x]))[2:], 1   # rows 2.. of another array
    elif change == "autocast":
        context = lumina.autocast("cpu", dtype=lumina.bfloat16)
    else:
        context = lumina.compiler.options(epilogues=False)
    if context is None:
        out = f(arg)
    else:
        with context:
            out = f(arg)
            if change == "autocast":   # eager lumina under the same autocast
                expected = (lumina.tensor(x) @ w).exp().numpy()
                assert out.dtype == lumina.bfloat16
    tol = 1e-2 if change == "autocast" else 1e-5
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected.astype(np.float64), rtol=tol)
    assert f.cache_info()["entries"] == signatures


def test_the_fast_path_keeps_no_rebound_state_alive():
    import gc
    import weakref
    w = lumina.tensor(np.ones(1024, np.float32))
    f = lumina.compile(lambda x: x + w)
    x = np.zeros(1024, np.float32)
    f(x)
    f(x)
    old = weakref.ref(w.numpy())
    with lumina.no_grad():
        w.add_(1)
    w.numpy()                         # realised: a new array for w, the old one is garbage
    gc.collect()
    assert old() is None
    np.testing.assert_array_equal(f(x).numpy(), np.full(1024, 2, np.float32))


def test_state_trained_between_fast_calls_is_seen():
    """An eager optimizer step rebinds every parameter; the compiled inference function reads the
    new values (oracle: the same Linear computed with NumPy)."""
    rng = np.random.default_rng(2)
    model = lumina.nn.Linear(4, 3)
    infer = lumina.compile(lambda x: model(x))
    opt = lumina.optim.SGD(model.parameters(), lr=0.5)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    for _ in range(3):
        with lumina.no_grad():
            out = infer(lumina.tensor(x)).numpy()
        expected = x @ model.weight.numpy().T + model.bias.numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
        opt.zero_grad()
        model(lumina.tensor(x)).square().sum().backward()
        opt.step()


def test_run_after_the_runner_binds_its_inputs_again():
    """``Executable.runner`` binds addresses without ``run``'s bookkeeping; a ``run`` after it with
    the array ``run`` bound before must not trust its old binding."""
    x1, x2 = np.ones((2, 3), np.float32), np.full((2, 3), 5, np.float32)
    exe = _exe(lambda t: t * 2, x1)
    for _ in range(3):   # a small step's plan is compiled at its third run
        np.testing.assert_array_equal(exe.run([x1])[0], x1 * 2)
    assert exe.plan is not None
    np.testing.assert_array_equal(exe.runner()([x2])[0], x2 * 2)
    np.testing.assert_array_equal(exe.run([x1])[0], x1 * 2)


def test_two_functions_sharing_one_executable_each_read_their_own_state():
    """Functions of the same structure share an executable (cached by graph structure); the fast
    path of each binds its own captured state whenever the other bound its own in between."""
    w1 = lumina.tensor(np.full(4, 2.0, np.float32))
    w2 = lumina.tensor(np.full(4, 3.0, np.float32))
    f1 = lumina.compile(lambda x: x * w1)
    f2 = lumina.compile(lambda x: x * w2)
    x = np.arange(4, dtype=np.float32)
    for _ in range(4):   # the plan is compiled at the third run; later calls take the runner
        np.testing.assert_array_equal(f1(x).numpy(), x * 2)
        np.testing.assert_array_equal(f2(x).numpy(), x * 3)
    assert f1.lower(x).executable is f2.lower(x).executable


def test_the_fast_path_binds_its_state_again_after_a_run_with_other_arrays():
    w = lumina.tensor(np.full(4, 2.0, np.float32))
    f = lumina.compile(lambda x: x * w)
    x = np.arange(4, dtype=np.float32)
    for _ in range(4):
        np.testing.assert_array_equal(f(x).numpy(), x * 2)
    exe = f.lower(x).executable
    np.testing.assert_array_equal(exe.run([x, np.full(4, 5.0, np.float32)])[0], x * 5)
    np.testing.assert_array_equal(f(x).numpy(), x * 2)


def test_from_numpy_arguments_take_the_fast_path_and_read_their_array_afresh(monkeypatch):
    x = np.arange(6, dtype=np.float32)
    f = lumina.compile(lambda t: t * 2 + 1)
    np.testing.assert_array_equal(f(lumina.from_numpy(x)).numpy(), x * 2 + 1)
    _general_path_forbidden(f, monkeypatch)
    shared = lumina.from_numpy(x)
    np.testing.assert_array_equal(f(shared).numpy(), x * 2 + 1)
    x[...] = -7                     # written through the array the tensor shares
    np.testing.assert_array_equal(f(shared).numpy(), np.full(6, -13, np.float32))
    y = np.ones(6, np.float32)
    np.testing.assert_array_equal(f(lumina.from_numpy(y)).numpy(), y * 2 + 1)


def test_a_function_with_symbolic_dims_takes_the_fast_path_at_new_sizes(monkeypatch):
    rng = np.random.default_rng(3)
    w = lumina.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    f = lumina.compile(lambda x: (x @ w).relu(), dynamic=True)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(f(lumina.tensor(x)).numpy(), np.maximum(x @ w.numpy(), 0), rtol=1e-5, atol=1e-6)
    assert f._fast is not None
    _general_path_forbidden(f, monkeypatch)
    for n in (2, 9, 33):
        x = rng.standard_normal((n, 5)).astype(np.float32)
        out = f(lumina.tensor(x))
        assert out.shape == (n, 3)
        np.testing.assert_allclose(out.numpy(), np.maximum(x @ w.numpy(), 0), rtol=1e-5, atol=1e-6)


def test_symbolic_fast_path_leaves_sizes_its_signature_would_name_otherwise():
    """Size 1 is compiled apart, two symbols the trace saw as one (duck sizing) at two sizes need
    their own signature, and a size guard the trace recorded decides which entry runs."""
    f = lumina.compile(lambda a, b: a.sum(0) + b.sum(0), dynamic=True)
    a, b = np.ones((4, 3), np.float32), np.full((4, 3), 2.0, np.float32)
    np.testing.assert_array_equal(f(a, b).numpy(), np.full(3, 12.0))
    np.testing.assert_array_equal(f(a[:1], b[:1]).numpy(), np.full(3, 3.0))          # size 1
    np.testing.assert_array_equal(f(np.ones((5, 3), np.float32), b).numpy(), np.full(3, 13.0))   # s0 != s1
    assert f.cache_info()["entries"] == 3
    # equal sizes again: the signature names both dims s0, so the first entry runs, not the last
    np.testing.assert_array_equal(f(np.ones((6, 3), np.float32), np.ones((6, 3), np.float32)).numpy(), np.full(3, 12.0))
    assert [s[1] for s in f._fast.entry.key[0]] == [("s0", 3), ("s0", 3)]

    g = lumina.compile(lambda x: x[:4] * 2 if x.shape[0] > 4 else x * 3, dynamic=True)
    for n in (6, 3, 8, 2, 5):
        x = np.arange(n, dtype=np.float32)
        np.testing.assert_array_equal(g(x).numpy(), x[:4] * 2 if n > 4 else x * 3)
