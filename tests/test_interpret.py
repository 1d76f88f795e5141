"""The whole-graph NumPy reference interpreter (``ir.interpret.interpret``) on IR text fixtures and
on a traced training step, against NumPy written out in each test and against the compiled CPU
executables (``compiler.compile_graph(graph).run``); its errors: input checks, index checks, and
an op the per-node evaluator does not support."""
from __future__ import annotations

import numpy as np
import pytest

import lumina
import lumina.nn as nn
from lumina.compiler import compile_graph
from lumina.errors import LuminaIndexError, LuminaIRError, LuminaShapeError, LuminaTypeError, LuminaValueError
from lumina.ir import Op, parse, verify
from lumina.ir import interpret as interpret_module
from lumina.ir.interpret import interpret
from lumina.nn import functional as F
from lumina.testing import programs

F16 = np.float16


def check(graph, inputs, expected, rtol=1e-5, atol=1e-6):
    """``interpret`` equals NumPy's ``expected`` and the compiled executable's outputs agree."""
    got = interpret(graph, inputs)
    compiled = compile_graph(graph).run(inputs)
    assert len(got) == len(expected) == len(compiled) == len(graph.outputs)
    for g, want, exe, v in zip(got, expected, compiled, graph.outputs):
        assert g.shape == v.shape and g.dtype == v.dtype.numpy
        if np.issubdtype(g.dtype, np.floating):
            np.testing.assert_allclose(g, want, rtol=rtol, atol=atol)
            np.testing.assert_allclose(exe, g, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, want)
            np.testing.assert_array_equal(exe, g)
    return got


# ---- IR text fixtures -----------------------------------------------------------------------------

ELEMENTWISE = """
graph elementwise {
  %0:f32[3,4] = input {name='x'}
  %1:f32[4] = input {name='b'}
  %2:f32[1,4] = reshape %1 {shape=(1, 4)}
  %3:f32[3,4] = expand %2 {shape=(3, 4)}
  %4:f32[3,4] = add %0, %3
  %5:f32[3,4] = tanh %4
  %6:f32[3] = reduce_sum %5 {axes=(1,), keepdim=False}
  %7:f32[3,1] = reduce_max %4 {axes=(1,), keepdim=True}
  return %6, %7
}
"""


def test_elementwise_broadcast_and_reductions():
    rng = np.random.default_rng(0)
    x, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    check(verify(parse(ELEMENTWISE)), [x, b], [np.tanh(x + b).sum(1), (x + b).max(1, keepdims=True)])


BATCHED_DOT = """
graph batched_dot {
  %0:f32[2,3,5] = input {name='a'}
  %1:f32[2,5,4] = input {name='b'}
  %2:f32[2,3,4] = dot %0, %1 {contract=((2,), (1,)), batch=((0,), (0,))}
  %3:f32[4,2,3] = permute %2 {perm=(2, 0, 1)}
  return %3
}
"""


def test_batched_dot_and_permute():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 5)).astype(np.float32), rng.normal(size=(2, 5, 4)).astype(np.float32)
    check(verify(parse(BATCHED_DOT)), [a, b], [np.transpose(a @ b, (2, 0, 1))])


MOVEMENT = """
graph movement {
  %0:f32[4,6] = input {name='x'}
  %1:i64[3] = input {name='i'}
  %2:i32[4,6] = input {name='k'}
  %3:f32[2,3] = slice %0 {starts=(1, 0), stops=(4, 6), steps=(2, 2)}
  %4:f32[4,5] = pad %3 {pads=((1, 1), (0, 2)), value=-1.5}
  %5:i64[3] = check_index %1 {size=4, low=-4, message='index {index} is out of range'}
  %6:f32[3,6] = gather %0, %5 {axis=0}
  %7:f32[7,6] = concat %6, %0 {axis=0}
  %8:f32[] = const {value=0.5}
  %9:f32[1,1] = reshape %8 {shape=(1, 1)}
  %10:f32[4,6] = expand %9 {shape=(4, 6)}
  %11:bool[4,6] = gt %0, %10
  %12:f32[4,6] = where %11, %0, %10
  %13:i32[4,6] = cast %0 {dtype=i32}
  %14:i32[4,6] = div %13, %2
  return %4, %7, %12, %14
}
"""


def movement_inputs(rng, index=(2, -1, 0)):
    x = rng.uniform(-9, 9, (4, 6)).astype(np.float32)
    k = rng.integers(-3, 4, (4, 6)).astype(np.int32)
    k[0, :3] = 0   # division by zero gives 0
    return [x, np.array(index, np.int64), k]


def test_slice_pad_gather_concat_where_cast_and_integer_division():
    x, i, k = inputs = movement_inputs(np.random.default_rng(2))
    padded = np.pad(x[1:4:2, 0:6:2], ((1, 1), (0, 2)), constant_values=-1.5)
    gathered = np.concatenate([x[i], x])                      # NumPy counts negative indices from the end
    c = x.astype(np.int32)                                    # truncates toward zero, as the IR's cast
    quotient = np.where(k == 0, 0, np.trunc(c / np.where(k == 0, 1, k))).astype(np.int32)   # C division
    check(verify(parse(MOVEMENT)), inputs, [padded, gathered, np.where(x > 0.5, x, 0.5), quotient])


