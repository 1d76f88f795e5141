"""Views: tensors that alias another tensor's elements, as torch's views do.

``reshape``/``view``/``flatten``/``squeeze``/``unsqueeze``, ``permute``/``transpose``/``T``/``t``,
``expand``, basic indexing (``x[0]``, ``x[:, 1:3]``, ``split``, ``chunk``, iteration) and ``detach``
return a tensor that carries a ``ViewLink``: its parent and the movement steps that derive it from the
parent's value (``Tensor._result`` records one for every one-parent result of movement ops; that is a
few pointers, nothing is computed until something is updated in place). The value of a view is
always ``steps(parent's value)``: when the parent is rebound (by an in-place update, of it or of
another view of it: ``lumina.tensor.inplace``), the view re-derives its value the next time it is
read (``sync``; ``Tensor._touch`` compares one epoch number, ``EPOCH``, so code that never mutates
pays nothing).

Whether a result aliases follows torch: a reshape whose layout cannot be expressed with strides is a
copy (torch's ``computeStride`` over the strides that the chain of steps gives: ``layout_of``). That
is decided lazily, the first time it matters; until something is updated in place a view and a copy
cannot be told apart.

This module sits below ``core``, which links and syncs views through it: it reads and writes a
tensor's fields (``TensorLike``) but never makes a Tensor, so it does not import the class.
"""
from __future__ import annotations

import itertools
import math
import weakref
from typing import Protocol

import numpy as np

from ..ir.graph import Value, emit
from ..ir.ops import Op
from ..tracing import STATE, STOP_GRAD

VIEW_OPS = frozenset({Op.RESHAPE, Op.PERMUTE, Op.SLICE, Op.EXPAND})


class TensorLike(Protocol):
    """The fields of a ``lumina.tensor.core.Tensor`` that views read and write."""
    _value: Value
    _view: ViewLink | None
    requires_grad: bool
    _is_leaf: bool

    @property
    def shape(self) -> tuple[int, ...]: ...

    def _touch(self) -> Value: ...

    def _set_value(self, v: Value) -> None: ...


class Epoch:
    """A number that changes at every rebinding of a tensor's value (``Tensor._set_value`` calls
    ``advance``): a view re-reads its parent only when it changed since the view last looked.
    Numbers come from a counter and are never reused, so a rebinding in another thread is never
    missed."""

    __slots__ = ("now", "_numbers")

    def __init__(self) -> None:
        self.now = 0
        self._numbers = itertools.count(1)

    def advance(self) -> None:
        self.now = next(self._numbers)


EPOCH = Epoch()

Step = tuple   # (op, attrs, input shape, output shape) of one movement node


class ViewLink:
    """How a view tensor derives from its parent: ``steps`` applied to the parent's value.

    ``seen`` is (a weak reference to) the parent's value the view was last derived from and
    ``stamp`` the epoch when that was last checked. ``cut``: made under ``no_grad`` from a tensor
    that requires grad; ``detached``: made by ``detach()`` (which torch lets one modify in place).
    ``layout`` is filled in when first needed (``Layout``), None until then."""

    __slots__ = ("parent", "steps", "seen", "stamp", "cut", "detached", "layout")

    def __init__(self, parent: TensorLike, steps: tuple, seen: Value, cut: bool):
        self.parent = parent
        self.steps = steps
        self.seen = weakref.ref(seen)
        self.stamp = EPOCH.now
        self.cut = cut
        self.detached = False
        self.layout = None


def link_view(t: TensorLike, parent: TensorLike, value: Value) -> None:
    """Make ``t`` (just built over ``value``) a view of ``parent`` if ``value`` is ``parent``'s
    value through movement ops only (``Tensor._result`` calls this for every one-parent result whose
    op is a movement op)."""
    src = parent._value
    steps = []
    v = value
    while v is not src:
        if v.op not in VIEW_OPS or len(steps) == 64:
            return
        steps.append((v.op, v.attrs, v.inputs[0].shape, v.shape))
        v = v.inputs[0]
    steps.reverse()
    t._view = ViewLink(parent, tuple(steps), src, cut=parent.requires_grad and not STATE.grad_enabled)


def detached(t: TensorLike) -> TensorLike:
    """Mark ``t`` (``x.detach()``) as a detached alias: torch lets it be modified in place even
    when its base is a leaf that requires grad, without recording anything."""
    if t._view is not None:
        t._view.detached = True
        t._view.cut = False
    return t


# ---- layouts: torch's strides of a chain of views -------------------------------------------------
Layout = tuple   # (sizes, strides, offset) in elements of the base's contiguous storage


def _contiguous(shape) -> Layout:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(d, 1)
    return tuple(shape), tuple(reversed(strides)), 0


