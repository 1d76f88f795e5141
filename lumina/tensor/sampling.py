"""Random sampling beyond ``rand`` / ``randn`` / ``randint``: ``randperm``, ``multinomial``,
``bernoulli``, ``normal`` and the in-place fills ``normal_`` / ``uniform_`` / ``exponential_`` /
``bernoulli_`` / ``random_`` / ``geometric_``, with PyTorch 2.13's names, shapes, dtypes and
errors (https://pytorch.org/docs/2.13/torch.html#random-sampling).

Every draw comes from ``random.rand`` (the in-graph counter-based generator, seeded by
``lumina.manual_seed``), so the streams differ from torch's by design while the distributions are
the same; all of them run inside ``@lumina.compile`` too, and take torch's ``generator=`` (a
``lumina.Generator``: a stream of its own). The transforms from uniform ``u`` in
[0, 1) (float64 where precision matters):

* ``randperm(n)``: the order of ``n`` uniform keys (``topk``): every permutation equally likely,
  up to ties among the keys (53-bit keys: negligible).
* ``multinomial`` with replacement: inverse CDF, the first category whose cumulative weight
  exceeds ``u * total`` (a zero-weight category is never picked); without replacement: the
  Efraimidis–Spirakis keys ``log(u) / w`` (W. Efraimidis, P. Spirakis, "Weighted random sampling
  with a reservoir", 2006) in descending order, which draws categories one after another with
  probabilities proportional to the remaining weights, as torch. Zero-weight categories come last
  (torch 2.13's CPU kernel also returns them once the others are used up).
* ``bernoulli``: ``u < p``; ``normal``: ``mean + std * randn``; ``exponential_``:
  ``-log(1 - u) / lambd``; ``geometric_``: ``floor(log(1 - u) / log(1 - p)) + 1``;
  ``random_``: ``floor(u * (to - from)) + from``.

Value checks torch makes (negative probabilities, std < 0, ...) are made here when the values are
known without running anything (numbers, realised tensors outside a trace); a computed tensor's
values are checked only where torch's result could not be formed otherwise.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType, to_dtype
from .core import Tensor
from .creation import tensor
from .indexing import known_values
from .inplace import update
from .random import Generator, _finish, rand, randn
from .scan import cumsum
from .selection import topk
from .shapes import broadcast_shapes, shape_arg

NUMBERS = (int, float, np.integer, np.floating)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``torch.randperm``: a random permutation of ``0 .. n-1`` (1-D, int64 unless ``dtype``).
    Raises LuminaValueError for a negative ``n``, LuminaTypeError for a bool dtype (as torch)."""
    dt = DType.int64 if dtype is None else to_dtype(dtype)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise LuminaTypeError(f"randperm: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise LuminaValueError(f"randperm: n must be non-negative, got {n}")
    if dt is DType.bool:
        raise LuminaTypeError("randperm: not implemented for bool (as torch)")
    if n == 0:
        return _finish(tensor(np.zeros(0, dt.numpy)), device, requires_grad, "randperm")
    keys = rand(n, generator=generator, dtype=DType.float64)
    return _finish(topk(keys, n).indices.to(dt), device, requires_grad, "randperm")


def _check_probabilities(p: Tensor, num_samples: int, replacement: bool) -> None:
    if p.dtype is DType.bool or not p.dtype.is_float:
        raise LuminaTypeError(f"multinomial: only floating-point probabilities are supported (as torch), got "
                              f"{p._value.type}")
    if p.ndim not in (1, 2):
        raise LuminaShapeError(f"multinomial: the probabilities must be 1-d or 2-d, got {p._value.type}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise LuminaTypeError(f"multinomial: num_samples must be an int, got {type(num_samples).__name__}")
    if num_samples <= 0:
        raise LuminaValueError(f"multinomial: cannot sample num_samples={num_samples} <= 0 samples")
    if not replacement and num_samples > p.shape[-1]:
        raise LuminaValueError(f"multinomial: cannot sample {num_samples} > {p.shape[-1]} categories without "
                               f"replacement ({p._value.type})")
    vals = known_values(p)
    if vals is None:
        return
    vals = np.asarray(vals, np.float64)
    if not np.isfinite(vals).all() or (vals < 0).any():
        raise LuminaValueError(f"multinomial: the probabilities {p._value.type} contain inf, nan or an element < 0")
    if (vals.sum(-1) <= 0).any():
        raise LuminaValueError(f"multinomial: invalid distribution, the probabilities {p._value.type} sum to 0")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """``torch.multinomial``: ``num_samples`` category indices per row of ``input`` (1-d
    ``[n]`` or 2-d ``[rows, n]`` non-negative float weights, not necessarily normalised), drawn
    with probability proportional to the weights; int64 ``[num_samples]`` / ``[rows,
    num_samples]``. Without ``replacement`` each row's indices are distinct. Raises
    LuminaTypeError (non-float weights), LuminaShapeError (rank), LuminaValueError
    (``num_samples <= 0``, more samples than categories without replacement, and, when the weights
    are known, a negative / inf / nan weight or a row summing to 0). See the module docstring."""
    _check_probabilities(input, num_samples, replacement)
    p = input.to(DType.float64)
    rows = p if p.ndim == 2 else p.unsqueeze(0)
    n = rows.shape[-1]
    if replacement:
        cdf = cumsum(rows, -1)
        total = cdf[:, n - 1:]
        u = rand((rows.shape[0], num_samples), generator=generator, dtype=DType.float64) * total
        below = cdf.unsqueeze(1) <= u.unsqueeze(2)              # [rows, samples, n]
        picked = below.to(DType.int64).sum(-1).clamp(max=n - 1)
    else:
        u = rand(rows.shape, generator=generator, dtype=DType.float64)
        keys = u.log() / rows                                   # -inf for a zero weight
        picked = topk(keys, num_samples, -1).indices
    return picked if input.ndim == 2 else picked.reshape(num_samples)


def _probability(p, op: str, bounds: str = "[0, 1]") -> None:
    """Raise LuminaValueError if ``p`` (a number or a tensor whose values are known) is outside
    [0, 1] (torch's check)."""
    vals = np.asarray(p if not isinstance(p, Tensor) else known_values(p) if known_values(p) is not None else 0.5,
                      np.float64)
    if not ((vals >= 0) & (vals <= 1)).all():
        bad = vals[~((vals >= 0) & (vals <= 1))].reshape(-1)[0]
        raise LuminaValueError(f"{op}: expects p to be in {bounds}, got p={bad}")


def bernoulli(input: Tensor, p=None, *, generator: Generator | None = None) -> Tensor:
    """``torch.bernoulli``: 1 with probability ``input`` (or the number ``p``, for every element
    of ``input``'s shape), else 0; ``input``'s shape and float dtype, no gradient. Raises
    LuminaTypeError for a non-float ``input``, LuminaValueError for a probability outside [0, 1]
    (when it is known)."""
    if not input.dtype.is_float:
        raise LuminaTypeError(f"bernoulli: only floating-point inputs are supported (as torch), got {input._value.type}")
    prob = input.detach() if p is None else p
    _probability(prob, "bernoulli")
    u = rand(input.shape, generator=generator, dtype=DType.float64)
    return (u < (prob.to(DType.float64) if isinstance(prob, Tensor) else float(prob))).to(input.dtype)


def normal(mean, std=1.0, size=None, *, generator: Generator | None = None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """``torch.normal``: ``mean + std * z``, ``z`` standard normal. Overloads as torch: tensor
    ``mean`` and / or tensor ``std`` (the result has their broadcast shape and promoted float
    dtype; the gradient reaches a ``mean`` / ``std`` that requires it), or numbers ``mean``,
    ``std`` and a ``size`` (float32 unless ``dtype``). Raises LuminaValueError for ``std < 0``
    (when known), LuminaTypeError for integer tensors or two numbers without ``size``."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None:
            raise LuminaTypeError("normal: size is only taken with number mean and std (as torch)")
        for t in (mean, std):
            if isinstance(t, Tensor) and not t.dtype.is_float:
                raise LuminaTypeError(f"normal: only floating-point tensors are supported (as torch), got "
                                      f"{t._value.type}")
        _check_std(std)
        ref = mean if isinstance(mean, Tensor) else std
        other = std if ref is mean else mean
        shape = ref.shape if not isinstance(other, Tensor) else broadcast_shapes(
            "normal", ref._value.type, other._value.type)
        dt = ref.dtype if not isinstance(other, Tensor) else (ref + other).dtype
        return (randn(shape, generator=generator, dtype=dt) * std + mean).to(dt)
    if size is None:
        raise LuminaTypeError("normal: with number mean and std, the size is needed (as torch)")
    _check_std(std)
    out = randn(shape_arg((size,) if isinstance(size, int) else tuple(size), "normal"), generator=generator,
                dtype=dtype) * std + mean
    return _finish(out, device, requires_grad, "normal")


def _check_std(std) -> None:
    vals = known_values(std) if isinstance(std, Tensor) else np.asarray(std)
    if vals is not None and (np.asarray(vals) < 0).any():
        raise LuminaValueError(f"normal: expects std >= 0.0, found std {np.asarray(vals).min()}")


def _float_only(t: Tensor, op: str) -> None:
    if not t.dtype.is_float:
        raise LuminaTypeError(f"{op}: only floating-point tensors are supported (as torch), got {t._value.type}")


def _uniform(t: Tensor, generator: Generator | None) -> Tensor:
    return rand(t.shape, generator=generator, dtype=DType.float64)


class SamplingMethods:
    """``Tensor``'s sampling methods; the ``_`` ones fill ``self`` in place (``inplace.update``)
    and return it."""

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
        """``torch.Tensor.multinomial``; see ``multinomial``."""
        return multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, p=None, *, generator=None) -> Tensor:
        """``torch.Tensor.bernoulli``; see ``bernoulli``."""
        return bernoulli(self, p, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
        """``torch.Tensor.bernoulli_``: 1 with probability ``p`` (a number or a tensor broadcasting
        to ``self``), else 0, in ``self``'s dtype (integers and bool too)."""
        _probability(p, "bernoulli_")
        prob = p.to(DType.float64) if isinstance(p, Tensor) else float(p)
        return update(self, "bernoulli_", lambda: (_uniform(self, generator) < prob).to(self.dtype), (p,), check_cast=False)

    def normal_(self, mean=0, std=1, *, generator=None) -> Tensor:
        """``torch.Tensor.normal_``: normal samples of ``mean`` and ``std`` (floats only)."""
        _check_std(std)
        if self.numel() == 0:        # torch checks the dtype only when there is something to fill
            return self
        _float_only(self, "normal_")
        return update(self, "normal_", lambda: (randn(self.shape, generator=generator, dtype=self.dtype) * std + mean).to(self.dtype))

    def uniform_(self, from_=0, to=1, *, generator=None) -> Tensor:
        """``torch.Tensor.uniform_``: uniform samples in ``[from_, to)`` (floats only); raises
        LuminaValueError for ``from_ > to``."""
        _float_only(self, "uniform_")
        if from_ > to:
            raise LuminaValueError(f"uniform_: expects a [from, to) range, but found from={from_} > to={to}")
        return update(self, "uniform_", lambda: (_uniform(self, generator) * (to - from_) + from_).to(self.dtype))

    def exponential_(self, lambd=1, *, generator=None) -> Tensor:
        """``torch.Tensor.exponential_``: exponential samples of rate ``lambd`` > 0 (floats only)."""
        if not lambd > 0:
            raise LuminaValueError(f"exponential_: expects lambda > 0.0, but found lambda={lambd}")
        if self.numel() == 0:
            return self
        _float_only(self, "exponential_")
        return update(self, "exponential_", lambda: (-(1.0 - _uniform(self, generator)).log() / lambd).to(self.dtype))

    def geometric_(self, p, *, generator=None) -> Tensor:
        """``torch.Tensor.geometric_``: the number of Bernoulli(``p``) trials up to the first
        success (1, 2, ...), ``p`` in (0, 1); any dtype but bool."""
        if not 0 < p < 1:
            raise LuminaValueError(f"geometric_: expects p to be in (0, 1), but got p={p}")
        if self.dtype is DType.bool and self.numel():
            raise LuminaTypeError(f"geometric_: not implemented for bool (as torch), got {self._value.type}")
        return update(self, "geometric_", lambda: (((1.0 - _uniform(self, generator)).log() / math.log1p(-p)).floor() + 1)
                      .to(self.dtype), check_cast=False)

    def random_(self, from_=None, to=None, *, generator=None) -> Tensor:
        """``torch.Tensor.random_``: integers uniform in ``[from_, to)``; ``random_(to)`` is
        ``[0, to)``; ``random_()`` ``[0, 2**mantissa]`` for floats (``[0, 2**24]`` for float32),
        ``[0, max]`` for integers, {False, True} for bool. Raises LuminaValueError for an empty
        range. Ranges beyond 2**53 are drawn from one 53-bit uniform (coarser than torch's)."""
        if from_ is not None and to is None and not isinstance(from_, bool):
            low, high = 0, from_
        else:
            low = 0 if from_ is None else from_
            high = to if to is not None else _random_top(self.dtype) + 1
        if low >= high:
            raise LuminaValueError(f"random_: expects 'from' to be less than 'to', but got from={low} >= to={high}")
        bottom, top_ = (-_random_top(self.dtype), _random_top(self.dtype)) if self.dtype.is_float else \
            (0 if self.dtype is DType.bool else int(np.iinfo(self.dtype.numpy).min), _random_top(self.dtype))
        if low < bottom or high - 1 > top_:
            raise LuminaValueError(f"random_: the range [{low}, {high}) does not fit {self._value.type} "
                                   f"(values from {bottom} to {top_})")
        span = float(high - low)
        top = float(np.nextafter(span, 0.0))    # u * span may round up to span itself
        return update(self, "random_", lambda: ((_uniform(self, generator) * span).floor().clamp(max=top) + float(low))
                      .to(self.dtype), check_cast=False)


def _random_top(dtype: DType) -> int:
    """The largest value ``random_()`` draws for ``dtype``, as torch."""
    if dtype is DType.bool:
        return 1
    if dtype.is_float:
        return 2 ** {DType.float16: 11, DType.bfloat16: 8, DType.float32: 24, DType.float64: 53}[dtype]
    return int(np.iinfo(dtype.numpy).max)
