"""The composite ops the ONNX importer shares with ``Tensor``: ``einsum``, ``topk``, ``flip``, ``prod``,
``cumprod``, ``logsumexp``, ``tile`` / ``repeat``, ``scatter`` / ``scatter_add`` / ``scatter_reduce``
(and their in-place forms), ``eye``, ``triu`` / ``tril``, ``floor`` / ``ceil`` / ``trunc`` /
``round`` / ``sign``, the piecewise activations of ``F`` (``elu``, ``selu``, ``celu``,
``leaky_relu``, ``softplus``, ``hardsigmoid``, ``hardswish``, ``silu``, ``mish``, ``softsign``,
``threshold``), ``F.one_hot``, ``F.pixel_shuffle`` / ``F.pixel_unshuffle`` and ``gather``.

Every forward is compared with PyTorch CPU (values, dtypes, shapes), every gradient torch gives
with torch's and with float64 finite differences (``gradcheck.check``); errors are LuminaError
subclasses naming the op; hypothesis checks einsum, topk and scatter_add over shapes.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumina
import lumina.nn.functional as F
from gradcheck import check
from lumina import (LuminaIndexError, LuminaShapeError, LuminaTraceError, LuminaTypeError, LuminaValueError)

RNG = np.random.default_rng(5)
PROPS = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def arr(*shape):
    return RNG.standard_normal(shape)


def same(lo, to, exact=True, rtol=2e-6):
    """lumina's tensor equals torch's: shape, dtype name, values (NaN equal to NaN; within ``rtol``
    unless ``exact``)."""
    assert tuple(lo.shape) == tuple(to.shape), (lo.shape, to.shape)
    assert lo.dtype.name == str(to.dtype).removeprefix("torch."), (lo.dtype, to.dtype)
    a, b = lo.numpy(), to.detach().numpy()
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol / 2, equal_nan=True)


# ---- einsum ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->ji", [(2, 3)]),
    ("i,j", [(2,), (3,)]),
    ("...ij,...jk", [(5, 2, 3), (3, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("ij,ij->ij", [(2, 1), (1, 3)]),
    ("Ba,aB", [(2, 3), (3, 2)]),
])
def test_einsum_matches_torch_with_gradients(equation, shapes):
    xs = [arr(*s) for s in shapes]
    check(lambda L, F_, *ts: L.einsum(equation, *ts), *xs)


def test_einsum_forms_and_dtypes():
    a, b = arr(2, 3).astype(np.float32), arr(3, 4).astype(np.float32)
    la, lb, ta, tb = lumina.tensor(a), lumina.tensor(b), torch.tensor(a), torch.tensor(b)
    same(lumina.einsum("ij,jk", [la, lb]), torch.einsum("ij,jk", [ta, tb]), exact=False)     # one list
    same(lumina.einsum(la, [0, 1], lb, [1, 2], [0, 2]), torch.einsum(ta, [0, 1], tb, [1, 2], [0, 2]), exact=False)
    ints = [np.arange(6, dtype=np.int32).reshape(2, 3), np.arange(3, dtype=np.int32)]
    for eq in ("ij,j->i", "ij->", "i,i"):   # torch's int32 einsum gives int64 where it sums one operand
        ops = ints if eq != "i,i" else [ints[1], ints[1][:1]]
        ops = ops if eq != "ij->" else ops[:1]
        same(lumina.einsum(eq, *map(lumina.tensor, ops)), torch.einsum(eq, *map(torch.tensor, ops)))
    h = arr(2, 3).astype(np.float16)
    same(lumina.einsum("ij,kj->ik", lumina.tensor(h), lumina.tensor(h)),
         torch.einsum("ij,kj->ik", torch.tensor(h), torch.tensor(h)), exact=False)


@pytest.mark.parametrize("equation, shapes, error, message", [
    ("ij,jk->ik", [(2, 3), (4, 5)], LuminaShapeError, "subscript 'j' has sizes 3 and 4"),
    ("ijk->i", [(2, 3)], LuminaShapeError, "has 3 labels for an input of rank 2"),
    ("ij->jj", [(2, 2)], LuminaValueError, "appears more than once"),
    ("ij->k", [(2, 2)], LuminaValueError, "does not appear"),
    ("ij", [(2, 2), (2,)], LuminaValueError, "2 operand"),
    ("i1->i", [(2,)], LuminaValueError, "only letters"),
])
def test_einsum_errors_name_the_op(equation, shapes, error, message):
    with pytest.raises(error, match=f"einsum: .*{message}"):
        lumina.einsum(equation, *(lumina.tensor(arr(*s)) for s in shapes))
    with pytest.raises(Exception):   # torch refuses each too
        torch.einsum(equation, *(torch.tensor(arr(*s)) for s in shapes))
    with pytest.raises(LuminaTypeError, match="einsum: operands must have one dtype"):
        lumina.einsum("i,i", lumina.tensor([1.0]), lumina.tensor([1.0], dtype=lumina.float64))


_LABELS = "abcd"


@st.composite
def _einsum_problem(draw):
    """Two operands over labels a-d (sizes 0-3), a random output of labels seen."""
    size = {c: draw(st.integers(0, 3)) for c in _LABELS}
    terms = [draw(st.lists(st.sampled_from(_LABELS), min_size=0, max_size=3, unique=True)) for _ in range(2)]
    seen = sorted(set(terms[0]) | set(terms[1]))
    out = draw(st.permutations(seen))[:draw(st.integers(0, len(seen)))]
    eq = ",".join("".join(t) for t in terms) + "->" + "".join(out)
    return eq, [tuple(size[c] for c in t) for t in terms]


@PROPS
@given(_einsum_problem())
def test_einsum_property_against_numpy(problem):
    equation, shapes = problem
    xs = [RNG.standard_normal(s) for s in shapes]
    got = lumina.einsum(equation, *(lumina.tensor(x) for x in xs))
    np.testing.assert_allclose(got.numpy(), np.einsum(equation, *xs), rtol=1e-10, atol=1e-12)


# ---- topk -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("k, dim, largest", [(2, -1, True), (3, 0, False), (1, 1, True), (20, -1, True),
                                              (0, 0, True)])
def test_topk_matches_torch_with_gradients(k, dim, largest):
    x = RNG.permutation(4 * 25).reshape(4, 25) * 0.5   # distinct: torch's order of ties is unspecified
    check(lambda L, F_, t: L.topk(t, k, dim, largest).values, x)
    got = lumina.tensor(x).topk(k, dim, largest)
    want = torch.tensor(x).topk(k, dim, largest)
    assert type(got).__name__ == "topk" and got._fields == ("values", "indices")
    same(got.values, want.values)
    same(got.indices, want.indices)


def test_topk_nan_ranks_highest_and_ties_go_by_index():
    x = np.array([1.0, np.nan, 3.0, 3.0, -np.inf, 2.0], np.float32)
    v, i = lumina.topk(lumina.tensor(x), 3)
    np.testing.assert_array_equal(v.numpy(), [np.nan, 3.0, 3.0])
    np.testing.assert_array_equal(i.numpy(), [1, 2, 3])
    v, i = lumina.topk(lumina.tensor(x), 6, largest=False)     # NaN last; the ranked path for k > 16 too
    np.testing.assert_array_equal(i.numpy(), [4, 0, 5, 2, 3, 1])
    tv, ti = torch.tensor(x).topk(6, largest=False)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    ints = lumina.tensor(np.array([[5, -1, 7], [2, 2, 0]], np.int32))
    same(ints.topk(2).values, torch.tensor(np.array([[5, -1, 7], [2, 2, 0]], np.int32)).topk(2).values)


def test_topk_errors():
    with pytest.raises(LuminaIndexError, match=r"topk: selected index k=4 out of range for dim 1 of size 3"):
        lumina.tensor(arr(2, 3)).topk(4)
    with pytest.raises(LuminaIndexError, match="topk: dim 2 out of range"):
        lumina.tensor(arr(2, 3)).topk(1, dim=2)
    with pytest.raises(LuminaTypeError, match="topk: bool inputs"):
        lumina.tensor([True, False]).topk(1)


@PROPS
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data())
def test_topk_property_against_torch(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[dim]))
    largest = data.draw(st.booleans())
    x = RNG.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32)
    got = lumina.topk(lumina.tensor(x), k, dim, largest)
    want = torch.topk(torch.tensor(x), k, dim, largest)
    same(got.values, want.values)
    same(got.indices, want.indices)
    same(lumina.gather(lumina.tensor(x), dim, got.indices), want.values)


# ---- flip, tile, repeat, triu / tril, eye ----------------------------------------------------------

@pytest.mark.parametrize("dims", [(0,), (1, -1), (0, 1, 2), ()])
def test_flip_matches_torch_with_gradients(dims):
    x = arr(2, 3, 4)
    check(lambda L, F_, t: L.flip(t, dims), x)
    same(lumina.tensor(x).flip(*dims) if dims else lumina.flip(lumina.tensor(x), dims),
         torch.tensor(x).flip(dims))
    with pytest.raises(LuminaValueError, match="flip: dim"):
        lumina.tensor(x).flip(0, 0)


@pytest.mark.parametrize("reps", [(2,), (2, 1), (1, 2, 3), (0, 2), ()])
def test_tile_and_repeat_match_torch(reps):
    x = arr(2, 3)
    check(lambda L, F_, t: L.tile(t, reps), x)
    same(lumina.tensor(x).tile(reps), torch.tensor(x).tile(reps))
    if len(reps) >= 2:
        same(lumina.tensor(x).repeat(*reps), torch.tensor(x).repeat(*reps))
    ints = np.arange(6, dtype=np.int32).reshape(2, 3)
    same(lumina.tensor(ints).tile(reps), torch.tensor(ints).tile(reps))


def test_tile_and_repeat_errors():
    with pytest.raises(LuminaValueError, match="repeat: 1 repeat counts"):
        lumina.tensor(arr(2, 3)).repeat(2)
    with pytest.raises(LuminaValueError, match="tile: repeat counts .* negative size"):
        lumina.tile(lumina.tensor(arr(2, 3)), (-1, 1))
    y = lumina.tensor(arr(2, 3)).tile((2, 1))
    y.add_(1.0)   # a copy, as torch's: an in-place update is allowed


@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_triu_tril_match_torch(diagonal):
    x = arr(2, 3, 4)
    check(lambda L, F_, t: L.triu(t, diagonal) + 2.0 * L.tril(t, diagonal), x)
    same(lumina.tensor(x).triu(diagonal), torch.tensor(x).triu(diagonal))
    with pytest.raises(LuminaValueError, match="tril: input tensor must have at least 2 dimensions"):
        lumina.tril(lumina.tensor(arr(3)))


@pytest.mark.parametrize("args, dtype", [((3,), None), ((2, 4), None), ((3, 2), lumina.int32), ((2,), lumina.bool),
                                         ((0, 2), lumina.float64)])
def test_eye_matches_torch(args, dtype):
    tdt = None if dtype is None else getattr(torch, dtype.name)
    same(lumina.eye(*args, dtype=dtype), torch.eye(*args, dtype=tdt))
    with pytest.raises(LuminaValueError, match="eye: n must be greater or equal to 0"):
        lumina.eye(-1)


# ---- prod, cumprod, logsumexp ----------------------------------------------------------------------

@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (-1, True), (1, False)])
def test_prod_matches_torch_with_gradients(dim, keepdim):
    x = arr(3, 4, 5)
    x[1, 2, 3] = 0.0    # one zero: the gradient is the product of the others
    x[2, 1, :2] = 0.0   # two zeros in a slice
    fn = (lambda L, F_, t: L.prod(t)) if dim is None else (lambda L, F_, t: L.prod(t, dim, keepdim))
    check(fn, x)


def test_prod_dtypes_follow_torch():
    for data in (np.array([[1, 2], [3, -4]], np.int32), np.array([[True, False], [True, True]]),
                 np.array([[1.5, 2.0], [3.0, -4.0]], np.float16), np.array([[2**40, 2**40]], np.int64)):
        same(lumina.tensor(data).prod(), torch.tensor(data).prod())
        same(lumina.tensor(data).prod(0), torch.tensor(data).prod(0))
    x = arr(2, 3)
    same(lumina.prod(lumina.tensor(x), 1, dtype=lumina.float32), torch.prod(torch.tensor(x), 1, dtype=torch.float32),
         exact=False)
    same(lumina.tensor(np.ones((2, 0))).prod(1), torch.ones(2, 0, dtype=torch.float64).prod(1))
    with pytest.raises(LuminaTypeError, match="prod: dim must be one int"):
        lumina.tensor(arr(2, 3)).prod((0, 1))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_matches_torch_with_gradients(dim):
    x = arr(3, 40)    # longer than a few levels of the log-depth scan
    x[1, 5] = 0.0
    check(lambda L, F_, t: L.cumprod(t, dim), x)
    ints = np.array([[1, -2, 3], [4, 0, 2]], np.int32)
    same(lumina.tensor(ints).cumprod(dim), torch.tensor(ints).cumprod(dim))


def test_logsumexp_matches_torch():
    x = arr(3, 4)
    check(lambda L, F_, t: L.logsumexp(t, (0, 1)) + L.logsumexp(t, 1, keepdim=True).sum(), x)
    special = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [np.nan, 1.0], [1e38, 1e38]], np.float32)
    same(lumina.tensor(special).logsumexp(1), torch.tensor(special).logsumexp(1))
    same(lumina.tensor(np.array([1, 2, 3])).logsumexp(0), torch.tensor([1, 2, 3]).logsumexp(0), exact=False)


# ---- scatter ---------------------------------------------------------------------------------------

def _index(shape, dim, n, distinct):
    """An int64 index of ``shape`` into a dim of size ``n``; ``distinct`` along ``dim``."""
    if not distinct:
        return RNG.integers(0, n, size=shape)
    moved = list(shape[:dim]) + list(shape[dim + 1:])
    lines = [RNG.permutation(n)[:shape[dim]] for _ in range(int(np.prod(moved)))]
    return np.moveaxis(np.array(lines).reshape(moved + [shape[dim]]), -1, dim)


@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_matches_torch_with_gradients(dim):
    x, src = arr(3, 4), arr(2, 3)
    index = _index((2, 3), dim, x.shape[dim], distinct=True)   # a block of x, distinct along dim
    check(lambda L, F_, t, s: L.scatter(t, dim, L.tensor(index), s), x, src,
          torch_fn=lambda L, F_, t, s: t.scatter(dim, torch.tensor(index), s))
    same(lumina.tensor(x).scatter(dim, lumina.tensor(index), 7.5),
         torch.tensor(x).scatter(dim, torch.tensor(index), 7.5))
    big = arr(3, 5)   # src larger than the index: its leading block is read (torch cannot differentiate this)
    same(lumina.tensor(x).scatter(dim, lumina.tensor(index), lumina.tensor(big)),
         torch.tensor(x).scatter(dim, torch.tensor(index), torch.tensor(big)))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch_with_gradients(reduce, include_self):
    x, src = arr(4, 3), arr(6, 3)
    index = RNG.integers(0, 4, size=(6, 3))             # repeated indices fold together
    check(lambda L, F_, t, s: L.scatter_reduce(t, 0, L.tensor(index), s, reduce, include_self=include_self),
          x, src, torch_fn=lambda L, F_, t, s: t.scatter_reduce(0, torch.tensor(index), s, reduce,
                                                                include_self=include_self))
    ints = RNG.integers(-9, 9, size=(4, 3))
    isrc = RNG.integers(-9, 9, size=(6, 3))
    same(lumina.tensor(ints).scatter_reduce(0, lumina.tensor(index), lumina.tensor(isrc), reduce,
                                            include_self=include_self),
         torch.tensor(ints).scatter_reduce(0, torch.tensor(index), torch.tensor(isrc), reduce,
                                           include_self=include_self))


def test_scatter_add_and_in_place_forms():
    x, src = arr(3, 4), arr(3, 4)
    index = RNG.integers(0, 3, size=(3, 4))
    check(lambda L, F_, t, s: L.scatter_add(t, 0, L.tensor(index), s), x, src,
          torch_fn=lambda L, F_, t, s: t.scatter_add(0, torch.tensor(index), s))
    lx, tx = lumina.tensor(x), torch.tensor(x)
    assert lx.scatter_add_(0, lumina.tensor(index), lumina.tensor(src)) is lx
    tx.scatter_add_(0, torch.tensor(index), torch.tensor(src))
    same(lx, tx, exact=False)
    lx.scatter_(1, lumina.tensor(index[:, :1]), 0.0)
    tx.scatter_(1, torch.tensor(index[:, :1]), 0.0)
    same(lx, tx, exact=False)
    lx.scatter_reduce_(0, lumina.tensor(index), lumina.tensor(src), "amax", include_self=False)
    tx.scatter_reduce_(0, torch.tensor(index), torch.tensor(src), "amax", include_self=False)
    same(lx, tx, exact=False)
    leaf = lumina.tensor(x, requires_grad=True)
    with pytest.raises(lumina.LuminaGradError):
        leaf.scatter_(0, lumina.tensor(index), lumina.tensor(src))


def test_scatter_errors_name_the_op():
    x = lumina.tensor(arr(3, 4))
    with pytest.raises(LuminaIndexError, match=r"scatter_add: index 3 is out of range for dim 0 of f64\[3,4\]"):
        x.scatter_add(0, lumina.tensor([[3, 0]]), lumina.tensor(arr(1, 2)))
    computed = lumina.tensor(np.array([[1, 0]])) * 3            # known only when it runs
    with pytest.raises(LuminaIndexError, match="scatter: index 3 is out of range"):
        x.scatter(0, computed, lumina.tensor(arr(1, 2))).numpy()
    with pytest.raises(LuminaShapeError, match="scatter_reduce: index i64\\[1,5\\] must be no larger"):
        x.scatter_reduce(0, lumina.tensor([[0, 0, 0, 0, 0]]), lumina.tensor(arr(1, 5)), "sum")
    with pytest.raises(LuminaTypeError, match="scatter: src .* must have self's dtype float64"):
        x.scatter(0, lumina.tensor([[0]]), lumina.tensor([[1.0]]))
    with pytest.raises(LuminaValueError, match="scatter_reduce: reduce must be one of"):
        x.scatter_reduce(0, lumina.tensor([[0]]), lumina.tensor(arr(1, 1)), "max")
    with pytest.raises(LuminaValueError, match="scatter: value nan cannot be converted to int64"):
        lumina.tensor([1, 2]).scatter(0, lumina.tensor([0]), float("nan"))


@PROPS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_scatter_add_property_against_torch(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    ishape = tuple(data.draw(st.integers(0, 4)) if a == d else data.draw(st.integers(0, s))
                   for a, s in enumerate(shape))
    index = RNG.integers(0, shape[d], size=ishape)
    x, src = RNG.standard_normal(shape), RNG.standard_normal(ishape)
    got = lumina.scatter_add(lumina.tensor(x), dim, lumina.tensor(index), lumina.tensor(src))
    want = torch.scatter_add(torch.tensor(x), dim, torch.tensor(index), torch.tensor(src))
    same(got, want, exact=False)


# ---- rounding and sign, activations ---------------------------------------------------------------

_SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, -3.0, 3.0, -3.7, 2.0**23 + 1,
                     1e30, 1e-40], np.float32)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round", "sign"])
def test_rounding_matches_torch_bit_for_bit_with_zero_gradients(name):
    for dtype in (np.float32, np.float64, np.float16):
        with np.errstate(over="ignore"):   # 1e30 is inf in float16
            values = _SPECIAL.astype(dtype)
        got = getattr(lumina, name)(lumina.tensor(values))
        want = getattr(torch, name)(torch.tensor(values))
        same(got, want)
        np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))   # -0.0 where torch
    ints = np.array([-3, 0, 7], np.int32)
    same(getattr(lumina.tensor(ints), name)(), getattr(torch.tensor(ints), name)())
    x = lumina.tensor(_SPECIAL[3:9].astype(np.float64), requires_grad=True)
    y = getattr(lumina, name)(x)
    assert y.requires_grad   # as torch: a result that requires grad, with a zero gradient
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(6))
    if name != "sign":
        with pytest.raises(LuminaTypeError, match=f"{name}: bool inputs are not supported"):
            getattr(lumina, name)(lumina.tensor([True]))


def test_round_to_decimals():
    x = np.array([2.345, -0.125, 1234.5678, -1234.5678, 0.5], np.float64)
    for d in (2, 1, -2):
        same(lumina.round(lumina.tensor(x), decimals=d), torch.round(torch.tensor(x), decimals=d))
    with pytest.raises(LuminaTypeError, match="round: decimals=0 needs a float input"):
        lumina.round(lumina.tensor([1, 2]), decimals=0)


_ACTIVATIONS = [("elu", (0.5,)), ("selu", ()), ("celu", (2.0,)), ("leaky_relu", (0.2,)), ("softplus", ()),
                ("softplus", (2.0, 3.0)), ("hardsigmoid", ()), ("hardswish", ()), ("silu", ()), ("mish", ()),
                ("softsign", ()), ("threshold", (0.5, -1.0))]


@pytest.mark.parametrize("name, args", _ACTIVATIONS, ids=[f"{n}{a}" for n, a in _ACTIVATIONS])
def test_activations_match_torch(name, args):
    x = RNG.uniform(-6, 6, size=(4, 6))      # away from the seams, where finite differences hold
    # torch's float64 hardsigmoid backward multiplies by 1/6 rounded to float32: its exact form instead
    exact = (lambda L, F_, t: (t + 3.0).clamp(0.0, 6.0) / 6.0) if name == "hardsigmoid" else None
    check(lambda L, F_, t: getattr(F_, name)(t, *args), x, torch_fn=exact)
    same(getattr(F, name)(lumina.tensor(_SPECIAL), *args), getattr(TF, name)(torch.tensor(_SPECIAL), *args),
         exact=False)
    half = RNG.uniform(-6, 6, size=8).astype(np.float16)   # within 2 ulps: lumina rounds each 16-bit op
    same(getattr(F, name)(lumina.tensor(half), *args), getattr(TF, name)(torch.tensor(half), *args), exact=False,
         rtol=2e-3)


def test_activation_seams_and_in_place():
    """torch's gradient at the boundaries: elu's at 0 is alpha, leaky_relu's the slope,
    hardsigmoid's 0 at +-3, hardswish's 0 at -3 and 1 at 3."""
    x = np.array([0.0, -3.0, 3.0], np.float64)
    for name, args in (("elu", (2.0,)), ("leaky_relu", (0.1,)), ("hardsigmoid", ()), ("hardswish", ())):
        lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        getattr(F, name)(lx, *args).sum().backward()
        getattr(TF, name)(tx, *args).sum().backward()
        np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-7)
    y = lumina.tensor(x)
    assert F.elu(y, inplace=True) is y
    np.testing.assert_array_equal(y.numpy(), TF.elu(torch.tensor(x)).numpy())
    with pytest.raises(LuminaTypeError, match="elu: expects a floating-point input"):
        F.elu(lumina.tensor([1, 2]))


# ---- one_hot, pixel_shuffle / pixel_unshuffle, gather ----------------------------------------------

def test_one_hot_infers_the_classes_eagerly_and_needs_them_under_compile():
    labels = np.array([[0, 3], [2, 1]])
    same(F.one_hot(lumina.tensor(labels)), TF.one_hot(torch.tensor(labels)))
    same(F.one_hot(lumina.tensor(labels), 6), TF.one_hot(torch.tensor(labels), 6))
    step = lumina.compile(lambda t: F.one_hot(t))
    with pytest.raises(LuminaTraceError, match="one_hot: num_classes=-1"):
        step(lumina.tensor(labels))
    compiled = lumina.compile(lambda t: F.one_hot(t, 4))
    np.testing.assert_array_equal(compiled(lumina.tensor(labels)).numpy(), TF.one_hot(torch.tensor(labels), 4))


@pytest.mark.parametrize("shape, r", [((1, 8, 2, 3), 2), ((2, 9, 1, 2), 3), ((3, 1, 4, 2, 2), 2)])
def test_pixel_shuffle_and_unshuffle_match_torch(shape, r):
    x = arr(*shape)
    check(lambda L, F_, t: F_.pixel_shuffle(t, r), x)
    y = F.pixel_shuffle(lumina.tensor(x), r)
    same(y, TF.pixel_shuffle(torch.tensor(x), r))
    back = F.pixel_unshuffle(y, r)
    same(back, TF.pixel_unshuffle(TF.pixel_shuffle(torch.tensor(x), r), r))
    np.testing.assert_array_equal(back.numpy(), x)
    check(lambda L, F_, t: F_.pixel_unshuffle(t, r), y.numpy())


def test_pixel_shuffle_errors():
    with pytest.raises(LuminaShapeError, match="pixel_shuffle: expects the channel dim .* divisible by "
                                               "upscale_factor\\^2 = 4"):
        F.pixel_shuffle(lumina.tensor(arr(1, 6, 2, 2)), 2)
    with pytest.raises(LuminaShapeError, match="pixel_unshuffle: expects the height and width"):
        F.pixel_unshuffle(lumina.tensor(arr(1, 1, 3, 4)), 2)
    with pytest.raises(LuminaValueError, match="pixel_shuffle: expects a positive upscale_factor"):
        F.pixel_shuffle(lumina.tensor(arr(1, 4, 2, 2)), 0)
    with pytest.raises(LuminaShapeError, match="at least 3 dimensions"):
        F.pixel_unshuffle(lumina.tensor(arr(4, 4)), 2)


def test_gather_is_what_onnx_gather_elements_calls():
    x, index = arr(3, 4), RNG.integers(0, 3, size=(2, 4))
    check(lambda L, F_, t: L.gather(t, 0, L.tensor(index)), x,
          torch_fn=lambda L, F_, t: torch.gather(t, 0, torch.tensor(index)))


def test_composites_compile():
    """The composites trace into one compiled function as well as they run eagerly."""
    x, index = arr(4, 5), RNG.integers(0, 4, size=(3, 5))

    def f(t, i):
        top = t.topk(2, dim=0).values
        spread = t.scatter_reduce(0, i, t[:3] * 2.0, "amax")
        return lumina.einsum("ij,kj->ik", top, spread).cumprod(1).flip(0).tile((1, 2))

    step = lumina.compile(f)
    got = step(lumina.tensor(x), lumina.tensor(index))
    tx, ti = torch.tensor(x), torch.tensor(index)
    want = torch.einsum("ij,kj->ik", tx.topk(2, dim=0).values, tx.scatter_reduce(0, ti, tx[:3] * 2.0, "amax"))
    np.testing.assert_allclose(got.numpy(), want.cumprod(1).flip(0).tile((1, 2)).numpy(), rtol=1e-10)
