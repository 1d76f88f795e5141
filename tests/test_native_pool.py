"""The native thread pool (``lumina.backends.cpu.native_pool``): every thread id runs each job
exactly once, jobs from several Python threads never mix, and sleeping workers wake up."""
from __future__ import annotations

import ctypes
import threading
import time

import numpy as np
import pytest

from lumina.backends.cpu.jit import compile_llvm
from lumina.backends.cpu.llvm_plan import host_futex
from lumina.backends.cpu.native_pool import NativePool, bind_cpus, native_pool

pytestmark = pytest.mark.skipif(host_futex() is None, reason="the native pool is Linux-only (futex); "
                                                               "elsewhere plans go to the Python pool")

# plan(buffers, tid, workspaces): buffers[tid] += tid + 1, and the workspace table's first entry
# goes to buffers[8 + tid] (so the test sees which table each thread id was given)
_PLAN = """
define void @plan(i64 %buffers, i64 %tid, i64 %workspaces) {
  %base = inttoptr i64 %buffers to ptr
  %slot = getelementptr i64, ptr %base, i64 %tid
  %old = load i64, ptr %slot
  %add = add i64 %tid, 1
  %new = add i64 %old, %add
  store i64 %new, ptr %slot
  %table = inttoptr i64 %workspaces to ptr
  %first = load i64, ptr %table
  %at = add i64 %tid, 8
  %ws_slot = getelementptr i64, ptr %base, i64 %at
  store i64 %first, ptr %ws_slot
  ret void
}
"""


# plan(buffers, tid, workspaces): buffers[tid] = the CPU thread id ``tid`` runs on
_CPU_PLAN = """
declare i32 @sched_getcpu()
define void @plan(i64 %buffers, i64 %tid, i64 %workspaces) {
  %base = inttoptr i64 %buffers to ptr
  %slot = getelementptr i64, ptr %base, i64 %tid
  %cpu = call i32 @sched_getcpu()
  %wide = sext i32 %cpu to i64
  store i64 %wide, ptr %slot
  ret void
}
"""


@pytest.fixture(scope="module")
def plan():
    module = compile_llvm(_PLAN, "pool_test_plan")
    return module, module.address("plan")


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_every_thread_id_runs_each_job_once(plan, threads):
    pool = native_pool(4)
    counts = np.zeros(16, np.int64)
    sizes = ((np.dtype(np.float32), 16),)
    for _ in range(200):
        pool.run(plan[1], counts.ctypes.data, sizes, threads)
    expect = np.zeros(8, np.int64)
    expect[:threads] = 200 * np.arange(1, threads + 1)
    np.testing.assert_array_equal(counts[:8], expect)
    tables = pool.tables(sizes)
    firsts = [ctypes.c_int64.from_address(int(t)).value for t in tables[:threads]]
    np.testing.assert_array_equal(counts[8:8 + threads], firsts)   # thread id t got table t
    assert len(set(firsts)) == threads                               # no two share a workspace


def test_jobs_from_several_python_threads_do_not_mix(plan):
    pool = native_pool(2)
    results, errors = [], []

    def work():
        try:
            counts = np.zeros(16, np.int64)
            for _ in range(300):
                pool.run(plan[1], counts.ctypes.data, (), 2)
            results.append(counts[:2].copy())
        except Exception as exc:   # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for counts in results:
        np.testing.assert_array_equal(counts, [300, 600])


def test_sleeping_workers_wake_for_the_next_job(plan):
    """After an idle pause (workers asleep on the futex) a job still runs on every thread id."""
    pool = NativePool(2)
    counts = np.zeros(16, np.int64)
    for _ in range(3):
        time.sleep(0.05)
        pool.run(plan[1], counts.ctypes.data, (), 3)
    np.testing.assert_array_equal(counts[:3], [3, 6, 9])


def test_a_job_right_after_the_start_runs_on_every_thread(plan):
    """Workers that start after the first job was published still run it (they wait for the
    generation after the pool's first, not for whatever they find when they start)."""
    for _ in range(4):
        pool = NativePool(2)
        counts = np.zeros(16, np.int64)
        pool.run(plan[1], counts.ctypes.data, (), 3)
        np.testing.assert_array_equal(counts[:3], [1, 2, 3])


def test_a_forked_child_runs_multithreaded_plans():
    """After a fork (a DataLoader worker) the child has none of the parent's worker threads: its
    two-thread plans run on a pool of its own instead of waiting forever."""
    import os
    import lumina
    x = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    f = lumina.compile(lambda a: (a @ a).sum())
    expect = float(f(x).item())                 # the parent's pool is started
    assert f.lower(x).executable.plan_threads == min(2, os.cpu_count() or 1) or os.cpu_count() == 1
    pid = os.fork()
    if pid == 0:   # the child: exit 0 only if the plan ran and agreed
        try:
            ok = abs(float(f(x).item()) - expect) <= 1e-3 * abs(expect)
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's compiled call did not finish within 60 s")


@pytest.mark.skipif(bind_cpus(2) is None, reason="this process may run on one CPU only, so nothing binds")
def test_threads_run_on_their_bound_cpus_and_the_caller_gets_its_mask_back():
    """Worker t runs every job on the t-th allowed CPU; the caller (thread 0) never shares a
    worker's CPU (it runs a job it started on one on the first allowed CPU), and its own CPU mask
    is what it was once the job ends."""
    import os
    module = compile_llvm(_CPU_PLAN, "pool_cpu_plan")
    pool = NativePool(1)
    before = os.sched_getaffinity(0)
    cpus = np.full(4, -1, np.int64)
    for _ in range(20):
        pool.run(module.address("plan"), cpus.ctypes.data, (), 2)
        assert list(cpus[:2]) == bind_cpus(2)
    assert os.sched_getaffinity(0) == before


def test_binding_needs_enough_cpus_and_can_be_turned_off(monkeypatch):
    import os
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 2, 9})
    assert bind_cpus(3) == [2, 5, 9]
    assert bind_cpus(2) == [2, 5]
    assert bind_cpus(4) is None                      # more threads than CPUs: they share anyway
    monkeypatch.setenv("LUMINA_BIND_THREADS", "0")
    assert bind_cpus(2) is None
