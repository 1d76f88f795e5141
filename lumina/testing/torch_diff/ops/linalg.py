"""Matrix products: ``@``, its reflected form and ``lumina.matmul``, over vectors, matrices and
broadcast batches."""
from __future__ import annotations

from hypothesis import strategies as st

from ..cases import FLOATS, INTS, Arr, Case
from ..spec import OpSpec
from ..strategies import array, rarely, wants_grad


@st.composite
def _matmul_cases(draw, dtype):
    g = wants_grad(dtype, True)
    m, k, n = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    form = draw(st.integers(0, 5))
    batch_a = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    batch_b = tuple(1 if draw(st.booleans()) else d for d in batch_a)[draw(st.integers(0, len(batch_a))):]
    sa = [(k,), (m, k), batch_a + (m, k), (k,), batch_a + (m, k), (m, k)][form]
    sb = [(k,), (k,), (k,), (k, n), batch_b + (k, n), batch_b + (k, n)][form]
    if rarely(draw, 10):
        sb = (k + 1,) + sb[1:] if len(sb) == 1 else sb[:-2] + (k + 1, sb[-1])   # inner dims differ
    return Case((Arr(draw(array(dtype, sa)), g), Arr(draw(array(dtype, sb)), g)), dtype=dtype)


def specs() -> list[OpSpec]:
    """The matrix product rows."""
    rows: list[OpSpec] = []
    rows += [OpSpec("Tensor.__matmul__", lambda L, a, b: a @ b, _matmul_cases, dtypes=FLOATS + INTS + ("bool",),
                    accumulates=True),
             OpSpec("Tensor.__rmatmul__", lambda L, a, b: b.__rmatmul__(a), _matmul_cases, accumulates=True,
                    checks="``b.__rmatmul__(a)`` with ``a`` a tensor that requires grad: the gradient reaches ``a``"),
             OpSpec("lumina.matmul", lambda L, a, b: L.matmul(a, b), _matmul_cases, dtypes=FLOATS + INTS,
                    accumulates=True)]
    return rows
