"""lumina.linalg against torch.linalg (PyTorch 2.13, CPU) on the same inputs: values, dtypes,
shapes, gradients (against torch and, in float64, against central finite differences), results
inside ``@lumina.compile`` against eager ones, and the errors. Where torch's result is not unique
(the signs of eigenvectors and singular vectors) invariants are compared instead. Matrices are
small (n <= 4) to keep the unrolled graphs quick to compile."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError

TOL = {"float32": 2e-5, "float64": 1e-11}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _close(mine, ref, dtype="float64", scale=1.0):
    mine = mine.numpy() if isinstance(mine, lumina.Tensor) else np.asarray(mine)
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert mine.shape == ref.shape, (mine.shape, ref.shape)
    assert str(mine.dtype) == str(ref.dtype), (mine.dtype, ref.dtype)
    np.testing.assert_allclose(mine, ref, rtol=TOL[dtype] * scale, atol=TOL[dtype] * scale)


def _pair(a, grad=False):
    """The same array as a lumina and a torch tensor."""
    return lumina.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _well_conditioned(shape, dtype, seed=0):
    n = shape[-1]
    return (_rng(seed).standard_normal(shape) + 2 * n * np.eye(n) * (_rng(seed + 1).integers(0, 2, shape[:-2] + (1, 1))
                                                                     * 2 - 1)).astype(dtype)


def _spd(shape, dtype, seed=0):
    x = _rng(seed).standard_normal(shape)
    return (x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def _grads(lfn, tfn, arrays, seed=3):
    """Gradients of ``sum(W * f(*inputs))`` (a random cotangent ``W`` per output) in lumina and torch."""
    ls, ts = zip(*(_pair(a, True) for a in arrays))
    lout, tout = lfn(*ls), tfn(*ts)
    lout = lout if isinstance(lout, tuple) else (lout,)
    tout = tout if isinstance(tout, tuple) else (tout,)
    rng = _rng(seed)
    ws = [rng.standard_normal(tuple(t.shape)) for t in tout]
    lsum = sum((lo * lumina.tensor(w.astype(arrays[0].dtype))).sum() for lo, w in zip(lout, ws))
    tsum = sum((to * torch.tensor(w.astype(arrays[0].dtype))).sum() for to, w in zip(tout, ws))
    lsum.backward()
    tsum.backward()
    return [x.grad for x in ls], [x.grad for x in ts], ws


def _check_grads(lfn, tfn, arrays, scale=1.0):
    lg, tg, _ = _grads(lfn, tfn, arrays)
    for a, b in zip(lg, tg):
        _close(a, b, str(arrays[0].dtype), scale)


def _finite_differences(lfn, arrays, eps=1e-6, seed=3):
    """lumina's gradient of ``sum(W * f(x))`` (float64) against central differences of a compiled ``f``."""
    xs = [lumina.tensor(a, requires_grad=True) for a in arrays]
    outs = _as_tuple(lfn(*xs))
    rng = _rng(seed)
    ws = [rng.standard_normal(o.shape) for o in outs]
    sum((o * lumina.tensor(w)).sum() for o, w in zip(outs, ws)).backward()
    f = lumina.compile(lambda *v: _as_tuple(lfn(*v)))

    def total(*vs):
        return sum(float((o.numpy() * w).sum()) for o, w in zip(f(*(lumina.tensor(v) for v in vs)), ws))
    for i, a in enumerate(arrays):
        fd = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            up, down = [x.copy() for x in arrays], [x.copy() for x in arrays]
            up[i][idx] += eps
            down[i][idx] -= eps
            fd[idx] = (total(*up) - total(*down)) / (2 * eps)
        np.testing.assert_allclose(xs[i].grad.numpy(), fd, rtol=1e-6, atol=1e-6)


def _as_tuple(x):
    return tuple(x) if isinstance(x, tuple) else (x,)


