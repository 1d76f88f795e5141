"""Which argument dims a compiled function traces symbolically (``ir.symbolic``), as
``torch.compile``'s dynamic shapes decide it: ``dynamic=None`` (automatic: a dim seen at two
sizes), ``True`` (lumina: the first dim of every tensor argument), ``False`` (never), and
``mark_dynamic(x, dim)``."""
from __future__ import annotations

from typing import Sequence

from .errors import LuminaTypeError, LuminaValueError
from .ir.symbolic import MIN_SIZE
from .tensor import Tensor


AUTOMATIC = True
"""Whether ``dynamic=None`` makes a dim seen at two sizes symbolic (``torch.compile``'s default)."""


class DynamicDims:
    """The symbolic dims of one compiled function's arguments (see the module docstring).
    Raises LuminaValueError for a ``dynamic`` that is not None, True or False."""

    def __init__(self, dynamic: bool | None):
        if dynamic not in (None, True, False):
            raise LuminaValueError(f"compile: dynamic must be None, True or False, got {dynamic!r}")
        self.dynamic = dynamic
        self.axes: dict[int, set[int]] = {}      # argument position -> dims seen at two sizes
        self.static_only = dynamic is False      # also set once a symbolic compile failed

    def shape(self, i: int, a, names: dict[int, str]) -> tuple:
        """Argument ``i``'s (a tensor or array) shape in a signature: each symbolic dim of size 2
        or more is its symbol's name, ``names`` giving one per size (duck sizing: dims of equal
        sizes share a symbol); the rest are sizes."""
        axes = self.axes.get(i, frozenset()) | getattr(a, "_dynamic_dims", frozenset())
        if self.dynamic and a.ndim:
            axes = axes | {0}
        if not axes or self.static_only:
            return tuple(a.shape)
        return tuple(names.setdefault(d, f"s{len(names)}") if k in axes and d >= MIN_SIZE else d
                     for k, d in enumerate(a.shape))

    def widen(self, seen: list[tuple], sig: tuple) -> bool:
        """Automatic dynamic shapes (``dynamic=None``): when ``sig`` differs from a signature in
        ``seen`` only in the sizes of some dims of its tensor arguments, those dims are symbolic
        from now on. Returns whether a dim became symbolic."""
        if self.dynamic is not None or self.static_only or not AUTOMATIC:
            return False
        grown = False
        for old in seen:
            if len(old) != len(sig):
                continue
            changed = []
            for i, (a, b) in enumerate(zip(old, sig)):
                if a == b:
                    continue
                if a[0] == "static" or a[0] != b[0] or a[2:] != b[2:] or len(a[1]) != len(b[1]):
                    break
                changed += [(i, k) for k, (x, y) in enumerate(zip(a[1], b[1])) if x != y]
            else:
                for i, k in changed:
                    if k not in self.axes.setdefault(i, set()):
                        self.axes[i].add(k)
                        grown = True
        return grown

    def give_up(self) -> None:
        """Compile for the sizes from now on (a symbolic compile failed)."""
        self.static_only = True
        self.axes.clear()


def sizes_of(args, sig: tuple) -> dict[str, int] | None:
    """``{symbol: size}`` of the symbolic dims of signature ``sig`` at ``args`` (None: none)."""
    sizes = None
    for a, entry in zip(args, sig):
        if entry[0] != "static":
            for d, n in zip(entry[1], a.shape):
                if isinstance(d, str):
                    sizes = sizes if sizes is not None else {}
                    sizes[d] = int(n)
    return sizes


def has_symbols(sig: tuple) -> bool:
    """Whether signature ``sig`` has a symbolic dim."""
    return any(isinstance(d, str) for s in sig if s[0] != "static" for d in s[1])


def mark_dynamic(x: Tensor, dim: int | Sequence[int]) -> None:
    """Compile dim(s) ``dim`` of tensor ``x`` symbolically whenever ``x`` is passed to a compiled
    function (``torch._dynamo.mark_dynamic``). Raises LuminaTypeError for a non-tensor and
    LuminaValueError for a dim out of range."""
    if not isinstance(x, Tensor):
        raise LuminaTypeError(f"mark_dynamic: expects a lumina Tensor, got {type(x).__name__}")
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool) or not -x.ndim <= d < x.ndim:
            raise LuminaValueError(f"mark_dynamic: dim {d!r} out of range for a tensor of shape {list(x.shape)}")
    x._dynamic_dims = getattr(x, "_dynamic_dims", frozenset()) | {d % x.ndim for d in dims}
