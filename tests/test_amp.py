"""Mixed precision: the float16 / bfloat16 dtypes, ``lumina.autocast`` and ``lumina.amp.GradScaler``.

Oracles: PyTorch CPU (its half kernels compute in float32 and round every op's result once, which is
what lumina's LLVM backend does, so elementwise results are compared bit for bit), NumPy (float16)
and ml_dtypes (bfloat16) for casts, and float64 sums for the reductions.

Tolerances: casts and the correctly rounded ops (add, sub, mul, div, sqrt, neg, abs, max, min) are
exact. Transcendental ops come from different float32 libm implementations (LLVM's and PyTorch's),
so their float32 values may differ by an ulp of float32, which can flip one rounding to 16 bits:
at most 1 ulp of the 16-bit type. Sums and matmuls accumulate in float32 in an order that differs
from PyTorch's: within 1 ulp of the 16-bit type of the correctly rounded float64 result.
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina.compiler import compile_graph
from lumina.errors import LuminaTraceError, LuminaTypeError, LuminaValueError
from lumina.ir import graph as B
from lumina.ir.dtypes import DType, promote, to_dtype
from lumina.ir.graph import Graph
from lumina.ir.ops import Op
from lumina.ir.parser import parse
from lumina.ir.types import TensorType
from lumina.nn import functional as F
from lumina.transforms.pipeline import optimize

HALVES = [lumina.float16, lumina.bfloat16]
TORCH = {lumina.bool: torch.bool, lumina.int32: torch.int32, lumina.int64: torch.int64,
         lumina.float16: torch.float16, lumina.bfloat16: torch.bfloat16,
         lumina.float32: torch.float32, lumina.float64: torch.float64}
NUMPY = {lumina.float16: np.dtype(np.float16), lumina.bfloat16: np.dtype(ml_dtypes.bfloat16)}
half_ids = pytest.mark.parametrize("dt", HALVES, ids=["f16", "bf16"])


# ---- helpers --------------------------------------------------------------------------------------

def _bits(a) -> np.ndarray:
    """The 16-bit patterns of a float16 / bfloat16 NumPy array or torch tensor."""
    if isinstance(a, torch.Tensor):
        return a.view(torch.int16).numpy().view(np.uint16)
    return np.ascontiguousarray(a).view(np.uint16)


def _ordered(bits: np.ndarray) -> np.ndarray:
    """16-bit float patterns mapped to integers in the order of the values (so that the difference
    of two is their distance in ulps; +0 and -0 both map to 0)."""
    b = bits.astype(np.int64)
    return np.where(b & 0x8000, -(b & 0x7FFF), b)


def _ulps(a, b) -> int:
    return int(np.abs(_ordered(_bits(a)) - _ordered(_bits(b))).max())


def _t(a: np.ndarray, dt) -> torch.Tensor:
    """A float32 array as a torch tensor of dtype ``dt`` (rounded by torch)."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(TORCH[dt])


def _specials(dt) -> np.ndarray:
    """float32 values that stress rounding to ``dt``: exact ties, values just off a tie, the edges
    of the normal and subnormal ranges, overflow, infinities, NaN and signed zeros."""
    info = ml_dtypes.finfo(NUMPY[dt])
    eps, tiny, big = float(info.eps), float(info.tiny), float(info.max)
    mant = int(round(-math.log2(eps)))
    base = [1.0, 1.0 + eps / 2, 1.0 + 3 * eps / 2, 1.0 + eps / 2 + 2.0 ** -23, 1.0 + eps / 2 - 2.0 ** -23,
            2.0 - eps / 4, big, big * (1 + eps / 4), big * (1 + eps / 2), big * 2, tiny, tiny / 2,
            tiny * 2.0 ** -(mant - 1) * 1.5, tiny * 2.0 ** -mant, 0.1, 1 / 3, 65504.0, 65520.0,
            3.0e38, 1e-30, 0.0]
    with np.errstate(over="ignore"):
        vals = np.array(base, dtype=np.float32)
    out = np.concatenate([vals, -vals, [np.inf, -np.inf, np.nan, -np.nan]]).astype(np.float32)
    return out


# ---- dtypes and promotion -------------------------------------------------------------------------

def test_half_dtypes_names_and_numpy_types():
    assert lumina.float16 is DType.float16 and lumina.bfloat16 is DType.bfloat16
    assert (lumina.float16.short, lumina.bfloat16.short) == ("f16", "bf16")
    assert lumina.float16.numpy == np.float16 and lumina.bfloat16.numpy == ml_dtypes.bfloat16
    assert lumina.float16.itemsize == lumina.bfloat16.itemsize == 2
    assert lumina.float16.is_float and lumina.bfloat16.is_half and not lumina.float32.is_half
    for name, dt in [("float16", lumina.float16), ("half", lumina.float16), ("f16", lumina.float16),
                     ("bfloat16", lumina.bfloat16), ("bf16", lumina.bfloat16),
                     (np.float16, lumina.float16), (ml_dtypes.bfloat16, lumina.bfloat16)]:
        assert to_dtype(name) is dt


