"""State shared by lazy tensors: bound buffers, the grad mode and the active ``compile`` trace.

A realised tensor is an ``input`` value whose data lives in ``BOUND`` (keyed weakly by the value, so
the data lives as long as any lazy graph that reads it). While ``@lumina.compile`` traces a
function, ``TRACE`` records the realised tensors the function touches and their original values, so
that state the function rebinds (parameters, optimizer slots, ``.grad``) becomes extra outputs.
"""
from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field

import numpy as np

from .ir.graph import Value

BOUND: "weakref.WeakKeyDictionary[Value, np.ndarray]" = weakref.WeakKeyDictionary()
# Values made under no_grad (or by detach) from tensors that require grad: autodiff stops there.
STOP_GRAD: "weakref.WeakSet[Value]" = weakref.WeakSet()
_names = itertools.count()
SERIALS = itertools.count()  # every Tensor's creation number


def fresh_name(prefix: str = "t") -> str:
    return f"{prefix}{next(_names)}"


@dataclass
class Trace:
    start: int = field(default_factory=lambda: next(SERIALS))     # tensors numbered below are state
    placeholders: set[int] = field(default_factory=set)          # id(value) of traced arguments
    touched: dict[int, tuple] = field(default_factory=dict)      # id(tensor) -> (tensor, value, grad)
    grad_guards: dict[int, tuple] = field(default_factory=dict)  # id(tensor) -> (tensor, grad was None)
    grads_written: set[int] = field(default_factory=set)

    def touch(self, tensor) -> None:
        """Remember a state tensor's value and grad as they were before the function ran."""
        if id(tensor) not in self.touched:
            self.touched[id(tensor)] = (tensor, tensor._value, tensor._grad)

    def read_grad(self, tensor) -> None:
        """The function depends on whether a state tensor's ``.grad`` is None (``backward``
        accumulates into an existing grad): a guard the compiled entry re-checks at each call."""
        if id(tensor) not in self.grads_written and id(tensor) not in self.grad_guards:
            self.grad_guards[id(tensor)] = (tensor, tensor._grad is None)

    def write_grad(self, tensor) -> None:
        self.touch(tensor)
        self.grads_written.add(id(tensor))


class _State:
    grad_enabled: bool = True
    trace: Trace | None = None


STATE = _State()
