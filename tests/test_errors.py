"""Failures a user can cause raise a ``LuminaError`` subclass whose message names the op, the shapes
and the dtypes involved (DESIGN.md, "Errors"; errors.py: ``op: what went wrong: given vs expected``).
"""
from __future__ import annotations

import numpy as np
import pytest

import lumina
import lumina.nn as nn
from lumina import (LuminaError, LuminaGradError, LuminaShapeError, LuminaTraceError, LuminaTypeError,
                    LuminaValueError)
from lumina.nn import functional as F


def raises(cls, fn, *fragments):
    """Call ``fn``; it must raise ``cls`` (a LuminaError) whose message holds every fragment."""
    with pytest.raises(cls) as info:
        fn()
    assert isinstance(info.value, LuminaError)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


# ---- shapes ---------------------------------------------------------------------------------------

def test_mismatched_broadcast():
    raises(LuminaShapeError, lambda: lumina.ones(2, 3) + lumina.ones(4), "add", "f32[2,3]", "f32[4]")
    raises(LuminaShapeError, lambda: lumina.ones(2, 3) * lumina.ones(3, 2, dtype=lumina.float64),
           "mul", "f32[2,3]", "f64[3,2]")
    raises(LuminaShapeError, lambda: lumina.maximum(lumina.ones(5, 1, 3), lumina.ones(2, 4)),
           "maximum", "f32[5,1,3]", "f32[2,4]")
    raises(LuminaShapeError, lambda: lumina.where(lumina.ones(2, dtype=lumina.bool), lumina.ones(2, 3),
                                                  lumina.ones(4)), "where", "bool[2]", "f32[2,3]", "f32[4]")


def test_broadcast_error_is_raised_at_the_line_that_caused_it_not_at_realisation():
    a, b = lumina.ones(2, 3), lumina.ones(4)
    with pytest.raises(LuminaShapeError):
        _ = a - b  # nothing is realised: the check is at record time


def test_matmul_inner_dimension_mismatch():
    a = lumina.tensor(np.ones((2, 3), np.float32))
    b = lumina.tensor(np.ones((4, 5), np.float32))
    msg = raises(LuminaShapeError, lambda: a @ b, "matmul", "f32[2,3]", "f32[4,5]")
    assert "3" in msg and "4" in msg
    raises(LuminaShapeError, lambda: lumina.matmul(lumina.ones(7, 2, 3), lumina.ones(3, dtype=lumina.float64)[:2]),
           "matmul", "f32[7,2,3]", "f64[2]")
    raises(LuminaShapeError, lambda: lumina.ones(3) @ lumina.ones(4), "matmul", "f32[3]", "f32[4]")


def test_matmul_batch_mismatch_and_bool_operands():
    raises(LuminaShapeError, lambda: lumina.ones(2, 3, 4) @ lumina.ones(5, 4, 6), "matmul")
    raises(LuminaTypeError, lambda: lumina.ones(2, 2, dtype=lumina.bool) @ lumina.ones(2, 2, dtype=lumina.bool),
           "matmul", "bool[2,2]")


def test_reshape_to_a_wrong_size():
    x = lumina.ones(2, 3)
    raises(LuminaShapeError, lambda: x.reshape(4, 2), "reshape", "f32[2,3]", "4", "2")
    raises(LuminaShapeError, lambda: x.reshape(-1, 4), "reshape", "f32[2,3]")
    raises(LuminaShapeError, lambda: x.reshape(-1, -1), "reshape")
    raises(LuminaShapeError, lambda: x.view(7), "reshape", "f32[2,3]")


def test_other_movement_errors_name_the_op_and_shape():
    x = lumina.ones(2, 3)
    raises(LuminaShapeError, lambda: x.expand(4, 3), "expand", "f32[2,3]")
    raises(LuminaValueError, lambda: x.permute(0, 0), "permute", "f32[2,3]")
    raises(LuminaValueError, lambda: x.sum(3), "sum", "f32[2,3]")
    raises(LuminaValueError, lambda: x[5], "getitem", "f32[2,3]")
    raises(LuminaValueError, lambda: x[0, 0, 0], "getitem", "f32[2,3]")
    raises(LuminaShapeError, lambda: lumina.cat([x, lumina.ones(3, 3)], 1), "cat", "f32[2,3]", "f32[3,3]")
    raises(LuminaShapeError, lambda: lumina.stack([x, lumina.ones(3, 2)]), "stack", "f32[2,3]", "f32[3,2]")
    raises(LuminaShapeError, lambda: x.assign(lumina.ones(4)), "assign", "f32[2,3]", "f32[4]")


