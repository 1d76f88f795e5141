"""RMSprop (Hinton, Lecture 6e of "Neural Networks for Machine Learning"; centered form from
Graves 2013), as ``torch.optim.RMSprop``."""
from __future__ import annotations

from ..ir.dtypes import DType
from ..tensor import Tensor
from .adam import lerp
from .optimizer import Optimizer, ParamGroup, refuse_differentiable


class RMSprop(Optimizer):
    r"""RMSprop, step for step as ``torch.optim.RMSprop`` (the algorithm in its documentation)::

        g = grad (negated when maximize) + weight_decay * p
        s = alpha s + (1 - alpha) g^2                        (``square_avg``)
        a = a + (1 - alpha) (g - a)                          (``grad_avg``, when centered)
        d = sqrt(s - a^2) (centered)  or  sqrt(s);  d = d + eps
        b = momentum b + g / d;  p = p - lr b                (``momentum_buffer``, momentum > 0)
        p = p - lr g / d                                     (momentum == 0)

    Like PyTorch it also counts a float32 ``step`` per parameter (the update does not use it).
    ``capturable`` and ``foreach`` are torch's choices of kernels, taken positionally in torch's
    places; they do not change the update. Raises LuminaValueError for a negative hyperparameter
    and for ``differentiable=True``.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        refuse_differentiable(differentiable, "RMSprop")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=DType.float32)
        self._slot(p, "square_avg")
        if group["momentum"] > 0:
            self._slot(p, "momentum_buffer")
        if group["centered"]:
            self._slot(p, "grad_avg")

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        alpha, eps, wd, mu = group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            step, sq = state["step"], state["square_avg"]
            step.assign(step + 1.0)
            if wd != 0:
                g = g + wd * p
            sq.assign(sq * alpha + g * g * (1.0 - alpha))
            if group["centered"]:
                ga = state["grad_avg"]
                ga.assign(lerp(ga, g, 1.0 - alpha))
                touched.append(ga)
                avg = (sq - ga * ga).sqrt()
            else:
                avg = sq.sqrt()
            avg = avg + eps
            lr_p = lr.to(p.dtype)
            if mu > 0:
                buf = state["momentum_buffer"]
                buf.assign(buf * mu + g / avg)
                touched.append(buf)
                p.assign(p - lr_p * buf)
            else:
                p.assign(p - lr_p * (g / avg))
            touched += [step, sq, p]
        return touched
