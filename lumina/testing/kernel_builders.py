"""Hand-built kernel descriptions for the backends' unit tests: the shapes of kernel each renderer
must handle, written out directly (no graph, no fusion), plus the float32 values and NumPy
references the elementwise tests share.

    k = elementwise("k_exp", [F32], F32, 16, lambda a: E.Un(Op.EXP, a, F32))
    r = reduction("k_max", F32, rows=5, cols=300, op="max")         # out[i] = max_r x[i, r]
    s = softmax_rows(6, 3000)                                       # a three-stage RowKernel
    m = mean_var_norm(5, 77)                                        # three outputs: mean, var, norm
    d = dot_bias_relu_layer_norm(2, 40, 96, 24)                     # GEMM + bias + ReLU + LayerNorm

The semantics of every kernel are the CPU backend's (``backends.cpu.llvm``); run one there with
``testing.kernels.cpu_outputs``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..codegen import expr as E
from ..codegen.expr import KOp
from ..codegen.kernel import DOT_RESULT, Buffer, DotKernel, Epilogue, LoopKernel, Operand, Reduce, RowKernel, Stage
from ..ir.dtypes import DType
from ..ir.ops import Op

F32, I32, I64, BOOL = DType.float32, DType.int32, DType.int64, DType.bool

SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.49, 3.7, -3.7, 1e-30, 88.0, -104.0, 200.0, 1e30,
                    np.inf, -np.inf, np.nan], np.float32)
"""float32 inputs at the edges of the unary ops: signed zeros, overflow and underflow of ``exp``,
infinities and NaN."""

UNARY = {Op.EXP: np.exp, Op.LOG: np.log, Op.SQRT: np.sqrt, Op.SIN: np.sin, Op.COS: np.cos,
         Op.TANH: np.tanh, Op.ABS: np.abs, Op.NEG: np.negative, Op.ERF: np.vectorize(math.erf, otypes=[float])}
"""Every float unary op of ``codegen.expr`` with its NumPy reference (evaluate it in float64 and
round: the exact result)."""


def elementwise(name: str, in_dtypes: Sequence[DType], out_dtype: DType, n: int,
                value_of: Callable[..., E.Expr]) -> LoopKernel:
    """A 1-D elementwise LoopKernel ``out[i] = value_of(*loads)`` over ``n`` elements: buffer ``j``
    of dtype ``in_dtypes[j]`` is read at ``i``, and the output buffer (``out_dtype[n]``) is last."""
    i = E.Var("i0", n)
    loads = [E.Load(j, i, dt) for j, dt in enumerate(in_dtypes)]
    return LoopKernel(name, tuple(Buffer(dt, n) for dt in in_dtypes) + (Buffer(out_dtype, n),),
                      (i,), (), None, value_of(*loads))


def reduction(name: str, dtype: DType, rows: int, cols: int, op: Reduce | str, outer: bool = False) -> LoopKernel:
    """``out[i] = op(x[i, r] for r in range(cols))`` over a ``[rows, cols]`` buffer of ``dtype``
    (``op`` a ``Reduce`` or its name, "sum" or "max"); ``outer`` asks for the CPU's
    ``reduce_outer`` schedule."""
    i, r = E.Var("i0", rows), E.Var("r0", cols)
    x = E.Load(0, E.affine_sum([(cols, i), (1, r)]), dtype)
    return LoopKernel(name, (Buffer(dtype, rows * cols), Buffer(dtype, rows)), (i,), (r,), Reduce(op), x,
                      reduce_outer=outer)


def softmax_rows(rows: int, cols: int) -> RowKernel:
    """A float32 softmax over each row of ``[rows, cols]`` as one RowKernel ``k_softmax``: stage 0
    the row's max, stage 1 the sum of ``exp(x - Acc(0))``, stage 2 stores ``exp(x - Acc(0)) / Acc(1)``."""
    i, j = E.Var("i0", rows), E.Var("j0", cols)
    x = E.Load(0, E.affine_sum([(cols, i), (1, j)]), F32)
    shifted = E.Un(Op.EXP, E.Bin(Op.SUB, x, E.Acc(0, F32), F32), F32)
    stages = (Stage((j,), Reduce.MAX, x, None, None),
              Stage((j,), Reduce.SUM, shifted, None, None),
              Stage((j,), None, E.Bin(Op.DIV, shifted, E.Acc(1, F32), F32), 1, E.affine_sum([(cols, i), (1, j)])))
    return RowKernel("k_softmax", (Buffer(F32, rows * cols), Buffer(F32, rows * cols)), 1, (i,), stages)


