"""``@lumina.compile`` never gives a silently wrong answer: gradients accumulate across compiled calls
as in eager mode, a call that fails while tracing leaves the model as it was, compiled functions and
eager code run from several threads at once, and each function's cache of executables is bounded
and frees what it drops. PyTorch (CPU) is the oracle wherever values are compared.
"""
from __future__ import annotations

import gc
import sys
import threading
import weakref

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina import compiler
from lumina.errors import LuminaTraceError, LuminaValueError
from lumina.tracing import STATE

RNG = np.random.default_rng(14)


def arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def mlp(lib, batch_norm: bool = False):
    """``[N, 4] -> [N, 3]``, the same parameter names in torch and lumina. Before BatchNorm the
    first layer has no bias: its gradient would be rounding noise, which Adam amplifies."""
    layers = [lib.nn.Linear(4, 8, bias=not batch_norm)] + ([lib.nn.BatchNorm1d(8)] if batch_norm else []) + \
        [lib.nn.ReLU(), lib.nn.Linear(8, 3)]
    return lib.nn.Sequential(*layers)


def twins(batch_norm: bool = False):
    """A lumina model and a torch model holding the same parameters and buffers."""
    lumina.manual_seed(0)
    model = mlp(lumina, batch_norm)
    tmodel = mlp(torch, batch_norm)
    state = {k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}
    tmodel.load_state_dict(state, strict=False)
    return model, tmodel


def mse(lib_out, y):
    return ((lib_out - y) ** 2).mean()


def assert_close(lum, tch, what: str = ""):
    if tch is None:
        assert lum is None, what
        return
    assert lum is not None, what
    np.testing.assert_allclose(np.asarray(lum.numpy() if isinstance(lum, lumina.Tensor) else lum),
                               tch.detach().numpy(), rtol=2e-5, atol=1e-6, err_msg=what)


def assert_params_close(model, tmodel):
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        assert_close(p, tparams[name], name)
        assert_close(p.grad, tparams[name].grad, f"{name}.grad")


# ---- gradients accumulate across compiled calls (issue item 5) -------------------------------------

