"""A native thread pool for the plan functions: worker pthreads that never touch Python.

Handing a plan to Python worker threads costs about 40 µs (a queue put, then the worker must take
the GIL before its ctypes call can drop it again), which is more than a small model's whole step.
Here the workers are pthreads running LLVM-compiled code: each waits for a new job generation,
calls the job's plan function with its thread id, and counts itself done; the caller runs thread
0 itself and waits for the count to reach zero. A hand-off costs a few microseconds.

    pool = native_pool(n)                 # n - 1 workers, started once per process
    pool.run(plan_address, buffers_address, workspace_tables, n)
    job = pool.job(plan_address, buffers_address, workspace_tables, n)   # or, for many calls:
    pool.start(job.ctypes.data)

Waiting follows the plan's barrier (``llvm_plan``): spin with ``pause`` (``llvm_plan.Spin``), then
sleep on a Linux futex, so an idle pool costs no CPU and a step that follows another within tens
of microseconds finds the workers awake. The job generation and the pending count are each a
futex word; a sleeper registers in a counter before it sleeps, and the waker checks that counter
after its sequentially consistent store (a Dekker handshake: either the waker sees the sleeper,
or the sleeper's futex call sees the new value). Linux only (``llvm_plan.host_futex``); elsewhere
the executable hands plans to the Python pool (``threads.run_on_threads``).

Threads are bound to CPUs (``bind_cpus``) where the process may run on at least as many CPUs as the
pool has threads, as OpenMP binds its threads with ``OMP_PROC_BIND``: worker ``t`` to the ``t``-th
allowed CPU for its life. The caller stays where it is unless it finds itself on a worker's CPU:
then it binds itself to the first allowed CPU for that job and gets its own mask back after (three
system calls, about 10 µs, paid only then). Without binding Linux often woke a worker on the
caller's CPU and left both there, so the two halves of a job ran one after the other: a
128x768x512 GEMM on a 2-core KVM guest took 0.57-0.60 ms (the worker's share starting when the
caller's ended) in most rounds of 30 calls instead of 0.26-0.30 ms. ``LUMINA_BIND_THREADS=0``
leaves placement to the kernel.

One job at a time: ``run`` holds a lock, and each worker's GEMM workspaces (``workspace_tables``)
belong to the pool's thread ids.
"""
from __future__ import annotations

import ctypes
import functools
import os
import threading

import numpy as np
from llvmlite import ir

from .llvm_plan import FUTEX_WAKE_PRIVATE, Spin, futex_sleep, host_futex, host_is_x86

__all__ = ["NativePool", "native_pool", "bind_cpus"]

MASK_BYTES = 128   # a glibc cpu_set_t: CPUs 0..1023

I32, I64 = ir.IntType(32), ir.IntType(64)
I8P = ir.IntType(8).as_pointer()
_PLAN = ir.FunctionType(ir.VoidType(), [I64, I64, I64]).as_pointer()   # plan(buffers, tid, workspaces)


