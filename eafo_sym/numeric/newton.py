r"""A second-order (Newton-like) EAFO step in a finite basis, against the gradient step.

Write the moved activation as ``f + sum_k c_k h_k`` for a few basis functions
``h_k``. In x-space ``H(c) = h(X) + E[log(f' + sum c_k h_k')]``, so, by
quadrature,

.. math:: g_k = \partial_k H = E[h_k'/f'], \qquad
          A_{jk} = \partial_j\partial_k H = -E[h_j' h_k' / f'^2] = -M_{jk}.

``A`` is negative definite (``H`` is concave, §4 of the notes): the plain
Newton step ``-A^{-1} g`` jumps to the stationary point of the quadratic model,
which is its **maximum** — it moves towards the WAFBC and *raises* the entropy.
A descent method has to flip the curvature: ``d_N = -M^{-1} g`` with
``M = -A`` (the Fisher-like metric of the second variation). Along ``d_N`` both
the first- and the second-order terms of the Taylor series are negative,
``H(eta d_N) - H = -(eta + eta^2/2) g^T M^{-1} g + O(eta^3)``.

The gradient step is the function-space gradient projected on the span in the
``L2(p)`` inner product, ``d_G = -G^{-1} g`` with ``G_{jk} = E[h_j h_k]``.
:func:`compare_steps` moves ``f`` by the same ``L2(p)`` distance along each and
reports the exact entropy change (quadrature, no series).

>>> from eafo_sym.laws import normal
>>> s = newton_step(x, normal(), [x * sp.exp(-x**2 / 2)], interval=(0, sp.oo))
>>> round(float(s.gradient[0]), 10)  # sqrt(2)/8, CRReLU's entropy slope
0.1767766953
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..catalog import resolve
from ..laws import Law, check_distribution
from ..symbolic.functional import as_interval, on_interval
from ..symbolic.pieces import check_activation
from ..symbolic.symbols import x
from .evaluate import numeric
from .quadrature import expectation

__all__ = ["NewtonStep", "newton_step", "compare_steps", "largest_steps", "default_basis"]


def default_basis(dist: Law, n: int = 3) -> list[sp.Expr]:
    """``x^k p(x) / p(mu)`` for ``k = 1..n``: the EAFO shape family (CRReLU's is ``k = 1``).

    >>> from eafo_sym.laws import normal
    >>> default_basis(normal(), 2)
    [x*exp(-x**2/2), x**2*exp(-x**2/2)]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    mu = dist.location if dist.location is not None else sp.S.Zero
    p0 = dist.pdf.subs(x, mu)
    return [sp.simplify(x**k * dist.pdf / p0) for k in range(1, n + 1)]


@dataclass(frozen=True)
class NewtonStep:
    """Gradient, curvature and the two step directions in a finite basis.

    Attributes:
        basis: The ``h_k``.
        gradient: ``g_k = E[h_k'/f']`` (first variation along ``h_k``).
        hessian: ``A = -M``, the second variation, negative definite.
        gram: ``G_{jk} = E[h_j h_k]``, the ``L2(p)`` inner products.
        newton: Coefficients of the curvature-aware descent direction ``-M^{-1} g``.
        plain_newton: Coefficients of ``-A^{-1} g`` (an ascent step, see module doc).
        gradient_dir: Coefficients of the ``L2(p)`` gradient direction ``-G^{-1} g``.
        interval: The interval the entropy is taken on.
    """

    basis: list
    gradient: np.ndarray
    hessian: np.ndarray
    gram: np.ndarray
    newton: np.ndarray
    plain_newton: np.ndarray
    gradient_dir: np.ndarray
    interval: tuple

    def direction(self, coeffs: Sequence[float]) -> sp.Expr:
        """``sum c_k h_k`` as an expression (coefficients as SymPy Floats)."""
        return sp.Add(
            *(sp.Float(float(c), 17) * h for c, h in zip(coeffs, self.basis, strict=True))
        )


def _interval(interval: Any, dist: Law) -> tuple[float, float]:
    a, b = as_interval(interval, dist)
    lo, hi = dist.quantile_range(1e-13)
    return max(float(a), lo), min(float(b), hi)


def _expectation(fn, a: float, b: float, dist: Law) -> float:
    with np.errstate(all="ignore"):
        return expectation(fn, dist, a, b, what="basis moment").value


def newton_step(
    f: Any, dist: Law, basis: Sequence[Any] | None = None, *, interval: Any = None
) -> NewtonStep:
    """Gradient and second variation of ``H`` in the span of ``basis``, and both steps.

    Args:
        f: Activation (name, Activation or expression), strictly increasing on
            the interval (a flat piece must be excluded with ``interval``).
        dist: Law of the input, numeric.
        basis: Directions ``h_k`` (expressions in ``x``); default
            :func:`default_basis` with 3 functions.
        interval: Restrict the entropy to a branch, e.g. ``(0, oo)`` for ReLU.

    Raises:
        ValueError: Empty or non-expression basis, linearly dependent basis,
            or ``f`` not increasing on the interval.

    >>> from eafo_sym.laws import normal
    >>> s = newton_step(x, normal(), [x * sp.exp(-x**2 / 2)], interval=(0, sp.oo))
    >>> bool(s.hessian[0, 0] < 0 < s.gradient[0])
    True
    """
    f = check_activation(resolve(f))
    dist = check_distribution(dist)
    basis = default_basis(dist) if basis is None else [resolve(h) for h in basis]
    if not basis:
        raise ValueError("basis must hold at least one direction")
    for h in basis:
        check_activation(h, "basis function")
    a, b = _interval(interval, dist)
    fp = numeric(sp.diff(f, x))
    grid = np.linspace(a, b, 2001)
    with np.errstate(all="ignore"):
        vals = np.asarray(fp(grid[1:-1]), dtype=float) * np.ones(grid.size - 2)
    if np.any(vals <= 0):
        raise ValueError(
            f"f = {f} is not increasing on ({a:g}, {b:g}); restrict interval to a monotone branch"
        )
    dh = [numeric(sp.diff(h, x)) for h in basis]
    hs = [numeric(h) for h in basis]
    n = len(basis)
    g = np.array([_expectation(lambda t, d=d: d(t) / fp(t), a, b, dist) for d in dh])
    M = np.empty((n, n))
    G = np.empty((n, n))
    for j in range(n):
        for k in range(j, n):
            M[j, k] = M[k, j] = _expectation(
                lambda t, j=j, k=k: dh[j](t) * dh[k](t) / fp(t) ** 2, a, b, dist
            )
            G[j, k] = G[k, j] = _expectation(lambda t, j=j, k=k: hs[j](t) * hs[k](t), a, b, dist)
    if np.linalg.cond(M) > 1e12 or np.linalg.cond(G) > 1e12:
        raise ValueError("basis is (numerically) linearly dependent on the interval")
    newton = -np.linalg.solve(M, g)
    return NewtonStep(
        basis=list(basis),
        gradient=g,
        hessian=-M,
        gram=G,
        newton=newton,
        plain_newton=-newton,
        gradient_dir=-np.linalg.solve(G, g),
        interval=(a, b),
    )


def _entropy_change(f: sp.Expr, h: sp.Expr, dist: Law, a: float, b: float) -> float:
    """``integral p log(1 + h'/f')`` on (a, b); NaN if ``f + h`` stops increasing."""
    r = numeric(sp.diff(h, x) / sp.diff(f, x))
    grid = np.linspace(a, b, 4001)
    with np.errstate(all="ignore"):
        vals = 1 + np.asarray(r(grid), dtype=float) * np.ones_like(grid)
    if np.any(vals[np.isfinite(vals)] <= 0):
        return math.nan
    return _expectation(lambda t: math.log1p(float(r(t))), a, b, dist)


def compare_steps(
    f: Any,
    dist: Law,
    basis: Sequence[Any] | None = None,
    *,
    radii: Sequence[float] = (0.01, 0.05, 0.1, 0.2),
    interval: Any = None,
) -> list[dict]:
    """Entropy decrease per step: gradient vs Newton-like step at equal ``L2(p)`` length.

    Each direction ``d`` is scaled to ``||eta d||_{L2(p)} = r`` (``r`` in
    ``radii``) and the exact change ``H[f + eta d] - H[f]`` is integrated.
    At equal ``L2(p)`` length the gradient direction wins to first order by
    construction (it is the steepest direction in that norm); the Newton-like
    direction is steepest in the ``M`` metric and goes further before ``f'``
    reaches 0 (see :func:`largest_steps`).

    Returns:
        Rows with ``radius, gradient, newton, plain_newton`` (exact changes;
        NaN where the step leaves the monotone activations),
        ``gradient_first_order, newton_first_order`` (``eta g.d``) and
        ``ratio`` (newton / gradient decrease).

    >>> from eafo_sym.laws import normal
    >>> rows = compare_steps("relu", normal(), radii=[0.05], interval=(0, sp.oo))
    >>> bool(rows[0]["gradient"] < rows[0]["newton"] < 0 < rows[0]["plain_newton"])
    True
    """
    f = check_activation(resolve(f))
    step = newton_step(f, dist, basis, interval=interval)
    branch = on_interval(f, dist, interval)
    a, b = step.interval
    rows = []
    for r in radii:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0:
            raise ValueError(f"radii must be positive numbers, got {r!r}")
        row: dict[str, float] = {"radius": float(r)}
        for name, c in (
            ("gradient", step.gradient_dir),
            ("newton", step.newton),
            ("plain_newton", step.plain_newton),
        ):
            eta = r / math.sqrt(float(c @ step.gram @ c))
            row[name] = _entropy_change(branch, step.direction(eta * c), dist, a, b)
            row[f"{name}_first_order"] = float(eta * step.gradient @ c)
        row["ratio"] = row["newton"] / row["gradient"]
        rows.append(row)
    return rows


def _max_eta(f: sp.Expr, d: sp.Expr, a: float, b: float) -> float:
    """The largest ``eta`` with ``f' + eta d' > 0`` on a grid of the interval."""
    grid = np.linspace(a, b, 8001)[1:-1]
    with np.errstate(all="ignore"):
        fp = np.asarray(numeric(sp.diff(f, x))(grid), dtype=float) * np.ones_like(grid)
        dp = np.asarray(numeric(sp.diff(d, x))(grid), dtype=float) * np.ones_like(grid)
    neg = (dp < 0) & np.isfinite(fp) & np.isfinite(dp)
    return float(np.min(-fp[neg] / dp[neg])) if np.any(neg) else math.inf


def largest_steps(
    f: Any,
    dist: Law,
    basis: Sequence[Any] | None = None,
    *,
    fraction: float = 0.5,
    interval: Any = None,
) -> dict[str, dict[str, float]]:
    """Each direction at ``fraction`` of its largest step that keeps ``f`` increasing.

    The fair "decrease per step" when the step length is not prescribed:
    EAFO must keep the activation monotone (else the x-space formula no longer
    is the entropy), and how far each direction may go before ``f'`` hits 0
    is where curvature information pays.

    Returns:
        ``{"gradient": {...}, "newton": {...}}`` with ``eta_max, eta, l2``
        (``L2(p)`` length of the step) and ``change`` (exact).

    >>> from eafo_sym.laws import normal
    >>> r = largest_steps("elu", normal())
    >>> bool(r["newton"]["change"] < r["gradient"]["change"] < 0)
    True
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    f = check_activation(resolve(f))
    step = newton_step(f, dist, basis, interval=interval)
    branch = on_interval(f, dist, interval)
    a, b = step.interval
    out = {}
    for name, c in (("gradient", step.gradient_dir), ("newton", step.newton)):
        unit = step.direction(c)
        eta_max = _max_eta(branch, unit, a, b)
        eta = fraction * eta_max
        out[name] = {
            "eta_max": eta_max,
            "eta": eta,
            "l2": eta * math.sqrt(float(c @ step.gram @ c)),
            "change": _entropy_change(branch, step.direction(eta * c), dist, a, b),
        }
    return out
