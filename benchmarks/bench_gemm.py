"""GEMM: lumina's generated kernels per ISA level against OpenBLAS (NumPy) and PyTorch, in one process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_gemm.py [--repeat 10]
        [--shape MxNxK ...] [--nt]

Unset the two OpenBLAS variables for this command only (the test environment holds OpenBLAS to a
conservative kernel; the comparison is with its best one, which the header names). Each shape is a
compiled ``a @ b`` in float32 (and float64 with ``--float64``), timed as the best of ``--repeat``
calls, for the two widest ISA levels this CPU runs (``LUMINA_ISA``: AVX-512, AVX2, baseline), on
``LUMINA_NUM_THREADS`` threads (all cores by default; PyTorch is given as many; for OpenBLAS set
``OPENBLAS_NUM_THREADS`` too). ``--shape`` replaces the default shapes; ``--nt`` times
``a @ w.T`` with ``w`` stored ``[N, K]`` (the ``nn.Linear`` layout) instead. Prints GFLOP/s,
lumina's ratio to OpenBLAS and to PyTorch (>1: lumina is faster), and the FMA peak of the ISA
(measured by ``machine.fma_peak``).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from machine import blas_kernel, describe, fma_peak  # noqa: E402
from timing import best_ms  # noqa: E402

import lumina  # noqa: E402
from lumina.backends.cpu import isa as cpu_isa  # noqa: E402
from lumina.backends.cpu.llvm_gemm import gemm_blocking  # noqa: E402
from lumina.backends.cpu.threads import num_threads  # noqa: E402

SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048), (64, 4096, 1024), (256, 784, 512), (128, 1024, 1024),
          (1, 1024, 1024), (25088, 32, 288), (6272, 64, 576)]
"""(M, N, K): square, skinny (M below the tile's 64 rows of work per thread), a CNN layer, batch 1,
and two narrow ones: a 3x3 convolution's N*H*W rows (batch 8 at 56x56 and 28x28) by its 32 or 64
output channels, as an NHWC im2col feeds them."""


def bench(dtype: str, repeat: int, isas, torch, shapes, nt: bool) -> None:
    rng = np.random.default_rng(0)
    print(f"{dtype}: GFLOP/s (lumina's ratio to OpenBLAS, to torch){'; a @ w.T, w [N, K]' if nt else ''}")
    print(f"  {'M x N x K':<18}{'OpenBLAS':>9}{'torch':>9}" + "".join(f"{'lumina ' + i:>26}" for i in isas))
    for m, n, k in shapes:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if nt else (k, n)).astype(dtype)
        flop = 2 * m * n * k
        expect = a.astype(np.float64) @ (b.T if nt else b).astype(np.float64)
        # lumina first: OpenBLAS's and OpenMP's threads spin on after their calls, and a settle
        # before each timing (timing.settle) did not always outlast them
        ours = []
        for isa in isas:
            with cpu_isa.forced(isa):
                mm = lumina.compile((lambda a, w: a @ w.T) if nt else (lambda a, b: a @ b))
                got = mm(a, b).numpy()
            tol = 1e-3 if dtype == "float32" else 1e-9
            assert np.allclose(got, expect, rtol=tol, atol=tol * np.sqrt(k)), (isa, m, n, k)
            ours.append(flop / best_ms(lambda: mm(a, b), repeat) / 1e6)
        blas = flop / best_ms((lambda: a @ b.T) if nt else (lambda: a @ b), repeat) / 1e6
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tor = flop / best_ms((lambda: ta @ tb.T) if nt else (lambda: ta @ tb), repeat) / 1e6
        line = f"  {f'{m}x{n}x{k}':<18}{blas:9.1f}{tor:9.1f}"
        for gflops in ours:
            line += f"{gflops:10.1f} ({gflops / blas:4.2f}x, {gflops / tor:4.2f}x)"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--float64", action="store_true", help="also time float64")
    parser.add_argument("--shape", action="append", metavar="MxNxK",
                        help="a shape to time instead of the defaults (repeatable)")
    parser.add_argument("--nt", action="store_true", help="time a @ w.T with w stored [N, K]")
    args = parser.parse_args()
    shapes = [tuple(int(d) for d in s.lower().split("x")) for s in args.shape] if args.shape else SHAPES
    import torch
    torch.set_num_threads(num_threads())
    isas = cpu_isa.runnable_isas()[:2]
    print(describe())
    print(f"OpenBLAS kernel: {blas_kernel()}; lumina threads: {num_threads()}")
    for isa in isas:
        peak = fma_peak(isa)
        print(f"{isa}: {gemm_blocking('float32', isa)}; FMA peak {peak:.0f} GFLOP/s f32 per core, "
              f"{peak * num_threads():.0f} on {num_threads()} threads")
    print()
    for dtype in ("float32", "float64") if args.float64 else ("float32",):
        bench(dtype, args.repeat, isas, torch, shapes, args.nt)


if __name__ == "__main__":
    main()
