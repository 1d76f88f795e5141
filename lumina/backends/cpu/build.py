"""The CPU backend's builder: a lowered program in, an ``Executable`` out.

Loop and row kernels are rendered into one LLVM module (structurally identical kernels share one
function); each dot kernel is a call of the GEMM generator's function for its dtype, with an
epilogue module when it has fused epilogue or row stages; the launches are scheduled over the
target's threads (``schedule.thread_schedule``) into one native plan function
(``backends.cpu.llvm_plan``); the arena is laid out by liveness over that schedule, with the
in-place pairs the kernels allow (``codegen.inplace_pairs``). Compiled LLVM modules are cached in
memory while an executable holds them, and on disk (``backends.disk_cache``): the GEMM modules by
the generator's arguments and source, a program's loop kernels and plan by the program's key
(``compiler.cached_program``), so a warm process renders neither, and epilogues by their text.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import weakref
from dataclasses import replace
from pathlib import Path

import numpy as np

from ...codegen.inplace_pairs import row_inplace_pairs, same_index_inputs
from ...codegen.kernel import DotKernel, LoopKernel, RowKernel, kernel_symbols
from ...codegen.program import Program, SlotRole, SlotSpec, frozen_kernels
from ...codegen.sizes import dot_at, kernel_at, program_symbols
from ...ir.symbolic import HINT, evaluate_shape
from ...schedule import memory
from ...schedule.memory import aligned_bytes
from ...schedule.thread_schedule import horizons, schedule
from .executable import Executable, Prepack
from .jit import CompiledModule, compile_llvm, compile_rendered, host_target_description
from .launch import AddressArg, BufferArg, ChunkBufferArg, IntArg, Launch, RangeArg, TileRangeArg, WorkspaceArg
from .llvm import EPILOGUE_FUNCTION, epilogue_pointers, render_epilogue, render_module
from .llvm_epilogue import epilogue_symbols
from .llvm_gemm import (EPILOGUE_POINTERS, PACKED_DTYPES, SKINNY_GROUPS, gemm_blocking,
                        gemm_epilogue_function_name, gemm_function_name, gemm_workspace_elems, render_gemm)
from .llvm_gemm_prepack import pack_function_name, prepacked_elems
from .llvm_plan import PlanStep, host_futex, host_is_x86, render_plan
from .sized_plan import steps_at, structure, table_steps
from .symbolic_executable import SymbolicExecutable
from .threads import PARALLEL_MIN_WORK

_MODULES: "weakref.WeakValueDictionary[str, CompiledModule]" = weakref.WeakValueDictionary()
_GEMMS: dict[tuple, CompiledModule] = {}
"""The GEMM modules by (dtype, blocking, code-generation target), held for the process: a few, each
half a second of LLVM work (and 50 ms of rendering) that every graph with a GEMM would otherwise
pay again, per GEMM, once no executable holds it."""


def cache_clear() -> None:
    """Forget the compiled modules (executables still holding one keep it)."""
    _MODULES.clear()
    _GEMMS.clear()


def cache_info() -> dict:
    """``{"modules": compiled LLVM modules alive}``."""
    return {"modules": len(_MODULES)}


def _module(text: str, name: str) -> CompiledModule:
    """The compiled module of LLVM IR ``text`` for the code the JIT generates now (the ISA level
    ``LUMINA_ISA`` may lower), shared while some executable holds it."""
    key = hashlib.sha256(f"{host_target_description()}\n{text}".encode()).hexdigest()
    mod = _MODULES.get(key)
    if mod is None:
        mod = _MODULES[key] = compile_llvm(text, name)
    return mod


def _loops_module(program_key: str | None, render, name: str) -> CompiledModule:
    """The module of a program's loop and row kernels (``render()`` gives its text): keyed by the
    program's disk-cache key where it has one (a warm process does not render it), else by text."""
    if program_key is None:
        return _module(render(), name)
    key = f"program {program_key}"
    mod = _MODULES.get(key)
    if mod is None:
        mod = _MODULES[key] = compile_rendered(render, ("loop kernels", program_key), name)
    return mod


