"""A NumPy reference interpreter of the primitives, used for constant folding at compile time.

It never runs a user's program (that is what the backends are for); it folds nodes whose operands
are all constants. It computes what the backends compute: 16-bit float operands are widened to
float32, the op runs there (a ``sum`` or ``dot`` accumulates in float32) and the result is rounded
once to the 16-bit type, from float32 (so float64 and int64 values round twice, as in PyTorch).
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from ..errors import LuminaIndexError
from .numerics import uniform
from .ops import Op
from .symbolic import Sym

_UNARY = {Op.NEG: np.negative, Op.EXP: np.exp, Op.LOG: np.log, Op.SQRT: np.sqrt, Op.SIN: np.sin,
          Op.COS: np.cos, Op.TANH: np.tanh, Op.ABS: np.abs, Op.NOT: np.invert,
          Op.ERF: np.vectorize(math.erf, otypes=[np.float64])}
_BINARY = {Op.ADD: np.add, Op.SUB: np.subtract, Op.MUL: np.multiply, Op.POW: np.power,
           Op.MAXIMUM: np.maximum, Op.MINIMUM: np.minimum, Op.LT: np.less, Op.LE: np.less_equal,
           Op.GT: np.greater, Op.GE: np.greater_equal, Op.EQ: np.equal, Op.NE: np.not_equal,
           Op.AND: np.bitwise_and, Op.OR: np.bitwise_or}


def evaluate(node, args: list[np.ndarray]) -> np.ndarray:
    """The value of ``node`` on constant operands ``args``, with the node's output dtype."""
    op, a, dt = node.op, node.attrs, node.out.dtype.numpy
    args = [x.astype(np.float32) if _is_half(x.dtype) else x for x in args]
    with np.errstate(all="ignore"):
        if op in _UNARY:
            out = _UNARY[op](args[0])
        elif op in _BINARY:
            out = _BINARY[op](*args)
        elif op is Op.DIV:
            x, y = args
            if node.out.dtype.is_float:
                out = x / y
            else:  # C truncation, x / 0 == 0: what the backends compute
                safe = np.where(y == 0, 1, y)
                q = np.abs(x) // np.abs(safe) * np.sign(x) * np.sign(safe)
                out = np.where(y == 0, 0, q)
        elif op is Op.WHERE:
            out = np.where(*args)
        elif op is Op.CAST:
            out = args[0]
        elif op is Op.REDUCE_SUM:
            out = np.sum(args[0], axis=a["axes"], keepdims=a["keepdim"])
        elif op is Op.REDUCE_MAX:
            out = np.max(args[0], axis=a["axes"], keepdims=a["keepdim"])
        elif op is Op.RESHAPE:
            out = args[0].reshape(a["shape"])
        elif op is Op.PERMUTE:
            out = np.transpose(args[0], a["perm"])
        elif op is Op.EXPAND:
            out = np.broadcast_to(args[0], a["shape"])
        elif op is Op.SLICE:
            out = args[0][tuple(slice(*s) for s in zip(a["starts"], a["stops"], a["steps"]))]
        elif op is Op.PAD:
            out = np.pad(args[0], a["pads"], constant_values=a["value"])
        elif op is Op.CONCAT:
            out = np.concatenate(args, axis=a["axis"])
        elif op is Op.GATHER:
            x, idx = args
            d = x.shape[a["axis"]]
            out = np.take(x, np.clip(np.where(idx < 0, idx + d, idx), 0, d - 1), axis=a["axis"])
        elif op is Op.CHECK_INDEX:
            out = check_index(args[0], a["size"], a["low"], a["message"])
        elif op is Op.DOT:
            (ac, bc), (ab, bb) = a["contract"], a["batch"]
            out = _dot_general(args[0], args[1], ac, bc, ab, bb)
        elif op is Op.RAND:   # the samples of the key at each row-major position (ir.numerics)
            positions = np.arange(math.prod(a["shape"]), dtype=np.int64).reshape(a["shape"])
            out = uniform(int(args[0]), positions, a["dtype"])
        else:
            raise NotImplementedError(op)
    out = np.asarray(out, order="C")
    if node.out.dtype.is_half and out.dtype != dt:
        out = out.astype(np.float32, copy=False)
    return out.astype(dt, copy=False)


