"""The executable plan as one native function: every kernel launch of a step, and the barriers
between them, without returning to Python.

``render_plan`` emits ``void plan(i64* buffers, i64 tid, i64* workspaces)``. Each thread of the pool
calls it with its id ``tid``; it walks the launches in order, calls the kernels its share of the
schedule gives it (an outer-loop chunk of a split launch, or a whole launch) with their arguments
(buffer addresses read from ``buffers[slot]`` plus a byte offset, integer constants, the chunk's
``start``/``end``, the thread's GEMM workspace) and waits at the barriers the schedule placed.

The barrier is a sense-reversing centralized barrier (Mellor-Crummey & Scott 1991, "Algorithms for
scalable synchronization on shared-memory multiprocessors", section 3.1): an atomic arrival count and
a global sense flipped by the last thread to arrive; the others spin on it (x86 ``pause``) for
``SPIN_TICKS`` of the time-stamp counter (elsewhere ``SPIN_LIMIT`` polls, ``Spin``), then sleep
on it with a Linux futex (``FUTEX_WAIT_PRIVATE`` on the sense word; the releaser calls
``FUTEX_WAKE_PRIVATE`` only when a sleeper registered), so that a thread whose partner was
descheduled gives its core away instead of burning it (elsewhere: ``sched_yield``).

Kernels are called through function pointers read from ``buffers`` too: the executable's buffer
table holds, after the slots' addresses, an address table (each kernel function, each epilogue
function and prepacked operand a launch passes: ``launch.AddressArg``). The plan's text and code
then hold no address of this process, so the disk cache keeps them for the next one, and nothing
is compiled twice. A step is described by plain data (see ``PlanStep``); the schedule itself is
the runtime's (``schedule.thread_schedule``).
"""
from __future__ import annotations

import platform
from dataclasses import dataclass

from llvmlite import ir

from .launch import (BufferArg, ChunkBufferArg, IntArg, LaunchArg, RangeArg, TableArg, TableBufferArg, TableTileArg,
                     TileRangeArg, WorkspaceArg)
from .llvm_gemm_ir import intrinsic

I32 = ir.IntType(32)
I64 = ir.IntType(64)
I8P = ir.IntType(8).as_pointer()
SPIN_LIMIT = 2000      # polls before a waiting thread sleeps where there is no time-stamp counter
SPIN_TICKS = 1 << 18   # x86 time-stamp counter ticks (about 100 µs at 2.6 GHz) before it sleeps
FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE = 128, 129
FUTEX_SYSCALL = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98}   # Linux syscall numbers


def host_is_x86() -> bool:
    """Whether this host spins with the x86 ``pause`` instruction."""
    return platform.machine().lower() in ("x86_64", "amd64")


def host_futex() -> int | None:
    """The futex syscall number of this host, or None where there is none (not Linux)."""
    return FUTEX_SYSCALL.get(platform.machine().lower()) if platform.system() == "Linux" else None


@dataclass(frozen=True)
class PlanStep:
    """One launch: call the function whose address is ``buffers[function]`` with ``args`` after a
    barrier if ``barrier``; ``bounds[t]`` is thread ``t``'s ``(start, end)`` chunk or None.
    ``args``: see ``launch`` (no ``AddressArg``: a buffer-table entry instead)."""
    function: int
    args: tuple[LaunchArg, ...]
    barrier: bool
    bounds: tuple[tuple[int, int] | None, ...]


