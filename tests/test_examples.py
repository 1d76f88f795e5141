"""The examples run end to end: ``examples/train_digits.py`` trains an MLP on the UCI digits with a
compiled training step and reaches the accuracy its docstring promises."""
from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_digits_reaches_96_percent(capsys):
    example = _load("train_digits")
    accuracy = example.main([])
    assert isinstance(accuracy, float)
    assert accuracy >= 0.96
    out = capsys.readouterr().out
    assert f"test accuracy: {accuracy:.4f}" in out


def test_xor_example_learns_xor():
    assert _load("xor").main([]) == 1.0
