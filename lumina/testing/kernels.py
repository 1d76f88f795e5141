"""Every kernel of a compiled program with the buffers it really reads and writes, for testing a
backend kernel by kernel against the CPU backend.

    exe = lumina.compile(step).lower(*args).executable        # or driver.compile_graph(graph)
    for case in capture(exe, inputs):
        outs = my_backend_run(case.kernel, case.inputs)    # one array per output buffer
        for got, want in zip(outs, case.outputs):
            np.testing.assert_allclose(got, want, ...)

``capture`` runs the CPU executable one launch at a time (the stepwise path) and copies each
kernel's input buffers just before its launch and its output buffers just after, so a kernel sees
the values it sees in the real program: no random data that would send a ``log`` or a ``gather``
index somewhere the program never goes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codegen.kernel import DotKernel, LoopKernel, RowKernel
from ..runtime.executable import Executable


@dataclass
class KernelCase:
    """Kernel description ``kernel`` (its ``buffers`` order: inputs, then outputs), the flat arrays
    it read (one per input buffer) and the flat arrays it wrote on the CPU (one per output)."""
    kernel: LoopKernel | RowKernel | DotKernel
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


def n_outputs(kernel) -> int:
    """How many of ``kernel.buffers`` (the last ones) it writes."""
    return kernel.n_outputs if isinstance(kernel, RowKernel) else 1


def capture(exe: Executable, inputs: list[np.ndarray]) -> list[KernelCase]:
    """One ``KernelCase`` per kernel of ``exe``, in launch order, from one run on ``inputs``."""
    prog = exe.info["program"]
    arrays, ptrs = exe._bind(inputs)   # noqa: SLF001 - a testing hook into the executable
    ptrs = [int(p) for p in ptrs]
    cases = []
    with exe._lock:                      # noqa: SLF001
        for launch, (_, desc, kslots) in zip(exe.launches, prog.kernels):
            n_in = len(desc.buffers) - n_outputs(desc)
            before = [np.array(arrays[s], copy=True).reshape(-1) for s in kslots[:n_in]]
            exe._launch(launch, ptrs)    # noqa: SLF001
            after = [np.array(arrays[s], copy=True).reshape(-1) for s in kslots[n_in:]]
            cases.append(KernelCase(desc, before, after))
    return cases
