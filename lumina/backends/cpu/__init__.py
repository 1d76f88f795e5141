"""The CPU backend: LLVM code generation for the host CPU (loop and row kernels, GEMM micro-kernels),
the JIT, the thread pool and the native plan executor.

    target()                       the host CPU as a ``backends.target.Target``
    build(program, target)         a lowered program as an ``Executable`` (``build.py``)
    render(desc)                   the LLVM IR of one kernel description
"""
from __future__ import annotations

from ..target import Target
from .build import build, cache_clear, cache_info
from .jit import host_cpu_name, host_simd, host_triple, host_vector_bits
from ...codegen.kernel import DotKernel
from .llvm import render_epilogue, render_module
from .llvm_gemm import EPILOGUE_POINTERS, render_gemm
from .threads import num_threads

__all__ = ["build", "cache_clear", "cache_info", "render", "target"]


def target() -> Target:
    """The host CPU: its LLVM name, its widest vector registers, the threads of the pool."""
    return Target("cpu", host_cpu_name(), vector_bits=host_vector_bits(), threads=num_threads(),
                  triple=host_triple(), simd=host_simd())


def render(desc) -> str:
    """The LLVM IR of one kernel description: a loop or row kernel's module; for a dot kernel, the
    GEMM generator's module for its dtype, followed by its epilogue module when it has one."""
    if not isinstance(desc, DotKernel):
        return render_module([desc], name=desc.name)
    text = render_gemm(desc.dtype.name)
    if desc.epilogue is not None or desc.rows is not None:
        text += f"\n; ---- {desc.name}: the epilogue\n" + render_epilogue(desc, EPILOGUE_POINTERS)
    return text
