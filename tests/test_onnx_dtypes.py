"""ONNX element types lumina emulates (``lumina.onnx.dtypes``): narrow and unsigned integers, float8,
float6, float4 and float8e8m0, held in a wider lumina type.

Oracles: ``ml_dtypes`` and ``onnx.numpy_helper`` (the ONNX reference casts) for the float rounding,
bit for bit, over random float32 bit patterns (subnormals, NaN, infinities) and every halfway case;
ONNX Runtime for float to int4/uint4 casts out of range (the ONNX rule for integers out of range,
written out, for int2/uint2, which ONNX Runtime lacks; ml_dtypes changed its answer there in 0.7),
integer arithmetic with overflow, uint64 above 2**63, BitShift, the bitwise ops,
QuantizeLinear/DequantizeLinear/DynamicQuantizeLinear; the ONNX reference evaluator where ONNX
Runtime has no kernel (signed BitShift)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto as TP
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import lumina.onnx
from lumina import LuminaOnnxError

RNG = np.random.default_rng(7)
N = 96   # values per example: one compiled shape for all of them


def graph_model(nodes, inputs, outputs, opset=25, initializers=()):
    """A model of ``nodes``; ``inputs``/``outputs`` are ``(name, elem_type, shape)``."""
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "g", [vi(*i) for i in inputs], [vi(*o) for o in outputs],
                          initializer=list(initializers))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def ort_run(model, feeds: dict) -> list:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def assert_same(got: dict, want: list):
    for (name, g), w in zip(got.items(), want):
        assert g.dtype == w.dtype, (name, g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w, err_msg=name)


# ---- float8 / float6 / float4 rounding, bit for bit against ml_dtypes ------------------------------

MINIFLOATS = [TP.FLOAT8E4M3FN, TP.FLOAT8E4M3FNUZ, TP.FLOAT8E5M2, TP.FLOAT8E5M2FNUZ, TP.FLOAT4E2M1,
              TP.FLOAT6E2M3, TP.FLOAT6E3M2]
SATURATING = {TP.FLOAT8E4M3FN, TP.FLOAT8E4M3FNUZ, TP.FLOAT8E5M2, TP.FLOAT8E5M2FNUZ}
CASTS = [(to, sat) for to in MINIFLOATS for sat in ((1, 0) if to in SATURATING else (1,))]
E8M0_CASTS = [(sat, mode) for sat in (1, 0) for mode in ("up", "down", "nearest")]


def _cast_graph(in_type):
    nodes, outs = [], []
    for i, (to, sat) in enumerate(CASTS):
        nodes.append(helper.make_node("Cast", ["x"], [f"y{i}"], to=to, saturate=sat))
        outs.append((f"y{i}", to, [N]))
    for j, (sat, mode) in enumerate(E8M0_CASTS):
        nodes.append(helper.make_node("Cast", ["x"], [f"e{j}"], to=TP.FLOAT8E8M0, saturate=sat, round_mode=mode))
        outs.append((f"e{j}", TP.FLOAT8E8M0, [N]))
    return lumina.onnx.load(graph_model(nodes, [("x", in_type, [N])], outs))


_MODELS: dict = {}


def cast_model(in_type=TP.FLOAT):
    if in_type not in _MODELS:
        _MODELS[in_type] = _cast_graph(in_type)
    return _MODELS[in_type]


def _reference_cast(x, to, sat):
    dtype = helper.tensor_dtype_to_np_dtype(to)
    with np.errstate(all="ignore"):
        if to in SATURATING and sat:
            return numpy_helper.saturate_cast(x, dtype)
        return x.astype(dtype)


def check_minifloat_casts(x: np.ndarray):
    got = cast_model(TP.FLOAT16 if x.dtype == np.float16 else TP.FLOAT)(x)
    for i, (to, sat) in enumerate(CASTS):
        g, w = got[f"y{i}"], _reference_cast(x, to, sat)
        assert g.dtype == w.dtype
        gf, wf = g.astype(np.float32), w.astype(np.float32)
        nan = np.isnan(wf)
        np.testing.assert_array_equal(np.isnan(gf), nan)
        # NaN's sign where the type has signed NaNs; for float4/6 (no NaN) ml_dtypes turns +NaN into
        # -0.0 and -NaN into +0.0, and lumina cannot see a NaN's sign: it gives -0.0 for both
        same = g.view(np.uint8) == w.view(np.uint8)
        same |= nan & (np.signbit(gf) == np.signbit(wf))
        if to in (TP.FLOAT4E2M1, TP.FLOAT6E2M3, TP.FLOAT6E3M2):
            same |= np.isnan(x) & (gf == 0)
        bad = np.flatnonzero(~same)
        assert bad.size == 0, (TP.DataType.Name(to), sat, x[bad[:5]], gf[bad[:5]], wf[bad[:5]])
    for j, (sat, mode) in enumerate(E8M0_CASTS):
        want = numpy_helper.to_float8e8m0(x, bool(sat), mode)
        bad = np.flatnonzero(got[f"e{j}"].view(np.uint8) != want.view(np.uint8))
        assert bad.size == 0, ("e8m0", sat, mode, x[bad[:5]])


def _special_values() -> np.ndarray:
    """Every value of every format, the midpoints between neighbours and the float32 values either
    side of them, the largest finite values times 1.01..4, zeros, subnormals, infinities, NaN."""
    parts = [np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 2 ** -127,
                         2 ** -126, 3e38, -3e38])]
    for to in MINIFLOATS:
        v = np.arange(256, dtype=np.uint8).view(helper.tensor_dtype_to_np_dtype(to)).astype(np.float32)
        v = np.unique(v[np.isfinite(v)])
        mid = ((v[:-1].astype(np.float64) + v[1:]) / 2).astype(np.float32)
        parts += [v, mid, np.nextafter(mid, np.float32(np.inf)), np.nextafter(mid, np.float32(-np.inf)),
                  (v.max() * np.float32([1.01, 1.1, 1.5, 2, 4])).astype(np.float32)]
    return np.concatenate(parts)


def test_minifloat_casts_exhaustive_halfway_cases():
    values = _special_values()
    values = np.concatenate([values, -values])
    for start in range(0, len(values), N):
        chunk = values[start:start + N]
        check_minifloat_casts(np.pad(chunk, (0, N - len(chunk))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=N, max_size=N))
def test_minifloat_casts_random_float32_bits(bits):
    check_minifloat_casts(np.array(bits, np.uint32).view(np.float32))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 2 ** 16 - 1), min_size=N, max_size=N))
def test_minifloat_casts_random_float16_bits(bits):
    check_minifloat_casts(np.array(bits, np.uint16).view(np.float16))


def test_casts_from_minifloats_are_exact():
    """Every value of every format back to float32 and float16, as ml_dtypes converts it."""
    nodes, inputs, outs = [], [], []
    for to in MINIFLOATS + [TP.FLOAT8E8M0]:
        name = TP.DataType.Name(to)
        inputs.append((name, to, [256]))
        for target in (TP.FLOAT, TP.FLOAT16):
            nodes.append(helper.make_node("Cast", [name], [f"{name}_{target}"], to=target))
            outs.append((f"{name}_{target}", target, [256]))
    model = lumina.onnx.load(graph_model(nodes, inputs, outs))
    arrays = [np.arange(256, dtype=np.uint8).view(helper.tensor_dtype_to_np_dtype(t)) for t, _, _ in
              [(i[1], 0, 0) for i in inputs]]
    got = model(*arrays)
    for a, (name, _, _) in zip(arrays, inputs):
        for target, dtype in ((TP.FLOAT, np.float32), (TP.FLOAT16, np.float16)):
            np.testing.assert_array_equal(got[f"{name}_{target}"], a.astype(dtype), err_msg=name)


# ---- integers: narrow types and their overflow, against ONNX Runtime --------------------------------

INT_TYPES = {TP.INT8: np.int8, TP.UINT8: np.uint8, TP.INT16: np.int16, TP.UINT16: np.uint16,
             TP.UINT32: np.uint32, TP.UINT64: np.uint64}


def _random(dtype, shape):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("elem", list(INT_TYPES), ids=[TP.DataType.Name(t) for t in INT_TYPES])
def test_integer_arithmetic_wraps_like_onnxruntime(elem):
    """Chained Add/Sub/Mul (each result wraps), Div/Mod, comparisons and Min/Max at full range,
    broadcasting a [4] operand over [3, 4]."""
    dtype = INT_TYPES[elem]
    nodes = [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Mul", ["s", "a"], ["p"]),
             helper.make_node("Sub", ["p", "b"], ["d"]), helper.make_node("Div", ["a", "c"], ["q"]),
             helper.make_node("Mod", ["a", "c"], ["r"]), helper.make_node("Less", ["a", "b"], ["lt"]),
             helper.make_node("Equal", ["d", "d"], ["eq"])]
    outs = [("d", elem, [3, 4]), ("q", elem, [3, 4]), ("r", elem, [3, 4]), ("lt", TP.BOOL, [3, 4]),
            ("eq", TP.BOOL, [3, 4])]
    if elem not in (TP.INT16, TP.UINT16):   # ONNX Runtime has no int16 Min/Max kernels
        nodes += [helper.make_node("Max", ["a", "b"], ["mx"]), helper.make_node("Min", ["a", "b"], ["mn"])]
        outs += [("mx", elem, [3, 4]), ("mn", elem, [3, 4])]
    model = graph_model(nodes, [("a", elem, [3, 4]), ("b", elem, [4]), ("c", elem, [3, 4])], outs)
    a, b, c = _random(dtype, (3, 4)), _random(dtype, (4,)), _random(dtype, (3, 4))
    a[0, :2] = [np.iinfo(dtype).max, np.iinfo(dtype).min]
    c[c == 0] = 3
    if np.iinfo(dtype).min < 0:   # INT_MIN / -1 overflows in C
        c[c == -1] = 5
    feeds = {"a": a, "b": b, "c": c}
    assert_same(lumina.onnx.load(model)(**feeds), ort_run(model, feeds))


def test_neg_abs_of_narrow_signed_overflow():
    model = graph_model([helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Abs", ["x"], ["a"])],
                        [("x", TP.INT8, [5])], [("n", TP.INT8, [5]), ("a", TP.INT8, [5])])
    x = np.array([-128, -127, -1, 0, 127], np.int8)
    assert_same(lumina.onnx.load(model)(x), ort_run(model, {"x": x}))


def test_casts_between_integers_wrap():
    """int32 -> every narrow type discards the high bits; narrow -> int64 and uint64 -> float are exact."""
    x = np.concatenate([_random(np.int32, (60,)), np.int32([-129, 128, 255, 256, 65535, 65536, -1, 0])])
    targets = [TP.INT8, TP.UINT8, TP.INT16, TP.UINT16, TP.UINT32, TP.UINT64, TP.INT4, TP.UINT4]
    nodes = [helper.make_node("Cast", ["x"], [f"y{t}"], to=t) for t in targets]
    nodes += [helper.make_node("Cast", [f"y{t}"], [f"z{t}"], to=TP.INT64) for t in targets]
    outs = [(f"y{t}", t, [68]) for t in targets[:-2]]   # (ONNX Runtime returns no 4-bit arrays)
    outs += [(f"z{t}", TP.INT64, [68]) for t in targets]
    model = graph_model(nodes, [("x", TP.INT32, [68])], outs, opset=21)
    assert_same(lumina.onnx.load(model)(x), ort_run(model, {"x": x}))


NARROW = {TP.INT4: (-8, 16), TP.UINT4: (0, 16), TP.INT2: (-2, 4), TP.UINT2: (0, 4)}   # (min, 2**bits)


def wrapped(x: np.ndarray, elem: int) -> np.ndarray:
    """The ONNX rule for an integer out of a narrow type's range, written out: keep the low bits,
    two's complement (NaN and infinities: 0)."""
    low, span = NARROW[elem]
    t = np.trunc(np.where(np.isfinite(x), x, 0)).astype(np.int64)
    return ((t - low) % span + low).astype(np.int32)


