"""The lazy ``Tensor``: PyTorch-style names over an SSA value.

Operations only record IR nodes; ``.numpy()`` / ``.item()`` realise a tensor by compiling the graph
that computes it (``driver.compile_graph``) and running it. NumPy broadcasting and PyTorch's dtype
promotion apply (Python scalars are weak: ``f32 * 2.0`` stays ``float32``). Shapes are checked when
the op is recorded, so a mismatch is reported at the line that caused it.

Devices, as PyTorch users expect them: a tensor lives on ``.device`` ("cpu" unless moved with
``.to("cuda")`` / ``.to("metal")``), ops run where their operands live (realising a graph compiles
it for that device), operands on two devices in one op raise LuminaDeviceError naming the op and
both devices, and ``.numpy()`` copies the value to the host. Constants and 0-d CPU tensors join any
device. A realised cuda tensor's data is a torch tensor from PyTorch's allocator, kept on the GPU.
"""
from __future__ import annotations

import itertools
import math
import os
import weakref
from typing import Sequence

import numpy as np

from .. import tracing
from ..errors import (LuminaDeviceError, LuminaGradError, LuminaIndexError, LuminaShapeError, LuminaTraceError,
                     LuminaTypeError, LuminaValueError)
from ..ir import graph as B
from ..ir.dtypes import DType, promote, scalar_result, to_dtype
from ..ir.graph import Graph, Value, emit
from ..ir.ops import Op
from ..ir.types import TensorType
from ..tracing import BOUND, STATE, STOP_GRAD

# The tensor object of each leaf value that requires grad, for ``backward`` to find its ``.grad``.
LEAF_OF: "weakref.WeakValueDictionary[int, Tensor]" = weakref.WeakValueDictionary()
# A new number at every rebinding of a tensor's value (``Tensor._set_value``): a view
# (``lumina.aliases``) re-reads its parent only when this changed since it last looked. Numbers come
# from a counter and are never reused, so a rebinding in another thread is never missed.
_EPOCH = [0]
_EPOCHS = itertools.count(1)

Scalar = (int, float, bool)

# ---- devices ---------------------------------------------------------------------------------------
# Where each value a Tensor was made for lives: "cpu", "cuda", "metal", or None for values that are
# on no device yet and join whichever device they meet: constants (``full``, ``zeros``, ``arange``,
# Python scalars), 0-d CPU tensors (as in PyTorch) and the placeholders of a ``@lumina.compile``
# trace. A realised value's device is set when it is bound (``Tensor._bind``); a computed value's is
# its operands' common device, memoised here as each Tensor is made, which is where two devices
# meeting in one op is caught. Inside a trace devices are not checked: the compiled function runs
# wholly on its compile device, and every input it reads is copied there.
# While no value bound to another device is alive (``_ON_DEVICES``: how many are) every value is
# on the CPU and nothing is checked or memoised: CPU-only programs pay nothing per op. A lazy value
# keeps the values it reads alive, so none can depend on device data once the count is back at 0;
# values made while it was 0 are memoised on their first use after it rises (each once).
_DEVICE: "weakref.WeakKeyDictionary[Value, str | None]" = weakref.WeakKeyDictionary()
_ON_DEVICES = [0]


def _released() -> None:
    _ON_DEVICES[0] -= 1


DEVICE_NAMES = ("cpu", "cuda", "metal")


_UNKNOWN = object()


def _own_device(n: Value, operands: list) -> str | None:
    """The device of value ``n`` given its operands' devices."""
    found = None
    for d in operands:
        if d is not None and found is not None and d != found:
            raise LuminaDeviceError(f"{n.op.value}: operands on two devices, {found} and {d} "
                                    f"({', '.join(str(v.type) for v in n.inputs)}); move one with .to(device)")
        found = found or d
    return found


def _device_of(value: Value) -> str | None:
    """``value``'s device (see ``_DEVICE``), computing and memoising it for the values under it
    that no Tensor was made for (iteratively: deep graphs are fine). Raises LuminaDeviceError
    naming the op and both devices where operands on two devices meet."""
    get = _DEVICE.get
    found = get(value, _UNKNOWN)
    if found is not _UNKNOWN:
        return found
    stack = [value]
    while stack:
        n = stack[-1]
        if n.op is Op.INPUT:   # a 0-d CPU tensor joins any device, as in PyTorch (a learning rate)
            stack.pop()
            if get(n, _UNKNOWN) is _UNKNOWN:
                _DEVICE[n] = "cpu" if n in BOUND and n.type.shape != () else None
            continue
        operands = [get(v, _UNKNOWN) for v in n.inputs]
        missing = [v for v, d in zip(n.inputs, operands) if d is _UNKNOWN]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        _DEVICE[n] = _own_device(n, operands)
    return _DEVICE[value]


def _torch_to_dtype(dtype) -> DType:
    """The lumina dtype of a torch dtype (``torch.float32`` -> float32)."""
    return to_dtype(str(dtype).rpartition(".")[2])


# torch's legacy type names, which ``Tensor.type()`` returns.
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


def _device_arg(x) -> str | None:
    """``x`` as a device name if it names one ("cuda", "cuda:0", a ``torch.device``), else None
    (``Tensor.to`` then reads it as a dtype)."""
    if type(x).__name__ == "device" or (isinstance(x, str) and x.split(":")[0].strip().lower() in DEVICE_NAMES):
        from ..backends.devices import canonical
        return canonical(x)
    return None


