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
