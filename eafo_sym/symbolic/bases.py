"""Base activations as SymPy expressions in :data:`eafo_sym.x`, and the :class:`Activation` type.

The base activations are definitions (what PyTorch computes), written once
here. Activations that the package *derives* (CRReLU and the other EAFO
corrections) are not defined here: :mod:`eafo_sym.catalog` derives them with
:func:`eafo_sym.derive_correction` and lists both kinds under one set of names.

>>> BASES["relu"].expr
Max(0, x)
>>> BASES["leaky_relu"].params
{alpha: 0.01}
>>> BASES["leaky_relu"].bind().subs(x, -2)
-1/50
>>> as_expression("elu")
Piecewise((x, x > 0), (exp(x) - 1, True))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .symbols import param, x

__all__ = ["Activation", "BASES", "as_expression"]


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

    def __hash__(self) -> int:
        return hash((self.name, self.expr, tuple(self.params.items()), self.derived))

    @property
    def key(self) -> str:
        """A stable text that identifies the activation (for caches)."""
        params = ", ".join(f"{sp.srepr(k)}={v!r}" for k, v in self.params.items())
        return f"{self.name}:{sp.srepr(self.expr)}:{params}:{self.derived}"

    def bind(self, **values: float) -> sp.Expr:
        """The expression with parameters set (defaults unless given by name).

        >>> BASES["elu"].bind(alpha=2).subs(x, -sp.oo)
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


def as_expression(f: Any) -> sp.Expr:
    """A SymPy expression for a base name, an :class:`Activation` or an expression.

    Names and Activations are bound to their default parameters. Derived names
    (``"crrelu"``) live one layer up, in :mod:`eafo_sym.catalog`; strings that
    are not names are *not* parsed (use :func:`eafo_sym.parse_activation`).

    >>> as_expression("relu")
    Max(0, x)
    >>> as_expression("crrelu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'crrelu' is not a base activation (bases: celu, ...); derived ...get('crrelu')
    """
    if isinstance(f, Activation):
        return f.bind()
    if isinstance(f, str):
        try:
            return BASES[f].bind()
        except KeyError:
            raise ValueError(
                f"{f!r} is not a base activation (bases: {', '.join(sorted(BASES))}); "
                f"derived activations come from eafo_sym.catalog.get({f!r})"
            ) from None
    if isinstance(f, sp.Basic):
        return f
    if isinstance(f, (int, float)) and not isinstance(f, bool):
        return sp.sympify(f)
    raise TypeError(
        f"expected an activation name, Activation or SymPy expression, got {type(f).__name__}"
    )


def _sigmoid(t: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-t))


def _softplus(t: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(t))


def _bases() -> dict[str, Activation]:
    a, b, lam = param("alpha"), param("beta"), param("lambda_")
    elu = sp.Piecewise((x, x > 0), (a * (sp.exp(x) - 1), True))
    table = [
        ("relu", sp.Max(0, x), "rectified linear unit max(0, x)", {}),
        ("leaky_relu", sp.Max(0, x) + a * sp.Min(0, x), "max(0,x) + alpha*min(0,x)",
         {a: 0.01}),
        ("prelu", sp.Max(0, x) + a * sp.Min(0, x), "leaky ReLU with learnable slope",
         {a: 0.25}),
        ("elu", elu, "exponential linear unit", {a: 1.0}),
        ("celu", sp.Piecewise((x, x > 0), (a * (sp.exp(x / a) - 1), True)),
         "continuously differentiable ELU", {a: 1.0}),
        # The SELU constants are the fixed point of Klambauer et al. (2017), as in torch.nn.SELU.
        ("selu", lam * elu, "scaled ELU", {a: 1.6732632423543772, lam: 1.0507009873554805}),
        ("gelu", x * (1 + sp.erf(x / sp.sqrt(2))) / 2, "x * Phi(x), exact (erf) form", {}),
        ("silu", x * _sigmoid(x), "x * sigmoid(x) (Swish-1)", {}),
        ("mish", x * sp.tanh(_softplus(x)), "x * tanh(softplus(x))", {}),
        ("softplus", _softplus(b * x) / b, "log(1 + exp(beta*x)) / beta", {b: 1.0}),
        ("sigmoid", _sigmoid(x), "logistic sigmoid", {}),
        ("tanh", sp.tanh(x), "hyperbolic tangent", {}),
    ]
    return {name: Activation(name, e, p, d) for name, e, d, p in table}


#: The base activations by registry name, in registration order.
BASES: dict[str, Activation] = _bases()
