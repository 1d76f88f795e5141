"""Recurrent layers: RNN, GRU and LSTM, unrolled over the (static) sequence length.

Each direction's input projection ``X W^T + Wb (+ Rb)`` is one GEMM over all time steps; the
recurrence is then one small ``H R^T`` product and a few elementwise gates per step. ``reverse``
walks the steps backwards; ``bidirectional`` runs both directions and stacks them. Where
``sequence_lens`` is given, batch entry ``b`` updates its state only for steps ``t < len[b]`` (a
``where`` on a data mask) and its outputs past the end are zeros, as ONNX Runtime computes them.

Equations, gate orders (RNN: ``i``; GRU: ``z, r, h``; LSTM: ``i, o, f, c``), layouts and the
activation functions with their ``alpha`` / ``beta``: the ONNX operator specification
(https://onnx.ai/onnx/operators/onnx__LSTM.html and siblings). ``clip`` bounds every gate's input
before its activation.
"""
from __future__ import annotations

import numpy as np

from ...ir.dtypes import DType
from ...tensor import Tensor, cat, matmul, stack, tensor, where, zeros
from .registry import handler, optional, tensor_of

# name -> (number of (alpha, beta) parameters it reads, defaults, function)
_ACTIVATIONS = {
    "Relu": (0, (), lambda x, a, b: x.relu()),
    "Tanh": (0, (), lambda x, a, b: x.tanh()),
    "Sigmoid": (0, (), lambda x, a, b: x.sigmoid()),
    "Softsign": (0, (), lambda x, a, b: x / (x.abs() + 1.0)),
    "Softplus": (0, (), lambda x, a, b: where(x > 20.0, x, (x.exp() + 1.0).log())),
    "Affine": (2, (1.0, 0.0), lambda x, a, b: x * a + b),
    "LeakyRelu": (1, (0.01,), lambda x, a, b: where(x >= 0.0, x, x * a)),
    "ThresholdedRelu": (1, (1.0,), lambda x, a, b: where(x > a, x, 0.0)),
    "ScaledTanh": (2, (1.0, 1.0), lambda x, a, b: (x * b).tanh() * a),
    "HardSigmoid": (2, (0.2, 0.5), lambda x, a, b: (x * a + b).clamp(0.0, 1.0)),
    "Elu": (1, (1.0,), lambda x, a, b: where(x >= 0.0, x, (x.exp() - 1.0) * a)),
}
_DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _activations(ctx, attrs, directions: int) -> list[list]:
    """One list of activation callables per direction (the attribute lists them forward first)."""
    per = len(_DEFAULTS[ctx.op_type])
    names = [n.decode() if isinstance(n, bytes) else n
             for n in attrs.get("activations", _DEFAULTS[ctx.op_type] * directions)]
    if len(names) == per and directions == 2:
        names = names * 2
    if len(names) != per * directions:
        raise ctx.error(f"activations {names} must name {per} function(s) per direction ({directions})")
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    funcs = []
    for name in names:
        key = next((k for k in _ACTIVATIONS if k.lower() == name.lower()), None)
        if key is None:
            raise ctx.error(f"activation {name!r} is not supported ({', '.join(_ACTIVATIONS)})")
        count, defaults, fn = _ACTIVATIONS[key]
        a = alphas.pop(0) if count >= 1 and alphas else (defaults[0] if count >= 1 else 0.0)
        b = betas.pop(0) if count >= 2 and betas else (defaults[1] if count >= 2 else 0.0)
        funcs.append(lambda x, fn=fn, a=a, b=b: fn(x, a, b))
    return [funcs[d * per:(d + 1) * per] for d in range(directions)]


def _split(t: Tensor, parts: int, axis: int = -1) -> list[Tensor]:
    size = t.shape[axis] // parts
    axis = axis % t.ndim
    return [t[(slice(None),) * axis + (slice(k * size, (k + 1) * size),)] for k in range(parts)]


def _run_direction(op: str, xw: Tensor, r: Tensor, rb, h0: Tensor, c0, p, acts, steps, mask, clip,
                   input_forget: bool):
    """The recurrence for one direction. ``xw [T, B, G*H]``: the input projection with its biases;
    ``rb``: for a GRU with ``linear_before_reset``, the ``h`` gate's recurrent bias (0 if absent),
    which the reset gate scales, else None; ``r [G*H, H]``; ``steps``: the time order. Returns (``[T, B, H]`` outputs, last H, last C)."""
    gate = (lambda v: v.clamp(-clip, clip)) if clip is not None else (lambda v: v)
    rt = r.permute(1, 0)
    if op == "GRU":
        hidden = r.shape[1]
        rt_zr, rt_h = r[:2 * hidden].permute(1, 0), r[2 * hidden:].permute(1, 0)
    h, c = h0, c0
    ys = [None] * xw.shape[0]
    for t in steps:
        x_t = xw[t]
        if op == "RNN":
            h_new = acts[0](gate(x_t + matmul(h, rt)))
        elif op == "GRU":
            f, g = acts
            xz, xr, xh = _split(x_t, 3)
            hz, hr = _split(matmul(h, rt_zr), 2)
            z = f(gate(xz + hz))
            reset = f(gate(xr + hr))
            if rb is not None:   # linear_before_reset: the reset gate scales H R_h^T + Rb_h
                cand = g(gate(xh + reset * (matmul(h, rt_h) + rb)))
            else:
                cand = g(gate(xh + matmul(reset * h, rt_h)))
            h_new = (1.0 - z) * cand + z * h
        else:
            f, g, hact = acts
            gates = x_t + matmul(h, rt)
            i, o, fg, cc = _split(gates, 4)
            pi, po, pf = p if p is not None else (None, None, None)
            i = f(gate(i + pi * c if pi is not None else i))
            if input_forget:
                fg = 1.0 - i
            else:
                fg = f(gate(fg + pf * c if pf is not None else fg))
            c_new = fg * c + i * g(gate(cc))
            o = f(gate(o + po * c_new if po is not None else o))
            h_new = o * hact(c_new)
            c = c_new if mask is None else where(mask[t], c_new, c)
        if mask is None:
            h = h_new
            ys[t] = h_new
        else:
            h = where(mask[t], h_new, h)
            ys[t] = where(mask[t], h_new, 0.0)
    return stack(ys, 0), h, c


