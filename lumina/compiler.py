"""The compile pipeline: Graph -> passes -> fusion -> kernel descriptions -> LLVM -> Executable.

``compile_graph`` is what ``@lumina.compile``, eager realisation and (later) ONNX import all call.
Executables are cached in memory by the graph's structural hash, and compiled LLVM modules by the
hash of their text, so retracing an identical graph never reaches LLVM again while its executable
is alive. The cache keeps the ``RECENT_EXECUTABLES`` most recently requested executables (eager
realisations have no other owner) and finds every other one still alive (held by a compiled
function's cache, a ``Lowered``); the rest are freed with their arenas and machine code.
"""
from __future__ import annotations

import ctypes
import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from .codegen import expr as E
from .codegen.kernel import DotKernel, LoopKernel, RowKernel
from .backends.cpu.llvm import render_module
from .backends.cpu.llvm import EPILOGUE_FUNCTION, epilogue_pointers, render_epilogue
from .backends.cpu.llvm_gemm import (EPILOGUE_POINTERS, gemm_epilogue_function_name, gemm_function_name,
                                     gemm_workspace_elems, render_gemm)
from .codegen.lower import lower
from .ir.graph import Graph, Node, emit
from .ir.ops import Op
from .ir.printer import format_node, value_names
from .schedule import memory
from .schedule.partition import partition
from .transforms.pipeline import optimize
from .backends.cpu.llvm_plan import PlanStep, host_futex, host_is_x86, render_plan, symbol
from .backends.cpu.executable import Executable, Launch, SlotSpec
from .backends.cpu.jit import CompiledModule, compile_llvm
from .schedule.thread_schedule import horizons, schedule
from .backends.cpu.threads import PARALLEL_MIN_WORK, num_threads
from .tracing import BOUND

_LOCK = threading.Lock()
# Every executable still alive, by key; the recent ones are held here too. Compiled modules are
# held by the executables that call them (``Executable.keepalive``), so they go with the last one.
_EXECUTABLES: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()
_RECENT: "OrderedDict[str, object]" = OrderedDict()   # least recently requested first
_MODULES: "weakref.WeakValueDictionary[str, CompiledModule]" = weakref.WeakValueDictionary()

RECENT_EXECUTABLES = 32


def _module(text: str, name: str) -> CompiledModule:
    key = hashlib.sha256(text.encode()).hexdigest()
    mod = _MODULES.get(key)
    if mod is None:
        mod = _MODULES[key] = compile_llvm(text, name)
    return mod


def compile_graph(graph: Graph, device: str = "cpu"):
    """The executable computing ``graph`` on ``device`` ("cpu": an ``Executable`` over LLVM
    kernels; "cuda": a ``backends.cuda.executable.CudaExecutable`` over Triton kernels; "metal": a
    ``backends.metal.executable.MetalExecutable``); cached by structural hash (and, on the CPU, the
    thread count the plan was scheduled for). Raises LuminaDeviceError (naming the device and
    why) for a device that cannot run here."""
    from .backends import devices
    device = devices.require(device)
    if device != "cpu":
        tag = "cuda-interpreted" if device == "cuda" and devices.interpreting() else device
        key = f"{graph.structural_hash()}/{tag}"
    else:
        key = f"{graph.structural_hash()}/{num_threads()}"
    with _LOCK:
        exe = _EXECUTABLES.get(key)
        if exe is None:
            graph = with_own_inputs(graph)   # the executable keeps it (for inspection), not its data
            exe = _EXECUTABLES[key] = _build(graph) if device == "cpu" else _build_on(graph, device)
        _RECENT[key] = exe
        _RECENT.move_to_end(key)
        while len(_RECENT) > RECENT_EXECUTABLES:
            _RECENT.popitem(last=False)
    return exe