@pytest.mark.parametrize("make", [
    lambda: lumina.ones(-1, 2),
    lambda: lumina.zeros(3, -4),
    lambda: lumina.full((-2,), 1.0),
    lambda: lumina.rand(-3),
    lambda: lumina.randn(2, -1),
], ids=["ones", "zeros", "full", "rand", "randn"])
def test_negative_dimensions_are_rejected_when_the_tensor_is_made(make):
    # torch: RuntimeError "Trying to create tensor with negative dimension -1"; NumPy: ValueError.
    with pytest.raises(LuminaError) as info:
        make()
    assert "-" in str(info.value)


def test_arange_with_a_zero_step():
    raises(LuminaValueError, lambda: lumina.arange(0, 10, 0), "arange")


# ---- autodiff -------------------------------------------------------------------------------------

def test_backward_on_a_non_scalar_without_a_gradient():
    x = lumina.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    raises(LuminaGradError, lambda: (x * 2.0).backward(), "backward", "f32[2,3]")
    raises(LuminaGradError, lambda: (x * 2.0).backward(lumina.ones(3, 2)), "backward", "f32[3,2]", "f32[2,3]")


def test_backward_on_a_tensor_that_does_not_require_grad():
    raises(LuminaGradError, lambda: lumina.ones(2, 3).sum().backward(), "backward", "f32[]", "requires")
    x = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    with lumina.no_grad():
        y = (x * x).sum()
    raises(LuminaGradError, lambda: y.backward(), "backward", "f32[]")
    raises(LuminaGradError, lambda: x.detach().sum().backward(), "backward")


def test_grad_transform_errors():
    raises(LuminaGradError, lambda: lumina.grad(lambda x: x * 2.0)(lumina.tensor([1.0, 2.0])),
           "grad", "f32[2]")
    raises(LuminaGradError, lambda: lumina.grad(lambda x: x.sum())(lumina.tensor([1, 2])), "grad", "i64[2]")
    raises(LuminaTypeError, lambda: lumina.tensor([1, 2], requires_grad=True), "tensor", "int64")
    x = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    raises(LuminaGradError, lambda: (x * 2.0).requires_grad_(), "requires_grad_")


# ---- dtypes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("array, dtype_name", [
    (np.ones(3, np.complex64), "complex64"),
    (np.ones((2, 2), np.uint8), "uint8"),
    (np.ones(2, np.int8), "int8"),
    (np.array(["a", "b"]), "<U1"),
], ids=["complex64", "uint8", "int8", "str"])
def test_unsupported_dtype_in_tensor(array, dtype_name):
    msg = raises(LuminaTypeError, lambda: lumina.tensor(array), dtype_name)
    for name in ("float32", "int64", "bool"):
        assert name in msg  # it says what is supported
    # the message names the op that was given the array ("op: what went wrong: ...", errors.py)
    assert "tensor" in msg, msg


def test_unsupported_dtype_elsewhere():
    raises(LuminaTypeError, lambda: lumina.ones(2).to(np.complex64), "complex64")
    raises(LuminaTypeError, lambda: lumina.zeros(2, dtype="complex64"), "complex64")
    raises(LuminaTypeError, lambda: lumina.rand(3, dtype=lumina.int64), "rand", "int64")


def test_dtype_errors_name_op_and_types():
    b = lumina.ones(2, dtype=lumina.bool)
    f = lumina.ones(2, 3)
    raises(LuminaTypeError, lambda: b - b, "sub", "bool[2]")
    raises(LuminaTypeError, lambda: -b, "neg", "bool[2]")
    raises(LuminaTypeError, lambda: ~f, "not", "f32[2,3]")
    raises(LuminaTypeError, lambda: f & f, "and", "f32[2,3]")
    raises(LuminaTypeError, lambda: lumina.tensor([1, 2]) ** lumina.tensor([3, 1]), "pow", "i64[2]")


# ---- realisation and tracing ----------------------------------------------------------------------

def test_item_on_a_multi_element_tensor():
    raises(LuminaValueError, lambda: lumina.ones(3).item(), "item", "f32[3]")
    raises(LuminaValueError, lambda: float(lumina.ones(2, 2)), "item", "f32[2,2]")
    assert lumina.ones(1, 1).item() == 1.0


