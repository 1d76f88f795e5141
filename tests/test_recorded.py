"""Recorded composites (``lumina.tensor.recorded``): an eager convolution, pooling or
normalisation replays the IR it recorded for its signature. In check mode every replay is compared
with the IR the op emits itself; results with recordings on and off are equal bit for bit; calls
that break a rule (a global read, an in-place update, an output aliasing an argument) are never
recorded."""
from __future__ import annotations

import numpy as np
import pytest

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina.tensor import recorded as rec
from lumina.tensor.recorded import REFUSED, recorded


@pytest.fixture
def check(monkeypatch):
    monkeypatch.setattr(rec, "MODE", "check")


def _rand(*shape, seed=0, requires_grad=False):
    return lumina.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32),
                         requires_grad=requires_grad)


def _calls():
    """Calls of the recorded ops over their arguments' kinds: strides, padding, groups, dilation,
    unbatched inputs, grad on and off, channels-last producers, aliased arguments."""
    x = _rand(2, 4, 9, 9, requires_grad=True)
    w = _rand(6, 4, 3, 3, seed=1, requires_grad=True)
    wg = _rand(8, 2, 3, 3, seed=2)
    wd = _rand(4, 1, 3, 3, seed=3)
    b = _rand(6, seed=4)
    sq = _rand(1, 1, 3, 3, seed=5)
    yield lambda: F.conv2d(x, w, b, padding=1)
    yield lambda: F.conv2d(x, w, None, stride=2, dilation=2)
    yield lambda: F.conv2d(x, w, b, padding="same")
    yield lambda: F.conv2d(x, wg, None, groups=2, padding=(1, 0))
    yield lambda: F.conv2d(x, wd, None, groups=4)
    yield lambda: F.conv2d(x[0], w, b)                       # unbatched
    yield lambda: F.conv2d(sq, sq)                           # one value for both operands
    yield lambda: F.conv2d(sq, _rand(1, 1, 3, 3, seed=6))    # ... and then two
    yield lambda: F.conv1d(_rand(2, 3, 11), _rand(5, 3, 4, seed=7), stride=3)
    h = F.relu(F.conv2d(x, w, b, padding=1))                 # channels last under a permute
    yield lambda: F.max_pool2d(h, 2)
    yield lambda: F.max_pool2d(x, 2)
    yield lambda: F.max_pool2d(x, 3, stride=2, ceil_mode=True)
    yield lambda: F.max_pool2d(x, 3, padding=1)              # reads a mask array: not recorded
    yield lambda: F.max_pool2d(x, 2, return_indices=True)
    bn = nn.BatchNorm2d(4)
    yield lambda: bn(x)
    yield lambda: F.layer_norm(x, (9, 9))
    yield lambda: F.group_norm(x, 2)
    yield lambda: F.batch_norm(x, None, None, training=True)
    half = _rand(2, 4, 5, 5, seed=8).to(lumina.float16)
    yield lambda: F.layer_norm(half, (5,))


def test_each_replay_is_the_ir_the_op_emits(check):
    """Each call three times, with grad on and off: the first records, the next ones replay and,
    in check mode, raise if the op's own IR differs; the values agree with a run without
    recordings."""
    for grad in (True, False):
        for call in _calls():
            with lumina.set_grad_enabled(grad):
                got = [call() for _ in range(3)]
            rec.MODE = "0"
            with lumina.set_grad_enabled(grad):
                want = call()
            rec.MODE = "check"
            for g in got:
                for a, b in zip(g if isinstance(g, tuple) else (g,), want if isinstance(want, tuple) else (want,)):
                    assert a.requires_grad == b.requires_grad
                    np.testing.assert_array_equal(a.numpy(), b.numpy())
    from lumina.nn.functional import conv, pooling
    from lumina.tensor import reductions
    for op in (conv._conv, pooling._max_pool, reductions.normalize):   # replayed, not only refused
        assert any(r is not REFUSED for r in op.recordings.values()), op.__qualname__


def test_eager_training_is_the_same_with_recordings_off(monkeypatch):
    """Two eager AdamW steps of a conv / BatchNorm / pool network: parameters and BatchNorm
    statistics equal bit for bit with and without recordings."""
    def train(mode):
        monkeypatch.setattr(rec, "MODE", mode)
        lumina.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(8, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                              nn.Linear(8, 3))
        opt = lumina.optim.AdamW(model.parameters(), lr=1e-2)
        x = _rand(4, 1, 8, 8, seed=9)
        y = lumina.tensor(np.array([0, 1, 2, 1]))
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, {k: v.numpy().copy() for k, v in model.state_dict().items()}
    (on_losses, on), (off_losses, off) = train("1"), train("0")
    assert on_losses == off_losses
    for k in off:
        np.testing.assert_array_equal(on[k], off[k], err_msg=k)


def test_a_recording_replays_and_the_op_does_not_run_again():
    runs = []

    @recorded
    def scaled_sum(x, k: float):
        runs.append(1)
        return (x * k).sum(1)
    for seed in range(3):
        x = _rand(3, 4, seed=seed)
        np.testing.assert_allclose(scaled_sum(x, 2.0).numpy(), (x.numpy() * 2.0).sum(1), rtol=1e-6)
    assert len(runs) == 1
    scaled_sum(_rand(3, 4), 3.0)              # another argument: another signature
    scaled_sum(_rand(3, 5), 2.0)              # another shape
    scaled_sum(_rand(3, 4).double(), 2.0)     # another dtype
    assert len(runs) == 4


def test_calls_that_break_a_rule_are_never_recorded():
    state = _rand(3)
    outside, inplace, alias = [], [], []

    @recorded
    def reads_state(x):
        outside.append(1)
        return x + state

    @recorded
    def updates_argument(x):
        inplace.append(1)
        x.add_(1.0)
        return x * 2.0

    @recorded
    def returns_a_view(x):
        alias.append(1)
        return x.reshape(-1)
    for _ in range(2):
        x = _rand(3)
        np.testing.assert_array_equal(reads_state(x).numpy(), x.numpy() + state.numpy())
        before = x.numpy().copy()
        np.testing.assert_array_equal(updates_argument(x).numpy(), (before + 1.0) * 2.0)
        np.testing.assert_array_equal(x.numpy(), before + 1.0)
        v = returns_a_view(x)
        v.mul_(0.0)   # a view of x: x changes with it
        np.testing.assert_array_equal(x.numpy(), 0.0)
    assert len(outside) == len(inplace) == len(alias) == 2
    for fn in (reads_state, updates_argument, returns_a_view):
        assert list(fn.recordings.values()) == [REFUSED]


def test_check_mode_names_an_op_whose_ir_depends_on_more_than_its_signature(check):
    flag = [False]

    @recorded
    def depends_on_a_global(x):
        return x * 2.0 if flag[0] else x + 1.0
    depends_on_a_global(_rand(3))
    flag[0] = True
    with pytest.raises(lumina.LuminaError, match="depends_on_a_global: the recorded IR"):
        depends_on_a_global(_rand(3))


def test_inside_compile_the_op_is_traced_not_replayed():
    runs = []

    @recorded
    def double(x):
        runs.append(1)
        return x * 2.0
    double(_rand(3))
    step = lumina.compile(lambda x: double(x) + 1.0)
    np.testing.assert_array_equal(step(np.ones(3, np.float32)).numpy(), 3.0)
    assert len(runs) == 2
