"""Optimizers. ``step()`` records the update as tensor ops, so inside ``@lumina.compile`` it is part
of the compiled step; outside, it runs at once (the new parameters are realised together).

State (momentum buffers, Adam moments, the step count) is allocated when the optimizer is built, so
a traced step only ever updates existing tensors.
"""
from __future__ import annotations

from typing import Iterable

from ..errors import LuminaTypeError, LuminaValueError
from ..tensor import Tensor, no_grad, realize, tensor, zeros
from ..tracing import STATE


class Optimizer:
    def __init__(self, params: Iterable[Tensor], defaults: dict):
        self.params = list(params)
        if not self.params:
            raise LuminaValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                desc = p._value.type if isinstance(p, Tensor) else type(p).__name__
                raise LuminaTypeError(f"{type(self).__name__}: parameter {i} ({desc}) is not a leaf tensor "
                                      "that requires grad")
        self.defaults = defaults
        self.state: dict[int, dict[str, Tensor]] = {}

    def _slot(self, p: Tensor, name: str) -> Tensor:
        slots = self.state.setdefault(id(p), {})
        if name not in slots:
            slots[name] = tensor(zeros(p.shape, dtype=p.dtype).numpy())
        return slots[name]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        with no_grad():
            touched = self._update()
        if STATE.trace is None:
            realize(*touched)

    def _update(self) -> list[Tensor]:
        raise NotImplementedError


class SGD(Optimizer):
    """SGD with momentum, as ``torch.optim.SGD``: ``b = mu b + g``; ``p -= lr b``
    (``g + mu b`` with Nesterov); weight decay adds ``wd p`` to ``g``."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))
        self.lr, self.momentum, self.weight_decay, self.nesterov = lr, momentum, weight_decay, nesterov
        for p in self.params if momentum else ():
            self._slot(p, "momentum_buffer")

    def _update(self):
        touched = []
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                buf = self._slot(p, "momentum_buffer")
                buf.assign(buf * self.momentum + g)
                touched.append(buf)
                g = g + self.momentum * buf if self.nesterov else buf
            p.assign(p - self.lr * g)
            touched.append(p)
        return touched


class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``:
    ``p -= lr wd p``; ``m = b1 m + (1-b1) g``; ``v = b2 v + (1-b2) g^2``;
    ``p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = tensor(0.0)
        for p in self.params:
            self._slot(p, "exp_avg"), self._slot(p, "exp_avg_sq")

    def _update(self):
        b1, b2 = self.betas
        t = self.t.assign(self.t + 1.0)
        bc1 = 1.0 - b1 ** t
        bc2 = 1.0 - b2 ** t
        touched = [self.t]
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            m, v = self._slot(p, "exp_avg"), self._slot(p, "exp_avg_sq")
            m.assign(m * b1 + g * (1 - b1))
            v.assign(v * b2 + g * g * (1 - b2))
            decayed = p * (1 - self.lr * self.weight_decay) if self.weight_decay else p
            p.assign(decayed - self.lr * (m / bc1) / ((v / bc2).sqrt() + self.eps))
            touched += [m, v, p]
        return touched


class Adam(AdamW):
    """Adam (Kingma & Ba 2015) with L2 weight decay folded into the gradient, as ``torch.optim.Adam``."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, betas, eps, weight_decay=0.0)
        self.l2 = weight_decay

    def _update(self):
        if self.l2:
            for p in self.params:
                if p.grad is not None:
                    p.grad = p.grad + self.l2 * p
        return super()._update()
