"""``@lumina.compile``: tracing and the signature cache, whole training steps against PyTorch CPU and
against eager lumina, inspection through ``.lower(...)``, ``LUMINA_DUMP`` and random numbers.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina.codegen.kernel import DotKernel
from lumina.nn import functional as F
from lumina.transforms.pipeline import PASSES

RNG = np.random.default_rng(7)


def arr(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# ---- tracing and the signature cache --------------------------------------------------------------

def test_traces_once_per_signature():
    calls = []

    @lumina.compile
    def f(a, b):
        calls.append((a.shape, a.dtype))
        return (a * b).sum(1).exp(), a - b

    x, y = arr(4, 8) * 0.1, arr(4, 8) * 0.1
    for _ in range(3):
        s, d = f(x, y)
        np.testing.assert_allclose(s.numpy(), np.exp((x * y).sum(1)), rtol=1e-5)
        np.testing.assert_allclose(d.numpy(), x - y, rtol=1e-6)
    assert len(calls) == 1
    f(arr(4, 8), arr(4, 8))                     # new values, same signature
    f(lumina.tensor(x), lumina.tensor(y))        # tensors of the same shape/dtype
    assert len(calls) == 1 + 1                   # a Tensor argument is a different signature kind
    f(arr(5, 8), arr(5, 8))                      # new shape
    assert len(calls) == 3
    out, _ = f(x.astype(np.float64), y.astype(np.float64))   # new dtype
    assert len(calls) == 4
    assert out.dtype is lumina.float64
    np.testing.assert_allclose(out.numpy(), np.exp((x.astype(np.float64) * y).sum(1)), rtol=1e-12)
    f(x, y)
    f(arr(5, 8), arr(5, 8))
    assert len(calls) == 4                       # both earlier signatures are still cached


def test_retraces_when_requires_grad_changes():
    calls = []

    @lumina.compile
    def f(a):
        calls.append(1)
        return (a * a).sum()

    a = np.ones(3, np.float32)
    f(lumina.tensor(a))
    f(lumina.tensor(a, requires_grad=True))
    f(lumina.tensor(a))
    assert len(calls) == 2


def test_static_arguments():
    calls = []

    @lumina.compile(static_argnums=(1,))
    def scale(x, n):
        calls.append(n)
        return x * float(n)

    x = arr(3, 2)
    np.testing.assert_allclose(scale(x, 2).numpy(), 2 * x)
    np.testing.assert_allclose(scale(x, 2).numpy(), 2 * x)
    assert calls == [2]
    np.testing.assert_allclose(scale(x, 3).numpy(), 3 * x)
    assert calls == [2, 3]
    scale(x, 2)
    assert calls == [2, 3]

    # non-array arguments are static without being declared
    @lumina.compile
    def pick(x, axis, keep):
        calls.append((axis, keep))
        return x.sum(axis, keepdim=keep)

    calls.clear()
    np.testing.assert_allclose(pick(x, 0, False).numpy(), x.sum(0), rtol=1e-6)
    np.testing.assert_allclose(pick(x, 1, True).numpy(), x.sum(1, keepdims=True), rtol=1e-6)
    pick(x, 0, False)
    assert calls == [(0, False), (1, True)]


def test_outputs_keep_their_structure():
    @lumina.compile
    def f(x):
        return {"sum": x.sum(), "parts": (x.amax(0), [x * 2.0]), "note": "kept"}

    x = arr(3, 4)
    out = f(x)
    assert out["note"] == "kept"
    np.testing.assert_allclose(out["sum"].numpy(), x.sum(), rtol=1e-5)
    np.testing.assert_array_equal(out["parts"][0].numpy(), x.max(0))
    assert isinstance(out["parts"][1], list)
    np.testing.assert_array_equal(out["parts"][1][0].numpy(), 2 * x)


def test_compiled_functions_match_numpy():
    @lumina.compile
    def f(x, w, b, idx):
        h = (x @ w + b).tanh()
        p = F.softmax(h, dim=1)
        n = (h - h.mean(1, keepdim=True)) / (((h - h.mean(1, keepdim=True)) ** 2).mean(1, keepdim=True) + 1e-5).sqrt()
        return p, n, h[:, ::2], lumina.cat([h, x[:, :2]], 1), h.argmax(1), (idx > 1).sum()

    x, w, b = arr(6, 5), arr(5, 4), arr(4)
    idx = np.array([0, 1, 2, 3, 2, 1])
    p, n, s, c, am, cnt = f(x, w, b, idx)
    h = np.tanh(x @ w + b)
    e = np.exp(h - h.max(1, keepdims=True))
    np.testing.assert_allclose(p.numpy(), e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    want_n = (h - h.mean(1, keepdims=True)) / np.sqrt(h.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(n.numpy(), want_n, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(s.numpy(), h[:, ::2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.numpy(), np.concatenate([h, x[:, :2]], 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(am.numpy(), h.argmax(1))
    assert cnt.item() == 3


# ---- a whole training step against PyTorch and against eager lumina -------------------------------

N_STEPS = 20
BATCHES = [(RNG.standard_normal((32, 10)).astype(np.float32), RNG.integers(0, 5, 32)) for _ in range(N_STEPS)]


def _torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 24), torch.nn.ReLU(), torch.nn.Linear(24, 24),
                               torch.nn.Tanh(), torch.nn.Linear(24, 5))


def _lumina_model(tmodel):
    model = nn.Sequential(nn.Linear(10, 24), nn.ReLU(), nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 5))
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()})
    return model


OPTIMIZERS = {
    "sgd_momentum": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
                     lambda ps: lumina.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3)),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), weight_decay=0.05),
              lambda ps: lumina.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), weight_decay=0.05)),
}


def _torch_run(opt_name):
    model = _torch_model()
    opt = OPTIMIZERS[opt_name][0](model.parameters())
    losses = []
    for x, y in BATCHES:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return np.array(losses), grads, weights


def _lumina_run(opt_name, compiled: bool):
    model = _lumina_model(_torch_model())
    opt = OPTIMIZERS[opt_name][1](list(model.parameters()))
    traces = []

    def step(x, y):
        traces.append(1)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    fn = lumina.compile(step) if compiled else step
    losses = []
    for x, y in BATCHES:
        args = (x, y) if compiled else (lumina.tensor(x), lumina.tensor(y))
        losses.append(fn(*args).item())
    return np.array(losses), model, traces


@pytest.fixture(scope="module", params=sorted(OPTIMIZERS))
def runs(request):
    name = request.param
    return name, _torch_run(name), _lumina_run(name, compiled=True), _lumina_run(name, compiled=False)


def test_compiled_training_step_matches_pytorch(runs):
    name, (t_losses, _, t_weights), (c_losses, model, traces), _ = runs
    assert len(traces) == 1, "the step was traced more than once"
    np.testing.assert_allclose(c_losses, t_losses, rtol=1e-4)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, t_weights[k], rtol=1e-4, atol=1e-5, err_msg=f"{name}: {k}")


def test_compiled_training_step_matches_eager_lumina(runs):
    _, _, (c_losses, c_model, _), (e_losses, e_model, e_traces) = runs
    assert len(e_traces) == N_STEPS
    np.testing.assert_allclose(c_losses, e_losses, rtol=1e-4)
    for (k, a), (_, b) in zip(c_model.state_dict().items(), e_model.state_dict().items()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=k)


def test_grad_is_set_after_a_compiled_step(runs):
    name, (_, t_grads, _), (_, model, _), (_, e_model, _) = runs
    for (k, p), (_, q) in zip(model.named_parameters(), e_model.named_parameters()):
        assert p.grad is not None, f"{name}: {k}.grad is None after the compiled step"
        assert p.grad.shape == p.shape
        # the gradient of the last step, taken at the weights before the last update
        np.testing.assert_allclose(p.grad.numpy(), t_grads[k], rtol=1e-3, atol=1e-5, err_msg=k)
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)


LINEAR_OPTIMIZERS = {
    "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.05), lambda ps: lumina.optim.SGD(ps, lr=0.05)),
    "sgd_nesterov": (lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
                     lambda ps: lumina.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True)),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=0.05, weight_decay=0.1),
             lambda ps: lumina.optim.Adam(ps, lr=0.05, weight_decay=0.1)),
}


@pytest.mark.parametrize("opt_name", sorted(LINEAR_OPTIMIZERS))
def test_compiled_step_on_a_plain_weight_tensor_matches_pytorch(opt_name):
    # ``x @ w`` with a 2-D weight that is a plain tensor (no transpose in between, as in nn.Linear)
    rng = np.random.default_rng(11)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    xs = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(10)]
    make_torch, make_lumina = LINEAR_OPTIMIZERS[opt_name]

    tw = torch.tensor(w0, requires_grad=True)
    topt = make_torch([tw])
    t_losses = []
    for x in xs:
        topt.zero_grad()
        loss = ((torch.from_numpy(x) @ tw).tanh() ** 2).sum()
        loss.backward()
        topt.step()
        t_losses.append(loss.item())

    w = lumina.tensor(w0, requires_grad=True)
    opt = make_lumina([w])

    @lumina.compile
    def step(x):
        opt.zero_grad()
        loss = ((x @ w).tanh() ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    losses = [step(x).item() for x in xs]
    np.testing.assert_allclose(losses, t_losses, rtol=1e-4)
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_a_global_that_is_pending_when_traced_is_still_read_at_call_time():
    w = lumina.tensor(np.ones(3, np.float32))
    w.assign(w * 2.0)          # pending: not realised yet when the function is traced

    @lumina.compile
    def scale(x):
        return x * w

    one = np.ones(3, np.float32)
    np.testing.assert_array_equal(scale(one).numpy(), np.full(3, 2.0, np.float32))
    w.assign(lumina.tensor(np.full(3, 5.0, np.float32)))
    np.testing.assert_array_equal(scale(one).numpy(), np.full(3, 5.0, np.float32))


def test_grad_accumulates_across_compiled_calls_as_in_eager_mode():
    x = np.arange(3, dtype=np.float32)
    eager = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    compiled = lumina.tensor(np.ones(3, np.float32), requires_grad=True)

    @lumina.compile
    def accumulate(a):
        (a * compiled).sum().backward()
        return a.sum()

    for _ in range(2):
        (lumina.tensor(x) * eager).sum().backward()
        accumulate(x)
    np.testing.assert_array_equal(eager.grad.numpy(), 2 * x)
    np.testing.assert_array_equal(compiled.grad.numpy(), eager.grad.numpy())
    # after zeroing, the next call starts from nothing again
    eager.grad = None
    compiled.grad = None
    (lumina.tensor(x) * eager).sum().backward()
    accumulate(x)
    np.testing.assert_array_equal(compiled.grad.numpy(), x)


def test_a_tensor_argument_gets_its_grad_from_a_compiled_backward_as_torch_compile_gives_it():
    """A compiled function whose backward reaches a tensor argument with requires_grad leaves the
    gradient on the caller's tensor and accumulates it over calls, as eager mode and
    ``torch.compile`` do (it used to stay None): two such arguments get theirs, an argument
    without requires_grad and a NumPy argument none. Against torch.compile."""
    x0 = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.0
    w0 = np.linspace(-1.0, 1.0, 3, dtype=np.float32)
    x, c = lumina.tensor(x0, requires_grad=True), lumina.tensor(x0)
    w = lumina.tensor(w0, requires_grad=True)
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)

    def loss(x, c, a, w):
        out = ((x * w).tanh() * c).sum() + (x * x).sum() * a.sum()
        out.backward()
        return out

    step = lumina.compile(loss)
    tstep = torch.compile(lambda x, c, a: loss(x, c, a, tw))
    a = np.ones(2, np.float32)
    for _ in range(2):
        got = step(x, c, a, w)
        want = tstep(tx, torch.tensor(x0), torch.tensor(a))
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)
    assert c.grad is None


def test_updated_parameters_are_seen_by_eager_code_and_other_compiled_functions():
    lumina.manual_seed(3)
    layer = nn.Linear(4, 2)
    opt = lumina.optim.SGD(layer.parameters(), lr=0.5)

    @lumina.compile
    def step(x):
        opt.zero_grad()
        loss = (layer(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    @lumina.compile
    def predict(x):
        with lumina.no_grad():
            return layer(x)

    x = arr(8, 4)
    w0 = layer.weight.numpy().copy()
    b0 = layer.bias.numpy().copy()
    before = predict(x).numpy()
    np.testing.assert_allclose(before, x @ w0.T + b0, rtol=1e-5, atol=1e-6)
    step(x)
    # one SGD step on mean((x W^T + b)^2): dL/dy = 2 y / (8 * 2)
    y = x @ w0.T + b0
    gy = 2 * y / y.size
    w1, b1 = w0 - 0.5 * gy.T @ x, b0 - 0.5 * gy.sum(0)
    np.testing.assert_allclose(layer.weight.numpy(), w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.bias.numpy(), b1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict(x).numpy(), x @ w1.T + b1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(lumina.tensor(x)).numpy(), x @ w1.T + b1, rtol=1e-5, atol=1e-6)


def test_compiled_state_update_accumulates_across_calls():
    total = lumina.tensor(np.zeros(3, np.float32))

    @lumina.compile
    def accumulate(x):
        total.assign(total + x)
        return total.sum()

    for i in range(1, 4):
        s = accumulate(np.ones(3, np.float32))
        assert s.item() == 3.0 * i
    np.testing.assert_array_equal(total.numpy(), np.full(3, 3.0, np.float32))


def test_compiled_state_update_through_an_alias_accumulates_across_calls():
    # ``reshape`` to the same shape returns another Tensor over the same value; reading the state
    # through it must not pin the state's first value into the compiled function.
    total = lumina.tensor(np.zeros(3, np.float32))

    @lumina.compile
    def accumulate(x):
        view = total.reshape(3)
        total.assign(view + x)
        return view.sum()

    for _ in range(3):
        accumulate(np.ones(3, np.float32))
    np.testing.assert_array_equal(total.numpy(), np.full(3, 3.0, np.float32))


# ---- inspection: lower(...) -----------------------------------------------------------------------

def _mlp_lowered():
    lumina.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

    @lumina.compile
    def forward(x):
        return F.softmax(model(x), dim=1).sum(0)

    return forward, forward.lower(arr(8, 16))


def test_lower_shows_the_ir_before_and_after_the_passes():
    forward, lowered = _mlp_lowered()
    before = lowered.as_text("input")
    after = lowered.as_text("optimized")
    assert before == str(lowered.graph)
    assert before.startswith("graph forward {") and after.startswith("graph forward {")
    assert "input {name='arg0'}" in before
    assert re.search(r"%\d+:f32\[8,32\] = dot %\d+, %\d+ \{contract=\(\(1,\), \(0,\)\)", before)
    # after canonicalize_dots every dot is [B, M, K] x [B, K, N]
    dots = [ln for ln in after.splitlines() if " = dot " in ln]
    assert len(dots) == 2
    assert all("contract=((2,), (1,)), batch=((0,), (0,))" in ln for ln in dots)
    assert any(":f32[1,8,32] = dot" in ln for ln in dots)
    # both texts parse back and verify
    for text in (before, after):
        assert str(lumina.ir.verify(lumina.ir.parse(text))) == text
    # every pass is a stage, and an unknown stage is an error naming the stages
    for name, _ in PASSES:
        assert lowered.as_text(name).startswith("graph forward {")
    assert lowered.as_text(PASSES[-1][0]) == after
    with pytest.raises(lumina.LuminaError, match="dce"):
        lowered.as_text("no-such-pass")
    # lowering again does not retrace
    assert forward.lower(arr(8, 16)).graph is lowered.graph


def test_lower_partition_and_llvm_ir():
    _, lowered = _mlp_lowered()
    part = lowered.partition()
    lines = part.splitlines()
    kernels = [ln for ln in lines if ln.startswith("kernel ")]
    assert kernels and all(ln.startswith(("kernel ", "refused: ")) for ln in lines)
    assert sum("(dot" in ln for ln in kernels) == 2   # "(dot)" or "(dot+epilogue)"
    assert any("(dot+epilogue)" in ln and ":add" in ln for ln in kernels)   # the bias add rides the GEMM
    assert "graph output" in part
    assert any("fuses" in ln and ":exp" in ln for ln in kernels)
    llvm = lowered.llvm_ir()
    assert "define void" in llvm
    names = re.findall(r'define void @"?([\w.]+)', llvm)
    assert names and any("fused_" in n for n in names)
    # the softmax's max, exp and sum run on the rows of the second GEMM's result, in its kernel
    assert any(ln.startswith("kernel 1 (dot+rows)") and ":exp" in ln and ":reduce_max" in ln for ln in kernels)
    # every loop kernel named in the LLVM module is one of the lowered kernels; each GEMM with an
    # epilogue or row stages follows with its epilogue module, under a comment naming the kernel
    kernel_names = {k.name for k in lowered.kernels()}
    loops = re.findall(r'define void @"?([\w.]+)', llvm.split("\n; ---- ")[0])
    assert loops and set(loops) <= kernel_names
    fused = [k.name for k in lowered.kernels() if isinstance(k, DotKernel) and (k.epilogue or k.rows)]
    assert len(fused) == 2 and all(f"; ---- {name}: the epilogue" in llvm for name in fused)
    assert llvm.count('define void @"lumina_rows"') == 1   # the softmax on the second GEMM's rows
    assert len(lowered.kernels()) == len(kernels)


# ---- LUMINA_DUMP ----------------------------------------------------------------------------------

def test_lumina_dump_after_all_prints_the_ir_after_every_pass(monkeypatch, capfd):
    monkeypatch.setenv("LUMINA_DUMP", "after-all")

    @lumina.compile
    def dumped_fn(x, w):
        return ((x @ w) * 1.2345678).relu().sum()   # a constant no other test uses: a fresh graph

    dumped_fn(arr(3, 4), arr(4, 5))
    err = capfd.readouterr().err
    assert "dumped_fn: input" in err
    for name, _ in PASSES:
        assert f"dumped_fn: after {name}" in err, name
    # the stages appear in pipeline order, each followed by its IR
    positions = [err.index(f"dumped_fn: after {name} ") for name, _ in PASSES]
    assert positions == sorted(positions)
    assert err.count("graph dumped_fn {") == len(PASSES) + 1
    assert "1.23456" in err


def test_lumina_dump_of_one_pass(monkeypatch, capfd):
    name = PASSES[1][0]
    monkeypatch.setenv("LUMINA_DUMP", name)

    @lumina.compile
    def one_dump(x):
        return (x * 2.7182818).tanh()

    one_dump(arr(6))
    err = capfd.readouterr().err
    assert f"one_dump: after {name} " in err
    assert err.count("graph one_dump {") == 1


def test_no_dump_without_the_variable(monkeypatch, capfd):
    monkeypatch.delenv("LUMINA_DUMP", raising=False)

    @lumina.compile
    def quiet(x):
        return x * 3.1415926

    quiet(arr(2))
    assert "graph quiet" not in capfd.readouterr().err


# ---- random numbers -------------------------------------------------------------------------------

def test_random_numbers_differ_between_calls_and_are_reproducible():
    @lumina.compile
    def noisy(x):
        return lumina.rand(1000) + x

    zero = np.zeros(1000, np.float32)
    lumina.manual_seed(123)
    a1, a2 = noisy(zero).numpy(), noisy(zero).numpy()
    lumina.manual_seed(123)
    b1, b2 = noisy(zero).numpy(), noisy(zero).numpy()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert np.mean(a1 == a2) < 0.01, "two calls drew the same random numbers"
    assert 0.0 <= a1.min() and a1.max() < 1.0
    lumina.manual_seed(124)
    c1 = noisy(zero).numpy()
    assert np.mean(a1 == c1) < 0.01


def test_compiled_draws_follow_the_eager_sequence():
    @lumina.compile
    def draw(x):
        return lumina.rand(50) + x

    zero = np.zeros(50, np.float32)
    lumina.manual_seed(5)
    eager = [lumina.rand(50).numpy() for _ in range(3)]
    lumina.manual_seed(5)
    compiled = [draw(zero).numpy() for _ in range(3)]
    for e, c in zip(eager, compiled):
        np.testing.assert_array_equal(e, c)


def test_randn_inside_compile_is_standard_normal():
    @lumina.compile
    def normal(x):
        return lumina.randn(200_000) + x

    lumina.manual_seed(0)
    z = normal(np.zeros(200_000, np.float32)).numpy()
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 0.01


def test_reading_a_realised_state_value_inside_compile_is_refused():
    """``.item()`` of a realised tensor inside a trace would freeze its current value into the
    compiled function (a later update would be ignored): it is refused like a pending value."""
    s = lumina.tensor(2.0)
    f = lumina.compile(lambda x: x * s.item())
    with pytest.raises(lumina.LuminaTraceError, match="inside @lumina.compile"):
        f(lumina.ones(2))
    g = lumina.compile(lambda x: x * s)
    np.testing.assert_array_equal(g(lumina.ones(2)).numpy(), [2.0, 2.0])
    s.assign(3.0)
    np.testing.assert_array_equal(g(lumina.ones(2)).numpy(), [3.0, 3.0])


@pytest.mark.parametrize("load", ["load_state_dict", "copy_"])
def test_a_training_step_compiled_after_loading_weights_reads_them_at_every_call(load):
    """Weights loaded in place (pending when the first call traces the step, whose ``zero_grad``
    touches them first) are state the step reads at each call, not the loaded arrays fixed at
    trace time. Oracle: torch's SGD on the same weights and batches."""
    from linear_twin import check_against_torch, step_of
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    model = lumina.nn.Linear(4, 3)
    if load == "load_state_dict":
        model.load_state_dict({"weight": lumina.tensor(w), "bias": lumina.tensor(b)})
    else:
        with lumina.no_grad():
            model.weight.copy_(lumina.tensor(w))
            model.bias.copy_(lumina.tensor(b))
    opt = lumina.optim.SGD(model.parameters(), lr=0.1)
    step = lumina.compile(step_of(model, opt))
    check_against_torch(step, model, w, b, lambda ps: torch.optim.SGD(ps, lr=0.1), 3, rng)
