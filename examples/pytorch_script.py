"""A plain PyTorch training script, run on lumina by changing one line: ``import torch`` became
``import lumina as torch``. Put the line back and the same file runs on PyTorch.

It trains a small residual CNN on scikit-learn's 8x8 handwritten digits in the way PyTorch's own
examples do: ``TensorDataset`` and shuffling ``DataLoader``s, ``nn.Module`` subclasses with
``Conv2d``, ``BatchNorm2d``, ``ReLU(inplace=True)``, ``Dropout`` and ``AdaptiveAvgPool2d``,
kaiming initialisation, ``CrossEntropyLoss`` with label smoothing, ``AdamW`` with a ``OneCycleLR``
schedule and gradient clipping, ``train()`` / ``eval()`` and ``no_grad``, and a checkpoint saved
and loaded back. Every step runs eagerly, as PyTorch does, without ``@lumina.compile``.
The last line is ``test accuracy: 0.XXXX`` (about 0.98).

    python examples/pytorch_script.py [--epochs 8] [--batch-size 64] [--lr 0.01] [--seed 0]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lumina as torch   # the one changed line: it was ``import torch``


class ResidualBlock(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels)
        self.relu = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class DigitNet(torch.nn.Module):
    def __init__(self, width=32, num_classes=10):
        super().__init__()
        self.stem = torch.nn.Sequential(
            torch.nn.Conv2d(1, width, 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(width),
            torch.nn.ReLU(inplace=True),
        )
        self.block1 = ResidualBlock(width)
        self.pool = torch.nn.MaxPool2d(2)
        self.block2 = ResidualBlock(width)
        self.head = torch.nn.Sequential(
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Dropout(0.2),
            torch.nn.Linear(width, num_classes),
        )
        for m in self.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, torch.nn.BatchNorm2d):
                torch.nn.init.ones_(m.weight)
                torch.nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.stem(x)
        x = self.pool(self.block1(x))
        x = self.block2(x)
        return self.head(x)


def loaders(batch_size, seed):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    train = torch.utils.data.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
    test = torch.utils.data.TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test))
    generator = torch.Generator().manual_seed(seed)
    return (torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            torch.utils.data.DataLoader(test, batch_size=256))


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            pred = model(x).argmax(dim=1)
            correct += (pred == y).sum().item()
            total += y.numel()
    return correct / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    train_loader, test_loader = loaders(args.batch_size, args.seed)
    model = DigitNet().to(device)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                    steps_per_epoch=len(train_loader))
    for epoch in range(args.epochs):
        model.train()
        running = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            scheduler.step()
            running += loss.item() * y.size(0)
        print(f"epoch {epoch + 1}: train loss {running / len(train_loader.dataset):.4f}, "
              f"test accuracy {evaluate(model, test_loader):.4f}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digitnet.pt")
        torch.save(model.state_dict(), path)
        restored = DigitNet()
        restored.load_state_dict(torch.load(path))
    accuracy = evaluate(restored, test_loader)
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
