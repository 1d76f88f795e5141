"""Convolution and pooling over ``[N, C, D1, ..., Dn]`` (any number of spatial dims): Conv,
ConvTranspose, DeformConv, MaxPool (with its Indices output), MaxUnpool, AveragePool, LpPool, the
global pools, and Col2Im.

Every op reads its input through *windows*: the input is padded once, and kernel offset
``(j1, ..., jn)`` of every output position is one slice of the padded input, of the output's
spatial shape (``_windows``). Pools combine the slices elementwise (a sum over a static divisor, a
max, a sum of powers); Conv stacks them into im2col columns and contracts them with the weight in
one batched ``dot`` (``lumina.nn.functional.conv2d`` for 1-D and 2-D, ``_conv_nd`` beyond).
ConvTranspose is the convolution of the stride-dilated (zero-interleaved) input with the flipped,
transposed weight; Col2Im is the sum over kernel offsets of each column block placed (interleaved
and padded) into the image. Output sizes, pads and divisors depend only on shapes and are computed
in Python while tracing.

Semantics: the ONNX operator specification and ``onnx/reference/ops`` (``op_pool_common``,
``op_max_pool``, ``op_conv_transpose``, ``op_col2im``). A ``ceil_mode`` window that runs past the
end padding reads nothing there (as ONNX Runtime and PyTorch); it never counts in a divisor.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ...ir.dtypes import DType
from ...nn import functional as F
from ...nn.functional.conv import computed_channels_last, windows
from ...tensor.movement import pad
from ...tensor import Tensor, matmul, maximum, stack, tensor, where, zeros
from .registry import handler, ints, optional, tensor_of


# ---- geometry ---------------------------------------------------------------------------------------

def _auto_pad(ctx, attrs) -> str:
    auto = attrs.get("auto_pad", "NOTSET")
    if auto not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise ctx.error(f"auto_pad={auto!r} is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER)")
    return auto


def _spatial_attr(ctx, attrs, key: str, n: int, default: int) -> list[int]:
    v = list(attrs.get(key, [default] * n))
    if len(v) != n:
        raise ctx.error(f"{key} {v} must have one entry per spatial dim ({n})")
    return [int(i) for i in v]


def _geometry(ctx, attrs, sizes, kernel, strides, dilations, ceil_mode: bool = False):
    """``(begin pads, end pads, output sizes)`` of a sliding window over ``sizes``, from ``pads`` or
    ``auto_pad`` (ONNX's formulas: SAME gives ``ceil(size / stride)`` outputs, the odd padding
    element at the end for SAME_UPPER and at the beginning for SAME_LOWER)."""
    n = len(sizes)
    auto = _auto_pad(ctx, attrs)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        outs = [-(-size // s) for size, s in zip(sizes, strides)]
        totals = [max(0, (o - 1) * s + e - size) for o, s, e, size in zip(outs, strides, spans, sizes)]
        small, big = [t // 2 for t in totals], [t - t // 2 for t in totals]
        begin, end = (small, big) if auto == "SAME_UPPER" else (big, small)
        return begin, end, outs
    pads = [0] * (2 * n) if auto == "VALID" else _spatial_attr(ctx, attrs, "pads", 2 * n, 0)
    if any(p < 0 for p in pads):
        raise ctx.error(f"negative pads {pads} are not supported")
    begin, end = pads[:n], pads[n:]
    outs = []
    for size, b, e, span, s in zip(sizes, begin, end, spans, strides):
        room = size + b + e - span
        if room < 0:
            raise ctx.error(f"the window (kernel {list(kernel)}, dilations {list(dilations)}) is larger than "
                            f"the padded input {list(sizes)} (pads {pads})")
        out = -(-room // s) + 1 if ceil_mode else room // s + 1
        if ceil_mode and (out - 1) * s >= size + b:   # the last window must start inside the input
            out -= 1
        outs.append(out)
    return begin, end, outs


def _pad_spatial(x: Tensor, begin, end, value: float = 0.0) -> Tensor:
    """``x`` padded (negative amounts crop) by ``begin`` / ``end`` on its spatial dims."""
    if not any(begin) and not any(end):
        return x
    return pad(x, [p for b, e in zip(reversed(begin), reversed(end)) for p in (b, e)], value=value)


def _float_input(ctx, x: Tensor) -> Tensor:
    if not x.dtype.is_float:
        raise ctx.error(f"expects a floating-point input, got {x.dtype.name}{list(x.shape)}")
    return x


def _spatial_rank(ctx, x, least: int = 1) -> int:
    if x.ndim < 2 + least:
        raise ctx.error(f"expects an input [N, C, D1, ...] with at least {least} spatial dim(s), got shape "
                        f"{list(x.shape)}")
    return x.ndim - 2


# ---- convolution --------------------------------------------------------------------------------

def _conv_nd(x: Tensor, w: Tensor, strides, dilations, groups: int) -> Tensor:
    """Cross-correlation of the (already padded) ``x [N, C, *S]`` with ``w [O, C/g, *k]``: im2col
    columns ``[g, C/g * K, N * P]`` from the windows, contracted with the weight ``[g, O/g, C/g * K]``
    in one batched ``dot`` (the layout of ``conv2d``)."""
    n, o, cg, kernel = x.shape[0], w.shape[0], w.shape[1], w.shape[2:]
    outs = [(size - d * (k - 1) - 1) // s + 1 for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations)]
    xc = x.permute(1, 0, *range(2, x.ndim))                                # [C, N, *S]
    cols = stack(windows(xc, kernel, strides, dilations, outs), 1)        # [C, K, N, *outs]
    cols = cols.reshape(groups, cg * math.prod(kernel), n * math.prod(outs))
    y = matmul(w.reshape(groups, o // groups, cg * math.prod(kernel)), cols)    # [g, O/g, N * P]
    return y.reshape(o, n, *outs).permute(1, 0, *range(2, 2 + len(outs)))


def _convolve(ctx, x: Tensor, w: Tensor, strides, dilations, groups: int) -> Tensor:
    """Cross-correlation of the already padded ``x`` with ``w``: ``conv2d`` for 1-D and 2-D."""
    if x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ctx.error(f"input {list(x.shape)} and weight {list(w.shape)} do not match with group={groups}")
    if x.ndim == 3:
        y = F.conv2d(x.unsqueeze(2), w.unsqueeze(2), None, (1, strides[0]), 0, (1, dilations[0]), groups)
        return y.squeeze(2)
    if x.ndim == 4:
        return F.conv2d(x, w, None, tuple(strides), 0, tuple(dilations), groups)
    return _conv_nd(x, w, strides, dilations, groups)


def _add_bias(y: Tensor, b) -> Tensor:
    if b is None:
        return y
    return y + tensor_of(b).reshape(1, -1, *([1] * (y.ndim - 2)))


@handler("Conv")
def _conv(ctx, xs, attrs):
    x, w = tensor_of(xs[0]), tensor_of(xs[1])
    n = _spatial_rank(ctx, x)
    if w.ndim != x.ndim:
        raise ctx.error(f"weight {list(w.shape)} must have the input's rank ({x.ndim})")
    kernel = _spatial_attr(ctx, attrs, "kernel_shape", n, 1) if "kernel_shape" in attrs else list(w.shape[2:])
    strides = _spatial_attr(ctx, attrs, "strides", n, 1)
    dilations = _spatial_attr(ctx, attrs, "dilations", n, 1)
    begin, end, _ = _geometry(ctx, attrs, x.shape[2:], kernel, strides, dilations)
    y = _convolve(ctx, _pad_spatial(x, begin, end), w, strides, dilations, attrs.get("group", 1))
    return [_add_bias(y, optional(xs, 2))]


@handler("ConvTranspose")
def _conv_transpose(ctx, xs, attrs):
    """The gradient of Conv with respect to its input, as the ONNX reference computes it: one GEMM
    of the weight ``[C, O/g, *k]`` with the input gives every (input position, weight tap)
    product, which Col2Im sums into place (no multiplications by the zeros a stride interleaves,
    unlike a convolution of the zero-interleaved input with the flipped kernel). Output size (ONNX spec):
    ``stride * (in - 1) + output_padding + dilation * (k - 1) + 1 - pads``, or ``output_shape``,
    or ``in * stride`` for SAME (pads then follow from it)."""
    x, w = tensor_of(xs[0]), tensor_of(xs[1])
    n = _spatial_rank(ctx, x)
    groups = attrs.get("group", 1)
    c, og, kernel = w.shape[0], w.shape[1], list(w.shape[2:])
    if w.ndim != x.ndim or x.shape[1] != c or c % groups:
        raise ctx.error(f"input {list(x.shape)} and weight {list(w.shape)} do not match with group={groups} "
                        "(weight is [C, O/group, k1, ...])")
    if "kernel_shape" in attrs and list(attrs["kernel_shape"]) != kernel:
        raise ctx.error(f"kernel_shape {list(attrs['kernel_shape'])} differs from the weight's {kernel}")
    strides = _spatial_attr(ctx, attrs, "strides", n, 1)
    dilations = _spatial_attr(ctx, attrs, "dilations", n, 1)
    out_pad = _spatial_attr(ctx, attrs, "output_padding", n, 0)
    auto = _auto_pad(ctx, attrs)
    sizes = x.shape[2:]
    full = [s * (i - 1) + p + d * (k - 1) + 1 for s, i, p, d, k in zip(strides, sizes, out_pad, dilations, kernel)]
    if "output_shape" in attrs:
        target = [int(v) for v in attrs["output_shape"]][-n:]
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        target = [s * i for s, i in zip(strides, sizes)]
    else:
        target = None
    if "pads" in attrs and auto == "NOTSET":
        pads = _spatial_attr(ctx, attrs, "pads", 2 * n, 0)
        begin, end = pads[:n], pads[n:]
    elif target is not None:
        # SAME reaches in * stride exactly (a negative total pads the output instead: the spec and
        # the reference; ONNX Runtime stops at the unpadded size there); an output_shape beyond
        # the full size gets zeros at the end
        totals = [f - t if auto in ("SAME_UPPER", "SAME_LOWER") else max(0, f - t) for f, t in zip(full, target)]
        small, big = [t // 2 for t in totals], [t - t // 2 for t in totals]
        begin, end = (small, big) if auto == "SAME_UPPER" else (big, small)
    else:
        begin, end = [0] * n, [0] * n
    natural = [f - b - e for f, b, e in zip(full, begin, end)]
    target = natural if target is None else target
    if any(t <= 0 for t in target):
        raise ctx.error(f"output size {target} is not positive (input {list(x.shape)}, kernel {kernel}, strides "
                        f"{strides}, pads {begin + end})")
    # columns [g, O/g * K, N * P]: every input position times every weight tap, then summed into place
    cols = matmul(w.reshape(groups, c // groups, og * math.prod(kernel)).permute(0, 2, 1),
                  x.reshape(x.shape[0], groups, c // groups, -1).permute(1, 2, 0, 3).reshape(groups, c // groups, -1))
    cols = cols.reshape(groups * og, math.prod(kernel), x.shape[0], *sizes).permute(2, 0, 1, *range(3, 3 + n))
    y = _place_blocks(cols, target, kernel, strides, dilations, begin)
    return [_add_bias(y, optional(xs, 2))]


def _place_blocks(cols: Tensor, image, block, strides, dilations, begin) -> Tensor:
    """``cols [N, C, prod(block), *grid]`` summed into ``[N, C, *image]``: grid position ``o`` of
    block offset ``j`` lands on ``o * stride + j * dilation - begin`` (positions outside the image
    are dropped; Col2Im, and ConvTranspose after its GEMM).

    By output phase ``r = position mod stride``: the offsets whose ``j * dilation`` has phase ``r``
    add up, each shifted by whole blocks (a unit-step ``pad``), into one ``[N, C, *blocks]`` tensor
    per phase; the phases are then interleaved by one stack, permute and reshape. No zeros are
    interleaved and summed, and every index stays a plain shift."""
    n, c, grid = cols.shape[0], cols.shape[1], cols.shape[3:]
    spans = [s * (g - 1) + d * (k - 1) + 1 for s, g, d, k in zip(strides, grid, dilations, block)]
    blocks = [-(-span // s) for span, s in zip(spans, strides)]
    offsets = list(itertools.product(*(range(b) for b in block)))
    phases = []
    for phase in itertools.product(*(range(s) for s in strides)):
        total = None
        for k, offset in enumerate(offsets):
            if any(j * d % s != r for j, d, s, r in zip(offset, dilations, strides, phase)):
                continue
            shift = [j * d // s for j, d, s in zip(offset, dilations, strides)]
            piece = _pad_spatial(cols[:, :, k], shift, [b - q - g for b, q, g in zip(blocks, shift, grid)])
            total = piece if total is None else total + piece
        phases.append(total if total is not None else zeros(n, c, *blocks, dtype=cols.dtype))
    if len(phases) == 1:
        y = phases[0]
    else:   # [N, C, S, *blocks] -> [N, C, s1, .., sn, b1, .., bn] -> [N, C, b1, s1, ..] -> [N, C, b1 * s1, ..]
        rank = len(grid)
        y = stack(phases, 2).reshape(n, c, *strides, *blocks)
        y = y.permute(0, 1, *(a for i in range(rank) for a in (2 + rank + i, 2 + i)))
        y = y.reshape(n, c, *(b * s for b, s in zip(blocks, strides)))
    return _pad_spatial(y, [-b for b in begin], [size - b * s + b0 for size, b, s, b0 in zip(image, blocks, strides, begin)])


@handler("DeformConv")
def _deform_conv(ctx, xs, attrs):
    """Conv whose taps read the input at learned fractional positions: tap ``k`` of output ``o``
    reads ``o * stride - pad_begin + k * dilation + offset[n, g, k, :, o]`` bilinearly (taps outside
    the input read zero), scaled by ``mask[n, g, k, o]``; offset group ``g`` serves
    ``C / offset_group`` input channels. The sampling, data-dependent, is one interpolation matrix
    ``[N, og, K * P, prod(S)]`` (per dim ``where(tap == position, weight, 0)``, their outer
    product) contracted with the input; the columns then contract with the weight as in Conv."""
    from .resize import _floor
    x, w, offset = tensor_of(xs[0]), tensor_of(xs[1]), tensor_of(xs[2])
    n = _spatial_rank(ctx, x)
    groups, og = attrs.get("group", 1), attrs.get("offset_group", 1)
    batch, c, sizes = x.shape[0], x.shape[1], x.shape[2:]
    o, kernel = w.shape[0], list(w.shape[2:])
    if "kernel_shape" in attrs and list(attrs["kernel_shape"]) != kernel:
        raise ctx.error(f"kernel_shape {list(attrs['kernel_shape'])} differs from the weight's {kernel}")
    strides = _spatial_attr(ctx, attrs, "strides", n, 1)
    dilations = _spatial_attr(ctx, attrs, "dilations", n, 1)
    pads = _spatial_attr(ctx, attrs, "pads", 2 * n, 0)
    outs = [(size + pads[a] + pads[a + n] - d * (k - 1) - 1) // s + 1
            for a, (size, k, s, d) in enumerate(zip(sizes, kernel, strides, dilations))]
    taps, points = math.prod(kernel), math.prod(outs)
    if (w.ndim != x.ndim or c != w.shape[1] * groups or o % groups or c % og
            or offset.shape != (batch, og * taps * n, *outs)):
        raise ctx.error(f"X {list(x.shape)}, W {list(w.shape)} and offset {list(offset.shape)} do not match "
                        f"(group={groups}, offset_group={og}, output {outs})")
    if not x.dtype.is_float:
        raise ctx.error(f"expects a floating-point input, got {x.dtype.name}")
    offset = offset.reshape(batch, og, taps, n, points)
    mats = []
    for a, (size, k, s, d) in enumerate(zip(sizes, kernel, strides, dilations)):
        shape = [1] * n
        shape[a] = k
        tap_pos = np.broadcast_to((np.arange(k) * d).reshape(shape), kernel).reshape(taps, 1)
        shape = [1] * n
        shape[a] = outs[a]
        out_pos = np.broadcast_to((np.arange(outs[a]) * s - pads[a]).reshape(shape), outs).reshape(1, points)
        coord = offset[:, :, :, a] + tensor((tap_pos + out_pos).astype(x.dtype.numpy))   # [N, og, K, P]
        coord = coord.clamp(-2.0, size + 1.0).reshape(batch, og, taps * points, 1)   # far outside: all taps miss
        low = _floor(coord)
        frac = coord - low
        positions = tensor(np.arange(size, dtype=x.dtype.numpy))
        mats.append(where(low == positions, 1.0 - frac, 0.0) + where(low + 1.0 == positions, frac, 0.0))
    full = mats[0]
    for m in mats[1:]:   # [N, og, K * P, S_0 * ... * S_a]
        full = (full.unsqueeze(4) * m.unsqueeze(3)).reshape(batch, og, taps * points, -1)
    mask = optional(xs, 4)
    if mask is not None:
        full = full * tensor_of(mask).reshape(batch, og, taps * points, 1)
    cols = matmul(x.reshape(batch, og, c // og, -1), full.permute(0, 1, 3, 2))         # [N, og, C/og, K * P]
    cols = cols.reshape(batch, groups, c // groups * taps, points)
    y = matmul(w.reshape(1, groups, o // groups, c // groups * taps), cols)             # [N, g, O/g, P]
    return [_add_bias(y.reshape(batch, o, *outs), optional(xs, 3))]


@handler("Col2Im")
def _col2im(ctx, xs, attrs):
    """``[N, C * prod(block), L]`` columns summed back into ``[N, C, *image_shape]`` (the inverse
    of an im2col with these strides, dilations and pads), by ``_place_blocks``."""
    x = tensor_of(xs[0])
    image, block = ints(ctx, xs[1], "image_shape"), ints(ctx, xs[2], "block_shape")
    n = len(image)
    if len(block) != n or x.ndim != 3 or x.shape[1] % math.prod(block):
        raise ctx.error(f"input {list(x.shape)} does not hold [N, C * prod(block {block}), L] columns for "
                        f"image {image}")
    strides = _spatial_attr(ctx, attrs, "strides", n, 1)
    dilations = _spatial_attr(ctx, attrs, "dilations", n, 1)
    pads = _spatial_attr(ctx, attrs, "pads", 2 * n, 0)
    outs = [(i + pads[a] + pads[a + n] - d * (k - 1) - 1) // s + 1
            for a, (i, k, s, d) in enumerate(zip(image, block, strides, dilations))]
    if math.prod(outs) != x.shape[2]:
        raise ctx.error(f"{x.shape[2]} columns do not match the {outs} block positions of image {image} "
                        f"(block {block}, strides {strides}, dilations {dilations}, pads {pads})")
    batch, c = x.shape[0], x.shape[1] // math.prod(block)
    return [_place_blocks(x.reshape(batch, c, math.prod(block), *outs), image, block, strides, dilations, pads[:n])]


# ---- pooling ------------------------------------------------------------------------------------

def _pool_setup(ctx, x, attrs):
    n = _spatial_rank(ctx, x)
    if "kernel_shape" not in attrs:
        raise ctx.error("kernel_shape is required")
    kernel = _spatial_attr(ctx, attrs, "kernel_shape", n, 1)
    strides = _spatial_attr(ctx, attrs, "strides", n, 1)
    dilations = _spatial_attr(ctx, attrs, "dilations", n, 1)
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    begin, end, outs = _geometry(ctx, attrs, x.shape[2:], kernel, strides, dilations, ceil_mode)
    return kernel, strides, dilations, begin, end, outs


def _pooledwindows(x: Tensor, kernel, strides, dilations, begin, end, outs, fill: float) -> list[Tensor]:
    """The windows of ``x`` padded by ``begin`` / ``end`` with ``fill`` (and, for ``ceil_mode``,
    past the end padding too: those elements are read by no divisor and no max)."""
    need = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(outs, strides, dilations, kernel)]
    tail = [max(e, q - size - b) for e, q, size, b in zip(end, need, x.shape[2:], begin)]
    return windows(_pad_spatial(x, begin, tail, fill), kernel, strides, dilations, outs,
                   via_channels_last=computed_channels_last(x))


def _tap_positions(size: int, k: int, s: int, d: int, b: int, out: int) -> np.ndarray:
    """``[out, k]``: the input position each tap of each window reads (negative: begin padding)."""
    return np.arange(out)[:, None] * s - b + np.arange(k)[None, :] * d


def _divisor(x, kernel, strides, dilations, begin, end, outs, include_pad: bool) -> np.ndarray:
    """``[*outs]`` number of taps per window that count: those inside the input, or inside the
    input and its pads with ``count_include_pad``."""
    counts = None
    for size, k, s, d, b, e, o in zip(x.shape[2:], kernel, strides, dilations, begin, end, outs):
        pos = _tap_positions(size, k, s, d, b, o)
        lo, hi = (-b, size + e) if include_pad else (0, size)
        c = ((pos >= lo) & (pos < hi)).sum(1)
        counts = c if counts is None else np.multiply.outer(counts, c)
    return counts.astype(np.float64)


def _sum(parts: list[Tensor]) -> Tensor:
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


@handler("AveragePool")
def _average_pool(ctx, xs, attrs):
    x = _float_input(ctx, tensor_of(xs[0]))
    kernel, strides, dilations, begin, end, outs = _pool_setup(ctx, x, attrs)
    include = bool(attrs.get("count_include_pad", 0))
    total = _sum(_pooledwindows(x, kernel, strides, dilations, begin, end, outs, 0.0))
    div = _divisor(x, kernel, strides, dilations, begin, end, outs, include)
    if (div == div.flat[0]).all():
        return [total / float(div.flat[0])]
    return [total / tensor(div.astype(x.dtype.numpy))]


@handler("LpPool")
def _lp_pool(ctx, xs, attrs):
    """``(sum over the window of |x|^p)^(1/p)``, pads contributing zeros (the reference's
    ``pool(..., "LPPOOL")``)."""
    x = _float_input(ctx, tensor_of(xs[0]))
    kernel, strides, dilations, begin, end, outs = _pool_setup(ctx, x, attrs)
    p = attrs.get("p", 2)
    powered = x.abs() ** p if p != 2 else x * x
    total = _sum(_pooledwindows(powered, kernel, strides, dilations, begin, end, outs, 0.0))
    return [total.sqrt() if p == 2 else total ** (1.0 / p)]


def _lowest(x: Tensor) -> float | int:
    return -math.inf if x.dtype.is_float else int(np.iinfo(x.dtype.numpy).min)


@handler("MaxPool")
def _max_pool(ctx, xs, attrs):
    """The max over each window; the optional second output ``Indices`` (int64) holds the position of
    each window's first maximum (row-major scan) in the flattened input ``[N, C, *S]``, its spatial
    part row-major (``storage_order=0``) or column-major (``storage_order=1``)."""
    x = tensor_of(xs[0])
    if x.dtype is DType.bool:
        raise ctx.error("bool input is not supported")
    kernel, strides, dilations, begin, end, outs = _pool_setup(ctx, x, attrs)
    parts = _pooledwindows(x, kernel, strides, dilations, begin, end, outs, _lowest(x))
    y = parts[0]
    for p in parts[1:]:
        y = maximum(y, p)
    if ctx.n_outputs < 2:
        return [y]
    return [y, _argmax_indices(x, parts, y, kernel, strides, dilations, begin, outs,
                               attrs.get("storage_order", 0))]


def _argmax_indices(x, parts, y, kernel, strides, dilations, begin, outs, storage_order: int) -> Tensor:
    sizes = x.shape[2:]
    order = range(len(sizes)) if storage_order == 0 else reversed(range(len(sizes)))
    step, unit = [0] * len(sizes), 1
    for a in reversed(list(order)):   # the flat stride of each spatial dim
        step[a], unit = unit, unit * sizes[a]
    taps = [_tap_positions(size, k, s, d, b, o)
            for size, k, s, d, b, o in zip(sizes, kernel, strides, dilations, begin, outs)]
    tables = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        flat = np.zeros(outs, np.int64)
        for a, j in enumerate(offsets):
            shape = [1] * len(outs)
            shape[a] = outs[a]
            flat = flat + (taps[a][:, j] * step[a]).reshape(shape)
        tables.append(flat)
    idx = tensor(tables[-1])
    for p, table in zip(reversed(parts[:-1]), reversed(tables[:-1])):   # the first offset that holds the max wins
        idx = where(p == y, tensor(table), idx)
    n, c = x.shape[:2]
    base = (np.arange(n * c, dtype=np.int64) * math.prod(sizes)).reshape(n, c, *([1] * len(sizes)))
    return idx + tensor(base)


@handler("MaxUnpool")
def _max_unpool(ctx, xs, attrs):
    """``X`` scattered to the flat positions ``I`` (MaxPool's Indices) of a zero tensor of the
    unpooled shape ``(in - 1) * stride - pads + kernel``, which is then zero-padded at the end to
    ``output_shape`` if given (as the ONNX reference; ONNX Runtime instead reads the indices as
    positions of ``output_shape``). Per ``(n, c)`` slab, output ``q`` is
    ``sum_p where(I[p] - slab base == q, X[p], 0)``: indices must point into their own slab, as
    MaxPool's do (others are dropped), and positions named twice add up."""
    x, idx = tensor_of(xs[0]), tensor_of(xs[1])
    n = _spatial_rank(ctx, x)
    if idx.shape != x.shape or not idx.dtype.is_int:
        raise ctx.error(f"indices {idx.dtype.name}{list(idx.shape)} must be integers shaped like X {list(x.shape)}")
    kernel = _spatial_attr(ctx, attrs, "kernel_shape", n, 1)
    strides = _spatial_attr(ctx, attrs, "strides", n, 1)
    pads = _spatial_attr(ctx, attrs, "pads", 2 * n, 0)
    sizes = [(i - 1) * s - pads[a] - pads[a + n] + k for a, (i, s, k) in enumerate(zip(x.shape[2:], strides, kernel))]
    target = sizes
    if optional(xs, 2) is not None:
        target = ints(ctx, xs[2], "output_shape")[-n:]
        if any(t < u for t, u in zip(target, sizes)):
            raise ctx.error(f"output_shape {target} is smaller than the unpooled size {sizes}")
    batch, c = x.shape[:2]
    area = math.prod(sizes)
    base = (np.arange(batch * c, dtype=np.int64) * area).reshape(batch, c, 1, 1)
    local = idx.to(DType.int64).reshape(batch, c, -1, 1) - tensor(base)          # [N, C, P, 1]
    hit = local == tensor(np.arange(area, dtype=np.int64).reshape(1, 1, 1, area))
    zero = 0.0 if x.dtype.is_float else 0
    y = where(hit, x.reshape(batch, c, -1, 1), zero).sum(2).to(x.dtype).reshape(batch, c, *sizes)
    return [_pad_spatial(y, [0] * n, [t - u for t, u in zip(target, sizes)])]


@handler("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def _global_pool(ctx, xs, attrs):
    x = tensor_of(xs[0])
    axes = tuple(range(2, x.ndim))
    if ctx.op_type == "GlobalAveragePool":
        return [x.mean(axes, keepdim=True)]
    if ctx.op_type == "GlobalMaxPool":
        return [x.amax(axes, keepdim=True)]
    p = attrs.get("p", 2)
    return [((_float_input(ctx, x).abs() ** p).sum(axes, keepdim=True)) ** (1.0 / p)]
