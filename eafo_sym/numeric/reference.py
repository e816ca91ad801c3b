"""Independent reference numbers: what the checks and notebooks hold the derivations against.

Each function here computes a quantity the package also derives, by a route
that shares nothing with the derivation: the y-space density and entropy by
change of variables and quadrature over ``y`` (the package's entropy works in
``x``), Taylor coefficients by finite differences of an exactly integrated
entropy change (the package integrates the series' terms).

>>> from eafo_sym.laws import normal
>>> output_density(2 * x, normal())
sqrt(2)*exp(-y**2/8)/(4*sqrt(pi))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from ..catalog import resolve
from ..laws import Law
from ..symbolic.functional import inverse
from ..symbolic.symbols import x, y
from .quadrature import integrate

__all__ = ["grid_error", "output_density", "richardson_coefficients", "y_space_entropy"]


def output_density(f: Any, dist: Law, interval: Any = (-sp.oo, sp.oo)) -> sp.Expr:
    """The density of ``Y = f(X)`` by change of variables, ``q(y) = p(g(y)) |g'(y)|``.

    Needs ``f`` strictly monotone on ``interval`` (one branch); ``g`` is the
    package's :func:`~eafo_sym.inverse`.
    """
    g = inverse(resolve(f), interval)
    dg = sp.diff(g, y)
    # |g'| = g' on an increasing branch; Abs only where SymPy cannot tell the sign.
    return sp.simplify(dist.pdf.subs(x, g) * (dg if dg.is_positive else sp.Abs(dg)))


def y_space_entropy(
    f: Any, dist: Law, interval: Any = (-sp.oo, sp.oo)
) -> tuple[float, float]:
    """``-integral q(y) log q(y) dy`` and ``integral q dy`` by quadrature over ``f``'s range.

    The y-space form of the output entropy, computed directly from the
    density of :func:`output_density`, so it checks the x-space formula
    ``h(X) + E[log f'(X)]`` of :func:`~eafo_sym.output_entropy` independently.

    Returns:
        ``(entropy, mass)``; ``mass`` should be 1.

    >>> from eafo_sym.laws import normal
    >>> h, m = y_space_entropy(2 * x, normal())
    >>> round(h - float(normal().entropy()), 9), round(m, 12)
    (0.693147181, 1.0)
    """
    f = resolve(f)
    a, b = (sp.sympify(v) for v in interval)
    q = output_density(f, dist, (a, b))
    lo, hi = sorted(float(sp.limit(f, x, v)) if not v.is_finite else float(f.subs(x, v))
                    for v in (a, b))
    qf = sp.lambdify(y, q, modules=["scipy", "numpy"])

    def neg_q_log_q(t: float) -> float:
        with np.errstate(all="ignore"):
            v = float(qf(t))
        return 0.0 if not (v > 0 and math.isfinite(v)) else -v * math.log(v)

    def dens(t: float) -> float:
        with np.errstate(all="ignore"):
            v = float(qf(t))
        return v if math.isfinite(v) else 0.0

    # The law's breakpoints mapped through f: the y-mass lies where f sends the x-mass.
    fn = sp.lambdify(x, f, modules=["scipy", "numpy"])
    fr = dist.frame
    with np.errstate(all="ignore"):
        pts = [float(fn(fr.to_t(u))) for u in fr.points]
    pts = sorted(v for v in pts if math.isfinite(v))
    center = float(np.median(pts)) if pts else 0.0
    inner = pts[1:-1] if len(pts) > 3 else pts  # the bulk, not the far quantiles
    spread = (inner[-1] - inner[0]) / 2 if len(inner) > 1 else 0.0
    scale = spread if spread > 0 else 1.0
    kw = {"points": pts, "center": center, "scale": scale}
    h = integrate(neg_q_log_q, lo, hi, what="y-space entropy", **kw).value
    m = integrate(dens, lo, hi, what="y-space mass", **kw).value
    return h, m


def richardson_coefficients(
    delta: Callable[[float], float], step: float = 0.02
) -> tuple[float, float]:
    """``c_1, c_2`` of ``delta(eta) = c_1 eta + c_2 eta^2 + ...`` by finite differences.

    Central differences ``(d(e) - d(-e))/(2e) = c_1 + c_3 e^2 + ...`` and
    ``(d(e) + d(-e))/(2e^2) = c_2 + c_4 e^2 + ...`` at ``e`` and ``e/2``,
    combined by one Richardson step, so the truncation error is ``O(e^4)``.

    >>> c1, c2 = richardson_coefficients(lambda e: math.log(1 + e))
    >>> round(c1, 6), round(c2, 6)
    (1.0, -0.5)
    """

    def odd(e: float) -> float:
        return (delta(e) - delta(-e)) / (2 * e)

    def even(e: float) -> float:
        return (delta(e) + delta(-e)) / (2 * e * e)

    c1 = (4 * odd(step / 2) - odd(step)) / 3
    c2 = (4 * even(step / 2) - even(step)) / 3
    return c1, c2


def grid_error(a: Callable, b: Callable, lo: float = -8.0, hi: float = 8.0, n: int = 801) -> float:
    """``max |a - b| / (1 + |b|)`` on a grid (relative where values are large).

    >>> grid_error(np.sin, np.sin)
    0.0
    """
    t = np.linspace(lo, hi, n)
    with np.errstate(all="ignore"):
        va = np.asarray(a(t), dtype=float) * np.ones_like(t)
        vb = np.asarray(b(t), dtype=float) * np.ones_like(t)
    return float(np.max(np.abs(va - vb) / (1 + np.abs(vb))))
