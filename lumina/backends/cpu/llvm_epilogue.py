"""Render a GEMM's epilogue, and a row-fused GEMM's row stages, to the LLVM function the packed
GEMM (``llvm_gemm``) calls on each finished panel of C (``render_epilogue``).

The function is ``void lumina_epilogue(p0, ..., p{n-2}, out, i64 b, i64 m0, i64 m1, i64 n0,
i64 n1)`` with ``llvm_gemm.EPILOGUE_POINTERS`` pointers: the buffers the epilogue and the row
stages read (``epilogue_pointers``), padded, then C. A kernel that needs more raises
``LuminaCodegenError``.
"""
from __future__ import annotations

from dataclasses import replace

from llvmlite import ir

from ...codegen import expr as E
from ...codegen import legalize as L
from ...codegen.kernel import DOT_RESULT, DotKernel, Epilogue, kernel_symbols
from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...ir.symbolic import Sym
from .llvm_expr import I8, I64, LEGALIZE, MEM, KernelBuilder, load_sizes, size_value
from .llvm_rows import RowBuilder

EPILOGUE_FUNCTION = "lumina_epilogue"


class EpilogueBuilder(KernelBuilder):
    """``void lumina_epilogue(p0, ..., p{MAX-1}, out, i64 b, i64 m0, i64 m1, i64 n0, i64 n1)``:
    ``out[b, m, n] = value`` for m0 <= m < m1, n0 <= n < n1 of batch entry b (an output panel of a
    GEMM, see ``llvm_gemm``); the inner loop runs along contiguous output columns and vectorizes.
    Epilogue position ``i`` is pointer ``p{i}``; the dot result (``kernel.DOT_RESULT``) is read
    from ``out``, where the GEMM left it."""
    def __init__(self, module: ir.Module, ep: Epilogue, dtype: DType, n_pointers: int, name: str,
                 sizes: int | None = None, symbols: tuple[str, ...] = ()):
        self.module = module
        types = [I8] * n_pointers
        if sizes is not None:   # the pointer to the symbolic sizes' values (``symbols`` order)
            types[sizes] = I64
        stack = [ep.value]
        while stack:   # each pointer is typed by what is loaded through it
            e = stack.pop()
            if isinstance(e, E.Load) and e.buf != DOT_RESULT:
                types[e.buf] = MEM[e.dtype]
            elif isinstance(e, E.Check):
                types[e.buf] = I64   # the status buffer
            stack.extend(E.children(e))
        types[-1] = MEM[dtype]
        args = [t.as_pointer() for t in types] + [I64] * 5
        self.fn = ir.Function(module, ir.FunctionType(ir.VoidType(), args), name=name)
        for i, a in enumerate(self.fn.args[:n_pointers]):
            a.name = f"p{i}"
            a.add_attribute("noalias")   # an unused pointer repeats another, but is never read
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.ep, self.dtype, self.out = ep, dtype, n_pointers - 1
        self.vars: dict[E.Var, ir.Value] = {}
        self.memo: dict = {}
        self.check_slots: dict[tuple[int, int], tuple] = {}
        self.sizes = {} if sizes is None else load_sizes(self.b, self.fn.args[sizes], symbols)

    def pointer(self, buf: int, index: ir.Value):
        return super().pointer(self.out if buf == DOT_RESULT else buf, index)

    def emit(self):
        bv, mv, nv = self.ep.vars
        batch, m0, m1, n0, n1 = self.fn.args[-5:]
        self.vars[bv] = batch

        def body():
            self.memo = {}
            index = self.expr(self.ep.index)
            value = self.expr(self.ep.value)
            self.store(self.out, index, value, self.dtype)

        self.loop(mv, m0, m1, lambda: self.loop(nv, n0, n1, body))
        self.finish()


def epilogue_symbols(d: DotKernel) -> frozenset[str]:
    """The size symbols GEMM ``d``'s epilogue function computes with (``expr.Size`` values, a
    row-fused GEMM's rows and columns): it then reads their values through a pointer after the
    buffers' (``render_epilogue``)."""
    found: set[str] = set()
    stack = [e for e in ((d.epilogue.value, d.epilogue.index) if d.epilogue is not None else ()) if e is not None]
    seen: set = set()
    while stack:
        e = stack.pop()
        if e not in seen:
            seen.add(e)
            if isinstance(e, E.Size):
                found |= e.value.symbols
            stack.extend(E.children(e))
    if d.rows is not None:
        found |= kernel_symbols(d.rows)
        for size in (d.m, d.n, d.batch):
            if isinstance(size, Sym):
                found |= size.symbols
    return frozenset(found)