def check_index(idx: np.ndarray, size: int, low: int, message: str) -> np.ndarray:
    """``check_index``'s value (``ir.ops``): ``idx`` as int64, negative entries counted from the end;
    raises LuminaIndexError(``message``) naming the first entry outside ``[low, size)``."""
    idx = np.asarray(idx).astype(np.int64)
    bad = (idx < low) | (idx >= size)
    if bad.any():
        raise LuminaIndexError(message.replace("{index}", str(int(idx[bad].flat[0]))))
    return np.where(idx < 0, idx + size, idx)


def _is_half(dtype: np.dtype) -> bool:
    return dtype == np.float16 or dtype == ml_dtypes.bfloat16


def _dot_general(x, y, ac, bc, ab, bb):
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    xs = [next(letters) for _ in range(x.ndim)]
    ys = [next(letters) for _ in range(y.ndim)]
    for i, j in zip(ac + ab, bc + bb):
        ys[j] = xs[i]
    out = [xs[i] for i in ab] + [xs[i] for i in range(x.ndim) if i not in ac + ab] + \
          [ys[j] for j in range(y.ndim) if j not in bc + bb]
    return np.einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)


def interpret(graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run ``graph`` in NumPy: the reference the compiled executables are tested against.

    ``inputs`` holds one array per ``graph.inputs`` (call order) with that input's shape and
    dtype; the result holds one new array per ``graph.outputs``, with its shape and dtype. The
    nodes run in ``graph.nodes`` order, each through ``evaluate`` (so the numerics are the ones
    written down above: 16-bit floats computed in float32 and rounded once per op, ``div`` on
    integers truncating, ``gather`` clamping); an intermediate is dropped after its last reader.
    Raises LuminaValueError for the wrong number of inputs, LuminaShapeError / LuminaTypeError
    for an input of the wrong shape / dtype, LuminaIndexError where a ``check_index`` finds an
    index out of range (the message the executables raise), and LuminaIRError naming the node
    for an op ``evaluate`` does not support (never a silent skip).
    """
    from ..errors import LuminaIRError, LuminaShapeError, LuminaTypeError, LuminaValueError
    from .printer import format_node, value_names

    if len(inputs) != len(graph.inputs):
        raise LuminaValueError(f"interpret: graph {graph.name} takes {len(graph.inputs)} inputs, "
                               f"got {len(inputs)}")
    values: dict = {}
    for i, (v, x) in enumerate(zip(graph.inputs, inputs)):
        x = np.asarray(x)
        if any(isinstance(d, Sym) for d in v.shape):
            raise LuminaIRError(f"interpret: input {i} ({v.attrs.get('name')}) is {v.type}, with symbolic sizes: "
                                "the reference evaluator runs a graph traced at sizes")
        if x.shape != v.shape:
            raise LuminaShapeError(f"interpret: input {i} ({v.attrs.get('name')}) of shape {list(x.shape)}, "
                                   f"expected {v.type}")
        if x.dtype != np.dtype(v.dtype.numpy):
            raise LuminaTypeError(f"interpret: input {i} ({v.attrs.get('name')}) of dtype {x.dtype}, "
                                  f"expected {v.type}")
        values[v] = x
    last_read = {}
    for position, node in enumerate(graph.nodes):
        for v in node.inputs:
            last_read[v] = position
    for v in graph.outputs:
        last_read[v] = len(graph.nodes)
    for position, node in enumerate(graph.nodes):
        if node.op is Op.INPUT:
            if node not in values:
                raise LuminaValueError(f"interpret: graph {graph.name} reads input "
                                       f"{node.attrs.get('name')!r}, which is not among its arguments")
        elif node.op is Op.CONST:
            values[node] = np.asarray(node.attrs["value"])
        else:
            try:
                values[node] = evaluate(node, [values[v] for v in node.inputs])
            except NotImplementedError:
                line = format_node(node, value_names(graph))
                raise LuminaIRError(f"interpret: {node.op.value} is not supported by the reference "
                                    f"evaluator (ir.interpret.evaluate): {line}") from None
        for v in set(node.inputs) | {node}:
            if last_read.get(v, position) == position:   # read for the last time, or never
                del values[v]
    return [np.array(values[v], copy=True) for v in graph.outputs]
