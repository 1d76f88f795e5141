"""Activations, softmax and dropout as decompositions into primitives (gradients from autodiff)."""
from __future__ import annotations

from ...errors import LuminaTypeError, LuminaValueError
from ...random import rand
from ...tensor import Tensor, arange, no_grad, where


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
    """``exp(x - max) / sum(exp(x - max))`` along ``dim`` (16-bit floats in float32, rounded once)."""
    if x.dtype.is_half:
        return softmax(x.float(), dim).to(x.dtype)
    with no_grad():
        m = x.detach().max(dim, keepdim=True)
    e = (x - m).exp()
    return e / e.sum(dim, keepdim=True)


def one_hot(target: Tensor, num_classes: int) -> Tensor:
    """``[..., num_classes]`` bool indicator of integer ``target`` (``torch.nn.functional.one_hot``
    gives int64; cast with ``.long()`` for that)."""
    return target.unsqueeze(-1) == arange(num_classes)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return x.gelu(approximate)


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """``torch.nn.functional.dropout``: in training, each element is zeroed with probability ``p`` and
    the survivors are scaled by ``1 / (1 - p)`` (Srivastava et al. 2014, inverted dropout), so the
    expectation is unchanged; otherwise the identity. The mask comes from the in-graph generator
    (``lumina.rand``): reproducible after ``lumina.manual_seed`` and fresh on every compiled call.
    Raises LuminaValueError unless ``0 <= p <= 1``, LuminaTypeError for a non-float input."""
    if not x.dtype.is_float:
        raise LuminaTypeError(f"dropout: expects a floating-point input, got {x._value.type}")
    if not 0.0 <= p <= 1.0:
        raise LuminaValueError(f"dropout: probability must be in [0, 1], got {p} for {x._value.type}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = rand(*x.shape, dtype=x.dtype) >= p
    return where(keep, x * (1.0 / (1.0 - p)), 0.0)