def epilogue_pointers(d: DotKernel) -> tuple[int, ...]:
    """The buffers of ``d`` (positions in ``d.buffers``) passed as the epilogue function's pointers
    ``p0, p1, ...`` (C itself is its ``out``): the elementwise epilogue's (``Epilogue.buffers``,
    in order), then every other buffer the row stages of ``d.rows`` load or store."""
    ptrs = list(d.epilogue.buffers) if d.epilogue is not None else []
    if d.rows is not None:
        used = {st.out for st in d.rows.stages if st.out is not None}
        stack = [e for st in d.rows.stages for e in (st.value, st.index) if e is not None]
        while stack:
            e = stack.pop()
            if isinstance(e, (E.Load, E.Check)):   # a check's buffer: the status buffer
                used.add(e.buf)
            stack.extend(E.children(e))
        ptrs += sorted(used - set(ptrs) - {d.c_buf})
    return tuple(ptrs)


def render_epilogue(d: DotKernel, n_pointers: int, symbols: tuple[str, ...] = ()) -> str:
    """LLVM IR text of a module defining ``EPILOGUE_FUNCTION`` for GEMM ``d``, with ``n_pointers``
    pointer arguments (``epilogue_pointers(d)``, padded, then C) and ``(b, m0, m1, n0, n1)``, which
    ``llvm_gemm`` calls on each finished panel of C: it applies ``d.epilogue`` to the panel (see
    ``EpilogueBuilder``); for a row-fused GEMM (``d.rows``) it then runs the row stages on rows
    ``b*M + m0 .. b*M + m1`` once the panel reaches column N (the GEMM's column blocks are its
    outermost loop, so those rows are final), while they are still in L2.
    Raises ``LuminaCodegenError`` when the buffers do not fit in ``n_pointers - 1``."""
    module = ir.Module(name="lumina_epilogue")
    ptrs = epilogue_pointers(d)
    sized = epilogue_symbols(d)
    d = L.legalize(d, LEGALIZE)
    if len(ptrs) + bool(sized) > n_pointers - 1:
        raise LuminaCodegenError(f"llvm: the epilogue of {d.name} reads {len(ptrs)} buffers besides the "
                                 f"dot result{' and its sizes' if sized else ''}, more than the {n_pointers - 1} "
                                 f"pointers of the CPU's epilogue function (Target.max_epilogue_inputs)")
    sizes = len(ptrs) if sized else None   # the pointer after the buffers': the sizes' table
    if d.rows is None:
        EpilogueBuilder(module, d.epilogue, d.dtype, n_pointers, EPILOGUE_FUNCTION, sizes, symbols).emit()
        return str(module)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I8.as_pointer()] * n_pointers + [I64] * 5),
                     name=EPILOGUE_FUNCTION)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    *pointers, out = fn.args[:n_pointers]
    batch, m0, m1, n0, n1 = fn.args[n_pointers:]
    table = b.bitcast(pointers[sizes], I64.as_pointer()) if sized else None
    values = load_sizes(b, table, symbols) if sized else {}
    if d.epilogue is not None:
        panel = EpilogueBuilder(module, d.epilogue, d.dtype, n_pointers, "lumina_panel", sizes, symbols)
        panel.emit()
        b.call(panel.fn, [b.bitcast(a, t) for a, t in zip(fn.args, panel.fn.function_type.args)])
    rows = RowBuilder(module, replace(d.rows, name="lumina_rows"), symbols)
    rows.emit()
    args = []
    for i, t in enumerate(rows.fn.function_type.args[:len(d.rows.buffers)]):
        src = out if i == d.c_buf else pointers[ptrs.index(i)] if i in ptrs else None
        args.append(b.bitcast(src, t) if src is not None else ir.Constant(t, None))
    if kernel_symbols(d.rows):
        args.append(table)
    base = b.mul(batch, size_value(b, d.m, values))
    with b.if_then(b.icmp_signed("==", n1, size_value(b, d.n, values))):
        b.call(rows.fn, args + [b.add(base, m0), b.add(base, m1)])
    b.ret_void()
    return str(module)

