r"""EAFO: move an activation against the entropy gradient, and the corrections it derives.

One step of gradient descent in function space (``docs/mathematics.md`` §6):

* x-space: ``f_new = f - eta * dH/df``;
* y-space (the paper's form): ``g_new = g - eta * dH/dg``, inverted back to ``f``.

Inverting ``g_new(f_new(x)) = x`` to first order in ``eta`` gives
``f_new = f + eta * f'(x) * dH/dg(f(x)) = f - eta * f'(x) * dH/df(x)``: the two
coordinates move ``f`` in directions that differ by the positive weight ``f'``
(two different metrics), both decreasing ``H`` to first order, and they agree
exactly where ``f' = 1`` (ReLU's branch). Iterating the step is the paper's
"dynamic" variant.

**One correction pipeline.** :func:`derive_correction` turns any base
activation and input law into ``base + eps * shape``, where ``shape`` is the
x-space entropy gradient ``dH/df = -d/dx (p/f')`` stripped of its positive
constant. The same function derives CRReLU (:func:`derive_crrelu`, ReLU under
a normal input), the ``eafo_*`` activations of :mod:`eafo_sym.catalog` and any
user's design. Its rules, each derived rather than chosen per base:

* **Flat pieces** (ReLU's ``x < 0``) carry no gradient: the derivation runs on
  the hull of the non-flat pieces, and the shape found there is continued to
  the whole line.
* **Parameters stay symbolic**: ELU's ``alpha`` is a constant of the
  variation, so ``eafo_elu`` keeps it.
* **Constant**: ``dH/df = c * shape`` with ``c`` the positive factor free of
  ``x`` and of the parameters on the right-most piece.
* **Piecewise bases**: one shape per smooth piece, joined into a Piecewise
  with a default branch.
* **Non-monotone bases** (SiLU): ``dH/df`` has a double pole where ``f' = 0``,
  because the output density is infinite there. The correction is taken in
  the metric weighted by ``1/f'^2``: the direction ``f'^2 dH/df`` has the
  same sign as ``dH/df`` (so it still decreases ``H`` on every branch) and is
  an entire function. :attr:`Correction.weight` records it.

**CRReLU**: on ReLU's invertible branch ``x > 0`` the step is
``x - eta * dH/df``, and ``dH/df`` there is a positive constant times
``x exp(-x**2/2)`` for standard normal input. The paper keeps that shape,
extends it to the whole line and makes its size ``eps`` learnable:
``max(0, x) + eps * x * exp(-x**2/2)``. The entropy-descent step corresponds to
``eps = -eta/sqrt(2*pi) < 0``; the first-order entropy change along ``eps`` is
``+sqrt(2)/8 > 0``. The paper's ``eps = +0.01`` therefore *raises* the branch
entropy to first order: by the paper's own criterion the derived sign is negative.

>>> d = derive_crrelu()
>>> d.expr
epsilon*x*exp(-x**2/2) + Max(0, x)
>>> d.descent_sign, d.entropy_slope
(-1, sqrt(2)/8)
>>> derive_crrelu(normal(0, 2)).shape
x*exp(-x**2/8)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from ..budget import TimeUp, time_limit
from ..cache import memoize
from ..laws import Law, _as_param, check_distribution, normal
from .bases import BASES, Activation, as_expression
from .functional import (
    as_interval,
    coordinates_agree,
    functional_derivative,
    inverse,
    on_interval,
    x_space_gradient,
)
from .pieces import Segment, check_activation, restrict, segments
from .symbols import eps, eta, x, y
from .taylor import taylor_coefficients

__all__ = [
    "PAPER_EPS",
    "Correction",
    "corrected_activation",
    "derive_correction",
    "derive_crrelu",
    "eafo_iterate",
    "eafo_step",
    "turning_points",
]

#: The paper's initial value of eps (its pseudocode's ``lr = 0.01``).
PAPER_EPS = 0.01


def _eta(value: Any) -> sp.Expr:
    if value is None:
        return eta
    return _as_param("eafo_step", "eta", value)


def eafo_step(
    f: Any,
    dist: Law,
    eta: Any = None,
    *,
    space: Literal["x", "y"] = "x",
    interval: Any = None,
) -> sp.Expr:
    """One EAFO step: ``f - eta * dH/df`` (x-space) or the y-space step inverted back.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        dist: Law of the input.
        eta: Step size (number or symbol; default the symbol ``eta``).
        space: ``"x"``, or ``"y"`` for ``g - eta*dH/dg`` mapped back to ``f``
            to first order in ``eta`` (needs an invertible ``f``).
        interval: Restrict to a branch, e.g. ``(0, oo)`` for ReLU.

    Returns:
        The new activation as an expression in ``x``.

    >>> eafo_step("relu", normal(), interval=(0, sp.oo))
    -sqrt(2)*eta*x*exp(-x**2/2)/(2*sqrt(pi)) + x
    >>> eafo_step("relu", normal(), interval=(0, sp.oo), space="y")
    -sqrt(2)*eta*x*exp(-x**2/2)/(2*sqrt(pi)) + x
    """
    f = check_activation(as_expression(f))
    dist = check_distribution(dist)
    step = _eta(eta)
    base = on_interval(f, dist, interval)
    # deep=False: distribute eta over the top-level sum only. A full expand of a
    # second step's rational terms grows 981 operations into 34532.
    if space == "x":
        dH = functional_derivative(f, dist, space="x", interval=interval)
        return sp.expand(base - step * dH, deep=False)
    if space != "y":
        raise ValueError(f"space must be 'x' or 'y', got {space!r}")
    dgy = functional_derivative(f, dist, space="y", interval=interval)
    if isinstance(dgy, sp.Piecewise):
        raise ValueError("space='y' needs f to be one smooth invertible piece on the interval")
    # g_new = g - eta*G1 with G1 = dH/dg. Solve g_new(f + eta*F1) = x to first order for F1.
    a, b = as_interval(interval, dist)
    g = inverse(base, (a, b))
    F1, e = sp.Symbol("F1"), sp.Symbol("e")
    g_new = g - e * dgy
    identity = g_new.subs(y, base + e * F1)
    first = sp.diff(identity, e).subs(e, 0)
    (f1,) = sp.solve(sp.Eq(sp.simplify(first), 0), F1)
    return sp.expand(base + step * sp.simplify(f1), deep=False)


def eafo_iterate(
    f: Any, dist: Law, eta: Any, steps: int, *, interval: Any = None
) -> list[sp.Expr]:
    """The dynamic variant: ``[f_0, f_1, ..., f_steps]`` with ``f_{k+1} = eafo_step(f_k)``.

    >>> fs = eafo_iterate(x, normal(), sp.Rational(1, 10), 2)
    >>> len(fs), fs[1]
    (3, x - sqrt(2)*x*exp(-x**2/2)/(20*sqrt(pi)))
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    out = [on_interval(check_activation(as_expression(f)), dist, interval)]
    for _ in range(steps):
        out.append(eafo_step(out[-1], dist, eta, interval=interval))
    return out


