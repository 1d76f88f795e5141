"""The closed set of lumina primitives and the shape/dtype rule of each.

The IR has no implicit broadcasting: the operands of an elementwise op have identical shapes (the
front end inserts ``reshape`` + ``expand``). Composite ops (softmax, gelu, cross_entropy, conv) are
decompositions into these primitives, so autodiff, passes and backends see only this list.
Semantics follow NumPy unless stated: ``div`` on integers truncates toward zero (C, LLVM ``sdiv``)
and gives 0 for a zero divisor;
``gather`` is ONNX ``Gather`` (out shape ``x.shape[:axis] + idx.shape + x.shape[axis+1:]``, negative
indices count from the end; an index out of range reads a clamped position, never outside the
buffer); ``dot`` is XLA's ``DotGeneral`` (output dims: batch, lhs free, rhs free).

``check_index`` is the run-time range check of an index tensor computed in the graph (the front end
puts one before every gather it records): ``check_index(i) {size, low, message}`` is ``i`` as int64
with a negative entry counted from the end (``i + size`` when ``low`` is ``-size``), for every entry
in ``[low, size)``. An entry outside that range is an error: the kernel records it and the executable
raises ``LuminaIndexError(message)`` after the launch (``{index}`` in ``message`` stands for the
offending entry); that entry reads as 0 meanwhile, so what consumes it stays in bounds.
``size {size}`` is the value of a symbolic size (``ir.symbolic``: ``B``, ``B*T``) at run time, an
int64 scalar: how a ``mean`` over a symbolic dim divides by its count.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Callable

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from .dtypes import DType
from .symbolic import Sym
from .types import TensorType, fmt_types


class Kind(enum.Enum):
    SOURCE = "source"        # input, const, rand
    UNARY = "unary"
    BINARY = "binary"
    TERNARY = "ternary"      # where
    CAST = "cast"
    REDUCE = "reduce"
    MOVEMENT = "movement"
    DOT = "dot"
    CHECK = "check"          # check_index: an elementwise value with a run-time error path


class Op(enum.Enum):
    """A primitive. ``value`` is its name in IR text."""

    # Members are singletons compared by identity: hash them in C too (Enum's own hash is Python
    # code, and every rule-table lookup pays it). Neither hash is stable across processes.
    __hash__ = object.__hash__

    INPUT = "input"
    CONST = "const"
    RAND = "rand"            # uniform [0, 1) from a counter-based hash of (key, linear index)
    SIZE = "size"            # a symbolic size's value at run time (ir.symbolic): an i64 scalar

    NEG = "neg"
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    SIN = "sin"
    COS = "cos"
    TANH = "tanh"
    ABS = "abs"
    ERF = "erf"
    NOT = "not"

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    EQ = "eq"
    NE = "ne"
    AND = "and"
    OR = "or"

    WHERE = "where"
    CAST = "cast"

    REDUCE_SUM = "reduce_sum"
    REDUCE_MAX = "reduce_max"

    RESHAPE = "reshape"
    PERMUTE = "permute"
    EXPAND = "expand"
    SLICE = "slice"
    PAD = "pad"
    CONCAT = "concat"
    GATHER = "gather"

    DOT = "dot"

    CHECK_INDEX = "check_index"

    @property
    def info(self) -> OpDef:
        """This primitive's record: kind, shape rule, arity and traits (``OPS``)."""
        return OPS[self]

    @property
    def kind(self) -> Kind:
        return OPS[self].kind

    @property
    def is_elementwise(self) -> bool:
        return self.kind in (Kind.UNARY, Kind.BINARY, Kind.TERNARY, Kind.CAST)


# The operand classes the shape rules below tell apart.
_ARITH = {Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM}
COMPARISONS = {Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE}
_LOGICAL = {Op.AND, Op.OR}


def _err(op: Op, types, msg: str, cls=LuminaShapeError):
    return cls(f"{op.value}: {msg}: got {fmt_types(types)}")


def _norm_axis(op: Op, axis: int, rank: int, types) -> int:
    if not -rank <= axis < max(rank, 1):
        raise _err(op, types, f"axis {axis} out of range for rank {rank}", LuminaValueError)
    return axis % rank if rank else 0


# ---- one shape/dtype rule per op ------------------------------------------------------------------

