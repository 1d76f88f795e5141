"""Layers: ``Linear``, ``ReLU``, ``Sequential``."""
from __future__ import annotations

import math

from ..amp import autocast_operands
from ..errors import LuminaShapeError
from ..random import rand
from ..tensor import Tensor
from .module import Module, Parameter


def _uniform(shape, bound: float) -> Parameter:
    return Parameter((rand(*shape) * 2.0 - 1.0) * bound)


class Linear(Module):
    """``y = x @ W.T + b`` with ``W: [out_features, in_features]`` (PyTorch's layout and default
    init: U(-1/sqrt(in), 1/sqrt(in)) for both W and b, i.e. kaiming_uniform with a = sqrt(5)).

    Input ``[..., in_features]``, output ``[..., out_features]``; raises LuminaShapeError otherwise.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        self.weight = _uniform((out_features, in_features), bound)
        self.bias = _uniform((out_features,), bound) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise LuminaShapeError(f"Linear({self.in_features}, {self.out_features}): input "
                                   f"{x._value.type} does not end in {self.in_features} features")
        x, w, b = autocast_operands(x, self.weight, self.bias)  # linear is one op for autocast
        y = x @ w.T
        return y + b if b is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return x.gelu(self.approximate)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Sequential(Module):
    """Applies its modules in order."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)
