r"""The first variation of the entropy functional, derived from its Lagrangian.

Two coordinates describe the same functional (``docs/mathematics.md`` §2-3):

* x-space, no inverse needed: ``H[f] = h(X) + integral p(x) log f'(x) dx``,
  Lagrangian ``L(x, f, f') = p(x) log f'``;
* y-space, the paper's form through ``g = f^{-1}``: ``H[g] = -integral q log q dy``
  with ``q = p(g) g'``, Lagrangian ``L(y, g, g') = -p(g) g' log(p(g) g')``.

:func:`functional_derivative` feeds either Lagrangian to SymPy's
:func:`~sympy.calculus.euler.euler_equations` and substitutes the activation.
A perturbation ``delta f`` moves the inverse by ``delta g = -delta f / f'`` and
``dy = f' dx``, so the two derivatives are tied by
``dH/df(x) = -dH/dg(f(x))``; :func:`coordinates_agree` checks it.

>>> from eafo_sym.laws import normal
>>> functional_derivative(sp.Max(0, x), normal(), interval=(0, sp.oo))
sqrt(2)*x*exp(-x**2/2)/(2*sqrt(pi))
"""

from __future__ import annotations

from typing import Any, Literal

import sympy as sp
from sympy.calculus.euler import euler_equations

from ..budget import TimeUp, time_limit
from ..laws import Law, check_distribution
from .bases import as_expression
from .pieces import Segment, check_activation, restrict, segments
from .symbols import x, y

__all__ = [
    "lagrangian",
    "x_space_gradient",
    "on_interval",
    "functional_derivative",
    "inverse",
    "coordinates_agree",
    "branch_segments",
    "as_interval",
    "is_zero",
]

_F = sp.Function("f")
_G = sp.Function("g")


def lagrangian(dist: Law, space: Literal["x", "y"] = "x") -> sp.Expr:
    """The entropy Lagrangian in terms of an unknown function ``f(x)`` or ``g(y)``.

    >>> from eafo_sym.laws import logistic
    >>> lagrangian(logistic())
    exp(-x)*log(Derivative(f(x), x))/(1 + exp(-x))**2
    """
    return _lagrangian(check_distribution(dist).pdf, space)


def _lagrangian(pdf: sp.Expr, space: str) -> sp.Expr:
    """The Lagrangian for a density expression (one smooth piece of it, on a branch)."""
    if space == "x":
        return pdf * sp.log(_F(x).diff(x))
    if space == "y":
        q = pdf.subs(x, _G(y)) * _G(y).diff(y)
        return -q * sp.log(q)
    raise ValueError(f"space must be 'x' or 'y', got {space!r}")


def as_interval(interval: Any, dist: Law) -> tuple[sp.Expr, sp.Expr]:
    """Normalise ``interval`` (None, a pair or a SymPy Interval) inside the support."""
    lo, hi = dist.support.inf, dist.support.sup
    if interval is None:
        return lo, hi
    if isinstance(interval, sp.Interval):
        a, b = interval.inf, interval.sup
    else:
        try:
            a, b = (sp.sympify(v) for v in interval)
        except (TypeError, ValueError, sp.SympifyError):
            raise TypeError(
                f"interval must be a pair (a, b) or a SymPy Interval, got {interval!r}"
            ) from None
    if not (a.is_extended_real and b.is_extended_real):
        raise ValueError(f"interval ends must be real, got ({a}, {b})")
    if (a >= b) == sp.true:
        raise ValueError(f"interval must have a < b, got ({a}, {b})")
    return sp.Max(a, lo), sp.Min(b, hi)


def branch_segments(f: sp.Expr, dist: Law, interval: Any = None) -> list[Segment]:
    """The smooth pieces of ``f`` on the interval, refusing flat ones.

    A flat piece has ``f' = 0``: the output has an atom there, the entropy is
    ``-inf`` and no functional derivative exists, so the caller must restrict
    the interval to the branches where ``f`` is strictly monotone.
    """
    a, b = as_interval(interval, dist)
    segs = segments(f, a, b, dist.pdf)
    flat = [s for s in segs if s.is_flat]
    if flat:
        where = ", ".join(f"({s.a}, {s.b})" for s in flat)
        raise ValueError(
            f"f = {f} is constant on {where}: its output has an atom there and the entropy is "
            "-inf; restrict to the invertible branch, e.g. interval=(0, oo)"
        )
    return segs


def _substitute(expr: sp.Expr, fn: sp.Function, var: sp.Symbol, value: sp.Expr) -> sp.Expr:
    return expr.subs(fn(var), value).doit()