def narrow_cast_model(x: np.ndarray | None):
    """Cast of ``x`` (a graph input, or a Constant when given: lumina casts known values while
    importing) to int4, uint4, int2 and uint2."""
    nodes = [helper.make_node("Cast", ["x"], [f"y{t}"], to=t) for t in NARROW]
    if x is not None:
        nodes.insert(0, helper.make_node("Constant", [], ["x"], value=numpy_helper.from_array(x)))
    inputs = [("x", TP.FLOAT, [64])] if x is None else []
    return graph_model(nodes, inputs, [(f"y{t}", t, [64]) for t in NARROW])


def test_float_to_narrow_int_casts_truncate_and_wrap():
    """Float to int4/uint4/int2/uint2, in range and out of it, at run time and on known values
    (folded while importing): truncated toward zero, then the low bits kept; the same whichever
    ml_dtypes is installed (0.7 gives 0 out of range)."""
    x = (RNG.standard_normal(64) * 40).astype(np.float32)
    x[:6] = [np.nan, np.inf, -np.inf, 7.9, -8.9, 3e9]
    runtime = lumina.onnx.load(narrow_cast_model(None))(x)
    folded = lumina.onnx.load(narrow_cast_model(x))()
    for t in NARROW:
        np.testing.assert_array_equal(runtime[f"y{t}"].astype(np.int32), wrapped(x, t), err_msg=str(t))
        np.testing.assert_array_equal(folded[f"y{t}"].astype(np.int32), wrapped(x, t), err_msg=str(t))


