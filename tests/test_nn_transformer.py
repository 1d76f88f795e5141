"""``nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer`` / ``TransformerEncoder`` /
``TransformerDecoder`` / ``Transformer`` against ``torch.nn``: sub-module and parameter names,
torch's initialisation rules, outputs and gradients (inputs and every parameter) with the same
weights for post-norm and pre-norm layers, relu / gelu / callable activations, batch-first and
sequence-first layouts, unbatched inputs, causal and padding masks, eagerly and inside
``@lumina.compile``, dropout in training mode, ``generate_square_subsequent_mask`` and the errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import lumina
import lumina.nn as nn
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(11)
TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-11, atol=1e-12)}
GTOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}
E, H, FF = 8, 2, 16


def arr(*shape, dtype="float32"):
    return RNG.standard_normal(shape).astype(dtype)


def build(make, dtype="float32"):
    """(lumina's module, torch's) from ``make(L)``, torch's weights loaded into lumina's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # torch: nested tensors need batch_first
        theirs = make(torch).to(getattr(torch, dtype))
    ours = make(lumina).to(dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _lib_arg(L, v, grad):
    if isinstance(v, np.ndarray):
        if L is lumina:
            return lumina.tensor(v, requires_grad=grad and v.dtype.kind == "f")
        return torch.tensor(v, requires_grad=grad and v.dtype.kind == "f")
    return v


def compare(ours, theirs, args, kwargs=None, dtype="float32", grad=True):
    """Output, input gradients and parameter gradients of both modules on the same arrays."""
    kwargs = kwargs or {}
    largs = [_lib_arg(lumina, a, grad) for a in args]
    targs = [_lib_arg(torch, a, grad) for a in args]
    lout = ours(*largs, **{k: _lib_arg(lumina, v, False) for k, v in kwargs.items()})
    tout = theirs(*targs, **{k: _lib_arg(torch, v, False) for k, v in kwargs.items()})
    assert tuple(lout.shape) == tuple(tout.shape) and lout.dtype.name == dtype
    np.testing.assert_allclose(lout.numpy(), tout.detach().numpy(), **TOL[dtype])
    if not grad:
        return
    cot = RNG.standard_normal(tuple(tout.shape)).astype(dtype)
    (lout * lumina.tensor(cot)).sum().backward()
    (tout * torch.tensor(cot)).sum().backward()
    lumina.realize(lout, *(a.grad for a in largs), *(p.grad for p in ours.parameters()))   # one graph
    for i, (a, b) in enumerate(zip(largs, targs)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **GTOL[dtype], err_msg=f"grad of argument {i}")
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **GTOL[dtype], err_msg=k)


def causal(n, dtype="float32"):
    return np.triu(np.full((n, n), -np.inf, dtype), 1)


def padding(b, s):
    pad = RNG.random((b, s)) > 0.6
    pad[:, 0] = False          # every row keeps a key (torch gives NaN for a row with none)
    return pad


def layout(m):
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items()]


# ---- layout -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda L: L.nn.TransformerEncoderLayer(E, H, FF),
    lambda L: L.nn.TransformerDecoderLayer(E, H, FF, bias=False),
    lambda L: L.nn.TransformerEncoder(L.nn.TransformerEncoderLayer(E, H, FF), 2, norm=L.nn.LayerNorm(E)),
    lambda L: L.nn.TransformerDecoder(L.nn.TransformerDecoderLayer(E, H, FF), 3),
    lambda L: L.nn.Transformer(E, H, 2, 1, FF),
], ids=["encoder_layer", "decoder_layer_no_bias", "encoder", "decoder", "transformer"])
def test_state_dict_layout_matches_torch_and_loads_both_ways(make):
    ours, theirs = build(make)
    assert layout(ours) == layout(theirs)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ours.state_dict().items()})


