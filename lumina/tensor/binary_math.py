"""Binary and ternary pointwise math as PyTorch 2.13's
(https://pytorch.org/docs/stable/torch.html#pointwise-ops): ``hypot``, ``logaddexp`` /
``logaddexp2``, ``xlogy``, ``copysign``, ``heaviside``, ``float_power``, ``lerp``, ``addcmul`` /
``addcdiv``, functions, Tensor methods and in-place methods, as decompositions into lumina's
primitives (gradients by autodiff, or torch's formula where the accurate value is computed without
history: ``hypot``).

Dtypes follow torch's promotion (``result_type``; a Python number is weak). Where torch's CPU
kernel has no integer version (``hypot``, ``logaddexp``, ``lerp``), an integer or bool input raises
LuminaTypeError; ``xlogy`` and ``copysign`` compute integers in float32; ``float_power`` always
computes and returns float64. Errors name the op and the operands' types.
"""
from __future__ import annotations

import math

from ..errors import LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType, scalar_result
from .core import Tensor
from .creation import const, tensor
from .elementwise import Scalar, maximum, minimum, where
from .inplace import update
from .pointwise import log1p
from .shapes import broadcast_shapes, result_type
from .special_math import signbit, tangent


def _tensor(x, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Scalar):
        return tensor(x)
    raise LuminaTypeError(f"{op}: expected a tensor or a number, got {type(x).__name__}")


