"""The compile pipeline: Graph -> passes -> fusion -> kernel descriptions -> LLVM -> Executable.

``compile_graph`` is what ``@lumina.compile``, eager realisation and (later) ONNX import all call.
Executables are cached in memory by the graph's structural hash, and compiled LLVM modules by the
hash of their text, so retracing an identical graph never reaches LLVM again.
"""
from __future__ import annotations

import ctypes
import hashlib
import threading
from dataclasses import replace

import numpy as np

from .codegen.kernel import DotKernel, LoopKernel
from .codegen.llvm import render_module
from .codegen.llvm_gemm import gemm_function_name, gemm_workspace_elems, render_gemm
from .codegen.lower import lower
from .ir.graph import Graph
from .ir.ops import Op
from .ir.printer import format_node, value_names
from .passes.fusion import partition
from .passes.pipeline import optimize
from .runtime.executable import Executable, Launch, SlotSpec, cfunc, loop_args
from .runtime.jit import CompiledModule, compile_llvm

_LOCK = threading.Lock()
_EXECUTABLES: dict[str, Executable] = {}
_MODULES: dict[str, CompiledModule] = {}


def _module(text: str, name: str) -> CompiledModule:
    key = hashlib.sha256(text.encode()).hexdigest()
    mod = _MODULES.get(key)
    if mod is None:
        mod = _MODULES[key] = compile_llvm(text, name)
    return mod


def compile_graph(graph: Graph) -> Executable:
    """The executable computing ``graph``; cached by structural hash."""
    key = graph.structural_hash()
    with _LOCK:
        exe = _EXECUTABLES.get(key)
        if exe is None:
            exe = _EXECUTABLES[key] = _build(graph)
    return exe


def cache_clear() -> None:
    with _LOCK:
        _EXECUTABLES.clear()
        _MODULES.clear()


def _build(graph: Graph) -> Executable:
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
        kernels.append((k, lower(k, i, source)))
    # Structurally identical kernels (a deep chain repeats one) share one compiled function.
    unique: dict[LoopKernel, LoopKernel] = {}
    for _, d in kernels:
        if isinstance(d, LoopKernel):
            unique.setdefault(replace(d, name="", source=()), d)
    loops = list(unique.values())
    llvm_text = render_module(loops, name=f"{graph.name}_kernels") if loops else ""
    module = _module(llvm_text, f"{graph.name}_kernels") if loops else None
    keepalive = [module] if module else []

    launches = []
    for k, desc in kernels:
        kslots = [slot_of[id(v)] for v in k.inputs] + [slot_of[id(k.root)]]
        if isinstance(desc, LoopKernel):
            compiled_as = unique[replace(desc, name="", source=())].name
            fn = cfunc(module.address(compiled_as), len(kslots), 2)
            extent = desc.domain[0].extent if desc.domain else 1
            launches.append(Launch(desc.name, fn, kslots, extent, desc.work, loop_args(kslots), desc.source))
        else:
            launches.append(_gemm_launch(desc, kslots, slots, keepalive))
    info = {"stages": stages, "partition": part, "llvm": llvm_text,
            "kernels": [d for _, d in kernels]}
    output_slots = [slot_of[id(part.aliases.get(id(v), v))] for v in opt.outputs]
    return Executable(slots, [slot_of[id(v)] for v in opt.inputs], output_slots,
                      [v.shape for v in opt.outputs], launches, keepalive, info)


_WORKSPACES = threading.local()  # GEMM packing buffers: one per OS thread, so calls never share


def _workspace(dtype: str) -> int:
    table = _WORKSPACES.__dict__
    ws = table.get(dtype)
    if ws is None:
        ws = table[dtype] = np.empty(max(1, gemm_workspace_elems(dtype)), dtype)
    return ws.ctypes.data


def _gemm_launch(d: DotKernel, kslots, slots, keepalive) -> Launch:
    dtype = d.dtype.name
    module = _module(render_gemm(dtype), f"gemm_{dtype}")
    keepalive.append(module)
    fn = _gemm_cfunc(module.address(gemm_function_name(dtype)))
    isz = d.dtype.itemsize
    a_slot, b_slot = kslots[d.a.buf], kslots[d.b.buf]
    c_slot = kslots[-1]
    shape = (d.batch, d.m, d.n, d.k)
    strides = d.a.strides + d.b.strides + (d.m * d.n, d.n, 1)

    def args(ptrs, start, end, worker):
        return [ptrs[c_slot], ptrs[a_slot] + d.a.offset * isz, ptrs[b_slot] + d.b.offset * isz,
                *shape, *strides, start, end, _workspace(dtype)]
    return Launch(d.name, fn, kslots, d.m, d.batch * d.m * d.n * d.k, args, d.source)


def _gemm_cfunc(address: int):
    # (C, A, B, batch, M, N, K, 9 strides, m_start, m_end, workspace): see codegen/llvm_gemm.py
    p, i = ctypes.c_void_p, ctypes.c_int64
    return ctypes.CFUNCTYPE(None, p, p, p, *([i] * 15), p)(address)
