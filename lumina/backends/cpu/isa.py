"""The instruction set the CPU backend generates code for, and the host's caches.

    active_isa()          "avx512", "avx2" or "baseline": the host's best, or ``$LUMINA_ISA``
    llvm_features()       the host's LLVM feature string with everything above that ISA turned off
    cache_sizes()         (L1d, L2, L3) bytes, as the operating system reports them for core 0

Three ISA levels decide the code: which vector registers the GEMM micro-kernel tiles for
(``llvm_gemm.gemm_blocking``) and which instructions LLVM may use for every kernel.

- ``avx512``: x86-64 with AVX-512F (32 registers of 512 bits).
- ``avx2``: x86-64 with AVX2 and FMA (16 registers of 256 bits).
- ``baseline``: any other CPU: SSE2 on x86-64, NEON on AArch64 (128-bit vectors).

``LUMINA_ISA=avx2`` (or ``baseline``) forces a lower level on a machine that has more: the feature
string handed to LLVM then has AVX-512 (or AVX) turned off, so the code really is what that ISA
runs. This is how the tests keep every path correct on one machine, and how a benchmark shows
both paths. Forcing a level the host lacks raises LuminaDeviceError (its code would not run).
The variable is read at each compile, so a test may change it between two compiles.
"""
from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import llvmlite.binding as llvm

from ...errors import LuminaDeviceError

__all__ = ["ISAS", "active_isa", "cache_sizes", "forced", "host_features", "host_isa", "llvm_features",
           "runnable_isas", "vector_bits"]

ISAS = ("avx512", "avx2", "baseline")
"""The ISA levels, widest first."""

_VECTOR_BITS = {"avx512": 512, "avx2": 256, "baseline": 128}

# LLVM disables every feature that implies a disabled one (-avx512f takes avx512bw, avx512vnni...
# with it; -avx takes avx2, fma, f16c and all of AVX-512).
_DISABLE = {"avx512": "", "avx2": "-avx512f", "baseline": "-avx"}

# What the code assumes when the operating system does not say (a small core's L1d, L2 and L3).
_DEFAULT_CACHES = (32 << 10, 512 << 10, 8 << 20)


@functools.cache
def host_features() -> str:
    """The host CPU's LLVM feature string (``+avx2,+fma,-avx512f,...``), as LLVM detects it."""
    llvm.initialize_native_target()
    return llvm.get_host_cpu_features().flatten()


@functools.cache
def host_isa() -> str:
    """The best ISA level this CPU runs (see the module docstring)."""
    features = set(host_features().split(","))
    if "+avx512f" in features:
        return "avx512"
    if {"+avx2", "+fma"} <= features:
        return "avx2"
    return "baseline"


def active_isa() -> str:
    """``$LUMINA_ISA`` if set, else ``host_isa()``. Raises LuminaDeviceError for a name that is not
    an ISA level, or one above what this CPU runs."""
    forced = os.environ.get("LUMINA_ISA", "").strip().lower()
    host = host_isa()
    if not forced:
        return host
    if forced not in ISAS:
        raise LuminaDeviceError(f"LUMINA_ISA={forced!r}: expected one of {', '.join(ISAS)}")
    if ISAS.index(forced) < ISAS.index(host):
        raise LuminaDeviceError(f"LUMINA_ISA={forced}: this CPU runs {host} at most "
                                f"({', '.join(ISAS[ISAS.index(host):])} can be forced)")
    return forced


def runnable_isas() -> tuple[str, ...]:
    """The ISA levels this CPU runs, widest first (the host's and every one below it)."""
    return ISAS[ISAS.index(host_isa()):]


@contextmanager
def forced(isa: str) -> Iterator[None]:
    """Generate code for ISA level ``isa`` inside the with-block (sets ``LUMINA_ISA``, restores it
    after). Code compiled inside keeps running after the block; what the block compiles is only
    what ``isa`` runs. Raises LuminaDeviceError as ``active_isa`` does."""
    saved = os.environ.get("LUMINA_ISA")
    os.environ["LUMINA_ISA"] = isa
    try:
        active_isa()
        yield
    finally:
        if saved is None:
            del os.environ["LUMINA_ISA"]
        else:
            os.environ["LUMINA_ISA"] = saved


def vector_bits(isa: str | None = None) -> int:
    """The width of the vector registers ``isa`` (default ``active_isa()``) computes in."""
    return _VECTOR_BITS[isa or active_isa()]


def llvm_features(isa: str | None = None) -> str:
    """The feature string LLVM generates code with for ``isa`` (default ``active_isa()``): the
    host's, with the extensions above that level turned off. At AVX-512 the loop vectorizer
    computes in whole 512-bit registers (``-prefer-256-bit``): LLVM tunes many AVX-512 CPUs
    (Intel's since Skylake-X: a Xeon this runs on reports itself as "rocketlake") to vectorize
    in 256 bits, which halves what a loop kernel's FMAs and loads do per instruction."""
    isa = isa or active_isa()
    features = host_features()
    if _DISABLE[isa] and host_isa() != isa:
        features = f"{features},{_DISABLE[isa]}"
    if isa == "avx512":
        features = f"{features},-prefer-256-bit"
    return features


@functools.cache
def cache_sizes() -> tuple[int, int, int]:
    """(L1 data, L2, L3) cache sizes in bytes, from Linux's sysfs for CPU 0; a level it does not
    report takes a conservative default (32 KiB, 512 KiB, 8 MiB). L3 is the whole shared cache."""
    found = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = _parse_size((index / "size").read_text().strip())
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size:
            found.setdefault(level, size)
    return tuple(found.get(level, default) for level, default in zip((1, 2, 3), _DEFAULT_CACHES))


def _parse_size(text: str) -> int:
    """``"48K"`` -> 49152 (sysfs writes sizes as a number with a K, M or G suffix)."""
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    return int(text.rstrip("KMGkmg")) * scale
