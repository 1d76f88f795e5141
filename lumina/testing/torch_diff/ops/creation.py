"""Creation rows: zeros/ones/empty (and ``_like``), full / full_like, ``Tensor.new_*``, arange,
linspace / logspace, eye, meshgrid / cartesian_prod, tensor (the dtype it infers), the random
creators, compared on dtype, shape and range (lumina's generator is its own), the diagonals
(diag, diagonal, diag_embed, diagflat, trace) and the NumPy / DLPack importers."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

import lumina

from ..cases import ALL, FLOATS, Arr, Case, Dt
from ..spec import OpSpec
from ..strategies import array, dim_of, rarely, shapes, wants_grad
from .common import methods
from ..tensors import lumina_numpy


EXCLUDED: dict[str, str] = {
    "Tensor.__dlpack__": "a protocol method returning a capsule, not a tensor: tests/test_interop.py round-trips "
                         "lumina tensors through torch.from_dlpack and np.from_dlpack and checks the shared memory",
    "Tensor.__dlpack_device__": "a protocol method returning the (device type, index) pair: tests/test_interop.py "
                                "compares it with torch's",
}
"""This family's namesakes not run by the harness, each with the reason."""

_SHARED = ("float32", "float64", "float16", "int64", "int32", "bool")   # the dtypes torch.from_numpy takes too


@st.composite
def _import_cases(draw, dtype, strided=False):
    """A NumPy array (passed as it is, not as a tensor); for from_dlpack sometimes a transposed or
    sliced one (torch keeps its strides, lumina copies it: copy=None)."""
    arr = draw(array(dtype, draw(shapes(0, 3))))
    if strided and arr.ndim >= 2 and draw(st.booleans()):
        arr = arr.T
    elif strided and arr.ndim >= 1 and draw(st.booleans()):
        arr = arr[::2]
    return Case((arr,), dtype=dtype)


@st.composite
def _creation_cases(draw, dtype, like=False, fill=False):
    shape = draw(shapes(0, 3))
    if like:
        x = Arr(draw(array(dtype, shape)))
        kw = {"dtype": Dt(draw(st.sampled_from(ALL)))} if draw(st.booleans()) else {}
        return Case((x,), kw, dtype=dtype)
    kw = {"dtype": Dt(dtype)} if draw(st.booleans()) else {}
    if fill:
        value = draw(st.one_of(st.sampled_from([0, 1, -2, 2.5, -0.0, math.inf, math.nan, True, False]),
                               st.floats(-4, 4)))
        if rarely(draw, 10):
            shape = (2.5,) + shape         # a non-integer size: torch raises
        return Case((shape, value), kw, dtype=dtype)
    form = draw(st.integers(0, 3))
    if form == 0 and rarely(draw, 10):
        shape = shape + (-1,)              # a negative size: torch raises
    if form == 1 and rarely(draw, 10):
        shape = (2.5,)
    return Case(tuple(shape) if form == 0 else (shape,) if form == 1 else (list(shape),), kw, dtype=dtype)


@st.composite
def _arange_cases(draw, dtype):
    nums = st.one_of(st.integers(-6, 6), st.sampled_from([0.5, -1.5, 2.25, 0.1, 3.0]))
    form = draw(st.integers(0, 2))
    kw = {"dtype": Dt(dtype)} if draw(st.integers(0, 2)) == 0 else {}
    if form == 0:
        return Case((draw(nums),), kw, dtype=dtype)
    if form == 1:
        return Case((draw(nums), draw(nums)), kw, dtype=dtype)
    return Case((draw(nums), draw(nums), draw(st.one_of(nums, st.sampled_from([0, -1, -0.5])))), kw, dtype=dtype)


@st.composite
def _eye_cases(draw, dtype):
    """``eye(n)``, ``eye(n, m)``, sometimes with ``dtype=``; a negative size raises."""
    n = draw(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 4))
    args = (n,) if draw(st.booleans()) else (n, draw(st.integers(0, 4)))
    return Case(args, {"dtype": Dt(dtype)} if draw(st.booleans()) else {}, dtype=dtype)


