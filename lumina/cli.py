"""The ``lumina`` command line.

    lumina --version                 lumina's version
    lumina info                      version, LLVM target (CPU, SIMD features, ISA level, caches, GEMM
                                     tiles and blocks), thread count, devices
    lumina run MODEL.onnx [--input name=file.npy ...] [--random-inputs] [--dim name=N ...] [--bench N]
    lumina inspect MODEL.onnx [--dim name=N ...]
    lumina dump TARGET [--memory] [--target ir|kernel|llvm|triton|metal]   the IR before and after
                                   each pass, the kernel partition and the memory plan; or every
                                   kernel description as text (with the IR nodes it came from); or
                                   the generated LLVM IR, Triton (@triton.jit) or Metal (MSL) sources
    lumina viz TARGET -o OUT.svg [--stage optimized|input]   the graph drawn through Graphviz
    lumina profile TARGET [--repeat N] [--top N]       per kernel FLOPs, bytes, time, GFLOP/s, GB/s
    lumina cache info|clear          the disk cache of compiled code ($LUMINA_CACHE): where, how
                                     many entries, their size and the limit; or remove them all

TARGET is an ONNX model (``MODEL.onnx``, symbolic dims from ``--dim name=N``, default 1) or a
``@lumina.compile``d function ``path/to/file.py::fn`` called on example inputs of ``--shapes
64x64,64`` (``x``-separated dims, comma-separated inputs, ``scalar`` for 0-d) and ``--dtypes``
(default float32 for each). Example inputs are uniform in [0, 1) for floats and 0 for integers.
"""
from __future__ import annotations

import argparse
import os
import sys

from .errors import LuminaError, LuminaValueError


def _info(args) -> int:
    import llvmlite

    from . import __version__
    from .backends import devices
    from .backends.target import target_for

    cpu = target_for("cpu")
    print(f"lumina {__version__} (llvmlite {llvmlite.__version__})")
    print(f"target: {cpu.triple} cpu={cpu.name}")
    print(f"simd: {' '.join(cpu.simd)} (vectors of {cpu.vector_bits} bits)")
    for line in cpu.choices:
        print(line)
    print(f"threads: {cpu.threads}")
    for name in devices.DEVICES:
        ok, reason = devices.available(name)
        print(f"device {name}: {'available' if ok else 'unavailable'} ({reason})")
    print(f"default device: {devices.default_device()}")
    return 0


def _cache(args) -> int:
    from .backends import disk_cache

    if args.action == "clear":
        print(f"removed {disk_cache.clear()} entries")
        return 0
    found = disk_cache.info()
    if found["root"] is None:
        print("disk cache: off (LUMINA_CACHE=off)")
        return 0
    print(f"disk cache: {found['root']}")
    print(f"entries: {found['entries']}, {found['bytes'] / 2**20:.1f} MiB of {found['limit'] / 2**20:.0f} MiB")
    return 0


def _symbolic_dims(input_dims) -> list[str]:
    """The names of the symbolic dimensions in ``input_dims`` (per graph input, its dims: ints and
    names, "?" for an unnamed one), sorted."""
    return sorted({d for dims in input_dims for d in dims if isinstance(d, str) and d != "?"})


def _dims(pairs, symbolic: list[str]) -> dict[str, int]:
    """``--dim NAME=N`` arguments as ``{NAME: N}``. Raises LuminaValueError for a pair that is not
    ``NAME=N`` with N a non-negative integer, or a NAME that is not in ``symbolic`` (the model's
    symbolic dimensions)."""
    out = {}
    for p in pairs or []:
        name, eq, value = p.partition("=")
        try:
            size = int(value)
        except ValueError:
            size = -1
        if not eq or not name or size < 0:
            raise LuminaValueError(f"--dim {p}: expected NAME=N with N a non-negative integer, e.g. batch=8")
        if name not in symbolic:
            raise LuminaValueError(f"--dim {p}: the model has no symbolic dimension {name!r} (its symbolic "
                                   f"dimensions: {', '.join(symbolic) if symbolic else 'none'})")
        out[name] = size
    return out


def _model_dims(model) -> list[str]:
    """The symbolic dimensions of an ``OnnxModel``'s inputs."""
    return _symbolic_dims(dims for _, dims in model.input_specs.values())


def _random_inputs(model, dims: dict[str, int]) -> dict:
    """An array per graph input: symbolic dims from ``--dim`` (else 1), values uniform in [0, 1)
    for floats and 0 for integers (valid token ids, indices)."""
    import numpy as np
    rng = np.random.default_rng(0)
    arrays = {}
    for name, (dtype, declared) in model.input_specs.items():
        shape = [dims.get(d, 1) if isinstance(d, str) else d for d in declared]
        arrays[name] = rng.random(shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype)
    return arrays


