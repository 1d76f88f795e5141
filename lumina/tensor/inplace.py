"""In-place updates with PyTorch's semantics: functionalisation, views and version counters.

A lumina ``Tensor`` holds an immutable SSA value. An in-place op (``x += y``, ``add_``, ``copy_``,
``x[i] = v``, ...) computes the new value with ordinary ops and rebinds the tensor to it
(``Tensor._set_value``): the object keeps its identity, so a ``Parameter`` stays registered in its
module and an optimizer slot stays the same object, and ``@lumina.compile`` turns the rebinding into
an output written back after each call (``compiled.py``).

**When it runs.** Updates are lazy, like every lumina op, except that state (a tensor that was
realised, or already updated in place) is computed at once, outside ``@lumina.compile``, when an
operand brings unrealised work (any, for a leaf that requires grad: ``p -= lr * p.grad`` carries
the gradient's graph; more than ``PENDING_LIMIT`` nodes otherwise) and after every
``PENDING_LIMIT`` lazy updates in a row. So a tensor updated at every step never carries the graphs
of the steps before, nor keeps their buffers alive, while a loop of small writes (``w[i] = row``)
still compiles as one graph. ``assign``, which optimizers and layers use, only records: they
realise their state together.

**Views** (``lumina.tensor.aliases``). An in-place op on a view writes back into its parent, and
so on up to the base, through the inverse of each step (a reshape or permute back; a slice becomes
``where(region, pad(new), old)``; a chain through an ``expand`` scatters by the view's storage
layout), then re-derives the views on the way down; every other view of the base re-derives itself
when next read. ``x[key] = value`` is ``lumina.tensor.setitem``.

**Errors where torch raises** (all ``LuminaError`` subclasses): an in-place op on a leaf that
requires grad, or on a view of one, with grad mode on (``LuminaGradError``; do it under
``lumina.no_grad()``, as an optimizer step does); on a view made under ``no_grad`` of a tensor that
requires grad, with grad mode on; a result dtype the tensor cannot hold (``int64 += 1.5``,
``LuminaTypeError``); a result shape other than the tensor's (``LuminaShapeError``); writing through a
view in which several elements are one element of the base (``expand``, ``LuminaValueError``); an
operand that partially overlaps the written elements (``x[1:] += x[:-1]``, ``LuminaValueError``).

**Version counters.** Each base tensor counts the in-place updates made to it or its views
(``Tensor._version``, in the slot ``Tensor._updates``; state a compiled call writes back counts
too: ``replaced``). Each update records the values it replaced (``saved.SUPERSEDED``), so that
``backward`` raises, as torch does, where a gradient reads a value modified in place after it was
read (``lumina.tensor.saved``).

**Autograd.** An in-place op on a tensor with history records the op: gradients flow through the
new value to the old one and to the operands. Under ``no_grad`` the update is not recorded: a leaf
stays a leaf that requires grad (``p -= lr * p.grad``), and a non-leaf keeps its history, the
gradient passing to its old value unchanged (torch's behaviour), which ``transforms.autodiff.vjp``
implements for the ``where(True, new, old)`` node marked in ``saved.THROUGH``.
"""
from __future__ import annotations

import math
import weakref
from typing import Callable

import numpy as np

from ..errors import LuminaGradError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType
from ..ir.graph import Value, emit
from ..ir.ops import Op
from ..tracing import BOUND, STATE, STOP_GRAD
from .aliases import VIEW_OPS, Step, base, chain_of, derive, elements_of, layout_of, rederive
from .core import Tensor, realize
from .creation import tensor
from .device import DEVICE_STATE
from .elementwise import where
from .saved import SUPERSEDED, THROUGH
from .shapes import broadcast_shapes


# ---- the checks torch makes -----------------------------------------------------------------------

def can_cast(src: DType, dst: DType) -> bool:
    """torch's ``canCast``: no float to integer or bool, nothing but bool to bool."""
    if src.is_float and not dst.is_float:
        return False
    return src is DType.bool or dst is not DType.bool


