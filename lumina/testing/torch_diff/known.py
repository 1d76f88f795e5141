"""``KNOWN_DIFFERENCES``: the reviewed differences from torch, each a predicate on a row's
discrepancies (the case, lumina's error, the differing elements) with its reason: gaps where
lumina raises a ``LuminaError`` and torch computes, and deliberate differences. ``triage`` splits a
row's discrepancies into failures and known differences, and names the entries that matched
nothing (stale: the gap was closed, remove the entry)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import ml_dtypes
import numpy as np

from ...errors import LuminaError, LuminaShapeError, LuminaTypeError

from .cases import Arr, Case, arrays_in
from .discrepancy import Discrepancy


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
    return arrays_in(Case((x,))) if x is not None else []


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


def _cumprod_divides(d: Discrepancy) -> bool:
    """Each differing gradient element lies in a scanned slice holding NaN or +-inf, a subnormal, or
    a magnitude within a factor 8 of the dtype's largest (where torch's division by the input, or
    its product with the cotangent, loses the value)."""
    c = d.case_obj
    x = _float_values(c.args[0])
    if x.ndim == 0:
        return False
    info = ml_dtypes.finfo(c.args[0].value.dtype)
    with np.errstate(all="ignore"):
        a = np.abs(x)
        odd = ~np.isfinite(x) | ((a > 0) & (a < float(info.tiny))) | (a > float(info.max) / 8)
    bad = np.broadcast_to(np.any(odd, axis=_arg(c, 1, "dim") % x.ndim, keepdims=True), x.shape)
    return d.mismatch.path == "grad[0]" and _each(d, lambda i, lv, tv: bool(bad[i]))


def _logsumexp_rounds_to_max(d: Discrepancy) -> bool:
    """Each differing gradient element is a maximum of its slice, and the slice's logsumexp rounds
    to that maximum in the input's dtype (the log of the sum is below half an ulp of the max)."""
    c = d.case_obj
    x = c.args[0].value
    v = x.astype(np.float64)
    dims = _reduce_dims(c)
    axes = tuple(k % v.ndim for k in dims) if v.ndim else None
    with np.errstate(all="ignore"):
        m = np.max(v, axis=axes, keepdims=True)
        r = m + np.log(np.sum(np.exp(v - m), axis=axes, keepdims=True))
        lost = np.broadcast_to((r.astype(x.dtype).astype(np.float64) == m) & np.isfinite(m), v.shape)
    at_max = v == np.broadcast_to(m, v.shape)
    return d.mismatch.path == "grad[0]" and _each(d, lambda i, lv, tv: bool(lost[i] and at_max[i]))


def _scatter_reduce_divides(d: Discrepancy) -> bool:
    """amax / amin / prod with NaN, +-inf, a subnormal or a magnitude within a factor 8 of the
    largest in the input or the source; each differing gradient element: torch's NaN or +-inf,
    lumina's finite."""
    c = d.case_obj
    if _arg(c, 4, "reduce") not in ("amax", "amin", "prod") or len(c.args) < 4:
        return False
    info = ml_dtypes.finfo(c.args[0].value.dtype)
    with np.errstate(all="ignore"):
        odd = any((~np.isfinite(v) | ((np.abs(v) > 0) & (np.abs(v) < float(info.tiny)))
                   | (np.abs(v) > float(info.max) / 8)).any() for v in map(_float_values, (c.args[0], c.args[3])))
    return odd and str(d.mismatch.path).startswith("grad") and _each(
        d, lambda i, lv, tv: not math.isfinite(tv) and math.isfinite(lv))


def _scatter_extreme_excluded_self(d: Discrepancy) -> bool:
    """amax / amin with include_self=False where an element of the input equals the result at a
    position some index writes; each differing gradient element: torch's is a fraction of
    lumina's (torch shares the cotangent with the excluded input element)."""
    c = d.case_obj
    if _arg(c, 4, "reduce") not in ("amax", "amin") or c.kwargs.get("include_self", True):
        return False
    x, dim, idx, src = (a.value if isinstance(a, Arr) else a for a in c.args[:4])
    d_ = dim % x.ndim
    best = {}
    for pos in np.ndindex(idx.shape):
        target = pos[:d_] + (int(idx[pos]),) + pos[d_ + 1:]
        v = float(src[pos])
        best[target] = v if target not in best else (max if _arg(c, 4, "reduce") == "amax" else min)(best[target], v)
    tied = any(float(x[t]) == v for t, v in best.items())
    return tied and str(d.mismatch.path).startswith("grad") and _each(
        d, lambda i, lv, tv: tv == 0.0 or (lv != 0.0 and 0.0 < tv / lv < 1.0))


def _einsum_int32(d: Discrepancy) -> bool:
    """int32 operands; a dtype of int32 against torch's int64, each differing value equal to
    torch's modulo 2^32, or torch raising for its own mix of int32 and int64."""
    c = d.case_obj
    if not all(isinstance(a, Arr) and a.value.dtype == np.int32 for a in c.args[1:]):
        return False
    if d.kind == "dtype":
        return True
    if d.kind == "returns":
        return "expected scalar type Int but found Long" in d.detail
    return _each(d, lambda i, lv, tv: (int(lv) - int(tv)) % 2 ** 32 == 0)


def _float64_nan_input_gradient(d: Discrepancy) -> bool:
    """float64; each differing gradient element: torch's NaN, lumina's finite, at a NaN input."""
    x = d.case_obj.args[0]
    return x.value.dtype == np.float64 and d.mismatch.path == "grad[0]" and _each(
        d, lambda i, lv, tv: math.isnan(tv) and math.isfinite(lv) and math.isnan(_input_at(x, i)))


