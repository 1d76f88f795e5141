"""The Metal renderer (``backends.metal.msl``) against the CPU backend, without a Mac: each kernel's MSL is
compiled as C++ against ``testing/msl/shim.h`` and run thread by thread (``testing.msl_cpu``).

Program tests: every kernel of the example programs (``testing.programs``: the digits MLP,
ConvNet and Micro-GPT training steps, a step under float16 and bfloat16 autocast, the digits MLP
and a one-layer GPT-2 exported to ONNX, and the pretrained paraphrase-MiniLM-L3 on one sentence), with the buffers it
really read and wrote on the CPU (``testing.kernels.capture``), compared by
``testing.kernels.assert_matches``; structurally identical kernels compile once, each program in
one g++ call. Unit tests pin the semantics against NumPy or the CPU backend (LLVM): unary ops,
NaN in max, rand bits, 16-bit rounding, a GEMM with epilogue and permuted output, hand-built row
kernels, threadgroup barriers, float64 refusal, and the ``metal`` device off macOS.
"""
from __future__ import annotations

import platform
from dataclasses import replace

import numpy as np
import pytest

from lumina.codegen import expr as E
from lumina.backends.metal import msl as metal
from lumina.codegen.kernel import Buffer, DotKernel, LoopKernel, Reduce
from lumina.errors import LuminaCodegenError, LuminaDeviceError
from lumina.ir.dtypes import DType
from lumina.ir.ops import Op
from lumina.backends.metal import device as metal_device
from lumina.testing import msl_cpu
from lumina.testing.kernel_builders import (SPECIAL, UNARY, binary_inputs, binary_kernel,
                                            dot_bias_relu_layer_norm, dot_bias_relu_permuted, elementwise,
                                            floor_index_kernel, layer_norm_reference, mean_var_norm,
                                            plain_dot, rand_kernel, reduction, rounding_inputs,
                                            rounding_kernels, select_kernel, softmax_rows)
from lumina.testing.kernels import assert_matches, canonical, cpu_outputs
from lumina.testing.programs import program_cases

F32, F16, BF16, I32, I64, BOOL = (DType.float32, DType.float16, DType.bfloat16, DType.int32,
                                  DType.int64, DType.bool)


# ---- the example programs (``testing.programs``) ------------------------------------------------

PROGRAMS = ("digits_mlp", "convnet", "micro_gpt", "amp_float16", "amp_bfloat16", "onnx_digits_mlp", "onnx_gpt2",
            "minilm")


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_kernels_match_cpu(program):
    cases = program_cases(program)
    # Metal has no float64: the optimizers' scalar hyperparameter arithmetic (bias corrections in
    # float64, as PyTorch computes them in Python) is refused, by name. Those kernels are scalars.
    refused = [c for c in cases if metal.uses_float64(c.kernel)]
    for c in refused:
        with pytest.raises(LuminaCodegenError, match=f"{c.kernel.name}.*float64"):
            metal.render(c.kernel)
        assert all(b.numel == 1 for b in c.kernel.buffers), c.kernel.source
    runnable = [c for c in cases if c not in refused]
    assert len(runnable) >= 3 and any(isinstance(c.kernel, DotKernel) for c in runnable)
    unique = {}
    for k in [canonical(c.kernel) for c in runnable]:
        unique.setdefault(metal.render(k), k)
    lib = msl_cpu.build(list(unique.values()))
    for c in runnable:
        desc = unique[metal.render(canonical(c.kernel))]
        outputs = lib.run(desc, c.inputs)
        assert len(outputs) == len(c.outputs)
        for i, (got, want) in enumerate(zip(outputs, c.outputs)):
            assert_matches(got, want, c.inputs, f"{program}: {c.kernel.name} output {i}: {c.kernel.source}",
                           c.kernel)
        # threads taking turns from the last one: the same bits, or a barrier is missing somewhere
        for i, (a, b) in enumerate(zip(outputs, lib.run(desc, c.inputs, reverse=True))):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=f"{c.kernel.name} output {i}")


