"""Pooling over ``[N, C, *spatial]`` tensors, as PyTorch's ``max_pool1d/2d/3d``, ``avg_pool1d/2d/3d``,
``adaptive_avg_pool1d/2d/3d`` and ``adaptive_max_pool1d/2d/3d``.

The fixed-window pools read their windows as ``conv`` does (``conv.windows``: one unit-step slice
of the padded input per kernel offset). The adaptive pools' windows differ in size (output ``i`` of
a dim of length ``L`` pooled to ``o`` covers ``[floor(i L / o), ceil((i + 1) L / o))``, PyTorch's
``adaptive_avg_pool2d`` CPU kernel); each dim is one ``gather`` at the constant positions of every
window padded to the longest, ``[.., kmax * o, ..]``, and a constant mask drops the padding slots.

Max pools: the offset of each window's maximum is found without gradient, as PyTorch's CPU kernels
pick it (the first maximum, or, in a window holding NaN, the last NaN), and the output keeps that
element only (``where``): the gradient goes to one element per window. ``return_indices`` gives the
flat position of that element within the input's spatial dims (int64), as PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor import Tensor, arange, no_grad, stack, tensor, where
from ...tensor.indexing import take
from ...tensor.recorded import recorded
from .conv import batched, computed_channels_last, geometry, ntuple, pad_spatial, windows


def _pool_args(op: str, nd: int, kernel_size, stride, padding, dilation=1):
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else ntuple(stride, nd, "stride", op)
    return kernel, stride, ntuple(padding, nd, "padding", op), ntuple(dilation, nd, "dilation", op)


def _outer(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Per-dim ``[k_i, o_i]`` tables broadcast to ``[k1, o1, k2, o2, ...]``."""
    n = len(arrays)
    return [np.broadcast_to(a.reshape((1, 1) * i + a.shape + (1, 1) * (n - 1 - i)),
                            tuple(v for b in arrays for v in b.shape)) for i, a in enumerate(arrays)]


def _select_max(parts: list[Tensor], valid: np.ndarray, positions: np.ndarray, return_indices: bool):
    """The maximum of ``parts`` (``K`` tensors ``[N, C, *out]``) with the gradient to one of them, and
    with ``return_indices`` its input position. ``valid [K, *out]`` marks the offsets inside the input
    (the padding is never picked), ``positions [K, *out]`` their flat input positions."""
    k, x = len(parts), parts[0]
    integer = not x.dtype.is_float
    with no_grad():
        stacked = stack([p.detach() for p in parts], 2)                       # [N, C, K, *out]
        offsets = arange(k).reshape(1, 1, k, *(1,) * (x.ndim - 2))
        is_max, is_nan = stacked == stacked.amax(2, keepdim=True), stacked != stacked
        if not valid.all():     # padding slots never win (no mask in the common case)
            ok = tensor(valid).unsqueeze(0).unsqueeze(0)
            is_max, is_nan = ok & is_max, ok & is_nan
        first = where(is_max, offsets, k).amin(2)
        if not integer:
            last_nan = where(is_nan, offsets, -1).amax(2)
            first = where(last_nan >= 0, last_nan, first)
    out = None
    for i, p in enumerate(parts):
        term = where(first == i, p, 0 if integer else 0.0)
        out = term if out is None else out + term
    if not return_indices:
        return out
    with no_grad():
        where_ = tensor(positions.astype(np.int64))
        idx = where(offsets == first.unsqueeze(2), where_.unsqueeze(0).unsqueeze(0), 0).sum(2)
    return out, idx


def _channels_last_key(input: Tensor, *args) -> bool:
    """What a max pool's IR depends on beyond its arguments: whether its (batched) input is a
    channels-last value under a permute (``computed_channels_last``)."""
    return input.ndim == args[-2] + 2 and computed_channels_last(input)


@recorded(key=_channels_last_key)
def _max_pool(input: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool, return_indices: bool,
              nd: int, op: str):
    x, unbatched = batched(input, nd, op)
    kernel, stride, padding, dilation = _pool_args(op, nd, kernel_size, stride, padding, dilation)
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise LuminaValueError(f"{op}: padding {padding} must be at most half the effective kernel size "
                                   f"{kernel} (dilation {dilation}) for {input._value.type}")
    if x.dtype.name == "bool":
        raise LuminaTypeError(f"{op}: expects a numeric input, got {input._value.type}")
    outs, pads = geometry(x, kernel, stride, padding, dilation, ceil_mode, op, "pooling")
    fill = -math.inf if x.dtype.is_float else int(np.iinfo(x.dtype.numpy).min)
    parts = windows(pad_spatial(x, pads, fill), kernel, stride, dilation, outs,
                    via_channels_last=computed_channels_last(x))
    # each offset's input position along each dim, [k, o]; then their product over the dims
    along = [np.arange(k)[:, None] * d + np.arange(o)[None, :] * s - p
             for k, s, p, d, o in zip(kernel, stride, padding, dilation, outs)]
    grids = _outer(along)                                      # each [k1, o1, k2, o2, ...]
    sizes = x.shape[2:]
    inside = np.logical_and.reduce([(g >= 0) & (g < n) for g, n in zip(grids, sizes)])
    flat = np.ravel_multi_index([np.clip(g, 0, n - 1) for g, n in zip(grids, sizes)], sizes)
    order = list(range(0, 2 * nd, 2)) + list(range(1, 2 * nd, 2))
    shape = (math.prod(kernel),) + tuple(outs)
    valid = inside.transpose(order).reshape(shape)
    positions = flat.transpose(order).reshape(shape)
    res = _select_max(parts, valid, positions, return_indices)
    if unbatched:
        return tuple(r.squeeze(0) for r in res) if return_indices else res.squeeze(0)
    return res


