"""Multi-output row kernels (``schedule.row_fusion``, ``codegen.kernel.RowKernel``): softmax,
log-softmax, LayerNorm, RMSNorm and cross-entropy compile to one (or a few) row kernels and agree
with PyTorch CPU in float32, float16 and bfloat16; a LayerNorm training step agrees with torch's;
``describe()`` names the stages and the refused candidates; and on random shapes and axes the
results with ``FusionOptions.multi_output`` on and off agree with each other and with NumPy.

Oracles: PyTorch CPU (``torch.nn.functional``) and NumPy; the kernels the CPU backend really ran
(``testing.kernels.capture``) for the sibling-reduction kernel's outputs.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumina
from lumina import compiler
from lumina.backends.cpu import executable
from lumina.backends.target import target_for
from lumina.codegen.kernel import RowKernel
from lumina.compiler import cache_clear, compile_graph
from lumina.ir import parse, verify
from lumina.nn import functional as F
from lumina.schedule.groups import StageRole
from lumina.schedule.options import FusionOptions
from lumina.schedule.partition import partition
from lumina.testing.kernels import capture
from lumina.testing.programs import train_step

RNG = np.random.default_rng(7)
N, C = 16, 40
CPU = target_for("cpu")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache_clear()
    yield
    cache_clear()


def _rms_norm(lib, x, w):
    return x / ((x * x).mean(-1, keepdim=True) + 1e-6).sqrt() * w


COMPOSITES = {   # name: (lumina, torch) of (x, weight, bias)
    "softmax": (lambda x, w, b: F.softmax(x, -1), lambda x, w, b: torch.softmax(x, -1)),
    "log_softmax": (lambda x, w, b: F.log_softmax(x, -1), lambda x, w, b: torch.log_softmax(x, -1)),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, C, w, b),
                   lambda x, w, b: torch.nn.functional.layer_norm(x, (C,), w, b)),
    "rms_norm": (lambda x, w, b: _rms_norm(lumina, x, w), lambda x, w, b: _rms_norm(torch, x, w)),
}
TOLERANCE = {"float32": 1e-5, "float16": 4e-3, "bfloat16": 3e-2}


def _kernels(fn, *args) -> list:
    return fn.lower(*args).kernels()


def _run(f, args, multi_output: bool):
    with compiler.options(multi_output=multi_output):
        fn = lumina.compile(f)
        return fn(*args), _kernels(fn, *args)


def _f32(t) -> np.ndarray:
    return np.asarray(t.to(lumina.float32).numpy(), dtype=np.float32)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_is_one_row_kernel_and_matches_torch(name, dtype):
    ours, theirs = COMPOSITES[name]
    arrays = [RNG.standard_normal(s).astype(np.float32) * 3 for s in ((N, C), (C,), (C,))]
    args = [lumina.tensor(a).to(getattr(lumina, dtype)) for a in arrays]
    out, kernels = _run(ours, args, True)
    off, off_kernels = _run(ours, args, False)
    assert len(kernels) == 1 and isinstance(kernels[0], RowKernel), kernels
    assert len(off_kernels) >= 3
    want = theirs(*(torch.tensor(a).to(getattr(torch, dtype)) for a in arrays)).float().numpy()
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(_f32(out), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(_f32(out), _f32(off), rtol=tol, atol=tol)


def test_softmax_keeps_exp_for_the_row_instead_of_recomputing_it():
    """The sum stage and the division stage share ``exp(x - max)``: the LLVM renderer keeps it in a
    per-row stack buffer (``row0``) written by the first and read by the second."""
    x = lumina.tensor(RNG.standard_normal((N, C)).astype(np.float32))
    fn = lumina.compile(lambda x: F.softmax(x, -1))
    text = fn.lower(x).llvm_ir()
    assert text.count("alloca float, i64 40") == 1 and "%\"row0\"" in text, text[:2000]
    np.testing.assert_allclose(fn(x).numpy(), torch.softmax(torch.tensor(x.numpy()), -1).numpy(),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("lengths", [(96, 128), (96, 5000)])
def test_softmax_over_a_symbolic_row_is_one_row_kernel_at_every_length(lengths):
    """A softmax over a row whose length is symbolic (a sequence compiled once for its sizes) is a
    row kernel too; it keeps ``exp(x - max)`` for the row in a scratch row when the row fits
    ``llvm_rows.SYMBOLIC_SCRATCH`` (4096) and recomputes it when not: against torch at a length of
    each kind."""
    fn = lumina.compile(lambda x: F.softmax(x, -1))
    for n in lengths:   # the second length makes the row's length symbolic
        x = RNG.standard_normal((6, n)).astype(np.float32) * 3
        got = fn(lumina.tensor(x)).numpy()
        np.testing.assert_allclose(got, torch.softmax(torch.tensor(x), -1).numpy(), rtol=1e-5, atol=1e-7)
    assert fn._last.symbolic
    kernels = _kernels(fn, lumina.tensor(x))
    assert any(isinstance(k, RowKernel) for k in kernels), kernels


def test_cross_entropy_forward_is_three_kernels_and_matches_torch():
    x = RNG.standard_normal((N, C)).astype(np.float32) * 4
    t = RNG.integers(0, C, N)
    args = (lumina.tensor(x), lumina.tensor(t))
    out, kernels = _run(lambda x, t: F.cross_entropy(x, t), args, True)
    _, off = _run(lambda x, t: F.cross_entropy(x, t), args, False)
    # the targets' mask, the log-softmax with the target's log-probability, the mean over rows
    assert len(kernels) == 3 < len(off), (len(kernels), len(off))
    want = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item()
    np.testing.assert_allclose(float(out.item()), want, rtol=1e-5)


def test_sibling_reductions_store_both_outputs():
    """Two independent reductions over the same rows: one kernel, two outputs, as the CPU
    backend's captured buffers show."""
    x = RNG.standard_normal((N, C)).astype(np.float32)
    fn = lumina.compile(lambda x: (x.sum(-1), (x * x).amax(-1)))
    total, peak = fn(lumina.tensor(x))
    np.testing.assert_allclose(total.numpy(), x.sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(peak.numpy(), (x * x).max(-1))
    (kernel,) = _kernels(fn, lumina.tensor(x))
    assert isinstance(kernel, RowKernel) and kernel.n_outputs == 2
    (case,) = capture(fn.lower(lumina.tensor(x)).executable, [x])
    assert len(case.outputs) == 2
    np.testing.assert_allclose(case.outputs[0], x.sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(case.outputs[1], (x * x).max(-1))


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_bias_gradient_pair_over_the_batch_is_one_kernel(dtype):
    """``sum(dy * xhat)`` and ``sum(dy)`` over the leading axes (a LayerNorm's weight and bias
    gradients): siblings over rows that are not contiguous, one kernel (float32 accumulates in
    the outputs, reading each input row once; float16 in registers, row by row), as torch sums."""
    xs = [RNG.standard_normal((4, 24, 48)).astype(np.float32) for _ in range(2)]
    args = [lumina.tensor(a).to(getattr(lumina, dtype)) for a in xs]
    out, kernels = _run(lambda x, d: ((x * d).sum((0, 1)), d.sum((0, 1))), args, True)
    assert len(kernels) == 1 and isinstance(kernels[0], RowKernel) and kernels[0].n_outputs == 2
    tx, td = (torch.tensor(a).to(getattr(torch, dtype)) for a in xs)
    tol = TOLERANCE[dtype]
    for got, want in zip(out, ((tx * td).sum((0, 1)), td.sum((0, 1)))):
        np.testing.assert_allclose(_f32(got), want.float().numpy(), rtol=tol, atol=tol * 10)


def test_row_kernel_output_takes_a_dying_input_in_place():
    """``softmax(x @ w) @ w.T``: the scores die in the softmax kernel, which reads each row's scores
    in its stages before its last stage overwrites them, so the probabilities take their memory."""
    x = RNG.standard_normal((64, 32)).astype(np.float32)
    w = RNG.standard_normal((32, 48)).astype(np.float32)
    fn = lumina.compile(lambda x, w: F.softmax(x @ w, -1) @ w.T)
    got = fn(lumina.tensor(x), lumina.tensor(w)).numpy()
    want = (torch.softmax(torch.tensor(x) @ torch.tensor(w), -1) @ torch.tensor(w).T).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    plan = fn.lower(lumina.tensor(x), lumina.tensor(w)).memory_plan()
    assert len(plan.inplace) == 1 and plan.arena_bytes == 64 * 48 * 4, plan.describe()


def _mlp(lib):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(C, 32), torch.nn.LayerNorm(32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 10)) if lib is torch else \
        lumina.nn.Sequential(lumina.nn.Linear(C, 32), lumina.nn.LayerNorm(32), lumina.nn.ReLU(),
                             lumina.nn.Linear(32, 10))


def test_layer_norm_training_step_matches_torch():
    """Forward, backward and SGD of Linear-LayerNorm-ReLU-Linear with cross-entropy, three steps:
    the LayerNorm forward is one row kernel that also stores the mean and rstd the backward reads."""
    tmodel = _mlp(torch)
    start = {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}
    batches = [(RNG.standard_normal((N, C)).astype(np.float32), RNG.integers(0, 10, N)) for _ in range(3)]
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    want = []
    for x, y in batches:
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        topt.step()
        want.append(loss.item())

    counts = {}
    for multi in (False, True):
        model = _mlp(lumina)
        model.load_state_dict(start)
        opt = lumina.optim.SGD(model.parameters(), lr=0.1)
        with compiler.options(multi_output=multi):
            step = train_step(model, opt, F.cross_entropy)
            got = [float(step(lumina.tensor(x), lumina.tensor(y)).item()) for x, y in batches]
            low = step.lower(*(lumina.tensor(a) for a in batches[0]))
        np.testing.assert_allclose(got, want, rtol=1e-5)
        for k, v in tmodel.state_dict().items():
            np.testing.assert_allclose(np.asarray(model.state_dict()[k]), v.detach().numpy(), rtol=1e-4, atol=1e-5)
        counts[multi] = len(low.kernels())
        if multi:
            rows = [k for k in low.executable.info["partition"].kernels if k.rows is not None]
            # mean, max|x| (the overflow-safe scale) and the variance
            layer_norm = [k for k in rows if sum(st.role is StageRole.REDUCE for st in k.rows.stages) == 3]
            # mean and rstd (read by the backward) and the normalized output are stored
            assert any(len(k.outputs) >= 3 for k in layer_norm), [len(k.outputs) for k in rows]
    assert counts[True] < counts[False], counts


SOFTMAX_AND_REFUSALS = """
graph rows {
  %0:f32[8,32] = input {name='x'}
  %1:f32[8,1] = reduce_max %0 {axes=(1,), keepdim=True}
  %2:f32[8,32] = expand %1 {shape=(8, 32)}
  %3:f32[8,32] = sub %0, %2
  %4:f32[8,32] = exp %3
  %5:f32[8,1] = reduce_sum %4 {axes=(1,), keepdim=True}
  %6:f32[8,32] = expand %5 {shape=(8, 32)}
  %7:f32[8,32] = div %4, %6
  %8:f32[2,4,1] = reshape %5 {shape=(2, 4, 1)}
  %9:f32[4,2,1] = permute %8 {perm=(1, 0, 2)}
  %10:f32[8,1] = reshape %9 {shape=(8, 1)}
  %11:f32[8,32] = expand %10 {shape=(8, 32)}
  %12:f32[8,32] = mul %11, %0
  return %7, %1, %12
}
"""


def _softmax_and_refusals_numpy(x):
    m = x.max(1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(1, keepdims=True)
    return [e / s, m, s.reshape(2, 4, 1).transpose(1, 0, 2).reshape(8, 1) * x]


def test_describe_names_the_row_kernel_its_outputs_and_refusals():
    """The softmax is one kernel storing the normalized rows and the max (a graph output); the
    permuted read of the sum (``%8``..``%11``: row i reads another row's sum) is refused with its
    reason, so the sum is stored for it."""
    g = verify(parse(SOFTMAX_AND_REFUSALS))
    part = partition(g, CPU)
    text = part.describe()
    kernel_lines = [ln for ln in text.splitlines() if ln.startswith("kernel ")]
    softmax = [ln for ln in kernel_lines if "multi-output" in ln]
    assert len(softmax) == 1 and "-> %1, %5, %7" in softmax[0], text
    assert "%5:reduce (stored; reduction)" in softmax[0] and "%4:full (register;" in softmax[0], text
    assert "away from its own row" in text, text
    x = RNG.standard_normal((8, 32)).astype(np.float32)
    for got, want in zip(compile_graph(g).run([x]), _softmax_and_refusals_numpy(x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


DEPENDENCE = """
graph dep {
  %0:f32[8,8] = input {name='x'}
  %1:f32[8,1] = reduce_sum %0 {axes=(1,), keepdim=True}
  %2:f32[1,8] = reshape %1 {shape=(1, 8)}
  %3:f32[8,8] = expand %2 {shape=(8, 8)}
  %4:f32[8,8] = mul %3, %0
  %5:f32[8,8] = exp %4
  %6:f32[8,8] = expand %1 {shape=(8, 8)}
  %7:f32[8,8] = add %5, %6
  %8:f32[8,1] = reduce_sum %7 {axes=(1,), keepdim=True}
  %9:f32[8,8] = mul %5, %0
  return %8, %9
}
"""


def test_dependence_through_another_kernel_is_refused():
    """``%8`` reads the row sum ``%1`` at its own row, but also ``%5``, which reads ``%1``
    transposed: merged, the row kernel would have to run both before and after ``%5``'s kernel."""
    g = verify(parse(DEPENDENCE))
    text = partition(g, CPU).describe()
    assert "refused: %8:reduce_sum into the kernel of %1: row kernel: it depends on the row kernel" in text, text
    x = RNG.standard_normal((8, 8)).astype(np.float32) * 0.3
    s = x.sum(1, keepdims=True)
    e = np.exp(np.broadcast_to(s.reshape(1, 8), (8, 8)) * x)
    for got, want in zip(compile_graph(g).run([x]), [(e + s).sum(1, keepdims=True), e * x]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_long_rows_and_expensive_recomputes_are_refused():
    g = verify(parse(SOFTMAX_AND_REFUSALS))
    text = partition(g, CPU, FusionOptions(max_row_elements=16)).describe()
    assert "multi-output" not in text and "exceeds MAX_ROW_ELEMENTS 16" in text, text
    # exp(x - max) costs 4 per element
    text = partition(g, CPU, FusionOptions(row_recompute_budget=3)).describe()
    assert "would recompute 4 ops per element of earlier stages (ROW_RECOMPUTE_BUDGET 3)" in text, text
    x = RNG.standard_normal((8, 32)).astype(np.float32)
    for options in ({"max_row_elements": 16}, {"row_recompute_budget": 3}):
        with compiler.options(**options):
            for got, want in zip(compile_graph(g).run([x]), _softmax_and_refusals_numpy(x)):
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@st.composite
def _shapes_and_axes(draw):
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    return shape, tuple(sorted(axes))


def _normalizations(lib, x, axes):
    """A softmax, a standardization and two sibling reductions over ``axes``."""
    if lib is np:
        m = x.max(axes, keepdims=True)
        mean = x.mean(axes, keepdims=True)
    else:
        m = x.amax(axes, keepdim=True)
        mean = x.mean(axes, keepdim=True)
    e = (x - m).exp() if lib is not np else np.exp(x - m)
    s = e.sum(axes, keepdims=True) if lib is np else e.sum(axes, keepdim=True)
    c = x - mean
    var = (c * c).mean(axes, keepdims=True) if lib is np else (c * c).mean(axes, keepdim=True)
    std = np.sqrt(var + 1e-5) if lib is np else (var + 1e-5).sqrt()
    return [e / s, c / std, x.sum(axes), (x * x).max(axes) if lib is np else (x * x).amax(axes)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_shapes_and_axes())
def test_multi_output_on_and_off_agree_with_numpy(shape_axes):
    shape, axes = shape_axes
    x = RNG.standard_normal(shape).astype(np.float32)
    want = _normalizations(np, x.astype(np.float64), axes)
    results = {}
    for multi in (True, False):
        with compiler.options(multi_output=multi):
            fn = lumina.compile(lambda t: tuple(_normalizations(lumina, t, axes)))
            results[multi] = [o.numpy() for o in fn(lumina.tensor(x))]
    for on, off, ref in zip(results[True], results[False], want):
        np.testing.assert_allclose(on, ref, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(on, off, rtol=1e-5, atol=1e-5)


# A row of 3 and an empty batch of such rows in one graph (the LayerNorm of a [3] input beside
# that of a [0, 3] one, which reads the same weight): with the empty dim dropped as if it had size
# 1, the [0, 3] reduction ``%8`` would pass for a sibling over the [3] row that shares its input
# ``%0``, and ``%10`` for a whole-row stage storing 3 elements into its empty buffer (memory the
# arena gives to other values). ``%12``, a weight gradient's sum over the empty rows, is zeros.
EMPTY_BESIDE_A_ROW = """
graph empty_rows {
  %0:f32[3] = input {name='x'}
  %1:f32[0,3] = input {name='e'}
  %2:f32[1] = reduce_sum %0 {axes=(0,), keepdim=True}
  %3:f32[3] = expand %2 {shape=(3,)}
  %4:f32[3] = sub %0, %3
  %5:f32[1,3] = reshape %0 {shape=(1, 3)}
  %6:f32[0,3] = expand %5 {shape=(0, 3)}
  %7:f32[0,3] = mul %1, %6
  %8:f32[0,1] = reduce_sum %7 {axes=(1,), keepdim=True}
  %9:f32[0,3] = expand %8 {shape=(0, 3)}
  %10:f32[0,3] = sub %7, %9
  %11:f32[1,3] = reduce_sum %10 {axes=(0,), keepdim=True}
  %12:f32[3] = reshape %11 {shape=(3,)}
  %13:f32[3] = add %4, %12
  return %13, %10, %12
}
"""

# The gradient of ``gather`` with an empty [2, 0] index: a sum over 2 empty rows, padded to the
# input's [1, 1]. The pad is one value per row of the [2, 1, 0] reduction up to size-1 dims, but
# there are no rows: merged, nothing would write the pad's output.
EMPTY_ROWS_PADDED = """
graph empty_pad {
  %0:f32[2,1,0] = input {name='g'}
  %1:f32[1,1,0] = reduce_sum %0 {axes=(0,), keepdim=True}
  %2:f32[1,0] = reshape %1 {shape=(1, 0)}
  %3:f32[1,1] = pad %2 {pads=((0, 0), (0, 1)), value=0.0}
  return %3
}
"""


@pytest.mark.parametrize("text, inputs, want", [
    (EMPTY_BESIDE_A_ROW, [np.array([1.0, 2.0, 6.0], np.float32), np.zeros((0, 3), np.float32)],
     [np.array([-8.0, -7.0, -3.0], np.float32), np.zeros((0, 3), np.float32), np.zeros(3, np.float32)]),
    (EMPTY_ROWS_PADDED, [np.zeros((2, 1, 0), np.float32)], [np.zeros((1, 1), np.float32)]),
])
def test_kernels_over_empty_values_stay_out_of_row_kernels(text, inputs, want, monkeypatch):
    """A kernel that reads or computes an empty value joins no row kernel (nor opens one). The
    arena and the outputs are poisoned (NaN) before each call, so that an element left unwritten,
    or overwritten by a store past an empty buffer's end, shows."""
    g = verify(parse(text))
    monkeypatch.setattr(executable, "POISON", True)
    part = partition(g, CPU)
    for k in part.kernels:
        if k.rows is not None:
            assert all(n.out.type.numel for n in k.nodes), part.describe()
    exe = compile_graph(g)
    for _ in range(2):
        for got, w in zip(exe.run(inputs), want):
            np.testing.assert_array_equal(got, w)


def test_row_kernel_over_rows_that_are_not_its_values_is_refused_by_lowering(monkeypatch):
    """The lowering's own check: forced into one row kernel (as the row analysis would merge them
    without its empty-value rule), the empty kernels give a LuminaCodegenError, not garbage."""
    from lumina.errors import LuminaCodegenError
    from lumina.schedule import row_fusion
    monkeypatch.setattr(row_fusion, "_empty", lambda k: False)
    monkeypatch.setenv("LUMINA_CACHE", "off")   # a program lowered before, kept on disk, would not be lowered again
    for text in (EMPTY_BESIDE_A_ROW, EMPTY_ROWS_PADDED):
        with pytest.raises(LuminaCodegenError, match="row kernel of .* expected"):
            compile_graph(verify(parse(text)))


@pytest.mark.parametrize("shape", [(2,), (5,), (3, 5)])
@pytest.mark.parametrize("with_sum", [False, True])
def test_a_row_kernel_concatenates_its_own_reductions(shape, with_sum):
    """A reader that concatenates the per-row results of the row kernel it joins reads each part at
    an index computed for its place in the result (``i - 1`` for the second one-element part): on
    a dim of extent 1 that is element 0. The two largest of two elements, concatenated, failed to
    lower (LuminaCodegenError)."""
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    t = lumina.tensor(x)
    m = t.amax(-1, keepdim=True)
    second = lumina.where(t == m, -1e30, t).amax(-1, keepdim=True)
    parts = [m, second] + ([(t - m).exp().sum(-1, keepdim=True)] if with_sum else [])
    xm = x.max(-1, keepdims=True)
    want = [xm, np.sort(x, -1)[..., -2:-1]] + ([np.exp(x - xm).sum(-1, keepdims=True)] if with_sum else [])
    np.testing.assert_allclose(lumina.cat(parts, -1).numpy(), np.concatenate(want, -1), rtol=1e-6)