def _unary(op, types, **_):
    (x,) = types
    if op.info.float_only and not x.dtype.is_float:
        raise _err(op, types, "expects a floating-point operand", LuminaTypeError)
    if op is Op.NOT and x.dtype.is_float:      # logical not of bool, bitwise not of integers
        raise _err(op, types, "expects a bool or integer operand", LuminaTypeError)
    if op is Op.NEG and x.dtype is DType.bool:
        raise _err(op, types, "expects a numeric operand", LuminaTypeError)
    return x


def _binary(op, types, **_):
    a, b = types
    if a.shape != b.shape:
        raise _err(op, types, "operand shapes differ (the IR does not broadcast; insert expand)")
    if a.dtype is not b.dtype:
        raise _err(op, types, "operand dtypes differ (insert cast)", LuminaTypeError)
    if op in _LOGICAL and a.dtype.is_float:    # logical on bool, bitwise on integers
        raise _err(op, types, "expects bool or integer operands", LuminaTypeError)
    if op.info.float_only and not a.dtype.is_float:
        raise _err(op, types, "expects floating-point operands", LuminaTypeError)
    if op in _ARITH and a.dtype is DType.bool:
        raise _err(op, types, "expects numeric operands, not bool", LuminaTypeError)
    return TensorType(a.shape, DType.bool) if op in COMPARISONS else a


def _where(op, types, **_):
    c, a, b = types
    if not c.shape == a.shape == b.shape:
        raise _err(op, types, "operand shapes differ")
    if c.dtype is not DType.bool or a.dtype is not b.dtype:
        raise _err(op, types, "expects (bool, T, T)", LuminaTypeError)
    return a


def _cast(op, types, *, dtype: DType):
    return TensorType(types[0].shape, dtype)


def _reduce(op, types, *, axes: tuple, keepdim: bool):
    (x,) = types
    norm = sorted({_norm_axis(op, a, x.rank, types) for a in axes})
    if tuple(norm) != tuple(axes):
        raise _err(op, types, f"axes {axes} must be sorted, unique and non-negative", LuminaValueError)
    if x.dtype is DType.bool:
        raise _err(op, types, "expects a numeric operand", LuminaTypeError)
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keepdim or i not in axes)
    return TensorType(shape, x.dtype)


def _reshape(op, types, *, shape: tuple):
    (x,) = types
    if any(d < 0 for d in shape) or math.prod(shape) != x.numel:
        raise _err(op, types, f"cannot reshape {x.numel} elements to {list(shape)}")
    return TensorType(tuple(shape), x.dtype)


def _permute(op, types, *, perm: tuple):
    (x,) = types
    if sorted(perm) != list(range(x.rank)):
        raise _err(op, types, f"perm {perm} is not a permutation of {x.rank} axes", LuminaValueError)
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


def _expand(op, types, *, shape: tuple):
    (x,) = types
    if len(shape) != x.rank or any(d < 0 or (s != d and s != 1) for s, d in zip(x.shape, shape)):
        raise _err(op, types, f"cannot expand to {list(shape)} (same rank, only size-1 dims grow)")
    return TensorType(tuple(shape), x.dtype)


def _slice(op, types, *, starts: tuple, stops: tuple, steps: tuple):
    (x,) = types
    if not len(starts) == len(stops) == len(steps) == x.rank:
        raise _err(op, types, "starts/stops/steps need one entry per axis", LuminaValueError)
    shape = []
    for d, lo, hi, st in zip(x.shape, starts, stops, steps):
        if st < 1 or not 0 <= lo <= d or not lo <= hi <= d:
            raise _err(op, types, f"slice {lo}:{hi}:{st} invalid for a dim of {d}", LuminaValueError)
        shape.append(max(0, -(-(hi - lo) // st)))
    return TensorType(tuple(shape), x.dtype)


def _pad(op, types, *, pads: tuple, value: float):
    (x,) = types
    if len(pads) != x.rank or any(lo < 0 or hi < 0 for lo, hi in pads):
        raise _err(op, types, f"pads {pads} need one non-negative (lo, hi) per axis", LuminaValueError)
    return TensorType(tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, pads)), x.dtype)


def _concat(op, types, *, axis: int):
    first = types[0]
    if axis < 0 or axis >= first.rank:
        raise _err(op, types, f"axis {axis} out of range", LuminaValueError)
    for t in types[1:]:
        if t.dtype is not first.dtype or t.rank != first.rank or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis):
            raise _err(op, types, f"operands must agree in dtype and every dim but axis {axis}")
    size = sum(t.shape[axis] for t in types)
    return TensorType(first.shape[:axis] + (size,) + first.shape[axis + 1:], first.dtype)


