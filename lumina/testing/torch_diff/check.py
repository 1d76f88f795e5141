"""``check(spec, cases)``: runs a batch of cases through one row in both libraries (every lumina
output and gradient of the batch in one graph) and returns each ``Discrepancy``: wrong values,
NaN/inf/signed-zero positions, dtypes, shapes, return types, gradients (against autograd, a
layer's parameters too, or finite differences where torch cannot differentiate), and errors (where
torch raises, lumina must raise a ``LuminaError``; lumina raising where torch returns is reported
too)."""
from __future__ import annotations

import math

import numpy as np
import torch

import lumina
from ...errors import LuminaError

from .cases import Arr, Case, arrays_in, np_dtype
from .compare import GRAD_ULPS, Comparer
from .discrepancy import Discrepancy
from .references import alternatives, magnitudes_of
from .run import Run, call_in, cotangent, grad_leaves, make_modules, realize_all, torch_run
from .spec import OpSpec
from .tensors import lumina_numpy, tensor_leaves, torch_dtype_name, torch_numpy


def check(spec: OpSpec, cases: list[Case]) -> list[Discrepancy]:
    """Runs ``cases`` through ``spec`` in both libraries and returns every discrepancy.

    All lumina outputs and gradients of the batch are realised together (one compiled graph); a
    batch that fails to realise is split until each failure is pinned to its case.
    """
    problems: list[Discrepancy] = []
    cases = [c for c in cases if not any(applies(c) for _, applies in spec.skip)]
    tmod = lmod = None
    if spec.module is not None:
        tmod, lmod = make_modules(spec)
    runs: list[Run] = []
    for k, case in enumerate(cases):
        run = torch_run(spec, case, tmod, 7 * k)
        if spec.amend is not None and not isinstance(run.tout, Exception):
            run.tout = spec.amend[1](case, run.tout)
        cmp = Comparer(spec, case, problems)
        try:
            largs, lkw, run.lout = call_in(spec, lumina, case, lmod)
        except LuminaError as e:
            if not isinstance(run.tout, Exception):
                cmp.report("raises", f"lumina raised {type(e).__name__}: {str(e)[:200]}; torch returns "
                           f"{_summary(run.tout)}", error=e)
            continue
        except Exception as e:  # noqa: BLE001
            cmp.report("raw-exception", f"lumina raised {type(e).__name__}: {str(e)[:200]}"
                       + (f" (torch raises {type(run.tout).__name__})" if isinstance(run.tout, Exception) else ""))
            continue
        leaves = grad_leaves(largs, lkw)
        marked = [a for a in arrays_in(case) if a.grad]
        if len(leaves) == len(marked):
            run.fd_leaves = [(t, a) for t, a in zip(leaves, marked) if a.fd]
            leaves = [t for t, a in zip(leaves, marked) if not a.fd]
        if run.tgrads is not None:
            run.lleaves = leaves
        if run.fd_leaves and not run.cots and not isinstance(run.tout, Exception):
            touts: list = []
            tensor_leaves(run.tout, touts)
            run.cots = [cotangent(t, 7 * k + i) for i, t in enumerate(t for t in touts if t.is_floating_point())]
        runs.append(run)

    # lumina's backward: one loss over every case's float outputs (the gradient of a sum reaches
    # each case's leaves unchanged, so cases cannot disturb each other)
    total = None
    for run in runs:
        if run.tgrads is None and not run.fd_leaves:
            continue
        term = _loss(run.lout, run.tout, run.cots, any_float=run.tgrads is None)
        if term is not None:
            total = term if total is None else total + term
    if total is not None:
        try:
            total.backward()
        except Exception as e:  # noqa: BLE001
            kind = "grad" if isinstance(e, LuminaError) else "raw-exception"
            problems.append(Discrepancy(spec.name, kind, "(batch)", f"lumina backward raised {type(e).__name__}: "
                                        f"{str(e)[:200]}"))
            for run in runs:
                run.tgrads = None

    failed = realize_all(runs)
    for i, run in enumerate(runs):
        cmp = Comparer(spec, run.case, problems)
        if i in failed:
            e = failed[i]
            if not isinstance(e, LuminaError):
                cmp.report("raw-exception", f"lumina raised {type(e).__name__} when realised: {str(e)[:200]}")
            elif not isinstance(run.tout, Exception):
                cmp.report("raises", f"lumina raised {type(e).__name__} when realised: {str(e)[:200]}; "
                           f"torch returns {_summary(run.tout)}", error=e)
            continue
        if isinstance(run.tout, Exception):
            cmp.report("returns", f"torch raises {type(run.tout).__name__}: "
                       f"{str(run.tout).strip().splitlines()[0][:160]}; lumina returns {_summary(run.lout)}")
            continue
        found: list[Discrepancy] = []
        _compare_run(spec, run, Comparer(spec, run.case, found))
        if found and all(d.kind.endswith(("value", "nan", "inf", "signed-zero")) for d in found):
            alts = alternatives(spec, run)
            if alts:
                found = []
                _compare_run(spec, run, Comparer(spec, run.case, found), alts)
        problems += found
    if lmod is not None and total is not None and not failed:   # a failed case's terms are in every gradient
        _compare_parameters(spec, tmod, lmod, runs, problems)
    fd_runs = [r for i, r in enumerate(runs) if i not in failed and r.fd_leaves and r.case.dtype == "float64"
               and not isinstance(r.tout, Exception)]
    if fd_runs:
        _finite_differences(spec, fd_runs, lmod, problems)
    return problems


