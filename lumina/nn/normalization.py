"""Normalisation layers: ``BatchNorm1d`` / ``2d`` / ``3d`` (Ioffe & Szegedy 2015), ``LayerNorm`` (Ba et
al. 2016), ``InstanceNorm1d`` / ``2d`` / ``3d``, ``GroupNorm``, ``RMSNorm`` and ``LocalResponseNorm``,
with PyTorch 2.13's parameters, buffers and defaults."""
from __future__ import annotations

import numpy as np

from ..errors import LuminaShapeError, LuminaValueError
from ..tensor import Tensor, defer_realize, no_grad, realize, tensor
from ..tracing import STATE
from . import functional as F
from .module import Module, Parameter, factory


class _BatchNorm(Module):
    """Per-channel normalisation of ``[N, C, *]``; see ``functional.batch_norm``.

    Parameters ``weight`` (ones) and ``bias`` (zeros) when ``affine``; buffers ``running_mean``
    (zeros), ``running_var`` (ones) and ``num_batches_tracked`` (int64 0) when
    ``track_running_stats``. In training mode each call normalises by the batch statistics, adds 1
    to ``num_batches_tracked`` and moves the running stats by ``momentum`` (by ``1 /
    num_batches_tracked``, a cumulative average, when ``momentum`` is None); in eval mode it uses
    the running stats. Updates are ``Tensor.assign`` on the buffers, so a compiled training step
    carries them from call to call. ``device`` / ``dtype``: see ``module.factory``; ``bias=False``
    (torch's keyword) leaves the shift out.
    """

    _ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, np.float32)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", tensor(np.zeros(num_features, np.float32)))
            self.register_buffer("running_var", tensor(np.ones(num_features, np.float32)))
            self.register_buffer("num_batches_tracked", tensor(np.int64(0)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        factory(self, device, dtype)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            for t, v in ((self.running_mean, 0), (self.running_var, 1), (self.num_batches_tracked, 0)):
                t.assign(v)
            realize(self.running_mean, self.running_var, self.num_batches_tracked)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            want = " or ".join(f"{r}-D" for r in self._ranks)
            raise LuminaShapeError(f"{type(self).__name__}({self.num_features}): expects {want} input with "
                                   f"{self.num_features} channels in dim 1, got {x._value.type}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.assign(self.num_batches_tracked + 1)
            if STATE.trace is None:
                defer_realize(self.num_batches_tracked)
            if self.momentum is None:
                momentum = 1.0 / self.num_batches_tracked.to(self.running_mean.dtype)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """``torch.nn.BatchNorm1d``: input ``[N, C]`` or ``[N, C, L]``."""
    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """``torch.nn.BatchNorm2d``: input ``[N, C, H, W]``."""
    _ranks = (4,)


class LayerNorm(Module):
    """``torch.nn.LayerNorm``: normalises over the trailing ``normalized_shape`` dims; ``weight`` (ones)
    and ``bias`` (zeros) of that shape when ``elementwise_affine``; ``device`` / ``dtype``: see
    ``module.factory``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(np.ones(shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, np.float32)) if elementwise_affine and bias else None
        factory(self, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        except LuminaShapeError as e:
            raise LuminaShapeError(f"LayerNorm({list(self.normalized_shape)}): {e}") from None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class BatchNorm3d(_BatchNorm):
    """``torch.nn.BatchNorm3d``: input ``[N, C, D, H, W]``."""
    _ranks = (5,)


class _InstanceNorm(_BatchNorm):
    """``torch.nn.InstanceNorm*d`` (Ulyanov et al. 2016; ``functional.instance_norm``): each
    (sample, channel) normalised over its spatial dims. Unlike batch norm, ``affine`` and
    ``track_running_stats`` default to False; with tracking, training moves ``running_mean`` /
    ``running_var`` (``num_batches_tracked`` stays, as torch's) and eval mode normalises by them.
    An input without the batch dim is accepted (``_spatial + 1`` dims). Raises LuminaShapeError
    for other ranks, or for a channel count other than ``num_features`` when ``affine`` (torch
    only warns without it)."""

    _spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        name = f"{type(self).__name__}({self.num_features})"
        unbatched = self._spatial + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise LuminaShapeError(f"{name}: expected {unbatched}D or {unbatched + 1}D input, got {input._value.type}")
        channels = input.shape[input.ndim - unbatched]
        if channels != self.num_features and self.affine:
            raise LuminaShapeError(f"{name}: expected input's size at dim={input.ndim - unbatched} to match "
                                   f"num_features ({self.num_features}), got {input._value.type}")
        x = input.unsqueeze(0) if input.ndim == unbatched else input
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if input.ndim == unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """``torch.nn.InstanceNorm1d``: input ``[N, C, L]`` or ``[C, L]``."""
    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """``torch.nn.InstanceNorm2d``: input ``[N, C, H, W]`` or ``[C, H, W]``."""
    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """``torch.nn.InstanceNorm3d``: input ``[N, C, D, H, W]`` or ``[C, D, H, W]``."""
    _spatial = 3


class GroupNorm(Module):
    """``torch.nn.GroupNorm`` (Wu & He 2018; ``functional.group_norm``): ``weight`` (ones) and ``bias``
    (zeros) ``[num_channels]`` when ``affine`` (``bias=False`` leaves the shift out). Raises
    LuminaValueError when ``num_channels`` is not divisible by ``num_groups``."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise LuminaValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                                   f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = Parameter(np.ones(num_channels, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, np.float32)) if affine and bias else None
        factory(self, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """``torch.nn.RMSNorm`` (Zhang & Sennrich 2019; ``functional.rms_norm``): ``weight`` (ones) of
    ``normalized_shape`` when ``elementwise_affine``; ``eps=None`` is the input dtype's epsilon."""

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None,
                 dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(np.ones(shape, np.float32)) if elementwise_affine else None
        factory(self, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """``torch.nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0)`` (Krizhevsky et al. 2012;
    ``functional.local_response_norm``)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
