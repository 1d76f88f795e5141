"""Matrix products: ``matmul`` and the ``@`` operator (torch's and NumPy's rules), one batched
``dot`` primitive; under autocast its operands are cast to the lower precision first. And the
triangular parts of matrices, ``triu`` / ``tril`` (a constant mask and ``where``)."""
from __future__ import annotations

import math

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType, promote
from ..ir.types import TensorType
from .autocast import autocast_operands
from .core import Tensor
from .creation import arange, tensor
from .elementwise import where
from .shapes import broadcast_shapes


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """``torch.matmul`` / ``np.matmul`` semantics: 1-D operands are promoted and squeezed, batch dims
    broadcast. Raises LuminaShapeError when the inner dims differ."""
    a, b = input, other
    if not isinstance(b, Tensor):
        b = tensor(b)
    a, b = autocast_operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise LuminaShapeError(f"matmul: both operands need at least 1 dim, got {a._value.type} @ {b._value.type}")
    dt = promote(a.dtype, b.dtype)
    if dt is DType.bool:
        raise LuminaTypeError(f"matmul: bool operands are not supported: {a._value.type} @ {b._value.type}")
    x = a.unsqueeze(0) if a.ndim == 1 else a
    y = b.unsqueeze(-1) if b.ndim == 1 else b
    if x.shape[-1] != y.shape[-2]:
        raise LuminaShapeError(f"matmul: inner dimensions differ: lhs {a._value.type} (contracting "
                               f"{x.shape[-1]}) vs rhs {b._value.type} (contracting {y.shape[-2]})")
    if x.ndim > 2 and all(d == 1 for d in y.shape[:-2]):
        # A shared rhs (a Linear layer's weight): fold the lhs batch dims into its rows, so the
        # product is one [B*M, K] x [K, N] GEMM, and so is its weight gradient (contracting B*M),
        # instead of B small GEMMs and a sum over B.
        y = y.reshape(y.shape[-2:])
        out = matmul(x.reshape(math.prod(x.shape[:-1]), x.shape[-1]), y).reshape(*x.shape[:-1], y.shape[-1])
        if b.ndim > 2:   # size-1 batch dims of the rhs beyond the lhs's rank still broadcast
            out = out.reshape(*((1,) * (b.ndim - x.ndim)), *out.shape)
        return out.squeeze(-1) if b.ndim == 1 else out
    batch = broadcast_shapes("matmul", TensorType(x.shape[:-2], dt), TensorType(y.shape[:-2], dt))
    x = x.to(dt).expand(*batch, *x.shape[-2:])
    y = y.to(dt).expand(*batch, *y.shape[-2:])
    nb = len(batch)
    out = Tensor._result(B.dot(x._touch(), y._touch(), contract=((nb + 1,), (nb,)),
                               batch=(tuple(range(nb)), tuple(range(nb)))), x, y)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out


def _triangle(x: Tensor, diagonal: int, upper: bool) -> Tensor:
    op = "triu" if upper else "tril"
    if x.ndim < 2:
        raise LuminaValueError(f"{op}: input tensor must have at least 2 dimensions (as torch), got {x._value.type}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, int):
        raise LuminaTypeError(f"{op}: diagonal must be an int, got {diagonal!r}")
    rows, cols = x.shape[-2:]
    offset = arange(cols).reshape(1, cols) - arange(rows).reshape(rows, 1)    # j - i
    keep = offset >= diagonal if upper else offset <= diagonal
    return where(keep, x, False if x.dtype is DType.bool else 0)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """``torch.triu``: the elements of the last two dims on and above diagonal ``diagonal`` (``j - i
    >= diagonal``; 0 is the main diagonal, positive ones above it), zeros elsewhere; batch dims
    carry over. Same shape and dtype; the gradient is masked the same way. Raises
    LuminaValueError for fewer than 2 dims (as torch)."""
    return _triangle(input, diagonal, upper=True)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """``torch.tril``: the elements on and below diagonal ``diagonal`` (``j - i <= diagonal``); see
    ``triu``."""
    return _triangle(input, diagonal, upper=False)


class LinalgMethods:
    """``Tensor``'s ``@`` operator (the package copies these onto ``Tensor``)."""

    def __matmul__(self, o): return matmul(self, o)
    def __rmatmul__(self, o): return matmul(o if isinstance(o, Tensor) else tensor(o), self)

    def triu(self, diagonal: int = 0) -> Tensor:
        """``torch.Tensor.triu``; see ``triu``."""
        return triu(self, diagonal)

    def tril(self, diagonal: int = 0) -> Tensor:
        """``torch.Tensor.tril``; see ``tril``."""
        return tril(self, diagonal)
