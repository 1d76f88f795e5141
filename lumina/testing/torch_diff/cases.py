"""One call's arguments, library-neutral: a ``Case`` holds NumPy arrays (``Arr``), dtype names
(``Dt``) and Python values, which the runner converts to either library's arguments; and the
dtype names the table draws from."""
from __future__ import annotations

from dataclasses import dataclass, field

import ml_dtypes
import numpy as np

FLOATS = ("float32", "float64", "float16", "bfloat16")
INTS = ("int64", "int32")
ALL = FLOATS + INTS + ("bool",)


def np_dtype(name: str):
    """The NumPy dtype of a dtype name (``ml_dtypes.bfloat16`` for "bfloat16")."""
    return ml_dtypes.bfloat16 if name == "bfloat16" else np.dtype("bool" if name == "bool" else name)


def is_float(name: str) -> bool:
    """Whether a dtype name is a floating-point one."""
    return name in FLOATS


@dataclass(frozen=True)
class Arr:
    """A tensor argument: its value (the dtype is the tensor's) and whether the gradient with
    respect to it is checked (float values only): against torch's, or, with ``fd``, where torch
    cannot differentiate (a loss's class weights), against central finite differences of lumina's
    own forward (float64 cases)."""
    value: np.ndarray
    grad: bool = False
    fd: bool = False

    def __repr__(self) -> str:
        v = self.value
        dt = "bfloat16" if v.dtype == ml_dtypes.bfloat16 else str(v.dtype)
        body = np.array2string(np.asarray(v, np.float64) if dt == "bfloat16" else v, separator=",",
                               threshold=12, edgeitems=2, max_line_width=10_000).replace("\n", "")
        return f"{dt}{list(v.shape)} {body}" + (" (grad by finite differences)" if self.fd else
                                                 " (grad)" if self.grad else "")


@dataclass(frozen=True)
class Dt:
    """A dtype argument, by name: ``lumina.<name>`` or ``torch.<name>``."""
    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass
class Case:
    """One call: positional and keyword arguments (``Arr``, ``Dt``, lists or tuples of ``Arr``,
    Python values). ``dtype`` names the dtype the case was drawn for (for reports)."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    dtype: str = ""

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"({', '.join(parts)})"


def arrays_in(case: Case) -> list[Arr]:
    """The case's tensor arguments, in order, those in lists and tuples included."""
    out = []

    def walk(a):
        if isinstance(a, Arr):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            for x in a:
                walk(x)
    for a in list(case.args) + list(case.kwargs.values()):
        walk(a)
    return out
