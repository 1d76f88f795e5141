"""Differential testing against PyTorch 2.13: every public lumina name that PyTorch also has, run on
generated inputs in both libraries and compared; and the comparison of their signatures.

- ``namesakes()``: the public names of ``lumina``, ``lumina.Tensor``, ``lumina.nn.functional``,
  ``lumina.nn`` (layers, ``init``, ``utils``) that torch has under the same name, found by
  introspection, so a new name cannot escape the table.
- ``Case``/``Arr``: one call's arguments, as NumPy arrays and Python values, converted to either
  library's tensors by the runner; hypothesis strategies draw them (``array``, ``shapes``,
  ``broadcast_shapes``, the special values of ``specials``).
- ``OpSpec``: how to call a namesake (``call(L, *args)`` written once for ``L`` = ``lumina`` or
  ``torch``), the strategy of its cases per dtype, and how to compare (exact bits, a tolerance in
  units of the dtype's epsilon, the rounding bound of a sum, further references where torch is no
  oracle: float64, power-of-two rescaling, mpmath, finite differences).
- ``check(spec, cases)``: runs a batch of cases (one lumina realisation for all their outputs and
  gradients) and returns the ``Discrepancy`` list: wrong values, NaN/inf/signed-zero positions,
  dtypes, shapes, return types (named tuples), gradients, and errors (where torch raises, lumina
  must raise a ``LuminaError``; lumina raising where torch returns is reported too).
- ``OPS``: the table, one ``OpSpec`` per namesake (``name#variant`` for further rows);
  ``EXCLUDED``: namesakes not run, each with its reason; ``COMPARISON_RULES``: where the
  comparison is looser than bit-for-bit, and why.
- ``KNOWN_DIFFERENCES``: reviewed differences, each a predicate on a row's discrepancies (the
  case, lumina's error, the differing elements) with its reason: gaps where lumina raises a
  ``LuminaError`` and torch computes, and deliberate differences. ``triage`` splits a row's
  discrepancies into failures and known differences, and names the entries that matched nothing
  (stale: the gap was closed, remove the entry).
- Signatures live in ``lumina.testing.torch_signatures`` (``signature_namesakes()``,
  ``torch_signatures(name)``, ``compare_signature`` and the reviewed exceptions).
- ``write_docs()``: the generated tables of ``docs/torch_parity.md``.

``python -m lumina.testing.torch_diff [NAME ...]`` runs the table (or the rows named) and prints
every distinct discrepancy; ``--write-docs`` refreshes the document.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import ml_dtypes
import numpy as np
import torch
from hypothesis import strategies as st

import lumina
from ..errors import LuminaError, LuminaShapeError, LuminaTypeError

from .namesakes import namesakes
from .torch_signatures import SIGNATURE_DIFFERENCES, SIGNATURE_EXCLUDED, SIGNATURE_OMISSIONS

# ---- cases --------------------------------------------------------------------------------------------

FLOATS = ("float32", "float64", "float16", "bfloat16")
INTS = ("int64", "int32")
ALL = FLOATS + INTS + ("bool",)


def _np_dtype(name: str):
    return ml_dtypes.bfloat16 if name == "bfloat16" else np.dtype("bool" if name == "bool" else name)


def is_float(name: str) -> bool:
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


def _to_lib(L, a):
    """Case argument -> an argument of library ``L`` (tensors are fresh leaves)."""
    if isinstance(a, Arr):
        if L is lumina:
            return lumina.tensor(a.value, requires_grad=a.grad)
        v = a.value
        t = torch.tensor(v.astype(np.float32)).to(torch.bfloat16) if v.dtype == ml_dtypes.bfloat16 \
            else torch.tensor(v)
        return t.requires_grad_(a.grad and not a.fd)
    if isinstance(a, Dt):
        return getattr(L, a.name)
    if isinstance(a, list):
        return [_to_lib(L, x) for x in a]
    if isinstance(a, tuple) and any(isinstance(x, Arr) for x in a):
        return tuple(_to_lib(L, x) for x in a)
    return a


def _arrs(case: Case) -> list[Arr]:
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


# ---- values: special and ordinary ----------------------------------------------------------------------

def specials(dtype: str) -> np.ndarray:
    """NaN, +-inf, +-0, +-1, the largest and smallest normal and subnormal magnitudes of ``dtype``,
    and a few ordinary values; for integers, 0, +-1 and the extremes; for bool, both."""
    if dtype == "bool":
        return np.array([False, True])
    if dtype in INTS:
        info = np.iinfo(dtype)
        return np.array([0, 1, -1, 2, -3, 7, info.max, info.min], dtype)
    info = ml_dtypes.finfo(_np_dtype(dtype))
    vals = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0,
            float(info.max), -float(info.max), float(info.tiny), -float(info.tiny),
            float(info.smallest_subnormal), 1e-3, 20.0, -30.0, 100.0]
    return np.array(vals, np.float64).astype(_np_dtype(dtype))


def ordinary(dtype: str) -> st.SearchStrategy:
    """Scalars of ``dtype`` away from every special value."""
    if dtype == "bool":
        return st.booleans()
    if dtype in INTS:
        return st.integers(-6, 6)
    return st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False, width=32)


def element(dtype: str, special_weight: int = 1) -> st.SearchStrategy:
    """Ordinary values, and each special value with probability about ``special_weight / 4``."""
    sp = st.sampled_from(list(specials(dtype).astype(np.float64 if is_float(dtype) else _np_dtype(dtype)).tolist()))
    return st.one_of(*([ordinary(dtype)] * (4 - special_weight)), *([sp] * special_weight))


@st.composite
def array(draw, dtype: str, shape: tuple[int, ...], lo=None, hi=None, special: bool = True) -> np.ndarray:
    """An array of ``dtype`` and ``shape``: ordinary values in [lo, hi] (defaults: [-4, 4]) mixed,
    when ``special``, with the special values."""
    n = math.prod(shape)
    if lo is not None or hi is not None:
        lo = -4 if lo is None else lo
        hi = 4 if hi is None else hi
        elem = st.integers(int(lo), int(hi)) if not is_float(dtype) else \
            st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        if special and is_float(dtype):
            elem = st.one_of(elem, elem, elem, st.sampled_from([float(lo), float(hi), 0.0, -0.0]))
    else:
        elem = element(dtype) if special else ordinary(dtype)
    vals = draw(st.lists(elem, min_size=n, max_size=n))
    return np.array(vals, dtype=np.float64 if is_float(dtype) else _np_dtype(dtype)).astype(
        _np_dtype(dtype)).reshape(shape)


def shapes(min_rank: int = 0, max_rank: int = 3, min_side: int = 0, max_side: int = 3) -> st.SearchStrategy:
    """Small shapes; a 0 side (an empty tensor) is one draw in eight."""
    side = st.one_of(st.integers(max(min_side, 1), max_side), st.integers(max(min_side, 1), max_side),
                     st.integers(max(min_side, 1), max_side), st.integers(max(min_side, 1), max_side),
                     st.integers(max(min_side, 1), max_side), st.integers(max(min_side, 1), max_side),
                     st.integers(max(min_side, 1), max_side), st.just(min_side))
    return st.lists(side, min_size=min_rank, max_size=max_rank).map(tuple)


@st.composite
def broadcast_shapes(draw, n: int, min_rank: int = 0, max_rank: int = 3, mismatch: bool = True):
    """``n`` shapes that broadcast together (each a suffix of a common shape, some sides 1); with
    ``mismatch``, one draw in twelve makes two of them incompatible (torch raises)."""
    base = draw(shapes(min_rank, max_rank))
    out = []
    for _ in range(n):
        k = draw(st.integers(0, len(base)))
        s = [1 if draw(st.integers(0, 3)) == 0 else d for d in base[k:]]
        out.append(tuple(s))
    if mismatch and n > 1 and rarely(draw, 12):
        s = list(out[0]) or [2]
        s[-1] = s[-1] + 2
        out[0] = tuple(s)
        out[1] = tuple(list(out[1]) or [3])
    return out


def _grad(dtype: str, differentiable: bool) -> bool:
    return differentiable and is_float(dtype)


def rarely(draw, n: int) -> bool:
    """True one draw in ``n``, and never in hypothesis's simplest example (its first): for the
    invalid inputs on which torch raises, which should not crowd out the valid ones."""
    return draw(st.integers(0, n - 1)) == n - 1


def dim_of(draw, rank: int, allow_none: bool = False, errors: bool = True):
    """A dim of a rank-``rank`` tensor, counted from either end; with ``errors`` one draw in twelve
    is out of range (torch raises IndexError)."""
    if allow_none and draw(st.integers(0, 3)) == 0:
        return None
    if errors and rarely(draw, 12):
        return max(rank, 1) + draw(st.integers(0, 2))
    r = max(rank, 1)
    return draw(st.integers(-r, r - 1))


# ---- case strategies, by family ----------------------------------------------------------------------

def unary_cases(lo=None, hi=None, differentiable=True):
    @st.composite
    def cases(draw, dtype):
        x = draw(array(dtype, draw(shapes()), lo, hi))
        return Case((Arr(x, _grad(dtype, differentiable)),), dtype=dtype)
    return cases


def unary_specials(dtype: str, differentiable: bool = True) -> list[Case]:
    return [Case((Arr(specials(dtype), _grad(dtype, differentiable)),), dtype=dtype)]


def binary_cases(scalar_other=True, differentiable=True, other_dtypes=ALL):
    """``x op y`` with broadcasting; ``y`` sometimes a Python scalar or of another dtype (promotion)."""
    @st.composite
    def cases(draw, dtype):
        sa, sb = draw(broadcast_shapes(2))
        x = Arr(draw(array(dtype, sa)), _grad(dtype, differentiable))
        kind = draw(st.integers(0, 5))
        if scalar_other and kind == 0:
            return Case((x, draw(st.sampled_from([2, -1, 0, 0.5, -0.0, math.inf, math.nan, True]))), dtype=dtype)
        odt = draw(st.sampled_from(other_dtypes)) if kind == 1 else dtype
        return Case((x, Arr(draw(array(odt, sb)), _grad(odt, differentiable))), dtype=dtype)
    return cases


def binary_specials(dtype: str, differentiable: bool = True) -> list[Case]:
    s = specials(dtype)
    g = _grad(dtype, differentiable)
    return [Case((Arr(s.reshape(-1, 1), g), Arr(s.reshape(1, -1), g)), dtype=dtype)]


def reduce_cases(keepdim=True, tuple_dims=True, allow_none=True, differentiable=True, extra=None):
    """``x.op()``, ``x.op(dim)``, ``x.op(dim, keepdim)`` with ``dim`` an int, a tuple or None;
    ``extra(draw, dtype)`` adds keyword arguments."""
    @st.composite
    def cases(draw, dtype):
        shape = draw(shapes())
        x = Arr(draw(array(dtype, shape)), _grad(dtype, differentiable))
        form = draw(st.integers(0, 3))
        kw = extra(draw, dtype) if extra else {}
        if "dtype" in kw and not is_float(kw["dtype"].name):
            x = Arr(x.value)    # torch's autograd refuses an integer result of a float input that requires grad
        if form == 0:
            return Case((x,), kw, dtype)
        if form == 1 and tuple_dims and len(shape) >= 2:
            dims = tuple(draw(st.permutations(range(len(shape))))[:draw(st.integers(1, len(shape)))])
            dim = dims
        else:
            dim = dim_of(draw, len(shape), allow_none=allow_none)
        if keepdim and draw(st.booleans()):
            return Case((x, dim), {"keepdim": draw(st.booleans()), **kw}, dtype)
        return Case((x, dim), kw, dtype)
    return cases


def reduce_specials(dtype: str, differentiable: bool = True) -> list[Case]:
    """Every special value alone in a row, and with an ordinary value: ``[[s, 1.0], ...]``."""
    s = specials(dtype)
    g = _grad(dtype, differentiable)
    pair = np.stack([s, np.full_like(s, 1)], 1)
    same = np.stack([s, s], 1)
    return [Case((Arr(pair, g), 1), dtype=dtype), Case((Arr(same, g), 1), dtype=dtype),
            Case((Arr(pair, g), 0), dtype=dtype)]


# ---- specs ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpSpec:
    """How one namesake is run and compared.

    ``call(L, *args, **kwargs)`` calls it in library ``L`` (``lumina`` or ``torch``; ``L.nn`` and
    ``L.nn.functional`` are there too). With ``module``, ``module(L)`` builds a layer in each
    library (torch's state is loaded into lumina's) and ``call(L, m, *args)`` runs it; parameter
    gradients are compared too.
    ``cases(dtype)`` is the hypothesis strategy of one ``Case``; ``fixed(dtype)`` the deterministic
    cases always run (the special values). ``dtypes``: the input dtypes tried.
    Comparison: ``exact`` values must match bit for bit (NaN equal to NaN, zeros' signs included);
    else within ``ulps`` units of the dtype's epsilon, relative, plus, with ``accumulates``, the
    rounding bound of a sum: ``2 * n * eps * op(|inputs|)`` (``n`` the input size), which covers
    reassociated sums. ``grad``: compare gradients with torch autograd. ``values=False``: compare
    dtypes, shapes and types only (random ops: different generators). ``check_extra(case, lumina's
    result, torch's)`` returns further problems (a property of a random op's result).
    ``normwise``: a composite op (a normalisation, attention, a loss) whose elements may be off by
    ``ulps`` epsilons of the largest one. ``homogeneous``: the degree ``d`` of
    ``f(s x, ...) = s^d f(x, ...)`` in the first argument, for a rescaled reference where torch
    overflows (see ``_alternatives``). ``draws``: the share of the generated cases this row draws
    (below 1 for rows whose graphs are slow to compile). ``exact_math``: (f, f') of an elementwise
    function of one tensor in mpmath, evaluated to 40 digits as a further reference where torch's
    own formula loses digits (its float64 ``sigmoid'(20)`` is 1e-7 off). ``grad_atol``: an absolute
    gradient tolerance of that many epsilons times the cotangent, for derivatives computed from the
    rounded output (``1 - tanh(x)^2`` is off by ``2 eps`` absolute, whatever its size). Deliberate differences: ``skip``, (reason, predicate on a
    case) pairs, leaves out the cases outside the compared domain; ``amend``, (reason,
    fn(case, torch's result) -> corrected result), corrects torch where torch is wrong.
    """
    name: str
    call: Callable
    cases: Callable[[str], st.SearchStrategy]
    dtypes: tuple[str, ...] = ("float32", "float64")
    fixed: Callable[[str], list[Case]] | None = None
    module: Callable | None = None
    exact: bool = False
    signed_zeros: bool = True
    ulps: float = 4.0
    grad_ulps: float | None = None
    accumulates: bool = False
    grad: bool = True
    values: bool = True
    check_extra: Callable | None = None
    normwise: bool = False
    homogeneous: int | None = None
    exact_math: tuple | None = None
    grad_atol: float = 0.0
    draws: float = 1.0
    skip: tuple = ()
    amend: tuple | None = None
    checks: str = ""          # what is checked beyond values/dtype/shape/grad, for the docs


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


# ---- running -------------------------------------------------------------------------------------------

_EPS = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23, "float64": 2.0 ** -52}
GRAD_ULPS = {"float64": 512.0, "float32": 128.0, "float16": 8.0, "bfloat16": 4.0}
"""Default gradient tolerance, in units of epsilon: derivative formulas legitimately differ
(``1 - tanh(x)^2`` loses ``1 / (1 - tanh(x)^2)`` ulps to cancellation; torch may use another form)."""


def _tname(t: torch.Tensor) -> str:
    return str(t.dtype).rpartition(".")[2]


def _t_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.to(torch.float64)
    return t.numpy()


def _l_numpy(t) -> np.ndarray:
    a = np.asarray(t.numpy())
    return a.astype(np.float64) if a.dtype in (ml_dtypes.bfloat16, np.float16) else a


def _is_namedtuple_like(x) -> tuple[str, ...] | None:
    fields = getattr(type(x), "_fields", None) or getattr(type(x), "__match_args__", None)
    return tuple(fields) if isinstance(x, tuple) and fields else None


def _leaves(x, out: list) -> None:
    if isinstance(x, (lumina.Tensor, torch.Tensor)):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for y in x:
            _leaves(y, out)


def _fmt(v) -> str:
    if isinstance(v, float) or isinstance(v, np.floating):
        return repr(float(v))
    return repr(v.item() if isinstance(v, np.generic) else v)


def _round_to(x: np.ndarray, dtype: str) -> np.ndarray:
    """A float64 reference rounded to ``dtype`` (what a correctly rounded result would be)."""
    if dtype not in _EPS:
        return x
    with np.errstate(all="ignore"):
        return x.astype(_np_dtype(dtype)).astype(np.float64)


class _Comparer:
    """Compares one case's lumina result with torch's, appending ``Discrepancy``s to ``problems``.
    ``alts``: further references for the same outputs and gradients (torch in float64, rounded;
    torch on rescaled inputs), any of which an element may match instead (see ``_alternatives``)."""

    def __init__(self, spec: OpSpec, case: Case, problems: list, kind_prefix: str = ""):
        self.spec, self.case, self.problems, self.prefix = spec, case, problems, kind_prefix
        self.n_terms = max([a.value.size for a in _arrs(case)] + [1])

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
            if getattr(lo, "name", None) != _tname(torch.empty(0, dtype=to)):
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
        tname = _tname(to)
        if lo.dtype.name != tname:
            self.report("dtype", f"{path}: lumina {lo.dtype.name}, torch {tname}")
        if tuple(lo.shape) != tuple(to.shape):
            self.report("shape", f"{path}: lumina {list(lo.shape)}, torch {list(to.shape)}")
            return
        self.array(path, _l_numpy(lo), _t_numpy(to), tname if tname in _EPS else "exact", scale, alts=alts)

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
            tol = u * eps * np.abs(b) + u * float(ml_dtypes.finfo(_np_dtype(dtype if dtype in _EPS else "float64")).tiny)
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
        arrs = _arrs(self.case)
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


def _call(spec: OpSpec, L, case: Case, module=None):
    args = [_to_lib(L, a) for a in case.args]
    kwargs = {k: _to_lib(L, v) for k, v in case.kwargs.items()}
    if module is not None:
        return args, kwargs, spec.call(L, module, *args, **kwargs)
    return args, kwargs, spec.call(L, *args, **kwargs)


def _grad_leaves(args, kwargs) -> list:
    out: list = []
    _leaves(list(args) + list(kwargs.values()), out)
    return [t for t in out if t.requires_grad and t.is_leaf]


def _cotangent(t: torch.Tensor, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([1.0, -0.5, 2.0, 0.25, -3.0]), size=tuple(t.shape))


def _make_modules(spec: OpSpec):
    torch.manual_seed(0)
    tm = spec.module(torch)
    lm = spec.module(lumina)
    state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    mine = dict(lm.state_dict())
    lm.load_state_dict({k: v for k, v in state.items() if k in mine}, strict=False)
    return tm, lm


@dataclass
class _Run:
    """One case in flight: torch's result (or the exception it raised), its gradients (inputs,
    then a layer's parameters), lumina's result, the lumina leaves whose ``.grad`` is compared,
    and the cotangents of the float outputs."""
    case: Case
    tout: Any
    lout: Any = None
    tgrads: tuple | None = None
    lleaves: list = field(default_factory=list)
    cots: list = field(default_factory=list)
    tparam_grads: tuple = ()
    tmod: Any = None
    fd_leaves: list = field(default_factory=list)

    def pending(self) -> list:
        ts: list = []
        _leaves(self.lout, ts)
        ts = [t for t in ts if isinstance(t, lumina.Tensor)]
        if self.tgrads is not None:
            ts += [t.grad for t in self.lleaves if t.grad is not None]
        ts += [t.grad for t, _ in self.fd_leaves if t.grad is not None]
        return ts


def _torch_run(spec: OpSpec, case: Case, tmod, seed: int = 0, cots: list | None = None) -> _Run:
    """Torch's result and gradients for ``case`` (a ``_Run`` whose ``tout`` is the exception when
    torch raises). ``cots``: the cotangents to use (else drawn from ``seed``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            targs, tkw, tout = _call(spec, torch, case, tmod)
        except Exception as e:  # noqa: BLE001 (any torch error is the oracle saying "raise")
            return _Run(case, e)
    run = _Run(case, tout, tmod=tmod)
    inputs = _grad_leaves(targs, tkw)
    tleaves = inputs + ([p for _, p in tmod.named_parameters()] if tmod is not None else [])
    touts: list = []
    _leaves(tout, touts)
    touts = [t for t in touts if t.requires_grad and t.is_floating_point()]
    if spec.grad and tleaves and touts:
        run.cots = cots if cots is not None else [_cotangent(t, seed + i) for i, t in enumerate(touts)]
        if len(run.cots) != len(touts) or any(c.shape != tuple(t.shape) for c, t in zip(run.cots, touts)):
            return run
        loss = sum((t * torch.tensor(c, dtype=t.dtype)).sum() for t, c in zip(touts, run.cots))
        try:
            grads = torch.autograd.grad(loss, tleaves, allow_unused=True)
            run.tgrads, run.tparam_grads = grads[:len(inputs)], grads[len(inputs):]
        except RuntimeError:
            run.tgrads = None
    return run


def _realize_all(runs: list[_Run]) -> dict[int, Exception]:
    """Realises every run's lumina tensors, all in one graph; a failing batch is split in halves
    until each failure is pinned to its run. Returns run index -> the exception."""
    failed: dict[int, Exception] = {}

    def go(idx: list[int]) -> None:
        try:
            lumina.realize(*[t for i in idx for t in runs[i].pending()])
        except Exception as e:  # noqa: BLE001
            if len(idx) == 1:
                failed[idx[0]] = e
                return
            go(idx[:len(idx) // 2])
            go(idx[len(idx) // 2:])
    if runs:
        go(list(range(len(runs))))
    return failed


def available(spec: OpSpec) -> bool:
    """Whether lumina has the spec's namesake (the table may run ahead of the library)."""
    head, _, rest = namesake_of(spec.name).partition(".")
    obj = {"lumina": lumina, "Tensor": lumina.Tensor, "F": lumina.nn.functional, "nn": lumina.nn}[head]
    for part in rest.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def check(spec: OpSpec, cases: list[Case]) -> list[Discrepancy]:
    """Runs ``cases`` through ``spec`` in both libraries and returns every discrepancy.

    All lumina outputs and gradients of the batch are realised together (one compiled graph); a
    batch that fails to realise is split until each failure is pinned to its case.
    """
    problems: list[Discrepancy] = []
    cases = [c for c in cases if not any(applies(c) for _, applies in spec.skip)]
    tmod = lmod = None
    if spec.module is not None:
        tmod, lmod = _make_modules(spec)
    runs: list[_Run] = []
    for k, case in enumerate(cases):
        run = _torch_run(spec, case, tmod, 7 * k)
        if spec.amend is not None and not isinstance(run.tout, Exception):
            run.tout = spec.amend[1](case, run.tout)
        cmp = _Comparer(spec, case, problems)
        try:
            largs, lkw, run.lout = _call(spec, lumina, case, lmod)
        except LuminaError as e:
            if not isinstance(run.tout, Exception):
                cmp.report("raises", f"lumina raised {type(e).__name__}: {str(e)[:200]}; torch returns "
                           f"{_summary(run.tout)}", error=e)
            continue
        except Exception as e:  # noqa: BLE001
            cmp.report("raw-exception", f"lumina raised {type(e).__name__}: {str(e)[:200]}"
                       + (f" (torch raises {type(run.tout).__name__})" if isinstance(run.tout, Exception) else ""))
            continue
        leaves = _grad_leaves(largs, lkw)
        marked = [a for a in _arrs(case) if a.grad]
        if len(leaves) == len(marked):
            run.fd_leaves = [(t, a) for t, a in zip(leaves, marked) if a.fd]
            leaves = [t for t, a in zip(leaves, marked) if not a.fd]
        if run.tgrads is not None:
            run.lleaves = leaves
        if run.fd_leaves and not run.cots and not isinstance(run.tout, Exception):
            touts: list = []
            _leaves(run.tout, touts)
            run.cots = [_cotangent(t, 7 * k + i) for i, t in enumerate(t for t in touts if t.is_floating_point())]
        runs.append(run)

    # lumina's backward: one loss over every case's float outputs (the gradient of a sum reaches
    # each case's leaves unchanged, so cases cannot disturb each other)
    total = None
    for run in runs:
        if run.tgrads is None and not run.fd_leaves:
            continue
        term = _loss(run.lout, run.tout, run.cots, any_float=run.tgrads is None)
        if term is not None:
            total = term if total is None else total + term
    if total is not None:
        try:
            total.backward()
        except Exception as e:  # noqa: BLE001
            kind = "grad" if isinstance(e, LuminaError) else "raw-exception"
            problems.append(Discrepancy(spec.name, kind, "(batch)", f"lumina backward raised {type(e).__name__}: "
                                        f"{str(e)[:200]}"))
            for run in runs:
                run.tgrads = None

    failed = _realize_all(runs)
    for i, run in enumerate(runs):
        cmp = _Comparer(spec, run.case, problems)
        if i in failed:
            e = failed[i]
            if not isinstance(e, LuminaError):
                cmp.report("raw-exception", f"lumina raised {type(e).__name__} when realised: {str(e)[:200]}")
            elif not isinstance(run.tout, Exception):
                cmp.report("raises", f"lumina raised {type(e).__name__} when realised: {str(e)[:200]}; "
                           f"torch returns {_summary(run.tout)}", error=e)
            continue
        if isinstance(run.tout, Exception):
            cmp.report("returns", f"torch raises {type(run.tout).__name__}: "
                       f"{str(run.tout).strip().splitlines()[0][:160]}; lumina returns {_summary(run.lout)}")
            continue
        found: list[Discrepancy] = []
        _compare_run(spec, run, _Comparer(spec, run.case, found))
        if found and all(d.kind.endswith(("value", "nan", "inf", "signed-zero")) for d in found):
            alts = _alternatives(spec, run)
            if alts:
                found = []
                _compare_run(spec, run, _Comparer(spec, run.case, found), alts)
        problems += found
    if lmod is not None and total is not None and not failed:   # a failed case's terms are in every gradient
        _compare_parameters(spec, tmod, lmod, runs, problems)
    fd_runs = [r for i, r in enumerate(runs) if i not in failed and r.fd_leaves and r.case.dtype == "float64"
               and not isinstance(r.tout, Exception)]
    if fd_runs:
        _finite_differences(spec, fd_runs, lmod, problems)
    return problems


def _loss(lout, tout, cots: list, any_float: bool = False):
    """``sum(output * cotangent)`` over lumina's float outputs that torch differentiates (every
    float output with ``any_float``), in float64; None when there is none."""
    louts: list = []
    _leaves(lout, louts)
    touts: list = []
    _leaves(tout, touts)
    pairs = [lo for lo, to in zip(louts, touts) if to.is_floating_point() and (any_float or to.requires_grad)]
    total = None
    for lo, c in zip(pairs, cots):
        if isinstance(lo, lumina.Tensor) and lo.requires_grad and tuple(lo.shape) == c.shape:
            term = (lo * lumina.tensor(c.astype(_np_dtype(lo.dtype.name)))).sum().to(lumina.float64)
            total = term if total is None else total + term
    return total


def _finite_differences(spec: OpSpec, runs: list[_Run], lmod, problems: list) -> None:
    """For the arguments marked ``Arr(fd=True)``: lumina's gradient along a random direction ``v``
    against ``(f(x + h v) - f(x - h v)) / 2h`` of lumina's own forward, ``f = sum(output *
    cotangent)``, all cases in one graph (float64 cases with finite inputs)."""
    rng = np.random.default_rng(0)
    pending = []
    for run in runs:
        if not all(np.isfinite(a.value).all() for a in _arrs(run.case) if a.value.dtype.kind == "f"):
            continue
        dirs = {id(a): rng.standard_normal(a.value.shape) for _, a in run.fd_leaves}
        h = 1e-6 * max([1.0] + [float(np.abs(a.value).max(initial=0.0)) for _, a in run.fd_leaves])

        def moved(sign):
            def go(a):
                if isinstance(a, Arr):
                    return Arr(a.value + sign * h * dirs[id(a)], False) if id(a) in dirs else Arr(a.value, False)
                if isinstance(a, list):
                    return [go(x) for x in a]
                if isinstance(a, tuple) and any(isinstance(x, Arr) for x in a):
                    return tuple(go(x) for x in a)
                return a
            return Case(tuple(go(a) for a in run.case.args), {k: go(v) for k, v in run.case.kwargs.items()})
        try:
            values = []
            for sign in (1.0, -1.0):
                _, _, out = _call(spec, lumina, moved(sign), lmod)
                outs: list = []
                _leaves(out, outs)
                touts: list = []
                _leaves(run.tout, touts)
                floats = [o for o, t in zip(outs, touts) if t.is_floating_point()]
                values.append(sum((o.to(lumina.float64) * lumina.tensor(c)).sum() for o, c in zip(floats, run.cots)))
        except Exception as e:  # noqa: BLE001
            _Comparer(spec, run.case, problems, "grad ").report("fd", f"the moved inputs failed: {e}")
            continue
        pending.append((run, dirs, h, values))
    if not pending:
        return
    lumina.realize(*[v for _, _, _, vals in pending for v in vals if isinstance(v, lumina.Tensor)])
    for run, dirs, h, (plus, minus) in pending:
        fd = (float(plus) - float(minus)) / (2 * h)
        if not math.isfinite(fd):
            continue
        grads = [np.zeros(a.value.shape) if t.grad is None else _l_numpy(t.grad) for t, a in run.fd_leaves]
        analytic = sum(float((g * dirs[id(a)]).sum()) for g, (_, a) in zip(grads, run.fd_leaves))
        if not abs(fd - analytic) <= 1e-5 * max(1.0, abs(fd), abs(analytic)):
            _Comparer(spec, run.case, problems, "grad ").report(
                "fd", f"directional derivative of the arguments marked for finite differences: lumina's gradient "
                      f"gives {analytic!r}, finite differences {fd!r}")


def _compare_parameters(spec: OpSpec, tmod, lmod, runs: list[_Run], problems: list) -> None:
    """A layer's parameter gradients, summed over the batch's cases (lumina's accumulate in
    ``.grad`` over the one backward of the batch; torch's are per case)."""
    mine = dict(lmod.named_parameters())
    cmp = _Comparer(spec, Case(("(the batch)",)), problems, "grad ")
    cmp.n_terms = sum(max([a.value.size for a in _arrs(r.case)] + [1]) for r in runs)
    for k, (name, _) in enumerate(tmod.named_parameters()):
        want = None
        for r in runs:
            if r.tgrads is not None and k < len(r.tparam_grads) and r.tparam_grads[k] is not None:
                g = r.tparam_grads[k].detach().to(torch.float64)
                want = g if want is None else want + g
        if want is None:
            continue
        p = mine.get(name)
        if p is None:
            cmp.report("value", f"{name}: lumina's layer has no parameter {name!r}")
            continue
        try:
            got = np.zeros(tuple(p.shape)) if p.grad is None else _l_numpy(p.grad)
        except Exception as e:  # noqa: BLE001
            cmp.report("value", f"{name}: the gradient could not be realised: {type(e).__name__}: {str(e)[:120]}")
            continue
        cmp.array(f"{name}.grad", got, want.numpy(), p.dtype.name, ulps=GRAD_ULPS.get(p.dtype.name, 64.0))


def _map_floats(case: Case, fn, first_only: bool = False) -> Case | None:
    """``case`` with ``fn`` applied to its float arrays (only the first argument's with
    ``first_only``); None when there is none to change."""
    changed = [False]

    def go(a, top: bool):
        if isinstance(a, Arr) and (a.value.dtype.kind == "f" or a.value.dtype == ml_dtypes.bfloat16):
            if first_only and not top:
                return a
            new = fn(a.value)
            if new is None:
                return a
            changed[0] = True
            return Arr(new, a.grad)
        if isinstance(a, list):
            return [go(x, False) for x in a]
        if isinstance(a, tuple) and any(isinstance(x, Arr) for x in a):
            return tuple(go(x, False) for x in a)
        return a
    args = tuple(go(a, i == 0) for i, a in enumerate(case.args))
    kwargs = {k: go(v, False) for k, v in case.kwargs.items()}
    return Case(args, kwargs, case.dtype) if changed[0] else None


def _module_copy(tmod, fn):
    import copy
    m = copy.deepcopy(tmod)
    with torch.no_grad():
        fn(m)
    return m


def _alternatives(spec: OpSpec, run: _Run) -> list[tuple[list, list]]:
    """Further references for a case whose values differ from torch's, each as (outputs, input
    gradients) in float64:

    - torch in float64 on the same (16- or 32-bit) inputs: a lumina value that equals it rounded
      to the dtype is correctly rounded, more accurate than torch's own (torch's float32
      ``gelu(inf)`` is NaN, its float32 gradient of ``var`` overflows where float64's does not);
    - for an op homogeneous of degree ``d`` in its first argument (``OpSpec.homogeneous``), torch
      on that argument scaled by a power of two, ``f(x) = 2^(k d) f(x / 2^k)`` exactly, where
      ``x`` is so large that torch's own float64 statistics overflow (``std([1e308, 1])``).
    """
    out = []
    refs = []
    up = _map_floats(run.case, lambda v: v.astype(np.float64) if v.dtype != np.float64 else None)
    tmod64 = _module_copy(run.tmod, lambda m: m.double()) if run.tmod is not None else None
    if up is not None:
        refs.append((up, tmod64, 0, 0))
    if spec.homogeneous is not None and run.case.args and isinstance(run.case.args[0], Arr):
        x = run.case.args[0].value.astype(np.float64)
        finite = np.abs(x[np.isfinite(x)])
        if finite.size and finite.max() > 2.0 ** 64:
            k = int(math.floor(math.log2(finite.max()))) - 20
            scaled = _map_floats(run.case, lambda v: np.ldexp(v.astype(np.float64), -k), first_only=True)
            if scaled is not None:
                refs.append((scaled, tmod64, k, spec.homogeneous))
    if spec.exact_math is not None:
        out.append(_exact_math(spec, run))
    for case, tmod, k, degree in refs:
        ref = _torch_run(spec, case, tmod, cots=run.cots)
        if isinstance(ref.tout, Exception):
            continue
        if spec.amend is not None:
            ref.tout = spec.amend[1](case, ref.tout)
        outs: list = []
        _leaves(ref.tout, outs)
        with np.errstate(all="ignore"):
            values = [np.ldexp(_t_numpy(t).astype(np.float64), k * degree) if t.is_floating_point() else _t_numpy(t)
                      for t in outs]
            grads = [None if g is None else np.ldexp(_t_numpy(g), k * (degree - (1 if j == 0 else 0)))
                     for j, g in enumerate(ref.tgrads or ())]
        out.append((values, grads))
    return out


def _exact_math(spec: OpSpec, run: _Run) -> tuple[list, list]:
    """``spec.exact_math`` on the case's one tensor, elementwise in mpmath at 40 digits: the value
    and, times the cotangent, the gradient (NaN where the function is not real)."""
    import mpmath
    f, df = spec.exact_math
    x = run.case.args[0].value.astype(np.float64)
    kw = run.case.kwargs

    def real(fn, v):
        try:
            r = fn(mpmath.mpf(v), **kw)
            return float(r) if not isinstance(r, mpmath.mpc) else math.nan
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return math.nan
    with mpmath.workdps(40):
        values = np.vectorize(lambda v: real(f, v), otypes=[np.float64])(x) if x.size else x
        slopes = np.vectorize(lambda v: real(df, v), otypes=[np.float64])(x) if x.size else x
    grads = [slopes * run.cots[0]] if run.cots and run.cots[0].shape == x.shape else []
    return [values], grads


def _summary(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"{_tname(x)}{list(x.shape)}"
    if isinstance(x, lumina.Tensor):
        try:
            v = _l_numpy(x)
            body = np.array2string(v, threshold=8, edgeitems=2, separator=",").replace("\n", "")
        except Exception:  # noqa: BLE001
            body = "?"
        return f"{x.dtype.name}{list(x.shape)} {body}"
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__}({', '.join(_summary(y) for y in x)})"
    return repr(x)[:80]


def _magnitudes(spec: OpSpec, run: _Run) -> tuple[list, list] | None:
    """The op, and its gradient with ``|cotangent|``, on ``|inputs|`` in float64 (a layer's
    parameters too): the magnitudes that the rounding error of a sum scales with, the sums being
    of products of the same factors, all positive. None where torch cannot compute them."""
    case = _map_floats(run.case, lambda v: np.abs(v.astype(np.float64))) or run.case
    tmod = None
    if run.tmod is not None:
        tmod = _module_copy(run.tmod, lambda m: [p.abs_() for p in m.double().parameters()])
    ref = _torch_run(spec, case, tmod, cots=[np.abs(c) for c in run.cots] if run.cots else None)
    if isinstance(ref.tout, Exception):
        return None
    outs: list = []
    _leaves(ref.tout, outs)
    return [_t_numpy(t) for t in outs], [None if g is None else _t_numpy(g) for g in (ref.tgrads or ())]


def _compare_run(spec: OpSpec, run: _Run, cmp: _Comparer, alts: list | None = None) -> None:
    """Structure, dtypes, shapes, values and gradients of one case; a value outside the plain
    tolerance gets a second look with the rounding bound of a sum (see ``OpSpec``), and, with
    ``alts``, against the further references of ``_alternatives``."""
    alts = alts or []
    pairs = cmp.structure(run.lout, run.tout)
    if spec.check_extra is not None:
        for p in spec.check_extra(run.case, run.lout, run.tout) or ():
            cmp.report("value", p)
    if not spec.values:
        for path, lo, to in pairs:
            if lo.dtype.name != _tname(to):
                cmp.report("dtype", f"{path}: lumina {lo.dtype.name}, torch {_tname(to)}")
            if tuple(lo.shape) != tuple(to.shape):
                cmp.report("shape", f"{path}: lumina {list(lo.shape)}, torch {list(to.shape)}")
        return
    mags: list = []

    def magnitudes():
        if not mags:
            mags.append(_magnitudes(spec, run) if (spec.accumulates or spec.exact) else None)
        return mags[0]

    for k, (path, lo, to) in enumerate(pairs):
        others = [vals[k] if k < len(vals) else None for vals, _ in alts]
        first: list[Discrepancy] = []
        _Comparer(spec, run.case, first).tensor(path, lo, to, alts=others)
        if first and spec.accumulates and not spec.exact and all(d.kind == "value" for d in first):
            m = magnitudes()
            if m is not None and k < len(m[0]) and m[0][k].shape == tuple(to.shape):
                first = []
                _Comparer(spec, run.case, first).tensor(path, lo, to, m[0][k], alts=others)
        cmp.problems += first
    if run.tgrads is None:
        return
    for k, (lt, tg) in enumerate(zip(run.lleaves, run.tgrads)):
        name = f"grad[{k}]"
        dt = lt.dtype.name
        ulps = spec.grad_ulps if spec.grad_ulps is not None else GRAD_ULPS.get(dt, 64.0)
        lg = lt.grad
        want = np.zeros(tuple(lt.shape)) if tg is None else _t_numpy(tg)
        got = np.zeros(tuple(lt.shape)) if lg is None else _l_numpy(lg)
        if lg is not None and lg.dtype.name != dt:
            cmp.report("grad dtype", f"{name}: lumina {lg.dtype.name}, the input's {dt}")
        others = [grads[k] if k < len(grads) else None for _, grads in alts]
        atol = None
        if spec.grad_atol and run.cots and run.cots[0].shape == got.shape:
            atol = spec.grad_atol * run.cots[0]
        first = []
        _Comparer(spec, run.case, first, "grad ").array(name, got, want, dt, ulps=ulps, alts=others, atol=atol)
        if first and all(d.kind == "grad value" for d in first):
            m = magnitudes()
            if m is not None and k < len(m[1]) and m[1][k] is not None:
                first = []
                _Comparer(spec, run.case, first, "grad ").array(name, got, want, dt, scale=m[1][k], ulps=ulps,
                                                                alts=others)
        cmp.problems += first


# ---- the table -----------------------------------------------------------------------------------------

def _methods(name: str, scopes=("lumina", "Tensor"), **kw) -> list[OpSpec]:
    """Specs for ``lumina.name(x, ...)`` and ``x.name(...)`` (and ``F.name`` where listed)."""
    specs = []
    for s in scopes:
        if s == "lumina":
            call = (lambda n: lambda L, x, *a, **k: getattr(L, n)(x, *a, **k))(name)
        elif s == "Tensor":
            call = (lambda n: lambda L, x, *a, **k: getattr(x, n)(*a, **k))(name)
        else:
            call = (lambda n: lambda L, x, *a, **k: getattr(L.nn.functional, n)(x, *a, **k))(name)
        specs.append(OpSpec(f"{s}.{name}", call, **kw))
    return specs


def _unary(name, lo=None, hi=None, dtypes=ALL, exact=False, ulps=4.0, scopes=("lumina", "Tensor"),
           differentiable=True, **kw):
    return _methods(name, scopes, cases=unary_cases(lo, hi, differentiable), dtypes=dtypes, exact=exact,
                    ulps=ulps, grad=differentiable, fixed=lambda d: unary_specials(d, differentiable), **kw)


def _dunder(name, fn, cases, fixed=None, dtypes=ALL, exact=False, ulps=4.0, **kw):
    return [OpSpec(f"Tensor.{name}", fn, cases=cases, fixed=fixed, dtypes=dtypes, exact=exact, ulps=ulps, **kw)]


def _binary_dunder(name, op, exact=False, ulps=4.0, differentiable=True, dtypes=ALL, reverse=None):
    """``x op y`` (``Tensor.__op__``); ``reverse`` is the reflected name (``__radd__``), run as
    ``scalar op x`` and ``array op x`` for a NumPy array or list on the left."""
    out = _dunder(name, lambda L, x, y: op(x, y), binary_cases(differentiable=differentiable), exact=exact, ulps=ulps,
                  fixed=lambda d: binary_specials(d, differentiable), dtypes=dtypes, grad=differentiable)
    if reverse:
        @st.composite
        def rcases(draw, dtype):
            x = Arr(draw(array(dtype, draw(shapes()))), _grad(dtype, differentiable))
            return Case((x, draw(st.sampled_from([2, -1, 0, 0.5, -0.0, math.inf, math.nan, True]))), dtype=dtype)
        out += _dunder(reverse, lambda L, x, s: op(s, x), rcases, exact=exact, ulps=ulps, dtypes=dtypes,
                       grad=differentiable)
    return out


import operator as _op  # noqa: E402


# reductions -----------------------------------------------------------------------------------------------

def _var_extra(draw, dtype):
    kind = draw(st.integers(0, 3))
    if kind == 1:
        return {"correction": draw(st.sampled_from([0, 1, 2, None]))}
    if kind == 2:
        return {"unbiased": draw(st.booleans())}
    return {}


@st.composite
def _var_positional(draw, dtype):
    """``var(x, dim, unbiased)`` and ``var(x, unbiased)`` (torch's positional forms)."""
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    if draw(st.booleans()):
        return Case((x, draw(st.booleans())), dtype=dtype)
    return Case((x, dim_of(draw, len(shape), errors=False), draw(st.booleans())), dtype=dtype)


def _var_fixed(dtype):
    if not is_float(dtype):
        return []
    info = ml_dtypes.finfo(_np_dtype(dtype))
    big = float(info.max) * 0.9
    huge = 1e30 if dtype in ("float32", "float64") else float(info.max) / 4
    # rows whose variance is representable (the true value of a row spread over +-max overflows)
    rows = np.array([[big, big, big], [big, big * (1 - 2 ** -6), big], [huge, -huge, 0.0]], np.float64)
    x = Arr(rows.astype(_np_dtype(dtype)), True)
    # nearly constant rows (no cancellation allowed in the value; the gradient there is
    # ill-conditioned, (x - mean) / std with both a few ulps, so it is not compared)
    # (means exactly representable, so the true deviations are too: a two-pass or shifted form
    # gets them exactly, E[x^2] - E[x]^2 gets 0 or garbage)
    e = float(info.eps)
    near = np.array([[1.0, 1.0 + 4 * e, 1.0, 1.0 + 4 * e], [8192.0, 8192.0 * (1 + 8 * e), 8192.0, 8192.0 * (1 + 8 * e)]])
    y = Arr(near.astype(_np_dtype(dtype)))
    return reduce_specials(dtype) + [Case((x, 1), dtype=dtype), Case((x, 1), {"correction": 0}, dtype=dtype),
                                     Case((y, 1), dtype=dtype)]


@st.composite
def _max_cases(draw, dtype):
    """``max(x)``, ``max(x, dim[, keepdim])`` (values and indices) and ``max(x, other)``."""
    form = draw(st.integers(0, 3))
    g = _grad(dtype, True)
    if form == 3:
        sa, sb = draw(broadcast_shapes(2))
        return Case((Arr(draw(array(dtype, sa)), g), Arr(draw(array(dtype, sb)), g)), dtype=dtype)
    shape = draw(shapes(0, 3, min_side=1)) if form == 0 else draw(shapes())
    x = Arr(draw(array(dtype, shape)), g)
    if form == 0:
        return Case((x,), dtype=dtype)
    dim = dim_of(draw, len(shape))
    if form == 2:
        return Case((x, dim), {"keepdim": draw(st.booleans())}, dtype=dtype)
    return Case((x, dim), dtype=dtype)


def _max_fixed(dtype):
    return reduce_specials(dtype) + binary_specials(dtype)


@st.composite
def _arg_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)))
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((x,), dtype=dtype)
    dim = dim_of(draw, len(shape))
    return Case((x, dim), {"keepdim": draw(st.booleans())} if form == 2 else {}, dtype=dtype)


def _arg_fixed(dtype):
    return [Case(c.args[:1], dtype=dtype) for c in reduce_specials(dtype, False)[:1]] + \
        [Case((Arr(c.args[0].value), c.args[1]), dtype=dtype) for c in reduce_specials(dtype, False)]


@st.composite
def _cumsum_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    kw = {"dtype": Dt(draw(st.sampled_from(["float64", "int64", "float32"])))} if draw(st.integers(0, 3)) == 0 else {}
    if kw and not is_float(kw["dtype"].name):
        x = Arr(x.value)        # torch's autograd refuses an integer result of a float input that requires grad
    return Case((x, dim_of(draw, len(shape))), kw, dtype=dtype)


def _sum_extra(draw, dtype):
    return {"dtype": Dt(draw(st.sampled_from(["float64", "int64", "float32"])))} if draw(st.integers(0, 5)) == 0 else {}


# shape ops ------------------------------------------------------------------------------------------------

@st.composite
def _reshape_cases(draw, dtype, method=True):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    n = math.prod(shape)
    target = list(draw(st.permutations(list(shape)))) if shape else []
    if draw(st.booleans()) and target:
        target[draw(st.integers(0, len(target) - 1))] = -1
    if rarely(draw, 8):
        target = target + [2]       # mismatched element count: torch raises
    if n and draw(st.integers(0, 3)) == 0:
        target = [n]
    if method and draw(st.booleans()):
        return Case((x, *target), dtype=dtype)
    return Case((x, tuple(target)), dtype=dtype)


@st.composite
def _permute_cases(draw, dtype, method=True):
    shape = draw(shapes(0, 4))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    perm = list(draw(st.permutations(range(len(shape)))))
    perm = [p - len(shape) if draw(st.booleans()) else p for p in perm]
    if rarely(draw, 8):
        perm = perm + [0]           # not a permutation: torch raises
    if method and draw(st.booleans()):
        return Case((x, *perm), dtype=dtype)
    return Case((x, tuple(perm)), dtype=dtype)


@st.composite
def _transpose_cases(draw, dtype):
    shape = draw(shapes(0, 4))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    return Case((x, dim_of(draw, len(shape)), dim_of(draw, len(shape))), dtype=dtype)


@st.composite
def _squeeze_cases(draw, dtype):
    shape = tuple(draw(st.lists(st.sampled_from([1, 1, 2, 0]), max_size=4)))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((x,), dtype=dtype)
    if form == 1:
        return Case((x, dim_of(draw, len(shape))), dtype=dtype)
    dims = tuple(draw(st.lists(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1), max_size=3, unique=True)))
    return Case((x, dims), dtype=dtype)


@st.composite
def _unsqueeze_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    r = len(shape) + 1
    d = draw(st.integers(-r, r - 1)) if draw(st.integers(0, 7)) else r + draw(st.integers(0, 3))
    return Case((x, d), dtype=dtype)


@st.composite
def _flatten_cases(draw, dtype):
    shape = draw(shapes(0, 4))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((x,), dtype=dtype)
    r = max(len(shape), 1)
    a, b = draw(st.integers(-r, r - 1)), draw(st.integers(-r, r - 1))
    return Case((x, a, b) if form == 1 else (x,), {} if form == 1 else {"start_dim": a}, dtype=dtype)


@st.composite
def _expand_cases(draw, dtype, method=True):
    shape = draw(shapes(0, 3))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    lead = draw(st.lists(st.integers(0, 3), max_size=2))
    target = lead + [draw(st.sampled_from([d, -1, 3])) if d == 1 else draw(st.sampled_from([d, -1])) for d in shape]
    if rarely(draw, 10) and target:
        target[-1] = (shape[-1] if shape else 1) + 2    # not expandable unless 1: torch raises
    if method and draw(st.booleans()):
        return Case((x, *target), dtype=dtype)
    return Case((x, tuple(target)), dtype=dtype)


@st.composite
def _cat_cases(draw, dtype, stack=False):
    shape = draw(shapes(1, 3))
    d = dim_of(draw, len(shape) + (1 if stack else 0))
    k = draw(st.integers(1, 3))
    arrs = []
    for _ in range(k):
        s = list(shape)
        if not stack and 0 <= d % max(len(s), 1) < len(s) and -len(s) <= d < len(s):
            s[d] = draw(st.integers(0, 3))
        dt = dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
        arrs.append(Arr(draw(array(dt, tuple(s))), _grad(dt, True)))
    if rarely(draw, 10):
        arrs.append(Arr(draw(array(dtype, tuple(shape) + (2,)))))   # a rank mismatch: torch raises
    return Case((arrs, d), dtype=dtype)


@st.composite
def _split_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    d = dim_of(draw, len(shape), errors=False)
    n = shape[d]
    if draw(st.booleans()):
        size = draw(st.integers(1, 4))
    else:
        cuts = draw(st.lists(st.integers(0, n), min_size=0, max_size=3))
        size = [b - a for a, b in zip([0] + sorted(cuts), sorted(cuts) + [n])]
        if rarely(draw, 8):
            size = size + [1]       # sections that do not add up: torch raises
    return Case((x, size, d), dtype=dtype)


@st.composite
def _chunk_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    return Case((x, draw(st.integers(1, 5)), dim_of(draw, len(shape))), dtype=dtype)


@st.composite
def _getitem_cases(draw, dtype):
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    key = []
    for d in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.integers(0, 6))
        if kind == 0:
            key.append(draw(st.integers(-d - 1, d)))      # d and -d-1 are out of range: torch raises
        elif kind == 1:
            key.append(slice(draw(st.one_of(st.none(), st.integers(-d - 2, d + 2))),
                             draw(st.one_of(st.none(), st.integers(-d - 2, d + 2))),
                             draw(st.sampled_from([None, 1, 2, 3]))))
        elif kind == 2:
            key.append(None)
        elif kind == 3:
            key.append(Ellipsis)
        elif kind == 4:
            key.append(Arr(np.array(draw(st.lists(st.integers(-d, d - 1), min_size=0, max_size=3)), np.int64)))
        elif kind == 5:
            key.append(Arr(np.array(draw(st.lists(st.booleans(), min_size=d, max_size=d)))))
        else:
            key.append(slice(None))
    if key.count(Ellipsis) > 1:
        key = [k for k in key if k is not Ellipsis]
    return Case((x, tuple(key)), dtype=dtype)


# creation -------------------------------------------------------------------------------------------------

@st.composite
def _creation_cases(draw, dtype, like=False, fill=False):
    shape = draw(shapes(0, 3))
    if like:
        x = Arr(draw(array(dtype, shape)))
        kw = {"dtype": Dt(draw(st.sampled_from(ALL)))} if draw(st.booleans()) else {}
        return Case((x,), kw, dtype=dtype)
    kw = {"dtype": Dt(dtype)} if draw(st.booleans()) else {}
    if fill:
        value = draw(st.one_of(st.sampled_from([0, 1, -2, 2.5, -0.0, math.inf, math.nan, True, False]),
                               st.floats(-4, 4)))
        if rarely(draw, 10):
            shape = (2.5,) + shape         # a non-integer size: torch raises
        return Case((shape, value), kw, dtype=dtype)
    form = draw(st.integers(0, 3))
    if form == 0 and rarely(draw, 10):
        shape = shape + (-1,)              # a negative size: torch raises
    if form == 1 and rarely(draw, 10):
        shape = (2.5,)
    return Case(tuple(shape) if form == 0 else (shape,) if form == 1 else (list(shape),), kw, dtype=dtype)


@st.composite
def _arange_cases(draw, dtype):
    nums = st.one_of(st.integers(-6, 6), st.sampled_from([0.5, -1.5, 2.25, 0.1, 3.0]))
    form = draw(st.integers(0, 2))
    kw = {"dtype": Dt(dtype)} if draw(st.integers(0, 2)) == 0 else {}
    if form == 0:
        return Case((draw(nums),), kw, dtype=dtype)
    if form == 1:
        return Case((draw(nums), draw(nums)), kw, dtype=dtype)
    return Case((draw(nums), draw(nums), draw(st.one_of(nums, st.sampled_from([0, -1, -0.5])))), kw, dtype=dtype)


@st.composite
def _tensor_cases(draw, dtype):
    shape = draw(shapes(0, 3))
    vals = draw(array(dtype, shape))
    data = vals.tolist() if dtype != "bfloat16" else vals.astype(np.float64).tolist()
    form = draw(st.integers(0, 5))
    if form == 0:
        return Case((data,), {"dtype": Dt(draw(st.sampled_from(ALL)))}, dtype=dtype)
    if form == 1 and isinstance(data, list) and len(data) >= 2 and isinstance(data[0], list):
        return Case(([data[0], data[1][:-1] or [1]],), dtype=dtype)   # ragged: torch raises
    if form == 2:
        return Case((vals,), dtype=dtype)                             # a NumPy array keeps its dtype
    if form == 3:
        scalars = [1, 2.5, True, -0.0, math.nan, [1, 2.5], [True, 2], [[1], [2]]]
        return Case((draw(st.sampled_from(scalars)),), dtype=dtype)
    return Case((data,), dtype=dtype)


def _tensor_call(L, data, **kw):
    if isinstance(data, np.ndarray) and data.dtype == ml_dtypes.bfloat16:
        data = data.astype(np.float32)
    return L.tensor(data, **kw)


# indexing -------------------------------------------------------------------------------------------------

@st.composite
def _gather_cases(draw, dtype, op="gather"):
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    d = dim_of(draw, len(shape), errors=op != "take_along_dim")
    dd = d % len(shape) if -len(shape) <= d < len(shape) else 0
    n = shape[dd]
    # an index out of range: torch raises (take_along_dim does not check its indices: not compared)
    bad = op != "take_along_dim" and rarely(draw, 10)
    hi = n if bad else n - 1
    lo = -n if op != "gather" else 0
    if op == "index_select":
        idx = np.array(draw(st.lists(st.integers(lo if not bad else -n - 1, hi), max_size=4)), np.int64)
        return Case((x, d, Arr(idx)), dtype=dtype)
    others = (lambda s: [s, 1]) if op != "gather" else (lambda s: [s, max(s - 1, 0)])
    ishape = tuple(draw(st.integers(0, 3)) if i == dd else draw(st.sampled_from(others(s))) for i, s in enumerate(shape))
    idx = np.array(draw(st.lists(st.integers(lo, hi), min_size=math.prod(ishape), max_size=math.prod(ishape))),
                   np.int64).reshape(ishape)
    if op == "take_along_dim":
        if draw(st.integers(0, 4)) == 0:
            return Case((x, Arr(idx.reshape(-1) % max(x.value.size, 1))), dtype=dtype)
        return Case((x, Arr(idx), d), dtype=dtype)
    return Case((x, d, Arr(idx)), dtype=dtype)


@st.composite
def _where_cases(draw, dtype):
    sc, sa, sb = draw(broadcast_shapes(3))
    cond = Arr(draw(array("bool", sc)))
    g = _grad(dtype, True)
    a = Arr(draw(array(dtype, sa)), g)
    if draw(st.integers(0, 4)) == 0:
        return Case((cond, a, draw(st.sampled_from([0.0, 1, math.nan, -0.0]))), dtype=dtype)
    odt = dtype if draw(st.integers(0, 3)) else draw(st.sampled_from(ALL))
    return Case((cond, a, Arr(draw(array(odt, sb)), _grad(odt, True))), dtype=dtype)


@st.composite
def _clamp_cases(draw, dtype):
    sx, sb = draw(broadcast_shapes(2))
    x = Arr(draw(array(dtype, sx)), _grad(dtype, True))
    form = draw(st.integers(0, 4))
    scal = st.sampled_from([-1, 0, 1, 0.5, -0.0, math.nan, -math.inf, math.inf, 2])
    if form == 0:
        return Case((x, draw(scal), draw(scal)), dtype=dtype)
    if form == 1:
        return Case((x,), {"min": draw(scal)}, dtype=dtype)
    if form == 2:
        return Case((x,), {"max": draw(scal)}, dtype=dtype)
    if form == 3:
        return Case((x, Arr(draw(array(dtype, sb)), _grad(dtype, True))), dtype=dtype)
    return Case((x,), {"min": Arr(draw(array(dtype, sb)), _grad(dtype, True)),
                       "max": Arr(draw(array(dtype, sb)), _grad(dtype, True))}, dtype=dtype)


def _clamp_fixed(dtype):
    s = specials(dtype)
    g = _grad(dtype, True)
    return [Case((Arr(s, g), -1, 1), dtype=dtype), Case((Arr(s, g),), {"min": Arr(s[::-1].copy(), g)}, dtype=dtype),
            Case((Arr(s.reshape(-1, 1), g),), {"min": Arr(s.reshape(1, -1), g), "max": 2}, dtype=dtype)]


@st.composite
def _matmul_cases(draw, dtype):
    g = _grad(dtype, True)
    m, k, n = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    form = draw(st.integers(0, 5))
    batch_a = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    batch_b = tuple(1 if draw(st.booleans()) else d for d in batch_a)[draw(st.integers(0, len(batch_a))):]
    sa = [(k,), (m, k), batch_a + (m, k), (k,), batch_a + (m, k), (m, k)][form]
    sb = [(k,), (k,), (k,), (k, n), batch_b + (k, n), batch_b + (k, n)][form]
    if rarely(draw, 10):
        sb = (k + 1,) + sb[1:] if len(sb) == 1 else sb[:-2] + (k + 1, sb[-1])   # inner dims differ
    return Case((Arr(draw(array(dtype, sa)), g), Arr(draw(array(dtype, sb)), g)), dtype=dtype)


@st.composite
def _random_creation(draw, dtype, op):
    shape = draw(shapes(0, 3))
    if op == "randint":
        lo = draw(st.integers(-3, 3))
        return Case((lo, lo + draw(st.integers(1, 5)), shape), dtype=dtype)
    if op.endswith("_like"):
        return Case((Arr(draw(array(dtype, shape))),), dtype=dtype)
    return Case(tuple(shape), {"dtype": Dt(dtype)} if draw(st.booleans()) else {}, dtype=dtype)


def _random_bounds(op):
    def extra(case, lout, tout):
        if not isinstance(lout, lumina.Tensor):
            return []
        v = _l_numpy(lout)
        if op in ("rand", "rand_like") and v.size and not ((v >= 0) & (v < 1)).all():
            return [f"{op}: values outside [0, 1): {v.min()}..{v.max()}"]
        if op == "randint" and v.size and not ((v >= case.args[0]) & (v < case.args[1])).all():
            return [f"randint: values outside [{case.args[0]}, {case.args[1]}): {v.min()}..{v.max()}"]
        return []
    return extra


# casts and conversions --------------------------------------------------------------------------------------

def _cast_cases(target_int: bool):
    """Values a cast is defined on: for a float -> int cast, finite values in the int range (torch's
    NaN/inf/out-of-range float -> int conversion is undefined behaviour in C++)."""
    @st.composite
    def cases(draw, dtype):
        shape = draw(shapes())
        if target_int and is_float(dtype):
            x = draw(array(dtype, shape, -1000, 1000))
        else:
            x = draw(array(dtype, shape))
        return Case((Arr(x, _grad(dtype, True)),), dtype=dtype)
    return cases


def _cast_fixed(target_int):
    def fixed(dtype):
        if target_int and is_float(dtype):
            values = np.array([0.0, -0.0, 1.5, -1.5, 2.5, -2.7, 100.0], np.float64)
            return [Case((Arr(values.astype(_np_dtype(dtype)), True),), dtype=dtype)]
        return unary_specials(dtype)
    return fixed


@st.composite
def _to_cases(draw, dtype):
    shape = draw(shapes())
    target = draw(st.sampled_from(ALL))
    lo, hi = (-100, 100) if not is_float(target) and is_float(dtype) else (None, None)
    x = Arr(draw(array(dtype, shape, lo, hi)), _grad(dtype, True))
    form = draw(st.integers(0, 3))
    if form == 0:
        return Case((x, Dt(target)), dtype=dtype)
    if form == 1:
        return Case((x,), {"dtype": Dt(target)}, dtype=dtype)
    if form == 2:
        return Case((x, "cpu"), dtype=dtype)
    return Case((x, "cpu", Dt(target)), dtype=dtype)


@st.composite
def _scalar_conv_cases(draw, dtype):
    shape = draw(st.sampled_from([(), (1,), (1, 1), (2,), (0,)]))
    lo, hi = (-100, 100) if is_float(dtype) else (None, None)
    return Case((Arr(draw(array(dtype, shape, lo, hi))),), dtype=dtype)


@st.composite
def _tensor_only(draw, dtype, min_rank=0):
    return Case((Arr(draw(array(dtype, draw(shapes(min_rank)))), _grad(dtype, True)),), dtype=dtype)


@st.composite
def _size_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)))
    if draw(st.booleans()):
        return Case((x,), dtype=dtype)
    return Case((x, dim_of(draw, len(shape))), dtype=dtype)


# in place ---------------------------------------------------------------------------------------------------

def _copy_of(x):
    """A non-leaf copy of ``x`` to update in place (``x`` itself is a leaf that may require grad)."""
    return x.clone()


def _inplace(name, operator=None):
    """``y = x.clone()`` then ``y.<name>(*args)`` (or ``y <op>= arg`` with ``operator``, e.g.
    ``operator.iadd``); with ``leaf=True`` on ``x`` itself (torch raises when ``x`` requires
    grad). Returns ``(y, result, result is y)``: the updated tensor, the returned one, and whether
    it is the same object (torch returns ``self``)."""
    def call(L, x, *a, leaf=False, **kw):
        y = x if leaf else _copy_of(x)
        r = operator(y, *a) if operator is not None else getattr(y, name)(*a, **kw)
        return y, r, r is y
    return call


def _inplace_cases(arity, scalars=(2, 0.5, -1, math.nan, True)):
    @st.composite
    def cases(draw, dtype):
        sa, sb = draw(broadcast_shapes(2))
        form = draw(st.integers(0, 5))
        g = _grad(dtype, True)
        x = Arr(draw(array(dtype, sa)), g)
        kw = {"leaf": True} if form == 5 else {}
        if arity == 0:
            return Case((x,), kw, dtype=dtype)
        if form == 1:
            return Case((x, draw(st.sampled_from(list(scalars)))), kw, dtype=dtype)
        odt = dtype if form != 2 else draw(st.sampled_from(ALL))
        return Case((x, Arr(draw(array(odt, sb)), _grad(odt, True))), kw, dtype=dtype)
    return cases


@st.composite
def _fill_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes()))), _grad(dtype, True))
    kw = {"leaf": True} if rarely(draw, 5) else {}
    return Case((x, draw(st.sampled_from([0, 1.5, -2, math.nan, math.inf, True]))), kw, dtype=dtype)