def _inputs(model, args) -> dict:
    """The arrays ``lumina run`` feeds: ``--input NAME=FILE.npy`` files, and with ``--random-inputs``
    random arrays (sized by ``--dim``) for the inputs not given. Raises LuminaValueError for a file
    that is missing or not a .npy array, or ``--dim`` without ``--random-inputs`` (it sizes only
    random inputs; a file's array has its own shape)."""
    import numpy as np
    given = {}
    for p in args.input or []:
        name, eq, path = p.partition("=")
        if not eq or not name or not path:
            raise LuminaValueError(f"--input {p}: expected NAME=FILE.npy")
        if not os.path.isfile(path):
            raise LuminaValueError(f"--input {p}: no file {path!r}")
        try:
            given[name] = np.load(path)
        except (OSError, ValueError, EOFError) as e:
            raise LuminaValueError(f"--input {p}: {path!r} is not a .npy array ({e})") from None
    dims = _dims(args.dim, _model_dims(model))
    if args.random_inputs:
        return {**_random_inputs(model, dims), **given}
    if dims:
        raise LuminaValueError("--dim sizes the inputs --random-inputs makes; add --random-inputs "
                               "(an --input file's array has its own shape)")
    return given


def _run(args) -> int:
    import time

    import numpy as np

    from .onnx import load
    model = load(args.model)
    inputs = _inputs(model, args)
    outputs = model(**inputs)
    for name, y in outputs.items():
        checksum = float(np.asarray(y, dtype=np.float64).sum()) if y.size else 0.0
        print(f"{name}: {y.dtype}{list(y.shape)} checksum {checksum:.6g}")
    if args.bench:
        from tqdm import tqdm
        times = []
        for _ in tqdm(range(args.bench), desc="bench", unit="run", disable=not sys.stderr.isatty()):
            t0 = time.perf_counter()
            model(**inputs)
            times.append((time.perf_counter() - t0) * 1e3)
        p50, p90, p99 = np.percentile(times, [50, 90, 99])
        print(f"latency over {args.bench} runs: p50 {p50:.3f} ms, p90 {p90:.3f} ms, p99 {p99:.3f} ms")
    return 0


def _inspect(args) -> int:
    import collections

    import onnx

    from .onnx.model import read_model
    from .onnx.model import imports_op
    proto = read_model(args.model)
    g = proto.graph
    opsets = [f"{o.domain or 'ai.onnx'} {o.version}" for o in proto.opset_import]
    print(f"opsets: {', '.join(opsets)}")
    inits = {i.name for i in g.initializer}
    inputs = [v for v in g.input if v.name not in inits]

    def shape(v) -> list:
        dims = v.type.tensor_type.shape.dim
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]

    def describe(v):
        return f"  {v.name}: {onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type).lower()}{shape(v)}"
    dims = _dims(args.dim, _symbolic_dims(shape(v) for v in inputs))
    print("inputs:")
    for v in inputs:
        print(describe(v))
    print("outputs:")
    for v in g.output:
        print(describe(v))
    hist = collections.Counter(n.op_type for n in g.node)
    print("ops: " + ", ".join(f"{op} {n}" for op, n in hist.most_common()))
    unsupported = sorted(op for op in hist if not imports_op(op))
    print(f"unsupported ops: {', '.join(unsupported) if unsupported else 'none'}")
    if not unsupported:
        from .onnx import load
        model = load(proto)
        print(model.ir(**_random_inputs(model, dims)))
    return 0


MEMORY_LINE = "memory: arena {} bytes, naive {} bytes, lower bound {} bytes"


def _parse_shapes(spec: str | None) -> list[tuple[int, ...]]:
    """``"64x64,64"`` -> ``[(64, 64), (64,)]``; ``scalar`` (or ``()``) is a 0-d input."""
    if not spec:
        return []
    shapes = []
    for part in spec.split(","):
        part = part.strip()
        if part in ("scalar", "()"):
            shapes.append(())
            continue
        try:
            dims = tuple(int(d) for d in part.split("x"))
        except ValueError:
            raise LuminaValueError(f"--shapes: {part!r} is not a shape like 64x64 (dims separated by 'x', "
                                   "inputs by ',', 'scalar' for 0-d)") from None
        if any(d < 0 for d in dims):
            raise LuminaValueError(f"--shapes: {part!r} has a negative dimension")
        shapes.append(dims)
    return shapes


