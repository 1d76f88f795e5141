"""The IR: builder/emit, the text printer and parser (round trip), the structural hash, the verifier,
every op's shape/dtype rule and the networkx export.

Expected values come from NumPy (for constants) or from the definitions in ``lumina.ir.ops``'s
docstring; fixtures are hand-written IR text.
"""
from __future__ import annotations

import base64

import numpy as np
import pytest

import lumina
from lumina.ir.symbolic import Sym
from lumina.errors import LuminaError, LuminaIRError, LuminaShapeError, LuminaTypeError, LuminaValueError
from lumina.ir import DType, Graph, Node, Op, TensorType, emit, infer_type, parse, verify
from lumina.ir import graph as B

F32, F64, I32, I64, BOOL = DType.float32, DType.float64, DType.int32, DType.int64, DType.bool


def T(*shape, dtype=F32) -> TensorType:
    return TensorType(tuple(shape), dtype)


def inp(*shape, dtype=F32, name="x"):
    return emit(Op.INPUT, type=T(*shape, dtype=dtype), name=name)


def roundtrip(graph: Graph) -> Graph:
    text = str(graph)
    again = parse(text)
    assert str(again) == text
    assert again.structural_hash() == graph.structural_hash()
    verify(again)
    return again


# ---- graphs used by several tests ---------------------------------------------------------------

def every_op_graph(names=("x", "y", "i", "k")) -> Graph:
    """A graph that uses every primitive at least once, with small and big constants."""
    x = inp(2, 3, name=names[0])
    y = inp(3, 4, name=names[1])
    idx = inp(2, dtype=I32, name=names[2])
    key = inp(dtype=I64, name=names[3])
    vals = []
    for op in (Op.NEG, Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.ABS, Op.ERF):
        vals.append(B.unary(op, x))
    for op in (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM):
        vals.append(B.binary(op, x, vals[-1]))
    cmps = [emit(op, (x, vals[0])) for op in (Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE)]
    both = emit(Op.AND, (cmps[0], cmps[1]))
    either = emit(Op.OR, (both, emit(Op.NOT, (cmps[2],))))
    sel = emit(Op.WHERE, (either, x, vals[-1]))
    as_int = B.cast(sel, I64)
    s = B.reduce(Op.REDUCE_SUM, sel, (1,), keepdim=True)
    m = B.reduce(Op.REDUCE_MAX, as_int, (0,))
    r = B.reshape(sel, (3, 2))
    p = B.permute(r, (1, 0))
    e = B.expand(s, (2, 5))
    sl = emit(Op.SLICE, (e,), starts=(0, 1), stops=(2, 5), steps=(1, 2))
    pad = emit(Op.PAD, (sl,), pads=((1, 0), (0, 2)), value=float("-inf"))
    cat = emit(Op.CONCAT, (p, x, x), axis=1)
    checked = emit(Op.CHECK_INDEX, (idx,), size=3, low=-3, message="getitem: index {index} is out of range")
    g = emit(Op.GATHER, (y, checked), axis=0)
    d = B.dot(x, y, ((1,), (0,)))
    bd = B.dot(B.reshape(x, (1, 2, 3)), B.reshape(y, (1, 3, 4)), ((2,), (1,)), ((0,), (0,)))
    rnd = emit(Op.RAND, (key,), shape=(2, 2), dtype=F32)
    small = B.const(np.array([[1.5, -2.0, 0.25]], np.float32), F32, (1, 3))
    big = B.const(np.linspace(-1, 1, 60, dtype=np.float32).reshape(20, 3), F32, (20, 3))
    flags = B.const(np.array([True, False, True]), BOOL, (3,))
    ints = B.const(np.arange(5, dtype=np.int32), I32, (5,))
    n = Sym.symbol("n")   # a symbolic size: its value, and a type with it (i64[n])
    size = emit(Op.SIZE, size=n * 3)
    sized = B.expand(B.reshape(size, (1,)), (n,))
    outs = vals + cmps + [s, m, p, pad, cat, g, d, bd, rnd, small, big, flags, ints, size, sized]
    return Graph.from_outputs(outs, [x, y, idx, key])


# ---- printer / parser round trip ------------------------------------------------------------------

