"""Bitwise ops on integer and bool tensors with PyTorch 2.13's semantics: ``bitwise_and`` / ``or`` /
``xor`` / ``not`` / ``left_shift`` / ``right_shift`` as functions, Tensor methods, in-place methods
(``bitwise_xor_``...) and the operators ``^ << >>`` (``& | ~`` are ``elementwise``'s), reflected
and augmented forms included.

Semantics: https://pytorch.org/docs/2.13/generated/torch.bitwise_left_shift.html and its
neighbours. Operands promote as arithmetic does (a Python int is weak: ``int32 ^ 5`` stays int32,
``bool << 1`` is int64); a floating-point operand or result raises LuminaTypeError, as torch's
kernels have no float form. Shifts follow torch's CPU kernel: ``a << b`` wraps modulo
``2**bits``, and a shift count outside ``[0, bits)`` (negative too) gives 0 for ``<<`` and the
sign fill (0 or -1) for ``>>``, which is arithmetic on signed integers. Shifting bools
(``bool << bool``) raises, as torch.

Only ``and`` / ``or`` / ``not`` are primitives; the rest decompose:

* ``a ^ b = (a | b) & ~(a & b)``;
* ``a << s = a * 2**s`` in int64 (wrapping), cast back to the operands' dtype (the cast keeps
  the low ``bits`` bits, which is the narrower shift's wrap-around);
* ``a >> s = floor(a / 2**s)`` in int64 (integer division truncates, so a negative remainder steps
  the quotient down; ``s = 63`` is the sign fill);

``2**s`` comes from a constant table of the 64 powers modulo ``2**64`` (a ``gather``).

No gradients: every result is an integer or bool tensor.
"""
from __future__ import annotations

import numpy as np

from ..errors import LuminaTypeError
from ..ir.dtypes import DType, scalar_result
from ..ir.ops import Op
from .core import Tensor
from .creation import const, tensor
from .elementwise import binary_op, where
from .indexing import take
from .inplace import update
from .shapes import result_type

_BITS = {DType.int32: 32, DType.int64: 64}
_POWERS = np.array([1 << k for k in range(63)] + [-(1 << 63)], np.int64)   # 2**k modulo 2**64, k = 0..63


