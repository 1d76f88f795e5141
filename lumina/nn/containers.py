"""``torch.nn``'s keyed and parameter containers: ``ModuleDict``, ``ParameterList``,
``ParameterDict`` (``Sequential`` and ``ModuleList`` are in ``layers``). Their entries are
registered, so ``parameters()``, ``state_dict()`` and ``to()`` see them under their keys.
https://pytorch.org/docs/stable/nn.html#containers"""
from __future__ import annotations

from collections.abc import Mapping

from ..errors import LuminaIndexError, LuminaTypeError
from ..tensor import Tensor
from .module import Module, Parameter


def _key(owner: str, key) -> str:
    if not isinstance(key, str):
        raise LuminaTypeError(f"{owner}: keys must be strings, got {type(key).__name__}")
    return key


def _pairs(owner: str, entries):
    """A mapping's items (in its order) or an iterable of (key, value) pairs."""
    if isinstance(entries, Mapping):
        return list(entries.items())
    pairs = []
    for i, kv in enumerate(entries):
        if not isinstance(kv, (tuple, list)) or len(kv) != 2:
            raise LuminaTypeError(f"{owner}.update: element {i} should be a (key, value) pair, got {kv!r}")
        pairs.append(tuple(kv))
    return pairs


class ModuleDict(Module):
    """``torch.nn.ModuleDict``: an ordered dict of named modules (insertion order kept). Raises
    LuminaTypeError for a value that is not a Module or a key that is not a string, LuminaIndexError
    for a missing key."""

    def __init__(self, modules: Mapping | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise LuminaIndexError(f"ModuleDict: no module {key!r} (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise LuminaTypeError(f"ModuleDict: {type(module).__name__} is not a Module")
        setattr(self, _key("ModuleDict", key), module)

    def __delitem__(self, key: str) -> None:
        self[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def __contains__(self, key) -> bool:
        return key in self._modules

    def clear(self) -> None:
        for k in list(self._modules):
            del self[k]

    def pop(self, key: str) -> Module:
        m = self[key]
        del self[key]
        return m

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules) -> None:
        for k, m in _pairs("ModuleDict", modules):
            self[k] = m


def _as_parameter(value):
    """torch's rule: a plain tensor entered into a parameter container becomes a Parameter."""
    return Parameter(value) if isinstance(value, Tensor) and not isinstance(value, Parameter) else value


class ParameterList(Module):
    """``torch.nn.ParameterList``: a list of parameters registered as "0", "1", ...; a tensor that
    is not a Parameter is made one, other values are held unregistered, as torch. Raises
    LuminaIndexError for an index out of range."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        for v in values or ():
            self.append(v)

    def _index(self, i: int) -> int:
        if not -self._size <= i < self._size:
            raise LuminaIndexError(f"ParameterList: index {i} out of range for {self._size} entries")
        return i % self._size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ParameterList([self[j] for j in range(self._size)[i]])
        return getattr(self, str(self._index(i)))

    def __setitem__(self, i: int, value) -> None:
        setattr(self, str(self._index(i)), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self):
        return iter([self[i] for i in range(self._size)])

    def append(self, value) -> "ParameterList":
        object.__setattr__(self, "_size", self._size + 1)
        setattr(self, str(self._size - 1), _as_parameter(value))
        return self

    def extend(self, values) -> "ParameterList":
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"({i}): {type(p).__name__} of shape {list(p.shape)}" if isinstance(p, Tensor)
                         else f"({i}): {type(p).__name__}" for i, p in enumerate(self))


class ParameterDict(Module):
    """``torch.nn.ParameterDict``: an ordered dict of named parameters (tensors made Parameters,
    other values held unregistered, as torch). Raises LuminaTypeError for a key that is not a
    string, LuminaIndexError for a missing key."""

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise LuminaIndexError(f"ParameterDict: no parameter {key!r} (keys: {list(self._keys)})")
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        self._keys[_key("ParameterDict", key)] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        self[key]
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(list(self._keys))

    def __contains__(self, key) -> bool:
        return key in self._keys

    def keys(self):
        return list(self._keys)

    def values(self):
        return [self[k] for k in self._keys]

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def get(self, key: str, default=None):
        return self[key] if key in self._keys else default

    def pop(self, key: str):
        v = self[key]
        del self[key]
        return v

    def clear(self) -> None:
        for k in list(self._keys):
            del self[k]

    def update(self, parameters) -> None:
        for k, v in _pairs("ParameterDict", parameters):
            self[k] = v