def test_round_trip_of_a_graph_using_every_op():
    g = verify(every_op_graph())
    used = {n.op for n in g.nodes}
    assert used == set(Op), f"fixture misses {set(Op) - used}"
    again = roundtrip(g)
    assert [n.op for n in again.nodes] == [n.op for n in g.nodes]
    assert [str(n.out.type) for n in again.nodes] == [str(n.out.type) for n in g.nodes]
    for a, b in zip(g.nodes, again.nodes):
        if a.op is Op.CONST:
            np.testing.assert_array_equal(a.attrs["value"], b.attrs["value"])
            assert b.attrs["value"].dtype == a.attrs["value"].dtype


def test_printed_line_format():
    x = inp(256, 64)
    y = inp(64, 512, name="y")
    d = B.dot(x, y, ((1,), (0,)))
    text = str(Graph.from_outputs([d], [x, y]))
    lines = text.splitlines()
    assert lines[0] == "graph main {"
    assert lines[-1] == "}"
    assert "  %2:f32[256,512] = dot %0, %1 {contract=((1,), (0,)), batch=((), ())}" in lines
    assert "  return %2" in lines


def test_big_constant_prints_as_base64_and_round_trips_exactly():
    values = np.random.default_rng(0).standard_normal((8, 9)).astype(np.float32)
    c = B.const(values, F32, values.shape)
    g = Graph.from_outputs([B.unary(Op.EXP, c)])
    text = str(g)
    expected = base64.b64encode(values.tobytes()).decode()
    assert f"b64'{expected}'" in text
    again = roundtrip(g)
    np.testing.assert_array_equal(again.nodes[0].attrs["value"], values)


@pytest.mark.parametrize("values", [
    np.array([np.inf, 1.0, -np.inf], np.float32),
    np.array(np.nan, np.float64),
    np.array([0.1, -0.0, 1e-30, 3.4e38], np.float32),
    np.arange(40, dtype=np.int64).reshape(5, 8) - 20,
    np.array([[True, False], [False, True]]),
    (np.arange(30) % 3 == 0),
    np.array(2**62 + 7, np.int64),
    np.array([-(2**31), 2**31 - 1], np.int32),
])
def test_constants_of_every_dtype_round_trip_bit_exactly(values):
    dtype = lumina.ir.to_dtype(values.dtype)
    g = Graph.from_outputs([B.const(values, dtype, values.shape)])
    again = roundtrip(g)
    got = again.nodes[0].attrs["value"]
    assert got.dtype == values.dtype
    assert got.shape == values.shape
    assert got.tobytes() == values.tobytes()


def test_argument_order_different_from_node_order_round_trips():
    x, y = inp(3, name="x"), inp(3, name="y")
    g = Graph.from_outputs([x - y], [y, x])
    assert "# args: %1, %0" in str(g)
    again = roundtrip(g)
    assert [n.attrs["name"] for n in (v.node for v in again.inputs)] == ["y", "x"]
    # The argument order is part of the signature, so it is part of the hash.
    assert Graph.from_outputs([x - y], [x, y]).structural_hash() != g.structural_hash()


def test_unused_inputs_and_repeated_outputs_round_trip():
    x, unused = inp(2, name="x"), inp(4, 4, name="unused")
    e = B.unary(Op.EXP, x)
    g = Graph.from_outputs([e, e, x], [x, unused])
    again = roundtrip(g)
    assert len(again.inputs) == 2
    assert again.outputs[0] is again.outputs[1]
    assert again.outputs[2] is again.inputs[0]


def test_round_trip_of_traced_programs_before_and_after_the_passes():
    lumina.manual_seed(0)
    model = lumina.nn.Sequential(lumina.nn.Linear(6, 8), lumina.nn.GELU(), lumina.nn.Linear(8, 3))
    opt = lumina.optim.AdamW(model.parameters(), lr=1e-2)

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = lumina.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss, lumina.rand(2) * loss

    lowered = step.lower(np.ones((4, 6), np.float32), np.zeros(4, np.int64))
    for text in (lowered.as_text("input"), lowered.as_text("optimized")):
        g = verify(parse(text))
        assert str(g) == text
        assert g.structural_hash() == parse(text).structural_hash()
    assert lowered.graph.structural_hash() == parse(lowered.as_text("input")).structural_hash()


