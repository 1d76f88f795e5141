"""Lower one fused group (``schedule.partition.Kernel``) to a ``LoopKernel``, ``RowKernel`` or ``DotKernel``.

Every inlined node becomes a scalar expression at an index: elementwise ops map operands at the same
index, movement ops rewrite the index (``permute`` reorders it, ``expand`` zeroes broadcast dims,
``slice`` scales and shifts, ``reshape`` goes through the row-major linear position, ``pad`` and
``concat`` select between guarded branches, ``gather`` loads its index), and materialised values
are loads from buffers. A ``check_index`` node becomes an ``expr.Check`` site of the kernel (see
``kernel.IndexCheck``), recorded in the status buffer that follows the kernel's inputs.
"""
from __future__ import annotations

import math
from dataclasses import replace

from ..errors import LuminaCodegenError
from ..ir.dtypes import DType
from ..ir.graph import Value
from ..ir.ops import Kind, Op
from ..ir.symbolic import hint
from ..schedule.groups import Kernel, StageRole
from ..schedule.views import view_base
from . import expr as E
from .expr import row_major
from .coalesce import coalesce, coalesce_rows, substitute
from .kernel import (DOT_RESULT, Buffer, DotKernel, Epilogue, IndexCheck, LoopKernel, Operand, Reduce,
                     RowKernel, Stage, status_buffer)

I64 = DType.int64
BOOL = DType.bool


def unravel(linear: E.Expr, shape) -> tuple:
    """The index of row-major position ``linear`` (in ``[0, numel)``) in ``shape``: the outermost
    dim of a size other than 1 takes the quotient as it is (it is below that dim's size), so a symbolic leading size
    (``ir.symbolic``) never enters the arithmetic."""
    out, stride = [], 1
    outer = next((i for i, d in enumerate(shape) if d != 1), 0)   # the dims before it are all 1
    for i, d in enumerate(reversed(shape)):   # a zero-size shape's index is never evaluated: any expression does
        if not (d > 1 and stride > 0):
            out.append(E.iconst(0))
        elif i == len(shape) - 1 - outer:
            out.append(E.floordiv(linear, stride))
        else:
            out.append(E.mod(E.floordiv(linear, stride), d))
        stride *= d
    return tuple(reversed(out))


def reshape_groups(src, dst) -> list[tuple[tuple[int, int], tuple[int, int]]] | None:
    """The dims of a reshape from ``src`` to ``dst`` in groups of equal size, ``[((first, end) in
    src, (first, end) in dst), ...]`` in order (``[B, T, C] -> [B*T, C]``: ``(0, 2)`` with ``(0, 1)``,
    then ``(2, 3)`` with ``(1, 2)``), or None for an empty shape. Each group reshapes on its own,
    so an index goes through the row-major position of its group only, and a symbolic size that
    leads its group never becomes a stride."""
    if any(d == 0 for d in (*src, *dst)):
        return None
    groups, i, j = [], 0, 0
    while i < len(src) or j < len(dst):
        gi, gj, pi, pj = i, j, 1, 1
        if i < len(src):
            pi, i = src[i], i + 1
        if j < len(dst):
            pj, j = dst[j], j + 1
        while pi != pj:
            if i < len(src) and (j >= len(dst) or hint(pi) < hint(pj)):
                pi, i = pi * src[i], i + 1
            elif j < len(dst):
                pj, j = pj * dst[j], j + 1
            else:
                return None
        groups.append(((gi, i), (gj, j)))
    return groups


def _and(a, b):
    return b if a is None else E.Bin(Op.AND, a, b, BOOL)


def _in_range(i: E.Expr, lo: int, hi: int):
    """A bool expression for lo <= i < hi, or None when the bounds already prove it."""
    blo, bhi = E.bounds(i)
    cond = None
    if blo < lo:
        cond = E.Bin(Op.GE, i, E.iconst(lo), BOOL)
    if bhi >= hi:
        cond = _and(cond, E.Bin(Op.LT, i, E.iconst(hi), BOOL))
    return cond


def _clamp_if(cond, i: E.Expr, fallback: int = 0) -> E.Expr:
    return i if cond is None else E.Select(cond, i, E.iconst(fallback), I64)


