"""IR text: one line per node, e.g. ``%7:f32[256,512] = dot %3, %5 {contract=((1,), (0,)), batch=((), ())}``.

The text is the debugging interface and the test fixture format; ``parser.parse`` reads it back.
Constants with at most ``INLINE_LIMIT`` finite elements print as nested lists, larger ones as
base64 of their bytes so the text round-trips exactly.
"""
from __future__ import annotations

import base64
import hashlib
import math

import numpy as np

from .dtypes import DType
from .ops import Op
from .symbolic import Sym

INLINE_LIMIT = 16


def format_attr(value) -> str:
    if isinstance(value, Sym):   # a symbolic size: ``4*s0``, read back by ``symbolic.literal``
        return str(value)
    if isinstance(value, DType):
        return value.short
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, tuple):
        inner = ", ".join(format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, np.ndarray):
        floating = value.dtype.kind == "f" or value.dtype == DType.bfloat16.numpy
        if value.size <= INLINE_LIMIT and (not floating or np.isfinite(value).all()):
            return repr(value.tolist())
        return "b64'" + base64.b64encode(value.tobytes()).decode() + "'"
    return repr(value)


def format_node(node, names: dict, canonical: bool = False) -> str:
    out = node.out
    line = f"{names[out]}:{out.type} = {node.op.value}"
    if node.inputs:
        line += " " + ", ".join(names[v] for v in node.inputs)
    attrs = {k: v for k, v in node.attrs.items() if not (canonical and node.op is Op.INPUT and k == "name")}
    if attrs:
        line += " {" + ", ".join(f"{k}={format_attr(v)}" for k, v in attrs.items()) + "}"
    return line


def value_names(graph) -> dict:
    return {n.out: f"%{i}" for i, n in enumerate(graph.nodes)}


def print_graph(graph, canonical: bool = False) -> str:
    """The IR text of ``graph``; ``canonical`` drops input names (used by the structural hash)."""
    names = value_names(graph)
    lines = [f"graph {graph.name} {{"]
    lines += ["  " + format_node(n, names, canonical) for n in graph.nodes]
    order = ", ".join(names[v] for v in graph.inputs)
    lines.append(f"  return {', '.join(names[v] for v in graph.outputs)}"
                 + (f"  # args: {order}" if [v.node for v in graph.inputs] != [
                     n for n in graph.nodes if n.op is Op.INPUT] else ""))
    lines.append("}")
    return "\n".join(lines)


def structural_hash(graph) -> str:
    """SHA-256 of the canonical text: equal for graphs equal up to numbering and input names."""
    text = print_graph(graph, canonical=True)
    if [v.node for v in graph.inputs] != [n for n in graph.nodes if n.op is Op.INPUT]:
        names = value_names(graph)
        text += "\nargs " + ",".join(names[v] for v in graph.inputs)
    return hashlib.sha256(text.encode()).hexdigest()
