"""The ``Module`` API beside torch's: traversal (``modules``, ``children``, ``named_*``),
``apply``, forward hooks and their handles, ``to`` / ``half`` / ``float`` / ``double``,
``requires_grad_``, ``zero_grad``, ``load_state_dict``'s ``_IncompatibleKeys``, ``copy.deepcopy``
and ``pickle``; the containers ``ModuleDict``, ``ParameterList``, ``ParameterDict`` and the layers
``Identity``, ``Unflatten``."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import lumina
from lumina import LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError


def build(L):
    L.manual_seed(0) if L is lumina else torch.manual_seed(0)
    shared = L.nn.Linear(3, 3)
    return L.nn.Sequential(shared, L.nn.ReLU(), L.nn.Sequential(shared, L.nn.BatchNorm1d(3)), L.nn.Linear(3, 2))


def same_weights(lm, tm):
    """Load torch's state into lumina (the models are built alike)."""
    lm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def test_traversal_names_match_torch():
    lm, tm = build(lumina), build(torch)
    assert [n for n, _ in lm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in lm.named_modules(remove_duplicate=False)] == \
        [n for n, _ in tm.named_modules(remove_duplicate=False)]
    assert [type(m).__name__ for m in lm.modules()] == [type(m).__name__ for m in tm.modules()]
    assert [n for n, _ in lm.named_children()] == [n for n, _ in tm.named_children()]
    assert [type(m).__name__ for m in lm.children()] == [type(m).__name__ for m in tm.children()]
    assert [n for n, _ in lm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert list(lm.state_dict()) == list(tm.state_dict())
    order_l, order_t = [], []
    lm.apply(lambda m: order_l.append(type(m).__name__))
    tm.apply(lambda m: order_t.append(type(m).__name__))
    assert order_l == order_t


def test_forward_hooks_match_torch():
    for L in (lumina, torch):
        m = L.nn.Linear(2, 2)
        seen = []
        h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        h2 = m.register_forward_hook(lambda mod, args, out: out + 1)
        h3 = m.register_forward_hook(lambda mod, args, out: seen.append("first"), prepend=True)
        h4 = m.register_forward_pre_hook(lambda mod, args, kwargs: (args, kwargs), with_kwargs=True)
        x = L.ones(1, 2)
        with_hooks = m(x)
        for h in (h1, h2, h3, h4):
            h.remove()
        h1.remove()     # a second remove does nothing
        plain = m(x)
        assert seen == ["first"]
        np.testing.assert_allclose(np.asarray(with_hooks.detach().numpy()),
                                   np.asarray(m(x * 2).detach().numpy()) + 1, rtol=1e-6)
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert plain.shape == with_hooks.shape


def test_forward_hook_always_call_and_handle_as_context_manager():
    m = lumina.nn.Linear(2, 2)
    calls = []
    with m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True):
        with pytest.raises(LuminaError):
            m(lumina.ones(1, 3))
    assert calls == [None] and not m._forward_hooks


