"""Gradient-recording modes against PyTorch: set_grad_enabled (function, context manager,
decorator), no_grad / enable_grad / inference_mode as decorators with and without parentheses,
is_grad_enabled, and the mode being per thread."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaTypeError


def _flags(L):
    """requires_grad of results made under each mode, and is_grad_enabled along the way."""
    x = L.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    out = []
    with L.no_grad():
        out.append(L.is_grad_enabled())
        with L.enable_grad():
            out.append((x * 2).requires_grad)
        out.append((x * 2).requires_grad)

    @L.enable_grad
    def bare(a):
        return a * 2

    @L.no_grad()
    def off(a):
        return a * 2

    @L.no_grad
    def bare_off(a):
        return a * 2

    @L.inference_mode
    def bare_inference(a):
        return a * 2

    with L.no_grad():
        out.append(bare(x).requires_grad)
    out.append(off(x).requires_grad)
    out.append(bare_off(x).requires_grad)
    out.append(bare_inference(x).requires_grad)
    with L.set_grad_enabled(False):
        out.append((x * 2).requires_grad)
        with L.set_grad_enabled(True):
            out.append((x * 2).requires_grad)
    out.append(L.is_grad_enabled())

    @L.set_grad_enabled(False)
    def no_rec(a):
        return a * 2

    out.append(L.is_grad_enabled())          # decorating changes nothing yet
    out.append(no_rec(x).requires_grad)
    L.set_grad_enabled(False)                # as a function: stays until changed
    out.append((x * 2).requires_grad)
    L.set_grad_enabled(True)
    with L.inference_mode():
        out.append((x * 2).requires_grad)
    with L.inference_mode(False):
        out.append((x * 2).requires_grad)
    out.append(L.is_grad_enabled())
    return out


def test_the_modes_record_what_torch_records():
    assert _flags(lumina) == _flags(torch)


def test_gradients_flow_through_enable_grad_inside_no_grad():
    x = lumina.tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    tx = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for L, v in ((lumina, x), (torch, tx)):
        with L.no_grad():
            with L.enable_grad():
                (v * v).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_the_mode_is_per_thread():
    seen = []
    with lumina.no_grad():
        t = threading.Thread(target=lambda: seen.append(lumina.is_grad_enabled()))
        t.start()
        t.join()
        seen.append(lumina.is_grad_enabled())
    assert seen == [True, False]


def test_set_grad_enabled_needs_a_bool():
    with pytest.raises(LuminaTypeError, match="set_grad_enabled: mode must be a bool"):
        lumina.set_grad_enabled("no")
    assert lumina.is_grad_enabled()


def test_the_dtype_aliases_are_torchs():
    for name in ("long", "int", "float", "double", "half"):
        assert getattr(lumina, name).name == str(getattr(torch, name)).removeprefix("torch.")
    assert lumina.zeros(2, dtype=lumina.long).dtype is lumina.int64
