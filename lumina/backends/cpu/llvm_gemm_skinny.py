"""The dot-product micro-kernel of the skinny GEMM path: a few rows of A against a B whose columns
are contiguous (``sb_k == 1``: a transposed weight, ``x @ W.T`` as ``nn.Linear`` computes it).

    dot_tile_<tm>x<tn>(K, a, sa_m, b, sb_n, c, sc_m, sc_n, mr, nr)
        C[i*sc_m + j*sc_n] = sum_{k<K} a[i*sa_m + k] * b[j*sb_n + k]     for i < mr, j < nr

with ``mr <= tm`` and ``nr <= tn``. A and B are read in place along K (unit stride), so nothing is
packed: for one or two rows the packed GEMM would copy all of B (the weights) to use each element
once or twice. Each of the ``tm x tn`` outputs accumulates in its own vector register over K
(``lanes`` products at a time, the K tail with masked loads), and is reduced across lanes at the
end (a tree of halving adds). Rows past ``mr`` and columns past ``nr`` recompute the last real one
(their loads stay in bounds) and are not stored.

``llvm_gemm`` calls it from its entry when a call's row range is at most the register tile's
height and B is column-contiguous (``dot_tiles`` gives the tiles for an ISA's register count).
"""
from __future__ import annotations

from llvmlite import ir

from .llvm_gemm_ir import I64, PTR, define, element_ptr, for_range, i64, imin, intrinsic, sizeof, splat, strided

__all__ = ["dot_tiles", "emit_dot_tile"]


def dot_tiles(vector_registers: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((1, tn), (tm, tn)): the tile for one row (enough independent accumulators to hide the
    FMA latency, each B load folded into its FMA) and the tile for several rows (B loads shared
    by the rows), for a register file of ``vector_registers`` (16 or 32)."""
    return ((1, 16), (4, 4)) if vector_registers >= 32 else ((1, 8), (2, 4))


def emit_dot_tile(module: ir.Module, elem: ir.Type, lanes: int, tm: int, tn: int) -> ir.Function:
    """Define ``dot_tile_<tm>x<tn>`` (see the module docstring) in ``module``; return it."""
    fn, b, args = define(module, f"dot_tile_{tm}x{tn}", ir.VoidType(), [
        ("K", I64), ("a", PTR), ("sa_m", I64), ("b", PTR), ("sb_n", I64), ("c", PTR), ("sc_m", I64),
        ("sc_n", I64), ("mr", I64), ("nr", I64)])
    for pname in ("a", "b", "c"):
        args[pname].add_attribute("noalias")
    vec = ir.VectorType(elem, lanes)
    align = sizeof(elem)
    a_rows = [element_ptr(b, elem, args["a"], strided(b, imin(b, i64(i), b.sub(args["mr"], i64(1))), args["sa_m"]))
              for i in range(tm)]
    b_cols = [element_ptr(b, elem, args["b"], strided(b, imin(b, i64(j), b.sub(args["nr"], i64(1))), args["sb_n"]))
              for j in range(tn)]
    acc = [[b.alloca(vec, name=f"acc{i}_{j}") for j in range(tn)] for i in range(tm)]
    for row in acc:
        for slot in row:
            b.store(ir.Constant(vec, None), slot)
    fma = intrinsic(module, f"llvm.fmuladd.v{lanes}{_suffix(elem)}", vec, [vec, vec, vec])

    def accumulate(load):
        xs = [load(p) for p in a_rows]
        ws = [load(p) for p in b_cols]
        for i in range(tm):
            for j in range(tn):
                b.store(b.call(fma, [xs[i], ws[j], b.load(acc[i][j], typ=vec)]), acc[i][j])

    k_vec = b.sub(args["K"], b.srem(args["K"], i64(lanes)), name="k_vec")
    with for_range(b, 0, k_vec, lanes, name="k") as k:
        accumulate(lambda base: b.load(element_ptr(b, elem, base, k), typ=vec, align=align))
    with b.if_then(b.icmp_signed("<", k_vec, args["K"])):   # the K tail: lanes past K load zeros
        masked = intrinsic(module, f"llvm.masked.load.v{lanes}{_suffix(elem)}.p0", vec,
                            [PTR, ir.IntType(32), ir.VectorType(ir.IntType(1), lanes), vec])
        lane = ir.Constant(ir.VectorType(I64, lanes), list(range(lanes)))
        mask = b.icmp_signed("<", b.add(lane, splat(b, k_vec, lanes)), splat(b, args["K"], lanes))
        zero = ir.Constant(vec, None)
        accumulate(lambda base: b.call(masked, [element_ptr(b, elem, base, k_vec), ir.Constant(ir.IntType(32), align),
                                                mask, zero]))
    for i in range(tm):
        c_row = element_ptr(b, elem, args["c"], strided(b, i64(i), args["sc_m"]))
        for j in range(tn):
            total = _reduce_add(b, b.load(acc[i][j], typ=vec))
            inside = b.and_(b.icmp_signed("<", i64(i), args["mr"]), b.icmp_signed("<", i64(j), args["nr"]))
            with b.if_then(inside):
                b.store(total, element_ptr(b, elem, c_row, strided(b, i64(j), args["sc_n"])))
    b.ret_void()
    return fn


def _reduce_add(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """The sum of ``v``'s lanes, by halving: log2(lanes) vector adds."""
    n = v.type.count
    while n > 1:
        half = n // 2
        undef = ir.Constant(v.type, ir.Undefined)
        lo = b.shuffle_vector(v, undef, ir.Constant(ir.VectorType(ir.IntType(32), half), list(range(half))))
        hi = b.shuffle_vector(v, undef, ir.Constant(ir.VectorType(ir.IntType(32), half), list(range(half, n))))
        v, n = b.fadd(lo, hi), half
    return b.extract_element(v, ir.Constant(ir.IntType(32), 0))


def _suffix(elem: ir.Type) -> str:
    return f"f{sizeof(elem) * 8}"