# ---- hand-built kernels (``testing.kernel_builders``) against NumPy and the CPU backend ------------

def test_every_unary_op_matches_numpy():
    x = np.concatenate([SPECIAL, np.random.default_rng(1).normal(0, 4, 200).astype(np.float32)])
    with np.errstate(all="ignore"):
        kernels = {op: elementwise(f"k_{op.value}", [F32], F32, x.size, lambda a, op=op: E.Un(op, a, F32))
                   for op in UNARY}
        ints = {dt: elementwise(f"k_abs_neg_{dt.name}", [dt], dt, 6,
                                 lambda a, dt=dt: E.Bin(Op.ADD, E.Un(Op.ABS, a, dt), E.Un(Op.NEG, a, dt), dt))
                for dt in (I32, I64)}
        lnot = elementwise("k_not", [BOOL], BOOL, 2, lambda a: E.Un(Op.NOT, a, BOOL))
        lib = msl_cpu.build([*kernels.values(), *ints.values(), lnot])
        for op, k in kernels.items():
            want = UNARY[op](x.astype(np.float64)).astype(np.float32)   # the exact result, rounded
            got = lib.run(k, [x])[0]
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=op)
            tol = 3e-6 if op is not Op.ERF else 1e-6
            np.testing.assert_allclose(got, want, rtol=tol, atol=1e-7, equal_nan=True, err_msg=op)
        for dt, k in ints.items():
            info = np.iinfo(dt.numpy)
            v = np.array([0, 5, -7, info.max, info.min, -1], dt.numpy)
            np.testing.assert_array_equal(lib.run(k, [v])[0], np.abs(v) + np.negative(v))   # wraps at MIN
        np.testing.assert_array_equal(lib.run(lnot, [np.array([True, False])])[0], [False, True])


def test_binary_ops_match_cpu_backend():
    inputs = binary_inputs()
    ops = [(binary_kernel(op, dt, 12), inputs[dt]) for dt in (I32, I64)
           for op in (Op.DIV, Op.MAXIMUM, Op.MINIMUM, Op.LT, Op.NE)]
    ops += [(binary_kernel(op, F32, 12), inputs[F32])
            for op in (Op.DIV, Op.MAXIMUM, Op.MINIMUM, Op.LT, Op.LE, Op.EQ, Op.NE, Op.POW, Op.SUB)]
    ops += [(binary_kernel(op, BOOL, 4), inputs[BOOL]) for op in (Op.AND, Op.OR)]
    ops.append((select_kernel(12), inputs[F32]))
    lib = msl_cpu.build([k for k, _ in ops])
    with np.errstate(all="ignore"):
        for k, inputs in ops:
            got, want = lib.run(k, inputs)[0], cpu_outputs(k, inputs)[0]
            np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True, err_msg=k.name)


def test_index_floordiv_and_mod_floor_for_negative_dividends():
    """Index arithmetic floors like Python's // and % (the simplifier's meaning of the nodes)."""
    k, want = floor_index_kernel()
    np.testing.assert_array_equal(msl_cpu.build([k]).run(k, [])[0], want)


