"""2-D convolution and pooling over NCHW tensors, as PyTorch's ``conv2d`` / ``max_pool2d`` /
``avg_pool2d``.

All three read the same windows: the input is padded once (``pad``), and window offset ``(i, j)``
of every output position is one strided ``slice`` of the padded input, of the output's spatial
shape. The fusion pass turns these slices into index arithmetic, and their gradients (slice -> pad,
with zeros interleaved for strides) are cheap, unlike a ``gather``-based im2col whose one-hot VJP
grows with the image area squared.

* conv2d: the im2col matrix ``[g, C/g * kh * kw, N * Ho * Wo]`` stacks the window slices, or for
  large kernels is built by ``taps`` (broadcast, skew and strided reads: one chain of movement ops
  per axis, where stacking ``kh * kw`` slices lowers to a select over every tap for each element)
  and contracted with the
  weight ``[g, O/g, C/g * kh * kw]`` in one batched ``dot`` (the GEMM micro-kernel), batch over the
  groups.
* avg_pool2d: the sum of the slices over the divisor (one fused elementwise kernel).
* max_pool2d: the offset of each window's first maximum is found without gradient (a reduction
  over the stacked slices, so it is computed once and stored), and the output is the sum over
  offsets of ``where(first == k, slice_k, 0)``: the gradient goes to one element per window, as
  PyTorch's (which routes it to the argmax), and each offset's backward term stays a small
  expression (a chain of ``where`` over the slices compiles far more slowly).

Output size (PyTorch's docs): ``floor((H + 2 p - d (k - 1) - 1) / s) + 1`` (``ceil`` with
``ceil_mode``, dropping a last window that would start in the right padding).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...ir import graph as B
from ...tensor.movement import pad
from ...tensor import Tensor, arange, no_grad, stack, tensor, where


def pair(v, name: str, op: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 3)`` as is. Raises LuminaValueError for anything else."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2:
        return int(v[0]), int(v[1])
    raise LuminaValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + p:  # the last window may not start in the right padding
        out -= 1
    return out


def _batched(x: Tensor, op: str) -> tuple[Tensor, bool]:
    """NCHW input, or CHW made N=1 (as PyTorch's unbatched form). Raises LuminaShapeError."""
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise LuminaShapeError(f"{op}: expects input [N, C, H, W] or [C, H, W], got {x._value.type}")
    return x, False


def windows(xp: Tensor, kernel, stride, dilation, outs) -> list[Tensor]:
    """The ``prod(kernel)`` windows ``[A, B, *outs]`` of the padded input ``xp`` (``[A, B, *spatial]``,
    any two leading axes, any number of spatial dims), row-major over the kernel offsets (the order
    of a ``[.., k1, ..., kn]`` weight flattened).

    Window ``(j1, ..., jn)`` reads positions ``j*d + s*o`` along each dim. For a stride > 1 each dim
    is first split into (block, phase) by a reshape ``[.., S/s, s, ..]``, so every window is a
    unit-step slice at a fixed phase: the gradient of a unit-step slice is one ``pad``, whereas a
    strided slice's interleaves zeros through reshape/pad chains, whose index expressions are much
    deeper (and slower to compile, see ``codegen.expr``)."""
    lead, sizes = list(xp.shape[:2]), xp.shape[2:]
    need = [s * ((k - 1) * d // s + o) for k, s, d, o in zip(kernel, stride, dilation, outs)]  # read extent
    crop = [min(q, size) for q, size in zip(need, sizes)]
    if crop != list(sizes):
        xp = xp[(slice(None), slice(None)) + tuple(slice(0, c) for c in crop)]
    grow = [q - c for q, c in zip(need, crop)]
    if any(grow):   # only elements past the last window: never read
        xp = pad(xp, [p for g in reversed(grow) for p in (0, g)])
    xr = xp.reshape(lead + [v for q, s in zip(need, stride) for v in (q // s, s)])
    out = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        key = [slice(None), slice(None)]
        for j, s, d, o in zip(offsets, stride, dilation, outs):
            block, phase = divmod(j * d, s)
            key += [slice(block, block + o), phase]
        out.append(xr[tuple(key)])
    return out


SKEW_MIN_TAPS = 16
"""Kernels with this many taps or more build im2col with ``taps``; smaller ones stack their window
slices. Measured on one core: the 7x7 stride-2 stem of a ResNet (3x230x230) takes 3.6 ms with
``taps`` against 11.6 ms stacked, but the digits ConvNet's 3x3 training step is 3.5 ms against
2.5 ms, because ``taps``' gradient (a sum over the broadcast copies through the skew's index
arithmetic) is slower than nine padded slices."""


def taps(x: Tensor, axis: int, k: int, stride: int, dilation: int, out: int) -> Tensor:
    """The ``k`` kernel taps of every output position along ``axis``, as a new axis before it:
    ``y[..., t, o, ...] = x[..., o * stride + t * dilation, ...]`` (``t < k``, ``o < out``).

    Movement ops only, no concatenation: ``x`` is broadcast along a new axis, flattened from there
    on, and read back as ``k`` rows ``dilation`` longer than ``x``, so that row ``t`` starts
    ``t * dilation`` further along ``axis`` (the skew that turns a Toeplitz layout into a reshape;
    a few extra copies fill the last rows, a slice where a pad would cost a kernel of its own); the stride keeps every ``stride``-th row through a ``[out, stride]`` split. The
    fusion pass lowers the chain to index arithmetic on ``x``, and its gradient is the sum over
    the broadcast copies (col2im) rather than one padded slice per tap."""
    shape = list(x.shape)
    length = shape[axis]
    need = max(length, out * stride - dilation)   # the [out, stride] split reads out*stride rows
    if need > length:
        x = pad(x, [0, 0] * (x.ndim - 1 - axis) + [0, need - length])
        length = need
    outer, rest = shape[:axis], shape[axis + 1:]
    inner = math.prod(rest)
    copies = k + -(-k * dilation // length)   # enough copies to fill k rows of length + dilation
    flat = x.unsqueeze(axis).expand(*outer, copies, length, *rest).reshape(*outer, copies * length * inner)
    rows = flat[..., :k * (length + dilation) * inner].reshape(*outer, k, length + dilation, *rest)
    y = rows[(slice(None),) * (axis + 1) + (slice(0, out * stride),)]
    if stride > 1:
        y = y.reshape(*outer, k, out, stride, *rest)[(slice(None),) * (axis + 2) + (0,)]
    return y


def _geometry(x: Tensor, kernel, stride, padding, dilation, ceil_mode: bool, op: str, what: str):
    """Output size and the (top, bottom, left, right) padding; raises LuminaShapeError when the
    (dilated) kernel does not fit the padded input."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h, w = x.shape[-2:]
    for name, v in (("kernel_size", kh), ("kernel_size", kw), ("stride", sh), ("stride", sw),
                    ("dilation", dh), ("dilation", dw)):
        if v < 1:
            raise LuminaValueError(f"{op}: {name} must be positive, got {(kh, kw) if name == 'kernel_size' else v}")
    if ph < 0 or pw < 0:
        raise LuminaValueError(f"{op}: padding must be non-negative, got {(ph, pw)}")
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        raise LuminaShapeError(f"{op}: {what} kernel {kh}x{kw} (dilation {dh}x{dw}: {eh}x{ew}) is larger than the "
                               f"padded input {h + 2 * ph}x{w + 2 * pw} (input {x._value.type}, padding {(ph, pw)})")
    ho = _out_size(h, kh, sh, ph, dh, ceil_mode)
    wo = _out_size(w, kw, sw, pw, dw, ceil_mode)
    extra_h = max(0, (ho - 1) * sh + eh - (h + 2 * ph))
    extra_w = max(0, (wo - 1) * sw + ew - (w + 2 * pw))
    return (ho, wo), (ph, ph + extra_h, pw, pw + extra_w)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """``torch.nn.functional.conv2d`` (cross-correlation) as im2col + one batched dot.

    ``input [N, C, H, W]`` (or ``[C, H, W]``), ``weight [O, C / groups, kh, kw]``, ``bias [O]``;
    output ``[N, O, Ho, Wo]`` in the input's float dtype. ``padding`` is an int, a pair, "valid"
    (no padding) or "same" (stride 1 only; an odd total puts the extra row/column at the end, as
    PyTorch). Raises LuminaShapeError naming the shapes when the channels do not match
    ``weight.shape[1] * groups`` or the kernel is larger than the padded input, LuminaValueError for
    bad ``stride`` / ``padding`` / ``dilation`` / ``groups``, LuminaTypeError for mixed dtypes.
    """
    x, unbatched = _batched(input, "conv2d")
    if weight.ndim != 4:
        raise LuminaShapeError(f"conv2d: weight must be [O, C/groups, kh, kw], got {weight._value.type}")
    if x.dtype is not weight.dtype or not x.dtype.is_float or (bias is not None and bias.dtype is not x.dtype):
        raise LuminaTypeError(f"conv2d: input, weight and bias must share a float dtype, got {x._value.type}, "
                              f"{weight._value.type}" + (f", {bias._value.type}" if bias is not None else ""))
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if groups < 1 or o % groups:
        raise LuminaValueError(f"conv2d: groups={groups} must be positive and divide the {o} output channels "
                               f"(weight {weight._value.type})")
    if c != cg * groups:
        raise LuminaShapeError(f"conv2d: input {input._value.type} has {c} channels, but weight "
                               f"{weight._value.type} with groups={groups} expects {cg * groups}")
    if bias is not None and bias.shape != (o,):
        raise LuminaShapeError(f"conv2d: bias must be [{o}], got {bias._value.type}")
    stride, dilation = pair(stride, "stride", "conv2d"), pair(dilation, "dilation", "conv2d")
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise LuminaValueError(f"conv2d: padding='same' needs stride 1, got {stride}")
            th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
            x = pad(x, (tw // 2, tw - tw // 2, th // 2, th - th // 2))
            padding = (0, 0)
        else:
            raise LuminaValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    padding = pair(padding, "padding", "conv2d")
    (ho, wo), pads = _geometry(x, (kh, kw), stride, padding, dilation, False, "conv2d", "weight")
    # Channels first ([C, N, Hp, Wp]), so that the columns are [C*kh*kw, N*Ho*Wo] with the
    # contraction's free dims (N, Ho, Wo) one contiguous run: the GEMMs of the forward and of the
    # weight gradient then read the columns in place.
    xp = pad(x, (pads[2], pads[3], pads[0], pads[1])).permute(1, 0, 2, 3)
    if kh * kw >= SKEW_MIN_TAPS:
        cols = taps(taps(xp, 2, kh, stride[0], dilation[0], ho), 4, kw, stride[1], dilation[1], wo)
        cols = cols.permute(0, 2, 4, 1, 3, 5)                                # [C, kh, kw, N, Ho, Wo]
    else:
        cols = stack(windows(xp, (kh, kw), stride, dilation, (ho, wo)), 1)   # [C, kh*kw, N, Ho, Wo]
    cols = cols.reshape(groups, cg * kh * kw, n * ho * wo)
    wm = weight.reshape(groups, o // groups, cg * kh * kw)
    out = Tensor._result(B.dot(wm._touch(), cols._touch(), contract=((2,), (1,)), batch=((0,), (0,))),
                         wm, cols)                                          # [g, O/g, N*Ho*Wo]
    out = out.reshape(o, n, ho, wo).permute(1, 0, 2, 3)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1)
    return out.squeeze(0) if unbatched else out


def _pool_args(op: str, kernel_size, stride, padding, dilation=1):
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else pair(stride, "stride", op)
    return kernel, stride, pair(padding, "padding", op), pair(dilation, "dilation", op)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor:
    """``torch.nn.functional.max_pool2d``: the max over each (dilated) window; padding is -inf.

    ``input [N, C, H, W]`` or ``[C, H, W]``; ``stride`` defaults to ``kernel_size``. The gradient goes
    to the first maximum of each window (row-major), as PyTorch's; NaN propagates. Raises
    LuminaValueError when ``padding`` exceeds half the effective kernel (PyTorch's rule) or for
    ``return_indices``, LuminaShapeError when the kernel is larger than the padded input.
    """
    if return_indices:
        raise LuminaValueError("max_pool2d: return_indices=True is not supported")
    x, unbatched = _batched(input, "max_pool2d")
    kernel, stride, padding, dilation = _pool_args("max_pool2d", kernel_size, stride, padding, dilation)
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise LuminaValueError(f"max_pool2d: padding {padding} must be at most half the effective kernel "
                                   f"size {kernel} (dilation {dilation}) for {input._value.type}")
    out_hw, pads = _geometry(x, kernel, stride, padding, dilation, ceil_mode, "max_pool2d", "pooling")
    fill = -math.inf if x.dtype.is_float else int(np.iinfo(x.dtype.numpy).min)
    xp = pad(x, (pads[2], pads[3], pads[0], pads[1]), value=fill)
    parts = windows(xp, kernel, stride, dilation, out_hw)
    k = len(parts)
    with no_grad():  # the window offset the gradient goes to, as torch's CPU kernel picks it:
        # the first maximum, or, in a window holding NaN, the last NaN (it takes each NaN it meets)
        stacked = stack([s.detach() for s in parts], 2)                    # [N, C, K, Ho, Wo]
        offsets = arange(k).reshape(1, 1, k, 1, 1)
        first = where(stacked == stacked.amax(2, keepdim=True), offsets, k).amin(2)   # [N, C, Ho, Wo]
        if x.dtype.is_float:
            last_nan = where(stacked != stacked, offsets, -1).amax(2)
            first = where(last_nan >= 0, last_nan, first)
    out = None
    for i, s in enumerate(parts):
        term = where(first == i, s, 0.0 if x.dtype.is_float else 0)
        out = term if out is None else out + term
    return out.squeeze(0) if unbatched else out


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """``torch.nn.functional.avg_pool2d``: the mean over each window.

    With ``count_include_pad`` (PyTorch's default) the zero padding counts in the divisor, except the
    part of a ``ceil_mode`` window past the padding; without it only real input elements count;
    ``divisor_override`` replaces the divisor. Raises LuminaValueError when ``padding`` exceeds half
    the kernel (PyTorch's rule), LuminaShapeError when the kernel is larger than the padded input.
    """
    x, unbatched = _batched(input, "avg_pool2d")
    kernel, stride, padding, _ = _pool_args("avg_pool2d", kernel_size, stride, padding)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise LuminaValueError(f"avg_pool2d: padding {padding} must be at most half the kernel size {kernel} "
                               f"for {input._value.type}")
    if not x.dtype.is_float:
        raise LuminaTypeError(f"avg_pool2d: expects a floating-point input, got {input._value.type}")
    out_hw, pads = _geometry(x, kernel, stride, padding, (1, 1), ceil_mode, "avg_pool2d", "pooling")
    xp = pad(x, (pads[2], pads[3], pads[0], pads[1]))
    parts = windows(xp, kernel, stride, (1, 1), out_hw)
    total = parts[0]
    for s in parts[1:]:
        total = total + s
    if divisor_override is not None:
        if divisor_override == 0:
            raise LuminaValueError("avg_pool2d: divisor_override must be non-zero")
        out = total / float(divisor_override)
    else:
        div = _divisor(x.shape[-2:], kernel, stride, padding, out_hw, count_include_pad)
        out = total / float(div.flat[0]) if (div == div.flat[0]).all() else total / tensor(div.astype(x.dtype.numpy))
    return out.squeeze(0) if unbatched else out


def _divisor(hw, kernel, stride, padding, out_hw, count_include_pad: bool) -> np.ndarray:
    """``[Ho, Wo]`` window sizes PyTorch divides by (its ``AvgPool2d`` CPU kernel's ``pool_size``)."""
    counts = []
    for size, k, s, p, n in zip(hw, kernel, stride, padding, out_hw):
        start = np.arange(n) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            end, start = np.minimum(end, size), np.maximum(start, 0)
        counts.append(end - start)
    return np.outer(counts[0], counts[1]).astype(np.float64)
