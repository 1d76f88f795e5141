"""Normalisation: ``layer_norm`` (Ba et al. 2016), ``batch_norm`` (Ioffe & Szegedy 2015), ``group_norm``,
``instance_norm``, ``rms_norm`` and ``local_response_norm``, with PyTorch 2.13's conventions (biased
variance for normalising; unbiased for the running variance;
https://pytorch.org/docs/2.13/nn.functional.html#normalization-functions)."""
from __future__ import annotations

import math

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...ir.dtypes import DType
from ...tensor.movement import pad
from ...tensor.recorded import recorded
from ...tensor.reductions import normalize as standardize
from ...tensor import Tensor, defer_realize, no_grad, realize, where
from ...tracing import STATE


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """``(x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` over the trailing ``normalized_shape`` dims
    (biased variance), as ``torch.nn.functional.layer_norm``; overflow-safe
    (``lumina.tensor.reductions.normalize``, imported as ``standardize``). ``weight`` / ``bias`` have
    ``normalized_shape``. Raises LuminaShapeError when the input does not end in ``normalized_shape``
    or an affine tensor has another shape."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.shape[input.ndim - k:] != shape or input.ndim < k:
        raise LuminaShapeError(f"layer_norm: input {input._value.type} does not end in normalized_shape "
                               f"{list(shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise LuminaShapeError(f"layer_norm: {name} {t._value.type} must have normalized_shape {list(shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    out, _, _ = standardize(input, dims, eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum=0.1, eps: float = 1e-5) -> Tensor:
    """``torch.nn.functional.batch_norm`` over ``input [N, C, *]`` per channel ``C``.

    Training: normalise by the batch mean and *biased* variance over every dim but ``C``, and, when
    running stats are given, update them in place (``Tensor.assign``, which ``@lumina.compile`` turns
    into a state output) as ``r = (1 - momentum) r + momentum * stat`` with the *unbiased* variance.
    ``momentum`` may be a tensor (BatchNorm's cumulative average). Outside a compiled function the
    updated stats are realised with the next realisation (``defer_realize``), so their history does
    not grow from step to step, and a stack of BatchNorms costs no realisation of its own.
    Evaluation: normalise by the running stats. Raises LuminaShapeError for a rank below 2 or
    per-channel tensors that are not ``[C]``, LuminaValueError when training on one value per channel
    or evaluating without running stats.
    """
    if input.ndim < 2:
        raise LuminaShapeError(f"batch_norm: expects input [N, C, *], got {input._value.type}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise LuminaShapeError(f"batch_norm: {name} {t._value.type} must be [{c}] for input {input._value.type}")
    axes = (0,) + tuple(range(2, input.ndim))
    bshape = (1, c) + (1,) * (input.ndim - 2)
    if training and (running_mean is None) != (running_var is None):
        raise LuminaValueError("batch_norm: running_mean and running_var must either both be None or neither be "
                               f"None (as torch), got {'only running_var' if running_mean is None else 'only running_mean'}"
                               f" for input {input._value.type}")
    if training:
        n = input.numel() // c if c else 0
        if n <= 1:
            raise LuminaValueError(f"batch_norm: expected more than 1 value per channel when training, got "
                                   f"input {input._value.type}")
        out, mean, var = standardize(input, axes, eps)
        if running_mean is not None:
            with no_grad():
                new_mean, new_var = _running_stats(running_mean, running_var, mean, var, momentum, n / (n - 1))
                running_mean.assign(new_mean)
                running_var.assign(new_var)
            if STATE.trace is None:   # with the next realisation (a loss's): not a pass of its own
                defer_realize(running_mean, running_var)
    else:
        if running_mean is None or running_var is None:
            raise LuminaValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        out = (input - running_mean.reshape(bshape)) / (running_var.reshape(bshape) + eps).sqrt()
    return _affine(out, weight, bias)


@recorded   # pure: new statistics from old ones
def _running_stats(running_mean: Tensor, running_var: Tensor, mean: Tensor, var: Tensor, momentum,
                   correction: float) -> tuple[Tensor, Tensor]:
    """BatchNorm's running statistics after a training batch of per-channel ``mean`` and biased
    ``var`` (``[1, C, 1, ...]``): ``(1 - momentum) r + momentum * s`` with the unbiased variance
    ``var * correction``."""
    c = mean.numel()
    new_mean = running_mean * (1.0 - momentum) + mean.detach().reshape(c) * momentum
    new_var = running_var * (1.0 - momentum) + var.detach().reshape(c) * correction * momentum
    return new_mean, new_var


def _per_channel(name: str, t: Tensor | None, c: int, op: str, input: Tensor) -> None:
    if t is not None and t.shape != (c,):
        raise LuminaShapeError(f"{op}: {name} {t._value.type} must be [{c}] (one per channel) for input "
                               f"{input._value.type}")


@recorded   # pure
def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """``out * weight + bias`` with per-channel ``[C]`` tensors broadcast along dim 1."""
    shape = (1, out.shape[1]) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _float_norm_input(input: Tensor, op: str) -> None:
    if not input.dtype.is_float:
        raise LuminaTypeError(f"{op}: expects a floating-point input (as torch), got {input._value.type}")


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """``torch.nn.functional.group_norm`` (Wu & He 2018): ``input [N, C, *]`` split into
    ``num_groups`` groups of ``C / num_groups`` channels, each (sample, group) normalised by its
    mean and biased variance (overflow-safe, ``reductions.normalize``), then ``* weight + bias``
    per channel (``[C]``). Raises LuminaShapeError for fewer than 2 dims, ``C`` not divisible by
    ``num_groups`` or affine tensors that are not ``[C]``; LuminaValueError when the whole input is
    one value per group (torch's check); LuminaTypeError for a non-float input."""
    _float_norm_input(input, "group_norm")
    if input.ndim < 2:
        raise LuminaShapeError(f"group_norm: expected at least 2 dimensions for input, got {input._value.type}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise LuminaShapeError(f"group_norm: expected the channels of input {input._value.type} to be divisible "
                               f"by num_groups={num_groups}")
    _per_channel("weight", weight, c, "group_norm", input)
    _per_channel("bias", bias, c, "group_norm", input)
    if n * (c // num_groups) * math.prod(input.shape[2:]) == 1:    # torch's _verify_batch_size
        raise LuminaValueError(f"group_norm: expected more than 1 value per group when training, got input "
                               f"{input._value.type} with num_groups={num_groups}")
    if input.numel() == 0:
        return _affine(input, weight, bias)
    grouped = input.reshape(n, num_groups, -1)
    out, _, _ = standardize(grouped, (2,), eps)
    return _affine(out.reshape(input.shape), weight, bias)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """``torch.nn.functional.instance_norm`` (Ulyanov et al. 2016): each (sample, channel) of
    ``input [N, C, *]`` normalised over its spatial dims (biased variance), ``* weight + bias`` per
    channel. With ``use_input_stats`` and running stats, these move (in place, ``Tensor.assign``)
    towards the batch average of the per-instance means and *unbiased* variances, as torch's
    batch-norm-on-``[1, N*C, *]`` formulation; without ``use_input_stats`` the running stats
    normalise. Raises LuminaShapeError for fewer than 2 dims or per-channel tensors that are not ``[C]``; LuminaValueError for one spatial element when using
    input stats, only one running stat given, or ``use_input_stats=False`` without them."""
    _float_norm_input(input, "instance_norm")
    if input.ndim < 2:
        raise LuminaShapeError(f"instance_norm: expects input [N, C, *], got {input._value.type}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _per_channel(name, t, c, "instance_norm", input)
    if (running_mean is None) != (running_var is None):
        raise LuminaValueError("instance_norm: running_mean and running_var must either both be None or neither")
    if not use_input_stats:
        if running_mean is None:
            raise LuminaValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = input.numel() // max(input.shape[0] * c, 1) if input.numel() else 0
    if spatial <= 1:
        raise LuminaValueError(f"instance_norm: expected more than 1 spatial element when training, got input "
                               f"{input._value.type}")
    axes = tuple(range(2, input.ndim))
    out, mean, var = standardize(input, axes, eps)
    if running_mean is not None:
        with no_grad():
            batch_mean = mean.detach().reshape(input.shape[0], c).mean(0)
            batch_var = (var.detach().reshape(input.shape[0], c) * (spatial / (spatial - 1))).mean(0)
            running_mean.assign(running_mean * (1.0 - momentum) + batch_mean * momentum)
            running_var.assign(running_var * (1.0 - momentum) + batch_var * momentum)
        if STATE.trace is None:
            realize(running_mean, running_var)
    return _affine(out, weight, bias)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """``torch.nn.functional.rms_norm`` (Zhang & Sennrich 2019): ``x / sqrt(mean(x^2) + eps) * weight``
    over the trailing ``normalized_shape`` dims; ``eps=None`` is the machine epsilon of the dtype
    computed in (``torch.finfo(dtype).eps``; float32's for 16-bit floats, as torch's kernel). As torch's kernel the mean square is not rescaled (it overflows
    to inf, giving 0, for float32 values beyond ~1e19); 16-bit floats compute in float32. Raises
    LuminaShapeError when the input does not end in ``normalized_shape`` or ``weight`` has another
    shape, LuminaTypeError for a non-float input."""
    _float_norm_input(input, "rms_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != shape:
        raise LuminaShapeError(f"rms_norm: input {input._value.type} does not end in normalized_shape "
                               f"{list(shape)}")
    if weight is not None and weight.shape != shape:
        raise LuminaShapeError(f"rms_norm: weight {weight._value.type} must have normalized_shape {list(shape)}")
    x = input.to(DType.float32) if input.dtype.is_half else input
    if eps is None:      # the epsilon of the dtype computed in (float32 for 16-bit floats), as torch's kernel
        eps = float(np.finfo(x.dtype.numpy).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    out = x * ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
    out = out.to(input.dtype)
    return out * weight if weight is not None else out


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """``torch.nn.functional.local_response_norm`` (Krizhevsky et al. 2012): ``x / (k + alpha *
    mean(x^2 over a window of size channels)) ** beta``; the window around channel ``c`` is
    ``[c - size // 2, c + (size - 1) // 2]``, zero-padded at the ends and always divided by
    ``size`` (torch's avg-pool with padding). Input ``[N, C, *]`` of at least 3 dims
    (LuminaShapeError otherwise); LuminaTypeError for a non-float input."""
    _float_norm_input(input, "local_response_norm")
    if input.ndim < 3:
        raise LuminaShapeError(f"local_response_norm: expected 3D or higher dimensionality input, got "
                               f"{input._value.type}")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    padded = pad(sq, (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2))
    window = padded.narrow(1, 0, c)
    for j in range(1, size):
        window = window + padded.narrow(1, j, c)
    div = (window * (alpha / size) + k) ** beta
    return input / div


def _vector_norm(x: Tensor, p: float, dim: int) -> Tensor:
    """``x.norm(p, dim, keepdim=True)`` as torch's ``torch.norm`` computes it (no rescaling: the p-th
    powers overflow as torch's do), with torch's zero gradient at a zero vector."""
    if p == 0:
        return (x != 0).to(x.dtype).sum(dim, keepdim=True)
    a = x.abs()
    if p == float("inf"):
        return a.amax(dim, keepdim=True)
    if p == float("-inf"):
        return -((-a).amax(dim, keepdim=True))
    if p == 1:
        return a.sum(dim, keepdim=True)
    s = (x * x if p == 2 else a ** p).sum(dim, keepdim=True)
    nonzero = s != 0.0
    root = where(nonzero, s, 1.0).sqrt() if p == 2 else where(nonzero, s, 1.0) ** (1.0 / p)
    return where(nonzero, root, 0.0)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None) -> Tensor:
    """``torch.nn.functional.normalize``: ``input / max(||input||_p, eps)`` along ``dim`` (same shape
    and dtype); ``p`` any real or +-inf (0 counts the nonzeros). The norm is torch's unscaled one,
    so ``x^p`` overflows where torch's does (float32 ``[1e20, 1]`` normalises to zeros, as torch).
    ``out`` receives the result (``Tensor.copy_``) and is returned. Raises LuminaTypeError for a
    non-float input, LuminaShapeError for a ``dim`` out of range."""
    _float_norm_input(input, "normalize")
    d = input._axes(dim, "normalize")[0] if input.ndim else None
    if d is None:
        raise LuminaShapeError(f"normalize: dim {dim} out of range for 0-d input {input._value.type}")
    norm = _vector_norm(input, float(p), d)
    result = input / where(norm < eps, eps, norm).to(input.dtype)
    return result if out is None else out.copy_(result)
