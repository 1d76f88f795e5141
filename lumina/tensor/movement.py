"""Movement: ops that change a tensor's shape or the order of its elements, not their values.

The methods (``reshape``/``view``/``flatten``, ``permute``/``transpose``/``T``/``t``, ``expand``,
``squeeze``/``unsqueeze``, ``split``/``chunk``) return views (``lumina.tensor.aliases``); ``cat``,
``stack``, ``pad`` and ``tile``/``repeat`` (an expand of an interleaved reshape, copied) make new
values. ``pad``, ``split`` and ``chunk`` are one or a few ``pad`` /
``slice`` primitives, which the fusion pass turns into index arithmetic; their gradients
(slice <-> pad) come from autodiff.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import LuminaIndexError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import promote
from ..ir.graph import emit
from ..ir.ops import Op
from .core import Tensor
from .shapes import check_size, shape_arg

def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """``torch.nn.functional.pad`` in constant mode.

    ``pad = (left, right, top, bottom, front, back, ...)``: pairs for the last dim first, then the one
    before it, and so on (PyTorch's convention). Negative amounts crop. Output dtype = ``input``'s;
    the fill ``value`` (None: 0, as torch) is converted to it. Raises LuminaValueError for an odd-length ``pad``, more pairs
    than dims, a mode other than "constant", or a crop that leaves a negative size.
    """
    x, value = input, 0.0 if value is None else value
    if mode != "constant":
        raise LuminaValueError(f"pad: only mode='constant' is supported, got {mode!r} for {x._value.type}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise LuminaValueError(f"pad: pad {list(pad)} must hold (lo, hi) pairs for at most {x.ndim} dims "
                               f"of {x._value.type}")
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    for d, (lo, hi) in zip(x.shape, pairs):
        if d + lo + hi < 0 or d + min(lo, 0) + min(hi, 0) < 0:   # torch crops (narrows) first
            raise LuminaValueError(f"pad: pad {list(pad)} leaves a negative size for {x._value.type}")
    # crop first (negative amounts), then pad (positive ones)
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        x = x[tuple(slice(-min(lo, 0), d + min(hi, 0)) for d, (lo, hi) in zip(x.shape, pairs))]
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
    if all(p == (0, 0) for p in grow):
        return x
    if not x.dtype.is_float and isinstance(value, float) and not math.isfinite(value):
        raise LuminaValueError(f"pad: value {value} cannot fill the {x.dtype.name} tensor {x._value.type}")
    fill = float(value) if x.dtype.is_float else (bool(value) if x.dtype.name == "bool" else int(value))
    return Tensor._result(emit(Op.PAD, (x._touch(),), pads=grow, value=fill), x)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.split``: an int gives pieces of that size (the last may be smaller); a list gives the
    size of each piece, which must add up to ``tensor.shape[dim]``. Raises LuminaValueError /
    LuminaShapeError."""
    x = tensor
    d = x._axes(dim, "split")[0]
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and not (size == 0 and n == 0):
            raise LuminaValueError(f"split: split_size must be positive, got {size} for {x._value.type}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise LuminaShapeError(f"split: sections {sizes} do not add up to dim {d} ({n}) of {x._value.type}")
    out, start = [], 0
    for s in sizes:
        out.append(x[(slice(None),) * d + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.chunk``: pieces of ``ceil(n / chunks)`` along ``dim`` (fewer than ``chunks`` pieces when
    that size already covers ``n``). Raises LuminaValueError for ``chunks < 1``."""
    x = input
    if chunks < 1:
        raise LuminaValueError(f"chunk: chunks must be at least 1, got {chunks} for {x._value.type}")
    d = x._axes(dim, "chunk")[0]
    n = x.shape[d]
    size = -(-n // chunks)
    return split(x, size if size else 1, d) if n else split(x, [0] * chunks, d)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along ``dim``; all other dims and the dtype (after promotion) must agree."""
    tensors = list(tensors)
    if not tensors:
        raise LuminaValueError("cat: expects a non-empty list of tensors")
    first = tensors[0]
    d = first._axes(dim, "cat")[0]
    dt = first.dtype
    for t in tensors[1:]:
        dt = promote(dt, t.dtype)
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != d):
            raise LuminaShapeError(f"cat: shapes differ outside dim {d}: "
                                   f"{', '.join(str(x._value.type) for x in tensors)}")
    vals = [B.cast(t._touch(), dt) for t in tensors]
    return Tensor._result(emit(Op.CONCAT, vals, axis=d), *tensors)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """``torch.stack``: the tensors (all of one shape) joined along a new dim ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise LuminaValueError("stack: expects a non-empty list of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise LuminaShapeError(f"stack: all tensors must have the same shape, got "
                               f"{', '.join(str(t._value.type) for t in tensors)}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def tile(input: Tensor, dims) -> Tensor:
    """``torch.tile``: ``input`` repeated ``dims[i]`` times along dim ``i``.

    ``dims`` shorter than ``input``'s rank is padded with ones in front; longer, ``input`` gains
    size-1 leading dims (PyTorch's rule). Output shape ``[r * d for r, d in zip(dims, shape)]``,
    ``input``'s dtype; the gradient sums the copies. Written as ``[d0, d1] -> [1, d0, 1, d1] ->
    expand [r0, d0, r1, d1] -> [r0*d0, r1*d1]``. Raises LuminaTypeError for a non-integer count,
    LuminaValueError for a count that makes a negative size (torch: "negative dimension"; as in
    torch, -1 copies of an empty dim pass) or a result too large for memory."""
    return _repeat(input, shape_arg((dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)), "tile")


def _repeat(x: Tensor, reps: tuple[int, ...], op: str) -> Tensor:
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    reps = (1,) * (len(shape) - len(reps)) + tuple(reps)
    if any(r * d < 0 for r, d in zip(reps, shape)):   # torch checks the sizes: -1 copies of an empty dim pass
        raise LuminaValueError(f"{op}: repeat counts {list(reps)} make a negative size for {x._value.type}")
    reps = tuple(max(r, 0) for r in reps)
    out_shape = tuple(r * d for r, d in zip(reps, shape))
    check_size(op, out_shape, x.dtype)
    spread = [s for d in shape for s in (1, d)]
    tiled = [s for r, d in zip(reps, shape) for s in (r, d)]
    return x.reshape(spread).expand(tuple(tiled)).reshape(out_shape).clone()


class MovementMethods:
    """``Tensor``'s movement methods (the package copies them onto ``Tensor``)."""

    def reshape(self, *shape) -> Tensor:
        if not shape:
            raise LuminaTypeError(f"reshape: missing the shape for {self._value.type} (as torch; reshape(()) "
                                  "makes a 0-d tensor)")
        shape = list(shape_arg(shape))
        if shape.count(-1) > 1:
            raise LuminaShapeError(f"reshape: only one dim can be -1, got {shape}")
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            if known == 0 or self.numel() % known:
                raise LuminaShapeError(f"reshape: cannot reshape {self._value.type} to {shape}")
            shape[shape.index(-1)] = self.numel() // known
        if math.prod(shape) != self.numel() or any(d < 0 for d in shape):
            raise LuminaShapeError(f"reshape: cannot reshape {self._value.type} ({self.numel()} elements) to {shape}")
        return Tensor._result(B.reshape(self._touch(), shape), self)

    def view(self, *size) -> Tensor:
        """``reshape`` (lumina's values are immutable, so every reshape is a view)."""
        if not size:
            raise LuminaTypeError(f"view: missing the size for {self._value.type} (as torch)")
        return self.reshape(size if len(size) != 1 else size[0])

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """``torch.flatten``: dims ``start_dim..end_dim`` merged into one. Raises LuminaIndexError
        for a dim out of range, LuminaValueError when ``start_dim`` comes after ``end_dim``."""
        s, e = self._axes(start_dim, "flatten")[:1] or (0,), self._axes(end_dim, "flatten")[:1] or (0,)
        s, e = s[0], e[0]
        if s > e:
            raise LuminaValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                                   f"{self._value.type}")
        if self.ndim == 0:
            return self.reshape(1)
        return self.reshape(self.shape[:s] + (math.prod(self.shape[s:e + 1]),) + self.shape[e + 1:])

    def permute(self, *dims) -> Tensor:
        if not dims:
            raise LuminaTypeError(f"permute: missing the dims for {self._value.type} (as torch)")
        dims = shape_arg(dims)
        if len(dims) == self.ndim:
            self._axes(dims, "permute")       # LuminaIndexError for a dim out of range
        if len(dims) != self.ndim or sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise LuminaValueError(f"permute: {list(dims)} is not a permutation of the dims of {self._value.type}")
        return Tensor._result(B.permute(self._touch(), [d % self.ndim for d in dims]), self)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        perm = list(range(self.ndim))
        (d0,), (d1,) = (self.reshape(1) if self.ndim == 0 else self)._axes(dim0, "transpose"), \
            (self.reshape(1) if self.ndim == 0 else self)._axes(dim1, "transpose")
        if self.ndim == 0:      # torch: a 0-d tensor transposes over dims 0 / -1 to itself
            return self.reshape(())
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return self.permute(perm)

    @property
    def T(self) -> Tensor:
        return self.permute(list(reversed(range(self.ndim))))

    def expand(self, *size, implicit: bool = False) -> Tensor:
        """``torch.Tensor.expand``: size-1 dims broadcast to ``size`` (-1 keeps a dim). ``implicit``
        only marks torch's traced graphs; it does not change the result."""
        if not size:
            raise LuminaTypeError(f"expand: missing the size for {self._value.type} (as torch)")
        shape = shape_arg(size)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise LuminaShapeError(f"expand: cannot expand {self._value.type} to fewer dims {list(shape)}")
        full = tuple(self.shape[i - lead] if d == -1 else d for i, d in enumerate(shape))
        check_size("expand", full, self.dtype)
        x = self.reshape((1,) * lead + self.shape) if lead else self
        for d, n in zip(x.shape, full):
            if d != n and d != 1:
                raise LuminaShapeError(f"expand: cannot expand {self._value.type} to {list(full)}")
        return Tensor._result(B.expand(x._touch(), full), x)

    def broadcast_to(self, size) -> Tensor:
        return self.expand(tuple(size))

    def unsqueeze(self, dim: int) -> Tensor:
        """``torch.unsqueeze``: a size-1 dim inserted at ``dim`` in ``[-ndim-1, ndim]``; raises
        LuminaIndexError outside it."""
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise LuminaTypeError(f"unsqueeze: dim must be an int, got {dim!r}")
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise LuminaIndexError(f"unsqueeze: dim {dim} out of range for {self._value.type} (expected "
                                   f"[{-self.ndim - 1}, {self.ndim}])")
        d = int(dim) % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None) -> Tensor:
        """``torch.squeeze``: removes the size-1 dims among ``dim`` (an int or a tuple; every dim
        when None); dims of another size stay. Raises LuminaIndexError for a dim out of range."""
        axes = self._axes(dim, "squeeze")
        return self.reshape([d for i, d in enumerate(self.shape) if not (i in axes and d == 1)])

    def t(self) -> Tensor:
        """torch's ``t()``: the transpose of a tensor of at most 2 dims (a view, as ``T``)."""
        if self.ndim > 2:
            raise LuminaValueError(f"t: expects a tensor of at most 2 dims, got {self._value.type}; use transpose")
        return self.permute(list(reversed(range(self.ndim))))

    def split(self, split_size, dim: int = 0) -> tuple[Tensor, ...]:
        """``torch.Tensor.split``: ``split_size`` is a chunk size or a list of sizes."""
        return split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return chunk(self, chunks, dim)

    def tile(self, *dims) -> Tensor:
        """``torch.Tensor.tile``: ``tile(2, 3)`` or ``tile((2, 3))``; see ``tile``."""
        return tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def repeat(self, *repeats) -> Tensor:
        """``torch.Tensor.repeat``: ``tile`` with at least one count per dim (extra counts add
        leading dims). Raises LuminaValueError for fewer counts than dims (as torch) or a negative
        count, LuminaTypeError when no count is given."""
        if not repeats:
            raise LuminaTypeError(f"repeat: missing the repeat counts for {self._value.type} (as torch)")
        reps = shape_arg(repeats)
        if len(reps) < self.ndim:
            raise LuminaValueError(f"repeat: {len(reps)} repeat counts {list(reps)} for the {self.ndim} dims of "
                                   f"{self._value.type}: give at least one per dim (as torch)")
        return _repeat(self, reps, "repeat")
