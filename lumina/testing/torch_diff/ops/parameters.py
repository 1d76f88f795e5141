"""Rows of the functions on parameters: ``nn.init`` (deterministic initialisers by value, random
ones by the bound of torch's formula, ``calculate_gain``) and ``nn.utils`` gradient clipping."""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st

import lumina

from ..cases import Arr, Case, np_dtype
from ..spec import OpSpec
from ..strategies import array, shapes
from ..tensors import lumina_numpy, torch_numpy


@st.composite
def _init_cases(draw, dtype, op):
    shape = draw(st.sampled_from([(3, 4), (2, 3, 2, 2), (5,)] if op in ("uniform_", "normal_", "constant_", "zeros_",
                                                                       "ones_") else [(3, 4), (2, 3, 2, 2)]))
    x = Arr(np.zeros(shape, np_dtype(dtype)))
    if op == "constant_":
        return Case((x, draw(st.sampled_from([0.5, -2.0, math.nan]))), dtype=dtype)
    if op == "uniform_":
        return Case((x, -0.5, 2.0), dtype=dtype)
    if op == "trunc_normal_":
        return Case((x,), {"mean": 0.25, "std": draw(st.sampled_from([0.5, 2.0])), "a": -1.0, "b": 1.5}, dtype=dtype)
    if op in ("xavier_uniform_", "xavier_normal_"):
        return Case((x,), {"gain": draw(st.sampled_from([1.0, 2.0]))}, dtype=dtype)
    if op in ("kaiming_uniform_", "kaiming_normal_"):
        return Case((x,), {"a": draw(st.sampled_from([0.0, 1.0])), "mode": draw(st.sampled_from(["fan_in", "fan_out"]))},
                    dtype=dtype)
    return Case((x,), dtype=dtype)


def _init_bound(op):
    """Random initialisers: values within the bound torch's formula gives (uniform), or a sample
    standard deviation near it (normal, loose: a few hundred samples)."""
    def extra(case, lout, tout):
        if not isinstance(lout, lumina.Tensor):
            return []
        v = lumina_numpy(lout)
        t = torch_numpy(tout)
        if op == "trunc_normal_":
            lo, hi = case.kwargs["a"], case.kwargs["b"]
            return [] if ((v >= lo) & (v <= hi)).all() else [f"{op}: values outside [{lo}, {hi}]"]
        if op.endswith("uniform_"):
            bound = max(np.abs(t).max(), 1e-9)
            lo, hi = (case.args[1], case.args[2]) if op == "uniform_" else (None, None)
            if lo is not None:
                return [] if ((v >= lo) & (v <= hi)).all() else [f"{op}: values outside [{lo}, {hi}]"]
            fan = _fans(case.args[0].value.shape)
            return [] if np.abs(v).max() <= _uniform_bound(op, fan, case.kwargs) * (1 + 1e-6) else \
                [f"{op}: |value| up to {np.abs(v).max()}, bound {_uniform_bound(op, fan, case.kwargs)} ({bound})"]
        return []
    return extra


def _fans(shape):
    rf = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


def _uniform_bound(op, fans, kw):
    fan_in, fan_out = fans
    if op == "xavier_uniform_":
        return kw.get("gain", 1.0) * math.sqrt(6.0 / (fan_in + fan_out))
    a = kw.get("a", 0.0)
    fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
    return math.sqrt(2.0 / (1 + a * a)) * math.sqrt(3.0 / fan)


@st.composite
def _clip_cases(draw, dtype, op):
    n = draw(st.integers(1, 3))
    params = []
    for _ in range(n):
        shape = draw(shapes(1, 2, min_side=1))
        grad = draw(array(dtype, shape, special=draw(st.integers(0, 3)) == 0))
        params.append((draw(array(dtype, shape, special=False)), grad))
    if op == "clip_grad_norm_":
        kw = {"norm_type": draw(st.sampled_from([2.0, 1.0, math.inf]))} if draw(st.booleans()) else {}
        return Case((params, draw(st.sampled_from([0.5, 1.0, 100.0]))), kw, dtype=dtype)
    return Case((params, draw(st.sampled_from([0.1, 1.0]))), dtype=dtype)


def _clip_call(op):
    def call(L, params, limit, **kw):
        ps = []
        for value, grad in params:
            p = L.nn.Parameter(L.tensor(value) if L is lumina else torch.tensor(value))
            p.grad = L.tensor(grad) if L is lumina else torch.tensor(grad)
            ps.append(p)
        r = getattr(L.nn.utils, op)(ps, limit, **kw)
        return r, [p.grad for p in ps]
    return call


def specs() -> list[OpSpec]:
    """The ``nn.init`` and ``nn.utils`` rows."""
    rows: list[OpSpec] = []
    for op in ("zeros_", "ones_", "constant_"):
        rows += [OpSpec(f"nn.init.{op}", (lambda o: lambda L, x, *a: getattr(L.nn.init, o)(x, *a))(op),
                        (lambda o: lambda d: _init_cases(d, o))(op), exact=True, grad=False)]
    for op in ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
               "kaiming_normal_"):
        rows += [OpSpec(f"nn.init.{op}", (lambda o: lambda L, x, *a, **k: getattr(L.nn.init, o)(x, *a, **k))(op),
                        (lambda o: lambda d: _init_cases(d, o))(op), values=False, grad=False,
                        check_extra=_init_bound(op), checks="dtype, shape, the bound of torch's formula")]
    rows += [OpSpec("nn.init.calculate_gain", lambda L, n, *p: L.nn.init.calculate_gain(n, *p), lambda d: st.builds(
        lambda n, p: Case((n,) + p, dtype=d), st.sampled_from(["linear", "relu", "tanh", "sigmoid", "leaky_relu", "selu",
                                                                "conv2d", "bogus"]),
        st.sampled_from([(), (0.2,)])), dtypes=("float32",), grad=False)]
    for op in ("clip_grad_norm_", "clip_grad_value_"):
        rows += [OpSpec(f"nn.utils.{op}", _clip_call(op), (lambda o: lambda d: _clip_cases(d, o))(op),
                        ulps=16, accumulates=True, grad=False, checks="the returned norm and the clipped gradients")]
    return rows
