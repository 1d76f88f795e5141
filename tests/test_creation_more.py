"""Creation functions beyond zeros/ones/full against PyTorch 2.13: full_like / empty / empty_like,
``Tensor.new_*``, linspace / logspace (torch's CPU values), meshgrid / cartesian_prod (values,
gradients, views), eagerly and inside ``@lumina.compile``, and their errors."""
import warnings

import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError
from tests.gradcheck import check

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool", "float16"])
@pytest.mark.parametrize("fill", [0, 2.5, -3, True])
def test_full_like_and_new_full_match_torch(dtype, fill):
    x = np.zeros((2, 3), dtype=dtype)
    t, l = torch.tensor(x), lumina.tensor(x)
    for tr, lr in [(torch.full_like(t, fill), lumina.full_like(l, fill)),
                   (t.new_full((3,), fill), l.new_full((3,), fill)),
                   (torch.full_like(t, fill, dtype=torch.float64), lumina.full_like(l, fill, dtype=lumina.float64))]:
        assert str(tr.dtype).split(".")[-1] == lr.dtype.name
        np.testing.assert_array_equal(lr.numpy().astype(np.float64), tr.double().numpy())


def test_full_like_nan_into_an_integer_raises_as_torch():
    with pytest.raises(RuntimeError):
        torch.full_like(torch.zeros(2, dtype=torch.int64), float("nan"))
    with pytest.raises(LuminaValueError, match="full_like"):
        lumina.full_like(lumina.zeros(2, dtype=lumina.int64), float("nan"))


@pytest.mark.parametrize("name", ["new_zeros", "new_ones", "new_empty"])
def test_new_constructors_keep_self_dtype(name):
    l = lumina.tensor(np.ones(2, np.float64))
    t = torch.ones(2, dtype=torch.float64)
    for args in [(2, 3), ((2, 3),), ([4],)]:
        lr, tr = getattr(l, name)(*args), getattr(t, name)(*args)
        assert lr.shape == tuple(tr.shape) and lr.dtype is lumina.float64
        if name != "new_empty":
            np.testing.assert_array_equal(lr.numpy(), tr.numpy())
    assert getattr(l, name)(2, dtype=lumina.int32).dtype is lumina.int32
    g = getattr(l, name)(3, requires_grad=True)
    assert g.requires_grad and g.is_leaf


def test_new_tensor_copies_with_self_dtype():
    l = lumina.tensor([1, 2], dtype=lumina.int32)
    assert l.new_tensor([1.7, 2.2]).dtype is lumina.int32
    np.testing.assert_array_equal(l.new_tensor([1.7, -2.2]).numpy(), torch.tensor([1, 2], dtype=torch.int32)
                                  .new_tensor([1.7, -2.2]).numpy())
    src = np.arange(3.0)
    n = lumina.zeros(1).new_tensor(src)
    src[0] = 9
    assert n.numpy()[0] == 0      # a copy


def test_empty_and_empty_like_shapes_dtypes_and_errors():
    assert lumina.empty(2, 3).shape == (2, 3) and lumina.empty((4,)).dtype is lumina.float32
    assert lumina.empty_like(lumina.ones(2, dtype=lumina.int64)).dtype is lumina.int64
    with pytest.raises(LuminaValueError):
        lumina.empty(-1)
    with pytest.raises(LuminaTypeError):
        lumina.empty(2.5)


CASES = [(0, 1, 7), (-3.3, 10.1, 11), (1, 0.3, 100), (5, 5, 3), (0, 1, 1), (0, 1, 0), (-5, 5, 1001), (2, -7.25, 64)]