def test_reductions_propagate_nan_and_match_numpy():
    rng = np.random.default_rng(2)
    fmax = reduction("k_max", F32, 5, 300, Reduce.MAX)
    fsum = reduction("k_sum", F32, 5, 300, Reduce.SUM)
    imax = reduction("k_imax", I64, 3, 70, Reduce.MAX)
    isum = reduction("k_isum", I32, 3, 1000, Reduce.SUM)
    short = reduction("k_max_short", F32, 300, 5, Reduce.MAX)    # one thread per output point
    assert metal.serial(short) and not metal.serial(fmax)
    lib = msl_cpu.build([fmax, fsum, imax, isum, short])
    x = rng.normal(size=(5, 300)).astype(np.float32)
    x[1, 17] = np.nan          # NaN anywhere in a row wins
    x[2, 299] = np.nan
    x[3, :] = -np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(lib.run(fmax, [x])[0], x.max(1))
        np.testing.assert_allclose(lib.run(fsum, [x])[0], x.astype(np.float64).sum(1), rtol=1e-5)
    xs5 = rng.normal(size=(300, 5)).astype(np.float32)
    xs5[7, 2] = np.nan
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(lib.run(short, [xs5])[0], xs5.max(1))
    xi = rng.integers(-2**62, 2**62, (3, 70))
    np.testing.assert_array_equal(lib.run(imax, [xi])[0], xi.max(1))
    xs = rng.integers(-2**31, 2**31 - 1, (3, 1000), dtype=np.int32)
    np.testing.assert_array_equal(lib.run(isum, [xs])[0], xs.sum(1, dtype=np.int32))   # wraps


def test_rand_bits_equal_the_cpu_backend():
    n = 3000
    kernels = [rand_kernel(dt, n) for dt in (F32, F16, BF16)]
    lib = msl_cpu.build(kernels)
    for key in (0, 12345, -3):
        for k in kernels:
            seed = np.array([key], np.int64)
            got, want = lib.run(k, [seed])[0], cpu_outputs(k, [seed])[0]
            np.testing.assert_array_equal(got.view(np.uint16 if k.out.dtype.is_half else np.uint32),
                                          want.view(np.uint16 if k.out.dtype.is_half else np.uint32))
            assert 0.0 <= got.astype(np.float32).min() and got.astype(np.float32).max() < 1.0


def test_16bit_floats_round_after_every_op_like_the_cpu_backend():
    rng = np.random.default_rng(3)
    n = 4096
    kernels, inputs = [], []
    for dt in (F16, BF16):   # no tanh in the chain: the shim's is std::tanh, not the CPU's polynomial
        kernels += rounding_kernels(dt, n, tanh=False)
        inputs += rounding_inputs(dt, n, rng)
    lib = msl_cpu.build(kernels)
    with np.errstate(all="ignore"):
        for k, xs in zip(kernels, inputs):
            got, want = lib.run(k, xs)[0], cpu_outputs(k, xs)[0]
            nan = np.isnan(want.astype(np.float32))      # a NaN's sign bit is the hardware's choice
            np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan, err_msg=k.name)
            np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan], err_msg=k.name)


def test_16bit_sum_accumulates_in_float32_and_rounds_once():
    k = reduction("k_sum_f16", F16, 2, 2000, Reduce.SUM)
    x = np.full((2, 2000), 1.0, np.float16)   # rounding each partial sum to f16 would stall at 2048
    x[1] = np.float16(0.1)
    got = msl_cpu.build([k]).run(k, [x])[0]
    np.testing.assert_array_equal(got, x.astype(np.float32).sum(1).astype(np.float16))


# ---- GEMM ---------------------------------------------------------------------------------------------

def test_dot_kernel_with_strided_operands_epilogue_and_permuted_output():
    batch, m, n, k = 2, 21, 19, 37
    rng = np.random.default_rng(4)
    a_t = rng.normal(size=(batch, k, m)).astype(np.float32)   # A is read through a transposed view
    b = rng.normal(size=(k, n)).astype(np.float32)            # B is shared by the batch (stride 0)
    bias = rng.normal(size=n).astype(np.float32)
    desc = dot_bias_relu_permuted(batch, m, n, k)     # C[b, m, n] lands at [n, b, m] of the output
    plain = plain_dot(I64, 6, 17, 40)
    lib = msl_cpu.build([desc, plain])
    got = lib.run(desc, [a_t, b, bias])[0].reshape(n, batch, m)
    want = np.maximum(np.einsum("bkm,kn->bmn", a_t.astype(np.float64), b) + bias, 0)
    np.testing.assert_allclose(got, want.transpose(2, 0, 1), rtol=1e-5, atol=1e-5)
    ai, bi = rng.integers(-1000, 1000, (6, 40)), rng.integers(-1000, 1000, (40, 17))
    np.testing.assert_array_equal(lib.run(plain, [ai, bi])[0], (ai @ bi).reshape(-1))


