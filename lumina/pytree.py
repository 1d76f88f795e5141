"""Output trees of a compiled function: tuples, lists and dicts of tensors and other leaves."""
from __future__ import annotations

from typing import Callable


def flatten(tree) -> tuple[list, Callable]:
    """Leaves of a tuple/list/dict tree of outputs, and a function that rebuilds the tree."""
    if isinstance(tree, (tuple, list)):
        parts = [flatten(x) for x in tree]
        sizes = [len(p[0]) for p in parts]

        def build(leaves):
            out, i = [], 0
            for (_, f), n in zip(parts, sizes):
                out.append(f(leaves[i:i + n]))
                i += n
            return type(tree)(out) if isinstance(tree, list) else tuple(out)
        return [x for p in parts for x in p[0]], build
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, build_vals = flatten([tree[k] for k in keys])
        return leaves, lambda ls: dict(zip(keys, build_vals(ls)))
    return [tree], lambda ls: ls[0]
