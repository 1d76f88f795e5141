"""Targets: what a backend can do, in the terms the scheduler and the lowering ask about, and the
registry that finds each device's backend.

    target = target_for("cpu")          # Target(device='cpu', name='znver5', vector_bits=512, ...)
    exe = backend(target.device).build(program, target)

A ``Target`` is plain frozen data: the partitioner reads it to decide which GEMMs take fused
epilogues and how many buffers an epilogue may read; the builders read the thread count; its
``key`` is part of every executable's cache key. A new backend is one folder under ``backends/``
whose package defines ``target()``, ``build(program, target)`` and ``render(desc)`` (the kernel
source it generates), plus its name in ``BACKENDS``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from ..errors import LuminaDeviceError

BACKENDS = {"cpu": "lumina.backends.cpu", "cuda": "lumina.backends.cuda", "metal": "lumina.backends.metal"}
"""The backend package of each device (imported on first use: the cuda one needs torch and Triton)."""

# The GEMM epilogue's shape, shared by every backend so that one partition serves them all: the
# packed GEMMs (float32, float64) take epilogues, the integer one does not, and an epilogue reads at
# most this many buffers besides the dot result (the CPU epilogue function's pointer arguments).
EPILOGUE_DTYPES = frozenset({"float32", "float64"})
MAX_EPILOGUE_INPUTS = 8


@dataclass(frozen=True)
class Target:
    """What one device's code generator can do.

    ``device``: "cpu", "cuda" or "metal". ``name``: what the code is generated for (the host CPU's
    LLVM name, "triton" or "triton-interpreter", "metal"). ``vector_bits``: the widest vector
    register the CPU's float math uses (512 with AVX-512, 256 with AVX2, 128 otherwise; 0 on a GPU).
    ``float64``: whether kernels may compute in float64 (Metal has none: its float64 kernels run on
    the host). ``epilogue_dtypes``: names of the dtypes whose GEMMs take fused epilogues and row
    stages. ``max_epilogue_inputs``: buffers an epilogue may read besides the dot result.
    ``threads``: the CPU threads a plan is scheduled over (1 on a GPU). ``triple`` and ``simd``:
    the CPU's LLVM target triple and vector extensions (``avx2``, ``avx512f``, ``neon``...), for
    ``lumina info``. ``isa``: the CPU's ISA level the code is generated for ("avx512", "avx2",
    "baseline": ``backends.cpu.isa``; "" on a GPU), which picks the GEMM's register tile.
    ``choices``: what else the backend's code generation chose for this machine, as lines for
    ``lumina info`` (the CPU's caches and the GEMM's tiles and cache blocks)."""
    device: str
    name: str
    vector_bits: int = 0
    float64: bool = True
    epilogue_dtypes: frozenset = EPILOGUE_DTYPES
    max_epilogue_inputs: int = MAX_EPILOGUE_INPUTS
    threads: int = 1
    triple: str = ""
    simd: tuple = ()
    isa: str = ""
    choices: tuple = ()

    @property
    def key(self) -> tuple:
        """The part of an executable's cache key that this target decides: every field, since
        the partition and the code depend on all of them."""
        return (self.device, self.name, self.vector_bits, self.float64, tuple(sorted(self.epilogue_dtypes)),
                self.max_epilogue_inputs, self.threads, self.triple, self.simd, self.isa,
                self.choices)


def backend(device: str) -> ModuleType:
    """The backend package of ``device`` (see ``BACKENDS``). Raises LuminaDeviceError for an
    unknown device."""
    try:
        return importlib.import_module(BACKENDS[device])
    except KeyError:
        raise LuminaDeviceError(f"no backend for device {device!r}; backends: {', '.join(BACKENDS)}") from None


def target_for(device: str) -> Target:
    """The ``Target`` of ``device`` on this machine (which must be able to run it: see
    ``backends.devices.require``)."""
    return backend(device).target()
