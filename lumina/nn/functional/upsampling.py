"""``torch.nn.functional.interpolate`` (modes nearest, nearest-exact, linear, bilinear, bicubic,
trilinear, area), PyTorch 2.13's CPU semantics.

Every mode but area is separable: each spatial dim, last first, is resampled by ``gather`` at
constant source positions (one for nearest, two for linear, four for cubic), weighted and summed
in the order PyTorch's kernels nest them (the innermost dim first), so the result rounds as
PyTorch's and the gradient is the gathers' scatter-adds. The source positions follow ATen's
``UpSample.h``: ``scale = in / out`` (or ``1 / scale_factor`` when that is passed through,
``(in - 1) / (out - 1)`` with ``align_corners``); nearest reads ``floor(dst * scale)``, nearest-exact
``floor((dst + 0.5) * scale)``, linear ``scale * (dst + 0.5) - 0.5`` clamped at 0, cubic the same
unclamped with Keys' kernel (a = -0.75; R. Keys 1981, "Cubic convolution interpolation for digital
image processing") and the taps clamped to the edges. The positions and weights are computed in
float32 for the nearest modes (as ATen) and in the input's precision for the others. ``area`` is
``adaptive_avg_pool``. Semantics: https://pytorch.org/docs/2.13/generated/torch.nn.functional.interpolate.html
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor import Tensor, tensor
from ...tensor.indexing import take
from . import pooling

_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _scale(n_in: int, n_out: int, align_corners: bool, scale, dt):
    if align_corners:
        return dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
    return dt(1.0 / scale) if scale is not None and scale > 0 else dt(n_in) / dt(n_out)


def _cubic(t: np.ndarray) -> list[np.ndarray]:
    a = -0.75
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1                # noqa: E731 (|x| <= 1)
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a            # noqa: E731 (1 < |x| < 2)
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _taps(mode: str, n_in: int, n_out: int, align_corners: bool, scale, dt) -> list[tuple[np.ndarray, np.ndarray]]:
    """(source index, weight) pairs of one dim, ``[n_out]`` each, in the order they are summed."""
    dst = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        s = _scale(n_in, n_out, False, scale, np.float32)
        if mode == "nearest":
            if n_out == n_in:
                idx = dst
            elif n_out == 2 * n_in:
                idx = dst >> 1
            else:
                idx = np.floor(dst.astype(np.float32) * s)
        else:
            idx = np.floor((dst.astype(np.float32) + np.float32(0.5)) * s)
        return [(np.minimum(idx.astype(np.int64), n_in - 1), None)]
    s = _scale(n_in, n_out, align_corners, scale, dt)
    d = dst.astype(dt)
    src = s * d if align_corners else s * (d + dt(0.5)) - dt(0.5)
    if mode == "bicubic":
        i0 = np.floor(src)
        t = np.clip(src - i0, 0, 1).astype(dt)
        return [(np.clip(i0.astype(np.int64) - 1 + k, 0, n_in - 1), w.astype(dt)) for k, w in enumerate(_cubic(t))]
    src = np.maximum(src, dt(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < n_in - 1)
    l1 = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
    return [(i0, (dt(1) - l1).astype(dt)), (i1, l1)]


def _sizes(x: Tensor, size, scale_factor, recompute_scale_factor, op: str):
    nd = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise LuminaValueError(f"{op}: exactly one of size or scale_factor must be given, got size={size!r}, "
                               f"scale_factor={scale_factor!r}")
    if size is not None:
        if recompute_scale_factor:
            raise LuminaValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * nd
        if len(sizes) != nd:
            raise LuminaShapeError(f"{op}: input {x._value.type} has {nd} spatial dims but size {size!r} has "
                                   f"{len(sizes)} (expects input [N, C, d1, ..., dK] and size (o1, ..., oK))")
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0 for s in sizes):
            raise LuminaValueError(f"{op}: size must hold positive ints, got {size!r}")
        return [int(s) for s in sizes], [None] * nd
    scales = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * nd
    if len(scales) != nd:
        raise LuminaShapeError(f"{op}: input {x._value.type} has {nd} spatial dims but scale_factor "
                               f"{scale_factor!r} has {len(scales)}")
    if any(isinstance(s, bool) or not isinstance(s, (int, float, np.number)) or not s > 0 for s in scales):
        raise LuminaValueError(f"{op}: scale_factor must hold positive numbers, got {scale_factor!r}")
    sizes = [math.floor(float(n) * float(s)) for n, s in zip(x.shape[2:], scales)]
    if any(s <= 0 for s in sizes):
        raise LuminaValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output {sizes} for "
                               f"{x._value.type}")
    return sizes, [None] * nd if recompute_scale_factor else [float(s) for s in scales]


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """``torch.nn.functional.interpolate``: ``[N, C, d1, ..., dK] -> [N, C, o1, ..., oK]`` (K = 1, 2, 3).

    ``size`` (an int or K ints) or ``scale_factor`` (a number or K numbers; the output is
    ``floor(d * scale_factor)``, and the factor itself sets the source positions unless
    ``recompute_scale_factor``). ``mode``: "nearest" (PyTorch's legacy rule), "nearest-exact",
    "linear" (3-d input), "bilinear" / "bicubic" (4-d), "trilinear" (5-d) or "area" (adaptive
    average pooling). ``align_corners`` (interpolating modes only, default False) maps the corner
    pixels' centres onto each other. Output: the input's float dtype. Raises LuminaValueError for an unknown mode, both or neither of ``size`` /
    ``scale_factor``, ``align_corners`` with a non-interpolating mode, ``antialias=True`` (not
    supported), LuminaShapeError for a rank the mode does not take or a size of the wrong length,
    LuminaTypeError for an integer input (as PyTorch's CPU kernels for int32 / int64).
    """
    x, op = input, "interpolate"
    if mode not in MODES:
        raise LuminaValueError(f"{op}: unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if align_corners is not None and mode not in _RANK:
        raise LuminaValueError(f"{op}: align_corners can only be set with the interpolating modes linear | bilinear "
                               f"| bicubic | trilinear, got mode {mode!r}")
    if antialias:
        raise LuminaValueError(f"{op}: antialias=True is not supported (mode {mode!r}, input {x._value.type})")
    if x.ndim not in (3, 4, 5) or (mode in _RANK and x.ndim != _RANK[mode]):
        need = f"{_RANK[mode]}-d" if mode in _RANK else "3-d, 4-d or 5-d"
        raise LuminaShapeError(f"{op}: mode {mode!r} needs a {need} input [N, C, ...], got {x._value.type}")
    if not x.dtype.is_float:   # torch's CPU kernels take uint8 too, which lumina has not
        raise LuminaTypeError(f"{op}: mode {mode!r} expects a floating-point input, got {x._value.type}")
    sizes, scales = _sizes(x, size, scale_factor, recompute_scale_factor, op)
    nd = x.ndim - 2
    if mode == "area":
        return getattr(pooling, f"adaptive_avg_pool{nd}d")(x, tuple(sizes))
    dt = np.float64 if x.dtype.name == "float64" else np.float32
    out = x
    for axis in reversed(range(2, x.ndim)):     # the innermost dim first, as PyTorch nests its sums
        i = axis - 2
        acc = None
        for idx, w in _taps(mode, x.shape[axis], sizes[i], bool(align_corners), scales[i], dt):
            part = take(out, axis, tensor(idx.astype(np.int64)))
            if w is not None:
                part = part * tensor(w.astype(x.dtype.numpy)).reshape(sizes[i], *(1,) * (x.ndim - 1 - axis))
            acc = part if acc is None else acc + part
        out = acc
    return out
