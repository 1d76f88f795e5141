"""What the checker finds: a ``Discrepancy`` is one difference from torch, with the evidence that
``KNOWN_DIFFERENCES`` is matched on (the case, lumina's exception, the differing elements as a
``Mismatch``); ``distinct`` keeps one of each kind for the report."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cases import Case


@dataclass(frozen=True)
class Mismatch:
    """The evidence of a value discrepancy: the compared arrays (float64 for floats), lumina's and
    the reference's, and the indices where they differ (``index[k]`` is one element's index)."""
    path: str               # "result", "result[1]", "grad[0]", ...
    lumina: np.ndarray
    torch: np.ndarray
    index: np.ndarray       # [n, rank] int


@dataclass(frozen=True)
class Discrepancy:
    """One difference from torch. ``case_obj``, ``error`` (lumina's exception, for "raises") and
    ``mismatch`` (for value kinds) are the evidence that ``KNOWN_DIFFERENCES`` is matched on; they
    are not printed."""
    op: str
    kind: str      # value, nan, inf, signed-zero, dtype, shape, type, grad, raises, returns, raw-exception
    case: str
    detail: str
    case_obj: Case | None = field(default=None, compare=False, repr=False)
    error: BaseException | None = field(default=None, compare=False, repr=False)
    mismatch: Mismatch | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.op} [{self.kind}] {self.case}: {self.detail}"


def distinct(problems: list[Discrepancy]) -> list[Discrepancy]:
    """One discrepancy per (op, kind, where): the first of each."""
    seen, out = set(), []
    for p in problems:
        key = (p.op, p.kind, p.detail.split(":")[0].split("[")[0])
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
