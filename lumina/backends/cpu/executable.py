"""The executable plan: an ordered list of kernel launches over numbered buffer slots.

Slots hold the caller's inputs (zero-copy when they are C-contiguous with the right dtype), constants,
intermediates and outputs (fresh arrays each call, since they are handed to the caller). The
intermediates live in one arena per executable, allocated once and reused across calls, each at the
offset of the executable's memory plan (``schedule.memory``), so buffers whose lifetimes do not meet
share memory.

``run`` makes one native call per thread: the plan function (``backends.cpu.llvm_plan``) walks every
launch with the barriers of the static schedule (``schedule.thread_schedule``), so a step of hundreds of
kernels costs one hand-off to the native thread pool (``native_pool``: pthreads that never take the
GIL) instead of one Python call (and, for split kernels, one hand-off) per kernel. ``run(..., stepwise=True)`` calls the kernels one by one from Python
instead, to time each of them.

Index checks work like a device-side assert: a kernel that checks indices computed at run time
writes what it finds out of range to its *status* slot (``codegen.kernel.IndexCheck``), a few
int64s the executable owns and keeps at zero; after the launches ``run`` looks at them (one NumPy
``any`` over all of them), and if one is set it clears them and raises ``LuminaIndexError`` naming
the op, the index and the bound. The outputs of that call are never returned, so nothing the caller
would write back (a compiled training step's new weights) is ever seen.
"""
from __future__ import annotations

import ctypes
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...errors import LuminaIndexError, LuminaTypeError
from ...codegen.program import SlotRole, SlotSpec
from ...schedule.memory import ALIGNMENT, MemoryPlan, aligned_bytes
from ...schedule.memory import plan as plan_memory
from ...schedule.thread_schedule import split
from .launch import Launch
from .native_pool import native_pool
from .profile import profile_report
from .threads import PARALLEL_MIN_WORK, num_threads, parallel_for, run_on_threads


# Tests set this to fill the arena and every fresh output with 0xFF bytes (NaN in a float, -1 in an
# int) before each call, so that an element no kernel writes shows as NaN instead of whatever the
# allocator left there (often zeros, which can pass for a right answer).
POISON = False

PLAN_AFTER = 3
"""The run at which a small step's deferred plan is compiled (``build._plan``): one-off eager ops
never compile one; a step called in a loop does, once."""


def _data_offset() -> int | None:
    """Where an ndarray object keeps its data pointer, as a byte offset from the object's address
    (``id``): right after the object header, in NumPy's ``PyArrayObject_fields``. Checked on
    arrays of several kinds against ``ndarray.ctypes.data``; None where it does not hold (another
    Python build), and ``data_address`` then takes the slow way."""
    offset = 2 * ctypes.sizeof(ctypes.c_void_p)
    samples = [np.empty(3, np.float32), np.zeros((2, 5), np.int64)[:, 1:], np.ones(0)]
    ok = all(ctypes.c_int64.from_address(id(a) + offset).value == a.ctypes.data for a in samples)
    return offset if ok else None


_DATA_OFFSET = _data_offset()