@pytest.mark.parametrize("calls", [1, 2, 3, 4, 5])
def test_compiled_backward_accumulates_like_torch(calls):
    model, tmodel = twins()

    @lumina.compile
    def fwd_bwd(x, y):
        loss = mse(model(x), y)
        loss.backward()
        return loss

    for _ in range(calls):
        x, y = arr(5, 4), arr(5, 3)
        loss = fwd_bwd(x, y)
        tloss = mse(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
        tloss.backward()
        assert_close(loss, tloss)
    assert_params_close(model, tmodel)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_compiled_step_with_zero_grad_matches_torch(set_to_none):
    model, tmodel = twins()
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)

    @lumina.compile
    def step(x, y):
        opt.zero_grad(set_to_none=set_to_none)
        loss = mse(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):
        x, y = arr(5, 4), arr(5, 3)
        step(x, y)
        topt.zero_grad(set_to_none=set_to_none)
        mse(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
        assert_params_close(model, tmodel)


def test_compiled_step_without_zero_grad_accumulates_and_steps_like_torch():
    model, tmodel = twins()
    opt = lumina.optim.Adam(model.parameters(), lr=0.01)
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)

    @lumina.compile
    def step(x, y):
        loss = mse(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):
        x, y = arr(5, 4), arr(5, 3)
        step(x, y)
        mse(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
        assert_params_close(model, tmodel)


def test_grad_set_to_none_or_replaced_between_compiled_calls():
    model, tmodel = twins()

    @lumina.compile
    def fwd_bwd(x, y):
        mse(model(x), y).backward()

    w, tw = model[0].weight, tmodel[0].weight
    for i in range(7):
        x, y = arr(5, 4), arr(5, 3)
        fwd_bwd(x, y)
        mse(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        assert_params_close(model, tmodel)
        if i in (1, 4):
            w.grad, tw.grad = None, None
        if i == 2:      # a grad set by hand: the next call accumulates into it
            g = arr(*w.shape)
            w.grad, tw.grad = lumina.tensor(g), torch.from_numpy(g.copy())
        if i == 3:      # a grad read and kept outside: later calls must not read it again
            kept = w.grad
    assert_params_close(model, tmodel)
    assert kept is not w.grad


def test_accumulation_matches_eager_lumina():
    x, y = arr(5, 4), arr(5, 3)
    grads = []
    for compiled in (False, True):
        model, _ = twins()

        def fwd_bwd(x, y):
            mse(model(x), y).backward()
        f = lumina.compile(fwd_bwd) if compiled else fwd_bwd
        for _ in range(4):
            f(lumina.tensor(x), lumina.tensor(y))
        grads.append([p.grad.numpy() for p in model.parameters()])
    for eager, comp in zip(*grads):
        np.testing.assert_allclose(comp, eager, rtol=1e-5, atol=1e-6)


# ---- a failed call leaves the state as it was (issue item 7) -------------------------------------

POINTS = ["start", "zero_grad", "forward", "loss", "backward", "step", "after"]


class Injected(Exception):
    pass


def snapshot(model, opt):
    params = {n: (p.numpy().copy(), None if p.grad is None else p.grad.numpy().copy())
              for n, p in model.named_parameters()}
    return params, model.state_dict(), opt.state_dict()


def assert_same_state(before, after):
    (p0, s0, o0), (p1, s1, o1) = before, after
    assert p0.keys() == p1.keys()
    for n in p0:
        np.testing.assert_array_equal(p1[n][0], p0[n][0], err_msg=n)
        assert (p1[n][1] is None) == (p0[n][1] is None), n
        if p0[n][1] is not None:
            np.testing.assert_array_equal(p1[n][1], p0[n][1], err_msg=f"{n}.grad")
    for k in s0:
        np.testing.assert_array_equal(s1[k], s0[k], err_msg=k)
    assert o0["state"].keys() == o1["state"].keys()
    for i in o0["state"]:
        for k in o0["state"][i]:
            np.testing.assert_array_equal(o1["state"][i][k], o0["state"][i][k], err_msg=f"opt {i} {k}")


def failing_step(model, opt, fail):
    """A training step that raises ``fail[1]`` at point ``fail[0]`` (None: never)."""
    def check(point):
        if fail[0] == point:
            raise fail[1]

    @lumina.compile
    def step(x, y):
        check("start")
        opt.zero_grad()
        check("zero_grad")
        out = model(x)
        check("forward")
        loss = mse(out, y)
        check("loss")
        loss.backward()
        check("backward")
        opt.step()
        check("step")
        out = loss * 1.0
        check("after")
        return out
    return step


def torch_step(tmodel, topt, x, y):
    topt.zero_grad()
    loss = mse(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    topt.step()
    return loss


@pytest.mark.parametrize("exc", [Injected("boom"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("warm", [False, True], ids=["first-call", "after-a-step"])
def test_a_failed_trace_restores_the_model_and_optimizer(point, exc, warm):
    model, tmodel = twins(batch_norm=True)
    opt = lumina.optim.Adam(model.parameters(), lr=0.01)
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)
    fail = [None, exc]
    if warm:   # grads, buffers and optimizer state hold values from an earlier compiled step
        x, y = arr(6, 4), arr(6, 3)
        failing_step(model, opt, fail)(x, y)
        torch_step(tmodel, topt, x, y)
    step = failing_step(model, opt, fail)
    before = snapshot(model, opt)
    fail[0] = point
    with pytest.raises(type(exc)):
        step(arr(6, 4), arr(6, 3))
    assert STATE.trace is None
    assert_same_state(before, snapshot(model, opt))
    (model[0].weight * 2.0).numpy()                 # eager use works

    fail[0] = None                                  # the same compiled step now runs normally
    for _ in range(2):
        x, y = arr(6, 4), arr(6, 3)
        loss = step(x, y)
        tloss = torch_step(tmodel, topt, x, y)
        assert_close(loss, tloss)
        assert_params_close(model, tmodel)
    for name, b in tmodel.named_buffers():
        if name.endswith("num_batches_tracked"):
            continue
        np.testing.assert_allclose(model.state_dict()[name], b.numpy(), rtol=2e-5, atol=1e-6, err_msg=name)


def test_a_failed_compile_after_tracing_restores_state(monkeypatch):
    model, tmodel = twins()
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    step = failing_step(model, opt, [None, None])
    before = snapshot(model, opt)

    def broken(graph, device="cpu", options=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(lumina.compiled, "compile_graph", broken)
    with pytest.raises(KeyboardInterrupt):
        step(arr(6, 4), arr(6, 3))
    assert_same_state(before, snapshot(model, opt))
    monkeypatch.undo()
    x, y = arr(6, 4), arr(6, 3)
    assert_close(step(x, y), torch_step(tmodel, topt, x, y))
    assert_params_close(model, tmodel)


def test_a_failed_trace_leaves_no_cache_entry_and_the_grad_mode_as_it_was():
    calls = []

    @lumina.compile
    def f(x):
        calls.append(1)
        with lumina.no_grad():
            if len(calls) == 1:
                raise Injected("first")
        return x * 2.0

    with pytest.raises(Injected):
        f(arr(3))
    assert STATE.grad_enabled and STATE.trace is None
    assert f.cache_info()["entries"] == 0
    np.testing.assert_allclose(f(np.ones(3, np.float32)).numpy(), 2.0)


# ---- threads --------------------------------------------------------------------------------------

@pytest.fixture
def tiny_switch_interval():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(fns):
    """Run each of ``fns`` on its own thread, started together; their results, re-raising the
    first error."""
    barrier = threading.Barrier(len(fns))
    results, errors = [None] * len(fns), []

    def body(i):
        try:
            barrier.wait()
            results[i] = fns[i]()
        except BaseException as e:   # noqa: BLE001 (re-raised below)
            errors.append(e)
    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return results


def test_first_calls_of_different_compiled_functions_from_threads(tiny_switch_interval):
    model, _ = twins()
    xs = [arr(3 + i, 4) for i in range(4)]
    fns = [lumina.compile(lambda x, k=k: model(x) * float(k + 1)) for k in range(4)]
    expected = [(model(lumina.tensor(x)) * float(k + 1)).numpy() for k, x in enumerate(xs)]
    results = run_threads([lambda f=f, x=x: f(x).numpy() for f, x in zip(fns, xs)])
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_many_threads_call_one_compiled_function(tiny_switch_interval):
    traced = []

    @lumina.compile(dynamic=False)   # one trace per signature (sizes): what the threads race for
    def f(a, b):
        traced.append(a.shape)
        return (a * b).sum(1).exp(), a @ b.T

    sizes = [2, 3, 2, 3, 2, 3, 2, 3]
    inputs = [(arr(n, 5) * 0.1, arr(n, 5) * 0.1) for n in sizes]

    def work(a, b):
        outs = []
        for _ in range(5):
            s, m = f(a, b)
            outs.append((s.numpy(), m.numpy()))
        return outs
    results = run_threads([lambda a=a, b=b: work(a, b) for a, b in inputs])
    assert sorted(traced) == [(2, 5), (3, 5)]            # one trace per signature
    for (a, b), outs in zip(inputs, results):
        for s, m in outs:
            np.testing.assert_allclose(s, np.exp((a * b).sum(1)), rtol=1e-5)
            np.testing.assert_allclose(m, a @ b.T, rtol=1e-5, atol=1e-6)


def test_eager_work_and_grad_mode_in_one_thread_while_another_traces():
    """Thread B records eager ops (with gradients) while thread A, under no_grad, is inside a
    trace; B's values are computed when it reads them, after A's trace."""
    tracing, eager_done = threading.Event(), threading.Event()
    seen = {}

    @lumina.compile
    def slow(x):
        tracing.set()
        assert eager_done.wait(60)   # B records its ops meanwhile (reading a value would wait)
        return x + 1.0

    def eager():
        assert tracing.wait(60)
        try:
            x = lumina.tensor(np.arange(3, dtype=np.float32), requires_grad=True)
            y = (x * 2.0).sum()
            seen["requires_grad"] = y.requires_grad
            y.backward()
        finally:
            eager_done.set()
        return y.numpy().item(), x.grad.numpy()

    def traced():
        with lumina.no_grad():   # this thread's grad mode only
            return slow(np.zeros(2, np.float32)).numpy()
    out, (value, grad) = run_threads([traced, eager])
    np.testing.assert_allclose(out, 1.0)
    assert seen["requires_grad"] and value == 6.0
    np.testing.assert_allclose(grad, 2.0)
    assert STATE.grad_enabled


def test_reading_state_that_another_thread_is_tracing_waits_for_the_trace():
    """``.numpy()`` of a weight that a trace in another thread has rebound waits until the trace
    has put it back: it reads the weight before or after the step, never a traced value."""
    model, _ = twins()
    opt = lumina.optim.SGD(model.parameters(), lr=0.1)
    w = model[0].weight
    w0 = w.numpy().copy()
    inside = threading.Event()

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        mse(model(x), y).backward()
        opt.step()
        inside.set()
        threading.Event().wait(0.2)   # stay in the trace a while, the weight rebound
        return w * 1.0

    def read():
        assert inside.wait(60)
        return w.numpy().copy(), model.state_dict()
    (after, _), (seen, state) = run_threads([lambda: (step(arr(5, 4), arr(5, 3)).numpy(), 0), read])
    assert np.array_equal(seen, w0) or np.array_equal(seen, after)
    assert np.array_equal(state["0.weight"], seen) or np.array_equal(state["0.weight"], after)


def test_a_compiled_call_never_reads_state_another_thread_is_tracing(tiny_switch_interval):
    """Thread A traces a training step (the model's weights hold traced values meanwhile) while
    thread B evaluates the model with an already compiled function: B sees the real weights."""
    model, tmodel = twins()
    opt = lumina.optim.SGD(model.parameters(), lr=0.1)
    x, y = arr(5, 4), arr(5, 3)
    evaluate = lumina.compile(lambda x: model(x))
    want = tmodel(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(evaluate(x).numpy(), want, rtol=1e-5, atol=1e-6)
    inside = threading.Event()

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = mse(model(x), y)
        loss.backward()
        opt.step()
        inside.set()
        for _ in range(200):     # stay in the trace a while, weights rebound
            threading.Event().wait(0.001)
        return loss

    def evaluate_meanwhile():
        assert inside.wait(60)
        return [evaluate(x).numpy() for _ in range(3)]
    _, evals = run_threads([lambda: step(x, y), evaluate_meanwhile])
    for e in evals:   # before the step was applied (B waited for the trace, which changes nothing)
        np.testing.assert_allclose(e, want, rtol=1e-5, atol=1e-6)
    torch_step(tmodel, torch.optim.SGD(tmodel.parameters(), lr=0.1), x, y)
    assert_params_close(model, tmodel)


def test_grad_mode_is_per_thread():
    entered, checked = threading.Event(), threading.Event()
    flags = {}

    def quiet():
        with lumina.no_grad():
            entered.set()
            assert checked.wait(60)
            flags["inside"] = STATE.grad_enabled

    def loud():
        assert entered.wait(60)
        x = lumina.tensor(np.ones(2, np.float32), requires_grad=True)
        flags["other"] = (x * 2.0).requires_grad
        checked.set()
    run_threads([quiet, loud])
    assert flags == {"inside": False, "other": True}


def test_a_nested_compiled_call_is_an_error():
    inner = lumina.compile(lambda x: x * 2.0)
    outer = lumina.compile(lambda x: inner(x) + 1.0)
    with pytest.raises(LuminaTraceError, match="nested"):
        outer(arr(3))
    assert STATE.trace is None


# ---- bounded caches -------------------------------------------------------------------------------

def test_the_cache_keeps_the_most_recently_used_signatures():
    traced = []

    @lumina.compile(cache_size=2, dynamic=False)   # one signature per size
    def f(x):
        traced.append(x.shape[0])
        return x * 2.0

    for n in (1, 2, 1, 3):          # 1 was used after 2: 2 is evicted by 3
        np.testing.assert_allclose(f(np.ones(n, np.float32)).numpy(), 2.0)
    assert traced == [1, 2, 3]
    info = f.cache_info()
    assert (info["entries"], info["cache_size"]) == (2, 2)
    assert [r.rsplit(": ", 1)[1] for r in info["recompiles"]] == ["shape (1,) -> (2,)", "shape (1,) -> (3,)"]
    f(np.ones(1, np.float32))
    assert traced == [1, 2, 3]
    f(np.ones(2, np.float32))
    assert traced == [1, 2, 3, 2]


def test_an_evicted_executable_is_freed(monkeypatch):
    monkeypatch.setattr(compiler, "RECENT_EXECUTABLES", 1)
    model, _ = twins()
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    @lumina.compile(cache_size=2, dynamic=False)   # one signature per batch size
    def step(x, y):
        opt.zero_grad()
        loss = mse(model(x), y)
        loss.backward()
        opt.step()
        return loss

    x, y = arr(1, 4), arr(1, 3)
    step(x, y)
    exe = step.lower(x, y).executable
    exe_ref, module_ref = weakref.ref(exe), weakref.ref(exe.keepalive[0])
    del exe
    for n in range(2, 5):       # new batch sizes push the first out of both caches
        step(arr(n, 4), arr(n, 3))
    gc.collect()
    assert exe_ref() is None and module_ref() is None
    assert step.cache_info()["entries"] == 2
    assert compiler.cache_info()["alive"] <= 2 + 1 + 2     # plus an eager executable or two at most


def test_cache_size_is_configurable(monkeypatch):
    assert lumina.compile(lambda x: x).cache_size == lumina.compiled.CACHE_SIZE == 64
    monkeypatch.setenv("LUMINA_COMPILE_CACHE_SIZE", "5")
    assert lumina.compile(lambda x: x).cache_size == 5
    assert lumina.compile(lambda x: x, cache_size=7).cache_size == 7
    for bad in (0, -1, 2.5, "many", True):
        with pytest.raises(LuminaValueError, match="cache_size"):
            lumina.compile(lambda x: x, cache_size=bad)
    monkeypatch.setenv("LUMINA_COMPILE_CACHE_SIZE", "lots")
    with pytest.raises(LuminaValueError, match="LUMINA_COMPILE_CACHE_SIZE"):
        lumina.compile(lambda x: x)


@pytest.mark.parametrize("point", ["backward", "step", "update"])
def test_a_failed_trace_leaves_a_grad_scaler_usable(point):
    model, tmodel = twins()
    opt = lumina.optim.SGD(model.parameters(), lr=0.1)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    scaler, tscaler = lumina.amp.GradScaler(init_scale=256.0), torch.amp.GradScaler("cpu", init_scale=256.0)
    fail = [point]

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = mse(model(x), y)
        scaler.scale(loss).backward()
        if fail[0] == "backward":
            raise Injected(point)
        scaler.step(opt)
        if fail[0] == "step":
            raise Injected(point)
        scaler.update()
        if fail[0] == "update":
            raise Injected(point)
        return loss

    with pytest.raises(Injected):
        step(arr(6, 4), arr(6, 3))
    assert scaler.get_scale() == 256.0
    fail[0] = None
    for _ in range(3):
        x, y = arr(6, 4), arr(6, 3)
        step(x, y)
        topt.zero_grad()
        tscaler.scale(mse(tmodel(torch.from_numpy(x)), torch.from_numpy(y))).backward()
        tscaler.step(topt)
        tscaler.update()
        assert_params_close(model, tmodel)
    assert scaler.get_scale() == tscaler.get_scale()


def test_a_compiled_entry_does_not_keep_the_state_it_was_traced_with():
    """Each cached signature would otherwise hold a copy of the model and optimizer state."""
    model, _ = twins()
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        mse(model(x), y).backward()
        opt.step()

    traced_with = [weakref.ref(p.numpy()) for p in model.parameters()]
    traced_with += [weakref.ref(s["momentum_buffer"].numpy()) for s in opt.state.values()]
    step(arr(5, 4), arr(5, 3))
    gc.collect()
    assert all(r() is None for r in traced_with)


def test_a_cached_eager_executable_does_not_keep_its_inputs_data():
    w = lumina.tensor(arr(64, 64))
    first = weakref.ref(w.numpy())
    for _ in range(2):
        w.assign(w * 2.0)
        w.numpy()
    gc.collect()
    assert first() is None
