"""Neural-network layers and losses, PyTorch-style."""
from . import functional, init, utils
from .attention import MultiheadAttention
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, Fold, Unfold
from .dropout import Dropout
from .containers import ModuleDict, ParameterDict, ParameterList
from .layers import GELU, Flatten, Identity, Linear, ModuleList, ReLU, Sequential, Sigmoid, Tanh, Unflatten
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, CTCLoss, GaussianNLLLoss,
                   HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss, MSELoss, NLLLoss, PoissonNLLLoss, SmoothL1Loss,
                   TripletMarginLoss)
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
                      ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                      ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                      AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d)
from .upsampling import PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from .sparse import Embedding

__all__ = ["AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CosineEmbeddingLoss",
           "CrossEntropyLoss", "CTCLoss", "Dropout", "Embedding", "Flatten", "GELU", "GaussianNLLLoss", "HuberLoss",
           "Identity", "KLDivLoss", "L1Loss", "LayerNorm", "Linear", "MSELoss", "MarginRankingLoss",
           "MaxPool2d", "Module", "ModuleDict", "ModuleList", "MultiheadAttention", "NLLLoss", "Parameter",
           "ParameterDict", "ParameterList", "PoissonNLLLoss", "ReLU", "Sequential", "Sigmoid",
           "SmoothL1Loss", "Tanh", "TripletMarginLoss", "Unflatten", "functional", "init", "utils"]
# activation, dropout, normalisation, bilinear and embedding-bag layers beyond the above
from .activation import (CELU, ELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid,
                         LogSoftmax, Mish, PReLU, ReLU6, RReLU, SiLU, Softmax, Softmin, Softplus, Softshrink, Softsign,
                         Tanhshrink, Threshold)
from .dropout import AlphaDropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from .layers import Bilinear
from .normalization import (BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LocalResponseNorm,
                            RMSNorm)
from .sparse import EmbeddingBag
__all__ += ["AlphaDropout", "BatchNorm3d", "Bilinear", "CELU", "Dropout1d", "Dropout2d", "Dropout3d", "ELU",
            "EmbeddingBag", "FeatureAlphaDropout", "GLU", "GroupNorm", "Hardshrink", "Hardsigmoid", "Hardswish",
            "Hardtanh", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LeakyReLU", "LocalResponseNorm",
            "LogSigmoid", "LogSoftmax", "Mish", "PReLU", "RMSNorm", "ReLU6", "RReLU", "SELU", "SiLU", "Softmax",
            "Softmin", "Softplus", "Softshrink", "Softsign", "Tanhshrink", "Threshold"]
# convolution, pooling and padding layers beyond the above
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
            "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
            "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "Conv1d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
            "ConvTranspose3d", "MaxPool1d", "MaxPool3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
            "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "Fold",
            "PixelShuffle", "PixelUnshuffle", "Unfold", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "Transformer", "TransformerDecoder",
            "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer"]