def test_float_to_4_bit_casts_wrap_like_onnxruntime():
    """Whole numbers (ONNX Runtime rounds halves away from zero before wrapping where lumina, like
    the ONNX reference and every wider integer type, truncates), NaN and infinities, in range and
    out of it: ONNX Runtime returns no 4-bit arrays, so its answers come back through a Cast to
    float."""
    x = np.concatenate([np.arange(-40, 41), [-1000, 1000, np.nan, np.inf, -np.inf],
                        np.trunc(RNG.standard_normal(19) * 200)]).astype(np.float32)
    for t in (TP.INT4, TP.UINT4):
        nodes = [helper.make_node("Cast", ["x"], ["n"], to=t), helper.make_node("Cast", ["n"], ["y"], to=TP.FLOAT)]
        model = graph_model(nodes, [("x", TP.FLOAT, [105])], [("y", TP.FLOAT, [105])], opset=21)
        assert_same(lumina.onnx.load(model)(x), ort_run(model, {"x": x}))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")   # the reference, out of range
def test_float_to_narrow_int_casts_in_range_like_the_reference():
    """In range (where ONNX defines the result) lumina and the ONNX reference agree on every type."""
    x = np.linspace(-1.99, 1.99, 64, dtype=np.float32)
    got = lumina.onnx.load(narrow_cast_model(None))(x)
    want = ReferenceEvaluator(narrow_cast_model(None)).run(None, {"x": x})
    for t, w in zip(NARROW, want):
        low, span = NARROW[t]
        keep = (np.trunc(x) >= low) & (np.trunc(x) < low + span)
        np.testing.assert_array_equal(got[f"y{t}"].astype(np.int32)[keep], w.astype(np.int32)[keep])


