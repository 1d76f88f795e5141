"""N-d convolution and transposed convolution over ``[N, C, *spatial]`` tensors, as PyTorch's
``conv1d`` / ``conv2d`` / ``conv3d`` and ``conv_transpose1d`` / ``2d`` / ``3d``, and the window
geometry the pools share (``lumina.nn.functional.pooling``).

Every op reads the same windows: the input is padded once (``pad``), and window offset ``(j1, ..., jn)``
of every output position is one strided ``slice`` of the padded input, of the output's spatial
shape. The fusion pass turns these slices into index arithmetic, and their gradients (slice -> pad,
with zeros interleaved for strides) are cheap, unlike a ``gather``-based im2col whose one-hot VJP
grows with the image area squared.

* convolution: the im2col matrix ``[g, C/g * prod(k), N * prod(out)]`` stacks the window slices, or
  for large kernels is built by ``taps`` (broadcast, skew and strided reads: one chain of movement
  ops per axis, where stacking ``prod(k)`` slices lowers to a select over every tap for each
  element) and is contracted with the weight ``[g, O/g, C/g * prod(k)]`` in one batched ``dot``
  (the GEMM micro-kernel), batch over the groups.
* transposed convolution (the gradient of a convolution with respect to its input): the input
  with ``stride - 1`` zeros between its elements, padded by ``dilation * (k - 1) - padding``
  (``output_padding`` more at the end), convolved at stride 1 with the kernel flipped and its
  in / out channels swapped per group (Dumoulin & Visin 2016, "A guide to convolution arithmetic
  for deep learning", section 4).

Output size (PyTorch's docs): ``floor((L + 2 p - d (k - 1) - 1) / s) + 1`` (``ceil`` with
``ceil_mode``, dropping a last window that would start in the right padding); transposed:
``(L - 1) s - 2 p + d (k - 1) + output_padding + 1``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...ir import graph as B
from ...ir.ops import Op
from ...tensor.movement import pad
from ...tensor import Tensor, stack
from ...tensor.recorded import recorded


def ntuple(v, n: int, name: str, op: str) -> tuple[int, ...]:
    """``3 -> (3,) * n``; a sequence of ``n`` ints as is. Raises LuminaValueError for anything else."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(e, (int, np.integer)) for e in v):
        return tuple(int(e) for e in v)
    if isinstance(v, (tuple, list)) and len(v) == 1 and isinstance(v[0], (int, np.integer)):
        return (int(v[0]),) * n
    raise LuminaValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")


def pair(v, name: str, op: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 3)`` as is. Raises LuminaValueError for anything else."""
    return ntuple(v, 2, name, op)


def out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's output length of one spatial dim (see the module docstring)."""
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + p:  # the last window may not start in the right padding
        out -= 1
    return out


def batched(x: Tensor, nd: int, op: str) -> tuple[Tensor, bool]:
    """``[N, C, *spatial]`` input, or ``[C, *spatial]`` made N=1 (PyTorch's unbatched form), with
    ``nd`` spatial dims. Raises LuminaShapeError for another rank."""
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    if x.ndim != nd + 2:
        dims = {1: "L", 2: "H, W", 3: "D, H, W"}.get(nd, "*spatial")
        raise LuminaShapeError(f"{op}: expects input [N, C, {dims}] or [C, {dims}] ({nd + 2}-d or {nd + 1}-d), "
                               f"got {x._value.type}")
    return x, False


