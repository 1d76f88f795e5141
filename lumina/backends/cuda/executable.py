"""The cuda executable: a program's kernels as Triton launches over device buffers.

Built from the plain data of a lowered program (``compiler.lower_program``): the buffer
slots, ``(description, slots)`` per kernel in launch order, and which slots are the inputs and
outputs. Every buffer is a torch tensor from PyTorch's caching allocator (no hand-written driver
calls):

- the intermediates live in one arena tensor per executable, each a view at the offset of the
  memory plan (``codegen.program.sequential_memory_plan``: liveness over the launch order);
- constants are uploaded once, when the executable is built;
- inputs given on the host are copied through pinned staging buffers with non-blocking copies;
  inputs already on the device are used as they are (made contiguous and cast if needed);
- every kernel runs through ``triton_jit.launcher(desc)`` in order on a stream the executable
  owns, which first waits for the caller's current stream (so inputs the caller just produced are
  ready); an event recorded after the last launch makes the caller's stream wait in turn, so
  ``run(..., host=False)`` returns device tensors without blocking the host (asynchronous until
  the results are read). Outputs wanted on the host are copied into pinned memory and the host
  waits for that event only.

Under Triton's interpreter (``TRITON_INTERPRET=1``) the same plan runs on CPU torch tensors, with
no streams or pinned memory: how CI exercises this path without a GPU.
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from ...errors import LuminaIndexError, LuminaTypeError
from ...codegen.program import SlotRole, SlotSpec, sequential_memory_plan


def _torch():
    import torch
    return torch


def torch_dtype(dtype: np.dtype):
    """The torch dtype of NumPy dtype ``dtype`` (``ml_dtypes.bfloat16`` -> ``torch.bfloat16``)."""
    torch = _torch()
    dtype = np.dtype(dtype)
    if dtype.name == "bfloat16":
        return torch.bfloat16
    return {"bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16,
            "int32": torch.int32, "int64": torch.int64, "float16": torch.float16,
            "float32": torch.float32, "float64": torch.float64}[dtype.name]


def from_numpy(arr: np.ndarray):
    """A CPU torch tensor sharing ``arr``'s memory where it can (C-contiguous, writable), else a
    copy; bfloat16 goes through its 16-bit pattern (torch cannot read ``ml_dtypes`` arrays)."""
    torch = _torch()
    arr = np.asarray(arr)
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        arr = np.array(arr, order="C", copy=True)
    if arr.dtype.name == "bfloat16":
        return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(arr)


def to_numpy(t) -> np.ndarray:
    """A NumPy array of torch tensor ``t`` (copied to the host if it is on a GPU; shared memory
    if it is already there). Waits for the work that produces ``t`` on the current stream."""
    torch = _torch()
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == torch.bfloat16:
        import ml_dtypes
        return t.contiguous().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.contiguous().numpy()


class CudaKernel:
    """One launch: kernel description ``desc``, the slot of each of its buffers, its launcher."""

    def __init__(self, desc, slots: Sequence[int], launcher):
        self.desc = desc
        self.name = desc.name
        self.slots = tuple(slots)
        self.launcher = launcher


class CudaExecutable:
    """A compiled program on the cuda device (see the module docstring).

    ``run(inputs, host=True)`` takes one array per graph input (NumPy arrays, or torch tensors on
    the device) and returns one per graph output: NumPy arrays where ``host`` says so (True: all,
    or one bool per output), else torch tensors on the device. Raises LuminaTypeError for an
    input of the wrong shape. ``info`` carries the program's IR stages, partition and kernels for
    inspection, like the CPU ``Executable``'s."""

    device = "cuda"

    def __init__(self, slots: list[SlotSpec], input_slots: list[int], output_slots: list[int],
                 output_shapes: list[tuple[int, ...]], kernels: Sequence[tuple], info: dict | None = None):
        from . import jit as triton_jit
        torch = _torch()
        self.slots, self.input_slots, self.output_slots = slots, input_slots, output_slots
        self.output_shapes = output_shapes
        self.info = dict(info or {})
        self.interpreted = triton_jit.interpreting()
        self.torch_device = torch.device("cpu" if self.interpreted else "cuda")
        self.memory_plan = sequential_memory_plan(slots, kernels)
        self.kernels = [CudaKernel(d, s, triton_jit.launcher(d)) for d, s in kernels]
        self.info.setdefault("triton", [k.launcher.source for k in self.kernels])
        self.stream = None if self.interpreted else torch.cuda.Stream()
        self.done = None                      # the event recorded after the last call's launches
        self._staged = None                   # the event after the last call's host-to-device copies
        self._staging: dict[int, object] = {}
        self.arena = torch.empty(self.memory_plan.arena_bytes, dtype=torch.uint8, device=self.torch_device)
        self._fixed: list = [None] * len(slots)
        for i, s in enumerate(slots):
            if s.role is SlotRole.CONST:
                self._fixed[i] = from_numpy(np.ascontiguousarray(s.const, dtype=s.dtype)).to(self.torch_device)
            elif s.role is SlotRole.TEMP:
                offset, n = self.memory_plan.offsets[i], s.nbytes
                self._fixed[i] = self.arena[offset:offset + n].view(torch_dtype(s.dtype)).view(s.shape)
        # index checks: each kernel's status slot is a view of one zeroed int64 tensor, read after
        # the launches (``codegen.kernel.IndexCheck``)
        self._checks = [c for s in slots if s.role is SlotRole.STATUS for c in s.checks]
        self._status = torch.zeros(len(self._checks), dtype=torch.int64, device=self.torch_device) \
            if self._checks else None
        at = 0
        for i, s in enumerate(slots):
            if s.role is SlotRole.STATUS:
                self._fixed[i] = self._status[at:at + len(s.checks)]
                at += len(s.checks)
        self._lock = threading.Lock()

    @property
    def launches(self) -> list[CudaKernel]:
        """The kernels in launch order (each with ``name``, ``desc``, ``slots``, ``launcher``)."""
        return self.kernels

    # ---- inputs ------------------------------------------------------------------------------------
    def _device_input(self, slot: int, x):
        torch = _torch()
        spec = self.slots[slot]
        if isinstance(x, torch.Tensor):
            if tuple(x.shape) != spec.shape:
                raise LuminaTypeError(f"cuda executable: input of shape {tuple(x.shape)}, expected {spec.shape}")
            if x.device != self.torch_device:
                x = x.to(self.torch_device)
            x = x.to(torch_dtype(spec.dtype)).contiguous()
            if self.stream is not None:
                x.record_stream(self.stream)     # made on the caller's stream, read on ours
            return x
        x = np.asarray(x)
        if x.shape != spec.shape:
            raise LuminaTypeError(f"cuda executable: input of shape {x.shape}, expected {spec.shape}")
        x = np.asarray(x, dtype=spec.dtype, order="C")   # (ascontiguousarray makes 0-d 1-d)
        if self.interpreted:
            return from_numpy(x)
        staging = self._staging.get(slot)
        if staging is None:
            staging = self._staging[slot] = torch.empty(spec.shape, dtype=torch_dtype(spec.dtype), pin_memory=True)
        staging.copy_(from_numpy(x))
        return staging.to(self.torch_device, non_blocking=True)

    # ---- running -----------------------------------------------------------------------------------
    def run(self, inputs: Sequence, host: bool | Sequence[bool] = True) -> list:
        """Launch every kernel on ``inputs``; see the class docstring for ``host``."""
        torch = _torch()
        if len(inputs) != len(self.input_slots):
            raise LuminaTypeError(f"cuda executable: {len(inputs)} inputs, expected {len(self.input_slots)}")
        wants_host = [host] * len(self.output_slots) if isinstance(host, bool) else list(host)
        with self._lock:
            if self.interpreted:
                buffers = self._bind(inputs)
                self._launch_all(buffers)
                self._raise_index_error()
                return [to_numpy(o) if h else o for o, h in zip(self._outputs(buffers, wants_host), wants_host)]
            caller = torch.cuda.current_stream()
            self.stream.wait_stream(caller)
            with torch.cuda.stream(self.stream):
                if self._staged is not None:
                    self._staged.synchronize()   # the previous call's copies out of staging are done
                buffers = self._bind(inputs)
                self._staged = torch.cuda.Event()
                self._staged.record(self.stream)
                self._launch_all(buffers)
                outs = self._outputs(buffers, wants_host)
                self.done = torch.cuda.Event()
                self.done.record(self.stream)
                self._raise_index_error()   # waits for the launches when there are index checks
            caller.wait_event(self.done)
            for out, on_host in zip(outs, wants_host):
                if not on_host:
                    out.record_stream(caller)    # the caller's stream uses it from now on
            if any(wants_host):
                self.done.synchronize()
            return [to_numpy(o) if h else o for o, h in zip(outs, wants_host)]

    def _bind(self, inputs) -> list:
        torch = _torch()
        buffers = list(self._fixed)
        for slot, x in zip(self.input_slots, inputs):
            buffers[slot] = self._device_input(slot, x)
        for i, s in enumerate(self.slots):
            if s.role is SlotRole.OUTPUT:
                buffers[i] = torch.empty(s.shape, dtype=torch_dtype(s.dtype), device=self.torch_device)
        return buffers

    def _raise_index_error(self) -> None:
        """Raise LuminaIndexError if an index check of the last launches found an index out of
        range (clearing the statuses first); waits for the stream when there are checks."""
        if self._status is None:
            return
        status = self._status.tolist()   # (waits for the stream)
        if not any(status):
            return
        self._status.zero_()
        found = [c.error(int(v)) for c, v in zip(self._checks, status)]
        raise LuminaIndexError(next(m for m in found if m is not None))

    def _launch_all(self, buffers: list) -> None:
        for k in self.kernels:
            k.launcher([buffers[s].view(-1) for s in k.slots])

    def _outputs(self, buffers: list, wants_host: list[bool]) -> list:
        torch = _torch()
        outs = []
        for slot, shape, on_host in zip(self.output_slots, self.output_shapes, wants_host):
            t = buffers[slot]
            if self.slots[slot].role is not SlotRole.OUTPUT:    # an input, constant or arena view: not ours to hand out
                t = t.clone()
            t = t.view(shape)
            if on_host and not self.interpreted:
                pinned = torch.empty(shape, dtype=t.dtype, pin_memory=True)
                pinned.copy_(t, non_blocking=True)
                t = pinned
            outs.append(t)
        return outs

    def profile(self, inputs: Sequence, repeat: int = 10) -> list[tuple[CudaKernel, float]]:
        """Each kernel with its best time in seconds over ``repeat`` runs on ``inputs``, launched
        one by one in program order: CUDA events around each launch on the GPU, wall time under
        the interpreter."""
        import time
        torch = _torch()
        best = [float("inf")] * len(self.kernels)
        with self._lock:
            if self.interpreted:
                buffers = self._bind(inputs)
                for _ in range(repeat):
                    for i, k in enumerate(self.kernels):
                        t0 = time.perf_counter()
                        k.launcher([buffers[s].view(-1) for s in k.slots])
                        best[i] = min(best[i], time.perf_counter() - t0)
                return list(zip(self.kernels, best))
            with torch.cuda.stream(self.stream):
                buffers = self._bind(inputs)
                for _ in range(repeat):
                    marks = []
                    for k in self.kernels:
                        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                        start.record(self.stream)
                        k.launcher([buffers[s].view(-1) for s in k.slots])
                        end.record(self.stream)
                        marks.append((start, end))
                    self.stream.synchronize()
                    for i, (start, end) in enumerate(marks):
                        best[i] = min(best[i], start.elapsed_time(end) / 1e3)
        return list(zip(self.kernels, best))

    def synchronize(self) -> None:
        """Wait until the last call's kernels have finished."""
        if self.done is not None:
            self.done.synchronize()