# ---- hand-written fixtures ------------------------------------------------------------------------

def test_parse_hand_written_fixture_with_base64_pad_minus_inf_bool_and_int():
    table = np.arange(20, dtype=np.float32).reshape(4, 5) / 4
    mask = np.array([True, False, True, True, False, False, True, False, True, True,
                     False, True, True, False, False, True, False, True, False, True])
    text = f"""
    graph fixture {{
      %0:f32[4,5] = input {{name='x'}}
      %1:i64[3] = input {{name='idx'}}
      %2:f32[4,5] = const {{value=b64'{base64.b64encode(table.tobytes()).decode()}'}}
      %3:bool[20] = const {{value=b64'{base64.b64encode(mask.tobytes()).decode()}'}}
      %4:f32[4,5] = add %0, %2
      %5:f32[6,8] = pad %4 {{pads=((1, 1), (0, 3)), value=-inf}}
      %6:f32[3,5] = gather %4, %1 {{axis=0}}
      %7:i32[4,5] = cast %4 {{dtype=i32}}
      %8:i32[2] = const {{value=[-3, 7]}}
      %9:bool[4,5] = reshape %3 {{shape=(4, 5)}}
      %10:bool[4,5] = not %9
      %11:i32[4] = reduce_max %7 {{axes=(1,), keepdim=False}}
      return %5, %6, %10, %11, %8
    }}
    """
    g = verify(parse(text))
    assert g.name == "fixture"
    assert len(g.nodes) == 12 and len(g.outputs) == 5
    np.testing.assert_array_equal(g.nodes[2].attrs["value"], table)
    np.testing.assert_array_equal(g.nodes[3].attrs["value"], mask)
    assert g.nodes[3].attrs["value"].dtype == np.bool_
    pad = g.nodes[5]
    assert pad.op is Op.PAD and pad.attrs["value"] == float("-inf")
    assert pad.attrs["pads"] == ((1, 1), (0, 3))
    assert g.nodes[7].attrs["dtype"] is I32
    assert g.nodes[8].attrs["value"].dtype == np.int32
    assert [str(v.type) for v in g.outputs] == ["f32[6,8]", "f32[3,5]", "bool[4,5]", "i32[4]", "i32[2]"]
    # and the printer writes back the same lines (modulo the fixture's indentation)
    assert [ln.strip() for ln in str(g).splitlines()] == [ln.strip() for ln in text.strip().splitlines()]


def test_parse_scalar_and_rand_fixture():
    text = """
    graph r {
      %0:i64[] = input {name='key'}
      %1:f64[3,2] = rand %0 {shape=(3, 2), dtype=f64}
      %2:f64[] = const {value=2.5}
      %3:f64[1,1] = reshape %2 {shape=(1, 1)}
      %4:f64[3,2] = expand %3 {shape=(3, 2)}
      %5:f64[3,2] = mul %1, %4
      return %5
    }
    """
    g = verify(parse(text))
    assert g.nodes[1].attrs == {"shape": (3, 2), "dtype": F64}
    assert g.nodes[2].attrs["value"].shape == () and g.nodes[2].attrs["value"] == 2.5


MALFORMED = {
    "no-return": "graph g {\n  %0:f32[2] = input {name='x'}\n}",
    "unknown-op": "graph g {\n  %0:f32[2] = input {name='x'}\n  %1:f32[2] = frobnicate %0\n  return %1\n}",
    "undefined-operand": "graph g {\n  %0:f32[2] = input {name='x'}\n  %1:f32[2] = exp %7\n  return %1\n}",
    "unknown-dtype": "graph g {\n  %0:q32[2] = input {name='x'}\n  return %0\n}",
    "garbage-line": "graph g {\n  %0:f32[2] = input {name='x'}\n  this is not IR\n  return %0\n}",
    "no-header": "%0:f32[2] = input {name='x'}\nreturn %0",
    "undefined-output": "graph g {\n  %0:f32[2] = input {name='x'}\n  return %3\n}",
    "undefined-argument": "graph g {\n  %0:f32[2] = input {name='x'}\n  return %0  # args: %4\n}",
    "value-defined-twice": "graph g {\n  %0:f32[2] = input {name='x'}\n  %1:f32[2] = exp %0\n"
                           "  %1:f32[2] = neg %0\n  return %1\n}",
}


