"""``Embedding``: a lookup table ``[num_embeddings, embedding_dim]``; ``EmbeddingBag``: its rows reduced
per bag (sum, mean, max)."""
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


class EmbeddingBag(Module):
    """``torch.nn.EmbeddingBag``: ``weight [num_embeddings, embedding_dim]`` ~ N(0, 1) (the
    ``padding_idx`` row zeroed), reduced per bag by ``mode`` ('sum', 'mean', 'max'); forward takes
    ``input``, ``offsets`` and ``per_sample_weights`` as ``functional.embedding_bag`` and returns
    ``[B, embedding_dim]``. ``device`` / ``dtype``: see ``module.factory``. Raises
    LuminaValueError for an unknown ``mode``, a ``padding_idx`` out of range and what
    ``functional.embedding_bag`` does not support (``max_norm``, ``scale_grad_by_freq=True``,
    ``sparse=True``), here rather than at the first call."""

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight: Tensor | None = None, include_last_offset: bool = False, padding_idx: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        name = f"EmbeddingBag({num_embeddings}, {embedding_dim})"
        for option, value, default in (("max_norm", max_norm, None), ("scale_grad_by_freq", scale_grad_by_freq, False),
                                       ("sparse", sparse, False)):
            if value != default:
                raise LuminaValueError(f"{name}: {option}={value!r} is not supported")
        if mode not in ("sum", "mean", "max"):
            raise LuminaValueError(f"{name}: mode has to be one of sum, mean or max, got {mode!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise LuminaValueError(f"{name}: padding_idx {padding_idx} must be within num_embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        if _weight is not None:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise LuminaShapeError(f"{name}: weight {list(_weight.shape)} must be "
                                       f"[{num_embeddings}, {embedding_dim}]")
            self.weight = Parameter(_weight)
        else:
            self.weight = Parameter(np.zeros((num_embeddings, embedding_dim), np.float32))
            self.reset_parameters()
        factory(self, device, dtype)

    reset_parameters = Embedding.reset_parameters

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag over ``embeddings [V, D]``; ``freeze`` stops its gradient."""
        v, d = embeddings.shape
        bag = cls(v, d, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings, include_last_offset,
                  padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def forward(self, input, offsets=None, per_sample_weights: Tensor | None = None) -> Tensor:
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}{pad}"