def _check_grad(t: Tensor, op: str) -> None:
    """Raise where torch refuses an in-place op for autograd's sake."""
    chain = chain_of(t)
    if not STATE.grad_enabled:
        return
    links = [c._view for c in chain[1:]]
    if any(link.detached for link in links):
        return
    root = chain[0]
    if any(link.cut for link in links):
        raise LuminaGradError(
            f"{op}: {t._value.type} is a view of a tensor that requires grad, made under no_grad, and "
            "is being modified in place with grad mode enabled (torch forbids this too); make the view "
            "and modify it both under no_grad, or both outside")
    if root.requires_grad and root._is_leaf:
        what = "a view of a leaf tensor" if len(chain) > 1 else "a leaf tensor"
        raise LuminaGradError(
            f"{op}: {what} that requires grad ({root._value.type}) is being used in an in-place "
            "operation (torch raises too); update it under `with lumina.no_grad():`, as an optimizer "
            "step does, or work on a clone()")


def _check_no_internal_overlap(t: Tensor, op: str) -> None:
    if t._view is None:
        return
    sizes, strides, _ = layout_of(t)
    if any(s == 0 and d > 1 for d, s in zip(sizes, strides)):
        raise LuminaValueError(
            f"{op}: more than one element of the written-to {t._value.type} is the same element of its "
            "base (an expand()ed view; torch raises too); clone() it before writing to it")


def _check_overlap(t: Tensor, other, op: str) -> None:
    """Raise if ``other`` reads some of the elements written to ``t`` but not each at the position
    it is written to (torch raises for such operands when they are dense, and otherwise gives a
    result that depends on its loop order; lumina always raises)."""
    if not isinstance(other, Tensor) or other is t or (t._view is None and other._view is None):
        return
    if base(t) is not base(other):
        return
    written = elements_of(t)
    try:
        read = np.broadcast_to(elements_of(other), t.shape)
    except ValueError:
        return   # the shape error comes later, with its own message
    if np.array_equal(written, read):
        return
    if np.intersect1d(written, read).size:
        raise LuminaValueError(
            f"{op}: some elements of the operand {other._value.type} are elements of the written-to "
            f"{t._value.type} at other positions (overlapping views of one tensor; torch raises for "
            "these too, or computes an order-dependent result); clone() the operand first")


def _same_elements(t: Tensor, other: Tensor) -> bool:
    """Whether ``other`` is exactly ``t``'s elements (so copying it into ``t`` changes nothing)."""
    if other is t:
        return True
    if (t._view is None and other._view is None) or t.shape != other.shape or base(t) is not base(other):
        return False
    return np.array_equal(elements_of(t), elements_of(other))


# ---- the update -----------------------------------------------------------------------------------

def update(t: Tensor, op: str, compute: Callable[[], Tensor], operands=(), check_cast: bool = True) -> Tensor:
    """Replace ``t``'s value by ``compute()`` in place, with torch's checks; returns ``t``.

    ``compute`` builds the new value from ``t`` and ``operands`` (tensors among them are checked for
    overlap with ``t``). Its result must have ``t``'s shape; with ``check_cast`` its dtype must be one
    that torch casts to ``t``'s (``can_cast``). Raises LuminaGradError, LuminaTypeError,
    LuminaShapeError or LuminaValueError where torch raises (see the module docstring)."""
    old = t._touch()
    _check_grad(t, op)
    _check_no_internal_overlap(t, op)
    for o in operands:
        _check_overlap(t, o, op)
    new = compute()
    if new.shape != t.shape:
        raise LuminaShapeError(f"{op}: output with shape {list(t.shape)} doesn't match the broadcast shape "
                               f"{list(new.shape)} ({t._value.type} in place)")
    if check_cast and not can_cast(new.dtype, t.dtype):
        raise LuminaTypeError(f"{op}: result type {new.dtype.name} can't be cast to the desired output type "
                              f"{t.dtype.name} of {t._value.type} (torch raises too)")
    new = new.to(t.dtype)
    inputs = [o for o in operands if isinstance(o, Tensor)]
    aliased = any(o is t or ((o._view is not None or t._view is not None) and base(o) is base(t)) for o in inputs)
    own = frozenset() if aliased else _nodes_made(new._value, [old] + [o._value for o in inputs])
    # an "assign" (a state update) never realises on its own (_write): its operands' work is not counted
    work = 0 if op == "assign" else max((_pending_work(o._value) for o in inputs), default=0)
    _write(t, new, op, own, work)
    return t


# How much unrealised work an in-place update of state may take in before it is computed (nodes of
# an operand's pending graph), and after how many lazy updates in a row it is computed anyway.
PENDING_LIMIT = 32


