"""``linear`` and ``bilinear``: affine maps as matrix products (gradients from autodiff), with
PyTorch 2.13's shapes and checks (https://pytorch.org/docs/2.13/nn.functional.html#linear-functions)."""
from __future__ import annotations

from ...errors import LuminaShapeError, LuminaTypeError
from ...tensor.autocast import autocast_operands
from ...tensor import Tensor


def _same_dtype(op: str, *tensors: Tensor | None) -> None:
    present = [t for t in tensors if t is not None]
    if any(t.dtype is not present[0].dtype for t in present):
        raise LuminaTypeError(f"{op}: operands must have one dtype (as torch), got "
                              + ", ".join(str(t._value.type) for t in present))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``torch.nn.functional.linear``: ``input @ weight.T + bias``. ``input [..., in]``, ``weight
    [out, in]`` (or ``[in]``: the output drops the feature dim), ``bias [out]`` (or anything that
    broadcasts with the output); output ``[..., out]``. One op under autocast. Raises
    LuminaShapeError when the features differ or ``weight`` is not 1- or 2-D, LuminaTypeError for
    mixed dtypes."""
    if weight.ndim not in (1, 2):
        raise LuminaShapeError(f"linear: weight must be [out_features, in_features] (or 1-D), got "
                               f"{weight._value.type}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise LuminaShapeError(f"linear: input {input._value.type} does not end in the {weight.shape[-1]} "
                               f"in_features of weight {weight._value.type}")
    _same_dtype("linear", input, weight, bias)
    x, w, b = autocast_operands(input, weight, bias)
    y = x @ (w.T if w.ndim == 2 else w)
    return y + b if b is not None else y


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``torch.nn.functional.bilinear``: ``y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]``
    for ``input1 [..., in1]``, ``input2 [..., in2]`` (the same leading dims), ``weight [out, in1,
    in2]``, ``bias [out]``; output ``[..., out]``. Computed as one matrix product with ``W``
    flattened to ``[in1, out * in2]`` and a product-sum over ``in2``. Raises LuminaShapeError for
    mismatched ranks, leading dims or feature sizes, LuminaTypeError for mixed dtypes."""
    if weight.ndim != 3:
        raise LuminaShapeError(f"bilinear: weight must be [out, in1, in2], got {weight._value.type}")
    o, i, j = weight.shape
    if (input1.ndim == 0 or input1.ndim != input2.ndim or input1.shape[:-1] != input2.shape[:-1]
            or input1.shape[-1] != i or input2.shape[-1] != j):
        raise LuminaShapeError(f"bilinear: inputs {input1._value.type} and {input2._value.type} must have the "
                               f"same leading dims and end in {i} and {j} features for weight {weight._value.type}")
    if bias is not None and bias.shape != (o,):
        raise LuminaShapeError(f"bilinear: bias {bias._value.type} must be [{o}] for weight {weight._value.type}")
    _same_dtype("bilinear", input1, input2, weight, bias)
    lead = input1.shape[:-1]
    x1, x2 = input1.reshape(-1, i), input2.reshape(-1, j)
    t = (x1 @ weight.permute(1, 0, 2).reshape(i, o * j)).reshape(-1, o, j)
    y = (t * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, o)
