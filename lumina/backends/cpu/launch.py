"""A kernel launch of the CPU plan: which native function, with which arguments, over which range.

Every kernel the CPU backend builds is a C-ABI function whose arguments are pointers and 64-bit
integers. A ``Launch`` names them as data, so that the same description drives both the native
plan (``llvm_plan`` emits the argument computations) and the stepwise path (``Launch.call`` computes
them in Python):

    BufferArg(slot, offset)               the slot's data address plus ``offset`` bytes
    ChunkBufferArg(slot, offset, stride)  ... plus ``start * stride`` bytes: a thread's part of a buffer
    IntArg(value)                         an i64 constant
    AddressArg(address)                   an address fixed at build time (an epilogue function, a
                                          prepacked operand): the plan reads it from the
                                          executable's address table, so its code holds none
    WorkspaceArg(index)                   the calling thread's GEMM packing buffer ``index``
    RangeArg.START / END / COUNT          the chunk ``[start, end)`` of the outer loop, or its length
    TileRangeArg(end, tile, limit)        the chunk's start (or end) times ``tile``, at most ``limit``
"""
from __future__ import annotations

import ctypes
import enum
import functools
from dataclasses import dataclass
from typing import Callable, Union


@dataclass(frozen=True)
class BufferArg:
    """A pointer: slot ``slot``'s data address plus ``offset`` bytes."""
    slot: int
    offset: int = 0


@dataclass(frozen=True)
class ChunkBufferArg:
    """A pointer to the chunk's part of a buffer: slot ``slot``'s address plus ``offset + start *
    stride`` bytes (threads that take whole GEMMs of a batch)."""
    slot: int
    offset: int
    stride: int


@dataclass(frozen=True)
class IntArg:
    """An i64 constant."""
    value: int


@dataclass(frozen=True)
class WorkspaceArg:
    """A pointer to the calling thread's workspace ``index`` (a GEMM's packing buffers)."""
    index: int


class RangeArg(enum.Enum):
    """The launch's chunk of its outer loop, as an i64."""
    START = "start"
    END = "end"
    COUNT = "count"     # end - start


@dataclass(frozen=True)
class TileRangeArg:
    """The chunk's start (``end=False``) or end, in units of ``tile`` elements, as an i64 at most
    ``limit``: a launch whose outer loop runs over tiles (a GEMM split over column panels of its
    register tile's width) hands the kernel element bounds that never cut a tile."""
    end: bool
    tile: int
    limit: int


@dataclass(frozen=True)
class AddressArg:
    """An address known when the executable is built, passed as an i64 (see the module docstring)."""
    address: int


@dataclass(frozen=True)
class TableArg:
    """An i64 the native plan reads from its integer table (a symbolic program's plan, whose
    numbers change with the sizes: ``sized_plan``): ``table[index]``."""
    index: int


@dataclass(frozen=True)
class TableBufferArg:
    """A pointer: slot ``slot``'s address plus ``table[offset]`` bytes, plus ``start *
    table[stride]`` when ``stride`` is not None (``ChunkBufferArg``'s form)."""
    slot: int
    offset: int
    stride: int | None = None


@dataclass(frozen=True)
class TableTileArg:
    """``TileRangeArg`` with its tile and limit read from the table: ``min(bound * table[tile],
    table[limit])``."""
    end: bool
    tile: int
    limit: int


LaunchArg = Union[BufferArg, ChunkBufferArg, IntArg, AddressArg, WorkspaceArg, RangeArg, TileRangeArg,
                  TableArg, TableBufferArg, TableTileArg]
POINTER_ARGS = (BufferArg, ChunkBufferArg, WorkspaceArg)


def arg_value(arg: LaunchArg, ptrs, start: int, end: int, workspaces) -> int:
    """The value of one launch argument for chunk ``[start, end)``, as the native plan computes it
    (``llvm_plan``). ``ptrs[slot]``: each slot's data address; ``workspaces[i]``: the thread's."""
    return _getter(arg)(ptrs, start, end, workspaces)


