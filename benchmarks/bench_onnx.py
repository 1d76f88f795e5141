"""ONNX inference latency: lumina vs ONNX Runtime (default CPU settings, the same thread count), in
one process.

    python benchmarks/bench_onnx.py [--repeat 20] [--only minilm|resnet|mlp] [--profile]

(a) paraphrase-MiniLM-L3-v2 (3 layers, 384 wide, opset 17), batch 1 and 32 at sequence length 128;
(b) open_nsfw, a ResNet-50-style classifier (NHWC 224x224x3), batch 1 and 8;
(c) a tiny MLP (64-128-128-10, Gemm + Relu, built here with ``onnx.helper``), batch 1 and 32: the
    per-call overhead, where the kernels take microseconds.
(a) and (b) come from the package index (``lumina.testing.registry``). Outputs are compared before
timing. Prints the machine, the first call (import, trace, compile) and the best-of-N latency of each,
the ratio ONNX Runtime / lumina (>1: lumina is faster) and lumina's roofline (its FLOP and byte
counts over its time, against the measured FMA peak and stream bandwidth; ``LUMINA_ISA=avx2``
for the AVX2 path). ``--profile`` adds lumina's ten slowest
kernels per case.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from machine import describe, roofline  # noqa: E402
from timing import best_ms  # noqa: E402

import lumina.onnx  # noqa: E402
from lumina.backends.cpu.threads import num_threads  # noqa: E402
from lumina.testing import registry  # noqa: E402


def minilm_inputs(batch: int, seq: int = 128) -> dict:
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, (batch, seq)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def nsfw_inputs(batch: int) -> dict:
    rng = np.random.default_rng(0)
    return {"input_0": rng.uniform(-120, 140, (batch, 224, 224, 3)).astype(np.float32)}


def tiny_mlp(path: Path) -> Path:
    """A 64-128-128-10 MLP (Gemm with transB, Relu) with a symbolic batch, written to ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    sizes, nodes, inits, prev = (64, 128, 128, 10), [], [], "x"
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        inits += [numpy_helper.from_array(rng.standard_normal((n_out, n_in)).astype(np.float32) / 8, f"w{i}"),
                  numpy_helper.from_array(rng.standard_normal(n_out).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"], transB=1))
        prev = f"h{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    graph = helper.make_graph(nodes, "tiny_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["batch", 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def bench(title: str, item, cases, repeat: int, profile: bool) -> None:
    import onnxruntime as ort
    path = item if isinstance(item, Path) else registry.fetch(item)
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    t0 = time.perf_counter()
    model = lumina.onnx.load(path)
    load_s = time.perf_counter() - t0
    print(f"{title}  (load {load_s:.2f} s)")
    for label, feeds in cases:
        t0 = time.perf_counter()
        got = model(**feeds)
        first_s = time.perf_counter() - t0
        want = session.run(None, feeds)
        for (name, g), w in zip(got.items(), want):
            if w.dtype.kind == "f":
                err = float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-30))
                assert err <= 1e-4, f"{title} {label}: output {name} differs from ONNX Runtime by {err:.2g}"
        lum = best_ms(lambda: model(**feeds), repeat)
        ref = best_ms(lambda: session.run(None, feeds), repeat)
        print(f"  {label:<10} lumina {_ms(lum)}   onnxruntime {_ms(ref)}   ratio {ref / lum:5.2f}x   "
              f"(lumina first call {first_s:.2f} s)")
        report = model._compiled.profile_report(*model._args(model._bind((), feeds)), repeat=1)
        print(f"             {roofline(report.flops, report.bytes, lum)}; kernels alone {report.seconds * 1e3:.3f} ms")
        if profile:
            _print_profile(model, feeds)


def _ms(ms: float) -> str:
    """A time in ms, or in µs below a millisecond."""
    return f"{ms:9.2f} ms" if ms >= 1 else f"{ms * 1e3:9.1f} us"


def _print_profile(model, feeds, top: int = 10) -> None:
    """lumina's slowest kernels for these inputs (``CompiledFunction.profile``)."""
    args = model._args(model._bind((), feeds))
    rows = model._compiled.profile(*args, repeat=5)
    total = sum(s for _, s in rows)
    by_name: dict[str, float] = {}
    for name, s in rows:
        kind = "dot" if name.endswith("_dot") else name.split("_", 1)[-1]   # k12_fused_add_mul -> fused_add_mul
        by_name[kind] = by_name.get(kind, 0.0) + s
    print(f"      kernels: {len(rows)}, {total * 1e3:.2f} ms in kernels; by kind: "
          + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])[:5]))
    for name, s in sorted(rows, key=lambda r: -r[1])[:top]:
        print(f"        {s * 1e3:8.3f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", choices=["minilm", "resnet", "mlp"])
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    import onnxruntime as ort
    print(describe())
    print(f"onnxruntime {ort.__version__}; threads: lumina {num_threads()}, onnxruntime {num_threads()}\n")
    if args.only in (None, "minilm"):
        bench("(a) paraphrase-MiniLM-L3-v2, sequence 128", registry.MINILM,
              [("batch 1", minilm_inputs(1)), ("batch 32", minilm_inputs(32))], args.repeat, args.profile)
    if args.only in (None, "resnet"):
        bench("(b) open_nsfw (ResNet-50 style, NHWC 224x224)", registry.OPEN_NSFW,
              [("batch 1", nsfw_inputs(1)), ("batch 8", nsfw_inputs(8))], args.repeat, args.profile)
    if args.only in (None, "mlp"):
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            bench("(c) tiny MLP 64-128-128-10 (Gemm, Relu)", tiny_mlp(Path(tmp) / "mlp.onnx"),
                  [(f"batch {b}", {"x": rng.standard_normal((b, 64)).astype(np.float32)}) for b in (1, 32)],
                  max(args.repeat, 200), args.profile)


if __name__ == "__main__":
    main()
