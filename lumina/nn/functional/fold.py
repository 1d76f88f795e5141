"""``torch.nn.functional.unfold`` (im2col) and ``fold`` (col2im, its adjoint) over 4-d ``[N, C, H, W]``
tensors, PyTorch 2.13's semantics: https://pytorch.org/docs/2.13/generated/torch.nn.Unfold.html

``unfold`` reads the sliding blocks as the convolutions do (``conv.windows``: one unit-step slice
of the padded input per kernel offset) and stacks them channel-major: row ``c * kh * kw + i * kw +
j`` of the output holds offset ``(i, j)`` of channel ``c``, as PyTorch. ``fold`` places the
``kh * kw`` block planes back, each with ``stride - 1`` zeros between its elements and shifted by
its offset (``pad``), sums them and crops the padding; overlapping elements add up. Neither
multiplies, so infinities and NaNs stay where they are, and both gradients are the other op.
"""
from __future__ import annotations

import math

from ...errors import LuminaShapeError, LuminaValueError
from ...tensor import Tensor, stack
from ...tensor.movement import pad
from .conv import geometry, ntuple, pad_spatial, windows


def _args(op: str, kernel_size, dilation, padding, stride):
    kernel, dilation = ntuple(kernel_size, 2, "kernel_size", op), ntuple(dilation, 2, "dilation", op)
    padding, stride = ntuple(padding, 2, "padding", op), ntuple(stride, 2, "stride", op)
    if any(v < 1 for v in kernel + dilation + stride) or any(p < 0 for p in padding):
        raise LuminaValueError(f"{op}: kernel_size {kernel}, dilation {dilation} and stride {stride} must be "
                               f"positive and padding {padding} non-negative")
    return kernel, dilation, padding, stride


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """``torch.nn.functional.unfold``: ``[N, C, H, W]`` (or ``[C, H, W]``) -> ``[N, C * kh * kw, L]``,
    ``L = prod(floor((size + 2 p - d (k - 1) - 1) / s) + 1)`` over H and W; the input's dtype.
    Raises LuminaShapeError for another rank or blocks that do not fit the padded input,
    LuminaValueError for non-positive sizes or a negative padding."""
    x, op = input, "unfold"
    if x.ndim not in (3, 4):
        raise LuminaShapeError(f"{op}: expects a 4-d [N, C, H, W] or 3-d [C, H, W] input, got {x._value.type}")
    unbatched = x.ndim == 3
    x = x.unsqueeze(0) if unbatched else x
    kernel, dilation, padding, stride = _args(op, kernel_size, dilation, padding, stride)
    outs, pads = geometry(x, kernel, stride, padding, dilation, False, op, "block")
    parts = windows(pad_spatial(x, pads), kernel, stride, dilation, outs)
    n, c = x.shape[:2]
    out = stack(parts, 2).reshape(n, c * math.prod(kernel), math.prod(outs))
    return out.squeeze(0) if unbatched else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """``torch.nn.functional.fold``: ``[N, C * kh * kw, L]`` (or ``[C * kh * kw, L]``) -> ``[N, C,
    *output_size]``, the sum of the blocks at their places (``unfold``'s adjoint); the input's
    dtype. Raises LuminaShapeError for another rank, a dim 1 not divisible by ``kh * kw`` or an
    ``L`` other than the block count of ``output_size``, LuminaValueError for non-positive sizes."""
    x, op = input, "fold"
    if x.ndim not in (2, 3):
        raise LuminaShapeError(f"{op}: expects a 3-d [N, C * kh * kw, L] or 2-d input, got {x._value.type}")
    unbatched = x.ndim == 2
    x = x.unsqueeze(0) if unbatched else x
    kernel, dilation, padding, stride = _args(op, kernel_size, dilation, padding, stride)
    size = ntuple(output_size, 2, "output_size", op)
    k = math.prod(kernel)
    n, ck, length = x.shape
    if ck % k:
        raise LuminaShapeError(f"{op}: dim 1 ({ck}) of {x._value.type} must be divisible by the kernel's "
                               f"{kernel[0]}x{kernel[1]} = {k}")
    blocks = [(o + 2 * p - d * (kk - 1) - 1) // s + 1
              for o, p, d, kk, s in zip(size, padding, dilation, kernel, stride)]
    if any(b < 1 for b in blocks) or math.prod(blocks) != length:
        raise LuminaShapeError(f"{op}: {x._value.type} has {length} blocks, but output_size {size} with kernel "
                               f"{kernel}, dilation {dilation}, padding {padding} and stride {stride} holds "
                               f"{blocks[0]} x {blocks[1]} = {max(blocks[0], 0) * max(blocks[1], 0)}")
    c = ck // k
    planes = x.reshape(n, c, k, *blocks)
    full = [o + 2 * p for o, p in zip(size, padding)]
    out = None
    for offset in range(k):
        y = planes[:, :, offset]
        for axis, (b, s) in enumerate(zip(blocks, stride)):
            if s > 1:      # zeros between the elements: [.., b] -> [.., b, s] -> [.., b * s] -> the first (b-1) s + 1
                a = 2 + axis
                y = pad(y.unsqueeze(a + 1), [0, 0] * (1 - axis) + [0, s - 1])
                y = y.reshape(*y.shape[:a], b * s, *y.shape[a + 2:])
                y = y[(slice(None),) * a + (slice(0, (b - 1) * s + 1),)]
        starts = [j * d for j, d in zip(divmod(offset, kernel[1]), dilation)]
        y = pad_spatial(y, [(st, f - st - y.shape[2 + i]) for i, (st, f) in enumerate(zip(starts, full))])
        out = y if out is None else out + y
    out = out[:, :, padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]]
    return out.squeeze(0) if unbatched else out