@dataclass(frozen=True)
class Correction:
    """The EAFO derivation of a corrected activation ``base + eps * shape``.

    Attributes:
        name: Registry name of the base, or None for an expression.
        expr: The corrected activation ``base + eps*shape`` (in ``x``, ``eps`` and
            the base's parameters).
        eps: The correction-size symbol (learnable in the generated modules).
        base: The base activation, its parameters symbolic.
        params: The base's parameters with their defaults.
        dist: The input law.
        branch: The base on the interval (its single piece there, e.g. ``x`` for ReLU).
        interval: The interval the derivation works on (ReLU: ``(0, oo)``).
        dH_df: The x-space functional derivative there (parameters symbolic; a
            Piecewise when the base has several pieces).
        dH_dg: The y-space functional derivative (in ``y``), or None if not
            asked for or SymPy has no inverse.
        coordinates_agree: ``dH/df(x) == -dH/dg(f(x))`` was verified.
        weight: ``1``, or ``f'**2`` for a non-monotone base (see the module doc).
        turning_points: Zeros of ``f'`` (default parameters) where it changes sign.
        coefficient: The positive constant ``c`` in ``weight * dH/df = c * shape``.
        shape: The correction shape, defined on the whole line.
        step: ``branch - eta * c * shape``, the EAFO step in this metric.
        eps_descent: The ``eps`` of that step, ``-eta * c``.
        descent_sign: Sign of ``eps`` that decreases the entropy on the interval
            to first order (from ``entropy_slope`` when it is known, else -1:
            the shape is a positive multiple of the gradient).
        entropy_slope: ``dH/d eps`` at ``eps = 0`` on the interval (the first
            Taylor coefficient, default parameters), or None (non-monotone base).
        taylor: Taylor coefficients of the entropy on the interval in ``eps``
            (an unevaluated Integral where SymPy has no closed form).
        paper_eps: The paper's initial value (+0.01 for CRReLU), or None.
        note: Plain-language statement of the sign finding.
    """

    name: str | None
    expr: sp.Expr
    eps: sp.Symbol
    base: sp.Expr
    params: dict
    dist: Law
    branch: sp.Expr
    interval: tuple
    dH_df: sp.Expr
    dH_dg: sp.Expr | None
    coordinates_agree: bool
    weight: sp.Expr
    turning_points: tuple
    coefficient: sp.Expr
    shape: sp.Expr
    step: sp.Expr
    eps_descent: sp.Expr
    descent_sign: int
    entropy_slope: sp.Expr | None
    taylor: list = field(default_factory=list)
    paper_eps: float | None = None
    note: str = ""

    @property
    def gradient(self) -> sp.Expr:
        """The same as :attr:`dH_df`."""
        return self.dH_df

    @property
    def base_expr(self) -> sp.Expr:
        """The same as :attr:`base`."""
        return self.base

    def bind(self, **values: float) -> sp.Expr:
        """:attr:`expr` with the base's parameters set (defaults unless given); eps stays."""
        by_name = {str(s): s for s in self.params}
        unknown = set(values) - set(by_name)
        if unknown:
            raise ValueError(f"no parameter(s) {', '.join(sorted(unknown))}; have {list(by_name)}")
        return self.expr.subs(
            {s: sp.nsimplify(values.get(str(s), d), rational=True) for s, d in self.params.items()}
        )


