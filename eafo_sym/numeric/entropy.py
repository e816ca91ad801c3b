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
from functools import cached_property
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
from .evaluate import LogAbs, critical_points, numeric, touching_zeros
from .quadrature import QUAD_TOL, IntegralDivergesError, IntegrationWarning, expectation

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


#: x-grid on which a branch is tabulated once, so that each preimage search starts from a
#: bracket one grid step wide instead of (-1e8, 1e8).
_TABLE = np.concatenate(
    [
        -np.geomspace(1e8, 60.0, 200),
        np.linspace(-60.0, 60.0, 2401)[1:-1],
        np.geomspace(60.0, 1e8, 200),
    ]
)


@dataclass(frozen=True)
class _Branch:
    a: float
    b: float
    f: Any
    fp: Any
    log_fp: LogAbs
    lo: float
    hi: float
    singular: tuple[float, ...] = ()

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, f(x))`` on the branch, ordered so that ``f`` increases."""
        a, _ = _finite_end(self.f, self.a, self.b)
        b, _ = _finite_end(self.f, self.b, self.a)
        xs = np.concatenate([[a], _TABLE[(a < _TABLE) & (b > _TABLE)], [b]])
        with np.errstate(all="ignore"):
            ys = np.asarray(self.f(xs), dtype=float) * np.ones_like(xs)
        ok = np.isfinite(ys)
        xs, ys = xs[ok], ys[ok]
        if ys.size > 1 and ys[-1] < ys[0]:
            xs, ys = xs[::-1], ys[::-1]
        return xs, ys

    def preimage(self, yv: float, xtol: float = 1e-13) -> float | None:
        """The ``x`` on this branch with ``f(x) = yv``, or None outside its range."""
        from scipy.optimize import brentq

        if not (self.lo < yv < self.hi):
            return None

        def g(t: float) -> float:
            return float(self.f(t)) - yv

        xs, ys = self._table
        i = int(np.searchsorted(ys, yv))
        if 0 < i < ys.size and (ys[i - 1] - yv) * (ys[i] - yv) <= 0:
            a, b = float(xs[i - 1]), float(xs[i])
        elif i == ys.size or i == 0:
            # Beyond the table's +-1e8: a heavy tail (Student-t, nu = 1/2) still has mass
            # at 1e11, where the other branch's preimage must be found, not dropped.
            bracket = self._far_bracket(g, xs[-1] if i == ys.size else xs[0])
            if bracket is None:
                return None
            a, b = bracket
        else:  # not monotone in the table (rounding): the whole branch
            a, fa = _finite_end(self.f, self.a, self.b)
            b, fb = _finite_end(self.f, self.b, self.a)
            fa, fb = fa - yv, fb - yv
            if not (math.isfinite(fa) and math.isfinite(fb)) or fa * fb > 0:
                return None
        return brentq(g, a, b, xtol=xtol, rtol=1e-15, maxiter=300)

    def _far_bracket(self, g, last: float) -> tuple[float, float] | None:
        """``(x, 10 x)`` steps outward from the table's end ``last`` until ``g`` changes sign."""
        x0 = float(last)
        if not ((x0 > 0 and math.isinf(self.b)) or (x0 < 0 and math.isinf(self.a))):
            return None  # the table reaches a finite end: yv lies outside the range
        with np.errstate(all="ignore"):
            g0 = g(x0)
            while math.isfinite(g0) and abs(x0) < 1e300:
                x1 = x0 * 10.0
                g1 = g(x1)
                if not math.isfinite(g1):
                    return None
                if g0 * g1 <= 0:
                    return (x0, x1) if x0 < x1 else (x1, x0)
                x0, g0 = x1, g1
        return None


def _value(fn, t: float) -> float:
    """``f(t)`` as a float, nan where evaluating it fails (a pole: division by zero)."""
    try:
        return float(fn(t))
    except (ZeroDivisionError, OverflowError, ValueError):
        return math.nan


