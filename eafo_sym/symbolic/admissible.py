r"""Whether a formula can be an activation under an input law, decided with SymPy.

The output entropy ``h(f(X))`` needs two things of ``f`` on the support of
``X`` (``docs/mathematics.md`` §1):

* ``f`` is **real** there. ``sqrt(x)`` and ``log(x)`` under a normal input are
  complex on ``x < 0``, half of the mass: no entropy is defined, and
  quadrature would silently drop the imaginary part.
* ``f`` has **finitely many monotone pieces** there (the branch sum of §1 ends).
  ``sin(x)``, ``abs(sin(x))`` or ``sin(1/x)`` near 0 oscillate without end;
  a quadrature that finds the first few branches gives a wrong number.

:func:`check_admissible` raises :class:`InadmissibleError` (a
:class:`ValueError`) naming the offending part and a point where it fails;
:func:`problems` lists every problem instead. Both use SymPy only: proofs
through assumptions and interval bounds, witnesses found by evaluating at
points of the support with ``evalf``, exact inequalities for rational
functions.

>>> from eafo_sym.laws import normal, uniform
>>> check_admissible(sp.sqrt(x), uniform(0, 1))
sqrt(x)
>>> check_admissible(sp.sqrt(x), normal())
Traceback (most recent call last):
...
eafo_sym.symbolic.admissible.InadmissibleError: sqrt(x) is not real at x = -1/8: its base x is ...
>>> check_admissible(sp.Abs(sp.sin(x)), normal())
Traceback (most recent call last):
...
eafo_sym.symbolic.admissible.InadmissibleError: sin(x) oscillates without end on the support ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from ..budget import TimeUp, time_limit
from ..laws import Law, check_law
from .symbols import x

__all__ = [
    "MAX_BRANCHES",
    "InadmissibleError",
    "Problem",
    "check_admissible",
    "problems",
]

#: Most monotone pieces an oscillating part may have on the support (each costs quadratures).
MAX_BRANCHES = 32
#: Wall time for one exact SymPy attempt (an inequality, a function range) before giving up.
SOLVE_SECONDS = 2.0

_OSCILLATING = (sp.sin, sp.cos)


class InadmissibleError(ValueError):
    """A formula is not real, or not finitely branched, on the support of the input law.

    Attributes:
        problem: The first :class:`Problem` found.
    """

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class Problem:
    """Why a formula is not admissible.

    Attributes:
        kind: ``"not real"`` or ``"branches"``.
        part: The offending subexpression.
        message: One line that names it, the law and (where found) a point.
        at: A point of the support where the part fails, or None.
    """

    kind: str
    part: sp.Expr
    message: str
    at: sp.Expr | None = None


def check_admissible(f: sp.Expr, law: Law) -> sp.Expr:
    """Return ``f`` if it is real and finitely branched on ``law``'s support, else raise.

    Args:
        f: An expression in :data:`eafo_sym.x` with its parameters bound.
        law: The law of the input ``X``.

    Raises:
        InadmissibleError: The first problem found (see :func:`problems`).
        TypeError: ``f`` is not a SymPy expression or ``law`` is not a law.
        ValueError: ``f`` has free symbols other than ``x``.
    """
    found = problems(f, law)
    if found:
        raise InadmissibleError(found[0])
    return f


def problems(f: sp.Expr, law: Law) -> list[Problem]:
    """Every part of ``f`` that is not real, or oscillates too often, on ``law``'s support.

    Inner parts come first, so the first problem is the root cause
    (``cos(cos(x))`` reports ``cos(x)``).

    >>> from eafo_sym.laws import uniform
    >>> [p.kind for p in problems(sp.log(x - 2) + sp.sin(1 / x), uniform(0, 1))]
    ['not real', 'branches']
    >>> problems(sp.sin(3 * x), uniform(0, 1))
    []
    """
    if not isinstance(f, sp.Basic):
        raise TypeError(f"expected a SymPy expression, got {type(f).__name__}")
    law = check_law(law)
    extra = f.free_symbols - {x}
    if extra:
        names = ", ".join(sorted(map(str, extra)))
        raise ValueError(f"bind the parameters ({names}) before checking {f}")
    support = law.support
    out: list[Problem] = []
    for node in sp.postorder_traversal(f):
        if not isinstance(node, sp.Basic) or not node.has(x):
            continue
        problem = _not_real(node, law, support) or _too_branched(node, law, support)
        if problem is not None and all(problem.part != p.part for p in out):
            out.append(problem)
    out.sort(key=lambda p: p.kind != "not real")
    return out


# --- realness ---------------------------------------------------------------------


def _restricted_argument(node: sp.Basic) -> tuple[sp.Expr, bool, str] | None:
    """``(u, strict, name)`` when ``node`` is real only where ``u >= 0`` (``> 0`` if strict)."""
    if isinstance(node, sp.log):
        return node.args[0], False, "argument"
    if isinstance(node, sp.Pow):
        base, exponent = node.args
        if exponent.is_integer:
            return None
        if not base.has(x) and not exponent.has(x):
            return None
        # A fractional power of a negative number is complex in SymPy's principal branch
        # ((-8)**(1/3) = 1 + sqrt(3)*I), so even odd roots need base >= 0.
        return base, exponent.has(x), "base"
    return None


def _not_real(node: sp.Basic, law: Law, support: sp.Interval) -> Problem | None:
    restricted = _restricted_argument(node)
    if restricted is None:
        return None
    u, strict, name = restricted
    if _proved_nonnegative(u, support, strict):
        return None
    # A base or argument that is 0 at single points is harmless (a null set): look for u < 0.
    at = _negative_point(u, node, law, support)
    if at is None:
        return None
    value = sp.N(u.subs(x, at), 6)
    return Problem(
        "not real",
        node,
        f"{sp.sstr(node)} is not real at x = {sp.sstr(at)}: its {name} {sp.sstr(u)} is "
        f"{_short(value)} < 0 there, inside the support {_interval(support)} of {law}",
        at,
    )


def _proved_nonnegative(u: sp.Expr, support: sp.Interval, strict: bool) -> bool:
    """SymPy's assumptions prove ``u >= 0`` (``> 0``) for every ``x`` in the support."""
    lo, hi = support.inf, support.sup
    kwargs = {"real": True}
    if lo.is_nonnegative:
        kwargs["positive" if lo.is_positive else "nonnegative"] = True
    elif hi.is_nonpositive:
        kwargs["negative" if hi.is_negative else "nonpositive"] = True
    t = sp.Dummy("t", **kwargs)
    ut = u.subs(x, t)
    if (ut.is_positive if strict else ut.is_nonnegative) is True:
        return True
    bounds = _bounds(u, support)
    return bounds is not None and (bounds[0] > 0 if strict else bounds[0] >= 0)


