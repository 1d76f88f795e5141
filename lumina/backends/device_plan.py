"""The memory plan of a device executable (cuda, metal): liveness over its kernels in launch order.

Device executables launch their kernels one after another (a stream, a command queue), so a
buffer is live from the first kernel that touches it to the last (``schedule.memory``, no thread
horizons). No in-place pairs are offered: a GPU kernel's blocks may read an input element after
another block has written the output over it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..schedule import memory
from .cpu.executable import SlotSpec


def slot_bytes(spec: SlotSpec) -> int:
    return int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize


def memory_plan(slots: Sequence[SlotSpec], kernels: Sequence[tuple]) -> memory.MemoryPlan:
    """The arena offsets of the "temp" slots of ``slots`` over ``kernels`` (``(description,
    slots)`` per kernel in launch order; the description's inputs, then its outputs)."""
    sizes = {i: slot_bytes(s) for i, s in enumerate(slots) if s.role == "temp"}
    rw = []
    for desc, kslots in kernels:
        n_in = len(desc.buffers) - desc.n_outputs
        rw.append((tuple(kslots[:n_in]), tuple(kslots[n_in:])))
    return memory.plan(rw, sizes)
