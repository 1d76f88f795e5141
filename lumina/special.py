"""``lumina.special``: the functions of ``torch.special`` (PyTorch 2.13,
https://pytorch.org/docs/2.13/special.html) that lumina has, under torch's names. Most are the
same functions as ``lumina.X`` (``expit`` is ``sigmoid``, ``gammaln`` is ``lgamma``, ``psi`` is
``digamma``); ``xlog1py`` and ``entr`` are defined here. Shapes, dtypes, errors and gradients are
those of the functions named.
"""
from __future__ import annotations

import math as _math

from .ir.dtypes import DType as _DType
from .tensor.creation import const as _const
from .nn.functional.activation import log_softmax as _log_softmax
from .nn.functional.activation import softmax as _softmax
from .tensor import Tensor as _Tensor
from .tensor import digamma, erfinv, exp2, expm1, lgamma, log1p, logit, polygamma, sinc, xlogy
from .tensor import where as _where
from .tensor.binary_math import _common, _in_float32
from .tensor.pointwise import log1p as _log1p
from .tensor.special_math import as_float as _as_float
from .tensor.special_math import smooth as _smooth
from .tensor.special_math import tangent as _tangent

__all__ = ["digamma", "entr", "erfinv", "exp2", "expit", "expm1", "gammaln", "log1p", "log_softmax", "logit",
           "polygamma", "psi", "sinc", "softmax", "xlog1py", "xlogy"]

gammaln = lgamma
psi = digamma


def expit(input: _Tensor) -> _Tensor:
    """``torch.special.expit``: the logistic sigmoid ``1 / (1 + e^-x)``; see ``Tensor.sigmoid``."""
    return input.sigmoid()


def softmax(input: _Tensor, dim: int, *, dtype=None) -> _Tensor:
    """``torch.special.softmax``: ``F.softmax`` with ``dim`` required."""
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input: _Tensor, dim: int, *, dtype=None) -> _Tensor:
    """``torch.special.log_softmax``: ``F.log_softmax`` with ``dim`` required."""
    return _log_softmax(input, dim, dtype=dtype)


def entr(input: _Tensor) -> _Tensor:
    """``torch.special.entr``: ``-x log(x)`` for ``x > 0``, 0 at 0, -inf below 0 (NaN at NaN);
    integers and bools give float32. Gradient torch's ``-(1 + log x)`` (inf at 0, NaN below)."""
    x = _as_float(input)
    if x.dtype.is_half:
        return entr(x.to(_DType.float32)).to(x.dtype)
    d = x.detach()
    pos = d > 0
    value = _where(pos, -d * _where(pos, d, 1.0).log(), _where(d == 0, 0.0, _const(-_math.inf, d.dtype)))
    value = _where(d != d, d, value)
    return _smooth(x, value, -(1.0 + d.log()), _entr_at_inf)


def _entr_at_inf(u: _Tensor) -> _Tensor:
    """entr at ±inf with torch's gradients: -inf at +inf (slope -(1 + log x)), -inf with a NaN
    gradient at -inf (``sqrt(|1 / x|)`` is 0 there, with a NaN derivative)."""
    pos = u > 0
    up = _where(pos, u, 1.0)
    down = _where(pos, -1.0, u)
    # -(x^2): -inf with the derivative -inf (x log x's own derivative is inf * 0 there)
    return _where(pos, -(up * up), (1.0 / down).abs().sqrt() - _math.inf)


def xlog1py(input, other) -> _Tensor:
    """``torch.special.xlog1py``: ``x * log1p(y)``, 0 where ``x == 0`` unless ``y`` is NaN. Either
    operand may be a Python number; integers compute in float32. Gradients are torch's:
    ``log1p(y)`` for ``x`` (0 where ``x == 0`` and ``y <= -1``), ``x / (1 + y)`` for ``y``."""
    x, y = _common("xlog1py", input, other)

    def body(x: _Tensor, y: _Tensor) -> _Tensor:
        xd, yd = x.detach(), y.detach()
        zero = xd == 0.0
        edge = zero & (yd <= -1.0)
        ys = _where(edge, 0.0, yd)
        value = _where(yd != yd, yd, _where(zero, 0.0, xd * _log1p(ys)))
        return value + _tangent(x, _where(edge, 0.0, _log1p(yd))) + _tangent(y, xd / (1.0 + yd))
    return _in_float32(x, y, body)


_ = (erfinv, exp2, expm1, log1p, logit, polygamma, sinc, xlogy)    # torch.special's names for these
