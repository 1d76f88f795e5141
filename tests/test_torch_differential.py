"""lumina against PyTorch 2.13, op by op: every public lumina name that torch also has
(``lumina``, ``lumina.Tensor``, ``lumina.nn.functional``, ``lumina.nn`` layers, ``nn.init``,
``nn.utils``) on generated inputs, forward and backward, with the table and the checker of
``lumina.testing.torch_diff`` (see its docstring, and docs/torch_parity.md for what is compared).

Each row runs its fixed cases (every special value: NaN, +-inf, +-0, the largest and smallest
normal and subnormal numbers, for each dtype) and about ``LUMINA_TORCH_DIFF_EXAMPLES`` cases that
hypothesis generates (shapes with 0-size and broadcast dims, special values mixed in, invalid
inputs where torch raises), all realised as one lumina graph. Generation is deterministic; set
``LUMINA_TORCH_DIFF_SEED`` to draw other cases.

A discrepancy that an entry of ``KNOWN_DIFFERENCES`` covers is printed (``pytest -rP``) and does
not fail; every other one does, and so does an entry that matches nothing on one of its rows (on
the default cases, which the entries were reviewed on: another seed may not draw their cases).
"""
import os

import pytest

from lumina.testing import torch_diff as td

DEFAULT_EXAMPLES = 12
EXAMPLES = int(os.environ.get("LUMINA_TORCH_DIFF_EXAMPLES", str(DEFAULT_EXAMPLES)))
SEED = int(os.environ["LUMINA_TORCH_DIFF_SEED"]) if os.environ.get("LUMINA_TORCH_DIFF_SEED") else None
DEFAULT_CASES = SEED is None and EXAMPLES == DEFAULT_EXAMPLES
ROWS = sorted(name for name, spec in td.OPS.items() if td.available(spec))


@pytest.fixture(autouse=True)
def _same_global_random_state():
    """Every row sees the same global generators whatever ran before it in the process (the
    random ops' draws, and the cases, must not depend on the order of the test files)."""
    import random

    import numpy as np
    import torch

    import lumina
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    lumina.manual_seed(0)
KINDS = {"value", "nan", "inf", "signed-zero", "dtype", "shape", "type", "raises", "returns", "fd"}


def test_every_namesake_is_in_the_table_or_excluded_with_a_reason():
    _, _, missing = td.coverage()
    assert not missing, (f"public lumina names that torch also has, neither in lumina.testing.torch_diff.OPS nor "
                         f"in its EXCLUDED (with the reason): {missing}")


def test_exclusions_name_real_namesakes():
    names = {n.name for n in td.namesakes()}
    stale = sorted(set(td.EXCLUDED) - names)
    assert not stale, f"EXCLUDED lists names lumina or torch no longer has: {stale}"


def test_the_parity_document_shows_the_current_tables():
    doc = (td.DOCS).read_text()
    for block in (td.render_coverage(), td.render_exclusions(), td.render_known(), td.render_differences()):
        assert block in doc, ("docs/torch_parity.md is out of date with lumina.testing.torch_diff: run "
                              "`python -m lumina.testing.torch_diff --write-docs`")


def test_known_differences_name_rows_and_kinds():
    for entry in td.KNOWN_DIFFERENCES:
        assert set(entry.rows) <= set(ROWS), f"{entry.cases}: not rows of the table: {set(entry.rows) - set(ROWS)}"
        kinds = {k.removeprefix("grad ") for k in entry.kinds}
        assert kinds <= KINDS, f"{entry.cases}: unknown discrepancy kinds {kinds - KINDS}"
        assert entry.supported or entry.kinds == ("raises",), f"{entry.cases}: a gap is a LuminaError ('raises')"


@pytest.mark.parametrize("name", ROWS)
def test_agrees_with_torch(name):
    spec = td.OPS[name]
    failures, known, stale = td.triage(name, td.check(spec, td.cases_for(spec, EXAMPLES, SEED)))
    for p in td.distinct(known):
        print(f"known difference: {p}"[:1500])
    message = []
    if failures:    # pytest.fail, not assert: pytest would cut a long assertion message short
        message.append(f"{len(failures)} discrepancies with torch:\n" + "\n".join(
            str(p)[:1500] for p in td.distinct(failures)))
    if stale and DEFAULT_CASES:
        message.append("entries of KNOWN_DIFFERENCES that no longer match anything on this row (remove them, "
                       "then `python -m lumina.testing.torch_diff --write-docs`):\n" + "\n".join(
                           f"- {e.cases}" for e in stale))
    if message:
        pytest.fail("\n".join(message), pytrace=False)
