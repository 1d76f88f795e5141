"""In-place rows: the ``_`` methods and augmented assignments (returning self, refused on a leaf that
requires grad, the gradient through a non-leaf), fill and masked fill, the scatters, ``x[key] =
value``, updates through views, ``no_grad`` updates of a leaf, and torch's version counter."""
from __future__ import annotations

import math
import operator

import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, FLOATS, INTS, Arr, Case, np_dtype
from ..spec import OpSpec
from ..strategies import array, broadcast_shapes, rarely, shapes, wants_grad
from .elementwise import clamp_cases
from .indexing import getitem_cases, scatter_cases


def _copy_of(x):
    """A non-leaf copy of ``x`` to update in place (``x`` itself is a leaf that may require grad)."""
    return x.clone()


def _inplace(name, operator=None):
    """``y = x.clone()`` then ``y.<name>(*args)`` (or ``y <op>= arg`` with ``operator``, e.g.
    ``operator.iadd``); with ``leaf=True`` on ``x`` itself (torch raises when ``x`` requires
    grad). Returns ``(y, result, result is y)``: the updated tensor, the returned one, and whether
    it is the same object (torch returns ``self``)."""
    def call(L, x, *a, leaf=False, **kw):
        y = x if leaf else _copy_of(x)
        r = operator(y, *a) if operator is not None else getattr(y, name)(*a, **kw)
        return y, r, r is y
    return call


def _inplace_cases(arity, scalars=(2, 0.5, -1, math.nan, True)):
    @st.composite
    def cases(draw, dtype):
        sa, sb = draw(broadcast_shapes(2))
        form = draw(st.integers(0, 5))
        g = wants_grad(dtype, True)
        x = Arr(draw(array(dtype, sa)), g)
        kw = {"leaf": True} if form == 5 else {}
        if arity == 0:
            return Case((x,), kw, dtype=dtype)
        if form == 1:
            return Case((x, draw(st.sampled_from(list(scalars)))), kw, dtype=dtype)
        odt = dtype if form != 2 else draw(st.sampled_from(ALL))
        return Case((x, Arr(draw(array(odt, sb)), wants_grad(odt, True))), kw, dtype=dtype)
    return cases


@st.composite
def _fill_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes()))), wants_grad(dtype, True))
    kw = {"leaf": True} if rarely(draw, 5) else {}
    return Case((x, draw(st.sampled_from([0, 1.5, -2, math.nan, math.inf, True]))), kw, dtype=dtype)


@st.composite
def _masked_fill_cases(draw, dtype, inplace=True):
    sx, sm = draw(broadcast_shapes(2))
    x = Arr(draw(array(dtype, sx)), wants_grad(dtype, True))
    mask = Arr(draw(array("bool", sm)))
    value = draw(st.one_of(st.sampled_from([0, -1.5, math.nan, -math.inf, True]),
                           st.builds(lambda v: Arr(np.array(v, np_dtype(dtype))), st.sampled_from([2, 0]))))
    kw = {"leaf": True} if inplace and rarely(draw, 5) else {}
    return Case((x, mask, value), kw, dtype=dtype)


@st.composite
def _clamp_inplace_cases(draw, dtype):
    c = draw(clamp_cases(dtype))
    kw = dict(c.kwargs)
    if rarely(draw, 5):
        kw["leaf"] = True
    return Case(c.args, kw, dtype=dtype)


