"""Argument helpers shared by several subcommands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import sympy as sp

if TYPE_CHECKING:
    from ..laws import Law


def parse_kv(items: list[str] | None, what: str = "--param") -> dict[str, Any]:
    """Parse ``k=v`` strings into a dict of numbers (never evaluated as code).

    >>> parse_kv(["mu=1", "sigma=0.5"])
    {'mu': 1, 'sigma': 0.5}
    >>> parse_kv(["sigma"])
    Traceback (most recent call last):
    ...
    ValueError: --param 'sigma' is not of the form name=value
    """
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"{what} {item!r} is not of the form name=value")
        if not name.isidentifier():
            raise ValueError(f"{what} name {name!r} is not an identifier")
        try:
            out[name] = int(value)
        except ValueError:
            try:
                out[name] = float(value)
            except ValueError:
                raise ValueError(f"{what} {name}={value!r}: value is not a number") from None
    return out


def add_dist_arguments(p: argparse.ArgumentParser) -> None:
    """``--dist NAME`` and repeatable ``--param k=v`` for the input law."""
    from ..laws import LAWS

    p.add_argument(
        "--dist",
        default="normal",
        choices=sorted(LAWS),
        help="law of the pre-activation X (default: normal)",
    )
    p.add_argument(
        "--param",
        action="append",
        metavar="K=V",
        help="parameter of the input law, repeatable (e.g. --param sigma=2)",
    )


def dist_from_args(args: argparse.Namespace) -> Law:
    """Build the input law named by ``--dist``/``--param``."""
    from ..laws import from_name

    return from_name(args.dist, **parse_kv(args.param))


def activation_from_text(text: str) -> sp.Expr:
    """A registry name or a formula in x (parsed safely, never evaluated)."""
    from .. import catalog
    from ..parsing import parse_activation

    if text in catalog.names():
        return catalog.resolve(text)
    if text.isidentifier() and text != "x":
        raise ValueError(
            f"unknown activation {text!r}; known: {', '.join(sorted(catalog.names()))} "
            "(or give a formula in x)"
        )
    return parse_activation(text)
