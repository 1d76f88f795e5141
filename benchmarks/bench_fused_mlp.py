"""The row-fused MLP kernel (``FusionOptions.dot_rows``) vs the unfused kernels vs NumPy vs PyTorch.

    python benchmarks/bench_fused_mlp.py [--repeat 10] [--rounds 3] [--threads N] [--quick] [--profile]

Each case is ``layer_norm(relu(x @ W + b), gamma, beta)`` over the last dim (eps 1e-5, affine),
float32 forward, for x of shape [M, K] (or [B, T, K]) and W of [K, N]. Four configurations run in
one process:

- lumina fused: ``dot_rows`` on, one kernel: the GEMM, whose epilogue adds the bias, applies the
  ReLU and runs the LayerNorm stages on each finished MC x N panel of C (while it is still in L2
  when N fits in one of the GEMM's NC = 1024 column blocks; for wider N the panel's earlier
  column blocks were written in earlier passes);
- lumina unfused: ``dot_rows`` off, a GEMM + bias + ReLU kernel that writes C, then a multi-output
  LayerNorm row kernel that reads it back;
- NumPy: ``np.maximum(x @ W + b, 0)``, then mean, variance and the affine normalisation, in float32
  (the GEMM is NumPy's BLAS);
- PyTorch eager on the CPU: ``F.layer_norm(F.relu(F.linear(x, W.T, b)), ...)`` (addmm, ReLU, one
  LayerNorm kernel) under ``torch.inference_mode``.

Every configuration is compiled once and checked against a float64 NumPy reference before any
timing, so a wrong answer is never timed. Times are the best of ``repeat`` calls over ``rounds``
rounds that alternate the configurations (in a rotating order), so a drifting VM hits all alike.
One line is printed per case as it finishes. ``--threads N`` sets lumina's thread count
(``LUMINA_NUM_THREADS``), PyTorch's and NumPy's BLAS's; without it all three use lumina's default.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(__file__))

EPS = 1e-5


@dataclass(frozen=True)
class Case:
    """One MLP layer: x of shape ``lead + (k,)``, W of [k, n]; ``lead`` is [M] or [B, T]."""
    lead: tuple[int, ...]
    k: int
    n: int

    @property
    def name(self) -> str:
        """``MxKxN`` for a 2-D x, ``[B, T, K] x N`` for a batched one."""
        if len(self.lead) == 1:
            return f"{self.lead[0]}x{self.k}x{self.n}"
        return f"[{', '.join(map(str, self.lead + (self.k,)))}] x {self.n}"

    @property
    def m(self) -> int:
        """Rows of the GEMM: the product of ``lead``."""
        m = 1
        for d in self.lead:
            m *= d
        return m


# C (M x N float32) of 8 and 16 MiB, which stay in a 32 MiB L3; a deep K (the GEMM dominates); 64 MiB
# of C from a cheap K = 128 GEMM (fusion saves a DRAM round trip); N = 4096, wider than the GEMM's
# NC = 1024 column block; and a batched [B, T, D] input.
CASES = [Case((4096,), 512, 512), Case((4096,), 1024, 1024), Case((1024,), 4096, 1024),
         Case((65536,), 128, 256), Case((2048,), 512, 4096), Case((16, 256), 768, 768)]
QUICK_CASES = [Case((256,), 64, 96), Case((2, 48), 32, 64)]


def _set_threads(n: int | None) -> None:
    """Before NumPy, PyTorch and lumina are imported: every library uses ``n`` threads."""
    if n is None:
        return
    for var in ("LUMINA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns ``{case name: {config: best ms}}`` (also printed as a table)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="calls per round (best is kept)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per case")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for lumina, NumPy's BLAS and PyTorch (default: lumina's)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 2 calls, 1 round")
    parser.add_argument("--profile", action="store_true",
                        help="also time each lumina kernel alone (Compiled.profile, outputs reused)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.rounds = min(args.repeat, 2), 1
    _set_threads(args.threads)

    import numpy as np
    from machine import describe
    from timing import best_ms

    import lumina
    from lumina.compiler import CompileOptions, cache_clear
    from lumina.nn import functional as F
    from lumina.schedule.options import FusionOptions
    from lumina.backends.cpu.threads import num_threads

    threads = num_threads()
    blas = _limit_blas(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    print(describe())
    print(f"threads: lumina {threads}, numpy BLAS {blas}, torch "
          f"{torch.get_num_threads() if torch else '(not installed)'}\n")

    def compiled(mlp, call_args, dot_rows: bool):
        """``(kinds, fn)``: ``mlp`` compiled afresh with ``dot_rows`` as given (and called once on
        ``call_args``), and the kinds of its kernels, e.g. ``["dot+rows"]``."""
        cache_clear()
        fn = lumina.compile(mlp, options=CompileOptions(FusionOptions(dot_rows=dot_rows)))
        fn(*call_args)
        lowered = fn.lower(*call_args)
        kinds = re.findall(r"^kernel \d+ \(([^)]*)\)", lowered.partition(), re.MULTILINE)
        assert len(kinds) == len(lowered.kernels()), lowered.partition()
        return kinds, fn

    def measure(case: Case) -> tuple[dict, dict]:
        """``({config: best ms}, {lumina config: (kernel kinds, compiled fn)})`` of one case,
        after checking every configuration's output."""
        rng = np.random.default_rng(0)
        x = rng.standard_normal(case.lead + (case.k,), dtype=np.float32)
        w = (rng.standard_normal((case.k, case.n), dtype=np.float32) / np.sqrt(case.k)).astype(np.float32)
        b, gamma, beta = (rng.standard_normal(case.n, dtype=np.float32) for _ in range(3))

        def mlp(x, w, b, gamma, beta):
            return F.layer_norm(F.relu(x @ w + b), case.n, gamma, beta, eps=EPS)

        def numpy_mlp():
            h = np.maximum(x @ w + b, 0)
            mean = h.mean(-1, keepdims=True)
            var = ((h - mean) ** 2).mean(-1, keepdims=True)
            return (h - mean) / np.sqrt(var + EPS) * gamma + beta

        lumina_args = [lumina.tensor(a) for a in (x, w, b, gamma, beta)]
        lowered = {"fused": compiled(mlp, lumina_args, True), "unfused": compiled(mlp, lumina_args, False)}
        calls = {name: (lambda fn=fn: fn(*lumina_args).numpy()) for name, (_, fn) in lowered.items()}
        calls["numpy"] = numpy_mlp
        if torch is not None:
            tx, tb, tg, tbeta = (torch.from_numpy(a) for a in (x, b, gamma, beta))
            tw = torch.from_numpy(np.ascontiguousarray(w.T))  # nn.Linear's [out, in] weight

            def torch_mlp():
                with torch.inference_mode():
                    h = torch.nn.functional.relu(torch.nn.functional.linear(tx, tw, tb))
                    return torch.nn.functional.layer_norm(h, (case.n,), tg, tbeta, EPS).numpy()
            calls["torch"] = torch_mlp

        _check(np, case, calls, x, w, b, gamma, beta)
        best = {name: float("inf") for name in calls}
        order = list(calls)
        for r in range(args.rounds):
            for name in order[r % len(order):] + order[:r % len(order)]:
                best[name] = min(best[name], best_ms(calls[name], args.repeat))
        if args.profile:
            # Kernel time alone: without the per-call fresh output (page faults) and Python overhead.
            for label, (kinds, fn) in lowered.items():
                times = fn.profile(*lumina_args, repeat=args.repeat)
                parts = " + ".join(f"{kind} {t * 1e3:.2f}" for kind, (_, t) in zip(kinds, times))
                profiles.append(f"{case.name:<22} {label:<8} {parts} ms")
        return best, lowered

    print("| case | GFLOP | C MB | lumina kernels fused / unfused | ms fused | ms unfused | ms numpy "
          "| ms torch | unfused / fused | numpy / fused | torch / fused | GFLOP/s fused |")
    print("| --- " * 12 + "|")
    results, profiles = {}, []
    for case in QUICK_CASES if args.quick else CASES:
        best, lowered = measure(case)
        results[case.name] = best
        gflop = 2 * case.m * case.k * case.n / 1e9
        c_mb = case.m * case.n * 4 / 2**20
        torch_ms = best.get("torch", float("nan"))
        kinds = " / ".join(f"{len(k)} ({', '.join(k)})" for k, _ in lowered.values())
        print(f"| {case.name} | {gflop:.2f} | {c_mb:.0f} | {kinds} | {best['fused']:.2f} | "
              f"{best['unfused']:.2f} | {best['numpy']:.2f} | {torch_ms:.2f} | "
              f"{best['unfused'] / best['fused']:.2f}x | {best['numpy'] / best['fused']:.2f}x | "
              f"{torch_ms / best['fused']:.2f}x | {gflop / best['fused'] * 1e3:.0f} |", flush=True)
    if profiles:
        print("\nEach lumina kernel alone (Compiled.profile: best of --repeat, outputs reused):")
        print("\n".join(profiles))
    return results


