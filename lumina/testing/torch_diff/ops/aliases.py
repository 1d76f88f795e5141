"""Rows of torch's aliases and the function forms of Tensor methods (``lumina.tensor.functions``):
the comparisons by name, divide / multiply / subtract / true_divide / negative / absolute / fix,
swapaxes / swapdims, concat / concatenate, broadcast_to, isclose / allclose / equal / is_nonzero,
as_tensor / asarray / scalar_tensor; the products (``lumina.tensor.products``), the stacking family
(``lumina.tensor.stacking``), nansum / nanmean / var_mean / std_mean / count_nonzero / diff
(``lumina.tensor.summaries``), nonzero / argwhere / triu_indices / tril_indices
(``lumina.tensor.positions``) and torch's top-level dropout / alpha_dropout. An alias reuses the
case strategy of the row of the op it names."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, FLOATS, INTS, Arr, Case, Dt
from ..spec import OpSpec
from ..strategies import (array, binary_cases, binary_specials, dim_of, rarely, reduce_cases, reduce_specials, shapes,
                          unary_cases, unary_specials, wants_grad)
from .common import methods
from .elementwise import _arith_cases, _arith_specials
from .functional import _dropout_cases, _dropout_check, _softmax_cases, _softmax_fixed
from .functional_more import _alpha_check, _alpha_dropout_cases
from .indexing import _leaf_sometimes, index_put_cases
from .inplace import _clamp_inplace_cases, _copy_of, _fill_cases, _inplace, _inplace_cases
from .reductions import _var_extra, _var_fixed, _var_positional
from .shapes import _cat_cases, _expand_cases, _transpose_cases

_COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal")


@st.composite
def _close_cases(draw, dtype, form="isclose"):
    """``isclose(x, y, rtol, atol, equal_nan)``: ``y`` a perturbation of ``x`` (broadcast), NaN and
    infinities among both; rarely another dtype or a negative tolerance (torch raises)."""
    shape = draw(shapes(0, 3))
    x = draw(array(dtype, shape))
    if dtype in FLOATS:
        y = (x.astype(np.float64) * (1 + draw(st.sampled_from([0, 1e-9, 1e-6, 1e-4, 1e-2])))).astype(x.dtype)
        if x.size and draw(st.booleans()):
            y = y.copy()
            y.reshape(-1)[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([math.nan, math.inf, 0.5]))
    else:
        y = draw(array(dtype, shape))
    ydt = dtype
    if rarely(draw, 12):
        ydt = draw(st.sampled_from(ALL))
        y = draw(array(ydt, shape))
    if form == "equal" and draw(st.integers(0, 3)) == 0:
        y = np.concatenate([y.reshape(-1), y.reshape(-1)[:1]]) if y.size else np.zeros(1, y.dtype)
    kw = {}
    if form != "equal":
        if draw(st.booleans()):
            kw["rtol"] = draw(st.sampled_from([0.0, 1e-3, 1e-7, -1.0 if rarely(draw, 8) else 0.1]))
        if draw(st.booleans()):
            kw["atol"] = draw(st.sampled_from([0.0, 1e-5, 1.0]))
        if draw(st.booleans()):
            kw["equal_nan"] = draw(st.booleans())
    return Case((Arr(x), Arr(y)), kw, dtype=dtype)


def _close_fixed(dtype):
    s = binary_specials(dtype, differentiable=False)[0].args
    return [Case(s, dtype=dtype), Case(s, {"equal_nan": True}, dtype=dtype)]


@st.composite
def _nonzero_cases(draw, dtype):
    shape = draw(st.sampled_from([(), (1,), (1, 1), (1, 1, 1)] + [(2,), (0,), (1, 2)] * rarely(draw, 6)))
    return Case((Arr(draw(array(dtype, shape))),), dtype=dtype)


@st.composite
def _bound_cases(draw, dtype):
    """``clamp_min(x, bound)`` / ``clamp_max``: a number (NaN among them) or a tensor that
    broadcasts, of this dtype or another."""
    sa, sb = draw(shapes()), draw(shapes(0, 2))
    x = Arr(draw(array(dtype, sa)), wants_grad(dtype, True))
    if draw(st.booleans()):
        return Case((x, draw(st.sampled_from([0, -1, 2.5, math.nan, -math.inf]))), dtype=dtype)
    odt = dtype if draw(st.integers(0, 3)) else draw(st.sampled_from(FLOATS[:2] + INTS))
    return Case((x, Arr(draw(array(odt, tuple(sa[len(sa) - len(sb):]) if len(sb) <= len(sa) else sb)),
                        wants_grad(odt, True))), dtype=dtype)


@st.composite
def _select_cases(draw, dtype):
    shape = draw(shapes(0 if rarely(draw, 10) else 1, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    d = dim_of(draw, len(shape))
    size = shape[d] if shape and isinstance(d, int) and -len(shape) <= d < len(shape) else 1
    if size == 0:
        return Case((x, d, draw(st.integers(-1, 0))), dtype=dtype)     # nothing to select: torch raises
    return Case((x, d, draw(st.integers(-size - rarely(draw, 8), size - 1 + rarely(draw, 8)))), dtype=dtype)


def _twice_overflows(case: Case) -> bool:
    x = case.args[0]
    if not x.grad:
        return False
    v = x.value.astype(np.float64)
    return bool((np.abs(v[np.isfinite(v)]) > float(ml_dtypes.finfo(x.value.dtype).max) / 2).any())


_SQUARE_SKIP = (("gradients where 2 x overflows: torch's backward forms 2 x first (inf), lumina's x g + x g "
                 "is the finite true value (see lumina.square)", _twice_overflows),)


def _alias_rows() -> list[OpSpec]:
    rows: list[OpSpec] = []
    for name in _COMPARISONS:
        rows += methods(name, cases=binary_cases(differentiable=False), dtypes=ALL, exact=True, grad=False,
                        fixed=lambda d: binary_specials(d, False))
    alpha = st.one_of(st.just({}), st.fixed_dictionaries({"alpha": st.sampled_from([2, -1, 0, 0.5, True])}))
    modes = st.one_of(st.just({}), st.fixed_dictionaries({"rounding_mode": st.sampled_from([None, "trunc", "floor",
                                                                                          "bogus"])}))
    rows += methods("divide", cases=_arith_cases(modes), dtypes=FLOATS[:2] + INTS, ulps=1, fixed=_arith_specials,
                    checks="rounding_mode None / trunc / floor / invalid (div's row)")
    rows += methods("true_divide", cases=_arith_cases(), dtypes=FLOATS[:2] + INTS, ulps=1, fixed=_arith_specials,
                    checks="integers divide to floats")
    rows += methods("multiply", cases=_arith_cases(), dtypes=ALL, exact=True, fixed=_arith_specials)
    rows += methods("subtract", cases=_arith_cases(alpha), dtypes=ALL, exact=True, fixed=_arith_specials,
                    checks="alpha; bool operands raise")
    for name in ("negative", "absolute", "fix"):
        rows += methods(name, cases=unary_cases(), dtypes=ALL, exact=True, fixed=unary_specials)
    inplace_checks = "returns self; on a leaf that requires grad it raises (the rows of div_ / mul_ / sub_ / clamp_)"
    for name in ("divide_", "true_divide_", "multiply_", "subtract_"):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), _inplace_cases(1), dtypes=("float32", "int64", "bool"),
                        exact=name not in ("divide_", "true_divide_"), ulps=8, checks=inplace_checks)]
    for name in ("negative_", "fix_"):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), _inplace_cases(0), dtypes=("float32", "int64", "bool"),
                        exact=True, checks=inplace_checks)]
    for name in ("clamp_min_", "clamp_max_"):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), _bound_cases, dtypes=FLOATS[:2] + INTS[:1], exact=True,
                        signed_zeros=False, checks=inplace_checks)]
    for name in ("arcsinh", "arccosh", "arctanh"):     # the rows of asinh / acosh / atanh (elementwise_more)
        rows += methods(name, cases=unary_cases(), dtypes=ALL, ulps=4, fixed=unary_specials)
        rows += [OpSpec(f"Tensor.{name}_", _inplace(f"{name}_"), _inplace_cases(0), dtypes=("float32", "int64"),
                        ulps=4, checks="returns self; integers raise (the result is float)")]
    rows += methods("square", cases=unary_cases(), dtypes=ALL, exact=True, fixed=unary_specials, skip=_SQUARE_SKIP,
                    checks="bool squares to int64")
    for name in ("clamp_min", "clamp_max"):
        rows += methods(name, cases=_bound_cases, dtypes=FLOATS + INTS, exact=True, signed_zeros=False,
                        checks="a number (NaN too) or a broadcast tensor of another dtype")
    rows += methods("select", cases=_select_cases, dtypes=ALL, exact=True,
                    checks="negative dims and indices; out of range and 0-d raise")
    for name in ("softmax", "log_softmax"):
        rows.append(OpSpec(f"lumina.{name}", (lambda n: lambda L, x, d: getattr(L, n)(x, d))(name), _softmax_cases,
                           normwise=True, dtypes=FLOATS, ulps=16, accumulates=name == "log_softmax",
                           fixed=_softmax_fixed,
                           checks=f"F.{name}'s row, through torch.{name}"))
    for name in ("swapaxes", "swapdims"):
        rows += methods(name, cases=_transpose_cases, dtypes=ALL, exact=True)
    for name in ("concat", "concatenate"):
        rows.append(OpSpec(f"lumina.{name}", (lambda n: lambda L, ts, d: getattr(L, n)(ts, d))(name), _cat_cases,
                           dtypes=ALL, exact=True))
    rows.append(OpSpec("lumina.broadcast_to", lambda L, x, s: L.broadcast_to(x, s),
                       lambda d: _expand_cases(d, method=False), dtypes=ALL, exact=True))
    rows += methods("isclose", cases=_close_cases, dtypes=ALL, exact=True, grad=False, fixed=_close_fixed,
                    checks="rtol / atol / equal_nan, infinities, differing dtypes and negative tolerances raise")
    rows += methods("allclose", cases=_close_cases, dtypes=ALL, grad=False, fixed=_close_fixed,
                    checks="a Python bool")
    rows += methods("equal", cases=lambda d: _close_cases(d, "equal"), dtypes=ALL, grad=False,
                    checks="a Python bool; differing shapes are unequal; dtypes promote")
    rows += methods("is_nonzero", cases=_nonzero_cases, dtypes=ALL, grad=False,
                    checks="a Python bool; more or fewer than one element raises")
    return rows


@st.composite
def _vector_cases(draw, dtype, op):
    """``dot`` / ``vdot`` (two vectors), ``mv`` (matrix, vector), ``addmv`` (and an ``input``
    that broadcasts, beta / alpha), ``addr`` (input, two vectors); rarely a wrong rank, size or
    dtype (torch raises)."""
    g = wants_grad(dtype, True)
    m, n = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    sa, sb = {"dot": ((n,), (n,)), "vdot": ((n,), (n,)), "mv": ((m, n), (n,)), "addmv": ((m, n), (n,)),
              "addr": ((m,), (n,))}[op]
    if rarely(draw, 10):
        sb = draw(st.sampled_from([(n + 1,), (n, 1), ()]))
    odt = draw(st.sampled_from(FLOATS[:2] + INTS)) if rarely(draw, 10) else dtype
    args = [Arr(draw(array(dtype, sa)), g), Arr(draw(array(odt, sb)), wants_grad(odt, True))]
    kw = {}
    if op in ("addmv", "addr"):
        out = (m,) if op == "addmv" else (m, n)
        si = tuple(1 if draw(st.booleans()) else d for d in out[draw(st.integers(0, len(out))):])
        args.insert(0, Arr(draw(array(dtype, si)), g))
        if draw(st.booleans()):
            kw["beta"] = draw(st.sampled_from([0, 1, 0.5, -2]))
        if draw(st.booleans()):
            kw["alpha"] = draw(st.sampled_from([1, 2, -0.5]))
        if dtype in INTS:
            kw = {k: int(v) for k, v in kw.items()}
    return Case(tuple(args), kw, dtype=dtype)


@st.composite
def _pair_cases(draw, dtype, op):
    """``inner`` / ``kron`` / ``tensordot`` operands: ranks 0 to 3, a shared last (inner) or
    leading (tensordot) part; ``tensordot``'s dims an int or two lists; rarely a mismatch."""
    g = wants_grad(dtype, True)
    sa = draw(shapes(0, 3))
    if op == "kron":
        sb = draw(shapes(0, 3))
    elif op == "inner":
        sb = tuple(draw(shapes(0, 2))) + (tuple(sa[-1:]) if sa and not rarely(draw, 10) else (2,))
    else:
        k = draw(st.integers(0, len(sa)))
        sb = tuple(sa[len(sa) - k:]) + tuple(draw(shapes(0, 2)))
    odt = draw(st.sampled_from(FLOATS[:2] + INTS)) if rarely(draw, 12) else dtype
    args = (Arr(draw(array(dtype, sa)), g), Arr(draw(array(odt, sb)), wants_grad(odt, True)))
    if op != "tensordot":
        return Case(args, dtype=dtype)
    if draw(st.booleans()):
        return Case(args, {"dims": k}, dtype=dtype)
    da = list(range(len(sa) - k, len(sa)))
    db = list(range(k))
    pairs = list(zip(da, db))
    pairs = draw(st.permutations(pairs)) if pairs else []
    return Case(args, {"dims": ([a - len(sa) * draw(st.booleans()) for a, _ in pairs], [b for _, b in pairs])},
                dtype=dtype)