@st.composite
def _tensor_cases(draw, dtype):
    shape = draw(shapes(0, 3))
    vals = draw(array(dtype, shape))
    data = vals.tolist() if dtype != "bfloat16" else vals.astype(np.float64).tolist()
    form = draw(st.integers(0, 5))
    if form == 0:
        return Case((data,), {"dtype": Dt(draw(st.sampled_from(ALL)))}, dtype=dtype)
    if form == 1 and isinstance(data, list) and len(data) >= 2 and isinstance(data[0], list):
        return Case(([data[0], data[1][:-1] or [1]],), dtype=dtype)   # ragged: torch raises
    if form == 2:
        return Case((vals,), dtype=dtype)                             # a NumPy array keeps its dtype
    if form == 3:
        scalars = [1, 2.5, True, -0.0, math.nan, [1, 2.5], [True, 2], [[1], [2]]]
        return Case((draw(st.sampled_from(scalars)),), dtype=dtype)
    return Case((data,), dtype=dtype)


def _tensor_call(L, data, **kw):
    if isinstance(data, np.ndarray) and data.dtype == ml_dtypes.bfloat16:
        data = data.astype(np.float32)
    return L.tensor(data, **kw)


@st.composite
def _random_creation(draw, dtype, op):
    shape = draw(shapes(0, 3))
    if op == "randint":
        lo = draw(st.integers(-3, 3))
        return Case((lo, lo + draw(st.integers(1, 5)), shape), dtype=dtype)
    if op.endswith("_like"):
        return Case((Arr(draw(array(dtype, shape))),), dtype=dtype)
    return Case(tuple(shape), {"dtype": Dt(dtype)} if draw(st.booleans()) else {}, dtype=dtype)


def _random_bounds(op):
    def extra(case, lout, tout):
        if not isinstance(lout, lumina.Tensor):
            return []
        v = lumina_numpy(lout)
        if op in ("rand", "rand_like") and v.size and not ((v >= 0) & (v < 1)).all():
            return [f"{op}: values outside [0, 1): {v.min()}..{v.max()}"]
        if op == "randint" and v.size and not ((v >= case.args[0]) & (v < case.args[1])).all():
            return [f"randint: values outside [{case.args[0]}, {case.args[1]}): {v.min()}..{v.max()}"]
        return []
    return extra


@st.composite
def _full_like_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes(0, 3)))))
    value = draw(st.sampled_from([0, 1, -2, 2.5, -0.0, True, False, 7]))
    kw = {"dtype": Dt(draw(st.sampled_from(ALL)))} if draw(st.booleans()) else {}
    return Case((x, value), kw, dtype=dtype)


@st.composite
def _new_cases(draw, dtype, op):
    """``x.new_zeros(*size)`` / ``(size)``, ``x.new_full(size, value)``, ``x.new_tensor(data)``,
    sometimes with ``dtype=``."""
    x = Arr(draw(array(dtype, draw(shapes(0, 2)))))
    shape = draw(shapes(0, 3))
    kw = {"dtype": Dt(draw(st.sampled_from(ALL)))} if draw(st.booleans()) else {}
    if op == "new_full":
        return Case((x, shape, draw(st.sampled_from([0, 1, -2, 2.5, True]))), kw, dtype=dtype)
    if op == "new_tensor":
        return Case((x, draw(array("float32", shape, -9, 9)).tolist()), kw, dtype=dtype)
    return Case((x, *shape) if draw(st.booleans()) else (x, shape), kw, dtype=dtype)


@st.composite
def _space_cases(draw, dtype, log=False):
    ends = st.one_of(st.integers(-6, 6), st.floats(-6, 6, allow_nan=False).map(lambda v: round(v, 2)))
    steps = -1 if rarely(draw, 12) else draw(st.integers(0, 40))
    kw = {"dtype": Dt(dtype)} if draw(st.booleans()) else {}
    args = (draw(ends), draw(ends), steps)
    if log and draw(st.booleans()):
        args += (draw(st.sampled_from([2.0, 10.0, 0.5, 3])),)
    return Case(args, kw, dtype=dtype)


