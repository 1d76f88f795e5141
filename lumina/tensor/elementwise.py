"""Elementwise ops with NumPy broadcasting and PyTorch's dtype promotion (Python scalars are weak:
``f32 * 2.0`` stays ``float32``): arithmetic and comparison operators, unary math, ``sigmoid``,
``relu``, ``gelu``, ``clamp``, ``where``, ``maximum`` / ``minimum``."""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType, scalar_result
from ..ir.graph import emit
from ..ir.ops import Op
from .core import Tensor
from .creation import const, ones, tensor
from .shapes import broadcast_shapes, result_type

Scalar = (int, float, bool)

# Arithmetic on two bools is logic in torch: + and maximum are or, * and minimum are and.
_BOOL_AS_LOGIC = {Op.ADD: Op.OR, Op.MAXIMUM: Op.OR, Op.MUL: Op.AND, Op.MINIMUM: Op.AND}


def binary_op(op: Op, a: Tensor, b: Tensor, dt: DType, name: str) -> Tensor:
    """``op`` on ``a`` and ``b`` cast to ``dt`` and broadcast together (``name`` in the error)."""
    shape = broadcast_shapes(name, a._value.type, b._value.type)
    x = B.broadcast_to(B.cast(a._touch(), dt), shape)
    y = B.broadcast_to(B.cast(b._touch(), dt), shape)
    return Tensor._result(emit(op, (x, y)), a, b)


def integer_power(x: Tensor, n: int) -> Tensor:
    """``x ** n`` for an integer (or bool: int64) tensor and a Python integer ``n >= 0``, exact
    and wrapping as torch's, by repeated squaring. Raises LuminaValueError for ``n < 0`` (torch:
    "Integers to negative integer powers are not allowed")."""
    if n < 0:
        raise LuminaValueError(f"pow: integers to negative integer powers are not allowed (as torch): "
                               f"{x._value.type} ** {n}")
    base = x.to(DType.int64) if x.dtype is DType.bool else x
    result = None
    while True:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if not n:
            break
        base = base * base
    return ones(base.shape, dtype=base.dtype) if result is None else result


def where(condition, input, other) -> Tensor:
    """``input`` where ``condition`` else ``other``, broadcasting all three; they promote like a
    binary op."""
    cond, x, y = condition, input, other
    cond = cond if isinstance(cond, Tensor) else tensor(cond, dtype=DType.bool)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        raise LuminaTypeError("where: x or y must be a tensor")
    if isinstance(x, Tensor) and isinstance(y, Tensor):
        dt = result_type(x, y)
    else:
        t, s = (x, y) if isinstance(x, Tensor) else (y, x)
        dt = scalar_result(t.dtype, s)
    x = x if isinstance(x, Tensor) else const(x, dt)
    y = y if isinstance(y, Tensor) else const(y, dt)
    shape = broadcast_shapes("where", cond._value.type, x._value.type, y._value.type)
    c = B.broadcast_to(B.cast(cond._touch(), DType.bool), shape)
    a = B.broadcast_to(B.cast(x._touch(), dt), shape)
    b = B.broadcast_to(B.cast(y._touch(), dt), shape)
    return Tensor._result(emit(Op.WHERE, (c, a, b)), x, y)


def maximum(input, other) -> Tensor:
    """Elementwise max with NaN propagation (``torch.maximum``); ties split the gradient."""
    a = input if isinstance(input, Tensor) else tensor(input)
    return a._binary(Op.MAXIMUM, other)


def minimum(input, other) -> Tensor:
    """Elementwise min with NaN propagation (``torch.minimum``); ties split the gradient."""
    a = input if isinstance(input, Tensor) else tensor(input)
    return a._binary(Op.MINIMUM, other)


