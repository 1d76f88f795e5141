"""Index tensors as PyTorch 2.13's: ``nonzero`` / ``argwhere`` (where a tensor is not zero) and
``triu_indices`` / ``tril_indices`` (the coordinates of a triangle)
(https://pytorch.org/docs/stable/generated/torch.nonzero.html,
https://pytorch.org/docs/stable/generated/torch.triu_indices.html).

``nonzero`` and ``argwhere`` return as many rows as the input has nonzero elements, a size known
only from the values: they realise the input and run eagerly only (inside ``@lumina.compile``
they raise LuminaTraceError, as ``Tensor.item()``). The triangles depend on their sizes only, so
they are constants, inside ``@lumina.compile`` too.
"""
from __future__ import annotations

import numpy as np

from ..errors import LuminaTraceError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from ..tracing import STATE
from .arithmetic import _as_tensor
from .core import Tensor
from .creation import tensor


def _nonzero_rows(x: Tensor, op: str) -> np.ndarray:
    if STATE.trace is not None:
        raise LuminaTraceError(f"{op}: the size of its result depends on the values of the {x._value.type} input, "
                               "so it cannot run inside @lumina.compile (as Tensor.item() / tolist()); run it eagerly")
    return np.argwhere(x.numpy()).astype(np.int64)


def nonzero(input, *, as_tuple: bool = False):
    """``torch.nonzero``: the indices of the elements of ``input`` that are not zero (NaN is not
    zero), in row-major order: an int64 ``[z, ndim]`` tensor, or with ``as_tuple`` a tuple of
    ``ndim`` int64 ``[z]`` tensors (one 1-element-or-empty tensor for a 0-d input, as torch).
    Eager only (LuminaTraceError inside ``@lumina.compile``)."""
    x = _as_tensor(input, "nonzero")
    rows = _nonzero_rows(x, "nonzero")
    if not as_tuple:
        return tensor(rows, device=x.device)
    if x.ndim == 0:
        return (tensor(np.zeros(len(rows), np.int64), device=x.device),)
    return tuple(tensor(np.ascontiguousarray(rows[:, i]), device=x.device) for i in range(x.ndim))


def argwhere(input) -> Tensor:
    """``torch.argwhere``: ``nonzero(input)``, an int64 ``[z, ndim]`` tensor (eager only)."""
    x = _as_tensor(input, "argwhere")
    return tensor(_nonzero_rows(x, "argwhere"), device=x.device)


def _triangle(op: str, row: int, col: int, offset: int, dtype, device, requires_grad: bool) -> Tensor:
    for name, v in (("row", row), ("col", col), ("offset", offset)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise LuminaTypeError(f"{op}: {name} must be an int, got {v!r}")
    if row < 0 or col < 0:
        raise LuminaValueError(f"{op}: row and col must be non-negative, got row={row}, col={col}")
    dt = DType.int64 if dtype is None else dtype
    if dt not in (DType.int64, DType.int32):
        raise LuminaTypeError(f"{op}: not implemented for {dt} (as torch): the indices are int32 or int64")
    if requires_grad:
        raise LuminaTypeError(f"{op}: only floating point tensors can require gradients, got {dt}")
    find = np.triu_indices if op == "triu_indices" else np.tril_indices
    rows, cols = find(row, offset, col)
    return tensor(np.stack([rows, cols]).reshape(2, -1), dtype=dt, device=device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 requires_grad: bool = False) -> Tensor:
    """``torch.triu_indices``: the coordinates ``[2, N]`` (rows, then columns, row-major) of the
    elements of a ``row`` x ``col`` matrix on and above diagonal ``offset`` (``j - i >= offset``).
    int64 by default, or int32. Raises LuminaValueError for negative sizes, LuminaTypeError for
    another dtype (as torch)."""
    return _triangle("triu_indices", row, col, offset, dtype, device, requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 requires_grad: bool = False) -> Tensor:
    """``torch.tril_indices``: on and below diagonal ``offset`` (``j - i <= offset``); see
    ``triu_indices``."""
    return _triangle("tril_indices", row, col, offset, dtype, device, requires_grad)


class PositionMethods:
    """The Tensor methods of this module's ops."""

    def nonzero(self, *, as_tuple: bool = False): return nonzero(self, as_tuple=as_tuple)
    def argwhere(self) -> Tensor: return argwhere(self)


__all__ = ["nonzero", "argwhere", "triu_indices", "tril_indices", "PositionMethods"]
