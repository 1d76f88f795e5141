"""Constant folding: replace a node whose operands are all constants by its value, for every
primitive but ``rand`` (whose bits are the backend's) and ``expand`` (a broadcast costs nothing as
index arithmetic, and a materialised copy would cost memory).

How a value is computed: float operands are widened to float64, the op runs there in NumPy
(``evaluate.evaluate``) and the result is cast to the node's dtype as the IR's ``cast`` does
(float64 -> float32 directly; to float16 / bfloat16 through float32). For ``add``, ``sub``, ``mul``,
``div`` and ``sqrt`` this is exactly the backends' correctly rounded result (float64 has more than
``2p + 2`` bits for every narrower float: Figueroa, "When is double rounding innocuous?", 1995);
sums, dots and transcendental functions come out at least as accurate as the backends' own.
Integer ops are computed in their own dtype, so they are exact (and wrap as the backends do).

Broadcasts stay broadcasts: an operand ``expand(c)`` takes part in the fold as the small ``c``; an
elementwise fold runs at the broadcast shape of its operands' small values and is expanded again,
and a result whose elements are all equal becomes ``builder.const`` (``expand(reshape(0-d const))``),
so a fold never turns ``relu``'s ``0.0`` into an array. Limits: a fold never builds a constant of more
than ``FOLD_LIMIT`` elements, never materialises an operand or result of more than ``EVAL_LIMIT``
elements to evaluate one, and never runs a ``dot`` of more than ``DOT_LIMIT`` multiply-adds.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.graph import Graph, Node, Value, emit
from ..ir.ops import Kind, Op
from ..ir.types import TensorType
from ..ir.interpret import evaluate
from .rewrite import rewrite, splat

FOLD_LIMIT = 1 << 16     # elements of a constant a fold may build
EVAL_LIMIT = 1 << 20     # elements an operand or result may have while a fold is evaluated
DOT_LIMIT = 1 << 24      # multiply-adds of a folded dot


def _core(v: Value) -> np.ndarray | None:
    """A constant array of ``v``'s rank that NumPy-broadcasts to ``v``'s value, as small as the
    ``expand``s above the constant allow; None when ``v`` is not a constant (or a reshape/expand
    chain of one) or would take more than ``EVAL_LIMIT`` elements to reshape."""
    chain = []
    while v.op in (Op.RESHAPE, Op.EXPAND):
        chain.append(v)
        v = v.node.inputs[0]
    if v.op is not Op.CONST:
        return None
    core = v.node.attrs["value"]
    for w in reversed(chain):
        if w.op is Op.EXPAND:
            continue                             # same rank; the core still broadcasts to w
        if core.size == 1:
            core = core.reshape((1,) * w.type.rank)
        elif w.node.inputs[0].type.numel > EVAL_LIMIT:
            return None
        else:
            core = np.broadcast_to(core, w.node.inputs[0].shape).reshape(w.shape)
    return core


def _run(node: Node, args: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """``node``'s op on ``args`` at output ``shape``: in float64 for floats, then cast (see the
    module docstring)."""
    dtype = node.out.dtype
    wide = node.op is not Op.CAST
    if wide:
        args = [a.astype(np.float64) if v.dtype.is_float else a for a, v in zip(args, node.inputs)]
    compute = DType.float64 if wide and dtype.is_float else dtype
    value = evaluate(Node(node.op, [], node.attrs, TensorType(tuple(shape), compute)), args)
    if compute is not dtype:
        with np.errstate(over="ignore"):     # beyond the dtype's range is inf, as in the backends
            value = value.astype(np.float32) if dtype.is_half else value
            value = value.astype(dtype.numpy)
    return value


def _emit_value(node: Node, value: np.ndarray) -> Value:
    """The folded ``value`` (broadcastable to the node's shape) as IR: a canonical broadcast
    scalar when more than one element and all are equal, else a constant, expanded when it is
    smaller."""
    out = node.out
    c = emit(Op.CONST, type=TensorType(value.shape, out.dtype), value=np.array(value, order="C"))
    s = splat(c) if out.type.numel > 1 else None
    if s is not None:
        return B.const(s, out.dtype, out.shape)
    return B.expand(c, out.shape)


def _fold(node: Node, ins: list[Value]) -> Value | None:
    if node.op in (Op.INPUT, Op.CONST, Op.RAND, Op.EXPAND) or not ins:
        return None
    cores = [_core(v) for v in ins]
    if any(c is None for c in cores):
        return None
    if node.op.kind is Kind.MOVEMENT and node.out.type.numel > 1 and all(c.size == 1 for c in cores):
        return None                              # a reshape of a broadcast scalar costs nothing
    node = Node(node.op, ins, node.attrs, node.out.type)
    if node.op.is_elementwise:
        shape = np.broadcast_shapes(*(c.shape for c in cores))
        if math.prod(shape) > FOLD_LIMIT:
            return None
        args = [np.broadcast_to(c, shape) for c in cores]
        return _emit_value(node, _run(node, args, shape))
    if node.out.type.numel > EVAL_LIMIT or any(v.type.numel > EVAL_LIMIT for v in ins):
        return None
    if node.op is Op.DOT:
        contract = node.attrs["contract"][0]
        if node.out.type.numel * math.prod(ins[0].shape[i] for i in contract) > DOT_LIMIT:
            return None
    args = [np.broadcast_to(c, v.shape) for c, v in zip(cores, ins)]
    value = _run(node, args, node.out.shape)
    if value.size > FOLD_LIMIT and splat(emit(Op.CONST, type=node.out.type, value=value)) is None:
        return None
    return _emit_value(node, value)


def constant_fold(graph: Graph) -> Graph:
    """Fold every node whose operands are all constants (see the module docstring), bottom-up in
    one sweep. Guarantees: output types are unchanged; no constant of more than ``FOLD_LIMIT``
    elements is created; ``rand`` and ``expand`` nodes are never folded."""
    return rewrite(graph, _fold)