def _gemm_module(dtype: str, blocking) -> CompiledModule:
    """The GEMM generator's module for ``dtype`` and ``blocking`` (``_GEMMS``). On disk it is keyed
    by what the generator takes and the generator's source, so a warm process does not render it."""
    key = (dtype, blocking, host_target_description())
    mod = _GEMMS.get(key)
    if mod is None:
        mod = _GEMMS[key] = compile_rendered(lambda: render_gemm(dtype, blocking),
                                             ("gemm", dtype, repr(blocking), str(EPILOGUE_POINTERS), _gemm_generator()),
                                             f"gemm_{dtype}")
    return mod


@functools.cache
def _gemm_generator() -> str:
    """A hash of the GEMM generator's source (``llvm_gemm*.py``): part of its modules' disk keys."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("llvm_gemm*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def build(prog: Program, target):
    """The CPU executable of lowered program ``prog`` for ``target`` (a ``backends.target.Target``
    of the cpu device): the loop and row kernels in one LLVM module, a call of the GEMM generator's
    function (with its epilogue module) per dot kernel, the native plan over all launches scheduled
    on ``target.threads`` threads, and the arena laid out by liveness. The kernels that read only
    frozen inputs (``program.frozen_kernels``) are left out of the plan: the executable runs them
    when another array is bound to a frozen input, into buffers of their own.

    A program with symbolic sizes (``ir.symbolic``) gets a ``SymbolicExecutable``: its loop and
    row kernels are compiled once, reading their sizes at run time; each size it is called at gets
    the rest (launch arguments, plan, memory plan, GEMM epilogues) from ``_build`` at those sizes."""
    symbols = program_symbols(s.shape for s in prog.slots)
    if symbols:   # the kernels are compiled now: what cannot be stays a compile error, not a call's
        loops, shared = _loop_kernels(prog, symbols), {}
        return SymbolicExecutable(prog, symbols, lambda values: _build(prog, target, symbols, values, loops, shared),
                                  keepalive=[loops[2]])
    return _build(prog, target)


def _loop_kernels(prog: Program, symbols: tuple[str, ...]) -> tuple[dict, object, CompiledModule | None]:
    """``(unique, render, module)``: the program's loop and row kernels by structure (a deep chain
    repeats one: they share one compiled function), a function rendering their module's text, and
    the compiled module (None: no such kernel)."""
    unique: dict = {}
    for _, d, _ in prog.kernels:
        if isinstance(d, (LoopKernel, RowKernel)):
            unique.setdefault(replace(d, name="", source=()), d)
    kernels = list(unique.values())
    name = f"{prog.graph.name}_kernels"
    render = functools.cache(lambda: render_module(kernels, name=name, symbols=symbols) if kernels else "")
    return unique, render, _loops_module(prog.key, render, name) if kernels else None


def _build(prog: Program, target, symbols: tuple[str, ...] = (), values: dict | None = None,
           loops: tuple | None = None, shared: dict | None = None) -> Executable:
    """``build``, of a program with symbolic sizes at sizes ``values`` ({symbol: int}, None for a
    program without): its slots get those shapes, a slot after them holds the sizes (the ``i64*``
    argument of the kernels with symbolic loops), GEMMs are launched with them. ``loops``: its
    ``_loop_kernels``, compiled once for every size; ``shared``: what every size shares (the
    decisions taken at the hint sizes and the plan, ``sized_plan``)."""
    graph = prog.graph
    unique, render, module = loops if loops is not None else _loop_kernels(prog, symbols)
    keepalive = [module] if module else []
    epilogues: list[str] = []   # the GEMM epilogue modules' IR, for dumps
    prepacks: dict = {}
    hint = None
    if values is not None:   # the structure: launches at the hint sizes, decided once
        if "hint" not in shared:
            at = {name: HINT for name in symbols}
            shared["hint"] = _launches(prog, target, symbols, at, None, loops, [], [], {})
        hint = shared["hint"]
    slots, launches, hoisted_launches, descs, gemm_dtypes = _launches(
        prog, target, symbols, values, hint, (unique, render, module), keepalive, epilogues, prepacks)
    workspaces = tuple((np.dtype(d), max(gemm_workspace_elems(d, _blocking(d, target, columns))
                                         for columns in (None, 1))) for d in gemm_dtypes)
    if values is None:
        plan, plan_threads, plan_text, steps, deferred, addresses = _plan(launches, graph.name, keepalive,
                                                                          target.threads, len(slots), prog.key)
    else:
        plan, plan_threads, plan_text, steps, addresses = _sized_plan(launches, hint[1], graph.name, keepalive,
                                                                      target.threads, len(slots), prog.key, shared)
        deferred = None
    mem = _memory_plan(slots, launches, descs, steps)
    info = prog.info(lazy={"llvm": lambda: render() + "".join(epilogues), "plan": plan_text})
    output_shapes = prog.output_shapes if values is None else [evaluate_shape(s, values) for s in prog.output_shapes]
    return Executable(slots, prog.input_slots, prog.output_slots, output_shapes, launches, plan,
                      plan_threads, workspaces, keepalive, info, mem, deferred, tuple(prepacks.values()),
                      tuple(hoisted_launches), addresses)


def _launches(prog: Program, target, symbols, values: dict | None, hint, loops, keepalive: list,
              epilogues: list, prepacks: dict):
    """``(slots, launches, hoisted launches, kernel descriptions, GEMM dtypes)`` of ``prog`` at
    sizes ``values`` (None: a program without symbols). ``hint``: this very result at the hint
    sizes, whose GEMMs' choices (blocking, thread split, prepacking) every size keeps."""
    hoisted, derived = frozen_kernels(prog)
    hoisted = set(hoisted)
    slots = [replace(s, role=SlotRole.DERIVED) if i in derived else s for i, s in enumerate(prog.slots)]
    sizes_slot = None
    if values is not None:
        slots = [replace(s, shape=evaluate_shape(s.shape, values)) for s in slots]
        sizes_slot = len(slots)
        slots.append(SlotSpec((len(symbols),), np.dtype(np.int64), SlotRole.CONST,
                              np.array([values[n] for n in symbols], np.int64)))
    unique, _, module = loops
    launches, hoisted_launches, descs, gemm_dtypes = [], [], [], []
    for index, (k, desc, kslots) in enumerate(prog.kernels):
        if isinstance(desc, (LoopKernel, RowKernel)):
            address = module.address(unique[replace(desc, name="", source=())].name)
            sized = (BufferArg(sizes_slot),) if kernel_symbols(desc) else ()
            if values is not None:
                desc = kernel_at(desc, values)
            extent = desc.domain[0].extent if desc.domain else 1
            args = tuple(BufferArg(s) for s in kslots) + sized + (RangeArg.START, RangeArg.END)
            n_in = len(desc.buffers) - desc.n_outputs
            launch = Launch(desc.name, address, args, tuple(kslots[:n_in]), tuple(kslots[n_in:]),
                            extent, desc.work, desc.source)
        else:
            symbolic = desc   # its epilogue is rendered once, reading the sizes at run time
            if values is not None:
                desc = dot_at(desc, values)
            if desc.dtype.name not in gemm_dtypes:
                gemm_dtypes.append(desc.dtype.name)
            decide = hint[3][len(descs)] if hint is not None and index not in hoisted else None
            launch = _gemm_launch(desc, kslots, gemm_dtypes.index(desc.dtype.name), keepalive, epilogues,
                                  target, slots, prepacks, (symbolic, symbols, sizes_slot), decide)
        if index in hoisted:
            hoisted_launches.append(launch)
        else:
            launches.append(launch)
            descs.append(desc)
    return slots, launches, hoisted_launches, descs, gemm_dtypes


