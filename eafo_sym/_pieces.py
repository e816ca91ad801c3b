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
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property, lru_cache

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


#: Relative size below which a derivative's sign is treated as rounding noise.
NOISE = 1e-13
#: Seconds SymPy may spend on rewriting one derivative into a stable form.
STABLE_FORM_TIME_LIMIT = 3.0
#: Seconds SymPy may spend on one exact integral before the caller falls back to quadrature.
EXACT_TIME_LIMIT = 3.0


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


# --- numerics ---------------------------------------------------------------

_MODULES = ["scipy", "numpy"]


@lru_cache(maxsize=512)
def numeric(expr: sp.Expr):
    """A NumPy/SciPy callable of x for ``expr`` (cached by expression).

    Expressions with functions SciPy lacks (``hyper`` in a Student-t CDF with
    fractional ``nu``) are evaluated by mpmath, element by element.
    """
    expr = _floatify(expr)
    if expr.has(sp.hyper, sp.meijerg):
        one = sp.lambdify(x, expr, modules="mpmath")
        return np.vectorize(lambda t: float(sp.re(one(t))), otypes=[float])
    return sp.lambdify(x, expr, modules=[_NUMPY_EXTRA, *_MODULES])


def _floatify(expr: sp.Expr) -> sp.Expr:
    """Turn rationals too big for int64 (SELU's constants, made exact) into 17-digit floats.

    NumPy cannot take ``log`` of a Python int beyond 64 bits; 17 significant
    digits round-trip every float64, so nothing is lost.
    """
    big = {
        r: sp.Float(r, 17)
        for r in expr.atoms(sp.Rational)
        if max(abs(r.p), abs(r.q)) > 2**53
    }
    return expr.xreplace(big) if big else expr


class erfc_neg(sp.Function):  # noqa: N801 - lower case like sp.erfc
    """``erfc(-u) = 1 + erf(u)``, kept unevaluated.

    SymPy rewrites ``erfc(-u)`` to ``2 - erfc(u)``; at ``u = -70`` either form
    cancels to 0 in any fixed precision, while ``erfc(70)`` itself is tiny but
    exact. Keeping the function opaque lets NumPy and mpmath evaluate it directly.
    """

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return 2 / sp.sqrt(sp.pi) * sp.exp(-(u**2))


