"""Why a compiled function traced again (``lumina.recompiles``): each new trace after the first is
explained against the entry it ran last, in ``cache_info()["recompiles"]``, on the
``lumina.recompiles`` logger, and on stderr under ``LUMINA_LOG=recompiles``."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np

import lumina


def _step():
    @lumina.compile
    def step(x, w, scale):
        return (x @ w * scale).sum()
    return step


def test_each_new_signature_is_explained(caplog):
    step = _step()
    w = lumina.tensor(np.ones((64, 8), np.float32), requires_grad=True)
    x = np.ones((32, 64), np.float32)
    with caplog.at_level(logging.INFO, logger="lumina.recompiles"):
        step(x, w, 2.0)
        step(x, w, 2.0)                                   # cached: nothing to explain
        step(np.ones((17, 64), np.float32), w, 2.0)
        step(np.ones((17, 64), np.float32), w, 3.0)
        step(np.ones((17, 64), np.float64), w, 3.0)
        step(np.ones((17, 64), np.float64), w.detach(), 3.0)
    reasons = step.cache_info()["recompiles"]
    assert len(reasons) == 4
    # the batch dim seen at a second size is symbolic from then on (torch.compile's automatic dynamic)
    assert reasons[0].endswith("x: shape (32, 64) -> (s0, 64) (dim 0 symbolic: one executable for every size)")
    assert reasons[1].endswith("scale: static 2.0 -> static 3.0")
    assert reasons[2].endswith("x: dtype float32 -> float64")
    assert reasons[3].endswith("w: requires_grad True -> False")
    assert "step (test_recompiles.py:" in reasons[0]
    assert [r.getMessage() for r in caplog.records if r.name == "lumina.recompiles"] == reasons


def test_a_grad_that_appears_is_explained():
    w = lumina.tensor(np.ones(4, np.float32), requires_grad=True)

    @lumina.compile
    def read(x):
        return x * 2 if w.grad is None else x + w.grad
    x = np.ones(4, np.float32)
    read(x)
    (w * 3).sum().backward()
    np.testing.assert_array_equal(read(x).numpy(), x + 3)
    (reason,) = read.cache_info()["recompiles"]
    assert "the .grad of a f32[4] state tensor" in reason


def test_lumina_log_prints_them_on_stderr(tmp_path):
    program = textwrap.dedent("""
        import numpy as np, lumina
        f = lumina.compile(lambda x: x.sum())
        f(np.ones(3, np.float32)); f(np.ones(5, np.float32))
    """)
    env = dict(os.environ, LUMINA_LOG="recompiles")
    err = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True).stderr
    assert "lumina.recompiles:" in err and "x: shape (3,) -> (s0,) (dim 0 symbolic" in err
    quiet = subprocess.run([sys.executable, "-c", program], env={k: v for k, v in env.items() if k != "LUMINA_LOG"},
                           capture_output=True, text=True, check=True).stderr
    assert "recompiles" not in quiet
