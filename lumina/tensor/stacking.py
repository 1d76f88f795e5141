"""NumPy-style joining, splitting and turning as PyTorch 2.13's: ``atleast_1d/2d/3d``, ``hstack`` /
``vstack`` / ``dstack`` / ``column_stack``, ``tensor_split``, ``broadcast_tensors``,
``block_diag``, ``rot90`` / ``fliplr`` / ``flipud``
(https://pytorch.org/docs/stable/torch.html#indexing-slicing-joining-mutating-ops).

Each is a decomposition into reshapes, ``cat``, slices, ``flip`` / ``transpose``, ``expand`` and
``pad``: views and copies as those are, gradients by autodiff. Errors are LuminaErrors naming the
op, as torch's ``RuntimeError``s.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import promote
from .arithmetic import _as_tensor
from .core import Tensor
from .creation import zeros
from .indexing import flip
from .movement import cat, pad
from .shapes import broadcast_shapes


def _atleast(op: str, rank: int, tensors: tuple):
    """Tensor in, tensor out; several (or one list / tuple) in, a tuple out (as torch)."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for t in items:
        t = _as_tensor(t, op)
        if t.ndim < rank:
            shape = tuple(t.shape)
            if rank == 2:
                shape = (1,) * (2 - len(shape)) + shape
            elif rank == 3:
                shape = {0: (1, 1, 1), 1: (1, *shape, 1), 2: (*shape, 1)}[len(shape)]
            else:
                shape = (1,)
            t = t.reshape(*shape)
        out.append(t)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """``torch.atleast_1d``: a 0-d tensor as ``[1]``, others unchanged. One tensor in, one out;
    several, or a list / tuple, in: a tuple out."""
    return _atleast("atleast_1d", 1, tensors)


def atleast_2d(*tensors):
    """``torch.atleast_2d``: ``[]`` -> ``[1, 1]``, ``[n]`` -> ``[1, n]``; see ``atleast_1d``."""
    return _atleast("atleast_2d", 2, tensors)


def atleast_3d(*tensors):
    """``torch.atleast_3d``: ``[]`` -> ``[1, 1, 1]``, ``[n]`` -> ``[1, n, 1]``, ``[m, n]`` ->
    ``[m, n, 1]``; see ``atleast_1d``."""
    return _atleast("atleast_3d", 3, tensors)


