"""Neural-network layers and losses, PyTorch-style."""
from . import functional, init, utils
from .attention import MultiheadAttention
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .dropout import Dropout
from .containers import ModuleDict, ParameterDict, ParameterList
from .layers import GELU, Flatten, Identity, Linear, ModuleList, ReLU, Sequential, Sigmoid, Tanh, Unflatten
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, CTCLoss, GaussianNLLLoss,
                   HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss, MSELoss, NLLLoss, PoissonNLLLoss, SmoothL1Loss,
                   TripletMarginLoss)
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .sparse import Embedding

__all__ = ["AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CosineEmbeddingLoss",
           "CrossEntropyLoss", "CTCLoss", "Dropout", "Embedding", "Flatten", "GELU", "GaussianNLLLoss", "HuberLoss",
           "Identity", "KLDivLoss", "L1Loss", "LayerNorm", "Linear", "MSELoss", "MarginRankingLoss",
           "MaxPool2d", "Module", "ModuleDict", "ModuleList", "MultiheadAttention", "NLLLoss", "Parameter",
           "ParameterDict", "ParameterList", "PoissonNLLLoss", "ReLU", "Sequential", "Sigmoid",
           "SmoothL1Loss", "Tanh", "TripletMarginLoss", "Unflatten", "functional", "init", "utils"]