_ADDMV_SKIP = (("torch's addmv with an empty matrix returns input's shape, not broadcast to the product's [n] "
                 "(input [1], mat [0, k] gives [1]): its shortcut for empty products copies input as it is",
                 lambda c: c.args[1].value.size == 0 and c.args[0].value.shape != c.args[1].value.shape[:1]),)


def _product_rows() -> list[OpSpec]:
    rows: list[OpSpec] = []
    for name in ("dot", "vdot", "mv", "addmv", "addr"):
        rows += methods(name, cases=(lambda n: lambda d: _vector_cases(d, n))(name), dtypes=FLOATS[:2] + INTS,
                        accumulates=True, ulps=8, skip=_ADDMV_SKIP if name == "addmv" else (),
                        checks="ranks, sizes and dtypes checked" + ("; beta and alpha, beta=0 ignores input"
                                                                   if name.startswith("add") else ""))
    for name in ("addmv_", "addr_"):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), (lambda n: lambda d: _vector_cases(d, n))(name[:-1]),
                        dtypes=FLOATS[:2] + INTS, accumulates=True, ulps=8,
                        skip=_ADDMV_SKIP if name == "addmv_" else (),
                        checks="returns self; an input that only broadcasts to the result raises")]
    for name in ("inner", "kron"):
        rows += methods(name, cases=(lambda n: lambda d: _pair_cases(d, n))(name), dtypes=FLOATS[:2] + INTS,
                        accumulates=True, ulps=8, checks="0-d operands; ranks that differ")
    rows.append(OpSpec("lumina.tensordot", lambda L, a, b, **k: L.tensordot(a, b, **k),
                       lambda d: _pair_cases(d, "tensordot"), dtypes=FLOATS[:2] + INTS, accumulates=True, ulps=8,
                       checks="dims an int or two lists (negative, permuted); dtypes that differ raise"))
    return rows


