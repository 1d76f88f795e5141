"""lumina as an ONNX backend (``onnx.backend.base.Backend``), so ONNX's own test runner and tools
can drive it: ``prepare(model).run(inputs)``. Only the CPU device exists."""
from __future__ import annotations

from typing import Any

import numpy as np
from onnx.backend.base import Backend, BackendRep

from .model import OnnxModel, load


class LuminaRep(BackendRep):
    """A prepared model: ``run(inputs)`` takes the graph inputs in order (a list, a tuple, one
    array, or a ``{name: array}`` dict) and returns the outputs as a tuple in graph order."""

    def __init__(self, model: OnnxModel):
        self.model = model

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, dict):
            outputs = self.model(**inputs)
        else:
            arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            outputs = self.model(*arrays[:len(self.model.input_names)])
        return tuple(outputs.values())


class LuminaBackend(Backend):
    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs: Any) -> bool:
        from .model import imports_op
        return cls.supports_device(device) and all(imports_op(n.op_type) for n in model.graph.node)

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs: Any) -> LuminaRep:
        return LuminaRep(load(model, device.lower()))

    @classmethod
    def run_model(cls, model, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper() == "CPU"


prepare = LuminaBackend.prepare
run_model = LuminaBackend.run_model
supports_device = LuminaBackend.supports_device
