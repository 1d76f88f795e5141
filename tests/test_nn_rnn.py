"""``nn.RNN`` / ``LSTM`` / ``GRU`` and their cells against ``torch.nn``: parameter names, shapes and
default initialisation, outputs and gradients (input, initial states, every parameter) with the
same weights eagerly and inside ``@lumina.compile``, float32 and float64, finite differences,
dropout between layers in training mode, unbatched / length-1 / empty-batch inputs, and the
errors for bad arguments and shapes."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(7)
TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-11, atol=1e-12)}
GTOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def arr(*shape, dtype="float32"):
    return RNG.standard_normal(shape).astype(dtype)


def pair(kind: str, *args, dtype="float32", **kw):
    """(lumina's layer, torch's) with torch's weights loaded into lumina's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch.nn, kind)(*args, **kw).to(getattr(torch, dtype))
    ours = getattr(nn, kind)(*args, **kw).to(dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def flat(out) -> list:
    """A layer's result as a flat list: ``(output, h_n)`` or ``(output, (h_n, c_n))``."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [out]


LAYERS = [
    ("RNN", (3, 4), dict()),
    ("RNN", (3, 4, 2), dict(nonlinearity="relu", bias=False)),
    ("RNN", (3, 4), dict(nonlinearity="relu", bidirectional=True, batch_first=True)),
    ("LSTM", (3, 5), dict()),
    ("LSTM", (3, 4, 2), dict(bidirectional=True)),
    ("LSTM", (3, 5, 2), dict(proj_size=2, batch_first=True)),
    ("LSTM", (3, 5), dict(proj_size=3, bidirectional=True, bias=False)),
    ("GRU", (3, 4)),
    ("GRU", (3, 4, 3), dict(bidirectional=True, batch_first=True)),
]
LAYERS = [(k, a, kw[0] if kw else {}) for k, a, *kw in LAYERS]
IDS = [f"{k}-{'-'.join(map(str, a))}-{'-'.join(f'{n}={v}' for n, v in kw.items())}" for k, a, kw in LAYERS]


def inputs(ours, steps=4, batch=2, dtype="float32", unbatched=False, with_state=True):
    """Arrays for ``(input, h_0[, c_0])`` of ``ours``'s shapes (no state arrays without ``with_state``)."""
    layers = ours.num_layers * (2 if ours.bidirectional else 1)
    lead = () if unbatched else (batch,)
    x = arr(*((steps,) + lead if not ours.batch_first or unbatched else lead + (steps,)), ours.input_size,
            dtype=dtype)
    if not with_state:
        return [x]
    h = arr(layers, *lead, ours.proj_size or ours.hidden_size, dtype=dtype)
    if ours.mode != "LSTM":
        return [x, h]
    return [x, h, arr(layers, *lead, ours.hidden_size, dtype=dtype)]


def call(mod, L, arrays, grad=True):
    ts = [(lumina.tensor(a, requires_grad=grad) if L is lumina else torch.tensor(a, requires_grad=grad))
          for a in arrays]
    if len(ts) == 1:
        return ts, mod(ts[0])
    hx = ts[1] if len(ts) == 2 else (ts[1], ts[2])
    return ts, mod(ts[0], hx)


def compare_with_torch(ours, theirs, arrays, dtype):
    """Outputs, input / state gradients and parameter gradients of both layers on ``arrays``."""
    lts, lout = call(ours, lumina, arrays)
    tts, tout = call(theirs, torch, arrays)
    lflat, tflat = flat(lout), flat(tout)
    assert [tuple(t.shape) for t in lflat] == [tuple(t.shape) for t in tflat]
    cots = [RNG.standard_normal(tuple(t.shape)) for t in tflat]
    sum((t * lumina.tensor(c.astype(dtype))).sum() for t, c in zip(lflat, cots)).backward()
    sum((t * torch.tensor(c.astype(dtype))).sum() for t, c in zip(tflat, cots)).backward()
    lumina.realize(*lflat, *(t.grad for t in lts), *(p.grad for p in ours.parameters()))    # one graph
    for i, (a, b) in enumerate(zip(lflat, tflat)):
        assert a.dtype.name == dtype
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL[dtype], err_msg=f"result {i}")
    for i, (a, b) in enumerate(zip(lts, tts)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **GTOL[dtype], err_msg=f"grad of argument {i}")
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **GTOL[dtype], err_msg=k)


