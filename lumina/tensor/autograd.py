"""Front ends of autodiff: ``Tensor.backward``, ``lumina.grad`` and ``lumina.value_and_grad``.

All of them call the graph transform ``transforms.autodiff.vjp`` on the lazy values; the gradients are
lazy tensors like any other, so they fuse and compile together with the forward computation.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..errors import LuminaGradError, LuminaValueError
from ..ir import graph as B
from ..ir.graph import Structure, topo_sort
from ..tracing import STATE, STOP_GRAD
from ..transforms.autodiff import vjp
from ..transforms.vjp_cache import cached_vjp
from .core import LEAF_OF, Tensor, defer_realize, offer_order
from .creation import tensor
from .saved import SUPERSEDED, THROUGH, check_saved, former_leaf


def backward(out: Tensor, gradient: Tensor | None = None, inputs=None) -> None:
    """Accumulate d(out)/d(leaf) into ``leaf.grad`` for every leaf that requires grad (those among
    ``inputs``, a tensor or a sequence of tensors, when given: torch's ``backward(inputs=)``).
    Raises LuminaValueError for an input that is not a leaf requiring grad."""
    only = None
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        if not inputs:
            raise LuminaValueError("backward: inputs= is empty (leave it out to accumulate into every leaf)")
        for t in inputs:
            if not isinstance(t, Tensor) or not t.is_leaf or not t.requires_grad:
                raise LuminaValueError(f"backward: inputs= takes leaf tensors that require grad; got "
                                       f"{t._value.type if isinstance(t, Tensor) else type(t).__name__}"
                                       + (" (computed from others)" if isinstance(t, Tensor) and not t.is_leaf else ""))
        only = {id(t) for t in inputs}
    if not out.requires_grad:
        raise LuminaGradError(f"backward: the {out._value.type} tensor does not require grad "
                              "(no input of it has requires_grad=True, or it was made under no_grad)")
    if gradient is None:
        if out.numel() != 1:     # torch: any one-element output implies a gradient of ones
            raise LuminaGradError(f"backward: a gradient can only be implied for a scalar output; got "
                                  f"{out._value.type}: pass gradient= of that shape")
        g = B.const(1, out.dtype, out.shape)
    else:
        gradient = gradient if isinstance(gradient, Tensor) else tensor(gradient, dtype=out.dtype)
        if gradient.shape != out.shape:
            raise LuminaGradError(f"backward: gradient {gradient._value.type} does not match output "
                                  f"{out._value.type}")
        g = B.cast(gradient._touch(), out.dtype)
    structure = Structure()   # the forward graph's, for cached_vjp's key
    forward = topo_sort([out._touch()], structure)
    # Each leaf that requires grad, with its value in the graph: its current one, or one it held
    # before an in-place update under no_grad (an optimizer step between forward and backward).
    found = []
    replaced = SUPERSEDED.ids   # ids of values in-place updates replaced (a superset)
    for n in forward:
        t = LEAF_OF.get(id(n))
        if t is None and id(n) in replaced:
            t = former_leaf(n)
        if t is not None and t.requires_grad and (only is None or id(t) in only):
            found.append((t, n))
    if not found:
        return
    wrt = [n for _, n in found]
    def differentiable(v) -> bool:   # the ids first: nearly no node is a member
        return id(v) not in STOP_GRAD.ids or v not in STOP_GRAD
    grads = cached_vjp(out._value, g, wrt, forward, differentiable=differentiable,
                       passthrough=THROUGH.__contains__ if THROUGH else None, structure=structure)
    # raises where torch finds a saved tensor modified in place
    check_saved(forward, grads, wrt, differentiable)
    totals: dict[int, tuple] = {}
    for (t, _), dv in zip(found, grads):
        if id(t) in totals:
            dv = totals[id(t)][1] + dv
        totals[id(t)] = (t, dv)
    for t, dv in totals.values():
        gt = Tensor(dv)
        t.grad = gt if t.grad is None else t.grad + gt
    if STATE.trace is None and out.numel() == 1:
        # the loss is read next (``loss.item()``), after the optimizer's step has realised the
        # gradients: computed in that executable instead of running the forward again, whose
        # graph starts with the forward order walked here
        defer_realize(out, wait=False)
        offer_order(out._value, forward, structure)


def _argnums(argnums, n: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n <= i < n:
            raise LuminaGradError(f"grad: argnums {argnums} out of range for {n} positional arguments")
    return tuple(i % n for i in nums)


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``f(*args) -> (f(*args), df/dargs[argnums])`` for a function returning a float scalar tensor.

    As ``jax.value_and_grad``: ``argnums`` an int gives one gradient, a tuple a tuple of them.
    Raises LuminaGradError if the output is not a float scalar.
    """
    def wrapped(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        args = [a if isinstance(a, Tensor) else tensor(a) for a in args]
        for i in nums:
            if not args[i].dtype.is_float:
                raise LuminaGradError(f"grad: argument {i} is {args[i]._value.type}; only float inputs "
                                      "have gradients")
        wrt = [args[i]._touch() for i in nums]
        prev, STATE.grad_enabled = STATE.grad_enabled, True
        try:
            out = fn(*args, **kwargs)
        finally:
            STATE.grad_enabled = prev
        for i, v in zip(nums, wrt):
            if args[i]._value is not v:   # torch.func.grad: a leaf that requires grad, in place
                raise LuminaGradError(f"grad: the function updated argument {i} ({args[i]._value.type}) in "
                                      "place; an input it is differentiated for cannot be (torch raises "
                                      "too); update a clone() of it")
        if not isinstance(out, Tensor) or out.shape != () or not out.dtype.is_float:
            desc = out._value.type if isinstance(out, Tensor) else type(out).__name__
            raise LuminaGradError(f"grad: the function must return a float scalar tensor, got {desc}")
        grads = [Tensor(g) for g in vjp([out._value], [B.const(1, out.dtype)], wrt)]
        return out, (grads[0] if isinstance(argnums, int) else tuple(grads))
    return wrapped


def grad(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``f(*args) -> df/dargs[argnums]`` (see ``value_and_grad``)."""
    vg = value_and_grad(fn, argnums)

    def wrapped(*args, **kwargs):
        return vg(*args, **kwargs)[1]
    return wrapped


class AutogradMethods:
    """``Tensor.backward`` (the package copies it onto ``Tensor``)."""

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad (only
        the leaves among ``inputs``, a tensor or a sequence of them, when given).

        ``gradient`` (same shape as self) is required unless self is a scalar. ``retain_graph``
        changes nothing: lumina's graphs are values, never freed by a backward pass, so every
        graph can be differentiated again. Raises LuminaGradError, and LuminaValueError for
        ``create_graph=True`` (the gradient's own graph is not recorded) and for an input that
        is not a leaf requiring grad.
        """
        if create_graph:
            raise LuminaValueError("backward: create_graph=True is not supported (backward does not record "
                                   "the gradient's own graph)")
        backward(self, gradient, inputs=inputs)