def _sample_points(law: Law, support: sp.Interval) -> list[sp.Rational]:
    """Rational points inside the support: a grid, points near its ends, and far tails."""
    lo, hi = support.inf, support.sup
    if not ((lo.is_number or lo == -sp.oo) and (hi.is_number or hi == sp.oo)):
        return []
    if lo.is_finite and hi.is_finite:
        a, b = sp.nsimplify(lo), sp.nsimplify(hi)
        width = b - a
        fractions = [sp.Rational(k, 64) for k in range(1, 64)]
        fractions += [sp.Rational(1, 10**k) for k in (3, 6, 9)]
        fractions += [1 - sp.Rational(1, 10**k) for k in (3, 6, 9)]
        return [a + width * q for q in fractions]
    center = law.location if law.location is not None and law.location.is_number else 0
    center = sp.nsimplify(center)
    offsets = [sp.Rational(k, 8) for k in range(1, 81)]
    offsets += [sp.Rational(1, 10**k) for k in (3, 6, 9)] + [10**k for k in (2, 3, 6)]
    points = [center] + [center + s * o for o in offsets for s in (1, -1)]
    return [p for p in points if support.contains(p) == sp.true]


def _negative_point(
    u: sp.Expr, node: sp.Expr, law: Law, support: sp.Interval
) -> sp.Expr | None:
    """A point of the support where ``u < 0`` and ``node`` is complex, or None if none is found."""
    for t in _sample_points(law, support):
        v = sp.N(u.subs(x, t), 30)
        # The value must be significant (evalf's digits), not rounding noise of an exact 0.
        if v.is_Float and v < 0 and v._prec > 10 and _complex(node, t):
            return t
    t = _negative_point_exactly(u, support)
    return t if t is not None and _complex(node, t) else None


