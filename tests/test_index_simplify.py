"""The index simplifier (``codegen.expr.floordiv`` / ``mod``) against Python's own integer
arithmetic: for random affine indices over bounded loop variables, the simplified expression
evaluates to ``e // c`` and ``e % c`` at every point, and the usual reshape / im2col patterns lose
their divisions."""
from __future__ import annotations

import itertools
import operator

from hypothesis import given, settings, strategies as st

from lumina.codegen.expr import (Bin, Const, KOp, Select, Var, affine_sum, bounds, children, floordiv, iconst,
                                 mod)
from lumina.ir.dtypes import DType
from lumina.ir.ops import Op
from lumina.ir.symbolic import Sym

BOOL, I64 = DType.bool, DType.int64


def evaluate(e, env):
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, Const):
        return int(e.value)
    if isinstance(e, Select):
        return evaluate(e.a, env) if evaluate(e.cond, env) else evaluate(e.b, env)
    a, b = (evaluate(x, env) for x in children(e))
    return OPS[e.op](a, b)


OPS = {Op.ADD: operator.add, Op.SUB: operator.sub, Op.MUL: operator.mul, KOp.FLOORDIV: operator.floordiv,
       KOp.MOD: operator.mod, Op.GE: operator.ge, Op.LT: operator.lt, Op.GT: operator.gt, Op.LE: operator.le,
       Op.AND: operator.and_}


def divisions(e) -> int:
    own = isinstance(e, Bin) and e.op in (KOp.FLOORDIV, KOp.MOD)
    return own + sum(divisions(x) for x in children(e))


VARS = [Var("i0", 3), Var("i1", 5), Var("i2", 4)]


@settings(max_examples=300, deadline=None)
@given(coeffs=st.lists(st.integers(-40, 40), min_size=3, max_size=3), const=st.integers(-50, 50),
       c=st.integers(1, 36), inner=st.integers(1, 6))
def test_floordiv_and_mod_equal_python_everywhere(coeffs, const, c, inner):
    e = affine_sum(list(zip(coeffs, VARS)), const)
    nested = floordiv(e, inner)          # atoms that are themselves divisions
    for expr, value in ((e, lambda x: x), (nested, lambda x: x // inner)):
        q, r = floordiv(expr, c), mod(expr, c)
        whole = affine_sum([(c, q), (1, r)])          # c*(e // c) + e % c folds back to e
        for point in itertools.product(*(range(v.extent) for v in VARS)):
            env = dict(zip((v.name for v in VARS), point))
            x = value(sum(k * p for k, p in zip(coeffs, point)) + const)
            assert evaluate(q, env) == x // c, (expr, c, env)
            assert evaluate(r, env) == x % c, (expr, c, env)
            assert evaluate(whole, env) == x, (expr, c, env)


@settings(max_examples=300, deadline=None)
@given(coeffs=st.lists(st.integers(-9, 9), min_size=2, max_size=2), const=st.integers(-20, 20),
       limits=st.tuples(st.integers(-10, 30), st.integers(-10, 30)), ops=st.sampled_from(["ge-lt", "gt-le", "ge", "lt"]),
       fallback=st.integers(-5, 5), scale=st.integers(1, 12), c=st.integers(1, 30))
def test_a_clamped_index_has_sound_bounds_and_exact_divisions(coeffs, const, limits, ops, fallback, scale, c):
    """``select(lo <= x < hi, x, k)`` (a clamped index) is bounded by the range its condition
    admits, and divisions of expressions over it still equal Python's at every point."""
    x = affine_sum(list(zip(coeffs, VARS[:2])), const)
    lo, hi = limits
    parts = {"ge": Bin(Op.GE, x, iconst(lo), BOOL), "gt": Bin(Op.GT, x, iconst(lo), BOOL),
             "lt": Bin(Op.LT, x, iconst(hi), BOOL), "le": Bin(Op.LE, x, iconst(hi), BOOL)}
    names = ops.split("-")
    cond = parts[names[0]] if len(names) == 1 else Bin(Op.AND, parts[names[0]], parts[names[1]], BOOL)
    clamped = Select(cond, x, iconst(fallback), I64)
    low, high = bounds(clamped)
    e = affine_sum([(scale, clamped), (1, VARS[2])])
    q, r = floordiv(e, c), mod(e, c)
    for point in itertools.product(*(range(v.extent) for v in VARS)):
        env = dict(zip((v.name for v in VARS), point))
        value = evaluate(clamped, env)
        assert low <= value <= high, (clamped, env, value, (low, high))
        whole = scale * value + point[2]
        assert evaluate(q, env) == whole // c and evaluate(r, env) == whole % c, (e, c, env)


def test_im2col_index_loses_its_divisions():
    # [N, C*9, 16] flattened and re-split as [N, C, 9, 16]: (i0*4608 + i2*16 + i3) // 144 % 32
    i0, i2, i3 = Var("i0", 32), Var("i2", 288), Var("i3", 16)
    e = affine_sum([(4608, i0), (16, i2), (1, i3)])
    assert mod(floordiv(e, 144), 32) == floordiv(i2, 9)
    assert divisions(mod(e, 144)) == 1                       # i3 + 16 * (i2 % 9)
    assert floordiv(floordiv(e, 16), 9) == floordiv(e, 144)


# ---- loop coalescing ------------------------------------------------------------------------------

def test_contiguous_loops_merge_and_broadcast_loops_stay():
    from lumina.codegen.coalesce import coalesce
    from lumina.codegen.expr import Load, Select, Bin as B
    from lumina.ir.dtypes import DType
    f32 = DType.float32
    i0, i1, r0, r1 = Var("i0", 4), Var("i1", 3), Var("r0", 8), Var("r1", 8)
    # x[i0, i1, r0, r1] + b[i1]: the reduce loops merge; i0/i1 do not (b reads i1 alone)
    x = Load(0, affine_sum([(192, i0), (64, i1), (8, r0), (1, r1)]), f32)
    value = B(Op.ADD, x, Load(1, i1, f32), f32)
    domain, rvars, merged = coalesce((i0, i1), (r0, r1), value)
    assert domain == (i0, i1) and [v.extent for v in rvars] == [64]
    assert merged.a.index == affine_sum([(192, i0), (64, i1), (1, rvars[0])])
    # a loop variable in a bounds check (a pad) keeps its loop
    guarded = Select(B(Op.LT, r1, Const(4, DType.int64), DType.bool), x, Const(0.0, f32), f32)
    assert coalesce((i0, i1), (r0, r1), guarded)[1] == (r0, r1)


def test_coalesced_kernels_compute_the_same_values():
    import numpy as np
    import lumina
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5, 7)).astype(np.float32)
    b = rng.standard_normal((6, 1, 1)).astype(np.float32)
    got = lumina.compile(lambda x, b: ((x + b) * 2.0).sum((0, 2, 3)))(x, b).numpy()
    np.testing.assert_allclose(got, ((x + b) * 2.0).sum((0, 2, 3)), rtol=1e-5)


