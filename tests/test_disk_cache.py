"""The disk cache of compiled code (``backends.disk_cache``): entries round-trip, a damaged or
foreign entry is removed and rebuilt (never trusted), concurrent writers leave one whole entry, the
size limit evicts the least recently used, and a second process compiles the same function from
the cache alone, with the same results."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lumina.backends import disk_cache
from lumina.backends.cpu import jit
from lumina.errors import LuminaValueError

ADD = """define void @"add"(float* %a, float* %b, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%next, %loop]
  %pa = getelementptr float, float* %a, i64 %i
  %pb = getelementptr float, float* %b, i64 %i
  %x = load float, float* %pa
  %y = load float, float* %pb
  %s = fadd float %x, %y
  store float %s, float* %pa
  %next = add i64 %i, 1
  %done = icmp eq i64 %next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret void
}
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory of the test's own, and this process's counts from zero."""
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LUMINA_CACHE_MAX_MB", raising=False)
    monkeypatch.setattr(disk_cache, "STATS", disk_cache.Stats())
    return tmp_path / "cache"


def _entry_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _run_add(module: jit.CompiledModule) -> np.ndarray:
    a, b = np.arange(8, dtype=np.float32), np.full(8, 0.5, np.float32)
    ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(module.address("add"))(
        a.ctypes.data, b.ctypes.data, 8)
    return a


def test_sections_round_trip_and_clear_removes_them(cache):
    key = disk_cache.cache_key("test", "source text")
    assert disk_cache.load("test", key) is None and disk_cache.STATS.misses == 1
    disk_cache.store("test", key, [b"\x00object\xff", b"ir text"])
    assert disk_cache.load("test", key) == [b"\x00object\xff", b"ir text"]
    assert disk_cache.STATS.hits == 1
    found = disk_cache.info()
    assert found["root"] == str(cache) and found["entries"] == 1 and found["bytes"] > 0
    assert disk_cache.clear() == 1 and disk_cache.info()["entries"] == 0


def test_keys_differ_with_every_part():
    base = disk_cache.cache_key("llvm", "target", "text")
    assert len({base, disk_cache.cache_key("llvm", "target", "text2"), disk_cache.cache_key("llvm", "target2", "text"),
                disk_cache.cache_key("other", "target", "text"), disk_cache.cache_key("llvm", "targettext")}) == 5


def test_a_compiled_module_is_loaded_from_disk_and_runs(cache):
    first = jit.compile_llvm(ADD, "add")
    assert disk_cache.STATS.stored == 1
    np.testing.assert_array_equal(_run_add(first), np.arange(8) + 0.5)
    again = jit.compile_llvm(ADD, "add")          # a new engine from the stored object code
    assert disk_cache.STATS.hits == 1
    np.testing.assert_array_equal(_run_add(again), np.arange(8) + 0.5)
    assert "fadd" in again.ir()                    # the optimized IR came with it


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "empty", "garbage", "other key",
                                    "other version", "trailing bytes"])
def test_a_damaged_or_foreign_entry_is_removed_and_rebuilt(cache, damage):
    jit.compile_llvm(ADD, "add")
    (path,) = _entry_files(cache)
    data = path.read_bytes()
    header_len = int.from_bytes(data[8:12], "little")
    header = json.loads(data[12:12 + header_len])
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped byte":
        data = data[:-10] + bytes([data[-10] ^ 0x40]) + data[-9:]
    elif damage == "empty":
        data = b""
    elif damage == "garbage":
        data = os.urandom(300)
    elif damage == "trailing bytes":
        data = data + b"x"
    else:
        header["key" if damage == "other key" else "lumina"] = "something else"
        text = json.dumps(header).encode()
        data = data[:8] + len(text).to_bytes(4, "little") + text + data[12 + header_len:]
    path.write_bytes(data)
    module = jit.compile_llvm(ADD, "add")
    assert disk_cache.STATS.rejected == 1 and disk_cache.STATS.stored == 2   # removed, compiled, stored again
    np.testing.assert_array_equal(_run_add(module), np.arange(8) + 0.5)
    assert disk_cache.load("llvm", header["key"] if damage != "other key" else path.name) is not None


def test_another_lumina_version_compiles_anew(cache, monkeypatch):
    jit.compile_llvm(ADD, "add")
    monkeypatch.setattr(disk_cache, "_version", lambda: "99.0")
    jit.compile_llvm(ADD, "add")
    assert disk_cache.STATS.hits == 0 and disk_cache.STATS.stored == 2
    assert len(_entry_files(cache)) == 2


def test_the_size_limit_evicts_the_least_recently_used(cache, monkeypatch):
    monkeypatch.setattr(disk_cache, "_SWEEP_EVERY", 1)
    monkeypatch.setenv("LUMINA_CACHE_MAX_MB", str(10_000 / 2**20))   # 10 kB
    keys = [disk_cache.cache_key("test", str(i)) for i in range(8)]
    for i, key in enumerate(keys):
        disk_cache.store("test", key, [bytes(2000)])
        os.utime(next(p for p in _entry_files(cache) if p.name == key), (1000 + i, 1000 + i))
    assert disk_cache.info()["bytes"] <= 10_000
    assert disk_cache.STATS.evicted >= 3
    assert disk_cache.load("test", keys[-1]) is not None     # the newest stay
    assert disk_cache.load("test", keys[0]) is None          # the oldest went


def test_a_bad_size_limit_is_refused(monkeypatch):
    monkeypatch.setenv("LUMINA_CACHE_MAX_MB", "lots")
    with pytest.raises(LuminaValueError, match="LUMINA_CACHE_MAX_MB"):
        disk_cache.max_bytes()


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMINA_CACHE", "off")
    monkeypatch.setattr(disk_cache, "STATS", disk_cache.Stats())
    np.testing.assert_array_equal(_run_add(jit.compile_llvm(ADD, "add")), np.arange(8) + 0.5)
    assert disk_cache.cache_root() is None and disk_cache.STATS.stored == 0


_PROGRAM = textwrap.dedent("""
    import json, sys
    import numpy as np
    import lumina
    from lumina.backends import disk_cache
    x = np.linspace(-3, 3, 4096, dtype=np.float32).reshape(64, 64)
    f = lumina.compile(lambda a: (lumina.nn.functional.gelu(a @ a) + 1.0).softmax(-1).sum(0))
    out = f(x).numpy()
    s = disk_cache.STATS
    print(json.dumps({"sum": out.tolist(), "hits": s.hits, "misses": s.misses, "rejected": s.rejected}))
