"""Render ``LoopKernel``s and ``RowKernel``s to LLVM IR (via ``llvmlite.ir``) for the CPU.

Each kernel becomes ``void @name(T0* noalias %b0, ..., Tn* noalias %out, i64 %start, i64 %end)``
whose outermost domain loop runs over ``[start, end)`` so the runtime can split it across threads
(a rank-0 domain ignores the range). Loops are plain counted loops the LLVM loop vectorizer turns
into SIMD; a ``sum`` accumulates with ``reassoc nsz`` fast-math flags, which is what lets it be
vectorized (reassociation is the one licence we take). A reduction over a non-contiguous axis
(``LoopKernel.reduce_outer``) accumulates in the output buffer with its reduce loops outside the
innermost output loop.

The renderer is four modules: this one (a ``LoopKernel``'s function, ``render_module``),
``llvm_expr`` (types, loops, memory and the expression table every function shares, with the
numerics), ``llvm_rows`` (a ``RowKernel``'s stages) and ``llvm_epilogue`` (the function a GEMM
calls on its finished panels, ``render_epilogue``, re-exported here with ``epilogue_pointers``).
"""
from __future__ import annotations

from llvmlite import ir

from ...codegen import expr as E
from ...codegen import legalize as L
from ...codegen.kernel import LoopKernel, Reduce, RowKernel
from ...ir.symbolic import hint
from .llvm_epilogue import EPILOGUE_FUNCTION, epilogue_pointers, render_epilogue
from .llvm_expr import I64, LEGALIZE, REG, ROLLED_MIN, KernelBuilder
from .llvm_rows import RowBuilder

__all__ = ["EPILOGUE_FUNCTION", "LEGALIZE", "epilogue_pointers", "render_epilogue", "render_module"]


OUTER_REDUCE_BLOCK = 8
"""Rows an outer reduction combines in registers before it updates its output
(``LoopBuilder.emit_outer_reduction``), when it reduces at least ``OUTER_REDUCE_BLOCKED`` of them:
a short one (a pool's window) adds row by row, in the order PyTorch's loops add."""
OUTER_REDUCE_BLOCKED = 64


def loop_order(k: LoopKernel) -> list:
    """The domain loops of ``k`` outer to inner: its domain, except that an elementwise kernel
    whose loads run contiguous along another loop than the last (by more loads than the last
    loop's, counting the store, which is contiguous along it) nests that loop innermost, so the
    vectorized loop reads whole vectors and only the store strides. The first loop stays outermost
    (threads split it). The store's index is the domain's row-major position whatever the order.
    Measured (one thread): the input gradient of a 3x3 convolution (nine channels-last slices of
    the im2col gradient summed into an NCHW [64, 32, 14, 14]), 3.2 -> 0.7 ms."""
    domain = list(k.domain)
    if k.reduce_vars or len(domain) < 3:
        return domain
    unit: dict = {}
    for load in E.loads(k.value):
        terms, _ = E.affine_terms(load.index)
        for v in domain[1:]:
            if terms.get(v) == 1:
                unit[v] = unit.get(v, 0) + 1
    last = domain[-1]
    best = max(domain[1:-1], key=lambda v: unit.get(v, 0))
    if unit.get(best, 0) > unit.get(last, 0) + 1 and hint(best.extent) >= ROLLED_MIN:
        domain.remove(best)
        domain.append(best)
    return domain


