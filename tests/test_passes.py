"""The passes (dce, constant_fold, canonicalize_dots, split_reductions, schedule.partition) on small IR
text fixtures, the verifier after every pass of the pipeline on real programs, and end-to-end runs of
``compiler.compile_graph`` compared with NumPy.

``reference`` below is this file's own NumPy interpreter of the primitives, written from the op
definitions in ``lumina.ir.ops`` (NumPy semantics; ``div`` on integers truncates; ``gather`` is
ONNX Gather with negative indices; ``dot`` is DotGeneral). It is the oracle for semantics.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumina
from lumina.compiler import compile_graph
from lumina.ir import DType, Graph, Op, TensorType, emit, parse, verify
from lumina.ir import graph as B
from lumina.transforms import constant_fold as cf_module
from lumina.transforms.canonicalize import canonicalize_dots, split_k_dots, split_reductions
from lumina.transforms.constant_fold import constant_fold
from lumina.schedule.partition import partition
from lumina.transforms.pipeline import PASSES, optimize
from lumina.transforms.rewrite import dce
from lumina.backends.cpu import threads
from lumina.backends.target import target_for

F32, F64, I32, I64, BOOL = DType.float32, DType.float64, DType.int32, DType.int64, DType.bool
RNG = np.random.default_rng(1234)
CPU = target_for("cpu")


# ---- an independent NumPy interpreter -------------------------------------------------------------

def _np_dot_general(x, y, contract, batch):
    (xc, yc), (xb, yb) = contract, batch
    xf = [i for i in range(x.ndim) if i not in xc + xb]
    yf = [i for i in range(y.ndim) if i not in yc + yb]
    # move to [batch, free, contract] x [batch, contract, free] and use matmul
    xm = np.transpose(x, list(xb) + xf + list(xc))
    ym = np.transpose(y, list(yb) + list(yc) + yf)
    bshape = [x.shape[i] for i in xb]
    m = math.prod(x.shape[i] for i in xf)
    n = math.prod(y.shape[i] for i in yf)
    k = math.prod(x.shape[i] for i in xc)
    nb = math.prod(bshape)
    out = np.matmul(xm.reshape(nb, m, k).astype(np.float64), ym.reshape(nb, k, n).astype(np.float64))
    return out.reshape(bshape + [x.shape[i] for i in xf] + [y.shape[i] for i in yf])


def _int_div(a, b):
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


def reference(graph: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    env = {}
    for v, a in zip(graph.inputs, inputs):
        env[id(v)] = np.asarray(a, dtype=v.dtype.numpy)
    unary = {Op.NEG: np.negative, Op.EXP: np.exp, Op.LOG: np.log, Op.SQRT: np.sqrt, Op.SIN: np.sin,
             Op.COS: np.cos, Op.TANH: np.tanh, Op.ABS: np.abs, Op.NOT: np.logical_not}
    binary = {Op.ADD: np.add, Op.SUB: np.subtract, Op.MUL: np.multiply, Op.POW: np.power,
              Op.MAXIMUM: np.maximum, Op.MINIMUM: np.minimum, Op.LT: np.less, Op.LE: np.less_equal,
              Op.GT: np.greater, Op.GE: np.greater_equal, Op.EQ: np.equal, Op.NE: np.not_equal,
              Op.AND: np.logical_and, Op.OR: np.logical_or}
    for n in graph.nodes:
        a = n.attrs
        args = [env[id(v)] for v in n.inputs]
        if n.op is Op.INPUT:
            continue
        with np.errstate(all="ignore"):
            if n.op is Op.CONST:
                out = a["value"]
            elif n.op in unary:
                out = unary[n.op](args[0])
            elif n.op is Op.ERF:
                out = np.vectorize(math.erf)(args[0])
            elif n.op in binary:
                out = binary[n.op](*args)
            elif n.op is Op.DIV:
                out = args[0] / args[1] if n.out.dtype.is_float else _int_div(*args)
            elif n.op is Op.WHERE:
                out = np.where(*args)
            elif n.op is Op.CAST:
                out = args[0].astype(a["dtype"].numpy)
            elif n.op is Op.REDUCE_SUM:
                out = np.sum(args[0].astype(np.float64) if n.out.dtype.is_float else args[0],
                             axis=a["axes"], keepdims=a["keepdim"])
            elif n.op is Op.REDUCE_MAX:
                out = np.max(args[0], axis=a["axes"], keepdims=a["keepdim"])
            elif n.op is Op.RESHAPE:
                out = args[0].reshape(a["shape"])
            elif n.op is Op.PERMUTE:
                out = args[0].transpose(a["perm"])
            elif n.op is Op.EXPAND:
                out = np.broadcast_to(args[0], a["shape"])
            elif n.op is Op.SLICE:
                out = args[0][tuple(slice(lo, hi, st) for lo, hi, st in zip(a["starts"], a["stops"], a["steps"]))]
            elif n.op is Op.PAD:
                out = np.pad(args[0], a["pads"], constant_values=a["value"])
            elif n.op is Op.CONCAT:
                out = np.concatenate(args, axis=a["axis"])
            elif n.op is Op.GATHER:
                out = np.take(args[0], args[1].astype(np.int64), axis=a["axis"])   # negative wraps
            elif n.op is Op.DOT:
                out = _np_dot_general(args[0], args[1], a["contract"], a["batch"])
            else:
                raise NotImplementedError(n.op)
        out = np.asarray(out).astype(n.out.dtype.numpy)
        assert out.shape == n.out.shape, (n, out.shape)
        env[id(n.out)] = out
    return [env[id(v)] for v in graph.outputs]


def assert_matches(got, want, rtol=1e-5, atol=1e-5):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert g.dtype == w.dtype
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, w)


def run(graph: Graph, inputs) -> list[np.ndarray]:
    return compile_graph(verify(graph)).run(list(inputs))


def ops_of(graph: Graph) -> list[str]:
    return [n.op.value for n in graph.nodes]


def ir(text: str) -> Graph:
    return verify(parse(text))


# ---- dce ------------------------------------------------------------------------------------------

DEAD = """
graph dead {
  %0:f32[4] = input {name='x'}
  %1:f32[4] = input {name='unused'}
  %2:f32[4] = exp %0
  %3:f32[4] = neg %0
  %4:f32[4] = tanh %3
  %5:f32[4] = mul %2, %2
  return %5
}
"""


def test_dce_drops_unused_nodes_but_keeps_inputs():
    g = ir(DEAD)
    out = verify(dce(g))
    assert sorted(ops_of(out)) == ["exp", "input", "input", "mul"]
    (mul,) = out.outputs
    assert mul.op is Op.MUL and mul.node.inputs[0] is mul.node.inputs[1]
    assert mul.node.inputs[0].op is Op.EXP and mul.node.inputs[0].node.inputs[0] is out.inputs[0]
    assert [v.node.attrs["name"] for v in out.inputs] == ["x", "unused"]
    x = RNG.standard_normal(4).astype(np.float32)
    assert_matches(run(out, [x, x]), reference(g, [x, x]))


def test_dce_keeps_argument_order():
    g = ir("""
    graph g {
      %0:f32[2] = input {name='a'}
      %1:f32[2] = input {name='b'}
      %2:f32[2] = sub %1, %0
      %3:f32[2] = exp %2
      return %2  # args: %1, %0
    }
    """)
    out = verify(dce(g))
    assert [v.node.attrs["name"] for v in out.inputs] == ["b", "a"]
    assert "exp" not in ops_of(out)


# ---- constant folding -----------------------------------------------------------------------------

FOLDABLE = """
graph fold {
  %0:f32[3] = input {name='x'}
  %1:f32[2,3] = const {value=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}
  %2:f32[3,2] = permute %1 {perm=(1, 0)}
  %3:f32[2,2] = dot %1, %2 {contract=((1,), (0,)), batch=((), ())}
  %4:f32[2,2] = exp %3
  %5:f32[2] = reduce_sum %4 {axes=(1,), keepdim=False}
  %6:f32[2] = log %5
  %7:f32[] = const {value=0.5}
  %8:f32[1] = reshape %7 {shape=(1,)}
  %9:f32[3] = expand %8 {shape=(3,)}
  %10:f32[3] = mul %0, %9
  %11:f32[1,3] = slice %1 {starts=(1, 0), stops=(2, 3), steps=(1, 1)}
  %12:f32[3] = reshape %11 {shape=(3,)}
  %13:f32[3] = add %10, %12
  return %6, %13
}
"""


def test_constant_fold_folds_small_constant_subgraphs_to_the_numpy_value():
    g = ir(FOLDABLE)
    out = verify(constant_fold(g))
    # the log-sum-exp output is one constant now
    first = out.outputs[0]
    assert first.op is Op.CONST
    c = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    want = np.log(np.exp(c @ c.T).sum(1)).astype(np.float32)
    np.testing.assert_allclose(first.node.attrs["value"], want, rtol=1e-6)
    assert first.node.attrs["value"].dtype == np.float32
    # only inputs, constants, the ops on the input and the broadcast of the scalar 0.5 remain:
    # a broadcast scalar is never folded into a materialised array
    assert set(ops_of(out)) == {"input", "const", "mul", "add", "expand"}
    assert all(n.inputs[0].type.numel == 1 for n in out.nodes if n.op is Op.EXPAND)
    x = RNG.standard_normal(3).astype(np.float32)
    assert_matches(run(out, [x]), reference(g, [x]), rtol=1e-6)
    # the folded graph survives the round trip through text
    assert str(parse(str(out))) == str(out)


@pytest.mark.parametrize("op, a, b", [
    pytest.param(Op.DIV, np.array([7, -7, 7, -7, 0, 9007199254740993], np.int64),
                 np.array([2, 2, -2, -2, 5, 1], np.int64), id="div-i64-beyond-2**53"),
    pytest.param(Op.DIV, np.array([7, -7, 1, -9], np.int32), np.array([3, 3, -4, 4], np.int32),
                 id="div-i32-truncates"),
    pytest.param(Op.DIV, np.array([1.0, -3.0, 0.5], np.float32), np.array([4.0, 2.0, -0.25], np.float32),
                 id="div-f32"),
    pytest.param(Op.POW, np.array([2.0, 9.0, 0.5], np.float64), np.array([10.0, 0.5, -2.0], np.float64),
                 id="pow-f64"),
    pytest.param(Op.MAXIMUM, np.array([1, -5, 3], np.int32), np.array([0, -2, 3], np.int32), id="maximum-i32"),
    pytest.param(Op.SUB, np.array([2**40, -3], np.int64), np.array([1, 2**40], np.int64), id="sub-i64"),
    pytest.param(Op.LT, np.array([1.0, 2.0, 3.0], np.float32), np.array([2.0, 2.0, 2.0], np.float32), id="lt"),
    pytest.param(Op.AND, np.array([True, True, False]), np.array([True, False, False]), id="and"),
])
def test_constant_fold_binary_ops_agree_with_numpy(op, a, b):
    dt = lumina.ir.to_dtype(a.dtype)
    ca, cb = B.const(a, dt, a.shape), B.const(b, dt, b.shape)
    g = Graph.from_outputs([emit(op, (ca, cb))])
    out = verify(constant_fold(g))
    assert out.outputs[0].op is Op.CONST
    assert_matches([out.outputs[0].node.attrs["value"]], reference(g, []), rtol=1e-6)


def test_constant_fold_casts_and_unaries_agree_with_numpy():
    a = np.array([-2.75, -0.5, 0.0, 0.5, 2.75, 3.0], np.float32)
    c = B.const(a, F32, a.shape)
    outs = [B.cast(c, I32), B.cast(c, BOOL), B.unary(Op.ERF, c), B.unary(Op.ABS, c),
            B.unary(Op.SQRT, B.unary(Op.ABS, c)), B.cast(B.cast(c, I64), F64)]
    g = Graph.from_outputs(outs)
    out = verify(constant_fold(g))
    assert all(v.op is Op.CONST for v in out.outputs)
    assert_matches([v.node.attrs["value"] for v in out.outputs], reference(g, []), rtol=1e-6)


def test_constant_fold_refuses_to_build_big_constants():
    big = 1 << 20
    assert big > cf_module.FOLD_LIMIT
    g = ir("""
    graph big {
      %0:f32[1024,1024] = input {name='x'}
      %1:f32[] = const {value=2.0}
      %2:f32[1,1] = reshape %1 {shape=(1, 1)}
      %3:f32[1024,1024] = expand %2 {shape=(1024, 1024)}
      %4:f32[1024,1024] = mul %0, %3
      return %4
    }
    """)
    out = verify(constant_fold(g))
    assert "expand" in ops_of(out)
    for n in out.nodes:
        if n.op is Op.CONST:
            assert n.out.type.numel <= cf_module.FOLD_LIMIT
    x = RNG.standard_normal((1024, 1024)).astype(np.float32)
    assert_matches(run(out, [x]), [2 * x])


def test_constant_fold_never_folds_rand():
    g = ir("""
    graph r {
      %0:i64[] = const {value=42}
      %1:f32[4] = rand %0 {shape=(4,), dtype=f32}
      %2:f32[4] = exp %1
      return %2
    }
    """)
    out = verify(constant_fold(g))
    assert ops_of(out).count("rand") == 1
    assert out.outputs[0].op is Op.EXP
    # and the whole pipeline keeps it too
    opt = optimize(g)
    assert "rand" in ops_of(opt)


# ---- canonicalize_dots ----------------------------------------------------------------------------

def _assert_canonical_dots(g: Graph):
    dots = [n for n in g.nodes if n.op is Op.DOT]
    assert dots
    for d in dots:
        lhs, rhs = d.inputs
        assert lhs.type.rank == 3 and rhs.type.rank == 3 and d.out.type.rank == 3
        assert d.attrs["contract"] == ((2,), (1,))
        assert d.attrs["batch"] == ((0,), (0,))
        b, m, k = lhs.shape
        assert rhs.shape[:2] == (b, k)


TRANSPOSED_2D = """
graph t2 {
  %0:f32[5,3] = input {name='a'}
  %1:f32[4,5] = input {name='b'}
  %2:f32[3,4] = dot %0, %1 {contract=((0,), (1,)), batch=((), ())}
  return %2
}
"""

BATCHED = """
graph tb {
  %0:f32[6,2,3] = input {name='a'}
  %1:f32[4,2,6] = input {name='b'}
  %2:f32[2,3,4] = dot %0, %1 {contract=((0,), (2,)), batch=((1,), (1,))}
  return %2
}
"""


@pytest.mark.parametrize("text, einsum", [(TRANSPOSED_2D, "km,nk->mn"), (BATCHED, "kbm,nbk->bmn")],
                         ids=["2d-transposed", "batched-transposed"])
def test_canonicalize_dots_makes_rank3_dots(text, einsum):
    g = ir(text)
    out = verify(canonicalize_dots(g))
    _assert_canonical_dots(out)
    assert out.outputs[0].type == g.outputs[0].type
    movement = {"permute", "reshape"}
    assert set(ops_of(out)) - {"input", "dot"} <= movement
    a = RNG.standard_normal(g.inputs[0].shape).astype(np.float32)
    b = RNG.standard_normal(g.inputs[1].shape).astype(np.float32)
    want = np.einsum(einsum, a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    assert_matches(reference(out, [a, b]), [want], rtol=1e-5)
    assert_matches(run(out, [a, b]), [want], rtol=1e-4, atol=1e-5)
    assert_matches(run(g, [a, b]), [want], rtol=1e-4, atol=1e-5)


def test_canonicalize_dots_keeps_canonical_dots():
    g = ir("""
    graph c {
      %0:f32[2,3,4] = input {name='a'}
      %1:f32[2,4,5] = input {name='b'}
      %2:f32[2,3,5] = dot %0, %1 {contract=((2,), (1,)), batch=((0,), (0,))}
      return %2
    }
    """)
    assert str(canonicalize_dots(g)) == str(g)


def test_canonicalize_dots_with_several_contracting_and_batch_axes():
    x = emit(Op.INPUT, type=TensorType((2, 3, 4, 5), F32), name="x")      # b0, k0, m, k1
    y = emit(Op.INPUT, type=TensorType((5, 6, 3, 2), F32), name="y")      # k1, n, k0, b0
    d = B.dot(x, y, ((1, 3), (2, 0)), ((0,), (3,)))
    g = Graph.from_outputs([d], [x, y])
    out = verify(canonicalize_dots(g))
    _assert_canonical_dots(out)
    a = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b = RNG.standard_normal((5, 6, 3, 2)).astype(np.float32)
    want = np.einsum("bkml,lnkb->bmn", a, b)
    assert_matches(run(out, [a, b]), [want], rtol=1e-4, atol=1e-4)


# ---- split_k_dots ---------------------------------------------------------------------------------

def test_split_k_dots_slices_a_long_contraction_and_sums_the_slices():
    """A weight gradient's [64, 12544] x [12544, 288]: eight batched dots over slices of K and a sum
    over the slices, against NumPy in float64; a dot whose K does not dwarf M and N is left alone."""
    g = ir("""
    graph s {
      %0:f32[1,64,12544] = input {name='a'}
      %1:f32[1,12544,288] = input {name='b'}
      %2:f32[1,64,288] = dot %0, %1 {contract=((2,), (1,)), batch=((0,), (0,))}
      %3:f32[1,64,64] = input {name='c'}
      %4:f32[1,64,64] = dot %3, %3 {contract=((2,), (1,)), batch=((0,), (0,))}
      return %2, %4
    }
    """)
    out = verify(split_k_dots(g))
    dots = [nd for nd in out.nodes if nd.op is Op.DOT]
    assert sorted(nd.out.shape for nd in dots) == [(1, 64, 64), (8, 64, 288)]
    assert ops_of(out).count("reduce_sum") == 1 and [v.type for v in out.outputs] == [v.type for v in g.outputs]
    a = RNG.standard_normal((1, 64, 12544)).astype(np.float32)
    b = RNG.standard_normal((1, 12544, 288)).astype(np.float32)
    c = RNG.standard_normal((1, 64, 64)).astype(np.float32)
    want = [(a.astype(np.float64) @ b).astype(np.float32), (c.astype(np.float64) @ c).astype(np.float32)]
    assert_matches(reference(out, [a, b, c]), want, rtol=1e-4, atol=1e-3)
    assert_matches(run(g, [a, b, c]), want, rtol=1e-4, atol=1e-3)


def test_split_k_dots_splits_a_large_gemv_over_a_row_major_b_only():
    """A one-row dot over a 1024 x 1024 row-major B (a batch-1 layer, ``x @ W``) runs as two
    slices of K and a sum; the same dot over a transposed B (``x @ W.T``, whose columns are
    contiguous) and a small one-row dot are left alone; against NumPy in float64."""
    g = ir("""
    graph s {
      %0:f32[1,1,1024] = input {name='x'}
      %1:f32[1024,1024] = input {name='w'}
      %2:f32[1,1024,1024] = reshape %1 {shape=(1, 1024, 1024)}
      %3:f32[1,1,1024] = dot %0, %2 {contract=((2,), (1,)), batch=((0,), (0,))}
      %4:f32[1024,1024] = permute %1 {perm=(1, 0)}
      %5:f32[1,1024,1024] = reshape %4 {shape=(1, 1024, 1024)}
      %6:f32[1,1,1024] = dot %0, %5 {contract=((2,), (1,)), batch=((0,), (0,))}
      %7:f32[1,1,64] = input {name='y'}
      %8:f32[1,64,64] = input {name='v'}
      %9:f32[1,1,64] = dot %7, %8 {contract=((2,), (1,)), batch=((0,), (0,))}
      return %3, %6, %9
    }
    """)
    out = verify(split_k_dots(g))
    dots = [nd for nd in out.nodes if nd.op is Op.DOT]
    assert sorted(nd.out.shape for nd in dots) == [(1, 1, 64), (1, 1, 1024), (2, 1, 1024)]
    assert ops_of(out).count("reduce_sum") == 1
    x = RNG.standard_normal((1, 1, 1024)).astype(np.float32)
    w = RNG.standard_normal((1024, 1024)).astype(np.float32)
    y = RNG.standard_normal((1, 1, 64)).astype(np.float32)
    v = RNG.standard_normal((1, 64, 64)).astype(np.float32)
    x64 = x.astype(np.float64)
    want = [(x64 @ w).astype(np.float32), (x64 @ w.T).astype(np.float32), (y.astype(np.float64) @ v).astype(np.float32)]
    assert_matches(reference(out, [x, w, y, v]), want, rtol=1e-4, atol=1e-3)
    assert_matches(run(g, [x, w, y, v]), want, rtol=1e-4, atol=1e-3)


# ---- split_reductions -----------------------------------------------------------------------------

def test_split_reductions_splits_a_big_sum_in_two_stages():
    n = 1 << 20
    g = ir(f"""
    graph s {{
      %0:f32[{n}] = input {{name='x'}}
      %1:f32[] = reduce_sum %0 {{axes=(0,), keepdim=False}}
      return %1
    }}
    """)
    out = verify(split_reductions(g))
    reduces = [nd for nd in out.nodes if nd.op is Op.REDUCE_SUM]
    assert len(reduces) == 2
    first, second = reduces
    t = first.out.type.numel
    assert 1 < t < n and first.inputs[0].type.numel == n
    assert second.inputs[0] is first.out and second.out.type.numel == 1
    assert out.outputs[0].type == g.outputs[0].type
    x = RNG.random(n, dtype=np.float32)
    want = np.array(x.astype(np.float64).sum(), np.float32)
    assert_matches(reference(out, [x]), [want], rtol=1e-6)
    assert_matches(run(g, [x]), [want], rtol=1e-5)


def test_split_reductions_over_a_leading_axis_and_max():
    g = ir("""
    graph s {
      %0:f32[131072,4] = input {name='x'}
      %1:f32[1,4] = reduce_max %0 {axes=(0,), keepdim=True}
      %2:f32[4] = reduce_sum %0 {axes=(0,), keepdim=False}
      return %1, %2
    }
    """)
    out = verify(split_reductions(g))
    assert ops_of(out).count("reduce_max") == 2 and ops_of(out).count("reduce_sum") == 2
    x = RNG.standard_normal((131072, 4)).astype(np.float32)
    want = [x.max(0, keepdims=True), x.astype(np.float64).sum(0).astype(np.float32)]
    assert_matches(reference(out, [x]), want, rtol=1e-5, atol=1e-3)
    assert_matches(run(g, [x]), want, rtol=1e-4, atol=2e-3)


def test_split_reductions_leaves_small_reductions_alone():
    g = ir("""
    graph s {
      %0:f32[64,512] = input {name='x'}
      %1:f32[64] = reduce_sum %0 {axes=(1,), keepdim=False}
      return %1
    }
    """)
    assert str(split_reductions(g)) == str(g)


# ---- fusion ---------------------------------------------------------------------------------------

CHAIN = """
graph chain {
  %0:f32[64,128] = input {name='x'}
  %1:f32[64,128] = input {name='y'}
  %2:f32[64,128] = mul %0, %1
  %3:f32[64,128] = exp %2
  %4:f32[64,128] = add %3, %0
  %5:f32[64,128] = tanh %4
  %6:f32[64] = reduce_sum %5 {axes=(1,), keepdim=False}
  return %6
}
"""


def test_elementwise_chain_and_reduction_fuse_into_one_kernel():
    g = ir(CHAIN)
    part = partition(g, CPU)
    assert len(part.kernels) == 1
    k = part.kernels[0]
    assert k.root is g.outputs[0]
    assert k.kind == "reduce"
    assert [n.op.value for n in k.nodes] == ["mul", "exp", "add", "tanh", "reduce_sum"]
    assert {id(v) for v in k.inputs} == {id(v) for v in g.inputs}
    x, y = RNG.standard_normal((2, 64, 128)).astype(np.float32) * 0.5
    assert_matches(run(g, [x, y]), reference(g, [x, y]), rtol=1e-5, atol=1e-4)
    exe = compile_graph(g)
    assert len(exe.launches) == 1
    assert "fused" in exe.launches[0].name


TWO_READERS = """
graph two {
  %0:f32[32,32] = input {name='x'}
  %1:f32[32,32] = exp %0
  %2:f32[32,32] = sin %1
  %3:f32[32,32] = cos %1
  %4:f32[32] = reduce_sum %2 {axes=(1,), keepdim=False}
  %5:f32[32] = reduce_max %3 {axes=(0,), keepdim=False}
  return %4, %5
}
"""


def test_a_value_with_two_readers_is_materialised():
    g = ir(TWO_READERS)
    part = partition(g, CPU)
    shared = g.nodes[1].out
    assert id(shared) in part.materialized
    assert "reader" in part.materialized[id(shared)]
    roots = [k.root for k in part.kernels]
    assert shared in roots
    # each reduction reads the shared buffer, not the input
    for k in part.kernels:
        if k.root is not shared:
            assert [v is shared for v in k.inputs] == [True]
            assert "exp" not in [n.op.value for n in k.nodes]
    text = part.describe()
    kernel_lines = [ln for ln in text.splitlines() if ln.startswith("kernel ")]
    assert len(kernel_lines) == len(part.kernels) == 3
    assert "refused: " in text                 # the inlining it declined, with the same reason
    assert "2 readers" in text and "graph output" in text
    x = RNG.standard_normal((32, 32)).astype(np.float32)
    assert_matches(run(g, [x]), reference(g, [x]), rtol=1e-5, atol=1e-5)


def test_describe_names_dot_and_expand_reasons():
    g = ir("""
    graph d {
      %0:f32[8,16] = input {name='x'}
      %1:f32[16,4] = input {name='w'}
      %2:f32[8,16] = tanh %0
      %3:f32[8,4] = dot %2, %1 {contract=((1,), (0,)), batch=((), ())}
      %4:f32[8] = reduce_max %3 {axes=(1,), keepdim=False}
      %5:f32[8,1] = reshape %4 {shape=(8, 1)}
      %6:f32[8,4] = expand %5 {shape=(8, 4)}
      %7:f32[8,4] = sub %3, %6
      return %7
    }
    """)
    text = partition(g, CPU).describe()
    assert "dot" in text and "reduction" in text and "graph output" in text
    x = RNG.standard_normal((8, 16)).astype(np.float32)
    w = RNG.standard_normal((16, 4)).astype(np.float32)
    assert_matches(run(g, [x, w]), reference(g, [x, w]), rtol=1e-4, atol=1e-5)


# ---- every pass keeps graphs valid, on real programs ----------------------------------------------

def _mlp_step_graph():
    lumina.manual_seed(0)
    model = lumina.nn.Sequential(lumina.nn.Linear(12, 16), lumina.nn.ReLU(), lumina.nn.Linear(16, 3))
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = lumina.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    x = np.ones((8, 12), np.float32)
    y = np.zeros(8, np.int64)
    return lumina.compile(step).lower(x, y).graph


def _attention_graph():
    def attn(q, k, v):
        s = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(q.shape[-1]))
        p = lumina.nn.functional.softmax(s, dim=-1)
        return (p @ v).permute(1, 0, 2).reshape(q.shape[1], -1)
    q = np.ones((2, 5, 4), np.float32)
    return lumina.compile(attn).lower(q, q, q).graph


def _movement_graph():
    def f(x, i):
        a = lumina.cat([x[:, ::2], x[:, 1::2] * 2.0], 1)
        b = a.reshape(4, 3, 2).permute(2, 0, 1).reshape(2, 12)
        m = b.amax(0) + b.sum(1, keepdim=True).exp().mean()
        return m, (x > 0).sum(), a.argmax(1), lumina.rand(3, 3) + x[0, 0]
    x = np.ones((4, 6), np.float32)
    return lumina.compile(f).lower(x, np.arange(3)).graph


def _big_reduce_graph():
    def f(x):
        return (x * x).sum(), x.mean(0)
    return lumina.compile(f).lower(np.ones((1 << 17, 8), np.float32)).graph


PROGRAMS = {"mlp_step": _mlp_step_graph, "attention": _attention_graph,
            "movement": _movement_graph, "big_reduce": _big_reduce_graph}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_verifier_accepts_the_graph_after_every_pass(name):
    g = verify(PROGRAMS[name]())
    seen = []

    def check(pass_name, graph):
        seen.append(pass_name)
        try:
            verify(graph)
        except lumina.errors.LuminaIRError as e:  # pragma: no cover - the message is the point
            raise AssertionError(f"{name}: invalid graph after pass {pass_name}: {e}") from None
        assert [v.type for v in graph.outputs] == [v.type for v in g.outputs]
        assert [v.type for v in graph.inputs] == [v.type for v in g.inputs]

    opt = optimize(g, on_pass=check)
    assert seen == [p for p, _ in PASSES]
    verify(opt)
    # each pass on its own, applied to the traced graph, also keeps it valid
    for pass_name, fn in PASSES:
        verify(fn(g))
    # and the partition covers every materialised non-source value
    part = partition(opt, CPU)
    roots = {id(v) for k in part.kernels for v in k.outputs}
    for n in opt.nodes:
        if id(n.out) in part.materialized and n.op not in (Op.INPUT, Op.CONST):
            assert id(n.out) in roots


@pytest.mark.parametrize("name", ["attention", "big_reduce"])
def test_every_pass_preserves_the_value(name):
    g = PROGRAMS[name]()
    inputs = [RNG.standard_normal(v.shape).astype(v.dtype.numpy) for v in g.inputs]
    want = reference(g, inputs)
    graph = g
    for pass_name, fn in PASSES:
        graph = verify(fn(graph))
        assert_matches(reference(graph, inputs), want, rtol=1e-5, atol=1e-5)
    assert_matches(compile_graph(g).run(inputs), want, rtol=1e-4, atol=1e-4)


# ---- end to end: compile_graph(graph).run(inputs) vs NumPy ----------------------------------------

MOVEMENT = """
graph movement {
  %0:f32[3,4] = input {name='x'}
  %1:i64[5] = input {name='idx'}
  %2:f32[6,7] = pad %0 {pads=((1, 2), (3, 0)), value=-inf}
  %3:f32[6,7] = exp %2
  %4:f32[3,5] = gather %0, %1 {axis=1}
  %5:f32[3,9] = concat %0, %4 {axis=1}
  %6:f32[3,9] = neg %5
  %7:f32[9,9] = concat %5, %6, %5 {axis=0}
  %8:f32[3,3] = slice %7 {starts=(1, 0), stops=(9, 9), steps=(3, 4)}
  %9:f32[3,3] = permute %8 {perm=(1, 0)}
  %10:f32[9] = reshape %9 {shape=(9,)}
  %11:f32[3,4,1] = reshape %0 {shape=(3, 4, 1)}
  %12:f32[4,1,3] = permute %11 {perm=(1, 2, 0)}
  %13:f32[2,6] = reshape %12 {shape=(2, 6)}
  %14:f32[6,2] = permute %13 {perm=(1, 0)}
  %15:f32[2,2] = slice %14 {starts=(1, 0), stops=(6, 2), steps=(4, 1)}
  return %3, %7, %10, %14, %15
}
"""


def test_pad_concat_slice_gather_permute_reshape_match_numpy():
    g = ir(MOVEMENT)
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    idx = np.array([-1, 0, 3, -4, 2], np.int64)
    got = run(g, [x, idx])
    e = np.exp(np.pad(x, ((1, 2), (3, 0)), constant_values=-np.inf))
    five = np.concatenate([x, x[:, [3, 0, 3, 0, 2]]], axis=1)
    seven = np.concatenate([five, -five, five], axis=0)
    fourteen = x.reshape(3, 4, 1).transpose(1, 2, 0).reshape(2, 6).T
    want = [e, seven, seven[1:9:3, 0:9:4].T.reshape(9), fourteen, fourteen[1:6:4, :]]
    assert_matches(got, want, rtol=1e-6, atol=0)
    assert_matches(got, reference(g, [x, idx]), rtol=1e-6, atol=0)
    assert (got[0] == 0).sum() == 6 * 7 - 12   # exp(-inf) in the padding


def test_gather_with_negative_and_two_dimensional_int32_indices():
    g = ir("""
    graph gather {
      %0:f32[5,3,4] = input {name='x'}
      %1:i32[2,3] = input {name='idx'}
      %2:f32[5,2,3,4] = gather %0, %1 {axis=1}
      %3:f32[2,3,3,4] = gather %0, %1 {axis=0}
      %4:f32[5,3,2,3] = gather %0, %1 {axis=2}
      return %2, %3, %4
    }
    """)
    x = RNG.standard_normal((5, 3, 4)).astype(np.float32)
    idx = np.array([[-1, 0, 2], [-3, -2, 1]], np.int32)
    got = run(g, [x, idx])
    assert_matches(got, [np.take(x, idx, axis=1), np.take(x, idx, axis=0), np.take(x, idx, axis=2)],
                   rtol=0, atol=0)


def test_reductions_over_non_last_axes():
    g = ir("""
    graph red {
      %0:f32[3,4,5,6] = input {name='x'}
      %1:f32[1,4,1,6] = reduce_sum %0 {axes=(0, 2), keepdim=True}
      %2:f32[3,5] = reduce_max %0 {axes=(1, 3), keepdim=False}
      %3:f32[4,5,6] = reduce_sum %0 {axes=(0,), keepdim=False}
      %4:f32[6,4,3,5] = permute %0 {perm=(3, 1, 0, 2)}
      %5:f32[4,3,5] = reduce_max %4 {axes=(0,), keepdim=False}
      %6:f32[] = reduce_sum %0 {axes=(0, 1, 2, 3), keepdim=False}
      return %1, %2, %3, %5, %6
    }
    """)
    x = RNG.standard_normal((3, 4, 5, 6)).astype(np.float32)
    got = run(g, [x])
    want = [x.sum((0, 2), keepdims=True), x.max((1, 3)), x.sum(0), x.transpose(3, 1, 0, 2).max(0),
            np.array(x.astype(np.float64).sum(), np.float32)]
    assert_matches(got, want, rtol=1e-5, atol=1e-5)


def test_int_and_bool_dtypes():
    g = ir("""
    graph ints {
      %0:i32[4,5] = input {name='a'}
      %1:i32[4,5] = input {name='b'}
      %2:bool[4,5] = input {name='m'}
      %3:i32[4,5] = div %0, %1
      %4:bool[4,5] = lt %0, %1
      %5:bool[4,5] = and %4, %2
      %6:bool[4,5] = not %5
      %7:bool[4,5] = or %6, %2
      %8:i32[4,5] = where %7, %0, %3
      %9:i64[4,5] = cast %8 {dtype=i64}
      %10:i64[5] = reduce_sum %9 {axes=(0,), keepdim=False}
      %11:i32[4] = reduce_max %0 {axes=(1,), keepdim=False}
      %12:i32[4,5] = abs %0
      %13:i32[4,5] = neg %12
      %14:i32[4,5] = mul %13, %1
      %15:i32[4,5] = sub %14, %0
      %16:f64[4,5] = cast %15 {dtype=f64}
      %17:bool[4,5] = cast %0 {dtype=bool}
      %18:i32[4,5] = cast %2 {dtype=i32}
      %19:i32[4,5] = maximum %18, %0
      %20:bool[4,5] = eq %0, %1
      %21:i32[4,7] = pad %0 {pads=((0, 0), (2, 0)), value=-5}
      return %3, %5, %8, %10, %11, %16, %17, %19, %20, %21
    }
    """)
    a = RNG.integers(-20, 20, (4, 5)).astype(np.int32)
    b = (RNG.integers(1, 7, (4, 5)) * RNG.choice([-1, 1], (4, 5))).astype(np.int32)
    a[0, 0] = b[0, 0] = 5   # an equal pair (never zero: int div by zero is undefined, as in C)
    m = RNG.random((4, 5)) > 0.5
    got = run(g, [a, b, m])
    div = (np.abs(a) // np.abs(b)) * np.sign(a) * np.sign(b)
    lt_m = (a < b) & m
    w = np.where(~lt_m | m, a, div)
    want = [div.astype(np.int32), lt_m, w.astype(np.int32), w.astype(np.int64).sum(0),
            a.max(1), ((-np.abs(a)) * b - a).astype(np.float64), a != 0,
            np.maximum(m.astype(np.int32), a), a == b,
            np.pad(a, ((0, 0), (2, 0)), constant_values=-5)]
    assert_matches(got, want)
    assert_matches(got, reference(g, [a, b, m]))


def test_float64_and_mixed_casts():
    g = ir("""
    graph f64 {
      %0:f64[7] = input {name='x'}
      %1:f32[7] = cast %0 {dtype=f32}
      %2:f32[7] = sin %1
      %3:f64[7] = cast %2 {dtype=f64}
      %4:f64[7] = mul %0, %3
      %5:i64[7] = cast %0 {dtype=i64}
      %6:f64[7] = pow %0, %0
      return %4, %5, %6
    }
    """)
    x = np.array([-2.7, -1.5, -0.2, 0.0, 0.4, 1.5, 3.9])
    got = run(g, [x])
    assert_matches(got[:2], [x * np.sin(x.astype(np.float32)).astype(np.float64), x.astype(np.int64)],
                   rtol=1e-7)
    with np.errstate(invalid="ignore"):
        want = x ** x                       # NaN for a negative base with a fractional exponent
    np.testing.assert_allclose(got[2], want, rtol=1e-12, equal_nan=True)


def test_maximum_minimum_and_reduce_max_propagate_nan_like_numpy():
    # ops.py: "Semantics follow NumPy"; Tensor.maximum: "NaN propagation (torch.maximum)".
    g = ir("""
    graph nan {
      %0:f32[4] = input {name='a'}
      %1:f32[4] = input {name='b'}
      %2:f32[4] = maximum %0, %1
      %3:f32[4] = minimum %0, %1
      %4:f32[2,2] = reshape %1 {shape=(2, 2)}
      %5:f32[2] = reduce_max %4 {axes=(1,), keepdim=False}
      %6:f32[2,2] = reshape %0 {shape=(2, 2)}
      %7:f32[2] = reduce_max %6 {axes=(1,), keepdim=False}
      return %2, %3, %5, %7
    }
    """)
    a = np.array([np.nan, 1.0, 2.0, 5.0], np.float32)
    b = np.array([1.0, np.nan, 3.0, 4.0], np.float32)
    got = run(g, [a, b])
    want = [np.maximum(a, b), np.minimum(a, b), b.reshape(2, 2).max(1), a.reshape(2, 2).max(1)]
    for gv, wv in zip(got, want):
        np.testing.assert_array_equal(gv, wv)   # treats NaN == NaN
    # and the eager front end agrees with torch.maximum / torch.amax
    ta, tb = lumina.tensor(a), lumina.tensor(b)
    np.testing.assert_array_equal(lumina.maximum(ta, tb).numpy(), np.maximum(a, b))
    assert np.isnan(tb.max().item())


@st.composite
def movement_chains(draw):
    """A graph: an input, a random chain of reshape/permute/slice/expand/pad, then an elementwise
    op, a reduction and a dot that read the chain (views become index arithmetic or GEMM strides)."""
    shape = tuple(draw(st.lists(st.sampled_from([1, 2, 3, 4, 6]), min_size=1, max_size=3)))
    x = emit(Op.INPUT, type=TensorType(shape, F32), name="x")
    v = x
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["reshape", "permute", "slice", "expand", "pad"]))
        s = v.shape
        if kind == "reshape":
            n, dims = v.type.numel, []
            while n > 1 and len(dims) < 3:
                d = draw(st.sampled_from([k for k in range(2, n + 1) if n % k == 0]))
                dims.append(d)
                n //= d
            dims += [n] if n > 1 else []
            if draw(st.booleans()):
                dims.insert(draw(st.integers(0, len(dims))), 1)
            v = B.reshape(v, dims or [1])
        elif kind == "permute":
            v = B.permute(v, draw(st.permutations(range(len(s)))))
        elif kind == "slice":
            starts, stops, steps = [], [], []
            for d in s:
                lo = draw(st.integers(0, d - 1))
                starts.append(lo)
                stops.append(draw(st.integers(lo + 1, d)))
                steps.append(draw(st.sampled_from([1, 2, 3])))
            v = emit(Op.SLICE, (v,), starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
        elif kind == "expand" and 1 in s:
            v = B.expand(v, tuple(draw(st.sampled_from([2, 3])) if d == 1 else d for d in s))
        elif kind == "pad":
            pads = tuple((draw(st.integers(0, 1)), draw(st.integers(0, 1))) for _ in s)
            v = emit(Op.PAD, (v,), pads=pads, value=0.5)
    outs = [v, B.unary(Op.EXP, v), B.reduce(Op.REDUCE_SUM, B.unary(Op.NEG, v),
                                              [draw(st.integers(0, v.type.rank - 1))])]
    inputs = [x]
    if v.type.rank >= 2:
        w = emit(Op.INPUT, type=TensorType((v.shape[-1], 3), F32), name="w")
        outs.append(B.dot(v, w, ((v.type.rank - 1,), (0,))))
        inputs.append(w)
    return Graph.from_outputs(outs, inputs)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(movement_chains())
def test_random_movement_chains_match_the_reference(graph):
    verify(graph)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]
    assert_matches(run(graph, inputs), reference(graph, inputs), rtol=1e-4, atol=1e-4)


# ---- rand -----------------------------------------------------------------------------------------

RAND = """
graph r {
  %0:i64[] = input {name='key'}
  %1:f32[100000] = rand %0 {shape=(100000,), dtype=f32}
  %2:f64[300,400] = rand %0 {shape=(300, 400), dtype=f64}
  return %1, %2
}
"""


def test_rand_values_are_uniform_in_0_1_and_keyed():
    exe = compile_graph(ir(RAND))
    a32, a64 = exe.run([np.int64(7)])
    b32, b64 = exe.run([np.int64(7)])
    c32, c64 = exe.run([np.int64(8)])
    for a in (a32, a64):
        assert a.min() >= 0.0 and a.max() < 1.0
        assert abs(a.mean() - 0.5) < 0.005
        assert abs(a.var() - 1 / 12) < 0.003
        # no gaps: each tenth of [0, 1) holds about a tenth of the samples
        hist, _ = np.histogram(a, bins=10, range=(0, 1))
        assert np.all(np.abs(hist / a.size - 0.1) < 0.01)
    assert a32.dtype == np.float32 and a64.dtype == np.float64
    np.testing.assert_array_equal(a32, b32)
    np.testing.assert_array_equal(a64, b64)
    assert np.mean(a32 == c32) < 0.01 and np.mean(a64 == c64) < 0.01
    assert len(np.unique(a32)) > 0.99 * a32.size
    # neighbouring samples are not correlated
    assert abs(np.corrcoef(a32[:-1], a32[1:])[0, 1]) < 0.02


# ---- big sizes, split across threads --------------------------------------------------------------

BIG = """
graph big {
  %0:f32[1024,1024] = input {name='x'}
  %1:f32[1024,1024] = input {name='y'}
  %2:f32[1024,1024] = mul %0, %1
  %3:f32[1024,1024] = tanh %2
  %4:f32[1024] = reduce_sum %3 {axes=(0,), keepdim=False}
  %5:f32[] = reduce_sum %3 {axes=(0, 1), keepdim=False}
  %6:f32[1024,1024] = permute %3 {perm=(1, 0)}
  %7:f32[1024,1024] = dot %0, %6 {contract=((1,), (0,)), batch=((), ())}
  %8:f32[1024] = reduce_max %7 {axes=(1,), keepdim=False}
  return %3, %4, %5, %6, %8
}
"""


def test_large_kernels_split_across_threads(monkeypatch):
    monkeypatch.setenv("LUMINA_NUM_THREADS", "4")
    g = ir(BIG)
    exe = compile_graph(g)
    chunks = [min(threads.num_threads(), l.extent, max(1, l.work // threads.PARALLEL_MIN_WORK))
              for l in exe.launches]
    assert max(chunks) > 1, "no kernel is split across threads"
    x = RNG.standard_normal((1024, 1024)).astype(np.float32)
    y = RNG.standard_normal((1024, 1024)).astype(np.float32)
    got = exe.run([x, y])
    t = np.tanh(x * y)
    want = [t, t.sum(0), np.array(t.astype(np.float64).sum(), np.float32), t.T,
            (x.astype(np.float64) @ t.T.astype(np.float64)).max(1).astype(np.float32)]
    assert_matches(got[:2], want[:2], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-4)
    assert_matches(got[3:], want[3:], rtol=1e-4, atol=1e-3)
    # a second run on other data reuses the executable and still matches
    got2 = exe.run([y, x])
    np.testing.assert_allclose(got2[0], t, rtol=1e-5, atol=1e-6)


def test_two_executables_with_gemms_run_concurrently_from_two_threads():
    # jit.py: compiled code is "safe from several threads at once"; Executable locks only itself.
    import threading

    def matmul_graph(n, name):
        return ir(f"""
        graph {name} {{
          %0:f32[{n},{n}] = input {{name='x'}}
          %1:f32[{n},{n}] = input {{name='y'}}
          %2:f32[{n},{n}] = dot %0, %1 {{contract=((1,), (0,)), batch=((), ())}}
          return %2
        }}
        """)

    jobs = []
    for n, name in ((200, "concurrent_a"), (300, "concurrent_b")):
        x = RNG.standard_normal((n, n)).astype(np.float32)
        y = RNG.standard_normal((n, n)).astype(np.float32)
        jobs.append((compile_graph(matmul_graph(n, name)), x, y, x.astype(np.float64) @ y))
    errors: list[float] = []

    def work(exe, x, y, want):
        for _ in range(60):
            errors.append(float(np.abs(exe.run([x, y])[0] - want).max()))

    workers = [threading.Thread(target=work, args=job) for job in jobs]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert len(errors) == 120
    assert max(errors) < 1e-3, f"{sum(e >= 1e-3 for e in errors)} of 120 concurrent results are wrong"


def test_big_int_reduction_is_exact():
    n = 1 << 21
    g = ir(f"""
    graph s {{
      %0:i64[{n}] = input {{name='x'}}
      %1:i64[] = reduce_sum %0 {{axes=(0,), keepdim=False}}
      %2:i64[] = reduce_max %0 {{axes=(0,), keepdim=False}}
      return %1, %2
    }}
    """)
    x = RNG.integers(-(1 << 40), 1 << 40, n)
    got = run(g, [x])
    assert_matches(got, [np.array(x.sum()), np.array(x.max())])


@pytest.mark.parametrize("shape, axes, keepdim", [
    ((300, 70), (0,), False), ((300, 70), (0,), True), ((5, 300, 33), (0, 1), False),
    ((40, 6, 50), (1,), False), ((2, 300, 17), (0,), True)])
@pytest.mark.parametrize("reduce", ["sum", "max"])
def test_reductions_over_outer_axes_match_numpy(shape, axes, keepdim, reduce):
    """Reducing over non-innermost axes uses the outer-reduction schedule (accumulate in the output
    row by row); its values must equal NumPy's, NaN-free and with the same shapes. A max is exact;
    a float32 sum is compared with the float64 sum to within float32's epsilon times the sum of
    the magnitudes (the data is this case's own, whatever other tests drew before)."""
    x = np.random.default_rng(len(shape) * 1000 + sum(shape)).standard_normal(shape).astype(np.float32)
    method = "amax" if reduce == "max" else reduce        # torch.amax takes a tuple of dims
    f = lumina.compile(lambda t: getattr(t, method)(axes, keepdim=keepdim))
    kernels = f.lower(x).kernels()
    assert any(getattr(k, "reduce_outer", False) for k in kernels)
    if reduce == "max":
        np.testing.assert_array_equal(f(x).numpy(), np.max(x, axis=axes, keepdims=keepdim))
        return
    ref = np.sum(x.astype(np.float64), axis=axes, keepdims=keepdim)
    bound = np.finfo(np.float32).eps * np.sum(np.abs(x.astype(np.float64)), axis=axes, keepdims=keepdim)
    got = f(x).numpy()
    assert got.shape == ref.shape and np.all(np.abs(got - ref) <= 1e-6 * np.abs(ref) + bound), np.max(np.abs(got - ref) - bound)


def test_deeply_nested_index_arithmetic_compiles_in_linear_time():
    """Six pad/reshape/slice rounds nest index expressions six deep with shared subtrees; hashing
    them as trees once took 22 s. The value is checked against NumPy too."""
    import time
    a = np.arange(96, dtype=np.float32).reshape(2, 48)
    y, ref = lumina.tensor(a), a
    for _ in range(6):
        m = y.shape[1]
        y = lumina.pad(y.reshape(2, m, 1), (0, 1)).reshape(2, 2 * m)[:, :m]
        ref = np.pad(ref.reshape(2, m, 1), ((0, 0), (0, 0), (0, 1))).reshape(2, 2 * m)[:, :m]
    start = time.perf_counter()
    np.testing.assert_array_equal(y.numpy(), ref)
    assert time.perf_counter() - start < 10.0
