"""Adagrad, Adadelta, Adamax, NAdam and RAdam, step for step as their ``torch.optim`` namesakes.

Each update follows the single-tensor path of ``torch/optim/<name>.py`` (the one PyTorch runs on
CPU), in the same order of float32 operations. Scalar factors that PyTorch computes in Python
(double precision) from the step count, such as bias corrections, are computed here in float64
scalar ops on the float32 ``step`` state and cast to the parameter dtype, so a compiled step reads
the count at each call instead of baking it in. Where PyTorch branches on the step count in
Python (RAdam's rectification), the update selects between both results with ``where``.

``foreach``, ``fused`` and ``capturable`` are torch's choices of kernels; they are accepted and kept
in the parameter groups, as torch keeps them, and do not change the update. ``differentiable=True``
(autograd through the step) is refused with LuminaValueError.
"""
from __future__ import annotations

from ..ir.dtypes import DType
from ..tensor import Tensor, maximum, where
from .adam import lerp
from .optimizer import Optimizer, ParamGroup, refuse_differentiable

_F32 = DType.float32
_F64 = DType.float64


def _decay(p: Tensor, g: Tensor, lr: Tensor, wd: float, decoupled: bool) -> tuple[Tensor, Tensor]:
    """Weight decay as torch applies it: ``(p * (1 - lr * wd), g)`` when decoupled (AdamW-style),
    ``(p, g + wd * p)`` (L2) otherwise; ``(p, g)`` when ``wd == 0``."""
    if wd == 0:
        return p, g
    if decoupled:
        return p * (1.0 - lr * wd).to(p.dtype), g
    return p, g + wd * p


def _count(state: dict) -> Tensor:
    """Advance the float32 ``step`` state and return it as float64 (PyTorch reads it as a Python float)."""
    step = state["step"]
    step.assign(step + 1.0)
    return step.to(_F64)


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer 2011), as ``torch.optim.Adagrad``::

        t = t + 1;  g = grad (negated when maximize) + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2                                 (``sum``, starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    State per parameter: float32 ``step`` and ``sum`` (the parameter's shape and dtype). Raises
    LuminaValueError for a negative lr, lr_decay, weight_decay, initial_accumulator_value or eps.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None):
        refuse_differentiable(differentiable, "Adagrad")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=_F32)
        self._slot(p, "sum", fill=group["initial_accumulator_value"])

    def _initial_value(self, key: str, group: ParamGroup) -> float:
        return group["initial_accumulator_value"] if key == "sum" else 0.0

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            t = _count(state)
            _, g = _decay(p, g, lr, group["weight_decay"], False)
            clr = (lr / (1.0 + (t - 1.0) * group["lr_decay"])).to(p.dtype)
            s = state["sum"]
            s.assign(s + g * g)
            p.assign(p - clr * g / (s.sqrt() + group["eps"]))    # addcdiv: (value * t1) / t2
            touched += [state["step"], s, p]
        return touched


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), as
    ``torch.optim.Adadelta``::

        g = grad (negated when maximize) + weight_decay * p
        v = rho v + (1 - rho) g^2                           (``square_avg``)
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho u + (1 - rho) d^2                           (``acc_delta``)
        p = p - lr d

    State per parameter: float32 ``step`` (counted, unused by the update, as in PyTorch),
    ``square_avg``, ``acc_delta``. Raises LuminaValueError for a negative lr, eps or weight_decay, or
    rho outside [0, 1].
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 foreach: bool | None = None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False):
        refuse_differentiable(differentiable, "Adadelta")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=_F32)
        self._slot(p, "square_avg")
        self._slot(p, "acc_delta")

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        rho, eps = group["rho"], group["eps"]
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            _count(state)
            _, g = _decay(p, g, lr, group["weight_decay"], False)
            v, u = state["square_avg"], state["acc_delta"]
            v.assign(v * rho + g * (1.0 - rho) * g)
            delta = (u + eps).sqrt() / (v + eps).sqrt() * g
            u.assign(u * rho + delta * (1.0 - rho) * delta)
            p.assign(p - lr.to(p.dtype) * delta)
            touched += [state["step"], v, u, p]
        return touched


