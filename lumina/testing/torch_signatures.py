"""lumina's public signatures against PyTorch 2.13's: for every callable lumina shares with torch
(``torch_diff.namesakes()``), the parameter names, order, kinds and defaults.

torch's side comes from ``inspect`` where torch's code is Python, else from the ``@overload`` lists
of torch 2.13's type stubs (``torch/_C/*.pyi``), recorded in ``tests/data/torch_signatures.json``
(``python tests/test_torch_signatures.py`` re-records it). ``compare_signature`` checks lumina's
signature against every overload; ``SIGNATURE_OMISSIONS`` (parameters lumina leaves out
everywhere), ``SIGNATURE_EXCLUDED`` and ``SIGNATURE_DIFFERENCES`` are the reviewed exceptions, each
with its reason (rendered into docs/torch_parity.md by ``torch_diff.write_docs``).
"""
from __future__ import annotations

import functools
import inspect
import types
import typing
from dataclasses import dataclass

import torch

import lumina

from .namesakes import Namesake, _public, namesakes

@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is "positional" (positional or keyword), "keyword" (keyword-only),
    "varargs" (``*name``) or "varkw" (``**name``); ``default`` the default's source text, None when
    required ("..." in a type stub: some default, not spelled out)."""
    name: str
    kind: str
    default: str | None = None

    def __str__(self) -> str:
        prefix = {"varargs": "*", "varkw": "**"}.get(self.kind, "")
        return prefix + self.name + ("" if self.default is None else f"={self.default}")


def render_signature(params: list[Param]) -> str:
    out, star = [], False
    for p in params:
        if p.kind == "keyword" and not star:
            out.append("*")
            star = True
        star = star or p.kind == "varargs"
        out.append(str(p))
    return f"({', '.join(out)})"


def parse_signature(text: str) -> list[Param]:
    """``"(input, dim=None, *, out=None)"`` -> params (the inverse of ``render_signature``)."""
    import ast
    fn = ast.parse(f"def f{text}: pass").body[0].args
    params = []
    pos = fn.posonlyargs + fn.args
    defaults = [None] * (len(pos) - len(fn.defaults)) + [ast.unparse(d) for d in fn.defaults]
    params += [Param(a.arg, "positional", d) for a, d in zip(pos, defaults)]
    if fn.vararg:
        params.append(Param(fn.vararg.arg, "varargs"))
    params += [Param(a.arg, "keyword", None if d is None else ast.unparse(d))
               for a, d in zip(fn.kwonlyargs, fn.kw_defaults)]
    if fn.kwarg:
        params.append(Param(fn.kwarg.arg, "varkw"))
    return params


_KINDS = {inspect.Parameter.POSITIONAL_ONLY: "positional", inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
          inspect.Parameter.KEYWORD_ONLY: "keyword", inspect.Parameter.VAR_POSITIONAL: "varargs",
          inspect.Parameter.VAR_KEYWORD: "varkw"}


def _default_text(v) -> str:
    import re
    if v is Ellipsis:
        return "..."
    if inspect.isfunction(v) or inspect.isbuiltin(v):
        return v.__name__      # a function default (Transformer's activation=F.relu) as its name, which parses
    text = v.__name__ if isinstance(v, type) else repr(v)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def signature_of(obj, drop_self: bool = False) -> list[Param] | None:
    """``obj``'s parameters by ``inspect.signature`` (a class: its constructor's), None when it has
    none that Python can see (a builtin)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [Param(p.name, _KINDS[p.kind], None if p.default is inspect.Parameter.empty else _default_text(p.default))
              for p in sig.parameters.values()]
    if drop_self and params and params[0].name == "self":
        params = params[1:]
    return params


def signature_namesakes() -> list[Namesake]:
    """The namesakes whose signatures are compared: the callables among ``namesakes()`` (operators
    and properties left out: Python calls those, not users), the optimizers, the learning-rate
    schedulers, and the methods of ``nn.Module`` and ``optim.Optimizer``."""
    out = []
    for n in namesakes():
        short = n.name.rpartition(".")[2]
        if short.startswith("__") or not callable(n.lumina) or isinstance(n.lumina, lumina.DType):
            continue
        if n.name.startswith("Tensor.") and isinstance(inspect.getattr_static(lumina.Tensor, short), property):
            continue
        if n.name == "lumina.Tensor":
            continue
        out.append(n)
    extra = (("optim", lumina.optim, torch.optim, lambda o: isinstance(o, type)),
             ("optim.lr_scheduler", lumina.optim.lr_scheduler, torch.optim.lr_scheduler,
              lambda o: isinstance(o, type) and o.__module__.startswith("lumina")),
             ("nn.Module", lumina.nn.Module, torch.nn.Module, callable),
             ("optim.Optimizer", lumina.optim.Optimizer, torch.optim.Optimizer, callable))
    for prefix, lns, tns, keep in extra:
        for name in _public(lns, dunders=False):
            obj = getattr(lns, name)
            if hasattr(tns, name) and keep(obj) and not isinstance(obj, types.ModuleType):
                out.append(Namesake(f"{prefix}.{name}", obj, getattr(tns, name)))
    return out


