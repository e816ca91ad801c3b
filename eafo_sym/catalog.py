"""The activation catalog: base forms and the activations EAFO derives from them, by name.

The base activations are definitions (:data:`eafo_sym.symbolic.bases.BASES`).
The derived ones are registered as factories that run the derivation
(:func:`eafo_sym.derive_correction`) the first time they are asked for, so
nothing derived is ever typed in and nothing is derived at import. Derivations
are cached on disk (:mod:`eafo_sym.cache`), so the next process reads them.

* ``crrelu``: the paper's CRReLU, ReLU corrected under a standard normal input;
* ``eafo_<base>`` for :data:`CORRECTED_BASES`: the same step from other bases,
  with a learnable ``eps`` (default ``+0.01``, the paper's initial value, so
  every ``eafo_*`` module is a drop-in twin of CRReLU; the derived
  entropy-descent sign is in the description).

>>> get("relu").expr
Max(0, x)
>>> get("leaky_relu").params
{alpha: 0.01}
>>> sorted(names())[:2]
['celu', 'crrelu']
>>> get("swishh")
Traceback (most recent call last):
...
ValueError: unknown activation 'swishh'; known: celu, crrelu, ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from .symbolic.bases import BASES, Activation, as_expression
from .symbolic.eafo import PAPER_EPS, corrected_activation, derive_crrelu

__all__ = [
    "CORRECTED_BASES",
    "Activation",
    "get",
    "names",
    "register",
    "register_derived",
    "resolve",
]

#: Bases that get an ``eafo_<base>`` activation.
CORRECTED_BASES: tuple[str, ...] = ("leaky_relu", "prelu", "elu", "softplus", "tanh", "silu")

_REGISTRY: dict[str, Activation | Callable[[], Activation]] = dict(BASES)


def register(act: Activation, *, overwrite: bool = False) -> Activation:
    """Add an activation to the catalog (``overwrite=True`` to replace one)."""
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
    """Turn a catalog name, an :class:`Activation` or an expression into a SymPy expression.

    Names and Activations are bound to their default parameters. Strings that
    are not names are *not* parsed here (use :func:`eafo_sym.parse_activation`
    for user formulas).

    >>> resolve("relu")
    Max(0, x)
    """
    return get(f).bind() if isinstance(f, str) else as_expression(f)


def _crrelu() -> Activation:
    d = derive_crrelu()
    return Activation(
        "crrelu",
        d.expr,
        {d.eps: PAPER_EPS},
        f"CRReLU: ReLU + eps * (EAFO correction), eps = {PAPER_EPS} as in the paper",
        derived=True,
    )


def _factory(base: str) -> Callable[[], Activation]:
    def build() -> Activation:
        return corrected_activation(base)

    build.__name__ = f"_eafo_{base}"
    return build


register_derived("crrelu", _crrelu)
for _base in CORRECTED_BASES:
    register_derived(f"eafo_{_base}", _factory(_base))
