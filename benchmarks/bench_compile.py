"""Compile time, cold and warm: a training step's first call in a fresh process, twice, sharing one
disk cache (``$LUMINA_CACHE``, a new temporary directory unless ``--cache DIR``).

    python benchmarks/bench_compile.py [--runs 2] [--cache DIR] [--profile]

Each run is a new Python process that builds the Micro-GPT training step of ``bench_training.py``
(3 layers, 128 wide, 4 heads, context 64, batch 32, AdamW + clipping; ``bench_multi_output.gpt_step``),
then times its first call
(trace, passes, schedule, code generation, LLVM, one step), a later call, and first calls at three
new batch sizes (31: the batch dim becomes symbolic and is compiled once more; 17, 24: that
executable at new sizes). The first process
starts from an empty cache; the next ones find its object code on disk and pay no LLVM
optimisation or code generation for the modules it compiled. Prints each run's times, the disk
cache's hits and misses, and the warm/cold ratio of the first call. ``--profile`` prints the ten
functions with the most cumulative time in the last run's first call (cProfile).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def child(profile: bool) -> None:
    """One process: build the step, time its first and a later call, print a JSON line."""
    t0 = time.perf_counter()
    sys.path.insert(0, os.path.dirname(__file__))
    import lumina
    from bench_multi_output import gpt_step   # the same step, built once for both benchmarks
    from lumina.backends import disk_cache
    imported = time.perf_counter() - t0

    make, (x, y) = gpt_step()
    step = lumina.compile(make())

    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    loss = step(x, y).item()
    first = time.perf_counter() - t0
    if profiler is not None:
        import io
        import pstats
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
    t0 = time.perf_counter()
    step(x, y).item()
    later = time.perf_counter() - t0
    stats = disk_cache.STATS
    hits, misses, stored = stats.hits, stats.misses, stats.stored
    news = []   # new batch sizes: the second compiles the batch dim symbolically, the rest reuse it
    for n in (31, 17, 24):
        xs, ys = lumina.tensor(x.numpy()[:n]), lumina.tensor(y.numpy()[:n])
        t0 = time.perf_counter()
        step(xs, ys).item()
        news.append(time.perf_counter() - t0)
    print(json.dumps({"import_s": imported, "first_s": first, "later_s": later, "loss": loss,
                      "hits": hits, "misses": misses, "stored": stored, "new_batch_s": news}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cache", help="the cache directory to share (default: a new temporary one)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.profile)
        return
    sys.path.insert(0, os.path.dirname(__file__))
    from machine import describe
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LUMINA_CACHE=args.cache or tmp)
        print(f"disk cache: {env['LUMINA_CACHE']}")
        print("Micro-GPT training step (3 layers, 128 wide, 4 heads, context 64, batch 32, AdamW + clipping)")
        firsts = []
        for run in range(args.runs):
            cmd = [sys.executable, __file__, "--child"] + (["--profile"] if args.profile and run == args.runs - 1 else [])
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"run {run + 1} failed:\n{done.stderr}")
            if args.profile and run == args.runs - 1:
                print(done.stderr)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            firsts.append(r["first_s"])
            print(f"  process {run + 1}: first call {r['first_s']:6.3f} s   later call {r['later_s'] * 1e3:7.2f} ms   "
                  f"import {r['import_s']:.2f} s   disk cache: {r['hits']} hits, {r['misses']} misses, "
                  f"{r['stored']} stored   loss {r['loss']:.6f}")
            print("             first calls at new batch sizes 31, 17, 24: " + ", ".join(
                f"{t:.3f} s ({t / r['first_s']:.0%} of the first)" for t in r["new_batch_s"]))
        if len(firsts) > 1:
            print(f"  warm first call / cold first call: {firsts[-1] / firsts[0]:.2f}")


if __name__ == "__main__":
    main()
