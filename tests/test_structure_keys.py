"""Structure keys (``Graph.structure_key``) with interned local keys, and the id-filtered weak
collections autodiff reads (``tracing.MarkedValues``, ``saved.SUPERSEDED``): equal keys only for
equal graphs, whatever the interning table forgot, and membership exactly a ``WeakSet``'s."""
from __future__ import annotations

import gc

import numpy as np

from lumina.ir import graph as B
from lumina.ir.dtypes import DType
from lumina.ir.graph import Graph, Structure, topo_sort
from lumina.ir.ops import Op
from lumina.ir.types import TensorType
from lumina.tracing import MarkedValues

F32 = DType.float32


def _graph(scale, n: int = 4, big: bool = False):
    x = B.emit(Op.INPUT, type=TensorType((n,), F32), name="x")
    if big:
        c = B.emit(Op.CONST, type=TensorType((n,), F32), value=np.full(n, scale, np.float32))
    else:
        c = B.const(scale, F32, (n,))
    return Graph.from_outputs([B.unary(Op.EXP, x * c)])


def test_keys_equal_exactly_for_equal_graphs():
    assert _graph(2.0).structure_key() == _graph(2.0).structure_key()
    assert _graph(2.0).structure_key() != _graph(3.0).structure_key()
    assert _graph(0.0).structure_key() != _graph(-0.0).structure_key()   # by their bits
    assert _graph(2.0, n=4).structure_key() != _graph(2.0, n=5).structure_key()


def test_large_constants_key_by_their_bytes_without_interning():
    n = 4096   # 16 KiB of float32: above the interning limit
    a, b = _graph(1.0, n, big=True), _graph(1.0, n, big=True)
    assert a.structure_key() == b.structure_key()
    assert a.structure_key() != _graph(1.5, n, big=True).structure_key()
    const = next(node for node in a.nodes if node.op is Op.CONST)
    assert isinstance(const.local_key, tuple)   # its description, held by the node only


def test_a_forgotten_interning_table_never_makes_two_graphs_equal(monkeypatch):
    monkeypatch.setattr(B, "MAX_LOCAL_KEYS", 4)
    monkeypatch.setattr(B, "_LOCAL_KEYS", {})
    keys = {}
    for scale in [float(s) for s in range(40)] * 2:   # every description seen again after a clear
        keys.setdefault(scale, set()).add(_graph(scale).structure_key())
    assert len(B._LOCAL_KEYS) <= 4
    for s, t in [(s, t) for s in keys for t in keys if s < t]:
        assert not keys[s] & keys[t], (s, t)


def test_the_walk_builds_the_key_the_graph_would():
    g = _graph(2.0)
    structure = Structure()
    order = topo_sort(g.outputs, structure)
    assert order == g.nodes
    assert Graph(order, g.inputs, g.outputs, structure=structure).structure_key() == \
        Graph(order, g.inputs, g.outputs).structure_key()


def test_marked_values_membership_is_a_weak_sets():
    class Box:
        pass
    marked = MarkedValues()
    kept = [Box() for _ in range(10)]
    for b in kept:
        marked.add(b)
    for _ in range(3000):   # members that die: the id set is rebuilt along the way
        marked.add(Box())
    gc.collect()
    others = [Box() for _ in range(3000)]
    assert all(b in marked for b in kept)
    assert not any(b in marked for b in others)
    assert len(marked) == len(kept)
    assert len(marked.ids) <= 2 * len(marked) + 1024 + 1


def test_a_pickled_graph_leaves_this_process_numbers_behind():
    import pickle
    g = _graph(2.0)
    key = g.structure_key()   # every node now holds its interned number
    copy = pickle.loads(pickle.dumps(g))
    assert all(n.local_key is None for n in copy.nodes)
    assert copy.structure_key() == key   # numbered again, in this process, the same way