@st.composite
def _stack_cases(draw, dtype, op):
    """``hstack`` / ``vstack`` / ``dstack`` / ``column_stack``: one to three tensors of rank 0 to
    3 that agree where the op joins them (sometimes not: torch raises), dtypes mixed."""
    rank = draw(st.integers(0, 3))
    base = list(draw(shapes(rank, rank, 1, 3)))
    ts = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(base)
        axis = {"hstack": 1 if rank > 1 else 0, "vstack": 0, "dstack": 2, "column_stack": 1}[op]
        if axis < len(s) and (op != "column_stack" or rank > 1):
            # no 1-d empty tensors: torch's cat skips them (a legacy rule lumina's cat does not have)
            s[axis] = draw(st.integers(0 if rank > 1 else 1, 3))
        if rarely(draw, 10):
            s = s + [2]
        dt = dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
        ts.append(Arr(draw(array(dt, tuple(s))), wants_grad(dt, True)))
    return Case((ts,), dtype=dtype)


@st.composite
def _atleast_cases(draw, dtype):
    ts = [Arr(draw(array(dtype, draw(shapes(0, 3)))), wants_grad(dtype, True)) for _ in range(draw(st.integers(1, 3)))]
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((ts[0],), dtype=dtype)
    if form == 1:
        return Case(tuple(ts), dtype=dtype)
    return Case((ts,), dtype=dtype)


