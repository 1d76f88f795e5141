"""Vector and tensor products as PyTorch 2.13's: ``dot`` / ``vdot`` / ``inner`` / ``mv`` /
``addmv`` / ``addr`` / ``kron`` / ``tensordot`` (https://pytorch.org/docs/stable/torch.html#blas-and-lapack-operations).

Each is a decomposition into ``matmul`` (one DOT primitive), reshapes and broadcasting products, so
autodiff gives the gradients. Real dtypes only, so ``vdot`` (which conjugates its first argument)
is ``dot``. As torch: ``dot`` / ``vdot`` / ``mv`` / ``addmv`` need operands of one dtype
and ``inner`` / ``tensordot`` too (LuminaTypeError otherwise); ``kron`` and ``addr`` promote.
"""
from __future__ import annotations

from ..errors import LuminaShapeError, LuminaTypeError
from ..ir.dtypes import DType, promote
from .arithmetic import _as_tensor
from .core import Tensor
from .linalg import _scaled_sum, matmul, outer


def _same_dtype(op: str, a: Tensor, b: Tensor) -> None:
    if a.dtype is not b.dtype:
        raise LuminaTypeError(f"{op}: expected both operands to have the same dtype, got {a._value.type} and "
                              f"{b._value.type}")
    if a.dtype is DType.bool:
        raise LuminaTypeError(f"{op}: bool operands are not supported: {a._value.type} and {b._value.type}")


def dot(input, tensor) -> Tensor:
    """``torch.dot``: ``sum(input[i] * tensor[i])`` of two 1-d tensors of one size and dtype, a 0-d
    tensor. Raises LuminaShapeError for other ranks or sizes, LuminaTypeError for differing
    dtypes or bool (as torch)."""
    a, b = _as_tensor(input, "dot"), _as_tensor(tensor, "dot")
    if a.ndim != 1 or b.ndim != 1:
        raise LuminaShapeError(f"dot: 1D tensors expected, but got {a._value.type} and {b._value.type}")
    if a.shape[0] != b.shape[0]:
        raise LuminaShapeError(f"dot: inconsistent tensor size, expected {a._value.type} and {b._value.type} "
                               "to have the same number of elements")
    _same_dtype("dot", a, b)
    return matmul(a, b)


def vdot(input, other) -> Tensor:
    """``torch.vdot``: ``dot`` with the first argument conjugated; lumina's dtypes are real, so it
    is ``dot`` (same shapes, dtypes and errors)."""
    return dot(input, other)


def mv(input, vec) -> Tensor:
    """``torch.mv``: the product of an ``[n, m]`` matrix and an ``[m]`` vector, ``[n]``, one dtype.
    Raises LuminaShapeError for other ranks or sizes, LuminaTypeError for differing dtypes or bool."""
    a, v = _as_tensor(input, "mv"), _as_tensor(vec, "mv")
    if a.ndim != 2 or v.ndim != 1:
        raise LuminaShapeError(f"mv: vector + matrix @ vector expected, got {a._value.type} @ {v._value.type}")
    if a.shape[1] != v.shape[0]:
        raise LuminaShapeError(f"mv: size mismatch, {a._value.type} @ {v._value.type}")
    _same_dtype("mv", a, v)
    return matmul(a, v)


def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """``torch.addmv``: ``beta * input + alpha * mv(mat, vec)``, ``input`` broadcast to ``[n]`` (a
    ``beta`` of 0 ignores it, NaN included); see ``mv`` and ``addmm``."""
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    """``torch.addr``: ``beta * input + alpha * outer(vec1, vec2)``, ``input`` broadcast to ``[n,
    m]``; ``beta=0`` ignores ``input``. Raises LuminaShapeError unless ``vec1`` and ``vec2`` are
    1-d. The three operands promote to one dtype (as torch)."""
    x, u, v = (_as_tensor(t, "addr") for t in (input, vec1, vec2))
    dt = promote(promote(x.dtype, u.dtype), v.dtype)
    return _scaled_sum("addr", x.to(dt), outer(u.to(dt), v.to(dt)), beta, alpha)


