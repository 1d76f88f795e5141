"""Loading and launching Triton kernels rendered by ``backends.cuda.triton``.

    run = launcher(desc)                 # render + load, cached by the description
    run([a, b, out])                     # flat 1-d contiguous torch tensors in desc.buffers order

Triton's JIT reads a kernel's source with ``inspect``, so the rendered module is written to
``$LUMINA_CACHE/triton/<sha256 of the source>.py`` (default ``~/.cache/lumina``) and imported from
there. The cache is never trusted: the module's code and the source Triton reads are the rendered
source held in memory (no ``__pycache__``), and a cache entry that differs from it (truncated,
corrupt, not UTF-8, a directory, unreadable) is removed and written again (``_write_entry``).

Under ``TRITON_INTERPRET=1`` (``interpreting()``) the module is imported with the variable set, so
its functions are Triton's interpreted ones and run on CPU torch tensors; otherwise they are JIT
functions for the GPU the tensors live on. The variable is read when a launcher is made (and
is part of the cache key), so interpreted and compiled launchers of one description can coexist.

Buffers: ``torch.bool`` tensors are passed as their ``uint8`` bytes (the kernel loads ``!= 0`` and
stores 0/1), 16-bit floats as themselves. Launches go on the current torch stream.

Block sizes: on a GPU the first launch of a kernel times every configuration of
``backends.cuda.triton.geometry(desc).configs`` on copies of its buffers (so an output that aliases an
input is never clobbered) and keeps the fastest, cached in memory and on disk
(``$LUMINA_CACHE/triton/autotune.json``) by source hash and device name. Under the interpreter or
with ``LUMINA_TRITON_AUTOTUNE=0`` the default configuration ``configs[0]`` is used, untimed. (The
timing launches synchronise: launch each kernel once before capturing a CUDA graph.)
Floating-point contraction (FMA fusion) is off, matching the CPU backend's IEEE ops.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import json
import linecache
import os
import shutil
import sys
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

from ...codegen.kernel import DotKernel, LoopKernel, RowKernel
from .triton import geometry, render
from .triton_expr import POINTER
from ...errors import LuminaCodegenError, LuminaDeviceError

__all__ = ["Launcher", "autotune", "cache_dir", "compile_aot", "interpreting", "launcher", "signature"]

# Held while loading a kernel module, and around every Triton compilation and launch (a launch may
# compile, or, under the interpreter, patch ``triton.language``): Triton's code generator runs
# ``ast.parse``, and CPython (3.11 here) keeps the AST constructor's recursion depth per interpreter,
# not per thread, so two threads compiling at once can fail with "SystemError: AST constructor
# recursion depth mismatch" (python/cpython#106905).
_LOCK = threading.RLock()
# The launchers in use (held by the executables that launch them): a launcher goes with the last
# executable using it, and its module (with Triton's compiled binaries) leaves ``sys.modules``.
_LAUNCHERS: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
_TUNED: dict[str, dict] = {}
_TUNE_REPS = 10


def interpreting() -> bool:
    """Whether ``TRITON_INTERPRET=1`` is in effect (Triton's CPU interpreter)."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def cache_dir() -> Path:
    """``$LUMINA_CACHE/triton`` (default ``~/.cache/lumina/triton``), created on demand (a file in
    its place is removed). Raises LuminaCodegenError where it cannot be created."""
    root = Path(os.environ.get("LUMINA_CACHE", Path.home() / ".cache" / "lumina"))
    path = root / "triton"
    try:
        if path.is_symlink() or path.exists() and not path.is_dir():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LuminaCodegenError(f"triton: the kernel cache {path} cannot be created ({type(exc).__name__}: "
                                 f"{exc}); point LUMINA_CACHE at a writable folder") from exc
    return path


def _remove(path: Path) -> None:
    """Remove whatever is at ``path`` (a file, a link, a directory tree); nothing there is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _write_entry(path: Path, data: bytes) -> None:
    """Make the cache entry ``path`` hold exactly ``data``: an entry that already does is left
    alone; anything else there (truncated or corrupt bytes, text that is not UTF-8, a directory,
    a file that cannot be read) is removed and written again, atomically (another process may be
    writing the same entry). Raises OSError where the cache cannot be written."""
    try:
        if path.read_bytes() == data:
            return
    except OSError:   # missing, a directory, unreadable: replaced below
        pass
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    try:
        os.replace(tmp, path)
    except OSError:   # a directory (or something else os.replace cannot overwrite) is in the way
        _remove(path)
        os.replace(tmp, path)


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Loads a kernel module from the rendered source it is given, never from the file on disk or
    a ``__pycache__`` entry (a stale or corrupt one would be trusted, or crash the import); the
    file is only ``__file__``, and ``linecache`` holds the same source for ``inspect``."""

    def __init__(self, fullname: str, path: str, source: str):
        super().__init__(fullname, path)
        self.source = source

    def get_source(self, fullname):
        return self.source

    def get_code(self, fullname):
        return compile(self.source, self.path, "exec", dont_inherit=True)


def _module_name(digest: str, interpret: bool) -> str:
    return f"lumina_triton_{digest}_{'interp' if interpret else 'jit'}"


def _load(source: str, name: str, interpret: bool):
    """Import ``source`` from the cache directory and return its function ``name`` (an
    ``InterpretedFunction`` when ``interpret``, else a ``JITFunction``)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    path = cache_dir() / f"{digest}.py"
    module_name = _module_name(digest, interpret)
    with _LOCK:
        try:
            _write_entry(path, source.encode())
        except OSError as exc:
            raise LuminaCodegenError(f"triton: kernel {name}: cannot write its source to the cache entry {path} "
                                     f"({type(exc).__name__}: {exc}); point LUMINA_CACHE at a writable "
                                     f"folder") from exc
        # inspect (Triton's JIT) reads the source through linecache: give it the rendered text, not
        # the file, which another process could be rewriting (an entry without mtime is kept)
        linecache.cache[str(path)] = (len(source), None, source.splitlines(keepends=True), str(path))
        module = sys.modules.get(module_name)
        if module is None:
            saved = os.environ.get("TRITON_INTERPRET")
            os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
            try:
                loader = _SourceLoader(module_name, str(path), source)
                spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            except Exception as exc:   # a rendering bug: show where the source is
                raise LuminaCodegenError(f"triton: kernel {name}: generated source {path} does not load: "
                                         f"{type(exc).__name__}: {exc}") from exc
            finally:
                if saved is None:
                    del os.environ["TRITON_INTERPRET"]
                else:
                    os.environ["TRITON_INTERPRET"] = saved
            sys.modules[module_name] = module
    return getattr(module, name), digest


@contextlib.contextmanager
def _language_restored():
    """Undo what an interpreted launch leaves patched in ``triton.language``: Triton 3.9's
    interpreter patches the language for every call of a ``@triton.jit`` helper from a kernel
    (``InterpretedFunction.__call__``) and never restores it, after which ``triton.compile`` in the
    same process fails ("'value' object has no attribute 'dtype'")."""
    import triton.language as tl
    objects = (tl, tl.core, tl.math, tl.tensor, tl.dtype, tl.condition, tl.core.tensor_descriptor_base)
    saved = [dict(vars(obj)) for obj in objects]
    try:
        yield
    finally:
        for obj, before in zip(objects, saved):
            for name, value in list(vars(obj).items()):
                if name not in before:
                    delattr(obj, name)
                elif before[name] is not value:
                    setattr(obj, name, before[name])


def _tune_file() -> Path:
    return cache_dir() / "autotune.json"


def _disk_tuned() -> dict:
    """The tuning table on disk; empty where the file is missing, unreadable, not UTF-8 JSON, or
    not a JSON object (``autotune`` checks each entry it uses)."""
    try:
        table = json.loads(_tune_file().read_bytes().decode())
    except (OSError, ValueError):   # ValueError: UnicodeDecodeError and JSONDecodeError
        return {}
    return table if isinstance(table, dict) else {}


def _remember(key: str, config: dict) -> None:
    """Add ``key: config`` to the tuning table in memory and on disk. The disk copy is a cache: where
    it cannot be written, the next process times the kernel again."""
    with _LOCK:
        _TUNED[key] = config
        table = _disk_tuned()
        table[key] = config
        with contextlib.suppress(OSError):
            _write_entry(_tune_file(), json.dumps(table, indent=1, sort_keys=True).encode())


class Launcher:
    """A loaded kernel, ready to launch. ``name``: the kernel's name; ``source``: the rendered
    module; ``geometry``: its block sizes and grid (``backends.cuda.triton.Geometry``); ``interpret``:
    whether it runs in Triton's interpreter."""

    def __init__(self, desc, interpret: bool):
        self.desc = desc
        self.name = desc.name
        self.source = render(desc)
        self.geometry = geometry(desc)
        self.interpret = interpret
        self.fn, self.digest = _load(self.source, desc.name, interpret)
        self.config: dict | None = dict(self.geometry.configs[0]) if interpret else None

    def __call__(self, buffers: Sequence[torch.Tensor]) -> None:  # noqa: F821
        """Launch on ``buffers``: flat 1-d contiguous tensors in ``desc.buffers`` order (inputs,
        then outputs), on the GPU (CPU under the interpreter), with ``desc.buffers``' dtypes and
        sizes. Raises ``LuminaDeviceError`` for a wrong count, size, dtype or device."""
        args = self._check(buffers)
        config = self.config if self.config is not None else self._tuned(args)
        self._launch(args, config)

    def _launch(self, args, config: dict) -> None:
        meta = {p: config[p] for p in self.geometry.params}
        if 0 in self.geometry.grid(meta):   # an empty output: nothing to write
            return
        if self.interpret:
            with _LOCK, _language_restored():
                self.fn[self.geometry.grid(meta)](*args, **meta)
            return
        options = {"num_warps": config.get("num_warps", 4), "enable_fp_fusion": False}
        with _LOCK:
            self.fn[self.geometry.grid(meta)](*args, **meta, **options)

    def _check(self, buffers):
        import torch

        from ...ir.dtypes import DType
        bufs = self.desc.buffers
        if len(buffers) != len(bufs):
            raise LuminaDeviceError(f"triton: kernel {self.name} takes {len(bufs)} buffers, got {len(buffers)}")
        args = []
        for i, (t, b) in enumerate(zip(buffers, bufs)):
            want = b.dtype.numpy
            if t.dim() != 1 or t.numel() != b.numel or not t.is_contiguous() or \
                    str(t.dtype).removeprefix("torch.") != ("bool" if b.dtype is DType.bool else want.name):
                raise LuminaDeviceError(
                    f"triton: kernel {self.name}: buffer {i} must be a flat contiguous {b.dtype.name}[{b.numel}], "
                    f"got {t.dtype!s}{list(t.shape)}")
            if self.interpret != (t.device.type == "cpu"):
                raise LuminaDeviceError(f"triton: kernel {self.name}: buffer {i} is on {t.device}; "
                                        f"{'the interpreter runs on CPU tensors' if self.interpret else 'expected a GPU tensor'}")
            args.append(t.view(torch.uint8) if t.dtype is torch.bool else t)
        return args

    def _tuned(self, args) -> dict:
        import torch
        configs = self.geometry.configs
        if len(configs) == 1 or os.environ.get("LUMINA_TRITON_AUTOTUNE", "1") == "0":
            self.config = dict(configs[0])
            return self.config
        key = f"{self.digest}/{torch.cuda.get_device_name(args[0].device)}"
        scratch = []

        def milliseconds(config: dict) -> float:
            if not scratch:   # copies: an output may alias an input, and every run writes it
                scratch.extend(a.clone() for a in args)
            self._launch(scratch, config)   # compile and warm up
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(_TUNE_REPS):
                self._launch(scratch, config)
            end.record()
            end.synchronize()
            return start.elapsed_time(end)

        self.config = autotune(key, configs, milliseconds)
        return self.config


def autotune(key: str, configs, cost) -> dict:
    """The configuration of ``configs`` with the lowest ``cost(config)`` (a time), remembered under
    ``key`` (source hash / device name) in memory and in ``$LUMINA_CACHE/triton/autotune.json``:
    a key seen before, in this process or an earlier one, costs nothing. A remembered entry that is
    not one of ``configs`` (a corrupt or stale file) is timed again."""
    hit = _TUNED.get(key) or _disk_tuned().get(key)
    if hit not in [dict(c) for c in configs]:
        costs = [cost(c) for c in configs]
        hit = dict(configs[min(range(len(configs)), key=costs.__getitem__)])
        _remember(key, hit)
    _TUNED[key] = hit
    return dict(hit)


def launcher(desc: LoopKernel | RowKernel | DotKernel) -> Launcher:
    """The ``Launcher`` of ``desc`` (rendered and loaded once per description and mode: see
    ``interpreting``)."""
    interpret = interpreting()
    key = (desc, interpret)
    with _LOCK:
        hit = _LAUNCHERS.get(key)
        if hit is None:
            hit = _LAUNCHERS[key] = Launcher(desc, interpret)
            weakref.finalize(hit, sys.modules.pop, _module_name(hit.digest, interpret), None)
    return hit


def signature(desc) -> dict[str, str]:
    """``triton.compile``'s signature of ``render(desc)``: pointer types, then constexprs."""
    sig = {f"p{i}": POINTER[b.dtype] for i, b in enumerate(desc.buffers)}
    sig.update({p: "constexpr" for p in geometry(desc).params})
    return sig


def compile_aot(desc, arch: int = 90, config: dict | None = None) -> dict:
    """Compile ``render(desc)`` ahead of time for CUDA ``sm_<arch>`` (no GPU needed: Triton's
    bundled ptxas). Returns Triton's ``asm`` dict (``"ttir"``, ``"ttgir"``, ``"llir"``, ``"ptx"``
    and ``"cubin"``, the ELF bytes) for ``config`` (default ``geometry(desc).configs[0]``).
    Raises ``LuminaCodegenError`` when Triton rejects the source. Safe to call from several
    threads: the compilations run one at a time (see ``_LOCK``)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    geo = geometry(desc)
    config = dict(config or geo.configs[0])
    fn, _ = _load(render(desc), desc.name, interpret=False)
    src = ASTSource(fn, signature=signature(desc), constexprs={p: config[p] for p in geo.params})
    options = {"num_warps": config.get("num_warps", 4), "enable_fp_fusion": False}
    try:
        with _LOCK:
            compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32), options=options)
    except Exception as exc:
        raise LuminaCodegenError(f"triton: kernel {desc.name}: sm_{arch} compilation failed: "
                                 f"{type(exc).__name__}: {str(exc)[:2000]}") from exc
    return compiled.asm