def _sized_plan(launches: list[Launch], hint: list[Launch], name: str, keepalive: list, threads: int,
                n_slots: int, key: str | None, shared: dict):
    """``_plan`` for a size of a symbolic program: the schedule's structure from its launches at
    the hint sizes, the numbers of these ``launches`` in a table the plan reads
    (``sized_plan``); the plan is compiled once for every size (``shared``)."""
    if "structure" not in shared:
        shared["structure"] = structure(hint, threads)
    hint_steps, used = shared["structure"]
    steps = steps_at(hint_steps, launches)
    plan_steps, addresses, ints, table = table_steps(launches, steps, used, n_slots)
    found = shared.get(("plan", tuple(plan_steps)))
    if found is None:
        found = shared[("plan", tuple(plan_steps))] = _native_plan(plan_steps, used, name, key, table)
    plan, module, text = found
    keepalive += [module, ints]
    return plan, used, text, steps, addresses


def _memory_plan(slots: list[SlotSpec], launches: list[Launch], descs: list, steps) -> memory.MemoryPlan:
    """Arena offsets of the temporaries (by slot), with lifetimes over the launch order as the
    plan's schedule can run it (``steps``; None: one launch after another)."""
    sizes = {i: s.nbytes for i, s in enumerate(slots) if s.role is SlotRole.TEMP}
    inplace = []
    for i, (launch, desc) in enumerate(zip(launches, descs)):
        if isinstance(desc, RowKernel):
            inplace += [(i, s, o) for s, o in row_inplace_pairs(desc, launch.reads, launch.writes)]
        elif isinstance(desc, DotKernel) and desc.rows is not None:
            # the stages read C as an input: a stage's output may take C's memory as it would an input's
            rows = replace(launch, reads=launch.reads + launch.writes[:1], writes=launch.writes[1:])
            inplace += [(i, s, o) for s, o in row_inplace_pairs(desc.rows, rows.reads, rows.writes)]
        elif len(launch.writes) == 1:
            inplace += [(i, s, launch.writes[0]) for s in same_index_inputs(desc, launch.reads, launch.writes)]
    return memory.plan([(L.reads, L.writes) for L in launches], sizes,
                       horizons(steps) if steps is not None else None, inplace)


