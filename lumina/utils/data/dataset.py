"""Map-style and iterable datasets, ``Subset`` and ``random_split``, after
``torch.utils.data``'s (https://pytorch.org/docs/2.13/data.html#dataset-types)."""
from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Sequence

import numpy as np

from ...errors import LuminaIndexError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor import Tensor, tensor
from .sampler import numpy_generator


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and usually ``__len__``.
    ``a + b`` is ``ConcatDataset([a, b])``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define ``__iter__``; the ``DataLoader`` batches the
    stream in order (no sampler, no shuffle)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class TensorDataset(Dataset):
    """Sample ``i`` is ``tuple(t[i] for t in tensors)``; every tensor has the same size in dim 0.

    Tensors that do not require grad are read on the host once (a sample is then a fresh lumina
    tensor of the row, not a lazy index node per sample). Raises LuminaShapeError for sizes that
    differ in dim 0 ("Size mismatch between tensors", as torch) and LuminaTypeError for a
    non-tensor or 0-d argument."""

    def __init__(self, *tensors: Tensor) -> None:
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise LuminaTypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, expected a lumina Tensor")
            if t.ndim == 0:
                raise LuminaTypeError(f"TensorDataset: argument {i} is 0-d; each tensor needs a dim 0 to index")
        if len({t.shape[0] for t in tensors}) > 1:
            raise LuminaShapeError("TensorDataset: Size mismatch between tensors: dim 0 sizes "
                                   f"{[t.shape[0] for t in tensors]}")
        self.tensors = tensors
        self._host = [None if t.requires_grad else np.asarray(t.numpy()) for t in tensors]

    def __getitem__(self, index):
        return tuple(t[index] if h is None else tensor(np.array(h[index]))
                     for t, h in zip(self.tensors, self._host))

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0


class ConcatDataset(Dataset):
    """The concatenation of map-style datasets; raises LuminaValueError for an empty list and
    LuminaTypeError for an ``IterableDataset`` among them."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise LuminaValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise LuminaTypeError("ConcatDataset: does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        if idx < 0:
            if -idx > len(self):
                raise LuminaIndexError(f"ConcatDataset: index {idx} out of range for length {len(self)}")
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        if which == len(self.datasets):
            raise LuminaIndexError(f"ConcatDataset: index {idx} out of range for length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(n: int, lengths: Sequence) -> list[int]:
    """Fractions summing to 1 -> counts (floor, then the remainder one each round-robin, as torch)."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise LuminaValueError(f"random_split: fraction at index {i} is not between 0 and 1: {frac}")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    for length in lengths:
        if not isinstance(length, numbers.Integral) or isinstance(length, bool) or length < 0:
            raise LuminaValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, "
                                   f"got {list(lengths)}")
    return [int(length) for length in lengths]


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping ``Subset``s of the given ``lengths`` (counts, or
    fractions summing to 1: each gets ``floor(n * frac)`` and the remainder is dealt one at a time
    from the first, as torch). The indices are one random permutation from ``generator`` (None:
    seeded from lumina's generator; an int seed; a ``numpy.random.Generator``), not torch's
    permutation for the same seed. Raises LuminaValueError when the counts do not sum to
    ``len(dataset)``."""
    counts = _split_lengths(len(dataset), lengths)
    if sum(counts) != len(dataset):
        raise LuminaValueError(f"random_split: Sum of input lengths does not equal the length of the input dataset! "
                               f"sum({counts}) = {sum(counts)}, len(dataset) = {len(dataset)}")
    perm = numpy_generator(generator, "random_split").permutation(sum(counts)).tolist()
    offsets = np.cumsum([0] + counts).tolist()
    return [Subset(dataset, perm[start:stop]) for start, stop in zip(offsets[:-1], offsets[1:])]