def _base(base: Any) -> tuple[str | None, sp.Expr, dict]:
    """(name, expression with symbolic parameters, parameter defaults)."""
    if isinstance(base, str) and base in BASES:
        act = BASES[base]
        return act.name, act.expr, dict(act.params)
    if isinstance(base, Activation):
        return base.name, base.expr, dict(base.params)
    return None, check_activation(as_expression(base), "base"), {}


def _defaults(params: dict) -> dict:
    return {s: sp.nsimplify(v, rational=True) for s, v in params.items()}


def _tidy(expr: sp.Expr) -> sp.Expr:
    """A compact form, cheaply: ``simplify`` takes seconds on SiLU's gradient.

    ``factor(cancel(together(.)))`` is tried first; ``simplify`` only when the
    expression is small (it turns ``1 - tanh**2`` into ``cosh**-2``).
    """
    fast = sp.factor(sp.cancel(sp.together(expr)))
    if sp.count_ops(expr) > 60:
        return fast
    return min(fast, sp.simplify(expr), key=sp.count_ops)


def _split_constant(expr: sp.Expr, params: set) -> tuple[sp.Expr, sp.Expr]:
    """``expr = c * rest`` with ``c`` free of ``x`` and of the parameters, ``c > 0``."""
    c, rest = sp.factor_terms(expr).as_independent(x, *params, as_Add=False)
    if c.is_number and c < 0:
        c, rest = -c, -rest
    return c, rest


def _scan_window(dist: Law) -> tuple[sp.Expr, sp.Expr]:
    loc, scale = dist.location, dist.scale
    loc = loc if loc is not None and loc.is_number else sp.S.Zero
    scale = scale if scale is not None and scale.is_number else sp.S.One
    return loc - 12 * scale, loc + 12 * scale


def turning_points(
    d: sp.Expr, a: sp.Expr, b: sp.Expr, dist: Law | None = None, *, seconds: float = 3.0
) -> list[sp.Expr]:
    """Points in ``(a, b)`` where the derivative ``d`` (of ``x`` alone) changes sign.

    Exact where SymPy solves ``d = 0`` (SiLU: ``-1 - LambertW(exp(-1))``);
    otherwise the sign of ``d`` is scanned at 30 digits over the bulk of the
    law (12 scales around its location) and each change refined by mpmath's
    root finder, giving 15-digit Floats (GELU, Mish).

    >>> [sp.N(t, 6) for t in turning_points(sp.diff(x / (1 + sp.exp(-x)), x), -sp.oo, sp.oo)]
    [-1.27846]
    """
    import mpmath

    def changes_sign(t: sp.Expr) -> bool:
        h = sp.Rational(1, 10**6)
        left, right = (sp.N(d.subs(x, t + s), 30) for s in (-h, h))
        return bool(left.is_real and right.is_real and left * right < 0)

    inside = sp.Interval.open(a, b)
    try:
        with time_limit(seconds):
            sols = sp.solve(sp.Eq(d, 0), x)
        exact = [r for r in sols if r.is_real and inside.contains(r) == sp.true]
        return sorted((r for r in exact if changes_sign(r)), key=lambda r: float(r))
    except (NotImplementedError, TimeUp, ValueError, TypeError):
        pass
    lo, hi = _scan_window(dist) if dist is not None else (sp.Integer(-12), sp.Integer(12))
    lo, hi = sp.Max(lo, a), sp.Min(hi, b)
    fn = sp.lambdify(x, d, modules="mpmath")
    roots = []
    with mpmath.workdps(30):
        grid = [mpmath.mpf(float(lo)) + (float(hi) - float(lo)) * k / 480 for k in range(1, 480)]
        vals = []
        for t in grid:
            try:
                vals.append(mpmath.re(fn(t)))
            except (ZeroDivisionError, ValueError, OverflowError):
                vals.append(mpmath.mpf(0))
        for t0, t1, v0, v1 in zip(grid[:-1], grid[1:], vals[:-1], vals[1:], strict=True):
            if v0 * v1 < 0:
                r = mpmath.findroot(fn, (t0, t1), solver="anderson")
                roots.append(sp.Float(mpmath.re(r), 15))
    return roots