# ---- row-fused GEMMs (``DotKernel.rows``) --------------------------------------------------------------

def _layer_norm_inputs(batch, m, n, k, seed=7):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(batch, m, k)).astype(np.float32)
    b = rng.normal(size=(k, n)).astype(np.float32)
    bias, gamma, beta = (rng.normal(size=n).astype(np.float32) for _ in range(3))
    return [a, b, bias, gamma, beta]


# (batch, M, N, K): one tile; M and N off the tile grid with several tiles of each; rows wider
# than the 256 lanes of a group; M a multiple of the tile; K = 0 (C is the epilogue of zeros)
LAYER_NORM_SHAPES = [(1, 5, 7, 3), (2, 40, 96, 24), (3, 33, 50, 17), (2, 16, 300, 8), (1, 48, 40, 40), (2, 20, 24, 0)]


def test_row_fused_gemm_layer_norm_matches_numpy():
    descs = [dot_bias_relu_layer_norm(*shape) for shape in LAYER_NORM_SHAPES]
    for (batch, m, n, _), d in zip(LAYER_NORM_SHAPES, descs):   # a group per (batch entry, TILE rows)
        assert metal.geometry(d) == metal.Geometry(batch * -(-m // metal.TILE), metal.TILE ** 2)
    lib = msl_cpu.build(descs)
    for shape, d in zip(LAYER_NORM_SHAPES, descs):
        inputs = _layer_norm_inputs(*shape)
        got = lib.run(d, inputs)
        for name, g, w in zip(("C", "mean", "rstd", "y"), got, layer_norm_reference(*inputs)):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * np.abs(w).max(), err_msg=f"{shape} {name}")
        for i, (a, b) in enumerate(zip(got, lib.run(d, inputs, reverse=True))):
            np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32), err_msg=f"{shape} output {i}")


def test_row_fused_gemm_source_stores_c_then_fences_device_memory():
    d = dot_bias_relu_layer_norm(2, 40, 96, 24)
    src = metal.render(d)
    # C (buffer 5, the first output) is written and read back: no output is const
    assert "const device float* b4 [[buffer(4)]]" in src and "\n    device float* b5 [[buffer(5)]]" in src
    assert src.count("threadgroup_barrier(mem_flags::mem_device);") == 1
    store_c, fence, stages = src.index("b5[t"), src.index("mem_flags::mem_device"), src.index("// stage 0")
    assert store_c < fence < stages
    # the stages read C's rows row-major: a permuted C is refused, by name
    with pytest.raises(LuminaCodegenError, match="k_dot_ln: the row stages .* row-major C"):
        metal.render(replace(d, c_strides=(40, 1, 80)))
    plain = dot_bias_relu_permuted(2, 21, 19, 37)
    assert "mem_device" not in metal.render(plain) and plain.n_outputs == 1


def test_a_missing_device_memory_barrier_fails_under_the_shim():
    """Without ``threadgroup_barrier(mem_flags::mem_device)`` between storing C and the row stages,
    or with only a threadgroup-memory barrier there, a thread reads C that other threads of its
    group wrote but have not made visible: the shim holds each thread's device stores until a
    mem_device barrier or its end, so it reads the poisoned outputs and the stages' results are
    NaN (in either thread order)."""
    shape = (2, 20, 40, 24)
    d = dot_bias_relu_layer_norm(*shape)
    fence = "threadgroup_barrier(mem_flags::mem_device);"
    src = metal.render(d)
    lib = msl_cpu.compile_sources([src, src.replace(fence, ""),
                                   src.replace(fence, "threadgroup_barrier(mem_flags::mem_threadgroup);")])
    inputs = [x.reshape(-1) for x in _layer_norm_inputs(*shape)]
    want = layer_norm_reference(*_layer_norm_inputs(*shape))
    geo = metal.geometry(d)
    for reverse in (False, True):
        for i in range(3):
            outputs = [np.full(w.size, np.nan, np.float32) for w in want]
            lib.call(i, inputs + outputs, geo.threadgroups, geo.threads, reverse=reverse)
            # C itself is right every time
            np.testing.assert_allclose(outputs[0], want[0], rtol=1e-5, atol=1e-5 * np.abs(want[0]).max())
            if i == 0:
                for g, w in zip(outputs[1:], want[1:]):
                    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * np.abs(w).max())
            else:
                assert np.isnan(outputs[1]).any() and np.isnan(outputs[3]).any(), (i, reverse)


