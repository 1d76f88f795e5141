"""The small torch names model files touch before any op: ``Size``, ``device``, ``torch.jit``'s
eager helpers, ``torch.cuda`` / ``torch.accelerator`` queries, ``is_tensor`` and friends, each
against torch 2.13."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaDeviceError, LuminaError, LuminaTypeError


@pytest.mark.parametrize("shape", [(), (0,), (2, 3), (4, 1, 5)])
def test_size_behaves_as_torch_size(shape):
    a = np.zeros(shape, np.float32)
    got, want = lumina.tensor(a).shape, torch.tensor(a).shape
    assert isinstance(got, lumina.Size) and isinstance(got, tuple)
    assert tuple(got) == tuple(want) and got == want and hash(got) == hash(tuple(want))
    assert got.numel() == want.numel()
    assert type(got[1:]) is lumina.Size and tuple(got[1:]) == tuple(want[1:])
    assert type(got + (7,)) is lumina.Size and tuple(got + (7,)) == tuple(want + (7,))
    assert type((7,) + got) is lumina.Size and tuple((7,) + got) == tuple((7,) + want)
    assert repr(got) == repr(want).replace("torch.", "lumina.")
    assert lumina.tensor(a).size() == got and type(lumina.tensor(a).size()) is lumina.Size
    assert pickle.loads(pickle.dumps(got)) == got and type(pickle.loads(pickle.dumps(got))) is lumina.Size


@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0), ("mps",), ("cpu", 0)])
def test_device_matches_torch_device(args):
    got, want = lumina.device(*args), torch.device(*args)
    assert (got.type, got.index, str(got), repr(got)) == (want.type, want.index, str(want), repr(want))
    assert got == lumina.device(str(want)) and hash(got) == hash(lumina.device(str(want)))
    assert (got == str(got)) == (want == str(want))     # a device is not equal to its string, in torch either
    assert pickle.loads(pickle.dumps(got)) == got and copy.deepcopy(got) == got


@pytest.mark.parametrize("args", [("gpu",), ("cuda:x",), ("cuda:1", 1), ("cuda", -1), (3,)])
def test_bad_devices_raise_as_torch(args):
    with pytest.raises(RuntimeError):   # torch.device(3) asks for the accelerator, which is absent here
        torch.device(*args)
    with pytest.raises(LuminaDeviceError, match="device"):
        lumina.device(*args)


def test_tensor_device_is_a_device_and_to_accepts_one():
    x = lumina.ones(2)
    assert x.device == lumina.device("cpu") and x.device.type == "cpu" and x.device.index is None
    assert x.to(lumina.device("cpu")).device == x.device
    assert x.to(torch.device("cpu")).device == x.device
    with pytest.raises(LuminaDeviceError, match="mps"):
        x.to(lumina.device("mps"))
    model = lumina.nn.Linear(2, 2).to(lumina.device("cpu"))
    assert next(model.parameters()).device.type == "cpu"


def test_queries_match_torch():
    for dtype in ("float32", "float16", "int64", "bool"):
        a = np.zeros((2, 3), dtype)
        lx, tx = lumina.tensor(a), torch.tensor(a)
        assert lumina.is_floating_point(lx) == torch.is_floating_point(tx) == lx.is_floating_point()
        assert lx.element_size() == tx.element_size()
        assert lumina.numel(lx) == torch.numel(tx)
    assert lumina.is_tensor(lumina.ones(1)) and not lumina.is_tensor(np.ones(1)) and not lumina.is_tensor(1.0)
    assert str(lumina.get_default_dtype()) .endswith(str(torch.get_default_dtype()).rpartition(".")[2])
    with pytest.raises(LuminaTypeError, match="numel"):
        lumina.numel(np.ones(3))


def test_jit_helpers_behave_as_outside_torchscript():
    assert lumina.jit.is_scripting() is torch.jit.is_scripting() is False
    assert lumina.jit.is_tracing() is torch.jit.is_tracing() is False

    def f(x):
        return x + 1
    assert lumina.jit.unused(f) is f and lumina.jit.ignore(f) is f and lumina.jit.ignore(drop=True)(f) is f
    assert lumina.jit.annotate(list[int], [1]) == torch.jit.annotate(list[int], [1]) == [1]
    with pytest.raises(LuminaError, match="lumina.compile"):
        lumina.jit.script(f)
    with pytest.raises(LuminaError, match="lumina.compile"):
        lumina.jit.trace(f, (lumina.ones(1),))


def test_cuda_and_accelerator_queries_agree_with_lumina_devices():
    cuda_ok = lumina.device_available("cuda")[0]
    assert lumina.cuda.is_available() is cuda_ok and lumina.cuda.device_count() == int(cuda_ok)
    acc = lumina.accelerator.current_accelerator()
    assert lumina.accelerator.is_available() is (acc is not None)
    assert acc is None or acc.type == lumina.default_device()
