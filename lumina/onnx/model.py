"""``lumina.onnx.load``: an ONNX model as a compiled lumina function.

The graph is imported by tracing: ``@lumina.compile`` calls a function that walks the ONNX nodes in
order and applies each one's handler (``onnx.ops``) to lumina tensors, so the imported model goes
through the ordinary pipeline (passes, fusion, LLVM) and is cached per input signature: a dim the
model names (``batch``, ``sequence``) or leaves unknown is symbolic in lumina too (``ir.symbolic``;
sizes 0 and 1 are compiled apart), so one executable serves its sizes, unless the model needs such
a size as a number (then it is compiled per size, as ``lumina.compile`` does). Float
initializers become lumina tensors bound once (the compiled step reads them as captured inputs);
integer initializers and ``Constant`` outputs stay NumPy arrays, known while tracing, so that shape
arithmetic folds away.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..compiled import compile as lumina_compile
from ..errors import LuminaError, LuminaOnnxError
from ..ir.symbolic import Sym
from ..tensor import Tensor
from .ops import HANDLERS, Ctx, NeedsValue
from .dtypes import check_operands, conform_outputs, narrow_array, narrows, node_types, value_types, widen_array
from .ops.registry import static
from ..progress import progress


def load(model, device: str = "cpu") -> "OnnxModel":
    """Import ``model`` (a path to a ``.onnx`` file, its bytes, or an ``onnx.ModelProto``) for
    ``device`` ("cpu"). External data files (``.onnx.data``) next to the model are read.

    Raises LuminaOnnxError for a file that is not a readable ONNX model, an opset version outside
    the ones ONNX defines, a node that fails ``onnx.checker.check_node`` (attributes and arity against
    the op's schema), a graph that uses an op lumina does not import (naming every such node), or a
    device other than "cpu"."""
    if device != "cpu":
        raise LuminaOnnxError(f"load: device {device!r} is not available; lumina's ONNX models run on 'cpu'")
    proto = read_model(model)
    _check_versions(proto)
    proto = _inline_functions(proto)
    _check_nodes(proto)
    return OnnxModel(proto)


def _inline_functions(proto):
    """Calls of model-local functions (``ModelProto.functions``, which exporters emit for custom
    blocks) replaced by their bodies, by ``onnx.inliner``."""
    if not proto.functions:
        return proto
    import onnx.inliner
    try:
        return onnx.inliner.inline_local_functions(proto)
    except Exception as e:   # a malformed function body
        raise LuminaOnnxError(f"load: model-local functions cannot be inlined ({type(e).__name__}: "
                              f"{str(e).strip()[:300]})") from None


def _all_nodes(graph):
    """The graph's nodes and, depth first, those of their subgraphs (``If`` branches)."""
    for node in graph.node:
        yield node
        for a in node.attribute:
            if a.HasField("g"):
                yield from _all_nodes(a.g)


SUBGRAPH_OPS = {"If"}   # imported by the model itself (they run subgraphs), not by a handler


def imports_op(op_type: str) -> bool:
    """Whether lumina imports ONNX operator ``op_type`` (of the default domain)."""
    return op_type in HANDLERS or op_type in SUBGRAPH_OPS


_INT32_MAX = 2**31 - 1


def _check_versions(proto) -> None:
    """The model's IR version and opset imports against what ONNX defines, as ONNX Runtime checks
    them when it loads a model: an ``ai.onnx`` opset from 1 to the newest that the installed ``onnx``
    knows (``onnx.defs.onnx_opset_version()``; a newer one may change an op's meaning), any other
    domain's version positive, and each number one the checker can read (a 32-bit int)."""
    import onnx.defs
    newest = onnx.defs.onnx_opset_version()
    if not 0 <= proto.ir_version <= _INT32_MAX:
        raise LuminaOnnxError(f"load: ir_version {proto.ir_version} is not an ONNX IR version")
    for o in proto.opset_import:
        domain = o.domain or "ai.onnx"
        if domain == "ai.onnx" and not 1 <= o.version <= newest:
            raise LuminaOnnxError(f"load: opset_import {domain} version {o.version} is not one ONNX defines: "
                                  f"lumina imports ai.onnx opsets 1 to {newest} (onnx {onnx.__version__})")
        if not 1 <= o.version <= _INT32_MAX:
            raise LuminaOnnxError(f"load: opset_import {domain} version {o.version} is not a valid opset "
                                  f"version (1 to {_INT32_MAX})")


def _check_nodes(proto) -> None:
    """Every node against its op's schema (attribute names and types, input and output counts),
    as ONNX Runtime validates a graph before running it."""
    import onnx.checker as checker
    ctx = checker.C.CheckerContext()
    ctx.ir_version = proto.ir_version
    ctx.opset_imports = {o.domain: o.version for o in proto.opset_import}
    for i, node in enumerate(_all_nodes(proto.graph)):
        if node.op_type not in HANDLERS:   # unsupported ones are reported when the model is built;
            continue                       # If is checked node by node (its branches see outer names)
        try:
            checker.check_node(node, ctx)
        except (checker.ValidationError, UnicodeDecodeError) as e:   # the latter: corrupt strings
            raise LuminaOnnxError(f"load: node {node.name or f'#{i}'!r} ({node.op_type}) is not valid ONNX: "
                                  f"{str(e).strip().splitlines()[0][:300]}") from None


def read_model(model):
    """``model`` (a path, bytes or an ``onnx.ModelProto``) as a ``ModelProto``; raises
    LuminaOnnxError for a missing file or bytes that are not an ONNX model."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    try:
        if isinstance(model, (bytes, bytearray)):
            return onnx.load_from_string(bytes(model))
        return onnx.load(str(Path(model)))
    except FileNotFoundError:
        raise LuminaOnnxError(f"load: no such file {str(model)!r}") from None
    except Exception as e:   # protobuf's DecodeError, a truncated file, a bad external-data path
        raise LuminaOnnxError(f"load: {str(model)[:200]!r} is not a readable ONNX model "
                              f"({type(e).__name__}: {e})") from None


_FAST_SIGNATURES = 64   # input signatures whose shortcut a model keeps


def _no_shortcut(arrays) -> None:
    """The shortcut of a signature the compiled call cannot shorten: always the full call."""
    return None


class OnnxModel:
    """A loaded ONNX model. ``model(*arrays)`` or ``model(**{input_name: array})`` runs it and
    returns ``{output_name: np.ndarray}`` in graph-output order. Inputs are checked against the
    graph's declared dtypes and ranks (LuminaOnnxError names the input and what was expected)."""

    def __init__(self, proto):
        from onnx import numpy_helper

        self.proto = proto
        graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        unsupported = [f"{n.name or '<unnamed>'} ({n.op_type})" for n in _all_nodes(graph)
                       if not imports_op(n.op_type) or n.domain not in ("", "ai.onnx")]
        if unsupported:
            raise LuminaOnnxError(f"load: {len(unsupported)} node(s) use ops lumina does not import: "
                                  + ", ".join(unsupported[:20]) + (" ..." if len(unsupported) > 20 else ""))
        self._initializers = {}
        for init in graph.initializer:
            try:
                array = widen_array(numpy_helper.to_array(init))   # int8 as int32, float8 as float32...
            except Exception as e:   # data that does not fill its dims, an unknown data type
                raise LuminaOnnxError(f"load: initializer {init.name!r} cannot be read ({type(e).__name__}: "
                                      f"{e})") from None
            if array.dtype.kind == "f":
                array = array.astype(np.float32) if array.dtype == np.float64 else array
                # frozen: a model never changes its weights, so compiled GEMMs pack them once
                self._initializers[init.name] = Tensor._from_array(np.ascontiguousarray(array), frozen=True)
            else:
                self._initializers[init.name] = array
        self.input_names = [i.name for i in graph.input if i.name not in self._initializers]
        self.output_names = [o.name for o in graph.output]
        self._declared = {i.name: i.type.tensor_type for i in graph.input}
        self._types = value_types(proto)   # ONNX element type of every value (onnx.dtypes)
        self._dtypes = {name: _input_dtype(name, self._declared[name]) for name in self.input_names}
        self._by_value: set[str] = set()   # inputs the graph needs the values of (shapes, axes)
        # per input: (name, dtype, declared rank or None, {axis: fixed size}), read once here, not
        # from the protobuf at every call; a negative size (-1, as some exporters write) is unknown,
        # as ONNX Runtime reads it, and 0 is a size
        self._checks = [(name, self._dtypes[name], len(t.shape.dim) if t.HasField("shape") else None,
                         {i: d.dim_value for i, d in enumerate(t.shape.dim)
                          if d.HasField("dim_value") and d.dim_value >= 0})
                        for name, t in ((n, self._declared[n]) for n in self.input_names)]
        self._output_types = [self._types.get(name, 0) for name in self.output_names]
        self._narrowed = any(map(narrows, self._output_types))   # an output narrow_array converts
        self._compiled = lumina_compile(self._trace)
        for i, (_, _, rank, fixed) in enumerate(self._checks):   # named and unknown dims: symbolic
            if rank:
                self._compiled.mark_dynamic(i, {a for a in range(rank) if a not in fixed})
        # per (named?, (dtype, shape) of each input): the compiled call's shortcut for arrays that
        # passed _bind unchanged before (``CompiledFunction.frozen_host_call``; the weights are frozen)
        self._fast: dict = {}

    def __call__(self, *arrays, **named) -> dict[str, np.ndarray]:
        given = self._given(arrays, named)
        key = None if given is None else (bool(named), *[(a.dtype, a.shape) for a in given])
        fast = self._fast.get(key)
        outs = fast(given) if fast is not None else None
        if outs is None:
            inputs = self._bind(arrays, named)
            outs = [o if type(o) is np.ndarray else np.asarray(o) for o in self._run(inputs)]
            if key is not None and fast is None and not self._by_value and all(i is a for i, a in zip(inputs, given)):
                if len(self._fast) >= _FAST_SIGNATURES:
                    self._fast.clear()
                self._fast[key] = self._compiled.frozen_host_call(*inputs) or _no_shortcut
        if self._narrowed:
            outs = [narrow_array(o, elem) for o, elem in zip(outs, self._output_types)]
        return dict(zip(self.output_names, outs))

    def _given(self, arrays, named) -> list | tuple | None:
        """The inputs in the graph's order when they are exactly its inputs and all NumPy arrays
        (a call the shortcut can serve), else None."""
        if named:
            if arrays or len(named) != len(self.input_names):
                return None
            try:
                arrays = [named[n] for n in self.input_names]
            except KeyError:
                return None
        if len(arrays) != len(self.input_names):
            return None
        for a in arrays:
            if type(a) is not np.ndarray:
                return None
        return arrays

    @property
    def input_specs(self) -> dict[str, tuple[np.dtype, list]]:
        """``{input name: (dtype, dims)}``; a symbolic dim is its name (a str), an unknown one "?"."""
        return {n: (self._dtypes[n], _dims(self._declared[n].shape.dim)) for n in self.input_names}

    def _args(self, inputs: list[np.ndarray]) -> list:
        """The compiled function's arguments: arrays, or for inputs needed by value, their value
        (a static argument: the function is specialised, and cached, per value)."""
        return [_Known(a) if name in self._by_value else a for name, a in zip(self.input_names, inputs)]

    def _run(self, inputs: list[np.ndarray]):
        while True:
            try:
                return self._compiled.run_host(*self._args(inputs))
            except NeedsValue as e:
                if e.name in self._by_value:
                    raise
                self._by_value.add(e.name)
                self._fast.clear()   # a shortcut serves only a model needing no input by value

    def _bind(self, arrays, named) -> list[np.ndarray]:
        if arrays and named:
            raise LuminaOnnxError("call: pass the inputs either by position or by name, not both")
        if named:
            missing = [n for n in self.input_names if n not in named]
            unknown = [n for n in named if n not in self.input_names]
            if missing or unknown:
                raise LuminaOnnxError(f"call: missing inputs {missing}, unknown inputs {unknown}; "
                                      f"the graph's inputs are {self.input_names}")
            arrays = [named[n] for n in self.input_names]
        if len(arrays) != len(self.input_names):
            raise LuminaOnnxError(f"call: {len(arrays)} inputs given, the graph takes {len(self.input_names)} "
                                  f"({self.input_names})")
        out = []
        for (name, want, rank, fixed), a in zip(self._checks, arrays):
            if type(a) is not np.ndarray:
                a = np.asarray(a)
            if a.dtype != want:
                raise LuminaOnnxError(f"input {name!r}: dtype {a.dtype}, expected {want}")
            if rank is not None:
                expected = lambda: _dims(self._declared[name].shape.dim)   # noqa: E731 (for the message)
                if a.ndim != rank:
                    raise LuminaOnnxError(f"input {name!r}: rank {a.ndim} (shape {list(a.shape)}), expected "
                                          f"rank {rank} ({expected()})")
                if any(a.shape[i] != n for i, n in fixed.items()):
                    raise LuminaOnnxError(f"input {name!r}: shape {list(a.shape)}, expected {expected()}")
            wide = widen_array(a)   # int8 as int32, float8 as float32...
            if wide is not a or not a.flags.c_contiguous:
                a = np.ascontiguousarray(wide).reshape(a.shape)   # keeps 0-d arrays 0-d
            out.append(a)
        return out

    def _trace(self, *inputs):
        env: dict = dict(self._initializers)
        inputs = [a.value if isinstance(a, _Known) else a for a in inputs]
        env.update(zip(self.input_names, inputs))
        graph_inputs = {id(t._value): n for n, t in zip(self.input_names, inputs) if isinstance(t, Tensor)}
        self._run_nodes(self.proto.graph.node, env, graph_inputs)
        missing = [n for n in self.output_names if n not in env]
        if missing:
            raise LuminaOnnxError(f"graph outputs {missing} are not produced by any node, input or initializer")
        return tuple(env[n] for n in self.output_names)

    def _run_nodes(self, nodes, env: dict, graph_inputs: dict, prefix: str = "") -> None:
        """Apply each node's handler in order, reading and extending ``env`` (name -> value)."""
        for i, node in enumerate(progress(nodes, "import", unit="node") if not prefix else nodes):
            ctx = Ctx(node.name or f"{prefix}#{i}", node.op_type, self.opset, len(node.output), graph_inputs,
                      **node_types(self._types, node))
            try:
                xs = [env[n] if n else None for n in node.input]
            except KeyError as e:
                raise ctx.error(f"input {e.args[0]!r} is not produced by any earlier node") from None
            if node.op_type == "If":
                outs = self._guarded(ctx, node, xs, lambda: self._if(ctx, node, xs, env, graph_inputs))
            else:
                outs = self._guarded(ctx, node, xs, lambda: self._apply(ctx, node, xs))
            wanted = [i for i, name in enumerate(node.output) if name]
            if wanted and wanted[-1] >= len(outs):
                raise ctx.error(f"output {wanted[-1]} ({node.output[wanted[-1]]!r}) is not supported; lumina "
                                f"computes the first {len(outs)} output(s) of {ctx.op_type}")
            env.update(zip(node.output, (np.asarray(o) if isinstance(o, np.generic) else o for o in outs)))

    def _apply(self, ctx: Ctx, node, xs: list) -> list:
        """The node's handler applied to ``xs``."""
        attrs = {a.name: _attribute(a) for a in node.attribute}
        check_operands(ctx)
        outs = HANDLERS[node.op_type](ctx, xs, attrs)
        # a known value picked out of a symbolic Shape (an object array) is a 0-d array, as any
        # known value is
        outs = [_known(o) for o in outs]
        return conform_outputs(ctx, outs)

    @staticmethod
    def _guarded(ctx: Ctx, node, xs: list, run) -> list:
        """``run()``, importing the node. Whatever it raises reaches the caller as a
        LuminaOnnxError naming the node: a lumina error with the node and input types added, and any
        other exception (NumPy's ``AxisError`` on an attribute no check caught, a ``MemoryError``, a
        handler bug) chained, so a model never ends in a bare Python exception. ``NeedsValue``
        (specialise and trace again) passes through."""
        try:
            return run()
        except (LuminaOnnxError, NeedsValue):
            raise
        except LuminaError as e:
            raise LuminaOnnxError(f"node {ctx.name!r} ({ctx.op_type}): {e} (inputs "
                                  f"{[_describe(x) for x in xs]})") from None
        except Exception as e:   # noqa: BLE001 (the safety net: see the docstring)
            detail = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
            raise LuminaOnnxError(f"node {ctx.name!r} ({ctx.op_type}): cannot be imported for inputs "
                                  f"{[_describe(x) for x in xs]} and attributes {_describe_attributes(node)}: "
                                  f"{type(e).__name__}{': ' + detail if detail else ''}") from e

    def _if(self, ctx: Ctx, node, xs: list, env: dict, graph_inputs: dict) -> list:
        """``If`` whose condition is known while tracing (a constant, or computed from shapes): the
        taken branch is imported in place, seeing the enclosing scope's values, as ONNX Runtime's
        constant folding leaves it. A condition computed from data is refused."""
        cond = static(ctx, xs[0], "the condition")
        if cond.size != 1:
            raise ctx.error(f"the condition has {cond.size} elements; If takes a single boolean")
        branch = next(a.g for a in node.attribute if a.name == ("then_branch" if bool(cond.reshape(())) else "else_branch"))
        inner = dict(env)
        self._run_nodes(branch.node, inner, graph_inputs, prefix=f"{ctx.name}/")
        try:
            return [inner[o.name] for o in branch.output]
        except KeyError as e:
            raise ctx.error(f"branch output {e.args[0]!r} is not produced in the branch") from None

    def ir(self, *arrays, **named) -> str:
        """The imported IR and the IR after lumina's passes, for inputs shaped like ``arrays``."""
        inputs = self._bind(arrays, named)
        self._run(inputs)
        lowered = self._compiled.lower(*self._args(inputs))
        return (f"# imported\n{lowered.as_text('input')}\n# optimized\n{lowered.as_text('optimized')}")


def _input_dtype(name: str, t) -> np.dtype:
    """The NumPy dtype a graph input declares; LuminaOnnxError for none or an unknown one."""
    from onnx.helper import tensor_dtype_to_np_dtype
    try:
        return np.dtype(tensor_dtype_to_np_dtype(t.elem_type))
    except Exception:   # UNDEFINED (0), a sequence/map type, a number no dtype has
        raise LuminaOnnxError(f"load: input {name!r} declares no tensor element type lumina reads "
                              f"(elem_type {t.elem_type})") from None


class _Known:
    """An input array passed by value: hashable, so ``@lumina.compile`` specialises on it."""
    def __init__(self, value: np.ndarray):
        self.value = value
        self._key = (value.dtype.str, value.shape, value.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _Known) and self._key == other._key


def _attribute(a):
    from onnx import helper
    v = helper.get_attribute_value(a)
    return v.decode() if isinstance(v, bytes) else v


def _dims(dims) -> list:
    return [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else (d.dim_param or "?") for d in dims]


def _describe_attributes(node, limit: int = 300) -> str:
    """``{name: value}`` of the node's scalar and list attributes (tensors and graphs by kind), cut
    to ``limit`` characters."""
    from onnx import AttributeProto
    kinds = {AttributeProto.TENSOR: "<tensor>", AttributeProto.GRAPH: "<graph>", AttributeProto.TENSORS: "<tensors>",
             AttributeProto.GRAPHS: "<graphs>", AttributeProto.SPARSE_TENSOR: "<sparse tensor>"}
    parts = []
    for a in node.attribute:
        if a.type in kinds:
            parts.append(f"{a.name}={kinds[a.type]}")
            continue
        try:
            parts.append(f"{a.name}={_attribute(a)!r}")
        except Exception:   # noqa: BLE001 (bytes that are not UTF-8)
            parts.append(f"{a.name}=<unreadable>")
    text = "{" + ", ".join(parts) + "}"
    return text if len(text) <= limit else text[:limit - 4] + " ...}"


def _known(x):
    """A handler's output with known sizes made uniform: a bare size (a ``Sym`` or an int picked
    out of a symbolic Shape) as a 0-d array, an object array without symbols as int64 (or bool)."""
    if isinstance(x, Sym):
        return np.array(x, dtype=object)
    if type(x) is int:
        return np.array(x, dtype=np.int64)
    if isinstance(x, np.ndarray) and x.dtype == object and not any(isinstance(v, Sym) for v in x.flat):
        return x.astype(bool if all(isinstance(v, (bool, np.bool_)) for v in x.flat) and x.size else np.int64)
    return x


def _describe(x) -> str:
    if x is None:
        return "none"
    if not hasattr(x, "shape"):   # a bare value (a symbolic size)
        return f"{type(x).__name__}({x})"
    dtype = x.dtype if isinstance(x, np.ndarray) else x.dtype.name
    return f"{dtype}{list(x.shape)}"
