"""The ``lumina`` command line.

    lumina info                      version, LLVM target (CPU, SIMD features) and thread count
    lumina run MODEL.onnx [--input name=file.npy ...] [--random-inputs] [--dim name=N ...] [--bench N]
    lumina inspect MODEL.onnx [--dim name=N ...]
"""
from __future__ import annotations

import argparse
import sys

from .errors import LuminaError


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


def _dims(pairs) -> dict[str, int]:
    out = {}
    for p in pairs or []:
        name, _, value = p.partition("=")
        out[name] = int(value)
    return out


def _random_inputs(model, dims: dict[str, int]) -> dict:
    """An array per graph input: symbolic dims from ``--dim`` (else 1), values uniform in [0, 1)
    for floats and 0 for integers (valid token ids, indices)."""
    import numpy as np
    rng = np.random.default_rng(0)
    arrays = {}
    for name, (dtype, declared) in model.input_specs.items():
        shape = [dims.get(d, 1) if isinstance(d, str) else d for d in declared]
        arrays[name] = rng.random(shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype)
    return arrays


def _inputs(model, args) -> dict:
    import numpy as np
    given = {}
    for p in args.input or []:
        name, _, path = p.partition("=")
        given[name] = np.load(path)
    if args.random_inputs:
        return {**_random_inputs(model, _dims(args.dim)), **given}
    return given


def _run(args) -> int:
    import time

    import numpy as np

    from .onnx import load
    model = load(args.model)
    inputs = _inputs(model, args)
    outputs = model(**inputs)
    for name, y in outputs.items():
        checksum = float(np.asarray(y, dtype=np.float64).sum()) if y.size else 0.0
        print(f"{name}: {y.dtype}{list(y.shape)} checksum {checksum:.6g}")
    if args.bench:
        from tqdm import tqdm
        times = []
        for _ in tqdm(range(args.bench), desc="bench", unit="run"):
            t0 = time.perf_counter()
            model(**inputs)
            times.append((time.perf_counter() - t0) * 1e3)
        p50, p90, p99 = np.percentile(times, [50, 90, 99])
        print(f"latency over {args.bench} runs: p50 {p50:.3f} ms, p90 {p90:.3f} ms, p99 {p99:.3f} ms")
    return 0


def _inspect(args) -> int:
    import collections

    import onnx

    from .onnx.model import read_model
    from .onnx.model import imports_op
    proto = read_model(args.model)
    g = proto.graph
    opsets = [f"{o.domain or 'ai.onnx'} {o.version}" for o in proto.opset_import]
    print(f"opsets: {', '.join(opsets)}")
    inits = {i.name for i in g.initializer}

    def describe(v):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
        return f"  {v.name}: {onnx.TensorProto.DataType.Name(t.elem_type).lower()}{dims}"
    print("inputs:")
    for v in g.input:
        if v.name not in inits:
            print(describe(v))
    print("outputs:")
    for v in g.output:
        print(describe(v))
    hist = collections.Counter(n.op_type for n in g.node)
    print("ops: " + ", ".join(f"{op} {n}" for op, n in hist.most_common()))
    unsupported = sorted(op for op in hist if not imports_op(op))
    print(f"unsupported ops: {', '.join(unsupported) if unsupported else 'none'}")
    if not unsupported:
        from .onnx import load
        model = load(proto)
        print(model.ir(**_random_inputs(model, _dims(args.dim))))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lumina", description="lumina deep-learning compiler")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="show the version, the code-generation target and thread count").set_defaults(fn=_info)
    run = sub.add_parser("run", help="run an ONNX model and print its outputs' shapes and checksums")
    run.add_argument("model")
    run.add_argument("--input", action="append", metavar="NAME=FILE.npy", help="an input from a .npy file")
    run.add_argument("--random-inputs", action="store_true", help="random values for inputs not given")
    run.add_argument("--dim", action="append", metavar="NAME=N", help="size of a symbolic dimension (default 1)")
    run.add_argument("--bench", type=int, default=0, metavar="N", help="time N runs, print latency percentiles")
    run.set_defaults(fn=_run)
    inspect = sub.add_parser("inspect", help="opset, inputs/outputs, op histogram, unsupported ops, the IR")
    inspect.add_argument("model")
    inspect.add_argument("--dim", action="append", metavar="NAME=N", help="size of a symbolic dimension (default 1)")
    inspect.set_defaults(fn=_inspect)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except LuminaError as e:
        print(f"lumina: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
