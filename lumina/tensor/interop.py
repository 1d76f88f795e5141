"""NumPy and DLPack interop without copies: ``from_numpy``, ``from_dlpack``, ``Tensor.__dlpack__``
and ``Tensor.__dlpack_device__`` (CPU), as PyTorch 2.13's
(https://pytorch.org/docs/stable/generated/torch.from_numpy.html,
https://pytorch.org/docs/stable/dlpack.html, the array API's DLPack protocol
https://data-apis.org/array-api/latest/design_topics/data_interchange.html).

**Sharing memory with an array.** A realised CPU tensor's value is a C-contiguous NumPy array
(``tracing.BOUND``), which ``from_numpy`` binds as it is: the tensor and the array are one memory.
So a write into the array is seen by the tensor: by every later read, and, lumina being lazy, by
results computed from it that are not realised yet (realise them with ``lumina.realize`` before
writing to the array to keep the old values, torch computes eagerly). The other way, lumina's
in-place updates do not write into memory: they rebind the tensor to a new value
(``lumina.tensor.inplace``). A ``from_numpy`` tensor is therefore a ``SharedTensor``, whose rebinding
writes the new value into the array at once and binds the tensor to the array again (the value it
replaces gets a copy of the old contents, for lazy results still to read it): ``t.add_(1)``,
``t[0] = 5``, an update through a view of ``t``, an optimizer step or a compiled function's state
write-back all show in the array, as in torch. A tensor with autodiff history (an in-place update
by an operand that requires grad) keeps its history: the array gets its value, and later writes
into the array are not seen by that history (torch's would be, through the autograd graph's saved
buffers; use ``detach()`` first).

Arrays lumina cannot bind in place (not C-contiguous, non-native byte order, a dtype lumina lacks)
are refused by ``from_numpy`` with a LuminaValueError / LuminaTypeError, never copied silently;
``from_dlpack`` copies them only when ``copy`` allows (``None``: where needed; ``False``: never).
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import tracing
from ..errors import LuminaDeviceError, LuminaGradError, LuminaTraceError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import to_dtype
from ..ir.graph import emit
from ..ir.ops import Op
from ..ir.types import TensorType
from ..tracing import BOUND, STATE, STOP_GRAD, Rebinds
from .core import LEAF_OF, Tensor, realize

_DL_DEVICES = {"cpu": 1, "cuda": 2, "metal": 8}     # DLDeviceType: kDLCPU, kDLCUDA, kDLMetal


class SharedTensor(Tensor):
    """A tensor over memory it shares with a NumPy array (``from_numpy``, ``from_dlpack``): every
    rebinding of its value (an in-place update) is written into the array, eagerly."""

    __slots__ = ("_array",)

    def _set_value(self, v) -> None:
        if STATE.trace is not None or BOUND.get(v) is self._array:
            super()._set_value(v)     # inside a trace the compiled function writes back when it runs
            return
        if not self._array.flags.writeable:
            raise LuminaValueError(f"in-place update of {self._value.type}: the tensor shares the memory of a "
                                   "read-only NumPy array (from_numpy warned); make the array writable or copy it")
        old = self._value
        if BOUND.get(old) is self._array:
            # results computed lazily from the old value must keep reading it: it gets a copy
            BOUND[old] = np.array(self._array, copy=True)
            Rebinds.note()
        super()._set_value(v)
        value = Tensor(v)
        realize(value)
        np.copyto(self._array, np.asarray(BOUND[value._value]), casting="no")
        if _has_history(v):
            self._data = self._array      # keep the history; reads see the shared memory
        else:
            Tensor._set_value(self, _bind_value(self._array))


def _has_history(v) -> bool:
    """Whether autodiff reaches a tensor that requires grad from value ``v`` (then an in-place
    update recorded its history, which the tensor keeps)."""
    stack, seen = [v], set()
    while stack:
        x = stack.pop()
        if id(x) in seen or x in STOP_GRAD:
            continue
        seen.add(id(x))
        leaf = LEAF_OF.get(id(x))
        if leaf is not None and leaf.requires_grad:
            return True
        if x not in BOUND:
            stack.extend(x.inputs)
    return False


def _bind_value(arr: np.ndarray):
    v = emit(Op.INPUT, type=TensorType(arr.shape, to_dtype(arr.dtype)), name=tracing.fresh_name())
    BOUND[v] = arr
    return v


def _refuse_in_trace(op: str) -> None:
    if STATE.trace is not None:
        raise LuminaTraceError(f"{op}: cannot share an array's memory inside @lumina.compile: its values would be "
                               "frozen into the compiled function; call it outside and pass the tensor in")


def _dtype_of(arr: np.ndarray, op: str):
    try:
        return to_dtype(arr.dtype, op)
    except LuminaTypeError:
        raise LuminaTypeError(f"{op}: can't convert a NumPy array of type {arr.dtype}; lumina supports float64, "
                              "float32, float16, bfloat16, int64, int32 and bool") from None


def _share(arr: np.ndarray) -> SharedTensor:
    t = SharedTensor(_bind_value(arr), False, _is_leaf=True)
    t._array = arr
    return t


def _check_layout(arr: np.ndarray, op: str) -> str | None:
    """Why ``arr`` cannot be bound in place, or None."""
    if not arr.dtype.isnative:
        return f"its byte order is not the machine's ({arr.dtype.str})"
    if any(s < 0 for s in arr.strides):
        return "at least one stride is negative"
    if not arr.flags.c_contiguous:
        return f"it is not C-contiguous (strides {arr.strides} for shape {arr.shape}); lumina binds row-major memory"
    return None


def from_numpy(ndarray) -> Tensor:
    """``torch.from_numpy``: a CPU tensor sharing ``ndarray``'s memory (no copy), its shape and
    dtype (float64 / float32 / float16 / bfloat16 / int64 / int32 / bool). Writes through either
    side are seen by the other (see the module docstring for how lumina's in-place updates write
    through). A read-only array is bound with torch's warning (writing to the tensor then raises
    NumPy's ValueError as a LuminaValueError). Raises LuminaTypeError for a non-array or an
    unsupported dtype, LuminaValueError for a layout lumina cannot bind in place (not C-contiguous,
    negative strides, non-native byte order: copy with ``np.ascontiguousarray`` first),
    LuminaTraceError inside ``@lumina.compile``."""
    _refuse_in_trace("from_numpy")
    if not isinstance(ndarray, np.ndarray):
        raise LuminaTypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    why = _check_layout(ndarray, "from_numpy")
    if why is not None:
        raise LuminaValueError(f"from_numpy: cannot share the memory of the {ndarray.dtype}{list(ndarray.shape)} "
                               f"array: {why}")
    _dtype_of(ndarray, "from_numpy")
    if not ndarray.flags.writeable:
        warnings.warn("The given NumPy array is not writable, and PyTorch does not support non-writable tensors. "
                      "This means writing to this tensor will result in undefined behavior. You may want to copy "
                      "the array to protect its data or make it writable before converting it to a tensor.",
                      UserWarning, stacklevel=2)
    return _share(ndarray)


def from_dlpack(ext_tensor, *, device=None, copy=None) -> Tensor:
    """``torch.from_dlpack``: a CPU tensor over the memory of any object with ``__dlpack__`` (a
    torch tensor, a NumPy array, another lumina tensor, which is returned itself), sharing it
    (writes through either side are seen by the other, as ``from_numpy``). ``copy=True`` always
    copies, ``copy=False`` never does (a layout lumina cannot bind in place then raises
    LuminaValueError), ``None`` copies only where needed (strided producers). ``device`` must be
    None or "cpu". Raises LuminaDeviceError for a producer on another device, LuminaTypeError for an
    unsupported dtype or an object without DLPack, LuminaValueError where the producer refuses (a
    torch tensor that requires grad), LuminaTraceError inside ``@lumina.compile``."""
    _refuse_in_trace("from_dlpack")
    if device is not None and str(device) != "cpu":
        raise LuminaDeviceError(f"from_dlpack: only device='cpu' is supported, got {device!r}")
    if isinstance(ext_tensor, Tensor) and copy is not True:
        return ext_tensor
    if hasattr(ext_tensor, "__dlpack_device__"):
        kind = int(ext_tensor.__dlpack_device__()[0])
        if kind != 1:            # kDLCPU
            raise LuminaDeviceError(f"from_dlpack: the producer's memory is on DLPack device type {kind}; lumina "
                                    "reads CPU memory only (move it to the CPU first)")
    try:
        arr = np.from_dlpack(ext_tensor, copy=copy)
    except (TypeError, AttributeError) as e:
        raise LuminaTypeError(f"from_dlpack: {type(ext_tensor).__name__} does not support the DLPack protocol "
                              f"({e})") from None
    except (BufferError, RuntimeError, ValueError) as e:     # the producer refuses (torch: requires grad)
        raise LuminaValueError(f"from_dlpack: the {type(ext_tensor).__name__} cannot be imported: {e}") from None
    _dtype_of(arr, "from_dlpack")
    if _check_layout(arr, "from_dlpack") is not None:
        if copy is False:
            raise LuminaValueError(f"from_dlpack: copy=False, but the {arr.dtype}{list(arr.shape)} memory cannot "
                                   f"be bound in place: {_check_layout(arr, 'from_dlpack')}")
        arr = np.ascontiguousarray(arr)
    return _share(arr)


class InteropMethods:
    """The DLPack protocol on ``Tensor``."""

    def __dlpack__(self, *, stream=-1, max_version=None, dl_device=None, copy=None):
        """The DLPack capsule of this tensor's realised CPU buffer (no copy unless ``copy=True``),
        as torch's ``Tensor.__dlpack__``: a consumer sees this tensor's memory, and its writes
        are this tensor's value (for a view, the memory is the view's own realised copy of its
        elements, not its base's). ``stream`` must be None or -1 (the CPU has no streams).
        Raises LuminaTraceError inside ``@lumina.compile`` (the value is not known),
        LuminaGradError for a tensor that requires grad (as torch: export ``detach()``),
        LuminaDeviceError off the CPU, LuminaTypeError for a dtype DLPack cannot carry
        (bfloat16 through NumPy)."""
        if STATE.trace is not None:
            raise LuminaTraceError(f"__dlpack__: cannot export a {self._value.type} tensor inside @lumina.compile: "
                                   "its value is only known when the compiled function runs")
        if str(self.device) != "cpu":
            raise LuminaDeviceError(f"__dlpack__: only CPU tensors are exported, this {self._value.type} is on "
                                    f"{self.device} (call .cpu() first)")
        if self.requires_grad:
            raise LuminaGradError(f"__dlpack__: can't export a {self._value.type} tensor that requires grad (as "
                                  "torch); use tensor.detach()")
        if stream not in (None, -1):
            raise LuminaValueError(f"__dlpack__: stream must be None or -1 for a CPU tensor, got {stream!r}")
        data = self._array if isinstance(self, SharedTensor) and self._data is None else self.numpy()
        try:
            return data.__dlpack__(stream=None, max_version=max_version, dl_device=dl_device, copy=copy)
        except BufferError as e:
            raise LuminaTypeError(f"__dlpack__: cannot export {self._value.type} ({self.dtype.name}): {e}") from None

    def __dlpack_device__(self) -> tuple[int, int]:
        """``(DLPack device type, device index)``: ``(1, 0)`` for the CPU (kDLCPU), ``(2, 0)`` for
        CUDA, ``(8, 0)`` for Metal."""
        return (_DL_DEVICES.get(str(self.device), 1), 0)
