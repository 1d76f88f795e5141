"""A 2-4-1 MLP learns XOR through a compiled training step.

    python examples/xor.py [--steps 500] [--lr 0.5] [--seed 0]

Ends with one line: ``xor accuracy: 1.0000 (loss 0.00xx)``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm import tqdm

import lumina
import lumina.nn as nn
from lumina.nn import functional as F

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    lumina.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    opt = lumina.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    bar = tqdm(range(args.steps), desc="xor", unit="step", disable=not sys.stderr.isatty())
    for i in bar:
        loss = step(X, Y)
        if i % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    with lumina.no_grad():
        pred = model(lumina.tensor(X)).numpy() > 0.5
    accuracy = float((pred == (Y > 0.5)).mean())
    print(f"xor accuracy: {accuracy:.4f} (loss {loss.item():.4f})")
    return accuracy


if __name__ == "__main__":
    main()
