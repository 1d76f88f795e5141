"""Losses and activations as decompositions into primitives (their gradients come from autodiff)."""
from __future__ import annotations

from ..amp import autocast_fp32
from ..errors import LuminaShapeError, LuminaTypeError
from ..tensor import Tensor, arange, no_grad


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, shifted by the (constant) max for stability; 16-bit
    floats are computed in float32 and rounded once."""
    if x.dtype.is_half:
        return log_softmax(x.float(), dim).to(x.dtype)
    with no_grad():
        m = x.detach().max(dim, keepdim=True)
    shifted = x - m
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    if x.dtype.is_half:  # computed in float32, rounded once
        return softmax(x.float(), dim).to(x.dtype)
    with no_grad():
        m = x.detach().max(dim, keepdim=True)
    e = (x - m).exp()
    return e / e.sum(dim, keepdim=True)


def one_hot(target: Tensor, num_classes: int) -> Tensor:
    """``[..., num_classes]`` bool-as-``dtype`` indicator of integer ``target``."""
    return target.unsqueeze(-1) == arange(num_classes)


def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of ``logits [N, C]`` against class indices ``target [N]`` (int).

    Computed as ``logsumexp(logits) - logits[target]`` (log-sum-exp stable), as ``torch.nn.functional
    .cross_entropy``. ``reduction`` is "mean", "sum" or "none". Raises LuminaShapeError / TypeError.
    Under ``autocast`` it runs in float32 (a float32 op of the autocast policy).
    """
    (logits,) = autocast_fp32(logits)
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise LuminaShapeError(f"cross_entropy: expects logits [N, C] and target [N], got "
                               f"{logits._value.type} and {target._value.type}")
    if not target.dtype.is_int:
        raise LuminaTypeError(f"cross_entropy: target must hold class indices (int), got {target._value.type}")
    logp = log_softmax(logits, dim=1)
    picked = (logp * one_hot(target, logits.shape[1]).to(logits.dtype)).sum(1)
    loss = -picked
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mse_loss(x: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    x, y = autocast_fp32(x, y)
    d = (x - y) * (x - y)
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


def relu(x: Tensor) -> Tensor:
    return x.relu()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return x.gelu(approximate)
