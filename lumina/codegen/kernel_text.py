"""The text form of a kernel description (``codegen.kernel``): what ``lumina dump --target kernel``
and ``Lowered.as_text("kernel")`` print, one block per kernel.

In the spirit of the IR's text (``ir.printer``) and of MLIR's ``scf`` dialect: the IR lines the
kernel was fused from (as comments), its buffers (position, role, dtype, element count), its index
checks, then its loop nest::

    // from IR:
    //   %4:f32[6,16] = add %2, %3
    //   %5:f32[6,16] = maximum %4, %1
    kernel k3_fused_add_maximum (loop) {
      b0  input   f32[96]
      b1  input   f32[16]
      b2  output  f32[96]
      for i0 in 0..6, i1 in 0..16 {
        b2[i0*16 + i1] = maximum(add(b0[i0*16 + i1], b1[i1]), 0.0:f32)
      }
    }

Loops read ``for i0 in 0..6, i1 in 0..16`` (outer to inner; ``0..6`` excludes 6). A store reads
``b2[<index>] = <value>``, indices counting elements. A reduction reads ``<dest> = sum for r0 in
0..8 { ... yield <value> }``: a sum starts from 0, a max from its dtype's lowest value; ``acc2``
is the register that row stage 2 reduced into. Index arithmetic (int64 ``add``, ``sub``, ``mul``,
``floordiv``, ``mod``) prints infix, ``//`` and ``%`` flooring as in Python; every other op prints
as ``name(operands)`` with its IR name, constants as ``value:dtype`` (int64 bare). A subexpression
used more than once, or one that would make a line too long, is named once (``%t3 = exp(b0[i0])``)
before the statement that uses it; names count up through the kernel.

The text is deterministic (no order depends on hashes or ids) and is for reading: it does not
parse back. An op may be an ``ir.Op`` member or its string name; both print as the name.
"""
from __future__ import annotations

import math

from ..ir.dtypes import DType
from . import expr as E
from .kernel import DOT_RESULT, DotKernel, LoopKernel, RowKernel, Stage

WIDTH = 80          # a subexpression whose inline text grows past this gets its operands named
SHORT_INDEX = 40    # shared index arithmetic up to this long stays inline (b0[i0*16 + i1] reads
#                     better than a name for it)
_INFIX = {"add": " + ", "sub": " - ", "mul": "*", "floordiv": " // ", "mod": " % "}
_ADDITIVE = {"add", "sub"}
_LEAVES = (E.Var, E.Const, E.Acc, E.Size)
_INDENT = "  "


def op_name(op) -> str:
    """The IR name of ``op``: an ``ir.Op`` member's value, or the string itself."""
    return str(getattr(op, "value", op))


def format_kernel(desc) -> str:
    """The text of one kernel description (a ``LoopKernel``, ``RowKernel`` or ``DotKernel``): its
    source IR lines as comments, its buffers and index checks, and its loop nest (see the module
    docstring). Raises TypeError for any other object or an unknown expression node."""
    if not isinstance(desc, (LoopKernel, RowKernel, DotKernel)):
        raise TypeError(f"format_kernel: expected a LoopKernel, RowKernel or DotKernel, "
                        f"got {type(desc).__name__}")
    return _KernelPrinter(desc).text()


def format_kernels(descs, title: str = "") -> str:
    """The texts of ``descs`` in launch order, each under a ``// ---- <title>kernel <i> ----``
    line (``title`` names the program, e.g. ``"train_step: "``)."""
    return "\n\n".join(f"// ---- {title}kernel {i} ----\n{format_kernel(d)}" for i, d in enumerate(descs))


def format_const(c: E.Const) -> str:
    """``16`` (int64), ``true`` (bool), ``0.5:f32``, ``-inf:f32``, ``3:i32``."""
    if c.dtype is DType.bool:
        return "true" if c.value else "false"
    if c.dtype.is_float:
        v = float(c.value)
        return f"{repr(v) if math.isfinite(v) else str(v)}:{c.dtype.short}"
    if c.dtype is DType.int64:
        return str(int(c.value))
    return f"{int(c.value)}:{c.dtype.short}"


# ---- expressions -----------------------------------------------------------------------------------

def operands(e) -> tuple:
    """The operand expressions of ``e`` in printing order. Raises TypeError for an unknown node."""
    if isinstance(e, _LEAVES):
        return ()
    if isinstance(e, E.Load):
        return (e.index,)
    if isinstance(e, (E.Un, E.Cast)):
        return (e.x,)
    if isinstance(e, E.Bin):
        return (e.a, e.b)
    if isinstance(e, E.Select):
        return (e.cond, e.a, e.b)
    if isinstance(e, E.Rand):
        return (e.key, e.index)
    if isinstance(e, E.Check):
        return (e.index,)
    raise TypeError(f"format_kernel: unknown expression node {type(e).__name__}")


