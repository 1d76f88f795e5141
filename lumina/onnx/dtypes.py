"""ONNX element types lumina's core does not have, emulated exactly on a wider compute type.

lumina computes in bool, int32, int64, float16, bfloat16, float32 and float64. An ONNX model may also
use narrow integers and 4/6/8-bit floats; the importer keeps each value's *logical* ONNX type (from
``onnx.shape_inference``) beside its *physical* lumina value, the way fake quantization does:

* int8, int16, uint8, uint16, int4, uint4, int2, uint2 are held in int32, uint32 in int64. After
  every node whose output has such a type the result is wrapped to the type's range (two's complement
  modular arithmetic), so Add/Mul/Neg/Cast/BitShift overflow exactly as the narrow type does.
  ``Cast`` from a float to one of them truncates toward zero and then wraps; NaN and infinities
  give 0. (ONNX leaves a float out of the target's range undefined; wrapping is its rule for integers
  out of range, and what ONNX Runtime does for int4/uint4 and ml_dtypes before 0.7 did; ml_dtypes 0.7
  gives 0 instead. lumina computes the casts itself, so its answers do not change with ml_dtypes.)
* uint64 is held in int64 as the same 64 bits. Addition, subtraction, multiplication and the bitwise
  ops are the same on those bits; the ops that read the sign (comparisons, Min/Max, Div, Mod, right
  shift, Cast to float) use unsigned forms written here, and every other op refuses a uint64 operand
  (``check_operands``) rather than give a wrong answer.
* float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e8m0), float6 (e2m3, e3m2) and float4 (e2m1) are held in
  float32 holding exactly representable values. ``Cast`` to them rounds to nearest even on the target
  mantissa from exponent arithmetic (``round_minifloat``, ``to_e8m0``), with the ``saturate`` and
  NaN/Inf rules of the ONNX Cast specification; casts from them are exact.

Graph inputs arrive as the narrow NumPy / ``ml_dtypes`` arrays and are widened when bound
(``widen_array``); graph outputs are narrowed back to the declared type (``narrow_array``).
Semantics: the ONNX Cast operator specification and its reference implementation
(``onnx.reference.ops.op_cast``, ``onnx.numpy_helper.to_float8e8m0``), bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto as TP

from ..ir.dtypes import DType
from ..ir.ops import Op
from ..tensor import Tensor, full, maximum, minimum, tensor, where
from ..tensor.elementwise import binary_op
from .ops.registry import is_static, tensor_of

# ---- the types ------------------------------------------------------------------------------------

NATIVE = {TP.BOOL: DType.bool, TP.INT32: DType.int32, TP.INT64: DType.int64, TP.FLOAT16: DType.float16,
          TP.BFLOAT16: DType.bfloat16, TP.FLOAT: DType.float32, TP.DOUBLE: DType.float64}


@dataclass(frozen=True)
class IntType:
    """A two's complement integer of ``bits`` bits, computed in ``compute`` (int32 or int64)."""
    bits: int
    signed: bool
    compute: DType

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


INTS = {TP.INT8: IntType(8, True, DType.int32), TP.INT16: IntType(16, True, DType.int32),
        TP.UINT8: IntType(8, False, DType.int32), TP.UINT16: IntType(16, False, DType.int32),
        TP.INT4: IntType(4, True, DType.int32), TP.UINT4: IntType(4, False, DType.int32),
        TP.INT2: IntType(2, True, DType.int32), TP.UINT2: IntType(2, False, DType.int32),
        TP.UINT32: IntType(32, False, DType.int64), TP.UINT64: IntType(64, False, DType.int64),
        TP.INT32: IntType(32, True, DType.int32), TP.INT64: IntType(64, True, DType.int64)}


