"""PyTorch models exported to ONNX with ``torch.onnx.export(..., dynamo=True)``, the exporter PyTorch
now recommends, for the importer's tests: an MLP and a ResNet-style CNN trained on scikit-learn's
digits, ResNet-18 at 224x224, and GPT-2 and BERT built from ``transformers`` configs with random
weights (nothing is downloaded). At opset 23 the exporter emits the fused ``Attention`` op.

Each builder returns an ``Export``: the module in eval mode, example inputs, and the names of their
dynamic dimensions (``{input index: {axis: name}}``), so the exported graph has symbolic dims.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn


@dataclass
class Export:
    module: object                 # torch.nn.Module, eval mode
    inputs: tuple                  # example torch tensors
    dynamic: dict = field(default_factory=dict)   # {input index: {axis: dim name}}

    def save(self, path: Path, opset: int) -> Path:
        """Export to ``path`` at ``opset`` with the dynamo exporter; returns ``path``."""
        shapes = tuple({axis: torch.export.Dim(name) for axis, name in self.dynamic.get(i, {}).items()} or None
                       for i in range(len(self.inputs)))
        program = torch.onnx.export(self.module, self.inputs, dynamo=True, opset_version=opset,
                                    dynamic_shapes=shapes, verbose=False)
        program.save(str(path))
        return path


def _digits():
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def _train(module, x, y, steps: int = 150):
    """A few Adam steps of cross-entropy on the digits: enough to give the weights real structure."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(module.parameters(), lr=3e-3)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    for step in range(steps):
        batch = torch.randint(0, len(xs), (64,))
        loss = torch.nn.functional.cross_entropy(module(xs[batch]), ys[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return module.eval()


def digits_mlp() -> Export:
    """``[batch, 64] -> [batch, 10]``: 64-128-64-10 with ReLU, trained on the digits."""
    torch.manual_seed(0)
    x, y = _digits()
    model = _train(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)), x, y)
    return Export(model, (torch.from_numpy(x[:4]),), {0: {0: "batch"}})


class BasicBlock(nn.Module):
    """The ResNet basic block (He et al. 2016): two 3x3 conv-BN stages and a shortcut that is a
    strided 1x1 conv-BN where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.down = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.down(x))


def digits_resnet() -> Export:
    """``[batch, 1, 8, 8] -> [batch, 10]``: a stem conv, two basic blocks (the second strided), global
    average pooling and a linear head, trained on the digits."""
    torch.manual_seed(0)
    x, y = _digits()
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                          BasicBlock(16, 16, 1), BasicBlock(16, 32, 2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    images = x.reshape(-1, 1, 8, 8)
    model = _train(model, images, y, steps=100)
    return Export(model, (torch.from_numpy(images[:4]),), {0: {0: "batch"}})


def resnet18() -> Export:
    """ResNet-18 (He et al. 2016, the torchvision layout), random weights with BatchNorm statistics
    that are not the identity: ``[batch, 3, 224, 224] -> [batch, 1000]``."""
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(c, c_out, stride), BasicBlock(c_out, c_out, 1)]
        c = c_out
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return Export(model.eval(), (torch.randn(1, 3, 224, 224),), {0: {0: "batch"}})


def gpt2(n_layer: int = 2, d_model: int = 64, n_head: int = 4, vocab: int = 500) -> Export:
    """``transformers``' GPT-2 with random weights: token ids ``[batch, seq]`` -> last hidden state
    ``[batch, seq, d_model]`` (causal self-attention, no KV cache)."""
    from transformers import GPT2Config, GPT2Model
    torch.manual_seed(0)
    inner = GPT2Model(GPT2Config(n_layer=n_layer, n_embd=d_model, n_head=n_head, vocab_size=vocab,
                                 n_positions=128)).eval()

    class GPT2(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, ids):
            return self.inner(input_ids=ids, use_cache=False).last_hidden_state
    ids = torch.randint(0, vocab, (2, 16))
    return Export(GPT2().eval(), (ids,), {0: {0: "batch", 1: "seq"}})


def bert(n_layer: int = 2, d_model: int = 64, n_head: int = 4, vocab: int = 500) -> Export:
    """``transformers``' BERT with random weights: token ids and attention mask ``[batch, seq]`` (int64)
    -> last hidden state ``[batch, seq, d_model]``."""
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    inner = BertModel(BertConfig(num_hidden_layers=n_layer, hidden_size=d_model, num_attention_heads=n_head,
                                 intermediate_size=2 * d_model, vocab_size=vocab,
                                 max_position_embeddings=128)).eval()

    class Bert(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, ids, mask):
            return self.inner(input_ids=ids, attention_mask=mask).last_hidden_state
    ids = torch.randint(0, vocab, (2, 16))
    dims = {0: "batch", 1: "seq"}
    return Export(Bert().eval(), (ids, torch.ones(2, 16, dtype=torch.int64)), {0: dims, 1: dims})


EXPORTS = {"digits_mlp": digits_mlp, "digits_resnet": digits_resnet, "resnet18": resnet18, "gpt2": gpt2,
           "bert": bert}
