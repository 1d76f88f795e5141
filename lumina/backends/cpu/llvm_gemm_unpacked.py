"""The GEMM paths that skip packing one operand, called from ``llvm_gemm``'s entry:

* skinny (a row range at most ``SKINNY_GROUPS`` register tiles tall: a batch-1 layer, a thread's
  share of a skinny GEMM): B is read in place, along its rows by the direct micro-kernel
  (``micro_kernel_direct_<h>``, 1, MR / 2 or MR rows tall) when they are contiguous, along K by the
  dot tiles (``llvm_gemm_skinny``) when its columns are;
* narrow (at most ``NARROW_PANELS`` register tiles wide: a convolution's N*H*W rows by its few
  output channels, or its weight gradient): all of B is packed once, and the direct micro-kernel
  reads A in place, row-major or transposed.

Each takes the entry's arguments ``a`` (by name, as ``llvm_gemm._GEMM_PARAMS``), the blocking
``blk`` (``llvm_gemm.GemmBlocking``), the functions of the module ``kernels``
(``llvm_gemm.GemmKernels``) and the epilogue call ``finish`` (None without one).
"""
from __future__ import annotations

from llvmlite import ir

from .llvm_gemm_gemv import emit_gemv_body
from .llvm_gemm_ir import I64, batches, element_ptr, for_range, i64, imin, k_blocks, strided

__all__ = ["NARROW_PANELS", "SKINNY_GROUPS", "DOT_CHUNK", "call_by_height", "emit_direct_body", "emit_dot_body",
           "emit_narrow_body", "narrow"]


def emit_direct_body(b, elem, blk, kernels, a, a_pack, b_pack, finish) -> None:
    """Rows [m_start, m_end) of a row-major B, MR rows at a time: each NR-wide panel of B is read in
    place (only the last, narrower one is packed, so no load passes N), once per group of rows.
    A call of one row (a batch-1 layer: a GEMV) streams B's rows whole instead
    (``llvm_gemm_gemv``, its scratch row in ``a_pack``), with the same results."""
    rows = b.sub(a["m_end"], a["m_start"])
    with b.if_else(b.icmp_signed("==", rows, i64(1))) as (one, several):
        with one:
            emit_gemv_body(b, elem, blk, kernels.gemv, a, a_pack, finish)
        with several:
            _emit_direct_groups(b, elem, blk, kernels, a, b_pack, finish)


def _emit_direct_groups(b, elem, blk, kernels, a, b_pack, finish) -> None:
    k_stop, kc_step = k_blocks(b, a["K"], blk.kc)
    for bi, a_batch, b_batch, c_batch in batches(b, elem, a):
        with for_range(b, a["m_start"], a["m_end"], blk.mr, name="mg") as m0:
            rows = imin(b, i64(blk.mr), b.sub(a["m_end"], m0), name="group")
            a_rows = element_ptr(b, elem, a_batch, strided(b, m0, a["sa_m"]))
            c_rows = element_ptr(b, elem, c_batch, strided(b, m0, a["sc_m"]))
            with for_range(b, 0, k_stop, kc_step, name="pc") as pc:
                kc = imin(b, kc_step, b.sub(a["K"], pc), name="kc")
                accumulate = b.icmp_signed(">", pc, i64(0), name="accumulate")
                a_block = element_ptr(b, elem, a_rows, strided(b, pc, a["sa_k"]))
                b_block = element_ptr(b, elem, b_batch, strided(b, pc, a["sb_k"]))
                with for_range(b, a["n_start"], a["n_end"], blk.nr, name="jr") as jr:
                    nr = imin(b, i64(blk.nr), b.sub(a["n_end"], jr), name="nr")
                    b_panel = element_ptr(b, elem, b_block, jr)
                    full = b.icmp_signed("==", nr, i64(blk.nr))
                    with b.if_then(b.not_(full)):
                        b.call(kernels.pack_b, [b_pack, b_panel, a["sb_k"], a["sb_n"], kc, nr])
                    panel = b.select(full, b_panel, b_pack)
                    b_sk = b.select(full, a["sb_k"], i64(blk.nr))
                    c_tile = element_ptr(b, elem, c_rows, strided(b, jr, a["sc_n"]))
                    args = [kc, a_block, panel, c_tile, a["sc_m"], a["sc_n"], rows, nr, accumulate,
                            a["sa_m"], a["sa_k"], b_sk]
                    call_by_height(b, kernels.direct, rows, args)
                    if finish:
                        with b.if_then(b.icmp_signed(">=", b.add(pc, kc_step), k_stop)):
                            finish(bi, m0, b.add(m0, rows), jr, b.add(jr, nr))


