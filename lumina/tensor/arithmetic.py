"""Arithmetic under torch's function names and keywords: ``add`` / ``sub`` (``alpha``), ``mul``,
``div`` (``rounding_mode``), ``pow``, ``floor_divide``, ``remainder`` (Python's ``%``: the sign of
the divisor) and ``fmod`` (C's ``fmod``: the sign of the dividend), as PyTorch 2.13's
(https://pytorch.org/docs/stable/torch.html#pointwise-ops). Each is a decomposition into the
operators of ``elementwise`` and the rounding of ``rounding``.

Floats follow torch's CPU kernels: ``div(..., rounding_mode="trunc")`` is ``trunc(a / b)``;
``remainder`` and the floor division are derived from ``fmod`` as torch derives them
(``div_floor_floating``): ``mod = fmod(a, b)``, moved by ``b`` when its sign differs from ``b``'s.
A zero divisor gives NaN / inf as IEEE division does. ``fmod`` of float16 / bfloat16 / float32
is computed in float64 as ``a - trunc(a / b) * b`` with the product split exactly (Dekker), so it is
exact while ``|a / b| < 2**53`` (C's fmod is exact everywhere; lumina has no integer-exact float
remainder beyond that).

Integers divide exactly (truncating, then corrected toward the floor). A zero integer divisor is
torch's ``RuntimeError: ZeroDivisionError``: LuminaValueError when the divisor's values are known
as the op is recorded (a Python 0, a realised tensor), else LuminaIndexError (a LuminaValueError)
raised after the kernel that meets it runs (a ``check_index`` node). Bool operands of the floor
division and the remainders raise LuminaTypeError, as torch's (not implemented for 'Bool').

Gradients: ``fmod(a, b)`` and ``remainder(a, b)`` are ``a - q * b`` with a constant quotient ``q``
(``d/da = 1``, ``d/db = -q``; ``q`` is ``trunc(a / b)`` resp. the floor division, torch's formulas),
except that where ``a``, ``b`` or ``q`` is not finite lumina's gradient is 0 (torch's is g for ``a``
and inf / NaN for ``b``); the rounded divisions have zero gradient.
"""
from __future__ import annotations

import numpy as np

from ..errors import LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType, scalar_result
from ..ir.graph import emit
from ..ir.ops import Op
from ..tracing import STOP_GRAD
from .core import Tensor
from .creation import tensor
from .elementwise import Scalar, binary_op, where
from .indexing import RUN_TIME_CHECKS, known_values
from .rounding import floor, trunc
from .shapes import result_type

_ROUNDING_MODES = (None, "trunc", "floor")


def _as_tensor(x, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (*Scalar, np.ndarray, np.generic, list)):
        return tensor(x)
    raise LuminaTypeError(f"{op}: expected a tensor or a number, got {type(x).__name__}")


def _operands(input, other, op: str) -> tuple[Tensor, Tensor, DType]:
    """``input`` and ``other`` as tensors of their promoted dtype (a Python number is weak)."""
    a = _as_tensor(input, op)
    if isinstance(other, Tensor):
        dt = result_type(a, other)
        b = other
    elif isinstance(other, Scalar):
        dt = scalar_result(a.dtype, other)
        b = tensor(other, dtype=dt)
    else:
        b = _as_tensor(other, op)
        dt = result_type(a, b)
    return a.to(dt), b.to(dt), dt


def _check_alpha(alpha, dt: DType, op: str) -> None:
    if isinstance(alpha, bool) and dt is not DType.bool:
        raise LuminaTypeError(f"{op}: a bool alpha is only supported for bool results (as torch), got {dt}")
    if isinstance(alpha, float) and not dt.is_float:
        raise LuminaTypeError(f"{op}: for integral input tensors, alpha must not be a floating point number "
                              f"(as torch), got alpha={alpha} for {dt}")
    if not isinstance(alpha, (int, float)):
        raise LuminaTypeError(f"{op}: alpha must be a number, got {type(alpha).__name__}")


def add(input, other, *, alpha=1) -> Tensor:
    """``torch.add``: ``input + alpha * other``, broadcast, with torch's type promotion (bool + bool
    is or). torch's CPU kernel fuses the multiply-add for floats; lumina rounds ``alpha * other``
    first, so an ``alpha`` that is not a power of two may differ from torch's in the last bit. ``alpha`` must
    be an integer for integer results and a bool only for bool results
    (LuminaTypeError otherwise, as torch)."""
    a = _as_tensor(input, "add")
    if type(alpha) is int and alpha == 1:
        return a + other
    dt = result_type(a, other) if isinstance(other, Tensor) else scalar_result(a.dtype, other)
    _check_alpha(alpha, dt, "add")
    return a + other * alpha


def sub(input, other, *, alpha=1) -> Tensor:
    """``torch.sub``: ``input - alpha * other``; see ``add`` (bool operands raise LuminaTypeError,
    as torch's subtraction)."""
    a = _as_tensor(input, "sub")
    if type(alpha) is int and alpha == 1:
        return a - other
    dt = result_type(a, other) if isinstance(other, Tensor) else scalar_result(a.dtype, other)
    _check_alpha(alpha, dt, "sub")
    return a - other * alpha


