"""Elementwise row kernels (``FusionOptions.elementwise_rows``, ``schedule.row_fusion``): elementwise
results the graph returns, over one shape, that read one another or share an input, are computed
by one multi-output kernel (an optimizer's moment and parameter updates: one pass over each
buffer). Oracles: PyTorch's AdamW and NumPy; the option off as the comparison for the kernels.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lumina
from lumina.codegen.kernel import RowKernel
from lumina.compiler import CompileOptions
from lumina.schedule.options import FusionOptions

from linear_twin import check_against_torch, step_of


def _options(on: bool) -> CompileOptions:
    return CompileOptions(FusionOptions(elementwise_rows=on))


def test_an_adamw_update_is_one_kernel_per_parameter_and_matches_torch():
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((48, 64)).astype(np.float32), rng.standard_normal(48).astype(np.float32)
    model = lumina.nn.Linear(64, 48)
    model.load_state_dict({"weight": lumina.tensor(w), "bias": lumina.tensor(b)})
    opt = lumina.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    step = step_of(model, opt)
    compiled = lumina.compile(step, options=_options(True))
    check_against_torch(compiled, model, w, b, lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1), 4, rng)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    # the weight's two moments and the weight itself: one kernel, three stored whole-row stages
    merged = [k for k in compiled.lower(lumina.tensor(x)).kernels()
              if isinstance(k, RowKernel) and k.n_outputs == 3 and k.buffers[-1].numel == 48 * 64]
    assert len(merged) == 1 and all(s.reduce_op is None for s in merged[0].stages)
    fewer = len(lumina.compile(step, options=_options(False)).lower(lumina.tensor(x)).kernels())
    assert len(compiled.lower(lumina.tensor(x)).kernels()) <= fewer - 4   # 3 -> 1 for each parameter


def _outputs(a, b, c, transpose: bool):
    """Several results over one shape: read one another, share inputs, one maybe read transposed."""
    s = a * b + 1.0
    e = (s * 0.5).exp() - c
    d = s * c / (1.0 + b.abs())
    t = (s.T if transpose else s) + d
    return s, e, d, t


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 40), cols=st.sampled_from([1, 3, 17, 64, 300]), transpose=st.booleans(),
       special=st.booleans())
def test_elementwise_rows_on_and_off_agree_with_numpy(rows, cols, transpose, special):
    if transpose:
        cols = rows
    rng = np.random.default_rng(rows * 1000 + cols)
    a, b, c = (rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(3))
    if special:
        a.flat[::5] = np.nan
        b.flat[1::7] = np.inf
        c.flat[2::3] = -0.0
    s = a * b + np.float32(1)
    with np.errstate(all="ignore"):
        want = [s, np.exp(s * np.float32(0.5)) - c, s * c / (np.float32(1) + np.abs(b))]
    want.append((want[0].T if transpose else want[0]) + want[2])
    for on in (True, False):
        got = lumina.compile(lambda x, y, z: _outputs(x, y, z, transpose), options=_options(on))(a, b, c)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w, rtol=2e-6, atol=1e-6)


def test_results_that_are_not_returned_stay_where_the_partitioner_put_them():
    """Only kernels whose results the graph returns are grouped (state written back): a value read
    by later kernels only is left to the single-output partition."""
    f = lumina.compile(lambda a, b: ((a * b).exp() + 1.0).sum(), options=_options(True))
    a, b = np.ones((8, 300), np.float32), np.full((8, 300), 0.5, np.float32)
    assert not any(isinstance(k, RowKernel) and all(s.reduce_op is None for s in k.stages)
                   for k in f.lower(a, b).kernels())
    np.testing.assert_allclose(f(a, b).numpy(), ((np.exp(a * b) + 1).sum()), rtol=1e-6)


@pytest.mark.parametrize("shape, axes", [((512, 256), (1,)), ((32, 16, 3, 3), (0, 1, 2, 3)),
                                         ((7, 40, 9), (1, 2)), ((100000,), None)])
def test_the_rows_are_trailing_dims_of_at_least_a_vector_length(shape, axes):
    from lumina.schedule.row_fusion import _elementwise_rows
    got = _elementwise_rows(shape, FusionOptions().max_row_elements)
    assert got == (None if axes is None else (shape, axes))