def test_float_to_wider_int_casts_in_range_like_onnxruntime():
    x = (RNG.standard_normal(64) * 40).astype(np.float32)
    for t, dtype in INT_TYPES.items():
        info = np.iinfo(dtype)
        v = np.clip(x * 1000, info.min, min(info.max, 2 ** 24)).astype(np.float32)
        model = graph_model([helper.make_node("Cast", ["x"], ["y"], to=t)], [("x", TP.FLOAT, [64])],
                            [("y", t, [64])], opset=21)
        assert_same(lumina.onnx.load(model)(v), ort_run(model, {"x": v}))


def test_uint64_above_two_to_the_63():
    """uint64 held in int64: order, division, remainder, Max and conversion to float read it unsigned."""
    top = np.uint64(1 << 63)
    a = np.concatenate([_random(np.uint64, (20,)), np.uint64([0, 1, top - 1, top, top + 1, 2 ** 64 - 1])])
    b = np.concatenate([_random(np.uint64, (20,)) >> RNG.integers(0, 64, 20).astype(np.uint64),
                        np.uint64([3, top, 1, 2 ** 64 - 1, top + 5, 7])])
    b[b == 0] = 9
    ops = [("Div", TP.UINT64), ("Mod", TP.UINT64), ("Less", TP.BOOL), ("GreaterOrEqual", TP.BOOL),
           ("Max", TP.UINT64), ("Min", TP.UINT64), ("Add", TP.UINT64), ("Mul", TP.UINT64)]
    nodes = [helper.make_node(op, ["a", "b"], [op]) for op, _ in ops]
    nodes += [helper.make_node("Cast", ["a"], ["f32"], to=TP.FLOAT), helper.make_node("Cast", ["a"], ["f64"], to=TP.DOUBLE)]
    outs = [(op, t, [26]) for op, t in ops] + [("f32", TP.FLOAT, [26]), ("f64", TP.DOUBLE, [26])]
    model = graph_model(nodes, [("a", TP.UINT64, [26]), ("b", TP.UINT64, [26])], outs, opset=21)
    assert_same(lumina.onnx.load(model)(a, b), ort_run(model, {"a": a, "b": b}))