def inner(input, other) -> Tensor:
    """``torch.inner``: the sum over the last dims of ``input[..., k] * other[..., k]``, shape
    ``input.shape[:-1] + other.shape[:-1]``; a 0-d operand multiplies (torch's type promotion).
    Raises LuminaShapeError when the last dims differ, LuminaTypeError for differing dtypes or bool
    (as ``tensordot``)."""
    a, b = _as_tensor(input, "inner"), _as_tensor(other, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise LuminaShapeError(f"inner: the last dims of {a._value.type} and {b._value.type} must match "
                               f"({a.shape[-1]} vs {b.shape[-1]})")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def kron(input, other) -> Tensor:
    """``torch.kron``: the Kronecker product; the operands' shapes are padded with leading 1s to
    one rank ``r`` and the result has shape ``[a_i * b_i]``, element ``a[i] * b[j]`` at ``i * B + j``
    in each dim. torch's type promotion. https://pytorch.org/docs/stable/generated/torch.kron.html"""
    a, b = _as_tensor(input, "kron"), _as_tensor(other, "kron")
    r = max(a.ndim, b.ndim)
    sa = (1,) * (r - a.ndim) + tuple(a.shape)
    sb = (1,) * (r - b.ndim) + tuple(b.shape)
    a2 = a.reshape(tuple(d for n in sa for d in (n, 1)))
    b2 = b.reshape(tuple(d for n in sb for d in (1, n)))
    return (a2 * b2).reshape(tuple(m * n for m, n in zip(sa, sb)))


def _dims_of(dims, a: Tensor, b: Tensor) -> tuple[list[int], list[int]]:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int) and not isinstance(dims, bool):
        if dims < 0:
            raise LuminaShapeError(f"tensordot: dims must be non-negative, got {dims}")
        if dims > min(a.ndim, b.ndim):
            raise LuminaShapeError(f"tensordot: dims={dims} exceeds the rank of {a._value.type} or {b._value.type}")
        return list(range(a.ndim - dims, a.ndim)), list(range(dims))
    if not isinstance(dims, (list, tuple)) or len(dims) != 2:
        raise LuminaTypeError(f"tensordot: dims must be an int or a pair of dim lists, got {dims!r}")
    da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise LuminaShapeError(f"tensordot: both dim lists must have the same length, got {da} and {db}")
    return [a._axes(d, "tensordot")[0] for d in da], [b._axes(d, "tensordot")[0] for d in db]


def tensordot(a, b, dims=2) -> Tensor:
    """``torch.tensordot``: the sum of products over dims ``dims`` of ``a`` and ``b`` (an int ``d``:
    the last ``d`` of ``a`` with the first ``d`` of ``b``; or two lists of dims), shape ``a``'s free
    dims then ``b``'s. Raises LuminaShapeError when contracted sizes differ, LuminaTypeError for
    differing dtypes or bool (as torch).
    https://pytorch.org/docs/stable/generated/torch.tensordot.html"""
    x, y = _as_tensor(a, "tensordot"), _as_tensor(b, "tensordot")
    _same_dtype("tensordot", x, y)
    da, db = _dims_of(dims, x, y)
    for i, j in zip(da, db):
        if x.shape[i] != y.shape[j]:
            raise LuminaShapeError(f"tensordot: contracted dimensions need to match, but first has size "
                                   f"{x.shape[i]} in dim {i} and second has size {y.shape[j]} in dim {j} "
                                   f"({x._value.type}, {y._value.type})")
    free_a = [i for i in range(x.ndim) if i not in da]
    free_b = [j for j in range(y.ndim) if j not in db]
    k = 1
    for i in da:
        k *= x.shape[i]
    m = 1
    for i in free_a:
        m *= x.shape[i]
    n = 1
    for j in free_b:
        n *= y.shape[j]
    xm = x.permute((*free_a, *da)).reshape(m, k)
    ym = y.permute((*db, *free_b)).reshape(k, n)
    return matmul(xm, ym).reshape(tuple(x.shape[i] for i in free_a) + tuple(y.shape[j] for j in free_b))


def _update(self: Tensor, out: Tensor, op: str) -> Tensor:
    """``self.copy_(out)`` for the in-place forms, whose result must keep ``self``'s shape."""
    if tuple(out.shape) != tuple(self.shape):
        raise LuminaShapeError(f"{op}: bad in-place call: input tensor size {list(self.shape)} and output tensor "
                               f"size {list(out.shape)} should match")
    return self.copy_(out)


class ProductMethods:
    """The Tensor methods of this module's products."""

    def dot(self, tensor) -> Tensor: return dot(self, tensor)
    def vdot(self, other) -> Tensor: return vdot(self, other)
    def mv(self, vec) -> Tensor: return mv(self, vec)
    def inner(self, other) -> Tensor: return inner(self, other)
    def kron(self, other) -> Tensor: return kron(self, other)

    def addmv(self, mat, vec, *, beta=1, alpha=1) -> Tensor:
        return addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
        return addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def addmv_(self, mat, vec, *, beta=1, alpha=1) -> Tensor:
        """``addmv`` written into ``self`` (same shape; LuminaShapeError otherwise, as torch)."""
        return _update(self, addmv(self, mat, vec, beta=beta, alpha=alpha), "addmv_")

    def addr_(self, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
        """``addr`` written into ``self`` (cast to its dtype; same shape)."""
        return _update(self, addr(self, vec1, vec2, beta=beta, alpha=alpha), "addr_")


__all__ = ["dot", "vdot", "mv", "addmv", "addr", "inner", "kron", "tensordot", "ProductMethods"]