def _physical_memory() -> int:
    """This machine's memory in bytes (2^48 where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 ** 48


MEMORY_BYTES = _physical_memory()


def check_size(op: str, shape: Sequence[int], dtype: DType) -> None:
    """Raise LuminaValueError when a tensor of ``shape`` and ``dtype`` could not be held in this
    machine's memory (``MEMORY_BYTES``): as PyTorch fails to allocate it, and rather than a lazy
    constant that would take hours to reduce (``ones(2**62).sum()``)."""
    numel = math.prod(shape)
    if numel * dtype.itemsize > MEMORY_BYTES:
        raise LuminaValueError(f"{op}: a {dtype.name} tensor of shape {list(shape)} needs "
                               f"{numel * dtype.itemsize / 2**30:.4g} GiB, more than this machine's memory "
                               f"({MEMORY_BYTES / 2**30:.4g} GiB)")


def _shape_arg(shape, op: str | None = None, dtype: DType = DType.float32) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` -> ``(2, 3)``. Sizes must be integers (Python, NumPy, or 0-d
    integer tensors), else LuminaTypeError. With ``op`` (a creation function), a negative size or
    one too large for memory (``check_size``) raises LuminaValueError naming it; views (reshape's
    -1, axes) pass ``op=None``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    sizes = []
    for d in shape:
        if isinstance(d, Tensor) and d.ndim == 0 and not d.dtype.is_float and d.dtype is not DType.bool:
            d = d.item()
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise LuminaTypeError(f"{op or 'shape'}: sizes must be integers, got {d!r} in "
                                  f"{list(shape) if isinstance(shape, (tuple, list)) else shape!r}")
        sizes.append(int(d))
    shape = tuple(sizes)
    if op is not None:
        if any(d < 0 for d in shape):
            raise LuminaValueError(f"{op}: negative dimension in shape {list(shape)}")
        check_size(op, shape, dtype)
    return shape


def broadcast_shapes(op: str, *types: TensorType) -> tuple[int, ...]:
    """NumPy's broadcast of the operands' shapes; raises LuminaShapeError naming ``op``."""
    rank = max(t.rank for t in types)
    out = []
    for i in range(rank):
        dims = {t.shape[i - rank + t.rank] for t in types if i - rank + t.rank >= 0} - {1}
        if len(dims) > 1:
            raise LuminaShapeError(f"{op}: cannot broadcast {', '.join(map(str, types))}")
        out.append(dims.pop() if dims else 1)
    if math.prod(out) > max(t.numel for t in types):   # an outer product: may outgrow memory
        check_size(op, out, max((t.dtype for t in types), key=lambda d: d.itemsize))
    return tuple(out)


# Arithmetic on two bools is logic in torch: + and maximum are or, * and minimum are and.
_BOOL_AS_LOGIC = {Op.ADD: Op.OR, Op.MAXIMUM: Op.OR, Op.MUL: Op.AND, Op.MINIMUM: Op.AND}


def _category(dt: DType) -> int:
    return 2 if dt.is_float else 0 if dt is DType.bool else 1


def result_type(a: "Tensor", b: "Tensor", a_dtype: DType | None = None) -> DType:
    """``torch.result_type`` of two tensors: a 0-d tensor is like a scalar beside a tensor with
    dims, so it only decides the dtype when its category (bool < integer < float) is higher
    (``f32[3] + f64[]`` is float32, ``i64[3] + f64[]`` float64); otherwise ``promote``.
    ``a_dtype`` overrides ``a``'s dtype (an accumulated result type)."""
    da = a.dtype if a_dtype is None else a_dtype
    if (a.ndim == 0) == (b.ndim == 0):
        return promote(da, b.dtype)
    (dim, d_dim), (zero, d_zero) = ((a, da), (b, b.dtype)) if b.ndim == 0 else ((b, b.dtype), (a, da))
    return d_zero if _category(d_zero) > _category(d_dim) else d_dim


