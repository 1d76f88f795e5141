"""Random sampling: randperm, multinomial, bernoulli and the in-place fills (normal_, uniform_...): their
shapes, dtypes, ranges and errors, since lumina's streams differ from torch's by design."""
from __future__ import annotations

from ..spec import OpSpec

_WHY = ("lumina's generator (SplitMix64 in the graph) draws other numbers than torch's by design; "
        "tests/test_sampling.py checks its distribution (KS tests / frequencies), shapes, dtypes, ranges, "
        "determinism under lumina.manual_seed, compiled draws and torch's errors")

EXCLUDED: dict[str, str] = {name: _WHY for name in (
    "lumina.randperm", "lumina.multinomial", "lumina.bernoulli", "lumina.normal", "Tensor.multinomial",
    "Tensor.bernoulli", "Tensor.bernoulli_", "Tensor.normal_", "Tensor.uniform_", "Tensor.exponential_",
    "Tensor.geometric_", "Tensor.random_")}
EXCLUDED["lumina.Generator"] = ("a random stream object, not an op; tests/test_sampling.py checks that a seeded "
                                "Generator repeats its draws whatever else is drawn, and its state round trip")
"""This family's namesakes not run by the harness, each with the reason."""


def specs() -> list[OpSpec]:
    """This family's rows."""
    return []
