"""Reading either library's results: torch dtype names, NumPy copies (16-bit floats widened to
float64), the tensors of a nested result."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import torch

import lumina


def torch_dtype_name(t: torch.Tensor) -> str:
    """A torch tensor's dtype by lumina's name for it ("float32", "bfloat16", "bool", ...)."""
    return str(t.dtype).rpartition(".")[2]


def torch_numpy(t: torch.Tensor) -> np.ndarray:
    """A torch tensor's values as NumPy; float16 and bfloat16 widened to float64 (exactly)."""
    t = t.detach()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.to(torch.float64)
    return t.numpy()


def lumina_numpy(t) -> np.ndarray:
    """A lumina tensor's values as NumPy (realising it); float16 and bfloat16 widened to float64."""
    a = np.asarray(t.numpy())
    return a.astype(np.float64) if a.dtype in (ml_dtypes.bfloat16, np.float16) else a


def tensor_leaves(x, out: list) -> None:
    """Appends to ``out`` the tensors (of either library) in ``x``, a tensor or nested tuples and
    lists of them, depth first."""
    if isinstance(x, (lumina.Tensor, torch.Tensor)):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for y in x:
            tensor_leaves(y, out)
