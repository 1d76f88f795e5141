"""In-place pairs: which input buffer of a kernel description an output may overwrite.

The memory planner (``schedule.memory.plan``) places such a pair as one buffer when the input dies
in that kernel. Whether a kernel qualifies depends on how its loops read and write, so the analysis
reads the lowered description: ``reads``/``writes`` are the slots of the description's input and
output buffers (as in ``codegen.program.Program.kernels``).
"""
from __future__ import annotations

from . import expr as E
from .kernel import LoopKernel, RowKernel


def loads_by_buffer(value) -> dict[int, list]:
    """``{buffer position: [index expressions it is loaded at]}`` over expression ``value``."""
    loads: dict[int, list] = {}
    for load in E.loads(value):
        loads.setdefault(load.buf, []).append(load.index)
    return loads


def row_inplace_pairs(desc: RowKernel, reads: tuple[int, ...], writes: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(input slot, output slot)`` pairs where the output may take the input's memory: the
    output is stored by an elementwise stage S at its position, every stage up to S loads the input
    only at its own position in the same row (the same affine index as S's store, over its own
    loops of the same extents), and no later stage loads it. A row's input elements are then all
    read before S overwrites them, and each thread's rows are its own."""
    n_in = desc.n_inputs
    if len(reads) != n_in:
        return []
    loads = [loads_by_buffer(st.value) for st in desc.stages]
    pairs = []
    for s, st in enumerate(desc.stages):
        if st.reduce_op is not None or st.out is None or not st.vars:
            continue
        out = desc.buffers[st.out]
        store = E.affine_terms(st.index)
        for p in range(n_in):
            buf = desc.buffers[p]
            if buf.numel != out.numel or buf.dtype.itemsize != out.dtype.itemsize or p not in loads[s]:
                continue
            ok = not any(p in loads[t] for t in range(s + 1, len(desc.stages)))
            for t in range(s + 1):
                if not ok or p not in loads[t]:
                    continue
                other = desc.stages[t]
                if [v.extent for v in other.vars] != [v.extent for v in st.vars]:
                    ok = False
                    break
                rename = dict(zip(other.vars, st.vars))
                for index in loads[t][p]:
                    terms, const = E.affine_terms(index)
                    ok = ok and ({rename.get(a, a): c for a, c in terms.items()}, const) == store
            if ok and reads[p] not in writes:
                pairs.append((reads[p], writes[st.out - n_in]))
    return pairs


def same_index_inputs(desc, reads: tuple[int, ...], writes: tuple[int, ...]) -> list[int]:
    """The input slots that elementwise kernel ``desc`` reads only at the element it writes (same
    element size and count as the output, every load at the store's row-major index): their
    memory can take the output in place, each thread's chunk reading what it alone overwrites."""
    if not isinstance(desc, LoopKernel) or desc.reduce_vars or len(reads) != len(desc.buffers) - 1:
        return []
    out = desc.out
    store = ({}, 0)
    stride = 1
    for v in reversed(desc.domain):
        store[0][v] = stride
        stride *= v.extent
    loads = loads_by_buffer(desc.value)
    ok: dict[int, bool] = {}
    for p, slot in enumerate(reads):
        buf = desc.buffers[p]
        fits = (buf.numel == out.numel and buf.dtype.itemsize == out.dtype.itemsize and
                all(E.affine_terms(index) == store for index in loads.get(p, [])))
        ok[slot] = ok.get(slot, True) and fits
    return [slot for slot, fits in ok.items() if fits and slot != writes[0]]
