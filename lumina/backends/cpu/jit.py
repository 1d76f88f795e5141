"""LLVM JIT for the host CPU: LLVM IR text in, callable machine-code addresses out.

    mod = compile_llvm(ir_text, name="fused_mul_add")
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ...)(mod.address("fused_mul_add"))
    fn(...)                      # releases the GIL; safe from several threads at once
    print(mod.asm())             # native assembly, for inspection

Code is generated for the host CPU exactly (``llvm.get_host_cpu_name()`` and its feature list,
less the extensions above the ISA level that ``LUMINA_ISA`` forces: see ``backends.cpu.isa``), at
-O3 with loop and SLP vectorization, and loaded into an MCJIT execution engine. Calls to libm
(``expf``, ``tanhf``, ``erff``, ``powf``, ...) resolve against the process's C math library.

Thread safety: compiling holds a module-level lock (llvmlite parses into one global LLVM context,
which is not thread-safe). Calling compiled code needs no lock: once ``compile_llvm`` returns, the
code is finalized and read-only.
"""

from __future__ import annotations

import ctypes.util
import functools
import hashlib
import threading
from pathlib import Path
from typing import Callable, Sequence

import llvmlite
import llvmlite.binding as llvm

from ... import progress
from ...errors import LuminaCodegenError
from .. import disk_cache
from . import isa

__all__ = ["CompiledModule", "compile_llvm", "compile_rendered", "host_cpu_name", "host_simd", "host_target_description", "host_triple",
           "host_vector_bits"]

_OPT_LEVEL = 3

# Part of every disk-cache key: this module's source, which holds the optimisation pipeline (a
# change to it must not load object code the old pipeline made from the same IR).
_PIPELINE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()

# Serializes every use of the LLVM context: parsing, optimizing, code generation, engine creation.
_LLVM_LOCK = threading.RLock()


@functools.cache
def _initialize() -> None:
    """One-time LLVM setup: native target, asm printer, and libm visible to the JIT linker."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()
    # MCJIT resolves external symbols among the libraries loaded in the process. Python does not
    # always link libm itself, so load it explicitly to make `declare float @tanhf(float)` work.
    # libgcc_s provides the half-precision conversions (__truncsfhf2, __extendhfsf2) that LLVM
    # calls on CPUs without F16C.
    for name in ("m", "gcc_s"):
        lib = ctypes.util.find_library(name)
        if lib is not None:
            llvm.load_library_permanently(lib)


@functools.cache
def _host() -> tuple[str, str]:
    """(triple, cpu name) of the machine we run on."""
    _initialize()
    return llvm.get_process_triple(), llvm.get_host_cpu_name()


def _host_cpu() -> tuple[str, str, str]:
    """(triple, cpu name, feature string) the code is generated for: the host, with the features
    above ``isa.active_isa()`` turned off (read at each call: ``LUMINA_ISA`` may change)."""
    triple, cpu = _host()
    return triple, cpu, isa.llvm_features()


def host_cpu_name() -> str:
    """LLVM's name of the host CPU (``znver5``, ``skylake-avx512``, ``apple-m1``...)."""
    return _host()[1]


def host_triple() -> str:
    """The LLVM target triple of this process (``x86_64-unknown-linux-gnu``...)."""
    return _host()[0]


def host_simd() -> tuple[str, ...]:
    """The vector extensions the code is generated with (``sse4.2``, ``avx2``, ``fma``,
    ``avx512f``, ``neon``...), sorted: the host's, less those above ``isa.active_isa()``."""
    level = isa.active_isa()
    dropped = {"avx512": (), "avx2": ("avx512",), "baseline": ("avx", "fma", "f16c")}[level]
    features = isa.host_features().split(",")
    return tuple(sorted(f[1:] for f in features if f.startswith("+") and
                        any(k in f for k in ("sse", "avx", "fma", "neon")) and
                        not f[1:].startswith(dropped)))


def host_vector_bits() -> int:
    """The widest vector registers the generated float math uses: 512 with AVX-512F, 256 with
    AVX2, 128 otherwise (SSE, NEON), as ``isa.active_isa()`` decides."""
    return isa.vector_bits()


def host_target_description() -> str:
    """A string that identifies the code the JIT generates on this machine, for cache keys.

    Example: ``"x86_64-unknown-linux-gnu znver4 +64bit,+adx,+avx,+avx2,..."``. Two processes that
    get the same string generate interchangeable machine code.
    """
    triple, cpu, features = _host_cpu()
    llvm_version = ".".join(map(str, llvm.llvm_version_info))
    return f"{triple} {cpu} {features} O{_OPT_LEVEL} llvm{llvm_version}"


def _create_target_machine(opt_level: int = _OPT_LEVEL) -> llvm.TargetMachine:
    # A fresh target machine per engine: MCJIT takes ownership of the one it is given.
    triple, cpu, features = _host_cpu()
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=opt_level,
                                        codemodel="jitdefault", jit=True)


