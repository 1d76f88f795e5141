"""The lazy ``Tensor``: PyTorch-style names over an SSA value, assembled from modules by topic.

Operations only record IR nodes; ``.numpy()`` / ``.item()`` realise a tensor by compiling the graph
that computes it and running it. NumPy broadcasting and PyTorch's dtype promotion apply, and shapes
are checked as each op is recorded.

The modules, bottom to top (each imports only modules above it in this list, never the package):

    aliases      views: how a tensor aliases its parent, torch's strides, keeping views current
    size         ``Size``, the type of shapes
    device       where each value lives (``DEVICE_STATE``), ``device``, device arguments
    core         the Tensor class: its value, realisation, device, dtype, repr, grad slots
    shapes       size arguments, broadcasting, type promotion
    creation     tensor / full / zeros / ones / empty / arange / linspace / logspace, meshgrid,
                 ``Tensor.new_*``, and a creation function's ``device=``
    diagonal     diagonal (a view) / diag / diag_embed / diagflat / trace
    random       rand / randn / randint from the in-graph generator
    autocast     which dtype lower-precision ops run in (``lumina.autocast``)
    elementwise  arithmetic and comparison operators, unary math, where, clamp, maximum / minimum
    rounding     floor / ceil / trunc / round, sign
    linalg       matmul and ``@``, mm / bmm / outer / addmm / baddbmm, triu / tril
    movement     reshape / permute / expand / squeeze / split / chunk, cat / stack / pad, tile / repeat
    indexing     ``x[key]``, gather / index_select / take_along_dim, flip
    reshaping    view_as / expand_as / reshape_as, narrow, unbind, movedim, roll
    pointwise    isnan / isinf / isfinite, nan_to_num, rsqrt / log1p / expm1 / frac, all / any
    arithmetic   add / sub / mul / div / pow / fmod / remainder / floor_divide with torch's keywords
    reductions   sum / mean / prod / logsumexp / max / min / amax / argmax / var / std, the
                 overflow-safe moments
    scan         cumsum / cumprod
    selection    topk
    softmax      softmax / log_softmax (Tensor methods; F's and torch's functions are these)
    sorting      sort / argsort / msort / kthvalue / median / nanmedian / mode / aminmax, unique
    einsum       einsum
    distances    norm / dist / cdist / cosine_similarity / pairwise_distance, torch's norm gradients
    saved        what in-place updates superseded, checked by backward (torch's saved tensors)
    inplace      in-place updates (``add_``, ``copy_``, ``+=``, ...) and version counters
    scatter      scatter / scatter_add / scatter_reduce, index_add / index_copy / index_fill / index_put,
                 masked_scatter, out of place and in place; take, masked_select, repeat_interleave
    bitwise      bitwise and / or / xor / not / shifts, the operators ^ << >>, in place too
    sampling     randperm / multinomial / bernoulli / normal, normal_ / uniform_ / ... in place
    setitem      ``x[key] = value``
    interop      from_numpy / from_dlpack / __dlpack__: memory shared with NumPy and DLPack producers
    special_math sinh / cosh / asinh / acosh / atanh, log2 / log10 / exp2, reciprocal, sinc, logit, sgn / signbit
    binary_math  hypot, logaddexp(2), xlogy, copysign, heaviside, float_power, lerp, addcmul / addcdiv
    gamma        lgamma / digamma / polygamma, erfinv
    inverse_trig atan / asin / acos / atan2
    queries      is_tensor / numel / is_floating_point / element_size / get_default_dtype
    functions    torch's aliases (divide, swapaxes, concat, ...), eq / lt / ..., isclose / allclose / equal
    products     dot / vdot / inner / mv / addmv / addr / kron / tensordot
    stacking     atleast_nd, hstack / vstack / dstack / column_stack, tensor_split, broadcast_tensors,
                 block_diag, rot90 / fliplr / flipud
    summaries    nansum / nanmean, var_mean / std_mean, count_nonzero, diff
    positions    nonzero / argwhere (eager only), triu_indices / tril_indices
    autograd     backward, ``lumina.grad``, ``lumina.value_and_grad``

How ``Tensor`` gets its methods. ``core`` defines the class with its data model only, and imports no
op module. Each op module imports ``core`` (and the modules it builds on), defines its functions,
and gathers the Tensor methods it provides in a class of its own (``ElementwiseMethods``,
``ReductionMethods``, ...) that is never instantiated. This package copies those methods onto
``Tensor`` (``_attach``), once, when it is imported; since importing any submodule runs this file
first, no code ever sees the class without them. So every import points down the list above, the
methods of one topic sit beside the functions they call, and the whole method table is the one
tuple ``_METHODS`` below. Two alternatives were rejected: mixin base classes (``core`` would have
to import the op modules, which need ``Tensor``: a cycle) and op modules that set attributes on
``Tensor`` as a side effect of being imported (the class would depend on import order, invisibly).
"""
from __future__ import annotations