def walk(roots) -> tuple[list, dict]:
    """The distinct subexpressions of ``roots`` in post-order (operands first; iterative: fused
    expressions can be deep), and how often each is used: once per operand slot naming it, once
    per root."""
    order: list = []
    uses: dict = {}
    seen: set = set()
    for root in roots:
        uses[root] = uses.get(root, 0) + 1
        stack = [(root, False)]
        while stack:
            e, expanded = stack.pop()
            if expanded:
                order.append(e)
                continue
            if e in seen:
                continue
            seen.add(e)
            stack.append((e, True))
            ops = operands(e)
            for c in ops:
                uses[c] = uses.get(c, 0) + 1
            stack.extend((c, False) for c in reversed(ops))
    return order, uses


def _infix(e) -> str | None:
    """The name of the infix operator ``e`` prints with (int64 index arithmetic), or None."""
    if isinstance(e, E.Bin) and e.dtype is DType.int64:
        name = op_name(e.op)
        return name if name in _INFIX else None
    return None


class _Scope:
    """The statements of one loop body: the text of ``roots`` with the let-bindings they need.

    ``lets`` lists ``%tN = <text>`` lines, each after the lets it reads; ``ref(root)`` is a root's
    text (its name if it was bound). ``load_name(buf)`` gives ``(text, dtype)`` for the buffer a
    ``Load`` names; ``fresh()`` the next let name of the kernel."""

    def __init__(self, roots, load_name, fresh):
        self.load_name = load_name
        self.fresh = fresh
        self.names: dict = {}
        self.text: dict = {}
        self.lets: list[str] = []
        order, uses = walk(roots)
        index_like: dict = {}
        for e in order:
            if isinstance(e, _LEAVES):
                self.text[e] = self._inline(e)
                index_like[e] = isinstance(e, (E.Var, E.Const))
                continue
            index_like[e] = _infix(e) is not None and all(index_like[c] for c in operands(e))
            text = self._inline(e)
            if len(text) > WIDTH:   # name the long operands, so each line stays readable
                for c in operands(e):
                    if c not in self.names and not isinstance(c, _LEAVES):
                        self._bind(c)
                text = self._inline(e)
            self.text[e] = text
            if uses[e] > 1 and not (index_like[e] and len(text) <= SHORT_INDEX):
                self._bind(e)

    def _bind(self, e) -> None:
        name = self.fresh()
        self.lets.append(f"{name} = {self.text[e]}")
        self.names[e] = name

    def ref(self, e) -> str:
        return self.names.get(e) or self.text[e]

    def _operand(self, c, parent: str | None = None, right: bool = False) -> str:
        """``c``'s text as an operand, parenthesised inside infix ``parent`` where needed."""
        text = self.ref(c)
        child = None if c in self.names else _infix(c)
        if parent is None or child is None:
            return text
        if parent in _ADDITIVE:
            wrap = right and child in _ADDITIVE
        else:   # a product keeps its left factor bare; everything else under * // % is bracketed
            wrap = not (parent == "mul" and child == "mul" and not right)
        return f"({text})" if wrap else text

    def _inline(self, e) -> str:
        if isinstance(e, E.Var):
            return e.name
        if isinstance(e, E.Const):
            return format_const(e)
        if isinstance(e, E.Acc):
            return f"acc{e.stage}"
        if isinstance(e, E.Size):
            return f"size({e.value})"
        if isinstance(e, E.Load):
            name, dtype = self.load_name(e.buf)
            suffix = "" if dtype is e.dtype else f":{e.dtype.short}"
            return f"{name}[{self._operand(e.index)}]{suffix}"
        if isinstance(e, E.Un):
            return f"{op_name(e.op)}({self._operand(e.x)})"
        if isinstance(e, E.Bin):
            infix = _infix(e)
            if infix is not None:
                return self._operand(e.a, infix) + _INFIX[infix] + self._operand(e.b, infix, right=True)
            return f"{op_name(e.op)}({self._operand(e.a)}, {self._operand(e.b)})"
        if isinstance(e, E.Select):
            return f"select({self._operand(e.cond)}, {self._operand(e.a)}, {self._operand(e.b)})"
        if isinstance(e, E.Cast):
            return f"cast<{e.dtype.short}>({self._operand(e.x)})"
        if isinstance(e, E.Rand):
            return f"rand<{e.dtype.short}>({self._operand(e.key)}, {self._operand(e.index)})"
        if isinstance(e, E.Check):
            return (f"check_index({self._operand(e.index)}, low={e.low}, size={e.size}, "
                    f"site=b{e.buf}[{e.site}])")
        raise TypeError(f"format_kernel: unknown expression node {type(e).__name__}")


# ---- kernels ---------------------------------------------------------------------------------------

