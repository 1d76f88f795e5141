"""The ``Tensor`` class: a lazy value and what every op needs of it.

A Tensor holds an SSA value (``_value``, a ``lumina.ir`` node); operations only record new nodes,
and ``.numpy()`` / ``.item()`` realise a tensor by compiling the graph that computes it
(``compiler.compile_graph``) and running it. Shapes are checked when an op is recorded, so a
mismatch is reported at the line that caused it. This module holds the data model: making and
binding tensors, realisation (``realize``), the device and dtype (``to``), ``repr``, the grad slots
(``grad``, ``requires_grad_``, ``detach``, ``no_grad``) and the dim arguments every op checks
(``_axes``). The ops are methods the package attaches (see ``lumina.tensor``); this module imports
none of them.

Devices, as PyTorch users expect them: a tensor lives on ``.device`` ("cpu" unless moved with
``.to("cuda")`` / ``.to("metal")``), ops run where their operands live (realising a graph compiles
it for that device), operands on two devices in one op raise LuminaDeviceError naming the op and
both devices, and ``.numpy()`` copies the value to the host. Constants and 0-d CPU tensors join any
device (``lumina.tensor.device``). A realised cuda tensor's data is a torch tensor from PyTorch's
allocator, kept on the GPU.
"""
from __future__ import annotations

import functools

import math
import weakref

import numpy as np

from .. import tracing
from ..backends.devices import host_array, require, transfer
from ..compiler import compile_graph
from ..errors import LuminaDeviceError, LuminaGradError, LuminaIndexError, LuminaTraceError, LuminaTypeError, \
    LuminaValueError
from ..ir import graph as B
from ..ir.dtypes import DType, to_dtype
from ..ir.graph import Graph, Value, emit
from ..ir.ops import Op
from ..ir.types import TensorType
from ..tracing import BOUND, STATE, STOP_GRAD
from .aliases import EPOCH, VIEW_OPS, detached, is_contiguous, link_view, sync
from .device import DEVICE_STATE, device, device_arg, torch_to_dtype
from .size import Size

# The tensor object of each leaf value that requires grad, for ``backward`` to find its ``.grad``.
LEAF_OF: "weakref.WeakValueDictionary[int, Tensor]" = weakref.WeakValueDictionary()

# torch's legacy type names, which ``Tensor.type()`` returns.
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


