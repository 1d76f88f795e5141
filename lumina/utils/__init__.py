"""PyTorch-style utilities outside the tensor API: ``lumina.utils.data`` (datasets, samplers and
the ``DataLoader``), after ``torch.utils``."""
from . import data

__all__ = ["data"]
