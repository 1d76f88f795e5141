"""Training-step benchmarks: lumina vs PyTorch eager vs torch.compile, in one process.

    python benchmarks/bench_training.py [--repeat 20] [--no-torch-compile] [--only convnet|gpt|mlp|convnet28]

(a) the ConvNet of ``examples/train_convnet.py`` (conv-bn-relu-pool x2, linear; 8x8 digits, batch 32,
    AdamW);
(b) the Micro-GPT of ``examples/micro_gpt.py`` (3 layers, 128 wide, 4 heads, context 64, batch 32,
    vocabulary 84; AdamW with gradient clipping);
(c) an MLP 784-1024-1024-10 (ReLU), batch 128, AdamW;
(d) the ConvNet of (a) on 28x28 images, batch 64, AdamW.
Both frameworks start from the same weights and train on the same batch; the first losses are
compared before timing. Prints the machine, times (best of N after warm-up), lumina's speedup and
its roofline (FLOP and byte counts over its time, against the measured FMA peak and stream
bandwidth; ``LUMINA_ISA=avx2`` for the AVX2 path).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, str(ROOT / "examples"))
from machine import describe, roofline  # noqa: E402
from timing import best_ms, row  # noqa: E402

import lumina  # noqa: E402
from lumina.nn import functional as F  # noqa: E402
from lumina.nn.utils import clip_grad_norm_  # noqa: E402
from lumina.backends.cpu.threads import num_threads  # noqa: E402
from lumina.testing import twins  # noqa: E402
import micro_gpt  # noqa: E402
import train_convnet  # noqa: E402


# ---- one benchmark: the same step in three runners ----------------------------------------

def compare(title: str, lumina_model, torch_model, batch, loss_fn, torch_loss_fn, lr: float, clip: float | None,
            repeat: int, use_compile: bool, torch) -> None:
    torch_model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in lumina_model.state_dict().items()})
    opt = lumina.optim.AdamW(lumina_model.parameters(), lr=lr)

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(lumina_model(x), y)
        loss.backward()
        if clip is not None:
            clip_grad_norm_(lumina_model.parameters(), clip)
        opt.step()
        return loss

    topt = torch.optim.AdamW(torch_model.parameters(), lr=lr)

    def tstep(x, y):
        topt.zero_grad()
        loss = torch_loss_fn(torch_model(x), y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(torch_model.parameters(), clip)
        topt.step()
        return loss

    x, y = batch
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    t0 = time.perf_counter()
    first = step(x, y).item()
    compile_s = time.perf_counter() - t0
    tfirst = tstep(tx, ty).item()
    assert abs(first - tfirst) <= 1e-4 * abs(tfirst), f"{title}: first loss {first} vs torch {tfirst}"
    lum = best_ms(lambda: step(x, y).item(), repeat)
    print(title)
    print(f"  {'lumina':<16} {lum:9.3f} ms   first call (trace + compile) {compile_s:.2f} s, "
          f"{len(step.lower(x, y).kernels())} kernels")
    report = step.profile_report(x, y, repeat=1)
    print(f"  {'':<16} {roofline(report.flops, report.bytes, lum)}")
    row("torch eager", best_ms(lambda: tstep(tx, ty).item(), repeat), lum)
    if use_compile:
        cstep = torch.compile(tstep)
        t0 = time.perf_counter()
        cstep(tx, ty)
        tc_compile = time.perf_counter() - t0
        row("torch.compile", best_ms(lambda: cstep(tx, ty).item(), repeat), lum, f"first call {tc_compile:.1f} s")


def bench_convnet(repeat: int, use_compile: bool, torch) -> None:
    width, batch = 32, 32
    x_train, _, y_train, _ = train_convnet.load(0)
    lumina.manual_seed(0)
    model = train_convnet.convnet(width)
    compare(f"(a) ConvNet training step (digits 1x8x8, width {width}, batch {batch}, AdamW)", model,
            twins.convnet(torch, width, 2 * width), (x_train[:batch], y_train[:batch]), F.cross_entropy,
            torch.nn.functional.cross_entropy, 3e-3, None, repeat, use_compile, torch)


def bench_gpt(repeat: int, use_compile: bool, torch) -> None:
    vocab, block, n_layer, n_embd, n_head, batch = 84, 64, 3, 128, 4, 32
    rng = np.random.default_rng(0)
    ids = rng.integers(0, vocab, (batch, block + 1))
    lumina.manual_seed(0)
    model = micro_gpt.MicroGPT(vocab, block, n_layer, n_embd, n_head)
    compare(f"(b) Micro-GPT training step ({n_layer} layers, {n_embd} wide, {n_head} heads, context {block}, "
            f"batch {batch}, AdamW + clipping)", model, twins.transformer(torch, vocab, block, n_embd, n_head, n_layer),
            (ids[:, :-1], ids[:, 1:]),
            lambda logits, y: F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)),
            lambda logits, y: torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)),
            3e-3, 1.0, repeat, use_compile, torch)


def bench_mlp(repeat: int, use_compile: bool, torch) -> None:
    batch = 128
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((batch, 784)).astype(np.float32), rng.integers(0, 10, batch))
    lumina.manual_seed(0)
    compare(f"(c) MLP training step (784-1024-1024-10, batch {batch}, AdamW)", twins.mlp(lumina), twins.mlp(torch),
            data, F.cross_entropy, torch.nn.functional.cross_entropy, 1e-3, None, repeat, use_compile, torch)


def bench_convnet28(repeat: int, use_compile: bool, torch) -> None:
    width, batch = 32, 64
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((batch, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, batch))
    lumina.manual_seed(0)
    compare(f"(d) ConvNet training step (1x28x28, width {width}, batch {batch}, AdamW)",
            twins.convnet(lumina, width, 2 * width, size=28), twins.convnet(torch, width, 2 * width, size=28),
            data, F.cross_entropy, torch.nn.functional.cross_entropy, 3e-3, None, repeat, use_compile, torch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-torch-compile", action="store_true")
    parser.add_argument("--only", choices=["convnet", "gpt", "mlp", "convnet28"])
    args = parser.parse_args()
    import torch
    print(describe())
    print(f"lumina threads: {num_threads()}\n")
    use_compile = not args.no_torch_compile
    if args.only in (None, "convnet"):
        bench_convnet(args.repeat, use_compile, torch)
    if args.only in (None, "gpt"):
        bench_gpt(args.repeat, use_compile, torch)
    if args.only in (None, "mlp"):
        bench_mlp(args.repeat, use_compile, torch)
    if args.only in (None, "convnet28"):
        bench_convnet28(args.repeat, use_compile, torch)


if __name__ == "__main__":
    main()
