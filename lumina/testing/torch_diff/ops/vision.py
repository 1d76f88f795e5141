"""Convolutions, pooling, upsampling and their modules: conv1d/3d, transposed convolutions, adaptive and 1-d
pooling, interpolate, pixel_shuffle, unfold/fold."""
from __future__ import annotations

from hypothesis import strategies as st

from ..cases import Arr, Case
from ..spec import OpSpec
from ..strategies import array, rarely, wants_grad

EXCLUDED: dict[str, str] = {}
"""This family's namesakes not run by the harness, each with the reason."""

F64 = ("float32", "float64")


def _side(draw, lo=1, hi=5) -> int:
    return draw(st.integers(lo, hi))


@st.composite
def _conv_cases(draw, dtype, nd: int, transposed: bool = False):
    """``conv{nd}d(x, w, b?, ...)`` or ``conv_transpose{nd}d``: groups, strides, padding, dilation
    (and output_padding) drawn; sizes that torch refuses are drawn too (they must raise)."""
    n, groups = draw(st.integers(1, 2)), draw(st.sampled_from([1, 1, 2]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    sizes = tuple(_side(draw, 1, 5 if nd < 3 else 3) for _ in range(nd))
    kernel = tuple(_side(draw, 1, 3) for _ in range(nd))
    x = Arr(draw(array(dtype, (n, cin) + sizes, special=draw(st.integers(0, 4)) == 0)), True)
    wshape = (cin, cout // groups) + kernel if transposed else (cout, cin // groups) + kernel
    args = (x, Arr(draw(array(dtype, wshape, special=False)), True))
    if draw(st.booleans()):
        args += (Arr(draw(array(dtype, (cout,), special=False)), True),)
    kw = {"groups": groups} if groups > 1 else {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, (2,) + (1,) * (nd - 1)]))
    if draw(st.booleans()):
        strings = [] if transposed else ["same", "valid"]
        kw["padding"] = draw(st.sampled_from([0, 1, (1,) + (0,) * (nd - 1)] + strings))
    if draw(st.integers(0, 2)) == 0:
        kw["dilation"] = draw(st.sampled_from([1, 2]))
    if transposed and draw(st.integers(0, 2)) == 0:
        kw["output_padding"] = 1
    if kw.get("padding") == "same":
        kw.pop("stride", None)
    if draw(st.integers(0, 5)) == 0:
        args = (Arr(args[0].value[0], True),) + args[1:]      # unbatched
    return Case(args, kw, dtype=dtype)


@st.composite
def _pool_cases(draw, dtype, nd: int, op: str):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(_side(draw, 1, 5 if nd < 3 else 4)
                                                                       for _ in range(nd))
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]
    x = Arr(draw(array(dtype, shape)), True)
    k = draw(st.sampled_from([1, 2, 3, (2,) + (1,) * (nd - 1)]))
    kw = {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, 3, (2,) + (1,) * (nd - 1)]))
    if draw(st.booleans()):
        kw["padding"] = draw(st.sampled_from([0, 1]))
    if draw(st.integers(0, 2)) == 0:
        kw["ceil_mode"] = True
    if op == "avg" and draw(st.integers(0, 2)) == 0:
        kw["count_include_pad"] = False
    if op == "avg" and nd > 1 and draw(st.integers(0, 4)) == 0:
        kw["divisor_override"] = draw(st.sampled_from([3, -2]))
    if op == "max" and draw(st.integers(0, 3)) == 0:
        kw["dilation"] = 2
    if op == "max" and draw(st.integers(0, 2)) == 0:
        kw["return_indices"] = True
    return Case((x, k), kw, dtype=dtype)


@st.composite
def _adaptive_cases(draw, dtype, nd: int, op: str):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(_side(draw, 1, 7) for _ in range(nd))
    if draw(st.integers(0, 4)) == 0:
        shape = shape[1:]
    x = Arr(draw(array(dtype, shape)), True)
    sizes = [draw(st.integers(1, 5)) for _ in range(nd)]
    if nd > 1 and draw(st.integers(0, 3)) == 0:
        sizes[0] = None
    out = sizes[0] if nd == 1 and draw(st.booleans()) else tuple(sizes)
    kw = {"return_indices": True} if op == "max" and draw(st.booleans()) else {}
    return Case((x, out), kw, dtype=dtype)


def _fn(name):
    return lambda L, *a, **k: getattr(L.nn.functional, name)(*a, **k)