@st.composite
def _tensor_split_cases(draw, dtype):
    shape = draw(shapes(0 if rarely(draw, 10) else 1, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    d = dim_of(draw, len(shape))
    if draw(st.booleans()):
        spec = draw(st.integers(1, 5)) if not rarely(draw, 10) else 0
    else:
        spec = draw(st.lists(st.integers(-4, 5), max_size=3))
    if draw(st.booleans()):
        return Case((x, spec, d), dtype=dtype)
    return Case((x, spec), dtype=dtype)


@st.composite
def _broadcast_tensors_cases(draw, dtype):
    """One to three tensors whose shapes are suffixes of one shape with some sides 1; rarely one
    with a further dim that does not broadcast (torch raises)."""
    target = tuple(draw(shapes(0, 3)))
    arrs = []
    for _ in range(draw(st.integers(1, 3))):
        s = target[draw(st.integers(0, len(target))):]
        s = tuple(1 if draw(st.booleans()) else d for d in s)
        if rarely(draw, 10):
            s = s + (4,)
        arrs.append(Arr(draw(array(dtype, s)), wants_grad(dtype, True)))
    return Case(tuple(arrs), dtype=dtype)


@st.composite
def _block_diag_cases(draw, dtype):
    arrs = []
    for _ in range(draw(st.integers(1, 3))):
        rank = draw(st.integers(0, 3 if rarely(draw, 10) else 2))
        dt = dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
        arrs.append(Arr(draw(array(dt, draw(shapes(rank, rank)))), wants_grad(dt, True)))
    if any(a.value.shape == (0,) for a in arrs):
        # torch's backward does not move its row offset past a [1, 0] block, so the later blocks'
        # gradients come from the wrong rows: values only (tests/test_torch_functions.py checks
        # lumina's gradients by finite differences)
        arrs = [Arr(a.value) for a in arrs]
    return Case(tuple(arrs), dtype=dtype)


@st.composite
def _rot90_cases(draw, dtype):
    shape = draw(shapes(1 if rarely(draw, 10) else 2, 4))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((x,), dtype=dtype)
    k = draw(st.integers(-5, 5))
    if form == 1:
        return Case((x, k), dtype=dtype)
    dims = [dim_of(draw, len(shape), errors=False), dim_of(draw, len(shape), errors=False)]
    if rarely(draw, 10):
        dims = dims + [0]
    return Case((x, k, dims), dtype=dtype)


@st.composite
def _flip_cases(draw, dtype):
    return Case((Arr(draw(array(dtype, draw(shapes(0, 3)))), wants_grad(dtype, True)),), dtype=dtype)


def _stacking_rows() -> list[OpSpec]:
    rows: list[OpSpec] = []
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        rows.append(OpSpec(f"lumina.{name}", (lambda n: lambda L, ts: getattr(L, n)(ts))(name),
                           (lambda n: lambda d: _stack_cases(d, n))(name), dtypes=ALL, exact=True,
                           checks="0- to 3-d inputs, dtypes promote, shapes that do not join raise"))
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        rows.append(OpSpec(f"lumina.{name}", (lambda n: lambda L, *ts: getattr(L, n)(*ts))(name), _atleast_cases,
                           dtypes=ALL, exact=True, checks="one tensor, several, or a list: tensor or tuple"))
    rows += methods("tensor_split", cases=_tensor_split_cases, dtypes=ALL, exact=True,
                    checks="sections (uneven, more than the size), indices (negative, decreasing, past the end); "
                           "a 0-d input or 0 sections raise")
    rows.append(OpSpec("lumina.broadcast_tensors", lambda L, *ts: L.broadcast_tensors(*ts), _broadcast_tensors_cases,
                       dtypes=ALL, exact=True, checks="shapes that do not broadcast raise"))
    rows.append(OpSpec("lumina.block_diag", lambda L, *ts: L.block_diag(*ts), _block_diag_cases, dtypes=ALL,
                       exact=True, checks="0-, 1- and 2-d blocks, dtypes promote, 3-d raises"))
    rows += methods("rot90", cases=_rot90_cases, dtypes=ALL, exact=True,
                    checks="k of any sign, dims negative; equal dims, 3 dims or a 1-d input raise")
    for name in ("fliplr", "flipud"):
        rows += methods(name, cases=_flip_cases, dtypes=ALL, exact=True, checks="too few dims raise")
    return rows


@st.composite
def _diff_cases(draw, dtype):
    """``diff(x, n, dim, prepend, append)``: orders past the size, prepend / append of other
    lengths along dim (rarely of another rank: torch raises), a 0-d input (raises)."""
    shape = list(draw(shapes(0 if rarely(draw, 10) else 1, 3)))
    x = Arr(draw(array(dtype, tuple(shape))), wants_grad(dtype, True))
    kw = {}
    if draw(st.booleans()):
        kw["n"] = draw(st.integers(0, 4))
    d = dim_of(draw, len(shape), errors=False) if shape else -1
    if shape and draw(st.booleans()):
        kw["dim"] = d
    for side in ("prepend", "append"):
        if shape and draw(st.integers(0, 2)) == 0:
            s = list(shape)
            s[d] = draw(st.integers(0, 2))
            if rarely(draw, 10):
                s = s[1:]
            kw[side] = Arr(draw(array(dtype, tuple(s))), wants_grad(dtype, True))
    return Case((x,), kw, dtype=dtype)


@st.composite
def _count_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)))
    form = draw(st.integers(0, 2))
    if form == 0 or not shape:
        return Case((x,), dtype=dtype)
    if form == 1:
        return Case((x, dim_of(draw, len(shape))), dtype=dtype)
    return Case((x, tuple(draw(st.permutations(range(len(shape))))[:draw(st.integers(1, len(shape)))])), dtype=dtype)


