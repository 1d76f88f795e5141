"""New batch sizes through one compiled function: the cost of each new size, and the memory after
many.

    python benchmarks/bench_dynamic.py [--sizes 200] [--model mlp|step|minilm]

Builds a model: an MLP (784-1024-1024-10), its SGD training step with a cross-entropy loss (a mean
over the batch: ``--model step``), or paraphrase-MiniLM-L3-v2 from ONNX at sequence 64, whose named
dims are symbolic from its first call (``--model minilm``). It calls it (``@lumina.compile``, whose
automatic dynamic shapes make the batch dim symbolic at its second size) at batch 64 (the first
compile), 63 (the compile with the batch dim symbolic), 62 (a new size of that executable) and
``--sizes`` more batch sizes, and prints each one's first-call time as a share of the first
compile, whether the executable was symbolic, and the process's peak resident memory before and
after the sizes. The disk cache is off, so every compile is paid in this process.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ["LUMINA_CACHE"] = "off"
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402

import lumina  # noqa: E402
import lumina.nn as nn  # noqa: E402
import lumina.nn.functional as F  # noqa: E402
from lumina.backends.cpu.symbolic_executable import SymbolicExecutable  # noqa: E402
from machine import describe  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mlp(kind: str):
    """``(call(n) -> seconds of a call at batch n, executable of the last call)`` for the MLP or
    its training step."""
    lumina.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    opt = lumina.optim.SGD(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)

    if kind == "mlp":
        def fn(x, y):
            return model(x)
    else:
        def fn(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
    f = lumina.compile(fn)

    def call(n: int) -> float:
        x = lumina.tensor(rng.standard_normal((n, 784)).astype(np.float32))
        y = lumina.tensor(rng.integers(0, 10, n))
        t0 = time.perf_counter()
        f(x, y).numpy()
        return time.perf_counter() - t0
    return call, lambda: f._last.executable, lambda: f.cache_info()["entries"]


def _minilm():
    """The same for paraphrase-MiniLM-L3-v2 (ONNX; ``batch`` and ``sequence`` named) at sequence 64."""
    import lumina.onnx
    from bench_onnx import minilm_inputs
    from lumina.testing import registry
    m = lumina.onnx.load(registry.fetch(registry.MINILM))

    def call(n: int) -> float:
        inputs = minilm_inputs(n, 64)
        t0 = time.perf_counter()
        m(**inputs)
        return time.perf_counter() - t0
    return call, lambda: m._compiled._last.executable, lambda: m._compiled.cache_info()["entries"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, default=200)
    parser.add_argument("--model", choices=("mlp", "step", "minilm"), default="mlp")
    args = parser.parse_args()
    print(describe())
    call, executable, entries = _minilm() if args.model == "minilm" else _mlp(args.model)
    print(f"model: {args.model}" + ("" if args.model == "minilm" else " (MLP 784-1024-1024-10)"))
    first = call(64)
    print(f"  batch 64 (first compile)        {first:7.3f} s")
    for n, what in ((63, "the batch dim made symbolic"), (62, "a new size")):
        t = call(n)
        print(f"  batch {n} ({what}) {t:7.3f} s  {t / first:6.1%} of the first  "
              f"symbolic: {isinstance(executable(), SymbolicExecutable)}")
    before = _rss_mb()
    times = [call(n) for n in range(2, 2 + args.sizes)]
    print(f"  {args.sizes} more sizes (2..{1 + args.sizes}): first call median {np.median(times) * 1e3:.1f} ms, "
          f"max {max(times) * 1e3:.1f} ms ({np.median(times) / first:.1%} of the first compile)")
    print(f"  peak RSS: {before:.0f} MB before them, {_rss_mb():.0f} MB after; compiled entries {entries()}")


if __name__ == "__main__":
    main()
