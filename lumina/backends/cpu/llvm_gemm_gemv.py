"""The one-row GEMM (a GEMV: a batch-1 layer) over a row-major B, called from ``llvm_gemm``'s
skinny path: ``c[n] = sum_k a[k] * B[k, n]`` for the columns ``[n_start, n_end)`` of one row.

B is read as the memory holds it: ``ROWS`` rows at a time, each along the whole of a chunk of up to
``CHUNK`` columns, so each thread streams long runs of B's rows (a hardware prefetcher follows a
run within a page; a register tile 256 columns wide over 512 rows read only 1 KiB of each 4 KiB row
at a time). The sums of a K block build up in a scratch row in L1 (``gemv_rows``), one fused
multiply-add per element and k in k order from zero, then go to C (added after the first K block):
the same operations in the same order as the register tiles', so a row's result is bit for bit the
one it gets inside a taller call. Measured on an Intel Xeon (AVX-512, one thread, f32), register
stripes -> rows: 1 x 1024 x 1024 25 -> 30 GB/s, 1 x 4096 x 4096 22 -> 27 GB/s (a C model of both).
"""
from __future__ import annotations

from llvmlite import ir

from .llvm_gemm_ir import (I64, PTR, batches, define, element_ptr, for_range, i64, imin, intrinsic, k_blocks,
                           lanes_below, masked_load, sizeof, splat, strided)

__all__ = ["CHUNK", "ROWS", "emit_gemv_kernel", "emit_gemv_body"]

ROWS = 4
"""Rows of B one pass over a chunk's scratch row reads (four streams, one load and store of the
scratch vector per four multiply-adds)."""

CHUNK = 2048
"""Columns of a chunk: its scratch row (8 KiB of f32) stays in L1 beside the streamed rows."""


def emit_gemv_kernel(module: ir.Module, elem: ir.Type, lanes: int) -> ir.Function:
    """``gemv_rows(kc, a, sa_k, b, sb_k, acc, cols)``: ``acc[j] += sum_{k < kc} a[k*sa_k] *
    b[k*sb_k + j]`` for ``j < cols``, one fused multiply-add per k in k order; ``ROWS`` rows of
    ``b`` per pass over ``acc``, whole vectors then one masked vector for the last columns."""
    fn, b, args = define(module, "gemv_rows", ir.VoidType(), [
        ("kc", I64), ("a", PTR), ("sa_k", I64), ("b", PTR), ("sb_k", I64), ("acc", PTR), ("cols", I64)])
    for name in ("a", "b", "acc"):
        args[name].add_attribute("noalias")
    vec = ir.VectorType(elem, lanes)
    fma = intrinsic(module, f"llvm.fmuladd.v{lanes}f{sizeof(elem) * 8}", vec, [vec, vec, vec])
    store = intrinsic(module, f"llvm.masked.store.v{lanes}f{sizeof(elem) * 8}.p0", ir.VoidType(),
                      [vec, PTR, ir.IntType(32), ir.VectorType(ir.IntType(1), lanes)])
    load = masked_load(module, elem, lanes)
    align = ir.Constant(ir.IntType(32), sizeof(elem))
    full = b.mul(b.sdiv(args["cols"], i64(lanes)), i64(lanes), name="full")
    tail = b.sub(args["cols"], full, name="tail")
    mask = lanes_below(b, 0, lanes, tail)

    def rows(k0, count: int) -> None:
        scalars = [splat(b, b.load(element_ptr(b, elem, args["a"], strided(b, b.add(k0, i64(r)), args["sa_k"])),
                                   typ=elem), lanes) for r in range(count)]
        b_rows = [element_ptr(b, elem, args["b"], strided(b, b.add(k0, i64(r)), args["sb_k"])) for r in range(count)]

        def update(j, read, write) -> None:
            x = read(element_ptr(b, elem, args["acc"], j))
            for s, row in zip(scalars, b_rows):
                x = b.call(fma, [s, read(element_ptr(b, elem, row, j)), x])
            write(x, element_ptr(b, elem, args["acc"], j))

        with for_range(b, 0, full, lanes, name="j") as j:
            update(j, lambda p: b.load(p, typ=vec, align=sizeof(elem)),
                   lambda x, p: b.store(x, p, align=sizeof(elem)))
        with b.if_then(b.icmp_signed(">", tail, i64(0))):
            update(full, lambda p: b.call(load, [p, align, mask, ir.Constant(vec, None)]),
                   lambda x, p: b.call(store, [x, p, align, mask]))

    groups = b.mul(b.sdiv(args["kc"], i64(ROWS)), i64(ROWS), name="groups")
    with for_range(b, 0, groups, ROWS, name="kg") as k0:
        rows(k0, ROWS)
    with for_range(b, groups, args["kc"], name="kr") as k0:
        rows(k0, 1)
    b.ret_void()
    return fn


def emit_gemv_body(b, elem, blk, kernel: ir.Function, a, scratch, finish) -> None:
    """Row ``m_start`` (the call's only one) of C over columns ``[n_start, n_end)``, for a B with
    contiguous rows: chunk by chunk of ``CHUNK`` columns, K block by K block (``blk.kc`` deep,
    as the register tiles take them) into ``scratch`` (``CHUNK`` elements), then into C; the
    epilogue runs on each chunk after its last K block."""
    k_stop, kc_step = k_blocks(b, a["K"], blk.kc)
    zero = ir.Constant(elem, 0)
    for bi, a_batch, b_batch, c_batch in batches(b, elem, a):
        m0 = a["m_start"]
        a_row = element_ptr(b, elem, a_batch, strided(b, m0, a["sa_m"]))
        c_row = element_ptr(b, elem, c_batch, strided(b, m0, a["sc_m"]))
        with for_range(b, a["n_start"], a["n_end"], CHUNK, name="jg") as j0:
            cols = imin(b, i64(CHUNK), b.sub(a["n_end"], j0), name="cols")
            c_chunk = element_ptr(b, elem, c_row, strided(b, j0, a["sc_n"]))
            with for_range(b, 0, k_stop, kc_step, name="pc") as pc:
                kc = imin(b, kc_step, b.sub(a["K"], pc), name="kc")
                with for_range(b, 0, cols, name="z") as j:
                    b.store(zero, element_ptr(b, elem, scratch, j))
                b.call(kernel, [kc, element_ptr(b, elem, a_row, strided(b, pc, a["sa_k"])), a["sa_k"],
                                element_ptr(b, elem, b_batch, strided(b, pc, a["sb_k"]), j0), a["sb_k"],
                                scratch, cols])
                accumulate = b.icmp_signed(">", pc, i64(0))
                with for_range(b, 0, cols, name="cj") as j:
                    dst = element_ptr(b, elem, c_chunk, strided(b, j, a["sc_n"]))
                    value = b.load(element_ptr(b, elem, scratch, j), typ=elem)
                    b.store(b.select(accumulate, b.fadd(b.load(dst, typ=elem), value), value), dst)
                if finish:
                    with b.if_then(b.icmp_signed(">=", b.add(pc, kc_step), k_stop)):
                        finish(bi, m0, b.add(m0, i64(1)), j0, b.add(j0, cols))
