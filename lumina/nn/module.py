"""``Module`` and ``Parameter``: PyTorch's container model for layers and their weights."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..errors import LuminaShapeError, LuminaValueError
from ..tensor import Tensor, tensor


class Parameter(Tensor):
    """A realised leaf tensor that requires grad and that a ``Module`` registers as a weight."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        src = data if isinstance(data, Tensor) else tensor(data)
        arr = np.array(src.numpy(), copy=True)
        t = Tensor._from_array(arr, requires_grad)
        super().__init__(t._value, requires_grad, _is_leaf=True)


class Module:
    """Base class of layers. Assigning a ``Parameter`` or a ``Module`` attribute registers it."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise LuminaValueError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen = set()
        for mp, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mp}.{name}" if mp else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def train(self, mode: bool = True) -> "Module":
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameter name -> a copy of its value as a NumPy array."""
        return OrderedDict((n, np.array(p.numpy(), copy=True)) for n, p in self.named_parameters())

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy values into the parameters. Raises LuminaValueError naming missing/unexpected keys
        (when ``strict``) and LuminaShapeError naming a key whose shape differs."""
        params = dict(self.named_parameters())
        if strict:
            missing = sorted(set(params) - set(state))
            unexpected = sorted(set(state) - set(params))
            if missing or unexpected:
                raise LuminaValueError(f"load_state_dict: {type(self).__name__}: missing keys {missing}, "
                                       f"unexpected keys {unexpected}")
        for name, value in state.items():
            if name not in params:
                continue
            arr = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
            p = params[name]
            if arr.shape != p.shape:
                raise LuminaShapeError(f"load_state_dict: {type(self).__name__}: key {name!r} has shape "
                                       f"{list(arr.shape)}, the parameter has {list(p.shape)}")
            p.assign(tensor(arr, dtype=p.dtype))
            p.numpy()

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            lines.append(f"  ({name}): " + repr(m).replace("\n", "\n  "))
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")
