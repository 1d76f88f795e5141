"""Norms and distances: norm, dist, cdist, cosine_similarity, pairwise_distance."""
from __future__ import annotations

from ..spec import OpSpec

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""


def specs() -> list[OpSpec]:
    """This family's rows."""
    return []
