"""lumina: a deep-learning compiler. Lazy tensors -> SSA IR -> transforms -> schedule -> codegen -> backends.

    import lumina
    x = lumina.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad.numpy()          # array([[2., 4.]], dtype=float32)

    @lumina.compile
    def step(x, y): ...     # traced once per signature, compiled to LLVM, cached

    lumina.compile(step, device="cuda")   # Triton kernels on a GPU (see lumina.default_device())
"""
import builtins

from .compiled import compile
from .dynamic_shapes import mark_dynamic
from .errors import (LuminaDeviceError, LuminaError, LuminaGradError, LuminaIndexError, LuminaOnnxError,
                     LuminaShapeError, LuminaTraceError, LuminaTypeError, LuminaValueError)
from .ir.dtypes import DType, bfloat16, bool_, float16, float32, float64, int32, int64
from .backends.devices import available as device_available
from .backends.devices import default_device
from .tensor import all, any, expm1, frac, isfinite, isinf, isnan, log1p, nan_to_num, rsqrt  # noqa: A004
from .tensor import movedim, narrow, roll, unbind
from .tensor import Size, _assert, device, get_default_dtype, is_floating_point, is_tensor, numel
from .tensor import index_add, index_copy, index_fill, index_put, masked_scatter, masked_select, repeat_interleave, take
from .tensor import Generator, bernoulli, multinomial, normal, randperm
from .tensor import bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift, bitwise_xor
from .tensor import diag, diag_embed, diagflat, diagonal, trace
from .tensor import cdist, cosine_similarity, dist, norm, pairwise_distance
from .tensor import from_dlpack, from_numpy
from .tensor import (acosh, addcdiv, addcmul, asinh, atanh, copysign, cosh, deg2rad, exp2, float_power, heaviside,
                     hypot, lerp, log2, log10, logaddexp, logaddexp2, logit, rad2deg, reciprocal, sgn, signbit, sinc,
                     sinh, xlogy)
from .tensor import digamma, erfinv, lgamma, polygamma
from .tensor import acos, asin, atan, atan2
from .tensor import cartesian_prod, empty, empty_like, full_like, linspace, logspace, meshgrid
from .tensor import addmm, baddbmm, bmm, mm, outer
from .tensor import add, div, floor_divide, fmod, mul, pow, remainder, sub  # noqa: A004
from .tensor import aminmax, argsort, kthvalue, median, mode, msort, nanmedian, sort, unique, unique_consecutive
from .tensor import cummax, cummin, logcumsumexp
from .tensor import (absolute, allclose, broadcast_to, concat, concatenate, divide, eq, equal, fix, ge, greater,
                     greater_equal, gt, is_nonzero, isclose, le, less, less_equal, lt, multiply, ne, negative,
                     not_equal, subtract, swapaxes, swapdims, true_divide)
from .tensor import addmv, addr, dot, inner, kron, mv, tensordot, vdot
from .tensor import (atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_tensors, column_stack, dstack, fliplr,
                     flipud, hstack, rot90, tensor_split, vstack)
from .tensor import count_nonzero, diff, nanmean, nansum, std_mean, var_mean
from .tensor import argwhere, as_tensor, asarray, nonzero, scalar_tensor, tril_indices, triu_indices
from .tensor import clamp_max, clamp_min, select, square
from .tensor import clamp_, clip_, fill_, index_put_, zero_
from .tensor import arccosh, arcsinh, arctanh
from .tensor import (Tensor, arange, cat, ceil, chunk, cumprod, cumsum, einsum, enable_grad, eye, flip, floor, full,
                     gather, grad, index_select, inference_mode, is_grad_enabled, logsumexp, manual_seed, matmul,
                     maximum, minimum, no_grad, ones, ones_like, pad, rand, rand_like, randint, randn, randn_like,
                     realize, round, scatter, scatter_add, scatter_reduce, set_grad_enabled, sign, split, stack,
                     take_along_dim, tensor, tile, topk, tril, triu, trunc, value_and_grad, where, zeros, zeros_like)

bool = bool_  # noqa: A001  (lumina.bool, like torch.bool)
# torch's other names of the same dtypes. They shadow Python's builtins in this module only, so its
# code says ``builtins.float`` where it means the builtin.
long = int64
int = int32  # noqa: A001
float = float32  # noqa: A001
double = float64
half = float16


def _as_tensor(input) -> Tensor:
    return input if isinstance(input, Tensor) else tensor(input)


