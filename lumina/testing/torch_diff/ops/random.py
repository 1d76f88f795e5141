"""Random sampling: randperm, multinomial, bernoulli and the in-place fills (normal_, uniform_...): their
shapes, dtypes, ranges and errors, since lumina's streams differ from torch's by design."""
from __future__ import annotations

from ..spec import OpSpec

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""


def specs() -> list[OpSpec]:
    """This family's rows."""
    return []
