"""Progress bars for long work (importing large ONNX graphs, compiling, benchmarks), through ``tqdm``.

A bar is drawn on stderr when it is a terminal and the work is long enough to be worth one;
``LUMINA_PROGRESS=1`` forces bars on (for logs), ``LUMINA_PROGRESS=0`` turns them off.

A compile (``compiling``) counts the code modules it builds or loads (``module_done``, which the
JIT calls); its bar appears only once the compile has taken ``COMPILE_BAR_DELAY`` seconds, so
the short ones, nearly all of them, draw nothing.
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

MIN_ITEMS = 200   # fewer steps than this finish too fast for a bar
COMPILE_BAR_DELAY = 1.0   # seconds a compile runs before its bar appears


def enabled(total: int) -> bool:
    forced = os.environ.get("LUMINA_PROGRESS")
    if forced is not None:
        return forced not in ("", "0")
    return total >= MIN_ITEMS and sys.stderr.isatty()


_COMPILE = threading.local()   # the bar of the compile running in this thread, if any


@contextmanager
def compiling(what: str) -> Iterator[None]:
    """Within the block, this thread's compile of ``what`` (a graph's name) shows a bar of the
    modules it has built once it has run ``COMPILE_BAR_DELAY`` seconds (where bars are on:
    ``enabled``, whatever the count). Nested blocks keep the outer bar."""
    if getattr(_COMPILE, "bar", None) is not None or not enabled(MIN_ITEMS):
        yield
        return
    from tqdm import tqdm
    _COMPILE.bar = tqdm(desc=f"compiling {what}", unit=" modules", file=sys.stderr, leave=False,
                        delay=COMPILE_BAR_DELAY)
    try:
        yield
    finally:
        _COMPILE.bar.close()
        _COMPILE.bar = None


def module_done() -> None:
    """Count one module in this thread's compile bar, if it has one."""
    bar = getattr(_COMPILE, "bar", None)
    if bar is not None:
        bar.update(1)


def progress(iterable, desc: str, total: int | None = None, unit: str = "it"):
    """``iterable`` wrapped in a tqdm bar named ``desc`` where ``enabled``; else ``iterable`` itself."""
    total = len(iterable) if total is None else total
    if not enabled(total):
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, leave=False)
