"""Linear systems by Gauss-Jordan elimination with partial pivoting, unrolled over the static
``n``: ``solve``, ``inv``, ``det``, ``slogdet`` as ``torch.linalg``'s
(https://pytorch.org/docs/2.13/linalg.html), and torch's older spellings ``det``, ``inverse``,
``slogdet``, ``logdet``.

Step ``k`` picks the row ``p >= k`` of the largest ``|a_pk|`` (the first on ties, as LAPACK's
``idamax``), swaps rows ``k`` and ``p`` by the permutation ``I - d d^T`` (``d = e_p - e_k``, built
from comparisons, so it is a constant to autodiff), divides row ``k`` by the pivot and eliminates
column ``k`` from every other row (Golub and Van Loan, Matrix Computations, 4th ed., 3.4). The
pivots are those of the LU factorisation ``P A = L U`` with partial pivoting (the diagonal of
``U``), so ``det A = (-1)^swaps * prod(pivots)``. Gradients come from autodiff through the
elimination.

Singular matrices: torch raises ``LinAlgError`` from ``inv`` / ``solve`` of a matrix with an exact
zero pivot. lumina attaches a run-time check: realising the result raises LuminaIndexError (a
LuminaValueError) naming the op, eagerly and from a ``@lumina.compile`` function alike (after the
kernel that meets the zero pivot runs). ``det`` / ``slogdet`` of a singular matrix are 0 and
``(0, -inf)``, as torch's; their gradient there is not torch's (torch goes through an SVD)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError
from ..tensor import Tensor, arange, stack, where
from ._common import as_tensor, attach, const, fail_if, matrices

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def eliminate(a: Tensor, b: Tensor | None) -> tuple[Tensor | None, Tensor, Tensor]:
    """Gauss-Jordan on ``a`` ``[..., n, n]`` and right-hand sides ``b`` ``[..., n, k]`` (or None):
    ``(A^-1 b or None, pivots [..., n], parity [...])``, ``parity`` being ``(-1)^swaps``."""
    n, dt = a.shape[-1], a.dtype
    rows = arange(n)
    eye = np.eye(n)
    parity = const(1.0, dt)
    pivots = []
    for k in range(n):
        e_k = const(eye[k], dt)
        col = (a @ e_k).detach()
        p = where(rows >= k, col.abs(), -1.0).argmax(-1)                 # [...]
        d = (rows == p.unsqueeze(-1)).to(dt) - e_k                      # e_p - e_k
        swap = const(eye, dt) - d.unsqueeze(-1) * d.unsqueeze(-2)
        a = swap @ a
        b = None if b is None else swap @ b
        parity = parity * (1 - 2 * (p != k).to(dt))
        pivot = e_k @ a @ e_k
        pivots.append(pivot)
        safe = where(pivot == 0, 1.0, pivot).unsqueeze(-1)
        row = (e_k @ a) / safe                                          # [..., n]
        factors = (a @ e_k) * const(1 - eye[k], dt)                     # column k, row k left out
        keep = const(1 - eye[k], dt).unsqueeze(-1)
        a = (a - factors.unsqueeze(-1) * row.unsqueeze(-2)) * keep + e_k.unsqueeze(-1) * row.unsqueeze(-2)
        if b is not None:
            brow = (e_k @ b) / safe
            b = (b - factors.unsqueeze(-1) * brow.unsqueeze(-2)) * keep + e_k.unsqueeze(-1) * brow.unsqueeze(-2)
    return b, stack(pivots, -1), parity


def _singular(op: str, pivots: Tensor, a: Tensor):
    return fail_if(pivots == 0, f"{op}: the input matrix is singular (an exact zero pivot in its LU factorisation, "
                                f"torch's LinAlgError); A is {a._value.type}")


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """``torch.linalg.solve``: ``X`` with ``A X = B`` (``X A = B`` when ``left=False``).

    ``A`` ``[*, n, n]``; ``B`` ``[*, n, k]``, or ``[*, n]`` (a batch of vectors) when ``B`` is 1-d
    or its shape is ``A.shape[:-1]`` (torch's rule); batch dims broadcast. float32 / float64,
    the same for both. Raises LuminaShapeError (shapes), LuminaTypeError (dtypes), LuminaValueError
    (n beyond ``MAX_N``), and LuminaIndexError on realising when ``A`` is singular."""
    op = "linalg.solve"
    A = matrices(op, A)
    B = as_tensor(op, B, "B")
    if B.dtype != A.dtype:
        raise LuminaTypeError(f"{op}: Expected A and B to have the same dtype, but found A of type "
                              f"{A._value.type} and B of type {B._value.type} instead")
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    b = B.unsqueeze(-1) if vector else B
    if b.ndim < 2 or b.shape[-1 if not left else -2] != n:
        raise LuminaShapeError(f"{op}: incompatible shapes of A and B for the equation "
                               f"{'AX = B' if left else 'XA = B'} ({A._value.type} and {B._value.type})")
    if not left:
        if vector:
            raise LuminaShapeError(f"{op}: left=False needs B with at least 2 dims, got {B._value.type}")
        return solve(A.transpose(-2, -1), B.transpose(-2, -1)).transpose(-2, -1)
    batch = _broadcast(op, A, b)
    a, b = A.expand(*batch, n, n), b.expand(*batch, *b.shape[-2:])
    if n == 0 or b.shape[-1] == 0 or 0 in batch:
        x = b * 0
    else:
        x, pivots, _ = eliminate(a, b)
        x = attach(x, _singular(op, pivots, A))
    return x.squeeze(-1) if vector else x


def _broadcast(op: str, a: Tensor, b: Tensor) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    except ValueError:
        raise LuminaShapeError(f"{op}: the batch dims of A {a._value.type} and B {b._value.type} do not "
                               "broadcast") from None


def inv(A: Tensor) -> Tensor:
    """``torch.linalg.inv``: the inverse of each ``[*, n, n]`` matrix (float32 / float64). Raises
    like ``solve``; a singular ``A`` raises LuminaIndexError on realising."""
    op = "linalg.inv"
    A = matrices(op, A)
    n = A.shape[-1]
    if n == 0 or 0 in A.shape:
        return A * 0
    eye = const(np.eye(n), A.dtype).expand(*A.shape)
    x, pivots, _ = eliminate(A, eye)
    return attach(x, _singular(op, pivots, A))


def _pivots(op: str, A: Tensor) -> tuple[Tensor, Tensor]:
    A = matrices(op, A)
    n = A.shape[-1]
    if n == 0:
        return const(np.ones(A.shape[:-2] + (1,)), A.dtype), const(np.ones(A.shape[:-2]), A.dtype)
    _, pivots, parity = eliminate(A, None)
    return pivots, parity


def det(A: Tensor) -> Tensor:
    """``torch.linalg.det``: ``[*]`` determinants of ``[*, n, n]`` (float32 / float64), the signed
    product of the LU pivots; 1 for ``n = 0``, 0 for a singular matrix."""
    pivots, parity = _pivots("linalg.det", A)
    return parity * pivots.prod(-1)


def slogdet(A: Tensor) -> SlogdetResult:
    """``torch.linalg.slogdet``: ``(sign, logabsdet)``, each ``[*]``, with ``det = sign *
    exp(logabsdet)``; ``(0, -inf)`` for a singular matrix."""
    pivots, parity = _pivots("linalg.slogdet", A)
    sign = parity * pivots.sign().prod(-1)
    sign = where(sign == 0, 0.0, sign)          # torch: +0, not the -0 of an odd number of swaps
    return SlogdetResult(sign, pivots.abs().log().sum(-1))


def torch_det(input: Tensor) -> Tensor:
    """``torch.det``: ``torch.linalg.det``."""
    return det(input)


def inverse(input: Tensor) -> Tensor:
    """``torch.inverse``: ``torch.linalg.inv``."""
    return inv(input)


def torch_slogdet(input: Tensor) -> SlogdetResult:
    """``torch.slogdet``: ``torch.linalg.slogdet``."""
    return slogdet(input)


def logdet(input: Tensor) -> Tensor:
    """``torch.logdet``: ``log(det(input))``: NaN where the determinant is negative, -inf where it
    is 0 (torch's)."""
    sign, logabs = slogdet(input)
    return where(sign < 0, float("nan"), logabs)