class _Sites:
    """The index checks of one kernel, numbered as lowering meets them (shared by the lowerers of
    a GEMM's epilogue and its row stages)."""
    def __init__(self):
        self.of: dict[int, int] = {}          # id(check_index node) -> its site
        self.checks: list[IndexCheck] = []

    def site(self, n) -> int:
        if id(n) not in self.of:
            a = n.attrs
            self.of[id(n)] = len(self.checks)
            self.checks.append(IndexCheck(a["low"], a["size"], a["message"]))
        return self.of[id(n)]


def _has_checks(k: Kernel) -> bool:
    return any(n.op is Op.CHECK_INDEX for n in k.nodes)


def _shifted(i: int, status: int | None) -> int:
    """Buffer position ``i`` counted as if the status buffer sat at ``status`` (None: none)."""
    return i + 1 if status is not None and i >= status else i


def _with_status(buffers: tuple, status: int | None, sites: _Sites) -> tuple:
    """``buffers`` with the status buffer of ``sites`` inserted at position ``status``."""
    if status is None:
        return buffers
    if not sites.checks:   # every node of a kernel is lowered: its check_index nodes too
        raise LuminaCodegenError("lower: a kernel holds check_index nodes but lowering met none")
    return buffers[:status] + (status_buffer(len(sites.checks)),) + buffers[status:]