class Tensor:
    """A lazily evaluated n-dimensional array.

    ``shape`` / ``dtype`` / ``ndim`` are known without running anything. ``requires_grad`` tensors
    record their history for ``backward()``; their gradient lands in ``.grad``.
    """

    __slots__ = ("_value", "requires_grad", "_grad", "_is_leaf", "_data", "_serial", "_view", "_updates",
                 "__weakref__")   # _updates: set by the first in-place update (lumina.inplace)
    __hash__ = object.__hash__

    def __init__(self, value: Value, requires_grad: bool = False, _is_leaf: bool = False):
        self._value = value
        self.requires_grad = requires_grad
        self._grad: Tensor | None = None
        self._is_leaf = _is_leaf or not requires_grad
        self._data: np.ndarray | None = None
        self._serial = next(tracing.SERIALS)  # creation order: tells state from trace temporaries
        self._view = None                     # an aliases.ViewLink when this tensor aliases another
        if _ON_DEVICES[0] and STATE.trace is None:
            _device_of(value)                 # raises where operands on two devices meet
        if requires_grad and self._is_leaf:
            LEAF_OF[id(value)] = self

    # ---- construction helpers ---------------------------------------------------------------------
    @staticmethod
    def _from_array(arr: np.ndarray, requires_grad: bool = False) -> "Tensor":
        """A realised tensor over ``arr`` (not copied; it must be C-contiguous)."""
        v = emit(Op.INPUT, type=TensorType(arr.shape, to_dtype(arr.dtype)), name=tracing.fresh_name())
        BOUND[v] = arr
        return Tensor(v, requires_grad, _is_leaf=True)

    @staticmethod
    def _bind(data, device: str, requires_grad: bool = False) -> "Tensor":
        """A realised tensor over ``data`` on ``device``: a C-contiguous NumPy array on "cpu" and
        "metal", a torch tensor on "cuda" (see ``backends.devices.transfer``)."""
        if device == "cpu":
            return Tensor._from_array(data, requires_grad)
        dtype = to_dtype(data.dtype) if isinstance(data, np.ndarray) else _torch_to_dtype(data.dtype)
        v = emit(Op.INPUT, type=TensorType(tuple(data.shape), dtype), name=tracing.fresh_name())
        BOUND[v] = data
        _DEVICE[v] = device
        _ON_DEVICES[0] += 1
        weakref.finalize(v, _released)
        return Tensor(v, requires_grad, _is_leaf=True)

    def _set_value(self, v: Value) -> None:
        if self.requires_grad and self._is_leaf:
            LEAF_OF.pop(id(self._value), None)
            LEAF_OF[id(v)] = self
        self._value = v
        self._data = None
        _EPOCH[0] = next(_EPOCHS)

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
        if self._view is not None and self._view.stamp != _EPOCH[0]:
            _sync_view(self)       # a view whose base may have been updated in place
        return self._value

    @staticmethod
    def _result(value: Value, *parents: "Tensor") -> "Tensor":
        wants = any(p.requires_grad for p in parents)
        if wants and not STATE.grad_enabled:
            if any(value is p._value for p in parents):  # a no-op view still cuts the history
                value = emit(Op.RESHAPE, (value,), shape=value.shape)
            STOP_GRAD.add(value)
        out = Tensor(value, wants and STATE.grad_enabled)
        if len(parents) == 1 and (value.op in _VIEW_OPS or value is parents[0]._value):
            from .aliases import link_view
            link_view(out, parents[0], value)   # an alias of its parent, as torch's views are
        return out

    @property
    def grad(self) -> "Tensor | None":
        """The accumulated gradient (set by ``backward``), or None."""
        trace = STATE.trace
        if trace is not None and self._serial < trace.start:
            trace.read_grad(self)
        return self._grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        trace = STATE.trace
        if trace is not None and self._serial < trace.start:
            trace.write_grad(self)
        self._grad = value

    # ---- metadata ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> DType:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def device(self) -> str:
        """Where this tensor's value lives and where ops on it run: "cpu", "cuda" or "metal".
        Constants not yet combined with data (``zeros``, ``full``, ``arange``) report "cpu" and
        join any device they meet."""
        return (_device_of(self._value) if _ON_DEVICES[0] else None) or "cpu"

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
        where = f", device='{self.device}'" if self.device != "cpu" else ""
        return f"Tensor({body}{where}{extra}{', requires_grad=True' if self.requires_grad else ''})"

    # ---- realisation ------------------------------------------------------------------------------
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
        from ..backends.devices import host_array
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

    # ---- elementwise ------------------------------------------------------------------------------
    def _binary(self, op: Op, other, reverse: bool = False, name: str | None = None) -> "Tensor":
        name = name or op.value
        if isinstance(other, Tensor):
            dt = result_type(self, other)
            a, b = self, other
        elif isinstance(other, Scalar):
            dt = scalar_result(self.dtype, other)
            a, b = self, _full_like_scalar(other, dt)
        elif isinstance(other, (np.ndarray, list, np.generic)):
            other = tensor(other)
            return self._binary(op, other, reverse, name)
        else:
            return NotImplemented
        if reverse:
            a, b = b, a
        if op is Op.SUB and (DType.bool in (self.dtype, other.dtype if isinstance(other, Tensor) else None)
                             or isinstance(other, bool)):
            raise LuminaTypeError(f"sub: subtraction with a bool tensor is not supported (as torch): "
                                  f"{a._value.type} - {b._value.type}; use ^ or logical_xor")
        if op in (Op.DIV, Op.POW) and not dt.is_float:
            dt = DType.float32 if op is Op.DIV else dt
        if dt is DType.bool and op in _BOOL_AS_LOGIC:     # torch: True + True is True, True * False False
            op = _BOOL_AS_LOGIC[op]
        return _binary_op(op, a, b, dt, name)

    def __add__(self, o): return self._binary(Op.ADD, o)
    def __radd__(self, o): return self._binary(Op.ADD, o, True)
    def __sub__(self, o): return self._binary(Op.SUB, o)
    def __rsub__(self, o): return self._binary(Op.SUB, o, True)
    def __mul__(self, o): return self._binary(Op.MUL, o)
    def __rmul__(self, o): return self._binary(Op.MUL, o, True)
    def __truediv__(self, o): return self._binary(Op.DIV, o)
    def __rtruediv__(self, o): return self._binary(Op.DIV, o, True)

    def __pow__(self, o):
        if not self.dtype.is_float and isinstance(o, (int, np.integer)) and not isinstance(o, bool):
            return _integer_power(self, int(o))
        if isinstance(o, (int, float)) and not isinstance(o, bool) and o == 2:
            return self * self
        if not self.dtype.is_float and not (isinstance(o, Tensor) and o.dtype.is_float) and not isinstance(o, float):
            raise LuminaTypeError(f"pow: integer powers of {self._value.type} are not supported; cast to float")
        return self._binary(Op.POW, o)

    def __rpow__(self, o): return self._binary(Op.POW, o, True)
    def __lt__(self, o): return self._binary(Op.LT, o)
    def __le__(self, o): return self._binary(Op.LE, o)
    def __gt__(self, o): return self._binary(Op.GT, o)
    def __ge__(self, o): return self._binary(Op.GE, o)
    def __eq__(self, o): return self._binary(Op.EQ, o)  # type: ignore[override]
    def __ne__(self, o): return self._binary(Op.NE, o)  # type: ignore[override]
    def __and__(self, o): return self._binary(Op.AND, o)
    def __or__(self, o): return self._binary(Op.OR, o)
    def __invert__(self): return self._unary(Op.NOT)
    def __neg__(self): return self._unary(Op.NEG)
    def __abs__(self): return self._unary(Op.ABS)
    def __matmul__(self, o): return matmul(self, o)
    def __rmatmul__(self, o): return matmul(o if isinstance(o, Tensor) else tensor(o), self)

    def _unary(self, op: Op) -> "Tensor":
        if self.dtype is DType.bool and op in (Op.NEG, Op.ABS):
            raise LuminaTypeError(f"{op.value}: not supported for bool tensors (as torch), got {self._value.type}; "
                                  "use ~ (logical not) or .long()")
        x = self
        if op in (Op.EXP, Op.LOG, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.ERF) and not self.dtype.is_float:
            x = self.to(DType.float32)
        return Tensor._result(B.unary(op, x._touch()), self)

    def neg(self): return self._unary(Op.NEG)
    def abs(self): return self._unary(Op.ABS)
    def exp(self): return self._unary(Op.EXP)
    def log(self): return self._unary(Op.LOG)
    def sqrt(self): return self._unary(Op.SQRT)
    def sin(self): return self._unary(Op.SIN)
    def cos(self): return self._unary(Op.COS)
    def tanh(self): return self._unary(Op.TANH)
    def erf(self): return self._unary(Op.ERF)

    def sigmoid(self) -> "Tensor":
        """``1 / (1 + exp(-x))`` for x >= 0 and ``exp(x) / (1 + exp(x))`` below: neither branch
        overflows, and each branch only sees inputs from its own side (so no ``0 * inf`` reaches
        the gradient of the branch ``where`` discards). 16-bit floats compute in float32."""
        if self.dtype.is_half:
            return self.to(DType.float32).sigmoid().to(self.dtype)
        x = self if self.dtype.is_float else self.to(DType.float32)
        pos = x >= 0.0
        e_neg = (-where(pos, x, 0.0)).exp()
        e_pos = where(pos, 0.0, x).exp()
        return where(pos, 1.0 / (1.0 + e_neg), e_pos / (1.0 + e_pos))

    def relu(self) -> "Tensor":
        """``torch.relu``: ``where(x <= 0, 0, x)``, so NaN passes through (with its gradient, as
        torch's ``threshold_backward``) and the subgradient at 0 is 0."""
        if self.dtype is DType.bool:
            raise LuminaTypeError(f"relu: bool inputs are not supported (as torch), got {self._value.type}")
        return where(self <= 0, 0.0 if self.dtype.is_float else 0, self)

    def gelu(self, approximate: str = "none") -> "Tensor":
        """GELU (Hendrycks & Gimpel 2016): ``x * Phi(x)`` exactly via erf, or PyTorch's
        ``approximate="tanh"`` form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
        16-bit floats compute in float32 and round once, as PyTorch's CPU kernel."""
        if self.dtype.is_half:
            return self.to(DType.float32).gelu(approximate).to(self.dtype)
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (self + 0.044715 * self * self * self)
            return 0.5 * self * (1.0 + inner.tanh())
        if approximate != "none":
            raise LuminaValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return 0.5 * self * (1.0 + (self * (1 / math.sqrt(2))).erf())

    def clamp(self, min=None, max=None) -> "Tensor":  # noqa: A002 (PyTorch's names)
        """``torch.clamp``: ``min(max(x, min), max)`` with scalar or broadcastable tensor bounds
        (None = no bound; when ``min > max`` the result is ``max``). A NaN in ``x`` or in a bound
        gives NaN. Gradients are torch's (``clamp_backward``, ``clamp_backward_min_max``): ``x``
        gets ``g`` where ``min <= x <= max``, ``min`` where ``x < min < max``, ``max`` where
        ``x > max`` or ``max < min``; none where the result is NaN. Raises LuminaValueError when
        both bounds are None."""
        if min is None and max is None:
            raise LuminaValueError(f"clamp: at least one of min and max must be given for {self._value.type}")
        if min is not None and max is not None and isinstance(min, Tensor) != isinstance(max, Tensor):
            raise LuminaTypeError(f"clamp: min and max must both be tensors or both numbers (as torch), got "
                                  f"{type(min).__name__} and {type(max).__name__} for {self._value.type}")
        dt = self.dtype
        for b in (min, max):
            if b is not None:
                dt = result_type(self, b, dt) if isinstance(b, Tensor) else scalar_result(dt, b)
        x = self.to(dt)
        lo = None if min is None else min.to(dt) if isinstance(min, Tensor) else _full_like_scalar(min, dt)
        hi = None if max is None else max.to(dt) if isinstance(max, Tensor) else _full_like_scalar(max, dt)
        # What is left where a NaN (in x or a bound) decides: NaN; integers have none.
        nan = _full_like_scalar(math.nan, dt) if dt.is_float else (hi if hi is not None else lo)
        if hi is None:
            return where(x >= lo, x, where(x < lo, lo, nan))
        if lo is None:
            return where(x <= hi, x, where(x > hi, hi, nan))
        below = (x < lo) & (lo < hi)
        above = (x > hi) | (hi < lo)
        # Neither, without a NaN: x < lo == hi, whose value is hi with no gradient (as torch's
        # masks); with a NaN anywhere, NaN.
        some_nan = (x != x) | (lo != lo) | (hi != hi)
        rest = where(some_nan, nan, where(below, lo, where(above, hi, hi.detach())))
        return where((x >= lo) & (x <= hi), x, rest)

    clip = clamp

    def to(self, device=None, dtype=None, non_blocking: bool = False, copy: bool = False) -> "Tensor":
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
            device, dtype = device.device, device.dtype if dtype is None else dtype
        moved = _device_arg(device) if device is not None else None
        if device is not None and moved is None:
            if dtype is not None:
                raise LuminaTypeError(f"to: {device!r} is not a device, and dtype={dtype!r} is given too")
            device, dtype = None, device
        out = self if moved is None else self._move(moved)
        out = out if dtype is None else out._cast(dtype)
        return out.clone() if copy and out is self else out

    def _cast(self, dtype) -> "Tensor":
        dtype = to_dtype(dtype)
        if dtype is self.dtype:
            return self
        return Tensor._result(B.cast(self._touch(), dtype), *((self,) if dtype.is_float else ()))

    def _move(self, device: str) -> "Tensor":
        if STATE.trace is not None or device == self.device:
            return self
        if self.requires_grad and not self._is_leaf:
            raise LuminaDeviceError(f"to: cannot move {self._value.type} from {self.device} to {device}: it "
                                    "is computed from tensors that require grad; move the leaves (parameters, "
                                    "inputs) before computing with them")
        from ..backends.devices import require, transfer
        require(device)
        src = self.device
        realize(self)
        data = BOUND[self._value] if self._data is None else self._data
        return Tensor._bind(transfer(data, src, device), device, self.requires_grad)

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        """``to("cuda")`` (``device``: None, 0, "cuda" or "cuda:0": lumina drives one GPU)."""
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)

    def cpu(self) -> "Tensor":
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

    # ---- reductions -------------------------------------------------------------------------------
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

    def _reduce(self, op: Op, dim, keepdim: bool, name: str) -> "Tensor":
        # torch.sum accumulates bool and int32 in int64; max keeps int32 (bool max is via int64)
        widen = self.dtype is DType.bool or (op is Op.REDUCE_SUM and self.dtype is DType.int32)
        x = self.to(DType.int64) if widen else self
        axes = x._axes(dim, name)
        return Tensor._result(B.reduce(op, x._touch(), axes, keepdim), x)

    def sum(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        """``torch.sum`` over ``dim`` (every dim when None); ``dtype`` casts the input first."""
        x = self if dtype is None else self.to(dtype)
        return x._reduce(Op.REDUCE_SUM, dim, keepdim, "sum")

    def mean(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        """``torch.mean``: the sum over ``dim`` divided by the count (NaN for an empty slice).
        16-bit floats sum and divide in float32 and round once, as PyTorch's CPU kernel. Raises
        LuminaTypeError for integer and bool inputs without a float ``dtype`` (as torch)."""
        x = self if dtype is None else self.to(dtype)
        if not x.dtype.is_float:
            raise LuminaTypeError(f"mean: input dtype must be floating point, got {self._value.type} "
                                  "(pass dtype=lumina.float32, as torch)")
        if x.dtype.is_half:
            return x.to(DType.float32).mean(dim, keepdim).to(x.dtype)
        n = math.prod(x.shape[a] for a in x._axes(dim, "mean"))
        return x.sum(dim, keepdim) / float(n)

    def var(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction=None) -> "Tensor":
        """``torch.var``: ``sum((x - mean)^2) / max(N - correction, 0)`` over ``dim`` (every dim
        when None). ``correction`` defaults to 1 (Bessel's unbiased estimate); ``unbiased`` is the
        older spelling (``var(dim, unbiased, keepdim)``, or ``var(unbiased)`` with a bool first).
        Overflow-safe (``lumina.reductions.scaled_moments``). Raises LuminaTypeError for integer
        inputs, LuminaIndexError for a dim out of range."""
        from .reductions import variance
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        return variance(self, dim, unbiased, keepdim, correction, op="var")

    def std(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction=None) -> "Tensor":
        """``torch.std``: ``sqrt(var(...))`` computed without squaring large values; see ``var``."""
        from .reductions import variance
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        return variance(self, dim, unbiased, keepdim, correction, op="std", root=True)

    def cumsum(self, dim: int, *, dtype=None) -> "Tensor":
        """Inclusive prefix sums along ``dim``; see ``lumina.scan.cumsum``."""
        from .scan import cumsum
        return cumsum(self, dim, dtype=dtype)

    def max(self, dim=None, keepdim: bool = False, *, other=None):
        """``torch.max``: over every element (``max()``, a 0-d tensor), along ``dim`` (a
        ``(values, indices)`` named tuple, the first extreme's index; the gradient goes to it), or
        elementwise against a tensor (``max(other)``, ``torch.maximum``). NaN propagates and is
        the index returned. Raises LuminaIndexError for an empty reduced dim; see
        ``lumina.reductions``."""
        from .reductions import extreme
        return extreme(self, dim, keepdim, True, other)

    def min(self, dim=None, keepdim: bool = False, *, other=None):
        """``torch.min``; see ``Tensor.max``."""
        from .reductions import extreme
        return extreme(self, dim, keepdim, False, other)

    def amax(self, dim=(), keepdim: bool = False) -> "Tensor":
        """``torch.amax``: the maximum over ``dim`` (an int or tuple; ``()`` means every dim, as
        torch); NaN propagates; the gradient is shared evenly among ties."""
        from .reductions import amax
        return amax(self, None if dim == () else dim, keepdim)

    def amin(self, dim=(), keepdim: bool = False) -> "Tensor":
        """``torch.amin``; see ``Tensor.amax``."""
        from .reductions import amin
        return amin(self, None if dim == () else dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        """``torch.argmax``: the index (int64) of the first maximum along ``dim`` (of the
        flattened tensor when None), or of the first NaN."""
        from .reductions import arg_extreme
        return arg_extreme(self, dim, keepdim, True)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        """``torch.argmin``; see ``Tensor.argmax``."""
        from .reductions import arg_extreme
        return arg_extreme(self, dim, keepdim, False)

    # ---- movement ---------------------------------------------------------------------------------
    def reshape(self, *shape) -> "Tensor":
        if not shape:
            raise LuminaTypeError(f"reshape: missing the shape for {self._value.type} (as torch; reshape(()) "
                                  "makes a 0-d tensor)")
        shape = list(_shape_arg(shape))
        if shape.count(-1) > 1:
            raise LuminaShapeError(f"reshape: only one dim can be -1, got {shape}")
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            if known == 0 or self.numel() % known:
                raise LuminaShapeError(f"reshape: cannot reshape {self._value.type} to {shape}")
            shape[shape.index(-1)] = self.numel() // known
        if math.prod(shape) != self.numel() or any(d < 0 for d in shape):
            raise LuminaShapeError(f"reshape: cannot reshape {self._value.type} ({self.numel()} elements) to {shape}")
        return Tensor._result(B.reshape(self._touch(), shape), self)

    def view(self, *size) -> "Tensor":
        """``reshape`` (lumina's values are immutable, so every reshape is a view)."""
        if not size:
            raise LuminaTypeError(f"view: missing the size for {self._value.type} (as torch)")
        return self.reshape(size if len(size) != 1 else size[0])

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """``torch.flatten``: dims ``start_dim..end_dim`` merged into one. Raises LuminaIndexError
        for a dim out of range, LuminaValueError when ``start_dim`` comes after ``end_dim``."""
        s, e = self._axes(start_dim, "flatten")[:1] or (0,), self._axes(end_dim, "flatten")[:1] or (0,)
        s, e = s[0], e[0]
        if s > e:
            raise LuminaValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                                   f"{self._value.type}")
        if self.ndim == 0:
            return self.reshape(1)
        return self.reshape(self.shape[:s] + (math.prod(self.shape[s:e + 1]),) + self.shape[e + 1:])

    def permute(self, *dims) -> "Tensor":
        if not dims:
            raise LuminaTypeError(f"permute: missing the dims for {self._value.type} (as torch)")
        dims = _shape_arg(dims)
        if len(dims) == self.ndim:
            self._axes(dims, "permute")       # LuminaIndexError for a dim out of range
        if len(dims) != self.ndim or sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise LuminaValueError(f"permute: {list(dims)} is not a permutation of the dims of {self._value.type}")
        return Tensor._result(B.permute(self._touch(), [d % self.ndim for d in dims]), self)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        perm = list(range(self.ndim))
        (d0,), (d1,) = (self.reshape(1) if self.ndim == 0 else self)._axes(dim0, "transpose"), \
            (self.reshape(1) if self.ndim == 0 else self)._axes(dim1, "transpose")
        if self.ndim == 0:      # torch: a 0-d tensor transposes over dims 0 / -1 to itself
            return self.reshape(())
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return self.permute(perm)

    @property
    def T(self) -> "Tensor":
        return self.permute(list(reversed(range(self.ndim))))

    def expand(self, *size, implicit: bool = False) -> "Tensor":
        """``torch.Tensor.expand``: size-1 dims broadcast to ``size`` (-1 keeps a dim). ``implicit``
        only marks torch's traced graphs; it does not change the result."""
        if not size:
            raise LuminaTypeError(f"expand: missing the size for {self._value.type} (as torch)")
        shape = _shape_arg(size)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise LuminaShapeError(f"expand: cannot expand {self._value.type} to fewer dims {list(shape)}")
        full = tuple(self.shape[i - lead] if d == -1 else d for i, d in enumerate(shape))
        check_size("expand", full, self.dtype)
        x = self.reshape((1,) * lead + self.shape) if lead else self
        for d, n in zip(x.shape, full):
            if d != n and d != 1:
                raise LuminaShapeError(f"expand: cannot expand {self._value.type} to {list(full)}")
        return Tensor._result(B.expand(x._touch(), full), x)

    def broadcast_to(self, size) -> "Tensor":
        return self.expand(tuple(size))

    def unsqueeze(self, dim: int) -> "Tensor":
        """``torch.unsqueeze``: a size-1 dim inserted at ``dim`` in ``[-ndim-1, ndim]``; raises
        LuminaIndexError outside it."""
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise LuminaTypeError(f"unsqueeze: dim must be an int, got {dim!r}")
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise LuminaIndexError(f"unsqueeze: dim {dim} out of range for {self._value.type} (expected "
                                   f"[{-self.ndim - 1}, {self.ndim}])")
        d = int(dim) % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None) -> "Tensor":
        """``torch.squeeze``: removes the size-1 dims among ``dim`` (an int or a tuple; every dim
        when None); dims of another size stay. Raises LuminaIndexError for a dim out of range."""
        axes = self._axes(dim, "squeeze")
        return self.reshape([d for i, d in enumerate(self.shape) if not (i in axes and d == 1)])

    def __getitem__(self, key) -> "Tensor":
        """Basic indexing (ints, slices with positive steps, ``None``, ``Ellipsis``) and, with
        integer index tensors/arrays/lists among the entries, advanced indexing as PyTorch
        (``lumina.indexing.advanced_getitem``)."""
        key = key if isinstance(key, tuple) else (key,)
        if any(isinstance(k, (Tensor, np.ndarray, list)) for k in key):
            from .indexing import advanced_getitem
            return advanced_getitem(self, key)
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        if n_real > self.ndim:
            raise LuminaValueError(f"getitem: too many indices ({n_real}) for {self._value.type}")
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - n_real) + key[i + 1:]
        key = key + (slice(None),) * (self.ndim - sum(1 for k in key if k is not None))
        starts, stops, steps, out_shape = [], [], [], []
        axis = 0
        for k in key:
            if k is None:
                out_shape.append(1)
                continue
            d = self.shape[axis]
            if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
                i = int(k) + d if k < 0 else int(k)
                if not 0 <= i < d:
                    raise LuminaIndexError(f"getitem: index {k} out of range for dim {axis} of {self._value.type}")
                starts.append(i), stops.append(i + 1), steps.append(1)
            elif isinstance(k, slice):
                if k.step is not None and k.step <= 0:
                    raise LuminaValueError(f"getitem: slice step must be positive, got {k.step}")
                lo, hi, st = k.indices(d)
                hi = max(hi, lo)
                starts.append(lo), stops.append(hi), steps.append(st)
                out_shape.append(max(0, -(-(hi - lo) // st)))
            else:
                raise LuminaTypeError(f"getitem: unsupported index {k!r} (advanced indexing is not supported yet)")
            axis += 1
        v = self._touch()
        if (tuple(starts), tuple(stops), tuple(steps)) != ((0,) * self.ndim, self.shape, (1,) * self.ndim):
            v = emit(Op.SLICE, (v,), starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
        return Tensor._result(B.reshape(v, out_shape), self)

    def split(self, split_size, dim: int = 0) -> tuple["Tensor", ...]:
        """``torch.Tensor.split``: ``split_size`` is a chunk size or a list of sizes."""
        from .shape_ops import split
        return split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple["Tensor", ...]:
        from .shape_ops import chunk
        return chunk(self, chunks, dim)

    def gather(self, dim: int, index, *, sparse_grad: bool = False) -> "Tensor":
        from .indexing import gather
        return gather(self, dim, index, sparse_grad=sparse_grad)

    def index_select(self, dim: int, index) -> "Tensor":
        from .indexing import index_select
        return index_select(self, dim, index)

    def take_along_dim(self, indices, dim: int | None = None) -> "Tensor":
        from .indexing import take_along_dim
        return take_along_dim(self, indices, dim)

    # ---- state and autodiff -----------------------------------------------------------------------
    def detach(self) -> "Tensor":
        """The same values, cut from the autodiff history (a no-op reshape marked stop-gradient).
        As torch's, it aliases ``self``: an in-place update of either shows in the other."""
        from .aliases import detached
        with no_grad():
            return detached(Tensor._result(self._touch(), self))

    def clone(self) -> "Tensor":
        """A copy with the same history (the gradient flows back to ``self``), aliasing nothing."""
        out = Tensor._result(emit(Op.RESHAPE, (self._touch(),), shape=self.shape), self)
        out._view = None
        return out

    def t(self) -> "Tensor":
        """torch's ``t()``: the transpose of a tensor of at most 2 dims (a view, as ``T``)."""
        if self.ndim > 2:
            raise LuminaValueError(f"t: expects a tensor of at most 2 dims, got {self._value.type}; use transpose")
        return self.permute(list(reversed(range(self.ndim))))

    def contiguous(self) -> "Tensor":
        """``self`` when its elements are in row-major order in its base's storage, else a copy
        (torch's ``contiguous``: so a view of the result no longer aliases ``self``'s base)."""
        from .aliases import is_contiguous
        return self if is_contiguous(self) else self.clone()

    @property
    def data(self) -> "Tensor":
        """The same values without history, aliasing ``self`` (torch's ``.data``, like ``detach()``):
        ``p.data.add_(...)`` updates ``p`` in place without recording it."""
        return self.detach()

    @property
    def _version(self) -> int:
        """How many in-place updates this tensor's base has had (torch's ``_version``)."""
        from .inplace import version
        return version(self)

    def requires_grad_(self, mode: bool = True) -> "Tensor":
        if not self._is_leaf:
            raise LuminaGradError("requires_grad_: only leaf tensors can change requires_grad")
        self.requires_grad = mode
        if mode:
            LEAF_OF[id(self._value)] = self
        return self

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad (only
        the leaves among ``inputs``, a tensor or a sequence of them, when given).

        ``gradient`` (same shape as self) is required unless self is a scalar. ``retain_graph``
        changes nothing: lumina's graphs are values, never freed by a backward pass, so every
        graph can be differentiated again. Raises LuminaGradError, and LuminaValueError for
        ``create_graph=True`` (the gradient's own graph is not recorded) and for an input that
        is not a leaf requiring grad.
        """
        from .autograd import backward
        if create_graph:
            raise LuminaValueError("backward: create_graph=True is not supported (backward does not record "
                                   "the gradient's own graph)")
        backward(self, gradient, inputs=inputs)

    # In-place updates, with torch's semantics (views, dtype rules, autograd checks, version
    # counters): the mechanism is ``lumina.inplace``. Each returns ``self``, rebound.
    def copy_(self, other, non_blocking: bool = False) -> "Tensor":
        """Replace this tensor's value in place with ``other`` (a tensor, array or number) broadcast
        to its shape and cast to its dtype; data on another device is copied over."""
        from .inplace import copy_
        return copy_(self, other)

    def assign(self, other) -> "Tensor":
        """``copy_`` (lumina's older name, which optimizers and layers use for state updates)."""
        from .inplace import copy_
        return copy_(self, other, "assign")

    def _inplace(self, op: Op, other, name: str, alpha=None) -> "Tensor":
        from .inplace import binary_
        return binary_(self, op, other, name, alpha)

    def add_(self, other, *, alpha=1): return self._inplace(Op.ADD, other, "add_", alpha)
    def sub_(self, other, *, alpha=1): return self._inplace(Op.SUB, other, "sub_", alpha)
    def mul_(self, other): return self._inplace(Op.MUL, other, "mul_")

    def div_(self, other, *, rounding_mode=None):
        if rounding_mode is not None:
            raise LuminaValueError(f"div_: rounding_mode={rounding_mode!r} is not supported for {self._value.type}")
        return self._inplace(Op.DIV, other, "div_")

    def pow_(self, exponent):
        from .inplace import update
        return update(self, "pow_", lambda: self ** exponent, (exponent,))

    def __iadd__(self, other): return self._inplace(Op.ADD, other, "add_")
    def __isub__(self, other): return self._inplace(Op.SUB, other, "sub_")
    def __imul__(self, other): return self._inplace(Op.MUL, other, "mul_")
    def __itruediv__(self, other): return self._inplace(Op.DIV, other, "div_")
    def __ipow__(self, other): return self.pow_(other)
    def __iand__(self, other): return self._inplace(Op.AND, other, "bitwise_and_")
    def __ior__(self, other): return self._inplace(Op.OR, other, "bitwise_or_")

    def zero_(self) -> "Tensor":
        from .inplace import fill_
        return fill_(self, 0, "zero_")

    def fill_(self, value) -> "Tensor":
        from .inplace import fill_
        return fill_(self, value)

    def clamp_(self, min=None, max=None) -> "Tensor":  # noqa: A002 (PyTorch's names)
        from .inplace import clamp_
        return clamp_(self, min, max)

    clip_ = clamp_

    def masked_fill(self, mask, value) -> "Tensor":
        """``value`` where ``mask`` (bool, broadcast with ``self``) is True; see ``inplace.masked_fill``."""
        from .inplace import masked_fill
        return masked_fill(self, mask, value)

    def masked_fill_(self, mask, value) -> "Tensor":
        from .inplace import masked_fill_
        return masked_fill_(self, mask, value)

    def __setitem__(self, key, value) -> None:
        """``x[key] = value`` as torch (ints, slices, None, Ellipsis, integer index arrays, bool
        masks); see ``lumina.setitem``."""
        from .setitem import setitem
        setitem(self, key, value)


def _integer_power(x: "Tensor", n: int) -> "Tensor":
    """``x ** n`` for an integer (or bool: int64) tensor and a Python integer ``n >= 0``, exact
    and wrapping as torch's, by repeated squaring. Raises LuminaValueError for ``n < 0`` (torch:
    "Integers to negative integer powers are not allowed")."""
    if n < 0:
        raise LuminaValueError(f"pow: integers to negative integer powers are not allowed (as torch): "
                               f"{x._value.type} ** {n}")
    base = x.to(DType.int64) if x.dtype is DType.bool else x
    result = None
    while True:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if not n:
            break
        base = base * base
    return ones(base.shape, dtype=base.dtype) if result is None else result


def _full_like_scalar(value, dtype: DType) -> Tensor:
    return Tensor(B.const(value, dtype))


_VIEW_OPS = frozenset({Op.RESHAPE, Op.PERMUTE, Op.SLICE, Op.EXPAND})


def _sync_view(t: Tensor) -> None:
    from .aliases import sync
    sync(t)


def _binary_op(op: Op, a: Tensor, b: Tensor, dt: DType, name: str) -> Tensor:
    shape = broadcast_shapes(name, a._value.type, b._value.type)
    x = B.broadcast_to(B.cast(a._touch(), dt), shape)
    y = B.broadcast_to(B.cast(b._touch(), dt), shape)
    return Tensor._result(emit(op, (x, y)), a, b)


# ---- module-level ops -----------------------------------------------------------------------------

def place(t: Tensor, device, op: str) -> Tensor:
    """``t`` on ``device`` (a creation function's ``device=``): None leaves it where it is (a
    constant joins whichever device it meets, as does one made with ``device="cpu"``); another
    device copies it there. Raises LuminaDeviceError naming ``op`` for an unknown or unavailable
    device."""
    if device is None:
        return t
    from ..backends.devices import canonical
    try:
        name = canonical(device)
        return t.to(name)
    except LuminaDeviceError as e:
        raise LuminaDeviceError(f"{op}: {e}") from None


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A realised tensor holding a copy of ``data`` (array, list or scalar), on ``device`` (see
    ``place``).

    Python floats default to float32 and ints to int64, as in PyTorch; NumPy arrays keep their dtype
    (float64 stays float64). Raises LuminaTypeError for unsupported dtypes, LuminaDeviceError for
    an unknown device.
    """
    if isinstance(data, Tensor):
        data = data.numpy()
    try:
        probe = data if isinstance(data, np.ndarray) else np.asarray(data)
    except (ValueError, TypeError, OverflowError) as e:   # ragged nested lists, huge ints
        raise LuminaValueError(f"tensor: cannot make a tensor of {type(data).__name__} data: {e}") from None
    if probe.dtype == object:
        raise LuminaTypeError(f"tensor: data must be numbers or nested sequences of numbers of equal "
                              f"lengths, got {type(data).__name__} holding {type(probe.flat[0]).__name__ if probe.size else 'nothing'}")
    if dtype is None:
        arr = np.asarray(data)
        if arr.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
            arr = arr.astype(np.float32)
        dt = to_dtype(arr.dtype, "tensor")
    else:
        dt = to_dtype(dtype, "tensor")
        arr = np.asarray(data)
        if dt.is_half and arr.dtype != dt.numpy:  # round from float32, as every cast to 16 bits
            arr = arr.astype(np.float32)
    if not dt.is_float and arr.dtype.kind in "fc" and arr.size and not np.isfinite(arr).all():
        raise LuminaValueError(f"tensor: cannot convert a float NaN or infinity to {dt.name}")
    arr = np.array(arr, dtype=dt.numpy, order="C", copy=True)
    if requires_grad and not dt.is_float:
        raise LuminaTypeError(f"tensor: only floating-point tensors can require grad, got {dt.name}")
    return place(Tensor._from_array(arr, requires_grad), device, "tensor")


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.full``: a tensor of ``size`` filled with ``fill_value`` (a broadcast constant unless
    it requires grad), on ``device`` (see ``place``); the dtype is ``fill_value``'s (bool, int64,
    float32) unless given. Raises LuminaTypeError for non-integer sizes, LuminaValueError for
    negative or too large ones."""
    value = fill_value
    dt = to_dtype(dtype, "full") if dtype is not None else (DType.bool if isinstance(value, bool) else
                                                    DType.float32 if isinstance(value, float) else DType.int64)
    shape = _shape_arg(tuple(size) if isinstance(size, (tuple, list)) else (size,), "full", dt)
    if requires_grad:
        return tensor(np.full(shape, value), dt, device, requires_grad=True)
    return place(Tensor(B.const(value, dt, shape)), device, "full")


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.zeros(*size)``: float32 unless ``dtype`` is given; see ``full``."""
    if not size:
        raise LuminaTypeError("zeros: missing the size (as torch; zeros(()) is 0-d)")
    dtype = DType.float32 if dtype is None else dtype
    return full(_shape_arg(size, "zeros", to_dtype(dtype)), 0, dtype=dtype, device=device,
                requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.ones(*size)``: float32 unless ``dtype`` is given; see ``full``."""
    if not size:
        raise LuminaTypeError("ones: missing the size (as torch; ones(()) is 0-d)")
    dtype = DType.float32 if dtype is None else dtype
    return full(_shape_arg(size, "ones", to_dtype(dtype)), 1, dtype=dtype, device=device,
                requires_grad=requires_grad)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape, with its dtype unless ``dtype`` is given (device: see ``place``)."""
    return zeros(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape; see ``zeros_like``."""
    return ones(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``[start, end)`` in steps of ``step``; int64 for int arguments, else float32. As torch:
    ``arange(end)``, ``arange(start, end)``, ``arange(start, end, step)`` or by keyword
    (``arange(end=5)``). ``device``: see ``place``; ``requires_grad`` needs a float dtype."""
    if requires_grad:
        out = arange(start, end, step, dtype=dtype)
        if not out.dtype.is_float:
            raise LuminaTypeError(f"arange: only floating-point tensors can require grad, got {out.dtype.name}")
        return tensor(out.numpy(), out.dtype, device, requires_grad=True)
    if device is not None:
        return place(arange(start, end, step, dtype=dtype), device, "arange")
    if end is None:
        start, end = 0, start
    for v in (start, end, step):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise LuminaTypeError(f"arange: start, end and step must be numbers, got {v!r}")
        if not math.isfinite(v):
            raise LuminaValueError(f"arange: unsupported range {start} to {end} in steps of {step}")
    if step == 0:
        raise LuminaValueError(f"arange: step must be non-zero (start={start}, end={end})")
    if (end - start) * step < 0:
        raise LuminaValueError(f"arange: upper bound {end} and lower bound {start} inconsistent with "
                               f"step sign {step} (as torch)")
    floaty = any(isinstance(v, (float, np.floating)) for v in (start, end, step))
    dt = to_dtype(dtype) if dtype is not None else (DType.float32 if floaty else DType.int64)
    if dt is DType.bool:
        raise LuminaTypeError("arange: bool is not a supported dtype (as torch)")
    check_size("arange", (math.ceil((end - start) / step),), dt)
    values = np.arange(start, end, step, dtype=np.float64 if floaty else np.int64)
    return Tensor(B.const(values.astype(dt.numpy), dt, values.shape))


def where(condition, input, other) -> Tensor:
    """``input`` where ``condition`` else ``other``, broadcasting all three; they promote like a
    binary op."""
    cond, x, y = condition, input, other
    cond = cond if isinstance(cond, Tensor) else tensor(cond, dtype=DType.bool)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        raise LuminaTypeError("where: x or y must be a tensor")
    if isinstance(x, Tensor) and isinstance(y, Tensor):
        dt = result_type(x, y)
    else:
        t, s = (x, y) if isinstance(x, Tensor) else (y, x)
        dt = scalar_result(t.dtype, s)
    x = x if isinstance(x, Tensor) else _full_like_scalar(x, dt)
    y = y if isinstance(y, Tensor) else _full_like_scalar(y, dt)
    shape = broadcast_shapes("where", cond._value.type, x._value.type, y._value.type)
    c = B.broadcast_to(B.cast(cond._touch(), DType.bool), shape)
    a = B.broadcast_to(B.cast(x._touch(), dt), shape)
    b = B.broadcast_to(B.cast(y._touch(), dt), shape)
    return Tensor._result(emit(Op.WHERE, (c, a, b)), x, y)


def maximum(input, other) -> Tensor:
    """Elementwise max with NaN propagation (``torch.maximum``); ties split the gradient."""
    a = input if isinstance(input, Tensor) else tensor(input)
    return a._binary(Op.MAXIMUM, other)


def minimum(input, other) -> Tensor:
    a = input if isinstance(input, Tensor) else tensor(input)
    return a._binary(Op.MINIMUM, other)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """``torch.matmul`` / ``np.matmul`` semantics: 1-D operands are promoted and squeezed, batch dims
    broadcast. Raises LuminaShapeError when the inner dims differ."""
    a, b = input, other
    if not isinstance(b, Tensor):
        b = tensor(b)
    from ..amp import autocast_operands  # amp builds on this module
    a, b = autocast_operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise LuminaShapeError(f"matmul: both operands need at least 1 dim, got {a._value.type} @ {b._value.type}")
    dt = promote(a.dtype, b.dtype)
    if dt is DType.bool:
        raise LuminaTypeError(f"matmul: bool operands are not supported: {a._value.type} @ {b._value.type}")
    x = a.unsqueeze(0) if a.ndim == 1 else a
    y = b.unsqueeze(-1) if b.ndim == 1 else b
    if x.shape[-1] != y.shape[-2]:
        raise LuminaShapeError(f"matmul: inner dimensions differ: lhs {a._value.type} (contracting "
                               f"{x.shape[-1]}) vs rhs {b._value.type} (contracting {y.shape[-2]})")
    if x.ndim > 2 and all(d == 1 for d in y.shape[:-2]):
        # A shared rhs (a Linear layer's weight): fold the lhs batch dims into its rows, so the
        # product is one [B*M, K] x [K, N] GEMM, and so is its weight gradient (contracting B*M),
        # instead of B small GEMMs and a sum over B.
        y = y.reshape(y.shape[-2:])
        out = matmul(x.reshape(math.prod(x.shape[:-1]), x.shape[-1]), y).reshape(*x.shape[:-1], y.shape[-1])
        if b.ndim > 2:   # size-1 batch dims of the rhs beyond the lhs's rank still broadcast
            out = out.reshape(*((1,) * (b.ndim - x.ndim)), *out.shape)
        return out.squeeze(-1) if b.ndim == 1 else out
    batch = broadcast_shapes("matmul", TensorType(x.shape[:-2], dt), TensorType(y.shape[:-2], dt))
    x = x.to(dt).expand(*batch, *x.shape[-2:])
    y = y.to(dt).expand(*batch, *y.shape[-2:])
    nb = len(batch)
    out = Tensor._result(B.dot(x._touch(), y._touch(), contract=((nb + 1,), (nb,)),
                               batch=(tuple(range(nb)), tuple(range(nb)))), x, y)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along ``dim``; all other dims and the dtype (after promotion) must agree."""
    tensors = list(tensors)
    if not tensors:
        raise LuminaValueError("cat: expects a non-empty list of tensors")
    first = tensors[0]
    d = first._axes(dim, "cat")[0]
    dt = first.dtype
    for t in tensors[1:]:
        dt = promote(dt, t.dtype)
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != d):
            raise LuminaShapeError(f"cat: shapes differ outside dim {d}: "
                                   f"{', '.join(str(x._value.type) for x in tensors)}")
    vals = [B.cast(t._touch(), dt) for t in tensors]
    return Tensor._result(emit(Op.CONCAT, vals, axis=d), *tensors)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise LuminaValueError("stack: expects a non-empty list of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise LuminaShapeError(f"stack: all tensors must have the same shape, got "
                               f"{', '.join(str(t._value.type) for t in tensors)}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


class no_grad:
    """Context manager (and decorator) that disables gradient recording."""

    def __enter__(self):
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = False

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


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
                if t._view is not None and t._view.stamp != _EPOCH[0]:
                    _sync_view(t)
        _realize(*tensors)


def _realize(*tensors: Tensor) -> None:
    pending = [t for t in tensors if not t._realized and t._data is None]
    if not pending:
        return
    if STATE.trace is not None:
        raise LuminaTraceError(
            f"cannot read the value of a {pending[0]._value.type} tensor inside @lumina.compile: it is "
            "only known when the compiled function runs; return it instead")
    groups: dict[str, list[Tensor]] = {}
    for t in pending:   # each device's tensors run there, as one executable
        groups.setdefault(t.device, []).append(t)
    for device, group in groups.items():
        _realize_on(device, group)


def _realize_on(device: str, pending: list[Tensor]) -> None:
    from ..compiler import compile_graph
    values = list(dict.fromkeys(t._value for t in pending))
    graph = Graph.from_outputs(values, name="eager")
    missing = [v for v in graph.inputs if v not in BOUND]
    if missing:
        raise LuminaTraceError("realize: the tensor depends on a value traced inside @lumina.compile "
                               "that escaped the compiled function")
    exe = compile_graph(graph, device)
    inputs = [BOUND[v] for v in graph.inputs]
    outs = exe.run(inputs) if device == "cpu" else exe.run(inputs, host=False)
    result = dict(zip(values, outs))
    # Look every result up before binding any: binding a base rebinds its views (lumina.inplace).
    for t, arr in [(t, result[t._value]) for t in pending]:
        if t.requires_grad and not t._is_leaf:
            t._data = arr  # keep the history for backward; cache the value
        else:
            fresh = Tensor._bind(arr, device)
            t._set_value(fresh._value)
