"""``lumina.optim`` against ``torch.optim`` across its breadth: every optimizer and option set run
for five steps on the same parameters and gradients, eagerly and inside ``@lumina.compile``
(parameters and state compared to float32 precision); state dicts exchanged with torch in both
directions; ``add_param_group``; the schedulers' learning rates (and OneCycleLR's momentum) over 30
steps; and torch's hyperparameter checks as LuminaValueError.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from lumina.optim import lr_scheduler as lsched

N_STEPS = 5
RNG = np.random.default_rng(7)
PARAMS = [RNG.standard_normal((4, 3)).astype(np.float32), RNG.standard_normal(11).astype(np.float32)]
GRADS = [[RNG.standard_normal(p.shape).astype(np.float32) for p in PARAMS] for _ in range(2 * N_STEPS)]

# name -> (torch.optim / lumina.optim class name, keyword arguments, both libraries take them all)
OPTIMIZERS = {
    "sgd_maximize": ("SGD", dict(lr=0.1, maximize=True)),
    "sgd_dampening": ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05)),
    "sgd_nesterov_maximize": ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, maximize=True)),
    "sgd_fused_foreach": ("SGD", dict(lr=0.1, momentum=0.5, fused=True)),
    "adam_amsgrad_maximize": ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.1)),
    "adam_fused": ("Adam", dict(lr=0.01, betas=(0.8, 0.9), fused=True)),
    "adam_decoupled": ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    "adamw_amsgrad_maximize": ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True, foreach=False)),
    "rmsprop_foreach": ("RMSprop", dict(lr=0.01, momentum=0.3, centered=True, foreach=False, maximize=True)),
    "adagrad": ("Adagrad", dict(lr=0.1)),
    "adagrad_options": ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3,
                                        eps=1e-6, maximize=True)),
    "adagrad_fused": ("Adagrad", dict(lr=0.1, fused=True)),
    "adadelta": ("Adadelta", dict()),
    "adadelta_options": ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    "adamax": ("Adamax", dict()),
    "adamax_options": ("Adamax", dict(lr=0.01, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.1, maximize=True)),
    "nadam": ("NAdam", dict()),
    "nadam_l2": ("NAdam", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, momentum_decay=0.01)),
    "nadam_decoupled_maximize": ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                                               maximize=True)),
    "radam": ("RAdam", dict(lr=0.01)),
    "radam_rectified_early": ("RAdam", dict(lr=0.01, betas=(0.9, 0.5), weight_decay=0.1)),   # rho_t > 5 from step 2
    "radam_decoupled_maximize": ("RAdam", dict(lr=0.01, betas=(0.9, 0.6), weight_decay=0.1,
                                               decoupled_weight_decay=True, maximize=True)),
    "rprop": ("Rprop", dict()),
    "rprop_options": ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08), maximize=True)),
    "asgd": ("ASGD", dict(lr=0.05)),
    "asgd_averaging": ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=2.0, weight_decay=0.1, maximize=True)),
}
NEW = ["rprop_options", "asgd_averaging", "adagrad_options", "adadelta_options", "adamax_options", "nadam_l2", "nadam_decoupled_maximize",
       "radam_rectified_early", "radam_decoupled_maximize"]


def _torch_opt(name, params):
    cls, kwargs = OPTIMIZERS[name]
    return getattr(torch.optim, cls)(params, **kwargs)


def _lumina_opt(name, params):
    cls, kwargs = OPTIMIZERS[name]
    return getattr(lumina.optim, cls)(params, **kwargs)


def _torch_steps(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g)
        opt.step()


def _lumina_stepper(opt, params, compiled, traces=None):
    """A training step setting each parameter's gradient and calling ``opt.step()``; compiled, it
    takes NumPy gradients. ``traces`` (a list) gets one entry per (re)trace of the step."""
    def step(*gs):
        if traces is not None:
            traces.append(1)
        for p, g in zip(params, gs):
            p.grad = g
        opt.step()

    if compiled:
        return lumina.compile(step)
    return lambda *gs: step(*(None if g is None else lumina.tensor(g) for g in gs))


def _assert_close(got, want, what):
    # float32 throughout; 1e-6 relative, with an absolute floor of a few ulps at |x| ~ 1 for elements
    # that pass near zero
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=2e-7, err_msg=what)


def _assert_same_state(lumina_opt, torch_opt, what):
    got, want = lumina_opt.state_dict(), torch_opt.state_dict()
    assert sorted(got["state"]) == sorted(want["state"]), what
    for i, slots in want["state"].items():
        for key, value in slots.items():
            _assert_close(np.asarray(got["state"][i][key]), value.numpy(), f"{what}: state[{i}][{key!r}]")
    for g, w in zip(got["param_groups"], want["param_groups"]):
        assert set(w) <= set(g), f"{what}: group keys {sorted(set(w) - set(g))} missing"
        assert g["params"] == w["params"]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_five_steps_match_torch(name, compiled):
    tparams = [torch.nn.Parameter(torch.tensor(p)) for p in PARAMS]
    topt = _torch_opt(name, tparams)
    _torch_steps(topt, tparams, GRADS[:N_STEPS])

    lparams = [lumina.tensor(p.copy(), requires_grad=True) for p in PARAMS]
    lopt = _lumina_opt(name, lparams)
    traces = []
    step = _lumina_stepper(lopt, lparams, compiled, traces)
    for gs in GRADS[:N_STEPS]:
        step(*gs)
    # compiled, the step count and the learning rate are read at each call: one trace
    assert len(traces) == (1 if compiled else N_STEPS), name
    for i, (lp, tp) in enumerate(zip(lparams, tparams)):
        _assert_close(lp.numpy(), tp.detach().numpy(), f"{name}: parameter {i}")
        assert np.abs(lp.numpy() - PARAMS[i]).max() > 1e-4, f"{name}: the parameters did not move"
    _assert_same_state(lopt, topt, name)


def _converted(state_dict, convert):
    return {"state": {i: {k: convert(v) for k, v in slots.items()} for i, slots in state_dict["state"].items()},
            "param_groups": [dict(g) for g in state_dict["param_groups"]]}


@pytest.mark.parametrize("name", NEW + ["sgd_dampening", "adam_amsgrad_maximize", "rmsprop_foreach"])
def test_state_dicts_cross_between_torch_and_lumina(name):
    """torch runs three steps, lumina loads its state dict (converted with NumPy) and runs two; and
    the reverse; both end where five torch steps end."""
    tparams = [torch.nn.Parameter(torch.tensor(p)) for p in PARAMS]
    topt = _torch_opt(name, tparams)
    _torch_steps(topt, tparams, GRADS[:N_STEPS])
    want = [p.detach().numpy() for p in tparams]

    # torch -> lumina, resumed inside a compiled step
    half = [torch.nn.Parameter(torch.tensor(p)) for p in PARAMS]
    half_opt = _torch_opt(name, half)
    _torch_steps(half_opt, half, GRADS[:3])
    lparams = [lumina.tensor(p.detach().numpy().copy(), requires_grad=True) for p in half]
    lopt = _lumina_opt(name, lparams)
    lopt.load_state_dict(_converted(half_opt.state_dict(), lambda t: t.numpy().copy()))
    step = _lumina_stepper(lopt, lparams, compiled=True)
    for gs in GRADS[3:N_STEPS]:
        step(*gs)
    for i, (lp, w) in enumerate(zip(lparams, want)):
        _assert_close(lp.numpy(), w, f"{name}: torch -> lumina, parameter {i}")

    # lumina -> torch
    lparams = [lumina.tensor(p.copy(), requires_grad=True) for p in PARAMS]
    lopt = _lumina_opt(name, lparams)
    step = _lumina_stepper(lopt, lparams, compiled=False)
    for gs in GRADS[:3]:
        step(*gs)
    saved = lopt.state_dict()
    tparams = [torch.nn.Parameter(torch.tensor(p.numpy().copy())) for p in lparams]
    topt = _torch_opt(name, tparams)
    topt.load_state_dict(_converted(saved, lambda a: torch.from_numpy(np.array(a))))
    _torch_steps(topt, tparams, GRADS[3:N_STEPS])
    for i, (tp, w) in enumerate(zip(tparams, want)):
        _assert_close(tp.detach().numpy(), w, f"{name}: lumina -> torch, parameter {i}")


@pytest.mark.parametrize("name", ["nadam_l2", "adagrad_options", "radam_rectified_early"])
def test_state_dict_round_trip_within_lumina(name):
    lparams = [lumina.tensor(p.copy(), requires_grad=True) for p in PARAMS]
    lopt = _lumina_opt(name, lparams)
    step = _lumina_stepper(lopt, lparams, compiled=True)
    for gs in GRADS[:3]:
        step(*gs)
    saved, weights = lopt.state_dict(), [p.numpy().copy() for p in lparams]
    for gs in GRADS[3:N_STEPS]:
        step(*gs)
    other = [lumina.tensor(w, requires_grad=True) for w in weights]
    other_opt = _lumina_opt(name, other)
    other_opt.load_state_dict(saved)
    other_step = _lumina_stepper(other_opt, other, compiled=False)
    for gs in GRADS[3:N_STEPS]:
        other_step(*gs)
    for a, b in zip(other, lparams):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name", ["nadam_l2", "adagrad_options", "sgd_dampening", "rprop_options", "asgd_averaging"])
def test_add_param_group_matches_torch(name):
    """The second parameter joins, in its own group with its own lr, after two steps."""
    results = {}
    for lib in (torch, lumina):
        if lib is torch:
            params = [torch.nn.Parameter(torch.tensor(p)) for p in PARAMS]
        else:
            params = [lumina.tensor(p.copy(), requires_grad=True) for p in PARAMS]
        opt = (_torch_opt if lib is torch else _lumina_opt)(name, [params[0]])
        for k, gs in enumerate(GRADS[:N_STEPS]):
            if k == 2:
                opt.add_param_group({"params": [params[1]], "lr": 0.003})
            live = params[:1] if k < 2 else params
            for p, g in zip(live, gs):
                p.grad = torch.tensor(g) if lib is torch else lumina.tensor(g)
            opt.step()
        results[lib] = ([p.detach().numpy() if lib is torch else p.numpy() for p in params], opt)
    for i, (a, b) in enumerate(zip(results[lumina][0], results[torch][0])):
        _assert_close(a, b, f"{name}: parameter {i}")
    assert results[lumina][1].param_groups[1]["lr"] == 0.003
    _assert_same_state(results[lumina][1], results[torch][1], name)


# ---- schedulers ---------------------------------------------------------------------------------

SCHEDULERS = {
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 1.0 - 0.01 * e]),
    "ConstantLR": lambda L, o: L.ConstantLR(o, factor=0.4, total_iters=7),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, total_iters=20, power=2.0),
    "CosineAnnealingWarmRestarts": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.001),
    "CosineAnnealingWarmRestarts_mult": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "OneCycleLR": lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=31),
    "OneCycleLR_linear_three_phase": lambda L, o: L.OneCycleLR(o, max_lr=0.8, epochs=4, steps_per_epoch=8,
                                                               anneal_strategy="linear", three_phase=True,
                                                               pct_start=0.25),
    "OneCycleLR_no_momentum": lambda L, o: L.OneCycleLR(o, max_lr=0.3, total_steps=30, cycle_momentum=False,
                                                        div_factor=10.0),
    "CyclicLR": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4),
    "CyclicLR_triangular2": lambda L, o: L.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3,
                                                    step_size_down=5, mode="triangular2", base_momentum=0.7),
    "CyclicLR_exp_range": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range",
                                                  gamma=0.95),
    "CyclicLR_scale_fn": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False,
                                                 scale_fn=lambda x: 1.0 / (1.0 + x), scale_mode="iterations"),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.9),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, milestones=[4, 9, 9], gamma=0.5),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lambda e: 1.0 / (1.0 + e)),
}
# a noisy metric that improves, stalls, improves again, for ReduceLROnPlateau
METRICS = [1.0, 0.9, 0.85, 0.86, 0.85, 0.87, 0.84999, 0.7, 0.71, 0.72, 0.70, 0.69, 0.695, 0.7, 0.71, 0.72, 0.73,
           0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.59, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
PLATEAUS = {
    "min_rel": dict(patience=2, factor=0.5),
    "min_abs_cooldown": dict(patience=1, threshold=0.01, threshold_mode="abs", cooldown=2, min_lr=[0.02, 0.0]),
    "max_rel": dict(mode="max", patience=3, factor=0.3, eps=1e-3),
}


def _optimizer(lib, momentum_kind):
    if lib is torch:
        params = [torch.zeros(1, requires_grad=True) for _ in range(2)]
    else:
        params = [lumina.tensor(np.zeros(1, np.float32), requires_grad=True) for _ in range(2)]
    groups = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)]
    if momentum_kind == "betas":
        return lib.optim.Adam(groups)
    return lib.optim.SGD(groups, lr=1.0, momentum=0.9)


def _schedule(lib, make, momentum_kind="momentum", steps=30, metric=False):
    opt = _optimizer(lib, momentum_kind)
    sched = make(lib.optim.lr_scheduler, opt)
    momentum = (lambda g: g["betas"][0]) if momentum_kind == "betas" else (lambda g: g["momentum"])
    seen = [([g["lr"] for g in opt.param_groups], [momentum(g) for g in opt.param_groups], list(sched.get_last_lr()))]
    for k in range(steps):
        opt.step()
        sched.step(METRICS[k]) if metric else sched.step()
        seen.append(([g["lr"] for g in opt.param_groups], [momentum(g) for g in opt.param_groups],
                     list(sched.get_last_lr())))
    return seen, opt, sched


@pytest.mark.parametrize("momentum_kind", ["momentum", "betas"])
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.filterwarnings("ignore::UserWarning")    # torch's warning about stepping without gradients
def test_scheduler_sequence_equals_torch(name, momentum_kind):
    got, opt, _ = _schedule(lumina, SCHEDULERS[name], momentum_kind)
    want, _, _ = _schedule(torch, SCHEDULERS[name], momentum_kind)
    assert got == want                     # exactly: the same formulas in the same order
    assert len({tuple(lrs) for lrs, _, _ in got}) > 1   # the schedule did change the rates
    for g in opt.param_groups:             # the tensor a compiled step reads follows the dict
        assert g.tensor("lr").item() == g["lr"]


@pytest.mark.parametrize("name", sorted(PLATEAUS))
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_reduce_lr_on_plateau_equals_torch(name):
    make = lambda L, o: L.ReduceLROnPlateau(o, **PLATEAUS[name])  # noqa: E731
    got, _, _ = _schedule(lumina, make, metric=True)
    want, _, _ = _schedule(torch, make, metric=True)
    assert got == want
    assert len({tuple(lrs) for lrs, _, _ in got}) > 2
    # the metric may be a one-element lumina tensor
    opt = _optimizer(lumina, "momentum")
    sched = lsched.ReduceLROnPlateau(opt, patience=0)
    for m in (1.0, 2.0):
        sched.step(lumina.tensor(np.float32(m)))
    assert sched.get_last_lr() == [0.1 * 0.1, 0.2 * 0.1]


def test_cosine_warm_restarts_epoch_argument_matches_torch():
    out = {}
    for lib in (torch, lumina):
        opt = _optimizer(lib, "momentum")
        sched = SCHEDULERS["CosineAnnealingWarmRestarts_mult"](lib.optim.lr_scheduler, opt)
        out[lib] = []
        for epoch in (0.5, 2.25, 7, 3.5, 25.0, 1):
            sched.step(epoch)
            out[lib].append((sched.get_last_lr(), sched.T_i, sched.T_cur, sched.last_epoch))
    assert out[lumina] == out[torch]


@pytest.mark.parametrize("name", ["OneCycleLR", "CosineAnnealingWarmRestarts_mult", "PolynomialLR",
                                  "MultiplicativeLR", "CyclicLR_triangular2", "CyclicLR_exp_range", "plateau"])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_scheduler_state_dict_resumes_from_lumina_and_from_torch(name):
    plateau = name == "plateau"
    make = (lambda L, o: L.ReduceLROnPlateau(o, patience=1)) if plateau else SCHEDULERS[name]  # noqa: E731
    full, _, _ = _schedule(lumina, make, steps=30, metric=plateau)
    for lib in (lumina, torch):
        _, opt, sched = _schedule(lib, make, steps=12, metric=plateau)
        opt_state = opt.state_dict()
        resumed_opt = _optimizer(lumina, "momentum")
        resumed = make(lumina.optim.lr_scheduler, resumed_opt)
        resumed_opt.load_state_dict(opt_state)
        resumed.load_state_dict(dict(sched.state_dict()))
        for k in range(12, 30):
            resumed_opt.step()
            resumed.step(METRICS[k]) if plateau else resumed.step()
            assert [g["lr"] for g in resumed_opt.param_groups] == full[k + 1][0], (lib.__name__, k)
            assert resumed.get_last_lr() == full[k + 1][2]


def test_one_cycle_past_total_steps_raises():
    opt = _optimizer(lumina, "momentum")
    sched = lsched.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(lumina.LuminaValueError, match="total_steps is 3"):
        sched.step()


# ---- hyperparameter checks: torch's conditions, as LuminaValueError --------------------------------

BAD = [
    ("SGD", dict(lr=-0.1), "learning rate"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "momentum"),
    ("SGD", dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov"),
    ("Adam", dict(betas=(1.0, 0.999)), "beta at index 0"),
    ("AdamW", dict(betas=(0.9, -0.1)), "beta at index 1"),
    ("Adam", dict(eps=-1e-8), "eps"),
    ("Adagrad", dict(lr=-1.0), "learning rate"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-0.1), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1.0), "eps"),
    ("Adadelta", dict(rho=1.5), "rho"),
    ("Adadelta", dict(rho=-0.1), "rho"),
    ("Adadelta", dict(weight_decay=-0.1), "weight_decay"),
    ("Adamax", dict(betas=(0.9, 1.0)), "beta at index 1"),
    ("Adamax", dict(eps=-1.0), "eps"),
    ("NAdam", dict(momentum_decay=-0.1), "momentum_decay"),
    ("NAdam", dict(betas=(-0.1, 0.9)), "beta at index 0"),
    ("RAdam", dict(lr=-0.01), "learning rate"),
    ("RAdam", dict(weight_decay=-0.01), "weight_decay"),
    ("RMSprop", dict(alpha=-0.1), "alpha"),
    ("Rprop", dict(etas=(1.2, 1.5)), "eta values"),
    ("Rprop", dict(etas=(0.5, 0.9)), "eta values"),
    ("Rprop", dict(lr=-0.1), "learning rate"),
    ("ASGD", dict(lr=-0.1), "learning rate"),
    ("ASGD", dict(weight_decay=-0.1), "weight_decay"),
]


@pytest.mark.parametrize("cls,kwargs,match", BAD, ids=[f"{c}-{'-'.join(k)}" for c, k, _ in BAD])
def test_bad_hyperparameters_raise_as_torch_does(cls, kwargs, match):
    with pytest.raises(ValueError):
        getattr(torch.optim, cls)([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    with pytest.raises(lumina.LuminaValueError, match=match):
        getattr(lumina.optim, cls)([lumina.tensor(np.zeros(2, np.float32), requires_grad=True)], **kwargs)


@pytest.mark.parametrize("cls", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_fused_and_foreach_together_raise_as_torch_does(cls):
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        getattr(torch.optim, cls)([torch.nn.Parameter(torch.zeros(2))], lr=0.1, fused=True, foreach=True)
    with pytest.raises(lumina.LuminaValueError, match="cannot be `True` together"):
        getattr(lumina.optim, cls)([lumina.tensor(np.zeros(2, np.float32), requires_grad=True)], lr=0.1,
                                   fused=True, foreach=True)


def test_bad_scheduler_arguments_raise_as_torch_does():
    cases = [
        lambda L, o: L.ConstantLR(o, factor=1.5),
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
        lambda L, o: L.OneCycleLR(o, max_lr=1.0),
        lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5),
        lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
        lambda L, o: L.OneCycleLR(o, max_lr=[1.0], total_steps=10),
        lambda L, o: L.ReduceLROnPlateau(o, factor=1.0),
        lambda L, o: L.ReduceLROnPlateau(o, mode="up"),
        lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="pct"),
        lambda L, o: L.MultiplicativeLR(o, [lambda e: 1.0]),
        lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, mode="sawtooth"),
        lambda L, o: L.CyclicLR(o, base_lr=[0.01] * 3, max_lr=0.1),
    ]
    for i, make in enumerate(cases):
        with pytest.raises(ValueError):
            make(torch.optim.lr_scheduler, _optimizer(torch, "momentum"))
        with pytest.raises(lumina.LuminaValueError):
            make(lsched, _optimizer(lumina, "momentum"))
    adagrad = lumina.optim.Adagrad([lumina.tensor(np.zeros(1, np.float32), requires_grad=True)])
    with pytest.raises(lumina.LuminaValueError, match="momentum or betas"):
        lsched.OneCycleLR(adagrad, max_lr=1.0, total_steps=10)
    with pytest.raises(lumina.LuminaValueError, match="momentum or betas"):
        lsched.CyclicLR(adagrad, base_lr=0.01, max_lr=1.0)


def test_differentiable_is_refused_and_capturable_changes_nothing():
    for cls in ("Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD"):
        with pytest.raises(lumina.LuminaValueError, match="differentiable"):
            getattr(lumina.optim, cls)([lumina.tensor(np.zeros(2, np.float32), requires_grad=True)],
                                       differentiable=True)
    # capturable (CUDA graphs) is accepted and ignored; torch refuses it on CPU at step()
    for cls in ("Adadelta", "Adamax", "NAdam", "RAdam", "Adam", "Rprop", "ASGD"):
        runs = []
        for capturable in (False, True):
            p = lumina.tensor(PARAMS[1].copy(), requires_grad=True)
            opt = getattr(lumina.optim, cls)([p], capturable=capturable)
            for gs in GRADS[:3]:
                p.grad = lumina.tensor(gs[1])
                opt.step()
            runs.append(p.numpy())
        np.testing.assert_array_equal(runs[0], runs[1])
        assert opt.param_groups[0]["capturable"] is True


# ---- named parameters, and torch checkpoints of parameters not yet updated ------------------------

def test_named_parameters_are_kept_as_torch_keeps_them():
    tparams = [torch.nn.Parameter(torch.tensor(p)) for p in PARAMS]
    lparams = [lumina.tensor(p.copy(), requires_grad=True) for p in PARAMS]
    topt = torch.optim.NAdam([("w", tparams[0]), ("b", tparams[1])], lr=0.01)
    lopt = lumina.optim.NAdam([("w", lparams[0]), ("b", lparams[1])], lr=0.01)
    _torch_steps(topt, tparams, GRADS[:2])
    step = _lumina_stepper(lopt, lparams, compiled=False)
    for gs in GRADS[:2]:
        step(*gs)
    assert lopt.param_groups[0]["param_names"] == ["w", "b"] == topt.param_groups[0]["param_names"]
    assert lopt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    for lp, tp in zip(lparams, tparams):
        _assert_close(lp.numpy(), tp.detach().numpy(), "named NAdam")
    w = lumina.tensor(np.zeros(2, np.float32), requires_grad=True)
    v = lumina.tensor(np.zeros(2, np.float32), requires_grad=True)
    with pytest.raises(lumina.LuminaValueError, match="named or none"):
        lumina.optim.SGD([("w", w), v], lr=0.1)
    with pytest.raises(lumina.LuminaValueError, match="named or none"):
        lumina.optim.SGD([{"params": [("w", w)]}, {"params": [v]}], lr=0.1)
    tw = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(lumina.LuminaTypeError, match="set"):
        lumina.optim.SGD([v], lr=0.1).add_param_group({"params": {w}})
    with pytest.raises(TypeError):
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1).add_param_group({"params": {tw}})
    with pytest.raises(lumina.LuminaTypeError, match="iterable of tensors"):
        lumina.optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError):
        torch.optim.SGD(tw, lr=0.1)


@pytest.mark.parametrize("name", ["nadam_l2", "adagrad_options", "adamax_options", "rprop_options",
                                  "asgd_averaging"])
def test_torch_checkpoint_without_state_for_a_parameter(name):
    """torch keeps no state for a parameter never updated (Adagrad: it does, from the start); lumina
    starts such a parameter's slots at their initial values (NAdam's mu_product at 1)."""
    def grads(k):
        return [GRADS[k][0], GRADS[k][1] if k >= 2 else None]

    tparams = [torch.nn.Parameter(torch.tensor(p)) for p in PARAMS]
    topt = _torch_opt(name, tparams)
    saved = None
    for k in range(N_STEPS):
        if k == 2:
            saved = _converted(topt.state_dict(), lambda t: t.numpy().copy())
            weights = [p.detach().numpy().copy() for p in tparams]
        for p, g in zip(tparams, grads(k)):
            p.grad = None if g is None else torch.tensor(g)
        topt.step()
    lparams = [lumina.tensor(w, requires_grad=True) for w in weights]
    lopt = _lumina_opt(name, lparams)
    step = _lumina_stepper(lopt, lparams, compiled=False)
    for gs in GRADS[:1]:              # state that the checkpoint must replace
        step(*gs)
    with lumina.no_grad():
        for p, w in zip(lparams, weights):
            p.assign(lumina.tensor(w))
    lopt.load_state_dict(saved)
    for k in range(2, N_STEPS):
        step(*grads(k))
    for i, (lp, tp) in enumerate(zip(lparams, tparams)):
        _assert_close(lp.numpy(), tp.detach().numpy(), f"{name}: parameter {i}")


@pytest.mark.parametrize("name", ["adagrad_options", "adadelta_options", "adamax_options", "nadam_l2",
                                  "radam_decoupled_maximize", "rprop_options", "asgd_averaging"])
def test_float64_parameters_match_torch_to_float64_precision(name):
    """The scalar factors are computed in float64 and cast to the parameter dtype, as torch's Python
    floats: float64 parameters agree to float64 precision (state counters stay float32, as torch's)."""
    params64 = [p.astype(np.float64) for p in PARAMS]
    tparams = [torch.nn.Parameter(torch.tensor(p)) for p in params64]
    topt = _torch_opt(name, tparams)
    for gs in GRADS[:N_STEPS]:
        for p, g in zip(tparams, gs):
            p.grad = torch.tensor(g.astype(np.float64))
        topt.step()
    lparams = [lumina.tensor(p.copy(), requires_grad=True) for p in params64]
    lopt = _lumina_opt(name, lparams)
    step = _lumina_stepper(lopt, lparams, compiled=True)
    for gs in GRADS[:N_STEPS]:
        step(*(g.astype(np.float64) for g in gs))
    for i, (lp, tp) in enumerate(zip(lparams, tparams)):
        assert lp.numpy().dtype == np.float64
        np.testing.assert_allclose(lp.numpy(), tp.detach().numpy(), rtol=1e-13, atol=1e-15,
                                   err_msg=f"{name}: parameter {i}")
    assert lopt.state_dict()["state"][0]["step"].dtype == topt.state_dict()["state"][0]["step"].numpy().dtype


@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")   # torch's note on the step order
def test_compiled_step_follows_one_cycle_and_cyclic_lr_without_retracing():
    """The learning rate is read at each call of a compiled step; the momentum is a constant of the
    traced step, so cycling it there warns (it is not silently ignored)."""
    for make in (lambda L, o: L.OneCycleLR(o, max_lr=0.2, total_steps=2 * N_STEPS, cycle_momentum=False),
                 lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=3, cycle_momentum=False)):
        tparams = [torch.nn.Parameter(torch.tensor(p)) for p in PARAMS]
        topt = torch.optim.SGD(tparams, lr=0.1, momentum=0.9, nesterov=True)
        tsched = make(torch.optim.lr_scheduler, topt)
        lparams = [lumina.tensor(p.copy(), requires_grad=True) for p in PARAMS]
        lopt = lumina.optim.SGD(lparams, lr=0.1, momentum=0.9, nesterov=True)
        lsch = make(lsched, lopt)
        traces = []
        step = _lumina_stepper(lopt, lparams, compiled=True, traces=traces)
        for gs in GRADS[:2 * N_STEPS]:
            _torch_steps(topt, tparams, [gs])
            tsched.step()
            step(*gs)
            lsch.step()
        assert len(traces) == 1
        for lp, tp in zip(lparams, tparams):
            _assert_close(lp.numpy(), tp.detach().numpy(), type(lsch).__name__)

    lparams = [lumina.tensor(p.copy(), requires_grad=True) for p in PARAMS]
    lopt = lumina.optim.SGD(lparams, lr=0.1, momentum=0.9)
    cycling = lsched.OneCycleLR(lopt, max_lr=0.2, total_steps=10)
    step = _lumina_stepper(lopt, lparams, compiled=True)
    step(*GRADS[0])
    with pytest.warns(UserWarning, match="momentum.*compiled"):
        cycling.step()


