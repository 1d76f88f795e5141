"""The runtime: the static thread schedule (who runs which launch, where the barriers go) and the
native plan that executes it, checked against NumPy and against the stepwise Python path."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import lumina
from lumina.backends.cpu import threads
from lumina.backends.cpu.launch import ChunkBufferArg
from lumina.schedule.thread_schedule import schedule


@dataclass
class FakeLaunch:
    reads: tuple
    writes: tuple
    extent: int = 1
    work: int = 1


BIG = threads.PARALLEL_MIN_WORK * 4


def test_independent_small_launches_share_the_threads_without_barriers():
    launches = [FakeLaunch((0,), (1,)), FakeLaunch((0,), (2,)), FakeLaunch((0,), (3,)), FakeLaunch((0,), (4,))]
    steps = schedule(launches, 2)
    assert [s.threads() for s in steps] == [[0], [1], [0], [1]]
    assert not any(s.barrier for s in steps)


def test_a_dependent_launch_follows_its_producer_without_a_barrier():
    launches = [FakeLaunch((0,), (1,)), FakeLaunch((0,), (2,)), FakeLaunch((2,), (3,))]
    steps = schedule(launches, 2)
    assert steps[2].threads() == steps[1].threads()
    assert not steps[2].barrier


def test_barriers_where_threads_would_race():
    launches = [
        FakeLaunch((0,), (1,), extent=64, work=BIG),   # split over both threads
        FakeLaunch((1,), (2,)),                         # reads what both wrote: barrier
        FakeLaunch((0,), (3,)),                         # independent: no barrier
        FakeLaunch((2, 3), (4,)),                       # reads from two threads: barrier
        FakeLaunch((0,), (1,)),                         # overwrites slot 1 that step 1 read: no
    ]                                                   # barrier needed after the last one
    steps = schedule(launches, 2)
    assert [s.barrier for s in steps] == [False, True, False, True, False]
    assert steps[0].bounds == ((0, 32), (32, 64))


def test_write_after_read_needs_a_barrier():
    launches = [FakeLaunch((1,), (2,)), FakeLaunch((0,), (3,)), FakeLaunch((0,), (1,), extent=64, work=BIG)]
    steps = schedule(launches, 2)
    assert steps[2].barrier


def test_one_thread_never_waits():
    launches = [FakeLaunch((0,), (1,), extent=64, work=BIG), FakeLaunch((1,), (2,))]
    steps = schedule(launches, 1)
    assert not any(s.barrier for s in steps)
    assert steps[0].bounds == ((0, 64),)


@pytest.mark.parametrize("n_threads", ["1", "2", "4"])
def test_native_plan_matches_numpy_and_the_stepwise_path(monkeypatch, n_threads):
    """A training-like graph with split GEMMs, reductions and many small independent kernels."""
    monkeypatch.setenv("LUMINA_NUM_THREADS", n_threads)
    threads.num_threads.cache_clear()
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((256, 300)).astype(np.float32)
        ws = [rng.standard_normal((300, 300)).astype(np.float32) for _ in range(3)]
        biases = [rng.standard_normal(300).astype(np.float32) for _ in range(6)]

        def fn(x, w0, w1, w2, *bs):
            h = x
            for w in (w0, w1, w2):
                h = (h @ w).tanh()
            small = [(b * 2.0 + 1.0).exp().sum() for b in bs]
            return h.sum(0), lumina.stack(small)

        compiled = lumina.compile(fn)
        got = [o.numpy() for o in compiled(x, *ws, *biases)]
        h = x.astype(np.float64)
        for w in ws:
            h = np.tanh(h @ w)
        np.testing.assert_allclose(got[0], h.sum(0), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(got[1], [np.exp(b.astype(np.float64) * 2 + 1).sum() for b in biases], rtol=1e-5)
        exe = compiled.lower(x, *ws, *biases).executable
        inputs = [x, *ws, *biases]
        stepwise = exe.run(inputs, stepwise=True)
        for _ in range(20):   # repeated runs: the barrier's sense must stay consistent across calls
            for a, b in zip(exe.run(inputs), stepwise):
                np.testing.assert_array_equal(a, b)
        assert exe.plan_threads == min(int(n_threads), threads.num_threads())
    finally:
        threads.num_threads.cache_clear()


@pytest.mark.parametrize("n_threads", ["1", "2"])
def test_a_batched_gemm_split_over_its_batch_matches_numpy(monkeypatch, n_threads):
    """128 attention-sized GEMMs (threads take whole batch entries), one operand broadcast over
    the batch and one read through a transposed view."""
    monkeypatch.setenv("LUMINA_NUM_THREADS", n_threads)
    threads.num_threads.cache_clear()
    try:
        rng = np.random.default_rng(1)
        q = rng.standard_normal((128, 64, 32)).astype(np.float32)
        k = rng.standard_normal((128, 64, 32)).astype(np.float32)
        w = rng.standard_normal((32, 48)).astype(np.float32)
        f = lumina.compile(lambda q, k, w: (q @ k.transpose(1, 2), q @ w))
        exe = f.lower(q, k, w).executable
        want = (q.astype(np.float64) @ k.transpose(0, 2, 1), q.astype(np.float64) @ w)
        for got in ([o.numpy() for o in f(q, k, w)], exe.run([q, k, w], stepwise=True)):
            for g, x in zip(got, want):
                np.testing.assert_allclose(g, x, rtol=1e-4, atol=1e-4)
        assert any(isinstance(a, ChunkBufferArg) for launch in exe.launches for a in launch.args)
    finally:
        threads.num_threads.cache_clear()
