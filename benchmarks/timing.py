"""Timing helpers shared by the benchmarks: best-of-N wall time and one printed comparison row."""
from __future__ import annotations

import time


def best_ms(fn, repeat: int, warmup: int = 2) -> float:
    """The fastest of ``repeat`` calls of ``fn`` after ``warmup`` calls, in milliseconds."""
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
