"""Shape and layout rows: reshape and view, permute, transpose and ``.T``/``.t()``, expand and
broadcast_to, squeeze/unsqueeze, flatten, cat/stack, split/chunk, tile and repeat, clone and
contiguous."""
from __future__ import annotations

import math

from hypothesis import strategies as st

from ..cases import ALL, Arr, Case
from ..spec import OpSpec
from ..strategies import array, dim_of, rarely, shapes, tensor_only, wants_grad
from .common import methods
from .inplace import _masked_fill_cases


@st.composite
def _reshape_cases(draw, dtype, method=True):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
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
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
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
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    return Case((x, dim_of(draw, len(shape)), dim_of(draw, len(shape))), dtype=dtype)


@st.composite
def _squeeze_cases(draw, dtype):
    shape = tuple(draw(st.lists(st.sampled_from([1, 1, 2, 0]), max_size=4)))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
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
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    r = len(shape) + 1
    d = draw(st.integers(-r, r - 1)) if draw(st.integers(0, 7)) else r + draw(st.integers(0, 3))
    return Case((x, d), dtype=dtype)


@st.composite
def _flatten_cases(draw, dtype):
    shape = draw(shapes(0, 4))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    form = draw(st.integers(0, 2))
    if form == 0:
        return Case((x,), dtype=dtype)
    r = max(len(shape), 1)
    a, b = draw(st.integers(-r, r - 1)), draw(st.integers(-r, r - 1))
    return Case((x, a, b) if form == 1 else (x,), {} if form == 1 else {"start_dim": a}, dtype=dtype)


