"""The Cholesky and QR factorisations as ``torch.linalg.cholesky`` and ``torch.linalg.qr``
(https://pytorch.org/docs/2.13/linalg.html), unrolled over the static matrix size.

``cholesky`` computes ``L`` column by column (Golub and Van Loan, Matrix Computations, 4th ed.,
Algorithm 4.2.2): ``l_j = (a_j - L l_j^T) / sqrt(d_j)`` on rows ``>= j``, reading only the lower
triangle of ``A``, as LAPACK's ``potrf`` does. A matrix that is not positive-definite (a
``d_j <= 0`` or NaN) is torch's ``LinAlgError``: a run-time check raises LuminaIndexError (a
LuminaValueError) on realising, eagerly or from a ``@lumina.compile`` function.

``qr`` applies Householder reflections ``H = I - 2 v v^T / v^T v`` (ibid., 5.2.2) with LAPACK's
conventions (``dgeqrf`` / ``dlarfg``): ``v = x - beta e_1``, ``beta = -sign(x_1) ||x||``, and no
reflection where the entries below the diagonal are already zero, so ``R``'s diagonal has
LAPACK's signs for inputs in general position. Gradients come from autodiff through the steps."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..errors import LuminaValueError
from ..tensor import Tensor, where, zeros
from ._common import attach, const, fail_if, matrices

QRResult = namedtuple("QRResult", ["Q", "R"])


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """``torch.linalg.cholesky``: lower-triangular ``L`` ``[*, n, n]`` with ``A = L L^T`` (``upper``:
    ``L^T``, upper-triangular), float32 / float64. Only the lower triangle of ``A`` is read (the
    upper one with ``upper``, as torch).
    Raises LuminaShapeError / LuminaTypeError / LuminaValueError as the other factorisations, and
    LuminaIndexError on realising when ``A`` is not positive-definite."""
    op = "linalg.cholesky"
    A = matrices(op, A)
    n, dt = A.shape[-1], A.dtype
    if n == 0 or 0 in A.shape:
        return A * 0
    if upper:                        # torch (LAPACK's uplo='U') then reads the upper triangle
        A = A.transpose(-2, -1)
    eye = np.eye(n)
    low = zeros(*A.shape, dtype=dt)
    diag = []
    for j in range(n):
        e_j = const(eye[j], dt)
        below = const((np.arange(n) >= j).astype(float), dt)
        col = (A @ e_j - (low @ (e_j @ low).unsqueeze(-1)).squeeze(-1)) * below               # [..., n]: rows >= j
        d = (col * e_j).sum(-1)
        diag.append(d)
        root = where(d > 0, d, 1.0).sqrt()
        low = low + (col / root.unsqueeze(-1)).unsqueeze(-1) * e_j
    bad = None
    for d in diag:
        b = ~(d > 0)                                               # NaN is not positive either
        bad = b if bad is None else bad | b
    message = (f"{op}: the factorization could not be completed because the input is not positive-definite "
               f"(torch's LinAlgError); A is {A._value.type}")
    low = attach(low, fail_if(bad, message))
    return low.transpose(-2, -1) if upper else low


def householder(A: Tensor, complete: bool) -> tuple[Tensor, Tensor]:
    """``(Q [*, m, m], R [*, m, n])`` of ``A = Q R`` by Householder reflections (module
    docstring); ``R`` upper-triangular, ``Q`` orthogonal."""
    m, n = A.shape[-2:]
    dt = A.dtype
    eye = np.eye(m)
    a = A
    q = const(eye, dt).expand(*A.shape[:-2], m, m)
    for k in range(min(m - 1, n)):
        e_k = const(eye[k], dt)
        x = (a @ const(np.eye(n)[k], dt)) * const((np.arange(m) >= k).astype(float), dt)
        alpha = (x * e_k).sum(-1)
        below = x * const((np.arange(m) > k).astype(float), dt)
        tail = (below * below).sum(-1)
        skip = tail == 0
        norm = where(skip, 1.0, alpha * alpha + tail).sqrt()
        v = x + ((1 - 2 * (alpha < 0).to(dt)) * norm).unsqueeze(-1) * e_k
        scale = where(skip, 0.0, 2 / where(skip, 1.0, (v * v).sum(-1)))
        a = a - (scale.unsqueeze(-1) * v).unsqueeze(-1) * (v.unsqueeze(-2) @ a)
        q = q - (q @ v.unsqueeze(-1)) * (scale.unsqueeze(-1) * v).unsqueeze(-2)
    return q, a


def qr(A: Tensor, mode: str = "reduced") -> QRResult:
    """``torch.linalg.qr``: ``A = Q R`` for ``A`` ``[*, m, n]`` (float32 / float64), ``k = min(m, n)``.
    ``mode='reduced'``: ``Q [*, m, k]``, ``R [*, k, n]``; ``'complete'``: ``Q [*, m, m]``, ``R [*, m, n]``;
    ``'r'``: ``Q`` empty (shape ``(0,)``) and the reduced ``R``. Signs as LAPACK's (module docstring).
    Raises LuminaValueError for another mode or a size beyond ``MAX_N``."""
    op = "linalg.qr"
    if mode not in ("reduced", "complete", "r"):
        raise LuminaValueError(f"{op}: qr received unrecognized mode '{mode}' but expected one of 'reduced' "
                               "(default), 'r', or 'complete'")
    A = matrices(op, A, square=False)
    m, n = A.shape[-2:]
    k = min(m, n)
    q, a = householder(A, mode == "complete")
    r = a.triu()
    if mode != "complete":
        q, r = q[..., :, :k], r[..., :k, :]
    if mode == "r":
        return QRResult(zeros(0, dtype=A.dtype), r)
    return QRResult(q, r)
