"""Bitwise ONNX operators: BitShift, BitwiseAnd/Or/Xor/Not and BitCast between integer types, written
with lumina's integer arithmetic (it has no bit operations): a shift is a multiplication or a floor
division by a power of two, and And/Or/Xor look up 4-bit digits in a 16 x 16 table.

Values are lumina's compute types for their ONNX types (``onnx.dtypes``: int8 in int32, uint32 in
int64, uint64 as the same 64 bits in int64); ``ctx.in_types`` says how many bits a value has and
whether it is signed; results are wrapped to their type's range here."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto as TP

from ...ir.dtypes import DType
from ...tensor import Tensor, tensor, where
from ..dtypes import INT64_MIN, INTS, IntType, cast, floor_div, floor_mod, idiv, logical, type_name, wrap
from .registry import handler, tensor_of


def _int_type(ctx, i: int, value) -> IntType:
    elem = logical(ctx, i, value)
    if elem not in INTS:
        raise ctx.error(f"input {i} has type {type_name(elem)}; {ctx.op_type} takes integers")
    return INTS[elem]


def _lookup(table: np.ndarray, index: Tensor) -> Tensor:
    """``table[index]`` elementwise (a gather from a constant table)."""
    return tensor(table).index_select(0, index.reshape(-1)).reshape(index.shape)


def _powers(t: IntType, dtype: DType) -> np.ndarray:
    """``2**k`` for k in [0, t.bits), as ``dtype`` holds it: ``2**31`` in int32 (``2**63`` in int64)
    wraps to the minimum, which multiplies as ``2**31`` does modulo ``2**32``."""
    half = 1 << (8 * dtype.itemsize - 1)
    return np.array([((1 << k) + half) % (2 * half) - half for k in range(t.bits)], dtype.numpy)


@handler("BitShift")
def _bitshift(ctx, xs, attrs):
    """``x << y`` / ``x >> y`` (arithmetic for signed types, logical for unsigned). A shift ``y`` that
    is negative or at least the width gives 0, or -1 for a right shift of a negative ``x`` (the
    specification since opset 26; earlier opsets left it undefined)."""
    direction = attrs.get("direction")
    if direction not in ("LEFT", "RIGHT"):
        raise ctx.error(f"direction {direction!r} is not 'LEFT' or 'RIGHT'")
    t = _int_type(ctx, 0, xs[0])
    x, y = tensor_of(xs[0]), tensor_of(xs[1])
    x, y = x.broadcast_to(_shape(x, y)), y.to(x.dtype).broadcast_to(_shape(x, y))
    out_of_range = (y < 0) | (y >= t.bits)
    k = where(out_of_range, 0, y)
    p = _lookup(_powers(t, x.dtype), k)
    if direction == "LEFT":
        return [where(out_of_range, 0, wrap(x * p, t))]
    if t == INTS[TP.UINT64]:
        return [where(out_of_range, 0, where(k == 0, x, u64_shr_var(x, k)))]
    top = 8 * x.dtype.itemsize - 1   # 2**top does not fit the compute type: that shift by hand
    shifted = where(k == top, -(x < 0).to(x.dtype), floor_div(x, where(k == top, 1, p)))
    return [where(out_of_range, -(x < 0).to(x.dtype) if t.signed else 0, shifted)]


def u64_shr_var(x: Tensor, k: Tensor) -> Tensor:
    """``x >> k`` for the uint64 held in ``x`` and a tensor ``1 <= k <= 63``: the low 63 bits shifted,
    and the top bit brought down to ``2**(63-k)``."""
    low = where(x < 0, x - INT64_MIN, x)
    powers = np.array([1 << j for j in range(63)] + [0], np.int64)   # 2**63 (k = 0) is never read
    q = where(k == 63, 0, idiv(low, _lookup(powers, where(k == 63, 1, k))))
    return q + where(x < 0, _lookup(powers, 63 - k), 0)


def _shape(a: Tensor, b: Tensor) -> tuple:
    return tuple(np.broadcast_shapes(a.shape, b.shape))


_TABLES = {op: np.array([[fn(i, j) for j in range(16)] for i in range(16)]).reshape(-1)
           for op, fn in (("BitwiseAnd", lambda i, j: i & j), ("BitwiseOr", lambda i, j: i | j),
                          ("BitwiseXor", lambda i, j: i ^ j))}


@handler("BitwiseAnd", "BitwiseOr", "BitwiseXor")
def _bitwise(ctx, xs, attrs):
    """The digits of both operands' two's complement bits, 4 at a time, combined through a table.
    A type narrower than its compute type is read as its unsigned bits (``x mod 2**bits``); one as wide
    has its sign bit apart (``x < 0``) and the other bits as a non-negative number."""
    t = _int_type(ctx, 0, xs[0])
    a, b = tensor_of(xs[0]), tensor_of(xs[1])
    shape = _shape(a, b)
    a, b = a.broadcast_to(shape), b.to(a.dtype).broadcast_to(shape)
    table = _TABLES[ctx.op_type].astype(a.dtype.numpy)
    width = 8 * a.dtype.itemsize
    if t.bits < width:
        return [wrap(_digits(table, floor_mod(a, 1 << t.bits), floor_mod(b, 1 << t.bits), t.bits), t)]
    sa, sb = a < 0, b < 0
    low = _digits(table, where(sa, a - _min(a.dtype), a), where(sb, b - _min(a.dtype), b), width - 1)
    sign = {"BitwiseAnd": sa & sb, "BitwiseOr": sa | sb, "BitwiseXor": sa != sb}[ctx.op_type]
    return [low + sign.to(a.dtype) * _min(a.dtype)]


def _min(dtype: DType) -> int:
    return -(1 << (8 * dtype.itemsize - 1))


def _digits(table: np.ndarray, u: Tensor, v: Tensor, bits: int) -> Tensor:
    """``table`` applied to the base-16 digits of non-negative ``u`` and ``v`` (of ``bits`` bits)."""
    out, scale = None, 1
    for _ in range(-(-bits // 4)):
        du, dv = floor_mod(u, 16), floor_mod(v, 16)
        term = _lookup(table, du * 16 + dv) * scale
        out = term if out is None else out + term
        u, v, scale = idiv(u, 16), idiv(v, 16), scale * 16
    return out


@handler("BitwiseNot")
def _bitwise_not(ctx, xs, attrs):
    """``~x == -1 - x`` in two's complement; the wrap makes it ``2**bits - 1 - x`` for unsigned types."""
    return [wrap(-1 - tensor_of(xs[0]), _int_type(ctx, 0, xs[0]))]


@handler("BitCast")
def _bitcast(ctx, xs, attrs):
    """Reinterpret the bits as another type of the same width. Supported between integer types (and
    from bool to 8-bit integers), where it is a wrap to the target's range; refused for floats, whose
    bits lumina has no access to."""
    src, dst = logical(ctx, 0, xs[0]), attrs["to"]
    src_bits = 8 if src == TP.BOOL else INTS[src].bits if src in INTS else None
    if src_bits is None or dst not in INTS:
        raise ctx.error(f"BitCast from {type_name(src)} to {type_name(dst)} is not supported: lumina "
                        "reinterprets the bits of integers (and bool) only, not of floats")
    if src_bits != INTS[dst].bits:
        raise ctx.error(f"BitCast from {type_name(src)} ({src_bits} bits) to {type_name(dst)} "
                        f"({INTS[dst].bits} bits): the widths must be equal")
    x = tensor_of(xs[0])
    if x.dtype is DType.bool:
        x = x.to(DType.int32)
    return [cast(x, src if src != TP.BOOL else TP.INT32, dst)]