# ---- L-BFGS -------------------------------------------------------------------------------------

X_ROSEN = (np.random.default_rng(3).standard_normal(8) * 0.5 - 1.0).astype(np.float32)
LBFGS_OPTIONS = {
    "fixed_step": dict(lr=0.5, max_iter=5),
    "short_history": dict(lr=0.1, max_iter=5, history_size=3),
    "strong_wolfe": dict(line_search_fn="strong_wolfe", max_iter=5),
    "strong_wolfe_short_history": dict(line_search_fn="strong_wolfe", history_size=2, max_iter=6),
}


def _lbfgs_run(lib, options, steps, load=None):
    """``steps`` L-BFGS steps on the 8-d Rosenbrock function (far from converged, so every stopping
    test is decided by clear margins); ``load``: a state dict to load first (with its start point)."""
    start = X_ROSEN if load is None else load[1]
    x = torch.nn.Parameter(torch.tensor(start)) if lib is torch else lumina.tensor(start.copy(), requires_grad=True)
    opt = lib.optim.LBFGS([x], **options)
    if load is not None:
        opt.load_state_dict(load[0])

    def closure():
        opt.zero_grad()
        loss = (100.0 * (x[1:] - x[:-1] * x[:-1]) ** 2 + (1.0 - x[:-1]) ** 2).sum()
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(steps)]
    value = x.detach().numpy() if lib is torch else x.numpy()
    return np.array(losses), np.array(value), opt