def _pending_work(v: Value) -> int:
    """How many nodes computing ``v`` would run, not counting views (movement ops) of realised
    inputs and constants, up to just past ``PENDING_LIMIT``."""
    seen, stack, work = set(), [v], 0
    while stack and work <= PENDING_LIMIT:
        n = stack.pop()
        if id(n) in seen or n.op in (Op.INPUT, Op.CONST):
            continue
        seen.add(id(n))
        work += n.op not in VIEW_OPS
        stack.extend(n.inputs)
    return work


def _nodes_made(value: Value, sources: list[Value], limit: int = 10000) -> frozenset:
    """The ids of the nodes between ``value`` and ``sources`` (an update's own computation: what
    ``compute`` made from the tensor's old value and the operands)."""
    stop = {id(v) for v in sources}
    made, stack = set(), [value]
    while stack and len(made) < limit:
        v = stack.pop()
        if id(v) in stop or id(v) in made or v.op in (Op.INPUT, Op.CONST):
            continue
        made.add(id(v))
        stack.extend(v.inputs)
    return frozenset(made)


def _write(t: Tensor, new: Tensor, op: str, own: frozenset = frozenset(), work: int = 0) -> None:
    """Rebind ``t``, and through its chain of views its base, to ``new``'s value (``t``'s shape and
    dtype); bump the base's version; re-derive the views on the chain. ``own``: the nodes the update
    computed (``update``), whose gradients may read the old values (torch saves the original);
    ``work``: the unrealised work the operands bring (``_pending_work``; see "When it runs")."""
    val = new._touch()
    chain = chain_of(t)
    olds = [c._touch() for c in chain]
    if any(step[0] is Op.EXPAND for c in chain[1:] for step in c._view.steps):
        val = _scatter_by_layout(olds[0], elements_of(t), val)
    else:
        for i in range(len(chain) - 1, 0, -1):
            val = _unstep_all(chain[i]._view.steps, olds[i - 1], val)
    root = chain[0]
    detached_write = any(c._view.detached for c in chain[1:])
    _rebind_base(root, val, olds[0], new.requires_grad, detached_write)
    n = _bump(root)
    for c, old in zip(chain, olds):
        SUPERSEDED[old] = (weakref.ref(c), n, op, own)
    state = olds[0] in BOUND or n > 1
    parameter = root.requires_grad and root._is_leaf
    if state and STATE.trace is None and op != "assign" and \
            (work > PENDING_LIMIT or (parameter and work) or n % PENDING_LIMIT == 0):
        realize(root)
    for i in range(1, len(chain)):
        rederive(chain[i], chain[i - 1]._value)


def version(t: Tensor) -> int:
    """How many in-place updates ``t``'s base has had (torch's ``_version``)."""
    return getattr(base(t), "_updates", 0)


def replaced(t: Tensor, old: Value, op: str = "a compiled function") -> None:
    """Count ``t``'s rebinding from ``old`` (a compiled call writing back the state it updated) as
    the in-place update it stands for: its base's version moves, and a graph that read ``old``
    finds it modified when differentiated."""
    SUPERSEDED[old] = (weakref.ref(t), _bump(base(t)), op, frozenset())


def _bump(root: Tensor) -> int:
    """Count one more in-place update of base tensor ``root`` (torch's version counter; the slot is
    only set on tensors that were ever updated, so others pay nothing)."""
    root._updates = getattr(root, "_updates", 0) + 1
    return root._updates


def _rebind_base(root: Tensor, val: Value, old: Value, new_wants: bool, detached_write: bool) -> None:
    recorded = STATE.grad_enabled and not detached_write
    if root.requires_grad and not recorded:
        STOP_GRAD.add(val)
        if root._is_leaf:   # a leaf stays a leaf: its new value has no history (``p -= lr * p.grad``)
            val = emit(Op.RESHAPE, (val,), shape=val.shape)
        else:               # the tensor keeps its history: the gradient passes to the old value
            val = emit(Op.WHERE, (B.const(True, DType.bool, val.shape), val, old))
            THROUGH.add(val)
    root._set_value(val)
    if recorded and new_wants and not root.requires_grad:
        root.requires_grad = True
        root._is_leaf = False