def x_space_gradient(piece: sp.Expr, density: sp.Expr, *, tidy: Any = sp.simplify) -> sp.Expr:
    """``dH/df`` on one smooth piece: the Euler-Lagrange expression of ``p log f'`` there.

    ``piece`` may hold parameter symbols besides ``x`` (they are constants of
    the variation); ``tidy`` simplifies the result.

    >>> from eafo_sym.laws import normal
    >>> x_space_gradient(x, normal().pdf)
    sqrt(2)*x*exp(-x**2/2)/(2*sqrt(pi))
    """
    (el,) = euler_equations(_lagrangian(density, "x"), _F(x), x)
    return tidy(_substitute(el.lhs, _F, x, piece))


def functional_derivative(
    f: Any,
    dist: Law,
    *,
    space: Literal["x", "y"] = "x",
    interval: Any = None,
) -> sp.Expr:
    r"""``dH/df`` at ``f`` (x-space) or ``dH/dg`` at ``g = f^{-1}`` (y-space).

    Derived as the Euler-Lagrange expression ``dL/df - d/dx dL/df'`` of the
    Lagrangian (:func:`lagrangian`), then evaluated at the activation.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        dist: Law of the input.
        space: ``"x"`` returns an expression in ``x``; ``"y"`` an expression in
            :data:`eafo_sym.y` for the inverse ``g`` (``f`` must be invertible
            on the interval, and SymPy must find the inverse).
        interval: Restrict to ``(a, b)``, e.g. ReLU's invertible branch ``(0, oo)``.

    Returns:
        The derivative; a Piecewise when ``f`` has several pieces on the interval.

    Raises:
        ValueError: ``f`` is flat on part of the interval, not invertible
            (``space="y"``), or the space is unknown.

    >>> from eafo_sym.laws import normal
    >>> functional_derivative(x, normal(), space="y")
    -sqrt(2)*y*exp(-y**2/2)/(2*sqrt(pi))
    """
    f = check_activation(as_expression(f))
    dist = check_distribution(dist)
    if space not in ("x", "y"):
        raise ValueError(f"space must be 'x' or 'y', got {space!r}")
    segs = branch_segments(f, dist, interval)
    pieces = []
    for seg in segs:
        p = restrict(dist.pdf, seg.a, seg.b)
        if space == "x":
            expr = x_space_gradient(seg.expr, p)
            cond = sp.And(x > seg.a, x < seg.b)
        else:
            g = inverse(seg.expr, (seg.a, seg.b))
            (el,) = euler_equations(_lagrangian(p, "y"), _G(y), y)
            expr = sp.simplify(_substitute(el.lhs, _G, y, g))
            lo, hi = sorted([_limit(seg.expr, seg.a), _limit(seg.expr, seg.b)], key=_key)
            cond = sp.And(y > lo, y < hi)
        pieces.append((expr, cond))
    if len(pieces) == 1:
        return pieces[0][0]
    return sp.Piecewise(*pieces, (sp.nan, True))


def on_interval(f: sp.Expr, dist: Law, interval: Any) -> sp.Expr:
    """``f`` itself, or its single smooth piece when ``interval`` picks one branch.

    >>> from eafo_sym.laws import normal
    >>> on_interval(sp.Max(0, x), normal(), (0, sp.oo))
    x
    """
    if interval is None:
        return f
    a, b = as_interval(interval, dist)
    exprs = {s.expr for s in segments(f, a, b, dist.pdf)}
    return exprs.pop() if len(exprs) == 1 else f


def _key(v: sp.Expr) -> float:
    return float(v) if v.is_finite else (-1e308 if v == -sp.oo else 1e308)


def _limit(expr: sp.Expr, at: sp.Expr) -> sp.Expr:
    if at.is_finite:
        return sp.simplify(expr.subs(x, at))
    return sp.limit(expr, x, at)