@st.composite
def _masked_fill_cases(draw, dtype, inplace=True):
    sx, sm = draw(broadcast_shapes(2))
    x = Arr(draw(array(dtype, sx)), _grad(dtype, True))
    mask = Arr(draw(array("bool", sm)))
    value = draw(st.one_of(st.sampled_from([0, -1.5, math.nan, -math.inf, True]),
                           st.builds(lambda v: Arr(np.array(v, _np_dtype(dtype))), st.sampled_from([2, 0]))))
    kw = {"leaf": True} if inplace and rarely(draw, 5) else {}
    return Case((x, mask, value), kw, dtype=dtype)


@st.composite
def _clamp_inplace_cases(draw, dtype):
    c = draw(_clamp_cases(dtype))
    kw = dict(c.kwargs)
    if rarely(draw, 5):
        kw["leaf"] = True
    return Case(c.args, kw, dtype=dtype)


@st.composite
def _setitem_cases(draw, dtype):
    """``y[key] = value`` on a copy of ``x``: ints, slices, None, Ellipsis, integer and boolean
    index tensors; values as scalars or tensors that broadcast to the selection (or not: torch
    raises)."""
    c = draw(_getitem_cases(dtype))
    x, key = c.args
    kind = draw(st.integers(0, 3))
    try:    # the selection's shape, for values that broadcast to it
        np_key = tuple(k.value if isinstance(k, Arr) else k for k in key)
        selected = np.empty(x.value.shape)[np_key].shape
    except (IndexError, ValueError, TypeError):
        selected = ()
    if kind == 0:
        value = draw(st.sampled_from([0, -2.5, math.nan, True]))
    else:
        shape = tuple(1 if draw(st.integers(0, 3)) == 0 else d for d in selected[draw(st.integers(0, len(selected))):])
        if rarely(draw, 8):
            shape = draw(shapes(0, 2))      # most likely not broadcastable: torch raises
        vdt = dtype if kind != 3 else draw(st.sampled_from(ALL))
        value = Arr(draw(array(vdt, shape)), _grad(vdt, True))
    kw = {"leaf": True} if rarely(draw, 6) else {}
    return Case((x, key, value), kw, dtype=dtype)