@handler("RNN", "GRU", "LSTM")
def _recurrent(ctx, xs, attrs):
    op = ctx.op_type
    x, w, r = (tensor_of(v) for v in xs[:3])
    if not x.dtype.is_float or w.dtype is not x.dtype or r.dtype is not x.dtype:
        raise ctx.error(f"X, W and R must share a float dtype, got {x.dtype.name}, {w.dtype.name}, {r.dtype.name}")
    direction = attrs.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ctx.error(f"direction={direction!r} is not supported (forward, reverse, bidirectional)")
    dirs = 2 if direction == "bidirectional" else 1
    layout = attrs.get("layout", 0)
    if layout not in (0, 1):
        raise ctx.error(f"layout={layout} is not supported (0, 1)")
    if x.ndim != 3:
        raise ctx.error(f"X must be 3-D, got shape {list(x.shape)}")
    if layout == 1:   # [B, T, I] -> [T, B, I]
        x = x.permute(1, 0, 2)
    steps_n, batch, _ = x.shape
    gates = _GATES[op]
    hidden = r.shape[-1]
    if attrs.get("hidden_size", hidden) != hidden or w.shape[0] != dirs or r.shape != (dirs, gates * hidden, hidden) \
            or w.shape[1] != gates * hidden or w.shape[2] != x.shape[2]:
        raise ctx.error(f"W {list(w.shape)} and R {list(r.shape)} do not match X {list(xs[0].shape)}, hidden_size "
                        f"{attrs.get('hidden_size')} and {dirs} direction(s) ({gates} gate(s))")
    b = optional(xs, 3)
    b = None if b is None else tensor_of(b)
    lens = optional(xs, 4)
    h0, c0, p = (None if v is None else tensor_of(v) for v in (optional(xs, 5), optional(xs, 6), optional(xs, 7)))
    if layout == 1:
        h0 = None if h0 is None else h0.permute(1, 0, 2)
        c0 = None if c0 is None else c0.permute(1, 0, 2)
    clip = attrs.get("clip")
    acts = _activations(ctx, attrs, dirs)
    mask = None
    if lens is not None:
        lens = tensor_of(lens).to(DType.int64).reshape(1, batch, 1)
        mask = tensor(np.arange(steps_n, dtype=np.int64).reshape(steps_n, 1, 1)) < lens   # [T, B, 1]
    linear_before_reset = op == "GRU" and bool(attrs.get("linear_before_reset", 0))
    ys, hs, cs = [], [], []
    for d in range(dirs):
        wd, rd = w[d], r[d]
        xw = matmul(x, wd.permute(1, 0))                                # [T, B, G*H]
        rb = 0.0 if linear_before_reset else None
        if b is not None:
            wb, rbd = _split(b[d], 2)
            if linear_before_reset:   # the h gate's recurrent bias sits inside the reset product
                rb = rbd[2 * hidden:]
                rbd = cat([rbd[:2 * hidden], zeros(hidden, dtype=x.dtype)])
            xw = xw + (wb + rbd)
        hd = h0[d] if h0 is not None else zeros(batch, hidden, dtype=x.dtype)
        cd = (c0[d] if c0 is not None else zeros(batch, hidden, dtype=x.dtype)) if op == "LSTM" else None
        pd = _split(p[d], 3) if p is not None and op == "LSTM" else None
        backward = direction == "reverse" or d == 1
        order = range(steps_n - 1, -1, -1) if backward else range(steps_n)
        y, h_last, c_last = _run_direction(op, xw, rd, rb, hd, cd, pd, acts[d], order, mask, clip,
                                           bool(attrs.get("input_forget", 0)))
        ys.append(y), hs.append(h_last), cs.append(c_last)
    y = stack(ys, 1)                                                    # [T, D, B, H]
    y_h = stack(hs, 0)                                                  # [D, B, H]
    y_c = stack(cs, 0) if op == "LSTM" else None
    if layout == 1:
        y, y_h = y.permute(2, 0, 1, 3), y_h.permute(1, 0, 2)
        y_c = y_c.permute(1, 0, 2) if y_c is not None else None
    return [y, y_h] + ([y_c] if op == "LSTM" else [])
