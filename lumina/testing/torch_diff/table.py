"""The table: ``OPS``, one ``OpSpec`` per namesake (``name#variant`` for further rows), assembled from
the op families of ``ops``; ``EXCLUDED``, the namesakes not run, each with its reason; and
``coverage``, which checks that every namesake is one or the other."""
from __future__ import annotations

from ..namesakes import namesakes
from .ops import (aliases, autograd, conversions, creation, distances, elementwise, functional, indexing, inplace,
                  linalg, modules, parameters, random, recurrent, reductions, shapes, sorting, vision)
from .ops import elementwise_more
from .spec import OpSpec, namesake_of

FAMILIES = (elementwise, elementwise_more, linalg, reductions, sorting, shapes, indexing, random, creation, distances, conversions,
            autograd, inplace, functional, modules, vision, recurrent, parameters, aliases)
"""The op families whose ``specs()`` make up the table."""


def _build() -> dict[str, OpSpec]:
    table = {}
    for family in FAMILIES:
        for s in family.specs():
            if s.name in table:
                raise ValueError(f"torch_diff: two specs named {s.name}")
            table[s.name] = s
    return table


OPS: dict[str, OpSpec] = _build()
"""The table: spec name -> ``OpSpec``. A name with ``#`` (``lumina.var#positional``) is a further
spec of the namesake before it."""


EXCLUDED: dict[str, str] = {
    "lumina.Tensor": "the class; its methods are the Tensor.* rows (torch.Tensor(...) is a legacy constructor; "
                     "use lumina.tensor)",
    "lumina.bfloat16": "a dtype object: every row compares result dtypes by name",
    "lumina.bool": "a dtype object: every row compares result dtypes by name",
    "lumina.float16": "a dtype object: every row compares result dtypes by name",
    "lumina.float32": "a dtype object: every row compares result dtypes by name",
    "lumina.float64": "a dtype object: every row compares result dtypes by name",
    "lumina.int32": "a dtype object: every row compares result dtypes by name",
    "lumina.int64": "a dtype object: every row compares result dtypes by name",
    "lumina.long": "a dtype object (lumina.int64): every row compares result dtypes by name",
    "lumina.int": "a dtype object (lumina.int32): every row compares result dtypes by name",
    "lumina.float": "a dtype object (lumina.float32): every row compares result dtypes by name",
    "lumina.double": "a dtype object (lumina.float64): every row compares result dtypes by name",
    "lumina.half": "a dtype object (lumina.float16): every row compares result dtypes by name",
    "lumina.compile": "a compiler entry point, not an op (torch.compile shares the name only); tests/test_compile.py",
    "lumina.autocast": "a context manager; mixed precision is tested in tests/test_amp.py",
    "lumina.manual_seed": "seeds lumina's own generator; its streams differ from torch's by design",
    "lumina.save": "file I/O, not an op: checked against safetensors.torch in tests/test_serialization.py",
    "lumina.load": "file I/O, not an op: safetensors / torch.save files in tests/test_serialization.py",
    "Tensor.__deepcopy__": "copying, not an op: tests/test_tensor_pickle.py compares deepcopy and pickle with torch's",
    "Tensor.cuda": "needs a GPU; device moves are tested in tests/test_devices.py and tests/test_gpu.py",
    "nn.Module": "the base class; layers built on it are rows here, its methods are in the signature check",
    "nn.ModuleList": "a container without a forward; tests/test_nn_layers.py",
    "nn.ModuleDict": "a container without a forward; tests/test_nn_module_api.py",
    "nn.ParameterDict": "a container without a forward; tests/test_nn_module_api.py",
    "nn.ParameterList": "a container without a forward; tests/test_nn_module_api.py",
}
for _family in FAMILIES:   # a family may exclude its own namesakes, next to its rows
    EXCLUDED.update(getattr(_family, "EXCLUDED", {}))
"""Namesakes not run by the harness, each with the reason: the ones above and each family's ``EXCLUDED``."""


def coverage() -> tuple[list[str], list[str], list[str]]:
    """(namesakes covered by a spec, excluded ones, ones in neither: these fail the coverage test)."""
    names = [n.name for n in namesakes()]
    specs = {namesake_of(s) for s in OPS}
    covered = [n for n in names if n in specs]
    excluded = [n for n in names if n in EXCLUDED and n not in specs]
    missing = [n for n in names if n not in specs and n not in EXCLUDED]
    return covered, excluded, missing
