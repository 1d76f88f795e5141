"""Backward graphs replayed by the structure of their forward graph: eager ``backward`` without
the VJP rules.

An eager training loop differentiates a forward graph of the same structure at every step: only
the leaves' data change. ``cached_vjp`` keys ``transforms.autodiff.vjp``'s work by the forward
graph's ``Graph.structure_key`` (ops, types, attributes and wiring, constants by their bytes), the
values differentiated for and the nodes the walk treats specially (cut by ``differentiable``, or
passing their gradient through). The first call runs ``vjp`` and records the nodes it built as a
*template*: each new node's op, attributes, type and operands, an operand being a forward node (by
its position in the forward order), the seed cotangent or an earlier new node. A later call with
the same key builds the same nodes over the new forward graph directly: no rule runs, no type is
inferred again (one ConvNet training step: about 290 nodes, 2.0 -> 0.4 ms).

The replay is exact: every VJP rule is a function of the forward nodes' ops, attributes, types and
wiring alone, all of which the key holds, so the rules would build exactly the recorded nodes. A
``vjp`` whose result reads a node that is neither in the forward graph, nor the seed, nor built by
it (no rule does this today) is not recorded, and runs again at every call.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

from ..ir.graph import Graph, Node, Structure, Value, node_key
from ..ir.ops import Op
from .autodiff import vjp

MAX_TEMPLATES = 64
"""Backward templates kept (least recently used first out): one per distinct forward structure."""

@dataclass(frozen=True)
class _Template:
    """The nodes ``vjp`` built: ``(op, attrs, type, operand references, local structure key)`` in
    build order, and the references of the gradients it returned. A reference indexes the *pool*:
    the forward nodes in order, then the seed cotangent, then the nodes built so far."""
    nodes: tuple
    grads: tuple

    def build(self, forward: Sequence[Node], seed: Value) -> list[Value]:
        pool = list(forward)
        pool.append(seed)
        put = pool.append
        for op, attrs, type_, refs, local_key in self.nodes:
            put(Node(op, [pool[r] for r in refs], attrs, type_, local_key))
        return [pool[r] for r in self.grads]


_TEMPLATES: "OrderedDict[tuple, _Template | None]" = OrderedDict()


def cached_vjp(out: Value, seed: Value, wrt: Sequence[Value], forward: Sequence[Node],
               differentiable: Callable[[Value], bool], passthrough: Callable[[Value], bool] | None,
               structure: Structure | None = None) -> list[Value]:
    """``vjp([out], [seed], wrt, differentiable, passthrough, order=forward)``, replayed from a
    template when a forward graph of the same structure was differentiated before (see the module
    docstring). ``forward``: ``topo_sort([out])``, with its ``structure`` when the sort built it;
    every value of ``wrt`` is among its nodes. A seed that is itself a forward value
    (``y.backward(y)``) is not replayed. Raises what ``vjp`` raises."""
    key = _key(out, seed, wrt, forward, differentiable, passthrough, structure)
    if key is None:
        return vjp([out], [seed], wrt, differentiable=differentiable, passthrough=passthrough, order=forward)
    if key in _TEMPLATES:
        _TEMPLATES.move_to_end(key)
        template = _TEMPLATES[key]
        if template is not None:
            return template.build(forward, seed)
    grads = vjp([out], [seed], wrt, differentiable=differentiable, passthrough=passthrough, order=forward)
    _TEMPLATES[key] = _record(forward, seed, grads)
    if len(_TEMPLATES) > MAX_TEMPLATES:
        _TEMPLATES.popitem(last=False)
    return grads


def clear() -> None:
    """Forget every template (tests; the cache is otherwise bounded by ``MAX_TEMPLATES``)."""
    _TEMPLATES.clear()


def _key(out, seed, wrt, forward, differentiable, passthrough, structure) -> tuple | None:
    position = structure.position if structure is not None else {id(n): i for i, n in enumerate(forward)}
    if id(seed) in position:
        return None
    shape = Graph(forward, [], [out], structure=structure).structure_key()
    cut = tuple(i for i, n in enumerate(forward) if not differentiable(n))
    through = () if passthrough is None else tuple(i for i, n in enumerate(forward) if passthrough(n))
    return (shape, tuple(position[id(w)] for w in wrt), cut, through, seed.type)


def _record(forward: Sequence[Node], seed: Value, grads: list[Value]) -> _Template | None:
    """The template of the nodes reachable from ``grads`` that are neither forward nodes nor the
    seed, or None when one of them reads a node that is none of these."""
    position = {id(n): i for i, n in enumerate(forward)}
    position[id(seed)] = len(forward)   # the pool: forward nodes, the seed, the nodes built
    nodes: list[tuple] = []

    def ref(v: Value) -> int | None:
        return position.get(id(v))

    for root in grads:
        stack = [root]
        while stack:
            v = stack[-1]
            if ref(v) is not None:
                stack.pop()
                continue
            pending = [u for u in v.inputs if ref(u) is None]
            if pending:
                if any(not u.inputs and u.op is not Op.CONST for u in pending):
                    return None   # an input, random or size leaf outside the forward graph
                stack.extend(pending)
                continue
            stack.pop()
            position[id(v)] = len(forward) + 1 + len(nodes)
            nodes.append((v.op, v.attrs, v.type, tuple(ref(u) for u in v.inputs), v.local_key or node_key(v)))
    return _Template(tuple(nodes), tuple(ref(g) for g in grads))