SMALL_PLAN = 4   # launches that Python calls one by one sooner than LLVM compiles a plan for them
FAST_PLAN_LAUNCHES = 64   # plans up to this long are optimised (-O1); longer ones are not (-O0)


def _plan(launches: list[Launch], name: str, keepalive: list, threads: int, n_slots: int, key: str | None):
    """The native plan function over ``launches``, the number of threads it runs on, its LLVM
    text (a function: it is rendered only when asked for, and a plan found in the disk cache is
    not rendered to be compiled), its schedule steps, a deferred plan (see below) and the address
    table the plans read after the ``n_slots`` slots' addresses (``_plan_steps``). ``key``: the
    program's disk-cache key, which keys the plan's object code there (None: not kept). A step
    with too little work in all for a thread hand-off to pay runs on the calling thread alone.

    A few launches on one thread (eager ops) get no plan at first, only a deferred one: a
    function that compiles it, which the executable calls once it has been run a few times (a
    compiled function's small step), so that a one-off eager op never waits for LLVM and a hot
    small step costs one native call."""
    n = threads if sum(L.work for L in launches) >= PARALLEL_MIN_WORK else 1
    steps = schedule(launches, n)
    used = 1 + max((t for s in steps for t in s.threads()), default=0)
    plan_steps, addresses = _plan_steps(launches, steps, used, n_slots)
    if used == 1 and len(launches) <= SMALL_PLAN:
        return None, 1, lambda: "", None, lambda: _native_plan(plan_steps, used, name, key), addresses
    plan, module, text = _native_plan(plan_steps, used, name, key)
    keepalive.append(module)
    return plan, used, text, steps, None, addresses


def _plan_steps(launches: list[Launch], steps, used: int, n_slots: int) -> tuple[list[PlanStep], tuple[int, ...]]:
    """The plan's steps, each function and ``AddressArg`` replaced by an index into the address
    table, which follows the slots in the executable's buffer table; and that table."""
    table: dict[int, int] = {}

    def entry(address: int) -> int:
        return table.setdefault(address, n_slots + len(table))
    plan_steps = [PlanStep(entry(L.address), tuple(BufferArg(entry(a.address)) if isinstance(a, AddressArg) else a
                                                   for a in L.args), s.barrier, s.bounds[:used])
                  for L, s in zip(launches, steps)]
    return plan_steps, tuple(table)


def _native_plan(plan_steps: list[PlanStep], used: int, name: str, key: str | None, table: int | None = None):
    """(plan function, its compiled module, a function giving its LLVM text) of ``plan_steps`` on
    ``used`` threads. The module is compiled per executable, never shared in memory: its barrier
    lives in its globals, and only the executable's lock keeps two calls from meeting there. It
    is glue code: -O1 for a small plan (a few ns per call), no optimisation for a long one, whose
    compile time that cuts by five (476 launches: 0.53 -> 0.08 s) for no measurable cost per call."""
    x86, futex = host_is_x86(), host_futex()
    render = functools.cache(lambda: render_plan(plan_steps, used, name=f"{name}_plan", x86=x86, futex=futex,
                                                 table=table))
    level = 1 if len(plan_steps) <= FAST_PLAN_LAUNCHES else 0
    disk = None if key is None else ("plan", key, f"{used} threads", f"x86 {x86} futex {futex}", f"table {table}")
    module = compile_rendered(render, disk, f"{name}_plan", opt_level=level)
    p, i = ctypes.c_void_p, ctypes.c_int64
    return ctypes.CFUNCTYPE(None, p, i, p)(module.address("plan")), module, render