def _setitem_call(L, x, key, value, leaf=False):
    y = x if leaf else _copy_of(x)
    y[key] = value
    return y


@st.composite
def _view_update_cases(draw, dtype):
    """An in-place update through a view (``y[0]``, ``y[:, 1:]``, ``y.T``, ``y.reshape(-1)``):
    the base must see it."""
    shape = draw(shapes(2, 3, min_side=1))
    x = Arr(draw(array(dtype, shape, special=False)), _grad(dtype, True))
    other = Arr(draw(array(dtype, (), special=False)), _grad(dtype, True))
    return Case((x, draw(st.sampled_from(["row", "columns", "T", "flat"])), other), dtype=dtype)


def _view_update_call(L, x, view, other):
    y = _copy_of(x)
    v = {"row": lambda: y[0], "columns": lambda: y[:, 1:], "T": lambda: y.T, "flat": lambda: y.view(-1)}[view]()
    v.add_(other)
    return y, v


def _no_grad_update_call(L, p, g, op):
    """``with no_grad(): p -= lr * g`` (the optimizer step written out): ``p`` stays a leaf that
    requires grad and holds the new value."""
    with L.no_grad():
        if op == "isub":
            p -= 0.5 * g
        elif op == "sub_":
            p.sub_(g * 0.5)
        elif op == "mul_":
            p.mul_(0.5)
        else:
            p.copy_(g)
    return p.detach(), p.requires_grad, p.is_leaf