def _join(pieces: list[tuple[sp.Expr, sp.Expr, sp.Expr]]) -> sp.Expr:
    """One expression from ``[(a, b, expr), ...]`` left to right, the last one the default."""
    if len(pieces) == 1:
        return pieces[0][2]
    return sp.Piecewise(*[(e, x < b) for _, b, e in pieces[:-1]], (pieces[-1][2], True))


def derive_correction(
    base: Any,
    dist: Law | None = None,
    *,
    interval: Any = None,
    taylor_order: int = 2,
    y_space: bool = True,
    paper_eps: float | None = None,
) -> Correction:
    """Derive ``base + eps * shape`` from one EAFO step on ``base`` (cached, also on disk).

    Args:
        base: A base activation's name (``"relu"``, ``"elu"``, ...), an
            :class:`~eafo_sym.symbolic.bases.Activation` (its parameters stay
            symbolic) or an expression in ``x``.
        dist: Law of the input (default: standard normal).
        interval: Where the entropy is taken; default the hull of the base's
            non-flat pieces on the support (ReLU: ``(0, oo)``).
        taylor_order: Taylor coefficients of the entropy along the shape to
            derive (0: none; they also give :attr:`Correction.entropy_slope`).
        y_space: Also derive ``dH/dg`` and check the coordinates agree.
        paper_eps: The paper's initial ``eps``, compared with the derived sign
            in :attr:`Correction.note`.

    Raises:
        ValueError: The base is constant on the interval, or a bad interval.

    >>> c = derive_correction("elu", taylor_order=0, y_space=False)
    >>> c.shape
    Piecewise(((x + 1)*exp(-x*(x + 2)/2)/alpha, x < 0), (x*exp(-x**2/2), True))
    >>> c.descent_sign, c.weight
    (-1, 1)
    """
    name, f, params = _base(base)
    dist = normal() if dist is None else check_distribution(dist)
    if isinstance(taylor_order, bool) or not isinstance(taylor_order, int) or taylor_order < 0:
        raise ValueError(f"taylor_order must be an int >= 0, got {taylor_order!r}")
    return _derive(name, f, tuple(params.items()), dist, _interval_key(interval), taylor_order,
                   bool(y_space), paper_eps)


def _interval_key(interval: Any) -> Any:
    if interval is None:
        return None
    if isinstance(interval, sp.Interval):
        return (interval.inf, interval.sup)
    try:
        return tuple(sp.sympify(v) for v in interval)
    except (TypeError, ValueError, sp.SympifyError):
        raise TypeError(
            f"interval must be a pair (a, b) or a SymPy Interval, got {interval!r}"
        ) from None


