"""One native plan for every size of a program with symbolic sizes (``ir.symbolic``).

A plan's code is its schedule's structure (which thread runs which launch, whole or split, and the
barriers) and its numbers (chunk bounds, GEMM sizes and strides, byte offsets). For a symbolic
program the structure is decided once, at the sizes heuristics plan for (``ir.symbolic.hint``):
the schedule of the launches at those sizes (``structure``). Each size then only computes its
numbers: the same steps with their chunks cut from its own extents (``steps_at``), and a table of
every integer the plan passes (``table_steps``), which the plan reads at run time
(``llvm_plan.render_plan(table=...)``). The plan's text is the same for every size, so it is
compiled once.
"""
from __future__ import annotations

import numpy as np

from ...schedule.thread_schedule import Step, schedule
from .launch import (AddressArg, BufferArg, ChunkBufferArg, IntArg, Launch, TableArg, TableBufferArg, TableTileArg,
                     TileRangeArg)
from .llvm_plan import PlanStep
from .threads import PARALLEL_MIN_WORK


def structure(launches: list[Launch], threads: int) -> tuple[list[Step], int]:
    """The schedule of ``launches`` (at the hint sizes) on up to ``threads`` threads, and how many
    threads it uses."""
    n = threads if sum(L.work for L in launches) >= PARALLEL_MIN_WORK else 1
    steps = schedule(launches, n)
    return steps, 1 + max((t for s in steps for t in s.threads()), default=0)


def steps_at(hint: list[Step], launches: list[Launch]) -> list[Step]:
    """The steps of ``hint`` (the structure) for ``launches`` at other sizes: a split launch is cut
    into as many even chunks of its own extent, on the same threads (a chunk may be empty); a
    whole one runs whole on the same thread."""
    out = []
    for s in hint:
        extent, threads = launches[s.launch].extent, s.threads()
        bounds: list = [None] * len(s.bounds)
        for j, t in enumerate(threads):
            bounds[t] = (extent * j // len(threads), extent * (j + 1) // len(threads))
        out.append(Step(s.launch, s.barrier, tuple(bounds)))
    return out


def table_steps(launches: list[Launch], steps: list[Step], used: int, n_slots: int):
    """``(plan steps, address table, integer table, the integer table's entry)`` of ``launches``
    scheduled as ``steps``: every function and ``AddressArg`` an index into the address table
    (after the ``n_slots`` slots in the buffer table, as ``build._plan_steps``), every number an
    index into the integer table (chunk starts ``[step][thread]``, then ends, then each argument's
    numbers in order), whose address is the last address-table entry. The steps are the same for
    every size of one structure; the tables hold what differs."""
    table: dict[int, int] = {}

    def entry(address: int) -> int:
        return table.setdefault(address, n_slots + len(table))
    chunks = [b if b is not None else (0, 0) for s in steps for b in s.bounds[:used]]
    ints = [lo for lo, _ in chunks] + [hi for _, hi in chunks]

    def number(value: int) -> int:
        ints.append(int(value))
        return len(ints) - 1

    def arg(a):
        if isinstance(a, AddressArg):
            return BufferArg(entry(a.address))
        if isinstance(a, BufferArg):
            return TableBufferArg(a.slot, number(a.offset))
        if isinstance(a, ChunkBufferArg):
            return TableBufferArg(a.slot, number(a.offset), number(a.stride))
        if isinstance(a, IntArg):
            return TableArg(number(a.value))
        if isinstance(a, TileRangeArg):
            return TableTileArg(a.end, number(a.tile), number(a.limit))
        return a   # a range or a workspace: the same at every size
    plan_steps = [PlanStep(entry(L.address), tuple(arg(a) for a in L.args), s.barrier, s.bounds[:used])
                  for L, s in zip(launches, steps)]
    values = np.array(ints or [0], np.int64)
    index = entry(values.ctypes.data)
    # the bounds are in the table: the steps are the same at every size
    plan_steps = [PlanStep(p.function, p.args, p.barrier, ()) for p in plan_steps]
    return plan_steps, tuple(table), values, index