def _inward(t: float, side: float, k: int) -> float:
    """The point ``10**-k`` (relative to ``|t|`` beyond 1) from ``t`` towards ``side``."""
    return t + side * 10.0**-k * max(1.0, abs(t))


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
            # A pole at the end ((x - 2)/|x| at 0): the nearest point inward that is finite.
            side = math.copysign(1.0, other - t)
            for s in (t, *(_inward(t, side, k) for k in (12, 9, 6))):
                v = _value(fn, s)
                if math.isfinite(v):
                    return s, v
            return t, math.nan
        for k in range(8, -1, -1):
            s = math.copysign(10.0**k, t)
            if (s - other) * (t - other) <= 0:  # moved past the other end
                break
            v = float(fn(s))
            if math.isfinite(v):
                return s, v
    return t, math.nan


def _endpoint_value(fn, t: float, side: float) -> float:
    """f at an end of a branch: approached from ``side`` (+1: from above) at a finite end,
    its numeric limit at an infinite one; ``+-inf`` at a pole or where f grows.

    At an infinite end the limit is f at ``+-1e8`` when that has settled (f at
    ``+-1e7`` agrees to 1e-6); otherwise f is unbounded there. Reporting
    ``f(1e8)`` as the end of the range of ``x`` made ``1e8`` look like the end
    of another branch's outputs, a breakpoint that left a piece of eight
    decades to one rule. At a finite end, ``(x - 2)/|x|`` is split at its pole
    ``x = 0``: f there is a division by zero, while the branch's range ends at
    ``-inf`` (from the left) or ``+inf``.
    """
    with np.errstate(all="ignore"):
        if math.isfinite(t):
            v = _value(fn, t)
            if math.isfinite(v):
                return v
            near = [_value(fn, _inward(t, side, k)) for k in (6, 9, 12)]
            if all(math.isfinite(u) for u in near):
                if abs(near[2] - near[1]) <= 1e-6 * (1 + abs(near[2])):
                    return near[2]
                if abs(near[2]) > abs(near[1]) > abs(near[0]):
                    return math.copysign(math.inf, near[2])
            return v
        values = {}
        for k in range(1, 9):
            v = float(fn(math.copysign(10.0**k, t)))
            if math.isfinite(v):
                values[k] = v
    if not values:
        return math.nan
    last = values[max(values)]
    before = values.get(max(values) - 1)
    if before is not None and abs(last - before) > 1e-6 * (1 + abs(last)):
        return math.copysign(math.inf, last - before)
    return last


def _branches(seg: Segment, a: float, b: float) -> list[_Branch]:
    d = sp.diff(seg.expr, x)
    fn, dfn, log_fp = numeric(seg.expr), numeric(d), LogAbs(d)
    cuts = [a, *critical_points(d, a, b), b]
    singular = tuple(touching_zeros(d, a, b))
    out = []
    for lo_x, hi_x in zip(cuts[:-1], cuts[1:], strict=True):
        va, vb = _endpoint_value(fn, lo_x, 1.0), _endpoint_value(fn, hi_x, -1.0)
        inner = tuple(t for t in singular if lo_x < t < hi_x)
        out.append(_Branch(lo_x, hi_x, fn, dfn, log_fp, min(va, vb), max(va, vb), inner))
    return out


