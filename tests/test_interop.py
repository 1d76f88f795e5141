"""from_numpy / from_dlpack / Tensor.__dlpack__ against PyTorch 2.13: memory shared both ways (writes
through the array and through lumina's in-place updates, views, optimizer steps and compiled state
updates), DLPack round trips with torch and NumPy without copies, and the errors."""
import warnings

import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaDeviceError, LuminaGradError, LuminaTraceError, LuminaTypeError, LuminaValueError

DTYPES = ["float32", "float64", "float16", "int64", "int32", "bool"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_numpy_shares_memory_and_matches_torch(dtype):
    a = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    t, ref = lumina.from_numpy(a), torch.from_numpy(a)
    assert t.dtype.name == str(ref.dtype).split(".")[-1] and t.shape == tuple(ref.shape)
    assert np.shares_memory(t.numpy(), a)
    a[0, 0] = 1
    assert t.numpy()[0, 0] == ref[0, 0].item() == 1


def test_writes_through_the_array_are_seen():
    a = np.zeros(3, np.float32)
    t = lumina.from_numpy(a)
    a[1] = 5.0
    np.testing.assert_array_equal((t * 2).numpy(), [0.0, 10.0, 0.0])


def test_in_place_updates_write_into_the_array_as_torchs():
    a, b = np.arange(6, dtype=np.float64).reshape(2, 3), np.arange(6, dtype=np.float64).reshape(2, 3)
    t, r = lumina.from_numpy(a), torch.from_numpy(b)
    for fn in (lambda x: x.add_(1), lambda x: x.mul_(2), lambda x: x[1].sub_(3), lambda x: x[:, 0].fill_(-1),
               lambda x: x.diagonal().zero_(), lambda x: x.clamp_(min=0.5)):
        fn(t)
        fn(r)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(t.numpy(), r.numpy())
    t[0] = lumina.tensor([7.0, 8.0, 9.0])
    r[0] = torch.tensor([7.0, 8.0, 9.0])
    np.testing.assert_array_equal(a, b)
    t += 1
    r += 1
    np.testing.assert_array_equal(a, b)


def test_a_lazy_result_keeps_the_value_it_was_computed_from():
    a = np.ones(3, np.float32)
    t = lumina.from_numpy(a)
    y = t * 2                 # not realised yet
    t.add_(1)
    np.testing.assert_array_equal(y.numpy(), [2.0, 2.0, 2.0])    # as torch's eager y
    np.testing.assert_array_equal(a, [2.0, 2.0, 2.0])


def test_optimizer_step_and_compiled_update_write_through():
    w = np.array([1.0, -2.0, 3.0], np.float32)
    p = lumina.from_numpy(w).requires_grad_()
    opt = lumina.optim.SGD([p], lr=0.5)
    (p * p).sum().backward()
    opt.step()
    tw = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.5)
    (tw * tw).sum().backward()
    topt.step()
    np.testing.assert_array_equal(w, tw.detach().numpy())

    a = np.zeros(3, np.float32)
    s = lumina.from_numpy(a)

    @lumina.compile
    def step(x, inc):
        x.add_(inc)
        return x.sum()
    for k in range(3):
        assert step(s, lumina.tensor(np.ones(3, np.float32))).item() == 3.0 * (k + 1)
        np.testing.assert_array_equal(a, np.full(3, k + 1.0, np.float32))


def test_history_is_kept_when_an_update_has_one():
    a = np.ones(2)
    t = lumina.from_numpy(a)
    w = lumina.tensor([2.0, 3.0], dtype=lumina.float64, requires_grad=True)
    t.mul_(w)
    np.testing.assert_array_equal(a, [2.0, 3.0])
    t.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


def test_from_numpy_refuses_what_it_cannot_share():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    torch.from_numpy(a.T)             # torch keeps the strides; lumina binds row-major memory only
    with pytest.raises(LuminaValueError, match="C-contiguous"):
        lumina.from_numpy(a.T)
    with pytest.raises(LuminaValueError, match="negative"):
        lumina.from_numpy(a[::-1])
    with pytest.raises(ValueError):
        torch.from_numpy(a[::-1])
    with pytest.raises(LuminaValueError, match="byte order"):
        lumina.from_numpy(a.astype(">f4"))
    with pytest.raises(LuminaTypeError, match="uint16"):
        lumina.from_numpy(np.zeros(2, np.uint16))
    with pytest.raises(LuminaTypeError, match="np.ndarray"):
        lumina.from_numpy([1.0, 2.0])


