"""``torch.nn.functional.pad`` in every mode: constant (``lumina.tensor.movement.pad``, the ``pad``
primitive), reflect, replicate and circular.

The non-constant modes read each padded dim through one ``gather`` at constant positions: output
position ``j`` (``-lo <= j < n + hi``, ``n`` the dim's length) reads input ``j`` where it is inside,
and otherwise ``-j`` / ``2 (n - 1) - j`` (reflect: mirrored about the edge element, which is not
repeated), ``clip(j, 0, n - 1)`` (replicate) or ``j mod n`` (circular). The gather's gradient is a
scatter-add, so an input element read several times gets the sum of their gradients, as PyTorch's
``reflection_pad`` / ``replication_pad`` backward kernels. Semantics:
https://pytorch.org/docs/2.13/generated/torch.nn.functional.pad.html
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor import Tensor, tensor
from ...tensor.indexing import take
from ...tensor.movement import pad as constant_pad

MODES = ("constant", "reflect", "replicate", "circular")


def _positions(mode: str, n: int, lo: int, hi: int) -> np.ndarray:
    j = np.arange(-lo, n + hi)
    if mode == "reflect":
        j = np.abs(j)
        return np.where(j > n - 1, 2 * (n - 1) - j, j)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    # circular: torch crops the negative amounts first, then wraps around what is left
    start, stop = max(-lo, 0), n - max(-hi, 0)
    m = stop - start
    return start + np.mod(np.arange(-max(lo, 0), m + max(hi, 0)), m)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """``torch.nn.functional.pad``: ``pad = (left, right, top, bottom, front, back)``, pairs for the
    last dim first (negative amounts crop).

    ``mode="constant"`` fills with ``value`` (None: 0) and pads any number of trailing dims (see
    ``lumina.tensor.movement.pad``). "reflect", "replicate" and "circular" pad the last 1, 2 or 3
    dims of an input with one or two more dims than that (``[C, W]`` / ``[N, C, W]`` for 2 pads, and
    so on, as PyTorch); reflect needs every amount below the dim's length, circular at most the
    length. Output: the input's dtype; shape grown by the pads. Raises LuminaValueError for an
    unknown mode, a ``value`` with a non-constant mode, amounts too large, or negative amounts that
    crop a dim away (where torch's kernels raise, return an empty dim or read out of bounds),
    LuminaShapeError for an input rank the mode does not pad, LuminaTypeError for non-int amounts.
    """
    x = input
    if mode not in MODES:
        raise LuminaValueError(f"pad: unrecognised padding mode {mode!r} (expected one of {', '.join(MODES)})")
    if isinstance(pad, (int, np.integer)) or any(isinstance(p, bool) or not isinstance(p, (int, np.integer))
                                                 for p in pad):
        raise LuminaTypeError(f"pad: pad must be a sequence of ints, got {pad!r}")
    if mode == "constant":
        return constant_pad(x, pad, value=value)
    if value is not None:
        raise LuminaValueError(f"pad: padding mode {mode!r} doesn't take a value argument (got {value!r})")
    pad = tuple(int(p) for p in pad)
    k = len(pad) // 2
    if len(pad) % 2 or k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise LuminaShapeError(f"pad: padding size {len(pad)} is not supported for {x.ndim}-d input {x._value.type} "
                               f"in mode {mode!r}: {mode} pads the last 1, 2 or 3 dims of a 2-d or 3-d, 3-d or 4-d, "
                               f"4-d or 5-d input")
    out = x
    for i in range(k):
        axis, (lo, hi) = x.ndim - 1 - i, pad[2 * i:2 * i + 2]
        n = x.shape[axis]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise LuminaValueError(f"pad: reflect padding ({lo}, {hi}) must be less than the size {n} of dim {axis} "
                                   f"of {x._value.type}")
        if mode == "circular" and (lo > n or hi > n):
            raise LuminaValueError(f"pad: circular padding ({lo}, {hi}) wraps around dim {axis} of {x._value.type} "
                                   f"more than once")
        if n + min(lo, 0) + min(hi, 0) <= 0:   # torch's kernels disagree here (raise, empty, out of bounds)
            raise LuminaValueError(f"pad: padding ({lo}, {hi}) of dim {axis} of {x._value.type} leaves no elements "
                                   f"to pad from")
        if lo == 0 and hi == 0:
            continue
        out = take(out, axis, tensor(_positions(mode, n, lo, hi).astype(np.int64)))
    return out.clone() if out is x else out
