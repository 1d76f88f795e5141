"""Branch-free float32 ``exp``, ``log``, ``tanh`` and ``erf`` in LLVM IR.

LLVM lowers ``llvm.exp.f32`` and friends to scalar libm calls, which stop the loop vectorizer; these
straight-line polynomial versions vectorize (8 or 16 lanes per instruction), which is what makes
softmax, GELU and log-sum-exp run at SIMD speed. Accuracy is that of the sources:

* exp, log: Cephes ``expf`` / ``logf`` (S. L. Moshier), about 1-2 ulp on the whole range;
  ``exp`` scales by 2^n in two factors so results down to denormals and up to FLT_MAX are right.
* tanh: Cephes ``tanhf`` (an odd polynomial below |x| = 0.625, ``1 - 2 / (exp(2|x|) + 1)`` above).
* erf: Eigen's ``generic_fast_erf_float`` rational form below |x| = 0.5, and ``1 - erfc(|x|)``
  above with Numerical Recipes' ``erfcc`` (relative error < 1.2e-7 in erfc), so ``1 + erf(x)`` in
  GELU's negative tail is as accurate as float32 rounding allows.

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
    acc = _c(coeffs[0])
    for c in coeffs[1:]:
        acc = b.fadd(b.fmul(acc, x), _c(c))
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


def tanh(b: ir.IRBuilder, x):
    ax = _intrinsic(b, "llvm.fabs.f32", x)
    z = b.fmul(x, x)
    small = b.fadd(b.fmul(b.fmul(_horner(b, z, [-5.70498872745e-3, 2.06390887954e-2,
                                                 -5.37397155531e-2, 1.33314422036e-1,
                                                 -3.33332819422e-1]), z), x), x)
    e = exp(b, b.fmul(_intrinsic(b, "llvm.minnum.f32", ax, _c(44.0)), _c(2.0)))
    large = b.fsub(_c(1.0), b.fdiv(_c(2.0), b.fadd(e, _c(1.0))))
    large = _intrinsic(b, "llvm.copysign.f32", large, x)
    y = b.select(b.fcmp_ordered("<", ax, _c(0.625)), small, large)
    return b.select(_is_nan(b, x), x, y)


# erf's far branch evaluates erfc at min(|x|, ERFC_CLAMP). From |x| = 4 on, erfc(|x|) < 2^-25, so
# 1 - erfc rounds to exactly 1.0 and the clamp changes no result; it must stay well below 9.2,
# where exp(-z^2) leaves the normal range: denormal arithmetic made erf of large inputs (a GEMM's
# pre-activation) several times slower.
ERFC_CLAMP = 5.0


def _erfc_tail(b: ir.IRBuilder, z):
    """erfc(z) for z >= 0 with relative error below 1.2e-7 (Numerical Recipes' ``erfcc``,
    a Chebyshev fit: t = 1/(1 + z/2), erfc = t exp(-z^2 + P(t)))."""
    t = b.fdiv(_c(1.0), b.fadd(_c(1.0), b.fmul(z, _c(0.5))))
    poly = _horner(b, t, [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
                          -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223])
    return b.fmul(t, exp(b, b.fsub(poly, b.fmul(z, z))))


def erf(b: ir.IRBuilder, x):
    # Near 0, Eigen's rational form (accurate relative to erf itself); from |x| = 0.5 on,
    # 1 - erfc(|x|), so 1 + erf(x) for negative x (GELU's tail) keeps erfc's relative accuracy.
    xc = _intrinsic(b, "llvm.maxnum.f32", _intrinsic(b, "llvm.minnum.f32", x, _c(4.0)), _c(-4.0))
    x2 = b.fmul(xc, xc)
    p = _horner(b, x2, [-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                        -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                        -1.60960333262415e-02])
    q = _horner(b, x2, [-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                        -7.37332916720468e-03, -1.42647390514189e-02])
    near = b.fdiv(b.fmul(xc, p), q)
    ax = _intrinsic(b, "llvm.fabs.f32", x)
    far = _intrinsic(b, "llvm.copysign.f32",
                     b.fsub(_c(1.0), _erfc_tail(b, _intrinsic(b, "llvm.minnum.f32", ax, _c(ERFC_CLAMP)))), x)
    y = b.select(b.fcmp_ordered("<", ax, _c(0.5)), near, far)
    return b.select(_is_nan(b, x), x, y)


FUNCTIONS = {Op.EXP: exp, Op.LOG: log, Op.TANH: tanh, Op.ERF: erf}
