"""Losses with PyTorch's semantics (``torch.nn.functional``), as decompositions into primitives.

``reduction`` is "mean", "sum" or "none" everywhere; another value raises LuminaValueError.
"""
from __future__ import annotations

import math

from ...tensor.autocast import autocast_fp32
from ...errors import LuminaIndexError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ...ir.dtypes import DType
from ...tensor.recorded import recorded
from ...tensor.indexing import checked_index, known_values, pick, range_message, take
from ...tensor import Tensor, broadcast_shapes, minimum, where
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


def _targets_known(target: Tensor, c: int, ignore_index: int, op: str) -> bool:
    """Whether ``target``'s values are known now; known ones are checked at once: a target outside
    ``[0, C)`` that is not ``ignore_index`` raises LuminaIndexError (unknown ones are checked
    when the loss is computed, ``_nll``)."""
    vals = known_values(target)
    if vals is not None:
        bad = vals[(vals != ignore_index) & ((vals < 0) | (vals >= c))]
        if bad.size:
            raise LuminaIndexError(range_message(op, f"{c} classes", c, False, "target", f"ignore_index={ignore_index}")
                                   .replace("{index}", str(bad[0])))
    return vals is not None


def _nll(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, op: str, known: bool):
    """Per-row ``-w[t] * logp[t]`` and the row weights ``w[t] * [t != ignore_index]``; targets not
    ``known`` (``_targets_known``) are checked by the graph (LuminaIndexError when the loss is
    computed)."""
    c = logp.shape[1]
    where_, note = f"{c} classes", f"ignore_index={ignore_index}"
    valid = target != ignore_index
    # an ignored target reads class 0 and weighs 0: only the others are checked
    safe = where(valid, target, 0).to(DType.int64)
    if not known:
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
    loss, w = _nll(flat, tgt, weight, ignore_index, "nll_loss",
                   _targets_known(tgt, flat.shape[1], ignore_index, "nll_loss"))
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
    known = _targets_known(tgt, flat.shape[1], ignore_index, "cross_entropy")
    return _cross_entropy_indices(flat, tgt, weight, ignore_index, reduction, label_smoothing, shape, known)


@recorded   # pure once the targets are checked: its IR follows the arguments (``known`` among them)
def _cross_entropy_indices(flat: Tensor, tgt: Tensor, weight: Tensor | None, ignore_index: int, reduction: str,
                           label_smoothing: float, shape: tuple, known: bool) -> Tensor:
    """``cross_entropy`` of logits ``flat [N, C]`` and class indices ``tgt [N]`` (checked already
    when ``known``), reduced, or ``[N] -> shape`` for "none"."""
    c = flat.shape[1]
    logp = log_softmax(flat, 1)
    loss, w = _nll(logp, tgt, weight, ignore_index, "cross_entropy", known)
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


