"""The CPU backend: LLVM code generation for the host CPU (loop and row kernels, GEMM micro-kernels),
the JIT, the thread pool and the native plan executor.

    target()                       the host CPU as a ``backends.target.Target``
    build(program, target)         a lowered program as an ``Executable`` (``build.py``)
    render(desc)                   the LLVM IR of one kernel description
"""
from __future__ import annotations

import functools

from ..target import Target
from .build import build, cache_clear, cache_info
from .isa import active_isa, cache_sizes, host_isa
from .jit import host_cpu_name, host_simd, host_triple, host_vector_bits
from ...codegen.kernel import DotKernel
from .llvm import render_epilogue, render_module
from .llvm_gemm import EPILOGUE_POINTERS, PACKED_DTYPES, gemm_blocking, render_gemm
from .native_pool import bind_cpus
from .threads import num_threads

__all__ = ["build", "cache_clear", "cache_info", "render", "target"]


def target() -> Target:
    """The host CPU: its LLVM name, the ISA level and vector width the code is generated for
    (``isa.active_isa()``), the threads of the pool, and the caches and GEMM blockings."""
    return _target(active_isa(), num_threads())


@functools.lru_cache(maxsize=16)
def _target(level: str, threads: int) -> Target:
    """``target()`` at an ISA level and a thread count, what may change while a process runs
    (``LUMINA_ISA``, ``set_num_threads``); every realisation asks for it."""
    return Target("cpu", host_cpu_name(), vector_bits=host_vector_bits(), threads=threads,
                  triple=host_triple(), simd=host_simd(), isa=level, choices=_choices(level))


def _choices(level: str) -> tuple[str, ...]:
    forced = "" if level == host_isa() else f" (forced by LUMINA_ISA; the CPU runs {host_isa()})"
    l1, l2, l3 = cache_sizes()
    return (f"isa: {level}{forced}", f"caches: L1d {l1 >> 10} KiB, L2 {l2 >> 10} KiB, L3 {l3 >> 10} KiB",
            *(f"gemm {dtype}: {gemm_blocking(dtype, level)}" for dtype in sorted(PACKED_DTYPES)),
            *(f"gemm {dtype}, at most {narrow.nr} columns: {narrow}" for dtype in sorted(PACKED_DTYPES)
              for narrow in [gemm_blocking(dtype, level, narrow=True)] if narrow != gemm_blocking(dtype, level)),
            _binding(num_threads()))


def _binding(threads: int) -> str:
    bound = bind_cpus(threads) if threads > 1 else None
    return f"thread binding: {'none' if bound is None else 'CPUs ' + ', '.join(map(str, bound))}"


def render(desc) -> str:
    """The LLVM IR of one kernel description: a loop or row kernel's module; for a dot kernel, the
    GEMM generator's module for its dtype, followed by its epilogue module when it has one."""
    if not isinstance(desc, DotKernel):
        return render_module([desc], name=desc.name)
    text = render_gemm(desc.dtype.name)   # the blocking of the ISA level the JIT generates code for
    if desc.epilogue is not None or desc.rows is not None:
        text += f"\n; ---- {desc.name}: the epilogue\n" + render_epilogue(desc, EPILOGUE_POINTERS)
    return text
