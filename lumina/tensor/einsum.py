"""``einsum``: Einstein summation over labelled dims, as ``torch.einsum`` (PyTorch 2.13; the
notation is NumPy's).

An equation names each operand's dims with letters (``"bij,bjk->bik"``); ``...`` stands for the
dims no letter names, right-aligned across operands and broadcast as NumPy broadcasts. Without
``->`` the output is the broadcast dims, then the letters that appear once, in alphabetical order
(upper case before lower case). Letters absent from the output are summed.

Decomposition, so that autodiff and every backend see only primitives: a label repeated within one
operand takes the diagonal (a masked sum); labels that appear in one operand only and not in the
output are summed at once; then the operands are contracted left to right, each pair as one
batched ``matmul`` (``[batch, free_a, summed] x [batch, summed, free_b]``); the result is permuted
into the output's order. Sizes of 1 broadcast against the other operands' sizes of a label (as
torch). 16-bit floats accumulate in float32 and round once.
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType
from .core import Tensor
from .creation import tensor
from .elementwise import where
from .linalg import matmul

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _sublist_equation(args: tuple) -> tuple[str, list]:
    """torch's sublist form ``einsum(op1, [0, 1], op2, [1, 2], [0, 2])`` as an equation (the ints
    0..51 name letters, ``Ellipsis`` is ``...``) and the operands."""
    def term(sub) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < len(_LETTERS):
                out.append(_LETTERS[s])
            else:
                raise LuminaValueError(f"einsum: subscripts must be integers in [0, {len(_LETTERS)}) or Ellipsis, "
                                       f"got {s!r}")
        return "".join(out)
    n = len(args) // 2                       # (operand, sublist) pairs, then the output's sublist if odd
    operands, subs = list(args[0:2 * n:2]), list(args[1:2 * n:2])
    if any(not isinstance(s, (list, tuple)) for s in subs):
        raise LuminaValueError("einsum: the sublist form takes a sublist after each operand")
    lhs = ",".join(term(s) for s in subs)
    rhs = "->" + term(args[-1]) if len(args) % 2 else ""
    return lhs + rhs, operands


def _parse(equation: str, ranks: list[int]) -> tuple[list[list[str]], list[str]]:
    """The labels of each operand and of the output; ``...`` becomes labels ``*0, *1, ...``
    (right-aligned across operands)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if not re.fullmatch(r"[a-zA-Z.]*(,[a-zA-Z.]*)*", lhs) or not re.fullmatch(r"[a-zA-Z.]*", rhs):
        raise LuminaValueError(f"einsum: equation {equation!r} may hold only letters, '...', ',' and one '->'")
    if len(terms) != len(ranks):
        raise LuminaValueError(f"einsum: equation {equation!r} has {len(terms)} operand term(s) for "
                               f"{len(ranks)} operand(s)")
    n_ell = 0
    for term, r in zip(terms, ranks):
        if "..." in term:
            n_ell = max(n_ell, r - len(term.replace("...", "")))
    ell = [f"*{i}" for i in range(n_ell)]

    def labels(term: str, rank: int | None, which: str) -> list[str]:
        head, dots, tail = term.partition("...")
        if "." in head + tail:
            raise LuminaValueError(f"einsum: equation {equation!r}: '.' may only appear as one '...' per term")
        if not dots:
            if rank is not None and len(term) != rank:
                raise LuminaShapeError(f"einsum: equation {equation!r}: the term {term!r} of {which} has "
                                       f"{len(term)} labels for an input of rank {rank}")
            return list(term)
        k = (rank - len(head) - len(tail)) if rank is not None else n_ell
        if k < 0:
            raise LuminaShapeError(f"einsum: equation {equation!r}: the term {term!r} of {which} has more "
                                   f"labels than an input of rank {rank}")
        return list(head) + ell[n_ell - k:] + list(tail)

    ins = [labels(t, r, f"operand {i}") for i, (t, r) in enumerate(zip(terms, ranks))]
    if arrow:
        out = labels(rhs, None, "the output")
    else:
        letters = [c for t in terms for c in t if c != "."]
        out = ell + sorted(c for c in set(letters) if letters.count(c) == 1)
    for label in out:
        if out.count(label) > 1:
            raise LuminaValueError(f"einsum: equation {equation!r}: output subscript {label!r} appears more "
                                   "than once in the output")
        if not any(label in t for t in ins):
            raise LuminaValueError(f"einsum: equation {equation!r}: output subscript {label!r} does not appear "
                                   "in any operand")
    return ins, out


def _diagonal(x: Tensor, labels: list[str]) -> tuple[Tensor, list[str]]:
    """Merge repeated labels of one operand (``ii -> i``): a masked sum over the second copy."""
    labels = list(labels)
    i = 0
    while i < len(labels):
        if labels[i] in labels[i + 1:]:
            j = labels.index(labels[i], i + 1)
            eye = np.eye(x.shape[i], x.shape[j], dtype=bool)
            mask = eye.reshape([x.shape[a] if a in (i, j) else 1 for a in range(x.ndim)])
            x = where(tensor(mask), x, 0).sum(j).to(x.dtype)
            del labels[j]
        else:
            i += 1
    return x, labels


def _sum_labels(x: Tensor, labels: list[str], keep) -> tuple[Tensor, list[str]]:
    """``x`` summed over its labels not in ``keep`` (a sum, as torch's: int32 gives int64)."""
    gone = [a for a, label in enumerate(labels) if label not in keep]
    if gone:
        x = x.sum(tuple(gone))
    return x, [label for label in labels if label in keep]


