"""Elementwise epilogues fused into the GEMM (lumina.schedule.epilogues, backends.cpu.llvm_gemm): results
against NumPy (float64 reference), the kernel list, and the partition's record of refused fusions; the
target's capabilities and the compile options decide what fuses, and the options key the caches."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import lumina
from lumina import compiler
from lumina.backends.target import backend, target_for
from lumina.codegen.kernel import DotKernel, LoopKernel
from lumina.errors import LuminaTypeError, LuminaValueError
from lumina.schedule.options import FusionOptions
from lumina.schedule.partition import partition
from lumina.transforms.pipeline import optimize

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
    """A dot read by a reduction and a dot whose rows and columns a permute interleaves (no fixed C
    strides, not even over equal runs of rows or columns) are not fused; describe() says why, next
    to the kernels."""
    @lumina.compile
    def f(x, w, v):
        return (x @ w).sum(1), (x @ v).reshape(2, 4, 2, 3).permute(1, 3, 0, 2) + 1.0
    x, w, v = _randn(8, 6), _randn(6, 5), _randn(6, 6)
    s, t = f(x, w, v)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(np.asarray(s), (x64 @ w).sum(1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(t), (x64 @ v).reshape(2, 4, 2, 3).transpose(1, 3, 0, 2) + 1,
                               rtol=1e-4, atol=1e-4)
    text = f.lower(x, w, v).partition()
    refused = [line for line in text.splitlines() if line.startswith("refused:")]
    assert any(":dot into the kernel of" in r and "the reader is a reduce kernel" in r for r in refused), text
    assert any(":dot into the kernel of" in r and "the permuted result f32[4,3,2,2] does not hold the GEMM's C"
               in r and "at fixed strides" in r for r in refused), text
    assert sum(isinstance(k, DotKernel) and k.epilogue is None for k in f.lower(x, w, v).kernels()) == 2


def test_two_reindexings_of_one_dot_are_refused():
    """``h + h.T`` reads each element of the dot at two positions: not one bijective re-indexing."""
    @lumina.compile
    def f(x, w):
        h = x @ w
        return h + h.T
    x, w = _randn(7, 4), _randn(4, 7)
    h = x.astype(np.float64) @ w
    np.testing.assert_allclose(np.asarray(f(x, w)), h + h.T, rtol=1e-4, atol=1e-4)
    text = f.lower(x, w).partition()
    assert any(line.startswith("refused:") and "through two different re-indexings" in line
               for line in text.splitlines()), text


@pytest.mark.parametrize("m,k,n", [(8, 6, 7), (37, 600, 1100)])
def test_transposed_result_is_an_epilogue(m, k, n):
    """``relu((x @ w).T + b)``: the GEMM stores C transposed (it computes C^T = w^T x^T) and the
    epilogue runs on it in place."""
    @lumina.compile
    def f(x, w, b):
        return ((x @ w).T + b).relu()
    x, w, b = _randn(m, k), _randn(k, n), _randn(n, 1)
    np.testing.assert_allclose(np.asarray(f(x, w, b)), np.maximum((x.astype(np.float64) @ w).T + b, 0),
                               rtol=1e-4, atol=1e-4)
    _check_one_dot_kernel(f, x, w, b)


def test_epilogue_reads_eight_buffers_but_not_nine():
    """An epilogue reads up to the target's ``max_epilogue_inputs`` (8 on the CPU) buffers besides
    the dot result (an unfolded BatchNorm: mean, variance, scale, shift, plus a bias and a
    residual); a ninth is refused."""
    limit = target_for("cpu").max_epilogue_inputs
    assert limit == 8

    @lumina.compile
    def f(x, w, *vs):
        h = x @ w
        for v in vs:
            h = h * v + 0.5
        return h
    x, w = _randn(11, 9), _randn(9, 13)
    for count, fused in ((limit, True), (limit + 1, False)):
        vs = [_randn(13) for _ in range(count)]
        ref = x.astype(np.float64) @ w
        for v in vs:
            ref = ref * v + 0.5
        np.testing.assert_allclose(np.asarray(f(x, w, *vs)), ref, rtol=1e-4, atol=1e-4)
        lowered = f.lower(x, w, *vs)
        assert (lowered.kernels()[0].epilogue is not None) == fused, lowered.partition()
        if not fused:
            assert f"the epilogue reads {limit + 1} buffers (MAX_EPILOGUE_INPUTS {limit})" in lowered.partition()


@pytest.mark.parametrize("n", [1, 3, 8])   # 8: on <= 2 threads the batch is split (backends.cpu.build.BATCH_SPLIT)
def test_conv2d_bias_relu_matches_torch(n):
    """conv2d is im2col + dot whose ``[O, N*Ho*Wo]`` result is reshaped and permuted to
    ``[N, O, Ho, Wo]``, a bijective re-indexing: for one image at fixed strides, for N images at
    fixed strides of (image, o, pixel), so the GEMM runs as N GEMMs of Ho*Wo columns; either way
    the bias and ReLU are its epilogue."""
    import torch
    from lumina.nn import functional as F

    @lumina.compile
    def f(x, w, b):
        return F.conv2d(x, w, b, stride=2, padding=1).relu()
    x, w, b = _randn(n, 5, 13, 11), _randn(8, 5, 3, 3), _randn(8)
    ref = torch.relu(torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                                stride=2, padding=1)).numpy()
    np.testing.assert_allclose(np.asarray(f(x, w, b)), ref, rtol=1e-4, atol=1e-4)
    lowered = f.lower(x, w, b)
    dots = [k for k in lowered.kernels() if isinstance(k, DotKernel)]
    assert len(dots) == 1 and dots[0].epilogue is not None, lowered.partition()
    assert isinstance(lowered.kernels()[-1], DotKernel), lowered.partition()
    assert (dots[0].batch, dots[0].m, dots[0].n) == (n, 8, 7 * 6)


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_nhwc_conv_add_relu_matches_onnxruntime(batch):
    """ONNX NHWC convolution: Transpose(NHWC->NCHW), Conv, Transpose(NCHW->NHWC), Add of a
    per-channel bias, Relu. The re-indexing puts C = [O, N*H*W] transposed in the output (strides
    (1, O)) for any batch, so it is one GEMM with an epilogue; against ONNX Runtime."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    import lumina.onnx

    x, w, b = _randn(batch, 10, 9, 6), _randn(16, 6, 3, 3), _randn(16)
    nodes = [helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["xc", "w"], ["yc"], pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["yc"], ["yh"], perm=[0, 2, 3, 1]),
             helper.make_node("Add", ["yh", "b"], ["z"]),
             helper.make_node("Relu", ["z"], ["y"])]
    graph = helper.make_graph(nodes, "nhwc_conv",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    model = lumina.onnx.load(data)
    got = model(x=x)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    lowered = model._compiled.lower(*model._args(model._bind((), {"x": x})))
    dots = [k for k in lowered.kernels() if isinstance(k, DotKernel)]
    assert len(dots) == 1 and dots[0].epilogue is not None, lowered.partition()
    assert not any(isinstance(k, LoopKernel) and "add" in k.name for k in lowered.kernels()), lowered.partition()


def test_recompute_budget_refusal_is_described():
    """An expensive value with two readers is materialised, not recomputed in each, and the
    partition names the budget it would exceed."""
    @lumina.compile
    def f(x):
        e = x.exp()
        return e.sum(0), e.amax(1)
    x = _randn(6, 5)
    s, m = f(x)
    np.testing.assert_allclose(np.asarray(s), np.exp(x.astype(np.float64)).sum(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(m), np.exp(x.astype(np.float64)).max(1), rtol=1e-5)
    text = f.lower(x).partition()
    assert any(line.startswith("refused: ") and ":exp: 2 readers: inlining would recompute" in line
               and "RECOMPUTE_BUDGET 2" in line for line in text.splitlines()), text


@pytest.mark.parametrize("m,k,n", [(2, 0, 3), (0, 2, 3), (2, 3, 0)])
def test_empty_dot_takes_no_epilogue_and_its_gradients_match_torch(m, k, n, monkeypatch):
    """A GEMM with an empty result (the input gradient of a [2, 0] @ [0, 3], transposed into its
    reader) is refused an epilogue instead of failing to place its C; a K of 0 gives zeros. Fresh
    buffers are poisoned (NaN), so an element no kernel writes would show."""
    import torch
    from lumina.backends.cpu import executable
    monkeypatch.setattr(executable, "POISON", True)
    a, b, g = _randn(m, k), _randn(k, n), _randn(m, n)
    results = []
    for lib in (lumina, torch):
        x, w = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        y = x @ w
        (y * lib.tensor(g)).sum().backward()
        if lib is lumina:
            lumina.realize(y, x.grad, w.grad)
        results.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _bias_relu_graph():
    """The traced graph of ``relu(x @ w + b)`` with its NumPy inputs and float64 result."""
    x, w, b = _randn(9, 7), _randn(7, 5), _randn(5)
    graph = lumina.compile(lambda x, w, b: (x @ w + b).relu()).lower(x, w, b).graph
    return graph, [x, w, b], np.maximum(x.astype(np.float64) @ w + b, 0)


def test_the_target_decides_what_an_epilogue_takes():
    """``partition`` reads the GEMM's capabilities from the target it is given: with no epilogue
    dtypes, or fewer epilogue inputs than the bias, the dot stays a kernel of its own, with the
    reason; what the target's backend builds from that partition still computes the function."""
    graph, inputs, want = _bias_relu_graph()
    cpu = target_for("cpu")
    optimized = optimize(graph)
    assert [k.kind for k in partition(optimized, cpu).kernels] == ["dot+epilogue"]
    refusals = {replace(cpu, epilogue_dtypes=frozenset()): "float32 GEMMs take no epilogue",
                replace(cpu, max_epilogue_inputs=0): "the epilogue reads 1 buffers (MAX_EPILOGUE_INPUTS 0)"}
    for target, reason in refusals.items():
        part = partition(optimized, target)
        assert [k.kind for k in part.kernels] == ["dot", "elementwise"], part.describe()
        assert reason in part.describe(), part.describe()
        exe = backend("cpu").build(compiler.lower_program(graph, target), target)
        np.testing.assert_allclose(exe.run(inputs)[0], want, rtol=1e-5, atol=1e-5)


def test_compile_options_key_the_executable_caches():
    """Executables and compiled signatures are cached per options: a block with other options never
    gets what was built outside it, nor the reverse, and both compute the function."""
    graph, inputs, want = _bias_relu_graph()
    fused = compiler.compile_graph(graph)
    with compiler.options(epilogues=False) as opts:
        assert opts.fusion == FusionOptions(epilogues=False)
        plain = compiler.compile_graph(graph)
        assert compiler.compile_graph(graph) is plain
    assert compiler.compile_graph(graph) is fused is not plain
    assert [k.kind for k in fused.info["partition"].kernels] == ["dot+epilogue"]
    assert [k.kind for k in plain.info["partition"].kernels] == ["dot", "elementwise"]
    for exe in (fused, plain):
        np.testing.assert_allclose(exe.run(inputs)[0], want, rtol=1e-5, atol=1e-5)

    f = lumina.compile(lambda x, w, b: (x @ w + b).relu())
    for epilogues, count in ((True, 1), (False, 2), (True, 1)):
        with compiler.options(epilogues=epilogues):
            np.testing.assert_allclose(np.asarray(f(*inputs)), want, rtol=1e-5, atol=1e-5)
            assert len(f.lower(*inputs).kernels()) == count
    assert f.cache_info()["entries"] == 2
    with compiler.options(epilogues=False) as opts:   # options bound at compile(): used at every call
        bound = lumina.compile(lambda x, w, b: (x @ w + b).relu(), options=opts)
    np.testing.assert_allclose(np.asarray(bound(*inputs)), want, rtol=1e-5, atol=1e-5)
    assert len(bound.lower(*inputs).kernels()) == 2


def test_bad_compile_options_raise():
    with pytest.raises(LuminaValueError, match="unknown option 'epilogue'.*epilogues"):
        with compiler.options(epilogue=False):
            pass
    with pytest.raises(LuminaTypeError, match="epilogues must be bool"):
        FusionOptions(epilogues=1)
    with pytest.raises(LuminaValueError, match="max_depth must be >= 0"):
        FusionOptions(max_depth=-1)
    assert compiler.current_options() == compiler.CompileOptions()
