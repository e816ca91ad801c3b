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

**Point terms** (``docs/mathematics.md`` §8). On a piecewise activation the
first variation also has a term at every kink and interval end: integrating
``integral (dL/du') h'`` by parts on each piece leaves ``[(dL/du') h]`` at the
pieces' ends. :func:`point_terms` derives them from the same Lagrangian; the
derivative carries the kinks' as Dirac deltas, and
``functional_derivative(..., point_terms=True)`` returns every one explicitly.

>>> from eafo_sym.laws import normal
>>> functional_derivative(sp.Max(0, x), normal(), interval=(0, sp.oo))
sqrt(2)*x*exp(-x**2/2)/(2*sqrt(pi))
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import sympy as sp
from sympy.calculus.euler import euler_equations

from ..budget import TimeUp, time_limit
from ..laws import Law, check_distribution
from .bases import as_expression
from .pieces import Segment, check_activation, restrict, segments
from .symbols import x, y

__all__ = [
    "Derivative",
    "PointTerm",
    "point_terms",
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
#: Seconds SymPy may spend on one limit at a point term, and on tidying one derivative.
LIMIT_TIME = 3.0
TIDY_TIME = 10.0
#: Seconds SymPy may spend solving ``y = f(x)`` for the inverse.
SOLVE_TIME = 10.0


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


def x_space_gradient(
    piece: sp.Expr,
    density: sp.Expr,
    *,
    tidy: Any = sp.simplify,
    seconds: float | None = TIDY_TIME,
) -> sp.Expr:
    """``dH/df`` on one smooth piece: the Euler-Lagrange expression of ``p log f'`` there.

    ``piece`` may hold parameter symbols besides ``x`` (they are constants of
    the variation); ``tidy`` simplifies the result within ``seconds``
    (softplus under ``logistic(0.3, 1.2)`` kept ``simplify`` busy for
    minutes), else the common-denominator form is returned. ``seconds=None``
    waits for ``tidy``, so the form never depends on the machine's speed.

    >>> from eafo_sym.laws import normal
    >>> x_space_gradient(x, normal().pdf)
    sqrt(2)*x*exp(-x**2/2)/(2*sqrt(pi))
    """
    (el,) = euler_equations(_lagrangian(density, "x"), _F(x), x)
    raw = _substitute(el.lhs, _F, x, piece)
    for form in (tidy, lambda e: sp.factor(sp.cancel(sp.together(e)))):
        try:
            with time_limit(seconds):
                return form(raw)
        except (TimeUp, sp.PolynomialError):
            continue
    return raw


class PointTerm(NamedTuple):
    """A point term of a functional derivative: ``weight * delta(v - at)``.

    Its contribution to the first variation along ``h`` is ``weight * h(at)``
    (``h``'s limit there for an infinite ``at``).

    Attributes:
        at: Where, in the derivative's variable (``x`` or ``y``).
        weight: The jump of ``dL/du'`` there: ``p (1/f'(x_k-) - 1/f'(x_k+))``
            at an x-space kink; ``-dL/du'`` at a lower end, ``+dL/du'`` at an
            upper one.
        kind: ``"kink"`` (where two pieces meet) or ``"end"`` (an interval end).
    """

    at: sp.Expr
    weight: sp.Expr
    kind: str


class Derivative(NamedTuple):
    """``dH/du = smooth + sum_k weight_k delta(v - at_k)``: a functional derivative in full.

    Unpacks as ``smooth, points = functional_derivative(..., point_terms=True)``.

    Attributes:
        smooth: The Euler-Lagrange expression (a Piecewise on several pieces).
        points: The :class:`PointTerm` s, kinks and interval ends, left to right.
    """

    smooth: sp.Expr
    points: tuple[PointTerm, ...]


def functional_derivative(
    f: Any,
    dist: Law,
    *,
    space: Literal["x", "y"] = "x",
    interval: Any = None,
    point_terms: bool = False,
) -> sp.Expr | Derivative:
    r"""``dH/df`` at ``f`` (x-space) or ``dH/dg`` at ``g = f^{-1}`` (y-space).

    Derived as the Euler-Lagrange expression ``dL/df - d/dx dL/df'`` of the
    Lagrangian (:func:`lagrangian`) on each smooth piece, evaluated at the
    activation, plus the point terms of :func:`point_terms`.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        dist: Law of the input.
        space: ``"x"`` returns an expression in ``x``; ``"y"`` an expression in
            :data:`eafo_sym.y` for the inverse ``g`` (``f`` must be invertible
            on the interval, and SymPy must find the inverse).
        interval: Restrict to ``(a, b)``, e.g. ReLU's invertible branch ``(0, oo)``.
        point_terms: ``False``: one expression, the smooth part plus a
            ``DiracDelta`` at each kink (the derivative for perturbations that
            vanish at the interval's ends). ``True``: a :class:`Derivative`
            ``(smooth, points)`` listing the kinks and the interval ends.

    Returns:
        The derivative; its smooth part is a Piecewise when ``f`` has several
        pieces on the interval.

    Raises:
        ValueError: ``f`` is flat on part of the interval, not invertible
            (``space="y"``), or the space is unknown.

    >>> from eafo_sym.laws import normal
    >>> functional_derivative(x, normal(), space="y")
    -sqrt(2)*y*exp(-y**2/2)/(2*sqrt(pi))
    >>> functional_derivative(sp.Max(x / 2, x), normal())  # a kink at 0: p(0) (2 - 1)
    Piecewise(...) + sqrt(2)*DiracDelta(x)/(2*sqrt(pi))
    >>> functional_derivative("relu", normal(), interval=(0, sp.oo), point_terms=True).points
    (PointTerm(at=0, weight=-sqrt(2)/(2*sqrt(pi)), kind='end'),)
    """
    pieces = _pieces(f, dist, interval, space)
    exprs = []
    for pc in pieces:
        if space == "x":
            expr = x_space_gradient(pc.expr, pc.density)
        else:
            (el,) = euler_equations(_lagrangian(pc.density, "y"), _G(y), y)
            expr = checked_tidy(_substitute(el.lhs, _G, y, pc.expr), y, pc.lo, pc.hi)
        exprs.append((expr, sp.And(pc.var > pc.lo, pc.var < pc.hi)))
    smooth = exprs[0][0] if len(exprs) == 1 else sp.Piecewise(*exprs, (sp.nan, True))
    points = segment_point_terms(pieces, ends=point_terms)
    if point_terms:
        return Derivative(smooth, points)
    var = x if space == "x" else y
    return sp.Add(smooth, *(t.weight * sp.DiracDelta(var - t.at) for t in points))


class _Piece(NamedTuple):
    """One smooth piece in the derivative's variable: ``u`` on ``(lo, hi)``, its Lagrangian's."""

    var: sp.Symbol
    lo: sp.Expr
    hi: sp.Expr
    expr: sp.Expr  # f on (lo, hi) in x-space, g = f^-1 in y-space
    density: sp.Expr  # p on the piece, as an expression in x
    momentum: sp.Expr  # dL/du' at the activation


def _pieces(f: Any, dist: Any, interval: Any, space: str) -> list[_Piece]:
    """The checked arguments' smooth pieces (flat ones refused)."""
    f = check_activation(as_expression(f))
    dist = check_distribution(dist)
    if space not in ("x", "y"):
        raise ValueError(f"space must be 'x' or 'y', got {space!r}")
    return segment_pieces(branch_segments(f, dist, interval), dist, space)


def segment_pieces(segs: list[Segment], dist: Law, space: str = "x") -> list[_Piece]:
    """The smooth pieces of :func:`point_terms` for given segments (parameters may be symbols)."""
    out = []
    for seg in segs:
        p = restrict(dist.pdf, seg.a, seg.b)
        if space == "x":
            m = _substitute(sp.diff(_lagrangian(p, "x"), _F(x).diff(x)), _F, x, seg.expr)
            out.append(_Piece(x, seg.a, seg.b, seg.expr, p, m))
        else:
            g = inverse(seg.expr, (seg.a, seg.b))
            m = _substitute(sp.diff(_lagrangian(p, "y"), _G(y).diff(y)), _G, y, g)
            lo, hi = sorted([_limit(seg.expr, seg.a), _limit(seg.expr, seg.b)], key=_key)
            out.append(_Piece(y, lo, hi, g, p, m))
    return sorted(out, key=lambda pc: _key(pc.lo))


def one_sided(expr: sp.Expr, var: sp.Symbol, at: sp.Expr, side: str) -> sp.Expr:
    """``expr`` at ``at`` from inside its piece: substituted, or SymPy's one-sided limit.

    Where SymPy finds no limit in :data:`LIMIT_TIME` seconds, the unevaluated
    ``Limit`` is returned (``.doit()`` or ``.evalf()`` may still get it).
    """
    if at.is_finite:
        v = sp.simplify(expr.subs(var, at))
        if v.is_finite:
            return v
    try:
        with time_limit(LIMIT_TIME):
            return sp.limit(expr, var, at, side if at.is_finite else "+-"[at == sp.oo])
    except (TimeUp, NotImplementedError, ValueError):
        return sp.Limit(expr, var, at, side if at.is_finite else "+-"[at == sp.oo])


def _weight(w: sp.Expr) -> sp.Expr | None:
    """A point term's weight tidied, or None when it is 0 (an unknown limit is kept)."""
    if w.has(sp.Limit):
        return w
    # expand_func: a Student-t weight 7/(6*beta(1/2, 2)) is 7/8.
    w = sp.simplify(sp.expand_func(sp.expand_log(w)))
    if w == 0 or (w.is_number and w.is_finite and abs(complex(sp.N(w, 30))) < 1e-25):
        return None
    return w


def segment_point_terms(
    pieces: list[_Piece], *, ends: bool = True, infinite: bool = True
) -> tuple[PointTerm, ...]:
    """Kinks (where consecutive pieces meet) and, with ``ends``, the interval ends.

    ``infinite=False`` leaves out infinite ends (their weight is a limit).
    """
    out = []

    def add(at: sp.Expr, w: sp.Expr, kind: str) -> None:
        w = _weight(w)
        if w is not None:
            out.append(PointTerm(at, w, kind))

    first, last = pieces[0], pieces[-1]
    if ends and (infinite or first.lo.is_finite):
        add(first.lo, -one_sided(first.momentum, first.var, first.lo, "+"), "end")
    for left, right in zip(pieces[:-1], pieces[1:], strict=True):
        if sp.simplify(left.hi - right.lo) != 0:  # a jump of f: a gap in y, two ends
            if ends:
                add(left.hi, one_sided(left.momentum, left.var, left.hi, "-"), "end")
                add(right.lo, -one_sided(right.momentum, right.var, right.lo, "+"), "end")
            continue
        at = left.hi
        w = one_sided(left.momentum, left.var, at, "-") - one_sided(
            right.momentum, right.var, at, "+"
        )
        add(at, w, "kink")
    if ends and (infinite or last.hi.is_finite):
        add(last.hi, one_sided(last.momentum, last.var, last.hi, "-"), "end")
    return tuple(out)


def point_terms(
    f: Any,
    dist: Law,
    *,
    space: Literal["x", "y"] = "x",
    interval: Any = None,
    ends: bool = True,
) -> tuple[PointTerm, ...]:
    r"""The point terms of ``dH/df`` (or ``dH/dg``): kinks and, with ``ends``, interval ends.

    The first variation along a continuous ``h`` is
    ``integral (dH/du) h + sum_k weight_k h(at_k)``: integrating
    ``integral (dL/du') h'`` by parts on each smooth piece leaves
    ``dL/du' * h`` at its ends (``docs/mathematics.md`` §8). In x-space
    ``dL/df' = p/f'``, so a kink at ``x_k`` weighs
    ``p(x_k) (1/f'(x_k-) - 1/f'(x_k+))`` and the ends of ``(a, b)`` give
    ``[p h / f']_a^b``. Parameters (ELU's ``alpha``) stay symbolic. At an
    infinite end the weight is SymPy's limit (an unevaluated ``Limit`` where
    it finds none in time), listed when it is not zero.

    >>> from eafo_sym.laws import laplace, normal
    >>> point_terms("leaky_relu", normal())  # alpha = 1/100: p(0) (100 - 1)
    (PointTerm(at=0, weight=99*sqrt(2)/(2*sqrt(pi)), kind='kink'),)
    >>> point_terms("relu", laplace(), interval=(0, sp.oo))
    (PointTerm(at=0, weight=-1/2, kind='end'),)
    """
    return segment_point_terms(_pieces(f, dist, interval, space), ends=ends)


def checked_tidy(raw: sp.Expr, var: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """The simplest of ``raw``'s tidy forms that still equals it on ``(lo, hi)``.

    ``simplify`` rewrites ``(exp(y) - 1)**(5/6)`` as ``(-1)**(5/6)*(1 - exp(y))**(5/6)``,
    which is complex for ``y > 0``: a logistic law with scale ``6/5`` made the
    y-space derivative of softplus wrong by 100 %. Each candidate is compared
    with ``raw`` at 30 digits at points inside the interval and dropped if it
    differs anywhere; ``raw`` itself is the fallback.
    """
    candidates = []
    for tidy in (sp.simplify, lambda e: sp.factor(sp.cancel(sp.together(e)))):
        try:
            with time_limit(TIDY_TIME):
                candidates.append(tidy(raw))
        except (TimeUp, sp.PolynomialError, NotImplementedError):
            continue
    points = _test_points(lo, hi)
    ref = [_value(raw, var, t) for t in points]
    good = [
        c for c in candidates
        if all(_close(_value(c, var, t), r) for t, r in zip(points, ref, strict=True))
    ]
    return min(good, key=sp.count_ops) if good else raw


def _value(expr: sp.Expr, var: sp.Symbol, t: sp.Expr) -> complex | None:
    try:
        return complex(sp.N(expr.subs(var, t), 30))
    except (TypeError, ValueError):
        return None


def _close(a: complex | None, b: complex | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-20 * (1 + abs(b))


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
            turning point or is flat), or SymPy finds no inverse (``x +
            tanh(x)/3`` has no closed one).

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
    try:
        with time_limit(SOLVE_TIME):
            candidates = sp.solve(sp.Eq(y, f), x)
    except (NotImplementedError, TimeUp):
        # e.g. x + tanh(x)/3: "multiple generators", no closed-form inverse.
        candidates = []
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
    e = expr
    # simplify() on a composed y-space derivative (softplus under logistic(0.3, 1.2)) ran for
    # minutes; the numeric check below decides when it does not finish in time. With a 2F1
    # (a Student-t CDF for large nu) simplify spends its whole time in hyperexpand.
    tidies = () if e.has(sp.hyper) else (sp.simplify, lambda v: sp.simplify(v.rewrite(sp.exp)))
    for tidy in tidies:
        try:
            with time_limit(TIDY_TIME):
                if tidy(e) == 0:
                    return True
        except TimeUp:
            continue
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
