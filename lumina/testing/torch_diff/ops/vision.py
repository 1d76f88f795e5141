"""Convolutions, pooling, upsampling and their modules: conv1d/3d, transposed convolutions, adaptive and 1-d
pooling, interpolate, pixel_shuffle, unfold/fold."""
from __future__ import annotations

from ..spec import OpSpec

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""


def specs() -> list[OpSpec]:
    """This family's rows."""
    return []
