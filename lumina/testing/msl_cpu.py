"""Run rendered MSL kernels on the CPU: compile them as C++ against ``msl/shim.h`` and execute them
thread by thread (threadgroups one after another, the threads of a group as fibers that switch at
``threadgroup_barrier``; see the header for the semantics kept).

    lib = build([desc1, desc2])                      # one g++ call for the batch, cached on disk
    outputs = lib.run(desc1, inputs)                 # one flat array per output buffer

``compile_sources`` does the same for MSL text that did not come from ``backends.metal.msl`` (a test's
hand-written kernel). A batch compiles into one shared library under ``$LUMINA_CACHE/msl`` (default
``~/.cache/lumina/msl``), named by the hash of the sources, the shim and the compiler flags, so a
second run pays no compile time. Each kernel sits in a namespace of its own, so kernels that share
a name or helpers do not clash; a generated ``extern "C"`` entry per kernel binds its parameters
from the ``[[...]]`` attributes of its signature. Every ``device T*`` of a source becomes the shim's
``lumina_msl::dptr<T>``, whose loads and stores model when a thread's device writes become visible
to the others of its group (at a ``mem_device`` barrier; see the header). ``run`` starts every
output as 0xFF bytes (NaN floats, -1 integers), so an element nobody wrote, or one read before its
writer's store was visible, shows.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backends.metal import msl as metal
from ..codegen.kernel import DotKernel, LoopKernel, RowKernel
from ..errors import LuminaCodegenError
from .registry import cache_dir

SHIM_DIR = Path(__file__).parent / "msl"
CXX = os.environ.get("CXX", "g++")
FLAGS = ("-std=c++20", "-O0", "-shared", "-fPIC", "-fwrapv", "-fno-strict-aliasing",
         "-ffp-contract=off", "-Wno-attributes", "-w")

# How each position attribute binds, from the driver's (groups, threads, tg, lid).
_POSITION = {
    "threadgroup_position_in_grid": "tg",
    "thread_position_in_threadgroup": "lid",
    "thread_index_in_threadgroup": "lid",
    "thread_position_in_grid": "tg * threads + lid",
    "threads_per_threadgroup": "threads",
    "threadgroups_per_grid": "groups",
    "threads_per_grid": "groups * threads",
}
_DEVICE_POINTER = re.compile(r"\b(const\s+)?device\s+(const\s+)?(\w+)\s*\*")
_KERNEL = re.compile(r"kernel\s+void\s+(\w+)\s*\(")
_PARAM = re.compile(r"^(?P<type>.+?)\s*\b(?P<name>\w+)\s*\[\[\s*(?P<attr>\w+)\s*(?:\(\s*(?P<arg>\d+)\s*\))?\s*\]\]$",
                    re.DOTALL)


@dataclass(frozen=True)
class _Param:
    type: str
    attr: str
    index: int | None


def _signature(source: str) -> tuple[str, list[_Param]]:
    """The kernel's name and its parameters (type, attribute, buffer index)."""
    found = _KERNEL.search(source)
    if found is None:
        raise LuminaCodegenError("msl shim: no `kernel void name(...)` in the source")
    depth, start, params, i = 0, found.end(), [], found.end()
    while True:   # split at the top-level commas up to the closing parenthesis
        ch = source[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                params.append(source[start:i])
                break
            depth -= 1
        elif ch == "," and depth == 0:
            params.append(source[start:i])
            start = i + 1
        i += 1
    out = []
    for text in params:
        m = _PARAM.match(text.strip())
        if m is None:
            raise LuminaCodegenError(f"msl shim: kernel {found.group(1)}: cannot bind parameter "
                                     f"{text.strip()!r}: expected `type name [[attribute]]`")
        attr = m.group("attr")
        if attr != "buffer" and attr not in _POSITION:
            raise LuminaCodegenError(f"msl shim: kernel {found.group(1)}: unsupported attribute "
                                     f"[[{attr}]]; expected buffer(i) or one of {sorted(_POSITION)}")
        arg = m.group("arg")
        out.append(_Param(m.group("type"), attr, int(arg) if arg is not None else None))
    return found.group(1), out


def _device_pointers(source: str) -> str:
    """``source`` with every ``[const] device T*`` as ``lumina_msl::dptr<[const] T>``."""
    def sub(m: re.Match) -> str:
        const = "const " if m.group(1) or m.group(2) else ""
        return f"lumina_msl::dptr<{const}{m.group(3)}> "
    return _DEVICE_POINTER.sub(sub, source)


def _translation_unit(sources: list[str]) -> str:
    parts = ['#include "shim.h"\n']
    for i, src in enumerate(sources):
        src = _device_pointers(src)
        name, params = _signature(src)
        section = f"lumina_tg_{i}"
        args = []
        for p in params:
            if p.attr != "buffer":
                args.append(f"(uint)({_POSITION[p.attr]})")
            elif p.type.rstrip().endswith("&"):   # a struct by reference: bufs[i] points at it
                args.append(f"*({p.type.rstrip()[:-1]}*)bufs[{p.index}]")
            else:
                args.append(f"({p.type})bufs[{p.index}]")
        barrier = "true" if "threadgroup_barrier" in src else "false"
        parts.append(f"""
#undef threadgroup
#define threadgroup static __attribute__((section("{section}"), aligned(16)))
extern "C" char __start_{section}[] __attribute__((weak));
extern "C" char __stop_{section}[] __attribute__((weak));
namespace lumina_kernel_{i} {{
{src}
// the entry point sits in the kernel's namespace, so parameter types (a struct) resolve
extern "C" int lumina_run_{i}(void** bufs, uint groups, uint threads, int reverse, char* err, size_t errlen) {{
    auto body = [&](uint tg, uint lid) {{
        {name}({", ".join(args)});
    }};
    return lumina_msl::dispatch(groups, threads, {barrier}, reverse != 0, __start_{section}, __stop_{section}, body,
                                err, errlen);
}}
}}  // namespace lumina_kernel_{i}
""")
    return "".join(parts)


class ShimLibrary:
    """A compiled batch of MSL kernels. ``call(i, buffers, groups, threads)`` runs source ``i``
    on raw buffers; ``run(desc, inputs)`` runs a kernel description built by ``build``."""

    def __init__(self, path: Path, names: list[str], sources: list[str], descs: dict | None = None):
        self.path = path
        self.names = names
        self._lib = ctypes.CDLL(str(path))
        self._descs = descs or {}
        self._argument_buffer = {i: "constant lum_args& args" in src for i, src in enumerate(sources)}

    def call(self, i: int, buffers: list[np.ndarray], threadgroups: int, threads: int,
             reverse: bool = False) -> None:
        """Launch source ``i`` of the batch: ``threadgroups`` groups of ``threads`` threads over
        ``buffers`` (C-contiguous arrays, in ``[[buffer(i)]]`` order), written in place. The threads
        of a group take turns in index order, or with ``reverse`` from the last one (a kernel whose
        barriers are right gives the same result both ways)."""
        for b in buffers:
            if not b.flags.c_contiguous:
                raise LuminaCodegenError(f"msl shim: kernel {self.names[i]}: buffers must be contiguous")
        ptrs = (ctypes.c_void_p * max(len(buffers), 1))(*[b.ctypes.data for b in buffers])
        table = ptrs
        if self._argument_buffer.get(i):   # the kernel reads every pointer from one struct: bufs[0]
            ptrs = (ctypes.c_void_p * 1)(ctypes.addressof(table))
        err = ctypes.create_string_buffer(512)
        fn = getattr(self._lib, f"lumina_run_{i}")
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_int, ctypes.c_char_p,
                       ctypes.c_size_t]
        if fn(ptrs, threadgroups, threads, int(reverse), err, len(err)) != 0:
            raise LuminaCodegenError(f"msl shim: kernel {self.names[i]}: {err.value.decode()}")

    def run(self, desc, inputs: list[np.ndarray], reverse: bool = False) -> list[np.ndarray]:
        """Run ``desc`` (built into this library) on ``inputs`` (one array per input buffer, in
        ``desc.buffers`` order, any shape with the right size); returns one new flat array per
        output buffer (started as 0xFF bytes, so an element the kernel never wrote shows).
        ``reverse``: see ``call``. Raises ``LuminaCodegenError`` on a size or dtype
        mismatch."""
        i = self._descs.get(id(desc))
        if i is None:
            raise LuminaCodegenError(f"msl shim: kernel {desc.name} is not in this library")
        n_out = desc.n_outputs
        n_in = len(desc.buffers) - n_out
        if len(inputs) != n_in:
            raise LuminaCodegenError(f"msl shim: kernel {desc.name}: {len(inputs)} inputs, expected {n_in}")
        arrays = []
        for j, (buf, x) in enumerate(zip(desc.buffers, inputs)):
            x = np.ascontiguousarray(x).reshape(-1)
            if x.size != buf.numel or x.dtype != buf.dtype.numpy:
                raise LuminaCodegenError(f"msl shim: kernel {desc.name}: input {j} is {x.dtype}[{x.size}], "
                                         f"expected {buf.dtype.numpy}[{buf.numel}]")
            arrays.append(x)
        # garbage, as a GPU's fresh buffer: an unwritten element, or one read too early, shows
        outputs = [np.full(b.numel * b.dtype.itemsize, 0xFF, np.uint8).view(b.dtype.numpy)
                   for b in desc.buffers[n_in:]]
        geo = metal.geometry(desc)
        if geo.threadgroups:
            self.call(i, arrays + outputs, geo.threadgroups, geo.threads, reverse)
        return outputs