def compute_stride(oldshape, oldstride, newshape) -> tuple | None:
    """The strides of ``reshape(newshape)`` as a view of a tensor of ``oldshape``/``oldstride``, or
    None when torch would copy. A transcription of ``at::detail::computeStride``
    (aten/src/ATen/TensorUtils.cpp)."""
    if not oldshape:
        return (1,) * len(newshape)
    numel = math.prod(oldshape)
    if numel == 0 and tuple(oldshape) == tuple(newshape):
        return tuple(oldstride)
    newstride = [0] * len(newshape)
    if numel == 0:
        for d in range(len(newshape) - 1, -1, -1):
            newstride[d] = 1 if d == len(newshape) - 1 else max(newshape[d + 1], 1) * newstride[d + 1]
        return tuple(newstride)
    view_d = len(newshape) - 1
    chunk_base_stride = oldstride[-1]
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(oldshape) - 1, -1, -1):
        tensor_numel *= oldshape[tensor_d]
        if tensor_d == 0 or (oldshape[tensor_d - 1] != 1 and
                             oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or newshape[view_d] == 1):
                newstride[view_d] = view_numel * chunk_base_stride
                view_numel *= newshape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = oldstride[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(newstride)


def _step_layout(layout: Layout, step: Step) -> Layout | None:
    sizes, strides, offset = layout
    op, attrs, _, out_shape = step
    if op is Op.SLICE:
        offset += sum(lo * s for lo, s in zip(attrs["starts"], strides))
        return tuple(out_shape), tuple(s * st for s, st in zip(strides, attrs["steps"])), offset
    if op is Op.PERMUTE:
        perm = attrs["perm"]
        return tuple(sizes[p] for p in perm), tuple(strides[p] for p in perm), offset
    if op is Op.EXPAND:
        return tuple(out_shape), tuple(0 if d != n else s for d, n, s in zip(sizes, out_shape, strides)), offset
    new = compute_stride(sizes, strides, out_shape)
    return None if new is None else (tuple(out_shape), new, offset)


def layout_of(t: TensorLike) -> Layout:
    """``t``'s elements in its base's storage. A view that turns out to be a copy (torch's reshape of
    a layout strides cannot express) is unlinked here: from now on it is a base of its own."""
    link = t._view
    if link is None:
        return _contiguous(t.shape)
    if link.layout is None:
        layout = layout_of(link.parent)
        for step in link.steps:
            layout = _step_layout(layout, step)
            if layout is None:
                t._view = None
                return _contiguous(t.shape)
        link.layout = layout
    return link.layout


def chain_of(t: TensorLike) -> list[TensorLike]:
    """``[base, ..., t]``: ``t`` and the views it derives from, up to the base tensor."""
    chain = [t]
    while chain[-1]._view is not None:
        layout_of(chain[-1])
        if chain[-1]._view is None:
            break
        chain.append(chain[-1]._view.parent)
    chain.reverse()
    return chain


def base(t: TensorLike) -> TensorLike:
    """The tensor whose storage ``t`` views (``t`` itself when it is no view); torch's ``_base``
    or the tensor itself."""
    return chain_of(t)[0]


def is_contiguous(t: TensorLike) -> bool:
    """Whether ``t``'s elements lie in row-major order in its base's storage (torch's rule: size-1
    dims have any stride)."""
    sizes, strides, _ = layout_of(t)
    expected = 1
    for d, s in zip(reversed(sizes), reversed(strides)):
        if d != 1 and s != expected:
            return False
        expected *= d
    return True


def elements_of(t: TensorLike) -> np.ndarray:
    """The storage offset of each element of ``t`` in its base (an int64 array of ``t``'s shape)."""
    sizes, strides, offset = layout_of(t)
    out = np.full(sizes, offset, dtype=np.int64)
    for axis, (d, s) in enumerate(zip(sizes, strides)):
        out += (np.arange(d, dtype=np.int64) * s).reshape([d if a == axis else 1 for a in range(len(sizes))])
    return out


# ---- keeping views current ------------------------------------------------------------------------

def derive(steps, v: Value) -> Value:
    """``steps`` (a view's movement steps) applied to ``v``."""
    for op, attrs, _, _ in steps:
        v = emit(op, (v,), **attrs)
    return v


def rederive(t: TensorLike, parent_value: Value) -> None:
    """Rebind view ``t`` to its steps applied to ``parent_value`` (its parent's current value)."""
    link = t._view
    v = derive(link.steps, parent_value)
    if link.cut or link.detached:
        if v is parent_value:
            v = emit(Op.RESHAPE, (v,), shape=v.shape)
        STOP_GRAD.add(v)
        wants = False
    else:
        wants = link.parent.requires_grad
    t._set_value(v)
    t.requires_grad = wants
    t._is_leaf = not wants
    link.seen = weakref.ref(parent_value)
    link.stamp = EPOCH.now


def sync(t: TensorLike) -> None:
    """Bring view ``t`` up to date with its parent (``Tensor._touch`` calls this when some tensor
    was rebound since ``t`` last checked)."""
    link = t._view
    pv = link.parent._touch()
    link.stamp = EPOCH.now
    if link.seen() is pv:
        return
    layout_of(t)
    if t._view is not None:
        rederive(t, pv)
