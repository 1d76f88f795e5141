"""Optimizer hooks, as ``torch.optim.Optimizer``'s: functions called before and after ``step()``,
``state_dict()`` and ``load_state_dict()``.

``OptimizerHooks`` is a base of ``Optimizer``; it wraps those three methods, in ``Optimizer`` and in
every subclass that defines its own, so the hooks run whichever class implements them. Inside
``@lumina.compile`` the step hooks run when the step is traced (they are Python), not at every call.
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any, Callable

from ..errors import LuminaTypeError
from ..nn.module import RemovableHandle

HOOKED = ("step", "state_dict", "load_state_dict")


def _tables(opt) -> dict[str, OrderedDict]:
    """The optimizer's hook tables, made on first use (so a subclass need not call anything)."""
    tables = opt.__dict__.get("_hook_tables")
    if tables is None:
        tables = {name: OrderedDict() for name in ("step_pre", "step_post", "state_dict_pre",
                                                   "state_dict_post", "load_pre", "load_post")}
        opt.__dict__["_hook_tables"] = tables
    return tables


def _add(opt, table: str, hook: Callable, prepend: bool = False) -> RemovableHandle:
    entries = _tables(opt)[table]
    handle = RemovableHandle(entries)
    entries[handle.id] = hook
    if prepend:
        entries.move_to_end(handle.id, last=False)
    return handle


def _hooked_step(step):
    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        # as torch's, the hooks see the optimizer as args[0] and may replace it with the rest
        self = args[0]
        tables = _tables(self)
        for hook in list(tables["step_pre"].values()):
            out = hook(self, args, kwargs)
            if out is not None:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise LuminaTypeError(f"{type(self).__name__}.step: a step pre-hook must return None or "
                                          f"(args, kwargs), got {type(out).__name__}")
                args, kwargs = out
        result = step(*args, **kwargs)
        for hook in list(tables["step_post"].values()):
            hook(self, args, kwargs)
        return result
    wrapper._lumina_hooked = True
    return wrapper


def _hooked_state_dict(state_dict):
    @functools.wraps(state_dict)
    def wrapper(self):
        tables = _tables(self)
        for hook in list(tables["state_dict_pre"].values()):
            hook(self)
        result = state_dict(self)
        for hook in list(tables["state_dict_post"].values()):
            out = hook(self, result)
            result = result if out is None else out
        return result
    wrapper._lumina_hooked = True
    return wrapper


def _hooked_load_state_dict(load_state_dict):
    @functools.wraps(load_state_dict)
    def wrapper(self, state_dict):
        tables = _tables(self)
        for hook in list(tables["load_pre"].values()):
            out = hook(self, state_dict)
            state_dict = state_dict if out is None else out
        load_state_dict(self, state_dict)
        for hook in list(tables["load_post"].values()):
            hook(self)
    wrapper._lumina_hooked = True
    return wrapper


_WRAPPERS = {"step": _hooked_step, "state_dict": _hooked_state_dict, "load_state_dict": _hooked_load_state_dict}


def wrap_hooked_methods(cls: type) -> None:
    """Wrap the ``step`` / ``state_dict`` / ``load_state_dict`` that ``cls`` itself defines."""
    for name in HOOKED:
        method = cls.__dict__.get(name)
        if method is not None and not getattr(method, "_lumina_hooked", False):
            setattr(cls, name, _WRAPPERS[name](method))


class OptimizerHooks:
    """The ``register_*_hook`` methods of ``torch.optim.Optimizer``; each returns a
    ``RemovableHandle`` whose ``remove()`` unregisters the hook."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        wrap_hooked_methods(cls)

    def register_step_pre_hook(self, hook: Callable[[Any, tuple, dict], tuple[tuple, dict] | None]) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` before each ``step`` (``args[0]`` is the optimizer, as in
        torch); it may return new ``(args, kwargs)``."""
        return _add(self, "step_pre", hook)

    def register_step_post_hook(self, hook: Callable[[Any, tuple, dict], None]) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _add(self, "step_post", hook)

    def register_state_dict_pre_hook(self, hook: Callable[[Any], None], prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` before ``state_dict()``; ``prepend`` runs it before those registered."""
        return _add(self, "state_dict_pre", hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable[[Any, dict], dict | None],
                                      prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` after ``state_dict()``; it may return a replacement."""
        return _add(self, "state_dict_post", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable[[Any, dict], dict | None],
                                          prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` before ``load_state_dict``; it may return a replacement."""
        return _add(self, "load_pre", hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable[[Any], None], prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` after ``load_state_dict``."""
        return _add(self, "load_post", hook, prepend)
