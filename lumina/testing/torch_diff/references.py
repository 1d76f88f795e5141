"""Further references where torch's own result is no oracle: torch in float64 on the same inputs,
torch on inputs rescaled by a power of two (ops homogeneous in their input), the exact function in
mpmath; and the magnitudes that bound the rounding error of a sum."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import torch

from .cases import Arr, Case
from .run import Run, torch_run
from .spec import OpSpec
from .tensors import tensor_leaves, torch_numpy


def _map_floats(case: Case, fn, first_only: bool = False) -> Case | None:
    """``case`` with ``fn`` applied to its float arrays (only the first argument's with
    ``first_only``); None when there is none to change."""
    changed = [False]

    def go(a, top: bool):
        if isinstance(a, Arr) and (a.value.dtype.kind == "f" or a.value.dtype == ml_dtypes.bfloat16):
            if first_only and not top:
                return a
            new = fn(a.value)
            if new is None:
                return a
            changed[0] = True
            return Arr(new, a.grad)
        if isinstance(a, list):
            return [go(x, False) for x in a]
        if isinstance(a, tuple) and any(isinstance(x, Arr) for x in a):
            return tuple(go(x, False) for x in a)
        return a
    args = tuple(go(a, i == 0) for i, a in enumerate(case.args))
    kwargs = {k: go(v, False) for k, v in case.kwargs.items()}
    return Case(args, kwargs, case.dtype) if changed[0] else None


def _module_copy(tmod, fn):
    import copy
    m = copy.deepcopy(tmod)
    with torch.no_grad():
        fn(m)
    return m


def alternatives(spec: OpSpec, run: Run) -> list[tuple[list, list]]:
    """Further references for a case whose values differ from torch's, each as (outputs, input
    gradients) in float64:

    - torch in float64 on the same (16- or 32-bit) inputs: a lumina value that equals it rounded
      to the dtype is correctly rounded, more accurate than torch's own (torch's float32
      ``gelu(inf)`` is NaN, its float32 gradient of ``var`` overflows where float64's does not);
    - for an op homogeneous of degree ``d`` in its first argument (``OpSpec.homogeneous``), torch
      on that argument scaled by a power of two, ``f(x) = 2^(k d) f(x / 2^k)`` exactly, where
      ``x`` is so large that torch's own float64 statistics overflow (``std([1e308, 1])``).
    """
    out = []
    refs = []
    up = _map_floats(run.case, lambda v: v.astype(np.float64) if v.dtype != np.float64 else None)
    tmod64 = _module_copy(run.tmod, lambda m: m.double()) if run.tmod is not None else None
    if up is not None:
        refs.append((up, tmod64, 0, 0))
    if spec.homogeneous is not None and run.case.args and isinstance(run.case.args[0], Arr):
        x = run.case.args[0].value.astype(np.float64)
        finite = np.abs(x[np.isfinite(x)])
        if finite.size and finite.max() > 2.0 ** 64:
            k = int(math.floor(math.log2(finite.max()))) - 20
            scaled = _map_floats(run.case, lambda v: np.ldexp(v.astype(np.float64), -k), first_only=True)
            if scaled is not None:
                refs.append((scaled, tmod64, k, spec.homogeneous))
    if spec.exact_math is not None:
        out.append(_exact_math(spec, run))
    for case, tmod, k, degree in refs:
        ref = torch_run(spec, case, tmod, cots=run.cots)
        if isinstance(ref.tout, Exception):
            continue
        if spec.amend is not None:
            ref.tout = spec.amend[1](case, ref.tout)
        outs: list = []
        tensor_leaves(ref.tout, outs)
        with np.errstate(all="ignore"):
            values = [np.ldexp(torch_numpy(t).astype(np.float64), k * degree) if t.is_floating_point()
                      else torch_numpy(t) for t in outs]
            grads = [None if g is None else np.ldexp(torch_numpy(g), k * (degree - (1 if j == 0 else 0)))
                     for j, g in enumerate(ref.tgrads or ())]
        out.append((values, grads))
    return out


def _exact_math(spec: OpSpec, run: Run) -> tuple[list, list]:
    """``spec.exact_math`` on the case's one tensor, elementwise in mpmath at 40 digits: the value
    and, times the cotangent, the gradient (NaN where the function is not real)."""
    import mpmath
    f, df = spec.exact_math
    x = run.case.args[0].value.astype(np.float64)
    kw = run.case.kwargs

    def real(fn, v):
        try:
            r = fn(mpmath.mpf(v), **kw)
            return float(r) if not isinstance(r, mpmath.mpc) else math.nan
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return math.nan
    with mpmath.workdps(40):
        values = np.vectorize(lambda v: real(f, v), otypes=[np.float64])(x) if x.size else x
        slopes = np.vectorize(lambda v: real(df, v), otypes=[np.float64])(x) if x.size else x
    grads = [slopes * run.cots[0]] if run.cots and run.cots[0].shape == x.shape else []
    return [values], grads


def magnitudes_of(spec: OpSpec, run: Run) -> tuple[list, list] | None:
    """The op, and its gradient with ``|cotangent|``, on ``|inputs|`` in float64 (a layer's
    parameters too): the magnitudes that the rounding error of a sum scales with, the sums being
    of products of the same factors, all positive. None where torch cannot compute them."""
    case = _map_floats(run.case, lambda v: np.abs(v.astype(np.float64))) or run.case
    tmod = None
    if run.tmod is not None:
        tmod = _module_copy(run.tmod, lambda m: [p.abs_() for p in m.double().parameters()])
    ref = torch_run(spec, case, tmod, cots=[np.abs(c) for c in run.cots] if run.cots else None)
    if isinstance(ref.tout, Exception):
        return None
    outs: list = []
    tensor_leaves(ref.tout, outs)
    return [torch_numpy(t) for t in outs], [None if g is None else torch_numpy(g) for g in (ref.tgrads or ())]
