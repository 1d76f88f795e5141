"""Render kernel descriptions (``codegen.kernel``) to Triton source, for CUDA GPUs.

``render(desc)`` returns a Python module's source defining ``@triton.jit def <desc.name>(p0, ...,
pN, <block sizes>)``: one pointer per buffer of ``desc.buffers`` (in that order; bools as ``uint8``
bytes, see ``triton_expr``) followed by ``tl.constexpr`` block sizes, which ``geometry(desc)`` names
along with the grid they imply and the configurations an autotuner may try. Every extent, stride
and offset is a literal in the source (descriptions are specialised to their shapes), and all index
arithmetic is int64.

* ``LoopKernel`` without reduction: one program per ``BLOCK`` of the flattened output.
* ``LoopKernel`` with ``reduce_vars``, and ``RowKernel``: one program per ``BLOCK_M`` output
  points (rows); the reduction (each stage of a ``RowKernel``) loops over its flattened extent in
  chunks of ``BLOCK_R``, folding a ``[BLOCK_M, BLOCK_R]`` accumulator that is reduced across
  lanes after the loop (sums in float32 for 16-bit floats, rounded once at the store; ``max`` with
  NaN propagation). ``reduce_outer`` is the CPU's schedule hint and changes nothing here.
* ``DotKernel``: one program per ``BLOCK_M x BLOCK_N`` tile of C per batch entry (one grid axis),
  ``tl.dot`` over ``BLOCK_K`` chunks of the strided operand views (IEEE float32, no TF32), then the
  epilogue evaluated on the accumulator tile and stored through ``Epilogue.index`` (or C stored at
  ``c_strides``). Integer GEMMs multiply and sum in registers (``tl.dot`` has no int32/int64 form).
  C is stored at ``DotKernel.c_buf`` (the first output).
* Row-fused ``DotKernel`` (``rows`` set: MatMul + bias + ReLU + LayerNorm, scores + softmax): one
  program per ``BLOCK_M`` rows of C in one batch entry (grid: batch x cdiv(M, BLOCK_M)), owning
  all N columns of them. It loops over N in ``BLOCK_N`` tiles, each the unfused tile's K loop,
  epilogue and store of C (row-major); then ``tl.debug_barrier()``, so that C stored by the other
  threads of the CTA is visible, and then the ``rows`` stages exactly as a ``RowKernel``'s (with
  ``BLOCK_R`` chunks) on the program's rows (flat row ``bat * M + m``), loading C back from L2.

The source calls only Triton builtins and its own ``@triton.jit`` helpers, never Triton's
standard library of jit functions (``tl.sum``, ``tl.zeros``, ``tl.cdiv``): those are decorated once,
interpreted or compiled, when ``triton.language`` is first imported, while the rendered modules are
decorated as the launcher asks, so one process can interpret a kernel and compile it for sm_90.

Lanes past the end of the domain compute on position 0 (their indices are clamped; a row-fused
GEMM's rows to the block's first row, which the program itself wrote) and only the stores are
masked, so loads need no masks and gathered indices stay in bounds.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...codegen import expr as E
from ...codegen.kernel import DOT_RESULT, DotKernel, LoopKernel, Reduce, RowKernel, Stage
from ...codegen.legalize import legalize
from .triton_expr import LEGALIZE, PRELUDE, REG, Emitter, round_to, scalar_text, to_memory

Desc = LoopKernel | RowKernel | DotKernel
GROUP_M = 8   # rows of GEMM tiles that consecutive programs walk together (L2 reuse)


@dataclass(frozen=True)
class Geometry:
    """How to launch a rendered kernel. ``params`` are its constexpr block sizes in signature order;
    ``grid(meta)`` the launch grid for block sizes ``meta``; ``configs`` the candidates an autotuner
    times (each the block sizes plus ``num_warps``), ``configs[0]`` the default without a GPU to time
    on. ``axes`` gives the grid: per axis, factors ``(extent, param)`` whose program counts
    multiply: ``cdiv(extent, meta[param])``, or ``extent`` when ``param`` is None."""
    params: tuple[str, ...]
    axes: tuple[tuple[tuple[int, str | None], ...], ...]
    configs: tuple[dict, ...]

    def grid(self, meta: dict) -> tuple[int, ...]:
        out = []
        for factors in self.axes:
            count = 1
            for n, p in factors:
                count *= -(-n // meta[p]) if p else n
            out.append(count)
        return tuple(out)   # a 0 (an empty output) means: launch nothing


def _pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def _size(vars) -> int:
    n = 1
    for v in vars:
        n *= v.extent
    return n


def geometry(desc: Desc) -> Geometry:
    """Block-size parameters, grid and autotuning candidates of ``render(desc)``."""
    if isinstance(desc, DotKernel) and desc.rows is not None:
        return _fused_dot_geometry(desc)
    if isinstance(desc, DotKernel):
        if not desc.dtype.is_float:   # register products: a [BM, BK, BN] tile, keep it small
            tiles = ((16, 16, 16, 4),)
        else:   # tl.dot needs 16 at least; float64 keeps BLOCK_K at 16 (registers)
            cap_m, cap_n = max(16, _pow2(desc.m)), max(16, _pow2(desc.n))
            cap_k = min(16 if desc.dtype is DType.float64 else 64, max(16, _pow2(desc.k)))
            tiles = tuple((min(bm, cap_m), min(bn, cap_n), min(bk, cap_k), w) for bm, bn, bk, w in
                          ((64, 64, 32, 4), (128, 64, 32, 4), (64, 128, 32, 4), (128, 128, 32, 8),
                           (32, 32, 32, 4), (16, 64, 64, 4), (64, 16, 64, 4)))
        configs = _dedupe({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "num_warps": w} for bm, bn, bk, w in tiles)
        tiles_axis = ((desc.m, "BLOCK_M"), (desc.n, "BLOCK_N"), (desc.batch, None))
        return Geometry(("BLOCK_M", "BLOCK_N", "BLOCK_K"), (tiles_axis,), configs)
    if isinstance(desc, LoopKernel) and not desc.reduce_vars:
        total = _size(desc.domain)
        cap = max(16, _pow2(total))
        configs = tuple({"BLOCK": min(b, cap), "num_warps": w} for b, w in ((1024, 4), (256, 2), (4096, 8)))
        return Geometry(("BLOCK",), (((total, "BLOCK"),),), _dedupe(configs))
    rows = _size(desc.domain)
    if isinstance(desc, LoopKernel):
        inner = _size(desc.reduce_vars)
    else:
        inner = max(_size(st.vars) for st in desc.stages)
    configs = []
    for br, elems, w in ((1024, 4096, 4), (256, 2048, 4), (4096, 8192, 8), (64, 1024, 4)):
        br = min(br, _pow2(inner))
        bm = min(max(1, elems // br), _pow2(rows))
        configs.append({"BLOCK_M": bm, "BLOCK_R": br, "num_warps": w})
    return Geometry(("BLOCK_M", "BLOCK_R"), (((rows, "BLOCK_M"),),), _dedupe(configs))


def _fused_dot_geometry(d: DotKernel) -> Geometry:
    """A row-fused GEMM: one program per BLOCK_M rows of a batch entry (few rows: few programs, so
    small BLOCK_M come first), looping over N in BLOCK_N tiles; the row stages' [BLOCK_M, BLOCK_R]
    chunks stay near the GEMM tile's size in registers."""
    inner = max((_size(st.vars) for st in d.rows.stages), default=1)
    if not d.dtype.is_float:   # register products: a [BM, BK, BN] tile, keep it small
        tiles = ((16, 16, 16, 4),)
        cap_m = cap_n = cap_k = 16
    else:   # tl.dot needs 16 at least; float64 keeps BLOCK_K at 16 (registers)
        tiles = ((32, 64, 32, 4), (16, 64, 64, 4), (16, 128, 32, 4), (32, 128, 32, 4), (64, 64, 32, 4),
                 (64, 128, 32, 8), (128, 64, 32, 8))
        cap_m, cap_n = max(16, _pow2(d.m)), max(16, _pow2(d.n))
        cap_k = min(16 if d.dtype is DType.float64 else 64, max(16, _pow2(d.k)))
    configs = []
    for bm, bn, bk, w in tiles:
        bm = min(bm, cap_m)
        br = min(max(16, 32 * 32 * w // bm), _pow2(inner))   # 32 elements a thread
        configs.append({"BLOCK_M": bm, "BLOCK_N": min(bn, cap_n), "BLOCK_K": min(bk, cap_k), "BLOCK_R": br,
                        "num_warps": w})
    axis = ((d.m, "BLOCK_M"), (d.batch, None))
    return Geometry(("BLOCK_M", "BLOCK_N", "BLOCK_K", "BLOCK_R"), (axis,), _dedupe(configs))


def _dedupe(configs) -> tuple[dict, ...]:
    out, seen = [], set()
    for c in configs:
        key = tuple(sorted(c.items()))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return tuple(out)


def render(desc: Desc) -> str:
    """The Python source of a module defining the ``@triton.jit`` kernel ``desc.name`` (and the
    helpers of ``triton_expr.PRELUDE``), ``desc`` legalized first (``triton_expr.LEGALIZE``).
    Raises ``LuminaCodegenError`` for a name that is not an identifier or an expression the
    renderer has no lowering for."""
    if not desc.name.isidentifier():
        raise LuminaCodegenError(f"triton: kernel name {desc.name!r} is not a Python identifier")
    params = geometry(desc).params
    desc = legalize(desc, LEGALIZE)
    lines = ["", "", "@triton.jit",
             f"def {desc.name}({', '.join([f'p{i}' for i in range(len(desc.buffers))] + [f'{p}: tl.constexpr' for p in params])}):"]
    lines += [f"    # {s}" for s in desc.source]
    if isinstance(desc, DotKernel):
        _dot(desc, lines)
    elif isinstance(desc, LoopKernel) and not desc.reduce_vars:
        _elementwise(desc, lines)
    elif isinstance(desc, LoopKernel):
        stage = Stage(desc.reduce_vars, desc.reduce_op, desc.value, len(desc.buffers) - 1,
                      E.position(desc.domain))
        _rows(desc, desc.domain, (stage,), lines)
    elif isinstance(desc, RowKernel):
        _rows(desc, desc.domain, desc.stages, lines)
    else:
        raise LuminaCodegenError(f"triton: cannot render a {type(desc).__name__}")
    return PRELUDE + "\n".join(lines) + "\n"


def _unflatten(lines: list[str], indent: str, vars, flat: str, names: dict) -> None:
    """Bind each of ``vars`` (row-major over the flat position ``flat``) to a named tensor."""
    stride = 1
    for i, v in reversed(list(enumerate(vars))):
        text = flat if stride == 1 else f"({flat} // {stride})"
        if i > 0:
            text = f"{text} % {v.extent}"
        name = f"v_{len(names)}_{v.name}" if f"v_{v.name}" in names.values() else f"v_{v.name}"
        name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
        lines.append(f"{indent}{name} = {text}")
        names[v] = name
        stride *= v.extent


def _pointer(i: int) -> str:
    return f"p{i}"


def _elementwise(k: LoopKernel, lines: list[str]) -> None:
    total = _size(k.domain)
    lines += ["    pid = tl.program_id(0).to(tl.int64)",
              "    flat = pid * BLOCK + tl.arange(0, BLOCK).to(tl.int64)",
              f"    mask = flat < {total}",
              "    flat = tl.where(mask, flat, 0)"]
    names: dict = {}
    _unflatten(lines, "    ", k.domain, "flat", names)
    value = Emitter(lines, "    ", names, _pointer, k.name).emit(k.value)
    out = len(k.buffers) - 1
    lines.append(f"    tl.store(p{out} + flat, {to_memory(value, k.out.dtype)}, mask=mask)")


def _identity(op: Reduce, dt: DType) -> str:
    """The starting value of a ``sum`` or ``max`` over ``dt`` (as a Python literal)."""
    if op is Reduce.SUM:
        return scalar_text(0, dt)
    if dt.is_float:
        return scalar_text(float("-inf"), dt)
    return scalar_text(-(1 << (8 * dt.itemsize - 1)), dt)


def _rows(desc, domain, stages, lines: list[str]) -> None:
    """Programs over BLOCK_M rows of ``domain``; each stage loops over its own flattened vars."""
    rows = _size(domain)
    lines += ["    pid = tl.program_id(0).to(tl.int64)",
              "    row = pid * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)[:, None]",
              f"    row_mask = row < {rows}",
              "    row = tl.where(row_mask, row, 0)"]
    _row_stages(desc, domain, stages, lines)


def _row_stages(desc, domain, stages, lines: list[str]) -> None:
    """The stages of a row kernel (or of a row-fused GEMM's ``rows``) for the program's rows: the
    lines already bind ``row`` (``[BLOCK_M, 1]`` int64, the flat row-major position over
    ``domain``, clamped to a valid row where masked) and ``row_mask`` (``[BLOCK_M, 1]``, the rows
    that exist). Each stage loops over its own flattened vars in chunks of ``BLOCK_R``."""
    names: dict = {}
    _unflatten(lines, "    ", domain, "row", names)
    outer = Emitter(lines, "    ", names, _pointer, desc.name)
    for j, st in enumerate(stages):
        inner = _size(st.vars)
        ind = "        "
        lines.append(f"    # stage {j}: {st.reduce_op.value if st.reduce_op else 'store'} over {inner} point(s)")
        if st.reduce_op is not None:
            acc_t = REG[st.value.dtype]
            lines.append(f"    acc = tl.full([BLOCK_M, BLOCK_R], {_identity(st.reduce_op, st.value.dtype)}, {acc_t})")
        lines += [f"    for r0 in range(0, {inner}, BLOCK_R):",
                  f"{ind}r = r0 + tl.arange(0, BLOCK_R).to(tl.int64)[None, :]",
                  f"{ind}r_mask = r < {inner}",
                  f"{ind}r = tl.where(r_mask, r, 0)"]
        local = dict(names)
        _unflatten(lines, ind, st.vars, "r", local)
        em = Emitter(lines, ind, local, _pointer, desc.name, prefix=f"s{j}_")
        value = em.emit(st.value)
        if st.reduce_op is None:
            index = em.emit(st.index)
            dt = desc.buffers[st.out].dtype
            lines.append(f"{ind}tl.store(p{st.out} + ({index} + tl.full([BLOCK_M, BLOCK_R], 0, tl.int64)), "
                         f"{to_memory(value, dt)}, mask=row_mask & r_mask)")
            continue
        dt = st.value.dtype
        ident = _identity(st.reduce_op, dt)
        if st.reduce_op is Reduce.SUM:
            lines.append(f"{ind}acc = acc + tl.where(r_mask, {value}, tl.full([], {ident}, {acc_t}))")
            total = "tl.reduce(acc, 1, _add)[:, None]"
        else:
            fn = "_max" if dt.is_float else "_imax"
            lines.append(f"{ind}acc = {fn}(acc, tl.where(r_mask, {value}, tl.full([], {ident}, {acc_t})))")
            total = f"tl.reduce(acc, 1, {fn})[:, None]"
        # a later stage reads the finished reduction at the dtype's precision, as if it were stored
        lines.append(f"    acc{j} = {round_to(total, dt)}")
        names[("acc", j)] = f"acc{j}"
        if st.out is not None:
            index = outer.emit(st.index)
            out_dt = desc.buffers[st.out].dtype
            lines.append(f"    tl.store(p{st.out} + ({index} + tl.full([BLOCK_M, 1], 0, tl.int64)), "
                         f"{to_memory(f'acc{j}', out_dt)}, mask=row_mask)")


def _dot(d: DotKernel, lines: list[str]) -> None:
    if d.rows is not None:
        _fused_dot(d, lines)
        return
    a, b = d.a, d.b
    # One grid axis (axis 1 is limited to 65535 programs): batch-major, and inside a batch entry
    # the tiles in groups of GROUP_M rows of tiles, so programs running together share A and B
    # panels in L2 (the ordering of Triton's matmul tutorial).
    lines += ["    pid = tl.program_id(0).to(tl.int64)",
              f"    tiles_m = ({d.m} + BLOCK_M - 1) // BLOCK_M",
              f"    tiles_n = ({d.n} + BLOCK_N - 1) // BLOCK_N",
              "    bat = pid // (tiles_m * tiles_n)",
              "    tile = pid % (tiles_m * tiles_n)",
              f"    group = tile // ({GROUP_M} * tiles_n)",
              f"    rows_in_group = tl.minimum(tiles_m - group * {GROUP_M}, {GROUP_M})",
              f"    tile_m = group * {GROUP_M} + (tile % ({GROUP_M} * tiles_n)) % rows_in_group",
              f"    tile_n = (tile % ({GROUP_M} * tiles_n)) // rows_in_group",
              "    m = tile_m * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)",
              "    n = tile_n * BLOCK_N + tl.arange(0, BLOCK_N).to(tl.int64)",
              f"    m_ok = m < {d.m}",
              f"    n_ok = n < {d.n}",
              "    m = tl.where(m_ok, m, 0)",
              "    n = tl.where(n_ok, n, 0)",
              f"    a_row = p{a.buf} + ({a.offset} + bat * {a.strides[0]} + m * {a.strides[1]})",
              f"    b_col = p{b.buf} + ({b.offset} + bat * {b.strides[0]} + n * {b.strides[2]})"]
    _dot_tile(d, lines, "    ", "t")


def _fused_dot(d: DotKernel, lines: list[str]) -> None:
    """A row-fused GEMM: each program owns BLOCK_M rows of C in one batch entry and all N columns.
    It computes and stores C one BLOCK_N tile at a time (the unfused tile's code, epilogue
    included), then, once the CTA's threads have all stored (``tl.debug_barrier``: C written by
    the other threads must be visible), runs ``d.rows``' stages on its rows, reading C back while
    it is still in L2."""
    rows = d.rows
    if len(rows.domain) != 1 or rows.domain[0].extent != d.batch * d.m:
        raise LuminaCodegenError(f"triton: kernel {d.name}: a row-fused GEMM's rows must be one loop over "
                                 f"batch * M = {d.batch * d.m} rows, got {rows.domain}")
    if d.c_strides not in (None, (d.m * d.n, d.n, 1)):
        raise LuminaCodegenError(f"triton: kernel {d.name}: a row-fused GEMM stores C row-major, got "
                                 f"c_strides {d.c_strides}")
    a, b = d.a, d.b
    # Batch-major programs; masked rows compute on the block's first row (its own, always valid),
    # so the stages' unmasked loads of C read what this program wrote.
    lines += ["    pid = tl.program_id(0).to(tl.int64)",
              f"    tiles_m = ({d.m} + BLOCK_M - 1) // BLOCK_M",
              "    bat = pid // tiles_m",
              "    tile_m = pid % tiles_m",
              "    m = tile_m * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)",
              f"    m_ok = m < {d.m}",
              "    m = tl.where(m_ok, m, tile_m * BLOCK_M)",
              f"    a_row = p{a.buf} + ({a.offset} + bat * {a.strides[0]} + m * {a.strides[1]})",
              f"    for n0 in range(0, {d.n}, BLOCK_N):",
              "        n = n0 + tl.arange(0, BLOCK_N).to(tl.int64)",
              f"        n_ok = n < {d.n}",
              "        n = tl.where(n_ok, n, 0)",
              f"        b_col = p{b.buf} + ({b.offset} + bat * {b.strides[0]} + n * {b.strides[2]})"]
    _dot_tile(d, lines, "        ", "e")
    lines += ["    # C's rows are final: the row stages read them back",
              "    tl.debug_barrier()",
              f"    row = (bat * {d.m} + m)[:, None]",
              "    row_mask = m_ok[:, None]"]
    _row_stages(d, rows.domain, rows.stages, lines)


def _dot_tile(d: DotKernel, lines: list[str], ind: str, prefix: str) -> None:
    """One ``BLOCK_M x BLOCK_N`` tile of C at rows ``m`` and columns ``n`` (clamped, with masks
    ``m_ok`` and ``n_ok``) of batch entry ``bat``, from the operand pointers ``a_row`` and
    ``b_col``: the K loop, the epilogue (temporaries named ``prefix``) and the store, at ``ind``."""
    float_ = d.dtype.is_float
    acc_t = "tl.float64" if d.dtype is DType.float64 else ("tl.float32" if float_ else REG[d.dtype])
    a, b = d.a, d.b
    lines += [f"{ind}acc = tl.full([BLOCK_M, BLOCK_N], 0, {acc_t})",
              f"{ind}for k0 in range(0, {d.k}, BLOCK_K):",
              f"{ind}    k = k0 + tl.arange(0, BLOCK_K).to(tl.int64)",
              f"{ind}    k_ok = k < {d.k}",
              f"{ind}    x = tl.load(a_row[:, None] + k[None, :] * {a.strides[2]}, mask=k_ok[None, :], other=0)",
              f"{ind}    y = tl.load(b_col[None, :] + k[:, None] * {b.strides[1]}, mask=k_ok[:, None], other=0)"]
    if float_:
        precision = ', input_precision="ieee"' if d.dtype in (DType.float32, DType.float64) else ""
        lines.append(f"{ind}    acc = tl.dot(x, y, acc{precision}, out_dtype={acc_t})")
    else:
        lines.append(f"{ind}    acc += tl.reduce(x[:, :, None] * y[None, :, :], 1, _add)")
    lines.append(f"{ind}c = {round_to('acc', d.dtype)}")
    lines.append(f"{ind}mask = m_ok[:, None] & n_ok[None, :]")
    ep = d.epilogue
    if ep is None:
        cs = d.c_strides if d.c_strides is not None else (d.m * d.n, d.n, 1)
        lines.append(f"{ind}tl.store(p{d.c_buf} + (bat * {cs[0]} + m[:, None] * {cs[1]} + n[None, :] * {cs[2]}), "
                     f"{to_memory('c', d.dtype)}, mask=mask)")
        return
    bv, mv, nv = ep.vars
    lines += [f"{ind}mm = m[:, None]", f"{ind}nn = n[None, :]"]
    names = {bv: "bat", mv: "mm", nv: "nn"}

    def out_load(load: E.Load):
        return "c" if load.buf == DOT_RESULT else None

    em = Emitter(lines, ind, names, lambda i: f"p{ep.buffers[i]}", d.name, load_override=out_load, prefix=prefix)
    value = em.emit(ep.value)
    index = em.emit(ep.index)
    lines.append(f"{ind}tl.store(p{d.c_buf} + ({index} + tl.full([BLOCK_M, BLOCK_N], 0, tl.int64)), "
                 f"{to_memory(value, d.dtype)}, mask=mask)")