@st.composite
def _no_grad_update_cases(draw, dtype):
    shape = draw(shapes(0, 2))
    p = Arr(draw(array(dtype, shape, special=False)), True)
    g = Arr(draw(array(dtype, shape, special=False)))
    return Case((p, g, draw(st.sampled_from(["isub", "sub_", "mul_", "copy_"]))), dtype=dtype)


def _version_call(L, x, when):
    """Modifying a tensor that backward still needs: torch's version counter raises at backward
    (``exp`` saves its result, ``mul`` its operands); modifying one it does not need is fine."""
    y = _copy_of(x)
    if when == "saved result":
        z = y.exp()
        z.add_(1.0)
    elif when == "saved operand":
        z = y * y
        y.mul_(2.0)
    else:
        z = y + 1.0
        y.add_(1.0)
    z.sum().backward()
    return x.grad


@st.composite
def _version_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes(1, 2, min_side=1)), special=False)), True)
    return Case((x, draw(st.sampled_from(["saved result", "saved operand", "not saved"]))), dtype=dtype)


def _version_leaf(L, x, when):
    """As ``_version_call``, updating the leaf ``x`` itself under ``no_grad`` after using it."""
    z = x * x if when != "saved result" else x.exp()
    with L.no_grad():
        x.add_(1.0)
    z.sum().backward()
    return x.grad


# nn.functional --------------------------------------------------------------------------------------------

@st.composite
def _softmax_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), True)
    return Case((x, dim_of(draw, len(shape))), dtype=dtype)


def _softmax_fixed(dtype):
    s = specials(dtype)
    g = True
    return [Case((Arr(np.stack([s, np.full_like(s, 1)], 1), g), 1), dtype=dtype),
            Case((Arr(np.stack([s, s], 1), g), -1), dtype=dtype),
            Case((Arr(np.array([[-np.inf, -np.inf], [np.inf, np.inf], [1e30, -1e30]]).astype(_np_dtype(dtype)), g), 1),
                 dtype=dtype)]


@st.composite
def _gelu_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes()))), _grad(dtype, True))
    form = draw(st.integers(0, 3))
    if form == 0:
        return Case((x,), {"approximate": "tanh"}, dtype=dtype)
    if form == 1:
        return Case((x,), {"approximate": draw(st.sampled_from(["none", "bogus"]))}, dtype=dtype)
    return Case((x,), dtype=dtype)


@st.composite
def _one_hot_cases(draw, dtype):
    shape = draw(shapes(0, 2))
    n = draw(st.integers(1, 4))
    idx = draw(array("int64", shape, 0, n - 1 if draw(st.integers(0, 9)) else n))   # n: torch raises
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((Arr(idx), n), dtype=dtype)
    if form == 1:
        return Case((Arr(idx), -1), dtype=dtype)
    return Case((Arr(idx),), dtype=dtype)


@st.composite
def _loss_pair(draw, dtype, lo=None, hi=None):
    shape = draw(shapes(0, 3))
    g = _grad(dtype, True)
    x = Arr(draw(array(dtype, shape, lo, hi)), g)
    t = Arr(draw(array(dtype, shape, lo, hi)), g)
    form = draw(st.integers(0, 4))
    kw = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))} if form else {}
    if form == 4 and rarely(draw, 4):
        kw = {"reduction": "bogus"}
    return Case((x, t), kw, dtype=dtype)


@st.composite
def _bce_cases(draw, dtype, logits=False):
    shape = draw(shapes(0, 3))
    g = _grad(dtype, True)
    lo, hi = (None, None) if logits else (0, 1)
    x = Arr(draw(array(dtype, shape, lo, hi, special=logits or draw(st.integers(0, 5)) == 0)), g)
    t = Arr(draw(array(dtype, shape, 0, 1, special=False)), g)
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.integers(0, 3)) == 0:
        kw["weight"] = Arr(draw(array(dtype, shape, 0, 2, special=False)), True, fd=True)   # torch: no gradient
    if logits and draw(st.integers(0, 3)) == 0 and shape:
        kw["pos_weight"] = Arr(draw(array(dtype, shape[-1:], 0, 3, special=False)), g)
    return Case((x, t), kw, dtype=dtype)


@st.composite
def _class_loss_cases(draw, dtype, log_probs=False):
    """``input [N, C, d...]`` or ``[C]`` and class indices; weights, ignore_index, label smoothing,
    reductions; an index out of range sometimes (torch raises)."""
    c = draw(st.integers(1, 4))
    lead = draw(st.sampled_from([(), (2,), (3,), (2, 2)]))
    ishape = (c,) if not lead else (lead[0], c) + lead[1:]
    tshape = () if not lead else (lead[0],) + lead[1:]
    x = Arr(draw(array(dtype, ishape)), True)
    hi = c if rarely(draw, 12) else c - 1
    target = draw(array("int64", tshape, 0, hi))
    kw = {}
    if draw(st.integers(0, 2)) == 0:
        kw["weight"] = Arr(draw(array(dtype, (c,), 0, 2, special=False)), True, fd=True)   # torch: no gradient
    if draw(st.integers(0, 3)) == 0 and target.size:
        target.reshape(-1)[0] = -100
        kw["ignore_index"] = -100
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if not log_probs and draw(st.integers(0, 3)) == 0:
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5]))
    if not log_probs and draw(st.integers(0, 4)) == 0:       # class probabilities
        p = draw(array(dtype, ishape, 0, 1, special=False))
        return Case((x, Arr(p, True)), {k: v for k, v in kw.items() if k != "ignore_index"}, dtype=dtype)
    return Case((x, Arr(target)), kw, dtype=dtype)