class Tensor:
    """A lazily evaluated n-dimensional array.

    ``shape`` / ``dtype`` / ``ndim`` are known without running anything. ``requires_grad`` tensors
    record their history for ``backward()``; their gradient lands in ``.grad``.
    """

    __slots__ = ("_value", "requires_grad", "_grad", "_is_leaf", "_data", "_serial", "_view", "_updates",
                 "_dynamic_dims", "__weakref__")   # _updates: set by the first in-place update (.inplace);
    #                                                _dynamic_dims: by ``lumina.mark_dynamic``
    __hash__ = object.__hash__

    def __init__(self, value: Value, requires_grad: bool = False, _is_leaf: bool = False):
        self._value = value
        self.requires_grad = requires_grad
        self._grad: Tensor | None = None
        self._is_leaf = _is_leaf or not requires_grad
        self._data: np.ndarray | None = None
        self._serial = next(tracing.SERIALS)  # creation order: tells state from trace temporaries
        self._view = None                     # an aliases.ViewLink when this tensor aliases another
        if DEVICE_STATE.elsewhere and STATE.trace is None:
            DEVICE_STATE.device_of(value)   # raises where operands on two devices meet
        if requires_grad and self._is_leaf:
            LEAF_OF[id(value)] = self

    # ---- construction helpers --------------------------------------------------------------------
    @staticmethod
    def _from_array(arr: np.ndarray, requires_grad: bool = False, frozen: bool = False,
                    type: TensorType | None = None) -> Tensor:
        """A realised tensor over ``arr`` (not copied; it must be C-contiguous). ``frozen``: the
        caller promises ``arr`` never changes (an ONNX model's weights); it is made read-only, and
        compiled code may keep data derived from it across calls (``codegen.program.SlotSpec``).
        ``type``: ``arr``'s TensorType, when the caller has it already (a compiled call's outputs)."""
        attrs = {"name": tracing.fresh_name()}
        if frozen:
            arr.flags.writeable = False
            attrs["frozen"] = True
        v = Value(Op.INPUT, (), attrs, type or TensorType(arr.shape, to_dtype(arr.dtype)))
        BOUND[v] = arr
        return Tensor(v, requires_grad, _is_leaf=True)

    @staticmethod
    def _bind(data, device: str, requires_grad: bool = False) -> Tensor:
        """A realised tensor over ``data`` on ``device``: a C-contiguous NumPy array on "cpu" and
        "metal", a torch tensor on "cuda" (see ``backends.devices.transfer``)."""
        if device == "cpu":
            return Tensor._from_array(data, requires_grad)
        dtype = to_dtype(data.dtype) if isinstance(data, np.ndarray) else torch_to_dtype(data.dtype)
        v = emit(Op.INPUT, type=TensorType(tuple(data.shape), dtype), name=tracing.fresh_name())
        BOUND[v] = data
        DEVICE_STATE.bind(v, device)
        return Tensor(v, requires_grad, _is_leaf=True)

    # ---- pickling and copying ---------------------------------------------------------------------
    def __reduce_ex__(self, protocol):
        """Pickle as torch's tensors pickle: the values (a lazy tensor is realised first), the
        dtype, ``requires_grad`` and the device; the result is a leaf with no history."""
        return _rebuild, (np.array(self.numpy(), copy=True), self.requires_grad, self._device_name)

    def __deepcopy__(self, memo) -> Tensor:
        """``copy.deepcopy``: a leaf with the same values, dtype, device and ``requires_grad``.
        Raises LuminaGradError for a non-leaf that requires grad, as torch ("Only Tensors created
        explicitly by the user (graph leaves) support the deepcopy protocol")."""
        if self.requires_grad and not self._is_leaf:
            raise LuminaGradError("deepcopy: only tensors created by the user (graph leaves) support the "
                                  f"deepcopy protocol, as in torch; this {self._value.type} tensor has history "
                                  "(detach() it first)")
        rebuild, args = self.__reduce_ex__(4)[:2]   # a subclass (nn.Parameter) rebuilds as itself
        out = rebuild(*args)
        memo[id(self)] = out
        return out

    def _set_value(self, v: Value) -> None:
        if self.requires_grad and self._is_leaf:
            LEAF_OF.pop(id(self._value), None)
            LEAF_OF[id(v)] = self
        self._value = v
        self._data = None
        EPOCH.advance()

    @property
    def _realized(self) -> bool:
        return self._value in BOUND

    def _touch(self) -> Value:
        """This tensor's value as an operand. Inside a trace, a tensor made before the trace began is
        state: it is realised (if pending) and noted, so each call reads its current value."""
        trace = STATE.trace
        if trace is not None and self._serial < trace.start and id(self) not in trace.touched:
            _realize_outside_trace(self)
            if self._realized:
                trace.touch(self)
        if self._view is not None and self._view.stamp != EPOCH.now:
            sync(self)       # a view whose base may have been updated in place
        return self._value

    @staticmethod
    def _result(value: Value, *parents: Tensor) -> Tensor:
        wants = any(p.requires_grad for p in parents)
        if wants and not STATE.grad_enabled:
            if any(value is p._value for p in parents):  # a no-op view still cuts the history
                value = emit(Op.RESHAPE, (value,), shape=value.shape)
            STOP_GRAD.add(value)
        out = Tensor(value, wants and STATE.grad_enabled)
        if len(parents) == 1 and (value.op in VIEW_OPS or value is parents[0]._value):
            link_view(out, parents[0], value)   # an alias of its parent, as torch's views are
        return out

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (set by ``backward``), or None."""
        trace = STATE.trace
        if trace is not None and self._serial < trace.start:
            trace.read_grad(self)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        trace = STATE.trace
        if trace is not None and self._serial < trace.start:
            # realised first, as ``_touch`` does: the trace must remember the value a call reads
            # (a pending one, as after ``copy_`` under no_grad, would be captured as the array it
            # realises to, fixed, instead of the tensor)
            if id(self) not in trace.touched:
                _realize_outside_trace(self)
            trace.write_grad(self)
        self._grad = value

    # ---- metadata --------------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        """``torch.Tensor.shape``: the sizes of the dimensions, a ``lumina.Size`` (a tuple)."""
        return Size(self._value.shape)

    @property
    def dtype(self) -> DType:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return len(self._value.type.shape)

    @property
    def device(self) -> device:
        """``torch.Tensor.device``: where this tensor's value lives and where ops on it run, as a
        ``lumina.device`` (``device(type='cpu')``, "cuda" or "metal"). Constants not yet combined
        with data (``zeros``, ``full``, ``arange``) report the CPU and join any device they meet."""
        return device(self._device_name)

    @property
    def _device_name(self) -> str:
        """``device``'s canonical name ("cpu", "cuda", "metal"), which lumina's own code compares."""
        return (DEVICE_STATE.device_of(self._value) if DEVICE_STATE.elsewhere else None) or "cpu"

    @property
    def is_leaf(self) -> bool:
        return self._is_leaf

    def size(self, dim: int | None = None):
        """``torch.Tensor.size``: the shape, or the size of ``dim`` (LuminaIndexError when out of
        range)."""
        if dim is None:
            return self.shape
        if self.ndim == 0:
            raise LuminaIndexError(f"size: dim {dim} out of range for the 0-d {self._value.type}")
        return self.shape[self._axes(dim, "size")[0]]

    def numel(self) -> int:
        return math.prod(self.shape)

    def dim(self) -> int:
        return self.ndim

    def __len__(self) -> int:
        if not self.shape:
            raise LuminaTypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        """The sub-tensors along dim 0, as ``torch.Tensor`` iterates (``q, k, v = qkv``)."""
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        if STATE.trace is not None:
            return f"Tensor(<traced {self._value.type}>)"
        body = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype.name}" if self.dtype not in (DType.float32, DType.int64, DType.bool) else ""
        where = f", device='{self._device_name}'" if self._device_name != "cpu" else ""
        return f"Tensor({body}{where}{extra}{', requires_grad=True' if self.requires_grad else ''})"

    # ---- realisation -----------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """Run the graph that computes this tensor; returns its value as a NumPy array (with
        ``force=True`` a copy of it that shares no memory with the tensor, as torch's).

        Raises LuminaTraceError inside ``@lumina.compile`` (a traced value is not known yet).
        """
        if STATE.trace is not None:  # even a realised value would be frozen into the trace
            raise LuminaTraceError(
                f"cannot read the value of a {self._value.type} tensor inside @lumina.compile: it "
                "would be baked into the compiled function; compute with the tensor, or return it")
        with tracing.STATE_LOCK:   # not while another thread's trace has this tensor rebound
            realize(self)
            data = BOUND[self._value] if self._data is None else self._data
        if isinstance(data, np.ndarray):
            return np.array(data, copy=True) if force else data
        return host_array(data)   # a copy to the host: waits for the device's work on it

    def item(self):
        if self.numel() != 1:
            raise LuminaValueError(f"item: only one-element tensors convert to a Python scalar, got {self._value.type}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    # ---- dims ------------------------------------------------------------------------------------
    def _axes(self, dim, op: str) -> tuple[int, ...]:
        """``dim`` (an int, a tuple/list of ints, or None for every dim) as sorted non-negative axes.
        Raises LuminaIndexError for a dim outside ``[-ndim, ndim)`` (a 0-d tensor takes -1 and 0,
        as torch) and LuminaTypeError for a dim that is not an int."""
        if dim is None:
            return tuple(range(self.ndim))
        dims = (dim,) if not isinstance(dim, (tuple, list)) else tuple(dim)
        rank = max(self.ndim, 1)
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                raise LuminaTypeError(f"{op}: dim must be an int, got {d!r} for {self._value.type}")
            if not -rank <= d < rank:
                raise LuminaIndexError(f"{op}: dim {d} out of range for {self._value.type} (expected "
                                       f"[{-rank}, {rank - 1}])")
        axes = [int(d) % rank for d in dims]
        if len(set(axes)) != len(axes):
            raise LuminaValueError(f"{op}: dim {list(dims)} names a dim twice for {self._value.type}")
        return tuple(sorted(axes)) if self.ndim else ()

    # ---- dtype and device ------------------------------------------------------------------------
    def to(self, device=None, dtype=None, non_blocking: bool = False, copy: bool = False) -> Tensor:
        """A cast (``to(lumina.float16)``), a device move (``to("cuda")``), both
        (``to("cuda", lumina.float16)``), or to another tensor's device and dtype (``to(other)``),
        as torch's three overloads: a dtype in ``device``'s place is the cast. ``copy=True``
        returns a new tensor even when nothing changes; ``non_blocking`` has no effect on the result
        (lumina's runtime orders its device copies).

        Moving realises the tensor on its device and copies the value (a new leaf, keeping
        ``requires_grad``: how parameters move); ops then run where their operands live, and
        operands on two devices in one op raise LuminaDeviceError. Moving a tensor that is part of
        an autodiff graph raises LuminaDeviceError (the IR has no cross-device copy to
        differentiate; move the leaves first). Inside ``@lumina.compile`` a move is a no-op: the
        compiled function runs wholly on the device it was compiled for."""
        if isinstance(device, Tensor):
            device, dtype = device._device_name, device.dtype if dtype is None else dtype
        moved = device_arg(device) if device is not None else None
        if device is not None and moved is None:
            if dtype is not None:
                raise LuminaTypeError(f"to: {device!r} is not a device, and dtype={dtype!r} is given too")
            device, dtype = None, device
        out = self if moved is None else self._move(moved)
        out = out if dtype is None else out._cast(dtype)
        return out.clone() if copy and out is self else out

    def _cast(self, dtype) -> Tensor:
        dtype = to_dtype(dtype)
        if dtype is self.dtype:
            return self
        return Tensor._result(B.cast(self._touch(), dtype), *((self,) if dtype.is_float else ()))

    def _move(self, device: str) -> Tensor:
        if STATE.trace is not None or device == self._device_name:
            return self
        if self.requires_grad and not self._is_leaf:
            raise LuminaDeviceError(f"to: cannot move {self._value.type} from {self._device_name} to {device}: it "
                                    "is computed from tensors that require grad; move the leaves (parameters, "
                                    "inputs) before computing with them")
        require(device)
        src = self._device_name
        realize(self)
        data = BOUND[self._value] if self._data is None else self._data
        return Tensor._bind(transfer(data, src, device), device, self.requires_grad)

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        """``to("cuda")`` (``device``: None, 0, "cuda" or "cuda:0": lumina drives one GPU)."""
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)

    def cpu(self) -> Tensor:
        """``to("cpu")``."""
        return self.to("cpu")

    def float(self): return self.to(DType.float32)
    def double(self): return self.to(DType.float64)
    def half(self): return self.to(DType.float16)
    def bfloat16(self): return self.to(DType.bfloat16)
    def int(self): return self.to(DType.int32)
    def long(self): return self.to(DType.int64)
    def bool(self): return self.to(DType.bool)
    def type(self, dtype=None, non_blocking: bool = False):
        """``to(dtype)``; with no dtype, the name of this tensor's type exactly as torch spells
        it (``"torch.FloatTensor"``), so code comparing type names ports unchanged."""
        if dtype is None:
            return "torch." + _TYPE_NAMES.get(self.dtype.name, self.dtype.name)
        return self.to(dtype, non_blocking=non_blocking)

    astype = to

    # ---- autograd state --------------------------------------------------------------------------
    def detach(self) -> Tensor:
        """The same values, cut from the autodiff history (a no-op reshape marked stop-gradient).
        As torch's, it aliases ``self``: an in-place update of either shows in the other."""
        with no_grad():
            return detached(Tensor._result(self._touch(), self))

    def clone(self) -> Tensor:
        """A copy with the same history (the gradient flows back to ``self``), aliasing nothing."""
        out = Tensor._result(emit(Op.RESHAPE, (self._touch(),), shape=self.shape), self)
        out._view = None
        return out

    def contiguous(self) -> Tensor:
        """``self`` when its elements are in row-major order in its base's storage, else a copy
        (torch's ``contiguous``: so a view of the result no longer aliases ``self``'s base)."""
        return self if is_contiguous(self) else self.clone()

    @property
    def data(self) -> Tensor:
        """The same values without history, aliasing ``self`` (torch's ``.data``, like ``detach()``):
        ``p.data.add_(...)`` updates ``p`` in place without recording it."""
        return self.detach()

    def requires_grad_(self, mode: bool = True) -> Tensor:
        if not self._is_leaf:
            raise LuminaGradError("requires_grad_: only leaf tensors can change requires_grad")
        self.requires_grad = mode
        if mode:
            LEAF_OF[id(self._value)] = self
        return self


def _rebuild(data: np.ndarray, requires_grad: bool, device: str) -> Tensor:
    """The tensor a pickle holds (``Tensor.__reduce_ex__``)."""
    t = Tensor._from_array(np.ascontiguousarray(data), requires_grad)
    return t if device == "cpu" else t.to(device)


class set_grad_enabled:
    """Context manager, decorator and function that sets gradient recording on or off (PyTorch's
    ``torch.set_grad_enabled``, https://pytorch.org/docs/stable/generated/torch.set_grad_enabled.html):
    called as a function it takes effect at once and stays until changed; as a context manager it
    restores the previous mode on exit. The mode is per thread, as torch's."""

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise LuminaTypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = mode

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn):
        mode = self.mode
        STATE.grad_enabled = self._prev     # as a decorator, it changes nothing until fn runs

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class _GradMode:
    """A context manager and decorator that sets gradient recording to ``_MODE`` inside. As torch's,
    it decorates with or without parentheses: ``@no_grad()`` and ``@no_grad`` are the same."""
    _MODE = False

    def __new__(cls, orig_func=None, *args, **kwargs):
        if callable(orig_func):
            return super().__new__(cls)(orig_func)
        return super().__new__(cls)

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._MODE

    def __exit__(self, *exc) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn):
        mode = self._MODE

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = STATE.grad_enabled
            STATE.grad_enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.grad_enabled = prev
        return wrapper