def _example_inputs(shapes, dtypes: str | None) -> list:
    """Arrays of ``shapes``: floats uniform in [0, 1), integers and bools 0; dtype per input from
    ``dtypes`` (comma-separated NumPy/lumina names: float32, f16, int64...; default float32)."""
    import numpy as np

    from .ir.dtypes import to_dtype
    names = [d.strip() for d in dtypes.split(",")] if dtypes else ["float32"] * len(shapes)
    if len(names) != len(shapes):
        raise LuminaValueError(f"--dtypes: {len(names)} dtypes for {len(shapes)} shapes")
    rng = np.random.default_rng(0)
    arrays = []
    for shape, name in zip(shapes, names):
        try:
            dt = np.dtype(to_dtype(name).numpy)
        except (LuminaError, TypeError, ValueError):
            raise LuminaValueError(f"--dtypes: unknown dtype {name!r}") from None
        arrays.append(rng.random(shape).astype(dt) if dt.kind == "f" else np.zeros(shape, dt))
    return arrays


def _load_function(spec: str):
    """The ``@lumina.compile``d object named by ``path/to/file.py::fn`` (the file is imported as a
    module named after it, with its directory on ``sys.path`` for its own imports)."""
    import importlib.util

    from .compiled import CompiledFunction
    path, _, name = spec.rpartition("::")
    if not os.path.isfile(path):
        raise LuminaValueError(f"{spec}: no file {path!r}")
    module_name = "_lumina_cli_" + os.path.splitext(os.path.basename(path))[0]
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        module_spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if fn is None:
        raise LuminaValueError(f"{spec}: {path} defines no {name!r}")
    if not isinstance(fn, CompiledFunction):
        raise LuminaValueError(f"{spec}: {name} is a {type(fn).__name__}, not a function decorated with "
                               "@lumina.compile")
    return fn


def _compiled_call(args):
    """``(CompiledFunction, arguments)`` for the CLI's TARGET: an ONNX model's compiled trace on
    random inputs (``--dim``), or ``file.py::fn`` on example inputs (``--shapes``, ``--dtypes``)."""
    target = args.target
    if "::" in target:
        if args.dim:
            raise LuminaValueError(f"{target}: --dim sizes an ONNX model's symbolic dimensions; a "
                                   "file.py::fn target takes --shapes")
        if args.shapes is None:
            raise LuminaValueError(f"{target}: give the example inputs' shapes with --shapes (e.g. 64x64,64)")
        return _load_function(target), _example_inputs(_parse_shapes(args.shapes), args.dtypes)
    if args.shapes is not None or args.dtypes is not None:
        raise LuminaValueError("--shapes/--dtypes describe a file.py::fn target; an ONNX model takes --dim")
    from .onnx import load
    model = load(target)
    inputs = model._bind([], _random_inputs(model, _dims(args.dim, _model_dims(model))))
    model._run(inputs)     # learns which inputs the model needs by value (shapes, axes)
    return model._compiled, model._args(inputs)


def _memory_section(lowered) -> list[str]:
    """The memory plan's description, ending with the one summary line ``MEMORY_LINE``."""
    import re
    plan = lowered.memory_plan()
    summary = re.compile(r"^memory: arena \d+ bytes, naive \d+ bytes, lower bound \d+ bytes$")
    lines = [line for line in plan.describe().splitlines() if not summary.match(line)]
    return lines + [MEMORY_LINE.format(plan.arena_bytes, plan.naive_bytes, plan.lower_bound_bytes)]


def _dump(args) -> int:
    fn, call_args = _compiled_call(args)
    lowered = fn.lower(*call_args)
    name = lowered.graph.name
    if args.target_kind == "kernel":
        print(lowered.as_text("kernel"))
        return 0
    if args.target_kind == "llvm":
        print(lowered.llvm_ir() or f"; {name}: no loop kernels (only GEMM calls)")
        return 0
    if args.target_kind in ("triton", "metal"):
        comment = "#" if args.target_kind == "triton" else "//"
        for i, (kernel, source) in enumerate(lowered.kernel_sources(args.target_kind)):
            print(f"{comment} ---- {name}: kernel {i} {kernel} ({args.target_kind}) ----")
            print(source.rstrip("\n"))
        return 0
    if not args.memory:
        previous = None
        for stage in lowered.stages():
            text = lowered.as_text(stage)
            title = "input" if stage == "input" else f"after {stage}"
            if text == previous:
                print(f"// ---- {name}: {title} (unchanged) ----")
            else:
                print(f"// ---- {name}: {title} ----\n{text}")
            previous = text
        n = len(lowered.kernels())
        print(f"// ---- {name}: partition, {n} kernel{'s' * (n != 1)} ----")
        print(lowered.partition())
        print(f"// ---- {name}: memory plan ----")
    print("\n".join(_memory_section(lowered)))
    return 0


