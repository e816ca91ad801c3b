r"""The entropy of an activation's output, ``H[f] = h(f(X))``.

For an injective ``f`` the change of variables gives the x-space form

.. math:: H[f] = h(X) + E[\log |f'(X)|],

which needs no inverse. For a piecewise-monotone ``f`` the preimages of a value
add up, ``q(y) = sum_i p(x_i)/|f'(x_i)|``, and

.. math:: H[f] = h(X) + E[\log |f'(X)|] - E\Big[\log \frac{q(f(X))\,|f'(X)|}{p(X)}\Big],

where the last term (the *branch term*, ``>= 0``) is the information lost by
merging branches; it vanishes for injective ``f``. A flat piece puts an atom of
mass ``P(X in piece)`` into the output law, whose differential entropy is then
``-inf``; :func:`output_law` gives the decomposition.

>>> from eafo_sym.laws import normal
>>> round(output_entropy(2 * x + 1, normal()) - float(normal().entropy()), 10)
0.6931471806
>>> output_entropy(sp.Max(0, x), normal())
-inf
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sympy as sp

from ..catalog import resolve
from ..laws import Law, check_distribution
from ..symbolic.pieces import (
    Segment,
    check_activation,
    integrate_exact,
    midpoint,
    restrict,
    segments,
)
from ..symbolic.symbols import x
from .evaluate import LogAbs, critical_points, numeric
from .quadrature import QUAD_TOL, IntegrationWarning, integrate

__all__ = [
    "output_entropy",
    "output_law",
    "OutputLaw",
    "EntropyIntegrationWarning",
    "QUAD_TOL",
]

#: The warning of an inaccurate quadrature (the same class as
#: :class:`eafo_sym.numeric.quadrature.IntegrationWarning`).
EntropyIntegrationWarning = IntegrationWarning


@dataclass(frozen=True)
class OutputLaw:
    """The law of ``Y = f(X)``: atoms plus a continuous part.

    Attributes:
        atoms: ``(value, mass)`` pairs, one per distinct value of a flat piece.
        continuous_mass: Mass of the continuous part, ``1 - sum(masses)``.
        input_term: ``-integral p log p`` over the non-flat region.
        jacobian_term: ``integral p log|f'|`` over the non-flat region.
        branch_term: ``integral p log(q(f) |f'| / p)`` (``>= 0``; 0 when injective).
        error: Sum of the quadrature error estimates.
    """

    atoms: tuple[tuple[float, float], ...]
    continuous_mass: float
    input_term: float
    jacobian_term: float
    branch_term: float
    error: float

    @property
    def unnormalised_entropy(self) -> float:
        """``-integral q_c log q_c`` for the continuous sub-density ``q_c``."""
        return self.input_term + self.jacobian_term - self.branch_term

    @property
    def continuous_entropy(self) -> float:
        """Differential entropy of the continuous part normalised to a probability law."""
        m = self.continuous_mass
        if m <= 0:
            return math.nan
        return self.unnormalised_entropy / m + math.log(m)

    @property
    def entropy(self) -> float:
        """Differential entropy of ``Y``: ``-inf`` when there is an atom."""
        if any(mass > 0 for _, mass in self.atoms):
            return -math.inf
        return self.unnormalised_entropy


@dataclass(frozen=True)
class _Branch:
    a: float
    b: float
    f: Any
    fp: Any
    log_fp: LogAbs
    lo: float
    hi: float

    def preimage(self, yv: float) -> float | None:
        from scipy.optimize import brentq

        if not (self.lo < yv < self.hi):
            return None
        a, fa = _finite_end(self.f, self.a, self.b)
        b, fb = _finite_end(self.f, self.b, self.a)
        fa, fb = fa - yv, fb - yv
        if not (math.isfinite(fa) and math.isfinite(fb)) or fa * fb > 0:
            return None
        return brentq(lambda t: float(self.f(t)) - yv, a, b, xtol=1e-13, rtol=1e-15, maxiter=300)


def _finite_end(fn, t: float, other: float) -> tuple[float, float]:
    """A bracket end for root finding at ``t`` (or inward of it) where ``f`` is finite.

    An infinite end is replaced by ``+-1e8``, then moved in by decades while
    ``f`` overflows there: a Gaussian-damped term such as EAFO-SiLU's
    ``exp(-x**2/2 + 2*x)`` times ``exp(2*x)`` is ``inf * 0 = nan`` at
    ``1e8`` although ``f`` is finite, and a NaN end used to drop the branch
    from the preimage sum silently.
    """
    with np.errstate(all="ignore"):
        if math.isfinite(t):
            return t, float(fn(t))
        for k in range(8, -1, -1):
            s = math.copysign(10.0**k, t)
            if (s - other) * (t - other) <= 0:  # moved past the other end
                break
            v = float(fn(s))
            if math.isfinite(v):
                return s, v
    return t, math.nan


def _endpoint_value(fn, t: float) -> float:
    """f at a finite end, or its numeric limit at an infinite one."""
    if math.isfinite(t):
        return float(fn(t))
    last = math.nan
    with np.errstate(all="ignore"):
        for k in range(1, 9):
            v = float(fn(math.copysign(10.0**k, t)))
            if math.isfinite(v):
                last = v
    return last


def _branches(seg: Segment, a: float, b: float) -> list[_Branch]:
    d = sp.diff(seg.expr, x)
    fn, dfn, log_fp = numeric(seg.expr), numeric(d), LogAbs(d)
    cuts = [a, *critical_points(d, a, b), b]
    out = []
    for lo_x, hi_x in zip(cuts[:-1], cuts[1:], strict=True):
        va, vb = _endpoint_value(fn, lo_x), _endpoint_value(fn, hi_x)
        out.append(_Branch(lo_x, hi_x, fn, dfn, log_fp, min(va, vb), max(va, vb)))
    return out


def _quad(fun, a: float, b: float, what: str) -> tuple[float, float]:
    return tuple(integrate(fun, a, b, what=what))


def _support_floats(dist: Law) -> tuple[float, float]:
    try:
        return float(dist.support.inf), float(dist.support.sup)
    except TypeError:
        raise ValueError(f"{dist}: numeric evaluation needs a numeric support") from None


def output_law(f: Any, dist: Law) -> OutputLaw:
    """Decompose the law of ``f(X)`` into atoms and a continuous part (numerically).

    Args:
        f: Activation: a registry name, an :class:`~eafo_sym.activations.Activation`
            or a SymPy expression in :data:`eafo_sym.x`.
        dist: Law of ``X`` with numeric parameters.

    >>> from eafo_sym.laws import normal
    >>> law = output_law("relu", normal())
    >>> law.atoms
    ((0.0, 0.5),)
    >>> round(law.continuous_entropy, 10)  # half-normal entropy
    0.7257913526
    """
    # Far tails overflow exp() in float64 by design; LogAbs falls back to mpmath there.
    with np.errstate(all="ignore"):
        return _output_law(f, dist)


def _output_law(f: Any, dist: Law) -> OutputLaw:
    f = check_activation(resolve(f))
    dist = check_distribution(dist)
    sc = dist.scipy
    lo, hi = _support_floats(dist)
    segs = segments(f, dist.support.inf, dist.support.sup, dist.pdf)
    atoms: dict[float, float] = {}
    branches: list[_Branch] = []
    for seg in segs:
        a, b = float(seg.a), float(seg.b)
        if seg.is_flat:
            mass = float(sc.cdf(b) - sc.cdf(a))
            value = float(seg.expr)
            atoms[value] = atoms.get(value, 0.0) + mass
        else:
            branches.extend(_branches(seg, a, b))
    overlaps = {
        k: [j for j, o in enumerate(branches) if j != k and o.lo < br.hi and br.lo < o.hi]
        for k, br in enumerate(branches)
    }
    logpdf = sc.logpdf
    input_term = jac_term = branch_term = err_total = 0.0
    for k, br in enumerate(branches):
        others = [branches[j] for j in overlaps[k]]

        def neg_p_logp(t: float) -> float:
            p = math.exp(float(logpdf(t)))
            # p == 0 also covers underflow far in the tails, where p*log(p) -> 0.
            return 0.0 if p == 0.0 else -p * math.log(p)

        def p_logfp(t: float, br=br) -> float:
            p = math.exp(float(logpdf(t)))
            return 0.0 if p == 0.0 else p * br.log_fp(t)

        v, e = _quad(neg_p_logp, br.a, br.b, "input entropy")
        input_term += v
        err_total += e
        v, e = _quad(p_logfp, br.a, br.b, "E[log|f'(X)|]")
        jac_term += v
        err_total += e
        if others:

            def p_log_merge(t: float, br=br, others=others) -> float:
                lp = float(logpdf(t))
                if math.exp(lp) == 0.0:
                    return 0.0
                own = lp - br.log_fp(t)
                yv = float(br.f(t))
                terms = [0.0]
                for o in others:
                    s = o.preimage(yv)
                    if s is not None:
                        terms.append(float(logpdf(s)) - o.log_fp(s) - own)
                return math.exp(lp) * float(np.logaddexp.reduce(terms))

            v, e = _quad(p_log_merge, br.a, br.b, "branch term")
            branch_term += v
            err_total += e
    cont = max(0.0, 1.0 - sum(atoms.values())) if atoms else 1.0
    return OutputLaw(
        tuple(sorted(atoms.items())), cont, input_term, jac_term, branch_term, err_total
    )


def _is_injective(f: sp.Expr, dist: Law) -> bool:
    try:
        law_segs = segments(f, dist.support.inf, dist.support.sup)
        lo, hi = float(dist.support.inf), float(dist.support.sup)
    except TypeError:
        law_segs = segments(f, -sp.oo, sp.oo)
        lo, hi = -math.inf, math.inf
    brs = []
    for s in law_segs:
        if s.is_flat:
            return False
        a, b = max(float(s.a), lo), min(float(s.b), hi)
        brs.extend(_branches(s, a, b))
    brs.sort(key=lambda b: b.a)
    return all(p.hi <= q.lo for p, q in zip(brs[:-1], brs[1:], strict=False)) or all(
        p.lo >= q.hi for p, q in zip(brs[:-1], brs[1:], strict=False)
    )


def _symbolic_entropy(f: sp.Expr, dist: Law) -> sp.Expr:
    if not _is_injective(f, dist):
        raise ValueError(
            "method='symbolic' needs an injective activation (one branch, no flat piece); "
            "use method='numeric' for this one"
        )
    total = sp.S.Zero
    for seg in segments(f, dist.support.inf, dist.support.sup, dist.pdf):
        p = restrict(dist.pdf, seg.a, seg.b)
        d = sp.diff(seg.expr, x)
        # |f'| without Abs (which blocks expand_log): f' has one sign on a branch.
        sign = 1 if d.is_positive or float(d.subs(x, midpoint(seg.a, seg.b))) > 0 else -1
        # -p log(p/|f'|): simplifying the ratio first cancels f' = p (the WAFBC) exactly.
        ratio = sp.simplify(p / (sign * d))
        if ratio.has(x):
            ratio = min(ratio, sp.simplify(ratio.rewrite(sp.exp)), key=sp.count_ops)
        integrand = sp.expand(-p * sp.expand_log(sp.log(ratio), force=True))
        part = integrate_exact(integrand, seg.a, seg.b, _location(dist))
        if part is None:
            raise NotImplementedError(
                f"SymPy finds no closed form for the entropy on ({seg.a}, {seg.b}); "
                "use method='numeric'"
            )
        total += part
    return sp.simplify(total)


def _location(dist: Law) -> sp.Expr:
    loc = dist.location
    return loc if loc is not None and loc.is_number else sp.S.Zero


def output_entropy(
    f: Any,
    dist: Law,
    *,
    method: Literal["numeric", "symbolic"] = "numeric",
) -> float | sp.Expr:
    r"""Differential entropy of the activation's output ``f(X)``.

    Args:
        f: Activation: a registry name, an :class:`~eafo_sym.activations.Activation`
            (bound to its defaults) or a SymPy expression in :data:`eafo_sym.x`.
        dist: Law of the input ``X``.
        method: ``"numeric"`` (adaptive quadrature, tolerance ``1e-11`` asked,
            ``1e-8`` promised; works for non-injective ``f``) or ``"symbolic"``
            (a SymPy closed form, for injective ``f`` only).

    Returns:
        A float (numeric; ``-inf`` when the output has an atom) or a SymPy
        expression (symbolic).

    Raises:
        TypeError: ``f`` or ``dist`` has the wrong type.
        ValueError: ``f`` depends on symbols other than ``x``, the method is
            unknown, or an integral diverges.
        NotImplementedError: ``method="symbolic"`` and SymPy finds no closed form.

    Warns:
        EntropyIntegrationWarning: a quadrature did not converge to 1e-8; the
            message carries SciPy's error estimate.

    >>> from eafo_sym.laws import logistic
    >>> output_entropy("sigmoid", logistic(), method="symbolic")
    0
    """
    f = check_activation(resolve(f))
    dist = check_distribution(dist)
    if method == "symbolic":
        return _symbolic_entropy(f, dist)
    if method != "numeric":
        raise ValueError(f"method must be 'numeric' or 'symbolic', got {method!r}")
    if not f.has(x):
        return -math.inf
    return output_law(f, dist).entropy
