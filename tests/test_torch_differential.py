"""lumina against PyTorch 2.13, op by op: every public lumina name that torch also has
(``lumina``, ``lumina.Tensor``, ``lumina.nn.functional``, ``lumina.nn`` layers, ``nn.init``,
``nn.utils``) on generated inputs, forward and backward, with the table and the checker of
``lumina.testing.torch_diff`` (see its docstring, and docs/torch_parity.md for what is compared).

Each row runs its fixed cases (every special value: NaN, +-inf, +-0, the largest and smallest
normal and subnormal numbers, for each dtype) and about ``LUMINA_TORCH_DIFF_EXAMPLES`` cases that
hypothesis generates (shapes with 0-size and broadcast dims, special values mixed in, invalid
inputs where torch raises), all realised as one lumina graph. Generation is deterministic; set
``LUMINA_TORCH_DIFF_SEED`` to draw other cases.
"""
import os

import pytest

from lumina.testing import torch_diff as td

EXAMPLES = int(os.environ.get("LUMINA_TORCH_DIFF_EXAMPLES", "12"))
SEED = int(os.environ["LUMINA_TORCH_DIFF_SEED"]) if os.environ.get("LUMINA_TORCH_DIFF_SEED") else None
ROWS = sorted(name for name, spec in td.OPS.items() if td.available(spec))


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
    for block in (td.render_coverage(), td.render_exclusions(), td.render_differences()):
        assert block in doc, ("docs/torch_parity.md is out of date with lumina.testing.torch_diff: run "
                              "`python -m lumina.testing.torch_diff --write-docs`")


@pytest.mark.parametrize("name", ROWS)
def test_agrees_with_torch(name):
    spec = td.OPS[name]
    problems = td.check(spec, td.cases_for(spec, EXAMPLES, SEED))
    if problems:    # pytest.fail, not assert: pytest would cut a long assertion message short
        pytest.fail(f"{len(problems)} discrepancies with torch:\n" + "\n".join(
            str(p)[:1500] for p in td.distinct(problems)), pytrace=False)