ALL = [lumina.bool, lumina.int32, lumina.int64, lumina.float16, lumina.bfloat16, lumina.float32,
       lumina.float64]


@pytest.mark.parametrize("a", ALL, ids=lambda d: d.short)
@pytest.mark.parametrize("b", ALL, ids=lambda d: d.short)
def test_promotion_matches_torch(a, b):
    assert TORCH[promote(a, b)] == torch.promote_types(TORCH[a], TORCH[b])
    if a is lumina.bool and b is lumina.bool:
        return  # bool + bool is an error in lumina (and logical or in torch)
    x = lumina.ones(2, dtype=a) + lumina.ones(2, dtype=b)
    assert TORCH[x.dtype] == (torch.ones(2, dtype=TORCH[a]) + torch.ones(2, dtype=TORCH[b])).dtype


@half_ids
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_python_scalars_are_weak_for_halves(dt, scalar):
    x = lumina.ones(3, dtype=dt)
    ref = torch.ones(3, dtype=TORCH[dt])
    assert TORCH[(x * scalar).dtype] == (ref * scalar).dtype == TORCH[dt]
    assert TORCH[(scalar + x).dtype] == (scalar + ref).dtype
    i = lumina.ones(3, dtype=lumina.int32)
    assert (i * x).dtype is dt
    assert (x / 3).dtype is dt


@half_ids
def test_half_methods_and_to(dt):
    x = lumina.tensor([1.0, 2.0])
    y = x.half() if dt is lumina.float16 else x.bfloat16()
    assert y.dtype is dt and x.to(dt).dtype is dt and x.to(NUMPY[dt]).dtype is dt
    assert y.numpy().dtype == NUMPY[dt]
    assert y.float().dtype is lumina.float32
    assert lumina.tensor(np.ones(2, NUMPY[dt])).dtype is dt  # NumPy 16-bit arrays keep their dtype
    assert "dtype=" + dt.name in repr(y)


# ---- casts: bit-exact ------------------------------------------------------------------------------

@half_ids
def test_cast_from_float32_rounds_to_nearest_even(dt):
    rng = np.random.default_rng(0)
    a = np.concatenate([_specials(dt), rng.standard_normal(4096).astype(np.float32) * 100,
                        rng.integers(0, 2 ** 32, 4096, dtype=np.uint64).astype(np.uint32).view(np.float32)])
    out = lumina.tensor(a).to(dt).numpy()
    assert out.dtype == NUMPY[dt]
    ref = _t(a, dt)
    nan = np.isnan(a)
    assert np.isnan(out.astype(np.float32)[nan]).all()
    assert np.array_equal(_bits(out)[~nan], _bits(ref)[~nan])
    with np.errstate(over="ignore", invalid="ignore"):
        theirs = a.astype(NUMPY[dt])  # NumPy (float16) / ml_dtypes (bfloat16)
    assert np.array_equal(_bits(out)[~nan], _bits(theirs)[~nan])


@half_ids
def test_cast_to_half_inside_a_fused_kernel_rounds(dt):
    """``x.to(half).float()`` is not the identity: the rounding happens in registers too."""
    a = np.array([1 / 3, 0.1, 1e5, 1e-3, 2.0 ** -20], dtype=np.float32)
    out = (lumina.tensor(a).to(dt).float() * 2.0).numpy()
    ref = (_t(a, dt).float() * 2.0).numpy()
    assert np.array_equal(out, ref)
    assert not np.array_equal(out, a * 2)


@half_ids
def test_cast_from_float64_and_ints_round_via_float32_as_torch(dt):
    eps = float(ml_dtypes.finfo(NUMPY[dt]).eps)
    # Just above a tie of dt: direct rounding goes up, rounding through float32 lands on the tie.
    f64 = np.array([1 + eps / 2 + 2.0 ** -40, -(1 + eps / 2 + 2.0 ** -40), 1e300, 1 / 3, 2.0 ** -30])
    out = lumina.tensor(f64).to(dt).numpy()
    assert np.array_equal(_bits(out), _bits(torch.from_numpy(f64).to(TORCH[dt])))
    for idt, npt in [(lumina.int64, np.int64), (lumina.int32, np.int32)]:
        ints = np.array([0, 1, -7, 2049, 2051, 65519, 65520, 1 << 20, (1 << 24) + 1 + (1 << 26),
                         -((1 << 30) + 3)], dtype=npt)
        out = lumina.tensor(ints).to(dt).numpy()
        assert np.array_equal(_bits(out), _bits(torch.from_numpy(ints).to(TORCH[dt]))), idt


