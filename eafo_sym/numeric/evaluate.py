"""Evaluating SymPy expressions as numbers: NumPy first, mpmath where float64 breaks.

What the numeric layer integrates is a SymPy expression (a density, a
log-derivative, a correction shape) turned into a callable. Three things go
wrong in float64 and are handled here: functions SciPy lacks (``hyper`` in a
Student-t CDF), cancellation (``log(1 - tanh(x)**2)`` at ``x = 18``,
``1 + erf(-70)``) and overflow (``exp(1500) * erfc(38.7)``). It also finds the
turning points that split a smooth piece into monotone branches.
"""

from __future__ import annotations

import math
from contextlib import suppress
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp

from ..budget import TimeUp, time_limit
from ..symbolic.symbols import x

__all__ = [
    "NOISE",
    "STABLE_FORM_TIME_LIMIT",
    "LogAbs",
    "Robust",
    "critical_points",
    "erfc_neg",
    "erfcx_neg",
    "numeric",
    "stable_log_abs",
    "touching_zeros",
]

#: Relative size below which a derivative's sign is treated as rounding noise.
NOISE = 1e-13
#: Seconds SymPy may spend on rewriting one derivative into a stable form.
STABLE_FORM_TIME_LIMIT = 3.0


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
    except (sp.PolynomialError, NotImplementedError, TimeUp):
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
            with suppress(TimeUp), time_limit(STABLE_FORM_TIME_LIMIT):
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


def _scan(d: sp.Expr, a: float, b: float, grid: np.ndarray | None):
    """``(fn, grid points inside (a, b), d there)`` with non-finite values dropped."""
    if sp.count_ops(d) < 400:
        with suppress(TimeUp), time_limit(STABLE_FORM_TIME_LIMIT):
            d = sp.together(d)
    fn = numeric(d)
    if grid is None:
        core = np.linspace(-60.0, 60.0, 24001)
        far = np.geomspace(60.0, 1e6, 400)
        grid = np.concatenate([-far[::-1], core, far])
    g = grid[(grid > a) & (grid < b)]
    if g.size < 2:
        return fn, g[:0], g[:0]
    with np.errstate(all="ignore"):
        vals = np.asarray(fn(g), dtype=float) * np.ones_like(g)
    ok = np.isfinite(vals)
    return fn, g[ok], vals[ok]


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

    fn, g, vals = _scan(d, a, b, grid)
    if g.size < 2:
        return []
    s = np.sign(vals)
    mag = np.abs(vals)
    floor = NOISE * float(mag.max()) if mag.size else 0.0
    s[mag < floor] = 0  # below the rounding floor the sign means nothing
    roots = []
    for i in np.nonzero(s[:-1] * s[1:] < 0)[0]:
        lo, hi = float(fn(g[i])), float(fn(g[i + 1]))
        if not lo * hi < 0:  # NumPy's vector and scalar cos differ far out (cos(1e18))
            continue
        roots.append(brentq(lambda t: float(fn(t)), g[i], g[i + 1], xtol=1e-14, rtol=1e-14))
    # A grid point that is exactly a root (x**2 at 0) shows as a zero between two signs.
    for i in np.nonzero(s == 0)[0]:
        if 0 < i < len(s) - 1 and s[i - 1] * s[i + 1] < 0:
            roots.append(float(g[i]))
    return sorted(roots)


def touching_zeros(
    d: sp.Expr, a: float, b: float, *, grid: np.ndarray | None = None
) -> list[float]:
    """Zeros of ``d`` inside ``(a, b)`` where it does not change sign (``3x**2`` at 0).

    There ``f`` stays monotone but the output density is infinite and
    ``log|f'|`` has a log singularity, which a quadrature must have as a
    breakpoint. Found as sharp local minima of ``|d|`` on the grid, refined by
    a bounded minimisation and kept where ``|d|`` is below ``NOISE`` times its
    size around.

    >>> touching_zeros(3 * x**2, -5.0, 5.0), touching_zeros(sp.exp(x), -5.0, 5.0)
    ([0.0], [])
    """
    from scipy.optimize import minimize_scalar

    fn, g, vals = _scan(d, a, b, grid)
    if g.size < 5:
        return []
    mag = np.abs(vals)
    out = []
    for i in range(2, g.size - 2):
        around = max(mag[i - 2], mag[i + 2])
        if not (mag[i] <= mag[i - 1] and mag[i] <= mag[i + 1] and mag[i] < 1e-2 * around):
            continue
        if vals[i - 1] * vals[i + 1] < 0:
            continue  # a sign change: a turning point, not a touching zero
        if mag[i] == 0.0:
            out.append(float(g[i]))
            continue
        res = minimize_scalar(
            lambda t: abs(float(fn(t))), bounds=(g[i - 1], g[i + 1]), method="bounded",
            options={"xatol": 1e-14},
        )
        if abs(float(fn(res.x))) < NOISE * around:
            out.append(float(res.x))
    return out
