"""Comparing one case's lumina result with torch's (``Comparer``): types and structure (named
tuples, sizes, dtypes, devices), tensor dtypes and shapes, values bit for bit or within a tolerance
in units of the dtype's epsilon (plus the rounding bound of a sum, plus further references that an
element may match instead), and gradients. ``docs.COMPARISON_RULES`` says where that is looser than
bit-for-bit equality, and why."""
from __future__ import annotations

import math
from typing import Any

import ml_dtypes
import numpy as np
import torch

import lumina

from .cases import Case, arrays_in, np_dtype
from .discrepancy import Discrepancy, Mismatch
from .spec import OpSpec
from .tensors import lumina_numpy, torch_dtype_name, torch_numpy

# machine epsilon (the spacing of floats at 1) of each float dtype: the unit of every tolerance
_EPS = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23, "float64": 2.0 ** -52}
GRAD_ULPS = {"float64": 512.0, "float32": 128.0, "float16": 8.0, "bfloat16": 4.0}
"""Default gradient tolerance, in units of epsilon: derivative formulas legitimately differ
(``1 - tanh(x)^2`` loses ``1 / (1 - tanh(x)^2)`` ulps to cancellation; torch may use another form)."""


def _is_namedtuple_like(x) -> tuple[str, ...] | None:
    fields = getattr(type(x), "_fields", None) or getattr(type(x), "__match_args__", None)
    return tuple(fields) if isinstance(x, tuple) and fields else None


def _fmt(v) -> str:
    if isinstance(v, float) or isinstance(v, np.floating):
        return repr(float(v))
    return repr(v.item() if isinstance(v, np.generic) else v)


def _round_to(x: np.ndarray, dtype: str) -> np.ndarray:
    """A float64 reference rounded to ``dtype`` (what a correctly rounded result would be)."""
    if dtype not in _EPS:
        return x
    with np.errstate(all="ignore"):
        return x.astype(np_dtype(dtype)).astype(np.float64)


