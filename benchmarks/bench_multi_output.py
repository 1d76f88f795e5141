"""Multi-output row kernels on and off (``schedule.options.FusionOptions.multi_output``), in one process.

    python benchmarks/bench_multi_output.py [--repeat 20] [--rounds 3]

Times (best of ``repeat`` calls, over ``rounds`` alternating rounds of on and off, so a drifting VM
hits both alike) and kernel counts of: a softmax and a LayerNorm forward over [4096, 1024] float32,
and the Micro-GPT training step of ``bench_training.py`` (3 layers, 128 wide, 4 heads, context 64,
batch 32, AdamW + clipping). Each configuration is compiled once, before any timing.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, str(ROOT / "examples"))
from machine import describe  # noqa: E402
from timing import best_ms  # noqa: E402

import lumina  # noqa: E402
from lumina.compiler import CompileOptions, cache_clear  # noqa: E402
from lumina.nn import functional as F  # noqa: E402
from lumina.nn.utils import clip_grad_norm_  # noqa: E402
from lumina.schedule.options import FusionOptions  # noqa: E402
from lumina.backends.cpu.threads import num_threads  # noqa: E402
import micro_gpt  # noqa: E402


def compiled(make, args, multi_output: bool):
    """``(call, kernels)``: ``make()``'s function compiled afresh with ``multi_output`` as given."""
    cache_clear()
    fn = lumina.compile(make(), options=CompileOptions(FusionOptions(multi_output=multi_output)))
    fn(*args)
    return (lambda: fn(*args).numpy()), len(fn.lower(*args).kernels())


def gpt_step():
    vocab, block, n_layer, n_embd, n_head, batch = 84, 64, 3, 128, 4, 32
    ids = np.random.default_rng(0).integers(0, vocab, (batch, block + 1))
    lumina.manual_seed(0)
    model = micro_gpt.MicroGPT(vocab, block, n_layer, n_embd, n_head)
    opt = lumina.optim.AdamW(model.parameters(), lr=3e-3)

    def make():
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
            loss.backward()
            clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss
        return step
    return make, (lumina.tensor(ids[:, :-1]), lumina.tensor(ids[:, 1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(describe())
    print(f"lumina threads: {num_threads()}\n")
    rng = np.random.default_rng(0)
    x = lumina.tensor(rng.standard_normal((4096, 1024)).astype(np.float32))
    w = lumina.tensor(rng.standard_normal(1024).astype(np.float32))
    b = lumina.tensor(rng.standard_normal(1024).astype(np.float32))
    cases = {
        "softmax [4096, 1024]": (lambda: (lambda x: F.softmax(x, -1)), (x,)),
        "layer_norm [4096, 1024]": (lambda: (lambda x, w, b: F.layer_norm(x, 1024, w, b)), (x, w, b)),
        "Micro-GPT training step": gpt_step(),
    }
    print("| case | kernels off -> on | ms off | ms on | on / off |\n| --- | --- | --- | --- | --- |")
    for name, (make, call_args) in cases.items():
        runs = {on: compiled(make, call_args, on) for on in (False, True)}
        best = {False: float("inf"), True: float("inf")}
        for _ in range(args.rounds):
            for on in (False, True):
                best[on] = min(best[on], best_ms(runs[on][0], args.repeat))
        print(f"| {name} | {runs[False][1]} -> {runs[True][1]} | {best[False]:.3f} | {best[True]:.3f} | "
              f"{best[True] / best[False]:.2f} |")


if __name__ == "__main__":
    main()