def render_pool(futex: int, x86: bool) -> str:
    """LLVM IR of ``i8* pool_worker(i8* tid)`` and ``void pool_run(i64* job)`` (``job``: the plan's
    address, its buffers' address, ``tables`` and the thread count n; ``tables``: the address of
    n workspace-table addresses, one per thread id), and the global
    ``cpu_masks``: 0, or the address of ``MASK_BYTES`` CPU masks: the workers' CPUs together, then
    one per thread id; where set, each worker binds itself to its mask, and the caller to thread
    0's for a job it finds itself on a worker's CPU at the start of."""
    module = ir.Module(name="lumina_pool")

    def global_(name, typ):
        g = ir.GlobalVariable(module, typ, name=name)
        g.linkage, g.initializer = "internal", ir.Constant(typ, 0)
        return g
    gen, gen_sleepers = global_("generation", I32), global_("generation_sleepers", I32)
    pending, pending_sleepers = global_("pending", I32), global_("pending_sleepers", I32)
    job = {name: global_(f"job_{name}", I64) for name in ("plan", "buffers", "tables", "threads")}
    masks = global_("cpu_masks", I64)
    masks.linkage = ""   # an exported definition: Python sets it before the workers start
    saved = ir.GlobalVariable(module, ir.ArrayType(ir.IntType(8), MASK_BYTES), name="caller_mask")
    saved.linkage, saved.initializer = "internal", ir.Constant(saved.type.pointee, None)
    getcpu = ir.Function(module, ir.FunctionType(I32, []), name="sched_getcpu")
    syscall = ir.Function(module, ir.FunctionType(I64, [I64], var_arg=True), name="syscall")
    affinity = {name: ir.Function(module, ir.FunctionType(I32, [I32, I64, I8P]), name=f"sched_{name}affinity")
                for name in ("get", "set")}

    def mask(b, slot):
        return b.inttoptr(b.add(b.load(masks), b.mul(slot, ir.Constant(I64, MASK_BYTES))), I8P)

    def affine(b, name, at):
        b.call(affinity[name], [ir.Constant(I32, 0), ir.Constant(I64, MASK_BYTES), at])

    def on_worker_cpu(b):
        """Whether masks are set and this thread runs on a CPU of slot 0's (the workers')."""
        result = b.alloca(ir.IntType(1))
        b.store(ir.Constant(ir.IntType(1), 0), result)
        with b.if_then(b.icmp_unsigned("!=", b.load(masks), ir.Constant(I64, 0))):
            cpu = b.zext(b.call(getcpu, []), I64)   # -1 (an error) becomes too large to test
            with b.if_then(b.icmp_unsigned("<", cpu, ir.Constant(I64, 8 * MASK_BYTES))):
                byte = b.load(b.gep(mask(b, ir.Constant(I64, 0)), [b.lshr(cpu, ir.Constant(I64, 3))]))
                bit = b.and_(b.lshr(byte, b.trunc(b.and_(cpu, ir.Constant(I64, 7)), ir.IntType(8))),
                             ir.Constant(ir.IntType(8), 1))
                b.store(b.trunc(bit, ir.IntType(1)), result)
        return b.load(result)
    pause = ir.Function(module, ir.FunctionType(ir.VoidType(), []), name="llvm.x86.sse2.pause") if x86 else None

    def wake(b, word, count):
        b.call(syscall, [ir.Constant(I64, futex), b.ptrtoint(word, I64), ir.Constant(I64, FUTEX_WAKE_PRIVATE),
                         ir.Constant(I64, count)])

    def wait_while(fn, b, word, sleepers, holds):
        """Spin, then sleep, while ``holds(value of word)``; leaves ``b`` after the wait."""
        budget = Spin(module, b, x86)
        check, spin, done = (fn.append_basic_block(n) for n in ("check", "spin", "done"))
        b.branch(check)
        b.position_at_end(check)
        value = b.load_atomic(word, "acquire", 4)
        b.cbranch(holds(b, value), spin, done)
        b.position_at_end(spin)
        with b.if_else(budget.expired(b)) as (sleep, poll):
            with sleep:   # sleep while the word still holds the value just seen
                futex_sleep(b, syscall, futex, word, sleepers, value)
            with poll:
                if pause is not None:
                    b.call(pause, [])
        b.branch(check)
        b.position_at_end(done)

    def call_plan(b, tid):
        plan = b.inttoptr(b.load(job["plan"]), _PLAN)
        tables = b.inttoptr(b.load(job["tables"]), I64.as_pointer())
        b.call(plan, [b.load(job["buffers"]), tid, b.load(b.gep(tables, [tid], inbounds=True))])

    # the worker: wait for a new generation, run its part of the job, count itself done
    worker = ir.Function(module, ir.FunctionType(I8P, [I8P]), name="pool_worker")
    b = ir.IRBuilder(worker.append_basic_block("entry"))
    tid = b.ptrtoint(worker.args[0], I64)
    with b.if_then(b.icmp_unsigned("!=", b.load(masks), ir.Constant(I64, 0))):
        affine(b, "set", mask(b, b.add(tid, ir.Constant(I64, 1))))
    seen = b.alloca(I32)
    b.store(ir.Constant(I32, 0), seen)   # the generation before the first job, however late this thread starts
    loop = worker.append_basic_block("loop")
    b.branch(loop)
    b.position_at_end(loop)
    wait_while(worker, b, gen, gen_sleepers, lambda b, v: b.icmp_unsigned("==", v, b.load(seen)))
    b.store(b.load_atomic(gen, "acquire", 4), seen)
    with b.if_then(b.icmp_signed("<", tid, b.load(job["threads"]))):
        call_plan(b, tid)
        left = b.atomic_rmw("sub", pending, ir.Constant(I32, 1), "seq_cst")
        with b.if_then(b.and_(b.icmp_unsigned("==", left, ir.Constant(I32, 1)),
                              b.icmp_unsigned("!=", b.load_atomic(pending_sleepers, "seq_cst", 4), ir.Constant(I32, 0)))):
            wake(b, pending, 1)
    b.branch(loop)

    # the caller: publish the job, wake the workers, run thread 0, wait for the others
    run = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64.as_pointer()]), name="pool_run")
    b = ir.IRBuilder(run.append_basic_block("entry"))
    plan, buffers, tables, n = (b.load(b.gep(run.args[0], [ir.Constant(I64, i)], inbounds=True)) for i in range(4))
    moved = on_worker_cpu(b)
    with b.if_then(moved):   # keep the caller's own mask, then bind it as thread 0
        affine(b, "get", b.bitcast(saved, I8P))
        affine(b, "set", mask(b, ir.Constant(I64, 1)))
    for name, value in (("plan", plan), ("buffers", buffers), ("tables", tables), ("threads", n)):
        b.store(value, job[name])
    b.store_atomic(b.trunc(b.sub(n, ir.Constant(I64, 1)), I32), pending, "seq_cst", 4)
    b.atomic_rmw("add", gen, ir.Constant(I32, 1), "seq_cst")
    with b.if_then(b.icmp_unsigned("!=", b.load_atomic(gen_sleepers, "seq_cst", 4), ir.Constant(I32, 0))):
        wake(b, gen, 1 << 30)
    call_plan(b, ir.Constant(I64, 0))
    wait_while(run, b, pending, pending_sleepers, lambda b, v: b.icmp_unsigned("!=", v, ir.Constant(I32, 0)))
    with b.if_then(moved):
        affine(b, "set", b.bitcast(saved, I8P))
    b.ret_void()
    return str(module)


