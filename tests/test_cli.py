"""The ``lumina`` command line's arguments: ``--version``, and every malformed or unknown ``--dim`` /
``--input`` an error (a LuminaError message, exit status 1), never silently ignored."""
import numpy as np
import pytest

import lumina
from lumina.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"lumina {lumina.__version__}"


def error_of(argv, capsys) -> str:
    """The message ``lumina argv`` prints, asserting that it failed with a LuminaError."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("lumina: error: "), err
    return err


@pytest.mark.parametrize("command", ["run", "inspect", "dump", "profile"])
@pytest.mark.parametrize("dim", ["batch=abc", "batch=-2", "batch", "=4", "batch=2.5"])
def test_a_malformed_dim_is_an_error(onnx_model, command, dim, capsys):
    extra = ["--random-inputs"] if command == "run" else []
    err = error_of([command, onnx_model, "--dim", dim, *extra], capsys)
    assert f"--dim {dim}: expected NAME=N with N a non-negative integer" in err


@pytest.mark.parametrize("command", ["run", "inspect", "dump", "viz"])
def test_a_dim_the_model_does_not_have_is_an_error(onnx_model, command, tmp_path, capsys):
    extra = {"run": ["--random-inputs"], "viz": ["-o", str(tmp_path / "g.dot")]}.get(command, [])
    err = error_of([command, onnx_model, "--dim", "batch=2", "--dim", "seq=4", *extra], capsys)
    assert "--dim seq=4: the model has no symbolic dimension 'seq' (its symbolic dimensions: batch)" in err


def test_a_dim_sizes_the_model(onnx_model, capsys):
    assert main(["run", onnx_model, "--random-inputs", "--dim", "batch=3"]) == 0
    assert "y: float32[] checksum" in capsys.readouterr().out


def test_dim_without_random_inputs_is_an_error(onnx_model, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((2, 8), np.float32))
    err = error_of(["run", onnx_model, "--input", f"x={tmp_path / 'x.npy'}", "--dim", "batch=2"], capsys)
    assert "--dim sizes the inputs --random-inputs makes" in err


def test_dim_with_a_python_target_is_an_error(tmp_path, capsys):
    src = tmp_path / "f.py"
    src.write_text("import lumina\n\n@lumina.compile\ndef f(a):\n    return a + 1\n")
    err = error_of(["dump", f"{src}::f", "--shapes", "4", "--dim", "batch=2"], capsys)
    assert "--dim sizes an ONNX model's symbolic dimensions" in err


def test_a_missing_npy_input_is_an_error(onnx_model, tmp_path, capsys):
    missing = tmp_path / "missing.npy"
    err = error_of(["run", onnx_model, "--input", f"x={missing}"], capsys)
    assert f"--input x={missing}: no file {str(missing)!r}" in err


def test_an_input_that_is_not_npy_is_an_error(onnx_model, tmp_path, capsys):
    bad = tmp_path / "x.npy"
    bad.write_text("not an array")
    err = error_of(["run", onnx_model, "--input", f"x={bad}"], capsys)
    assert "is not a .npy array" in err
    err = error_of(["run", onnx_model, "--input", str(bad)], capsys)
    assert f"--input {bad}: expected NAME=FILE.npy" in err


def test_an_npy_input_runs(onnx_model, tmp_path, capsys):
    x = np.random.default_rng(0).random((3, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", onnx_model, "--input", f"x={tmp_path / 'x.npy'}"]) == 0
    assert "y: float32[] checksum" in capsys.readouterr().out
