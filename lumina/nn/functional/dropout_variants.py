"""Channel-wise and alpha dropout (the variants of ``activation.dropout``; a module named ``dropout``
would shadow that function in the package) as decompositions (gradients from autodiff), after ATen's
``_dropout_impl`` (https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/Dropout.cpp):
``feature_*`` variants draw one Bernoulli sample per (batch, channel) and broadcast it over the
spatial dims (Tompson et al. 2015); the alpha variants keep a SELU network's mean and variance
(Klambauer et al. 2017). Elementwise ``dropout`` itself is in ``activation`` (where attention uses it).

The masks come from lumina's in-graph generator (``lumina.rand``): reproducible after
``lumina.manual_seed``, fresh on every compiled call, and a different stream from torch's. As
torch, the mask multiplies the input, so a dropped ``inf`` becomes NaN.
"""
from __future__ import annotations

import math
import warnings

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor.random import rand
from ...tensor import Tensor
from .activation import _maybe_inplace

_SELU_NEG_SAT = 1.7580993408473766
"""``scale * alpha`` of SELU: ``-selu(-inf)``, the value alpha dropout drops to (ATen's ``alpha``)."""


def _check(x: Tensor, p: float, op: str) -> None:
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: expects a floating-point input, got {x._value.type}")
    if not 0.0 <= p <= 1.0:
        raise LuminaValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p} for "
                               f"{x._value.type}")


def _dropout_impl(x: Tensor, p: float, training: bool, inplace: bool, feature: bool, alpha: bool,
                  op: str) -> Tensor:
    """ATen's ``_dropout_impl``: the identity unless training with ``0 < p``; ``x * 0`` at ``p = 1``;
    else ``x * noise`` (feature: noise ``[N, C, 1, ...]``) scaled by ``1 / (1 - p)`` or, for alpha
    dropout, ``x * a * noise + b`` with ``a = 1 / sqrt((alpha^2 p + 1)(1 - p))``,
    ``b = (noise - 1) * alpha * a + alpha * a * p``."""
    _check(x, p, op)
    if feature and x.ndim < 2:
        raise LuminaShapeError(f"{op}: feature dropout requires at least 2 dimensions in the input, got "
                               f"{x._value.type}")
    if p == 0.0 or not training or x.numel() == 0:
        return x
    if p == 1.0:
        return _maybe_inplace(x, x * 0.0, inplace)
    shape = (x.shape[0], x.shape[1]) + (1,) * (x.ndim - 2) if feature else x.shape
    noise = (rand(shape, dtype=x.dtype) >= p).to(x.dtype)
    if not alpha:
        return _maybe_inplace(x, x * (noise * (1.0 / (1.0 - p))), inplace)
    a = 1.0 / math.sqrt((_SELU_NEG_SAT * _SELU_NEG_SAT * p + 1.0) * (1.0 - p))
    b = (noise - 1.0) * (_SELU_NEG_SAT * a) + _SELU_NEG_SAT * a * p
    return _maybe_inplace(x, x * (noise * a) + b, inplace)


def _channel_dropout(x: Tensor, p: float, training: bool, inplace: bool, batched_rank: int, op: str) -> Tensor:
    """``feature_dropout`` on ``x`` with a batch dim added first when it has ``batched_rank - 1``
    dims (no batch dim) and removed after."""
    unbatched = x.ndim == batched_rank - 1
    y = x.unsqueeze(0) if unbatched else x
    out = _dropout_impl(y, p, training, False, True, False, op)
    if out is y:
        return x
    return _maybe_inplace(x, out.squeeze(0) if unbatched else out, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.dropout1d``: zeroes whole channels of ``[N, C, L]`` or ``[C, L]`` with
    probability ``p`` and scales the rest by ``1 / (1 - p)``. Raises LuminaShapeError for other
    ranks, LuminaValueError unless ``0 <= p <= 1``, LuminaTypeError for a non-float input."""
    if input.ndim not in (2, 3):
        raise LuminaShapeError(f"dropout1d: expected 2D or 3D input, but received {input._value.type}")
    return _channel_dropout(input, p, training, inplace, 3, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.dropout2d``: zeroes whole channels of ``[N, C, H, W]``; as torch 2.13 a
    3-D input is taken as ``[N, C, L]`` (with its warning), other ranks warn and drop channels of
    dim 1. See ``dropout1d`` for the errors."""
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will "
                      "result in an error in a future release.", UserWarning, stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L).", UserWarning, stacklevel=2)
    out = _dropout_impl(input, p, training, False, True, False, "dropout2d")
    return _maybe_inplace(input, out, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.dropout3d``: zeroes whole channels of ``[N, C, D, H, W]`` or
    ``[C, D, H, W]``; other ranks warn (as torch 2.13) and are taken as unbatched. See
    ``dropout1d`` for the errors."""
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and will "
                      "result in an error in a future release.", UserWarning, stacklevel=2)
    unbatched = input.ndim != 5
    y = input.unsqueeze(0) if unbatched else input
    out = _dropout_impl(y, p, training, False, True, False, "dropout3d")
    if out is y:
        return input
    return _maybe_inplace(input, out.squeeze(0) if unbatched else out, inplace)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.alpha_dropout`` (Klambauer et al. 2017): in training each element is
    set to SELU's saturation value ``-1.7581`` with probability ``p``, then everything is mapped
    affinely (``a x + b``, see ``_dropout_impl``) so zero mean and unit variance are kept. Note the
    default ``training=False`` (torch's). Errors: see ``dropout1d``."""
    return _dropout_impl(input, p, training, inplace, False, True, "alpha_dropout")


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.feature_alpha_dropout``: ``alpha_dropout`` with one sample per
    (batch, channel) of an input of at least 2 dims (LuminaShapeError otherwise)."""
    return _dropout_impl(input, p, training, inplace, True, True, "feature_alpha_dropout")
