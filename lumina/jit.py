"""``lumina.jit``: the few ``torch.jit`` helpers that model code calls while it runs eagerly.

Model files guard TorchScript-only paths with ``torch.jit.is_scripting()`` and mark methods the
TorchScript compiler should skip with ``@torch.jit.unused`` / ``@torch.jit.ignore``. lumina has no
TorchScript (``@lumina.compile`` traces instead), so nothing is ever being scripted: the guards
answer False and the markers return the function unchanged, which is what torch does outside
``torch.jit.script``. ``script`` and ``trace`` themselves raise, naming ``lumina.compile``.
Semantics: https://pytorch.org/docs/stable/jit.html
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from .errors import LuminaError

F = TypeVar("F", bound=Callable)


def is_scripting() -> bool:
    """``torch.jit.is_scripting``: False, always (lumina never runs TorchScript)."""
    return False


def is_tracing() -> bool:
    """``torch.jit.is_tracing``: False, always (``torch.jit.trace`` has no lumina counterpart;
    ``@lumina.compile`` traces without changing what model code sees)."""
    return False


def unused(fn: F) -> F:
    """``torch.jit.unused``: marks ``fn`` for the TorchScript compiler; returns ``fn`` unchanged."""
    return fn


def ignore(drop: Any = False, **kwargs) -> Any:
    """``torch.jit.ignore``, bare (``@ignore``) or called (``@ignore(drop=True)``): returns the
    function unchanged."""
    if callable(drop):
        return drop
    return lambda fn: fn


def annotate(the_type: Any, the_value: Any) -> Any:
    """``torch.jit.annotate``: a type hint for TorchScript; returns ``the_value``."""
    return the_value


def script(obj: Any, *args, **kwargs) -> Any:
    """``torch.jit.script`` has no lumina counterpart: raises LuminaError (use ``lumina.compile``)."""
    raise LuminaError(f"jit.script: lumina has no TorchScript; compile {getattr(obj, '__name__', obj)!r} "
                      "with @lumina.compile instead")


def trace(func: Any, *args, **kwargs) -> Any:
    """``torch.jit.trace`` has no lumina counterpart: raises LuminaError (use ``lumina.compile``)."""
    raise LuminaError(f"jit.trace: lumina has no TorchScript; compile {getattr(func, '__name__', func)!r} "
                      "with @lumina.compile instead")
