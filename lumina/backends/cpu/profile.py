"""The per-kernel profile: FLOPs, bytes moved, time, achieved rates and share of the step.

The counts are analytic, from the IR nodes each kernel computes (its fusion group):

* ``dot``: ``2 * M * N * K * batch`` (a multiply and an add per term), i.e. ``2 * numel(out) * K``;
* an elementwise primitive (unary, binary, ``where``): one operation per output element, a
  transcendental (``exp``, ``tanh``...) counting as one like an add; ``cast`` and movement ops
  (index arithmetic) count nothing;
* a reduction: one operation per input element (``numel(in)`` adds or max-compares).

A node a kernel recomputes (inlined into several kernels) is counted in each. Bytes moved are the
sizes of the buffers the launch reads plus those it writes, each once (a lower bound on the traffic:
a GEMM re-reads its operands from cache). Time is the best of ``repeat`` runs of the launch alone
(``Executable.profile``), so the rates are those of the kernel with warm caches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import LuminaValueError
from ...ir.ops import Kind
from ...ir.symbolic import evaluate


@dataclass(frozen=True)
class KernelProfile:
    """One launch: ``name``, ``kind`` (the fusion kernel's: "dot", "reduce", "elementwise"...), ``flops`` (operations),
    ``bytes`` (bytes read + written), ``seconds`` (best wall time), ``share`` (of the step's summed
    kernel time, 0..1)."""
    name: str
    kind: str
    flops: int
    bytes: int
    seconds: float
    share: float

    @property
    def gflops(self) -> float:
        """Achieved GFLOP/s (1e9 operations per second)."""
        return self.flops / self.seconds / 1e9 if self.seconds > 0 else 0.0

    @property
    def gbytes(self) -> float:
        """Achieved GB/s (1e9 bytes per second)."""
        return self.bytes / self.seconds / 1e9 if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ProfileReport:
    """Every launch of a step, in launch order; ``str(report)`` is the formatted table."""
    rows: list[KernelProfile]

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.rows)

    @property
    def flops(self) -> int:
        return sum(r.flops for r in self.rows)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.rows)

    def table(self, top: int | None = None) -> str:
        """The rows as an aligned text table (``top``: only the slowest ``top`` rows, then a line
        for the rest), with a total line."""
        rows = self.rows
        hidden: list[KernelProfile] = []
        if top is not None and len(rows) > top:
            keep = set(sorted(range(len(rows)), key=lambda i: -rows[i].seconds)[:top])
            hidden = [r for i, r in enumerate(rows) if i not in keep]
            rows = [r for i, r in enumerate(rows) if i in keep]
        width = max([len(r.name) for r in rows] + [len(f"total ({len(self.rows)} kernels)")])
        kw = max([len(r.kind) for r in rows] + [4])
        head = f"{'kernel':<{width}}  {'kind':<{kw}} {'MFLOP':>9} {'MB':>8} {'us':>9} {'GFLOP/s':>8} {'GB/s':>7} {'share':>6}"
        lines = [head, "-" * len(head)]

        def line(name, kind, flops, nbytes, seconds, share):
            gf = flops / seconds / 1e9 if seconds > 0 else 0.0
            gb = nbytes / seconds / 1e9 if seconds > 0 else 0.0
            return (f"{name:<{width}}  {kind:<{kw}} {flops / 1e6:>9.3f} {nbytes / 1e6:>8.3f} {seconds * 1e6:>9.1f} "
                    f"{gf:>8.2f} {gb:>7.2f} {share * 100:>5.1f}%")
        lines += [line(r.name, r.kind, r.flops, r.bytes, r.seconds, r.share) for r in rows]
        if hidden:
            lines.append(line(f"({len(hidden)} more)", "", sum(r.flops for r in hidden), sum(r.bytes for r in hidden),
                              sum(r.seconds for r in hidden), sum(r.share for r in hidden)))
        lines.append("-" * len(head))
        lines.append(line(f"total ({len(self.rows)} kernels)", "", self.flops, self.bytes, self.seconds,
                          1.0 if self.rows else 0.0))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def node_flops(node) -> int:
    """Operations of one IR node under the counting rules of this module's docstring."""
    kind = node.op.kind
    if kind is Kind.DOT:
        lhs = node.inputs[0]
        k = math.prod(lhs.shape[a] for a in node.attrs["contract"][0])
        return 2 * node.type.numel * k
    if kind in (Kind.UNARY, Kind.BINARY, Kind.TERNARY):
        return node.type.numel
    if kind is Kind.REDUCE:
        return node.inputs[0].type.numel
    return 0


def kernel_flops(kernel) -> int:
    """Operations of a fusion ``Kernel``: the sum over the nodes it computes."""
    return sum(node_flops(n) for n in kernel.nodes)


def profile_report(executable, inputs: list, repeat: int = 10, sizes: dict | None = None) -> ProfileReport:
    """Time every launch of ``executable`` on ``inputs`` (``Executable.profile``) and count its
    FLOPs and bytes, at ``sizes`` (``{symbol: size}``) for the instance of a program with symbolic
    sizes, whose kernels count in symbols; each launch is the kernel of the fusion partition of its name (the program in
    ``executable.info["program"]``). The launches that run only when another array is bound to a
    frozen input (``Executable.hoisted``) are not part of a call, so not of the report. Raises
    LuminaValueError for a launch without its kernel (an executable built without a program)."""
    program = executable.info.get("program")
    kernels = {desc.name: kernel for kernel, desc, _ in program.grouped_kernels()} if program is not None else {}
    timed = executable.profile(inputs, repeat)
    missing = [launch.name for launch, _ in timed if launch.name not in kernels]
    if missing:
        raise LuminaValueError(f"profile: launches {missing[:5]} have no kernel in the program; "
                               "cannot attribute FLOPs to launches")
    total = sum(t for _, t in timed)
    rows = []
    for launch, seconds in timed:
        kernel = kernels[launch.name]
        slots = set(launch.reads) | set(launch.writes)
        nbytes = sum(math.prod(executable.slots[s].shape) * executable.slots[s].dtype.itemsize for s in slots)
        flops = kernel_flops(kernel)
        flops = evaluate(flops, sizes) if sizes else flops
        rows.append(KernelProfile(launch.name, kernel.kind, flops, nbytes, seconds,
                                  seconds / total if total > 0 else 0.0))
    return ProfileReport(rows)
