"""Small constructors over ``emit`` shared by the front end, autodiff rules and passes.

Binary helpers accept a Python scalar for either operand and turn it into a broadcast constant of the
other operand's dtype; tensor operands must already have identical shapes (the IR never broadcasts).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .dtypes import DType
from .graph import Value, emit
from .ops import Op
from .types import TensorType


def const(value, dtype: DType, shape: Sequence[int] = ()) -> Value:
    """A constant of ``shape``; a scalar ``value`` becomes ``expand(reshape(scalar))`` so no large
    array is ever materialised for a fill."""
    arr = np.asarray(value, dtype=dtype.numpy)
    shape = tuple(shape)
    if arr.shape == shape:
        return emit(Op.CONST, type=TensorType(shape, dtype), value=arr)
    if arr.ndim != 0:
        raise ValueError(f"const: value of shape {arr.shape} does not match {shape}")
    scalar = emit(Op.CONST, type=TensorType((), dtype), value=arr)
    return broadcast_to(scalar, shape)


def _lift(x, like: Value) -> Value:
    return x if isinstance(x, Value) else const(x, like.dtype, like.shape)


def binary(op: Op, a, b) -> Value:
    if not isinstance(a, Value):
        a = _lift(a, b)
    b = _lift(b, a)
    return emit(op, (a, b))


def add(a, b): return binary(Op.ADD, a, b)
def sub(a, b): return binary(Op.SUB, a, b)
def mul(a, b): return binary(Op.MUL, a, b)
def div(a, b): return binary(Op.DIV, a, b)


def unary(op: Op, x: Value) -> Value:
    return emit(op, (x,))


def where(c: Value, a, b) -> Value:
    if not isinstance(a, Value):
        a = _lift(a, b)
    b = _lift(b, a)
    return emit(Op.WHERE, (c, a, b))


def cast(x: Value, dtype: DType) -> Value:
    return x if x.dtype is dtype else emit(Op.CAST, (x,), dtype=dtype)


def reshape(x: Value, shape: Sequence[int]) -> Value:
    shape = tuple(shape)
    return x if x.shape == shape else emit(Op.RESHAPE, (x,), shape=shape)


def permute(x: Value, perm: Sequence[int]) -> Value:
    perm = tuple(perm)
    return x if perm == tuple(range(x.type.rank)) else emit(Op.PERMUTE, (x,), perm=perm)


def expand(x: Value, shape: Sequence[int]) -> Value:
    shape = tuple(shape)
    return x if x.shape == shape else emit(Op.EXPAND, (x,), shape=shape)


def broadcast_to(x: Value, shape: Sequence[int]) -> Value:
    """NumPy broadcasting of ``x`` to ``shape`` (leading 1s added by reshape, then expand)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = len(shape) - x.type.rank
    return expand(reshape(x, (1,) * lead + x.shape), shape)


def reduce(op: Op, x: Value, axes: Sequence[int], keepdim: bool = False) -> Value:
    axes = tuple(sorted(a % max(x.type.rank, 1) for a in axes))
    if not axes:
        return x
    return emit(op, (x,), axes=axes, keepdim=keepdim)


def sum_to(x: Value, shape: Sequence[int]) -> Value:
    """Sum ``x`` over the axes that broadcasting added or grew, back to ``shape`` (broadcast VJP)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.type.rank - len(shape)
    grown = [lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1]
    x = reduce(Op.REDUCE_SUM, x, list(range(lead)) + grown, keepdim=True)
    return reshape(x, shape)


def dot(a: Value, b: Value, contract, batch=((), ())) -> Value:
    contract = (tuple(contract[0]), tuple(contract[1]))
    batch = (tuple(batch[0]), tuple(batch[1]))
    return emit(Op.DOT, (a, b), contract=contract, batch=batch)
