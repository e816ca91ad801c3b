r"""The worst activation function with boundary conditions (WAFBC).

Maximise ``H[f] = h(X) + integral p log f'`` subject to ``f(x_a) = y_a``,
``f(x_b) = y_b``. The Lagrangian ``L = p(x) log f'`` does not depend on ``f``
itself, so the Euler-Lagrange equation ``d/dx (dL/df') = 0`` has the first
integral ``dL/df' = p/f' = C1``; integrating ``f' = p/C1`` and imposing the
boundary conditions gives the scaled CDF

.. math:: f^*(x) = y_a + (y_b - y_a) \frac{F(x) - F(x_a)}{F(x_b) - F(x_a)} .

The code performs each step (``euler_equations``, the first integral, the
integration, the linear solve for ``C1, C2``) and then checks the result
against the Euler-Lagrange equation and the boundary conditions. Concavity:
the second variation ``-integral p h'^2/f'^2`` is ``<= 0`` for every ``h``,
so the stationary point is the global maximum.

>>> from eafo_sym.laws import logistic
>>> f_star = worst_activation(logistic(), 0, 1).expr
>>> f_star, sp.simplify(f_star - 1 / (1 + sp.exp(-x)))
(exp(x)/(exp(x) + 1), 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.calculus.euler import euler_equations

from ..laws import Law, _as_param, check_distribution
from .functional import _F, as_interval, is_zero, lagrangian
from .pieces import segments
from .symbols import x

__all__ = ["worst_activation", "WorstActivation"]

_C1, _C2 = sp.symbols("C1 C2")
_h = sp.Function("h")


@dataclass(frozen=True)
class WorstActivation:
    """The WAFBC and the steps that lead to it.

    Attributes:
        expr: ``f*(x)``.
        euler_lagrange: The Euler-Lagrange equation of ``L = p log f'``.
        first_integral: ``dL/df' = C1`` (valid because ``dL/df = 0``).
        general_solution: ``f = C2 + (F(x) - F(x_a))/C1``.
        constants: ``{C1: ..., C2: ...}`` from the boundary conditions.
        second_variation: ``-p h'^2 / f*'^2`` for an arbitrary direction ``h(x)``.
        concave: Whether SymPy proves the second-variation integrand ``<= 0``.
        entropy: ``H[f*]`` on the whole support (``log|y_b - y_a|``), else None.
        x_a, x_b, y_a, y_b: The boundary conditions.
    """

    expr: sp.Expr
    euler_lagrange: sp.Eq
    first_integral: sp.Eq
    general_solution: sp.Eq
    constants: dict
    second_variation: sp.Expr
    concave: bool
    entropy: sp.Expr | None
    x_a: sp.Expr
    x_b: sp.Expr
    y_a: sp.Expr
    y_b: sp.Expr


def _cdf_at(dist: Law, point: sp.Expr) -> sp.Expr:
    """F at a point; at the ends of the support the CDF axioms give 0 and 1.

    Where the CDF's expression has a removable singularity at the point (a
    ``0/0`` that substitution turns into ``nan``), its limit there is taken.
    """
    if point == dist.support.inf:
        return sp.S.Zero
    if point == dist.support.sup:
        return sp.S.One
    value = sp.simplify(dist.cdf.subs(x, point))
    if value.is_finite is False or value.has(sp.nan, sp.zoo):
        value = sp.limit(dist.cdf, x, point)
    if value.is_finite is False or value.has(sp.nan, sp.zoo):
        raise ValueError(f"worst_activation: the CDF of {dist} has no finite value at {point}")
    return value


def _vanishes(expr: sp.Expr, dist: Law) -> bool:
    """Whether ``expr`` is 0 on every smooth piece of the support (Laplace has ``|x|``)."""
    return all(
        is_zero(seg.expr) for seg in segments(expr, dist.support.inf, dist.support.sup, dist.pdf)
    )


def worst_activation(
    dist: Law, y_a: Any = 0, y_b: Any = 1, *, interval: Any = None
) -> WorstActivation:
    """Solve the Euler-Lagrange equation of the entropy with ``f(x_a)=y_a``, ``f(x_b)=y_b``.

    Args:
        dist: Law of the input.
        y_a: Value at the left end (``f(-oo)`` on the whole line).
        y_b: Value at the right end; must differ from ``y_a``.
        interval: ``(x_a, x_b)``; default the support of ``dist``.

    Raises:
        ValueError: ``y_a == y_b`` (no monotone f joins them), or a bad interval.

    >>> from eafo_sym.laws import normal
    >>> w = worst_activation(normal(), -1, 1)
    >>> w.expr
    erf(sqrt(2)*x/2)
    >>> w.entropy
    log(2)
    >>> worst_activation(normal(), 1, 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: worst_activation: boundary values coincide (y_a = y_b = 1); no monotone ...
    """
    dist = check_distribution(dist)
    y_a, y_b = _as_param("worst_activation", "y_a", y_a), _as_param("worst_activation", "y_b", y_b)
    if sp.simplify(y_b - y_a) == 0:
        raise ValueError(
            f"worst_activation: boundary values coincide (y_a = y_b = {y_a}); "
            "no monotone activation joins them"
        )
    x_a, x_b = as_interval(interval, dist)
    L = lagrangian(dist, "x")
    (el,) = euler_equations(L, _F(x), x)
    # Solve once for a generic density P(x), then specialise: the first integral
    # and its quadrature do not depend on which law p is.
    P = sp.Function("p", positive=True)
    L_generic = P(x) * sp.log(_F(x).diff(x))
    fp = _F(x).diff(x)
    # L has no explicit f, so dL/df' is conserved along solutions (first integral).
    if sp.diff(L_generic.subs(_F(x), sp.Symbol("_f")), sp.Symbol("_f")) != 0:  # pragma: no cover
        raise AssertionError("the entropy Lagrangian unexpectedly depends on f")
    first_integral = sp.Eq(sp.diff(L_generic, fp), _C1)
    (fp_sol,) = sp.solve(first_integral, fp)  # f' = p(x)/C1
    scale = sp.simplify(fp_sol / P(x))
    if scale.has(x):  # pragma: no cover - f' is linear in p by construction
        raise AssertionError(f"unexpected first-integral solution f' = {fp_sol}")
    # integral_{x_a}^x p = F(x) - F(x_a): the CDF is SymPy's antiderivative of the density.
    general = _C2 + scale * (dist.cdf - _cdf_at(dist, x_a))
    bcs = [
        sp.Eq(_C2, y_a),
        sp.Eq(_C2 + scale * (_cdf_at(dist, x_b) - _cdf_at(dist, x_a)), y_b),
    ]
    consts = sp.solve(bcs, [_C1, _C2], dict=True)
    if len(consts) != 1:  # pragma: no cover - the system is linear in 1/C1 and C2
        raise ValueError(f"worst_activation: boundary conditions give {len(consts)} solutions")
    consts = consts[0]
    f_star = general.subs(consts)
    if not f_star.has(sp.hyper):
        # simplify may bring back exp_polar(I*pi) (= -1) inside hyper: plain exp evaluates it.
        # A CDF kept as 2F1 (Student-t with large nu) is left as it is: simplify gains
        # nothing on it and takes a minute.
        f_star = sp.simplify(f_star).replace(sp.exp_polar, sp.exp)
    # Checks the derivation: f* solves the Euler-Lagrange equation.
    residual = el.lhs.subs(_F(x), f_star).doit()
    if not _vanishes(residual, dist):
        raise AssertionError(f"WAFBC check failed: Euler-Lagrange residual {residual}")
    d_star = sp.diff(f_star, x)
    if d_star.has(sp.hyper):
        # The first integral's f' = p/C1, checked against the 2F1's derivative (numerically:
        # simplify would spend a minute in hyperexpand).
        first = (scale * dist.pdf).subs(consts)
        if not is_zero(d_star - first):  # pragma: no cover - the CDF is the density's integral
            raise AssertionError(f"WAFBC check failed: f*' = {d_star} is not p/C1 = {first}")
        d_star = first
    sv = sp.simplify(-dist.pdf * sp.diff(_h(x), x) ** 2 / d_star**2)
    concave = bool(sp.simplify(dist.pdf).is_nonnegative) or bool(
        (-sv / sp.diff(_h(x), x) ** 2).is_nonnegative
    )
    whole = x_a == dist.support.inf and x_b == dist.support.sup
    # On the whole support: log f*' = log p - log C1, so H = h(X) + E[log p] - log C1 = -log C1.
    entropy = sp.simplify(-sp.log(sp.Abs(consts[_C1]))) if whole else None
    return WorstActivation(
        expr=f_star,
        euler_lagrange=el,
        first_integral=first_integral,
        general_solution=sp.Eq(_F(x), general),
        constants=consts,
        second_variation=sv,
        concave=concave,
        entropy=entropy,
        x_a=x_a,
        x_b=x_b,
        y_a=y_a,
        y_b=y_b,
    )