@pytest.mark.parametrize("text", list(MALFORMED.values()), ids=list(MALFORMED))
def test_parse_rejects_malformed_text(text):
    # parse: "Raises LuminaIRError naming the offending line" -- never a bare KeyError
    with pytest.raises(LuminaIRError):
        parse(text)


def test_parse_rejects_a_wrong_declared_type():
    text = """
    graph g {
      %0:f32[2,3] = input {name='x'}
      %1:f32[3,2] = exp %0
      return %1
    }
    """
    with pytest.raises(LuminaIRError, match="f32\\[3,2\\]"):
        parse(text)
    wrong_dtype = text.replace("%1:f32[3,2] = exp", "%1:f64[2,3] = exp")
    with pytest.raises(LuminaIRError, match="f64\\[2,3\\]"):
        parse(wrong_dtype)


def test_parse_rejects_operands_that_break_the_op_rule():
    text = """
    graph g {
      %0:f32[2,3] = input {name='x'}
      %1:f32[3,2] = input {name='y'}
      %2:f32[2,3] = add %0, %1
      return %2
    }
    """
    with pytest.raises(LuminaIRError, match="add"):
        parse(text)


# ---- structural hash ------------------------------------------------------------------------------

def _chain(shape=(2, 3), dtype=F32, names=("a", "b"), pad_value=0.0, axes=(1,), keepdim=False):
    x = inp(*shape, dtype=dtype, name=names[0])
    y = inp(*shape, dtype=dtype, name=names[1])
    s = B.reduce(Op.REDUCE_SUM, x * y, axes, keepdim)
    p = emit(Op.PAD, (x,), pads=((0, 1),) * len(shape), value=pad_value)
    return Graph.from_outputs([s, p], [x, y])


def test_hash_equal_for_equal_graphs_and_for_renamed_inputs():
    base = _chain()
    assert base.structural_hash() == _chain().structural_hash()
    renamed = _chain(names=("first", "second"))
    assert str(renamed) != str(base)
    assert renamed.structural_hash() == base.structural_hash()
    assert every_op_graph().structural_hash() == every_op_graph(("p", "q", "r", "s")).structural_hash()


@pytest.mark.parametrize("variant", [
    dict(pad_value=1.0),                 # attribute value
    dict(pad_value=float("-inf")),
    dict(axes=(0,)),                     # attribute
    dict(axes=(0, 1)),
    dict(keepdim=True),
    dict(shape=(3, 2)),                  # shape
    dict(shape=(2, 4)),
    dict(dtype=F64),                     # dtype
])
def test_hash_differs_when_an_attribute_shape_or_dtype_differs(variant):
    assert _chain(**variant).structural_hash() != _chain().structural_hash()


def test_hash_differs_for_a_different_constant_value():
    def g(v):
        x = inp(3)
        return Graph.from_outputs([x + B.const(np.array(v, np.float32), F32, (3,))])
    assert g([1, 2, 3]).structural_hash() == g([1, 2, 3]).structural_hash()
    assert g([1, 2, 3]).structural_hash() != g([1, 2, 4]).structural_hash()


# ---- verifier -------------------------------------------------------------------------------------

def test_verify_accepts_good_graphs():
    for g in (every_op_graph(), _chain(), parse(str(every_op_graph()))):
        assert verify(g) is g


def test_verify_rejects_use_before_definition():
    x = inp(2, 2)
    e = B.unary(Op.EXP, x)
    t = B.unary(Op.TANH, e)
    g = Graph([x.node, t.node, e.node], [x], [t])
    with pytest.raises(LuminaIRError, match="before"):
        verify(g)


def test_verify_rejects_a_value_defined_twice():
    x = inp(2)
    e = B.unary(Op.EXP, x)
    with pytest.raises(LuminaIRError):
        verify(Graph([x.node, e.node, e.node], [x], [e]))


def test_verify_rejects_operand_shape_mismatch():
    a, b = inp(2, 3, name="a"), inp(3, 2, name="b")
    bad = Node(Op.ADD, (a, b), {}, T(2, 3))
    with pytest.raises(LuminaIRError) as info:
        verify(Graph([a.node, b.node, bad], [a, b], [bad.out]))
    assert "add" in str(info.value)
    assert "f32[2,3]" in str(info.value) and "f32[3,2]" in str(info.value)


