"""Padding layers, as PyTorch 2.13's: ``ZeroPad1d/2d/3d``, ``ConstantPad1d/2d/3d``,
``ReflectionPad1d/2d/3d``, ``ReplicationPad1d/2d/3d`` and ``CircularPad1d/2d/3d``, each a call of
``functional.pad`` (whose docstring gives the ranks each mode accepts and its errors) with the
module's ``padding``: an int (every side) or a tuple ``(left, right[, top, bottom[, front,
back]])``, stored as the tuple. Semantics: https://pytorch.org/docs/2.13/nn.html#padding-layers
"""
from __future__ import annotations

import numpy as np

from ..errors import LuminaValueError
from ..tensor import Tensor
from . import functional as F
from .module import Module


def _padding(padding, nd: int, name: str) -> tuple[int, ...]:
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        return (int(padding),) * (2 * nd)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 * nd and \
            all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in padding):
        return tuple(int(p) for p in padding)
    raise LuminaValueError(f"{name}: padding must be an int or a tuple of {2 * nd} ints, got {padding!r}")


class _PadNd(Module):
    nd = 1
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding(padding, self.nd, type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """``torch.nn.ConstantPad1d``: the last dim padded with ``value``."""
    nd = 1


class ConstantPad2d(_ConstantPadNd):
    """``torch.nn.ConstantPad2d``: the last 2 dims padded with ``value``."""
    nd = 2


class ConstantPad3d(_ConstantPadNd):
    """``torch.nn.ConstantPad3d``: the last 3 dims padded with ``value``."""
    nd = 3


class ZeroPad1d(ConstantPad1d):
    """``torch.nn.ZeroPad1d``: the last dim padded with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """``torch.nn.ZeroPad2d``: the last 2 dims padded with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """``torch.nn.ZeroPad3d``: the last 3 dims padded with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """``torch.nn.ReflectionPad1d``: ``[C, W]`` or ``[N, C, W]`` mirrored about the edge elements."""
    nd, mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """``torch.nn.ReflectionPad2d``: ``[C, H, W]`` or ``[N, C, H, W]`` mirrored about the edges."""
    nd, mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """``torch.nn.ReflectionPad3d``: ``[C, D, H, W]`` or ``[N, C, D, H, W]`` mirrored about the edges."""
    nd, mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """``torch.nn.ReplicationPad1d``: ``[C, W]`` or ``[N, C, W]`` extended by its edge elements."""
    nd, mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """``torch.nn.ReplicationPad2d``: ``[C, H, W]`` or ``[N, C, H, W]`` extended by its edges."""
    nd, mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """``torch.nn.ReplicationPad3d``: ``[C, D, H, W]`` or ``[N, C, D, H, W]`` extended by its edges."""
    nd, mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """``torch.nn.CircularPad1d``: ``[C, W]`` or ``[N, C, W]`` wrapped around."""
    nd, mode = 1, "circular"


class CircularPad2d(_PadNd):
    """``torch.nn.CircularPad2d``: ``[C, H, W]`` or ``[N, C, H, W]`` wrapped around."""
    nd, mode = 2, "circular"


class CircularPad3d(_PadNd):
    """``torch.nn.CircularPad3d``: ``[C, D, H, W]`` or ``[N, C, D, H, W]`` wrapped around."""
    nd, mode = 3, "circular"
