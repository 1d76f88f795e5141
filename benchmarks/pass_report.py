"""What each pass does to one Transformer block's training step (forward + backward): IR nodes after
every pass, then kernels with the optional passes off, with them on, with GEMM epilogues, and with
multi-output row kernels.

    python benchmarks/pass_report.py

The step is ``benchmarks/transformer_block.py``'s (``twins.transformer``, one layer, d_model 128,
4 heads, context 64, batch 8, cross-entropy loss and every parameter's gradient). Prints a Markdown
table for ``benchmarks/RESULTS.md``. Counts only, no timings: they do not drift.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import lumina  # noqa: E402
from lumina import compiler  # noqa: E402
from lumina.compiler import cache_clear  # noqa: E402
from lumina.transforms.pipeline import OPTIONAL, PASSES  # noqa: E402
import transformer_block as tb  # noqa: E402


def lowered(disable=(), **fusion):
    """The step compiled afresh with the passes ``disable``d and the ``FusionOptions`` fields
    ``fusion`` changed."""
    cache_clear()
    os.environ["LUMINA_PASSES_OFF"] = ",".join(disable)
    try:
        with compiler.options(**fusion):
            fresh = lumina.compile(tb.step.__wrapped__)
            return fresh.lower(*tb.batch())
    finally:
        os.environ.pop("LUMINA_PASSES_OFF")
        cache_clear()


def main() -> None:
    full = lowered()
    print("| stage | IR nodes |\n| --- | --- |")
    print(f"| traced | {len(full.as_text('input').splitlines()) - 2} |")
    for name, _ in PASSES:
        print(f"| after {name} | {len(full.as_text(name).splitlines()) - 2} |")
    print("\n| configuration | kernels |\n| --- | --- |")
    for label, kwargs in (("optional passes off, no epilogues, no multi-output kernels",
                           dict(disable=sorted(OPTIONAL), epilogues=False, multi_output=False)),
                          ("all passes, no epilogues, no multi-output kernels", dict(epilogues=False, multi_output=False)),
                          ("all passes, GEMM epilogues, no multi-output kernels", dict(multi_output=False)),
                          ("all passes, GEMM epilogues, multi-output row kernels",
                           dict(dot_rows=False)),
                          ("all passes, GEMM epilogues, multi-output row kernels, row-fused GEMMs (default)", {})):
        print(f"| {label} | {len(lowered(**kwargs).kernels())} |")


if __name__ == "__main__":
    main()
