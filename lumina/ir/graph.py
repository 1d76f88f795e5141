"""The SSA data model: ``Value``, ``Node`` and ``Graph``.

A ``Node`` applies one primitive ``Op`` to operand values with named attributes and defines exactly
one SSA value, which is the node itself (``Value`` names the same class: read it as "the result of").
Nodes are immutable and refer to their operands directly, so any set of values is also a DAG; a
``Graph`` is a topologically ordered list of nodes with designated inputs (``input`` nodes) and
outputs. Passes build new graphs; values are compared by identity.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import numpy as np

from ..errors import LuminaIRError
from .dtypes import DType
from .ops import Op, infer_type
from .types import TensorType


class Node:
    """One primitive application ``op(*inputs, **attrs)`` and the SSA value it defines.

    Every primitive has exactly one result, so the node *is* its value (as in torch.fx): ``node.out``
    and ``value.node`` both return the object itself, ``Value`` is another name for this class, and
    no reference cycle ties a value to its node (so buffers bound to dead values are freed at once).
    ``attrs`` is a plain dict treated as immutable; for ``const`` it holds ``value`` (a NumPy
    array), for ``input`` its ``name``. Arithmetic operators build new nodes (same-shape operands,
    no broadcasting) so that rule tables (VJPs, simplifications) read like the math; ``==`` stays
    identity so values can key dicts.
    """

    __slots__ = ("op", "inputs", "attrs", "type", "local_key", "__weakref__")

    def __init__(self, op: Op, inputs: Sequence["Node"], attrs: dict, type: TensorType,
                 local_key: int | None = None):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = attrs
        self.type = type
        self.local_key = local_key   # its entry in structure keys, less its operands: see node_key

    def __getstate__(self):
        """Pickling and copying leave ``local_key`` out: it numbers descriptions in this process
        only (``node_key``), and another process would read it as another description."""
        return None, {"op": self.op, "inputs": self.inputs, "attrs": self.attrs, "type": self.type,
                      "local_key": None}

    @property
    def out(self) -> "Node":
        return self

    @property
    def node(self) -> "Node":
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    def __repr__(self) -> str:
        return f"<Value {self.type} = {self.op.value}>"

    # Operator sugar for rule tables; the constructors at the end of this module are the full vocabulary.
    def __add__(self, other): return add(self, other)
    def __sub__(self, other): return sub(self, other)
    def __mul__(self, other): return mul(self, other)
    def __truediv__(self, other): return div(self, other)
    def __neg__(self): return unary(Op.NEG, self)


Value = Node


def emit(op: Op, inputs: Sequence[Value] = (), type: TensorType | None = None, **attrs) -> Value:
    """Build a node, inferring its type from the op's rule (``input``/``const`` take ``type``)."""
    if type is None:
        type = infer_type(op, [v.type for v in inputs], attrs)
    return Node(op, inputs, attrs, type)


class Structure:
    """A topological order's structure as ``topo_sort`` builds it: ``flat``, each node's local key
    (``node_key``) followed by its operands' positions, and ``position``, id(node) -> its index in
    the order. ``Graph.structure_key`` reads it instead of walking the nodes again."""

    __slots__ = ("flat", "position")

    def __init__(self) -> None:
        self.flat: list = []
        self.position: dict[int, int] = {}


def topo_sort(outputs: Iterable[Value], structure: Structure | None = None,
              placed: list[Node] | None = None) -> list[Node]:
    """Every node reachable from ``outputs``, operands before users, depth first with operands
    left to right (iterative; deep chains are fine). ``structure`` (a fresh ``Structure``)
    receives the order's structure as it is built. ``placed``: a topological order of some of
    those nodes, closed under operands, with ``structure`` its structure: the result starts with
    it and skips its nodes (both are extended in place)."""
    order: list[Node] = [] if placed is None else placed
    done: set[int] = set() if placed is None else set(structure.position)
    add = done.add
    if structure is not None:
        position, put = structure.position, structure.flat.append
    for root in outputs:
        if id(root) in done:
            continue
        stack = [(root, iter(root.inputs))]
        while stack:
            node, pending = stack[-1]
            for v in pending:   # resumes where this node's operands were left
                if id(v) not in done:
                    stack.append((v, iter(v.inputs)))
                    break
            else:
                stack.pop()
                i = id(node)
                if i not in done:
                    add(i)
                    if structure is not None:   # (plain loops: a comprehension is a call before 3.12)
                        position[i] = len(order)
                        put(node.local_key or node_key(node))
                        for u in node.inputs:
                            put(position[id(u)])
                    order.append(node)
    return order


def _attr_key(v):
    """Attribute value ``v`` as an exact, hashable key (``Graph.structure_key``)."""
    t = type(v)
    if t is int or t is str:
        return v
    if t is tuple:
        for x in v:
            if type(x) is not int:
                return tuple(_attr_key(x) for x in v)
        return v   # a shape, axes or a permutation: its own key
    if isinstance(v, float):
        return ("f", v.hex())
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, tuple):
        return tuple(_attr_key(x) for x in v)
    if isinstance(v, np.ndarray):
        return ("a", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, list):
        return ("l",) + tuple(_attr_key(x) for x in v)
    return v


