"""Legalization (``codegen.legalize``) and the one definition of ``rand``'s bits (``ir.numerics``).

The SplitMix64 hash against the generator's published outputs; ``rand`` as the CPU backend computes
it (through the legalized kernel operations) and as the reference interpreter does, against that
definition bit for bit; each template, run on the CPU, against NumPy, ``ml_dtypes`` or Python; and
what legalization leaves for each backend's table: only the ops the rules do not rewrite, every
expression keeping its dtype, a second pass changing nothing."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from lumina.backends.cpu.llvm import LEGALIZE as LLVM_RULES
from lumina.backends.cuda.triton_expr import LEGALIZE as TRITON_RULES
from lumina.backends.metal.msl_expr import LEGALIZE as METAL_RULES
from lumina.codegen import expr as E
from lumina.codegen.expr import KOp
from lumina.codegen.kernel import Buffer, LoopKernel, RowKernel
from lumina.codegen.legalize import Rule, legalize
from lumina.compiler import compile_graph
from lumina.ir import parse, verify
from lumina.ir.dtypes import DType
from lumina.ir.interpret import interpret
from lumina.ir.numerics import RAND_BITS, splitmix64, uniform
from lumina.ir.ops import Op
from lumina.testing import kernel_builders as kb
from lumina.testing.kernels import cpu_outputs

F32, F64, F16, BF16, I32, I64, BOOL = (DType.float32, DType.float64, DType.float16, DType.bfloat16,
                                       DType.int32, DType.int64, DType.bool)


# ---- rand: one definition ---------------------------------------------------------------------------

def test_splitmix64_is_the_published_generator():
    """State ``(key + 1) * GOLDEN`` at position 0 is the ``key + 1``-th state of Vigna's
    ``splitmix64.c`` seeded with 0, whose first outputs are published."""
    first = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]
    assert [int(splitmix64(key, np.zeros(1, np.int64))[0]) for key in range(4)] == first


@pytest.mark.parametrize("dt", [F16, BF16, F32, F64])
def test_rand_on_the_cpu_is_the_reference_definition(dt):
    n = 3000
    for key in (0, 12345, -1, 2**62 + 7):
        got = cpu_outputs(kb.rand_kernel(dt, n), [np.array([key], np.int64)])[0]
        want = uniform(key, np.arange(n) + 5, dt)   # rand_kernel draws at positions i + 5
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8), err_msg=f"key {key}")
        assert ((got >= 0) & (got < 1)).all()
        # every sample is a whole number of 2**-bits, and the draws use the top bits
        scaled = got.astype(np.float64) * 2.0 ** RAND_BITS[dt]
        assert (scaled == np.floor(scaled)).all() and scaled.max() >= 2.0 ** RAND_BITS[dt] * 0.99


def test_the_reference_interpreter_evaluates_rand_as_the_cpu_does():
    graph = verify(parse("""
