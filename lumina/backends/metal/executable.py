"""The metal executable: a program's kernels as Metal launches over host-visible NumPy buffers.

Built from the same plain data as ``backends.cuda.executable.CudaExecutable`` (slots, ``(description, slots)``
per kernel). The intermediates live in one aligned NumPy arena at the offsets of the memory plan
(``codegen.program.sequential_memory_plan``), constants are kept from the build, outputs are fresh arrays each call,
and each kernel runs through ``launcher(desc)(buffers)`` in order: ``backends.metal.device.launcher`` on an
Apple GPU (shared-storage buffers, one command buffer per kernel), or any launcher with its API,
such as ``testing.msl_cpu.launcher``, which runs the same MSL on the CPU through a C++ shim (how
this executable is tested off macOS). Metal has no float64: the kernels that compute in it (the
optimizers' hyperparameter scalars) run on the host through the LLVM backend
(``backends.cpu.host_kernel``), between the launches, on the same shared buffers.
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np

from .msl import uses_float64
from ...errors import LuminaIndexError, LuminaTypeError
from ..cpu import host_kernel
from ...codegen.program import SlotRole, SlotSpec, sequential_memory_plan
from ...schedule.memory import ALIGNMENT, aligned_bytes


class MetalExecutable:
    """A compiled program on the metal device. ``run(inputs, host=...)`` takes one array per graph
    input and returns one NumPy array per graph output (Metal's buffers are shared with the host,
    so ``host`` changes nothing). Raises LuminaTypeError for an input of the wrong shape."""

    device = "metal"

    def __init__(self, slots: list[SlotSpec], input_slots: list[int], output_slots: list[int],
                 output_shapes: list[tuple[int, ...]], kernels: Sequence[tuple], info: dict | None = None,
                 launcher: Callable | None = None):
        if launcher is None:
            from .device import launcher
        self.slots, self.input_slots, self.output_slots = slots, input_slots, output_slots
        self.output_shapes = output_shapes
        self.info = dict(info or {})
        self.memory_plan = sequential_memory_plan(slots, kernels)
        self.kernels = [(desc, tuple(kslots), host_kernel.launcher(desc) if uses_float64(desc) else launcher(desc))
                        for desc, kslots in kernels]
        self.arena = aligned_bytes(self.memory_plan.arena_bytes)
        self._fixed: list = [None] * len(slots)
        for i, s in enumerate(slots):
            if s.role is SlotRole.CONST:
                self._fixed[i] = np.ascontiguousarray(s.const, dtype=s.dtype)
            elif s.role is SlotRole.TEMP:
                offset, n = self.memory_plan.offsets[i], s.nbytes
                if offset % ALIGNMENT or offset + n > self.arena.nbytes:
                    raise LuminaTypeError(f"metal executable: slot {i} planned at byte {offset} ({n} bytes) "
                                          f"outside the {self.arena.nbytes}-byte arena or misaligned")
                self._fixed[i] = self.arena[offset:offset + n].view(s.dtype).reshape(s.shape)
            elif s.role is SlotRole.STATUS:   # index checks: only the kernels placed on the host record
                self._fixed[i] = np.zeros(s.shape, s.dtype)   # (backends.metal.msl_expr)
        self._lock = threading.Lock()

    def run(self, inputs: Sequence, host=True) -> list[np.ndarray]:
        """Launch every kernel on ``inputs``; one NumPy array per graph output."""
        if len(inputs) != len(self.input_slots):
            raise LuminaTypeError(f"metal executable: {len(inputs)} inputs, expected {len(self.input_slots)}")
        buffers = list(self._fixed)
        for slot, x in zip(self.input_slots, inputs):
            spec = self.slots[slot]
            x = np.asarray(x, dtype=spec.dtype, order="C")   # (ascontiguousarray makes 0-d 1-d)
            if x.shape != spec.shape:
                raise LuminaTypeError(f"metal executable: input of shape {x.shape}, expected {spec.shape}")
            buffers[slot] = x
        for i, s in enumerate(self.slots):
            if s.role is SlotRole.OUTPUT:
                buffers[i] = np.empty(s.shape, s.dtype)
        with self._lock:   # the arena is shared: one call at a time
            for _desc, kslots, launch in self.kernels:
                launch([buffers[s].reshape(-1) for s in kslots])
            found = [c.error(int(v)) for spec, status in zip(self.slots, self._fixed) if spec.role is SlotRole.STATUS
                     for c, v in zip(spec.checks, status)]
            if any(m is not None for m in found):
                for spec, status in zip(self.slots, self._fixed):
                    if spec.role is SlotRole.STATUS:
                        status[:] = 0
                raise LuminaIndexError(next(m for m in found if m is not None))
            outs = []
            for slot, shape in zip(self.output_slots, self.output_shapes):
                a = buffers[slot]
                a = a.copy() if self.slots[slot].role is not SlotRole.OUTPUT else a
                outs.append(a.reshape(shape))
        return outs