def with_own_inputs(graph: Graph) -> Graph:
    """``graph`` over fresh ``input`` nodes of the same types and names, bound to no data (the
    nodes on a path from an input are copied; ``graph`` itself when no input is bound). A
    realised tensor's value is bound to its data (``tracing.BOUND``) as long as the value lives:
    whatever keeps a graph must not keep the data of the tensors it was built from."""
    if not any(v in BOUND for v in graph.inputs):
        return graph
    new = {id(v): emit(Op.INPUT, type=v.type, **v.attrs) for v in graph.inputs}
    nodes = []
    for n in graph.nodes:
        if id(n) not in new and any(id(v) in new for v in n.inputs):
            new[id(n)] = Node(n.op, [new.get(id(v), v) for v in n.inputs], n.attrs, n.type)
        nodes.append(new.get(id(n), n))
    return Graph(nodes, [new[id(v)] for v in graph.inputs], [new.get(id(v), v) for v in graph.outputs],
                 graph.name)


def _build_on(graph: Graph, device: str):
    """The executable of ``graph`` for a GPU device: the target-independent ``Program`` handed
    to that device's runtime as plain data (slots, ``(description, slots)`` per kernel)."""
    prog = lower_program(graph)
    info = {"stages": prog.stages, "partition": prog.partition, "llvm": "",
            "kernels": [d for _, d, _ in prog.kernels], "program": prog}
    if device == "cuda":
        from .backends.cuda.executable import CudaExecutable as DeviceExecutable
    else:
        from .backends.metal.executable import MetalExecutable as DeviceExecutable
    return DeviceExecutable(prog.slots, prog.input_slots, prog.output_slots, prog.output_shapes,
                            [(d, s) for _, d, s in prog.kernels], info)


def cache_clear() -> None:
    """Forget every cached executable and compiled module (the next request of a graph builds
    it afresh; executables still held elsewhere stay usable)."""
    with _LOCK:
        _EXECUTABLES.clear()
        _RECENT.clear()
        _MODULES.clear()


def cache_info() -> dict:
    """``{"alive": executables alive in the cache, "recent": those it holds itself,
    "modules": compiled LLVM modules alive}``."""
    with _LOCK:
        return {"alive": len(_EXECUTABLES), "recent": len(_RECENT), "modules": len(_MODULES)}


@dataclass
class Program:
    """The target-independent half of a build: the optimized graph cut into kernels, each lowered
    to its kernel description, over numbered buffer slots. Every backend (the LLVM executable here,
    ``backends.cuda.executable``) turns one into launches.

    ``kernels`` lists ``(kernel, description, slots)`` in execution order: ``slots[i]`` is the slot
    of the description's ``buffers[i]`` (inputs, then outputs)."""
    graph: Graph
    stages: list
    partition: object
    slots: list[SlotSpec]
    kernels: list[tuple]
    input_slots: list[int]
    output_slots: list[int]
    output_shapes: list[tuple[int, ...]]


def lower_program(graph: Graph) -> Program:
    """Optimize ``graph``, partition it into kernels and lower each (see ``Program``)."""
    stages = [("input", graph)]  # graphs, printed only when someone asks (see Lowered.as_text)
    opt = optimize(graph, on_pass=lambda name, g: stages.append((name, g)))
    part = partition(opt)
    names = value_names(opt)

    slots: list[SlotSpec] = []
    slot_of: dict[int, int] = {}

    def add(v, role, const=None):
        slot_of[id(v)] = len(slots)
        slots.append(SlotSpec(v.shape, v.dtype.numpy, role, const))

    for v in opt.inputs:
        add(v, "input")
    outputs = {id(part.aliases.get(id(v), v)) for v in opt.outputs}
    for n in opt.nodes:
        v = n.out
        if id(v) in slot_of or id(v) not in part.materialized:
            continue
        if n.op is Op.CONST:
            add(v, "const", np.asarray(n.attrs["value"], order="C"))
        else:
            add(v, "output" if id(v) in outputs else "temp")
    for v in opt.outputs:  # an output that is an unmaterialised scalar constant
        if id(v) not in slot_of and id(v) not in part.aliases:
            add(v, "const", np.asarray(v.node.attrs["value"], order="C"))

    kernels = []
    for i, k in enumerate(part.kernels):
        source = tuple(format_node(n, names) for n in k.nodes)
        desc = lower(k, i, source)
        kslots = [slot_of[id(v)] for v in list(k.inputs) + k.outputs]
        if desc.checks:   # its status buffer follows its inputs (codegen.kernel)
            kslots.insert(len(k.inputs), len(slots))
            slots.append(SlotSpec((len(desc.checks),), np.dtype(np.int64), "status", checks=desc.checks))
        kernels.append((k, desc, kslots))
    output_slots = [slot_of[id(part.aliases.get(id(v), v))] for v in opt.outputs]
    return Program(graph, stages, part, slots, kernels, [slot_of[id(v)] for v in opt.inputs],
                   output_slots, [v.shape for v in opt.outputs])


