"""The packed LLVM GEMM (lumina.backends.cpu.llvm_gemm) run through the CPU JIT (lumina.backends.cpu.jit).

Each kernel is compiled once per dtype and ISA level, called through ctypes on NumPy views (any
strides) and compared with NumPy's ``@``. The shape tests run every ISA level this CPU can run
(AVX-512, AVX2, baseline on an AVX-512 machine: ``backends.cpu.isa.forced``), so each register
tile stays correct whichever machine runs the suite.
"""

from __future__ import annotations

import ctypes
import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumina.backends.cpu import isa as cpu_isa
from lumina.backends.cpu.llvm_gemm import (NARROW_PANELS, TILES, gemm_blocking, gemm_function_name, gemm_workspace_elems,
                                           render_gemm)
from lumina.backends.cpu.llvm_gemm_prepack import pack_function_name, prepacked_elems
from lumina.backends.cpu.llvm_gemm_gemv import CHUNK as GEMV_CHUNK
from lumina.schedule.memory import aligned_bytes
from lumina.errors import LuminaCodegenError, LuminaTypeError
from lumina.backends.cpu.jit import compile_llvm, host_target_description

DTYPES = ["float32", "float64", "int32", "int64"]
TOLERANCE = {"float32": 1e-4, "float64": 1e-10, "int32": 0, "int64": 0}

_P = ctypes.c_void_p
_I = ctypes.c_int64
_GEMM_SIGNATURE = ctypes.CFUNCTYPE(None, _P, _P, _P, *([_I] * 17), _P, _P)   # ..., workspace, b_packed

_KERNELS: dict[tuple[str, str], tuple[object, object]] = {}

ISAS = cpu_isa.runnable_isas()


def _kernel(dtype: str, isa: str):
    """The compiled GEMM for dtype on ISA level ``isa`` (compiled once per test session)."""
    if (dtype, isa) not in _KERNELS:
        with cpu_isa.forced(isa):
            module = compile_llvm(render_gemm(dtype), name=f"gemm_{dtype}")
        # Keep the module alive next to the function pointer: it owns the machine code.
        _KERNELS[dtype, isa] = (module, _GEMM_SIGNATURE(module.address(gemm_function_name(dtype))))
    return _KERNELS[dtype, isa][1]


def _workspace(dtype: str, isa: str) -> np.ndarray:
    blocking = gemm_blocking(dtype, isa) if dtype.startswith("float") else None
    return np.empty(max(gemm_workspace_elems(dtype, blocking), 1), dtype)


def _element_strides(array: np.ndarray) -> list[int]:
    assert all(s % array.itemsize == 0 for s in array.strides)
    return [s // array.itemsize for s in array.strides]


def run_gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, m_range: tuple[int, int] | None = None,
             workspace: np.ndarray | None = None, isa: str = ISAS[0],
             n_range: tuple[int, int] | None = None) -> None:
    """c[i] = a[i] @ b[i] for rows m_range and columns n_range of every batch; a: [batch, M, K],
    b: [batch, K, N]; with the kernel of ISA level ``isa`` (default the host's)."""
    dtype = a.dtype.name
    batch, m, k = a.shape
    n = b.shape[2]
    assert b.shape[:2] == (batch, k) and c.shape == (batch, m, n)
    m_start, m_end = m_range or (0, m)
    n_start, n_end = n_range or (0, n)
    if workspace is None:
        workspace = _workspace(dtype, isa)
    _kernel(dtype, isa)(c.ctypes.data, a.ctypes.data, b.ctypes.data, batch, m, n, k,
                   *_element_strides(a), *_element_strides(b), *_element_strides(c),
                   m_start, m_end, n_start, n_end, workspace.ctypes.data, None)


