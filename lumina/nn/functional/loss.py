"""Losses with PyTorch's semantics (``torch.nn.functional``), as decompositions into primitives.

``reduction`` is "mean", "sum" or "none" everywhere; another value raises LuminaValueError.
"""
from __future__ import annotations

import math

from ...tensor.autocast import autocast_fp32
from ...errors import LuminaIndexError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ...ir.dtypes import DType
from ...tensor.indexing import checked_index, known_values, pick, range_message, take
from ...tensor import Tensor, broadcast_shapes, where
from .activation import log_softmax


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise LuminaValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _no_legacy(size_average, reduce, op: str) -> None:
    """torch's deprecated ``size_average`` / ``reduce`` (superseded by ``reduction``): accepted in
    torch's positions, so positional calls bind as in torch, but only as None."""
    for name, v in (("size_average", size_average), ("reduce", reduce)):
        if v is not None:
            raise LuminaValueError(f"{op}: {name}={v!r} is deprecated in torch and not supported; pass "
                                   "reduction='mean', 'sum' or 'none'")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise LuminaValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _classes_last(input: Tensor, target: Tensor, op: str):
    """``input [N, C, d1..]`` / ``[C]`` -> ``[M, C]``; class-index ``target`` -> ``[M]``; plus the
    shape a "none" reduction returns. Raises LuminaShapeError / LuminaTypeError."""
    if input.ndim == 0:
        raise LuminaShapeError(f"{op}: input must be [C], [N, C] or [N, C, d1, ...], got {input._value.type}")
    if input.ndim == 1:
        expected = ()
        flat = input.reshape(1, -1)
    else:
        expected = (input.shape[0],) + input.shape[2:]
        flat = input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])
    if not target.dtype.is_int:
        raise LuminaTypeError(f"{op}: target must hold class indices (int), got {target._value.type}")
    if target.shape != expected:
        raise LuminaShapeError(f"{op}: target {target._value.type} must be {list(expected)} for input "
                               f"{input._value.type}")
    return flat, target.reshape(-1), expected


def _nll(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, op: str):
    """Per-row ``-w[t] * logp[t]`` and the row weights ``w[t] * [t != ignore_index]``. A target
    outside ``[0, C)`` that is not ``ignore_index`` raises LuminaIndexError (at once when the
    targets are known, else when the loss is computed)."""
    c = logp.shape[1]
    where_, note = f"{c} classes", f"ignore_index={ignore_index}"
    vals = known_values(target)
    if vals is not None:
        bad = vals[(vals != ignore_index) & ((vals < 0) | (vals >= c))]
        if bad.size:
            raise LuminaIndexError(range_message(op, where_, c, False, "target", note).replace("{index}", str(bad[0])))
    valid = target != ignore_index
    # an ignored target reads class 0 and weighs 0: only the others are checked
    safe = where(valid, target, 0).to(DType.int64)
    if vals is None:
        safe = checked_index(safe, c, op, where_, negative=False, name="target", note=note)
    picked = pick(logp, 1, safe.unsqueeze(1)).reshape(-1)
    w = valid.to(logp.dtype)
    if weight is not None:
        w = w * take(weight, 0, safe)
    # an ignored row is 0 exactly, whatever its log-probability (inf or NaN logits), as torch
    return where(valid, -(picked * w), 0.0), w


def _check_weight(weight: Tensor | None, c: int, op: str) -> None:
    if weight is not None and weight.shape != (c,):
        raise LuminaShapeError(f"{op}: weight must be [C] = [{c}], got {weight._value.type}")


