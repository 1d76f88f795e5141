"""``lumina.save`` / ``lumina.load``: tensors and state dicts in the safetensors format
(https://huggingface.co/docs/safetensors), and ``torch.save`` checkpoints read through torch.

A file holds the tensors of ``obj`` under flat names; a state dict ``{str: Tensor}`` is stored under
its own keys, so ``safetensors.torch.load_file`` reads a lumina checkpoint as the same state dict
and a file that ``safetensors.torch.save_file`` wrote loads here. Nested dicts, lists and tuples
(an optimizer's ``state_dict()``, with int keys and Python numbers) are stored too: their tensors
under dotted paths (``state.0.exp_avg``) and the structure as JSON in the header's
``__metadata__`` (key ``lumina.structure``); another reader sees the tensors only.

Semantics follow ``torch.save`` / ``torch.load`` (https://pytorch.org/docs/2.13/generated/torch.load.html)
where a checkpoint's contents allow: tensors, numbers, strings, None, and containers of them.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import struct

import ml_dtypes
import numpy as np

from .errors import LuminaError, LuminaTypeError, LuminaValueError
from .tensor import Tensor, tensor

_META_KEY = "lumina.structure"
# safetensors dtype codes <-> the NumPy dtypes of lumina's element types.
_CODES = {"BOOL": np.dtype(np.bool_), "I32": np.dtype(np.int32), "I64": np.dtype(np.int64),
          "F16": np.dtype(np.float16), "BF16": np.dtype(ml_dtypes.bfloat16), "F32": np.dtype(np.float32),
          "F64": np.dtype(np.float64)}
_NAMES = {"BOOL": "bool", "I32": "int32", "I64": "int64", "F16": "float16", "BF16": "bfloat16",
          "F32": "float32", "F64": "float64"}


def _where(f) -> str:
    return repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else f"<{type(f).__name__}>"


def _host(value: Tensor | np.ndarray | np.generic) -> np.ndarray:
    arr = np.asarray(value.detach().numpy() if isinstance(value, Tensor) else value)
    if arr.dtype not in _CODES.values():
        raise LuminaTypeError(f"dtype {arr.dtype} is not one of lumina's ({', '.join(_NAMES.values())})")
    return np.require(arr, requirements="C")   # not ascontiguousarray: it makes a 0-d array 1-d


def _flatten(obj, path: list, tensors: dict):
    """``obj`` -> its JSON skeleton; its tensors are entered in ``tensors`` under dotted paths."""
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        name = ".".join(path) or "tensor"
        while name in tensors:   # distinct paths can join to one name ("a.b" vs "a" -> "b")
            name += "_"
        tensors[name] = _host(obj)
        return {"tensor": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise LuminaTypeError(f"key {k!r} at {'.'.join(path) or 'the top level'}: dict keys must be "
                                      "str or int")
            items.append([k, _flatten(v, path + [str(k)], tensors)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, path + [str(i)], tensors) for i, v in enumerate(obj)]
        return {"tuple": items} if isinstance(obj, tuple) else {"list": items}
    raise LuminaTypeError(f"value at {'.'.join(path) or 'the top level'} is a {type(obj).__name__}; a checkpoint "
                          "holds tensors, NumPy arrays, numbers, strings, None and dicts / lists / tuples of them")


def _is_flat_state_dict(obj) -> bool:
    return isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, (Tensor, np.ndarray))
                                         for k, v in obj.items())


def save(obj, f, pickle_module=pickle, pickle_protocol: int = 2, _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False) -> None:
    """Write ``obj`` (a tensor, or a dict / list / tuple of tensors, NumPy arrays, numbers, strings
    and None) to ``f`` (a path or a binary file object) in the safetensors format.

    A ``{str: Tensor}`` state dict keeps its keys as the tensor names; a single tensor is named
    ``"tensor"``. Every lumina dtype round-trips bit for bit (bool, int32, int64, float16, bfloat16,
    float32, float64). The pickle and zip-file arguments are torch's; no pickle is written, and they
    are accepted and have no effect. Raises LuminaTypeError naming the entry and the file for a value
    that is none of these, and LuminaError naming the file when it cannot be written.
    """
    from safetensors import TensorSpec, serialize
    where = _where(f)
    tensors: dict[str, np.ndarray] = {}
    try:
        skeleton = (None if _is_flat_state_dict(obj) else _flatten(obj, [], tensors))
        if skeleton is None:
            tensors = {k: _host(v) for k, v in obj.items()}
            skeleton = {"dict": [[k, {"tensor": k}] for k in obj]}
    except LuminaTypeError as e:
        raise LuminaTypeError(f"save: {where}: {e}") from None
    specs = {k: TensorSpec(dtype=str(a.dtype), shape=a.shape, data_ptr=a.ctypes.data, data_len=a.nbytes)
             for k, a in tensors.items()}
    data = bytes(serialize(specs, metadata={_META_KEY: json.dumps(skeleton)}))
    try:
        if hasattr(f, "write"):
            f.write(data)
        else:
            with open(f, "wb") as out:
                out.write(data)
    except OSError as e:
        raise LuminaError(f"save: cannot write {where}: {e}") from None


def _header(data: bytes, where: str) -> dict:
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        assert isinstance(header, dict)
        return header
    except Exception:
        raise LuminaError(f"load: {where} is neither a safetensors file nor a torch.save checkpoint "
                          "(its header cannot be read)") from None


def _load_safetensors(data: bytes, where: str):
    from safetensors import SafetensorError, deserialize
    header = _header(data, where)
    try:
        views = deserialize(data)
    except SafetensorError as e:
        raise LuminaError(f"load: {where} is not a valid safetensors file: {e}") from None
    tensors = {}
    for name, view in views:
        if view["dtype"] not in _CODES:
            raise LuminaTypeError(f"load: {where}: tensor {name!r} has dtype {view['dtype']}, which lumina does not "
                                  f"have ({', '.join(_NAMES.values())})")
        arr = np.frombuffer(view["data"], dtype=_CODES[view["dtype"]]).reshape(view["shape"])
        tensors[name] = tensor(arr.copy())
    skeleton = header.get("__metadata__", {}).get(_META_KEY)
    if skeleton is None:   # another writer: its tensors, in file order
        order = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
        return {k: tensors[k] for k in order}
    try:
        return _unflatten(json.loads(skeleton), tensors)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise LuminaError(f"load: {where}: its {_META_KEY} metadata is corrupt ({type(e).__name__}: {e})") from None


def _unflatten(node, tensors: dict):
    if not isinstance(node, dict):
        return node
    if "tensor" in node:
        return tensors[node["tensor"]]
    if "dict" in node:
        return {k: _unflatten(v, tensors) for k, v in node["dict"]}
    items = [_unflatten(v, tensors) for v in node.get("list", node.get("tuple", []))]
    return tuple(items) if "tuple" in node else items


def _from_torch(obj):
    """torch tensors (any nesting) -> lumina tensors; bfloat16 through its bits."""
    import torch
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            return tensor(t.view(torch.int16).numpy().view(ml_dtypes.bfloat16).copy())
        return tensor(t.numpy().copy())
    if isinstance(obj, dict):
        return {k: _from_torch(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_from_torch(v) for v in obj) if type(obj) in (list, tuple) else obj
    return obj


def _load_torch(data: bytes, where: str):
    try:
        import torch
    except ImportError:
        raise LuminaError(f"load: {where} is a torch.save checkpoint; reading it needs PyTorch "
                          "(pip install torch)") from None
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:
        raise LuminaError(f"load: {where}: torch.load(weights_only=True) cannot read it: {e}") from None
    try:
        return _from_torch(obj)
    except LuminaError as e:
        raise type(e)(f"load: {where}: {e}") from None


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None, mmap: bool | None = None,
         **pickle_load_args):
    """Read what ``save`` wrote to ``f`` (a path or a binary file object): tensors come back as
    lumina tensors of the saved dtypes, containers and numbers as saved (tuples stay tuples, int
    keys stay ints). A safetensors file from another writer loads as ``{name: Tensor}`` in file
    order. A ``torch.save`` checkpoint (its zip format) is read with ``torch.load(weights_only=True,
    map_location="cpu")`` when PyTorch is installed, and its torch tensors become lumina tensors.

    ``map_location`` may be None or ``"cpu"``; ``weights_only`` None or True (no pickle of
    arbitrary objects is ever run); ``pickle_module``, ``mmap`` and ``pickle_load_args`` are
    torch's and are ignored. Raises LuminaError naming the file when it is missing, unreadable,
    corrupt or a torch checkpoint without torch installed; LuminaTypeError for a tensor whose
    dtype lumina does not have (uint8, int8, int16, float8, ...); LuminaValueError for other
    ``map_location`` / ``weights_only`` values.
    """
    where = _where(f)
    if map_location not in (None, "cpu"):
        raise LuminaValueError(f"load: {where}: map_location={map_location!r}; lumina loads to the host "
                               "(None or 'cpu'); move tensors with .to(device) afterwards")
    if weights_only is False:
        raise LuminaValueError(f"load: {where}: weights_only=False (unpickling arbitrary objects) is not supported")
    try:
        if hasattr(f, "read"):
            data = f.read()
        else:
            with open(f, "rb") as src:
                data = src.read()
    except OSError as e:
        raise LuminaError(f"load: cannot read {where}: {e}") from None
    if data[:4] == b"PK\x03\x04":   # torch.save's zip container
        return _load_torch(data, where)
    return _load_safetensors(data, where)
