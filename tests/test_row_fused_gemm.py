"""Row-fused GEMMs (``schedule.row_fusion._attach_dot``, ``codegen.kernel.DotKernel.rows``): a row
kernel over whole rows of a GEMM's result runs in the GEMM's kernel. MatMul + bias + ReLU +
LayerNorm, attention scores + softmax and a residual add + LayerNorm compile to one kernel and
agree with PyTorch CPU, forward and backward; with ``FusionOptions.dot_rows`` off they agree too,
in more kernels; what must not fuse is refused with its reason; on random shapes the fused and
unfused programs agree with NumPy.

Oracles: PyTorch CPU (``torch.nn.functional``, float64) and NumPy.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumina
from lumina import compiler
from lumina.codegen.kernel import DotKernel
from lumina.compiler import cache_clear
from lumina.nn import functional as F

RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache_clear()
    yield
    cache_clear()


def _randn(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _compile(f, args, dot_rows: bool):
    """``(outputs as NumPy, kernel descriptions)`` of ``f`` compiled with ``dot_rows`` as given."""
    with compiler.options(dot_rows=dot_rows):
        fn = lumina.compile(f)
        out = fn(*args)
        outs = out if isinstance(out, tuple) else (out,)
        return [o.numpy() for o in outs], fn.lower(*args).kernels()


def _mlp(n):
    return lambda x, w, b, g, be: F.layer_norm((x @ w + b).relu(), n, g, be)


def _torch_mlp(n):
    return lambda x, w, b, g, be: torch.nn.functional.layer_norm(torch.relu(x @ w + b), (n,), g, be)


def _mlp_inputs(lead, k, n):
    return [_randn(*lead, k), _randn(k, n, scale=k ** -0.5), _randn(n), _randn(n), _randn(n)]


# (leading dims, K, N): one row, odd sizes (not multiples of the 6 x 16 register tile), a batched
# [B, T, D] input, M over several MC panels and threads, N over two NC column blocks (1024) so
# the stages run at the last block, K over two K blocks (KC = 512).
SHAPES = [((1,), 8, 16), ((37,), 53, 29), ((4, 33), 24, 40), ((300,), 64, 96), ((24,), 16, 1100),
          ((20,), 600, 48)]


@pytest.mark.parametrize("lead,k,n", SHAPES)
def test_matmul_bias_relu_layer_norm_is_one_kernel_and_matches_torch(lead, k, n):
    arrays = _mlp_inputs(lead, k, n)
    args = [lumina.tensor(a) for a in arrays]
    (got,), kernels = _compile(_mlp(n), args, True)
    assert len(kernels) == 1 and isinstance(kernels[0], DotKernel) and kernels[0].rows is not None, kernels
    assert kernels[0].epilogue is not None    # bias + ReLU on the tile, LayerNorm on the rows
    want = _torch_mlp(n)(*(torch.tensor(a, dtype=torch.float64) for a in arrays)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    (off,), off_kernels = _compile(_mlp(n), args, False)
    assert len(off_kernels) == 2, off_kernels   # the GEMM with its epilogue, then the LayerNorm row kernel
    np.testing.assert_allclose(got, off, rtol=1e-5, atol=1e-5)


def test_float64_and_a_plain_gemm_without_epilogue():
    """A GEMM with no elementwise epilogue still carries the rows (the CPU's epilogue callback runs
    only the stages); float64 runs the double-precision GEMM."""
    x, w = RNG.standard_normal((50, 30)), RNG.standard_normal((30, 20))
    args = [lumina.tensor(x), lumina.tensor(w)]
    (got,), kernels = _compile(lambda x, w: F.layer_norm(x @ w, 20), args, True)
    assert len(kernels) == 1 and kernels[0].rows is not None and kernels[0].epilogue is None
    assert kernels[0].dtype is lumina.float64
    want = torch.nn.functional.layer_norm(torch.tensor(x) @ torch.tensor(w), (20,)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_attention_scores_and_softmax_are_one_kernel_per_head_batch():
    """``softmax(q @ k^T * scale)`` over [B*H, T, T]: many small GEMMs, which the CPU splits over the
    batch, each thread running the stages on its own heads' rows."""
    b, h, t, d = 4, 4, 24, 16
    q, k, v = (_randn(b, h, t, d) for _ in range(3))
    f = lambda q, k, v: F.softmax(q @ k.transpose(-2, -1) * d ** -0.5, -1) @ v   # noqa: E731
    args = [lumina.tensor(a) for a in (q, k, v)]
    (got,), kernels = _compile(f, args, True)
    fused = [kk for kk in kernels if isinstance(kk, DotKernel) and kk.rows is not None]
    assert len(fused) == 1 and fused[0].batch == b * h and fused[0].n == t, kernels
    tq, tk, tv = (torch.tensor(a, dtype=torch.float64) for a in (q, k, v))
    want = (torch.softmax(tq @ tk.transpose(-2, -1) * d ** -0.5, -1) @ tv).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("relu", [False, True])
