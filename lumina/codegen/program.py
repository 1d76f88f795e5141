"""A lowered program: the optimized graph cut into kernels, each lowered to its kernel description,
over numbered buffer slots. It is the target-independent half of a build: every backend
(``backends/cpu``, ``backends/cuda``, ``backends/metal``) turns one into an executable.

    program = lower_partition(graph, partition, stages)
    for kernel, desc, slots in program.kernels:      # execution order
        ...                                          # slots[i] holds desc.buffers[i]

A slot is one buffer of the program: a graph input, a constant, an intermediate ("temp": it lives
in the executable's arena), a graph output, or the status words of a kernel's index checks.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ir.graph import Graph
from ..ir.ops import Op
from ..ir.printer import format_node, value_names
from ..schedule import memory
from .lower import lower


class SlotRole(str, enum.Enum):
    """What a buffer slot holds (a ``str`` enum: ``SlotRole.TEMP == "temp"``)."""
    INPUT = "input"     # the caller's array, bound at each call
    CONST = "const"     # a constant of the graph, kept from the build
    TEMP = "temp"       # an intermediate, at its memory-plan offset in the arena
    OUTPUT = "output"   # a graph output: a fresh array each call
    STATUS = "status"   # the int64 status words of a kernel's index checks
    DERIVED = "derived"  # computed from frozen inputs alone (``frozen_kernels``): kept across calls,
    #                      computed again only when another array is bound to one of them


@dataclass
class SlotSpec:
    """One buffer slot: its shape, NumPy dtype and role; the array of a constant; for a status
    slot, the ``codegen.kernel.IndexCheck`` each of its int64 elements reports. ``frozen``: an
    input whose array never changes while it stays bound (its ``input`` node's ``frozen``
    attribute: an ONNX model's weights), so a backend may keep data derived from it (a GEMM's
    packed B) until another array is bound there."""
    shape: tuple[int, ...]
    dtype: np.dtype
    role: SlotRole
    const: np.ndarray | None = None
    checks: tuple = ()
    frozen: bool = False

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Program:
    """The optimized ``graph`` (with the ``stages`` of the pipeline that produced it and its
    ``partition``) lowered over ``slots``. ``kernels`` lists ``(kernel group, description, slots)``
    in execution order: ``slots[i]`` is the slot of the description's ``buffers[i]`` (inputs, then
    outputs). ``output_shapes``: an output may reshape its slot's buffer."""
    graph: Graph
    stages: list
    partition: object
    slots: list[SlotSpec]
    kernels: list[tuple]
    input_slots: list[int]
    output_slots: list[int]
    output_shapes: list[tuple[int, ...]]
    # ``compiler.cached_program``: the program's disk-cache key (a backend keys its generated code
    # by it, and need not render the code to find it), and for a program loaded from the disk
    # cache, which has no stages or partition (nor kernel groups), a function that lowers its
    # graph again, for the dumps that ask for them (``ProgramInfo``).
    key: str | None = None
    relower: Callable[[], "Program"] | None = None

    def grouped_kernels(self) -> list[tuple]:
        """``kernels`` with their kernel groups, which a program loaded from the disk cache lacks
        (it lowers its graph again for them: the same descriptions, in the same order)."""
        if self.relower is None or all(group is not None for group, _, _ in self.kernels):
            return self.kernels
        return self.relower().kernels

    def info(self, lazy: dict | None = None, **extra) -> dict:
        """What an executable keeps for dumps and inspection (``Lowered``): the pipeline's stages,
        the partition, the kernel descriptions, this program, and a backend's ``extra`` texts
        ("llvm": the CPU's IR, "plan": its plan function); ``lazy``: entries made on first read,
        by name (a text the backend did not need to render)."""
        lazy = dict(lazy or {})
        items = {"llvm": "", "kernels": [d for _, d, _ in self.kernels], "program": self, **extra}
        if self.relower is None:
            items.update(stages=self.stages, partition=self.partition)
        else:
            lazy.update(stages=lambda: self.relower().stages, partition=lambda: self.relower().partition)
        return ProgramInfo(lazy, items)


class ProgramInfo(dict):
    """``Program.info``: a dict whose ``lazy`` entries are made on first read (by ``[]``)."""

    def __init__(self, lazy: dict[str, Callable[[], object]], items: dict):
        super().__init__({k: v for k, v in items.items() if k not in lazy})
        self._lazy = lazy

    def __missing__(self, key: str):
        if key not in self._lazy:
            raise KeyError(key)
        self[key] = value = self._lazy[key]()
        return value

    def get(self, key, default=None):
        return self[key] if key in self or key in self._lazy else default



