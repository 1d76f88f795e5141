"""The optimizer stack against PyTorch CPU: SGD / Adam / AdamW / RMSprop (and option combinations)
training the same MLP on the same batches, compiled with ``@lumina.compile`` and eager; learning
rates held as state (schedulers and hand-set rates change them without re-tracing); the
``lr_scheduler`` values step by step; ``clip_grad_norm_`` / ``clip_grad_value_``; gradient
accumulation over micro-batches; ``zero_grad(set_to_none=False)``; ``state_dict`` round trips.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina.nn import functional as F
from lumina.nn.utils import clip_grad_norm_, clip_grad_value_
from lumina.optim import lr_scheduler as lsched
from lumina.testing.programs import train_step

N_STEPS = 20
RNG = np.random.default_rng(2024)
BATCHES = [(RNG.standard_normal((32, 10)).astype(np.float32), RNG.integers(0, 5, 32)) for _ in range(N_STEPS)]


# ---- harness: one MLP, trained by torch and by lumina from the same weights on the same batches ----

def _torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5))


def _lumina_model(tmodel):
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 5))
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()})
    return model


def _groups(params, two_groups):
    """All parameters in one group, or weights and biases in two groups (the biases with their own
    lr and no weight decay)."""
    params = list(params)
    if not two_groups:
        return params
    return [{"params": params[0::2]}, {"params": params[1::2], "lr": 0.03, "weight_decay": 0.0}]


def _torch_run(make_opt, make_sched=None, clip=None, micro=1, two_groups=False, n=N_STEPS):
    model = _torch_model()
    opt = make_opt(_groups(model.parameters(), two_groups))
    sched = make_sched(opt) if make_sched else None
    losses, norms, lrs = [], [], []
    for x, y in BATCHES[:n]:
        opt.zero_grad()
        total = 0.0
        for xs, ys in zip(np.split(x, micro), np.split(y, micro)):
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(xs)), torch.from_numpy(ys)) / micro
            loss.backward()
            total += loss.item()
        if clip is not None:
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), clip[0], clip[1]).item())
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        if sched:
            sched.step()
        losses.append(total)
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
    return dict(losses=np.array(losses), norms=np.array(norms), weights=weights, grads=grads, lrs=lrs,
                model=model, opt=opt)


def _lumina_run(make_opt, make_sched=None, clip=None, micro=1, compiled=True, two_groups=False,
                n=N_STEPS):
    model = _lumina_model(_torch_model())
    opt = make_opt(_groups(model.parameters(), two_groups))
    sched = make_sched(opt) if make_sched else None
    traces = []

    def step(x, y):
        traces.append(1)
        opt.zero_grad()
        total = None
        for i in range(micro):
            rows = slice(i * x.shape[0] // micro, (i + 1) * x.shape[0] // micro)
            loss = F.cross_entropy(model(x[rows]), y[rows]) / float(micro)
            loss.backward()
            total = loss if total is None else total + loss.detach()
        norm = clip_grad_norm_(model.parameters(), *clip) if clip is not None else total
        opt.step()
        return total, norm

    fn = lumina.compile(step) if compiled else step
    losses, norms, lrs = [], [], []
    for x, y in BATCHES[:n]:
        args = (x, y) if compiled else (lumina.tensor(x), lumina.tensor(y))
        lrs.append([g["lr"] for g in opt.param_groups])
        loss, norm = fn(*args)
        if sched:
            sched.step()
        losses.append(loss.item())
        norms.append(norm.item())
    grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
    return dict(losses=np.array(losses), norms=np.array(norms), weights=model.state_dict(), grads=grads,
                lrs=lrs, traces=len(traces), model=model, opt=opt)


def _assert_same_training(got, want, what, rtol=1e-4):
    np.testing.assert_allclose(got["losses"], want["losses"], rtol=rtol, err_msg=f"{what}: losses")
    for k, v in got["weights"].items():
        np.testing.assert_allclose(v, want["weights"][k], rtol=rtol, atol=1e-6, err_msg=f"{what}: {k}")
        # .grad is the last gradient (clipped, if clipping), never rewritten by the optimizer (weight
        # decay is not folded into it); taken at weights that agree to ~1e-6, hence the looser bound
        np.testing.assert_allclose(got["grads"][k], want["grads"][k], rtol=1e-3, atol=1e-5,
                                   err_msg=f"{what}: {k}.grad")
    # the run must actually have trained: the weights moved
    start = _torch_model().state_dict()
    assert any(np.abs(v - start[k].numpy()).max() > 1e-3 for k, v in got["weights"].items()), what


OPTIMIZERS = {
    "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.2),
            lambda ps: lumina.optim.SGD(ps, lr=0.2)),
    "sgd_momentum": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                     lambda ps: lumina.optim.SGD(ps, lr=0.1, momentum=0.9)),
    "sgd_nesterov_wd": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True, weight_decay=1e-2),
                        lambda ps: lumina.optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True, weight_decay=1e-2)),
    "sgd_dampening_wd": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=1e-2),
                         lambda ps: lumina.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=1e-2)),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=0.01),
             lambda ps: lumina.optim.Adam(ps, lr=0.01)),
    "adam_l2_amsgrad": (lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, amsgrad=True),
                        lambda ps: lumina.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, amsgrad=True)),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
              lambda ps: lumina.optim.AdamW(ps, lr=0.01, weight_decay=0.1)),
    "adamw_amsgrad_eps": (lambda ps: torch.optim.AdamW(ps, lr=0.02, eps=1e-3, amsgrad=True),
                          lambda ps: lumina.optim.AdamW(ps, lr=0.02, eps=1e-3, amsgrad=True)),
    "rmsprop": (lambda ps: torch.optim.RMSprop(ps, lr=0.01),
                lambda ps: lumina.optim.RMSprop(ps, lr=0.01)),
    "rmsprop_centered": (lambda ps: torch.optim.RMSprop(ps, lr=0.005, alpha=0.9, centered=True),
                         lambda ps: lumina.optim.RMSprop(ps, lr=0.005, alpha=0.9, centered=True)),
    "rmsprop_momentum_wd": (lambda ps: torch.optim.RMSprop(ps, lr=0.005, momentum=0.7, weight_decay=0.05),
                            lambda ps: lumina.optim.RMSprop(ps, lr=0.005, momentum=0.7, weight_decay=0.05)),
    "rmsprop_centered_momentum": (
        lambda ps: torch.optim.RMSprop(ps, lr=0.005, alpha=0.95, eps=1e-6, momentum=0.5, centered=True),
        lambda ps: lumina.optim.RMSprop(ps, lr=0.005, alpha=0.95, eps=1e-6, momentum=0.5, centered=True)),
}


# ---- every optimizer against torch.optim ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_training_matches_torch_optim(name):
    make_torch, make_lumina = OPTIMIZERS[name]
    got = _lumina_run(make_lumina)
    assert got["traces"] == 1, f"{name}: the step was traced {got['traces']} times"
    _assert_same_training(got, _torch_run(make_torch), name)


@pytest.mark.parametrize("name", ["sgd_dampening_wd", "adam_l2_amsgrad", "rmsprop_centered_momentum"])
def test_eager_training_matches_torch_optim(name):
    make_torch, make_lumina = OPTIMIZERS[name]
    got = _lumina_run(make_lumina, compiled=False)
    assert got["traces"] == N_STEPS
    _assert_same_training(got, _torch_run(make_torch), name)


@pytest.mark.parametrize("name", ["sgd_nesterov_wd", "adamw", "rmsprop_momentum_wd"])
def test_parameter_groups_with_their_own_hyperparameters(name):
    make_torch, make_lumina = OPTIMIZERS[name]
    got = _lumina_run(make_lumina, two_groups=True, n=12)
    assert [g["lr"] for g in got["opt"].param_groups][1] == 0.03
    assert got["opt"].param_groups[1]["weight_decay"] == 0.0
    _assert_same_training(got, _torch_run(make_torch, two_groups=True, n=12), name)


def test_maximize_ascends():
    make = {lib: (lambda ps, lib=lib: lib.optim.Adam(ps, lr=0.01, maximize=True)) for lib in (torch, lumina)}
    got = _lumina_run(make[lumina], n=10)
    want = _torch_run(make[torch], n=10)
    _assert_same_training(got, want, "adam maximize")
    assert got["losses"][-1] > got["losses"][0]


def test_a_parameter_without_grad_is_left_alone():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    unused = lumina.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = lumina.optim.Adam([w, unused], lr=0.1)

    @lumina.compile
    def step(x):
        opt.zero_grad()
        (w * x).sum().backward()
        opt.step()

    for _ in range(3):
        step(np.ones(3, np.float32))
    np.testing.assert_array_equal(unused.numpy(), np.ones(2, np.float32))
    assert opt.state[unused]["step"].item() == 0.0
    assert opt.state[w]["step"].item() == 3.0
    np.testing.assert_allclose(w.numpy(), np.full(3, 0.7, np.float32), rtol=1e-5)


def test_step_with_closure_returns_its_loss():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 3.0
    np.testing.assert_allclose(w.numpy(), np.full(3, 0.8, np.float32), rtol=1e-6)


@pytest.mark.parametrize("name", ["sgd_dampening_wd", "adam_l2_amsgrad", "adamw", "rmsprop_centered_momentum"])
def test_float64_parameters_match_torch_to_float64_precision(name):
    make_torch, make_lumina = OPTIMIZERS[name]
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((4, 3))
    xs = [rng.standard_normal((5, 4)) for _ in range(8)]
    tw = torch.tensor(w0, requires_grad=True)
    topt = make_torch([tw])
    for x in xs:
        topt.zero_grad()
        ((torch.from_numpy(x) @ tw).tanh() ** 2).sum().backward()
        topt.step()
    w = lumina.tensor(w0, requires_grad=True)
    assert w.dtype is lumina.float64
    opt = make_lumina([w])

    @lumina.compile
    def step(x):
        opt.zero_grad()
        ((x @ w).tanh() ** 2).sum().backward()
        opt.step()

    for x in xs:
        step(x)
    assert all(t.dtype is lumina.float64 for k, t in opt.state[w].items() if k != "step")
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-10, atol=1e-12)


# ---- the learning rate is state: schedulers and hand-set rates never re-trace ---------------------

SCHEDULED = {
    "sgd_momentum+StepLR": ("sgd_momentum", lambda lib: lambda o: lib.optim.lr_scheduler.StepLR(o, 5, gamma=0.5)),
    "adamw+warmup_cosine": ("adamw", lambda lib: lambda o: lib.optim.lr_scheduler.SequentialLR(
        o, [lib.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=4),
            lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=16, eta_min=1e-4)], milestones=[4])),
    "rmsprop+LambdaLR": ("rmsprop_centered", lambda lib: lambda o: lib.optim.lr_scheduler.LambdaLR(
        o, lambda e: 1.0 / (1.0 + 0.3 * e))),
}


@pytest.mark.parametrize("name", sorted(SCHEDULED))
def test_scheduled_training_matches_torch_without_retracing(name):
    opt_name, make_sched = SCHEDULED[name]
    make_torch, make_lumina = OPTIMIZERS[opt_name]
    got = _lumina_run(make_lumina, make_sched(lumina))
    want = _torch_run(make_torch, make_sched(torch))
    assert got["lrs"] == want["lrs"]
    assert len({tuple(x) for x in got["lrs"]}) > 3, "the schedule did not change the learning rate"
    assert got["traces"] == 1, f"{name}: a learning-rate change re-traced the step"
    _assert_same_training(got, want, name)


def test_hand_set_learning_rate_is_read_at_every_call():
    lumina.manual_seed(1)
    layer = nn.Linear(4, 3)
    opt = lumina.optim.SGD(layer.parameters(), lr=0.1)
    traces = []

    @lumina.compile
    def step(x):
        traces.append(1)
        opt.zero_grad()
        (layer(x) ** 2).mean().backward()
        opt.step()

    x = RNG.standard_normal((8, 4)).astype(np.float32)
    step(x)
    opt.param_groups[0]["lr"] = 0.0
    w = layer.weight.numpy().copy()
    step(x)
    np.testing.assert_array_equal(layer.weight.numpy(), w)      # lr 0: nothing moves
    opt.param_groups[0]["lr"] = 0.5
    g = layer.weight.grad.numpy().copy()                          # gradient at w
    step(x)
    np.testing.assert_allclose(layer.weight.numpy(), w - 0.5 * g, rtol=1e-5, atol=1e-7)
    assert len(traces) == 1
    assert opt.param_groups[0].tensor("lr").item() == 0.5
    assert opt.param_groups[0].tensor("lr").dtype is lumina.float64


def _schedule(lib, make, n_groups=2, steps=40):
    params = [torch.zeros(1, requires_grad=True) if lib is torch else
              lumina.tensor(np.zeros(1, np.float32), requires_grad=True) for _ in range(n_groups)]
    opt = lib.optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], lr=1.0)
    sched = make(lib, opt)
    lrs = [[g["lr"] for g in opt.param_groups]]
    last = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        last.append(list(sched.get_last_lr()))
    return lrs, last, opt


SCHEDULERS = {
    "StepLR": lambda lib, o: lib.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3),
    "MultiStepLR": lambda lib, o: lib.optim.lr_scheduler.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.5),
    "ExponentialLR": lambda lib, o: lib.optim.lr_scheduler.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=0.01),
    "LinearLR_warmup": lambda lib, o: lib.optim.lr_scheduler.LinearLR(o, start_factor=0.05, total_iters=9),
    "LinearLR_decay": lambda lib, o: lib.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.2,
                                                                      total_iters=30),
    "LambdaLR_per_group": lambda lib, o: lib.optim.lr_scheduler.LambdaLR(
        o, [lambda e: 0.95 ** e, lambda e: 1.0 / (e + 1)]),
    "SequentialLR": lambda lib, o: lib.optim.lr_scheduler.SequentialLR(
        o, [lib.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=5),
            lib.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.7),
            lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10)], milestones=[5, 17]),
    "ChainedScheduler": lambda lib, o: lib.optim.lr_scheduler.ChainedScheduler(
        [lib.optim.lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=6),
         lib.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.filterwarnings("ignore::UserWarning")   # torch's warnings about the order of step calls
def test_scheduler_values_equal_torch_step_by_step(name):
    got, got_last, opt = _schedule(lumina, SCHEDULERS[name])
    want, want_last, _ = _schedule(torch, SCHEDULERS[name])
    assert got == want                  # exactly: the same formulas in the same order
    assert got_last == want_last
    for g in opt.param_groups:          # the tensor the compiled step reads follows the dict
        assert g.tensor("lr").item() == g["lr"]
    assert len({tuple(x) for x in got}) > 3


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_scheduler_closed_form_epoch_argument_matches_torch():
    for name in ("StepLR", "MultiStepLR", "CosineAnnealingLR", "LinearLR_warmup", "ExponentialLR"):
        out = {}
        for lib in (torch, lumina):
            p = torch.zeros(1, requires_grad=True) if lib is torch else lumina.tensor([0.0], requires_grad=True)
            opt = lib.optim.SGD([p], lr=0.2)
            sched = SCHEDULERS[name](lib, opt)
            out[lib] = []
            for epoch in (3, 11, 4, 26):
                sched.step(epoch)
                out[lib].append(opt.param_groups[0]["lr"])
        assert out[lumina] == out[torch], name


def test_scheduler_state_dict_resumes_the_schedule():
    p = lumina.tensor([0.0], requires_grad=True)
    opt = lumina.optim.SGD([p], lr=0.5)
    sched = lsched.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved_sched
    q = lumina.tensor([0.0], requires_grad=True)
    opt2 = lumina.optim.SGD([q], lr=0.5)
    sched2 = lsched.CosineAnnealingLR(opt2, T_max=10)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    for _ in range(5):
        sched.step()
        sched2.step()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
        assert opt2.param_groups[0].tensor("lr").item() == opt.param_groups[0]["lr"]


# ---- gradient clipping --------------------------------------------------------------------------

@pytest.mark.parametrize("clip", [(0.2, 2.0), (0.05, math.inf), (100.0, 2.0)], ids=["l2", "inf", "no_clip"])
def test_compiled_clip_grad_norm_matches_torch(clip):
    make_torch, make_lumina = OPTIMIZERS["sgd_momentum"]
    got = _lumina_run(make_lumina, clip=clip, n=12)
    want = _torch_run(make_torch, clip=clip, n=12)
    assert got["traces"] == 1
    np.testing.assert_allclose(got["norms"], want["norms"], rtol=1e-4)
    if clip[0] < 1:
        assert (want["norms"] > clip[0]).all(), "the test must actually clip"
    else:
        assert (want["norms"] < clip[0]).all()
    _assert_same_training(got, want, f"clip {clip}")


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, -math.inf, 0.0])
def test_clip_grad_norm_of_each_norm_type_matches_torch(norm_type):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (3,), (2, 2, 2))]
    grads[1][0] = 0.0
    tps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    lps = [lumina.tensor(np.zeros(g.shape, np.float32), requires_grad=True) for g in grads]
    for tp, lp, g in zip(tps, lps, grads):
        tp.grad = torch.from_numpy(g.copy())
        lp.grad = lumina.tensor(g)
    max_norm = 0.7
    want = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    got = clip_grad_norm_(lps, max_norm, norm_type)
    assert isinstance(got, lumina.Tensor) and got.shape == ()
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5)
    for tp, lp in zip(tps, lps):
        np.testing.assert_allclose(lp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    p = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    assert clip_grad_norm_([p], 1.0).item() == 0.0            # no gradients: norm 0, nothing to do
    assert p.grad is None
    p.grad = lumina.tensor(np.array([np.inf, 1.0, 0.0], np.float32))
    with pytest.raises(lumina.LuminaValueError, match="inf"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)

    @lumina.compile
    def inside(x):
        (p * x).sum().backward()
        return clip_grad_norm_([p], 1.0, error_if_nonfinite=True)

    p.grad = None
    with pytest.raises(lumina.LuminaValueError, match="inside @lumina.compile"):
        inside(np.ones(3, np.float32))


def test_clip_grad_value_matches_torch():
    g = np.array([[-3.0, 0.2], [0.9, 5.0]], np.float32)
    tp = torch.zeros(2, 2, requires_grad=True)
    tp.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_([tp], 0.5)
    lp = lumina.tensor(np.zeros((2, 2), np.float32), requires_grad=True)
    w = lumina.tensor(np.zeros((2, 2), np.float32), requires_grad=True)

    @lumina.compile
    def step(x):
        (lp * x).sum().backward()
        (w * x).sum().backward()
        clip_grad_value_([lp], 0.5)

    step(g)
    np.testing.assert_array_equal(lp.grad.numpy(), tp.grad.numpy())
    np.testing.assert_array_equal(w.grad.numpy(), g)             # not in the list: untouched
    with pytest.raises(lumina.LuminaValueError, match="clip_value"):
        clip_grad_value_([lp], -1.0)


# ---- gradient accumulation over micro-batches ---------------------------------------------------

@pytest.mark.parametrize("name", ["sgd_momentum", "adamw"])
def test_accumulated_micro_batches_equal_the_big_batch_step(name):
    make_torch, make_lumina = OPTIMIZERS[name]
    accumulated = _lumina_run(make_lumina, micro=4, n=10)
    big = _lumina_run(make_lumina, micro=1, n=10)
    assert accumulated["traces"] == 1
    # mean over 4 micro-batches of 8, each loss / 4  ==  mean over the batch of 32
    _assert_same_training(accumulated, big, f"{name}: accumulated vs big batch")
    _assert_same_training(accumulated, _torch_run(make_torch, micro=4, n=10), f"{name}: accumulated vs torch")


def test_grads_accumulate_in_grad_before_the_step():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.SGD([w], lr=1.0)
    seen = []

    @lumina.compile
    def step(a, b):
        opt.zero_grad()
        (w * a).sum().backward()
        (w * b).sum().backward()
        seen.append(1)
        g = w.grad * 1.0
        opt.step()
        return g

    a, b = np.arange(3, dtype=np.float32), np.full(3, 2.0, np.float32)
    np.testing.assert_array_equal(step(a, b).numpy(), a + b)
    np.testing.assert_array_equal(w.numpy(), 1.0 - (a + b))
    np.testing.assert_array_equal(step(a, b).numpy(), a + b)     # zero_grad: no carry-over
    assert len(seen) == 1


# ---- zero_grad(set_to_none=False) --------------------------------------------------------------

def test_zero_grad_to_zeros_eager_and_compiled():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.SGD([w], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert w.grad is None                                   # as torch: no grad yet stays None
    (w * 2.0).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(3, np.float32))

    make_torch = lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)  # noqa: E731
    model = _lumina_model(_torch_model())
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    traces = []

    @lumina.compile
    def step(x, y):
        traces.append(1)
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    losses = [step(x, y).item() for x, y in BATCHES[:8]]
    want = _torch_run(make_torch, n=8)
    np.testing.assert_allclose(losses, want["losses"], rtol=1e-4)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, want["weights"][k], rtol=1e-4, atol=1e-6)
    # the first call had no grads (None); from the second on they exist and are zeroed: two traces
    assert len(traces) == 2


# ---- state_dict -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sgd_dampening_wd", "adam_l2_amsgrad", "rmsprop_centered_momentum"])
def test_state_dict_round_trip_resumes_training_exactly(name):
    _, make_lumina = OPTIMIZERS[name]
    full = _lumina_run(make_lumina, n=12)
    first = _lumina_run(make_lumina, n=6)
    saved = first["opt"].state_dict()
    assert set(saved) == {"state", "param_groups"}
    assert sorted(saved["state"]) == [0, 1, 2, 3]
    assert saved["param_groups"][0]["params"] == [0, 1, 2, 3]

    model = _lumina_model(_torch_model())
    model.load_state_dict(first["weights"])
    opt = make_lumina(list(model.parameters()))
    step = train_step(model, opt, F.cross_entropy)

    step(*BATCHES[0])                      # compile against fresh state, then load
    model.load_state_dict(first["weights"])
    opt.load_state_dict(saved)
    losses = [step(x, y).item() for x, y in BATCHES[6:12]]
    np.testing.assert_allclose(losses, full["losses"][6:], rtol=1e-5)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, full["weights"][k], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["sgd_dampening_wd", "adamw_amsgrad_eps", "rmsprop_centered_momentum"])
def test_load_a_torch_optimizer_state_dict(name):
    make_torch, make_lumina = OPTIMIZERS[name]
    half = _torch_run(make_torch, n=5)
    full = _torch_run(make_torch, n=10)
    model = _lumina_model(half["model"])
    opt = make_lumina(list(model.parameters()))
    opt.load_state_dict(half["opt"].state_dict())
    losses = []
    for x, y in BATCHES[5:10]:
        opt.zero_grad()
        loss = F.cross_entropy(model(lumina.tensor(x)), lumina.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_allclose(losses, full["losses"][5:], rtol=1e-4)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, full["weights"][k], rtol=1e-4, atol=1e-6)


def test_load_state_dict_rejects_mismatches():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.Adam([w])
    other = lumina.optim.Adam([lumina.tensor(np.ones(4, np.float32), requires_grad=True)])
    with pytest.raises(lumina.LuminaValueError, match=r"exp_avg.*\[4\].*\[3\]"):
        opt.load_state_dict(other.state_dict())
    two = lumina.optim.Adam([w, lumina.tensor(np.ones(3, np.float32), requires_grad=True)])
    with pytest.raises(lumina.LuminaValueError, match="sizes"):
        opt.load_state_dict(two.state_dict())


# ---- hyperparameters baked into a compiled step, and errors ------------------------------------

def test_changing_a_compiled_in_hyperparameter_warns():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.SGD([w], lr=0.1, momentum=0.9)
    opt.param_groups[0]["momentum"] = 0.8          # not compiled yet: silent

    @lumina.compile
    def step(x):
        opt.zero_grad()
        (w * x).sum().backward()
        opt.step()

    step(np.ones(3, np.float32))
    with pytest.warns(UserWarning, match="momentum.*compiled"):
        opt.param_groups[0]["momentum"] = 0.5
    opt.param_groups[0]["lr"] = 0.2                # read at each call: no warning


def test_eager_steps_follow_hyperparameters_changed_between_them():
    """Outside ``@lumina.compile`` a step runs as a compiled update per setting of the
    hyperparameters: changing momentum and betas between steps takes effect at once, as in torch,
    and warns about nothing."""
    import warnings
    for make_torch, make_lumina, key, values in [
            (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
             lambda ps: lumina.optim.SGD(ps, lr=0.1, momentum=0.9), "momentum", [0.9, 0.5, 0.0, 0.9]),
            (lambda ps: torch.optim.AdamW(ps, lr=0.01), lambda ps: lumina.optim.AdamW(ps, lr=0.01),
             "betas", [(0.9, 0.999), (0.5, 0.9), (0.9, 0.999)])]:
        tmodel = _torch_model()
        model = _lumina_model(tmodel)
        topt, opt = make_torch(tmodel.parameters()), make_lumina(model.parameters())
        for i, (x, y) in enumerate(BATCHES[:8]):
            value = values[i % len(values)]
            topt.param_groups[0][key] = value
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                opt.param_groups[0][key] = value
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
            topt.step()
            opt.zero_grad()
            loss = F.cross_entropy(model(lumina.tensor(x)), lumina.tensor(y))
            loss.backward()
            opt.step()
            assert np.isfinite(loss.item())
        for k, v in tmodel.state_dict().items():
            np.testing.assert_allclose(model.state_dict()[k], v.numpy(), rtol=1e-4, atol=1e-6, err_msg=key)


def test_a_parameter_appended_to_a_group_is_updated_by_the_next_eager_step():
    a = lumina.tensor(np.ones(2, np.float32), requires_grad=True)
    b = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.SGD([a], lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        ((a * 2.0).sum() + (b * 3.0).sum()).backward()
        opt.step()
        if len(opt.param_groups[0]["params"]) == 1:
            opt.param_groups[0]["params"].append(b)
    np.testing.assert_allclose(a.numpy(), 1.0 - 2 * 0.5 * 2.0)
    np.testing.assert_allclose(b.numpy(), 1.0 - 0.5 * 3.0)


def test_an_optimizer_that_stepped_eagerly_copies_pickles_and_is_freed():
    """Its compiled updates live beside it: ``copy.deepcopy`` and ``pickle`` work as before a
    step, the copy steps on its own, and a dropped optimizer is freed."""
    import copy
    import gc
    import pickle
    import weakref
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.SGD([w], lr=0.1, momentum=0.9)
    (w * 2.0).sum().backward()
    opt.step()
    twin = copy.deepcopy(opt)
    assert pickle.loads(pickle.dumps(opt)).state_dict()["param_groups"][0]["momentum"] == 0.9
    (twin.params[0] * 2.0).sum().backward()
    twin.step()
    np.testing.assert_allclose(twin.params[0].numpy(), 0.8 - 0.1 * (2.0 * 0.9 + 2.0), rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), 0.8, rtol=1e-6)
    ref = weakref.ref(opt)
    del opt, twin
    gc.collect()
    assert ref() is None


def test_an_update_that_reads_a_value_still_steps_eagerly():
    """A subclass whose update reads a value (``.item()``, which a compiled update cannot) is
    recorded op by op instead, with the same result."""
    class HalvingSGD(lumina.optim.SGD):
        def _update_group(self, group):
            scale = 0.5 if float(self.params[0].grad.abs().max().item()) > 0 else 1.0
            touched = []
            for p, g in self._gradients(group):
                p.assign(p - (self._lr(group) * scale).to(p.dtype) * g)
                touched.append(p)
            return touched

    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = HalvingSGD([w], lr=0.2)
    for _ in range(2):
        opt.zero_grad()
        (w * lumina.tensor(np.array([1.0, 2.0, 3.0], np.float32))).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), 1.0 - 2 * 0.1 * np.array([1.0, 2.0, 3.0]), rtol=1e-6)


def test_optimizer_argument_errors():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(lumina.LuminaValueError, match="learning rate -0.1"):
        lumina.optim.SGD([w], lr=-0.1)
    with pytest.raises(lumina.LuminaValueError, match="Nesterov"):
        lumina.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(lumina.LuminaValueError, match="beta at index 1"):
        lumina.optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(lumina.LuminaValueError, match="alpha"):
        lumina.optim.RMSprop([w], alpha=-0.5)
    with pytest.raises(lumina.LuminaValueError, match="more than once"):
        lumina.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(lumina.LuminaTypeError, match="parameter 1"):
        lumina.optim.RMSprop([w, lumina.ones(2)])
    opt = lumina.optim.SGD([w], lr=0.1)
    with pytest.raises(lumina.LuminaTypeError, match="number"):
        opt.param_groups[0]["lr"] = "fast"
    with pytest.raises(lumina.LuminaTypeError, match="not an Optimizer"):
        lsched.StepLR(object(), 3)
    with pytest.raises(lumina.LuminaValueError, match="initial_lr"):
        lsched.StepLR(lumina.optim.SGD([w], lr=0.1), 3, last_epoch=4)

    @lumina.compile
    def sets_lr_inside(x):
        opt.param_groups[0]["lr"] = 0.3
        return x * 2.0

    with pytest.raises(lumina.LuminaValueError, match="outside the compiled step"):
        sets_lr_inside(np.ones(2, np.float32))