@st.composite
def _nonzero_position_cases(draw, dtype):
    x = draw(array(dtype, draw(shapes(0, 3))))
    if x.size and draw(st.booleans()):
        x = np.where(draw(array("bool", x.shape)), x, np.zeros_like(x))
    if draw(st.booleans()):
        return Case((Arr(x),), {"as_tuple": draw(st.booleans())}, dtype=dtype)
    return Case((Arr(x),), dtype=dtype)


@st.composite
def _triangle_index_cases(draw, dtype):
    row, col = draw(st.integers(-1 if rarely(draw, 10) else 0, 5)), draw(st.integers(0, 5))
    args = (row, col) if draw(st.booleans()) else (row, col, draw(st.integers(-6, 6)))
    kw = {"dtype": Dt(draw(st.sampled_from(["int64", "int32"] + ["float32"] * rarely(draw, 8))))} \
        if draw(st.booleans()) else {}
    return Case(args, kw, dtype=dtype)


@st.composite
def _conversion_cases(draw, dtype, op):
    """``as_tensor`` / ``asarray`` of a tensor, a nested list or a number, sometimes with a
    dtype; ``scalar_tensor`` of a number."""
    if op == "scalar_tensor":
        s = draw(st.sampled_from([0, 3, -2.5, True, math.inf, math.nan]))
        kw = {"dtype": Dt(dtype)} if draw(st.booleans()) else {}
        return Case((s,), kw, dtype=dtype)
    x = draw(array(dtype, draw(shapes())))
    data = Arr(x) if draw(st.booleans()) else x.tolist() if dtype in ("float32", "int64", "bool") else Arr(x)
    kw = {}
    if draw(st.booleans()):
        kw["dtype"] = Dt(draw(st.sampled_from(["float32", "float64", "int64"])))
    if op == "asarray" and draw(st.booleans()):
        kw["copy"] = True
    return Case((data,), kw, dtype=dtype)


