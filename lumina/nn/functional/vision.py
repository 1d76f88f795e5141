"""Vision rearrangements: ``pixel_shuffle`` and ``pixel_unshuffle`` (PyTorch 2.13's semantics; Shi et
al. 2016, "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
Convolutional Neural Network"). Each is a reshape, a permute and a reshape, so its gradient is the
inverse rearrangement."""
from __future__ import annotations

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor import Tensor


def _factor(x: Tensor, factor, op: str, name: str) -> int:
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise LuminaTypeError(f"{op}: {name} must be an int, got {factor!r}")
    if factor <= 0:
        raise LuminaValueError(f"{op}: expects a positive {name}, but got {factor} (for {x._value.type})")
    if x.ndim < 3:
        raise LuminaShapeError(f"{op}: expects input to have at least 3 dimensions, but got {x._value.type}")
    return factor


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``torch.nn.functional.pixel_shuffle``: ``[*, C * r^2, H, W] -> [*, C, H * r, W * r]`` with
    ``r = upscale_factor``: ``out[..., c, h * r + i, w * r + j] = x[..., c * r^2 + i * r + j, h, w]``
    (ONNX DepthToSpace in CRD mode). Same dtype. Raises LuminaShapeError for fewer than 3 dims or
    channels not divisible by ``r^2``, LuminaValueError for ``r <= 0``."""
    x = input
    r = _factor(x, upscale_factor, "pixel_shuffle", "upscale_factor")
    *batch, c, h, w = x.shape
    if c % (r * r):
        raise LuminaShapeError(f"pixel_shuffle: expects the channel dim (size(-3) = {c}) of {x._value.type} to be "
                               f"divisible by upscale_factor^2 = {r * r}")
    nb = len(batch)
    y = x.reshape(*batch, c // (r * r), r, r, h, w)
    y = y.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)      # [*, C, H, r, W, r]
    return y.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``torch.nn.functional.pixel_unshuffle``, the inverse of ``pixel_shuffle``: ``[*, C, H * r,
    W * r] -> [*, C * r^2, H, W]`` with ``r = downscale_factor`` (ONNX SpaceToDepth with the
    channels in CRD order). Raises LuminaShapeError for fewer than 3 dims or a height or width not
    divisible by ``r``, LuminaValueError for ``r <= 0``."""
    x = input
    r = _factor(x, downscale_factor, "pixel_unshuffle", "downscale_factor")
    *batch, c, h, w = x.shape
    if h % r or w % r:
        raise LuminaShapeError(f"pixel_unshuffle: expects the height and width of {x._value.type} to be divisible "
                               f"by downscale_factor {r}")
    nb = len(batch)
    y = x.reshape(*batch, c, h // r, r, w // r, r)
    y = y.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)      # [*, C, r, r, H, W]
    return y.reshape(*batch, c * r * r, h // r, w // r)
