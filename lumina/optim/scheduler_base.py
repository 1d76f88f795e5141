"""The learning-rate scheduler base class, ``torch.optim.lr_scheduler.LRScheduler``: the
schedulers in ``lr_scheduler`` and ``cyclic_lr`` derive from it.

A scheduler sets ``group["lr"]`` of its optimizer's parameter groups; the optimizer keeps each
group's learning rate in a realised scalar tensor that a compiled step reads at every call, so
``scheduler.step()`` (called outside the compiled step, after it) changes the learning rate without
tracing the step again.
"""
from __future__ import annotations

from ..errors import LuminaTypeError, LuminaValueError
from .optimizer import Optimizer


class LRScheduler:
    """Base class. ``last_epoch`` counts ``step()`` calls (-1: a fresh schedule; the constructor
    performs the first step, to epoch 0). Subclasses implement ``get_lr()`` (the next learning
    rates from the current ones, ``last_epoch`` already advanced) and may implement
    ``_get_closed_form_lr()`` (the learning rates at ``last_epoch`` from ``base_lrs``).

    Raises LuminaTypeError when ``optimizer`` is not an ``Optimizer``, LuminaValueError when resuming
    (``last_epoch >= 0``) a group without ``"initial_lr"``.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise LuminaTypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise LuminaValueError(f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr' "
                                           f"to resume from (last_epoch={last_epoch})")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return self._last_lr

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one step (or, deprecated as in PyTorch, jump to ``epoch`` using
        the closed form where the scheduler has one) and set the optimizer's learning rates."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._current()

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (and, in subclasses, what cannot be saved)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


def per_group(name: str, optimizer: Optimizer, value) -> list:
    """``value`` for each parameter group: a list or tuple of one per group, or one for all.
    Raises LuminaValueError for a list of another length."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise LuminaValueError(f"expected {n} values for {name} (one per parameter group), got {len(value)}")
        return list(value)
    return [value] * n


def set_momentum(group, use_beta1: bool, value: float) -> None:
    """Set a group's momentum: ``betas[0]`` (Adam-like optimizers) or ``momentum``."""
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value
