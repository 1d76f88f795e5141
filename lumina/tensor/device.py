"""Where each tensor's value lives: one ``DeviceState``, ``DEVICE_STATE``.

A value a Tensor was made for lives on "cpu", "cuda", "metal", or on no device yet (None): then it
joins whichever device it meets. That is the case of constants (``full``, ``zeros``, ``arange``,
Python scalars), of 0-d CPU tensors (as in PyTorch) and of the placeholders of a
``@lumina.compile`` trace. A realised value's device is set when it is bound (``Tensor._bind``); a
computed value's is its operands' common device, memoised as each Tensor is made, which is where
two devices meeting in one op is caught. Inside a trace devices are not checked: the compiled
function runs wholly on its compile device, and every input it reads is copied there.

While no value bound to another device than the CPU is alive (``DeviceState.elsewhere`` counts
them) every value is on the CPU and nothing is checked or memoised: CPU-only programs pay nothing
per op. A lazy value keeps the values it reads alive, so none can depend on device data once the
count is back at 0; values made while it was 0 are memoised on their first use after it rises
(each once).
"""
from __future__ import annotations

import weakref

from ..backends.devices import DEVICES as DEVICE_NAMES
from ..backends.devices import canonical
from ..errors import LuminaDeviceError
from ..ir.dtypes import DType, to_dtype
from ..ir.graph import Value
from ..ir.ops import Op
from ..tracing import BOUND

_UNKNOWN = object()


class DeviceState:
    """The device of each value that has one known (``of``, keyed weakly by the value) and how
    many values bound to a device other than the CPU are alive (``elsewhere``)."""

    __slots__ = ("of", "elsewhere")

    def __init__(self) -> None:
        self.of: "weakref.WeakKeyDictionary[Value, str | None]" = weakref.WeakKeyDictionary()
        self.elsewhere = 0

    def bind(self, value: Value, device: str) -> None:
        """Record that ``value`` (an input bound to data) lives on ``device``, not the CPU."""
        self.of[value] = device
        self.elsewhere += 1
        weakref.finalize(value, self._released)

    def _released(self) -> None:
        self.elsewhere -= 1

    def device_of(self, value: Value) -> str | None:
        """``value``'s device, computing and memoising it for the values under it that no Tensor
        was made for (iteratively: deep graphs are fine). Raises LuminaDeviceError naming the op
        and both devices where operands on two devices meet."""
        get = self.of.get
        found = get(value, _UNKNOWN)
        if found is not _UNKNOWN:
            return found
        stack = [value]
        while stack:
            n = stack[-1]
            if n.op is Op.INPUT:   # a 0-d CPU tensor joins any device, as in PyTorch (a learning rate)
                stack.pop()
                if get(n, _UNKNOWN) is _UNKNOWN:
                    self.of[n] = "cpu" if n in BOUND and n.type.shape != () else None
                continue
            operands = [get(v, _UNKNOWN) for v in n.inputs]
            missing = [v for v, d in zip(n.inputs, operands) if d is _UNKNOWN]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            self.of[n] = _own_device(n, operands)
        return self.of[value]


DEVICE_STATE = DeviceState()


def _own_device(n: Value, operands: list) -> str | None:
    """The device of value ``n`` given its operands' devices."""
    found = None
    for d in operands:
        if d is not None and found is not None and d != found:
            raise LuminaDeviceError(f"{n.op.value}: operands on two devices, {found} and {d} "
                                    f"({', '.join(str(v.type) for v in n.inputs)}); move one with .to(device)")
        found = found or d
    return found


def device_arg(x) -> str | None:
    """``x`` as a device name if it names one ("cuda", "cuda:0", a ``torch.device``), else None
    (``Tensor.to`` then reads it as a dtype)."""
    if type(x).__name__ == "device" or (isinstance(x, str) and x.split(":")[0].strip().lower() in DEVICE_NAMES):
        return canonical(x)
    return None


def torch_to_dtype(dtype) -> DType:
    """The lumina dtype of a torch dtype (``torch.float32`` -> float32)."""
    return to_dtype(str(dtype).rpartition(".")[2])