# ---- row kernels --------------------------------------------------------------------------------------

def test_hand_built_row_kernels_match_numpy():
    rng = np.random.default_rng(5)
    softmax, moments, narrow = softmax_rows(6, 300), mean_var_norm(5, 77), softmax_rows(300, 10)
    assert metal.serial(narrow) and not metal.serial(softmax)   # a thread per row / a group per row
    lib = msl_cpu.build([softmax, moments, narrow])
    z = rng.normal(0, 5, (300, 10)).astype(np.float32)
    e = np.exp(z.astype(np.float64) - z.max(1, keepdims=True))
    np.testing.assert_allclose(lib.run(narrow, [z])[0].reshape(300, 10), e / e.sum(1, keepdims=True),
                               rtol=2e-5, atol=1e-7)
    x = rng.normal(0, 5, (6, 300)).astype(np.float32)
    x[2, 7] = np.nan                       # a NaN row stays NaN (max propagates it)
    x[3] += 80.0                           # exp would overflow without the max shift
    got = lib.run(softmax, [x])[0].reshape(6, 300)
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(1, keepdims=True), rtol=2e-5, atol=1e-7)
    y = rng.normal(3, 2, (5, 77)).astype(np.float32)
    mean, var, norm = lib.run(moments, [y])
    y64 = y.astype(np.float64)
    np.testing.assert_allclose(mean, y64.mean(1), rtol=1e-5)
    np.testing.assert_allclose(var, y64.var(1), rtol=1e-4)
    np.testing.assert_allclose(norm.reshape(5, 77), (y64 - y64.mean(1, keepdims=True)) / np.sqrt(y64.var(1, keepdims=True) + 1e-5),
                               rtol=1e-4, atol=1e-5)


# ---- threadgroup barriers under the shim ----------------------------------------------------------------

TREE = """#include <metal_stdlib>
using namespace metal;
kernel void tree_sum(const device float* x [[buffer(0)]], device float* out [[buffer(1)]],
                     uint tg [[threadgroup_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                     uint threads [[threads_per_threadgroup]]) {
    threadgroup float partial[64];
    partial[lid] = x[tg * threads + lid];
    BARRIER
    for (uint s = threads / 2; s > 0; s >>= 1) {
        if (lid < s) partial[lid] += partial[lid + s];
        BARRIER
    }
    if (lid == 0) out[tg] = partial[0];
}
"""
DIVERGENT = """#include <metal_stdlib>
using namespace metal;
kernel void divergent(device float* out [[buffer(0)]], uint lid [[thread_position_in_threadgroup]]) {
    threadgroup float t[4];
    if (lid == 3) return;
    t[lid] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[lid] = t[0];
}
"""


BROADCAST = """#include <metal_stdlib>
using namespace metal;
kernel void broadcast(const device float* x [[buffer(0)]], device float* out [[buffer(1)]],
                      uint lid [[thread_position_in_threadgroup]]) {
    threadgroup float total[1];
    if (lid == 0) total[0] = x[0] + x[1];
    BARRIER
    out[lid] = total[0];
}
"""


HANDOFF = """#include <metal_stdlib>
using namespace metal;
kernel void handoff(device float* buf [[buffer(0)]], uint lid [[thread_position_in_threadgroup]]) {
    if (lid == 0) buf[0] = 7.0f;
    BARRIER
    buf[1 + lid] = buf[0];
}
"""