class _Lowerer:
    """Lowers the nodes of fused group ``kernel`` to expressions. ``status`` is the position of the
    status buffer (None when the group has no ``check_index``); the kernel's inputs at or after it
    move one position up."""
    def __init__(self, kernel: Kernel, status: int | None = None, sites: _Sites | None = None):
        self.buffers = {id(v): _shifted(i, status) for i, v in enumerate(kernel.inputs)}
        self.memo: dict = {}
        self.status = status
        self.sites = sites if sites is not None else _Sites()

    def status_buffer(self) -> int:
        """The buffer position an ``expr.Check`` names for the status buffer."""
        if self.status is None:
            raise LuminaCodegenError("lower: a check_index in a kernel that has no status buffer")
        return self.status

    def value(self, v: Value, idx: tuple) -> E.Expr:
        key = (id(v), idx)
        if key not in self.memo:
            self.memo[key] = self._lower(v, idx)
        return self.memo[key]

    def _lower(self, v: Value, idx: tuple) -> E.Expr:
        n, dt = v.node, v.dtype
        if id(v) in self.buffers:
            return E.Load(self.buffers[id(v)], row_major(idx, v.shape), dt)
        op, a = n.op, n.attrs
        if op is Op.CONST:
            return E.Const(a["value"].reshape(()).item(), dt)
        if op.kind is Kind.UNARY:
            return E.Un(op, self.value(n.inputs[0], idx), dt)
        if op.kind is Kind.BINARY:
            x, y = (self.value(u, idx) for u in n.inputs)
            return E.Bin(op, x, y, dt)
        if op is Op.WHERE:
            c, x, y = (self.value(u, idx) for u in n.inputs)
            return E.Select(c, x, y, dt)
        if op is Op.CAST:
            return E.Cast(self.value(n.inputs[0], idx), dt)
        if op is Op.SIZE:
            return E.Size(a["size"])
        if op is Op.RAND:
            return E.Rand(self.value(n.inputs[0], ()), row_major(idx, v.shape), dt)
        if op is Op.CHECK_INDEX:
            return self._check_index(n, idx)
        if op.kind is Kind.MOVEMENT:
            return getattr(self, "_" + op.value)(n, idx)
        raise LuminaCodegenError(f"lower: {op.value} cannot be inlined into a loop kernel")

    def _check_index(self, n, idx):
        a = n.attrs
        site = self.sites.site(n)
        j = self.value(n.inputs[0], idx)
        j = j if j.dtype is I64 else E.Cast(j, I64)
        return E.Check(j, a["low"], a["size"], self.status_buffer(), site)

    # ---- movement ops as index arithmetic ---------------------------------------------------------
    def _reshape(self, n, idx):
        x = n.inputs[0]
        groups = reshape_groups(x.shape, n.out.shape)
        if groups is None:
            return self.value(x, unravel(row_major(idx, n.out.shape), x.shape))
        src: tuple = ()
        for (a, b), (c, d) in groups:   # each group of dims through its own row-major position
            src += unravel(row_major(idx[c:d], n.out.shape[c:d]), x.shape[a:b])
        return self.value(x, src)

    def _permute(self, n, idx):
        perm = n.attrs["perm"]
        src = [None] * len(perm)
        for k, p in enumerate(perm):
            src[p] = idx[k]
        return self.value(n.inputs[0], tuple(src))

    def _expand(self, n, idx):
        x = n.inputs[0]
        src = tuple(E.iconst(0) if d == 1 else i for d, i in zip(x.shape, idx))
        return self.value(x, src)

    def _slice(self, n, idx):
        a = n.attrs
        src = tuple(E.affine_sum([(st, i)], lo) for i, lo, st in zip(idx, a["starts"], a["steps"]))
        return self.value(n.inputs[0], src)

    def _pad(self, n, idx):
        x, a = n.inputs[0], n.attrs
        valid, src = None, []
        for i, (lo, hi), d in zip(idx, a["pads"], x.shape):
            if lo == hi == 0:   # an axis without padding: the index as it is (its size may be symbolic)
                src.append(i)
                continue
            shifted = E.affine_sum([(1, i)], -lo)
            ok = _in_range(shifted, 0, d)
            valid = _and(valid, ok) if ok is not None else valid
            src.append(_clamp_if(ok, shifted))
        inner = self.value(x, tuple(src))
        if valid is None:
            return inner
        return E.Select(valid, inner, E.Const(a["value"], n.out.dtype), n.out.dtype)

    def _concat(self, n, idx):
        axis = n.attrs["axis"]
        offsets, acc = [], 0
        for u in n.inputs:
            offsets.append(acc)
            acc += u.shape[axis]
        result = None
        for u, off in reversed(list(zip(n.inputs, offsets))):
            local = E.affine_sum([(1, idx[axis])], -off)
            ok = _in_range(local, 0, u.shape[axis])
            src = idx[:axis] + (_clamp_if(ok, local),) + idx[axis + 1:]
            branch = self.value(u, src)
            if result is None:
                result = branch
            else:
                result = E.Select(E.Bin(Op.LT, idx[axis], E.iconst(off + u.shape[axis]), BOOL),
                                  branch, result, n.out.dtype)
        return result

    def _gather(self, n, idx):
        x, ind = n.inputs
        axis, k = n.attrs["axis"], ind.type.rank
        j = self.value(ind, idx[axis:axis + k])
        j = j if j.dtype is I64 else E.Cast(j, I64)
        d = x.shape[axis]
        lo, hi = E.bounds(j)
        if lo < 0:
            j = E.Select(E.Bin(Op.LT, j, E.iconst(0), BOOL), E.Bin(Op.ADD, j, E.iconst(d), I64), j, I64)
        # An index out of range is reported by the check_index before it (the front end puts one
        # before every gather of a computed index); here it is clamped all the same, so that no
        # index, checked or not, ever reads outside the buffer.
        if lo < -d or hi >= d:
            j = E.Select(E.Bin(Op.LT, j, E.iconst(0), BOOL), E.iconst(0), j, I64)
            j = E.Select(E.Bin(Op.GT, j, E.iconst(d - 1), BOOL), E.iconst(d - 1), j, I64)
        return self.value(x, idx[:axis] + (j,) + idx[axis + k:])


_FULL_WIDTH = (DType.float32, DType.float64, DType.int32, DType.int64)


def contiguous_along_output(value: E.Expr, domain, rvars) -> bool:
    """True when some load walks memory with unit stride along the innermost output dim and none
    along the innermost reduce dim: then reducing in the outer loops reads memory in order (a
    per-channel vector read beside a reduction over contiguous rows does not count)."""
    if not domain or not rvars:
        return False
    inner, rinner = domain[-1], rvars[-1]
    strides = [E.affine_terms(load.index)[0] for load in E.loads(value)]
    return any(t.get(inner) == 1 for t in strides) and not any(t.get(rinner) == 1 for t in strides)


def kernel_name(k: Kernel, index: int) -> str:
    skip = {Op.INPUT, Op.CONST, Op.RESHAPE, Op.PERMUTE, Op.EXPAND}
    ops = [n.op.value for n in k.nodes if n.op not in skip]
    uniq = list(dict.fromkeys(ops))[:6] or ["copy"]
    return f"k{index}_{'fused_' if len(ops) > 1 else ''}{'_'.join(uniq)}"