def test_verify_rejects_a_wrong_node_type():
    x = inp(2, 3)
    bad = Node(Op.EXP, (x,), {}, T(2, 3, dtype=F64))
    with pytest.raises(LuminaIRError, match="f64\\[2,3\\]"):
        verify(Graph([x.node, bad], [x], [bad.out]))


def test_verify_rejects_a_constant_whose_value_does_not_fit_its_type():
    bad = Node(Op.CONST, (), {"value": np.zeros((3,), np.float32)}, T(2, 2))
    with pytest.raises(LuminaIRError):
        verify(Graph([bad], [], [bad.out]))


def test_verify_rejects_inputs_that_do_not_match_input_nodes_and_undefined_outputs():
    x, y = inp(2, name="x"), inp(2, name="y")
    s = x + y
    with pytest.raises(LuminaIRError):
        verify(Graph([x.node, y.node, s.node], [x], [s]))
    stray = B.unary(Op.EXP, x)
    with pytest.raises(LuminaIRError):
        verify(Graph([x.node, y.node, s.node], [x, y], [stray]))


def test_from_outputs_rejects_an_unlisted_input():
    x, y = inp(2, name="x"), inp(2, name="y")
    with pytest.raises(LuminaIRError, match="y"):
        Graph.from_outputs([x + y], [x])


# ---- shape/dtype rules ----------------------------------------------------------------------------

BAD = [
    # (op, operand types, attrs, expected error class)
    (Op.EXP, [T(2, dtype=I32)], {}, LuminaTypeError),
    (Op.LOG, [T(2, dtype=BOOL)], {}, LuminaTypeError),
    (Op.NOT, [T(2)], {}, LuminaTypeError),
    (Op.NEG, [T(2, dtype=BOOL)], {}, LuminaTypeError),
    (Op.NEG, [T(2), T(2)], {}, LuminaValueError),                              # arity
    (Op.ADD, [T(2, 3), T(3, 2)], {}, LuminaShapeError),
    (Op.ADD, [T(2, 3), T(3)], {}, LuminaShapeError),
    (Op.MUL, [T(2, 3), T(2, 3, dtype=F64)], {}, LuminaTypeError),
    (Op.SUB, [T(2, dtype=BOOL), T(2, dtype=BOOL)], {}, LuminaTypeError),
    (Op.POW, [T(2, dtype=I32), T(2, dtype=I32)], {}, LuminaTypeError),
    (Op.AND, [T(2), T(2)], {}, LuminaTypeError),
    (Op.LT, [T(4), T(5)], {}, LuminaShapeError),
    (Op.WHERE, [T(2, dtype=BOOL), T(2), T(3)], {}, LuminaShapeError),
    (Op.WHERE, [T(2), T(2), T(2)], {}, LuminaTypeError),
    (Op.WHERE, [T(2, dtype=BOOL), T(2), T(2, dtype=I32)], {}, LuminaTypeError),
    (Op.REDUCE_SUM, [T(2, 3)], dict(axes=(2,), keepdim=False), LuminaValueError),
    (Op.REDUCE_SUM, [T(2, 3)], dict(axes=(1, 0), keepdim=False), LuminaValueError),
    (Op.REDUCE_MAX, [T(2, 3)], dict(axes=(-1,), keepdim=False), LuminaValueError),
    (Op.REDUCE_SUM, [T(2, 3, dtype=BOOL)], dict(axes=(0,), keepdim=False), LuminaTypeError),
    (Op.RESHAPE, [T(2, 3)], dict(shape=(4, 2)), LuminaShapeError),
    (Op.RESHAPE, [T(2, 3)], dict(shape=(-1, 6)), LuminaShapeError),
    (Op.PERMUTE, [T(2, 3)], dict(perm=(0, 0)), LuminaValueError),
    (Op.PERMUTE, [T(2, 3)], dict(perm=(1, 0, 2)), LuminaValueError),
    (Op.EXPAND, [T(2, 3)], dict(shape=(4, 3)), LuminaShapeError),
    (Op.EXPAND, [T(3)], dict(shape=(2, 3)), LuminaShapeError),
    (Op.SLICE, [T(5)], dict(starts=(0,), stops=(6,), steps=(1,)), LuminaValueError),
    (Op.SLICE, [T(5)], dict(starts=(3,), stops=(2,), steps=(1,)), LuminaValueError),
    (Op.SLICE, [T(5)], dict(starts=(0,), stops=(5,), steps=(0,)), LuminaValueError),
    (Op.SLICE, [T(5, 2)], dict(starts=(0,), stops=(5,), steps=(1,)), LuminaValueError),
    (Op.PAD, [T(2, 3)], dict(pads=((0, 1),), value=0.0), LuminaValueError),
    (Op.PAD, [T(2, 3)], dict(pads=((0, 1), (-1, 0)), value=0.0), LuminaValueError),
    (Op.CONCAT, [T(2, 3), T(3, 2)], dict(axis=0), LuminaShapeError),
    (Op.CONCAT, [T(2, 3), T(2, 3, dtype=I64)], dict(axis=0), LuminaShapeError),
    (Op.CONCAT, [T(2, 3), T(2, 3)], dict(axis=2), LuminaValueError),
    (Op.CONCAT, [], dict(axis=0), LuminaValueError),
    (Op.GATHER, [T(4, 3), T(2)], dict(axis=0), LuminaTypeError),
    (Op.GATHER, [T(4, 3), T(2, dtype=I64)], dict(axis=2), LuminaValueError),
    (Op.DOT, [T(32, 64), T(48, 10)], dict(contract=((1,), (0,)), batch=((), ())), LuminaShapeError),
    (Op.DOT, [T(2, 3, 4), T(5, 4, 6)], dict(contract=((2,), (1,)), batch=((0,), (0,))), LuminaShapeError),
    (Op.DOT, [T(2, 3), T(3, 4, dtype=F64)], dict(contract=((1,), (0,)), batch=((), ())), LuminaTypeError),
    (Op.DOT, [T(2, 3, dtype=BOOL), T(3, 4, dtype=BOOL)], dict(contract=((1,), (0,)), batch=((), ())),
     LuminaTypeError),
    (Op.DOT, [T(2, 3), T(3, 4)], dict(contract=((2,), (0,)), batch=((), ())), LuminaValueError),
    (Op.DOT, [T(2, 3), T(3, 4)], dict(contract=((1,), ()), batch=((), ())), LuminaValueError),
    (Op.RAND, [T(dtype=I32)], dict(shape=(3,), dtype=F32), LuminaTypeError),
    (Op.RAND, [T(2, dtype=I64)], dict(shape=(3,), dtype=F32), LuminaTypeError),
    (Op.RAND, [T(dtype=I64)], dict(shape=(3,), dtype=I64), LuminaTypeError),
]


