"""Canonical forms the code generators rely on.

* ``canonicalize_dots``: every ``dot`` becomes ``[B, M, K] x [B, K, N] -> [B, M, N]`` between a
  permute + reshape of each operand and a reshape of the result, so the GEMM kernel sees exactly one
  batch, row, column and contraction dim. The permutes/reshapes cost nothing when they are strided
  views (the GEMM packs its panels through strides anyway). A ``dot`` of 16-bit floats becomes a
  float32 ``dot`` of the operands cast up, cast back down: it accumulates in float32 and rounds
  once, as PyTorch's CPU half matmul (the up-cast is exact, and costs O(MK + KN) next to the
  GEMM's O(MNK)).
* ``split_k_dots``: a canonical ``dot`` whose contraction dwarfs its output (a convolution's
  weight gradient: ``[64, 12544] x [12544, 288]``) runs as ``T`` dots over slices of K, batched,
  and a sum of their ``T`` partial results (split-K, as CUTLASS's and XLA's GEMMs do): the threads
  then take whole slices instead of a few column panels each. So does a large one-row ``dot`` over a
  row-major B (a batch-1 layer, ``x @ W``: ``[1, 4096] x [4096, 4096]``): each thread then streams
  its own contiguous rows of B, where a split over columns has both threads read part of every row
  (a C model of the two splits on an Intel Xeon, 2 threads, 1 x 1024 x 1024 f32: 90 -> 47 us, each
  thread's half of B then staying in its core's L2).
* ``split_reductions``: a reduction of many elements into few outputs is split in two stages,
  ``[..., R] -> [..., T, R/T] -> [..., T] -> [...]``, so its first stage has ``T`` independent rows
  for the thread pool (a tree reduction, as XLA's and Triton's split-K reductions do). A split
  ``sum`` of 16-bit floats keeps its partial sums in float32, so it still rounds only once.
"""
from __future__ import annotations

import math

from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.graph import Graph
from ..ir.ops import Op
from ..ir.symbolic import is_symbolic
from .rewrite import rewrite

CANONICAL = {"contract": ((2,), (1,)), "batch": ((0,), (0,))}


def _operand(x, batch, free, contract, contract_last: bool):
    perm = list(batch) + (list(free) + list(contract) if contract_last else list(contract) + list(free))
    sizes = [math.prod(x.shape[i] for i in g) for g in (batch, free, contract)]
    x = B.permute(x, perm)
    b, f, c = sizes
    return B.reshape(x, (b, f, c) if contract_last else (b, c, f))


def canonicalize_dots(graph: Graph) -> Graph:
    def rule(node, ins):
        if node.op is not Op.DOT:
            return None
        x, y = ins
        half = node.out.dtype if node.out.dtype.is_half else None
        if half is not None:
            x, y = B.cast(x, DType.float32), B.cast(y, DType.float32)
        elif x.type.rank == 3 and y.type.rank == 3 and node.attrs == CANONICAL:
            return None
        (xc, yc), (xb, yb) = node.attrs["contract"], node.attrs["batch"]
        xf = [i for i in range(x.type.rank) if i not in xc + xb]
        yf = [i for i in range(y.type.rank) if i not in yc + yb]
        lhs = _operand(x, xb, xf, xc, contract_last=True)
        rhs = _operand(y, yb, yf, yc, contract_last=False)
        out = B.reshape(B.dot(lhs, rhs, **CANONICAL), node.out.shape)
        return B.cast(out, half) if half is not None else out
    return rewrite(graph, rule)


SPLIT_MIN_REDUCE = 1 << 16   # elements reduced per output before a split pays
SPLIT_MAX_OUTPUTS = 64       # with more outputs than this, the outer loop already parallelises


def _split_factor(r: int) -> int:
    for t in (64, 32, 16, 8, 4, 2):
        if r % t == 0 and r // t >= 1024:
            return t
    return 1


def split_reductions(graph: Graph) -> Graph:
    def rule(node, ins):
        if node.op.kind.value != "reduce":
            return None
        (x,) = ins
        axes = node.attrs["axes"]
        r = math.prod(x.shape[a] for a in axes)
        if is_symbolic(r) or is_symbolic(x.type.numel):   # the split factor needs the size
            return None
        outs = x.type.numel // max(r, 1)
        t = _split_factor(r)
        if r < SPLIT_MIN_REDUCE or outs > SPLIT_MAX_OUTPUTS or t == 1:
            return None
        half = node.out.dtype if node.op is Op.REDUCE_SUM and node.out.dtype.is_half else None
        if half is not None:
            x = B.cast(x, DType.float32)
        kept = [i for i in range(x.type.rank) if i not in axes]
        x = B.permute(x, kept + list(axes))
        lead = tuple(x.shape[:len(kept)])
        x = B.reshape(x, lead + (t, r // t))
        partial = B.reduce(node.op, x, [len(lead) + 1])
        total = B.reshape(B.reduce(node.op, partial, [len(lead)]), node.out.shape)
        return B.cast(total, half) if half is not None else total
    return rewrite(graph, rule)


SPLIT_K_MIN = 4096      # contraction length before a split-K pays
SPLIT_K_RATIO = 16      # ... and it must be this many times the larger output dim
SPLIT_K_SLICE = 512     # the shortest slice (a GEMM K block)
GEMV_SPLIT_MIN = 1 << 19   # elements of B (2 MiB of f32) before a one-row dot splits over K


def _columns_contiguous(y) -> bool:
    """Whether the canonical right operand ``y`` ([1, K, N]) is a transposed view (``W.T``), whose
    columns, not rows, lie contiguous in memory: a permute that moves the last axis, under reshapes."""
    while y.op is Op.RESHAPE:
        y = y.inputs[0]
    return y.op is Op.PERMUTE and y.attrs["perm"][-1] != len(y.shape) - 1


def split_k_dots(graph: Graph) -> Graph:
    def rule(node, ins):
        if node.op is not Op.DOT or node.attrs != CANONICAL or not node.out.dtype.is_float:
            return None
        x, y = ins
        b, m, k = x.shape
        n = y.shape[2]
        if any(map(is_symbolic, (b, m, k, n))):   # the split needs the sizes
            return None
        gemv = m == 1 and k * n >= GEMV_SPLIT_MIN and not _columns_contiguous(y)
        if b != 1 or not gemv and (k < SPLIT_K_MIN or k < SPLIT_K_RATIO * max(m, n)):
            return None
        t = next((t for t in (8, 4, 2) if k % t == 0 and k // t >= SPLIT_K_SLICE), 1)
        if t == 1:
            return None
        lhs = B.permute(B.reshape(x, (m, t, k // t)), (1, 0, 2))
        rhs = B.reshape(y, (t, k // t, n))
        return B.reduce(Op.REDUCE_SUM, B.dot(lhs, rhs, **CANONICAL), [0], keepdim=True)
    return rewrite(graph, rule)
