"""The graph-to-graph passes (cse, simplify, constant_fold, dce, sink_permutes) on IR text fixtures, the verifier
after every pass of the pipeline on the example models, and the example models with the optional
passes on and off.

Oracles: the expected IR text of each fixture (written by hand from the rule it tests and checked
against NumPy where a value is folded: the comments give the arithmetic), the IR verifier, and the
backend itself: a simplified or CSE'd graph must give the same bits as the unoptimised one when both
are compiled with every optional pass off.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import lumina
from lumina import compiler
from lumina.errors import LuminaValueError
from lumina.ir import Graph, Op, parse, verify
from lumina.ir import graph as B
from lumina.ir.dtypes import DType
from lumina.nn import functional as F
from lumina.nn.utils import clip_grad_norm_
from lumina.transforms import constant_fold as cf_module
from lumina.transforms.constant_fold import constant_fold
from lumina.transforms.cse import cse
from lumina.transforms.layout import sink_permutes
from lumina.transforms.pipeline import OPTIONAL, PASSES, optimize
from lumina.transforms.rewrite import dce
from lumina.transforms.simplify import simplify
from lumina.testing.twins import convnet, transformer

RNG = np.random.default_rng(5)


def graph(text: str) -> str:
    return textwrap.dedent(text).strip()


# ---- the fixtures: (pass, input IR, expected IR) ----------------------------------------------------

CSE = {
    # equal nodes merge bottom-up: the two negs become equal once the two exps have merged
    "chain": ("""
        graph chain {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = exp %0
          %2:f32[4] = exp %0
          %3:f32[4] = neg %1
          %4:f32[4] = neg %2
          %5:f32[4] = add %3, %4
          return %5
        }""", """
        graph chain {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = exp %0
          %2:f32[4] = neg %1
          %3:f32[4] = add %2, %2
          return %3
        }"""),
    # add (and mul) commute; sub does not
    "commutative": ("""
        graph commutative {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = input {name='y'}
          %2:f32[4] = add %0, %1
          %3:f32[4] = add %1, %0
          %4:f32[4] = sub %0, %1
          %5:f32[4] = sub %1, %0
          %6:f32[4] = mul %2, %3
          %7:f32[4] = mul %4, %5
          return %6, %7
        }""", """
        graph commutative {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = input {name='y'}
          %2:f32[4] = add %0, %1
          %3:f32[4] = mul %2, %2
          %4:f32[4] = sub %0, %1
          %5:f32[4] = sub %1, %0
          %6:f32[4] = mul %4, %5
          return %3, %6
        }"""),
    # constants merge by dtype, shape and bits: 0.0 and -0.0 stay apart, f32 2.0 and f64 2.0 too
    "constants": ("""
        graph constants {
          %0:f32[4] = input {name='x'}
          %1:f32[] = const {value=2.0}
          %2:f32[] = const {value=2.0}
          %3:f32[] = const {value=0.0}
          %4:f32[] = const {value=-0.0}
          %5:f64[] = const {value=2.0}
          %6:f32[] = add %1, %2
          %7:f32[] = add %3, %4
          return %6, %7, %5
        }""", """
        graph constants {
          %0:f32[] = const {value=2.0}
          %1:f32[] = add %0, %0
          %2:f32[] = const {value=0.0}
          %3:f32[] = const {value=-0.0}
          %4:f32[] = add %2, %3
          %5:f64[] = const {value=2.0}
          %6:f32[4] = input {name='x'}
          return %1, %4, %5
        }"""),
    # attributes are part of the key; a repeated output stays two outputs of one value
    "attrs": ("""
        graph attrs {
          %0:f32[4,3] = input {name='x'}
          %1:f32[4] = reduce_sum %0 {axes=(1,), keepdim=False}
          %2:f32[4] = reduce_sum %0 {axes=(1,), keepdim=False}
          %3:f32[3] = reduce_sum %0 {axes=(0,), keepdim=False}
          %4:f32[4] = reduce_max %0 {axes=(1,), keepdim=False}
          %5:f32[4,1] = reduce_sum %0 {axes=(1,), keepdim=True}
          return %1, %2, %3, %4, %5
        }""", """
        graph attrs {
          %0:f32[4,3] = input {name='x'}
          %1:f32[4] = reduce_sum %0 {axes=(1,), keepdim=False}
          %2:f32[3] = reduce_sum %0 {axes=(0,), keepdim=False}
          %3:f32[4] = reduce_max %0 {axes=(1,), keepdim=False}
          %4:f32[4,1] = reduce_sum %0 {axes=(1,), keepdim=True}
          return %1, %1, %2, %3, %4
        }"""),
    # rand is never merged, so neither are the exps of two rands
    "rand": ("""
        graph rand {
          %0:i64[] = const {value=7}
          %1:f32[4] = rand %0 {shape=(4,), dtype=f32}
          %2:f32[4] = rand %0 {shape=(4,), dtype=f32}
          %3:f32[4] = exp %1
          %4:f32[4] = exp %2
          return %3, %4
        }""", """
        graph rand {
          %0:i64[] = const {value=7}
          %1:f32[4] = rand %0 {shape=(4,), dtype=f32}
          %2:f32[4] = exp %1
          %3:f32[4] = rand %0 {shape=(4,), dtype=f32}
          %4:f32[4] = exp %3
          return %2, %4
        }"""),
    # inputs of the same type are different arguments
    "inputs": ("""
        graph inputs {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = input {name='y'}
          %2:f32[4] = exp %0
          %3:f32[4] = exp %1
          return %2, %3
        }""", """
        graph inputs {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = exp %0
          %2:f32[4] = input {name='y'}
          %3:f32[4] = exp %2
          return %1, %3
        }"""),
}

SIMPLIFY = {
    # x * 1, 1 * x, x / 1
    "mul_div_one": ("""
        graph mul_div_one {
          %0:f32[3] = input {name='x'}
          %1:f32[] = const {value=1.0}
          %2:f32[1] = reshape %1 {shape=(1,)}
          %3:f32[3] = expand %2 {shape=(3,)}
          %4:f32[3] = mul %0, %3
          %5:f32[3] = mul %3, %4
          %6:f32[3] = div %5, %3
          return %6
        }""", """
        graph mul_div_one {
          %0:f32[3] = input {name='x'}
          return %0
        }"""),
    # float x + (-0.0), (-0.0) + x and x - (+0.0) go; x + (+0.0) and x - (-0.0) stay (-0.0 + 0.0 is +0.0)
    "add_sub_zero_float": ("""
        graph add_sub_zero_float {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = const {value=[-0.0, -0.0, -0.0]}
          %2:f32[3] = const {value=[0.0, 0.0, 0.0]}
          %3:f32[3] = add %0, %1
          %4:f32[3] = add %1, %3
          %5:f32[3] = add %4, %2
          %6:f32[3] = sub %5, %2
          %7:f32[3] = sub %6, %1
          return %7
        }""", """
        graph add_sub_zero_float {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = const {value=[0.0, 0.0, 0.0]}
          %2:f32[3] = add %0, %1
          %3:f32[3] = const {value=[-0.0, -0.0, -0.0]}
          %4:f32[3] = sub %2, %3
          return %4
        }"""),
    # integers: 0 + x, x - 0 and x * 0 (which becomes the zero)
    "add_sub_mul_zero_int": ("""
        graph add_sub_mul_zero_int {
          %0:i32[3] = input {name='x'}
          %1:i32[] = const {value=0}
          %2:i32[1] = reshape %1 {shape=(1,)}
          %3:i32[3] = expand %2 {shape=(3,)}
          %4:i32[3] = add %3, %0
          %5:i32[3] = sub %4, %3
          %6:i32[3] = mul %5, %3
          return %5, %6
        }""", """
        graph add_sub_mul_zero_int {
          %0:i32[3] = input {name='x'}
          %1:i32[] = const {value=0}
          %2:i32[1] = reshape %1 {shape=(1,)}
          %3:i32[3] = expand %2 {shape=(3,)}
          return %0, %3
        }"""),
    # float x * 0 stays (inf * 0 is nan, -1 * 0 is -0.0)
    "mul_zero_float_kept": ("""
        graph mul_zero_float_kept {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = const {value=[0.0, 0.0, 0.0]}
          %2:f32[3] = mul %0, %1
          return %2
        }""", """
        graph mul_zero_float_kept {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = const {value=[0.0, 0.0, 0.0]}
          %2:f32[3] = mul %0, %1
          return %2
        }"""),
    # neg(neg(x)); neg of a broadcast scalar stays a broadcast; neg of a constant array (0.0 -> -0.0)
    "neg": ("""
        graph neg {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = neg %0
          %2:f32[3] = neg %1
          %3:f32[] = const {value=2.5}
          %4:f32[1] = reshape %3 {shape=(1,)}
          %5:f32[3] = expand %4 {shape=(3,)}
          %6:f32[3] = neg %5
          %7:f32[3] = const {value=[1.0, -2.0, 0.0]}
          %8:f32[3] = neg %7
          %9:f32[3] = mul %2, %6
          %10:f32[3] = add %9, %8
          return %10
        }""", """
        graph neg {
          %0:f32[3] = input {name='x'}
          %1:f32[1] = const {value=[-2.5]}
          %2:f32[3] = expand %1 {shape=(3,)}
          %3:f32[3] = mul %0, %2
          %4:f32[3] = const {value=[-1.0, 2.0, -0.0]}
          %5:f32[3] = add %3, %4
          return %5
        }"""),
    # cast to the same dtype; f32->f64->f32 and i32->f64->i32 are x; f16->f32->f64 is one cast;
    # f64->f32->f64 (rounds) and i32->f64->f32 (not all floats) stay
    "casts": ("""
        graph casts {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = cast %0 {dtype=f32}
          %2:f64[3] = cast %1 {dtype=f64}
          %3:f32[3] = cast %2 {dtype=f32}
          %4:f64[3] = input {name='y'}
          %5:f32[3] = cast %4 {dtype=f32}
          %6:f64[3] = cast %5 {dtype=f64}
          %7:f16[3] = input {name='h'}
          %8:f32[3] = cast %7 {dtype=f32}
          %9:f64[3] = cast %8 {dtype=f64}
          %10:i32[3] = input {name='i'}
          %11:f64[3] = cast %10 {dtype=f64}
          %12:i32[3] = cast %11 {dtype=i32}
          %13:f32[3] = cast %11 {dtype=f32}
          return %3, %6, %9, %12, %13
        }""", """
        graph casts {
          %0:f32[3] = input {name='x'}
          %1:f64[3] = input {name='y'}
          %2:f32[3] = cast %1 {dtype=f32}
          %3:f64[3] = cast %2 {dtype=f64}
          %4:f16[3] = input {name='h'}
          %5:f64[3] = cast %4 {dtype=f64}
          %6:i32[3] = input {name='i'}
          %7:f64[3] = cast %6 {dtype=f64}
          %8:f32[3] = cast %7 {dtype=f32}
          return %0, %3, %5, %6, %8
        }"""),
    # reshape(reshape), identity reshape; permute(permute(x, (2,0,1)), (2,0,1)) = permute(x, (1,2,0));
    # identity permute; expand to the same shape
    "movement": ("""
        graph movement {
          %0:f32[2,3,4] = input {name='x'}
          %1:f32[6,4] = reshape %0 {shape=(6, 4)}
          %2:f32[24] = reshape %1 {shape=(24,)}
          %3:f32[24] = reshape %2 {shape=(24,)}
          %4:f32[4,2,3] = permute %0 {perm=(2, 0, 1)}
          %5:f32[3,4,2] = permute %4 {perm=(2, 0, 1)}
          %6:f32[3,4,2] = permute %5 {perm=(0, 1, 2)}
          %7:f32[1,3,4,2] = reshape %6 {shape=(1, 3, 4, 2)}
          %8:f32[5,3,4,2] = expand %7 {shape=(5, 3, 4, 2)}
          %9:f32[5,3,4,2] = expand %8 {shape=(5, 3, 4, 2)}
          return %3, %9
        }""", """
        graph movement {
          %0:f32[2,3,4] = input {name='x'}
          %1:f32[24] = reshape %0 {shape=(24,)}
          %2:f32[3,4,2] = permute %0 {perm=(1, 2, 0)}
          %3:f32[1,3,4,2] = reshape %2 {shape=(1, 3, 4, 2)}
          %4:f32[5,3,4,2] = expand %3 {shape=(5, 3, 4, 2)}
          return %1, %4
        }"""),
    # expand of an all-2.0 constant, expand(expand(scalar)), and permute / reshape of a broadcast
    # scalar all become the canonical expand(reshape(0-d const))
    "broadcast_constants": ("""
        graph broadcast_constants {
          %0:f32[4,3] = input {name='x'}
          %1:f32[1,3] = const {value=[[2.0, 2.0, 2.0]]}
          %2:f32[4,3] = expand %1 {shape=(4, 3)}
          %3:f32[] = const {value=0.5}
          %4:f32[1,1] = reshape %3 {shape=(1, 1)}
          %5:f32[4,1] = expand %4 {shape=(4, 1)}
          %6:f32[4,3] = expand %5 {shape=(4, 3)}
          %7:f32[3,4] = permute %6 {perm=(1, 0)}
          %8:f32[12] = reshape %6 {shape=(12,)}
          %9:f32[4,3] = mul %0, %2
          %10:f32[4,3] = add %9, %6
          return %10, %7, %8
        }""", """
        graph broadcast_constants {
          %0:f32[4,3] = input {name='x'}
          %1:f32[1,1] = const {value=[[2.0]]}
          %2:f32[4,3] = expand %1 {shape=(4, 3)}
          %3:f32[4,3] = mul %0, %2
          %4:f32[1,1] = const {value=[[0.5]]}
          %5:f32[4,3] = expand %4 {shape=(4, 3)}
          %6:f32[4,3] = add %3, %5
          %7:f32[1,1] = const {value=[[0.5]]}
          %8:f32[3,4] = expand %7 {shape=(3, 4)}
          %9:f32[1] = const {value=[0.5]}
          %10:f32[12] = expand %9 {shape=(12,)}
          return %6, %8, %10
        }"""),
    # where with a constant True / False condition, where(c, a, a)
    "where": ("""
        graph where {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = input {name='y'}
          %2:bool[] = const {value=True}
          %3:bool[1] = reshape %2 {shape=(1,)}
          %4:bool[3] = expand %3 {shape=(3,)}
          %5:f32[3] = where %4, %0, %1
          %6:bool[3] = const {value=[False, False, False]}
          %7:f32[3] = where %6, %0, %1
          %8:bool[3] = lt %0, %1
          %9:f32[3] = where %8, %0, %0
          %10:f32[3] = where %8, %1, %0
          return %5, %7, %9, %10
        }""", """
        graph where {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = input {name='y'}
          %2:bool[3] = lt %0, %1
          %3:f32[3] = where %2, %1, %0
          return %0, %1, %0, %3
        }"""),
}

CONSTANT_FOLD = {
    # [1,2,4] / 3 -> sqrt -> [0.57735, 0.81650, 1.15470]; all < 3 so where picks the sqrt; cast
    # truncates to [0, 0, 1]
    "elementwise": ("""
        graph elementwise {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = const {value=[1.0, 2.0, 4.0]}
          %2:f32[3] = const {value=[3.0, 3.0, 3.0]}
          %3:f32[3] = div %1, %2
          %4:f32[3] = sqrt %3
          %5:bool[3] = lt %3, %2
          %6:f32[3] = where %5, %4, %1
          %7:i32[3] = cast %6 {dtype=i32}
          %8:f32[3] = add %0, %6
          return %8, %7
        }""", """
        graph elementwise {
          %0:f32[3] = input {name='x'}
          %1:f32[3] = const {value=[0.5773502588272095, 0.8164966106414795, 1.154700517654419]}
          %2:f32[3] = add %0, %1
          %3:i32[3] = const {value=[0, 0, 1]}
          return %2, %3
        }"""),
    # the f32 sum is computed in float64 (1e8 + 1 - 1e8 = 1, where float32 would give 0);
    # i64 (2**40 + 1) * 3 is exact beyond 2**53 / 3; i32 division truncates toward zero
    "float64_and_exact_ints": ("""
        graph float64_and_exact_ints {
          %0:f32[3] = const {value=[100000000.0, 1.0, -100000000.0]}
          %1:f32[] = reduce_sum %0 {axes=(0,), keepdim=False}
          %2:i64[2] = const {value=[1099511627777, -3]}
          %3:i64[2] = const {value=[3, 1099511627777]}
          %4:i64[2] = mul %2, %3
          %5:i32[2] = const {value=[7, -7]}
          %6:i32[2] = const {value=[2, 2]}
          %7:i32[2] = div %5, %6
          return %1, %4, %7
        }""", """
        graph float64_and_exact_ints {
          %0:f32[] = const {value=1.0}
          %1:i64[2] = const {value=[3298534883331, -3298534883331]}
          %2:i32[2] = const {value=[3, -3]}
          return %0, %1, %2
        }"""),
    # 2 * 0.25 folds to a broadcast 0.5; [1,2,3] + 0.5 folds at [1,3] and is expanded again; the
    # expand of a constant stays an expand
    "broadcasts_stay_broadcasts": ("""
        graph broadcasts_stay_broadcasts {
          %0:f32[2,3] = input {name='x'}
          %1:f32[] = const {value=2.0}
          %2:f32[1,1] = reshape %1 {shape=(1, 1)}
          %3:f32[2,3] = expand %2 {shape=(2, 3)}
          %4:f32[] = const {value=0.25}
          %5:f32[1,1] = reshape %4 {shape=(1, 1)}
          %6:f32[2,3] = expand %5 {shape=(2, 3)}
          %7:f32[2,3] = mul %3, %6
          %8:f32[1,3] = const {value=[[1.0, 2.0, 3.0]]}
          %9:f32[2,3] = expand %8 {shape=(2, 3)}
          %10:f32[2,3] = add %9, %7
          %11:f32[2,3] = mul %0, %10
          %12:f32[2,3] = mul %11, %7
          return %12, %9
        }""", """
        graph broadcasts_stay_broadcasts {
          %0:f32[2,3] = input {name='x'}
          %1:f32[1,3] = const {value=[[1.5, 2.5, 3.5]]}
          %2:f32[2,3] = expand %1 {shape=(2, 3)}
          %3:f32[2,3] = mul %0, %2
          %4:f32[1,1] = const {value=[[0.5]]}
          %5:f32[2,3] = expand %4 {shape=(2, 3)}
          %6:f32[2,3] = mul %3, %5
          %7:f32[1,3] = const {value=[[1.0, 2.0, 3.0]]}
          %8:f32[2,3] = expand %7 {shape=(2, 3)}
          return %6, %8
        }"""),
    # sum of a broadcast 1.0 over 5 is a broadcast 5.0; c = [[1,2,3],[4,5,6]]: c @ c.T =
    # [[14,32],[32,77]], max over rows [32, 77]; gather columns (2, -1) -> [[3,3],[6,6]], concat
    # with c @ c.T, columns 1 and 3 -> [[3,32],[6,77]], padded with -1
    "reductions_and_movement": ("""
        graph reductions_and_movement {
          %0:f32[] = const {value=1.0}
          %1:f32[1,1] = reshape %0 {shape=(1, 1)}
          %2:f32[4,5] = expand %1 {shape=(4, 5)}
          %3:f32[4] = reduce_sum %2 {axes=(1,), keepdim=False}
          %4:f32[2,3] = const {value=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}
          %5:f32[3,2] = permute %4 {perm=(1, 0)}
          %6:f32[2,2] = dot %4, %5 {contract=((1,), (0,)), batch=((), ())}
          %7:f32[2] = reduce_max %6 {axes=(0,), keepdim=False}
          %8:i64[2] = const {value=[2, -1]}
          %9:f32[2,2] = gather %4, %8 {axis=1}
          %10:f32[2,4] = concat %9, %6 {axis=1}
          %11:f32[2,2] = slice %10 {starts=(0, 1), stops=(2, 4), steps=(1, 2)}
          %12:f32[3,3] = pad %11 {pads=((1, 0), (0, 1)), value=-1.0}
          return %3, %7, %12
        }""", """
        graph reductions_and_movement {
          %0:f32[1] = const {value=[5.0]}
          %1:f32[4] = expand %0 {shape=(4,)}
          %2:f32[2] = const {value=[32.0, 77.0]}
          %3:f32[3,3] = const {value=[[-1.0, -1.0, -1.0], [3.0, 32.0, -1.0], [6.0, 77.0, -1.0]]}
          return %1, %2, %3
        }"""),
    # rand (and what reads it) is never folded; a reshape of a scalar constant is
    "rand_not_folded": ("""
        graph rand_not_folded {
          %0:i64[] = const {value=42}
          %1:f32[4] = rand %0 {shape=(4,), dtype=f32}
          %2:f32[4] = exp %1
          %3:f32[] = const {value=0.0}
          %4:f32[1] = reshape %3 {shape=(1,)}
          %5:f32[4] = expand %4 {shape=(4,)}
          %6:f32[4] = maximum %2, %5
          return %6
        }""", """
        graph rand_not_folded {
          %0:i64[] = const {value=42}
          %1:f32[4] = rand %0 {shape=(4,), dtype=f32}
          %2:f32[4] = exp %1
          %3:f32[1] = const {value=[0.0]}
          %4:f32[4] = expand %3 {shape=(4,)}
          %5:f32[4] = maximum %2, %4
          return %5
        }"""),
}

DCE = {
    # nodes that reach no output go; every input stays (in argument order), and so does every
    # output, repeated or not: the IR has no notion of a droppable output
    "dead": ("""
        graph dead {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = input {name='unused'}
          %2:f32[4] = exp %0
          %3:f32[4] = neg %0
          %4:f32[4] = tanh %3
          %5:f32[4] = mul %2, %2
          return %5, %0, %5
        }""", """
        graph dead {
          %0:f32[4] = input {name='x'}
          %1:f32[4] = exp %0
          %2:f32[4] = mul %1, %1
          %3:f32[4] = input {name='unused'}
          return %2, %0, %2
        }"""),
}

SINK_PERMUTES = {
    # a convolution's pair: channels last, a per-channel add and an exp, channels first again;
    # the permute moves past both (the per-channel operand is permuted instead) and cancels
    "cancel": ("""
        graph cancel {
          %0:f32[2,3,4,5] = input {name='x'}
          %1:f32[1,1,1,3] = input {name='b'}
          %2:f32[2,4,5,3] = permute %0 {perm=(0, 2, 3, 1)}
          %3:f32[2,4,5,3] = expand %1 {shape=(2, 4, 5, 3)}
          %4:f32[2,4,5,3] = add %2, %3
          %5:f32[2,4,5,3] = exp %4
          %6:f32[2,3,4,5] = permute %5 {perm=(0, 3, 1, 2)}
          return %6
        }""", """
        graph cancel {
          %0:f32[2,3,4,5] = input {name='x'}
          %1:f32[1,1,1,3] = input {name='b'}
          %2:f32[1,3,1,1] = permute %1 {perm=(0, 3, 1, 2)}
          %3:f32[2,3,4,5] = expand %2 {shape=(2, 3, 4, 5)}
          %4:f32[2,3,4,5] = add %0, %3
          %5:f32[2,3,4,5] = exp %4
          return %5
        }"""),
    # an operand stored in the permuted order stops the rule: reading it through a permute would
    # only move the transpose
    "stored": ("""
        graph stored {
          %0:f32[3,4] = input {name='x'}
          %1:f32[4,3] = input {name='y'}
          %2:f32[4,3] = permute %0 {perm=(1, 0)}
          %3:f32[4,3] = mul %2, %1
          return %3
        }""", """
        graph stored {
          %0:f32[3,4] = input {name='x'}
          %1:f32[4,3] = permute %0 {perm=(1, 0)}
          %2:f32[4,3] = input {name='y'}
          %3:f32[4,3] = mul %1, %2
          return %3
        }"""),
    # two permutations do not mix; one permutation moves past a compare and a where (its
    # broadcast scalar permuted)
    "two_perms": ("""
        graph two_perms {
          %0:f32[2,3,4] = input {name='x'}
          %1:f32[4,3,2] = input {name='y'}
          %2:f32[3,2,4] = permute %0 {perm=(1, 0, 2)}
          %3:f32[3,2,4] = permute %1 {perm=(1, 2, 0)}
          %4:f32[3,2,4] = sub %2, %3
          %5:f32[3,2,4] = permute %1 {perm=(1, 2, 0)}
          %6:bool[3,2,4] = lt %5, %3
          %7:f32[] = const {value=0.5}
          %8:f32[1,1,1] = reshape %7 {shape=(1, 1, 1)}
          %9:f32[3,2,4] = expand %8 {shape=(3, 2, 4)}
          %10:f32[3,2,4] = where %6, %9, %3
          return %4, %10
        }""", """
        graph two_perms {
          %0:f32[2,3,4] = input {name='x'}
          %1:f32[3,2,4] = permute %0 {perm=(1, 0, 2)}
          %2:f32[4,3,2] = input {name='y'}
          %3:f32[3,2,4] = permute %2 {perm=(1, 2, 0)}
          %4:f32[3,2,4] = sub %1, %3
          %5:bool[4,3,2] = lt %2, %2
          %6:f32[] = const {value=0.5}
          %7:f32[1,1,1] = reshape %6 {shape=(1, 1, 1)}
          %8:f32[1,1,1] = permute %7 {perm=(2, 0, 1)}
          %9:f32[4,3,2] = expand %8 {shape=(4, 3, 2)}
          %10:f32[4,3,2] = where %5, %9, %2
          %11:f32[3,2,4] = permute %10 {perm=(1, 2, 0)}
          return %4, %11
        }"""),
    # a reduction of a permute reduces the source over the mapped axes; its kept axes are permuted
    # back (keepdim: by the same permutation)
    "reductions": ("""
        graph reductions {
          %0:f32[2,3,4] = input {name='x'}
          %1:f32[4,2,3] = permute %0 {perm=(2, 0, 1)}
          %2:f32[4,3] = reduce_max %1 {axes=(1,), keepdim=False}
          %3:f32[1,2,1] = reduce_max %1 {axes=(0, 2), keepdim=True}
          return %2, %3
        }""", """
        graph reductions {
          %0:f32[2,3,4] = input {name='x'}
          %1:f32[3,4] = reduce_max %0 {axes=(0,), keepdim=False}
          %2:f32[4,3] = permute %1 {perm=(1, 0)}
          %3:f32[2,1,1] = reduce_max %0 {axes=(1, 2), keepdim=True}
          %4:f32[1,2,1] = permute %3 {perm=(2, 0, 1)}
          return %2, %4
        }"""),
}

FIXTURES = [pytest.param(fn, *texts, id=f"{name}-{key}")
            for name, fn, table in (("cse", cse, CSE), ("simplify", simplify, SIMPLIFY),
                                    ("constant_fold", constant_fold, CONSTANT_FOLD), ("dce", dce, DCE),
                                    ("sink_permutes", sink_permutes, SINK_PERMUTES))
            for key, texts in table.items()]


@pytest.mark.parametrize("fn, source, expected", FIXTURES)
def test_pass_on_fixture_gives_the_expected_ir(fn, source, expected):
    out = verify(fn(verify(parse(graph(source)))))
    assert str(out) == graph(expected)
    # the expected text is itself valid IR that prints back unchanged
    assert str(verify(parse(graph(expected)))) == graph(expected)


def _special_values(v) -> np.ndarray:
    """Random values of ``v``'s type with the cases rewrites get wrong mixed in: signed zeros,
    infinities, NaN (floats), the extremes (integers)."""
    dt = v.dtype.numpy
    if v.dtype.is_float:
        pool = np.array([-0.0, 0.0, np.inf, -np.inf, np.nan, 1.5, -2.25, 3e4, -7e-3], np.float64)
    elif v.dtype is DType.bool:
        pool = np.array([True, False])
    else:
        info = np.iinfo(dt)
        pool = np.array([0, 1, -1, 7, -9, info.min, info.max], np.int64)
    return RNG.choice(pool, size=v.shape).astype(dt)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.mark.parametrize("fn, source", [pytest.param(fn, texts[0], id=f"{name}-{key}")
                                        for name, fn, table in (("cse", cse, CSE), ("simplify", simplify, SIMPLIFY),
                                                                ("sink_permutes", sink_permutes, SINK_PERMUTES))
                                        for key, texts in table.items() if key != "rand"])
def test_cse_and_simplify_keep_every_bit(fn, source, monkeypatch):
    """The backend computes the same bits for the graph before and after the pass (with the
    optional passes off, so that only this pass differs between the two)."""
    monkeypatch.setenv("LUMINA_PASSES_OFF", ",".join(sorted(OPTIONAL)))
    g = verify(parse(graph(source)))
    out = verify(fn(g))
    for _ in range(3):
        inputs = [_special_values(v) for v in g.inputs]
        want = compiler.compile_graph(g).run(inputs)
        got = compiler.compile_graph(out).run(inputs)
        for w, o in zip(want, got):
            assert w.dtype == o.dtype and w.shape == o.shape
            np.testing.assert_array_equal(_bits(o), _bits(w))


def test_constant_fold_never_builds_a_constant_over_the_limit():
    """A fold whose result would have more than FOLD_LIMIT distinct elements is refused; its
    operands keep their broadcast form."""
    rows, cols = 512, 256
    assert rows * cols > cf_module.FOLD_LIMIT
    a = B.expand(B.const(np.arange(rows, dtype=np.float32).reshape(rows, 1), DType.float32, (rows, 1)),
                 (rows, cols))
    b = B.expand(B.const(np.arange(cols, dtype=np.float32).reshape(1, cols), DType.float32, (1, cols)),
                 (rows, cols))
    g = Graph.from_outputs([B.add(a, b)])
    out = verify(constant_fold(g))
    assert [n.op for n in out.nodes] == [Op.CONST, Op.EXPAND, Op.CONST, Op.EXPAND, Op.ADD]
    assert max(n.out.type.numel for n in out.nodes if n.op is Op.CONST) == max(rows, cols)
    # the same fold on a quarter of the rows is within the limit and matches NumPy
    a4 = B.expand(B.const(np.arange(rows // 4, dtype=np.float32).reshape(-1, 1), DType.float32, (rows // 4, 1)),
                  (rows // 4, cols))
    b4 = B.expand(B.const(np.arange(cols, dtype=np.float32).reshape(1, cols), DType.float32, (1, cols)),
                  (rows // 4, cols))
    folded = verify(constant_fold(Graph.from_outputs([B.add(a4, b4)])))
    assert [n.op for n in folded.nodes] == [Op.CONST]
    want = np.arange(rows // 4, dtype=np.float32)[:, None] + np.arange(cols, dtype=np.float32)[None, :]
    np.testing.assert_array_equal(folded.outputs[0].node.attrs["value"], want)


def test_constant_fold_of_half_floats_rounds_like_a_cast():
    """f16 ops fold in float64 and round to f16 as the IR's cast does (through float32)."""
    a = np.array([1.0, 2049.0, 0.1, 65504.0], np.float16)
    b = np.array([2.0 ** -11, 1.0, 0.2, 65504.0], np.float16)
    g = Graph.from_outputs([B.add(B.const(a, DType.float16, (4,)), B.const(b, DType.float16, (4,)))])
    out = verify(constant_fold(g)).outputs[0].node.attrs["value"]
    with np.errstate(over="ignore"):
        want = (a.astype(np.float64) + b.astype(np.float64)).astype(np.float32).astype(np.float16)
    np.testing.assert_array_equal(_bits(out), _bits(want))
    assert np.isinf(out[3])          # 65504 + 65504 overflows f16


