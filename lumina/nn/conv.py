"""Convolution layers over ``[N, C, *spatial]`` tensors: ``Conv1d`` / ``Conv2d`` / ``Conv3d``,
``ConvTranspose1d`` / ``2d`` / ``3d``, one class each over a shared ``_ConvNd`` (PyTorch 2.13's
constructors, attributes and state-dict keys), and the im2col layers ``Unfold`` / ``Fold``. Pooling
layers are in ``nn.pooling``."""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaShapeError, LuminaValueError
from ..tensor import Tensor
from . import functional as F
from . import init
from .functional.conv import ntuple
from .module import Module, Parameter, factory

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """The parameters and checks every convolution layer shares: ``weight [out, in / groups, *k]``
    (transposed: ``[in, out / groups, *k]``) and ``bias [out]``, both initialised as PyTorch's
    (``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bias from the
    same bound; ``fan_in = weight.shape[1] * prod(k)``)."""

    nd = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, groups: int,
                 bias: bool, padding_mode: str, output_padding=0, device=None, dtype=None):
        super().__init__()
        name, nd = type(self).__name__, self.nd
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise LuminaValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise LuminaValueError(f"{name}: groups={groups} must divide in_channels={in_channels} and "
                                   f"out_channels={out_channels}")
        if padding_mode not in PADDING_MODES:
            raise LuminaValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise LuminaValueError(f"{name}: only 'zeros' padding mode is supported, got {padding_mode!r} (as torch)")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", name)
        self.stride, self.dilation = ntuple(stride, nd, "stride", name), ntuple(dilation, nd, "dilation", name)
        if isinstance(padding, str):
            if self.transposed or padding not in ("same", "valid"):
                raise LuminaValueError(f"{name}: invalid padding string {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise LuminaValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, nd, "padding", name)
        self.output_padding = ntuple(output_padding, nd, "output_padding", name)
        self.padding_mode = padding_mode
        if padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        elif padding == "valid":
            pairs = [(0, 0)] * nd
        else:
            pairs = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = [v for lo_hi in reversed(pairs) for v in lo_hi]
        shape = ((in_channels, out_channels // groups) if self.transposed else
                 (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(np.zeros(shape, np.float32))
        self.bias = Parameter(np.zeros(out_channels, np.float32)) if bias else None
        self.reset_parameters()
        factory(self, device, dtype)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        nd = self.nd
        if x.ndim not in (nd + 1, nd + 2) or x.shape[-nd - 1] != self.in_channels:
            dims = {1: "L", 2: "H, W", 3: "D, H, W"}[nd]
            raise LuminaShapeError(f"{self._name()}: expects input [N, {self.in_channels}, {dims}] or "
                                   f"[{self.in_channels}, {dims}], got {x._value.type}")

    def _name(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"padding={self.padding}")
        if self.transposed and any(self.output_padding):
            s += f", output_padding={self.output_padding}"
        s += f", dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}"
        return s + (f", padding_mode={self.padding_mode}" if self.padding_mode != "zeros" else "")


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        conv = getattr(F, f"conv{self.nd}d")
        try:
            if self.padding_mode != "zeros":
                x = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
                return conv(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
            return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        except LuminaShapeError as e:
            raise LuminaShapeError(f"{self._name()}: {e}") from None


class Conv1d(_Conv):
    """``torch.nn.Conv1d``: ``[N, in, L]`` (or ``[in, L]``) -> ``[N, out, L_out]`` by
    ``functional.conv1d``; ``padding_mode`` "reflect" / "replicate" / "circular" pads with
    ``functional.pad`` first. Raises LuminaValueError for bad ``groups`` / ``padding`` /
    ``padding_mode``, LuminaShapeError naming the layer for an input of other channels or rank.
    ``device`` / ``dtype``: see ``module.factory``. https://pytorch.org/docs/2.13/generated/torch.nn.Conv1d.html"""
    nd = 1


class Conv2d(_Conv):
    """``torch.nn.Conv2d``: ``[N, in, H, W]`` (or ``[in, H, W]``) -> ``[N, out, H_out, W_out]`` by
    ``functional.conv2d`` (im2col + dot); see ``Conv1d`` for the padding modes and errors.
    https://pytorch.org/docs/2.13/generated/torch.nn.Conv2d.html"""
    nd = 2


class Conv3d(_Conv):
    """``torch.nn.Conv3d``: ``[N, in, D, H, W]`` (or unbatched) -> ``[N, out, D_out, H_out, W_out]`` by
    ``functional.conv3d``; see ``Conv1d`` for the padding modes and errors.
    https://pytorch.org/docs/2.13/generated/torch.nn.Conv3d.html"""
    nd = 3


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple[int, ...]:
        """torch's ``_output_padding``: the ``output_padding`` that makes the output ``output_size``
        (its last ``nd`` entries); raises LuminaValueError outside the reachable sizes."""
        if output_size is None:
            return self.output_padding
        nd, sizes = self.nd, list(output_size)
        if len(sizes) == nd + (input.ndim - nd):
            sizes = sizes[-nd:]
        if len(sizes) != nd:
            raise LuminaValueError(f"{self._name()}: output_size must have {nd} or {input.ndim} elements, "
                                   f"got {list(output_size)}")
        pads = []
        for i, want in enumerate(sizes):
            least = ((input.shape[-nd + i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not least <= want < least + self.stride[i]:
                raise LuminaValueError(f"{self._name()}: requested an output size of {sizes}, but valid sizes "
                                       f"of dim {i} range from {least} to {least + self.stride[i] - 1} "
                                       f"(for an input of {input._value.type})")
            pads.append(want - least)
        return tuple(pads)

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        self._check_input(input)
        conv = getattr(F, f"conv_transpose{self.nd}d")
        try:
            return conv(input, self.weight, self.bias, self.stride, self.padding,
                        self._output_padding(input, output_size), self.groups, self.dilation)
        except LuminaShapeError as e:
            raise LuminaShapeError(f"{self._name()}: {e}") from None


class ConvTranspose1d(_ConvTranspose):
    """``torch.nn.ConvTranspose1d``: ``[N, in, L]`` -> ``[N, out, (L - 1) s - 2 p + d (k - 1) +
    output_padding + 1]`` by ``functional.conv_transpose1d``; weight ``[in, out / groups, k]``.
    ``forward(input, output_size)`` picks the ``output_padding`` that gives ``output_size``. Raises
    LuminaValueError for bad ``groups`` or a ``padding_mode`` other than "zeros" (as torch),
    LuminaShapeError naming the layer for an input of other channels or rank.
    https://pytorch.org/docs/2.13/generated/torch.nn.ConvTranspose1d.html"""
    nd = 1


class ConvTranspose2d(_ConvTranspose):
    """``torch.nn.ConvTranspose2d`` (see ``ConvTranspose1d``), weight ``[in, out / groups, kh, kw]``.
    https://pytorch.org/docs/2.13/generated/torch.nn.ConvTranspose2d.html"""
    nd = 2


class ConvTranspose3d(_ConvTranspose):
    """``torch.nn.ConvTranspose3d`` (see ``ConvTranspose1d``), weight ``[in, out / groups, kd, kh, kw]``.
    https://pytorch.org/docs/2.13/generated/torch.nn.ConvTranspose3d.html"""
    nd = 3


class Unfold(Module):
    """``torch.nn.Unfold`` (im2col): ``[N, C, H, W] -> [N, C * kh * kw, L]`` by ``functional.unfold``.
    https://pytorch.org/docs/2.13/generated/torch.nn.Unfold.html"""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """``torch.nn.Fold`` (col2im): ``[N, C * kh * kw, L] -> [N, C, *output_size]`` by ``functional.fold``.
    https://pytorch.org/docs/2.13/generated/torch.nn.Fold.html"""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
