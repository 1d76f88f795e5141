"""Eager mode (no ``@lumina.compile``) against PyTorch eager, in one process.

    python benchmarks/bench_eager.py [--repeat 10] [--skip-resnet]

(a) the ConvNet of ``examples/train_convnet.py`` (conv-BatchNorm-ReLU-pool x2, linear; 8x8 digits,
    batch 32, AdamW): one training step (forward, backward, optimizer, ``loss.item()``), written as
    a PyTorch user writes it: the first step (which compiles; set ``LUMINA_CACHE`` to an empty
    directory for a cold one) and, after warm-up, the best step;
(b) torchvision 0.28's ResNet-18 (its own model file, run on lumina with ``torch`` aliased,
    ``lumina.testing.ports``) forward at 224x224, batch 1, in eval mode: the first call and the
    best of the later ones.

Each line prints lumina's and torch's best time and torch / lumina (above 1: lumina is faster).
Lumina's eager realisations look their executables up by graph structure, so after the first step
nothing is compiled again; what remains per step is recording the ops in Python (convolutions,
poolings, normalisations and the loss replay a recording: ``lumina/tensor/recorded.py``; the
backward graph replays a template: ``lumina/transforms/vjp_cache.py``), the lookup, and the
optimizer's compiled update.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

import numpy as np  # noqa: E402

import lumina  # noqa: E402
import lumina.nn.functional as F  # noqa: E402
from lumina.testing import twins  # noqa: E402
from machine import describe  # noqa: E402
from timing import best_ms  # noqa: E402


def convnet_step(repeat: int, torch) -> None:
    import train_convnet
    x_train, _, y_train, _ = train_convnet.load(0)
    lumina.manual_seed(0)
    model = train_convnet.convnet(32)
    tmodel = twins.convnet(torch, 32, 64)
    opt = lumina.optim.AdamW(model.parameters(), lr=3e-3)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=3e-3)
    x, y = lumina.tensor(x_train[:32]), lumina.tensor(y_train[:32])
    tx, ty = torch.tensor(x_train[:32]), torch.tensor(y_train[:32])

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def tstep():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
        loss.backward()
        topt.step()
        return loss.item()
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    for _ in range(3):
        step(), tstep()
    ours, theirs = best_ms(step, repeat), best_ms(tstep, repeat)
    print(f"(a) ConvNet training step, eager (digits 1x8x8, batch 32, AdamW; first step {first:.2f} s)\n"
          f"    lumina {ours:8.2f} ms   torch {theirs:8.2f} ms   torch / lumina {theirs / ours:5.2f}")


def resnet_forward(repeat: int, torch) -> None:
    from lumina.testing.ports import torchvision
    tv = torchvision("lumina")
    lumina.manual_seed(0)
    model = tv.models.resnet.resnet18(num_classes=1000).eval()
    ttv = torchvision("torch")   # the same model file, on torch
    tmodel = ttv.models.resnet.resnet18(num_classes=1000).eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    t0 = time.perf_counter()
    with lumina.no_grad():
        model(lumina.tensor(x)).numpy()
    first = time.perf_counter() - t0

    def ours():
        with lumina.no_grad():
            return model(lumina.tensor(x)).numpy()

    def theirs():
        with torch.no_grad():
            return tmodel(torch.tensor(x)).numpy()
    a, b = best_ms(ours, repeat), best_ms(theirs, repeat)
    print(f"(b) ResNet-18 forward, eager, 1x3x224x224, eval (first call {first:.2f} s)\n"
          f"    lumina {a:8.2f} ms   torch {b:8.2f} ms   torch / lumina {b / a:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--skip-resnet", action="store_true")
    args = parser.parse_args()
    import torch
    from lumina.backends.cpu.threads import num_threads
    torch.set_num_threads(num_threads())
    print(describe())
    convnet_step(args.repeat, torch)
    if not args.skip_resnet:
        resnet_forward(args.repeat, torch)


if __name__ == "__main__":
    main()
