"""The Triton renderer (``backends.cuda.triton``) run under Triton's CPU interpreter (``TRITON_INTERPRET=1``,
on CPU torch tensors) against the CPU backend: every kernel of the example programs
(``testing.programs``, the pretrained paraphrase-MiniLM-L3 among them) with the buffers it really
reads (``testing.kernels.capture``), compared by ``testing.kernels.assert_matches``, and
hand-built kernels (``testing.kernel_builders``) for each expression kind, dtype rule and kernel
shape, checked against the CPU backend or NumPy.

The interpreter is switched on per test (``monkeypatch``), and ``backends.cuda.jit`` imports the
rendered modules with the variable set, so other tests in the process see no change.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lumina.codegen import expr as E
from lumina.backends.cuda import triton as tr
from lumina.codegen.expr import KOp
from lumina.codegen.kernel import Buffer, DotKernel, LoopKernel, Operand, Reduce, RowKernel, Stage
from lumina.errors import LuminaCodegenError, LuminaDeviceError
from lumina.ir.dtypes import DType
from lumina.ir.ops import Op
from lumina.backends.cuda import jit as triton_jit
from lumina.testing.kernel_builders import (SPECIAL, UNARY, binary_inputs, binary_kernel,
                                            dot_bias_relu_layer_norm, dot_bias_relu_permuted, elementwise,
                                            floor_index_kernel, layer_norm_reference, mean_var_norm,
                                            plain_dot, rand_kernel, reduction, rounding_inputs,
                                            rounding_kernels, select_kernel, softmax_rows, sum_of)
from lumina.testing.kernels import assert_matches, canonical, cpu_outputs
from lumina.testing.programs import program_cases

F32, F64, F16, BF16, I32, I64, BOOL = (DType.float32, DType.float64, DType.float16, DType.bfloat16,
                                       DType.int32, DType.int64, DType.bool)


@pytest.fixture(autouse=True)
def interpreter(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path_factory.getbasetemp() / "lumina_cache"))


def to_torch(x: np.ndarray) -> torch.Tensor:
    """A flat CPU tensor copy of ``x`` (bfloat16 through its bits: torch cannot read ml_dtypes)."""
    x = np.ascontiguousarray(x).reshape(-1).copy()
    if x.dtype == BF16.numpy:
        return torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(x)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    if t.dtype is torch.bfloat16:
        return t.view(torch.int16).numpy().view(BF16.numpy)
    return t.numpy()


def run(desc, inputs) -> list[np.ndarray]:
    """``desc`` through the Triton launcher on CPU torch tensors: its outputs as NumPy arrays."""
    n_out = desc.n_outputs
    # outputs start as garbage (77), so an element the kernel fails to write shows
    outs = [to_torch(np.full(b.numel, 77).astype(b.dtype.numpy)) for b in desc.buffers[-n_out:]]
    triton_jit.launcher(desc)([to_torch(x) for x in inputs] + outs)
    return [to_numpy(o) for o in outs]


# ---- the example programs (``testing.programs``) ------------------------------------------------

PROGRAMS = ("digits_mlp", "convnet", "micro_gpt", "onnx_digits_mlp", "onnx_gpt2")
"""The example programs whose every kernel runs under the interpreter (and compiles for sm_90 in
test_triton_aot)."""
AUTOCAST = ("amp_float16", "amp_bfloat16")
"""Steps under autocast (16-bit GEMMs, row kernels and casts), run here only."""
MODELS = ("minilm",)
"""Pretrained models from the package index (``testing.registry``), run here only."""


def _assert_program_matches(program: str, cases) -> None:
    assert any(isinstance(c.kernel, DotKernel) for c in cases), program
    for c in cases:
        outputs = run(canonical(c.kernel), c.inputs)
        assert len(outputs) == len(c.outputs)
        for i, (got, want) in enumerate(zip(outputs, c.outputs)):
            what = f"{program}: {c.kernel.name} output {i}: {c.kernel.source}"
            assert_matches(got, want, c.inputs, what, c.kernel)


@pytest.mark.parametrize("program", PROGRAMS + AUTOCAST)
def test_program_kernels_match_cpu(program):
    _assert_program_matches(program, program_cases(program))


@pytest.fixture(scope="module")
def model_cases():
    """The models' captured kernels, built before ``interpreter`` points ``LUMINA_CACHE`` at a
    temporary folder: the registry reads its models from the real cache (or fails, not skips,
    when it cannot download them)."""
    return {name: program_cases(name) for name in MODELS}


@pytest.mark.parametrize("model", MODELS)
def test_pretrained_model_kernels_match_cpu(model, model_cases):
    cases = model_cases[model]
    assert {RowKernel, LoopKernel, DotKernel} <= {type(c.kernel) for c in cases}, model
    _assert_program_matches(model, cases)


# ---- hand-built kernels against the CPU backend and NumPy -------------------------------------------

@pytest.mark.parametrize("dt", [F32, F64])
def test_every_unary_op_matches_numpy(dt):
    x = np.concatenate([SPECIAL, np.random.default_rng(1).normal(0, 4, 200).astype(np.float32),
                        np.linspace(-0.7, 0.7, 57, dtype=np.float32)]).astype(dt.numpy)
    with np.errstate(all="ignore"):
        for op, ref in UNARY.items():
            k = elementwise(f"k_{op.value}_{dt.name}", [dt], dt, x.size, lambda a, op=op: E.Un(op, a, dt))
            got = run(k, [x])[0]
            want = ref(x.astype(np.float64)).astype(dt.numpy)    # the exact result, rounded
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=op)
            tol = 3e-6 if dt is F32 else 1e-13
            np.testing.assert_allclose(got, want, rtol=tol, atol=1e-300 if dt is F64 else 1e-7,
                                       equal_nan=True, err_msg=op)
            if dt is F32 and op not in (Op.EXP, Op.LOG, Op.ERF, Op.SIN, Op.COS):
                # polynomials the CPU shares (tanh) and exact ops: close to the CPU's bits too
                np.testing.assert_allclose(got, cpu_outputs(k, [x])[0], rtol=2e-7, equal_nan=True, err_msg=op)


def test_integer_and_bool_unary_ops_match_cpu():
    kernels = [(elementwise(f"k_abs_neg_{dt.name}", [dt], dt, 6,
                            lambda a, dt=dt: E.Bin(Op.ADD, E.Un(Op.ABS, a, dt), E.Un(Op.NEG, a, dt), dt)),
                np.array([0, 5, -7, np.iinfo(dt.numpy).max, np.iinfo(dt.numpy).min, -1], dt.numpy))
               for dt in (I32, I64)]
    kernels.append((elementwise("k_not", [BOOL], BOOL, 2, lambda a: E.Un(Op.NOT, a, BOOL)),
                    np.array([True, False])))
    for k, v in kernels:
        np.testing.assert_array_equal(run(k, [v])[0], cpu_outputs(k, [v])[0], err_msg=k.name)


def test_binary_ops_casts_and_select_match_cpu_backend():
    n = 12
    inputs = binary_inputs()
    every = (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MAXIMUM, Op.MINIMUM, Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE)
    ops = [(binary_kernel(op, dt, n), inputs[dt]) for dt in (I32, I64, F32) for op in every]
    ops += [(binary_kernel(op, BOOL, 4), inputs[BOOL]) for op in (Op.AND, Op.OR)]
    ops.append((select_kernel(n), inputs[F32]))
    casts = [(F32, I32), (F32, BOOL), (BOOL, F32), (BOOL, I64), (I64, I32), (I32, I64), (I64, F64),
             (F64, F32), (F32, F64), (I32, BOOL)]
    values = {F32: np.array([1.5, -2.5, 0.0, -0.0, np.nan, 7.9, -7.9, 1e9, 3.0, 0.1, 2.0**31 - 128, -2.0**31], np.float32),
              I32: inputs[I32][0], I64: np.array([2**40 + 3, -2**40 - 1, 0, 1, -1, 2**31, 2**53 + 1, 5, 6, 7, 8, -9]),
              F64: np.array([1e300, -1e-300, 0.1, 1 / 3, np.nan, -np.inf, 3.0, 2.5, -2.5, 1e-50, 7.0, 8.0]),
              BOOL: np.array([1, 0] * 6, bool)}
    for src, dst in casts:
        x = values[src]
        if src is F32 and dst is I32:
            x = np.where(np.isfinite(x), x, 0).astype(np.float32)   # out-of-range float -> int is undefined
        ops.append((elementwise(f"k_cast_{src.name}_{dst.name}", [src], dst, n, lambda a, dst=dst: E.Cast(a, dst)), [x]))
    with np.errstate(all="ignore"):
        for k, inputs in ops:
            got, want = run(k, inputs)[0], cpu_outputs(k, inputs)[0]
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want, err_msg=k.name)   # every op here is exact


def test_scalar_operands_meet_blocks_in_every_op():
    """A value read at a fixed position (a 0-d tensor in Triton) combined with a block: and/or of
    bools, NaN-propagating maximum/minimum with the scalar first, pow, floor modulo."""
    n = 12
    i = E.Var("i0", n)
    s, x = E.Load(0, E.iconst(0), F32), E.Load(1, i, F32)
    cond = E.Bin(Op.OR, E.Bin(Op.LT, s, x, BOOL), E.Bin(Op.AND, E.Bin(Op.EQ, s, s, BOOL), E.Bin(Op.GT, x, s, BOOL), BOOL), BOOL)
    value = sum_of([E.Select(cond, E.Bin(Op.MAXIMUM, s, x, F32), E.Bin(Op.MINIMUM, s, x, F32), F32),
                     E.Bin(Op.POW, s, x, F32), E.Bin(Op.POW, x, s, F32),
                     E.Cast(E.Bin(KOp.MOD, E.Bin(Op.SUB, E.Load(2, E.iconst(0), I64), i, I64), E.iconst(5), I64), F32)], F32)
    k = LoopKernel("k_scalar_block", (Buffer(F32, 1), Buffer(F32, n), Buffer(I64, 1), Buffer(F32, n)), (i,), (),
                   None, value)
    xs = np.array([0.5, 1.0, 2.0, 3.0, 1.5, np.nan, 2.5, 4.0, 1.25, 3.5, 1.75, 2.25], np.float32)
    for scalar in (2.0, np.nan):
        inputs = [np.array([scalar], np.float32), xs, np.array([20])]   # 20 - i >= 0: the CPU's srem agrees
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(run(k, inputs)[0], cpu_outputs(k, inputs)[0], rtol=1e-6, equal_nan=True)


def test_pow_follows_c_rules_and_rounds_correctly():
    x = np.array([2.0, -2.0, -2.0, 0.0, 0.0, 0.0, 1.0, np.nan, 3.7, 0.5, -8.0, 10.0], np.float32)
    y = np.array([10.0, 3.0, 0.5, 2.0, -1.0, 0.0, np.nan, 0.0, 2.2, -3.3, 1 / 3, 30.0], np.float32)
    k = elementwise("k_pow", [F32, F32], F32, x.size, lambda a, b: E.Bin(Op.POW, a, b, F32))
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), y.astype(np.float64)).astype(np.float32)
        np.testing.assert_allclose(run(k, [x, y])[0], want, rtol=1e-7, equal_nan=True)
        np.testing.assert_allclose(run(k, [x, y])[0], cpu_outputs(k, [x, y])[0], rtol=1e-7, equal_nan=True)


def test_index_floordiv_and_mod_floor_for_negative_dividends():
    """Index arithmetic floors like Python's // and % (the simplifier's meaning of the nodes)."""
    k, want = floor_index_kernel()
    np.testing.assert_array_equal(run(k, [])[0], want)


def test_int64_positions_past_2_to_the_31():
    """Indices beyond int32: a gather through 2**33 + i, and the rand counter, stay exact."""
    n = 64
    i = E.Var("i0", n)
    far = E.Bin(Op.ADD, E.Bin(Op.MUL, i, E.iconst(2**33), I64), E.iconst(2**31 + 5), I64)
    value = E.Bin(Op.SUB, E.Bin(KOp.FLOORDIV, far, E.iconst(2**33), I64),
                  E.Bin(KOp.MOD, far, E.iconst(2**31), I64), I64)
    k = LoopKernel("k_big", (Buffer(I64, n),), (i,), (), None, value)
    big = np.arange(n, dtype=np.int64) * 2**33 + 2**31 + 5
    np.testing.assert_array_equal(run(k, [])[0], big // 2**33 - big % 2**31)
    r = LoopKernel("k_rand_far", (Buffer(F32, n),), (i,), (), None, E.Rand(E.iconst(7), far, F32))
    np.testing.assert_array_equal(run(r, [])[0], cpu_outputs(r, [])[0])


def test_reductions_propagate_nan_and_match_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 3000)).astype(np.float32)   # longer than one BLOCK_R chunk
    x[1, 17] = np.nan
    x[2, 2999] = np.nan
    x[3, :] = -np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(run(reduction("k_max", F32, 5, 3000, Reduce.MAX), [x])[0], x.max(1))
        np.testing.assert_allclose(run(reduction("k_sum", F32, 5, 3000, Reduce.SUM), [x])[0],
                                   x.astype(np.float64).sum(1), rtol=1e-5)
    xi = rng.integers(-2**62, 2**62, (3, 70))
    np.testing.assert_array_equal(run(reduction("k_imax", I64, 3, 70, Reduce.MAX), [xi])[0], xi.max(1))
    xs = rng.integers(-2**31, 2**31 - 1, (3, 1000), dtype=np.int32)
    np.testing.assert_array_equal(run(reduction("k_isum", I32, 3, 1000, Reduce.SUM), [xs])[0],
                                  xs.sum(1, dtype=np.int32))   # wraps
    # reduce_outer is the CPU's schedule; the result is the same
    y = rng.normal(size=(7, 33)).astype(np.float32)
    k = reduction("k_outer", F32, 7, 33, Reduce.SUM, outer=True)
    np.testing.assert_allclose(run(k, [y])[0], cpu_outputs(k, [y])[0], rtol=1e-6)


def test_rand_bits_equal_the_cpu_backend():
    n = 3000
    for dt in (F32, F64, F16, BF16):
        k = rand_kernel(dt, n)
        for seed in (0, 12345, -3):
            key_buf = np.array([seed], np.int64)
            got, want = run(k, [key_buf])[0], cpu_outputs(k, [key_buf])[0]
            np.testing.assert_array_equal(got, want, err_msg=f"{dt.name} key {seed}")
            assert 0.0 <= got.astype(np.float64).min() and got.astype(np.float64).max() < 1.0


def test_16bit_floats_round_after_every_op_like_the_cpu_backend():
    rng = np.random.default_rng(3)
    n = 2048
    with np.errstate(all="ignore"):
        for dt in (F16, BF16):   # the chain includes tanh: the polynomial the CPU shares
            for k, xs in zip(rounding_kernels(dt, n), rounding_inputs(dt, n, rng)):
                got, want = run(k, xs)[0], cpu_outputs(k, xs)[0]
                nan = np.isnan(want.astype(np.float32))
                np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan, err_msg=k.name)
                np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan], err_msg=k.name)


def test_16bit_sum_accumulates_in_float32_and_rounds_once():
    x = np.full((2, 3000), 1.0, np.float16)   # rounding each partial sum to f16 would stall at 2048
    x[1] = np.float16(0.1)
    got = run(reduction("k_sum_f16", F16, 2, 3000, Reduce.SUM), [x])[0]
    np.testing.assert_array_equal(got, x.astype(np.float32).sum(1).astype(np.float16))


# ---- GEMM ---------------------------------------------------------------------------------------------

def test_dot_kernel_with_strided_operands_epilogue_and_permuted_output():
    batch, m, n, k = 2, 21, 19, 70
    rng = np.random.default_rng(4)
    a_t = rng.normal(size=(batch, k, m)).astype(np.float32)   # A is read through a transposed view
    b = rng.normal(size=(k, n)).astype(np.float32)            # B is shared by the batch (stride 0)
    bias = rng.normal(size=n).astype(np.float32)
    desc = dot_bias_relu_permuted(batch, m, n, k)              # C[b, m, n] at [n, b, m]: NHWC-like
    got = run(desc, [a_t, b, bias])[0].reshape(n, batch, m)
    want = np.maximum(np.einsum("bkm,kn->bmn", a_t.astype(np.float64), b) + bias, 0)
    np.testing.assert_allclose(got, want.transpose(2, 0, 1), rtol=1e-5, atol=1e-5)
    # the same GEMM without its epilogue, stored through c_strides alone
    plain = dataclasses.replace(desc, name="k_dot_strided", buffers=desc.buffers[:2] + desc.buffers[3:],
                                epilogue=None)
    got = run(plain, [a_t, b])[0].reshape(n, batch, m)
    np.testing.assert_allclose(got, np.einsum("bkm,kn->nbm", a_t.astype(np.float64), b), rtol=1e-5, atol=1e-5)


def test_dot_kernel_rebatched_offset_views_float64_and_integers():
    """A batch-1 GEMM over offset views, the per-batch GEMMs of a conv over N images (an output
    offset per batch through c_strides), float64, and int64 (register products, wrapping)."""
    rng = np.random.default_rng(6)
    n_img, o, hw, kk = 3, 5, 36, 12     # conv as [O, K] @ [N, K, HW] -> [N, O, HW]
    w = rng.normal(size=(o, kk)).astype(np.float64)
    cols = rng.normal(size=(n_img, kk, hw)).astype(np.float64)
    pad = np.concatenate([np.zeros(4), cols.reshape(-1)])   # operand B starts 4 elements in
    desc = DotKernel("k_conv_gemm", (Buffer(F64, w.size), Buffer(F64, pad.size), Buffer(F64, n_img * o * hw)),
                     F64, n_img, o, hw, kk, Operand(0, 0, (0, kk, 1)), Operand(1, 4, (kk * hw, hw, 1)),
                     c_strides=(o * hw, hw, 1))
    got = run(desc, [w, pad])[0].reshape(n_img, o, hw)
    np.testing.assert_allclose(got, np.einsum("ok,nkh->noh", w, cols), rtol=1e-12)
    # more tile rows than a group (GROUP_M) and ragged edges, over a batch of 2
    a, b = rng.normal(size=(2, 600, 40)).astype(np.float32), rng.normal(size=(2, 40, 130)).astype(np.float32)
    tiles = DotKernel("k_tiles", (Buffer(F32, a.size), Buffer(F32, b.size), Buffer(F32, 2 * 600 * 130)), F32,
                      2, 600, 130, 40, Operand(0, 0, (600 * 40, 40, 1)), Operand(1, 0, (40 * 130, 130, 1)))
    np.testing.assert_allclose(run(tiles, [a, b])[0].reshape(2, 600, 130), a.astype(np.float64) @ b,
                               rtol=1e-5, atol=1e-5)
    # float16 operands multiply into a float32 accumulator, rounded once at the store
    ah, bh = rng.normal(size=(6, 40)).astype(np.float16), rng.normal(size=(40, 17)).astype(np.float16)
    half = plain_dot(F16, 6, 17, 40)
    want = (ah.astype(np.float64) @ bh.astype(np.float64)).astype(np.float16).reshape(-1)
    got = run(half, [ah, bh])[0]
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=1e-3, atol=1e-3)
    ai, bi = rng.integers(-2**40, 2**40, (6, 40)), rng.integers(-2**30, 2**30, (40, 17))
    plain = plain_dot(I64, 6, 17, 40)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(run(plain, [ai, bi])[0], (ai @ bi).reshape(-1))


# ---- row-fused GEMMs (``DotKernel.rows``) ---------------------------------------------------------------

def layer_norm_inputs(batch: int, m: int, n: int, k: int, seed: int = 9) -> list[np.ndarray]:
    """A, B, bias, gamma, beta for ``dot_bias_relu_layer_norm(batch, m, n, k)``."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, m, k)).astype(np.float32), rng.normal(size=(k, n)).astype(np.float32),
            rng.normal(size=n).astype(np.float32), rng.normal(1, 0.5, n).astype(np.float32),
            rng.normal(size=n).astype(np.float32)]