@dataclass(frozen=True)
class MiniFloat:
    """A float of ``mantissa`` explicit mantissa bits whose smallest normal is ``2**emin`` and largest
    finite value ``max``. ``inf``: an overflow without saturation gives infinity (else NaN); ``nan``:
    the type has a NaN (float4/float6 have none: overflow saturates and NaN becomes -0.0, as
    ``ml_dtypes`` converts a positive NaN; it gives +0.0 for a negative one, whose sign lumina's
    primitives cannot see); ``unsigned_zero``: the "fnuz" types have no negative zero."""
    mantissa: int
    emin: int
    max: float
    inf: bool
    nan: bool
    unsigned_zero: bool

    @property
    def emax(self) -> int:
        return int(np.floor(np.log2(self.max)))


MINIFLOATS = {
    TP.FLOAT8E4M3FN: MiniFloat(3, -6, 448.0, inf=False, nan=True, unsigned_zero=False),
    TP.FLOAT8E4M3FNUZ: MiniFloat(3, -7, 240.0, inf=False, nan=True, unsigned_zero=True),
    TP.FLOAT8E5M2: MiniFloat(2, -14, 57344.0, inf=True, nan=True, unsigned_zero=False),
    TP.FLOAT8E5M2FNUZ: MiniFloat(2, -15, 57344.0, inf=False, nan=True, unsigned_zero=True),
    TP.FLOAT4E2M1: MiniFloat(1, 0, 6.0, inf=False, nan=False, unsigned_zero=False),
    TP.FLOAT6E2M3: MiniFloat(3, 0, 7.5, inf=False, nan=False, unsigned_zero=False),
    TP.FLOAT6E3M2: MiniFloat(2, -2, 28.0, inf=False, nan=False, unsigned_zero=False),
}
SATURATING = {TP.FLOAT8E4M3FN, TP.FLOAT8E4M3FNUZ, TP.FLOAT8E5M2, TP.FLOAT8E5M2FNUZ}   # honour `saturate`
E8M0 = TP.FLOAT8E8M0
EMULATED_FLOATS = set(MINIFLOATS) | {E8M0}
EMULATED = EMULATED_FLOATS | {t for t in INTS if t not in (TP.INT32, TP.INT64)}


def np_dtype(elem: int) -> np.dtype:
    from onnx.helper import tensor_dtype_to_np_dtype
    return np.dtype(tensor_dtype_to_np_dtype(elem))


def type_name(elem: int) -> str:
    return TP.DataType.Name(elem).lower() if elem in TP.DataType.values() else f"elem_type {elem}"


def compute_dtype(elem: int) -> DType | None:
    """The lumina dtype a value of ONNX type ``elem`` is held in (None: not a tensor type lumina holds)."""
    if elem in NATIVE:
        return NATIVE[elem]
    if elem in INTS:
        return INTS[elem].compute
    return DType.float32 if elem in EMULATED_FLOATS else None


_BY_NUMPY = {np_dtype(t): t for t in (*NATIVE, *INTS, *EMULATED_FLOATS)}


def elem_of(value) -> int:
    """The ONNX type a value's own dtype stands for (``int64 -> INT64``); 0 if none."""
    dtype = value.dtype if is_static(value) else value.dtype.numpy
    return _BY_NUMPY.get(np.dtype(dtype), 0)


def logical(ctx, i: int, value) -> int:
    """The logical ONNX type of input ``i`` of the node: its inferred type where that is emulated
    (int8 held in int32...), else the type of the value itself."""
    elem = ctx.in_types[i] if i < len(ctx.in_types) else 0
    return elem if elem in EMULATED else elem_of(value)


# ---- arrays at the boundary -----------------------------------------------------------------------

def widen_array(a: np.ndarray) -> np.ndarray:
    """A NumPy array of any ONNX type as the array lumina holds: narrow ints as int32 (uint32 as int64,
    uint64 as the same bits in int64), ``ml_dtypes`` floats as float32. Other arrays pass unchanged."""
    elem = _BY_NUMPY.get(a.dtype, 0)
    if elem == TP.UINT64:
        return a.view(np.int64)
    if elem in EMULATED:
        return a.astype(compute_dtype(elem).numpy)
    return a


