"""Split an activation into smooth pieces and monotone branches.

Derivations need ``f`` on intervals where it is one smooth expression:
``Max(0, x)`` is ``0`` on ``(-oo, 0)`` and ``x`` on ``(0, oo)``. Numerics need
the monotone branches of each piece (GELU has a minimum near ``-0.75``) and the
flat pieces, which put atoms into the output law.
"""

from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from ._symbols import x


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


def _midpoint(a: sp.Expr, b: sp.Expr) -> sp.Expr:
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
    m = _midpoint(a, b)

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
    return sp.simplify(pick(pw)) if pw.has(sp.Abs) else pick(pw)


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


# --- numerics ---------------------------------------------------------------

_MODULES = ["scipy", "numpy"]


@lru_cache(maxsize=512)
def numeric(expr: sp.Expr):
    """A NumPy/SciPy callable of x for ``expr`` (cached by expression).

    Expressions with functions SciPy lacks (``hyper`` in a Student-t CDF with
    fractional ``nu``) are evaluated by mpmath, element by element.
    """
    if expr.has(sp.hyper, sp.meijerg):
        one = sp.lambdify(x, expr, modules="mpmath")
        return np.vectorize(lambda t: float(sp.re(one(t))), otypes=[float])
    return sp.lambdify(x, expr, modules=_MODULES)


def stable_log_abs(expr: sp.Expr) -> sp.Expr:
    """``log|expr|`` in a form whose terms stay finite where ``expr`` under/overflows.

    Rewriting hyperbolic functions as exponentials and expanding the logarithm
    turns ``log(1 - tanh(x)**2)`` into ``2*x - 2*log(exp(2*x) + 1) + 2*log(2)``,
    which mpmath evaluates at any ``x`` without cancellation.

    >>> stable_log_abs(sp.diff(1 / (1 + sp.exp(-x)), x))
    x - 2*log(exp(x) + 1)
    """
    if expr.has(sp.Piecewise):
        return sp.log(sp.Abs(expr))
    try:
        e = sp.factor(sp.powsimp(sp.expand(sp.together(expr.rewrite(sp.exp)))))
    except (sp.PolynomialError, NotImplementedError):  # pragma: no cover - factor gave up
        e = expr
    out = sp.expand_log(sp.log(e), force=True)
    # A sign (negative derivative) shows up as log(-1) = I*pi: drop it, we want log|.|
    return sp.re(out) if out.has(sp.I) else out


class Robust:
    """Evaluate ``expr(x)`` with NumPy, and with mpmath where NumPy gives inf/inf or 0/0."""

    def __init__(self, expr: sp.Expr):
        self.fast = numeric(expr)
        self._mp = sp.lambdify(x, expr, modules="mpmath")

    def __call__(self, t: float) -> float:
        with np.errstate(all="ignore"):
            v = float(self.fast(t))
        if math.isfinite(v):
            return v
        import mpmath

        with mpmath.workdps(30):
            try:
                return float(mpmath.re(self._mp(mpmath.mpf(t))))
            except (ZeroDivisionError, ValueError, OverflowError):
                return v


class LogAbs:
    """Evaluate ``log|d(x)|`` accurately: NumPy first, mpmath where NumPy overflows."""

    def __init__(self, d: sp.Expr):
        self.fast = numeric(sp.log(sp.Abs(d)))
        self.stable_expr = stable_log_abs(d)
        self.stable = numeric(self.stable_expr)
        self._mp = sp.lambdify(x, self.stable_expr, modules="mpmath")

    def __call__(self, t: float) -> float:
        # The expanded form first: log(1 - tanh(x)**2) loses every digit to cancellation
        # by x = 18 while still finite; the raw form covers what the expansion overflows.
        with np.errstate(all="ignore"):
            v = float(self.stable(t))
            if math.isfinite(v):
                return v
            v = float(self.fast(t))
            if math.isfinite(v):
                return v
        import mpmath

        for dps in (30, 120, 400):
            with mpmath.workdps(dps):
                try:
                    val = self._mp(mpmath.mpf(t))
                except (ZeroDivisionError, ValueError):
                    continue
                if mpmath.isfinite(val):
                    return float(mpmath.re(val))
        return -math.inf


def critical_points(
    d: sp.Expr, a: float, b: float, *, grid: np.ndarray | None = None
) -> list[float]:
    """Sign changes of ``d`` (the derivative) inside ``(a, b)``, refined by Brent's method."""
    from scipy.optimize import brentq

    fn = numeric(d)
    if grid is None:
        core = np.linspace(-60.0, 60.0, 24001)
        far = np.geomspace(60.0, 1e6, 400)
        grid = np.concatenate([-far[::-1], core, far])
    g = grid[(grid > a) & (grid < b)]
    if g.size < 2:
        return []
    with np.errstate(all="ignore"):
        vals = np.asarray(fn(g), dtype=float) * np.ones_like(g)
    ok = np.isfinite(vals)
    g, vals = g[ok], vals[ok]
    s = np.sign(vals)
    roots = []
    for i in np.nonzero(s[:-1] * s[1:] < 0)[0]:
        roots.append(brentq(lambda t: float(fn(t)), g[i], g[i + 1], xtol=1e-14, rtol=1e-14))
    # A grid point that is exactly a root (x**2 at 0) shows as a zero between two signs.
    for i in np.nonzero(s == 0)[0]:
        if 0 < i < len(s) - 1 and s[i - 1] * s[i + 1] < 0:
            roots.append(float(g[i]))
    return sorted(roots)


#: Seconds SymPy may spend on one exact integral before the caller falls back to quadrature.
EXACT_TIME_LIMIT = 5.0


class _TimeUpError(Exception):
    pass


@contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`_TimeUpError` after ``seconds`` (main thread on POSIX; otherwise no limit).

    SymPy's ``integrate`` can search for minutes before giving up; a wall-clock
    budget turns that into a fast fallback to quadrature.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise _TimeUpError

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


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
    except _TimeUpError:
        return None