class Comparer:
    """Compares one case's lumina result with torch's, appending ``Discrepancy``s to ``problems``.
    ``alts``: further references for the same outputs and gradients (torch in float64, rounded;
    torch on rescaled inputs), any of which an element may match instead (see ``references.alternatives``)."""

    def __init__(self, spec: OpSpec, case: Case, problems: list, kind_prefix: str = ""):
        self.spec, self.case, self.problems, self.prefix = spec, case, problems, kind_prefix
        self.n_terms = max([a.value.size for a in arrays_in(case)] + [1])

    def report(self, kind: str, detail: str, error: BaseException | None = None,
               mismatch: Mismatch | None = None) -> None:
        self.problems.append(Discrepancy(self.spec.name, self.prefix + kind, repr(self.case), detail,
                                         self.case, error, mismatch))

    def structure(self, lo, to, path: str = "result") -> list[tuple[str, Any, torch.Tensor]]:
        """Checks types and structure; returns (path, lumina tensor, torch tensor) pairs."""
        pairs = []
        if isinstance(to, torch.Tensor):
            if not isinstance(lo, lumina.Tensor):
                self.report("type", f"{path}: torch returns a Tensor, lumina {type(lo).__name__}: {lo!r:.80}")
            else:
                pairs.append((path, lo, to))
            return pairs
        if isinstance(to, (tuple, list)) and not isinstance(to, torch.Size):
            fields = _is_namedtuple_like(to)
            if not isinstance(lo, (tuple, list)) or len(lo) != len(to):
                what = type(lo).__name__ + (f" of {len(lo)}" if isinstance(lo, (tuple, list)) else "")
                self.report("type", f"{path}: torch returns {type(to).__name__} of {len(to)}"
                            f"{' ' + str(fields) if fields else ''}, lumina {what}")
                return pairs
            if fields:
                missing = [f for f in fields if not hasattr(lo, f)]
                if missing:
                    self.report("type", f"{path}: torch returns a named tuple {type(to).__module__}."
                                f"{type(to).__name__}{fields}; lumina's {type(lo).__name__} has no {missing}")
            for i, (a, b) in enumerate(zip(lo, to)):
                pairs += self.structure(a, b, f"{path}[{i}]")
            return pairs
        if isinstance(to, torch.Size):
            if (tuple(lo) if isinstance(lo, (tuple, list)) else lo) != tuple(to):
                self.report("value", f"{path}: lumina {lo!r}, torch {tuple(to)!r}")
            return pairs
        if isinstance(to, np.ndarray):
            if not isinstance(lo, np.ndarray):
                self.report("type", f"{path}: torch returns ndarray, lumina {type(lo).__name__}")
            else:
                if lo.dtype != to.dtype:
                    self.report("dtype", f"{path}: lumina {lo.dtype}, torch {to.dtype}")
                self.array(path, np.asarray(lo), to, str(to.dtype) if to.dtype.kind == "f" else "exact")
            return pairs
        if isinstance(to, torch.dtype):
            if getattr(lo, "name", None) != torch_dtype_name(torch.empty(0, dtype=to)):
                self.report("value", f"{path}: lumina {lo!r}, torch {to}")
            return pairs
        if isinstance(to, torch.device):
            if str(lo) != str(to):
                self.report("value", f"{path}: lumina {lo!r}, torch {str(to)!r}")
            return pairs
        if to is None or lo is None:
            if not (to is None and lo is None):
                self.report("type", f"{path}: lumina {lo!r:.80}, torch {to!r:.80}")
            return pairs
        if type(to) in (bool, int, float, str) and type(lo) is not type(to):
            self.report("type", f"{path}: torch returns {type(to).__name__} {to!r}, lumina "
                        f"{type(lo).__name__} {lo!r:.80}")
            return pairs
        if isinstance(to, dict):
            ok = lo == to
        else:
            ok = (lo == to) or (isinstance(to, float) and math.isnan(to) and isinstance(lo, float) and math.isnan(lo))
        if not ok:
            self.report("value", f"{path}: lumina {lo!r:.80}, torch {to!r:.80}")
        return pairs

    def tensor(self, path: str, lo, to: torch.Tensor, scale=None, alts=()) -> None:
        tname = torch_dtype_name(to)
        if lo.dtype.name != tname:
            self.report("dtype", f"{path}: lumina {lo.dtype.name}, torch {tname}")
        if tuple(lo.shape) != tuple(to.shape):
            self.report("shape", f"{path}: lumina {list(lo.shape)}, torch {list(to.shape)}")
            return
        self.array(path, lumina_numpy(lo), torch_numpy(to), tname if tname in _EPS else "exact", scale, alts=alts)

    def _accepted(self, a: np.ndarray, b: np.ndarray, dtype: str, scale, ulps, atol=None) -> np.ndarray:
        """Elementwise: whether ``a`` (lumina's, float64) may stand for the reference ``b``."""
        grad = self.prefix == "grad "
        exact = self.spec.exact and not grad
        with np.errstate(all="ignore"):
            fa, fb = np.isfinite(a), np.isfinite(b)
            if grad:
                # a derivative that does not exist: NaN or inf either way, infinities of one sign
                special = ~fa & ~fb & ~(np.isinf(a) & np.isinf(b) & (a != b))
            else:
                special = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
            if exact:
                close = fa & fb & (a == b)
                if self.spec.signed_zeros:
                    close &= np.signbit(a) == np.signbit(b)
                return special | close
            eps = _EPS.get(dtype, _EPS["float64"])
            u = ulps if ulps is not None else self.spec.ulps
            tol = u * eps * np.abs(b) + u * float(ml_dtypes.finfo(np_dtype(dtype if dtype in _EPS else "float64")).tiny)
            if self.spec.normwise:
                finite = np.abs(b[fb])
                tol = tol + u * eps * max(finite.max() if finite.size else 0.0, 1.0)
            if atol is not None:
                tol = tol + eps * np.broadcast_to(np.abs(atol), b.shape)
            if scale is not None:
                sc = np.nan_to_num(np.broadcast_to(np.abs(scale), b.shape), nan=np.inf, posinf=np.inf)
                tol = tol + 2.0 * self.n_terms * eps * sc
            close = fa & fb & (np.abs(a - b) <= tol)
        return special | close

    def array(self, path: str, a: np.ndarray, b: np.ndarray, dtype: str, scale=None, ulps=None, alts=(),
              atol=None) -> None:
        if a.shape != b.shape:
            self.report("shape", f"{path}: lumina {list(a.shape)}, torch {list(b.shape)}")
            return
        if dtype == "exact" or (a.dtype.kind not in "fc" and b.dtype.kind not in "fc"):
            ok = a == b
            for alt in alts:
                if alt is not None and alt.shape == a.shape:
                    ok = ok | (a == alt)
        else:
            a, b = a.astype(np.float64), b.astype(np.float64)
            ok = self._accepted(a, b, dtype, scale, ulps, atol)
            for alt in alts:
                if alt is not None and alt.shape == a.shape:
                    ok = ok | self._accepted(a, _round_to(alt.astype(np.float64), dtype), dtype, None, ulps, atol)
        if ok.all():
            return
        i = tuple(int(k) for k in np.argwhere(~ok)[0])
        x, y = a[i], b[i]
        kind = "value"
        if a.dtype.kind == "f":
            if np.isnan(x) != np.isnan(y):
                kind = "nan"
            elif np.isinf(x) or np.isinf(y):
                kind = "inf"
            elif x == y == 0:
                kind = "signed-zero"
        self.report(kind, f"{path}{list(i)}: lumina {_fmt(x)}, torch {_fmt(y)} "
                          f"({int((~ok).sum())} of {a.size} differ)" + self._at(i),
                    mismatch=Mismatch(path, a, b, np.argwhere(~ok)))

    def _at(self, index) -> str:
        """The input elements at ``index`` for an elementwise op whose inputs broadcast to it."""
        arrs = arrays_in(self.case)
        if not arrs or not all(a.value.ndim <= len(index) for a in arrs):
            return ""
        try:
            vals = []
            for a in arrs:
                sub = tuple(0 if d == 1 else k for d, k in zip(a.value.shape, index[len(index) - a.value.ndim:]))
                v = a.value[sub]
                vals.append(_fmt(float(v) if a.value.dtype == ml_dtypes.bfloat16 else v))
            return f" at input {', '.join(vals)}"
        except (IndexError, ValueError):
            return ""
