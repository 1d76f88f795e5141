"""Casts, conversions and metadata: ``.float()`` and the other casts, ``.to``, ``.type``, NumPy,
lists and Python scalars, sizes, shapes, dtypes, devices."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, INTS, Arr, Case, Dt, is_float, np_dtype
from ..spec import OpSpec
from ..strategies import array, dim_of, shapes, tensor_only, unary_specials, wants_grad


def _cast_cases(target_int: bool):
    """Values a cast is defined on: for a float -> int cast, finite values in the int range (torch's
    NaN/inf/out-of-range float -> int conversion is undefined behaviour in C++)."""
    @st.composite
    def cases(draw, dtype):
        shape = draw(shapes())
        if target_int and is_float(dtype):
            x = draw(array(dtype, shape, -1000, 1000))
        else:
            x = draw(array(dtype, shape))
        return Case((Arr(x, wants_grad(dtype, True)),), dtype=dtype)
    return cases


def _cast_fixed(target_int):
    def fixed(dtype):
        if target_int and is_float(dtype):
            values = np.array([0.0, -0.0, 1.5, -1.5, 2.5, -2.7, 100.0], np.float64)
            return [Case((Arr(values.astype(np_dtype(dtype)), True),), dtype=dtype)]
        return unary_specials(dtype)
    return fixed


@st.composite
def _to_cases(draw, dtype):
    shape = draw(shapes())
    target = draw(st.sampled_from(ALL))
    lo, hi = (-100, 100) if not is_float(target) and is_float(dtype) else (None, None)
    x = Arr(draw(array(dtype, shape, lo, hi)), wants_grad(dtype, True))
    form = draw(st.integers(0, 3))
    if form == 0:
        return Case((x, Dt(target)), dtype=dtype)
    if form == 1:
        return Case((x,), {"dtype": Dt(target)}, dtype=dtype)
    if form == 2:
        return Case((x, "cpu"), dtype=dtype)
    return Case((x, "cpu", Dt(target)), dtype=dtype)


@st.composite
def _scalar_conv_cases(draw, dtype):
    shape = draw(st.sampled_from([(), (1,), (1, 1), (2,), (0,)]))
    lo, hi = (-100, 100) if is_float(dtype) else (None, None)
    return Case((Arr(draw(array(dtype, shape, lo, hi))),), dtype=dtype)


@st.composite
def _size_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)))
    if draw(st.booleans()):
        return Case((x,), dtype=dtype)
    return Case((x, dim_of(draw, len(shape))), dtype=dtype)


def specs() -> list[OpSpec]:
    """The cast, conversion and metadata rows."""
    rows: list[OpSpec] = []
    for name, target in (("float", "float32"), ("double", "float64"), ("half", "float16"), ("bfloat16", "bfloat16"),
                         ("int", "int32"), ("long", "int64"), ("bool", "bool")):
        to_int = target in INTS
        rows += [OpSpec(f"Tensor.{name}", (lambda n: lambda L, x: getattr(x, n)())(name), _cast_cases(to_int),
                        dtypes=ALL, exact=True, fixed=_cast_fixed(to_int),
                        checks="float -> int on finite in-range values only (see the differences)" if to_int else "")]
    rows += [OpSpec("Tensor.to", lambda L, x, *a, **k: x.to(*a, **k), _to_cases, dtypes=ALL, exact=True),
             OpSpec("Tensor.type", lambda L, x, *a: x.type(*a),
                    lambda d: st.one_of(_to_cases(d).filter(lambda c: len(c.args) == 2 and isinstance(c.args[1], Dt)),
                                        tensor_only(d)), dtypes=("float32", "int64"), exact=True,
                    checks="``x.type()`` without a dtype returns the type's name"),
             OpSpec("Tensor.cpu", lambda L, x: x.cpu(), tensor_only, dtypes=ALL, exact=True),
             OpSpec("Tensor.numpy", lambda L, x: x.detach().numpy(), tensor_only, dtypes=("float32", "int64", "bool",
                                                                                          "float16"), grad=False),
             OpSpec("Tensor.__array__", lambda L, x: np.asarray(x.detach()), tensor_only,
                    dtypes=("float32", "int64", "bool"), grad=False),
             OpSpec("Tensor.tolist", lambda L, x: x.tolist(), tensor_only, dtypes=("float32", "int64", "bool"),
                    grad=False),
             OpSpec("Tensor.item", lambda L, x: x.item(), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                    grad=False),
             OpSpec("Tensor.__float__", lambda L, x: float(x), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                    grad=False),
             OpSpec("Tensor.__int__", lambda L, x: int(x), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                    grad=False),
             OpSpec("Tensor.__bool__", lambda L, x: bool(x), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                    grad=False),
             OpSpec("Tensor.__len__", lambda L, x: len(x), tensor_only, dtypes=("float32",), grad=False),
             OpSpec("Tensor.__iter__", lambda L, x: list(iter(x)), tensor_only, dtypes=("float32", "int64"),
                    exact=True),
             OpSpec("Tensor.size", lambda L, x, *a: x.size(*a), _size_cases, dtypes=("float32",), grad=False),
             OpSpec("Tensor.shape", lambda L, x: x.shape, tensor_only, dtypes=("float32",), grad=False),
             OpSpec("Tensor.dim", lambda L, x: x.dim(), tensor_only, dtypes=("float32",), grad=False),
             OpSpec("Tensor.ndim", lambda L, x: x.ndim, tensor_only, dtypes=("float32",), grad=False),
             OpSpec("Tensor.numel", lambda L, x: x.numel(), tensor_only, dtypes=("float32",), grad=False),
             OpSpec("Tensor.dtype", lambda L, x: x.dtype, tensor_only, dtypes=ALL, grad=False),
             OpSpec("Tensor.device", lambda L, x: x.device, tensor_only, dtypes=("float32",), grad=False,
                    checks="``str(x.device)``"),
             OpSpec("Tensor.is_floating_point", lambda L, x: x.is_floating_point(), tensor_only, dtypes=ALL, grad=False),
             OpSpec("Tensor.element_size", lambda L, x: x.element_size(), tensor_only, dtypes=ALL, grad=False),
             OpSpec("lumina.is_floating_point", lambda L, x: L.is_floating_point(x), tensor_only, dtypes=ALL,
                    grad=False),
             OpSpec("lumina.is_tensor", lambda L, x: L.is_tensor(x), tensor_only, dtypes=("float32", "int64"),
                    grad=False),
             OpSpec("lumina.numel", lambda L, x: L.numel(x), tensor_only, dtypes=("float32",), grad=False),
             OpSpec("lumina.get_default_dtype", lambda L, x: L.get_default_dtype(), tensor_only, dtypes=("float32",),
                    grad=False)]
    return rows


EXCLUDED: dict[str, str] = {
    "lumina.Size": "a class (the type of shapes): Tensor.shape / Tensor.size rows compare it; tests/test_torch_basics.py",
    "lumina.device": "a class: tests/test_torch_basics.py compares it with torch.device",
}
"""This family's namesakes not run by the harness, each with the reason."""
