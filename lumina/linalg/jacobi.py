"""Cyclic Jacobi rotations, unrolled: the engine of ``eigh`` (two-sided, on a symmetric matrix) and
``svd`` (one-sided, Hestenes' method, on the columns of a matrix).

Each sweep visits every index pair ``(p, q)`` once, in the ``n - 1`` rounds of a round-robin
tournament (Brent and Luk, "The solution of singular-value and symmetric eigenvalue problems on
multiprocessor arrays", SIAM J. Sci. Stat. Comput. 6, 1985): the pairs of one round are disjoint,
so their rotations form one orthogonal matrix ``J`` and a round is two or three matrix products.
The rotation that zeroes ``a_pq`` of a symmetric 2x2 block ``[[a_pp, a_pq], [a_pq, a_qq]]`` is
``t = tan(theta) = sign(d) * 2 a_pq / (|d| + sqrt(d^2 + 4 a_pq^2))``, ``d = a_qq - a_pp``,
``c = 1 / sqrt(1 + t^2)``, ``s = t c`` (Golub and Van Loan, Matrix Computations, 4th ed.,
Algorithm 8.5.1, written without the division by ``a_pq`` so that a zero ``a_pq`` gives ``t = 0``).
The graph is fixed, so the number of sweeps is too: ``sweeps(n)``, enough for the off-diagonal
mass to reach float64 rounding for ``n <= MAX_N`` (Jacobi converges quadratically once the
off-diagonal entries are small). Every step is a differentiable Tensor op, so autodiff
differentiates the iteration, which converges to the derivative of the decomposition where the
eigenvalues (singular values) are distinct."""
from __future__ import annotations

import functools
import math

import numpy as np

from ..ir.dtypes import DType
from ..tensor import Tensor, where
from ._common import const


def sweeps(n: int) -> int:
    """The number of cyclic sweeps for an ``n x n`` problem."""
    return 0 if n < 2 else 6 + math.ceil(math.log2(n))


@functools.lru_cache(maxsize=None)
def rounds(n: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    """The round-robin schedule: ``n - 1`` rounds (``n`` even; one more index, left out of its
    pairs, when odd) of disjoint pairs ``(p, q)``, ``p < q``, covering every pair once."""
    m = n + n % 2
    players = list(range(m))
    out = []
    for _ in range(m - 1):
        pairs = [(players[i], players[m - 1 - i]) for i in range(m // 2)]
        out.append(tuple((min(p, q), max(p, q)) for p, q in pairs if max(p, q) < n))
        players = [players[0], players[-1]] + players[1:-1]
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _round_constants(n: int, pairs: tuple, dtype_name: str):
    """Selectors of one round: ``P``, ``Q`` ``[n, k]`` (column ``j`` is ``e_p`` resp. ``e_q`` of
    pair ``j``), the rotation's placements ``C``, ``S`` ``[k, n*n]`` and the identity on the
    indices no pair touches, ``[n, n]``."""
    k = len(pairs)
    sel_p, sel_q = np.zeros((n, k)), np.zeros((n, k))
    place_c, place_s = np.zeros((k, n, n)), np.zeros((k, n, n))
    rest = np.eye(n)
    for j, (p, q) in enumerate(pairs):
        sel_p[p, j] = sel_q[q, j] = 1
        place_c[j, p, p] = place_c[j, q, q] = 1
        place_s[j, p, q], place_s[j, q, p] = 1, -1
        rest[p, p] = rest[q, q] = 0
    return sel_p, sel_q, place_c.reshape(k, n * n), place_s.reshape(k, n * n), rest


def rotation(app: Tensor, aqq: Tensor, apq: Tensor) -> tuple[Tensor, Tensor]:
    """``(c, s)`` of the Jacobi rotation that zeroes ``apq`` (see the module docstring)."""
    d = aqq - app
    r2 = d * d + 4 * apq * apq
    zero = r2 == 0
    den = d.abs() + where(zero, 1.0, r2).sqrt()   # a safe sqrt: its gradient at 0 would be inf
    t = where(zero, 0.0, (2 - 4 * (d < 0).to(d.dtype)) * apq / den)
    c = (t * t + 1).rsqrt()
    return c, t * c


def round_matrix(n: int, pairs: tuple, c: Tensor, s: Tensor, dtype: DType) -> Tensor:
    """The orthogonal ``[..., n, n]`` matrix of one round's rotations (``c``, ``s``: ``[..., k]``):
    ``J_pp = J_qq = c``, ``J_pq = s``, ``J_qp = -s``, the identity elsewhere."""
    _, _, place_c, place_s, rest = _round_constants(n, pairs, dtype.name)
    flat = c @ const(place_c, dtype) + s @ const(place_s, dtype)
    return flat.reshape(*c.shape[:-1], n, n) + const(rest, dtype)


def pick_pairs(n: int, pairs: tuple, gram: Tensor, dtype: DType) -> tuple[Tensor, Tensor, Tensor]:
    """``(g_pp, g_qq, g_pq)``, each ``[..., k]``, of a symmetric ``[..., n, n]`` matrix ``gram``."""
    sel_p, sel_q, _, _, _ = _round_constants(n, pairs, dtype.name)
    sp, sq = const(sel_p, dtype), const(sel_q, dtype)
    gp, gq = gram @ sp, gram @ sq                          # [..., n, k]: the columns p, q
    return (gp * sp).sum(-2), (gq * sq).sum(-2), (gq * sp).sum(-2)


def symmetric_eigen(a: Tensor) -> tuple[Tensor, Tensor]:
    """``(diagonal, V)`` after the sweeps of two-sided Jacobi on the symmetric ``[..., n, n]``
    ``a``: ``V^T a V`` is diagonal to rounding, ``V`` orthogonal; unsorted."""
    n, dt = a.shape[-1], a.dtype
    v = const(np.eye(n), dt).expand(*a.shape)
    for _ in range(sweeps(n)):
        for pairs in rounds(n):
            c, s = rotation(*pick_pairs(n, pairs, a, dt))
            j = round_matrix(n, pairs, c, s, dt)
            a = j.transpose(-2, -1) @ a @ j
            v = v @ j
    return (a * const(np.eye(n), dt)).sum(-1), v


def orthogonalise_columns(a: Tensor) -> tuple[Tensor, Tensor]:
    """``(a V, V)`` after the sweeps of one-sided Jacobi on ``[..., m, n]`` ``a``: the columns of
    ``a V`` are mutually orthogonal to rounding, ``V`` orthogonal ``[..., n, n]``."""
    n, dt = a.shape[-1], a.dtype
    v = const(np.eye(n), dt).expand(*a.shape[:-2], n, n)
    for _ in range(sweeps(n)):
        for pairs in rounds(n):
            c, s = rotation(*pick_pairs(n, pairs, a.transpose(-2, -1) @ a, dt))
            j = round_matrix(n, pairs, c, s, dt)
            a = a @ j
            v = v @ j
    return a, v