def assert_layer_norm_outputs(got, inputs, what: str) -> None:
    for name, g, w in zip(("C", "mean", "rstd", "y"), got, layer_norm_reference(*inputs)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=f"{what}: {name}")


@pytest.mark.parametrize("batch, m, n, k", [
    (1, 5, 300, 17),     # one program; N over several BLOCK_N tiles, not a multiple of them
    (3, 40, 96, 24),     # a batch; M not a multiple of BLOCK_M
    (2, 70, 20, 9),      # several row blocks per batch entry; N below one tile
    (2, 33, 130, 0),     # K = 0: C = relu(bias)
])
def test_row_fused_gemm_layer_norm_matches_numpy(batch, m, n, k):
    desc = dot_bias_relu_layer_norm(batch, m, n, k)
    assert desc.n_outputs == 4 and desc.c_buf == 5
    inputs = layer_norm_inputs(batch, m, n, k)
    got = run(desc, inputs)
    assert len(got) == 4
    assert_layer_norm_outputs(got, inputs, desc.name)


def test_row_fused_gemm_every_configuration_gives_the_same_result():
    desc = dot_bias_relu_layer_norm(2, 40, 100, 24)
    geo = tr.geometry(desc)
    assert geo.params == ("BLOCK_M", "BLOCK_N", "BLOCK_K", "BLOCK_R")
    assert {16, 32} <= {c["BLOCK_M"] for c in geo.configs}          # few rows: small blocks
    for c in geo.configs:
        assert c["BLOCK_M"] * c["BLOCK_N"] <= 8192 and c["BLOCK_M"] * c["BLOCK_R"] <= 8192, c
        assert geo.grid(c) == (2 * -(-40 // c["BLOCK_M"]),)     # batch x row blocks, all N in one program
    inputs = layer_norm_inputs(2, 40, 100, 24)
    launch = triton_jit.launcher(desc)
    first = None
    for config in geo.configs:
        launch.config = dict(config)
        got = run(desc, inputs)
        assert_layer_norm_outputs(got, inputs, f"{config}")
        if first is None:
            first = got
        for g, f in zip(got, first):   # BLOCK_K and BLOCK_R change only the summation order
            np.testing.assert_allclose(g, f, rtol=1e-5, atol=1e-6, err_msg=f"{config}")


def scores_softmax(batch: int, m: int, n: int, k: int) -> DotKernel:
    """``k_scores_softmax``: float32 ``softmax(A @ B, -1)`` over a batch of per-entry A ``[m, k]``
    and B ``[k, n]``, with no epilogue (C stored through ``c_strides``): the attention-scores
    shape of row fusion. Outputs: C, then the softmax."""
    rows = batch * m
    r, j = E.Var("r", rows), E.Var("j", n)
    c = E.Load(2, E.affine_sum([(n, r), (1, j)]), F32)
    shifted = E.Un(Op.EXP, E.Bin(Op.SUB, c, E.Acc(0, F32), F32), F32)
    stages = (Stage((j,), Reduce.MAX, c, None, None),
              Stage((j,), Reduce.SUM, shifted, None, None),
              Stage((j,), None, E.Bin(Op.DIV, shifted, E.Acc(1, F32), F32), 3, E.affine_sum([(n, r), (1, j)])))
    bufs = (Buffer(F32, batch * m * k), Buffer(F32, batch * k * n), Buffer(F32, rows * n), Buffer(F32, rows * n))
    return DotKernel("k_scores_softmax", bufs, F32, batch, m, n, k, Operand(0, 0, (m * k, k, 1)),
                     Operand(1, 0, (k * n, n, 1)), c_strides=(m * n, n, 1),
                     rows=RowKernel("k_scores_softmax_rows", bufs, 1, (r,), stages))


def test_row_fused_gemm_without_epilogue_softmax_matches_numpy():
    batch, m, n, k = 2, 19, 45, 16
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(batch, m, k)).astype(np.float32), rng.normal(size=(batch, k, n)).astype(np.float32)
    a[1, 4, 0] = np.nan                      # a NaN row stays NaN, the others do not see it
    desc = scores_softmax(batch, m, n, k)
    c, p = run(desc, [a, b])
    with np.errstate(invalid="ignore"):
        want_c = a.astype(np.float64) @ b
        e = np.exp(want_c - want_c.max(-1, keepdims=True))
        np.testing.assert_allclose(c.reshape(batch, m, n), want_c, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(p.reshape(batch, m, n), e / e.sum(-1, keepdims=True), rtol=2e-5, atol=1e-7)
    assert np.isnan(p.reshape(batch, m, n)[1, 4]).all() and np.isfinite(np.delete(p.reshape(-1, n), 1 * m + 4, 0)).all()


def test_row_fused_gemm_renders_one_program_per_row_block():
    """The shape of the source: the N loop around the unfused tile's K loop, a barrier, then the
    row stages over the program's rows; unfused GEMMs keep their tile grid and store C at ``c_buf``."""
    src = tr.render(dot_bias_relu_layer_norm(2, 40, 96, 24))
    body = src[src.index("def k_dot_ln("):]
    assert body.count("@triton.jit") == 0 and "BLOCK_R: tl.constexpr" in body
    loop, barrier, stage = body.index("for n0 in range(0, 96, BLOCK_N)"), body.index("tl.debug_barrier()"), \
        body.index("# stage 0")
    assert loop < body.index("tl.dot(") < body.index("tl.store(p5 ") < barrier < stage
    assert "row = (bat * 40 + m)[:, None]" in body and "tiles_n" not in body
    plain = tr.render(dot_bias_relu_permuted(2, 21, 19, 70))
    assert "tiles_n" in plain and "debug_barrier" not in plain and "tl.store(p3 " in plain
    d = dot_bias_relu_layer_norm(2, 4, 8, 3)
    with pytest.raises(LuminaCodegenError, match="k_dot_ln: a row-fused GEMM's rows must be one loop over"):
        tr.render(dataclasses.replace(d, rows=dataclasses.replace(d.rows, domain=(E.Var("r", 4),))))
    with pytest.raises(LuminaCodegenError, match="k_dot_ln: a row-fused GEMM stores C row-major"):
        tr.render(dataclasses.replace(d, c_strides=(32, 1, 4)))


# ---- row kernels --------------------------------------------------------------------------------------

def test_hand_built_row_kernels_match_numpy_and_the_cpu():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 5, (6, 3000)).astype(np.float32)    # rows longer than one chunk
    x[2, 7] = np.nan                       # a NaN row stays NaN (max propagates it)
    x[3] += 80.0                           # exp would overflow without the max shift
    softmax = softmax_rows(6, 3000)
    with np.errstate(invalid="ignore"):
        got = run(softmax, [x])[0].reshape(6, 3000)
        e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
        np.testing.assert_allclose(got, e / e.sum(1, keepdims=True), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(got.reshape(-1), cpu_outputs(softmax, [x])[0], rtol=2e-5, atol=1e-9)
    y = rng.normal(3, 2, (5, 77)).astype(np.float32)
    mean, var, norm = run(mean_var_norm(5, 77), [y])
    y64 = y.astype(np.float64)
    np.testing.assert_allclose(mean, y64.mean(1), rtol=1e-5)
    np.testing.assert_allclose(var, y64.var(1), rtol=1e-4)
    np.testing.assert_allclose(norm.reshape(5, 77), (y64 - y64.mean(1, keepdims=True)) /
                               np.sqrt(y64.var(1, keepdims=True) + 1e-5), rtol=1e-4, atol=1e-5)
    # bfloat16: stages read a reduction at bfloat16 precision, as the CPU backend does
    k = mean_var_norm(4, 50, BF16)
    yb = y[:4, :50].astype(BF16.numpy)
    for got_b, want_b in zip(run(k, [yb]), cpu_outputs(k, [yb])):
        np.testing.assert_allclose(got_b.astype(np.float32), want_b.astype(np.float32), rtol=1e-2)


def test_row_kernel_with_two_domain_loops_a_scalar_stage_and_computed_output_positions():
    """Stages that store one value per row (no loops of their own) at positions computed from the
    domain (reversed rows), behind a reduction whose temporaries live outside the stage loops."""
    rows, chans, cols = 5, 3, 40
    i, c, j = E.Var("i0", rows), E.Var("c0", chans), E.Var("j0", cols)
    x = E.Load(0, E.affine_sum([(chans * cols, i), (cols, c), (1, j)]), F32)
    reversed_row = E.affine_sum([(-chans, i), (1, c)], (rows - 1) * chans)
    stages = (Stage((j,), Reduce.SUM, x, 1, reversed_row),
              Stage((), None, E.Bin(Op.MUL, E.Acc(0, F32), E.Un(Op.EXP, E.Cast(c, F32), F32), F32), 2, reversed_row),
              Stage((j,), Reduce.MAX, E.Bin(Op.SUB, x, E.Acc(0, F32), F32), 3,
                    E.affine_sum([(1, reversed_row)], 0)))
    bufs = (Buffer(F32, rows * chans * cols),) + (Buffer(F32, rows * chans),) * 3
    k = RowKernel("k_rows2", bufs, 3, (i, c), stages)
    xv = np.random.default_rng(7).normal(size=(rows, chans, cols)).astype(np.float32)
    got = run(k, [xv])
    for g, w in zip(got, cpu_outputs(k, [xv])):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    s = xv.astype(np.float64).sum(2)
    np.testing.assert_allclose(got[0].reshape(rows, chans)[::-1], s, rtol=1e-5)
    np.testing.assert_allclose(got[1].reshape(rows, chans)[::-1], s * np.exp(np.arange(chans)), rtol=1e-5)
    np.testing.assert_allclose(got[2].reshape(rows, chans)[::-1], (xv - s[..., None]).max(2), rtol=1e-5)


def hand_built_kernels() -> list:
    """Kernels that exercise what the example programs may not: every unary and binary op in
    float32, float64 and the 16-bit floats, casts, integer division, floor index arithmetic,
    ``rand`` in every float dtype, integer and 16-bit reductions, float64 and int64 GEMMs, a GEMM
    epilogue with permuted strides, and row kernels."""
    kernels = []
    for dt in (F32, F64, F16, BF16):
        def every_op(a, b, dt=dt):
            unary = [E.Un(op, a, dt) for op in UNARY]
            binary = [E.Bin(op, a, b, dt) for op in (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM)]
            compare = [E.Cast(E.Bin(op, a, b, BOOL), dt) for op in sorted(E.COMPARE, key=lambda op: op.value)]
            noise = E.Rand(E.iconst(3), E.Var("i0", 64), dt)
            return sum_of(unary + binary + compare + [noise, E.Cast(E.Cast(a, I32), dt)], dt)
        kernels.append(elementwise(f"k_ops_{dt.name}", [dt, dt], dt, 64, every_op))
    for dt in (I32, I64):
        def int_ops(a, b, dt=dt):
            ops = [E.Bin(op, a, b, dt) for op in (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MAXIMUM, Op.MINIMUM)]
            ops += [E.Un(Op.ABS, a, dt), E.Un(Op.NEG, b, dt), E.Cast(E.Bin(Op.AND, E.Bin(Op.LT, a, b, BOOL),
                                                                           E.Un(Op.NOT, E.Bin(Op.EQ, a, b, BOOL), BOOL), BOOL), dt)]
            # a dividend whose bounds are unknown (the floor-division path; its values are >= 0,
            # where the CPU's truncating division agrees; negative ones: the floordiv test above)
            dividend = E.Cast(E.Un(Op.ABS, a, dt), I64)
            ops += [E.Cast(E.Bin(KOp.FLOORDIV, dividend, E.iconst(7), I64), dt),
                    E.Cast(E.Bin(KOp.MOD, dividend, E.iconst(7), I64), dt)]
            return sum_of(ops, dt)
        kernels.append(elementwise(f"k_ops_{dt.name}", [dt, dt], dt, 64, int_ops))
    kernels += [reduction("k_max_f32", F32, 3, 300, Reduce.MAX), reduction("k_sum_i32", I32, 3, 300, Reduce.SUM),
                reduction("k_max_i64", I64, 3, 30, Reduce.MAX), reduction("k_sum_f16", F16, 3, 3000, Reduce.SUM),
                reduction("k_max_bf16", BF16, 3, 30, Reduce.MAX), softmax_rows(6, 3000), mean_var_norm(5, 77, BF16)]
    kernels.append(dot_bias_relu_permuted(2, 21, 19, 70))
    kernels.append(dot_bias_relu_layer_norm(2, 40, 96, 24))
    kernels += [plain_dot(dt, 6, 17, 40) for dt in (F64, I64, F16)]
    return kernels


def test_hand_built_kernels_match_cpu():
    """The kernels the AOT test compiles (every op per dtype, summed; reductions; row kernels) give
    the CPU backend's results under the interpreter. Inputs in [0.5, 2): every op stays finite.
    16-bit floats round after every op, so an exp or erf one float32 ulp apart may round to
    neighbouring 16-bit values and the difference propagates: 2e-2 relative for them."""
    rng = np.random.default_rng(8)
    for k in hand_built_kernels():
        if isinstance(k, DotKernel):
            continue
        n_in = len(k.buffers) - k.n_outputs
        inputs = [(rng.integers(1, 50, b.numel) * rng.choice([-1, 1], b.numel)).astype(b.dtype.numpy)
                  if b.dtype.is_int else rng.uniform(0.5, 2.0, b.numel).astype(b.dtype.numpy)
                  for b in k.buffers[:n_in]]
        for got, want in zip(run(k, inputs), cpu_outputs(k, inputs)):
            assert np.isfinite(want.astype(np.float64)).all(), k.name
            if want.dtype.kind != "f":
                np.testing.assert_array_equal(got, want, err_msg=k.name)
            else:
                rtol = 2e-2 if k.buffers[-1].dtype.is_half else 1e-5
                np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                                           atol=1e-6, err_msg=k.name)


# ---- the launcher ---------------------------------------------------------------------------------------

def test_launcher_caches_and_checks_its_buffers():
    k = elementwise("k_twice", [F32], F32, 10, lambda a: E.Bin(Op.ADD, a, a, F32))
    first = triton_jit.launcher(k)
    assert triton_jit.launcher(k) is first and triton_jit.interpreting()
    assert first.name == "k_twice" and "@triton.jit" in first.source and "def k_twice(p0, p1, BLOCK" in first.source
    assert first.geometry.grid({"BLOCK": 4}) == (3,)
    empty = DotKernel("k_empty", (Buffer(F32, 0), Buffer(F32, 0), Buffer(F32, 0)), F32, 1, 0, 5, 0,
                      Operand(0, 0, (0, 0, 1)), Operand(1, 0, (0, 5, 1)))
    assert tr.geometry(empty).grid({"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16}) == (0,)
    assert run(empty, [np.zeros(0, np.float32), np.zeros(0, np.float32)])[0].shape == (0,)
    # K = 0: C is all zeros
    zero_k = DotKernel("k_zero_k", (Buffer(F32, 0), Buffer(F32, 0), Buffer(F32, 15)), F32, 1, 3, 5, 0,
                       Operand(0, 0, (0, 0, 1)), Operand(1, 0, (0, 5, 1)))
    np.testing.assert_array_equal(run(zero_k, [np.zeros(0, np.float32), np.zeros(0, np.float32)])[0], np.zeros(15))
    with pytest.raises(LuminaDeviceError, match="k_twice.*buffer 1.*float32\\[10\\]"):
        first([torch.zeros(10), torch.zeros(9)])
    with pytest.raises(LuminaDeviceError, match="k_twice takes 2 buffers"):
        first([torch.zeros(10)])
    with pytest.raises(LuminaCodegenError, match="not a Python identifier"):
        tr.render(dataclasses.replace(k, name="k-bad"))


def test_autotune_times_each_configuration_once_and_caches_the_fastest_on_disk(monkeypatch):
    configs = ({"BLOCK": 1024}, {"BLOCK": 256}, {"BLOCK": 4096})
    timed = []

    def cost(config):
        timed.append(config["BLOCK"])
        return {1024: 3.0, 256: 1.0, 4096: 2.0}[config["BLOCK"]]

    assert triton_jit.autotune("abc/GPU", configs, cost) == {"BLOCK": 256}
    assert timed == [1024, 256, 4096]

    def never(config):
        raise AssertionError("a cached key must not be timed again")

    assert triton_jit.autotune("abc/GPU", configs, never) == {"BLOCK": 256}
    monkeypatch.setattr(triton_jit, "_TUNED", {})     # a new process: the disk cache answers
    assert triton_jit.autotune("abc/GPU", configs, never) == {"BLOCK": 256}
    assert '"abc/GPU"' in (triton_jit.cache_dir() / "autotune.json").read_text()
