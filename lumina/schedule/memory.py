"""Liveness-based memory planning: every intermediate buffer of an executable at an offset in one arena.

The analysis runs over the kernel (launch) order. A buffer is live from the first kernel that touches
it to the last one, extended to its *horizon*: with a thread schedule, a kernel may still be running
on one thread while later kernels start on another (up to the next barrier), so a buffer's memory is
free only once every kernel that touched it is ordered before everything after (``plan(...,
horizon=...)``; ``schedule.thread_schedule.horizons`` computes it from the barriers and thread sets).

Offsets come from the "greedy by size" heuristic of TensorFlow Lite's GPU memory planner and ONNX
Runtime's allocation planner (Pisarchyk & Lee 2020, "Efficient Memory Management for Deep Neural Net
Inference", section 4.3): buffers in order of decreasing size, each put into the smallest gap (lowest
offset on ties) between the already placed buffers whose lifetimes intersect its own, or on top of
them when no gap fits. Offsets are aligned to ``ALIGNMENT`` bytes (a cache line, and the widest
vector load).

In-place reuse: where a kernel writes an output of the same size as an input that dies in that
kernel, and the kernel reads each element of that input only at the element it writes (the caller
says which kernels qualify), the output takes the input's memory: the two form one *group* that
is placed as one buffer. The lower bound counts such a group once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Sequence

import numpy as np

from ..errors import LuminaError

ALIGNMENT = 64


class LuminaMemoryError(LuminaError):
    """A memory plan was asked for with inconsistent buffers, lifetimes or kernels."""


def aligned_bytes(nbytes: int, alignment: int = ALIGNMENT):
    """A uint8 NumPy array of ``nbytes`` whose data starts at a multiple of ``alignment`` bytes:
    an arena the plan's offsets can index."""
    raw = np.empty(nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + nbytes]


