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


TORCH_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "ipu", "mtia", "hpu", "metal")
"""The device types ``lumina.device`` accepts: torch's (a script names "mps" when it is available),
and lumina's "metal". Only lumina's ``DEVICE_NAMES`` can hold tensors."""


class device:
    """``torch.device``: a device type and an optional index, ``device("cuda:0")``,
    ``device("cuda", 0)``, ``device("cpu")``. Equal to another ``device`` with the same type and
    index (not to a string, as in torch); ``str`` gives ``"cuda:0"``. ``Tensor.to(device)`` and
    every ``device=`` argument accept it; a type lumina cannot run ("mps") raises
    LuminaDeviceError there. Raises LuminaDeviceError for an unknown type or a malformed index.
    Semantics: https://pytorch.org/docs/stable/tensor_attributes.html#torch.device"""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index  # noqa: A001
        if not isinstance(type, str):
            raise LuminaDeviceError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type!r}")
        base, sep, idx = type.strip().partition(":")
        if sep:
            if index is not None:
                raise LuminaDeviceError(f"device: {type!r} has an index already, and index={index} is given")
            if not idx.isdigit():
                raise LuminaDeviceError(f"device: invalid device string {type!r}")
            index = int(idx)
        if base not in TORCH_DEVICE_TYPES:
            raise LuminaDeviceError(f"device: unknown device type {base!r} (expected one of "
                                    f"{', '.join(TORCH_DEVICE_TYPES)})")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise LuminaDeviceError(f"device: the index must be a non-negative int, got {index!r}")
        self.type, self.index = base, index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((device, self.type, self.index))

    def __reduce__(self):
        return device, (self.type, self.index)


def device_arg(x) -> str | None:
    """``x`` as a device name if it names one ("cuda", "cuda:0", a ``torch.device``), else None
    (``Tensor.to`` then reads it as a dtype)."""
    if type(x).__name__ == "device" or (isinstance(x, str) and x.split(":")[0].strip().lower() in DEVICE_NAMES):
        return canonical(x)
    return None


def torch_to_dtype(dtype) -> DType:
    """The lumina dtype of a torch dtype (``torch.float32`` -> float32)."""
    return to_dtype(str(dtype).rpartition(".")[2])