""")


def _program(cache: Path) -> subprocess.Popen:
    env = dict(os.environ, LUMINA_CACHE=str(cache))
    return subprocess.Popen([sys.executable, "-c", _PROGRAM], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_a_second_process_compiles_from_the_cache_alone(cache):
    cold = _result(_program(cache))
    warm = _result(_program(cache))
    assert cold["misses"] > 0 and cold["hits"] == 0
    assert warm["misses"] == 0 and warm["hits"] == cold["misses"] and warm["rejected"] == 0
    np.testing.assert_array_equal(warm["sum"], cold["sum"])


def test_concurrent_writers_leave_whole_entries(cache):
    results = [_result(p) for p in [_program(cache) for _ in range(4)]]
    assert all(r["sum"] == results[0]["sum"] for r in results)
    assert not [p for p in _entry_files(cache) if p.name.startswith(".tmp-")]
    warm = _result(_program(cache))
    assert warm["misses"] == 0 and warm["rejected"] == 0 and warm["sum"] == results[0]["sum"]


def test_the_cli_reports_and_clears(cache):
    jit.compile_llvm(ADD, "add")
    env = dict(os.environ, LUMINA_CACHE=str(cache))
    info = subprocess.run([sys.executable, "-m", "lumina.cli", "cache", "info"], env=env, capture_output=True,
                          text=True, check=True).stdout
    assert str(cache) in info and "entries: 1" in info
    cleared = subprocess.run([sys.executable, "-m", "lumina.cli", "cache", "clear"], env=env, capture_output=True,
                             text=True, check=True).stdout
    assert "removed 1" in cleared and not _entry_files(cache)


def test_a_gemm_module_on_disk_is_loaded_without_rendering_it(cache, monkeypatch):
    """GEMM modules are keyed by the generator's arguments and source, not by their text: a warm
    process neither renders nor optimizes them, and a changed generator renders anew."""
    import importlib
    build = importlib.import_module("lumina.backends.cpu.build")
    from lumina.backends.cpu.llvm_gemm import gemm_blocking
    blocking = gemm_blocking("float64")
    monkeypatch.setattr(build, "_GEMMS", {})
    build._gemm_module("float64", blocking)
    assert disk_cache.STATS.stored == 1
    monkeypatch.setattr(build, "_GEMMS", {})
    monkeypatch.setattr(build, "render_gemm", lambda *a: pytest.fail("rendered although it was on disk"))
    module = build._gemm_module("float64", blocking)
    assert disk_cache.STATS.hits == 1 and module.address("lumina_gemm_float64")
    from lumina.backends.cpu.llvm_gemm import render_gemm
    rendered = []
    monkeypatch.setattr(build, "_GEMMS", {})
    monkeypatch.setattr(build, "_gemm_generator", lambda: "another generator")
    monkeypatch.setattr(build, "render_gemm", lambda *a: rendered.append(a) or render_gemm(*a))
    build._gemm_module("float64", blocking)
    assert rendered and disk_cache.STATS.stored == 2


_DUMPS = textwrap.dedent("""
    import json
    import numpy as np
    import lumina
    from lumina.backends import disk_cache
    x = np.linspace(-3, 3, 4096, dtype=np.float32).reshape(64, 64)
    f = lumina.compile(lambda a: (lumina.nn.functional.gelu(a @ a) + 1.0).softmax(-1).sum(0))
    out = f(x).numpy()
    low = f.lower(x)
    report = f.profile_report(x, repeat=1)
    print(json.dumps({"sum": out.tolist(), "stages": low.stages(), "optimized": low.as_text("optimized"),
                      "partition": low.partition(), "llvm": low.llvm_ir(), "kernels": low.kernels_text(),
                      "flops": report.flops, "hits": disk_cache.STATS.hits, "misses": disk_cache.STATS.misses}))
