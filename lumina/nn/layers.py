"""Layers: ``Linear``, ``Bilinear``, ``ReLU`` / ``GELU`` / ``Tanh`` / ``Sigmoid`` (the other activations are
in ``activation``), ``Flatten`` / ``Unflatten`` / ``Identity`` and the containers ``Sequential`` / ``ModuleList``."""
from __future__ import annotations

import math
from collections import OrderedDict

from ..tensor.autocast import autocast_operands
from ..errors import LuminaIndexError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ..tensor.random import rand
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter, factory


def _uniform(shape, bound: float) -> Parameter:
    return Parameter((rand(tuple(shape)) * 2.0 - 1.0) * bound)


class Linear(Module):
    """``y = x @ W.T + b`` with ``W: [out_features, in_features]`` (PyTorch's layout and default
    init: U(-1/sqrt(in), 1/sqrt(in)) for both W and b, i.e. kaiming_uniform with a = sqrt(5)).

    Input ``[..., in_features]``, output ``[..., out_features]``; raises LuminaShapeError otherwise.
    ``device`` / ``dtype``: where the parameters live and their dtype (``module.factory``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        self.weight = _uniform((out_features, in_features), bound)
        self.bias = _uniform((out_features,), bound) if bias else None
        factory(self, device, dtype)

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
    """``max(x, 0)``; ``inplace`` writes it into the input (``functional.relu``)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """``torch.nn.GELU(approximate='none' | 'tanh')`` (Hendrycks & Gimpel 2016; ``Tensor.gelu``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return x.gelu(self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Sequential(Module):
    """``torch.nn.Sequential``: applies its modules in order. Built from modules (named "0", "1",
    ...) or from one ``OrderedDict`` of name -> module (``Sequential(OrderedDict(head=...))``,
    then ``seq.head``). Indexing takes an int (negative too) or a slice (a new ``Sequential`` of
    the same modules, names kept); ``append``, ``insert``, ``extend``, ``pop``, ``del seq[i]``,
    ``seq[i] = m`` and ``+`` as torch's. Raises LuminaIndexError for an index out of range and
    LuminaTypeError for something that is not a Module.
    Semantics: https://pytorch.org/docs/stable/generated/torch.nn.Sequential.html"""

    def __init__(self, *args: Module):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, self._check(m))
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), self._check(m))

    @staticmethod
    def _check(m) -> Module:
        if not isinstance(m, Module):
            raise LuminaTypeError(f"Sequential: {type(m).__name__} is not a Module")
        return m

    def forward(self, input):  # noqa: A002
        for m in self._modules.values():
            input = m(input)
        return input

    def _key(self, idx: int) -> str:
        n = len(self._modules)
        if isinstance(idx, bool) or not isinstance(idx, int) or not -n <= idx < n:
            raise LuminaIndexError(f"Sequential: index {idx!r} is out of range for {n} modules")
        return list(self._modules)[idx % n]

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, self._key(idx), self._check(module))

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)[idx] if isinstance(idx, slice) else [self._key(idx)]
        for k in keys:
            delattr(self, k)
        items = list(self._modules.items())   # torch renumbers what is left: "0", "1", ...
        for k, _ in items:
            delattr(self, k)
        for i, (_, m) in enumerate(items):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __add__(self, other: "Sequential") -> "Sequential":
        if not isinstance(other, Sequential):
            raise LuminaTypeError(f"Sequential: cannot add a {type(other).__name__}")
        return Sequential(*self, *other)

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), self._check(module))
        return self

    def extend(self, sequential) -> "Sequential":
        for m in sequential:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, int) or not -n <= index <= n:
            raise LuminaIndexError(f"Sequential.insert: index {index!r} is out of range for {n} modules")
        mods = list(self)
        mods.insert(index % (n + 1) if index < 0 else index, self._check(module))
        for k in list(self._modules):
            delattr(self, k)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)
        return self

    def pop(self, key: int) -> Module:
        m = self[key]
        del self[key]
        return m


class ModuleList(Module):
    """``torch.nn.ModuleList``: a list of modules whose parameters and buffers are registered (under
    the names "0", "1", ...). It has no ``forward``; iterate over it."""

    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def _check(self, m) -> Module:
        if not isinstance(m, Module):
            raise LuminaTypeError(f"ModuleList: {type(m).__name__} is not a Module")
        return m

    def append(self, module: Module) -> "ModuleList":
        setattr(self, str(len(self._modules)), self._check(module))
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, self._check(module))
        self._relabel(items)

    def _relabel(self, items) -> None:
        for name in list(self._modules):
            delattr(self, name)      # Module.__delattr__ unregisters it
        for i, m in enumerate(items):
            setattr(self, str(i), m)

    def __getitem__(self, i):
        items = list(self._modules.values())
        if isinstance(i, slice):
            return ModuleList(items[i])
        if not -len(items) <= i < len(items):
            raise IndexError(f"ModuleList: index {i} out of range for {len(items)} modules")
        return items[i]

    def __setitem__(self, i: int, module: Module) -> None:
        items = list(self._modules.values())
        items[i] = self._check(module)
        self._relabel(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))


class Flatten(Module):
    """``torch.nn.Flatten``: merges dims ``start_dim..end_dim`` (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)


class Identity(Module):
    """``torch.nn.Identity``: returns its input; the constructor's arguments are ignored, as torch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Unflatten(Module):
    """``torch.nn.Unflatten``: splits dim ``dim`` of the input into ``unflattened_size`` (whose
    product must be that dim's size; one entry may be -1). Raises LuminaTypeError when
    ``unflattened_size`` is not a list or tuple of ints, LuminaShapeError when it does not fit."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (list, tuple)) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in unflattened_size):
            raise LuminaTypeError(f"Unflatten: unflattened_size must be a tuple or list of ints, "
                                  f"got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        n = input.ndim
        if not -n <= self.dim < n:
            raise LuminaShapeError(f"Unflatten: dim {self.dim} out of range for {input._value.type}")
        d = self.dim % n
        sizes = self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != input.shape[d]) or (
                sizes.count(-1) == 1 and (known == 0 or input.shape[d] % known)):
            raise LuminaShapeError(f"Unflatten: sizes {list(sizes)} do not fit dim {self.dim} "
                                   f"({input.shape[d]}) of {input._value.type}")
        # -1 resolved here: an empty input's other dims still say what it stands for
        sizes = tuple(input.shape[d] // known if s == -1 else s for s in sizes)
        return input.reshape(*input.shape[:d], *sizes, *input.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Bilinear(Module):
    """``torch.nn.Bilinear``: ``y = x1^T W x2 + b`` (``functional.bilinear``) with ``weight [out_features,
    in1_features, in2_features]`` and ``bias [out_features]``, both U(-1/sqrt(in1), 1/sqrt(in1))
    (torch's init). Inputs ``[..., in1]`` and ``[..., in2]``, output ``[..., out]``. ``device`` /
    ``dtype``: see ``module.factory``. Raises LuminaValueError when ``in1_features <= 0``."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        if in1_features <= 0:
            raise LuminaValueError(f"Bilinear: in1_features must be > 0, but got (in1_features={in1_features})")
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        bound = 1 / math.sqrt(in1_features)
        self.weight = _uniform((out_features, in1_features, in2_features), bound)
        self.bias = _uniform((out_features,), bound) if bias else None
        factory(self, device, dtype)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