def test_training_step_gradients_match_torch(relu):
    """Forward and backward of ``sum(LN(act(x @ w + b)) * r)``; every gradient matches torch's.
    The forward GEMM is row-fused and stores C, which the backward reads. With the ReLU, the
    pre-activation is the GEMM's result (the backward reads it too) and the ReLU is a kernel of
    its own between it and the LayerNorm: the row kernel takes it in as its first stage."""
    arrays = _mlp_inputs((40,), 24, 32) + [_randn(40, 32)]

    def layer(x, w, b, g, be):
        y = x @ w + b
        return F.layer_norm(y.relu() if relu else y, 32, g, be)

    def step(x, w, b, g, be, r):
        for p in (w, b, g, be):
            p.requires_grad_(True)
        loss = (layer(x, w, b, g, be) * r).sum()
        loss.backward()
        return loss, w.grad, b.grad, g.grad, be.grad

    args = [lumina.tensor(a) for a in arrays]
    got, kernels = _compile(step, args, True)
    fused = [k for k in kernels if isinstance(k, DotKernel) and k.rows is not None]
    assert len(fused) == 1 and fused[0].n_outputs >= 2, kernels   # C and what the backward reads
    if relu:
        text = lumina.compile(step).lower(*args).partition()
        assert ":full (register" in text.split("(dot+rows)")[1].split("\n")[0], text   # the ReLU, recomputed
    tx, tw, tb, tg, tbe, tr = (torch.tensor(a, dtype=torch.float64) for a in arrays)
    for p in (tw, tb, tg, tbe):
        p.requires_grad_(True)
    y = tx @ tw + tb
    loss = (torch.nn.functional.layer_norm(torch.relu(y) if relu else y, (32,), tg, tbe) * tr).sum()
    loss.backward()
    for ours, theirs in zip(got, (loss.detach(), tw.grad, tb.grad, tg.grad, tbe.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-4)


def test_refusals_name_their_reason():
    """Reductions over the GEMM's columns (axis 0), or stages reading C at another position (a
    column broadcast along each row, row 0 broadcast to every row, directly or through an
    elementwise kernel before the rows), do not fuse, and ``describe()`` says why."""
    x, w = _randn(16, 8), _randn(8, 12)
    args = [lumina.tensor(x), lumina.tensor(w)]
    columns = lumina.compile(lambda x, w: (x @ w).exp().sum(0) + (x @ w).amax(0))
    text = columns.lower(*args).partition()
    assert "(dot+rows)" not in text and "row-fused GEMM: the rows [16, 12] over axes [0] are not the 16 rows" in text
    np.testing.assert_allclose(columns(*args).numpy(), np.exp(x @ w).sum(0) + (x @ w).max(0), rtol=1e-5)

    def other_column(x, w):   # each row also reads its column 1: not the reader's own position
        y = x @ w
        return (y - y[:, 1:2]).exp().sum(-1)

    def other_row(x, w):   # every row reads row 0 of C, which another block of rows computes
        y = x @ w
        return F.softmax(y, -1) * y[:1]

    def through_other_column(x, w):   # the same, through an elementwise kernel before the rows
        y = x @ w
        z = (y * y[:, :1]).exp()
        return F.layer_norm(z, 12), z.sum()

    for f in (other_row, through_other_column):
        text = lumina.compile(f).lower(*args).partition()
        assert "(dot+rows)" not in text and "row-fused GEMM: it reads f32[1,16,12] (a full stage) away from its " \
            "own position" in text, text
    y = x.astype(np.float64) @ w
    e = np.exp(y - y.max(-1, keepdims=True))
    np.testing.assert_allclose(lumina.compile(other_row)(*args).numpy(), e / e.sum(-1, keepdims=True) * y[:1],
                               rtol=1e-5, atol=1e-6)

    fn = lumina.compile(other_column)
    y = x.astype(np.float64) @ w
    np.testing.assert_allclose(fn(*args).numpy(), np.exp(y - y[:, 1:2]).sum(-1), rtol=1e-5)
    text = fn.lower(*args).partition()
    assert "(dot+rows)" not in text and "row-fused GEMM: it reads f32[1,16,12] (a full stage) away from its own " \
        "position" in text, text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.integers(1, 70), k=st.integers(1, 40), n=st.integers(1, 70), batch=st.integers(1, 3),
       op=st.sampled_from(["layer_norm", "softmax", "log_softmax", "rms"]))
def test_random_shapes_fused_and_unfused_agree_with_numpy(m, k, n, batch, op):
    x, w, b = _randn(batch, m, k), _randn(k, n), _randn(n)

    def f(x, w, b):
        y = x @ w + b
        if op == "layer_norm":
            return F.layer_norm(y, n)
        if op == "softmax":
            return F.softmax(y, -1)
        if op == "log_softmax":
            return F.log_softmax(y, -1)
        return y / ((y * y).mean(-1, keepdim=True) + 1e-6).sqrt()

    y = x.astype(np.float64) @ w + b
    if op == "layer_norm":
        want = (y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) + 1e-5)
    elif op == "softmax":
        e = np.exp(y - y.max(-1, keepdims=True))
        want = e / e.sum(-1, keepdims=True)
    elif op == "log_softmax":
        want = y - y.max(-1, keepdims=True) - np.log(np.exp(y - y.max(-1, keepdims=True)).sum(-1, keepdims=True))
    else:
        want = y / np.sqrt((y * y).mean(-1, keepdims=True) + 1e-6)
    args = [lumina.tensor(a) for a in (x, w, b)]
    for dot_rows in (True, False):
        (got,), _ = _compile(f, args, dot_rows)
        # a LayerNorm of one column is 0 up to the rounding of x - mean: absolute tolerance
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 if n > 1 else 1e-3)
