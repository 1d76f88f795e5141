"""Resampling and cropping: Resize (opsets 10 to 19), Upsample, GridSample, AffineGrid, RoiAlign,
CenterCropPad.

Resize is separable: each resized axis maps its ``n`` input positions to ``m`` output positions with
``k`` taps per output, whose positions and weights depend only on the sizes, the scale, the mode
and the coordinate transformation, never on the data. They are computed in NumPy while tracing
(``_axis_weights``, the formulas of the ONNX specification as ``onnx/reference/ops/op_resize.py``
vectorises them) and applied to the data with lumina ops: one ``gather`` where every output reads
one input (nearest; exact for any dtype), ``k`` gathers and a weighted sum where ``k`` is small
against ``n`` (linear, cubic and antialiased on long axes), else a ``dot`` with the dense ``[m, n]``
interpolation matrix. ``tf_crop_and_resize`` outputs that fall outside the input read
``extrapolation_value`` (a static mask).

GridSample and RoiAlign sample at data-dependent coordinates: their interpolation matrices are
built from the grid (the regions) with elementwise lumina ops (``where(tap == position, weight, 0)``) and contracted with the
input in one batched ``dot``. AffineGrid and CenterCropPad need only shapes beyond their data.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.dtypes import DType
from ...tensor import Tensor, matmul, maximum, pad, tensor, where
from .registry import axes_index, check_constant, handler, optional, static, tensor_of

_COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                     "asymmetric", "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


# ---- interpolation coefficients (ONNX Resize spec; ratio in (0, 1], 1 where the source is a sample) ----

def _nearest(ratio: float, mode: str) -> list[float]:
    if ratio == 1:
        return [0.0, 1.0]
    right = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
             "floor": False, "ceil": True}[mode]
    return [float(not right), float(right)]


def _linear(ratio: float, scale: float, antialias: bool) -> list[float]:
    if not antialias:
        return [1 - ratio, ratio]
    scale = min(scale, 1.0)   # antialiasing widens the kernel by 1 / scale when downsampling
    start = int(np.floor(-1 / scale) + 1)
    taps = (np.arange(start, 2 - start) - ratio) * scale
    c = np.clip(1 - np.abs(taps), 0, 1)
    return list(c / c.sum())


def _cubic_kernel(x: float, a: float) -> float:
    x = abs(x)
    if x <= 1:
        return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
    if x < 2:
        return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
    return 0.0


def _cubic(ratio: float, scale: float, a: float, antialias: bool) -> list[float]:
    if not antialias:
        return [_cubic_kernel(t, a) for t in (ratio + 1, ratio, 1 - ratio, 2 - ratio)]
    scale = min(scale, 1.0)
    start = int(np.floor(-2 / scale) + 1)
    c = np.array([_cubic_kernel(scale * (i - ratio), a) for i in range(start, 2 - start)])
    return list(c / c.sum())


# ---- one axis -------------------------------------------------------------------------------------

def _source_coords(mode: str, m: int, n: int, scale: float, roi) -> np.ndarray:
    """Where each of the ``m`` output positions samples the ``n`` input ones (the spec's
    ``coordinate_transformation_mode`` formulas). ``align_corners`` and ``tf_crop_and_resize`` divide
    by the unrounded output length ``scale * n`` less one, as the ONNX reference and the conformance
    data do; ONNX Runtime divides by ``m - 1``, which differs where ``scale * n`` has a fraction."""
    y = np.arange(m, dtype=np.float64)
    length = scale * n
    if mode == "align_corners":
        return np.zeros(m) if length == 1 else y * (n - 1) / (length - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        lo, hi = roi
        x = np.full(m, (hi - lo) * (n - 1) / 2) if length == 1 else y * (hi - lo) * (n - 1) / (length - 1)
        return x + lo * (n - 1)
    if mode == "pytorch_half_pixel":
        return np.full(m, -0.5) if length == 1 else (y + 0.5) / scale - 0.5
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    # half_pixel_symmetric: the centre of the input maps to the centre of the output
    return n / 2 * (1 - m / length) + (y + 0.5) / scale - 0.5


def _axis_weights(n: int, m: int, scale: float, roi, attrs: dict, nearest_mode: str):
    """One axis's interpolation: ``[m, k]`` input positions (clamped: the reference pads by
    repeating the edge), their ``[m, k]`` weights, and the ``[m]`` mask of outputs that read
    ``extrapolation_value`` instead (or None)."""
    mode = attrs.get("mode", "nearest")
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    antialias = bool(attrs.get("antialias", 0))
    a = attrs.get("cubic_coeff_a", -0.75)
    x = _source_coords(coord, m, n, scale, roi)
    base = np.floor(x).astype(np.int64)
    ratios = np.where(x == base, 1.0, x - base)
    if mode == "nearest":
        coeffs = np.array([_nearest(r, nearest_mode) for r in ratios])
    elif mode == "linear":
        coeffs = np.array([_linear(r, scale, antialias) for r in ratios])
    else:
        coeffs = np.array([_cubic(r, scale, a, antialias) for r in ratios])
    k = coeffs.shape[1]
    # the k neighbours nearest to x (ties to the smaller index), as the reference picks them
    half = int(np.ceil(k / 2))
    xp = x + half
    p = np.floor(xp).astype(np.int64)
    if k % 2 == 0:
        first = np.where(xp - p == 0, -(k // 2), -(k // 2) + 1)
    else:
        first = np.where(xp - p <= 0.5, -((k - 1) // 2), -((k - 1) // 2) + 1)
    idx = (p + first)[:, None] + np.arange(k)[None, :] - half
    if attrs.get("exclude_outside", 0):
        coeffs = np.where((idx < 0) | (idx >= n), 0.0, coeffs)
        sums = coeffs.sum(1, keepdims=True)
        coeffs = coeffs / np.where(sums == 0, 1.0, sums)
    outside = None
    if coord == "tf_crop_and_resize":
        outside = (x < 0) | (x > n - 1)
        coeffs[outside] = 0.0
        outside = outside if outside.any() else None
    return np.clip(idx, 0, n - 1), coeffs, outside


def _along(x: Tensor, axis: int, fn) -> Tensor:
    """``fn`` applied to ``x`` with ``axis`` moved last (as ``[rows, n]``), moved back."""
    perm = [d for d in range(x.ndim) if d != axis] + [axis]
    moved = x.permute(perm) if axis != x.ndim - 1 else x
    y = fn(moved.reshape(-1, x.shape[axis]))
    y = y.reshape(*moved.shape[:-1], y.shape[-1])
    if axis == x.ndim - 1:
        return y
    back = list(range(x.ndim - 1))
    back.insert(axis, x.ndim - 1)
    return y.permute(back)


def _resample_axis(ctx, x: Tensor, axis: int, taps: np.ndarray, coeffs: np.ndarray, outside, fill: float) -> Tensor:
    """``x`` with ``axis`` resampled: output ``i`` is ``sum_j coeffs[i, j] * x[taps[i, j]]``."""
    n, (m, k) = x.shape[axis], taps.shape
    live = coeffs != 0
    shape = [1] * x.ndim
    shape[axis] = m
    if (live.sum(1) <= 1).all() and (coeffs[live] == 1).all():   # one source per output (nearest): exact
        src = (taps * live).sum(1)
        y = x if m == n and (src == np.arange(n)).all() else x.index_select(axis, src)
    elif not x.dtype.is_float:
        raise ctx.error(f"linear and cubic resampling need a floating-point input, got {x.dtype.name}")
    elif 4 * k < n:   # a few taps per output: gathers and a weighted sum (one fused kernel)
        y = None
        for j in range(k):
            if live[:, j].any():
                term = x.index_select(axis, taps[:, j]) * tensor(coeffs[:, j].reshape(shape).astype(x.dtype.numpy))
                y = term if y is None else y + term
    else:   # a dense [m, n] matrix: one GEMM
        weights = np.zeros((m, n))
        np.add.at(weights, (np.repeat(np.arange(m), k), taps.reshape(-1)), coeffs.reshape(-1))
        w = tensor(np.ascontiguousarray(weights.T).astype(x.dtype.numpy))
        y = _along(x, axis, lambda rows: matmul(rows, w))
    if outside is not None:
        fill_value = fill if x.dtype.is_float else int(fill)
        y = where(tensor(outside.reshape(shape)), tensor(np.array(fill_value, x.dtype.numpy)), y)
    return y


def _resize(ctx, x: Tensor, scales, sizes, roi, axes, attrs: dict, nearest_modes) -> Tensor:
    """``x`` resized on ``axes`` to ``sizes`` (or by ``scales``); ``roi`` as ``[starts, ends]`` per
    axis; ``nearest_modes`` one per axis."""
    compute = x
    low_precision = x.dtype in (DType.float16, DType.bfloat16) and attrs.get("mode", "nearest") != "nearest"
    if low_precision:
        compute = x.to(DType.float32)
    fill = float(attrs.get("extrapolation_value", 0.0))
    for i, axis in enumerate(axes):
        n, m, scale = x.shape[axis], sizes[i], scales[i]
        if m == n and math.isclose(scale, 1.0) and (roi is None or (math.isclose(roi[i][0], 0.0)
                                                                    and math.isclose(roi[i][1], 1.0))):
            continue
        if m <= 0 or n == 0:
            raise ctx.error(f"axis {axis}: cannot resize {n} elements to {m}")
        check_constant(ctx, [m, 8], np.float64, f"the interpolation table of axis {axis}")
        taps, coeffs, outside = _axis_weights(n, m, scale, None if roi is None else roi[i], attrs, nearest_modes[i])
        compute = _resample_axis(ctx, compute, axis, taps, coeffs, outside, fill)
    return compute.to(x.dtype) if low_precision else compute


def _values(ctx, v, what: str) -> np.ndarray | None:
    """An optional input's value: ``None`` where absent or empty."""
    if v is None:
        return None
    arr = static(ctx, v, what)
    return None if arr.size == 0 else np.asarray(arr)


