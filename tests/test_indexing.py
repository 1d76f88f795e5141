"""Tensor-level composites: indexing with integer tensors, ``index_select`` / ``gather`` /
``take_along_dim``, ``pad``, ``split`` / ``chunk``, ``cumsum``, ``clamp``, ``var`` / ``std``.

Each forward is compared with PyTorch CPU, each gradient with PyTorch and with float64 finite
differences (``gradcheck.check``); the gradient of an index op is a scatter-add, so repeated indices
must accumulate.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from gradcheck import check
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(11)


def arr(*shape):
    return RNG.standard_normal(shape)


def idx(*values):
    return np.array(values, dtype=np.int64)


# ---- advanced indexing ----------------------------------------------------------------------------

def _t(k):
    """A key for torch: index arrays as int64 tensors."""
    if isinstance(k, tuple):
        return tuple(_t(e) for e in k)
    return torch.as_tensor(k) if isinstance(k, (np.ndarray, list)) else k


@pytest.mark.parametrize("key", [
    (idx(2, 0, 2, -1),),                                   # one axis, repeated and negative indices
    (slice(None), idx(1, 1, 3)),                            # x[:, idx]
    (idx(0, 2, 2), idx(4, 4, 0)),                           # paired on the leading axes
    (idx(0, 2, 2), slice(1, 4), idx(3, 3, 0)),              # separated by a slice: index dims go first
    (Ellipsis, idx(0, 0, 1)),
    (np.array([[0, 2], [2, 2]]), None, slice(None, None, 2)),  # 2-D index, newaxis, strided slice
    (0, slice(None), idx(3, -4)),                          # an int applies first, as in PyTorch
    (np.array([[0], [2]]), idx(1, 3, 3)),                  # index arrays broadcast together
], ids=["one", "second_axis", "paired", "separated", "ellipsis", "2d_none_step", "int_first", "broadcast"])
def test_advanced_getitem_matches_torch(key):
    x = arr(3, 5, 4)
    torch_key = _t(key)
    check(lambda L, F, a: a[key] if L is lumina else a[torch_key], x, directions=2)


def test_getitem_with_a_lumina_index_tensor_and_a_list():
    x = arr(4, 3)
    i = lumina.tensor(idx(3, 3, 1))
    np.testing.assert_array_equal(lumina.tensor(x)[i].numpy(), x[[3, 3, 1]])
    np.testing.assert_array_equal(lumina.tensor(x)[[0, -1]].numpy(), x[[0, -1]])
    np.testing.assert_array_equal(lumina.tensor(x)[:, lumina.tensor(np.int32(2))].numpy(), x[:, 2])


def test_getitem_index_computed_in_the_graph():
    """An index that is itself a lazy result (argmax) is read by the gather kernel."""
    x = arr(5, 6)
    t = lumina.tensor(x)
    rows = t.argmax(1)
    np.testing.assert_array_equal(t[:, rows].numpy(), x[:, x.argmax(1)])


def test_getitem_index_errors():
    x = lumina.tensor(arr(3, 4))
    with pytest.raises(LuminaValueError, match=r"getitem: index 3 is out of range for dim 0 of f64\[3,4\]"):
        x[idx(0, 3)]
    with pytest.raises(LuminaValueError, match="index -5 is out of range for dim 1"):
        x[:, idx(-5)]
    with pytest.raises(LuminaTypeError, match="boolean mask"):
        x[np.array([True, False, True])]
    with pytest.raises(LuminaTypeError, match="integers"):
        x[np.array([0.0, 1.0])]
    with pytest.raises(LuminaShapeError, match=r"do not broadcast.*f64\[3,4\]"):
        x[idx(0, 1), idx(0, 1, 2)]


def test_index_select_take_along_dim_and_gather_match_torch():
    x = arr(4, 5, 3)
    i1 = idx(4, 0, 4, 2, 4)
    check(lambda L, F, a, i: L.index_select(a, 1, i), x, i1, directions=2)
    g = RNG.integers(0, 5, (4, 2, 3))
    check(lambda L, F, a, i: L.gather(a, 1, i), x, g, directions=2)
    t = RNG.integers(0, 3, (1, 5, 2))    # broadcasts against x outside dim 2
    check(lambda L, F, a, i: L.take_along_dim(a, i, dim=2), x, t, directions=2)
    check(lambda L, F, a, i: L.take_along_dim(a, i), x, idx(0, 59, 59, 7), directions=2)


def test_index_range_errors_of_the_lookup_functions():
    x = lumina.tensor(arr(4, 3))
    with pytest.raises(LuminaValueError, match=r"take_along_dim: index 3 is out of range for dim 1 of f64\[4,3\]"):
        lumina.take_along_dim(x, idx(0, 3).reshape(1, 2), dim=1)
    with pytest.raises(LuminaValueError, match="index_select: index 4"):
        lumina.index_select(x, 0, idx(4))
    with pytest.raises(LuminaShapeError, match="gather: index"):
        lumina.gather(x, 1, idx(0, 1))


def test_gather_with_a_smaller_index_and_int_input():
    x = np.arange(24).reshape(4, 6)
    i = np.array([[5, 0], [1, 1], [2, 3]])
    out = lumina.gather(lumina.tensor(x), 1, lumina.tensor(i))
    np.testing.assert_array_equal(out.numpy(), torch.gather(torch.tensor(x), 1, torch.tensor(i)).numpy())
    assert out.dtype is lumina.int64


def test_gather_gradient_with_infinite_entries_stays_finite():
    """The masked sum uses ``where``, so -inf elsewhere in a row does not leak NaN (0 * inf)."""
    x = np.array([[0.5, -np.inf, 2.0], [-np.inf, 1.0, 3.0]], np.float32)
    t = lumina.tensor(x, requires_grad=True)
    out = lumina.gather(t, 1, lumina.tensor(idx(0, 1).reshape(2, 1)))
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy().ravel(), [0.5, 1.0])
    np.testing.assert_array_equal(t.grad.numpy(), [[1, 0, 0], [0, 1, 0]])


# ---- pad, split, chunk ----------------------------------------------------------------------------

@pytest.mark.parametrize("pad,value", [((1, 2), 0.0), ((0, 1, 2, 0), -1.5), ((1, -2, -1, 3, 0, 1), 2.0)],
                         ids=["last", "two_dims", "crop_and_pad"])
def test_pad_matches_torch(pad, value):
    check(lambda L, F, a: F.pad(a, pad, value=value), arr(2, 4, 5), directions=2)


def test_pad_errors():
    x = lumina.ones(2, 3)
    with pytest.raises(LuminaValueError, match="pairs"):
        lumina.pad(x, (1, 1, 1))
    with pytest.raises(LuminaValueError, match="constant"):
        lumina.pad(x, (1, 1), mode="reflect")
    with pytest.raises(LuminaValueError, match="negative size"):
        lumina.pad(x, (-2, -2))


def test_split_and_chunk_match_torch():
    x = arr(7, 4)
    for sections in (3, [2, 5], [0, 7]):
        parts = lumina.split(lumina.tensor(x), sections)
        ref = torch.split(torch.tensor(x), sections)
        assert len(parts) == len(ref)
        for p, r in zip(parts, ref):
            np.testing.assert_array_equal(p.numpy(), r.numpy())
    for chunks, dim in ((3, 0), (4, 1), (5, 1)):
        parts = lumina.tensor(x).chunk(chunks, dim)
        ref = torch.tensor(x).chunk(chunks, dim)
        assert [p.shape for p in parts] == [tuple(r.shape) for r in ref]
    check(lambda L, F, a: L.cat([p * float(k + 1) for k, p in enumerate(L.split(a, [2, 1, 4]))]), x,
          directions=2)
    with pytest.raises(LuminaShapeError, match=r"do not add up to dim 0 \(7\)"):
        lumina.split(lumina.tensor(x), [2, 2])


# ---- cumsum, clamp, var/std -----------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((5, 7), 1), ((6, 3), 0), ((2, 300), -1)], ids=["short", "dim0", "blocked"])
def test_cumsum_matches_torch(shape, dim):
    check(lambda L, F, a: L.cumsum(a, dim), arr(*shape), directions=2)


def test_cumsum_of_ints_and_bools_is_int64():
    x = RNG.integers(-5, 5, (3, 9)).astype(np.int32)
    out = lumina.cumsum(lumina.tensor(x), 1)
    assert out.dtype is lumina.int64
    np.testing.assert_array_equal(out.numpy(), np.cumsum(x, 1))
    b = np.array([True, False, True, True])
    np.testing.assert_array_equal(lumina.tensor(b).cumsum(0).numpy(), [1, 1, 2, 3])


@pytest.mark.parametrize("n", [5, 300], ids=["short", "blocked"])
def test_cumsum_of_infinities_and_nans_matches_numpy(n):
    """inf, -inf and NaN spoil only what follows them (a triangular dot would spread inf * 0 = NaN
    over the whole row)."""
    x = RNG.uniform(-1, 1, (5, n)).astype(np.float32)
    x[0, 1], x[1, n // 2], x[2, 2], x[2, n - 2], x[3, 0] = np.inf, np.nan, -np.inf, np.inf, -np.inf
    out = lumina.cumsum(lumina.tensor(x), 1).numpy()
    np.testing.assert_allclose(out, np.cumsum(x, 1), rtol=1e-5, atol=1e-5)   # NaNs compare equal


def test_cumsum_long_axis_float32_accuracy():
    """The blocked scan (blocks of 128, block totals scanned recursively) over 20,000 elements."""
    x = RNG.uniform(0, 1, (2, 20000)).astype(np.float32)
    out = lumina.cumsum(lumina.tensor(x), 1).numpy()
    np.testing.assert_allclose(out, np.cumsum(x.astype(np.float64), 1), rtol=1e-5)


def test_clamp_matches_torch_including_the_boundary_gradient():
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, np.nan])
    t = lumina.tensor(x, requires_grad=True)
    out = t.clamp(-1.0, 1.0)
    out.sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    tt.clamp(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(out.numpy(), tt.detach().clamp(-1.0, 1.0).numpy())   # NaN stays NaN
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())                       # 1 at the bounds
    check(lambda L, F, a, lo: L.clamp(a, min=lo), arr(3, 4), arr(4), directions=2)
    check(lambda L, F, a: L.clip(a, max=0.3), arr(3, 4), directions=2)
    with pytest.raises(LuminaValueError, match="clamp"):
        lumina.tensor(x).clamp()


@pytest.mark.parametrize("dim,correction,keepdim", [(1, 1, False), ((0, 2), 0, True), (None, 1, False)])
def test_var_and_std_match_torch(dim, correction, keepdim):
    x = arr(3, 4, 5)
    check(lambda L, F, a: L.var(a, dim, correction=correction, keepdim=keepdim), x, directions=2)
    check(lambda L, F, a: L.std(a, dim, correction=correction, keepdim=keepdim), x, directions=2)
