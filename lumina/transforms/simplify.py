"""Algebraic simplification, as a table of rewrite rules (one per op).

Each rule sees a node with its operands already rewritten and returns a replacement value or None.
Rules only remove work and never change a value bit for bit, so they need no cost model; that
excludes the rewrites that hold only up to signed zeros or NaNs:

* ``x * 1``, ``1 * x``, ``x / 1``: exact in IEEE 754 and for integers.
* ``x + 0``: exact for integers; for floats only ``x + (-0.0)`` (``-0.0 + +0.0`` is ``+0.0``, so
  ``x + (+0.0)`` is not ``x``), and ``x - (+0.0)``: LLVM InstCombine's rule without ``nsz``.
* ``x * 0 -> 0`` for integers only (for floats ``inf * 0`` and ``nan * 0`` are NaN, ``-1 * 0`` is
  ``-0.0``).
* ``neg(neg(x))``; ``neg`` of a constant (a broadcast scalar, or a constant of at most
  ``constant_fold.FOLD_LIMIT`` elements).
* ``cast`` to the same dtype; ``cast(cast(x: A, B), A) -> x`` when every A is exactly a B
  (``LOSSLESS``); ``cast(cast(x: A, B), C) -> cast(x, C)`` for floats A, B, C with A -> B lossless
  (rounding the same exact value once either way).
* ``reshape(reshape(x))``, ``permute(permute(x))``, ``expand(expand(x))``, identity reshapes,
  permutes and expands; ``reshape`` / ``permute`` / ``expand`` of a broadcast scalar constant (or of
  a constant whose elements are all equal) become the canonical broadcast ``expand(reshape(c))`` of
  a 0-d constant (``builder.const``), so CSE and constant folding recognise it.
* ``where(c, a, b)`` with a constant ``c`` picks ``a`` or ``b``; ``where(c, a, a) -> a``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.graph import Graph, Node, Value, emit
from ..ir.ops import Op
from .constant_fold import FOLD_LIMIT
from .rewrite import rewrite, splat

# A -> {B, ...}: every value of dtype A is exactly representable in B (so A -> B -> A is identity).
LOSSLESS: dict[DType, frozenset[DType]] = {
    DType.bool: frozenset(DType),
    DType.int32: frozenset({DType.int64, DType.float64}),
    DType.int64: frozenset(),
    DType.float16: frozenset({DType.float32, DType.float64}),
    DType.bfloat16: frozenset({DType.float32, DType.float64}),
    DType.float32: frozenset({DType.float64}),
    DType.float64: frozenset(),
}


def _is(v: Value, number) -> bool:
    """``v`` is a constant whose every element is ``number`` in ``v``'s dtype, bit for bit
    (so ``-0.0`` is not ``0.0``)."""
    s = splat(v)
    return s is not None and s.tobytes() == np.asarray(number, dtype=v.dtype.numpy).tobytes()


def _is_canonical_broadcast(x: Value) -> bool:
    """``x`` is ``reshape(c)`` of a 0-d constant or a one-element constant: nothing to simplify."""
    if x.op is Op.RESHAPE:
        x = x.node.inputs[0]
        return x.op is Op.CONST and x.shape == ()
    return x.op is Op.CONST and x.type.numel == 1


def _broadcast(node: Node, s: np.ndarray) -> Value:
    return B.const(s, node.out.dtype, node.out.shape)


# ---- movement ---------------------------------------------------------------------------------

def _reshape(node: Node, x: Value) -> Value | None:
    shape = node.attrs["shape"]
    if x.shape == shape:                         # reshape to the same shape
        return x
    s = splat(x) if x.op is Op.EXPAND else None
    if s is not None:                            # of a broadcast scalar
        return _broadcast(node, s)
    if x.op is Op.RESHAPE:                       # reshape(reshape(y)) -> reshape(y)
        return B.reshape(x.node.inputs[0], shape)
    return None


def _permute(node: Node, x: Value) -> Value | None:
    perm = node.attrs["perm"]
    if perm == tuple(range(len(perm))):          # identity permutation
        return x
    s = splat(x) if x.op is Op.EXPAND else None
    if s is not None:                            # of a broadcast scalar
        return _broadcast(node, s)
    if x.op is Op.PERMUTE:                       # permute(permute(y, p), q) -> permute(y, p[q])
        inner = x.node.attrs["perm"]
        return B.permute(x.node.inputs[0], [inner[i] for i in perm])
    return None


def _expand(node: Node, x: Value) -> Value | None:
    if x.shape == node.attrs["shape"]:
        return x
    s = splat(x)
    if s is not None and not _is_canonical_broadcast(x):    # a scalar broadcast, made canonical
        return _broadcast(node, s)
    if x.op is Op.EXPAND:                        # expand(expand(y)) -> expand(y)
        return B.expand(x.node.inputs[0], node.attrs["shape"])
    return None


# ---- casts and arithmetic ---------------------------------------------------------------------

def _cast(node: Node, x: Value) -> Value | None:
    target = node.attrs["dtype"]
    if x.dtype is target:
        return x
    if x.op is Op.CAST:
        y = x.node.inputs[0]
        if x.dtype in LOSSLESS[y.dtype]:
            if target is y.dtype:                # A -> B -> A with A -> B exact
                return y
            if y.dtype.is_float and x.dtype.is_float and target.is_float:
                return B.cast(y, target)         # f16 -> f32 -> f64 is f16 -> f64
    return None


def _neg(node: Node, x: Value) -> Value | None:
    if x.op is Op.NEG:                           # neg(neg(y)) -> y (also for wrapping integers)
        return x.node.inputs[0]
    s = splat(x)
    if s is not None:
        return _broadcast(node, np.negative(s))
    if x.op is Op.CONST and x.type.numel <= FOLD_LIMIT:
        return emit(Op.CONST, type=x.type, value=np.negative(x.node.attrs["value"]))
    return None


def _zero_for_add(v: Value) -> bool:
    """``v`` is a constant ``z`` with ``x + z == x`` bit for bit for every ``x``."""
    return _is(v, -0.0) if v.dtype.is_float else _is(v, 0)


def _add(node: Node, x: Value, y: Value) -> Value | None:
    if _zero_for_add(y):
        return x
    if _zero_for_add(x):
        return y
    return None


def _sub(node: Node, x: Value, y: Value) -> Value | None:
    return x if _is(y, 0) else None              # +0.0 for floats: -0.0 - +0.0 == -0.0


def _mul(node: Node, x: Value, y: Value) -> Value | None:
    if _is(y, 1):
        return x
    if _is(x, 1):
        return y
    if node.out.dtype.is_int:                    # integers only: floats have inf * 0 == nan
        if _is(y, 0):
            return y
        if _is(x, 0):
            return x
    return None


def _div(node: Node, x: Value, y: Value) -> Value | None:
    return x if _is(y, 1) else None


def _where(node: Node, c: Value, a: Value, b: Value) -> Value | None:
    if a is b:
        return a
    s = splat(c)
    if s is None:
        return None
    return a if bool(s) else b


RULES: dict[Op, Callable[..., Value | None]] = {
    Op.RESHAPE: _reshape,
    Op.PERMUTE: _permute,
    Op.EXPAND: _expand,
    Op.CAST: _cast,
    Op.NEG: _neg,
    Op.ADD: _add,
    Op.SUB: _sub,
    Op.MUL: _mul,
    Op.DIV: _div,
    Op.WHERE: _where,
}


def simplify(graph: Graph) -> Graph:
    """Apply ``RULES`` bottom-up in one sweep (operands are simplified before their users).

    Guarantees: every output keeps its type and its value bit for bit; the result has no more nodes
    of work (non-source nodes) than ``graph`` for the rules that replace a node by an operand, and
    broadcast constants are in the canonical ``expand(reshape(0-d const))`` form."""
    def rule(node, ins):
        fn = RULES.get(node.op)
        return fn(node, *ins) if fn is not None else None
    return rewrite(graph, rule)
