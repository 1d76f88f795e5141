"""``lumina.accelerator``: the device-agnostic accelerator query of ``torch.accelerator``.

The accelerator is the first of cuda and metal that runs here on real hardware (the order
``lumina.default_device()`` uses), or none. Semantics: https://pytorch.org/docs/stable/accelerator.html
"""
from __future__ import annotations

from .backends.devices import default_device
from .errors import LuminaDeviceError
from .tensor.device import device


def current_accelerator(check_available: bool = False) -> device | None:
    """``torch.accelerator.current_accelerator``: the accelerator as a ``lumina.device``, or None
    when this machine has none (``check_available`` is accepted: lumina only ever reports one that
    runs)."""
    name = default_device()
    return None if name == "cpu" else device(name)


def is_available() -> bool:
    """``torch.accelerator.is_available``: whether an accelerator (cuda or metal) runs here."""
    try:
        return current_accelerator() is not None
    except LuminaDeviceError:
        return False