def _complex(node: sp.Expr, t: sp.Expr) -> bool:
    """Whether ``node`` has a non-zero imaginary part at ``x = t`` (``(-1)**x`` is real at 0)."""
    v = sp.N(node.subs(x, t), 30)
    _, im = v.as_real_imag()
    return im.is_number and im != 0


def _negative_point_exactly(u: sp.Expr, support: sp.Interval) -> sp.Expr | None:
    """For a rational function ``u``: a point of ``{u < 0}`` of positive length, by SymPy."""
    if not u.is_rational_function(x):
        return None
    try:
        with time_limit(SOLVE_SECONDS):
            where = sp.solve_univariate_inequality(u < 0, x, relational=False, domain=support)
    except (TimeUp, NotImplementedError, ValueError, TypeError):
        return None
    for piece in where.args if isinstance(where, sp.Union) else [where]:
        if isinstance(piece, sp.Interval) and piece.measure.is_positive:
            lo, hi = piece.inf, piece.sup
            if lo.is_finite and hi.is_finite:
                return sp.nsimplify((lo + hi) / 2)
            return sp.nsimplify(hi - 1 if lo.is_infinite else lo + 1)
    return None


# --- branches ---------------------------------------------------------------------


def _too_branched(node: sp.Basic, law: Law, support: sp.Interval) -> Problem | None:
    if not isinstance(node, _OSCILLATING):
        return None
    arg = node.args[0]
    bounds = _bounds(arg, support)
    if bounds is None or math.isinf(bounds[1] - bounds[0]):
        bounds = _exact_range(arg, support) or bounds
    where = f"on the support {_interval(support)} of {law}"
    if bounds is None:
        return Problem(
            "branches",
            node,
            f"{sp.sstr(node)}: cannot bound how often it oscillates {where}; the output "
            "entropy needs finitely many monotone pieces",
        )
    width = bounds[1] - bounds[0]
    if math.isinf(width):
        return Problem(
            "branches",
            node,
            f"{sp.sstr(node)} oscillates without end {where} (its argument {sp.sstr(arg)} is "
            "unbounded there): the output entropy needs finitely many monotone pieces",
        )
    pieces = math.floor(width / math.pi) + 1
    if pieces > MAX_BRANCHES:
        return Problem(
            "branches",
            node,
            f"{sp.sstr(node)} has about {pieces} monotone pieces {where}, more than the "
            f"{MAX_BRANCHES} allowed",
        )
    return None


def _exact_range(arg: sp.Expr, support: sp.Interval) -> tuple[float, float] | None:
    """The range of ``arg`` over the support from SymPy's ``function_range`` (time-limited)."""
    from sympy.calculus.util import function_range

    try:
        with time_limit(SOLVE_SECONDS):
            r = function_range(arg, x, support)
    except (TimeUp, NotImplementedError, ValueError, TypeError):
        return None
    if not isinstance(r, sp.Interval):
        return None
    lo, hi = _float(r.inf), _float(r.sup)
    if lo is None or hi is None:
        return None
    return lo, hi


# --- interval bounds --------------------------------------------------------------

_INCREASING = {
    sp.exp: math.exp,
    sp.atan: math.atan,
    sp.tanh: math.tanh,
    sp.sinh: math.sinh,
    sp.erf: math.erf,
}


def _float(v: sp.Expr) -> float | None:
    if v is sp.oo:
        return math.inf
    if v is sp.S.NegativeInfinity:
        return -math.inf
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return None


