"""Run-time index checks: an index computed in the graph that is out of range raises
``LuminaIndexError`` naming the op, the index and the bound, where PyTorch 2.13 (or ONNX Runtime)
raises, in eager realisation and inside ``@lumina.compile``; valid indices (negative ones where
torch takes them) give torch's values.

An index is *computed* here when lumina only learns its values as the kernel runs: ``tensor(a) + 0``
in eager mode, or an argument of a compiled function. Indices known when the op is recorded are
checked at once (``indexing.check_range``) and tested in test_indexing.py / test_nn.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
import lumina.onnx
from lumina.errors import LuminaIndexError
from lumina.testing.programs import train_step

RNG = np.random.default_rng(14)


def arr(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def computed(a) -> lumina.Tensor:
    """An int64 index whose values lumina only knows when the kernel runs."""
    return lumina.tensor(np.asarray(a, dtype=np.int64)) + 0


def torch_raises(fn, *args) -> None:
    with pytest.raises((IndexError, RuntimeError)):
        fn(*[torch.tensor(a) for a in args])


def assert_index_error(excinfo, *parts: str) -> None:
    message = str(excinfo.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# ---- one lookup, three ways: eager with a computed index, compiled, and the torch oracle ----------
# (name, lumina lookup, torch lookup, input shape, an out-of-range index, what the message names)
LOOKUPS = [
    ("getitem", lambda m, x, i: x[i], (5, 3), [0, 5], ["getitem", "index 5", "dim 0 of f32[5,3]", "-5 to 4"]),
    ("getitem_negative", lambda m, x, i: x[i], (5, 3), [-6, 1], ["getitem", "index -6", "-5 to 4"]),
    ("getitem_column", lambda m, x, i: x[:, i], (3, 4), [4], ["getitem", "index 4", "dim 1 of f32[3,4]"]),
    ("index_select", lambda m, x, i: m.index_select(x, 0, i), (5, 3), [2, 5],
     ["index_select", "index 5", "dim 0 of f32[5,3]", "0 to 4"]),
    ("index_select_negative", lambda m, x, i: m.index_select(x, 0, i), (5, 3), [-1],
     ["index_select", "index -1", "0 to 4"]),
    ("gather", lambda m, x, i: m.gather(x, 1, i), (3, 4), [[4], [0], [1]],
     ["gather", "index 4", "dim 1 of f32[3,4]", "0 to 3"]),
    ("gather_negative", lambda m, x, i: m.gather(x, 1, i), (3, 4), [[0], [-1], [1]], ["gather", "index -1"]),
    ("take_along_dim_flat", lambda m, x, i: m.take_along_dim(x, i), (3, 4), [3, 12],
     ["take_along_dim", "index 12", "the flattened f32[3,4]", "0 to 11"]),
    ("embedding", lambda m, x, i: (F if m is lumina else TF).embedding(i, x), (5, 3), [[1, 5]],
     ["embedding", "index 5", "the table f32[5,3]", "0 to 4"]),
    ("embedding_negative", lambda m, x, i: (F if m is lumina else TF).embedding(i, x), (5, 3), [-1],
     ["embedding", "index -1", "0 to 4"]),
]


@pytest.mark.parametrize("name, fn, shape, bad, parts", LOOKUPS, ids=[c[0] for c in LOOKUPS])
def test_an_index_out_of_range_raises_where_torch_does(name, fn, shape, bad, parts):
    x = arr(*shape)
    torch_raises(lambda tx, ti: fn(torch, tx, ti), x, np.array(bad))
    with pytest.raises(LuminaIndexError) as eager:
        fn(lumina, lumina.tensor(x), computed(bad)).numpy()
    assert_index_error(eager, *parts)

    step = lumina.compile(lambda t, i: fn(lumina, t, i) * 2.0)
    with pytest.raises(LuminaIndexError) as compiled:
        step(lumina.tensor(x), lumina.tensor(np.array(bad)))
    assert_index_error(compiled, *parts)
    # the failed call leaves nothing behind: the next one, with indices in range, is right
    good = np.zeros_like(np.array(bad))
    want = fn(torch, torch.tensor(x), torch.tensor(good)).numpy() * 2.0
    np.testing.assert_allclose(step(lumina.tensor(x), lumina.tensor(good)).numpy(), want, rtol=1e-6)


def test_two_index_arrays_are_checked_each_against_its_own_dim():
    """``x[i, j]`` merges the two indexed dims into one gather: ``j`` = 4 of 4 columns would still
    be a position inside the merged dim, so each array is checked before merging."""
    x = arr(3, 4)
    torch_raises(lambda tx, ti, tj: tx[ti, tj], x, np.array([0, 1]), np.array([1, 4]))
    with pytest.raises(LuminaIndexError) as e:
        lumina.tensor(x)[computed([0, 1]), computed([1, 4])].numpy()
    assert_index_error(e, "getitem", "index 4", "dim 1 of f32[3,4]")
    got = lumina.tensor(x)[computed([0, -1]), computed([-4, 3])].numpy()
    np.testing.assert_array_equal(got, x[[0, -1], [-4, 3]])


def test_nn_embedding_module():
    emb = nn.Embedding(6, 3)
    with pytest.raises(LuminaIndexError, match=r"embedding: index 6 is out of range for the table f32\[6,3\]"):
        emb(computed([[0, 6]])).numpy()


@pytest.mark.parametrize("bad", [3, -1])
def test_one_hot_of_a_class_out_of_range(bad):
    torch_raises(lambda t: TF.one_hot(t, 3), np.array([0, bad]))
    with pytest.raises(LuminaIndexError, match=f"one_hot: class value {bad} is out of range for 3 classes"):
        F.one_hot(computed([0, bad]), 3).numpy()
    step = lumina.compile(lambda t: F.one_hot(t, 3))
    with pytest.raises(LuminaIndexError, match=f"one_hot: class value {bad}"):
        step(lumina.tensor(np.array([0, bad])))
    np.testing.assert_array_equal(step(lumina.tensor(np.array([2, 0]))).numpy(), [[0, 0, 1], [1, 0, 0]])


def test_take_along_dim_along_a_dim_takes_negative_indices_and_rejects_the_rest():
    """A deliberate difference: torch 2.13 wraps every index modulo the size along a dim
    (``indices % size`` in its reference, written for the negative ones), so 4 of 4 reads column 0;
    lumina takes ``[-size, size)`` and raises for the rest."""
    x = arr(3, 4)
    i = np.array([[-1], [0], [-4]])
    want = torch.take_along_dim(torch.tensor(x), torch.tensor(i), 1).numpy()
    np.testing.assert_array_equal(lumina.take_along_dim(lumina.tensor(x), computed(i), 1).numpy(), want)
    with pytest.raises(LuminaIndexError) as e:
        lumina.take_along_dim(lumina.tensor(x), computed([[4], [0], [1]]), 1).numpy()
    assert_index_error(e, "take_along_dim", "index 4", "dim 1 of f32[3,4]", "-4 to 3")


def test_a_constant_index_out_of_range_inside_compile_raises_as_it_compiles():
    step = lumina.compile(lambda t: t[lumina.tensor(np.array([0, 7]))])
    with pytest.raises(LuminaIndexError, match=r"getitem: index 7 is out of range for dim 0 of f32\[5,3\]"):
        step(lumina.tensor(arr(5, 3)))


def test_an_empty_dim_has_no_valid_index():
    with pytest.raises(LuminaIndexError, match="is empty"):
        F.embedding(computed([0]), lumina.zeros(0, 3)).numpy()


# ---- losses: labels out of range, ignore_index -----------------------------------------------------

@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("label", [10, -1])
def test_a_label_out_of_range_raises(loss, label):
    logits = arr(3, 10)
    y = np.array([1, label, 2])
    torch_raises(getattr(TF, loss), logits, y)
    fn = getattr(F, loss)
    with pytest.raises(LuminaIndexError) as e:
        fn(lumina.tensor(logits), computed(y)).item()
    assert_index_error(e, loss, f"target {label}", "10 classes", "0 to 9", "ignore_index=-100")
    step = lumina.compile(lambda a, b: fn(a, b))
    with pytest.raises(LuminaIndexError) as e:
        step(lumina.tensor(logits), lumina.tensor(y))
    assert_index_error(e, loss, f"target {label}")


@pytest.mark.parametrize("kw", [{}, {"ignore_index": 10}, {"ignore_index": -1, "reduction": "sum"},
                                {"label_smoothing": 0.1}, {"weight": True}, {"reduction": "none"}])
def test_ignore_index_is_honoured(kw):
    """An ignored label is no error, even one outside the classes (torch allows ignore_index=10
    of 10 classes), in eager mode and compiled; the loss and its gradient are torch's."""
    logits = arr(4, 10)
    ignore = kw.get("ignore_index", -100)
    y = np.array([3, ignore, 9, ignore])
    kw = dict(kw)
    if kw.pop("weight", False):
        w = RNG.uniform(0.5, 2.0, 10).astype(np.float32)
        kw["weight"], tkw = lumina.tensor(w), dict(kw, weight=torch.tensor(w))
    else:
        tkw = kw
    tl = torch.tensor(logits, requires_grad=True)
    want = TF.cross_entropy(tl, torch.tensor(y), **tkw)
    want.sum().backward()

    a = lumina.tensor(logits, requires_grad=True)
    got = F.cross_entropy(a, computed(y), **kw)
    got.sum().backward()
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), tl.grad.numpy(), rtol=1e-5, atol=1e-6)

    step = lumina.compile(lambda p, q: F.cross_entropy(p, q, **kw))
    np.testing.assert_allclose(step(lumina.tensor(logits), lumina.tensor(y)).numpy(), want.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ---- training steps: a bad label changes nothing ---------------------------------------------------

def _model_and_optimizer():
    model = nn.Sequential(nn.Embedding(12, 8), nn.Linear(8, 10))
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, opt


def _state(model, opt) -> list:
    """The parameters, their gradients and the optimizer's state, as arrays."""
    tensors = list(model.parameters()) + [t for slots in opt.state.values() for t in slots.values()]
    grads = [p.grad for p in model.parameters()]
    return [t.numpy().copy() for t in tensors] + [g.numpy().copy() if g is not None else None for g in grads]


@pytest.mark.parametrize("first_call_bad", [False, True])
def test_a_compiled_step_with_a_label_out_of_range_raises_and_updates_nothing(first_call_bad):
    model, opt = _model_and_optimizer()
    step = train_step(model, opt, F.cross_entropy)
    x = np.array([1, 5, 11, 0])
    good, bad = np.array([0, 9, 3, 3]), np.array([0, 9, 10, 3])   # 10 of 10 classes
    initial = [p.numpy().copy() for p in model.parameters()]
    batches = []
    if not first_call_bad:   # trace with a good batch first: the failing call is a cached one
        step(lumina.tensor(x), lumina.tensor(good))
        batches.append((x, good))
    before = _state(model, opt)
    with pytest.raises(LuminaIndexError) as e:
        step(lumina.tensor(x), lumina.tensor(bad))
    assert_index_error(e, "cross_entropy", "target 10", "10 classes")
    for a, b in zip(_state(model, opt), before, strict=True):
        np.testing.assert_array_equal(a, b)
    # an embedding row out of range fails the same way
    with pytest.raises(LuminaIndexError, match="embedding: index 12"):
        step(lumina.tensor(np.array([1, 5, 12, 0])), lumina.tensor(good))
    for a, b in zip(_state(model, opt), before, strict=True):
        np.testing.assert_array_equal(a, b)
    step(lumina.tensor(x), lumina.tensor(good))
    batches.append((x, good))
    want = _torch_steps_from(initial, batches)   # the failed calls are no steps at all
    for p, w in zip(model.parameters(), want):
        np.testing.assert_allclose(p.numpy(), w, rtol=1e-5, atol=1e-6)


def _torch_steps_from(initial: list[np.ndarray], batches) -> list[np.ndarray]:
    emb, lin = torch.nn.Embedding(12, 8), torch.nn.Linear(8, 10)
    tm = torch.nn.Sequential(emb, lin)
    with torch.no_grad():
        for p, w in zip(tm.parameters(), initial):
            p.copy_(torch.tensor(w))
    opt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        opt.zero_grad()
        TF.cross_entropy(tm(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
    return [p.detach().numpy() for p in tm.parameters()]


def test_an_eager_step_with_a_label_out_of_range_raises_and_updates_nothing():
    """Eager ops are lazy: the label is found out of range when the step realises the update.
    The parameters and the optimizer's state keep their values; the gradients ``backward`` left
    pending are the failed computation, and raise again when read (torch raised before making
    them), until ``zero_grad``."""
    model, opt = _model_and_optimizer()
    before = _state(model, opt)
    loss = F.cross_entropy(model(computed([1, 2])), computed([4, 10]))
    loss.backward()
    with pytest.raises(LuminaIndexError, match="cross_entropy: target 10"):
        opt.step()
    opt.zero_grad()
    for a, b in zip(_state(model, opt), before, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(LuminaIndexError, match="cross_entropy: target 10"):
        loss.item()


# ---- the runtime: threads, the native plan, the stepwise path ------------------------------------

@pytest.mark.parametrize("where", [0, 4095])
def test_an_error_in_any_thread_chunk_is_found(where):
    """A lookup big enough to be split across threads (the native plan's schedule): the bad index
    in the first chunk or in the last one."""
    table = arr(50, 64)
    idx = RNG.integers(0, 50, 4096)
    idx[where] = 50

    @lumina.compile
    def f(t, i):
        return (F.embedding(i, t) * 2.0).relu() + 1.0

    lowered = f.lower(lumina.tensor(table), lumina.tensor(idx))
    exe = lowered.executable
    if lumina.backends.cpu.threads.num_threads() > 1:
        assert exe.plan is not None and exe.plan_threads > 1
    with pytest.raises(LuminaIndexError, match=r"embedding: index 50 is out of range for the table f32\[50,64\]"):
        f(lumina.tensor(table), lumina.tensor(idx))
    with pytest.raises(LuminaIndexError, match="embedding: index 50"):
        exe.run([table, idx], stepwise=True)
    idx[where] = 49
    want = np.maximum(table[idx] * 2.0, 0.0) + 1.0
    np.testing.assert_array_equal(f(lumina.tensor(table), lumina.tensor(idx)).numpy(), want)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _layer_norm(z):
    return (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5)


@pytest.mark.parametrize("case", ["epilogue", "epilogue_and_rows", "rows"])
def test_checks_inside_gemm_kernels(case):
    """A lookup fused into a GEMM's epilogue, or into the row stages of a row-fused GEMM, records
    through the epilogue function's pointers."""
    x, w, table = arr(64, 32), arr(32, 48), arr(100, 48)
    idx = RNG.integers(0, 100, 64)
    fn, want = {
        "epilogue": (lambda a, b, t, i: a @ b + F.embedding(i, t), lambda: x @ w + table[idx]),
        "epilogue_and_rows": (lambda a, b, t, i: F.softmax(a @ b + F.embedding(i, t), -1),
                              lambda: _softmax(x @ w + table[idx])),
        "rows": (lambda a, b, t, i: F.layer_norm(a @ b, (48,)) + F.embedding(i, t),
                 lambda: _layer_norm(x @ w) + table[idx]),
    }[case]
    step = lumina.compile(fn)
    args = [lumina.tensor(v) for v in (x, w, table)]
    (kernel,) = step.lower(*args, lumina.tensor(idx)).executable.info["kernels"]
    assert type(kernel).__name__ == "DotKernel" and len(kernel.checks) == 1
    assert (kernel.epilogue is not None) == (case != "rows") and (kernel.rows is not None) == (case != "epilogue")
    np.testing.assert_allclose(step(*args, lumina.tensor(idx)).numpy(), want(), rtol=1e-4, atol=1e-4)
    idx[63] = 100
    with pytest.raises(LuminaIndexError, match=r"embedding: index 100 is out of range for the table f32\[100,48\]"):
        step(*args, lumina.tensor(idx))


def test_the_status_buffer_counts_against_the_epilogue_limit():
    """An epilogue reading 8 buffers, an embedding's among them, would need a ninth pointer for
    its checks' status: fusion refuses it, saying so, and the step still runs."""
    x, w, table = arr(64, 32), arr(32, 48), arr(100, 48)
    idx = RNG.integers(0, 100, 64)
    cs = [arr(64, 48) for _ in range(6)]

    def fn(a, b, t, i, *c):
        y = a @ b + F.embedding(i, t)
        for v in c:
            y = y + v
        return y
    step = lumina.compile(fn)
    args = [lumina.tensor(v) for v in [x, w, table, idx] + cs]
    assert "the epilogue reads 9 buffers (MAX_EPILOGUE_INPUTS 8)" in step.lower(*args).partition()
    np.testing.assert_allclose(step(*args).numpy(), x @ w + table[idx] + sum(cs), rtol=1e-4, atol=1e-4)


def test_the_kernels_record_into_a_status_slot():
    f = lumina.compile(lambda t, i: F.embedding(i, t))
    exe = f.lower(lumina.tensor(arr(5, 3)), lumina.tensor(np.array([1]))).executable
    status = [s for s in exe.slots if s.role == "status"]
    assert len(status) == 1 and status[0].checks[0].size == 5
    assert "atomicrmw umax" in exe.info["llvm"]


# ---- ONNX, with ONNX Runtime as the oracle ---------------------------------------------------------

def _onnx(op: str, inputs: dict, **attrs):
    from onnx import TensorProto, helper
    types = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}
    node = helper.make_node(op, list(inputs), ["y"], name="g1", **attrs)
    graph = helper.make_graph([node], "m", [helper.make_tensor_value_info(k, types[v.dtype], v.shape)
                                            for k, v in inputs.items()],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _ort(model, inputs):
    import onnxruntime as ort
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)[0]


@pytest.mark.parametrize("op, data, index, bad, wrong, attrs", [
    ("Gather", arr(5, 3), np.array([1, -5], np.int64), np.array([1, 7], np.int64), 7, {"axis": 0}),
    ("Gather", arr(5, 3), np.array([[2, -1]], np.int64), np.array([[2, -4]], np.int64), -4, {"axis": 1}),
    ("GatherElements", arr(3, 4), np.array([[0], [-1], [3]], np.int64), np.array([[0], [4], [3]], np.int64), 4,
     {"axis": 1}),
    ("GatherND", arr(3, 4), np.array([[0, -1], [2, 3]], np.int64), np.array([[0, 1], [3, 0]], np.int64), 3, {}),
])
def test_onnx_lookups_raise_with_the_node_where_onnx_runtime_does(op, data, index, bad, wrong, attrs):
    model = _onnx(op, {"x": data, "i": index}, **attrs)
    m = lumina.onnx.load(model)
    np.testing.assert_allclose(m(data, index)["y"], _ort(model, {"x": data, "i": index}), rtol=1e-6)
    with pytest.raises(Exception):
        _ort(model, {"x": data, "i": bad})
    with pytest.raises(LuminaIndexError) as e:
        m(data, bad)
    assert_index_error(e, f"node 'g1' ({op})", f"index {wrong}", "of data" if op != "Gather" else "f32[")


def test_onnx_scatter_elements_index_out_of_range():
    data, upd = arr(3, 4), arr(3, 1)
    model = _onnx("ScatterElements", {"x": data, "i": np.array([[0], [1], [2]], np.int64), "u": upd}, axis=1)
    m = lumina.onnx.load(model)
    bad = np.array([[0], [-5], [2]], np.int64)
    with pytest.raises(Exception):
        _ort(model, {"x": data, "i": bad, "u": upd})
    with pytest.raises(LuminaIndexError) as e:
        m(data, bad, upd)
    assert_index_error(e, "node 'g1' (ScatterElements)", "index -5", "-4 to 3")


# ---- no false alarms: valid indices, torch's values --------------------------------------------------

_PROPS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@st.composite
def _lookup_case(draw):
    rows = draw(st.integers(1, 6))
    cols = draw(st.integers(1, 5))
    n = draw(st.integers(0, 7))
    negative = draw(st.booleans())
    lo = -rows if negative else 0
    idx = draw(st.lists(st.integers(lo, rows - 1), min_size=n, max_size=n))
    return arr(rows, cols), np.array(idx, np.int64).reshape(n)


@_PROPS
@given(_lookup_case())
def test_valid_row_indices_match_torch(case):
    x, idx = case
    tx, ti = torch.tensor(x), torch.tensor(idx)
    got = lumina.tensor(x)[computed(idx)].numpy()
    np.testing.assert_array_equal(got, tx[ti].numpy())
    pos = np.where(idx < 0, idx + x.shape[0], idx)   # index_select / embedding take [0, size)
    np.testing.assert_array_equal(lumina.index_select(lumina.tensor(x), 0, computed(pos)).numpy(),
                                  torch.index_select(tx, 0, torch.tensor(pos)).numpy())
    np.testing.assert_array_equal(F.embedding(computed(pos), lumina.tensor(x)).numpy(),
                                  TF.embedding(torch.tensor(pos), tx).numpy())


@_PROPS
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), st.data())
def test_valid_gather_indices_match_torch(rows, cols, k, data):
    x = arr(rows, cols)
    idx = np.array(data.draw(st.lists(st.integers(0, cols - 1), min_size=rows * k, max_size=rows * k)),
                   np.int64).reshape(rows, k)
    want = torch.gather(torch.tensor(x), 1, torch.tensor(idx)).numpy()
    np.testing.assert_array_equal(lumina.gather(lumina.tensor(x), 1, computed(idx)).numpy(), want)
    wrapped = idx - cols * data.draw(st.lists(st.booleans(), min_size=idx.size, max_size=idx.size)
                                     .map(lambda b: np.array(b, np.int64).reshape(idx.shape)))
    np.testing.assert_array_equal(lumina.take_along_dim(lumina.tensor(x), computed(wrapped), 1).numpy(), want)


@_PROPS
@given(st.integers(1, 5), st.integers(2, 6), st.data())
def test_valid_labels_match_torch(n, c, data):
    logits = arr(n, c)
    y = np.array(data.draw(st.lists(st.sampled_from(list(range(c)) + [-100]), min_size=n, max_size=n)), np.int64)
    tl = torch.tensor(logits)
    want = TF.cross_entropy(tl, torch.tensor(y), reduction="sum").numpy()
    got = F.cross_entropy(lumina.tensor(logits), computed(y), reduction="sum").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    want = TF.nll_loss(tl, torch.tensor(y), reduction="none").numpy()
    step = lumina.compile(lambda a, b: F.nll_loss(a, b, reduction="none"))
    np.testing.assert_allclose(step(lumina.tensor(logits), lumina.tensor(y)).numpy(), want, rtol=1e-6)


# ---- the Triton renderer records into the status buffer too (run by Triton's interpreter) -----------

def test_triton_kernels_record_an_index_out_of_range(monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path))
    x = lumina.tensor(arr(5, 3)).to("cuda")
    i = lumina.tensor(np.array([[1, 4], [0, 2]])).to("cuda") + 0
    np.testing.assert_array_equal(F.embedding(i, x).numpy(), x.numpy()[[[1, 4], [0, 2]]])
    with pytest.raises(LuminaIndexError, match=r"embedding: index 5 is out of range for the table f32\[5,3\]"):
        F.embedding(i + 1, x).numpy()
    with pytest.raises(LuminaIndexError, match=r"getitem: index -(6|8|9|10) is out of range for dim 0"):
        x[i - 10].numpy()
    # a row-fused GEMM whose epilogue looks the rows up: the check inside the GEMM's program
    a, w, table = arr(16, 8), arr(8, 12), arr(20, 12)
    idx = RNG.integers(0, 20, 16)
    step = lumina.compile(lambda p, q, t, j: F.softmax(p @ q + F.embedding(j, t), -1), device="cuda")
    args = [lumina.tensor(v).to("cuda") for v in (a, w, table)]
    np.testing.assert_allclose(step(*args, lumina.tensor(idx).to("cuda")).numpy(), _softmax(a @ w + table[idx]),
                               rtol=1e-5, atol=1e-6)
    idx[5] = 20
    with pytest.raises(LuminaIndexError, match=r"embedding: index 20 is out of range for the table f32\[20,12\]"):
        step(*args, lumina.tensor(idx).to("cuda"))