@handler("Resize")
def _resize_op(ctx, xs, attrs):
    x = tensor_of(xs[0])
    mode = attrs.get("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise ctx.error(f"mode={mode!r} is not supported (nearest, linear, cubic)")
    if ctx.opset < 11:   # Resize-10: (X, scales), Upsample's coordinates
        return [_upsample(ctx, x, _values(ctx, optional(xs, 1), "scales"), mode)]
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    if coord not in _COORDINATE_MODES:
        raise ctx.error(f"coordinate_transformation_mode={coord!r} is not supported ({', '.join(_COORDINATE_MODES)})")
    nearest_mode = attrs.get("nearest_mode", "round_prefer_floor")
    if nearest_mode not in _NEAREST_MODES:
        raise ctx.error(f"nearest_mode={nearest_mode!r} is not supported ({', '.join(_NEAREST_MODES)})")
    if mode == "nearest" and attrs.get("antialias", 0):
        raise ctx.error("antialias=1 is not defined for mode='nearest'")
    policy = attrs.get("keep_aspect_ratio_policy", "stretch")
    if policy not in ("stretch", "not_larger", "not_smaller"):
        raise ctx.error(f"keep_aspect_ratio_policy={policy!r} is not supported (stretch, not_larger, not_smaller)")
    axes = axes_index(ctx, attrs.get("axes", range(x.ndim)), x.ndim, unique=True)
    roi_v = _values(ctx, optional(xs, 1), "roi") if coord == "tf_crop_and_resize" else None
    scales_v = _values(ctx, optional(xs, 2), "scales")
    sizes_v = _values(ctx, optional(xs, 3), "sizes")
    if (scales_v is None) == (sizes_v is None):
        raise ctx.error("exactly one of scales and sizes must be given")
    given = scales_v if sizes_v is None else sizes_v
    if given.size != len(axes):
        raise ctx.error(f"{'scales' if sizes_v is None else 'sizes'} {given.tolist()} must have one entry per "
                        f"resized axis ({len(axes)})")
    in_sizes = [x.shape[a] for a in axes]
    if sizes_v is not None:
        sizes = [int(s) for s in sizes_v]
        scales = [s / i for s, i in zip(sizes, in_sizes)]
        if policy != "stretch":
            scale = min(scales) if policy == "not_larger" else max(scales)
            scales = [scale] * len(axes)
            sizes = [int(scale * i + 0.5) for i in in_sizes]
    else:
        scales_f = scales_v.astype(np.float32)
        if not ((scales_f > 0) & np.isfinite(scales_f)).all():
            raise ctx.error(f"scales {scales_v.tolist()} must be positive and finite")
        sizes = [int(v) for v in (scales_f * np.array(in_sizes, np.float32))]   # floor, in float32 as ORT
        scales = [float(s) for s in scales_f]
    roi = None
    if roi_v is not None:
        k = roi_v.size // 2
        if roi_v.size not in (2 * len(axes), 2 * x.ndim):
            raise ctx.error(f"roi {roi_v.tolist()} must hold starts and ends for the {len(axes)} resized axes")
        pairs = [(float(roi_v[j]), float(roi_v[k + j])) for j in range(k)]
        roi = pairs if k == len(axes) else [pairs[a] for a in axes]
    elif coord == "tf_crop_and_resize":
        raise ctx.error("coordinate_transformation_mode='tf_crop_and_resize' needs the roi input")
    return [_resize(ctx, x, scales, sizes, roi, axes, attrs, [nearest_mode] * len(axes))]


def _upsample(ctx, x: Tensor, scales, mode: str) -> Tensor:
    """Upsample and Resize-10: ``floor(size * scale)`` outputs at asymmetric coordinates ``y / scale``;
    nearest picks ``floor`` (``ceil`` when downsampling), as ONNX Runtime."""
    if mode not in ("nearest", "linear"):
        raise ctx.error(f"mode={mode!r} is not supported (nearest, linear)")
    if scales is None or scales.size != x.ndim:
        raise ctx.error(f"scales must have one entry per dim ({x.ndim})")
    scales_f = scales.astype(np.float32)
    sizes = [int(v) for v in scales_f * np.array(x.shape, np.float32)]
    attrs = {"mode": mode, "coordinate_transformation_mode": "asymmetric"}
    nearest = ["ceil" if s < 1 else "floor" for s in scales_f]
    return _resize(ctx, x, [float(s) for s in scales_f], sizes, None, list(range(x.ndim)), attrs, nearest)


@handler("Upsample")
def _upsample_op(ctx, xs, attrs):
    x = tensor_of(xs[0])
    scales = np.asarray(attrs["scales"]) if "scales" in attrs else _values(ctx, optional(xs, 1), "scales")
    return [_upsample(ctx, x, scales, attrs.get("mode", "nearest"))]


# ---- GridSample / AffineGrid: sampling at computed coordinates ------------------------------------

def _floor(v: Tensor) -> Tensor:
    """``floor`` of a float tensor of moderate magnitude (through an int64 cast, which truncates)."""
    t = v.to(DType.int64).to(v.dtype)
    return where(t > v, t - 1.0, t)


def _rint(v: Tensor) -> Tensor:
    """Round half to even (``np.rint``, as PyTorch's grid_sample rounds)."""
    r = _floor(v + 0.5)
    odd = (r - _floor(r * 0.5) * 2.0) == 1.0
    return where(((r - v) == 0.5) & odd, r - 1.0, r)


def _reflect(v: Tensor, lo: float, hi: float) -> Tensor:
    """``v`` reflected at the borders ``lo`` and ``hi`` until it lies between them (the
    reference's ``_gs_reflect``)."""
    span = hi - lo
    if span <= 0:
        return v * 0.0 + lo
    below, above = lo - v, v - hi
    out = v
    for dist, near, far, outside in ((below, lo, hi, v < lo), (above, hi, lo, v > hi)):
        dist = dist.clamp(0.0, None)
        flips = _floor(dist / span)
        rest = dist - flips * span
        even = (flips - _floor(flips * 0.5) * 2.0) == 0.0
        toward = 1.0 if near == lo else -1.0
        out = where(outside, where(even, rest * toward + near, far - rest * toward), out)
    return out


def _keys_cubic(t: Tensor, a: float = -0.75) -> list[Tensor]:
    """The four cubic convolution weights (Keys, 1981) of taps ``-1, 0, 1, 2`` at fraction ``t``."""
    def near(s):   # |s| <= 1
        return ((s * (a + 2) - (a + 3)) * s) * s + 1.0

    def far(s):    # 1 < |s| < 2
        return ((s * a - 5 * a) * s + 8 * a) * s - 4 * a
    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


@handler("GridSample")
def _grid_sample(ctx, xs, attrs):
    """``X [N, C, *S]`` sampled at ``grid [N, *out, n]`` (normalised coordinates, innermost dim
    first). Each spatial dim ``i`` gives a data-dependent interpolation matrix
    ``A_i [N, P, S_i]`` (``where(tap index == position, tap weight, 0)`` summed over the taps; a tap
    outside the input matches no position, which is ``padding_mode='zeros'``); their outer product
    ``[N, P, prod(S)]`` contracts with ``X`` in one batched ``dot``."""
    x, grid = tensor_of(xs[0]), tensor_of(xs[1])
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(attrs.get("mode", "linear"), attrs.get("mode", "linear"))
    padding = attrs.get("padding_mode", "zeros")
    align = bool(attrs.get("align_corners", 0))
    if mode not in ("nearest", "linear", "cubic"):
        raise ctx.error(f"mode={attrs.get('mode')!r} is not supported (nearest, linear/bilinear, cubic/bicubic)")
    if padding not in ("zeros", "border", "reflection"):
        raise ctx.error(f"padding_mode={padding!r} is not supported (zeros, border, reflection)")
    dims = x.shape[2:]
    if x.ndim < 3 or grid.ndim != x.ndim or grid.shape[0] != x.shape[0] or grid.shape[-1] != len(dims):
        raise ctx.error(f"grid {list(grid.shape)} must be [N, *out, {len(dims)}] for X {list(x.shape)}")
    if not x.dtype.is_float or not grid.dtype.is_float:
        raise ctx.error(f"X and grid must be floating-point, got {x.dtype.name} and {grid.dtype.name}")
    n, out = x.shape[0], grid.shape[1:-1]
    points = math.prod(out)
    coords = grid.to(DType.float32).reshape(n, points, len(dims))
    mats = []
    for i, size in enumerate(dims):
        v = coords[:, :, len(dims) - 1 - i]                                  # [N, P]
        v = (v + 1.0) * (0.5 * (size - 1)) if align else ((v + 1.0) * size - 1.0) * 0.5
        if mode == "nearest":
            v = _rint(v)
        lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        # the coordinate itself is brought inside first, except for cubic, whose taps are
        # bounded one by one (as PyTorch's grid_sample and ONNX Runtime; the ONNX reference also
        # clamps a cubic coordinate for border padding)
        if padding == "border" and mode != "cubic":
            v = where((v < lo) | (v > hi), v.clamp(0.0, size - 1.0), v)
        elif padding == "reflection" and mode != "cubic":
            v = _reflect(v, lo, hi)
        if padding == "zeros":   # far outside, every tap misses: keep the int64 cast in range
            v = v.clamp(-4.0, size + 4.0)
        if mode == "nearest":
            taps = [(v, None)]
        else:
            base = _floor(v)
            t = v - base
            weights = [1.0 - t, t] if mode == "linear" else _keys_cubic(t)
            first = 0 if mode == "linear" else -1
            taps = [(base + float(first + k), w) for k, w in enumerate(weights)]
        positions = tensor(np.arange(size, dtype=np.float32).reshape(1, 1, size))
        mat = None
        for index, w in taps:
            if padding == "border":
                index = index.clamp(0.0, size - 1.0)
            elif padding == "reflection":
                index = _reflect(index, lo, hi).to(DType.int64).to(DType.float32)
            hit = index.unsqueeze(2) == positions                              # [N, P, S_i]
            term = hit.to(DType.float32) if w is None else where(hit, w.unsqueeze(2), 0.0)
            mat = term if mat is None else mat + term
        mats.append(mat)
    full = mats[0]
    for m in mats[1:]:   # outer product over the spatial dims: [N, P, S_0 * ... * S_i]
        full = (full.unsqueeze(3) * m.unsqueeze(2)).reshape(n, points, -1)
    y = matmul(x.reshape(n, x.shape[1], -1), full.to(x.dtype).permute(0, 2, 1))     # [N, C, P]
    return [y.reshape(n, x.shape[1], *out)]


@handler("RoiAlign")
def _roi_align(ctx, xs, attrs):
    """Each region of interest ``rois [R, 4]`` (x1, y1, x2, y2, times ``spatial_scale``) of image
    ``batch_indices[r]``, pooled to ``[output_height, output_width]`` bins of
    ``sampling_ratio ** 2`` bilinear samples each (averaged, or the max of the samples' weighted
    corners for ``mode='max'``, as the reference and ONNX Runtime). Sample positions depend on the
    data, so the bilinear weights are per-dim matrices built with ``where``; they are separable, and
    ``avg`` is ``B_y @ X[b] @ B_x^T`` per region."""
    x, rois, batch_idx = tensor_of(xs[0]), tensor_of(xs[1]), tensor_of(xs[2])
    mode = attrs.get("mode", "avg")
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    ratio = attrs.get("sampling_ratio", 0)
    out_hw = (attrs.get("output_height", 1), attrs.get("output_width", 1))
    scale = float(attrs.get("spatial_scale", 1.0))
    if mode not in ("avg", "max") or coord not in ("half_pixel", "output_half_pixel"):
        raise ctx.error(f"mode={mode!r} / coordinate_transformation_mode={coord!r} are not supported "
                        "(avg, max / half_pixel, output_half_pixel)")
    if ratio <= 0:
        raise ctx.error("sampling_ratio=0 (an adaptive number of samples per bin, which depends on the "
                        "rois' data) is not supported; give sampling_ratio > 0")
    if x.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 4 or batch_idx.shape != (rois.shape[0],):
        raise ctx.error(f"X {list(x.shape)}, rois {list(rois.shape)} and batch_indices {list(batch_idx.shape)} "
                        "must be [N, C, H, W], [R, 4] and [R]")
    if not x.dtype.is_float:
        raise ctx.error(f"expects a floating-point input, got {x.dtype.name}")
    r = rois.shape[0]
    half = 0.5 if coord == "half_pixel" else 0.0
    box = rois.to(x.dtype) * scale - half                                     # [R, 4]
    per_dim = []
    for axis, size, pooled in ((1, x.shape[2], out_hw[0]), (0, x.shape[3], out_hw[1])):
        start, end = box[:, axis], box[:, axis + 2]
        length = end - start if half else (end - start).clamp(1.0, None)     # malformed rois count as 1
        bin_size = (length / float(pooled)).reshape(r, 1)
        steps = np.add.outer(np.arange(pooled), (np.arange(ratio) + 0.5) / ratio).reshape(1, -1)   # [1, pooled * ratio]
        v = start.reshape(r, 1) + bin_size * tensor(steps.astype(x.dtype.numpy))           # [R, S]
        valid = ((v >= -1.0) & (v <= float(size))).to(x.dtype)
        v = v.clamp(0.0, None)
        low = v.to(DType.int64).to(x.dtype)
        top = low >= float(size - 1)
        low = where(top, float(size - 1), low)
        v = where(top, low, v)
        high = where(top, low, low + 1.0)
        frac = v - low
        positions = tensor(np.arange(size, dtype=x.dtype.numpy)).reshape(1, 1, size)
        lows = where(low.unsqueeze(2) == positions, ((1.0 - frac) * valid).unsqueeze(2), 0.0)   # [R, S, size]
        highs = where(high.unsqueeze(2) == positions, (frac * valid).unsqueeze(2), 0.0)
        per_dim.append((lows, highs))
    image = x.index_select(0, batch_idx.to(DType.int64))                        # [R, C, H, W]
    (ylo, yhi), (xlo, xhi) = per_dim
    if mode == "avg":
        by = (ylo + yhi).reshape(r, out_hw[0], ratio, -1).sum(2).unsqueeze(1)   # [R, 1, PH, H]
        bx = (xlo + xhi).reshape(r, out_hw[1], ratio, -1).sum(2).unsqueeze(1)   # [R, 1, PW, W]
        return [matmul(matmul(by, image), bx.permute(0, 1, 3, 2)) / float(ratio * ratio)]
    best = None
    for ay in (ylo, yhi):
        rows = matmul(ay.unsqueeze(1), image)                                   # [R, C, PH * ratio, W]
        for ax in (xlo, xhi):
            corner = matmul(rows, ax.unsqueeze(1).permute(0, 1, 3, 2))          # [R, C, PH * ratio, PW * ratio]
            best = corner if best is None else maximum(best, corner)
    best = best.reshape(r, x.shape[1], out_hw[0], ratio, out_hw[1], ratio)
    return [best.amax((3, 5))]


@handler("AffineGrid")
def _affine_grid(ctx, xs, attrs):
    """``theta [N, n, n+1]`` applied to the normalised base grid of ``size [N, C, *S]``: the
    homogeneous points ``(x, y, [z,] 1)`` of every output position (a constant) times
    ``theta^T``, as ``[N, *S, n]``."""
    theta = tensor_of(xs[0])
    size = [int(s) for s in static(ctx, xs[1], "size")]
    dims = size[2:]
    if len(dims) not in (2, 3) or theta.shape[1:] != (len(dims), len(dims) + 1):
        raise ctx.error(f"theta {list(theta.shape)} must be [N, {len(dims)}, {len(dims) + 1}] for size {size} "
                        "(2-D or 3-D)")
    align = bool(attrs.get("align_corners", 0))
    axes = [np.linspace(-1.0, 1.0, d) if align else (2 * np.arange(d) + 1) / d - 1.0 for d in dims]
    mesh = np.meshgrid(*axes, indexing="ij")                         # one [*S] array per dim
    base = np.stack([m.reshape(-1) for m in reversed(mesh)] + [np.ones(math.prod(dims))], 1)
    grid = matmul(tensor(base.astype(theta.dtype.numpy)), theta.permute(0, 2, 1))   # [N, P, n]
    return [grid.reshape(theta.shape[0], *dims, len(dims))]


@handler("CenterCropPad")
def _center_crop_pad(ctx, xs, attrs):
    """Each of ``axes`` cropped or zero-padded to ``shape`` about its centre (an odd difference
    leaves the extra element at the end)."""
    x = xs[0]
    shape = [int(s) for s in static(ctx, xs[1], "shape")]
    axes = axes_index(ctx, attrs.get("axes", range(len(x.shape))), len(x.shape), unique=True)
    if len(shape) != len(axes) or any(s < 0 for s in shape):
        raise ctx.error(f"shape {shape} must hold one non-negative size per axis ({axes})")
    key, pads = [slice(None)] * x.ndim, [(0, 0)] * x.ndim
    for a, want in zip(axes, shape):
        have = x.shape[a]
        if want < have:
            start = (have - want) // 2
            key[a] = slice(start, start + want)
        elif want > have:
            pads[a] = ((want - have) // 2, want - have - (want - have) // 2)
    if isinstance(x, np.ndarray):
        return [np.pad(x[tuple(key)], pads)]
    y = x[tuple(key)]
    if any(p != (0, 0) for p in pads):
        y = pad(y, [v for p in reversed(pads) for v in p])
    return [y]