# ---- the pipeline on the example models -----------------------------------------------------------

def _mlp_step():
    lumina.manual_seed(0)
    model = lumina.nn.Sequential(lumina.nn.Linear(12, 16), lumina.nn.ReLU(), lumina.nn.Linear(16, 3))
    opt = lumina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 12)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(2)]
    return model, step, batches


def _convnet_step():
    lumina.manual_seed(0)
    model = convnet(lumina, c1=4, c2=8)
    # SGD, not Adam: the conv biases in front of BatchNorm get gradients at rounding-noise level
    # (BatchNorm removes per-channel constants), which Adam would scale up to lr-sized steps, so
    # any change in rounding between the two pipelines would show as a 1e-2 parameter difference.
    opt = lumina.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((4, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 4)) for _ in range(2)]
    return model, step, batches


def _transformer_step():
    lumina.manual_seed(0)
    vocab, block = 11, 8
    model = transformer(lumina, vocab=vocab, block=block, d_model=16, n_head=2, n_layer=1)
    opt = lumina.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.99))

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, vocab, (2, block)), rng.integers(0, vocab, (2, block))) for _ in range(2)]
    return model, step, batches


MODELS = {"mlp": _mlp_step, "convnet": _convnet_step, "transformer": _transformer_step}


def _train(name: str, passes_off: str, monkeypatch):
    """Two training steps of model ``name`` with the passes ``passes_off`` skipped: the losses,
    the parameters after them, and the compiled step's ``Lowered``."""
    monkeypatch.setenv("LUMINA_PASSES_OFF", passes_off)
    compiler.cache_clear()                 # executables are cached by the traced graph's hash
    model, step, batches = MODELS[name]()
    compiled = lumina.compile(step)
    losses = [float(compiled(x, y).numpy()) for x, y in batches]
    return losses, [p.numpy() for p in model.parameters()], compiled.lower(*batches[0])


