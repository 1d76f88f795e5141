"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as ``torch.optim.Adam`` /
``torch.optim.AdamW``."""
from __future__ import annotations

from ..ir.dtypes import DType
from ..tensor import Tensor, maximum
from .optimizer import Optimizer, ParamGroup, refuse_differentiable


def lerp(start: Tensor, end: Tensor, weight: float) -> Tensor:
    """``start + weight * (end - start)``, evaluated as PyTorch's CPU ``lerp`` does (from the end
    when ``|weight| >= 0.5``, which keeps the rounding of ``weight`` near 1 small)."""
    if abs(weight) < 0.5:
        return start + (end - start) * weight
    return end - (end - start) * (1.0 - weight)


class Adam(Optimizer):
    r"""Adam, step for step as ``torch.optim.Adam`` (the algorithm in its documentation)::

        t = t + 1                                    (per parameter, float32 ``step``)
        g = grad (negated when maximize) + weight_decay * p    (L2; or, decoupled as in AdamW:
                                                                p = p * (1 - lr * weight_decay))
        m = m + (1 - beta1) (g - m)                  (``exp_avg``)
        v = beta2 v + (1 - beta2) g^2                (``exp_avg_sq``)
        v_max = max(v_max, v)                        (``max_exp_avg_sq``, with amsgrad; Reddi et al. 2018)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps)

    The scalar factors (bias corrections, step size, decay factor) are computed in float64 from
    the float64 learning rate, as PyTorch computes them in Python, then cast to the parameter dtype.
    ``foreach``, ``capturable`` and ``fused`` are torch's choices of kernels (accepted, kept in the
    groups as torch keeps them; the update is the same). Raises LuminaValueError for an invalid
    hyperparameter and for ``differentiable=True``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False):
        refuse_differentiable(differentiable, type(self).__name__)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=DType.float32)
        self._slot(p, "exp_avg")
        self._slot(p, "exp_avg_sq")
        if group["amsgrad"]:
            self._slot(p, "max_exp_avg_sq")

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        beta1, beta2 = group["betas"]
        wd, eps = group["weight_decay"], group["eps"]
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            step.assign(step + 1.0)
            t = step.to(DType.float64)
            decayed = p
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    decayed = p * (1.0 - lr * wd).to(p.dtype)
                else:
                    g = g + wd * p
            m.assign(lerp(m, g, 1.0 - beta1))
            v.assign(v * beta2 + g * g * (1.0 - beta2))
            second = v
            if group["amsgrad"]:
                vmax = state["max_exp_avg_sq"]
                vmax.assign(maximum(vmax, v))
                touched.append(vmax)
                second = vmax
            step_size = (lr / (1.0 - beta1 ** t)).to(p.dtype)
            bias_correction2_sqrt = (1.0 - beta2 ** t).sqrt().to(p.dtype)
            denom = second.sqrt() / bias_correction2_sqrt + eps
            p.assign(decayed - step_size * (m / denom))
            touched += [step, m, v, p]
        return touched


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay
    Regularization"), as ``torch.optim.AdamW``: ``p = p * (1 - lr * weight_decay)`` before the Adam
    update, instead of adding ``weight_decay * p`` to the gradient. Default weight decay 1e-2."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
