"""``Module`` and ``Parameter``: PyTorch's container model for layers, their weights and buffers."""
from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Iterator, NamedTuple

import numpy as np

from ..errors import LuminaDeviceError, LuminaError, LuminaShapeError, LuminaTypeError, LuminaValueError
from ..ir.dtypes import DType, to_dtype
from ..tensor import Tensor, no_grad, realize, tensor, zeros_like
from ..tensor.device import device_arg


def _to_args(device, dtype) -> tuple[str | None, DType | None]:
    """torch's ``Module.to`` forms -> (device name or None, floating DType or None): a tensor in
    ``device``'s place gives its device and dtype, a dtype there is the dtype. Raises
    LuminaDeviceError for something that is neither a device nor a dtype, LuminaTypeError for a
    dtype that is not floating point."""
    if isinstance(device, Tensor):
        device, dtype = device._device_name, device.dtype if dtype is None else dtype
    name = None if device is None else device_arg(device)
    if device is not None and name is None:
        try:
            as_dtype = to_dtype(device)
        except LuminaError:
            as_dtype = None
        if as_dtype is None or dtype is not None:
            from ..backends.devices import canonical
            canonical(device)       # raises LuminaDeviceError naming the devices
        dtype = as_dtype
    if dtype is not None:
        dtype = to_dtype(dtype)
        if not dtype.is_float:
            raise LuminaTypeError(f"Module.to: only floating-point dtypes are accepted, got {dtype.name} (as torch)")
    return name, dtype


def factory(module: "Module", device, dtype) -> None:
    """A layer's torch factory arguments ``device=`` / ``dtype=``: its parameters and buffers made
    on ``device`` and the floating ones cast to ``dtype`` (``Module.to``). Raises
    LuminaDeviceError for an unknown or unavailable device, LuminaTypeError for a non-float dtype."""
    if device is not None:
        from ..backends.devices import canonical
        canonical(device)
    if device is not None or dtype is not None:
        module.to(device, dtype)


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as torch's: the module's keys the state lacked, and the
    state's keys the module has no place for."""
    missing_keys: list[str]
    unexpected_keys: list[str]


class RemovableHandle:
    """``torch.utils.hooks.RemovableHandle``: ``remove()`` takes the hook it was returned for out
    of its module's table (a second call does nothing); a context manager that removes on exit."""

    _ids = itertools.count()

    def __init__(self, table: OrderedDict):
        self.id = next(RemovableHandle._ids)
        self._table = table

    def remove(self) -> None:
        self._table.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _state_array(owner: str, key: str, value) -> np.ndarray:
    """A ``load_state_dict`` value as a NumPy array: a lumina tensor's value, a torch tensor's
    (a Parameter too, as ``state_dict(keep_vars=True)`` gives; bfloat16 read through float32,
    which holds it exactly), or a NumPy array / number. Raises LuminaTypeError naming the key for
    anything else."""
    if isinstance(value, Tensor):
        return value.numpy()
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu()
        try:
            return (value.float() if str(value.dtype) == "torch.bfloat16" else value).numpy()
        except (TypeError, RuntimeError) as e:   # a torch dtype NumPy has no form of
            raise LuminaTypeError(f"load_state_dict: {owner}: key {key!r} holds a {value.dtype} "
                                  f"tensor of shape {list(value.shape)}, which lumina cannot read ({e})") from None
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc" and arr.dtype != np.dtype(DType.bfloat16.numpy):
        raise LuminaTypeError(f"load_state_dict: {owner}: key {key!r} holds a {type(value).__name__} "
                              f"({arr.dtype}); expected a tensor or a numeric NumPy array")
    return arr


def _saved(t: Tensor) -> "_SavedTensor":
    return _SavedTensor(np.array(t.numpy(), copy=True), t.dtype.name, t.requires_grad)


class _SavedTensor(NamedTuple):
    """A tensor's pickled form (a lazy tensor is realised first): its NumPy data, dtype name and
    ``requires_grad``."""
    data: np.ndarray
    dtype: str
    requires_grad: bool

    def restore(self) -> Tensor:
        return tensor(self.data, dtype=to_dtype(self.dtype), requires_grad=self.requires_grad)


def _rebuild_parameter(data: np.ndarray, dtype: str, requires_grad: bool) -> "Parameter":
    return Parameter(tensor(data, dtype=to_dtype(dtype)), requires_grad)


