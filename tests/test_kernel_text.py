"""The text form of kernel descriptions (``codegen.kernel_text``): hand-built kernels of every kind
(``testing.kernel_builders``), index arithmetic whose printed form Python evaluates back to what the
expression computes, shared subexpressions named once, determinism across processes, ops printed
by name, and every kernel of two example programs."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from lumina.codegen import expr as E
from lumina.codegen.kernel import Buffer, DotKernel, IndexCheck, LoopKernel, Operand
from lumina.codegen.kernel_text import WIDTH, format_kernel, format_kernels
from lumina.ir import DType, Op
from lumina.testing import kernel_builders as kb
from lumina.testing.programs import program_cases

F32, I64, BOOL = DType.float32, DType.int64, DType.bool


def statement(text: str, target: str) -> str:
    """The right-hand side of the store to ``target`` (e.g. ``"b2[i0]"``) in ``text``."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(target + " = ")]
    assert len(lines) == 1, text
    return lines[0][len(target) + 3:]


# ---- layout: buffers, loops, stages ---------------------------------------------------------------

def test_loop_kernel_lists_buffers_loops_and_the_store():
    k = kb.elementwise("k_add", [F32, F32], F32, 12, lambda a, b: E.Bin(Op.ADD, a, b, F32))
    text = format_kernel(k)
    lines = text.splitlines()
    assert lines[0] == "kernel k_add (loop) {" and lines[-1] == "}"
    assert [ln.split() for ln in lines[1:4]] == [["b0", "input", "f32[12]"], ["b1", "input", "f32[12]"],
                                                  ["b2", "output", "f32[12]"]]
    assert "for i0 in 0..12 {" in text
    assert statement(text, "b2[i0]") == "add(b0[i0], b1[i0])"


def test_reductions_name_their_op_and_loops():
    text = format_kernel(kb.reduction("k_max", F32, rows=5, cols=300, op="max"))
    assert "for i0 in 0..5 {" in text
    assert "b1[i0] = max for r0 in 0..300 {" in text and "yield b0[i0*300 + r0]" in text
    outer = format_kernel(kb.reduction("k_sum", F32, rows=5, cols=300, op="sum", outer=True))
    # reduce_outer: the reduction loop sits outside the innermost domain loop, accumulating in place
    assert outer.index("for r0 in 0..300 {") < outer.index("for i0 in 0..5 {")
    assert "b1[i0] sum= b0[i0*300 + r0]" in outer


def test_row_kernel_stages_registers_and_outputs():
    rows, cols = 5, 77
    text = format_kernel(kb.mean_var_norm(rows, cols))
    assert "kernel k_mean_var_float32 (rows) {" in text
    assert f"for i0 in 0..{rows} {{" in text
    for i, op in ((0, "sum"), (1, "sum")):
        assert f"stage {i}: acc{i} = {op} for j0 in 0..{cols} {{" in text
    # the reductions' registers are stored to their outputs, and read by the later stages
    assert "b1[i0] = acc0" in text and "b2[i0] = acc1" in text
    assert "stage 2: for j0 in 0..77 {" in text and "acc1" in statement(text, f"b3[i0*{cols} + j0]")
    # each output is annotated with the stage that writes it
    assert re.search(r"b3\s+output\s+f32\[385\]\s+// stage 2", text)


def test_dot_kernel_prints_gemm_parameters_epilogue_and_row_stages():
    batch, m, n, k = 2, 4, 8, 3
    desc = kb.dot_bias_relu_layer_norm(batch, m, n, k)
    text = format_kernel(desc)
    assert text.startswith("kernel k_dot_ln (dot) {")
    assert f"dot f32 batch={batch} m={m} n={n} k={k} {{" in text
    assert f"offset 0, strides {desc.a.strides}" in text and f"offset 0, strides {desc.b.strides}" in text
    assert f"epilogue for b in 0..{batch}, m in 0..{m}, n in 0..{n} {{" in text
    assert re.search(r"b5\s+output\s+f32\[64\]\s+// C", text)
    # the epilogue reads the finished product as C, the bias through its epilogue position
    assert statement(text, "b5[b*32 + m*8 + n]") == "maximum(add(C[b*32 + m*8 + n], b2[n]), 0.0:f32)"
    assert f"rows k_dot_ln_rows: for r in 0..{batch * m} {{" in text
    assert [int(s) for s in re.findall(r"stage (\d+):", text)] == list(range(len(desc.rows.stages)))