def lower_partition(graph: Graph, part, stages: list) -> Program:
    """Lower every kernel group of ``part`` (the partition of optimized ``graph``) to its kernel
    description, numbering the buffers as slots (see ``Program``)."""
    names = value_names(graph)
    slots: list[SlotSpec] = []
    slot_of: dict[int, int] = {}

    def add(v, role: SlotRole, const=None, frozen: bool = False):
        slot_of[id(v)] = len(slots)
        slots.append(SlotSpec(v.shape, v.dtype.numpy, role, const, frozen=frozen))

    for v in graph.inputs:
        add(v, SlotRole.INPUT, frozen=bool(v.node.attrs.get("frozen", False)))
    outputs = {id(part.aliases.get(id(v), v)) for v in graph.outputs}
    for n in graph.nodes:
        v = n.out
        if id(v) in slot_of or id(v) not in part.materialized:
            continue
        if n.op is Op.CONST:
            add(v, SlotRole.CONST, np.asarray(n.attrs["value"], order="C"))
        else:
            add(v, SlotRole.OUTPUT if id(v) in outputs else SlotRole.TEMP)
    for v in graph.outputs:  # an output that is an unmaterialised scalar constant
        if id(v) not in slot_of and id(v) not in part.aliases:
            add(v, SlotRole.CONST, np.asarray(v.node.attrs["value"], order="C"))

    kernels = []
    for i, k in enumerate(part.kernels):
        source = tuple(format_node(n, names) for n in k.nodes)
        desc = lower(k, i, source)
        kslots = [slot_of[id(v)] for v in list(k.inputs) + k.outputs]
        if desc.checks:   # its status buffer follows its inputs (codegen.kernel)
            kslots.insert(len(k.inputs), len(slots))
            slots.append(SlotSpec((len(desc.checks),), np.dtype(np.int64), SlotRole.STATUS, checks=desc.checks))
        kernels.append((k, desc, kslots))
    output_slots = [slot_of[id(part.aliases.get(id(v), v))] for v in graph.outputs]
    return Program(graph, stages, part, slots, kernels, [slot_of[id(v)] for v in graph.inputs],
                   output_slots, [v.shape for v in graph.outputs])


def frozen_kernels(prog: Program) -> tuple[list[int], set[int]]:
    """The kernels of ``prog`` that read only frozen inputs (``SlotSpec.frozen``), constants and
    what such kernels wrote (an ONNX convolution's weight permuted to the im2col order, a weight
    transposed), and the temp slots they write: a backend may run them only when another array is
    bound to a frozen input, and keep their results (``SlotRole.DERIVED``) across calls, as ONNX
    Runtime folds its initializers' transforms once. Kernels with index checks (their errors
    belong to the call that hits them), kernels writing graph outputs and kernels reading no
    frozen input (directly or through another such kernel) stay per call. Returns (kernel indices
    in order, derived slots)."""
    slots = prog.slots
    derived_from = {i for i, s in enumerate(slots) if s.role is SlotRole.INPUT and s.frozen}
    constant = {i for i, s in enumerate(slots) if s.role is SlotRole.CONST}
    hoisted, derived = [], set()
    for index, (_, desc, kslots) in enumerate(prog.kernels):
        n_in = len(desc.buffers) - desc.n_outputs
        reads, writes = kslots[:n_in], kslots[n_in:]
        if (getattr(desc, "checks", ()) or not any(s in derived_from for s in reads)
                or not all(s in derived_from or s in constant for s in reads)
                or not all(slots[s].role is SlotRole.TEMP for s in writes)):
            continue
        hoisted.append(index)
        derived.update(writes)
        derived_from.update(writes)
    return hoisted, derived


def sequential_memory_plan(slots: list[SlotSpec], kernels) -> memory.MemoryPlan:
    """Arena offsets of the temp ``slots`` when ``kernels`` (``(description, slots)`` each) run one
    after another in order (a GPU stream or command queue): liveness over the launch order, no
    thread horizons and no in-place pairs (a GPU kernel's blocks may read an input element after
    another block has written the output over it)."""
    sizes = {i: s.nbytes for i, s in enumerate(slots) if s.role is SlotRole.TEMP}
    rw = []
    for desc, kslots in kernels:
        n_in = len(desc.buffers) - desc.n_outputs
        rw.append((tuple(kslots[:n_in]), tuple(kslots[n_in:])))
    return memory.plan(rw, sizes)
