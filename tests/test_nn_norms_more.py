"""Group, instance, RMS and local-response normalisation (``lumina.nn.functional`` and the modules,
plus ``BatchNorm3d``) against PyTorch CPU: values and gradients in float64 (torch and finite
differences through ``@lumina.compile``), running statistics in training and eval mode, NaN / inf
inputs, the modules' parameters, buffers and reprs, and the errors (LuminaError)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lumina
from gradcheck import check
from lumina import LuminaShapeError, LuminaTypeError, LuminaValueError

RNG = np.random.default_rng(5)


def arr(*shape, scale=1.0):
    return RNG.standard_normal(shape) * scale


X4 = arr(2, 6, 3, 4, scale=2) + 1.0


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
@pytest.mark.parametrize("affine", [False, True])
def test_group_norm_matches_torch(groups, affine):
    if affine:
        check(lambda L, F, x, w, b: F.group_norm(x, groups, w, b, eps=1e-3), X4, arr(6), arr(6))
    else:
        check(lambda L, F, x: F.group_norm(x, groups), X4)
    check(lambda L, F, x: F.group_norm(x, groups), arr(3, 6))     # no spatial dims


def test_instance_norm_matches_torch():
    check(lambda L, F, x, w, b: F.instance_norm(x, weight=w, bias=b), X4, arr(6), arr(6))
    check(lambda L, F, x: F.instance_norm(x), arr(2, 3, 5))


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_running_statistics_match_torch(use_input_stats):
    lm, lv = lumina.tensor(arr(6)), lumina.tensor(np.abs(arr(6)) + 0.5)
    tm, tv = torch.tensor(lm.numpy().copy()), torch.tensor(lv.numpy().copy())
    out = lumina.nn.functional.instance_norm(lumina.tensor(X4), lm, lv, use_input_stats=use_input_stats,
                                             momentum=0.3)
    ref = torch.nn.functional.instance_norm(torch.tensor(X4), tm, tv, use_input_stats=use_input_stats, momentum=0.3)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lm.numpy(), tm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lv.numpy(), tv.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape,eps", [((3,), None), ((3,), 1e-3), ((4, 3), None), ((4, 3), 0.5)])
def test_rms_norm_matches_torch(shape, eps):
    x = arr(2, 4, 3)
    check(lambda L, F, x, w: F.rms_norm(x, list(shape), w, eps), x, arr(*shape))
    check(lambda L, F, x: F.rms_norm(x, list(shape), eps=eps), x)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_rms_norm_default_eps_is_the_dtypes(dtype):
    x = np.array([[1e-4, -2e-4, 0.0], [3.0, -1.0, 2.0]], np.float32)
    mine = lumina.nn.functional.rms_norm(lumina.tensor(x).to(getattr(lumina, dtype)), [3])
    theirs = torch.nn.functional.rms_norm(torch.tensor(x).to(getattr(torch, dtype)), [3])
    assert mine.dtype == getattr(lumina, dtype)
    np.testing.assert_allclose(mine.float().numpy(), theirs.float().numpy(), rtol=1e-2 if dtype != "float32" else 1e-6)


@pytest.mark.parametrize("size,kw", [(1, {}), (2, {"alpha": 0.5}), (3, {"alpha": 0.3, "beta": 1.5, "k": 2.0}),
                                     (5, {"alpha": 1.0})])
def test_local_response_norm_matches_torch(size, kw):
    check(lambda L, F, x: F.local_response_norm(x, size, **kw), X4)
    check(lambda L, F, x: F.local_response_norm(x, size, **kw), arr(2, 4, 3))          # 3-D
    check(lambda L, F, x: F.local_response_norm(x, size, **kw), arr(1, 3, 2, 2, 2))    # 5-D


@pytest.mark.parametrize("name,args", [("group_norm", (2,)), ("instance_norm", ()), ("rms_norm", ([4],)),
                                       ("local_response_norm", (2,))])
def test_nan_and_inf_inputs_match_torch(name, args):
    """A NaN or inf poisons its own group / instance / row (and LRN window), as in torch."""
    x = arr(3, 4) if name == "rms_norm" else arr(2, 4, 4)
    x.flat[1], x.flat[-3] = math.nan, math.inf
    mine = getattr(lumina.nn.functional, name)(lumina.tensor(x), *args).numpy()
    theirs = getattr(torch.nn.functional, name)(torch.tensor(x), *args).numpy()
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    ok = ~np.isnan(theirs)
    np.testing.assert_allclose(mine[ok], theirs[ok], rtol=1e-10, atol=1e-12)


def test_group_norm_of_huge_values_does_not_overflow():
    x = np.array([[[1e300, -1e300, 1e300, 1.0]]]).reshape(1, 2, 2)
    out = lumina.nn.functional.group_norm(lumina.tensor(x), 1).numpy()
    # scale-invariant, eps negligible at that scale
    ref = torch.nn.functional.group_norm(torch.tensor(x / 1e300), 1, eps=0.0).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def _pair(name, *args, **kw):
    lm, tm = getattr(lumina.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw).double()
    lm.double()
    for p in tm.parameters():
        with torch.no_grad():
            p.copy_(torch.tensor(arr(*p.shape)))
    lm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    return lm, tm


@pytest.mark.parametrize("name,args,kw,shape", [
    ("GroupNorm", (3, 6), {}, (2, 6, 3)), ("GroupNorm", (2, 6), {"affine": False}, (2, 6, 2, 2)),
    ("InstanceNorm1d", (4,), {"affine": True, "track_running_stats": True}, (2, 4, 5)),
    ("InstanceNorm1d", (4,), {}, (4, 5)),
    ("InstanceNorm2d", (4,), {"affine": True}, (2, 4, 3, 3)),
    ("InstanceNorm3d", (4,), {"track_running_stats": True, "momentum": 0.5}, (4, 2, 3, 2)),
    ("RMSNorm", ([3, 2],), {}, (2, 4, 3, 2)), ("RMSNorm", (2,), {"eps": 1e-2, "elementwise_affine": False}, (3, 2)),
    ("LocalResponseNorm", (3,), {"alpha": 0.2}, (2, 5, 3)),
    ("BatchNorm3d", (3,), {}, (2, 3, 2, 2, 2)), ("BatchNorm3d", (3,), {"momentum": None}, (2, 3, 1, 2, 2)),
])
def test_norm_modules_match_torch_in_training_and_eval(name, args, kw, shape):
    lm, tm = _pair(name, *args, **kw)
    assert repr(lm) == repr(tm)
    assert sorted(dict(lm.named_parameters())) == sorted(dict(tm.named_parameters()))
    assert sorted(dict(lm.named_buffers())) == sorted(dict(tm.named_buffers()))
    for mode in ("train", "train", "eval"):
        lm.train(mode == "train")
        tm.train(mode == "train")
        x = arr(*shape, scale=2)
        lx, tx = lumina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        c = arr(*shape)
        (lm(lx) * lumina.tensor(c)).sum().backward()
        (tm(tx) * torch.tensor(c)).sum().backward()
        np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
        for key, value in tm.state_dict().items():
            np.testing.assert_allclose(np.asarray(lm.state_dict()[key]), value.numpy(), rtol=1e-10, err_msg=key)
        for (k, p), (_, q) in zip(sorted(lm.named_parameters()), sorted(tm.named_parameters())):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)
            p.grad = None
            q.grad = None


def test_instance_norm_module_compiled_training_step_carries_the_running_stats():
    m = lumina.nn.InstanceNorm1d(3, track_running_stats=True)
    t = torch.nn.InstanceNorm1d(3, track_running_stats=True)
    f = lumina.compile(lambda x: m(x).sum())
    for _ in range(3):
        x = arr(2, 3, 4)
        f(x)
        t(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(m.running_mean.numpy(), t.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(m.running_var.numpy(), t.running_var.numpy(), rtol=1e-5)


def test_group_norm_inside_compile_matches_eager():
    w, b = lumina.tensor(arr(6)), lumina.tensor(arr(6))
    f = lumina.compile(lambda x: lumina.nn.functional.group_norm(x, 3, w, b))
    np.testing.assert_allclose(f(X4).numpy(), lumina.nn.functional.group_norm(lumina.tensor(X4), 3, w, b).numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call,error", [
    (lambda F: F.group_norm(lumina.tensor(arr(2, 5, 3)), 2), LuminaShapeError),
    (lambda F: F.group_norm(lumina.tensor(arr(3)), 1), LuminaShapeError),
    (lambda F: F.group_norm(lumina.tensor(arr(2, 4)), 2, lumina.tensor(arr(3))), LuminaShapeError),
    (lambda F: F.group_norm(lumina.tensor(arr(1, 2)), 2), LuminaValueError),
    (lambda F: F.group_norm(lumina.tensor(np.ones((2, 4), np.int64)), 2), LuminaTypeError),
    (lambda F: F.instance_norm(lumina.tensor(arr(2, 3, 1))), LuminaValueError),
    (lambda F: F.instance_norm(lumina.tensor(arr(2, 3, 4)), lumina.tensor(arr(3))), LuminaValueError),
    (lambda F: F.instance_norm(lumina.tensor(arr(2, 3, 4)), use_input_stats=False), LuminaValueError),
    (lambda F: F.instance_norm(lumina.tensor(arr(2, 3, 4)), weight=lumina.tensor(arr(2))), LuminaShapeError),
    (lambda F: F.rms_norm(lumina.tensor(arr(2, 3)), [4]), LuminaShapeError),
    (lambda F: F.rms_norm(lumina.tensor(arr(2, 3)), [3], lumina.tensor(arr(4))), LuminaShapeError),
    (lambda F: F.local_response_norm(lumina.tensor(arr(2, 3)), 2), LuminaShapeError),
    (lambda F: lumina.nn.GroupNorm(4, 6), LuminaValueError),
    (lambda F: lumina.nn.InstanceNorm1d(3)(lumina.tensor(arr(3))), LuminaShapeError),
    (lambda F: lumina.nn.InstanceNorm2d(3, affine=True)(lumina.tensor(arr(2, 4, 2, 2))), LuminaShapeError),
    (lambda F: lumina.nn.BatchNorm3d(3)(lumina.tensor(arr(2, 3, 2, 2))), LuminaShapeError),
])
def test_bad_input_raises_lumina_errors(call, error):
    with pytest.raises(error):
        call(lumina.nn.functional)