# ---- solve / inv / det / slogdet -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4)])
def test_inv_det_slogdet_match_torch(dtype, shape):
    a = _well_conditioned(shape, dtype)
    la, ta = _pair(a)
    _close(lumina.linalg.inv(la), torch.linalg.inv(ta), dtype, 10)
    _close(lumina.linalg.det(la), torch.linalg.det(ta), dtype, 10 * 4 ** shape[-1])
    s, l = lumina.linalg.slogdet(la)
    ts, tl = torch.linalg.slogdet(ta)
    _close(s, ts, dtype)
    _close(l, tl, dtype, 10)
    _close(lumina.det(la), torch.det(ta), dtype, 10 * 4 ** shape[-1])
    _close(lumina.inverse(la), torch.inverse(ta), dtype, 10)
    _close(lumina.slogdet(la)[1], torch.slogdet(ta)[1], dtype, 10)
    _close(lumina.logdet(la), torch.logdet(ta), dtype, 10)


@pytest.mark.parametrize("a_shape,b_shape,left", [((3, 3), (3, 2), True), ((3, 3), (3,), True),
                                                  ((2, 3, 3), (2, 3), True), ((2, 1, 3, 3), (4, 3, 2), True),
                                                  ((3, 3), (2, 3), False), ((2, 3, 3), (1, 4, 3), False)])
def test_solve_matches_torch(a_shape, b_shape, left):
    a = _well_conditioned(a_shape, "float64")
    b = _rng(5).standard_normal(b_shape)
    (la, ta), (lb, tb) = _pair(a), _pair(b)
    _close(lumina.linalg.solve(la, lb, left=left), torch.linalg.solve(ta, tb, left=left))
    _check_grads(lambda x, y: lumina.linalg.solve(x, y, left=left), lambda x, y: torch.linalg.solve(x, y, left=left),
                 [a, b], 10)


def test_det_and_inverse_gradients_match_torch_and_finite_differences():
    a = _well_conditioned((2, 3, 3), "float64", seed=7)
    _check_grads(lumina.linalg.det, torch.linalg.det, [a], 100)
    _check_grads(lumina.linalg.inv, torch.linalg.inv, [a], 10)
    _check_grads(lambda x: lumina.linalg.slogdet(x)[1], lambda x: torch.linalg.slogdet(x)[1], [a], 10)
    _finite_differences(lumina.linalg.det, [a[0]])
    _finite_differences(lumina.linalg.inv, [a[1]])


def test_singular_matrices_raise_as_torch_and_det_is_zero():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(torch.linalg.LinAlgError):
        torch.linalg.inv(torch.tensor(s))
    with pytest.raises(LuminaValueError, match="linalg.inv: the input matrix is singular"):
        lumina.linalg.inv(lumina.tensor(s)).numpy()
    with pytest.raises(LuminaValueError, match="linalg.solve: the input matrix is singular"):
        lumina.linalg.solve(lumina.tensor(s), lumina.tensor(np.ones(2))).numpy()
    compiled = lumina.compile(lambda x: lumina.linalg.inv(x) * 2)
    np.testing.assert_allclose(compiled(lumina.tensor(np.eye(2))).numpy(), 2 * np.eye(2))
    with pytest.raises(LuminaValueError, match="singular"):
        compiled(lumina.tensor(s)).numpy()
    _close(lumina.linalg.det(lumina.tensor(s)), torch.linalg.det(torch.tensor(s)))
    sign, logabs = lumina.linalg.slogdet(lumina.tensor(s))
    tsign, tlogabs = torch.linalg.slogdet(torch.tensor(s))
    assert sign.item() == tsign.item() == 0 and not math.copysign(1, sign.item()) < 0
    assert logabs.item() == tlogabs.item() == -math.inf


# ---- cholesky / qr ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_matches_torch(dtype, upper):
    a = _spd((2, 4, 4), dtype)
    junk = np.full_like(a, 7.0)                 # the other triangle is not read
    la, ta = _pair(np.triu(a) + np.tril(junk, -1) if upper else np.tril(a) + np.triu(junk, 1))
    _close(lumina.linalg.cholesky(la, upper=upper), torch.linalg.cholesky(ta, upper=upper), dtype, 10)