def _loops(vars) -> str:
    return ", ".join(f"{v.name} in 0..{v.extent}" for v in vars)


def _linear(terms, offset: int = 0) -> str:
    """``offset + sum(name * stride)`` as index text, dropping zero terms: ``m*8 + k``."""
    parts = [name if stride == 1 else f"{name}*{stride}" for name, stride in terms if stride != 0]
    if offset or not parts:
        parts.append(str(offset))
    return " + ".join(parts)


def _row_major(vars) -> str:
    """The row-major position of the point ``vars`` (outer to inner) of their own extents."""
    terms, stride = [], 1
    for v in reversed(vars):
        terms.append((v.name, stride))
        stride *= v.extent
    return _linear(list(reversed(terms)))


def _roots(desc) -> list:
    """Every expression of ``desc`` (epilogue and row stages included)."""
    if isinstance(desc, LoopKernel):
        return [desc.value]
    if isinstance(desc, RowKernel):
        return [e for st in desc.stages for e in (st.value, st.index) if e is not None]
    roots = [desc.epilogue.value, desc.epilogue.index] if desc.epilogue is not None else []
    return roots + (_roots(desc.rows) if desc.rows is not None else [])


def _status_buffer(desc) -> int | None:
    """The position of ``desc``'s status buffer (``codegen.kernel``), or None without checks: the
    buffer its ``Check`` nodes name, else where the kernel's layout puts it."""
    if not desc.checks:
        return None
    order, _ = walk(_roots(desc))
    named = sorted({e.buf for e in order if isinstance(e, E.Check)})
    if named:
        return named[0]
    if isinstance(desc, DotKernel):
        return desc.c_buf - 1
    return len(desc.buffers) - desc.n_outputs - 1


