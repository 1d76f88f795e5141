"""The public names lumina shares with PyTorch 2.13 (``lumina``, ``lumina.Tensor``,
``lumina.nn.functional``, ``lumina.nn`` layers, ``nn.init``, ``nn.utils``, ``lumina.linalg``,
``lumina.special``), found by introspection:
the set the differential harness (``torch_diff``) and the signature check (``torch_signatures``)
both cover."""
from __future__ import annotations

import inspect
import types
from dataclasses import dataclass
from typing import Any

import torch

import lumina

# Python's object protocol: not ops (the comparisons, which are ops on tensors, stay in).
_OBJECT_PROTOCOL = (set(dir(object)) | {"__weakref__", "__dict__", "__slots__", "__module__"}) - {
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"}


@dataclass(frozen=True)
class Namesake:
    """A public lumina name that torch also has: ``name`` as the table spells it ("lumina.exp",
    "Tensor.exp", "F.relu", "nn.Linear", "nn.init.zeros_", "nn.utils.clip_grad_norm_")."""
    name: str
    lumina: Any
    torch: Any


def _scopes():
    """(prefix, lumina namespace, torch namespace, keep(name, lumina object) -> bool)."""
    is_value = lambda n, o: not isinstance(o, types.ModuleType)  # noqa: E731
    return (
        ("lumina", lumina, torch, is_value),
        ("Tensor", lumina.Tensor, torch.Tensor, lambda n, o: n not in _OBJECT_PROTOCOL),
        ("F", lumina.nn.functional, torch.nn.functional, is_value),
        ("nn", lumina.nn, torch.nn, lambda n, o: isinstance(o, type)),
        ("nn.init", lumina.nn.init, torch.nn.init, lambda n, o: callable(o) and not isinstance(o, type)),
        ("nn.utils", lumina.nn.utils, torch.nn.utils, lambda n, o: callable(o) and not isinstance(o, type)),
        ("lumina.linalg", lumina.linalg, torch.linalg, is_value),
        ("lumina.special", lumina.special, torch.special, is_value),
    )


def _public(ns, dunders: bool) -> list[str]:
    names = dir(ns)
    if isinstance(ns, types.ModuleType) and hasattr(ns, "__all__"):
        names = sorted(set(names) & (set(ns.__all__) | {n for n in names if not n.startswith("_")}))
    return [n for n in names if not n.startswith("_") or (dunders and n.startswith("__") and n.endswith("__"))]


def namesakes() -> list[Namesake]:
    """Every public lumina name with a torch namesake, by introspection (see the module docstring).
    Module-level names imported from elsewhere (``math`` in ``nn.init``) are left out."""
    found = []
    for prefix, lns, tns, keep in _scopes():
        for n in _public(lns, dunders=prefix == "Tensor"):
            obj = inspect.getattr_static(lns, n) if prefix == "Tensor" else getattr(lns, n)
            if not hasattr(tns, n) or not keep(n, obj):
                continue
            if isinstance(lns, types.ModuleType) and prefix.startswith("nn.") and \
                    getattr(obj, "__module__", "").split(".")[0] != "lumina":
                continue
            found.append(Namesake(f"{prefix}.{n}", getattr(lns, n), getattr(tns, n)))
    return found
