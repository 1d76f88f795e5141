"""Indexing rows: ``x[key]`` (ints, slices, None, Ellipsis, integer and boolean index tensors),
gather, index_select, take_along_dim, flip; scatter, scatter_add and scatter_reduce; index_add /
index_copy / index_fill / index_put (and in place), take, masked_select, masked_scatter,
repeat_interleave, Tensor.where; and the bitwise ops and operators (``bitwise_specs``)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..cases import ALL, Arr, Case
from ..spec import OpSpec
from ..strategies import array, dim_of, rarely, shapes, wants_grad
from .common import methods


@st.composite
def getitem_cases(draw, dtype):
    """``x[key]``: per leading dim an int (sometimes out of range: torch raises), a slice (bounds
    past the ends, steps 1-3), None, Ellipsis (at most one), an integer or a boolean index tensor."""
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
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


@st.composite
def _gather_cases(draw, dtype, op="gather"):
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
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
def flip_cases(draw, dtype):
    """``flip(x, dims)``: distinct dims, sometimes one named twice or out of range (torch raises)."""
    shape = draw(shapes(0, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    r = max(len(shape), 1)
    dims = draw(st.permutations(range(-r, 0) if draw(st.booleans()) else range(r)))[:draw(st.integers(0, r))]
    if rarely(draw, 10):
        dims = list(dims) + [dims[0] if dims else r]
    return Case((x, tuple(dims)), dtype=dtype)


@st.composite
def scatter_cases(draw, dtype, reduce=False, value=False):
    """``scatter(x, dim, index, src)`` (a number for ``src`` with ``value``), or ``scatter_reduce``
    with a reduction and ``include_self`` (``reduce``). The index is no larger than ``x`` outside
    ``dim`` and than ``src`` anywhere; ``src`` is sometimes larger. A plain scatter draws distinct
    indices along ``dim`` (torch leaves duplicates undefined); an index out of range raises."""
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    d = dim_of(draw, len(shape))
    dd = d % len(shape) if -len(shape) <= d < len(shape) else 0
    n = shape[dd]
    ishape = tuple(draw(st.integers(0, n if not reduce else 3)) if a == dd else draw(st.integers(0, s))
                   for a, s in enumerate(shape))
    if reduce:
        idx = np.array(draw(st.lists(st.integers(0, n - 1), min_size=math.prod(ishape), max_size=math.prod(ishape))),
                       np.int64).reshape(ishape)
    else:   # along dim, a different position for each update
        lines = [np.array(draw(st.permutations(range(n))), np.int64)[:ishape[dd]]
                 for _ in range(math.prod(ishape) // max(ishape[dd], 1))]
        idx = np.moveaxis(np.array(lines, np.int64).reshape(
            ishape[:dd] + ishape[dd + 1:] + (ishape[dd],)), -1, dd) if lines else np.zeros(ishape, np.int64)
    if idx.size and rarely(draw, 12):
        idx.reshape(-1)[0] = n                          # out of range: torch raises
    if value:
        return Case((x, d, Arr(idx), draw(st.sampled_from([2, -1.5, 0, math.nan, True]))), dtype=dtype)
    sshape = tuple(i + draw(st.integers(0, 1)) for i in ishape)
    src = Arr(draw(array(dtype, sshape)), wants_grad(dtype, True))
    if not reduce:
        return Case((x, d, Arr(idx), src), dtype=dtype)
    kw = {"include_self": draw(st.booleans())} if draw(st.booleans()) else {}
    return Case((x, d, Arr(idx), src, draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"]))), kw,
                dtype=dtype)


def specs() -> list[OpSpec]:
    """The indexing rows."""
    rows: list[OpSpec] = []
    rows += [OpSpec("Tensor.__getitem__", lambda L, x, k: x[k], getitem_cases, dtypes=("float32", "int64", "bool"),
                    exact=True, checks="ints, slices (steps 1-3, out-of-range bounds), None, Ellipsis, integer and "
                                       "boolean index tensors; out-of-range ints raise")]
    rows += methods("gather", cases=_gather_cases, dtypes=("float32", "float64", "int64"), exact=True,
                    checks="an index out of range raises")
    rows += methods("index_select", cases=lambda d: _gather_cases(d, "index_select"),
                    dtypes=("float32", "int64"), exact=True)
    rows += methods("flip", cases=flip_cases, dtypes=ALL, exact=True, checks="a dim named twice raises")
    rows += methods("scatter", cases=lambda d: st.one_of(scatter_cases(d), scatter_cases(d, value=True)),
                    dtypes=("float32", "float64", "int64", "bool"), exact=True,
                    checks="a number as ``src``; ``src`` larger than the index; an index out of range raises")
    rows += methods("scatter_add", cases=lambda d: scatter_cases(d, reduce=True).map(
        lambda c: Case(c.args[:4], dtype=c.dtype)), dtypes=("float32", "float64", "int64"), accumulates=True,
        checks="repeated indices accumulate")
    rows += methods("scatter_reduce", cases=lambda d: scatter_cases(d, reduce=True),
                    dtypes=("float32", "float64", "int64"), accumulates=True,
                    checks="sum, prod, mean (integers: floor), amax, amin, with and without ``include_self``")
    rows += methods("take_along_dim", cases=lambda d: _gather_cases(d, "take_along_dim"),
                    dtypes=("float32", "int64"), exact=True)
    return rows + index_op_specs() + bitwise_specs()


# ---- index_add / index_copy / index_fill / index_put, take, masked_select / masked_scatter,
# ---- repeat_interleave, Tensor.where ------------------------------------------------------------------

def _in_place(name):
    """``y = x.clone()`` then ``y.<name>(*args)``; with ``leaf=True`` on ``x`` itself (torch raises
    when it requires grad). Returns ``(y, result, result is y)``."""
    def call(L, x, *a, leaf=False, **kw):
        y = x if leaf else x.clone()
        r = getattr(y, name)(*a, **kw)
        return y, r, r is y
    return call


@st.composite
def index_along_cases(draw, dtype, kind="add"):
    """``index_add`` / ``index_copy`` (``kind``: "add", "copy") ``(x, dim, index, source)`` or
    ``index_fill`` ("fill") ``(x, dim, index, value)``: a 1-D (sometimes 0-d) index, sometimes
    out of range, sometimes int32 (torch's ``index_copy`` / ``index_fill`` refuse it), a source
    of the wrong length or dtype now and then (torch raises)."""
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    d = dim_of(draw, len(shape))
    dd = d % len(shape) if -len(shape) <= d < len(shape) else 0
    n = shape[dd]
    lo = -n if kind == "fill" else 0
    k = draw(st.integers(0, 4))
    if kind == "copy":      # torch leaves a repeated index undefined: distinct ones
        vals = draw(st.permutations(range(n)))[:k]
    else:
        vals = draw(st.lists(st.integers(lo, n - 1), min_size=k, max_size=k))
    idx = np.array(vals, np.int64)
    if idx.size and rarely(draw, 10):
        idx[0] = n
    if idx.size == 1 and draw(st.booleans()):
        idx = idx.reshape(())
    if rarely(draw, 12):
        idx = idx.astype(np.int32)
    if kind == "fill":
        value = draw(st.sampled_from([2, -1.5, 0, math.nan, True]))
        return Case((x, d, Arr(idx), value), dtype=dtype)
    sshape = tuple(idx.size if a == dd else s for a, s in enumerate(shape))
    if rarely(draw, 12):
        sshape = tuple(s + 1 if a == dd else s for a, s in enumerate(sshape))
    sdt = dtype if not rarely(draw, 12) else ("float64" if dtype != "float64" else "float32")
    src = Arr(draw(array(sdt, sshape)), wants_grad(sdt, True))
    kw = {}
    if kind == "add" and draw(st.booleans()):
        kw["alpha"] = draw(st.sampled_from([2, -1])) if dtype != "bool" else True
    return Case((x, d, Arr(idx), src), kw, dtype=dtype)


@st.composite
def index_put_cases(draw, dtype):
    """``index_put(x, indices, values, accumulate)``: one or two index tensors (negative ones, one
    out of range now and then) over the leading dims, values broadcasting to the selection."""
    shape = draw(shapes(1, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    m = draw(st.integers(1, len(shape)))
    k = draw(st.integers(1, 3))
    accumulate = draw(st.booleans())
    indices = []
    for j in range(m):
        if accumulate:
            vals = draw(st.lists(st.integers(-shape[j], shape[j] - 1), min_size=k, max_size=k))
        else:   # the last write wins in lumina and torch's CPU kernel, but keep the positions distinct
            vals = [(i + j) % shape[j] for i in range(k)] if k <= shape[j] else list(range(shape[j]))
        indices.append(np.array(vals, np.int64))
    if not accumulate:
        k = min(len(i) for i in indices)
        indices = [i[:k] for i in indices]     # the first dim's entries are distinct: so are the positions
    if rarely(draw, 10):
        indices[0][0] = shape[0]
    vshape = (k,) + tuple(shape[m:]) if draw(st.booleans()) else ()
    values = Arr(draw(array(dtype, vshape)), wants_grad(dtype, True))
    return Case((x, tuple(Arr(i) for i in indices), values, accumulate), dtype=dtype)


@st.composite
def take_cases(draw, dtype):
    """``take(x, index)``: an index of any shape in ``[-numel, numel)``, out of range now and then."""
    x = Arr(draw(array(dtype, draw(shapes(0, 3, min_side=1)))), wants_grad(dtype, True))
    n = x.value.size
    ishape = draw(shapes(0, 2))
    idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=math.prod(ishape), max_size=math.prod(ishape))),
                   np.int64).reshape(ishape)
    if idx.size and rarely(draw, 10):
        idx.reshape(-1)[0] = n
    return Case((x, Arr(idx)), dtype=dtype)


@st.composite
def masked_cases(draw, dtype, scatter=False):
    """``masked_select(x, mask)`` / ``masked_scatter(x, mask, source)``: a bool mask broadcasting
    with ``x``; a source with enough elements (sometimes too few: torch raises) of ``x``'s dtype."""
    from ..strategies import broadcast_shapes as shape_pair
    sx, sm = draw(shape_pair(2))
    x = Arr(draw(array(dtype, sx)), wants_grad(dtype, True))
    mask = Arr(np.array(draw(st.lists(st.booleans(), min_size=math.prod(sm), max_size=math.prod(sm))),
                        bool).reshape(sm))
    if not scatter:
        return Case((x, mask), dtype=dtype)
    try:
        need = int(np.broadcast_to(mask.value, np.broadcast_shapes(sx, sm)).sum())
    except ValueError:
        need = 0
    extra = draw(st.integers(0, 2)) - (1 if rarely(draw, 10) else 0)
    src = Arr(draw(array(dtype, (max(need + extra, 0),))), wants_grad(dtype, True))
    return Case((x, mask, src), dtype=dtype)


@st.composite
def repeat_interleave_cases(draw, dtype):
    """``repeat_interleave(x, repeats, dim)``: an int or an int64 tensor of repeats (one entry, or
    one per slice), ``dim`` None now and then; a negative repeat or a wrong length rarely."""
    shape = draw(shapes(0, 3, min_side=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    dim = dim_of(draw, len(shape), allow_none=True) if shape else None
    n = math.prod(shape) if dim is None else shape[dim % len(shape)] if -len(shape) <= dim < len(shape) else 1
    form = draw(st.integers(0, 2))
    if form == 0:
        reps = draw(st.integers(-1 if rarely(draw, 10) else 0, 3))
    else:
        m = 1 if form == 1 else n + (1 if rarely(draw, 12) else 0)
        reps = Arr(np.array(draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)), np.int64))
        if rarely(draw, 12):
            reps.value[0] = -1
    return Case((x, reps, dim), dtype=dtype)


@st.composite
def tensor_where_cases(draw, dtype):
    """``x.where(condition, other)``: broadcasting shapes, ``other`` a tensor or a number."""
    from ..strategies import broadcast_shapes as shape_pair
    sx, sc, so = draw(shape_pair(3))
    x = Arr(draw(array(dtype, sx)), wants_grad(dtype, True))
    cond = Arr(np.array(draw(st.lists(st.booleans(), min_size=math.prod(sc), max_size=math.prod(sc))),
                        bool).reshape(sc))
    other = draw(st.sampled_from([2, -1.5, True])) if draw(st.booleans()) else \
        Arr(draw(array(dtype, so)), wants_grad(dtype, True))
    return Case((x, cond, other), dtype=dtype)


def _leaf_sometimes(cases):
    @st.composite
    def with_leaf(draw, dtype):
        c = draw(cases(dtype))
        return Case(c.args, {**c.kwargs, **({"leaf": True} if rarely(draw, 6) else {})}, dtype=c.dtype)
    return with_leaf


def index_op_specs() -> list[OpSpec]:
    """The rows of the index ops beyond gather / scatter."""
    dts = ("float32", "float64", "int64", "bool")
    rows: list[OpSpec] = []
    rows += methods("index_add", cases=index_along_cases, dtypes=dts, accumulates=True,
                    checks="alpha; a 0-d index; out-of-range, int32 and wrong-length indices, a source of "
                           "another dtype raise as torch")
    rows += methods("index_copy", cases=lambda d: index_along_cases(d, "copy"), dtypes=dts, exact=True,
                    checks="int32 indices and out-of-range ones raise as torch")
    rows += methods("index_fill", cases=lambda d: index_along_cases(d, "fill"), dtypes=dts, exact=True,
                    checks="negative indices count from the end; a number value cast as torch")
    rows += methods("index_put", cases=index_put_cases, dtypes=("float32", "int64", "bool"), accumulates=True,
                    checks="accumulate (repeated indices add up); several index tensors; values broadcast")
    rows += methods("take", cases=take_cases, dtypes=("float32", "int64", "bool"), exact=True,
                    checks="negative indices; an index out of range raises")
    rows += methods("masked_select", cases=masked_cases, dtypes=("float32", "int64", "bool"), exact=True,
                    checks="eager only (data-dependent size); the mask broadcasts")
    rows += methods("masked_scatter", cases=lambda d: masked_cases(d, scatter=True),
                    dtypes=("float32", "int64", "bool"), exact=True,
                    checks="the mask broadcasts; a source with too few elements raises")
    rows += methods("repeat_interleave", cases=repeat_interleave_cases, dtypes=("float32", "int64"), exact=True,
                    checks="int and tensor repeats, dim=None; negative repeats and a wrong length raise")
    rows += [OpSpec("Tensor.where", lambda L, x, c, o: x.where(c, o), tensor_where_cases,
                    dtypes=("float32", "int64"), exact=True, checks="other a number or a broadcast tensor")]
    for name, cases in (("index_add_", index_along_cases), ("index_copy_", lambda d: index_along_cases(d, "copy")),
                        ("index_fill_", lambda d: index_along_cases(d, "fill")), ("index_put_", index_put_cases),
                        ("masked_scatter_", lambda d: masked_cases(d, scatter=True))):
        rows += [OpSpec(f"Tensor.{name}", _in_place(name), _leaf_sometimes(cases),
                        dtypes=("float32", "int64"), exact=name != "index_add_", accumulates=name == "index_add_",
                        checks="returns self; refused on a leaf that requires grad")]
    return rows


# ---- bitwise ----------------------------------------------------------------------------------------

@st.composite
def bitwise_cases(draw, dtype, shift=False):
    """Two broadcasting operands (the second sometimes a number or of another integer dtype); for
    shifts, counts in [-2, 70] (outside ``[0, bits)`` too). float32 operands raise as torch."""
    from ..strategies import broadcast_shapes as shape_pair
    sa, sb = draw(shape_pair(2))
    lo, hi = (-2, 70) if shift else (None, None)
    a = Arr(draw(array(dtype, sa, None if dtype == "bool" else -300, None if dtype == "bool" else 300)))
    form = draw(st.integers(0, 4))
    if form == 0:
        return Case((a, draw(st.sampled_from([3, -1, 0, 65, True]))), dtype=dtype)
    odt = dtype if form > 1 else draw(st.sampled_from(["int32", "int64", "bool"]))
    if shift and odt != "bool":
        b = array(odt, sb, lo, hi)
    else:
        b = array(odt, sb, None if odt == "bool" else -300, None if odt == "bool" else 300)
    return Case((a, Arr(draw(b))), dtype=dtype)


@st.composite
def reflected_cases(draw, dtype, shift=False):
    """A tensor and a number for ``number <op> tensor`` (the reflected operators)."""
    a = Arr(draw(array(dtype, draw(shapes()), *((-2, 70) if shift else (None, None)))))
    return Case((a, draw(st.sampled_from([3, -1, 0, 65, True]))), dtype=dtype)


@st.composite
def bitwise_not_cases(draw, dtype):
    return Case((Arr(draw(array(dtype, draw(shapes())))),), dtype=dtype)


def bitwise_specs() -> list[OpSpec]:
    """The bitwise rows: functions, methods, in-place methods and the operators."""
    import operator
    dts = ("int64", "int32", "bool", "float32")
    rows: list[OpSpec] = []
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        rows += methods(name, cases=bitwise_cases, dtypes=dts, exact=True, checks="float operands raise")
    for name in ("bitwise_left_shift", "bitwise_right_shift"):
        rows += methods(name, cases=lambda d: bitwise_cases(d, shift=True), dtypes=dts, exact=True,
                        checks="counts outside [0, bits) (negative too): 0 or the sign fill; bool and float raise")
    rows += methods("bitwise_not", cases=bitwise_not_cases, dtypes=dts, exact=True)
    for name in ("bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_left_shift_", "bitwise_right_shift_"):
        shift = "shift" in name
        rows += [OpSpec(f"Tensor.{name}", _in_place(name), (lambda s: lambda d: bitwise_cases(d, shift=s))(shift),
                        dtypes=("int64", "int32", "bool"), exact=True,
                        checks="returns self; a result type that cannot be cast back raises")]
    rows += [OpSpec("Tensor.bitwise_not_", _in_place("bitwise_not_"), bitwise_not_cases,
                    dtypes=("int64", "bool"), exact=True)]
    binary = {"__xor__": operator.xor, "__lshift__": operator.lshift, "__rshift__": operator.rshift}
    for name, fn in binary.items():
        rows += [OpSpec(f"Tensor.{name}", (lambda f: lambda L, a, b: f(a, b))(fn),
                        (lambda s: lambda d: bitwise_cases(d, shift=s))("shift" in name), dtypes=dts, exact=True)]
    for name, fn in {"__rand__": operator.and_, "__ror__": operator.or_, "__rxor__": operator.xor,
                     "__rlshift__": operator.lshift, "__rrshift__": operator.rshift}.items():
        rows += [OpSpec(f"Tensor.{name}", (lambda f: lambda L, a, b: f(b, a))(fn),
                        (lambda s: lambda d: reflected_cases(d, shift=s))("shift" in name),
                        dtypes=("int64", "int32", "bool"), exact=True, checks="a number on the left")]
    for name, fn in {"__ixor__": operator.ixor, "__ilshift__": operator.ilshift,
                     "__irshift__": operator.irshift}.items():
        rows += [OpSpec(f"Tensor.{name}", (lambda f: lambda L, x, b: (lambda y: (y, f(y, b)))(x.clone()))(fn),
                        (lambda s: lambda d: bitwise_cases(d, shift=s))("shift" in name),
                        dtypes=("int64", "int32", "bool"), exact=True)]
    return rows