from types import FunctionType

from .arithmetic import ArithmeticMethods, add, div, floor_divide, fmod, mul, pow, remainder, sub
from .autograd import AutogradMethods, grad, value_and_grad
from .bitwise import (BitwiseMethods, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift,
                      bitwise_xor)
from .core import LEAF_OF, Tensor, enable_grad, inference_mode, is_grad_enabled, no_grad, realize, set_grad_enabled, defer_realize
from .creation import arange, eye, full, ones, ones_like, place, tensor, zeros, zeros_like
from .creation import CreationMethods, cartesian_prod, empty, empty_like, full_like, linspace, logspace, meshgrid
from .device import DEVICE_NAMES, device
from .queries import QueryMethods, _assert, get_default_dtype, is_floating_point, is_tensor, numel
from .size import Size
from .softmax import SoftmaxMethods
from .diagonal import DiagonalMethods, diag, diag_embed, diagflat, diagonal, trace
from .distances import DistanceMethods, cdist, cosine_similarity, dist, norm, pairwise_distance
from .einsum import einsum
from .interop import InteropMethods, SharedTensor, from_dlpack, from_numpy
from .elementwise import ElementwiseMethods, maximum, minimum, where
from .indexing import IndexingMethods, flip, gather, index_select, take_along_dim
from .inplace import InplaceMethods
from .linalg import LinalgMethods, addmm, baddbmm, bmm, matmul, mm, outer, tril, triu
from .movement import MovementMethods, cat, chunk, pad, split, stack, tile
from .pointwise import (PointwiseMethods, all, any, expm1, frac, isfinite, isinf, isnan, log1p, nan_to_num,
                        rsqrt)
from .random import Generator, manual_seed, rand, rand_like, randint, randn, randn_like
from .reductions import ReductionMethods, logsumexp, prod
from .reshaping import ReshapingMethods, movedim, narrow, roll, unbind
from .rounding import RoundingMethods, ceil, floor, round, sign, trunc
from .sampling import SamplingMethods, bernoulli, multinomial, normal, randperm
from .scan import ScanMethods, cumprod, cumsum
from .scan import cummax, cummin, logcumsumexp
from .scatter import ScatterMethods, scatter, scatter_add, scatter_reduce
from .scatter import (IndexOpMethods, index_add, index_copy, index_fill, index_put, masked_scatter, masked_select,
                      repeat_interleave, take)
from .selection import SelectionMethods, topk
from .sorting import (SortingMethods, aminmax, argsort, kthvalue, median, mode, msort, nanmedian, sort, unique,
                      unique_consecutive)
from .setitem import SetitemMethods
from .shapes import MEMORY_BYTES, broadcast_shapes, check_size, result_type

__all__ = ["Tensor", "Size", "device", "is_tensor", "numel", "is_floating_point", "get_default_dtype", "tensor", "full", "zeros", "ones", "zeros_like", "ones_like", "arange", "eye", "place",
           "rand", "randn", "randint", "rand_like", "randn_like", "manual_seed",
           "where", "maximum", "minimum", "matmul", "triu", "tril", "cat", "stack", "pad", "split", "chunk", "tile",
           "gather", "index_select", "take_along_dim", "flip", "cumsum", "cumprod", "prod", "logsumexp", "topk",
           "einsum", "add", "sub", "mul", "div", "pow", "fmod", "remainder", "floor_divide",
           "isnan", "isinf", "isfinite", "nan_to_num", "rsqrt", "log1p", "expm1", "frac", "all", "any", "narrow", "unbind", "movedim", "roll", "mm", "bmm", "outer",
           "addmm", "baddbmm", "scatter", "scatter_add", "scatter_reduce", "floor", "ceil", "trunc", "round", "sign",
           "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled", "realize", "grad", "value_and_grad", "broadcast_shapes", "result_type", "check_size", "MEMORY_BYTES", "DEVICE_NAMES", "LEAF_OF"]