def torch_qualname(name: str) -> str:
    """The table's spelling of a namesake -> torch's ("F.relu" -> "torch.nn.functional.relu")."""
    head, _, rest = name.partition(".")
    return {"lumina": "torch", "Tensor": "torch.Tensor", "F": "torch.nn.functional", "nn": "torch.nn",
            "optim": "torch.optim"}[head] + "." + rest


_STUBS = {"torch": ("_C/_VariableFunctions.pyi",), "torch.Tensor": ("_C/__init__.pyi",),
          "torch.nn.functional": ("nn/functional.pyi", "_C/_nn.pyi", "_C/_VariableFunctions.pyi")}


@functools.lru_cache(maxsize=None)
def _stub(rel: str):
    import ast
    from pathlib import Path
    return ast.parse((Path(torch.__file__).parent / rel).read_text())


def _stub_overloads(qualname: str) -> list[list[Param]]:
    """Every overload of ``qualname`` in torch's type stubs (``torch/_C/*.pyi``, which list the
    Python-visible signatures of builtins, one ``@overload`` each)."""
    import ast
    owner, _, name = qualname.rpartition(".")
    found = []
    for rel in _STUBS.get(owner, ()):
        tree = _stub(rel)
        body = tree.body
        if owner == "torch.Tensor":
            body = next(c.body for c in tree.body if isinstance(c, ast.ClassDef) and c.name == "TensorBase")
        for node in body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                node.body = [ast.Pass()]
                node.returns = None
                for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
                    a.annotation = None
                for a in (node.args.vararg, node.args.kwarg):
                    if a is not None:
                        a.annotation = None
                text = ast.unparse(node.args)
                params = parse_signature(f"({text})")
                if owner == "torch.Tensor" and params and params[0].name == "self":
                    params = params[1:]
                found.append(params)
        if found:
            break
    return found


def _doc_signature(obj) -> list[Param]:
    """The signature on the first line of a builtin's docstring, for torch.linalg's functions, which
    have no type stubs: "linalg.solve(A, B, *, left=True, out=None) -> Tensor"."""
    head = obj.__doc__.strip().splitlines()[0]
    start, depth = head.index("("), 0
    for end in range(start, len(head)):
        depth += {"(": 1, ")": -1}.get(head[end], 0)
        if depth == 0:
            return parse_signature(head[start:end + 1])
    raise ValueError(f"no signature in {head!r}")


def torch_signatures(name: str) -> dict:
    """The torch 2.13 signatures of namesake ``name``: ``{"torch": qualname, "source": "inspect" |
    "stub", "overloads": [text, ...]}``; parameters whose names start with "_" (torch's private
    ``_stacklevel``) are left out."""
    qual = torch_qualname(name)
    obj = torch
    for part in qual.split(".")[1:]:
        obj = getattr(obj, part)
    method = qual.startswith(("torch.Tensor.", "torch.nn.Module.", "torch.optim.Optimizer."))
    params = signature_of(obj, drop_self=method)
    generic = params is not None and [p.kind for p in params] == ["varargs", "varkw"]
    if isinstance(obj, type) and issubclass(obj, torch.nn.Module) and obj.__init__ is torch.nn.Module.__init__:
        overloads, source = [[]], "inspect"     # Module.__init__(*args, **kwargs) only forwards to object
    elif generic and typing.get_overloads(obj):
        overloads = [signature_of(o, drop_self=method) for o in typing.get_overloads(obj)]
        source = "inspect"
    elif params is not None and not (generic and _stub_overloads(qual)):
        overloads, source = [params], "inspect"
    else:
        overloads, source = _stub_overloads(qual), "stub"
        if not overloads and qual.startswith(("torch.linalg.", "torch.special.")):
            overloads, source = [_doc_signature(obj)], "doc"
        alias = getattr(obj, "__name__", None)
        if not overloads and alias and alias != qual.rpartition(".")[2]:   # F.logsigmoid is _nn.log_sigmoid
            overloads = _stub_overloads(qual.rpartition(".")[0] + "." + alias)
    overloads = [[p for p in o if not p.name.startswith("_")] for o in overloads]
    return {"torch": qual, "source": source, "overloads": [render_signature(o) for o in overloads]}


