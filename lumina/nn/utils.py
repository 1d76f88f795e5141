"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Both only record tensor ops (no value is read in Python), so they work inside ``@lumina.compile``
between ``backward()`` and ``optimizer.step()``.
"""
from __future__ import annotations

import math
from typing import Iterable

from ..errors import LuminaValueError
from ..tensor import Tensor, maximum, minimum, no_grad, realize, stack, tensor
from ..tracing import STATE


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def vector_norm(x: Tensor, norm_type: float = 2.0) -> Tensor:
    """The p-norm of ``x`` viewed as a vector, as ``torch.linalg.vector_norm``: ``(sum |x|^p)^(1/p)``;
    ``inf`` / ``-inf`` give ``max |x|`` / ``min |x|``; ``0`` the number of non-zeros. A 0-d tensor."""
    a = x.abs()
    if norm_type == math.inf:
        return a.max()
    if norm_type == -math.inf:
        return a.min()
    if norm_type == 0:
        return (a != 0).to(x.dtype).sum()
    if norm_type == 1:
        return a.sum()
    if norm_type == 2:
        return (x * x).sum().sqrt()
    return (a ** float(norm_type)).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients of ``parameters`` so that their joint ``norm_type``-norm is at most
    ``max_norm``; return that norm (before clipping) as a 0-d tensor. As PyTorch:

        total = || (||g_1||_p, ..., ||g_n||_p) ||_p
        g_i  = g_i * min(max_norm / (total + 1e-6), 1)

    Parameters whose ``.grad`` is None are skipped (a zero norm when none has one).
    ``error_if_nonfinite`` reads the norm, so it raises LuminaValueError outside a compiled step
    when the norm is NaN or infinite, and LuminaValueError when asked for inside one.
    """
    norm_type = float(norm_type)
    params = [p for p in _as_list(parameters) if p.grad is not None]
    if error_if_nonfinite and STATE.trace is not None:
        raise LuminaValueError("clip_grad_norm_: error_if_nonfinite reads the norm, which is not known "
                               "inside @lumina.compile; check the returned norm after the call instead")
    if not params:
        return tensor(0.0)
    with no_grad():
        norms = [vector_norm(p.grad, norm_type) for p in params]
        dt = norms[0].dtype
        total = vector_norm(stack([n.to(dt) for n in norms]), norm_type)
        if error_if_nonfinite:
            realize(total)
            if not math.isfinite(total.item()):
                raise LuminaValueError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                                       f"gradients is {total.item()}; set error_if_nonfinite=False to "
                                       "clip anyway")
        coef = minimum(max_norm / (total + 1e-6), 1.0)
        for p in params:
            p.grad = p.grad * coef.to(p.grad.dtype)
        if STATE.trace is None:
            realize(total, *(p.grad for p in params))
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient elementwise to ``[-clip_value, clip_value]`` (``torch.nn.utils.
    clip_grad_value_``); NaN stays NaN. Raises LuminaValueError for a negative ``clip_value``."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise LuminaValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    params = [p for p in _as_list(parameters) if p.grad is not None]
    with no_grad():
        for p in params:
            p.grad = minimum(maximum(p.grad, -clip_value), clip_value)
        if STATE.trace is None:
            realize(*(p.grad for p in params))


__all__ = ["clip_grad_norm_", "clip_grad_value_", "vector_norm"]