def mean_var_norm(rows: int, cols: int, dt: DType = F32) -> RowKernel:
    """Row moments of ``[rows, cols]`` in ``dt`` as one RowKernel ``k_mean_var_<dtype>`` with three
    outputs: the mean ``[rows]``, the (biased) variance ``[rows]`` (a stage reading ``Acc(0)``), and
    ``(x - mean) / sqrt(var + 1e-5)`` ``[rows, cols]``."""
    i, j = E.Var("i0", rows), E.Var("j0", cols)
    x = E.Load(0, E.affine_sum([(cols, i), (1, j)]), dt)
    inv = E.Const(1.0 / cols, dt)
    centered = E.Bin(Op.SUB, x, E.Acc(0, dt), dt)
    norm = E.Bin(Op.DIV, centered, E.Un(Op.SQRT, E.Bin(Op.ADD, E.Acc(1, dt), E.Const(1e-5, dt), dt), dt), dt)
    stages = (Stage((j,), Reduce.SUM, E.Bin(Op.MUL, x, inv, dt), 1, i),
              Stage((j,), Reduce.SUM, E.Bin(Op.MUL, E.Bin(Op.MUL, centered, centered, dt), inv, dt), 2, i),
              Stage((j,), None, norm, 3, E.affine_sum([(cols, i), (1, j)])))
    bufs = (Buffer(dt, rows * cols), Buffer(dt, rows), Buffer(dt, rows), Buffer(dt, rows * cols))
    return RowKernel(f"k_mean_var_{dt.name}", bufs, 3, (i,), stages)


def sum_of(terms: Sequence[E.Expr], dt: DType) -> E.Expr:
    """``terms[0] + terms[1] + ...`` in ``dt``, left to right."""
    out = terms[0]
    for t in terms[1:]:
        out = E.Bin(Op.ADD, out, t, dt)
    return out


def rand_kernel(dt: DType, n: int) -> LoopKernel:
    """``k_rand_<dtype>``: ``out[i] = Rand(key, i + 5)`` in ``dt`` over ``n`` elements, the key read
    from an int64 buffer of one element (buffer 0)."""
    i = E.Var("i0", n)
    return LoopKernel(f"k_rand_{dt.name}", (Buffer(I64, 1), Buffer(dt, n)), (i,), (), None,
                      E.Rand(E.Load(0, E.iconst(0), I64), E.Bin(Op.ADD, i, E.iconst(5), I64), dt))


def rounding_kernels(dt: DType, n: int, tanh: bool = True) -> list[LoopKernel]:
    """Three kernels over ``n`` elements of the 16-bit float ``dt`` that show whether a renderer
    rounds to ``dt`` after every op, as the CPU backend does: ``k_chain_<dtype>`` (``(a * b + a) /
    (b - 0.3)``, plus ``sqrt|.|``, plus ``tanh(a)`` when ``tanh``, times 1.0001 in float32 and
    back), ``k_narrow_<dtype>`` (float32 -> dt) and ``k_from_int_<dtype>`` (int64 -> dt). Their
    inputs: ``rounding_inputs``."""
    def chain(a, b):
        y = E.Bin(Op.DIV, E.Bin(Op.ADD, E.Bin(Op.MUL, a, b, dt), a, dt), E.Bin(Op.SUB, b, E.Const(0.3, dt), dt), dt)
        y = E.Bin(Op.ADD, y, E.Un(Op.SQRT, E.Un(Op.ABS, y, dt), dt), dt)
        if tanh:
            y = E.Bin(Op.ADD, y, E.Un(Op.TANH, a, dt), dt)
        return E.Cast(E.Bin(Op.MUL, E.Cast(y, F32), E.Const(1.0001, F32), F32), dt)
    return [elementwise(f"k_chain_{dt.name}", [dt, dt], dt, n, chain),
            elementwise(f"k_narrow_{dt.name}", [F32], dt, n, lambda x: E.Cast(x, dt)),
            elementwise(f"k_from_int_{dt.name}", [I64], dt, n, lambda x: E.Cast(x, dt))]