@pytest.mark.parametrize("op, types, attrs, cls", BAD, ids=[f"{b[0].value}-{i}" for i, b in enumerate(BAD)])
def test_shape_rules_reject_bad_operands(op, types, attrs, cls):
    with pytest.raises(cls) as info:
        infer_type(op, types, attrs)
    msg = str(info.value)
    assert isinstance(info.value, LuminaError)
    assert msg.startswith(op.value), msg
    for t in types:
        assert str(t) in msg, msg
    # emit applies the same rule to real values
    operands = [emit(Op.INPUT, type=t, name=f"a{i}") for i, t in enumerate(types)]
    with pytest.raises(cls):
        emit(op, operands, **attrs)


def test_dot_inner_dimension_message_names_both_shapes():
    with pytest.raises(LuminaShapeError) as info:
        B.dot(inp(32, 64), inp(48, 10, name="w"), ((1,), (0,)))
    msg = str(info.value)
    assert "dot" in msg and "inner" in msg
    assert "f32[32,64]" in msg and "f32[48,10]" in msg
    assert "64" in msg and "48" in msg


GOOD = [
    # (op, operand types, attrs, expected type), worked out from the op definitions / NumPy
    (Op.EXP, [T(2, 3)], {}, T(2, 3)),
    (Op.NOT, [T(4, dtype=BOOL)], {}, T(4, dtype=BOOL)),
    (Op.ABS, [T(4, dtype=I32)], {}, T(4, dtype=I32)),
    (Op.LT, [T(2, 3, dtype=I64), T(2, 3, dtype=I64)], {}, T(2, 3, dtype=BOOL)),
    (Op.DIV, [T(5, dtype=I32), T(5, dtype=I32)], {}, T(5, dtype=I32)),
    (Op.WHERE, [T(3, dtype=BOOL), T(3, dtype=I64), T(3, dtype=I64)], {}, T(3, dtype=I64)),
    (Op.CAST, [T(2, 3)], dict(dtype=BOOL), T(2, 3, dtype=BOOL)),
    (Op.REDUCE_SUM, [T(2, 3, 4)], dict(axes=(0, 2), keepdim=False), T(3)),
    (Op.REDUCE_MAX, [T(2, 3, 4)], dict(axes=(1,), keepdim=True), T(2, 1, 4)),
    (Op.RESHAPE, [T(2, 3, 4)], dict(shape=(4, 6)), T(4, 6)),
    (Op.PERMUTE, [T(2, 3, 4)], dict(perm=(2, 0, 1)), T(4, 2, 3)),
    (Op.EXPAND, [T(1, 3)], dict(shape=(5, 3)), T(5, 3)),
    (Op.SLICE, [T(10, 7)], dict(starts=(1, 0), stops=(10, 7), steps=(3, 2)), T(3, 4)),
    (Op.SLICE, [T(10)], dict(starts=(4,), stops=(4,), steps=(1,)), T(0)),
    (Op.PAD, [T(2, 3)], dict(pads=((1, 2), (0, 3)), value=0.0), T(5, 6)),
    (Op.CONCAT, [T(2, 3), T(2, 1), T(2, 2)], dict(axis=1), T(2, 6)),
    (Op.GATHER, [T(5, 6, 7), T(2, 3, dtype=I32)], dict(axis=1), T(5, 2, 3, 7)),
    (Op.DOT, [T(3, 4), T(4, 5)], dict(contract=((1,), (0,)), batch=((), ())), T(3, 5)),
    (Op.DOT, [T(4, 3), T(5, 4)], dict(contract=((0,), (1,)), batch=((), ())), T(3, 5)),
    (Op.DOT, [T(6, 2, 3), T(4, 2, 6)], dict(contract=((0,), (2,)), batch=((1,), (1,))), T(2, 3, 4)),
    (Op.RAND, [T(dtype=I64)], dict(shape=(2, 5), dtype=F64), T(2, 5, dtype=F64)),
]