def _build(graph: Graph) -> Executable:
    prog = lower_program(graph)
    slots, kernels = prog.slots, prog.kernels
    # Structurally identical kernels (a deep chain repeats one) share one compiled function.
    unique: dict = {}
    for _, d, _ in kernels:
        if isinstance(d, (LoopKernel, RowKernel)):
            unique.setdefault(replace(d, name="", source=()), d)
    loops = list(unique.values())
    llvm_text = render_module(loops, name=f"{graph.name}_kernels") if loops else ""
    module = _module(llvm_text, f"{graph.name}_kernels") if loops else None
    keepalive = [module] if module else []

    launches = []
    epilogues: list[str] = []   # the GEMM epilogue modules' IR, for dumps
    gemm_dtypes: list[str] = []
    for k, desc, kslots in kernels:
        if isinstance(desc, (LoopKernel, RowKernel)):
            address = module.address(unique[replace(desc, name="", source=())].name)
            extent = desc.domain[0].extent if desc.domain else 1
            args = tuple(("buffer", s, 0) for s in kslots) + (("start",), ("end",))
            n_in = len(desc.buffers) - desc.n_outputs
            launches.append(Launch(desc.name, address, args, tuple(kslots[:n_in]), tuple(kslots[n_in:]),
                                   extent, desc.work, desc.source))
        else:
            if desc.dtype.name not in gemm_dtypes:
                gemm_dtypes.append(desc.dtype.name)
            launches.append(_gemm_launch(desc, kslots, gemm_dtypes.index(desc.dtype.name), keepalive, epilogues))
    workspaces = tuple((np.dtype(d), gemm_workspace_elems(d)) for d in gemm_dtypes)
    plan, plan_threads, plan_text, steps = _plan(launches, graph.name, keepalive)
    mem = _memory_plan(slots, launches, [d for _, d, _ in kernels], steps)
    info = {"stages": prog.stages, "partition": prog.partition, "llvm": llvm_text + "".join(epilogues), "plan": plan_text,
            "kernels": [d for _, d, _ in kernels], "program": prog}
    return Executable(slots, prog.input_slots, prog.output_slots, prog.output_shapes, launches, plan,
                      plan_threads, workspaces, keepalive, info, mem)


def _memory_plan(slots: list[SlotSpec], launches: list[Launch], descs: list, steps) -> memory.MemoryPlan:
    """Arena offsets of the temporaries (by slot), with lifetimes over the launch order as the
    plan's schedule can run it (``steps``; None: one launch after another)."""
    sizes = {i: int(np.prod(s.shape, dtype=np.int64)) * np.dtype(s.dtype).itemsize
             for i, s in enumerate(slots) if s.role == "temp"}
    inplace = []
    for i, (launch, desc) in enumerate(zip(launches, descs)):
        if isinstance(desc, RowKernel):
            inplace += [(i, s, o) for s, o in _row_inplace_pairs(desc, launch)]
        elif isinstance(desc, DotKernel) and desc.rows is not None:
            # the stages read C as an input: a stage's output may take C's memory as it would an input's
            rows = replace(launch, reads=launch.reads + launch.writes[:1], writes=launch.writes[1:])
            inplace += [(i, s, o) for s, o in _row_inplace_pairs(desc.rows, rows)]
        elif len(launch.writes) == 1:
            inplace += [(i, s, launch.writes[0]) for s in _same_index_inputs(desc, launch)]
    return memory.plan([(L.reads, L.writes) for L in launches], sizes,
                       horizons(steps) if steps is not None else None, inplace)


