"""Normalisation layers: ``BatchNorm1d`` / ``BatchNorm2d`` (Ioffe & Szegedy 2015) and ``LayerNorm``
(Ba et al. 2016), with PyTorch's parameters, buffers and defaults."""
from __future__ import annotations

import numpy as np

from ..errors import LuminaShapeError
from ..tensor import Tensor, no_grad, realize, tensor
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
                realize(self.num_batches_tracked)
            if self.momentum is None:
                momentum = 1.0 / self.num_batches_tracked.to(self.running_mean.dtype)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


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