@functools.lru_cache(maxsize=128)
def _epilogue_text(d: DotKernel, symbols: tuple[str, ...]) -> str:
    """``render_epilogue`` of GEMM ``d``, rendered once per description (a symbolic program's at
    every size it runs at)."""
    return render_epilogue(d, EPILOGUE_POINTERS, symbols)


BATCH_SPLIT = 4   # a batched GEMM with this many entries per thread splits over its batch

# A GEMM's work, in the units of a loop kernel's (innermost iterations): its multiply-adds run
# from registers, 16 to a 512-bit FMA, while a loop's element streams through memory. Counted as
# one iteration each, a 32 x 10 x 128 layer (1 µs) split over two threads and paid a barrier and a
# hand-off for it (2.4 µs).
MACS_PER_WORK = 8


def _gemm_split(d: DotKernel, blocking, threads: int, prepacked: bool = False) -> str:
    """How threads share GEMM ``d``: "batch" (whole GEMMs of a batch with many entries, or one GEMV
    or more per thread: each then streams its own B), "columns"
    (panels of NR columns, when there are fewer rows than columns and enough panels: each thread
    then packs only its part of B; never for a row-fused GEMM, whose stages need whole rows from
    one thread, nor for a ``prepacked`` B, which no thread packs), else "rows"."""
    if d.batch >= BATCH_SPLIT * threads or d.m == 1 and d.batch >= threads:
        return "batch"
    if (blocking is not None and d.rows is None and threads > 1 and d.m < d.n and not prepacked
            and -(-d.n // blocking.nr) >= 2 * threads):
        return "columns"
    return "rows"


def _prepackable(d: DotKernel, b_spec: SlotSpec, blocking, threads: int) -> bool:
    """Whether GEMM ``d`` reads its B packed once per bound array (``llvm_gemm_prepack``): B is a
    frozen input (``SlotSpec.frozen``) or derived from frozen inputs alone, the same for every batch entry, and the packed body reads it
    (each thread's rows more than the skinny path's, which reads B in place)."""
    frozen = b_spec.role is SlotRole.DERIVED or b_spec.role is SlotRole.INPUT and b_spec.frozen
    return (blocking is not None and frozen and d.k > 0
            and (d.batch == 1 or d.b.strides[0] == 0) and d.m > threads * SKINNY_GROUPS * blocking.mr)


def _blocking(dtype: str, target, columns: int | None = None):
    """The packed GEMM's blocking for ``dtype`` on ``target``'s ISA level (None: an integer GEMM), for
    a GEMM ``columns`` wide: the narrow tile's when they fit it (``llvm_gemm.NARROW_TILES``)."""
    if dtype not in PACKED_DTYPES:
        return None
    narrow = gemm_blocking(dtype, target.isa, narrow=True)
    return narrow if columns is not None and columns <= narrow.nr else gemm_blocking(dtype, target.isa)


def _gemm_launch(d: DotKernel, kslots, workspace: int, keepalive, epilogues: list[str],
                 target, slots: list[SlotSpec], prepacks: dict, sized: tuple = (None, (), None),
                 decide: DotKernel | None = None) -> Launch:
    """The launch of GEMM ``d`` (a call of ``backends.cpu.llvm_gemm``'s function, with ``d``'s epilogue
    module when it has an epilogue or row stages, whose IR is appended to ``epilogues``). A B the
    GEMM reads prepacked gets its ``Prepack`` in ``prepacks`` (one per slot, place and layout).
    ``sized``: for a GEMM of a program with symbolic sizes, ``(its symbolic description, the
    symbols, the sizes' slot)``: the epilogue is rendered from the description (once for every
    size) and reads the sizes through a pointer after its buffers'; ``decide``: the GEMM's
    description at the hint sizes, whose blocking, thread split and prepacking every size keeps
    (so that every size's plan has one structure)."""
    dtype, threads = d.dtype.name, target.threads
    pick = decide if decide is not None else d   # what the choices are made on
    blocking = _blocking(dtype, target, pick.n)
    module = _gemm_module(dtype, blocking)
    keepalive.append(module)
    isz = d.dtype.itemsize
    a_slot, b_slot = kslots[d.a.buf], kslots[d.b.buf]
    c_slot = kslots[d.c_buf]
    a_off, b_off = d.a.offset * isz, d.b.offset * isz
    # (C, A, B, batch, M, N, K, 9 strides, m_start, m_end, n_start, n_end, workspace, b_packed): see llvm_gemm.py
    c_strides = d.c_strides if d.c_strides is not None else (d.m * d.n, d.n, 1)
    strides = d.a.strides + d.b.strides + c_strides
    packed = 0
    if _prepackable(pick, slots[b_slot], blocking, threads):
        key = (b_slot, b_off, d.b.strides[1:], d.k, d.n, blocking)
        if key not in prepacks:
            prepacks[key] = Prepack(b_slot, b_off, module.address(pack_function_name(dtype)), d.k, d.n,
                                    *d.b.strides[1:], aligned_bytes(prepacked_elems(d.k, d.n, blocking) * isz))
        packed = prepacks[key].data.ctypes.data
    split = _gemm_split(pick, blocking, threads, prepacked=bool(packed))
    if split == "batch":
        # Many small GEMMs (attention heads): threads take whole GEMMs of the batch, so no two
        # threads pack the same B panel; each chunk's C, A and B start at its first batch entry.
        args = (ChunkBufferArg(c_slot, 0, c_strides[0] * isz), ChunkBufferArg(a_slot, a_off, d.a.strides[0] * isz),
                ChunkBufferArg(b_slot, b_off, d.b.strides[0] * isz), RangeArg.COUNT,
                *(IntArg(v) for v in (d.m, d.n, d.k) + strides + (0, d.m, 0, d.n)), WorkspaceArg(workspace),
                AddressArg(packed) if packed else IntArg(0))
        extent = d.batch
    elif split == "columns":
        # Few rows: threads take column ranges, so each packs (or reads) only its share of B, the
        # large operand. The ranges are in whole vectors, not whole register tiles: 784 columns
        # are then 384 and 400 (the last panel of 400 is an edge kernel's 16 columns), where
        # 64-wide tiles split them 448 / 336.
        unit = blocking.lanes
        args = (BufferArg(c_slot), BufferArg(a_slot, a_off), BufferArg(b_slot, b_off),
                *(IntArg(v) for v in (d.batch, d.m, d.n, d.k) + strides + (0, d.m)),
                TileRangeArg(False, unit, d.n), TileRangeArg(True, unit, d.n), WorkspaceArg(workspace), IntArg(0))
        extent = -(-d.n // unit)
    else:   # threads take row ranges of each GEMM
        args = (BufferArg(c_slot), BufferArg(a_slot, a_off), BufferArg(b_slot, b_off),
                *(IntArg(v) for v in (d.batch, d.m, d.n, d.k) + strides), RangeArg.START, RangeArg.END,
                IntArg(0), IntArg(d.n), WorkspaceArg(workspace), AddressArg(packed) if packed else IntArg(0))
        extent = d.m
    entry = gemm_function_name(dtype)
    if d.epilogue is not None or d.rows is not None:
        # see backends/cpu/llvm_gemm.py: epilogue address, batch0, its buffers, C
        symbolic, symbols, sizes_slot = sized
        text = _epilogue_text(symbolic if symbolic is not None else d, symbols)
        epi = _module(text, "epilogue")
        epilogues.append(f"\n; ---- {d.name}: the epilogue {gemm_epilogue_function_name(dtype)} calls on each "
                         f"finished panel of C\n{text}")
        keepalive.append(epi)
        reads = [kslots[i] for i in epilogue_pointers(d)]
        if symbolic is not None and epilogue_symbols(symbolic):
            reads.append(sizes_slot)
        reads += [c_slot] * (EPILOGUE_POINTERS - 1 - len(reads))
        batch0 = RangeArg.START if split == "batch" else IntArg(0)
        args += (AddressArg(epi.address(EPILOGUE_FUNCTION)), batch0, *(BufferArg(s) for s in reads), BufferArg(c_slot))
        entry = gemm_epilogue_function_name(dtype)
    n_in = len(d.buffers) - d.n_outputs
    return Launch(d.name, module.address(entry), args, tuple(dict.fromkeys(kslots[:n_in])), tuple(kslots[n_in:]),
                  extent, d.batch * d.m * d.n * d.k // MACS_PER_WORK, d.source)