def _loads_by_buffer(value) -> dict[int, list]:
    """``{buffer position: [index expressions it is loaded at]}`` over expression ``value``."""
    loads: dict[int, list] = {}
    stack, seen = [value], set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, E.Load):
            loads.setdefault(e.buf, []).append(e.index)
        stack.extend(E.children(e))
    return loads


def _row_inplace_pairs(desc: RowKernel, launch: Launch) -> list[tuple[int, int]]:
    """``(input slot, output slot)`` pairs where the output may take the input's memory: the
    output is stored by an elementwise stage S at its position, every stage up to S loads the input
    only at its own position in the same row (the same affine index as S's store, over its own
    loops of the same extents), and no later stage loads it. A row's input elements are then all
    read before S overwrites them, and each thread's rows are its own."""
    n_in = desc.n_inputs
    if len(launch.reads) != n_in:
        return []
    loads = [_loads_by_buffer(st.value) for st in desc.stages]
    pairs = []
    for s, st in enumerate(desc.stages):
        if st.reduce_op is not None or st.out is None or not st.vars:
            continue
        out = desc.buffers[st.out]
        store = E.affine_terms(st.index)
        for p in range(n_in):
            buf = desc.buffers[p]
            if buf.numel != out.numel or buf.dtype.itemsize != out.dtype.itemsize or p not in loads[s]:
                continue
            ok = not any(p in loads[t] for t in range(s + 1, len(desc.stages)))
            for t in range(s + 1):
                if not ok or p not in loads[t]:
                    continue
                other = desc.stages[t]
                if [v.extent for v in other.vars] != [v.extent for v in st.vars]:
                    ok = False
                    break
                rename = dict(zip(other.vars, st.vars))
                for index in loads[t][p]:
                    terms, const = E.affine_terms(index)
                    ok = ok and ({rename.get(a, a): c for a, c in terms.items()}, const) == store
            if ok and launch.reads[p] not in launch.writes:
                pairs.append((launch.reads[p], launch.writes[st.out - n_in]))
    return pairs


def _same_index_inputs(desc, launch: Launch) -> list[int]:
    """The input slots that elementwise kernel ``desc`` reads only at the element it writes (same
    element size and count as the output, every load at the store's row-major index): their
    memory can take the output in place, each thread's chunk reading what it alone overwrites."""
    if not isinstance(desc, LoopKernel) or desc.reduce_vars or len(launch.reads) != len(desc.buffers) - 1:
        return []
    out = desc.out
    store = ({}, 0)
    stride = 1
    for v in reversed(desc.domain):
        store[0][v] = stride
        stride *= v.extent
    loads = _loads_by_buffer(desc.value)
    ok: dict[int, bool] = {}
    for p, slot in enumerate(launch.reads):
        buf = desc.buffers[p]
        fits = (buf.numel == out.numel and buf.dtype.itemsize == out.dtype.itemsize and
                all(E.affine_terms(index) == store for index in loads.get(p, [])))
        ok[slot] = ok.get(slot, True) and fits
    return [slot for slot, fits in ok.items() if fits and slot != launch.writes[0]]


SMALL_PLAN = 4   # launches that Python calls one by one sooner than LLVM compiles a plan for them


