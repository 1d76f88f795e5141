"""The ONNX backend node test suite (1,884 cases in onnx 1.23.2) through lumina.onnx: the number of
passing cases must not drop below the committed baseline, and no case may crash with anything but a
LuminaError. The per-op table is ``tests/onnx_conformance.md``
(``python -m lumina.onnx.conformance --write tests/onnx_conformance.md``).

The suite computes some expected outputs when it is collected, with the installed packages: its
int4/int2 Cast cases with ``ml_dtypes``, whose 0.7 release gives 0 for a float out of range where
earlier ones (and ONNX Runtime, and lumina) wrap, failing 24 cases. The count holds for the versions
in ``requirements/lock.txt``."""
from __future__ import annotations

from lumina.onnx import conformance

BASELINE = 1645   # passed cases when tests/onnx_conformance.md was last written


def test_conformance_does_not_regress():
    results = conformance.run(progress=False)
    passed = [r for r in results if r.status == "passed"]
    errored = [f"{r.case}: {r.reason}" for r in results if r.status == "errored"]
    assert not errored, "cases crashed outside LuminaError:\n" + "\n".join(errored)
    assert len(passed) >= BASELINE, (f"{len(passed)} of {len(results)} cases pass, below the baseline "
                                     f"{BASELINE}; see python -m lumina.onnx.conformance (and install "
                                     "with -c requirements/lock.txt: the expected values depend on it)")