def _conv_rows() -> list[OpSpec]:
    rows = []
    for nd in (1, 3):
        rows.append(OpSpec(f"F.conv{nd}d", _fn(f"conv{nd}d"), lambda d, nd=nd: _conv_cases(d, nd), dtypes=F64,
                           normwise=True, accumulates=True,
                           checks="groups, stride, padding (ints, 'same', 'valid'), dilation, unbatched input"))
    for nd in (1, 2, 3):
        rows.append(OpSpec(f"F.conv_transpose{nd}d", _fn(f"conv_transpose{nd}d"),
                           lambda d, nd=nd: _conv_cases(d, nd, transposed=True), dtypes=F64, normwise=True,
                           accumulates=True, draws=0.5 if nd == 3 else 1.0,
                           checks="groups, stride, padding, output_padding (too large raises), dilation"))
    return rows


def _pool_rows() -> list[OpSpec]:
    rows = []
    for nd in (1, 3):
        rows.append(OpSpec(f"F.max_pool{nd}d", _fn(f"max_pool{nd}d"), lambda d, nd=nd: _pool_cases(d, nd, "max"),
                           dtypes=F64, exact=True, signed_zeros=False,
                           checks="ceil_mode, dilation, return_indices (torch's flat positions)"))
        rows.append(OpSpec(f"F.avg_pool{nd}d", _fn(f"avg_pool{nd}d"), lambda d, nd=nd: _pool_cases(d, nd, "avg"),
                           dtypes=F64, accumulates=True, checks="ceil_mode, count_include_pad, divisor_override"))
    for nd in (1, 2, 3):
        rows.append(OpSpec(f"F.adaptive_avg_pool{nd}d", _fn(f"adaptive_avg_pool{nd}d"),
                           lambda d, nd=nd: _adaptive_cases(d, nd, "avg"), dtypes=F64, accumulates=True,
                           checks="uneven windows, None in output_size"))
        rows.append(OpSpec(f"F.adaptive_max_pool{nd}d", _fn(f"adaptive_max_pool{nd}d"),
                           lambda d, nd=nd: _adaptive_cases(d, nd, "max"), dtypes=F64, exact=True,
                           signed_zeros=False, checks="uneven windows, return_indices"))
    return rows