# ---- layout and initialisation --------------------------------------------------------------------

@pytest.mark.parametrize("kind,args,kw", LAYERS, ids=IDS)
def test_parameter_names_and_shapes_match_torch_and_load_both_ways(kind, args, kw):
    ours, theirs = pair(kind, *args, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ours.state_dict().items()})
    assert len(ours.all_weights) == len(theirs.all_weights)
    assert [[tuple(p.shape) for p in w] for w in ours.all_weights] == \
           [[tuple(p.shape) for p in w] for w in theirs.all_weights]
    assert repr(ours) == repr(theirs)
    ours.flatten_parameters()      # a no-op, as on torch's CPU


@pytest.mark.parametrize("make", [lambda nn: nn.LSTM(16, 400, 2, bidirectional=True, proj_size=3),
                                  lambda nn: nn.GRUCell(8, 300), lambda nn: nn.RNN(5, 256)],
                         ids=["lstm", "grucell", "rnn"])
def test_default_init_is_uniform_within_one_over_sqrt_hidden(make):
    ours = make(nn)
    bound = 1 / math.sqrt(ours.hidden_size)
    values = np.concatenate([p.numpy().ravel() for p in ours.parameters()])
    assert np.abs(values).max() <= bound
    # U(-b, b): mean 0, standard deviation b / sqrt(3)
    assert abs(values.mean()) < 0.02 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_constructor_arguments_bind_as_torchs():
    r = nn.RNN(3, 4, 2, "relu", False, True, 0.0, True)    # torch's positional order, nonlinearity fourth
    assert (r.num_layers, r.nonlinearity, r.bias, r.batch_first, r.bidirectional) == (2, "relu", False, True, True)
    m = nn.LSTM(3, 4, 2, False, True, 0.25, True, 2)
    assert (m.bias, m.batch_first, m.dropout, m.bidirectional, m.proj_size) == (False, True, 0.25, True, 2)
    assert nn.GRU(input_size=3, hidden_size=4, dtype="float64").weight_ih_l0.dtype.name == "float64"


# ---- outputs and gradients against torch ----------------------------------------------------------

# every configuration in float32 (1e-5), three of them in float64 too; graphs unroll the steps,
# so the sequences are short (compile time grows with their length)
FORWARD = [(cfg, "float32") for cfg in range(len(LAYERS))] + [(1, "float64"), (4, "float64"), (8, "float64")]


@pytest.mark.parametrize("cfg,dtype", FORWARD, ids=[f"{IDS[c]}-{d}" for c, d in FORWARD])
def test_forward_and_gradients_match_torch(cfg, dtype):
    kind, args, kw = LAYERS[cfg]
    ours, theirs = pair(kind, *args, dtype=dtype, **kw)
    compare_with_torch(ours, theirs, inputs(ours, steps=3, dtype=dtype), dtype)


@pytest.mark.parametrize("cfg,form", [(5, "no_state"), (8, "unbatched"), (2, "unbatched_no_state"),
                                      (4, "length_1"), (0, "length_1")],
                         ids=lambda v: v if isinstance(v, str) else IDS[v])
def test_optional_state_unbatched_and_length_one_match_torch(cfg, form):
    kind, args, kw = LAYERS[cfg]
    ours, theirs = pair(kind, *args, **kw)
    arrays = inputs(ours, steps=1 if form == "length_1" else 3, unbatched=form.startswith("unbatched"),
                    with_state="no_state" not in form)
    compare_with_torch(ours, theirs, arrays, "float32")


