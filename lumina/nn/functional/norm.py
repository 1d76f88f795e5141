"""Normalisation: ``layer_norm`` (Ba et al. 2016) and ``batch_norm`` (Ioffe & Szegedy 2015), with
PyTorch's conventions (biased variance for normalising; unbiased for the running variance)."""
from __future__ import annotations

from ...errors import LuminaShapeError, LuminaValueError
from ...tensor.reductions import normalize
from ...tensor import Tensor, no_grad, realize
from ...tracing import STATE


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """``(x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` over the trailing ``normalized_shape`` dims
    (biased variance), as ``torch.nn.functional.layer_norm``; overflow-safe
    (``lumina.tensor.reductions.normalize``). ``weight`` / ``bias`` have
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
    out, _, _ = normalize(input, dims, eps)
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
    updated stats are realised at once, so their history does not grow from step to step.
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
    if training:
        n = input.numel() // c if c else 0
        if n <= 1:
            raise LuminaValueError(f"batch_norm: expected more than 1 value per channel when training, got "
                                   f"input {input._value.type}")
        out, mean, var = normalize(input, axes, eps)
        if running_mean is not None or running_var is not None:
            with no_grad():
                updated = []
                if running_mean is not None:
                    running_mean.assign(running_mean * (1.0 - momentum) + mean.detach().reshape(c) * momentum)
                    updated.append(running_mean)
                if running_var is not None:
                    unbiased = var.detach().reshape(c) * (n / (n - 1))
                    running_var.assign(running_var * (1.0 - momentum) + unbiased * momentum)
                    updated.append(running_var)
            if STATE.trace is None:
                realize(*updated)
    else:
        if running_mean is None or running_var is None:
            raise LuminaValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        out = (input - running_mean.reshape(bshape)) / (running_var.reshape(bshape) + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(bshape)
    if bias is not None:
        out = out + bias.reshape(bshape)
    return out