@st.composite
def _pad_mode_cases(draw, dtype, mode: str):
    """``pad(x, pads, mode)``: 1 to 3 padded dims of an input with one or two more dims; negative
    amounts, and amounts the mode refuses (reflect: not below the size; circular: above it)."""
    k = draw(st.integers(1, 3))
    rank = k + draw(st.integers(1, 2))
    if rarely(draw, 10):
        rank = draw(st.sampled_from([k, k + 3]))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    x = Arr(draw(array(dtype, shape)), wants_grad(dtype, True))
    pads = tuple(draw(st.integers(-1, 4)) for _ in range(2 * k))
    # a crop that leaves nothing to pad from: torch's kernels disagree among themselves (some raise,
    # some return an empty dim, circular reads out of bounds); lumina raises (tests/test_nn_padding.py)
    pads = tuple(max(p, 0) if shape[-1 - i // 2] + min(pads[i - i % 2], 0) + min(pads[i - i % 2 + 1], 0) < 1
                 else p for i, p in enumerate(pads))
    return Case((x, pads, mode), dtype=dtype)


@st.composite
def _module_input(draw, dtype, channels: int, nd: int, lo: int = 1, hi: int = 5):
    shape = (draw(st.integers(1, 2)), channels) + tuple(draw(st.integers(lo, hi)) for _ in range(nd))
    if rarely(draw, 5):
        shape = shape[1:]
    return Case((Arr(draw(array(dtype, shape, special=False)), True),), dtype=dtype)


def _module(name, make, cases, **kw):
    return OpSpec(f"nn.{name}", lambda L, m, *a, **k: m(*a, **k), cases=cases, module=make, dtypes=F64, **kw)


def _module_rows() -> list[OpSpec]:
    conv = dict(accumulates=True, normwise=True)
    return [
        _module("Conv1d", lambda L: L.nn.Conv1d(2, 4, 3, padding=1, groups=2, padding_mode="reflect"),
                lambda d: _module_input(d, 2, 1, 2), **conv, checks="groups, reflect padding_mode"),
        _module("Conv3d", lambda L: L.nn.Conv3d(2, 3, (2, 3, 1), stride=(1, 2, 1), padding=1,
                                                padding_mode="circular"),
                lambda d: _module_input(d, 2, 3, 1, 3), **conv, checks="circular padding_mode"),
        _module("ConvTranspose1d", lambda L: L.nn.ConvTranspose1d(2, 4, 3, stride=2, padding=1, output_padding=1,
                                                                  groups=2),
                lambda d: _module_input(d, 2, 1), **conv),
        _module("ConvTranspose2d", lambda L: L.nn.ConvTranspose2d(2, 3, (3, 2), stride=(2, 1), dilation=(1, 2)),
                lambda d: _module_input(d, 2, 2), **conv),
        _module("ConvTranspose3d", lambda L: L.nn.ConvTranspose3d(1, 2, 2, stride=2, bias=False),
                lambda d: _module_input(d, 1, 3, 1, 2), **conv),
        _module("MaxPool1d", lambda L: L.nn.MaxPool1d(3, 2, padding=1, return_indices=True),
                lambda d: _module_input(d, 2, 1, 2), exact=True, signed_zeros=False),
        _module("MaxPool3d", lambda L: L.nn.MaxPool3d(2, ceil_mode=True), lambda d: _module_input(d, 2, 3),
                exact=True, signed_zeros=False),
        _module("AvgPool1d", lambda L: L.nn.AvgPool1d(3, 2, 1, count_include_pad=False),
                lambda d: _module_input(d, 2, 1, 2), accumulates=True),
        _module("AvgPool3d", lambda L: L.nn.AvgPool3d(2, 1, 1, divisor_override=3), lambda d: _module_input(d, 2, 3, 2),
                accumulates=True),
        _module("AdaptiveAvgPool1d", lambda L: L.nn.AdaptiveAvgPool1d(3), lambda d: _module_input(d, 2, 1),
                accumulates=True),
        _module("AdaptiveAvgPool2d", lambda L: L.nn.AdaptiveAvgPool2d((2, None)), lambda d: _module_input(d, 2, 2),
                accumulates=True),
        _module("AdaptiveAvgPool3d", lambda L: L.nn.AdaptiveAvgPool3d(2), lambda d: _module_input(d, 1, 3),
                accumulates=True),
        _module("AdaptiveMaxPool1d", lambda L: L.nn.AdaptiveMaxPool1d(3, return_indices=True),
                lambda d: _module_input(d, 2, 1), exact=True, signed_zeros=False),
        _module("AdaptiveMaxPool2d", lambda L: L.nn.AdaptiveMaxPool2d((3, 2)), lambda d: _module_input(d, 2, 2),
                exact=True, signed_zeros=False),
        _module("AdaptiveMaxPool3d", lambda L: L.nn.AdaptiveMaxPool3d((1, 2, 3), return_indices=True),
                lambda d: _module_input(d, 1, 3), exact=True, signed_zeros=False),
    ]


def _padding_module_rows() -> list[OpSpec]:
    """Every padding layer on a batched input of its rank (non-constant modes) or any rank above it."""
    rows = []
    pads = {1: (2, 1), 2: (1, 0, 2, 1), 3: (1, 1, 0, 1, 1, 0)}
    for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular"):
        for nd in (1, 2, 3):
            args = (pads[nd], 1.5) if kind == "Constant" else (pads[nd],)
            rows.append(_module(f"{kind}Pad{nd}d", lambda L, n=f"{kind}Pad{nd}d", a=args: getattr(L.nn, n)(*a),
                                lambda d, nd=nd: _module_input(d, 2, nd, 3, 4), exact=True))
    return rows


_INTERP_RANK = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3,
                "area": None}


@st.composite
def _interpolate_cases(draw, dtype):
    """``interpolate(x, size | scale_factor, mode, align_corners, recompute_scale_factor)``; a rank
    the mode does not take, both or neither of size / scale_factor, and align_corners with a
    non-interpolating mode are drawn rarely (they raise)."""
    mode = draw(st.sampled_from(list(_INTERP_RANK)))
    nd = _INTERP_RANK[mode] or draw(st.integers(1, 3))
    if rarely(draw, 12):
        nd = nd % 3 + 1
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(_side(draw, 1, 4) for _ in range(nd))
    x = Arr(draw(array(dtype, shape, special=draw(st.integers(0, 5)) == 0)), True)
    kw = {"mode": mode}
    if draw(st.booleans()):
        kw["size"] = draw(st.integers(1, 6)) if draw(st.booleans()) else tuple(draw(st.integers(1, 6))
                                                                              for _ in range(nd))
    else:
        kw["scale_factor"] = draw(st.sampled_from([0.5, 0.7, 1.0, 1.5, 2.0, 2.3, 3.0]))
        if draw(st.integers(0, 2)) == 0:
            kw["recompute_scale_factor"] = True
    if (mode in ("linear", "bilinear", "bicubic", "trilinear") or rarely(draw, 12)) and draw(st.booleans()):
        kw["align_corners"] = draw(st.booleans())
    if rarely(draw, 15):
        kw["size"], kw["scale_factor"] = 2, 2.0
    return Case((x,), kw, dtype=dtype)


