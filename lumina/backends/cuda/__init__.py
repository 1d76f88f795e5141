"""The CUDA backend: kernels rendered as Triton (``triton.py``), compiled and autotuned by Triton's
JIT (``jit.py``), run over buffers from PyTorch's caching allocator (``executable.py``). Importing
this package imports neither torch nor Triton; building does.

    target()                       "cuda" as a ``backends.target.Target``
    build(program, target)         a lowered program as a ``CudaExecutable``
    render(desc)                   the ``@triton.jit`` source of one kernel description
"""
from __future__ import annotations

from ..target import Target

__all__ = ["build", "render", "target"]


def target() -> Target:
    """The cuda device: Triton on the GPU, or in its interpreter under ``TRITON_INTERPRET=1``."""
    from ..devices import interpreting
    return Target("cuda", "triton-interpreter" if interpreting() else "triton")


def build(program, target: Target):
    """The ``CudaExecutable`` of lowered ``program``."""
    from .executable import CudaExecutable
    return CudaExecutable(program.slots, program.input_slots, program.output_slots, program.output_shapes,
                          [(d, s) for _, d, s in program.kernels], program.info())


def render(desc) -> str:
    """The Triton source of kernel description ``desc``; LuminaCodegenError where it cannot."""
    from .triton import render as render_triton
    return render_triton(desc)
