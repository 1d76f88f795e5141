"""The device registry: which of lumina's devices can run here, and which one runs by default.

    cpu     the LLVM backend (always available)
    cuda    Triton kernels on an NVIDIA GPU, buffers from PyTorch's caching allocator; needs a
            CUDA build of PyTorch that sees a GPU, and Triton. With ``TRITON_INTERPRET=1`` the
            same kernels run in Triton's interpreter on CPU torch tensors instead (slow: for
            testing the whole cuda path on a machine without a GPU, as CI does)
    metal   Metal Shading Language kernels on an Apple GPU (``backends.metal.device.available``)

``default_device()`` is the best device available (cuda, then metal, then cpu; the Triton
interpreter is used only when asked for by name, never picked by default), or ``LUMINA_DEVICE``
when set. Asking for a device that cannot run here raises ``LuminaDeviceError`` with the reason.
"""
from __future__ import annotations

import os
import sys

from ..errors import LuminaDeviceError

DEVICES = ("cpu", "cuda", "metal")
PREFERENCE = ("cuda", "metal", "cpu")   # default_device's order


def canonical(device) -> str:
    """``device`` as one of ``DEVICES``: a name, ``"cuda:0"`` or a ``torch.device`` (lumina drives
    one GPU: the current one). Raises LuminaDeviceError for anything else."""
    name = str(device).strip().lower()
    base, _, index = name.partition(":")
    if base in DEVICES and (not index or (base == "cuda" and index == "0")):
        return base
    raise LuminaDeviceError(f"unknown device {device!r}: lumina's devices are {', '.join(DEVICES)} "
                            "(and cuda:0)")


NVIDIA_DRIVER = "/proc/driver/nvidia/version"   # present where Linux's NVIDIA kernel driver is loaded
INTERPRETER_HINT = "set TRITON_INTERPRET=1 to run the cuda path in Triton's interpreter on the CPU"


def interpreting() -> bool:
    """True when ``TRITON_INTERPRET=1`` is in effect: cuda kernels run in Triton's interpreter on
    CPU tensors. (Without the variable this answers without importing Triton.)"""
    if os.environ.get("TRITON_INTERPRET", "") in ("", "0"):
        return False
    from .cuda.jit import interpreting as triton_interpreting
    return triton_interpreting()


def _cuda() -> tuple[bool, str]:
    interpret = interpreting()
    if not interpret and sys.platform == "linux" and not os.path.exists(NVIDIA_DRIVER):
        # checked first so that a CPU-only machine never pays for importing torch and Triton
        return False, f"no NVIDIA driver is loaded ({NVIDIA_DRIVER} is missing); {INTERPRETER_HINT}"
    try:
        import torch
    except ImportError:
        return False, "PyTorch is not installed (cuda buffers come from its allocator)"
    try:
        import triton  # noqa: F401
    except ImportError:
        return False, "Triton is not installed (pip install triton)"
    if interpret:
        return True, "Triton interpreter (TRITON_INTERPRET=1): kernels run on the CPU"
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        return False, f"PyTorch {torch.__version__} ({build}) sees no CUDA GPU; {INTERPRETER_HINT}"
    return True, torch.cuda.get_device_name()


def _metal() -> tuple[bool, str]:
    from .metal.device import available as metal_available
    return metal_available()


def available(device) -> tuple[bool, str]:
    """``(True, what runs it)`` if ``device`` can run here, else ``(False, why not)``."""
    name = canonical(device)
    if name == "cpu":
        return True, "LLVM CPU backend"
    return _cuda() if name == "cuda" else _metal()


def require(device) -> str:
    """``device``'s canonical name; raises LuminaDeviceError naming it and the reason when it
    cannot run here."""
    name = canonical(device)
    ok, reason = available(name)
    if not ok:
        raise LuminaDeviceError(f"device {name!r} is not available: {reason}")
    return name


def default_device() -> str:
    """``LUMINA_DEVICE`` if set (it must be available: else LuminaDeviceError), else the first
    of cuda, metal, cpu that runs here on real hardware."""
    forced = os.environ.get("LUMINA_DEVICE")
    if forced:
        return require(forced)
    for name in PREFERENCE:
        if name == "cuda" and interpreting():
            continue        # the interpreter is a test vehicle, not a device to pick by default
        if available(name)[0]:
            return name
    return "cpu"


SOURCE_TARGETS = {"llvm": "cpu", "triton": "cuda", "metal": "metal"}
"""The kernel source languages ``kernel_source`` renders, and the device whose backend renders each."""


def kernel_source(desc, target: str) -> str:
    """The source ``target`` generates for kernel description ``desc`` ("llvm": the CPU's LLVM IR
    module for a loop or row kernel, "triton": the cuda device's ``@triton.jit`` Python, "metal":
    MSL). Raises LuminaDeviceError for another target and LuminaCodegenError for a kernel the
    renderer cannot express."""
    if target not in SOURCE_TARGETS:
        raise LuminaDeviceError(f"kernel_source: unknown target {target!r}; targets are {', '.join(SOURCE_TARGETS)}")
    from .target import backend
    return backend(SOURCE_TARGETS[target]).render(desc)


def torch_device():
    """The ``torch.device`` that holds cuda buffers: the GPU, or the CPU under the interpreter."""
    import torch
    return torch.device("cpu" if interpreting() else "cuda")


def transfer(data, src: str, dst: str):
    """The data of a realised tensor on ``src`` ("cpu" and "metal": a NumPy array; "cuda": a torch
    tensor), copied to ``dst``'s form. A copy even where both sides are host memory, so the two
    tensors never share a buffer."""
    import numpy as np
    if dst == "cuda":
        from .cuda.executable import from_numpy
        if src == "cuda":
            return data
        return from_numpy(np.array(data, copy=True)).to(torch_device())
    if src == "cuda":
        from .cuda.executable import to_numpy
        return np.array(to_numpy(data), copy=True)
    return np.array(data, copy=True)


def host_array(data):
    """``data`` (any device's form, see ``transfer``) as a NumPy array; no copy when it already is."""
    import numpy as np
    if isinstance(data, np.ndarray):
        return data
    from .cuda.executable import to_numpy
    return to_numpy(data)