def test_stacks_copy_the_layer_and_transformer_redraws_matrices_with_xavier():
    layer = nn.TransformerEncoderLayer(E, H, FF)
    enc = nn.TransformerEncoder(layer, 3)
    w = [enc.layers[i].linear1.weight.numpy() for i in range(3)]
    assert all(np.array_equal(w[0], x) for x in w) and enc.layers[0] is not layer   # deep copies, as torch's
    t = nn.Transformer(64, 4, 1, 1, 256)
    bound = math.sqrt(6 / (256 + 64))
    w = t.encoder.layers[0].linear1.weight.numpy()
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    # the 1-d parameters keep their layer defaults (LayerNorm ones, zero in-projection biases)
    np.testing.assert_array_equal(t.decoder.norm.weight.numpy(), np.ones(64, np.float32))
    np.testing.assert_array_equal(t.encoder.layers[0].self_attn.in_proj_bias.numpy(), np.zeros(192, np.float32))


# ---- values and gradients against torch -----------------------------------------------------------

LAYER_FORMS = [dict(), dict(norm_first=True), dict(activation="gelu"), dict(activation="callable"),
               dict(batch_first=True, norm_first=True, activation="gelu"), dict(bias=False, layer_norm_eps=1e-3)]


def _layer_kw(L, form):
    return dict(form, dropout=0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", LAYER_FORMS, ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()) or "default")
def test_encoder_layer_matches_torch(form, dtype):
    if form.get("activation") == "callable":      # the same function in both libraries
        mk = lambda L: L.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=L.tanh)   # noqa: E731
    else:
        mk = lambda L: L.nn.TransformerEncoderLayer(E, H, FF, **_layer_kw(L, form))   # noqa: E731
    ours, theirs = build(mk, dtype)
    bf = form.get("batch_first", False)
    src = arr(*((2, 5) if bf else (5, 2)), E, dtype=dtype)
    compare(ours, theirs, [src], dtype=dtype)


@pytest.mark.parametrize("masks", ["causal", "causal_hint", "padding", "both", "bool_mask", "unbatched"])
def test_encoder_layer_masks_match_torch(masks):
    ours, theirs = build(lambda L: L.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True))
    b, s = 3, 5
    src = arr(s, E) if masks == "unbatched" else arr(b, s, E)
    kw = {}
    if masks in ("causal", "causal_hint", "both", "unbatched"):
        kw["src_mask"] = causal(s)
    if masks == "causal_hint":
        kw["is_causal"] = True
    if masks in ("padding", "both"):
        kw["src_key_padding_mask"] = padding(b, s)
    if masks == "bool_mask":
        kw["src_mask"] = np.triu(np.ones((s, s), bool), 1)
    compare(ours, theirs, [src], kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", LAYER_FORMS[:3] + LAYER_FORMS[4:],
                         ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()) or "default")
def test_decoder_layer_matches_torch(form, dtype):
    ours, theirs = build(lambda L: L.nn.TransformerDecoderLayer(E, H, FF, **_layer_kw(L, form)), dtype)
    bf = form.get("batch_first", False)
    b, t, s = 2, 4, 6
    tgt = arr(*((b, t) if bf else (t, b)), E, dtype=dtype)
    mem = arr(*((b, s) if bf else (s, b)), E, dtype=dtype)
    kw = dict(tgt_mask=causal(t, dtype), tgt_is_causal=True, memory_key_padding_mask=padding(b, s),
              tgt_key_padding_mask=padding(b, t))
    compare(ours, theirs, [tgt, mem], kw, dtype=dtype)


def test_encoder_and_decoder_stacks_match_torch():
    ours, theirs = build(lambda L: L.nn.TransformerEncoder(
        L.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, norm_first=True), 2, norm=L.nn.LayerNorm(E)))
    compare(ours, theirs, [arr(5, 2, E)], dict(mask=causal(5), src_key_padding_mask=padding(2, 5)))
    compare(ours, theirs, [arr(5, 2, E)], dict(mask=causal(5), is_causal=True))
    ours, theirs = build(lambda L: L.nn.TransformerDecoder(
        L.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation="gelu"), 2))
    compare(ours, theirs, [arr(4, 2, E), arr(6, 2, E)], dict(tgt_mask=causal(4), memory_mask=np.zeros((4, 6),
                                                                                                     np.float32)))


