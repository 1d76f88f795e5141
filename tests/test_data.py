"""lumina.utils.data against torch.utils.data on the same data: batch contents, shapes and dtypes
(default_collate of nested structures), len(), drop_last, Subset / random_split, errors; shuffling
is lumina's own order, so it is checked as a permutation that a seed reproduces."""
import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import lumina
from lumina.errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from lumina.utils import data as ldata


def same(a, b):
    """A lumina batch equals torch's: the same structure, dtypes, shapes and values."""
    if isinstance(b, torch.Tensor):
        assert isinstance(a, lumina.Tensor), type(a)
        assert a.dtype.name == str(b.dtype).removeprefix("torch."), (a.dtype, b.dtype)
        assert tuple(a.shape) == tuple(b.shape)
        if b.dtype == torch.bfloat16:   # NumPy has no bfloat16 of torch's; compare the widened values
            a, b = np.asarray(a.numpy()).astype(np.float32), b.float()
        np.testing.assert_array_equal(np.asarray(a.numpy()) if isinstance(a, lumina.Tensor) else a, b.numpy())
    elif isinstance(b, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in b:
            same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), (type(a), type(b))
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b


Point = collections.namedtuple("Point", "x y")

SAMPLES = {
    "ints": [1, 2, 3],
    "floats": [1.5, 2.5],
    "bools": [True, False],
    "strings": ["a", "b"],
    "numpy_f32": [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    "numpy_scalars": [np.float32(1.0), np.float32(2.5)],
    "numpy_int64": [np.arange(3), np.arange(3, 6)],
    "tuples": [(1, 2.0, "x"), (3, 4.0, "y")],
    "lists": [[1, np.float64(2.0)], [3, np.float64(4.0)]],
    "dicts": [{"a": np.ones(2, np.float32), "b": (1, [2.0, 3.0])}, {"a": np.zeros(2, np.float32), "b": (4, [5.0, 6.0])}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_default_collate_matches_torch(name):
    batch = SAMPLES[name]
    same(ldata.default_collate(batch), tdata.default_collate(batch))


def test_default_collate_of_lumina_tensors_matches_torch_stack():
    rows = [np.random.default_rng(i).standard_normal((2, 3)).astype(np.float32) for i in range(4)]
    same(ldata.default_collate([lumina.tensor(r) for r in rows]), tdata.default_collate([torch.tensor(r) for r in rows]))
    for dt in ("float16", "bfloat16", "int32", "bool"):
        lt = [lumina.tensor(r).to(getattr(lumina, dt)) for r in rows]
        tt = [torch.tensor(r).to(getattr(torch, dt)) for r in rows]
        same(ldata.default_collate(lt), tdata.default_collate(tt))


def test_default_collate_keeps_the_gradient_of_tensors_that_require_it():
    a = lumina.tensor([1.0, 2.0], requires_grad=True)
    b = lumina.tensor([3.0, 4.0], requires_grad=True)
    (ldata.default_collate([a, b]) * lumina.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 4.0])


def test_default_convert_matches_torch():
    for sample in [(np.ones(2), 3), [np.float32(1)], {"a": np.arange(3), "b": "s"}, 2.5]:
        same(ldata.default_convert(sample), tdata.default_convert(sample))


def test_default_collate_errors():
    with pytest.raises(LuminaShapeError, match="equal size"):
        ldata.default_collate([[1, 2], [3]])
    with pytest.raises(LuminaShapeError, match="different shapes"):
        ldata.default_collate([np.ones(2), np.ones(3)])
    with pytest.raises(LuminaShapeError, match="different shapes"):
        ldata.default_collate([lumina.ones(2), lumina.ones(3)])
    with pytest.raises(LuminaTypeError, match="found <class 'object'>"):
        ldata.default_collate([object()])
    with pytest.raises(LuminaTypeError, match="uint8"):   # not a lumina dtype
        ldata.default_collate([np.ones(2, np.uint8)])


X = np.arange(30, dtype=np.float32).reshape(10, 3)
Y = np.arange(10, dtype=np.int64)


def pair():
    return (ldata.TensorDataset(lumina.tensor(X), lumina.tensor(Y)),
            tdata.TensorDataset(torch.tensor(X), torch.tensor(Y)))


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (5, True), (10, False),
                                                   (12, False), (12, True)])
