"""Bitwise ops against torch 2.13: and / or / xor / not / shifts as functions, methods, in-place
methods and operators, on int32 / int64 / bool, with promotion, broadcasting, shift counts outside
[0, bits), errors for float operands, and inside @lumina.compile."""
import operator

import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaError, LuminaTypeError

RNG = np.random.default_rng(7)
BINARY = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"]


def _operands(dtype, shift):
    info = np.iinfo(dtype)
    a = RNG.integers(-1000, 1000, (3, 5)).astype(dtype)
    a[0, :3] = [info.min, info.max, -1]
    b = RNG.integers(-2, 70, (5,)).astype(dtype) if shift else RNG.integers(-1000, 1000, (5,)).astype(dtype)
    return a, b


def _same(lum, ref):
    got, want = lum.numpy(), ref.numpy()
    assert str(got.dtype) == str(want.dtype) and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("name", BINARY)
def test_integer_ops_agree_with_torch(name, dtype):
    a, b = _operands(dtype, "shift" in name)
    _same(getattr(lumina, name)(lumina.tensor(a), lumina.tensor(b)), getattr(torch, name)(torch.tensor(a),
                                                                                            torch.tensor(b)))
    _same(getattr(lumina.tensor(a), name)(lumina.tensor(b)), getattr(torch.tensor(a), name)(torch.tensor(b)))


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor"])
def test_bool_ops_are_logical(name):
    a, b = RNG.random((4, 3)) < 0.5, RNG.random((3,)) < 0.5
    _same(getattr(lumina, name)(lumina.tensor(a), lumina.tensor(b)), getattr(torch, name)(torch.tensor(a),
                                                                                            torch.tensor(b)))


@pytest.mark.parametrize("op", [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift])
@pytest.mark.parametrize("number", [3, -2, True])
def test_operators_with_numbers_both_ways(op, number):
    a = RNG.integers(-50, 50, (6,)).astype(np.int32)
    _same(op(lumina.tensor(a), number), op(torch.tensor(a), number))
    counts = np.array([0, 1, 5, 31, 40, -1], np.int32)
    _same(op(number, lumina.tensor(counts)), op(number, torch.tensor(counts)))


def test_promotion_of_mixed_dtypes():
    a, b = np.array([5, -3, 7], np.int32), np.array([3, 1, 2], np.int64)
    c = np.array([True, False, True])
    for x, y in [(a, b), (c, a), (b, c)]:
        for name in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
            _same(getattr(lumina, name)(lumina.tensor(x), lumina.tensor(y)),
                  getattr(torch, name)(torch.tensor(x), torch.tensor(y)))
    _same(lumina.tensor(c) << 1, torch.tensor(c) << 1)          # bool << int is int64


def test_not():
    for a in [np.array([0, -1, 5, 2 ** 31 - 1], np.int32), np.array([True, False])]:
        _same(lumina.bitwise_not(lumina.tensor(a)), torch.bitwise_not(torch.tensor(a)))
        _same(~lumina.tensor(a), ~torch.tensor(a))


@pytest.mark.parametrize("name", BINARY)
def test_in_place_methods_return_self(name):
    a, b = _operands("int64", "shift" in name)
    x, t = lumina.tensor(a), torch.tensor(a)
    r = getattr(x, name + "_")(lumina.tensor(b))
    getattr(t, name + "_")(torch.tensor(b))
    assert r is x
    _same(x, t)


def test_augmented_operators():
    a = np.array([1, -8, 12], np.int64)
    for op in [operator.ixor, operator.ilshift, operator.irshift]:
        x, t = lumina.tensor(a), torch.tensor(a)
        y = op(x, 2)
        op(t, 2)
        assert y is x
        _same(x, t)
    x = lumina.tensor(a)
    assert x.bitwise_not_() is x
    _same(x, ~torch.tensor(a))


@pytest.mark.parametrize("call", [
    lambda M, f, i: M.bitwise_and(f, i), lambda M, f, i: M.bitwise_xor(i, f), lambda M, f, i: f << 1,
    lambda M, f, i: i >> f, lambda M, f, i: M.bitwise_not(f), lambda M, f, i: i ^ 1.5,
    lambda M, f, i: M.bitwise_left_shift(M.tensor([True]), M.tensor([True])),
])
def test_errors_where_torch_raises(call):
    f, i = np.array([1.0, 2.0], np.float32), np.array([1, 2], np.int64)
    with pytest.raises((RuntimeError, TypeError)):
        call(torch, torch.tensor(f), torch.tensor(i))
    with pytest.raises(LuminaError):
        call(lumina, lumina.tensor(f), lumina.tensor(i))


def test_in_place_result_that_cannot_be_cast_back_raises():
    x = lumina.tensor(np.array([1, 0]), dtype=lumina.bool)
    with pytest.raises(RuntimeError):
        torch.tensor([True, False]).bitwise_and_(torch.tensor([3, 1]))
    with pytest.raises(LuminaTypeError):
        x.bitwise_and_(lumina.tensor(np.array([3, 1])))


def test_inside_compile_matches_eager_and_torch():
    a, b = _operands("int64", True)

    @lumina.compile
    def f(x, s):
        return (x << s) ^ (x >> s), lumina.bitwise_not(x) & 0xFF

    got = f(lumina.tensor(a), lumina.tensor(b))
    ta, tb = torch.tensor(a), torch.tensor(b)
    _same(got[0], (ta << tb) ^ (ta >> tb))
    _same(got[1], torch.bitwise_not(ta) & 0xFF)
