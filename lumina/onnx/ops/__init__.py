"""ONNX operators as lumina ops: one handler per ``op_type``, registered in ``HANDLERS``.

Each module holds one family of operators (see ``registry`` for what a handler receives and
returns); importing the package registers all of them.
"""
from . import (activation, attention, bitwise, conv, elementwise, index, linalg, loss, norm, quantize,
               recurrent, reduce, resize, shape)  # noqa: F401  (registers the handlers)
from .registry import HANDLERS, Ctx, NeedsValue

__all__ = ["HANDLERS", "Ctx", "NeedsValue"]
