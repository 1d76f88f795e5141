"""Core benchmarks: lumina vs NumPy vs PyTorch eager vs torch.compile, in one process.

    python benchmarks/bench_core.py [--repeat 20] [--no-torch-compile]

(a) ``relu(a*b + c).sum()`` over 16M float32 (one fused pass over the inputs);
(b) a 1024x1024 float32 matmul (GFLOP/s of lumina's generated GEMM vs NumPy's BLAS);
(c) one training step of a 784-512-512-10 MLP at batch 256 (forward, backward, SGD), and the
    first-call compile time of that step.
Prints the machine and ratios; the numbers go into benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from machine import describe  # noqa: E402
from timing import best_ms, row  # noqa: E402

import lumina  # noqa: E402
import lumina.nn as nn  # noqa: E402
from lumina.nn import functional as F  # noqa: E402
from lumina.backends.cpu.threads import num_threads  # noqa: E402


def bench_fused(repeat: int, use_compile: bool, torch) -> None:
    n = 1 << 24
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(n, dtype=np.float32) for _ in range(3))

    @lumina.compile
    def fused(a, b, c):
        return (a * b + c).relu().sum()

    expect = np.maximum(a * b + c, 0).sum(dtype=np.float64)
    got = fused(a, b, c).item()
    assert abs(got - expect) / abs(expect) < 1e-4, (got, expect)
    lum = best_ms(lambda: fused(a, b, c), repeat)
    print(f"(a) relu(a*b + c).sum(), 16M float32 ({len(fused.lower(a, b, c).kernels())} kernels: "
          "one fused pass + a 64-element final sum)")
    print(f"  {'lumina':<16} {lum:9.3f} ms")
    row("numpy", best_ms(lambda: np.maximum(a * b + c, 0).sum(), repeat), lum)
    ta, tb, tc = (torch.from_numpy(x) for x in (a, b, c))
    row("torch eager", best_ms(lambda: torch.relu(ta * tb + tc).sum(), repeat), lum)
    if use_compile:
        tf = torch.compile(lambda a, b, c: torch.relu(a * b + c).sum())
        row("torch.compile", best_ms(lambda: tf(ta, tb, tc), repeat), lum)


def bench_matmul(repeat: int, torch) -> None:
    n = 1024
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    mm = lumina.compile(lambda a, b: a @ b)
    assert np.allclose(mm(a, b).numpy(), a @ b, rtol=1e-3, atol=1e-3)
    flop = 2 * n ** 3
    lum = best_ms(lambda: mm(a, b), repeat)
    print("(b) 1024x1024 float32 matmul")
    print(f"  {'lumina':<16} {lum:9.3f} ms   {flop / lum / 1e6:7.1f} GFLOP/s")
    for name, fn in (("numpy (BLAS)", lambda: a @ b),
                     ("torch eager", lambda: torch.from_numpy(a) @ torch.from_numpy(b))):
        ms = best_ms(fn, repeat)
        row(name, ms, lum, f"{flop / ms / 1e6:7.1f} GFLOP/s")


def bench_mlp(repeat: int, use_compile: bool, torch) -> None:
    batch, sizes = 256, (784, 512, 512, 10)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    lumina.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = lumina.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    step(x, y)
    compile_s = time.perf_counter() - t0
    lum = best_ms(lambda: step(x, y), repeat)
    print("(c) MLP 784-512-512-10 training step, batch 256 (forward, backward, SGD momentum)")
    print(f"  {'lumina':<16} {lum:9.3f} ms   first call (trace + compile) {compile_s:.2f} s, "
          f"{len(step.lower(x, y).kernels())} kernels")

    tm = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                             torch.nn.ReLU(), torch.nn.Linear(512, 10))
    topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def tstep():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
        topt.step()
        return loss
    row("torch eager", best_ms(tstep, repeat), lum)
    if use_compile:
        cstep = torch.compile(tstep)
        t0 = time.perf_counter()
        cstep()
        tc_compile = time.perf_counter() - t0
        row("torch.compile", best_ms(cstep, repeat), lum, f"first call {tc_compile:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-torch-compile", action="store_true")
    args = parser.parse_args()
    import torch
    print(describe())
    print(f"lumina threads: {num_threads()}\n")
    use_compile = not args.no_torch_compile
    bench_fused(args.repeat, use_compile, torch)
    bench_matmul(args.repeat, torch)
    bench_mlp(args.repeat, use_compile, torch)


if __name__ == "__main__":
    main()
