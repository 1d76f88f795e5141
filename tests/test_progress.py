"""Progress bars (``lumina.progress``): a compile that runs past ``COMPILE_BAR_DELAY`` shows a bar
counting the code modules it builds, where bars are on; a short one, or one with bars off, draws
nothing."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

_PROGRAM = textwrap.dedent("""
    import numpy as np, lumina
    from lumina import progress
    progress.COMPILE_BAR_DELAY = float({delay!r})
    x = np.ones((64, 64), np.float32)
    f = lumina.compile(lambda a: (lumina.nn.functional.gelu(a @ a) + 1.0).softmax(-1).sum(0))
    print(float(f(x).numpy().sum()))
""")


def _stderr(delay: float, progress: str, cache: str) -> str:
    env = dict(os.environ, LUMINA_PROGRESS=progress, LUMINA_CACHE=cache)
    done = subprocess.run([sys.executable, "-c", _PROGRAM.format(delay=delay)], env=env, capture_output=True,
                          text=True, check=True)
    return done.stderr


def test_a_long_compile_shows_its_bar_and_a_short_one_does_not(tmp_path):
    bar = _stderr(0.0, "1", "off")
    assert re.search(r"compiling lambda: [1-9]\d* modules", bar)   # the GEMM, the kernels...
    assert "compiling" not in _stderr(60.0, "1", "off")     # done before the bar's delay
    assert "compiling" not in _stderr(0.0, "0", "off")      # bars off