def _operands(a, b, op: str) -> tuple[Tensor, Tensor, DType]:
    """``a`` and ``b`` as tensors with their promoted dtype; raises LuminaTypeError for a
    floating-point operand or result, or for operands that are neither tensors nor numbers."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise LuminaTypeError(f"{op}: expected a tensor operand, got {type(a).__name__} and {type(b).__name__}")
    if not isinstance(a, Tensor):
        a = _as_tensor(a, b.dtype, op, b)
    elif not isinstance(b, Tensor):
        b = _as_tensor(b, a.dtype, op, a)
    dt = result_type(a, b)
    if a.dtype.is_float or b.dtype.is_float or dt.is_float:
        raise LuminaTypeError(f"{op}: only integer and bool tensors are supported (as torch), got "
                              f"{a._value.type} and {b._value.type}")
    return a, b, dt


def _as_tensor(v, other_dtype: DType, op: str, other: Tensor) -> Tensor:
    """A number operand as a tensor of the dtype a weak scalar promotes ``other_dtype`` to."""
    if isinstance(v, (bool, int, float, np.integer, np.floating, np.bool_)):
        dt = scalar_result(other_dtype, v.item() if isinstance(v, np.generic) else v)
        if dt.is_float:
            raise LuminaTypeError(f"{op}: only integer and bool operands are supported (as torch), got "
                                  f"{other._value.type} and the number {v!r}")
        return const(v, dt)
    if isinstance(v, (np.ndarray, list)):
        return tensor(v)
    raise LuminaTypeError(f"{op}: operand must be a tensor or a number, got {type(v).__name__}")


def bitwise_and(input, other) -> Tensor:
    """``torch.bitwise_and``: logical and of bools, bitwise and of integers; broadcast operands,
    promoted dtype. Raises LuminaTypeError for floating-point operands."""
    a, b, dt = _operands(input, other, "bitwise_and")
    return binary_op(Op.AND, a, b, dt, "bitwise_and")


def bitwise_or(input, other) -> Tensor:
    """``torch.bitwise_or``: logical or of bools, bitwise or of integers; see ``bitwise_and``."""
    a, b, dt = _operands(input, other, "bitwise_or")
    return binary_op(Op.OR, a, b, dt, "bitwise_or")


def bitwise_xor(input, other) -> Tensor:
    """``torch.bitwise_xor``: ``(a | b) & ~(a & b)``, logical on bools; see ``bitwise_and``."""
    a, b, dt = _operands(input, other, "bitwise_xor")
    either = binary_op(Op.OR, a, b, dt, "bitwise_xor")
    both = binary_op(Op.AND, a, b, dt, "bitwise_xor")
    return either & ~both


def bitwise_not(input: Tensor) -> Tensor:
    """``torch.bitwise_not``: ``~x``, logical not of bools, two's complement not of integers
    (``-x - 1``). Raises LuminaTypeError for a floating-point tensor."""
    if not isinstance(input, Tensor):
        raise LuminaTypeError(f"bitwise_not: expected a tensor, got {type(input).__name__}")
    if input.dtype.is_float:
        raise LuminaTypeError(f"bitwise_not: only integer and bool tensors are supported (as torch), got "
                              f"{input._value.type}")
    return ~input


def _shift_operands(input, other, op: str) -> tuple[Tensor, Tensor, DType]:
    a, b, dt = _operands(input, other, op)
    if dt is DType.bool:
        raise LuminaTypeError(f"{op}: not implemented for bool (as torch), got {a._value.type} and {b._value.type}")
    return a.to(dt), b.to(dt), dt


def _power_of_two(s: Tensor, top: int) -> Tensor:
    """``2**s`` modulo ``2**64`` (int64) for ``s`` clamped to ``[0, top]``, read from the table."""
    index = s.to(DType.int64).clamp(0, top)
    return take(tensor(_POWERS), 0, index.reshape(-1)).reshape(index.shape)


def bitwise_left_shift(input, other) -> Tensor:
    """``torch.bitwise_left_shift``: ``input * 2**other`` wrapping modulo ``2**bits``; 0 where the
    count is outside ``[0, bits)``. Shapes broadcast; int32 / int64 (a bool tensor with an int
    count promotes to int64). Raises LuminaTypeError for float or bool-only operands."""
    a, s, dt = _shift_operands(input, other, "bitwise_left_shift")
    bits = _BITS[dt]
    wide = a.to(DType.int64)
    s64 = s.to(DType.int64)
    shifted = wide * _power_of_two(s64, 63)     # wraps: 2**63 is -2**63 in int64
    inside = (s64 >= 0) & (s64 < bits)
    return where(inside, shifted, const(0, DType.int64)).to(dt)


def bitwise_right_shift(input, other) -> Tensor:
    """``torch.bitwise_right_shift``: arithmetic shift, ``floor(input / 2**other)``; the sign fill
    (0 or -1) where the count is outside ``[0, bits)``. Shapes, dtypes and errors as
    ``bitwise_left_shift``."""
    a, s, dt = _shift_operands(input, other, "bitwise_right_shift")
    bits = _BITS[dt]
    wide = a.to(DType.int64)
    s64 = s.to(DType.int64)
    divisor = _power_of_two(s64, 62)
    q = binary_op(Op.DIV, wide, divisor, DType.int64, "bitwise_right_shift")
    q = where(wide - q * divisor < 0, q - 1, q)
    fill = where(wide < 0, const(-1, DType.int64), const(0, DType.int64))
    inside = (s64 >= 0) & (s64 < min(bits, 63))
    return where(inside, q, fill).to(dt)


class BitwiseMethods:
    """``Tensor``'s bitwise methods and the operators ``^ << >>`` (the package copies them onto
    ``Tensor``); the in-place forms write through ``inplace.update`` (torch's checks)."""

    def bitwise_and(self, other) -> Tensor:
        """``torch.Tensor.bitwise_and``; see ``bitwise_and``."""
        return bitwise_and(self, other)

    def bitwise_or(self, other) -> Tensor:
        """``torch.Tensor.bitwise_or``; see ``bitwise_or``."""
        return bitwise_or(self, other)

    def bitwise_xor(self, other) -> Tensor:
        """``torch.Tensor.bitwise_xor``; see ``bitwise_xor``."""
        return bitwise_xor(self, other)

    def bitwise_not(self) -> Tensor:
        """``torch.Tensor.bitwise_not``; see ``bitwise_not``."""
        return bitwise_not(self)

    def bitwise_left_shift(self, other) -> Tensor:
        """``torch.Tensor.bitwise_left_shift``; see ``bitwise_left_shift``."""
        return bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other) -> Tensor:
        """``torch.Tensor.bitwise_right_shift``; see ``bitwise_right_shift``."""
        return bitwise_right_shift(self, other)

    def bitwise_and_(self, other) -> Tensor:
        """``torch.Tensor.bitwise_and_``: ``bitwise_and`` written into ``self``; returns ``self``."""
        return update(self, "bitwise_and_", lambda: bitwise_and(self, other), (other,))

    def bitwise_or_(self, other) -> Tensor:
        """``torch.Tensor.bitwise_or_``: ``bitwise_or`` in place."""
        return update(self, "bitwise_or_", lambda: bitwise_or(self, other), (other,))

    def bitwise_xor_(self, other) -> Tensor:
        """``torch.Tensor.bitwise_xor_``: ``bitwise_xor`` in place."""
        return update(self, "bitwise_xor_", lambda: bitwise_xor(self, other), (other,))

    def bitwise_not_(self) -> Tensor:
        """``torch.Tensor.bitwise_not_``: ``bitwise_not`` in place."""
        return update(self, "bitwise_not_", lambda: bitwise_not(self))

    def bitwise_left_shift_(self, other) -> Tensor:
        """``torch.Tensor.bitwise_left_shift_``: ``bitwise_left_shift`` in place."""
        return update(self, "bitwise_left_shift_", lambda: bitwise_left_shift(self, other), (other,))

    def bitwise_right_shift_(self, other) -> Tensor:
        """``torch.Tensor.bitwise_right_shift_``: ``bitwise_right_shift`` in place."""
        return update(self, "bitwise_right_shift_", lambda: bitwise_right_shift(self, other), (other,))

    def __xor__(self, other): return bitwise_xor(self, other)
    def __lshift__(self, other): return bitwise_left_shift(self, other)
    def __rshift__(self, other): return bitwise_right_shift(self, other)
    def __rand__(self, other): return bitwise_and(other, self)
    def __ror__(self, other): return bitwise_or(other, self)
    def __rxor__(self, other): return bitwise_xor(other, self)
    def __rlshift__(self, other): return bitwise_left_shift(other, self)
    def __rrshift__(self, other): return bitwise_right_shift(other, self)
    def __ixor__(self, other): return self.bitwise_xor_(other)
    def __ilshift__(self, other): return self.bitwise_left_shift_(other)
    def __irshift__(self, other): return self.bitwise_right_shift_(other)
