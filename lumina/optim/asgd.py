"""Averaged SGD (Polyak & Juditsky 1992, "Acceleration of Stochastic Approximation by Averaging"),
as ``torch.optim.ASGD``."""
from __future__ import annotations

from ..errors import LuminaValueError
from ..ir.dtypes import DType
from ..tensor import Tensor, where
from .optimizer import Optimizer, ParamGroup, _python_number, refuse_differentiable

_F32 = DType.float32


class ASGD(Optimizer):
    r"""Averaged SGD, step for step as ``torch.optim.ASGD`` (its single-tensor path)::

        t = t + 1;  g = grad (negated when maximize) + weight_decay * p
        p = p (1 - lambd eta) - eta g                    (``eta``, float32, starts at lr)
        ax = ax + mu (p - ax)    (or ax = p while mu == 1)   (``ax``: the running average)
        eta = lr / (1 + lambd lr t)^alpha;  mu = 1 / max(1, t - t0)     (float32 ``eta``, ``mu``)

    PyTorch sets ``eta`` to the learning rate when a parameter first has a gradient; here the
    first update (``t == 1``) reads the group's current learning rate, so a compiled step agrees.
    ``foreach`` and ``capturable`` are accepted and change nothing. Raises LuminaValueError for a
    negative lr or weight_decay (the checks torch makes), or ``differentiable=True``.
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        refuse_differentiable(differentiable, "ASGD")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _check_hyperparameters(self, group: dict) -> None:
        # torch checks only these two here (alpha and lambd may be any number)
        lr = _python_number(group["lr"], "ASGD: lr")
        if not lr >= 0.0:
            raise LuminaValueError(f"ASGD: invalid learning rate {lr} (expected >= 0)")
        if not group["weight_decay"] >= 0.0:
            raise LuminaValueError(f"ASGD: invalid weight_decay {group['weight_decay']} (expected >= 0)")

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=_F32)
        self._slot(p, "eta", shape=(), dtype=_F32, fill=group["lr"])
        self._slot(p, "mu", shape=(), dtype=_F32, fill=1.0)
        self._slot(p, "ax")

    def _initial_value(self, key: str, group: ParamGroup) -> float:
        return {"eta": group["lr"], "mu": 1.0}.get(key, 0.0)

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        lambd, alpha, t0, wd = group["lambd"], group["alpha"], group["t0"], group["weight_decay"]
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            step, eta, mu, ax = state["step"], state["eta"], state["mu"], state["ax"]
            step.assign(step + 1.0)
            t = step.to(DType.float64)
            if wd != 0:
                g = g + wd * p
            e = where(step == 1.0, lr.to(_F32), eta).to(DType.float64)   # PyTorch reads it as a Python float
            q = p * (1.0 - lambd * e).to(p.dtype)
            q = q - e.to(p.dtype) * g
            p.assign(q)
            ax.assign(where(mu != 1.0, ax + (q - ax) * mu.to(p.dtype), q))
            eta.assign((lr / (1.0 + lambd * lr * t) ** alpha).to(_F32))
            over = t - t0
            mu.assign((1.0 / where(over > 1.0, over, over * 0.0 + 1.0)).to(_F32))
            touched += [step, eta, mu, ax, p]
        return touched


__all__ = ["ASGD"]