@pytest.mark.parametrize("start,end,steps", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_is_torchs_values(start, end, steps, dtype):
    t = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    l = lumina.linspace(start, end, steps, dtype=getattr(lumina, dtype)).numpy()
    assert l.dtype == t.dtype
    if dtype == "float32":
        np.testing.assert_array_equal(l, t)       # bit for bit
    np.testing.assert_allclose(l, t, rtol=np.finfo(t.dtype).eps, atol=0)
    if steps > 1:
        assert l[0] == np.asarray(start, t.dtype) and l[-1] == np.asarray(end, t.dtype)


@pytest.mark.parametrize("start,end,steps", CASES)
@pytest.mark.parametrize("base", [10.0, 2.0, 0.5])
def test_logspace_is_torchs_values(start, end, steps, base):
    for dtype in ("float32", "float64"):
        t = torch.logspace(start, end, steps, base, dtype=getattr(torch, dtype)).numpy()
        l = lumina.logspace(start, end, steps, base, dtype=getattr(lumina, dtype)).numpy()
        np.testing.assert_allclose(l, t, rtol=2 * np.finfo(t.dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_linspace_integers_are_torchs_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    for _ in range(60):
        start, end = (int(v) for v in rng.integers(-500, 500, 2))
        steps = int(rng.integers(2, 3000))
        np.testing.assert_array_equal(lumina.linspace(start, end, steps, dtype=getattr(lumina, dtype)).numpy(),
                                      torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy())


def test_linspace_integer_dtype_and_default_dtype():
    assert lumina.linspace(3, 10, 5).dtype is lumina.float32
    np.testing.assert_array_equal(lumina.linspace(0, 10, 7, dtype=lumina.int64).numpy(),
                                  torch.linspace(0, 10, 7, dtype=torch.int64).numpy())


def test_linspace_errors():
    with pytest.raises(LuminaValueError, match="non-negative"):
        lumina.linspace(0, 1, -1)
    with pytest.raises(LuminaTypeError):
        lumina.linspace(0, 1, 2.5)
    with pytest.raises(LuminaTypeError):
        lumina.logspace("a", 1, 3)


def test_linspace_requires_grad_and_compile():
    x = lumina.linspace(0, 1, 4, requires_grad=True)
    assert x.requires_grad and x.is_leaf

    @lumina.compile
    def f(a):
        return a * lumina.linspace(-1, 1, 5) + lumina.logspace(0, 1, 5, base=2)
    a = lumina.tensor(np.full(5, 2.0, np.float32))
    np.testing.assert_array_equal(f(a).numpy(), (2 * torch.linspace(-1, 1, 5) + torch.logspace(0, 1, 5, base=2)).numpy())


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_values_and_gradients_match_torch(indexing):
    a, b, c = RNG.normal(size=3), RNG.normal(size=4), RNG.normal(size=2)
    check(lambda L, F, x, y, z: sum((g * (i + 1)) for i, g in enumerate(L.meshgrid(x, y, z, indexing=indexing))),
          a, b, c)
    lt = lumina.meshgrid([lumina.tensor(a), lumina.tensor(b)], indexing=indexing)
    tt = torch.meshgrid([torch.tensor(a), torch.tensor(b)], indexing=indexing)
    for l, t in zip(lt, tt):
        np.testing.assert_array_equal(l.numpy(), t.numpy())


def test_meshgrid_zero_d_and_default_warns_as_torch():
    with pytest.warns(UserWarning, match="indexing"):
        out = lumina.meshgrid(lumina.tensor(1.0), lumina.tensor([1.0, 2.0]))
    assert [o.shape for o in out] == [(1, 2), (1, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lumina.meshgrid(lumina.tensor([1.0]), indexing="ij")


def test_meshgrid_and_cartesian_prod_errors():
    a, b = lumina.tensor([1, 2]), lumina.tensor([1.0, 2.0])
    for fn in (lambda: lumina.meshgrid(a, b, indexing="ij"), lambda: lumina.cartesian_prod(a, b),
               lambda: lumina.meshgrid(lumina.ones(2, 2), indexing="ij"), lambda: lumina.meshgrid(indexing="ij"),
               lambda: lumina.meshgrid(a, indexing="yx"), lambda: lumina.cartesian_prod(lumina.tensor(1.0))):
        with pytest.raises(LuminaError):
            fn()
    with pytest.raises(LuminaShapeError):
        lumina.cartesian_prod(lumina.ones(2, 2))


def test_cartesian_prod_matches_torch_eager_and_compiled():
    a, b, c = RNG.normal(size=2), RNG.normal(size=3), RNG.normal(size=1)
    check(lambda L, F, x, y, z: L.cartesian_prod(x, y, z), a, b, c)
    check(lambda L, F, x: L.cartesian_prod(x), a)
    f = lumina.compile(lambda x, y: lumina.cartesian_prod(x, y) * 2)
    np.testing.assert_array_equal(f(lumina.tensor(a), lumina.tensor(b)).numpy(),
                                  (torch.cartesian_prod(torch.tensor(a), torch.tensor(b)) * 2).numpy())
    ints = lumina.cartesian_prod(lumina.tensor([1, 2]), lumina.tensor([3, 4, 5]))
    np.testing.assert_array_equal(ints.numpy(), torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3, 4, 5])))


def test_new_constructors_inside_compile():
    @lumina.compile
    def f(x):
        return x.new_ones(3) + x.new_full((3,), 2.0) + x.new_zeros(3) + lumina.full_like(x, 1.5)
    np.testing.assert_array_equal(f(lumina.zeros(3)).numpy(), np.full(3, 4.5, np.float32))