def test_dtype_casts_requires_grad_and_zero_grad():
    m = build(lumina)
    for method, name in (("double", "float64"), ("half", "float16"), ("float", "float32")):
        getattr(m, method)()
        assert {p.dtype.name for p in m.parameters()} == {name}
    assert m[2][1].num_batches_tracked.dtype.name == "int64"   # integers are not cast, as torch
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    m(lumina.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum().item()) == 0.0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_load_state_dict_returns_incompatible_keys_as_torch():
    lm, tm = build(lumina), build(torch)
    state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    state.pop("3.bias")
    state["extra"] = np.zeros(1, np.float32)
    lr = lm.load_state_dict(state, strict=False)
    tr = tm.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert lr == tuple(tr) and lr.missing_keys == tr.missing_keys and lr.unexpected_keys == tr.unexpected_keys
    assert type(lr).__name__ == "_IncompatibleKeys"
    ok = lm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert ok.missing_keys == [] and ok.unexpected_keys == []
    with pytest.raises(RuntimeError):
        tm.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with pytest.raises(LuminaValueError, match=r"3\.bias.*extra"):
        lm.load_state_dict(state)
    state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    state["3.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(LuminaShapeError, match="3.weight"):
        lm.load_state_dict(state, strict=False)


def _update_in_place(L, m, opt, x):
    """One ``opt`` step and a BatchNorm statistics update (both in place), then ``mul_`` / ``add_``
    under no_grad: every entry of the state changes."""
    opt.zero_grad()
    (m(x) ** 2).sum().backward()
    opt.step()
    with L.no_grad():
        for p in m.parameters():
            p.mul_(2.0).add_(0.5)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_state_dict_holds_detached_tensors_that_follow_in_place_updates_as_torch(compiled):
    """torch's ``state_dict()`` values are the tensors detached: plain tensors of the entries'
    dtypes and shapes, without grad, sharing the values, so a later in-place update (an optimizer
    step, BatchNorm's running statistics, ``p.mul_``) shows through them; ``.clone()`` and
    ``copy.deepcopy`` keep snapshots."""
    lm, tm = build(lumina), build(torch)
    same_weights(lm, tm)
    lm.train(), tm.train()
    lsd, tsd = lm.state_dict(), tm.state_dict()
    assert list(lsd) == list(tsd)
    for k, t in tsd.items():
        v = lsd[k]
        assert type(v) is lumina.Tensor and type(t) is torch.Tensor, k
        assert str(v.dtype) == str(t.dtype).replace("torch.", "lumina.") and tuple(v.shape) == tuple(t.shape), k
        assert v.requires_grad is t.requires_grad is False, k
    assert str(lsd["2.1.num_batches_tracked"].dtype) == "lumina.int64"
    lsnap, tsnap = {k: v.clone() for k, v in lsd.items()}, {k: v.clone() for k, v in tsd.items()}
    ldeep, tdeep = copy.deepcopy(lsd), copy.deepcopy(tsd)

    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    lopt, topt = lumina.optim.SGD(lm.parameters(), lr=0.1), torch.optim.SGD(tm.parameters(), lr=0.1)
    if compiled:
        lumina.compile(lambda x: _update_in_place(lumina, lm, lopt, x))(x)
    else:
        _update_in_place(lumina, lm, lopt, lumina.tensor(x))
    _update_in_place(torch, tm, topt, torch.tensor(x))
    live = dict(lm.state_dict(keep_vars=True))
    for k, t in tsd.items():   # the values after the update, through the state_dict taken before it
        np.testing.assert_allclose(lsd[k].numpy(), t.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
        np.testing.assert_array_equal(lsd[k].numpy(), live[k].detach().numpy(), err_msg=k)
        assert not np.array_equal(tsnap[k].numpy(), t.numpy()), k   # torch's state did change
    for k, t in tsnap.items():   # the snapshots hold the values before it
        np.testing.assert_array_equal(lsnap[k].numpy(), t.numpy(), err_msg=k)
        np.testing.assert_array_equal(ldeep[k].numpy(), tdeep[k].numpy(), err_msg=k)


def test_state_dict_keep_vars_and_load_state_dict_sources_as_torch():
    """``keep_vars=True`` gives the Parameters and buffers themselves (torch's); ``load_state_dict``
    takes lumina tensors, torch tensors and Parameters, NumPy arrays; anything else is a
    LuminaTypeError naming the key (torch's RuntimeError "expected torch.Tensor ... received")."""
    lm, tm = build(lumina), build(torch)
    lkeep, tkeep = lm.state_dict(keep_vars=True), tm.state_dict(keep_vars=True)
    lnamed = dict(lm.named_parameters(remove_duplicate=False)) | dict(lm.named_buffers(remove_duplicate=False))
    tnamed = dict(tm.named_parameters(remove_duplicate=False)) | dict(tm.named_buffers(remove_duplicate=False))
    assert list(lkeep) == list(tkeep)
    for k in tkeep:
        assert lkeep[k] is lnamed[k] and tkeep[k] is tnamed[k], k
        assert isinstance(lkeep[k], lumina.nn.Parameter) == isinstance(tkeep[k], torch.nn.Parameter), k
    assert lkeep["0.weight"] is lkeep["2.0.weight"] and tkeep["0.weight"] is tkeep["2.0.weight"]   # shared layer

    x = lumina.tensor(np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32))
    lm.eval(), tm.eval()
    for source in (tkeep, tm.state_dict(), {k: v.detach().numpy() for k, v in tkeep.items()}):
        fresh = build(lumina).eval()
        fresh.load_state_dict(source)
        np.testing.assert_allclose(fresh(x).numpy(), tm(torch.tensor(x.numpy())).detach().numpy(),
                                   rtol=1e-6, atol=1e-6)
    fresh = build(lumina).eval()
    fresh.load_state_dict(tm.state_dict())
    lm.load_state_dict(fresh.state_dict())   # lumina tensors
    np.testing.assert_array_equal(lm(x).numpy(), fresh(x).numpy())
    bad = dict(lm.state_dict(), **{"3.bias": "abc"})
    with pytest.raises(RuntimeError, match="3.bias"):
        tm.load_state_dict(dict(tm.state_dict(), **{"3.bias": "abc"}))
    with pytest.raises(LuminaTypeError, match=r"load_state_dict.*'3\.bias'.*str"):
        lm.load_state_dict(bad)
    half, thalf = lumina.nn.Linear(3, 2).to(lumina.bfloat16), torch.nn.Linear(3, 2).to(torch.bfloat16)
    half.load_state_dict(thalf.state_dict())   # bfloat16 read exactly
    for k, t in thalf.state_dict().items():
        np.testing.assert_array_equal(half.state_dict()[k].float().numpy(), t.float().numpy(), err_msg=k)
    with pytest.raises(LuminaTypeError, match=r"'weight'.*float8_e4m3fn.*\[2, 3\]"):
        half.load_state_dict(dict(thalf.state_dict(), weight=torch.zeros(2, 3, dtype=torch.float8_e4m3fn)))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_deepcopy_and_pickle_keep_weights_buffers_and_sharing(how):
    lm, tm = build(lumina), build(torch)
    same_weights(lm, tm)
    lm.train()
    lm(lumina.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)))   # buffers move
    lm[3].weight = lumina.nn.Parameter(lm[3].weight * 1.0)     # lazy arithmetic behind it, realised on save
    m2 = copy.deepcopy(lm) if how == "deepcopy" else pickle.loads(pickle.dumps(lm))
    for (n1, a), (n2, b) in zip(lm.state_dict().items(), m2.state_dict().items()):
        assert n1 == n2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert m2[0] is m2[2][0] and m2[0] is not lm[0]          # the shared layer stays shared
    assert isinstance(m2[0].weight, lumina.nn.Parameter) and m2[0].weight.requires_grad
    assert m2[0].weight is m2[0]._parameters["weight"]
    assert m2[2][1].running_mean is m2[2][1]._buffers["running_mean"]
    x = lumina.ones(2, 3)
    lm.eval()
    m2.eval()
    np.testing.assert_array_equal(lm(x).numpy(), m2(x).numpy())
    m2(x).sum().backward()
    assert m2[3].weight.grad is not None and lm[3].weight.grad is None


