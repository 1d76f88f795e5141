"""``lumina.Size``: the type of ``Tensor.shape`` and ``Tensor.size()``, as ``torch.Size``."""
from __future__ import annotations

import math


class Size(tuple):
    """``torch.Size``: a tuple of ints (the sizes of a tensor's dimensions) that stays a ``Size``
    when sliced or concatenated with a tuple (on either side), and has ``numel()``.
    Semantics: https://pytorch.org/docs/stable/size.html"""

    __slots__ = ()

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds: the product of the sizes (1 for ``()``)."""
        return math.prod(self)

    def __repr__(self) -> str:
        return f"lumina.Size({list(self)})"

    def __reduce__(self):
        return Size, (tuple(self),)
