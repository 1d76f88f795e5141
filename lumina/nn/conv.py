"""Convolution and pooling layers over NCHW tensors: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``."""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaShapeError, LuminaValueError
from ..tensor import Tensor
from . import functional as F
from . import init
from .functional.conv import pair
from .module import Module, Parameter, factory


class Conv2d(Module):
    """``torch.nn.Conv2d``: weight ``[out, in / groups, kh, kw]``, bias ``[out]``, both initialised as
    PyTorch's (``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias
    from the same bound; ``fan_in = in / groups * kh * kw``). Input ``[N, in, H, W]`` (or
    ``[in, H, W]``) -> ``[N, out, Ho, Wo]``; computed by ``functional.conv2d`` (im2col + dot).
    Raises LuminaValueError when ``groups`` does not divide the channels or for a padding mode
    other than "zeros", LuminaShapeError naming the layer for an input with other channels or a
    kernel larger than the padded input. ``device`` / ``dtype``: see ``module.factory``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise LuminaValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} and "
                                   f"out_channels={out_channels}")
        if padding_mode != "zeros":
            raise LuminaValueError(f"Conv2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride, self.dilation = pair(stride, "stride", "Conv2d"), pair(dilation, "dilation", "Conv2d")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", "Conv2d")
        self.weight = Parameter(np.zeros((out_channels, in_channels // groups) + self.kernel_size, np.float32))
        self.bias = Parameter(np.zeros(out_channels, np.float32)) if bias else None
        self.reset_parameters()
        factory(self, device, dtype)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise LuminaShapeError(f"{self._name()}: expects input [N, {self.in_channels}, H, W] or "
                                   f"[{self.in_channels}, H, W], got {x._value.type}")
        try:
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        except LuminaShapeError as e:
            raise LuminaShapeError(f"{self._name()}: {e}") from None

    def _name(self) -> str:
        return f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """``torch.nn.MaxPool2d`` (see ``functional.max_pool2d``). Raises LuminaValueError for
    ``return_indices=True`` (not supported)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        if return_indices:
            raise LuminaValueError("MaxPool2d: return_indices=True is not supported")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """``torch.nn.AvgPool2d`` (see ``functional.avg_pool2d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
