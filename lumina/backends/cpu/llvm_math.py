"""Branch-free float32 ``exp`` and ``log`` in LLVM IR.

LLVM lowers ``llvm.exp.f32`` and friends to scalar libm calls, which stop the loop vectorizer; these
straight-line polynomial versions vectorize (8 or 16 lanes per instruction), which is what makes
softmax, GELU and log-sum-exp run at SIMD speed. Accuracy is that of the source: Cephes ``expf`` /
``logf`` (S. L. Moshier), about 1-2 ulp on the whole range; ``exp`` scales by 2^n in two factors so
results down to denormals and up to FLT_MAX are right. (float32 tanh and erf are polynomials too,
the ones the Triton and MSL renderers share: ``codegen.legalize.tanh32`` / ``erf32``, built on this
``exp``.)

Special values follow IEEE/NumPy: NaN propagates, exp(-inf) = 0, exp(inf) = inf, log(0) = -inf,
log(x < 0) = NaN, log(inf) = inf.
"""
from __future__ import annotations

import math

from llvmlite import ir

from ...ir.ops import Op

F32, I32 = ir.FloatType(), ir.IntType(32)


def _c(v: float) -> ir.Constant:
    return ir.Constant(F32, v)


def _i(v: int) -> ir.Constant:
    return ir.Constant(I32, v)


def _horner(b: ir.IRBuilder, x, coeffs):
    """The polynomial by Horner's rule, each step a multiply-add LLVM may fuse (``contract``)."""
    acc = _c(coeffs[0])
    for c in coeffs[1:]:
        acc = b.fadd(b.fmul(acc, x, flags=("contract",)), _c(c), flags=("contract",))
    return acc


def _intrinsic(b: ir.IRBuilder, name: str, *args):
    module = b.module
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(F32, [a.type for a in args]), name=name)
    return b.call(fn, list(args))


def _is_nan(b, x):
    return b.fcmp_unordered("uno", x, x)


def _pow2(b, n):
    """2.0**n for an i32 n in [-126, 127], built from the exponent bits."""
    return b.bitcast(b.shl(b.add(n, _i(127)), _i(23)), F32)


def exp(b: ir.IRBuilder, x):
    xc = _intrinsic(b, "llvm.maxnum.f32", _intrinsic(b, "llvm.minnum.f32", x, _c(88.72283905206835)),
                    _c(-103.972077083991796))
    fx = _intrinsic(b, "llvm.floor.f32", b.fadd(b.fmul(xc, _c(math.log2(math.e))), _c(0.5)))
    r = b.fsub(b.fsub(xc, b.fmul(fx, _c(0.693359375))), b.fmul(fx, _c(-2.12194440e-4)))
    p = _horner(b, r, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                       1.6666665459e-1, 5.0000001201e-1])
    y = b.fadd(b.fadd(b.fmul(p, b.fmul(r, r)), r), _c(1.0))
    n = b.fptosi(fx, I32)                        # in [-150, 128]: scale in two halves
    half = b.ashr(n, _i(1))
    y = b.fmul(b.fmul(y, _pow2(b, half)), _pow2(b, b.sub(n, half)))
    y = b.select(b.fcmp_ordered(">", x, _c(88.72283905206835)), _c(math.inf), y)
    y = b.select(b.fcmp_ordered("<", x, _c(-103.972077083991796)), _c(0.0), y)
    return b.select(_is_nan(b, x), x, y)


def log(b: ir.IRBuilder, x):
    tiny = b.fcmp_ordered("<", x, _c(1.17549435e-38))          # denormals: scale up first
    xs = b.select(tiny, b.fmul(x, _c(8388608.0)), x)
    bits = b.bitcast(xs, I32)
    e = b.sub(b.and_(b.lshr(bits, _i(23)), _i(0xFF)), _i(126))
    e = b.select(tiny, b.sub(e, _i(23)), e)
    m = b.bitcast(b.or_(b.and_(bits, _i(0x807FFFFF)), _i(0x3F000000)), F32)   # m in [0.5, 1)
    small = b.fcmp_ordered("<", m, _c(0.707106781186547524))
    e = b.select(small, b.sub(e, _i(1)), e)
    m = b.select(small, b.fsub(b.fadd(m, m), _c(1.0)), b.fsub(m, _c(1.0)))
    z = b.fmul(m, m)
    p = _horner(b, m, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                       1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                       3.3333331174e-1])
    ef = b.sitofp(e, F32)
    y = b.fmul(b.fmul(p, m), z)
    y = b.fadd(y, b.fmul(ef, _c(-2.12194440e-4)))
    y = b.fsub(y, b.fmul(z, _c(0.5)))
    y = b.fadd(b.fadd(m, y), b.fmul(ef, _c(0.693359375)))
    y = b.select(b.fcmp_ordered("==", x, _c(0.0)), _c(-math.inf), y)
    y = b.select(b.fcmp_ordered("==", x, _c(math.inf)), x, y)
    return b.select(b.fcmp_unordered("<", x, _c(0.0)), _c(math.nan), y)   # x < 0 or NaN


FUNCTIONS = {Op.EXP: exp, Op.LOG: log}
