"""Recurrent and transformer modules: RNN, LSTM, GRU (and cells), Transformer encoder and decoder layers.

Each layer is built in both libraries (torch's state loaded into lumina's), with dropout 0 so the
results are deterministic; outputs, input and state gradients and parameter gradients compared.
The float64 cases meet float32 layers: torch raises (mixed matrix products), and so does lumina.
Dropout in training mode, float64 layers, inputs of the wrong shape and compiled calls are in
tests/test_nn_rnn.py and tests/test_nn_transformer.py."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..cases import Arr, Case
from ..spec import OpSpec
from ..strategies import array

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""

_COMMON = dict(ulps=64, normwise=True, accumulates=True, draws=0.5)


@st.composite
def _sequence_cases(draw, dtype, layers: int, directions: int, hidden: int, cell: int, pair: bool):
    """``(input [T, N, 3], hx?)`` with ``T`` 1..3, ``N`` 0..2 or unbatched ``[T, 3]``; ``hx`` left out, a
    tensor ``[layers * directions, N, hidden]`` or (LSTM) the pair with ``c_0 [.., cell]``."""
    steps, batch = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    unbatched = draw(st.booleans())
    lead = () if unbatched else (batch,)
    x = Arr(draw(array(dtype, (steps,) + lead + (3,), special=False)), True)
    if not draw(st.booleans()):
        return Case((x,), dtype=dtype)
    h = Arr(draw(array(dtype, (layers * directions,) + lead + (hidden,), special=False)), True)
    if not pair:
        return Case((x, h), dtype=dtype)
    c = Arr(draw(array(dtype, (layers * directions,) + lead + (cell,), special=False)), True)
    return Case((x, (h, c)), dtype=dtype)


@st.composite
def _cell_cases(draw, dtype, pair: bool):
    """``(input [N, 3] or [3], hx?)`` for a cell of hidden size 4."""
    lead = () if draw(st.booleans()) else (draw(st.integers(0, 2)),)
    x = Arr(draw(array(dtype, lead + (3,), special=False)), True)
    if not draw(st.booleans()):
        return Case((x,), dtype=dtype)
    h = Arr(draw(array(dtype, lead + (4,), special=False)), True)
    if not pair:
        return Case((x, h), dtype=dtype)
    return Case((x, (h, Arr(draw(array(dtype, lead + (4,), special=False)), True))), dtype=dtype)


@st.composite
def _encoder_cases(draw, dtype, decoder: bool = False, prefix: str | None = None):
    """``src [S, N, 4]`` (``tgt [T, N, 4]`` and ``memory`` for a decoder) or unbatched, with a
    causal float mask or a bool key padding mask that leaves each row a key, on the first
    argument (``prefix``: "src" or "tgt", the masks' names)."""
    s, b = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    unbatched = draw(st.booleans())
    lead = () if unbatched else (b,)
    x = Arr(draw(array(dtype, (s,) + lead + (4,), special=False)), True)
    args = (x, Arr(draw(array(dtype, (draw(st.integers(1, 3)),) + lead + (4,), special=False)), True)) \
        if decoder else (x,)
    kw = {}
    form = draw(st.integers(0, 2))
    prefix = prefix or ("tgt" if decoder else "src")
    mask_name, pad_name = f"{prefix}_mask", f"{prefix}_key_padding_mask"
    if form == 1:
        kw[mask_name] = Arr(np.triu(np.full((s, s), -np.inf, dtype), 1))
    elif form == 2:
        pad = np.array(draw(st.lists(st.booleans(), min_size=s * b, max_size=s * b)), bool).reshape(b, s)
        pad[:, 0] = False
        kw[pad_name] = Arr(pad[0] if unbatched else pad)
    return Case(args, kw, dtype=dtype)


def _call(L, m, *args, **kwargs):
    return m(*args, **kwargs)


def _encoder_call(L, m, *args, src_mask=None, **kwargs):
    """``TransformerEncoder.forward`` names the attention mask ``mask``."""
    return m(*args, mask=src_mask, **kwargs)


def _row(name, make, cases, call=_call, **kw):
    return [OpSpec(f"nn.{name}", call, cases=cases, module=make, **{**_COMMON, **kw})]


def specs() -> list[OpSpec]:
    """This family's rows."""
    rows: list[OpSpec] = []
    rows += _row("RNN", lambda L: L.nn.RNN(3, 4, 2, nonlinearity="relu"),
                 lambda d: _sequence_cases(d, 2, 1, 4, 4, False))
    rows += _row("RNN#tanh_bidirectional", lambda L: L.nn.RNN(3, 4, bidirectional=True),
                 lambda d: _sequence_cases(d, 1, 2, 4, 4, False))
    rows += _row("LSTM", lambda L: L.nn.LSTM(3, 4, 2, bidirectional=True),
                 lambda d: _sequence_cases(d, 2, 2, 4, 4, True), draws=0.25)
    rows += _row("LSTM#proj_size", lambda L: L.nn.LSTM(3, 5, proj_size=2, bias=False),
                 lambda d: _sequence_cases(d, 1, 1, 2, 5, True))
    rows += _row("GRU", lambda L: L.nn.GRU(3, 4, 2, bidirectional=True),
                 lambda d: _sequence_cases(d, 2, 2, 4, 4, False), draws=0.25)
    rows += _row("RNNCell", lambda L: L.nn.RNNCell(3, 4), lambda d: _cell_cases(d, False))
    rows += _row("LSTMCell", lambda L: L.nn.LSTMCell(3, 4), lambda d: _cell_cases(d, True))
    rows += _row("GRUCell", lambda L: L.nn.GRUCell(3, 4), lambda d: _cell_cases(d, False))
    enc = dict(dim_feedforward=8, dropout=0.0)
    rows += _row("TransformerEncoderLayer", lambda L: L.nn.TransformerEncoderLayer(4, 2, **enc), _encoder_cases,
                 draws=0.25, checks="dropout 0; causal float masks and key padding masks")
    rows += _row("TransformerEncoderLayer#norm_first_gelu", lambda L: L.nn.TransformerEncoderLayer(
        4, 2, **enc, activation="gelu", norm_first=True), _encoder_cases, draws=0.25,
        checks="dropout 0")
    rows += _row("TransformerDecoderLayer", lambda L: L.nn.TransformerDecoderLayer(4, 2, **enc),
                 lambda d: _encoder_cases(d, True), draws=0.25,
                 checks="dropout 0; causal float masks and key padding masks")
    rows += _row("TransformerEncoder", lambda L: L.nn.TransformerEncoder(
        L.nn.TransformerEncoderLayer(4, 2, **enc), 2, norm=L.nn.LayerNorm(4)), _encoder_cases, call=_encoder_call,
        draws=0.25, checks="dropout 0, two layers and a final norm")
    rows += _row("TransformerDecoder", lambda L: L.nn.TransformerDecoder(
        L.nn.TransformerDecoderLayer(4, 2, **enc, norm_first=True), 2), lambda d: _encoder_cases(d, True),
        draws=0.1, checks="dropout 0, two pre-norm layers")
    rows += _row("Transformer", lambda L: L.nn.Transformer(4, 2, 1, 1, 8, dropout=0.0),
                 lambda d: _encoder_cases(d, True, "src"), draws=0.1,
                 checks="dropout 0, one encoder and one decoder layer")
    return rows
