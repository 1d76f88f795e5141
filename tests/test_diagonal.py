"""diagonal / diag / diag_embed / diagflat / trace against PyTorch 2.13: values for every offset and
pair of dims, gradients (torch and finite differences), views that write through, compile, errors."""
import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaIndexError, LuminaShapeError, LuminaTypeError, LuminaValueError
from tests.gradcheck import check

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4, 5))


@pytest.mark.parametrize("offset", [-5, -2, -1, 0, 1, 3, 6])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (2, 0), (-1, 1), (0, 2)])
def test_diagonal_and_diag_embed_match_torch(offset, dims):
    np.testing.assert_array_equal(lumina.tensor(X).diagonal(offset, *dims).numpy(),
                                  torch.tensor(X).diagonal(offset, *dims).numpy())
    np.testing.assert_array_equal(lumina.diag_embed(lumina.tensor(X), offset, *dims).numpy(),
                                  torch.diag_embed(torch.tensor(X), offset, *dims).numpy())


@pytest.mark.parametrize("offset", [-3, -1, 0, 2, 9])
def test_diag_and_diagflat_match_torch(offset):
    for a in (X[0, 0], X[0], X[:, :, 0].T):
        np.testing.assert_array_equal(lumina.diag(lumina.tensor(a), offset).numpy(),
                                      torch.diag(torch.tensor(a), offset).numpy())
        np.testing.assert_array_equal(lumina.tensor(a).diagflat(offset).numpy(),
                                      torch.tensor(a).diagflat(offset).numpy())


def test_gradients_match_torch_and_finite_differences():
    check(lambda L, F, x: L.diagonal(x, 1, 2, 0), X)
    check(lambda L, F, x: L.diagonal(x, -2, 0, 1), X)
    check(lambda L, F, x: L.diag_embed(x, -1, 0, 2), X[0])
    check(lambda L, F, x: L.diag(x, 1), X[0, 0])
    check(lambda L, F, x: L.diag(x, -1), X[0])
    check(lambda L, F, x: L.diagflat(x, 2), X[0])
    check(lambda L, F, x: L.trace(x), X[0])


def test_dtypes_and_special_values():
    for dtype in ("int32", "int64", "bool", "float16"):
        a = (X[0] * 3).astype(dtype)
        np.testing.assert_array_equal(lumina.diag(lumina.tensor(a)).numpy(), torch.diag(torch.tensor(a)).numpy())
        np.testing.assert_array_equal(lumina.diag_embed(lumina.tensor(a)).numpy(),
                                      torch.diag_embed(torch.tensor(a)).numpy())
    specials = np.array([np.nan, np.inf, -0.0])
    np.testing.assert_array_equal(lumina.diag(lumina.tensor(specials)).numpy(), torch.diag(torch.tensor(specials)))
    assert lumina.trace(lumina.tensor(np.ones((2, 3), np.int32))).dtype is lumina.int64
    t = torch.trace(torch.tensor(X[0]))
    np.testing.assert_allclose(lumina.trace(lumina.tensor(X[0])).numpy(), t.numpy(), rtol=1e-15)


def test_diagonal_is_a_view_that_writes_through():
    base = np.zeros((3, 4), np.float32)
    lt, tt = lumina.tensor(base), torch.tensor(base)
    lt.diagonal(1).add_(lumina.tensor([1.0, 2.0, 3.0]))
    tt.diagonal(1).add_(torch.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(lt.numpy(), tt.numpy())
    d = lt.diagonal()
    lt.mul_(2)
    np.testing.assert_array_equal(d.numpy(), (tt * 2).diagonal().numpy())


def test_inside_compile():
    @lumina.compile
    def f(x):
        return lumina.diag_embed(x.diagonal(0, 1, 2)) + x.trace() if x.ndim == 2 else lumina.diag_embed(
            x.diagonal(0, 1, 2)).sum(0)
    x = X.astype(np.float32)
    ref = torch.diag_embed(torch.tensor(x).diagonal(0, 1, 2)).sum(0)
    np.testing.assert_allclose(f(lumina.tensor(x)).numpy(), ref.numpy(), rtol=1e-6)
    g = lumina.compile(lambda m: lumina.trace(m) * lumina.diag(m, 1))
    m = X[0].astype(np.float32)
    np.testing.assert_allclose(g(lumina.tensor(m)).numpy(),
                               (torch.trace(torch.tensor(m)) * torch.diag(torch.tensor(m), 1)).numpy(), rtol=1e-6)


def test_errors():
    with pytest.raises(LuminaValueError, match="identical"):
        lumina.diagonal(lumina.tensor(X), 0, 1, 1)
    with pytest.raises(LuminaIndexError):
        lumina.diagonal(lumina.tensor(X[0, 0]))
    with pytest.raises(LuminaShapeError, match="1D or 2D"):
        lumina.diag(lumina.tensor(X))
    with pytest.raises(LuminaShapeError, match="matrix"):
        lumina.trace(lumina.tensor(X))
    with pytest.raises(LuminaTypeError):
        lumina.trace(lumina.tensor(np.ones((2, 2), bool)))
    with pytest.raises(LuminaShapeError):
        lumina.diag_embed(lumina.tensor(1.0))
    with pytest.raises(LuminaTypeError):
        lumina.diag(lumina.tensor(X[0]), 1.5)
