"""Elementwise epilogues fused into the GEMM (lumina.passes.fusion, codegen.llvm_gemm): results
against NumPy (float64 reference), the kernel list, and the partition's record of refused fusions."""
from __future__ import annotations

import math

import numpy as np
import pytest

import lumina
from lumina.codegen.kernel import DotKernel, LoopKernel

RNG = np.random.default_rng(5)


def _randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _check_one_dot_kernel(f, *args):
    """The whole function is one GEMM kernel carrying an epilogue: no separate elementwise kernel."""
    kernels = f.lower(*args).kernels()
    assert [type(k) for k in kernels] == [DotKernel], [k.name for k in kernels]
    assert kernels[0].epilogue is not None


@lumina.compile
def _linear_relu(x, w, b):
    return (x @ w + b).relu()


# (M, K, N): tiny, odd (not multiples of the 6 x 16 tile), K over two K blocks (KC = 512),
# N over two column blocks (NC = 1024).
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (37, 53, 29), (7, 600, 19), (13, 9, 1100)])
def test_matmul_add_relu_matches_numpy(m, k, n):
    x, w, b = _randn(m, k), _randn(k, n), _randn(n)
    ref = np.maximum(x.astype(np.float64) @ w + b, 0)
    np.testing.assert_allclose(np.asarray(_linear_relu(x, w, b)), ref, rtol=1e-4, atol=1e-4)
    _check_one_dot_kernel(_linear_relu, x, w, b)


def test_bias_as_a_column():
    @lumina.compile
    def f(x, w, c):
        return (x @ w + c).relu()
    x, w, c = _randn(21, 35), _randn(35, 18), _randn(21, 1)
    np.testing.assert_allclose(np.asarray(f(x, w, c)), np.maximum(x.astype(np.float64) @ w + c, 0),
                               rtol=1e-4, atol=1e-4)
    _check_one_dot_kernel(f, x, w, c)


def test_transposed_operands():
    @lumina.compile
    def f(xt, wt, b):
        return (xt.T @ wt.T + b).relu()
    xt, wt, b = _randn(45, 31), _randn(23, 45), _randn(23)
    ref = np.maximum(xt.T.astype(np.float64) @ wt.T + b, 0)
    np.testing.assert_allclose(np.asarray(f(xt, wt, b)), ref, rtol=1e-4, atol=1e-4)
    _check_one_dot_kernel(f, xt, wt, b)


@pytest.mark.parametrize("batch", [3, 16])   # 16: threads take whole batch entries (BATCH_SPLIT)
def test_batched_with_per_batch_bias(batch):
    @lumina.compile
    def f(x, w, b):
        return (x @ w + b).relu()
    x, w, b = _randn(batch, 11, 27), _randn(batch, 27, 17), _randn(batch, 1, 17)
    ref = np.maximum(x.astype(np.float64) @ w + b, 0)
    np.testing.assert_allclose(np.asarray(f(x, w, b)), ref, rtol=1e-4, atol=1e-4)
    _check_one_dot_kernel(f, x, w, b)


def test_gelu_epilogue():
    @lumina.compile
    def f(x, w, b):
        return (x @ w + b).gelu()
    x, w, b = _randn(19, 40), _randn(40, 50), _randn(50)
    ref = _gelu(x.astype(np.float64) @ w + b)
    np.testing.assert_allclose(np.asarray(f(x, w, b)), ref, rtol=1e-4, atol=1e-4)
    _check_one_dot_kernel(f, x, w, b)


def test_scale_shift_and_residual():
    """BatchNorm-style per-column scale and shift, a per-row scale and a same-shape residual."""
    @lumina.compile
    def f(x, w, scale, shift, rows, res):
        return ((x @ w) * scale + shift) * rows + res
    x, w, scale, shift, rows, res = (_randn(25, 14), _randn(14, 33), _randn(33), _randn(33),
                                     _randn(25, 1), _randn(25, 33))
    ref = ((x.astype(np.float64) @ w) * scale + shift) * rows + res
    np.testing.assert_allclose(np.asarray(f(x, w, scale, shift, rows, res)), ref, rtol=1e-4, atol=1e-4)
    _check_one_dot_kernel(f, x, w, scale, shift, rows, res)


def test_shared_pre_activation_is_the_epilogue_root():
    """A pre-activation read by two kernels (an activation and a reduction) is computed once, as
    the GEMM's epilogue, and the dot result gets no buffer of its own."""
    @lumina.compile
    def f(x, w, b):
        h = x @ w + b
        return h.relu(), h.sum(0)
    x, w, b = _randn(9, 12), _randn(12, 10), _randn(10)
    h = x.astype(np.float64) @ w + b
    got_relu, got_sum = f(x, w, b)
    np.testing.assert_allclose(np.asarray(got_relu), np.maximum(h, 0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(got_sum), h.sum(0), rtol=1e-4, atol=1e-4)
    lowered = f.lower(x, w, b)
    kernels = lowered.kernels()
    assert isinstance(kernels[0], DotKernel) and kernels[0].epilogue is not None
    assert "(dot+epilogue)" in lowered.partition()


def test_refused_candidates_are_described():
    """A dot read by a reduction and a dot read through a permute are not fused; describe() says
    why, next to the kernels."""
    @lumina.compile
    def f(x, w, v):
        return (x @ w).sum(1), (x @ v).T + 1.0
    x, w, v = _randn(8, 6), _randn(6, 5), _randn(6, 7)
    s, t = f(x, w, v)
    np.testing.assert_allclose(np.asarray(s), (x.astype(np.float64) @ w).sum(1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(t), (x.astype(np.float64) @ v).T + 1, rtol=1e-4, atol=1e-4)
    text = f.lower(x, w, v).partition()
    refused = [line for line in text.splitlines() if line.startswith("refused:")]
    assert any(":dot into the kernel of" in r and "the reader is a reduce kernel" in r for r in refused), text
    assert any(":dot into the kernel of" in r and "permute between the dot and the kernel's root changes the index" in r
               for r in refused), text
    assert sum(isinstance(k, LoopKernel) for k in f.lower(x, w, v).kernels()) == 2


def test_recompute_budget_refusal_is_described():
    """An expensive value with two readers is materialised, not recomputed in each, and the
    partition names the budget it would exceed."""
    @lumina.compile
    def f(x):
        e = x.exp()
        return e.sum(0), e.max(1)
    x = _randn(6, 5)
    s, m = f(x)
    np.testing.assert_allclose(np.asarray(s), np.exp(x.astype(np.float64)).sum(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(m), np.exp(x.astype(np.float64)).max(1), rtol=1e-5)
    text = f.lower(x).partition()
    assert any(line.startswith("refused: ") and ":exp: 2 readers: inlining would recompute" in line
               and "RECOMPUTE_BUDGET 2" in line for line in text.splitlines()), text
