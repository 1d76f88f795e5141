"""``ctc_loss``: Connectionist Temporal Classification (Graves et al. 2006, "Connectionist Temporal
Classification: Labelling Unsegmented Sequence Data with Recurrent Neural Networks"), as
``torch.nn.functional.ctc_loss`` (https://pytorch.org/docs/stable/generated/torch.nn.CTCLoss.html).

The forward (alpha) recursion is unrolled over time into tensor ops, so the gradient comes from
autodiff; log-space zeros are a large negative number (``_NEG``) rather than -inf, so no
``inf - inf`` reaches the gradient of an unreachable state.
"""
from __future__ import annotations

import numpy as np

from ...errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ...tensor import Tensor, cat, index_select, logsumexp, stack, tensor, where
from ...tensor.indexing import known_values
from .loss import _check_reduction

_NEG = -1e30       # log of "impossible"; a sum below _IMPOSSIBLE is -inf
_IMPOSSIBLE = -1e29


def _ints(value, op: str, name: str) -> np.ndarray:
    """Lengths or labels as a NumPy int array: ints, sequences, NumPy arrays, or tensors whose values
    are known (outside ``@lumina.compile``; inside, pass ints or NumPy). Raises LuminaValueError /
    LuminaTypeError."""
    if isinstance(value, Tensor):
        if value.dtype.is_float:
            raise LuminaTypeError(f"{op}: {name} must be integers, got {value._value.type}")
        vals = known_values(value)
        if vals is None:
            vals = value.numpy() if not _tracing() else None
        if vals is None:
            raise LuminaValueError(f"{op}: {name} must be known before the loss is built (pass ints or NumPy arrays "
                                   "inside @lumina.compile): the alignment lattice depends on them")
        return np.asarray(vals, np.int64)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise LuminaTypeError(f"{op}: {name} must be integers, got {arr.dtype}")
    return arr.astype(np.int64)


def _tracing() -> bool:
    from ...tensor.core import STATE
    return STATE.trace is not None


def _sample_nll(lp: Tensor, labels: np.ndarray, blank: int) -> Tensor:
    """``-log p(labels | lp)`` for one sample's log-probabilities ``lp [T, C]`` (T >= 1)."""
    ext = np.full(2 * len(labels) + 1, blank, np.int64)
    ext[1::2] = labels
    n = len(ext)
    skip = np.zeros(n, bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])   # s-2 -> s: between distinct labels
    emit = index_select(lp, 1, tensor(ext)).clamp(min=_NEG)   # [T, L]
    neg = emit[0, :1] * 0.0 + _NEG                            # a [1] tensor of lp's dtype
    alpha = where(tensor(np.arange(n) < 2), emit[0], _NEG)
    for t in range(1, lp.shape[0]):
        one = cat([neg, alpha[:-1]]) if n > 1 else neg
        two = where(tensor(skip), cat([neg, neg, alpha[:-2]]), _NEG) if n > 2 else alpha * 0.0 + _NEG
        alpha = logsumexp(stack([alpha, one, two]), 0) + emit[t]
    ll = logsumexp(alpha[-2:], 0) if n > 1 else alpha[0]
    return -where(ll < _IMPOSSIBLE, -np.inf, ll)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """``torch.nn.functional.ctc_loss``: the negative log-likelihood of each target sequence under
    all its alignments to ``log_probs``.

    ``log_probs [T, N, C]`` (or ``[T, C]``), float log-probabilities (``log_softmax`` outputs);
    ``targets [N, S]`` padded (or the ``sum(target_lengths)`` labels concatenated, or ``[S]``
    unbatched), class indices other than ``blank``; ``input_lengths`` / ``target_lengths`` ``[N]``
    (ints, sequences, NumPy arrays, or tensors outside ``@lumina.compile``: the lattice is built
    from their values, so inside a compiled function targets and lengths are given as NumPy/ints).
    "mean" divides each loss by its target length (at least 1), then averages; an impossible
    alignment gives inf, or 0 with ``zero_infinity``. torch's gradient for ``log_probs`` is that of
    the logits under ``log_softmax`` (it adds ``exp(log_probs)``); lumina's is the true one, so the
    two agree through a ``log_softmax``. Raises LuminaShapeError / LuminaTypeError /
    LuminaValueError (lengths out of range, ``blank`` in the targets or out of [0, C))."""
    op = "ctc_loss"
    _check_reduction(reduction, op)
    if not isinstance(log_probs, Tensor) or not log_probs.dtype.is_float:
        raise LuminaTypeError(f"{op}: log_probs must be a float tensor")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
    if log_probs.ndim != 3:
        raise LuminaShapeError(f"{op}: log_probs must be [T, N, C] or [T, C], got {log_probs._value.type}")
    t_max, n, c = log_probs.shape
    if not 0 <= blank < c:
        raise LuminaValueError(f"{op}: blank {blank} must be in [0, {c})")
    tg = _ints(targets, op, "targets")
    il = _ints(input_lengths, op, "input_lengths").reshape(-1)
    tl = _ints(target_lengths, op, "target_lengths").reshape(-1)
    if unbatched:
        tg = tg.reshape(1, -1)
    if il.shape != (n,) or tl.shape != (n,):
        raise LuminaShapeError(f"{op}: input_lengths {list(il.shape)} and target_lengths {list(tl.shape)} must "
                               f"have the batch size {n}")
    if ((il < 0) | (il > t_max)).any():
        raise LuminaValueError(f"{op}: input_lengths {il.tolist()} must be in [0, {t_max}]")
    concatenated = tg.ndim == 1
    if concatenated and tl.sum() != tg.size or not concatenated and ((tl < 0) | (tl > tg.shape[1])).any():
        raise LuminaValueError(f"{op}: target_lengths {tl.tolist()} do not fit targets of shape {list(tg.shape)}")
    offsets = np.concatenate([[0], np.cumsum(tl)])
    losses = []
    for b in range(n):
        labels = tg[offsets[b]:offsets[b + 1]] if concatenated else tg[b, :tl[b]]
        if ((labels < 0) | (labels >= c) | (labels == blank)).any():
            raise LuminaValueError(f"{op}: sample {b}'s targets {labels.tolist()} must be classes in [0, {c}) "
                                   f"other than blank {blank}")
        if il[b] == 0:
            losses.append(log_probs[0, b, 0] * 0.0 + (np.inf if len(labels) else 0.0))
            continue
        losses.append(_sample_nll(log_probs[:il[b], b], labels, blank))
    loss = stack(losses)
    if zero_infinity:
        loss = where(loss == np.inf, 0.0, loss)
    if reduction == "mean":
        return (loss / tensor(np.maximum(tl, 1).astype(loss.dtype.numpy))).mean()
    if reduction == "sum":
        return loss.sum()
    return loss[0] if unbatched else loss
