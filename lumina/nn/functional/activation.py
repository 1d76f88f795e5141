"""Activations, softmax and dropout as decompositions into primitives (gradients from autodiff).

The piecewise activations (``elu``, ``selu``, ``celu``, ``leaky_relu``, ``softplus``, ``hardsigmoid``,
``hardswish``, ``threshold``) follow PyTorch 2.13's kernels at the
seams: which side of a boundary a point belongs to (its gradient), NaN (which fails every
comparison, so it lands where torch's ``a ? b : c`` puts it) and the sign of zeros. Each ``where``
branch is computed only on the inputs it selects (the others replaced by a harmless value), so a
discarded branch's inf or NaN never reaches the gradient (``0 * inf``).
"""
from __future__ import annotations

import math

from ...errors import LuminaShapeError, LuminaTraceError, LuminaTypeError, LuminaValueError
from ...tensor.indexing import checked_index, known_values
from ...tensor.inplace import update
from ...tensor.softmax import _prepare, implicit_dim, log_softmax, softmax  # noqa: F401  (F's names: re-exported)
from ...ir.dtypes import DType
from ...tensor.random import rand
from ...tensor import Tensor, arange, where, zeros_like
from ...tracing import STATE


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``torch.nn.functional.one_hot``: ``[..., num_classes]`` int64, 1 where the last index
    equals the class in int64 ``tensor``. ``num_classes=-1`` infers ``max + 1`` from the values,
    which must therefore be known (not inside ``@lumina.compile``: LuminaTraceError). Raises
    LuminaTypeError for a non-int64 input, LuminaValueError for a negative class or one
    ``>= num_classes`` among values known when the op is recorded (LuminaIndexError when the
    values are computed, as the kernel runs: ``indexing.checked_index``)."""
    if tensor.dtype is not DType.int64:
        raise LuminaTypeError(f"one_hot: expects an int64 index tensor (as torch), got {tensor._value.type}")
    if num_classes == -1 and STATE.trace is not None:
        raise LuminaTraceError("one_hot: num_classes=-1 reads the values to count the classes, which are "
                               "not known inside @lumina.compile; pass num_classes")
    values = tensor.numpy() if num_classes == -1 else known_values(tensor)
    if values is not None and values.size:
        if values.min() < 0:
            raise LuminaValueError(f"one_hot: class values must be non-negative, got {int(values.min())}")
        if num_classes != -1 and values.max() >= num_classes:
            raise LuminaValueError(f"one_hot: class value {int(values.max())} is not smaller than "
                                   f"num_classes {num_classes}")
    if num_classes == -1:
        if values.size == 0:
            raise LuminaValueError("one_hot: cannot infer the number of classes from an empty tensor")
        num_classes = int(values.max()) + 1
    if num_classes < 0:
        raise LuminaValueError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    if values is None:
        tensor = checked_index(tensor, num_classes, "one_hot", f"{num_classes} classes", negative=False,
                               name="class value")
    return (tensor.unsqueeze(-1) == arange(num_classes)).to(DType.int64)


def log1p(u: Tensor) -> Tensor:
    """``log(1 + u)`` accurate for small ``u`` (Goldberg's correction: ``log(w) * u / (w - 1)`` with
    ``w = 1 + u`` rounded cancels the rounding of ``w``); inf stays inf."""
    w = 1.0 + u
    ws = where((w == 1.0) | (w == math.inf), 2.0, w)   # keeps the unused branch away from 0 / 0
    return where(w == 1.0, u, where(w == math.inf, w, ws.log() * u / (ws - 1.0)))


def expm1(x: Tensor) -> Tensor:
    """``exp(x) - 1`` accurate near 0: ``2t / (1 - t)`` with ``t = tanh(x / 2)`` for ``|x| < 1``;
    a zero keeps its sign."""
    near = x.abs() < 1.0
    t = (where(near, x, 0.0) * 0.5).tanh()
    return where(x == 0.0, x, where(near, 2.0 * t / (1.0 - t), where(near, 0.0, x).exp() - 1.0))


def _float_input(x: Tensor, op: str) -> Tensor:
    if not x.dtype.is_float:
        raise LuminaTypeError(f"{op}: expects a floating-point input (as torch), got {x._value.type}")
    return x


def _in_float32(fn):
    """``fn(x, ...)`` on a 16-bit float ``x`` computed in float32 and rounded once (as PyTorch's CPU
    kernels)."""
    def run(x: Tensor, *args):
        if x.dtype.is_half:
            return fn(x.to(DType.float32), *args).to(x.dtype)
        return fn(x, *args)
    return run


@_in_float32
def _elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    """torch's elu kernel: ``x <= 0 ? alpha * expm1(x * input_scale) : x``, times ``scale``."""
    neg = x <= 0.0
    out = where(neg, alpha * expm1(where(neg, x, 0.0) * input_scale), x)
    return out * scale if scale != 1.0 else out


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.elu`` (Clevert et al. 2015): ``x`` above 0, ``alpha * (exp(x) - 1)`` at
    and below it (so the gradient at 0 is ``alpha``; NaN passes with gradient 1, as torch's).
    Floats only (LuminaTypeError); ``inplace`` writes into ``input``."""
    x = _float_input(input, "elu")
    return _maybe_inplace(x, _elu(x, float(alpha)), inplace)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.selu`` (Klambauer et al. 2017): ``scale * elu(x, alpha)`` with the
    paper's constants; see ``elu``."""
    x = _float_input(input, "selu")
    return _maybe_inplace(x, _elu(x, _SELU_ALPHA, _SELU_SCALE), inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.celu`` (Barron 2017): ``x`` above 0, ``alpha * (exp(x / alpha) - 1)``
    at and below it. Raises LuminaValueError for ``alpha == 0`` (as torch); see ``elu``."""
    x = _float_input(input, "celu")
    if alpha == 0:
        raise LuminaValueError(f"celu: alpha cannot be 0 (torch raises ZeroDivisionError), for {x._value.type}")
    return _maybe_inplace(x, _elu(x, float(alpha), 1.0, 1.0 / alpha), inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.leaky_relu``: ``x`` above 0, ``negative_slope * x`` at and below it
    (the gradient at 0 and at NaN is ``negative_slope``, as torch's). Floats only (as torch's CPU
    kernel)."""
    x = _float_input(input, "leaky_relu")
    return _maybe_inplace(x, where(x > 0, x, x * negative_slope), inplace)


@_in_float32
def _softplus(x: Tensor, beta: float, threshold: float) -> Tensor:
    z = x * beta
    linear = z > threshold
    up = (z > 0.0) & ~linear
    zp, zn = where(up, z, 1.0), where(up | linear, 0.0, z)
    # z + log1p(exp(-z)) above 0 (its slope, sigmoid(z), stays accurate as exp(z) grows),
    # log1p(exp(z)) below
    soft = where(up, zp + log1p((-zp).exp()), log1p(zn.exp()))
    return where(linear, x, soft / beta if beta != 1.0 else soft)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``torch.nn.functional.softplus``: ``log(1 + exp(beta * x)) / beta``, and ``x`` itself where
    ``beta * x > threshold`` (where the two agree to the dtype's precision), as torch. Floats only."""
    return _softplus(_float_input(input, "softplus"), float(beta), float(threshold))


@_in_float32
def _hardsigmoid(x: Tensor) -> Tensor:
    inside = (x > -3.0) & (x < 3.0)
    return where(inside, where(inside, x, 0.0) / 6.0 + 0.5,
                 where(x <= -3.0, 0.0, where(x >= 3.0, 1.0, x.detach() * math.nan)))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.hardsigmoid``: ``relu6(x + 3) / 6``; the gradient is ``1/6`` strictly
    inside ``(-3, 3)`` and 0 elsewhere, NaN included (as torch). Floats only."""
    x = _float_input(input, "hardsigmoid")
    return _maybe_inplace(x, _hardsigmoid(x), inplace)


@_in_float32
def _hardswish(x: Tensor) -> Tensor:
    # torch's kernel, x * min(max(x + 3, 0), 6) / 6, with the clamp by region (torch's gradient is 0
    # at and below -3, x / 3 + 1 / 2 between, 1 from 3 on and at NaN)
    low, mid = x <= -3.0, (x > -3.0) & (x < 3.0)
    clamped = where(mid, where(mid, x, 0.0) + 3.0, where(low, zeros_like(x), 6.0))
    return x * clamped / 6.0


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.hardswish`` (Howard et al. 2019): ``x * relu6(x + 3) / 6``: ``x * 0``
    at and below -3 (a signed zero; NaN for -inf), ``x`` from 3 on and at NaN, with torch's
    gradients at the seams (0 at -3, 1 at 3). Floats only."""
    x = _float_input(input, "hardswish")
    return _maybe_inplace(x, _hardswish(x), inplace)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.silu`` (swish): ``x * sigmoid(x)``. Floats only."""
    x = _float_input(input, "silu")
    return _maybe_inplace(x, x * x.sigmoid(), inplace)


@_in_float32
def _mish(x: Tensor) -> Tensor:
    return x * _softplus(x, 1.0, 20.0).tanh()


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.mish`` (Misra 2019): ``x * tanh(softplus(x))``. Floats only."""
    x = _float_input(input, "mish")
    return _maybe_inplace(x, _mish(x), inplace)


@_in_float32
def _softsign(x: Tensor) -> Tensor:
    return x / (1.0 + x.abs())


def softsign(input: Tensor) -> Tensor:
    """``torch.nn.functional.softsign``: ``x / (1 + |x|)`` (NaN at +-inf, as torch); integers
    compute in float32."""
    return _softsign(input if input.dtype.is_float else input.to(DType.float32))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.threshold``: ``value`` where ``x <= threshold``, ``x`` elsewhere (and at
    NaN)."""
    x = input
    return _maybe_inplace(x, where(x <= threshold, value, x).to(x.dtype), inplace)


def _maybe_inplace(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """``out``, or with ``inplace`` ``input`` updated to it and returned, with torch's in-place
    rules, version counters and autograd checks (``inplace.update``). The nodes that computed
    ``out`` from ``input`` are the update's own, so their gradients may read ``input``'s old value,
    as torch's in-place activations keep what their backward needs (``F.hardswish(x, inplace=True)``
    after a BatchNorm trains, as in torchvision's MobileNetV3)."""
    if not inplace or out is input:
        return out
    return update(input, "in-place activation", lambda: out, check_cast=False)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)``; ``inplace`` writes it into ``input`` (``_maybe_inplace``)."""
    return _maybe_inplace(input, input.relu(), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    return input.gelu(approximate)


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.dropout``: in training, each element is zeroed with probability ``p`` and
    the survivors are scaled by ``1 / (1 - p)`` (Srivastava et al. 2014, inverted dropout), so the
    expectation is unchanged; otherwise the identity. The mask comes from the in-graph generator
    (``lumina.rand``): reproducible after ``lumina.manual_seed`` and fresh on every compiled call.
    ``inplace`` writes the result into ``input`` (``_maybe_inplace``). Raises LuminaValueError
    unless ``0 <= p <= 1``, LuminaTypeError for a non-float input."""
    x = input
    if not x.dtype.is_float:
        raise LuminaTypeError(f"dropout: expects a floating-point input, got {x._value.type}")
    if not 0.0 <= p <= 1.0:
        raise LuminaValueError(f"dropout: probability must be in [0, 1], got {p} for {x._value.type}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return _maybe_inplace(x, x * 0.0, inplace)
    keep = rand(x.shape, dtype=x.dtype) >= p
    return _maybe_inplace(x, where(keep, x * (1.0 / (1.0 - p)), 0.0), inplace)


# ---- clamps, shrinks and gated / parametric activations -----------------------------------------------------------
# (https://pytorch.org/docs/2.13/nn.functional.html#non-linear-activation-functions)


def _clamp_region(x: Tensor, lo: float, hi: float) -> Tensor:
    """torch's hardtanh: ``lo`` below ``lo``, ``hi`` above ``hi``, ``x`` elsewhere (NaN and the
    zeros' signs included). The gradient is 1 strictly inside ``(lo, hi)`` and 0 elsewhere, NaN
    included: torch's vectorised backward kernel (``lo < x < hi``); its scalar loop, which handles
    tensors of fewer than 8 (float64) or 16 (float32) elements and the tails of others, passes
    NaN's gradient instead, so torch disagrees with itself there."""
    frozen = x.detach()
    inside = (x > lo) & (x < hi)
    out = where(inside, x, where(x < lo, lo, where(x > hi, hi, frozen)))
    return out.to(x.dtype)


def _no_bool(x: Tensor, op: str) -> Tensor:
    if x.dtype is DType.bool:
        raise LuminaTypeError(f"{op}: bool inputs are not supported (as torch), got {x._value.type}")
    return x


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.hardtanh``: ``x`` clamped to ``[min_val, max_val]``; any shape, floats
    and integers (bool raises LuminaTypeError). The gradient is 1 strictly between the bounds, 0
    at and beyond them and at NaN (which passes; see ``_clamp_region``). Raises LuminaValueError when
    ``min_val > max_val``. ``inplace`` updates ``input``."""
    x = _no_bool(input, "hardtanh")
    if min_val > max_val:
        raise LuminaValueError(f"hardtanh: min_val {min_val} cannot be greater than max_val {max_val} "
                               f"(input {x._value.type})")
    return _maybe_inplace(x, _clamp_region(x, min_val, max_val), inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``torch.nn.functional.relu6``: ``hardtanh(x, 0, 6)`` (Krizhevsky 2010): ``-0.0`` stays
    ``-0.0``, NaN passes, the gradient is 0 at 0 and 6 and at NaN. Integers allowed, bool raises."""
    x = _no_bool(input, "relu6")
    return _maybe_inplace(x, _clamp_region(x, 0.0, 6.0), inplace)


def tanhshrink(input: Tensor) -> Tensor:
    """``torch.nn.functional.tanhshrink``: ``x - tanh(x)``; integers compute in float32 (as torch)."""
    x = input if input.dtype.is_float else input.to(DType.float32)
    return x - x.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``torch.nn.functional.softshrink``: ``x - lambd`` above ``lambd``, ``x + lambd`` below
    ``-lambd``, ``+0.0`` between, bounds included, NaN passing; the gradient is 1 outside
    ``[-lambd, lambd]`` and 0 elsewhere, NaN included. This is torch's vectorised kernel; its
    scalar loop (small tensors, tails: see ``_clamp_region``) gives ``x * 0`` (``-0.0`` for negative
    ``x``) between and passes NaN's gradient. Floats only (LuminaTypeError); LuminaValueError for
    a negative ``lambd``."""
    x = _float_input(input, "softshrink")
    if not lambd >= 0:
        raise LuminaValueError(f"softshrink: lambd must be non-negative, got {lambd} for {x._value.type}")
    frozen = x.detach()
    out = where(x > lambd, x - lambd, where(x < -lambd, x + lambd, where(frozen == frozen, 0.0, frozen)))
    return out.to(x.dtype)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``torch.nn.functional.hardshrink``: 0 where ``-lambd <= x <= lambd``, ``x`` elsewhere (NaN
    passes, with gradient 0 as torch's vectorised kernel: see ``_clamp_region``). Floats only
    (LuminaTypeError)."""
    x = _float_input(input, "hardshrink")
    frozen = x.detach()
    return where((x > lambd) | (x < -lambd), x, where(frozen == frozen, 0.0, frozen)).to(x.dtype)


@_in_float32
def _logsigmoid(x: Tensor) -> Tensor:
    neg = x < 0.0
    xn, xp = where(neg, x, 0.0), where(neg, 0.0, x)
    # torch's kernel: min(x, 0) - log1p(exp(-|x|)); the two branches keep each gradient exact
    return xn - log1p(where(neg, xn, -xp).exp())


def logsigmoid(input: Tensor) -> Tensor:
    """``torch.nn.functional.logsigmoid``: ``log(1 / (1 + exp(-x)))`` computed as
    ``min(x, 0) - log1p(exp(-|x|))`` (no overflow; ``-inf`` at ``-inf``, ``0`` at ``inf``). Floats
    only (LuminaTypeError); 16-bit floats in float32."""
    return _logsigmoid(_float_input(input, "logsigmoid"))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``torch.nn.functional.softmin``: ``softmax(-x, dim)``; ``dtype`` casts first, ``dim=None`` is
    torch's deprecated implicit dim (``implicit_dim``). Floats only (LuminaTypeError)."""
    x, dim = _prepare(input, dim, dtype, "softmin")
    x = _float_input(x, "softmin")
    return softmax(-x, dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """``torch.nn.functional.glu`` (Dauphin et al. 2017): ``a * sigmoid(b)`` for the halves ``a``,
    ``b`` of ``input`` along ``dim``; the output has half that size. Raises LuminaShapeError for a
    0-d input or an odd size, LuminaTypeError for a non-float input."""
    x = _float_input(input, "glu")
    if x.ndim == 0:
        raise LuminaShapeError(f"glu: 0-d input {x._value.type} cannot be halved")
    d = x._axes(dim, "glu")[0]
    n = x.shape[d]
    if n % 2:
        raise LuminaShapeError(f"glu: halving dimension must be even, but dimension {dim} of {x._value.type} "
                               f"is {n}")
    return x.narrow(d, 0, n // 2) * x.narrow(d, n // 2, n // 2).sigmoid()


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``torch.nn.functional.prelu`` (He et al. 2015): ``x`` above 0, ``weight * x`` at and below it
    (NaN too); ``weight`` has one element or one per channel (dim 1, or 1 for a 0- or 1-d input).
    Gradients for both. Raises LuminaShapeError for a weight of rank above 1 or the wrong count,
    LuminaTypeError for non-float or mixed dtypes."""
    x = _float_input(input, "prelu")
    if weight.ndim > 1:
        raise LuminaShapeError(f"prelu: weight must be a scalar or 1-D tensor, got {weight._value.type}")
    if weight.dtype is not x.dtype:
        raise LuminaTypeError(f"prelu: weight {weight._value.type} must have the input's dtype {x._value.type}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    count = weight.numel()
    if count != 1 and count != channels:
        raise LuminaShapeError(f"prelu: {count} parameters for {channels} channels of input {x._value.type} "
                               "(expected 1 or one per channel)")
    w = weight.reshape(()) if count == 1 else weight.reshape((1, channels) + (1,) * (x.ndim - 2))
    return where(x > 0.0, x, w * x)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """``torch.nn.functional.rrelu`` (Xu et al. 2015, randomized leaky ReLU). Evaluation:
    ``leaky_relu(x, (lower + upper) / 2)``. Training: each element at or below 0 is multiplied by
    its own slope drawn uniformly from ``[lower, upper)`` by lumina's in-graph generator (so the
    stream differs from torch's; fresh on every compiled call), others (and NaN) pass with
    gradient 1; the gradient is that slope. Floats only (LuminaTypeError); LuminaValueError when
    ``lower > upper``. ``inplace`` updates ``input``."""
    x = _float_input(input, "rrelu")
    if lower > upper:
        raise LuminaValueError(f"rrelu: lower bound {lower} should be at most the upper bound {upper} "
                               f"(input {x._value.type})")
    if not training:
        return leaky_relu(x, (lower + upper) / 2.0, inplace)
    slope = rand(x.shape, dtype=x.dtype) * (upper - lower) + lower
    return _maybe_inplace(x, where(x <= 0.0, x * slope, x), inplace)