def narrows(elem: int) -> bool:
    """Whether ``narrow_array`` can change an array lumina computed for ONNX type ``elem``."""
    return elem == TP.UINT64 or elem in EMULATED


def narrow_array(a: np.ndarray, elem: int) -> np.ndarray:
    """An array lumina computed, as the NumPy / ``ml_dtypes`` array of ONNX type ``elem`` (exact: the
    values are in range); arrays of other types pass unchanged."""
    if elem == TP.UINT64 and a.dtype == np.int64:
        return a.view(np.uint64)
    if elem in EMULATED:
        return a.astype(np_dtype(elem))
    return a


def value_types(proto) -> dict[str, int]:
    """The ONNX element type of every value in ``proto``'s graph: graph inputs, outputs, initializers
    and ``onnx.shape_inference.infer_shapes(strict_mode=False)``'s value_info, then, for a value
    inference left untyped, the type its node's schema implies (an output typed ``T`` takes the type
    of an input typed ``T``; a fixed ``tensor(int64)`` is that type)."""
    import onnx
    try:
        inferred = onnx.shape_inference.infer_shapes(_skeleton(proto), strict_mode=False).graph
    except Exception:   # noqa: BLE001 (a model inference cannot read: the declared types alone)
        inferred = proto.graph
    types = {}
    for graph in (*_graphs(inferred), *_graphs(proto.graph)):
        for vi in (*graph.value_info, *graph.input, *graph.output):
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                types[vi.name] = vi.type.tensor_type.elem_type
        types.update((init.name, init.data_type) for init in graph.initializer)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
    for graph in _graphs(proto.graph):
        for node in graph.node:
            for i, name in enumerate(node.output):
                if name and name not in types:
                    elem = _schema_type(node, i, types, opset)
                    if elem:
                        types[name] = elem
    return types


def _skeleton(proto):
    """``proto`` without its initializers' data (they become typed graph inputs): inference needs
    their types and shapes, and serializing gigabytes of weights to infer types would be waste."""
    import onnx
    model = onnx.ModelProto(ir_version=proto.ir_version)
    model.opset_import.extend(proto.opset_import)
    graph, source = model.graph, proto.graph
    graph.node.extend(source.node)
    graph.input.extend(source.input)
    graph.output.extend(source.output)
    graph.value_info.extend(source.value_info)
    declared = {i.name for i in source.input}
    graph.input.extend(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims))
                       for init in source.initializer if init.name not in declared)
    return model


def _graphs(graph):
    """``graph`` and, depth first, its subgraphs (``If`` branches)."""
    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("g"):
                yield from _graphs(a.g)


def _schema_type(node, i: int, types: dict, opset: int) -> int:
    import onnx.defs
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except Exception:   # noqa: BLE001 (an op or opset onnx has no schema for)
        return 0
    outs = schema.outputs
    if not outs:
        return 0
    type_str = outs[min(i, len(outs) - 1)].type_str
    if type_str.startswith("tensor("):
        return _BY_TYPE_STR.get(type_str, 0)
    for j, formal in enumerate(schema.inputs):
        if formal.type_str == type_str and j < len(node.input) and types.get(node.input[j]):
            return types[node.input[j]]
    return 0


_BY_TYPE_STR = {f"tensor({name.lower()})": v for name, v in TP.DataType.items()}   # "tensor(float8e5m2)"


# ---- the per-node hooks the importer calls --------------------------------------------------------

def node_types(types: dict[str, int], node) -> dict:
    """``Ctx`` fields: the logical types of the node's inputs and outputs (0 where unknown)."""
    return {"in_types": tuple(types.get(n, 0) for n in node.input),
            "out_types": tuple(types.get(n, 0) for n in node.output)}


