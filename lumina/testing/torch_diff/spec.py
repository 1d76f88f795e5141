"""``OpSpec``: how one row of the table calls a namesake in either library, draws its cases and
compares the results; ``available``: whether lumina has the row's namesake."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st

import lumina

from .cases import Case


@dataclass(frozen=True)
class OpSpec:
    """How one namesake is run and compared.

    ``call(L, *args, **kwargs)`` calls it in library ``L`` (``lumina`` or ``torch``; ``L.nn`` and
    ``L.nn.functional`` are there too). With ``module``, ``module(L)`` builds a layer in each
    library (torch's state is loaded into lumina's) and ``call(L, m, *args)`` runs it; parameter
    gradients are compared too.
    ``cases(dtype)`` is the hypothesis strategy of one ``Case``; ``fixed(dtype)`` the deterministic
    cases always run (the special values). ``dtypes``: the input dtypes tried.
    Comparison: ``exact`` values must match bit for bit (NaN equal to NaN, zeros' signs included);
    else within ``ulps`` units of the dtype's epsilon, relative, plus, with ``accumulates``, the
    rounding bound of a sum: ``2 * n * eps * op(|inputs|)`` (``n`` the input size), which covers
    reassociated sums. ``grad``: compare gradients with torch autograd. ``values=False``: compare
    dtypes, shapes and types only (random ops: different generators). ``check_extra(case, lumina's
    result, torch's)`` returns further problems (a property of a random op's result).
    ``normwise``: a composite op (a normalisation, attention, a loss) whose elements may be off by
    ``ulps`` epsilons of the largest one. ``homogeneous``: the degree ``d`` of
    ``f(s x, ...) = s^d f(x, ...)`` in the first argument, for a rescaled reference where torch
    overflows (see ``references.alternatives``). ``draws``: the share of the generated cases this row draws
    (below 1 for rows whose graphs are slow to compile). ``exact_math``: (f, f') of an elementwise
    function of one tensor in mpmath, evaluated to 40 digits as a further reference where torch's
    own formula loses digits (its float64 ``sigmoid'(20)`` is 1e-7 off). ``grad_atol``: an absolute
    gradient tolerance of that many epsilons times the cotangent, for derivatives computed from the
    rounded output (``1 - tanh(x)^2`` is off by ``2 eps`` absolute, whatever its size). Deliberate differences: ``skip``, (reason, predicate on a
    case) pairs, leaves out the cases outside the compared domain; ``amend``, (reason,
    fn(case, torch's result) -> corrected result), corrects torch where torch is wrong.
    """
    name: str
    call: Callable
    cases: Callable[[str], st.SearchStrategy]
    dtypes: tuple[str, ...] = ("float32", "float64")
    fixed: Callable[[str], list[Case]] | None = None
    module: Callable | None = None
    exact: bool = False
    signed_zeros: bool = True
    ulps: float = 4.0
    grad_ulps: float | None = None
    accumulates: bool = False
    grad: bool = True
    values: bool = True
    check_extra: Callable | None = None
    normwise: bool = False
    homogeneous: int | None = None
    exact_math: tuple | None = None
    grad_atol: float = 0.0
    draws: float = 1.0
    skip: tuple = ()
    amend: tuple | None = None
    checks: str = ""          # what is checked beyond values/dtype/shape/grad, for the docs


def namesake_of(spec_name: str) -> str:
    """The namesake a row checks: its name without the ``#variant``."""
    return spec_name.partition("#")[0]


def available(spec: OpSpec) -> bool:
    """Whether lumina has the spec's namesake (the table may run ahead of the library)."""
    head, _, rest = namesake_of(spec.name).partition(".")
    obj = {"lumina": lumina, "Tensor": lumina.Tensor, "F": lumina.nn.functional, "nn": lumina.nn}[head]
    for part in rest.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True