def _only_nan_slice(case: Case) -> bool:
    """A ``reduce_cases`` case with a slice of NaN only, whose gradient requested."""
    x = case.args[0]
    if not x.grad or x.value.size == 0:
        return False
    dim = case.args[1] if len(case.args) > 1 else None
    return bool(np.isnan(x.value.astype(np.float64)).all(axis=dim).any())


_NANMEAN_SKIP = (("a slice of NaN only: torch's gradient there is NaN (1 / 0 times its 0 mask of the NaN elements), "
                  "lumina's 0, as the docstring of lumina.nanmean says", _only_nan_slice),)


def _huge_float64(case: Case) -> bool:
    x = case.args[0].value
    return x.dtype == np.float64 and bool((np.abs(x[np.isfinite(x)]) > 1e300).any())


_MOMENTS_SKIP = (("float64 slices near float64's largest values: var's known difference (its mean overflows, "
                  "lumina.tensor.reductions.scaled_moments), which var_mean and std_mean share", _huge_float64),)


def _summary_rows() -> list[OpSpec]:
    rows: list[OpSpec] = []
    rows += methods("nansum", cases=reduce_cases(), dtypes=ALL, accumulates=True, fixed=reduce_specials,
                    checks="NaN read as 0 (its gradient 0); integers and bool sum to int64")
    rows += methods("nanmean", cases=reduce_cases(), dtypes=FLOATS + INTS, accumulates=True, fixed=reduce_specials,
                    skip=_NANMEAN_SKIP, checks="NaN skipped, a slice of NaN only is NaN; integers raise")
    for name in ("var_mean", "std_mean"):
        rows.append(OpSpec(f"lumina.{name}", (lambda n: lambda L, x, *a, **k: getattr(L, n)(x, *a, **k))(name),
                           reduce_cases(extra=_var_extra), dtypes=FLOATS, ulps=16, accumulates=True,
                           fixed=_var_fixed, skip=_MOMENTS_SKIP,
                           checks="``unbiased`` and ``correction`` as var's; a tuple of two"))
        rows.append(OpSpec(f"lumina.{name}#positional", (lambda n: lambda L, x, *a: getattr(L, n)(x, *a))(name),
                           _var_positional, dtypes=("float32",), ulps=16, accumulates=True))
    rows += methods("count_nonzero", cases=_count_cases, dtypes=ALL, exact=True, grad=False,
                    checks="NaN counts, -0.0 does not; a tuple of dims")
    rows += methods("diff", cases=_diff_cases, dtypes=ALL, exact=True,
                    checks="orders past the size, prepend / append, bool by !=; a 0-d input or another rank raise")
    return rows


