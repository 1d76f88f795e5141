"""State shared by lazy tensors: bound buffers, the grad mode and the active ``compile`` trace.

A realised tensor is an ``input`` value whose data lives in ``BOUND`` (keyed weakly by the value, so
the data lives as long as any lazy graph that reads it). While ``@lumina.compile`` traces a
function, ``STATE.trace`` records the realised tensors the function touches and their original
values, so that state the function rebinds (parameters, optimizer slots, ``.grad``) becomes extra
outputs.

Threads: the grad mode and the active trace are per thread (``STATE`` is a ``threading.local``),
as PyTorch keeps its grad mode; a new thread starts with gradients enabled and no trace. A trace
rebinds the state tensors it touches to traced values until it ends, so ``STATE_LOCK`` is held
for that time, and by compiled calls while they read and write back state (``compiled.py``).
"""
from __future__ import annotations

import copy
import itertools
import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from .ir.graph import Value

BOUND: "weakref.WeakKeyDictionary[Value, np.ndarray]" = weakref.WeakKeyDictionary()


class Rebinds:
    """How many times a value already in ``BOUND`` was given other data (``SharedTensor`` gives
    the old value of an array it updates in place a copy). A compiled call that remembers which
    array a state tensor's value had trusts it while this count is unchanged."""
    count = 0

    @classmethod
    def note(cls) -> None:
        cls.count += 1


class MarkedValues(weakref.WeakSet):
    """A ``WeakSet`` of values whose membership test first checks a set of its members' ids, so a
    graph's nodes (nearly none of them members) cost no weak reference each. The id set may hold
    ids of dead members (a false positive costs the real test), never miss one."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[int] = set()

    def add(self, item) -> None:
        super().add(item)
        self.ids.add(id(item))
        if len(self.ids) > 2 * len(self) + 1024:   # forget the ids of dead members
            self.ids = {id(v) for v in self}

    def __contains__(self, item) -> bool:
        return id(item) in self.ids and super().__contains__(item)


# Values made under no_grad (or by detach) from tensors that require grad: autodiff stops there.
STOP_GRAD = MarkedValues()
_names = itertools.count()
SERIALS = itertools.count()  # every Tensor's creation number


def fresh_name(prefix: str = "t") -> str:
    return f"{prefix}{next(_names)}"


@dataclass
class Trace:
    start: int = field(default_factory=lambda: next(SERIALS))     # tensors numbered below are state
    placeholders: set[int] = field(default_factory=set)          # id(value) of traced arguments
    touched: dict[int, tuple] = field(default_factory=dict)      # id(tensor) -> (tensor, value, grad)
    grad_guards: dict[int, tuple] = field(default_factory=dict)  # id(tensor) -> (tensor, grad_type)
    grads_written: set[int] = field(default_factory=set)
    grad_owner: dict[int, object] = field(default_factory=dict)  # id(grad tensor) -> tensor whose
    #                                                               .grad it was when read
    kept: dict[tuple, tuple] = field(default_factory=dict)       # (id(obj), attr) -> (obj, attr, copy)

    def touch(self, tensor) -> None:
        """Remember a state tensor's value and grad as they were before the function ran."""
        if id(tensor) not in self.touched:
            self.touched[id(tensor)] = (tensor, tensor._value, tensor._grad)

    def read_grad(self, tensor) -> None:
        """The function depends on whether a state tensor's ``.grad`` is None (``backward``
        accumulates into an existing grad) and on its type: a guard the compiled entry re-checks
        at each call."""
        if id(tensor) in self.grads_written:
            return
        if id(tensor) not in self.grad_guards:
            self.grad_guards[id(tensor)] = (tensor, grad_type(tensor))
        # The grad tensor read here is whatever ``tensor.grad`` holds at each call (a call writes
        # back a new grad tensor), not this object: remember whose grad it is.
        if tensor._grad is not None and tensor._grad._serial < self.start:
            self.grad_owner.setdefault(id(tensor._grad), tensor)

    def write_grad(self, tensor) -> None:
        self.touch(tensor)
        self.grads_written.add(id(tensor))

    def keep(self, obj, attr: str) -> None:
        """Python state that only means something inside the trace (it holds traced tensors):
        ``obj.attr`` (a shallow copy of it, as it is now) is put back when the trace ends, whether
        the function returned or raised."""
        if (id(obj), attr) not in self.kept:
            self.kept[(id(obj), attr)] = (obj, attr, copy.copy(getattr(obj, attr)))

    def restore(self) -> None:
        """Put every touched state tensor's value and grad, and every kept attribute, back as
        they were before the function ran."""
        for tensor, value, grad in self.touched.values():
            tensor._set_value(value)
            tensor._grad = grad
        for obj, attr, value in self.kept.values():
            setattr(obj, attr, value)


def grad_type(tensor):
    """``tensor.grad``'s type (shape and dtype), or None when it has no gradient."""
    return None if tensor._grad is None else tensor._grad._value.type


class _State(threading.local):
    """Per thread: the class attributes are each new thread's starting values."""
    grad_enabled: bool = True
    trace: Trace | None = None


STATE = _State()
STATE_LOCK = threading.RLock()
