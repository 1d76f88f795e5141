"""Inspection: networkx / Graphviz export, the ``lumina dump`` / ``viz`` / ``profile`` commands and
the per-kernel profile's FLOP and byte counts."""
import os
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import lumina
import lumina.nn as nn
from lumina.cli import main
from lumina.ir.export import BACKWARD_COLOR, FORWARD_COLOR
from lumina.nn import functional as F
from lumina.transforms.pipeline import PASSES
from lumina.testing import programs

MEMORY_LINE = re.compile(r"^memory: arena (\d+) bytes, naive (\d+) bytes, lower bound (\d+) bytes$")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def train_step():
    """A compiled MLP training step (forward, backward, SGD update) and its example inputs."""
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    step = programs.train_step(model, lumina.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy)
    rng = np.random.default_rng(0)
    return step, (rng.random((6, 8), dtype=np.float32), rng.integers(0, 4, 6))


# ---- networkx / graphviz export -----------------------------------------------------------------

def test_to_networkx_counts_equal_the_graphs(train_step):
    step, args = train_step
    g = step.lower(*args).graph
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == len(g.nodes)
    assert nxg.number_of_edges() == len({(id(v.node), id(n)) for n in g.nodes for v in n.inputs})
    index = {id(n): i for i, n in enumerate(g.nodes)}
    for i, n in enumerate(g.nodes):
        assert (nxg.nodes[i]["op"], nxg.nodes[i]["shape"], nxg.nodes[i]["dtype"]) == \
            (n.op.value, n.shape, n.dtype.short)
        for pos, v in enumerate(n.inputs):   # edges carry operand order
            assert pos in nxg.edges[index[id(v.node)], i]["operands"]
    assert nxg.graph["outputs"] == [index[id(v.node)] for v in g.outputs]


def test_to_dot_draws_one_cluster_per_kernel_and_colours_backward_nodes(train_step):
    step, args = train_step
    lowered = step.lower(*args)
    source = lowered.to_dot().source
    kernels = lowered.kernels()
    assert len(re.findall(r"subgraph cluster_k\d+ \{", source)) == len(kernels) > 3
    for k in kernels:
        assert k.name in source
    # forward (the loss) and backward (gradients, SGD update) are both present, in different colours
    assert source.count(FORWARD_COLOR) > 0 and source.count(BACKWARD_COLOR) > 0


def test_to_dot_without_partition_has_every_node_and_a_forward_graph_no_backward():
    fn = lumina.compile(lambda a, b: (a @ b).relu())
    g = fn.lower(np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)).graph
    source = g.to_dot().source
    assert len(re.findall(r"^\s*n\d+ \[", source, flags=re.M)) == len(g.nodes)
    assert "cluster" not in source and BACKWARD_COLOR not in source


def test_to_dot_refuses_a_partition_of_another_graph(train_step):
    step, args = train_step
    lowered = step.lower(*args)
    with pytest.raises(lumina.LuminaError, match="partition is of graph"):
        lowered.graph.to_dot(lowered.executable.info["partition"])


# ---- kernel descriptions as text ------------------------------------------------------------------

def test_lowered_gives_every_kernel_as_text_with_its_source_nodes(train_step):
    step, args = train_step
    lowered = step.lower(*args)
    text = lowered.as_text("kernel")
    assert text == lowered.kernels_text()
    kernels = lowered.kernels()
    blocks = re.split(r"^// ---- \w+: kernel \d+ ----\n", text, flags=re.M)
    assert blocks[0] == "" and len(blocks) - 1 == len(kernels) > 3
    optimized = {ln.strip() for ln in lowered.as_text("optimized").splitlines()}
    for i, (desc, block) in enumerate(zip(kernels, blocks[1:])):
        assert f"// ---- {lowered.graph.name}: kernel {i} ----" in text
        assert re.search(rf"^kernel {desc.name} \((loop|rows|dot)\) {{$", block, flags=re.M)
        # the IR nodes it came from, numbered as in the optimized graph
        source = re.findall(r"^//   (.*)$", block, flags=re.M)
        assert source == list(desc.source) and set(source) <= optimized
    # the partition fused the same nodes into each kernel
    fused = [sorted(re.findall(r"(%\d+):\w+", line.split(" fuses ")[1]))
             for line in lowered.partition().splitlines() if line.startswith("kernel ")]
    assert fused == [sorted(re.findall(r"^//   (%\d+):", b, flags=re.M)) for b in blocks[1:]]
    with pytest.raises(lumina.LuminaError, match="'kernel'"):
        lowered.as_text("no-such-stage")


def test_lowered_kernel_text_of_a_function_without_kernels():
    fn = lumina.compile(lambda a: a)
    lowered = fn.lower(np.ones(3, np.float32))
    assert lowered.kernels() == [] and lowered.as_text("kernel") == f"// ---- {lowered.graph.name}: no kernels ----"


# ---- the CLI --------------------------------------------------------------------------------------

def test_dump_onnx_prints_every_pass_and_the_partition(onnx_model, capsys):
    assert main(["dump", onnx_model, "--dim", "batch=4"]) == 0
    out = capsys.readouterr().out
    assert "_trace: input ----\ngraph _trace {" in out
    for name, _ in PASSES:
        assert f": after {name} " in out
    kernels = re.findall(r"^kernel (\d+) \(([\w+]+)\)", out, flags=re.M)
    assert [int(i) for i, _ in kernels] == list(range(len(kernels))) and len(kernels) >= 2
    assert kernels[0][1].startswith("dot")     # x @ W (with or without its epilogue)
    assert "f32[s0,8] = input" in out         # the named batch dim is symbolic (ir.symbolic)
    assert MEMORY_LINE.match(out.strip().splitlines()[-1])