def random_array(shape, dtype: str, rng: np.random.Generator) -> np.ndarray:
    if dtype.startswith("int"):
        return rng.integers(-50, 50, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def assert_matches(actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    if dtype.startswith("int"):
        np.testing.assert_array_equal(actual, expected)
    else:
        # Scale by sqrt(K)-ish magnitudes: compare against the largest entry, not entrywise.
        tol = TOLERANCE[dtype]
        scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
        np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def sentinel_like(shape, dtype: str) -> np.ndarray:
    return np.full(shape, -7, dtype=dtype)


# --- shapes ---------------------------------------------------------------------------------------

SHAPES = [  # (batch, M, N, K)
    (1, 1, 1, 1),
    (1, 7, 5, 3),
    (1, 33, 65, 17),
    (1, 100, 37, 129),
    (1, 256, 256, 256),
    (3, 20, 30, 40),
    (2, 97, 130, 1100),  # several K blocks, with an uneven split
    (1, 100, 90, 70),    # last panels 26 (f32: the 2-vector edge kernel) and 18 (f64: 3 vectors) wide
    (1, 61, 50, 40),     # last panel 2 wide in f64 (the 1-vector edge kernel)
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_numpy(dtype, shape, isa):
    batch, m, n, k = shape
    rng = np.random.default_rng(0)
    a = random_array((batch, m, k), dtype, rng)
    b = random_array((batch, k, n), dtype, rng)
    c = sentinel_like((batch, m, n), dtype)
    run_gemm(a, b, c, isa=isa)
    assert_matches(c, a @ b, dtype)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_edges_around_register_tile(dtype, isa):
    """Every M, N residue modulo the register tile, with K around the block depth."""
    rng = np.random.default_rng(1)
    mr, nr, lanes = TILES[isa].get(dtype, TILES[isa]["float32"])
    for m in range(1, mr + 2):
        for n in sorted({1, lanes - 1, lanes, lanes + 1, nr - 1, nr, nr + 1}):
            a = random_array((1, m, 9), dtype, rng)
            b = random_array((1, 9, n), dtype, rng)
            c = sentinel_like((1, m, n), dtype)
            run_gemm(a, b, c, isa=isa)
            assert_matches(c, a @ b, dtype)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_blocks(dtype, isa):
    """M, N, K beyond MC, NC and KC, so every cache-blocking loop runs more than once (with small
    caches, so the blocks are small and the test is quick)."""
    blk = gemm_blocking(dtype, isa, caches=(32 << 10, 64 << 10, 1 << 20))
    m, n, k = blk.mc * 2 + 5, blk.nc + 3, blk.kc * 2 + 7
    rng = np.random.default_rng(2)
    a = random_array((1, m, k), dtype, rng)
    b = random_array((1, k, n), dtype, rng)
    c = sentinel_like((1, m, n), dtype)
    with cpu_isa.forced(isa):
        module = compile_llvm(render_gemm(dtype, blk), name=f"gemm_{dtype}_small_blocks")
    gemm = _GEMM_SIGNATURE(module.address(gemm_function_name(dtype)))
    workspace = np.empty(gemm_workspace_elems(dtype, blk), dtype)
    gemm(c.ctypes.data, a.ctypes.data, b.ctypes.data, 1, m, n, k, *_element_strides(a), *_element_strides(b),
         *_element_strides(c), 0, m, 0, n, workspace.ctypes.data, None)
    assert_matches(c, a @ b, dtype)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_row_streamed_by_rows_equals_the_row_in_a_taller_tile(dtype, isa):
    """A one-row GEMM (a GEMV) streams whole rows of B into a scratch row (``llvm_gemm_gemv``):
    bit for bit what the same row gives inside a two-row call (the panel kernels), for a K that is
    not a multiple of the rows per pass, one and several K blocks, several column chunks, edge
    columns past the last whole vector, and a strided C; close to NumPy."""
    rng = np.random.default_rng(31)
    wide = TILES[isa][dtype][1]
    kc = gemm_blocking(dtype, isa).kc
    for n, k in ((2 * wide + 70, 9), (wide - 1, 40), (3 * wide, 2 * kc + 3), (GEMV_CHUNK + 37, 6)):
        a = random_array((1, 2, k), dtype, rng)
        b = random_array((1, k, n), dtype, rng)
        both = sentinel_like((1, 2, n), dtype)
        run_gemm(a, b, both, isa=isa)
        for c in (sentinel_like((1, 1, n), dtype), sentinel_like((1, 1, 2 * n), dtype)[:, :, ::2]):   # strided C too
            run_gemm(a[:, :1], b, c, isa=isa)
            np.testing.assert_array_equal(c, both[:, :1])
        assert_matches(both[:, :1], a[:, :1] @ b, dtype)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_prepacked_b_gives_what_packing_at_each_call_gives(dtype, isa):
    """B packed once ahead of the calls (``llvm_gemm_prepack``): row-major and transposed, edge
    columns, several column and K blocks (small caches), row ranges as threads split them, a
    batch sharing one B; equal bit for bit to the GEMM that packs B itself, and to NumPy."""
    blk = gemm_blocking(dtype, isa, caches=(32 << 10, 64 << 10, 1 << 20))
    with cpu_isa.forced(isa):
        module = compile_llvm(render_gemm(dtype, blk), name=f"gemm_{dtype}_prepacked")
    gemm = _GEMM_SIGNATURE(module.address(gemm_function_name(dtype)))
    pack = ctypes.CFUNCTYPE(None, _P, _P, _I, _I, _I, _I)(module.address(pack_function_name(dtype)))
    workspace = np.empty(gemm_workspace_elems(dtype, blk), dtype)
    rng = np.random.default_rng(21)
    for m, n, k in ((blk.mc + 7, blk.nc + blk.nr + 3, blk.kc * 2 + 5), (40, 3 * blk.nr, 33), (25, blk.nr - 1, 1)):
        for transposed in (False, True):
            b = random_array((n, k), dtype, rng).T if transposed else random_array((k, n), dtype, rng)
            packed = aligned_bytes(prepacked_elems(k, n, blk) * np.dtype(dtype).itemsize).view(dtype)   # 64-byte
            packed[:] = np.nan                                                                          # aligned
            pack(packed.ctypes.data, b.ctypes.data, k, n, *_element_strides(b))
            a = random_array((2, m, k), dtype, rng)
            b3 = np.broadcast_to(b, (2, k, n))
            sb = [0, *_element_strides(b)]
            for rows in ((0, m), (0, m // 2), (m // 2, m)):
                results = []
                for b_packed in (None, packed.ctypes.data):
                    c = sentinel_like((2, m, n), dtype)
                    gemm(c.ctypes.data, a.ctypes.data, b3.ctypes.data, 2, m, n, k, *_element_strides(a), *sb,
                         *_element_strides(c), *rows, 0, n, workspace.ctypes.data, b_packed)
                    results.append(c)
                np.testing.assert_array_equal(results[1], results[0])
                assert_matches(results[1][:, rows[0]:rows[1]], (a @ b3)[:, rows[0]:rows[1]], dtype)


def test_blocking_follows_isa_and_caches():
    """The register tile is the ISA's; the blocks shrink with the caches; 512-bit tiles mark their
    functions so LLVM keeps the registers whole."""
    assert gemm_blocking("float32", "avx512").nr == 64 and gemm_blocking("float32", "avx2").nr == 16
    big = gemm_blocking("float32", "avx512", caches=(48 << 10, 1 << 20, 32 << 20))
    small = gemm_blocking("float32", "avx512", caches=(32 << 10, 256 << 10, 4 << 20))
    assert small.mc < big.mc and small.nc < big.nc
    assert big.mc % big.mr == 0 and big.nc % big.nr == 0
    assert '"min-legal-vector-width"="512"' in render_gemm("float32", big)
    with pytest.raises(LuminaTypeError, match="int32"):
        gemm_blocking("int32", "avx2")


# --- strides --------------------------------------------------------------------------------------

@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_transposed_operands(dtype, transpose_a, transpose_b, isa):
    batch, m, n, k = 2, 45, 70, 33
    rng = np.random.default_rng(3)
    a = random_array((batch, k, m), dtype, rng).transpose(0, 2, 1) if transpose_a \
        else random_array((batch, m, k), dtype, rng)
    b = random_array((batch, n, k), dtype, rng).transpose(0, 2, 1) if transpose_b \
        else random_array((batch, k, n), dtype, rng)
    c = sentinel_like((batch, m, n), dtype)
    run_gemm(a, b, c, isa=isa)
    assert_matches(c, a @ b, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_batch_on_b(dtype):
    """B shared by every batch through a stride-0 batch axis."""
    batch, m, n, k = 3, 31, 40, 19
    rng = np.random.default_rng(4)
    a = random_array((batch, m, k), dtype, rng)
    b = np.broadcast_to(random_array((1, k, n), dtype, rng), (batch, k, n))
    assert b.strides[0] == 0
    c = sentinel_like((batch, m, n), dtype)
    run_gemm(a, b, c)
    assert_matches(c, a @ b, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_output_and_sliced_inputs(dtype):
    """C written through a transposed view; A and B are every-other-column slices."""
    batch, m, n, k = 2, 23, 29, 26
    rng = np.random.default_rng(5)
    a = random_array((batch, m, 2 * k), dtype, rng)[:, :, ::2]
    b = random_array((batch, k, 3 * n), dtype, rng)[:, :, 1::3]
    c_storage = sentinel_like((batch, n, m), dtype)
    c = c_storage.transpose(0, 2, 1)
    run_gemm(a, b, c)
    assert_matches(c, a @ b, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_k_stride_zero(dtype):
    """A stride-0 axis inside a matrix (a row broadcast along K) is read correctly too."""
    m, n, k = 13, 17, 11
    rng = np.random.default_rng(6)
    a = np.broadcast_to(random_array((1, m, 1), dtype, rng), (1, m, k))
    b = random_array((1, k, n), dtype, rng)
    c = sentinel_like((1, m, n), dtype)
    run_gemm(a, b, c)
    assert_matches(c, a @ b, dtype)


# --- row ranges, K = 0 ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m_range", [(0, 0), (0, 1), (5, 6), (3, 40), (17, 100), (100, 100)])
def test_partial_row_range_leaves_other_rows(dtype, m_range):
    batch, m, n, k = 2, 100, 37, 21
    rng = np.random.default_rng(7)
    a = random_array((batch, m, k), dtype, rng)
    b = random_array((batch, k, n), dtype, rng)
    c = sentinel_like((batch, m, n), dtype)
    run_gemm(a, b, c, m_range=m_range)
    m_start, m_end = m_range
    assert_matches(c[:, m_start:m_end], (a @ b)[:, m_start:m_end], dtype)
    assert (c[:, :m_start] == -7).all() and (c[:, m_end:] == -7).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_k_zero_writes_zeros(dtype):
    a = np.empty((2, 9, 0), dtype)
    b = np.empty((2, 0, 21), dtype)
    c = sentinel_like((2, 9, 21), dtype)
    run_gemm(a, b, c, m_range=(2, 7))
    assert (c[:, 2:7] == 0).all()
    assert (c[:, :2] == -7).all() and (c[:, 7:] == -7).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_n_and_batch_write_nothing(dtype):
    a = np.ones((1, 4, 3), dtype)
    c = sentinel_like((1, 4, 0), dtype)
    run_gemm(a, np.ones((1, 3, 0), dtype), c)
    c = sentinel_like((0, 4, 5), dtype)
    run_gemm(np.ones((0, 4, 3), dtype), np.ones((0, 3, 5), dtype), c)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["row-major B", "column-contiguous B", "strided B"])
def test_skinny_row_ranges(dtype, layout, isa):
    """Row ranges of 1 .. MR rows take the skinny paths (B in place: the direct micro-kernel for a
    row-major B, dot tiles for a column-contiguous one; a B with neither stride 1 stays packed),
    with K across several K blocks and past a whole number of vectors, and N past whole panels."""
    mr, nr, lanes = TILES[isa][dtype]
    kc = gemm_blocking(dtype, isa).kc
    rng = np.random.default_rng(11)
    for k in (1, lanes + 3, kc + 5):
        m, n = mr + 3, nr * 2 + lanes + 1
        a = random_array((1, m, k), dtype, rng)
        b = {"row-major B": lambda: random_array((1, k, n), dtype, rng),
             "column-contiguous B": lambda: random_array((1, n, k), dtype, rng).transpose(0, 2, 1),
             "strided B": lambda: random_array((1, k, 2 * n), dtype, rng)[:, :, ::2]}[layout]()
        for lo, hi in ((0, 1), (2, 4), (1, 1 + mr)):
            c = sentinel_like((1, m, n), dtype)
            run_gemm(a, b, c, m_range=(lo, hi), isa=isa)
            assert_matches(c[:, lo:hi], (a @ b)[:, lo:hi], dtype)
            assert (c[:, :lo] == -7).all() and (c[:, hi:] == -7).all()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_narrow_gemms_read_a_in_place(dtype, isa):
    """A GEMM at most NARROW_PANELS register tiles wide (a convolution's rows by its channels)
    packs only B and reads A in place: every column residue, K over several K blocks, rows across
    several MC blocks, row and column ranges, A row-major or transposed (both read in place); an A
    with neither its rows nor its columns contiguous, and a B too deep for the workspace, take the
    packed path instead. Each against NumPy, the rest of C untouched."""
    blk = gemm_blocking(dtype, isa)
    rng = np.random.default_rng(13)
    m = blk.mc * 2 + blk.mr + 1
    for n in sorted({1, blk.lanes + 1, blk.nr, blk.nr + 1, NARROW_PANELS * blk.nr}):
        for k in (3, 2 * blk.kc + 5):
            for a in (random_array((1, m, k), dtype, rng), random_array((1, k, m), dtype, rng).transpose(0, 2, 1),
                      random_array((1, m, 2 * k), dtype, rng)[:, :, ::2]):
                b = random_array((1, k, n), dtype, rng)
                for rows, cols in (((0, m), (0, n)), ((blk.mr + 1, m - 3), (n // 3, n))):
                    c = sentinel_like((1, m, n), dtype)
                    run_gemm(a, b, c, m_range=rows, n_range=cols, isa=isa)
                    (r0, r1), (c0, c1) = rows, cols
                    assert_matches(c[:, r0:r1, c0:c1], (a @ b)[:, r0:r1, c0:c1], dtype)
                    untouched = np.ones(c.shape, bool)
                    untouched[:, r0:r1, c0:c1] = False
                    assert (c[untouched] == -7).all()
    deep = blk.kc * (blk.nc // blk.nr) + 1     # one panel of B no longer fits the workspace
    a, b = random_array((1, 2 * blk.mr + 1, deep), dtype, rng), random_array((1, deep, blk.nr), dtype, rng)
    c = sentinel_like((1, a.shape[1], blk.nr), dtype)
    run_gemm(a, b, c, isa=isa)
    assert_matches(c, a @ b, dtype)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_narrow_tile_matches_numpy(dtype, isa):
    """The module built with the tile for narrow GEMMs (``NARROW_TILES``, 8 x 32 f32 on AVX-512; the
    ISA's own tile elsewhere) on every path: skinny, narrow and packed row ranges, edge columns,
    several K blocks, transposed operands, strided C; against NumPy, the rest of C untouched."""
    blk = gemm_blocking(dtype, isa, narrow=True)
    with cpu_isa.forced(isa):
        module = compile_llvm(render_gemm(dtype, blk), name=f"gemm_{dtype}_narrow")
    gemm = _GEMM_SIGNATURE(module.address(gemm_function_name(dtype)))
    workspace = np.empty(gemm_workspace_elems(dtype, blk), dtype)
    rng = np.random.default_rng(14)
    for m, n, k in ((3, blk.nr, 7), (blk.mr * 3 + 1, blk.nr - 3, blk.kc + 9), (blk.mc + 5, 2 * blk.nr + 1, 40),
                    (9, 5, 300), (70, blk.nr, 2 * blk.kc + 1)):
        for ta, tb in ((False, False), (True, False), (False, True)):
            a = random_array((1, k, m), dtype, rng).transpose(0, 2, 1) if ta else random_array((1, m, k), dtype, rng)
            b = random_array((1, n, k), dtype, rng).transpose(0, 2, 1) if tb else random_array((1, k, n), dtype, rng)
            for c in (sentinel_like((1, m, n), dtype), sentinel_like((1, n, m), dtype).transpose(0, 2, 1)):
                rows = (1, m) if m > 1 else (0, m)
                gemm(c.ctypes.data, a.ctypes.data, b.ctypes.data, 1, m, n, k, *_element_strides(a),
                     *_element_strides(b), *_element_strides(c), *rows, 0, n, workspace.ctypes.data, None)
                assert_matches(c[:, rows[0]:], (a @ b)[:, rows[0]:], dtype)
                assert (c[:, :rows[0]] == -7).all()
    del module


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [(0, 3), (0, 40)], ids=["skinny", "packed"])
def test_column_ranges_leave_other_columns(dtype, rows):
    """A column range [n_start, n_end) writes those columns only (a thread's share of a skinny
    GEMM split over N), aligned to the register tile's width or not."""
    m, n, k = 40, 150, 37
    rng = np.random.default_rng(12)
    a = random_array((2, m, k), dtype, rng)
    for b in (random_array((2, k, n), dtype, rng), random_array((2, n, k), dtype, rng).transpose(0, 2, 1)):
        for lo, hi in ((0, 64), (64, 150), (5, 6), (17, 130), (150, 150)):
            c = sentinel_like((2, m, n), dtype)
            run_gemm(a, b, c, m_range=rows, n_range=(lo, hi))
            r0, r1 = rows
            assert_matches(c[:, r0:r1, lo:hi], (a @ b)[:, r0:r1, lo:hi], dtype)
            untouched = np.ones(c.shape, bool)
            untouched[:, r0:r1, lo:hi] = False
            assert (c[untouched] == -7).all()


# --- random shapes and layouts --------------------------------------------------------------------

@st.composite
def gemm_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    batch = draw(st.integers(1, 3))
    m, n, k = (draw(st.integers(0, 140)) for _ in range(3))
    m_start = draw(st.integers(0, m))
    m_end = draw(st.integers(m_start, min(m, m_start + draw(st.sampled_from([2, 8, 200])))))
    n_start = draw(st.integers(0, n))
    n_end = draw(st.integers(n_start, n))
    return dict(dtype=dtype, isa=draw(st.sampled_from(ISAS)), batch=batch, m=m, n=n, k=k, m_range=(m_start, m_end),
                n_range=(n_start, n_end),
                transpose_a=draw(st.booleans()), transpose_b=draw(st.booleans()),
                broadcast_b=draw(st.booleans()), seed=draw(st.integers(0, 2**31)))


@settings(max_examples=100, deadline=None)
@given(gemm_cases())
def test_random_cases(case):
    dtype, batch, m, n, k = case["dtype"], case["batch"], case["m"], case["n"], case["k"]
    rng = np.random.default_rng(case["seed"])
    a = (random_array((batch, k, m), dtype, rng).transpose(0, 2, 1) if case["transpose_a"]
         else random_array((batch, m, k), dtype, rng))
    b_batch = 1 if case["broadcast_b"] else batch
    b = (random_array((b_batch, n, k), dtype, rng).transpose(0, 2, 1) if case["transpose_b"]
         else random_array((b_batch, k, n), dtype, rng))
    b = np.broadcast_to(b, (batch, k, n))
    c = sentinel_like((batch, m, n), dtype)
    run_gemm(a, b, c, m_range=case["m_range"], n_range=case["n_range"], isa=case["isa"])
    (m_start, m_end), (n_start, n_end) = case["m_range"], case["n_range"]
    assert_matches(c[:, m_start:m_end, n_start:n_end], (a @ b)[:, m_start:m_end, n_start:n_end], dtype)
    untouched = np.ones(c.shape, bool)
    untouched[:, m_start:m_end, n_start:n_end] = False
    assert (c[untouched] == -7).all()


# --- threads --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_concurrent_calls_on_row_ranges(dtype):
    """Four threads, each with its own row range and workspace, at once (ctypes drops the GIL)."""
    batch, m, n, k = 2, 203, 150, 300
    rng = np.random.default_rng(8)
    a = random_array((batch, m, k), dtype, rng)
    b = random_array((batch, k, n), dtype, rng)
    c = sentinel_like((batch, m, n), dtype)
    bounds = [0, 50, 51, 140, m]
    errors = []
    start = threading.Barrier(len(bounds) - 1)

    def work(lo, hi):
        try:
            workspace = _workspace(dtype, ISAS[0])
            start.wait()
            for _ in range(3):
                run_gemm(a, b, c, m_range=(lo, hi), workspace=workspace)
        except Exception as exc:  # surfaced below: pytest does not see exceptions in threads
            errors.append(exc)

    _kernel(dtype, ISAS[0])  # compile before the threads start
    threads = [threading.Thread(target=work, args=(lo, hi)) for lo, hi in zip(bounds, bounds[1:])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert_matches(c, a @ b, dtype)


# --- API surface ----------------------------------------------------------------------------------

def test_names_and_workspace():
    assert gemm_function_name("float32") == "lumina_gemm_float32"
    for dtype in ("float32", "float64"):
        blk = gemm_blocking(dtype)
        assert gemm_workspace_elems(dtype) >= blk.mc * blk.kc + blk.kc * blk.nc
    assert gemm_workspace_elems("int32") == 0
    with pytest.raises(LuminaTypeError, match="float16"):
        render_gemm("float16")


@pytest.mark.parametrize("isa", ISAS)
def test_float_kernel_uses_the_isa_registers(isa):
    """The micro-kernel's FMAs run on the ISA's vector registers, and on nothing wider: a forced
    AVX2 build has no zmm register, a baseline one no ymm register, no FMA instruction and no call
    of libm's fmaf (a multiply and an add instead)."""
    with cpu_isa.forced(isa):
        text = render_gemm("float32")
        lanes = TILES[isa]["float32"][2]
        assert f"llvm.fmuladd.v{lanes}f32" in text
        asm = compile_llvm(text, name=f"gemm_asm_{isa}").asm()
    if isa == "avx512":
        assert "vfmadd" in asm and "%zmm" in asm
    elif isa == "avx2":
        assert "vfmadd" in asm and "%ymm" in asm and "%zmm" not in asm
    else:
        assert "%ymm" not in asm and "%zmm" not in asm and "vfmadd" not in asm and "fmaf" not in asm
        assert "mulps" in asm and "addps" in asm


# --- the JIT itself -------------------------------------------------------------------------------

LIBM_IR = """
declare float @tanhf(float)
declare float @erff(float)
declare float @expf(float)
declare float @powf(float, float)
declare double @tanh(double)

define float @libm_mix(float %x) {
  %t = call float @tanhf(float %x)
  %e = call float @erff(float %x)
  %x2 = call float @expf(float %x)
  %p = call float @powf(float %x, float 3.0)
  %s1 = fadd float %t, %e
  %s2 = fadd float %x2, %p
  %s = fadd float %s1, %s2
  ret float %s
}

define double @dtanh(double %x) {
  %t = call double @tanh(double %x)
  ret double %t
}
"""


def test_jit_resolves_libm():
    module = compile_llvm(LIBM_IR, name="libm")
    mix = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_float)(module.address("libm_mix"))
    dtanh = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(module.address("dtanh"))
    x = 0.75
    expected = math.tanh(x) + math.erf(x) + math.exp(x) + x**3
    assert mix(x) == pytest.approx(expected, rel=1e-6)
    assert dtanh(x) == pytest.approx(math.tanh(x), rel=1e-15)


def test_jit_errors():
    with pytest.raises(LuminaCodegenError, match="does not parse"):
        compile_llvm("define void @f( {", name="broken")
    with pytest.raises(LuminaCodegenError, match="does not verify"):
        compile_llvm("define i32 @f() {\n  %x = add i32 %x, 1\n  ret i32 %x\n}", name="cyclic")
    module = compile_llvm(LIBM_IR, name="libm")
    with pytest.raises(LuminaCodegenError, match="no function 'missing'"):
        module.address("missing")


def test_jit_compiles_concurrently():
    """compile_llvm may be called from several threads; each result works."""
    results, errors = [], []

    def work(i):
        try:
            text = f"define i64 @f{i}(i64 %x) {{\n  %y = mul i64 %x, {i + 2}\n  ret i64 %y\n}}\n"
            module = compile_llvm(text, name=f"m{i}")
            fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(module.address(f"f{i}"))
            results.append((i, fn(10), module))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted((i, value) for i, value, _ in results) == [(i, 10 * (i + 2)) for i in range(6)]


def test_host_target_description():
    description = host_target_description()
    assert description == host_target_description()
    assert "+" in description or "-" in description  # carries the CPU feature list


def _epilogue_reading(n_buffers: int):
    """A float32 [4, 8] @ [8, 8] GEMM whose epilogue adds ``n_buffers`` vectors [8] to C."""
    from lumina.codegen import expr as E
    from lumina.codegen.kernel import DOT_RESULT, Buffer, DotKernel, Epilogue, Operand
    from lumina.ir.dtypes import DType
    from lumina.ir.ops import Op
    f32, m, n, k = DType.float32, 4, 8, 8
    bv, mv, nv = E.Var("b", 1), E.Var("m", m), E.Var("n", n)
    index = E.affine_sum([(n, mv), (1, nv)])
    value = E.Load(DOT_RESULT, index, f32)
    for i in range(n_buffers):
        value = E.Bin(Op.ADD, value, E.Load(i, nv, f32), f32)
    buffers = (Buffer(f32, m * k), Buffer(f32, k * n)) + (Buffer(f32, n),) * n_buffers + (Buffer(f32, m * n),)
    return DotKernel("k_wide_epilogue", buffers, f32, 1, m, n, k, Operand(0, 0, (0, k, 1)), Operand(1, 0, (0, n, 1)),
                     epilogue=Epilogue((bv, mv, nv), value, tuple(range(2, 2 + n_buffers)), index))


def test_epilogue_pointers_follow_the_cpu_target():
    """The GEMM's epilogue function takes the CPU target's ``max_epilogue_inputs`` buffers plus the
    output; an epilogue reading more raises LuminaCodegenError instead of dropping a buffer."""
    from lumina.backends import cpu
    from lumina.backends.cpu.llvm import render_epilogue
    from lumina.backends.cpu.llvm_gemm import EPILOGUE_POINTERS
    from lumina.backends.target import MAX_EPILOGUE_INPUTS
    assert EPILOGUE_POINTERS == MAX_EPILOGUE_INPUTS + 1 == cpu.target().max_epilogue_inputs + 1
    compile_llvm(render_epilogue(_epilogue_reading(MAX_EPILOGUE_INPUTS), EPILOGUE_POINTERS), name="wide_epilogue")
    with pytest.raises(LuminaCodegenError, match="reads 9 buffers besides the dot result, more than the 8"):
        render_epilogue(_epilogue_reading(MAX_EPILOGUE_INPUTS + 1), EPILOGUE_POINTERS)