# Ops whose result is right on the 64 bits of a uint64 held in int64 (they move, select or do ring
# arithmetic), or that read uint64 operands through the unsigned forms in this module.
UINT64_OPS = {"Add", "Sub", "Mul", "Sum", "Div", "Mod", "Max", "Min", "Abs", "Equal", "Less", "LessOrEqual",
              "Greater", "GreaterOrEqual", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
              "BitwiseNot", "Cast", "CastLike", "BitCast", "Pow", "Identity", "Reshape", "Flatten",
              "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Gather",
              "GatherElements", "GatherND", "Expand", "Tile", "Where", "Shape", "Size", "Constant",
              "ConstantOfShape"}


def check_operands(ctx) -> None:
    """Refuse, before it runs, a node that would read a uint64 operand as int64 and could answer
    wrong for values of 2**63 and above."""
    if TP.UINT64 in ctx.in_types and ctx.op_type not in UINT64_OPS:
        raise ctx.error("uint64 operands are not supported by this op (lumina holds uint64 in int64; "
                        f"ops that read them as unsigned: {', '.join(sorted(UINT64_OPS - _MOVEMENT))})")


_MOVEMENT = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split",
             "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Tile", "Where", "Shape", "Size",
             "Constant", "ConstantOfShape"}
# Ops whose outputs stay in their type's range when their inputs are: no wrap needed after them.
IN_RANGE_OPS = _MOVEMENT | {"Max", "Min", "ReduceMax", "ReduceMin", "Cast", "CastLike", "BitShift",
                            "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "BitCast",
                            "QuantizeLinear", "DynamicQuantizeLinear", "Clip", "Pad", "MaxPool", "TopK"}


def conform_outputs(ctx, outs: list) -> list:
    """A node's outputs as lumina holds their logical types: narrow arrays widened, values of an
    emulated type in their compute dtype, and integers wrapped to their range."""
    return [conform(v, ctx.out_types[i] if i < len(ctx.out_types) else 0, ctx.op_type in IN_RANGE_OPS)
            for i, v in enumerate(outs)]


def conform(v, elem: int, in_range: bool = False):
    if v is None:
        return v
    if isinstance(v, np.generic):
        v = np.asarray(v)
    if is_static(v):
        v = widen_array(v)
    if elem not in EMULATED:
        return v
    want = compute_dtype(elem)
    if elem in EMULATED_FLOATS:
        return v.astype(want.numpy) if is_static(v) else v.to(want)
    t = INTS[elem]
    if is_static(v):
        if v.dtype.kind == "f":
            v = _float_to_int64_array(v)
        return v.astype(want.numpy) if in_range else wrap_array(v, t).astype(want.numpy)
    if v.dtype.is_float:
        v = _float_to_int64(v)
    if in_range:
        return v.to(want)
    return wrap(v.to(DType.int64) if v.dtype is DType.bool else v, t).to(want)


# ---- integer arithmetic on the compute types ------------------------------------------------------

def idiv(a: Tensor, b) -> Tensor:
    """Integer division truncating toward zero (C; lumina's ``div`` primitive on integers, which gives
    0 for a zero divisor). ``b`` may be a Python int."""
    if not isinstance(b, Tensor):
        b = full((), int(b), dtype=a.dtype)
    return binary_op(Op.DIV, a, b, a.dtype, "div")


def floor_div(a: Tensor, b) -> Tensor:
    """Integer division rounding toward -inf, for ``b > 0``."""
    q = idiv(a, b)
    return where(q * b > a, q - 1, q)


def floor_mod(a: Tensor, m: int) -> Tensor:
    """``a mod m`` in ``[0, m)`` for a positive Python int ``m``."""
    r = a - idiv(a, m) * m
    return where(r < 0, r + m, r)


def wrap(x: Tensor, t: IntType) -> Tensor:
    """``x`` (int32/int64) reduced modulo ``2**t.bits`` into ``t``'s range: what storing it in the
    narrow type keeps. Exact for any wrapped ``x``, since ``2**bits`` divides ``2**32``."""
    if t.compute is DType.int64:
        x = x.to(DType.int64)
    if t.bits >= 8 * x.dtype.itemsize:
        return x
    off = -t.min
    r = floor_mod(x + off if off else x, 1 << t.bits)
    return r - off if off else r