def _torch_state_as_numpy(value):
    if isinstance(value, dict):
        return {k: _torch_state_as_numpy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_torch_state_as_numpy(v) for v in value]
    return value.numpy().copy() if isinstance(value, torch.Tensor) else value


@pytest.mark.parametrize("name", sorted(LBFGS_OPTIONS))
@pytest.mark.filterwarnings("ignore::UserWarning")      # torch: float() of a loss that requires grad
def test_lbfgs_matches_torch(name):
    got_losses, got, opt = _lbfgs_run(lumina, LBFGS_OPTIONS[name], 4)
    want_losses, want, topt = _lbfgs_run(torch, LBFGS_OPTIONS[name], 4)
    # float32 dot products summed in another order: ~1e-7 per iteration, compounded over ~20
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    mine, theirs = opt.state[opt.param_groups[0]["params"][0]], next(iter(topt.state.values()))
    assert (mine["func_evals"], mine["n_iter"]) == (theirs["func_evals"], theirs["n_iter"])
    assert len(mine["old_dirs"]) == len(theirs["old_dirs"])


@pytest.mark.parametrize("name", ["fixed_step", "strong_wolfe"])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lbfgs_state_dicts_resume_from_lumina_and_from_torch(name):
    options = LBFGS_OPTIONS[name]
    want_losses, want, _ = _lbfgs_run(torch, options, 4)
    for lib in (lumina, torch):
        _, half, opt = _lbfgs_run(lib, options, 2)
        saved = opt.state_dict() if lib is lumina else _torch_state_as_numpy(opt.state_dict())
        assert sorted(saved["state"]) == [0] and saved["param_groups"][0]["params"] == [0]
        losses, got, _ = _lbfgs_run(lumina, options, 2, load=(saved, half))
        np.testing.assert_allclose(losses, want_losses[2:], rtol=1e-5, err_msg=lib.__name__)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=lib.__name__)


