"""``lumina.linalg``: ``torch.linalg``'s real-valued functions (PyTorch 2.13,
https://pytorch.org/docs/2.13/linalg.html) as decompositions into lumina's Tensor ops, so they
compile like any other op and autodiff gives their gradients. lumina has no linear-algebra
primitive and no complex dtype.

    module      what it holds
    _common     argument checks, the size limit ``MAX_N``, the run-time check for singular input
    products    matmul, vecdot, cross
    lu          solve, inv, det, slogdet by Gauss-Jordan with partial pivoting
    factor      cholesky (by columns), qr (Householder, LAPACK's signs)
    jacobi      cyclic Jacobi rotations, unrolled (two-sided and one-sided)
    spectral    eigh, eigvalsh, svd, svdvals
    norms       vector_norm, matrix_norm, norm

Limits: the factorisations are unrolled over the matrix size, so square sizes up to ``MAX_N``
(16) are supported, and beyond it they raise LuminaValueError. Singular (inv, solve) and
non-positive-definite (cholesky) input raises LuminaIndexError (a LuminaValueError) when the
result is realised, eagerly or from a ``@lumina.compile`` function, where torch raises
``torch.linalg.LinAlgError``."""
from ._common import MAX_N
from .factor import QRResult, cholesky, qr
from .lu import SlogdetResult, det, inv, slogdet, solve
from .norms import matrix_norm, norm, vector_norm
from .products import cross, matmul, vecdot
from .spectral import EighResult, SVDResult, eigh, eigvalsh, svd, svdvals

__all__ = ["MAX_N", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm", "norm", "qr",
           "slogdet", "solve", "svd", "svdvals", "vecdot", "vector_norm",
           "EighResult", "QRResult", "SVDResult", "SlogdetResult"]
