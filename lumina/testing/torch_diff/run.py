"""Running a case in both libraries: the arguments converted to each library's, torch's result
and autograd gradients (the exception it raises is the oracle saying "raise"), and the realisation
of a whole batch of lumina results as one graph, failures pinned to their cases."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
import torch

import lumina

from .cases import Arr, Case, Dt
from .spec import OpSpec
from .tensors import tensor_leaves


def _to_lib(L, a):
    """Case argument -> an argument of library ``L`` (tensors are fresh leaves)."""
    if isinstance(a, Arr):
        if L is lumina:
            return lumina.tensor(a.value, requires_grad=a.grad)
        v = a.value
        t = torch.tensor(v.astype(np.float32)).to(torch.bfloat16) if v.dtype == ml_dtypes.bfloat16 \
            else torch.tensor(v)
        return t.requires_grad_(a.grad and not a.fd)
    if isinstance(a, Dt):
        return getattr(L, a.name)
    if isinstance(a, list):
        return [_to_lib(L, x) for x in a]
    if isinstance(a, tuple) and any(isinstance(x, Arr) for x in a):
        return tuple(_to_lib(L, x) for x in a)
    return a


def call_in(spec: OpSpec, L, case: Case, module=None):
    """Calls the spec in library ``L`` on ``case`` (with the layer ``module`` for an ``nn`` row);
    returns (the arguments passed, the keyword arguments, the result)."""
    args = [_to_lib(L, a) for a in case.args]
    kwargs = {k: _to_lib(L, v) for k, v in case.kwargs.items()}
    if module is not None:
        return args, kwargs, spec.call(L, module, *args, **kwargs)
    return args, kwargs, spec.call(L, *args, **kwargs)


def grad_leaves(args, kwargs) -> list:
    """The leaf tensors among a call's arguments that require grad: whose gradients are compared."""
    out: list = []
    tensor_leaves(list(args) + list(kwargs.values()), out)
    return [t for t in out if t.requires_grad and t.is_leaf]


def cotangent(t: torch.Tensor, seed: int) -> np.ndarray:
    """A float64 cotangent of ``t``'s shape, from ``seed``: values of several magnitudes and both
    signs, each exact in every dtype (so both libraries weigh the output identically)."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([1.0, -0.5, 2.0, 0.25, -3.0]), size=tuple(t.shape))


def make_modules(spec: OpSpec):
    """(torch's layer, lumina's) for an ``nn`` row: torch's built from seed 0, its state loaded
    into lumina's (the entries lumina's layer has)."""
    torch.manual_seed(0)
    tm = spec.module(torch)
    lm = spec.module(lumina)
    state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    mine = dict(lm.state_dict())
    lm.load_state_dict({k: v for k, v in state.items() if k in mine}, strict=False)
    return tm, lm


@dataclass
class Run:
    """One case in flight: torch's result (or the exception it raised), its gradients (inputs,
    then a layer's parameters), lumina's result, the lumina leaves whose ``.grad`` is compared,
    and the cotangents of the float outputs."""
    case: Case
    tout: Any
    lout: Any = None
    tgrads: tuple | None = None
    lleaves: list = field(default_factory=list)
    cots: list = field(default_factory=list)
    tparam_grads: tuple = ()
    tmod: Any = None
    fd_leaves: list = field(default_factory=list)

    def pending(self) -> list:
        ts: list = []
        tensor_leaves(self.lout, ts)
        ts = [t for t in ts if isinstance(t, lumina.Tensor)]
        if self.tgrads is not None:
            ts += [t.grad for t in self.lleaves if t.grad is not None]
        ts += [t.grad for t, _ in self.fd_leaves if t.grad is not None]
        return ts


def torch_run(spec: OpSpec, case: Case, tmod, seed: int = 0, cots: list | None = None) -> Run:
    """Torch's result and gradients for ``case`` (a ``Run`` whose ``tout`` is the exception when
    torch raises). ``cots``: the cotangents to use (else drawn from ``seed``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            targs, tkw, tout = call_in(spec, torch, case, tmod)
        except Exception as e:  # noqa: BLE001 (any torch error is the oracle saying "raise")
            return Run(case, e)
    run = Run(case, tout, tmod=tmod)
    inputs = grad_leaves(targs, tkw)
    tleaves = inputs + ([p for _, p in tmod.named_parameters()] if tmod is not None else [])
    touts: list = []
    tensor_leaves(tout, touts)
    touts = [t for t in touts if t.requires_grad and t.is_floating_point()]
    if spec.grad and tleaves and touts:
        run.cots = cots if cots is not None else [cotangent(t, seed + i) for i, t in enumerate(touts)]
        if len(run.cots) != len(touts) or any(c.shape != tuple(t.shape) for c, t in zip(run.cots, touts)):
            return run
        loss = sum((t * torch.tensor(c, dtype=t.dtype)).sum() for t, c in zip(touts, run.cots))
        try:
            grads = torch.autograd.grad(loss, tleaves, allow_unused=True)
            run.tgrads, run.tparam_grads = grads[:len(inputs)], grads[len(inputs):]
        except RuntimeError:
            run.tgrads = None
    return run


def realize_all(runs: list[Run]) -> dict[int, Exception]:
    """Realises every run's lumina tensors, all in one graph; a failing batch is split in halves
    until each failure is pinned to its run. Returns run index -> the exception."""
    failed: dict[int, Exception] = {}

    def go(idx: list[int]) -> None:
        try:
            lumina.realize(*[t for i in idx for t in runs[i].pending()])
        except Exception as e:  # noqa: BLE001
            if len(idx) == 1:
                failed[idx[0]] = e
                return
            go(idx[:len(idx) // 2])
            go(idx[len(idx) // 2:])
    if runs:
        go(list(range(len(runs))))
    return failed
