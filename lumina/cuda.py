"""``lumina.cuda``: whether lumina can run on an NVIDIA GPU here, as ``torch.cuda`` answers it.

lumina drives one GPU (the current one) through its Triton backend; ``lumina.default_device()`` and
``Tensor.to("cuda")`` use it. Semantics: https://pytorch.org/docs/stable/cuda.html
"""
from __future__ import annotations

from .backends.devices import available


def is_available() -> bool:
    """``torch.cuda.is_available``: whether lumina's cuda device runs here (an NVIDIA GPU with
    Triton, or Triton's interpreter where ``TRITON_INTERPRET=1``)."""
    return available("cuda")[0]


def device_count() -> int:
    """``torch.cuda.device_count``: the GPUs lumina can use, 1 or 0 (lumina drives one GPU)."""
    return int(is_available())