@half_ids
def test_casts_from_half(dt):
    a = np.array([0.0, -0.0, 1.5, -2.75, 300.0, -1e4, 0.49, np.inf, np.nan], dtype=np.float32)
    h = lumina.tensor(a).to(dt)
    th = _t(a, dt)
    np.testing.assert_array_equal(h.to(lumina.float32).numpy(), th.float().numpy())
    np.testing.assert_array_equal(h.to(lumina.float64).numpy(), th.double().numpy())
    np.testing.assert_array_equal(h.to(lumina.bool).numpy(), th.bool().numpy())
    finite = np.isfinite(a)
    ints = lumina.tensor(a[finite]).to(dt)
    for idt in (lumina.int32, lumina.int64):
        np.testing.assert_array_equal(ints.to(idt).numpy(), _t(a[finite], dt).to(TORCH[idt]).numpy())
    other = lumina.bfloat16 if dt is lumina.float16 else lumina.float16
    big = np.array([1.0009765625, 70000.0, 3.0e-5, 1 / 3], dtype=np.float32)  # range and precision differ
    out = lumina.tensor(big).to(dt).to(other).numpy()
    assert np.array_equal(_bits(out), _bits(_t(big, dt).to(TORCH[other])))
    np.testing.assert_array_equal(lumina.tensor([True, False]).to(dt).numpy().astype(np.float32), [1, 0])


# ---- arithmetic ------------------------------------------------------------------------------------

EXACT_BINARY = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
                "div": lambda x, y: x / y, "maximum": lambda x, y: _lib(x).maximum(x, y),
                "minimum": lambda x, y: _lib(x).minimum(x, y)}


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else lumina


@half_ids
@pytest.mark.parametrize("op", sorted(EXACT_BINARY))
def test_correctly_rounded_binary_ops_are_bit_exact(dt, op):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(5000) * 50).astype(np.float32)
    b = (rng.standard_normal(5000) * 3).astype(np.float32)
    fn = EXACT_BINARY[op]
    out = fn(lumina.tensor(a).to(dt), lumina.tensor(b).to(dt))
    assert out.dtype is dt
    assert np.array_equal(_bits(out.numpy()), _bits(fn(_t(a, dt), _t(b, dt))))


@half_ids
def test_fused_chain_rounds_every_op_like_torch_eager(dt):
    """A chain fuses into one kernel; it still rounds each op's result, so it matches PyTorch's
    one-kernel-per-op results bit for bit (and is not the float32 chain rounded once)."""
    rng = np.random.default_rng(2)
    a, b, c = (rng.standard_normal(5000).astype(np.float32) for _ in range(3))

    def chain(x, y, z):
        return ((x * y + z) * x - y / (z * z + 1.0)).sqrt() * 3.0 + x.abs()

    out = chain(*(lumina.tensor(v).to(dt) for v in (a, b, c))).numpy()
    ref = chain(*(_t(v, dt) for v in (a, b, c)))
    nan = np.isnan(out.astype(np.float32))
    assert np.array_equal(nan, torch.isnan(ref).numpy())
    assert np.array_equal(_bits(out)[~nan], _bits(ref)[~nan])
    f32 = chain(*(torch.from_numpy(v).to(TORCH[dt]).float() for v in (a, b, c))).to(TORCH[dt])
    assert not np.array_equal(_bits(out)[~nan], _bits(f32)[~nan])


# gelu: x * Phi(x) cancels in float32 for x < -3, where its value is below 0.004
UNARY = {"exp": "real", "log": "pos", "sqrt": "pos", "sin": "real", "cos": "real", "tanh": "real",
         "erf": "real", "sigmoid": "real", "relu": "real", "gelu": "mid", "neg": "real", "abs": "real"}


@half_ids
@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_ops_within_one_ulp_of_torch(dt, op):
    rng = np.random.default_rng(3)
    lo, hi = {"pos": (0.05, 8.0), "real": (-6.0, 6.0), "mid": (-3.0, 6.0)}[UNARY[op]]
    a = rng.uniform(lo, hi, 5000)
    a = a.astype(np.float32)
    out = getattr(lumina.tensor(a).to(dt), op)()
    ref = getattr(torch.nn.functional if op == "gelu" else torch, op)(_t(a, dt))
    assert out.dtype is dt
    assert _ulps(out.numpy(), ref) <= (0 if op in ("sqrt", "neg", "abs", "relu") else 1)


@half_ids
def test_pow_within_one_ulp_of_torch(dt):
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0.1, 4, 3000).astype(np.float32), rng.uniform(-3, 3, 3000).astype(np.float32)
    out = lumina.tensor(a).to(dt) ** lumina.tensor(b).to(dt)
    assert _ulps(out.numpy(), _t(a, dt) ** _t(b, dt)) <= 1


@half_ids
def test_comparisons_and_where(dt):
    a = np.array([1.0, 1.0009765625, 1 / 3, -2.0, np.nan], dtype=np.float32)
    b = np.array([1.0, 1.0, 0.333, -2.0, np.nan], dtype=np.float32)
    x, y = lumina.tensor(a).to(dt), lumina.tensor(b).to(dt)
    tx, ty = _t(a, dt), _t(b, dt)
    for fn in (lambda p, q: p < q, lambda p, q: p == q, lambda p, q: p != q, lambda p, q: p >= q):
        np.testing.assert_array_equal(fn(x, y).numpy(), fn(tx, ty).numpy())
    out = lumina.where(x > y, x, y * 2.0)
    assert out.dtype is dt
    assert np.array_equal(_bits(out.numpy()), _bits(torch.where(tx > ty, tx, ty * 2.0)))