def test_read_only_arrays_warn_and_refuse_writes():
    a = np.arange(3.0)
    a.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        torch.from_numpy(a)
    with pytest.warns(UserWarning, match="not writable"):
        t = lumina.from_numpy(a)
    with pytest.raises(LuminaValueError, match="read-only"):
        t.add_(1)
    np.testing.assert_array_equal(t.numpy(), [0.0, 1.0, 2.0])


def test_inside_compile_from_numpy_raises_and_a_shared_tensor_passes_in():
    a = np.ones(2, np.float32)

    @lumina.compile
    def bad(x):
        return x + lumina.from_numpy(a)
    with pytest.raises(LuminaTraceError, match="from_numpy"):
        bad(lumina.ones(2))

    @lumina.compile
    def export(x):
        return x.__dlpack__()
    with pytest.raises(LuminaTraceError, match="__dlpack__"):
        export(lumina.ones(2))
    good = lumina.compile(lambda x, y: x * y)
    np.testing.assert_array_equal(good(lumina.from_numpy(a), lumina.ones(2)).numpy(), a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dlpack_round_trips_with_torch_without_copies(dtype):
    a = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    t = lumina.from_numpy(a)
    assert t.__dlpack_device__() == tuple(int(v) for v in torch.from_numpy(a).__dlpack_device__()) == (1, 0)
    tt = torch.from_dlpack(t)                       # lumina -> torch: the same memory
    assert tt.data_ptr() == a.ctypes.data
    back = lumina.from_dlpack(tt)                   # torch -> lumina: still the same memory
    assert back.numpy().ctypes.data == a.ctypes.data
    src = torch.tensor(a)
    l = lumina.from_dlpack(src)
    assert l.numpy().ctypes.data == src.data_ptr()
    src[0, 0] = 2
    assert l.numpy()[0, 0] == src[0, 0].item()
    if dtype != "bool":
        l.add_(1)
        np.testing.assert_array_equal(src.numpy(), l.numpy())


def test_dlpack_round_trips_with_numpy():
    x = lumina.tensor([[1.0, 2.0], [3.0, 4.0]])
    n = np.from_dlpack(x)
    assert np.shares_memory(n, x.numpy())
    l = lumina.from_dlpack(np.arange(4.0))
    np.testing.assert_array_equal(l.numpy(), np.arange(4.0))
    computed = lumina.tensor([1.0, 2.0]) * 3       # realised on export
    np.testing.assert_array_equal(torch.from_dlpack(computed).numpy(), [3.0, 6.0])
    assert lumina.from_dlpack(x) is x


def test_from_dlpack_copies_only_where_needed_or_asked():
    src = torch.arange(6.0).reshape(2, 3)
    l = lumina.from_dlpack(src.T)                   # strided: copied (copy=None)
    np.testing.assert_array_equal(l.numpy(), src.T.numpy())
    with pytest.raises(LuminaValueError, match="copy=False"):
        lumina.from_dlpack(src.T, copy=False)
    c = lumina.from_dlpack(src, copy=True)
    src[0, 0] = 9
    assert c.numpy()[0, 0] == 0.0
    shared = lumina.from_dlpack(src, copy=False)
    assert shared.numpy()[0, 0] == 9.0


def test_dlpack_errors():
    with pytest.raises(LuminaTypeError):
        lumina.from_dlpack([1, 2])
    with pytest.raises(LuminaDeviceError):
        lumina.from_dlpack(torch.ones(2), device="cuda")
    with pytest.raises(LuminaTypeError, match="bfloat16"):
        lumina.tensor([1.0], dtype=lumina.bfloat16).__dlpack__()
    with pytest.raises(LuminaValueError, match="stream"):
        lumina.ones(2).__dlpack__(stream=1)
    with pytest.raises(BufferError, match="require"):
        np.from_dlpack(torch.ones(2, requires_grad=True))
    with pytest.raises(LuminaValueError, match="require gradient"):
        lumina.from_dlpack(torch.ones(2, requires_grad=True))
    with pytest.raises(LuminaGradError, match="detach"):
        torch.from_dlpack(lumina.ones(2, requires_grad=True))
    torch.from_dlpack(lumina.ones(2, requires_grad=True).detach())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.from_dlpack(lumina.ones(2))
