"""The fusion budget of issue 5: one Transformer block's training step (forward + backward of
``twins.transformer`` with one layer, d_model 128, 4 heads, context 64) compiles to at most
``BUDGET`` kernels, and the passes, the epilogues, the multi-output row kernels and the row-fused
GEMMs each remove kernels without changing the loss.
``python benchmarks/pass_report.py`` prints the counts per pass."""
from __future__ import annotations

import numpy as np

import lumina
from lumina import compiler
from lumina.compiler import cache_clear
from lumina.nn import functional as F
from lumina.transforms.pipeline import OPTIONAL
from lumina.testing import twins

BUDGET = 57           # measured 2026-12-06 with the overflow-safe LayerNorm (its max|x| stage and
                      # scale cost one kernel; 56 before). benchmarks/pass_report.py counts 59
#                       without row-fused GEMMs, 119 without multi-output row kernels either, 123
#                       without epilogues, 129 with the optional passes off too
VOCAB, BLOCK, D_MODEL, N_HEAD, BATCH = 65, 64, 128, 4, 8


def _step():
    lumina.manual_seed(0)
    model = twins.transformer(lumina, VOCAB, BLOCK, D_MODEL, N_HEAD, n_layer=1)

    def step(idx, targets):
        for p in model.parameters():
            p.grad = None
        loss = F.cross_entropy(model(idx).reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        return loss
    rng = np.random.default_rng(0)
    return step, (rng.integers(0, VOCAB, (BATCH, BLOCK)), rng.integers(0, VOCAB, (BATCH, BLOCK)))


def _compiled(monkeypatch, disable=(), **fusion):
    """``(kernels, loss)`` of the step compiled with the passes ``disable``d and the
    ``FusionOptions`` fields ``fusion`` changed."""
    cache_clear()
    monkeypatch.setenv("LUMINA_PASSES_OFF", ",".join(disable))
    step, args = _step()
    with compiler.options(**fusion):
        fn = lumina.compile(step)
        loss = float(fn(*args).item())
        kernels = len(fn.lower(*args).kernels())
    cache_clear()
    return kernels, loss


def test_transformer_block_fits_the_kernel_budget(monkeypatch):
    plain, plain_loss = _compiled(monkeypatch, disable=sorted(OPTIONAL), epilogues=False, multi_output=False)
    passes, passes_loss = _compiled(monkeypatch, epilogues=False, multi_output=False)
    epilogues, epilogues_loss = _compiled(monkeypatch, multi_output=False)
    rows, rows_loss = _compiled(monkeypatch, dot_rows=False)
    full, full_loss = _compiled(monkeypatch)
    assert full <= BUDGET, f"{full} kernels, budget {BUDGET}"
    assert full < rows < epilogues < passes < plain, (plain, passes, epilogues, rows, full)
    np.testing.assert_allclose([passes_loss, epilogues_loss, rows_loss, full_loss], plain_loss, rtol=1e-6)
