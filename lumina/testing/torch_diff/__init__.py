"""Differential testing against PyTorch 2.13: every public lumina name that PyTorch also has, run on
generated inputs in both libraries and compared. One module per concept:

- ``namesakes()`` (``lumina.testing.namesakes``): the public names of ``lumina``, ``lumina.Tensor``,
  ``lumina.nn.functional``, ``lumina.nn`` (layers, ``init``, ``utils``) that torch has under the
  same name, found by introspection, so a new name cannot escape the table.
- ``cases``: ``Case``/``Arr``/``Dt``, one call's arguments, as NumPy arrays and Python values,
  converted to either library's tensors by the runner; ``strategies``: the hypothesis strategies
  that draw them (``array``, ``shapes``, ``broadcast_shapes``, the special values of ``specials``)
  and the unary, binary and reduction case families.
- ``spec``: ``OpSpec``, how to call a namesake (``call(L, *args)`` written once for ``L`` =
  ``lumina`` or ``torch``), the strategy of its cases per dtype, and how to compare (exact bits, a
  tolerance in units of the dtype's epsilon, the rounding bound of a sum, further references where
  torch is no oracle: float64, power-of-two rescaling, mpmath, finite differences).
- ``check(spec, cases)`` (``check``, running both libraries with ``run``, comparing with
  ``compare``, the further references of ``references``): runs a batch of cases (one lumina
  realisation for all their outputs and gradients) and returns the ``Discrepancy`` list
  (``discrepancy``): wrong values, NaN/inf/signed-zero positions, dtypes, shapes, return types
  (named tuples), gradients, and errors (where torch raises, lumina must raise a ``LuminaError``;
  lumina raising where torch returns is reported too).
- ``table``: ``OPS``, one ``OpSpec`` per namesake (``name#variant`` for further rows), assembled
  from the op families of ``ops`` (elementwise, linalg, reductions, shapes, indexing, creation,
  conversions, autograd, inplace, functional, modules, parameters); ``EXCLUDED``: namesakes not
  run, each with its reason. ``generate``: the cases a row runs (``cases_for``).
- ``known``: ``KNOWN_DIFFERENCES``, reviewed differences, each a predicate on a row's
  discrepancies (the case, lumina's error, the differing elements) with its reason: gaps where
  lumina raises a ``LuminaError`` and torch computes, and deliberate differences. ``triage``
  splits a row's discrepancies into failures and known differences, and names the entries that
  matched nothing (stale: the gap was closed, remove the entry).
- Signatures live in ``lumina.testing.torch_signatures`` (``signature_namesakes()``,
  ``torch_signatures(name)``, ``compare_signature`` and the reviewed exceptions).
- ``docs``: ``write_docs()``, the generated tables of ``docs/torch_parity.md``;
  ``COMPARISON_RULES``, where the comparison is looser than bit-for-bit, and why.

``python -m lumina.testing.torch_diff [NAME ...]`` (``cli``) runs the table (or the rows named) and
prints every distinct discrepancy; ``--write-docs`` refreshes the document.
"""
from ..namesakes import namesakes
from .cases import ALL, FLOATS, INTS, Arr, Case, Dt, is_float
from .check import check
from .cli import main
from .compare import GRAD_ULPS
from .discrepancy import Discrepancy, Mismatch, distinct
from .docs import (COMPARISON_RULES, DOCS, render_coverage, render_differences, render_exclusions, render_known,
                   spec_differences, write_docs)
from .generate import cases_for, draw_cases, fixed_cases
from .known import KNOWN_DIFFERENCES, KnownDifference, known_difference, triage
from .spec import OpSpec, available, namesake_of
from .strategies import (array, binary_cases, binary_specials, broadcast_shapes, dim_of, element, ordinary, rarely,
                         reduce_cases, reduce_specials, shapes, specials, unary_cases, unary_specials)
from .table import EXCLUDED, OPS, coverage

__all__ = [
    "ALL", "COMPARISON_RULES", "DOCS", "EXCLUDED", "FLOATS", "GRAD_ULPS", "INTS", "KNOWN_DIFFERENCES", "OPS", "Arr",
    "Case", "Discrepancy", "Dt", "KnownDifference", "Mismatch", "OpSpec", "array", "available", "binary_cases",
    "binary_specials", "broadcast_shapes", "cases_for", "check", "coverage", "dim_of", "distinct", "draw_cases",
    "element", "fixed_cases", "is_float", "known_difference", "main", "namesake_of", "namesakes", "ordinary", "rarely",
    "reduce_cases", "reduce_specials", "render_coverage", "render_differences", "render_exclusions", "render_known",
    "shapes", "spec_differences", "specials", "triage", "unary_cases", "unary_specials", "write_docs",
]
