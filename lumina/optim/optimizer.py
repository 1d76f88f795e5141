"""The ``Optimizer`` base class and its parameter groups, PyTorch-style.

``step()`` records the update as tensor ops, so inside ``@lumina.compile`` it is part of the compiled
step; outside, it runs at once (the new parameters and state are realised together).

Two kinds of optimizer data, and how a compiled step sees them:

* **State** (momentum buffers, Adam moments, step counts) lives in realised tensors allocated when a
  parameter joins the optimizer, so a traced step only ever updates existing tensors: they become
  inputs and outputs of the compiled step.
* **Hyperparameters** live in ``param_groups``, a list of dicts as in ``torch.optim``. The learning
  rate is also held in a realised float64 scalar tensor per group (``group.tensor("lr")``), which
  the update reads: setting ``group["lr"]`` (by hand or from an ``lr_scheduler``) rebinds that
  tensor's value, so a compiled step follows a schedule without being traced again. The other
  hyperparameters (momentum, betas, eps, weight decay, flags) are read when the step is traced and
  are constants of the compiled step; changing one afterwards warns (the compiled step will not see
  it; compile a new step function).

Scalar coefficients that PyTorch computes in Python (double precision), such as Adam's bias
corrections, are computed here in float64 scalar ops and cast to the parameter's dtype, so float32
updates round like PyTorch's.
"""
from __future__ import annotations

import warnings
import weakref
from typing import Any, Iterable

import numpy as np

from ..errors import LuminaTraceError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from ..tensor import Tensor, no_grad, realize, tensor, zeros
from ..tracing import STATE
from .hooks import OptimizerHooks, wrap_hooked_methods

# Hyperparameters held in a realised scalar tensor that the compiled step reads at each call.
TENSOR_HYPERPARAMETERS = ("lr",)


class ParamGroup(dict):
    """One parameter group: ``"params"`` (a list of tensors) and the hyperparameters, as a dict.

    ``group["lr"]`` is a Python float, as in PyTorch; ``group.tensor("lr")`` is the float64 scalar
    tensor the update reads. Assigning ``group["lr"]`` updates both.
    """

    def __init__(self, values: dict, owner: "Optimizer"):
        super().__init__()
        self._owner = owner
        self._tensors: dict[str, Tensor] = {}
        self._traced = False          # set once a step reading this group has been traced
        for k, v in values.items():
            self[k] = v

    def tensor(self, key: str) -> Tensor:
        """The realised float64 scalar tensor that holds hyperparameter ``key`` (e.g. ``"lr"``)."""
        return self._tensors[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in TENSOR_HYPERPARAMETERS:
            value = _python_number(value, f"{type(self._owner).__name__}: param_groups[...][{key!r}]")
            if STATE.trace is not None:
                raise LuminaValueError(
                    f"{type(self._owner).__name__}: param_groups[...][{key!r}] was set inside "
                    "@lumina.compile; set it (or step the lr scheduler) outside the compiled step")
            scalar = tensor(np.asarray(value, dtype=np.float64))
            if key in self._tensors:
                self._tensors[key].assign(scalar)   # same dtype and shape: a rebinding, no graph
            else:
                self._tensors[key] = scalar
        elif self._traced and key in self._owner.defaults and key in self and _differs(self[key], value):
            warnings.warn(f"{type(self._owner).__name__}: param_groups[...][{key!r}] changed from "
                          f"{self[key]!r} to {value!r} after a step using it was compiled; the compiled "
                          f"step keeps {self[key]!r} (only {', '.join(TENSOR_HYPERPARAMETERS)} is read "
                          "at each call). Compile a new step function to use the new value.",
                          stacklevel=2)
        super().__setitem__(key, value)

    def __reduce_ex__(self, protocol):
        # pickle would set the items (through __setitem__) before the attributes it reads
        return (_new_group, (type(self),), (dict(self.__dict__), dict(self)))

    def __setstate__(self, state) -> None:
        attrs, items = state
        self.__dict__.update(attrs)
        dict.update(self, items)

    def update(self, *args, **kwargs) -> None:  # dict.update would bypass __setitem__
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]


def _new_group(cls):
    """An empty ``ParamGroup`` for pickle to fill (``ParamGroup.__setstate__``)."""
    return dict.__new__(cls)


