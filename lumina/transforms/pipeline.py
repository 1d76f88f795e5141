"""The pass manager: the ordered passes every graph goes through before fusion.

``LUMINA_DUMP=after-all`` prints the IR after every pass (to stderr); ``LUMINA_DUMP=<pass>[,<pass>]``
after the named ones only. ``LUMINA_PASSES_OFF=<pass>[,<pass>]`` skips the named passes (as the
``disable`` argument of ``optimize`` does), to compare a program's results with and without them;
``OPTIONAL`` lists the passes that may be skipped (those that only remove work). Set it before the
first compile: executables are cached by the traced graph's hash (``compiler.cache_clear()`` forgets
them).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable

from ..errors import LuminaValueError
from ..ir.graph import Graph
from .canonicalize import canonicalize_dots, split_k_dots, split_reductions
from .constant_fold import constant_fold
from .cse import cse
from .layout import sink_permutes
from .rewrite import dce
from .simplify import simplify

PASSES: list[tuple[str, Callable[[Graph], Graph]]] = [
    ("dce", dce),
    ("simplify", simplify),
    ("constant_fold", constant_fold),
    ("cse", cse),
    ("simplify_cse", simplify),          # where(c, a, a) and x * 1 show up once equal values merge
    ("sink_permutes", sink_permutes),    # convolutions' channels-last permutes meet and cancel
    ("canonicalize_dots", canonicalize_dots),
    ("simplify_dots", simplify),
    ("split_k_dots", split_k_dots),      # a K that dwarfs M and N: slices in parallel, then a sum
    ("split_reductions", split_reductions),
    ("cse_final", cse),                  # the dots' operand reshapes and the split reductions
    ("dce_final", dce),
]

OPTIONAL = frozenset({"simplify", "constant_fold", "cse", "simplify_cse", "sink_permutes", "simplify_dots",
                      "split_k_dots", "cse_final"})


def _env_set(name: str) -> set[str]:
    spec = os.environ.get(name, "")
    return {s.strip() for s in spec.split(",") if s.strip()}


def environment() -> tuple[frozenset[str], bool]:
    """What the environment changes about ``optimize``: the passes ``LUMINA_PASSES_OFF`` skips,
    and whether ``LUMINA_DUMP`` asks for prints (a cache of optimized programs keys on the first
    and is bypassed for the second)."""
    return frozenset(_env_set("LUMINA_PASSES_OFF")), bool(_env_set("LUMINA_DUMP"))


def optimize(graph: Graph, on_pass: Callable[[str, Graph], None] | None = None,
             disable: Iterable[str] = ()) -> Graph:
    """Run every pass of ``PASSES`` in order; ``on_pass(name, graph)`` sees the graph after each
    one. Passes named in ``disable`` or in ``LUMINA_PASSES_OFF`` are skipped (``on_pass`` still
    sees the unchanged graph under their name). Raises LuminaValueError for a name that is not an
    ``OPTIONAL`` pass."""
    off = set(disable) | _env_set("LUMINA_PASSES_OFF")
    if not off <= OPTIONAL:
        raise LuminaValueError(f"optimize: cannot disable {sorted(off - OPTIONAL)}; the passes that "
                               f"may be disabled are {sorted(OPTIONAL)}")
    dump = _env_set("LUMINA_DUMP")
    if "after-all" in dump or "before" in dump:
        print(f"// ---- {graph.name}: input ----\n{graph}", file=sys.stderr)
    for name, fn in PASSES:
        if name not in off:
            graph = fn(graph)
        if on_pass is not None:
            on_pass(name, graph)
        if "after-all" in dump or name in dump:
            print(f"// ---- {graph.name}: after {name} ----\n{graph}", file=sys.stderr)
    return graph
