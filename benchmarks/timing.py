"""Timing helpers shared by the benchmarks: best-of-N wall time and one printed comparison row."""
from __future__ import annotations

import time


def settle(seconds: float = 0.3) -> None:
    """Wait until the previous library's worker threads have gone to sleep: OpenBLAS and OpenMP
    threads spin for a while after a call, and a spinning thread takes a core from the next
    library timed (lumina's two-thread GEMMs ran at half speed right after NumPy's)."""
    time.sleep(seconds)


def best_ms(fn, repeat: int, warmup: int = 2) -> float:
    """The fastest of ``repeat`` calls of ``fn`` after ``warmup`` calls, in milliseconds, after
    ``settle()``."""
    settle()
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def row(name: str, ms: float, lumina_ms: float, extra: str = "") -> None:
    """One competitor's time and lumina's speedup over it (>1: lumina is faster)."""
    print(f"  {name:<16} {ms:9.3f} ms   lumina {ms / lumina_ms:5.2f}x{'' if not extra else '   ' + extra}")
