"""``Module`` and ``Parameter``: PyTorch's container model for layers, their weights and buffers."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..tensor import Tensor, no_grad, realize, tensor


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
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise LuminaValueError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._buffers and not isinstance(value, Parameter):
            if value is not None and not isinstance(value, Tensor):
                raise LuminaTypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                                      f"{name!r} (a tensor or None is expected)")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Parameter) and name in self._parameters:
            self._parameters[name] = value   # keeps its place (``self.weight += 1`` rebinds the same one)
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as state that is not a parameter (BatchNorm's running statistics).

        A buffer is saved in ``state_dict`` (unless ``persistent=False``) and loaded back; a layer
        updates it with ``Tensor.assign``, which inside ``@lumina.compile`` becomes a state output
        written back after each call. Raises LuminaValueError for a bad or taken name,
        LuminaTypeError for a value that is not a tensor."""
        if "_buffers" not in self.__dict__:
            raise LuminaValueError(f"{type(self).__name__}: call super().__init__() before register_buffer")
        if not isinstance(name, str) or not name or "." in name:
            raise LuminaValueError(f"register_buffer: bad buffer name {name!r}")
        if name in self._parameters or name in self._modules or (hasattr(self, name) and name not in self._buffers):
            raise LuminaValueError(f"register_buffer: {type(self).__name__} already has an attribute {name!r}")
        if tensor is not None and (not isinstance(tensor, Tensor) or isinstance(tensor, Parameter)):
            raise LuminaTypeError(f"register_buffer: {name!r} must be a Tensor (not a Parameter) or None, "
                                  f"got {type(tensor).__name__}")
        if tensor is not None:
            realize(tensor)
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, tensor)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mp, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mp}.{name}" if mp else name), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        """``forward(*args, **kwargs)``, with NumPy arrays among the positional arguments made
        Tensors first (so the result is a Tensor with its autograd history, as a torch module
        called on ``torch.from_numpy(a)``)."""
        args = tuple(tensor(a) if isinstance(a, np.ndarray) else a for a in args)
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

    def to(self, device) -> "Module":
        """Move every parameter and buffer to ``device`` ("cpu", "cuda", "metal") in place, as
        ``torch.nn.Module.to(device)``; see ``Tensor.to``. Returns self."""
        for _, m in self.named_modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is not None:
                    t._set_value(t.to(device)._value)   # noqa: SLF001 (assign would keep the device)
                    if t.grad is not None:
                        t.grad = t.grad.to(device)
        return self

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """(name, tensor) of every parameter and persistent buffer, in PyTorch's ``state_dict`` order:
        modules in definition order, each one's parameters before its buffers."""
        for mp, m in self.named_modules():
            for name, t in list(m._parameters.items()) + [
                    (n, b) for n, b in m._buffers.items() if n not in m._non_persistent]:
                if t is not None:
                    yield (f"{mp}.{name}" if mp else name), t

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameter and persistent buffer name -> a copy of its value as a NumPy array."""
        items = list(self._state_items())
        realize(*(t for _, t in items))
        return OrderedDict((n, np.array(t.numpy(), copy=True)) for n, t in items)

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy values into the parameters and buffers (cast to their dtypes). Raises
        LuminaValueError naming missing/unexpected keys (when ``strict``) and LuminaShapeError naming
        a key whose shape differs."""
        targets = dict(self._state_items())
        if strict:
            missing = sorted(set(targets) - set(state))
            unexpected = sorted(set(state) - set(targets))
            if missing or unexpected:
                raise LuminaValueError(f"load_state_dict: {type(self).__name__}: missing keys {missing}, "
                                       f"unexpected keys {unexpected}")
        loaded = []
        for name, value in state.items():
            if name not in targets:
                continue
            arr = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
            t = targets[name]
            if arr.shape != t.shape:
                kind = "parameter" if isinstance(t, Parameter) else "buffer"
                raise LuminaShapeError(f"load_state_dict: {type(self).__name__}: key {name!r} has shape "
                                       f"{list(arr.shape)}, the {kind} has {list(t.shape)}")
            with no_grad():   # as torch's load_state_dict: a parameter's copy_ records no history
                t.assign(tensor(arr, dtype=t.dtype))
            loaded.append(t)
        realize(*loaded)

    def save(self, path) -> None:
        """Write ``state_dict()`` to ``path`` as an uncompressed ``.npz`` (NumPy appends ``.npz`` to a
        path without it), one array per key."""
        np.savez(path, **self.state_dict())

    def load(self, path, strict: bool = True) -> "Module":
        """Load a file written by ``save`` into this module (``load_state_dict``); returns self."""
        with np.load(path, allow_pickle=False) as data:
            self.load_state_dict({k: data[k] for k in data.files}, strict)
        return self

    def apply(self, fn) -> "Module":
        """Call ``fn`` on every submodule (children first) and on self, as PyTorch; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            lines.append(f"  ({name}): " + repr(m).replace("\n", "\n  "))
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")
