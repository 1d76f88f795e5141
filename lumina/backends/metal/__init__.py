"""The Metal backend: kernels rendered as Metal Shading Language (``msl.py``), run on an Apple GPU
through PyObjC (``device.py``) over host-visible buffers (``executable.py``); float64 kernels run
on the host through the CPU backend.

    target()                       "metal" as a ``backends.target.Target``
    build(program, target)         a lowered program as a ``MetalExecutable``
    render(desc)                   the MSL source of one kernel description
"""
from __future__ import annotations

from ..target import Target

__all__ = ["build", "render", "target"]


def target() -> Target:
    """The metal device: no float64 on the GPU."""
    return Target("metal", "metal", float64=False)


def build(program, target: Target):
    """The ``MetalExecutable`` of lowered ``program``."""
    from .executable import MetalExecutable
    return MetalExecutable(program.slots, program.input_slots, program.output_slots, program.output_shapes,
                           [(d, s) for _, d, s in program.kernels], program.info())


def render(desc) -> str:
    """The MSL source of kernel description ``desc``; LuminaCodegenError where it cannot."""
    from .msl import render as render_msl
    return render_msl(desc)
