"""The compiler: a graph in, an executable for a device out.

    optimize (transforms) -> partition (schedule, for the target) -> lower (codegen) -> build (backend)

``compile_graph`` is what ``@lumina.compile``, eager realisation and ONNX import all call.
``CompileOptions`` (the partitioner's ``FusionOptions``) say what may fuse; a compilation given
none uses the current ones, which ``with options(dot_rows=False): ...`` changes for a block.
Executables are cached in memory by the graph's structure, the target's key and the options,
so retracing an identical graph never reaches a code generator again while its executable is
alive, and other options never get it. The cache keeps the ``RECENT_EXECUTABLES`` most recently
requested executables (eager realisations have no other owner) and finds every other one still
alive (held by a compiled function's cache, a ``Lowered``); the rest are freed with their arenas
and machine code.
"""
from __future__ import annotations

import functools
import hashlib
import pickle
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from . import progress
from .backends import devices, disk_cache
from .backends.target import Target, backend, target_for
from .codegen.program import Program, lower_partition
from .ir.graph import Graph, Node, emit
from .ir.ops import Op
from .schedule.options import FusionOptions
from .schedule.partition import partition
from .transforms.pipeline import environment as pipeline_environment
from .transforms.pipeline import optimize

_LOCK = threading.Lock()
# Every executable still alive, by key; the recent ones are held here too. Compiled modules are
# held by the executables that call them, so they go with the last one.
_EXECUTABLES: "weakref.WeakValueDictionary[tuple, object]" = weakref.WeakValueDictionary()
_RECENT: "OrderedDict[tuple, object]" = OrderedDict()   # least recently requested first

RECENT_EXECUTABLES = 32


@dataclass(frozen=True)
class CompileOptions:
    """Everything besides the graph and the target that decides what is built: ``fusion``, the
    partitioner's switches and budgets. Part of every executable's cache key."""
    fusion: FusionOptions = field(default_factory=FusionOptions)


_OPTIONS: ContextVar[CompileOptions] = ContextVar("lumina_compile_options", default=CompileOptions())


def current_options() -> CompileOptions:
    """The options a compilation given none uses: ``CompileOptions()``, or those of the innermost
    ``options`` block this thread is in."""
    return _OPTIONS.get()


@contextmanager
def options(**fusion) -> Iterator[CompileOptions]:
    """Within the ``with`` block, in this thread, compile with the current options' named
    ``FusionOptions`` fields changed (``with options(epilogues=False, max_row_elements=16):``);
    yields those options. Compiled functions and executables are cached per options, so the block
    never gets what was built outside it, nor the reverse. Raises LuminaValueError for an unknown
    field, LuminaTypeError / LuminaValueError for a bad value (``FusionOptions``)."""
    now = current_options()
    token = _OPTIONS.set(CompileOptions(now.fusion.changed(**fusion)))
    try:
        yield _OPTIONS.get()
    finally:
        _OPTIONS.reset(token)


def lower_program(graph: Graph, target: Target, options: CompileOptions | None = None) -> Program:
    """The target-independent half of a build: ``graph`` optimized (every stage kept, printed
    only when someone asks: ``Lowered.as_text``), partitioned into kernel groups for what
    ``target`` can do, with ``options`` (None: ``current_options()``), and each group lowered to
    its kernel description."""
    options = options if options is not None else current_options()
    stages = [("input", graph)]
    optimized = optimize(graph, on_pass=lambda name, g: stages.append((name, g)))
    groups = partition(optimized, target, options.fusion)
    return lower_partition(optimized, groups, stages)


def build(graph: Graph, target: Target, options: CompileOptions | None = None, structural_hash: str | None = None):
    """The executable of ``graph`` for ``target``: ``lower_program`` (or the program the disk
    cache holds for it: ``cached_program``), then the target's backend. A build that runs past
    ``progress.COMPILE_BAR_DELAY`` seconds shows a bar of the modules it builds, on a terminal.
    ``structural_hash``: ``graph.structural_hash()`` when the caller has it (a big graph's costs
    milliseconds)."""
    with progress.compiling(graph.name):
        return backend(target.device).build(cached_program(graph, target, options, structural_hash), target)


