"""Neural-network layers and losses, PyTorch-style."""
from . import functional, init, utils
from .attention import MultiheadAttention
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .dropout import Dropout
from .layers import GELU, Flatten, Linear, ModuleList, ReLU, Sequential, Sigmoid, Tanh
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .sparse import Embedding

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout", "Embedding", "Flatten", "GELU",
           "LayerNorm", "Linear", "MaxPool2d", "Module", "ModuleList", "MultiheadAttention", "Parameter", "ReLU",
           "Sequential", "Sigmoid", "Tanh", "functional", "init", "utils"]
