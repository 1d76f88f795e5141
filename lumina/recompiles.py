"""Why a compiled function traced again: ``LUMINA_LOG=recompiles``, as ``TORCH_LOGS=recompiles``.

A ``@lumina.compile`` function traces once per signature (each argument's kind, shape, dtype and
``requires_grad``, or a static argument's value), autocast state and compile options, and again
when the state it traced with no longer holds (a ``.grad`` appeared or went). Each trace after the
first is explained against the entry the function ran last, one line per difference::

    lumina.recompiles: step (train.py:41) traced again (2 signatures now): x: shape (32, 64) -> (17, 64)

The lines go to the ``lumina.recompiles`` logger (standard ``logging``); ``LUMINA_LOG`` (a
comma-separated list, read at import) set to ``recompiles`` or ``all`` sends them to stderr. The
function's ``cache_info()["recompiles"]`` keeps the last ``KEEP`` explanations either way.
"""
from __future__ import annotations

import inspect
import logging
import os
import sys

__all__ = ["LOG", "explain", "function_label", "KEEP"]

KEEP = 32
LOG = logging.getLogger("lumina.recompiles")

if {s.strip() for s in os.environ.get("LUMINA_LOG", "").split(",")} & {"recompiles", "all"}:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    LOG.addHandler(_handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False


def function_label(fn) -> str:
    """``name (file:line)`` of a Python function, or its name."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    try:
        return f"{name} ({os.path.basename(inspect.getsourcefile(fn))}:{inspect.getsourcelines(fn)[1]})"
    except (TypeError, OSError):
        return name


def _arg_names(fn, n: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i}" for i in range(n)]


def _dtype(d) -> str:
    return getattr(d, "name", str(d))


def _describe(entry) -> str:
    kind = entry[0]
    if kind == "static":
        return f"static {entry[2]!r}"
    return f"{kind} {_dtype(entry[2])}{list(entry[1])}" + (", requires_grad" if kind == "tensor" and entry[3] else "")


def explain(fn, old_key: tuple | None, new_key: tuple, stale_guards: list[str]) -> list[str]:
    """The differences between the key (signature, autocast state, options) of the entry ``fn``
    ran last and ``new_key``, in words; ``stale_guards``: the state that no longer holds when the
    keys are equal. Empty for a first trace."""
    if old_key is None:
        return []
    (old_sig, old_cast, old_opts), (new_sig, new_cast, new_opts) = old_key, new_key
    reasons = []
    if len(old_sig) != len(new_sig):
        reasons.append(f"{len(new_sig)} arguments instead of {len(old_sig)}")
    for name, a, b in zip(_arg_names(fn, len(new_sig)), old_sig, new_sig):
        if a == b:
            continue
        if a[0] != b[0] or a[0] == "static":
            reasons.append(f"{name}: {_describe(a)} -> {_describe(b)}")
            continue
        if a[1] != b[1]:
            symbolic = [k for k, d in enumerate(b[1]) if isinstance(d, str)]
            line = f"{name}: shape {_shape(a[1])} -> {_shape(b[1])}"
            if symbolic:
                line += f" (dim{'s' if len(symbolic) > 1 else ''} {', '.join(map(str, symbolic))} symbolic: one executable for every size)"
            reasons.append(line)
        if a[2] != b[2]:
            reasons.append(f"{name}: dtype {_dtype(a[2])} -> {_dtype(b[2])}")
        if a[0] == "tensor" and a[3] != b[3]:
            reasons.append(f"{name}: requires_grad {a[3]} -> {b[3]}")
    if old_cast != new_cast:
        reasons.append(f"autocast {old_cast or 'off'} -> {new_cast or 'off'}")
    if old_opts != new_opts:
        reasons.append(f"compile options {old_opts} -> {new_opts}")
    if not reasons:
        reasons = stale_guards or ["the state it traced with changed"]
    return reasons


def _shape(shape) -> str:
    """``(s0, 64)``: a signature's shape, symbols by name."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
