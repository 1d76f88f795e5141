"""The cases a row runs: its fixed cases (the special values, for every dtype) and the ones
hypothesis draws, deterministically and whatever the process imported before."""
from __future__ import annotations

import contextlib

from hypothesis import strategies as st

from .cases import Case
from .spec import OpSpec


def fixed_cases(spec: OpSpec) -> list[Case]:
    """The spec's fixed cases (``OpSpec.fixed``) for each of its dtypes, in order; none without."""
    if spec.fixed is None:
        return []
    out = []
    for d in spec.dtypes:
        out += spec.fixed(d)
    return out


def draw_cases(spec: OpSpec, n: int, seed: int | None = None) -> list[Case]:
    """``n`` cases from the spec's hypothesis strategies, each of a dtype hypothesis picks from
    ``spec.dtypes`` (the fixed cases cover every dtype): hypothesis generates (its first example is
    the simplest, an empty or 0-d tensor), nothing shrinks, and the cases are returned to be run as
    one batch (``check``). Deterministic unless ``seed`` is given."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded
    out: list[Case] = []

    def body(data):
        out.append(data.draw(st.sampled_from(spec.dtypes).flatmap(spec.cases)))
    test = given(st.data())(body)
    test = settings(max_examples=n, derandomize=seed is None, database=None, deadline=None,
                    phases=(Phase.generate,), suppress_health_check=list(HealthCheck))(test)
    if seed is not None:
        test = seeded(seed)(test)
    with _no_module_constants():
        test()
    return out


@contextlib.contextmanager
def _no_module_constants():
    """Hypothesis mixes in literal constants it finds in every module imported so far, so the cases
    it draws would depend on what ran earlier in the process (a test file imported before this one
    changes them). The harness's fixed cases hold the special values; here the generator is kept
    to its own choices. (A private hook of the pinned hypothesis; without it, generation stays as
    hypothesis makes it.)"""
    from hypothesis.internal.conjecture import providers
    provider = getattr(providers, "HypothesisProvider", None)
    original = getattr(provider, "_maybe_draw_constant", None)
    if original is None:
        yield
        return
    provider._maybe_draw_constant = lambda self, choice_type, constraints, *, p=0.05: None
    try:
        yield
    finally:
        provider._maybe_draw_constant = original


def cases_for(spec: OpSpec, n: int, seed: int | None = None) -> list[Case]:
    """The fixed cases of every dtype, then about ``n * spec.draws`` drawn ones."""
    return fixed_cases(spec) + draw_cases(spec, max(2, round(n * spec.draws)), seed)
