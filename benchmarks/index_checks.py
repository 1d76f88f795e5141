"""What the run-time index checks cost: the same compiled steps built with and without them
(``lumina.tensor.indexing.RUN_TIME_CHECKS``), in one process, timed alternately, best of
``--rounds``.

* ``train``: Embedding(2000, 128) -> Linear(128, 2000) on 32 x 64 tokens, cross_entropy over the
  2000 classes, SGD with momentum (checks: the tokens, the labels, the VJP's index);
* ``lookups``: ``x[rows]`` of 8192 rows, ``x.gather(1, cols)`` of 4096 x 64, ``embedding`` of 4096
  rows of a 4096 x 256 table.

    python benchmarks/index_checks.py [--rounds 15]
    LUMINA_NUM_THREADS=1 python benchmarks/index_checks.py     # the steady number on a busy machine

Prints each step's best wall time per call both ways, the best CPU time of the calling thread
(all of the step's work when ``LUMINA_NUM_THREADS=1``; preemption by other processes does not count
there, which makes it the figure to trust on a shared machine), and the per-kernel best times
(``CompiledFunction.profile``) summed over the step.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lumina
from lumina.tensor import indexing
import lumina.nn as nn
import lumina.nn.functional as F
from lumina.testing.programs import train_step

V, D, C, B, T = 2000, 128, 2000, 32, 64


def build(checks: bool) -> dict:
    """``{name: (compiled function, args)}``, traced and compiled with checks on or off."""
    rng = np.random.default_rng(0)
    indexing.RUN_TIME_CHECKS = checks
    try:
        lumina.manual_seed(1)
        model = nn.Sequential(nn.Embedding(V, D), nn.Linear(D, C))
        opt = lumina.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        step = train_step(model, opt, lambda out, y: F.cross_entropy(out.reshape(-1, C), y))

        @lumina.compile
        def lookups(x, rows, cols):
            return x[rows].sum(1), x[:4096].gather(1, cols).sum(1), F.embedding(rows[:4096], x).mean(1)

        steps = {"train": (step, (lumina.tensor(rng.integers(0, V, (B, T))), lumina.tensor(rng.integers(0, C, B * T)))),
                 "lookups": (lookups, (lumina.tensor(rng.standard_normal((4096, 256)).astype(np.float32)),
                                       lumina.tensor(rng.integers(0, 4096, 8192)),
                                       lumina.tensor(rng.integers(0, 256, (4096, 64)))))}
        for fn, args in steps.values():
            fn(*args)   # trace and compile now, under this setting
    finally:
        indexing.RUN_TIME_CHECKS = True
    return steps


def best_call(fn, args, calls: int) -> tuple[float, float]:
    """(wall, calling thread's CPU) seconds per call."""
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - t0) / calls, (time.thread_time() - c0) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    rounds = ap.parse_args().rounds
    off, on = build(False), build(True)
    for name, calls in (("train", 5), ("lookups", 20)):
        a, b, ka, kb = [float("inf")] * 2, [float("inf")] * 2, float("inf"), float("inf")
        for _ in range(rounds):   # alternate, so a busy moment hits both
            a = [min(x, y) for x, y in zip(a, best_call(*off[name], calls))]
            b = [min(x, y) for x, y in zip(b, best_call(*on[name], calls))]
            ka = min(ka, sum(t for _, t in off[name][0].profile(*off[name][1], repeat=5)))
            kb = min(kb, sum(t for _, t in on[name][0].profile(*on[name][1], repeat=5)))
        print(f"{name}: without checks / with them: wall {a[0] * 1e3:.3f} / {b[0] * 1e3:.3f} ms per call "
              f"({100 * (b[0] / a[0] - 1):+.1f}%); CPU {a[1] * 1e3:.3f} / {b[1] * 1e3:.3f} ms "
              f"({100 * (b[1] / a[1] - 1):+.1f}%); kernels {ka * 1e3:.3f} / {kb * 1e3:.3f} ms ({100 * (kb / ka - 1):+.1f}%)")


if __name__ == "__main__":
    main()
