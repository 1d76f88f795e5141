"""The executable plan: an ordered list of kernel launches over numbered buffer slots.

Slots hold the caller's inputs (zero-copy when they are C-contiguous with the right dtype), constants,
intermediates (allocated once per executable and reused across calls) and outputs (fresh arrays each
call, since they are handed to the caller).
"""
from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import LuminaTypeError
from .threads import parallel_for, split


@dataclass
class Launch:
    """One kernel call. ``args(ptrs, start, end, worker)`` builds its ctypes arguments."""
    name: str
    fn: Callable
    slots: list[int]
    extent: int                 # iterations of the splittable outer loop
    work: int                   # total innermost iterations, to size the thread split
    args: Callable
    source: tuple = ()


@dataclass
class SlotSpec:
    shape: tuple[int, ...]
    dtype: np.dtype
    role: str                   # "input" | "const" | "temp" | "output"
    const: np.ndarray | None = None


@dataclass
class Executable:
    slots: list[SlotSpec]
    input_slots: list[int]
    output_slots: list[int]
    output_shapes: list[tuple[int, ...]]   # an output may reshape its slot's buffer
    launches: list[Launch]
    keepalive: list = field(default_factory=list)   # compiled modules whose code we call
    info: dict = field(default_factory=dict)        # IR texts, kernel sources, partition, for dumps

    def __post_init__(self):
        self._temps = {i: np.empty(s.shape, s.dtype) for i, s in enumerate(self.slots) if s.role == "temp"}
        self._lock = threading.Lock()
        self._bounds = [split(L.extent, L.work) for L in self.launches]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Execute on ``inputs`` (one array per graph input); returns one array per graph output."""
        arrays: list = [None] * len(self.slots)
        for slot, x in zip(self.input_slots, inputs):
            spec = self.slots[slot]
            x = np.asarray(x, dtype=spec.dtype, order="C")
            if x.shape != spec.shape:
                raise LuminaTypeError(f"executable: input of shape {x.shape}, expected {spec.shape}")
            arrays[slot] = x
        for i, spec in enumerate(self.slots):
            if spec.role == "const":
                arrays[i] = spec.const
            elif spec.role == "temp":
                arrays[i] = self._temps[i]
            elif spec.role == "output" and arrays[i] is None:
                arrays[i] = np.empty(spec.shape, spec.dtype)
        ptrs = [a.ctypes.data if a is not None else 0 for a in arrays]
        with self._lock:  # intermediates are shared: one call at a time per executable
            for launch, bounds in zip(self.launches, self._bounds):
                if len(bounds) <= 2:
                    launch.fn(*launch.args(ptrs, 0, launch.extent, 0))
                    continue

                def call(start, end, worker, launch=launch):
                    launch.fn(*launch.args(ptrs, start, end, worker))
                parallel_for(call, launch.extent, launch.work, bounds)
        outs = []
        for slot, shape in zip(self.output_slots, self.output_shapes):
            a = arrays[slot]
            a = a.copy() if self.slots[slot].role in ("input", "const", "temp") else a
            outs.append(a.reshape(shape))
        return outs


def loop_args(slots: list[int]):
    def args(ptrs, start, end, worker):
        return [ptrs[s] for s in slots] + [start, end]
    return args


def cfunc(address: int, n_pointers: int, n_ints: int) -> Callable:
    proto = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n_pointers), *([ctypes.c_int64] * n_ints))
    return proto(address)
