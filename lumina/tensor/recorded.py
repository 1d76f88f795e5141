"""Recorded composites: a pure composite op (a convolution, a pooling, a normalisation, a loss)
records the IR it emits once per signature, and later eager calls with that signature replay the
recording instead of running the op's Python again.

An eager training step spends most of its time recording small IR nodes through the front end's
Python: a 3x3 convolution is forty nodes and 0.7 ms of shape checks, window slicing and tensor
wrappers, all of which depend only on the operands' types and the op's other arguments. Replaying a
recording costs about a microsecond per node: each node is copied onto the new operands with its
type and attributes as recorded.

The **signature** is everything the emitted IR may depend on: each tensor argument's type (shape
and dtype), ``requires_grad`` and device; every other argument's value (numbers by their exact
bits); the grad mode; the autocast state; and what the op's own ``key`` adds (a pooling reads
whether its input is a channels-last value under a permute). A function is decorated only if its
IR depends on nothing else: no random numbers, no global state, no in-place update of an argument.
What a recording may hold is checked when it is made, and a call that breaks a rule is never
recorded (it runs as it is, each time):

* the outputs are new tensors, none of them an argument or a view of one;
* every node between the arguments and the outputs was made from the arguments or from constants
  (a realised tensor read from elsewhere, a random source: not recorded);
* no argument was updated in place.

Nodes made under ``no_grad`` or by ``detach`` (``tracing.STOP_GRAD``) are marked again on replay.
Only eager calls use recordings (a ``@lumina.compile`` trace runs the op: tracing is once per
signature anyway). ``LUMINA_RECORDED=0`` turns recordings off; ``LUMINA_RECORDED=check`` (the test
suite's setting) also runs the op at every call and raises ``LuminaError`` when its IR differs from
the replayed one: every recorded op the tests call is checked against the op itself.
"""
from __future__ import annotations

import functools
import os
from collections import OrderedDict
from typing import Callable

from ..errors import LuminaError
from ..ir.graph import Node, _attr_key, node_key
from ..ir.ops import Op
from ..tracing import STATE, STOP_GRAD
from .autocast import autocast_state
from .core import LEAF_OF, Tensor
from .saved import THROUGH

MODE = os.environ.get("LUMINA_RECORDED", "1")   # "0": off, "check": replay and compare with the op
SIGNATURES = 64          # recordings kept per op, least recently used dropped first
_NUMBERS = (int, float, bool, str, type(None))


class _Refused:
    """Marks a signature whose call broke a rule: the op runs as it is."""


REFUSED = _Refused()


class Recording:
    """The nodes an op emitted for one signature, in order: ``(op, operands, attrs, type,
    stop_grad, local structure key)`` (``ir.graph.node_key``), each operand an argument (``-1 - i``), an earlier node (``j``) or a shared
    constant node; and which nodes are the outputs, with their ``requires_grad``."""

    __slots__ = ("nodes", "outputs", "requires_grad", "single")

    def __init__(self, nodes: list, outputs: list[int], requires_grad: list[bool], single: bool):
        self.nodes, self.outputs, self.requires_grad, self.single = nodes, outputs, requires_grad, single

    def replay(self, values: list) -> tuple[Node, ...]:
        """The recorded nodes applied to ``values`` (the arguments' current values)."""
        made: list[Node] = []
        for op, operands, attrs, type_, stop, local_key in self.nodes:
            node = Node(op, [values[-1 - r] if r.__class__ is int and r < 0 else made[r] if r.__class__ is int else r
                             for r in operands], attrs, type_, local_key)
            if stop:
                STOP_GRAD.add(node)
            made.append(node)
        return tuple(made[i] for i in self.outputs)

    def key(self) -> tuple:
        """The recording's structure, shared constants by their value: equal for equal IR."""
        return (tuple((op, tuple(r if r.__class__ is int else ("const", _leaf_key(r)) for r in operands),
                       tuple((k, _attr_key(v)) for k, v in attrs.items()), type_, stop)
                      for op, operands, attrs, type_, stop, _ in self.nodes),
                tuple(self.outputs), tuple(self.requires_grad), self.single)


def _leaf_key(node: Node) -> tuple:
    """A shared (argument-free) node's structure: its subgraph of constants, by value."""
    return (node.op, node.type, tuple((k, _attr_key(v)) for k, v in node.attrs.items()),
            tuple(_leaf_key(v) for v in node.inputs))