@st.composite
def _setitem_cases(draw, dtype):
    """``y[key] = value`` on a copy of ``x``: ints, slices, None, Ellipsis, integer and boolean
    index tensors; values as scalars or tensors that broadcast to the selection (or not: torch
    raises)."""
    c = draw(getitem_cases(dtype))
    x, key = c.args
    kind = draw(st.integers(0, 3))
    try:    # the selection's shape, for values that broadcast to it
        np_key = tuple(k.value if isinstance(k, Arr) else k for k in key)
        selected = np.empty(x.value.shape)[np_key].shape
    except (IndexError, ValueError, TypeError):
        selected = ()
    if kind == 0:
        value = draw(st.sampled_from([0, -2.5, math.nan, True]))
    else:
        shape = tuple(1 if draw(st.integers(0, 3)) == 0 else d for d in selected[draw(st.integers(0, len(selected))):])
        if rarely(draw, 8):
            shape = draw(shapes(0, 2))      # most likely not broadcastable: torch raises
        vdt = dtype if kind != 3 else draw(st.sampled_from(ALL))
        value = Arr(draw(array(vdt, shape)), wants_grad(vdt, True))
    kw = {"leaf": True} if rarely(draw, 6) else {}
    return Case((x, key, value), kw, dtype=dtype)


def _setitem_call(L, x, key, value, leaf=False):
    y = x if leaf else _copy_of(x)
    y[key] = value
    return y


@st.composite
def _view_update_cases(draw, dtype):
    """An in-place update through a view (``y[0]``, ``y[:, 1:]``, ``y.T``, ``y.reshape(-1)``):
    the base must see it."""
    shape = draw(shapes(2, 3, min_side=1))
    x = Arr(draw(array(dtype, shape, special=False)), wants_grad(dtype, True))
    other = Arr(draw(array(dtype, (), special=False)), wants_grad(dtype, True))
    return Case((x, draw(st.sampled_from(["row", "columns", "T", "flat"])), other), dtype=dtype)


def _view_update_call(L, x, view, other):
    y = _copy_of(x)
    v = {"row": lambda: y[0], "columns": lambda: y[:, 1:], "T": lambda: y.T, "flat": lambda: y.view(-1)}[view]()
    v.add_(other)
    return y, v


def _no_grad_update_call(L, p, g, op):
    """``with no_grad(): p -= lr * g`` (the optimizer step written out): ``p`` stays a leaf that
    requires grad and holds the new value."""
    with L.no_grad():
        if op == "isub":
            p -= 0.5 * g
        elif op == "sub_":
            p.sub_(g * 0.5)
        elif op == "mul_":
            p.mul_(0.5)
        else:
            p.copy_(g)
    return p.detach(), p.requires_grad, p.is_leaf


@st.composite
def _no_grad_update_cases(draw, dtype):
    shape = draw(shapes(0, 2))
    p = Arr(draw(array(dtype, shape, special=False)), True)
    g = Arr(draw(array(dtype, shape, special=False)))
    return Case((p, g, draw(st.sampled_from(["isub", "sub_", "mul_", "copy_"]))), dtype=dtype)


def _version_call(L, x, when):
    """Modifying a tensor that backward still needs: torch's version counter raises at backward
    (``exp`` saves its result, ``mul`` its operands); modifying one it does not need is fine."""
    y = _copy_of(x)
    if when == "saved result":
        z = y.exp()
        z.add_(1.0)
    elif when == "saved operand":
        z = y * y
        y.mul_(2.0)
    else:
        z = y + 1.0
        y.add_(1.0)
    z.sum().backward()
    return x.grad


@st.composite
def _version_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes(1, 2, min_side=1)), special=False)), True)
    return Case((x, draw(st.sampled_from(["saved result", "saved operand", "not saved"]))), dtype=dtype)


def _version_leaf(L, x, when):
    """As ``_version_call``, updating the leaf ``x`` itself under ``no_grad`` after using it."""
    z = x * x if when != "saved result" else x.exp()
    with L.no_grad():
        x.add_(1.0)
    z.sum().backward()
    return x.grad


def _scatter_inplace_cases(dtype, **kw):
    """``scatter_cases``, sometimes on the leaf itself (torch raises when it requires grad)."""
    @st.composite
    def cases(draw, d):
        c = draw(scatter_cases(d, **kw))
        return Case(c.args, {**c.kwargs, "leaf": True} if rarely(draw, 6) else c.kwargs, dtype=c.dtype)
    return cases(dtype)


