"""Rprop (Riedmiller & Braun 1993, "A Direct Adaptive Method for Faster Backpropagation Learning:
The RPROP Algorithm"), as ``torch.optim.Rprop``."""
from __future__ import annotations

from ..errors import LuminaValueError
from ..ir.dtypes import DType
from ..tensor import Tensor, ones_like, where
from .optimizer import Optimizer, ParamGroup, refuse_differentiable


class Rprop(Optimizer):
    r"""Resilient backpropagation: a per-element step size that grows by ``etas[1]`` while the
    gradient keeps its sign and shrinks by ``etas[0]`` when it flips, step for step as
    ``torch.optim.Rprop`` (its single-tensor path)::

        t = t + 1;  g = grad (negated when maximize)
        f = etaplus where g * prev > 0, etaminus where < 0, 1 where 0
        s = clamp(s * f, step_sizes[0], step_sizes[1])     (``step_size``, starts at lr)
        g = 0 where f == etaminus                           (no move after a sign flip)
        p = p - sign(g) * s;  prev = g                      (``prev``)

    PyTorch fills ``step_size`` with the learning rate when a parameter first has a gradient; here
    the slot is taken from the group's current learning rate at the first update (``t == 1``), so a
    compiled step agrees. ``capturable`` and ``foreach`` are accepted and change nothing. Raises
    LuminaValueError for a negative lr, ``not 0 < etas[0] < 1 < etas[1]``, or ``differentiable=True``.
    """

    def __init__(self, params, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False):
        refuse_differentiable(differentiable, "Rprop")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise LuminaValueError(f"Rprop: invalid eta values {etas[0]}, {etas[1]} (expected 0 < etaminus "
                                   "< 1 < etaplus)")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=DType.float32)
        self._slot(p, "prev")
        self._slot(p, "step_size", fill=group["lr"])

    def _initial_value(self, key: str, group: ParamGroup) -> float:
        return group["lr"] if key == "step_size" else 0.0

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            step, prev, size = state["step"], state["prev"], state["step_size"]
            step.assign(step + 1.0)
            first = step == 1.0
            size_now = where(first, lr.to(p.dtype) * ones_like(size), size)
            sign = (g * prev).sign()
            factor = where(sign > 0, etaplus, where(sign < 0, etaminus, ones_like(sign)))
            size.assign((size_now * factor).clamp(lo, hi))
            g = where(factor == etaminus, 0.0, g)
            p.assign(p - g.sign() * size)
            prev.assign(g)
            touched += [step, prev, size, p]
        return touched


__all__ = ["Rprop"]