def test_cholesky_gradients_and_not_positive_definite():
    x = _rng(2).standard_normal((3, 3))
    spd = lambda L: lambda v: L.linalg.cholesky(v @ v.transpose(-2, -1) + 3 * L.eye(3, dtype=L.float64))  # noqa: E731
    _check_grads(spd(lumina), spd(torch), [x], 10)
    _finite_differences(spd(lumina), [x])
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(torch.linalg.LinAlgError):
        torch.linalg.cholesky(torch.tensor(bad))
    with pytest.raises(LuminaValueError, match="not positive-definite"):
        lumina.linalg.cholesky(lumina.tensor(bad)).numpy()
    with pytest.raises(LuminaValueError, match="not positive-definite"):
        lumina.compile(lumina.linalg.cholesky)(lumina.tensor(bad)).numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2), (1, 1), (0, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_matches_lapack(dtype, shape, mode):
    """Householder with LAPACK's conventions: Q and R equal torch's, signs included."""
    a = _rng(4).standard_normal(shape).astype(dtype)
    la, ta = _pair(a)
    (q, r), (tq, tr) = lumina.linalg.qr(la, mode), torch.linalg.qr(ta, mode)
    _close(q, tq, dtype, 10)
    _close(r, tr, dtype, 10)


def test_qr_gradients():
    a = _rng(6).standard_normal((4, 3))
    _check_grads(lambda x: lumina.linalg.qr(x), lambda x: torch.linalg.qr(x), [a], 10)
    _finite_differences(lambda x: lumina.linalg.qr(x), [a[:3]])


# ---- eigh / svd ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh_matches_torch(dtype, UPLO):
    x = _rng(8).standard_normal((2, 3, 3))
    a = (x + np.swapaxes(x, -1, -2)).astype(dtype)
    a[..., 0, 2] += 5 if UPLO == "L" else 0      # only one triangle is read
    la, ta = _pair(a)
    w, v = lumina.linalg.eigh(la, UPLO)
    tw, tv = torch.linalg.eigh(ta, UPLO)
    _close(w, tw, dtype, 10)
    _close(lumina.linalg.eigvalsh(la, UPLO), tw, dtype, 10)
    _close(abs(v), tv.abs(), dtype, 100)         # each column's sign is arbitrary
    sym = torch.tensor(a).tril() + torch.tensor(a).tril(-1).mT if UPLO == "L" else \
        torch.tensor(a).triu() + torch.tensor(a).triu(1).mT
    _close((v * w.unsqueeze(-2)) @ v.transpose(-2, -1), sym, dtype, 10)


def test_eigh_gradients():
    x = _rng(9).standard_normal((3, 3))
    sym = lambda f: lambda v: f(v + v.transpose(-2, -1))   # noqa: E731
    _check_grads(sym(lumina.linalg.eigvalsh), sym(torch.linalg.eigvalsh), [x], 100)
    # V * V does not depend on the columns' signs
    _check_grads(sym(lambda a: lumina.linalg.eigh(a)[1] ** 2), sym(lambda a: torch.linalg.eigh(a)[1] ** 2), [x], 1e3)
    _finite_differences(sym(lumina.linalg.eigvalsh), [x])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,full_matrices", [((3, 3), True), ((4, 2), True), ((4, 2), False), ((2, 2, 4), True),
                                                  ((2, 2, 4), False), ((3, 0), True)])
def test_svd_matches_torch(dtype, shape, full_matrices):
    a = _rng(10).standard_normal(shape).astype(dtype)
    la, ta = _pair(a)
    u, s, vh = lumina.linalg.svd(la, full_matrices)
    tu, ts, tvh = torch.linalg.svd(ta, full_matrices)
    assert (u.shape, s.shape, vh.shape) == (tuple(tu.shape), tuple(ts.shape), tuple(tvh.shape))
    _close(s, ts, dtype, 10)
    _close(lumina.linalg.svdvals(la), ts, dtype, 10)
    k = min(shape[-2:])
    _close((u[..., :k] * s.unsqueeze(-2)) @ vh[..., :k, :], ta, dtype, 10)
    _close(u.transpose(-2, -1) @ u, torch.eye(u.shape[-1], dtype=ta.dtype).expand(tu.mT.shape[:-1] + (u.shape[-1],)),
           dtype, 10)
    _close(vh @ vh.transpose(-2, -1), torch.eye(vh.shape[-2], dtype=ta.dtype).expand(tvh.shape[:-1] + (vh.shape[-2],)),
           dtype, 10)
    # the singular vectors of distinct singular values are unique up to sign (a completion is not)
    _close(abs(vh[..., :k, :]), tvh[..., :k, :].abs(), dtype, 100)
    _close(abs(u[..., :k]), tu[..., :k].abs(), dtype, 100)