def align(n: int, alignment: int = ALIGNMENT) -> int:
    """``n`` rounded up to a multiple of ``alignment``."""
    return -(-n // alignment) * alignment


@dataclass
class MemoryPlan:
    """Where every intermediate buffer lives in the arena.

    ``arena_bytes``: size of the one arena (bytes, a multiple of ``ALIGNMENT``); ``naive_bytes``: the
    sum of every intermediate's size (one allocation each); ``lower_bound_bytes``: the largest total
    of bytes simultaneously live at one kernel (a buffer written in place over another counted
    once), which no placement can beat; ``offsets``: buffer id -> byte offset in the arena;
    ``sizes``: buffer id -> bytes; ``intervals``: buffer id -> (first, last) kernel index of its
    lifetime, inclusive; ``inplace``: output buffer id -> the input buffer whose memory it takes.
    """
    arena_bytes: int
    naive_bytes: int
    lower_bound_bytes: int
    offsets: dict[Hashable, int]
    sizes: dict[Hashable, int] = field(default_factory=dict)
    intervals: dict[Hashable, tuple[int, int]] = field(default_factory=dict)
    inplace: dict[Hashable, Hashable] = field(default_factory=dict)

    def describe(self) -> str:
        """A table of the buffers (offset, size, lifetime, in-place source) in offset order, then
        the summary line ``memory: arena P bytes, naive N bytes, lower bound L bytes``."""
        lines = [f"{'buffer':>8} {'offset':>12} {'bytes':>12}  live (kernels)"]
        for b in sorted(self.offsets, key=lambda b: (self.offsets[b], self.intervals.get(b, (0, 0)), str(b))):
            first, last = self.intervals.get(b, (0, 0))
            note = f"  in place of {self.inplace[b]}" if b in self.inplace else ""
            lines.append(f"{str(b):>8} {self.offsets[b]:>12} {self.sizes.get(b, 0):>12}  [{first}, {last}]{note}")
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        """``memory: arena P bytes, naive N bytes, lower bound L bytes``."""
        return (f"memory: arena {self.arena_bytes} bytes, naive {self.naive_bytes} bytes, "
                f"lower bound {self.lower_bound_bytes} bytes")


def live_intervals(kernels: Sequence[tuple[Sequence, Sequence]], buffers,
                   horizon: Sequence[int] | None = None) -> dict[Hashable, tuple[int, int]]:
    """``{buffer: (first, last)}``, inclusive kernel indices, for every id in ``buffers`` that a
    kernel touches. ``kernels[i]`` is ``(reads, writes)`` of kernel ``i`` (buffer ids; ids outside
    ``buffers``, such as graph inputs and outputs, are ignored). ``horizon[i] >= i`` is the last
    kernel that may still run at the same time as kernel ``i`` (default ``i``: kernels run one
    after another); a buffer touched by kernel ``i`` is live through ``horizon[i]``."""
    wanted = set(buffers)
    out: dict = {}
    for i, (reads, writes) in enumerate(kernels):
        end = i if horizon is None else horizon[i]
        if end < i:
            raise LuminaMemoryError(f"live_intervals: horizon of kernel {i} is {end}, before the kernel")
        for b in (*reads, *writes):
            if b in wanted:
                first, last = out.get(b, (i, end))
                out[b] = (min(first, i), max(last, end))
    return out


def assign_offsets(sizes: dict[Hashable, int], intervals: dict[Hashable, tuple[int, int]],
                   alignment: int = ALIGNMENT) -> tuple[dict[Hashable, int], int]:
    """``({buffer: byte offset}, arena bytes)``: greedy by size, best fit (see the module
    docstring). ``sizes`` in bytes; ``intervals`` inclusive ``(first, last)`` per buffer, the same
    keys. Two buffers whose intervals intersect never overlap in memory. Raises LuminaMemoryError
    for a negative size, an empty interval or a buffer without an interval."""
    for b, n in sizes.items():
        if n < 0:
            raise LuminaMemoryError(f"assign_offsets: buffer {b} has negative size {n}")
        if b not in intervals:
            raise LuminaMemoryError(f"assign_offsets: buffer {b} has no live interval")
        if intervals[b][0] > intervals[b][1]:
            raise LuminaMemoryError(f"assign_offsets: buffer {b} has an empty interval {intervals[b]}")
    order = sorted(sizes, key=lambda b: (-sizes[b], intervals[b][0], intervals[b][1]))
    placed: list[tuple[int, int, int, int]] = []   # (offset, end offset, first, last)
    offsets: dict = {}
    arena = 0
    for b in order:
        need = align(sizes[b], alignment)
        first, last = intervals[b]
        busy = sorted((lo, hi) for lo, hi, f, l in placed if f <= last and first <= l)
        best, best_gap, top = None, None, 0
        for lo, hi in busy:
            gap = lo - top
            if gap >= need and (best_gap is None or gap < best_gap):
                best, best_gap = top, gap
            top = max(top, hi)
        offset = top if best is None else best
        offsets[b] = offset
        placed.append((offset, offset + need, first, last))
        arena = max(arena, offset + need)
    return offsets, arena


def lower_bound(sizes: dict[Hashable, int], intervals: dict[Hashable, tuple[int, int]]) -> int:
    """The largest sum of ``sizes`` over buffers whose intervals all contain one kernel index."""
    events = sorted([(f, 0, sizes[b]) for b, (f, _) in intervals.items() if b in sizes] +
                    [(l, 1, -sizes[b]) for b, (_, l) in intervals.items() if b in sizes])
    live = best = 0
    for _, _, delta in events:   # at one index, starts (0) come before ends (1): both are live there
        live += delta
        best = max(best, live)
    return best


def plan(kernels: Sequence[tuple[Sequence, Sequence]], sizes: dict[Hashable, int],
         horizon: Sequence[int] | None = None,
         inplace: Sequence[tuple[int, Hashable, Hashable]] = (),
         alignment: int = ALIGNMENT) -> MemoryPlan:
    """The memory plan of the intermediates ``sizes`` ({buffer id: bytes}) of ``kernels`` (``(reads,
    writes)`` per kernel in launch order, as in ``live_intervals``; ``horizon`` likewise).

    ``inplace`` lists candidates ``(kernel, input id, output id)``: kernel ``kernel`` reads input
    element k only while writing output element k (an elementwise kernel whose loads of that input
    are at the store's index). A candidate is taken when both buffers are intermediates of the
    same size, the input is last touched by that kernel, and every other kernel touching the
    input is ordered before it (its horizon ends before ``kernel``).

    Raises LuminaMemoryError when an intermediate is never touched by a kernel.
    """
    intervals = live_intervals(kernels, sizes, horizon)
    missing = [b for b in sizes if b not in intervals]
    if missing:
        raise LuminaMemoryError(f"memory plan: intermediate buffers {missing[:5]} are never touched by a kernel")
    horizon = list(horizon) if horizon is not None else list(range(len(kernels)))
    touches: dict = {}
    for i, (reads, writes) in enumerate(kernels):
        for b in (*reads, *writes):
            if b in sizes:
                touches.setdefault(b, set()).add(i)

    # Union the in-place pairs into groups (a chain of elementwise kernels shares one buffer).
    group = {b: b for b in sizes}

    def root(b):
        while group[b] != b:
            b = group[b]
        return b

    taken_in, taken_out, source = set(), set(), {}
    for k, src, dst in inplace:
        if src not in sizes or dst not in sizes or src in taken_in or dst in taken_out or src == dst:
            continue
        if sizes[src] != sizes[dst] or max(touches[src]) != k or min(touches[dst]) != k:
            continue
        if any(horizon[j] >= k for j in touches[src] if j != k):
            continue
        taken_in.add(src)
        taken_out.add(dst)
        source[dst] = src
        group[root(dst)] = root(src)

    members: dict = {}
    for b in sizes:
        members.setdefault(root(b), []).append(b)
    g_sizes = {g: sizes[g] for g in members}
    g_intervals = {g: (min(intervals[b][0] for b in bs), max(intervals[b][1] for b in bs))
                   for g, bs in members.items()}
    g_offsets, arena = assign_offsets(g_sizes, g_intervals, alignment)
    offsets = {b: g_offsets[g] for g, bs in members.items() for b in bs}
    return MemoryPlan(arena, sum(sizes.values()), lower_bound(g_sizes, g_intervals), offsets,
                      dict(sizes), intervals, source)