def specs() -> list[OpSpec]:
    """The in-place rows."""
    rows: list[OpSpec] = []
    inplace_checks = "returns self; on a leaf that requires grad it raises; the gradient through a non-leaf"
    for name, arity in (("add_", 1), ("sub_", 1), ("mul_", 1), ("div_", 1), ("pow_", 1), ("copy_", 1),
                        ("zero_", 0)):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), _inplace_cases(arity), dtypes=("float32", "int64", "bool"),
                        exact=name not in ("div_", "pow_"), ulps=8, checks=inplace_checks)]
    for name, op in (("__iadd__", operator.iadd), ("__isub__", operator.isub), ("__imul__", operator.imul),
                     ("__itruediv__", operator.itruediv), ("__ipow__", operator.ipow)):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name, op), _inplace_cases(1), dtypes=("float32", "int64", "bool"),
                        exact=name not in ("__itruediv__", "__ipow__"), ulps=8, checks=inplace_checks)]
    for name, op in (("__iand__", operator.iand), ("__ior__", operator.ior)):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name, op), _inplace_cases(1, (True, False, 3)),
                        dtypes=("bool", "int64"), exact=True, grad=False)]
    rows += [OpSpec("Tensor.fill_", _inplace("fill_"), _fill_cases, dtypes=("float32", "int64", "bool"), exact=True,
                    checks=inplace_checks),
             OpSpec("Tensor.masked_fill_", _inplace("masked_fill_"), _masked_fill_cases,
                    dtypes=("float32", "int64", "bool"), exact=True, checks=inplace_checks + "; NaN and -inf values"),
             OpSpec("Tensor.masked_fill", lambda L, x, m, v: x.masked_fill(m, v),
                    lambda d: _masked_fill_cases(d, inplace=False), dtypes=("float32", "int64", "bool"), exact=True),
             OpSpec("Tensor.__setitem__", _setitem_call, _setitem_cases, dtypes=("float32", "int64", "bool"), exact=True,
                    checks="ints, slices, None, Ellipsis, integer and boolean index tensors; scalar and tensor "
                           "values; the gradient to both the base and the value"),
             OpSpec("Tensor.add_#view", _view_update_call, _view_update_cases, exact=True,
                    checks="an update through a view (a row, columns, .T, .view(-1)) reaches the base"),
             OpSpec("Tensor.sub_#no_grad", _no_grad_update_call, _no_grad_update_cases, exact=True, grad=False,
                    checks="``with no_grad(): p -= lr * g`` and friends update a leaf that requires grad"),
             OpSpec("Tensor.add_#version", _version_call, _version_cases, grad=False,
                    checks="modifying a tensor that backward needs raises (torch's version counter)"),
             OpSpec("Tensor.add_#leaf", _version_leaf, _version_cases, grad=False,
                    checks="the same, from a leaf that requires grad")]
    rows += [OpSpec("Tensor.scatter_", _inplace("scatter_"), lambda d: st.one_of(
                        _scatter_inplace_cases(d), _scatter_inplace_cases(d, value=True)),
                    dtypes=("float32", "int64"), exact=True, checks=inplace_checks),
             OpSpec("Tensor.scatter_add_", _inplace("scatter_add_"), lambda d: _scatter_inplace_cases(d, reduce=True).map(
                 lambda c: Case(c.args[:4], {k: v for k, v in c.kwargs.items() if k == "leaf"}, dtype=c.dtype)),
                 dtypes=("float32", "int64"), accumulates=True,
                 checks=inplace_checks),
             OpSpec("Tensor.scatter_reduce_", _inplace("scatter_reduce_"),
                    lambda d: _scatter_inplace_cases(d, reduce=True), dtypes=("float32", "int64"), accumulates=True,
                    checks=inplace_checks)]
    for name in ("clamp_", "clip_"):
        rows += [OpSpec(f"Tensor.{name}", _inplace(name), _clamp_inplace_cases, dtypes=FLOATS[:2] + INTS[:1],
                        exact=True, signed_zeros=False, checks=inplace_checks)]
    return rows