def test_float_to_uint64_cast_above_two_to_the_63():
    x = np.float64([0.0, 1.5, 2.0 ** 63, 2.0 ** 63 + 2048, 1.5 * 2.0 ** 63, 2.0 ** 64 - 2048, 12345.9])
    model = graph_model([helper.make_node("Cast", ["x"], ["y"], to=TP.UINT64)], [("x", TP.DOUBLE, [7])],
                        [("y", TP.UINT64, [7])], opset=21)
    assert_same(lumina.onnx.load(model)(x), ort_run(model, {"x": x}))


# ---- shifts and bitwise ops ------------------------------------------------------------------------

@pytest.mark.parametrize("elem", [TP.UINT8, TP.UINT16, TP.UINT32, TP.UINT64],
                         ids=["uint8", "uint16", "uint32", "uint64"])
def test_bitshift_like_onnxruntime(elem):
    dtype = INT_TYPES[elem]
    bits = 8 * np.dtype(dtype).itemsize
    x = _random(dtype, (2, 20))
    y = RNG.integers(0, bits, (2, 20)).astype(dtype)
    y[0, :3] = [0, 1, bits - 1]
    nodes = [helper.make_node("BitShift", ["x", "y"], [d], direction=d) for d in ("LEFT", "RIGHT")]
    model = graph_model(nodes, [("x", elem, [2, 20]), ("y", elem, [2, 20])],
                        [("LEFT", elem, [2, 20]), ("RIGHT", elem, [2, 20])], opset=21)
    assert_same(lumina.onnx.load(model)(x, y), ort_run(model, {"x": x, "y": y}))