# The process's memory as 64-bit words, to read an array's data pointer at ``id(a) + offset``
# with one index: 80 ns, half of what a ``c_int64.from_address`` object costs.
_WORDS = (ctypes.c_int64 * (sys.maxsize // 8)).from_address(0) if _DATA_OFFSET is not None else None


def data_address(a: np.ndarray) -> int:
    """The address of ``a``'s first element, as ``a.ctypes.data`` gives it, about 15x faster (a
    call binds its arrays' addresses every time)."""
    if _WORDS is None:
        return a.ctypes.data
    return _WORDS[(id(a) + _DATA_OFFSET) >> 3]


class _Workspaces(threading.local):
    """Per OS thread: GEMM packing buffers, so threads never share one."""

    def __init__(self):
        self.tables: dict[tuple, tuple[np.ndarray, int]] = {}   # sizes -> (table, its address)
        self.keep: list = []


_WORKSPACES = _Workspaces()


def workspace_table(sizes: tuple[tuple[np.dtype, int], ...]) -> np.ndarray:
    """This thread's workspace addresses, one per ``(dtype, elements)`` of ``sizes`` (int64)."""
    return _workspace(sizes)[0]


def _workspace(sizes: tuple[tuple[np.dtype, int], ...]) -> tuple[np.ndarray, int]:
    """``workspace_table(sizes)`` and the table's own address."""
    found = _WORKSPACES.tables.get(sizes)
    if found is None:
        arrays = [np.empty(max(1, n), dt) for dt, n in sizes]
        table = np.array([a.ctypes.data for a in arrays] or [0], dtype=np.int64)
        found = _WORKSPACES.tables[sizes] = (table, table.ctypes.data)
        _WORKSPACES.keep.append(arrays)
    return found


def _checked(x, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Input ``x`` as a C-contiguous array of ``dtype`` (itself when it is one). Raises
    LuminaTypeError when its shape is not ``shape``."""
    if not (type(x) is np.ndarray and x.dtype == dtype and x.flags.c_contiguous):
        x = np.asarray(x, dtype=dtype, order="C")
    if x.shape != shape:
        raise LuminaTypeError(f"executable: input of shape {x.shape}, expected {shape}")
    return x


@dataclass(eq=False)
class _Pin:
    """``Executable.pinned``'s inputs from ``start`` on: their arrays in order (``tail``) and by
    slot (``arrays``)."""
    start: int
    tail: list
    arrays: dict


def _dead() -> None:
    """A weak reference to nothing (what ``Executable._bound`` starts with)."""
    return None


@dataclass(frozen=True)
class Prepack:
    """B of one or more GEMMs packed ahead of their calls (``llvm_gemm_prepack``): the ``k x n``
    matrix at byte ``offset`` of frozen input slot ``slot``, with element strides ``sb_k``,
    ``sb_n``, packed by the function at ``address`` into ``data`` (64-byte aligned bytes, whose
    address the launches were given) whenever another array is bound to the slot."""
    slot: int
    offset: int
    address: int
    k: int
    n: int
    sb_k: int
    sb_n: int
    data: np.ndarray

    def pack(self, address: int) -> None:
        """Pack from the slot's data at ``address``."""
        _pack_function(self.address)(self.data.ctypes.data, address + self.offset, self.k, self.n, self.sb_k, self.sb_n)


_PACK_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, *[ctypes.c_int64] * 4)
_PACK_FUNCTIONS: dict = {}


def _pack_function(address: int):
    """The ctypes function of the whole-B packing function at ``address`` (made once per address)."""
    fn = _PACK_FUNCTIONS.get(address)
    if fn is None:
        fn = _PACK_FUNCTIONS[address] = _PACK_TYPE(address)
    return fn


@dataclass
class Executable:
    slots: list[SlotSpec]
    input_slots: list[int]
    output_slots: list[int]
    output_shapes: list[tuple[int, ...]]   # an output may reshape its slot's buffer
    launches: list[Launch]
    plan: Callable | None                   # plan(buffers, tid, workspaces) (backends.cpu.llvm_plan);
                                            # None: Python calls the launches one by one
    plan_threads: int                       # threads the schedule gives work to (1: run inline)
    workspaces: tuple = ()                  # ((dtype, elements), ...) of the GEMM workspaces
    keepalive: list = field(default_factory=list)   # compiled modules whose code we call
    info: dict = field(default_factory=dict)        # IR texts, kernel sources, partition, for dumps
    memory_plan: MemoryPlan | None = None           # arena offsets of the "temp" slots; None: each
                                                    # temp gets its own stretch of the arena
    deferred_plan: Callable | None = None           # () -> (plan, module, text): the one-thread plan
                                                    # of a small step, compiled at its PLAN_AFTER-th run
    prepacks: tuple = ()                            # the ``Prepack`` of every GEMM B packed per array
    hoisted: tuple = ()                             # the launches of ``program.frozen_kernels``: run
                                                    # (before the prepacks of what they write) when
                                                    # another array is bound to a frozen input
    addresses: tuple = ()                           # the plan's address table (``llvm_plan``): in the
                                                    # buffer table after the slots' addresses

    def __post_init__(self):
        if self.memory_plan is None:
            temps = {i: s.nbytes for i, s in enumerate(self.slots) if s.role is SlotRole.TEMP}
            self.memory_plan = plan_memory([((), tuple(temps))], temps)   # all live at once
        self.arena = aligned_bytes(self.memory_plan.arena_bytes)
        # Constants and intermediates keep their buffers across calls: their addresses are taken
        # once; a call fills in only the inputs' and the fresh outputs'.
        self._fixed: list = [s.const if s.role is SlotRole.CONST else self._in_arena(i) if s.role is SlotRole.TEMP
                             else aligned_bytes(s.nbytes).view(s.dtype).reshape(s.shape) if s.role is SlotRole.DERIVED
                             else None for i, s in enumerate(self.slots)]
        # The status slots of the index checks: views of one zeroed array, read after each call.
        self._checks = [c for s in self.slots if s.role is SlotRole.STATUS for c in s.checks]
        self._status = np.zeros(max(1, len(self._checks)), np.int64) if self._checks else None
        at = 0
        for i, s in enumerate(self.slots):
            if s.role is SlotRole.STATUS:
                self._fixed[i] = self._status[at:at + len(s.checks)]
                at += len(s.checks)
        self._fixed_ptrs = np.array([a.ctypes.data if a is not None else 0 for a in self._fixed] + list(self.addresses)
                                    or [0], dtype=np.int64)
        # What ``run`` binds, under the lock: every slot's address (the fixed ones filled in once),
        # and per input a weak reference to the array whose address is there (an input passed
        # again as the same array object is not checked and bound again, only its shape and dtype
        # compared; weak, so that the executable keeps no caller's array alive).
        self._ptrs = self._fixed_ptrs.copy()
        self._ptrs_address = self._ptrs.ctypes.data
        self._inputs = [(slot, self.slots[slot].shape, self.slots[slot].dtype) for slot in self.input_slots]
        self._bound: list = [_dead] * len(self.input_slots)
        self._fresh = [(i, s.shape, s.dtype) for i, s in enumerate(self.slots) if s.role is SlotRole.OUTPUT]
        self._pin, self._pin_start = None, len(self._inputs)   # the ``pinned`` call bound now
        self._runner_tail = None   # the tail ``runner`` bound last (None: none, or ``run`` bound since)
        # The frozen inputs that hoisted launches or prepacks read, each with a weak reference to
        # the array they were last computed from (``_refresh``).
        self._frozen = {slot: _dead for slot in self.input_slots if self.slots[slot].frozen} \
            if self.hoisted or self.prepacks else {}
        self._lock = threading.Lock()
        # The stepwise path runs a launch whose work is too small to split as one native call
        # with precomputed arguments (``Launch.whole``).
        self._whole = [len(split(L.extent, L.work, PARALLEL_MIN_WORK, num_threads())) <= 2 for L in self.launches]
        self._runs = 0
        self._job = None   # (the native pool, the plan's job there, the job's address)
        # per output: its slot and shape, whether it is copied (an input, constant or intermediate
        # buffer is not the caller's to keep), whether the slot's buffer is reshaped, and the
        # slot's buffer where it is not bound per call (None: an input's or a fresh array)
        self._outputs = [(slot, shape, self.slots[slot].role is not SlotRole.OUTPUT,
                          tuple(shape) != tuple(self.slots[slot].shape), self._fixed[slot])
                         for slot, shape in zip(self.output_slots, self.output_shapes)]
        # the output slots, where every output is a fresh array of its slot's shape (else empty)
        self._outputs_fresh = [slot for slot, _, copy, reshape, _ in self._outputs] \
            if not any(copy or reshape for _, _, copy, reshape, _ in self._outputs) else []

    def _in_arena(self, slot: int) -> np.ndarray:
        """Temp slot ``slot``'s array: a view of the arena at its planned offset."""
        spec, offset = self.slots[slot], self.memory_plan.offsets[slot]
        n = spec.nbytes
        if offset % ALIGNMENT or offset + n > self.arena.nbytes:
            raise LuminaTypeError(f"executable: slot {slot} planned at byte {offset} ({n} bytes) "
                                  f"outside the {self.arena.nbytes}-byte arena or misaligned")
        return self.arena[offset:offset + n].view(spec.dtype).reshape(spec.shape)

    def run(self, inputs: list[np.ndarray], stepwise: bool = False) -> list[np.ndarray]:
        """Execute on ``inputs`` (one array per graph input); returns one array per graph output.
        Raises LuminaTypeError for an input of another shape than the executable's."""
        return self._execute(inputs, None, stepwise)

    def pinned(self, tail: list[np.ndarray]) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
        """``call(head)``, the same as ``run([*head, *tail])``: the last ``len(tail)`` inputs (the
        weights of an ONNX model) stay bound to ``tail``'s arrays, held here, so a call binds only
        ``head``. A call after another array was bound to one of them (a ``run`` with other
        weights, in any thread) binds all of them again."""
        start = len(self._inputs) - len(tail)
        pin = _Pin(start, list(tail), {slot: x for (slot, _, _), x in zip(self._inputs[start:], tail)})

        def call(head):
            if len(head) != start:
                raise LuminaTypeError(f"executable: {len(head)} inputs before the pinned ones, expected {start}")
            return self._execute(head, pin)
        return call

    def binds_as_is(self, inputs: list) -> bool:
        """Whether ``run`` binds ``inputs`` as they are: each a C-contiguous NumPy array of its
        input's shape and dtype (what ``runner``'s caller must ensure)."""
        return len(inputs) == len(self._inputs) and all(
            type(x) is np.ndarray and x.flags.c_contiguous and x.shape == shape and x.dtype == dtype
            for (_, shape, dtype), x in zip(self._inputs, inputs))

    def runner(self) -> Callable[..., list[np.ndarray]]:
        """``call(head, tail=())``, the same as ``run([*head, *tail])`` for inputs the caller has
        checked: each a C-contiguous NumPy array of its input's shape and dtype (a compiled call's
        fast path, ``fast_call``). ``tail`` holds weak references to the last inputs (the captured
        state), bound again only when ``tail`` is another list than the last call's or another
        call bound inputs since: the caller passes a new list when their arrays may have changed,
        and keeps them alive meanwhile. It skips ``run``'s per-input checks and bookkeeping; a step
        that needs more than binding and one plan call (no plan compiled yet, index checks, frozen
        inputs, outputs that are not fresh arrays) takes ``run``."""
        fresh = self._fresh
        if (self._frozen or self._status is not None or not self._outputs_fresh
                or [slot for slot, _, _ in fresh] != self._outputs_fresh):
            return lambda head, tail=(): self.run([*head, *(r() for r in tail)])
        slots = [slot for slot, _, _ in self._inputs]
        ptrs, bound, lock, empty = self._ptrs, self._bound, self._lock, np.empty
        dead = [_dead] * len(bound)

        def call(head, tail=()):
            if self.plan is None or POISON:
                return self.run([*head, *(r() for r in tail)])
            with lock:
                if tail is not self._runner_tail:   # the tail changed, or ``run`` bound inputs since
                    for slot, ref in zip(slots[len(head):], tail):
                        ptrs[slot] = data_address(ref())
                    bound[:] = dead   # ``run`` binds every input again after this
                    self._pin = None
                    self._runner_tail = tail
                for slot, x in zip(slots, head):   # ``data_address`` inlined: every call, every argument
                    ptrs[slot] = _WORDS[(id(x) + _DATA_OFFSET) >> 3] if _WORDS is not None else x.ctypes.data
                outs = []
                for slot, shape, dtype in fresh:
                    a = empty(shape, dtype)
                    outs.append(a)
                    ptrs[slot] = _WORDS[(id(a) + _DATA_OFFSET) >> 3] if _WORDS is not None else a.ctypes.data
                self._run_plan()
            return outs
        return call

    def _execute(self, inputs: list[np.ndarray], pin: _Pin | None, stepwise: bool = False) -> list[np.ndarray]:
        """``run``; with a ``pin`` (``pinned``), ``inputs`` are the leading inputs only."""
        with self._lock:  # intermediates and the bound addresses are shared: one call at a time
            if pin is None:
                arrays = self._bind_run(inputs, {})
            elif self._pin is pin:
                arrays = self._bind_run(inputs, dict(pin.arrays))
            else:   # first call, or another array was bound to a pinned input since
                arrays = self._bind_run([*inputs, *pin.tail], {})
                self._pin, self._pin_start = pin, pin.start
            if self.deferred_plan is not None:
                self._runs += 1
                if self._runs >= PLAN_AFTER:
                    self._compile_deferred_plan()
            if POISON:
                self.arena[:] = 0xFF
            if stepwise or self.plan is None:
                self._run_stepwise(self._ptrs)
            else:
                self._run_plan()
            error = self._index_error() if self._status is not None else None
        if error is not None:
            raise LuminaIndexError(error)
        if self._outputs_fresh:   # each output a fresh array of its slot's shape: returned as it is
            return [arrays[slot] for slot in self._outputs_fresh]
        outs = []
        for slot, shape, copy, reshape, fixed in self._outputs:
            out = arrays[slot] if fixed is None else fixed
            outs.append(out.copy().reshape(shape) if copy else out.reshape(shape) if reshape else out)
        return outs

    def _bind_run(self, inputs: list[np.ndarray], arrays: dict) -> dict:
        """``_bind`` into ``self._ptrs`` for ``run`` (holding the lock): only what changed since the
        last call is bound again; ``inputs`` may be the leading inputs only (the rest pinned, their
        arrays in ``arrays``). Returns ``{slot: array}`` of every slot an output reads."""
        ptrs, bound = self._ptrs, self._bound
        self._runner_tail = None   # ``runner``'s binding of the tail is overwritten
        stale = False
        k = -1
        for (slot, shape, dtype), x in zip(self._inputs, inputs):
            k += 1
            if x is not bound[k]():
                x = _checked(x, shape, dtype)
                bound[k] = weakref.ref(x)
                ptrs[slot] = data_address(x)
                stale = stale or slot in self._frozen
                if k >= self._pin_start:
                    self._pin = None
            elif x.shape != shape or x.dtype is not dtype and x.dtype != dtype:   # reshaped in place
                bound[k] = _dead
                return self._bind_run(inputs, arrays)
            arrays[slot] = x
        self._bind_fresh(arrays, ptrs)
        if stale:
            self._refresh(arrays, ptrs)
        return arrays

    def _refresh(self, arrays, ptrs) -> None:
        """Unless every frozen input holds the array the derived data was computed from: pack the
        frozen inputs' GEMM operands, run the hoisted launches, pack what they wrote (holding the
        lock; ``arrays`` and ``ptrs``: every input's array and address, by slot)."""
        if all(source() is arrays[slot] for slot, source in self._frozen.items()):
            return
        ptrs = [int(p) for p in ptrs]
        for p in self.prepacks:
            if self.slots[p.slot].role is SlotRole.INPUT:
                p.pack(ptrs[p.slot])
        for launch in self.hoisted:
            self._launch(launch, ptrs)
        for p in self.prepacks:
            if self.slots[p.slot].role is SlotRole.DERIVED:
                p.pack(ptrs[p.slot])
        for slot in self._frozen:
            self._frozen[slot] = weakref.ref(arrays[slot])

    def _run_plan(self) -> None:
        """The native plan on the bound addresses: one call on this thread, or one per pool
        thread (holding the lock)."""
        if self.plan_threads == 1:
            self.plan(self._ptrs_address, 0, _workspace(self.workspaces)[1] if self.workspaces else 0)
        else:
            self._run_on_threads(self._ptrs)

    def _run_on_threads(self, ptrs: np.ndarray) -> None:
        """The plan on ``plan_threads`` threads: the native pool's, else the Python pool's."""
        pool = native_pool(num_threads())   # a forked child's is not its parent's
        if pool is not None and self.plan_threads <= pool.workers + 1:
            if self._job is None or self._job[0] is not pool:
                address = ctypes.cast(self.plan, ctypes.c_void_p).value
                job = pool.job(address, data_address(ptrs), self.workspaces, self.plan_threads)
                self._job = (pool, job, data_address(job))
            pool.start(self._job[2])
        else:
            run_on_threads(lambda tid: self.plan(data_address(ptrs), tid, data_address(workspace_table(self.workspaces))),
                           self.plan_threads)

    def _compile_deferred_plan(self) -> None:
        plan, module, text = self.deferred_plan()
        self.keepalive.append(module)
        self.info["plan"] = text()
        self.plan, self.deferred_plan, self._job = plan, None, None

    def profile_report(self, inputs: list[np.ndarray], repeat: int = 10):
        """FLOPs, bytes moved, best time, rates and share of the step of every launch on
        ``inputs``, as a ``profile.ProfileReport`` (see ``profile.profile_report``)."""
        return profile_report(self, inputs, repeat)

    def profile(self, inputs: list[np.ndarray], repeat: int = 10) -> list[tuple[Launch, float]]:
        """Each launch with its best wall time in seconds over ``repeat`` stepwise runs on
        ``inputs`` (each launch split over the thread pool as the stepwise path splits it)."""
        arrays, ptrs = self._bind(inputs)   # arrays: keeps the fresh output buffers alive
        ptrs = [int(p) for p in ptrs]
        best = [float("inf")] * len(self.launches)
        error = None
        with self._lock:
            self._refresh(arrays, ptrs)
            for _ in range(repeat):
                for i, launch in enumerate(self.launches):
                    t0 = time.perf_counter()
                    self._launch(launch, ptrs)
                    best[i] = min(best[i], time.perf_counter() - t0)
                error = self._index_error()
                if error is not None:
                    break
        if error is not None:
            raise LuminaIndexError(error)
        return list(zip(self.launches, best))

    def _index_error(self) -> str | None:
        """The message of the first index check that found an index out of range in the last
        launches, clearing every status for the next call; None when none did. Call it holding
        the lock."""
        status = self._status
        if status is None or not status.any():
            return None
        found = [c.error(int(v)) for c, v in zip(self._checks, status)]
        status[:] = 0
        return next(m for m in found if m is not None)

    def _bind(self, inputs: list[np.ndarray]) -> tuple[list, np.ndarray]:
        """The array of every slot (inputs checked, outputs fresh) and their addresses (int64)."""
        arrays = list(self._fixed)
        ptrs = self._fixed_ptrs.copy()
        for slot, x in zip(self.input_slots, inputs):
            spec = self.slots[slot]
            arrays[slot] = x = _checked(x, spec.shape, spec.dtype)
            ptrs[slot] = data_address(x)
        self._bind_fresh(arrays, ptrs)
        return arrays, ptrs

    def _bind_fresh(self, arrays, ptrs) -> None:
        """A new array for each output slot the caller keeps, in ``arrays`` (by slot) and its
        address in ``ptrs``."""
        for slot, shape, dtype in self._fresh:
            arrays[slot] = a = np.empty(shape, dtype)
            if POISON:
                a.reshape(-1).view(np.uint8)[:] = 0xFF
            ptrs[slot] = data_address(a)

    def _run_stepwise(self, ptrs) -> None:
        ptrs = ptrs.tolist()
        workspaces = workspace_table(self.workspaces)
        for launch, whole in zip(self.launches, self._whole):
            if whole:
                launch.whole(ptrs, workspaces)
            else:
                self._launch(launch, ptrs)

    def _launch(self, launch: Launch, ptrs: list[int]) -> None:
        parallel_for(lambda start, end, worker: launch.call(ptrs, start, end, workspace_table(self.workspaces)),
                     launch.extent, launch.work)