_METHODS = (ElementwiseMethods, RoundingMethods, ArithmeticMethods, PointwiseMethods, ReshapingMethods, LinalgMethods,
            MovementMethods, IndexingMethods, ReductionMethods,
            ScanMethods, SelectionMethods, InplaceMethods, ScatterMethods, SetitemMethods, QueryMethods, AutogradMethods)

__all__ += ["empty", "empty_like", "full_like", "linspace", "logspace", "meshgrid", "cartesian_prod",
            "diag", "diag_embed", "diagflat", "diagonal", "trace"]
_METHODS += (CreationMethods, DiagonalMethods)
__all__ += ["norm", "dist", "cdist", "cosine_similarity", "pairwise_distance"]
_METHODS += (DistanceMethods,)
__all__ += ["from_numpy", "from_dlpack", "SharedTensor"]
_METHODS += (InteropMethods,)
from .special_math import (SpecialMathMethods, acosh, asinh, atanh, cosh, deg2rad, exp2, log2, log10, logit,
                           rad2deg, reciprocal, sgn, signbit, sinc, sinh)
from .binary_math import (BinaryMathMethods, addcdiv, addcmul, copysign, float_power, heaviside, hypot, lerp,
                          logaddexp, logaddexp2, xlogy)
__all__ += ["sinh", "cosh", "asinh", "acosh", "atanh", "log2", "log10", "exp2", "reciprocal", "deg2rad", "rad2deg",
            "sinc", "sgn", "signbit", "logit", "hypot", "logaddexp", "logaddexp2", "xlogy", "copysign", "heaviside",
            "float_power", "lerp", "addcmul", "addcdiv"]
_METHODS += (SpecialMathMethods, BinaryMathMethods)
from .gamma import GammaMethods, digamma, erfinv, lgamma, polygamma
__all__ += ["lgamma", "digamma", "polygamma", "erfinv"]
_METHODS += (GammaMethods,)
from .inverse_trig import InverseTrigMethods, acos, asin, atan, atan2
__all__ += ["atan", "asin", "acos", "atan2"]
_METHODS += (InverseTrigMethods,)
from .functions import *  # noqa: E402,F403  (each module's names are its __all__)
from .products import *  # noqa: E402,F403
from .stacking import *  # noqa: E402,F403
from .summaries import *  # noqa: E402,F403
from .positions import *  # noqa: E402,F403
from . import functions as _functions, products as _products, stacking as _stacking  # noqa: E402
from . import positions as _positions, summaries as _summaries  # noqa: E402
__all__ += [n for m in (_functions, _products, _stacking, _summaries, _positions) for n in m.__all__
            if not n.endswith("Methods")]
_METHODS += (FunctionMethods, ProductMethods, StackingMethods, SummaryMethods, PositionMethods)  # noqa: F405

__all__ += ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
            "index_add", "index_copy", "index_fill", "index_put", "masked_scatter", "take", "masked_select",
            "repeat_interleave", "randperm", "multinomial", "bernoulli", "normal", "Generator"]
_METHODS += (BitwiseMethods, IndexOpMethods, SamplingMethods)


__all__ += ["sort", "argsort", "msort", "kthvalue", "median", "nanmedian", "mode", "aminmax", "unique",
            "unique_consecutive", "cummax", "cummin", "logcumsumexp"]
_METHODS += (SortingMethods,)


def _attach(methods: type) -> None:
    """Copy the functions and properties defined in ``methods`` onto ``Tensor``; a name ``Tensor``
    already has is a programming error (two topics claiming one method)."""
    for name, attr in vars(methods).items():
        if isinstance(attr, (FunctionType, property)):
            if name in vars(Tensor):
                raise TypeError(f"Tensor.{name} is defined twice ({methods.__name__} and before it)")
            setattr(Tensor, name, attr)


_METHODS += (SoftmaxMethods,)   # Tensor.softmax / log_softmax: F's functions, in tensor.softmax

for _methods in _METHODS:
    _attach(_methods)
del _methods
