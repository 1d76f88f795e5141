"""Autodiff state rows: ``backward`` (scalar, with a gradient, twice, non-scalar), and
``requires_grad``, ``is_leaf``, ``grad``, ``detach``, ``data``, ``no_grad``."""
from __future__ import annotations

from hypothesis import strategies as st

from ..cases import Arr, Case
from ..spec import OpSpec
from ..strategies import array, shapes, tensor_only


def _backward_call(L, x, form):
    """``y.backward()`` for a scalar ``y``, ``y.backward(gradient)`` for a vector, twice (the
    gradients accumulate), or on a non-scalar without a gradient (torch raises)."""
    x.requires_grad_(True)
    if form == "scalar":
        (x * x).sum().backward()
    elif form == "vector":
        (x * 3.0).backward(x.detach() * 0 + 2.0)
    elif form == "twice":
        (x * 2.0).sum().backward()
        (x * 3.0).sum().backward()
    else:
        (x * 2.0).backward()
    return x.grad, x.is_leaf, x.requires_grad


@st.composite
def _backward_cases(draw, dtype):
    shape = draw(shapes(1, 2, min_side=1))
    x = Arr(draw(array(dtype, shape, special=False)))
    return Case((x, draw(st.sampled_from(["scalar", "vector", "twice", "nonscalar"]))), dtype=dtype)


def _state_call(L, x, what):
    """Autodiff state after an op: ``requires_grad`` and ``is_leaf`` of a leaf, a result, a
    detached result and a result made under ``no_grad``; ``grad`` before backward."""
    x.requires_grad_(True)
    y = x * 2.0
    d = y.detach()
    with L.no_grad():
        z = x * 2.0
        with L.enable_grad():
            e = x * 2.0
        inner = L.is_grad_enabled()
    with L.set_grad_enabled(False):
        s = x * 2.0
    with L.inference_mode():
        i = x * 2.0
    return {"requires_grad": (x.requires_grad, y.requires_grad, d.requires_grad, z.requires_grad),
            "is_leaf": (x.is_leaf, y.is_leaf, d.is_leaf, z.is_leaf),
            "grad": x.grad,
            "requires_grad_": (x.detach().requires_grad_(True).requires_grad,),
            "detach": d,
            "no_grad": z,
            "enable_grad": (e, e.requires_grad),
            "set_grad_enabled": (s, s.requires_grad, L.is_grad_enabled()),
            "inference_mode": (i.requires_grad, L.is_grad_enabled()),
            "is_grad_enabled": (inner, L.is_grad_enabled())}[what]


@st.composite
def _state_cases(draw, dtype, what):
    return Case((Arr(draw(array(dtype, draw(shapes(0, 2)), special=False))), what), dtype=dtype)


def specs() -> list[OpSpec]:
    """The autodiff state rows."""
    rows: list[OpSpec] = []
    rows += [OpSpec("Tensor.backward", _backward_call, _backward_cases, dtypes=("float32", "float64"), grad=False,
                    exact=True, checks="scalar, with a gradient, twice (accumulates), non-scalar without one (raises)")]
    for what in ("requires_grad", "is_leaf", "grad", "requires_grad_", "detach"):
        rows += [OpSpec(f"Tensor.{what}", _state_call, (lambda w: lambda d: _state_cases(d, w))(what),
                        dtypes=("float32",), grad=False, exact=True)]
    for what in ("no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled"):
        rows += [OpSpec(f"lumina.{what}", _state_call, (lambda w: lambda d: _state_cases(d, w))(what),
                        dtypes=("float32",), grad=False, exact=True)]
    rows += [OpSpec("Tensor.data", lambda L, x: (x.data, x.data.requires_grad, x.data.is_leaf), tensor_only,
                    dtypes=("float32", "int64"), exact=True, grad=False, checks="a leaf that does not require grad")]
    return rows
