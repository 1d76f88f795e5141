"""Tensors pickle and deep-copy as torch's do: values, dtype and requires_grad survive, the copy is
a leaf with no history, a lazy tensor is realised first, and deepcopy of a non-leaf that requires
grad is refused."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import lumina
from lumina.errors import LuminaGradError


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int32", "int64", "bool"])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_values_dtype_and_flags_survive(dtype, how):
    data = np.array([[1.5, -0.0, np.inf], [np.nan, 2.0, -3.0]])
    lt = lumina.tensor(data).to(getattr(lumina, dtype))
    tt = torch.tensor(data).to(getattr(torch, dtype))
    grad = dtype.startswith(("float", "bfloat"))
    lt.requires_grad_(grad)
    tt.requires_grad_(grad)
    dup = pickle.loads(pickle.dumps(lt)) if how == "pickle" else copy.deepcopy(lt)
    want = pickle.loads(pickle.dumps(tt)) if how == "pickle" else copy.deepcopy(tt)
    assert dup.dtype.name == str(want.dtype).removeprefix("torch.")
    assert (dup.requires_grad, dup.is_leaf) == (want.requires_grad, want.is_leaf)
    np.testing.assert_array_equal(dup.float().detach().numpy(), want.float().detach().numpy())


def test_a_lazy_result_pickles_as_a_leaf_with_its_values():
    x = lumina.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x * 3))
    ty = pickle.loads(pickle.dumps(torch.tensor([1.0, 2.0], requires_grad=True) * 3))
    assert (y.requires_grad, y.is_leaf) == (ty.requires_grad, ty.is_leaf)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    assert x.grad is None


def test_deepcopy_of_a_non_leaf_is_refused_as_in_torch():
    x = lumina.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        copy.deepcopy(torch.tensor([1.0], requires_grad=True) * 2)
    with pytest.raises(LuminaGradError, match="deepcopy"):
        copy.deepcopy(x * 2)


def test_a_copy_is_independent_of_the_original():
    x = lumina.tensor([1.0, 2.0])
    y = copy.deepcopy(x)
    x.add_(1.0)
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0])
