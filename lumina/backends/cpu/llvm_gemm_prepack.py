"""B packed ahead of the call: the whole matrix in the packed GEMM's panel layout, made once per
array, for a B that does not change between calls (an ONNX model's weights).

Every call of the packed GEMM otherwise copies each KC x NC block of B into NR-wide panels before
its micro-kernels read it; with a few hundred rows of A that copy is a fifth of the call (a
128 x 384 x 1536 layer), and when threads split the rows each copies all of B. ONNX Runtime
prepacks constant weights the same way (MLAS's ``MlasGemmPackB``).

``lumina_pack_b_<dtype>(T* dst, T* B, i64 K, i64 N, i64 sb_k, i64 sb_n)`` writes, for every
column block ``jc`` (multiples of NC) and K block ``pc`` (``k_blocks``: the GEMM's own depths),
what ``pack_b`` would write for that block, at element

    K * jc + pc * round_up(min(NC, N - jc), NR)

(the blocks before ``jc`` are all NC wide, NC is a multiple of NR). The GEMM's packed body reads
the block there instead of packing it when its ``b_packed`` argument is not null (64-byte aligned,
as the GEMM's own packing buffer is: ``pack_b`` stores whole aligned vectors); its column range
must then start at 0 (threads split rows or batch entries, never columns), and B must be the same
for every batch entry. ``prepacked_elems(K, N, blocking)`` is the size of ``dst``.
"""
from __future__ import annotations

from llvmlite import ir

from .llvm_gemm_ir import I64, PTR, define, element_ptr, for_range, i64, imin, k_blocks, strided

__all__ = ["pack_function_name", "prepacked_elems", "emit_pack_all", "prepacked_block"]


def pack_function_name(dtype: str) -> str:
    """Symbol of the whole-B packing function for ``dtype``, e.g. ``lumina_pack_b_float32``."""
    return f"lumina_pack_b_{dtype}"


def prepacked_elems(k: int, n: int, blocking) -> int:
    """Elements of the packed copy of a ``k x n`` B for ``blocking`` (K rows of every NR-wide
    panel, the last panel zero-padded)."""
    return max(1, k) * (-(-n // blocking.nr) * blocking.nr)


def _padded(b: ir.IRBuilder, nc, nr: int):
    return b.mul(b.sdiv(b.add(nc, i64(nr - 1)), i64(nr)), i64(nr))


def prepacked_block(b: ir.IRBuilder, elem: ir.Type, packed, K, jc, pc, nc, nr: int):
    """Pointer to block (``jc``, ``pc``) of a prepacked B at ``packed`` (see the module docstring)."""
    return element_ptr(b, elem, packed, b.add(b.mul(K, jc), b.mul(pc, _padded(b, nc, nr))), name="b_block")


def emit_pack_all(module: ir.Module, dtype: str, elem: ir.Type, blk, pack_b: ir.Function) -> None:
    """Define ``pack_function_name(dtype)``: every block of B through ``pack_b`` (the GEMM's own),
    at its ``prepacked_block`` place."""
    fn, b, a = define(module, pack_function_name(dtype), ir.VoidType(),
                      [("dst", PTR), ("B", PTR), ("K", I64), ("N", I64), ("sb_k", I64), ("sb_n", I64)],
                      internal=False)
    k_stop, kc_step = k_blocks(b, a["K"], blk.kc)
    with for_range(b, 0, a["N"], blk.nc, name="jc") as jc:
        nc = imin(b, i64(blk.nc), b.sub(a["N"], jc), name="nc")
        with for_range(b, 0, k_stop, kc_step, name="pc") as pc:
            kc = imin(b, kc_step, b.sub(a["K"], pc), name="kc")
            src = element_ptr(b, elem, a["B"], strided(b, pc, a["sb_k"]), strided(b, jc, a["sb_n"]))
            dst = prepacked_block(b, elem, a["dst"], a["K"], jc, pc, nc, blk.nr)
            b.call(pack_b, [dst, src, a["sb_k"], a["sb_n"], kc, nc])
    b.ret_void()