def _scatter_by_layout(old: Value, elements: np.ndarray, new: Value) -> Value:
    """``old`` with the storage elements ``elements`` (the written view's, one per element of
    ``new``, all distinct) replaced by ``new``'s values: for a chain through an ``expand``, where the
    steps have no inverse. A gather with constant indices (its gradient is a one-hot product, so this
    is kept to that rare case)."""
    size = math.prod(old.shape)
    inverse = np.full(size, -1, dtype=np.int64)
    inverse[elements.reshape(-1)] = np.arange(elements.size, dtype=np.int64)
    picked = emit(Op.GATHER, (B.reshape(new, (elements.size,)),
                              B.const(np.maximum(inverse, 0), DType.int64, (size,))), axis=0)
    flat = emit(Op.WHERE, (B.const(inverse >= 0, DType.bool, (size,)), picked, B.reshape(old, (size,))))
    return B.reshape(flat, old.shape)


def _unstep_all(steps, parent_old: Value, child_new: Value) -> Value:
    """The parent's value after writing ``child_new`` into the view ``steps`` derive from it."""
    olds = [parent_old]
    for step in steps[:-1]:
        olds.append(derive((step,), olds[-1]))
    val = child_new
    for step, old in zip(reversed(steps), reversed(olds)):
        val = _unstep(step, old, val)
    return val


def _unstep(step: Step, old: Value, new: Value) -> Value:
    """Inverse of one movement step (not ``expand``: see ``_scatter_by_layout``): ``old`` (the
    step's input) with the step's output replaced by ``new``."""
    op, attrs, in_shape, out_shape = step
    if op is Op.RESHAPE:
        return B.reshape(new, in_shape)
    if op is Op.PERMUTE:
        return B.permute(new, [int(i) for i in np.argsort(attrs["perm"])])
    return emit(Op.WHERE, (_region(in_shape, attrs), _place(new, in_shape, attrs), old))


def _place(new: Value, shape, attrs) -> Value:
    """``new`` (a slice's result) at the slice's positions in an array of ``shape``; what lies
    between them is a filler that ``_region`` masks out. The transpose of ``slice``, as its VJP."""
    fill = 0.0 if new.dtype.is_float else (False if new.dtype is DType.bool else 0)
    g = new
    for axis, (d, lo, st) in enumerate(zip(shape, attrs["starts"], attrs["steps"])):
        n = g.shape[axis]
        if st > 1:   # interleave st-1 fillers after each element: [n] -> [n, st] -> [n*st]
            g = B.reshape(g, g.shape[:axis + 1] + (1,) + g.shape[axis + 1:])
            pads = [(0, 0)] * g.type.rank
            pads[axis + 1] = (0, st - 1)
            g = emit(Op.PAD, (g,), pads=tuple(pads), value=fill)
            g = B.reshape(g, g.shape[:axis] + (n * st,) + g.shape[axis + 2:])
            keep = min(n * st, d - lo)
            if keep < n * st:
                starts, stops = [0] * g.type.rank, list(g.shape)
                stops[axis] = keep
                g = emit(Op.SLICE, (g,), starts=tuple(starts), stops=tuple(stops), steps=(1,) * g.type.rank)
        pads = [(0, 0)] * g.type.rank
        pads[axis] = (lo, d - lo - g.shape[axis])
        if pads[axis] != (0, 0):
            g = emit(Op.PAD, (g,), pads=tuple(pads), value=fill)
    return g


def _region(shape, attrs) -> Value:
    """A bool value of ``shape``: True on the elements a slice with ``attrs`` selects."""
    mask = None
    for axis, (d, lo, hi, st) in enumerate(zip(shape, attrs["starts"], attrs["stops"], attrs["steps"])):
        if (lo, hi, st) == (0, d, 1):
            continue
        picked = np.zeros(d, dtype=bool)
        picked[lo:hi:st] = True
        one = [d if a == axis else 1 for a in range(len(shape))]
        m = B.expand(B.const(picked.reshape(one), DType.bool, one), shape)
        mask = m if mask is None else emit(Op.AND, (mask, m))
    return mask if mask is not None else B.const(True, DType.bool, shape)


def _plain(value: Value, *parents: Tensor) -> Tensor:
    """``Tensor._result`` without the view link: a new value, not an alias."""
    out = Tensor._result(value, *parents)
    out._view = None
    return out


def _own_value(v: Value, device: str, history: bool = False) -> Value:
    """A value equal to ``v`` that no other tensor holds: a realised buffer is shared by a new
    input (no copy is made; buffers are never written), anything else, or a value whose gradient
    must reach ``v`` (``history``: a leaf that requires grad), gets an identity reshape."""
    if v.op is Op.INPUT and v in BOUND and STATE.trace is None and not history:
        return Tensor._bind(BOUND[v], device)._value
    return emit(Op.RESHAPE, (v,), shape=v.shape)


