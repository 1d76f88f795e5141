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

from ...codegen import legalize as L
from ...codegen.kernel import LoopKernel, RowKernel
from .llvm_epilogue import EPILOGUE_FUNCTION, epilogue_pointers, render_epilogue
from .llvm_expr import I64, LEGALIZE, REG, KernelBuilder
from .llvm_rows import RowBuilder

__all__ = ["EPILOGUE_FUNCTION", "LEGALIZE", "epilogue_pointers", "render_epilogue", "render_module"]


class LoopBuilder(KernelBuilder):
    """A ``LoopKernel``: its loop nest and the store of ``value`` (or of its reduction)."""
    def emit(self):
        k = self.k
        if k.reduce_vars and k.reduce_outer:
            self.emit_outer_reduction()
        else:
            self.nest(list(k.domain), self.store_value)
        self.finish()

    def store_value(self) -> None:
        k = self.k
        value = self.reduction() if k.reduce_vars else self.expr(k.value)
        self.store(len(k.buffers) - 1, self._row_major(k.domain), value, k.out.dtype)

    def emit_outer_reduction(self) -> None:
        """The reduce loops run outside the innermost output loop and accumulate in the output
        buffer: ``for r: for j: out[j] = out[j] + x[r, j]`` reads ``x`` row by row (contiguous and
        vectorisable) where the register-accumulator order would stride down its columns."""
        k, b = self.k, self.b
        out, dt = len(k.buffers) - 1, k.value.dtype
        *outer, inner = k.domain

        def init():
            self.memo = {}
            self.store(out, self._row_major(k.domain), self._identity(k.reduce_op, dt), dt)

        def accumulate():
            self.memo = {}
            index = self._row_major(k.domain)
            acc = b.load(self.pointer(out, index))
            self.store(out, index, self._combine(k.reduce_op, acc, self.expr(k.value), dt), dt)

        def per_row():
            self.nest([inner], init)
            self.nest(list(k.reduce_vars) + [inner], accumulate)

        self.nest(outer, per_row)

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
                self.loop(v, ir.Constant(I64, 0), ir.Constant(I64, v.extent), lambda: nest(level + 1))
                return
            self.memo = {}
            x = self.expr(k.value)
            acc = b.load(acc_slot)
            b.store(self._combine(k.reduce_op, acc, x, dt), acc_slot)

        nest(0)
        self.memo = {}
        return b.load(acc_slot)


def render_module(kernels: list[LoopKernel | RowKernel], name: str = "lumina") -> str:
    """LLVM IR text of one module defining every kernel in ``kernels``, each legalized first
    (``LEGALIZE``)."""
    module = ir.Module(name=name)
    for k in kernels:
        k = L.legalize(k, LEGALIZE)
        (RowBuilder if isinstance(k, RowKernel) else LoopBuilder)(module, k).emit()
    return str(module)