def lower(k: Kernel, index: int, source: tuple[str, ...] = ()) -> LoopKernel | RowKernel | DotKernel:
    """The kernel description of fused group ``k`` (the ``index``-th kernel of its executable)."""
    if k.rows is not None and k.rows.producer is not None:
        return _lower_dot_rows(k, kernel_name(k, index), source)
    if k.rows is not None:
        return _lower_rows(k, kernel_name(k, index), source)
    buffers = tuple(Buffer(v.dtype, v.type.numel) for v in k.inputs) + (
        Buffer(k.root.dtype, k.root.type.numel),)
    name = kernel_name(k, index)
    root = k.root
    status = len(k.inputs) if _has_checks(k) else None
    if root.op is Op.DOT or k.dot is not None:
        return _lower_dot(k, name, buffers, source, status, _Sites())
    lw = _Lowerer(k, status)
    # Size-1 output dims index at 0 and get no loop, so the outermost loop (the one the runtime
    # splits across threads) is a real one: a [1, 2048, 128] copy runs in parallel.
    index = tuple(E.Var(f"i{d}", n) if n != 1 else E.iconst(0) for d, n in enumerate(root.shape))
    domain = tuple(i for i in index if isinstance(i, E.Var))
    if root.op.kind is Kind.REDUCE:
        x, axes = root.node.inputs[0], root.node.attrs["axes"]
        keepdim = root.node.attrs["keepdim"]
        rvars = tuple(E.Var(f"r{j}", x.shape[a]) for j, a in enumerate(axes))
        kept = iter(index if not keepdim else [v for i, v in enumerate(index) if i not in axes])
        rv = iter(rvars)
        idx = tuple(next(rv) if i in axes else next(kept) for i in range(x.type.rank))
        domain, rvars, value = coalesce(domain, rvars, lw.value(x, idx))
        op = Reduce.SUM if root.op is Op.REDUCE_SUM else Reduce.MAX
        return LoopKernel(name, _with_status(buffers, status, lw.sites), domain, rvars, op, value, source,
                          # accumulating in the output buffer needs it at full precision
                          reduce_outer=root.dtype in _FULL_WIDTH and
                          contiguous_along_output(value, domain, rvars),
                          checks=tuple(lw.sites.checks))
    domain, _, value = coalesce(domain, (), lw.value(root, index))
    return LoopKernel(name, _with_status(buffers, status, lw.sites), domain, (), None, value, source,
                      checks=tuple(lw.sites.checks))


class _EpilogueLowerer(_Lowerer):
    """Lowers an epilogue: the dot result is a load of the output at the dot's own position, and
    every other buffer (the status buffer too) gets the next free epilogue position (see
    ``kernel.Epilogue``)."""
    def __init__(self, k: Kernel, dot: Value, index: E.Expr, status: int | None, sites: _Sites):
        self.dot, self.slots, self.memo = dot, {id(v): _shifted(i, status) for i, v in enumerate(k.inputs)}, {}
        self.index = index
        self.buffers: dict[int, int] = {}
        self.used: list[int] = []
        self.status, self.sites = status, sites
        self.status_position: int | None = None

    def status_buffer(self) -> int:
        if self.status_position is None:
            self.status_position = len(self.used)
            self.used.append(super().status_buffer())
        return self.status_position

    def _lower(self, v: Value, idx: tuple) -> E.Expr:
        if v is self.dot:
            # fusion admits only bijective re-indexings on which every path agrees, so each load of
            # the dot result is of C[b, m, n] itself: written as the store's expression, so LLVM
            # sees the store hit the loaded element (the reshape/permute arithmetic would hide it)
            return E.Load(DOT_RESULT, self.index, v.dtype)
        if id(v) in self.slots and id(v) not in self.buffers:
            self.buffers[id(v)] = len(self.used)
            self.used.append(self.slots[id(v)])
        return super()._lower(v, idx)


