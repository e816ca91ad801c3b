"""Split an activation into smooth pieces, and integrate exactly where SymPy can.

Derivations need ``f`` on intervals where it is one smooth expression:
``Max(0, x)`` is ``0`` on ``(-oo, 0)`` and ``x`` on ``(0, oo)``. A flat piece
puts an atom into the output law. (The monotone branches inside a piece, found
numerically, are :mod:`eafo_sym.numeric.evaluate`'s business.)
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..budget import TimeUp, time_limit
from .symbols import x

__all__ = [
    "EXACT_TIME_LIMIT",
    "Segment",
    "breakpoints",
    "check_activation",
    "integrate_exact",
    "midpoint",
    "restrict",
    "segments",
]

#: Seconds SymPy may spend on one exact integral before the caller falls back to quadrature.
EXACT_TIME_LIMIT = 3.0


def check_activation(f: sp.Expr, what: str = "activation") -> sp.Expr:
    """Validate that ``f`` is a real SymPy expression of :data:`x` alone."""
    if not isinstance(f, sp.Basic):
        raise TypeError(f"{what} must be a SymPy expression, got {type(f).__name__}")
    if isinstance(f, (sp.Rel, sp.logic.boolalg.Boolean)) and not isinstance(f, sp.Expr):
        raise TypeError(f"{what} must be an expression, not a relation or condition: {f}")
    others = {s for s in f.atoms(sp.Symbol) if s.name == "x" and s != x}
    if others:
        raise ValueError(f"{what} uses a symbol 'x' that is not eafo_sym.x (use eafo_sym.x)")
    extra = f.free_symbols - {x}
    if extra:
        names = ", ".join(sorted(map(str, extra)))
        raise ValueError(
            f"{what} must be a function of x alone; it also depends on {names} "
            "(bind parameters first, e.g. activations.get(name).bind())"
        )
    return f


def _as_piecewise(expr: sp.Expr) -> sp.Expr:
    return sp.piecewise_fold(expr.rewrite(sp.Piecewise))


def breakpoints(expr: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> list[sp.Expr]:
    """Finite points in ``(lo, hi)`` where a piece of ``expr`` begins or ends."""
    pw = _as_piecewise(expr)
    points: set[sp.Expr] = set()
    for p in pw.atoms(sp.Piecewise):
        for _, cond in p.args:
            if cond in (sp.true, sp.false):
                continue
            for rel in cond.atoms(sp.Rel):
                sols = sp.solve(sp.Eq(rel.lhs, rel.rhs), x)
                points.update(s for s in sols if s.is_real)
    inside = [p for p in points if (p > lo) == sp.true and (p < hi) == sp.true]
    return sorted(inside, key=lambda p: float(p))


def midpoint(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """A point inside ``(a, b)``: the midpoint, or one unit in from a finite end.

    >>> midpoint(0, sp.oo), midpoint(-2, 4)
    (1, 1)
    """
    a, b = sp.sympify(a), sp.sympify(b)
    if a == -sp.oo and b == sp.oo:
        return sp.S.Zero
    if a == -sp.oo:
        return b - 1
    if b == sp.oo:
        return a + 1
    return (a + b) / 2


def restrict(expr: sp.Expr, a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """The single smooth expression that ``expr`` equals on the open interval ``(a, b)``.

    >>> restrict(sp.Max(0, x) + sp.Abs(x), 0, sp.oo)
    2*x
    """
    pw = _as_piecewise(expr)
    m = midpoint(a, b)

    def pick(e: sp.Expr) -> sp.Expr:
        if isinstance(e, sp.Piecewise):
            for val, cond in e.args:
                if cond == sp.true or bool(cond.subs(x, m)):
                    return pick(val)
            return sp.nan
        if e.args:
            return e.func(*(pick(a) for a in e.args))
        return e

    if not pw.has(sp.Piecewise):
        return expr
    return pick(pw)


@dataclass(frozen=True)
class Segment:
    """An open interval on which the activation is one smooth expression."""

    a: sp.Expr
    b: sp.Expr
    expr: sp.Expr

    @property
    def is_flat(self) -> bool:
        """Whether the expression is constant here (an atom of the output law)."""
        return not self.expr.has(x)

    @property
    def interval(self) -> sp.Interval:
        return sp.Interval.open(self.a, self.b)


def segments(f: sp.Expr, lo: sp.Expr, hi: sp.Expr, *extra: sp.Expr) -> list[Segment]:
    """Smooth segments of ``f`` on ``(lo, hi)``; ``extra`` expressions add their own breaks.

    >>> [(s.a, s.b, s.expr) for s in segments(sp.Max(0, x), -sp.oo, sp.oo)]
    [(-oo, 0, 0), (0, oo, x)]
    """
    pts: set[sp.Expr] = set(breakpoints(f, lo, hi))
    for e in extra:
        pts.update(breakpoints(e, lo, hi))
    edges = [lo, *sorted(pts, key=lambda p: float(p)), hi]
    return [Segment(a, b, restrict(f, a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def integrate_exact(
    expr: sp.Expr,
    a: sp.Expr,
    b: sp.Expr,
    shift: sp.Expr = 0,
    *,
    seconds: float | None = EXACT_TIME_LIMIT,
) -> sp.Expr | None:
    """``integral_a^b expr dx`` by SymPy, or ``None`` where SymPy finds no closed form in time.

    ``shift`` (the input law's location) is substituted first, ``x = t + shift``:
    SymPy integrates ``t**2*exp(-t**2/18)`` in milliseconds but takes seconds on
    the unshifted Gaussian and leaves ``erf + erfc`` pairs behind.

    >>> integrate_exact(x * sp.exp(-(x - 1)**2 / 2), -sp.oo, sp.oo, shift=1)
    sqrt(2)*sqrt(pi)
    """
    t = sp.Dummy("t", real=True)
    e = sp.expand(expr.subs(x, t + shift))
    total = sp.S.Zero
    try:
        with time_limit(seconds):
            for term in sp.Add.make_args(e):
                part = sp.integrate(term, (t, a - shift, b - shift))
                if part.has(sp.Integral):
                    return None
                total += part
            return sp.simplify(sp.expand(total.rewrite(sp.erf)))
    except TimeUp:
        return None