@st.composite
def _layer_norm_cases(draw, dtype):
    shape = draw(shapes(1, 3, min_side=1))
    k = draw(st.integers(1, len(shape)))
    ns = shape[len(shape) - k:]
    x = Arr(draw(array(dtype, shape)), True)
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = Arr(draw(array(dtype, ns, special=False)), True)
    if draw(st.booleans()):
        kw["bias"] = Arr(draw(array(dtype, ns, special=False)), True)
    if draw(st.integers(0, 3)) == 0:
        kw["eps"] = draw(st.sampled_from([0.0, 1e-3]))
    if rarely(draw, 10):
        ns = ns + (2,)
    return Case((x, list(ns)), kw, dtype=dtype)


def _norm_fixed(dtype):
    big = float(ml_dtypes.finfo(_np_dtype(dtype)).max) * 0.3
    huge = 1e30 if dtype in ("float32", "float64") else big / 4
    rows = np.array([[big, big, -big, 1.0], [huge, -huge, huge, -huge], [3.0, 3.0, 3.0, 3.0]], np.float64)
    return [Case((Arr(rows.astype(_np_dtype(dtype)), True), [4]), dtype=dtype)]


@st.composite
def _batch_norm_cases(draw, dtype):
    c = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 3)), c) + tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    x = Arr(draw(array(dtype, shape)), True)
    training = draw(st.booleans())
    rm = Arr(draw(array(dtype, (c,), special=False)))
    rv = Arr(draw(array(dtype, (c,), 0.1, 3, special=False)))
    kw = {"training": training}
    if draw(st.booleans()):
        kw["weight"] = Arr(draw(array(dtype, (c,), special=False)), True)
        kw["bias"] = Arr(draw(array(dtype, (c,), special=False)), True)
    if draw(st.integers(0, 3)) == 0:
        kw["momentum"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
    return Case((x, rm, rv), kw, dtype=dtype)


def _float64_beyond_1e150(case: Case) -> bool:
    x = case.args[0].value
    return x.dtype == np.float64 and bool((np.abs(x[np.isfinite(x)]) > 1e150).any())


def _batch_norm_call(L, x, rm, rv, **kw):
    """Returns the output and the running statistics after the call (updated in training)."""
    out = L.nn.functional.batch_norm(x, rm, rv, **kw)
    return out, rm, rv


@st.composite
def _conv_cases(draw, dtype):
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 1, cin])) if cin == cout or cout % cin == 0 else 1
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw_ = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = Arr(draw(array(dtype, (n, cin, h, w), special=draw(st.integers(0, 3)) == 0)), True)
    wt = Arr(draw(array(dtype, (cout, cin // groups, kh, kw_), special=False)), True)
    kw = {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, (1, 2)]))
    if draw(st.booleans()):
        kw["padding"] = draw(st.sampled_from([0, 1, (1, 0), "same", "valid"]))
    if draw(st.integers(0, 2)) == 0:
        kw["dilation"] = draw(st.sampled_from([1, 2]))
    if groups != 1:
        kw["groups"] = groups
    if kw.get("padding") == "same" and kw.get("stride", 1) != 1:
        kw["stride"] = 1
    args = (x, wt)
    if draw(st.booleans()):
        args = args + (Arr(draw(array(dtype, (cout,), special=False)), True),)
    return Case(args, kw, dtype=dtype)


@st.composite
def _pool_cases(draw, dtype, op):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]
    x = Arr(draw(array(dtype, shape)), True)
    k = draw(st.sampled_from([1, 2, 3, (2, 1)]))
    kw = {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, (2, 1)]))
    if draw(st.booleans()):
        kw["padding"] = draw(st.sampled_from([0, 1]))
    if draw(st.integers(0, 2)) == 0:
        kw["ceil_mode"] = True
    if op == "avg" and draw(st.integers(0, 2)) == 0:
        kw["count_include_pad"] = False
    if op == "max" and draw(st.integers(0, 3)) == 0:
        kw["dilation"] = 2
    return Case((x, k), kw, dtype=dtype)


@st.composite
def _pad_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), _grad(dtype, True))
    n = draw(st.integers(1, len(shape)))
    pads = draw(st.lists(st.integers(-1, 2), min_size=2 * n, max_size=2 * n))
    kw = {}
    if draw(st.booleans()):
        kw["value"] = draw(st.sampled_from([0.0, 1.5, math.nan, -math.inf]))
    return Case((x, tuple(pads)), kw, dtype=dtype)


@st.composite
def _embedding_cases(draw, dtype):
    v, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = draw(shapes(0, 2))
    idx = draw(array("int64", shape, 0, v - 1 if draw(st.integers(0, 9)) else v))
    w = Arr(draw(array(dtype, (v, d))), True)
    kw = {"padding_idx": draw(st.integers(-v, v - 1))} if draw(st.integers(0, 2)) == 0 else {}
    return Case((Arr(idx), w), kw, dtype=dtype)


@st.composite
def _sdpa_cases(draw, dtype):
    b = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    L_, S, E = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    special = draw(st.integers(0, 3)) == 0
    q = Arr(draw(array(dtype, b + (L_, E), special=special)), True)
    k = Arr(draw(array(dtype, b + (S, E), special=special)), True)
    v = Arr(draw(array(dtype, b + (S, draw(st.integers(1, 3))), special=special)), True)
    kw = {}
    form = draw(st.integers(0, 3))
    if form == 1:
        kw["is_causal"] = True
    elif form == 2:
        kw["attn_mask"] = Arr(draw(array("bool", (L_, S))))
    elif form == 3:
        kw["attn_mask"] = Arr(draw(array(dtype, (L_, S), special=draw(st.booleans()))), True)
    if draw(st.integers(0, 3)) == 0:
        kw["scale"] = draw(st.sampled_from([0.5, 2.0]))
    return Case((q, k, v), kw, dtype=dtype)


def _dropout_check(case, lout, tout):
    """Each output element is 0 or ``x / (1 - p)``; the identity when not training or p = 0."""
    if not isinstance(lout, lumina.Tensor):
        return []
    x = case.args[0].value.astype(np.float64)
    dt = case.args[0].value.dtype
    p = case.kwargs.get("p", 0.5)
    training = case.kwargs.get("training", True)
    y = _l_numpy(lout).astype(np.float64)
    if not training or p == 0 or p == 1:    # deterministic: torch's result, bit for bit
        t = _t_numpy(tout).astype(np.float64)
        ok = (y == t) | (np.isnan(y) & np.isnan(t))
        return [] if ok.all() else [f"dropout(p={p}, training={training}): lumina {y[~ok][0]!r} where torch has "
                                    f"{t[~ok][0]!r}"]
    with np.errstate(all="ignore"):
        scaled = (x / (1 - p)).astype(dt).astype(np.float64)
        ok = (y == 0) | np.isclose(y, scaled, rtol=1e-3, equal_nan=True) | (np.isnan(y) & np.isnan(scaled))
    return [] if ok.all() else [f"dropout(p={p}): an element is neither 0 nor x/(1-p)"]


@st.composite
def _dropout_cases(draw, dtype):
    x = Arr(draw(array(dtype, draw(shapes()))))
    kw = {}
    if draw(st.booleans()):
        kw["p"] = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]))
    if draw(st.booleans()):
        kw["training"] = draw(st.booleans())
    return Case((x,), kw, dtype=dtype)


def _parameter_check(case, lout, tout) -> list[str]:
    if getattr(lout, "requires_grad", False) and getattr(lout, "is_leaf", False):
        return []
    return ["Parameter: not a leaf that requires grad"]


# nn modules ---------------------------------------------------------------------------------------------------

def _module(name, make, cases, dtypes=("float32",), **kw):
    return [OpSpec(f"nn.{name}", lambda L, m, *a, **k: m(*a, **k), cases=cases, module=make, dtypes=dtypes, **kw)]


@st.composite
def _mod_input(draw, dtype, shape_st=None, special=True):
    shape = draw(shape_st if shape_st is not None else shapes())
    return Case((Arr(draw(array(dtype, shape, special=special)), True),), dtype=dtype)


@st.composite
def _mha_cases(draw, dtype):
    b, L_, S = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    q = Arr(draw(array(dtype, (L_, b, 4), special=False)), True)
    k = Arr(draw(array(dtype, (S, b, 4), special=False)), True)
    kw = {}
    form = draw(st.integers(0, 3))
    if form == 1:
        kw["attn_mask"] = Arr(draw(array("bool", (L_, S))))
    elif form == 2:
        kw["key_padding_mask"] = Arr(draw(array("bool", (b, S))))
    elif form == 3:
        kw["need_weights"] = False
    return Case((q, k, k), kw, dtype=dtype)


def _mha_fully_masked(case: Case) -> bool:
    """A query whose every key is masked (True = may not attend): lumina gives 0, torch NaN."""
    am, kp = case.kwargs.get("attn_mask"), case.kwargs.get("key_padding_mask")
    return (am is not None and am.value.all(-1).any()) or (kp is not None and kp.value.all(-1).any())


# nn.init and nn.utils -------------------------------------------------------------------------------------------

@st.composite
def _init_cases(draw, dtype, op):
    shape = draw(st.sampled_from([(3, 4), (2, 3, 2, 2), (5,)] if op in ("uniform_", "normal_", "constant_", "zeros_",
                                                                       "ones_") else [(3, 4), (2, 3, 2, 2)]))
    x = Arr(np.zeros(shape, _np_dtype(dtype)))
    if op == "constant_":
        return Case((x, draw(st.sampled_from([0.5, -2.0, math.nan]))), dtype=dtype)
    if op == "uniform_":
        return Case((x, -0.5, 2.0), dtype=dtype)
    if op in ("xavier_uniform_", "xavier_normal_"):
        return Case((x,), {"gain": draw(st.sampled_from([1.0, 2.0]))}, dtype=dtype)
    if op in ("kaiming_uniform_", "kaiming_normal_"):
        return Case((x,), {"a": draw(st.sampled_from([0.0, 1.0])), "mode": draw(st.sampled_from(["fan_in", "fan_out"]))},
                    dtype=dtype)
    return Case((x,), dtype=dtype)


def _init_bound(op):
    """Random initialisers: values within the bound torch's formula gives (uniform), or a sample
    standard deviation near it (normal, loose: a few hundred samples)."""
    def extra(case, lout, tout):
        if not isinstance(lout, lumina.Tensor):
            return []
        v = _l_numpy(lout)
        t = _t_numpy(tout)
        if op.endswith("uniform_"):
            bound = max(np.abs(t).max(), 1e-9)
            lo, hi = (case.args[1], case.args[2]) if op == "uniform_" else (None, None)
            if lo is not None:
                return [] if ((v >= lo) & (v <= hi)).all() else [f"{op}: values outside [{lo}, {hi}]"]
            fan = _fans(case.args[0].value.shape)
            return [] if np.abs(v).max() <= _uniform_bound(op, fan, case.kwargs) * (1 + 1e-6) else \
                [f"{op}: |value| up to {np.abs(v).max()}, bound {_uniform_bound(op, fan, case.kwargs)} ({bound})"]
        return []
    return extra


def _fans(shape):
    rf = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


def _uniform_bound(op, fans, kw):
    fan_in, fan_out = fans
    if op == "xavier_uniform_":
        return kw.get("gain", 1.0) * math.sqrt(6.0 / (fan_in + fan_out))
    a = kw.get("a", 0.0)
    fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
    return math.sqrt(2.0 / (1 + a * a)) * math.sqrt(3.0 / fan)


@st.composite
def _clip_cases(draw, dtype, op):
    n = draw(st.integers(1, 3))
    params = []
    for _ in range(n):
        shape = draw(shapes(1, 2, min_side=1))
        grad = draw(array(dtype, shape, special=draw(st.integers(0, 3)) == 0))
        params.append((draw(array(dtype, shape, special=False)), grad))
    if op == "clip_grad_norm_":
        kw = {"norm_type": draw(st.sampled_from([2.0, 1.0, math.inf]))} if draw(st.booleans()) else {}
        return Case((params, draw(st.sampled_from([0.5, 1.0, 100.0]))), kw, dtype=dtype)
    return Case((params, draw(st.sampled_from([0.1, 1.0]))), dtype=dtype)


def _clip_call(op):
    def call(L, params, limit, **kw):
        ps = []
        for value, grad in params:
            p = L.nn.Parameter(L.tensor(value) if L is lumina else torch.tensor(value))
            p.grad = L.tensor(grad) if L is lumina else torch.tensor(grad)
            ps.append(p)
        r = getattr(L.nn.utils, op)(ps, limit, **kw)
        return r, [p.grad for p in ps]
    return call


# autodiff and state ---------------------------------------------------------------------------------------------

def _backward_call(L, x, form):
    """``y.backward()`` for a scalar ``y``, ``y.backward(gradient)`` for a vector, twice (the
    gradients accumulate), or on a non-scalar without a gradient (torch raises)."""
    x.requires_grad_(True)
    if form == "scalar":
        (x * x).sum().backward()
    elif form == "vector":
        (x * 3.0).backward(x.detach() * 0 + 2.0)
    elif form == "twice":
        (x * 2.0).sum().backward()
        (x * 3.0).sum().backward()
    else:
        (x * 2.0).backward()
    return x.grad, x.is_leaf, x.requires_grad


@st.composite
def _backward_cases(draw, dtype):
    shape = draw(shapes(1, 2, min_side=1))
    x = Arr(draw(array(dtype, shape, special=False)))
    return Case((x, draw(st.sampled_from(["scalar", "vector", "twice", "nonscalar"]))), dtype=dtype)


def _state_call(L, x, what):
    """Autodiff state after an op: ``requires_grad`` and ``is_leaf`` of a leaf, a result, a
    detached result and a result made under ``no_grad``; ``grad`` before backward."""
    x.requires_grad_(True)
    y = x * 2.0
    d = y.detach()
    with L.no_grad():
        z = x * 2.0
    return {"requires_grad": (x.requires_grad, y.requires_grad, d.requires_grad, z.requires_grad),
            "is_leaf": (x.is_leaf, y.is_leaf, d.is_leaf, z.is_leaf),
            "grad": x.grad,
            "requires_grad_": (x.detach().requires_grad_(True).requires_grad,),
            "detach": d,
            "no_grad": z}[what]


@st.composite
def _state_cases(draw, dtype, what):
    return Case((Arr(draw(array(dtype, draw(shapes(0, 2)), special=False))), what), dtype=dtype)


# ---- assembling the table ----------------------------------------------------------------------------------------

_UNARY_FLOAT = dict(exp=4, log=4, sqrt=2, sin=4, cos=4, tanh=4, sigmoid=4, erf=8)


def _mp(name: str):
    """(f, f') in mpmath for the elementwise functions, for ``OpSpec.exact_math``."""
    import mpmath as m

    def sigmoid(x):
        return 1 / (1 + m.exp(-x))

    def gelu(x, approximate="none"):
        if approximate == "tanh":
            return x / 2 * (1 + m.tanh(m.sqrt(2 / m.pi) * (x + m.mpf("0.044715") * x ** 3)))
        return x / 2 * (1 + m.erf(x / m.sqrt(2)))

    def gelu_slope(x, approximate="none"):
        if approximate == "tanh":
            return m.diff(lambda t: gelu(t, "tanh"), x)
        return (1 + m.erf(x / m.sqrt(2))) / 2 + x * m.exp(-x * x / 2) / m.sqrt(2 * m.pi)
    return {
        "exp": (m.exp, m.exp), "log": (m.log, lambda x: 1 / x), "sqrt": (m.sqrt, lambda x: 1 / (2 * m.sqrt(x))),
        "sin": (m.sin, m.cos), "cos": (m.cos, lambda x: -m.sin(x)), "tanh": (m.tanh, lambda x: m.sech(x) ** 2),
        "sigmoid": (sigmoid, lambda x: sigmoid(x) * sigmoid(-x)),
        "erf": (m.erf, lambda x: 2 / m.sqrt(m.pi) * m.exp(-x * x)), "gelu": (gelu, gelu_slope),
    }[name]


