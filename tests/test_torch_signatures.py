"""Every public name lumina shares with torch takes torch 2.13's parameters: the same names, the
same positional order, the same kinds (positional or keyword-only) and the same defaults.

torch's signatures are data, ``tests/data/torch_signatures.json``: ``inspect.signature`` where
torch's function is Python, and the ``@overload`` list of torch's type stubs (``torch/_C/*.pyi``)
where it is a builtin. ``test_the_recorded_signatures_are_torch_2_13s`` re-derives the file from the
installed torch 2.13, so it cannot drift; ``python tests/test_torch_signatures.py`` rewrites it.
The rules, and the parameters lumina leaves out on purpose, are
``lumina.testing.torch_signatures.compare_signature`` and ``SIGNATURE_OMISSIONS`` /
``SIGNATURE_DIFFERENCES`` (rendered in docs/torch_parity.md); ``SIGNATURE_EXCLUDED`` names the
shared names whose signatures are not compared, with the reason.
"""
import json
import warnings
from pathlib import Path

import pytest
import torch

from lumina.testing import torch_signatures as ts

DATA = Path(__file__).parent / "data" / "torch_signatures.json"
NAMESAKES = {n.name: n for n in ts.signature_namesakes()}


def recorded() -> dict:
    return json.loads(DATA.read_text())["signatures"]


def derive() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: ts.torch_signatures(name) for name in sorted(NAMESAKES)}


def test_the_recorded_signatures_are_torch_2_13s():
    if not torch.__version__.startswith("2.13."):
        pytest.skip(f"the recorded signatures are torch 2.13's; torch {torch.__version__} is installed")
    have = recorded()
    fresh = derive()
    stale = sorted(n for n in fresh if have.get(n) != fresh[n])
    assert not stale, (f"tests/data/torch_signatures.json differs from torch {torch.__version__} (or lacks names) "
                       f"for {stale}; run `python tests/test_torch_signatures.py` to rewrite it")


def test_every_shared_name_has_a_recorded_signature():
    missing = sorted(set(NAMESAKES) - set(recorded()))
    assert not missing, f"no torch signature recorded for {missing}: run `python tests/test_torch_signatures.py`"


@pytest.mark.parametrize("name", sorted(set(NAMESAKES) - set(ts.SIGNATURE_EXCLUDED)))
def test_signature_matches_torch(name):
    entry = recorded().get(name)
    if entry is None:
        pytest.fail(f"{name}: no torch signature recorded")
    mine = ts.signature_of(NAMESAKES[name].lumina, drop_self=name.startswith(("Tensor.", "nn.Module.",
                                                                               "optim.Optimizer.")))
    assert mine is not None, f"{name}: lumina's signature cannot be inspected"
    overloads = [ts.parse_signature(o) for o in entry["overloads"]]
    problems = ts.compare_signature(name, mine, overloads)
    if problems:    # pytest.fail, not assert: pytest would cut a long assertion message short
        pytest.fail(f"{name}{ts.render_signature(mine)} vs {entry['torch']} {' | '.join(entry['overloads'])}:\n  "
                    + "\n  ".join(problems), pytrace=False)


if __name__ == "__main__":
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps({"torch": torch.__version__, "signatures": derive()}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {DATA} ({len(NAMESAKES)} names, torch {torch.__version__})")
