"""Matrix products: ``@``, its reflected form and ``lumina.matmul``, over vectors, matrices and
broadcast batches; ``einsum``; the triangles ``triu`` / ``tril``; the ``lumina.linalg`` namespace
(``linalg_specs``) and torch's older ``det`` / ``inverse`` / ``slogdet`` / ``logdet``."""
from __future__ import annotations

from hypothesis import strategies as st

from ..cases import ALL, FLOATS, INTS, Arr, Case
from ..spec import OpSpec
from ..strategies import array, rarely, shapes, wants_grad
from .common import methods
from .linalg_namespace import linalg_specs

# Equations and the ranks of their operands ("..." stands for 0 to 2 dims).
_EQUATIONS = ("ij,jk->ik", "bij,bjk->bik", "ij,jk", "i,i", "i,i->", "i,j->ij", "ii->i", "ii", "iij->j", "ij->ji",
              "ijk->", "ij,ij->ij", "bn,anm,bm->ba", "...ij,...jk->...ik", "...i->...", "i...->...", "ab,ba",
              "Ab,bA->", "i j , j k -> i k")


@st.composite
def _matmul_cases(draw, dtype):
    g = wants_grad(dtype, True)
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
def _einsum_cases(draw, dtype):
    """``einsum(equation, *operands)`` over ``_EQUATIONS``, each label's size drawn (0 to 3) and
    sometimes 1 in one operand (it broadcasts); one draw in ten gives a label two sizes (torch
    raises)."""
    eq = draw(st.sampled_from(_EQUATIONS))
    lhs = eq.replace(" ", "").partition("->")[0]
    size = {c: draw(st.integers(0, 3)) for c in lhs if c.isalpha()}
    ell = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    g = wants_grad(dtype, True)
    ops = []
    for term in lhs.split(","):
        head, dots, tail = term.partition("...")
        shape = [size[c] if draw(st.integers(0, 5)) else 1 for c in head]
        shape += list(ell) if dots else []
        shape += [size[c] if draw(st.integers(0, 5)) else 1 for c in tail]
        ops.append(shape)
    if rarely(draw, 10) and ops[0]:
        ops[0][0] += 2
    for term, shape in zip(lhs.split(","), ops):   # a repeated label within one operand: one size
        for c in set(term):
            at = [i for i, t in enumerate(term.replace("...", "")) if t == c]
            if len(at) > 1 and "..." not in term:
                for i in at:
                    shape[i] = shape[at[0]]
    return Case((eq, *(Arr(draw(array(dtype, tuple(s))), g) for s in ops)), dtype=dtype)


@st.composite
def _triangle_cases(draw, dtype):
    """``triu(x, diagonal)``: 0- to 4-d (fewer than 2 dims raises), diagonals past either corner."""
    x = Arr(draw(array(dtype, draw(shapes(0, 4)))), wants_grad(dtype, True))
    if draw(st.booleans()):
        return Case((x,), dtype=dtype)
    return Case((x, draw(st.integers(-4, 4))), dtype=dtype)


@st.composite
def _product_cases(draw, dtype, op):
    """``mm`` / ``bmm`` / ``outer`` operands, and ``addmm`` / ``baddbmm`` with an ``input`` that
    broadcasts (``beta`` and ``alpha`` sometimes given, 0 among them); rarely a wrong rank, inner
    dim or dtype (torch raises)."""
    g = wants_grad(dtype, True)
    m, k, n, b = (draw(st.integers(0, 3)) for _ in range(4))
    batched = op in ("bmm", "baddbmm")
    if op == "outer":
        sa, sb = (m,), (n,)
    else:
        sa, sb = ((b,) if batched else ()) + (m, k), ((b,) if batched else ()) + (k, n)
    if rarely(draw, 10):
        sb = sb[:-1] if draw(st.booleans()) else sb[:-2] + (k + 1,) + sb[-1:] if len(sb) > 1 else (k, n)
    odt = dtype
    if rarely(draw, 12):
        odt = draw(st.sampled_from(FLOATS + INTS))
    args = [Arr(draw(array(dtype, sa)), g), Arr(draw(array(odt, sb)), wants_grad(odt, True))]
    kw = {}
    if op in ("addmm", "baddbmm"):
        out = ((b,) if batched else ()) + (m, n)
        si = out[draw(st.integers(0, len(out))):]
        si = tuple(1 if draw(st.booleans()) else d for d in si)
        args.insert(0, Arr(draw(array(dtype, si)), g))
        if draw(st.booleans()):
            kw["beta"] = draw(st.sampled_from([0, 1, 0.5, -2]))
        if draw(st.booleans()):
            kw["alpha"] = draw(st.sampled_from([1, 2, -0.5]))
        if dtype in INTS:
            kw = {k: int(v) for k, v in kw.items()}
    return Case(tuple(args), kw, dtype=dtype)


def specs() -> list[OpSpec]:
    """The matrix product rows."""
    rows: list[OpSpec] = []
    rows += [OpSpec("Tensor.__matmul__", lambda L, a, b: a @ b, _matmul_cases, dtypes=FLOATS + INTS + ("bool",),
                    accumulates=True),
             OpSpec("Tensor.__rmatmul__", lambda L, a, b: b.__rmatmul__(a), _matmul_cases, accumulates=True,
                    checks="``b.__rmatmul__(a)`` with ``a`` a tensor that requires grad: the gradient reaches ``a``"),
             OpSpec("lumina.matmul", lambda L, a, b: L.matmul(a, b), _matmul_cases, dtypes=FLOATS + INTS,
                    accumulates=True),
             OpSpec("lumina.einsum", lambda L, eq, *ops: L.einsum(eq, *ops), _einsum_cases, dtypes=FLOATS + INTS,
                    accumulates=True, checks="diagonals, '...', implicit outputs, size-1 broadcasting, spaces; a "
                                             "label of two sizes raises")]
    for name in ("triu", "tril"):
        rows += methods(name, cases=_triangle_cases, dtypes=ALL, exact=True, checks="fewer than 2 dims raises")
    for name in ("mm", "bmm", "outer", "addmm", "baddbmm"):
        rows += methods(name, cases=(lambda n: lambda d: _product_cases(d, n))(name), dtypes=FLOATS[:2] + INTS,
                        accumulates=True, ulps=8,
                        checks="ranks, inner dims and (but for outer) dtypes checked" +
                        ("; beta and alpha, beta=0 ignores input" if name.startswith(("add", "badd")) else ""))
    return rows + linalg_specs()