def test_module_dict_matches_torch():
    for L in (lumina, torch):
        d = L.nn.ModuleDict({"b": L.nn.Linear(2, 2), "a": L.nn.ReLU()})
        d["c"] = L.nn.Linear(2, 1)
        d.update([("d", L.nn.Tanh())])
        assert list(d) == list(d.keys()) == ["b", "a", "c", "d"] and len(d) == 4 and "c" in d
        assert [n for n, _ in d.named_parameters()] == ["b.weight", "b.bias", "c.weight", "c.bias"]
        assert type(d.pop("a")).__name__ == "ReLU" and "a" not in d
        del d["d"]
        assert list(d.keys()) == ["b", "c"]
    with pytest.raises(LuminaTypeError):
        lumina.nn.ModuleDict({"x": 3})
    with pytest.raises(LuminaError):
        lumina.nn.ModuleDict()["missing"]


def test_parameter_list_and_dict_match_torch():
    names = {}
    for L in (lumina, torch):
        pl = L.nn.ParameterList([L.nn.Parameter(L.ones(2)), L.zeros(3)])
        pl.append(L.ones(1))
        assert len(pl) == 3 and all(isinstance(p, L.nn.Parameter) for p in pl)
        pd = L.nn.ParameterDict({"w": L.ones(2)})
        pd["v"] = L.nn.Parameter(L.zeros(1))
        holder = L.nn.Module()
        holder.pl, holder.pd = pl, pd
        names[L.__name__] = [n for n, _ in holder.named_parameters()]
        assert list(pd.keys()) == ["w", "v"] and isinstance(pd["w"], L.nn.Parameter)
        assert tuple(pl[-1].shape) == (1,) and len(pl[1:]) == 2
    assert names["lumina"] == names["torch"]
    with pytest.raises(LuminaError):
        lumina.nn.ParameterList()[0]
    with pytest.raises(LuminaTypeError):
        lumina.nn.ParameterDict({1: lumina.ones(1)})


def test_identity_and_unflatten_match_torch():
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    for dim, sizes in ((1, (3, 4)), (-1, [2, -1, 3]), (0, (1, 2))):
        lo = lumina.nn.Unflatten(dim, sizes)(lumina.tensor(x))
        to = torch.nn.Unflatten(dim, sizes)(torch.tensor(x))
        np.testing.assert_array_equal(lo.numpy(), to.numpy())
    assert lumina.nn.Identity(3, k=1)(lumina.tensor(x)).shape == (2, 12)
    with pytest.raises(LuminaShapeError):
        lumina.nn.Unflatten(1, (5, 2))(lumina.tensor(x))
    with pytest.raises(LuminaTypeError):
        lumina.nn.Unflatten(1, 12)
    with pytest.raises(RuntimeError):
        torch.nn.Unflatten(1, (5, 2))(torch.tensor(x))
