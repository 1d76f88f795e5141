"""Kernel descriptions with symbolic sizes (``ir.symbolic``) at given sizes.

A program traced with a symbolic dim is lowered once: its loop and row kernels keep ``Sym`` loop
extents, which the renderer reads from the sizes the kernel is called with, and its GEMMs keep
``Sym`` rows, columns, depths and strides. A backend that needs a number (a GEMM's launch
arguments, a thread split, the memory plan, an epilogue it renders per size) takes the description
``at`` the call's sizes: every ``Sym`` evaluated, every loop variable re-made with its extent.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from ..ir.symbolic import Sym, evaluate
from . import expr as E
from .kernel import DotKernel, Epilogue, LoopKernel, Operand, RowKernel, Stage


def program_symbols(shapes) -> tuple[str, ...]:
    """The symbols in ``shapes`` (an iterable of shapes), sorted: the order of a kernel's sizes."""
    found: set[str] = set()
    for shape in shapes:
        for d in shape:
            if isinstance(d, Sym):
                found |= d.symbols
    return tuple(sorted(found))


def _at(e, mapping: dict, values: Mapping[str, int]):
    """Expression ``e`` with the variables in ``mapping`` replaced and every ``Size`` evaluated."""
    memo: dict = {}

    def go(x):
        out = memo.get(x)
        if out is None:
            if isinstance(x, E.Size):
                out = E.iconst(x.value.evaluate(values))
            elif isinstance(x, E.Var):
                out = mapping.get(x, x)
            elif not E.children(x):
                out = x
            else:
                out = E.with_children(x, [go(c) for c in E.children(x)])
            memo[x] = out
        return out
    return go(e) if e is not None else None


def _vars(vs, values, mapping: dict) -> tuple:
    out = []
    for v in vs:
        if isinstance(v.extent, Sym):
            mapping[v] = E.Var(v.name, v.extent.evaluate(values), v.dtype)
        out.append(mapping.get(v, v))
    return tuple(out)


def _buffers(buffers, values) -> tuple:
    return tuple(replace(b, numel=evaluate(b.numel, values)) for b in buffers)


def _rows_at(k: RowKernel, values: Mapping[str, int]) -> RowKernel:
    mapping: dict = {}
    domain = _vars(k.domain, values, mapping)
    stages = []
    for st in k.stages:
        svars = _vars(st.vars, values, mapping)
        stages.append(Stage(svars, st.reduce_op, _at(st.value, mapping, values), st.out,
                            _at(st.index, mapping, values)))
    return replace(k, buffers=_buffers(k.buffers, values), domain=domain, stages=tuple(stages))


def dot_at(d: DotKernel, values: Mapping[str, int]) -> DotKernel:
    """GEMM ``d`` with every size evaluated at ``values`` ({symbol: size})."""
    ev = lambda x: evaluate(x, values)   # noqa: E731
    operand = lambda o: Operand(o.buf, ev(o.offset), tuple(map(ev, o.strides)))   # noqa: E731
    epilogue = d.epilogue
    if epilogue is not None:
        mapping: dict = {}
        vars_ = _vars(epilogue.vars, values, mapping)
        epilogue = Epilogue(vars_, _at(epilogue.value, mapping, values), epilogue.buffers,
                            _at(epilogue.index, mapping, values))
    return replace(d, buffers=_buffers(d.buffers, values), batch=ev(d.batch), m=ev(d.m), n=ev(d.n), k=ev(d.k), a=operand(d.a), b=operand(d.b),
                   c_strides=tuple(map(ev, d.c_strides)) if d.c_strides is not None else None,
                   epilogue=epilogue, rows=_rows_at(d.rows, values) if d.rows is not None else None)


def kernel_at(k, values: Mapping[str, int]):
    """Loop, row or dot kernel ``k`` at sizes ``values``."""
    if isinstance(k, DotKernel):
        return dot_at(k, values)
    if isinstance(k, RowKernel):
        return _rows_at(k, values)
    assert isinstance(k, LoopKernel)
    mapping: dict = {}
    domain = _vars(k.domain, values, mapping)
    rvars = _vars(k.reduce_vars, values, mapping)
    return replace(k, buffers=_buffers(k.buffers, values), domain=domain, reduce_vars=rvars,
                   value=_at(k.value, mapping, values))