class _KernelPrinter:
    """Builds the text of one kernel: ``lines`` collects its body, ``fresh`` numbers its lets."""

    def __init__(self, desc):
        self.desc = desc
        self.lines: list[str] = []
        self.count = 0
        self.status = _status_buffer(desc)

    def fresh(self) -> str:
        self.count += 1
        return f"%t{self.count - 1}"

    def buffer(self, i: int) -> tuple[str, DType | None]:
        bufs = self.desc.buffers
        return f"b{i}", (bufs[i].dtype if 0 <= i < len(bufs) else None)

    def scope(self, roots, load_name=None) -> _Scope:
        return _Scope(roots, load_name or self.buffer, self.fresh)

    def emit(self, depth: int, line: str) -> None:
        self.lines.append(_INDENT * depth + line)

    def emit_lets(self, depth: int, scope: _Scope) -> None:
        for line in scope.lets:
            self.emit(depth, line)

    def text(self) -> str:
        d = self.desc
        out = []
        if d.source:
            out.append("// from IR:")
            out += [f"//   {line}" for line in d.source]
        kind = "loop" if isinstance(d, LoopKernel) else "rows" if isinstance(d, RowKernel) else "dot"
        out.append(f"kernel {d.name} ({kind}) {{")
        self.buffers()
        for site, check in enumerate(d.checks):
            self.emit(1, f"check {site}: index in [{check.low}, {check.size}) else {check.message!r}")
        if isinstance(d, LoopKernel):
            self.loop_kernel(d)
        elif isinstance(d, RowKernel):
            self.row_stages(d, 1)
        else:
            self.dot_kernel(d)
        return "\n".join(out + self.lines + ["}"])

    def buffers(self) -> None:
        d = self.desc
        n_in = len(d.buffers) - d.n_outputs
        notes: dict[int, str] = {}
        if isinstance(d, DotKernel):
            notes[d.c_buf] = "C"
        rows = d.rows if isinstance(d, DotKernel) else d if isinstance(d, RowKernel) else None
        for i, st in enumerate(rows.stages if rows is not None else ()):
            if st.out is not None:
                notes[st.out] = f"{'rows ' if rows is not d else ''}stage {i}"
        width = len(f"b{len(d.buffers) - 1}")
        types = [f"{b.dtype.short}[{b.numel}]" for b in d.buffers]
        type_width = max(map(len, types), default=0)
        for i, type_ in enumerate(types):
            role = "status" if i == self.status else "input" if i < n_in else "output"
            line = f"{f'b{i}'.ljust(width)}  {role.ljust(6)}  " + type_
            self.emit(1, line + (f"{' ' * (type_width - len(type_))}  // {notes[i]}" if i in notes else ""))

    def loop_kernel(self, k: LoopKernel) -> None:
        dest = f"b{len(k.buffers) - 1}[{_row_major(k.domain)}]"
        red = op_name(k.reduce_op) if k.reduce_op is not None else None
        body = self.scope([k.value])
        depth = 1
        if red is not None and k.reduce_outer and k.domain:
            self.emit(1, f"// reduce_outer: the {red} loops run inside all but the innermost domain "
                         f"loop, accumulating in b{len(k.buffers) - 1}")
            for vars in (k.domain[:-1], k.reduce_vars, k.domain[-1:]):
                if vars:
                    self.emit(depth, f"for {_loops(vars)} {{")
                    depth += 1
            self.emit_lets(depth, body)
            self.emit(depth, f"{dest} {red}= {body.ref(k.value)}")
        else:
            if k.domain:
                self.emit(depth, f"for {_loops(k.domain)} {{")
                depth += 1
            if red is None:
                self.emit_lets(depth, body)
                self.emit(depth, f"{dest} = {body.ref(k.value)}")
            else:
                self.reduction(depth, dest, red, k.reduce_vars, body, k.value)
        for d in range(depth - 1, 0, -1):
            self.emit(d, "}")

    def reduction(self, depth: int, dest: str, red: str, vars, body: _Scope, value) -> None:
        """``<dest> = <red> for <vars> { <lets> yield <value> }`` (``dest`` is the text before
        ``=``: a store target, or a stage's register)."""
        loops = f" for {_loops(vars)}" if vars else ""
        self.emit(depth, f"{dest} = {red}{loops} {{")
        self.emit_lets(depth + 1, body)
        self.emit(depth + 1, f"yield {body.ref(value)}")
        self.emit(depth, "}")

    def row_stages(self, k: RowKernel, depth: int, title: str = "") -> None:
        """``k``'s domain loops at ``depth`` and its stages inside them."""
        if k.domain:
            self.emit(depth, f"{title}for {_loops(k.domain)} {{")
            depth += 1
        elif title:
            self.emit(depth, f"{title}{{")
            depth += 1
        for i, st in enumerate(k.stages):
            self.stage(depth, i, st)
        if k.domain or title:
            self.emit(depth - 1, "}")

    def stage(self, depth: int, i: int, st: Stage) -> None:
        dest = f"b{st.out}" if st.out is not None else None
        if st.reduce_op is not None:
            self.reduction(depth, f"stage {i}: acc{i}", op_name(st.reduce_op), st.vars,
                           self.scope([st.value]), st.value)
            if dest is not None:
                where = self.scope([st.index])
                self.emit_lets(depth, where)
                self.emit(depth, f"{dest}[{where.ref(st.index)}] = acc{i}")
            return
        roots = [st.value] + ([st.index] if st.index is not None else [])
        body = self.scope(roots)
        store = (f"{dest}[{body.ref(st.index)}] = " if dest is not None else "") + body.ref(st.value)
        if not st.vars and not body.lets:
            self.emit(depth, f"stage {i}: {store}")
            return
        self.emit(depth, f"stage {i}: " + (f"for {_loops(st.vars)} {{" if st.vars else "{"))
        self.emit_lets(depth + 1, body)
        self.emit(depth + 1, store)
        self.emit(depth, "}")

    def dot_kernel(self, k: DotKernel) -> None:
        c = k.c_buf
        c_strides = k.c_strides or (k.m * k.n, k.n, 1)
        self.emit(1, f"dot {k.dtype.short} batch={k.batch} m={k.m} n={k.n} k={k.k} {{")
        for name, axes, op in (("A", ("b", "m", "k"), k.a), ("B", ("b", "k", "n"), k.b)):
            index = _linear(zip(axes, op.strides), op.offset)
            self.emit(2, f"{name}[{', '.join(axes)}] = b{op.buf}[{index}]"
                         f"  // offset {op.offset}, strides {op.strides}")
        self.emit(2, f"C[b, m, n] = sum for k in 0..{k.k} {{ yield mul(A[b, m, k], B[b, k, n]) }}")
        layout = "row-major" if tuple(c_strides) == (k.m * k.n, k.n, 1) else "permuted"
        self.emit(2, f"store C[b, m, n] to b{c}[{_linear(zip(('b', 'm', 'n'), c_strides))}]"
                     f"  // strides {tuple(c_strides)}, {layout}")
        self.emit(1, "}")
        if k.epilogue is not None:
            epi = k.epilogue

            def load_name(i: int):
                if i == DOT_RESULT:
                    return "C", k.dtype
                if 0 <= i < len(epi.buffers):
                    return self.buffer(epi.buffers[i])
                return f"e{i}", None    # not a valid epilogue position: shown, not hidden

            body = self.scope([epi.value, epi.index], load_name)
            self.emit(1, f"epilogue for {_loops(epi.vars)} {{")
            self.emit_lets(2, body)
            self.emit(2, f"b{c}[{body.ref(epi.index)}] = {body.ref(epi.value)}")
            self.emit(1, "}")
        if k.rows is not None:
            self.row_stages(k.rows, 1, title=f"rows {k.rows.name}: ")
