"""Liveness-based memory planning (``schedule.memory``) and the runtime's one arena per executable.

The 20-layer MLP (width 1024, batch 64) of issue 5: its inference graph's arena is at most half
the naive sum of its intermediates and within 5% of the liveness lower bound, its training step
(forward, backward, SGD) within 10%; the arena the runtime allocates has exactly the planned size;
and the results are NumPy's forward and torch's SGD step. A hypothesis property checks the planner
itself on random lifetimes: buffers live at the same time never overlap, and no arena beats the
lower bound.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lumina
from lumina.schedule import memory
from lumina.schedule.thread_schedule import Step, horizons

LAYERS, WIDTH, BATCH = 20, 1024, 64


def _weights(seed: int = 0):
    rng = np.random.default_rng(seed)
    ws = [(rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32) for _ in range(LAYERS)]
    bs = [(rng.standard_normal(WIDTH) * 0.1).astype(np.float32) for _ in range(LAYERS)]
    x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    return x, ws, bs


def _mlp(lib, h, ws, bs):
    """``LAYERS`` dense layers, ReLU between them (``lib``: numpy-like module ops via methods)."""
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w + b
        if i < LAYERS - 1:
            h = lib.maximum(h, 0) if lib is np else h.relu()
    return h


def test_mlp_inference_arena():
    x, ws, bs = _weights()

    @lumina.compile
    def forward(x, *params):
        return _mlp(lumina, x, params[:LAYERS], params[LAYERS:])

    args = (x, *ws, *bs)
    out = forward(*args).numpy()
    np.testing.assert_allclose(out, _mlp(np, x.astype(np.float64), ws, bs), rtol=1e-4, atol=1e-4)

    lowered = forward.lower(*args)
    plan = lowered.memory_plan()
    assert plan.arena_bytes <= 0.5 * plan.naive_bytes, plan.summary()
    assert plan.lower_bound_bytes <= plan.arena_bytes <= 1.05 * plan.lower_bound_bytes, plan.summary()
    assert lowered.executable.arena.nbytes == plan.arena_bytes
    assert lowered.executable.arena.ctypes.data % memory.ALIGNMENT == 0
    # every activation is an intermediate: [64, 1024] f32 at least 19 times over
    assert plan.naive_bytes >= (LAYERS - 1) * BATCH * WIDTH * 4
    # the arena is reused across calls: a second call on other data gives NumPy's answer again
    x2 = np.random.default_rng(5).standard_normal((BATCH, WIDTH)).astype(np.float32)
    np.testing.assert_allclose(forward(x2, *ws, *bs).numpy(), _mlp(np, x2.astype(np.float64), ws, bs),
                               rtol=1e-4, atol=1e-4)
    assert plan.summary() in plan.describe()


def test_mlp_training_step_arena_and_torch():
    x, ws, bs = _weights(1)
    y = np.random.default_rng(2).standard_normal((BATCH, WIDTH)).astype(np.float32)
    lr = 0.1

    layers = []
    for i in range(LAYERS):
        layers.append(lumina.nn.Linear(WIDTH, WIDTH))
        if i < LAYERS - 1:
            layers.append(lumina.nn.ReLU())
    model = lumina.nn.Sequential(*layers)
    model.load_state_dict({f"{2 * i}.{k}": v for i, (w, b) in enumerate(zip(ws, bs))
                           for k, v in (("weight", w.T.copy()), ("bias", b))})
    opt = lumina.optim.SGD(model.parameters(), lr=lr)

    @lumina.compile
    def step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    loss = step(x, y).item()

    tlayers = []
    for i in range(LAYERS):
        lin = torch.nn.Linear(WIDTH, WIDTH)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(ws[i].T.copy()))
            lin.bias.copy_(torch.from_numpy(bs[i]))
        tlayers += [lin] + ([torch.nn.ReLU()] if i < LAYERS - 1 else [])
    tmodel = torch.nn.Sequential(*tlayers)
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
    tloss = ((tmodel(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
    tloss.backward()
    topt.step()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-4)
    got = model.state_dict()
    for k, v in tmodel.state_dict().items():
        np.testing.assert_allclose(got[k], v.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)

    lowered = step.lower(x, y)
    plan = lowered.memory_plan()
    assert plan.lower_bound_bytes <= plan.arena_bytes <= 1.10 * plan.lower_bound_bytes, plan.summary()
    assert lowered.executable.arena.nbytes == plan.arena_bytes
    # the forward activations are all live at the start of the backward pass
    assert plan.lower_bound_bytes >= (LAYERS - 1) * BATCH * WIDTH * 4


def test_inplace_elementwise_chain():
    """Elementwise kernels over [256, 1024] whose results have two readers each (so each is its
    own buffer): a kernel that consumes the previous result writes over it, in place."""
    x = np.random.default_rng(3).standard_normal((256, 1024)).astype(np.float32)

    @lumina.compile
    def f(x):
        a = (x * 2).exp()
        b = (a + a.sin()).tanh()        # a has two readers, exp is expensive: a is its own buffer
        c = (b + b.cos()).exp()
        return c.sum()

    a = np.exp(x.astype(np.float64) * 2)
    b = np.tanh(a + np.sin(a))
    want = np.exp(b + np.cos(b)).sum()
    np.testing.assert_allclose(f(x).item(), want, rtol=1e-4)
    plan = f.lower(x).memory_plan()
    assert plan.inplace, plan.describe()
    for out, src in plan.inplace.items():
        assert plan.offsets[out] == plan.offsets[src]
        assert plan.sizes[out] == plan.sizes[src] == 256 * 1024 * 4
    assert plan.arena_bytes < plan.naive_bytes


def test_inplace_refused_when_input_lives_on():
    # kernel 0 writes 1; kernel 1 reads 1, writes 2 (in-place candidate); kernel 2 reads 1 again
    kernels = [((), (1,)), ((1,), (2,)), ((1, 2), (3,))]
    sizes = {1: 4096, 2: 4096, 3: 4096}
    plan = memory.plan(kernels, sizes, inplace=[(1, 1, 2)])
    assert plan.inplace == {}
    assert plan.offsets[1] != plan.offsets[2]
    # without the third reader the output takes the input's memory
    plan = memory.plan([((), (1,)), ((1,), (2,)), ((2,), (3,))], sizes, inplace=[(1, 1, 2)])
    assert plan.inplace == {2: 1} and plan.offsets[2] == plan.offsets[1]
    assert plan.lower_bound_bytes == plan.arena_bytes == 2 * 4096


def test_inplace_refused_when_a_concurrent_reader_may_still_run():
    # kernel 1 (thread 1) and kernel 2 (thread 0) both read buffer 1 with no barrier between:
    # kernel 2 must not write over buffer 1 while kernel 1 may still read it
    steps = [Step(0, False, ((0, 1), None)), Step(1, False, (None, (0, 1))), Step(2, False, ((0, 1), None))]
    hz = horizons(steps)
    assert hz == [1, 2, 2]
    kernels = [((), (1,)), ((1,), (4,)), ((1,), (2,))]
    sizes = {1: 256, 2: 256, 4: 256}
    plan = memory.plan(kernels, sizes, horizon=hz, inplace=[(2, 1, 2)])
    assert plan.inplace == {}
    assert len({plan.offsets[b] for b in sizes}) == 3


def test_horizons_follow_barriers_and_threads():
    one, two, both = ((0, 1), None), (None, (0, 1)), ((0, 1), (1, 2))
    steps = [Step(0, False, one), Step(1, False, two), Step(2, False, one),
             Step(3, True, both), Step(4, False, one), Step(5, False, one)]
    # 0 runs beside 1; 1 beside 2; the split step 3's second chunk beside 4 and 5; 4 before 5
    assert horizons(steps) == [1, 2, 2, 5, 4, 5]
    assert horizons([Step(i, False, one) for i in range(4)]) == [0, 1, 2, 3]


def test_bad_plans_are_refused():
    with pytest.raises(memory.LuminaMemoryError, match="never touched"):
        memory.plan([((), (1,))], {1: 64, 2: 64})
    with pytest.raises(memory.LuminaMemoryError, match="negative size"):
        memory.assign_offsets({1: -1}, {1: (0, 0)})
    with pytest.raises(memory.LuminaMemoryError, match="empty interval"):
        memory.assign_offsets({1: 8}, {1: (3, 2)})
    with pytest.raises(lumina.LuminaError):
        memory.live_intervals([((1,), ())], {1}, horizon=[-1])


_intervals = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12), st.integers(0, 5000)),
                      min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(_intervals)
def test_planner_property(raw):
    """On random lifetimes and sizes: buffers whose lifetimes meet never overlap in memory, every
    offset is aligned and inside the arena, and the arena is at least the lower bound (which is
    the largest live total at one point, computed here by brute force)."""
    sizes = {i: n for i, (_, _, n) in enumerate(raw)}
    intervals = {i: (s, s + d) for i, (s, d, _) in enumerate(raw)}
    offsets, arena = memory.assign_offsets(sizes, intervals)
    lb = memory.lower_bound(sizes, intervals)
    brute = max(sum(n for i, n in sizes.items() if intervals[i][0] <= t <= intervals[i][1]) for t in range(60))
    assert lb == brute
    assert arena >= lb
    assert arena % memory.ALIGNMENT == 0
    for i in sizes:
        assert offsets[i] % memory.ALIGNMENT == 0 and offsets[i] + sizes[i] <= arena
        for j in sizes:
            if i < j and intervals[i][0] <= intervals[j][1] and intervals[j][0] <= intervals[i][1]:
                assert offsets[i] + sizes[i] <= offsets[j] or offsets[j] + sizes[j] <= offsets[i], (i, j)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 9), max_size=3), st.integers(0, 9)), min_size=1, max_size=25),
       st.data())
def test_plan_property_on_kernel_lists(kernels, data):
    """``plan`` over random kernel lists with random in-place candidates: a taken candidate shares
    its input's offset, and any two buffers that do not share memory by an in-place chain and are
    both live at one kernel never overlap."""
    ks = [(tuple(r), (w,)) for r, w in kernels]
    touched = {b for r, w in ks for b in (*r, *w)}
    sizes = {b: data.draw(st.sampled_from([64, 128, 1000])) for b in touched}
    cands = [(i, r[0], w[0]) for i, (r, w) in enumerate(ks) if r and data.draw(st.booleans())]
    plan = memory.plan(ks, sizes, inplace=cands)
    assert plan.arena_bytes >= plan.lower_bound_bytes
    assert plan.naive_bytes == sum(sizes.values())
    for out, src in plan.inplace.items():
        assert plan.offsets[out] == plan.offsets[src] and max(
            i for i, (r, w) in enumerate(ks) if src in (*r, *w)) == min(i for i, (r, w) in enumerate(ks) if out in w)
    chain = {b: b for b in sizes}
    for out, src in plan.inplace.items():
        chain[out] = src

    def root(b):
        while chain[b] != b:
            b = chain[b]
        return b
    iv = plan.intervals
    for a in sizes:
        for b in sizes:
            if a < b and root(a) != root(b) and iv[a][0] <= iv[b][1] and iv[b][0] <= iv[a][1]:
                oa, ob = plan.offsets[a], plan.offsets[b]
                assert oa + sizes[a] <= ob or ob + sizes[b] <= oa, (a, b)