def test_lbfgs_errors():
    x = lumina.tensor(X_ROSEN.copy(), requires_grad=True)
    y = lumina.tensor(X_ROSEN.copy(), requires_grad=True)
    with pytest.raises(lumina.LuminaValueError, match="learning rate"):
        lumina.optim.LBFGS([x], lr=-1.0)
    with pytest.raises(ValueError):
        torch.optim.LBFGS([torch.nn.Parameter(torch.zeros(2))], lr=-1.0)
    with pytest.raises(lumina.LuminaValueError, match="parameter groups"):
        lumina.optim.LBFGS([{"params": [x]}, {"params": [y]}])
    opt = lumina.optim.LBFGS([x])
    with pytest.raises(lumina.LuminaValueError, match="parameter groups"):
        opt.add_param_group({"params": [y]})
    with pytest.raises(lumina.LuminaValueError, match="closure"):
        opt.step()
    with pytest.raises(lumina.LuminaValueError, match="strong_wolfe"):
        lumina.optim.LBFGS([x], line_search_fn="armijo").step(lambda: (x * x).sum())

    @lumina.compile
    def compiled_step(v):
        return opt.step(lambda: (x * v).sum())

    with pytest.raises(lumina.LuminaValueError, match="eagerly"):
        compiled_step(np.ones(8, np.float32))