def wrap_array(a: np.ndarray, t: IntType) -> np.ndarray:
    if t.bits >= 8 * a.dtype.itemsize:
        return a
    a = a.astype(np.int64)
    off = -t.min
    return (a + off) % (1 << t.bits) - off


INT64_MIN = -(1 << 63)


def u64_key(x: Tensor) -> Tensor:
    """A uint64 held in int64, shifted so that signed order is unsigned order (``x + 2**63`` mod
    2**64, the top bit flipped)."""
    return x + INT64_MIN


def u64_shr(x: Tensor, k: int) -> Tensor:
    """``x >> k`` for the uint64 held in ``x`` and ``1 <= k <= 62``: the low 63 bits shifted, and the
    top bit brought down."""
    low = x - INT64_MIN   # the value less 2**63 where the top bit is set; wraps there
    low = where(x < 0, low, x)
    return idiv(low, 1 << k) + (x < 0).to(DType.int64) * (1 << (63 - k))


def u64_divmod(n: Tensor, d: Tensor) -> tuple[Tensor, Tensor]:
    """Unsigned quotient and remainder of uint64s held in int64 (Hacker's Delight 9-3: divide
    ``n >> 1`` with the signed division, double, correct by one). A zero divisor gives 0 and 0, as
    NumPy does."""
    big_d = d < 0   # d >= 2**63: the quotient is 0 or 1
    safe = where(big_d | (d == 0), 1, d)
    q = idiv(u64_shr(n, 1), safe) * 2
    r = n - q * safe
    q = where(u64_key(r) >= u64_key(safe), q + 1, q)
    q = where(big_d, (u64_key(n) >= u64_key(d)).to(DType.int64), q)
    q = where(d == 0, 0, q)
    return q, where(d == 0, 0, n - q * d)


def _float_to_int64(x: Tensor) -> Tensor:
    """Truncate toward zero into int64; NaN and values beyond int64 (undefined in ONNX) give 0
    instead of LLVM's poison."""
    x = x.to(DType.float32) if x.dtype.is_half else x   # exact; 2**63 is beyond float16
    return where(x.abs() < 2.0 ** 63, x, 0.0).to(DType.int64)


def _float_to_int64_array(a: np.ndarray) -> np.ndarray:
    """``_float_to_int64`` on a NumPy float array."""
    a = a.astype(np.float64)
    with np.errstate(invalid="ignore"):
        return np.trunc(np.where(np.abs(a) < 2.0 ** 63, a, 0.0)).astype(np.int64)


# ---- floats: powers of two and rounding -----------------------------------------------------------

def pow2(e: Tensor, lo: int, hi: int) -> Tensor:
    """``2.0 ** e`` in float64, exactly, for int ``e`` clamped to ``[lo, hi]``: a gather from a table."""
    table = tensor(np.ldexp(1.0, np.arange(lo, hi + 1)))
    idx = (e.clamp(lo, hi) - lo).to(DType.int64)
    return table.index_select(0, idx.reshape(-1)).reshape(e.shape)


def floor_log2(s: Tensor, lo: int, hi: int) -> Tensor:
    """``floor(log2(s))`` (int64) for float64 ``s`` in ``[2**lo, 2**(hi+1))``: the libm logarithm
    gives it to within one, and one comparison with the exact power of two on either side fixes it."""
    l = s.log() * (1.0 / np.log(2.0))
    t = l.to(DType.int64)
    e = (t - (l < t.to(DType.float64)).to(DType.int64)).clamp(lo, hi)
    p = pow2(e, lo, hi)
    return e - (s < p).to(DType.int64) + (s >= p * 2.0).to(DType.int64)