def test_split_then_merged_axes_fold_back_to_the_plain_index():
    # [384] viewed as [3, 4, 32] and flattened again (a qkv bias gradient through the head layout)
    i2, r0 = Var("i2", 384), Var("r0", 2048)
    e = affine_sum([(384, r0), (128, floordiv(i2, 128)), (32, mod(floordiv(i2, 32), 4)), (1, mod(i2, 32))])
    assert e == affine_sum([(384, r0), (1, i2)])
    shifted = affine_sum([(4, floordiv(affine_sum([(1, i2)], 5), 4)), (1, mod(affine_sum([(1, i2)], 5), 4))])
    assert shifted == affine_sum([(1, i2)], 5)


def test_a_loop_variable_over_a_symbolic_size_needs_no_division_by_it():
    """``n % s`` and ``n // s`` for ``n`` in ``0..s`` (``s`` symbolic: the column of a mask row
    broadcast over a sequence) are ``n`` and 0; anything else that may reach ``s`` keeps them."""
    s = Sym.symbol("s")
    n = Var("n", s)
    assert mod(n, s) == n and floordiv(n, s) == iconst(0)
    assert divisions(mod(affine_sum([(1, n)], 1), s)) == 1
    assert divisions(mod(Var("m", 2 * s), s)) == 1 and divisions(floordiv(Var("m", 2 * s), s)) == 1


@settings(max_examples=20, deadline=None)
@given(shift=st.integers(-40, 40), divisor=st.integers(1, 9), scale=st.sampled_from([1, -1, 3]))
def test_llvm_backend_divides_negative_indices_with_floor_semantics(shift, divisor, scale):
    """``floordiv``/``mod`` mean Python's floor division: the LLVM backend must agree when the
    dividend can be negative (C's sdiv/srem truncate towards zero)."""
    import numpy as np

    from lumina.codegen.kernel import Buffer, LoopKernel
    from lumina.ir.dtypes import DType
    from lumina.backends.cpu.host_kernel import launcher

    i = Var("i", 30)
    x = affine_sum([(scale, i)], shift)
    for op in (KOp.FLOORDIV, KOp.MOD):
        k = LoopKernel("k", (Buffer(DType.int64, 30),), (i,), (), None, Bin(op, x, Const(divisor, DType.int64), DType.int64))
        out = np.zeros(30, np.int64)
        launcher(k)([out])
        want = [OPS[op](scale * j + shift, divisor) for j in range(30)]
        assert out.tolist() == want, op


def test_generated_code_is_the_same_in_every_process():
    """Index atoms are ordered by a structural digest, not by Python's per-process string hash:
    the ConvNet step's kernels (whose index sums mix several loads) render the same LLVM, Triton
    and MSL text under two hash seeds."""
    import os
    import subprocess
    import sys
    script = ("from lumina.backends.devices import kernel_source\n"
              "from lumina.errors import LuminaCodegenError\n"
              "from lumina.testing.programs import program_cases\n"
              "for c in program_cases('convnet'):\n"
              "    for t in ('llvm', 'triton', 'metal'):\n"
              "        try:\n"
              "            print(kernel_source(c.kernel, t))\n"
              "        except LuminaCodegenError as e:   # float64 on metal: placed on the host\n"
              "            print(e)\n")
    texts = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert texts[0] and texts[0] == texts[1]