def windows(xp: Tensor, kernel, stride, dilation, outs, channels_last: bool = False,
            via_channels_last: bool = False) -> list[Tensor]:
    """The ``prod(kernel)`` windows ``[A, B, *outs]`` of the padded input ``xp`` (``[A, B, *spatial]``,
    any two leading axes, any number of spatial dims), row-major over the kernel offsets (the order
    of a ``[.., k1, ..., kn]`` weight flattened). ``channels_last``: ``xp`` is ``[A, *spatial, B]``
    and so is each window, ``[A, *outs, B]``.

    ``via_channels_last`` (for a pool over a convolution's result, see ``computed_channels_last``):
    the windows are taken channels last and each is permuted back to ``[A, B, *outs]``. The ops that
    combine them (a pool's maximum or sum) then sit between two permutes that ``transforms.layout``
    moves past them, so the pool computes channels last too and reads its input in order.

    Window ``(j1, ..., jn)`` reads positions ``j*d + s*o`` along each dim. For a stride > 1 each dim
    is first split into (block, phase) by a reshape ``[.., S/s, s, ..]``, so every window is a
    unit-step slice at a fixed phase: the gradient of a unit-step slice is one ``pad``, whereas a
    strided slice's interleaves zeros through reshape/pad chains, whose index expressions are much
    deeper (and slower to compile, see ``codegen.expr``)."""
    nd = len(kernel)
    if via_channels_last:
        last = (0, *range(2, nd + 2), 1)
        parts = windows(xp.permute(*last), kernel, stride, dilation, outs, channels_last=True)
        return [w.permute(0, nd + 1, *range(1, nd + 1)) for w in parts]
    first = 1 if channels_last else 2
    lead, sizes, tail = list(xp.shape[:first]), xp.shape[first:first + nd], list(xp.shape[first + nd:])
    keep = (slice(None),) * first
    need = [s * ((k - 1) * d // s + o) for k, s, d, o in zip(kernel, stride, dilation, outs)]  # read extent
    crop = [min(q, size) for q, size in zip(need, sizes)]
    if crop != list(sizes):
        xp = xp[keep + tuple(slice(0, c) for c in crop)]
    grow = [q - c for q, c in zip(need, crop)]
    if any(grow):   # only elements past the last window: never read
        xp = pad(xp, [0, 0] * len(tail) + [p for g in reversed(grow) for p in (0, g)])
    xr = xp.reshape(lead + [v for q, s in zip(need, stride) for v in (q // s, s)] + tail)
    out = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        key = list(keep)
        for j, s, d, o in zip(offsets, stride, dilation, outs):
            block, phase = divmod(j * d, s)
            key += [slice(block, block + o), phase]
        out.append(xr[tuple(key)])
    return out


def computed_channels_last(x: Tensor) -> bool:
    """Whether ``x [N, C, *S]`` is a channels-last value under a permute, through elementwise ops
    (a convolution's result after its bias, batch norm and activation) and pads and 1-d index
    gathers (a pool's padding; ``transforms.layout`` moves the permute past them): then a pool over
    it reads it in order channels last (``windows(..., via_channels_last=True)``). A realised tensor,
    or any other producer, is stored channels first."""
    nd = x.ndim - 2
    first = (0, nd + 1, *range(1, nd + 1))
    v = x._value
    for _ in range(32):
        node = v.node
        if node.op is Op.PERMUTE:
            return tuple(node.attrs["perm"]) == first
        if node.op is Op.PAD or node.op is Op.GATHER and node.inputs[1].type.rank == 1:
            v = node.inputs[0]
            continue
        if not node.op.is_elementwise:
            return False
        ahead = [u for u in node.inputs if u.shape == v.shape and u.op not in (Op.EXPAND, Op.CONST)]
        if not ahead:
            return False
        v = ahead[0]
    return False


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


def geometry(x: Tensor, kernel, stride, padding, dilation, ceil_mode: bool, op: str, what: str):
    """Output sizes and the ``[(lo, hi), ...]`` padding of each spatial dim (``hi`` grows for a
    ``ceil_mode`` window past the end); raises LuminaValueError for a non-positive kernel, stride or
    dilation or a negative padding, LuminaShapeError for an empty output (the (dilated) kernel
    does not fit the padded input, and no ``ceil_mode`` window starts inside it)."""
    sizes = x.shape[2:]
    for name, vals in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(v < 1 for v in vals):
            raise LuminaValueError(f"{op}: {name} must be positive, got {tuple(vals)}")
    if any(p < 0 for p in padding):
        raise LuminaValueError(f"{op}: padding must be non-negative, got {tuple(padding)}")
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    outs = tuple(out_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation))
    # torch's test is the output size: with ceil_mode a kernel longer than the padded input still
    # pools the one partial window that starts inside it
    if any(o <= 0 for o in outs):
        by = lambda vals: "x".join(str(v) for v in vals)   # noqa: E731
        raise LuminaShapeError(f"{op}: {what} kernel {by(kernel)} (dilation {by(dilation)}: {by(spans)}) is larger "
                               f"than the padded input {by(n + 2 * p for n, p in zip(sizes, padding))} (input "
                               f"{x._value.type}, padding {tuple(padding)}): output size {outs}")
    pads = [(p, p + max(0, (o - 1) * s + e - (n + 2 * p)))
            for n, p, s, e, o in zip(sizes, padding, stride, spans, outs)]
    return outs, pads


def pad_spatial(x: Tensor, pads, value: float = 0.0) -> Tensor:
    """``x`` padded by ``[(lo, hi), ...]`` over its trailing dims (first pair: the first of them)."""
    return pad(x, [p for lo_hi in reversed(pads) for p in lo_hi], value=value)


def _check_operands(x: Tensor, weight: Tensor, bias: Tensor | None, nd: int, op: str) -> None:
    if weight.ndim != nd + 2:
        raise LuminaShapeError(f"{op}: weight must be {nd + 2}-d, got {weight._value.type} for input {x._value.type}")
    if x.dtype is not weight.dtype or not x.dtype.is_float or (bias is not None and bias.dtype is not x.dtype):
        raise LuminaTypeError(f"{op}: input, weight and bias must share a float dtype, got {x._value.type}, "
                              f"{weight._value.type}" + (f", {bias._value.type}" if bias is not None else ""))


@recorded   # its IR depends on the operands' types and the arguments only
def _conv(input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups: int, nd: int, op: str) -> Tensor:
    x, unbatched = batched(input, nd, op)
    _check_operands(x, weight, bias, nd, op)
    n, c = x.shape[:2]
    o, cg, *kernel = weight.shape
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1 or o % groups:
        raise LuminaValueError(f"{op}: groups={groups!r} must be a positive int dividing the {o} output channels "
                               f"(weight {weight._value.type})")
    if c != cg * groups:
        raise LuminaShapeError(f"{op}: input {input._value.type} has {c} channels, but weight "
                               f"{weight._value.type} with groups={groups} expects {cg * groups}")
    if bias is not None and bias.shape != (o,):
        raise LuminaShapeError(f"{op}: bias must be [{o}], got {bias._value.type}")
    stride, dilation = ntuple(stride, nd, "stride", op), ntuple(dilation, nd, "dilation", op)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * nd
        elif padding == "same":
            if stride != (1,) * nd:
                raise LuminaValueError(f"{op}: padding='same' needs stride 1 (as torch, which does not support it "
                                       f"for strided convolutions), got stride {stride}")
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            x = pad_spatial(x, [(t // 2, t - t // 2) for t in totals])   # an odd total: the extra one at the end
            padding = (0,) * nd
        else:
            raise LuminaValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    padding = ntuple(padding, nd, "padding", op)
    outs, pads = geometry(x, kernel, stride, padding, dilation, False, op, "weight")
    if groups == 1 or groups == c == o:
        conv = _conv_channels_last if groups == 1 else _conv_depthwise
        out = conv(x, weight, kernel, stride, dilation, outs, pads)
        if bias is not None:
            out = out + bias.reshape(1, o, *(1,) * nd)
        return out.squeeze(0) if unbatched else out
    # Channels first ([C, N, *spatial]), so that the columns are [C*prod(k), N*prod(out)] with the
    # contraction's free dims one contiguous run: the GEMMs of the forward and of the weight
    # gradient then read the columns in place.
    xp = pad_spatial(x, pads).permute(1, 0, *range(2, nd + 2))
    taps_ = math.prod(kernel)
    if taps_ >= SKEW_MIN_TAPS:
        cols = xp
        for i in range(nd):
            cols = taps(cols, 2 + 2 * i, kernel[i], stride[i], dilation[i], outs[i])   # [C, N, k1, o1, ...]
        cols = cols.permute(0, *range(2, 2 + 2 * nd, 2), 1, *range(3, 3 + 2 * nd, 2))   # [C, *k, N, *out]
    else:
        cols = stack(windows(xp, kernel, stride, dilation, outs), 1)   # [C, prod(k), N, *out]
    cols = cols.reshape(groups, cg * taps_, n * math.prod(outs))
    wm = weight.reshape(groups, o // groups, cg * taps_)
    out = Tensor._result(B.dot(wm._touch(), cols._touch(), contract=((2,), (1,)), batch=((0,), (0,))),
                         wm, cols)                                          # [g, O/g, N*prod(out)]
    out = out.reshape(o, n, *outs).permute(1, 0, *range(2, nd + 2))
    if bias is not None:
        out = out + bias.reshape(1, o, *(1,) * nd)
    return out.squeeze(0) if unbatched else out


def _conv_channels_last(x: Tensor, weight: Tensor, kernel, stride, dilation, outs, pads) -> Tensor:
    """An ungrouped convolution of ``x [N, C, *S]`` as one GEMM over channels-last im2col rows:
    ``cols [N * prod(out), prod(k) * C]`` (one row per output position: its window, tap by tap,
    each tap's C channels contiguous) times ``weight [O, C, *k]`` read as ``[prod(k) * C, O]``,
    giving ``[N * prod(out), O]``, returned as ``[N, O, *out]``.

    The GEMM has the output positions as rows and the few output channels as columns, with A's
    rows contiguous: the narrow GEMM path reads them in place (``backends.cpu.llvm_gemm``). The
    result is channels-last under a permute; ``transforms.layout`` moves that permute past the
    elementwise ops that follow (bias, batch norm, activation) to the next convolution's
    channels-last view of its input, where the two cancel, so a stack of convolutions keeps its
    activations channels-last and no transpose runs between them."""
    nd = len(kernel)
    n, o = x.shape[0], weight.shape[0]
    last = (0, *range(2, nd + 2), 1)                     # [N, C, *S] -> [N, *S, C]
    first = (0, nd + 1, *range(1, nd + 1))               # [N, *S, C] -> [N, C, *S]
    xp = pad(x.permute(*last), [0, 0] + [p for lo_hi in reversed(pads) for p in lo_hi])   # [N, *S', C]
    taps_ = math.prod(kernel)
    if taps_ >= SKEW_MIN_TAPS:
        cols = xp
        for i in range(nd):   # [N, *S', C] -> [N, k1, o1, ..., kn, on, C]
            cols = taps(cols, 1 + 2 * i, kernel[i], stride[i], dilation[i], outs[i])
        cols = cols.permute(0, *range(2, 2 + 2 * nd, 2), *range(1, 1 + 2 * nd, 2), 2 * nd + 1)   # [N, *out, *k, C]
    else:
        parts = windows(xp, kernel, stride, dilation, outs, channels_last=True)   # each [N, *out, C]
        cols = parts[0] if taps_ == 1 else stack(parts, nd + 1)                     # [N, *out, prod(k), C]
    cols = cols.reshape(n * math.prod(outs), taps_ * x.shape[1])
    w = weight.permute(0, *range(2, nd + 2), 1).reshape(o, taps_ * x.shape[1])   # [O, *k, C]
    y = Tensor._result(B.dot(cols._touch(), w._touch(), contract=((1,), (1,))), cols, w)   # [N*P, O]
    return y.reshape(n, *outs, o).permute(*first)


def _conv_depthwise(x: Tensor, weight: Tensor, kernel, stride, dilation, outs, pads) -> Tensor:
    """A depthwise convolution (``groups`` = channels in = channels out) of ``x [N, C, *S]`` with
    ``weight [C, 1, *k]``, channels last and without a GEMM: the sum over the kernel's taps of each
    window ``[N, *out, C]`` times that tap's ``[C]`` weights (one loop kernel, vectorised along
    the channels), returned as ``[N, C, *out]``. One output channel reads one input channel, so
    the batched GEMM over groups would be C GEMMs of a single column."""
    nd, c = len(kernel), x.shape[1]
    last, first = (0, *range(2, nd + 2), 1), (0, nd + 1, *range(1, nd + 1))
    dtype = x.dtype
    if dtype.is_half:   # accumulated in float32, as the GEMM accumulates a half convolution
        x, weight = x.float(), weight.float()
    xp = pad(x.permute(*last), [0, 0] + [p for lo_hi in reversed(pads) for p in lo_hi])   # [N, *S', C]
    taps_ = weight.reshape(c, math.prod(kernel)).transpose(0, 1)                          # [prod(k), C]
    out = None
    for t, window in enumerate(windows(xp, kernel, stride, dilation, outs, channels_last=True)):
        term = window * taps_[t]
        out = term if out is None else out + term
    return out.permute(*first).to(dtype)


_CONV_DOC = """``torch.nn.functional.conv{n}d`` (cross-correlation) as im2col + one batched dot.

    ``input [N, C, {dims}]`` (or ``[C, {dims}]``), ``weight [O, C / groups, {ks}]``, ``bias [O]``;
    output ``[N, O, {outs}]`` in the input's float dtype (float16 / bfloat16 / float32 / float64).
    ``stride`` / ``padding`` / ``dilation``: an int or a tuple of {n}; ``padding`` may also be
    "valid" (none) or "same" (stride 1 only; an odd total puts the extra element at the end, as
    PyTorch). Raises LuminaShapeError naming the shapes when the channels do not match
    ``weight.shape[1] * groups``, the rank is wrong or the kernel is larger than the padded input,
    LuminaValueError for a bad ``stride`` / ``padding`` / ``dilation`` / ``groups``, LuminaTypeError
    for mixed or integer dtypes. Semantics: https://pytorch.org/docs/2.13/generated/torch.nn.functional.conv{n}d.html
    """


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transpose(input: Tensor, weight: Tensor, bias, stride, padding, output_padding, groups, dilation,
                    nd: int, op: str) -> Tensor:
    x, unbatched = batched(input, nd, op)
    _check_operands(x, weight, bias, nd, op)
    n, c, *sizes = x.shape
    ci, og, *kernel = weight.shape
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1 or ci % groups:
        raise LuminaValueError(f"{op}: groups={groups!r} must be a positive int dividing the {ci} input channels "
                               f"of weight {weight._value.type}")
    if c != ci:
        raise LuminaShapeError(f"{op}: input {input._value.type} has {c} channels, but weight "
                               f"{weight._value.type} expects {ci} (weight [C_in, C_out / groups, ...])")
    o = og * groups
    if bias is not None and bias.shape != (o,):
        raise LuminaShapeError(f"{op}: bias must be [{o}], got {bias._value.type}")
    stride, dilation = ntuple(stride, nd, "stride", op), ntuple(dilation, nd, "dilation", op)
    if isinstance(padding, str):
        raise LuminaValueError(f"{op}: padding must be an int or a tuple of {nd} ints, got {padding!r}")
    padding, output_padding = ntuple(padding, nd, "padding", op), ntuple(output_padding, nd, "output_padding", op)
    if any(v < 1 for v in stride + dilation + tuple(kernel)) or any(v < 0 for v in padding + output_padding):
        raise LuminaValueError(f"{op}: stride {stride} and dilation {dilation} must be positive, padding {padding} "
                               f"and output_padding {output_padding} non-negative")
    if any(q >= s and q >= d for q, s, d in zip(output_padding, stride, dilation)):
        raise LuminaValueError(f"{op}: output padding must be smaller than either stride or dilation, got "
                               f"output_padding {output_padding}, stride {stride}, dilation {dilation}")
    outs = [(L - 1) * s - 2 * p + d * (k - 1) + q + 1
            for L, s, p, d, k, q in zip(sizes, stride, padding, dilation, kernel, output_padding)]
    if any(v <= 0 for v in outs):
        raise LuminaShapeError(f"{op}: the output size {outs} of input {input._value.type} with weight "
                               f"{weight._value.type} (stride {stride}, padding {padding}) is too small")
    # zeros between the elements: [.., L] -> [.., L, s] (pad) -> [.., L * s] -> crop the last s - 1
    for i, s in enumerate(stride):
        if s > 1 and sizes[i] > 0:
            axis = 2 + i
            y = x.unsqueeze(axis + 1)
            y = pad(y, [0, 0] * (nd - 1 - i) + [0, s - 1])
            x = y.reshape(*x.shape[:axis], x.shape[axis] * s, *x.shape[axis + 1:])
            x = x[(slice(None),) * axis + (slice(0, (sizes[i] - 1) * s + 1),)]
    edges = [(d * (k - 1) - p, d * (k - 1) - p + q) for d, k, p, q in zip(dilation, kernel, padding, output_padding)]
    x = pad_spatial(x, edges)          # negative amounts crop (padding beyond the kernel's reach)
    w = weight.reshape(groups, ci // groups, og, *kernel).transpose(1, 2).reshape(o, ci // groups, *kernel)
    w = w.flip(tuple(range(2, nd + 2)))
    out = _conv(x, w, bias, 1, 0, dilation, groups, nd, op)
    return out.squeeze(0) if unbatched else out


_CONV_T_DOC = """``torch.nn.functional.conv_transpose{n}d``: the gradient of ``conv{n}d`` with respect to its
    input, sometimes called a fractionally strided convolution.

    ``input [N, C_in, {dims}]`` (or unbatched), ``weight [C_in, C_out / groups, {ks}]``, ``bias
    [C_out]``; output ``[N, C_out, {outs}]`` with ``L_out = (L - 1) * stride - 2 * padding + dilation
    * (k - 1) + output_padding + 1``, in the input's float dtype. Raises LuminaShapeError naming the
    shapes for mismatched channels, a wrong rank or an empty output, LuminaValueError when
    ``output_padding`` is not smaller than the stride or the dilation (PyTorch's rule), for a bad
    ``groups`` or a string padding, LuminaTypeError for mixed or integer dtypes. Semantics:
    https://pytorch.org/docs/2.13/generated/torch.nn.functional.conv_transpose{n}d.html
    """


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                           "conv_transpose3d")


_SHAPES = {1: ("L", "k", "L_out"), 2: ("H, W", "kh, kw", "H_out, W_out"),
           3: ("D, H, W", "kd, kh, kw", "D_out, H_out, W_out")}
for _n, _f in ((1, conv1d), (2, conv2d), (3, conv3d)):
    _f.__doc__ = _CONV_DOC.format(n=_n, dims=_SHAPES[_n][0], ks=_SHAPES[_n][1], outs=_SHAPES[_n][2])
for _n, _f in ((1, conv_transpose1d), (2, conv_transpose2d), (3, conv_transpose3d)):
    _f.__doc__ = _CONV_T_DOC.format(n=_n, dims=_SHAPES[_n][0], ks=_SHAPES[_n][1], outs=_SHAPES[_n][2])
