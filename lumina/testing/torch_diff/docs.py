"""The generated tables of ``docs/torch_parity.md``: coverage (one row per spec), exclusions, known
differences, and the comparison rules with the deliberate differences of specs and signatures;
``write_docs`` refreshes them in place."""
from __future__ import annotations

import re
from pathlib import Path

from ..torch_signatures import SIGNATURE_DIFFERENCES, SIGNATURE_EXCLUDED, SIGNATURE_OMISSIONS
from .known import KNOWN_DIFFERENCES
from .table import EXCLUDED, OPS


COMPARISON_RULES: list[tuple[str, str]] = [
    ("Signs of zero of max, min, maximum, minimum, amax, amin, relu, clamp and max_pool2d are not compared",
     "IEEE 754 leaves the sign of max(+0, -0) open and torch 2.13 itself answers both ways: "
     "torch.maximum(0., -0.) is 0. from its scalar loop and -0. from its vectorised one"),
    ("A gradient that does not exist may be NaN in one library and +-inf in the other",
     "at a NaN or infinite input (or an overflow) the derivative is undefined; both libraries must "
     "agree that it is not finite, and infinities must have the same sign"),
    ("A value that equals torch's float64 result rounded to the dtype is accepted",
     "lumina is then correctly rounded and torch's own 16/32-bit result is the less accurate one "
     "(torch's float32 gelu(+-inf) is NaN, its float32 gradient of var overflows)"),
    ("var, std and layer_norm of inputs beyond 2^64 are also compared with torch on inputs scaled "
     "by a power of two", "f(x) = 2^(k d) f(x / 2^k) exactly; torch's float64 statistics overflow "
     "where the true result is finite (std([1.8e308, 1]) is 1.27e308, torch says inf)"),
    ("sigmoid, tanh, exp, log, sqrt, sin, cos, erf and gelu values and gradients are also compared with "
     "the exact function (mpmath, 40 digits) rounded to the dtype", "torch's float64 gradient formulas "
     "lose digits to cancellation (its sigmoid'(20) is 4e-8 off, relative), so there torch is no oracle"),
    ("float -> int casts are compared on finite values inside the int range",
     "C++ leaves NaN, inf and out-of-range conversions undefined; torch's result is platform noise"),
    ("Random ops (rand*, randn*, randint, dropout in training, the random nn.init functions) are "
     "compared on dtype, shape and range, not values", "lumina's counter-based generator and torch's "
     "Philox/MT streams differ by design; the checks are on the distribution's support "
     "(dropout: each element 0 or x / (1 - p))"),
    ("take_along_dim with an index out of range is not compared",
     "torch 2.13 does not check its indices there (its reference wraps them, indices % size, and returns a value); "
     "lumina raises LuminaIndexError"),
    ("The gradient with respect to a loss's class weights is checked by finite differences of lumina's forward",
     "torch cannot differentiate with respect to them (it raises when the weight requires grad), so it is no "
     "oracle there; the check runs on float64 cases with finite inputs"),
    ("Composite ops (normalisations, attention, losses, conv, layers) compare to ulps * eps * "
     "max(1, largest magnitude of torch's result)", "their elements come from sums whose terms are larger than the result; "
     "elementwise ops are compared relative to each element, and bit for bit where the result is "
     "exactly determined"),
]
"""How the checker compares, where that is looser than bit-for-bit equality, and why."""


def spec_differences() -> list[tuple[str, str]]:
    """(row, reason) for every deliberate difference a spec declares (``skip`` / ``amend``)."""
    out = []
    for name, s in sorted(OPS.items()):
        for reason, _ in s.skip:
            out.append((name, reason))
        if s.amend is not None:
            out.append((name, s.amend[0]))
    return out


def render_coverage() -> str:
    """The coverage table of ``docs/torch_parity.md``: one row per spec."""
    lines = ["| name | dtypes | values | gradient | also checked |", "|---|---|---|---|---|"]
    for name, s in sorted(OPS.items()):
        if s.values:
            values = "exact bits" if s.exact else f"{s.ulps:g} eps" + (" + sum bound" if s.accumulates else "") + (
                " (normwise)" if s.normwise else "")
        else:
            values = "dtype, shape, range"
        grad = ("vs autograd" + (" (+ parameters)" if s.module else "")) if s.grad else "-"
        lines.append(f"| `{name}` | {', '.join(s.dtypes)} | {values} | {grad} | {s.checks or ''} |")
    return "\n".join(lines)


def render_exclusions() -> str:
    """The exclusions table of ``docs/torch_parity.md``: ``EXCLUDED``, by name."""
    lines = ["| name | reason |", "|---|---|"]
    for name, why in sorted(EXCLUDED.items()):
        lines.append(f"| `{name}` | {why} |")
    return "\n".join(lines)


def render_differences() -> str:
    """The comparison rules of ``docs/torch_parity.md``: ``COMPARISON_RULES``, the cases specs leave
    out on purpose, and the signature check's omissions, exclusions and deliberate differences."""
    lines = ["| what | why |", "|---|---|"]
    for what, why in COMPARISON_RULES:
        lines.append(f"| {what} | {why} |")
    for name, why in spec_differences():
        lines.append(f"| `{name}`: cases left out | {why} |")
    lines += ["", "| parameter | left out of every lumina signature because |", "|---|---|"]
    for p, why in sorted(SIGNATURE_OMISSIONS.items()):
        lines.append(f"| `{p}` | {why} |")
    lines += ["", "| name | signature not compared because |", "|---|---|"]
    for name, why in sorted(SIGNATURE_EXCLUDED.items()):
        lines.append(f"| `{name}` | {why} |")
    lines += ["", "| name | parameter | differs on purpose because |", "|---|---|---|"]
    for name, params in sorted(SIGNATURE_DIFFERENCES.items()):
        for p, why in sorted(params.items()):
            lines.append(f"| `{name}` | `{p}` | {why} |")
    return "\n".join(lines)


def render_known() -> str:
    """The "Known differences" of ``docs/torch_parity.md``: ``KNOWN_DIFFERENCES``, gaps first."""
    out = []
    for supported, title in ((False, "Not supported yet (lumina raises a clear LuminaError where torch computes)"),
                             (True, "Deliberate differences")):
        out += [f"### {title}", "", "| names | cases | compared as | why |", "|---|---|---|---|"]
        for e in KNOWN_DIFFERENCES:
            if e.supported == supported:
                names = ", ".join(f"`{r}`" for r in e.rows)
                cell = lambda text: text.replace("|", "\\|")  # noqa: E731
                out.append(f"| {names} | {cell(e.cases)} | {', '.join(e.kinds)} | {cell(e.why)} |")
        out.append("")
    return "\n".join(out[:-1])


DOCS = Path(__file__).resolve().parents[3] / "docs" / "torch_parity.md"   # parents[3]: the repository root
"""docs/torch_parity.md: its generated sections lie between ``<!-- torch_diff:NAME -->`` and
``<!-- /torch_diff:NAME -->`` (``write_docs`` refreshes them)."""


def write_docs() -> None:
    """Rewrites the generated sections of ``DOCS`` with the current tables; raises ValueError when
    a section's markers are missing."""
    text = DOCS.read_text()
    for tag, body in (("coverage", render_coverage()), ("exclusions", render_exclusions()),
                      ("known", render_known()), ("differences", render_differences())):
        pattern = re.compile(f"(<!-- torch_diff:{tag} -->\\n).*?(<!-- /torch_diff:{tag} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{DOCS}: no generated section {tag!r}")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    DOCS.write_text(text)
