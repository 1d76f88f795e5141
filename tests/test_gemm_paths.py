"""Compiled GEMMs through each path the CPU backend picks (packed or skinny, split over rows,
columns or the batch) with fused epilogues and row stages, against PyTorch on the same inputs.

The path depends on the shape and the layout: a few rows read B in place (along its rows for a
row-major B, along K for a transposed weight), fewer rows than columns split the threads over
column panels, many batch entries split them over the batch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from lumina.nn import functional as F

SHAPES = [(1, 10, 64), (1, 1000, 300), (3, 130, 70), (6, 200, 515), (7, 64, 33), (64, 700, 96), (300, 40, 50)]
"""(M, N, K): batch-1 layers, row counts around the register tile's height, skinny and tall."""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [True, False], ids=["x@W.T", "x@W"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_linear_with_epilogue_matches_torch(shape, transposed, dtype):
    m, n, k = shape
    rng = np.random.default_rng(m * 1000 + n)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k) if transposed else (k, n)).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype)
    residual = rng.standard_normal((m, n)).astype(dtype)

    def f(x, w, bias, residual, lib, gelu):
        y = (F.linear(x, w, bias) if lib is F else lib.nn.functional.linear(x, w, bias)) if transposed \
            else x @ w + bias
        return gelu(y) + residual

    got = lumina.compile(lambda *a: f(*a, F, F.gelu))(x, w, bias, residual).numpy()
    t = [torch.from_numpy(a) for a in (x, w, bias, residual)]
    expect = f(*t, torch, torch.nn.functional.gelu).numpy()
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, expect, rtol=tol, atol=tol * np.sqrt(k))


@pytest.mark.parametrize("shape", [(1, 1000, 64), (4, 300, 100), (100, 120, 40)], ids=lambda s: "x".join(map(str, s)))
def test_row_stages_after_skinny_gemm_match_torch(shape):
    """A GEMM with row stages (softmax over its rows) stays correct whichever path computes it:
    the stages run on whole finished rows."""
    m, n, k = shape
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    got = lumina.compile(lambda x, w: (x @ w.T).softmax(dim=-1))(x, w).numpy()
    expect = torch.softmax(torch.from_numpy(x) @ torch.from_numpy(w).T, dim=-1).numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("heads", [2, 16])
def test_batched_skinny_gemm_matches_torch(heads):
    """Batched GEMMs with one or two rows per entry (decoding attention), split over the batch or
    not, with a transposed right operand."""
    rng = np.random.default_rng(6)
    q = rng.standard_normal((heads, 1, 32)).astype(np.float32)
    keys = rng.standard_normal((heads, 77, 32)).astype(np.float32)
    got = lumina.compile(lambda q, kk: q @ kk.transpose(1, 2))(q, keys).numpy()
    np.testing.assert_allclose(got, q @ keys.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)


def test_special_values_propagate_through_the_skinny_paths():
    """NaN and inf in A or B reach exactly the outputs they touch, as in NumPy (no padding lane
    or clamped row turns them into values elsewhere)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 40)).astype(np.float32)
    w = rng.standard_normal((90, 40)).astype(np.float32)
    x[0, 3] = np.nan
    w[5, 7] = np.inf
    w[6, 39] = -np.inf
    for weight in (w, np.ascontiguousarray(w.T)):
        fn = lumina.compile(lambda x, w: x @ w.T) if weight is w else lumina.compile(lambda x, w: x @ w)
        got = fn(x, weight).numpy()
        expect = x @ w.T
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(expect))
        finite = np.isfinite(expect)
        np.testing.assert_allclose(got[finite], expect[finite], rtol=1e-5, atol=1e-5)


def test_a_gemm_with_a_few_columns_runs_transposed():
    """Many rows by a few columns (a classifier's logits, a first convolution's [O, 9] weight
    gradient): computed as the transposed product, a few rows the skinny paths read in place, and
    stored transposed; its epilogue (bias, ReLU) rides along. A row-fused one (log_softmax over
    the classes) keeps its rows. Against PyTorch."""
    from lumina.codegen.kernel import DotKernel
    rng = np.random.default_rng(8)
    x = rng.standard_normal((300, 64)).astype(np.float32)
    w = rng.standard_normal((9, 64)).astype(np.float32)
    bias = rng.standard_normal(9).astype(np.float32)
    fn = lumina.compile(lambda x, w, b: F.relu(F.linear(x, w, b)))
    got = fn(x, w, bias).numpy()
    expect = torch.relu(torch.nn.functional.linear(*(torch.from_numpy(a) for a in (x, w, bias)))).numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    (dot,) = [k for k in fn.lower(x, w, bias).kernels() if isinstance(k, DotKernel)]
    assert (dot.m, dot.n) == (9, 300) and dot.epilogue is not None
    soft = lumina.compile(lambda x, w: F.log_softmax(x @ w.T, dim=-1))(x, w).numpy()
    np.testing.assert_allclose(soft, torch.log_softmax(torch.from_numpy(x) @ torch.from_numpy(w).T, -1).numpy(),
                               rtol=1e-5, atol=1e-5)
