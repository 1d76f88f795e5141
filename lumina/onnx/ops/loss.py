"""The loss operators: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, on lumina's
``nll_loss`` / ``log_softmax`` decompositions (``lumina.nn.functional``)."""
from __future__ import annotations

from ...nn import functional as F
from .registry import Ctx, handler, optional, tensor_of

# With no ``ignore_index`` attribute every target counts; lumina's nll_loss always takes one, so it
# gets a value no valid class index (0 <= t < C) can equal, and which int32 targets can hold.
_NO_IGNORE = -(2 ** 31)


def _nll(ctx: Ctx, log_prob, target, weight, attrs):
    """``-weight[t] * log_prob[n, t, d1, ...]`` reduced as ONNX NegativeLogLikelihoodLoss: "mean"
    divides by the summed weights of the targets not equal to ``ignore_index``."""
    reduction = attrs.get("reduction", "mean")
    if reduction not in ("none", "sum", "mean"):
        raise ctx.error(f"reduction={reduction!r} is not one of 'none', 'sum', 'mean'")
    if log_prob.ndim < 2:
        raise ctx.error(f"input must be [N, C] or [N, C, d1, ...], got {list(log_prob.shape)}")
    expected = (log_prob.shape[0],) + log_prob.shape[2:]
    if target.shape != expected or not target.dtype.is_int:
        raise ctx.error(f"target must hold int class indices of shape [N, d1, ...] = {list(expected)} for input "
                        f"{list(log_prob.shape)}, got {target.dtype}{list(target.shape)}")
    if weight is not None and (weight.shape != (log_prob.shape[1],) or weight.dtype is not log_prob.dtype):
        raise ctx.error(f"weight must be [C] = [{log_prob.shape[1]}] of dtype {log_prob.dtype}, got "
                        f"{weight.dtype}{list(weight.shape)}")
    return F.nll_loss(log_prob, target, weight, ignore_index=attrs.get("ignore_index", _NO_IGNORE),
                      reduction=reduction)


@handler("NegativeLogLikelihoodLoss")
def _nll_loss(ctx, xs, attrs):
    """ONNX NegativeLogLikelihoodLoss-22: ``input [N, C, d1, ...]`` of log-probabilities, ``target
    [N, d1, ...]`` class indices, optional ``weight [C]``; ``reduction`` none / sum / mean."""
    weight = optional(xs, 2)
    return [_nll(ctx, tensor_of(xs[0]), tensor_of(xs[1]), None if weight is None else tensor_of(weight), attrs)]


@handler("SoftmaxCrossEntropyLoss")
def _softmax_cross_entropy(ctx, xs, attrs):
    """ONNX SoftmaxCrossEntropyLoss-13: NegativeLogLikelihoodLoss of ``log_softmax(scores, axis=1)``;
    the optional second output is that ``log_prob``, of the scores' shape."""
    scores = tensor_of(xs[0])
    if scores.ndim < 2 or not scores.dtype.is_float:
        raise ctx.error(f"scores must be float [N, C] or [N, C, d1, ...], got {scores.dtype}{list(scores.shape)}")
    log_prob = F.log_softmax(scores, 1)
    weight = optional(xs, 2)
    loss = _nll(ctx, log_prob, tensor_of(xs[1]), None if weight is None else tensor_of(weight), attrs)
    return [loss, log_prob]