_MAX_DOC = """``torch.nn.functional.max_pool{n}d``: the max over each (dilated) window; the padding is -inf.

    ``input [N, C, {dims}]`` or ``[C, {dims}]``, float or integer; ``stride`` defaults to
    ``kernel_size``; ``ceil_mode`` keeps a last partial window that starts inside the input or the
    left padding. Output ``[N, C, {outs}]``, the input's dtype, and with ``return_indices`` the
    int64 flat position of each maximum within the input's ``{dims}`` (PyTorch's layout, as
    ``max_unpool`` reads it). The gradient goes to that element (the first maximum; in a window
    holding NaN, the last NaN, as PyTorch's CPU kernel). Raises LuminaValueError when ``padding``
    exceeds half the effective kernel (PyTorch's rule) or a size is not positive, LuminaShapeError
    for a wrong rank or a kernel larger than the padded input. Semantics:
    https://pytorch.org/docs/2.13/generated/torch.nn.functional.max_pool{n}d.html
    """


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3, "max_pool3d")


def _avg_pool(input: Tensor, kernel_size, stride, padding, ceil_mode: bool, count_include_pad: bool,
              divisor_override, nd: int, op: str) -> Tensor:
    x, unbatched = batched(input, nd, op)
    kernel, stride, padding, _ = _pool_args(op, nd, kernel_size, stride, padding)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise LuminaValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel} "
                               f"for {input._value.type}")
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: expects a floating-point input, got {input._value.type}")
    if nd == 3 and any(n < k for n, k in zip(x.shape[2:], kernel)):   # torch's 3-d kernel checks the unpadded input
        raise LuminaShapeError(f"{op}: input {input._value.type} is smaller than the kernel size {kernel}")
    outs, pads = geometry(x, kernel, stride, padding, (1,) * nd, ceil_mode, op, "pooling")
    parts = windows(pad_spatial(x, pads), kernel, stride, (1,) * nd, outs,
                    via_channels_last=computed_channels_last(x))
    total = parts[0]
    for s in parts[1:]:
        total = total + s
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)) \
                or divisor_override == 0:
            raise LuminaValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
        out = total / float(divisor_override)
    else:
        div = _divisor(x.shape[2:], kernel, stride, padding, outs, count_include_pad)
        out = total / float(div.flat[0]) if (div == div.flat[0]).all() else total / tensor(div.astype(x.dtype.numpy))
    return out.squeeze(0) if unbatched else out


def _divisor(sizes, kernel, stride, padding, outs, count_include_pad: bool) -> np.ndarray:
    """``[*out]`` window sizes PyTorch divides by (its ``AvgPool2d`` CPU kernel's ``pool_size``)."""
    counts = []
    for size, k, s, p, n in zip(sizes, kernel, stride, padding, outs):
        start = np.arange(n) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            end, start = np.minimum(end, size), np.maximum(start, 0)
        counts.append((end - start).astype(np.float64))
    return math.prod(np.ix_(*counts)) if len(counts) > 1 else counts[0]


_AVG_DOC = """``torch.nn.functional.avg_pool{n}d``: the mean over each window.

    ``input [N, C, {dims}]`` or ``[C, {dims}]``, floating point; output ``[N, C, {outs}]``, same
    dtype. With ``count_include_pad`` (PyTorch's default) the zero padding counts in the divisor,
    except the part of a ``ceil_mode`` window past the padding; without it only real input elements
    count;{override} Raises LuminaValueError when ``padding`` exceeds half the kernel (PyTorch's
    rule), LuminaShapeError for a wrong rank or a kernel larger than the padded input (for 3-d
    pooling, than the unpadded input, as PyTorch's ``avg_pool3d``),
    LuminaTypeError for an integer input. Semantics:
    https://pytorch.org/docs/2.13/generated/torch.nn.functional.avg_pool{n}d.html
    """


def avg_pool1d(input: Tensor, kernel_size, stride=(), padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 3,
                     "avg_pool3d")