def test_dataloader_batches_match_torch(batch_size, drop_last):
    lds, tds = pair()
    lb = list(ldata.DataLoader(lds, batch_size=batch_size, drop_last=drop_last))
    tb = list(tdata.DataLoader(tds, batch_size=batch_size, drop_last=drop_last))
    assert len(ldata.DataLoader(lds, batch_size=batch_size, drop_last=drop_last)) == len(tb) == len(lb)
    for a, b in zip(lb, tb):
        same(a, b)


def test_tensor_dataset_items_and_len_match_torch():
    lds, tds = pair()
    assert len(lds) == len(tds)
    for i in (0, 4, -1):
        same(lds[i], tds[i])


def test_dataloader_without_batching_and_with_a_collate_fn():
    lds, tds = pair()
    for a, b in zip(ldata.DataLoader(lds, batch_size=None), tdata.DataLoader(tds, batch_size=None)):
        same(a, b)
    data = [{"v": np.float32(i)} for i in range(5)]
    for a, b in zip(ldata.DataLoader(data, batch_size=None), tdata.DataLoader(data, batch_size=None)):
        same(a, b)
    fn = lambda batch: len(batch)  # noqa: E731
    assert list(ldata.DataLoader(list(range(7)), batch_size=3, collate_fn=fn)) == \
        list(tdata.DataLoader(list(range(7)), batch_size=3, collate_fn=fn))


def test_dataloader_with_samplers_matches_torch():
    data = [(i, float(i) / 2) for i in range(9)]
    for kwargs in [dict(sampler=[8, 1, 5, 0]), dict(sampler=[8, 1, 5, 0], batch_size=3),
                   dict(batch_sampler=[[0, 1], [7], [2, 3, 4]])]:
        lb, tb = list(ldata.DataLoader(data, **kwargs)), list(tdata.DataLoader(data, **kwargs))
        assert len(ldata.DataLoader(data, **kwargs)) == len(tdata.DataLoader(data, **kwargs))
        assert len(lb) == len(tb)
        for a, b in zip(lb, tb):
            same(a, b)
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, True)]:
        lsb = ldata.BatchSampler(ldata.SequentialSampler(range(n)), bs, drop)
        tsb = tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop)
        assert list(lsb) == list(tsb) and len(lsb) == len(tsb)


class Squares(ldata.IterableDataset):
    def __iter__(self):
        return iter([i * i for i in range(7)])


class TorchSquares(tdata.IterableDataset):
    def __iter__(self):
        return iter([i * i for i in range(7)])


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_batches_match_torch(drop_last):
    lb = list(ldata.DataLoader(Squares(), batch_size=3, drop_last=drop_last))
    tb = list(tdata.DataLoader(TorchSquares(), batch_size=3, drop_last=drop_last))
    assert len(lb) == len(tb)
    for a, b in zip(lb, tb):
        same(a, b)


def _order(loader):
    return np.concatenate([np.asarray(y.numpy()) for _, y in loader]).tolist()


def test_shuffle_is_a_permutation_reproducible_from_a_seed():
    lds, _ = pair()
    lumina.manual_seed(0)
    first = _order(ldata.DataLoader(lds, batch_size=4, shuffle=True))
    lumina.manual_seed(0)
    again = _order(ldata.DataLoader(lds, batch_size=4, shuffle=True))
    assert sorted(first) == list(range(10)) and first == again
    a = ldata.DataLoader(lds, batch_size=4, shuffle=True, generator=7)
    b = ldata.DataLoader(lds, batch_size=4, shuffle=True, generator=np.random.default_rng(7))
    epochs_a, epochs_b = [_order(a), _order(a)], [_order(b), _order(b)]
    assert epochs_a == epochs_b and epochs_a[0] != epochs_a[1]   # each pass a new order, as torch's
    assert sorted(epochs_a[1]) == list(range(10))