@half_ids
def test_rand_in_half_is_in_the_unit_interval(dt):
    lumina.manual_seed(0)
    u = lumina.rand(200_000, dtype=dt).numpy().astype(np.float32)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01
    assert len(np.unique(u)) > 100


# ---- reductions ------------------------------------------------------------------------------------

@half_ids
def test_sum_of_1e5_halves_accumulates_in_float32(dt):
    rng = np.random.default_rng(5)
    for trial in range(3):
        h = (rng.standard_normal(100_000) + 0.1 * trial).astype(np.float32).astype(NUMPY[dt])
        out = lumina.tensor(h).sum()
        assert out.dtype is dt
        exact = np.float32(h.astype(np.float64).sum()).astype(NUMPY[dt])
        f32_sum = torch.from_numpy(h.astype(np.float32)).sum().to(TORCH[dt])  # torch, float32 sum
        assert _ulps(out.numpy(), exact) <= 1
        assert _ulps(out.numpy(), f32_sum) <= 1
        # torch's own half sum accumulates in float32 too, in another order
        torch_sum = torch.from_numpy(h.astype(np.float32)).to(TORCH[dt]).sum()
        tol = 8 * float(ml_dtypes.finfo(NUMPY[dt]).eps) * abs(float(exact)) + 1e-3
        assert abs(float(out.numpy()) - torch_sum.item()) <= tol
        # accumulating in the 16-bit type itself would be far off
        naive = np.cumsum(h.astype(np.float16))[-1] if dt is lumina.float16 else None
        if naive is not None:
            assert abs(float(naive) - float(exact)) > abs(float(out.numpy()) - float(exact))


@half_ids
def test_a_split_half_sum_keeps_float32_partial_sums(dt):
    """split_reductions turns a long sum into two; both stages stay in float32 (one rounding)."""
    x = lumina.tensor(np.full(1 << 17, 2.0 ** -7 + 2.0 ** -14, np.float32)).to(dt)
    f = lumina.compile(lambda v: v.sum())
    text = f.lower(x).as_text("optimized")
    sums = [ln for ln in text.splitlines() if "= reduce_sum" in ln]
    assert len(sums) == 2 and all(":f32[" in ln for ln in sums)
    want = np.float32(float(x.numpy()[0]) * (1 << 17)).astype(NUMPY[dt])
    assert np.array_equal(_bits(f(x).numpy()), _bits(want))


@half_ids
def test_reductions_along_axes_match_torch(dt):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((37, 300)).astype(np.float32)
    x, tx = lumina.tensor(a).to(dt), _t(a, dt)
    assert _ulps(x.sum(1).numpy(), tx.float().sum(1).to(TORCH[dt])) <= 1
    assert _ulps(x.sum(0, keepdim=True).numpy(), tx.float().sum(0, keepdim=True).to(TORCH[dt])) <= 1
    assert np.array_equal(_bits(x.amax(1).numpy()), _bits(tx.amax(1)))
    assert np.array_equal(_bits(x.amin(0).numpy()), _bits(tx.amin(0)))
    assert np.array_equal(_bits(x.max(1).values.numpy()), _bits(tx.max(1).values))
    mean = x.mean(1)
    assert mean.dtype is dt and _ulps(mean.numpy(), tx.mean(1)) <= 1
    np.testing.assert_array_equal(x.argmax(1).numpy(), tx.argmax(1).numpy())


@half_ids
def test_softmax_and_log_softmax_of_halves(dt):
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((16, 50)) * 4).astype(np.float32)
    x = lumina.tensor(a).to(dt)
    exact_in = torch.from_numpy(x.numpy().astype(np.float64))
    for ours, theirs in ((F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)):
        out = ours(x, 1)
        assert out.dtype is dt
        exact = theirs(exact_in, 1).float().to(TORCH[dt])
        assert _ulps(out.numpy(), exact) <= 1  # computed in float32, rounded once
        # torch's half log_softmax rounds its shift (max + log-sum) to 16 bits first, so it can be
        # off by an ulp of the largest |output|: compare at that resolution
        eps = float(ml_dtypes.finfo(NUMPY[dt]).eps)
        got = out.numpy().astype(np.float32)
        np.testing.assert_allclose(got, theirs(_t(a, dt), 1).float().numpy(), rtol=eps,
                                   atol=eps * np.abs(got).max())


# ---- matmul ----------------------------------------------------------------------------------------

@half_ids
@pytest.mark.parametrize("shape", [((64, 300), (300, 50)), ((3, 17, 700), (3, 700, 9)), ((5,), (5, 7)),
                                   ((1030, 40), (40, 33))])
def test_half_matmul_matches_torch(dt, shape):
    """Accumulation in float32 (K = 700 spans two K blocks of the packed GEMM), one rounding."""
    rng = np.random.default_rng(8)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shape)
    out = lumina.tensor(a).to(dt) @ lumina.tensor(b).to(dt)
    assert out.dtype is dt
    ta, tb = _t(a, dt), _t(b, dt)
    exact = (ta.double() @ tb.double()).float().to(TORCH[dt])
    assert _ulps(out.numpy(), exact) <= 1
    assert _ulps(out.numpy(), ta @ tb) <= 1


