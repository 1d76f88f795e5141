"""Weight initialisers, as ``torch.nn.init``: each fills a tensor in place and returns it.

Draws come from lumina's in-graph generator (``lumina.rand`` / ``randn``), so ``lumina.manual_seed``
makes them reproducible; they do not reproduce PyTorch's bit streams, only its distributions.
Outside ``@lumina.compile`` the filled tensor is realised at once.

Sources: Glorot & Bengio 2010 (xavier: ``Var = gain^2 * 2 / (fan_in + fan_out)``), He et al. 2015
(kaiming: ``Var = gain^2 / fan``), gains from ``torch.nn.init.calculate_gain``.
"""
from __future__ import annotations

import math

from ..errors import LuminaTraceError, LuminaValueError
from ..tensor.random import rand, randn
from ..tensor import Tensor, full, no_grad, realize, where
from ..tracing import STATE


def calculate_gain(nonlinearity: str, param: float | None = None) -> float | int:
    """The recommended gain for ``nonlinearity`` (``torch.nn.init.calculate_gain``): 1 for linear,
    conv and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + a^2)) for leaky_relu (a = 0.01
    unless ``param``), 3/4 for selu. Raises LuminaValueError for another name."""
    linear = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid"}
    if nonlinearity in linear:
        return 1                     # an int, as torch's
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise LuminaValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise LuminaValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(shape[1] * receptive, shape[0] * receptive)`` with ``receptive = prod(shape[2:])``, as
    PyTorch. Raises LuminaValueError for fewer than 2 dims."""
    if tensor.ndim < 2:
        raise LuminaValueError(f"init: fan in and fan out cannot be computed for {tensor._value.type} "
                               "(fewer than 2 dims)")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, value: Tensor) -> Tensor:
    with no_grad():
        tensor.assign(value)
    if STATE.trace is None:
        realize(tensor)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(tensor, rand(tensor.shape, dtype=tensor.dtype) * (b - a) + a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, randn(tensor.shape, dtype=tensor.dtype) * std + mean)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """``torch.nn.init.trunc_normal_``: fill with N(mean, std^2) restricted to ``[a, b]`` (``a`` and
    ``b`` are absolute bounds, as torch's). Exact rejection sampling: the draws outside ``[a, b]``
    are drawn again until none is left (torch inverts the CDF instead: same distribution, other
    values). Raises LuminaValueError for ``std <= 0`` or ``a >= b``, or when ``[a, b]`` holds less
    than 1e-6 of the distribution's mass (torch warns and returns values piled at the bounds), and
    LuminaTraceError inside ``@lumina.compile`` (how many redraws it takes depends on the draws).
    ``generator`` (a ``lumina.Generator``) is passed to ``randn``."""
    if not std > 0 or not a < b:
        raise LuminaValueError(f"trunc_normal_: needs std > 0 and a < b, got std={std}, a={a}, b={b} "
                               f"for {tensor._value.type}")
    if STATE.trace is not None:
        raise LuminaTraceError("trunc_normal_: the number of redraws depends on the data; initialise the "
                               "tensor outside @lumina.compile")
    mass = 0.5 * (math.erf((b - mean) / (std * math.sqrt(2))) - math.erf((a - mean) / (std * math.sqrt(2))))
    if mass < 1e-6:
        raise LuminaValueError(f"trunc_normal_: [{a}, {b}] holds {mass:.3g} of N({mean}, {std}^2); draws would "
                               f"take too long (torch warns and piles values at the bounds)")
    kw = {} if generator is None else {"generator": generator}
    with no_grad():
        value = randn(tensor.shape, dtype=tensor.dtype, **kw) * std + mean
        outside = (value < a) | (value > b)
        while bool(outside.any()):
            value = where(outside, randn(tensor.shape, dtype=tensor.dtype, **kw) * std + mean, value)
            realize(value)
            outside = (value < a) | (value > b)
    return _fill(tensor, value)


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, full(tensor.shape, val, dtype=tensor.dtype))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise LuminaValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise LuminaValueError(f"kaiming init: {tensor._value.type} has a zero {mode}")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with ``b = sqrt(3) * gain / sqrt(fan)`` (He et al. 2015); ``a`` is the leaky_relu slope
    (``a = sqrt(5)`` gives PyTorch's Linear/Conv default, ``b = 1 / sqrt(fan_in)``)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with ``std = gain / sqrt(fan)`` (He et al. 2015)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
