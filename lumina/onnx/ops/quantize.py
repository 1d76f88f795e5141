"""Linear quantization: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear, per tensor, per
axis and blocked, to and from 2- to 16-bit integers and the 4- to 8-bit floats that ``onnx.dtypes``
emulates (the quantized values are held in int32 / float32 and narrowed at the graph's outputs).

Semantics: the ONNX operator specification and its reference implementation
(``onnx/reference/ops/op_quantize_linear.py``, ``op_dequantize_linear.py``,
``op_dynamic_quantize_linear.py``): ``y = saturate(rint(x / scale) + zero_point)`` with ties to
even, ``x = (y - zero_point) * scale`` in float32.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto as TP

from ...ir.dtypes import DType
from ...tensor import Tensor, where
from .. import dtypes as onnx_dtypes
from ..dtypes import (INTS, MINIFLOATS, SATURATING, compute_dtype, isnan, logical, rint, round_minifloat,
                      type_name)
from .registry import handler, lumina_dtype, optional, tensor_of

_QUANTIZED = {TP.UINT8, TP.INT8, TP.UINT16, TP.INT16, TP.UINT4, TP.INT4, TP.UINT2, TP.INT2} | set(MINIFLOATS)


def _param(ctx, p, shape: tuple, axis: int, block_size: int, what: str) -> Tensor:
    """A scale or zero point shaped to broadcast against an input of ``shape``: a scalar (per tensor),
    a 1-D tensor along ``axis`` (per axis), or, with ``block_size``, the input's shape with
    ``ceil(D / block_size)`` along ``axis``, each entry repeated ``block_size`` times (blocked)."""
    p = tensor_of(p)
    rank = len(shape)
    if p.ndim == 0 or (p.ndim == 1 and p.shape[0] == 1 and not block_size):
        return p.reshape(())
    if not -rank <= axis < rank:
        raise ctx.error(f"axis {axis} is out of range for an input of rank {rank}")
    axis %= rank
    if not block_size:
        if p.ndim != 1 or p.shape[0] != shape[axis]:
            raise ctx.error(f"{what} of shape {list(p.shape)}: per-axis quantization along axis {axis} "
                            f"takes a 1-D {what} of length {shape[axis]} (input shape {list(shape)})")
        return p.reshape([shape[axis] if i == axis else 1 for i in range(rank)])
    blocks = -(-shape[axis] // block_size)
    want = [blocks if i == axis else d for i, d in enumerate(shape)]
    if list(p.shape) != want:
        raise ctx.error(f"{what} of shape {list(p.shape)}: blocked quantization with block_size "
                        f"{block_size} along axis {axis} takes shape {want} (input shape {list(shape)})")
    spread = p.reshape(want[:axis + 1] + [1] + want[axis + 1:])
    spread = spread.expand(*(want[:axis + 1] + [block_size] + want[axis + 1:]))
    spread = spread.reshape(want[:axis] + [blocks * block_size] + want[axis + 1:])
    return spread[(slice(None),) * axis + (slice(0, shape[axis]),)]


def _division_dtype(ctx, x: Tensor, scale: Tensor, attrs):
    """The precision of ``x / scale``: the ``precision`` attribute, else NumPy's promotion of the two
    (the reference computes ``x / y_scale`` in NumPy)."""
    if attrs.get("precision"):
        return compute_dtype(attrs["precision"]) or lumina_dtype(ctx, onnx_dtypes.np_dtype(attrs["precision"]))
    return lumina_dtype(ctx, np.result_type(x.dtype.numpy, scale.dtype.numpy))


@handler("QuantizeLinear")
def _quantize(ctx, xs, attrs):
    x, scale, zero = tensor_of(xs[0]), xs[1], optional(xs, 2)
    out = _output_type(ctx, zero, attrs)
    axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
    scale = _param(ctx, scale, x.shape, axis, block, "y_scale")
    dtype = _division_dtype(ctx, x, scale, attrs)
    v = x.to(dtype) / scale.to(dtype)
    if out in MINIFLOATS:
        if zero is not None:
            v = v + _param(ctx, zero, x.shape, axis, block, "y_zero_point").to(dtype)
        return [round_minifloat(v, MINIFLOATS[out], bool(attrs.get("saturate", 1)) or out not in SATURATING)]
    t = INTS[out]
    q = _saturating_int(rint(v), t)
    if zero is not None:
        q = q + _param(ctx, zero, x.shape, axis, block, "y_zero_point").to(q.dtype)
    return [q.clamp(t.min, t.max).to(t.compute)]


def _saturating_int(v: Tensor, t) -> Tensor:
    """An integral float tensor as int64, clamped far enough past ``t``'s range that adding a zero
    point and saturating give the same result; NaN gives 0."""
    bound = float(1 << (t.bits + 1))
    return where(isnan(v), 0.0, v.clamp(-bound, bound)).to(DType.int64)


def _output_type(ctx, zero, attrs) -> int:
    out = ctx.out_types[0] if ctx.out_types else 0
    if not out:
        out = logical(ctx, 2, zero) if zero is not None else attrs.get("output_dtype") or TP.UINT8
    if out not in _QUANTIZED:
        raise ctx.error(f"quantizing to {type_name(out)} is not supported; lumina quantizes to "
                        f"{', '.join(sorted(type_name(t) for t in _QUANTIZED))}")
    return out


@handler("DequantizeLinear")
def _dequantize(ctx, xs, attrs):
    """``(x - zero_point) * scale``, computed in float32 (as the reference) and cast to the output
    type (``output_dtype``, else the scale's)."""
    x, scale, zero = tensor_of(xs[0]), tensor_of(xs[1]), optional(xs, 2)
    axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
    f32 = DType.float32
    dx = x.to(f32)
    if zero is not None:
        dx = dx - _param(ctx, zero, x.shape, axis, block, "x_zero_point").to(f32)
    y = dx * _param(ctx, scale, x.shape, axis, block, "x_scale").to(f32)
    out = attrs.get("output_dtype") or (ctx.out_types[0] if ctx.out_types else 0)
    dtype = compute_dtype(out) if out else scale.dtype
    if dtype is None or not dtype.is_float:
        raise ctx.error(f"output type {type_name(out)} is not float, float16 or bfloat16")
    return [y.to(dtype)]


@handler("DynamicQuantizeLinear")
def _dynamic_quantize(ctx, xs, attrs):
    """uint8 quantization with the scale and zero point of ``x``'s range (widened to include 0):
    ``scale = (max - min) / 255``, ``zero_point = rint(clamp(-min / scale, 0, 255))``."""
    x = tensor_of(xs[0])
    hi = x.amax().clamp(min=0.0)
    lo = x.amin().clamp(max=0.0)
    scale = where(hi == lo, 1.0, hi - lo) / 255.0
    zero = rint((-lo / scale).clamp(0.0, 255.0))
    y = (rint(x / scale) + zero).clamp(0.0, 255.0)
    i32 = INTS[TP.UINT8].compute
    return [_saturating_int(y, INTS[TP.UINT8]).to(i32), scale, zero.to(i32)]