@st.composite
def _expand_cases(draw, dtype, method=True):
    shape = draw(shapes(0, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
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
        arrs.append(Arr(draw(array(dt, tuple(s))), wants_grad(dt, True)))
    if rarely(draw, 10):
        arrs.append(Arr(draw(array(dtype, tuple(shape) + (2,)))))   # a rank mismatch: torch raises
    return Case((arrs, d), dtype=dtype)


@st.composite
def _split_cases(draw, dtype):
    shape = draw(shapes(1, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
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
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    return Case((x, draw(st.integers(1, 5)), dim_of(draw, len(shape))), dtype=dtype)


@st.composite
def _tile_cases(draw, dtype, repeat=False):
    """``tile(x, dims)`` / ``x.repeat(*sizes)``: fewer counts than dims (repeat raises), more
    (leading dims), zeros; a negative count raises."""
    shape = draw(shapes(0, 3))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    reps = draw(st.lists(st.integers(0, 3), min_size=len(shape) if repeat and not rarely(draw, 8) else 0,
                         max_size=len(shape) + 2))
    if reps and rarely(draw, 10):
        reps[0] = -1
    if repeat:
        return Case((x, *reps), dtype=dtype)
    return Case((x, tuple(reps)), dtype=dtype)


@st.composite
def _narrow_cases(draw, dtype):
    shape = draw(shapes(min_rank=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    d = dim_of(draw, len(shape))
    size = shape[d] if isinstance(d, int) and -len(shape) <= d < len(shape) else 2
    start = draw(st.integers(-size - rarely(draw, 8), size + rarely(draw, 8)))
    length = draw(st.integers(-rarely(draw, 8), size + 1))
    return Case((x, d, start, length), dtype=dtype)


@st.composite
def _unbind_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    return Case((x, dim_of(draw, len(shape))), dtype=dtype)


@st.composite
def _movedim_cases(draw, dtype):
    shape = draw(shapes(min_rank=1))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    n = len(shape)
    k = draw(st.integers(1, n))
    src = draw(st.permutations(list(range(n))))[:k]
    dst = draw(st.permutations(list(range(-n, 0)) if draw(st.booleans()) else list(range(n))))[:k]
    if rarely(draw, 8):
        dst = dst[:-1] or [0, 0]            # lengths differ: torch raises
    if k == 1 and draw(st.booleans()):
        return Case((x, src[0], dst[0]), dtype=dtype)
    return Case((x, tuple(src), tuple(dst)), dtype=dtype)


@st.composite
def _roll_cases(draw, dtype):
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    shift = st.integers(-7, 7)
    if not shape or draw(st.booleans()):
        return Case((x, draw(shift)), dtype=dtype)
    k = draw(st.integers(1, len(shape)))
    dims = tuple(draw(st.integers(-len(shape), len(shape) - 1)) for _ in range(k))
    return Case((x, tuple(draw(shift) for _ in range(k)), dims if k > 1 or draw(st.booleans()) else dims[0]),
                dtype=dtype)


@st.composite
def _as_cases(draw, dtype, how):
    """``x.view_as(y)`` / ``reshape_as`` (a permuted shape) and ``expand_as`` (a broadcast one)."""
    shape = draw(shapes())
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    if how == "expand":
        target = tuple(d if d != 1 else draw(st.integers(1, 3)) for d in shape)
        target = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + target
    else:
        target = tuple(draw(st.permutations(list(shape)))) + (1,) * draw(st.integers(0, 1))
    if rarely(draw, 8):
        target = target + (2,)
    return Case((x, Arr(draw(array(dtype, target)))), dtype=dtype)


def specs() -> list[OpSpec]:
    """The shape and layout rows."""
    rows: list[OpSpec] = []
    rows += [OpSpec("Tensor.reshape", lambda L, x, *s: x.reshape(*s), _reshape_cases, dtypes=ALL, exact=True),
             OpSpec("Tensor.view", lambda L, x, *s: x.view(*s), _reshape_cases, dtypes=ALL, exact=True),
             OpSpec("lumina.reshape", lambda L, x, s: L.reshape(x, s), lambda d: _reshape_cases(d, method=False),
                    dtypes=ALL, exact=True),
             OpSpec("Tensor.permute", lambda L, x, *p: x.permute(*p), _permute_cases, dtypes=ALL, exact=True),
             OpSpec("lumina.permute", lambda L, x, p: L.permute(x, p), lambda d: _permute_cases(d, method=False),
                    dtypes=ALL, exact=True),
             OpSpec("Tensor.expand", lambda L, x, *s: x.expand(*s), _expand_cases, dtypes=ALL, exact=True),
             OpSpec("Tensor.broadcast_to", lambda L, x, s: x.broadcast_to(s), lambda d: _expand_cases(d, method=False),
                    dtypes=ALL, exact=True)]
    rows += methods("transpose", cases=_transpose_cases, dtypes=ALL, exact=True)
    rows += methods("squeeze", cases=_squeeze_cases, dtypes=ALL, exact=True, checks="a tuple of dims")
    rows += methods("unsqueeze", cases=_unsqueeze_cases, dtypes=ALL, exact=True)
    rows += methods("flatten", cases=_flatten_cases, dtypes=ALL, exact=True)
    rows += [OpSpec("Tensor.T", lambda L, x: x.T, tensor_only, dtypes=ALL, exact=True)]
    rows += [OpSpec("lumina.cat", lambda L, ts, d: L.cat(ts, d), _cat_cases, dtypes=ALL, exact=True),
             OpSpec("lumina.stack", lambda L, ts, d: L.stack(ts, d), lambda d: _cat_cases(d, stack=True), dtypes=ALL,
                    exact=True)]
    rows += methods("split", cases=_split_cases, dtypes=("float32", "int64"), exact=True)
    rows += methods("chunk", cases=_chunk_cases, dtypes=("float32", "int64"), exact=True)
    rows += methods("tile", cases=_tile_cases, dtypes=ALL, exact=True, checks="fewer or more counts than dims")
    rows += [OpSpec("Tensor.repeat", lambda L, x, *r: x.repeat(*r), lambda d: _tile_cases(d, repeat=True), dtypes=ALL,
                    exact=True, checks="fewer counts than dims raises")]
    rows += [OpSpec("Tensor.clone", lambda L, x: x.clone(), tensor_only, dtypes=ALL, exact=True),
             OpSpec("Tensor.contiguous", lambda L, x: x.transpose(0, -1).contiguous() if x.ndim else x.contiguous(),
                    tensor_only, dtypes=ALL, exact=True),
             OpSpec("Tensor.t", lambda L, x: x.t(), tensor_only, dtypes=("float32", "int64"), exact=True,
                    checks="0-, 1- and 2-d; more dims raise")]
    rows += [OpSpec("lumina.clone", lambda L, x: L.clone(x), tensor_only, dtypes=ALL, exact=True),
             OpSpec("lumina.detach", lambda L, x: L.detach(x), tensor_only, dtypes=ALL, exact=True, grad=False),
             OpSpec("lumina.masked_fill", lambda L, x, m, v: L.masked_fill(x, m, v),
                    lambda d: _masked_fill_cases(d, inplace=False), dtypes=("float32", "int64", "bool"), exact=True),
             OpSpec("lumina.t", lambda L, x: L.t(x), tensor_only, dtypes=("float32", "int64"), exact=True,
                    checks="0-, 1- and 2-d; more dims raise")]
    for how in ("view", "reshape", "expand"):
        rows += [OpSpec(f"Tensor.{how}_as", (lambda h: lambda L, x, y: getattr(x, f"{h}_as")(y))(how),
                        (lambda h: lambda d: _as_cases(d, h))(how), dtypes=ALL, exact=True,
                        checks="a shape that does not fit raises")]
    rows += methods("narrow", cases=_narrow_cases, dtypes=ALL, exact=True,
                    checks="negative start; start or length out of range raise")
    rows += methods("unbind", cases=_unbind_cases, dtypes=ALL, exact=True, checks="a 0-d tensor raises")
    rows += methods("movedim", cases=_movedim_cases, dtypes=ALL, exact=True,
                    checks="ints or tuples; negative dims; lengths that differ raise")
    rows += methods("roll", cases=_roll_cases, dtypes=ALL, exact=True,
                    checks="dims=None rolls the flattened tensor; several dims; shifts beyond the size")
    return rows