def round_half_even(y: Tensor) -> Tensor:
    """``y`` (float64, ``0 <= y < 2**62``) rounded to the nearest integer, ties to even (int64)."""
    t = y.to(DType.int64)
    frac = y - t.to(DType.float64)
    odd = (t - idiv(t, 2) * 2) == 1
    return t + ((frac > 0.5) | ((frac == 0.5) & odd)).to(DType.int64)


def rint(v: Tensor) -> Tensor:
    """Round a float tensor to the nearest integer, ties to even (``np.rint``), in its own dtype;
    NaN and infinities pass through."""
    big = 2.0 ** 52
    v64 = v.to(DType.float64)
    a = v64.abs()
    small = a < big
    r = round_half_even(where(small, a, 0.0)).to(DType.float64)
    r = where(v64 < 0, -r, r)
    return where(small, r, v64).to(v.dtype)


def isnan(x: Tensor) -> Tensor:
    return x != x   # noqa: PLR0124 (NaN is the one value unequal to itself)


def _signbit(x: Tensor) -> Tensor:
    return (x < 0.0) | (1.0 / x < 0.0)   # -0.0: 1 / -0.0 = -inf


def round_minifloat(x: Tensor, fmt: MiniFloat, saturate: bool = True) -> Tensor:
    """``x`` (any float dtype) rounded to ``fmt``, to nearest with ties to even, as a float32 tensor
    of exactly representable values. The magnitude is scaled by a power of two so the target's
    quantum (``2**(e - mantissa)``, ``e`` the exponent, at least ``emin`` for subnormals) becomes 1,
    rounded there, and scaled back; all in float64, where each step is exact."""
    x64 = x.to(DType.float64)
    a = x64.abs()
    finite = a < float("inf")
    top = 2.0 ** (fmt.emax + 1)   # above it every value overflows; clamping keeps the exponent small
    ac = where(finite, minimum(a, top), 0.0)
    e = floor_log2(maximum(ac, 2.0 ** fmt.emin), fmt.emin, fmt.emax + 1)
    m = fmt.mantissa
    y = ac * pow2(m - e, m - fmt.emax - 1, m - fmt.emin)
    r = round_half_even(y).to(DType.float64) * pow2(e - m, fmt.emin - m, fmt.emax + 1 - m)
    mag = where(finite, r, a)
    over = mag > fmt.max
    if saturate or not fmt.nan:
        mag = where(over, fmt.max, mag)
    else:
        mag = where(over, float("inf") if fmt.inf else float("nan"), mag)
    out = where(_signbit(x64), -mag, mag)
    if fmt.unsigned_zero:
        out = where(out == 0.0, 0.0, out)
    # NaN: itself, sign kept (e4m3fn's and e5m2's NaNs are signed); -0.0 where the type has no NaN
    out = where(isnan(x64), x64 if fmt.nan else -0.0, out)
    return out.to(DType.float32)


def to_e8m0(x: Tensor, saturate: bool = True, round_mode: str = "up") -> Tensor:
    """``x`` cast to float8e8m0 (values ``2**(E-127)``, E in 0..254; 255 is NaN), as a float32 tensor.
    Bit for bit ``onnx.numpy_helper.to_float8e8m0``: the float32 exponent field E of ``|x|`` (0 for
    zeros and subnormals), plus one when rounding "up" (any mantissa bit set) or "nearest" (the first
    mantissa bit set and, for subnormals, any other); with ``saturate`` E stays at most 254; NaN and
    infinities give NaN. The sign is ignored (negative inputs are unspecified by ONNX)."""
    if round_mode not in ("up", "down", "nearest"):
        raise ValueError(round_mode)
    a = x.to(DType.float32).to(DType.float64).abs()
    special = ~(a < float("inf"))
    normal = (a >= 2.0 ** -126) & ~special
    s = where(normal, a, 1.0)
    big_e = floor_log2(s, -126, 127) + 127
    mant = s * pow2(127 - big_e, -127, 126)   # in [1, 2)
    big_e = where(normal, big_e, 0)
    if round_mode == "up":
        inc = where(normal, mant != 1.0, a > 0.0)
    elif round_mode == "nearest":
        inc = where(normal, mant >= 1.5, a > 2.0 ** -127)
    else:
        inc = a < 0.0   # all False
    if saturate:
        inc = inc & (big_e != 254)
    big_e = big_e + inc.to(DType.int64)
    value = pow2(big_e - 127, -127, 127)
    return where(special | (big_e == 255), float("nan"), value).to(DType.float32)


