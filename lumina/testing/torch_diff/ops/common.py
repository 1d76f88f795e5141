"""What several op families share: the rows of a name that is both a function and a method, and the
exact functions (mpmath) that are a further reference for elementwise ops."""
from __future__ import annotations

from ..spec import OpSpec


def methods(name: str, scopes=("lumina", "Tensor"), **kw) -> list[OpSpec]:
    """Specs for ``lumina.name(x, ...)`` and ``x.name(...)`` (and ``F.name`` where listed)."""
    specs = []
    for s in scopes:
        if s == "lumina":
            call = (lambda n: lambda L, x, *a, **k: getattr(L, n)(x, *a, **k))(name)
        elif s == "Tensor":
            call = (lambda n: lambda L, x, *a, **k: getattr(x, n)(*a, **k))(name)
        else:
            call = (lambda n: lambda L, x, *a, **k: getattr(L.nn.functional, n)(x, *a, **k))(name)
        specs.append(OpSpec(f"{s}.{name}", call, **kw))
    return specs


def mpmath_pair(name: str):
    """(f, f') in mpmath for the elementwise functions, for ``OpSpec.exact_math``."""
    import mpmath as m

    def sigmoid(x):
        return 1 / (1 + m.exp(-x))

    def gelu(x, approximate="none"):
        if approximate == "tanh":
            return x / 2 * (1 + m.tanh(m.sqrt(2 / m.pi) * (x + m.mpf("0.044715") * x ** 3)))
        return x / 2 * (1 + m.erf(x / m.sqrt(2)))

    def gelu_slope(x, approximate="none"):
        if approximate == "tanh":
            return m.diff(lambda t: gelu(t, "tanh"), x)
        return (1 + m.erf(x / m.sqrt(2))) / 2 + x * m.exp(-x * x / 2) / m.sqrt(2 * m.pi)
    return {
        "exp": (m.exp, m.exp), "log": (m.log, lambda x: 1 / x), "sqrt": (m.sqrt, lambda x: 1 / (2 * m.sqrt(x))),
        "sin": (m.sin, m.cos), "cos": (m.cos, lambda x: -m.sin(x)), "tanh": (m.tanh, lambda x: m.sech(x) ** 2),
        "sigmoid": (sigmoid, lambda x: sigmoid(x) * sigmoid(-x)),
        "erf": (m.erf, lambda x: 2 / m.sqrt(m.pi) * m.exp(-x * x)), "gelu": (gelu, gelu_slope),
    }[name]