class LoopBuilder(KernelBuilder):
    """A ``LoopKernel``: its loop nest and the store of ``value`` (or of its reduction)."""
    def emit(self):
        k = self.k
        if k.reduce_vars and k.reduce_outer:
            self.emit_outer_reduction()
        else:
            self.nest(loop_order(k), self.store_value)
        self.finish()

    def store_value(self) -> None:
        k = self.k
        value = self.reduction() if k.reduce_vars else self.expr(k.value)
        self.store(len(k.buffers) - 1, self._row_major(k.domain), value, k.out.dtype)

    def emit_outer_reduction(self) -> None:
        """The reduce loops run outside the innermost output loop and accumulate in the output
        buffer: ``for r: for j: out[j] = out[j] + x[r, j]`` reads ``x`` row by row (contiguous and
        vectorisable) where the register-accumulator order would stride down its columns.

        The innermost reduce loop takes ``OUTER_REDUCE_BLOCK`` rows at a time, combined as a tree
        before one update of the output: a sum of n rows then rounds about n / 8 + 8 times in
        sequence instead of n (a batch norm's statistics of a channels-last value, a bias
        gradient), and the output is loaded and stored an eighth as often."""
        k, b = self.k, self.b
        out, dt = len(k.buffers) - 1, k.value.dtype
        *outer, inner = k.domain
        *others, last = k.reduce_vars
        # a short one row by row; so is a symbolic one (its remainder rows need its size)
        size = OUTER_REDUCE_BLOCK if isinstance(last.extent, int) and last.extent >= OUTER_REDUCE_BLOCKED else 1
        block = E.Var(f"{last.name}_block", max(1, last.extent // size) if size > 1 else last.extent)

        def init():
            self.memo = {}
            self.store(out, self._row_major(k.domain), self._identity(k.reduce_op, dt), dt)

        def accumulate(rows):
            """out[j] = out[j] combined with the tree of ``value`` at ``last`` = each of ``rows``
            (LLVM values)."""
            terms = []
            for row in rows:
                self.vars[last] = row
                self.memo = {}
                terms.append(self.expr(k.value))
            while len(terms) > 1:
                pairs = [self._combine_in_order(x, y, dt) for x, y in zip(terms[::2], terms[1::2])]
                terms = pairs + terms[len(pairs) * 2:]
            self.memo = {}
            index = self._row_major(k.domain)
            self.store(out, index, self._combine_in_order(b.load(self.pointer(out, index)), terms[0], dt), dt)

        def blocks():
            if size == 1:
                self.loop(block, ir.Constant(I64, 0), self.extent(block),
                          lambda: self.nest([inner], lambda: accumulate([self.vars[block]])))
                return
            whole = last.extent // size
            if whole:
                self.loop(block, ir.Constant(I64, 0), ir.Constant(I64, whole), lambda: self.nest([inner], lambda: accumulate(
                    [b.add(b.mul(self.vars[block], ir.Constant(I64, size)), ir.Constant(I64, u)) for u in range(size)])))
            rest = range(whole * size, last.extent)
            if rest:
                self.nest([inner], lambda: accumulate([ir.Constant(I64, r) for r in rest]))

        def per_row():
            self.nest([inner], init)
            self.nest(list(others), blocks)

        self.nest(outer, per_row)

    def _combine_in_order(self, acc, x, dt):
        """``_combine`` of an outer reduction, a float sum without the reassociation licence: the
        vectorised and the scalar copies of the loop (the threads' column ranges split them
        differently) must add in the same order, or a result would depend on the thread count."""
        if self.k.reduce_op is Reduce.SUM and dt.is_float:
            return self.b.fadd(acc, x)
        return self._combine(self.k.reduce_op, acc, x, dt)

    def reduction(self) -> ir.Value:
        """Fold ``value`` over the reduce loops into a register accumulator."""
        k, b = self.k, self.b
        dt = k.value.dtype
        ty = REG[dt]
        init = self._identity(k.reduce_op, dt)
        with b.goto_entry_block():  # an entry-block alloca, which mem2reg turns into phis
            acc_slot = b.alloca(ty, name="acc")
        b.store(init, acc_slot)
        self.memo = {}

        def nest(level: int):
            if level < len(k.reduce_vars):
                v = k.reduce_vars[level]
                self.loop(v, ir.Constant(I64, 0), self.extent(v), lambda: nest(level + 1))
                return
            self.memo = {}
            x = self.expr(k.value)
            acc = b.load(acc_slot)
            b.store(self._combine(k.reduce_op, acc, x, dt), acc_slot)

        nest(0)
        self.memo = {}
        return b.load(acc_slot)


def render_module(kernels: list[LoopKernel | RowKernel], name: str = "lumina", symbols: tuple[str, ...] = ()) -> str:
    """LLVM IR text of one module defining every kernel in ``kernels``, each legalized first
    (``LEGALIZE``). A kernel with symbolic extents takes an ``i64* sizes`` argument after its
    buffers: the values of ``symbols``, in that order."""
    module = ir.Module(name=name)
    for k in kernels:
        k = L.legalize(k, LEGALIZE)
        (RowBuilder if isinstance(k, RowKernel) else LoopBuilder)(module, k, symbols).emit()
    return str(module)