def mul(input, other) -> Tensor:
    """``torch.mul``: ``input * other``, broadcast (bool * bool is and)."""
    return _as_tensor(input, "mul") * other


def _nonzero_divisor(b: Tensor, op: str, a: Tensor) -> Tensor:
    """An integer divisor with no zero in it: LuminaValueError now if a zero is known, else a
    run-time check (see the module docstring); the zeros read as 1 so nothing traps meanwhile."""
    vals = known_values(b)
    message = f"{op}: ZeroDivisionError: integer division by zero ({a._value.type} by {b._value.type}, as torch)"
    if vals is not None:
        if (np.asarray(vals) == 0).any():
            raise LuminaValueError(message)
        return b
    zero = b == 0
    safe = where(zero, 1, b)
    if not RUN_TIME_CHECKS or b.numel() == 0:
        return safe
    flag = zero.to(DType.int64)
    checked = Tensor._result(emit(Op.CHECK_INDEX, (flag._touch(),), size=1, low=0, message=message), flag)
    return safe + checked.to(b.dtype)      # checked is 0 wherever the kernel goes on


def _int_trunc_div(a: Tensor, b: Tensor, op: str) -> tuple[Tensor, Tensor]:
    """(truncated quotient, safe divisor) of integers."""
    b = _nonzero_divisor(b, op, a)
    return binary_op(Op.DIV, a, b, a.dtype, op), b


def _two_product_error(q: Tensor, y: Tensor, p: Tensor) -> Tensor:
    """``q * y - p`` exactly, for ``p = q * y`` rounded (Dekker's product, float64 halves of 26 bits)."""
    def split(v):
        c = v * 134217729.0          # 2**27 + 1
        hi = c - (c - v)
        return hi, v - hi
    qh, ql = split(q)
    yh, yl = split(y)
    return ((qh * yh - p) + qh * yl + ql * yh) + ql * yl


def _fmod_float64(x: Tensor, y: Tensor) -> Tensor:
    """C's ``fmod`` of float64 tensors: ``x - trunc(x / y) * y`` with the product split exactly,
    so the result is exact while ``|x / y| < 2**53`` (a rounded-up quotient is corrected by one)."""
    q = trunc(x / y)
    p = q * y
    r = (x - p) - _two_product_error(q, y, p)
    r = where((r != 0.0) & ((r < 0.0) != (x < 0.0)), r + where((x < 0.0) == (y < 0.0), y, -y), r)
    r = where(r == 0.0, x * 0.0, r)                                  # the zero takes x's sign
    return where(y.abs() == float("inf"), where(x.abs() == float("inf"), float("nan"), x), r)


def _with_gradient(value: Tensor, a: Tensor, b: Tensor, q: Tensor) -> Tensor:
    """``value`` with the gradient of ``a - q * b`` for a constant ``q`` (torch's formulas for fmod
    and remainder), where ``a``, ``b`` and ``q`` are finite; zero elsewhere (torch: inf / NaN)."""
    if not (a.requires_grad or b.requires_grad):
        return value
    finite = (a.abs() < float("inf")) & (b.abs() < float("inf")) & (q.abs() < float("inf"))
    q_safe = where(finite, q, 0.0)
    a_safe, b_safe = where(finite, a, 0.0), where(finite, b, 0.0)
    # -0.0 with the gradient: adding -0.0 keeps both signs of a zero value (x - x and y + 0.0 are +0.0)
    linear = -((a_safe.detach() - a_safe) + ((b_safe - b_safe.detach()) * q_safe + 0.0))
    return value + linear


def fmod(input, other) -> Tensor:
    """``torch.fmod``: ``a - trunc(a / b) * b``, the remainder with the sign of the dividend (C's
    ``fmod``): NaN where ``b`` is 0 or ``a`` infinite, ``a`` where ``b`` is infinite and ``a``
    finite; a zero result takes ``a``'s sign. Same dtype as the promoted operands. Computed in
    float64 (exact while ``|a / b| < 2**53``; beyond, unlike C's, it is not). Gradients: ``g`` for
    ``a``, ``-g * trunc(a / b)`` for ``b`` (torch's), zero at non-finite inputs or quotients."""
    a, b, dt = _operands(input, other, "fmod")
    if dt is DType.bool:
        raise LuminaTypeError(f"fmod: not implemented for bool (as torch): {a._value.type}, {b._value.type}")
    if not dt.is_float:
        q, safe = _int_trunc_div(a, b, "fmod")
        return a - q * safe
    x, y = a.detach(), b.detach()
    value = _fmod_float64(x.to(DType.float64), y.to(DType.float64)).to(dt)
    return _with_gradient(value, a, b, trunc(x / y) if a.requires_grad or b.requires_grad else x)


def _remainder_of(mod: Tensor, b: Tensor) -> Tensor:
    return where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)


