r"""Numbers about EAFO corrections: entropy slopes, the iterated step, other input laws.

The corrections themselves are derived by :func:`eafo_sym.derive_correction`
(SymPy only); this module measures them. :func:`entropy_slope` is ``dH/d eps``
at ``eps = 0`` for any base, also a non-monotone one (where the Taylor series
has a pole at the turning point and the branch-summed entropy is differenced
instead); :func:`eafo_path` follows the entropy along the iterated step, and
:func:`non_gaussian_table` compares WAFBC and ReLU's correction across laws
(``docs/mathematics.md`` §8, §11).

>>> c = correction_shape("elu")
>>> c.shape
Piecewise(((x + 1)*exp(-x*(x + 2)/2)/alpha, x < 0), (x*exp(-x**2/2), True))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from ..catalog import get, resolve
from ..laws import Law, laplace, logistic, mixture, normal, student_t
from ..symbolic.eafo import Correction, derive_correction, eafo_iterate
from ..symbolic.symbols import x
from ..symbolic.wafbc import worst_activation
from .entropy import output_entropy
from .evaluate import Robust, numeric
from .quadrature import integrate
from .taylor import entropy_taylor, first_variation

__all__ = [
    "correction_shape",
    "entropy_slope",
    "eafo_path",
    "non_gaussian_table",
]


def entropy_slope(c: Correction) -> float:
    """``dH/d eps`` at ``eps = 0`` for a derived correction (default parameters), numerically.

    A monotone base uses the first Taylor coefficient ``integral p h'/f'``
    (quadrature). A non-monotone one has no such series (``h'/f'`` has a pole
    at the turning point), so the branch-summed entropy
    :func:`~eafo_sym.output_entropy` itself is differenced with a step small
    enough to keep the perturbed branches monotone.

    >>> round(entropy_slope(derive_correction("relu", taylor_order=0)), 10)  # sqrt(2)/8
    0.1767766953
    """
    defaults = {s: sp.nsimplify(v, rational=True) for s, v in c.params.items()}
    base, shape = c.base.subs(defaults), c.shape.subs(defaults)
    if not c.turning_points:
        if c.interval != (c.dist.support.inf, c.dist.support.sup):
            return float(entropy_taylor(c.branch.subs(defaults), shape, c.dist, 1,
                                        interval=c.interval, exact=False)[0])
        return first_variation(base, shape, c.dist)
    h = 1e-4
    with np.errstate(all="ignore"):
        up = output_entropy(base + h * shape, c.dist)
        down = output_entropy(base - h * shape, c.dist)
    return (up - down) / (2 * h)


def correction_shape(base: str, dist: Law | None = None, *, slope: bool = False) -> Correction:
    """The EAFO correction of a catalog base: :func:`derive_correction` without Taylor terms.

    Args:
        base: Name of a base activation (``"elu"``, ``"silu"``, ...).
        dist: Law of the input (default standard normal).
        slope: Also compute :attr:`~eafo_sym.Correction.entropy_slope`
            numerically (a second or two, also for non-monotone bases) and
            take ``descent_sign`` and ``note`` from it.

    >>> correction_shape("leaky_relu").shape  # doctest: +NORMALIZE_WHITESPACE
    Piecewise((x*exp(-x**2/2)/alpha, x < 0), (x*exp(-x**2/2), True))
    """
    c = derive_correction(get(base), dist, taylor_order=0, y_space=False)
    if not slope:
        return c
    return c.with_slope(entropy_slope(c))


def eafo_path(
    base: Any, dist: Any, eta: float, steps: int, *, point_terms: bool = True
) -> list[float]:
    """Output entropies along the iterated EAFO step (the paper's dynamic variant).

    Args:
        base: Registry name or expression (parameters bound to defaults).
        dist: Law of the input.
        eta: Numeric step size.
        steps: Number of steps.
        point_terms: As in :func:`~eafo_sym.eafo_step`. A step whose gradient
            has a point term is not a function and has no entropy: with the
            default such a path raises; ``False`` follows the Euler-Lagrange
            steps.

    Returns:
        ``[H[f_0], H[f_1], ..., H[f_steps]]`` by quadrature.

    Raises:
        ValueError: A step carries a Dirac delta (see ``point_terms``).

    >>> from eafo_sym.laws import normal
    >>> [round(v, 6) for v in eafo_path(x, normal(), 0.5, 1)]
    [1.418939, 1.339867]
    """
    if isinstance(eta, bool) or not isinstance(eta, (int, float)):
        raise TypeError(f"eta must be a number, got {type(eta).__name__}")
    fs = eafo_iterate(
        resolve(base), dist, sp.nsimplify(eta, rational=True), steps, point_terms=point_terms
    )
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
    if dists is None:
        dists = {
            "normal": normal(),
            "laplace": laplace(),
            "logistic": logistic(),
            "student_t(3)": student_t(3),
            "student_t(5)": student_t(5),
            "mixture(+-2)": mixture([normal(-2, 1), normal(2, 1)]),
        }
    rows = []
    for label, d in dists.items():
        w = worst_activation(d, 0, 1)
        corr = derive_correction("relu", d, taylor_order=0, y_space=False)
        c, shape = corr.coefficient, corr.shape
        slope = float(entropy_taylor(x, shape, d, 1, interval=(0, sp.oo), exact=False)[0])
        # Integrating the slope by parts on (0, oo): integral p h' = -p(0) h(0) + integral h dH/df.
        # The boundary term is what the Euler-Lagrange derivative does not see.
        boundary = -float(d.pdf.subs(x, 0) * shape.subs(x, 0))
        interior = float(c) * _l2_squared(shape, d)
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


def _l2_squared(h: sp.Expr, dist: Law) -> float:
    """``integral_0^oo h(x)^2 dx`` by quadrature, centred where the law's mass is."""
    fn = Robust(h**2)  # mpmath where float64 gives inf/inf (a mixture's shape far out)
    fr = dist.frame
    with np.errstate(all="ignore"):
        return integrate(
            fn, 0, math.inf, what="integral of h^2", center=fr.center, scale=fr.scale
        ).value


def _bounded(shape: sp.Expr) -> bool:
    """Whether ``|shape|`` stays below 1e6 on ``[-60, 60]`` (a numeric sup check)."""
    t = np.linspace(-60, 60, 4801)
    with np.errstate(all="ignore"):
        v = np.asarray(numeric(shape)(t), dtype=float) * np.ones_like(t)
    return bool(np.all(np.isfinite(v)) and np.max(np.abs(v)) < 1e6)


