r"""EAFO corrections of other base activations, registered like CRReLU.

CRReLU is ``relu + eps * shape`` where ``shape`` is the x-space entropy gradient
``dH/df = -d/dx (p/f')`` on ReLU's invertible branch, stripped of its positive
constant. This module runs the same derivation from other bases (LeakyReLU,
PReLU, ELU, Softplus, tanh, SiLU) and registers the results as ``eafo_<base>``
with a learnable ``eps`` (default ``+0.01``, the paper's initial value, so that
every ``eafo_*`` module is a drop-in twin of CRReLU; the derived entropy-descent
sign, always ``-1`` here, is kept in :attr:`CorrectionShape.descent_sign` and in
the description). Registration is lazy: importing :mod:`eafo_sym.activations`
registers the names, the derivation runs on the first
:func:`~eafo_sym.activations.get` (about a second each).

Rules, each derived rather than chosen per base:

* **Parameters stay symbolic.** The gradient is computed from the Lagrangian
  ``p log f'`` (:func:`~eafo_sym.variations.lagrangian`) with the base's own
  parameters (``alpha``, ``beta``) kept as symbols, so ``eafo_elu`` keeps ELU's
  ``alpha``.
* **Constant.** ``dH/df = c * shape`` with ``c`` the positive factor free of
  ``x`` and of the parameters on the right-most piece (CRReLU's convention:
  ``shape = x exp(-x^2/2)`` on ``x > 0``).
* **Piecewise bases.** One shape per smooth piece, joined into a Piecewise with
  a default branch (so the code printer never meets a missing case).
* **Non-monotone bases (SiLU).** ``dH/df`` has a double pole where ``f' = 0``
  (SiLU's minimum ``x_min = -1 - W(1/e)``, solved by SymPy), because there the
  output density is infinite. The correction is then taken in the metric
  weighted by ``1/f'^2``: the direction ``f'^2 dH/df`` has the same sign as
  ``dH/df`` (so it still decreases ``H`` on every branch) and is an entire
  function on the whole line. :attr:`CorrectionShape.weight` records it.

>>> c = correction_shape("elu")
>>> c.shape
Piecewise(((x + 1)*exp(-x*(x + 2)/2)/alpha, x < 0), (x*exp(-x**2/2), True))
>>> c.descent_sign, c.weight
(-1, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from ._symbols import eps, x
from .activations import Activation, get, register_derived

__all__ = [
    "BASES",
    "CorrectionShape",
    "correction_shape",
    "corrected_activation",
    "entropy_gradient",
    "eafo_path",
    "non_gaussian_table",
]

#: Bases that get an ``eafo_<base>`` activation, with their branch convention.
BASES: tuple[str, ...] = ("leaky_relu", "prelu", "elu", "softplus", "tanh", "silu")

#: The paper's initial value of eps (Appendix pseudocode ``lr = 0.01``).
PAPER_EPS = 0.01


@dataclass(frozen=True)
class CorrectionShape:
    """The EAFO correction of one base activation.

    Attributes:
        base: Registry name of the base.
        base_expr: The base expression (parameters symbolic).
        params: The base's parameters with defaults.
        gradient: ``dH/df`` on the interval, a (Piecewise) expression.
        weight: ``1``, or ``f'**2`` for a non-monotone base (see module doc).
        coefficient: The positive constant ``c`` in ``weight * dH/df = c * shape``.
        shape: The correction shape, defined on the whole line.
        turning_points: Exact zeros of ``f'`` (SiLU's minimum), else empty.
        descent_sign: Sign of ``eps`` that decreases ``H`` to first order.
        entropy_slope: ``dH/d eps`` at ``eps = 0`` (numeric, default parameters).
    """

    base: str
    base_expr: sp.Expr
    params: dict
    gradient: sp.Expr
    weight: sp.Expr
    coefficient: sp.Expr
    shape: sp.Expr
    turning_points: tuple
    descent_sign: int
    entropy_slope: float

    @property
    def expr(self) -> sp.Expr:
        """``base + eps * shape``."""
        return self.base_expr + eps * self.shape


def entropy_gradient(f: sp.Expr, dist: Any, pieces: list | None = None) -> list[tuple]:
    """``dH/df`` on each smooth piece of ``f``, from the Euler-Lagrange expression.

    Unlike :func:`~eafo_sym.variations.functional_derivative` this accepts
    parameter symbols in ``f`` (they are constants of the variation).

    Args:
        f: Activation expression in ``x`` (may contain parameter symbols).
        dist: Law of the input.
        pieces: Precomputed ``segments`` (internal).

    Returns:
        ``[(a, b, f_piece, dH_df_piece), ...]`` from left to right.

    >>> from eafo_sym.distributions import normal
    >>> entropy_gradient(x, normal())
    [(-oo, oo, x, sqrt(2)*x*exp(-x**2/2)/(2*sqrt(pi)))]
    """
    from sympy.calculus.euler import euler_equations

    from ._pieces import restrict, segments
    from .variations import _F, lagrangian

    if pieces is None:
        pieces = segments(f, dist.support.inf, dist.support.sup, dist.pdf)
    out = []
    for seg in pieces:
        if seg.is_flat:
            continue
        p = restrict(dist.pdf, seg.a, seg.b)
        local = type(dist)(dist.name, dist.params, p, dist.cdf, dist.support, None)
        (el,) = euler_equations(lagrangian(local, "x"), _F(x), x)
        g = el.lhs.subs(_F(x), seg.expr).doit()
        out.append((seg.a, seg.b, seg.expr, _tidy(g)))
    return out


def _tidy(expr: sp.Expr) -> sp.Expr:
    """A compact form, cheaply: ``simplify`` takes seconds on SiLU's gradient.

    ``factor(cancel(together(.)))`` is tried first; ``simplify`` only when the
    expression is small (it turns ``1 - tanh**2`` into ``cosh**-2``).
    """
    fast = sp.factor(sp.cancel(sp.together(expr)))
    if sp.count_ops(expr) > 60:
        return fast
    slow = sp.simplify(expr)
    return min(fast, slow, key=sp.count_ops)


def _split_constant(expr: sp.Expr, params: set) -> tuple[sp.Expr, sp.Expr]:
    """``expr = c * rest`` with ``c`` free of ``x`` and of the parameters, ``c > 0``."""
    c, rest = sp.factor_terms(expr).as_independent(x, *params, as_Add=False)
    if c.is_number and c < 0:
        c, rest = -c, -rest
    return c, rest


def _numeric_slope(base_bound: sp.Expr, shape_bound: sp.Expr, dist: Any, monotone: bool) -> float:
    """``dH/d eps`` at 0, by quadrature or by a central difference.

    A monotone base uses the first Taylor coefficient ``integral p h'/f'``
    (quadrature). A non-monotone one has no such series (``h'/f'`` has a pole
    at the turning point), so the branch-sum entropy
    :func:`~eafo_sym.entropy.output_entropy` itself is differenced with a step
    small enough to keep the perturbed branches monotone.
    """
    from .entropy import output_entropy

    if monotone:
        return first_variation(base_bound, shape_bound, dist)
    h = 1e-4
    with np.errstate(all="ignore"):
        up = output_entropy(base_bound + h * shape_bound, dist)
        down = output_entropy(base_bound - h * shape_bound, dist)
    return (up - down) / (2 * h)


def first_variation(f: sp.Expr, h: sp.Expr, dist: Any, tail: float = 1e-13) -> float:
    """``dH[f + eta h]/d eta`` at 0, ``integral p h'/f'``, for a monotone ``f`` (quadrature).

    Integrates over the quantile range holding all but ``2*tail`` of the mass,
    split at the breakpoints of ``f`` and ``h``: out there ``p`` underflows
    while ``h'/f'`` can overflow (ELU's ``exp(-x)``), and ``0 * inf`` is NaN.

    >>> from eafo_sym.distributions import normal
    >>> round(first_variation(x, x, normal()), 8)  # d/d eta log(1 + eta) = 1
    1.0
    """
    from scipy.integrate import quad

    from ._pieces import numeric, segments

    lo, hi = dist.quantile_range(tail)
    logpdf = dist.scipy.logpdf
    total = 0.0
    for seg in segments(f, lo, hi, h, dist.pdf):
        from ._pieces import restrict

        ratio = numeric(sp.diff(restrict(h, seg.a, seg.b), x) / sp.diff(seg.expr, x))

        def integrand(t: float, ratio=ratio) -> float:
            with np.errstate(all="ignore"):
                v = math.exp(float(logpdf(t))) * float(ratio(t))
            return v if math.isfinite(v) else 0.0

        a, b = float(seg.a), float(seg.b)
        total += quad(integrand, a, b, limit=200, epsabs=1e-12, epsrel=1e-11)[0]
    return total


def correction_shape(base: str, dist: Any = None, *, slope: bool = False) -> CorrectionShape:
    """Derive the EAFO correction shape of a registered base activation (cached).

    Args:
        base: Registry name (``"elu"``, ``"silu"``, ...).
        dist: Law of the input (default standard normal).
        slope: Also compute the numeric ``dH/d eps`` at 0 (a second or two);
            otherwise ``entropy_slope`` is NaN and ``descent_sign`` comes from
            the derivation (``-1``: the shape is a positive multiple of the
            gradient, so ``+eps`` raises ``H`` to first order).

    Raises:
        ValueError: Unknown base, or a base that is flat everywhere.

    >>> correction_shape("leaky_relu").shape  # doctest: +NORMALIZE_WHITESPACE
    Piecewise((x*exp(-x**2/2)/alpha, x < 0), (x*exp(-x**2/2), True))
    """
    if dist is None:
        return _default_shape(base, slope)
    return _derive_shape(base, dist, slope)


@lru_cache(maxsize=64)
def _default_shape(base: str, slope: bool) -> CorrectionShape:
    """Cached for the standard normal (the registered activations); Distributions are unhashable."""
    return _derive_shape(base, None, slope)


def _derive_shape(base: str, dist: Any, slope: bool) -> CorrectionShape:
    from ._pieces import critical_points, segments
    from .distributions import normal

    dist = normal() if dist is None else dist
    act = get(base)
    f = act.expr
    params = set(act.params)
    pieces = [s for s in segments(f, dist.support.inf, dist.support.sup, dist.pdf) if not s.is_flat]
    if not pieces:
        raise ValueError(f"base {base!r} is constant on the support: nothing to correct")
    grads = entropy_gradient(f, dist, pieces)
    bound = act.bind()
    # Turning points: zeros of f' (with default parameters) found numerically,
    # then solved exactly by SymPy where it can (SiLU: -1 - LambertW(exp(-1))).
    turns: list[sp.Expr] = []
    defaults = {s: sp.nsimplify(v, rational=True) for s, v in act.params.items()}
    # Only where the input has mass: far in the tails f' underflows and its
    # rounding noise fakes sign changes (SiLU near x = -355).
    lo, hi = dist.quantile_range(1e-12)
    for seg in pieces:
        d = sp.diff(seg.expr, x).subs(defaults)
        with np.errstate(all="ignore"):
            found = critical_points(d, max(float(seg.a), lo), min(float(seg.b), hi))
        for t in found:
            exact = [r for r in _solve_real(d) if abs(float(r) - t) < 1e-8]
            turns.append(exact[0] if exact else sp.Float(t, 15))
    weight = sp.S.One
    new = []
    for a, b, fe, g in grads:
        if turns:
            weight = sp.diff(fe, x) ** 2
            g = _tidy(g * weight)
        new.append((a, b, g))
    c, _ = _split_constant(new[-1][2], params)
    shapes = [_tidy(g / c) for _, _, g in new]
    if len(shapes) == 1:
        shape = shapes[0]
    else:
        shape = sp.Piecewise(
            *[(s, x < b) for (_, b, _), s in zip(new[:-1], shapes[:-1], strict=True)],
            (shapes[-1], True),
        )
    slope_val = math.nan
    sign = -1
    if slope:
        slope_val = _numeric_slope(bound, _bind(shape, act), dist, not turns)
        sign = -1 if slope_val > 0 else 1
    return CorrectionShape(
        base=base,
        base_expr=f,
        params=dict(act.params),
        gradient=sp.Piecewise(*[(g, x < b) for a, b, _, g in grads[:-1]], (grads[-1][3], True))
        if len(grads) > 1
        else grads[0][3],
        weight=weight,
        coefficient=c,
        shape=shape,
        turning_points=tuple(turns),
        descent_sign=sign,
        entropy_slope=slope_val,
    )


def _solve_real(d: sp.Expr) -> list[sp.Expr]:
    try:
        sols = sp.solve(sp.Eq(d, 0), x)
    except (NotImplementedError, ValueError):
        return []
    return [s for s in sols if s.is_real]


def _bind(expr: sp.Expr, act: Activation) -> sp.Expr:
    return expr.subs({s: sp.nsimplify(v, rational=True) for s, v in act.params.items()})


def corrected_activation(base: str, dist: Any = None) -> Activation:
    """The registered form ``eafo_<base> = base + eps * shape`` (``eps`` default 0.01).

    >>> corrected_activation("tanh").params
    {epsilon: 0.01}
    """
    c = correction_shape(base, dist)
    params = dict(c.params)
    params[eps] = PAPER_EPS
    where = " on the monotone branch, in the 1/f'^2 metric" if c.turning_points else ""
    return Activation(
        f"eafo_{base}",
        c.expr,
        params,
        f"{base} + eps * (EAFO correction{where}); eps = {PAPER_EPS} as in the paper, "
        f"entropy-descent sign {c.descent_sign:+d}",
        derived=True,
    )


def eafo_path(base: Any, dist: Any, eta: float, steps: int) -> list[float]:
    """Output entropies along the iterated EAFO step (the paper's dynamic variant).

    Args:
        base: Registry name or expression (parameters bound to defaults).
        dist: Law of the input.
        eta: Numeric step size.
        steps: Number of steps.

    Returns:
        ``[H[f_0], H[f_1], ..., H[f_steps]]`` by quadrature.

    >>> from eafo_sym.distributions import normal
    >>> [round(v, 6) for v in eafo_path(x, normal(), 0.5, 1)]
    [1.418939, 1.339867]
    """
    from .activations import resolve
    from .eafo import eafo_iterate
    from .entropy import output_entropy

    if isinstance(eta, bool) or not isinstance(eta, (int, float)):
        raise TypeError(f"eta must be a number, got {type(eta).__name__}")
    fs = eafo_iterate(resolve(base), dist, sp.nsimplify(eta, rational=True), steps)
    return [float(output_entropy(_drop_nan(f), dist)) for f in fs]


def _drop_nan(f: sp.Expr) -> sp.Expr:
    """Replace ``(nan, True)`` defaults of Piecewise gradients by the previous branch.

    :func:`~eafo_sym.variations.functional_derivative` ends multi-piece results
    with ``(nan, True)`` (the breakpoints themselves); on a null set that is
    harmless for integrals but poisons numeric evaluation at exactly ``x = 0``.
    """

    def fix(pw: sp.Piecewise) -> sp.Expr:
        args = list(pw.args)
        if args and args[-1][0] is sp.nan and len(args) > 1:
            args = args[:-2] + [(args[-2][0], True)]
        return sp.Piecewise(*args)

    return f.replace(lambda e: isinstance(e, sp.Piecewise), fix)


def non_gaussian_table(dists: dict | None = None) -> list[dict]:
    """WAFBC and ReLU's EAFO correction for several input laws.

    For each law: the worst activation with ``f(-oo) = 0, f(oo) = 1`` (the
    CDF, always a closed form when SymPy has the CDF), its entropy
    (``log(y_b - y_a) = 0``), the correction shape on ReLU's branch
    ``x > 0`` (``-p'(x)``: always closed form), whether that shape stays
    bounded when continued to ``x < 0`` (Gaussian: yes; Laplace: no, its
    ``exp(-x)`` blows up), and the first-order entropy slope along the shape
    by quadrature (numeric). The slope splits by parts into a boundary term
    ``-p(0) h(0)`` and ``c * integral h^2 >= 0``; the Euler-Lagrange
    derivative only sees the second. For the Gaussian ``h(0) = 0``, but for
    the Laplace law ``h(0) = 1`` and the boundary term wins: along its EAFO
    shape the half-branch entropy *falls* for ``eps > 0`` (descent sign +1).

    Args:
        dists: ``{label: Distribution}``; default normal, Laplace, logistic,
            Student-t(3), Student-t(5) and a two-Gaussian mixture.

    Returns:
        Rows (dicts) with keys ``dist, wafbc, wafbc_closed_form, wafbc_entropy,
        shape, shape_closed_form, bounded_on_line, entropy_slope, boundary_term,
        interior_term, descent_sign``.
    """
    from . import distributions as dd
    from .taylor import entropy_taylor
    from .wafbc import worst_activation

    if dists is None:
        dists = {
            "normal": dd.normal(),
            "laplace": dd.laplace(),
            "logistic": dd.logistic(),
            "student_t(3)": dd.student_t(3),
            "student_t(5)": dd.student_t(5),
            "mixture(+-2)": dd.mixture([dd.normal(-2, 1), dd.normal(2, 1)]),
        }
    rows = []
    for label, d in dists.items():
        w = worst_activation(d, 0, 1)
        ((a, b, _, g),) = entropy_gradient(x, d, _positive_branch(d))
        c, shape = _split_constant(g, set())
        slope = float(entropy_taylor(x, shape, d, 1, interval=(0, sp.oo), exact=False)[0])
        # Integrating the slope by parts on (0, oo): integral p h' = -p(0) h(0) + integral h dH/df.
        # The boundary term is what the Euler-Lagrange derivative does not see.
        boundary = -float(d.pdf.subs(x, 0) * shape.subs(x, 0))
        interior = float(c) * _l2_squared(shape)
        rows.append(
            {
                "dist": label,
                "wafbc": w.expr,
                "wafbc_closed_form": not w.expr.has(sp.Integral),
                "wafbc_entropy": w.entropy,
                "shape": shape,
                "shape_closed_form": not shape.has(sp.Integral, sp.Derivative),
                "bounded_on_line": _bounded(shape),
                "entropy_slope": slope,
                "boundary_term": boundary,
                "interior_term": interior,
                "descent_sign": -1 if slope > 0 else 1,
            }
        )
    return rows


def _l2_squared(h: sp.Expr) -> float:
    """``integral_0^oo h(x)^2 dx`` by quadrature."""
    from scipy.integrate import quad

    from ._pieces import numeric

    fn = numeric(h)

    def sq(t: float) -> float:
        with np.errstate(all="ignore"):
            v = float(fn(t)) ** 2
        return v if math.isfinite(v) else 0.0

    return quad(sq, 0, np.inf, limit=200, epsabs=1e-13, epsrel=1e-11)[0]


def _positive_branch(d: Any) -> list:
    from ._pieces import Segment, restrict

    return [Segment(sp.S.Zero, d.support.sup, restrict(x, 0, d.support.sup))]


def _bounded(shape: sp.Expr) -> bool:
    """Whether ``|shape|`` stays below 1e6 on ``[-60, 60]`` (a numeric sup check)."""
    import numpy as np

    from ._pieces import numeric

    t = np.linspace(-60, 60, 4801)
    with np.errstate(all="ignore"):
        v = np.asarray(numeric(shape)(t), dtype=float) * np.ones_like(t)
    return bool(np.all(np.isfinite(v)) and np.max(np.abs(v)) < 1e6)


def _factory(base: str):
    def build() -> Activation:
        return corrected_activation(base)

    build.__name__ = f"_eafo_{base}"
    return build


for _base in BASES:
    register_derived(f"eafo_{_base}", _factory(_base))
