"""torch's other names for lumina's ops, and the comparisons under their function names: thin
wrappers, each one line over the op it names, with torch 2.13's signatures
(https://pytorch.org/docs/stable/torch.html#comparison-ops and the alias notes of each page).

    eq ne lt le gt ge              the comparison operators ``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``
    greater less greater_equal less_equal not_equal    torch's aliases of gt lt ge le ne
    divide multiply subtract true_divide               div mul sub (true_divide is div)
    negative absolute fix          neg abs trunc
    arcsinh arccosh arctanh        asinh acosh atanh (and the in-place methods arcsinh_ ...)
    swapaxes swapdims              transpose
    concat concatenate             cat
    broadcast_to                   Tensor.broadcast_to
    isclose allclose equal is_nonzero
    as_tensor asarray scalar_tensor    ``tensor`` with torch's conversion rules
    square clamp_min clamp_max select  ``x * x``, ``clamp`` with one bound, ``x[..., index]``
    clamp_ clip_ fill_ zero_ index_put_    torch's function forms of the in-place methods
    Tensor.divide_ multiply_ subtract_ true_divide_ negative_ fix_ clamp_min_ clamp_max_
                                   the in-place methods of the aliases (``copy_`` of the result
                                   where the target has no in-place method and saves nothing)

Each returns what its target returns: the same dtype promotion, the same broadcasting, the same
errors (LuminaError subclasses naming the target op). ``allclose``, ``equal`` and ``is_nonzero``
return Python bools, so they realise their inputs and raise LuminaTraceError inside
``@lumina.compile`` (as ``Tensor.item()``).
"""
from __future__ import annotations

from ..errors import LuminaIndexError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from .arithmetic import _as_tensor, div, mul, sub
from .core import Tensor
from .creation import tensor
from .movement import cat
from .pointwise import isfinite, isnan
from .rounding import trunc


def eq(input, other) -> Tensor:
    """``torch.eq``: ``input == other`` elementwise, broadcast, a bool tensor (NaN equals nothing)."""
    return _as_tensor(input, "eq") == other


def ne(input, other) -> Tensor:
    """``torch.ne``: ``input != other`` elementwise, broadcast, a bool tensor (NaN differs from all)."""
    return _as_tensor(input, "ne") != other


def lt(input, other) -> Tensor:
    """``torch.lt``: ``input < other`` elementwise, broadcast, a bool tensor (False where NaN)."""
    return _as_tensor(input, "lt") < other


def le(input, other) -> Tensor:
    """``torch.le``: ``input <= other`` elementwise, broadcast, a bool tensor (False where NaN)."""
    return _as_tensor(input, "le") <= other


def gt(input, other) -> Tensor:
    """``torch.gt``: ``input > other`` elementwise, broadcast, a bool tensor (False where NaN)."""
    return _as_tensor(input, "gt") > other


def ge(input, other) -> Tensor:
    """``torch.ge``: ``input >= other`` elementwise, broadcast, a bool tensor (False where NaN)."""
    return _as_tensor(input, "ge") >= other


greater, less, greater_equal, less_equal, not_equal = gt, lt, ge, le, ne


