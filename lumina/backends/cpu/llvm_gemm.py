"""A packed, cache-blocked GEMM for the CPU, emitted as LLVM IR text.

The generated function (C view, all strides in elements, all non-negative)::

    void lumina_gemm_<dtype>(T* noalias C, T* noalias A, T* noalias B,
                             i64 batch, i64 M, i64 N, i64 K,
                             i64 sa_b, i64 sa_m, i64 sa_k,
                             i64 sb_b, i64 sb_k, i64 sb_n,
                             i64 sc_b, i64 sc_m, i64 sc_n,
                             i64 m_start, i64 m_end, i64 n_start, i64 n_end,
                             T* noalias workspace, T* b_packed)

computes, for b < batch, m_start <= m < m_end, n_start <= n < n_end (beta = 0: C is overwritten,
K == 0 writes 0):

    C[b*sc_b + m*sc_m + n*sc_n] =
        sum_{k<K} A[b*sa_b + m*sa_m + k*sa_k] * B[b*sb_b + k*sb_k + n*sb_n]

``lumina_gemm_epi_<dtype>`` (floating point only) takes the same arguments and then
``i64 epilogue, i64 batch0, T* e0, ..., T* e{EPILOGUE_POINTERS-2}, T* out``: after the last K block of
each MC x NC panel of C (still in L2) it calls the function at address ``epilogue`` as
``epilogue(e0, ..., out, batch0 + b, m_lo, m_hi, n_lo, n_hi)``, which rewrites that panel of ``out``
in place (``backends.cpu.llvm.render_epilogue``: bias, activation, residual, per-channel scale).
``batch0`` is the batch index of this call's first entry in ``out``, for callers that hand each
thread a slice of the batch.

It writes only rows [m_start, m_end) and columns [n_start, n_end) of C, so a caller parallelizes by
giving each thread its own row range (or, for a few rows, its own column range, best in multiples
of the register tile's NR) and its own workspace of ``gemm_workspace_elems(dtype)`` elements (any
alignment). ``b_packed`` is null, or B packed ahead of the call (``llvm_gemm_prepack``).

Floating point follows BLIS / GotoBLAS (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly
Instantiating BLAS Functionality", TOMS 2015; Goto & van de Geijn, TOMS 2008):

    for jc in N by NC:                      B block  KC x NC   lives in L3
      for pc in K by KC:   pack B[pc:, jc:] into NR-wide panels
        for ic in M by MC: pack A[ic:, pc:] into MR-tall panels  (A block MC x KC lives in L2)
          for jr in NC by NR:               B micro-panel KC x NR lives in L1
            for ir in MC by MR:             micro-kernel: MR x NR tile of C in registers

Packing copies each block once into contiguous, zero-padded panels, so the micro-kernel reads
unit-stride memory whatever the strides of A and B (transposed views, stride-0 broadcast batches),
and edge tiles (M, N not multiples of MR, NR) compute on the padding and store only what exists.
The micro-kernel uses explicit vector types and ``llvm.fmuladd`` (one fused multiply-add where the
ISA has one, a multiply and an add where it has none: ``llvm.fma`` would call libm's ``fmaf`` per
lane there); it accumulates in the dtype itself.
Its register tile follows the ISA level the JIT generates code for (``TILES``: 6 x 64 f32 on
AVX-512, 6 x 16 on AVX2, 6 x 8 on SSE / NEON), and the cache blocks follow the host's caches
(``gemm_blocking``).

A GEMM at most ``NARROW_PANELS`` register tiles wide (a convolution's N*H*W rows by its few
output channels, or its weight gradient) packs only B and reads A, row-major or transposed, in
place with the direct micro-kernel
(``llvm_gemm_unpacked``): each packed A block would feed too few micro-kernel calls to pay for its
packing.

A row range at most ``SKINNY_GROUPS`` register tiles tall (a batch-1 layer, a thread's share of
a skinny GEMM) takes a skinny path that packs nothing it would use only a few times: a row-major
B is read in place by the same micro-kernel (``micro_kernel_direct_<h>``, 1, MR / 2 or MR rows
tall; a call of one row streams B's rows whole instead, ``llvm_gemm_gemv``), and a B with
contiguous columns (a transposed weight, ``x @ W.T``) by dot-product tiles along K
(``llvm_gemm_skinny``).

Integers (int32, int64) use a plain triple loop: correct, not tuned.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from ...errors import LuminaTypeError
from ..target import MAX_EPILOGUE_INPUTS
from . import isa as cpu_isa
from .llvm_gemm_micro import emit_micro_kernel
from .llvm_gemm_prepack import emit_pack_all, prepacked_block
from .llvm_gemm_skinny import dot_tiles, emit_dot_tile
from .llvm_gemm_ir import (ALIGN_BYTES, I64, PTR, align_up, batches, define, element_ptr, for_range, i64, imin,
                           k_blocks, lanes_below, masked_load, sizeof, strided)
from .llvm_gemm_gemv import emit_gemv_kernel
from .llvm_gemm_unpacked import (NARROW_PANELS, SKINNY_GROUPS, emit_direct_body, emit_dot_body, emit_narrow_body,
                                 narrow)

__all__ = ["GemmBlocking", "gemm_blocking", "gemm_function_name", "gemm_epilogue_function_name",
           "gemm_workspace_elems", "render_gemm", "PACKED_DTYPES", "TILES", "NARROW_TILES", "EPILOGUE_POINTERS", "NARROW_PANELS",
           "SKINNY_GROUPS"]

EPILOGUE_POINTERS = MAX_EPILOGUE_INPUTS + 1
"""Pointers an epilogue function takes: the buffers an epilogue may read besides the dot result
(the CPU target's ``max_epilogue_inputs``), then the output. ``llvm.render_epilogue`` raises
LuminaCodegenError for a kernel that needs more."""


_ELEMENT = {
    "float32": ir.FloatType(),
    "float64": ir.DoubleType(),
    "int32": ir.IntType(32),
    "int64": ir.IntType(64),
}
_FLOAT_ITEMSIZE = {"float32": 4, "float64": 8}
"""The dtypes of the packed GEMM (the integer ones run a plain loop), with their item sizes."""
PACKED_DTYPES = frozenset(_FLOAT_ITEMSIZE)



@dataclass(frozen=True)
class GemmBlocking:
    """Tile and block sizes of the packed GEMM, in elements.

    mr x nr is the register tile: mr * (nr / lanes) vector accumulators, plus nr / lanes vectors
    of B and one broadcast of A, fit in the ISA's vector registers (``TILES``).
    kc: depth of a K block. Each micro-kernel call streams an MR x KC panel of A and a KC x NR
    panel of B and then updates its C tile, so a larger KC amortizes the C traffic.
    mc: rows of the packed A block (MC x KC), which stays in L2.
    nc: columns of the packed B block (KC x NC), which stays in L3.
    """

    mr: int
    nr: int
    lanes: int
    kc: int
    mc: int
    nc: int

    def __post_init__(self) -> None:
        assert self.nr % self.lanes == 0 and self.mc % self.mr == 0 and self.nc % self.nr == 0

    def __str__(self) -> str:
        return f"{self.mr}x{self.nr} tile, KC={self.kc} MC={self.mc} NC={self.nc}"


TILES = {
    # 32 zmm registers: 6 x 64 f32 is 24 accumulators + 4 B vectors + 1 broadcast (BLIS's Zen 4
    # sgemm tile, 64 x 6, transposed); 8 x 24 f64 is 24 + 3 + 1. Measured on a Zen 5 against
    # 14 x 32, 12 x 32 and 8 x 48 (f32) and 6 x 32, 14 x 16 (f64): within 5% of each other, the
    # chosen ones best at the skinny 64 x 4096 x 1024.
    "avx512": {"float32": (6, 64, 16), "float64": (8, 24, 8)},
    # 16 ymm registers: 12 accumulators + 2 B vectors + 1 broadcast = 15 (checked: no spills at
    # cpu=haswell).
    "avx2": {"float32": (6, 16, 8), "float64": (6, 8, 4)},
    # 16 xmm registers (SSE2; NEON has 32, this tile leaves half unused): 12 + 2 + 1.
    "baseline": {"float32": (6, 8, 4), "float64": (6, 4, 2)},
}
"""(MR, NR, lanes) of the register tile, per ISA level (``backends.cpu.isa``) and dtype."""

NARROW_TILES = {
    # A GEMM at most 32 columns wide (a convolution with 32 output channels, an attention head's
    # probabilities times its 32-wide values) would fill half of each 64-wide tile with padding:
    # 16 accumulators of 8 x 32 instead. Measured on a Zen 5 (f32, one thread), 6 x 64 -> 8 x 32:
    # 25088 x 32 x 288 123 -> 215 GFLOP/s, 25088 x 32 x 128 128 -> 255; 12 x 32 and 14 x 32 were
    # slower there (166, 155), their A panels twelve and fourteen streams read in place.
    "avx512": {"float32": (8, 32, 16)},
}
"""(MR, NR, lanes) of the tile for GEMMs at most NR columns wide (``gemm_blocking(narrow=True)``),
where it differs from ``TILES``."""

# Cache blocking, from the caches the host reports (``isa.cache_sizes``). Measured on a Zen 5
# (48 KiB L1d, 1 MiB L2, 32 MiB L3) with the 6 x 64 tile at 1024^3 and 2048^3, one thread:
# KC = 512 f32 rows (2 KiB per row of a panel) beat 192-384 by 5-15% (fewer passes over C), and a
# packed A block of 144-192 KiB (about L2 / 6) beat larger ones, which evict the B micro-panels;
# the same rule gives Zen 4's tuned AVX2 blocking (KC 512, MC 96 of 6 x 16). The packed B block
# (KC x NC) takes at most 4 MiB and an eighth of L3.
_KC_BYTES = 2048
_A_BLOCK_FRACTION = 6
_B_BLOCK_MAX = 4 << 20


def gemm_blocking(dtype: str, isa: str | None = None, caches: tuple[int, int, int] | None = None,
                  narrow: bool = False) -> GemmBlocking:
    """The blocking of floating ``dtype``'s packed GEMM for ISA level ``isa`` (default the one the
    JIT generates code for, ``isa.active_isa()``) and caches ``(L1d, L2, L3)`` in bytes (default
    the host's); ``narrow``: with the tile for GEMMs at most its NR columns wide (``NARROW_TILES``,
    the ISA's own tile where it has none). Raises LuminaTypeError for a dtype without a packed GEMM
    (the integer ones)."""
    if dtype not in _FLOAT_ITEMSIZE:
        raise LuminaTypeError(f"gemm: {dtype} GEMMs are not packed; packed GEMMs take {sorted(_FLOAT_ITEMSIZE)}")
    level = isa or cpu_isa.active_isa()
    mr, nr, lanes = (NARROW_TILES.get(level, {}).get(dtype) if narrow else None) or TILES[level][dtype]
    _, l2, l3 = caches or cpu_isa.cache_sizes()
    size = _FLOAT_ITEMSIZE[dtype]
    kc = _KC_BYTES // size
    mc = max(mr, l2 // _A_BLOCK_FRACTION // (kc * size) // mr * mr)
    nc = max(nr, min(_B_BLOCK_MAX, l3 // 8) // (kc * size) // nr * nr)
    return GemmBlocking(mr, nr, lanes, kc, mc, nc)


def gemm_function_name(dtype: str) -> str:
    """Symbol of the GEMM for ``dtype``, e.g. ``lumina_gemm_float32``."""
    _check_dtype(dtype)
    return f"lumina_gemm_{dtype}"


def gemm_epilogue_function_name(dtype: str) -> str:
    """Symbol of the GEMM with an epilogue for floating ``dtype``, e.g. ``lumina_gemm_epi_float32``."""
    _check_dtype(dtype)
    if dtype not in _FLOAT_ITEMSIZE:
        raise LuminaTypeError(f"gemm: {dtype} GEMMs take no epilogue; expected one of {sorted(_FLOAT_ITEMSIZE)}")
    return f"lumina_gemm_epi_{dtype}"


def gemm_workspace_elems(dtype: str, blocking: GemmBlocking | None = None) -> int:
    """Elements of ``dtype`` the caller passes as ``workspace`` (per concurrent call).

    Holds one packed A block (MC x KC) and one packed B block (KC x NC), plus slack to align them.
    Integer GEMMs need none (0). ``blocking`` must match the one given to ``render_gemm``.
    """
    _check_dtype(dtype)
    if dtype not in _FLOAT_ITEMSIZE:
        return 0
    blk = blocking or gemm_blocking(dtype)
    slack = 2 * ALIGN_BYTES // _FLOAT_ITEMSIZE[dtype]
    return blk.mc * blk.kc + blk.kc * blk.nc + slack


def render_gemm(dtype: str, blocking: GemmBlocking | None = None) -> str:
    """LLVM IR text of a module that defines ``gemm_function_name(dtype)`` (see module docstring).

    ``blocking`` overrides ``gemm_blocking(dtype)`` (floating point only: the one the caller
    sizes the workspace for, for another ISA level, or for experiments).
    """
    _check_dtype(dtype)
    module = ir.Module(name=f"lumina_gemm_{dtype}")
    if dtype not in _FLOAT_ITEMSIZE:
        _emit_naive_gemm(module, dtype)
        return str(module)
    blk = blocking or gemm_blocking(dtype)
    _emit_packed_gemm(module, dtype, blk)
    return _min_legal_vector_width(str(module), blk.lanes * _FLOAT_ITEMSIZE[dtype] * 8)


def _min_legal_vector_width(text: str, bits: int) -> str:
    """Mark every function as using ``bits``-wide vectors (clang's ``min-legal-vector-width``): on
    CPUs LLVM tunes for 256-bit vectors (Skylake-X, Ice Lake) it would otherwise split the
    micro-kernel's 512-bit registers into halves."""
    return "\n".join(line + f' "min-legal-vector-width"="{bits}"'
                     if line.startswith("define") and line.endswith("nounwind") else line
                     for line in text.split("\n"))


def _check_dtype(dtype: str) -> None:
    if dtype not in _ELEMENT:
        raise LuminaTypeError(
            f"gemm: unsupported dtype {dtype!r}; expected one of {sorted(_ELEMENT)}")


_GEMM_PARAMS = [
    ("C", PTR), ("A", PTR), ("B", PTR),
    ("batch", I64), ("M", I64), ("N", I64), ("K", I64),
    ("sa_b", I64), ("sa_m", I64), ("sa_k", I64),
    ("sb_b", I64), ("sb_k", I64), ("sb_n", I64),
    ("sc_b", I64), ("sc_m", I64), ("sc_n", I64),
    ("m_start", I64), ("m_end", I64), ("n_start", I64), ("n_end", I64), ("workspace", PTR), ("b_packed", PTR),
]


_EPILOGUE_PARAMS = [("epilogue", I64), ("batch0", I64)] + [
    (f"e{i}", PTR) for i in range(EPILOGUE_POINTERS)]


def _define_gemm_entry(module: ir.Module, dtype: str, epilogue: bool = False):
    name = gemm_epilogue_function_name(dtype) if epilogue else gemm_function_name(dtype)
    params = _GEMM_PARAMS + (_EPILOGUE_PARAMS if epilogue else [])
    fn, b, args = define(module, name, ir.VoidType(), params, internal=False)
    for pname in ("A", "B", "workspace"):
        args[pname].add_attribute("noalias")
    if not epilogue:   # with one, the epilogue's output pointer is C again
        args["C"].add_attribute("noalias")
    return fn, b, args


# --- packed floating-point GEMM ------------------------------------------------------------------

def _emit_pack_a(module: ir.Module, elem: ir.Type, blk: GemmBlocking) -> ir.Function:
    """pack_a(dst, a, sa_m, sa_k, mc, kc): A[0:mc, 0:kc] -> MR-tall panels, dst[p][k][i], 0-padded.

    Panel p holds rows p*MR .. p*MR+MR-1, laid out k-major so the micro-kernel reads MR
    consecutive elements per k step. A transposed A (``sa_m == 1``: the ``X^T`` of a weight
    gradient ``X^T dY``) already holds them consecutively: a full panel copies one MR-wide vector
    per k.
    """
    fn, b, args = define(module, "pack_a", ir.VoidType(), [
        ("dst", PTR), ("a", PTR), ("sa_m", I64), ("sa_k", I64), ("mc", I64), ("kc", I64)])
    zero = ir.Constant(elem, 0)
    column = ir.VectorType(elem, blk.mr)
    columns_contiguous = b.icmp_signed("==", args["sa_m"], i64(1))
    with for_range(b, 0, args["mc"], blk.mr, name="p") as p:
        panel = element_ptr(b, elem, args["dst"], b.mul(p, args["kc"]), name="panel")
        rows = imin(b, i64(blk.mr), b.sub(args["mc"], p), name="rows")
        full = b.icmp_signed("==", rows, i64(blk.mr))
        with b.if_else(b.and_(full, columns_contiguous)) as (transposed, general):
            with transposed:
                with for_range(b, 0, args["kc"], name="kt", vectorize=False) as k:
                    src = element_ptr(b, elem, args["a"], p, strided(b, k, args["sa_k"]))
                    b.store(b.load(src, typ=column, align=sizeof(elem)),
                            element_ptr(b, elem, panel, b.mul(k, i64(blk.mr))), align=sizeof(elem))
            with general:
                _pack_a_scalars(b, elem, blk, args, p, panel, rows, zero)
    b.ret_void()
    return fn


def _pack_a_scalars(b, elem, blk: GemmBlocking, args, p, panel, rows, zero) -> None:
    """An edge panel of A, or any layout: element by element, rows past ``rows`` as zeros."""
    with for_range(b, 0, args["kc"], name="k", vectorize=False) as k:
        k_off = strided(b, k, args["sa_k"])
        for i in range(blk.mr):  # unrolled: MR is small and fixed
            # Rows past the edge become zeros. Their loads read the last real row instead
            # (always present), which keeps the loop free of branches.
            exists = b.icmp_signed("<", i64(i), rows)
            row = b.add(p, b.select(exists, i64(i), b.sub(rows, i64(1))))
            src = element_ptr(b, elem, args["a"], strided(b, row, args["sa_m"]), k_off)
            value = b.select(exists, b.load(src, typ=elem), zero)
            dst = element_ptr(b, elem, panel, b.add(b.mul(k, i64(blk.mr)), i64(i)))
            b.store(value, dst)


def _emit_pack_b(module: ir.Module, elem: ir.Type, blk: GemmBlocking) -> ir.Function:
    """pack_b(dst, b, sb_k, sb_n, kc, nc): B[0:kc, 0:nc] -> NR-wide panels, dst[p][k][j], 0-padded.

    Row-major B (sb_n == 1) copies each full panel row with NR / lanes vector loads. A
    transposed B (sb_k == 1: a weight ``W [N, K]`` read as ``W.T``) reads lanes x lanes blocks
    along its contiguous K, transposes each in registers (``_transpose``) and stores whole panel
    rows. An edge panel of a row-major B copies masked vectors; the last K rows of a transposed
    panel and any other layout copy scalars.
    """
    fn, b, args = define(module, "pack_b", ir.VoidType(), [
        ("dst", PTR), ("b", PTR), ("sb_k", I64), ("sb_n", I64), ("kc", I64), ("nc", I64)])
    zero = ir.Constant(elem, 0)
    vec = ir.VectorType(elem, blk.lanes)
    unit_stride = b.icmp_signed("==", args["sb_n"], i64(1))
    with for_range(b, 0, args["nc"], blk.nr, name="p") as p:
        panel = element_ptr(b, elem, args["dst"], b.mul(p, args["kc"]), name="panel")
        cols = imin(b, i64(blk.nr), b.sub(args["nc"], p), name="cols")
        full = b.icmp_signed("==", cols, i64(blk.nr))
        with b.if_else(b.and_(full, unit_stride), likely=True) as (contiguous, general):
            with contiguous:
                with for_range(b, 0, args["kc"], name="kv") as k:
                    src = element_ptr(b, elem, args["b"], strided(b, k, args["sb_k"]), p)
                    dst = element_ptr(b, elem, panel, b.mul(k, i64(blk.nr)))
                    for v in range(blk.nr // blk.lanes):
                        value = b.load(element_ptr(b, elem, src, i64(v * blk.lanes)), typ=vec,
                                       align=sizeof(elem))
                        b.store(value, element_ptr(b, elem, dst, i64(v * blk.lanes)),
                                align=blk.lanes * sizeof(elem))
            with general:
                with b.if_then(unit_stride):   # an edge panel of a row-major B: masked vector loads
                    masks = [lanes_below(b, v * blk.lanes, blk.lanes, cols) for v in range(blk.nr // blk.lanes)]
                    load = masked_load(b.module, elem, blk.lanes)
                    with for_range(b, 0, args["kc"], name="ke") as k:
                        src = element_ptr(b, elem, args["b"], strided(b, k, args["sb_k"]), p)
                        dst = element_ptr(b, elem, panel, b.mul(k, i64(blk.nr)))
                        for v, mask in enumerate(masks):
                            value = b.call(load, [element_ptr(b, elem, src, i64(v * blk.lanes)),
                                                  ir.Constant(ir.IntType(32), sizeof(elem)), mask, ir.Constant(vec, None)])
                            b.store(value, element_ptr(b, elem, dst, i64(v * blk.lanes)),
                                    align=blk.lanes * sizeof(elem))
                transposed = b.and_(full, b.icmp_signed("==", args["sb_k"], i64(1)))
                k_blocks = b.sub(args["kc"], b.srem(args["kc"], i64(blk.lanes)))
                k_scalar = b.select(transposed, k_blocks, b.select(unit_stride, args["kc"], i64(0)), name="k_scalar")
                with b.if_then(transposed):
                    _emit_transposed_rows(b, elem, blk, args, p, panel, k_blocks)
                with for_range(b, k_scalar, args["kc"], name="k", vectorize=False) as k:
                    k_off = strided(b, k, args["sb_k"])
                    for j in range(blk.nr):  # unrolled: NR is small and fixed
                        # Columns past the edge become zeros, loading the last real column
                        # instead (as in pack_a).
                        exists = b.icmp_signed("<", i64(j), cols)
                        col = b.add(p, b.select(exists, i64(j), b.sub(cols, i64(1))))
                        n_off = strided(b, col, args["sb_n"])
                        src = element_ptr(b, elem, args["b"], k_off, n_off)
                        value = b.select(exists, b.load(src, typ=elem), zero)
                        dst = element_ptr(b, elem, panel, b.add(b.mul(k, i64(blk.nr)), i64(j)))
                        b.store(value, dst)
    b.ret_void()
    return fn


def _emit_transposed_rows(b, elem, blk: GemmBlocking, args, p, panel, k_stop) -> None:
    """Panel rows [0, k_stop) (a multiple of lanes) of a full panel of a B with sb_k == 1: for each
    lanes x lanes block, ``lanes`` loads along K (one per column), a register transpose, ``lanes``
    aligned stores of panel rows."""
    vec = ir.VectorType(elem, blk.lanes)
    with for_range(b, 0, k_stop, blk.lanes, name="kt") as k0:
        with for_range(b, 0, blk.nr, blk.lanes, name="g") as g:
            first = b.add(p, g)
            columns = [element_ptr(b, elem, args["b"], strided(b, b.add(first, i64(j)), args["sb_n"]), k0)
                       for j in range(blk.lanes)]
            rows = _transpose(b, [b.load(c, typ=vec, align=sizeof(elem)) for c in columns])
            for t, row in enumerate(rows):
                dst = element_ptr(b, elem, panel, b.add(b.mul(b.add(k0, i64(t)), i64(blk.nr)), g))
                b.store(row, dst, align=min(ALIGN_BYTES, blk.lanes * sizeof(elem)))


def _transpose(b: ir.IRBuilder, vectors: list) -> list:
    """The transpose of the square matrix whose rows are ``vectors`` (n of n lanes, n a power of
    two): log2(n) stages, each exchanging blocks of s lanes between rows i and i + s (s = n/2,
    ..., 1) with one pair of shuffles per row pair."""
    v, n = list(vectors), len(vectors)
    s = n // 2
    while s >= 1:
        low = ir.Constant(ir.VectorType(ir.IntType(32), n), [t if t & s == 0 else n + t - s for t in range(n)])
        high = ir.Constant(ir.VectorType(ir.IntType(32), n), [t + s if t & s == 0 else n + t for t in range(n)])
        for i in range(n):
            if i & s == 0:
                v[i], v[i + s] = b.shuffle_vector(v[i], v[i + s], low), b.shuffle_vector(v[i], v[i + s], high)
        s //= 2
    return v


def _emit_packed_gemm(module: ir.Module, dtype: str, blk: GemmBlocking) -> None:
    elem = _ELEMENT[dtype]
    registers = 32 if blk.lanes * sizeof(elem) * 8 == 512 else 16
    kernels = GemmKernels(pack_a=_emit_pack_a(module, elem, blk), pack_b=_emit_pack_b(module, elem, blk),
                       micro=emit_micro_kernel(module, elem, blk),
                       edges=tuple(emit_micro_kernel(module, elem, blk, vectors=v) for v in range(1, blk.nr // blk.lanes)),
                       gemv=emit_gemv_kernel(module, elem, blk.lanes),
                       direct={h: emit_micro_kernel(module, elem, blk, direct=True, height=h)
                               for h in sorted({1, blk.mr // 2, blk.mr} - {0})},
                       dots=tuple(emit_dot_tile(module, elem, blk.lanes, tm, tn) for tm, tn in dot_tiles(registers)),
                       dot_shapes=dot_tiles(registers))
    for epilogue in (False, True):
        _emit_packed_entry(module, dtype, elem, blk, kernels, epilogue)
    emit_pack_all(module, dtype, elem, blk, kernels.pack_b)


@dataclass(frozen=True)
class GemmKernels:
    """The functions one packed GEMM module's entries call."""
    pack_a: ir.Function
    pack_b: ir.Function
    micro: ir.Function
    edges: tuple           # micro_kernel_w<v> for v = 1 .. NR / lanes - 1: edge tiles v vectors wide
    gemv: ir.Function      # gemv_rows (llvm_gemm_gemv): one row of C from whole rows of B
    direct: dict           # tile height -> micro_kernel_direct_<height>
    dots: tuple
    dot_shapes: tuple


def _emit_packed_entry(module, dtype, elem, blk, kernels: GemmKernels, epilogue: bool) -> None:
    """The entry: the skinny paths for a row range at most SKINNY_GROUPS tiles tall (B read in
    place: along its rows with the direct micro-kernel when they are contiguous, along K with the
    dot tiles when its columns are), else the packed BLIS loops."""
    fn, b, a = _define_gemm_entry(module, dtype, epilogue)
    finish = _epilogue_call(b, a) if epilogue else None

    # Workspace: [packed A block: MC x KC][packed B block: KC x NC], each cache-line aligned.
    a_pack = align_up(b, a["workspace"], name="a_pack")
    b_pack = align_up(b, element_ptr(b, elem, a_pack, i64(blk.mc * blk.kc)), name="b_pack")
    rows = b.sub(a["m_end"], a["m_start"], name="rows")
    skinny = b.and_(b.icmp_signed(">", rows, i64(0)), b.icmp_signed("<=", rows, i64(SKINNY_GROUPS * blk.mr)))
    direct = b.and_(skinny, b.icmp_signed("==", a["sb_n"], i64(1)), name="direct")
    dot = b.and_(skinny, b.and_(b.icmp_signed("==", a["sb_k"], i64(1)), b.icmp_signed("==", a["sa_k"], i64(1))))
    with b.if_else(direct) as (then, otherwise):
        with then:
            emit_direct_body(b, elem, blk, kernels, a, a_pack, b_pack, finish)
        with otherwise:
            with b.if_else(dot) as (then_dot, other):
                with then_dot:
                    emit_dot_body(b, elem, kernels, a, rows, finish)
                with other:
                    with b.if_else(narrow(b, blk, a)) as (then_narrow, packed):
                        with then_narrow:
                            emit_narrow_body(b, elem, blk, kernels, a, b_pack, finish)
                        with packed:
                            _emit_packed_body(b, elem, blk, kernels, a, a_pack, b_pack, finish)
    b.ret_void()


def _epilogue_call(b, a):
    """``finish(bi, m_lo, m_hi, n_lo, n_hi)``: emit the call of the epilogue on a final panel of C."""
    epi_type = ir.FunctionType(ir.VoidType(), [PTR] * EPILOGUE_POINTERS + [I64] * 5)
    epi_fn = b.inttoptr(a["epilogue"], epi_type.as_pointer(), name="epilogue_fn")

    def finish(bi, m_lo, m_hi, n_lo, n_hi):
        b.call(epi_fn, [a[f"e{i}"] for i in range(EPILOGUE_POINTERS)] + [b.add(a["batch0"], bi), m_lo, m_hi, n_lo, n_hi])
    return finish


def _emit_packed_body(b, elem, blk, kernels: GemmKernels, a, a_pack, b_pack, finish) -> None:
    """The BLIS loops (module docstring). A row range that fits one A block (at most MC rows: a
    batch of 128, a thread's share of a skinny GEMM) uses each packed B block for that one block
    only, so it packs B one micro-panel at a time, just before the micro-kernels that read it:
    the panel stays in L1 / L2 instead of a KC x NC block written to L3 and read back (one thread,
    128 x 1024 x 1024: 1.94 -> 1.73 ms)."""
    k_stop, kc_step = k_blocks(b, a["K"], blk.kc)
    prepacked = b.icmp_unsigned("!=", b.ptrtoint(a["b_packed"], I64), i64(0), name="prepacked")
    rows = b.sub(a["m_end"], a["m_start"], name="block_rows")
    by_panel = b.and_(b.not_(prepacked), b.icmp_signed("<=", rows, i64(blk.mc)), name="by_panel")
    for bi, a_batch, b_batch, c_batch in batches(b, elem, a):
        with for_range(b, a["n_start"], a["n_end"], blk.nc, name="jc") as jc:
            nc = imin(b, i64(blk.nc), b.sub(a["n_end"], jc), name="nc")
            with for_range(b, 0, k_stop, kc_step, name="pc") as pc:
                kc = imin(b, kc_step, b.sub(a["K"], pc), name="kc")
                accumulate = b.icmp_signed(">", pc, i64(0), name="accumulate")
                last_k = b.icmp_signed(">=", b.add(pc, kc_step), k_stop, name="last_k")
                b_src = element_ptr(b, elem, b_batch, strided(b, pc, a["sb_k"]), strided(b, jc, a["sb_n"]))

                def block(ic, mc, b_block, panel_source=None):
                    a_src = element_ptr(b, elem, a_batch, strided(b, ic, a["sa_m"]), strided(b, pc, a["sa_k"]))
                    b.call(kernels.pack_a, [a_pack, a_src, a["sa_m"], a["sa_k"], mc, kc])
                    _emit_macro_kernel(b, elem, blk, kernels, a, a_pack, b_block, c_batch,
                                       ic, jc, mc, nc, kc, accumulate, panel_source)
                    if finish:   # after the last K block the panel is final (and in L2)
                        with b.if_then(last_k):
                            finish(bi, ic, b.add(ic, mc), jc, b.add(jc, nc))

                with b.if_else(by_panel) as (panels, blocks):
                    with panels:
                        block(a["m_start"], rows, b_pack, panel_source=b_src)
                    with blocks:
                        with b.if_then(b.not_(prepacked)):
                            b.call(kernels.pack_b, [b_pack, b_src, a["sb_k"], a["sb_n"], kc, nc])
                        b_block = b.select(prepacked, prepacked_block(b, elem, a["b_packed"], a["K"], jc, pc, nc,
                                                                      blk.nr), b_pack)
                        with for_range(b, a["m_start"], a["m_end"], blk.mc, name="ic") as ic:
                            block(ic, imin(b, i64(blk.mc), b.sub(a["m_end"], ic), name="mc"), b_block)


def _emit_macro_kernel(b, elem, blk, kernels: GemmKernels, a, a_pack, b_pack, c_batch, ic, jc, mc, nc, kc,
                       accumulate, panel_source=None) -> None:
    """for jr in nc by NR: for ir in mc by MR: micro-kernel on the C tile at (ic + ir, jc + jr).

    jr is outer so one B micro-panel (KC x NR) stays in cache while all A panels stream from L2. A
    panel narrower than NR (the last of a block) takes the edge kernel just wide enough for it.
    ``panel_source``: B's block in place (its KC x NC corner), packed here one micro-panel at a
    time into ``b_pack``; None: ``b_pack`` holds the whole block packed.
    """
    with for_range(b, 0, nc, blk.nr, name="jr") as jr:
        nr = imin(b, i64(blk.nr), b.sub(nc, jr), name="nr")
        if panel_source is None:
            b_panel = element_ptr(b, elem, b_pack, b.mul(jr, kc), name="b_panel")
        else:
            b_panel = b_pack
            b.call(kernels.pack_b, [b_pack, element_ptr(b, elem, panel_source, strided(b, jr, a["sb_n"])),
                                    a["sb_k"], a["sb_n"], kc, nr])
        c_col = element_ptr(b, elem, c_batch, strided(b, b.add(jc, jr), a["sc_n"]))

        def tiles(micro):
            with for_range(b, 0, mc, blk.mr, name="ir") as ir_:
                mr = imin(b, i64(blk.mr), b.sub(mc, ir_), name="mr")
                a_panel = element_ptr(b, elem, a_pack, b.mul(ir_, kc), name="a_panel")
                c_tile = element_ptr(b, elem, c_col, strided(b, b.add(ic, ir_), a["sc_m"]))
                b.call(micro, [kc, a_panel, b_panel, c_tile, a["sc_m"], a["sc_n"], mr, nr, accumulate])
        if not kernels.edges:   # a tile one vector wide
            tiles(kernels.micro)
            return
        with b.if_else(b.icmp_signed("==", nr, i64(blk.nr)), likely=True) as (full, edge):
            with full:
                tiles(kernels.micro)
            with edge:
                vectors = b.sdiv(b.add(nr, i64(blk.lanes - 1)), i64(blk.lanes))
                micro = kernels.micro   # an edge wider than the widest edge kernel
                for v in range(len(kernels.edges), 0, -1):
                    micro = b.select(b.icmp_signed("<=", vectors, i64(v)), kernels.edges[v - 1], micro)
                tiles(micro)


# --- integer GEMM: a plain triple loop -----------------------------------------------------------

def _emit_naive_gemm(module: ir.Module, dtype: str) -> None:
    """m-k-n loop order: the inner loop runs along a row of B and of C, so for row-major B and C
    LLVM's vectorizer (which versions loops on a runtime stride of 1) turns it into SIMD code.
    Integer overflow wraps, as in NumPy.
    """
    elem = _ELEMENT[dtype]
    fn, b, a = _define_gemm_entry(module, dtype)
    zero = ir.Constant(elem, 0)
    with for_range(b, 0, a["batch"], name="bi") as bi:
        a_batch = element_ptr(b, elem, a["A"], strided(b, bi, a["sa_b"]))
        b_batch = element_ptr(b, elem, a["B"], strided(b, bi, a["sb_b"]))
        c_batch = element_ptr(b, elem, a["C"], strided(b, bi, a["sc_b"]))
        with for_range(b, a["m_start"], a["m_end"], name="m") as m:
            a_row = element_ptr(b, elem, a_batch, strided(b, m, a["sa_m"]))
            c_row = element_ptr(b, elem, c_batch, strided(b, m, a["sc_m"]))
            with for_range(b, a["n_start"], a["n_end"], name="n0") as n:
                b.store(zero, element_ptr(b, elem, c_row, strided(b, n, a["sc_n"])))
            with for_range(b, 0, a["K"], name="k") as k:
                lhs = b.load(element_ptr(b, elem, a_row, strided(b, k, a["sa_k"])), typ=elem)
                b_row = element_ptr(b, elem, b_batch, strided(b, k, a["sb_k"]))
                with for_range(b, a["n_start"], a["n_end"], name="n") as n:
                    rhs = b.load(element_ptr(b, elem, b_row, strided(b, n, a["sb_n"])), typ=elem)
                    dst = element_ptr(b, elem, c_row, strided(b, n, a["sc_n"]))
                    b.store(b.add(b.load(dst, typ=elem), b.mul(lhs, rhs)), dst)
    b.ret_void()
