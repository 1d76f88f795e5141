"""The partitioner's switches and budgets, as one frozen value.

    partition(graph, target, FusionOptions(dot_rows=False))

``FusionOptions()`` holds today's defaults. The compiler keys its executable cache by the options
it compiled with (``compiler.CompileOptions``), so a program compiled with other options is never
handed out for these. The switches exist for A/B measurements (``benchmarks/pass_report.py``) and
for tests that compare fused and unfused kernels; the budgets bound what one kernel recomputes.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..errors import LuminaTypeError, LuminaValueError


@dataclass(frozen=True)
class FusionOptions:
    """What ``schedule.partition.partition`` may fuse, and how much it may recompute to do so.

    Switches (each off only for A/B measurements):

    * ``epilogues``: fuse elementwise epilogues into GEMMs (``schedule.epilogues``).
    * ``multi_output``: merge reductions over the same rows and their per-row readers into one row
      kernel (``schedule.row_fusion``).
    * ``dot_rows``: a row kernel over whole rows of a GEMM's result joins the GEMM (needs
      ``multi_output``).
    * ``elementwise_rows``: elementwise kernels over the same shape that read one another or share
      an input merge into one multi-output row kernel (an optimizer's moment and parameter
      updates: one pass over each buffer; needs ``multi_output``).

    Budgets (non-negative integers):

    * ``max_depth``: inlined ops on one path of a kernel; a value deeper is materialised (keeps
      kernels, and their compile time, bounded).
    * ``recompute_budget``: ops per element a value read by several kernels may cost to be inlined
      into each of them rather than stored (``relu``'s compare, a bias add); an expensive op
      (exp, div, sqrt, ...) costs ``recompute_budget + 1``, so it is never recomputed.
    * ``row_recompute_budget``: ops per element a row kernel's stage may recompute of the earlier
      whole-row stages it reads. That replaces a store and a load through memory, not one load as
      inlining across kernels does, so it is four times ``recompute_budget``: one expensive op and
      up to five cheap ones, as a softmax's ``exp(x - max)`` or an overflow-safe LayerNorm's
      ``((x - mean) * r)^2`` behind a training step's stored ReLU.
    * ``max_row_elements``: the longest row a row kernel walks. Its stages each re-read the row and
      save a pass over memory only while it stays in cache between them: 16K elements is 64 KiB per
      float32 buffer, within the L2 cache of any server core of the last decade (256 KiB to 2 MiB),
      with room for the two or three buffers a normalization reads. A row of symbolic length is
      judged at its ``ir.symbolic.hint`` (a longer one at run time re-reads it from memory, as
      separate kernels would).

    Raises LuminaTypeError for a switch that is not a bool or a budget that is not an int, and
    LuminaValueError for a negative budget.
    """
    epilogues: bool = True
    multi_output: bool = True
    dot_rows: bool = True
    elementwise_rows: bool = True
    max_depth: int = 64
    recompute_budget: int = 2
    row_recompute_budget: int = 8
    max_row_elements: int = 1 << 14

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            want = bool if f.type == "bool" else int
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise LuminaTypeError(f"FusionOptions: {f.name} must be {want.__name__}, got "
                                      f"{type(value).__name__} {value!r}")
            if want is int and value < 0:
                raise LuminaValueError(f"FusionOptions: {f.name} must be >= 0, got {value}")

    def changed(self, **changes) -> FusionOptions:
        """These options with the named fields changed. Raises LuminaValueError naming an unknown
        field (and the known ones)."""
        known = [f.name for f in fields(self)]
        unknown = [name for name in changes if name not in known]
        if unknown:
            raise LuminaValueError(f"FusionOptions: unknown option {', '.join(map(repr, unknown))}; "
                                   f"the options are {', '.join(known)}")
        return replace(self, **changes)