SIGNATURE_OMISSIONS: dict[str, str] = {
    "out": "results are always new tensors: lumina's values are immutable graph values, with no out= buffers",
    "layout": "one layout (dense, strided); there are no sparse layouts",
    "pin_memory": "host tensors are NumPy arrays; there is no pinned host memory",
    "memory_format": "no memory formats: the compiler chooses layouts itself",
    "generator": "one generator, seeded by lumina.manual_seed; there are no Generator objects",
    "names": "no named tensors",
    "foreach": "torch's choice between per-tensor and multi-tensor kernels; lumina compiles the update, one "
               "implementation",
    "fused": "torch's choice of a fused kernel; lumina compiles and fuses the update itself",
    "capturable": "a CUDA-graph capture switch; lumina's compiled steps keep their state on the device already",
    "non_blocking": "a copy's overlap with the host, not its result: lumina's device copies are ordered by its runtime",
}
"""torch parameters lumina leaves out everywhere, with the reason."""

SIGNATURE_EXCLUDED: dict[str, str] = {
    "lumina.device": "torch.device is a C type whose constructor has no introspectable signature; lumina.device "
                     "takes its two forms, device('cuda:0') and device('cuda', 0) (tests/test_torch_basics.py)",
    "lumina.compile": "shares torch.compile's name only: a tracing compiler with its own options (static_argnums, "
                      "device, cache_size), not a front end to TorchDynamo's backends",
    "lumina.save": "torch's default pickle_module is the pickle module object, whose repr is no Python "
                   "expression; lumina.save takes torch's parameters, defaults included (tests/test_serialization.py)",
    **{f"lumina.{op}": f"torch.{op} is a boolean_dispatch wrapper, introspectable only as (*args, **kwargs); lumina "
                       f"takes the parameters of its implementation, torch.functional._{op}_impl, compared there "
                       "(tests/test_sorting.py)" for op in ("unique", "unique_consecutive")},
}
"""Shared names whose signatures are not compared, with the reason."""

SIGNATURE_DIFFERENCES: dict[str, dict[str, str]] = {
    **{f"{scope}.{op}": {"unbiased": "None stands for 'not given' (then torch's default, unbiased=True): torch's "
                                      "overloads take either unbiased or correction, and one Python signature "
                                      "needs a sentinel to tell which was passed"}
       for scope in ("lumina", "Tensor") for op in ("var", "std")},
    **{f"lumina.{op}": {"unbiased": "None stands for 'not given', as in var and std (whose moments these are)"}
       for op in ("var_mean", "std_mean")},
    **{f"{scope}.{op}": {"other": "torch's overloads put either dim or other second (max(input, dim, keepdim) and "
                                  "max(input, other)); lumina's one signature takes dim there and treats a tensor "
                                  "in dim's place as other (x.max(y) is torch's max(other)), so other= is a "
                                  "keyword-only second spelling"}
       for scope in ("lumina", "Tensor") for op in ("max", "min")},
    "lumina.arange": {"end": "None stands for 'not given', so one signature takes torch's overloads arange(end), "
                             "arange(start, end) and arange(start, end, step): arange(5) is arange(0, 5); "
                             "start defaults to 0 for arange(end=5)"},
}
"""Per namesake: a parameter lumina leaves out, adds, or defaults differently on purpose -> why."""


def _literal(text: str | None):
    import ast
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return False, None


def _same_default(lumina_text: str | None, torch_text: str | None) -> bool:
    if lumina_text is None or torch_text is None:
        return lumina_text is None and torch_text is None
    if torch_text == "..." or lumina_text == torch_text:
        return True
    ok_l, lv = _literal(lumina_text)
    ok_t, tv = _literal(torch_text)
    if ok_l and ok_t:
        if isinstance(lv, bool) != isinstance(tv, bool):
            return False
        if isinstance(lv, (list, tuple)) and isinstance(tv, (list, tuple)):
            return list(lv) == list(tv)
        return lv == tv
    return False