@memoize(disk=True)
def _derive(
    name: str | None,
    f: sp.Expr,
    params_items: tuple,
    dist: Law,
    interval: Any,
    taylor_order: int,
    y_space: bool,
    paper_eps: float | None,
) -> Correction:
    params = dict(params_items)
    symbols = set(params)
    defaults = _defaults(params)
    if interval is None:
        live = [s for s in segments(f, dist.support.inf, dist.support.sup, dist.pdf)
                if not s.is_flat]
        if not live:
            raise ValueError(f"base {f} is constant on the support: nothing to correct")
        interval = (live[0].a, live[-1].b)
    a, b = as_interval(interval, dist)
    pieces: list[Segment] = [s for s in segments(f, a, b, dist.pdf) if not s.is_flat]
    if not pieces:
        raise ValueError(f"base {f} is constant on ({a}, {b}): nothing to correct")
    grads = [
        (s.a, s.b, x_space_gradient(s.expr, restrict(dist.pdf, s.a, s.b), tidy=_tidy))
        for s in pieces
    ]
    turns: list[sp.Expr] = []
    for s in pieces:
        turns += turning_points(sp.diff(s.expr, x).subs(defaults), s.a, s.b, dist)
    weighted = []
    weight = sp.S.One
    for s, (pa, pb, g) in zip(pieces, grads, strict=True):
        if turns:
            weight = sp.diff(s.expr, x) ** 2
            g = _tidy(g * weight)
        weighted.append((pa, pb, g))
    c, _ = _split_constant(weighted[-1][2], symbols)
    shape = _join([(pa, pb, _tidy(g / c)) for pa, pb, g in weighted])
    dH_df = _join(grads)
    expr = f + eps * shape
    branch = on_interval(f, dist, (a, b))
    branch_bound = branch.subs(defaults)
    shape_bound = shape.subs(defaults)
    dgy, agree = None, False
    if y_space and not turns and not params:
        try:
            dgy = functional_derivative(branch_bound, dist, space="y", interval=(a, b))
            agree = coordinates_agree(branch_bound, dist, interval=(a, b))
        except (ValueError, NotImplementedError):
            dgy, agree = None, False
    taylor: list = []
    slope = None
    sign = -1
    if taylor_order and not turns:
        taylor = taylor_coefficients(branch_bound, shape_bound, dist, taylor_order,
                                     interval=(a, b))
        slope = taylor[0]
        value = float(sp.N(slope, 20))
        sign = -1 if value > 0 else (1 if value < 0 else 0)
    step = sp.expand(branch - eta * c * shape, deep=False)
    coefficient_text = sp.sstr(c)
    note = f"The entropy-descent step is eps = -eta*({coefficient_text})"
    if slope is not None:
        rel = "> 0" if sign < 0 else ("< 0" if sign > 0 else "= 0")
        note += (
            f"; dH/deps at 0 on ({a}, {b}) is {sp.sstr(slope)} ({rel}), so entropy descent "
            f"takes eps of sign {sign:+d}."
        )
    else:
        note += "; +eps moves along the gradient, so entropy descent takes eps < 0."
    if paper_eps is not None:
        agrees = (paper_eps > 0) == (sign > 0)
        note += f" The paper initialises eps = {paper_eps:+g}: " + (
            "this matches the descent direction."
            if agrees
            else "this is the opposite sign, so to first order it increases the entropy "
            "that EAFO sets out to decrease."
        )
    return Correction(
        name=name,
        expr=expr,
        eps=eps,
        base=f,
        params=params,
        dist=dist,
        branch=branch,
        interval=(a, b),
        dH_df=dH_df,
        dH_dg=dgy,
        coordinates_agree=agree,
        weight=weight,
        turning_points=tuple(turns),
        coefficient=c,
        shape=shape,
        step=step,
        eps_descent=-eta * c,
        descent_sign=sign,
        entropy_slope=slope,
        taylor=taylor,
        paper_eps=paper_eps,
        note=note,
    )


def derive_crrelu(dist: Law | None = None) -> Correction:
    """Derive CRReLU from ReLU (standard normal input unless ``dist`` is given; cached).

    The returned :class:`Correction` has ``.expr == max(0, x) + eps*shape``
    (``x*exp(-x**2/2)`` for the standard normal) and keeps every intermediate
    step; ``.note`` states the sign finding against the paper's ``eps = 0.01``.

    >>> from eafo_sym.laws import laplace
    >>> derive_crrelu(laplace()).shape
    exp(-x)
    """
    return derive_correction("relu", normal() if dist is None else dist, paper_eps=PAPER_EPS)


def corrected_activation(
    base: Any, dist: Law | None = None, *, name: str | None = None
) -> Activation:
    """The activation ``base + eps * shape`` with ``eps`` learnable, default :data:`PAPER_EPS`.

    Args:
        base: As in :func:`derive_correction`.
        dist: Law of the input (default standard normal).
        name: Registry name (default ``eafo_<base>``).

    >>> corrected_activation("tanh").params
    {epsilon: 0.01}
    """
    c = derive_correction(base, dist, taylor_order=0, y_space=False)
    params = dict(c.params)
    params[eps] = PAPER_EPS
    where = " on the monotone branch, in the 1/f'^2 metric" if c.turning_points else ""
    label = c.name or sp.sstr(c.base)
    return Activation(
        name or f"eafo_{label}",
        c.expr,
        params,
        f"{label} + eps * (EAFO correction{where}); eps = {PAPER_EPS} as in the paper, "
        f"entropy-descent sign {c.descent_sign:+d}",
        derived=True,
    )
