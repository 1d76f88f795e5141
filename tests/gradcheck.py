"""Checks one op against PyTorch CPU (forward and gradient) and against float64 finite differences.

``fn(L, F, *xs)`` is written once for both libraries: ``L`` is ``lumina`` or ``torch`` and ``F`` the
matching ``nn.functional``. The loss whose gradient is checked is ``sum(fn(...) * c)`` for a fixed
random cotangent ``c``, so every output element weighs in. Finite differences are central
directional derivatives ``(f(x + h v) - f(x - h v)) / 2h`` along random directions ``v``, compared
with ``<grad, v>``; ``f`` is compiled once with ``@lumina.compile`` and re-run per direction.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF

import lumina
import lumina.nn.functional as LF

FWD64 = dict(rtol=1e-9, atol=1e-11)
GRAD64 = dict(rtol=1e-8, atol=1e-10)


def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def check(fn, *arrays, wrt=None, seed=0, directions=3, h=1e-6, fd_rtol=1e-6, fd_atol=1e-8, torch_fn=None):
    """Compare ``fn`` in lumina with PyTorch (float64) and its gradient with finite differences.

    ``wrt``: indices of the arrays to differentiate (default: every float array). ``torch_fn``
    replaces ``fn`` on the PyTorch side where the spelling differs. Returns the lumina output.
    """
    wrt = [i for i, a in enumerate(arrays) if _is_float(a)] if wrt is None else list(wrt)
    arrays = [a.astype(np.float64) if _is_float(a) else a for a in arrays]
    rng = np.random.default_rng(seed)

    lx = [lumina.tensor(a, requires_grad=i in wrt) if isinstance(a, np.ndarray) else a for i, a in enumerate(arrays)]
    tx = [torch.tensor(a, requires_grad=i in wrt) if isinstance(a, np.ndarray) else a for i, a in enumerate(arrays)]
    out = fn(lumina, LF, *lx)
    tout = (torch_fn or fn)(torch, TF, *tx)
    assert tuple(out.shape) == tuple(tout.shape), (out.shape, tout.shape)
    c = rng.standard_normal(out.shape)
    (out * lumina.tensor(c)).sum().backward()
    (tout * torch.tensor(c)).sum().backward()
    lumina.realize(out, *(lx[i].grad for i in wrt))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **FWD64)
    grads = [lx[i].grad.numpy() for i in wrt]
    for i, g in zip(wrt, grads):
        np.testing.assert_allclose(g, tx[i].grad.numpy(), **GRAD64, err_msg=f"gradient of argument {i} vs torch")

    cot = lumina.tensor(c)

    @lumina.compile
    def loss(*xs):
        return (fn(lumina, LF, *xs) * cot).sum()

    for i, g in zip(wrt, grads):
        for _ in range(directions):
            v = rng.standard_normal(arrays[i].shape)
            plus = [a + h * v if j == i else a for j, a in enumerate(arrays)]
            minus = [a - h * v if j == i else a for j, a in enumerate(arrays)]
            fd = (loss(*plus).item() - loss(*minus).item()) / (2 * h)
            np.testing.assert_allclose(float((g * v).sum()), fd, rtol=fd_rtol, atol=fd_atol,
                                       err_msg=f"gradient of argument {i} vs finite differences")
    return out
