"""The packed GEMM's register-tiled micro-kernel (``llvm_gemm``): an MR x NR tile of C held in
vector registers, one fused multiply-add per (row, vector) and K step, and the stores that write
the tile back (whole vectors, masked edge vectors, or element by element for a strided C).

Variants: the packed kernel (A and B packed into panels), its edge kernels a few vectors wide for
the last panel of a block, and the direct kernels that read A in place (the skinny paths), one row
to MR rows tall. ``blk`` is the GEMM's ``llvm_gemm.GemmBlocking``.
"""
from __future__ import annotations

from llvmlite import ir

from .llvm_gemm_ir import (ALIGN_BYTES, I1, I64, PTR, define, element_ptr, for_range, i64, imin, intrinsic,
                           lanes_below, masked_load, sizeof, splat, strided)

__all__ = ["emit_micro_kernel"]


def emit_micro_kernel(module: ir.Module, elem: ir.Type, blk, direct: bool = False,
                       height: int | None = None, name: str | None = None, vectors: int | None = None) -> ir.Function:
    """micro(kc, ap, bp, c, sc_m, sc_n, mr, nr, accumulate): C[:mr, :nr] (+)= Ap Bp.

    Ap is an MR x kc panel and Bp a kc x NR panel, both packed.

    The full MR x NR tile is computed in registers (padding rows/cols of the panels are zero);
    only the mr x nr corner that exists is written back. ``accumulate`` is false for the first
    K block (C is overwritten: beta = 0) and true for the next ones.

    ``direct``: ``micro_kernel_direct(kc, ap, bp, c, sc_m, sc_n, mr, nr, accumulate, a_sm, a_sk,
    b_sk)`` reads A in place (element (i, k) at ``ap[i*a_sm + k*a_sk]``, rows past ``mr`` read row
    ``mr - 1``) and B's rows ``b_sk`` elements apart, unaligned (a full NR-wide panel of a
    row-major B, or a packed one with ``b_sk = NR``): the skinny path, where packing would cost
    more than the FMAs it feeds. ``height`` (direct only, default MR) makes the tile that many
    rows tall (``micro_kernel_direct_<height>``), so one or two rows do not pay for six.
    ``vectors`` (packed only, default NR / lanes) computes only the first that many vectors of
    each row of the NR-wide panel (``micro_kernel_w<vectors>``): an edge tile 16 columns wide then
    does a quarter of a full 64-wide tile's FMAs instead of all of them.
    """
    height = height or blk.mr
    params = [("kc", I64), ("ap", PTR), ("bp", PTR), ("c", PTR), ("sc_m", I64), ("sc_n", I64),
              ("mr", I64), ("nr", I64), ("accumulate", I1)]
    if direct:
        params += [("a_sm", I64), ("a_sk", I64), ("b_sk", I64)]
    vecs_per_row = vectors or blk.nr // blk.lanes
    name = name or (f"micro_kernel_direct_{height}" if direct else
                    "micro_kernel" if vecs_per_row == blk.nr // blk.lanes else f"micro_kernel_w{vecs_per_row}")
    fn, b, args = define(module, name, ir.VoidType(), params)
    for pname in ("ap", "bp", "c"):
        args[pname].add_attribute("noalias")
    vec = ir.VectorType(elem, blk.lanes)
    itemsize = sizeof(elem)
    vec_align = itemsize if direct else min(ALIGN_BYTES, blk.lanes * itemsize)
    if direct:   # row i of the tile reads A's row min(i, mr - 1), which exists
        last = b.sub(args["mr"], i64(1))
        a_rows = [element_ptr(b, elem, args["ap"], strided(b, imin(b, i64(i), last), args["a_sm"]))
                  for i in range(height)]
        b_stride, a_stride = args["b_sk"], args["a_sk"]
    else:
        a_rows = [element_ptr(b, elem, args["ap"], i64(i)) for i in range(blk.mr)]
        b_stride, a_stride = i64(blk.nr), i64(blk.mr)

    # Accumulators as stack slots: SROA promotes them to registers; the loop below then holds
    # MR * NR / lanes vector phis.
    acc = [[b.alloca(vec, name=f"acc{i}_{v}") for v in range(vecs_per_row)] for i in range(height)]
    for row in acc:
        for slot in row:
            b.store(ir.Constant(vec, None), slot)

    fma = _vector_fma(module, vec)
    with for_range(b, 0, args["kc"], name="k") as k:
        b_row = element_ptr(b, elem, args["bp"], b.mul(k, b_stride))
        b_vecs = [b.load(element_ptr(b, elem, b_row, i64(v * blk.lanes)), typ=vec, align=vec_align)
                  for v in range(vecs_per_row)]
        a_off = b.mul(k, a_stride)
        for i in range(height):
            a_splat = splat(b, b.load(element_ptr(b, elem, a_rows[i], a_off), typ=elem), blk.lanes)
            for v in range(vecs_per_row):
                b.store(b.call(fma, [a_splat, b_vecs[v], b.load(acc[i][v], typ=vec)]), acc[i][v])

    full_tile = b.and_(b.icmp_signed("==", args["mr"], i64(height)),
                       b.icmp_signed("==", args["nr"], i64(blk.nr)))
    contiguous_rows = b.icmp_signed("==", args["sc_n"], i64(1))
    with b.if_else(b.and_(full_tile, contiguous_rows), likely=True) as (fast, general):
        with fast:
            _store_tile_vectors(b, elem, vec, acc, args)
        with general:
            with b.if_else(contiguous_rows) as (edge, strided_c):
                with edge:
                    _store_tile_masked(b, elem, vec, acc, args)
                with strided_c:
                    _store_tile_scalars(b, elem, vec, blk, acc, args)
    b.ret_void()
    return fn


def _vector_fma(module: ir.Module, vec: ir.VectorType) -> ir.Function:
    return intrinsic(module, f"llvm.fmuladd.v{vec.count}f{sizeof(vec.element) * 8}", vec, [vec, vec, vec])


def _store_tile_vectors(b, elem, vec, acc, args) -> None:
    """Full tile, unit column stride: one (unaligned) vector store per accumulator.

    The first K block overwrites C without reading it; later blocks add to it.
    """
    with b.if_else(args["accumulate"]) as (accumulate, overwrite):
        with accumulate:
            _store_tile_rows(b, elem, vec, acc, args, add_to_c=True)
        with overwrite:
            _store_tile_rows(b, elem, vec, acc, args, add_to_c=False)


def _store_tile_rows(b, elem, vec, acc, args, add_to_c: bool) -> None:
    lanes = vec.count
    for i, row in enumerate(acc):
        c_row = element_ptr(b, elem, args["c"], strided(b, i64(i), args["sc_m"]))
        for v, slot in enumerate(row):
            dst = element_ptr(b, elem, c_row, i64(v * lanes))
            value = b.load(slot, typ=vec)
            if add_to_c:
                value = b.fadd(value, b.load(dst, typ=vec, align=sizeof(elem)))
            b.store(value, dst, align=sizeof(elem))


def _store_tile_masked(b, elem, vec, acc, args) -> None:
    """Edge tile, unit column stride: the ``mr`` rows that exist, each with masked vector stores
    of its ``nr`` columns (added to C's after the first K block)."""
    lanes = vec.count
    store = intrinsic(b.module, f"llvm.masked.store.v{lanes}f{sizeof(elem) * 8}.p0", ir.VoidType(),
                      [vec, PTR, ir.IntType(32), ir.VectorType(I1, lanes)])
    load = masked_load(b.module, elem, lanes)
    align = ir.Constant(ir.IntType(32), sizeof(elem))
    masks = [lanes_below(b, v * lanes, lanes, args["nr"]) for v in range(len(acc[0]))]
    for i, row in enumerate(acc):
        with b.if_then(b.icmp_signed("<", i64(i), args["mr"])):
            c_row = element_ptr(b, elem, args["c"], strided(b, i64(i), args["sc_m"]))
            for v, (slot, mask) in enumerate(zip(row, masks)):
                dst = element_ptr(b, elem, c_row, i64(v * lanes))
                value = b.load(slot, typ=vec)
                old = b.call(load, [dst, align, mask, ir.Constant(vec, None)])
                value = b.select(args["accumulate"], b.fadd(value, old), value)
                b.call(store, [value, dst, align, mask])


def _store_tile_scalars(b, elem, vec, blk, acc, args) -> None:
    """Strided C: spill the tile to the stack, then store its mr x nr corner."""
    lanes = vec.count
    tile = b.alloca(vec, size=len(acc) * blk.nr // lanes, name="tile")
    for i, row in enumerate(acc):
        for v, slot in enumerate(row):
            dst = element_ptr(b, elem, tile, i64(i * blk.nr + v * lanes))
            b.store(b.load(slot, typ=vec), dst)
    with for_range(b, 0, args["mr"], name="ti") as i:
        c_row = element_ptr(b, elem, args["c"], strided(b, i, args["sc_m"]))
        with for_range(b, 0, args["nr"], name="tj") as j:
            value = b.load(element_ptr(b, elem, tile, b.add(b.mul(i, i64(blk.nr)), j)), typ=elem)
            dst = element_ptr(b, elem, c_row, strided(b, j, args["sc_n"]))
            old = b.load(dst, typ=elem)
            b.store(b.select(args["accumulate"], b.fadd(value, old), value), dst)