def test_an_empty_batch_gives_empty_results_as_torch():
    for kind in ("RNN", "LSTM", "GRU"):
        ours, theirs = pair(kind, 3, 4, 2, bidirectional=True)
        x = np.zeros((5, 0, 3), np.float32)
        lout, tout = flat(ours(lumina.tensor(x))), flat(theirs(torch.tensor(x)))
        assert [tuple(t.shape) for t in lout] == [tuple(t.shape) for t in tout], kind


def test_dropout_acts_between_layers_in_training_only():
    # p = 1 drops every element between the layers, so the result is deterministic and torch's
    ours, theirs = pair("LSTM", 3, 4, 3, dropout=1.0)
    compare_with_torch(ours, theirs, inputs(ours, steps=2), "float32")
    # p = 0.5: training draws masks (two runs differ), evaluation is the dropout-free recurrence
    ours, theirs = pair("GRU", 3, 4, 2, dropout=0.5)
    x = arr(6, 2, 3)
    a, b = ours(lumina.tensor(x))[0].numpy(), ours(lumina.tensor(x))[0].numpy()
    assert not np.allclose(a, b)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(lumina.tensor(x))[0].numpy(), theirs(torch.tensor(x))[0].detach().numpy(),
                               **TOL["float32"])
    # one layer: torch warns that the dropout has no layer to act between
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)


# ---- inside @lumina.compile ------------------------------------------------------------------------

@pytest.mark.parametrize("kind,args,kw", [LAYERS[4], LAYERS[8]], ids=[IDS[4], IDS[8]])
def test_compiled_forward_and_gradients_match_torch(kind, args, kw):
    ours, theirs = pair(kind, *args, **kw)
    arrays = inputs(ours, steps=3)
    tts, tout = call(theirs, torch, arrays)
    tflat = flat(tout)
    cots = [RNG.standard_normal(tuple(t.shape)).astype(np.float32) for t in tflat]
    sum((t * torch.tensor(c)).sum() for t, c in zip(tflat, cots)).backward()
    traces = []

    def loss(*xs):
        hx = None if len(xs) == 1 else xs[1] if len(xs) == 2 else (xs[1], xs[2])
        outs = flat(ours(xs[0], hx))
        return sum((t * lumina.tensor(c)).sum() for t, c in zip(outs, cots)), outs

    @lumina.compile
    def step(*xs):
        traces.append(1)
        for p in ours.parameters():
            p.grad = None
        value, grads = lumina.value_and_grad(lambda *a: loss(*a)[0], tuple(range(len(xs))))(*xs)
        outs = loss(*xs)[1]
        value.backward()
        return outs, grads

    for _ in range(2):
        outs, grads = step(*arrays)
    assert len(traces) == 1
    for i, (a, b) in enumerate(zip(outs, tflat)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL["float32"], err_msg=f"result {i}")
    for i, (a, b) in enumerate(zip(grads, tts)):
        np.testing.assert_allclose(a.numpy(), b.grad.numpy(), **GTOL["float32"], err_msg=f"grad of argument {i}")
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **GTOL["float32"], err_msg=k)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradients_match_finite_differences(kind):
    ours, _ = pair(kind, 2, 3, 2, dtype="float64", bidirectional=True)
    x, h = arr(3, 2, 2, dtype="float64"), arr(4, 2, 3, dtype="float64")
    c = arr(4, 2, 3, dtype="float64")
    cot = arr(3, 2, 6, dtype="float64")

    def f(x, h, c):
        out = ours(x, (h, c) if kind == "LSTM" else h)[0]
        return (out * lumina.tensor(cot)).sum()

    grads = lumina.grad(f, (0, 1, 2) if kind == "LSTM" else (0, 1))(x, h, c)
    compiled = lumina.compile(f)
    eps = 1e-6
    for i, g in enumerate(grads):
        base = [x, h, c]
        v = RNG.standard_normal(base[i].shape)
        plus = [a + eps * v if j == i else a for j, a in enumerate(base)]
        minus = [a - eps * v if j == i else a for j, a in enumerate(base)]
        fd = (compiled(*plus).item() - compiled(*minus).item()) / (2 * eps)
        assert float((g.numpy() * v).sum()) == pytest.approx(fd, rel=1e-6, abs=1e-8)


