"""Static thread schedule of an executable's launches: who runs what, and where threads must meet.

Every thread of the pool walks the whole launch list (SPMD, as an OpenMP parallel region does). A
launch is either *split*, its outer loop cut into one chunk per thread (``split``), or
*whole*, run by one thread. A whole launch goes to the thread that wrote what it reads since the
last barrier, if only one did (no barrier needed), otherwise to the thread with the least work
since the last barrier, so independent small kernels (each parameter's optimizer update) run side
by side.

A barrier goes before a launch only where it would otherwise race with work since the previous
barrier: it reads a buffer that another thread wrote (read after write), or writes one another
thread read or wrote (write after read / write). Independent launches run back to back.
"""
from __future__ import annotations

from dataclasses import dataclass


# A split costs a barrier in the native plan (about a microsecond), not a hand-off to the thread pool
# (about 18 µs): smaller launches than the pool's PARALLEL_MIN_WORK pay to split.
PLAN_MIN_WORK = 1 << 13


def split(extent: int, work: int, min_work: int, n_threads: int) -> list[int]:
    """Chunk boundaries of ``range(extent)`` for a launch of ``work`` innermost iterations: at most
    ``n_threads`` chunks of at least ``min_work`` iterations each (one chunk: ``[0, extent]``)."""
    n = max(1, min(n_threads, extent, work // min_work))
    return [extent * i // n for i in range(n + 1)]


@dataclass(frozen=True)
class Step:
    """Launch ``launch`` after a barrier if ``barrier``; ``bounds[t]`` is thread ``t``'s
    ``(start, end)`` of the outer loop, ``None`` for a thread that skips it."""
    launch: int
    barrier: bool
    bounds: tuple[tuple[int, int] | None, ...]

    def threads(self) -> list[int]:
        return [t for t, b in enumerate(self.bounds) if b is not None]


def schedule(launches, n_threads: int) -> list[Step]:
    """The steps of ``launches`` (objects with ``extent``, ``work``, ``reads``, ``writes``) on
    ``n_threads`` threads."""
    steps = []
    writers: dict[int, set[int]] = {}   # buffer slot -> threads that wrote it since the barrier
    readers: dict[int, set[int]] = {}
    load = [0] * n_threads
    for i, launch in enumerate(launches):
        chunks = split(launch.extent, launch.work, PLAN_MIN_WORK, n_threads)
        if len(chunks) > 2:
            bounds = [(chunks[t], chunks[t + 1]) if t + 1 < len(chunks) else None for t in range(n_threads)]
        else:
            pending = set().union(*(writers.get(s, set()) for s in launch.reads))
            t = next(iter(pending)) if len(pending) == 1 else min(range(n_threads), key=load.__getitem__)
            bounds = [(0, launch.extent) if u == t else None for u in range(n_threads)]
        mine = {t for t, b in enumerate(bounds) if b is not None}
        barrier = any(_conflict(writers.get(s), mine) for s in launch.reads) or any(
            _conflict(writers.get(s), mine) or _conflict(readers.get(s), mine) for s in launch.writes)
        if barrier:
            writers, readers, load = {}, {}, [0] * n_threads
            if len(mine) == 1:     # the barrier frees every thread: take the least loaded (thread 0)
                bounds = [(0, launch.extent) if u == 0 else None for u in range(n_threads)]
                mine = {0}
        for s in launch.reads:
            readers.setdefault(s, set()).update(mine)
        for s in launch.writes:
            writers.setdefault(s, set()).update(mine)
        for t in mine:
            load[t] += launch.work // len(mine)
        steps.append(Step(i, barrier and i > 0, tuple(bounds)))
    return steps


def _conflict(others: set[int] | None, mine: set[int]) -> bool:
    """Whether threads ``mine`` touching a buffer races with ``others`` having touched it."""
    return bool(others) and not (len(mine) == 1 and others <= mine)


def horizons(steps: list[Step]) -> list[int]:
    """For each step ``i``, the last step that may still run at the same time as step ``i``
    (``i`` itself when every later step is ordered after it). Step ``j > i`` is ordered after ``i``
    when a barrier lies in ``(i, j]``, or when both run whole on the same thread (program order);
    the memory planner keeps a buffer live through the horizon of every step that touches it."""
    out = list(range(len(steps)))
    end = len(steps)
    while end > 0:   # phases between barriers, last first, each scanned backwards
        begin = end - 1
        while begin > 0 and not steps[begin].barrier:
            begin -= 1
        last = None                      # the last step of the phase after i
        not_only: dict[int, int] = {}    # thread t -> the last step after i not run by t alone
        for i in range(end - 1, begin - 1, -1):
            mine = steps[i].threads()
            if last is not None:
                out[i] = not_only.get(mine[0], i) if len(mine) == 1 else last
            last = i if last is None else last
            for t in range(len(steps[i].bounds)):
                if mine != [t]:
                    not_only.setdefault(t, i)
        end = begin
    return out