class no_grad(_GradMode):
    """Context manager (and decorator) that disables gradient recording (``torch.no_grad``)."""
    _MODE = False

    def __init__(self) -> None:
        pass


class enable_grad(_GradMode):
    """Context manager (and decorator) that enables gradient recording inside a ``no_grad`` block
    (``torch.enable_grad``)."""
    _MODE = True

    def __init__(self, orig_func=None) -> None:
        pass


class inference_mode(_GradMode):
    """``torch.inference_mode(mode=True)``: with ``mode`` True, gradient recording is off inside.
    lumina has no separate inference tensors (torch's tensors made here cannot enter autograd
    later; lumina's can, as if made under ``no_grad``): the difference is documented rather than
    emulated, since no computed value differs."""

    def __init__(self, mode=True) -> None:
        self._MODE = not mode


def is_grad_enabled() -> bool:
    """Whether gradients are recorded in this thread (``torch.is_grad_enabled``)."""
    return STATE.grad_enabled


def _realize_outside_trace(t: Tensor) -> None:
    """Realise a tensor made before the trace began (so the trace can treat it as state)."""
    if t._realized or t._data is not None:
        return
    trace, STATE.trace = STATE.trace, None
    try:
        _realize(t)   # as it is: a view is brought up to date by the trace, which sees the update
    finally:
        STATE.trace = trace