@pytest.mark.parametrize("form,dtype", [("plain", "float32"), ("plain", "float64"), ("batch_first_masks", "float32"),
                                        ("unbatched", "float32"), ("length_1", "float32")])
def test_transformer_matches_torch(form, dtype):
    bf = form == "batch_first_masks"
    layers = 2 if form == "plain" else 1
    ours, theirs = build(lambda L: L.nn.Transformer(E, H, layers, layers, FF, dropout=0.0, batch_first=bf), dtype)
    b, s, t = 2, 5, 1 if form == "length_1" else 4
    if form == "unbatched":
        src, tgt = arr(s, E, dtype=dtype), arr(t, E, dtype=dtype)
    else:
        src, tgt = arr(*((b, s) if bf else (s, b)), E, dtype=dtype), arr(*((b, t) if bf else (t, b)), E, dtype=dtype)
    kw = dict(tgt_mask=nn.Transformer.generate_square_subsequent_mask(t, dtype=dtype).numpy())
    if bf:
        kw.update(src_key_padding_mask=padding(b, s), memory_key_padding_mask=padding(b, s),
                  tgt_key_padding_mask=padding(b, t), tgt_is_causal=True)
    compare(ours, theirs, [src, tgt], kw, dtype=dtype)


def test_generate_square_subsequent_mask_matches_torch():
    for n in (0, 1, 4):
        np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(n).numpy(),
                                      torch.nn.Transformer.generate_square_subsequent_mask(n).numpy())
    m = nn.Transformer.generate_square_subsequent_mask(3, dtype=lumina.float64)
    assert m.dtype.name == "float64"


# ---- compile, train mode ---------------------------------------------------------------------------

def test_compiled_transformer_training_step_matches_torch():
    ours, theirs = build(lambda L: L.nn.Transformer(E, H, 1, 2, FF, dropout=0.0, norm_first=True, batch_first=True))
    src, tgt, cot = arr(2, 5, E), arr(2, 4, E), arr(2, 4, E)
    mask, pad = causal(4), padding(2, 5)
    traces = []

    def loss(src, tgt):
        out = ours(src, tgt, tgt_mask=lumina.tensor(mask), src_key_padding_mask=lumina.tensor(pad))
        return (out * lumina.tensor(cot)).sum()

    @lumina.compile
    def step(src, tgt):
        traces.append(1)
        for p in ours.parameters():
            p.grad = None
        value, grads = lumina.value_and_grad(loss, (0, 1))(src, tgt)
        loss(src, tgt).backward()
        return value, grads

    for _ in range(2):
        value, grads = step(src, tgt)
    assert len(traces) == 1
    ts, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    tv = (theirs(ts, tt, tgt_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(pad))
          * torch.tensor(cot)).sum()
    tv.backward()
    assert value.item() == pytest.approx(tv.item(), rel=1e-5, abs=1e-5)
    np.testing.assert_allclose(grads[0].numpy(), ts.grad.numpy(), **GTOL["float32"])
    np.testing.assert_allclose(grads[1].numpy(), tt.grad.numpy(), **GTOL["float32"])
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **GTOL["float32"], err_msg=k)


def test_dropout_acts_in_training_mode_only():
    ours, theirs = build(lambda L: L.nn.TransformerEncoderLayer(E, H, FF, dropout=0.5))
    x = arr(5, 2, E)
    a, b = ours(lumina.tensor(x)).numpy(), ours(lumina.tensor(x)).numpy()
    assert not np.allclose(a, b)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        want = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours(lumina.tensor(x)).numpy(), want, **TOL["float32"])
    # p = 1: every attention weight and feed-forward activation dropped, so only the residuals remain
    ours, theirs = build(lambda L: L.nn.TransformerEncoderLayer(E, H, FF, dropout=1.0))
    compare(ours, theirs, [x])