def _common(op: str, a, b, to_float: bool = True, float_only: bool = False) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` as tensors of their promoted dtype (a Python number is weak), broadcast
    shapes checked; integers and bools promoted to float32 with ``to_float``, refused with
    ``float_only`` (torch's kernels without integer versions)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise LuminaTypeError(f"{op}: at least one operand must be a tensor, got {type(a).__name__} and "
                              f"{type(b).__name__}")
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        dt = result_type(a, b)
        broadcast_shapes(op, a._value.type, b._value.type)
    elif isinstance(a, Tensor):
        dt = scalar_result(a.dtype, _number(b, op))
    else:
        dt = scalar_result(b.dtype, _number(a, op))
    if not dt.is_float:
        if float_only:
            kinds = " and ".join(str(t._value.type) if isinstance(t, Tensor) else type(t).__name__ for t in (a, b))
            raise LuminaTypeError(f"{op}: not implemented for {dt.name} (as torch's CPU kernel): {kinds}")
        if to_float:
            dt = DType.float32
    x = a.to(dt) if isinstance(a, Tensor) else const(a, dt)
    y = b.to(dt) if isinstance(b, Tensor) else const(b, dt)
    return x, y


def _number(v, op: str):
    if not isinstance(v, Scalar):
        raise LuminaTypeError(f"{op}: expected a tensor or a number, got {type(v).__name__}")
    return v


def _needs_tensor(op: str, name: str, v) -> None:
    if not isinstance(v, Tensor):
        raise LuminaTypeError(f"{op}: argument '{name}' must be a Tensor, not {type(v).__name__} (as torch)")


def _in_float32(x: Tensor, y: Tensor, fn) -> Tensor:
    """``fn(x, y)``, 16-bit floats computed in float32 and rounded once."""
    if x.dtype.is_half:
        return fn(x.to(DType.float32), y.to(DType.float32)).to(x.dtype)
    return fn(x, y)


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``torch.hypot``: ``sqrt(x^2 + y^2)`` without overflow or underflow, as ``m sqrt(1 + (n/m)^2)``
    (``m``, ``n`` the larger and smaller magnitude); inf where either is infinite (even beside NaN,
    as C's hypot). Both operands are tensors of a float dtype (LuminaTypeError otherwise, as torch);
    the result has their promoted dtype and broadcast shape. Gradients are torch's ``g x / hypot``,
    ``g y / hypot`` (NaN at (0, 0)), but 0 for an infinite operand (torch: NaN)."""
    _needs_tensor("hypot", "other", other)
    x, y = _common("hypot", _tensor(input, "hypot"), other, float_only=True)

    def body(x: Tensor, y: Tensor) -> Tensor:
        xd, yd = x.detach().abs(), y.detach().abs()
        m, n = maximum(xd, yd), minimum(xd, yd)
        q = n / where(m == 0.0, 1.0, m)
        value = where(m == 0.0, 0.0, m * (1.0 + q * q).sqrt())
        value = where((xd == math.inf) | (yd == math.inf), math.inf, value)
        # torch's gradients x / hypot and y / hypot (NaN at (0, 0); 0 for an infinite operand,
        # where torch's is NaN)
        return where(value == math.inf, value, value + tangent(x, x.detach() / value) + tangent(y, y.detach() / value))
    return _in_float32(x, y, body)


def _logaddexp(op: str, input, other, base2: bool) -> Tensor:
    _needs_tensor(op, "other", other)
    x, y = _common(op, _tensor(input, op), other, float_only=True)

    def body(x: Tensor, y: Tensor) -> Tensor:
        m = maximum(x, y)
        same_inf = (x == y) & (x.abs() == math.inf)
        d = where(same_inf, 0.0, x - y).abs()
        tail = log1p(2.0 ** (-d)) * (1.0 / math.log(2.0)) if base2 else log1p((-d).exp())
        return where(same_inf, m, m + tail)
    return _in_float32(x, y, body)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``torch.logaddexp``: ``log(e^x + e^y)`` as ``max(x, y) + log1p(e^-|x - y|)`` (no overflow);
    equal infinities give themselves. Float tensors only (LuminaTypeError otherwise, as torch).
    Gradients ``g sigmoid(x - y)`` and ``g sigmoid(y - x)`` (half each at ties)."""
    return _logaddexp("logaddexp", input, other, base2=False)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """``torch.logaddexp2``: ``log2(2^x + 2^y)``; see ``logaddexp``."""
    return _logaddexp("logaddexp2", input, other, base2=True)


def xlogy(input, other) -> Tensor:
    """``torch.xlogy``: ``x * log(y)``, 0 where ``x == 0`` unless ``y`` is NaN (then NaN). Either
    operand may be a Python number; integers compute in float32. Gradients are torch's formulas:
    ``g log(y)`` for ``x`` (0 where ``x == 0`` and ``y <= 0``), ``g x / y`` for ``y``."""
    x, y = _common("xlogy", input, other)

    def body(x: Tensor, y: Tensor) -> Tensor:
        xd, yd = x.detach(), y.detach()
        zero = xd == 0.0
        ys = where(zero & (yd <= 0.0), 1.0, yd)
        value = where(yd != yd, yd, where(zero, 0.0, xd * ys.log()))
        # torch's gradients: log(y) (0 where x == 0 and y <= 0) and x / y (NaN at 0 / 0)
        return value + tangent(x, where(zero & (yd <= 0.0), 0.0, yd.log())) + tangent(y, xd / yd)
    return _in_float32(x, y, body)


def copysign(input, other) -> Tensor:
    """``torch.copysign``: ``|x|`` with the sign of ``y`` (-0.0 and -inf count as negative; a NaN
    ``y`` as positive, see ``signbit``). Integers and bools compute in float32. The gradient for
    ``x`` is torch's ``g * result / x`` (0 at ``x == 0``; at ``x = ±inf`` 0 where torch's is NaN);
    ``y`` gets none."""
    x, y = _common("copysign", input, other)

    def body(x: Tensor, y: Tensor) -> Tensor:
        shape = broadcast_shapes("copysign", x._value.type, y._value.type)
        neg = signbit(y.detach()).expand(shape)
        a = x.detach().abs()
        value = where(neg, -a, a)
        xd = x.detach()
        # torch's gradient: g * result / x, 0 at x == 0 (NaN at x = ±inf in torch; 0 here)
        return value + tangent(x, where(xd == 0.0, 0.0, value / where(xd == 0.0, 1.0, xd)))
    return _in_float32(x, y, body)


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """``torch.heaviside``: 0 where ``x < 0``, ``values`` where ``x == 0``, 1 where ``x > 0`` (and 0
    at NaN, as torch's kernel). ``input`` and ``values`` are tensors of one dtype (LuminaTypeError
    otherwise, as torch); not differentiable (torch has no derivative either: no gradient flows)."""
    _needs_tensor("heaviside", "values", values)
    x = _tensor(input, "heaviside")
    if x.dtype is not values.dtype:
        raise LuminaTypeError(f"heaviside: input and values must have the same dtype (as torch), got "
                              f"{x._value.type} and {values._value.type}")
    xd, vd = x.detach(), values.detach()
    one, zero = (True, False) if x.dtype is DType.bool else (1, 0)
    step = where(xd > zero, const(one, x.dtype), const(zero, x.dtype))
    return where(xd == zero, vd, step).to(x.dtype)


def float_power(input, exponent) -> Tensor:
    """``torch.float_power``: ``x ** y`` computed and returned in float64 (either operand may be a
    Python number). Gradients as ``pow``'s, in float64."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise LuminaTypeError(f"float_power: at least one operand must be a tensor, got {type(input).__name__} "
                              f"and {type(exponent).__name__}")
    x = input.to(DType.float64) if isinstance(input, Tensor) else const(float(_number(input, "float_power")),
                                                                       DType.float64)
    y = exponent.to(DType.float64) if isinstance(exponent, Tensor) else float(_number(exponent, "float_power"))
    return x ** y


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``torch.lerp``: ``start + weight (end - start)`` for ``weight < 0.5`` and ``end - (end -
    start)(1 - weight)`` otherwise (torch's formula, exact at both ends). ``start`` and ``end`` are
    float tensors of one dtype, ``weight`` a number or a tensor of that dtype (LuminaTypeError
    otherwise, as torch). Gradients by autodiff: ``1 - w``, ``w`` and ``end - start``."""
    _needs_tensor("lerp", "end", end)
    start = _tensor(input, "lerp")
    if not start.dtype.is_float:
        raise LuminaTypeError(f"lerp: not implemented for {start._value.type} (as torch: float dtypes only)")
    if end.dtype is not start.dtype:
        raise LuminaTypeError(f"lerp: expected dtype {start.dtype.name} for `end` but got {end._value.type}")
    if isinstance(weight, Tensor):
        if weight.dtype is not start.dtype:
            raise LuminaTypeError(f"lerp: expected dtype {start.dtype.name} for `weight` but got "
                                  f"{weight._value.type}")
        broadcast_shapes("lerp", start._value.type, end._value.type, weight._value.type)
    elif not isinstance(weight, Scalar):
        raise LuminaTypeError(f"lerp: weight must be a number or a tensor, got {type(weight).__name__}")

    def body(s: Tensor, e: Tensor, w) -> Tensor:
        diff = e - s
        if not isinstance(w, Tensor):
            return s + w * diff if abs(w) < 0.5 else e - diff * (1.0 - w)
        return where(w.abs() < 0.5, s + w * diff, e - diff * (1.0 - w))
    if start.dtype.is_half:
        w = weight.to(DType.float32) if isinstance(weight, Tensor) else weight
        return body(start.to(DType.float32), end.to(DType.float32), w).to(start.dtype)
    return body(start, end, weight)


def _addc(op: str, input: Tensor, tensor1: Tensor, tensor2: Tensor, value, divide: bool) -> Tensor:
    for name, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        _needs_tensor(op, name, t)
    if not isinstance(value, Scalar):
        raise LuminaTypeError(f"{op}: value must be a number, got {type(value).__name__}")
    shape = broadcast_shapes(op, input._value.type, tensor1._value.type, tensor2._value.type)
    dt = result_type(input, tensor2, result_type(input, tensor1))
    if divide and not result_type(tensor1, tensor2).is_float:
        raise LuminaTypeError(f"{op}: integer division with addcdiv is not supported (as torch): "
                              f"{tensor1._value.type} / {tensor2._value.type}; use true division or cast")
    if isinstance(value, float) and not dt.is_float:
        value = math.trunc(value)     # torch casts value to the integer result type
    if isinstance(value, bool) is False and isinstance(value, int) and dt is DType.bool and value not in (0, 1):
        raise LuminaValueError(f"{op}: value {value} can't be converted to bool without overflow")
    a, b, c = input.to(dt), tensor1.to(dt), tensor2.to(dt)
    prod = b / c if divide else b * c
    return (a + value * prod).expand(shape)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``torch.addcmul``: ``input + value * tensor1 * tensor2``, broadcast, in the promoted dtype
    of the three (a float ``value`` with an integer result is truncated to an integer, as torch's)."""
    return _addc("addcmul", input, tensor1, tensor2, value, divide=False)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``torch.addcdiv``: ``input + value * tensor1 / tensor2``; integer ``tensor1`` and ``tensor2``
    raise LuminaTypeError (torch: integer division with addcdiv is no longer supported)."""
    return _addc("addcdiv", input, tensor1, tensor2, value, divide=True)


class BinaryMathMethods:
    """``Tensor``'s methods of this module and their in-place forms (the package copies them)."""

    def hypot(self, other) -> Tensor: return hypot(self, other)
    def logaddexp(self, other) -> Tensor: return logaddexp(self, other)
    def logaddexp2(self, other) -> Tensor: return logaddexp2(self, other)
    def xlogy(self, other) -> Tensor: return xlogy(self, other)
    def copysign(self, other) -> Tensor: return copysign(self, other)
    def heaviside(self, values) -> Tensor: return heaviside(self, values)
    def float_power(self, exponent) -> Tensor: return float_power(self, exponent)
    def lerp(self, end, weight) -> Tensor: return lerp(self, end, weight)
    def addcmul(self, tensor1, tensor2, *, value=1) -> Tensor: return addcmul(self, tensor1, tensor2, value=value)
    def addcdiv(self, tensor1, tensor2, *, value=1) -> Tensor: return addcdiv(self, tensor1, tensor2, value=value)

    def hypot_(self, other) -> Tensor:
        return update(self, "hypot_", lambda: hypot(self, other), (other,))

    def xlogy_(self, other) -> Tensor:
        return update(self, "xlogy_", lambda: xlogy(self, other), (other,))

    def copysign_(self, other) -> Tensor:
        return update(self, "copysign_", lambda: copysign(self, other), (other,))

    def heaviside_(self, values) -> Tensor:
        return update(self, "heaviside_", lambda: heaviside(self, values), (values,))

    def lerp_(self, end, weight) -> Tensor:
        return update(self, "lerp_", lambda: lerp(self, end, weight), (end, weight))

    def addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return update(self, "addcmul_", lambda: addcmul(self, tensor1, tensor2, value=value), (tensor1, tensor2))

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return update(self, "addcdiv_", lambda: addcdiv(self, tensor1, tensor2, value=value), (tensor1, tensor2))

    def float_power_(self, exponent) -> Tensor:
        """``torch.Tensor.float_power_``: only a float64 tensor can hold the result (LuminaTypeError
        otherwise, as torch)."""
        if self.dtype is not DType.float64:
            raise LuminaTypeError(f"float_power_: the base has dtype {self.dtype.name} but the result requires "
                                  f"float64 (as torch): {self._value.type}")
        return update(self, "float_power_", lambda: float_power(self, exponent), (exponent,))