def _adaptive_windows(x: Tensor, output_size, nd: int, op: str):
    """The padded window slots of every output position: ``[N, C, K, *out]`` (``K = prod(kmax)``),
    with the ``[K, *out]`` masks of the real slots and their flat input positions."""
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nd
    if not isinstance(output_size, (tuple, list)) or len(output_size) != nd:
        raise LuminaValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    sizes = x.shape[2:]
    outs = tuple(n if o is None else o for o, n in zip(output_size, sizes))
    if any(isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 0 for o in outs):
        raise LuminaValueError(f"{op}: output_size must hold non-negative ints (or None), got {output_size!r}")
    if any(n == 0 for n in sizes):
        raise LuminaShapeError(f"{op}: expects non-empty spatial dims, got {x._value.type}")
    y, along_valid, along_pos = x, [], []
    for i, (n, o) in enumerate(zip(sizes, outs)):
        start = (np.arange(o) * n) // o
        end = -((-(np.arange(o) + 1) * n) // o)
        kmax = int((end - start).max()) if o else 1
        pos = start[None, :] + np.arange(kmax)[:, None]                     # [kmax, o]
        along_valid.append(pos < end[None, :])
        along_pos.append(np.minimum(pos, end[None, :] - 1) if o else pos)
        axis = 2 + 2 * i
        y = take(y, axis, tensor(along_pos[-1].reshape(-1).astype(np.int64)))
        y = y.reshape(*y.shape[:axis], kmax, o, *y.shape[axis + 1:])        # [N, C, k1, o1, ..., L_i+1, ...]
    order = list(range(0, 2 * nd, 2)) + list(range(1, 2 * nd, 2))
    y = y.permute(0, 1, *(2 + a for a in order))
    kshape = tuple(v.shape[0] for v in along_valid)
    y = y.reshape(*y.shape[:2], math.prod(kshape), *outs)
    valid = np.logical_and.reduce(_outer(along_valid)).transpose(order).reshape((math.prod(kshape),) + outs)
    flat = np.ravel_multi_index(_outer(along_pos), sizes)
    return y, valid, flat.transpose(order).reshape(valid.shape)


def _adaptive_avg(input: Tensor, output_size, nd: int, op: str) -> Tensor:
    x, unbatched = batched(input, nd, op)
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: expects a floating-point input, got {input._value.type}")
    y, valid, _ = _adaptive_windows(x, output_size, nd, op)
    total = where(tensor(valid), y, 0.0).sum(2)
    out = total / tensor(valid.sum(0).astype(x.dtype.numpy))
    return out.squeeze(0) if unbatched else out


def _adaptive_max(input: Tensor, output_size, return_indices: bool, nd: int, op: str):
    x, unbatched = batched(input, nd, op)
    if x.dtype.name == "bool":
        raise LuminaTypeError(f"{op}: expects a numeric input, got {input._value.type}")
    y, valid, positions = _adaptive_windows(x, output_size, nd, op)
    parts = [y[:, :, i] for i in range(y.shape[2])]
    res = _select_max(parts, valid, positions, return_indices)
    if unbatched:
        return tuple(r.squeeze(0) for r in res) if return_indices else res.squeeze(0)
    return res


_ADAPTIVE_DOC = """``torch.nn.functional.adaptive_{kind}_pool{n}d``: {what} over windows that split each spatial
    dim evenly into ``output_size`` (an int, or a tuple of {n} whose ``None`` keeps that dim):
    output ``i`` of a dim of length ``L`` covers ``[floor(i L / o), ceil((i + 1) L / o))``.

    ``input [N, C, {dims}]`` or ``[C, {dims}]``; output ``[N, C, *output_size]``, same dtype.{extra}
    Raises LuminaValueError for a bad ``output_size``, LuminaShapeError for a wrong rank or an empty
    spatial dim, LuminaTypeError for {types}. Semantics:
    https://pytorch.org/docs/2.13/generated/torch.nn.functional.adaptive_{kind}_pool{n}d.html
    """


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg(input, output_size, 3, "adaptive_avg_pool3d")


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    return _adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    return _adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    return _adaptive_max(input, output_size, return_indices, 3, "adaptive_max_pool3d")


_DIMS = {1: ("L", "L_out"), 2: ("H, W", "H_out, W_out"), 3: ("D, H, W", "D_out, H_out, W_out")}
for _n in (1, 2, 3):
    _dims, _outs = _DIMS[_n]
    globals()[f"max_pool{_n}d"].__doc__ = _MAX_DOC.format(n=_n, dims=_dims, outs=_outs)
    globals()[f"avg_pool{_n}d"].__doc__ = _AVG_DOC.format(
        n=_n, dims=_dims, outs=_outs,
        override="" if _n == 1 else " ``divisor_override`` (a non-zero int) replaces the divisor.")
    globals()[f"adaptive_avg_pool{_n}d"].__doc__ = _ADAPTIVE_DOC.format(
        kind="avg", n=_n, what="the mean", dims=_dims, extra="", types="an integer input")
    globals()[f"adaptive_max_pool{_n}d"].__doc__ = _ADAPTIVE_DOC.format(
        kind="max", n=_n, what="the maximum", dims=_dims, types="a bool input",
        extra=" With ``return_indices``, also the int64 flat position of each maximum within the input's "
              "spatial dims; the gradient goes to that element (the first maximum, or the last NaN, as "
              "PyTorch's CPU kernel).")
