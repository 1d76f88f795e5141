"""torch's aliases and the function forms of Tensor methods (``lumina.tensor.functions``), the
vector and tensor products (``lumina.tensor.products``) and the NumPy-style stacking family
(``lumina.tensor.stacking``) against PyTorch CPU: values, dtypes and shapes, gradients against
torch's and float64 finite differences (``gradcheck.check``), eagerly and inside
``@lumina.compile``; errors are LuminaErrors naming the op. The harness rows
(``lumina/testing/torch_diff/ops/aliases.py``) draw many more cases.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from gradcheck import check
from lumina import LuminaShapeError, LuminaTraceError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(5)


def same(lo, to):
    """lumina's tensor equals torch's: shape, dtype name and values (NaN equal to NaN)."""
    assert tuple(lo.shape) == tuple(to.shape), (lo.shape, to.shape)
    assert lo.dtype.name == str(to.dtype).removeprefix("torch."), (lo.dtype, to.dtype)
    np.testing.assert_array_equal(lo.numpy(), to.detach().numpy())


def both(fn, *arrays, **kw):
    """``fn(library, *tensors, **kw)`` in lumina and torch."""
    return fn(lumina, *[lumina.tensor(a) for a in arrays], **kw), fn(torch, *[torch.tensor(a) for a in arrays], **kw)


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.5, 3.0], np.float32)
COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal"]


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_match_torch_with_nan_promotion_and_scalars(name):
    a, b = SPECIALS.reshape(-1, 1), SPECIALS.reshape(1, -1)
    same(*both(lambda L, x, y: getattr(L, name)(x, y), a, b))
    same(*both(lambda L, x, y: getattr(x, name)(y), a, b.astype(np.float64)))
    same(*both(lambda L, x: getattr(L, name)(x, 1), np.array([0, 1, 2], np.int32)))
    same(*both(lambda L, x: getattr(x, name)(0.5), np.array([0, 1, 2], np.int64)))


@pytest.mark.parametrize("name, target", [("divide", "div"), ("true_divide", "div"), ("multiply", "mul"),
                                          ("subtract", "sub")])
def test_arithmetic_aliases_are_their_targets(name, target):
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float32)
    same(*both(lambda L, x, y: getattr(L, name)(x, y), a, b))
    same(*both(lambda L, x, y: getattr(x, name)(y), a, b))
    ints = np.array([7, -7, 5], np.int64), np.array([2, 2, -3], np.int64)
    same(*both(lambda L, x, y: getattr(L, name)(x, y), *ints))
    check(lambda L, F, x, y: getattr(L, name)(x, y), a, b)


def test_divide_rounding_mode_and_subtract_alpha():
    a, b = np.array([7.5, -7.5, 3.0], np.float32), np.array([2.0, 2.0, -0.0], np.float32)
    for mode in (None, "trunc", "floor"):
        same(*both(lambda L, x, y: L.divide(x, y, rounding_mode=mode), a, b))
        same(*both(lambda L, x, y: x.divide(y, rounding_mode=mode), a, b))
    same(*both(lambda L, x, y: L.subtract(x, y, alpha=2), a, b))
    with pytest.raises(LuminaValueError, match="rounding_mode"):
        lumina.divide(lumina.tensor(a), 2.0, rounding_mode="bogus")
    with pytest.raises(LuminaTypeError, match="sub"):
        lumina.subtract(lumina.tensor([True]), lumina.tensor([False]))


@pytest.mark.parametrize("name", ["negative", "absolute", "fix"])
def test_unary_aliases(name):
    same(*both(lambda L, x: getattr(L, name)(x), SPECIALS))
    same(*both(lambda L, x: getattr(x, name)(), np.array([-3, 0, 4], np.int32)))
    check(lambda L, F, x: getattr(L, name)(x), RNG.standard_normal(5) + 0.1)


def test_swapaxes_swapdims_concat_broadcast_to():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    for name in ("swapaxes", "swapdims"):
        same(*both(lambda L, t: getattr(L, name)(t, 0, -1), x))
        same(*both(lambda L, t: getattr(t, name)(2, 1), x))
        check(lambda L, F, t: getattr(L, name)(t, 0, 2), x)
    for name in ("concat", "concatenate"):
        same(*both(lambda L, a, b: getattr(L, name)([a, b], dim=1), x, x.astype(np.float64)))
    same(*both(lambda L, t: L.broadcast_to(t, (5, 2, -1, 4)), x))
    with pytest.raises(LuminaShapeError):
        lumina.broadcast_to(lumina.tensor(x), (2, 3, 5))


def test_isclose_allclose_equal_is_nonzero():
    a = SPECIALS.reshape(-1, 1)
    b = (SPECIALS * (1 + 1e-6)).astype(np.float32).reshape(1, -1)
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.0, "atol": 0.0}, {"rtol": 1e-3, "atol": 1.0}):
        same(*both(lambda L, x, y: L.isclose(x, y, **kw), a, b))
        assert lumina.allclose(lumina.tensor(a), lumina.tensor(a), **kw) == torch.allclose(
            torch.tensor(a), torch.tensor(a), **kw)
    big = np.array([2 ** 24, 2 ** 53, 2 ** 62, -2 ** 63], np.int64)
    same(*both(lambda L, x, y: L.isclose(x, y, rtol=0, atol=0.5), big, big[::-1].copy() + 1))
    same(*both(lambda L, x, y: x.isclose(y), np.array([True, False]), np.array([True, True])))
    ints = np.array([1, 2], np.int64)
    for x, y in [(ints, ints.astype(np.float32)), (ints, ints[:1]), (SPECIALS, SPECIALS), (ints, ints + 1)]:
        assert lumina.equal(lumina.tensor(x), lumina.tensor(y)) == torch.equal(torch.tensor(x), torch.tensor(y))
    for v in (0.0, -0.0, 2.0, np.nan):
        assert lumina.is_nonzero(lumina.tensor([[v]])) == torch.is_nonzero(torch.tensor([[v]]))
    with pytest.raises(LuminaTypeError, match="isclose"):
        lumina.isclose(lumina.tensor([1.0]), lumina.tensor([1.0], dtype=lumina.float64))
    with pytest.raises(LuminaValueError, match="isclose"):
        lumina.isclose(lumina.tensor([1.0]), lumina.tensor([1.0]), rtol=-1.0)
    with pytest.raises(LuminaValueError, match="is_nonzero"):
        lumina.is_nonzero(lumina.tensor([1.0, 2.0]))
    with pytest.raises(LuminaValueError, match="is_nonzero"):
        lumina.tensor([]).is_nonzero()


def test_python_bool_results_raise_inside_compile():
    x = lumina.tensor([1.0, 2.0])
    for fn in (lambda t: lumina.allclose(t, t), lambda t: lumina.equal(t, t), lambda t: t[:1].is_nonzero()):
        with pytest.raises(LuminaTraceError):
            lumina.compile(lambda t: t * float(fn(t)))(x)


def test_aliases_inside_compile():
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    b = RNG.standard_normal((3, 4)).astype(np.float32)

    def f(L, x, y):
        return L.where(L.greater(x, y) | x.isclose(y), L.divide(x, 2.0), L.negative(y)).swapaxes(0, 1)
    got = lumina.compile(lambda x, y: f(lumina, x, y))(lumina.tensor(a), lumina.tensor(b))
    same(got, f(torch, torch.tensor(a), torch.tensor(b)))


# ---- products ---------------------------------------------------------------------------------------------------

PRODUCTS = [
    ("dot", lambda L, F, a, b: L.dot(a, b), [(5,), (5,)]),
    ("vdot", lambda L, F, a, b: a.vdot(b), [(5,), (5,)]),
    ("mv", lambda L, F, a, b: L.mv(a, b), [(3, 4), (4,)]),
    ("addmv", lambda L, F, i, a, b: L.addmv(i, a, b, beta=0.5, alpha=-2), [(1,), (3, 4), (4,)]),
    ("addr", lambda L, F, i, a, b: i.addr(a, b, alpha=3), [(3, 1), (3,), (4,)]),
    ("inner", lambda L, F, a, b: L.inner(a, b), [(2, 3, 4), (5, 4)]),
    ("inner0", lambda L, F, a, b: L.inner(a, b), [(), (2, 3)]),
    ("kron", lambda L, F, a, b: a.kron(b), [(2, 3), (4, 1, 2)]),
    ("kron0", lambda L, F, a, b: L.kron(a, b), [(), ()]),
    ("tensordot", lambda L, F, a, b: L.tensordot(a, b), [(2, 3, 4), (3, 4, 5)]),
    ("tensordot_lists", lambda L, F, a, b: L.tensordot(a, b, dims=([0, -1], [2, 0])), [(2, 3, 4), (4, 5, 2)]),
    ("tensordot_0", lambda L, F, a, b: L.tensordot(a, b, 0), [(2,), (3,)]),
]


@pytest.mark.parametrize("name, fn, shapes", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_values_and_gradients(name, fn, shapes):
    arrays = [np.asarray(RNG.standard_normal(s)) for s in shapes]
    check(fn, *arrays)
    f32 = [a.astype(np.float32) for a in arrays]
    lo, to = both(lambda L, *ts: fn(L, None, *ts), *f32)
    assert lo.dtype.name == "float32" and tuple(lo.shape) == tuple(to.shape)
    np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-5, atol=1e-5)
    ints = [np.asarray(RNG.integers(-5, 5, s)) for s in shapes]
    same(*both(lambda L, *ts: fn(L, None, *ts), *ints))
    compiled = lumina.compile(lambda *ts: fn(lumina, None, *ts))(*[lumina.tensor(a) for a in f32])
    np.testing.assert_allclose(compiled.numpy(), to.numpy(), rtol=1e-5, atol=1e-5)


def test_product_dtypes_and_errors():
    f, d = lumina.ones(3), lumina.ones(3, dtype=lumina.float64)
    for op in (lambda: lumina.dot(f, d), lambda: lumina.mv(lumina.ones(2, 3), d), lambda: lumina.inner(f, d),
               lambda: lumina.tensordot(f, d, 1), lambda: lumina.dot(f.bool(), f.bool())):
        with pytest.raises(LuminaTypeError):
            op()
    same(*both(lambda L, a, b: L.kron(a, b), np.ones(2, np.float32), np.ones(2, np.float64)))
    same(*both(lambda L, i, a, b: L.addr(i, a, b), np.ones((2, 2), np.float32), np.ones(2), np.ones(2)))
    for op, match in ((lambda: lumina.dot(f, lumina.ones(4)), "dot"), (lambda: lumina.dot(lumina.ones(1, 3), f), "dot"),
                      (lambda: lumina.mv(lumina.ones(2, 4), f), "mv"),
                      (lambda: lumina.inner(f, lumina.ones(4)), "inner"),
                      (lambda: lumina.tensordot(f, lumina.ones(4), 1), "tensordot"),
                      (lambda: lumina.tensordot(f, f, 2), "tensordot")):
        with pytest.raises(LuminaShapeError, match=match):
            op()


# ---- stacking ---------------------------------------------------------------------------------------------------

def test_stacks_match_torch():
    v, m, c = (RNG.standard_normal(s).astype(np.float32) for s in ((3,), (2, 3), (3, 1)))
    same(*both(lambda L, a, b: L.hstack([a, b]), v, v.astype(np.float64)))
    same(*both(lambda L, a, b: L.hstack((a, b)), c, c))
    same(*both(lambda L, a, b: L.vstack([a, b]), v, m))
    same(*both(lambda L, a, b: L.dstack([a, b]), m, m))
    same(*both(lambda L, a, b, s: L.column_stack([a, b, s]), v, c, np.full(3, 2.0, np.float32)))
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for shape in ((), (3,), (2, 3), (2, 3, 4)):
            same(*both(lambda L, a: getattr(L, name)(a), RNG.standard_normal(shape)))
        lo, to = both(lambda L, a, b: getattr(L, name)(a, b), v, m)
        assert isinstance(lo, tuple) and len(lo) == 2
        for a, b in zip(lo, to):
            same(a, b)
        lo, to = both(lambda L, a: getattr(L, name)([a]), v)
        assert isinstance(lo, tuple) and len(lo) == 1
    check(lambda L, F, a, b: L.vstack([a, b]), v.astype(np.float64), m.astype(np.float64))
    with pytest.raises(LuminaValueError, match="hstack"):
        lumina.hstack([])
    with pytest.raises(LuminaShapeError, match="cat"):
        lumina.vstack([lumina.ones(3), lumina.ones(4)])


@pytest.mark.parametrize("spec", [3, 1, 7, [1, 3], [-1], [3, 1, 9], [], "tensor0", "tensor1"])
def test_tensor_split_matches_torch(spec):
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    tensors = {"tensor0": (lambda L: L.tensor(2)), "tensor1": (lambda L: L.tensor([1, 3]))}
    arg = tensors[spec] if isinstance(spec, str) else (lambda L: spec)
    lo, to = both(lambda L, t: L.tensor_split(t, arg(L)), x)
    assert len(lo) == len(to)
    for a, b in zip(lo, to):
        same(a, b)
    for a, b in zip(*both(lambda L, t: t.tensor_split(arg(L), dim=-1), x)):
        same(a, b)
    check(lambda L, F, t: L.cat([p * (i + 1) for i, p in enumerate(L.tensor_split(t, 3, 1))], 1), x.astype(np.float64))


def test_tensor_split_errors_and_compile():
    with pytest.raises(LuminaShapeError, match="tensor_split"):
        lumina.tensor_split(lumina.tensor(1.0), 2)
    with pytest.raises(LuminaValueError, match="tensor_split"):
        lumina.tensor_split(lumina.ones(3), 0)
    got = lumina.compile(lambda t: lumina.tensor_split(t, [1, 2])[1] * 2)(lumina.arange(5.0))
    np.testing.assert_array_equal(got.numpy(), [2.0])


def test_broadcast_tensors_block_diag_rot90_flips():
    a, b = RNG.standard_normal((3, 1)), RNG.standard_normal((4,))
    for x, y in zip(*both(lambda L, p, q: L.broadcast_tensors(p, q), a, b)):
        same(x, y)
    with pytest.raises(LuminaShapeError):
        lumina.broadcast_tensors(lumina.ones(3), lumina.ones(4))
    blocks = [RNG.standard_normal(s) for s in ((2, 3), (), (4,), (1, 2))]
    same(*both(lambda L, *ts: L.block_diag(*ts), *blocks))
    same(*both(lambda L, p, q: L.block_diag(p, q), np.ones((2, 2), np.int32), np.ones(2, np.float32)))
    check(lambda L, F, *ts: L.block_diag(*ts), *blocks)
    with pytest.raises(LuminaShapeError, match="block_diag"):
        lumina.block_diag(lumina.ones(1, 1, 1))
    x = RNG.standard_normal((2, 3, 4))
    for k in range(-5, 6):
        for dims in ((0, 1), (2, 0), (-1, 1)):
            same(*both(lambda L, t: L.rot90(t, k, dims), x))
    same(*both(lambda L, t: t.rot90(), x))
    same(*both(lambda L, t: L.fliplr(t), x))
    same(*both(lambda L, t: t.flipud(), x[0, 0]))
    check(lambda L, F, t: L.rot90(t, 1, (1, 2)), x)
    for op, err in ((lambda: lumina.rot90(lumina.ones(3)), LuminaShapeError),
                    (lambda: lumina.rot90(lumina.ones(2, 2), 1, (0, 0)), LuminaValueError),
                    (lambda: lumina.rot90(lumina.ones(2, 2), 1, (0, 1, 1)), LuminaValueError),
                    (lambda: lumina.fliplr(lumina.ones(3)), LuminaShapeError),
                    (lambda: lumina.flipud(lumina.tensor(1.0)), LuminaShapeError)):
        with pytest.raises(err):
            op()


def test_block_diag_gradient_past_an_empty_block_by_finite_differences():
    """torch's backward misplaces the gradients of blocks after a [1, 0] block (it does not move
    its row offset past it); the reference here is the same matrix built from pads in torch."""
    def reference(L, F, a, e, c):
        rows = [F.pad(a.reshape(1, 1), (0, 1)), L.zeros(1, 2, dtype=a.dtype), F.pad(c.reshape(1, 1), (1, 0))]
        return L.cat(rows, 0)
    check(lambda L, F, a, e, c: L.block_diag(a, e, c), np.array(1.5), np.zeros(0), np.array(-2.0), wrt=[0, 2],
          torch_fn=reference)


def test_stacking_inside_compile():
    x = RNG.standard_normal((2, 3)).astype(np.float32)

    def f(L, t):
        return L.hstack([L.rot90(t, 1).T, L.fliplr(t)]) + L.block_diag(t, t)[:2, :3].sum() + L.atleast_3d(t).sum()
    got = lumina.compile(lambda t: f(lumina, t))(lumina.tensor(x))
    np.testing.assert_allclose(got.numpy(), f(torch, torch.tensor(x)).numpy(), rtol=1e-6)


# ---- summaries --------------------------------------------------------------------------------------------------

def test_nansum_nanmean_values_gradients_and_errors():
    x = np.array([[1.5, np.nan, -2.0], [np.nan, np.nan, np.nan], [0.5, 4.0, np.inf]], np.float32)
    for dim in (None, 0, 1, (0, 1)):
        same(*both(lambda L, t: L.nansum(t, dim), x))
        same(*both(lambda L, t: t.nanmean(dim, keepdim=True), x))
    same(*both(lambda L, t: L.nansum(t), np.array([[1, 2], [3, 4]], np.int32)))
    same(*both(lambda L, t: t.nansum(dtype=L.float64), x))
    finite = np.array([[1.5, np.nan, -2.0], [0.25, 1.0, np.nan]])
    check(lambda L, F, t: L.nansum(t, 1), finite)
    check(lambda L, F, t: L.nanmean(t, 0), finite)
    with pytest.raises(LuminaTypeError, match="nanmean"):
        lumina.nanmean(lumina.tensor([1, 2]))
    only_nan = lumina.tensor([[np.nan, np.nan], [1.0, np.nan]], requires_grad=True)
    lumina.nanmean(only_nan, 1).sum().backward()     # documented: 0 where torch's gradient is NaN
    np.testing.assert_array_equal(only_nan.grad.numpy(), [[0.0, 0.0], [1.0, 0.0]])


def test_var_mean_std_mean_as_torchs_welford_mean():
    rows = np.array([[np.inf, 1.0, 2.0], [1.0, 2.0, np.inf], [np.nan, 1.0, 1.0], [3e38, 3e38, 3e38], [1.0, 2.0, 4.0]],
                    np.float32)
    for name in ("var_mean", "std_mean"):
        for args, kw in (((1,), {}), ((1, False), {}), ((), {}), ((1,), {"correction": 0, "keepdim": True}),
                         ((True,), {})):
            lo, to = both(lambda L, t: getattr(L, name)(t, *args, **kw), rows)
            assert isinstance(lo, tuple) and len(lo) == 2
            for a, b in zip(lo, to):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
                assert a.dtype.name == "float32"
        check(lambda L, F, t: sum(getattr(L, name)(t, 1)), RNG.standard_normal((3, 4)))
    with pytest.raises(LuminaTypeError):
        lumina.var_mean(lumina.tensor([1, 2]))


def test_count_nonzero_and_diff():
    x = np.array([[0.0, -0.0, np.nan], [1.0, 0.0, -2.0]], np.float32)
    for dim in (None, 0, -1, (0, 1)):
        same(*both(lambda L, t: L.count_nonzero(t, dim), x))
    same(*both(lambda L, t: t.count_nonzero(), np.array([True, False, True])))
    v = RNG.standard_normal((3, 5))
    for n in (0, 1, 2, 7):
        same(*both(lambda L, t: L.diff(t, n), v))
    same(*both(lambda L, t, p, a: t.diff(2, 0, p, a), v, v[:1], v[:2]))
    same(*both(lambda L, t: L.diff(t), np.array([True, False, False, True])))
    same(*both(lambda L, t: L.diff(t, dim=0), np.array([[1, 5], [3, -2]], np.int32)))
    check(lambda L, F, t, p: L.diff(t, 2, -1, prepend=p), v, v[:, :2])
    with pytest.raises(LuminaShapeError, match="diff"):
        lumina.diff(lumina.tensor(1.0))
    with pytest.raises(LuminaShapeError, match="diff"):
        lumina.diff(lumina.ones(2, 3), prepend=lumina.ones(3))
    with pytest.raises(LuminaValueError, match="diff"):
        lumina.diff(lumina.ones(3), n=-1)


def test_summaries_inside_compile():
    x = np.array([[1.5, np.nan, -2.0], [0.5, 4.0, 3.0]], np.float32)

    def f(L, t):
        v, m = L.var_mean(L.nan_to_num(t), 1)
        return L.nansum(t, 0).sum() + L.nanmean(t) + L.diff(t, dim=0).nansum() + v.sum() + m.sum() + \
            L.count_nonzero(t).to(t.dtype)
    got = lumina.compile(lambda t: f(lumina, t))(lumina.tensor(x))
    np.testing.assert_allclose(got.numpy(), f(torch, torch.tensor(x)).numpy(), rtol=1e-6)


# ---- positions, conversions, dropout ----------------------------------------------------------------------------

def test_nonzero_argwhere_eager_and_refused_inside_compile():
    x = np.array([[0.0, np.nan, -0.0], [2.0, 0.0, 1.0]], np.float32)
    same(*both(lambda L, t: L.nonzero(t), x))
    same(*both(lambda L, t: t.argwhere(), x))
    for v in (np.array(0.0), np.array(3), x, np.zeros((2, 0))):
        for a, b in zip(*both(lambda L, t: L.nonzero(t, as_tuple=True), v)):
            same(a, b)
        same(*both(lambda L, t: t.nonzero(), v))
    for fn in (lambda t: lumina.nonzero(t), lambda t: t.argwhere(), lambda t: t.nonzero(as_tuple=True)[0]):
        with pytest.raises(LuminaTraceError, match="nonzero|argwhere"):
            lumina.compile(fn)(lumina.tensor(x))


def test_triangle_indices():
    for name in ("triu_indices", "tril_indices"):
        for args in ((3, 4), (4, 3, 1), (3, 3, -1), (0, 3), (2, 5, 9), (3, 2, -7)):
            same(*both(lambda L: getattr(L, name)(*args)))
        same(*both(lambda L: getattr(L, name)(3, 3, dtype=L.int32)))
        with pytest.raises(LuminaValueError, match=name):
            getattr(lumina, name)(-1, 3)
        with pytest.raises(LuminaTypeError, match=name):
            getattr(lumina, name)(3, 3, dtype=lumina.float32)
    got = lumina.compile(lambda t: t[tuple(lumina.triu_indices(3, 3))])(lumina.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(got.numpy(), [0, 1, 2, 4, 5, 8])


def test_as_tensor_asarray_scalar_tensor():
    t = lumina.tensor([1.0, 2.0], requires_grad=True)
    assert lumina.as_tensor(t) is t and lumina.asarray(t) is t
    assert lumina.as_tensor(t, dtype=lumina.float64).dtype is lumina.float64
    c = lumina.asarray(t, copy=True)
    assert c is not t and np.array_equal(c.numpy(), t.numpy())
    assert lumina.asarray([1.0], requires_grad=True).requires_grad
    with pytest.raises(LuminaValueError, match="asarray"):
        lumina.asarray([1.0, 2.0], copy=False)
    for data in ([1, 2], [1.5], 3, 2.5, True, np.arange(3, dtype=np.int32)):
        same(*both(lambda L: L.as_tensor(data)))
        same(*both(lambda L: L.asarray(data)))
    for s, dt in ((3, None), (True, None), (2.5, "int64"), (np.inf, "bool"), (0, "bool"), (1.5, "float64")):
        same(*both(lambda L: L.scalar_tensor(s, dtype=None if dt is None else getattr(L, dt))))


def test_top_level_dropout_forms():
    x = lumina.ones(1000)
    for fn in (lumina.dropout, lumina.alpha_dropout):
        np.testing.assert_array_equal(fn(x, 0.5, False).numpy(), np.ones(1000, np.float32))
    y = lumina.dropout(x, 0.25, True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)} and 0 < (y == 0).sum() < 1000
    z = lumina.alpha_dropout(x, 0.5, True).numpy()
    assert len(np.unique(z)) == 2


def test_square_clamp_bounds_select_softmax():
    same(*both(lambda L, t: L.square(t), SPECIALS))
    same(*both(lambda L, t: t.square(), np.array([True, False])))
    same(*both(lambda L, t: L.square(t), np.array([-3, 4], np.int32)))
    check(lambda L, F, t: L.square(t), RNG.standard_normal(4))
    for bound in (0.5, np.nan, -np.inf):
        same(*both(lambda L, t: L.clamp_min(t, bound), SPECIALS))
        same(*both(lambda L, t: t.clamp_max(bound), SPECIALS))
    same(*both(lambda L, t, b: L.clamp_min(t, b), SPECIALS.reshape(-1, 1), SPECIALS[:3]))
    same(*both(lambda L, t: L.clamp_max(t, 2.5), np.array([1, 5], np.int64)))
    check(lambda L, F, t: L.clamp_min(t, 0.1) + t.clamp_max(-0.2), RNG.standard_normal(6))
    x = RNG.standard_normal((2, 3, 4))
    for dim, index in ((0, 1), (-1, -4), (1, 2)):
        same(*both(lambda L, t: L.select(t, dim, index), x))
        same(*both(lambda L, t: t.select(dim, index), x))
    check(lambda L, F, t: L.select(t, 2, 1), x)
    with pytest.raises(lumina.LuminaIndexError, match="select"):
        lumina.select(lumina.tensor(x), 1, 3)
    with pytest.raises(lumina.LuminaIndexError, match="select"):
        lumina.tensor(1.0).select(0, 0)
    for name in ("softmax", "log_softmax"):
        lo, to = both(lambda L, t: getattr(L, name)(t, 1), x)
        np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-12)
        lo, to = both(lambda L, t: getattr(L, name)(t, -1, L.float32), x)
        assert lo.dtype is lumina.float32
        # both compute in float32, summing in their own orders: log_softmax's x - max - log(sum)
        # is off by an ulp or two of the log-sum-exp (up to about 4 here), however small the result
        np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-6, atol=1e-6)
        check(lambda L, F, t: getattr(L, name)(t, 0), x)
    got = lumina.compile(lambda t: lumina.softmax(t.select(0, 1).square(), -1).clamp_min(0.1))(lumina.tensor(x))
    want = torch.softmax(torch.tensor(x).select(0, 1).square(), -1).clamp_min(0.1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_in_place_functions_update_and_return_their_input():
    x = np.array([-2.0, np.nan, 0.5, 3.0], np.float32)
    for name, args in (("clamp_", (-1.0, 1.0)), ("clip_", (None, 0.0)), ("fill_", (7.0,)), ("zero_", ()),
                       ("index_put_", ((np.array([0, 2]),), np.array([5.0, 6.0], np.float32)))):
        lt, tt = lumina.tensor(x), torch.tensor(x)
        largs = [tuple(lumina.tensor(i) for i in a) if isinstance(a, tuple) else lumina.tensor(a)
                 if isinstance(a, np.ndarray) else a for a in args]
        targs = [tuple(torch.tensor(i) for i in a) if isinstance(a, tuple) else torch.tensor(a)
                 if isinstance(a, np.ndarray) else a for a in args]
        assert getattr(lumina, name)(lt, *largs) is lt
        getattr(torch, name)(tt, *targs)
        same(lt, tt)
    with pytest.raises(LuminaTypeError, match="zero_"):
        lumina.zero_([1.0, 2.0])
    leaf = lumina.tensor([1.0], requires_grad=True)
    with pytest.raises(lumina.LuminaGradError):
        lumina.fill_(leaf, 2.0)


@pytest.mark.parametrize("name, target", [("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh")])
def test_inverse_hyperbolic_aliases(name, target):
    x = np.array([np.nan, -np.inf, -2.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, np.inf], np.float32)
    for fn in (lambda L, t: getattr(L, name)(t), lambda L, t: getattr(t, name)()):
        lo, to = both(fn, x)
        np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=4e-7, equal_nan=True)
    np.testing.assert_array_equal(getattr(lumina, name)(lumina.tensor(x)).numpy(),
                                  getattr(lumina, target)(lumina.tensor(x)).numpy())
    y = lumina.tensor([1.5, 0.25])
    assert getattr(y, name + "_")() is y
    np.testing.assert_allclose(y.numpy(), getattr(torch, name)(torch.tensor([1.5, 0.25])).numpy(), rtol=4e-7)
    check(lambda L, F, t: getattr(L, name)(t), np.array([1.25, 1.5, 1.75]) if name == "arccosh" else
          np.array([-0.5, 0.25, 0.75]))


@pytest.mark.parametrize("name, args", [("divide_", (2.0,)), ("true_divide_", (4.0,)), ("multiply_", (3.0,)),
                                        ("subtract_", (1.5,)), ("negative_", ()), ("fix_", ()),
                                        ("clamp_min_", (0.0,)), ("clamp_max_", (0.5,))])
def test_in_place_alias_methods_values_and_gradients(name, args):
    a = np.array([-1.5, 2.25, -0.0, 0.75], np.float32)
    x, tx = lumina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = x * 1.0, tx * 1.0
    assert getattr(y, name)(*args) is y
    getattr(ty, name)(*args)
    same(y, ty)
    cot = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    (y * lumina.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    with pytest.raises(lumina.LuminaGradError):
        getattr(x, name)(*args)


def test_addmv_addr_in_place():
    i, m, v = RNG.standard_normal(3), RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    x, tx = lumina.tensor(i, requires_grad=True), torch.tensor(i, requires_grad=True)
    y, ty = x * 1.0, tx * 1.0
    assert y.addmv_(lumina.tensor(m), lumina.tensor(v), beta=0.5, alpha=2) is y
    ty.addmv_(torch.tensor(m), torch.tensor(v), beta=0.5, alpha=2)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    z, tz = lumina.ones(2, 2), torch.ones(2, 2)
    assert z.addr_(lumina.ones(2, dtype=lumina.float64), lumina.ones(2, dtype=lumina.float64), alpha=3) is z
    same(z, tz.addr_(torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), alpha=3))
    with pytest.raises(LuminaShapeError, match="addmv_"):
        lumina.ones(1).addmv_(lumina.ones(2, 3), lumina.ones(3))