def realize(*tensors: Tensor) -> None:
    """Compute every pending tensor in ``tensors`` in one executable and bind the results."""
    with tracing.STATE_LOCK:   # not while another thread's trace has state tensors rebound
        if STATE.trace is None:
            for t in tensors:
                if t._view is not None and t._view.stamp != EPOCH.now:
                    sync(t)
        _realize(*tensors)


_DEFERRED: dict[int, weakref.ref] = {}   # the tensors ``defer_realize`` was given, by id


def defer_realize(*tensors: Tensor, wait: bool = True) -> None:
    """Realise ``tensors`` with the next realisation in this process instead of now: state a layer
    updates in place outside a compiled function (BatchNorm's running statistics), whose own
    realisation would compute everything before that layer again (a stack of eight BatchNorms
    realised seventeen times per forward). The next realisation computes them in the same
    executable. A tensor deferred again before that realises what waits first, so no history
    grows past one update (a loop that never reads its results: BatchNorm calibration).
    ``wait=False`` makes it a hint: while another thread traces (holding the state lock) the
    tensors are left to be realised when read."""
    if not tracing.STATE_LOCK.acquire(blocking=wait):
        return
    try:
        if any(id(t) in _DEFERRED and _DEFERRED[id(t)]() is t for t in tensors):
            _realize()
        _DEFERRED.update((id(t), weakref.ref(t)) for t in tensors)
    finally:
        tracing.STATE_LOCK.release()