def _pointwise_pair(input: Tensor, target: Tensor, op: str, integers: bool = False) -> tuple[Tensor, Tensor]:
    """``input`` and ``target`` broadcast together (torch warns when they differ and broadcasts),
    float32 under autocast. Raises LuminaShapeError when they do not broadcast, LuminaTypeError
    when neither is floating point unless ``integers`` (torch's kernels have no integer form)."""
    if not integers and not (input.dtype.is_float or target.dtype.is_float):
        raise LuminaTypeError(f"{op}: input {input._value.type} and target {target._value.type} are integers; "
                              "floating point is expected (as torch)")
    input, target = autocast_fp32(input, target)
    shape = tuple(broadcast_shapes(op, input._value.type, target._value.type))
    return (input if input.shape == shape else input.expand(*shape),
            target if target.shape == shape else target.expand(*shape))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``torch.nn.functional.smooth_l1_loss`` (https://pytorch.org/docs/stable/generated/torch.nn.SmoothL1Loss.html):
    with ``d = |input - target|``, ``0.5 d^2 / beta`` where ``d < beta``, else ``d - 0.5 beta``;
    ``beta = 0`` is ``l1_loss``. Any float shapes that broadcast. Raises LuminaValueError for
    ``beta < 0`` or a bad ``reduction``, LuminaShapeError when the shapes do not broadcast,
    LuminaTypeError for integer input and target."""
    _no_legacy(size_average, reduce, "smooth_l1_loss")
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise LuminaValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    input, target = _pointwise_pair(input, target, "smooth_l1_loss")
    d = (input - target).abs()
    if beta == 0.0:
        return _reduce(d, reduction, "smooth_l1_loss")
    # the quadratic branch sees d capped at beta, so an infinite d gives no inf * 0 in its gradient
    # (a NaN d passes, so its gradient is NaN, as torch's)
    small = where(d > beta, beta, d)
    return _reduce(where(d < beta, small * small * (0.5 / beta), d - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``torch.nn.functional.huber_loss`` (Huber 1964; https://pytorch.org/docs/stable/generated/torch.nn.HuberLoss.html):
    with ``d = |input - target|``, ``0.5 d^2`` where ``d < delta``, else ``delta (d - 0.5 delta)``;
    times ``weight`` (input's shape) when given ("mean" is then the plain mean, as torch's). Raises
    LuminaValueError for ``delta <= 0`` or a bad ``reduction``, LuminaShapeError for shapes,
    LuminaTypeError for integer input and target."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise LuminaValueError(f"huber_loss: delta must be > 0, got {delta}")
    input, target = _pointwise_pair(input, target, "huber_loss")
    d = (input - target).abs()
    small = where(d > delta, delta, d)      # as smooth_l1_loss: no inf * 0 in the unused branch's gradient
    loss = where(d < delta, small * small * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        if weight.shape != input.shape:
            raise LuminaShapeError(f"huber_loss: weight {weight._value.type} must have the input's shape "
                                   f"{input._value.type}")
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """``torch.nn.functional.kl_div`` of log-probabilities ``input`` against ``target``
    (probabilities, or log-probabilities with ``log_target``): ``target * (log target - input)``
    pointwise, 0 where ``target`` is 0 (``xlogy``), or ``exp(target) * (target - input)``.
    ``reduction``: also "batchmean" (the sum over ``input.size(0)``, the true KL divergence per
    sample). At a zero target the target's gradient is 0 (torch's is NaN, from ``xlogy``'s
    ``log 0 + 0/0``). https://pytorch.org/docs/stable/generated/torch.nn.KLDivLoss.html. Raises
    LuminaValueError / LuminaShapeError, LuminaTypeError for integer input and target."""
    _no_legacy(size_average, reduce, "kl_div")
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise LuminaValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    input, target = _pointwise_pair(input, target, "kl_div")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        zero = target == 0.0      # xlogy(0, 0) = 0; a negative target gives NaN, as torch
        safe = where(zero, 1.0, target)
        loss = where(zero, 0.0, target * safe.log()) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction, "kl_div")


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-08, reduce=None, reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.poisson_nll_loss``: ``exp(input) - target * input`` (``log_input``) or
    ``input - target * log(input + eps)``; ``full`` adds Stirling's ``t log t - t + 0.5 log(2 pi t)``
    where ``target > 1``. https://pytorch.org/docs/stable/generated/torch.nn.PoissonNLLLoss.html.
    Raises LuminaValueError / LuminaShapeError."""
    _no_legacy(size_average, reduce, "poisson_nll_loss")
    _check_reduction(reduction, "poisson_nll_loss")
    input, target = _pointwise_pair(input, target, "poisson_nll_loss", integers=True)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        big = target > 1.0
        t = where(big, target, 2.0)
        loss = loss + where(big, t * t.log() - t + (t * (2 * math.pi)).log() * 0.5, 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-06,
                      reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.gaussian_nll_loss``: ``0.5 (log max(var, eps) + (input - target)^2 /
    max(var, eps))``, plus ``0.5 log(2 pi)`` with ``full``. ``var``: input's shape, input's shape
    with the last dim 1 or dropped (one variance per sample), or a float. The clamp at ``eps`` is
    invisible to the gradient, as torch's (an in-place clamp under no_grad).
    https://pytorch.org/docs/stable/generated/torch.nn.GaussianNLLLoss.html. Raises LuminaValueError
    for a negative variance (when known) or a bad ``reduction``, LuminaShapeError for shapes."""
    _check_reduction(reduction, "gaussian_nll_loss")
    if not input.dtype.is_float:
        raise LuminaTypeError(f"gaussian_nll_loss: input must be floating point, got {input._value.type}")
    if not isinstance(var, Tensor):
        if var < 0:
            raise LuminaValueError(f"gaussian_nll_loss: var has negative entries ({var})")
        var = input.detach() * 0.0 + float(var)
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (input.shape[:-1] == var.shape[:-1] and var.ndim and var.shape[-1] == 1):
            raise LuminaShapeError(f"gaussian_nll_loss: var {var._value.type} must have the input's shape "
                                   f"{input._value.type}, or it with the last dim 1 or dropped")
    if target.shape != input.shape:
        raise LuminaShapeError(f"gaussian_nll_loss: target {target._value.type} must have the input's shape "
                               f"{input._value.type}")
    vals = known_values(var)
    if vals is not None and (vals < 0).any():
        raise LuminaValueError("gaussian_nll_loss: var has negative entries")
    var = var + (var.clamp(min=eps) - var).detach()
    d = input - target
    loss = (var.log() + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.margin_ranking_loss``: ``max(0, -target * (input1 - input2) + margin)``
    with ``target`` in {1, -1}, the three broadcast together.
    https://pytorch.org/docs/stable/generated/torch.nn.MarginRankingLoss.html. Raises
    LuminaShapeError when the shapes do not broadcast, LuminaValueError for ``reduction``."""
    _no_legacy(size_average, reduce, "margin_ranking_loss")
    _check_reduction(reduction, "margin_ranking_loss")
    broadcast_shapes("margin_ranking_loss", input1._value.type, input2._value.type, target._value.type)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction, "margin_ranking_loss")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.cosine_embedding_loss`` of ``input1``, ``input2`` ``[N, D]`` (or ``[D]``)
    and ``target [N]`` (``[]``) in {1, -1}: ``1 - cos`` where ``target == 1``, ``max(0, cos - margin)``
    where ``target == -1``, 0 elsewhere; ``cos = <x1, x2> / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))``
    as PyTorch's kernel. https://pytorch.org/docs/stable/generated/torch.nn.CosineEmbeddingLoss.html.
    Raises LuminaShapeError for other ranks or mismatched shapes."""
    _no_legacy(size_average, reduce, "cosine_embedding_loss")
    _check_reduction(reduction, "cosine_embedding_loss")
    if input1.ndim not in (1, 2) or input1.shape != input2.shape or target.ndim != input1.ndim - 1 or (
            target.ndim and target.shape[0] != input1.shape[0]):
        raise LuminaShapeError(f"cosine_embedding_loss: expected input1, input2 of one shape [N, D] or [D] and "
                               f"target [N] or [], got {input1._value.type}, {input2._value.type}, "
                               f"{target._value.type}")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    denom = (((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)).sqrt()
    cos = prod / denom
    loss = where(target == 1, 1.0 - cos, 0.0) + where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(loss, reduction, "cosine_embedding_loss")


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    """``torch.pairwise_distance``: the ``p``-norm of ``x1 - x2 + eps`` over the last dim."""
    d = (x1 - x2 + eps).abs()
    if p == math.inf:
        return d.max(-1)
    if p == 1:
        return d.sum(-1)
    if p == 2:
        return (d * d).sum(-1).sqrt()
    return (d ** p).sum(-1) ** (1.0 / p)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-06, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """``torch.nn.functional.triplet_margin_loss`` (Balntas et al. 2016) of ``[N, D]`` (or ``[D]``)
    embeddings: ``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the ``p``-norm distance of
    ``x1 - x2 + eps``; ``swap`` uses ``min(d(a, n), d(p, n))`` for the negative distance.
    https://pytorch.org/docs/stable/generated/torch.nn.TripletMarginLoss.html. Raises
    LuminaShapeError for other ranks or differing shapes, LuminaValueError for ``p <= 0``,
    ``margin <= 0`` or ``reduction``."""
    _no_legacy(size_average, reduce, "triplet_margin_loss")
    _check_reduction(reduction, "triplet_margin_loss")
    if anchor.ndim not in (1, 2) or not anchor.shape == positive.shape == negative.shape:
        raise LuminaShapeError(f"triplet_margin_loss: anchor, positive and negative must share one shape [N, D] or "
                               f"[D], got {anchor._value.type}, {positive._value.type}, {negative._value.type}")
    if not margin > 0:
        raise LuminaValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    if not p > 0:
        raise LuminaValueError(f"triplet_margin_loss: p must be > 0, got {p}")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_swap = _pairwise_distance(positive, negative, p, eps)
        d_neg = minimum(d_neg, d_swap)     # torch.min: a tie splits the gradient
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction, "triplet_margin_loss")