@pytest.mark.parametrize("elem", [TP.INT8, TP.INT32, TP.INT64], ids=["int8", "int32", "int64"])
def test_signed_bitshift_like_the_reference(elem):
    """Arithmetic right shift, left shifts past the sign bit, and shifts out of range (negative or at
    least the width): the opset-26 rules, against the ONNX reference (ONNX Runtime has no kernel)."""
    dtype = {TP.INT8: np.int8, TP.INT32: np.int32, TP.INT64: np.int64}[elem]
    bits = 8 * np.dtype(dtype).itemsize
    x = _random(dtype, (40,))
    y = RNG.integers(-3, bits + 3, (40,)).astype(dtype)
    y[:4] = [bits - 1, bits, -1, 0]
    nodes = [helper.make_node("BitShift", ["x", "y"], [d], direction=d) for d in ("LEFT", "RIGHT")]
    model = graph_model(nodes, [("x", elem, [40]), ("y", elem, [40])], [("LEFT", elem, [40]),
                                                                          ("RIGHT", elem, [40])], opset=26)
    assert_same(lumina.onnx.load(model)(x, y), ReferenceEvaluator(model).run(None, {"x": x, "y": y}))


@pytest.mark.parametrize("elem", [TP.INT8, TP.UINT16, TP.INT32, TP.INT64, TP.UINT64],
                         ids=["int8", "uint16", "int32", "int64", "uint64"])
def test_bitwise_like_onnxruntime(elem):
    dtype = {**INT_TYPES, TP.INT32: np.int32, TP.INT64: np.int64}[elem]
    a, b = _random(dtype, (3, 7)), _random(dtype, (7,))
    nodes = [helper.make_node(op, ["a", "b"], [op]) for op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor")]
    nodes.append(helper.make_node("BitwiseNot", ["a"], ["BitwiseNot"]))
    outs = [(op, elem, [3, 7]) for op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot")]
    model = graph_model(nodes, [("a", elem, [3, 7]), ("b", elem, [7])], outs, opset=18)
    assert_same(lumina.onnx.load(model)(a, b), ort_run(model, {"a": a, "b": b}))


# ---- quantization ----------------------------------------------------------------------------------

def test_quantize_per_axis_and_dequantize_like_onnxruntime():
    """Per-axis int8 (axis 1 of [2, 5, 6]) and blocked uint8 (blocks of 4 along axis 2, the last one
    short) QuantizeLinear, values halfway between steps included; DequantizeLinear of both back."""
    x = (RNG.standard_normal((2, 5, 6)) * 30).astype(np.float32)
    scale = np.float32([0.5, 0.25, 2.0, 1.0, 0.125])
    x[0, :, 0] = np.float32([0.25, 0.375, 3.0, 2.5, 1000.0])   # ties to even, saturation
    zero = np.int8([0, -3, 5, 127, -128])
    bscale = (RNG.uniform(0.05, 0.5, (2, 5, 2))).astype(np.float32)
    bzero = RNG.integers(0, 255, (2, 5, 2)).astype(np.uint8)
    inits = [numpy_helper.from_array(a, n) for a, n in ((scale, "s"), (zero, "z"), (bscale, "bs"), (bzero, "bz"))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"], axis=1),
             helper.make_node("QuantizeLinear", ["x", "bs", "bz"], ["qb"], axis=2, block_size=4),
             helper.make_node("DequantizeLinear", ["qb", "bs", "bz"], ["dqb"], axis=2, block_size=4)]
    outs = [("q", TP.INT8, [2, 5, 6]), ("dq", TP.FLOAT, [2, 5, 6]), ("qb", TP.UINT8, [2, 5, 6]),
            ("dqb", TP.FLOAT, [2, 5, 6])]
    model = graph_model(nodes, [("x", TP.FLOAT, [2, 5, 6])], outs, opset=21, initializers=inits)
    assert_same(lumina.onnx.load(model)(x), ort_run(model, {"x": x}))


@pytest.mark.parametrize("elem", [TP.INT4, TP.UINT16, TP.FLOAT8E4M3FN], ids=["int4", "uint16", "float8e4m3fn"])
def test_quantize_narrow_types_like_onnxruntime(elem):
    x = (RNG.standard_normal((4, 8)) * 50).astype(np.float32)
    x[0, :4] = [np.float32(1e6), np.float32(-1e6), 0.5, 1.5]
    zero = np.zeros((), helper.tensor_dtype_to_np_dtype(elem))
    inits = [numpy_helper.from_array(np.float32(0.75), "s"), numpy_helper.from_array(zero, "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"]),
             helper.make_node("Cast", ["q"], ["qf"], to=TP.FLOAT)]   # ONNX Runtime returns no int4/float8
    model = graph_model(nodes, [("x", TP.FLOAT, [4, 8])], [("qf", TP.FLOAT, [4, 8]), ("dq", TP.FLOAT, [4, 8])],
                        opset=21, initializers=inits)
    assert_same(lumina.onnx.load(model)(x), ort_run(model, {"x": x}))


def test_dynamic_quantize_like_onnxruntime():
    model = graph_model([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])],
                        [("x", TP.FLOAT, [3, 9])], [("y", TP.UINT8, [3, 9]), ("s", TP.FLOAT, []),
                                                    ("z", TP.UINT8, [])], opset=21)
    for x in ((RNG.standard_normal((3, 9)) * 4).astype(np.float32),
              np.abs(RNG.standard_normal((3, 9))).astype(np.float32) + 1):
        got, want = lumina.onnx.load(model)(x), ort_run(model, {"x": x})
        np.testing.assert_array_equal(got["y"], want[0])
        np.testing.assert_allclose(got["s"], want[1], rtol=1e-6)
        np.testing.assert_array_equal(got["z"], want[2])


