"""Every kernel of the example programs, rendered to Triton, compiles ahead of time to a real CUDA
``sm_90`` cubin (``backends.cuda.jit.compile_aot``: ``triton.compile`` with
``GPUTarget("cuda", 90, 32)`` and Triton's bundled ptxas), on a machine without a GPU.

Structurally identical kernels (equal but for their names and IR lines) compile once.
"""
from __future__ import annotations

import dataclasses
import time

import pytest
from test_triton_codegen import (
    AUTOCAST,
    MODELS,
    PROGRAMS,
    hand_built_kernels,
    scores_softmax,
)

from lumina.codegen.kernel import DotKernel, LoopKernel, RowKernel
from lumina.backends.cuda.jit import compile_aot
from lumina.testing.kernel_builders import dot_bias_relu_layer_norm
from lumina.testing.kernels import canonical
from lumina.testing.programs import program_cases

_COMPILED: set = set()


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("LUMINA_CACHE", str(tmp_path_factory.getbasetemp() / "lumina_cache"))
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)


def _assert_sm90_cubin(asm: dict, what: str) -> None:
    assert asm["cubin"][:4] == b"\x7fELF" and len(asm["cubin"]) > 1000, what
    assert ".target sm_90" in asm["ptx"] and ".entry" in asm["ptx"], what


def _compile_all(descs) -> None:
    """Compile ``descs``, one after another, and check each cubin. (Not in a thread pool: Triton's
    code generator parses with ``ast``, which CPython does not make thread-safe; ``compile_aot``
    serialises compilations anyway.)"""
    for desc in descs:
        _assert_sm90_cubin(compile_aot(desc), f"{desc.name}: {desc.source}")


@pytest.fixture(scope="module")
def model_cases():
    """The pretrained models' kernels, captured before ``cache`` points ``LUMINA_CACHE`` at a
    temporary folder (the registry reads the models from the real cache, or fails to fetch them)."""
    return {name: program_cases(name) for name in MODELS}


@pytest.mark.parametrize("program", PROGRAMS + AUTOCAST + MODELS)
def test_every_kernel_compiles_to_an_sm90_cubin(program, model_cases):
    cases = model_cases[program] if program in MODELS else program_cases(program)
    unique = {}
    for c in cases:     # structurally equal kernels (of this program or an earlier one) compile once
        desc = canonical(c.kernel)
        if desc not in _COMPILED:
            unique.setdefault(desc, dataclasses.replace(desc, source=c.kernel.source))
    start = time.perf_counter()
    _compile_all(list(unique.values()))
    _COMPILED.update(unique)
    kinds = {type(c.kernel) for c in cases}
    assert DotKernel in kinds, program
    if program != "onnx_digits_mlp":   # the ONNX MLP is three GEMMs with epilogues
        assert LoopKernel in kinds and RowKernel in kinds, program
    print(f"{program}: {len(cases)} kernels, {len(unique)} compiled, {time.perf_counter() - start:.1f} s")


def test_every_configuration_compiles():
    """The autotuner's candidates (not only the default) are valid for the hardware: all of them
    for one kernel of each kind (elementwise, reduction, row kernel, GEMM with an epilogue, and a
    row-fused GEMM once the program has one)."""
    from lumina.backends.cuda.triton import geometry
    cases = program_cases("digits_mlp")
    picks = {}
    for c in cases:
        k = c.kernel
        kind = (type(k).__name__, bool(getattr(k, "reduce_vars", ())), getattr(k, "epilogue", None) is not None,
                getattr(k, "rows", None) is not None)
        picks.setdefault(kind, canonical(k))
    assert len(picks) >= 4, picks.keys()
    for desc in picks.values():
        for config in geometry(desc).configs:
            _assert_sm90_cubin(compile_aot(desc, config=config), f"{desc} {config}")


def test_hand_built_kernels_compile_to_sm90():
    _compile_all(hand_built_kernels())


def test_every_configuration_of_a_row_fused_gemm_compiles():
    """Row-fused GEMMs (GEMM + bias + ReLU + LayerNorm; scores + softmax with no epilogue): every
    autotuning candidate compiles for sm_90, with the CTA barrier between C's stores and the row
    stages' loads of it."""
    from lumina.backends.cuda.triton import geometry
    descs = [dot_bias_relu_layer_norm(2, 40, 96, 24), dot_bias_relu_layer_norm(1, 5, 300, 17),
             scores_softmax(2, 19, 45, 16)]
    for desc in descs:
        for config in geometry(desc).configs:
            asm = compile_aot(desc, config=config)
            _assert_sm90_cubin(asm, f"{desc.name} {config}")
            assert "ttg.barrier" in asm["ttir"], f"{desc.name} {config}"   # tl.debug_barrier, before the stages
