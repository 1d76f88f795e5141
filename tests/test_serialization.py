"""lumina.save / lumina.load: safetensors files that safetensors.torch reads and writes with the
same tensors, torch.save checkpoints, state dicts through Module.load_state_dict and
Optimizer.load_state_dict, exact dtype round trips, and the errors for bad input."""
import io
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import lumina
from lumina.errors import LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError

DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16,
          "int32": np.int32, "int64": np.int64, "bool": np.bool_}


def sample(dtype: str, shape=(3, 4), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("int"):
        return rng.integers(-2**30, 2**30, shape).astype(DTYPES[dtype])
    x = rng.standard_normal(shape) * 100
    x.flat[:3] = [np.nan, np.inf, -0.0]   # special values must survive bit for bit
    return x.astype(DTYPES[dtype])


def bits(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1).view(np.uint8) if a.dtype != np.bool_ else a


def torch_of(a: np.ndarray) -> torch.Tensor:
    if a.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(a.copy())


def numpy_of(t: torch.Tensor) -> np.ndarray:
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_a_lumina_file_loads_in_safetensors_torch_and_back_bit_for_bit(tmp_path, dtype):
    arrays = {"w": sample(dtype), "b": sample(dtype, (5,), 1), "s": sample(dtype, (), 2)}
    path = tmp_path / "m.safetensors"
    lumina.save({k: lumina.tensor(a) for k, a in arrays.items()}, path)
    theirs = load_file(path)
    assert sorted(theirs) == sorted(arrays)
    for k, a in arrays.items():
        assert str(theirs[k].dtype) == f"torch.{dtype}" and tuple(theirs[k].shape) == a.shape
        np.testing.assert_array_equal(bits(numpy_of(theirs[k])), bits(a))
    back = lumina.load(path)
    assert list(back) == list(arrays)
    for k, a in arrays.items():
        assert back[k].dtype.name == dtype and tuple(back[k].shape) == a.shape
        np.testing.assert_array_equal(bits(np.asarray(back[k].numpy())), bits(a))


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_a_safetensors_torch_file_loads_into_lumina(tmp_path, dtype):
    arrays = {"layer.0.weight": sample(dtype, (2, 3)), "layer.0.bias": sample(dtype, (2,), 3)}
    path = tmp_path / "t.safetensors"
    save_file({k: torch_of(a) for k, a in arrays.items()}, str(path))
    mine = lumina.load(str(path))
    assert sorted(mine) == sorted(arrays)
    for k, a in arrays.items():
        assert isinstance(mine[k], lumina.Tensor) and mine[k].dtype.name == dtype
        np.testing.assert_array_equal(bits(np.asarray(mine[k].numpy())), bits(a))


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_a_torch_save_checkpoint_loads(tmp_path, dtype):
    arrays = {"a": sample(dtype), "nested": {"b": sample(dtype, (2,), 4)}}
    path = tmp_path / "ckpt.pt"
    torch.save({"a": torch_of(arrays["a"]), "nested": {"b": torch_of(arrays["nested"]["b"])}, "n": 3}, path)
    mine = lumina.load(path)
    assert mine["n"] == 3
    for got, a in [(mine["a"], arrays["a"]), (mine["nested"]["b"], arrays["nested"]["b"])]:
        assert got.dtype.name == dtype
        np.testing.assert_array_equal(bits(np.asarray(got.numpy())), bits(a))


def test_a_single_tensor_and_a_file_object(tmp_path):
    x = lumina.tensor(sample("float32"))
    buf = io.BytesIO()
    lumina.save(x, buf)
    buf.seek(0)
    y = lumina.load(buf)
    assert isinstance(y, lumina.Tensor)
    np.testing.assert_array_equal(bits(y.numpy()), bits(x.numpy()))
    lumina.save(x, tmp_path / "x")
    np.testing.assert_array_equal(load_file(tmp_path / "x")["tensor"].numpy(), np.asarray(x.numpy()))


def test_nested_structures_round_trip(tmp_path):
    obj = {"state": {0: {"step": lumina.tensor(np.float32(3)), "m": lumina.ones(2, 3)}},
           "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "name": "g", "fused": None, "params": [0]}],
           "a.b": lumina.zeros(1), "a": {"b": lumina.ones(1)}}
    lumina.save(obj, tmp_path / "o")
    back = lumina.load(tmp_path / "o")
    assert back["param_groups"] == obj["param_groups"]   # tuples stay tuples, int keys ints
    assert list(back["state"]) == [0] and back["state"][0]["step"].shape == ()
    np.testing.assert_array_equal(back["state"][0]["m"].numpy(), np.ones((2, 3), np.float32))
    assert back["a.b"].numpy()[0] == 0 and back["a"]["b"].numpy()[0] == 1   # joined names collide; kept apart


def test_module_state_dict_round_trip_and_strict(tmp_path):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    save_file({k: v.contiguous() for k, v in tm.state_dict().items()}, str(tmp_path / "torch.safetensors"))
    lm = lumina.nn.Sequential(lumina.nn.Linear(3, 4), lumina.nn.ReLU(), lumina.nn.Linear(4, 2))
    lm.load_state_dict(lumina.load(tmp_path / "torch.safetensors"))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(lm(lumina.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    lumina.save(lm.state_dict(), tmp_path / "lumina.safetensors")
    lm2 = lumina.nn.Sequential(lumina.nn.Linear(3, 4), lumina.nn.ReLU(), lumina.nn.Linear(4, 2))
    lm2.load_state_dict(lumina.load(tmp_path / "lumina.safetensors"))
    np.testing.assert_array_equal(lm2(lumina.tensor(x)).numpy(), lm(lumina.tensor(x)).numpy())
    tm.load_state_dict(load_file(tmp_path / "lumina.safetensors"))   # and back into torch
    np.testing.assert_allclose(tm(torch.tensor(x)).detach().numpy(), lm(lumina.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)
    partial = lumina.load(tmp_path / "lumina.safetensors")
    del partial["2.bias"]
    with pytest.raises(LuminaValueError, match=r"missing.*2\.bias"):
        lm2.load_state_dict(partial)
    lm2.load_state_dict(partial, strict=False)
    partial["0.weight"] = lumina.zeros(2, 2)
    with pytest.raises(LuminaShapeError, match="0.weight"):
        lm2.load_state_dict(partial, strict=False)


def test_optimizer_state_dict_round_trip(tmp_path):
    """A model and its Adam state saved mid-training and loaded into fresh ones take the same next step."""
    def step(m, opt):
        opt.zero_grad()
        y = m(lumina.tensor(np.arange(8, dtype=np.float32).reshape(4, 2)))
        (y * y).sum().backward()
        opt.step()
    lumina.manual_seed(0)
    m = lumina.nn.Linear(2, 3)
    opt = lumina.optim.Adam(m.parameters(), lr=0.1)
    step(m, opt)
    step(m, opt)
    lumina.save(m.state_dict(), tmp_path / "model")
    lumina.save(opt.state_dict(), tmp_path / "opt")
    m2 = lumina.nn.Linear(2, 3)
    opt2 = lumina.optim.Adam(m2.parameters(), lr=0.5)
    m2.load_state_dict(lumina.load(tmp_path / "model"))
    opt2.load_state_dict(lumina.load(tmp_path / "opt"))
    assert opt2.param_groups[0]["lr"] == 0.1
    step(m, opt)
    step(m2, opt2)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(LuminaError, match="missing.safetensors"):
        lumina.load(missing)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(LuminaError, match="junk.bin"):
        lumina.load(junk)
    good = tmp_path / "good"
    lumina.save({"a": lumina.ones(100)}, good)
    cut = tmp_path / "cut"
    cut.write_bytes(good.read_bytes()[:-7])
    with pytest.raises(LuminaError, match="cut"):
        lumina.load(cut)
    with pytest.raises(LuminaTypeError, match=r"bad.*value at a\.x is a set"):
        lumina.save({"a": {"x": {1}}}, tmp_path / "bad")
    with pytest.raises(LuminaTypeError, match="uint8"):
        lumina.save({"a": np.ones(2, np.uint8)}, tmp_path / "bad")
    save_file({"u": torch.ones(2, dtype=torch.uint8)}, str(tmp_path / "u8"))
    with pytest.raises(LuminaTypeError, match=r"u8.*'u'.*U8"):
        lumina.load(tmp_path / "u8")
    with pytest.raises(LuminaValueError, match="map_location"):
        lumina.load(good, map_location="cuda")
    with pytest.raises(LuminaValueError, match="weights_only"):
        lumina.load(good, weights_only=False)
    with pytest.raises(LuminaError, match="cannot write"):
        lumina.save({"a": lumina.ones(1)}, tmp_path / "no" / "such" / "dir")


def test_a_torch_checkpoint_without_torch_says_what_to_install(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"a": torch.ones(2)}, path)
    code = ("import sys; sys.modules['torch'] = None\n"
            "import lumina\n"
            "try:\n    lumina.load(sys.argv[1])\n"
            "except lumina.LuminaError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert "pip install torch" in out and "ckpt.pt" in out