_STARTED: list = []
"""Every pool ever started: its workers never exit, so its code and globals must never be freed
(a freed module's memory taken by the next pool's would hand the old workers the new pool's jobs)."""


class NativePool:
    """``workers`` pthreads running ``pool_worker`` (thread ids 1..workers); ``run`` hands them a
    plan. The pool lives as long as the process (``_STARTED``)."""

    def __init__(self, workers: int):
        from .jit import compile_llvm
        self.module = compile_llvm(render_pool(host_futex(), host_is_x86()), "lumina_pool", opt_level=2)
        self.workers = workers
        self._run = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(self.module.address("pool_run"))
        self._lock = threading.Lock()
        self._tables: dict = {}
        libc = ctypes.CDLL(None)
        libc.pthread_create.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        libc.pthread_detach.argtypes = [ctypes.c_ulong]
        entry = self.module.address("pool_worker")
        cpus = bind_cpus(workers + 1)
        if cpus is not None:
            self._masks = np.zeros((workers + 2, MASK_BYTES), np.uint8)
            for tid, cpu in enumerate(cpus):
                self._masks[tid + 1, cpu // 8] = 1 << (cpu % 8)
            self._masks[0] = np.bitwise_or.reduce(self._masks[2:], axis=0)   # the workers' CPUs
            ctypes.c_int64.from_address(self.module.global_address("cpu_masks")).value = self._masks.ctypes.data
        _STARTED.append(self)
        for tid in range(1, workers + 1):
            handle = ctypes.c_ulong()
            if libc.pthread_create(ctypes.byref(handle), None, entry, ctypes.c_void_p(tid)) != 0:
                raise OSError(f"pthread_create failed for the native pool's worker {tid}")
            libc.pthread_detach(handle.value)

    def tables(self, sizes: tuple) -> np.ndarray:
        """The address of every thread id's workspace table for GEMM workspaces ``sizes`` (the
        ``executable.workspace_table`` layout), owned by the pool."""
        found = self._tables.get(sizes)
        if found is None:
            arrays = [[np.empty(max(1, n), dt) for dt, n in sizes] for _ in range(self.workers + 1)]
            tables = [np.array([a.ctypes.data for a in per] or [0], dtype=np.int64) for per in arrays]
            found = (np.array([t.ctypes.data for t in tables], dtype=np.int64), tables, arrays)
            self._tables[sizes] = found
        return found[0]

    def job(self, plan: int, buffers: int, sizes: tuple, n: int) -> np.ndarray:
        """The job that runs ``plan(buffers, tid, workspaces[tid])`` for tid < ``n`` (at most
        workers + 1) with the workspace tables of ``sizes`` (``tables``), for ``start``: four int64
        the caller keeps, made once for a plan called many times."""
        return np.array([plan, buffers, self.tables(sizes).ctypes.data, n], dtype=np.int64)

    def start(self, job_address: int) -> None:
        """Run the ``job`` at ``job_address``, thread 0 on the calling thread; return when all are
        done (one native call: about 0.2 µs of Python)."""
        with self._lock:
            self._run(job_address)

    def run(self, plan: int, buffers: int, sizes: tuple, n: int) -> None:
        """``start`` a ``job`` made for this call only."""
        job = self.job(plan, buffers, sizes, n)
        self.start(job.ctypes.data)


def bind_cpus(threads: int) -> list[int] | None:
    """The CPU each of ``threads`` thread ids binds to (thread 0: the caller, during a job): the
    first ``threads`` CPUs this process may run on; None (no binding) where it may run on fewer
    (the threads would share CPUs anyway), where a CPU number does not fit a ``MASK_BYTES`` mask,
    or where ``LUMINA_BIND_THREADS=0``."""
    if os.environ.get("LUMINA_BIND_THREADS", "1").strip() == "0" or not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < threads or allowed[threads - 1] >= 8 * MASK_BYTES:
        return None
    return allowed[:threads]


@functools.cache
def native_pool(threads: int) -> NativePool | None:
    """The process's native pool for ``threads`` threads (``threads - 1`` workers), or None where
    there is none (no futex: not Linux). A forked child starts its own on first use: only the
    forking thread survives a fork, so the parent's workers are not there to run a job."""
    if host_futex() is None or threads < 2:
        return None
    return NativePool(threads - 1)


os.register_at_fork(after_in_child=native_pool.cache_clear)
