"""Symmetric eigendecomposition and singular value decomposition as ``torch.linalg.eigh``,
``eigvalsh``, ``svd`` and ``svdvals`` (https://pytorch.org/docs/2.13/linalg.html), by the unrolled
Jacobi methods of ``jacobi``.

``eigh`` reads one triangle of ``A`` (``UPLO``), mirrors it and runs two-sided Jacobi; the
eigenvalues come out ascending, as torch's, the eigenvectors as the columns of ``Q`` in that order
(each one's sign is arbitrary, as in torch: LAPACK's signs are not reproduced). ``svd`` runs
one-sided Jacobi on the columns of ``A`` (of ``A^T`` when it is wide): ``A V = U S``, the singular
values descending. ``U`` is then passed through a Householder QR, ``U <- Q diag(sign(R_ii))``,
which leaves an orthonormal ``U`` as it is and gives orthonormal columns where a singular value is
zero and, with ``full_matrices``, the completion to a square ``U``. Signs of the singular vectors
are arbitrary, as torch documents; ``U diag(S) Vh`` and ``S`` are unique.

Gradients: autodiff through the sweeps. They agree with torch's where the decomposition is
differentiable (distinct eigenvalues / singular values) and the loss does not depend on the
arbitrary signs."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..errors import LuminaValueError
from ..tensor import Tensor, arange, where
from ._common import const, matrices
from .factor import householder
from .jacobi import orthogonalise_columns, symmetric_eigen

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def _symmetric(op: str, A: Tensor, UPLO: str) -> Tensor:
    if UPLO not in ("L", "U"):
        raise LuminaValueError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO!r}")
    tri = A.tril() if UPLO == "L" else A.triu()
    strict = A.tril(-1) if UPLO == "L" else A.triu(1)
    return tri + strict.transpose(-2, -1)


def _order(values: Tensor, largest: bool) -> tuple[Tensor, Tensor]:
    """``values`` ``[..., n]`` sorted (ascending, or descending when ``largest``) and the permutation
    matrix ``P`` ``[..., n, n]`` with ``(X P)[:, j] = X[:, order[j]]``."""
    n = values.shape[-1]
    top = values.topk(n, -1, largest=largest)
    perm = (arange(n).unsqueeze(-1) == top.indices.unsqueeze(-2)).to(values.dtype)
    return top.values, perm


def eigh(A: Tensor, UPLO: str = "L") -> EighResult:
    """``torch.linalg.eigh``: eigenvalues ``[*, n]`` (ascending) and orthonormal eigenvectors
    ``[*, n, n]`` (columns) of the symmetric matrices ``A`` ``[*, n, n]``, float32 / float64, only the
    triangle ``UPLO`` ('L' or 'U') read. Raises LuminaShapeError / LuminaTypeError, and
    LuminaValueError for another ``UPLO`` or ``n`` beyond ``MAX_N``."""
    op = "linalg.eigh"
    A = matrices(op, A)
    a = _symmetric(op, A, UPLO)
    if A.shape[-1] == 0 or 0 in A.shape:
        return EighResult(a.sum(-1), a)
    w, v = symmetric_eigen(a)
    w, perm = _order(w, largest=False)
    return EighResult(w, v @ perm)


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """``torch.linalg.eigvalsh``: the eigenvalues of ``eigh`` only, ``[*, n]`` ascending."""
    op = "linalg.eigvalsh"
    A = matrices(op, A)
    a = _symmetric(op, A, UPLO)
    if A.shape[-1] == 0 or 0 in A.shape:
        return a.sum(-1)
    return _order(symmetric_eigen(a)[0], largest=False)[0]


def _norms(b: Tensor) -> Tensor:
    """The column norms of ``b`` ``[..., m, n]``, with a zero gradient at a zero column."""
    s = (b * b).sum(-2)
    return where(s == 0, 0.0, where(s == 0, 1.0, s).sqrt())


def _tall(op: str, A) -> tuple[Tensor, bool]:
    A = matrices(op, A, square=False)
    wide = A.shape[-2] < A.shape[-1]
    return (A.transpose(-2, -1) if wide else A), wide


def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:
    """``torch.linalg.svdvals``: the singular values ``[*, min(m, n)]`` of ``A`` ``[*, m, n]``,
    descending, float32 / float64. ``driver`` (a cuSOLVER choice in torch) is accepted and
    ignored. Raises as ``svd``."""
    a, _ = _tall("linalg.svdvals", A)
    if 0 in a.shape:
        return a.sum(-2)[..., :0] if a.shape[-1] == 0 else (a * 0).sum(-2)
    b, _ = orthogonalise_columns(a)
    return _order(_norms(b), largest=True)[0]


def svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> SVDResult:
    """``torch.linalg.svd``: ``A = U diag(S) Vh`` for ``A`` ``[*, m, n]`` (float32 / float64),
    ``k = min(m, n)``: ``U [*, m, k]`` (``[*, m, m]`` with ``full_matrices``), ``S [*, k]`` descending,
    ``Vh [*, k, n]`` (``[*, n, n]``). ``driver`` is accepted and ignored. Raises LuminaShapeError /
    LuminaTypeError, LuminaValueError beyond ``MAX_N``."""
    op = "linalg.svd"
    a, wide = _tall(op, A)
    m, n = a.shape[-2:]              # m >= n
    dt = a.dtype
    if 0 in a.shape:
        u = const(np.eye(m), dt).expand(*a.shape[:-2], m, m) if full_matrices else a * 0
        v = const(np.eye(n), dt).expand(*a.shape[:-2], n, n)
        s = (a * 0).sum(-2)
        return SVDResult(v, s, u.transpose(-2, -1)) if wide else SVDResult(u, s, v.transpose(-2, -1))
    b, v = orthogonalise_columns(a)
    s, perm = _order(_norms(b), largest=True)
    b, v = b @ perm, v @ perm
    u = b / where(s == 0, 1.0, s).unsqueeze(-2)
    q, r = householder(u, True)
    signs = 1 - 2 * ((r * const(np.eye(m, n), dt)).sum(-2) < 0).to(dt)       # [..., n]
    u = q[..., :, :n] * signs.unsqueeze(-2)
    if full_matrices and m > n:
        from ..tensor import cat
        u = cat([u, q[..., :, n:]], -1)
    if wide:
        return SVDResult(v, s, u.transpose(-2, -1))
    return SVDResult(u, s, v.transpose(-2, -1))