ACROSS_GROUPS = """#include <metal_stdlib>
using namespace metal;
kernel void across(device float* buf [[buffer(0)]], uint tg [[threadgroup_position_in_grid]],
                   uint lid [[thread_position_in_threadgroup]]) {
    if (lid == 0) buf[tg] = 1.0f + tg;
    threadgroup_barrier(mem_flags::mem_device);
    buf[2 + tg * 4 + lid] = buf[0];
}
"""


def test_device_writes_are_visible_to_the_group_after_a_mem_device_barrier_only():
    fences = ["threadgroup_barrier(mem_flags::mem_device);",
              "threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup);",
              "threadgroup_barrier(mem_flags::mem_threadgroup);", ""]
    lib = msl_cpu.compile_sources([HANDOFF.replace("BARRIER", f) for f in fences])
    for i in range(len(fences)):
        for reverse in (False, True):
            buf = np.full(9, np.nan, np.float32)
            lib.call(i, [buf], 1, 8, reverse=reverse)
            assert buf[0] == 7.0 and buf[1] == 7.0   # thread 0 reads its own store
            if i < 2:
                np.testing.assert_array_equal(buf[2:], 7.0)
            elif i == 2 or reverse:   # (no barrier at all: plain calls, so only threads before 0 miss it)
                assert np.isnan(buf[2:]).all(), (fences[i], reverse, buf)
    # the barrier orders device memory within a group only: group 1 reading group 0's store races
    buf = np.full(10, np.nan, np.float32)
    msl_cpu.compile_sources([ACROSS_GROUPS]).call(0, [buf], 2, 4)
    np.testing.assert_array_equal(buf[:6], [1, 2, 1, 1, 1, 1])
    assert np.isnan(buf[6:]).all()


def test_a_missing_threadgroup_barrier_fails_under_the_shim():
    racy = TREE.replace("BARRIER", "")
    fenced = TREE.replace("BARRIER", "threadgroup_barrier(mem_flags::mem_threadgroup);")
    lib = msl_cpu.compile_sources([racy, fenced, DIVERGENT, BROADCAST.replace("BARRIER", ""),
                                   BROADCAST.replace("BARRIER", "threadgroup_barrier(mem_flags::mem_threadgroup);")])
    # thread 0 broadcasting: a missing barrier shows when the other threads run first
    two = np.array([1.0, 2.0], np.float32)
    for racy_first, reverse in ((3, False), (4, False), (4, True)):
        out = np.zeros(8, np.float32)
        lib.call(racy_first, [two, out], 1, 8, reverse=reverse)
        np.testing.assert_array_equal(out, 3.0)
    out = np.zeros(8, np.float32)
    lib.call(3, [two, out], 1, 8, reverse=True)
    assert np.isnan(out[1:]).all() and out[0] == 3.0
    x = np.random.default_rng(6).random(3 * 64, dtype=np.float32)
    out = [np.zeros(3, np.float32) for _ in range(2)]
    lib.call(0, [x, out[0]], 3, 64)
    lib.call(1, [x, out[1]], 3, 64)
    want = x.reshape(3, 64).astype(np.float64).sum(1)
    np.testing.assert_allclose(out[1], want, rtol=1e-5)
    assert not np.allclose(out[0], want, rtol=1e-3, equal_nan=False)   # read unwritten (poisoned) memory
    with pytest.raises(LuminaCodegenError, match="divergent.*barrier divergence"):
        lib.call(2, [np.zeros(4, np.float32)], 1, 4)
    # the renderer's own reduction is fenced: the same sums through a rendered kernel
    k = reduction("k_tree", F32, 3, 64, Reduce.SUM)
    np.testing.assert_allclose(msl_cpu.build([k]).run(k, [x])[0], want, rtol=1e-5)


