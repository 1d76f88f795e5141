"""The backend-neutral kernel description every renderer consumes.

A ``LoopKernel`` is a loop nest: ``domain`` loops (outer to inner) over the output's row-major
positions, optional ``reduce_vars`` loops inside them folding ``value`` with ``reduce_op``, and one
store of the result to the last buffer. With ``reduce_outer`` the reduce loops sit between the outer
domain loops and the innermost one, accumulating in the output buffer: the schedule for reducing
over a non-contiguous axis (a bias gradient's sum over the batch). A ``DotKernel`` is a batched GEMM over strided views of its
operands. The renderers (LLVM today; Triton and Metal later) turn either into target code; the runtime
splits the outermost domain loop (or the GEMM's rows) across threads.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.dtypes import DType
from .expr import Expr, Var


@dataclass(frozen=True)
class Buffer:
    """A kernel parameter: a flat array of ``numel`` elements of ``dtype``."""
    dtype: DType
    numel: int


@dataclass(frozen=True)
class LoopKernel:
    name: str
    buffers: tuple[Buffer, ...]        # inputs first; the output is the last one
    domain: tuple[Var, ...]            # output loops, outer to inner; output index is row-major
    reduce_vars: tuple[Var, ...]       # reduction loops (innermost); () for elementwise
    reduce_op: str | None              # "sum" or "max"
    value: Expr
    source: tuple[str, ...] = ()       # the IR lines this kernel was fused from (for dumps)
    reduce_outer: bool = False         # reduce loops outside the innermost domain loop (see below)

    @property
    def out(self) -> Buffer:
        return self.buffers[-1]

    @property
    def work(self) -> int:
        """Innermost iterations in total: the size of the domain times the reduction."""
        n = 1
        for v in self.domain + self.reduce_vars:
            n *= v.extent
        return n


@dataclass(frozen=True)
class Operand:
    """A strided view of buffer ``buf``: element (b, i, j) at ``offset + b*s[0] + i*s[1] + j*s[2]``."""
    buf: int
    offset: int
    strides: tuple[int, int, int]


@dataclass(frozen=True)
class Epilogue:
    """An elementwise function applied to a GEMM's output in place, after its last K block.

    ``value`` is the new ``C[b, m, n]`` as an expression over the loop variables ``vars`` = (b, m, n)
    (extents batch, M, N; a batch of one indexes at 0, not through ``b``) of the GEMM as launched:
    when it computes C^T, ``vars`` lists (b, n, m), so the renderer's row loop runs over n. Its loads name epilogue positions: ``Load(i)`` for ``i < len(buffers)``
    reads the dot kernel's buffer ``buffers[i]``; ``Load(OUT)`` (``OUT = MAX_EPILOGUE_INPUTS``) reads
    the finished dot result, at its own position only. The renderer stores ``value`` to that
    position of the output.
    """
    vars: tuple[Var, Var, Var]
    value: Expr
    buffers: tuple[int, ...]
    index: Expr          # C[b, m, n]'s position in the output (row-major, or at ``DotKernel.c_strides``
    #                      when a permute re-indexes it), written exactly as ``value`` loads it


@dataclass(frozen=True)
class DotKernel:
    """``C[b, m, n] = sum_k A[b, m, k] * B[b, k, n]`` into a contiguous [batch, M, N] output, then
    ``C = epilogue(C, ...)`` when there is an ``epilogue``. ``c_strides`` (elements) place
    ``C[b, m, n]`` in the output: row-major ``(M*N, N, 1)`` unless a permuted epilogue re-indexes it."""
    name: str
    buffers: tuple[Buffer, ...]
    dtype: DType
    batch: int
    m: int
    n: int
    k: int
    a: Operand
    b: Operand
    source: tuple[str, ...] = ()
    epilogue: Epilogue | None = None
    c_strides: tuple[int, int, int] | None = None   # None: row-major (M*N, N, 1)

    @property
    def out(self) -> Buffer:
        return self.buffers[-1]