# ---- cells ----------------------------------------------------------------------------------------

CELLS = [("RNNCell", dict()), ("RNNCell", dict(nonlinearity="relu", bias=False)), ("LSTMCell", dict()),
         ("LSTMCell", dict(bias=False)), ("GRUCell", dict())]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,kw", CELLS, ids=[f"{k}-{kw}" for k, kw in CELLS])
def test_cells_match_torch(kind, kw, dtype):
    ours, theirs = pair(kind, 3, 4, dtype=dtype, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    for form in ("state", "no_state", "unbatched"):
        for m in (ours, theirs):
            m.zero_grad()
        lead = () if form == "unbatched" else (2,)
        arrays = [arr(*lead, 3, dtype=dtype)]
        if form != "no_state":
            arrays += [arr(*lead, 4, dtype=dtype) for _ in range(2 if kind == "LSTMCell" else 1)]
        lts = [lumina.tensor(a, requires_grad=True) for a in arrays]
        tts = [torch.tensor(a, requires_grad=True) for a in arrays]
        hx = lambda ts: None if len(ts) == 1 else ts[1] if len(ts) == 2 else (ts[1], ts[2])    # noqa: E731
        lflat, tflat = flat(ours(lts[0], hx(lts))), flat(theirs(tts[0], hx(tts)))
        cots = [RNG.standard_normal(tuple(t.shape)).astype(dtype) for t in tflat]
        sum((t * lumina.tensor(c)).sum() for t, c in zip(lflat, cots)).backward()
        sum((t * torch.tensor(c)).sum() for t, c in zip(tflat, cots)).backward()
        lumina.realize(*lflat, *(t.grad for t in lts), *(p.grad for p in ours.parameters()))
        for a, b in zip(lflat, tflat):
            assert tuple(a.shape) == tuple(b.shape), form
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL[dtype], err_msg=form)
        for a, b in zip(lts, tts):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **GTOL[dtype], err_msg=form)
        for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **GTOL[dtype], err_msg=f"{form}: {k}")


def test_a_compiled_lstm_cell_loop_matches_torch():
    ours, theirs = pair("LSTMCell", 3, 4)
    xs = arr(5, 2, 3)

    @lumina.compile
    def run(xs):
        h = c = None
        for t in range(xs.shape[0]):
            h, c = ours(xs[t], None if h is None else (h, c))
        return h, c

    h, c = run(xs)
    th = tc = None
    for t in range(5):
        th, tc = theirs(torch.tensor(xs[t]), None if th is None else (th, tc))
    np.testing.assert_allclose(h.numpy(), th.detach().numpy(), **TOL["float32"])
    np.testing.assert_allclose(c.numpy(), tc.detach().numpy(), **TOL["float32"])
    assert tuple(ours(lumina.tensor(np.zeros((0, 3), np.float32)))[0].shape) == (0, 4)


# ---- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,error,match", [
    (lambda: nn.LSTM(3, 0), LuminaValueError, r"LSTM: hidden_size must be greater than zero"),
    (lambda: nn.GRU(3, 4, 0), LuminaValueError, r"GRU: num_layers must be greater than zero"),
    (lambda: nn.RNN(3, 4, dropout=1.5), LuminaValueError, r"RNN: dropout should be a number in range \[0, 1\]"),
    (lambda: nn.LSTM(3, 4, proj_size=4), LuminaValueError, r"LSTM: proj_size has to be smaller than hidden_size"),
    (lambda: nn.GRU(3, 4, proj_size=2), LuminaValueError, r"GRU: proj_size argument is only supported for LSTM"),
    (lambda: nn.RNN(3, 4, nonlinearity="gelu"), LuminaValueError, r"RNN: unknown nonlinearity 'gelu'"),
    (lambda: nn.LSTM(3, 4, bogus=1), LuminaTypeError, r"LSTM: got an unexpected keyword argument 'bogus'"),
    (lambda: nn.LSTM(3, 4.5), LuminaTypeError, r"LSTM: hidden_size should be of type int"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="sigmoid"), LuminaValueError, r"RNNCell: unknown nonlinearity"),
    (lambda: nn.GRUCell(3, 0), LuminaValueError, r"GRUCell: hidden_size must be greater than zero"),
], ids=["hidden0", "layers0", "dropout", "proj", "proj_gru", "nonlinearity", "keyword", "float_size",
        "cell_nonlinearity", "cell_hidden0"])
