"""A lumina ``Linear`` trained beside its PyTorch twin: the same weights, optimizer and batches, the
loss ``mean(model(x)^2)``; after every step the losses and the parameters must agree (PyTorch CPU
is the oracle)."""
from __future__ import annotations

import numpy as np
import torch

import lumina


def step_of(model, opt):
    """One training step of ``model`` with optimizer ``opt`` (a plain function: compile it)."""
    def step(x):
        opt.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        return loss
    return step


def check_against_torch(step, model, w: np.ndarray, b: np.ndarray, torch_opt, steps: int, rng) -> None:
    """Run ``step`` (a lumina step of ``model``, which starts from weight ``w`` and bias ``b``) and
    torch's twin, made with ``torch_opt(parameters)``, on ``steps`` random batches of 8; assert the
    losses and parameters equal to rtol 1e-5 after each."""
    tmodel = torch.nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        tmodel.weight.copy_(torch.from_numpy(w))
        tmodel.bias.copy_(torch.from_numpy(b))
    topt = torch_opt(tmodel.parameters())
    for _ in range(steps):
        x = rng.standard_normal((8, w.shape[1])).astype(np.float32)
        loss = step(lumina.tensor(x))
        topt.zero_grad()
        tloss = tmodel(torch.from_numpy(x)).square().mean()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(model.weight.numpy(), tmodel.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.bias.numpy(), tmodel.bias.detach().numpy(), rtol=1e-5, atol=1e-6)
