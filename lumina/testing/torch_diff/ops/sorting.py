"""Sorting and order statistics: sort, argsort, kthvalue, median, mode, unique, cummax/cummin, logcumsumexp,
aminmax."""
from __future__ import annotations

from ..spec import OpSpec

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""


def specs() -> list[OpSpec]:
    """This family's rows."""
    return []