def _optimize(module: llvm.ModuleRef, target_machine: llvm.TargetMachine, opt_level: int) -> None:
    """Run LLVM's standard module pipeline at ``opt_level``, with loop and SLP vectorization on."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    tuning.loop_vectorization = True
    tuning.slp_vectorization = True
    tuning.loop_interleaving = True
    tuning.loop_unrolling = True
    builder = llvm.create_pass_builder(target_machine, tuning)
    pass_manager = builder.getModulePassManager()
    pass_manager.run(module, builder)


def _parse(ir_text: str, name: str) -> llvm.ModuleRef:
    try:
        module = llvm.parse_assembly(ir_text)
    except RuntimeError as exc:
        raise LuminaCodegenError(f"jit: module {name!r}: LLVM IR does not parse: {exc}") from None
    try:
        module.verify()
    except RuntimeError as exc:
        raise LuminaCodegenError(f"jit: module {name!r}: LLVM IR does not verify: {exc}") from None
    module.name = name
    triple, _, _ = _host_cpu()
    module.triple = triple
    return module


class CompiledModule:
    """Machine code for one LLVM module, alive as long as this object is.

    Holds the execution engine (which owns the module and the code memory): function addresses
    returned by ``address`` stay valid until this object is garbage-collected, so keep it referenced
    alongside any ctypes function built from them.
    """

    def __init__(self, name: str, engine: llvm.ExecutionEngine, optimized_ir: str) -> None:
        self.name = name
        self._engine = engine   # owns the module and the code memory
        self._optimized_ir = optimized_ir
        self._addresses: dict[str, int] = {}

    def address(self, symbol: str) -> int:
        """The raw address of function ``symbol``, for ``ctypes.CFUNCTYPE(...)(addr)``.

        Raises LuminaCodegenError if the module defines no such function.
        """
        cached = self._addresses.get(symbol)
        if cached is not None:
            return cached
        with _LLVM_LOCK:
            addr = self._engine.get_function_address(symbol)
        if not addr:
            with _LLVM_LOCK:
                defined = sorted(f.name for f in llvm.parse_assembly(self._optimized_ir).functions
                                 if not f.is_declaration)
            raise LuminaCodegenError(
                f"jit: module {self.name!r} defines no function {symbol!r}; it defines {defined}")
        self._addresses[symbol] = addr
        return addr

    def global_address(self, symbol: str) -> int:
        """The address of the global variable ``symbol``.

        Raises LuminaCodegenError if the module defines no such variable.
        """
        with _LLVM_LOCK:
            addr = self._engine.get_global_value_address(symbol)
        if not addr:
            raise LuminaCodegenError(f"jit: module {self.name!r} defines no global variable {symbol!r}")
        return addr

    def ir(self) -> str:
        """The LLVM IR after the -O3 pipeline, as text."""
        return self._optimized_ir

    def asm(self) -> str:
        """Native assembly of the optimized module, as text (regenerated on each call)."""
        with _LLVM_LOCK:
            module = llvm.parse_assembly(self._optimized_ir)
            return _create_target_machine().emit_assembly(module)

    def __repr__(self) -> str:
        return f"CompiledModule({self.name!r})"


def compile_llvm(ir_text: str, name: str = "module", opt_level: int = _OPT_LEVEL,
                 symbols: dict[str, int] | None = None, disk: bool = True) -> CompiledModule:
    """Parse, verify, optimize (-O3 unless ``opt_level`` says otherwise; host CPU) and JIT-compile
    the LLVM IR in ``ir_text``. Straight-line glue code (the executable plan) uses -O1 or -O0: it
    has no loops to vectorize, and thousands of calls compile much faster. ``symbols`` maps external
    function names the module declares to addresses of code compiled earlier. The object code is
    kept in the disk cache (``backends.disk_cache``) and loaded from there when the same text was
    compiled for the same target before, in this process or another; ``disk=False`` for text that
    holds this process's addresses (an executable's plan), which no other process could reuse.

    Raises LuminaCodegenError if the text does not parse or verify, or code generation fails.
    """
    return compile_rendered(lambda: ir_text, (ir_text,) if disk else None, name, opt_level, symbols)


def compile_rendered(render: Callable[[], str], key: Sequence[str] | None, name: str = "module",
                     opt_level: int = _OPT_LEVEL, symbols: dict[str, int] | None = None) -> CompiledModule:
    """``compile_llvm(render())``, where the strings ``key`` determine the text: the text itself,
    or the arguments of the generator that renders it and the generator's source. A module found
    in the disk cache under ``key`` (with the target, the pipeline and lumina's version) is loaded
    without calling ``render``; None: no disk cache.

    Raises LuminaCodegenError if the text does not parse or verify, or code generation fails.
    """
    _initialize()
    if key is not None:
        key = disk_cache.cache_key("llvm", host_target_description(), f"O{opt_level}", _PIPELINE,
                                   f"llvmlite {llvmlite.__version__}", *key)
    cached = disk_cache.load("llvm", key) if key is not None else None   # [object code, optimized IR]
    with _LLVM_LOCK:
        for symbol, address in (symbols or {}).items():
            llvm.add_symbol(symbol, address)
        target_machine = _create_target_machine(opt_level)
        if cached is None:
            module = _parse(render(), name)
            module.data_layout = str(target_machine.target_data)
            _optimize(module, target_machine, opt_level)
            optimized_ir = str(module)
        else:   # MCJIT loads the stored object code for an empty module
            module = _parse("", name)
            module.data_layout = str(target_machine.target_data)
            optimized_ir = cached[1].decode()
        objects: list[bytes] = []
        try:
            engine = llvm.create_mcjit_compiler(module, target_machine)
            # MCJIT asks the object cache before generating code, and hands it what it generated
            engine.set_object_cache(notify_func=lambda _, obj: objects.append(obj),
                                    getbuffer_func=lambda _: cached[0] if cached is not None else None)
            engine.finalize_object()
            engine.run_static_constructors()
        except RuntimeError as exc:
            raise LuminaCodegenError(
                f"jit: module {name!r}: code generation failed: {exc}") from None
    if key is not None and cached is None and objects:
        disk_cache.store("llvm", key, [objects[0], optimized_ir.encode()])
    progress.module_done()
    return CompiledModule(name, engine, optimized_ir)
