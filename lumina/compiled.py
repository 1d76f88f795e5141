"""``@lumina.compile``: trace a function of tensors once per input signature and run it compiled.

Tracing calls the function on placeholder tensors with the active ``tracing.Trace``; every realised
tensor the function reads is captured as an extra input (read afresh at each call, so parameters
updated by an optimizer are seen), and every such tensor the function rebinds (``assign``, an
optimizer step, ``.grad`` set by ``backward``) becomes an extra output written back after the call.
A whole training step (forward, backward, optimizer update) therefore runs as one executable. A
gradient read as ``p.grad`` is captured as "the grad ``p`` holds at the call", not as the tensor
object the trace saw (each call writes back a new one), so gradients accumulate over calls as in
eager mode. Whether each such ``.grad`` is None, and its type, guard the entry: a change retraces.

A trace rebinds the state tensors it touches to traced values; when it ends, returning or raising
(KeyboardInterrupt included), they get their values and grads back, so a failed call leaves the
model, its gradients and the optimizer as they were, and caches nothing.

Threads: tracing state and the grad mode are per thread (``tracing.STATE``). One function's first
calls from several threads trace it once; traces of different functions take turns, and compiled
calls and ``Tensor.numpy`` wait for a trace in progress rather than see its traced values
(``tracing.STATE_LOCK``). Concurrent calls that update the same state each write back their own
result (as concurrent PyTorch steps on one model race).

Each compiled function keeps its ``cache_size`` most recently used entries (see ``compile``);
what it drops is freed once the driver's cache of recent executables lets go of it too.

Devices: ``compile(fn, device="cuda")`` runs the whole function on that device (default:
``backends.devices.default_device()``, the best one available). Results go back where the data came
from: the returned tensors are on the compile device when an argument or a captured state tensor
already lives there, else on the CPU; a state tensor the function rebinds (a parameter, an
optimizer slot, a ``.grad``) stays on its own device. So code written for the CPU runs unchanged
(copying its state to the GPU and back at every call), and moving the model's parameters and the
inputs to the device first (``Tensor.to``, ``Module.to``) keeps everything there.
"""
from __future__ import annotations

import functools
import os
import threading
import weakref
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from . import recompiles
from .amp import autocast_state
from .compiler import CompileOptions, compile_graph, current_options, with_own_inputs
from .errors import LuminaDeviceError, LuminaTraceError, LuminaTypeError, LuminaValueError
from .ir.dtypes import to_dtype
from .ir.graph import Graph, emit, topo_sort
from .dynamic_shapes import DynamicDims, has_symbols, sizes_of
from .fast_call import FastCall
from .lowered import Lowered
from .pytree import flatten as _flatten
from .ir.symbolic import Sym, assuming
from .ir.ops import Op
from .ir.types import TensorType
from .backends import devices
from .tensor.aliases import EPOCH
from .tensor.inplace import replaced
from .tensor import Tensor, no_grad, realize
from .tracing import BOUND, STATE, STATE_LOCK, Rebinds, Trace, grad_type

# Compiled signatures each compiled function keeps by default (``$LUMINA_COMPILE_CACHE_SIZE``
# overrides): enough for the batch sizes, train/eval modes and autocast states of real use.
CACHE_SIZE = 64


class _GradOf:
    """Captured state: the ``.grad`` that ``owner`` holds at each call. A call writes back a new
    grad tensor, so the grad object the trace read is not the one the next call must read."""
    __slots__ = ("owner",)

    def __init__(self, owner: Tensor):
        self.owner = owner

    def resolve(self) -> Tensor | None:
        return self.owner._grad


def _resolve(x):
    """A captured input or update target as it is at this call: a tensor (or a fixed array)."""
    return x.resolve() if isinstance(x, _GradOf) else x


@dataclass(eq=False)
class _Update:
    target: Tensor | _GradOf   # the state tensor written back
    kind: str                  # "value" | "grad"


