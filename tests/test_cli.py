"""The ``lumina`` command line's arguments: ``--version``, and every malformed or unknown ``--dim`` /
``--input`` an error (a LuminaError message, exit status 1), never silently ignored."""
import re

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


def _gather_softmax_model(path) -> str:
    """``y = softmax((table[ids] + x) @ W)`` with ``x: f32[batch, 8]``, ``ids: i64[batch]``: a gather
    (with its index check), a GEMM and a row kernel, written with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], axis=0),
             helper.make_node("Add", ["e", "x"], ["h"]), helper.make_node("MatMul", ["h", "W"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1)]
    graph = helper.make_graph(
        nodes, "gather_softmax",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(rng.random((10, 8), dtype=np.float32), "table"),
         numpy_helper.from_array(rng.random((8, 4), dtype=np.float32), "W")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return str(path)


def test_dump_kernel_target_prints_every_kernel_with_the_ir_nodes_it_came_from(tmp_path, capsys):
    model = _gather_softmax_model(tmp_path / "gather_softmax.onnx")
    assert main(["dump", model, "--dim", "batch=3", "--target", "kernel"]) == 0
    text = capsys.readouterr().out
    assert main(["dump", model, "--dim", "batch=3"]) == 0
    ir_dump = capsys.readouterr().out
    # the oracle: the IR dump's partition (which nodes each kernel fuses) and its optimized graph
    partition = re.findall(r"^kernel (\d+) \((\S+)\) .*?fuses (.*)$", ir_dump, flags=re.M)
    optimized = re.findall(r"^graph \w+ \{\n(.*?)^\}", ir_dump, flags=re.M | re.S)[-1]
    optimized_lines = {ln.strip() for ln in optimized.splitlines()}
    blocks = re.split(r"^// ---- \w+: kernel \d+ ----\n", text, flags=re.M)[1:]
    assert len(blocks) == len(partition) >= 2
    for block, (_, kind, fuses) in zip(blocks, partition):
        source = re.findall(r"^//   (.*)$", block, flags=re.M)
        assert source and all(line in optimized_lines for line in source)
        assert sorted(re.findall(r"^(%\d+):", "\n".join(source), flags=re.M)) == \
            sorted(re.findall(r"(%\d+):\w+", fuses))
        assert re.search(r"^kernel k\d+_\w+ \((loop|rows|dot)\) \{$", block, flags=re.M)
        assert ("(dot)" in block) == kind.startswith("dot")
    # the gather's index check: a status buffer and its site, with the model's message
    checked = [b for b in blocks if re.search(r"^  b\d+\s+status\s+i64\[1\]", b, flags=re.M)]
    assert len(checked) == 1 and "check 0: index in [-10, 10)" in checked[0]
    # the softmax: a row-fused GEMM's max and sum stages
    assert any("(dot)" in b and "rows " in b and "= max for " in b and "= sum for " in b for b in blocks)