# ---- the in-place ops -----------------------------------------------------------------------------

NUMBERS = (bool, int, float, np.number, np.bool_)


def number(value, dtype: DType, op: str) -> Value:
    """A Python or NumPy number as a 0-d constant of ``dtype`` (torch's conversion: a float to an
    integer truncates). Raises LuminaValueError, as torch does, for a value an integer dtype cannot
    hold (NaN, infinity, out of range)."""
    if dtype.is_int and not isinstance(value, (bool, np.bool_)):
        info = np.iinfo(dtype.numpy)
        finite = not isinstance(value, (float, np.floating)) or math.isfinite(value)
        if not finite or not info.min <= int(value) <= info.max:
            raise LuminaValueError(f"{op}: value {value!r} cannot be converted to type {dtype.name} without "
                                   "overflow (torch raises too)")
    return B.const(value, dtype)


def _as_operand(t: Tensor, x, op: str):
    if isinstance(x, (Tensor, bool, int, float)):
        return x
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        return tensor(x)
    raise LuminaTypeError(f"{op}: unsupported operand of type {type(x).__name__} for {t._value.type}")


def binary_(t: Tensor, op: Op, other, name: str, alpha=None) -> Tensor:
    """``t = t <op> (alpha * other)`` in place: ``add_``, ``sub_``, ``mul_``, ``div_``, ``+=``, ..."""
    other = operand = _as_operand(t, other, name)
    if isinstance(other, int) and not isinstance(other, bool) and t.dtype.is_int:
        number(other, t.dtype, name)   # an int the tensor's dtype cannot hold
    if alpha is not None and not (alpha == 1 and not isinstance(alpha, bool)):
        result_float = t.dtype.is_float or (isinstance(other, Tensor) and other.dtype.is_float) or isinstance(other, float)
        if isinstance(alpha, float) and not result_float:
            raise LuminaTypeError(f"{name}: for integral input tensors, argument alpha must not be a floating "
                                  f"point number (got alpha={alpha} for {t._value.type})")
        other = other * alpha

    def compute() -> Tensor:
        return t._binary(op, other, name=name)
    return update(t, name, compute, (operand,))


def copy_(t: Tensor, src, op: str = "copy_") -> Tensor:
    """torch's ``copy_``: ``src`` (a tensor, array or number) broadcast to ``t``'s shape and cast to
    its dtype (any cast, as torch's; a copy from another device moves the data to ``t``'s)."""
    if not isinstance(src, Tensor):
        src = Tensor(number(src, t.dtype, op)) if isinstance(src, NUMBERS) else tensor(src, dtype=t.dtype)
    if DEVICE_STATE.elsewhere and STATE.trace is None:
        dst_dev, src_dev = DEVICE_STATE.device_of(t._value), DEVICE_STATE.device_of(src._value)
        if dst_dev is not None and src_dev is not None and src_dev != dst_dev:
            src = src.to(dst_dev)
    if broadcast_shapes(op, t._value.type, src._value.type) != t.shape:
        raise LuminaShapeError(f"{op}: cannot assign {src._value.type} to {t._value.type}")
    t._touch()
    src._touch()
    if _same_elements(t, src):   # x[0] = x[0], the write-back of ``x[0] += 1``: nothing changes
        _check_grad(t, op)
        _bump(base(t))
        return t

    def compute() -> Tensor:
        v = B.broadcast_to(B.cast(src._touch(), t.dtype), t.shape)
        if v is src._value:
            v = _own_value(v, DEVICE_STATE.of.get(v) or "cpu", history=src.requires_grad and STATE.grad_enabled)
        return _plain(v, *((src,) if t.dtype.is_float else ()))
    return update(t, op, compute, (src,), check_cast=False)