@half_ids
def test_half_matmul_gradients_match_torch(dt):
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((8, 40)).astype(np.float32), rng.standard_normal((40, 6)).astype(np.float32)
    x = lumina.tensor(a.astype(NUMPY[dt]), requires_grad=True)
    y = lumina.tensor(b.astype(NUMPY[dt]), requires_grad=True)
    (x @ y).sum().backward()
    tx, ty = _t(a, dt).requires_grad_(), _t(b, dt).requires_grad_()
    (tx @ ty).sum().backward()
    assert x.grad.dtype is dt and y.grad.dtype is dt
    assert _ulps(x.grad.numpy(), tx.grad) <= 1 and _ulps(y.grad.numpy(), ty.grad) <= 1


@half_ids
def test_half_dot_is_a_float32_gemm_in_the_optimized_ir(dt):
    x = lumina.tensor(np.ones((4, 8), NUMPY[dt]))
    y = lumina.tensor(np.ones((8, 3), NUMPY[dt]))
    f = lumina.compile(lambda p, q: p @ q)
    text = f.lower(x, y).as_text("optimized")
    dots = [ln for ln in text.splitlines() if "= dot" in ln]
    assert dots and all(":f32[" in ln for ln in dots)
    np.testing.assert_array_equal(f(x, y).numpy().astype(np.float32), np.full((4, 3), 8.0))


# ---- constant folding and IR text -------------------------------------------------------------------

@half_ids
def test_constant_folding_computes_what_the_backend_computes(dt):
    rng = np.random.default_rng(10)
    a = rng.standard_normal(64).astype(np.float32)
    b = rng.standard_normal((8, 8)).astype(np.float32)

    def full(v):  # a whole array: folding leaves broadcast scalars alone
        return B.const(np.full(a.shape, v, np.float32), dt, a.shape)

    def build(x, m):
        y = B.cast(x, dt)
        z = B.add(B.mul(y, full(1.1)), full(1 / 3))
        z = B.div(B.unary(Op.EXP, z), B.add(B.mul(y, y), full(1.0)))
        s = B.reduce(Op.REDUCE_SUM, z, [0])
        mm = B.dot(B.cast(m, dt), B.cast(m, dt), contract=((1,), (0,)))
        return [z, s, mm, B.cast(B.cast(x, lumina.float64), dt)]

    folded = Graph.from_outputs(build(B.const(a, lumina.float32, a.shape),
                                      B.const(b, lumina.float32, b.shape)), [])
    assert all(n.op is Op.CONST for n in optimize(folded).nodes)
    x = B.emit(Op.INPUT, type=TensorType(a.shape, lumina.float32), name="x")
    m = B.emit(Op.INPUT, type=TensorType(b.shape, lumina.float32), name="m")
    ran = compile_graph(Graph.from_outputs(build(x, m), [x, m])).run([a, b])
    values = compile_graph(folded).run([])
    for got, want in zip(values, ran):
        assert got.dtype == want.dtype == NUMPY[dt]
        assert _ulps(got, want) <= 1  # exp: NumPy's float32 vs libm's
    assert np.array_equal(_bits(values[3]), _bits(ran[3]))


@half_ids
def test_ir_text_round_trips_half_constants_and_casts(dt):
    small = np.array([1.5, -0.1, 3.0], dtype=np.float32).astype(NUMPY[dt])
    large = np.linspace(-4, 4, 40, dtype=np.float32).astype(NUMPY[dt])
    special = np.array([np.inf, -np.inf, 0.0], dtype=np.float32).astype(NUMPY[dt])
    x = B.const(small, dt, small.shape)
    y = B.cast(B.const(large, dt, large.shape), lumina.float32)
    other = lumina.float16 if dt is lumina.bfloat16 else lumina.bfloat16
    z = B.cast(B.const(special, dt, special.shape), other)
    g = Graph.from_outputs([x, y, z], [])
    text = str(g)
    assert f":{dt.short}[3] = const" in text and "{dtype=" in text
    again = parse(text)
    assert str(again) == text and again.structural_hash() == g.structural_hash()
    for n1, n2 in zip(g.nodes, again.nodes):
        if n1.op.value == "const":
            assert n2.attrs["value"].dtype == NUMPY[dt]
            assert np.array_equal(_bits(n1.attrs["value"]), _bits(n2.attrs["value"]))


def test_ir_parser_reads_half_types():
    g = parse("""graph g {
      %0:bf16[2,3] = input {name='x'}
      %1:f16[2,3] = cast %0 {dtype=f16}
      %2:f16[2] = reduce_sum %1 {axes=(1,), keepdim=False}
      return %2
    }""")
    assert g.outputs[0].dtype is lumina.float16 and g.inputs[0].dtype is lumina.bfloat16


# ---- compiled functions on half data ---------------------------------------------------------------