def compile_sources(sources: list[str]) -> ShimLibrary:
    """Compile MSL ``sources`` (one kernel each) with one g++ call (or load the cached library).
    Raises ``LuminaCodegenError`` with g++'s messages when a source does not compile."""
    unit = _translation_unit(sources)
    shim = (SHIM_DIR / "shim.h").read_text()
    key = hashlib.sha256("\0".join([CXX, *FLAGS, shim, unit]).encode()).hexdigest()[:32]
    folder = cache_dir() / "msl"
    path = folder / f"{key}.so"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            cpp = Path(tmp) / "kernels.cpp"
            cpp.write_text(unit)
            out = Path(tmp) / "kernels.so"
            proc = subprocess.run([CXX, *FLAGS, "-I", str(SHIM_DIR), str(cpp), "-o", str(out)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise LuminaCodegenError(f"msl shim: g++ rejected the MSL of "
                                         f"{[_signature(s)[0] for s in sources]}:\n{proc.stderr[-4000:]}")
            os.replace(out, path)   # atomic: a concurrent process sees the whole file or none
    return ShimLibrary(path, [_signature(s)[0] for s in sources], sources)


def build(descs: list[LoopKernel | RowKernel | DotKernel]) -> ShimLibrary:
    """Render every description with ``backends.metal.msl`` and compile them as one batch; identical
    sources compile once. ``run(desc, inputs)`` then runs any of ``descs``."""
    sources: list[str] = []
    index: dict[str, int] = {}
    which = {}
    for d in descs:
        src = metal.render(d)
        if src not in index:
            index[src] = len(sources)
            sources.append(src)
        which[id(d)] = index[src]
    lib = compile_sources(sources)
    lib._descs = which
    lib._keep = list(descs)   # the ids above stay valid while the library lives
    return lib


_PENDING: list = []          # launchers created but not yet compiled: built together, in one batch
_PENDING_LOCK = threading.Lock()


class _Launcher:
    def __init__(self, desc):
        self.desc, self.geometry, self.lib = desc, metal.geometry(desc), None
        metal.render(desc)   # refuse float64 (or anything else unrenderable) now, not at launch

    def __call__(self, buffers: list[np.ndarray]) -> None:
        if self.lib is None:
            with _PENDING_LOCK:
                if self.lib is None:
                    batch = list(_PENDING)
                    _PENDING.clear()
                    lib = build([p.desc for p in batch])
                    for p in batch:
                        p.lib = lib
        if len(buffers) != len(self.desc.buffers):
            raise LuminaCodegenError(f"msl shim: kernel {self.desc.name}: {len(buffers)} buffers, "
                                     f"expected {len(self.desc.buffers)}")
        if self.geometry.threadgroups:
            self.lib.call(self.lib._descs[id(self.desc)], buffers, self.geometry.threadgroups,
                          self.geometry.threads)


def launcher(desc):
    """``launcher(desc)(buffers)``: run ``desc`` under the shim on ``buffers`` (flat C-contiguous
    NumPy arrays in ``desc.buffers`` order, outputs written in place): the API of
    ``backends.metal.device.launcher``. Launchers made before the first launch compile together in one
    g++ call (a whole program's kernels). Raises ``LuminaCodegenError`` at once for a kernel the
    renderer refuses (float64)."""
    run = _Launcher(desc)
    with _PENDING_LOCK:
        _PENDING.append(run)
    return run