def _against(mine: list[Param], o: list[Param], allowed: dict) -> tuple[list[str], set[str], set[str]]:
    """Positional binding and omissions of lumina's ``mine`` against one torch overload ``o``:
    (problems, lumina names that are renamed torch parameters, the torch names they rename)."""
    pos = [q.name for q in o if q.kind in ("positional", "varargs")]
    mine_pos = [p.name for p in mine if p.kind in ("positional", "varargs")]
    torch_names = {q.name for q in o}
    mine_names = {p.name for p in mine}
    found, renamed, renames = [], set(), set()
    for i, n in enumerate(mine_pos):
        if n in allowed:
            continue
        if i >= len(pos):
            found.append(f"lumina's positional #{i + 1} is {n!r}; torch {render_signature(o)} takes {len(pos)} "
                          f"positionally")
            break
        if pos[i] != n:
            if n not in torch_names and pos[i] not in mine_names:
                found.append(f"lumina names torch's {pos[i]!r} {n!r} (positional #{i + 1} of {render_signature(o)})")
                renamed.add(n)
                renames.add(pos[i])
                continue
            found.append(f"positional #{i + 1}: lumina {n!r}, torch {pos[i]!r} in {render_signature(o)}")
            break
    if not any(p.kind == "varkw" for p in mine):
        for q in o:
            if q.name not in mine_names and q.name not in renames and q.kind != "varkw" \
                    and q.name not in SIGNATURE_OMISSIONS and q.name not in allowed:
                found.append(f"torch's {str(q)!r} is missing")
    return found, renamed, renames


def compare_signature(name: str, mine: list[Param], overloads: list[list[Param]]) -> list[str]:
    """What differs between lumina's parameters and torch's overloads of namesake ``name``:
    parameter names, the order of the positional ones (a positional call must bind the same
    way), kinds (positional or keyword-only), defaults, and torch parameters lumina leaves out
    unless ``SIGNATURE_OMISSIONS`` / ``SIGNATURE_DIFFERENCES`` documents them. One lumina
    parameter may stand for several overloads (``max(dim=None)`` covers ``max()`` and
    ``max(dim)``); positions and omissions are judged against the overload that fits best.
    Private parameters ("_" first, as ``Embedding``'s ``_weight``) are left out on both sides,
    as ``torch_signatures`` leaves out torch's."""
    mine = [p for p in mine if not p.name.startswith("_")]
    allowed = SIGNATURE_DIFFERENCES.get(name, {})
    def fit(o):
        # fewest problems; among equals, the overload whose parameter kinds line up with lumina's
        kinds = sum(a.kind != b.kind for a, b in zip(mine, o))
        found = _against(mine, o, allowed)
        return (len(found[0]), kinds), found
    best = min((fit(o) for o in overloads), key=lambda r: r[0], default=((0, 0), ([], set(), set())))[1]
    problems, renamed, _ = best
    by_name: dict[str, list[tuple[int, Param]]] = {}
    for i, o in enumerate(overloads):
        for q in o:
            by_name.setdefault(q.name, []).append((i, q))
    torch_varkw = any(q.kind == "varkw" for o in overloads for q in o)
    for p in mine:
        if p.name in allowed or p.name in renamed:
            continue
        if p.kind == "varkw":
            if not torch_varkw:
                problems.append(f"lumina accepts **{p.name} (so unknown keywords pass the signature); torch does not")
            continue
        if p.kind == "varargs":
            if not any(q.kind == "varargs" or (q.kind == "positional" and q.name == p.name)
                       for o in overloads for q in o):
                problems.append(f"lumina takes *{p.name}; torch has no such parameter")
            continue
        theirs = by_name.get(p.name)
        if not theirs:
            problems.append(f"lumina's {p.name!r} is not a torch parameter")
            continue
        kinds = {q.kind for _, q in theirs}
        if p.kind not in kinds:
            problems.append(f"{p.name!r} is {p.kind} in lumina, {'/'.join(sorted(kinds))} in torch")
        defaults = [q.default for _, q in theirs]
        absent_somewhere = len({i for i, _ in theirs}) < len(overloads)
        if p.default is None:
            if None not in defaults:
                problems.append(f"lumina requires {p.name!r}; torch defaults it to {' or '.join(sorted(set(defaults)))}")
        elif not any(_same_default(p.default, d) for d in defaults if d is not None) and not (
                None in defaults and absent_somewhere):
            options = " or ".join(sorted({d if d is not None else "(required)" for d in defaults}))
            problems.append(f"default of {p.name!r}: lumina {p.default}, torch {options}")
    return problems
