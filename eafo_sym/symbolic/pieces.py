"""Split an activation into smooth pieces, and integrate exactly where SymPy can.

Derivations need ``f`` on intervals where it is one smooth expression:
``Max(0, x)`` is ``0`` on ``(-oo, 0)`` and ``x`` on ``(0, oo)``. A flat piece
puts an atom into the output law. (The monotone branches inside a piece, found
numerically, are :mod:`eafo_sym.numeric.evaluate`'s business.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy as sp

from ..budget import TimeUp, time_limit
from .symbols import x

__all__ = [
    "EXACT_TIME_LIMIT",
    "Segment",
    "breakpoints",
    "check_activation",
    "injectivity_problem",
    "integrate_exact",
    "midpoint",
    "restrict",
    "segments",
    "turning_points",
]

#: Seconds SymPy may spend on one exact integral before the caller falls back to quadrature.
EXACT_TIME_LIMIT = 3.0


def check_activation(
    f: sp.Expr, what: str = "activation", parameters: Any = ()
) -> sp.Expr:
    """Validate that ``f`` is a real SymPy expression of :data:`x` alone.

    ``parameters`` are further symbols ``f`` may hold: an input law's
    (``mu``, ``sigma``) in a derivation under a parametric law.
    """
    if not isinstance(f, sp.Basic):
        raise TypeError(f"{what} must be a SymPy expression, got {type(f).__name__}")
    if isinstance(f, (sp.Rel, sp.logic.boolalg.Boolean)) and not isinstance(f, sp.Expr):
        raise TypeError(f"{what} must be an expression, not a relation or condition: {f}")
    if f.has(sp.DiracDelta):
        raise ValueError(
            f"{what} has a DiracDelta, so it is not a function: an x-space EAFO step on a kinked "
            "activation carries the gradient's point terms as deltas (docs/mathematics.md §8)"
        )
    others = {s for s in f.atoms(sp.Symbol) if s.name == "x" and s != x}
    if others:
        raise ValueError(f"{what} uses a symbol 'x' that is not eafo_sym.x (use eafo_sym.x)")
    extra = f.free_symbols - {x} - set(parameters)
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
    def outside(p: sp.Expr) -> bool:
        return (p <= lo) == sp.true or (p >= hi) == sp.true

    # A break at a symbol (a Laplace law's kink at mu) cannot be ordered with the others.
    unordered = [p for p in points if not p.is_number and not outside(p)]
    if unordered:
        raise ValueError(
            f"a piece begins at x = {', '.join(map(str, unordered))}, which depends on symbols, "
            f"so it cannot be placed in ({lo}, {hi}); give the law's location a number"
        )
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


def _scan_grid(dist: Any, a: sp.Expr, b: sp.Expr, n: int = 480) -> list[float]:
    """Points to scan for sign changes: ``[-12, 12]`` and the law's bulk (12 scales around it).

    The turning points belong to the activation, the mass that makes them
    matter to the law: a law of scale ``1e8`` must not stretch the scan over
    GELU's minimum at ``-0.75``, nor one of scale ``1e-6`` shrink it away.
    """
    windows = [(-12.0, 12.0)]
    if dist is not None:
        loc, scale = dist.location, dist.scale
        loc = float(loc) if loc is not None and loc.is_number else 0.0
        scale = float(scale) if scale is not None and scale.is_number else 1.0
        windows.append((loc - 12 * scale, loc + 12 * scale))
    lo, hi = float(a), float(b)
    pts = {
        w0 + (w1 - w0) * k / n for w0, w1 in windows for k in range(1, n)
    }
    return sorted(t for t in pts if lo < t < hi)


def turning_points(
    d: sp.Expr, a: sp.Expr, b: sp.Expr, dist: Any = None, *, seconds: float = 3.0
) -> list[sp.Expr]:
    """Points in ``(a, b)`` where the derivative ``d`` (of ``x`` alone) changes sign.

    Exact where SymPy solves ``d = 0`` (SiLU: ``-1 - LambertW(exp(-1))``);
    otherwise the sign of ``d`` is scanned at 30 digits over ``[-12, 12]``
    and the bulk of the law (12 scales around its location) and each change
    refined by mpmath's root finder, giving 15-digit Floats (GELU, Mish).

    >>> [sp.N(t, 6) for t in turning_points(sp.diff(x / (1 + sp.exp(-x)), x), -sp.oo, sp.oo)]
    [-1.27846]
    """
    import mpmath

    def changes_sign(t: sp.Expr) -> bool:
        h = sp.Rational(1, 10**6)
        left, right = (sp.N(d.subs(x, t + s), 30) for s in (-h, h))
        return bool(left.is_real and right.is_real and left * right < 0)

    fn = sp.lambdify(x, d, modules="mpmath")
    scanned = []
    with mpmath.workdps(30):
        grid = [mpmath.mpf(t) for t in _scan_grid(dist, a, b)]
        vals = []
        for t in grid:
            try:
                vals.append(mpmath.re(fn(t)))
            except (ZeroDivisionError, ValueError, OverflowError):
                vals.append(mpmath.mpf(0))
        for t0, t1, v0, v1 in zip(grid[:-1], grid[1:], vals[:-1], vals[1:], strict=True):
            if v0 * v1 < 0:
                r = mpmath.findroot(fn, (t0, t1), solver="anderson")
                scanned.append(sp.Float(mpmath.re(r), 15))
    # The exact roots where SymPy finds them; a short budget when the scan saw none (a
    # polynomial's roots outside the window still show, a transcendental d costs 0.5 s).
    inside = sp.Interval.open(a, b)
    try:
        with time_limit(seconds if scanned else min(seconds, 0.5)):
            sols = sp.solve(sp.Eq(d, 0), x)
        exact = [r for r in sols if r.is_real and inside.contains(r) == sp.true]
        found = sorted((r for r in exact if changes_sign(r)), key=lambda r: float(r))
        if len(found) >= len(scanned):  # not a partial answer
            return found
    except (NotImplementedError, TimeUp, ValueError, TypeError):
        pass
    return scanned


def _end_value(expr: sp.Expr, at: sp.Expr, side: str, seconds: float = 3.0) -> float:
    """``expr``'s value (or one-sided limit) at an end of its piece, as a float (may be inf)."""
    if at.is_finite:
        v = expr.subs(x, at)
        if v.is_finite:
            return float(sp.N(v, 30))
    try:
        with time_limit(seconds):
            v = sp.limit(expr, x, at, side if at.is_finite else "+-"[at == sp.oo])
        if v.is_extended_real:
            return float(v)
    except (TimeUp, NotImplementedError, ValueError, TypeError):
        pass
    # No limit in time: far inside the piece stands in for it (ranges only need to be ordered).
    probe = at - sp.Rational(1, 10**9) if side == "-" else at + sp.Rational(1, 10**9)
    if not at.is_finite:
        probe = sp.Integer(10**6) if at == sp.oo else sp.Integer(-(10**6))
    return float(sp.re(sp.N(expr.subs(x, probe), 30)))