class Adamax(Optimizer):
    r"""Adamax, the infinity-norm variant of Adam (Kingma & Ba 2015, section 7.1), as
    ``torch.optim.Adamax``::

        t = t + 1;  g = grad (negated when maximize) + weight_decay * p
        m = m + (1 - beta1) (g - m)                         (``exp_avg``)
        u = max(beta2 u, |g| + eps)                         (``exp_inf``)
        p = p - lr / (1 - beta1^t) * m / u

    State per parameter: float32 ``step``, ``exp_avg``, ``exp_inf``. Raises LuminaValueError for a
    negative lr, eps or weight_decay, or a beta outside [0, 1).
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        refuse_differentiable(differentiable, "Adamax")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=_F32)
        self._slot(p, "exp_avg")
        self._slot(p, "exp_inf")

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        beta1, beta2 = group["betas"]
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            t = _count(state)
            _, g = _decay(p, g, lr, group["weight_decay"], False)
            m, u = state["exp_avg"], state["exp_inf"]
            m.assign(lerp(m, g, 1.0 - beta1))
            u.assign(maximum(u * beta2, g.abs() + group["eps"]))
            clr = (lr / (1.0 - beta1 ** t)).to(p.dtype)
            p.assign(p - clr * m / u)
            touched += [state["step"], m, u, p]
        return touched


class NAdam(Optimizer):
    r"""NAdam, Adam with Nesterov momentum (Dozat 2016, "Incorporating Nesterov Momentum into
    Adam"), as ``torch.optim.NAdam``::

        t = t + 1;  g = grad (negated when maximize)
        p = p (1 - lr wd)  (decoupled_weight_decay)    or    g = g + wd p
        mu_t = beta1 (1 - 0.96^(t psi) / 2),  mu_{t+1} likewise   (psi: momentum_decay)
        P = P mu_t                                      (``mu_product``, float32, starts at 1)
        m = m + (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr (1 - mu_t) / (1 - P) g / d - lr mu_{t+1} / (1 - P mu_{t+1}) m / d

    State per parameter: float32 ``step`` and ``mu_product``, ``exp_avg``, ``exp_avg_sq``. Raises
    LuminaValueError for a negative lr, eps, weight_decay or momentum_decay, or a beta outside [0, 1).
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False,
                 *, foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        refuse_differentiable(differentiable, "NAdam")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=_F32)
        self._slot(p, "mu_product", shape=(), dtype=_F32, fill=1.0)
        self._slot(p, "exp_avg")
        self._slot(p, "exp_avg_sq")

    def _initial_value(self, key: str, group: ParamGroup) -> float:
        return 1.0 if key == "mu_product" else 0.0

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        beta1, beta2 = group["betas"]
        psi = group["momentum_decay"]
        lr = self._lr(group)
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            t = _count(state)
            bias_correction2 = 1.0 - beta2 ** t
            q, g = _decay(p, g, lr, group["weight_decay"], group["decoupled_weight_decay"])
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1.0) * psi))
            mu_product = state["mu_product"]
            mu_product.assign(mu_product * mu.to(_F32))     # a float32 product, as PyTorch's state
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.assign(lerp(m, g, 1.0 - beta1))
            v.assign(v * beta2 + g * (1.0 - beta2) * g)
            denom = (v / bias_correction2.to(p.dtype)).sqrt() + group["eps"]
            product = mu_product.to(_F64)
            grad_coef = (-lr * (1.0 - mu) / (1.0 - product)).to(p.dtype)
            avg_coef = (-lr * mu_next / (1.0 - product * mu_next)).to(p.dtype)
            q = q + grad_coef * g / denom
            p.assign(q + avg_coef * m / denom)
            touched += [state["step"], mu_product, m, v, p]
        return touched


class RAdam(Optimizer):
    r"""RAdam, Adam with a rectified adaptive learning rate (Liu et al. 2020, "On the Variance of
    the Adaptive Learning Rate and Beyond"), as ``torch.optim.RAdam``::

        t = t + 1;  g = grad (negated when maximize)
        p = p (1 - lr wd)  (decoupled_weight_decay)    or    g = g + wd p
        m = m + (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p = p - lr m / (1 - beta1^t) * r sqrt(1 - beta2^t) / (sqrt(v) + eps)    when rho_t > 5
        p = p - lr m / (1 - beta1^t)                                             otherwise

    State per parameter: float32 ``step``, ``exp_avg``, ``exp_avg_sq``. Raises LuminaValueError for
    a negative lr, eps or weight_decay, or a beta outside [0, 1).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        refuse_differentiable(differentiable, "RAdam")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      differentiable=differentiable))

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        self._slot(p, "step", shape=(), dtype=_F32)
        self._slot(p, "exp_avg")
        self._slot(p, "exp_avg_sq")

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        beta1, beta2 = group["betas"]
        lr = self._lr(group)
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        touched = []
        for p, g in self._gradients(group):
            state = self.state[p]
            t = _count(state)
            q, g = _decay(p, g, lr, group["weight_decay"], group["decoupled_weight_decay"])
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.assign(lerp(m, g, 1.0 - beta1))
            v.assign(v * beta2 + g * (1.0 - beta2) * g)
            bias_correction1 = 1.0 - beta1 ** t
            bias_correction2 = 1.0 - beta2 ** t
            corrected = (m / bias_correction1.to(p.dtype)) * lr.to(p.dtype)
            rho_t = rho_inf - 2.0 * t * beta2 ** t / bias_correction2
            # rho_t <= 5 makes the rectification NaN or meaningless; where() discards it there
            rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
            adaptive = (1.0 / (v.sqrt() + group["eps"])) * bias_correction2.sqrt().to(p.dtype)
            rectified = corrected * adaptive * rect.to(p.dtype)
            p.assign(q - where(rho_t > 5.0, rectified, corrected))
            touched += [state["step"], m, v, p]
        return touched


__all__ = ["Adadelta", "Adagrad", "Adamax", "NAdam", "RAdam"]