def test_dot_operands_print_offsets_and_strides_as_index_formulas():
    m, n, k = 3, 4, 5
    desc = DotKernel("k_dot_off", (Buffer(F32, 100), Buffer(F32, 100), Buffer(F32, m * n)), F32, 1, m, n, k,
                     Operand(0, 7, (0, 1, m)), Operand(1, 11, (0, n, 1)))
    text = format_kernel(desc)
    for name, axes, op in (("A", "b, m, k", desc.a), ("B", "b, k, n", desc.b)):
        line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith(f"{name}[{axes}] = "))
        formula = re.match(rf"{name}\[{axes}\] = b{op.buf}\[(.*)\]  // offset {op.offset}, "
                           rf"strides \({', '.join(map(str, op.strides))}\)$", line)
        assert formula, line
        names = axes.split(", ")
        for point in [(0, 0, 0), (0, 2, 4), (0, 1, 3)]:
            want = op.offset + sum(s * i for s, i in zip(op.strides, point))
            assert eval(formula.group(1), dict(zip(names, point))) == want


def test_index_checks_and_the_status_buffer():
    n = 6
    i = E.Var("i0", n)
    index = E.Check(E.Load(0, i, I64), -4, 4, 1, 0)
    desc = LoopKernel("k_gather", (Buffer(I64, n), Buffer(I64, 1), Buffer(F32, 4), Buffer(F32, n)), (i,), (),
                      None, E.Load(2, index, F32), checks=(IndexCheck(-4, 4, "index {index} out of range"),))
    text = format_kernel(desc)
    assert re.search(r"b1\s+status\s+i64\[1\]", text)
    assert "check 0: index in [-4, 4) else 'index {index} out of range'" in text
    assert statement(text, "b3[i0]") == "b2[check_index(b0[i0], low=-4, size=4, site=b1[0])]"


def test_source_lines_come_first_as_comments():
    desc = kb.select_kernel(4)
    source = ("%2:f32[4] = input {name='x'}", "%3:bool[4] = gt %0, %1")
    text = format_kernel(type(desc)(**{**desc.__dict__, "source": source}))
    assert text.splitlines()[:3] == ["// from IR:", f"//   {source[0]}", f"//   {source[1]}"]


def test_format_kernel_refuses_other_objects():
    with pytest.raises(TypeError, match="LoopKernel, RowKernel or DotKernel"):
        format_kernel("k0")


# ---- expressions ------------------------------------------------------------------------------------

def _index_value(e, env):
    """What int64 index expression ``e`` computes (flooring // and %, as ``codegen.expr``)."""
    if isinstance(e, E.Var):
        return env[e.name]
    if isinstance(e, E.Const):
        return int(e.value)
    a, b = _index_value(e.a, env), _index_value(e.b, env)
    ops = {Op.ADD: int.__add__, Op.SUB: int.__sub__, Op.MUL: int.__mul__, E.KOp.FLOORDIV: int.__floordiv__,
           E.KOp.MOD: int.__mod__}
    return ops[e.op](a, b)


@pytest.mark.parametrize("seed", range(8))
def test_printed_index_arithmetic_evaluates_to_what_the_expression_computes(seed):
    rng = np.random.default_rng(seed)
    vars = [E.Var(f"i{j}", int(rng.integers(2, 9))) for j in range(3)]

    def build(depth):
        if depth == 0 or rng.random() < 0.25:
            return vars[rng.integers(3)] if rng.random() < 0.7 else E.iconst(int(rng.integers(-9, 10)))
        op = [Op.ADD, Op.SUB, Op.MUL, E.KOp.FLOORDIV, E.KOp.MOD][rng.integers(5)]
        a = build(depth - 1)
        b = E.iconst(int(rng.integers(1, 7))) if op in (E.KOp.FLOORDIV, E.KOp.MOD, Op.MUL) and rng.random() < 0.7 \
            else build(depth - 1)
        if op in (E.KOp.FLOORDIV, E.KOp.MOD) and not isinstance(b, E.Const):
            b = E.iconst(int(rng.integers(1, 7)))
        return E.Bin(op, a, b, I64)

    for _ in range(20):
        index = build(6)
        desc = LoopKernel("k_idx", (Buffer(I64, 1),), tuple(vars), (), None, index)
        text = format_kernel(desc).replace("%t", "_t")   # let names as Python names
        lets = re.findall(r"^\s*(_t\d+) = (.*)$", text, flags=re.M)
        printed = statement(text, "b0[i0*" + str(vars[1].extent * vars[2].extent) + " + i1*"
                            + str(vars[2].extent) + " + i2]")
        for point in rng.integers(0, 2, (4, 3)) * np.array([v.extent - 1 for v in vars]):
            env = {v.name: int(p) for v, p in zip(vars, point)}
            scope = dict(env)
            for name, rhs in lets:
                scope[name] = eval(rhs, scope)
            assert eval(printed, scope) == _index_value(index, env), text