@st.composite
def _grid_cases(draw, dtype, prod=False):
    n = draw(st.integers(1, 3))
    g = wants_grad(dtype, True)
    ranks = st.just(1) if prod else st.integers(0, 1)
    xs = [Arr(draw(array(dtype, draw(shapes(r, r)))), g) for r in [draw(ranks) for _ in range(n)]]
    if prod:
        return Case(tuple(xs), dtype=dtype)
    return Case(tuple(xs), {"indexing": draw(st.sampled_from(["ij", "xy"]))}, dtype=dtype)


@st.composite
def _diagonal_cases(draw, dtype, op):
    """``diagonal(x, offset, dim1, dim2)``, ``diag_embed(x, offset, dim1, dim2)``, ``diag(x, d)``,
    ``diagflat(x, offset)``, ``trace(x)``; offsets past the edge give empty diagonals."""
    g = wants_grad(dtype, True)
    if op == "trace":
        rank = 3 if rarely(draw, 12) else 2
        return Case((Arr(draw(array(dtype, draw(shapes(rank, rank, max_side=4)))), g),), dtype=dtype)
    if op == "diag":
        rank = 3 if rarely(draw, 12) else draw(st.integers(1, 2))
    elif op == "diagflat":
        rank = draw(st.integers(0, 3))
    else:
        rank = draw(st.integers(2 if op == "diagonal" else 1, 3))
    x = Arr(draw(array(dtype, draw(shapes(rank, rank, max_side=4)))), g)
    offset = draw(st.integers(-5, 5))
    if op in ("diag", "diagflat"):
        return Case((x, offset), dtype=dtype)
    out_rank = rank if op == "diagonal" else rank + 1
    d1, d2 = dim_of(draw, out_rank), dim_of(draw, out_rank)
    return Case((x, offset, d1, d2), dtype=dtype)


