"""Real PyTorch model files, unchanged, on lumina: torchvision 0.28's model definitions, fetched from
its wheel on the package index (``lumina.testing.ports``), imported once on torch and once with
``torch`` aliased to lumina. Same weights (torch's state dict loaded, strictly, into lumina's
model), same batch: the logits, the loss, every parameter's gradient, the parameters after an
SGD-momentum step and BatchNorm's running statistics agree with torch to 1e-4 of each tensor's
scale, and a short training loop's losses follow torch's.

Both sides run in float64. Training these networks on a batch of two is ill-conditioned (BatchNorm
over the 8 values per channel of a 2x2 feature map): torch itself, in float32 against float64,
differs by 15% in a gradient after one SGD step. In float64 the agreement is what it should be.

The training step runs under ``@lumina.compile`` (one graph for forward, backward and the update; a
user's training loop wraps its step the same way), and the eval forward runs eagerly. Dropout's
``p`` is set to 0 on both sides for the comparison, since lumina's random streams differ from
torch's by design; the model files themselves are never edited.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lumina
from lumina.testing import ports

MODELS = {
    # id: (file, builder, keyword arguments, input shape)
    "resnet18": ("resnet", "resnet18", {"num_classes": 10}, (2, 3, 64, 64)),
    "mobilenet_v2": ("mobilenetv2", "mobilenet_v2", {"num_classes": 10}, (2, 3, 64, 64)),
    "mobilenet_v3_small": ("mobilenetv3", "mobilenet_v3_small", {"num_classes": 10}, (2, 3, 64, 64)),
    "alexnet": ("alexnet", "alexnet", {"num_classes": 10}, (2, 3, 64, 64)),
    "squeezenet1_1": ("squeezenet", "squeezenet1_1", {"num_classes": 10}, (2, 3, 64, 64)),
    "shufflenet_v2_x0_5": ("shufflenetv2", "shufflenet_v2_x0_5", {"num_classes": 10}, (2, 3, 64, 64)),
    "mnasnet0_5": ("mnasnet", "mnasnet0_5", {"num_classes": 10}, (2, 3, 64, 64)),
    "regnet_x_400mf": ("regnet", "regnet_x_400mf", {"num_classes": 10}, (2, 3, 64, 64)),
    "googlenet": ("googlenet", "googlenet", {"num_classes": 10, "aux_logits": False, "init_weights": True},
                  (2, 3, 64, 64)),
    "vit": ("vision_transformer", "VisionTransformer",
            {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2, "hidden_dim": 32, "mlp_dim": 64,
             "num_classes": 10}, (2, 3, 32, 32)),
}

RTOL = 1e-4


def close(got, want, what: str, floor: float = 1e-12) -> None:
    """``|got - want| <= RTOL * max(max|want|, floor)``, with ``what`` named on failure."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = float(np.abs(want).max()) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=0, atol=RTOL * max(scale, floor), err_msg=what)


def build(name: str):
    """The model on torch and on lumina, with torch's initial weights in both and dropout off."""
    file, builder, kwargs, shape = MODELS[name]
    torch.manual_seed(0)
    theirs = getattr(getattr(ports.torchvision("torch").models, file), builder)(**kwargs)
    ours = getattr(getattr(ports.torchvision("lumina").models, file), builder)(**kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})   # strict: same names
    theirs.double(), ours.double()
    for model, dropout in ((theirs, torch.nn.Dropout), (ours, lumina.nn.Dropout)):
        for m in model.modules():
            if isinstance(m, dropout):
                m.p = 0.0
    return theirs, ours, shape


def batch(shape, seed: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.integers(0, 10, shape[0])


def torch_step(model, opt, x, y):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    opt.step()
    return loss.item()


@pytest.mark.parametrize("name", list(MODELS))
def test_unchanged_torchvision_model_trains_as_on_torch(name):
    theirs, ours, shape = build(name)
    sgd = dict(lr=0.01, momentum=0.9, weight_decay=1e-4)
    topt, lopt = torch.optim.SGD(theirs.parameters(), **sgd), lumina.optim.SGD(ours.parameters(), **sgd)

    @lumina.compile
    def step(x, y):
        lopt.zero_grad()
        loss = lumina.nn.functional.cross_entropy(ours(x), y)
        loss.backward()
        lopt.step()
        return loss

    theirs.train(), ours.train()
    for i in range(3):
        x, y = batch(shape, i)
        want = torch_step(theirs, topt, x, y)
        got = step(lumina.tensor(x), lumina.tensor(y)).item()
        close(got, want, f"{name}: loss at step {i}")
        if i == 0:   # the first step's gradients, each to 1e-4 of its own scale or of 1e-6 of the largest
            grads = dict(ours.named_parameters())   # (a conv bias before BatchNorm has a gradient of 0 + rounding)
            largest = max(float(p.grad.abs().max()) for p in theirs.parameters())
            for k, p in theirs.named_parameters():
                close(grads[k].grad.numpy(), p.grad.numpy(), f"{name}: gradient of {k}", floor=1e-6 * largest)
    state = ours.state_dict()
    for k, v in theirs.state_dict().items():   # parameters after the updates, BatchNorm's running statistics
        close(np.asarray(state[k]), v.numpy(), f"{name}: {k} after 3 steps", floor=1e-6)

    theirs.eval(), ours.eval()
    x, _ = batch(shape, 99)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    with lumina.no_grad():
        close(ours(lumina.tensor(x)).numpy(), want, f"{name}: eval logits")


def test_every_model_file_imports_unchanged_on_lumina():
    """Each of ``ports.MODEL_FILES`` imports on lumina with ``torch`` aliased (module-level torch
    names such as ``torch.nn.functional.interpolate`` and ``torch.jit.unused`` resolve)."""
    models = ports.torchvision("lumina").models
    failed = {n: str(getattr(models, n).error) for n in ports.MODEL_FILES if isinstance(getattr(models, n), ports._Unavailable)}
    assert not failed, failed