def test_reading_numpy_inside_compile():
    @lumina.compile
    def f(x):
        y = x * 2.0
        y.numpy()
        return y

    msg = raises(LuminaTraceError, lambda: f(np.ones(3, np.float32)), "f32[3]", "compile")
    assert "return" in msg  # says what to do instead

    @lumina.compile
    def g(x):
        return x.sum().item()

    raises(LuminaTraceError, lambda: g(np.ones((2, 2), np.float32)), "f32[]")

    @lumina.compile
    def h(x):
        return x if bool((x > 0).sum() > 1) else -x

    raises(LuminaTraceError, lambda: h(np.ones(2, np.float32)))


def test_a_failed_trace_leaves_the_function_usable():
    state = {"read": True}

    @lumina.compile
    def f(x):
        if state["read"]:
            x.numpy()
        return x + 1.0

    with pytest.raises(LuminaTraceError):
        f(np.ones(2, np.float32))
    state["read"] = False
    np.testing.assert_array_equal(f(np.ones(2, np.float32)).numpy(), np.full(2, 2.0, np.float32))
    # and eager code works after the failed trace
    np.testing.assert_array_equal((lumina.ones(2) * 3.0).numpy(), np.full(2, 3.0, np.float32))


def test_compile_rejects_unhashable_static_arguments():
    f = lumina.compile(lambda x, options: x)
    raises(LuminaTypeError, lambda: f(np.ones(2, np.float32), [1, 2]), "compile", "list")


# ---- nn and optim ---------------------------------------------------------------------------------

def test_linear_with_the_wrong_input_width():
    layer = nn.Linear(4, 3)
    raises(LuminaShapeError, lambda: layer(lumina.ones(2, 5)), "Linear", "f32[2,5]", "4")
    raises(LuminaShapeError, lambda: layer(lumina.tensor(1.0)), "Linear", "f32[]")
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(5, 2))
    raises(LuminaShapeError, lambda: model(lumina.ones(3, 8)), "Linear(5, 2)", "f32[3,4]")


def test_loss_shape_errors():
    raises(LuminaShapeError, lambda: F.cross_entropy(lumina.ones(2, 3), lumina.tensor([0, 1, 2])),
           "cross_entropy", "f32[2,3]", "i64[3]")
    raises(LuminaTypeError, lambda: F.cross_entropy(lumina.ones(2, 3), lumina.tensor([0.0, 1.0])),
           "cross_entropy", "f32[2]")


def test_optimizer_given_a_non_parameter():
    raises(LuminaTypeError, lambda: lumina.optim.SGD([lumina.ones(3)], lr=0.1), "SGD", "f32[3]")
    raises(LuminaTypeError, lambda: lumina.optim.AdamW([np.ones(3)]), "AdamW", "ndarray")
    w = lumina.tensor(np.ones(3, np.float32), requires_grad=True)
    raises(LuminaTypeError, lambda: lumina.optim.Adam([w, w * 2.0]), "Adam", "parameter 1", "f32[3]")
    raises(LuminaValueError, lambda: lumina.optim.SGD([], lr=0.1), "SGD", "empty")


def test_load_state_dict_with_missing_unexpected_and_mis_shaped_keys():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    good = model.state_dict()
    assert list(good) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    before = {k: v.clone() for k, v in good.items()}   # a snapshot: state_dict() shares the values

    missing = dict(good)
    del missing["2.bias"]
    raises(LuminaValueError, lambda: model.load_state_dict(missing), "load_state_dict", "missing", "2.bias")

    unexpected = dict(good, extra=np.ones(1, np.float32))
    raises(LuminaValueError, lambda: model.load_state_dict(unexpected), "load_state_dict", "extra")

    shaped = dict(good)
    shaped["0.weight"] = np.ones((3, 5), np.float32)
    raises(LuminaShapeError, lambda: model.load_state_dict(shaped), "load_state_dict", "0.weight",
           "[3, 5]", "[3, 4]")

    # non-strict loading ignores missing keys but still checks shapes
    model.load_state_dict({"2.bias": np.full(2, 7.0, np.float32)}, strict=False)
    np.testing.assert_array_equal(model.state_dict()["2.bias"], np.full(2, 7.0, np.float32))
    np.testing.assert_array_equal(model.state_dict()["0.weight"], before["0.weight"])
    raises(LuminaShapeError, lambda: model.load_state_dict({"2.bias": np.ones(3)}, strict=False),
           "2.bias", "[3]", "[2]")


def test_errors_are_catchable_as_builtin_exceptions():
    # LuminaShapeError is a ValueError, LuminaTypeError a TypeError, as user code expects
    with pytest.raises(ValueError):
        lumina.ones(2, 3) + lumina.ones(4)
    with pytest.raises(TypeError):
        lumina.tensor(np.ones(2, np.complex64))
    with pytest.raises(RuntimeError):
        lumina.ones(2).sum().backward()