def _gather(op, types, *, axis: int):
    x, idx = types
    if not idx.dtype.is_int:
        raise _err(op, types, "indices must be int32 or int64", LuminaTypeError)
    if not 0 <= axis < x.rank:
        raise _err(op, types, f"axis {axis} out of range", LuminaValueError)
    return TensorType(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


def _check_index(op, types, *, size: int, low: int, message: str):
    (idx,) = types
    if not idx.dtype.is_int:
        raise _err(op, types, "indices must be int32 or int64", LuminaTypeError)
    if size < 0 or low not in (0, -size):
        raise _err(op, types, f"size {size} must be >= 0 and low {low} either 0 or -size", LuminaValueError)
    if not isinstance(message, str):
        raise _err(op, types, f"message must be a string, got {message!r}", LuminaTypeError)
    return TensorType(idx.shape, DType.int64)


def _dot(op, types, *, contract: tuple, batch: tuple):
    a, b = types
    (ac, bc), (ab, bb) = contract, batch
    if a.dtype is not b.dtype or a.dtype is DType.bool:
        raise _err(op, types, "operands must share a numeric dtype", LuminaTypeError)
    if len(ac) != len(bc) or len(ab) != len(bb):
        raise _err(op, types, f"contract {contract} / batch {batch} must pair lhs and rhs axes",
                   LuminaValueError)
    for axes, t in ((ac + ab, a), (bc + bb, b)):
        if len(set(axes)) != len(axes) or any(not 0 <= i < t.rank for i in axes):
            raise _err(op, types, f"contract {contract} / batch {batch} name invalid axes", LuminaValueError)
    for i, j in zip(ac, bc):
        if a.shape[i] != b.shape[j]:
            raise _err(op, types, f"inner dimensions differ: lhs axis {i} ({a.shape[i]}) "
                                  f"vs rhs axis {j} ({b.shape[j]})")
    for i, j in zip(ab, bb):
        if a.shape[i] != b.shape[j]:
            raise _err(op, types, f"batch dimensions differ: lhs axis {i} ({a.shape[i]}) "
                                  f"vs rhs axis {j} ({b.shape[j]})")
    a_free = [d for i, d in enumerate(a.shape) if i not in ac + ab]
    b_free = [d for i, d in enumerate(b.shape) if i not in bc + bb]
    return TensorType(tuple([a.shape[i] for i in ab] + a_free + b_free), a.dtype)


def _size(op, types, *, size):
    if not isinstance(size, Sym):
        raise _err(op, types, f"size must be a symbolic size (ir.symbolic.Sym), got {size!r}", LuminaTypeError)
    return TensorType((), DType.int64)


def _rand(op, types, *, shape: tuple, dtype: DType):
    (key,) = types
    if key.shape != () or key.dtype is not DType.int64:
        raise _err(op, types, "key must be an int64 scalar", LuminaTypeError)
    if not dtype.is_float:
        raise _err(op, types, f"dtype must be floating-point, not {dtype.name}", LuminaTypeError)
    if any(d < 0 for d in shape):
        raise _err(op, types, f"negative dimension in shape {list(shape)}", LuminaValueError)
    return TensorType(tuple(shape), dtype)


@dataclass(frozen=True)
class OpDef:
    """Everything the compiler knows about one primitive, in one record.

    ``kind``: its family; ``rule``: its shape/dtype rule (None for ``input``/``const``, whose type
    is given when they are built); ``arity``: its operand count (None: one or more). Traits:
    ``commutative`` (CSE orders the operands), ``differentiable`` (false for piecewise-constant ops
    and sources: autodiff stops there), ``float_only`` (operands must be floating point),
    ``costly`` (a transcendental, a division or data movement with index arithmetic: fusion
    recomputes it in several readers only within a budget), ``view`` (the result is a strided view
    of the operand's elements: no copy is needed to read it), ``effectful`` (two identical nodes
    are two values: CSE never merges them)."""
    kind: Kind
    rule: Callable[..., TensorType] | None
    arity: int | None
    commutative: bool = False
    differentiable: bool = True
    float_only: bool = False
    costly: bool = False
    view: bool = False
    effectful: bool = False


_U, _B = Kind.UNARY, Kind.BINARY
_CONSTANT = dict(differentiable=False)        # piecewise constant: no gradient
_TRANSCENDENTAL = dict(float_only=True, costly=True)
OPS: dict[Op, OpDef] = {
    Op.INPUT: OpDef(Kind.SOURCE, None, 0, differentiable=False, effectful=True),
    Op.CONST: OpDef(Kind.SOURCE, None, 0, differentiable=False),
    Op.RAND: OpDef(Kind.SOURCE, _rand, 1, differentiable=False, costly=True, effectful=True),
    Op.SIZE: OpDef(Kind.SOURCE, _size, 0, differentiable=False),

    Op.NEG: OpDef(_U, _unary, 1),
    Op.EXP: OpDef(_U, _unary, 1, **_TRANSCENDENTAL),
    Op.LOG: OpDef(_U, _unary, 1, **_TRANSCENDENTAL),
    Op.SQRT: OpDef(_U, _unary, 1, **_TRANSCENDENTAL),
    Op.SIN: OpDef(_U, _unary, 1, **_TRANSCENDENTAL),
    Op.COS: OpDef(_U, _unary, 1, **_TRANSCENDENTAL),
    Op.TANH: OpDef(_U, _unary, 1, **_TRANSCENDENTAL),
    Op.ABS: OpDef(_U, _unary, 1),
    Op.ERF: OpDef(_U, _unary, 1, **_TRANSCENDENTAL),
    Op.NOT: OpDef(_U, _unary, 1, **_CONSTANT),

    Op.ADD: OpDef(_B, _binary, 2, commutative=True),
    Op.SUB: OpDef(_B, _binary, 2),
    Op.MUL: OpDef(_B, _binary, 2, commutative=True),
    Op.DIV: OpDef(_B, _binary, 2, costly=True),
    Op.POW: OpDef(_B, _binary, 2, **_TRANSCENDENTAL),
    Op.MAXIMUM: OpDef(_B, _binary, 2),
    Op.MINIMUM: OpDef(_B, _binary, 2),
    Op.LT: OpDef(_B, _binary, 2, **_CONSTANT),
    Op.LE: OpDef(_B, _binary, 2, **_CONSTANT),
    Op.GT: OpDef(_B, _binary, 2, **_CONSTANT),
    Op.GE: OpDef(_B, _binary, 2, **_CONSTANT),
    Op.EQ: OpDef(_B, _binary, 2, commutative=True, **_CONSTANT),
    Op.NE: OpDef(_B, _binary, 2, commutative=True, **_CONSTANT),
    Op.AND: OpDef(_B, _binary, 2, commutative=True, **_CONSTANT),
    Op.OR: OpDef(_B, _binary, 2, commutative=True, **_CONSTANT),

    Op.WHERE: OpDef(Kind.TERNARY, _where, 3),
    Op.CAST: OpDef(Kind.CAST, _cast, 1),

    Op.REDUCE_SUM: OpDef(Kind.REDUCE, _reduce, 1),
    Op.REDUCE_MAX: OpDef(Kind.REDUCE, _reduce, 1),

    Op.RESHAPE: OpDef(Kind.MOVEMENT, _reshape, 1, view=True),
    Op.PERMUTE: OpDef(Kind.MOVEMENT, _permute, 1, view=True),
    Op.EXPAND: OpDef(Kind.MOVEMENT, _expand, 1, view=True),
    Op.SLICE: OpDef(Kind.MOVEMENT, _slice, 1, view=True),
    Op.PAD: OpDef(Kind.MOVEMENT, _pad, 1, costly=True),
    Op.CONCAT: OpDef(Kind.MOVEMENT, _concat, None, costly=True),
    Op.GATHER: OpDef(Kind.MOVEMENT, _gather, 2, costly=True),

    Op.DOT: OpDef(Kind.DOT, _dot, 2),

    Op.CHECK_INDEX: OpDef(Kind.CHECK, _check_index, 1, **_CONSTANT),
}
assert set(OPS) == set(Op), "every primitive has its record"


def infer_type(op: Op, types: list[TensorType], attrs: dict) -> TensorType:
    """The output type of ``op`` applied to operands of ``types`` with ``attrs``.

    Raises LuminaShapeError / LuminaTypeError / LuminaValueError naming the op and operand types.
    ``input`` and ``const`` have no rule: their type is given when they are built.
    """
    arity = OPS[op].arity
    if (arity is not None and len(types) != arity) or (arity is None and not types):
        raise _err(op, types, f"expects {arity if arity is not None else 'one or more'} operands",
                   LuminaValueError)
    return OPS[op].rule(op, types, **attrs)
