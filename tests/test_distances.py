"""norm / dist / cdist / cosine_similarity / pairwise_distance against PyTorch 2.13: values, torch's
gradients where the chain rule alone would give NaN (a norm of 0, a zero element with p < 1, ties of
the inf-norm), finite differences, ``@lumina.compile``, errors."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lumina
import lumina.nn.functional as LF
from lumina.errors import LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError
from tests.gradcheck import check

RNG = np.random.default_rng(0)
ORDERS = [2, 1, 0, 3, 0.5, 1.5, -1, -2, math.inf, -math.inf, "fro", None]


def _both(fn_l, fn_t, *arrays):
    """Values and gradients (for a random cotangent) of lumina and torch, float64."""
    lx = [lumina.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    lo, to = fn_l(*lx), fn_t(*tx)
    c = RNG.normal(size=tuple(to.shape))
    (lo * lumina.tensor(c)).sum().backward()
    (to * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(lo.numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-14)
    for a, b in zip(lx, tx):
        tg = b.grad.numpy() if b.grad is not None else np.zeros(b.shape)
        np.testing.assert_allclose(a.grad.numpy(), tg, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", ORDERS)
def test_norm_values_and_gradients_at_zeros_and_ties(p):
    x = RNG.normal(size=(3, 4))
    zeros = x.copy()
    zeros[0] = 0.0          # a row whose norm is 0
    zeros[1, 1] = 0.0       # a zero element
    ties = np.array([[3.0, -3.0, 1.0], [0.0, 0.0, 0.0], [2.0, 2.0, -2.0]])
    for a in (x, zeros, ties):
        _both(lambda t: lumina.norm(t, p), lambda t: torch.norm(t, p), a)
        _both(lambda t: t.norm(p, 1, True), lambda t: t.norm(p, 1, True), a)
        _both(lambda t: t.norm(p, (0, 1)), lambda t: t.norm(p, (0, 1)), a)


@pytest.mark.parametrize("p", [2, 3, 0.5, -1, math.inf])
def test_norm_gradient_by_finite_differences(p):
    check(lambda L, F, x: L.norm(x, p, 1), RNG.normal(size=(3, 4)) + 0.1)


def test_norm_dtypes():
    x = lumina.tensor(np.array([3.0, 4.0], np.float32))
    assert lumina.norm(x, dtype=lumina.float64).dtype is lumina.float64
    h = lumina.tensor(np.array([3.0, 4.0], np.float16))
    assert h.norm().dtype is lumina.float16 and h.norm().item() == 5.0
    with pytest.raises(LuminaTypeError, match="floating point"):
        lumina.norm(lumina.tensor([1, 2]))
    with pytest.raises(LuminaTypeError, match="narrowing"):
        lumina.norm(x, dtype=lumina.float16)


def test_norm_errors():
    with pytest.raises(LuminaValueError, match="nuc"):
        lumina.norm(lumina.ones(2, 3), "nuc")
    with pytest.raises(LuminaValueError):
        lumina.norm(lumina.ones(2, 3), "bad")
    with pytest.raises(LuminaValueError, match="fro"):
        lumina.norm(lumina.ones(2, 3, 4), "fro", (0, 1, 2))
    with pytest.raises(LuminaValueError, match="empty"):
        lumina.norm(lumina.ones(0), math.inf)
    with pytest.raises(LuminaValueError, match="empty"):
        lumina.norm(lumina.ones(0), -1)
    assert lumina.norm(lumina.ones(0), 2).item() == torch.norm(torch.ones(0), 2).item() == 0.0
    with pytest.raises(LuminaError):
        lumina.norm(lumina.ones(2), 2, 3)


def test_dist_matches_torch():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4,))
    for p in (2, 1, 3, math.inf):
        _both(lambda x, y: lumina.dist(x, y, p), lambda x, y: torch.dist(x, y, p), a, b)
    # p=0: torch's backward fails ("Expected a proper Tensor but got None"); the value and lumina's zero gradient
    x = lumina.tensor(a, requires_grad=True)
    zero = lumina.dist(x, lumina.tensor(b), 0)
    assert zero.item() == torch.dist(torch.tensor(a), torch.tensor(b), 0).item()
    zero.backward()
    assert not x.grad.numpy().any()
    _both(lambda x, y: x.dist(y), lambda x, y: x.dist(y), a, a.copy())      # equal inputs: gradient 0
    with pytest.raises(LuminaTypeError):
        lumina.dist(lumina.tensor([1, 2]), lumina.tensor([1, 3]))


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 0.5, 3.0, math.inf])
def test_cdist_matches_torch_with_equal_rows_and_ties(p):
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4))
    b[0, 0] = a[0, 0]                    # distance 0
    b[1, 1, :2] = a[1, 0, :2]            # zero differences
    b[1, 2] = a[1, 2] + np.array([1.0, -1.0, 1.0, 0.5])   # inf-distance ties
    _both(lambda x, y: lumina.cdist(x, y, p), lambda x, y: torch.cdist(x, y, p), a, b)
    _both(lambda x, y: lumina.cdist(x, y, p), lambda x, y: torch.cdist(x, y, p), a[0], b)    # batch broadcast


def test_cdist_matrix_product_path_is_torchs():
    a, b = RNG.normal(size=(30, 4)) * 10, RNG.normal(size=(7, 4)) * 10
    b[0] = a[0]
    _both(lambda x, y: lumina.cdist(x, y), lambda x, y: torch.cdist(x, y), a, b)
    # close points far from 0: the matmul form cancels (as torch's, to within the order of its sums,
    # about sqrt(eps) |x|), the direct form does not
    near_a, near_b = a[:3] + 1e3, a[:3] + 1e3 + 1e-6
    for mode, atol in (("use_mm_for_euclid_dist", 1e-4), ("donot_use_mm_for_euclid_dist", 1e-15)):
        l = lumina.cdist(lumina.tensor(near_a), lumina.tensor(near_b), compute_mode=mode).numpy()
        t = torch.cdist(torch.tensor(near_a), torch.tensor(near_b), compute_mode=mode).numpy()
        np.testing.assert_allclose(l, t, rtol=1e-9, atol=atol)
    direct = lumina.cdist(lumina.tensor(near_a), lumina.tensor(near_b), compute_mode="donot_use_mm_for_euclid_dist")
    np.testing.assert_allclose(np.diag(direct.numpy()), 2e-6, rtol=1e-6)
    check(lambda L, F, x, y: L.cdist(x, y, compute_mode="use_mm_for_euclid_dist"), a[:3], b[1:4])


def test_cdist_gradient_by_finite_differences():
    for p in (2.0, 3.0, 1.5):
        check(lambda L, F, x, y: L.cdist(x, y, p), RNG.normal(size=(3, 4)), RNG.normal(size=(2, 4)))


def test_cdist_errors():
    for bad in (lambda: lumina.cdist(lumina.ones(2, 3), lumina.ones(2, 4)),
                lambda: lumina.cdist(lumina.ones(3), lumina.ones(2, 3))):
        with pytest.raises(LuminaShapeError):
            bad()
    with pytest.raises(LuminaValueError, match="non-negative"):
        lumina.cdist(lumina.ones(2, 3), lumina.ones(2, 3), -1.0)
    with pytest.raises(LuminaValueError, match="compute_mode"):
        lumina.cdist(lumina.ones(2, 3), lumina.ones(2, 3), compute_mode="x")
    with pytest.raises(LuminaTypeError):
        lumina.cdist(lumina.ones(2, 3, dtype=lumina.int64), lumina.ones(2, 3, dtype=lumina.int64))
    with pytest.raises(LuminaTypeError):
        lumina.cdist(lumina.ones(2, 3), lumina.ones(2, 3, dtype=lumina.float64))


@pytest.mark.parametrize("eps", [1e-8, 1e-3, 0.5])
def test_cosine_similarity_eps_as_torch(eps):
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(1, 3))
    a[0] = 0.0                  # a zero vector: clamped to eps
    a[1] = 1e-4                 # a norm below eps=1e-3 and 0.5
    _both(lambda x, y: LF.cosine_similarity(x, y, 1, eps), lambda x, y: TF.cosine_similarity(x, y, 1, eps), a, b)
    _both(lambda x, y: lumina.cosine_similarity(x, y, 0, eps), lambda x, y: torch.cosine_similarity(x, y, 0, eps),
          a, b)
    check(lambda L, F, x, y: F.cosine_similarity(x, y, -1), RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3)))


def test_cosine_similarity_errors():
    with pytest.raises(LuminaTypeError, match="floating point"):
        LF.cosine_similarity(lumina.tensor([[1, 2]]), lumina.tensor([[1, 3]]))
    with pytest.raises(LuminaShapeError):
        LF.cosine_similarity(lumina.ones(2, 3), lumina.ones(4, 3))


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf, 0])
def test_pairwise_distance_matches_torch(p):
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(3,))
    _both(lambda x, y: LF.pairwise_distance(x, y, p), lambda x, y: TF.pairwise_distance(x, y, p), a, b)
    _both(lambda x, y: lumina.pairwise_distance(x, y, p, 0.0, True),
          lambda x, y: torch.pairwise_distance(x, y, p, 0.0, True), a, a.copy())
    ints = LF.pairwise_distance(lumina.tensor([1, 2]), lumina.tensor([1, 3]))
    assert ints.dtype is lumina.float32
    np.testing.assert_allclose(ints.numpy(), TF.pairwise_distance(torch.tensor([1, 2]), torch.tensor([1, 3])).numpy())


def test_inside_compile():
    @lumina.compile
    def f(x, y):
        return (lumina.cdist(x, y).sum() + x.norm(math.inf) + lumina.dist(x[0], y[0], 3)
                + LF.cosine_similarity(x[:2], y).sum() + LF.pairwise_distance(x[:2], y).sum())
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(2, 4))
    ta, tb = torch.tensor(a), torch.tensor(b)
    ref = (torch.cdist(ta, tb).sum() + ta.norm(math.inf) + torch.dist(ta[0], tb[0], 3)
           + TF.cosine_similarity(ta[:2], tb).sum() + TF.pairwise_distance(ta[:2], tb).sum())
    np.testing.assert_allclose(f(lumina.tensor(a), lumina.tensor(b)).numpy(), ref.numpy(), rtol=1e-12)

    x = lumina.tensor(a, requires_grad=True)
    g = lumina.compile(lambda t: lumina.grad(lambda u: lumina.norm(u, 0.5) + LF.cosine_similarity(u, u * 0).sum())(t))
    tx = torch.tensor(a, requires_grad=True)
    (torch.norm(tx, 0.5) + TF.cosine_similarity(tx, tx * 0).sum()).backward()
    np.testing.assert_allclose(g(x).numpy(), tx.grad.numpy(), rtol=1e-10)


def test_a_norm_of_one_element_is_its_absolute_value_as_torchs():
    for v in (3e38, -2.0, 0.0, float("inf"), float("nan"), 1e-30):
        for p in (2, 0.5, 1, math.inf, 3):
            lx = lumina.tensor([[v]], requires_grad=True)
            tx = torch.tensor([[v]], requires_grad=True)
            lo, to = lumina.norm(lx, p, 1), torch.norm(tx, p, 1)
            np.testing.assert_array_equal(lo.numpy(), to.detach().numpy())
            if p != 3:      # torch's p=3 gradient formula over/underflows to NaN at 3e38 and 1e-30
                lo.sum().backward()
                to.sum().backward()
                np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=4e-7)   # NaN where torch's
    # cdist's kernel has no such case: its one-column distances square and overflow, as torch's
    np.testing.assert_array_equal(lumina.cdist(lumina.tensor([[3e38]]), lumina.tensor([[0.0]])).numpy(),
                                  torch.cdist(torch.tensor([[3e38]]), torch.tensor([[0.0]])).numpy())


def test_cdist_inf_distance_ignores_nan_as_torchs_kernel():
    a = np.array([[1.0, 0.0], [-1.0, 0.5]])
    b = np.array([[100.0, np.nan], [np.nan, np.nan], [3.0, 0.0]])
    np.testing.assert_array_equal(lumina.cdist(lumina.tensor(a), lumina.tensor(b), math.inf).numpy(),
                                  torch.cdist(torch.tensor(a), torch.tensor(b), math.inf).numpy())