def remainder(input, other) -> Tensor:
    """``torch.remainder``: Python's ``a % b``, the remainder with the sign of the divisor:
    ``fmod(a, b)``, plus ``b`` where that is nonzero and its sign differs from ``b``'s (torch's
    kernel). NaN where ``b`` is 0 (floats); integer zero divisors raise (module docstring).
    Gradients: ``g`` for ``a``, ``-g * floor_divide(a, b)`` for ``b`` (torch's); see ``fmod``."""
    a, b, dt = _operands(input, other, "remainder")
    if dt is DType.bool:
        raise LuminaTypeError(f"remainder: not implemented for bool (as torch): {a._value.type}, {b._value.type}")
    if not dt.is_float:
        return _remainder_of(fmod(a, b), b)
    x, y = a.detach(), b.detach()
    value = _remainder_of(fmod(x, y), y)
    return _with_gradient(value, a, b, _floor_div(x, y, "remainder") if a.requires_grad or b.requires_grad else x)


def _floor_div(a: Tensor, b: Tensor, op: str) -> Tensor:
    dt = a.dtype
    if dt is DType.bool:
        raise LuminaTypeError(f"{op}: floor division is not implemented for bool (as torch): "
                              f"{a._value.type}, {b._value.type}")
    if not dt.is_float:
        q, safe = _int_trunc_div(a, b, op)
        return where((q * safe != a) & ((a < 0) != (safe < 0)), q - 1, q)
    # torch's div_floor_floating: from fmod, so the quotient is exact where a / b would round.
    x, y = a.detach(), b.detach()
    mod = fmod(x, y)
    div = (x - mod) / y
    div = where((mod != 0.0) & ((y < 0.0) != (mod < 0.0)), div - 1.0, div)
    fl = floor(div)
    fl = where(div - fl > 0.5, fl + 1.0, fl)
    fl = where(div == 0.0, (x / y) * 0.0, fl)     # a zero quotient takes x / y's sign
    return _constant(where(y == 0.0, x / y, fl), a, b)


def _constant(value: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``value`` as a result of ``a`` and ``b`` with zero gradient (torch's rounded divisions): it
    requires grad when they do (see ``rounding._constant_of``)."""
    if not (a.requires_grad or b.requires_grad):
        return value
    v = emit(Op.RESHAPE, (value.detach()._touch(),), shape=value.shape)
    STOP_GRAD.add(v)
    return Tensor._result(v, a, b)


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """``torch.div``: true division (integers promote to float32) or, with ``rounding_mode``,
    ``"trunc"`` (toward zero) / ``"floor"`` (toward -inf) in the promoted dtype. Raises
    LuminaValueError for another ``rounding_mode``; see the module docstring for zero divisors."""
    if rounding_mode not in _ROUNDING_MODES:
        raise LuminaValueError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                               f"{rounding_mode!r} (as torch)")
    if rounding_mode is None:
        return _as_tensor(input, "div") / other
    a, b, dt = _operands(input, other, "div")
    if rounding_mode == "floor":
        return _floor_div(a, b, "div")
    if dt is DType.bool:
        raise LuminaTypeError("div: rounding_mode='trunc' is not implemented for bool (as torch)")
    if not dt.is_float:
        return _int_trunc_div(a, b, "div")[0]
    return trunc(a / b)      # a rounding result: zero gradient


def floor_divide(input, other) -> Tensor:
    """``torch.floor_divide``: ``div(input, other, rounding_mode="floor")`` (Python's ``//``)."""
    a, b, _ = _operands(input, other, "floor_divide")
    return _floor_div(a, b, "floor_divide")


def pow(input, exponent) -> Tensor:  # noqa: A001 (torch's name)
    """``torch.pow``: ``input ** exponent`` (either may be a number); integer tensors to
    non-negative integer powers are exact, as torch's."""
    if not isinstance(input, Tensor):
        return _as_tensor(exponent, "pow").__rpow__(input)
    return input ** exponent


class ArithmeticMethods:
    """``Tensor``'s arithmetic under torch's names (the package copies these onto ``Tensor``)."""

    def add(self, other, *, alpha=1) -> Tensor:
        """``torch.Tensor.add``; see ``add``."""
        return add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1) -> Tensor:
        """``torch.Tensor.sub``; see ``sub``."""
        return sub(self, other, alpha=alpha)

    def mul(self, other) -> Tensor:
        """``torch.Tensor.mul``; see ``mul``."""
        return mul(self, other)

    def div(self, other, *, rounding_mode: str | None = None) -> Tensor:
        """``torch.Tensor.div``; see ``div``."""
        return div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent) -> Tensor:
        """``torch.Tensor.pow``; see ``pow``."""
        return pow(self, exponent)

    def fmod(self, other) -> Tensor:
        """``torch.Tensor.fmod``; see ``fmod``."""
        return fmod(self, other)

    def remainder(self, other) -> Tensor:
        """``torch.Tensor.remainder``; see ``remainder``."""
        return remainder(self, other)

    def floor_divide(self, other) -> Tensor:
        """``torch.Tensor.floor_divide``; see ``floor_divide``."""
        return floor_divide(self, other)
