"""``TensorType``: the static shape and dtype of an SSA value."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .dtypes import DType


@dataclass(frozen=True)
class TensorType:
    """Shape (a tuple of non-negative ints, row-major) and element dtype; prints as ``f32[2,3]``."""

    shape: tuple[int, ...]
    dtype: DType

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def __str__(self) -> str:
        return f"{self.dtype.short}[{','.join(map(str, self.shape))}]"


def fmt_types(types) -> str:
    """``"f32[2,3], i64[]"``: the operand list in error messages."""
    return ", ".join(str(t) for t in types)
