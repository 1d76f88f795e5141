"""One loop or row kernel description run on the host CPU through the LLVM backend.

A device whose language lacks a dtype places those kernels here. Metal has no float64, and
lumina's optimizers compute their hyperparameter scalars in float64, as PyTorch does in Python
doubles: ``1 - beta2**t`` and the like. Those kernels hold one element per buffer, and Metal's
buffers are host memory, so running them on the CPU between launches costs nothing. What the
renderer refuses is placed, not silently changed: every other kernel runs on the device.

    launch = launcher(desc)          # compiled once per description
    launch([x, y, out])              # flat NumPy arrays in ``desc.buffers`` order; writes outputs
"""
from __future__ import annotations

import ctypes
import functools
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from ...codegen.kernel import DotKernel, LoopKernel, RowKernel
from .llvm import render_module
from ...errors import LuminaDeviceError
from .jit import compile_llvm


def launcher(desc: LoopKernel | RowKernel) -> Callable[[Sequence[np.ndarray]], None]:
    """A function running ``desc`` on the host over its whole domain. It takes flat, C-contiguous
    NumPy arrays in ``desc.buffers`` order and writes the outputs in place. Raises
    LuminaDeviceError for a ``DotKernel``: a GEMM is never placed on the host."""
    if isinstance(desc, DotKernel):
        raise LuminaDeviceError(f"host placement: {desc.name} is a {desc.dtype.name} GEMM "
                                f"[{desc.batch}x{desc.m}x{desc.k}] @ [{desc.k}x{desc.n}]; only loop "
                                f"and row kernels run on the host")
    return _compiled(replace(desc, name="host_kernel", source=()))


@functools.lru_cache(maxsize=256)   # each holds a JIT'ed module: bounded, least recent dropped
def _compiled(desc: LoopKernel | RowKernel) -> Callable[[Sequence[np.ndarray]], None]:
    module = compile_llvm(render_module([desc], name="host_kernel"), "host_kernel")
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * len(desc.buffers), ctypes.c_int64, ctypes.c_int64)(
        module.address(desc.name))
    extent = desc.domain[0].extent if desc.domain else 1

    def launch(buffers: Sequence[np.ndarray]) -> None:
        fn(*[b.ctypes.data for b in buffers], 0, extent)

    launch.module = module   # keeps the machine code alive as long as the launcher
    return launch
