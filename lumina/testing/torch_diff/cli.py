"""``python -m lumina.testing.torch_diff [--write-docs] [NAME ...]``."""
from __future__ import annotations

import argparse

from .check import check
from .discrepancy import distinct
from .docs import DOCS, write_docs
from .generate import cases_for
from .known import triage
from .spec import available
from .table import OPS


def main(argv: list[str] | None = None) -> int:
    """``python -m lumina.testing.torch_diff [--write-docs] [NAME ...]``: run the rows named (all
    by default) and print their distinct discrepancies; ``--write-docs`` refreshes
    docs/torch_parity.md instead. Returns the exit status: 1 when a row has a discrepancy that
    no known difference covers or a stale known difference."""
    parser = argparse.ArgumentParser(prog="python -m lumina.testing.torch_diff",
                                     description="Run lumina's PyTorch namesakes against torch on generated cases.")
    parser.add_argument("--write-docs", action="store_true", help=f"refresh the generated sections of {DOCS}")
    parser.add_argument("names", nargs="*", metavar="NAME", help="rows of the op table (default: all)")
    args = parser.parse_args(argv)
    if args.write_docs:
        write_docs()
        print(f"wrote the generated sections of {DOCS}")
        return 0
    unknown = [n for n in args.names if n not in OPS]
    if unknown:
        parser.error(f"no row named {', '.join(map(repr, unknown))} (rows: Tensor.add, F.softmax, ...)")
    total = known = stale = 0
    for name in args.names or sorted(OPS):
        spec = OPS[name]
        if not available(spec):
            print(f"{name}: not in lumina")
            continue
        failures, matched, unmatched = triage(name, check(spec, cases_for(spec, 12)))
        for p in distinct(failures):
            print(p)
            total += 1
        for p in distinct(matched):
            print(f"known difference: {p}"[:600])
            known += 1
        for e in unmatched:
            print(f"{name}: stale known difference (it matches nothing; remove it): {e.cases}")
            stale += 1
    print(f"{total} distinct discrepancies, {known} known differences, {stale} stale entries")
    return 1 if total or stale else 0
