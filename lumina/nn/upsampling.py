"""Upsampling and sub-pixel layers, as PyTorch 2.13's: ``Upsample``, ``UpsamplingNearest2d``,
``UpsamplingBilinear2d`` (``functional.interpolate``) and ``PixelShuffle`` / ``PixelUnshuffle``
(``functional.pixel_shuffle`` / ``pixel_unshuffle``); the functions' docstrings give the shapes,
dtypes and errors."""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class Upsample(Module):
    """``torch.nn.Upsample``: ``functional.interpolate`` with the constructor's ``size`` /
    ``scale_factor`` (a float, or a tuple of them), ``mode``, ``align_corners`` and
    ``recompute_scale_factor``. https://pytorch.org/docs/2.13/generated/torch.nn.Upsample.html"""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``torch.nn.UpsamplingNearest2d``: ``Upsample(mode="nearest")`` of ``[N, C, H, W]`` input.
    https://pytorch.org/docs/2.13/generated/torch.nn.UpsamplingNearest2d.html"""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``torch.nn.UpsamplingBilinear2d``: ``Upsample(mode="bilinear", align_corners=True)`` of
    ``[N, C, H, W]`` input. https://pytorch.org/docs/2.13/generated/torch.nn.UpsamplingBilinear2d.html"""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """``torch.nn.PixelShuffle``: ``[*, C r^2, H, W] -> [*, C, H r, W r]`` (``functional.pixel_shuffle``).
    https://pytorch.org/docs/2.13/generated/torch.nn.PixelShuffle.html"""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``torch.nn.PixelUnshuffle``: ``[*, C, H r, W r] -> [*, C r^2, H, W]`` (``functional.pixel_unshuffle``).
    https://pytorch.org/docs/2.13/generated/torch.nn.PixelUnshuffle.html"""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
