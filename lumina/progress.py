"""Progress bars for long work (importing large ONNX graphs, benchmarks), through ``tqdm``.

A bar is drawn on stderr when it is a terminal and the work is long enough to be worth one;
``LUMINA_PROGRESS=1`` forces bars on (for logs), ``LUMINA_PROGRESS=0`` turns them off.
"""
from __future__ import annotations

import os
import sys

MIN_ITEMS = 200   # fewer steps than this finish too fast for a bar


def enabled(total: int) -> bool:
    forced = os.environ.get("LUMINA_PROGRESS")
    if forced is not None:
        return forced not in ("", "0")
    return total >= MIN_ITEMS and sys.stderr.isatty()


def progress(iterable, desc: str, total: int | None = None, unit: str = "it"):
    """``iterable`` wrapped in a tqdm bar named ``desc`` where ``enabled``; else ``iterable`` itself."""
    total = len(iterable) if total is None else total
    if not enabled(total):
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, leave=False)