def render_plan(steps: list[PlanStep], n_threads: int, name: str = "plan", x86: bool = True,
                futex: int | None = None, table: int | None = None) -> str:
    """LLVM IR text of a module defining ``void plan(i64* buffers, i64 tid, i64* workspaces)``,
    which calls each step's function through ``buffers[step.function]``. ``x86``: spin with
    ``pause``; ``futex``: the futex syscall number that waiting threads sleep with (None:
    ``sched_yield``). ``table``: the buffer-table entry holding the address of an i64 table from
    which the plan reads every chunk bound (starts, then ends, ``[step][thread]``) and the
    ``Table*Arg`` numbers, instead of holding them as constants: one plan for every size of a
    symbolic program (``sized_plan``)."""
    module = ir.Module(name=name)
    barrier = _emit_barrier(module, n_threads, x86, futex)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64.as_pointer(), I64, I64.as_pointer()]),
                     name="plan")
    buffers, tid, workspaces = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    sense = b.alloca(I32, name="sense")
    b.store(b.load_atomic(module.get_global("barrier_sense"), "acquire", 4), sense)
    ints = None
    if table is None:   # the chunk table: starts/ends[step][thread]; (0, 0) for a thread that skips the step
        chunks = [b_ if b_ is not None else (0, 0) for s in steps for b_ in s.bounds]
        starts = _const_table(module, "starts", [lo for lo, _ in chunks])
        ends = _const_table(module, "ends", [hi for _, hi in chunks])
    else:
        ints = b.inttoptr(b.load(b.gep(buffers, [ir.Constant(I64, table)], inbounds=True)), I64.as_pointer())
    n_chunks = len(steps) * n_threads
    for i, step in enumerate(steps):
        if step.barrier:
            b.call(barrier, [sense])
        slot = b.add(b.mul(ir.Constant(I64, i), ir.Constant(I64, n_threads)), tid)
        if ints is None:
            start = b.load(b.gep(starts, [ir.Constant(I64, 0), slot], inbounds=True))
            end = b.load(b.gep(ends, [ir.Constant(I64, 0), slot], inbounds=True))
        else:
            start = b.load(b.gep(ints, [slot], inbounds=True))
            end = b.load(b.gep(ints, [b.add(slot, ir.Constant(I64, n_chunks))], inbounds=True))
        with b.if_then(b.icmp_signed("<", start, end)):
            args = [_arg(b, a, buffers, workspaces, start, end, ints) for a in step.args]
            kind = ir.FunctionType(ir.VoidType(), [a.type for a in args])
            address = b.load(b.gep(buffers, [ir.Constant(I64, step.function)], inbounds=True))
            b.call(b.inttoptr(address, kind.as_pointer()), args)
    b.ret_void()
    return str(module)


def _arg(b: ir.IRBuilder, arg: LaunchArg, buffers, workspaces, start, end, ints=None):
    """The IR value of one launch argument (``launch.arg_value`` computes the same in Python);
    ``ints``: the plan's integer table (``Table*Arg``)."""
    def table(index):
        return b.load(b.gep(ints, [ir.Constant(I64, index)], inbounds=True))
    if isinstance(arg, TableArg):
        return table(arg.index)
    if isinstance(arg, TableBufferArg):
        address = b.add(b.load(b.gep(buffers, [ir.Constant(I64, arg.slot)], inbounds=True)), table(arg.offset))
        if arg.stride is not None:
            address = b.add(address, b.mul(start, table(arg.stride)))
        return b.inttoptr(address, I8P)
    if isinstance(arg, TableTileArg):
        scaled = b.mul(end if arg.end else start, table(arg.tile))
        limit = table(arg.limit)
        return b.select(b.icmp_signed("<", scaled, limit), scaled, limit)
    if isinstance(arg, BufferArg):
        address = b.load(b.gep(buffers, [ir.Constant(I64, arg.slot)], inbounds=True))
        if arg.offset:
            address = b.add(address, ir.Constant(I64, arg.offset))
        return b.inttoptr(address, I8P)
    if isinstance(arg, WorkspaceArg):
        return b.inttoptr(b.load(b.gep(workspaces, [ir.Constant(I64, arg.index)], inbounds=True)), I8P)
    if isinstance(arg, ChunkBufferArg):   # the chunk's slice of a buffer: base + offset + start * stride
        address = b.load(b.gep(buffers, [ir.Constant(I64, arg.slot)], inbounds=True))
        address = b.add(address, b.add(ir.Constant(I64, arg.offset), b.mul(start, ir.Constant(I64, arg.stride))))
        return b.inttoptr(address, I8P)
    if isinstance(arg, IntArg):
        return ir.Constant(I64, arg.value)
    if isinstance(arg, TileRangeArg):     # min(bound * tile, limit)
        scaled = b.mul(end if arg.end else start, ir.Constant(I64, arg.tile))
        limit = ir.Constant(I64, arg.limit)
        return b.select(b.icmp_signed("<", scaled, limit), scaled, limit)
    if arg is RangeArg.COUNT:
        return b.sub(end, start)
    return start if arg is RangeArg.START else end


def _const_table(module: ir.Module, name: str, values: list[int]) -> ir.GlobalVariable:
    typ = ir.ArrayType(I64, max(1, len(values)))
    g = ir.GlobalVariable(module, typ, name=name)
    g.global_constant = True
    g.linkage = "internal"
    g.initializer = ir.Constant(typ, values or [0])
    return g


def futex_sleep(b: ir.IRBuilder, syscall: ir.Function, futex: int, word, sleepers, value) -> None:
    """Sleep on the i32 ``word`` while it holds ``value`` (FUTEX_WAIT), counted in ``sleepers``
    meanwhile: a waker stores the new value (seq_cst), then wakes only if it sees a sleeper, and
    a sleeper that registered too late finds the new value in the futex call itself."""
    b.atomic_rmw("add", sleepers, ir.Constant(I32, 1), "seq_cst")
    b.call(syscall, [ir.Constant(I64, futex), b.ptrtoint(word, I64), ir.Constant(I64, FUTEX_WAIT_PRIVATE),
                     b.zext(value, I64), ir.Constant(I64, 0)])
    b.atomic_rmw("sub", sleepers, ir.Constant(I32, 1), "seq_cst")


