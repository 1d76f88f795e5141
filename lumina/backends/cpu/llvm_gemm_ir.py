"""IR-building helpers shared by the CPU GEMM generators (``llvm_gemm``, ``llvm_gemm_unpacked``,
``llvm_gemm_skinny``): counted loops, element pointers, alignment, function definitions, the loops
over a call's batch entries and K blocks, on ``llvmlite.ir``."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from llvmlite import ir

I1 = ir.IntType(1)
I64 = ir.IntType(64)
PTR = ir.PointerType()

ALIGN_BYTES = 64
"""Packed panels start on a cache line, so micro-panel loads never split lines."""


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


@contextmanager
def for_range(b: ir.IRBuilder, start, stop, step=1, name: str = "i",
              vectorize: bool = True) -> Iterator[ir.Value]:
    """Emit ``for (iv = start; iv < stop; iv += step) { <body of the with-block> }``; yield iv.

    ``vectorize=False`` tells LLVM's loop vectorizer to leave the loop alone (see no_vectorize).
    """
    start = i64(start) if isinstance(start, int) else start
    stop = i64(stop) if isinstance(stop, int) else stop
    step = i64(step) if isinstance(step, int) else step
    preheader = b.block
    header = b.append_basic_block(f"{name}.header")
    body = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.done")
    b.branch(header)
    b.position_at_end(header)
    iv = b.phi(I64, name=name)
    iv.add_incoming(start, preheader)
    b.cbranch(b.icmp_signed("<", iv, stop), body, done)
    b.position_at_end(body)
    yield iv
    iv.add_incoming(b.add(iv, step, name=f"{name}.next", flags=["nsw"]), b.block)
    backedge = b.branch(header)
    if not vectorize:
        backedge.set_metadata("llvm.loop", no_vectorize(b.module))
    b.position_at_end(done)


def no_vectorize(module: ir.Module) -> ir.MDValue:
    """A fresh loop ID carrying ``llvm.loop.vectorize.enable = false``.

    Packing loops with a runtime stride would otherwise be vectorized over k into AVX-512
    gathers and scatters, which are several times slower than scalar copies on Zen 4.
    """
    return loop_id(module, module.add_metadata([ir.MetaDataString(module, "llvm.loop.vectorize.enable"),
                                                ir.Constant(I1, 0)]))


def no_unroll(module: ir.Module) -> ir.MDValue:
    """A fresh loop ID carrying ``llvm.loop.unroll.disable``: the loop is left for the vectorizer
    instead of being unrolled away first (see ``llvm_expr.KernelBuilder.nest``)."""
    return loop_id(module, module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")]))


def loop_id(module: ir.Module, *properties: ir.MDValue) -> ir.MDValue:
    """A fresh loop ID (``!llvm.loop``) listing ``properties``."""
    # A loop ID must list itself first; add_metadata cannot build a cycle, so patch it in.
    placeholder = ir.MetaDataString(module, f"lumina.loop.{len(module.metadata)}")
    loop = module.add_metadata([placeholder])
    loop.operands = (loop, *properties)
    return loop


def sizeof(elem: ir.Type) -> int:
    if isinstance(elem, ir.IntType):
        return elem.width // 8
    return 8 if isinstance(elem, ir.DoubleType) else 4


def imin(b: ir.IRBuilder, x, y, name: str = "") -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y, name=name)


def element_ptr(b: ir.IRBuilder, elem: ir.Type, base: ir.Value, *offsets: ir.Value,
                name: str = "") -> ir.Value:
    """&base[sum(offsets)] in elements."""
    total = offsets[0]
    for off in offsets[1:]:
        total = b.add(total, off)
    return b.gep(base, [total], inbounds=True, source_etype=elem, name=name)


def strided(b: ir.IRBuilder, index: ir.Value, stride: ir.Value) -> ir.Value:
    return b.mul(index, stride, flags=["nsw"])


def align_up(b: ir.IRBuilder, ptr: ir.Value, name: str) -> ir.Value:
    addr = b.ptrtoint(ptr, I64)
    aligned = b.and_(b.add(addr, i64(ALIGN_BYTES - 1)), i64(-ALIGN_BYTES))
    return b.inttoptr(aligned, PTR, name=name)


def define(module: ir.Module, name: str, ret: ir.Type, params: list[tuple[str, ir.Type]],
           internal: bool = True) -> tuple[ir.Function, ir.IRBuilder, dict[str, ir.Argument]]:
    fn = ir.Function(module, ir.FunctionType(ret, [t for _, t in params]), name=name)
    if internal:   # a loop nest called from both entries: one copy, not one inlined into each
        fn.linkage = "internal"
        fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    args = {}
    for arg, (pname, _) in zip(fn.args, params):
        arg.name = pname
        args[pname] = arg
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    return fn, builder, args


def splat(b: ir.IRBuilder, scalar: ir.Value, lanes: int) -> ir.Value:
    """A vector of ``lanes`` copies of ``scalar`` (one broadcast instruction)."""
    vec = ir.VectorType(scalar.type, lanes)
    first = b.insert_element(ir.Constant(vec, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
    return b.shuffle_vector(first, ir.Constant(vec, ir.Undefined),
                            ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))


def intrinsic(module: ir.Module, name: str, ret: ir.Type, params: list[ir.Type]) -> ir.Function:
    """The declaration of LLVM intrinsic ``name`` in ``module`` (declared on first use)."""
    if name in module.globals:
        return module.globals[name]
    return ir.Function(module, ir.FunctionType(ret, params), name=name)


def batches(b, elem, a):
    """``for bi < batch`` over the entries of A, B and C; yields (bi, A, B, C) of the entry."""
    with for_range(b, 0, a["batch"], name="bi") as bi:
        yield (bi, element_ptr(b, elem, a["A"], strided(b, bi, a["sa_b"]), name="a_batch"),
               element_ptr(b, elem, a["B"], strided(b, bi, a["sb_b"]), name="b_batch"),
               element_ptr(b, elem, a["C"], strided(b, bi, a["sc_b"]), name="c_batch"))


def k_blocks(b: ir.IRBuilder, K: ir.Value, max_kc: int) -> tuple[ir.Value, ir.Value]:
    """(stop, step) of the K-block loop: ceil(K / max_kc) blocks of (nearly) equal depth.

    Equal depths avoid a last block of a few k steps, where the micro-kernel's C update would
    cost as much as its FMAs (K = 520 runs as 2 x 260, not 512 + 8). K == 0 still runs one empty
    block, whose micro-kernels store zeros (beta = 0).
    """
    one = i64(1)
    k_stop = b.select(b.icmp_signed(">", K, i64(0)), K, one, name="k_stop")
    n_blocks = b.sdiv(b.add(k_stop, i64(max_kc - 1)), i64(max_kc), name="k_blocks")
    step = b.sdiv(b.add(k_stop, b.sub(n_blocks, one)), n_blocks, name="kc_step")
    return k_stop, step


def masked_load(module: ir.Module, elem: ir.Type, lanes: int) -> ir.Function:
    """``llvm.masked.load`` of ``lanes`` x ``elem``: ``(ptr, i32 align, <lanes x i1> mask,
    passthru)``; masked-off lanes read no memory and take ``passthru``."""
    vec = ir.VectorType(elem, lanes)
    suffix = f"f{sizeof(elem) * 8}"
    return intrinsic(module, f"llvm.masked.load.v{lanes}{suffix}.p0", vec,
                     [PTR, ir.IntType(32), ir.VectorType(ir.IntType(1), lanes), vec])


def lanes_below(b: ir.IRBuilder, first: int, lanes: int, limit: ir.Value) -> ir.Value:
    """The ``<lanes x i1>`` mask of lanes ``first + i < limit``."""
    lane = ir.Constant(ir.VectorType(I64, lanes), list(range(first, first + lanes)))
    return b.icmp_signed("<", lane, splat(b, limit, lanes))