NARROW_PANELS = 2
"""A GEMM at most this many register tiles wide (and tall: a convolution's N*H*W rows by its
output channels) takes the narrow path: each packed A block would feed only this many micro-kernel
calls, so packing it costs as much as the FMAs; A is read in place instead. Measured (f32, one
thread, Zen 5, 6 x 64 tile), packed -> in place: 25088 x 32 x 288 (a 3x3 convolution's rows by its
32 channels) 38 -> 123 GFLOP/s, 25088 x 128 x 32 194 -> 243, 6272 x 64 x 576 151 -> 261."""


def narrow(b, blk, a) -> ir.Value:
    """Whether the narrow path takes this call: at most NARROW_PANELS panels of columns, A's rows
    or columns contiguous (its MR-row groups then read one stream per row, or one run per k), and
    all of B (K x the columns, padded to panels) fits the B block of the workspace."""
    cols = b.sub(a["n_end"], a["n_start"])
    panels = b.sdiv(b.add(cols, i64(blk.nr - 1)), i64(blk.nr))
    fits = b.icmp_signed("<=", b.mul(a["K"], panels), i64(blk.kc * (blk.nc // blk.nr)))
    few = b.icmp_signed("<=", panels, i64(NARROW_PANELS))
    contiguous = b.or_(b.icmp_signed("==", a["sa_k"], i64(1)), b.icmp_signed("==", a["sa_m"], i64(1)))
    return b.and_(b.and_(few, fits), contiguous, name="narrow")


def emit_narrow_body(b, elem, blk, kernels, a, b_pack, finish) -> None:
    """Rows [m_start, m_end) of a GEMM a few panels wide: all of B packed once (K block after K
    block, each NR-wide panel KC x NR), then MR rows at a time the direct micro-kernel reads A in
    place, K block by K block, panel by panel; the epilogue runs on MC rows at a time. A B packed
    ahead of the call (``b_packed``, columns from 0: ``llvm_gemm_prepack``'s layout is this one)
    is read where it is."""
    k_stop, kc_step = k_blocks(b, a["K"], blk.kc)
    cols = b.sub(a["n_end"], a["n_start"], name="cols")
    padded = b.mul(b.sdiv(b.add(cols, i64(blk.nr - 1)), i64(blk.nr)), i64(blk.nr), name="padded")
    prepacked = b.icmp_unsigned("!=", b.ptrtoint(a["b_packed"], I64), i64(0), name="prepacked")
    b_pack = b.select(prepacked, a["b_packed"], b_pack)
    for bi, a_batch, b_batch, c_batch in batches(b, elem, a):
        b_cols = element_ptr(b, elem, b_batch, strided(b, a["n_start"], a["sb_n"]))
        with b.if_then(b.not_(prepacked)):
            with for_range(b, 0, k_stop, kc_step, name="pk") as pc:
                kc = imin(b, kc_step, b.sub(a["K"], pc), name="kc")
                b.call(kernels.pack_b, [element_ptr(b, elem, b_pack, b.mul(pc, padded)),
                                        element_ptr(b, elem, b_cols, strided(b, pc, a["sb_k"])),
                                        a["sb_k"], a["sb_n"], kc, cols])
        c_cols = element_ptr(b, elem, c_batch, strided(b, a["n_start"], a["sc_n"]))
        with for_range(b, a["m_start"], a["m_end"], blk.mc, name="ic") as ic:
            ic_end = b.add(ic, imin(b, i64(blk.mc), b.sub(a["m_end"], ic)), name="ic_end")
            with for_range(b, ic, ic_end, blk.mr, name="mg") as m0:
                rows = imin(b, i64(blk.mr), b.sub(ic_end, m0), name="group")
                a_rows = element_ptr(b, elem, a_batch, strided(b, m0, a["sa_m"]))
                c_rows = element_ptr(b, elem, c_cols, strided(b, m0, a["sc_m"]))
                with for_range(b, 0, k_stop, kc_step, name="pc") as pc:
                    kc = imin(b, kc_step, b.sub(a["K"], pc), name="kc")
                    accumulate = b.icmp_signed(">", pc, i64(0), name="accumulate")
                    a_block = element_ptr(b, elem, a_rows, strided(b, pc, a["sa_k"]))
                    block = element_ptr(b, elem, b_pack, b.mul(pc, padded))
                    with for_range(b, 0, cols, blk.nr, name="jr") as jr:
                        nr = imin(b, i64(blk.nr), b.sub(cols, jr), name="nr")
                        args = [kc, a_block, element_ptr(b, elem, block, b.mul(jr, kc)),
                                element_ptr(b, elem, c_rows, strided(b, jr, a["sc_n"])), a["sc_m"], a["sc_n"],
                                rows, nr, accumulate, a["sa_m"], a["sa_k"], i64(blk.nr)]
                        call_by_height(b, kernels.direct, rows, args)
            if finish:
                finish(bi, ic, ic_end, a["n_start"], a["n_end"])


SKINNY_GROUPS = 2
"""A row range of at most this many register tiles' heights takes the skinny paths, which read B
once per tile height of rows: measured (M x 1024 x 1024 f32, one thread, Zen 5), two passes over
an unpacked B still beat packing it (M = 8: 130 against 200 us), three no longer do."""


def call_by_height(b, variants: dict, rows, args) -> None:
    """Call the variant of the shortest tile at least ``rows`` tall (``rows`` <= the tallest)."""
    (h, *taller) = sorted(variants)
    if not taller:
        b.call(variants[h], args)
        return
    with b.if_else(b.icmp_signed("<=", rows, i64(h))) as (fits, otherwise):
        with fits:
            b.call(variants[h], args)
        with otherwise:
            call_by_height(b, {t: variants[t] for t in taller}, rows, args)


DOT_CHUNK = 64
"""Columns the dot path computes between two epilogue calls."""


def emit_dot_body(b, elem, kernels, a, rows, finish) -> None:
    """Rows [m_start, m_end) (one register tile) of a column-contiguous B, by dot tiles: one row
    with the one-row tile, more with the taller one."""
    (one, wide), (many, tall) = kernels.dot_shapes
    one_row = b.icmp_signed("==", rows, i64(1))
    tile_m = b.select(one_row, i64(one), i64(many))
    tile_n = b.select(one_row, i64(wide), i64(tall))
    for bi, a_batch, b_batch, c_batch in batches(b, elem, a):
        with for_range(b, a["n_start"], a["n_end"], DOT_CHUNK, name="nd") as n0:
            n1 = imin(b, b.add(n0, i64(DOT_CHUNK)), a["n_end"])
            with for_range(b, a["m_start"], a["m_end"], tile_m, name="md") as m0:
                mr = imin(b, tile_m, b.sub(a["m_end"], m0))
                a_rows = element_ptr(b, elem, a_batch, strided(b, m0, a["sa_m"]))
                with for_range(b, n0, n1, tile_n, name="jd") as j:
                    nr = imin(b, tile_n, b.sub(n1, j))
                    args = [a["K"], a_rows, a["sa_m"], element_ptr(b, elem, b_batch, strided(b, j, a["sb_n"])),
                            a["sb_n"], element_ptr(b, elem, c_batch, strided(b, m0, a["sc_m"]), strided(b, j, a["sc_n"])),
                            a["sc_m"], a["sc_n"], mr, nr]
                    with b.if_else(one_row) as (single, several):
                        with single:
                            b.call(kernels.dots[0], args)
                        with several:
                            b.call(kernels.dots[1], args)
            if finish:
                finish(bi, a["m_start"], a["m_end"], n0, n1)
