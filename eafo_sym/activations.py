"""A registry of activations as SymPy expressions in :data:`eafo_sym.x`.

Base activations are definitions (what PyTorch computes), written once here.
Activations that the package *derives* (CRReLU and the other EAFO corrections)
are registered as factories that run the derivation the first time they are
asked for, so nothing derived is ever typed in and nothing is derived at import.

>>> relu = get("relu")
>>> relu.expr
Max(0, x)
>>> get("leaky_relu").params
{alpha: 0.01}
>>> get("leaky_relu").bind().subs(x, -2)
-1/50
>>> sorted(names())[:2]
['celu', 'crrelu']
>>> get("swishh")
Traceback (most recent call last):
...
ValueError: unknown activation 'swishh'; known: celu, crrelu, ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ._symbols import param, x

__all__ = ["Activation", "get", "names", "register", "register_derived", "resolve"]


@dataclass(frozen=True)
class Activation:
    """An activation ``f(x; params)``.

    Attributes:
        name: Registry name (snake_case, as in ``torch.nn.functional``).
        expr: The SymPy expression in :data:`eafo_sym.x` and the parameter symbols.
        params: Parameter symbols with their default values, in declaration order.
        description: One line for tables and ``--help``.
        derived: Whether the expression came out of an EAFO derivation.
    """

    name: str
    expr: sp.Expr
    params: Mapping[sp.Symbol, float] = field(default_factory=dict)
    description: str = ""
    derived: bool = False

    def __post_init__(self) -> None:
        extra = self.expr.free_symbols - {x} - set(self.params)
        if extra:
            raise ValueError(
                f"activation {self.name!r}: undeclared symbols "
                f"{', '.join(sorted(map(str, extra)))}"
            )

    def bind(self, **values: float) -> sp.Expr:
        """The expression with parameters set (defaults unless given by name).

        >>> get("elu").bind(alpha=2).subs(x, -sp.oo)
        -2
        """
        by_name = {str(s): s for s in self.params}
        unknown = set(values) - set(by_name)
        if unknown:
            raise ValueError(
                f"activation {self.name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                f"parameters: {', '.join(by_name) or 'none'}"
            )
        subs = {
            s: sp.nsimplify(values.get(str(s), d), rational=True) for s, d in self.params.items()
        }
        return self.expr.subs(subs)


_REGISTRY: dict[str, Activation | Callable[[], Activation]] = {}


def register(act: Activation, *, overwrite: bool = False) -> Activation:
    """Add an activation to the registry (``overwrite=True`` to replace one)."""
    if not isinstance(act, Activation):
        raise TypeError(f"register() takes an Activation, got {type(act).__name__}")
    if act.name in _REGISTRY and not overwrite:
        raise ValueError(f"activation {act.name!r} is already registered")
    _REGISTRY[act.name] = act
    return act


def register_derived(name: str, factory: Callable[[], Activation]) -> None:
    """Register an activation produced on first use by ``factory()`` (a derivation)."""
    _REGISTRY[name] = factory


def get(name: str) -> Activation:
    """Look an activation up by name, running its derivation on first use."""
    try:
        entry = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None
    if not isinstance(entry, Activation):
        entry = entry()
        _REGISTRY[name] = entry
    return entry


def names() -> list[str]:
    """Registered names, in registration order."""
    return list(_REGISTRY)


def resolve(f: Any) -> sp.Expr:
    """Turn a registry name, an :class:`Activation` or an expression into a SymPy expression.

    Names and Activations are bound to their default parameters. Strings that
    are not registry names are *not* parsed here (use
    :func:`eafo_sym.parse_activation` for user formulas).

    >>> resolve("relu")
    Max(0, x)
    """
    if isinstance(f, Activation):
        return f.bind()
    if isinstance(f, str):
        return get(f).bind()
    if isinstance(f, sp.Basic):
        return f
    if isinstance(f, (int, float)) and not isinstance(f, bool):
        return sp.sympify(f)
    raise TypeError(
        f"expected an activation name, Activation or SymPy expression, got {type(f).__name__}"
    )


def _define(name: str, expr: sp.Expr, description: str, **defaults: float) -> None:
    params = {param(k): v for k, v in defaults.items()}
    register(Activation(name, expr, params, description))


def _sigmoid(t: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-t))


def _softplus(t: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(t))


_a, _b, _lam = param("alpha"), param("beta"), param("lambda_")
_define("relu", sp.Max(0, x), "rectified linear unit max(0, x)")
_define("leaky_relu", sp.Max(0, x) + _a * sp.Min(0, x), "max(0,x) + alpha*min(0,x)", alpha=0.01)
_define("prelu", sp.Max(0, x) + _a * sp.Min(0, x), "leaky ReLU with learnable slope", alpha=0.25)
_define(
    "elu",
    sp.Piecewise((x, x > 0), (_a * (sp.exp(x) - 1), True)),
    "exponential linear unit",
    alpha=1.0,
)
_define(
    "celu",
    sp.Piecewise((x, x > 0), (_a * (sp.exp(x / _a) - 1), True)),
    "continuously differentiable ELU",
    alpha=1.0,
)
# The SELU constants are the fixed point of Klambauer et al. (2017), as in torch.nn.SELU.
_define(
    "selu",
    _lam * sp.Piecewise((x, x > 0), (_a * (sp.exp(x) - 1), True)),
    "scaled ELU",
    alpha=1.6732632423543772,
    lambda_=1.0507009873554805,
)
_define("gelu", x * (1 + sp.erf(x / sp.sqrt(2))) / 2, "x * Phi(x), exact (erf) form")
_define("silu", x * _sigmoid(x), "x * sigmoid(x) (Swish-1)")
_define("mish", x * sp.tanh(_softplus(x)), "x * tanh(softplus(x))")
_define("softplus", _softplus(_b * x) / _b, "log(1 + exp(beta*x)) / beta", beta=1.0)
_define("sigmoid", _sigmoid(x), "logistic sigmoid")
_define("tanh", sp.tanh(x), "hyperbolic tangent")


def _crrelu() -> Activation:
    from .eafo import derive_crrelu

    d = derive_crrelu()
    return Activation(
        "crrelu",
        d.expr,
        {d.eps: 0.01},
        "CRReLU: ReLU + eps * (EAFO correction), eps = 0.01 as in the paper",
        derived=True,
    )


register_derived("crrelu", _crrelu)

from . import corrections as _corrections  # noqa: E402,F401