def _float32_sixth(d: Discrepancy) -> bool:
    """float64; each differing gradient element within 1e-7 (relative) of torch's."""
    return d.case_obj.args[0].value.dtype == np.float64 and d.mismatch.path == "grad[0]" and _each(
        d, lambda i, lv, tv: abs(lv - tv) <= 1e-7 * abs(tv))


def _cotangent_times_huge_x(d: Discrepancy) -> bool:
    """Each differing gradient element: lumina's NaN, torch's finite, at a finite input within a
    factor 64 of the dtype's largest."""
    x = d.case_obj.args[0]
    big = float(ml_dtypes.finfo(x.value.dtype).max) / 64
    return _each(d, lambda i, lv, tv: math.isnan(lv) and math.isfinite(tv) and math.isfinite(_input_at(x, i))
                 and abs(_input_at(x, i)) > big)


def _unshuffle_empty(d: Discrepancy) -> bool:
    """An empty input: torch returns a copy of the input's shape."""
    return d.case_obj.args[0].value.size == 0


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
                    "the mean overflows to inf: a documented limit of lumina.tensor.reductions.scaled_moments, which "
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
    KnownDifference(("Tensor.cumprod", "lumina.cumprod"), ("grad nan", "grad inf", "grad value"),
                    "gradient of a scanned slice that holds NaN, +-inf, a subnormal or a value near the dtype's "
                    "largest",
                    "lumina differentiates the scan's multiplies, so each input's gradient is a sum of products of "
                    "the other factors; torch's cumprod backward divides the reversed cumsum of (cotangent * "
                    "output) by the input: NaN past an inf or NaN, inf where that product overflows, digits lost "
                    "to a subnormal divisor", _cumprod_divides),
    KnownDifference(("Tensor.logsumexp", "lumina.logsumexp"), ("grad value",),
                    "gradient at the maxima of a slice whose logsumexp rounds to its maximum (|max| near the "
                    "dtype's largest value)",
                    "lumina's gradient is the softmax of the slice (each of two equal maxima gets half); torch's "
                    "is exp(x - logsumexp), computed from the rounded result, so each maximum gets the whole "
                    "cotangent", _logsumexp_rounds_to_max),
    KnownDifference(("Tensor.scatter_reduce", "lumina.scatter_reduce", "Tensor.scatter_reduce_"),
                    ("grad nan", "grad inf"),
                    "reduce='amax', 'amin' or 'prod' with NaN, +-inf, subnormals or values near the dtype's "
                    "largest in the input or the source: the gradient",
                    "lumina differentiates the decomposition (an element no index writes passes its cotangent "
                    "through; amax/amin share it among the NaNs; prod multiplies the other factors); torch's "
                    "backward compares with the result and multiplies by result / input, which is NaN or "
                    "overflows there", _scatter_reduce_divides, always=False),
    KnownDifference(("Tensor.scatter_reduce", "lumina.scatter_reduce", "Tensor.scatter_reduce_"), ("grad value",),
                    "reduce='amax' or 'amin' with include_self=False, an input element equal to the result at a "
                    "position an index writes: the gradient",
                    "the input element takes no part in the result, so lumina gives the written source elements "
                    "the whole cotangent; torch's backward counts the equal input element among the ties and "
                    "gives it none, so a share of the cotangent is lost",
                    _scatter_extreme_excluded_self, always=False),
    KnownDifference(("lumina.einsum",), ("dtype", "value", "returns"),
                    "int32 operands where a label of size 1 in later operands is summed out",
                    "torch's einsum sums such a label out of the operand before the product (its sum promotes "
                    "int32 to int64, so the rest is int64 and does not wrap; with three operands it may then "
                    "raise 'expected scalar type Int but found Long'); lumina sums it in the product, in int32",
                    _einsum_int32, always=False),
    KnownDifference(("F.elu", "F.selu", "F.celu", "F.hardswish"), ("grad nan",), "float64 gradient at a NaN input",
                    "a NaN fails every comparison, so it takes the identity branch, whose derivative is 1: lumina "
                    "passes the cotangent in every dtype, as torch's float32 and 16-bit kernels do; torch's float64 "
                    "kernels give NaN", _float64_nan_input_gradient),
    KnownDifference(("F.hardsigmoid",), ("grad value",), "float64 gradients inside (-3, 3), within 1e-7 relative",
                    "torch's backward multiplies by 1/6 rounded to float32 in every dtype; lumina's float64 "
                    "gradient uses float64's 1/6", _float32_sixth),
    KnownDifference(("F.silu", "F.mish"), ("grad nan",), "gradient at finite x near the dtype's largest magnitude "
                    "(-3.4e38 in float32), where the cotangent times x overflows",
                    "lumina differentiates x * sigmoid(x) (x * tanh(softplus(x))) by the product rule: the "
                    "cotangent times x is +-inf and the other factor's slope is 0, inf * 0 = NaN; torch's "
                    "closed-form slope multiplies in another order and stays finite (0, or the cotangent)",
                    _cotangent_times_huge_x),
    KnownDifference(("F.pixel_unshuffle",), ("shape",), "empty inputs",
                    "torch 2.13 returns a copy of an empty input unchanged ([0, 1, 3, 3] for r = 3); lumina "
                    "rearranges its shape as any other ([0, 9, 1, 1]), as torch's pixel_shuffle does",
                    _unshuffle_empty, always=False),
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