def _realize(*tensors: Tensor) -> None:
    if _DEFERRED and STATE.trace is None:   # what waits for a realisation joins this one
        tensors += tuple(t for t in (r() for r in _DEFERRED.values()) if t is not None)
        _DEFERRED.clear()
    pending = [t for t in tensors if not t._realized and t._data is None]
    if not pending:
        return
    if STATE.trace is not None:
        raise LuminaTraceError(
            f"cannot read the value of a {pending[0]._value.type} tensor inside @lumina.compile: it is "
            "only known when the compiled function runs; return it instead")
    groups: dict[str, list[Tensor]] = {}
    for t in pending:   # each device's tensors run there, as one executable
        groups.setdefault(t._device_name, []).append(t)
    for device_name, group in groups.items():
        _realize_on(device_name, group)


_ORDERED: list = [None]   # (root, a topological order of its ancestors, its Structure): offer_order


def offer_order(root: Value, order: list, structure) -> None:
    """Offer the next realisation an order of ``root``'s ancestors already walked and keyed
    (``backward``'s forward graph): when it computes ``root``, its graph starts with these nodes
    instead of walking them again. Taken over (both lists are extended), by the next realisation
    only."""
    _ORDERED[0] = (root, order, structure)


def _realize_on(device: str, pending: list[Tensor]) -> None:
    values = list(dict.fromkeys(t._value for t in pending))
    offered, _ORDERED[0] = _ORDERED[0], None
    after = offered[1:] if offered is not None and any(v is offered[0] for v in values) else None
    graph = Graph.from_outputs(values, name="eager", keyed=True, after=after)
    missing = [v for v in graph.inputs if v not in BOUND]
    if missing:
        raise LuminaTraceError("realize: the tensor depends on a value traced inside @lumina.compile "
                               "that escaped the compiled function")
    exe = compile_graph(graph, device)
    inputs = [BOUND[v] for v in graph.inputs]
    outs = exe.run(inputs) if device == "cpu" else exe.run(inputs, host=False)
    result = dict(zip(values, outs))
    # Look every result up before binding any: binding a base rebinds its views (.inplace).
    for t, arr in [(t, result[t._value]) for t in pending]:
        if t.requires_grad and not t._is_leaf:
            t._data = arr  # keep the history for backward; cache the value
        else:
            fresh = Tensor._bind(arr, device)
            t._set_value(fresh._value)