@pytest.mark.parametrize("op, types, attrs, expected", GOOD, ids=[g[0].value for g in GOOD])
def test_shape_rules_on_good_operands(op, types, attrs, expected):
    assert infer_type(op, types, attrs) == expected


def test_slice_and_gather_shapes_agree_with_numpy():
    x = np.zeros((10, 7, 3))
    assert infer_type(Op.SLICE, [T(10, 7, 3)], dict(starts=(1, 2, 0), stops=(9, 7, 3), steps=(3, 4, 2))).shape \
        == x[1:9:3, 2:7:4, 0:3:2].shape
    idx = np.zeros((4, 2), np.int64)
    assert infer_type(Op.GATHER, [T(10, 7, 3), T(4, 2, dtype=I64)], dict(axis=2)).shape \
        == np.take(x, idx, axis=2).shape


# ---- networkx export ------------------------------------------------------------------------------

def test_to_networkx_has_one_vertex_per_node():
    g = every_op_graph()
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == len(g.nodes)
    index = {id(n): i for i, n in enumerate(g.nodes)}
    edges = {(index[id(v.node)], index[id(n)]) for n in g.nodes for v in n.inputs}
    assert set(nxg.edges) == edges
    for i, n in enumerate(g.nodes):
        assert nxg.nodes[i]["op"] == n.op.value
        assert nxg.nodes[i]["type"] == str(n.out.type)
    import networkx as nx
    assert nx.is_directed_acyclic_graph(nxg)


def test_to_networkx_of_a_traced_program():
    x = np.ones((4, 3), np.float32)
    fn = lumina.compile(lambda a: (a.exp() * 2.0).sum(1))
    g = fn.lower(x).graph
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == len(g.nodes)
    assert sorted(nxg.nodes[i]["op"] for i in nxg.nodes) == sorted(n.op.value for n in g.nodes)
