r"""EAFO: move an activation against the entropy gradient, and the corrections it derives.

One step of gradient descent in function space (``docs/mathematics.md`` §6):

* x-space: ``f_new = f - eta * dH/df``;
* y-space (the paper's form): ``g_new = g - eta * dH/dg``, inverted back to ``f``.

Inverting ``g_new(f_new(x)) = x`` to first order in ``eta`` gives
``f_new = f + eta * f'(x) * dH/dg(f(x)) = f - eta * f'(x) * dH/df(x)``: the two
coordinates move ``f`` in directions that differ by the positive weight ``f'``
(two different metrics), both decreasing ``H`` to first order, and they agree
exactly where ``f' = 1`` (ReLU's branch). Iterating the step is the paper's
"dynamic" variant. At a kink of ``f`` the x-space gradient has a point mass
(``docs/mathematics.md`` §8), so the x-space step carries a ``DiracDelta``
there: it is not a function, and numeric code refuses it.

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
* **Sign**: the Euler-Lagrange step has ``eps = -eta * c < 0``
  (:attr:`Correction.gradient_step_eps`); the sign that lowers the entropy
  (:attr:`Correction.descent_sign`) comes from the complete first variation,
  point terms at kinks and interval ends included. Under a Laplace law the
  point term at ReLU's branch end wins: descent is ``eps > 0`` and
  :attr:`Correction.note` says that the gradient step raises the entropy.

**CRReLU**: on ReLU's invertible branch ``x > 0`` the step is
``x - eta * dH/df``, and ``dH/df`` there is a positive constant times
``x exp(-x**2/2)`` for standard normal input. The paper keeps that shape,
extends it to the whole line and makes its size ``eps`` learnable:
``max(0, x) + eps * x * exp(-x**2/2)``. The gradient step corresponds to
``eps = -eta/sqrt(2*pi) < 0``; the first-order entropy change along ``eps`` is
``+sqrt(2)/8 > 0``, so here the gradient step is also the descent direction.
The paper's ``eps = +0.01`` therefore *raises* the branch entropy to first
order: by the paper's own criterion the derived sign is negative.

>>> d = derive_crrelu()
>>> d.expr
epsilon*x*exp(-x**2/2) + Max(0, x)
>>> d.descent_sign, d.entropy_slope, d.gradient_step_eps
(-1, sqrt(2)/8, -sqrt(2)*eta/(2*sqrt(pi)))
>>> derive_crrelu(normal(0, 2)).shape
x*exp(-x**2/8)
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from ..cache import memoize
from ..laws import Law, _as_param, check_distribution, normal
from .bases import BASES, Activation, as_expression
from .functional import (
    as_interval,
    checked_tidy,
    coordinates_agree,
    functional_derivative,
    inverse,
    on_interval,
    one_sided,
    segment_pieces,
    segment_point_terms,
    x_space_gradient,
)
from .pieces import Segment, check_activation, restrict, segments, turning_points
from .symbols import eps, eta, x, y
from .taylor import integral_value, taylor_coefficients

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
    point_terms: bool = True,
) -> sp.Expr:
    """One EAFO step: ``f - eta * dH/df`` (x-space) or the y-space step inverted back.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        dist: Law of the input.
        eta: Step size (number or symbol; default the symbol ``eta``).
        space: ``"x"``, or ``"y"`` for ``g - eta*dH/dg`` mapped back to ``f``
            to first order in ``eta`` (needs an invertible ``f``).
        interval: Restrict to a branch, e.g. ``(0, oo)`` for ReLU.
        point_terms: Keep the gradient's point terms at kinks of ``f``
            (x-space). ``False`` takes the Euler-Lagrange step alone: a
            function, the steepest step among perturbations that vanish at
            the kinks.

    Returns:
        The new activation as an expression in ``x``; in x-space it carries
        ``-eta * weight * DiracDelta(x - x_k)`` at each kink ``x_k`` of ``f``
        (the gradient's point terms, ``docs/mathematics.md`` §8) unless
        ``point_terms=False``.

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
        if not point_terms:
            dH = dH.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
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
    # The first-order condition is linear in F1: solve it as such (sp.solve on the
    # simplified form of sinh's step under a Student-t law ran for over 15 minutes).
    f1 = -first.subs(F1, 0) / sp.diff(first, F1)
    return sp.expand(base + step * checked_tidy(f1, x, a, b), deep=False)


def eafo_iterate(
    f: Any,
    dist: Law,
    eta: Any,
    steps: int,
    *,
    interval: Any = None,
    point_terms: bool = True,
) -> list[sp.Expr]:
    """The dynamic variant: ``[f_0, f_1, ..., f_steps]`` with ``f_{k+1} = eafo_step(f_k)``.

    A step on ELU makes ``f_1`` jump at ``0`` (``dH/df`` does, through ``f''``),
    so the next x-space step has a point term there; ``point_terms`` is passed
    to :func:`eafo_step` (``False``: Euler-Lagrange steps, functions throughout).

    >>> fs = eafo_iterate(x, normal(), sp.Rational(1, 10), 2)
    >>> len(fs), fs[1]
    (3, x - sqrt(2)*x*exp(-x**2/2)/(20*sqrt(pi)))
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    out = [on_interval(check_activation(as_expression(f)), dist, interval)]
    for _ in range(steps):
        out.append(eafo_step(out[-1], dist, eta, interval=interval, point_terms=point_terms))
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
        step: ``branch - eta * c * shape``, the Euler-Lagrange (gradient) step in
            this metric.
        gradient_step_eps: The ``eps`` of that step, ``-eta * c`` (always
            ``< 0``). It is the entropy-descent direction only when
            :attr:`descent_sign` is ``-1``; point terms can reverse it.
        descent_sign: Sign of ``eps`` that decreases the entropy on the interval
            to first order: the sign of ``-dH/d eps``, the *complete* first
            variation (Euler-Lagrange part plus point terms). Under a Laplace
            law ReLU's is ``+1`` while ``gradient_step_eps < 0``. For a
            non-monotone base it is ``-1`` from the weighted gradient (0 where
            point terms leave it undetermined). None under a law with symbolic
            parameters when the sign depends on them (see :attr:`descent_condition`).
        entropy_slope: ``dH/d eps`` at ``eps = 0`` on the interval (the first
            Taylor coefficient, default parameters), or None (non-monotone base,
            or ``taylor_order=0`` with no point terms along the shape).
        taylor: Taylor coefficients of the entropy on the interval in ``eps``
            (an unevaluated Integral where SymPy has no closed form).
        paper_eps: The paper's initial value (+0.01 for CRReLU), or None.
        note: Plain-language statement of the sign finding, saying when the
            gradient step and the descent direction differ, and why.
        point_terms: The point terms of ``dH/df`` at kinks and finite interval
            ends (:class:`~eafo_sym.symbolic.functional.PointTerm`, parameters
            symbolic); ReLU's branch ``(0, oo)`` has ``-p(0)`` at ``0``.
        point_slope: Their part of ``dH/d eps`` along the shape,
            ``sum [p s / f']`` over the pieces' ends (default parameters).
        descent_condition: Where :attr:`descent_sign` is None: the condition on
            the law's parameters (``entropy_slope > 0``) under which ``eps < 0``
            lowers the entropy; else None.
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
    gradient_step_eps: sp.Expr
    descent_sign: int | None
    entropy_slope: sp.Expr | None
    taylor: list = field(default_factory=list)
    paper_eps: float | None = None
    note: str = ""
    point_terms: tuple = ()
    point_slope: sp.Expr = sp.S.Zero
    descent_condition: sp.Basic | None = None

    @property
    def eps_descent(self) -> sp.Expr:
        """Deprecated name of :attr:`gradient_step_eps` (which is not always the descent)."""
        warnings.warn(
            "Correction.eps_descent is deprecated: it is gradient_step_eps, the eps of the "
            "Euler-Lagrange step, which decreases the entropy only where descent_sign is -1",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.gradient_step_eps

    def with_slope(self, value: float) -> Correction:
        """This correction with ``dH/d eps`` set to ``value`` (measured numerically).

        :attr:`descent_sign` and :attr:`note` are recomputed with it, so the
        three fields keep agreeing.
        """
        slope = sp.Float(value, 15)
        sign = _sign(slope)
        return dataclasses.replace(
            self,
            entropy_slope=slope,
            descent_sign=sign,
            note=_note(self.coefficient, self.interval, slope, self.point_slope, sign,
                       bool(self.turning_points), self.paper_eps),
        )

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
    if c.is_negative:
        c, rest = -c, -rest
    return c, rest


def _standard_variable(dist: Law) -> tuple[sp.Expr, sp.Expr] | None:
    """``(location, scale)`` of a law with symbolic parameters, else None.

    Under such a law the shape is written in the standardised variable
    ``u = (x - location)/scale`` and the constant takes the powers of the
    scale: ReLU under ``normal(mu, sigma)`` gives ``u exp(-u**2/2)``.
    """
    if not dist.symbols or dist.location is None or dist.scale is None:
        return None
    return dist.location, dist.scale


def _split_standardised(
    expr: sp.Expr, params: set, dist: Law
) -> tuple[sp.Expr, Callable[[sp.Expr], sp.Expr]]:
    """``expr = c * shape(u)`` in the law's standardised variable ``u`` (see above).

    Returns ``c`` and the map from an expression to its shape: ``expr / c``
    tidied in ``u`` and written back in ``(x - location)/scale``.
    """
    frame = _standard_variable(dist)
    if frame is None:
        c, _ = _split_constant(expr, params)
        return c, lambda g: _tidy(g / c)
    loc, scale = frame
    u = sp.Dummy("u", real=True)
    in_u = sp.powsimp(sp.expand_power_base(expr.subs(x, loc + scale * u), force=True))
    c, _ = _split_constant(_tidy(in_u), params | {u})
    c = c.subs(u, (x - loc) / scale)
    if c.has(sp.beta, sp.gamma):
        c = sp.simplify(sp.gammasimp(sp.expand_func(c)))

    def shape(g: sp.Expr) -> sp.Expr:
        tidy = _tidy(sp.expand_power_base((g / c).subs(x, loc + scale * u), force=True))
        return tidy.subs(u, (x - loc) / scale)

    return c, shape


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
        (s.a, s.b, x_space_gradient(s.expr, restrict(dist.pdf, s.a, s.b), tidy=_tidy,
                                    seconds=None))
        for s in pieces
    ]
    turns: list[sp.Expr] = []
    # The scan for turning points needs numbers for the law's bulk; f' itself is the law's.
    scan = dist if not dist.symbols else None
    for s in pieces:
        turns += turning_points(sp.diff(s.expr, x).subs(defaults), s.a, s.b, scan)
    weighted = []
    weight = sp.S.One
    for s, (pa, pb, g) in zip(pieces, grads, strict=True):
        if turns:
            weight = sp.diff(s.expr, x) ** 2
            g = _tidy(g * weight)
        weighted.append((pa, pb, g))
    c, to_shape = _split_standardised(weighted[-1][2], symbols, dist)
    shape = _join([(pa, pb, to_shape(g)) for pa, pb, g in weighted])
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
        except (ValueError, NotImplementedError, TypeError):
            # TypeError: a law with symbols has no numeric test points for the agreement.
            dgy, agree = None, False
    point_pieces = segment_pieces(pieces, dist, "x")
    kinks = segment_point_terms(point_pieces, ends=True, infinite=False)
    dH_df = sp.Add(dH_df, *(t.weight * sp.DiracDelta(x - t.at) for t in kinks if t.kind == "kink"))
    shapes = [restrict(shape_bound, s.a, s.b) for s in pieces]
    point_slope = _point_slope(point_pieces, shapes, defaults)
    taylor: list = []
    slope = None
    # An unevaluated Limit (SymPy found none in time) leaves the end term unknown, not infinite.
    unknown = point_slope.has(sp.Limit)
    exists = unknown or not point_slope.has(sp.oo, -sp.oo, sp.zoo, sp.nan)
    symbolic = bool(dist.symbols)
    if not exists or unknown:
        # [p s / f'] is infinite at an end: the shape grows faster than f' decays there
        # (ELU under a logistic law of scale 6/5), and dH/deps does not exist.
        pass
    elif taylor_order and not turns:
        taylor = taylor_coefficients(branch_bound, shape_bound, dist, taylor_order,
                                     interval=(a, b))
        slope = taylor[0]
    elif not turns and point_slope != 0 and not symbolic:
        # The interior part c * integral s^2 > 0 alone no longer fixes the sign. Its sign is
        # all that is needed: the unevaluated integral, valued by mpmath's quadrature.
        c1 = taylor_coefficients(branch_bound, shape_bound, dist, 1, interval=(a, b), exact=False)
        slope = sp.Float(integral_value(c1[0]), 15)
    # Without a slope: weight * dH/df = c * shape makes the interior part of dH/deps
    # c * integral s^2/weight > 0, which fixes the sign only when no point term adds to it.
    if slope is not None:
        sign = _sign(slope)
    elif point_slope == 0:
        sign = -1
    else:
        sign = None if symbolic else 0
    condition = _descent_condition(slope) if sign is None else None
    step = sp.expand(branch - eta * c * shape, deep=False)
    note = _note(c, (a, b), slope, point_slope, sign, bool(turns), paper_eps, condition)
    if unknown:
        note = (
            f"The Euler-Lagrange (gradient) step has eps = -eta*({sp.sstr(c)}) < 0; SymPy finds "
            f"no closed form for the point term [p s / f'] at an infinite end of ({a}, {b}), "
            "so the descent sign is not determined here: bind the law's parameters and "
            "measure it numerically."
        )
    elif not exists:
        note = (
            f"The Euler-Lagrange (gradient) step has eps = -eta*({sp.sstr(c)}) < 0, but dH/deps "
            f"at 0 on ({a}, {b}) does not exist: the point term [p s / f'] at an interval end "
            f"is {sp.sstr(point_slope)} (the shape grows faster than f' decays there), so no "
            "descent sign follows."
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
        gradient_step_eps=-eta * c,
        descent_sign=sign,
        entropy_slope=slope,
        taylor=taylor,
        paper_eps=paper_eps,
        note=note,
        point_terms=kinks,
        point_slope=point_slope,
        descent_condition=condition,
    )


def _sign(slope: sp.Expr) -> int | None:
    """The sign of eps that lowers the entropy: minus the sign of ``dH/d eps``.

    None when the slope holds symbols (a law's parameters) and SymPy cannot
    decide its sign from their assumptions.
    """
    if slope.free_symbols:
        if slope.is_positive:
            return -1
        if slope.is_negative:
            return 1
        return 0 if slope.is_zero else None
    value = integral_value(slope) if slope.has(sp.Integral) else float(sp.N(slope, 20))
    return -1 if value > 0 else (1 if value < 0 else 0)


def _descent_condition(slope: sp.Expr | None) -> sp.Basic | None:
    """Where ``eps < 0`` lowers the entropy: ``dH/d eps > 0`` in the law's parameters."""
    if slope is None:
        return None
    return sp.Gt(slope, 0)


def _point_slope(pieces: list, shapes: list[sp.Expr], defaults: dict) -> sp.Expr:
    """``sum over pieces of [(dL/df') s]`` at their ends: the point terms' part of ``dH/d eps``.

    Integrating ``integral p s'/f'`` by parts on each piece leaves
    ``(p/f') s`` at its ends; summed, that is every kink's jump times ``s``
    there and the interval ends' ``[p s / f']_a^b`` (``docs/mathematics.md`` §8).
    """
    total = sp.S.Zero
    for pc, shape in zip(pieces, shapes, strict=True):
        m = (pc.momentum * shape).subs(defaults)
        total += _end_term(m, pc.hi, "-") - _end_term(m, pc.lo, "+")
    if not total.has(sp.Limit):
        total = sp.simplify(total)
    return sp.S.Zero if total.is_number and abs(complex(sp.N(total, 30))) < 1e-25 else total


def _end_term(m: sp.Expr, at: sp.Expr, side: str) -> sp.Expr:
    """``m`` at an end of its piece; at an infinite end 0 where it falls off super-exponentially.

    SymPy's limit of GELU's ``p s / f'`` at infinity takes seconds or fails; a
    Gaussian density times a correction shape is ``exp(-x**2)``-small out
    there, which values at ``|x| = 8, 12, 16`` show at once (at the precision
    that ``1 + erf(x)`` needs there): below ``1e-40`` and falling by ten
    orders of magnitude per step. Anything slower gets SymPy's limit.
    """
    if at.is_finite or m.free_symbols - {x}:
        return one_sided(m, x, at, side)
    import mpmath

    fn = sp.lambdify(x, m, modules="mpmath")
    far = []
    for t in (8, 12, 16):
        with mpmath.workdps(50 + t * t):
            try:
                far.append(abs(complex(fn(mpmath.mpf(t if at == sp.oo else -t)))))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                break
    if len(far) == 3 and far[2] < 1e-40 and far[2] < 1e-10 * far[1] < 1e-20 * far[0]:
        return sp.S.Zero
    return one_sided(m, x, at, side)


def _note(
    c: sp.Expr,
    interval: tuple,
    slope: sp.Expr | None,
    point_slope: sp.Expr,
    sign: int,
    weighted: bool,
    paper_eps: float | None,
    condition: sp.Basic | None = None,
) -> str:
    """The plain-language sign finding: gradient step, complete first variation, descent."""
    a, b = interval
    note = f"The Euler-Lagrange (gradient) step has eps = -eta*({sp.sstr(c)}) < 0"
    if sign is None:
        note += (
            f"; dH/deps at 0 on ({a}, {b}) is {sp.sstr(slope)}, whose sign depends on the "
            "law's parameters: entropy descent takes eps < 0 where "
            f"{sp.sstr(condition)} and eps > 0 where it is reversed."
            if slope is not None
            else "; the descent sign depends on the law's parameters."
        )
        return note
    if slope is not None:
        rel = "> 0" if sign < 0 else ("< 0" if sign > 0 else "= 0")
        # sstr() would evaluate an unevaluated Integral to order the terms: print its value.
        shown = f"{integral_value(slope):.10g}" if slope.has(sp.Integral) else sp.sstr(slope)
        note += f"; dH/deps at 0 on ({a}, {b}) is {shown} ({rel})"
        if point_slope != 0:
            note += (
                f", of which {sp.sstr(point_slope)} comes from point terms at kinks and "
                "interval ends that the Euler-Lagrange derivative leaves out"
            )
        note += f", so entropy descent takes eps of sign {sign:+d}."
        if sign > 0:
            note += (
                " The gradient step points the other way: to first order it raises this entropy."
            )
    elif weighted and sign == 0:
        note += (
            "; point terms along the shape leave the descent sign undetermined here: measure "
            "it with eafo_sym.numeric.corrections.correction_shape(..., slope=True)."
        )
    else:
        metric = "the 1/f'^2-weighted gradient" if weighted else "the gradient"
        note += f"; +eps moves along {metric}, so entropy descent takes eps < 0."
    if paper_eps is not None:
        agrees = (paper_eps > 0) == (sign > 0)
        note += f" The paper initialises eps = {paper_eps:+g}: " + (
            "this matches the descent direction."
            if agrees
            else "this is the opposite sign, so to first order it increases the entropy "
            "that EAFO sets out to decrease."
        )
    return note


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