class Spin:
    """A waiting thread's spin budget, started where it is made: on x86 ``SPIN_TICKS`` of the
    time-stamp counter (``llvm.readcyclecounter``), elsewhere ``SPIN_LIMIT`` polls. A budget in
    polls of ``pause`` lasted ~50 µs on Zen 2 but 23 µs on an Intel Xeon, whose ``pause`` is a
    quarter as long: a worker then slept between two calls of a step 30 µs apart, and waking it
    (a futex wake, an idle vCPU brought back) cost 50-100 µs of a 1 x 1024 x 1024 GEMV's 150."""

    def __init__(self, module: ir.Module, b: ir.IRBuilder, x86: bool):
        self.x86 = x86
        if x86:
            self.clock = intrinsic(module, "llvm.readcyclecounter", I64, [])
            self.start = b.call(self.clock, [])
        else:
            self.polls = b.alloca(I64)
            b.store(ir.Constant(I64, 0), self.polls)

    def expired(self, b: ir.IRBuilder) -> ir.Value:
        """Whether the budget is spent (counts one poll where polls are the budget)."""
        if self.x86:
            return b.icmp_unsigned(">", b.sub(b.call(self.clock, []), self.start), ir.Constant(I64, SPIN_TICKS))
        n = b.add(b.load(self.polls), ir.Constant(I64, 1))
        b.store(n, self.polls)
        return b.icmp_unsigned(">", n, ir.Constant(I64, SPIN_LIMIT))


def _emit_barrier(module: ir.Module, n_threads: int, x86: bool, futex: int | None) -> ir.Function:
    def global_(name, typ):
        g = ir.GlobalVariable(module, typ, name=name)
        g.linkage, g.initializer = "internal", ir.Constant(typ, 0)
        return g
    count, sense_g, sleepers = global_("barrier_count", I64), global_("barrier_sense", I32), global_("barrier_sleepers", I32)
    pause = ir.Function(module, ir.FunctionType(ir.VoidType(), []), name="llvm.x86.sse2.pause") if x86 else None
    if futex is None:
        sleep = ir.Function(module, ir.FunctionType(I32, []), name="sched_yield")
    else:
        sleep = ir.Function(module, ir.FunctionType(I64, [I64], var_arg=True), name="syscall")

    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I32.as_pointer()]), name="barrier")
    fn.linkage = "internal"
    (local,) = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    mine = b.xor(b.load(local), ir.Constant(I32, 1))
    b.store(mine, local)
    arrived = b.atomic_rmw("add", count, ir.Constant(I64, 1), "acq_rel")
    last = b.icmp_unsigned("==", arrived, ir.Constant(I64, n_threads - 1))
    release, wait, spin, done = (fn.append_basic_block(n) for n in ("release", "wait", "spin", "done"))
    spin_budget = Spin(module, b, x86)
    b.cbranch(last, release, wait)

    # The last to arrive resets the count, then flips the sense, then wakes any sleeper. The sense
    # store and the sleeper count are sequentially consistent on both sides (a Dekker handshake):
    # either the releaser sees the sleeper, or the sleeper's futex call sees the new sense.
    b.position_at_end(release)
    b.store_atomic(ir.Constant(I64, 0), count, "monotonic", 8)
    b.store_atomic(mine, sense_g, "seq_cst", 4)
    if futex is not None:
        with b.if_then(b.icmp_unsigned("!=", b.load_atomic(sleepers, "seq_cst", 4), ir.Constant(I32, 0))):
            b.call(sleep, [ir.Constant(I64, futex), b.ptrtoint(sense_g, I64),
                           ir.Constant(I64, FUTEX_WAKE_PRIVATE), ir.Constant(I64, n_threads)])
    b.ret_void()

    b.position_at_end(wait)
    b.cbranch(b.icmp_unsigned("==", b.load_atomic(sense_g, "acquire", 4), mine), done, spin)

    b.position_at_end(spin)
    with b.if_else(spin_budget.expired(b)) as (then, otherwise):
        with then:
            if futex is None:
                b.call(sleep, [])
            else:   # sleep while the sense still holds its old value
                futex_sleep(b, sleep, futex, sense_g, sleepers, b.xor(mine, ir.Constant(I32, 1)))
        with otherwise:
            if pause is not None:
                b.call(pause, [])
    b.branch(wait)

    b.position_at_end(done)
    b.ret_void()
    return fn
