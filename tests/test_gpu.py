"""The cuda device on a real NVIDIA GPU: the models of ``tests/test_devices.py`` (an MLP training
step from host data and with the model on the GPU, a ConvNet forward) against the cpu device and
PyTorch CPU, 1024x1024 matmuls against torch on the GPU, and the executable's device buffers and
asynchronous results. Collected everywhere; skipped, saying so, where no CUDA GPU is present.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from lumina.backends import devices


def _real_gpu() -> tuple[bool, str]:
    if not torch.cuda.is_available():
        return False, f"no CUDA GPU: torch {torch.__version__} sees none"
    return True, ""


HAVE_GPU, WHY = _real_gpu()
pytestmark = pytest.mark.skipif(not HAVE_GPU, reason=WHY or "no CUDA GPU")


@pytest.fixture(autouse=True)
def real_gpu(monkeypatch):
    """The real device: never the interpreter."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert devices.available("cuda")[0], devices.available("cuda")[1]


def test_mlp_training_step_on_gpu():
    from test_devices import test_mlp_training_step_on_cuda_matches_cpu_and_torch as check
    check(None)


def test_training_with_the_model_on_gpu():
    from test_devices import test_training_with_the_model_on_cuda_keeps_state_there as check
    check(None)


def test_convnet_forward_on_gpu():
    from test_devices import test_convnet_forward_on_cuda_matches_cpu_and_torch as check
    check(None)


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-4), ("bfloat16", 1e-2)])
def test_matmul_1024_matches_torch(dtype, rtol):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((1024, 1024), dtype=np.float32) for _ in range(2))
    ldt, tdt = getattr(lumina, dtype), getattr(torch, dtype)
    mm = lumina.compile(lambda a, b: a @ b, device="cuda")
    got = mm(lumina.tensor(a, dtype=ldt).cuda(), lumina.tensor(b, dtype=ldt).cuda())
    assert got.device.type == "cuda"
    # torch's float64 product of the same (rounded) inputs; lumina accumulates in float32
    ta, tb = (torch.from_numpy(v).to(tdt).double() for v in (a, b))
    want = (ta @ tb).numpy()
    scale = np.abs(want).max()
    np.testing.assert_allclose(got.to(lumina.float32).numpy() / scale, want / scale, atol=rtol)


def test_results_stay_on_the_device_and_read_back_in_order():
    x = np.arange(1 << 20, dtype=np.float32)
    fn = lumina.compile(lambda x: (x * 2.0 + 1.0).exp().sum(), device="cuda")
    exe = fn.lower(x).executable
    assert exe.arena.device.type == "cuda" and exe.stream is not None
    xd = lumina.tensor(x / x.size).cuda()
    outs = [fn(xd) for _ in range(3)]        # queued on the executable's stream, no host wait
    assert all(o.device.type == "cuda" for o in outs)
    want = np.exp(x / x.size * 2.0 + 1.0, dtype=np.float64).sum()
    for o in outs:
        np.testing.assert_allclose(o.item(), want, rtol=1e-4)
    host = fn(x / x.size)                     # host data in: the result comes back to the host
    assert host.device.type == "cpu"
    np.testing.assert_allclose(host.item(), want, rtol=1e-4)
