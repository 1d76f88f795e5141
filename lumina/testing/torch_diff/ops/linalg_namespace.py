"""Rows of ``lumina.linalg`` (and torch's older ``det`` / ``inverse`` / ``slogdet`` / ``logdet``).

Inputs are small (``n <= 3``, at most one batch dim) and well-conditioned: diagonally dominant
matrices (``+4 I``) for the solvers, ``a + a^T`` of those for the symmetric ops (positive-definite),
so that the two libraries' different algorithms (LAPACK's and lumina's unrolled ones) agree to a
few ulps times the condition number. Where torch's result is unique only up to signs (eigenvectors,
singular vectors) a row compares their absolute values. No special values: LAPACK's behaviour on
NaN / inf (an error or garbage, by routine) is no contract (tests/test_linalg_namespace.py)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..cases import INTS, Arr, Case
from ..spec import OpSpec
from ..strategies import array, rarely, wants_grad

_DIRECT = dict(ulps=64, normwise=True, accumulates=True)
_JACOBI = dict(ulps=256, normwise=True, accumulates=True, draws=0.25)


def _batch(draw) -> tuple[int, ...]:
    return tuple(draw(st.lists(st.integers(1, 2), max_size=1)))


@st.composite
def _square(draw, dtype, grad=True, min_n=0):
    """A diagonally dominant ``[b?, n, n]`` matrix; one draw in ten not square (torch raises)."""
    n = draw(st.integers(min_n, 3))
    shape = _batch(draw) + (n, n)
    a = draw(array(dtype, shape, -1, 1, special=False))
    a = (a + 4 * np.eye(n)).astype(a.dtype)
    if rarely(draw, 10):
        a = a[..., :max(n - 1, 0), :] if n else np.zeros((1, 2), a.dtype)
    return Case((Arr(a, wants_grad(dtype, grad)),), dtype=dtype)


@st.composite
def _solve_cases(draw, dtype):
    (a,) = draw(_square(dtype)).args
    n = a.value.shape[-1]
    left = draw(st.booleans())
    vector = left and draw(st.booleans())
    if vector:
        shape = a.value.shape[:-1]
    else:
        k = draw(st.integers(1, 2))
        shape = a.value.shape[:-2] + ((n, k) if left else (k, n))
    b = Arr(draw(array(dtype, shape, -2, 2, special=False)), wants_grad(dtype, True))
    return Case((a, b), {} if left else {"left": False}, dtype=dtype)


@st.composite
def _rect(draw, dtype, grad=True, wide=True, tall=True):
    m, n = draw(st.integers(0 if tall else 1, 3)), draw(st.integers(0, 3))
    if not wide:
        n = min(n, m)
    if not tall:
        m = min(m, n)
    return Case((Arr(draw(array(dtype, _batch(draw) + (m, n), -1, 1, special=False)), wants_grad(dtype, grad)),),
                dtype=dtype)


@st.composite
def _qr_cases(draw, dtype):
    mode = draw(st.sampled_from(["reduced", "complete", "r"]))
    # torch differentiates neither mode='r' nor a tall mode='complete'
    case = draw(_rect(dtype, grad=mode != "r", tall=mode != "complete"))
    return Case(case.args, {} if mode == "reduced" else {"mode": mode}, dtype=dtype)


@st.composite
def _uplo_cases(draw, dtype):
    case = draw(_square(dtype))
    return Case(case.args, {"UPLO": draw(st.sampled_from(["L", "U"]))}, dtype=dtype)


@st.composite
def _cholesky_cases(draw, dtype):
    case = draw(_square(dtype))
    return Case(case.args, {"upper": draw(st.booleans())}, dtype=dtype)


@st.composite
def _vector_norm_cases(draw, dtype):
    x = draw(array(dtype, _batch(draw) + (draw(st.integers(1, 3)), draw(st.integers(1, 3))), special=False))
    kw = {}
    ord_ = draw(st.sampled_from([2, 1, 0, 3, 0.5, -1, math.inf, -math.inf, None]))
    if ord_ is not None:
        kw["ord"] = ord_
    dim = draw(st.sampled_from([None, -1, (0,), (-2, -1)]))
    if dim is not None:
        kw["dim"] = dim
    if draw(st.booleans()):
        kw["keepdim"] = True
    return Case((Arr(x, wants_grad(dtype, ord_ != 0)),), kw, dtype=dtype)


@st.composite
def _matrix_norm_cases(draw, dtype):
    ord_ = draw(st.sampled_from(["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf]))
    x = draw(array(dtype, _batch(draw) + (draw(st.integers(1, 3)), draw(st.integers(1, 3))), -2, 2, special=False))
    kw = {"ord": ord_}
    if draw(st.booleans()):
        kw["keepdim"] = True
    if x.ndim == 3 and draw(st.booleans()):
        kw["dim"] = (0, 2)
    return Case((Arr(x, wants_grad(dtype, True)),), kw, dtype=dtype)


@st.composite
def _vecdot_cases(draw, dtype, size=None):
    n = size or draw(st.integers(0, 3))
    g = wants_grad(dtype, True)
    sa = _batch(draw) + (n,)
    sb = tuple(1 if draw(st.booleans()) else d for d in sa)
    if size is not None and rarely(draw, 10):
        sb = sb[:-1] + (2,)
    return Case((Arr(draw(array(dtype, sa, special=size is None)), g),
                 Arr(draw(array(dtype, sb, special=size is None)), g)), dtype=dtype)


def _degenerate(case) -> bool:
    """A matrix 2-norm / nuclear norm at repeated or zero singular values, where it is not
    differentiable (torch's gradient there is one of many subgradients)."""
    ord_, dim = case.kwargs.get("ord"), case.kwargs.get("dim", (-2, -1))
    x = np.asarray(case.args[0].value, np.float64)
    if ord_ not in (2, -2, "nuc") or x.ndim < 2 or (dim is not None and len(dim) != 2):
        return False
    s = np.linalg.svd(np.moveaxis(x, tuple(dim), (-2, -1)) if dim else x, compute_uv=False)
    return bool(s.min(initial=1) < 1e-2 or (s.shape[-1] > 1 and np.abs(np.diff(s, axis=-1)).min() < 1e-2))


def _singular_r(case) -> bool:
    """An input whose R has a (nearly) zero diagonal entry: QR is not differentiable there."""
    x = np.asarray(case.args[0].value, np.float64)
    if 0 in x.shape:
        return False
    r = np.linalg.qr(x, mode="r")
    return bool(np.abs(np.diagonal(r, axis1=-2, axis2=-1)).min() < 1e-2)


_NOT_DIFFERENTIABLE = ("the matrix 2-norm and nuclear norm at zero or repeated singular values: not differentiable "
                       "there, torch's gradient is one subgradient of many", _degenerate)


def _sym(x):
    return x + x.transpose(-2, -1)


def linalg_specs() -> list[OpSpec]:
    """The rows of ``lumina.linalg`` and of torch's older determinant and inverse names."""
    fl = ("float32", "float64")
    rows = [
        OpSpec("lumina.linalg.inv", lambda L, a: L.linalg.inv(a), _square, **_DIRECT, checks="non-square raises"),
        OpSpec("lumina.inverse", lambda L, a: L.inverse(a), _square, **_DIRECT),
        OpSpec("lumina.linalg.det", lambda L, a: L.linalg.det(a), _square, **_DIRECT),
        OpSpec("lumina.det", lambda L, a: L.det(a), _square, **_DIRECT),
        OpSpec("lumina.linalg.slogdet", lambda L, a: tuple(L.linalg.slogdet(a)), _square, **_DIRECT),
        OpSpec("lumina.slogdet", lambda L, a: tuple(L.slogdet(a)), _square, **_DIRECT),
        OpSpec("lumina.logdet", lambda L, a: L.logdet(a), _square, **_DIRECT),
        OpSpec("lumina.linalg.solve", lambda L, a, b, **k: L.linalg.solve(a, b, **k), _solve_cases, **_DIRECT,
               checks="vector and matrix right-hand sides, broadcast batches, left=False"),
        OpSpec("lumina.linalg.cholesky", lambda L, a, **k: L.linalg.cholesky(_sym(a), **k), _cholesky_cases,
               **_DIRECT, checks="of a + a^T (positive-definite, so the gradient is torch's symmetric one); upper"),
        OpSpec("lumina.linalg.qr", lambda L, a, **k: tuple(L.linalg.qr(a, **k)), _qr_cases, **_DIRECT,
               skip=(("R with a zero diagonal entry: QR is not differentiable there (torch: NaN)", _singular_r),),
               checks="Q and R themselves (LAPACK's signs), the three modes"),
        OpSpec("lumina.linalg.eigvalsh", lambda L, a, **k: L.linalg.eigvalsh(_sym(a), **k), _uplo_cases, **_JACOBI,
               checks="of a + a^T; UPLO"),
        OpSpec("lumina.linalg.eigh", lambda L, a, **k: (lambda w, v: (w, v.abs()))(*L.linalg.eigh(_sym(a), **k)),
               _uplo_cases, **_JACOBI, checks="of a + a^T: the eigenvalues and |eigenvectors| (signs are arbitrary)"),
        OpSpec("lumina.linalg.svdvals", lambda L, a: L.linalg.svdvals(a), _rect, **_JACOBI),
        OpSpec("lumina.linalg.svd", lambda L, a: (lambda u, s, vh: (u.abs(), s, vh.abs()))(
            *L.linalg.svd(a, full_matrices=False)), _rect, **_JACOBI,
               checks="full_matrices=False: S, |U| and |Vh| (signs are arbitrary; torch differentiates no "
                      "full_matrices=True)"),
        OpSpec("lumina.linalg.vector_norm", lambda L, x, **k: L.linalg.vector_norm(x, **k), _vector_norm_cases,
               ulps=8, accumulates=True, checks="ord 2, 1, 0, 3, 0.5, -1, inf, -inf; dims; keepdim"),
        OpSpec("lumina.linalg.matrix_norm", lambda L, x, **k: L.linalg.matrix_norm(x, **k), _matrix_norm_cases,
               **{**_JACOBI, "draws": 0.5}, skip=(_NOT_DIFFERENTIABLE,),
               checks="ord fro, nuc, 1, -1, 2, -2, inf, -inf; dim; keepdim"),
        OpSpec("lumina.linalg.norm", lambda L, x, **k: L.linalg.norm(x, **k), _vector_norm_cases, ulps=8,
               accumulates=True, skip=(_NOT_DIFFERENTIABLE,),
               checks="vector norms by dim / ord; a 2-tuple dim is a matrix norm"),
        OpSpec("lumina.linalg.vecdot", lambda L, x, y: L.linalg.vecdot(x, y), _vecdot_cases, accumulates=True,
               dtypes=fl + INTS, checks="integer inputs raise"),
        OpSpec("lumina.linalg.cross", lambda L, x, y: L.linalg.cross(x, y), lambda d: _vecdot_cases(d, 3),
               dtypes=fl + INTS, checks="a dim without 3 entries raises"),
        OpSpec("lumina.linalg.matmul", lambda L, a, b: L.linalg.matmul(a, b),
               lambda d: _vecdot_cases(d), accumulates=True),
    ]
    return rows