def refuse_differentiable(differentiable: bool, op: str) -> None:
    """torch's ``differentiable=True`` (autograd through the update itself) is not supported:
    LuminaValueError naming ``op``."""
    if differentiable:
        raise LuminaValueError(f"{op}: differentiable=True (autograd through the optimizer step) is not supported")


def _python_number(value, what: str) -> float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise LuminaValueError(f"{what}: expected a number or a one-element tensor, got {value._value.type}")
        return float(value.item())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise LuminaTypeError(f"{what}: expected a number, got {type(value).__name__}")
    return float(value)


# How many settings of the hyperparameters keep a compiled eager update (the oldest is dropped).
_FUSED_UPDATES = 8
_FUSED: "weakref.WeakKeyDictionary[Optimizer, dict]" = weakref.WeakKeyDictionary()


def _frozen(group: "ParamGroup") -> tuple:
    """A group's parameters (by identity: one appended to ``group["params"]`` is a new key) and its
    hyperparameters other than the tensor ones, as a hashable key."""
    return (tuple(map(id, group["params"])),
            *((k, repr(v)) for k, v in group.items() if k != "params" and k not in TENSOR_HYPERPARAMETERS))


def _differs(a, b) -> bool:
    try:
        return bool(a != b)
    except Exception:  # noqa: BLE001  (values that do not compare are treated as changed)
        return True


