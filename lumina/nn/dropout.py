"""``Dropout``: inverted dropout in training mode, the identity in eval mode."""
from __future__ import annotations

from ..errors import LuminaValueError
from ..tensor import Tensor
from . import functional as F
from .module import Module


class Dropout(Module):
    """``torch.nn.Dropout(p)`` (see ``functional.dropout``; ``inplace`` writes the result into the
    input). Raises LuminaValueError unless 0 <= p <= 1."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise LuminaValueError(f"Dropout: probability must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