_LOCAL_KEYS: dict[tuple, int] = {}
_NEXT_LOCAL_KEY = itertools.count(1)
MAX_LOCAL_KEYS = 1 << 16
"""Local keys interned before the table starts afresh (numbers are never given twice, so a node
keeping an old number only misses a cache, never matches another structure)."""


_INTERNED_BYTES = 4096


def node_key(n: Node) -> int | tuple:
    """``n``'s op, shape, dtype and attributes (an input's less its name) as one negative int:
    its entry in ``Graph.structure_key`` without its operands. Equal descriptions get equal
    numbers (interned); the number is kept on the node (``Node.local_key``), which never changes.
    A constant of more than ``_INTERNED_BYTES`` bytes keys as its description itself (a tuple),
    so the table never holds a model's weights."""
    parts, large = [], False
    for k, v in n.attrs.items():   # (a plain loop: a comprehension is a call before 3.12)
        if v.__class__ is np.ndarray and v.nbytes > _INTERNED_BYTES:
            large = True
        if k != "name" or n.op is not Op.INPUT:
            parts.append((k, _attr_key(v)))
    t = n.type
    description = (n.op._value_, t.shape, t.dtype._value_, tuple(parts))
    if large:
        n.local_key = description   # a large constant: its bytes are not kept past its node
        return description
    key = _LOCAL_KEYS.get(description)
    if key is None:
        if len(_LOCAL_KEYS) >= MAX_LOCAL_KEYS:
            _LOCAL_KEYS.clear()
        key = _LOCAL_KEYS.setdefault(description, -next(_NEXT_LOCAL_KEY))
    n.local_key = key
    return key


class Graph:
    """A function in SSA form: ``nodes`` in topological order, ``inputs`` and ``outputs`` values.

    ``inputs`` are the outputs of ``input`` nodes, in call order; every ``input`` node in ``nodes``
    is among them. ``print(graph)`` shows the IR text; ``ir.parse`` reads it back.
    """

    def __init__(self, nodes: list[Node], inputs: list[Value], outputs: list[Value], name: str = "main",
                 structure: Structure | None = None):
        self.nodes = list(nodes)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.name = name
        self._structure = structure   # of ``nodes``, built with them (``from_outputs(keyed=True)``)

    @classmethod
    def from_outputs(cls, outputs: Sequence[Value], inputs: Sequence[Value] | None = None,
                     name: str = "main", keyed: bool = False,
                     after: tuple[list[Node], Structure] | None = None) -> "Graph":
        """The graph computing ``outputs``; ``inputs`` fixes the argument order (and may include
        unused inputs). ``keyed``: build its ``structure_key`` in the same walk (a graph looked up
        by it at once: an eager realisation). ``after``: the nodes start with this topological
        order of ancestors of ``outputs``, closed under operands, and its structure (both taken
        over; the graph is keyed). Raises LuminaIRError if an ``input`` node is reachable but not
        listed."""
        placed, structure = after if after is not None else (None, Structure() if keyed else None)
        nodes = topo_sort(list(outputs) + list(inputs or []), structure, placed)
        found = [n.out for n in nodes if n.op is Op.INPUT]
        if inputs is None:
            inputs = found
        else:
            listed = {id(v) for v in inputs}
            missing = [v for v in found if id(v) not in listed]
            if missing:
                raise LuminaIRError(f"graph {name}: outputs depend on inputs not listed as arguments: "
                                    f"{[v.node.attrs.get('name') for v in missing]}")
        return cls(nodes, list(inputs), list(outputs), name, structure)

    def users(self) -> dict[Value, list[Node]]:
        """For each value, the nodes that read it (graph outputs are not counted)."""
        table: dict[Value, list[Node]] = {n.out: [] for n in self.nodes}
        for n in self.nodes:
            for v in n.inputs:
                table[v].append(n)
        return table

    def __str__(self) -> str:
        from .printer import print_graph
        return print_graph(self)

    def as_text(self) -> str:
        return str(self)

    def structural_hash(self) -> str:
        """A hex digest equal for graphs that differ only in value numbering and input names."""
        from .printer import structural_hash
        return structural_hash(self)

    def structure_key(self) -> tuple:
        """A hashable key equal for graphs that differ only in value numbering and input names
        (what ``structural_hash`` digests), built without formatting any text: a few times
        cheaper, for in-memory caches (an eager realisation looks its executable up by it). Exact:
        constants by their bytes, floats by their bits (``-0.0`` is not ``0.0``, NaN is NaN)."""
        # One flat tuple of ints: each node's local key (negative, ``node_key``), then its
        # operands' positions (non-negative): hashed and compared in one C loop.
        structure = self._structure
        if structure is None:
            structure = Structure()
            position, put = structure.position, structure.flat.append
            for i, n in enumerate(self.nodes):
                position[id(n)] = i
                put(n.local_key or node_key(n))
                for u in n.inputs:
                    put(position[id(u)])
        position = structure.position
        return (self.name, tuple(structure.flat), tuple(position[id(v)] for v in self.inputs),
                tuple(position[id(v)] for v in self.outputs))

    def to_networkx(self):
        """A ``networkx.DiGraph``: vertex ``i`` is ``nodes[i]`` (op, shape, dtype, type, attrs),
        one edge per operand (see ``export.to_networkx``)."""
        from .export import to_networkx
        return to_networkx(self)

    def to_dot(self, partition=None, forward_outputs: int | None = None, kernel_names=None):
        """A ``graphviz.Digraph`` of this graph; a fusion ``partition`` of it draws kernels as
        clusters; forward and backward nodes are coloured apart (see ``export.to_dot``)."""
        from .export import to_dot
        return to_dot(self, partition, forward_outputs, kernel_names)