def rounding_inputs(dt: DType, n: int, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Inputs for ``rounding_kernels(dt, n)``, in order: ``[a, b]`` (normal, with NaN, +-inf and
    the largest finite ``dt`` value), float32 values exactly halfway between 16-bit neighbours
    (ties go to even) with NaNs and a float32 denormal, and int64 values up to 2**40."""
    a = rng.normal(0, 3, n).astype(dt.numpy)
    b = rng.normal(0, 3, n).astype(dt.numpy)
    a[:4] = [np.nan, np.inf, -np.inf, 65504 if dt is DType.float16 else 3e38]
    grid = rng.normal(0, 100, n).astype(dt.numpy).astype(np.float32)
    ulp = np.abs(np.spacing(grid.astype(dt.numpy)).astype(np.float32))
    halfway = (grid + ulp / 2).astype(np.float32)
    halfway[:3] = [np.nan, -np.nan, 1e-40]
    return [[a, b], [halfway], [rng.integers(-2**40, 2**40, n)]]


def dot_bias_relu_permuted(batch: int, m: int, n: int, k: int) -> DotKernel:
    """``k_dot_epi``: float32 ``relu(A @ B + bias)`` for ``A`` ``[batch, m, k]`` read through a
    transposed view (buffer 0 holds ``[batch, k, m]``), ``B`` ``[k, n]`` shared by the batch (batch
    stride 0), ``bias`` ``[n]``; ``C[b, m, n]`` is stored at ``[n, b, m]`` (an NHWC-like
    permutation, by the epilogue's index and ``c_strides``)."""
    bv, mv, nv = E.Var("b", batch), E.Var("m", m), E.Var("n", n)
    index = E.affine_sum([(m, bv), (1, mv), (batch * m, nv)])
    value = E.Bin(Op.MAXIMUM, E.Bin(Op.ADD, E.Load(DOT_RESULT, index, F32), E.Load(0, nv, F32), F32),
                  E.Const(0.0, F32), F32)
    return DotKernel("k_dot_epi", (Buffer(F32, batch * k * m), Buffer(F32, k * n), Buffer(F32, n),
                                   Buffer(F32, batch * m * n)), F32, batch, m, n, k,
                     Operand(0, 0, (k * m, 1, m)), Operand(1, 0, (0, n, 1)),
                     epilogue=Epilogue((bv, mv, nv), value, (2,), index), c_strides=(m, 1, batch * m))


def dot_bias_relu_layer_norm(batch: int, m: int, n: int, k: int, eps: float = 1e-5) -> DotKernel:
    """``k_dot_ln``: the fused MLP layer as one row-fused float32 GEMM (``DotKernel.rows``)::

        C = relu(A @ B + bias)                 # A [batch, m, k], B [k, n] (batch stride 0)
        mean = C.mean(-1); rstd = 1 / sqrt(C.var(-1) + eps)
        y = (C - mean) * rstd * gamma + beta

    Buffers: 0 A, 1 B, 2 bias [n], 3 gamma [n], 4 beta [n]; outputs 5 C [batch, m, n], 6 mean
    [batch, m], 7 rstd [batch, m], 8 y [batch, m, n] (all row-major). The row stages: the sum of
    a row (register only), the mean, the sum of squared deviations (register only), rstd, y.
    ``layer_norm_reference`` computes the same in NumPy."""
    bv, mv, nv = E.Var("b", batch), E.Var("m", m), E.Var("n", n)
    c_index = E.affine_sum([(m * n, bv), (n, mv), (1, nv)] if batch > 1 else [(n, mv), (1, nv)])
    relu = E.Bin(Op.MAXIMUM, E.Bin(Op.ADD, E.Load(DOT_RESULT, c_index, F32), E.Load(0, nv, F32), F32),
                 E.Const(0.0, F32), F32)
    r = E.Var("r", batch * m)
    s = [E.Var(f"s{j}", n) for j in range(5)]

    def c_at(j):
        return E.Load(5, E.affine_sum([(n, r), (1, s[j])]), F32)

    def mean():
        return E.Bin(Op.MUL, E.Acc(0, F32), E.Const(1.0 / n, F32), F32)

    def rstd():
        var = E.Bin(Op.ADD, E.Bin(Op.MUL, E.Acc(2, F32), E.Const(1.0 / n, F32), F32), E.Const(eps, F32), F32)
        return E.Bin(Op.DIV, E.Const(1.0, F32), E.Un(Op.SQRT, var, F32), F32)

    dev = E.Bin(Op.SUB, c_at(2), mean(), F32)
    norm = E.Bin(Op.MUL, E.Bin(Op.SUB, c_at(4), mean(), F32), rstd(), F32)
    y = E.Bin(Op.ADD, E.Bin(Op.MUL, norm, E.Load(3, s[4], F32), F32), E.Load(4, s[4], F32), F32)
    stages = (Stage((s[0],), Reduce.SUM, c_at(0), None, None),
              Stage((), None, mean(), 6, r),
              Stage((s[2],), Reduce.SUM, E.Bin(Op.MUL, dev, dev, F32), None, None),
              Stage((), None, rstd(), 7, r),
              Stage((s[4],), None, y, 8, E.affine_sum([(n, r), (1, s[4])])))
    buffers = (Buffer(F32, batch * m * k), Buffer(F32, k * n), Buffer(F32, n), Buffer(F32, n), Buffer(F32, n),
               Buffer(F32, batch * m * n), Buffer(F32, batch * m), Buffer(F32, batch * m), Buffer(F32, batch * m * n))
    rows = RowKernel("k_dot_ln_rows", buffers, 3, (r,), stages)
    return DotKernel("k_dot_ln", buffers, F32, batch, m, n, k, Operand(0, 0, (m * k, k, 1)), Operand(1, 0, (0, n, 1)),
                     epilogue=Epilogue((bv, mv, nv), relu, (2,), c_index), c_strides=(m * n, n, 1), rows=rows)


def layer_norm_reference(a, b, bias, gamma, beta, eps: float = 1e-5) -> list[np.ndarray]:
    """NumPy (float64, rounded to float32) outputs of ``dot_bias_relu_layer_norm`` for ``a``
    ``[batch, m, k]`` and the other inputs: ``[C, mean, rstd, y]``, flat."""
    c = np.maximum(a.astype(np.float64) @ b.astype(np.float64) + bias, 0)
    c = c.astype(np.float32).astype(np.float64)   # C is stored, and the stages read it back
    mean = c.mean(-1)
    rstd = 1 / np.sqrt(c.var(-1) + eps)
    y = (c - mean[..., None]) * rstd[..., None] * gamma + beta
    return [x.astype(np.float32).reshape(-1) for x in (c, mean, rstd, y)]


def plain_dot(dt: DType, m: int, n: int, k: int) -> DotKernel:
    """``k_dot_<dtype>``: one row-major ``[m, k] @ [k, n]`` GEMM in ``dt``, no epilogue."""
    return DotKernel(f"k_dot_{dt.name}", (Buffer(dt, m * k), Buffer(dt, k * n), Buffer(dt, m * n)), dt,
                     1, m, n, k, Operand(0, 0, (0, k, 1)), Operand(1, 0, (0, n, 1)))


def binary_inputs() -> dict[DType, tuple[np.ndarray, np.ndarray]]:
    """Operand pairs for binary ops by dtype: int32 and int64 (12 each: signs for C-truncating
    division, division by zero, INT32_MIN / -1), float32 (12: NaN on either side, signed zeros,
    infinities) and bool (the four combinations)."""
    a32 = np.array([7, -7, 7, -7, 0, np.iinfo(np.int32).min, 9, -9, 100, 1, -1, 5], np.int32)
    b32 = np.array([2, 2, -2, -2, 3, -1, 0, 0, 7, 1, 1, -5], np.int32)
    fa = np.array([1.0, np.nan, 2.0, -0.0, np.inf, 3.0, -2.0, 0.5, np.nan, 1.0, 0.0, -1.5], np.float32)
    fb = np.array([np.nan, 1.0, 2.0, 0.0, 1.0, -np.inf, 3.0, 2.0, np.nan, 0.0, 0.0, 2.0], np.float32)
    return {I32: (a32, b32), I64: (a32.astype(np.int64), b32.astype(np.int64)), F32: (fa, fb),
            BOOL: (np.array([0, 0, 1, 1], bool), np.array([0, 1, 0, 1], bool))}


def binary_kernel(op: Op, dt: DType, n: int) -> LoopKernel:
    """``k_<op>_<dtype>``: ``out[i] = a[i] <op> b[i]`` over ``n`` elements of ``dt`` (a bool output
    for comparisons)."""
    out = BOOL if op in E.COMPARE else dt
    return elementwise(f"k_{op.value}_{dt.name}", [dt, dt], out, n, lambda x, y: E.Bin(op, x, y, out))


def select_kernel(n: int) -> LoopKernel:
    """``k_select``: float32 ``a if a > b else float(a != a)`` (1 where ``a`` is NaN)."""
    return elementwise("k_select", [F32, F32], F32, n,
                       lambda x, y: E.Select(E.Bin(Op.GT, x, y, BOOL), x, E.Cast(E.Bin(Op.NE, x, x, BOOL), F32), F32))


def floor_index_kernel() -> tuple[LoopKernel, np.ndarray]:
    """``k_floor``: int64 ``((i - 20) // 7) * 100 + (i - 20) % 7`` for ``i`` in 0..39, where the
    bounds say the dividend may be negative; with the result Python's flooring // and % give
    (the simplifier's meaning of the nodes)."""
    i = E.Var("i0", 40)
    shifted = E.Bin(Op.SUB, i, E.iconst(20), I64)
    value = E.Bin(Op.ADD, E.Bin(Op.MUL, E.Bin(KOp.FLOORDIV, shifted, E.iconst(7), I64), E.iconst(100), I64),
                  E.Bin(KOp.MOD, shifted, E.iconst(7), I64), I64)
    s = np.arange(40) - 20
    return LoopKernel("k_floor", (Buffer(I64, 40),), (i,), (), None, value), (s // 7) * 100 + s % 7
