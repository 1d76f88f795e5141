"""Activation layers: thin ``Module`` wrappers of ``functional``'s activations with torch 2.13's
constructors, attributes and ``extra_repr`` (https://pytorch.org/docs/2.13/nn.html#non-linear-activations-weighted-sum-nonlinearity).
``ReLU``, ``GELU``, ``Sigmoid`` and ``Tanh`` live in ``layers``. Every ``inplace=True`` updates
the input (``functional.activation._maybe_inplace``: torch's in-place rules and version counter)."""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import LuminaValueError
from ..tensor import Tensor
from . import functional as F
from .init import constant_
from .module import Module, Parameter, factory


class _Inplace(Module):
    """An activation whose only option is ``inplace``; ``fn`` is its functional form."""
    fn = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_Inplace):
    """``torch.nn.SiLU``: ``x * sigmoid(x)`` (``functional.silu``)."""
    fn = staticmethod(F.silu)


class Mish(_Inplace):
    """``torch.nn.Mish``: ``x * tanh(softplus(x))`` (``functional.mish``)."""
    fn = staticmethod(F.mish)


class Hardswish(_Inplace):
    """``torch.nn.Hardswish``: ``x * relu6(x + 3) / 6`` (``functional.hardswish``; torch's repr
    leaves ``inplace`` out)."""
    fn = staticmethod(F.hardswish)

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(Hardswish):
    """``torch.nn.Hardsigmoid``: ``relu6(x + 3) / 6`` (``functional.hardsigmoid``)."""
    fn = staticmethod(F.hardsigmoid)


class ReLU6(_Inplace):
    """``torch.nn.ReLU6``: ``min(max(x, 0), 6)`` (``functional.relu6``)."""
    fn = staticmethod(F.relu6)


class SELU(_Inplace):
    """``torch.nn.SELU`` (``functional.selu``)."""
    fn = staticmethod(F.selu)


class LeakyReLU(Module):
    """``torch.nn.LeakyReLU(negative_slope=0.01)`` (``functional.leaky_relu``)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """``torch.nn.ELU(alpha=1.0)`` (``functional.elu``)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """``torch.nn.CELU(alpha=1.0)`` (``functional.celu``; alpha 0 raises when called)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)


class Softplus(Module):
    """``torch.nn.Softplus(beta=1.0, threshold=20.0)`` (``functional.softplus``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """``torch.nn.Softsign``: ``x / (1 + |x|)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """``torch.nn.Tanhshrink``: ``x - tanh(x)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class LogSigmoid(Module):
    """``torch.nn.LogSigmoid``: ``log(sigmoid(x))`` without overflow (``functional.logsigmoid``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class _Shrink(Module):
    fn = None

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Softshrink(_Shrink):
    """``torch.nn.Softshrink(lambd=0.5)`` (``functional.softshrink``)."""
    fn = staticmethod(F.softshrink)


class Hardshrink(_Shrink):
    """``torch.nn.Hardshrink(lambd=0.5)`` (``functional.hardshrink``)."""
    fn = staticmethod(F.hardshrink)


class Hardtanh(Module):
    """``torch.nn.Hardtanh(min_val=-1, max_val=1)``; ``min_value`` / ``max_value`` are torch's
    deprecated spellings (FutureWarning). Raises LuminaValueError unless ``max_val > min_val``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`", FutureWarning,
                          stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`", FutureWarning,
                          stacklevel=2)
            max_val = max_value
        if not max_val > min_val:
            raise LuminaValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Threshold(Module):
    """``torch.nn.Threshold(threshold, value)``: ``value`` where ``x <= threshold``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class RReLU(Module):
    """``torch.nn.RReLU(lower=1/8, upper=1/3)``: random negative slopes in training, their mean in
    eval mode (``functional.rrelu``; lumina's random stream, not torch's)."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """``torch.nn.PReLU(num_parameters=1, init=0.25)``: ``weight [num_parameters]`` filled with
    ``init``, one slope shared or one per channel (dim 1; ``functional.prelu``). ``device`` /
    ``dtype``: see ``module.factory``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(np.full(num_parameters, init, np.float32))
        factory(self, device, dtype)

    def reset_parameters(self) -> None:
        constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class GLU(Module):
    """``torch.nn.GLU(dim=-1)``: ``a * sigmoid(b)`` for the halves of the input along ``dim``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _SoftmaxLike(Module):
    fn = None

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxLike):
    """``torch.nn.Softmax(dim=None)`` (``functional.softmax``; ``None`` is torch's deprecated
    implicit dim)."""
    fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxLike):
    """``torch.nn.LogSoftmax(dim=None)`` (``functional.log_softmax``)."""
    fn = staticmethod(F.log_softmax)


class Softmin(_SoftmaxLike):
    """``torch.nn.Softmin(dim=None)``: ``softmax(-x, dim)`` (``functional.softmin``)."""
    fn = staticmethod(F.softmin)
