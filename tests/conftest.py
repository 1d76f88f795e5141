"""Session-wide test settings.

The suite's expectations (kernel counts, LLVM text, per-kernel profiles) are those of the cpu
device, so ``@lumina.compile`` without a device runs there even on a machine with a GPU (where the
default device would be cuda); tests of other devices name theirs (``tests/test_devices.py``,
``tests/test_gpu.py``). ``LUMINA_DEVICE=cuda python -m pytest`` runs the rest on the GPU instead.
"""
import os

os.environ.setdefault("LUMINA_DEVICE", "cpu")