def _position_rows() -> list[OpSpec]:
    rows: list[OpSpec] = []
    rows += methods("nonzero", cases=_nonzero_position_cases, dtypes=ALL, exact=True, grad=False,
                    checks="as_tuple (a 0-d input too); eager only: tests/test_torch_functions.py checks the "
                           "LuminaTraceError inside @lumina.compile")
    rows += methods("argwhere", cases=lambda d: _nonzero_position_cases(d).filter(lambda c: not c.kwargs),
                    dtypes=ALL, exact=True, grad=False, checks="eager only")
    for name in ("triu_indices", "tril_indices"):
        rows.append(OpSpec(f"lumina.{name}", (lambda n: lambda L, *a, **k: getattr(L, n)(*a, **k))(name),
                           _triangle_index_cases, dtypes=("int64",), exact=True, grad=False,
                           checks="offsets past either corner, int32; negative sizes and float dtypes raise"))
    for name in ("as_tensor", "asarray", "scalar_tensor"):
        rows.append(OpSpec(f"lumina.{name}", (lambda n: lambda L, *a, **k: getattr(L, n)(*a, **k))(name),
                           (lambda n: lambda d: _conversion_cases(d, n))(name), dtypes=ALL, exact=True, grad=False,
                           checks="Python data: float32 / int64 defaults; dtype="))
    rows.append(OpSpec("lumina.dropout", lambda L, x, **k: L.dropout(x, k.get("p", 0.5), k.get("training", True)),
                       _dropout_cases, dtypes=("float32", "float64"), values=False, grad=False,
                       check_extra=_dropout_check, checks="F.dropout's row, positional (input, p, train)"))
    rows.append(OpSpec("lumina.alpha_dropout",
                       lambda L, x, **k: L.alpha_dropout(x, k.get("p", 0.5), k.get("training", False)),
                       _alpha_dropout_cases, values=False, grad=False, check_extra=_alpha_check,
                       checks="F.alpha_dropout's row, positional (input, p, train)"))
    return rows


