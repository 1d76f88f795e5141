"""Matrix products: ``matmul`` and the ``@`` operator (torch's and NumPy's rules), one batched
``dot`` primitive; under autocast its operands are cast to the lower precision first. torch's
stricter spellings over it: ``mm`` (2-d), ``bmm`` (3-d), ``outer``, ``addmm`` / ``baddbmm``
(``beta * input + alpha * product``). And the
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


def _same_dtype(op: str, tensors: dict) -> DType:
    """The one dtype of ``tensors`` (torch's matrix products do not promote); LuminaTypeError
    naming them otherwise, and for bool (not implemented in torch's CPU kernels)."""
    dts = {t.dtype for t in tensors.values()}
    if len(dts) != 1:
        raise LuminaTypeError(f"{op}: expected operands of the same dtype (as torch), got "
                              + ", ".join(f"{n} {t._value.type}" for n, t in tensors.items()))
    dt = dts.pop()
    if dt is DType.bool:
        raise LuminaTypeError(f"{op}: not implemented for bool (as torch): "
                              + ", ".join(f"{n} {t._value.type}" for n, t in tensors.items()))
    return dt


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """``torch.mm``: the product of an ``[n, m]`` and an ``[m, p]`` matrix, ``[n, p]``, no
    broadcasting. Raises LuminaShapeError unless both are 2-d with matching inner dims,
    LuminaTypeError for differing dtypes or bool (as torch)."""
    a, b = input, mat2 if isinstance(mat2, Tensor) else tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise LuminaShapeError(f"mm: both operands must be matrices (2-d), got self {a._value.type} and mat2 "
                               f"{b._value.type}")
    if a.shape[1] != b.shape[0]:
        raise LuminaShapeError(f"mm: shapes cannot be multiplied: {a._value.type} ({a.shape[0]}x{a.shape[1]}) and "
                               f"{b._value.type} ({b.shape[0]}x{b.shape[1]})")
    _same_dtype("mm", {"self": a, "mat2": b})
    return matmul(a, b)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """``torch.bmm``: batched products of ``[B, n, m]`` and ``[B, m, p]``, ``[B, n, p]``, no
    broadcasting of the batch. Raises LuminaShapeError unless both are 3-d with equal batch and
    matching inner dims, LuminaTypeError for differing dtypes or bool (as torch)."""
    a, b = input, mat2 if isinstance(mat2, Tensor) else tensor(mat2)
    if a.ndim != 3 or b.ndim != 3:
        raise LuminaShapeError(f"bmm: both operands must be 3-d, got self {a._value.type} and mat2 {b._value.type}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise LuminaShapeError(f"bmm: expected mat2 of size [{a.shape[0]}, {a.shape[2]}, *] for self "
                               f"{a._value.type}, got {b._value.type}")
    _same_dtype("bmm", {"self": a, "mat2": b})
    return matmul(a, b)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """``torch.outer``: ``input[i] * vec2[j]``, ``[n, m]``, with torch's type promotion (bool:
    and). Raises LuminaShapeError unless both are 1-d."""
    a, b = input, vec2 if isinstance(vec2, Tensor) else tensor(vec2)
    for name, v in (("self", a), ("vec2", b)):
        if v.ndim != 1:
            raise LuminaShapeError(f"outer: expected a 1-d argument {name}, got {v._value.type}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


def _scaled_sum(op: str, input: Tensor, product: Tensor, beta, alpha) -> Tensor:
    """``beta * input + alpha * product``, ``input`` broadcast to the product's shape (as torch, a
    ``beta`` of 0 ignores ``input``, NaN included). Integer results take the integer parts of
    ``alpha`` and ``beta``, as torch's CPU kernel."""
    if not isinstance(input, Tensor):
        input = tensor(input, dtype=product.dtype)
    _same_dtype(op, {"self": input, "product": product})
    try:
        broadcast_shapes(op, input._value.type, product._value.type)
        base = input.expand(*product.shape)
    except LuminaShapeError:
        raise LuminaShapeError(f"{op}: self {input._value.type} does not broadcast to the product's shape "
                               f"{list(product.shape)}") from None
    if not product.dtype.is_float:
        alpha, beta = int(alpha), int(beta)
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        return out
    return out + (base if beta == 1 else base * beta)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``torch.addmm``: ``beta * input + alpha * mm(mat1, mat2)``, ``input`` broadcast to ``[n,
    p]``; see ``mm`` for the checks. torch's BLAS call fuses the scaling, so a float result may
    differ in the last bits."""
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``torch.baddbmm``: ``beta * input + alpha * bmm(batch1, batch2)``, ``input`` broadcast to
    ``[B, n, p]``; see ``bmm`` and ``addmm``."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


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

    def mm(self, mat2) -> Tensor:
        """``torch.Tensor.mm``; see ``mm``."""
        return mm(self, mat2)

    def bmm(self, mat2) -> Tensor:
        """``torch.Tensor.bmm``; see ``bmm``."""
        return bmm(self, mat2)

    def outer(self, vec2) -> Tensor:
        """``torch.Tensor.outer``; see ``outer``."""
        return outer(self, vec2)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
        """``torch.Tensor.addmm``; see ``addmm``."""
        return addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
        """``torch.Tensor.baddbmm``; see ``baddbmm``."""
        return baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def triu(self, diagonal: int = 0) -> Tensor:
        """``torch.Tensor.triu``; see ``triu``."""
        return triu(self, diagonal)

    def tril(self, diagonal: int = 0) -> Tensor:
        """``torch.Tensor.tril``; see ``tril``."""
        return tril(self, diagonal)