def _lower_epilogue(k: Kernel, status: int | None, sites: _Sites) -> Epilogue:
    dot = k.dot.out
    bsz, msz, nsz = dot.shape
    if k.rebatch > 1 and k.rebatch_rows:   # a batch-1 dot run as ``rebatch`` GEMMs of its row runs
        bsz, msz = k.rebatch, msz // k.rebatch
    elif k.rebatch > 1:   # ... or of its column runs (schedule.groups.Kernel)
        bsz, nsz = k.rebatch, nsz // k.rebatch
    bvars = tuple(E.Var(name, n) for name, n in zip("bmn", (bsz, msz, nsz)))
    # the same expression as the dot result's loads, so LLVM sees the store hit the loaded element
    # (a spare ``b * M * N`` term would make it assume a dependence and not vectorize)
    if k.c_strides is None:
        index = row_major((bvars[0] if dot.shape[0] > 1 else E.iconst(0),) + bvars[1:], dot.shape)
    else:   # a permuted epilogue: C[b, m, n] sits at these strides in the root's buffer
        index = E.affine_sum([(s, v) for s, v in zip(k.c_strides, bvars) if s and v.extent > 1])
    lw = _EpilogueLowerer(k, dot, index, status, sites)
    value = lw.value(k.root, unravel(index, k.root.shape))
    return Epilogue(bvars, value, tuple(lw.used), index)


FEW_COLUMNS = 16
"""A GEMM this many columns wide or narrower, with at least twice as many rows, is computed
transposed (``_lower_dot``). Measured (f32, 2 threads, Zen 5): the 28x28 ConvNet's first
weight gradient, 32 x 9 over K = 50176, 4.4 ms -> 0.26 ms."""


def _lower_dot(k: Kernel, name, buffers, source, status: int | None, sites: _Sites,
               row_stages: bool = False) -> DotKernel:
    """The ``DotKernel`` of ``k`` over ``buffers`` (the status buffer not yet among them: it is
    inserted at ``status`` once ``sites`` holds every check of the kernel); ``row_stages``: the
    GEMM of a row-fused kernel, whose stages need C's rows as the GEMM's."""
    dot = k.dot.out if k.dot is not None else k.root
    lhs, rhs = dot.node.inputs
    slot = {id(v): i for i, v in enumerate(k.inputs)}
    ops = []
    for operand in (lhs, rhs):   # the buffers fusion chose for them (schedule.partition._group)
        base, view = view_base(operand, lambda p: id(p) in slot)
        ops.append(Operand(slot[id(base)], view.offset, tuple(view.strides)))
    b, m, kk = lhs.shape
    n = rhs.shape[2]
    epilogue = _lower_epilogue(k, status, sites) if k.dot is not None else None
    c_strides = k.c_strides if k.c_strides is not None else (m * n, n, 1)
    if k.rebatch > 1 and k.rebatch_rows:   # batch 1 as ``rebatch`` GEMMs over runs of rows: A stepped, B shared
        a, bb = ops
        m //= k.rebatch
        b = k.rebatch
        ops = [Operand(a.buf, a.offset, (m * a.strides[1], a.strides[1], a.strides[2])),
               Operand(bb.buf, bb.offset, (0, bb.strides[1], bb.strides[2]))]
    elif k.rebatch > 1:   # ... over runs of columns: A shared, B stepped
        a, bb = ops
        n //= k.rebatch
        b = k.rebatch
        ops = [Operand(a.buf, a.offset, (0, a.strides[1], a.strides[2])),
               Operand(bb.buf, bb.offset, (n * bb.strides[2], bb.strides[1], bb.strides[2]))]
    stored_transposed = m > 1 and c_strides[1] == 1 and c_strides[2] != 1
    few_columns = hint(n) <= FEW_COLUMNS and hint(m) >= 2 * hint(n) and c_strides[2] == 1 and not row_stages
    if stored_transposed or few_columns:
        # C is stored transposed (a convolution's [O, N*H*W] result stored [N, O, H, W]): compute
        # C^T = B^T A^T instead, so the micro-kernel stores, and the epilogue's inner loop runs,
        # along contiguous memory; the epilogue then walks (b, n, m) with n over the GEMM's rows.
        # Or C has a few columns and many rows (a classifier's logits, the first convolution's
        # [O, 9] weight gradient): its transpose has a few rows, which the skinny GEMM paths
        # compute reading both operands in place, where the register tile would be mostly
        # padding; C^T is then stored strided (it is small)
        a, bb = ops
        ops = [Operand(bb.buf, bb.offset, (bb.strides[0], bb.strides[2], bb.strides[1])),
               Operand(a.buf, a.offset, (a.strides[0], a.strides[2], a.strides[1]))]
        m, n, c_strides = n, m, (c_strides[0], c_strides[2], c_strides[1])
        if epilogue is not None:
            bv, mv, nv = epilogue.vars
            epilogue = Epilogue((bv, nv, mv), epilogue.value, epilogue.buffers, epilogue.index)
    return DotKernel(name, _with_status(buffers, status, sites), dot.dtype, b, m, n, kk, ops[0], ops[1], source,
                     epilogue, c_strides, checks=tuple(sites.checks))


