"""The machine a benchmark ran on: CPU model, SIMD flags, cores, library versions."""
from __future__ import annotations

import os
import platform


def describe() -> str:
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    import numpy
    import llvmlite
    lines = [f"cpu: {model}, {os.cpu_count()} cores", f"simd: {' '.join(simd)}",
             f"python {platform.python_version()}, numpy {numpy.__version__}, llvmlite {llvmlite.__version__}"]
    try:
        import torch
        lines[-1] += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        pass
    return "\n".join(lines)


def blas_kernel() -> str:
    """NumPy's BLAS and the kernel it runs (``SkylakeX``, ``Haswell``...), from threadpoolctl."""
    import importlib
    importlib.import_module("numpy")   # loads the BLAS that threadpoolctl looks for
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl is not installed)"
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            return f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture')}, {lib.get('num_threads')} threads"
    return "unknown"


_FMA_LOOP = """
define void @fma_loop(i64 %n, ptr %out) {{
entry:
  %x = load {vec}, ptr %out, align 4
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i.next, %loop]
{phis}
{fmas}
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
{stores}
  ret void
}}
declare <{lanes} x float> @llvm.fmuladd.v{lanes}f32(<{lanes} x float>, <{lanes} x float>, <{lanes} x float>)
"""


def fma_peak(isa: str, iterations: int = 1 << 22) -> float:
    """Single-core float32 FMA throughput of ISA level ``isa`` in GFLOP/s, measured: independent
    vector FMA chains (12 in 16 registers, 28 in 32: more than latency x pipes on every CPU lumina
    knows) run ``iterations`` times in an LLVM-compiled loop; best of 3. The baseline level has
    no FMA instruction: its number is a multiply and an add."""
    import ctypes
    import time

    from lumina.backends.cpu import isa as cpu_isa
    from lumina.backends.cpu.jit import compile_llvm

    lanes = cpu_isa.vector_bits(isa) // 32
    chains = 28 if isa == "avx512" else 12
    vec = f"<{lanes} x float>"
    # the loop's values come from memory, so LLVM cannot fold the chains away
    phis = "\n".join(f"  %a{c} = phi {vec} [%x, %entry], [%b{c}, %loop]" for c in range(chains))
    fmas = "\n".join(f"  %b{c} = call {vec} @llvm.fmuladd.v{lanes}f32({vec} %a{c}, {vec} %x, {vec} %x)"
                     for c in range(chains))
    stores = "\n".join(f"  %p{c} = getelementptr {vec}, ptr %out, i64 {c}\n  store {vec} %b{c}, ptr %p{c}, align 4"
                       for c in range(chains))
    with cpu_isa.forced(isa):
        module = compile_llvm(_FMA_LOOP.format(phis=phis, fmas=fmas, stores=stores, lanes=lanes, vec=vec),
                              "fma_peak")
    fn = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p)(module.address("fma_loop"))
    out = (ctypes.c_float * (lanes * chains))(*[0.5] * (lanes * chains))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn(iterations, ctypes.addressof(out))
        best = min(best, time.perf_counter() - t0)
    return 2 * lanes * chains * iterations / best / 1e9


def stream_bandwidth(mib: int = 256, threads: int | None = None) -> float:
    """Memory bandwidth in GB/s of ``threads`` cores (default lumina's thread count, which the
    rooflines compare against), measured as NumPy's ``np.add(a, b, out=c)`` over arrays of ``mib``
    MiB each, one contiguous share per thread at once (two streams read, one written; best of 5;
    NumPy drops the GIL in the loop)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from lumina.backends.cpu.threads import num_threads
    threads = threads or num_threads()
    n = mib << 18
    a, b, c = np.ones(n, np.float32), np.ones(n, np.float32), np.empty(n, np.float32)
    cuts = [n * t // threads for t in range(threads + 1)]
    shares = [slice(lo, hi) for lo, hi in zip(cuts, cuts[1:])]
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(5):
            t0 = time.perf_counter()
            list(pool.map(lambda s: np.add(a[s], b[s], out=c[s]), shares))
            best = min(best, time.perf_counter() - t0)
    return 3 * a.nbytes / best / 1e9


_PEAKS: dict = {}


def roofline(flops: int, nbytes: int, ms: float) -> str:
    """One line: the FLOP rate and byte rate of a step of ``flops`` and ``nbytes`` (lumina's
    per-kernel counts, ``CompiledFunction.profile_report``) done in ``ms``, against this machine's
    measured peaks on the ISA lumina generates code for (``fma_peak`` on every thread,
    ``stream_bandwidth``)."""
    from lumina.backends.cpu import isa as cpu_isa
    from lumina.backends.cpu.threads import num_threads
    level = cpu_isa.active_isa()
    if level not in _PEAKS:
        _PEAKS[level] = (fma_peak(level) * num_threads(), stream_bandwidth())
    peak, bandwidth = _PEAKS[level]
    gflops, gbs = flops / ms / 1e6, nbytes / ms / 1e6
    return (f"roofline ({level}): {gflops:6.1f} GFLOP/s = {100 * gflops / peak:4.1f}% of the {peak:.0f} FMA peak, "
            f"{gbs:5.1f} GB/s = {100 * gbs / bandwidth:4.1f}% of the {bandwidth:.0f} GB/s stream")
