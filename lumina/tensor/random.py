"""Seedable random tensors from the in-graph counter-based generator (the ``rand`` primitive).

Each draw takes a fresh 64-bit key from a counter; the bits of element ``i`` are a hash of
(key, i), so a draw is reproducible from ``manual_seed`` alone and independent of threading. Inside
``@lumina.compile`` the counter is a tensor the compiled function advances, so every call draws new
numbers, exactly as eager calls would. The default counter is global (``lumina.manual_seed``); a
``Generator`` object has its own (torch's ``generator=`` argument), so its stream does not depend
on other draws.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..errors import LuminaTypeError
from ..ir.dtypes import DType, to_dtype
from ..ir.graph import emit
from ..ir.ops import Op
from ..tracing import STATE
from .core import Tensor
from .creation import place, tensor
from .shapes import shape_arg

_COUNTER = tensor(np.int64(0))


def _seed_counter(counter: Tensor, seed: int) -> None:
    counter.assign(tensor(np.int64(int(seed) << 32)))
    counter.numpy()


def manual_seed(seed: int) -> None:
    """Reset the global generator: the same seed gives the same sequence of draws."""
    _seed_counter(_COUNTER, seed)


class Generator:
    """``torch.Generator``: a stream of random numbers of its own, for the ``generator=`` argument
    of the sampling functions (``rand``, ``randperm``, ``multinomial``, ``Tensor.normal_``...).
    The same seed gives the same draws, whatever else is drawn in between; the numbers differ from
    torch's (another algorithm). One generator serves every device, so it takes no ``device``.
    https://pytorch.org/docs/2.13/generated/torch.Generator.html"""

    def __init__(self):
        self._counter = tensor(np.int64(0))
        self._seed = 0

    @property
    def device(self) -> str:
        """Where the generator lives: lumina's counter-based draws are the same on every device."""
        return "cpu"

    def manual_seed(self, seed: int) -> "Generator":
        """Seed the stream; returns the generator (as torch)."""
        self._seed = int(seed)
        _seed_counter(self._counter, seed)
        return self

    def initial_seed(self) -> int:
        """The last seed given to ``manual_seed`` (or ``seed``)."""
        return self._seed

    def seed(self) -> int:
        """Seed the stream from the operating system's entropy; returns that seed."""
        self.manual_seed(int.from_bytes(os.urandom(4), "little"))
        return self._seed

    def get_state(self) -> Tensor:
        """The stream's position, an int64 tensor of one element (torch's state is a byte tensor
        of its own layout: the two do not mix)."""
        return tensor(self._counter.numpy().reshape(1).copy())

    def set_state(self, new_state: Tensor) -> "Generator":
        """Restore a position from ``get_state``; raises LuminaTypeError for another kind of state."""
        if not isinstance(new_state, Tensor) or new_state.dtype is not DType.int64 or new_state.shape != (1,):
            raise LuminaTypeError(f"Generator.set_state: expected the int64[1] tensor of get_state, got "
                                  f"{getattr(new_state, '_value', new_state)!r}")
        self._counter.assign(tensor(np.int64(new_state.numpy()[0])))
        self._counter.numpy()
        return self


def _next_key(generator: Generator | None = None) -> Tensor:
    if generator is not None and not isinstance(generator, Generator):
        raise LuminaTypeError(f"generator must be a lumina.Generator, got {type(generator).__name__}")
    counter = _COUNTER if generator is None else generator._counter
    if STATE.trace is None:
        key = int(counter.item())
        counter.assign(tensor(np.int64(key + 1)))
        counter.numpy()
        return tensor(np.int64(key))
    key = Tensor(counter._touch())
    counter.assign(key + 1)
    return key


def _finish(t: Tensor, device, requires_grad: bool, op: str) -> Tensor:
    """A draw on ``device`` (``creation.place``), made a realised leaf when it requires grad
    (as ``lumina.tensor``; floating-point dtypes only, as torch)."""
    if requires_grad:
        if not t.dtype.is_float:
            raise LuminaTypeError(f"{op}: only floating-point tensors can require grad, got {t.dtype.name}")
        t = tensor(t, requires_grad=True)
    return place(t, device, op)


def rand(*size, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of ``size``; float32 unless ``dtype`` is given; from
    ``generator``'s stream when one is given."""
    dt = DType.float32 if dtype is None else to_dtype(dtype)
    if not size:
        raise LuminaTypeError("rand: missing the size (as torch; lumina.rand(()) is a 0-d sample)")
    shape = shape_arg(size, "rand")
    out = Tensor(emit(Op.RAND, (_next_key(generator)._touch(),), shape=shape, dtype=dt))
    return _finish(out, device, requires_grad, "rand")


def randn(*size, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples by the Box–Muller transform: sqrt(-2 ln(1-u1)) cos(2 pi u2)."""
    if not size:
        raise LuminaTypeError("randn: missing the size (as torch; lumina.randn(()) is a 0-d sample)")
    shape = shape_arg(size, "randn")
    u1, u2 = rand(shape, generator=generator, dtype=dtype), rand(shape, generator=generator, dtype=dtype)
    out = (-2.0 * (1.0 - u1).log()).sqrt() * (2 * math.pi * u2).cos()
    return _finish(out, device, requires_grad, "randn")


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``rand`` of ``input``'s shape, with its dtype unless ``dtype`` is given."""
    return rand(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``randn`` of ``input``'s shape, with its dtype unless ``dtype`` is given."""
    return randn(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randint(low: int, high: int, size, *, generator: Generator | None = None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high) of ``size``; int64 unless ``dtype`` is given."""
    dtype = DType.int64 if dtype is None else dtype
    u = rand(shape_arg((size,) if isinstance(size, int) else tuple(size), "randint"), generator=generator,
             dtype=DType.float64)
    return _finish((u * float(high - low)).to(dtype) + low, device, requires_grad, "randint")