def _getter(arg: LaunchArg) -> Callable:
    """``arg``'s value as a function of ``(ptrs, start, end, workspaces)``: chosen once per
    launch, since the stepwise path calls it for every argument of every launch."""
    if isinstance(arg, BufferArg):
        slot, offset = arg.slot, arg.offset
        return lambda ptrs, start, end, ws: ptrs[slot] + offset
    if isinstance(arg, ChunkBufferArg):
        slot, offset, stride = arg.slot, arg.offset, arg.stride
        return lambda ptrs, start, end, ws: ptrs[slot] + offset + start * stride
    if isinstance(arg, WorkspaceArg):
        index = arg.index
        return lambda ptrs, start, end, ws: int(ws[index])
    if isinstance(arg, (IntArg, AddressArg)):
        value = arg.value if isinstance(arg, IntArg) else arg.address
        return lambda ptrs, start, end, ws: value
    if isinstance(arg, TileRangeArg):
        tile, limit = arg.tile, arg.limit
        if arg.end:
            return lambda ptrs, start, end, ws: min(end * tile, limit)
        return lambda ptrs, start, end, ws: min(start * tile, limit)
    if arg is RangeArg.START:
        return lambda ptrs, start, end, ws: start
    if arg is RangeArg.END:
        return lambda ptrs, start, end, ws: end
    return lambda ptrs, start, end, ws: end - start


@dataclass(frozen=True)
class Launch:
    """One kernel call: the function at ``address`` with ``args`` over ``range(extent)`` of its outer
    loop; it reads slots ``reads`` and writes ``writes``; ``work`` innermost iterations in all, to
    size the thread split; ``source``: the IR lines of the kernel group it computes."""
    name: str
    address: int
    args: tuple[LaunchArg, ...]
    reads: tuple[int, ...]
    writes: tuple[int, ...]
    extent: int
    work: int
    source: tuple = ()

    def call(self, ptrs, start: int, end: int, workspaces) -> None:
        """Run chunk ``[start, end)`` from Python (the stepwise path)."""
        fn, getters = self._callable
        fn(*[get(ptrs, start, end, workspaces) for get in getters])

    @functools.cached_property
    def whole(self) -> Callable[[list, object], None]:
        """``whole(ptrs, workspaces)``: run all of ``range(extent)`` on the calling thread, with
        every argument but the buffer and workspace addresses computed once (the stepwise path of
        a small step, where the per-argument work above would cost more than the kernels)."""
        fn, _ = self._callable
        template, buffers, spaces = [], [], []
        for i, a in enumerate(self.args):
            if isinstance(a, (BufferArg, ChunkBufferArg)):   # chunk [0, extent): no start offset
                buffers.append((i, a.slot, a.offset))
            elif isinstance(a, WorkspaceArg):
                spaces.append((i, a.index))
            template.append(0 if isinstance(a, POINTER_ARGS) else arg_value(a, None, 0, self.extent, None))

        def call(ptrs, workspaces) -> None:
            args = template.copy()
            for i, slot, offset in buffers:
                args[i] = ptrs[slot] + offset
            for i, index in spaces:
                args[i] = int(workspaces[index])
            fn(*args)
        return call

    @functools.cached_property
    def _callable(self) -> tuple[Callable, tuple[Callable, ...]]:
        """The ctypes function and the argument getters, made on the first call."""
        pointers = tuple(isinstance(a, POINTER_ARGS) for a in self.args)
        return _cfunc(self.address, pointers), tuple(_getter(a) for a in self.args)


@functools.lru_cache(maxsize=4096)   # bounded: every executable built brings new addresses
def _cfunc(address: int, pointer_args: tuple[bool, ...]) -> Callable:
    types = [ctypes.c_void_p if p else ctypes.c_int64 for p in pointer_args]
    return ctypes.CFUNCTYPE(None, *types)(address)
