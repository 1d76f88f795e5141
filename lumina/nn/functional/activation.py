"""Activations, softmax and dropout as decompositions into primitives (gradients from autodiff)."""
from __future__ import annotations

import warnings

from ...errors import LuminaTraceError, LuminaTypeError, LuminaValueError
from ...tensor.indexing import checked_index, known_values
from ...ir.dtypes import DType
from ...tensor.random import rand
from ...tensor import Tensor, arange, no_grad, where
from ...tracing import STATE


def implicit_dim(op: str, ndim: int) -> int:
    """torch's legacy dim of softmax / log_softmax called without one (``_get_softmax_dim``): 0
    for 0-, 1- and 3-D inputs, else 1, with torch's deprecation warning."""
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
                  f"dim={dim} as an argument.", UserWarning, stacklevel=4)
    return dim


def _prepare(input: Tensor, dim, dtype, op: str) -> tuple[Tensor, int]:
    """``input`` cast to ``dtype`` (when given, as torch: before the op) and the dim to use."""
    x = input if dtype is None else input.to(dtype)
    return x, implicit_dim(op, x.ndim) if dim is None else dim


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, shifted by the (constant) max for stability; 16-bit
    floats are computed in float32 and rounded once. ``dtype`` casts the input first;
    ``dim=None`` is torch's deprecated implicit dim (``implicit_dim``: 0 for 0-, 1- and 3-D
    inputs, else 1, with a warning)."""
    x, dim = _prepare(input, dim, dtype, "log_softmax")
    if x.dtype.is_half:
        return log_softmax(x.float(), dim).to(x.dtype)
    if x.numel() == 0:                 # nothing to normalise (no max over an empty dim)
        x._axes(dim, "log_softmax")
        return x
    with no_grad():
        m = x.detach().amax(dim, keepdim=True)
    shifted = x - m
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``exp(x - max) / sum(exp(x - max))`` along ``dim`` (16-bit floats in float32, rounded once);
    ``dtype`` and ``dim=None``: see ``log_softmax``."""
    x, dim = _prepare(input, dim, dtype, "softmax")
    if x.dtype.is_half:
        return softmax(x.float(), dim).to(x.dtype)
    if x.numel() == 0:                 # nothing to normalise (no max over an empty dim)
        x._axes(dim, "softmax")
        return x
    with no_grad():
        m = x.detach().amax(dim, keepdim=True)
    e = (x - m).exp()
    return e / e.sum(dim, keepdim=True)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``torch.nn.functional.one_hot``: ``[..., num_classes]`` int64, 1 where the last index
    equals the class in int64 ``tensor``. ``num_classes=-1`` infers ``max + 1`` from the values,
    which must therefore be known (not inside ``@lumina.compile``: LuminaTraceError). Raises
    LuminaTypeError for a non-int64 input, LuminaValueError for a negative class or one
    ``>= num_classes`` among values known when the op is recorded (LuminaIndexError when the
    values are computed, as the kernel runs: ``indexing.checked_index``)."""
    if tensor.dtype is not DType.int64:
        raise LuminaTypeError(f"one_hot: expects an int64 index tensor (as torch), got {tensor._value.type}")
    if num_classes == -1 and STATE.trace is not None:
        raise LuminaTraceError("one_hot: num_classes=-1 reads the values to count the classes, which are "
                               "not known inside @lumina.compile; pass num_classes")
    values = tensor.numpy() if num_classes == -1 else known_values(tensor)
    if values is not None and values.size:
        if values.min() < 0:
            raise LuminaValueError(f"one_hot: class values must be non-negative, got {int(values.min())}")
        if num_classes != -1 and values.max() >= num_classes:
            raise LuminaValueError(f"one_hot: class value {int(values.max())} is not smaller than "
                                   f"num_classes {num_classes}")
    if num_classes == -1:
        if values.size == 0:
            raise LuminaValueError("one_hot: cannot infer the number of classes from an empty tensor")
        num_classes = int(values.max()) + 1
    if num_classes < 0:
        raise LuminaValueError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    if values is None:
        tensor = checked_index(tensor, num_classes, "one_hot", f"{num_classes} classes", negative=False,
                               name="class value")
    return (tensor.unsqueeze(-1) == arange(num_classes)).to(DType.int64)


def _maybe_inplace(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """``out``, or with ``inplace`` ``input`` updated to it (``Tensor.copy_``: torch's in-place
    rules, version counters and autograd checks) and returned."""
    if not inplace or out is input:
        return out
    return input.copy_(out)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)``; ``inplace`` writes it into ``input`` (``_maybe_inplace``)."""
    return _maybe_inplace(input, input.relu(), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    return input.gelu(approximate)


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.dropout``: in training, each element is zeroed with probability ``p`` and
    the survivors are scaled by ``1 / (1 - p)`` (Srivastava et al. 2014, inverted dropout), so the
    expectation is unchanged; otherwise the identity. The mask comes from the in-graph generator
    (``lumina.rand``): reproducible after ``lumina.manual_seed`` and fresh on every compiled call.
    ``inplace`` writes the result into ``input`` (``_maybe_inplace``). Raises LuminaValueError
    unless ``0 <= p <= 1``, LuminaTypeError for a non-float input."""
    x = input
    if not x.dtype.is_float:
        raise LuminaTypeError(f"dropout: expects a floating-point input, got {x._value.type}")
    if not 0.0 <= p <= 1.0:
        raise LuminaValueError(f"dropout: probability must be in [0, 1], got {p} for {x._value.type}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return _maybe_inplace(x, x * 0.0, inplace)
    keep = rand(x.shape, dtype=x.dtype) >= p
    return _maybe_inplace(x, where(keep, x * (1.0 / (1.0 - p)), 0.0), inplace)