def _loss(lout, tout, cots: list, any_float: bool = False):
    """``sum(output * cotangent)`` over lumina's float outputs that torch differentiates (every
    float output with ``any_float``), in float64; None when there is none."""
    louts: list = []
    tensor_leaves(lout, louts)
    touts: list = []
    tensor_leaves(tout, touts)
    pairs = [lo for lo, to in zip(louts, touts) if to.is_floating_point() and (any_float or to.requires_grad)]
    total = None
    for lo, c in zip(pairs, cots):
        if isinstance(lo, lumina.Tensor) and lo.requires_grad and tuple(lo.shape) == c.shape:
            term = (lo * lumina.tensor(c.astype(np_dtype(lo.dtype.name)))).sum().to(lumina.float64)
            total = term if total is None else total + term
    return total


def _finite_differences(spec: OpSpec, runs: list[Run], lmod, problems: list) -> None:
    """For the arguments marked ``Arr(fd=True)``: lumina's gradient along a random direction ``v``
    against ``(f(x + h v) - f(x - h v)) / 2h`` of lumina's own forward, ``f = sum(output *
    cotangent)``, all cases in one graph (float64 cases with finite inputs)."""
    rng = np.random.default_rng(0)
    pending = []
    for run in runs:
        if not all(np.isfinite(a.value).all() for a in arrays_in(run.case) if a.value.dtype.kind == "f"):
            continue
        dirs = {id(a): rng.standard_normal(a.value.shape) for _, a in run.fd_leaves}
        h = 1e-6 * max([1.0] + [float(np.abs(a.value).max(initial=0.0)) for _, a in run.fd_leaves])

        def moved(sign):
            def go(a):
                if isinstance(a, Arr):
                    return Arr(a.value + sign * h * dirs[id(a)], False) if id(a) in dirs else Arr(a.value, False)
                if isinstance(a, list):
                    return [go(x) for x in a]
                if isinstance(a, tuple) and any(isinstance(x, Arr) for x in a):
                    return tuple(go(x) for x in a)
                return a
            return Case(tuple(go(a) for a in run.case.args), {k: go(v) for k, v in run.case.kwargs.items()})
        try:
            values = []
            for sign in (1.0, -1.0):
                _, _, out = call_in(spec, lumina, moved(sign), lmod)
                outs: list = []
                tensor_leaves(out, outs)
                touts: list = []
                tensor_leaves(run.tout, touts)
                floats = [o for o, t in zip(outs, touts) if t.is_floating_point()]
                values.append(sum((o.to(lumina.float64) * lumina.tensor(c)).sum() for o, c in zip(floats, run.cots)))
        except Exception as e:  # noqa: BLE001
            Comparer(spec, run.case, problems, "grad ").report("fd", f"the moved inputs failed: {e}")
            continue
        pending.append((run, dirs, h, values))
    if not pending:
        return
    lumina.realize(*[v for _, _, _, vals in pending for v in vals if isinstance(v, lumina.Tensor)])
    for run, dirs, h, (plus, minus) in pending:
        fd = (float(plus) - float(minus)) / (2 * h)
        if not math.isfinite(fd):
            continue
        grads = [np.zeros(a.value.shape) if t.grad is None else lumina_numpy(t.grad) for t, a in run.fd_leaves]
        analytic = sum(float((g * dirs[id(a)]).sum()) for g, (_, a) in zip(grads, run.fd_leaves))
        if not abs(fd - analytic) <= 1e-5 * max(1.0, abs(fd), abs(analytic)):
            Comparer(spec, run.case, problems, "grad ").report(
                "fd", f"directional derivative of the arguments marked for finite differences: lumina's gradient "
                      f"gives {analytic!r}, finite differences {fd!r}")


