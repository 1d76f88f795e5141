"""Recurrent layers as ``torch.nn``'s: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells.

Every layer is a decomposition into tensor ops: the input projection of all time steps is one
matrix product, then the recurrence is unrolled step by step in the graph (a sequence of ``T``
steps becomes ``T`` copies of the cell), so autodiff gives the gradients and ``@lumina.compile``
sees one straight-line graph. The step formulas, gate order and parameter layout are PyTorch's
(https://pytorch.org/docs/2.13/generated/torch.nn.LSTM.html, ``.../torch.nn.GRU.html``,
``.../torch.nn.RNN.html``): LSTM gates ``i, f, g, o`` (Hochreiter & Schmidhuber 1997, with the
forget gate of Gers et al. 2000 and the projection of Sak et al. 2014), GRU gates ``r, z, n``
(Cho et al. 2014, with ``r`` applied after the hidden product, as cuDNN and torch do).
"""
from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy as np

from ..errors import LuminaShapeError, LuminaTypeError, LuminaValueError
from ..tensor import Tensor, cat, stack, zeros
from . import init
from .functional.activation import dropout as _dropout
from .module import Module, Parameter, factory

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    y = x @ w.T
    return y if b is None else y + b


def _step(mode: str, gx: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
          w_hr: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """One recurrence step. ``gx = x W_ih^T + b_ih`` ``[N, G*H]`` (the input's share of the
    gates), ``h`` ``[N, H_out]``, ``c`` ``[N, H]`` (LSTM only). Returns ``(h', c')``."""
    gh = _affine(h, w_hh, b_hh)
    if mode == "RNN_TANH":
        return (gx + gh).tanh(), None
    if mode == "RNN_RELU":
        return (gx + gh).relu(), None
    if mode == "LSTM":
        i, f, g, o = (gx + gh).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return (h if w_hr is None else h @ w_hr.T), c
    xr, xz, xn = gx.chunk(3, -1)
    hr, hz, hn = gh.chunk(3, -1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h, None


def _check_float(where: str, what: str, t: Tensor, weight: Tensor) -> None:
    if t.dtype != weight.dtype:
        raise LuminaTypeError(f"{where}: {what} dtype {t._value.type} does not match the weight dtype "
                              f"{weight.dtype.name} (convert the input with .to({weight.dtype.name}) or the "
                              f"module with .to({t.dtype.name}))")


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrence shared by ``RNN``, ``LSTM`` and ``GRU``
    (``torch.nn.RNNBase``; not exported, as users build the three subclasses).

    Parameters per layer ``k`` and direction (suffix ``_reverse`` for the backward one), in
    torch's order and names: ``weight_ih_l{k}`` ``[G*H, I_k]``, ``weight_hh_l{k}`` ``[G*H, H_out]``,
    ``bias_ih_l{k}`` / ``bias_hh_l{k}`` ``[G*H]`` (with ``bias``), ``weight_hr_l{k}`` ``[P, H]``
    (LSTM with ``proj_size = P > 0``); ``G`` is 1 (RNN), 4 (LSTM), 3 (GRU), ``H_out`` is ``P``
    or ``H``, ``I_0 = input_size`` and ``I_k = D * H_out`` above it (``D = 2`` when
    bidirectional). All are drawn from U(-1/sqrt(H), 1/sqrt(H)) as torch's ``reset_parameters``.
    Raises LuminaValueError for a non-positive ``hidden_size`` / ``num_layers``, a ``dropout``
    outside [0, 1] or ``proj_size`` not in [0, hidden_size); warns, as torch, when ``dropout > 0``
    with one layer (the dropout acts between layers only).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        kind = mode[:3] if mode.startswith("RNN") else mode
        if mode not in _GATES:
            raise LuminaValueError(f"RNNBase: unrecognized RNN mode {mode!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise LuminaValueError(f"{kind}: dropout should be a number in range [0, 1] representing the "
                                   f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers="
                          f"{num_layers}", stacklevel=3)
        for name, value, low in (("input_size", input_size, 0), ("hidden_size", hidden_size, 1),
                                 ("num_layers", num_layers, 1), ("proj_size", proj_size, 0)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise LuminaTypeError(f"{kind}: {name} should be of type int, got {type(value).__name__}")
            if value < low:
                raise LuminaValueError(f"{kind}: {name} must be "
                                       f"{'greater than zero' if low else 'a non-negative integer'}, got {value}")
        if proj_size and mode != "LSTM":
            raise LuminaValueError(f"{kind}: proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise LuminaValueError(f"{kind}: proj_size has to be smaller than hidden_size, got proj_size "
                                   f"{proj_size} and hidden_size {hidden_size}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gates = _GATES[mode] * hidden_size
        out = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else out * directions
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = {f"weight_ih{sfx}": (gates, in_size), f"weight_hh{sfx}": (gates, out)}
                if bias:
                    shapes.update({f"bias_ih{sfx}": (gates,), f"bias_hh{sfx}": (gates,)})
                if proj_size:
                    shapes[f"weight_hr{sfx}"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(np.zeros(shape, np.float32)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()
        factory(self, device, dtype)

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch's."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            init.uniform_(getattr(self, name), -stdv, stdv)

    def flatten_parameters(self) -> None:
        """torch's cuDNN weight-packing call; lumina's compiler lays out weights itself, so a no-op."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction, in torch's order."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def _name(self) -> str:
        kind = "RNN" if self.mode.startswith("RNN") else self.mode
        return f"{kind}({self.input_size}, {self.hidden_size}, num_layers={self.num_layers})"

    def _state_shape(self, batch: int | None, size: int) -> tuple[int, ...]:
        layers = self.num_layers * (2 if self.bidirectional else 1)
        return (layers, size) if batch is None else (layers, batch, size)

    def _initial(self, hx, batch: int | None, unbatched: bool, weight: Tensor) -> tuple[Tensor, Tensor | None]:
        """(h0, c0) as ``[L*D, N, *]`` (zeros where not given), checked against torch's shapes."""
        out = self.proj_size or self.hidden_size
        n = 1 if batch is None else batch
        if hx is None:
            h0 = zeros(self._state_shape(n, out), dtype=weight.dtype)
            c0 = zeros(self._state_shape(n, self.hidden_size), dtype=weight.dtype) if self.mode == "LSTM" else None
            return h0, c0
        lstm = self.mode == "LSTM"
        if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise LuminaTypeError(f"{self._name()}: hx must be a tuple (h_0, c_0) of tensors, got "
                                  f"{type(hx).__name__}")
        if not lstm and not isinstance(hx, Tensor):
            raise LuminaTypeError(f"{self._name()}: hx must be a tensor, got {type(hx).__name__}")
        states = list(hx) if lstm else [hx]
        sizes = [out, self.hidden_size][:len(states)]
        checked = []
        for what, s, size in zip(("h_0", "c_0"), states, sizes):
            want = self._state_shape(batch, size)
            if not isinstance(s, Tensor):
                raise LuminaTypeError(f"{self._name()}: {what} must be a tensor, got {type(s).__name__}")
            if s.ndim != len(want):
                raise LuminaShapeError(f"{self._name()}: for {'unbatched 2-D' if unbatched else 'batched 3-D'} "
                                       f"input, {what} should also be {len(want)}-D, got {s._value.type}")
            if tuple(s.shape) != want:
                raise LuminaShapeError(f"{self._name()}: expected {what} of shape {want}, got {s._value.type}")
            _check_float(self._name(), what, s, weight)
            checked.append(s.unsqueeze(1) if unbatched else s)
        return checked[0], (checked[1] if lstm else None)

    def forward(self, input: Tensor, hx=None):
        """``input`` ``[T, N, I]`` (``[N, T, I]`` with ``batch_first``) or unbatched ``[T, I]``;
        ``hx``: ``h_0`` ``[L*D, N, H_out]`` (LSTM: the pair ``(h_0, c_0)``, ``c_0`` ``[L*D, N, H]``),
        unbatched without the ``N`` dim, zeros when None. Returns ``(output, h_n)`` (LSTM:
        ``(output, (h_n, c_n))``) with ``output`` ``[T, N, D*H_out]`` (batch_first: ``[N, T, ...]``).
        Raises LuminaShapeError naming the layer for an input that is not 2-D / 3-D, a feature
        size other than ``input_size``, a zero-length sequence or an ``hx`` of the wrong shape;
        LuminaTypeError when the input or state dtype differs from the weights'."""
        weight = self.weight_ih_l0
        if not isinstance(input, Tensor):
            raise LuminaTypeError(f"{self._name()}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise LuminaShapeError(f"{self._name()}: expected input to be 2-D or 3-D, got {input._value.type}")
        if input.shape[-1] != self.input_size:
            raise LuminaShapeError(f"{self._name()}: input.size(-1) must be equal to input_size "
                                   f"{self.input_size}, got {input._value.type}")
        _check_float(self._name(), "input", input, weight)
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise LuminaShapeError(f"{self._name()}: expected sequence length to be larger than 0, got "
                                   f"{input._value.type}")
        h0, c0 = self._initial(hx, None if unbatched else batch, unbatched, weight)
        directions = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = _dropout(x, self.dropout, True)
            outs = []
            for d in range(directions):
                k = layer * directions + d
                ys, h, c = self._direction(x, layer, d, h0[k], None if c0 is None else c0[k])
                outs.append(ys)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if directions == 1 else cat(outs, -1)
        output = x.squeeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        h_n_t = stack(h_n, 0)
        h_n_t = h_n_t.squeeze(1) if unbatched else h_n_t
        if self.mode != "LSTM":
            return output, h_n_t
        c_n_t = stack(c_n, 0)
        return output, (h_n_t, c_n_t.squeeze(1) if unbatched else c_n_t)

    def _direction(self, x: Tensor, layer: int, d: int, h: Tensor, c: Tensor | None):
        """One layer in one direction over ``x`` ``[T, N, I_k]``: (outputs ``[T, N, H_out]`` in
        time order, last h, last c)."""
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        p = {n: getattr(self, n + sfx, None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
        gx = _affine(x, p["weight_ih"], p["bias_ih"]).unbind(0)
        order = range(len(gx) - 1, -1, -1) if d else range(len(gx))
        ys: list[Tensor | None] = [None] * len(gx)
        for t in order:
            h, c = _step(self.mode, gx[t], h, c, p["weight_hh"], p["bias_hh"], p["weight_hr"])
            ys[t] = h
        return stack(ys, 0), h, c

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


_BASE_SIGNATURE = inspect.signature(RNNBase.__init__)


def _bind(kind: str, mode: str, args: tuple, kwargs: dict) -> dict:
    """torch's ``RNN`` / ``LSTM`` / ``GRU`` take ``(*args, **kwargs)`` and hand them to
    ``RNNBase``; the same binding here, with a LuminaTypeError naming the layer on a bad call."""
    try:
        bound = _BASE_SIGNATURE.bind(None, mode, *args, **kwargs)
    except TypeError as e:
        raise LuminaTypeError(f"{kind}: {e}") from None
    bound.apply_defaults()
    values = dict(bound.arguments)
    values.pop("self")
    return values


class RNN(RNNBase):
    """``torch.nn.RNN``: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` with ``act`` tanh or
    relu, stacked ``num_layers`` deep. Takes torch's arguments ``(input_size, hidden_size,
    num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, device=None, dtype=None)``; shapes, parameters and errors as ``RNNBase``.
    Raises LuminaValueError for another nonlinearity or a ``proj_size``."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise LuminaValueError("RNN: proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            nonlinearity, args = args[3], args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if nonlinearity not in modes:
            raise LuminaValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        super().__init__(**_bind("RNN", modes[nonlinearity], args, kwargs))
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """``torch.nn.LSTM``: ``i, f, g, o = split(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``,
    ``c_t = σ(f) c_{t-1} + σ(i) tanh(g)``, ``h_t = σ(o) tanh(c_t)`` (times ``W_hr^T`` with
    ``proj_size``). Takes torch's arguments ``(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None)``;
    ``forward`` returns ``(output, (h_n, c_n))``. Shapes, parameters and errors as ``RNNBase``."""

    def __init__(self, *args, **kwargs):
        super().__init__(**_bind("LSTM", "LSTM", args, kwargs))


class GRU(RNNBase):
    """``torch.nn.GRU``: ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise, ``n = tanh(W_in x +
    b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``. Takes torch's arguments ``(input_size,
    hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
    device=None, dtype=None)``. Shapes, parameters and errors as ``RNNBase``."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise LuminaValueError("GRU: proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__(**_bind("GRU", "GRU", args, kwargs))


class RNNCellBase(Module):
    """One step of a recurrence (``torch.nn.RNNCellBase``; not exported): ``weight_ih``
    ``[G*H, input_size]``, ``weight_hh`` ``[G*H, H]``, ``bias_ih`` / ``bias_hh`` ``[G*H]`` (with
    ``bias``), all from U(-1/sqrt(H), 1/sqrt(H)) as torch's."""

    _mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        kind = type(self).__name__
        for name, value, low in (("input_size", input_size, 0), ("hidden_size", hidden_size, 1)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise LuminaTypeError(f"{kind}: {name} should be of type int, got {type(value).__name__}")
            if value < low:
                raise LuminaValueError(f"{kind}: {name} must be "
                                       f"{'greater than zero' if low else 'a non-negative integer'}, got {value}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(np.zeros((num_chunks * hidden_size, input_size), np.float32))
        self.weight_hh = Parameter(np.zeros((num_chunks * hidden_size, hidden_size), np.float32))
        self.bias_ih = Parameter(np.zeros(num_chunks * hidden_size, np.float32)) if bias else None
        self.bias_hh = Parameter(np.zeros(num_chunks * hidden_size, np.float32)) if bias else None
        self.reset_parameters()
        factory(self, device, dtype)

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch's."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _name(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _check(self, input: Tensor, states: list[Tensor | None]) -> tuple[Tensor, list[Tensor], bool]:
        """The input as ``[N, I]`` and the states as ``[N, H]`` (zeros where None), and whether the
        input was unbatched. Raises LuminaShapeError / LuminaTypeError naming the cell."""
        if not isinstance(input, Tensor):
            raise LuminaTypeError(f"{self._name()}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise LuminaShapeError(f"{self._name()}: expected input to be 1-D or 2-D, got {input._value.type}")
        if input.shape[-1] != self.input_size:
            raise LuminaShapeError(f"{self._name()}: input has inconsistent input_size: got "
                                   f"{input._value.type}, expected {self.input_size} features")
        _check_float(self._name(), "input", input, self.weight_ih)
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        out = []
        for i, s in enumerate(states):
            what = "hx" if len(states) == 1 else ("hx[0]", "hx[1]")[i]
            if s is None:
                out.append(zeros((x.shape[0], self.hidden_size), dtype=self.weight_ih.dtype))
                continue
            if not isinstance(s, Tensor):
                raise LuminaTypeError(f"{self._name()}: {what} must be a Tensor, got {type(s).__name__}")
            if s.ndim != input.ndim:
                raise LuminaShapeError(f"{self._name()}: {what} {s._value.type} must be {input.ndim}-D as the "
                                       f"input {input._value.type}")
            if s.shape[-1] != self.hidden_size:
                raise LuminaShapeError(f"{self._name()}: {what} has inconsistent hidden_size: got "
                                       f"{s._value.type}, expected {self.hidden_size}")
            s = s.unsqueeze(0) if unbatched else s
            if s.shape[0] != x.shape[0]:
                raise LuminaShapeError(f"{self._name()}: input batch size {x.shape[0]} ({input._value.type}) "
                                       f"doesn't match {what} batch size {s.shape[0]} ({s._value.type})")
            _check_float(self._name(), what, s, self.weight_ih)
            out.append(s)
        return x, out, unbatched

    def _run(self, input: Tensor, states: list[Tensor | None]) -> tuple[Tensor, Tensor | None, bool]:
        x, states, unbatched = self._check(input, states)
        h, c = _step(self._mode, _affine(x, self.weight_ih, self.bias_ih), states[0],
                     states[1] if len(states) > 1 else None, self.weight_hh, self.bias_hh)
        if unbatched:
            h, c = h.squeeze(0), (None if c is None else c.squeeze(0))
        return h, c, unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(RNNCellBase):
    """``torch.nn.RNNCell``: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, ``act`` tanh or relu.
    ``forward(input, hx=None)``: ``input`` ``[N, I]`` or ``[I]``, ``hx`` ``[N, H]`` / ``[H]``
    (zeros when None); returns ``h'`` of ``hx``'s shape. Raises LuminaValueError for another
    nonlinearity, LuminaShapeError / LuminaTypeError naming the cell for bad inputs."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if nonlinearity not in modes:
            raise LuminaValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity, self._mode = nonlinearity, modes[nonlinearity]

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, [hx])[0]


class LSTMCell(RNNCellBase):
    """``torch.nn.LSTMCell``: one LSTM step (gates ``i, f, g, o`` as ``LSTM``).
    ``forward(input, hx=None)``: ``input`` ``[N, I]`` or ``[I]``, ``hx`` the pair ``(h, c)`` of
    ``[N, H]`` / ``[H]`` (zeros when None); returns ``(h', c')``. Errors as ``RNNCell``."""

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise LuminaTypeError(f"{self._name()}: hx must be a tuple (h, c) of tensors, got {type(hx).__name__}")
        h, c, _ = self._run(input, [None, None] if hx is None else list(hx))
        return h, c


class GRUCell(RNNCellBase):
    """``torch.nn.GRUCell``: one GRU step (gates ``r, z, n`` as ``GRU``).
    ``forward(input, hx=None)``: ``input`` ``[N, I]`` or ``[I]``, ``hx`` ``[N, H]`` / ``[H]`` (zeros
    when None); returns ``h'``. Errors as ``RNNCell``."""

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, [hx])[0]