def test_random_sampler():
    s = ldata.RandomSampler(range(6), replacement=True, num_samples=20, generator=1)
    draws = list(s)
    assert len(draws) == len(s) == 20 and all(0 <= d < 6 for d in draws)
    s = ldata.RandomSampler(range(4), num_samples=10, generator=1)
    draws = list(s)
    assert len(draws) == 10 and sorted(draws[:4]) == sorted(draws[4:8]) == [0, 1, 2, 3]
    assert len(ldata.RandomSampler(range(4))) == len(tdata.RandomSampler(range(4)))
    assert sorted(ldata.SubsetRandomSampler([3, 5, 9], generator=0)) == [3, 5, 9]


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.25, 0.25, 0.5], [1 / 3] * 3, [0.1] * 10, [10, 0]])
def test_random_split_lengths_match_torch_and_are_disjoint(lengths):
    data = list(range(10))
    mine = ldata.random_split(data, lengths, generator=0)
    theirs = tdata.random_split(data, lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in mine] == [len(s) for s in theirs]
    items = [x for s in mine for x in (s[i] for i in range(len(s)))]
    assert sorted(items) == data
    assert all(isinstance(s, ldata.Subset) for s in mine)


def test_random_split_is_reproducible_and_subsets_index():
    a = [s.indices for s in ldata.random_split(range(20), [5, 15], generator=3)]
    b = [s.indices for s in ldata.random_split(range(20), [5, 15], generator=3)]
    assert a == b
    lds, tds = pair()
    ls, ts = ldata.Subset(lds, [4, 0, 9]), tdata.Subset(tds, [4, 0, 9])
    assert len(ls) == len(ts)
    same(ls[1], ts[1])
    same(next(iter(ldata.DataLoader(ls, batch_size=3))), next(iter(tdata.DataLoader(ts, batch_size=3))))


def test_concat_dataset_matches_torch():
    ls, ts = ldata.ConcatDataset([[1, 2], [3, 4, 5]]), tdata.ConcatDataset([[1, 2], [3, 4, 5]])
    assert len(ls) == len(ts) and [ls[i] for i in range(-5, 5)] == [ts[i] for i in range(-5, 5)]


def test_errors():
    lds, _ = pair()
    with pytest.raises(LuminaValueError, match="num_workers"):
        ldata.DataLoader(lds, num_workers=2)
    with pytest.raises(LuminaValueError, match="persistent_workers"):
        ldata.DataLoader(lds, persistent_workers=True)
    with pytest.raises(LuminaValueError, match="mutually exclusive with shuffle"):
        ldata.DataLoader(lds, sampler=[0, 1], shuffle=True)
    with pytest.raises(LuminaValueError, match="batch_sampler option is mutually exclusive"):
        ldata.DataLoader(lds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(LuminaValueError, match="drop_last"):
        ldata.DataLoader(lds, batch_size=None, drop_last=True)
    with pytest.raises(LuminaValueError, match="batch_size"):
        ldata.DataLoader(lds, batch_size=0)
    with pytest.raises(LuminaValueError, match="shuffle"):
        ldata.DataLoader(Squares(), shuffle=True)
    with pytest.raises(LuminaValueError, match="Sum of input lengths"):
        ldata.random_split(range(10), [3, 3])
    with pytest.raises(LuminaValueError, match="num_samples"):
        ldata.RandomSampler(range(3), num_samples=0)
    with pytest.raises(LuminaTypeError, match="generator"):
        ldata.RandomSampler(range(3), generator="seed")
    with pytest.raises(LuminaValueError, match="batch_size"):
        ldata.BatchSampler(range(3), 0, False)
    with pytest.raises(LuminaShapeError, match="Size mismatch"):
        ldata.TensorDataset(lumina.ones(3), lumina.ones(4))
    with pytest.raises(LuminaTypeError, match="lumina Tensor"):
        ldata.TensorDataset(np.ones(3))
    with pytest.raises(LuminaValueError, match="empty"):
        ldata.ConcatDataset([])


def test_a_lumina_generator_drives_shuffling_as_torch_generators_do():
    """``DataLoader(shuffle=True, generator=g)``: the same seed gives the same order, each pass draws
    a new one from ``g`` (as torch's sampler draws from its ``torch.Generator``), and re-seeding
    ``g`` repeats the sequence of passes; the global stream does not affect it."""
    data = ldata.TensorDataset(lumina.arange(20))

    def passes(seed):
        g = lumina.Generator().manual_seed(seed)
        loader = ldata.DataLoader(data, batch_size=20, shuffle=True, generator=g)
        lumina.manual_seed(123 + seed)   # the global stream must not matter
        return [next(iter(loader))[0].tolist() for _ in range(3)]

    a, b = passes(7), passes(7)
    assert a == b
    assert a[0] != a[1] != a[2] and all(sorted(p) == list(range(20)) for p in a)
    assert passes(8) != a