@half_ids
def test_compiled_function_takes_and_returns_half_arrays(dt):
    f = lumina.compile(lambda x, y: (x * y + 1.0, (x * y).sum()))
    a = np.arange(12, dtype=np.float32).reshape(3, 4).astype(NUMPY[dt])
    out, s = f(a, a)
    assert out.dtype is dt and out.numpy().dtype == NUMPY[dt]
    ref = _t(a.astype(np.float32), dt)
    assert np.array_equal(_bits(out.numpy()), _bits(ref * ref + 1.0))
    assert float(s.numpy()) == float((ref.float() * ref.float()).sum())


# ---- autocast ---------------------------------------------------------------------------------------

def _torch_linear(lin: nn.Linear) -> torch.nn.Linear:
    t = torch.nn.Linear(lin.in_features, lin.out_features)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(lin.weight.numpy()))
        t.bias.copy_(torch.from_numpy(lin.bias.numpy()))
    return t


@half_ids
def test_autocast_result_dtypes_match_torch(dt):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((4, 8)).astype(np.float32)
    target = np.array([0, 1, 2, 0])
    lumina.manual_seed(0)
    lin = nn.Linear(8, 3)
    tlin = _torch_linear(lin)
    x, tx = lumina.tensor(a), torch.from_numpy(a)
    with lumina.autocast("cpu", dtype=dt):
        o, m, m64 = lin(x), x @ x.T, x.double() @ x.double().T
        mixed = x.half() @ x.bfloat16().T
        got = [o, m, m64, mixed, F.softmax(o, 1), F.log_softmax(o, 1),
               F.cross_entropy(o, lumina.tensor(target)), F.mse_loss(o, lumina.zeros(4, 3)),
               o.sum(), o.mean(), o.relu(), o + x[:, :3]]
    with torch.autocast("cpu", dtype=TORCH[dt]):
        to = tlin(tx)
        want = [to, tx @ tx.T, tx.double() @ tx.double().T, tx.half() @ tx.bfloat16().T,
                torch.softmax(to, 1), torch.log_softmax(to, 1),
                torch.nn.functional.cross_entropy(to, torch.from_numpy(target)),
                torch.nn.functional.mse_loss(to, torch.zeros(4, 3)), to.sum(), to.mean(), to.relu(),
                to + tx[:, :3]]
    assert [TORCH[g.dtype] for g in got] == [w.dtype for w in want]
    # The linear layer ran in the autocast dtype: same rounding as torch's
    assert _ulps(o.numpy(), to.detach()) <= 1
    np.testing.assert_allclose(float(got[6].numpy()), want[6].item(), rtol=2e-2)


def test_autocast_disabled_nested_and_as_decorator():
    x = lumina.ones(2, 2)
    assert not lumina.amp.is_autocast_enabled()
    with lumina.autocast("cpu", dtype=lumina.float16):
        assert (x @ x).dtype is lumina.float16
        with lumina.autocast("cpu", enabled=False):
            assert (x @ x).dtype is lumina.float32
            assert lumina.amp.autocast_operands(x)[0] is x
        with lumina.autocast("cpu", dtype=lumina.bfloat16):
            assert (x @ x).dtype is lumina.bfloat16
        assert (x @ x).dtype is lumina.float16
    assert (x @ x).dtype is lumina.float32

    @lumina.autocast("cpu", dtype=lumina.bfloat16)
    def f(a):
        return a @ a
    assert f(x).dtype is lumina.bfloat16 and (x @ x).dtype is lumina.float32
    ints = lumina.ones(2, 2, dtype=lumina.int64)
    with lumina.autocast("cpu"):
        assert lumina.amp.get_autocast_dtype() is lumina.bfloat16
        assert (ints @ ints).dtype is lumina.int64
        d = x.double()
        out = lumina.amp.autocast_operands(None, ints, d, x)
        assert out[:3] == (None, ints, d) and out[3].dtype is lumina.bfloat16
        assert lumina.amp.autocast_fp32(x.half())[0].dtype is lumina.float32
    with pytest.raises(LuminaTypeError, match="autocast: dtype"):
        lumina.autocast("cpu", dtype=lumina.float32)


def test_autocast_state_is_part_of_the_compiled_signature():
    f = lumina.compile(lambda a: a @ a)
    x = lumina.ones(3, 3)
    assert f(x).dtype is lumina.float32
    with lumina.autocast("cpu", dtype=lumina.bfloat16):
        assert f(x).dtype is lumina.bfloat16
    with lumina.autocast("cpu", dtype=lumina.float16):
        assert f(x).dtype is lumina.float16
    assert f(x).dtype is lumina.float32


