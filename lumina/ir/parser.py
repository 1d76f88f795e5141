"""Read IR text (as printed by ``printer``) back into a ``Graph``; the inverse of ``print(graph)``."""
from __future__ import annotations

import ast
import base64
import re

import numpy as np

from ..errors import LuminaError, LuminaIRError
from .dtypes import from_short
from .graph import Graph, emit
from .ops import Op
from .symbolic import literal
from .types import TensorType

_NODE = re.compile(r"^(%\d+):(\w+)\[([^\]]*)\] = (\w+)((?: %\d+,?)*)(?: \{(.*)\})?$")
_RETURN = re.compile(r"^return\s*((?:%\d+(?:,\s*)?)*)(?:\s*#\s*args:\s*(.*))?$")


def _split_top(text: str) -> list[str]:
    """Split ``a=1, b=(1, 2)`` at the commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return parts


def _attr_value(key: str, text: str, op: Op, type: TensorType):
    text = text.strip()
    if key == "dtype":
        return from_short(text)
    if op is Op.CONST and key == "value":
        if text.startswith("b64'"):
            raw = base64.b64decode(text[4:-1])
            return np.frombuffer(raw, dtype=type.dtype.numpy).reshape(type.shape).copy()
        return np.array(ast.literal_eval(text), dtype=type.dtype.numpy).reshape(type.shape)
    if text in ("inf", "-inf", "nan"):
        return float(text)
    try:
        return ast.literal_eval(text)
    except ValueError:   # symbolic sizes (``ir.symbolic``): ``shape=(4*s0, 3)``, ``size=B*T``
        return literal(text)


def _dim(text: str):
    """A dim of a type: an int, or a symbolic size (``s0``, ``4*B``)."""
    text = text.strip()
    return int(text) if text.isdigit() else literal(text)


def _lookup(values: dict, token: str, line: str):
    name = token.strip()
    if name not in values:
        raise LuminaIRError(f"parse: {line!r}: {name} is used before it is defined")
    return values[name]


def parse(text: str) -> Graph:
    """Parse IR text into a Graph. Raises LuminaIRError naming the offending line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("graph ") or lines[-1] != "}":
        raise LuminaIRError("parse: expected 'graph NAME {' ... '}'")
    name = lines[0][len("graph "):].rstrip("{ ").strip()
    values, inputs, outputs = {}, [], None
    for ln in lines[1:-1]:
        if ln.startswith("return"):
            m = _RETURN.match(ln)
            if not m:
                raise LuminaIRError(f"parse: bad return line: {ln!r}")
            outputs = [_lookup(values, t, ln) for t in m.group(1).split(",") if t.strip()]
            if m.group(2):
                inputs = [_lookup(values, t, ln) for t in m.group(2).split(",") if t.strip()]
            continue
        m = _NODE.match(ln)
        if not m:
            raise LuminaIRError(f"parse: cannot read line: {ln!r}")
        res, dt, dims, opname, operands, attr_text = m.groups()
        if res in values:
            raise LuminaIRError(f"parse: {ln!r}: {res} is defined twice (IR values are SSA)")
        try:
            op = Op(opname)
            type = TensorType(tuple(_dim(d) for d in dims.split(",") if d.strip()), from_short(dt))
            args = [_lookup(values, t, ln) for t in operands.split(",") if t.strip()]
            attrs = {}
            for part in _split_top(attr_text or ""):
                key, _, val = part.partition("=")
                attrs[key.strip()] = _attr_value(key.strip(), val, op, type)
            given = type if op in (Op.INPUT, Op.CONST) else None
            v = emit(op, args, type=given, **attrs)
        except LuminaIRError:
            raise
        except (LuminaError, KeyError, ValueError, SyntaxError) as e:
            raise LuminaIRError(f"parse: {ln!r}: {e}") from None
        if v.type != type:
            raise LuminaIRError(f"parse: {ln!r}: declared {type} but the rule gives {v.type}")
        values[res] = v
    if outputs is None:
        raise LuminaIRError("parse: missing 'return' line")
    nodes = [v.node for v in values.values()]
    if not inputs:
        inputs = [n.out for n in nodes if n.op is Op.INPUT]
    return Graph(nodes, inputs, outputs, name)