def test_floor_index_kernel_prints_what_numpy_computes():
    desc, want = kb.floor_index_kernel()
    printed = statement(format_kernel(desc), "b0[i0]")
    assert [eval(printed, {"i0": i}) for i in range(40)] == list(want)


def test_shared_subexpressions_are_named_once():
    x = E.Load(0, E.Var("i0", 8), F32)
    shared = E.Un(Op.EXP, E.Bin(Op.SUB, x, E.Const(1.5, F32), F32), F32)
    value = E.Bin(Op.DIV, shared, E.Bin(Op.ADD, shared, E.Const(1.0, F32), F32), F32)
    text = format_kernel(LoopKernel("k_share", (Buffer(F32, 8), Buffer(F32, 8)), (E.Var("i0", 8),), (), None, value))
    assert text.count("exp(") == 1 and text.count("b0[i0]") == 1
    lets = dict(re.findall(r"^\s*(%t\d+) = (.*)$", text, flags=re.M))
    (exp_name,) = [name for name, rhs in lets.items() if rhs.startswith("exp(")]
    assert statement(text, "b1[i0]") == f"div({exp_name}, add({exp_name}, 1.0:f32))"
    # definitions come before their uses
    assert text.index(f"{exp_name} = ") < text.index(f"div({exp_name}")


def test_a_deep_expression_prints_in_lines_of_bounded_width():
    i = E.Var("i0", 4)
    value = E.Load(0, i, F32)
    for j in range(3000):   # deeper than Python's recursion limit
        value = E.Bin(Op.ADD if j % 2 else Op.MUL, value, E.Const(float(j), F32), F32)
        hash(value)         # expressions cache their hash as lowering builds them, bottom-up
    text = format_kernel(LoopKernel("k_deep", (Buffer(F32, 4), Buffer(F32, 4)), (i,), (), None, value))
    assert max(len(ln) for ln in text.splitlines()) < 3 * WIDTH
    assert text.count("add(") == 1500 and text.count("mul(") == 1500


def test_ops_as_enum_members_print_as_their_names():
    def kernel(un, bin_):
        i = E.Var("i0", 5)
        value = E.Bin(bin_, E.Un(un, E.Load(0, i, F32), F32), E.Load(1, i, F32), F32)
        return LoopKernel("k_ops", (Buffer(F32, 5), Buffer(F32, 5), Buffer(F32, 5)), (i,), (), None, value)
    assert "maximum(exp(b0[i0]), b1[i0])" in format_kernel(kernel(Op.EXP, Op.MAXIMUM))


def test_constants_print_with_their_dtype():
    i = E.Var("i0", 3)
    value = E.Select(E.Const(True, BOOL), E.Const(float("-inf"), F32),
                     E.Cast(E.Const(3, DType.int32), F32), F32)
    text = format_kernel(LoopKernel("k_c", (Buffer(F32, 3),), (i,), (), None, value))
    assert statement(text, "b0[i0]") == "select(true, -inf:f32, cast<f32>(3:i32))"


# ---- determinism and real programs ---------------------------------------------------------------

_DETERMINISM = """
from lumina.codegen.kernel_text import format_kernels
from lumina.testing import kernel_builders as kb
print(format_kernels([kb.softmax_rows(6, 30), kb.mean_var_norm(5, 7), kb.dot_bias_relu_layer_norm(2, 4, 8, 3),
                      kb.rounding_kernels(kb.DType.float16, 8)[0]]))
"""


def test_the_text_is_the_same_in_every_process():
    texts = set()
    for seed in ("1", "2"):   # string hashing differs between the two processes
        env = {**os.environ, "PYTHONHASHSEED": seed}
        texts.add(subprocess.run([sys.executable, "-c", _DETERMINISM], env=env, check=True,
                                 capture_output=True, text=True).stdout)
    (text,) = texts
    assert text.count("// ---- kernel ") == 4


@pytest.mark.parametrize("program", ["digits_mlp", "micro_gpt"])
def test_every_kernel_of_an_example_program_prints(program):
    kernels = [case.kernel for case in program_cases(program)]
    text = format_kernels(kernels)
    blocks = text.split("\n\n// ---- kernel ")
    assert len(blocks) == len(kernels)
    for desc, block in zip(kernels, blocks):
        assert f"kernel {desc.name} (" in block
        for line in desc.source:
            assert f"//   {line}" in block
        roles = re.findall(r"^  b\d+\s+(input|output|status)\s", block, flags=re.M)
        assert len(roles) == len(desc.buffers) and roles.count("output") == desc.n_outputs
        assert roles.count("status") == (1 if desc.checks else 0)
    assert format_kernels(kernels) == text