class Optimizer(OptimizerHooks):
    """Base class: holds ``param_groups``, per-parameter ``state`` and ``defaults``.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs (``named_parameters()``; the
    names are kept in the group's ``"param_names"``, as torch 2.13 does), or of dicts
    (``{"params": [...], "lr": ...}``), one per parameter group, whose missing hyperparameters come
    from ``defaults``. Subclasses implement
    ``_init_state(p, group)`` (allocate a parameter's state slots) and ``_update_group(group)``
    (record the update, return the tensors it rebinds).

    Hooks (``register_step_pre_hook`` and the others of torch) come from ``OptimizerHooks``.

    Raises LuminaValueError for an empty parameter list, a parameter in two groups, named and
    unnamed parameters mixed, or an invalid hyperparameter; LuminaTypeError for a parameter that is
    not a leaf tensor requiring grad, ``params`` that is one tensor, or a group whose parameters
    are a set.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Tensor]] = {}
        self.param_groups: list[ParamGroup] = []
        if isinstance(params, Tensor):
            raise LuminaTypeError(f"{type(self).__name__}: params should be an iterable of tensors or dicts, "
                                  f"got a tensor ({params._value.type})")
        groups = list(params)
        if not groups:
            raise LuminaValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ---- parameter groups -------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group (``{"params": ..., hyperparameter: value}``); missing hyperparameters come from
        ``defaults``. Its parameters' state is allocated now."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise LuminaTypeError(f"{name}: a parameter group must be a dict with a 'params' key, got "
                                  f"{type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise LuminaTypeError(f"{name}: parameters must be an ordered collection (the order of a set "
                                  "changes between runs); got a set")
        params = [params] if isinstance(params, Tensor) else list(params)
        # torch 2.13 also takes (name, tensor) pairs, as from named_parameters(): kept in "param_names"
        names = [p[0] for p in params if isinstance(p, tuple) and len(p) == 2]
        if names and len(names) != len(params):
            raise LuminaValueError(f"{name}: all parameters of a group must be named or none: "
                                   f"{len(names)} of {len(params)} are (name, tensor) pairs")
        if names:
            params = [p[1] for p in params]
            param_group = {**param_group, "param_names": names}
        if self.param_groups and ("param_names" in self.param_groups[0]) != bool(names):
            raise LuminaValueError(f"{name}: all parameter groups must be named or none (a group of "
                                   "(name, tensor) pairs next to one of plain tensors)")
        offset = sum(len(g["params"]) for g in self.param_groups)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                desc = p._value.type if isinstance(p, Tensor) else type(p).__name__
                raise LuminaTypeError(f"{name}: parameter {offset + i} ({desc}) is not a leaf tensor "
                                      "that requires grad")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise LuminaValueError(f"{name}: a parameter appears more than once (in one group or in "
                                   "two groups)")
        values = dict(self.defaults)
        values.update({k: v for k, v in param_group.items() if k != "params"})
        self._check_hyperparameters(values)
        group = ParamGroup({"params": params, **values}, self)
        self.param_groups.append(group)
        for p in params:
            self._init_state(p, group)

    @property
    def params(self) -> list[Tensor]:
        """All parameters, group after group."""
        return [p for g in self.param_groups for p in g["params"]]

    def _check_hyperparameters(self, group: dict) -> None:
        """Raise LuminaValueError for an out-of-range hyperparameter (as ``torch.optim`` does)."""
        name = type(self).__name__
        lr = _python_number(group["lr"], f"{name}: lr")
        if not lr >= 0.0:
            raise LuminaValueError(f"{name}: invalid learning rate {lr} (expected >= 0)")
        for key in ("momentum", "weight_decay", "eps", "alpha", "dampening", "lr_decay",
                    "initial_accumulator_value", "momentum_decay"):
            if key in group and not group[key] >= 0.0:
                raise LuminaValueError(f"{name}: invalid {key} {group[key]} (expected >= 0)")
        if group.get("fused") and group.get("foreach"):
            raise LuminaValueError(f"{name}: `fused` and `foreach` cannot be `True` together")
        if "rho" in group and not 0.0 <= group["rho"] <= 1.0:
            raise LuminaValueError(f"{name}: invalid rho {group['rho']} (expected 0 <= rho <= 1)")
        if "betas" in group:
            for i, b in enumerate(group["betas"]):
                if not 0.0 <= b < 1.0:
                    raise LuminaValueError(f"{name}: invalid beta at index {i}: {b} (expected 0 <= beta < 1)")

    # ---- state ------------------------------------------------------------------------------------
    def _slot(self, p: Tensor, name: str, shape: tuple[int, ...] | None = None,
              dtype: DType | None = None, fill: float = 0.0) -> Tensor:
        """Parameter ``p``'s state tensor ``name``, allocated (filled with ``fill``, zeros by
        default; realised) on first use."""
        slots = self.state.setdefault(p, {})
        if name not in slots:
            shape = p.shape if shape is None else shape
            dtype = p.dtype if dtype is None else dtype
            value = np.full(shape, fill, dtype=dtype.numpy)
            slots[name] = tensor(value).to(p.device)   # where p lives
        return slots[name]

    def _init_state(self, p: Tensor, group: ParamGroup) -> None:
        """Allocate parameter ``p``'s state slots for ``group``'s settings (idempotent)."""

    # ---- the update -------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad``: to None, or (``set_to_none=False``) to zeros where a
        gradient exists. Inside ``@lumina.compile`` the zeros form depends on whether ``.grad`` is
        None, so the step is traced once more after the first call creates the gradients."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = zeros(p.shape, dtype=p.dtype)

    def step(self, closure=None):
        """Update the parameters from their ``.grad`` (parameters whose grad is None are skipped).

        ``closure`` (optional, as in PyTorch) re-evaluates the model and returns the loss; it runs
        with gradients enabled before the update and its result is returned."""
        loss = None
        if closure is not None:
            loss = closure()
        if STATE.trace is not None:
            with no_grad():
                self._update()
            return loss
        before = [(t, t._value) for t in self.params + [t for slots in self.state.values() for t in slots.values()]]
        try:
            self._eager_update()
        except BaseException:
            # the update could not be computed (a label out of range, found as the loss ran):
            # the parameters and the state keep their values, as after a raising torch step
            for t, v in before:
                t._set_value(v)
            raise
        return loss

    def _eager_update(self) -> None:
        """The update outside ``@lumina.compile``, run as one compiled function per setting of the
        hyperparameters (torch's ``fused=True`` in spirit): recording a few hundred small ops per
        step and keying their graph cost more than the update itself. The function reads the
        gradients, the state and the learning-rate tensors as a compiled step does, so its result
        is the eager update's. Hyperparameters changed between steps pick (or compile) another one,
        as eager code expects; ``group._traced`` stays as it was, so they do not warn."""
        devices = {p._device_name for p in self.params}
        key = tuple(_frozen(g) for g in self.param_groups)
        fused = _FUSED.setdefault(self, {})   # beside the optimizer: copy.deepcopy and pickle skip it
        update = fused.get(key)
        if key not in fused and len(devices) == 1:
            from ..compiled import compile   # noqa: PLC0415  (the front end, above the optimizers)
            owner = weakref.ref(self)        # the cached update keeps no optimizer alive

            def run_update() -> None:
                with no_grad():
                    owner()._update()
            if len(fused) >= _FUSED_UPDATES:
                fused.pop(next(iter(fused)))
            update = fused[key] = compile(run_update, device=devices.pop(), dynamic=False)
        traced = [g._traced for g in self.param_groups]
        try:
            if update is not None:
                # the gradients (and what waits for a realisation: the loss, BatchNorm statistics)
                # in one executable, before a first call's trace would read them one by one
                realize(*[p.grad for p in self.params if p.grad is not None])
                update()
                return
        except LuminaTraceError:   # an update that reads a value (a subclass's): recorded lazily
            fused[key] = None
        finally:
            for g, was in zip(self.param_groups, traced):
                g._traced = was
        with no_grad():
            realize(*self._update())

    def _update(self) -> list[Tensor]:
        """Record every group's update (call under no_grad); returns the tensors it rebinds, so a
        wrapper (``GradScaler.step``) can select between their old and new values."""
        touched = []
        for group in self.param_groups:
            if STATE.trace is not None:
                group._traced = True
            touched += self._update_group(group)
        return touched

    def _update_group(self, group: ParamGroup) -> list[Tensor]:
        raise NotImplementedError

    def _gradients(self, group: ParamGroup):
        """``(p, g)`` for each parameter of ``group`` that has a gradient, its state allocated;
        ``g`` is negated when the group maximizes."""
        for p in group["params"]:
            if p.grad is None:
                continue
            self._init_state(p, group)
            yield p, (-p.grad if group["maximize"] else p.grad)

    @staticmethod
    def _lr(group: ParamGroup) -> Tensor:
        """The group's learning rate: a float64 scalar tensor read at each call."""
        return group.tensor("lr")

    # ---- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {slot: array}}, "param_groups": [{..., "params": [index, ...]}]}``,
        PyTorch's layout (parameters numbered in group order), with NumPy copies as values."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {index[id(p)]: {k: np.array(t.numpy(), copy=True) for k, t in slots.items()}
                 for p, slots in self.state.items() if slots}
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load hyperparameters and state saved by ``state_dict`` (this class's or, for the same
        optimizer, ``torch.optim``'s: values may be arrays or torch tensors).

        State tensors keep their identity (their values are rebound), so compiled steps that read
        them stay valid. Raises LuminaValueError when the group sizes differ or a slot's shape does
        not match its parameter's state.
        """
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"]) for s, g in zip(groups, self.param_groups)):
            raise LuminaValueError(f"{name}: load_state_dict: the saved parameter groups have sizes "
                                   f"{[len(s['params']) for s in groups]}, this optimizer's "
                                   f"{[len(g['params']) for g in self.param_groups]}")
        saved_state = state_dict["state"]
        for saved, group in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = v
            for idx, p in zip(saved["params"], group["params"]):
                self._init_state(p, group)
                slots = saved_state.get(idx, saved_state.get(str(idx), {}))
                for key, t in self.state.get(p, {}).items():
                    if slots.get(key) is None:    # PyTorch saves a buffer not made yet as None
                        self._missing_slot(p, group, key, slots)
                        continue
                    arr = np.asarray(slots[key].detach().cpu() if hasattr(slots[key], "detach") else slots[key])
                    if arr.shape != t.shape:
                        raise LuminaValueError(f"{name}: load_state_dict: state {key!r} of parameter {idx} "
                                               f"has shape {list(arr.shape)}, expected {list(t.shape)}")
                    t.assign(tensor(np.asarray(arr, dtype=t.dtype.numpy)))

    def _missing_slot(self, p: Tensor, group: ParamGroup, key: str, saved: dict) -> None:
        """A state slot absent from a loaded state dict (torch saves no state for a parameter that
        has not been updated yet): reset to its initial value (subclasses may infer it)."""
        t = self.state[p][key]
        t.assign(tensor(np.full(t.shape, self._initial_value(key, group), t.dtype.numpy)))

    def _initial_value(self, key: str, group: ParamGroup) -> float:
        """The value state slot ``key`` starts at (zeros unless a subclass says otherwise)."""
        return 0.0

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


wrap_hooked_methods(Optimizer)   # the subclasses' own are wrapped by OptimizerHooks.__init_subclass__
