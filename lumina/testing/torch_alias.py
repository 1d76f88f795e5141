"""Run PyTorch source unchanged on lumina: ``import torch`` (and ``torch.nn``, ``torch.optim``, ...)
resolves to lumina's modules while a block runs.

    with torch_aliased():
        module = importlib.import_module("resnet")      # its ``import torch`` binds lumina

Only imports made inside the block are affected, and the real ``torch`` (the test suite's oracle)
is put back when it ends; modules imported inside keep their lumina bindings. A ``torch.X`` that
lumina lacks raises ``ModuleNotFoundError`` naming it, as a missing torch module would.
"""
from __future__ import annotations

import importlib
import sys
from contextlib import contextmanager
from typing import Iterator

SUBMODULES = ("nn", "nn.functional", "nn.init", "nn.utils", "optim", "optim.lr_scheduler", "utils", "utils.data",
              "linalg", "jit", "autograd", "cuda", "accelerator")
"""lumina's modules that stand for torch's of the same name (those lumina has are aliased)."""


def _is_torch(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


@contextmanager
def torch_aliased() -> Iterator[None]:
    """While the block runs, ``sys.modules["torch"]`` is ``lumina`` and ``torch.X`` is ``lumina.X``
    for each of lumina's ``SUBMODULES``; the real torch modules are restored afterwards, even when
    the block raises."""
    import lumina
    aliases = {"torch": lumina}
    for sub in SUBMODULES:
        try:
            aliases[f"torch.{sub}"] = importlib.import_module(f"lumina.{sub}")
        except ModuleNotFoundError:
            continue
    saved = {k: sys.modules.pop(k) for k in [k for k in sys.modules if _is_torch(k)]}
    sys.modules.update(aliases)
    try:
        yield
    finally:
        for k in [k for k in sys.modules if _is_torch(k)]:
            del sys.modules[k]
        sys.modules.update(saved)