def test_dump_memory_ends_with_exactly_one_memory_line(onnx_model, capsys):
    assert main(["dump", "--memory", onnx_model, "--dim", "batch=64"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    matches = [line for line in lines if MEMORY_LINE.match(line)]
    assert len(matches) == 1 and MEMORY_LINE.match(lines[-1])
    arena, naive, bound = map(int, MEMORY_LINE.match(lines[-1]).groups())
    assert 0 < bound <= arena <= naive


def test_dump_function_file_and_llvm_target(tmp_path, capsys):
    src = tmp_path / "model.py"
    src.write_text("import lumina\n\n@lumina.compile\ndef f(a, b):\n    return (a * b).exp().sum(1)\n")
    assert main(["dump", f"{src}::f", "--shapes", "4x8,4x8"]) == 0
    out = capsys.readouterr().out
    assert "f32[4,8] = input" in out and "reduce_sum" in out and re.search(r"^kernel 0 ", out, flags=re.M)
    assert main(["dump", f"{src}::f", "--shapes", "4x8,4x8", "--target", "llvm"]) == 0
    llvm = capsys.readouterr().out
    assert re.search(r'^define void @"k0_fused_\w*exp', llvm, flags=re.M)   # kernels named after what they fuse
    import llvmlite.binding as llvm_binding
    llvm_binding.parse_assembly(llvm).verify()


def test_dump_refuses_a_function_that_is_not_compiled(tmp_path, capsys):
    src = tmp_path / "plain.py"
    src.write_text("def g(a):\n    return a\n")
    assert main(["dump", f"{src}::g", "--shapes", "3"]) == 1
    assert "not a function decorated with @lumina.compile" in capsys.readouterr().err
    assert main(["dump", f"{src}::g"]) == 1
    assert "--shapes" in capsys.readouterr().err


# Graphviz's `dot` is not a Python package: scripts/install-system-deps.sh installs it (the README's test
# command runs it). Where it could not, the test skips, except in CI, which must run it.
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and os.environ.get("CI") != "true",
                               reason="needs Graphviz's `dot` program: bash scripts/install-system-deps.sh")


@needs_dot
def test_viz_writes_an_svg_with_a_cluster_per_kernel(onnx_model, tmp_path, capsys):
    out = tmp_path / "mlp.svg"
    assert main(["viz", onnx_model, "--dim", "batch=2", "-o", str(out)]) == 0
    n = int(re.search(r"(\d+) kernels", capsys.readouterr().out).group(1))
    text = out.read_text()
    assert text.startswith("<?xml") or text.startswith("<svg")
    root = ET.fromstring(text)
    assert root.tag == SVG + "svg"
    clusters = [g for g in root.iter(SVG + "g") if g.get("class") == "cluster"]
    assert len(clusters) == n >= 2


# ---- profile ------------------------------------------------------------------------------------

def test_profile_counts_matmul_flops_and_bytes():
    m, k, n = 48, 40, 24
    fn = lumina.compile(lambda a, b: a @ b)
    a, b = np.ones((m, k), np.float32), np.ones((k, n), np.float32)
    report = fn.profile_report(a, b, repeat=2)
    dots = [r for r in report.rows if r.kind.startswith("dot")]
    assert len(dots) == 1
    assert dots[0].flops == 2 * m * n * k
    assert dots[0].bytes == (m * k + k * n + m * n) * 4
    assert dots[0].seconds > 0 and dots[0].gflops == pytest.approx(dots[0].flops / dots[0].seconds / 1e9)
    assert sum(r.share for r in report.rows) == pytest.approx(1.0)
    assert [(r.name, r.seconds > 0) for r in report.rows] == [(name, True) for name, _ in fn.profile(a, b)]


def test_profile_counts_batched_matmul_and_reduction_flops():
    fn = lumina.compile(lambda a, b: (a @ b).sum())
    a, b = np.ones((3, 5, 7), np.float32), np.ones((3, 7, 2), np.float32)
    report = fn.profile_report(a, b, repeat=1)
    # dot: 2*M*N*K*batch; the reduction: one add per element of its input
    assert report.flops == 2 * 5 * 2 * 7 * 3 + 3 * 5 * 2


def test_profile_of_a_symbolic_program_counts_at_the_call_sizes():
    """A function compiled with a symbolic batch counts its FLOPs at the sizes of the call profiled:
    integers, as the static program of the same sizes counts them."""
    fn = lumina.compile(lambda a, b: (a @ b).sum())
    for m in (3, 5):   # a second size makes M symbolic
        a, b = lumina.ones(m, 7), lumina.ones(7, 2)
        fn(a, b)
    assert fn._last.symbolic
    report = fn.profile_report(a, b, repeat=1)
    assert isinstance(report.flops, int) and report.flops == 2 * 5 * 2 * 7 + 5 * 2
    assert "s0" not in str(report)


def test_profile_command_prints_a_row_per_kernel(tmp_path, capsys):
    src = tmp_path / "mm.py"
    src.write_text("import lumina\n\n@lumina.compile\ndef f(a, b):\n    return (a @ b).tanh()\n")
    assert main(["profile", f"{src}::f", "--shapes", "32x16,16x8", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split() == ["kernel", "kind", "MFLOP", "MB", "us", "GFLOP/s", "GB/s", "share"]
    total = lines[-1].split()
    # 2*32*8*16 for the dot and 32*8 for tanh, in MFLOP; the shares add up to the whole step
    assert total[:3] == ["total", f"({len(lines) - 4}", "kernels)"]
    assert float(total[3]) == pytest.approx((2 * 32 * 8 * 16 + 32 * 8) / 1e6, abs=1e-3)
    assert total[-1] == "100.0%"
