"""Norms and distances with PyTorch 2.13's semantics: ``norm``, ``dist``, ``cdist``,
``cosine_similarity``, ``pairwise_distance``.

All are decompositions into tensor ops, so autodiff gives their gradients; the forms are chosen so
that those gradients are torch's where torch's formula differs from the naive chain rule
(``vector_norm`` below, after ``norm_backward`` in torch's ``FunctionsManual.cpp``):
the gradient of a norm that is 0 is 0, not NaN; an element that is 0 gets 0 for ``p < 1``; ties of
the inf-norm share the gradient (``cdist``'s inf-distance gives each tie all of it, as torch's
``_cdist_backward``). The device for this is ``where(s == 0, 0, f(where(s == 0, 1, s)))``:
the same value as ``f(s)`` where ``s != 0``, and no gradient through ``f`` where ``s == 0``.
"""
from __future__ import annotations

import math

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType, promote, to_dtype
from ..ir.types import TensorType
from .core import Tensor, no_grad
from .elementwise import where
from .movement import cat
from .shapes import broadcast_shapes, result_type

_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _as_tensor(x, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    raise LuminaTypeError(f"{op}: expects tensors, got {type(x).__name__}")


def _number(p, op: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise LuminaTypeError(f"{op}: p must be a number, got {p!r}")
    return float(p)


def _safe(s: Tensor, fn, at_zero: float) -> Tensor:
    """``fn(s)`` where ``s != 0`` and ``at_zero`` where it is 0, with no gradient through ``fn`` at 0."""
    zero = s == 0
    return where(zero, at_zero, fn(where(zero, 1.0, s)))


def vector_norm(x: Tensor, p: float, dim, keepdim: bool, dtype, op: str = "norm", one_is_abs: bool = True) -> Tensor:
    """torch's ``linalg.vector_norm(x, p, dim, keepdim, dtype=dtype)`` for a float ``x``:
    ``p = inf``: ``max |x|``; ``-inf``: ``min |x|``; ``0``: the number of non-zeros; otherwise
    ``(sum |x|^p)^(1/p)`` (negative ``p`` too), over ``dim`` (every dim when None); a norm of one
    element is ``|x|``, as torch's kernel (so ``norm([3e38])`` does not overflow; ``one_is_abs=False``
    for cdist, whose kernel has no such case). ``dtype``
    casts ``x`` first (widening only, as torch). 16-bit floats compute in float32 and round once.
    Gradients: torch's ``norm_backward`` (see the module docstring). Raises LuminaTypeError for a
    non-float ``x`` or a narrowing ``dtype``, LuminaValueError for an inf / negative norm of an
    empty tensor (no identity), LuminaIndexError for a bad dim."""
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: expected a floating point tensor as input, got {x._value.type} (as torch's "
                              "linalg.vector_norm)")
    if dtype is not None:
        dt = to_dtype(dtype, op)
        if not dt.is_float or promote(x.dtype, dt) is not dt:
            raise LuminaTypeError(f"{op}: the dtype of the input ({x.dtype.name}) should be convertible without "
                                  f"narrowing to the specified dtype ({dt.name})")
        x = x.to(dt)
    if x.dtype.is_half:
        return vector_norm(x.to(DType.float32), p, dim, keepdim, None, op, one_is_abs).to(x.dtype)
    axes = x._axes(dim, op) if dim is not None else tuple(range(x.ndim))
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        axes = tuple(range(x.ndim))     # torch: dim=() is every dim
    empty = any(x.shape[a] == 0 for a in axes) or (x.numel() == 0 and not axes)
    if empty and (math.isinf(p) or p < 0):
        raise LuminaValueError(f"{op}: cannot compute the {p:g} norm of the empty {x._value.type}: the operation "
                               "has no identity (as torch)")
    dims = axes if axes else None
    a = x.abs()
    if one_is_abs and math.prod(x.shape[ax] for ax in axes) == 1 and p != 0:
        # torch: a norm of one element is |x| (no overflow in x^p; gradient sign(x)); an inf or NaN
        # takes the general form, whose gradient there is torch's NaN
        fast = a.sum(dims, keepdim)
        odd = where(x.isfinite(), 1.0, x)     # the finite element never reaches the general form
        return where(fast.isfinite(), fast, _powered(odd, odd.abs(), p, dims, axes, keepdim))
    return _powered(x, a, p, dims, axes, keepdim)


def _powered(x: Tensor, a: Tensor, p: float, dims, axes, keepdim: bool) -> Tensor:
    """``vector_norm``'s general forms (``a = |x|``)."""
    if p == math.inf:
        return a.amax(axes, keepdim) if axes else a.clone()
    if p == -math.inf:
        return a.amin(axes, keepdim) if axes else a.clone()
    if p == 0:
        return (x != 0).to(x.dtype).sum(dims, keepdim)
    if p == 1:
        return a.sum(dims, keepdim)
    if p == 2:
        return _safe((x * x).sum(dims, keepdim), lambda s: s.sqrt(), 0.0)
    # |x|^p with no gradient at x = 0 (0 for p > 0, inf for p < 0, as the value)
    powers = _safe(a, lambda v: v ** p, 0.0 if p > 0 else math.inf)
    return _safe(powers.sum(dims, keepdim), lambda s: s ** (1.0 / p), 0.0 if p > 0 else math.inf)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None) -> Tensor:
    """``torch.norm``: ``p='fro'`` (over at most 2 dims) and numbers are ``vector_norm`` (see it:
    inf, -inf, 0, negative and fractional ``p``) over ``dim`` (an int, a tuple, or every dim);
    ``p=None`` is 2. The matrix norms (``'nuc'``, and ``'fro'`` over more than 2 dims) are not
    decompositions into lumina's ops (the nuclear norm needs an SVD) and raise LuminaValueError, as
    an unknown order does. ``out`` must be None. Result: ``input``'s float dtype, or ``dtype``.
    https://pytorch.org/docs/stable/generated/torch.norm.html"""
    input = _as_tensor(input, "norm")
    if out is not None:
        raise LuminaValueError("norm: out= is not supported (lumina's results are always new tensors)")
    if isinstance(p, str):
        fro_dims = dim is None or isinstance(dim, int) or len(dim) <= 2
        if p == "fro" and fro_dims:
            return vector_norm(input, 2.0, dim, keepdim, dtype)
        if p in ("fro", "nuc"):
            raise LuminaValueError(f"norm: the matrix norm p={p!r} over dims {dim} of {input._value.type} is not "
                                   "supported (the nuclear norm needs an SVD; 'fro' takes at most 2 dims)")
        raise LuminaValueError(f"norm: order {p!r} not supported (numbers, 'fro' or 'nuc')")
    return vector_norm(input, 2.0 if p is None else _number(p, "norm"), dim, keepdim, dtype)


def dist(input: Tensor, other: Tensor, p=2) -> Tensor:
    """``torch.dist``: the p-norm of ``input - other`` (broadcast) over every element, a 0-d
    tensor; float inputs only (LuminaTypeError otherwise, as torch). Gradients as ``norm``'s.
    https://pytorch.org/docs/stable/generated/torch.dist.html"""
    input, other = _as_tensor(input, "dist"), _as_tensor(other, "dist")
    if not (input.dtype.is_float or other.dtype.is_float):
        raise LuminaTypeError(f"dist: input dtype should be floating point, got {input._value.type} and "
                              f"{other._value.type} (as torch)")
    return vector_norm(input - other, _number(p, "dist"), None, False, None, "dist")


def _euclidean_mm(x1: Tensor, x2: Tensor) -> Tensor:
    """torch's ``_euclidean_dist``: ``sqrt(clamp_min(|a|^2 + |b|^2 - 2 a.b, 0))`` as one matmul of
    ``[-2a, |a|^2, 1]`` by ``[b, 1, |b|^2]`` (its values, rounding included; cancellation makes
    close points' distances inexact, as torch's)."""
    n1 = (x1 * x1).sum(-1, keepdim=True)
    n2 = (x2 * x2).sum(-1, keepdim=True)
    a = cat([x1 * -2.0, n1, n1 * 0.0 + 1.0], -1)
    b = cat([x2, n2 * 0.0 + 1.0, n2], -1)
    return (a @ b.transpose(-1, -2)).clamp(min=0.0).sqrt()


def cdist(x1: Tensor, x2: Tensor, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """``torch.cdist``: the p-norm distance between each row of ``x1`` ``(*B, P, M)`` and each row of
    ``x2`` ``(*B, R, M)``: shape ``(*B, P, R)`` (batch dims broadcast); float32 / float64, one dtype.
    ``p >= 0`` (0, inf and fractional included). For ``p = 2`` torch computes through a matmul
    when ``compute_mode`` is ``'use_mm_for_euclid_dist'``, or by default when ``P > 25`` or ``R >
    25``: so does lumina, for the same values; the gradient is then the exact distance's (torch's
    ``_euclidean_dist_backward`` is that formula). The inf-distance ignores NaN differences, as
    torch's kernel (a running maximum from 0). Gradients: torch's ``_cdist_backward`` (0 where a
    distance is 0; ties of the inf-distance each get the whole gradient). Raises
    LuminaShapeError for inputs under 2 dims, different row lengths or unbroadcastable batches,
    LuminaTypeError for other dtypes, LuminaValueError for a negative ``p`` or an unknown mode.
    https://pytorch.org/docs/stable/generated/torch.cdist.html"""
    x1, x2 = _as_tensor(x1, "cdist"), _as_tensor(x2, "cdist")
    p = _number(p, "cdist")
    if compute_mode not in _MODES:
        raise LuminaValueError(f"cdist: {compute_mode!r} is not a valid value for compute_mode ({', '.join(_MODES)})")
    for name, t in (("X1", x1), ("X2", x2)):
        if t.dtype not in (DType.float32, DType.float64):
            raise LuminaTypeError(f"cdist: only supports float32 and float64 (as torch's CPU kernel), {name} got "
                                  f"{t._value.type}")
        if t.ndim < 2:
            raise LuminaShapeError(f"cdist: only supports at least 2D tensors, {name} got {t._value.type}")
    if x1.dtype is not x2.dtype:
        raise LuminaTypeError(f"cdist: X1 and X2 must have one dtype, got {x1._value.type} and {x2._value.type}")
    if x1.shape[-1] != x2.shape[-1]:
        raise LuminaShapeError(f"cdist: X1 and X2 must have the same number of columns: X1 {x1._value.type}, "
                               f"X2 {x2._value.type}")
    if p < 0:
        raise LuminaValueError(f"cdist: only supports non-negative p values, got {p}")
    batch = broadcast_shapes("cdist", TensorType(x1.shape[:-2], x1.dtype), TensorType(x2.shape[:-2], x2.dtype))
    x1 = x1.expand(*batch, *x1.shape[-2:])
    x2 = x2.expand(*batch, *x2.shape[-2:])
    rows, cols = x1.shape[-2], x2.shape[-2]
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)            # (*B, P, R, M)
    if p == math.inf and diff.shape[-1] > 0:
        # torch's kernel folds max(agg, |d|) from agg = 0, in which a NaN never wins
        a = diff.abs()
        a = where(a.isnan(), 0.0, a)
        top = a.amax(-1)
        if not top.requires_grad:
            return top
        ties = (a == top.unsqueeze(-1).detach()).to(top.dtype).sum(-1).detach()
        held = top.detach()
        # the value is ``top``; the gradient, ``ties`` times amax's even share: the whole of it for each tie
        return where(held.isfinite(), held + (top - held) * ties, top)
    exact = vector_norm(diff, p, -1, False, None, "cdist", one_is_abs=False) if diff.shape[-1] else \
        diff.sum(-1).abs()
    mm = p == 2 and diff.shape[-1] > 0 and (compute_mode == _MODES[1] or
                                           (compute_mode == _MODES[0] and (rows > 25 or cols > 25)))
    if not mm:
        return exact
    with no_grad():
        value = _euclidean_mm(x1, x2)
    if not exact.requires_grad:
        return value
    held = exact.detach()
    return where(held.isfinite(), value + (exact - held), value)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``torch.nn.functional.cosine_similarity``: ``sum((x1 / max(|x1|, eps)) * (x2 / max(|x2|,
    eps)), dim)``, the norms 2-norms over ``dim`` of the broadcast inputs, as torch 2.13's ATen code
    (each input divided by its own clamped norm first, which keeps the result in [-1, 1]; the
    docs' formula ``x1.x2 / (max(|x1|, eps) max(|x2|, eps))``). As torch, the clamp is made
    under no_grad on a copy of the norm, so the gradient passes through the norm as if unclamped.
    Shape: the broadcast shape without ``dim``; dtype the common float dtype (integer inputs raise
    LuminaTypeError, as torch). https://pytorch.org/docs/stable/generated/torch.nn.functional.cosine_similarity.html"""
    x1, x2 = _as_tensor(x1, "cosine_similarity"), _as_tensor(x2, "cosine_similarity")
    dt = result_type(x1, x2)
    if not dt.is_float:
        raise LuminaTypeError(f"cosine_similarity: expected common dtype to be floating point, yet common dtype is "
                              f"{dt.name} ({x1._value.type}, {x2._value.type})")
    shape = broadcast_shapes("cosine_similarity", x1._value.type, x2._value.type)
    x1, x2 = (x.to(dt) if x.shape == shape else x.to(dt).expand(*shape) for x in (x1, x2))
    n1 = vector_norm(x1, 2.0, dim, True, None, "cosine_similarity").clone()
    n2 = vector_norm(x2, 2.0, dim, True, None, "cosine_similarity").clone()
    with no_grad():
        n1.clamp_(min=eps)
        n2.clamp_(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p=2, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``torch.nn.functional.pairwise_distance``: ``norm(x1 - x2 + eps, p)`` over the last dim of the
    broadcast inputs (``keepdim`` keeps it), as torch's ATen code; integer inputs compute in float32.
    Gradients as ``norm``'s. https://pytorch.org/docs/stable/generated/torch.nn.functional.pairwise_distance.html"""
    x1, x2 = _as_tensor(x1, "pairwise_distance"), _as_tensor(x2, "pairwise_distance")
    diff = x1 - x2 + eps
    if not diff.dtype.is_float:
        diff = diff.to(DType.float32)
    return vector_norm(diff, _number(p, "pairwise_distance"), -1, keepdim, None, "pairwise_distance")


class DistanceMethods:
    """The Tensor methods of this module."""

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
        return norm(self, p, dim, keepdim, dtype=dtype)

    def dist(self, other, p=2) -> Tensor:
        return dist(self, other, p)
