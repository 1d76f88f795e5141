"""The ``lumina`` command line.

    lumina info            version, LLVM target (CPU, SIMD features) and thread count
"""
from __future__ import annotations

import argparse
import sys


def _info(args) -> int:
    import llvmlite

    from . import __version__
    from .runtime.jit import host_target_description
    from .runtime.threads import num_threads

    target = host_target_description().split()
    simd = [f for f in target[2].split(",") if f.startswith("+") and
            any(k in f for k in ("sse", "avx", "fma", "neon"))]
    print(f"lumina {__version__} (llvmlite {llvmlite.__version__})")
    print(f"target: {target[0]} cpu={target[1]}")
    print(f"simd: {' '.join(s[1:] for s in simd)}")
    print(f"threads: {num_threads()}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lumina", description="lumina deep-learning compiler")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="show the version, the code-generation target and thread count").set_defaults(fn=_info)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
