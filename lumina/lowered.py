"""``CompiledFunction.lower(*args)``: one compiled signature, for inspection (IR at every stage,
the partition, the kernels, the generated code, the memory plan), in the spirit of
``jax.jit(f).lower(x)``."""
from __future__ import annotations

from .backends import devices
from .codegen.sizes import kernel_at
from .compiler import compile_graph
from .errors import LuminaTypeError


class Lowered:
    """Inspection of one compiled signature, in the spirit of ``jax.jit(f).lower(x)``."""

    def __init__(self, entry):   # a ``compiled._Entry``
        self._entry = entry
        self.graph = entry.graph
        self.executable = entry.executable

    def as_text(self, stage: str = "input") -> str:
        """IR text at ``stage``: "input" (as traced), "optimized" (after all passes) or a pass name;
        "kernel": the kernel descriptions instead (``kernels_text``). Raises LuminaTypeError for
        any other stage."""
        stages = self.executable.info["stages"]
        table = dict(stages, optimized=stages[-1][1])
        if stage == "kernel" and stage not in table:
            return self.kernels_text()
        if stage not in table:
            raise LuminaTypeError(f"as_text: unknown stage {stage!r}; stages are {list(table) + ['kernel']}")
        return str(table[stage])

    def kernels_text(self) -> str:
        """Every kernel description as text, in launch order (``codegen.kernel_text``): each under
        a ``// ---- <graph>: kernel <i> ----`` line, with the IR nodes it was fused from (numbered
        as in ``as_text("optimized")``) as comments, its buffers and its loop nest. What ``lumina
        dump --target kernel`` prints."""
        from .codegen.kernel_text import format_kernels
        kernels = self.kernels()
        if not kernels:
            return f"// ---- {self.graph.name}: no kernels ----"
        return format_kernels(kernels, title=f"{self.graph.name}: ")

    def partition(self) -> str:
        """Which IR nodes went into which kernel, and why each kernel's output is materialised."""
        return self.executable.info["partition"].describe()

    def kernels(self) -> list:
        """The kernel descriptions (``LoopKernel`` / ``DotKernel``) in launch order."""
        return list(self.executable.info["kernels"])

    def llvm_ir(self) -> str:
        """The LLVM IR of the generated loop kernels, then of each GEMM's epilogue module (its
        elementwise epilogue and a row-fused GEMM's row stages, under a comment naming the
        kernel; the packed GEMM itself is a library routine), before LLVM's optimisation; for a
        function compiled for another device, that of the same graph compiled for the cpu."""
        exe = self.executable
        if getattr(exe, "device", "cpu") != "cpu":
            exe = compile_graph(self.graph, "cpu", options=self._entry.key[2])
        return exe.info["llvm"]

    def kernel_sources(self, target: str) -> list[tuple[str, str]]:
        """``(kernel name, source)`` per kernel in launch order, as ``target`` renders it: "triton"
        (the cuda device's kernels) or "metal" (MSL), whatever device this signature runs on (the
        kernel descriptions are the same for every device); see ``backends.devices.kernel_source``."""
        sizes = getattr(self.executable, "last_sizes", None)   # symbolic: at the sizes it ran at last
        return [(d.name, devices.kernel_source(d if sizes is None else kernel_at(d, sizes), target))
                for d in self.kernels()]

    def memory_plan(self):
        """The executable's ``schedule.memory.MemoryPlan``: the arena offset of every intermediate
        buffer (by slot), and the arena, naive and lower-bound sizes in bytes. The runtime's arena
        (``self.executable.arena``, a uint8 array) has exactly ``arena_bytes``."""
        return self.executable.memory_plan

    def stages(self) -> list[str]:
        """The stage names ``as_text`` takes, in pipeline order: "input", then one per pass."""
        return [name for name, _ in self.executable.info["stages"]]

    def to_dot(self):
        """A ``graphviz.Digraph`` of the optimized graph with its kernels as clusters and the
        forward part (what the function's returned tensors depend on) coloured apart from the
        backward part (gradients, state updates); see ``ir.export.to_dot``."""
        part = self.executable.info["partition"]
        return part.graph.to_dot(part, forward_outputs=sum(self._entry.out_is_tensor),
                                 kernel_names=[k.name for k in self.kernels()])
