"""lumina's SSA graph IR: values, nodes, graphs, the primitive set, text form and verifier."""
from .dtypes import DType, promote, to_dtype
from .graph import Graph, Node, Value, emit, topo_sort
from .ops import Kind, Op, infer_type
from .parser import parse
from .printer import print_graph
from .types import TensorType
from .verify import verify

__all__ = ["DType", "Graph", "Kind", "Node", "Op", "TensorType", "Value", "emit", "infer_type",
           "parse", "print_graph", "promote", "to_dtype", "topo_sort", "verify"]