def _build() -> dict[str, OpSpec]:
    specs: list[OpSpec] = []
    for name, ulps in _UNARY_FLOAT.items():
        specs += _unary(name, ulps=ulps, exact_math=_mp(name), grad_atol=4.0 if name in ("tanh", "sigmoid") else 0.0)
    specs += _unary("abs", exact=True) + _unary("neg", exact=True) + _unary("relu", exact=True, signed_zeros=False)
    specs += [OpSpec("F.relu", lambda L, x: L.nn.functional.relu(x), unary_cases(), dtypes=ALL, exact=True,
                     signed_zeros=False, fixed=unary_specials)]
    for name in ("sigmoid", "tanh"):
        specs += [OpSpec(f"F.{name}", (lambda n: lambda L, x: getattr(L.nn.functional, n)(x))(name), unary_cases(),
                         exact_math=_mp(name), grad_atol=4.0,
                         dtypes=ALL, ulps=4, fixed=unary_specials)]
    specs += [OpSpec("F.gelu", lambda L, x, **k: L.nn.functional.gelu(x, **k), _gelu_cases, dtypes=FLOATS, ulps=8,
                     exact_math=_mp("gelu"),
                     fixed=unary_specials),
              OpSpec("Tensor.__abs__", lambda L, x: abs(x), unary_cases(), dtypes=ALL, exact=True, fixed=unary_specials),
              OpSpec("Tensor.__neg__", lambda L, x: -x, unary_cases(), dtypes=ALL, exact=True, fixed=unary_specials),
              OpSpec("Tensor.__invert__", lambda L, x: ~x, unary_cases(differentiable=False), dtypes=("bool",) + INTS,
                     exact=True, grad=False)]
    # binary operators
    specs += _binary_dunder("__add__", _op.add, exact=True, reverse="__radd__")
    specs += _binary_dunder("__sub__", _op.sub, exact=True, reverse="__rsub__")
    specs += _binary_dunder("__mul__", _op.mul, exact=True, reverse="__rmul__")
    specs += _binary_dunder("__truediv__", _op.truediv, ulps=1, reverse="__rtruediv__")
    specs += _binary_dunder("__pow__", _op.pow, ulps=8, reverse="__rpow__")
    for name, op in (("__lt__", _op.lt), ("__le__", _op.le), ("__gt__", _op.gt), ("__ge__", _op.ge),
                     ("__eq__", _op.eq), ("__ne__", _op.ne)):
        specs += _binary_dunder(name, op, exact=True, differentiable=False)
    for name, op in (("__and__", _op.and_), ("__or__", _op.or_)):
        specs += _binary_dunder(name, op, exact=True, differentiable=False, dtypes=("bool",) + INTS)
    specs += [OpSpec("Tensor.__matmul__", lambda L, a, b: a @ b, _matmul_cases, dtypes=FLOATS + INTS + ("bool",),
                     accumulates=True),
              OpSpec("Tensor.__rmatmul__", lambda L, a, b: b.__rmatmul__(a), _matmul_cases, accumulates=True,
                     checks="``b.__rmatmul__(a)`` with ``a`` a tensor that requires grad: the gradient reaches ``a``"),
              OpSpec("lumina.matmul", lambda L, a, b: L.matmul(a, b), _matmul_cases, dtypes=FLOATS + INTS,
                     accumulates=True)]
    for name in ("maximum", "minimum"):
        specs += [OpSpec(f"lumina.{name}", (lambda n: lambda L, a, b: getattr(L, n)(a, b))(name),
                         binary_cases(scalar_other=False), dtypes=ALL, exact=True, signed_zeros=False,
                         fixed=binary_specials)]
    specs += [OpSpec("lumina.where", lambda L, c, a, b: L.where(c, a, b), _where_cases, dtypes=ALL, exact=True)]
    for scope in ("lumina", "Tensor"):
        for name in ("clamp", "clip"):
            call = (lambda n: (lambda L, x, *a, **k: getattr(L, n)(x, *a, **k)) if scope == "lumina" else
                    (lambda L, x, *a, **k: getattr(x, n)(*a, **k)))(name)
            specs.append(OpSpec(f"{scope}.{name}", call, _clamp_cases, dtypes=FLOATS + INTS, exact=True,
                                signed_zeros=False,
                                fixed=_clamp_fixed, checks="NaN bounds (scalar and tensor), min > max"))
    # reductions
    for name in ("sum", "mean"):
        specs += _methods(name, cases=reduce_cases(extra=_sum_extra if name == "sum" else None),
                          dtypes=ALL if name == "sum" else FLOATS + INTS, accumulates=True, fixed=reduce_specials)
    for name in ("var", "std"):
        specs += _methods(name, cases=reduce_cases(extra=_var_extra),
                          dtypes=FLOATS, ulps=16, accumulates=True, fixed=_var_fixed,
                          homogeneous=2 if name == "var" else 1,
                          checks="``unbiased`` positional and keyword, ``correction`` (incl. None), overflow-safe "
                                 "inputs (``[3e38, 3e38]``)")
        specs += [OpSpec(f"{s}.{name}#positional", c, _var_positional, dtypes=("float32",), ulps=16, accumulates=True,
                         homogeneous=2 if name == "var" else 1)
                  for s, c in (("lumina", (lambda n: lambda L, x, *a: getattr(L, n)(x, *a))(name)),
                               ("Tensor", (lambda n: lambda L, x, *a: getattr(x, n)(*a))(name)))]
    for name in ("max", "min"):
        specs += _methods(name, cases=_max_cases, dtypes=ALL, exact=True, signed_zeros=False, fixed=_max_fixed,
                          checks="``max(dim)`` returns ``(values, indices)``, ``max(a, b)`` is elementwise")
    for name in ("amax", "amin"):
        specs += _methods(name, cases=reduce_cases(allow_none=False), dtypes=ALL, exact=True,
                          signed_zeros=False, fixed=reduce_specials, checks="ties share the gradient")
    for name in ("argmax", "argmin"):
        specs += _methods(name, cases=_arg_cases, dtypes=FLOATS + INTS + ("bool",), exact=True, grad=False,
                          fixed=_arg_fixed, checks="the index of a NaN")
    specs += _methods("cumsum", cases=_cumsum_cases, dtypes=ALL, accumulates=True,
                      fixed=lambda d: reduce_specials(d)[:2])
    # shapes
    specs += [OpSpec("Tensor.reshape", lambda L, x, *s: x.reshape(*s), _reshape_cases, dtypes=ALL, exact=True),
              OpSpec("Tensor.view", lambda L, x, *s: x.view(*s), _reshape_cases, dtypes=ALL, exact=True),
              OpSpec("lumina.reshape", lambda L, x, s: L.reshape(x, s), lambda d: _reshape_cases(d, method=False),
                     dtypes=ALL, exact=True),
              OpSpec("Tensor.permute", lambda L, x, *p: x.permute(*p), _permute_cases, dtypes=ALL, exact=True),
              OpSpec("lumina.permute", lambda L, x, p: L.permute(x, p), lambda d: _permute_cases(d, method=False),
                     dtypes=ALL, exact=True),
              OpSpec("Tensor.expand", lambda L, x, *s: x.expand(*s), _expand_cases, dtypes=ALL, exact=True),
              OpSpec("Tensor.broadcast_to", lambda L, x, s: x.broadcast_to(s), lambda d: _expand_cases(d, method=False),
                     dtypes=ALL, exact=True)]
    specs += _methods("transpose", cases=_transpose_cases, dtypes=ALL, exact=True)
    specs += _methods("squeeze", cases=_squeeze_cases, dtypes=ALL, exact=True, checks="a tuple of dims")
    specs += _methods("unsqueeze", cases=_unsqueeze_cases, dtypes=ALL, exact=True)
    specs += _methods("flatten", cases=_flatten_cases, dtypes=ALL, exact=True)
    specs += [OpSpec("Tensor.T", lambda L, x: x.T, _tensor_only, dtypes=ALL, exact=True)]
    specs += [OpSpec("lumina.cat", lambda L, ts, d: L.cat(ts, d), _cat_cases, dtypes=ALL, exact=True),
              OpSpec("lumina.stack", lambda L, ts, d: L.stack(ts, d), lambda d: _cat_cases(d, stack=True), dtypes=ALL,
                     exact=True)]
    specs += _methods("split", cases=_split_cases, dtypes=("float32", "int64"), exact=True)
    specs += _methods("chunk", cases=_chunk_cases, dtypes=("float32", "int64"), exact=True)
    specs += [OpSpec("Tensor.__getitem__", lambda L, x, k: x[k], _getitem_cases, dtypes=("float32", "int64", "bool"),
                     exact=True, checks="ints, slices (steps 1-3, out-of-range bounds), None, Ellipsis, integer and "
                                        "boolean index tensors; out-of-range ints raise")]
    # indexing
    specs += _methods("gather", cases=_gather_cases, dtypes=("float32", "float64", "int64"), exact=True,
                      checks="an index out of range raises")
    specs += _methods("index_select", cases=lambda d: _gather_cases(d, "index_select"),
                      dtypes=("float32", "int64"), exact=True)
    specs += _methods("take_along_dim", cases=lambda d: _gather_cases(d, "take_along_dim"),
                      dtypes=("float32", "int64"), exact=True)
    # creation
    for name in ("zeros", "ones"):
        specs += [OpSpec(f"lumina.{name}", (lambda n: lambda L, *s, **k: getattr(L, n)(*s, **k))(name),
                         _creation_cases, dtypes=ALL, exact=True, grad=False)]
        specs += [OpSpec(f"lumina.{name}_like", (lambda n: lambda L, x, **k: getattr(L, n + "_like")(x, **k))(name),
                         lambda d: _creation_cases(d, like=True), dtypes=ALL, exact=True, grad=False)]
    specs += [OpSpec("lumina.full", lambda L, s, v, **k: L.full(s, v, **k), lambda d: _creation_cases(d, fill=True),
                     dtypes=ALL, exact=True, grad=False, checks="bool/int/float fill values and their inferred dtype"),
              OpSpec("lumina.arange", lambda L, *a, **k: L.arange(*a, **k), _arange_cases, dtypes=ALL, exact=True,
                     grad=False),
              OpSpec("lumina.tensor", _tensor_call, _tensor_cases, dtypes=ALL, exact=True, grad=False,
                     checks="the dtype inferred from Python and NumPy data; ragged lists raise")]
    for name in ("rand", "randn"):
        specs += [OpSpec(f"lumina.{name}", (lambda n: lambda L, *s, **k: getattr(L, n)(*s, **k))(name),
                         (lambda n: lambda d: _random_creation(d, n))(name), dtypes=FLOATS, values=False, grad=False,
                         check_extra=_random_bounds(name),
                         checks="dtype and shape (values: a different generator); rand in [0, 1)"),
                  OpSpec(f"lumina.{name}_like", (lambda n: lambda L, x: getattr(L, n + "_like")(x))(name),
                         (lambda n: lambda d: _random_creation(d, n + "_like"))(name), dtypes=FLOATS, values=False,
                         grad=False, check_extra=_random_bounds(name + "_like"), checks="dtype and shape")]
    specs += [OpSpec("lumina.randint", lambda L, lo, hi, s: L.randint(lo, hi, s),
                     lambda d: _random_creation(d, "randint"), dtypes=("int64",), values=False, grad=False,
                     check_extra=_random_bounds("randint"), checks="dtype, shape, values in [low, high)")]
    # casts, conversions, metadata
    for name, target in (("float", "float32"), ("double", "float64"), ("half", "float16"), ("bfloat16", "bfloat16"),
                         ("int", "int32"), ("long", "int64"), ("bool", "bool")):
        to_int = target in INTS
        specs += [OpSpec(f"Tensor.{name}", (lambda n: lambda L, x: getattr(x, n)())(name), _cast_cases(to_int),
                         dtypes=ALL, exact=True, fixed=_cast_fixed(to_int),
                         checks="float -> int on finite in-range values only (see the differences)" if to_int else "")]
    specs += [OpSpec("Tensor.to", lambda L, x, *a, **k: x.to(*a, **k), _to_cases, dtypes=ALL, exact=True),
              OpSpec("Tensor.type", lambda L, x, *a: x.type(*a),
                     lambda d: st.one_of(_to_cases(d).filter(lambda c: len(c.args) == 2 and isinstance(c.args[1], Dt)),
                                         _tensor_only(d)), dtypes=("float32", "int64"), exact=True,
                     checks="``x.type()`` without a dtype returns the type's name"),
              OpSpec("Tensor.cpu", lambda L, x: x.cpu(), _tensor_only, dtypes=ALL, exact=True),
              OpSpec("Tensor.numpy", lambda L, x: x.detach().numpy(), _tensor_only, dtypes=("float32", "int64", "bool",
                                                                                            "float16"), grad=False),
              OpSpec("Tensor.__array__", lambda L, x: np.asarray(x.detach()), _tensor_only,
                     dtypes=("float32", "int64", "bool"), grad=False),
              OpSpec("Tensor.tolist", lambda L, x: x.tolist(), _tensor_only, dtypes=("float32", "int64", "bool"),
                     grad=False),
              OpSpec("Tensor.item", lambda L, x: x.item(), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                     grad=False),
              OpSpec("Tensor.__float__", lambda L, x: float(x), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                     grad=False),
              OpSpec("Tensor.__int__", lambda L, x: int(x), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                     grad=False),
              OpSpec("Tensor.__bool__", lambda L, x: bool(x), _scalar_conv_cases, dtypes=("float32", "int64", "bool"),
                     grad=False),
              OpSpec("Tensor.__len__", lambda L, x: len(x), _tensor_only, dtypes=("float32",), grad=False),
              OpSpec("Tensor.__iter__", lambda L, x: list(iter(x)), _tensor_only, dtypes=("float32", "int64"),
                     exact=True),
              OpSpec("Tensor.size", lambda L, x, *a: x.size(*a), _size_cases, dtypes=("float32",), grad=False),
              OpSpec("Tensor.shape", lambda L, x: x.shape, _tensor_only, dtypes=("float32",), grad=False),
              OpSpec("Tensor.dim", lambda L, x: x.dim(), _tensor_only, dtypes=("float32",), grad=False),
              OpSpec("Tensor.ndim", lambda L, x: x.ndim, _tensor_only, dtypes=("float32",), grad=False),
              OpSpec("Tensor.numel", lambda L, x: x.numel(), _tensor_only, dtypes=("float32",), grad=False),
              OpSpec("Tensor.dtype", lambda L, x: x.dtype, _tensor_only, dtypes=ALL, grad=False),
              OpSpec("Tensor.device", lambda L, x: x.device, _tensor_only, dtypes=("float32",), grad=False,
                     checks="``str(x.device)``")]
    # autodiff state
    specs += [OpSpec("Tensor.backward", _backward_call, _backward_cases, dtypes=("float32", "float64"), grad=False,
                     exact=True, checks="scalar, with a gradient, twice (accumulates), non-scalar without one (raises)")]
    for what in ("requires_grad", "is_leaf", "grad", "requires_grad_", "detach"):
        specs += [OpSpec(f"Tensor.{what}", _state_call, (lambda w: lambda d: _state_cases(d, w))(what),
                         dtypes=("float32",), grad=False, exact=True)]
    specs += [OpSpec("lumina.no_grad", _state_call, lambda d: _state_cases(d, "no_grad"), dtypes=("float32",),
                     grad=False, exact=True)]
    # in place
    inplace_checks = "returns self; on a leaf that requires grad it raises; the gradient through a non-leaf"
    for name, arity in (("add_", 1), ("sub_", 1), ("mul_", 1), ("div_", 1), ("pow_", 1), ("copy_", 1),
                        ("zero_", 0)):
        specs += [OpSpec(f"Tensor.{name}", _inplace(name), _inplace_cases(arity), dtypes=("float32", "int64", "bool"),
                         exact=name not in ("div_", "pow_"), ulps=8, checks=inplace_checks)]
    for name, op in (("__iadd__", _op.iadd), ("__isub__", _op.isub), ("__imul__", _op.imul),
                     ("__itruediv__", _op.itruediv), ("__ipow__", _op.ipow)):
        specs += [OpSpec(f"Tensor.{name}", _inplace(name, op), _inplace_cases(1), dtypes=("float32", "int64", "bool"),
                         exact=name not in ("__itruediv__", "__ipow__"), ulps=8, checks=inplace_checks)]
    for name, op in (("__iand__", _op.iand), ("__ior__", _op.ior)):
        specs += [OpSpec(f"Tensor.{name}", _inplace(name, op), _inplace_cases(1, (True, False, 3)),
                         dtypes=("bool", "int64"), exact=True, grad=False)]
    specs += [OpSpec("Tensor.fill_", _inplace("fill_"), _fill_cases, dtypes=("float32", "int64", "bool"), exact=True,
                     checks=inplace_checks),
              OpSpec("Tensor.masked_fill_", _inplace("masked_fill_"), _masked_fill_cases,
                     dtypes=("float32", "int64", "bool"), exact=True, checks=inplace_checks + "; NaN and -inf values"),
              OpSpec("Tensor.masked_fill", lambda L, x, m, v: x.masked_fill(m, v),
                     lambda d: _masked_fill_cases(d, inplace=False), dtypes=("float32", "int64", "bool"), exact=True),
              OpSpec("Tensor.__setitem__", _setitem_call, _setitem_cases, dtypes=("float32", "int64", "bool"), exact=True,
                     checks="ints, slices, None, Ellipsis, integer and boolean index tensors; scalar and tensor "
                            "values; the gradient to both the base and the value"),
              OpSpec("Tensor.add_#view", _view_update_call, _view_update_cases, exact=True,
                     checks="an update through a view (a row, columns, .T, .view(-1)) reaches the base"),
              OpSpec("Tensor.sub_#no_grad", _no_grad_update_call, _no_grad_update_cases, exact=True, grad=False,
                     checks="``with no_grad(): p -= lr * g`` and friends update a leaf that requires grad"),
              OpSpec("Tensor.add_#version", _version_call, _version_cases, grad=False,
                     checks="modifying a tensor that backward needs raises (torch's version counter)"),
              OpSpec("Tensor.add_#leaf", _version_leaf, _version_cases, grad=False,
                     checks="the same, from a leaf that requires grad")]
    for name in ("clamp_", "clip_"):
        specs += [OpSpec(f"Tensor.{name}", _inplace(name), _clamp_inplace_cases, dtypes=FLOATS[:2] + INTS[:1],
                         exact=True, signed_zeros=False, checks=inplace_checks)]
    specs += [OpSpec("Tensor.data", lambda L, x: (x.data, x.data.requires_grad, x.data.is_leaf), _tensor_only,
                     dtypes=("float32", "int64"), exact=True, grad=False, checks="a leaf that does not require grad"),
              OpSpec("Tensor.clone", lambda L, x: x.clone(), _tensor_only, dtypes=ALL, exact=True),
              OpSpec("Tensor.contiguous", lambda L, x: x.transpose(0, -1).contiguous() if x.ndim else x.contiguous(),
                     _tensor_only, dtypes=ALL, exact=True),
              OpSpec("Tensor.t", lambda L, x: x.t(), _tensor_only, dtypes=("float32", "int64"), exact=True,
                     checks="0-, 1- and 2-d; more dims raise")]
    # nn.functional
    specs += [OpSpec("F.softmax", lambda L, x, d: L.nn.functional.softmax(x, d), _softmax_cases, normwise=True,
                     dtypes=FLOATS, ulps=16, fixed=_softmax_fixed),
              OpSpec("F.log_softmax", lambda L, x, d: L.nn.functional.log_softmax(x, d), _softmax_cases,
                     normwise=True, dtypes=FLOATS, ulps=16, accumulates=True, fixed=_softmax_fixed),
              OpSpec("F.one_hot", lambda L, x, *a: L.nn.functional.one_hot(x, *a), _one_hot_cases, dtypes=("int64",),
                     exact=True, grad=False, checks="``num_classes=-1`` infers the count"),
              OpSpec("F.mse_loss", lambda L, x, t, **k: L.nn.functional.mse_loss(x, t, **k), _loss_pair,
                     normwise=True, dtypes=FLOATS, ulps=8, accumulates=True),
              OpSpec("F.l1_loss", lambda L, x, t, **k: L.nn.functional.l1_loss(x, t, **k), _loss_pair,
                     normwise=True, dtypes=FLOATS, ulps=8, accumulates=True),
              OpSpec("F.binary_cross_entropy", lambda L, x, t, **k: L.nn.functional.binary_cross_entropy(x, t, **k),
                     _bce_cases, normwise=True, dtypes=("float32", "float64"), ulps=16, accumulates=True,
                     checks="probabilities outside [0, 1] raise"),
              OpSpec("F.binary_cross_entropy_with_logits",
                     lambda L, x, t, **k: L.nn.functional.binary_cross_entropy_with_logits(x, t, **k),
                     lambda d: _bce_cases(d, logits=True), normwise=True, dtypes=("float32", "float64"), ulps=16,
                     accumulates=True),
              OpSpec("F.cross_entropy", lambda L, x, t, **k: L.nn.functional.cross_entropy(x, t, **k),
                     _class_loss_cases, normwise=True, dtypes=("float32", "float64"), ulps=16, accumulates=True,
                     checks="weights, ignore_index, label smoothing, class probabilities; a target out of range raises"),
              OpSpec("F.nll_loss", lambda L, x, t, **k: L.nn.functional.nll_loss(x, t, **k),
                     lambda d: _class_loss_cases(d, log_probs=True), normwise=True, dtypes=("float32", "float64"),
                     ulps=16,
                     accumulates=True),
              OpSpec("F.layer_norm", lambda L, x, s, **k: L.nn.functional.layer_norm(x, s, **k), _layer_norm_cases,
                     normwise=True, homogeneous=0, dtypes=("float32", "float64"), ulps=64, accumulates=True, fixed=_norm_fixed,
                     checks="huge rows (overflow-safe statistics)"),
              OpSpec("F.batch_norm", _batch_norm_call, _batch_norm_cases, normwise=True, dtypes=("float32", "float64"),
                     ulps=64, accumulates=True, skip=((
                         "float64 inputs beyond 1e150: torch's batch statistics overflow there (NaN where the true "
                         "result is finite) and, the running statistics not being homogeneous in the input, no "
                         "rescaled reference exists; float32 inputs at the overflow threshold are compared (torch's "
                         "float64 result is their reference)", _float64_beyond_1e150),),
                     checks="training and evaluation; the running statistics after the call"),
              OpSpec("F.conv2d", lambda L, x, w, *b, **k: L.nn.functional.conv2d(x, w, *b, **k), _conv_cases,
                     normwise=True, dtypes=("float32", "float64"), accumulates=True,
                     checks="stride, padding (ints, 'same', 'valid'), dilation, groups"),
              OpSpec("F.max_pool2d", lambda L, x, k_, **k: L.nn.functional.max_pool2d(x, k_, **k),
                     lambda d: _pool_cases(d, "max"), dtypes=("float32", "float64"), exact=True, signed_zeros=False),
              OpSpec("F.avg_pool2d", lambda L, x, k_, **k: L.nn.functional.avg_pool2d(x, k_, **k),
                     lambda d: _pool_cases(d, "avg"), dtypes=("float32", "float64"), accumulates=True),
              OpSpec("F.pad", lambda L, x, p, **k: L.nn.functional.pad(x, p, **k), _pad_cases, dtypes=ALL, exact=True,
                     checks="negative pads (cropping), NaN and -inf fill values"),
              OpSpec("F.embedding", lambda L, i, w, **k: L.nn.functional.embedding(i, w, **k), _embedding_cases,
                     dtypes=("float32", "float64"), exact=True, checks="padding_idx; an index out of range raises"),
              OpSpec("F.scaled_dot_product_attention",
                     lambda L, q, k, v, **kw: L.nn.functional.scaled_dot_product_attention(q, k, v, **kw), _sdpa_cases,
                     normwise=True, dtypes=("float32", "float64"), ulps=64, accumulates=True),
              OpSpec("F.dropout", lambda L, x, **k: L.nn.functional.dropout(x, **k), _dropout_cases,
                     dtypes=("float32", "float64"), values=False, grad=False, check_extra=_dropout_check,
                     checks="every element is 0 or x/(1-p); identity when not training; p outside [0, 1] raises")]
    # nn modules
    img = shapes(4, 4, min_side=1)
    specs += _module("ReLU", lambda L: L.nn.ReLU(), _mod_input, exact=True, signed_zeros=False)
    specs += _module("Sigmoid", lambda L: L.nn.Sigmoid(), _mod_input, exact_math=_mp("sigmoid"), grad_atol=4.0)
    specs += _module("Tanh", lambda L: L.nn.Tanh(), _mod_input, exact_math=_mp("tanh"), grad_atol=4.0)
    specs += _module("GELU", lambda L: L.nn.GELU(), _mod_input, ulps=8, exact_math=_mp("gelu"))
    specs += _module("Flatten", lambda L: L.nn.Flatten(), lambda d: _mod_input(d, shapes(1, 4)), exact=True)
    rows_of_3 = shapes(1, 3).map(lambda s: s[:-1] + (3,))
    specs += _module("Linear", lambda L: L.nn.Linear(3, 2), lambda d: _mod_input(d, rows_of_3), accumulates=True,
                     normwise=True)
    specs += _module("Sequential", lambda L: L.nn.Sequential(L.nn.Linear(3, 4), L.nn.ReLU(), L.nn.Linear(4, 2)),
                     lambda d: _mod_input(d, shapes(1, 2).map(lambda s: s[:-1] + (3,))), accumulates=True,
                     normwise=True)
    specs += _module("Conv2d", lambda L: L.nn.Conv2d(2, 3, 3, padding=1), lambda d: _mod_input(
        d, img.map(lambda s: (s[0], 2) + s[2:]), special=False), accumulates=True, normwise=True)
    specs += _module("MaxPool2d", lambda L: L.nn.MaxPool2d(2), lambda d: _mod_input(d, img), exact=True,
                     signed_zeros=False)
    specs += _module("AvgPool2d", lambda L: L.nn.AvgPool2d(2), lambda d: _mod_input(d, img), accumulates=True)
    specs += _module("BatchNorm1d", lambda L: L.nn.BatchNorm1d(3), lambda d: _mod_input(
        d, shapes(2, 3, min_side=2).map(lambda s: (s[0], 3) + s[2:]), special=False), ulps=64, accumulates=True,
        normwise=True)
    specs += _module("BatchNorm2d", lambda L: L.nn.BatchNorm2d(2).eval(), lambda d: _mod_input(
        d, img.map(lambda s: (s[0], 2) + s[2:])), ulps=64, accumulates=True, normwise=True, checks="evaluation mode")
    specs += _module("LayerNorm", lambda L: L.nn.LayerNorm(3), lambda d: _mod_input(
        d, shapes(1, 3).map(lambda s: s[:-1] + (3,))), ulps=64, accumulates=True, normwise=True, homogeneous=0)
    specs += _module("Embedding", lambda L: L.nn.Embedding(5, 2), lambda d: st.builds(
        lambda a: Case((Arr(a),), dtype=d), array("int64", (3,), 0, 4)), dtypes=("int64",), exact=True)
    specs += _module("Dropout", lambda L: L.nn.Dropout(0.5).eval(), _mod_input, exact=True, checks="evaluation: identity")
    specs += _module("MultiheadAttention", lambda L: L.nn.MultiheadAttention(4, 2), _mha_cases, ulps=64, normwise=True,
                     draws=0.5,
                     skip=(("a query whose every key is masked gives 0 in lumina (its documented choice, as "
                            "scaled_dot_product_attention in torch), NaN in torch's MultiheadAttention",
                            _mha_fully_masked),),
                     accumulates=True, checks="torch's default layout (batch_first=False), masks, need_weights")
    specs += [OpSpec("nn.Parameter", lambda L, x: L.nn.Parameter(x.detach()), _tensor_only, exact=True, grad=False,
                     check_extra=_parameter_check)]
    # nn.init and nn.utils
    for op in ("zeros_", "ones_", "constant_"):
        specs += [OpSpec(f"nn.init.{op}", (lambda o: lambda L, x, *a: getattr(L.nn.init, o)(x, *a))(op),
                         (lambda o: lambda d: _init_cases(d, o))(op), exact=True, grad=False)]
    for op in ("uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"):
        specs += [OpSpec(f"nn.init.{op}", (lambda o: lambda L, x, *a, **k: getattr(L.nn.init, o)(x, *a, **k))(op),
                         (lambda o: lambda d: _init_cases(d, o))(op), values=False, grad=False,
                         check_extra=_init_bound(op), checks="dtype, shape, the bound of torch's formula")]
    specs += [OpSpec("nn.init.calculate_gain", lambda L, n, *p: L.nn.init.calculate_gain(n, *p), lambda d: st.builds(
        lambda n, p: Case((n,) + p, dtype=d), st.sampled_from(["linear", "relu", "tanh", "sigmoid", "leaky_relu", "selu",
                                                                "conv2d", "bogus"]),
        st.sampled_from([(), (0.2,)])), dtypes=("float32",), grad=False)]
    for op in ("clip_grad_norm_", "clip_grad_value_"):
        specs += [OpSpec(f"nn.utils.{op}", _clip_call(op), (lambda o: lambda d: _clip_cases(d, o))(op),
                         ulps=16, accumulates=True, grad=False, checks="the returned norm and the clipped gradients")]
    table = {}
    for s in specs:
        if s.name in table:
            raise ValueError(f"torch_diff: two specs named {s.name}")
        table[s.name] = s
    return table


