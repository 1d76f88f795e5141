"""``softmax`` and ``log_softmax`` along a dim, the functions ``torch.softmax`` /
``torch.nn.functional.softmax`` and ``Tensor.softmax`` share (they are torch's aliases of one op).

Both shift by the row's maximum, a constant for autodiff (``exp(x - max)`` cannot overflow), so
the gradient is the usual ``softmax * (g - sum(g * softmax))`` that autodiff derives; 16-bit floats
are computed in float32 and rounded once, as torch's CPU kernels.
Semantics: https://pytorch.org/docs/stable/generated/torch.nn.functional.softmax.html
"""
from __future__ import annotations

import warnings

from .core import Tensor, no_grad


def implicit_dim(op: str, ndim: int) -> int:
    """torch's legacy dim of softmax / log_softmax called without one (``_get_softmax_dim``): 0
    for 0-, 1- and 3-D inputs, else 1, with torch's deprecation warning."""
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
                  f"dim={dim} as an argument.", UserWarning, stacklevel=4)
    return dim


def _prepare(input: Tensor, dim, dtype, op: str) -> tuple[Tensor, int]:  # noqa: A002
    """``input`` cast to ``dtype`` (when given, as torch: before the op) and the dim to use."""
    x = input if dtype is None else input.to(dtype)
    return x, implicit_dim(op, x.ndim) if dim is None else dim


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:  # noqa: A002
    """``x - logsumexp(x)`` along ``dim``, shifted by the (constant) max for stability; 16-bit
    floats are computed in float32 and rounded once. ``dtype`` casts the input first;
    ``dim=None`` is torch's deprecated implicit dim (``implicit_dim``: 0 for 0-, 1- and 3-D
    inputs, else 1, with a warning). Raises LuminaIndexError for a dim out of range."""
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


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:  # noqa: A002
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


class SoftmaxMethods:
    """``Tensor.softmax`` / ``Tensor.log_softmax`` (the package copies them onto ``Tensor``)."""

    def softmax(self, dim: int, dtype=None) -> Tensor:
        """``torch.Tensor.softmax``; see ``softmax``."""
        return softmax(self, dim, dtype)

    def log_softmax(self, dim: int, dtype=None) -> Tensor:
        """``torch.Tensor.log_softmax``; see ``log_softmax``."""
        return log_softmax(self, dim, dtype)
