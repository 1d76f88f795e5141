"""The CPU thread pool that splits a kernel's outermost loop across cores.

Kernels are called through ctypes, which releases the GIL for the duration of the call, so chunks
run truly in parallel. ``LUMINA_NUM_THREADS`` overrides the core count.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Callable

# Below this many innermost iterations a kernel runs on the calling thread: a pool hand-off costs
# tens of microseconds, more than the work saves.
PARALLEL_MIN_WORK = 1 << 15


def num_threads() -> int:
    env = os.environ.get("LUMINA_NUM_THREADS")
    return max(1, int(env)) if env else (os.cpu_count() or 1)


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, num_threads() - 1), thread_name_prefix="lumina")


def parallel_for(call: Callable[[int, int, int], None], extent: int, work: int) -> None:
    """Run ``call(start, end, worker)`` over chunks of ``range(extent)``; ``work`` sizes the split."""
    n = min(num_threads(), extent, max(1, work // PARALLEL_MIN_WORK))
    if n <= 1:
        call(0, extent, 0)
        return
    bounds = [extent * i // n for i in range(n + 1)]
    futures = [_pool().submit(call, bounds[i], bounds[i + 1], i) for i in range(1, n)]
    call(bounds[0], bounds[1], 0)
    for f in futures:
        f.result()
