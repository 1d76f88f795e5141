"""``lumina.nn`` layers against ``torch.nn``: parameter and buffer layout, default initialisation
distributions, forward/backward with the same weights, BatchNorm running statistics through a
compiled training step, ``state_dict`` / ``save`` / ``load``, ``nn.init`` and the layer errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
import lumina.nn.functional as F
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(31)


def arr(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def copy_from_torch(model: nn.Module, tmodel: torch.nn.Module) -> None:
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})


def layout(m) -> list[tuple[str, tuple]]:
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items()]


# ---- layout and default initialisation ------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda nn: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
    lambda nn: nn.Conv2d(3, 5, (2, 3), bias=False),
    lambda nn: nn.BatchNorm2d(7),
    lambda nn: nn.BatchNorm1d(3, affine=False),
    lambda nn: nn.LayerNorm((4, 5)),
    lambda nn: nn.Embedding(10, 3, padding_idx=0),
    lambda nn: nn.MultiheadAttention(8, 2, batch_first=True),
    lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ModuleList([nn.Linear(2, 2), nn.Dropout()])),
], ids=["conv_groups", "conv_nobias", "bn2d", "bn1d_noaffine", "layernorm", "embedding", "mha", "nested"])
def test_state_dict_layout_matches_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert layout(ours) == layout(theirs)
    assert [(k, tuple(p.shape)) for k, p in ours.named_parameters()] == \
           [(k, tuple(p.shape)) for k, p in theirs.named_parameters()]
    copy_from_torch(ours, theirs)   # and the names load into each other
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})


def _stats(a):
    a = np.asarray(a, np.float64).ravel()
    return a.mean(), a.std(), a.min(), a.max()


@pytest.mark.parametrize("name,make,bound,std", [
    ("conv weight", lambda nn: nn.Conv2d(64, 128, 3).weight, 1 / math.sqrt(64 * 9), 1 / math.sqrt(3 * 64 * 9)),
    ("conv bias", lambda nn: nn.Conv2d(16, 4000, 1).bias, 1 / 4.0, 1 / math.sqrt(3 * 16)),
    ("grouped conv", lambda nn: nn.Conv2d(64, 64, 3, groups=4).weight, 1 / math.sqrt(16 * 9),
     1 / math.sqrt(3 * 16 * 9)),
    ("mha in_proj", lambda nn: nn.MultiheadAttention(128, 4).in_proj_weight, math.sqrt(6 / (4 * 128)),
     math.sqrt(2 / (4 * 128))),
    ("embedding", lambda nn: nn.Embedding(1000, 64).weight, None, 1.0),
], ids=["conv_weight", "conv_bias", "grouped_conv", "mha_in_proj", "embedding"])
def test_default_init_distributions_match_torch(name, make, bound, std):
    lumina.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = make(nn).numpy(), make(torch.nn).detach().numpy()
    (m1, s1, lo1, hi1), (m2, s2, lo2, hi2) = _stats(ours), _stats(theirs)
    n = ours.size
    assert abs(m1) < 5 * std / math.sqrt(n) and abs(m2) < 5 * std / math.sqrt(n), name
    assert abs(s1 / std - 1) < 0.03 and abs(s2 / std - 1) < 0.03, (name, s1, s2, std)
    if bound is not None:
        assert -bound <= lo1 and hi1 <= bound, name
        assert hi1 > 0.98 * bound and lo1 < -0.98 * bound, name    # it fills the interval, like torch's
        assert -bound <= lo2 and hi2 <= bound and hi2 > 0.98 * bound and lo2 < -0.98 * bound, name  # the bound is torch's


def test_other_default_inits_match_torch():
    for ours, theirs in ((nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)), (nn.LayerNorm(5), torch.nn.LayerNorm(5))):
        for k, v in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[k], v.numpy(), err_msg=k)
    mha = nn.MultiheadAttention(8, 2)
    np.testing.assert_array_equal(mha.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(mha.out_proj.bias.numpy(), 0)
    assert np.abs(mha.out_proj.weight.numpy()).max() <= 1 / math.sqrt(8)
    emb = nn.Embedding(6, 3, padding_idx=-2)
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.weight.numpy()[4], 0)


# ---- nn.init --------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,kw,std", [
    ("xavier_uniform_", dict(gain=2.0), 2.0 * math.sqrt(2 / (200 + 300))),
    ("xavier_normal_", dict(), math.sqrt(2 / (200 + 300))),
    ("kaiming_uniform_", dict(nonlinearity="relu"), math.sqrt(2) / math.sqrt(300)),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2) / math.sqrt(200)),
    ("kaiming_normal_", dict(a=0.2, nonlinearity="leaky_relu"), math.sqrt(2 / 1.04) / math.sqrt(300)),
    ("normal_", dict(mean=0.0, std=0.3), 0.3),
    ("uniform_", dict(a=-2.0, b=2.0), 4 / math.sqrt(12)),
], ids=["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal_fan_out", "kaiming_leaky",
        "normal", "uniform"])
def test_init_functions_have_torchs_distributions(fn, kw, std):
    w = lumina.tensor(np.zeros((200, 300), np.float32))
    out = getattr(nn.init, fn)(w, **kw)
    assert out is w
    tw = getattr(torch.nn.init, fn)(torch.zeros(200, 300), **kw)
    s1, s2 = w.numpy().std(), tw.numpy().std()
    assert abs(s1 / std - 1) < 0.02 and abs(s2 / std - 1) < 0.02, (s1, s2, std)
    if "uniform" in fn:
        assert abs(np.abs(w.numpy()).max() / np.abs(tw.numpy()).max() - 1) < 0.01


def test_init_gains_fans_and_constants():
    for name, param in (("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.3), ("selu", None)):
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    w = lumina.tensor(np.zeros((4, 3, 2, 5), np.float32))
    assert nn.init.fan_in_and_fan_out(w) == (30, 40)
    np.testing.assert_array_equal(nn.init.ones_(w).numpy(), 1)
    np.testing.assert_array_equal(nn.init.zeros_(w).numpy(), 0)
    with pytest.raises(LuminaValueError, match="fewer than 2 dims"):
        nn.init.xavier_uniform_(lumina.zeros(3))
    with pytest.raises(LuminaValueError, match="mode"):
        nn.init.kaiming_normal_(w, mode="fan")
    with pytest.raises(LuminaValueError, match="nonlinearity"):
        nn.init.calculate_gain("swish")


def test_init_is_reproducible_with_manual_seed():
    lumina.manual_seed(42)
    a = nn.Conv2d(3, 4, 3).weight.numpy().copy()
    lumina.manual_seed(42)
    np.testing.assert_array_equal(nn.Conv2d(3, 4, 3).weight.numpy(), a)


# ---- forward and backward with PyTorch's weights --------------------------------------------------

def _compare(ours, theirs, *inputs, rtol=1e-5, atol=1e-5, grad=True):
    copy_from_torch(ours, theirs)
    lx = [lumina.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    tx = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    out, tout = ours(*lx), theirs(*tx)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    if grad:
        g = arr(*out.shape)
        (out * lumina.tensor(g)).sum().backward()
        (tout * torch.tensor(g)).sum().backward()
        lumina.realize(*(p.grad for p in ours.parameters()), *(a.grad for a in lx if a.requires_grad))
        for (k, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=k)
        for a, b in zip(lx, tx):
            if b.requires_grad:
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_bn_pool_stack_matches_torch():
    def make(nn):
        return nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(6, 4, 1, groups=2), nn.AvgPool2d(2), nn.Flatten())
    ours, theirs = make(nn), make(torch.nn)
    _compare(ours, theirs, arr(4, 3, 16, 16))
    for k in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_allclose(ours.state_dict()[k], theirs.state_dict()[k].numpy(), rtol=1e-5, atol=1e-6)
    ours.eval(), theirs.eval()
    _compare(ours, theirs, arr(2, 3, 16, 16), grad=False)


def test_layer_norm_and_embedding_layers_match_torch():
    _compare(nn.LayerNorm(6), torch.nn.LayerNorm(6), arr(2, 3, 6) * 3 + 1)
    _compare(nn.LayerNorm((3, 6), bias=False), torch.nn.LayerNorm((3, 6), bias=False), arr(2, 3, 6))
    idx = np.array([[1, 4, 4], [0, 1, 4]])
    _compare(nn.Embedding(5, 3, padding_idx=1), torch.nn.Embedding(5, 3, padding_idx=1), idx)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(attn_mask="causal"),
    dict(is_causal=True),
    dict(key_padding_mask=True),
    dict(attn_mask="float", need_weights=False),
    dict(average_attn_weights=False, attn_mask="per_head"),
], ids=["plain", "causal_mask", "is_causal", "key_padding", "float_mask", "per_head"])
def test_multihead_attention_matches_torch(kw):
    b, L, e, h = 2, 5, 8, 2
    ours, theirs = nn.MultiheadAttention(e, h, batch_first=True), torch.nn.MultiheadAttention(e, h, batch_first=True)
    copy_from_torch(ours, theirs)
    x = arr(b, L, e)
    lkw, tkw = {}, {}
    if kw.get("attn_mask") == "causal" or kw.get("is_causal"):
        mask = np.triu(np.ones((L, L), bool), 1)
        tkw["attn_mask"] = torch.tensor(mask)
        if kw.get("is_causal"):
            lkw["is_causal"] = True
            tkw["is_causal"] = True
        else:
            lkw["attn_mask"] = lumina.tensor(mask)
    elif kw.get("attn_mask") == "float":
        m = arr(L, L)
        lkw["attn_mask"], tkw["attn_mask"] = lumina.tensor(m), torch.tensor(m)
    elif kw.get("attn_mask") == "per_head":
        m = RNG.random((b * h, L, L)) > 0.7
        m[..., 0] = False
        lkw["attn_mask"], tkw["attn_mask"] = lumina.tensor(m), torch.tensor(m)
    if kw.get("key_padding_mask"):
        kpm = np.zeros((b, L), bool)
        kpm[0, 3:] = True
        lkw["key_padding_mask"], tkw["key_padding_mask"] = lumina.tensor(kpm), torch.tensor(kpm)
    for k in ("need_weights", "average_attn_weights"):
        if k in kw:
            lkw[k] = tkw[k] = kw[k]
    lx = lumina.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, w = ours(lx, lx, lx, **lkw)
    tout, tw = theirs(tx, tx, tx, **tkw)
    g = arr(*out.shape)
    (out * lumina.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    lumina.realize(out, *([w] if w is not None else []), lx.grad, *(p.grad for p in ours.parameters()))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    if tw is None:
        assert w is None
    else:
        np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (k, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


def test_multihead_attention_sequence_first_and_cross_attention_match_torch():
    ours = nn.MultiheadAttention(6, 3, batch_first=False)
    theirs = torch.nn.MultiheadAttention(6, 3)
    copy_from_torch(ours, theirs)
    q, kv = arr(4, 2, 6), arr(7, 2, 6)           # [L, B, E], [S, B, E]
    out, w = ours(lumina.tensor(q), lumina.tensor(kv), lumina.tensor(kv))
    tout, tw = theirs(torch.tensor(q), torch.tensor(kv), torch.tensor(kv))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert out.shape == (4, 2, 6) and w.shape == (2, 4, 7)


def test_dropout_layer_follows_train_and_eval():
    d = nn.Dropout(0.5)
    x = lumina.tensor(np.ones((64, 64), np.float32))
    assert d.eval()(x) is x
    y = d.train()(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    with pytest.raises(LuminaValueError, match="Dropout"):
        nn.Dropout(-0.1)


# ---- BatchNorm running statistics in a compiled training step -------------------------------------

N_STEPS = 4
CNN_BATCHES = [(arr(8, 3, 8, 8) * 2 + 0.5, RNG.integers(0, 5, 8)) for _ in range(N_STEPS)]


def _cnn(nn, momentum=0.1):
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=momentum), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum", "cumulative"])
def test_batchnorm_running_stats_after_compiled_steps_match_torch(momentum):
    theirs = _cnn(torch.nn, momentum)
    ours = _cnn(nn, momentum)
    copy_from_torch(ours, theirs)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    opt = lumina.optim.SGD(list(ours.parameters()), lr=0.1, momentum=0.9)
    traces = []

    @lumina.compile
    def step(x, y):
        traces.append(1)
        opt.zero_grad()
        loss = F.cross_entropy(ours(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in CNN_BATCHES:
        topt.zero_grad()
        tl = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        tl.backward()
        topt.step()
        np.testing.assert_allclose(step(x, y).item(), tl.item(), rtol=1e-4)
    assert len(traces) == 1
    state, tstate = ours.state_dict(), theirs.state_dict()
    assert int(state["1.num_batches_tracked"]) == N_STEPS == int(tstate["1.num_batches_tracked"])
    for k, v in tstate.items():
        np.testing.assert_allclose(state[k], v.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    # eval mode reads the running stats the compiled steps left behind
    ours.eval(), theirs.eval()
    x = CNN_BATCHES[0][0]
    np.testing.assert_allclose(ours(lumina.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_batchnorm_eager_training_updates_and_eval_does_not():
    bn, tbn = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    for _ in range(3):
        x = arr(6, 3) * 2 + 1
        bn(lumina.tensor(x))
        tbn(torch.tensor(x))
    # the updates wait for the next realisation (here, reading the count), one step at most
    assert bn.num_batches_tracked.item() == 3 and bn.running_mean._realized
    np.testing.assert_allclose(bn.running_mean.numpy(), tbn.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-5)
    before = {k: v.clone() for k, v in bn.state_dict().items()}   # a snapshot, as in torch
    bn.eval()(lumina.tensor(arr(6, 3)))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    bn.train()
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)
    assert bn.num_batches_tracked.item() == 0


# ---- state_dict, save / load, buffers, containers -------------------------------------------------

def test_state_dict_round_trip_and_save_load(tmp_path):
    lumina.manual_seed(1)
    a = _cnn(nn)
    a(lumina.tensor(CNN_BATCHES[0][0]))          # move the BatchNorm buffers off their initial values
    lumina.manual_seed(2)
    b = _cnn(nn)
    b.load_state_dict(a.state_dict())
    x = lumina.tensor(CNN_BATCHES[1][0])
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())

    path = tmp_path / "model.npz"
    a.save(path)
    lumina.manual_seed(3)
    c = _cnn(nn).load(path).eval()
    for (k, v), (k2, v2) in zip(a.state_dict().items(), c.state_dict().items()):
        assert k == k2 and v.dtype == v2.dtype
        np.testing.assert_array_equal(v, v2)
    np.testing.assert_array_equal(a(x).numpy(), c(x).numpy())
    assert c.state_dict()["1.num_batches_tracked"].dtype == lumina.int64

    a.save(tmp_path / "no_suffix")                # NumPy adds .npz
    assert (tmp_path / "no_suffix.npz").exists()
    with pytest.raises(LuminaValueError, match="missing keys"):
        nn.Linear(2, 2).load(path)


def test_register_buffer_rules():
    m = nn.Module()
    m.register_buffer("steps", lumina.zeros(2) + 1.0)    # a pending tensor is realised
    m.register_buffer("scratch", lumina.tensor(np.zeros(3)), persistent=False)
    assert m.steps._realized
    assert [k for k, _ in m.named_buffers()] == ["steps", "scratch"]
    assert list(m.state_dict()) == ["steps"]
    m.steps = lumina.tensor(np.array([5.0, 6.0], np.float32))  # assigning a tensor replaces the buffer
    np.testing.assert_array_equal(m.state_dict()["steps"], [5, 6])
    with pytest.raises(LuminaTypeError, match="buffer 'steps'"):
        m.steps = 3
    with pytest.raises(LuminaValueError, match="already has an attribute"):
        m.register_buffer("training", lumina.zeros(1))
    with pytest.raises(LuminaTypeError, match="Parameter"):
        m.register_buffer("w", nn.Parameter(np.zeros(2, np.float32)))
    with pytest.raises(LuminaShapeError, match="'steps' has shape"):
        m.load_state_dict({"steps": np.zeros(3)})


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
    layers.append(nn.LayerNorm(3))
    assert len(layers) == 3 and isinstance(layers[-1], nn.LayerNorm) and len(layers[1:]) == 2
    assert [k for k, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight",
                                                         "2.bias"]
    layers.insert(0, nn.Linear(3, 3, bias=False))
    assert [k for k, _ in layers.named_parameters()][:2] == ["0.weight", "1.weight"]
    x = lumina.tensor(arr(2, 3))
    for layer in layers:
        x = layer(x)
    assert x.shape == (2, 3)
    with pytest.raises(LuminaTypeError, match="not a Module"):
        layers.append(3)


# ---- errors name the layer and the shapes ---------------------------------------------------------

def test_layer_errors():
    with pytest.raises(LuminaShapeError, match=r"Conv2d\(3, 8, kernel_size=\(3, 3\)\): expects input \[N, 3, H, W\] "
                                               r"or \[3, H, W\], got f32\[1,4,8,8\]"):
        nn.Conv2d(3, 8, 3)(lumina.ones(1, 4, 8, 8))
    with pytest.raises(LuminaShapeError, match=r"Conv2d\(3, 8, kernel_size=\(5, 5\)\): conv2d: weight kernel 5x5 "
                                               r".*larger than the padded input 4x4"):
        nn.Conv2d(3, 8, 5)(lumina.ones(1, 3, 4, 4))
    with pytest.raises(LuminaValueError, match="groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(LuminaShapeError, match=r"BatchNorm2d\(4\): expects 4-D input with 4 channels"):
        nn.BatchNorm2d(4)(lumina.ones(2, 3, 5, 5))
    with pytest.raises(LuminaShapeError, match=r"LayerNorm\(\[5\]\)"):
        nn.LayerNorm(5)(lumina.ones(2, 4))
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = lumina.ones(2, 5, 8)
    with pytest.raises(LuminaShapeError, match=r"MultiheadAttention\(8, num_heads=2\): attn_mask bool\[5,4\] must "
                                               r"be \[L, S\] = \[5, 5\] or \[B\*num_heads, L, S\] = \[4, 5, 5\]"):
        mha(x, x, x, attn_mask=lumina.ones(5, 4, dtype=lumina.bool))
    with pytest.raises(LuminaShapeError, match=r"key_padding_mask bool\[5,2\] must be \[B, S\] = \[2, 5\]"):
        mha(x, x, x, key_padding_mask=lumina.ones(5, 2, dtype=lumina.bool))
    with pytest.raises(LuminaShapeError, match=r"expects query \[B, L, 8\]"):
        mha(lumina.ones(2, 5, 6), x, x)
    with pytest.raises(LuminaValueError, match="divisible"):
        nn.MultiheadAttention(8, 3)