@dataclass(eq=False)
class _Entry:
    key: tuple                # (signature, autocast state, compile options): where the entry sits
                              # in the cache
    graph: Graph
    executable: object          # the device backend's executable (backends.<device>.build)
    n_args: int
    captured: list            # per captured input: a Tensor or a _GradOf (read at call time), or
                              # a fixed array
    out_is_tensor: list[bool]
    out_constants: list       # non-tensor leaves returned as they were
    rebuild: Callable
    updates: list[_Update]
    grads_cleared: list[Tensor]
    guards: list[tuple[Tensor, Any]]   # (state tensor, its .grad's type when traced; None: no grad)
    arg_updates: list[int] = field(default_factory=list)   # arguments updated in place, by position
    arg_grads: list[int] = field(default_factory=list)     # arguments given a .grad, by position
    plain: bool = False       # on the cpu, nothing written back: a call is inputs in, results out
    source_cache: list = field(default_factory=list)   # per captured input: weak references to the
                                                       # (value, data, array) the last call read, or None
    rebinds: int = -1         # tracing.Rebinds.count when source_cache was filled
    out_types: list | None = None   # a plain entry's output TensorTypes, from its first call
    symbolic: bool = False    # traced with symbolic dims: one executable for many sizes
    size_guards: Any = None   # the ``ir.symbolic.Guards`` its trace recorded (None: none)
    fast: Any = None          # its ``fast_call.FastCall``, False where it has none; None: not made yet

    def guards_hold(self) -> bool:
        return not self.guards or all(grad_type(t) == traced for t, traced in self.guards)

    def sizes_hold(self, args) -> bool:
        """Whether the trace's size guards hold at call arguments ``args`` (the sizes of its
        symbolic dims there); an entry without guards needs no look at them."""
        return self.size_guards is None or self.size_guards.hold(sizes_of(args, self.key[0]) or {})


def default_cache_size() -> int:
    """How many compiled signatures a compiled function keeps (``lumina.compile``'s
    ``cache_size``): ``$LUMINA_COMPILE_CACHE_SIZE``, else ``CACHE_SIZE``."""
    env = os.environ.get("LUMINA_COMPILE_CACHE_SIZE")
    return CACHE_SIZE if env is None else _cache_size(env, "LUMINA_COMPILE_CACHE_SIZE")