# torch's functional spellings of Tensor methods, with torch's signatures: each is the method.
def exp(input): return _as_tensor(input).exp()
def log(input): return _as_tensor(input).log()
def sqrt(input): return _as_tensor(input).sqrt()
def sin(input): return _as_tensor(input).sin()
def cos(input): return _as_tensor(input).cos()
def tanh(input): return _as_tensor(input).tanh()
def sigmoid(input): return _as_tensor(input).sigmoid()
def relu(input): return _as_tensor(input).relu()
def gelu(input, approximate: str = "none"): return _as_tensor(input).gelu(approximate)
def abs(input): return _as_tensor(input).abs()  # noqa: A001
def neg(input): return _as_tensor(input).neg()
def erf(input): return _as_tensor(input).erf()


def sum(input, dim=None, keepdim: builtins.bool = False, *, dtype=None):  # noqa: A001
    return _as_tensor(input).sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim: builtins.bool = False, *, dtype=None):
    return _as_tensor(input).mean(dim, keepdim, dtype=dtype)


def prod(input, dim=None, keepdim: builtins.bool = False, *, dtype=None):
    """``torch.prod``: ``prod(input)`` or ``prod(input, dim, keepdim)``; see ``Tensor.prod``."""
    return _as_tensor(input).prod(dim, keepdim, dtype=dtype)


def max(input, dim=None, keepdim: builtins.bool = False, *, other=None):  # noqa: A001
    """``torch.max``: ``max(input)``, ``max(input, dim, keepdim)`` or ``max(input, other)`` (a
    tensor in ``dim``'s place, or ``other=``); see ``Tensor.max``."""
    return _as_tensor(input).max(dim, keepdim, other=other)


def min(input, dim=None, keepdim: builtins.bool = False, *, other=None):  # noqa: A001
    """``torch.min``; see ``max``."""
    return _as_tensor(input).min(dim, keepdim, other=other)


def amax(input, dim=(), keepdim: builtins.bool = False):
    """``torch.amax``; see ``Tensor.amax``."""
    return _as_tensor(input).amax(dim, keepdim)


def amin(input, dim=(), keepdim: builtins.bool = False):
    """``torch.amin``; see ``Tensor.amin``."""
    return _as_tensor(input).amin(dim, keepdim)


def argmax(input, dim=None, keepdim: builtins.bool = False):
    return _as_tensor(input).argmax(dim, keepdim)


def argmin(input, dim=None, keepdim: builtins.bool = False):
    return _as_tensor(input).argmin(dim, keepdim)


def reshape(input, shape): return _as_tensor(input).reshape(shape)
def permute(input, dims): return _as_tensor(input).permute(dims)
def transpose(input, dim0, dim1): return _as_tensor(input).transpose(dim0, dim1)
def squeeze(input, dim=None): return _as_tensor(input).squeeze(dim)
def unsqueeze(input, dim): return _as_tensor(input).unsqueeze(dim)


def clone(input): return _as_tensor(input).clone()
def detach(input): return _as_tensor(input).detach()
def t(input): return _as_tensor(input).t()
def masked_fill(input, mask, value): return _as_tensor(input).masked_fill(mask, value)


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    return _as_tensor(input).flatten(start_dim, end_dim)


def clamp(input, min=None, max=None):  # noqa: A002 (torch's names)
    return _as_tensor(input).clamp(min, max)


clip = clamp


def softmax(input, dim: builtins.int, dtype=None):
    """``torch.softmax``: ``F.softmax(input, dim, dtype)`` (``dim`` required, as torch's)."""
    return nn.functional.softmax(input, dim, dtype)


def log_softmax(input, dim: builtins.int, dtype=None):
    """``torch.log_softmax``: ``F.log_softmax(input, dim, dtype)``."""
    return nn.functional.log_softmax(input, dim, dtype)


def dropout(input, p: builtins.float, train: builtins.bool):
    """``torch.dropout``: ``F.dropout(input, p, training=train)`` (torch's functional form)."""
    return nn.functional.dropout(input, p, train)


def alpha_dropout(input, p: builtins.float, train: builtins.bool):
    """``torch.alpha_dropout``: ``F.alpha_dropout(input, p, training=train)``."""
    return nn.functional.alpha_dropout(input, p, train)


def var(input, dim=None, unbiased=None, keepdim: builtins.bool = False, *, correction=None):
    """``torch.var``; see ``Tensor.var`` (``unbiased=None`` means not given)."""
    return _as_tensor(input).var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim: builtins.bool = False, *, correction=None):
    """``torch.std``; see ``Tensor.std``."""
    return _as_tensor(input).std(dim, unbiased, keepdim, correction=correction)


from . import amp, nn, optim  # noqa: E402
from . import linalg  # noqa: E402
from . import special  # noqa: E402
from .linalg.lu import inverse, logdet, torch_det as det, torch_slogdet as slogdet  # noqa: E402
from .amp import autocast  # noqa: E402
from .serialization import load, save  # noqa: E402
from . import accelerator, cuda, jit, utils  # noqa: E402

__version__ = "0.1.0"