def cached_program(graph: Graph, target: Target, options: CompileOptions | None = None,
                   structural_hash: str | None = None) -> Program:
    """``lower_program(graph, target, options)``, kept in the disk cache (``backends.disk_cache``)
    under the graph's structural hash, the target, the options and lumina's source: a warm
    process skips the passes, the partition and the lowering. A loaded program has the traced
    ``graph`` and lowers again only if a dump asks for its stages or partition
    (``Program.relower``). A program that cannot be pickled (an expression too deep) is not kept.
    ``LUMINA_PASSES_OFF`` is part of the key; under ``LUMINA_DUMP`` the program is always lowered
    (the dump is printed as the passes run)."""
    options = options if options is not None else current_options()
    passes_off, dumping = pipeline_environment()
    if dumping or disk_cache.cache_root() is None:   # LUMINA_DUMP prints what the passes do
        return lower_program(graph, target, options)
    digest = structural_hash or graph.structural_hash()   # the caller may have it already (compile_graph)
    key = disk_cache.cache_key("program", _source_digest(), digest, repr(target.key), repr(options),
                               ",".join(sorted(passes_off)))
    relower = functools.cache(functools.partial(lower_program, graph, target, options))
    found = disk_cache.load("program", key)
    if found is not None:
        try:
            stored = pickle.loads(found[0])
        except Exception:   # written by a lumina whose classes differ: the source digest should prevent it
            stored = None
        if isinstance(stored, Program):
            return replace(stored, graph=graph, key=key, relower=relower)
    program = lower_program(graph, target, options)
    bare = replace(program, graph=None, stages=None, partition=None, relower=None,
                   kernels=[(None, desc, slots) for _, desc, slots in program.kernels])
    try:
        data = pickle.dumps(bare, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, RecursionError, TypeError, AttributeError):
        return program
    disk_cache.store("program", key, [data])
    return replace(program, key=key)


@functools.cache
def _source_digest() -> str:
    """SHA-256 of lumina's Python source: a program on disk was lowered by this very code."""
    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def compile_graph(graph: Graph, device: str = "cpu", options: CompileOptions | None = None):
    """The executable computing ``graph`` on ``device`` ("cpu": an ``Executable`` over LLVM
    kernels; "cuda": a ``CudaExecutable`` over Triton kernels; "metal": a ``MetalExecutable``)
    with ``options`` (None: ``current_options()``), cached by structure (``Graph.structure_key``),
    target and options.
    Raises LuminaDeviceError (naming the device and why) for a device that cannot run here."""
    target = target_for(devices.require(device))
    options = options if options is not None else current_options()
    key = (graph.structure_key(), target.key, options)   # no text formatted: a cache hit is cheap
    with _LOCK:
        exe = _EXECUTABLES.get(key)
        if exe is None:
            graph = with_own_inputs(graph)   # the executable keeps it (for inspection), not its data
            exe = _EXECUTABLES[key] = build(graph, target, options)
        _RECENT[key] = exe
        _RECENT.move_to_end(key)
        while len(_RECENT) > RECENT_EXECUTABLES:
            _RECENT.popitem(last=False)
    return exe


def with_own_inputs(graph: Graph) -> Graph:
    """``graph`` over fresh ``input`` nodes of the same types and names (the nodes on a path from
    an input are copied). The front end binds a realised tensor's data to its ``input`` value for
    as long as the value lives (``tracing.BOUND``), so whatever keeps a graph (an executable, for
    inspection) keeps this copy: it never holds the data of the tensors the graph was built from."""
    if not graph.inputs:
        return graph
    new = {id(v): emit(Op.INPUT, type=v.type, **v.attrs) for v in graph.inputs}
    nodes = []
    for n in graph.nodes:
        if id(n) not in new and any(id(v) in new for v in n.inputs):
            new[id(n)] = Node(n.op, [new.get(id(v), v) for v in n.inputs], n.attrs, n.type)
        nodes.append(new.get(id(n), n))
    return Graph(nodes, [new[id(v)] for v in graph.inputs], [new.get(id(v), v) for v in graph.outputs],
                 graph.name)


def cache_clear() -> None:
    """Forget every cached executable and compiled CPU module (the next request of a graph builds
    it afresh; executables still held elsewhere stay usable)."""
    with _LOCK:
        _EXECUTABLES.clear()
        _RECENT.clear()
        backend("cpu").cache_clear()


def cache_info() -> dict:
    """``{"alive": executables alive in the cache, "recent": those it holds itself,
    "modules": compiled LLVM modules alive}``."""
    with _LOCK:
        return {"alive": len(_EXECUTABLES), "recent": len(_RECENT), **backend("cpu").cache_info()}