def _cache_size(value, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or (isinstance(value, float) and value != n) or isinstance(value, bool):
        raise LuminaValueError(f"compile: {what} must be a positive integer, got {value!r}")
    return n


class CompiledFunction:
    """The callable ``lumina.compile`` returns. Call it like the function; ``lower(*args)`` shows
    the traced IR, the IR after the passes, the kernel partition and the generated LLVM.

    It keeps the executables of its ``cache_size`` most recently used signatures (an LRU; an
    evicted one is freed unless something else holds it, and is traced again if it comes back).
    It may be called from several threads at once: the first calls of one signature trace it
    once, and a trace never overlaps another thread's compiled call reading or writing state."""

    def __init__(self, fn: Callable, static_argnums: Sequence[int] = (), device: str | None = None,
                 cache_size: int | None = None, options: CompileOptions | None = None,
                 dynamic: bool | None = None):
        functools.update_wrapper(self, fn)
        self._dims = DynamicDims(dynamic)   # which argument dims it compiles symbolically
        self.fn = fn
        self.options = options   # None: the compiler options current at each call
        self.static_argnums = set(static_argnums)
        self.cache_size = default_cache_size() if cache_size is None else _cache_size(cache_size, "cache_size")
        self._cache: dict[tuple, list[_Entry]] = {}
        self._recent: OrderedDict[_Entry, None] = OrderedDict()   # least recently used first
        self._lock = threading.Lock()         # guards _cache and _recent
        self._last: _Entry | None = None      # the entry the last call ran
        self._fast: FastCall | None = None    # the fast path of the last plain entry a call ran
        self._recompiles: deque[str] = deque(maxlen=recompiles.KEEP)   # why it traced again
        self._trace_lock = threading.Lock()   # one trace of this function at a time
        self._device = devices.require(device) if device is not None else None

    @property
    def device(self) -> str:
        """The device the function runs on (the default device is picked at the first use)."""
        if self._device is None:
            self._device = devices.default_device()
        return self._device

    def _signature(self, args) -> tuple:
        """Per argument: ("static", type, value), or ("tensor", shape, dtype, requires_grad) /
        ("array", shape, dtype), where a dim the function compiles symbolically (``DynamicDims``) is
        its symbol's name instead of its size: dims of equal sizes share a symbol, as
        ``torch.compile``'s duck sizing does; sizes 0 and 1 stay sizes (``ir.symbolic``)."""
        sig = []
        names: dict[int, str] = {}
        shape_of = functools.partial(self._dims.shape, names=names)
        for i, a in enumerate(args):
            if i in self.static_argnums or not isinstance(a, (Tensor, np.ndarray)):
                try:
                    hash(a)
                except TypeError:
                    raise LuminaTypeError(f"compile: argument {i} of type {type(a).__name__} is neither a "
                                          "tensor/array nor hashable (static)") from None
                sig.append(("static", type(a).__name__, a))
            elif isinstance(a, Tensor):
                t = a._value.type
                sig.append(("tensor", shape_of(i, a), t.dtype, a.requires_grad))
            else:
                sig.append(("array", shape_of(i, a), to_dtype(a.dtype)))
        return tuple(sig)

    def mark_dynamic(self, argument: int, dims) -> None:
        """Compile dims ``dims`` of positional argument ``argument`` symbolically from the first
        call on (an ONNX model's named dims: ``batch``, ``sequence``)."""
        self._dims.axes.setdefault(argument, set()).update(dims)

    def cache_info(self) -> dict:
        """``{"entries": compiled signatures held, "cache_size": the most it holds, "recompiles":
        why each of the last traces after the first was needed}`` (``lumina.recompiles``)."""
        with self._lock:
            return {"entries": len(self._recent), "cache_size": self.cache_size,
                    "recompiles": list(self._recompiles)}

    def cache_clear(self) -> None:
        """Drop every compiled signature (each is traced again at its next call)."""
        with self._lock:
            self._cache.clear()
            self._recent.clear()
            self._last = self._fast = None

    def _lookup(self, key: tuple, args) -> _Entry | None:
        with self._lock:
            for entry in self._cache.get(key, ()):
                if entry.guards_hold() and entry.sizes_hold(args):
                    self._recent.move_to_end(entry)
                    return entry
        return None

    def _insert(self, entry: _Entry) -> None:
        with self._lock:
            self._cache.setdefault(entry.key, []).append(entry)
            self._recent[entry] = None
            while len(self._recent) > self.cache_size:
                old, _ = self._recent.popitem(last=False)
                if self._fast is not None and self._fast.entry is old:
                    self._fast = None
                entries = self._cache[old.key]
                entries.remove(old)
                if not entries:
                    del self._cache[old.key]

    def _entry(self, args) -> _Entry:
        """The compiled entry for ``args``: same signature, and the state it was traced with (which
        ``.grad`` exist, and their types: whether backward accumulates) still holds; else a new
        trace."""
        if STATE.trace is not None:
            raise LuminaTraceError(f"compile: {getattr(self.fn, '__name__', 'a compiled function')} "
                                   "called inside another @lumina.compile function; nested compiled "
                                   "calls are not supported (call the plain function instead)")
        sig = self._signature(args)
        options = self.options if self.options is not None else current_options()
        key = (sig, autocast_state(), options)   # ops record autocast casts
        last = self._last   # the entry of the last call, checked without the lock and the LRU
        if last is not None and last.key == key and last.guards_hold() and last.sizes_hold(args):
            return last
        entry = self._lookup(key, args)
        if entry is None:
            with self._trace_lock:       # another thread may have traced it meanwhile
                entry = self._lookup(key, args)
                if entry is None and self._dims.widen([e.key[0] for e in list(self._recent)], sig):
                    sig = self._signature(args)
                    key = (sig, key[1], key[2])
                    entry = self._lookup(key, args)
                if entry is None:
                    previous = self._last
                    entry, key = self._trace_dynamic(args, sig, key)
                    self._insert(entry)
                    self._note_recompile(previous, key, args)
        self._last = entry
        return entry

    def _trace_dynamic(self, args, sig: tuple, key: tuple) -> tuple[_Entry, tuple]:
        """``_trace``; for a signature with symbolic dims, a trace or compile that cannot keep
        them symbolic (a size the function needs as a number, an op whose code needs it) falls
        back to the sizes themselves, for this and every later call, and the reason is logged
        (``LUMINA_LOG=recompiles``). Returns the entry and its key."""
        if not has_symbols(sig):
            return self._trace(args, sig, key), key
        try:
            return self._trace(args, sig, key), key
        except Exception as e:   # noqa: BLE001 - whatever failed, the sizes themselves decide
            reason = f"{type(e).__name__}: {e}"
        self._dims.give_up()
        line = (f"{recompiles.function_label(self.fn)} compiled for its sizes: its symbolic compile "
                f"failed ({reason})")
        self._recompiles.append(line)
        recompiles.LOG.info(line)
        sig = self._signature(args)
        key = (sig, key[1], key[2])
        entry = self._lookup(key, args)
        return (entry if entry is not None else self._trace(args, sig, key)), key

    def _note_recompile(self, previous: _Entry | None, key: tuple, args) -> None:
        """Log why this trace was needed, against the entry the function ran last (``recompiles``)."""
        if previous is None:
            return
        stale = [f"the .grad of a {t._value.type} state tensor is {grad_type(t) or 'None'} (traced with "
                 f"{traced or 'None'})" for t, traced in previous.guards if grad_type(t) != traced]
        if previous.key == key and not previous.sizes_hold(args):
            stale.append(f"sizes {sizes_of(args, key[0])} fail its guards {previous.size_guards.describe()}")
        reasons = recompiles.explain(self.fn, previous.key, key, stale if previous.key == key else [])
        line = (f"{recompiles.function_label(self.fn)} traced again ({len(self._recent)} signatures held): "
                + "; ".join(reasons))
        self._recompiles.append(line)
        recompiles.LOG.info(line)

    def _prepare(self, args, entry: _Entry | None = None) -> tuple[_Entry, list, list, list]:
        """The entry for ``args`` (``entry`` when it is already looked up), its input data, and the
        state tensors it reads and writes back at this call, read under ``STATE_LOCK`` so that no
        trace has them rebound meanwhile."""
        for _ in range(3):
            entry = entry or self._entry(args)
            with STATE_LOCK:
                if entry.guards_hold():   # else another thread changed a .grad since the lookup
                    sources = [_resolve(c) for c in entry.captured]
                    targets = [_resolve(u.target) for u in entry.updates]
                    return entry, self._inputs(args, entry, sources), sources, targets
            entry = None
        raise LuminaTraceError(f"compile: {getattr(self.fn, '__name__', 'fn')}: the .grad of a tensor it "
                               "reads keeps changing between the lookup and the call (another thread?)")

    def _trace(self, args, sig, key) -> _Entry:
        trace = Trace()
        traced_args, placeholders, arg_tensors = [], [], []
        for i, (a, s) in enumerate(zip(args, sig)):
            if s[0] == "static":
                traced_args.append(a)
                continue
            shape = tuple(Sym.symbol(d) if isinstance(d, str) else d for d in s[1])
            v = emit(Op.INPUT, type=TensorType(shape, s[2]), name=f"arg{len(placeholders)}")
            placeholders.append(v)
            trace.placeholders.add(id(v))
            traced_args.append(Tensor(v, requires_grad=isinstance(a, Tensor) and a.requires_grad, _is_leaf=True))
            arg_tensors.append((i, traced_args[-1], v))
        grad_refs: dict[int, _GradOf] = {}

        def ref(tensor: Tensor):
            """How a call finds state tensor ``tensor``: itself, or, for a grad read as ``p.grad``,
            the grad ``p`` holds at that call (one ``_GradOf`` per ``p``)."""
            owner = trace.grad_owner.get(id(tensor))
            if owner is None:
                return tensor
            return grad_refs.setdefault(id(owner), _GradOf(owner))

        with STATE_LOCK:   # the state tensors the function touches hold traced values until restored
            try:
                STATE.trace = trace
                try:   # a comparison of symbolic sizes is decided at this call's, and guarded
                    with assuming(sizes_of(args, sig) or {}) as size_guards:
                        out = self.fn(*traced_args)
                finally:
                    STATE.trace = None
                leaves, rebuild = _flatten(out)
                out_values = [t._touch() for t in leaves if isinstance(t, Tensor)]
                updates, cleared, update_values = self._updates(trace, ref)
                # arguments the function updated in place (``x.add_(1)``, ``x[i] = v``): written
                # back to the caller's tensors (and arrays) after each call, as in eager mode
                written = [(i, t._value) for i, t, v in arg_tensors if t._value is not v]
                # gradients the function's backward left on its tensor arguments: accumulated into
                # the caller's tensors' .grad after each call, as eager mode and torch.compile do
                arg_grads = [(i, t._grad._touch()) for i, t, _ in arg_tensors if t._grad is not None]
            finally:
                # Whether the function returned or raised (KeyboardInterrupt included), every
                # touched tensor gets its value and grad back: a trace never leaks placeholders
                # into user state.
                trace.restore()

        # Several tensor objects can share one value (a no-op reshape returns the same value); the
        # call must read the one whose updates are written back.
        updated = {id(u.target) for u in updates if u.kind == "value"}
        original: dict[int, Tensor] = {}
        for tensor, v0, _ in trace.touched.values():
            if id(v0) not in original or id(ref(tensor)) in updated:
                original[id(v0)] = tensor
        written_values = [v for _, v in written] + [g for _, g in arg_grads]
        nodes = topo_sort(out_values + update_values + written_values)
        captured_values, captured = [], []
        for n in nodes:
            v = n.out
            if n.op is Op.INPUT and id(v) not in trace.placeholders:
                if v not in BOUND:
                    raise LuminaTraceError("compile: the function reads a tensor traced by another "
                                           "compiled call")
                captured_values.append(v)
                tensor = original.get(id(v))
                captured.append(BOUND[v] if tensor is None else ref(tensor))
        # The graph reads the captured state through inputs of its own: the values it was traced
        # with are bound to the state's data at that time, which the entry must not keep alive.
        graph = with_own_inputs(Graph.from_outputs(out_values + update_values + written_values,
                                                   placeholders + captured_values,
                                                   name=getattr(self.fn, "__name__", "fn").strip("<>")))
        exe = compile_graph(graph, self.device, options=key[2])
        guards = list(trace.grad_guards.values())
        plain = self.device == "cpu" and not (updates or cleared or written or arg_grads)
        return _Entry(key, graph, exe, len(placeholders), captured,
                      [isinstance(t, Tensor) for t in leaves],
                      [None if isinstance(t, Tensor) else t for t in leaves], rebuild, updates, cleared,
                      guards, [i for i, _ in written], [i for i, _ in arg_grads], plain,
                      symbolic=any(isinstance(d, Sym) for v in placeholders for d in v.shape),
                      size_guards=size_guards if size_guards.guards else None)

    @staticmethod
    def _updates(trace: Trace, ref: Callable) -> tuple[list[_Update], list[Tensor], list]:
        """The state the traced function rebound (while the trace still holds the new values):
        the updates to write back, the tensors whose .grad it set to None, and the new values."""
        updates, cleared, values = [], [], []
        for tensor, v0, g0 in trace.touched.values():
            if tensor._value is not v0:
                updates.append(_Update(ref(tensor), "value"))
                values.append(tensor._value)
            if tensor._grad is not g0:
                if tensor._grad is None:
                    cleared.append(tensor)
                else:
                    updates.append(_Update(tensor, "grad"))
                    values.append(tensor._grad._value)
        return updates, cleared, values

    def _tensors(self, args, sources: list) -> list:
        """The executable's inputs: per graph input, the tensor argument, the array argument or
        the captured state (a Tensor, or an array fixed at trace time)."""
        found = [a for i, a in enumerate(args)
                 if i not in self.static_argnums and isinstance(a, (Tensor, np.ndarray))]
        return found + sources

    def _inputs(self, args, entry: _Entry, sources: list) -> list:
        """The executable's input data, one per graph input: NumPy arrays, or device tensors for
        a device executable (data already on its device is passed as it is). A captured state
        tensor whose value (and cached data) are the objects the last call read gives the array it
        gave then, without a lookup (``entry.source_cache``; ``tracing.Rebinds`` tells when a
        value's data was replaced). Call it holding ``STATE_LOCK``."""
        pending = [x for x in (*args, *sources) if isinstance(x, Tensor) and not x._realized and x._data is None]
        if pending:   # lazy arguments and state (eager gradients): computed by one executable
            realize(*pending)
        host = self.device == "cpu"
        if host:
            static = self.static_argnums
            inputs = [_host_data(a) if isinstance(a, Tensor) else a for i, a in enumerate(args)
                      if isinstance(a, (Tensor, np.ndarray)) and i not in static]
        else:
            inputs = [self._data(x, host) if isinstance(x, Tensor) else x for x in self._tensors(args, [])]
        cache = entry.source_cache
        if entry.rebinds != Rebinds.count:
            cache[:] = [None] * len(sources)
            entry.rebinds = Rebinds.count
        for i, x in enumerate(sources):
            if isinstance(x, Tensor):
                seen = cache[i]
                if seen is not None and seen[0]() is x._value and seen[1]() is x._data and x._view is None:
                    data = seen[2]()
                    if data is not None:
                        inputs.append(data)
                        continue
                data = self._data(x, host)
                if host and x._view is None:   # weak: the entry keeps none of the state alive
                    cache[i] = (weakref.ref(x._value), _weak(x._data), weakref.ref(data))
                inputs.append(data)
            else:
                inputs.append(devices.host_array(x) if host else x)   # fixed at trace time, maybe a device's
        return inputs

    @staticmethod
    def _data(x: Tensor, host: bool):
        """Tensor ``x``'s data, realised: a NumPy array when ``host``, else in its device's form."""
        if x._view is not None or (not x._realized and x._data is None):   # else realize has nothing to do
            realize(x)
        data = BOUND[x._value] if x._data is None else x._data
        return devices.host_array(data) if host else data

    def _run_plain(self, entry: _Entry, args) -> list | None:
        """The outputs of a plain entry's executable (see ``_Entry.plain``) on ``args``; None when
        a guard no longer holds (the caller takes the general path, which looks the entry up
        again)."""
        with STATE_LOCK:
            if not entry.guards_hold():
                return None
            inputs = self._inputs(args, entry, [_resolve(c) for c in entry.captured])
        return entry.executable.run(inputs)

    def run_host(self, *args) -> Any:
        """Call the function; the tensors it returns come back as NumPy arrays (its other leaves as
        they are), without making tensors of them: for callers that hand arrays on (an ONNX model's
        outputs)."""
        entry = self._entry(args)
        outs = self._run_plain(entry, args) if entry.plain else None
        if outs is None:
            leaves, rebuild = _flatten(self(*args))
            return rebuild([t.numpy() if isinstance(t, Tensor) else t for t in leaves])
        it = iter(outs)
        return entry.rebuild([next(it) if is_tensor else c for is_tensor, c in zip(entry.out_is_tensor,
                                                                                    entry.out_constants)])

    def frozen_host_call(self, *args) -> Callable[[Sequence[np.ndarray]], list | None] | None:
        """For a host caller that calls again with arrays of ``args``' shapes and dtypes (an ONNX
        model): ``call(arrays)``, the outputs' NumPy arrays for array arguments ``arrays``, without
        the signature, cache and state lookups of a call; it returns None (take the full call) when
        the autocast state, the compile options or a captured tensor's value is not what it was
        here. None when no such shortcut is sound: arguments that are not all arrays, a compiled
        call that writes state back, has guards or returns non-tensors, captured state that is not
        frozen (``Tensor._from_array(frozen=True)``: data that never changes), or another device
        than the cpu."""
        if self.static_argnums or not all(type(a) is np.ndarray for a in args):
            return None
        entry = self._entry(args)
        captured = entry.captured
        if (not entry.plain or entry.guards or not all(entry.out_is_tensor)
                or not all(isinstance(c, Tensor) and c._data is None and c._view is None
                           and c._value.node.attrs.get("frozen") for c in captured)):
            return None
        values = [c._value for c in captured]
        state, options = entry.key[1], entry.key[2]
        run = entry.executable.pinned([BOUND[v] for v in values])

        checked = [-1]   # the EPOCH at which the captured tensors last held ``values``

        def call(arrays):
            if autocast_state() != state or (self.options is None and current_options() != options):
                return None
            if checked[0] != EPOCH.now:   # some tensor was rebound since: were these?
                now = EPOCH.now
                for c, v in zip(captured, values):
                    if c._value is not v:
                        return None
                checked[0] = now
            return run(arrays)
        return call

    def __call__(self, *args):
        fast = self._fast
        if fast is not None:
            out = fast(args)
            if out is not None:
                return out
        entry = self._entry(args)
        if entry.plain:
            outs = self._run_plain(entry, args)
            if outs is not None:
                types = entry.out_types   # the executable's outputs keep their shapes and dtypes ...
                if types is None:
                    types = [TensorType(o.shape, to_dtype(o.dtype)) for o in outs]
                    if not entry.symbolic:   # ... unless its sizes are symbolic
                        entry.out_types = types
                it = iter(zip(outs, types))
                out = entry.rebuild([_output(*next(it)) if is_tensor else c
                                     for is_tensor, c in zip(entry.out_is_tensor, entry.out_constants)])
                if entry.fast is None and not self.static_argnums:
                    entry.fast = FastCall.build(entry, args, self.options is not None) or False
                self._fast = entry.fast or None
                return out
        entry, inputs, sources, targets = self._prepare(args, entry)
        device = self.device
        state_on = [t._device_name for t in targets]
        if device == "cpu":
            outs = entry.executable.run(inputs)
            user_on = "cpu"
        else:
            here = any(isinstance(x, Tensor) and x._device_name == device for x in self._tensors(args, sources))
            user_on = device if here else "cpu"
            host = [user_on == "cpu"] * sum(entry.out_is_tensor) + [d != device for d in state_on]
            host += [not isinstance(args[i], Tensor) or args[i]._device_name != device for i in entry.arg_updates]
            host += [args[i]._device_name != device for i in entry.arg_grads]
            outs = entry.executable.run(inputs, host=host)
        n_user, n_state = sum(entry.out_is_tensor), len(entry.updates)
        user, state, written = outs[:n_user], outs[n_user:n_user + n_state], outs[n_user + n_state:]
        written, grads = written[:len(entry.arg_updates)], written[len(entry.arg_updates):]
        # Every result tensor is made before the first is written back, so the state is updated
        # all together (short of an interrupt in the few assignments below) or not at all.
        results = [_result_tensor(arr, device, on) for arr, on in zip(state, state_on)]
        with STATE_LOCK:
            for u, target, t in zip(entry.updates, targets, results):
                if u.kind == "value":
                    old = target._value
                    target._set_value(t._value)
                    replaced(target, old)     # an in-place update: versions, views, backward
                else:
                    target.grad = t
            for t in entry.grads_cleared:
                t.grad = None
        for i, arr in zip(entry.arg_updates, written):
            _write_arg(args[i], arr, device)
        for i, arr in zip(entry.arg_grads, grads):   # accumulated into .grad, as PyTorch's backward does
            grad = _result_tensor(arr, device, args[i]._device_name)
            with no_grad():
                args[i].grad = grad if args[i].grad is None else args[i].grad + grad
        it = iter(user)
        leaves = [_result_tensor(next(it), device, user_on) if is_t else c
                  for is_t, c in zip(entry.out_is_tensor, entry.out_constants)]
        return entry.rebuild(leaves)

    def profile(self, *args, repeat: int = 10) -> list[tuple[str, float]]:
        """``(kernel name, best seconds)`` of every launch of the call on ``args``, in launch order,
        each timed alone over ``repeat`` runs (state updates are not written back). On cuda: CUDA
        events around each launch (wall time under the interpreter); not on metal."""
        if self.device == "metal":
            self._cpu_only("profile")
        entry, inputs, _, _ = self._prepare(args)
        return [(launch.name, t) for launch, t in entry.executable.profile(inputs, repeat)]

    def profile_report(self, *args, repeat: int = 10):
        """Per kernel launch of the call on ``args``: FLOPs, bytes moved, best seconds over
        ``repeat`` runs, achieved GFLOP/s and GB/s and share of the step, as a
        ``backends.cpu.profile.ProfileReport`` (``.rows``; ``str()`` is the table). Counting rules:
        ``backends/cpu/profile.py``."""
        self._cpu_only("profile_report")
        entry, inputs, _, _ = self._prepare(args)
        return entry.executable.profile_report(inputs, repeat)

    def _cpu_only(self, what: str) -> None:
        if self.device != "cpu":
            raise LuminaDeviceError(f"{what}: this per-kernel profile is measured on the cpu device only; "
                                    f"{self.fn.__name__} runs on {self.device} (compile it with device='cpu', "
                                    "or time the whole call, as benchmarks/bench_gpu.py does)")

    def lower(self, *args) -> Lowered:
        """The compilation of this function for ``args``' signature (traces it if needed)."""
        return Lowered(self._entry(args))


def _none() -> None:
    return None


def _output(data: np.ndarray, type: TensorType) -> Tensor:
    """A plain cpu entry's output ``data`` (of TensorType ``type``) as a realised tensor."""
    return Tensor._from_array(data, type=type)


def _host_data(x: Tensor) -> np.ndarray:
    """``CompiledFunction._data(x, host=True)``: a realised tensor that is no view gives its array
    without the realize call (a call's arguments are usually such tensors)."""
    if x._view is None:
        data = x._data if x._data is not None else BOUND.get(x._value)
        if type(data) is np.ndarray:
            return data
    return CompiledFunction._data(x, True)


def _weak(x) -> Callable:
    """A weak reference to ``x``, or for None a callable returning None."""
    return _none if x is None else weakref.ref(x)


def _write_arg(arg, data, device: str) -> None:
    """Write an argument's new value (an output on ``device``) into the caller's tensor in place (no
    history: the function's own autograd checks ran when it was traced) or NumPy array."""
    if isinstance(arg, Tensor):
        with no_grad():
            arg.copy_(_result_tensor(data, device, arg._device_name))
    else:
        np.copyto(arg, devices.host_array(data))


def _result_tensor(data, device: str, wanted: str) -> Tensor:
    """A realised tensor on ``wanted`` over ``data`` (an output of an executable on ``device``:
    already in ``wanted``'s form when the executable was asked for it there, else moved)."""
    if wanted != device and not isinstance(data, np.ndarray):
        data = devices.transfer(data, device, wanted)
    elif wanted == "cuda" and isinstance(data, np.ndarray):
        data = devices.transfer(data, "cpu", "cuda")
    return Tensor._bind(data, wanted)


def compile(fn: Callable | None = None, *, static_argnums: Sequence[int] = (), device: str | None = None,
            cache_size: int | None = None, options: CompileOptions | None = None,
            dynamic: bool | None = None) -> Any:
    """Decorator: compile ``fn`` (a function of tensors / arrays) per input signature.

    Non-tensor arguments are static: their values are part of the signature, so pass numbers that
    change every call (a learning rate schedule, say) as tensors. Returned tensors are realised.
    ``device`` ("cpu", "cuda", "metal"; default: ``backends.devices.default_device()``) is where
    the function runs; see the module docstring for where its results land. ``cache_size`` is how
    many signatures stay compiled, least recently used dropped first (default
    ``default_cache_size()``: ``$LUMINA_COMPILE_CACHE_SIZE``, else 64). ``options``
    (``compiler.CompileOptions``) fix what the compiler may fuse; None: the options current at each
    call (``compiler.options``), each compiled apart.
    Raises LuminaTraceError when ``fn`` reads a traced value (``.item()``, ``.numpy()``),
    LuminaDeviceError (naming the device and why) when ``device`` cannot run here, and
    LuminaValueError for a ``cache_size`` that is not a positive integer.

    ``dynamic`` follows ``torch.compile``: None (default) compiles for the sizes seen, and when a
    call differs from an earlier one only in some dims' sizes, compiles once more with those dims
    symbolic (``ir.symbolic``), an executable that then serves every size of them; True makes the
    first dim of every tensor argument symbolic from the first call (lumina's choice: PyTorch
    makes every dim dynamic); False never. ``mark_dynamic(x, dim)`` names dims itself. Dims of
    equal sizes share a symbol (duck sizing); sizes 0 and 1 are always compiled as they are. A
    function whose code needs a size as a number (``int(x.shape[0])``) or an op whose generated
    code needs it is compiled for its sizes instead, and
    ``cache_info()["recompiles"]`` / ``LUMINA_LOG=recompiles`` say why.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, static_argnums, device, cache_size, options, dynamic)
    return CompiledFunction(fn, static_argnums, device, cache_size, options, dynamic)

