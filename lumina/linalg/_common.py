"""What every ``lumina.linalg`` op shares: argument checks with torch's wording, the size limit of
the unrolled factorisations, small constant matrices, and the run-time check that stands in for
torch's ``LinAlgError`` (a singular matrix, a matrix that is not positive-definite).

lumina has no linear-algebra primitives: each factorisation is unrolled over the static matrix
size ``n`` into Tensor ops, so its graph grows with ``n`` (Gauss-Jordan and Cholesky as ``n``
steps, Householder QR as ``min(m, n)``, the Jacobi methods as ``SWEEPS * (n - 1)`` rounds).
``MAX_N`` bounds ``n`` so that a graph compiles in seconds; beyond it the ops raise
LuminaValueError."""
from __future__ import annotations

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from ..ir.graph import emit
from ..ir.ops import Op
from ..tensor import Tensor, tensor
from ..tensor.indexing import RUN_TIME_CHECKS, known_values

MAX_N = 16
"""The largest matrix dimension the factorisations unroll (inv, solve, det, cholesky, qr, eigh,
svd and the norms built on them)."""

FLOATS = (DType.float32, DType.float64)


def as_tensor(op: str, x, name: str = "A") -> Tensor:
    """``x`` itself when it is a Tensor, else LuminaTypeError (torch takes tensors only)."""
    if not isinstance(x, Tensor):
        raise LuminaTypeError(f"{op}: argument '{name}' must be a Tensor, not {type(x).__name__}")
    return x


def floating(op: str, x: Tensor, name: str = "A") -> None:
    """LuminaTypeError unless ``x`` is float32 or float64 (torch's CPU LAPACK kernels take only
    those, and complex types lumina does not have)."""
    if x.dtype not in FLOATS:
        raise LuminaTypeError(f"{op}: {name} must be float32 or float64, got {x._value.type}")


def within_limit(op: str, n: int, x: Tensor) -> None:
    """LuminaValueError when the unrolled factorisation would exceed ``MAX_N``."""
    if n > MAX_N:
        raise LuminaValueError(f"{op}: matrices up to {MAX_N}x{MAX_N} are supported (the factorisation is unrolled "
                               f"into the graph), got {x._value.type}")


def matrices(op: str, x, name: str = "A", square: bool = True) -> Tensor:
    """``x`` checked as a float batch ``[..., m, n]`` (square when ``square``) of size within
    ``MAX_N``; the errors name ``op``, the argument and its type."""
    x = as_tensor(op, x, name)
    if x.ndim < 2:
        raise LuminaShapeError(f"{op}: {name} must have at least 2 dimensions, got {x._value.type}")
    if square and x.shape[-1] != x.shape[-2]:
        raise LuminaShapeError(f"{op}: {name} must be batches of square matrices, but they are "
                               f"{x.shape[-2]} by {x.shape[-1]} matrices ({x._value.type})")
    floating(op, x, name)
    within_limit(op, max(x.shape[-2:]), x)
    return x


def const(values, dtype: DType) -> Tensor:
    """A constant tensor of ``values`` (a NumPy array or nested lists) in ``dtype``."""
    return tensor(np.asarray(values), dtype=dtype)


def fail_if(bad: Tensor, message: str) -> Tensor | None:
    """A zero (int64, 0-d) that carries a run-time check: realising anything computed from it
    raises LuminaIndexError (a LuminaValueError) with ``message`` if any entry of the bool tensor
    ``bad`` is true. Add it to a result to attach the check. When ``bad``'s value is known
    already (it is realised) the error is raised at once. None when there is nothing to check."""
    if bad.numel() == 0:
        return None
    vals = known_values(bad)
    if vals is not None:
        if np.asarray(vals).any():
            raise LuminaValueError(message)
        return None
    if not RUN_TIME_CHECKS:
        return None
    flag = bad.any().to(DType.int64)
    return Tensor._result(emit(Op.CHECK_INDEX, (flag._touch(),), size=1, low=0, message=message), flag)


def attach(result: Tensor, check: Tensor | None) -> Tensor:
    """``result`` with the check of ``fail_if`` tied in (its value is unchanged)."""
    if check is None:
        return result
    return result + check.to(result.dtype)