OPS: dict[str, OpSpec] = _build()
"""The table: spec name -> ``OpSpec``. A name with ``#`` (``lumina.var#positional``) is a further
spec of the namesake before it."""


def namesake_of(spec_name: str) -> str:
    return spec_name.partition("#")[0]


EXCLUDED: dict[str, str] = {
    "lumina.Tensor": "the class; its methods are the Tensor.* rows (torch.Tensor(...) is a legacy constructor; "
                     "use lumina.tensor)",
    "lumina.bfloat16": "a dtype object: every row compares result dtypes by name",
    "lumina.bool": "a dtype object: every row compares result dtypes by name",
    "lumina.float16": "a dtype object: every row compares result dtypes by name",
    "lumina.float32": "a dtype object: every row compares result dtypes by name",
    "lumina.float64": "a dtype object: every row compares result dtypes by name",
    "lumina.int32": "a dtype object: every row compares result dtypes by name",
    "lumina.int64": "a dtype object: every row compares result dtypes by name",
    "lumina.compile": "a compiler entry point, not an op (torch.compile shares the name only); tests/test_compile.py",
    "lumina.autocast": "a context manager; mixed precision is tested in tests/test_amp.py",
    "lumina.manual_seed": "seeds lumina's own generator; its streams differ from torch's by design",
    "Tensor.cuda": "needs a GPU; device moves are tested in tests/test_devices.py and tests/test_gpu.py",
    "nn.Module": "the base class; layers built on it are rows here, its methods are in the signature check",
    "nn.ModuleList": "a container without a forward; tests/test_nn_layers.py",
}
"""Namesakes not run by the harness, each with the reason."""


def coverage() -> tuple[list[str], list[str], list[str]]:
    """(namesakes covered by a spec, excluded ones, ones in neither: these fail the coverage test)."""
    names = [n.name for n in namesakes()]
    specs = {namesake_of(s) for s in OPS}
    covered = [n for n in names if n in specs]
    excluded = [n for n in names if n in EXCLUDED and n not in specs]
    missing = [n for n in names if n not in specs and n not in EXCLUDED]
    return covered, excluded, missing


# ---- running the table ---------------------------------------------------------------------------------------------

def fixed_cases(spec: OpSpec) -> list[Case]:
    if spec.fixed is None:
        return []
    out = []
    for d in spec.dtypes:
        out += spec.fixed(d)
    return out


COMPARISON_RULES: list[tuple[str, str]] = [
    ("Signs of zero of max, min, maximum, minimum, amax, amin, relu, clamp and max_pool2d are not compared",
     "IEEE 754 leaves the sign of max(+0, -0) open and torch 2.13 itself answers both ways: "
     "torch.maximum(0., -0.) is 0. from its scalar loop and -0. from its vectorised one"),
    ("A gradient that does not exist may be NaN in one library and +-inf in the other",
     "at a NaN or infinite input (or an overflow) the derivative is undefined; both libraries must "
     "agree that it is not finite, and infinities must have the same sign"),
    ("A value that equals torch's float64 result rounded to the dtype is accepted",
     "lumina is then correctly rounded and torch's own 16/32-bit result is the less accurate one "
     "(torch's float32 gelu(+-inf) is NaN, its float32 gradient of var overflows)"),
    ("var, std and layer_norm of inputs beyond 2^64 are also compared with torch on inputs scaled "
     "by a power of two", "f(x) = 2^(k d) f(x / 2^k) exactly; torch's float64 statistics overflow "
     "where the true result is finite (std([1.8e308, 1]) is 1.27e308, torch says inf)"),
    ("sigmoid, tanh, exp, log, sqrt, sin, cos, erf and gelu values and gradients are also compared with "
     "the exact function (mpmath, 40 digits) rounded to the dtype", "torch's float64 gradient formulas "
     "lose digits to cancellation (its sigmoid'(20) is 4e-8 off, relative), so there torch is no oracle"),
    ("float -> int casts are compared on finite values inside the int range",
     "C++ leaves NaN, inf and out-of-range conversions undefined; torch's result is platform noise"),
    ("Random ops (rand*, randn*, randint, dropout in training, the random nn.init functions) are "
     "compared on dtype, shape and range, not values", "lumina's counter-based generator and torch's "
     "Philox/MT streams differ by design; the checks are on the distribution's support "
     "(dropout: each element 0 or x / (1 - p))"),
    ("take_along_dim with an index out of range is not compared",
     "torch 2.13 does not check its indices there (its reference wraps them, indices % size, and returns a value); "
     "lumina raises LuminaIndexError"),
    ("The gradient with respect to a loss's class weights is checked by finite differences of lumina's forward",
     "torch cannot differentiate with respect to them (it raises when the weight requires grad), so it is no "
     "oracle there; the check runs on float64 cases with finite inputs"),
    ("Composite ops (normalisations, attention, losses, conv, layers) compare to ulps * eps * "
     "max(1, largest magnitude of torch's result)", "their elements come from sums whose terms are larger than the result; "
     "elementwise ops are compared relative to each element, and bit for bit where the result is "
     "exactly determined"),
]
"""How the checker compares, where that is looser than bit-for-bit equality, and why."""


# ---- known differences ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class KnownDifference:
    """A difference from torch that is known and reviewed: on ``rows``, the discrepancies of
    ``kinds`` for which ``applies(discrepancy)`` holds. ``applies`` looks at the evidence (the case,
    lumina's exception, the differing elements) and must hold for every differing element, so a
    wrong value elsewhere in the same case is not covered. ``supported=False``: lumina refuses
    these cases with a ``LuminaError`` where torch computes (a gap, not a choice); else the
    difference is deliberate. ``cases`` says which cases in words, ``why`` the reason.

    A matched discrepancy is reported but is not a failure; an entry with a row on which it
    matches nothing is stale and fails the test (remove it once the gap is closed). A
    raw-exception never matches."""
    rows: tuple[str, ...]
    kinds: tuple[str, ...]
    cases: str
    why: str
    applies: Callable[[Discrepancy], bool]
    supported: bool = True
    always: bool = True        # False: the cases are drawn at random and may not come up every run


def _float_values(a) -> np.ndarray:
    return a.value.astype(np.float64)


def _arg(case: Case, position: int, name: str, default=None):
    """A call's argument, given positionally or by keyword."""
    if len(case.args) > position:
        return case.args[position]
    return case.kwargs.get(name, default)


def _tensors(x) -> list[Arr]:
    return _arrs(Case((x,))) if x is not None else []


def _is_int(a: Arr) -> bool:
    return a.value.dtype.kind in "iu"


def _error(d: Discrepancy, *types_) -> bool:
    return isinstance(d.error, types_)


def _each(d: Discrepancy, test: Callable[[tuple, float, float], bool]) -> bool:
    """``test(index, lumina's element, torch's element)`` holds at every differing element."""
    m = d.mismatch
    return m is not None and len(m.index) > 0 and all(
        bool(test(tuple(int(k) for k in i), float(m.lumina[tuple(i)]), float(m.torch[tuple(i)]))) for i in m.index)


def _input_at(a: Arr, index: tuple) -> float:
    """The element of ``a`` at ``index`` of a result it broadcasts to."""
    v = a.value
    tail = index[len(index) - v.ndim:] if v.ndim else ()
    return float(v[tuple(0 if n == 1 else k for n, k in zip(v.shape, tail))])


def _reduce_dims(case: Case) -> tuple[int, ...] | None:
    dim = _arg(case, 1, "dim")
    if dim is None or isinstance(dim, bool):
        return None
    return tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)


def _integer_power(d: Discrepancy) -> bool:
    """Refused with LuminaTypeError; every operand an integer or bool tensor or a Python int or
    bool, at least one an integer (torch's result is an integer tensor)."""
    c = d.case_obj
    operands = list(c.args)
    integer = lambda a: a.value.dtype.kind in "iub" if isinstance(a, Arr) else isinstance(a, (int, bool))  # noqa: E731
    return (_error(d, LuminaTypeError) and any(isinstance(a, Arr) for a in operands) and all(map(integer, operands))
            and any(isinstance(a, int) and not isinstance(a, bool) or isinstance(a, Arr) and _is_int(a)
                    for a in operands))


def _bool_mask_read(d: Discrepancy) -> bool:
    key = d.case_obj.args[1]
    return _error(d, LuminaTypeError) and any(a.value.dtype == np.bool_ for a in _tensors(key))


def _pool_kernel_exceeds_padded_input(d: Discrepancy) -> bool:
    """ceil_mode=True and, in some spatial dim, the (dilated) kernel is larger than the input
    plus twice the padding."""
    c = d.case_obj
    max_pool = d.op.endswith("max_pool2d")
    pair = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)  # noqa: E731
    kernel = pair(_arg(c, 1, "kernel_size"))
    padding = pair(_arg(c, 3, "padding", 0))
    dilation = pair(_arg(c, 4, "dilation", 1) if max_pool else 1)
    ceil = _arg(c, 5 if max_pool else 4, "ceil_mode", False)
    size = c.args[0].value.shape[-2:]
    return _error(d, LuminaShapeError) and ceil is True and any(
        dl * (k - 1) + 1 > n + 2 * p for k, p, dl, n in zip(kernel, padding, dilation, size))


def _reduced_slice(x: np.ndarray, dims, fn, keepdims: bool) -> np.ndarray:
    axes = None if dims is None else tuple(k % max(x.ndim, 1) for k in dims) if x.ndim else None
    return fn(x, axis=axes, keepdims=keepdims)


def _share_among_nans(d: Discrepancy) -> bool:
    """Each differing gradient element: torch's NaN, lumina's finite, in a reduced slice holding a NaN."""
    x = _float_values(d.case_obj.args[0])
    nan_slice = np.broadcast_to(_reduced_slice(np.isnan(x), _reduce_dims(d.case_obj), np.any, True), x.shape)
    return d.mismatch.path == "grad[0]" and _each(
        d, lambda i, lv, tv: math.isnan(tv) and math.isfinite(lv) and nan_slice[i])


def _mean_overflows(d: Discrepancy) -> bool:
    """float64 input; each differing result element is lumina's inf for a slice of finite values
    whose sum overflows float64."""
    c = d.case_obj
    x = c.args[0].value
    if x.dtype != np.float64:
        return False
    keep = bool(c.kwargs.get("keepdim", False))
    with np.errstate(all="ignore"):
        finite = _reduced_slice(np.isfinite(x), _reduce_dims(c), np.all, keep)
        total = _reduced_slice(x, _reduce_dims(c), np.sum, keep)
    over = np.asarray(finite & ~np.isfinite(total))
    return d.mismatch.path == "result" and over.shape == d.mismatch.lumina.shape and _each(
        d, lambda i, lv, tv: math.isinf(lv) and math.isfinite(tv) and over[i])


