"""Per-call overhead: a compiled call whose kernels take a microsecond or less, against PyTorch.

    python benchmarks/bench_call.py [--repeat 7] [--calls 20000] [--no-torch-compile]

Each workload is timed as the best of ``--repeat`` loops of ``--calls`` calls, in one process:
(a) ``a + b`` over 16 float32, tensor arguments; (b) the same with NumPy array arguments;
(c) a 16-32-4 MLP (two Linear layers and a ReLU, batch 1) under ``no_grad``, its parameters read as
captured state. lumina's ``lumina.compile`` against PyTorch eager and ``torch.compile`` of the same
function. Also printed: lumina's native plan alone (what the call costs without Python), so the
difference is the Python and dispatch above the kernels. Prints the machine and ratios.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from machine import describe  # noqa: E402
from timing import settle  # noqa: E402

import lumina  # noqa: E402
import lumina.nn as nn  # noqa: E402
from lumina.backends.cpu.executable import _workspace  # noqa: E402


def best_us(fn, repeat: int, calls: int) -> float:
    """The fastest loop of ``calls`` calls of ``fn``, per call, in microseconds."""
    settle()
    for _ in range(min(calls, 1000)):
        fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def plan_us(compiled, args, repeat: int, calls: int) -> float:
    """The compiled call's native plan alone, on its last inputs (no Python around it)."""
    exe = compiled.lower(*args).executable
    if exe.plan is None or exe.plan_threads != 1:   # no single native call to time
        return float("nan")
    workspace = _workspace(exe.workspaces)[1] if exe.workspaces else 0
    return best_us(lambda: exe.plan(exe._ptrs_address, 0, workspace), repeat, calls)


def line(name: str, us: float, lumina_us: float | None = None) -> None:
    ratio = "" if lumina_us is None else f"   lumina {us / lumina_us:5.2f}x"
    print(f"  {name:<22} {us:8.2f} us{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--no-torch-compile", action="store_true")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(int(os.environ.get("LUMINA_NUM_THREADS", "0")) or torch.get_num_threads())
    print(describe())
    repeat, calls = args.repeat, args.calls
    rng = np.random.default_rng(0)

    a, b = (rng.standard_normal(16).astype(np.float32) for _ in range(2))
    add = lumina.compile(lambda x, y: x + y)
    la, lb = lumina.tensor(a), lumina.tensor(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    print("\n(a) a + b, 16 float32, tensor arguments")
    lum = best_us(lambda: add(la, lb), repeat, calls)
    line("lumina.compile", lum)
    line("  its native plan", plan_us(add, (la, lb), repeat, calls))
    line("torch eager", best_us(lambda: ta + tb, repeat, calls), lum)
    if not args.no_torch_compile:
        tadd = torch.compile(lambda x, y: x + y)
        line("torch.compile", best_us(lambda: tadd(ta, tb), repeat, calls), lum)

    print("\n(b) a + b, 16 float32, NumPy array arguments")
    lum = best_us(lambda: add(a, b), repeat, calls)
    line("lumina.compile", lum)
    line("torch eager (from_numpy)", best_us(lambda: torch.from_numpy(a) + torch.from_numpy(b), repeat, calls), lum)

    print("\n(c) MLP 16-32-4, batch 1, no_grad")
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()
    tmodel = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).eval()
    mlp = lumina.compile(lambda x: model(x))
    x = lumina.tensor(rng.standard_normal((1, 16)).astype(np.float32))
    tx = torch.from_numpy(x.numpy())
    with lumina.no_grad(), torch.no_grad():
        lum = best_us(lambda: mlp(x), repeat, calls)
        line("lumina.compile", lum)
        line("  its native plan", plan_us(mlp, (x,), repeat, calls))
        line("torch eager", best_us(lambda: tmodel(tx), repeat, calls), lum)
        if not args.no_torch_compile:
            tmlp = torch.compile(tmodel)
            line("torch.compile", best_us(lambda: tmlp(tx), repeat, calls), lum)


if __name__ == "__main__":
    main()
