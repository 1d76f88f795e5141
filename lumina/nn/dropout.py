"""Dropout layers: ``Dropout`` (inverted dropout), the channel-wise ``Dropout1d`` / ``2d`` / ``3d``
and the SELU-preserving ``AlphaDropout`` / ``FeatureAlphaDropout``; random in training mode, the
identity in eval mode (``functional.dropout`` and ``functional.dropout_variants``)."""
from __future__ import annotations

from ..errors import LuminaValueError
from ..tensor import Tensor
from . import functional as F
from .module import Module


class _DropoutNd(Module):
    """torch's ``_DropoutNd``: ``p`` (checked in ``[0, 1]``, LuminaValueError) and ``inplace``;
    ``fn(x, p, training, inplace)`` is the functional form."""
    fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise LuminaValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, "
                                   f"but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """``torch.nn.Dropout(p)`` (see ``functional.dropout``; ``inplace`` writes the result into the
    input). Raises LuminaValueError unless 0 <= p <= 1."""
    fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """``torch.nn.Dropout1d(p)``: whole channels of ``[N, C, L]`` / ``[C, L]`` (``functional.dropout1d``)."""
    fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """``torch.nn.Dropout2d(p)``: whole channels of ``[N, C, H, W]`` (``functional.dropout2d``)."""
    fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """``torch.nn.Dropout3d(p)``: whole channels of ``[N, C, D, H, W]`` / ``[C, D, H, W]``
    (``functional.dropout3d``)."""
    fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """``torch.nn.AlphaDropout(p)`` (Klambauer et al. 2017; ``functional.alpha_dropout``)."""
    fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """``torch.nn.FeatureAlphaDropout(p)``: alpha dropout of whole channels
    (``functional.feature_alpha_dropout``)."""
    fn = staticmethod(F.feature_alpha_dropout)
