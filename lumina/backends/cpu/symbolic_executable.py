"""The executable of a program with symbolic sizes (``ir.symbolic``): one compile, any size.

Its loop and row kernels are compiled once and read their sizes at run time; what depends on the
sizes themselves (GEMM launch arguments, the thread split, the native plan, the memory plan and the
arena, the GEMM epilogues) is built per size, on the first call at that size, into an ordinary
``Executable`` (``build._build``). The ``INSTANCES`` most recently used sizes are kept; older ones
are freed with their arenas, so memory stays bounded however many sizes a function sees.

A symbol's size is read from the first input dim that is that symbol alone (``B`` in an input of
shape ``[B, 784]``); every other dim of every input is then checked against the instance's shapes.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

import numpy as np

from ...codegen.program import Program
from ...errors import LuminaTypeError
from ...ir.symbolic import MIN_SIZE, Sym
from .profile import profile_report

INSTANCES = 4


def _bare_symbol(d) -> str | None:
    """The name of ``d`` when it is one symbol alone (``B``, not ``2*B``)."""
    if isinstance(d, Sym) and len(d.terms) == 1:
        mono, coeff = d.terms[0]
        if coeff == 1 and len(mono) == 1 and mono[0][1] == 1:
            return mono[0][0]
    return None


class SymbolicExecutable:
    """A CPU executable over inputs with symbolic dims: ``run`` and ``pinned`` as ``Executable``'s,
    at whatever sizes the inputs have (each symbol at least ``ir.symbolic.MIN_SIZE``).

    ``program``: the lowered program (symbolic shapes); ``symbols``: its symbols in kernel order;
    ``instantiate(values)``: the ``Executable`` at sizes ``values`` ({symbol: int}). Raises
    LuminaTypeError for inputs whose dims disagree with the program's, or give a symbol a size
    below ``MIN_SIZE``."""

    def __init__(self, program: Program, symbols: tuple[str, ...], instantiate: Callable[[dict], object],
                 keepalive: list = ()):
        self.program, self.symbols = program, symbols
        self.keepalive = list(keepalive)   # the compiled kernels every size calls
        self._instantiate = instantiate
        self._instances: "OrderedDict[tuple, object]" = OrderedDict()
        self._lock = threading.Lock()
        self._running = threading.Lock()   # one call at a time (``run``)
        self._last = None
        self.last_sizes: dict[str, int] | None = None   # the sizes of the instance called last
        self.info = program.info()
        self._binders: dict[str, tuple[int, int]] = {}
        for i, slot in enumerate(program.input_slots):
            for axis, d in enumerate(program.slots[slot].shape):
                name = _bare_symbol(d)
                if name is not None:
                    self._binders.setdefault(name, (i, axis))
        unbound = [s for s in symbols if s not in self._binders]
        if unbound:
            raise LuminaTypeError(f"executable: the sizes {unbound} are not the dim of any input: nothing "
                                  "would give them a value")

    def sizes(self, inputs: list) -> dict[str, int]:
        """``{symbol: size}`` read from ``inputs``' dims."""
        values = {}
        for name, (i, axis) in self._binders.items():
            if i >= len(inputs):
                raise LuminaTypeError(f"executable: {len(inputs)} inputs, expected {len(self.program.input_slots)}")
            shape = np.shape(inputs[i])
            if axis >= len(shape):
                raise LuminaTypeError(f"executable: input {i} has shape {list(shape)}, expected "
                                      f"{list(self.program.slots[self.program.input_slots[i]].shape)}")
            size = int(shape[axis])
            if size < MIN_SIZE:
                raise LuminaTypeError(f"executable: input {i} dim {axis} is {size}; its symbolic size {name} "
                                      f"must be at least {MIN_SIZE} (sizes 0 and 1 are compiled apart)")
            values[name] = size
        return values

    def instance(self, values: dict[str, int]):
        """The ``Executable`` at sizes ``values`` (built on first use; the ``INSTANCES`` most
        recently used are kept)."""
        key = tuple(values[s] for s in self.symbols)
        with self._lock:
            exe = self._instances.get(key)
            if exe is None:
                exe = self._instances[key] = self._instantiate(values)
                while len(self._instances) > INSTANCES:
                    self._instances.popitem(last=False)
            self._instances.move_to_end(key)
            self._last, self.last_sizes = exe, dict(values)
            return exe

    def run(self, inputs: list, stepwise: bool = False) -> list[np.ndarray]:
        """``Executable.run`` at the sizes of ``inputs``. One call at a time: every size's
        executable runs the one plan function, whose barrier lives in its module."""
        exe = self.instance(self.sizes(inputs))
        with self._running:
            return exe.run(inputs, stepwise)

    def runner(self) -> Callable[..., list[np.ndarray]]:
        """``Executable.runner``: ``call(head, tail=())`` runs the instance of the sizes of its
        inputs through that instance's own runner (one call at a time), for inputs the caller has
        checked: C-contiguous arrays of the program's dtypes, their dims the program's."""
        runners: "OrderedDict[int, tuple]" = OrderedDict()
        bound_by = max(i for i, _ in self._binders.values()) + 1 if self._binders else 0

        def call(head, tail=()):
            sized = head if len(head) >= bound_by else [*head, *(r() for r in tail)]
            exe = self.instance(self.sizes(sized))
            found = runners.get(id(exe))
            if found is None or found[0] is not exe:
                found = runners[id(exe)] = (exe, exe.runner())
                while len(runners) > INSTANCES:
                    runners.popitem(last=False)
            with self._running:
                return found[1](head, tail)
        return call

    def pinned(self, tail: list) -> Callable[[list], list]:
        """``Executable.pinned``: ``call(head)`` runs ``[*head, *tail]`` with ``tail`` kept bound,
        in the instance of the call's sizes."""
        calls: "OrderedDict[int, tuple]" = OrderedDict()

        def call(head):
            exe = self.instance(self.sizes([*head, *tail]))
            found = calls.get(id(exe))
            if found is None or found[0] is not exe:
                found = calls[id(exe)] = (exe, exe.pinned(tail))
                while len(calls) > INSTANCES:
                    calls.popitem(last=False)
            with self._running:
                return found[1](head)
        return call

    def _latest(self):
        if self._last is None:
            raise LuminaTypeError("executable: a symbolic executable has no arena or plan before its first call")
        return self._last

    @property
    def arena(self):
        """The arena of the instance called last."""
        return self._latest().arena

    @property
    def memory_plan(self):
        """The memory plan of the instance called last."""
        return self._latest().memory_plan

    def profile(self, inputs: list, repeat: int = 10):
        return self.instance(self.sizes(inputs)).profile(inputs, repeat)

    def profile_report(self, inputs: list, repeat: int = 10):
        sizes = self.sizes(inputs)
        return profile_report(self.instance(sizes), inputs, repeat, sizes)