@st.composite
def _unfold_cases(draw, dtype, folding: bool = False):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kw = {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, (1, 3)]))
    if draw(st.booleans()):
        kw["padding"] = draw(st.sampled_from([0, 1, (0, 1)]))
    if draw(st.integers(0, 2)) == 0:
        kw["dilation"] = draw(st.sampled_from([1, 2]))
    size = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    if not folding:
        return Case((Arr(draw(array(dtype, (n, c) + size)), True), kernel), kw, dtype=dtype)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)   # noqa: E731
    s, p, d = pair(kw.get("stride", 1)), pair(kw.get("padding", 0)), pair(kw.get("dilation", 1))
    blocks = [(o + 2 * q - e * (k - 1) - 1) // t + 1 for o, q, e, k, t in zip(size, p, d, kernel, s)]
    length = max(blocks[0], 0) * max(blocks[1], 0) + (1 if rarely(draw, 12) else 0)
    x = Arr(draw(array(dtype, (n, c * kernel[0] * kernel[1], length))), True)
    return Case((x, size, kernel), kw, dtype=dtype)


def _upsampling_rows() -> list[OpSpec]:
    return [
        OpSpec("F.interpolate", _fn("interpolate"), _interpolate_cases, dtypes=F64, ulps=16, accumulates=True,
               normwise=True,
               checks="every mode, size / scale_factor, align_corners, recompute_scale_factor"),
        OpSpec("F.unfold", _fn("unfold"), _unfold_cases, dtypes=F64, exact=True,
               checks="stride, padding, dilation; blocks larger than the padded input raise"),
        OpSpec("F.fold", _fn("fold"), lambda d: _unfold_cases(d, folding=True), dtypes=F64, accumulates=True,
               checks="stride, padding, dilation; a block count other than output_size's raises"),
        _module("Upsample", lambda L: L.nn.Upsample(scale_factor=(1.5, 2.0), mode="bicubic", align_corners=True),
                lambda d: _module_input(d, 2, 2), ulps=16, accumulates=True, normwise=True),
        _module("UpsamplingNearest2d", lambda L: L.nn.UpsamplingNearest2d(size=(3, 5)),
                lambda d: _module_input(d, 2, 2), exact=True),
        _module("UpsamplingBilinear2d", lambda L: L.nn.UpsamplingBilinear2d(scale_factor=2),
                lambda d: _module_input(d, 2, 2), ulps=16, accumulates=True, normwise=True),
        _module("PixelShuffle", lambda L: L.nn.PixelShuffle(2), lambda d: _module_input(d, 8, 2), exact=True),
        _module("PixelUnshuffle", lambda L: L.nn.PixelUnshuffle(2), lambda d: _module_input(d, 2, 2, 2, 2).map(
            lambda c: Case((Arr(c.args[0].value.repeat(2, -1).repeat(2, -2), True),), dtype=c.dtype)), exact=True),
        _module("Unfold", lambda L: L.nn.Unfold((2, 3), padding=1, stride=2), lambda d: _module_input(d, 2, 2),
                exact=True),
        _module("Fold", lambda L: L.nn.Fold((4, 5), 2, stride=(2, 1)), lambda d: st.builds(
            lambda a: Case((Arr(a, True),), dtype=d), array(d, (2, 8, 8))), accumulates=True),
    ]


def specs() -> list[OpSpec]:
    """This family's rows."""
    pad_rows = [OpSpec(f"F.pad#{mode}", lambda L, x, p, m: L.nn.functional.pad(x, p, mode=m),
                       lambda d, mode=mode: _pad_mode_cases(d, mode), dtypes=("float32", "float64", "int64"),
                       exact=True, checks=f"mode={mode!r}: negative amounts, amounts and ranks torch refuses")
                for mode in ("reflect", "replicate", "circular")]
    return _conv_rows() + _pool_rows() + pad_rows + _module_rows() + _padding_module_rows() + _upsampling_rows()
