"""Real PyTorch model files from the package index, loaded twice: once on torch (the oracle) and once,
unchanged, on lumina with ``torch`` aliased (``torch_alias``).

The files come from torchvision's wheel (``registry``): its model definitions (``models/resnet.py``,
``models/mobilenetv2.py``, ...) and the helpers they import (``ops/misc.py``, ``models/_api.py``,
``models/_utils.py``, ``models/_meta.py``, ``_utils.py``) are run as published. What only serves
pretrained weights, logging and image presets is replaced by the stubs below (downloads are
impossible here and none of it computes anything); no line of a model file is changed.

    tv = torchvision("lumina")           # the package, on lumina
    model = tv.models.resnet.resnet18(num_classes=10)
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from pathlib import Path

from . import registry
from .torch_alias import torch_aliased

TORCHVISION = ("torchvision", "0.28.0")
"""The wheel the ported files come from (the release that pairs with torch 2.13)."""

MODEL_FILES = ("resnet", "mobilenetv2", "mobilenetv3", "alexnet", "squeezenet", "shufflenetv2", "mnasnet", "regnet",
               "vision_transformer", "googlenet")
"""The model files of ``torchvision/models`` that the port test runs."""

VERBATIM = ("_utils", "models._api", "models._utils", "models._meta", "ops.misc") + tuple(
    f"models.{m}" for m in MODEL_FILES)
"""Modules run exactly as the wheel ships them."""

STUBS = {
    "": "",
    "models": "",
    "ops": "",
    "transforms": "",
    "utils": '''
import collections.abc
from itertools import repeat


def _log_api_usage_once(obj):
    """torchvision logs API use to torch's telemetry; nothing to log here."""


def _make_ntuple(x, n):
    """``x`` as an ``n``-tuple: an iterable as it is, a scalar repeated."""
    return tuple(x) if isinstance(x, collections.abc.Iterable) else tuple(repeat(x, n))
''',
    "_internally_replaced_utils": '''
def load_state_dict_from_url(url, *args, **kwargs):
    raise RuntimeError(f"the port tests never download weights ({url})")
''',
    "transforms._presets": '''
from enum import Enum


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


class ImageClassification:
    """The pretrained weights' preprocessing preset: only named in their metadata here."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
''',
}
"""Stand-ins for the infrastructure that only pretrained weights, logging and presets use."""


class _SourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the modules ``root.<name>`` from ``{name: (origin, source)}``; a name that others
    extend (``models``) is a package."""

    def __init__(self, root: str, sources: dict[str, tuple[str, str]]):
        self.root, self.sources = root, sources

    def _key(self, fullname: str) -> str | None:
        if fullname == self.root:
            return ""
        prefix = self.root + "."
        return fullname[len(prefix):] if fullname.startswith(prefix) else None

    def find_spec(self, fullname, path=None, target=None):
        key = self._key(fullname)
        if key is None or key not in self.sources:
            return None
        is_package = key == "" or any(k.startswith(key + ".") for k in self.sources)
        return importlib.util.spec_from_loader(fullname, self, origin=self.sources[key][0], is_package=is_package)

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        origin, source = self.sources[self._key(module.__name__)]
        exec(compile(source, origin, "exec"), module.__dict__)


def _sources() -> dict[str, tuple[str, str]]:
    package, version = TORCHVISION
    members = {name: "torchvision/" + name.replace(".", "/") + ".py" for name in VERBATIM}
    paths = registry.fetch_all(package, version, list(members.values()))
    sources = {name: (str(paths[m]), Path(paths[m]).read_text()) for name, m in members.items()}
    sources.update({name: (f"<lumina port stub {name or '__init__'}>", text) for name, text in STUBS.items()})
    return sources


_LOADED: dict[str, types.ModuleType] = {}


def torchvision(flavour: str) -> types.ModuleType:
    """torchvision's model package built on ``flavour`` ("torch" or "lumina"), imported once per
    process under the name ``_port_<flavour>_torchvision``; ``.models.<file>`` holds each of
    ``MODEL_FILES``. Raises LuminaError when the wheel cannot be fetched, and whatever importing a
    file raises (a name lumina lacks: AttributeError or ModuleNotFoundError, as on torch)."""
    if flavour not in ("torch", "lumina"):
        raise ValueError(f"torchvision: flavour must be 'torch' or 'lumina', got {flavour!r}")
    if flavour in _LOADED:
        return _LOADED[flavour]
    root = f"_port_{flavour}_torchvision"
    finder = _SourceFinder(root, _sources())
    sys.meta_path.insert(0, finder)
    try:
        if flavour == "lumina":
            with torch_aliased():
                package = _import_all(root)
        else:
            package = _import_all(root)
    finally:
        sys.meta_path.remove(finder)
    _LOADED[flavour] = package
    return package


def _import_all(root: str) -> types.ModuleType:
    package = importlib.import_module(root)
    for name in MODEL_FILES:
        try:
            importlib.import_module(f"{root}.models.{name}")
        except Exception as e:   # recorded, raised when the test uses the file
            setattr(importlib.import_module(f"{root}.models"), name, _Unavailable(name, e))
    return package


class _Unavailable:
    """A model file that failed to import: using it raises what the import raised."""

    def __init__(self, name: str, error: Exception):
        self.name, self.error = name, error

    def __getattr__(self, attr):
        raise ImportError(f"torchvision/models/{self.name}.py did not import: "
                          f"{type(self.error).__name__}: {self.error}") from self.error
