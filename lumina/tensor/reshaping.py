"""Shape helpers built from ``movement``'s views, as PyTorch 2.13's
(https://pytorch.org/docs/stable/tensors.html): ``view_as`` / ``expand_as`` / ``reshape_as``
(another tensor's shape), ``narrow`` (a slice of one dim), ``unbind`` (the slices along a dim,
that dim removed), ``movedim`` (a permutation naming where dims go) and ``roll`` (a circular
shift, by concatenating the two parts). Dtypes carry over; gradients flow through the views.
"""
from __future__ import annotations

import numpy as np

from ..errors import LuminaIndexError, LuminaTypeError, LuminaValueError
from .core import Tensor
from .movement import cat


def _int(v, op: str, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise LuminaTypeError(f"{op}: {what} must be an int, got {v!r}")
    return int(v)


def _dims(v, op: str, what: str) -> tuple[int, ...]:
    return tuple(_int(d, op, what) for d in v) if isinstance(v, (tuple, list)) else (_int(v, op, what),)


def _other(other, op: str) -> Tensor:
    if not isinstance(other, Tensor):
        raise LuminaTypeError(f"{op}: other must be a tensor, got {type(other).__name__}")
    return other


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``torch.narrow``: elements ``start .. start + length - 1`` of dim ``dim`` (``start`` may be
    negative, counted from the end). Raises LuminaIndexError for a dim or start out of range,
    LuminaValueError for a negative length or a slice past the end (as torch)."""
    x = input
    if x.ndim == 0:
        raise LuminaValueError(f"narrow: cannot be applied to a 0-dim tensor, got {x._value.type} (as torch)")
    (d,) = x._axes(_int(dim, "narrow", "dim"), "narrow")
    size = x.shape[d]
    start, length = _int(start, "narrow", "start"), _int(length, "narrow", "length")
    if not -size <= start <= size:
        raise LuminaIndexError(f"narrow: start {start} out of range for dim {dim} of size {size} of {x._value.type} "
                               f"(expected [{-size}, {size}])")
    start = start + size if start < 0 else start
    if length < 0:
        raise LuminaValueError(f"narrow: length must be non-negative, got {length} for {x._value.type}")
    if start + length > size:
        raise LuminaValueError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) of "
                               f"dim {dim} of {x._value.type}")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.unbind``: the ``input.shape[dim]`` slices along ``dim``, each without that dim.
    Raises LuminaIndexError for a dim out of range (a 0-dim tensor has none)."""
    x = input
    if x.ndim == 0:
        raise LuminaIndexError(f"unbind: dimension specified as {dim} but tensor has no dimensions "
                               f"({x._value.type}, as torch)")
    (d,) = x._axes(_int(dim, "unbind", "dim"), "unbind")
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))


def movedim(input: Tensor, source, destination) -> Tensor:
    """``torch.movedim``: the dims ``source`` (an int or a sequence) moved to the positions
    ``destination``, the other dims keeping their order. Raises LuminaValueError when the two
    differ in length or repeat a dim, LuminaIndexError for a dim out of range."""
    x = input
    src, dst = _dims(source, "movedim", "source"), _dims(destination, "movedim", "destination")
    if len(src) != len(dst):
        raise LuminaValueError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                               f"contain the same number of dims as destination ({list(dst)} dims)")
    if x.ndim == 0:
        for d in src + dst:               # only 0 and -1 name the dim of a 0-d tensor
            x._axes(d, "movedim")
        return x.reshape(())
    src_n = tuple(x._axes(d, "movedim")[0] for d in src)
    dst_n = tuple(x._axes(d, "movedim")[0] for d in dst)
    if len(set(src_n)) != len(src_n) or len(set(dst_n)) != len(dst_n):
        raise LuminaValueError(f"movedim: repeated dim in source {list(src)} or destination {list(dst)} for "
                               f"{x._value.type}")
    order = [-1] * x.ndim
    for s, t in zip(src_n, dst_n):
        order[t] = s
    rest = iter(i for i in range(x.ndim) if i not in src_n)
    return x.permute([o if o >= 0 else next(rest) for o in order])


def roll(input: Tensor, shifts, dims=()) -> Tensor:
    """``torch.roll``: elements shifted by ``shifts`` along ``dims`` circularly (an int or a
    sequence each, of equal length); with ``dims=()`` (or None) the flattened tensor is rolled and the
    shape restored. Raises LuminaValueError for mismatched lengths, LuminaIndexError for a dim out
    of range."""
    x = input
    sh = _dims(shifts, "roll", "shifts")
    if dims is None or (isinstance(dims, (tuple, list)) and not dims):
        if len(sh) != 1:
            raise LuminaValueError(f"roll: shifts {list(sh)} need dims of the same length (as torch)")
        return roll(x.flatten(), sh, 0).reshape(x.shape)
    ds = _dims(dims, "roll", "dims")
    if len(sh) != len(ds):
        raise LuminaValueError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: {len(ds)}")
    if x.ndim == 0:
        raise LuminaIndexError(f"roll: dim {ds[0]} out of range for a 0-dim tensor {x._value.type}")
    for s, d in zip(sh, [x._axes(d, "roll")[0] for d in ds]):
        n = x.shape[d]
        k = s % n if n else 0
        if k:
            lead = (slice(None),) * d
            x = cat([x[lead + (slice(n - k, n),)], x[lead + (slice(0, n - k),)]], d)
    return x if x is not input else x.clone()


class ReshapingMethods:
    """``Tensor``'s shape helpers (the package copies these onto ``Tensor``)."""

    def view_as(self, other) -> Tensor:
        """``torch.Tensor.view_as``: ``self.view(other.shape)``; LuminaShapeError when the
        element counts differ."""
        return self.view(_other(other, "view_as").shape)

    def expand_as(self, other) -> Tensor:
        """``torch.Tensor.expand_as``: ``self.expand(other.shape)``."""
        return self.expand(_other(other, "expand_as").shape)

    def reshape_as(self, other) -> Tensor:
        """``torch.Tensor.reshape_as``: ``self.reshape(other.shape)``."""
        return self.reshape(_other(other, "reshape_as").shape)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """``torch.Tensor.narrow``; see ``narrow``."""
        return narrow(self, dim, start, length)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """``torch.Tensor.unbind``; see ``unbind``."""
        return unbind(self, dim)

    def movedim(self, source, destination) -> Tensor:
        """``torch.Tensor.movedim``; see ``movedim``."""
        return movedim(self, source, destination)

    def roll(self, shifts, dims=()) -> Tensor:
        """``torch.Tensor.roll``; see ``roll``."""
        return roll(self, shifts, dims)