def specs() -> list[OpSpec]:
    """The creation rows."""
    rows: list[OpSpec] = []
    for name in ("zeros", "ones"):
        rows += [OpSpec(f"lumina.{name}", (lambda n: lambda L, *s, **k: getattr(L, n)(*s, **k))(name),
                        _creation_cases, dtypes=ALL, exact=True, grad=False)]
        rows += [OpSpec(f"lumina.{name}_like", (lambda n: lambda L, x, **k: getattr(L, n + "_like")(x, **k))(name),
                        lambda d: _creation_cases(d, like=True), dtypes=ALL, exact=True, grad=False)]
    rows += [OpSpec("lumina.full", lambda L, s, v, **k: L.full(s, v, **k), lambda d: _creation_cases(d, fill=True),
                    dtypes=ALL, exact=True, grad=False, checks="bool/int/float fill values and their inferred dtype"),
             OpSpec("lumina.arange", lambda L, *a, **k: L.arange(*a, **k), _arange_cases, dtypes=ALL, exact=True,
                    grad=False),
             OpSpec("lumina.eye", lambda L, *a, **k: L.eye(*a, **k), _eye_cases, dtypes=ALL, exact=True, grad=False),
             OpSpec("lumina.tensor", _tensor_call, _tensor_cases, dtypes=ALL, exact=True, grad=False,
                    checks="the dtype inferred from Python and NumPy data; ragged lists raise")]
    for name in ("rand", "randn"):
        rows += [OpSpec(f"lumina.{name}", (lambda n: lambda L, *s, **k: getattr(L, n)(*s, **k))(name),
                        (lambda n: lambda d: _random_creation(d, n))(name), dtypes=FLOATS, values=False, grad=False,
                        check_extra=_random_bounds(name),
                        checks="dtype and shape (values: a different generator); rand in [0, 1)"),
                 OpSpec(f"lumina.{name}_like", (lambda n: lambda L, x: getattr(L, n + "_like")(x))(name),
                        (lambda n: lambda d: _random_creation(d, n + "_like"))(name), dtypes=FLOATS, values=False,
                        grad=False, check_extra=_random_bounds(name + "_like"), checks="dtype and shape")]
    rows += [OpSpec("lumina.full_like", lambda L, x, v, **k: L.full_like(x, v, **k), _full_like_cases, dtypes=ALL,
                    exact=True, grad=False, checks="the input's dtype, or ``dtype=``; the fill value cast to it")]
    for name in ("new_zeros", "new_ones", "new_full", "new_tensor"):
        rows += [OpSpec(f"Tensor.{name}", (lambda n: lambda L, x, *a, **k: getattr(x, n)(*a, **k))(name),
                        (lambda n: lambda d: _new_cases(d, n))(name), dtypes=ALL, exact=True, grad=False,
                        checks="``self``'s dtype unless ``dtype=``")]
    rows += [OpSpec("Tensor.new_empty", lambda L, x, *a, **k: x.new_empty(*a, **k),
                    lambda d: _new_cases(d, "new_empty"), dtypes=ALL, values=False, grad=False,
                    checks="dtype and shape (torch's values are uninitialised)"),
             OpSpec("lumina.empty", lambda L, *s, **k: L.empty(*s, **k), _creation_cases, dtypes=ALL, values=False,
                    grad=False, checks="dtype and shape (torch's values are uninitialised)"),
             OpSpec("lumina.empty_like", lambda L, x, **k: L.empty_like(x, **k),
                    lambda d: _creation_cases(d, like=True), dtypes=ALL, values=False, grad=False,
                    checks="dtype and shape (torch's values are uninitialised)"),
             OpSpec("lumina.linspace", lambda L, *a, **k: L.linspace(*a, **k), _space_cases,
                    dtypes=("float32", "float64", "int64", "int32"), ulps=1, grad=False,
                    checks="torch's two-ended fill; both ends exact; negative steps raise"),
             OpSpec("lumina.logspace", lambda L, *a, **k: L.logspace(*a, **k), lambda d: _space_cases(d, True),
                    dtypes=("float32", "float64"), ulps=2, grad=False, checks="``base``"),
             OpSpec("lumina.meshgrid", lambda L, *xs, **k: L.meshgrid(*xs, **k), _grid_cases, dtypes=ALL,
                    exact=True, checks="'ij' and 'xy'; 0-d inputs; gradients sum over the copies"),
             OpSpec("lumina.cartesian_prod", lambda L, *xs: L.cartesian_prod(*xs), lambda d: _grid_cases(d, True),
                    dtypes=ALL, exact=True, checks="rows in itertools.product order")]
    rows += [OpSpec("lumina.from_numpy", lambda L, a: L.from_numpy(a), _import_cases, dtypes=_SHARED, exact=True,
                    grad=False, checks="the array's dtype and shape; memory sharing: tests/test_interop.py"),
             OpSpec("lumina.from_dlpack", lambda L, a: L.from_dlpack(a), lambda d: _import_cases(d, True),
                    dtypes=_SHARED, exact=True, grad=False,
                    checks="NumPy producers, strided ones included; torch producers: tests/test_interop.py")]
    for name in ("diagonal", "diag_embed", "diag", "diagflat", "trace"):
        rows += methods(name, cases=(lambda n: lambda d: _diagonal_cases(d, n))(name),
                        dtypes=FLOATS + ("int64", "int32") + (() if name == "trace" else ("bool",)),
                        exact=name != "trace", accumulates=name == "trace",
                        checks="offsets past the edge (empty diagonals); dims counted from either end; errors")
    rows += [OpSpec("lumina.randint", lambda L, lo, hi, s: L.randint(lo, hi, s),
                    lambda d: _random_creation(d, "randint"), dtypes=("int64",), values=False, grad=False,
                    check_extra=_random_bounds("randint"), checks="dtype, shape, values in [low, high)")]
    return rows
