"""Stochastic gradient descent with momentum, as ``torch.optim.SGD``."""
from __future__ import annotations

import numpy as np

from ..errors import LuminaValueError
from ..ir.dtypes import DType
from ..tensor import Tensor, tensor, where
from .optimizer import Optimizer, ParamGroup, refuse_differentiable


class SGD(Optimizer):
    r"""SGD with (Nesterov) momentum and L2 weight decay, step for step as ``torch.optim.SGD``
    (the algorithm in its documentation; Nesterov momentum as formulated by Sutskever et al. 2013)::

        g = grad (negated when maximize) + weight_decay * p
        b = g                                   on a parameter's first update
        b = momentum * b + (1 - dampening) * g  after it
        g = g + momentum * b  (nesterov)   or   g = b      (when momentum != 0)
        p = p - lr * g

    State per parameter: ``momentum_buffer`` when momentum != 0, and a float32 ``step`` count when
    dampening != 0 too (it tells the first update, which PyTorch marks by a missing buffer).
    ``foreach`` and ``fused`` are torch's choices of kernels (accepted, kept in the groups as
    torch keeps them; the update is the same). Raises LuminaValueError for a negative
    hyperparameter, Nesterov without momentum or with dampening, or ``differentiable=True``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None):
        refuse_differentiable(differentiable, "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise LuminaValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening "
                                   f"(got momentum={momentum}, dampening={dampening})")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                                      foreach=foreach, differentiable=differentiable, fused=fused))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        if group["momentum"] != 0:
            self._slot(p, "momentum_buffer")
            if group["dampening"] != 0:
                self._slot(p, "step", shape=(), dtype=DType.float32)

    def _missing_slot(self, p, group, key, saved) -> None:
        # A PyTorch checkpoint has no step count: its buffer exists once the first update is done.
        if key == "step" and saved.get("momentum_buffer") is not None:
            self.state[p]["step"].assign(tensor(np.float32(1.0)))
        else:
            super()._missing_slot(p, group, key, saved)

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        mu, damp, wd = group["momentum"], group["dampening"], group["weight_decay"]
        if group["nesterov"] and (mu <= 0 or damp != 0):
            raise LuminaValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening "
                                   f"(got momentum={mu}, dampening={damp})")
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            if wd != 0:
                g = g + wd * p
            if mu != 0:
                buf = self.state[p]["momentum_buffer"]
                if damp != 0:
                    step = self.state[p]["step"]
                    step.assign(step + 1.0)
                    buf.assign(where(step == 1.0, g, buf * mu + g * (1.0 - damp)))
                    touched.append(step)
                else:
                    buf.assign(buf * mu + g)    # the buffer starts at zero: the first update is g
                touched.append(buf)
                g = g + mu * buf if group["nesterov"] else buf
            p.assign(p - lr.to(p.dtype) * g)
            touched.append(p)
        return touched
