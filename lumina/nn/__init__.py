"""Neural-network layers and losses, PyTorch-style."""
from . import functional, utils
from .layers import GELU, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module, Parameter

__all__ = ["GELU", "Linear", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "functional", "utils"]