def _compare_parameters(spec: OpSpec, tmod, lmod, runs: list[Run], problems: list) -> None:
    """A layer's parameter gradients, summed over the batch's cases (lumina's accumulate in
    ``.grad`` over the one backward of the batch; torch's are per case)."""
    mine = dict(lmod.named_parameters())
    cmp = Comparer(spec, Case(("(the batch)",)), problems, "grad ")
    cmp.n_terms = sum(max([a.value.size for a in arrays_in(r.case)] + [1]) for r in runs)
    for k, (name, _) in enumerate(tmod.named_parameters()):
        want = None
        for r in runs:
            if r.tgrads is not None and k < len(r.tparam_grads) and r.tparam_grads[k] is not None:
                g = r.tparam_grads[k].detach().to(torch.float64)
                want = g if want is None else want + g
        if want is None:
            continue
        p = mine.get(name)
        if p is None:
            cmp.report("value", f"{name}: lumina's layer has no parameter {name!r}")
            continue
        try:
            got = np.zeros(tuple(p.shape)) if p.grad is None else lumina_numpy(p.grad)
        except Exception as e:  # noqa: BLE001
            cmp.report("value", f"{name}: the gradient could not be realised: {type(e).__name__}: {str(e)[:120]}")
            continue
        cmp.array(f"{name}.grad", got, want.numpy(), p.dtype.name, ulps=GRAD_ULPS.get(p.dtype.name, 64.0))


def _summary(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"{torch_dtype_name(x)}{list(x.shape)}"
    if isinstance(x, lumina.Tensor):
        try:
            v = lumina_numpy(x)
            body = np.array2string(v, threshold=8, edgeitems=2, separator=",").replace("\n", "")
        except Exception:  # noqa: BLE001
            body = "?"
        return f"{x.dtype.name}{list(x.shape)} {body}"
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__}({', '.join(_summary(y) for y in x)})"
    return repr(x)[:80]


def _compare_run(spec: OpSpec, run: Run, cmp: Comparer, alts: list | None = None) -> None:
    """Structure, dtypes, shapes, values and gradients of one case; a value outside the plain
    tolerance gets a second look with the rounding bound of a sum (see ``OpSpec``), and, with
    ``alts``, against the further references of ``references.alternatives``."""
    alts = alts or []
    pairs = cmp.structure(run.lout, run.tout)
    if spec.check_extra is not None:
        for p in spec.check_extra(run.case, run.lout, run.tout) or ():
            cmp.report("value", p)
    if not spec.values:
        for path, lo, to in pairs:
            if lo.dtype.name != torch_dtype_name(to):
                cmp.report("dtype", f"{path}: lumina {lo.dtype.name}, torch {torch_dtype_name(to)}")
            if tuple(lo.shape) != tuple(to.shape):
                cmp.report("shape", f"{path}: lumina {list(lo.shape)}, torch {list(to.shape)}")
        return
    mags: list = []

    def magnitudes():
        if not mags:
            mags.append(magnitudes_of(spec, run) if (spec.accumulates or spec.exact) else None)
        return mags[0]

    for k, (path, lo, to) in enumerate(pairs):
        others = [vals[k] if k < len(vals) else None for vals, _ in alts]
        first: list[Discrepancy] = []
        Comparer(spec, run.case, first).tensor(path, lo, to, alts=others)
        if first and spec.accumulates and not spec.exact and all(d.kind == "value" for d in first):
            m = magnitudes()
            if m is not None and k < len(m[0]) and m[0][k].shape == tuple(to.shape):
                first = []
                Comparer(spec, run.case, first).tensor(path, lo, to, m[0][k], alts=others)
        cmp.problems += first
    if run.tgrads is None:
        return
    for k, (lt, tg) in enumerate(zip(run.lleaves, run.tgrads)):
        name = f"grad[{k}]"
        dt = lt.dtype.name
        ulps = spec.grad_ulps if spec.grad_ulps is not None else GRAD_ULPS.get(dt, 64.0)
        lg = lt.grad
        want = np.zeros(tuple(lt.shape)) if tg is None else torch_numpy(tg)
        got = np.zeros(tuple(lt.shape)) if lg is None else lumina_numpy(lg)
        if lg is not None and lg.dtype.name != dt:
            cmp.report("grad dtype", f"{name}: lumina {lg.dtype.name}, the input's {dt}")
        others = [grads[k] if k < len(grads) else None for _, grads in alts]
        atol = None
        if spec.grad_atol and run.cots and run.cots[0].shape == got.shape:
            atol = spec.grad_atol * run.cots[0]
        first = []
        Comparer(spec, run.case, first, "grad ").array(name, got, want, dt, ulps=ulps, alts=others, atol=atol)
        if first and all(d.kind == "grad value" for d in first):
            m = magnitudes()
            if m is not None and k < len(m[1]) and m[1][k] is not None:
                first = []
                Comparer(spec, run.case, first, "grad ").array(name, got, want, dt, scale=m[1][k], ulps=ulps,
                                                               alts=others)
        cmp.problems += first