def _weighted_mean(loss: Tensor, w: Tensor) -> Tensor:
    """``sum(loss) / sum(w)``, NaN when every target is ignored (as torch), with no gradient
    there: torch's backward gives 0, where the plain quotient would give ``inf * 0``."""
    total = w.sum()
    none = total == 0.0
    return where(none, math.nan, loss.sum() / where(none, 1.0, total))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.nll_loss``: ``-weight[t] * input[t]`` for log-probabilities ``input [N, C]``
    (or ``[C]``, ``[N, C, d1, ...]``) and class indices ``target [N]`` (``[]``, ``[N, d1, ...]``).
    Targets equal to ``ignore_index`` contribute 0; "mean" divides by the summed weights of the other
    targets. Raises LuminaShapeError / LuminaTypeError / LuminaValueError (also for
    ``size_average`` / ``reduce``: see ``_no_legacy``)."""
    _no_legacy(size_average, reduce, "nll_loss")
    _check_reduction(reduction, "nll_loss")
    flat, tgt, shape = _classes_last(input, target, "nll_loss")
    _check_weight(weight, flat.shape[1], "nll_loss")
    loss, w = _nll(flat, tgt, weight, ignore_index, "nll_loss")
    if reduction == "mean":
        return _weighted_mean(loss, w)
    return loss.sum() if reduction == "sum" else loss.reshape(shape)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``torch.nn.functional.cross_entropy``: ``nll_loss(log_softmax(input, 1), target)`` with the
    log-sum-exp computed stably (shifted by the max).

    ``input [N, C]`` (or ``[C]``, ``[N, C, d1, ...]``) of logits; ``target`` class indices (int,
    ``[N]`` ...) or class probabilities (float, ``input``'s shape). ``label_smoothing = e`` mixes the
    target with the uniform distribution (Szegedy et al. 2016): for indices, PyTorch's
    ``(1 - e) * nll + e / C * sum_c(-weight[c] logp[c])``, the smoothing term also zero for ignored
    targets and, for "mean", divided by the same summed target weights as the nll term.
    Raises LuminaShapeError / LuminaTypeError / LuminaValueError (``label_smoothing`` outside [0, 1],
    ``size_average`` / ``reduce``: see ``_no_legacy``).
    """
    _no_legacy(size_average, reduce, "cross_entropy")
    _check_reduction(reduction, "cross_entropy")
    (input,) = autocast_fp32(input)  # a float32 op of the autocast policy
    if not 0.0 <= label_smoothing <= 1.0:
        raise LuminaValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if not input.dtype.is_float:
        raise LuminaTypeError(f"cross_entropy: input must be float logits, got {input._value.type}")
    c = input.shape[1] if input.ndim > 1 else input.shape[0] if input.ndim else 0
    _check_weight(weight, c, "cross_entropy")
    if target.dtype.is_float:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    flat, tgt, shape = _classes_last(input, target, "cross_entropy")
    logp = log_softmax(flat, 1)
    loss, w = _nll(logp, tgt, weight, ignore_index, "cross_entropy")
    if label_smoothing > 0.0:
        per_class = logp * weight if weight is not None else logp
        smooth = -where(tgt != ignore_index, per_class.sum(1), 0.0)
        loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / c)
    if reduction == "mean":
        return _weighted_mean(loss, w)
    return loss.sum() if reduction == "sum" else loss.reshape(shape)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    if target.shape != input.shape:  # neither class indices (int) nor probabilities
        raise LuminaTypeError(f"cross_entropy: target {target._value.type} must hold class indices (int) or "
                              f"class probabilities of the input's shape {input._value.type} (float)")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    cdim = 1 if input.ndim > 1 else 0
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / c
    logp = log_softmax(input, cdim)
    term = logp * target
    if weight is not None:
        term = term * weight.reshape((c,) + (1,) * (input.ndim - 2) if input.ndim > 1 else (c,))
    return _reduce(-term.sum(cdim), reduction, "cross_entropy")


def _same_shape(input: Tensor, target: Tensor, op: str) -> None:
    if input.shape != target.shape:
        raise LuminaShapeError(f"{op}: target {target._value.type} must have the input's shape {input._value.type}")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.binary_cross_entropy`` of probabilities ``input`` against ``target`` (same
    shape): ``-weight * (t log p + (1 - t) log(1 - p))`` with each log clamped to >= -100, as PyTorch
    (so ``p`` = 0 or 1 gives a finite loss). Raises LuminaShapeError / LuminaValueError."""
    _no_legacy(size_average, reduce, "binary_cross_entropy")
    _same_shape(input, target, "binary_cross_entropy")
    _check_reduction(reduction, "binary_cross_entropy")

    def clamped_log(p: Tensor) -> Tensor:
        # log of 1 where p <= 0, so the discarded branch never feeds a 0/0 into the gradient
        positive = p > 0.0
        return where(positive, where(positive, p, 1.0).log(), -100.0).clamp(min=-100.0)

    loss = -(target * clamped_log(input) + (1.0 - target) * clamped_log(1.0 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def softplus_neg(x: Tensor) -> Tensor:
    """``log(1 + exp(-x))``, stable both ways: ``log1p(exp(-x))`` for x >= 0 and ``-x + log1p(exp(x))``
    below; each branch only sees inputs from its own side, so neither overflows in the gradient."""
    pos = x >= 0.0
    xp = where(pos, x, 0.0)
    xn = where(pos, 0.0, x)
    return where(pos, ((-xp).exp() + 1.0).log(), ((xn.exp() + 1.0).log() - xn))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``torch.nn.functional.binary_cross_entropy_with_logits`` in PyTorch's stable form:
    ``(1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x))``, times ``weight``. ``pos_weight``
    broadcasts against the last (class) dim. Raises LuminaShapeError / LuminaValueError."""
    _no_legacy(size_average, reduce, "binary_cross_entropy_with_logits")
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    sp = softplus_neg(input)
    if pos_weight is not None:
        broadcast_shapes("binary_cross_entropy_with_logits", pos_weight._value.type, input._value.type)
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * sp
    else:
        loss = (1.0 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _weighted(loss: Tensor, weight: Tensor | None, input: Tensor, reduction: str, op: str) -> Tensor:
    """torch 2.13's per-element ``weight`` of mse_loss / l1_loss: ``loss * weight``, and "mean"
    divides by ``sum(weight)``. Raises LuminaShapeError unless ``weight`` has ``input``'s shape."""
    if weight is None:
        return _reduce(loss, reduction, op)
    if weight.shape != input.shape:
        raise LuminaShapeError(f"{op}: weight {weight._value.type} must have the input's shape {input._value.type}")
    _check_reduction(reduction, op)
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction, op)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """``(input - target)^2`` (broadcasting), times ``weight`` when given, reduced; float32 under
    autocast. Raises LuminaValueError for ``size_average`` / ``reduce`` (``_no_legacy``)."""
    _no_legacy(size_average, reduce, "mse_loss")
    input, target = autocast_fp32(input, target)
    d = input - target
    return _weighted(d * d, weight, input, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """``|input - target|`` (broadcasting), times ``weight`` when given, reduced; the gradient at 0
    is 0, as PyTorch's sign. Raises LuminaValueError for ``size_average`` / ``reduce``."""
    _no_legacy(size_average, reduce, "l1_loss")
    return _weighted((input - target).abs(), weight, input, reduction, "l1_loss")