# ---- hooks ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ["SGD", "NAdam", "LBFGS"])
def test_optimizer_hooks_run_as_torchs(cls):
    """The same hooks on a torch and a lumina optimizer log the same calls in the same order (step
    pre / post with the arguments, a pre-hook's replacement arguments, state-dict hooks with
    ``prepend``, replacements returned by post / load-pre hooks, removal through the handle)."""
    logs = {}
    for lib in (torch, lumina):
        log = logs[lib] = []
        if lib is torch:
            x = torch.nn.Parameter(torch.tensor(PARAMS[1]))
        else:
            x = lumina.tensor(PARAMS[1].copy(), requires_grad=True)
        opt = getattr(lib.optim, cls)([x], lr=0.01)

        def closure():
            opt.zero_grad()
            loss = (x * x).sum()
            loss.backward()
            return loss

        def pre(o, args, kwargs):
            log.append(("pre", o is opt, len(args), sorted(kwargs)))
            return (o,), {"closure": closure}      # replaces the arguments (args[0] is the optimizer)

        def post(o, args, kwargs):
            log.append(("post", len(args), sorted(kwargs)))

        handles = [opt.register_step_pre_hook(pre), opt.register_step_post_hook(post)]
        opt.register_state_dict_pre_hook(lambda o: log.append("sd-pre-1"))
        opt.register_state_dict_pre_hook(lambda o: log.append("sd-pre-0"), prepend=True)
        opt.register_state_dict_post_hook(lambda o, sd: {**sd, "note": "kept"})
        opt.register_load_state_dict_pre_hook(lambda o, sd: log.append(("load-pre", sd.get("note"))))
        opt.register_load_state_dict_post_hook(lambda o: log.append("load-post"))
        opt.step()                                 # the pre-hook supplies the closure
        saved = opt.state_dict()
        log.append(saved["note"])
        opt.load_state_dict(saved)
        for h in handles:
            h.remove()
        opt.step(closure)                          # no step hooks any more
        log.append("end")
    assert logs[lumina] == logs[torch]


@pytest.mark.filterwarnings("ignore::UserWarning")     # torch deprecates step(epoch)
def test_scheduler_epoch_argument_matches_torch():
    """``step(epoch)`` jumps with the closed form where torch has one (ConstantLR, PolynomialLR) and
    applies ``get_lr`` at the new epoch where it has none (MultiplicativeLR)."""
    for name in ("ConstantLR", "PolynomialLR", "MultiplicativeLR"):
        out = {}
        for lib in (torch, lumina):
            opt = _optimizer(lib, "momentum")
            sched = SCHEDULERS[name](lib.optim.lr_scheduler, opt)
            out[lib] = []
            for epoch in (3, 11, 4, 26, 7):
                sched.step(epoch)
                out[lib].append(sched.get_last_lr())
        assert out[lumina] == out[torch], name