def test_shim_reports_sources_it_cannot_compile_or_bind():
    broken = TREE.replace("BARRIER", "threadgroup_barrier(mem_flags::mem_threadgroup)")   # no ';'
    with pytest.raises(LuminaCodegenError, match=r"g\+\+ rejected the MSL of \['tree_sum'\]"):
        msl_cpu.compile_sources([broken])
    unknown = DIVERGENT.replace("thread_position_in_threadgroup", "simdgroup_index_in_threadgroup")
    with pytest.raises(LuminaCodegenError, match=r"unsupported attribute \[\[simdgroup_index_in_threadgroup\]\]"):
        msl_cpu.compile_sources([unknown])


def test_rendered_source_is_msl_with_threadgroup_reductions():
    src = metal.render(softmax_rows(2, 100))
    assert "kernel void k_softmax(" in src and "[[buffer(1)]]" in src
    assert src.count("threadgroup_barrier(mem_flags::mem_threadgroup)") >= 4
    assert metal.geometry(softmax_rows(2, 100)) == metal.Geometry(2, 128)


# ---- errors and the device ------------------------------------------------------------------------------

def test_kernels_past_31_buffers_take_an_argument_buffer():
    n, width = 40, 5
    i = E.Var("i0", width)
    total = E.Load(0, i, F32)
    for j in range(1, n):
        total = E.Bin(Op.ADD, total, E.Bin(Op.MUL, E.Load(j, i, F32), E.Const(float(j), F32), F32), F32)
    k = LoopKernel("k_wide", tuple(Buffer(F32, width) for _ in range(n + 1)), (i,), (), None, total)
    assert metal.uses_argument_buffer(k) and "constant lum_args& args [[buffer(0)]]" in metal.render(k)
    xs = [np.random.default_rng(j).random(width, dtype=np.float32) for j in range(n)]
    np.testing.assert_allclose(msl_cpu.build([k]).run(k, xs)[0], cpu_outputs(k, xs)[0], rtol=1e-6)


def test_launchers_made_together_compile_together():
    softmax, total = softmax_rows(2, 5), reduction("k_rowsum", F32, 2, 5, Reduce.SUM)
    run_softmax, run_total = msl_cpu.launcher(softmax), msl_cpu.launcher(total)
    x = np.arange(10, dtype=np.float32)
    probs, sums = np.zeros(10, np.float32), np.zeros(2, np.float32)
    run_softmax([x, probs])
    run_total([x, sums])
    assert run_softmax.lib is run_total.lib    # one g++ call for both
    e = np.exp(x.reshape(2, 5) - x.reshape(2, 5).max(1, keepdims=True))
    np.testing.assert_allclose(probs.reshape(2, 5), e / e.sum(1, keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(sums, [10, 35])
    with pytest.raises(LuminaCodegenError, match="float64"):
        msl_cpu.launcher(elementwise("k_f64", [DType.float64], DType.float64, 2, lambda a: a))


def test_float64_kernels_are_refused_by_name():
    k64 = elementwise("k_double", [DType.float64], DType.float64, 4, lambda a: E.Un(Op.EXP, a, DType.float64))
    inner = elementwise("k_inner_double", [F32], F32, 4,
                         lambda a: E.Cast(E.Bin(Op.MUL, E.Cast(a, DType.float64), E.Const(0.1, DType.float64),
                                                DType.float64), F32))
    for k in (k64, inner):
        assert metal.uses_float64(k)
        with pytest.raises(LuminaCodegenError, match=f"kernel {k.name}: dtype float64"):
            metal.render(k)
    assert not metal.uses_float64(softmax_rows(2, 3))


@pytest.mark.skipif(platform.system() == "Darwin", reason="checks the message off macOS")
def test_metal_device_is_unavailable_off_macos_with_a_clear_message():
    ok, why = metal_device.available()
    assert not ok and "macOS" in why and platform.system() in why
    with pytest.raises(LuminaDeviceError, match="needs macOS"):
        metal_device.launcher(softmax_rows(2, 3))
