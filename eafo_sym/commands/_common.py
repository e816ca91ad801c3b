"""Argument helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import math
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
    >>> parse_kv(["sigma=2", "sigma=3"])
    Traceback (most recent call last):
    ...
    ValueError: --param sigma is given twice (sigma=2, sigma=3); give each parameter once
    >>> parse_kv(["nu=nan"])
    Traceback (most recent call last):
    ...
    ValueError: --param nu='nan': value is not a finite number
    """
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"{what} {item!r} is not of the form name=value")
        if not name.isidentifier():
            raise ValueError(f"{what} name {name!r} is not an identifier")
        if name in out:
            raise ValueError(
                f"{what} {name} is given twice ({name}={out[name]}, {name}={value}); "
                "give each parameter once"
            )
        out[name] = _number(value, f"{what} {name}={value!r}")
    return out


def _number(text: str, what: str) -> int | float:
    """An int or a finite float (not 'inf' or 'nan'; at most 40 characters)."""
    if len(text) > 40:
        raise ValueError(f"{what}: value is longer than 40 characters")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: value is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: value is not a finite number")
    return value


def check_bounds(args: argparse.Namespace, bounds: dict[str, tuple[int, int]]) -> None:
    """Refuse an integer option outside its ``(low, high)`` bounds (options not given pass).

    >>> check_bounds(argparse.Namespace(order=3), {"order": (1, 20)})
    >>> check_bounds(argparse.Namespace(order=10**6), {"order": (1, 20)})
    Traceback (most recent call last):
    ...
    ValueError: --order must be positive and at most 20, got 1000000
    >>> check_bounds(argparse.Namespace(split_seed=-1), {"split_seed": (0, 9)})
    Traceback (most recent call last):
    ...
    ValueError: --split-seed must be between 0 and 9, got -1
    """
    for dest, (lo, hi) in bounds.items():
        value = getattr(args, dest)
        if value is not None and not lo <= value <= hi:
            flag = "--" + dest.replace("_", "-")
            allowed = f"positive and at most {hi}" if lo == 1 else f"between {lo} and {hi}"
            raise ValueError(f"{flag} must be {allowed}, got {value}")


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


def activation_from_text(text: str, law: Law | None = None) -> sp.Expr:
    """A registry name or a formula in x (parsed safely, never evaluated).

    With ``law``, the activation must also be real and finitely branched on
    the law's support (:func:`eafo_sym.symbolic.admissible.check_admissible`).
    """
    from .. import catalog
    from ..parsing import parse_activation

    if text in catalog.names():
        f = catalog.resolve(text)
    elif text.isidentifier() and text != "x":
        raise ValueError(
            f"unknown activation {text!r}; known: {', '.join(sorted(catalog.names()))} "
            "(or give a formula in x)"
        )
    else:
        f = parse_activation(text)
    if law is not None:
        from ..symbolic.admissible import check_admissible

        check_admissible(f, law)
    return f
