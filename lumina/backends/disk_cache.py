"""Compiled code on disk, shared by every process on the machine: ``$LUMINA_CACHE``.

A backend stores what it compiled under a key that names everything the code depends on (the
source text, the code-generation target, lumina's and the compiler's versions: ``cache_key``), and
a later process loads it instead of compiling again. The CPU backend keeps LLVM object code here
(``backends.cpu.jit``): a warm process pays no LLVM optimisation or code generation for a module it
has seen, as JAX's persistent compilation cache and Triton's cache directory do.

Where: ``$LUMINA_CACHE``, else the platform's user cache directory (``platformdirs``;
``~/.cache/lumina`` on Linux). ``LUMINA_CACHE=off`` (or ``0``, ``none``) turns the disk cache off.

Each entry is one file, ``<root>/v1/<kind>/<key[:2]>/<key>``::

    MAGIC (8 bytes) | header length (4 bytes, little-endian) | header (JSON) | sections

The header names the key, lumina's version and each section's length and SHA-256. ``load``
checks all of it; an entry that is truncated, corrupted, of another format or version, or stored
under another key is removed and reported as a miss (the caller compiles again), never trusted.
``store`` writes a temporary file in the entry's directory and renames it into place
(``os.replace`` is atomic on POSIX and Windows), so concurrent writers of one key leave one
complete entry and a reader sees the old file or the new one, never a part.

Size: at most ``$LUMINA_CACHE_MAX_MB`` megabytes (default 2048). A store that finds the cache
over its limit removes the least recently used entries (``load`` refreshes an entry's time) down
to 90% of it. ``info()`` and ``clear()`` back ``lumina cache info|clear``.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LuminaValueError

__all__ = ["cache_root", "cache_key", "load", "store", "info", "clear", "STATS"]

MAGIC = b"LUMINA\x00\x01"
FORMAT = "v1"
DEFAULT_MAX_MB = 2048
_HEADER_LIMIT = 1 << 20            # a header longer than this is not one of ours
_SWEEP_EVERY = 32                  # stores between two size checks (and at the first store)


@dataclass
class Stats:
    """What this process's loads and stores did: ``hits``, ``misses`` (no entry), ``rejected``
    (entries found invalid and removed), ``stored``, ``evicted``."""
    hits: int = 0
    misses: int = 0
    rejected: int = 0
    stored: int = 0
    evicted: int = 0


STATS = Stats()
_LOCK = threading.Lock()
_stores_since_sweep = [_SWEEP_EVERY]


def cache_root() -> Path | None:
    """The cache directory (``$LUMINA_CACHE`` or the platform's user cache directory), or None
    when the disk cache is off (``LUMINA_CACHE=off``, ``0`` or ``none``). Read at every call."""
    env = os.environ.get("LUMINA_CACHE")
    if env is not None and env.strip().lower() in ("off", "0", "none", "false"):
        return None
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("lumina", appauthor=False))


def max_bytes() -> int:
    """The size limit in bytes (``$LUMINA_CACHE_MAX_MB``, default ``DEFAULT_MAX_MB``). Raises
    LuminaValueError for a value that is not a positive number."""
    env = os.environ.get("LUMINA_CACHE_MAX_MB")
    if env is None:
        return DEFAULT_MAX_MB << 20
    try:
        mb = float(env)
    except ValueError:
        mb = -1.0
    if not mb > 0:
        raise LuminaValueError(f"disk cache: LUMINA_CACHE_MAX_MB must be a positive number of megabytes, got {env!r}")
    return int(mb * (1 << 20))


@functools.cache
def _version() -> str:
    """lumina's installed version (part of every key and header)."""
    try:
        return importlib.metadata.version("lumina")
    except importlib.metadata.PackageNotFoundError:   # run from a source tree
        return "source"


def cache_key(kind: str, *parts: str) -> str:
    """The SHA-256 (hex) of ``kind``, lumina's version and ``parts`` (the source, the target
    description, the compiler's version...): equal keys must mean interchangeable code."""
    h = hashlib.sha256()
    for part in (FORMAT, kind, _version(), *parts):
        data = part.encode()
        h.update(struct.pack("<Q", len(data)))
        h.update(data)
    return h.hexdigest()


def _path(root: Path, kind: str, key: str) -> Path:
    return root / FORMAT / kind / key[:2] / key


def load(kind: str, key: str) -> list[bytes] | None:
    """The sections stored under ``key``, or None (no entry, the cache is off, or the entry was
    invalid: it is then removed)."""
    root = cache_root()
    if root is None:
        return None
    path = _path(root, kind, key)
    try:
        data = path.read_bytes()
    except OSError:
        STATS.misses += 1
        return None
    sections = _decode(data, kind, key)
    if sections is None:
        STATS.rejected += 1
        _remove(path)
        return None
    try:
        os.utime(path)   # recently used: evicted last
    except OSError:
        pass
    STATS.hits += 1
    return sections


def _decode(data: bytes, kind: str, key: str) -> list[bytes] | None:
    """The sections of entry file contents ``data``, or None when anything about it is wrong."""
    if len(data) < len(MAGIC) + 4 or not data.startswith(MAGIC):
        return None
    (n,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    if n > _HEADER_LIMIT or start + n > len(data):
        return None
    try:
        header = json.loads(data[start:start + n])
        sizes = [int(s["bytes"]) for s in header["sections"]]
        digests = [str(s["sha256"]) for s in header["sections"]]
        ok = header["key"] == key and header["kind"] == kind and header["lumina"] == _version()
    except (ValueError, KeyError, TypeError):
        return None
    at = start + n
    if not ok or at + sum(sizes) != len(data):
        return None
    sections = []
    for size, digest in zip(sizes, digests):
        section = data[at:at + size]
        if hashlib.sha256(section).hexdigest() != digest:
            return None
        sections.append(section)
        at += size
    return sections


def store(kind: str, key: str, sections: list[bytes]) -> None:
    """Store ``sections`` under ``key`` (atomically; see the module docstring). A cache directory
    that cannot be written is skipped silently: the cache only saves time, and the code at hand
    is already compiled."""
    root = cache_root()
    if root is None:
        return
    header = json.dumps({"key": key, "kind": kind, "lumina": _version(), "format": FORMAT,
                         "sections": [{"bytes": len(s), "sha256": hashlib.sha256(s).hexdigest()}
                                      for s in sections]}).encode()
    path = _path(root, kind, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack("<I", len(header)) + header)
                for s in sections:
                    f.write(s)
            os.replace(tmp, path)
        except BaseException:
            _remove(Path(tmp))
            raise
    except OSError:
        return
    STATS.stored += 1
    with _LOCK:
        _stores_since_sweep[0] += 1
        sweep = _stores_since_sweep[0] >= _SWEEP_EVERY
        if sweep:
            _stores_since_sweep[0] = 0
    if sweep:
        _evict(root, max_bytes())


def _entries(root: Path) -> list[tuple[float, int, Path]]:
    """(last use, size, path) of every entry file under ``root`` (temporary files included, so
    that a crashed writer's leftovers are counted and swept)."""
    found = []
    base = root / FORMAT
    if not base.is_dir():
        return found
    for path in base.rglob("*"):
        try:
            st = path.stat()
        except OSError:
            continue
        if path.is_file():
            found.append((st.st_mtime, st.st_size, path))
    return found


def _evict(root: Path, limit: int) -> None:
    """Remove the least recently used entries until the cache holds at most 90% of ``limit``
    bytes (temporary files older than an hour go first: a writer that died)."""
    entries = _entries(root)
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return
    stale = time.time() - 3600
    entries.sort(key=lambda e: (not (e[2].name.startswith(".tmp-") and e[0] < stale), e[0]))
    for mtime, size, path in entries:
        if total <= 0.9 * limit:
            break
        if path.name.startswith(".tmp-") and mtime >= stale:
            continue   # another process is writing it
        if _remove(path):
            total -= size
            STATS.evicted += 1


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False


def info() -> dict:
    """``{"root": the directory or None (off), "entries": files, "bytes": their size, "limit":
    the size limit in bytes, "stats": this process's Stats}``."""
    root = cache_root()
    entries = _entries(root) if root is not None else []
    return {"root": str(root) if root is not None else None, "entries": len(entries),
            "bytes": sum(size for _, size, _ in entries), "limit": max_bytes(), "stats": STATS}


def clear() -> int:
    """Remove every entry; returns how many files were removed."""
    root = cache_root()
    if root is None:
        return 0
    return sum(_remove(path) for _, _, path in _entries(root))