""")


def test_a_program_from_the_disk_cache_runs_and_dumps_as_a_fresh_one(cache):
    """A warm process loads the lowered program (no passes, no partition) and the kernels' object
    code; its dumps (stages, partition, LLVM, kernels) and profile equal the cold process's."""
    env = dict(os.environ, LUMINA_CACHE=str(cache))
    runs = [json.loads(subprocess.run([sys.executable, "-c", _DUMPS], env=env, capture_output=True, text=True,
                                      check=True).stdout.strip().splitlines()[-1]) for _ in range(2)]
    cold, warm = runs
    assert cold["hits"] == 0 and warm["misses"] == 0
    assert len(list((cache / "v1" / "program").rglob("*"))) > 0
    for field in ("sum", "stages", "optimized", "partition", "kernels", "flops"):
        assert warm[field] == cold[field], field
    assert "define" in warm["llvm"]


def test_expressions_read_back_equal_their_originals():
    """What the program cache pickles: kernel expressions come back equal, with a hash of this
    process (a cached one from the writer's would make equal expressions miss in a dict), and
    constants compare bit for bit (NaN equals its copy; -0.0 is not 0.0)."""
    import pickle
    from lumina.codegen import expr as E
    from lumina.ir.dtypes import DType
    from lumina.ir.ops import Op
    f32 = DType.float32
    e = E.Bin(Op.ADD, E.Bin(Op.MUL, E.Var("i", 8), E.Const(float("nan"), f32), f32), E.Const(-0.0, f32), f32)
    hash(e)
    back = pickle.loads(pickle.dumps(e))
    assert "_hash" not in back.__dict__                  # made again here, not carried over
    assert back == e and hash(back) == hash(e) and {e: 1}[back] == 1
    assert E.Const(-0.0, f32) != E.Const(0.0, f32)
    assert E.Const(float("nan"), f32) == E.Const(float("nan"), f32)
