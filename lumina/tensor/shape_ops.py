"""Shape-changing composites over the movement primitives: ``pad``, ``split``, ``chunk``.

Each is one or a few ``pad`` / ``slice`` primitives, which the fusion pass turns into index
arithmetic; their gradients (slice <-> pad) come from autodiff.
"""
from __future__ import annotations

import math
from typing import Sequence

from ..errors import LuminaShapeError, LuminaValueError
from ..ir.graph import emit
from ..ir.ops import Op
from . import Tensor


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
