"""``torch.utils.data`` for lumina: map-style datasets, samplers, ``default_collate`` and a
single-process ``DataLoader`` that yields lumina tensors.

    from lumina.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=0)
    for xb, yb in loader: ...

Randomness (``shuffle=True``, ``RandomSampler``, ``random_split``) comes from NumPy's PCG64 seeded
from lumina's generator (``lumina.manual_seed``) or from ``generator=`` (an int seed or a
``numpy.random.Generator``; lumina has no ``Generator`` object). The orders are deterministic for a
seed but are not torch's permutations for the same seed.

Semantics: https://pytorch.org/docs/2.13/data.html
"""
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "default_collate",
           "default_convert", "random_split"]