@lru_cache(maxsize=256)
def injectivity_problem(f: sp.Expr, a: sp.Expr, b: sp.Expr, dist: Any = None) -> str | None:
    """Why ``f`` is not injective on ``(a, b)``, or None when it is.

    ``f`` is injective when no smooth piece has a turning point
    (:func:`turning_points`) and the pieces' output ranges do not overlap
    (``|x|`` has no turning point, but its two pieces share ``(0, oo)``).

    >>> injectivity_problem(sp.Abs(x), -sp.oo, sp.oo)
    'its pieces on (-oo, 0) and (0, oo) share the outputs (0, oo)'
    >>> injectivity_problem(x**2, -sp.oo, sp.oo)
    "f' changes sign at x = 0"
    >>> injectivity_problem(sp.Max(x / 2, x), -sp.oo, sp.oo) is None
    True
    """
    ranges = []
    for seg in segments(f, a, b):
        if seg.is_flat:
            return f"it is constant on ({seg.a}, {seg.b})"
        turns = turning_points(sp.diff(seg.expr, x), seg.a, seg.b, dist)
        if turns:
            return f"f' changes sign at x = {', '.join(map(str, turns))}"
        lo, hi = sorted((_end_value(seg.expr, seg.a, "+"), _end_value(seg.expr, seg.b, "-")))
        ranges.append((lo, hi, seg))
    for i, (lo1, hi1, s1) in enumerate(ranges):
        for lo2, hi2, s2 in ranges[i + 1 :]:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if hi - lo > 1e-12 * (1 + min(abs(lo), abs(hi))):
                shown = ", ".join("oo" if math.isinf(v) and v > 0 else "-oo" if math.isinf(v)
                                  else sp.sstr(sp.nsimplify(v, rational=False)) for v in (lo, hi))
                return (
                    f"its pieces on ({s1.a}, {s1.b}) and ({s2.a}, {s2.b}) share the outputs "
                    f"({shown})"
                )
    return None
