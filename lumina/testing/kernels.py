"""Every kernel of a compiled program with the buffers it really reads and writes, for testing a
backend kernel by kernel against the CPU backend.

    exe = lumina.compile(step).lower(*args).executable        # or compiler.compile_graph(graph)
    for case in capture(exe, inputs):
        outs = my_backend_run(case.kernel, case.inputs)    # one array per output buffer
        for got, want in zip(outs, case.outputs):
            np.testing.assert_allclose(got, want, ...)

``capture`` runs the CPU executable one launch at a time (the stepwise path) and copies each
kernel's input buffers just before its launch and its output buffers just after, so a kernel sees
the values it sees in the real program: no random data that would send a ``log`` or a ``gather``
index somewhere the program never goes.

``assert_matches`` is the comparison rule every backend's per-kernel tests use, ``canonical`` the
form in which structurally equal kernels compile once, and ``cpu_outputs`` runs a hand-built
kernel description on the CPU backend as the oracle.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np

from ..codegen import expr as E
from ..codegen.kernel import DotKernel, LoopKernel, RowKernel
from ..codegen.sizes import kernel_at
from ..ir.dtypes import DType
from ..backends.cpu.executable import Executable
from ..backends.cpu.host_kernel import launcher


@dataclass
class KernelCase:
    """Kernel description ``kernel`` (its ``buffers`` order: inputs, then outputs), the flat arrays
    it read (one per input buffer) and the flat arrays it wrote on the CPU (one per output)."""
    kernel: LoopKernel | RowKernel | DotKernel
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


def capture(exe: Executable, inputs: list[np.ndarray]) -> list[KernelCase]:
    """One ``KernelCase`` per kernel of ``exe``, in launch order, from one run on ``inputs``.

    When the memory plan put one output of a kernel in the memory of an earlier one (a row-fused
    GEMM's stage output over C, which only the stages read), the earlier output's value is taken
    from a second launch with that output in a buffer of its own, inputs restored: every output is
    what the kernel wrote there, as a backend that does not share the memory writes it. A
    symbolic executable (``backends.cpu.symbolic_executable``) is captured at the inputs' sizes,
    its kernel descriptions with them."""
    values = None
    if hasattr(exe, "instance"):   # symbolic sizes: the executable at the inputs' sizes
        values = exe.sizes(inputs)
        exe = exe.instance(values)
    prog = exe.info["program"]
    arrays, ptrs = exe._bind(inputs)
    launches = {launch.name: launch for launch in (*exe.hoisted, *exe.launches)}   # the hoisted ones too
    cases = []
    with exe._lock:
        exe._refresh(arrays, ptrs)   # the GEMM operands packed ahead, from these inputs
        ptrs = [int(p) for p in ptrs]
        for _, desc, kslots in prog.kernels:
            launch = launches[desc.name]
            n_in = len(desc.buffers) - desc.n_outputs
            before = [np.array(arrays[s], copy=True).reshape(-1) for s in kslots[:n_in]]
            exe._launch(launch, ptrs)
            after = [np.array(arrays[s], copy=True).reshape(-1) for s in kslots[n_in:]]
            outs = kslots[n_in:]
            for j, slot in enumerate(outs):
                if any(np.shares_memory(arrays[slot], arrays[t]) for t in outs[j + 1:]):
                    own = np.empty_like(arrays[slot])
                    for s, x in zip(kslots[:n_in], before):   # an input the launch overwrote in place
                        if any(np.shares_memory(arrays[s], arrays[t]) for t in outs):
                            arrays[s].reshape(-1)[...] = x
                    exe._launch(launch, ptrs[:slot] + [own.ctypes.data] + ptrs[slot + 1:])
                    after[j] = own.reshape(-1)
            cases.append(KernelCase(desc if values is None else kernel_at(desc, values), before, after))
    return cases


def canonical(desc):
    """``desc`` without its name and IR lines: kernels equal under this render the same source, so
    a backend test compiles (or loads) them once."""
    return replace(desc, name="k", source=())


def cpu_outputs(desc: LoopKernel | RowKernel, inputs) -> list[np.ndarray]:
    """The outputs (one flat array per output buffer) of a hand-built loop or row kernel run on the
    CPU backend (``backends.cpu.host_kernel.launcher``: the LLVM renderer, whose semantics are the spec)
    over ``inputs`` (arrays in ``desc.buffers`` order, any shape)."""
    outs = [np.zeros(b.numel, b.dtype.numpy) for b in desc.buffers[len(desc.buffers) - desc.n_outputs:]]
    launcher(desc)([np.ascontiguousarray(x).reshape(-1) for x in inputs] + outs)
    return outs


def _is_float(x: np.ndarray) -> bool:
    return x.dtype.kind == "f" or x.dtype == DType.bfloat16.numpy


def magnitude(x: np.ndarray) -> float:
    """The largest finite ``|x|`` (0 when there is none)."""
    x = x.astype(np.float64)
    return float(np.abs(x[np.isfinite(x)]).max(initial=0.0))


_ULP16 = {np.dtype(np.float16): 2.0 ** -10, DType.bfloat16.numpy: 2.0 ** -7}
_ROUNDING_NODES = (E.Un, E.Bin, E.Select, E.Cast, E.Acc)


def rounds_through_16bit(kernel) -> np.dtype | None:
    """The coarsest 16-bit float (bfloat16 before float16) that ``kernel`` rounds an intermediate
    value to: the dtype of a GEMM, or of an op, select, cast or accumulator in its expressions.
    None when it computes in float32/float64 only (16-bit buffers loaded and widened at once do not
    count: widening is exact)."""
    found: set[np.dtype] = set()

    def walk(node) -> None:
        if isinstance(node, _ROUNDING_NODES + (DotKernel,)) and node.dtype.numpy in _ULP16:
            found.add(node.dtype.numpy)
        if isinstance(node, (tuple, list)):
            for item in node:
                walk(item)
        elif is_dataclass(node) and not isinstance(node, type):
            for f in fields(node):
                if f.name not in ("buffers", "source", "dtype"):
                    walk(getattr(node, f.name))
    walk(kernel)
    return max(found, key=_ULP16.get, default=None)


def assert_matches(got: np.ndarray, want: np.ndarray, inputs, what: str, kernel=None) -> None:
    """A backend's output ``got`` against the CPU's ``want`` for one output of ``kernel``, given the
    kernel's ``inputs``; ``what`` names it in the failure message. The rule, one for every backend:

    - dtype and shape equal; integers and bools bit-exact;
    - floats: NaN exactly where the CPU has NaN, and otherwise ``|got - want| <= rtol * |want| +
      1e-6 * scale`` with ``rtol`` 1e-5, or one unit in the last place of a 16-bit float (2**-10
      float16, 2**-7 bfloat16) where the output is one or ``kernel`` rounds an intermediate to one
      (``rounds_through_16bit``, float32 outputs included): an ``exp`` or a GEMM's float32 sum one
      float32 ulp apart may round to the neighbouring 16-bit value, and that difference carries. ``scale`` is the largest finite magnitude among
      the kernel's float inputs and this output: a sum that cancels (a bias gradient behind a
      BatchNorm) is rounding noise the size of its terms, in any summation order (Triton sums a
      row as a tree, Metal per threadgroup, the CPU in SIMD lanes).

    Raises AssertionError naming ``what``."""
    assert got.dtype == want.dtype and got.shape == want.shape, (what, got.dtype, got.shape, want.dtype, want.shape)
    if not _is_float(want):
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    narrow = rounds_through_16bit(kernel) if kernel is not None else None
    rtol = max(_ULP16.get(want.dtype, 1e-5), _ULP16.get(narrow, 1e-5))
    got, want = got.astype(np.float64), want.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    scale = max([magnitude(want)] + [magnitude(x) for x in inputs if _is_float(x)])
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6 * scale, equal_nan=True, err_msg=what)
