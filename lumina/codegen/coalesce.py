"""Loop coalescing: adjacent loops that walk memory as one loop become one loop.

Two adjacent loops ``a`` (outer, extent ``Ea``) and ``b`` (inner, extent ``Eb``) of a kernel merge
into one loop ``m`` over ``Ea * Eb`` when every index reads them only as ``Eb * s * a + s * b``
(the stride of ``a`` is ``Eb`` times the stride of ``b``, possibly 0 for both): then the index is
``s * m``. This is the dimension collapsing of Halide's ``fuse`` and of NumPy's iterator: a
``[32, 32, 8, 8]`` reduction over the last two axes becomes a ``[32, 32, 64]`` one, whose inner loop
is long enough to vectorise. The output store is row-major over the domain, so merging adjacent
domain loops keeps it; adjacent reduce loops keep their accumulation order.

A loop variable used anywhere but an index's affine terms (a pad's bounds check, an iota's cast)
keeps its loop. ``coalesce_rows`` does the same for a ``RowKernel``: domain loops merge when every
stage's value and store index allow it, and each stage's own loops when its value and index do.
"""
from __future__ import annotations

from dataclasses import fields, replace

from . import expr as E


def coalesce(domain: tuple[E.Var, ...], rvars: tuple[E.Var, ...], value: E.Expr):
    """``(domain, rvars, value)`` with mergeable adjacent loops merged, inner pairs first."""
    domain, rvars = list(domain), list(rvars)
    for loops in (domain, rvars):
        i = len(loops) - 2
        while i >= 0:
            a, b = loops[i], loops[i + 1]
            if _mergeable(value, a, b, {}):
                m = E.Var(a.name, a.extent * b.extent)
                value = _merge(value, a, b, m, {})
                loops[i:i + 2] = [m]
            i -= 1
    return tuple(domain), tuple(rvars), value


def _rebuild(e: E.Expr, child_fn) -> E.Expr:
    """``e`` with every expression field replaced by ``child_fn(field name, child)``."""
    changes = {f.name: child_fn(f.name, getattr(e, f.name)) for f in fields(e)
               if f.compare and isinstance(getattr(e, f.name), _EXPR_TYPES)}
    return type(e)(**{f.name: changes.get(f.name, getattr(e, f.name)) for f in fields(e) if f.init})


_EXPR_TYPES = (E.Var, E.Const, E.Load, E.Un, E.Bin, E.Select, E.Cast, E.Rand, E.Acc, E.Check)


def _index_field(e) -> str | None:
    return "index" if isinstance(e, (E.Load, E.Rand)) else None


def _uses(e: E.Expr, vs: tuple[E.Var, ...]) -> bool:
    stack = [e]
    while stack:
        e = stack.pop()
        if isinstance(e, E.Var) and e in vs:
            return True
        stack.extend(E.children(e))
    return False


def _mergeable(e: E.Expr, a: E.Var, b: E.Var, seen: dict) -> bool:
    if e in seen:
        return seen[e]
    if isinstance(e, E.Var):
        ok = e != a and e != b
    elif _index_field(e):
        terms, _ = E.affine_terms(e.index)
        ok = terms.get(a, 0) == b.extent * terms.get(b, 0) and not any(
            _uses(atom, (a, b)) for atom in terms if not isinstance(atom, E.Var))
        ok = ok and all(_mergeable(c, a, b, seen) for c in E.children(e) if c is not e.index)
    else:
        ok = all(_mergeable(c, a, b, seen) for c in E.children(e))
    seen[e] = ok
    return ok


def _merge(e: E.Expr, a: E.Var, b: E.Var, m: E.Var, memo: dict) -> E.Expr:
    out = memo.get(e)
    if out is None:
        out = e if isinstance(e, (E.Var, E.Const)) else _rebuild(
            e, lambda f, child: _merged_index(child, a, b, m) if f == _index_field(e) else _merge(child, a, b, m, memo))
        memo[e] = out
    return out


def _merged_index(index: E.Expr, a: E.Var, b: E.Var, m: E.Var) -> E.Expr:
    terms, k = E.affine_terms(index)
    pairs = [(v, atom) for atom, v in terms.items() if atom != a and atom != b]
    return E.affine_sum(pairs + [(terms.get(b, 0), m)], k)


def coalesce_rows(domain: tuple[E.Var, ...], stages: tuple):
    """``(domain, stages)`` of a ``RowKernel`` with mergeable adjacent loops merged (see the module
    docstring); a store index is checked and rewritten as a load's index is."""
    def exprs(st):   # the value, and the store index wrapped as an index so it is checked as one
        return [st.value] + ([E.Load(-1, st.index, E.I64)] if st.index is not None else [])

    def rebuilt(st, a, b, m, vars):
        memo: dict = {}
        value = _merge(st.value, a, b, m, memo)
        index = _merged_index(st.index, a, b, m) if st.index is not None else None
        return replace(st, vars=vars, value=value, index=index)

    domain, stages = list(domain), list(stages)
    i = len(domain) - 2
    while i >= 0:
        a, b = domain[i], domain[i + 1]
        if all(_mergeable(e, a, b, {}) for st in stages for e in exprs(st)):
            m = E.Var(a.name, a.extent * b.extent)
            stages = [rebuilt(st, a, b, m, st.vars) for st in stages]
            domain[i:i + 2] = [m]
        i -= 1
    for s, st in enumerate(stages):
        loops = list(st.vars)
        i = len(loops) - 2
        while i >= 0:
            a, b = loops[i], loops[i + 1]
            if all(_mergeable(e, a, b, {}) for e in exprs(st)):
                m = E.Var(a.name, a.extent * b.extent)
                loops[i:i + 2] = [m]
                st = rebuilt(st, a, b, m, tuple(loops))
            i -= 1
        stages[s] = st
    return tuple(domain), tuple(stages)


def substitute(e: E.Expr, mapping: dict) -> E.Expr:
    """``e`` with every ``Var`` in ``mapping`` replaced by its image (a ``Var`` or any expression)."""
    memo: dict = {}

    def go(x):
        out = memo.get(x)
        if out is None:
            if isinstance(x, E.Var):
                out = mapping.get(x, x)
            elif isinstance(x, (E.Const, E.Acc)):
                out = x
            else:
                out = _rebuild(x, lambda _f, child: go(child))
            memo[x] = out
        return out
    return go(e)