def fill_(t: Tensor, value, op: str = "fill_") -> Tensor:
    """torch's ``fill_``: every element set to ``value`` (a number or a 0-d tensor), cast to ``t``'s
    dtype. Raises LuminaValueError for a tensor value with dims."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise LuminaValueError(f"{op}: only a 0-dimension value tensor can fill {t._value.type}, got "
                                   f"{value._value.type}")
        return copy_(t, value, op)
    if not isinstance(value, NUMBERS):
        raise LuminaTypeError(f"{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    fill = number(value, t.dtype, op)
    return update(t, op, lambda: Tensor(B.broadcast_to(fill, t.shape)), check_cast=False)


def clamp_(t: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 (torch's names)
    return update(t, "clamp_", lambda: t.clamp(min, max), (min, max))


def masked_fill(t: Tensor, mask, value, op: str = "masked_fill") -> Tensor:
    """torch's ``masked_fill``: ``value`` (a number or a 0-d tensor, cast to ``t``'s dtype) where the
    bool ``mask`` (broadcast with ``t``) is True. Raises LuminaTypeError for a mask that is not bool,
    LuminaValueError for a value tensor with dims."""
    mask = mask if isinstance(mask, Tensor) else tensor(mask)
    if mask.dtype is not DType.bool:
        raise LuminaTypeError(f"{op}: only boolean masks are supported, got a {mask._value.type} mask for "
                              f"{t._value.type}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise LuminaValueError(f"{op}: only a 0-dimensional value tensor is supported, got "
                                   f"{value._value.type} for {t._value.type}")
        fill = value.to(t.dtype)
    elif isinstance(value, NUMBERS):
        fill = Tensor(number(value, t.dtype, op))
    else:
        raise LuminaTypeError(f"{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return where(mask, fill, t)


def masked_fill_(t: Tensor, mask, value) -> Tensor:
    if isinstance(mask, Tensor) and broadcast_shapes("masked_fill_", mask._value.type, t._value.type) != t.shape:
        raise LuminaShapeError(f"masked_fill_: mask {mask._value.type} does not broadcast to {t._value.type}")
    return update(t, "masked_fill_", lambda: masked_fill(t, mask, value, "masked_fill_"), (mask, value))


class InplaceMethods:
    """``Tensor``'s in-place ops, each returning ``self`` rebound, and its version counter (the
    package copies them onto ``Tensor``)."""

    @property
    def _version(self) -> int:
        """How many in-place updates this tensor's base has had (torch's ``_version``)."""
        return version(self)

    def copy_(self, other, non_blocking: bool = False) -> Tensor:
        """Replace this tensor's value in place with ``other`` (a tensor, array or number) broadcast
        to its shape and cast to its dtype; data on another device is copied over."""
        return copy_(self, other)

    def assign(self, other) -> Tensor:
        """``copy_`` (lumina's older name, which optimizers and layers use for state updates)."""
        return copy_(self, other, "assign")

    def _inplace(self, op: Op, other, name: str, alpha=None) -> Tensor:
        return binary_(self, op, other, name, alpha)

    def add_(self, other, *, alpha=1): return self._inplace(Op.ADD, other, "add_", alpha)
    def sub_(self, other, *, alpha=1): return self._inplace(Op.SUB, other, "sub_", alpha)
    def mul_(self, other): return self._inplace(Op.MUL, other, "mul_")

    def div_(self, other, *, rounding_mode=None):
        if rounding_mode is not None:
            raise LuminaValueError(f"div_: rounding_mode={rounding_mode!r} is not supported for {self._value.type}")
        return self._inplace(Op.DIV, other, "div_")

    def pow_(self, exponent):
        return update(self, "pow_", lambda: self ** exponent, (exponent,))

    def __iadd__(self, other): return self._inplace(Op.ADD, other, "add_")
    def __isub__(self, other): return self._inplace(Op.SUB, other, "sub_")
    def __imul__(self, other): return self._inplace(Op.MUL, other, "mul_")
    def __itruediv__(self, other): return self._inplace(Op.DIV, other, "div_")
    def __ipow__(self, other): return self.pow_(other)
    def __iand__(self, other): return self._inplace(Op.AND, other, "bitwise_and_")
    def __ior__(self, other): return self._inplace(Op.OR, other, "bitwise_or_")

    def zero_(self) -> Tensor:
        return fill_(self, 0, "zero_")

    def fill_(self, value) -> Tensor:
        return fill_(self, value)

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 (PyTorch's names)
        return clamp_(self, min, max)

    clip_ = clamp_

    def masked_fill(self, mask, value) -> Tensor:
        """``value`` where ``mask`` (bool, broadcast with ``self``) is True; see ``masked_fill``."""
        return masked_fill(self, mask, value)

    def masked_fill_(self, mask, value) -> Tensor:
        return masked_fill_(self, mask, value)
