"""GEMM epilogues: a ``dot`` fused into the one elementwise kernel that reads it.

A ``dot`` whose result is read by exactly one elementwise kernel, only at its own output position
(through elementwise ops and reshapes: ``relu(x @ w + b)``, a per-channel scale and shift, a
residual add of a same-shape buffer, GELU), fuses into that kernel: the kernel keeps its root and
gains ``Kernel.dot``, the GEMM, whose C tile the epilogue rewrites in place after the final K block
(``backends.cpu.llvm_gemm``); the dot result gets no buffer of its own. Reshapes and permutes
between the dot and the elementwise ops (a convolution's ``[O, N*Ho*Wo] -> [N, O, Ho, Wo]``, an NHWC
transpose) are accepted when they re-index the dot's result bijectively and the root's row-major
position of ``C[b, m, n]`` is ``b*sb + m*sm + n*sn``: the GEMM then stores C straight into the root's
buffer through those strides (``Kernel.c_strides``) and the epilogue rewrites it there; any other
re-indexing is refused with its reason, as is a dot with an empty result.

What a GEMM can take comes from the ``Target``: the dtypes whose GEMMs take epilogues
(``target.epilogue_dtypes``) and how many buffers an epilogue may read besides the dot result
(``target.max_epilogue_inputs``: the CPU epilogue function's pointer arguments).

When the value at the end of a dot's single-reader index-preserving chain has several readers (the
pre-activation of a training step, read by the activation and by its backward), that value is
materialised as the epilogue's root instead of being recomputed in each reader
(``epilogue_results``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..ir.symbolic import is_symbolic
from ..ir.graph import Graph, Value
from ..ir.ops import Op
from .groups import (Cause, Kernel, KernelKind, Materialized, Refusal, RefusalKind, Refused, checks_status,
                     index_preserving, readers_of, takes_epilogue)


@dataclass(frozen=True)
class EpilogueFusion:
    """What ``fuse_epilogues`` made: the ``kernels`` (each fused dot gone, its reader now its
    ``dot+epilogue`` kernel), the ids of the dot results ``fused`` into an epilogue (they lose their
    buffers), and the candidates ``refused``."""
    kernels: tuple[Kernel, ...]
    fused: frozenset[int]
    refused: tuple[Refusal, ...]


def epilogue_results(graph: Graph, mat: dict[int, Materialized], kernels) -> dict[int, Materialized]:
    """For each dot read by several kernels, the end of its single-reader, index-preserving chain
    when that value has several readers: materialised, it is computed once as the dot's epilogue
    instead of in every reader. Returns the new entries for ``mat`` (id(value) -> why), empty when
    there are none."""
    users = graph.users()
    reading = {key: len(ks) for key, ks in readers_of(kernels).items()}
    marks: dict[int, Materialized] = {}
    for n in graph.nodes:
        m = mat.get(id(n.out))
        if n.op is not Op.DOT or m is None or m.cause is not Cause.DOT or reading.get(id(n.out), 0) < 2:
            continue
        end, computes = n.out, False
        while True:
            readers = list({id(u): u for u in users[end]}.values())
            if len(readers) != 1 or not index_preserving(readers[0]) or readers[0].out.dtype != n.out.dtype \
                    or (id(end) in mat or id(end) in marks) and end is not n.out:
                break
            end = readers[0].out
            computes = computes or end.op is not Op.RESHAPE
        # a chain of reshapes only would add a pass over C and save nothing
        if computes and id(end) not in mat and id(end) not in marks and len(users[end]) > 1:
            marks[id(end)] = Materialized.because(Cause.EPILOGUE_RESULT,
                                                  f"dot epilogue result ({len(users[end])} readers)")
    return marks


def fuse_epilogues(kernels, mat: dict[int, Materialized], target) -> EpilogueFusion:
    """Merge each dot kernel into its one elementwise reader as that kernel's GEMM (see the module
    docstring); ``target`` is read for ``epilogue_dtypes`` and ``max_epilogue_inputs``."""
    readers = readers_of(kernels)
    now: dict[int, Kernel] = {}   # id(kernel) -> the kernel it has become (its epilogue fused)
    fused: set[int] = set()
    refused: list[Refusal] = []
    for d in kernels:
        if d.root.op is not Op.DOT or not readers.get(id(d.root)):
            continue
        dot = d.root
        into = [now.get(id(k), k) for k in readers[id(dot)]]
        try:
            c_strides, rebatch, rebatch_rows = _epilogue_layout(dot, into, mat, target)
        except Refused as why:
            refused.append(Refusal(dot, into[0].root if len(into) == 1 else None, why.reason,
                                   why.kind or RefusalKind.EPILOGUE))
            continue
        k = into[0]
        inputs = {id(v): v for v in d.inputs}
        inputs.update((id(v), v) for v in k.inputs if v is not dot)
        now[id(readers[id(dot)][0])] = replace(k, nodes=(dot.node,) + k.nodes, inputs=tuple(inputs.values()),
                                               reason=f"{k.reason}; epilogue of the dot", dot=dot.node,
                                               c_strides=c_strides, rebatch=rebatch, rebatch_rows=rebatch_rows)
        fused.add(id(d))
    result = tuple(now.get(id(k), k) for k in kernels if id(k) not in fused)
    return EpilogueFusion(result, frozenset(id(d.root) for d in kernels if id(d) in fused), tuple(refused))


def _epilogue_layout(dot: Value, readers: list[Kernel], mat: dict[int, Materialized],
                     target) -> tuple[tuple[int, int, int] | None, int, bool]:
    """``(c_strides, rebatch, rebatch_rows)`` of ``dot`` as the GEMM of its one reader's epilogue
    (see ``Kernel``; ``(None, 1, False)``: C row-major). Raises Refused saying why it cannot be."""
    m = mat[id(dot)]
    if m.cause is not Cause.DOT:
        raise Refused(f"the dot result is materialised: {m.reason}")
    if not takes_epilogue(dot, target):
        raise Refused(f"{dot.dtype.name} GEMMs take no epilogue")
    if dot.type.numel == 0:
        raise Refused(f"the dot's result {dot.type} is empty: there is no C to run an epilogue over")
    if len(readers) != 1:
        raise Refused(f"read by {len(readers)} kernels", RefusalKind.EPILOGUE_READERS)
    k = readers[0]
    if k.kind is not KernelKind.ELEMENTWISE:
        raise Refused(f"the reader is a {k.kind} kernel")
    if k.root.dtype != dot.dtype or k.root.type.numel != dot.type.numel:
        raise Refused(f"the epilogue's result {k.root.type} does not fit the dot's buffer {dot.type}")
    reaches = {id(dot)}
    for node in k.nodes:   # topological: every node on a path from the dot to the root
        if any(id(u) in reaches for u in node.inputs):
            if node.op is not Op.PERMUTE and not index_preserving(node):
                raise Refused(f"{node.op.value} between the dot and the kernel's root changes the index")
            reaches.add(id(node.out))
    extra = len([v for v in k.inputs if v is not dot]) + checks_status(k.nodes)
    if extra > target.max_epilogue_inputs:
        raise Refused(f"the epilogue reads {extra} buffers (MAX_EPILOGUE_INPUTS {target.max_epilogue_inputs})")
    if any(n.op is Op.PERMUTE for n in k.nodes):
        return _permuted_c_strides(dot, k)
    return None, 1, False


def _permuted_c_strides(dot: Value, k: Kernel) -> tuple[tuple[int, int, int], int, bool]:
    """``(strides, rebatch, rebatch_rows)``: the strides (elements) at which ``C[b, m, n]`` sits in
    the row-major buffer of ``k.root`` when every path from ``dot`` to the root is a chain of
    reshapes, permutes and index-preserving ops that re-indexes the dot's result bijectively. When
    no fixed strides fit but a batch-1 dot's columns split into R equal runs that do (a channels-first
    convolution over N > 1 images: ``n = image * Ho*Wo + pixel``), ``strides`` are those of
    ``(r, m, n')`` and ``rebatch`` = R; when its rows do (a channels-last convolution's ``[N*Ho*Wo,
    O]`` result stored as ``[N, O, Ho, Wo]``: ``m = image * Ho*Wo + pixel``), those of ``(r, m',
    n)``, ``rebatch`` = R and ``rebatch_rows``; else ``rebatch`` = 1. Raises Refused when no strides
    fit.

    Exact: follows each element's dot position through the chain (NumPy ``reshape``/``transpose``
    of ``arange``, one int64 array per re-indexed value) and checks the inverse map is affine.
    """
    if is_symbolic(dot.type.numel):
        raise Refused(f"the dot's result {dot.type} has symbolic sizes: its permuted strides are not traced "
                      "element by element")
    maps: dict[int, np.ndarray] = {id(dot): np.arange(dot.type.numel, dtype=np.int64).reshape(dot.shape)}
    for node in k.nodes:
        ins = [maps[id(u)] for u in node.inputs if id(u) in maps]
        if not ins:
            continue
        if node.op is Op.PERMUTE:
            maps[id(node.out)] = ins[0].transpose(node.attrs["perm"])
        elif node.op is Op.RESHAPE:
            maps[id(node.out)] = ins[0].reshape(node.out.shape)
        else:   # index-preserving (checked by the caller): every operand from the dot at one index
            if any(m.shape != node.out.shape or not np.array_equal(m, ins[0]) for m in ins[1:]):
                raise Refused(f"{node.op.value} reads the dot's result through two different re-indexings, "
                              f"not one bijective re-indexing")
            maps[id(node.out)] = ins[0]
    pos = np.empty(dot.type.numel, dtype=np.int64)
    pos[maps[id(k.root)].reshape(-1)] = np.arange(dot.type.numel, dtype=np.int64)
    pos = pos.reshape(dot.shape)
    strides = tuple(int(pos[(0,) * i + (1,) + (0,) * (2 - i)]) if dot.shape[i] > 1 else 0 for i in range(3))
    if _affine_at(pos, strides):
        return strides, 1, False
    bsz, msz, nsz = dot.shape
    if bsz == 1 and nsz > 1:   # columns in R runs of N/R: C as R GEMMs of [M, N/R]
        n2 = _run_length(pos[0, 0], strides[2])
        if 1 < n2 < nsz and nsz % n2 == 0:
            split = (int(pos[0, 0, n2]), strides[1], strides[2])
            cols = pos[0].reshape(msz, nsz // n2, n2).transpose(1, 0, 2)
            if _affine_at(cols, split):
                return split, nsz // n2, False
    if bsz == 1 and msz > 1:   # rows in R runs of M/R: C as R GEMMs of [M/R, N]
        m2 = _run_length(pos[0, :, 0], strides[1])
        if 1 < m2 < msz and msz % m2 == 0:
            split = (int(pos[0, m2, 0]), strides[1], strides[2])
            if _affine_at(pos[0].reshape(msz // m2, m2, nsz), split):
                return split, msz // m2, True
    raise Refused(f"the permuted result {k.root.type} does not hold the GEMM's C {dot.type} at fixed "
                  f"strides (the permute splits its rows, or its columns into unequal runs)")


def _run_length(line: np.ndarray, stride: int) -> int:
    """How many leading elements of the 1-d ``line`` are ``i * stride`` from its first."""
    breaks = np.flatnonzero(line - line[0] - np.arange(line.size, dtype=np.int64) * stride)
    return int(breaks[0]) if breaks.size else line.size


def _affine_at(pos: np.ndarray, strides) -> bool:
    """Whether the 3-d integer array ``pos`` is ``i*s0 + j*s1 + k*s2`` at every ``[i, j, k]``."""
    b, m, n = (np.arange(d, dtype=np.int64) * s for d, s in zip(pos.shape, strides))
    return bool(np.array_equal(pos, b[:, None, None] + m[None, :, None] + n[None, None, :]))
