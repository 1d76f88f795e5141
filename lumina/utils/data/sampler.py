"""Samplers: iterables of dataset indices (``SequentialSampler``, ``RandomSampler``,
``SubsetRandomSampler``) and of index batches (``BatchSampler``), after ``torch.utils.data``'s.

The random ones draw from NumPy's PCG64 (``numpy.random.Generator``): ``generator`` is ``None``
(each pass takes a fresh seed from lumina's global generator, so ``lumina.manual_seed`` makes the
order reproducible), a ``lumina.Generator`` (each pass takes a fresh seed from it, as torch's
samplers draw from their ``torch.Generator``), an ``int`` seed, or a ``numpy.random.Generator`` used
as is. The permutations
are not torch's for the same seed. Semantics: https://pytorch.org/docs/2.13/data.html#data-loading-order-and-sampler
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Sized

import numpy as np

from ...errors import LuminaTypeError, LuminaValueError
from ...tensor.random import Generator, randint


def numpy_generator(generator, op: str) -> np.random.Generator:
    """The ``numpy.random.Generator`` for ``generator`` (None or a ``lumina.Generator``: seeded
    from that lumina stream, which advances)."""
    if generator is None or isinstance(generator, Generator):
        kw = {} if generator is None else {"generator": generator}
        return np.random.default_rng(int(randint(0, 2**62, (), **kw).item()))
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise LuminaTypeError(f"{op}: generator must be None, a lumina.Generator, an int seed or a "
                          f"numpy.random.Generator, got {type(generator).__name__}")


def _check_generator(generator, op: str):
    """``generator`` as kept by a sampler: an int seed becomes its own stateful NumPy generator, so
    successive passes differ, as they do with one ``torch.Generator``; a ``lumina.Generator`` is
    kept and drawn from at each pass."""
    return generator if generator is None or isinstance(generator, Generator) else numpy_generator(generator, op)


class Sampler:
    """Base class: an iterable of indices (or of index lists), optionally with ``__len__``."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of ``range(len(data_source))`` each pass, or with ``replacement``
    ``num_samples`` uniform draws from it (``num_samples`` defaults to the dataset's length; without
    replacement a larger ``num_samples`` concatenates permutations, as torch). Raises
    LuminaValueError for ``num_samples <= 0`` and LuminaTypeError for a non-bool ``replacement``."""

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator=None) -> None:
        if not isinstance(replacement, bool):
            raise LuminaTypeError(f"RandomSampler: replacement should be a boolean value, got {replacement!r}")
        self.data_source, self.replacement, self._num_samples = data_source, replacement, num_samples
        self.generator = _check_generator(generator, "RandomSampler")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise LuminaValueError(f"RandomSampler: num_samples should be a positive integer value, "
                                   f"got {self.num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = numpy_generator(self.generator, "RandomSampler")
        if self.replacement:
            yield from (int(i) for i in rng.integers(0, n, self.num_samples))
            return
        for _ in range(self.num_samples // n):
            yield from (int(i) for i in rng.permutation(n))
        yield from (int(i) for i in rng.permutation(n)[: self.num_samples % n])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order each pass."""

    def __init__(self, indices, generator=None) -> None:
        self.indices = indices
        self.generator = _check_generator(generator, "SubsetRandomSampler")

    def __iter__(self) -> Iterator[int]:
        rng = numpy_generator(self.generator, "SubsetRandomSampler")
        for i in rng.permutation(len(self.indices)):
            yield self.indices[int(i)]

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler``; the last, shorter list is dropped when
    ``drop_last``. Raises LuminaValueError for a ``batch_size`` that is not a positive int and
    LuminaTypeError for a non-bool ``drop_last`` (torch's checks)."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise LuminaValueError(f"BatchSampler: batch_size should be a positive integer value, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise LuminaTypeError(f"BatchSampler: drop_last should be a boolean value, got {drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