def _contract(a: Tensor, la: list[str], b: Tensor, lb: list[str], keep) -> tuple[Tensor, list[str]]:
    """``a`` and ``b`` multiplied over their shared labels, summing those not in ``keep``: one
    batched matmul ``[batch, free_a, summed] x [batch, summed, free_b]``.

    Size-1 dims broadcast as torch's ``sumproduct_pair`` treats them: a summed label of size 1 on
    one side is summed out of the other side first (so ``[x0, x1] . [inf]`` is ``(x0 + x1) * inf``);
    a kept one is expanded."""
    size_a, size_b = dict(zip(la, a.shape)), dict(zip(lb, b.shape))
    summed = [label for label in la if label in lb and label not in keep]
    for x, lx, mine, theirs, side in ((a, la, size_a, size_b, "a"), (b, lb, size_b, size_a, "b")):
        ones = tuple(lx.index(label) for label in summed if theirs[label] == 1 and mine[label] != 1)
        if ones:
            x = x.sum(ones, keepdim=True)
            if side == "a":
                a, size_a = x, dict(zip(la, x.shape))
            else:
                b, size_b = x, dict(zip(lb, x.shape))
    batch = [label for label in la if label in lb and label in keep]
    want_a = tuple(size_b[label] if label in batch and d == 1 else d for label, d in zip(la, a.shape))
    want_b = tuple(size_a[label] if label in batch and d == 1 else d for label, d in zip(lb, b.shape))
    a = a.expand(want_a) if want_a != a.shape else a
    b = b.expand(want_b) if want_b != b.shape else b
    free_a = [label for label in la if label not in lb]
    free_b = [label for label in lb if label not in la]
    size = {**dict(zip(la, a.shape)), **dict(zip(lb, b.shape))}
    n = {name: math.prod(size[label] for label in group) for name, group in
         (("batch", batch), ("summed", summed), ("free_a", free_a), ("free_b", free_b))}
    x = a.permute([la.index(label) for label in batch + free_a + summed]).reshape(
        n["batch"], n["free_a"], n["summed"])
    y = b.permute([lb.index(label) for label in batch + summed + free_b]).reshape(
        n["batch"], n["summed"], n["free_b"])
    out = matmul(x, y).reshape([size[label] for label in batch + free_a + free_b])
    return out, batch + free_a + free_b


def einsum(*args) -> Tensor:
    """``torch.einsum(equation, *operands)``: the operands as varargs or one list, or torch's
    sublist form ``einsum(op1, [0, 1], op2, [1, 2], [0, 2])``.

    The result has the output labels' sizes and the operands' dtype (int32: see the module
    docstring). Raises LuminaTypeError for
    operands of different dtypes or bool ones (as torch, which does not promote here),
    LuminaValueError for a malformed equation (a subscript that is not a letter, an output
    subscript repeated or absent from the operands, a term count other than the operand count),
    LuminaShapeError for a term whose subscripts do not match its operand's rank or a label with two
    sizes other than 1."""
    if not args:
        raise LuminaTypeError("einsum: missing the equation and the operands")
    if isinstance(args[0], str):
        equation = args[0]
        operands = list(args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:])
    else:
        equation, operands = _sublist_equation(args)
    if not operands:
        raise LuminaValueError(f"einsum: equation {equation!r} needs at least one operand")
    operands = [t if isinstance(t, Tensor) else tensor(t) for t in operands]
    ins, out = _parse(equation, [t.ndim for t in operands])
    dtype = operands[0].dtype
    if any(t.dtype is not dtype for t in operands):
        raise LuminaTypeError(f"einsum: operands must have one dtype (torch does not promote here), got "
                              f"{', '.join(str(t._value.type) for t in operands)}")
    if dtype is DType.bool:
        raise LuminaTypeError(f"einsum: bool operands are not supported (as torch), got "
                              f"{', '.join(str(t._value.type) for t in operands)}")
    size: dict[str, int] = {}
    for i, (t, labels) in enumerate(zip(operands, ins)):
        seen: dict[str, int] = {}
        for label, d in zip(labels, t.shape):
            if label in seen and seen[label] != d:
                raise LuminaShapeError(f"einsum: equation {equation!r}: subscript {label!r} is repeated for "
                                       f"operand {i} {t._value.type} with sizes {seen[label]} and {d}")
            seen[label] = d
            if d != 1 and size.get(label, 1) not in (1, d):
                raise LuminaShapeError(f"einsum: equation {equation!r}: subscript {label!r} has sizes "
                                       f"{size[label]} and {d} (operand {i} {t._value.type}); they must "
                                       "match or be 1")
            size[label] = d if d != 1 else size.get(label, 1)
    compute = DType.float32 if dtype.is_half else dtype
    terms = []
    for i, (t, labels) in enumerate(zip(operands, ins)):
        t, labels = _diagonal(t.to(compute), labels)
        elsewhere = {label for other in ins[:i] + ins[i + 1:] for label in other}
        terms.append(_sum_labels(t, labels, elsewhere | set(out)))
    acc, la = terms[0]
    for i, (t, lt) in enumerate(terms[1:], start=1):
        keep = set(out) | {label for other in ins[i + 1:] for label in other}
        acc, la = _sum_labels(acc, la, keep | set(lt))
        acc, la = _contract(acc, la, t, lt, keep)
    acc, la = _sum_labels(acc, la, set(out))
    result = acc.permute([la.index(label) for label in out]) if out else acc
    if result is operands[0]:
        return result.clone()
    return result.to(dtype) if dtype is not compute else result