def inverse(f: Any, interval: Any = (-sp.oo, sp.oo)) -> sp.Expr:
    """The inverse ``g(y)`` of ``f`` on an interval where it is strictly monotone.

    The candidates are SymPy's solutions of ``y = f(x)``; the inverse is the
    one that maps ``f(t)`` back to ``t`` at every test point ``t`` of the
    interval (evaluated by SymPy at 30 digits). A turning point that SymPy can
    solve for is reported by name; otherwise no candidate passes every point.

    Args:
        f: Expression in ``x``.
        interval: ``(a, b)``; ``f`` must be strictly monotone there.

    Raises:
        ValueError: ``f`` is not strictly monotone on the interval (it has a
            turning point or is flat), or SymPy finds no inverse.

    >>> inverse(1 / (1 + sp.exp(-x)))
    log(-y/(y - 1))
    >>> inverse(x**2)
    Traceback (most recent call last):
    ...
    ValueError: f = x**2 is not invertible on (-oo, oo): its derivative changes sign at x = 0
    """
    f = check_activation(as_expression(f))
    a, b = (sp.sympify(v) for v in interval)
    d = sp.diff(f, x)
    if d == 0:
        raise ValueError(f"f = {f} is constant on ({a}, {b}) and has no inverse")
    turns = _sign_changes(d, a, b)
    if turns:
        at = ", ".join(str(t) for t in turns)
        raise ValueError(
            f"f = {f} is not invertible on ({a}, {b}): its derivative changes sign at x = {at}"
        )
    candidates = sp.solve(sp.Eq(y, f), x)
    points = _test_points(a, b)
    for g in candidates:
        if all(_round_trips(f, g, t) for t in points):
            return g
    raise ValueError(f"SymPy finds no inverse of f = {f} on ({a}, {b})")


def _sign_changes(d: sp.Expr, a: sp.Expr, b: sp.Expr, seconds: float = 3.0) -> list[sp.Expr]:
    """Zeros of ``d`` inside ``(a, b)`` where ``d`` changes sign, if SymPy can solve for them."""
    try:
        with time_limit(seconds):
            zeros = sp.solveset(d, x, sp.Interval.open(a, b))
    except (TimeUp, NotImplementedError, ValueError, TypeError):
        return []
    if not isinstance(zeros, sp.FiniteSet):
        return []
    out = []
    for z in sorted(zeros, key=lambda v: float(v)):
        h = sp.Rational(1, 10**6)
        left, right = (sp.N(d.subs(x, z + s), 30) for s in (-h, h))
        if left.is_real and right.is_real and (left * right) < 0:
            out.append(z)
    return out


def _test_points(a: sp.Expr, b: sp.Expr, n: int = 7) -> list[sp.Expr]:
    """``n`` rational points spread inside ``(a, b)`` (infinite ends: out to +-20)."""
    lo = a if a.is_finite else min(sp.Integer(-20), b - 20) if b.is_finite else sp.Integer(-20)
    hi = b if b.is_finite else max(sp.Integer(20), a + 20) if a.is_finite else sp.Integer(20)
    # Offsets by 1/7 avoid special points (0, integers) where branches may touch.
    return [lo + (hi - lo) * sp.Rational(2 * k + 1, 2 * n) + sp.Rational(1, 7000) for k in range(n)]


def _round_trips(f: sp.Expr, g: sp.Expr, t: sp.Expr) -> bool:
    try:
        back = complex(sp.N(g.subs(y, sp.N(f.subs(x, t), 40)), 30))
    except (TypeError, ValueError):
        return False
    return abs(back - complex(t)) < 1e-12 * (1 + abs(complex(t)))


def is_zero(expr: sp.Expr, *, points: int = 7, rtol: float = 1e-10) -> bool:
    """Whether ``expr`` (in ``x``) vanishes: symbolically if SymPy can show it, else at points.

    The numeric fallback evaluates at ``points`` points in ``[-3, 3]`` with
    30-digit mpmath and accepts ``|expr| <= rtol``.

    >>> is_zero(sp.log(1 + sp.exp(x)) - sp.log(sp.exp(-x) + 1) - x)
    True
    """
    e = sp.simplify(expr)
    if e == 0:
        return True
    if sp.simplify(e.rewrite(sp.exp)) == 0:
        return True
    for k in range(points):
        t = sp.Rational(-3) + sp.Rational(6 * k, points - 1) + sp.Rational(1, 7)
        v = sp.N(e.subs(x, t), 30)
        if not v.is_number or abs(complex(v)) > rtol:
            return False
    return True


def coordinates_agree(f: Any, dist: Law, *, interval: Any = None) -> bool:
    """Check ``dH/df(x) + dH/dg(f(x)) == 0`` on every branch (x- and y-space agree).

    >>> from eafo_sym.laws import normal
    >>> coordinates_agree(sp.exp(x), normal())
    True
    >>> coordinates_agree("relu", normal(), interval=(0, sp.oo))
    True
    """
    f = check_activation(as_expression(f))
    for seg in branch_segments(f, dist, interval):
        iv = (seg.a, seg.b)
        dfx = functional_derivative(seg.expr, dist, space="x", interval=iv)
        dgy = functional_derivative(seg.expr, dist, space="y", interval=iv)
        if not is_zero(dfx + dgy.subs(y, seg.expr)):
            return False
    return True