def _in_place_function(name):
    """``y = x.clone()`` then ``L.<name>(y, *args)`` (with ``leaf=True`` on ``x`` itself): returns
    ``(y, result, result is y)``, as the in-place method rows (``inplace._inplace``)."""
    def call(L, x, *a, leaf=False, **kw):
        y = x if leaf else _copy_of(x)
        r = getattr(L, name)(y, *a, **kw)
        return y, r, r is y
    return call


def _in_place_rows() -> list[OpSpec]:
    checks = "returns input; on a leaf that requires grad it raises (the method's row)"
    rows = [OpSpec(f"lumina.{name}", _in_place_function(name), _clamp_inplace_cases, dtypes=FLOATS[:2] + INTS[:1],
                   exact=True, signed_zeros=False, checks=checks) for name in ("clamp_", "clip_")]
    rows += [OpSpec("lumina.fill_", _in_place_function("fill_"), _fill_cases, dtypes=("float32", "int64", "bool"),
                    exact=True, checks=checks),
             OpSpec("lumina.zero_", _in_place_function("zero_"), _inplace_cases(0), dtypes=("float32", "int64", "bool"),
                    exact=True, checks=checks),
             OpSpec("lumina.index_put_", _in_place_function("index_put_"), _leaf_sometimes(index_put_cases),
                    dtypes=("float32", "int64"), exact=True, checks=checks)]
    return rows


def specs() -> list[OpSpec]:
    """The alias, product, stacking, summary, position and in-place function rows."""
    return _alias_rows() + _product_rows() + _stacking_rows() + _summary_rows() + _position_rows() + _in_place_rows()