def test_gradients_match_finite_differences():
    ours, _ = build(lambda L: L.nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0, norm_first=True), "float64")
    tgt, mem, cot = arr(3, 2, 4, dtype="float64"), arr(2, 2, 4, dtype="float64"), arr(3, 2, 4, dtype="float64")
    mask = lumina.tensor(causal(3, "float64"))

    def f(tgt, mem):
        return (ours(tgt, mem, tgt_mask=mask) * lumina.tensor(cot)).sum()

    grads = lumina.grad(f, (0, 1))(tgt, mem)
    compiled = lumina.compile(f)
    eps = 1e-6
    for i, g in enumerate(grads):
        base = [tgt, mem]
        v = RNG.standard_normal(base[i].shape)
        plus = [a + eps * v if j == i else a for j, a in enumerate(base)]
        minus = [a - eps * v if j == i else a for j, a in enumerate(base)]
        fd = (compiled(*plus).item() - compiled(*minus).item()) / (2 * eps)
        assert float((g.numpy() * v).sum()) == pytest.approx(fd, rel=1e-6, abs=1e-8)


# ---- errors -----------------------------------------------------------------------------------------

def test_errors_name_the_module_and_shapes():
    layer = nn.TransformerEncoderLayer(E, H, FF)
    with pytest.raises(LuminaShapeError, match=r"TransformerEncoderLayer\(d_model=8, nhead=2\): src must be "
                                                r"\[S, N, 8\].*got f32\[5,2,6\]"):
        layer(lumina.tensor(arr(5, 2, 6)))
    with pytest.raises(LuminaShapeError, match=r"TransformerEncoderLayer\(d_model=8, nhead=2\): "
                                                r"MultiheadAttention\(8, num_heads=2\): attn_mask f32\[4,4\]"):
        layer(lumina.tensor(arr(5, 2, E)), src_mask=lumina.tensor(causal(4)))
    with pytest.raises(LuminaValueError, match=r"TransformerEncoderLayer.*need a mask when is_causal=True"):
        layer(lumina.tensor(arr(5, 2, E)), is_causal=True)
    with pytest.raises(LuminaTypeError, match=r"TransformerEncoderLayer\(d_model=8, nhead=2\): src f64\[5,2,8\] does "
                                               r"not have the weights' dtype float32"):
        layer(lumina.tensor(arr(5, 2, E, dtype="float64")))
    dec = nn.TransformerDecoderLayer(E, H, FF)
    with pytest.raises(LuminaShapeError, match=r"TransformerDecoderLayer\(d_model=8, nhead=2\): memory must be"):
        dec(lumina.tensor(arr(4, 2, E)), lumina.tensor(arr(4, 2, 3, E)))
    t = nn.Transformer(E, H, 1, 1, FF)
    with pytest.raises(LuminaShapeError, match=r"Transformer\(d_model=8, nhead=2\): the batch number of src and "
                                                r"tgt must be equal, got src f32\[5,2,8\] and tgt f32\[4,3,8\]"):
        t(lumina.tensor(arr(5, 2, E)), lumina.tensor(arr(4, 3, E)))
    with pytest.raises(LuminaValueError, match=r"TransformerEncoderLayer: activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
    with pytest.raises(LuminaValueError, match=r"embed_dim 8 must be divisible by num_heads 3"):
        nn.TransformerDecoderLayer(E, 3)
    with pytest.raises(LuminaTypeError, match=r"TransformerEncoder: expects a TransformerEncoderLayer, got Linear"):
        nn.TransformerEncoder(nn.Linear(2, 2), 2)
