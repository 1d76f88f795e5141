"""``lumina.nn.functional``: PyTorch's functional API as decompositions into primitives.

Every function here is built from tensor ops, so its gradient comes from autodiff; none has a
hand-written backward. One module per family: activations, convolution and pooling, normalisation,
losses, attention, embedding, vision rearrangements.
"""
from .activation import (celu, dropout, elu, gelu, hardsigmoid, hardswish, leaky_relu, log_softmax, mish, one_hot, relu,
                         selu, sigmoid, silu, softmax, softplus, softsign, tanh, threshold)
from .attention import scaled_dot_product_attention
from .conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from .ctc import ctc_loss
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cosine_embedding_loss, cross_entropy,
                   gaussian_nll_loss, huber_loss, kl_div, l1_loss, margin_ranking_loss, mse_loss, nll_loss,
                   poisson_nll_loss, smooth_l1_loss, triplet_margin_loss)
from .norm import batch_norm, layer_norm
from .padding import pad
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d,
                      adaptive_max_pool2d, adaptive_max_pool3d, avg_pool1d, avg_pool2d, avg_pool3d, max_pool1d,
                      max_pool2d, max_pool3d)
from .fold import fold, unfold
from .upsampling import interpolate
from .sparse import embedding
from .vision import pixel_shuffle, pixel_unshuffle
from ...tensor.distances import cosine_similarity, pairwise_distance  # noqa: F401 (torch's F names)

__all__ = ["avg_pool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "celu", "conv2d",
           "cosine_embedding_loss", "cross_entropy", "ctc_loss", "dropout", "elu", "embedding", "gaussian_nll_loss", "gelu", "hardsigmoid", "hardswish", "huber_loss", "kl_div", "l1_loss",
           "layer_norm", "leaky_relu", "margin_ranking_loss", "log_softmax", "max_pool2d", "mish", "mse_loss", "nll_loss", "one_hot", "pad",
           "pixel_shuffle", "pixel_unshuffle", "poisson_nll_loss", "relu", "scaled_dot_product_attention", "selu", "sigmoid", "silu",
           "softmax", "softplus", "softsign", "tanh", "threshold", "triplet_margin_loss"]
# activations, dropouts, normalisations, linear maps and embedding bags beyond the above
from .activation import glu, hardshrink, hardtanh, logsigmoid, prelu, relu6, rrelu, softmin, softshrink, tanhshrink
from .dropout_variants import alpha_dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout
from .linear import bilinear, linear
from .norm import group_norm, instance_norm, local_response_norm, normalize, rms_norm
from .sparse import embedding_bag
__all__ += ["alpha_dropout", "bilinear", "dropout1d", "dropout2d", "dropout3d", "embedding_bag", "feature_alpha_dropout",
            "glu", "group_norm", "hardshrink", "hardtanh", "instance_norm", "linear", "local_response_norm",
            "logsigmoid", "normalize", "prelu", "relu6", "rms_norm", "rrelu", "softmin", "softshrink", "tanhshrink"]
# convolution, pooling and padding beyond the above
__all__ += ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
            "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool1d", "avg_pool3d", "conv1d", "conv3d",
            "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "fold", "interpolate", "max_pool1d", "max_pool3d",
            "unfold"]
