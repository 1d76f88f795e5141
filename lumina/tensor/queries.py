"""Questions about a tensor that need no computation: ``is_tensor``, ``numel``, ``is_floating_point``,
``element_size``, ``get_default_dtype``, and ``_assert``."""
from __future__ import annotations

from ..errors import LuminaTypeError
from ..ir.dtypes import DType, float32
from .core import Tensor


def is_tensor(obj, /) -> bool:
    """``torch.is_tensor``: whether ``obj`` is a ``lumina.Tensor`` (a NumPy array or a number is not)."""
    return isinstance(obj, Tensor)


def _tensor(op: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise LuminaTypeError(f"{op}: expected a lumina.Tensor, got {type(x).__name__}")
    return x


def numel(self: Tensor) -> int:
    """``torch.numel``: the number of elements of ``self`` (torch's name for it) (1 for a 0-d tensor). Raises
    LuminaTypeError for anything but a Tensor, as torch raises TypeError."""
    return _tensor("numel", self).numel()


def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    """``torch.is_floating_point``: whether ``input``'s dtype is a floating-point type (float16,
    bfloat16, float32, float64). Raises LuminaTypeError for anything but a Tensor."""
    return _tensor("is_floating_point", input).dtype.is_float


def get_default_dtype() -> DType:
    """``torch.get_default_dtype``: the dtype of tensors made from Python floats, ``lumina.float32``.
    lumina has no ``set_default_dtype``: it is always float32 (pass ``dtype=`` to a creation op)."""
    return float32


class QueryMethods:
    """``Tensor``'s questions about itself (the package copies them onto ``Tensor``)."""

    def is_floating_point(self) -> bool:
        """``torch.Tensor.is_floating_point``; see ``is_floating_point``."""
        return self.dtype.is_float

    def element_size(self) -> int:
        """``torch.Tensor.element_size``: bytes per element of this tensor's dtype."""
        return self.dtype.itemsize


def _assert(condition, message) -> None:
    """``torch._assert``: raise AssertionError(``message``) unless ``condition`` holds, the check
    torchvision's models make (``torch._assert(h == self.image_size, ...)``) so that torch.fx can
    trace it. A tensor condition is realised (``bool``); inside ``@lumina.compile`` that raises
    LuminaTraceError, as any data-dependent branch. Unlike Python's ``assert`` it is not removed
    by ``python -O``."""
    if not condition:
        raise AssertionError(message)