def _overlap_points(br: _Branch, others: list[_Branch], xtol: float) -> list[float]:
    """Where on ``br`` the other branches' ranges begin or end: the output density jumps there.

    CRReLU with ``eps < 0`` maps its negative half onto ``(0, |eps| e^-1/2)``,
    inside the positive branch's range: the branch term's integrand jumps at
    the preimage of ``|eps| e^-1/2``, a point narrower than any rule's first node.
    """
    out = []
    for o in others:
        for v in (o.lo, o.hi):
            t = br.preimage(v, xtol) if math.isfinite(v) else None
            if t is not None:
                out.append(t)
    return out


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
    sc, fr = dist.scipy, dist.frame
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
    # Root finding to the law's own resolution: 1e-13 absolute is 1e-7 of a scale of 1e-6.
    xtol = 1e-13 * min(1.0, fr.scale)
    logpdf_u, to_t, to_u = fr.logpdf, fr.to_t, fr.to_u
    log_scale = math.log(fr.scale)

    def neg_log_p(u: float) -> float:
        return -logpdf_u(u)

    input_term = jac_term = branch_term = err_total = 0.0
    for k, br in enumerate(branches):
        others = [branches[j] for j in overlaps[k]]
        points = [*br.singular, *_overlap_points(br, others, xtol)]
        # -integral p log p in u: p_x = p_u / s, so -log p_x = -log p_u + log s.
        v, e = expectation(neg_log_p, dist, br.a, br.b, what="input entropy", standardized=True)
        mass = fr.cdf(to_u(br.b)) - fr.cdf(to_u(br.a))
        input_term += v + log_scale * mass
        err_total += e
        v, e = expectation(
            br.log_fp, dist, br.a, br.b, what="E[log|f'(X)|]", points=points,
            divergent="infinite",
        )
        jac_term += v
        err_total += e
        if others:

            def log_merge(u: float, br=br, others=others) -> float:
                t = to_t(u)
                own = logpdf_u(u) - br.log_fp(t)
                yv = float(br.f(t))
                terms = [0.0]
                for o in others:
                    s = o.preimage(yv, xtol)
                    if s is not None:
                        terms.append(logpdf_u(to_u(s)) - o.log_fp(s) - own)
                return float(np.logaddexp.reduce(terms))

            v, e = expectation(
                log_merge, dist, br.a, br.b, what="branch term", points=points,
                standardized=True,
            )
            branch_term += v
            err_total += e
    if math.isnan(jac_term):
        raise IntegralDivergesError(
            f"h(f(X)) for f = {f} under {dist} is undefined: E[log|f'(X)|] diverges to +inf "
            "on one branch and to -inf on another"
        )
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


def _affine_slope(f: sp.Expr) -> sp.Expr | None:
    """``a`` when ``f = a x + b`` with constants ``a != 0`` and ``b``, else None."""
    if f.has(sp.Piecewise, sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.sign):
        return None
    a = sp.diff(f, x)
    if a.has(x) or not a.is_number or a == 0:
        return None
    return a


def _symbolic_entropy(f: sp.Expr, dist: Law) -> sp.Expr:
    slope = _affine_slope(f)
    if slope is not None:
        # h(aX + b) = h(X) + log|a| (E[log|f'|] = log|a|), with h(X) in closed form per law.
        return sp.simplify(dist.entropy() + sp.log(sp.Abs(slope)))
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
        method: ``"numeric"`` (adaptive quadrature in the law's standardised
            variable, tolerance ``1e-11`` asked, ``1e-8`` promised; works for
            non-injective ``f``) or ``"symbolic"`` (a SymPy closed form, for
            injective ``f`` only; an affine ``f = a x + b`` gives
            ``h(X) + log|a|`` at once for every law but a mixture).

    Returns:
        A float (numeric; ``-inf`` when the output has an atom or
        ``E[log|f'(X)|]`` diverges to ``-inf``, as for CRReLU under a Cauchy
        law) or a SymPy expression (symbolic).

    Raises:
        TypeError: ``f`` or ``dist`` has the wrong type.
        ValueError: ``f`` depends on symbols other than ``x``, the method is
            unknown, or the entropy is undefined (``E[log|f'|]`` diverges to
            ``+inf`` on one branch and ``-inf`` on another).
        NotImplementedError: ``method="symbolic"`` and SymPy finds no closed
            form (a mixture's entropy has none).

    Warns:
        EntropyIntegrationWarning: a quadrature did not converge to 1e-8; the
            message carries SciPy's error estimate.

    >>> from eafo_sym.laws import logistic, student_t
    >>> output_entropy("sigmoid", logistic(), method="symbolic")
    0
    >>> output_entropy(2 * x + 1, logistic(100, 3), method="symbolic")
    log(6) + 2
    >>> output_entropy("crrelu", student_t(1))  # E[log|f'|] diverges over x < -1
    -inf
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