class _RowLowerer(_Lowerer):
    """Lowers the stages of a row kernel: a reduce stage's result read at the current row is its
    ``Acc``; an earlier elementwise stage's result is recomputed (inlined) where it is read, which
    fusion admits only at the reader's own row (a per-row value) or position (a whole-row value)."""
    def __init__(self, k: Kernel, row_vars: tuple, status: int | None, sites: _Sites):
        super().__init__(k, status, sites)
        self.roles = {id(st.kernel.root): st.role for st in k.rows.stages}
        self.row_vars = row_vars          # the domain's vars, outer to inner
        self.acc: dict[int, E.Acc] = {}   # id(reduce stage result) -> its Acc
        self.position: tuple = ()         # the index over the rows' shape of the stage being lowered

    def row_index(self, v: Value) -> tuple:
        """The current row's index in per-row value ``v`` (its dims > 1 are the row dims)."""
        return _onto(v.shape, self.row_vars)

    def at(self, v: Value) -> tuple:
        """The current position's index in whole-row value ``v`` (its dims > 1 are the rows' dims
        of extent > 1: fusion matches rows up to size-1 dims)."""
        return _onto(v.shape, [i for i in self.position if not isinstance(i, E.Const)])

    def _lower(self, v: Value, idx: tuple) -> E.Expr:
        role = self.roles.get(id(v))
        if role is None:
            return super()._lower(v, idx)
        want = self.at(v) if role is StageRole.FULL else self.row_index(v)
        # A dim of extent 1 can only be read at 0: a reader that computes another index there
        # (concat's ``i - 1`` for its second part, under the select that takes it) reads element 0.
        idx = tuple(E.iconst(0) if n == 1 else i for i, n in zip(idx, v.shape))
        if E.affine_terms(row_major(idx, v.shape)) != E.affine_terms(row_major(want, v.shape)):
            raise LuminaCodegenError(f"lower: a row kernel stage reads {v.type} (a {role} stage) away from "
                                     f"its own {'position' if role is StageRole.FULL else 'row'}")
        if role is StageRole.REDUCE:
            return self.acc[id(v)]
        return super()._lower(v, idx)   # an earlier elementwise stage: recomputed, as if inlined


def _onto(shape, index) -> tuple:
    """An index into ``shape`` whose dims of extent > 1 take ``index`` in order, the others 0."""
    it = iter(index)
    return tuple(next(it) if n > 1 else E.iconst(0) for n in shape)


def _lower_rows(k: Kernel, name: str, source, status: int | None = None, sites: _Sites | None = None,
                with_status: bool = True) -> RowKernel:
    """A ``RowKernel``: the domain is the rows (the reduced shape's kept dims of extent > 1), and
    each reduce stage and each stored elementwise stage of ``k.rows`` becomes a ``Stage``
    (register-only elementwise stages are recomputed where read and get none)."""
    rows = k.rows
    shape, axes = rows.shape, rows.axes
    outputs = k.outputs
    if status is None and _has_checks(k):
        status = len(k.inputs)
    sites = sites if sites is not None else _Sites()
    buffers = tuple(Buffer(v.dtype, v.type.numel) for v in list(k.inputs) + outputs)
    out_pos = {id(v): _shifted(len(k.inputs) + i, status) for i, v in enumerate(outputs)}
    kept = tuple(E.Var(f"i{d}", n) if n != 1 else E.iconst(0) for d, n in enumerate(shape) if d not in axes)
    domain = tuple(v for v in kept if isinstance(v, E.Var))
    _check_row_outputs(k, domain)
    lw = _RowLowerer(k, domain, status, sites)
    stages: list[Stage] = []
    for st in rows.stages:
        v = st.kernel.root
        if st.role is not StageRole.REDUCE and not st.stored:
            continue
        s = len(stages)
        inner = {a: E.Var(f"s{s}r{a}", shape[a]) for a in axes if shape[a] != 1}
        it = iter(kept)
        lw.position = tuple(inner.get(d, E.iconst(0)) if d in axes else next(it) for d in range(len(shape)))
        svars = tuple(inner.values())
        out = out_pos.get(id(v)) if st.stored else None
        if st.role is StageRole.REDUCE:
            value = lw.value(v.node.inputs[0], lw.at(v.node.inputs[0]))
            index = row_major(lw.row_index(v), v.shape) if st.stored else None
            op = Reduce.SUM if v.op is Op.REDUCE_SUM else Reduce.MAX
            stages.append(Stage(svars, op, value, out, index))
            lw.acc[id(v)] = E.Acc(s, v.dtype)
        elif st.role is StageRole.FULL:
            here = lw.at(v)
            stages.append(Stage(svars, None, lw.value(v, here), out, row_major(here, v.shape)))
        else:
            here = lw.row_index(v)
            stages.append(Stage((), None, lw.value(v, here), out, row_major(here, v.shape)))
    domain, stages = coalesce_rows(domain, tuple(stages))
    if with_status:   # (a row-fused GEMM inserts it once its epilogue is lowered too)
        buffers = _with_status(buffers, status, sites)
    return RowKernel(name, buffers, len(outputs), domain, stages, source, checks=tuple(sites.checks))