def _viz(args) -> int:
    import graphviz
    fn, call_args = _compiled_call(args)
    lowered = fn.lower(*call_args)
    if args.stage == "optimized":
        dot = lowered.to_dot()
    else:
        dot = lowered.graph.to_dot(forward_outputs=sum(lowered._entry.out_is_tensor))
    fmt = os.path.splitext(args.output)[1].lstrip(".").lower() or "svg"
    if fmt in ("dot", "gv"):
        data = dot.source.encode()
    else:
        try:
            data = dot.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise LuminaValueError("viz: Graphviz's 'dot' binary is not installed; run "
                                   "scripts/install-system-deps.sh (or apt-get install graphviz)") from None
        except (ValueError, graphviz.CalledProcessError) as e:
            raise LuminaValueError(f"viz: Graphviz cannot write {args.output!r} ({fmt}): {e}") from None
    with open(args.output, "wb") as f:
        f.write(data)
    n = len(lowered.kernels())
    print(f"wrote {args.output}: {len(lowered.graph.nodes) if args.stage == 'input' else n} "
          f"{'nodes' if args.stage == 'input' else 'kernels'}")
    return 0


def _profile(args) -> int:
    fn, call_args = _compiled_call(args)
    report = fn.profile_report(*call_args, repeat=args.repeat)
    print(report.table(top=args.top))
    return 0


def _add_target(p) -> None:
    p.add_argument("target", metavar="TARGET", help="MODEL.onnx or path/to/file.py::fn")
    p.add_argument("--dim", action="append", metavar="NAME=N", help="ONNX: size of a symbolic dimension (default 1)")
    p.add_argument("--shapes", metavar="S", help="file.py::fn: example input shapes, e.g. 64x64,64")
    p.add_argument("--dtypes", metavar="D", help="file.py::fn: example input dtypes, e.g. float32,int64")


def main(argv=None) -> int:
    from . import __version__
    parser = argparse.ArgumentParser(prog="lumina", description="lumina deep-learning compiler")
    parser.add_argument("--version", action="version", version=f"lumina {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="show the version, the code-generation target and thread count").set_defaults(fn=_info)
    run = sub.add_parser("run", help="run an ONNX model and print its outputs' shapes and checksums")
    run.add_argument("model")
    run.add_argument("--input", action="append", metavar="NAME=FILE.npy", help="an input from a .npy file")
    run.add_argument("--random-inputs", action="store_true", help="random values for inputs not given")
    run.add_argument("--dim", action="append", metavar="NAME=N", help="size of a symbolic dimension (default 1)")
    run.add_argument("--bench", type=int, default=0, metavar="N", help="time N runs, print latency percentiles")
    run.set_defaults(fn=_run)
    inspect = sub.add_parser("inspect", help="opset, inputs/outputs, op histogram, unsupported ops, the IR")
    inspect.add_argument("model")
    inspect.add_argument("--dim", action="append", metavar="NAME=N", help="size of a symbolic dimension (default 1)")
    inspect.set_defaults(fn=_inspect)
    dump = sub.add_parser("dump", help="the IR before and after each pass, the kernel partition, the memory plan")
    _add_target(dump)
    dump.add_argument("--memory", action="store_true", help="only the memory plan, ending with the summary line")
    dump.add_argument("--target", dest="target_kind", choices=("ir", "kernel", "llvm", "triton", "metal"),
                      default="ir", help="kernel: every kernel description as text, naming the IR nodes "
                                         "it came from; llvm: the generated LLVM IR instead; triton, metal: "
                                         "each kernel's generated Triton (cuda) or Metal Shading Language source")
    dump.set_defaults(fn=_dump)
    viz = sub.add_parser("viz", help="draw the graph (kernels as clusters) through Graphviz")
    _add_target(viz)
    viz.add_argument("-o", "--output", required=True, metavar="OUT.svg",
                     help="output file; its extension picks the format (svg, png, pdf; dot/gv: DOT source)")
    viz.add_argument("--stage", choices=("optimized", "input"), default="optimized",
                     help="optimized: after the passes, kernels as clusters (default); input: as traced")
    viz.set_defaults(fn=_viz)
    prof = sub.add_parser("profile", help="per kernel FLOPs, bytes moved, time, GFLOP/s, GB/s and share")
    _add_target(prof)
    prof.add_argument("--repeat", type=int, default=10, metavar="N", help="best of N runs per kernel")
    prof.add_argument("--top", type=int, default=None, metavar="N", help="only the N slowest kernels")
    prof.set_defaults(fn=_profile)
    cache = sub.add_parser("cache", help="the disk cache of compiled code: its size, or clear it")
    cache.add_argument("action", choices=["info", "clear"])
    cache.set_defaults(fn=_cache)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except BrokenPipeError:   # `lumina dump ... | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")
        return 0
    except LuminaError as e:
        print(f"lumina: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