class erfcx_neg(sp.Function):  # noqa: N801 - lower case like sp.erfc
    """``exp(u**2) * erfc(-u)``: scaled, so ``exp(1500) * erfc(38.7)`` never under/overflows."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return 2 * u * self + 2 / sp.sqrt(sp.pi)


def _scaled_erfc(term: sp.Mul) -> sp.Mul:
    """Merge ``erfc_neg(u) * exp(u**2)`` inside a product into ``erfcx_neg(u)``."""
    factors = list(term.args)
    for i, fi in enumerate(factors):
        if not isinstance(fi, erfc_neg):
            continue
        u = fi.args[0]
        for j, fj in enumerate(factors):
            if isinstance(fj, sp.exp) and sp.expand(fj.args[0] - u**2) == 0:
                rest = [f for k, f in enumerate(factors) if k not in (i, j)]
                return sp.Mul(erfcx_neg(u), *rest)
    return term


def _erfcx_neg_numpy(u):
    from scipy.special import erfcx

    return erfcx(-u)


def _erfcx_neg_mpmath(u):
    import mpmath

    return mpmath.exp(u**2) * mpmath.erfc(-u)


def _erfc_neg_numpy(u):
    from scipy.special import erfc

    return erfc(-u)


def _erfc_neg_mpmath(u):
    import mpmath

    return mpmath.erfc(-u)


_NUMPY_EXTRA = {"erfc_neg": _erfc_neg_numpy, "erfcx_neg": _erfcx_neg_numpy}


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
    # 1 + erf(u) -> erfc(-u): GELU' = Phi(x) + x*phi(x) needs Phi(-100) to ~2000 digits otherwise.
    expr = expr.replace(sp.erf, lambda u: erfc_neg(u) - 1)
    try:
        # factor() on a large derivative can run for minutes; the raw form is a fine fallback.
        with time_limit(STABLE_FORM_TIME_LIMIT):
            e = sp.factor(sp.powsimp(sp.expand(sp.together(expr.rewrite(sp.exp)))))
    except (sp.PolynomialError, NotImplementedError, _TimeUpError):
        e = expr
    e = e.replace(lambda t: t.is_Mul and t.has(erfc_neg), _scaled_erfc)
    out = sp.expand_log(sp.log(e), force=True)
    # A sign (negative derivative) shows up as log(-1) = I*pi: drop it, we want log|.|
    return sp.re(out) if out.has(sp.I) else out


class Robust:
    """Evaluate ``expr(x)`` with NumPy, and with mpmath where NumPy gives inf/inf or 0/0.

    Hyperbolic functions are rewritten as exponentials first:
    ``1/(1 - tanh(x)**2)`` is ``1/0`` in float64 (and at 30 digits) by ``x = 40``,
    while ``(exp(x) + exp(-x))**2/4`` is finite.
    """

    def __init__(self, expr: sp.Expr):
        if expr.has(sp.tanh, sp.cosh, sp.sinh):
            with suppress(_TimeUpError), time_limit(STABLE_FORM_TIME_LIMIT):
                expr = sp.factor(sp.powsimp(sp.expand(sp.together(expr.rewrite(sp.exp)))))
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
        self.d = d
        self.fast = numeric(sp.log(sp.Abs(d)))

    @cached_property
    def stable_expr(self) -> sp.Expr:
        """:func:`stable_log_abs` of ``d``, built on first use (factor() is the costly part)."""
        return stable_log_abs(self.d)

    @cached_property
    def _absolute(self) -> sp.Expr:
        # The expanded logs may hold a negative factor (f' < 0 on a falling branch): |.|.
        return _floatify(self.stable_expr.replace(sp.log, lambda a: sp.log(sp.Abs(a))))

    @cached_property
    def stable(self):
        return numeric(self._absolute)

    @cached_property
    def _mp(self):
        return sp.lambdify(
            x,
            self._absolute,
            modules=[{"erfc_neg": _erfc_neg_mpmath, "erfcx_neg": _erfcx_neg_mpmath}, "mpmath"],
        )

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
    """Sign changes of ``d`` (the derivative) inside ``(a, b)``, refined by Brent's method.

    ``d`` is put over a common denominator first: ``exp(x)/(exp(x) + 1)``
    differentiates to a difference of two O(1) terms whose float64 rounding
    flips sign at random for large ``x``. Sign changes where ``|d|`` on both
    sides is below ``NOISE * max|d|`` are rounding, not turning points.

    >>> critical_points(sp.diff(sp.exp(x) / (sp.exp(x) + 1), x), -50.0, 50.0)
    []
    >>> [round(r, 12) for r in critical_points(sp.diff(x * sp.exp(-x**2 / 2), x), -5.0, 5.0)]
    [-1.0, 1.0]
    """
    from scipy.optimize import brentq

    if sp.count_ops(d) < 400:
        with suppress(_TimeUpError), time_limit(STABLE_FORM_TIME_LIMIT):
            d = sp.together(d)
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
    mag = np.abs(vals)
    floor = NOISE * float(mag.max()) if mag.size else 0.0
    s[mag < floor] = 0  # below the rounding floor the sign means nothing
    roots = []
    for i in np.nonzero(s[:-1] * s[1:] < 0)[0]:
        roots.append(brentq(lambda t: float(fn(t)), g[i], g[i + 1], xtol=1e-14, rtol=1e-14))
    # A grid point that is exactly a root (x**2 at 0) shows as a zero between two signs.
    for i in np.nonzero(s == 0)[0]:
        if 0 < i < len(s) - 1 and s[i - 1] * s[i + 1] < 0:
            roots.append(float(g[i]))
    return sorted(roots)


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
