"""The backend-neutral kernel description every renderer consumes.

A ``LoopKernel`` is a loop nest: ``domain`` loops (outer to inner) over the output's row-major
positions, optional ``reduce_vars`` loops inside them folding ``value`` with ``reduce_op``, and one
store of the result to the last buffer. With ``reduce_outer`` the reduce loops sit between the outer
domain loops and the innermost one, accumulating in the output buffer: the schedule for reducing
over a non-contiguous axis (a bias gradient's sum over the batch). A ``RowKernel`` is a multi-output
kernel: outer loops over rows, and inside them several loop nests (``Stage``) run one after another,
each either reducing into a register that later stages read (``expr.Acc``) or storing to one of the
kernel's outputs: a softmax or a normalization's mean, variance and normalized row in one pass over
memory. A ``DotKernel`` is a batched GEMM over strided views of its operands. The renderers (LLVM,
Triton, Metal) turn each into target code; the runtime splits the outermost domain loop (or the
GEMM's rows) across threads.

**Index checks.** A kernel that evaluates ``check_index`` nodes (``expr.Check``) lists them in
``checks`` (site ``i`` is ``checks[i]``) and has one more input buffer, right after the materialised
values it reads: its *status* buffer, int64 with one element per site, zero before the launch. Each
site's element stays zero unless an index was out of range; the runtime reads the buffer after the
launch and raises the site's ``LuminaIndexError``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..ir.dtypes import DType
from ..ir.symbolic import Sym
from .expr import Expr, Size, Var, children


class Reduce(enum.Enum):
    """How a reduction folds its values: ``SUM`` from 0, or ``MAX`` from the lowest value of the
    dtype (-inf for floats, where NaN wins: NumPy's ``max``)."""
    SUM = "sum"
    MAX = "max"


@dataclass(frozen=True)
class Buffer:
    """A kernel parameter: a flat array of ``numel`` elements of ``dtype``."""
    dtype: DType
    numel: int


@dataclass(frozen=True)
class IndexCheck:
    """One ``check_index`` site of a kernel: an index outside ``[low, size)`` is an error. Its
    status element holds ``index - low`` (as unsigned 64 bits) of an offending index, or 0.
    ``message`` is the error's text, ``{index}`` standing for the index; it is not part of the
    kernel's identity (two kernels differing only in messages compile to one function)."""
    low: int
    size: int
    message: str = field(compare=False)

    def error(self, status: int) -> str | None:
        """The error message for status element ``status`` (an int64), or None if it is 0."""
        if status == 0:
            return None
        index = ((status + self.low + (1 << 63)) % (1 << 64)) - (1 << 63)   # wraps as int64 does
        return self.message.replace("{index}", str(index))


def status_buffer(n_sites: int) -> Buffer:
    """The status buffer of a kernel with ``n_sites`` index checks."""
    return Buffer(DType.int64, n_sites)


@dataclass(frozen=True)
class LoopKernel:
    name: str
    buffers: tuple[Buffer, ...]        # inputs first; the output is the last one
    domain: tuple[Var, ...]            # output loops, outer to inner; output index is row-major
    reduce_vars: tuple[Var, ...]       # reduction loops (innermost); () for elementwise
    reduce_op: Reduce | None           # None: elementwise
    value: Expr
    source: tuple[str, ...] = ()       # the IR lines this kernel was fused from (for dumps)
    reduce_outer: bool = False         # reduce loops outside the innermost domain loop (see below)
    checks: tuple[IndexCheck, ...] = ()   # index checks; their status buffer precedes the output

    @property
    def out(self) -> Buffer:
        return self.buffers[-1]

    @property
    def n_outputs(self) -> int:
        return 1

    @property
    def work(self) -> int:
        """Innermost iterations in total: the size of the domain times the reduction."""
        n = 1
        for v in self.domain + self.reduce_vars:
            n *= v.extent
        return n


@dataclass(frozen=True)
class Stage:
    """One loop nest inside a ``RowKernel``'s outer loops, over its own ``vars`` (outer to inner).

    With ``reduce_op`` (``Reduce.SUM`` or ``Reduce.MAX``) the stage folds ``value`` over ``vars``
    into one scalar per outer point (see ``Reduce``); later stages read
    it as ``expr.Acc(<this stage's position>)``, and when ``out`` is set it is also stored at
    ``index`` (an int64 expression over the kernel's ``domain`` only) of buffer ``out``. Without
    ``reduce_op`` the stage stores ``value`` at ``index`` of buffer ``out`` at every point of ``vars``.
    ``value`` reads the domain's and its own loop variables, ``Acc`` of earlier stages, and ``Load``s
    of the kernel's input buffers only (never of an output)."""
    vars: tuple[Var, ...]
    reduce_op: Reduce | None
    value: Expr
    out: int | None          # a buffer position (>= the number of inputs), or None: register only
    index: Expr | None       # the store's position in ``buffers[out]``, in elements


@dataclass(frozen=True)
class RowKernel:
    """A multi-output kernel: for every point of ``domain`` (outer loops, outer to inner) run
    ``stages`` in order (see ``Stage``). ``buffers`` lists the inputs, then the ``n_outputs``
    outputs; every output is written by exactly one stage, each element once. The runtime splits the
    outermost domain loop across threads, as for a ``LoopKernel``."""
    name: str
    buffers: tuple[Buffer, ...]
    n_outputs: int
    domain: tuple[Var, ...]
    stages: tuple[Stage, ...]
    source: tuple[str, ...] = ()
    checks: tuple[IndexCheck, ...] = ()   # index checks; their status buffer follows the values read
    #                                       (the last input, but before C in a row-fused GEMM's rows)

    @property
    def n_inputs(self) -> int:
        return len(self.buffers) - self.n_outputs

    @property
    def outputs(self) -> tuple[Buffer, ...]:
        return self.buffers[self.n_inputs:]

    @property
    def work(self) -> int:
        """Innermost iterations in total: the domain's size times the stages' loop sizes."""
        rows = 1
        for v in self.domain:
            rows *= v.extent
        inner = 0
        for st in self.stages:
            n = 1
            for v in st.vars:
                n *= v.extent
            inner += n
        return rows * max(inner, 1)


@dataclass(frozen=True)
class Operand:
    """A strided view of buffer ``buf``: element (b, i, j) at ``offset + b*s[0] + i*s[1] + j*s[2]``."""
    buf: int
    offset: int
    strides: tuple[int, int, int]


DOT_RESULT = -1
"""The ``Load.buf`` of an epilogue's reads of the finished dot result (``Epilogue``): a marker,
never a buffer position."""


@dataclass(frozen=True)
class Epilogue:
    """An elementwise function applied to a GEMM's output in place, after its last K block.

    ``value`` is the new ``C[b, m, n]`` as an expression over the loop variables ``vars`` = (b, m, n)
    (extents batch, M, N; a batch of one indexes at 0, not through ``b``) of the GEMM as launched:
    when it computes C^T, ``vars`` lists (b, n, m), so the renderer's row loop runs over n. Its
    loads name epilogue positions: ``Load(i)`` for ``0 <= i < len(buffers)`` reads the dot kernel's
    buffer ``buffers[i]``; ``Load(DOT_RESULT, index)`` reads the finished dot result, at its own
    position only (``index`` is the store's). The renderer stores ``value`` to that position of
    the output. How many buffers an epilogue may read is the backend's limit (the CPU's epilogue
    function has ``Target.max_epilogue_inputs`` pointer arguments besides the output); the
    description itself has none.
    """
    vars: tuple[Var, Var, Var]
    value: Expr
    buffers: tuple[int, ...]
    index: Expr          # C[b, m, n]'s position in the output (row-major, or at ``DotKernel.c_strides``
    #                      when a permute re-indexes it), written exactly as ``value`` loads it


@dataclass(frozen=True)
class DotKernel:
    """``C[b, m, n] = sum_k A[b, m, k] * B[b, k, n]`` into a contiguous [batch, M, N] output, then
    ``C = epilogue(C, ...)`` when there is an ``epilogue``. ``c_strides`` (elements) place
    ``C[b, m, n]`` in the output: row-major ``(M*N, N, 1)`` unless a permuted epilogue re-indexes it.

    With ``rows`` (a *row-fused* GEMM: MatMul + bias + ReLU + LayerNorm, or scores + softmax, in one
    kernel) the kernel goes on, once every column of a row of C is final, to run the stages of the
    ``RowKernel`` ``rows`` on that row. Then C is row-major, and ``rows.domain`` is one variable over
    the ``batch * M`` rows of C (row ``r = b * M + m``). ``rows.buffers`` is ``buffers`` itself: the
    stages read C (buffer ``c_buf``, among ``rows``' inputs) and any input of the kernel, and write
    the ``rows.n_outputs`` buffers after C. A renderer may run the stages on a block of rows as soon
    as that block's columns are done (a GPU program owning all N columns of its rows, a CPU panel
    of MC rows still in L2); C is stored first in every case, and the stages load it back."""
    name: str
    buffers: tuple[Buffer, ...]
    dtype: DType
    batch: int
    m: int
    n: int
    k: int
    a: Operand
    b: Operand
    source: tuple[str, ...] = ()
    epilogue: Epilogue | None = None
    c_strides: tuple[int, int, int] | None = None   # None: row-major (M*N, N, 1)
    rows: RowKernel | None = None   # row stages over finished rows of C (see above)
    checks: tuple[IndexCheck, ...] = ()   # the epilogue's and the rows' index checks (status: the
    #                                       last input buffer, shared with ``rows``)

    @property
    def n_outputs(self) -> int:
        """C, then the row stages' outputs."""
        return 1 + (self.rows.n_outputs if self.rows is not None else 0)

    @property
    def c_buf(self) -> int:
        """The position of C in ``buffers``: the first output."""
        return len(self.buffers) - self.n_outputs

    @property
    def out(self) -> Buffer:
        """C's buffer."""
        return self.buffers[self.c_buf]


def kernel_symbols(k) -> frozenset[str]:
    """The size symbols (``ir.symbolic``) in the loop extents and ``expr.Size`` values of loop or
    row kernel ``k``: a renderer passes their values to the kernel at run time (the CPU: an
    ``i64*`` argument)."""
    found: set[str] = set()
    loops = list(k.domain) + list(getattr(k, "reduce_vars", ()))
    for st in getattr(k, "stages", ()):
        loops += st.vars
    for v in loops:
        if isinstance(v.extent, Sym):
            found |= v.extent.symbols
    stack = [k.value] if isinstance(k, LoopKernel) else [e for st in k.stages for e in (st.value, st.index)
                                                         if e is not None]
    seen: set = set()
    while stack:   # the ``size`` values it computes with
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, Size):
            found |= e.value.symbols
        stack.extend(children(e))
    return frozenset(found)