class Parameter(Tensor):
    """A realised leaf tensor that requires grad and that a ``Module`` registers as a weight;
    ``Parameter()`` holds an empty float32 tensor, as torch's."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros(0, np.float32)
        src = data if isinstance(data, Tensor) else tensor(data)
        arr = np.array(src.numpy(), copy=True)
        t = Tensor._from_array(arr, requires_grad)
        super().__init__(t._value, requires_grad, _is_leaf=True)

    def __reduce_ex__(self, protocol):
        """Pickling and ``copy.deepcopy``: the realised values, dtype and ``requires_grad`` (the
        gradient is not kept, as torch's)."""
        s = _saved(self)
        return _rebuild_parameter, (s.data, s.dtype, s.requires_grad)


class Module:
    """Base class of layers. Assigning a ``Parameter`` or a ``Module`` attribute registers it."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    def __getstate__(self) -> dict:
        """Pickling and ``copy.deepcopy``: the attributes with each buffer (a plain tensor) saved as
        its data, dtype and ``requires_grad`` (``_SavedTensor``); Parameters pickle themselves."""
        saved: dict[int, _SavedTensor] = {}

        def keep(v):
            if isinstance(v, Tensor) and not isinstance(v, Parameter):
                return saved.setdefault(id(v), _saved(v))
            return v
        state = {k: keep(v) for k, v in self.__dict__.items()}
        state["_buffers"] = OrderedDict((k, keep(v)) for k, v in self._buffers.items())
        return state

    def __setstate__(self, state: dict) -> None:
        restored: dict[int, Tensor] = {}

        def back(v):
            return restored.setdefault(id(v), v.restore()) if isinstance(v, _SavedTensor) else v
        state = {k: back(v) for k, v in state.items()}
        state["_buffers"] = OrderedDict((k, back(v)) for k, v in state["_buffers"].items())
        self.__dict__.update(state)

    def __delattr__(self, name: str) -> None:
        for table in ("_parameters", "_buffers", "_modules"):
            getattr(self, table).pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise LuminaValueError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._buffers and not isinstance(value, Parameter):
            if value is not None and not isinstance(value, Tensor):
                raise LuminaTypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                                      f"{name!r} (a tensor or None is expected)")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Parameter) and name in self._parameters:
            self._parameters[name] = value   # keeps its place (``self.weight += 1`` rebinds the same one)
            object.__setattr__(self, name, value)
            return
        table = (self._parameters if isinstance(value, Parameter) else self._modules if isinstance(value, Module)
                 else None)
        for other in (self._parameters, self._modules, self._buffers):
            if other is not table:
                other.pop(name, None)
        if table is not None:
            table[name] = value   # a replaced child keeps its place, as torch's (``seq[0] = m``)
        object.__setattr__(self, name, value)

    def _check_new_name(self, what: str, name) -> None:
        if "_parameters" not in self.__dict__:
            raise LuminaValueError(f"{type(self).__name__}: call super().__init__() before {what}")
        if not isinstance(name, str):
            raise LuminaTypeError(f"{what}: the name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise LuminaValueError(f"{what}: bad name {name!r} (empty, or with a '.')")

    def add_module(self, name: str, module: Module | None) -> None:
        """``torch.nn.Module.add_module``: register ``module`` as the child ``name`` (as assigning
        ``self.name = module`` does; None leaves an empty slot, skipped by ``children``). Raises
        LuminaTypeError for something that is not a Module, LuminaValueError for a bad name or one
        that is taken by an attribute that is not a child."""
        self._check_new_name("add_module", name)
        if module is not None and not isinstance(module, Module):
            raise LuminaTypeError(f"add_module: {type(module).__name__} is not a Module")
        if hasattr(self, name) and name not in self._modules:
            raise LuminaValueError(f"add_module: {type(self).__name__} already has an attribute {name!r}")
        if module is None:
            self._modules.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """``torch.nn.Module.register_parameter``: register ``param`` as the parameter ``name``
        (None: an empty slot, as ``Linear(bias=False)``'s bias, absent from ``parameters()`` and
        ``state_dict()``). Raises LuminaTypeError for a value that is not a Parameter,
        LuminaValueError for a bad name or one taken by an attribute that is not a parameter."""
        self._check_new_name("register_parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise LuminaTypeError(f"register_parameter: cannot assign a {type(param).__name__} as parameter {name!r} "
                                  "(a lumina.nn.Parameter or None is expected)")
        if hasattr(self, name) and name not in self._parameters:
            raise LuminaValueError(f"register_parameter: {type(self).__name__} already has an attribute {name!r}")
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as state that is not a parameter (BatchNorm's running statistics).

        A buffer is saved in ``state_dict`` (unless ``persistent=False``) and loaded back; a layer
        updates it with ``Tensor.assign``, which inside ``@lumina.compile`` becomes a state output
        written back after each call. Raises LuminaValueError for a bad or taken name,
        LuminaTypeError for a value that is not a tensor."""
        if "_buffers" not in self.__dict__:
            raise LuminaValueError(f"{type(self).__name__}: call super().__init__() before register_buffer")
        if not isinstance(name, str) or not name or "." in name:
            raise LuminaValueError(f"register_buffer: bad buffer name {name!r}")
        if name in self._parameters or name in self._modules or (hasattr(self, name) and name not in self._buffers):
            raise LuminaValueError(f"register_buffer: {type(self).__name__} already has an attribute {name!r}")
        if tensor is not None and (not isinstance(tensor, Tensor) or isinstance(tensor, Parameter)):
            raise LuminaTypeError(f"register_buffer: {name!r} must be a Tensor (not a Parameter) or None, "
                                  f"got {type(tensor).__name__}")
        if tensor is not None:
            realize(tensor)
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, tensor)

    def _named_members(self, table: str, prefix: str, recurse: bool, remove_duplicate: bool):
        """(name, tensor) of every entry of each module's ``_parameters`` / ``_buffers`` (this
        module's only unless ``recurse``), each tensor once unless ``remove_duplicate`` is False."""
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mp, m in modules:
            for name, t in getattr(m, table).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mp}.{name}" if mp else name), t

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def forward(self, *input):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        """``forward(*args, **kwargs)``, with NumPy arrays among the positional arguments made
        Tensors first (so the result is a Tensor with its autograd history, as a torch module
        called on ``torch.from_numpy(a)``)."""
        args = tuple(tensor(a) if isinstance(a, np.ndarray) else a for a in args)
        for hook, with_kwargs in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise LuminaTypeError(f"{type(self).__name__}: a forward pre-hook with kwargs must return "
                                              f"None or (args, kwargs), got {type(result).__name__}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for hook, with_kwargs, always in list(self._forward_hooks.values()):
                if always:
                    hook(self, args, kwargs, None) if with_kwargs else hook(self, args, None)
            raise
        for hook, with_kwargs, _ in list(self._forward_hooks.values()):
            result = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if result is not None:
                out = result
        return out

    def _add_hook(self, table: OrderedDict, entry: tuple, prepend: bool) -> RemovableHandle:
        handle = RemovableHandle(table)
        table[handle.id] = entry
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` before each ``forward``, as torch's: it may return new positional
        arguments (a non-tuple is wrapped), or with ``with_kwargs`` ``hook(module, args, kwargs)``
        returning ``(args, kwargs)``. ``prepend`` runs it before the hooks already registered.
        Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook(self._forward_pre_hooks, (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` after each ``forward`` (``hook(module, args, kwargs,
        output)`` with ``with_kwargs``), as torch's: a non-None result replaces the output.
        ``always_call``: also called (output None) when ``forward`` raises. Returns a handle whose
        ``remove()`` unregisters it."""
        return self._add_hook(self._forward_hooks, (hook, with_kwargs, always_call), prepend)

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """(name, module) of this module and every submodule, depth first; a module reachable
        twice is yielded once unless ``remove_duplicate`` is False (``memo``: the modules already
        yielded, torch's recursion state)."""
        if remove_duplicate:
            memo = set() if memo is None else memo
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def modules(self, remove_duplicate: bool = True) -> Iterator["Module"]:
        """This module and every submodule, depth first, each once unless ``remove_duplicate`` is
        False (``named_modules``)."""
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """(name, module) of the direct submodules, each module once, in registration order."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def half(self) -> "Module":
        """Cast the floating-point parameters and buffers to float16 (``to(float16)``)."""
        return self.to(dtype="float16")

    def float(self) -> "Module":
        """Cast the floating-point parameters and buffers to float32."""
        return self.to(dtype="float32")

    def double(self) -> "Module":
        """Cast the floating-point parameters and buffers to float64."""
        return self.to(dtype="float64")

    def bfloat16(self) -> "Module":
        """Cast the floating-point parameters and buffers to bfloat16."""
        return self.to(dtype="bfloat16")

    def train(self, mode: bool = True) -> "Module":
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def to(self, device=None, dtype=None, non_blocking: bool = False) -> "Module":
        """Move every parameter and buffer to ``device`` ("cpu", "cuda", "metal") and cast the
        floating-point ones to ``dtype``, in place, as ``torch.nn.Module.to``: ``to(device)``,
        ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)`` (its device and dtype); see
        ``Tensor.to``. Gradients follow. Returns self. Raises LuminaDeviceError for an unknown or
        unavailable device, LuminaTypeError for a dtype that is not floating point (as torch)."""
        device, dtype = _to_args(device, dtype)
        for _, m in self.named_modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None:
                    continue
                new = t
                cast = dtype is not None and t.dtype.is_float and t.dtype is not dtype
                if cast:    # a new realised leaf value: the parameter stays a leaf
                    new = tensor(t.numpy(), dtype).to(t.device)
                if device is not None:
                    new = new.to(device)
                if new is not t:
                    t._set_value(new._value)   # noqa: SLF001 (assign would keep the device and dtype)
                if t.grad is not None:
                    g = t.grad.to(dtype) if cast else t.grad
                    t.grad = g if device is None else g.to(device)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (torch's default), or to zeros."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = zeros_like(p.grad)

    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """(name, tensor) of every parameter and persistent buffer, in PyTorch's ``state_dict`` order:
        modules in definition order, each one's parameters before its buffers."""
        for mp, m in self.named_modules(remove_duplicate=False):   # a shared module under each name, as torch
            for name, t in list(m._parameters.items()) + [
                    (n, b) for n, b in m._buffers.items() if n not in m._non_persistent]:
                if t is not None:
                    yield (f"{mp}.{name}" if mp else name), t

    def state_dict(self, *args, destination=None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """``torch.nn.Module.state_dict``: parameter and persistent buffer name (after ``prefix``)
        -> the tensor detached (sharing its value, as torch's: a later in-place update of the
        parameter shows through it; ``copy.deepcopy`` or ``.clone()`` keeps a snapshot), or with
        ``keep_vars`` the tensor itself; entered into ``destination`` (a dict) when given, which
        is returned. ``args`` is torch's deprecated positional form ``(destination, prefix,
        keep_vars)``. Each value has its entry's shape and dtype and ``requires_grad=False``.
        Semantics: https://pytorch.org/docs/2.13/generated/torch.nn.Module.html#torch.nn.Module.state_dict"""
        if args:
            if len(args) > 3:
                raise LuminaTypeError(f"state_dict: takes at most 3 positional arguments, got {len(args)}")
            destination, prefix, keep_vars = (*args, *(destination, prefix, keep_vars)[len(args):])
        items = list(self._state_items())
        out = OrderedDict() if destination is None else destination
        if not keep_vars:
            realize(*(t for _, t in items))
        for n, t in items:
            out[prefix + n] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False) -> _IncompatibleKeys:
        """Copy values (lumina tensors, torch tensors or Parameters, NumPy arrays) into the
        parameters and buffers (cast to their dtypes); returns torch's
        ``_IncompatibleKeys(missing_keys, unexpected_keys)``. Raises LuminaValueError naming the
        missing/unexpected keys when ``strict`` (torch's RuntimeError), before anything is copied,
        and LuminaShapeError naming a key whose shape differs (whatever ``strict``, as torch);
        LuminaTypeError naming a key whose value is not numeric (torch's RuntimeError "expected
        torch.Tensor"); LuminaValueError for ``assign=True`` (torch's switch to adopt the given
        tensors instead of copying into the module's own, which lumina does not support).
        Semantics: https://pytorch.org/docs/2.13/generated/torch.nn.Module.html#torch.nn.Module.load_state_dict"""
        if assign:
            raise LuminaValueError("load_state_dict: assign=True (adopting the given tensors as the module's) is "
                                   "not supported; values are copied into the existing parameters")
        state = state_dict
        targets = dict(self._state_items())
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise LuminaValueError(f"load_state_dict: error(s) in loading state_dict for {type(self).__name__}: "
                                   f"missing keys {missing}, unexpected keys {unexpected}")
        loaded = []
        for name, value in state.items():
            if name not in targets:
                continue
            arr = _state_array(type(self).__name__, name, value)
            t = targets[name]
            if arr.shape != t.shape:
                kind = "parameter" if isinstance(t, Parameter) else "buffer"
                raise LuminaShapeError(f"load_state_dict: {type(self).__name__}: key {name!r} has shape "
                                       f"{list(arr.shape)}, the {kind} has {list(t.shape)}")
            with no_grad():   # as torch's load_state_dict: a parameter's copy_ records no history
                t.assign(tensor(arr, dtype=t.dtype))
            loaded.append(t)
        realize(*loaded)
        return _IncompatibleKeys(missing, unexpected)

    def save(self, path) -> None:
        """Write ``state_dict()`` to ``path`` as an uncompressed ``.npz`` (NumPy appends ``.npz`` to a
        path without it), one array per key."""
        np.savez(path, **{k: v.numpy() for k, v in self.state_dict().items()})

    def load(self, path, strict: bool = True) -> "Module":
        """Load a file written by ``save`` into this module (``load_state_dict``); returns self."""
        with np.load(path, allow_pickle=False) as data:
            self.load_state_dict({k: data[k] for k in data.files}, strict)
        return self

    def apply(self, fn) -> "Module":
        """Call ``fn`` on every submodule (children first) and on self, as PyTorch; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            lines.append(f"  ({name}): " + repr(m).replace("\n", "\n  "))
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")