def test_autocast_gradients_match_torch():
    rng = np.random.default_rng(12)
    a = rng.standard_normal((16, 8)).astype(np.float32)
    target = rng.integers(0, 4, 16)
    lumina.manual_seed(1)
    lin = nn.Linear(8, 4)
    tlin = _torch_linear(lin)
    with lumina.autocast("cpu", dtype=lumina.bfloat16):
        loss = F.cross_entropy(lin(lumina.tensor(a)), lumina.tensor(target))
    loss.backward()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tloss = torch.nn.functional.cross_entropy(tlin(torch.from_numpy(a)), torch.from_numpy(target))
    tloss.backward()
    assert loss.dtype is lumina.float32 and lin.weight.grad.dtype is lumina.float32
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-2)
    # bf16 gradients (8 mantissa bits): compare at bf16 resolution
    np.testing.assert_allclose(lin.weight.grad.numpy(), tlin.weight.grad.numpy(), rtol=3e-2, atol=3e-3)
    np.testing.assert_allclose(lin.bias.grad.numpy(), tlin.bias.grad.numpy(), rtol=3e-2, atol=3e-3)


# ---- GradScaler ------------------------------------------------------------------------------------

def _scaled_runs(opt_name: str, xs, ys, w0, compiled: bool, **scaler_kw):
    """Train ``w`` on mse(x @ w.T, y) with a GradScaler in lumina and in torch; per step, return
    (weights, scale, growth tracker) of both."""
    w = lumina.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    if opt_name == "sgd":
        opt, topt = lumina.optim.SGD([w], lr=0.1, momentum=0.9), torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    else:
        opt, topt = lumina.optim.AdamW([w], lr=0.01), torch.optim.AdamW([tw], lr=0.01)
    scaler = lumina.amp.GradScaler(**scaler_kw)
    tscaler = torch.amp.GradScaler("cpu", **scaler_kw)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(x @ w.T, y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    run = lumina.compile(step) if compiled else step
    ours, theirs = [], []
    for x, y in zip(xs, ys):
        run(lumina.tensor(x), lumina.tensor(y))
        ours.append((w.numpy().copy(), scaler.get_scale(), int(scaler._growth_tracker.item())))
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(torch.from_numpy(x) @ tw.T, torch.from_numpy(y))
        tscaler.scale(tloss).backward()
        tscaler.step(topt)
        tscaler.update()
        theirs.append((tw.detach().numpy().copy(), tscaler.get_scale(), int(tscaler._growth_tracker.item())))
    return ours, theirs


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("opt_name", ["sgd", "adamw"])
def test_grad_scaler_matches_torch(opt_name, compiled):
    rng = np.random.default_rng(13)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    xs = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(12)]
    ys = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(12)]
    xs[2][0, 0] = np.inf   # a skipped step
    xs[3][1, 2] = np.nan   # and another right after it
    ours, theirs = _scaled_runs(opt_name, xs, ys, w0, compiled, init_scale=2.0 ** 10, growth_interval=3)
    scales = [s for _, s, _ in theirs]
    assert scales == [1024.0, 1024.0, 512.0, 256.0, 256.0, 256.0, 512.0, 512.0, 512.0, 1024.0, 1024.0, 1024.0]
    for i, ((w, s, g), (tw, ts, tg)) in enumerate(zip(ours, theirs)):
        assert (s, g) == (ts, tg), i
        np.testing.assert_allclose(w, tw, rtol=1e-5, atol=1e-6, err_msg=f"step {i}")
    np.testing.assert_array_equal(ours[2][0], ours[1][0])  # skipped: bit-for-bit unchanged
    np.testing.assert_array_equal(ours[3][0], ours[1][0])


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_grad_scaler_overflow_skips_exactly_that_step(compiled):
    """Step 2 runs with a scale so large that the scaled loss overflows float32: that step is
    skipped (weights and momentum bit-for-bit unchanged) and the scale halves; every other step
    equals the same SGD step taken without any scaling."""
    rng = np.random.default_rng(14)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    xs = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(6)]
    ys = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(6)]
    w = lumina.tensor(w0, requires_grad=True)
    opt = lumina.optim.SGD([w], lr=0.005, momentum=0.9)
    scaler = lumina.amp.GradScaler()
    ref_w = lumina.tensor(w0, requires_grad=True)
    ref_opt = lumina.optim.SGD([ref_w], lr=0.005, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(x @ w.T, y, reduction="sum")   # about 50: times 2^127 is inf
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    run = lumina.compile(step) if compiled else step
    for i, (x, y) in enumerate(zip(xs, ys)):
        if i == 2:
            scaler.update(new_scale=2.0 ** 127)
        if i == 3:
            assert scaler.get_scale() == 2.0 ** 126   # halved by the overflow
            scaler.update(new_scale=2.0 ** 16)
        before_w = w.numpy().copy()
        before_m = opt._slot(w, "momentum_buffer").numpy().copy()
        run(lumina.tensor(x), lumina.tensor(y))
        if i == 2:
            np.testing.assert_array_equal(w.numpy(), before_w)
            np.testing.assert_array_equal(opt._slot(w, "momentum_buffer").numpy(), before_m)
            continue
        assert scaler.get_scale() == 2.0 ** 16
        ref_opt.zero_grad()
        F.mse_loss(lumina.tensor(x) @ ref_w.T, lumina.tensor(y), reduction="sum").backward()
        ref_opt.step()
        assert not np.array_equal(w.numpy(), before_w)
        np.testing.assert_allclose(w.numpy(), ref_w.numpy(), rtol=1e-6, atol=1e-7)


def test_grad_scaler_grows_after_growth_interval_steps_and_not_past_float32():
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = lumina.optim.SGD([w], lr=0.0)
    scaler = lumina.amp.GradScaler(init_scale=2.0 ** 126, growth_factor=2.0, growth_interval=2)
    tw = torch.ones(3, requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.0)
    tscaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 126, growth_interval=2)

    @lumina.compile
    def step():
        opt.zero_grad()
        scaler.scale((w * 1e-30).sum()).backward()
        scaler.step(opt)
        scaler.update()

    seen = []
    for _ in range(6):
        step()
        topt.zero_grad()
        tscaler.scale((tw * 1e-30).sum()).backward()
        tscaler.step(topt)
        tscaler.update()
        seen.append((scaler.get_scale(), int(scaler._growth_tracker.item())))
        assert seen[-1] == (tscaler.get_scale(), int(tscaler._growth_tracker.item()))
    assert seen == [(2.0 ** 126, 1), (2.0 ** 127, 0), (2.0 ** 127, 1), (2.0 ** 127, 0), (2.0 ** 127, 1),
                    (2.0 ** 127, 0)]