# ---- Cast -----------------------------------------------------------------------------------------

_NUMPY_CASTS = (set(NATIVE) | set(INTS)) - {TP.BFLOAT16}
# Integer types narrower than the type they are held in: a cast to them wraps.
_WRAPPED = {elem for elem, t in INTS.items() if t.bits < 8 * t.compute.itemsize}


def cast(x, src: int, dst: int, saturate: bool = True, round_mode: str = "up"):
    """``x``, the value lumina holds for ONNX type ``src``, cast to ONNX type ``dst`` (the value held
    for ``dst``), per the ONNX Cast specification. Known integer and native values cast in NumPy (shape
    arithmetic stays known); all others, and every cast to or from an emulated float, in lumina.
    A cast to a narrow integer truncates a float toward zero (NaN and infinities: 0) and keeps the
    low bits, known or not (see the module docstring)."""
    if is_static(x) and src in _NUMPY_CASTS and dst in _NUMPY_CASTS:
        a = np.asarray(narrow_array(x, src))
        if dst in _WRAPPED:   # computed here: NumPy's and ml_dtypes' out-of-range casts differ
            a = _float_to_int64_array(a) if a.dtype.kind == "f" else a.astype(np.int64)
            return wrap_array(a, INTS[dst]).astype(INTS[dst].compute.numpy)
        with np.errstate(all="ignore"):
            return widen_array(np.asarray(a.astype(np_dtype(dst))))
    x = tensor_of(x)
    if dst in MINIFLOATS:
        return round_minifloat(to_float(x, src, DType.float64), MINIFLOATS[dst],
                               saturate or dst not in SATURATING)
    if dst == E8M0:
        return to_e8m0(to_float(x, src, DType.float32), saturate, round_mode)
    if dst == TP.BOOL:
        return x.to(DType.bool)
    if dst in NATIVE and NATIVE[dst].is_float:
        return to_float(x, src, NATIVE[dst])
    t = INTS[dst]
    if x.dtype.is_float:
        if dst == TP.UINT64:   # [2**63, 2**64) is in range: subtract 2**63, set the top bit
            x64 = x.to(DType.float64)
            high = x64 >= 2.0 ** 63
            return where(high, _float_to_int64(x64 - 2.0 ** 63) + INT64_MIN, _float_to_int64(x64))
        if t.bits == 8 * t.compute.itemsize:
            return x.to(t.compute)
        return wrap(_float_to_int64(x), t).to(t.compute)
    if t.bits == 8 * t.compute.itemsize or x.dtype is DType.bool:
        return x.to(t.compute)   # bits kept (LLVM trunc/sext), or a bool's 0/1
    return wrap(x.to(DType.int64), t).to(t.compute)


def to_float(x: Tensor, src: int, dtype: DType) -> Tensor:
    """``x`` of ONNX type ``src`` as a float tensor of ``dtype``, rounded once (a uint64 of 2**63 and
    above: halved with its lowest bit kept as a sticky bit, converted, doubled; that rounds as the
    full value does)."""
    if src != TP.UINT64:
        return x.to(dtype)
    half = u64_shr(x, 1)
    low = x - floor_div(x, 2) * 2
    sticky = half + ((low == 1) & (half - idiv(half, 2) * 2 == 0)).to(DType.int64)
    return where(x < 0, sticky.to(dtype) * 2.0, x.to(dtype))