def divide(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """``torch.divide``: ``div``."""
    return div(input, other, rounding_mode=rounding_mode)


def true_divide(input, other) -> Tensor:
    """``torch.true_divide``: ``div`` with no rounding (integers divide to floats)."""
    return div(input, other)


def multiply(input, other) -> Tensor:
    """``torch.multiply``: ``mul``."""
    return mul(input, other)


def subtract(input, other, *, alpha=1) -> Tensor:
    """``torch.subtract``: ``sub``."""
    return sub(input, other, alpha=alpha)


def negative(input) -> Tensor:
    """``torch.negative``: ``neg``."""
    return _as_tensor(input, "negative").neg()


def absolute(input) -> Tensor:
    """``torch.absolute``: ``abs``."""
    return _as_tensor(input, "absolute").abs()


def fix(input) -> Tensor:
    """``torch.fix``: ``trunc``."""
    return trunc(_as_tensor(input, "fix"))


def arcsinh(input) -> Tensor:
    """``torch.arcsinh``: ``asinh``."""
    return _as_tensor(input, "arcsinh").asinh()


def arccosh(input) -> Tensor:
    """``torch.arccosh``: ``acosh``."""
    return _as_tensor(input, "arccosh").acosh()


def arctanh(input) -> Tensor:
    """``torch.arctanh``: ``atanh``."""
    return _as_tensor(input, "arctanh").atanh()


def swapaxes(input, axis0: int, axis1: int) -> Tensor:
    """``torch.swapaxes``: ``transpose`` (NumPy's name)."""
    return _as_tensor(input, "swapaxes").transpose(axis0, axis1)


def swapdims(input, dim0: int, dim1: int) -> Tensor:
    """``torch.swapdims``: ``transpose``."""
    return _as_tensor(input, "swapdims").transpose(dim0, dim1)


def concat(tensors, dim: int = 0) -> Tensor:
    """``torch.concat``: ``cat``."""
    return cat(tensors, dim)


def concatenate(tensors, dim: int = 0) -> Tensor:
    """``torch.concatenate``: ``cat`` (NumPy's name)."""
    return cat(tensors, dim)


def broadcast_to(input, size) -> Tensor:
    """``torch.broadcast_to``: ``input.broadcast_to(size)`` (``expand``; -1 keeps a dim)."""
    return _as_tensor(input, "broadcast_to").broadcast_to(size)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """``torch.isclose``: ``|input - other| <= atol + rtol * |other|`` elementwise, broadcast, a
    bool tensor; equal values (infinities included) are close, NaN only to NaN with ``equal_nan``.
    As torch's kernel, integer and bool operands are equal or not as they are, but their errors
    are computed in the default float dtype (float32), so no difference overflows. Raises
    LuminaTypeError when the dtypes differ, LuminaValueError for a negative ``rtol`` or ``atol``
    (as torch).
    https://pytorch.org/docs/stable/generated/torch.isclose.html"""
    a, b = _as_tensor(input, "isclose"), _as_tensor(other, "isclose")
    if a.dtype is not b.dtype:
        raise LuminaTypeError(f"isclose: expected both inputs to have the same dtype, got {a._value.type} and "
                              f"{b._value.type}")
    if rtol < 0 or atol < 0:
        raise LuminaValueError(f"isclose: rtol and atol must be greater than or equal to zero, got rtol={rtol}, "
                               f"atol={atol}")
    close = a == b
    if equal_nan and a.dtype.is_float:
        close = close | (isnan(a) & isnan(b))
    if rtol == 0 and atol == 0:
        return close
    if not a.dtype.is_float:
        a, b = a.to(DType.float32), b.to(DType.float32)   # torch's default dtype
    allowed = (b * rtol).abs() + atol
    actual = (a - b).abs()
    return close | (isfinite(actual) & (actual <= allowed))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """``torch.allclose``: whether ``isclose`` holds everywhere (a Python bool; realises its inputs,
    so LuminaTraceError inside ``@lumina.compile``). Errors as ``isclose``."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input, other) -> bool:
    """``torch.equal``: True if both have the same shape and equal elements (NaN is never equal),
    compared after torch's type promotion; a Python bool (realises, so LuminaTraceError inside
    ``@lumina.compile``). Raises LuminaTypeError for a non-tensor argument.
    https://pytorch.org/docs/stable/generated/torch.equal.html"""
    for name, v in (("input", input), ("other", other)):
        if not isinstance(v, Tensor):
            raise LuminaTypeError(f"equal: {name} must be a Tensor, got {type(v).__name__}")
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool((input == other).all().item())