# ---- refusals --------------------------------------------------------------------------------------

def test_uint64_is_refused_by_ops_that_would_read_it_signed():
    model = graph_model([helper.make_node("ReduceMax", ["x"], ["y"], keepdims=0)], [("x", TP.UINT64, [4])],
                        [("y", TP.UINT64, [])], opset=18)
    with pytest.raises(LuminaOnnxError, match="uint64 operands are not supported by this op"):
        lumina.onnx.load(model)(np.uint64([1, 2, 2 ** 63, 3]))


def test_bitcast_of_floats_is_refused():
    model = graph_model([helper.make_node("BitCast", ["x"], ["y"], to=TP.INT32)], [("x", TP.FLOAT, [2])],
                        [("y", TP.INT32, [2])], opset=26)
    with pytest.raises(LuminaOnnxError, match="BitCast from float to int32 is not supported"):
        lumina.onnx.load(model)(np.float32([1.0, 2.0]))


def test_bitcast_between_integers():
    model = graph_model([helper.make_node("BitCast", ["x"], ["y"], to=TP.UINT8)], [("x", TP.INT8, [4])],
                        [("y", TP.UINT8, [4])], opset=26)
    x = np.int8([-128, -1, 0, 127])
    np.testing.assert_array_equal(lumina.onnx.load(model)(x)["y"], x.view(np.uint8))


def test_cast_to_string_is_refused():
    model = graph_model([helper.make_node("Cast", ["x"], ["y"], to=TP.STRING)], [("x", TP.FLOAT, [2])],
                        [("y", TP.STRING, [2])])
    with pytest.raises(LuminaOnnxError, match="target type string is not supported"):
        lumina.onnx.load(model)(np.float32([1.0, 2.0]))


def test_quantize_rejects_a_scale_of_the_wrong_length():
    inits = [numpy_helper.from_array(np.float32([0.5, 0.25]), "s")]
    model = graph_model([helper.make_node("QuantizeLinear", ["x", "s"], ["q"], axis=1)],
                        [("x", TP.FLOAT, [2, 3])], [("q", TP.UINT8, [2, 3])], opset=21, initializers=inits)
    with pytest.raises(LuminaOnnxError, match="per-axis quantization along axis 1 takes a 1-D y_scale of length 3"):
        lumina.onnx.load(model)(np.zeros((2, 3), np.float32))
