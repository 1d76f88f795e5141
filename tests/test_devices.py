"""Devices: the registry (``backends.devices``), ``compile(fn, device=...)``, ``Tensor.to(device)``
and ``lumina dump --target triton|metal``.

The cuda device runs here in Triton's interpreter (``TRITON_INTERPRET=1``, set per test by the
``interpret`` fixture and removed after it): the same executable, arena, launches and transfers as
on a GPU, over CPU torch tensors. Models compiled for it are checked against the cpu device and
against PyTorch CPU. ``tests/test_gpu.py`` repeats the model checks on a real GPU.
"""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina.cli import main
from lumina.errors import LuminaDeviceError
from lumina.nn import functional as F
from lumina.backends import devices
from lumina.testing.programs import train_step
from lumina.testing.twins import convnet


@pytest.fixture
def no_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.delenv("LUMINA_DEVICE", raising=False)


@pytest.fixture
def interpret(monkeypatch):
    """The cuda device through Triton's interpreter, for this test only."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.delenv("LUMINA_DEVICE", raising=False)


@pytest.fixture
def no_gpu(monkeypatch, no_interpreter):
    """A machine without an NVIDIA driver, whatever this one has."""
    monkeypatch.setattr(devices, "NVIDIA_DRIVER", "/nonexistent/nvidia/version")
    monkeypatch.setattr(sys, "platform", "linux")


# ---- the registry -----------------------------------------------------------------------------------

def test_default_device_is_cpu_without_a_gpu(no_gpu):
    assert devices.available("cuda")[0] is False
    assert lumina.default_device() == "cpu"


def test_default_device_prefers_cuda_then_metal_then_cpu(monkeypatch, no_interpreter):
    table = {"cuda": (True, "gpu"), "metal": (True, "apple")}
    monkeypatch.setattr(devices, "_cuda", lambda: table["cuda"])
    monkeypatch.setattr(devices, "_metal", lambda: table["metal"])
    assert devices.default_device() == "cuda"
    table["cuda"] = (False, "no")
    assert devices.default_device() == "metal"
    table["metal"] = (False, "no")
    assert devices.default_device() == "cpu"


def test_interpreter_is_never_the_default(interpret):
    assert devices.available("cuda") == (True, "Triton interpreter (TRITON_INTERPRET=1): kernels run on the CPU")
    if not torch.cuda.is_available():
        assert devices.default_device() in ("cpu", "metal")


def test_lumina_device_overrides_and_must_be_available(monkeypatch, no_gpu):
    monkeypatch.setenv("LUMINA_DEVICE", "cpu")
    assert devices.default_device() == "cpu"
    monkeypatch.setenv("LUMINA_DEVICE", "cuda")
    with pytest.raises(LuminaDeviceError, match=r"device 'cuda' is not available: no NVIDIA driver"):
        devices.default_device()


def test_device_names():
    assert devices.canonical("CUDA:0") == "cuda"
    assert devices.canonical(torch.device("cpu")) == "cpu"
    with pytest.raises(LuminaDeviceError, match=r"unknown device 'tpu'.*cpu, cuda, metal"):
        devices.canonical("tpu")
    with pytest.raises(LuminaDeviceError, match="unknown device 'cuda:1'"):
        devices.canonical("cuda:1")


def test_compile_for_cuda_without_a_gpu_says_why(no_gpu):
    with pytest.raises(LuminaDeviceError, match=r"device 'cuda' is not available: .*TRITON_INTERPRET=1"):
        lumina.compile(lambda x: x + 1, device="cuda")


@pytest.mark.skipif(sys.platform == "darwin", reason="Metal may be available on macOS")
def test_compile_for_metal_off_macos_says_why():
    with pytest.raises(LuminaDeviceError, match=r"device 'metal' is not available: .*needs macOS"):
        lumina.compile(lambda x: x + 1, device="metal")


# ---- Tensor.to and mixing ---------------------------------------------------------------------------

def test_to_cuda_computes_there_and_reads_back(interpret):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = lumina.tensor(a).to("cuda")
    assert x.device.type == "cuda" and lumina.tensor(a).device.type == "cpu"
    assert repr(x[0, :2]) == "Tensor([0., 1.], device='cuda')"
    y = (x * 2.0 + 1.0).exp().sum(1)
    assert y.device.type == "cuda"
    np.testing.assert_allclose(y.numpy(), np.exp(a * 2 + 1).sum(1), rtol=1e-6)
    back = y.to("cpu")
    assert back.device.type == "cpu" and isinstance(back.numpy(), np.ndarray)
    np.testing.assert_array_equal(back.numpy(), y.numpy())
    h = x.to("cuda", lumina.float16)
    assert h.device.type == "cuda" and h.dtype == lumina.float16
    np.testing.assert_array_equal(h.numpy(), a.astype(np.float16))


def test_constants_join_the_device_they_meet(interpret):
    x = lumina.tensor([1.0, 2.0]).cuda()
    y = x + lumina.ones(2) + lumina.arange(2)
    assert y.device.type == "cuda"
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])


def test_mixing_devices_in_one_op_names_the_op_and_both_devices(interpret):
    x = lumina.tensor([1.0, 2.0]).to("cuda")
    c = lumina.tensor([3.0, 4.0])
    with pytest.raises(LuminaDeviceError, match=r"^add: operands on two devices, cuda and cpu"):
        x + c
    with pytest.raises(LuminaDeviceError, match=r"^dot: operands on two devices, cpu and cuda"):
        lumina.tensor(np.ones((2, 2), np.float32)) @ x.reshape(2, 1)


def test_backward_on_cuda_leaves(interpret):
    a = np.array([1.0, -2.0, 3.0], np.float32)
    x = lumina.tensor(a, requires_grad=True).to("cuda")
    assert x.requires_grad and x.is_leaf
    (x * x).sum().backward()
    assert x.grad.device.type == "cuda"
    np.testing.assert_allclose(x.grad.numpy(), 2 * a)
    with pytest.raises(LuminaDeviceError, match=r"to: cannot move f32\[3\] from cuda to cpu"):
        (x * 2.0).to("cpu")


def test_module_to_moves_parameters_in_place(interpret):
    model = nn.Linear(3, 2)
    w = model.weight.numpy().copy()
    assert model.to("cuda") is model
    assert model.weight.device.type == "cuda" and model.weight.requires_grad
    np.testing.assert_array_equal(model.weight.numpy(), w)


# ---- models compiled for cuda (interpreter) vs the cpu device and PyTorch CPU -------------------------

def _mlp_pair():
    lm = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    tm = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in lm.state_dict().items()})
    return lm, tm


def _lumina_steps(model, device, batches):
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = train_step(model, opt, F.cross_entropy, device=device)
    losses = [step(x, y) for x, y in batches]
    return losses, model.state_dict()


def test_mlp_training_step_on_cuda_matches_cpu_and_torch(interpret):
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((6, 8), dtype=np.float32), rng.integers(0, 4, 6)) for _ in range(3)]
    gpu_model, tm = _mlp_pair()
    cpu_model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    cpu_model.load_state_dict(gpu_model.state_dict())

    losses, weights = _lumina_steps(gpu_model, "cuda", batches)
    # host data in, host results out; the parameters (on the cpu) stay there, updated
    assert all(loss.device.type == "cpu" for loss in losses)
    assert all(p.device.type == "cpu" for p in gpu_model.parameters())
    cpu_losses, cpu_weights = _lumina_steps(cpu_model, "cpu", batches)

    opt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    torch_losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        torch_losses.append(loss.item())
    got = [loss.item() for loss in losses]
    np.testing.assert_allclose(got, [loss.item() for loss in cpu_losses], rtol=1e-5)
    np.testing.assert_allclose(got, torch_losses, rtol=1e-5)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(weights[k], cpu_weights[k], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(weights[k], v.numpy(), rtol=1e-5, atol=1e-6)


def test_training_with_the_model_on_cuda_keeps_state_there(interpret):
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((6, 8), dtype=np.float32), rng.integers(0, 4, 6)) for _ in range(2)]
    model, tm = _mlp_pair()
    model.to("cuda")
    losses, weights = _lumina_steps(model, "cuda", [(lumina.tensor(x).cuda(), lumina.tensor(y).cuda())
                                                    for x, y in batches])
    assert all(loss.device.type == "cuda" for loss in losses)
    assert all(p.device.type == "cuda" and p.grad.device.type == "cuda" for p in model.parameters())
    opt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    for (x, y), loss in zip(batches, losses):
        opt.zero_grad()
        want = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y))
        want.backward()
        opt.step()
        np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-5)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(weights[k], v.numpy(), rtol=1e-5, atol=1e-6)


def test_convnet_forward_on_cuda_matches_cpu_and_torch(interpret):
    lm = convnet(lumina, 4, 8).eval()
    tm = convnet(torch, 4, 8).eval()
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in lm.state_dict().items()})
    x = np.random.default_rng(2).random((2, 1, 8, 8), dtype=np.float32)
    got = lumina.compile(lambda x: lm(x), device="cuda")(x)
    want_cpu = lumina.compile(lambda x: lm(x), device="cpu")(x)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got.numpy(), want_cpu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)


def test_cuda_executable_uses_one_arena_at_the_memory_plan(interpret):
    def f(x, w):
        h = (x @ w).relu()
        return (h * h).sum(0) + (h.exp()).sum(0)
    fn = lumina.compile(f, device="cuda")
    x, w = np.ones((4, 8), np.float32), np.full((8, 8), 0.1, np.float32)
    exe = fn.lower(x, w).executable
    assert exe.arena.numel() == exe.memory_plan.arena_bytes
    for slot, offset in exe.memory_plan.offsets.items():
        assert exe._fixed[slot].data_ptr() == exe.arena.data_ptr() + offset   # noqa: SLF001
    h = np.maximum(x @ w, 0)
    np.testing.assert_allclose(fn(x, w).numpy(), (h * h).sum(0) + np.exp(h).sum(0), rtol=1e-5)


# ---- lumina dump --target triton|metal ---------------------------------------------------------------

def _kernel_headers(text: str, comment: str) -> list[str]:
    return re.findall(rf"^{re.escape(comment)} ---- \w+: kernel \d+ (\w+) \(\w+\) ----$", text, flags=re.M)


@pytest.mark.parametrize("target, comment, marker", [("triton", "#", "@triton.jit"), ("metal", "//", "kernel void")])
def test_dump_prints_every_kernels_source(tmp_path, capsys, target, comment, marker):
    src = tmp_path / "model.py"
    src.write_text("import lumina\n\n@lumina.compile(device='cpu')\n"
                   "def f(x, w):\n    return ((x @ w).relu() + 1.0).exp().sum(0)\n")   # a GEMM, a column sum
    assert main(["dump", f"{src}::f", "--shapes", "4x8,8x8", "--target", target]) == 0
    out = capsys.readouterr().out
    from lumina.cli import _load_function
    fn = _load_function(f"{src}::f")
    names = [k.name for k in fn.lower(np.ones((4, 8), np.float32), np.ones((8, 8), np.float32)).kernels()]
    assert _kernel_headers(out, comment) == names and len(names) >= 2
    assert out.count(marker) >= len(names)


def test_dump_onnx_model_triton_target(onnx_model, capsys):
    assert main(["dump", onnx_model, "--dim", "batch=4", "--target", "triton"]) == 0
    out = capsys.readouterr().out
    names = _kernel_headers(out, "#")
    assert names and out.count("@triton.jit") >= len(names)
    compile(out, "dump", "exec")    # the dump is Python: every kernel's module, one after another


# ---- the metal executable, its kernels run by the MSL-on-CPU shim -------------------------------------

def test_metal_executable_runs_a_program_like_the_cpu_device():
    from lumina.compiler import compile_graph, lower_program
    from lumina.backends.metal.executable import MetalExecutable
    from lumina.backends.target import target_for
    from lumina.testing import msl_cpu

    def f(x, w, b):
        h = (x @ w + b).relu()
        return (h - h.mean(-1, keepdim=True)).exp().sum(-1), h.amax(0)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s, dtype=np.float32) for s in ((6, 8), (8, 16), (16,))]
    graph = lumina.compile(f, device="cpu").lower(*args).graph
    prog = lower_program(graph, target_for("cpu"))
    exe = MetalExecutable(prog.slots, prog.input_slots, prog.output_slots, prog.output_shapes,
                          [(d, s) for _, d, s in prog.kernels], launcher=msl_cpu.launcher)
    assert exe.arena.nbytes == exe.memory_plan.arena_bytes
    for got, want in zip(exe.run(args), compile_graph(graph).run(args)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_metal_executable_places_float64_scalars_on_the_host():
    """AdamW's bias corrections are float64 scalars, which Metal cannot compute: they run on the
    host (backends.cpu.host_kernel), everything else through the shim, and the step equals the CPU's."""
    from lumina.compiler import compile_graph, lower_program
    from lumina.backends.metal.msl import uses_float64
    from lumina.backends.metal.executable import MetalExecutable
    from lumina.backends.target import target_for
    from lumina.testing import msl_cpu

    model = nn.Linear(8, 4)
    step = train_step(model, lumina.optim.AdamW(model.parameters(), lr=1e-2), F.cross_entropy)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 8), dtype=np.float32), rng.integers(0, 4, 16)
    lowered = step.lower(x, y)
    _, inputs, _, _ = step._prepare((x, y))
    prog = lower_program(lowered.graph, target_for("cpu"))
    assert any(uses_float64(d) for _, d, _ in prog.kernels)
    exe = MetalExecutable(prog.slots, prog.input_slots, prog.output_slots, prog.output_shapes,
                          [(d, s) for _, d, s in prog.kernels], launcher=msl_cpu.launcher)
    for got, want in zip(exe.run(inputs), compile_graph(lowered.graph).run(inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_lowered_llvm_ir_of_a_cuda_function_is_the_cpu_devices(interpret):
    x = np.ones((4, 8), np.float32)
    on_cuda = lumina.compile(lambda x: (x * 2.0).exp(), device="cuda").lower(x)
    on_cpu = lumina.compile(lambda x: (x * 2.0).exp(), device="cpu").lower(x)
    assert on_cuda.executable.device == "cuda" and "define void" in on_cuda.llvm_ir()
    assert on_cuda.llvm_ir() == on_cpu.llvm_ir()
    assert [k.name for k in on_cuda.kernels()] == [k.name for k in on_cpu.kernels()]


def test_assign_and_load_state_dict_keep_the_destination_device(interpret):
    model = nn.Linear(3, 2).to("cuda")
    state = {k: np.full(v.shape, 0.5, np.float32) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.weight.device.type == "cuda" and model.bias.device.type == "cuda"
    np.testing.assert_array_equal(model.weight.numpy(), state["weight"])
    x = lumina.tensor([1.0, 2.0]).cuda()
    x.assign(lumina.tensor([3.0, 4.0]))       # copy_: the data moves to x's device
    assert x.device.type == "cuda"
    np.testing.assert_array_equal(x.numpy(), [3.0, 4.0])


def test_info_lists_the_devices(no_gpu, capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "device cpu: available (LLVM CPU backend)" in out
    assert re.search(r"^device cuda: unavailable \(no NVIDIA driver", out, flags=re.M)
    assert out.rstrip().endswith("default device: cpu")


def test_profile_times_every_cuda_kernel(interpret):
    x = np.ones((4, 8), np.float32)
    fn = lumina.compile(lambda x: (x * 2.0).exp().sum(1), device="cuda")
    rows = fn.profile(x, repeat=2)
    assert [name for name, _ in rows] == [k.name for k in fn.lower(x).kernels()]
    assert all(0 < t < 60 for _, t in rows)
    with pytest.raises(LuminaDeviceError, match=r"profile_report: .* cpu device only; <lambda> runs on cuda"):
        fn.profile_report(x)


def test_every_dtype_crosses_the_cuda_executable(interpret):
    """Inputs and outputs of each dtype (bf16 through its bit pattern, bool as bytes) round-trip
    through host copies and device buffers as the cpu device computes them."""
    import ml_dtypes
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 5), dtype=np.float32)
    args = (a.astype(ml_dtypes.bfloat16), a.astype(np.float16), a.astype(np.float64),
            rng.integers(-9, 9, (3, 5)).astype(np.int32), rng.integers(-9, 9, (3, 5)), a > 0)

    def f(bf, h, d, i, j, m):
        return bf * 2.0, h + 1.0, d.sum(0), i + 1, j * j, m & (d > 0.5), lumina.where(m, bf.float(), h.float())
    got = lumina.compile(f, device="cuda")(*args)
    want = lumina.compile(f, device="cpu")(*args)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.device.type == "cpu"
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    on_device = lumina.compile(f, device="cuda")(*(lumina.tensor(x).cuda() for x in args))
    for g, w in zip(on_device, want):
        assert g.device.type == "cuda"
        np.testing.assert_array_equal(g.numpy(), w.numpy())
