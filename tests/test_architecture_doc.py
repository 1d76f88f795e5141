"""docs/architecture.md quotes what lumina prints for ``a * b`` and names the file of each step:
the quotes must be what lumina prints today, and the files must exist."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import lumina

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _lowered():
    f = lumina.compile(lambda a, b: a * b)
    return f.lower(np.arange(4, dtype=np.float32), np.ones(4, np.float32))


def test_the_quoted_texts_are_what_lumina_prints():
    low = _lowered()
    assert low.as_text("input").strip() in DOC
    assert low.executable.info["partition"].describe().strip() in DOC
    kernel = low.as_text("kernel")
    quoted = kernel[kernel.index("// from IR:"):].strip()
    assert quoted in DOC
    fmul = [line for line in low.executable.info["llvm"].splitlines() if "fmul" in line]
    assert fmul and fmul[0] in DOC


def test_every_file_named_exists():
    named = set(re.findall(r"`(lumina/[\w/]+\.py)`", DOC))
    named |= {f"lumina/{p}" for p in re.findall(r"`((?:backends|codegen|schedule|ir|transforms|tensor)/[\w/]+\.py)`", DOC)}
    assert len(named) >= 10
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, missing