def _bce_clamped(d: Discrepancy) -> bool:
    """At each differing gradient element: p within 1e-12 of 0 or 1, or p = t = w = 0."""
    c = d.case_obj
    p, t = c.args[0], c.args[1]
    w = c.kwargs.get("weight")

    def at(i, lv, tv):
        pv, tv_ = _input_at(p, i), _input_at(t, i)
        wv = _input_at(w, i) if w is not None else 1.0
        return min(abs(pv), abs(1.0 - pv)) <= 1e-12 or pv == tv_ == wv == 0.0
    return _each(d, at)


def _no_weight_to_average(d: Discrepancy) -> bool:
    """reduction='mean' over integer targets whose weights sum to 0 (each target ignored or of
    weight 0); the input's gradient: torch's NaN, lumina's zero."""
    c = d.case_obj
    target = c.args[1]
    if target.value.dtype.kind not in "iu" or c.kwargs.get("reduction", "mean") != "mean":
        return False
    t = target.value.reshape(-1)
    kept = t[t != c.kwargs.get("ignore_index", -100)]
    w = c.kwargs.get("weight")
    total = float(_float_values(w)[kept].sum()) if w is not None else float(kept.size)
    return d.mismatch.path == "grad[0]" and total == 0.0 and _each(d, lambda i, lv, tv: math.isnan(tv) and lv == 0.0)


def _gelu_slope_overflows(d: Discrepancy) -> bool:
    """Each differing gradient element: lumina's NaN, torch's +-0, at a finite x whose x^2 overflows."""
    x = d.case_obj.args[0]
    big = math.sqrt(float(ml_dtypes.finfo(x.value.dtype).max))
    return d.case_obj.kwargs.get("approximate", "none") == "none" and _each(
        d, lambda i, lv, tv: math.isnan(lv) and tv == 0.0 and math.isfinite(_input_at(x, i))
        and abs(_input_at(x, i)) > big)


def _gelu_negative_tail(d: Discrepancy) -> bool:
    """Each differing value: float32, x below -2, lumina within 2e-4 relative of the exact value
    (the tail is where 1 + erf(x / sqrt 2) cancels)."""
    x = d.case_obj.args[0]
    if x.value.dtype != np.float32 or d.case_obj.kwargs.get("approximate", "none") != "none":
        return False

    def close(i, lv, tv):
        xi = _input_at(x, i)
        exact = 0.5 * xi * math.erfc(-xi / math.sqrt(2.0))
        return -5.0 < xi < -2.0 and abs(lv - exact) <= 2e-4 * abs(exact)
    return _each(d, close)


def _bool_matmul(d: Discrepancy) -> bool:
    """lumina refused a matmul of bool operands."""
    return isinstance(d.error, LuminaError) and "bool operands" in str(d.error)


def _tiny_batch_statistics(d: Discrepancy) -> bool:
    """Training-mode batch norm over at most 2 values per channel; every differing gradient element
    within 1e-3 of the largest of torch's gradient."""
    x = d.case_obj.args[0].value
    per_channel = x.size // x.shape[1] if x.ndim > 1 and x.shape[1] else x.size
    m = d.mismatch
    if per_channel > 2 or m is None or not str(m.path).startswith("grad"):
        return False
    scale = float(np.nanmax(np.abs(np.asarray(m.torch, dtype=np.float64)))) if np.size(m.torch) else 0.0
    return _each(d, lambda i, lv, tv: abs(lv - tv) <= 1e-3 * max(scale, 1e-30))


def _cumsum_at_non_finite(d: Discrepancy) -> bool:
    """Each differing gradient element: lumina's 0, at an input element that is NaN or +-inf."""
    x = d.case_obj.args[0]
    return d.mismatch.path == "grad[0]" and _each(
        d, lambda i, lv, tv: lv == 0.0 and not math.isfinite(_input_at(x, i)))


def _attention_masked_non_finite_keys(d: Discrepancy) -> bool:
    """query and value finite; key holds +-inf or NaN, only at key positions that the mask removes
    for every query (is_causal, or False in a bool mask); each differing element: torch's NaN,
    lumina's finite."""
    c = d.case_obj
    q, k, v = (_float_values(a) for a in c.args[:3])
    L_, S = q.shape[-2], k.shape[-2]
    if c.kwargs.get("is_causal"):
        kept = np.tril(np.ones((L_, S), dtype=bool))
    elif isinstance(c.kwargs.get("attn_mask"), Arr) and c.kwargs["attn_mask"].value.dtype == np.bool_:
        kept = c.kwargs["attn_mask"].value
    else:
        return False
    bad_keys = ~np.isfinite(k).all(axis=-1)                          # [..., S]
    used = kept.any(axis=0)                                          # [S]
    return (np.isfinite(q).all() and np.isfinite(v).all() and bad_keys.any() and not (bad_keys & used).any()
            and _each(d, lambda i, lv, tv: math.isnan(tv) and math.isfinite(lv)))


KNOWN_DIFFERENCES: list[KnownDifference] = [
    # -- not supported yet: lumina raises a LuminaError where torch computes
    KnownDifference(("Tensor.__pow__", "Tensor.__ipow__", "Tensor.pow_", "Tensor.__rpow__"), ("raises",),
                    "`**`, `**=`, `pow_`, `__rpow__` of integer (or bool) tensors and integer tensor exponents",
                    "integer powers by a tensor of exponents are not implemented (a Python integer exponent is: "
                    "repeated squaring); lumina's pow primitive is floating-point (LuminaTypeError; cast to "
                    "float)", _integer_power, supported=False),
    KnownDifference(("Tensor.__getitem__",), ("raises",), "`x[mask]` with a bool tensor in the key",
                    "the result's shape would depend on the data, which a static-shape graph cannot express "
                    "(LuminaTypeError; use lumina.where)", _bool_mask_read, supported=False),
    KnownDifference(("F.max_pool2d", "F.avg_pool2d"), ("raises",),
                    "`ceil_mode=True` where the (dilated) kernel is larger than the padded input",
                    "torch then pools a partial window that starts inside the input; lumina requires the kernel "
                    "to fit the padded input (LuminaShapeError)", _pool_kernel_exceeds_padded_input,
                    supported=False, always=False),
    KnownDifference(("Tensor.__matmul__", "Tensor.__rmatmul__", "lumina.matmul"), ("raises",),
                    "bool operands (torch computes only those with an empty result; others raise there too)",
                    "lumina's dot has no bool form (LuminaTypeError; cast to an integer or float dtype)",
                    _bool_matmul, supported=False, always=False),
    # -- deliberate
    KnownDifference(("nn.BatchNorm1d", "nn.BatchNorm2d", "F.batch_norm"), ("grad value",),
                    "input gradients of training-mode batch statistics over at most 2 values per channel, "
                    "within 1e-3 of the largest gradient",
                    "with two values per channel the gradient is almost all cancellation: lumina's float32 "
                    "result and torch's both differ from the float64 one by about 1e-3 of the largest element "
                    "(lumina's by less in the case found), in different directions",
                    _tiny_batch_statistics, always=False),
    KnownDifference(("Tensor.amax", "Tensor.amin", "lumina.amax", "lumina.amin"), ("grad nan",),
                    "gradient of a reduced slice holding NaN",
                    "lumina shares the cotangent among the slice's NaNs, as torch's own max()/min() do "
                    "(evenly_distribute_backward); torch.amax/amin's gradient is NaN across the slice",
                    _share_among_nans),
    KnownDifference(("Tensor.var", "Tensor.std", "lumina.var", "lumina.std"), ("inf",),
                    "float64 slices of finite values whose sum exceeds float64's range",
                    "the mean overflows to inf: a documented limit of lumina.reductions.scaled_moments, which "
                    "rescales by a power of two but sums first; float32 inputs (summed in float64) are exact",
                    _mean_overflows),
    KnownDifference(("F.binary_cross_entropy",), ("grad nan", "grad value", "grad inf"),
                    "gradients where the input p is within 1e-12 of 0 or 1, or p = target = weight = 0",
                    "lumina differentiates its own forward, whose logs are clamped at -100 as torch's; torch's "
                    "backward is (p - t) / max(p (1 - p), 1e-12), which is not the derivative of that forward "
                    "there", _bce_clamped),
    KnownDifference(("F.cross_entropy", "F.nll_loss"), ("grad nan",),
                    "reduction='mean' where every target is ignored or of weight 0 (the weights averaged "
                    "over sum to 0): the input's gradient",
                    "both forwards are NaN (0/0); lumina's gradient is 0, since no element contributes, where "
                    "torch's backward divides 0 by the zero total weight and gives NaN", _no_weight_to_average,
                    always=False),
    KnownDifference(("F.gelu",), ("grad nan",), "gradient at finite x whose square overflows the dtype "
                    "(-3.4e38 in float32), where the cotangent times x/2 overflows",
                    "lumina differentiates x/2 (1 + erf(x / sqrt 2)) by the chain rule: the cotangent times x/2 "
                    "is +-inf and erf's slope exp(-x^2/2) is 0, inf * 0 = NaN; torch's closed-form slope gives "
                    "-0", _gelu_slope_overflows),
    KnownDifference(("F.gelu", "nn.GELU"), ("value",),
                    "float32 values for x between -5 and -2 (the negative tail)",
                    "lumina computes x/2 (1 + erf(x / sqrt 2)) with a float32 erf, as torch's kernel does; near "
                    "x = -3 the sum cancels to a few thousandths, so the relative error grows to 1e-5..1e-4 "
                    "(absolute error below 1e-7); lumina and torch miss the exact value by different amounts. "
                    "An erfc branch fixes it but splits the GEMM epilogues GELU lives in",
                    _gelu_negative_tail, always=False),
    KnownDifference(("Tensor.cumsum", "lumina.cumsum"), ("grad value",),
                    "gradient at input positions holding NaN or +-inf",
                    "lumina scans non-finite elements separately (so that one inf or NaN does not poison the "
                    "rest of the scan's float arithmetic) and their own gradient is 0; torch passes them the "
                    "reversed cumsum of the cotangent", _cumsum_at_non_finite),
    KnownDifference(("F.scaled_dot_product_attention",), ("nan", "grad nan"),
                    "is_causal or a bool mask, key entries +-inf or NaN only at key positions the mask removes "
                    "for every query (query and value finite): the result and gradients",
                    "lumina selects -inf for the masked scores (where(mask, scores, -inf)), so its result and "
                    "gradients are those of attention over the unmasked keys, finite; torch adds a -inf mask to "
                    "the scores, a masked score of inf (or NaN) gives inf + -inf = NaN, and its result and "
                    "gradients are NaN", _attention_masked_non_finite_keys, always=False),
]
"""Reviewed differences from torch (see ``KnownDifference``); docs/torch_parity.md lists them."""


def known_difference(d: Discrepancy) -> KnownDifference | None:
    """The entry of ``KNOWN_DIFFERENCES`` that covers ``d``, if any (never a raw-exception)."""
    if d.kind == "raw-exception" or d.case_obj is None:
        return None
    for entry in KNOWN_DIFFERENCES:
        if d.op in entry.rows and d.kind in entry.kinds:
            try:
                if entry.applies(d):
                    return entry
            except Exception:  # noqa: BLE001 (a predicate that cannot read the case does not apply)
                continue
    return None


def triage(row: str, problems: list[Discrepancy]) -> tuple[list[Discrepancy], list[Discrepancy], list[KnownDifference]]:
    """Splits one row's discrepancies: (failures, known differences, stale entries: those naming
    ``row`` that matched none of them)."""
    failures, known, used = [], [], set()
    for p in problems:
        entry = known_difference(p)
        if entry is None:
            failures.append(p)
        else:
            known.append(p)
            used.add(id(entry))
    stale = [e for e in KNOWN_DIFFERENCES if row in e.rows and id(e) not in used and e.always]
    return failures, known, stale


def spec_differences() -> list[tuple[str, str]]:
    """(row, reason) for every deliberate difference a spec declares (``skip`` / ``amend``)."""
    out = []
    for name, s in sorted(OPS.items()):
        for reason, _ in s.skip:
            out.append((name, reason))
        if s.amend is not None:
            out.append((name, s.amend[0]))
    return out


def render_coverage() -> str:
    """The coverage table of ``docs/torch_parity.md``: one row per spec."""
    lines = ["| name | dtypes | values | gradient | also checked |", "|---|---|---|---|---|"]
    for name, s in sorted(OPS.items()):
        if s.values:
            values = "exact bits" if s.exact else f"{s.ulps:g} eps" + (" + sum bound" if s.accumulates else "") + (
                " (normwise)" if s.normwise else "")
        else:
            values = "dtype, shape, range"
        grad = ("vs autograd" + (" (+ parameters)" if s.module else "")) if s.grad else "-"
        lines.append(f"| `{name}` | {', '.join(s.dtypes)} | {values} | {grad} | {s.checks or ''} |")
    return "\n".join(lines)


def render_exclusions() -> str:
    lines = ["| name | reason |", "|---|---|"]
    for name, why in sorted(EXCLUDED.items()):
        lines.append(f"| `{name}` | {why} |")
    return "\n".join(lines)


def render_differences() -> str:
    lines = ["| what | why |", "|---|---|"]
    for what, why in COMPARISON_RULES:
        lines.append(f"| {what} | {why} |")
    for name, why in spec_differences():
        lines.append(f"| `{name}`: cases left out | {why} |")
    lines += ["", "| parameter | left out of every lumina signature because |", "|---|---|"]
    for p, why in sorted(SIGNATURE_OMISSIONS.items()):
        lines.append(f"| `{p}` | {why} |")
    lines += ["", "| name | signature not compared because |", "|---|---|"]
    for name, why in sorted(SIGNATURE_EXCLUDED.items()):
        lines.append(f"| `{name}` | {why} |")
    lines += ["", "| name | parameter | differs on purpose because |", "|---|---|---|"]
    for name, params in sorted(SIGNATURE_DIFFERENCES.items()):
        for p, why in sorted(params.items()):
            lines.append(f"| `{name}` | `{p}` | {why} |")
    return "\n".join(lines)


def render_known() -> str:
    """The "Known differences" of ``docs/torch_parity.md``: ``KNOWN_DIFFERENCES``, gaps first."""
    out = []
    for supported, title in ((False, "Not supported yet (lumina raises a clear LuminaError where torch computes)"),
                             (True, "Deliberate differences")):
        out += [f"### {title}", "", "| names | cases | compared as | why |", "|---|---|---|---|"]
        for e in KNOWN_DIFFERENCES:
            if e.supported == supported:
                names = ", ".join(f"`{r}`" for r in e.rows)
                cell = lambda text: text.replace("|", "\\|")  # noqa: E731
                out.append(f"| {names} | {cell(e.cases)} | {', '.join(e.kinds)} | {cell(e.why)} |")
        out.append("")
    return "\n".join(out[:-1])


def _docs_path():
    from pathlib import Path
    return Path(__file__).resolve().parents[2] / "docs" / "torch_parity.md"


DOCS = _docs_path()
"""docs/torch_parity.md: its generated sections lie between ``<!-- torch_diff:NAME -->`` and
``<!-- /torch_diff:NAME -->`` (``write_docs`` refreshes them)."""


def write_docs() -> None:
    import re
    text = DOCS.read_text()
    for tag, body in (("coverage", render_coverage()), ("exclusions", render_exclusions()),
                      ("known", render_known()), ("differences", render_differences())):
        pattern = re.compile(f"(<!-- torch_diff:{tag} -->\\n).*?(<!-- /torch_diff:{tag} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{DOCS}: no generated section {tag!r}")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    DOCS.write_text(text)


def distinct(problems: list[Discrepancy]) -> list[Discrepancy]:
    """One discrepancy per (op, kind, where): the first of each."""
    seen, out = set(), []
    for p in problems:
        key = (p.op, p.kind, p.detail.split(":")[0].split("[")[0])
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def draw_cases(spec: OpSpec, n: int, seed: int | None = None) -> list[Case]:
    """``n`` cases from the spec's hypothesis strategies, each of a dtype hypothesis picks from
    ``spec.dtypes`` (the fixed cases cover every dtype): hypothesis generates (its first example is
    the simplest, an empty or 0-d tensor), nothing shrinks, and the cases are returned to be run as
    one batch (``check``). Deterministic unless ``seed`` is given."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded
    out: list[Case] = []

    def body(data):
        out.append(data.draw(st.sampled_from(spec.dtypes).flatmap(spec.cases)))
    test = given(st.data())(body)
    test = settings(max_examples=n, derandomize=seed is None, database=None, deadline=None,
                    phases=(Phase.generate,), suppress_health_check=list(HealthCheck))(test)
    if seed is not None:
        test = seeded(seed)(test)
    with _no_module_constants():
        test()
    return out


@contextlib.contextmanager
def _no_module_constants():
    """Hypothesis mixes in literal constants it finds in every module imported so far, so the cases
    it draws would depend on what ran earlier in the process (a test file imported before this one
    changes them). The harness's fixed cases hold the special values; here the generator is kept
    to its own choices. (A private hook of the pinned hypothesis; without it, generation stays as
    hypothesis makes it.)"""
    from hypothesis.internal.conjecture import providers
    provider = getattr(providers, "HypothesisProvider", None)
    original = getattr(provider, "_maybe_draw_constant", None)
    if original is None:
        yield
        return
    provider._maybe_draw_constant = lambda self, choice_type, constraints, *, p=0.05: None
    try:
        yield
    finally:
        provider._maybe_draw_constant = original


def cases_for(spec: OpSpec, n: int, seed: int | None = None) -> list[Case]:
    """The fixed cases of every dtype, then about ``n * spec.draws`` drawn ones."""
    return fixed_cases(spec) + draw_cases(spec, max(2, round(n * spec.draws)), seed)


def main(argv: list[str] | None = None) -> int:
    """``python -m lumina.testing.torch_diff [--write-docs] [NAME ...]``: run the rows named (all
    by default) and print their distinct discrepancies; ``--write-docs`` refreshes
    docs/torch_parity.md instead."""
    import sys
    args = list(argv if argv is not None else sys.argv[1:])
    if "--write-docs" in args:
        write_docs()
        print(f"wrote the generated sections of {DOCS}")
        return 0
    total = known = stale = 0
    for name in args or sorted(OPS):
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


if __name__ == "__main__":
    raise SystemExit(main())
