"""lumina: a deep-learning compiler. Lazy tensors -> SSA IR -> passes -> LLVM -> runtime.

    import lumina
    x = lumina.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad.numpy()          # array([[2., 4.]], dtype=float32)

    @lumina.compile
    def step(x, y): ...     # traced once per signature, compiled to LLVM, cached

    lumina.compile(step, device="cuda")   # Triton kernels on a GPU (see lumina.default_device())
"""
from .autograd import grad, value_and_grad
from .compiled import compile
from .errors import (LuminaDeviceError, LuminaError, LuminaGradError, LuminaIndexError, LuminaOnnxError, LuminaShapeError,
                     LuminaTraceError, LuminaTypeError, LuminaValueError)
from .ir.dtypes import DType, bfloat16, bool_, float16, float32, float64, int32, int64
from .runtime.devices import available as device_available
from .runtime.devices import default_device
from .random import manual_seed, rand, rand_like, randint, randn, randn_like
from .tensor import (Tensor, arange, cat, full, matmul, maximum, minimum, no_grad, ones, ones_like,
                     realize, stack, tensor, where, zeros, zeros_like)

bool = bool_  # noqa: A001  (lumina.bool, like torch.bool)


def _unary(name):
    def fn(x, *args, **kwargs):
        return getattr(x if isinstance(x, Tensor) else tensor(x), name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"``lumina.{name}(x)`` is ``x.{name}()``; see ``Tensor.{name}``."
    return fn


exp, log, sqrt, sin, cos, tanh, sigmoid, relu, gelu, abs, neg, erf = (  # noqa: A001
    _unary(n) for n in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "abs",
                        "neg", "erf"))
sum, mean, max, min, argmax, argmin, reshape, permute, transpose, squeeze, unsqueeze, flatten = (  # noqa: A001
    _unary(n) for n in ("sum", "mean", "max", "min", "argmax", "argmin", "reshape", "permute",
                        "transpose", "squeeze", "unsqueeze", "flatten"))

clamp, clip, var, std = (_unary(n) for n in ("clamp", "clip", "var", "std"))

from .indexing import gather, index_select, take_along_dim  # noqa: E402
from .scan import cumsum  # noqa: E402
from .shape_ops import chunk, pad, split  # noqa: E402
from . import amp, nn, optim  # noqa: E402
from .amp import autocast  # noqa: E402

__version__ = "0.1.0"