def _tensors(op: str, tensors) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise LuminaTypeError(f"{op}: expected a sequence of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise LuminaValueError(f"{op}: expects a non-empty TensorList")
    return [_as_tensor(t, op) for t in tensors]


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """``torch.hstack``: ``cat`` along dim 1 after ``atleast_1d`` (along dim 0 when the first is
    1-d). dtypes promote as ``cat``'s. Raises LuminaValueError for an empty sequence."""
    ts = list(atleast_1d(_tensors("hstack", tensors)))
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """``torch.vstack``: ``cat`` along dim 0 after ``atleast_2d``."""
    return cat(list(atleast_2d(_tensors("vstack", tensors))), 0)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """``torch.dstack``: ``cat`` along dim 2 after ``atleast_3d``."""
    return cat(list(atleast_3d(_tensors("dstack", tensors))), 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """``torch.column_stack``: 0-d and 1-d tensors as ``[n, 1]`` columns, then ``cat`` along dim 1."""
    ts = [t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in _tensors("column_stack", tensors)]
    return cat(ts, 1)


def _sections(op: str, x: Tensor, spec, d: int) -> list[tuple[int, int]]:
    """(start, stop) of each piece of ``tensor_split`` along a dim of size ``n``."""
    n = x.shape[d]
    if isinstance(spec, Tensor):
        if spec.dtype.is_float or spec.dtype.name == "bool" or spec.ndim > 1:
            raise LuminaTypeError(f"{op}: tensor_indices_or_sections must be a 0-d or 1-d integer tensor, got "
                                  f"{spec._value.type}")
        spec = spec.tolist()
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec <= 0:
            raise LuminaValueError(f"{op}: number of sections must be larger than 0, got {spec}")
        q, r = divmod(n, spec)
        bounds, start = [], 0
        for i in range(spec):
            size = q + (1 if i < r else 0)
            bounds.append((start, start + size))
            start += size
        return bounds
    if not isinstance(spec, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in spec):
        raise LuminaTypeError(f"{op}: expected an int or a sequence of ints, got {spec!r}")
    cuts = list(spec)
    return list(zip([0] + cuts, cuts + [n]))


def tensor_split(input, tensor_indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.tensor_split``: views of ``input`` along ``dim``: ``sections`` (an int) pieces whose
    sizes differ by at most one (the larger first), or the pieces between ``indices`` (slice
    semantics: negative indices count from the end, an empty piece where a cut is before the last).
    A 0-d integer tensor is a section count, a 1-d one indices (realised: LuminaTraceError inside
    ``@lumina.compile``). Raises LuminaShapeError for a 0-d input, LuminaValueError for a count
    below 1."""
    x = _as_tensor(input, "tensor_split")
    if x.ndim == 0:
        raise LuminaShapeError(f"tensor_split: expected at least a 1-dimensional tensor, got {x._value.type}")
    d = x._axes(dim, "tensor_split")[0]
    lead = (slice(None),) * d
    return tuple(x[lead + (slice(a, b),)] for a, b in _sections("tensor_split", x, tensor_indices_or_sections, d))


def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    """``torch.broadcast_tensors``: each tensor expanded to the broadcast shape of all (views).
    Raises LuminaShapeError when the shapes do not broadcast."""
    ts = [_as_tensor(t, "broadcast_tensors") for t in tensors]
    shape = broadcast_shapes("broadcast_tensors", *(t._value.type for t in ts))
    return tuple(t.broadcast_to(shape) for t in ts)


def block_diag(*tensors) -> Tensor:
    """``torch.block_diag``: the tensors (0-d as ``[1, 1]``, 1-d as ``[1, n]``, 2-d) on the diagonal
    of a ``[sum rows, sum cols]`` matrix of zeros, in the promoted dtype. Raises LuminaShapeError
    for more than 2 dims. https://pytorch.org/docs/stable/generated/torch.block_diag.html"""
    ts = [_as_tensor(t, "block_diag") for t in tensors]
    for i, t in enumerate(ts):
        if t.ndim > 2:
            raise LuminaShapeError(f"block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                                   f"{t.ndim} dimensions: {t._value.type}")
    if not ts:
        return zeros(1, 0)
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = promote(dt, t.dtype)
    mats = [t.to(dt).reshape(*((1, 1) if t.ndim == 0 else (1, t.shape[0]) if t.ndim == 1 else t.shape)) for t in ts]
    total = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        rows.append(pad(m, (left, total - left - m.shape[1])))
        left += m.shape[1]
    return cat(rows, 0)


def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """``torch.rot90``: rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first
    towards the second axis (``k`` negative: the other way). Raises LuminaShapeError for fewer
    than 2 dims, LuminaValueError unless ``dims`` is two different dims."""
    x = _as_tensor(input, "rot90")
    dims = list(dims)
    if len(dims) != 2:
        raise LuminaValueError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise LuminaShapeError(f"rot90: expected total dims >= 2, but got total dims = {x.ndim} ({x._value.type})")
    d0, d1 = x._axes(dims[0], "rot90")[0], x._axes(dims[1], "rot90")[0]
    if d0 == d1:
        raise LuminaValueError(f"rot90: expected rotation dims to be different, but got dim0 = {dims[0]} and "
                               f"dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return flip(x, (d1,)).transpose(d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return flip(x, (d0,)).transpose(d0, d1)
    return x.clone()


def fliplr(input) -> Tensor:
    """``torch.fliplr``: ``flip`` along dim 1. Raises LuminaShapeError below 2 dims."""
    x = _as_tensor(input, "fliplr")
    if x.ndim < 2:
        raise LuminaShapeError(f"fliplr: Input must be >= 2-d, got {x._value.type}")
    return flip(x, (1,))


def flipud(input) -> Tensor:
    """``torch.flipud``: ``flip`` along dim 0. Raises LuminaShapeError for a 0-d input."""
    x = _as_tensor(input, "flipud")
    if x.ndim < 1:
        raise LuminaShapeError(f"flipud: Input must be >= 1-d, got {x._value.type}")
    return flip(x, (0,))


class StackingMethods:
    """The Tensor methods of this module's ops."""

    def tensor_split(self, tensor_indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
        return tensor_split(self, tensor_indices_or_sections, dim)

    def rot90(self, k: int = 1, dims=(0, 1)) -> Tensor: return rot90(self, k, dims)
    def fliplr(self) -> Tensor: return fliplr(self)
    def flipud(self) -> Tensor: return flipud(self)


__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "dstack", "column_stack", "tensor_split",
           "broadcast_tensors", "block_diag", "rot90", "fliplr", "flipud", "StackingMethods"]