graph draws {
  %0:i64[] = input {name='key'}
  %1:f32[3,5] = rand %0 {shape=(3, 5), dtype=f32}
  %2:bf16[7] = rand %0 {shape=(7,), dtype=bf16}
  return %1, %2
}
"""))
    key = np.array(42, np.int64)
    for got, exe, want in zip(interpret(graph, [key]), compile_graph(graph).run([key]),
                              [uniform(42, np.arange(15).reshape(3, 5), F32), uniform(42, np.arange(7), BF16)]):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
        np.testing.assert_array_equal(np.asarray(exe).view(np.uint8), want.view(np.uint8))


# ---- the templates, on the CPU, against their definitions ------------------------------------------

def test_bfloat16_rounding_matches_ml_dtypes():
    rng = np.random.default_rng(0)
    grid = rng.normal(0, 100, 4000).astype(BF16.numpy).astype(np.float32)
    ulp = np.abs(np.spacing(grid.astype(BF16.numpy)).astype(np.float32))
    edges = np.array([3.39e38, -3.39e38, 1e-45, np.inf, -np.inf, 0.0, -0.0], np.float32)
    tiny = rng.normal(0, 1e-38, 200).astype(np.float32)     # subnormals
    x = np.concatenate([grid + ulp / 2, grid - ulp / 2, grid + ulp / 3, tiny, edges]).astype(np.float32)
    k = kb.elementwise("k_to_bf16", [F32], BF16, x.size, lambda a: E.Cast(a, BF16))
    got = cpu_outputs(k, [x])[0]
    np.testing.assert_array_equal(got.view(np.uint16), x.astype(ml_dtypes.bfloat16).view(np.uint16))
    nan = cpu_outputs(kb.elementwise("k_nan_bf16", [F32], BF16, 2, lambda a: E.Cast(a, BF16)),
                      [np.array([np.nan, -np.nan], np.float32)])[0]
    assert np.isnan(nan.astype(np.float32)).all()


def test_maximum_minimum_and_division_match_numpy():
    inputs = kb.binary_inputs()
    with np.errstate(all="ignore"):
        for dt in (F32, I32, I64):
            a, b = inputs[dt]
            for op, ref in ((Op.MAXIMUM, np.maximum), (Op.MINIMUM, np.minimum)):
                got = cpu_outputs(kb.binary_kernel(op, dt, a.size), [a, b])[0]
                np.testing.assert_array_equal(got, ref(a, b), err_msg=f"{op.value} {dt.name}")
        for dt in (I32, I64):
            a, b = inputs[dt]
            got = cpu_outputs(kb.binary_kernel(Op.DIV, dt, a.size), [a, b])[0]
            # C's truncating quotient, 0 for a zero divisor; MIN / -1 wraps to MIN
            quotient = [0 if y == 0 else abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
                        for x, y in zip(a.astype(object), b.astype(object))]
            want = np.array(quotient).astype(dt.numpy)
            np.testing.assert_array_equal(got, want)


def test_floor_division_of_negative_indices_matches_python():
    k, want = kb.floor_index_kernel()
    np.testing.assert_array_equal(cpu_outputs(k, [])[0], want)


@pytest.mark.parametrize("op, ref, ulps", [(Op.TANH, math.tanh, 4), (Op.ERF, math.erf, 4)])
def test_float32_polynomials_are_within_a_few_ulp(op, ref, ulps):
    x = np.concatenate([np.linspace(-6, 6, 20001, dtype=np.float32), kb.SPECIAL,
                        np.array([0.4999, 0.5, 0.6249, 0.625, 4.0, 5.0, 9.5, 44.5, -45.0], np.float32)])
    got = cpu_outputs(kb.elementwise(f"k_{op.value}", [F32], F32, x.size, lambda a: E.Un(op, a, F32)), [x])[0]
    want = np.array([ref(float(v)) if not math.isnan(v) else math.nan for v in x]).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    ulp = np.spacing(np.abs(want[finite])).astype(np.float64)
    err = np.abs(got[finite].astype(np.float64) - want[finite].astype(np.float64))
    assert (err <= ulps * np.maximum(ulp, np.spacing(np.float32(1e-30)))).all(), float((err / ulp).max())


def test_a_users_multiply_add_is_rounded_twice_as_numpy_rounds_it():
    """Only the library's polynomials may fuse a multiply and an add (``E.Bin.contract``): with
    ``a = b = 1 + 2**-13`` and ``c = -(1 + 2**-12)``, ``a * b + c`` is 0 with the product rounded
    (NumPy, PyTorch eager) and 2**-26 fused."""
    import lumina
    a = np.full(64, 1 + 2.0 ** -13, np.float32)
    c = np.full(64, -(1 + 2.0 ** -12), np.float32)
    f = lumina.compile(lambda a, b, c: a * b + c)
    got = f(lumina.from_numpy(a), lumina.from_numpy(a.copy()), lumina.from_numpy(c)).numpy()
    np.testing.assert_array_equal(got, a * a + c)
    assert (a * a + c == 0).all()


# ---- what legalization leaves ----------------------------------------------------------------------

def _kernels() -> list:
    out = []
    for dt in (F32, F64, F16, BF16):
        def every_op(a, b, dt=dt):
            unary = [E.Un(op, a, dt) for op in kb.UNARY]
            binary = [E.Bin(op, a, b, dt)
                      for op in (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM)]
            compare = [E.Cast(E.Bin(op, a, b, BOOL), dt) for op in sorted(E.COMPARE, key=lambda o: o.value)]
            casts = [E.Cast(E.Cast(a, I32), dt), E.Cast(E.Cast(a, F64 if dt is not F64 else F32), dt),
                     E.Const(0.1, dt)]
            return kb.sum_of(unary + binary + compare + casts + [E.Rand(E.iconst(3), E.Var("i0", 64), dt)], dt)
        out.append(kb.elementwise(f"k_ops_{dt.name}", [dt, dt], dt, 64, every_op))
        out.append(kb.rand_kernel(dt, 8))
    for dt in (I32, I64):
        out.append(kb.elementwise(f"k_int_{dt.name}", [dt, dt], dt, 64,
                                  lambda a, b, dt=dt: kb.sum_of([E.Bin(op, a, b, dt) for op in
                                                                 (Op.DIV, Op.MAXIMUM, Op.MINIMUM, Op.ADD)], dt)))
    out += [kb.floor_index_kernel()[0], kb.softmax_rows(4, 30), kb.mean_var_norm(3, 7, BF16),
            kb.dot_bias_relu_layer_norm(2, 4, 8, 3), kb.dot_bias_relu_permuted(2, 3, 5, 4)]
    return out


def _exprs(desc) -> list:
    if isinstance(desc, LoopKernel):
        return [desc.value]
    if isinstance(desc, RowKernel):
        return [e for st in desc.stages for e in (st.value, st.index) if e is not None]
    ep = [desc.epilogue.value, desc.epilogue.index] if desc.epilogue is not None else []
    return ep + (_exprs(desc.rows) if desc.rows is not None else [])


def _nodes(desc) -> set:
    seen, stack = set(), _exprs(desc)
    while stack:
        e = stack.pop()
        if e not in seen:
            seen.add(e)
            stack.extend(E.children(e))
    return seen


def _unlegal(e: E.Expr, rules) -> bool:
    """Whether ``e`` is an op one of ``rules`` rewrites."""
    op = getattr(e, "op", None)
    return ((isinstance(e, E.Rand) and Rule.RAND in rules)
            or (Rule.ROUND_16BIT in rules and e.dtype.is_half and op in
                (Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.ERF, Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW))
            or (Rule.ROUND_16BIT in rules and isinstance(e, E.Cast) and e.dtype.is_half and e.x.dtype is not BOOL)
            or (Rule.NAN_MINMAX in rules and op in (Op.MAXIMUM, Op.MINIMUM))
            or (Rule.TOTAL_DIV in rules and op is Op.DIV and not e.dtype.is_float)
            or (Rule.FLOOR_DIV in rules and op in (KOp.FLOORDIV, KOp.MOD))
            or (Rule.TANH32 in rules and op is Op.TANH and e.dtype is F32)
            or (Rule.ERF32 in rules and op is Op.ERF and e.dtype is F32))


@pytest.mark.parametrize("rules", [LLVM_RULES, TRITON_RULES, METAL_RULES], ids=["llvm", "triton", "metal"])
def test_legalized_kernels_hold_only_what_the_backend_spells(rules):
    for k in _kernels():
        legal = legalize(k, rules)
        assert type(legal) is type(k) and legal.buffers == k.buffers
        bad = [e for e in _nodes(legal) if _unlegal(e, rules)]
        assert not bad, (k.name, bad[:3])
        # a 16-bit constant is on its grid; every expression keeps its dtype
        for e in _nodes(legal):
            if isinstance(e, E.Const) and e.dtype.is_half and not math.isnan(e.value):
                assert float(np.float32(e.value).astype(e.dtype.numpy)) == e.value
        assert [e.dtype for e in _exprs(legal)] == [e.dtype for e in _exprs(k)]
        assert legalize(legal, rules) == legal, k.name


def test_floor_division_becomes_c_division_where_the_bounds_allow_it():
    i = E.Var("i0", 40)
    proven = E.floordiv(E.affine_sum([(3, i)], 1), 4)                          # 3i + 1 >= 0
    unknown = E.Bin(KOp.MOD, E.affine_sum([(1, i)], -20), E.iconst(7), I64)   # may be negative
    k = LoopKernel("k_idx", (Buffer(I64, 40),), (i,), (), None, E.Bin(Op.ADD, proven, unknown, I64))
    for rules, kept in ((set(), {KOp.MOD}), ({Rule.FLOOR_DIV}, set())):
        ops = {getattr(e, "op", None) for e in _nodes(legalize(k, rules))}
        assert KOp.TRUNC_DIV in ops and KOp.FLOORDIV not in ops
        assert ops & {KOp.FLOORDIV, KOp.MOD} == kept