class ElementwiseMethods:
    """``Tensor``'s elementwise methods and operators (the package copies them onto ``Tensor``)."""

    def _binary(self, op: Op, other, reverse: bool = False, name: str | None = None) -> Tensor:
        name = name or op.value
        if isinstance(other, Tensor):
            dt = result_type(self, other)
            a, b = self, other
        elif isinstance(other, Scalar):
            dt = scalar_result(self.dtype, other)
            if (not reverse and op is not Op.POW and not isinstance(other, bool) and self.dtype is not DType.bool
                    and dt is not DType.bool and (dt.is_float or op is not Op.DIV)):
                # the common case, without a 0-d tensor for the scalar: a fill of the result's shape
                x = B.cast(self._touch(), dt)
                return Tensor._result(emit(op, (x, B.const(other, dt, x.shape))), self)
            a, b = self, const(other, dt)
        elif isinstance(other, (np.ndarray, list, np.generic)):
            other = tensor(other)
            return self._binary(op, other, reverse, name)
        else:
            return NotImplemented
        if reverse:
            a, b = b, a
        if op is Op.SUB and (DType.bool in (self.dtype, other.dtype if isinstance(other, Tensor) else None)
                             or isinstance(other, bool)):
            raise LuminaTypeError(f"sub: subtraction with a bool tensor is not supported (as torch): "
                                  f"{a._value.type} - {b._value.type}; use ^ or logical_xor")
        if op in (Op.DIV, Op.POW) and not dt.is_float:
            dt = DType.float32 if op is Op.DIV else dt
        if dt is DType.bool and op in _BOOL_AS_LOGIC:     # torch: True + True is True, True * False False
            op = _BOOL_AS_LOGIC[op]
        return binary_op(op, a, b, dt, name)

    def __add__(self, o): return self._binary(Op.ADD, o)
    def __radd__(self, o): return self._binary(Op.ADD, o, True)
    def __sub__(self, o): return self._binary(Op.SUB, o)
    def __rsub__(self, o): return self._binary(Op.SUB, o, True)
    def __mul__(self, o): return self._binary(Op.MUL, o)
    def __rmul__(self, o): return self._binary(Op.MUL, o, True)
    def __truediv__(self, o): return self._binary(Op.DIV, o)
    def __rtruediv__(self, o): return self._binary(Op.DIV, o, True)

    def __pow__(self, o):
        if not self.dtype.is_float and isinstance(o, (int, np.integer)) and not isinstance(o, bool):
            return integer_power(self, int(o))
        if isinstance(o, (int, float)) and not isinstance(o, bool) and o == 2:
            return self * self
        if not self.dtype.is_float and not (isinstance(o, Tensor) and o.dtype.is_float) and not isinstance(o, float):
            raise LuminaTypeError(f"pow: integer powers of {self._value.type} are not supported; cast to float")
        return self._binary(Op.POW, o)

    def __rpow__(self, o): return self._binary(Op.POW, o, True)
    def __lt__(self, o): return self._binary(Op.LT, o)
    def __le__(self, o): return self._binary(Op.LE, o)
    def __gt__(self, o): return self._binary(Op.GT, o)
    def __ge__(self, o): return self._binary(Op.GE, o)
    def __eq__(self, o): return self._binary(Op.EQ, o)  # type: ignore[override]
    def __ne__(self, o): return self._binary(Op.NE, o)  # type: ignore[override]
    def __and__(self, o): return self._binary(Op.AND, o)
    def __or__(self, o): return self._binary(Op.OR, o)
    def __invert__(self): return self._unary(Op.NOT)
    def __neg__(self): return self._unary(Op.NEG)
    def __abs__(self): return self._unary(Op.ABS)

    def _unary(self, op: Op) -> Tensor:
        if self.dtype is DType.bool and op in (Op.NEG, Op.ABS):
            raise LuminaTypeError(f"{op.value}: not supported for bool tensors (as torch), got {self._value.type}; "
                                  "use ~ (logical not) or .long()")
        x = self
        if op in (Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.ERF) and not self.dtype.is_float:
            x = self.to(DType.float32)
        return Tensor._result(B.unary(op, x._touch()), self)

    def neg(self): return self._unary(Op.NEG)
    def abs(self): return self._unary(Op.ABS)
    def exp(self): return self._unary(Op.EXP)
    def log(self): return self._unary(Op.LOG)
    def sqrt(self): return self._unary(Op.SQRT)
    def sin(self): return self._unary(Op.SIN)
    def cos(self): return self._unary(Op.COS)
    def tanh(self): return self._unary(Op.TANH)
    def erf(self): return self._unary(Op.ERF)

    def sigmoid(self) -> Tensor:
        """``1 / (1 + e)`` for x >= 0 and ``e / (1 + e)`` below, with ``e = exp(-|x|)`` (one
        exponential and one division, which never overflow: ``e <= 1``). ``-|x|`` is written as
        ``where(x >= 0, -x, x)`` so that its gradient at 0 is -1, not ``abs``'s 0: sigmoid'(0) =
        1/4. NaN stays NaN; sigmoid(inf) = 1, sigmoid(-inf) = 0. 16-bit floats compute in float32."""
        if self.dtype.is_half:
            return self.to(DType.float32).sigmoid().to(self.dtype)
        x = self if self.dtype.is_float else self.to(DType.float32)
        pos = x >= 0.0
        e = where(pos, -x, x).exp()
        s = 1.0 / (1.0 + e)
        return where(pos, s, e * s)

    def relu(self) -> Tensor:
        """``torch.relu``: ``where(x <= 0, 0, x)``, so NaN passes through (with its gradient, as
        torch's ``threshold_backward``) and the subgradient at 0 is 0."""
        if self.dtype is DType.bool:
            raise LuminaTypeError(f"relu: bool inputs are not supported (as torch), got {self._value.type}")
        return where(self <= 0, 0.0 if self.dtype.is_float else 0, self)

    def gelu(self, approximate: str = "none") -> Tensor:
        """GELU (Hendrycks & Gimpel 2016): ``x * Phi(x)`` exactly via erf, or PyTorch's
        ``approximate="tanh"`` form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
        16-bit floats compute in float32 and round once, as PyTorch's CPU kernel."""
        if self.dtype.is_half:
            return self.to(DType.float32).gelu(approximate).to(self.dtype)
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (self + 0.044715 * self * self * self)
            return 0.5 * self * (1.0 + inner.tanh())
        if approximate != "none":
            raise LuminaValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return 0.5 * self * (1.0 + (self * (1 / math.sqrt(2))).erf())

    def clamp(self, min=None, max=None) -> Tensor:  # noqa: A002 (PyTorch's names)
        """``torch.clamp``: ``min(max(x, min), max)`` with scalar or broadcastable tensor bounds
        (None = no bound; when ``min > max`` the result is ``max``). A NaN in ``x`` or in a bound
        gives NaN. Gradients are torch's (``clamp_backward``, ``clamp_backward_min_max``): ``x``
        gets ``g`` where ``min <= x <= max``, ``min`` where ``x < min < max``, ``max`` where
        ``x > max`` or ``max < min``; none where the result is NaN. Raises LuminaValueError when
        both bounds are None."""
        if min is None and max is None:
            raise LuminaValueError(f"clamp: at least one of min and max must be given for {self._value.type}")
        if min is not None and max is not None and isinstance(min, Tensor) != isinstance(max, Tensor):
            raise LuminaTypeError(f"clamp: min and max must both be tensors or both numbers (as torch), got "
                                  f"{type(min).__name__} and {type(max).__name__} for {self._value.type}")
        dt = self.dtype
        for b in (min, max):
            if b is not None:
                dt = result_type(self, b, dt) if isinstance(b, Tensor) else scalar_result(dt, b)
        x = self.to(dt)
        lo = None if min is None else min.to(dt) if isinstance(min, Tensor) else const(min, dt)
        hi = None if max is None else max.to(dt) if isinstance(max, Tensor) else const(max, dt)
        # What is left where a NaN (in x or a bound) decides: NaN; integers have none.
        nan = const(math.nan, dt) if dt.is_float else (hi if hi is not None else lo)
        if hi is None:
            return where(x >= lo, x, where(x < lo, lo, nan))
        if lo is None:
            return where(x <= hi, x, where(x > hi, hi, nan))
        below = (x < lo) & (lo < hi)
        above = (x > hi) | (hi < lo)
        # Neither, without a NaN: x < lo == hi, whose value is hi with no gradient (as torch's
        # masks); with a NaN anywhere, NaN.
        some_nan = (x != x) | (lo != lo) | (hi != hi)
        rest = where(some_nan, nan, where(below, lo, where(above, hi, hi.detach())))
        return where((x >= lo) & (x <= hi), x, rest)

    clip = clamp
