"""``default_collate`` and ``default_convert``: a list of samples -> one batch of lumina tensors,
after ``torch.utils.data.default_collate`` (https://pytorch.org/docs/2.13/data.html#torch.utils.data.default_collate).

By the type of the first sample:

* lumina ``Tensor`` -> stacked along a new dim 0 (``lumina.stack`` when one requires grad, so the
  gradient flows; otherwise on the host);
* NumPy array or scalar -> stacked, keeping its dtype (lumina's dtypes only: bool, int32, int64,
  float16, bfloat16, float32, float64);
* Python ``bool`` / ``int`` / ``float`` -> a bool / int64 / float64 tensor of shape ``[batch]``;
* ``str`` / ``bytes`` -> the list unchanged;
* a mapping -> the same mapping type of collated values; a named tuple -> the same type; another
  sequence -> a list (a ``list`` subclass keeps its type) of collated positions.

Errors: LuminaShapeError for tensors or arrays of different shapes and for sequences of different
lengths; LuminaTypeError for any other element type (torch's message).
"""
from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError
from ...tensor import Tensor, stack, tensor

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _stack_arrays(arrays: list, what: str) -> Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise LuminaShapeError(f"default_collate: {what} of different shapes cannot be stacked: "
                               f"{sorted(list(s) for s in shapes)}")
    if arrays[0].dtype.kind in "OUS":
        raise LuminaTypeError(_ERR.format(f"a numpy array of dtype {arrays[0].dtype}"))
    return tensor(np.stack(arrays))


def default_collate(batch):
    """Collate a list of samples into a batch (see the module docstring for the rules)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        if any(t.requires_grad for t in batch):
            return stack(batch)
        shapes = {tuple(t.shape) for t in batch}
        if len(shapes) > 1:
            raise LuminaShapeError(f"default_collate: tensors of different shapes cannot be stacked: "
                                   f"{sorted(list(s) for s in shapes)}")
        return _stack_arrays([np.asarray(t.numpy()) for t in batch], "tensors")
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        return _stack_arrays([np.asarray(a) for a in batch], "numpy arrays")
    if isinstance(elem, bool):
        return tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:   # a mapping type whose constructor takes no dict, as torch
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if len({len(s) for s in batch}) > 1:
            raise LuminaShapeError("default_collate: each element in list of batch should be of equal size, got "
                                   f"lengths {[len(s) for s in batch]}")
        collated = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return collated
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    raise LuminaTypeError(_ERR.format(type(elem)))


def default_convert(data):
    """``torch.utils.data.default_convert``: NumPy arrays and scalars (anywhere in a mapping or a
    sequence) become lumina tensors; everything else is returned as is. The ``DataLoader`` applies
    it to each sample when ``batch_size=None``."""
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind not in "OUS":
        return tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data