def _limit_blas(threads: int) -> str:
    """NumPy's BLAS thread count after limiting it to ``threads`` (threadpoolctl, when installed,
    also covers a NumPy imported before the environment was set); "?" when it cannot be read."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return "?"
    threadpool_limits(threads, user_api="blas")
    counts = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    return ",".join(map(str, sorted(counts))) or "?"


def _check(np, case: Case, calls: dict, x, w, b, gamma, beta) -> None:
    """Every configuration's output matches a float64 NumPy reference (float32 rounding of a
    K-long dot, then normalised: 1e-3 of the output's scale), or AssertionError names it."""
    h = np.maximum(x.astype(np.float64) @ w + b, 0)
    mean = h.mean(-1, keepdims=True)
    ref = (h - mean) / np.sqrt(h.var(-1, keepdims=True) + EPS) * gamma + beta
    scale = float(np.abs(ref).max())
    for name, call in calls.items():
        got = call()
        if got.shape != ref.shape or got.dtype != np.float32:
            raise AssertionError(f"{case.name}: {name} gives {got.dtype}{list(got.shape)}, "
                                 f"expected float32{list(ref.shape)}")
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-3 * scale,
                                   err_msg=f"{case.name}: {name} disagrees with the float64 reference")


if __name__ == "__main__":
    main()
