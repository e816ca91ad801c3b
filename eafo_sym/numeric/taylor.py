r"""Taylor coefficients of the entropy functional as numbers, and the exact change they approximate.

:func:`entropy_taylor` takes the coefficients that SymPy integrates in closed
form (:func:`eafo_sym.symbolic.taylor.taylor_coefficients`) and evaluates the
rest by quadrature; :func:`entropy_change` integrates
``H[f + eta h] - H[f] = integral p log(1 + eta h'/f')`` directly, with no
series: the independent number the coefficients are checked against
(``docs/mathematics.md`` §5).

>>> from eafo_sym.laws import normal
>>> entropy_taylor(x, x * sp.exp(-x**2 / 2), normal(), 2, interval=(0, sp.oo))
[sqrt(2)/8, -sqrt(3)/18]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ..catalog import resolve
from ..laws import Law, check_distribution
from ..symbolic.pieces import check_activation, segments
from ..symbolic.symbols import x
from ..symbolic.taylor import TaylorTerm, taylor_coefficients, taylor_pieces
from .evaluate import LogAbs, Robust, numeric
from .quadrature import expectation

__all__ = ["entropy_taylor", "entropy_change", "first_variation", "second_variation"]


def entropy_taylor(
    f: Any,
    h: Any,
    dist: Law,
    order: int,
    *,
    interval: Any = None,
    exact: bool = True,
) -> list[sp.Expr]:
    """Coefficients ``[c_1, ..., c_order]`` of ``H[f + eta*h] - H[f]``.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        h: Direction of the perturbation, an expression in ``x``.
        dist: Law of the input.
        order: Number of coefficients (``>= 1``).
        interval: Restrict the entropy to ``(a, b)`` (ReLU's branch ``(0, oo)``).
        exact: Try SymPy first; each piece SymPy cannot integrate falls back
            to quadrature (a SymPy Float). ``False`` goes numeric directly.

    Raises:
        ValueError: ``order < 1``, ``f`` flat on the interval, or an integral diverges.
        TypeError: ``order`` not an int, or ``h`` not an expression.
    """
    f = check_activation(resolve(f))
    h = check_activation(resolve(h), "direction h")
    dist = check_distribution(dist)

    def quadrature(t: TaylorTerm, k: int) -> sp.Expr:
        return sp.Float(_moment(t.moment, dist, t.a, t.b, f"c_{k}"), 15)

    return taylor_coefficients(
        f, h, dist, order, interval=interval, exact=exact, fallback=quadrature
    )


def _moment(expr: sp.Expr, dist: Law, a: sp.Expr, b: sp.Expr, what: str) -> float:
    """``integral_a^b p(x) expr(x) dx`` by quadrature, with SciPy's stable log-density."""
    fn = Robust(expr)
    with np.errstate(all="ignore"):
        return expectation(fn, dist, float(a), float(b), what=what).value


def entropy_change(
    f: Any, h: Any, dist: Law, eta: float, *, interval: Any = None
) -> float:
    """``H[f + eta*h] - H[f] = integral p log(1 + eta h'/f')`` by quadrature (no series).

    The independent number the Taylor coefficients are checked against.

    >>> from eafo_sym.laws import normal
    >>> round(entropy_change(x, x, normal(), 1.0), 12)  # f = 2x: log 2
    0.69314718056
    """
    f = check_activation(resolve(f))
    h = check_activation(resolve(h), "direction h")
    dist = check_distribution(dist)
    total = 0.0
    for seg, _p, hk in taylor_pieces(f, h, dist, interval):
        fp = sp.diff(seg.expr, x)
        moved = LogAbs(fp + sp.nsimplify(eta) * sp.diff(hk, x))
        base = LogAbs(fp)

        def change(t: float, moved=moved, base=base) -> float:
            return moved(t) - base(t)

        with np.errstate(all="ignore"):
            total += expectation(
                change, dist, float(seg.a), float(seg.b), what="entropy change"
            ).value
    return total


def second_variation(f: Any, h: Any, dist: Law, *, interval: Any = None) -> sp.Expr:
    """``d^2/d eta^2 H[f + eta h]`` at ``eta = 0``: ``-integral p h'^2 / f'^2 <= 0``.

    >>> from eafo_sym.laws import normal
    >>> second_variation(x, x, normal())
    -1
    """
    return 2 * entropy_taylor(f, h, dist, 2, interval=interval)[1]


def first_variation(f: sp.Expr, h: sp.Expr, dist: Law, tail: float = 1e-13) -> float:
    """``dH[f + eta h]/d eta`` at 0, ``integral p h'/f'``, for a monotone ``f`` (quadrature).

    Integrates over the quantile range holding all but ``2*tail`` of the mass,
    split at the breakpoints of ``f`` and ``h``: out there ``p`` underflows
    while ``h'/f'`` can overflow (ELU's ``exp(-x)``).

    >>> from eafo_sym.laws import normal
    >>> round(first_variation(x, x, normal()), 8)  # d/d eta log(1 + eta) = 1
    1.0
    """
    from ..symbolic.pieces import restrict

    lo, hi = dist.quantile_range(tail)
    total = 0.0
    for seg in segments(f, lo, hi, h, dist.pdf):
        ratio = numeric(sp.diff(restrict(h, seg.a, seg.b), x) / sp.diff(seg.expr, x))
        with np.errstate(all="ignore"):
            total += expectation(
                ratio, dist, float(seg.a), float(seg.b), what="first variation"
            ).value
    return total
