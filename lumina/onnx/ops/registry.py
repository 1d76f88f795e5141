"""The handler registry and the value helpers every ONNX op handler uses.

A handler gets the node's context, its inputs and its attributes, and returns its outputs. A value is
either a lumina ``Tensor`` (data the model computes) or a NumPy array known while the graph is
traced: initializers of integer dtype, ``Constant`` nodes, and everything computed from them and from
``Shape``. Shape arithmetic (``Shape -> Gather -> Concat -> Reshape``) therefore folds to constants
for the input shapes at hand, as ONNX Runtime's graph optimizer folds it; data is never computed in
NumPy. Semantics follow the ONNX operator specification (https://onnx.ai/onnx/operators/), for the
opset the model imports (``ctx.opset``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...ir.symbolic import Sym
from ...errors import LuminaOnnxError
from ...ir.dtypes import to_dtype
from ...tensor import Tensor, tensor


@dataclass(frozen=True)
class Ctx:
    """The node being imported: for error messages and opset-dependent semantics.
    ``graph_inputs`` maps ``id`` of the traced graph inputs' IR values to their names. ``in_types`` and
    ``out_types`` are the ONNX element types (``TensorProto`` numbers, 0 if unknown) of the node's
    inputs and outputs: the logical types of values lumina holds in a wider type (``onnx.dtypes``)."""
    name: str
    op_type: str
    opset: int
    n_outputs: int = 1
    graph_inputs: dict = field(default_factory=dict, compare=False)
    in_types: tuple = field(default=(), compare=False)
    out_types: tuple = field(default=(), compare=False)

    def error(self, message: str) -> LuminaOnnxError:
        return LuminaOnnxError(f"node {self.name!r} ({self.op_type}): {message}")


HANDLERS: dict[str, Callable] = {}


def handler(*op_types: str):
    def register(fn):
        for op in op_types:
            HANDLERS[op] = fn
        return fn
    return register


# ---- values ---------------------------------------------------------------------------------------

def is_static(v) -> bool:
    return isinstance(v, (np.ndarray, np.generic))


def tensor_of(v) -> Tensor:
    """``v`` as a lumina tensor (a known array becomes a constant)."""
    return v if isinstance(v, Tensor) else tensor(np.array(v, order="C"))


class NeedsValue(Exception):
    """A graph input is used where a value must be known while tracing (``Reshape``'s shape,
    ``ReduceSum``'s axes): the model specialises on that input's value and traces again."""
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


SMALL_INPUT = 16
"""A graph input of at most this many elements that a compile-time value (a shape, axes, a size) is
computed from is specialised on by value; a larger one is data, and the node is refused."""


def static(ctx: Ctx, v, what: str) -> np.ndarray:
    """The value of ``v``, which must be known while tracing (a shape, axes, pads, a size).

    A value computed from a small graph input (``Range(0, Cast(size))`` in the window functions,
    ``Max(Shape(x), shape)`` in CenterCropPad, or the input itself) raises ``NeedsValue``: the model
    specialises on that input's value and traces again. Anything else computed from data is a
    LuminaOnnxError naming the node."""
    if is_static(v):
        return v
    source = _small_input_behind(ctx, v)
    if source is not None:
        raise NeedsValue(source)
    raise ctx.error(f"{what} must be known at compile time (a constant or computed from shapes), "
                    f"got a computed tensor of shape {list(v.shape)}")


def _small_input_behind(ctx: Ctx, v: Tensor, limit: int = 256) -> str | None:
    """The graph input ``v`` is, or the name of a small one that ``v``'s IR reads (searching at most
    ``limit`` nodes)."""
    todo, seen = [v._value], set()
    while todo and len(seen) < limit:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        name = ctx.graph_inputs.get(id(value))
        if name is not None and (value is v._value or math.prod(value.shape) <= SMALL_INPUT):
            return name
        todo.extend(value.inputs)
    return None


def ints(ctx: Ctx, v, what: str) -> list:
    """The known integers of ``v`` (sizes may be symbolic: ``ir.symbolic.Sym``)."""
    return [i if isinstance(i, Sym) else int(i) for i in static(ctx, v, what).reshape(-1)]



def optional(xs, i: int):
    """Input ``i`` of a node, or ``None`` where it is absent or given as the empty name."""
    return xs[i] if len(xs) > i else None


def lumina_dtype(ctx: Ctx, dtype: np.dtype):
    """The lumina dtype of a NumPy one, or a LuminaOnnxError naming the node."""
    try:
        return to_dtype(dtype)
    except Exception:
        raise ctx.error(f"dtype {dtype} is not supported") from None


def axis_of(ctx: Ctx, axis, rank: int, what: str = "axis", *, upper: int | None = None) -> int:
    """``axis`` counted from 0: ONNX takes an axis in ``[-rank, rank - 1]``, a negative one counting
    from the end (``upper``: a larger last value, as Flatten's ``axis`` in ``[-rank, rank]``).

    Raises LuminaOnnxError naming the node, the attribute (``what``), its value and the range."""
    last = rank - 1 if upper is None else upper
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis <= last:
        raise ctx.error(f"{what}={axis!r} is out of range for an input of rank {rank}: ONNX takes "
                        f"{what} in [{-rank}, {last}]")
    return int(axis) % rank if axis < 0 else int(axis)


def axes_index(ctx: Ctx, axes, rank: int, what: str = "axes", *, unique: bool = False,
               rank_of: str = "the input") -> list[int]:
    """Each of ``axes`` counted from 0 (see ``axis_of``); ``unique``: a repeated axis is an error
    (Unsqueeze, where it would change the output's rank), else repeats are kept as given.
    ``rank_of`` names whose rank ``rank`` is, for the message."""
    axes = list(axes)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -rank <= a < rank:
            raise ctx.error(f"{what}={axes} holds {a}, out of range for {rank_of} of rank {rank}: ONNX takes "
                            f"each axis in [{-rank}, {rank - 1}]")
        out.append(int(a) % rank)
    if unique and len(set(out)) != len(out):
        raise ctx.error(f"{what}={axes} names an axis twice (rank {rank})")
    return out


def permutation(ctx: Ctx, perm, rank: int, what: str = "perm") -> list[int]:
    """``perm`` checked to be a permutation of ``0 .. rank - 1`` (Transpose; ONNX Runtime refuses
    negative entries too)."""
    perm = list(perm)
    if len(perm) != rank or sorted(perm) != list(range(rank)):
        raise ctx.error(f"{what}={perm} is not a permutation of the {rank} axes of an input of rank {rank} "
                        f"(each of 0 .. {rank - 1} once)")
    return [int(p) for p in perm]


def axes_of(ctx, xs, attrs, rank: int, *, unique: bool = False, rank_of: str = "the input") -> list[int] | None:
    """``axes`` from the attribute (older opsets) or the second input (newer ones), counted from 0
    and checked against ``rank`` (``axes_index``)."""
    if len(xs) > 1 and xs[1] is not None:
        return axes_index(ctx, ints(ctx, xs[1], "axes"), rank, unique=unique, rank_of=rank_of)
    if "axes" in attrs:
        return axes_index(ctx, attrs["axes"], rank, unique=unique, rank_of=rank_of)
    return None


MAX_CONSTANT_BYTES = 1 << 32
"""The largest array (4 GiB) the importer builds while tracing (ConstantOfShape, Range, Tile, Expand
of known values...): a bigger one is a model error, not an allocation to attempt."""


def check_constant(ctx: Ctx, shape, dtype, what: str = "the output") -> tuple[int, ...]:
    """``shape`` (non-negative sizes) for a known array of ``dtype`` of at most
    ``MAX_CONSTANT_BYTES``; LuminaOnnxError naming the node, the shape and the byte count."""
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ctx.error(f"{what} would have shape {list(shape)}: sizes must not be negative")
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if size > MAX_CONSTANT_BYTES:
        raise ctx.error(f"{what} would be a constant of shape {list(shape)} {np.dtype(dtype)}: {size} bytes, "
                        f"more than the {MAX_CONSTANT_BYTES} bytes lumina computes while importing")
    return shape
