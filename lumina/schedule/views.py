"""Strided views: when a chain of movement ops over a buffer is just (offset, strides).

``strided_view(value)`` follows ``reshape``/``permute``/``expand``/``slice`` back to the first value
that is not a movement op (the base buffer) and returns the base and the view, or ``None`` when the
chain needs a copy (a reshape that cannot be expressed on the strides, a pad, concat or gather).
The reshape rule is NumPy's ``_attempt_nocopy_reshape``: split and merge dims within groups whose
strides are compatible.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..ir.graph import Value
from ..ir.ops import Op

VIEW_OPS = frozenset(op for op in Op if op.info.view)   # reshape, permute, expand, slice (ir.ops.OPS)


@dataclass(frozen=True)
class View:
    shape: tuple[int, ...]
    strides: tuple[int, ...]   # in elements; 0 for broadcast dims
    offset: int = 0


def contiguous(shape) -> View:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return View(tuple(shape), tuple(reversed(strides)), 0)


def _reshape(v: View, shape: tuple[int, ...]) -> View | None:
    if 0 in v.shape:   # no element to address: any strides do (the groups below never balance)
        return View(tuple(shape), contiguous(shape).strides, v.offset)
    # Drop size-1 dims (their strides are irrelevant), then match groups of equal element count.
    old = [(d, s) for d, s in zip(v.shape, v.strides) if d != 1]
    new_nz = [d for d in shape if d != 1]
    strides_nz: list[int] = []
    i = j = 0
    while i < len(old) and j < len(new_nz):
        oi, nj = i + 1, j + 1
        osize, nsize = old[i][0], new_nz[j]
        while osize != nsize:
            if osize < nsize:
                osize *= old[oi][0]
                oi += 1
            else:
                nsize *= new_nz[nj]
                nj += 1
        for k in range(i, oi - 1):  # the old dims of a group must be mutually contiguous
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        acc = old[oi - 1][1]
        group = []
        for k in range(nj - 1, j - 1, -1):
            group.append(acc)
            acc *= new_nz[k]
        strides_nz += reversed(group)
        i, j = oi, nj
    it = iter(strides_nz)
    return View(shape, tuple(0 if d == 1 else next(it) for d in shape), v.offset)


def apply(v: View, node) -> View | None:
    """The view after one movement node, or None if it is not a strided view."""
    a = node.attrs
    if node.op is Op.RESHAPE:
        return _reshape(v, a["shape"])
    if node.op is Op.PERMUTE:
        return View(tuple(v.shape[p] for p in a["perm"]), tuple(v.strides[p] for p in a["perm"]), v.offset)
    if node.op is Op.EXPAND:
        strides = tuple(0 if d != n else s for d, n, s in zip(v.shape, a["shape"], v.strides))
        return View(tuple(a["shape"]), strides, v.offset)
    if node.op is Op.SLICE:
        offset = v.offset + sum(lo * s for lo, s in zip(a["starts"], v.strides))
        strides = tuple(s * st for s, st in zip(v.strides, a["steps"]))
        return View(node.out.shape, strides, offset)
    return None


def view_chain(value: Value) -> tuple[Value, list]:
    """The base (first non-view value) under ``value`` and the movement nodes from base to value."""
    chain = []
    while value.op in VIEW_OPS:
        chain.append(value.node)
        value = value.node.inputs[0]
    return value, chain[::-1]


def _view_from(start: Value, nodes) -> View | None:
    v = contiguous(start.shape)
    for node in nodes:
        v = apply(v, node)
        if v is None:
            return None
    return v


def strided_view(value: Value) -> tuple[Value, View] | None:
    """``value`` as a strided view of its base (the first non-view value under it), or None."""
    base, chain = view_chain(value)
    v = _view_from(base, chain)
    return None if v is None else (base, v)


def view_base(value: Value, may_start: Callable[[Value], bool] = lambda v: True) -> tuple[Value, View]:
    """The deepest value ``p`` of ``value``'s movement chain (from the base up to ``value``) that
    ``may_start`` accepts and of which ``value`` is a strided view, with that view. ``value`` itself
    always qualifies, as a contiguous view of its own buffer.

    A GEMM operand is read from ``p``: choosing the deepest ``p`` lets the operands of several GEMMs
    that take different views of one value (``x @ w`` and the ``x.T`` of its weight gradient)
    share one buffer, and skips the copy entirely when the base itself will do.
    """
    base, chain = view_chain(value)
    points = [base] + [n.out for n in chain]
    for i, p in enumerate(points[:-1]):
        if may_start(p):
            v = _view_from(p, chain[i:])
            if v is not None:
                return p, v
    return value, contiguous(value.shape)
