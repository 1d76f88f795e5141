"""GPU benchmarks: lumina's cuda device (Triton kernels) vs PyTorch eager vs torch.compile, on one GPU.

    python benchmarks/bench_gpu.py [--repeat 50] [--no-torch-compile] [--only mlp|matmul|gpt]

(a) the fused MLP kernel: ``LayerNorm(relu(x @ W + b))`` forward, x: [8192, 1024], W: [1024, 1024],
    float32: lumina's one row-fused GEMM kernel (bias and ReLU on the accumulator tile, LayerNorm on
    the finished rows), lumina unfused (``FusionOptions.dot_rows`` off: the GEMM with its epilogue,
    then a LayerNorm row kernel), PyTorch eager and ``torch.compile``, and NumPy on the host for
    scale;
(b) a 4096x4096 matmul in bfloat16 and in float32 (TFLOP/s; torch's float32 matmul uses TF32 only
    if ``torch.backends.cuda.matmul.allow_tf32`` is set, which this script leaves at its default);
(c) one Micro-GPT training step (``examples/micro_gpt.py``: 3 layers, 128 wide, 4 heads, context
    64, batch 32, vocabulary 84; AdamW with gradient clipping), model and batch on the GPU.

Everything lives on the GPU before timing (lumina: ``Tensor.to("cuda")``, ``Module.to("cuda")``), so
no host copies are timed. Each call is timed with CUDA events on the current stream (lumina's
executable makes that stream wait for its own), after warm-up calls (which include Triton's
autotuning); the median of ``--repeat`` calls is reported with lumina's speedup (>1: lumina is
faster). Results are checked against PyTorch before timing. Without a CUDA GPU the script prints
one line saying so and exits with status 0.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, str(ROOT / "examples"))

WARMUP = 5
MLP_SHAPE = (8192, 1024, 1024)      # rows, input width, output width
MATMUL_N = 4096
GPT = dict(vocab=84, block=64, n_layer=3, n_embd=128, n_head=4, batch=32)


def gpu_ms(torch, fn, repeat: int, desc: str) -> float:
    """The median time of ``repeat`` calls of ``fn`` in milliseconds, measured with CUDA events
    around each call on the current stream, after ``WARMUP`` calls."""
    from tqdm import tqdm
    for _ in range(WARMUP):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in tqdm(range(repeat), desc=desc, unit="call", file=sys.stderr, leave=False,
                  disable=not sys.stderr.isatty()):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def row(name: str, ms: float, lumina_ms: float, extra: str = "") -> None:
    print(f"  {name:<16} {ms:9.3f} ms   lumina {ms / lumina_ms:5.2f}x{'   ' + extra if extra else ''}", flush=True)


def first_call_s(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---- (a) the fused MLP ----------------------------------------------------------------------------

def bench_mlp(torch, repeat: int, use_compile: bool) -> None:
    import lumina
    from lumina.compiler import CompileOptions, cache_clear
    from lumina.nn import functional as F
    from lumina.schedule.options import FusionOptions
    n, d, h = MLP_SHAPE
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d), dtype=np.float32)
    w = (rng.standard_normal((d, h), dtype=np.float32) / np.sqrt(d)).astype(np.float32)
    b, gamma, beta = (rng.standard_normal(h, dtype=np.float32) for _ in range(3))
    arrays = (x, w, b, gamma, beta)
    args = [lumina.tensor(a).to("cuda") for a in arrays]
    targs = [torch.from_numpy(a).cuda() for a in arrays]

    def mlp(x, w, b, g, be):
        return F.layer_norm((x @ w + b).relu(), h, g, be)

    def tmlp(x, w, b, g, be):
        return torch.nn.functional.layer_norm(torch.relu(x @ w + b), (h,), g, be)

    def numpy_mlp(x, w, b, g, be):
        y = np.maximum(x @ w + b, 0)
        mean = y.mean(-1, keepdims=True)
        return (y - mean) / np.sqrt(y.var(-1, keepdims=True) + 1e-5) * g + be

    print(f"(a) fused MLP forward LayerNorm(relu(x @ W + b)), x [{n}, {d}], W [{d}, {h}], float32", flush=True)
    want = tmlp(*targs)
    timed = {}
    for label, dot_rows in (("lumina fused", True), ("lumina unfused", False)):
        cache_clear()
        fn = lumina.compile(mlp, device="cuda", options=CompileOptions(FusionOptions(dot_rows=dot_rows)))
        compile_s = first_call_s(lambda: fn(*args).numpy())
        kernels = len(fn.lower(*args).kernels())
        got = torch.from_numpy(fn(*args).numpy()).cuda()
        err = ((got - want).abs().max() / want.abs().max()).item()
        assert err < 1e-3, f"{label} MLP: relative error {err} against torch"
        timed[label] = (gpu_ms(torch, lambda: fn(*args), repeat, label), kernels, compile_s)
    lum = timed["lumina fused"][0]
    for label, (ms, kernels, compile_s) in timed.items():
        row(label, ms, lum, f"{kernels} kernel(s), first call (trace + compile + tune) {compile_s:.1f} s")
    row("torch eager", gpu_ms(torch, lambda: tmlp(*targs), repeat, "torch mlp"), lum)
    if use_compile:
        cm = torch.compile(tmlp)
        c_s = first_call_s(lambda: cm(*targs))
        row("torch.compile", gpu_ms(torch, lambda: cm(*targs), repeat, "torch.compile mlp"), lum,
            f"first call {c_s:.1f} s")
    t0 = time.perf_counter()
    numpy_mlp(*arrays)
    row("NumPy (host CPU)", (time.perf_counter() - t0) * 1e3, lum, "one call")


# ---- (b) 4096x4096 matmul ---------------------------------------------------------------------------

def bench_matmul(torch, repeat: int, use_compile: bool) -> None:
    import lumina
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32) for _ in range(2))
    for name in ("bfloat16", "float32"):
        _matmul(torch, lumina, a, b, name, repeat, use_compile)


def _matmul(torch, lumina, a: np.ndarray, b: np.ndarray, name: str, repeat: int, use_compile: bool) -> None:
    n = a.shape[0]
    flop = 2 * n ** 3
    la, lb = (lumina.tensor(v, dtype=getattr(lumina, name)).to("cuda") for v in (a, b))
    ta, tb = (torch.from_numpy(v).cuda().to(getattr(torch, name)) for v in (a, b))
    mm = lumina.compile(lambda a, b: a @ b, device="cuda")
    print(f"(b) {n}x{n} matmul, {name}", flush=True)
    compile_s = first_call_s(lambda: mm(la, lb).numpy())
    got = torch.from_numpy(mm(la, lb).to("cpu").to(lumina.float32).numpy()).cuda()
    want = (ta @ tb).float()
    err = ((got - want).abs().max() / want.abs().max()).item()
    assert err < (2e-2 if name == "bfloat16" else 1e-3), f"matmul {name}: relative error {err} against torch"
    lum = gpu_ms(torch, lambda: mm(la, lb), repeat, f"lumina matmul {name}")
    print(f"  {'lumina':<16} {lum:9.3f} ms   {flop / lum / 1e9:6.1f} TFLOP/s   first call {compile_s:.1f} s",
          flush=True)
    ms = gpu_ms(torch, lambda: ta @ tb, repeat, f"torch matmul {name}")
    row("torch eager", ms, lum, f"{flop / ms / 1e9:6.1f} TFLOP/s")
    if use_compile:
        cm = torch.compile(lambda a, b: a @ b)
        c_s = first_call_s(lambda: cm(ta, tb))
        ms = gpu_ms(torch, lambda: cm(ta, tb), repeat, f"torch.compile matmul {name}")
        row("torch.compile", ms, lum, f"{flop / ms / 1e9:6.1f} TFLOP/s, first call {c_s:.1f} s")


# ---- (c) Micro-GPT training step ----------------------------------------------------------------------

def bench_gpt(torch, repeat: int, use_compile: bool) -> None:
    import lumina
    import micro_gpt
    from lumina.nn import functional as F
    from lumina.nn.utils import clip_grad_norm_
    from lumina.testing import twins
    vocab, block, n_layer, n_embd, n_head, batch = (GPT[k] for k in ("vocab", "block", "n_layer", "n_embd",
                                                                      "n_head", "batch"))
    lr, clip = 3e-3, 1.0
    rng = np.random.default_rng(0)
    ids = rng.integers(0, vocab, (batch, block + 1))
    lumina.manual_seed(0)
    model = micro_gpt.MicroGPT(vocab, block, n_layer, n_embd, n_head)
    tmodel = twins.transformer(torch, vocab, block, n_embd, n_head, n_layer)
    tmodel.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in model.state_dict().items()})
    model.to("cuda")
    tmodel.cuda()
    opt = lumina.optim.AdamW(model.parameters(), lr=lr)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=lr)

    @lumina.compile(device="cuda")
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss

    def tstep(x, y):
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(x).reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tmodel.parameters(), clip)
        topt.step()
        return loss

    x, y = (lumina.tensor(a).to("cuda") for a in (ids[:, :-1], ids[:, 1:]))
    tx, ty = (torch.from_numpy(a).cuda() for a in (ids[:, :-1], ids[:, 1:]))
    print(f"(c) Micro-GPT training step ({n_layer} layers, {n_embd} wide, {n_head} heads, context {block}, "
          f"batch {batch}, AdamW + clipping)", flush=True)
    t0 = time.perf_counter()
    first = step(x, y).item()
    compile_s = time.perf_counter() - t0
    tfirst = tstep(tx, ty).item()
    assert abs(first - tfirst) <= 1e-3 * abs(tfirst), f"Micro-GPT: first loss {first} vs torch {tfirst}"
    lum = gpu_ms(torch, lambda: step(x, y), repeat, "lumina gpt")
    print(f"  {'lumina':<16} {lum:9.3f} ms   first call (trace + compile + tune) {compile_s:.1f} s, "
          f"{len(step.lower(x, y).kernels())} kernels", flush=True)
    row("torch eager", gpu_ms(torch, lambda: tstep(tx, ty), repeat, "torch gpt"), lum)
    if use_compile:
        cstep = torch.compile(tstep)
        c_s = first_call_s(lambda: cstep(tx, ty))
        row("torch.compile", gpu_ms(torch, lambda: cstep(tx, ty), repeat, "torch.compile gpt"), lum,
            f"first call {c_s:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--no-torch-compile", action="store_true")
    parser.add_argument("--only", choices=["mlp", "matmul", "gpt"])
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("bench_gpu: PyTorch is not installed; nothing to measure")
        return 0
    from lumina.backends import devices
    ok, reason = devices.available("cuda")
    if not torch.cuda.is_available() or not ok or devices.interpreting():
        why = reason.split(";")[0] if not ok else "TRITON_INTERPRET=1 is set" if devices.interpreting() else "torch sees no GPU"
        print(f"bench_gpu: no CUDA GPU to benchmark on ({why}); nothing to measure")
        return 0
    from machine import describe
    print(describe())
    print(f"gpu: {torch.cuda.get_device_name()} (CUDA {torch.version.cuda}), triton "
          f"{__import__('triton').__version__}; median of {args.repeat} calls after {WARMUP} warm-up calls\n",
          flush=True)
    use_compile = not args.no_torch_compile
    if args.only in (None, "mlp"):
        bench_mlp(torch, args.repeat, use_compile)
    if args.only in (None, "matmul"):
        bench_matmul(torch, args.repeat, use_compile)
    if args.only in (None, "gpt"):
        bench_gpt(torch, args.repeat, use_compile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