def _plan(launches: list[Launch], name: str, keepalive: list):
    """The native plan function over ``launches``, the number of threads it runs on, its LLVM
    text and its schedule steps (or no plan and no steps, for a few launches on one thread: eager
    ops). A step with too little work in all for a
    thread hand-off to pay runs on the calling thread alone."""
    n = num_threads() if sum(L.work for L in launches) >= PARALLEL_MIN_WORK else 1
    steps = schedule(launches, n)
    used = 1 + max((t for s in steps for t in s.threads()), default=0)
    if used == 1 and len(launches) <= SMALL_PLAN:
        return None, 1, "", None
    text = render_plan([PlanStep(L.address, L.args, s.barrier, s.bounds[:used])
                        for L, s in zip(launches, steps)], used, name=f"{name}_plan",
                       x86=host_is_x86(), futex=host_futex())
    # compiled per executable, never shared through the module cache: its barrier lives in the
    # module's globals, and only the executable's lock keeps two calls from meeting there
    module = compile_llvm(text, f"{name}_plan", opt_level=1, symbols={symbol(L.address): L.address for L in launches})
    keepalive.append(module)
    p, i = ctypes.c_void_p, ctypes.c_int64
    return ctypes.CFUNCTYPE(None, p, i, p)(module.address("plan")), used, text, steps


BATCH_SPLIT = 4   # a batched GEMM with this many entries per thread splits over its batch


def _gemm_launch(d: DotKernel, kslots, workspace: int, keepalive, epilogues: list[str]) -> Launch:
    """The launch of GEMM ``d`` (a call of ``backends.cpu.llvm_gemm``'s function, with ``d``'s epilogue
    module when it has an epilogue or row stages, whose IR is appended to ``epilogues``)."""
    dtype = d.dtype.name
    module = _module(render_gemm(dtype), f"gemm_{dtype}")
    keepalive.append(module)
    isz = d.dtype.itemsize
    a_slot, b_slot = kslots[d.a.buf], kslots[d.b.buf]
    c_slot = kslots[d.c_buf]
    a_off, b_off = d.a.offset * isz, d.b.offset * isz
    # (C, A, B, batch, M, N, K, 9 strides, m_start, m_end, workspace): see backends/cpu/llvm_gemm.py
    c_strides = d.c_strides if d.c_strides is not None else (d.m * d.n, d.n, 1)
    strides = d.a.strides + d.b.strides + c_strides
    by_batch = d.batch >= BATCH_SPLIT * num_threads()
    if by_batch:
        # Many small GEMMs (attention heads): threads take whole GEMMs of the batch, so no two
        # threads pack the same B panel; each chunk's C, A and B start at its first batch entry.
        args = (("chunk_buffer", c_slot, 0, c_strides[0] * isz), ("chunk_buffer", a_slot, a_off, d.a.strides[0] * isz),
                ("chunk_buffer", b_slot, b_off, d.b.strides[0] * isz), ("count",),
                *(("int", v) for v in (d.m, d.n, d.k) + strides + (0, d.m)), ("workspace", workspace))
        extent = d.batch
    else:   # threads take row ranges of each GEMM
        args = (("buffer", c_slot, 0), ("buffer", a_slot, a_off), ("buffer", b_slot, b_off),
                *(("int", v) for v in (d.batch, d.m, d.n, d.k) + strides), ("start",), ("end",),
                ("workspace", workspace))
        extent = d.m
    entry = gemm_function_name(dtype)
    if d.epilogue is not None or d.rows is not None:
        # see backends/cpu/llvm_gemm.py: epilogue address, batch0, its buffers, C
        text = render_epilogue(d, EPILOGUE_POINTERS)
        epi = _module(text, "epilogue")
        epilogues.append(f"\n; ---- {d.name}: the epilogue {gemm_epilogue_function_name(dtype)} calls on each "
                         f"finished panel of C\n{text}")
        keepalive.append(epi)
        reads = [kslots[i] for i in epilogue_pointers(d)]
        reads += [c_slot] * (EPILOGUE_POINTERS - 1 - len(reads))
        batch0 = ("start",) if by_batch else ("int", 0)
        args += (("int", epi.address(EPILOGUE_FUNCTION)), batch0,
                 *(("buffer", s, 0) for s in reads), ("buffer", c_slot, 0))
        entry = gemm_epilogue_function_name(dtype)
    n_in = len(d.buffers) - d.n_outputs
    return Launch(d.name, module.address(entry), args, tuple(dict.fromkeys(kslots[:n_in])), tuple(kslots[n_in:]),
                  extent, d.batch * d.m * d.n * d.k, d.source)
