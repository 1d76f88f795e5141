"""The Triton disk cache (``$LUMINA_CACHE/triton``) is never trusted: a kernel source entry that is not
UTF-8, truncated, another kernel's code, a directory, or shadowed by a ``__pycache__`` file is
replaced by the rendered source and the kernel computes the right values; a tuning table that is
corrupt, of the wrong shape, or a directory is timed again. Run under Triton's CPU interpreter (no
GPU needed)."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal

import numpy as np
import pytest
import torch

from lumina.codegen import expr as E
from lumina.backends.cuda import triton as tr
from lumina.ir.dtypes import DType
from lumina.ir.ops import Op
from lumina.backends.cuda import jit as triton_jit
from lumina.testing.kernel_builders import elementwise

F32 = DType.float32
X = np.arange(-4, 6, dtype=np.float32)


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path))
    monkeypatch.setattr(triton_jit, "_TUNED", {})
    return tmp_path / "triton"


def _doubling(name: str):
    """``out = x + x`` over ``X``, under a name of its own (so its module is imported afresh), and the
    path of its cache entry."""
    k = elementwise(name, [F32], F32, X.size, lambda a: E.Bin(Op.ADD, a, a, F32))
    digest = hashlib.sha256(tr.render(k).encode()).hexdigest()[:24]
    return k, triton_jit.cache_dir() / f"{digest}.py"


def _run(k) -> np.ndarray:
    out = torch.full((X.size,), 77.0)
    triton_jit.launcher(k)([torch.from_numpy(X.copy()), out])
    return out.numpy()


@pytest.mark.parametrize("junk", ["not_utf8", "truncated", "other_code", "empty"])
def test_a_corrupt_source_entry_is_rewritten_and_not_trusted(junk):
    k, path = _doubling(f"k_cache_{junk}")
    source = tr.render(k)
    path.write_bytes({
        "not_utf8": b"\xff\xfe\x80 import triton\n",
        "truncated": source.encode()[: len(source) // 2],
        "other_code": source.replace("+", "*").encode(),   # valid Python computing x * x
        "empty": b"",
    }[junk])
    np.testing.assert_array_equal(_run(k), X + X)
    assert path.read_bytes() == source.encode()


def test_a_directory_in_place_of_a_source_entry_is_replaced():
    k, path = _doubling("k_cache_directory")
    (path / "inner").mkdir(parents=True)
    (path / "inner" / "file.txt").write_text("x")
    np.testing.assert_array_equal(_run(k), X + X)
    assert path.is_file() and path.read_text() == tr.render(k)


def test_a_bytecode_cache_entry_is_never_read(cache):
    """A ``__pycache__`` file that matches the source's size and time stamp (so Python's own loader
    would use it) holding other code, or bytes that do not unmarshal, is ignored."""
    for name, body in (("k_cache_pyc_other", marshal.dumps(compile("def k_cache_pyc_other(): pass", "x", "exec"))),
                       ("k_cache_pyc_corrupt", b"\x00garbage")):
        k, path = _doubling(name)
        path.write_text(tr.render(k))
        stat = path.stat()
        header = (importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
                  + (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
                  + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
        pyc = importlib.util.cache_from_source(str(path))
        (cache / "__pycache__").mkdir(exist_ok=True)
        with open(pyc, "wb") as f:
            f.write(header + body)
        np.testing.assert_array_equal(_run(k), X + X)


def test_a_file_in_place_of_the_cache_folder_is_replaced(cache):
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"\xff")
    k, _ = _doubling("k_cache_folder_was_a_file")
    assert cache.is_dir()
    np.testing.assert_array_equal(_run(k), X + X)


CONFIGS = ({"BLOCK": 1024}, {"BLOCK": 256})


def _cost(timed: list):
    def cost(config):
        timed.append(config["BLOCK"])
        return {1024: 2.0, 256: 1.0}[config["BLOCK"]]
    return cost


@pytest.mark.parametrize("junk", [b"\xff\xfe{", b'{"k/GPU": {"BLOCK": 2', b"[1, 2]", b'"text"',
                                  b'{"k/GPU": {"BLOCK": 99}}', b'{"k/GPU": 5}', b'{"k/GPU": null}'],
                         ids=["not_utf8", "truncated", "a_list", "a_string", "unknown_config", "not_a_config",
                              "null"])
def test_a_corrupt_tuning_table_is_timed_again_and_rewritten(cache, junk):
    (triton_jit.cache_dir() / "autotune.json").write_bytes(junk)
    timed = []
    assert triton_jit.autotune("k/GPU", CONFIGS, _cost(timed)) == {"BLOCK": 256}
    assert timed == [1024, 256]
    assert json.loads((cache / "autotune.json").read_text())["k/GPU"] == {"BLOCK": 256}


def test_a_directory_in_place_of_the_tuning_table_is_replaced(cache):
    (cache / "autotune.json" / "inner").mkdir(parents=True)
    timed = []
    assert triton_jit.autotune("k/GPU", CONFIGS, _cost(timed)) == {"BLOCK": 256}
    assert timed == [1024, 256]
    assert json.loads((cache / "autotune.json").read_text()) == {"k/GPU": {"BLOCK": 256}}