def test_svd_of_rank_deficient_matrices_has_orthonormal_factors():
    a = np.zeros((2, 3, 3))
    a[1] = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])
    u, s, vh = lumina.linalg.svd(lumina.tensor(a))
    _close(s, torch.linalg.svdvals(torch.tensor(a)))
    for f in (u, vh):
        _close(f @ f.transpose(-2, -1), torch.eye(3, dtype=torch.float64).expand(2, 3, 3))
    _close((u * s.unsqueeze(-2)) @ vh, a)


def test_svd_gradients():
    a = _rng(11).standard_normal((3, 2))
    _check_grads(lumina.linalg.svdvals, torch.linalg.svdvals, [a], 100)
    invariant = lambda L: lambda x: tuple(f ** 2 for f in L.linalg.svd(x, full_matrices=False)[::2])  # noqa: E731
    _check_grads(invariant(lumina), invariant(torch), [a], 1e3)
    _finite_differences(lumina.linalg.svdvals, [a])


# ---- norms and products ----------------------------------------------------------------------------
@pytest.mark.parametrize("ord", [2, 1, 0, 3, 0.5, -1, math.inf, -math.inf])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, True), ((0, 2), False)])
def test_vector_norm_matches_torch(ord, dim, keepdim):
    x = _rng(12).standard_normal((2, 3, 4))
    x[0, 1] = 0.0
    lx, tx = _pair(x)
    _close(lumina.linalg.vector_norm(lx, ord, dim, keepdim), torch.linalg.vector_norm(tx, ord, dim, keepdim))
    lx32, tx32 = _pair(x.astype("float32"))
    _close(lumina.linalg.vector_norm(lx32, ord, dim, keepdim, dtype=lumina.float64),
           torch.linalg.vector_norm(tx32, ord, dim, keepdim, dtype=torch.float64), "float32")
    with pytest.raises(RuntimeError):
        torch.linalg.vector_norm(tx, ord, dim, keepdim, dtype=torch.float32)
    with pytest.raises(LuminaTypeError, match="narrowing"):
        lumina.linalg.vector_norm(lx, ord, dim, keepdim, dtype=lumina.float32)
    if ord != 0:
        f = lambda L: lambda v: L.linalg.vector_norm(v, ord, dim, keepdim)  # noqa: E731
        _check_grads(f(lumina), f(torch), [x])


def test_vector_norm_gradient_at_zero_is_zero_as_torch():
    for ord in (2, 3, 1):
        _check_grads(lambda v: lumina.linalg.vector_norm(v, ord), lambda v: torch.linalg.vector_norm(v, ord),
                     [np.zeros(3)])


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True)])
def test_matrix_norm_and_norm_match_torch(ord, dim, keepdim):
    x = _rng(13).standard_normal((3, 2, 3))
    lx, tx = _pair(x)
    _close(lumina.linalg.matrix_norm(lx, ord, dim, keepdim), torch.linalg.matrix_norm(tx, ord, dim, keepdim))
    _close(lumina.linalg.norm(lx, ord, dim, keepdim), torch.linalg.norm(tx, ord, dim, keepdim))
    _close(lumina.linalg.norm(lx[0], ord), torch.linalg.norm(tx[0], ord))
    f = lambda L: lambda v: L.linalg.matrix_norm(v, ord, dim, keepdim)  # noqa: E731
    _check_grads(f(lumina), f(torch), [x], 100)


def test_norm_dispatch_matches_torch():
    x = _rng(14).standard_normal((2, 3, 4))
    lx, tx = _pair(x)
    _close(lumina.linalg.norm(lx), torch.linalg.norm(tx))
    _close(lumina.linalg.norm(lx, 3, 1), torch.linalg.norm(tx, 3, 1))
    _close(lumina.linalg.norm(lx[0, 0], math.inf), torch.linalg.norm(tx[0, 0], math.inf))
    with pytest.raises(RuntimeError):
        torch.linalg.norm(tx, 2)
    with pytest.raises(LuminaShapeError, match="linalg.norm"):
        lumina.linalg.norm(lx, 2)


