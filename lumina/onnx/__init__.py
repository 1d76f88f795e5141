"""ONNX import-and-run: ``lumina.onnx.load(path)`` returns a model that runs the graph through
lumina's compiler (see ``onnx.model``); the op handlers are in ``onnx.ops``."""
from .model import OnnxModel, load

__all__ = ["OnnxModel", "load"]