def _signature(args: tuple, kwargs: dict, tensors: list) -> tuple | None:
    """The call's signature (see the module docstring), collecting its tensor arguments into
    ``tensors``; None for an argument of another kind (the call is not recorded)."""
    parts: list = [STATE.grad_enabled, autocast_state()]

    def add(a) -> bool:
        if isinstance(a, Tensor):
            tensors.append(a)
            parts.append((a._value.type, a.requires_grad, a._device_name))
        elif a.__class__ in _NUMBERS:
            parts.append((a.__class__, a.hex() if a.__class__ is float else a))
        elif a.__class__ in (tuple, list):
            parts.append(a.__class__)
            if not all(add(x) for x in a):
                return False
            parts.append(len(a))
        else:
            return False
        return True
    if not all(add(a) for a in args) or not all(add(k) and add(v) for k, v in kwargs.items()):
        return None
    return tuple(parts)


def _record(values: list, outputs: tuple) -> Recording | None:
    """The recording of the IR from ``values`` (the arguments' values) to ``outputs`` (tensors),
    or None where a rule is broken (see the module docstring)."""
    single = isinstance(outputs, Tensor)
    outs = (outputs,) if single else outputs
    if not isinstance(outs, tuple) or not all(isinstance(o, Tensor) for o in outs):
        return None
    position = {id(v): -1 - i for i, v in enumerate(values)}
    if any(id(o._value) in position or (o._view is not None and o._view.seen() is not None
                                        and id(o._view.seen()) in position) for o in outs):
        return None          # an argument, or a view of one
    nodes: list = []
    index: dict[int, int] = {}
    depends: dict[int, bool] = {}   # a node made from some argument (else: constants only)

    def visit(root: Node) -> bool:
        stack = [(root, False)]
        while stack:
            n, expanded = stack.pop()
            key = id(n)
            if key in position or key in depends:
                continue
            if not expanded:
                if n.op is Op.INPUT or n.op is Op.RAND or key in LEAF_OF or n in THROUGH:
                    return False     # data or state from elsewhere, random numbers, an in-place record
                stack.append((n, True))
                stack.extend((v, False) for v in reversed(n.inputs) if id(v) not in position and id(v) not in depends)
                continue
            depends[key] = any(id(v) in position or depends.get(id(v)) for v in n.inputs)
            if depends[key]:
                index[key] = len(nodes)
                nodes.append((n.op, tuple(position.get(id(v), index.get(id(v), v)) for v in n.inputs),
                              n.attrs, n.type, n in STOP_GRAD, n.local_key or node_key(n)))
        return True
    for o in outs:
        if not visit(o._value):
            return None
    if not all(depends.get(id(o._value)) for o in outs):
        return None          # an output made of constants only: shared, so not a new tensor each call
    return Recording(nodes, [index[id(o._value)] for o in outs], [o.requires_grad for o in outs], single)


def recorded(fn: Callable | None = None, *, key: Callable | None = None):
    """Decorator: record ``fn``'s IR per signature and replay it at later eager calls (see the
    module docstring). ``key(*args, **kwargs)`` adds to the signature what else the IR depends on
    (a hashable value). ``fn`` must be pure: its IR determined by the signature, no randomness,
    no global state, no in-place update of an argument."""
    if fn is None:
        return lambda f: recorded(f, key=key)
    table: OrderedDict = OrderedDict()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if MODE == "0" or STATE.trace is not None:
            return fn(*args, **kwargs)
        tensors: list[Tensor] = []
        sig = _signature(args, kwargs, tensors)
        if sig is None:
            return fn(*args, **kwargs)
        values = [t._touch() for t in tensors]
        # which arguments are one value: a recording of f(x, x) must not serve f(x, y)
        first = {}
        sig = (sig, tuple(first.setdefault(id(v), i) for i, v in enumerate(values)),
               None if key is None else key(*args, **kwargs))
        found = table.get(sig)
        if found is REFUSED:
            return fn(*args, **kwargs)
        if found is None or MODE == "check":
            result = fn(*args, **kwargs)
            made = None if any(t._value is not v for t, v in zip(tensors, values)) else _record(values, result)
            if found is None:
                table[sig] = REFUSED if made is None else made
                if len(table) > SIGNATURES:
                    table.popitem(last=False)
                return result
            if made is None or made.key() != found.key():
                raise LuminaError(f"{fn.__qualname__}: the recorded IR for this signature differs from what "
                                  "the op emits now: its IR depends on something its signature leaves out")
        try:
            table.move_to_end(sig)
        except KeyError:   # another thread dropped it meanwhile: this call still has it
            pass
        outs = [Tensor(v, rg) for v, rg in zip(found.replay(values), found.requires_grad)]
        return outs[0] if found.single else tuple(outs)
    wrapper.recordings = table
    return wrapper
