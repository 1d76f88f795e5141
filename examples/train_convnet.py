"""Train a small ConvNet (conv-bn-relu-pool x2, linear) on the UCI handwritten digits with lumina.

The 8x8 images of scikit-learn's ``load_digits`` go through two ``Conv2d -> BatchNorm2d -> ReLU ->
MaxPool2d`` stages (8x8 -> 4x4 -> 2x2) and a linear classifier. The whole training step (forward,
backward, the AdamW update and the batch-norm running statistics) is one ``@lumina.compile``d
executable. Ends with one line: ``test accuracy: 0.XXXX``.

    python examples/train_convnet.py [--epochs 15] [--batch-size 32] [--lr 0.003] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import lumina
import lumina.nn as nn
from lumina.nn import functional as F


def load(seed: int):
    """The 1,797 digit images as ``[N, 1, 8, 8]`` float32 in [0, 1], split 75/25 with a fixed seed."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def convnet(width: int = 32) -> nn.Module:
    """``[N, 1, 8, 8]`` images -> ``[N, 10]`` logits."""
    def stage(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*stage(1, width), *stage(width, 2 * width), nn.Flatten(),
                         nn.Linear(2 * width * 2 * 2, 10))


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x_train, x_test, y_train, y_test = load(args.seed)
    lumina.manual_seed(args.seed)
    model = convnet(args.width)
    opt = lumina.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = len(x_train) // args.batch_size
    sched = lumina.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)

    @lumina.compile
    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    @lumina.compile
    def predict(x):
        with lumina.no_grad():
            return model(x).argmax(1)

    rng = np.random.default_rng(args.seed)
    n = steps_per_epoch * args.batch_size   # full batches only: one compiled signature
    bar = tqdm(range(args.epochs), desc="training", unit="epoch", disable=not sys.stderr.isatty())
    for _ in bar:
        model.train()
        order = rng.permutation(len(x_train))[:n].reshape(-1, args.batch_size)
        losses = []
        for idx in order:
            losses.append(train_step(x_train[idx], y_train[idx]))
            sched.step()
        bar.set_postfix(loss=f"{np.mean([l.item() for l in losses]):.4f}")

    model.eval()
    accuracy = float((predict(x_test).numpy() == y_test).mean())
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
