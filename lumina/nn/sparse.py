"""``Embedding``: a lookup table ``[num_embeddings, embedding_dim]``."""
from __future__ import annotations

import numpy as np

from ..errors import LuminaShapeError, LuminaValueError
from ..tensor import Tensor, no_grad, realize
from . import functional as F
from . import init
from .module import Module, Parameter, factory


class Embedding(Module):
    """``torch.nn.Embedding``: ``weight [num_embeddings, embedding_dim]`` ~ N(0, 1) (PyTorch's default),
    with the ``padding_idx`` row zeroed and frozen (it receives no gradient). Input: integer indices
    of any shape; output ``input.shape + [embedding_dim]``. ``device`` / ``dtype``: see
    ``module.factory``. Raises LuminaValueError for a ``padding_idx`` out of range and for what
    ``functional.embedding`` does not support (``max_norm``, ``scale_grad_by_freq=True``,
    ``sparse=True``), here rather than at the first lookup."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False, device=None,
                 dtype=None):
        super().__init__()
        for name, value, default in (("max_norm", max_norm, None), ("scale_grad_by_freq", scale_grad_by_freq, False),
                                     ("sparse", sparse, False)):
            if value != default:
                raise LuminaValueError(f"Embedding({num_embeddings}, {embedding_dim}): {name}={value!r} is not "
                                       "supported")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise LuminaValueError(f"Embedding({num_embeddings}, {embedding_dim}): padding_idx {padding_idx} "
                                       "out of range")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        if _weight is not None:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise LuminaShapeError(f"Embedding: weight {list(_weight.shape)} must be "
                                       f"[{num_embeddings}, {embedding_dim}]")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        else:
            self.weight = Parameter(np.zeros((num_embeddings, embedding_dim), np.float32))
            self.reset_parameters()
        factory(self, device, dtype)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                rows = np.arange(self.num_embeddings).reshape(-1, 1) == self.padding_idx
                self.weight.assign(self.weight * Tensor._from_array(~rows).to(self.weight.dtype))
            realize(self.weight)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None) -> "Embedding":
        """An Embedding over a copy of ``embeddings [V, D]``; ``freeze`` stops its gradient."""
        v, d = embeddings.shape
        return cls(v, d, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze)

    def forward(self, idx) -> Tensor:
        return F.embedding(idx, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
