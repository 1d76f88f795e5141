"""Render kernel descriptions (``codegen.kernel``) to Metal Shading Language compute kernels.

``render(desc)`` is the MSL source of one ``kernel void <desc.name>(...)``; ``geometry(desc)`` is
how to launch it (``dispatchThreadgroups`` with ``threadgroups`` x ``threads`` threads, 1-D). Every
kernel takes its buffers in ``desc.buffers`` order (``[[buffer(i)]]``, inputs ``const device``, the
last ``desc.n_outputs`` writable; past 31 buffers, one argument buffer: ``uses_argument_buffer``),
then its position as ``uint tg [[threadgroup_position_in_grid]]`` and ``uint lid
[[thread_position_in_threadgroup]]``. Integer index arithmetic is 64-bit (``long``), as in the description.

* elementwise ``LoopKernel``: one thread per output element (``tg * threads + lid``, the row-major
  output position; threads past the end return);
* reducing ``LoopKernel``: one threadgroup per output element; each thread folds a strided slice
  of the reduction into a register, then a tree in threadgroup memory with
  ``threadgroup_barrier(mem_flags::mem_threadgroup)`` between levels combines them. ``reduce_outer``
  is a CPU schedule and changes nothing here;
* ``RowKernel``: one threadgroup per outer point; stages run in order, each a strided loop over
  its own variables; a reducing stage ends in a threadgroup reduction whose result (``Acc(j)``) every
  thread reads back from threadgroup memory;
* either of them with loops of at most ``SERIAL_MAX`` elements (a bias gradient over a small batch,
  a 10-class softmax): one thread per output point, its loops run by that thread alone, a block
  of points per threadgroup (``serial``);
* ``DotKernel``: a classic tiled GEMM: one threadgroup of ``TILE`` x ``TILE`` threads per output
  tile of one batch entry; each step stages a ``TILE`` x ``TILE`` tile of A and of B (read through
  their strided ``Operand`` views) in threadgroup memory; each thread accumulates one C[b, m, n]
  (float32 for float dtypes, with ``fma``), then applies the ``Epilogue`` (``Load(DOT_RESULT)`` is the
  rounded dot result) and stores at ``c_strides`` or the epilogue's index, into C (``desc.c_buf``);
* row-fused ``DotKernel`` (``rows``: GEMM + bias + ReLU + LayerNorm, scores + softmax): one
  threadgroup of ``TILE`` x ``TILE`` threads per (batch entry, ``TILE`` rows of C), owning those
  rows whole. It walks the N tiles (each the tiled K loop, the epilogue and the store of C above),
  then ``threadgroup_barrier(mem_flags::mem_device)`` so that the C every thread stored is visible
  to the group, then runs the ``RowKernel`` stages on each of its rows in turn (``gid`` = b * M +
  m; rows past M skipped), all ``TILE * TILE`` threads as the stages' lanes, with the row
  kernels' threadgroup reductions. C is an output written and read back, so it is not ``const``.

Numerics follow ``backends.cpu.llvm`` (see ``msl_expr``): NaN-propagating max, 16-bit floats computed
in float32 and rounded after every op (an ``Acc`` of a 16-bit stage is rounded, as its store would
be), bool as bytes. Sums associate differently (a tree, not a
loop), so float results agree with the CPU to rounding, integers exactly. Metal has no float64:
a kernel with a float64 buffer or value raises ``LuminaCodegenError`` naming the kernel and dtype.
The host must compile with fast math off (``backends.metal.device`` does), or ``isnan`` folds away.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import LuminaCodegenError
from ...ir.dtypes import DType
from ...codegen import expr as E
from ...codegen.kernel import DOT_RESULT, DotKernel, LoopKernel, Reduce, RowKernel
from ...codegen.legalize import legalize
from .msl_expr import LEGALIZE, Emitter, identity, int_literal, mem, reg

MAX_BUFFER_ARGUMENTS = 31   # Metal's buffer argument table; wider kernels take an argument buffer
MAX_THREADS = 256      # threads per threadgroup of a reduction or row kernel
TILE = 16              # a DotKernel's output tile is TILE x TILE, its K step TILE
ELEMENTWISE_THREADS = 256
SERIAL_MAX = 32        # reductions and rows this short: one thread per output point, no threadgroup
_BARRIER = "threadgroup_barrier(mem_flags::mem_threadgroup);"

Kernel = LoopKernel | RowKernel | DotKernel


@dataclass(frozen=True)
class Geometry:
    """A 1-D launch: ``threadgroups`` groups of ``threads`` threads each
    (``dispatchThreadgroups(MTLSize(threadgroups,1,1), MTLSize(threads,1,1))``)."""
    threadgroups: int
    threads: int


def _size(vars) -> int:
    n = 1
    for v in vars:
        n *= v.extent
    return n


def _pow2_at_least(n: int, cap: int) -> int:
    p = 1
    while p < n and p < cap:
        p *= 2
    return p


def _widest(desc: LoopKernel | RowKernel) -> int:
    """The longest inner loop: the reduction, or the largest stage."""
    if isinstance(desc, RowKernel):
        return max((_size(st.vars) for st in desc.stages), default=1)
    return _size(desc.reduce_vars)


def serial(desc: Kernel) -> bool:
    """Whether each thread computes whole output points of ``desc`` (an elementwise kernel, or
    reductions and rows of at most ``SERIAL_MAX`` elements: a block of points per threadgroup, no
    barriers) rather than a threadgroup cooperating on one point."""
    if isinstance(desc, DotKernel):
        return False
    if isinstance(desc, LoopKernel) and not desc.reduce_vars:
        return True
    return _widest(desc) <= SERIAL_MAX


def geometry(desc: Kernel) -> Geometry:
    """How to launch ``render(desc)``."""
    if isinstance(desc, DotKernel) and desc.rows is not None:
        return Geometry(desc.batch * -(-desc.m // TILE), TILE * TILE)
    if isinstance(desc, DotKernel):
        tiles = -(-desc.m // TILE) * -(-desc.n // TILE)
        return Geometry(desc.batch * tiles, TILE * TILE)
    if not isinstance(desc, (LoopKernel, RowKernel)):
        raise LuminaCodegenError(f"metal: cannot render a {type(desc).__name__}")
    points = _size(desc.domain)
    if serial(desc):
        threads = min(ELEMENTWISE_THREADS, max(points, 1))
        return Geometry(-(-points // threads), threads)
    return Geometry(points, _pow2_at_least(_widest(desc), MAX_THREADS))


def _exprs(desc: Kernel):
    if isinstance(desc, LoopKernel):
        return [desc.value]
    if isinstance(desc, RowKernel):
        return [e for st in desc.stages for e in (st.value, st.index) if e is not None]
    out = [desc.epilogue.value, desc.epilogue.index] if desc.epilogue is not None else []
    return out + (_exprs(desc.rows) if desc.rows is not None else [])


def uses_float64(desc: Kernel) -> bool:
    """Whether ``desc`` has a float64 buffer or computes a float64 value anywhere: such a kernel
    cannot run on Metal (``render`` raises), so a Metal runtime must place it elsewhere."""
    if any(b.dtype is DType.float64 for b in desc.buffers) or getattr(desc, "dtype", None) is DType.float64:
        return True
    seen, stack = set(), _exprs(desc)
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if getattr(e, "dtype", None) is DType.float64:
            return True
        stack.extend(E.children(e))
    return False


def uses_argument_buffer(desc: Kernel) -> bool:
    """Whether ``desc`` has more buffers than Metal's argument table holds (31): then its kernel
    takes one ``constant lum_args& args [[buffer(0)]]``, a struct of the buffers' device pointers
    in ``desc.buffers`` order (Metal 3 argument buffers: the host writes each buffer's
    ``gpuAddress``), instead of one ``[[buffer(i)]]`` per buffer."""
    return len(desc.buffers) > MAX_BUFFER_ARGUMENTS


def render(desc: Kernel) -> str:
    """The MSL source (``#include <metal_stdlib>``, helpers, one ``kernel void desc.name``) of
    ``desc``, legalized first (``msl_expr.LEGALIZE``). Raises ``LuminaCodegenError`` for float64 or
    an op Metal cannot express."""
    geo = geometry(desc)
    desc = legalize(desc, LEGALIZE)
    inputs = len(desc.buffers) - desc.n_outputs
    names = {i: f"b{i}" for i in range(len(desc.buffers))}
    pointers = [f"{'const ' if i < inputs else ''}device {mem(buf.dtype, desc.name)}* b{i}"
                for i, buf in enumerate(desc.buffers)]
    struct, prologue = "", []
    if uses_argument_buffer(desc):
        struct = "struct lum_args {\n" + "".join(f"    {p};\n" for p in pointers) + "};\n\n"
        params = ["constant lum_args& args [[buffer(0)]]"]
        prologue = [f"    {p} = args.b{i};" for i, p in enumerate(pointers)]
    else:
        params = [f"{p} [[buffer({i})]]" for i, p in enumerate(pointers)]
    params += ["uint tg [[threadgroup_position_in_grid]]", "uint lid [[thread_position_in_threadgroup]]"]
    if isinstance(desc, DotKernel):
        em = _dot(desc, names)
    elif isinstance(desc, RowKernel):
        em = _row(desc, names, geo.threads, serial(desc))
    elif desc.reduce_vars:
        em = _reduction(desc, names, geo.threads, serial(desc))
    else:
        em = _elementwise(desc, names, geo.threads)
    comment = "".join(f"// {line}\n" for line in desc.source)
    signature = f"kernel void {desc.name}(" + ",\n    ".join(params) + ")"
    helpers = em.source_helpers()
    return ("#include <metal_stdlib>\nusing namespace metal;\n\n" + (helpers + "\n\n" if helpers else "")
            + struct + f"{comment}// launch: {geo.threadgroups} threadgroups x {geo.threads} threads\n"
            + signature + " {\n" + "\n".join(prologue + em.lines) + "\n}\n")


def _point(em: Emitter, domain, threads: int, alone: bool) -> None:
    """Bind ``gid`` (the output point, row-major) and the domain's variables: thread ``lid`` of
    block ``tg`` when each thread has a point of its own (``alone``), else the threadgroup's."""
    if alone:
        em.line(f"const long gid = long(tg) * {threads} + long(lid);")
        em.line(f"if (gid >= {int_literal(_size(domain), DType.int64)}) return;")
    else:
        em.line("const long gid = long(tg);")
    em.unravel(domain, "gid")


def _elementwise(k: LoopKernel, names, threads: int) -> Emitter:
    em = Emitter(k.name, names)
    _point(em, k.domain, threads, True)
    em.store(len(k.buffers) - 1, "gid", em.expr(k.value), k.out.dtype)
    return em


def _tree(em: Emitter, op: Reduce, acc: str, dt: DType, threads: int, scratch: str) -> str:
    """Combine every thread's ``acc`` through ``scratch`` (threadgroup memory): the group's result
    in thread 0's ``scratch[0]``, returned as an expression valid after the final barrier."""
    em.line(f"{scratch}[lid] = {acc};")
    em.line(_BARRIER)
    if threads > 1:
        with em.block(f"for (uint s = {threads // 2}; s > 0; s >>= 1)"):
            em.line(f"if (lid < s) {scratch}[lid] = {em.combine(op, f'{scratch}[lid]', f'{scratch}[lid + s]', dt)};")
            em.line(_BARRIER)
    return f"{scratch}[0]"


def _loop(em: Emitter, vars, lanes: int | None):
    """A loop over ``vars`` (flattened as ``j``): all of it, or with ``lanes`` threads sharing it,
    this thread's strided part."""
    n = int_literal(_size(vars), DType.int64)
    if lanes is None:
        return em.block(f"for (long j = 0; j < {n}; ++j)")
    return em.block(f"for (long j = lid; j < {n}; j += {lanes})")


def _fold(em: Emitter, vars, op: Reduce, value, lanes: int | None, acc: str) -> None:
    """``acc`` (declared) folded with ``value`` over this thread's share of ``vars``."""
    em.hoist([value], vars)
    with _loop(em, vars, lanes):
        em.unravel(vars, "j")
        em.line(f"{acc} = {em.combine(op, acc, em.expr(value), value.dtype)};")


def _scratch(em: Emitter, dtypes, threads: int) -> dict[str, str]:
    """One threadgroup array of ``threads`` registers per register type among ``dtypes``."""
    arrays = {}
    for dt in dtypes:
        ty = reg(dt, em.name)
        if ty not in arrays:
            arrays[ty] = f"lum_scratch_{ty}"
            em.line(f"threadgroup {ty} {arrays[ty]}[{threads}];")
    return arrays


def _reduction(k: LoopKernel, names, threads: int, alone: bool) -> Emitter:
    em = Emitter(k.name, names)
    dt = k.value.dtype
    out = len(k.buffers) - 1
    scratch = None if alone else _scratch(em, [dt], threads)[reg(dt, k.name)]
    _point(em, k.domain, threads, alone)
    em.line(f"{reg(dt, k.name)} acc = {identity(k.reduce_op, dt)};")
    _fold(em, k.reduce_vars, k.reduce_op, k.value, None if alone else threads, "acc")
    if alone:
        em.store(out, "gid", "acc", k.out.dtype)
        return em
    total = _tree(em, k.reduce_op, "acc", dt, threads, scratch)
    with em.block("if (lid == 0)"):
        em.store(out, "gid", total, k.out.dtype)
    return em


def _row(k: RowKernel, names, threads: int, alone: bool) -> Emitter:
    em = Emitter(k.name, names)
    scratch = {} if alone else _scratch(em, _reduced_dtypes(k), threads)
    _point(em, k.domain, threads, alone)
    _stages(em, k, None if alone else threads, scratch)
    return em


def _reduced_dtypes(k: RowKernel) -> list[DType]:
    return [st.value.dtype for st in k.stages if st.reduce_op]


def _stages(em: Emitter, k: RowKernel, lanes: int | None, scratch: dict[str, str]) -> None:
    """The stages of ``k`` for one row, its domain's variables already bound: each stage's loop
    shared by ``lanes`` threads of the group (reductions end in a threadgroup tree through
    ``scratch``, every thread of the group reaching its barriers), or with ``lanes`` None run by
    this thread alone."""
    alone = lanes is None
    for j, st in enumerate(k.stages):
        em.line(f"// stage {j}: {st.reduce_op.value if st.reduce_op else 'store'} over "
                f"{', '.join(v.name for v in st.vars) or '()'}")
        if st.out is not None and not k.n_inputs <= st.out < len(k.buffers):
            raise LuminaCodegenError(f"metal: kernel {k.name}: stage {j} stores to buffer {st.out}, "
                                     f"expected an output in [{k.n_inputs}, {len(k.buffers)})")
        if not st.reduce_op:
            em.hoist([st.value, st.index], st.vars)
            with _loop(em, st.vars, lanes):
                em.unravel(st.vars, "j")
                em.store(st.out, em.expr(st.index), em.expr(st.value), k.buffers[st.out].dtype)
            continue
        dt = st.value.dtype
        ty = reg(dt, k.name)
        acc = em.fresh(f"acc{j}")
        em.line(f"{ty} {acc} = {identity(st.reduce_op, dt)};")
        _fold(em, st.vars, st.reduce_op, st.value, lanes, acc)
        if alone:
            em.line(f"const {ty} {acc}_all = {em.round(acc, dt)};")
        else:
            total = _tree(em, st.reduce_op, acc, dt, lanes, scratch[ty])
            # every thread reads the result; the barrier keeps the next stage from overwriting it early
            em.line(f"const {ty} {acc}_all = {em.round(total, dt)};")
            em.line(_BARRIER)
        em.accs[j] = f"{acc}_all"
        if st.out is not None and alone:
            em.store(st.out, em.expr(st.index), f"{acc}_all", k.buffers[st.out].dtype)
        elif st.out is not None:
            with em.block("if (lid == 0)"):
                em.store(st.out, em.expr(st.index), f"{acc}_all", k.buffers[st.out].dtype)


def _linear(terms, const: int = 0) -> str:
    """``sum(name * coefficient) + const`` as readable MSL (no zero terms, no ``* 1``)."""
    parts = [name if c == 1 else f"{name} * {c}" for name, c in terms if c]
    if const or not parts:
        parts.append(str(const))
    return " + ".join(parts)


def _dot(k: DotKernel, names) -> Emitter:
    acc_dt = DType.float32 if k.dtype.is_float else k.dtype
    reg(k.dtype, k.name)
    ty = reg(acc_dt, k.name)
    em = Emitter(k.name, names)
    tiles_n, tiles_m = -(-k.n // TILE), -(-k.m // TILE)
    em.line(f"threadgroup {ty} lum_a[{TILE * TILE}];   // A[m, k] tile, row-major")
    em.line(f"threadgroup {ty} lum_b[{TILE * TILE}];   // B[k, n] tile, row-major")
    if k.rows is not None:
        return _dot_rows(k, em, names, ty)
    em.line(f"const long bi = {'long(tg) / ' + str(tiles_m * tiles_n) if k.batch > 1 else '0'};")
    tile_m = f"long(tg) / {tiles_n}" if tiles_n > 1 else "long(tg)"
    tile_m = f"({tile_m}) % {tiles_m}" if k.batch > 1 else tile_m
    em.line(f"const long m = {tile_m + f' * {TILE} + ' if tiles_m > 1 else ''}lid / {TILE};")
    em.line(f"const long n = {f'long(tg) % {tiles_n} * {TILE} + ' if tiles_n > 1 else ''}lid % {TILE};")
    _dot_tile(em, k, names, ty)
    return em


def _dot_tile(em: Emitter, k: DotKernel, names, ty: str) -> None:
    """This thread's C[bi, m, n] (``bi``, ``m``, ``n`` bound; every thread of the group runs it,
    as its K loop has barriers): the tiled K loop, then the epilogue and the store of C."""
    em.line(f"{ty} acc = 0;")

    def operand(op, row: str, col: str) -> str:
        return _linear([("bi", op.strides[0]), (row, op.strides[1]), (col, op.strides[2])], op.offset)

    a_dt, b_dt = k.buffers[k.a.buf].dtype, k.buffers[k.b.buf].dtype
    with em.block(f"for (long k0 = 0; k0 < {k.k}; k0 += {TILE})"):
        em.line(f"const long ka = k0 + lid % {TILE}, kb = k0 + lid / {TILE};")
        em.line(f"lum_a[lid] = m < {k.m} && ka < {k.k} ? {ty}({em.load(k.a.buf, operand(k.a, 'm', 'ka'), a_dt)}) : 0;")
        em.line(f"lum_b[lid] = kb < {k.k} && n < {k.n} ? {ty}({em.load(k.b.buf, operand(k.b, 'kb', 'n'), b_dt)}) : 0;")
        em.line(_BARRIER)
        with em.block(f"for (uint kk = 0; kk < {TILE}; ++kk)"):
            a, b = f"lum_a[lid / {TILE} * {TILE} + kk]", f"lum_b[kk * {TILE} + lid % {TILE}]"
            em.line(f"acc = metal::fma({a}, {b}, acc);" if k.dtype.is_float else f"acc += {a} * {b};")
        em.line(_BARRIER)
    out = k.c_buf
    with em.block(f"if (m < {k.m} && n < {k.n})"):
        em.line(f"const {reg(k.dtype, k.name)} c = {em.round('acc', k.dtype)};")
        ep = k.epilogue
        if ep is None:
            cs = k.c_strides or (k.m * k.n, k.n, 1)
            em.store(out, _linear([("bi", cs[0]), ("m", cs[1]), ("n", cs[2])]), "c", k.out.dtype)
        else:
            # epilogue position i names buffer ep.buffers[i]; DOT_RESULT is the dot result
            em.buffers = {i: names[b] for i, b in enumerate(ep.buffers)} | {out: names[out]}
            em.special = {DOT_RESULT: "c"}
            for var, name in zip(ep.vars, ("bi", "m", "n")):
                em.vars[var] = name
            em.store(out, em.expr(ep.index), em.expr(ep.value), k.out.dtype)
            em.buffers, em.special = names, {}


def _dot_rows(k: DotKernel, em: Emitter, names, ty: str) -> Emitter:
    """A row-fused GEMM: the group owns TILE whole rows of C (all N columns) of one batch entry. It
    computes them tile by tile along N, stores C, waits until every thread's C is visible in device
    memory, then runs the row stages on each of its rows in turn with all its threads as lanes."""
    rows, lanes = k.rows, TILE * TILE
    row_major = k.c_strides in (None, (k.m * k.n, k.n, 1))
    if rows.buffers != k.buffers or len(rows.domain) > 1 or _size(rows.domain) != k.batch * k.m or not row_major:
        raise LuminaCodegenError(f"metal: kernel {k.name}: the row stages must run over the dot's "
                                 f"buffers and one variable over the {k.batch * k.m} rows of its "
                                 f"row-major C; got c_strides {k.c_strides}, domain {rows.domain}")
    em.names |= {"m0", "n0", "row"}
    scratch = _scratch(em, _reduced_dtypes(rows), lanes)
    tiles_m = -(-k.m // TILE)
    em.line(f"const long bi = {f'long(tg) / {tiles_m}' if k.batch > 1 else '0'};")
    tile_m = ("long(tg)" if k.batch == 1 else f"long(tg) % {tiles_m}") if tiles_m > 1 else "0"
    em.line(f"const long m0 = {tile_m if tile_m == '0' else f'{tile_m} * {TILE}'};   // this group's first row")
    em.line(f"const long m = m0 + lid / {TILE};")
    with em.block(f"for (long n0 = 0; n0 < {k.n}; n0 += {TILE})"):
        em.line(f"const long n = n0 + lid % {TILE};")
        _dot_tile(em, k, names, ty)
    em.line("// C written by the other threads of the group is read below")
    em.line("threadgroup_barrier(mem_flags::mem_device);")
    if k.m <= TILE:
        bound = f"row < {k.m}"
    elif k.m % TILE == 0:
        bound = f"row < m0 + {TILE}"
    else:
        bound = f"row < m0 + {TILE} && row < {k.m}"
    # the same row in every thread at once, so the stages' barriers are reached by all of them
    with em.block(f"for (long row = m0; {bound}; ++row)"):
        em.line(f"const long gid = {'bi * ' + str(k.m) + ' + ' if k.batch > 1 else ''}row;")
        em.unravel(rows.domain, "gid")
        _stages(em, rows, lanes, scratch)
    return em
