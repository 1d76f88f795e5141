"""``DataLoader``: a dataset, a sampler and a collate function -> an iterable of batches, after
``torch.utils.data.DataLoader`` (https://pytorch.org/docs/2.13/data.html#torch.utils.data.DataLoader),
in this process only (``num_workers=0``)."""
from __future__ import annotations

import itertools

from ...errors import LuminaTypeError, LuminaValueError
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Iterate ``dataset`` in batches of ``batch_size`` samples merged by ``collate_fn``.

    ``shuffle=True`` draws a new order each pass from ``generator`` (None: seeded from lumina's
    generator, so ``lumina.manual_seed`` fixes it; an int seed; a ``numpy.random.Generator``); the
    orders are lumina's own, not torch's permutation for the same seed. ``sampler`` gives the
    indices, ``batch_sampler`` whole index lists; ``batch_size=None`` yields single samples through
    ``default_convert``. A dataset with ``__getitems__(indices)`` is asked for a batch at once.
    An ``IterableDataset`` is batched in stream order.

    Only ``num_workers=0`` exists (every batch is made in this process); another value, and
    settings that only mean something with worker processes (``timeout``, ``worker_init_fn``,
    ``multiprocessing_context``, ``prefetch_factor``, ``persistent_workers``), raise
    LuminaValueError. ``pin_memory`` and ``in_order`` are accepted and have no effect (batches are
    host tensors, made in order). Option conflicts raise LuminaValueError with torch's messages.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers != 0:
            raise LuminaValueError(f"DataLoader: num_workers={num_workers!r}: lumina's DataLoader loads in this process "
                                   "only; use num_workers=0")
        workers_only = {"timeout": (timeout, 0), "worker_init_fn": (worker_init_fn, None),
                        "multiprocessing_context": (multiprocessing_context, None),
                        "prefetch_factor": (prefetch_factor, None), "persistent_workers": (persistent_workers, False)}
        for name, (value, default) in workers_only.items():
            if value != default:
                raise LuminaValueError(f"DataLoader: {name}={value!r} needs worker processes, and lumina's DataLoader "
                                       "has none (num_workers=0 only)")
        if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                                       or batch_size <= 0):
            raise LuminaValueError(f"DataLoader: batch_size should be a positive integer value or None, "
                                   f"got {batch_size!r}")
        if isinstance(dataset, IterableDataset):
            if shuffle:
                raise LuminaValueError("DataLoader with IterableDataset: expected unspecified shuffle option, "
                                       f"but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise LuminaValueError("DataLoader with IterableDataset: expected unspecified sampler and "
                                       "batch_sampler options")
        elif sampler is not None and shuffle:
            raise LuminaValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise LuminaValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                       "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise LuminaValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                                   "exclusive with drop_last")
        if collate_fn is not None and not callable(collate_fn):
            raise LuminaTypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not isinstance(dataset, IterableDataset):
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers, self.pin_memory, self.pin_memory_device = num_workers, pin_memory, pin_memory_device
        self.timeout, self.worker_init_fn, self.in_order = timeout, worker_init_fn, in_order
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.multiprocessing_context = multiprocessing_context
        if collate_fn is None:
            collate_fn = default_collate if batch_size is not None or batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    def _fetch(self, indices: list):
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(indices)
        return [self.dataset[i] for i in indices]

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            stream = iter(self.dataset)
            if self.batch_size is None:
                yield from (self.collate_fn(sample) for sample in stream)
                return
            while batch := list(itertools.islice(stream, self.batch_size)):
                if len(batch) < self.batch_size and self.drop_last:
                    return
                yield self.collate_fn(batch)
            return
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        for indices in self.batch_sampler:
            yield self.collate_fn(self._fetch(list(indices)))

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.sampler if self.batch_sampler is None else self.batch_sampler)