def _check_every_stage(name: str, lowered) -> None:
    """The verifier accepts the graph after every pass, which keeps the inputs' and outputs' types."""
    stages = lowered.executable.info["stages"]
    assert [s for s, _ in stages] == ["input"] + [p for p, _ in PASSES]
    traced = verify(stages[0][1])
    for pass_name, after in stages[1:]:
        try:
            verify(after)
        except lumina.errors.LuminaIRError as e:  # pragma: no cover - the message is the point
            raise AssertionError(f"{name}: invalid graph after pass {pass_name}: {e}") from None
        assert [v.type for v in after.outputs] == [v.type for v in traced.outputs]
        assert [v.type for v in after.inputs] == [v.type for v in traced.inputs]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_example_models_verify_after_every_pass_and_agree_with_the_passes_off(name, monkeypatch):
    """The MLP, convnet and Transformer training steps: the verifier accepts the graph after every
    pass of the pipeline, and two training steps with cse, simplify and constant_fold on and off
    give the same losses and parameters to rtol 1e-6, from a graph with fewer nodes."""
    off_losses, off_params, off = _train(name, ",".join(sorted(OPTIONAL)), monkeypatch)
    on_losses, on_params, on = _train(name, "", monkeypatch)
    compiler.cache_clear()
    _check_every_stage(name, on)
    _check_every_stage(name, off)
    on_nodes, off_nodes = (len(x.executable.info["stages"][-1][1].nodes) for x in (on, off))
    assert on_nodes < off_nodes
    np.testing.assert_allclose(on_losses, off_losses, rtol=1e-6)
    for a, b in zip(on_params, off_params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_optimize_refuses_to_disable_a_required_pass():
    g = parse(graph(CSE["chain"][0]))
    with pytest.raises(LuminaValueError, match="canonicalize_dots"):
        optimize(g, disable=["canonicalize_dots"])


def test_disabled_passes_leave_the_graph_unchanged(monkeypatch):
    g = verify(parse(graph(CSE["chain"][0])))
    monkeypatch.setenv("LUMINA_PASSES_OFF", "cse")
    after = {}
    optimize(g, on_pass=lambda name, out: after.setdefault(name, str(out)), disable=["cse_final"])
    assert after["cse"] == after["constant_fold"]
    assert after["cse_final"] == after["split_reductions"]
    assert after["dce_final"].count(" = exp ") == 2      # nothing merged the two exps
    monkeypatch.delenv("LUMINA_PASSES_OFF")
    assert str(optimize(g)) == graph(CSE["chain"][1])
