"""The pass manager: the ordered passes every graph goes through before fusion.

``LUMINA_DUMP=after-all`` prints the IR after every pass (to stderr); ``LUMINA_DUMP=<pass>[,<pass>]``
after the named ones only.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

from ..ir.graph import Graph
from .canonicalize import canonicalize_dots, split_reductions
from .constant_fold import constant_fold
from .rewrite import dce
from .simplify import simplify

PASSES: list[tuple[str, Callable[[Graph], Graph]]] = [
    ("dce", dce),
    ("simplify", simplify),
    ("constant_fold", constant_fold),
    ("canonicalize_dots", canonicalize_dots),
    ("simplify_dots", simplify),
    ("split_reductions", split_reductions),
    ("dce_final", dce),
]


def _dump_targets() -> set[str]:
    spec = os.environ.get("LUMINA_DUMP", "")
    return {s.strip() for s in spec.split(",") if s.strip()}


def optimize(graph: Graph, on_pass: Callable[[str, Graph], None] | None = None) -> Graph:
    """Run every pass in order; ``on_pass(name, graph)`` sees the graph after each one."""
    dump = _dump_targets()
    if "after-all" in dump or "before" in dump:
        print(f"// ---- {graph.name}: input ----\n{graph}", file=sys.stderr)
    for name, fn in PASSES:
        graph = fn(graph)
        if on_pass is not None:
            on_pass(name, graph)
        if "after-all" in dump or name in dump:
            print(f"// ---- {graph.name}: after {name} ----\n{graph}", file=sys.stderr)
    return graph
