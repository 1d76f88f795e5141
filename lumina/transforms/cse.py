"""Common-subexpression elimination: structurally equal nodes become one.

Two nodes are equal when they apply the same op, with the same attributes, to the same operands
(after CSE, so equality propagates bottom-up in one sweep) and have the same type. Constants are
equal when their dtype, shape and bytes are. ``add`` and ``mul`` are commutative (IEEE 754 sum and
product do not depend on the operand order, and integers wrap the same either way), so their
operands are compared as a set. ``input`` nodes are never merged (each is an argument) and neither
is ``rand`` (each call draws its own bits), nor anything computed from a ``rand``'s value through a
different ``rand`` node, since the operands differ.

This is the value-numbering formulation of CSE (Cocke 1970; the hash-consing used by XLA's and
MLIR's CSE passes).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.dtypes import DType
from ..ir.graph import Graph, Node, Value
from .rewrite import reemit, rewrite


def _key_of(value) -> object:
    """A hashable key equal exactly when two attribute values mean the same thing, bit for bit
    (``-0.0`` and ``0.0`` differ, ``nan`` equals ``nan``)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (bool, int, str, DType)) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", value.hex() if math.isfinite(value) else repr(value))
    if isinstance(value, (tuple, list)):
        return ("seq", tuple(_key_of(v) for v in value))
    if isinstance(value, np.generic):
        return _key_of(np.asarray(value))
    return ("other", repr(value))


def node_key(node: Node, inputs: list[Value]) -> tuple | None:
    """The value-numbering key of ``node`` applied to ``inputs``, or None for a node never merged."""
    if node.op.info.effectful:
        return None
    operands = tuple(id(v) for v in inputs)
    if node.op.info.commutative:
        operands = tuple(sorted(operands))
    attrs = tuple(sorted((k, _key_of(v)) for k, v in node.attrs.items()))
    return (node.op, operands, attrs, node.out.type)


def cse(graph: Graph) -> Graph:
    """Merge structurally equal nodes (see the module docstring); the first one in graph order is
    kept. Guarantees: every value is unchanged bit for bit, inputs and outputs keep their order and
    types, and no two remaining nodes have the same key."""
    table: dict[tuple, Value] = {}   # holds every keyed value, so ids in keys stay unique

    def rule(node, ins):
        key = node_key(node, ins)
        if key is None:
            return None
        hit = table.get(key)
        if hit is not None:
            return hit
        new = reemit(node, ins)
        table[key] = new
        return new
    return rewrite(graph, rule)
