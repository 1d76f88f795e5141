"""What in-place updates superseded, for ``backward``: torch's check of saved tensors.

Each in-place update (``lumina.tensor.inplace``) records the values it replaced in ``SUPERSEDED``,
with the base tensor's version after it (torch's version counter, ``Tensor._version``). lumina's
VJP rules read forward values where torch saves tensors; when ``backward`` finds that the gradient
of a node recorded before an update reads the value a tensor (or a view of it) held before that
update, it raises ``LuminaGradError``, as torch does ("one of the variables needed for gradient
computation has been modified by an inplace operation"; ``check_saved``). The old value still
exists in lumina's SSA graph, so the gradient would be computable; raising keeps programs portable
between lumina and torch. The update's own nodes may read the old value (torch saves an in-place
op's original ``self``), unless an operand aliases the tensor (``y.mul_(y)``: torch raises). Which
values a gradient reads follows lumina's VJP rules, which for primitives match torch's saved
tensors (``exp`` its result, ``mul`` its operands, ``add`` nothing); composites may read a
different set. A leaf that requires grad and was updated between forward and backward gets the
gradient of its old value in ``.grad`` (``former_leaf``).

An update made without recording history (under ``no_grad``) to a tensor that has some leaves the
gradient passing to the old value unchanged: its ``where(True, new, old)`` node is in ``THROUGH``,
which ``transforms.autodiff.vjp`` reads.
"""
from __future__ import annotations

import weakref
from typing import Callable

from ..errors import LuminaGradError
from ..ir.graph import Value, emit, topo_sort
from ..ir.ops import Op
from ..tracing import MarkedValues
from ..transforms.autodiff import NON_DIFFERENTIABLE, VJP
from .aliases import VIEW_OPS
from .core import Tensor

# Values that tensors held before an in-place update: value -> (the tensor, its base's version after
# the update, the op, the update's own nodes). ``check_saved`` reads it; see the module docstring.
class _Superseded(weakref.WeakKeyDictionary):
    """A ``WeakKeyDictionary`` with ``find``: a lookup that first checks a set of the keys' ids, so
    the nodes of a graph that were never replaced (nearly all of them) cost no weak reference each.
    The set may hold ids of dead keys (a false positive costs the real lookup), never miss one."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[int] = set()

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.ids.add(id(key))
        if len(self.ids) > 2 * len(self) + 1024:   # forget the ids of dead keys
            self.ids = {id(k) for k in self.keys()}

    def find(self, v: Value):
        """``self.get(v)``."""
        return self.get(v) if id(v) in self.ids else None


SUPERSEDED = _Superseded()   # Value -> (the tensor, its version, the op, the update's own nodes)
# ``where(True, new, old)`` nodes of updates made without recording history to a tensor that has
# some: autodiff passes the gradient to ``old`` unchanged.
THROUGH = MarkedValues()


def _stale(v: Value) -> tuple | None:
    entry = SUPERSEDED.find(v)
    if entry is None:
        return None
    owner = entry[0]()
    if owner is not None and owner._value is v:   # restored (a trace puts state back)
        return None
    return entry


def former_leaf(v: Value) -> Tensor | None:
    """The leaf tensor (requiring grad) that held ``v`` before an in-place update, if any: its
    gradient through ``v`` still accumulates into its ``.grad``, as torch's does."""
    entry = SUPERSEDED.find(v)
    if entry is None:
        return None
    t = entry[0]()
    if t is None or t._view is not None or not (t.requires_grad and t._is_leaf) or t._value is v:
        return None
    return t


def check_saved(forward: list, grads: list[Value], wrt: list[Value],
                differentiable: Callable[[Value], bool]) -> None:
    """Raise LuminaGradError where torch would find a saved tensor modified in place: the gradient
    graph ``grads`` reads a value that a tensor held before an in-place update (or a view of one),
    for the VJP of a forward node recorded before that update. (The update's own nodes are exempt:
    torch saves the original ``self`` of an in-place op, unless an operand aliases it.)
    ``forward``: the nodes of the differentiated computation; ``wrt``: the values differentiated
    for; ``differentiable``: as ``vjp``'s."""
    if not SUPERSEDED:
        return
    stale: dict[int, tuple] = {}
    replaced = SUPERSEDED.ids
    for n in forward:
        entry = _stale(n) if id(n) in replaced else None
        if entry is not None:
            stale[id(n)] = entry
        elif n.op in VIEW_OPS and id(n.inputs[0]) in stale:   # a view shares its base's version
            stale[id(n)] = stale[id(n.inputs[0])]
    if not stale:
        return
    fwd = {id(n) for n in forward}
    read = {id(v) for n in topo_sort(grads) if id(n) not in fwd for v in n.inputs if id(v) in stale}
    if not read:
        return
    live = {id(w) for w in wrt}
    for n in forward:
        if id(n) not in live and n.op not in NON_DIFFERENTIABLE and differentiable(n) and \
                any(id(v) in live for v in n.inputs):
            live.add(id(n))
    for n in forward:
        if id(n) not in live or not any(id(v) in read for v in (*n.inputs, n)):
            continue
        for v in _vjp_reads(n, live):
            if id(v) in read and id(n) not in stale[id(v)][3]:
                _, ver, op, _ = stale[id(v)]
                raise LuminaGradError(
                    f"backward: one of the values needed for gradient computation has been modified by an "
                    f"in-place operation: the gradient of {n.op.value} {n.type} reads a {v.type} value "
                    f"that a tensor held before {op} updated it (its base is now at version {ver}); torch "
                    "raises here too. Do the in-place update after backward(), or on a clone()")


def _vjp_reads(n: Value, live: set) -> list[Value]:
    """The operands and result of forward node ``n`` that its VJP rule reads to give the gradients
    of its live operands (torch's saved tensors, in lumina's rules)."""
    if n.op in NON_DIFFERENTIABLE or not n.dtype.is_float or n in THROUGH:
        return []
    g = emit(Op.INPUT, type=n.type, name="cotangent")
    contributions = VJP[n.op](g, *n.inputs, n, **n.attrs)
    targets = {id(v): v for v in (*n.inputs, n)}
    stack = [c for v, c in zip(n.inputs, contributions) if c is not None and id(v) in live]
    found, seen = {}, set()
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if id(v) in targets:
            found[id(v)] = v
            continue
        stack.extend(v.inputs)
    return list(found.values())
