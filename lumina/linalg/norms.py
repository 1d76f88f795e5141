"""Norms as ``torch.linalg.vector_norm``, ``matrix_norm`` and ``norm``
(https://pytorch.org/docs/2.13/generated/torch.linalg.norm.html), over lumina's reductions.

``vector_norm``: ``ord`` 2 is ``sqrt(sum x^2)`` (no rescaling, so it overflows where torch's CPU
kernel does), ``inf`` / ``-inf`` ``max`` / ``min |x|``, 0 the count of nonzeros, any other ``p``
``(sum |x|^p)^(1/p)``. As torch's backward, the gradient at a zero norm is 0 (a root's derivative
at 0 is not taken), and ``inf`` shares it evenly among ties. ``matrix_norm``: 'fro', 'nuc'
(sum of singular values), 2 / -2 (largest / smallest singular value, from ``svdvals``), 1 / -1
(max / min column sum of ``|A|``), inf / -inf (max / min row sum)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import promote, to_dtype
from ..tensor import Tensor, where
from ._common import FLOATS, as_tensor
from .spectral import svdvals


def _dims(op: str, x: Tensor, dim) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(x.ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return x._axes(dims, op) if dims else tuple(range(x.ndim))


def _widen(op: str, x: Tensor, dtype) -> Tensor:
    """``x`` in ``dtype`` (None: as it is); LuminaTypeError for a narrowing conversion, as torch."""
    if dtype is None:
        return x
    dt = to_dtype(dtype)
    if promote(x.dtype, dt) != dt:
        raise LuminaTypeError(f"{op}: the dtype of the input ({x._value.type}) should be convertible without "
                              f"narrowing to the specified dtype ({dt.name})")
    return x.to(dt)


def _root(s: Tensor, p: float) -> Tensor:
    """``s ** (1 / p)`` with a zero gradient where ``s`` is 0."""
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s) ** (1.0 / p))


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.linalg.vector_norm``: the ``ord``-norm of ``x`` over ``dim`` (None: every element, an
    int or a tuple of ints), float32 / float64 (``dtype``: computed and returned in that dtype, which
    must not narrow ``x``'s).
    Shape: ``x.shape`` without ``dim`` (kept as 1s with ``keepdim``). Raises LuminaTypeError for a
    non-float ``x`` or ``ord``, LuminaValueError for an ``inf`` norm over an empty dim."""
    op = "linalg.vector_norm"
    x = as_tensor(op, x, "x")
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: Expected a floating point or complex tensor as input. Got {x._value.type}")
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise LuminaTypeError(f"{op}: ord must be a number, got {ord!r}")
    x = _widen(op, x, dtype)
    dims = _dims(op, x, dim)
    a = x.abs()
    if math.isinf(ord):
        if any(x.shape[d] == 0 for d in dims):
            raise LuminaValueError(f"{op}: cannot compute the {ord} norm on an empty tensor because the operation "
                                   f"does not have an identity ({x._value.type}, dim {dims})")
        return a.amax(dims, keepdim) if ord > 0 else a.amin(dims, keepdim)
    if ord == 0:
        return (x != 0).to(x.dtype).sum(dims, keepdim)
    if ord == 1:
        return a.sum(dims, keepdim)
    if ord == 2:
        return _root((x * x).sum(dims, keepdim), 2.0)
    if ord > 0:   # |x|^p with a zero gradient at 0 (its slope there is inf for p < 1), as torch's
        powers = where(a == 0, 0.0, where(a == 0, 1.0, a) ** float(ord))
    else:         # a zero entry makes the norm 0, with a zero gradient, as torch's
        powers = where(a == 0, math.inf, where(a == 0, 1.0, a) ** float(ord))
    return _root(powers.sum(dims, keepdim), float(ord))


def _two_dims(op: str, A: Tensor, dim) -> tuple[int, int]:
    if not isinstance(dim, Sequence) or len(dim) != 2:
        raise LuminaValueError(f"{op}: dim must be a 2-tuple. Got {dim!r}")
    if A.ndim < 2:
        raise LuminaShapeError(f"{op}: The input tensor A must have at least 2 dimensions, got {A._value.type}")
    d0, d1 = A._axes(tuple(dim), op)
    if d0 == d1:
        raise LuminaValueError(f"{op}: dims must be different. Got ({d0}, {d1})")
    return d0, d1


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.linalg.matrix_norm``: the ``ord`` norm of the matrices spanned by the two dims
    ``dim`` of ``A`` (float32 / float64; ``dtype`` as ``vector_norm``). ``ord``: 'fro', 'nuc', 1, -1,
    2, -2, inf, -inf (module docstring); 'nuc' and +-2 are limited to matrices up to ``MAX_N``.
    Raises LuminaShapeError (fewer than 2 dims), LuminaTypeError (dtype), LuminaValueError (ord,
    dim, or an empty matrix for a norm without an identity)."""
    op = "linalg.matrix_norm"
    A = as_tensor(op, A)
    if A.dtype not in FLOATS:
        raise LuminaTypeError(f"{op}: Expected a floating point or complex tensor as input. Got {A._value.type}")
    A = _widen(op, A, dtype)
    d0, d1 = _two_dims(op, A, dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord not in ("nuc", 1, -1, 2, -2, math.inf, -math.inf) or isinstance(ord, bool):
        raise LuminaValueError(f"{op}: Order {ord} not supported.")
    if A.shape[d0] == 0 or A.shape[d1] == 0:
        if ord in (2, -2, "nuc") or (ord in (1, -1) and A.shape[d1] == 0) or \
                (ord in (math.inf, -math.inf) and A.shape[d0] == 0):
            raise LuminaValueError(f"{op}: the {ord} norm of an empty matrix is not defined ({A._value.type})")
    if ord in ("nuc", 2, -2):
        rest = [d for d in range(A.ndim) if d not in (d0, d1)]
        s = svdvals(A.permute(*rest, d0, d1))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    summed, across = (d0, d1) if abs(ord) == 1 else (d1, d0)
    sums = A.abs().sum(summed, keepdim=True)
    out = sums.amax(across, keepdim=True) if ord > 0 else sums.amin(across, keepdim=True)
    return out if keepdim else out.squeeze((d0, d1) if d0 < d1 else (d1, d0))


def norm(input: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.linalg.norm``: ``vector_norm`` when ``dim`` is an int or a 1-tuple, or when both
    ``ord`` and ``dim`` are None (over the flattened input); ``matrix_norm`` when ``dim`` is a
    2-tuple, or when ``dim`` is None and ``input`` is 2-d; with ``ord`` given and ``dim`` None, ``input``
    must be 1-d or 2-d (LuminaShapeError otherwise)."""
    op = "linalg.norm"
    A = as_tensor(op, input, "input")
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 1 or dim is None and ord is None:
        if isinstance(ord, str):
            raise LuminaValueError(f"{op}: ord {ord!r} needs the 2 dims of a matrix, got dim={dim}")
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None:
        if A.ndim not in (1, 2):
            raise LuminaShapeError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. "
                                   f"Got {A.ndim}D ({A._value.type})")
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype)
        dim = (-2, -1)
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