def test_vecdot_cross_matmul_match_torch():
    a, b = _rng(15).standard_normal((2, 1, 3)), _rng(16).standard_normal((1, 4, 3))
    for name in ("vecdot", "cross", "matmul"):
        y = b.swapaxes(1, 2) if name == "matmul" else b
        f = lambda L: lambda u, v: getattr(L.linalg, name)(u, v)  # noqa: E731
        _close(f(lumina)(*(lumina.tensor(t) for t in (a, y))), f(torch)(*(torch.tensor(t) for t in (a, y))))
        _check_grads(f(lumina), f(torch), [a, y])
    _close(lumina.linalg.cross(*(lumina.tensor(t) for t in (a.swapaxes(1, 2), b.swapaxes(1, 2))), dim=1),
           torch.linalg.cross(*(torch.tensor(t) for t in (a.swapaxes(1, 2), b.swapaxes(1, 2))), dim=1))
    ints = np.arange(6).reshape(2, 3)
    _close(lumina.linalg.cross(lumina.tensor(ints), lumina.tensor(ints[::-1].copy())),
           torch.linalg.cross(torch.tensor(ints), torch.tensor(ints[::-1].copy())))


# ---- compile and errors ----------------------------------------------------------------------------
def test_every_op_runs_inside_compile_as_eagerly():
    a = _spd((2, 2, 2), "float64")
    ops = [lambda x: lumina.linalg.inv(x), lambda x: lumina.linalg.det(x), lambda x: lumina.linalg.slogdet(x)[1],
           lambda x: lumina.linalg.solve(x, x[..., 0]), lambda x: lumina.linalg.cholesky(x),
           lambda x: lumina.linalg.qr(x)[0], lambda x: lumina.linalg.eigvalsh(x), lambda x: lumina.linalg.svdvals(x),
           lambda x: lumina.linalg.matrix_norm(x, 2), lambda x: lumina.linalg.vector_norm(x, 3),
           lambda x: lumina.linalg.eigh(x)[1].abs(), lambda x: lumina.linalg.svd(x)[0].abs()]
    for op in ops:
        _close(lumina.compile(op)(lumina.tensor(a)), op(lumina.tensor(a)).numpy())


def test_errors_name_the_op_and_the_input():
    good = lumina.tensor(np.eye(3))
    cases = [
        (LuminaShapeError, "linalg.inv: A must be batches of square", lambda: lumina.linalg.inv(lumina.zeros(2, 3))),
        (LuminaShapeError, "at least 2 dimensions", lambda: lumina.linalg.det(lumina.zeros(3))),
        (LuminaTypeError, "float32 or float64", lambda: lumina.linalg.cholesky(lumina.tensor([[1, 0], [0, 1]]))),
        (LuminaValueError, "up to 16x16", lambda: lumina.linalg.eigh(lumina.zeros(17, 17))),
        (LuminaValueError, "UPLO", lambda: lumina.linalg.eigh(good, "X")),
        (LuminaValueError, "unrecognized mode", lambda: lumina.linalg.qr(good, "full")),
        (LuminaTypeError, "same dtype", lambda: lumina.linalg.solve(good, lumina.ones(3))),
        (LuminaShapeError, "incompatible shapes",
         lambda: lumina.linalg.solve(good, lumina.ones(4, dtype=lumina.float64))),
        (LuminaValueError, "Order 3 not supported", lambda: lumina.linalg.matrix_norm(good, 3)),
        (LuminaTypeError, "floating point", lambda: lumina.linalg.vector_norm(lumina.tensor([1, 2]))),
        (LuminaShapeError, "length 3", lambda: lumina.linalg.cross(lumina.ones(2), lumina.ones(2))),
        (LuminaTypeError, "must be a Tensor", lambda: lumina.linalg.inv(np.eye(2))),
    ]
    for kind, text, call in cases:
        with pytest.raises(kind, match=text):
            call()
        assert issubclass(kind, LuminaError)


def test_result_shapes_are_known_when_recorded():
    """Every result's shape is known as the op is recorded (nothing waits for values)."""
    with lumina.no_grad():
        u, s, vh = lumina.linalg.svd(lumina.zeros(4, 3, dtype=lumina.float64), full_matrices=False)
    assert (u.shape, s.shape, vh.shape) == ((4, 3), (3,), (3, 3))
