"""The fast path of a ``@lumina.compile`` call: a call that looks like the last one runs its
executable with only the checks that tell it is the same entry.

A compiled call normally builds the argument signature (every shape, dtype and flag), looks it up,
checks the entry's guards, gathers the captured state's arrays and wraps each output in a tensor:
about 15 us of Python before and after a kernel that may take 1 us. ``FastCall`` is made for one
*plain* entry (``compiled._Entry.plain``: on the cpu, nothing written back) after a call of it has
succeeded; it remembers what that call's arguments looked like (per position, a realised ``Tensor``
of one ``TensorType`` and ``requires_grad``, or a NumPy array of one shape and dtype) and the arrays
of the captured state, and a later call whose arguments look the same runs the executable at once.
Anything else (another shape, a lazy argument, a view, a trace in progress, another autocast state
or compile options, state rebound since) makes it return None, and the caller takes the general
path, which decides as it always did. So the fast path never decides differently from the general
one; it only skips deciding again.

An entry traced with symbolic dims (``dynamic=``, or a dim seen at two sizes) takes the fast path
at any sizes its signature would name the same way: each symbol one size of at least
``ir.symbolic.MIN_SIZE``, distinct symbols distinct sizes, and the trace's size guards holding.

State: a captured tensor is trusted while ``tensor.aliases.EPOCH`` (advanced by every rebinding of a
tensor's value) and ``tracing.Rebinds`` (by every replacement of a value's data) have not moved;
when either has, each captured tensor is checked against the value and data the snapshot holds.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np

from .amp import autocast_state
from .compiler import current_options
from .tensor import Tensor
from .ir.symbolic import MIN_SIZE
from .ir.types import TensorType
from .tensor.aliases import EPOCH
from .tracing import BOUND, STATE, STATE_LOCK, Rebinds


class FastCall:
    """``call(args)``: the outputs of the entry it was made for, on ``args``, as the general path
    returns them; None when ``args`` (or the state) do not look like the call it was made from.
    Make one with ``FastCall.build``."""

    __slots__ = ("entry", "_run", "_kinds", "_autocast", "_options", "_captured", "_arrays",
                 "_epoch", "_rebinds", "_out_types", "_rebuild", "_single", "_dtypes")

    def __init__(self, entry, run: Callable, kinds: list, options, captured: list):
        self.entry = entry
        self._run = run
        # per argument: (its Tensor class, TensorType, requires_grad) | (np.ndarray, shape, dtype);
        # for an entry with symbolic dims the middle is (the signature's shape, dtype)
        self._kinds = kinds
        self._autocast = entry.key[1]
        self._options = options      # None: the function's own options (no check needed)
        self._captured = captured    # per captured input: the state Tensor, or an array fixed at trace time
        self._arrays: list[weakref.ref] = []   # the captured inputs' arrays at the last snapshot
        self._epoch = -1
        self._rebinds = -1
        self._out_types = entry.out_types
        self._rebuild = entry.rebuild
        self._dtypes = None          # an entry with symbolic dims: its outputs' dtypes (their shapes vary)
        marker = object()   # one tensor returned as it is: no tree to rebuild
        self._single = entry.out_is_tensor == [True] and entry.rebuild([marker]) is marker

    @staticmethod
    def build(entry, args, own_options: bool) -> FastCall | None:
        """The fast path of plain cpu ``entry`` for calls like the one on ``args`` that just ran
        it, or None where the entry needs what only the general path does: ``.grad`` guards, a
        captured ``.grad``, static or non-array arguments, or a tensor argument that is lazy, a
        view or marked dynamic. An entry traced with symbolic dims (``entry.symbolic``) takes
        calls whose sizes give each symbol one size, distinct from the others' (as the signature's
        duck sizing names them) and at least ``MIN_SIZE``, where its size guards hold."""
        if not entry.plain or entry.guards or (not entry.symbolic and entry.out_types is None):
            return None
        kinds, arrays = [], []
        for a, sig in zip(args, entry.key[0]):
            if type(a) is np.ndarray:
                kinds.append((np.ndarray, (tuple(sig[1]), a.dtype) if entry.symbolic else a.shape, a.dtype))
                arrays.append(a)
            elif isinstance(a, Tensor) and a._view is None and getattr(a, "_dynamic_dims", None) is None:
                # by its exact class: a subclass (from_numpy's, nn.Parameter) is checked as itself
                t = a._value.type
                kinds.append((type(a), (tuple(sig[1]), t.dtype) if entry.symbolic else t, a.requires_grad))
                arrays.append(_array(a))
            else:
                return None
        if not all(isinstance(c, (Tensor, np.ndarray)) for c in entry.captured):   # a ``.grad`` read per call
            return None
        exe = entry.executable
        fast = FastCall(entry, exe.runner(), kinds, None if own_options else entry.key[2], list(entry.captured))
        if not fast._snapshot():
            return None
        if entry.symbolic:   # an executable per size, which its runner finds and checks
            fast._dtypes = [v.dtype for v in entry.graph.outputs[:sum(entry.out_is_tensor)]]
        elif not exe.binds_as_is(arrays + [r() for r in fast._arrays]):
            return None   # the executable would convert these arrays (so it would the same types' later)
        return fast

    def __call__(self, args) -> Any:
        if (STATE.trace is not None or len(args) != len(self._kinds) or autocast_state() != self._autocast
                or (self._options is not None and current_options() != self._options)):
            return None
        if self._dtypes is not None:
            return self._call_symbolic(args)
        inputs = []
        for a, (kind, t, flag) in zip(args, self._kinds):
            if type(a) is not kind:
                return None
            if kind is not np.ndarray:
                if a._view is not None or a.requires_grad is not flag:
                    return None
                v = a._value
                if v.type is not t and v.type != t:
                    return None
                data = a._data   # ``_array`` inlined: every call, every argument
                if data is None:
                    data = BOUND.get(v)
                    if type(data) is not np.ndarray:   # lazy: the general path realises it
                        return None
                inputs.append(data)
            elif a.shape != t or a.dtype != flag or not a.flags.c_contiguous:
                return None
            else:
                inputs.append(a)
        outs = self._execute(inputs)
        if outs is None:
            return None
        if self._single:
            return Tensor._from_array(outs[0], type=self._out_types[0])
        return self._results(outs, self._out_types)

    def _execute(self, inputs: list) -> list | None:
        """The executable's outputs on argument arrays ``inputs`` and the captured state (None when
        the state is no longer what the fast path can read)."""
        tail = ()
        if self._captured:
            if self._epoch != EPOCH.now or self._rebinds != Rebinds.count:
                if not self._snapshot():
                    return None
            # Unchanged since the snapshot (no tensor rebound, no value given other data), the
            # captured tensors, which the entry holds, still hold these arrays: alive, and bound
            # already when the last call bound the same list.
            tail = self._arrays
        return self._run(inputs, tail)

    def _results(self, outs: list, types) -> Any:
        """The call's result: output arrays ``outs`` as tensors of ``types``, in the entry's tree."""
        it = iter(zip(outs, types))
        return self._rebuild([Tensor._from_array(*next(it)) if is_tensor else c
                              for is_tensor, c in zip(self.entry.out_is_tensor, self.entry.out_constants)])

    def _call_symbolic(self, args) -> Any:
        """``__call__`` for an entry with symbolic dims: each argument's shape matches the
        signature's, a symbol's dims agree, distinct symbols have distinct sizes of at least
        ``MIN_SIZE`` (else the signature would name them otherwise), and the size guards hold."""
        inputs, sizes = [], {}
        for a, (kind, (shape, dtype), flag) in zip(args, self._kinds):
            if type(a) is not kind:
                return None
            if kind is np.ndarray:
                data = a
                if a.dtype != dtype or not a.flags.c_contiguous:
                    return None
            else:
                if a._view is not None or a.requires_grad is not flag or a._value.type.dtype is not dtype:
                    return None
                data = _array(a)
                if type(data) is not np.ndarray:
                    return None
            if len(data.shape) != len(shape):
                return None
            for d, n in zip(shape, data.shape):
                if type(d) is str:
                    if n < MIN_SIZE or sizes.setdefault(d, n) != n:
                        return None
                elif d != n:
                    return None
            inputs.append(data)
        if len(set(sizes.values())) != len(sizes):
            return None
        guards = self.entry.size_guards
        if guards is not None and not guards.hold(sizes):
            return None
        outs = self._execute(inputs)
        if outs is None:
            return None
        return self._results(outs, [TensorType(o.shape, dt) for o, dt in zip(outs, self._dtypes)])

    def _snapshot(self) -> bool:
        """Read the captured state's arrays afresh (some tensor was rebound since the last read);
        False when a captured tensor is lazy or a view now (the general path handles it)."""
        with STATE_LOCK:   # no trace in another thread has the state rebound meanwhile
            epoch, rebinds = EPOCH.now, Rebinds.count
            arrays = []
            for tensor in self._captured:
                if isinstance(tensor, np.ndarray):
                    arrays.append(weakref.ref(tensor))   # fixed at trace time; the entry holds it
                    continue
                if tensor._view is not None:
                    return False
                data = _array(tensor)
                if type(data) is not np.ndarray:
                    return False
                arrays.append(weakref.ref(data))   # weak: the fast path keeps no old state alive
            # a new list: the executable's runner binds it again
            self._arrays, self._epoch, self._rebinds = arrays, epoch, rebinds
        return True


def _array(t: Tensor):
    """Realised tensor ``t``'s host array, or None (lazy, or on another device)."""
    data = t._data
    return BOUND.get(t._value) if data is None else data
