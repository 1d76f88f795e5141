"""Pooling layers, as PyTorch 2.13's: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``,
``AdaptiveAvgPool1d/2d/3d`` and ``AdaptiveMaxPool1d/2d/3d``. Each keeps its constructor arguments
as attributes of torch's names and calls its ``functional.pooling`` function, whose docstring gives
the shapes, dtypes and errors."""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _MaxPoolNd(Module):
    nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor):
        return getattr(F, f"max_pool{self.nd}d")(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                                 ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """``torch.nn.MaxPool1d`` (``functional.max_pool1d``): ``[N, C, L]`` or ``[C, L]``; with
    ``return_indices`` also the int64 positions of the maxima.
    https://pytorch.org/docs/2.13/generated/torch.nn.MaxPool1d.html"""
    nd = 1


class MaxPool2d(_MaxPoolNd):
    """``torch.nn.MaxPool2d`` (``functional.max_pool2d``): ``[N, C, H, W]`` or ``[C, H, W]``.
    https://pytorch.org/docs/2.13/generated/torch.nn.MaxPool2d.html"""
    nd = 2


class MaxPool3d(_MaxPoolNd):
    """``torch.nn.MaxPool3d`` (``functional.max_pool3d``): ``[N, C, D, H, W]`` or ``[C, D, H, W]``.
    https://pytorch.org/docs/2.13/generated/torch.nn.MaxPool3d.html"""
    nd = 3


class _AvgPoolNd(Module):
    nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        extra = () if self.nd == 1 else (self.divisor_override,)
        return getattr(F, f"avg_pool{self.nd}d")(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                                 self.count_include_pad, *extra)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """``torch.nn.AvgPool1d`` (``functional.avg_pool1d``): ``[N, C, L]`` or ``[C, L]``.
    https://pytorch.org/docs/2.13/generated/torch.nn.AvgPool1d.html"""
    nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        del self.divisor_override
        single = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,)   # noqa: E731 (torch's _single)
        self.kernel_size, self.stride, self.padding = single(self.kernel_size), single(self.stride), single(padding)


class AvgPool2d(_AvgPoolNd):
    """``torch.nn.AvgPool2d`` (``functional.avg_pool2d``): ``[N, C, H, W]`` or ``[C, H, W]``.
    https://pytorch.org/docs/2.13/generated/torch.nn.AvgPool2d.html"""
    nd = 2


class AvgPool3d(_AvgPoolNd):
    """``torch.nn.AvgPool3d`` (``functional.avg_pool3d``): ``[N, C, D, H, W]`` or ``[C, D, H, W]``.
    https://pytorch.org/docs/2.13/generated/torch.nn.AvgPool3d.html"""
    nd = 3


class _AdaptiveAvgPoolNd(Module):
    nd = 2

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, f"adaptive_avg_pool{self.nd}d")(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """``torch.nn.AdaptiveAvgPool1d`` (``functional.adaptive_avg_pool1d``).
    https://pytorch.org/docs/2.13/generated/torch.nn.AdaptiveAvgPool1d.html"""
    nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """``torch.nn.AdaptiveAvgPool2d`` (``functional.adaptive_avg_pool2d``).
    https://pytorch.org/docs/2.13/generated/torch.nn.AdaptiveAvgPool2d.html"""
    nd = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """``torch.nn.AdaptiveAvgPool3d`` (``functional.adaptive_avg_pool3d``).
    https://pytorch.org/docs/2.13/generated/torch.nn.AdaptiveAvgPool3d.html"""
    nd = 3


class _AdaptiveMaxPoolNd(Module):
    nd = 2

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor):
        return getattr(F, f"adaptive_max_pool{self.nd}d")(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool1d`` (``functional.adaptive_max_pool1d``).
    https://pytorch.org/docs/2.13/generated/torch.nn.AdaptiveMaxPool1d.html"""
    nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool2d`` (``functional.adaptive_max_pool2d``).
    https://pytorch.org/docs/2.13/generated/torch.nn.AdaptiveMaxPool2d.html"""
    nd = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool3d`` (``functional.adaptive_max_pool3d``).
    https://pytorch.org/docs/2.13/generated/torch.nn.AdaptiveMaxPool3d.html"""
    nd = 3