def is_nonzero(input) -> bool:
    """``torch.is_nonzero``: whether a one-element tensor is not zero (``bool(input)``), a Python
    bool (realises; LuminaTraceError inside ``@lumina.compile``). Raises LuminaValueError for
    more or fewer than one element, LuminaTypeError for a non-tensor (as torch)."""
    if not isinstance(input, Tensor):
        raise LuminaTypeError(f"is_nonzero: input must be a Tensor, got {type(input).__name__}")
    if input.numel() != 1:
        what = "no values" if input.numel() == 0 else "more than one value"
        raise LuminaValueError(f"is_nonzero: Boolean value of Tensor with {what} is ambiguous: {input._value.type}")
    return bool(input.item())


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``torch.as_tensor``: ``data`` itself when it is a lumina tensor of that dtype and device
    (else ``data.to(dtype, device)``, which keeps its graph); other data (arrays, lists, numbers)
    as ``lumina.tensor`` makes it (a copy: ``lumina.from_numpy`` shares a NumPy array's memory)."""
    if isinstance(data, Tensor):
        out = data if dtype is None else data.to(dtype)
        return out if device is None else out.to(device)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None) -> Tensor:
    """``torch.asarray``: ``as_tensor`` with ``copy`` (True: always a new tensor; False: never
    copy, so LuminaValueError where the data must be converted or is not a lumina tensor) and
    ``requires_grad`` (None: a tensor's own flag, else False)."""
    if copy is False:
        if not isinstance(obj, Tensor) or (dtype is not None and obj.dtype is not dtype):
            raise LuminaValueError(f"asarray: copy=False, but {type(obj).__name__} data cannot be used without a copy "
                                   "(lumina aliases lumina tensors only, of the same dtype)")
    out = as_tensor(obj, dtype, device)
    if copy and out is obj:
        out = obj.clone()
    if requires_grad is not None and requires_grad != out.requires_grad:
        out = (out.detach() if not requires_grad else out).requires_grad_(requires_grad)
    return out


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.scalar_tensor``: a 0-d tensor of the number ``s``, float32 (torch's default dtype)
    unless ``dtype`` is given, whatever the type of ``s``."""
    if isinstance(s, Tensor):
        s = s.item()
    dt = DType.float32 if dtype is None else dtype
    if dt is DType.bool:
        s = bool(s)   # as torch: any nonzero number, NaN and infinities included, is True
    return tensor(s, dtype=dt, device=device, requires_grad=requires_grad)


def square(input) -> Tensor:
    """``torch.square``: ``input * input``, torch's ``pow(input, 2)``: the input's dtype (bool
    squares to int64, as torch). The gradient is ``x g + x g``; torch's ``(2 x) g`` overflows where
    ``2 x`` does, though the product may be finite (lumina's is then)."""
    x = _as_tensor(input, "square")
    if x.dtype is DType.bool:
        x = x.to(DType.int64)
    return x * x


def clamp_min(input, min) -> Tensor:  # noqa: A002 (torch's name)
    """``torch.clamp_min``: ``clamp(input, min=min)`` (a number or a tensor; NaN propagates)."""
    return _as_tensor(input, "clamp_min").clamp(min, None)


def clamp_max(input, max) -> Tensor:  # noqa: A002 (torch's name)
    """``torch.clamp_max``: ``clamp(input, max=max)``."""
    return _as_tensor(input, "clamp_max").clamp(None, max)


def select(input, dim: int, index: int) -> Tensor:
    """``torch.select``: ``input[..., index, ...]`` with ``index`` at ``dim``, dropping that dim (a
    view). Raises LuminaIndexError for a 0-d input, a dim or an index out of range (as torch)."""
    x = _as_tensor(input, "select")
    if x.ndim == 0:
        raise LuminaIndexError(f"select: cannot be applied to a 0-dim tensor ({x._value.type})")
    d = x._axes(dim, "select")[0]
    if isinstance(index, bool) or not isinstance(index, int):
        raise LuminaTypeError(f"select: index must be an int, got {index!r}")
    if not -x.shape[d] <= index < x.shape[d]:
        raise LuminaIndexError(f"select: index {index} out of range for tensor of size {list(x.shape)} at "
                               f"dimension {dim}")
    return x[(slice(None),) * d + (index,)]


def _updated(input, op: str) -> Tensor:
    """The tensor an in-place function updates (LuminaTypeError for anything else)."""
    if not isinstance(input, Tensor):
        raise LuminaTypeError(f"{op}: input must be a Tensor to update in place, got {type(input).__name__}")
    return input


def clamp_(input, min=None, max=None) -> Tensor:  # noqa: A002 (torch's names)
    """``torch.clamp_``: ``input.clamp_(min, max)``, in place; returns ``input``. These in-place
    functions raise what their methods raise, and LuminaTypeError for a non-tensor ``input``."""
    return _updated(input, "clamp_").clamp_(min, max)


def clip_(input, min=None, max=None) -> Tensor:  # noqa: A002
    """``torch.clip_``: ``input.clip_(min, max)``."""
    return _updated(input, "clip_").clip_(min, max)


def fill_(input, value) -> Tensor:
    """``torch.fill_``: ``input.fill_(value)``, in place; returns ``input``."""
    return _updated(input, "fill_").fill_(value)


def zero_(input) -> Tensor:
    """``torch.zero_``: ``input.zero_()``, in place; returns ``input``."""
    return _updated(input, "zero_").zero_()


def index_put_(input, indices, values, accumulate: bool = False) -> Tensor:
    """``torch.index_put_``: ``input.index_put_(indices, values, accumulate)``."""
    return _updated(input, "index_put_").index_put_(indices, values, accumulate)


class FunctionMethods:
    """The Tensor methods of torch's aliases and comparisons (see the module docstring)."""

    def eq(self, other) -> Tensor: return eq(self, other)
    def ne(self, other) -> Tensor: return ne(self, other)
    def lt(self, other) -> Tensor: return lt(self, other)
    def le(self, other) -> Tensor: return le(self, other)
    def gt(self, other) -> Tensor: return gt(self, other)
    def ge(self, other) -> Tensor: return ge(self, other)
    def greater(self, other) -> Tensor: return gt(self, other)
    def less(self, other) -> Tensor: return lt(self, other)
    def greater_equal(self, other) -> Tensor: return ge(self, other)
    def less_equal(self, other) -> Tensor: return le(self, other)
    def not_equal(self, other) -> Tensor: return ne(self, other)

    def divide(self, other, *, rounding_mode: str | None = None) -> Tensor:
        return div(self, other, rounding_mode=rounding_mode)

    def true_divide(self, other) -> Tensor: return div(self, other)
    def multiply(self, other) -> Tensor: return mul(self, other)
    def subtract(self, other, *, alpha=1) -> Tensor: return sub(self, other, alpha=alpha)
    def negative(self) -> Tensor: return self.neg()
    def absolute(self) -> Tensor: return self.abs()
    def fix(self) -> Tensor: return trunc(self)
    def divide_(self, other, *, rounding_mode: str | None = None) -> Tensor:
        return self.div_(other, rounding_mode=rounding_mode)

    def true_divide_(self, other) -> Tensor: return self.div_(other)
    def multiply_(self, other) -> Tensor: return self.mul_(other)
    def subtract_(self, other, *, alpha=1) -> Tensor: return self.sub_(other, alpha=alpha)
    def negative_(self) -> Tensor: return self.copy_(self.neg())
    def fix_(self) -> Tensor: return self.copy_(trunc(self))
    def clamp_min_(self, min) -> Tensor: return self.clamp_(min, None)  # noqa: A002
    def clamp_max_(self, max) -> Tensor: return self.clamp_(None, max)  # noqa: A002
    def arcsinh(self) -> Tensor: return self.asinh()
    def arccosh(self) -> Tensor: return self.acosh()
    def arctanh(self) -> Tensor: return self.atanh()
    def arcsinh_(self) -> Tensor: return self.asinh_()
    def arccosh_(self) -> Tensor: return self.acosh_()
    def arctanh_(self) -> Tensor: return self.atanh_()
    def swapaxes(self, axis0: int, axis1: int) -> Tensor: return self.transpose(axis0, axis1)
    def swapdims(self, dim0: int, dim1: int) -> Tensor: return self.transpose(dim0, dim1)

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        return isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return allclose(self, other, rtol, atol, equal_nan)

    def square(self) -> Tensor: return square(self)
    def clamp_min(self, min) -> Tensor: return clamp_min(self, min)  # noqa: A002
    def clamp_max(self, max) -> Tensor: return clamp_max(self, max)  # noqa: A002
    def select(self, dim: int, index: int) -> Tensor: return select(self, dim, index)
    def equal(self, other) -> bool: return equal(self, other)
    def is_nonzero(self) -> bool: return is_nonzero(self)


__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal",
           "divide", "true_divide", "multiply", "subtract", "negative", "absolute", "fix", "swapaxes", "swapdims",
           "concat", "concatenate", "broadcast_to", "isclose", "allclose", "equal", "is_nonzero", "as_tensor",
           "asarray", "scalar_tensor", "square", "clamp_min", "clamp_max", "select", "clamp_", "clip_", "fill_",
           "zero_", "index_put_", "arcsinh", "arccosh", "arctanh", "FunctionMethods"]
