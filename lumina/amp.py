"""Mixed precision, after ``torch.autocast("cpu")`` and ``torch.amp.GradScaler``: the public
``lumina.amp`` namespace.

    with lumina.autocast("cpu", dtype=lumina.bfloat16):
        loss = F.cross_entropy(model(x), y)     # matmuls in bfloat16, the loss in float32
    scaler.scale(loss).backward()
    scaler.step(opt)                            # skipped, in-graph, if a gradient overflowed
    scaler.update()

``autocast`` and the policy helpers ops call (``autocast_operands``, ``autocast_fp32``) are
``lumina.tensor.autocast``, re-exported here: ops read the autocast state as they are recorded, so
it sits with them. ``GradScaler``, dynamic loss scaling that drives an optimizer, lives here.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import LuminaTraceError, LuminaTypeError, LuminaValueError
from .ir.dtypes import DType
from .tensor import Tensor, maximum, no_grad, realize, tensor, where, zeros
from .tensor.autocast import (autocast, autocast_fp32, autocast_operands, autocast_state, get_autocast_dtype,
                              is_autocast_enabled)
from .tracing import STATE

__all__ = ["autocast", "autocast_operands", "autocast_fp32", "autocast_state",
           "is_autocast_enabled", "get_autocast_dtype", "GradScaler"]


# ---- GradScaler -----------------------------------------------------------------------------------

def _state_tensors(optimizer) -> dict[int, Tensor]:
    """Every tensor an optimizer step may rebind: the parameters, the per-parameter state slots
    and tensors held as attributes (Adam's step count)."""
    found: dict[int, Tensor] = {}

    def visit(x):
        if isinstance(x, Tensor):
            found.setdefault(id(x), x)
        elif isinstance(x, dict):
            for v in x.values():
                visit(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                visit(v)
    visit(optimizer.params)
    visit(optimizer.state)
    visit({k: v for k, v in vars(optimizer).items() if k not in ("params", "state")})
    return found


class GradScaler:
    """Dynamic loss scaling, as ``torch.amp.GradScaler``, that never reads a value in Python.

    ``scale(loss)`` multiplies by the current scale; ``step(opt)`` unscales the gradients (``unscale_``)
    and applies ``opt``'s update unless a gradient held an inf or NaN; ``update()`` then halves the
    scale (``backoff_factor``) after an overflow, or multiplies it by ``growth_factor`` after
    ``growth_interval`` overflow-free steps in a row. The scale (float32) and the growth tracker
    (int32) are realised state tensors, and the skip is a ``where(found_inf, old, new)`` on every
    tensor the optimizer rebinds, so a whole scaled training step compiles into one executable
    under ``@lumina.compile`` (call ``step`` and ``update`` inside the compiled function).
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if growth_factor <= 1.0:
            raise LuminaValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise LuminaValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}")
        if not isinstance(growth_interval, int) or growth_interval <= 0:
            raise LuminaValueError(f"GradScaler: growth_interval must be a positive int, "
                                   f"got {growth_interval!r}")
        self._enabled = enabled
        self._init_scale, self._growth_factor = float(init_scale), float(growth_factor)
        self._backoff_factor, self._growth_interval = float(backoff_factor), growth_interval
        self._scale = tensor(np.float32(init_scale))
        self._growth_tracker = tensor(np.int32(0))
        self._found_inf: dict[int, Tensor] = {}    # id(optimizer) -> float32 0/1, this iteration

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs):
        """``outputs * scale`` (a tensor, or a list/tuple of them); float32 for 16-bit losses."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if not isinstance(outputs, Tensor):
            raise LuminaTypeError(f"GradScaler.scale: expects tensors, got {type(outputs).__name__}")
        return outputs * self._scale

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale in place and record whether any of them
        held an inf or NaN. Called by ``step`` unless called before it (to clip gradients, say)."""
        if not self._enabled:
            return
        if id(optimizer) in self._found_inf:
            raise LuminaValueError("GradScaler.unscale_: already called on this optimizer since the "
                                   "last update()")
        self._keep_in_trace()
        with no_grad():
            inv = (1.0 / self._scale.to(DType.float64)).to(DType.float32)  # as torch: in float64
            found = zeros(())
            for p in optimizer.params:
                g = p.grad
                if g is None:
                    continue
                nonfinite = (~(g.abs() < math.inf)).to(DType.float32).max()
                found = maximum(found, nonfinite)
                p.grad = (g * inv).to(g.dtype)
        self._found_inf[id(optimizer)] = found

    def step(self, optimizer) -> None:
        """Unscale the gradients (if ``unscale_`` was not called) and apply ``optimizer``'s update,
        or, if a gradient was not finite, keep every tensor the update rebinds as it was."""
        if not self._enabled:
            optimizer.step()
            return None
        if id(optimizer) not in self._found_inf:
            self.unscale_(optimizer)
        skip = self._found_inf[id(optimizer)] > 0.0
        before = {i: (t, Tensor(t._touch())) for i, t in _state_tensors(optimizer).items()}
        with no_grad():
            touched = optimizer._update()
            for t in touched:
                if id(t) not in before:
                    raise LuminaValueError(
                        f"GradScaler.step: {type(optimizer).__name__} rebinds a {t._value.type} tensor "
                        "that is neither a parameter, nor in its .state, nor one of its attributes")
                t.assign(where(skip, before[id(t)][1], t))
        if STATE.trace is None:
            realize(*touched)
        return None

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Set the scale for the next iteration (``_amp_update_scale_``): times ``backoff_factor``
        if any optimizer's step was skipped (the growth tracker restarts), else times
        ``growth_factor`` (unless that overflows float32) once ``growth_interval`` steps in a row
        were finite. ``new_scale`` sets it directly instead."""
        if not self._enabled:
            return
        with no_grad():
            if new_scale is not None:
                self._scale.assign(new_scale if isinstance(new_scale, Tensor) else float(new_scale))
            else:
                if not self._found_inf:
                    raise LuminaValueError("GradScaler.update: no inf checks were recorded; call "
                                           "step() (or unscale_()) first")
                found = None
                for f in self._found_inf.values():
                    found = f if found is None else maximum(found, f)
                overflow = found > 0.0
                scale64 = self._scale.to(DType.float64)
                shrunk = (scale64 * self._backoff_factor).to(DType.float32)
                grown = (scale64 * self._growth_factor).to(DType.float32)
                successful = self._growth_tracker + 1
                grow = ~overflow & (successful == self._growth_interval)
                keep_grown = grow & (grown.abs() < math.inf)
                self._scale.assign(where(overflow, shrunk, where(keep_grown, grown, self._scale)))
                self._growth_tracker.assign(where(overflow | grow, 0, successful))
        self._keep_in_trace()
        self._found_inf = {}
        if STATE.trace is None:
            realize(self._scale, self._growth_tracker)

    def _keep_in_trace(self) -> None:
        """Inside ``@lumina.compile`` the inf checks are traced tensors: the trace puts
        ``_found_inf`` back when it ends (a failed call must not leave them behind)."""
        if STATE.trace is not None:
            STATE.trace.keep(self, "_found_inf")

    def get_scale(self) -> float:
        """The current scale as a Python float (1.0 when disabled).

        Raises LuminaTraceError inside ``@lumina.compile``: the scale changes from call to call,
        and a trace would freeze the value it read (use ``scale(x)``, which stays in the graph)."""
        if STATE.trace is not None:
            raise LuminaTraceError("GradScaler.get_scale: the scale is only known when the compiled "
                                   "function runs; use scaler.scale(x) inside @lumina.compile")
        return float(self._scale.item()) if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": int(self._growth_tracker.item())}

    def load_state_dict(self, state: dict) -> None:
        self._scale.assign(float(state["scale"]))
        self._growth_factor = float(state["growth_factor"])
        self._backoff_factor = float(state["backoff_factor"])
        self._growth_interval = int(state["growth_interval"])
        self._growth_tracker.assign(int(state["_growth_tracker"]))
        realize(self._scale, self._growth_tracker)