def test_grad_scaler_unscales_grads_and_supports_unscale_before_step():
    w = lumina.tensor([1.0, 2.0], requires_grad=True)
    opt = lumina.optim.SGD([w], lr=0.5)
    scaler = lumina.amp.GradScaler(init_scale=8.0)
    loss = (w * w).sum()
    scaled = scaler.scale(loss)
    assert scaled.item() == 40.0
    scaled.backward()
    scaler.unscale_(opt)
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
    with pytest.raises(LuminaValueError, match="already called"):
        scaler.unscale_(opt)
    scaler.step(opt)           # does not unscale twice
    scaler.update()
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0])
    assert scaler.get_scale() == 8.0
    with pytest.raises(LuminaValueError, match="no inf checks"):
        scaler.update()


def test_grad_scaler_disabled_is_a_passthrough_and_state_round_trips():
    w = lumina.tensor([1.0], requires_grad=True)
    opt = lumina.optim.SGD([w], lr=1.0)
    off = lumina.amp.GradScaler(enabled=False)
    loss = (w * 3.0).sum()
    assert off.scale(loss) is loss
    loss.backward()
    off.step(opt)
    off.update()
    np.testing.assert_array_equal(w.numpy(), [-2.0])
    assert off.get_scale() == 1.0 and not off.is_enabled()
    a = lumina.amp.GradScaler(init_scale=4.0, growth_interval=7)
    b = lumina.amp.GradScaler()
    b.load_state_dict(a.state_dict())
    assert b.get_scale() == 4.0 and b.get_growth_interval() == 7
    with pytest.raises(LuminaValueError, match="growth_factor"):
        lumina.amp.GradScaler(growth_factor=1.0)


def test_grad_scaler_get_scale_inside_compile_is_a_trace_error():
    scaler = lumina.amp.GradScaler()
    f = lumina.compile(lambda x: x * scaler.get_scale())
    with pytest.raises(LuminaTraceError):
        f(lumina.ones(2))


# ---- a bf16-autocast training run ------------------------------------------------------------------

def _train_digits(autocast_dtype, seed: int = 0, epochs: int = 30):
    """examples/train_digits.py's MLP and schedule, optionally under autocast; test accuracy."""
    spec = importlib.util.spec_from_file_location(
        "example_train_digits", Path(__file__).resolve().parent.parent / "examples" / "train_digits.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    x_train, x_test, y_train, y_test = example.load(seed)
    lumina.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = lumina.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    amp = lumina.autocast("cpu", dtype=autocast_dtype or lumina.bfloat16, enabled=autocast_dtype is not None)

    @lumina.compile
    def train_step(x, y):
        opt.zero_grad()
        with amp:
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    @lumina.compile
    def predict(x):
        with lumina.no_grad(), amp:
            return model(x).argmax(1)

    rng = np.random.default_rng(seed)
    n = len(x_train) // 64 * 64
    for _ in range(epochs):
        for idx in rng.permutation(len(x_train))[:n].reshape(-1, 64):
            loss = train_step(x_train[idx], y_train[idx])
    assert loss.dtype is lumina.float32 and model[0].weight.dtype is lumina.float32
    traced = train_step.lower(x_train[:64], y_train[:64]).as_text()
    dot_types = {ln.split(":")[1].split("[")[0] for ln in traced.splitlines() if "= dot" in ln}
    return float((predict(x_test).numpy() == y_test).mean()), dot_types


def test_bf16_autocast_digits_mlp_matches_float32_accuracy():
    acc32, dots32 = _train_digits(None)
    acc16, dots16 = _train_digits(lumina.bfloat16)
    assert dots32 == {"f32"} and dots16 == {"bf16"}  # the autocast run really multiplied in bf16
    assert acc32 >= 0.96
    assert abs(acc16 - acc32) <= 0.005