def test_bad_constructor_arguments_raise(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _lstm():
    return nn.LSTM(3, 4, 2)


@pytest.mark.parametrize("run,error,match", [
    (lambda m: m(lumina.tensor(arr(5, 2, 3, 1))), LuminaShapeError,
     r"LSTM\(3, 4, num_layers=2\): expected input to be 2-D or 3-D, got f32\[5,2,3,1\]"),
    (lambda m: m(lumina.tensor(arr(5, 2, 6))), LuminaShapeError,
     r"LSTM\(3, 4, num_layers=2\): input.size\(-1\) must be equal to input_size 3, got f32\[5,2,6\]"),
    (lambda m: m(lumina.tensor(arr(0, 2, 3))), LuminaShapeError, r"sequence length to be larger than 0"),
    (lambda m: m(lumina.tensor(arr(5, 2, 3)), (lumina.tensor(arr(2, 3, 4)), lumina.tensor(arr(2, 2, 4)))),
     LuminaShapeError, r"expected h_0 of shape \(2, 2, 4\), got f32\[2,3,4\]"),
    (lambda m: m(lumina.tensor(arr(5, 2, 3)), (lumina.tensor(arr(2, 2, 4)), lumina.tensor(arr(2, 2, 5)))),
     LuminaShapeError, r"expected c_0 of shape \(2, 2, 4\), got f32\[2,2,5\]"),
    (lambda m: m(lumina.tensor(arr(5, 3)), (lumina.tensor(arr(2, 1, 4)), lumina.tensor(arr(2, 1, 4)))),
     LuminaShapeError, r"for unbatched 2-D input, h_0 should also be 2-D, got f32\[2,1,4\]"),
    (lambda m: m(lumina.tensor(arr(5, 2, 3)), lumina.tensor(arr(2, 2, 4))), LuminaTypeError,
     r"hx must be a tuple \(h_0, c_0\)"),
    (lambda m: m(lumina.tensor(arr(5, 2, 3, dtype="float64"))), LuminaTypeError,
     r"input dtype f64\[5,2,3\] does not match the weight dtype float32"),
], ids=["rank", "features", "empty_sequence", "h0_shape", "c0_shape", "unbatched_h0", "hx_not_pair", "dtype"])
def test_bad_inputs_raise_naming_the_layer_and_shapes(run, error, match):
    with pytest.raises(error, match=match):
        run(_lstm())


@pytest.mark.parametrize("run,match", [
    (lambda: nn.GRUCell(3, 4)(lumina.tensor(arr(2, 2, 3))), r"GRUCell\(3, 4\): expected input to be 1-D or 2-D"),
    (lambda: nn.RNNCell(3, 4)(lumina.tensor(arr(2, 5))), r"RNNCell\(3, 4\): input has inconsistent input_size"),
    (lambda: nn.LSTMCell(3, 4)(lumina.tensor(arr(2, 3)), (lumina.tensor(arr(3, 4)), lumina.tensor(arr(3, 4)))),
     r"LSTMCell\(3, 4\): input batch size 2 \(f32\[2,3\]\) doesn't match hx\[0\] batch size 3"),
    (lambda: nn.GRUCell(3, 4)(lumina.tensor(arr(2, 3)), lumina.tensor(arr(2, 5))),
     r"GRUCell\(3, 4\): hx has inconsistent hidden_size"),
], ids=["rank", "features", "batch", "hidden"])
def test_bad_cell_inputs_raise_naming_the_cell(run, match):
    with pytest.raises(LuminaShapeError, match=match):
        run()