def _safe(fn, v: float) -> float:
    try:
        return fn(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _mul(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    # 0 * inf is 0 here: an interval end at 0 times an unbounded one stays at 0.
    products = [p * q if p and q else 0.0 for p in a for q in b]
    return min(products), max(products)


def _power(b: tuple[float, float], n: sp.Expr) -> tuple[float, float] | None:
    lo, hi = b
    if n.is_integer and n.is_positive:
        k = int(n)
        if k % 2 or lo >= 0:
            return (_safe(lambda v: v**k, lo), _safe(lambda v: v**k, hi))
        if hi <= 0:
            return (_safe(lambda v: v**k, hi), _safe(lambda v: v**k, lo))
        return (0.0, _safe(lambda v: v**k, max(-lo, hi)))
    if n.is_integer and n.is_negative:
        if lo <= 0 <= hi:
            return None
        inv = (1 / hi if hi else -math.inf, 1 / lo if lo else math.inf)
        inv = (min(inv), max(inv))
        return _power(inv, -n)
    e = _float(n)
    if e is None or lo < 0:
        return None
    values = [_safe(lambda v: v**e, v) if v or e > 0 else math.inf for v in (lo, hi)]
    return min(values), max(values)


def _bounds(expr: sp.Expr, support: sp.Interval) -> tuple[float, float] | None:
    """Float bounds of ``expr`` for ``x`` in the support by interval arithmetic (None: unknown).

    The bounds enclose the range (they may be wider), so a finite width proves
    boundedness and a lower bound >= 0 proves non-negativity.
    """
    lo, hi = _float(support.inf), _float(support.sup)
    if lo is None or hi is None:
        return None
    return _bounds_of(expr, (lo, hi))


def _bounds_of(e: sp.Expr, xb: tuple[float, float]) -> tuple[float, float] | None:
    if e == x:
        return xb
    if e.is_number:
        v = _float(e)
        return None if v is None else (v, v)
    args = [_bounds_of(a, xb) for a in e.args] if not isinstance(e, sp.Piecewise) else []
    if isinstance(e, sp.Piecewise):
        parts = [_bounds_of(value, xb) for value, _ in e.args]
        if any(p is None for p in parts):
            return None
        return min(p[0] for p in parts), max(p[1] for p in parts)
    if isinstance(e, sp.Pow):
        return None if args[0] is None else _power(args[0], e.args[1])
    if any(a is None for a in args):
        return None
    if isinstance(e, sp.Add):
        return sum(a[0] for a in args), sum(a[1] for a in args)
    if isinstance(e, sp.Mul):
        out = args[0]
        for a in args[1:]:
            out = _mul(out, a)
        return out
    if isinstance(e, (sp.Max, sp.Min)):
        pick = max if isinstance(e, sp.Max) else min
        return pick(a[0] for a in args), pick(a[1] for a in args)
    (a,) = args if len(args) == 1 else (None,)
    if a is None:
        return None
    for cls, fn in _INCREASING.items():
        if isinstance(e, cls):
            return _safe(fn, a[0]), _safe(fn, a[1])
    if isinstance(e, sp.erfc):
        return math.erfc(a[1]), math.erfc(a[0])
    if isinstance(e, sp.log):
        if a[0] < 0:
            return None
        return (math.log(a[0]) if a[0] > 0 else -math.inf, _safe(math.log, a[1]))
    if isinstance(e, sp.Abs):
        if a[0] >= 0:
            return a
        if a[1] <= 0:
            return -a[1], -a[0]
        return 0.0, max(-a[0], a[1])
    if isinstance(e, sp.cosh):
        low = 1.0 if a[0] <= 0 <= a[1] else _safe(math.cosh, min(abs(a[0]), abs(a[1])))
        return low, _safe(math.cosh, max(abs(a[0]), abs(a[1])))
    if isinstance(e, _OSCILLATING):
        return -1.0, 1.0
    if isinstance(e, sp.Heaviside):
        return 0.0, 1.0
    return None


# --- messages ---------------------------------------------------------------------


def _interval(s: sp.Interval) -> str:
    left = "(" if s.left_open or s.inf.is_infinite else "["
    right = ")" if s.right_open or s.sup.is_infinite else "]"
    return f"{left}{sp.sstr(s.inf)}, {sp.sstr(s.sup)}{right}"


def _short(v: sp.Expr) -> str:
    f = _float(v)
    return f"{f:.3g}" if f is not None else sp.sstr(v)
