"""The exceptions lumina raises for failures a user can cause.

Every message names the op, the shapes and dtypes involved (and, for ONNX, the node), in the form
``op: what went wrong: what was given vs what was expected``.
"""


class LuminaError(Exception):
    """Base class of every error lumina raises on bad input."""


class LuminaShapeError(LuminaError, ValueError):
    """Shapes that do not fit an op: broadcast mismatch, matmul inner dims, reshape sizes."""


class LuminaSymbolicError(LuminaShapeError):
    """A symbolic size (``ir.symbolic.Sym``) was asked for something only a concrete size has: its
    value, an inexact division, a comparison the sizes decide. The compiler specialises the dims
    then."""


class LuminaTypeError(LuminaError, TypeError):
    """Dtypes an op does not accept, or an unsupported dtype."""


class LuminaValueError(LuminaError, ValueError):
    """An attribute or argument value out of range (an axis, a permutation, a slice step)."""


class LuminaIndexError(LuminaValueError, IndexError):
    """An integer index outside its dimension (an ``IndexError`` too, so ``for row in tensor`` stops
    where Python's sequence protocol expects)."""


class LuminaGradError(LuminaError, RuntimeError):
    """Autodiff misuse: backward on a non-scalar without a gradient, no path to an input."""


class LuminaIRError(LuminaError):
    """A graph the verifier rejects, or IR text the parser cannot read."""


class LuminaOnnxError(LuminaError, ValueError):
    """An ONNX model lumina cannot run: an unreadable file, an op or attribute it does not support,
    or inputs that do not match the graph. The message names the node (name and op type)."""


class LuminaTraceError(LuminaError, RuntimeError):
    """Misuse of ``@lumina.compile`` tracing, e.g. reading a value while tracing."""


class LuminaCodegenError(LuminaError):
    """A kernel that the code generator or the LLVM JIT cannot build."""


class LuminaDeviceError(LuminaError, RuntimeError):
    """A device that is not available here (``cuda`` without an NVIDIA GPU and Triton, ``metal`` off
    macOS), or tensors on two devices meeting in one op. The message names the device and why."""