def test_an_index_out_of_range_raises_as_the_executable_does():
    graph = verify(parse(MOVEMENT))
    inputs = movement_inputs(np.random.default_rng(3), index=(1, 4, 0))
    with pytest.raises(LuminaIndexError) as interpreted:
        interpret(graph, inputs)
    with pytest.raises(LuminaIndexError) as compiled:
        compile_graph(graph).run(inputs)
    assert str(interpreted.value) == str(compiled.value) == "index 4 is out of range"


HALF = """
graph half {
  %0:f16[16] = input {name='x'}
  %1:f16[16] = input {name='y'}
  %2:f16[16] = mul %0, %1
  %3:f16[16] = exp %2
  %4:f16[] = reduce_sum %3 {axes=(0,), keepdim=False}
  return %3, %4
}
"""


def test_float16_rounds_once_per_op():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=16).astype(F16), rng.normal(size=16).astype(F16)
    f32 = np.float32
    product = (x.astype(f32) * y.astype(f32)).astype(F16)    # each op in float32, rounded to float16
    e = np.exp(product.astype(f32)).astype(F16)
    got = check(verify(parse(HALF)), [x, y], [e, e.astype(f32).sum().astype(F16)], rtol=2e-3, atol=0)
    np.testing.assert_array_equal(got[0], e)                # the definition, exactly


def test_outputs_are_fresh_arrays():
    text = "graph c {\n  %0:f32[2] = const {value=[1.0, 2.0]}\n  %1:f32[2] = input {name='x'}\n  return %0, %1\n}"
    graph = verify(parse(text))
    x = np.zeros(2, np.float32)
    first = interpret(graph, [x])
    first[0][:] = 7
    first[1][:] = 7
    np.testing.assert_array_equal(interpret(graph, [x])[0], [1.0, 2.0])
    np.testing.assert_array_equal(x, [0, 0])


# ---- a traced training step ------------------------------------------------------------------------

def test_a_traced_training_step_matches_numpy_and_the_executable():
    lumina.manual_seed(0)
    model = nn.Linear(8, 4)
    lr = 0.1
    step = programs.train_step(model, lumina.optim.SGD(model.parameters(), lr=lr), F.mse_loss)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 8)).astype(np.float32), rng.normal(size=(6, 4)).astype(np.float32)
    entry, inputs, _, targets = step._prepare((x, y))
    got = interpret(entry.graph, inputs)
    for g, exe in zip(got, entry.executable.run(inputs)):
        np.testing.assert_allclose(g, exe, rtol=1e-5, atol=1e-6)

    # NumPy, in float64: loss = mean((x W^T + b - y)^2), its gradients, and the SGD update
    w, b = model.weight.numpy().astype(np.float64), model.bias.numpy().astype(np.float64)
    d = x @ w.T + b - y
    grad_z = 2 * d / d.size
    grad = {id(model.weight): grad_z.T @ x, id(model.bias): grad_z.sum(0)}
    value = {id(model.weight): w - lr * grad[id(model.weight)], id(model.bias): b - lr * grad[id(model.bias)]}
    np.testing.assert_allclose(got[0], (d ** 2).mean(), rtol=1e-5)
    updates = got[1:]
    assert len(updates) == len(entry.updates) == 4    # each parameter's new value and its .grad
    for u, target, new in zip(entry.updates, targets, updates):
        want = (value if u.kind == "value" else grad)[id(target)]
        np.testing.assert_allclose(new, want, rtol=1e-5, atol=1e-6)


# ---- errors ------------------------------------------------------------------------------------------

def test_an_op_the_evaluator_does_not_support_is_an_error_naming_it(monkeypatch):
    graph = verify(parse(ELEMENTWISE))
    real = interpret_module.evaluate

    def without_tanh(node, args):
        if node.op is Op.TANH:
            raise NotImplementedError(node.op)
        return real(node, args)
    monkeypatch.setattr(interpret_module, "evaluate", without_tanh)
    inputs = [np.ones((3, 4), np.float32), np.ones(4, np.float32)]
    with pytest.raises(LuminaIRError, match=r"interpret: tanh is not supported .*: %5:f32\[3,4\] = tanh %4$"):
        interpret(graph, inputs)


def test_inputs_are_checked():
    graph = verify(parse(ELEMENTWISE))
    x, b = np.ones((3, 4), np.float32), np.ones(4, np.float32)
    with pytest.raises(LuminaValueError, match="takes 2 inputs, got 1"):
        interpret(graph, [x])
    with pytest.raises(LuminaShapeError, match=r"input 1 \(b\) of shape \[5\], expected f32\[4\]"):
        interpret(graph, [x, np.ones(5, np.float32)])
    with pytest.raises(LuminaTypeError, match=r"input 0 \(x\) of dtype float64, expected f32\[3,4\]"):
        interpret(graph, [x.astype(np.float64), b])