# ---- constructors over ``emit``
# Small constructors over ``emit`` shared by the front end, autodiff rules and passes.
#
# Binary helpers accept a Python scalar for either operand and turn it into a broadcast constant of the
# other operand's dtype; tensor operands must already have identical shapes (the IR never broadcasts).


def const(value, dtype: DType, shape: Sequence[int] = ()) -> Value:
    """A constant of ``shape``; a scalar ``value`` becomes ``expand(const [1, 1, ...])`` so no large
    array is ever materialised for a fill."""
    arr = np.asarray(value, dtype=dtype.numpy)
    shape = tuple(shape)
    if arr.shape == shape:
        return emit(Op.CONST, type=TensorType(shape, dtype), value=arr)
    if arr.ndim != 0:
        raise ValueError(f"const: value of shape {arr.shape} does not match {shape}")
    ones = (1,) * len(shape)
    return expand(emit(Op.CONST, type=TensorType(ones, dtype), value=arr.reshape(ones)), shape)


def _lift(x, like: Value) -> Value:
    return x if isinstance(x, Value) else const(x, like.dtype, like.shape)


def binary(op: Op, a, b) -> Value:
    if not isinstance(a, Value):
        a = _lift(a, b)
    b = _lift(b, a)
    return emit(op, (a, b))


def add(a, b): return binary(Op.ADD, a, b)
def sub(a, b): return binary(Op.SUB, a, b)
def mul(a, b): return binary(Op.MUL, a, b)
def div(a, b): return binary(Op.DIV, a, b)


def unary(op: Op, x: Value) -> Value:
    return emit(op, (x,))


def where(c: Value, a, b) -> Value:
    if not isinstance(a, Value):
        a = _lift(a, b)
    b = _lift(b, a)
    return emit(Op.WHERE, (c, a, b))


def cast(x: Value, dtype: DType) -> Value:
    return x if x.dtype is dtype else emit(Op.CAST, (x,), dtype=dtype)


def reshape(x: Value, shape: Sequence[int]) -> Value:
    shape = tuple(shape)
    return x if x.shape == shape else emit(Op.RESHAPE, (x,), shape=shape)


def permute(x: Value, perm: Sequence[int]) -> Value:
    perm = tuple(perm)
    return x if perm == tuple(range(x.type.rank)) else emit(Op.PERMUTE, (x,), perm=perm)


def expand(x: Value, shape: Sequence[int]) -> Value:
    shape = tuple(shape)
    return x if x.shape == shape else emit(Op.EXPAND, (x,), shape=shape)


def broadcast_to(x: Value, shape: Sequence[int]) -> Value:
    """NumPy broadcasting of ``x`` to ``shape`` (leading 1s added by reshape, then expand)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = len(shape) - x.type.rank
    return expand(reshape(x, (1,) * lead + x.shape), shape)


def reduce(op: Op, x: Value, axes: Sequence[int], keepdim: bool = False) -> Value:
    axes = tuple(sorted(a % max(x.type.rank, 1) for a in axes))
    if not axes:
        return x
    return emit(op, (x,), axes=axes, keepdim=keepdim)


def sum_to(x: Value, shape: Sequence[int]) -> Value:
    """Sum ``x`` over the axes that broadcasting added or grew, back to ``shape`` (broadcast VJP)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.type.rank - len(shape)
    grown = [lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1]
    x = reduce(Op.REDUCE_SUM, x, list(range(lead)) + grown, keepdim=True)
    return reshape(x, shape)


def dot(a: Value, b: Value, contract, batch=((), ())) -> Value:
    contract = (tuple(contract[0]), tuple(contract[1]))
    batch = (tuple(batch[0]), tuple(batch[1]))
    return emit(Op.DOT, (a, b), contract=contract, batch=batch)
