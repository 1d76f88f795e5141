"""MatMul and Gemm."""
from __future__ import annotations

from ...tensor import matmul
from .registry import handler, tensor_of


@handler("MatMul")
def _matmul(ctx, xs, attrs):
    return [matmul(tensor_of(xs[0]), tensor_of(xs[1]))]


@handler("Gemm")
def _gemm(ctx, xs, attrs):
    a, b = tensor_of(xs[0]), tensor_of(xs[1])
    a = a.transpose(0, 1) if attrs.get("transA", 0) else a
    b = b.transpose(0, 1) if attrs.get("transB", 0) else b
    out = matmul(a, b)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    out = out * alpha if alpha != 1.0 else out
    if len(xs) > 2 and xs[2] is not None:
        c = tensor_of(xs[2])
        out = out + (c * beta if beta != 1.0 else c)
    return [out]