def _check_row_outputs(k: Kernel, domain: tuple) -> None:
    """Raise LuminaCodegenError unless each value row kernel ``k`` stores or reduces has exactly the
    elements its stage walks (``domain``'s rows, of one element or a whole row each): a stage over
    rows that are not its value's would leave part of a buffer unwritten (garbage in a result) or
    read and write past a buffer's end (into memory the arena gives to other values)."""
    rows = k.rows
    n_rows = math.prod(v.extent for v in domain)
    length = math.prod(rows.shape[a] for a in rows.axes)
    for st in rows.stages:
        v = st.kernel.root
        checked = [(v, "stores", length if st.role is StageRole.FULL else 1)] if st.stored else []
        if st.role is StageRole.REDUCE:
            checked.append((v.node.inputs[0], "reduces", length))
        for x, what, per_row in checked:
            if x.type.numel != n_rows * per_row:
                raise LuminaCodegenError(
                    f"lower: row kernel of {k.root.type} over the rows of {list(rows.shape)} (axes "
                    f"{list(rows.axes)}): its {st.role} stage {what} {x.type}, {x.type.numel} elements, "
                    f"expected {n_rows} rows of {per_row}")


def _lower_dot_rows(k: Kernel, name: str, source) -> DotKernel:
    """A row-fused GEMM (``DotKernel.rows``): the producer's GEMM and epilogue over the fused
    kernel's inputs, and the stages lowered as a ``RowKernel`` that reads the GEMM's result ``C``
    as the input after them; its rows are flattened to one variable over the GEMM's rows."""
    dk, c = k.rows.producer, k.rows.producer.root
    inputs = list(k.inputs)
    # the status buffer, if any, sits after the inputs and before C (the first output)
    status = len(inputs) if _has_checks(k) or _has_checks(dk) else None
    sites = _Sites()
    rows = _lower_rows(replace(k, inputs=inputs + [c], rows=replace(k.rows, producer=None)), f"{name}_rows", source,
                       status, sites, with_status=False)
    dot = _lower_dot(replace(dk, inputs=inputs), name, rows.buffers, source, status, sites, row_stages=True)
    rows = replace(rows, buffers=dot.buffers, checks=dot.checks)   # the epilogue's checks too
    if dot.c_strides != (dot.m * dot.n, dot.n, 1) or dot.m * dot.batch != math.prod(v.extent for v in rows.domain):
        raise LuminaCodegenError(f"lower: the rows of {c.type} are not the {dot.batch * dot.m} rows of "
                                 f"the GEMM's row-major result")
    r = E.Var("r", dot.batch * dot.m)
    flat, stride = {}, 1
    for v in reversed(rows.domain):   # the domain is row-major over the rows: r's digits
        flat[v] = E.mod(E.floordiv(r, stride), v.extent) if stride > 1 or v.extent < r.extent else r
        stride *= v.extent
    stages = tuple(replace(st, value=substitute(st.value, flat),
                           index=substitute(st.index, flat) if st.index is not None else None)
                   for st in rows.stages)
    return replace(dot, rows=replace(rows, domain=(r,), stages=stages))
