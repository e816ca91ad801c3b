r"""The package's one quadrature routine: every integral the numeric layer reports goes here.

:func:`integrate` computes ``integral_a^b fun`` and :func:`expectation`
computes ``E[g(X)] = integral p g`` for a law, both with SciPy's QUADPACK and
one policy for the whole package (``docs/mathematics.md`` §1):

* **Standardised variable.** An expectation is integrated in
  ``u = (x - c)/s``, the law's :class:`~eafo_sym.laws.Frame` (its location
  and scale): the bulk of the mass then has width about 1 whether the law sits
  at ``mu = 100`` or has ``sigma = 1e-6``, so the rule's nodes cannot step
  over it. The density of ``u`` is the standard member's, taken from SciPy's
  log-density (stable far in the tails), and ``p g = 0`` where it underflows.
* **Breakpoints.** The interval is split at the law's points (location,
  mode, quantiles at both tails) and at the caller's ``points`` (kinks and
  turning points of an activation, jumps of an output density, where branches
  overlap). A tail beyond the outermost point is mapped onto ``(0, 1)`` with
  a scale set by where it starts.
* **Cross-check.** Every integral is computed twice: on the pieces, and on a
  second grid (the caller's points kept, the law's moved between their
  neighbours, the tails mapped with another scale) by a second run of the
  rule, at ``CHECK_TOL`` and, if the two disagree, again at ``QUAD_TOL``.
  The error reported is the larger of QUADPACK's own estimate and the two
  results' difference, so a feature that the first nodes missed shows as an
  error instead of hiding behind a tiny estimate.
* **Tolerance.** ``QUAD_TOL`` absolute and relative is asked; ``REPORT_TOL``
  (absolute, or relative for values above 1) is promised. An error above it
  raises an :class:`IntegrationWarning` that names the integral, its
  interval, both values and SciPy's message.
* **Divergence.** Before integrating, the tail at each infinite end is
  probed: where ``|u G(u)|`` does not fall off (the integrand decays like
  ``1/|u|`` or slower, as ``E[log f'(X)]`` of CRReLU under a Cauchy law does),
  the integral diverges and the result is ``+-inf`` (``divergent="infinite"``)
  or an :class:`IntegralDivergesError` (a ``ValueError``), never a finite
  number. A non-finite result raises the same error.

>>> from eafo_sym.laws import normal
>>> round(expectation(lambda t: t * t, normal()).value, 12)
1.0
>>> round(expectation(lambda t: t, normal(100, 1e-6)).value, 9)
100.0
>>> round(integrate(lambda t: math.exp(-t), 0, math.inf).value, 12)
1.0
>>> integrate(lambda t: 1 / (1 + abs(t)), 0, math.inf, divergent="infinite").value
inf
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

__all__ = [
    "CHECK_TOL",
    "QUAD_TOL",
    "REPORT_TOL",
    "Estimate",
    "IntegralDivergesError",
    "IntegrationWarning",
    "expectation",
    "integrate",
]

#: Absolute and relative tolerance asked of every quadrature.
QUAD_TOL = 1e-11
#: Tolerance of the cross-check on the refined grid.
CHECK_TOL = 1e-9
#: The promise: an error above this (absolute; relative for values above 1) is reported.
REPORT_TOL = 1e-8
#: Subintervals QUADPACK may use per piece.
LIMIT = 400
#: Multiples of the outermost breakpoint (in the standardised variable) where a tail is probed.
PROBES = (1e4, 1e8, 1e16)
#: Where the cross-check splits each piece again (the golden section, off every symmetry).
_SPLIT = 0.3819660112501051
#: How much wider the cross-check maps an infinite tail onto (0, 1).
_STRETCH = 2.618033988749895

Divergent = Literal["raise", "infinite"]


class IntegrationWarning(RuntimeWarning):
    """A quadrature did not reach the promised accuracy; the message has its error estimate."""


class IntegralDivergesError(ValueError):
    """An integral is infinite or undefined (the message names it)."""


class Estimate(NamedTuple):
    """A quadrature result: ``value`` and its error estimate ``error``.

    ``error`` is the larger of QUADPACK's estimate and the difference from the
    cross-check on a refined grid; it is 0 for a value of ``+-inf``.
    """

    value: float
    error: float


def _edges(a: float, b: float, points: Iterable[float], bulk: float = 1.0) -> list[float]:
    """``[a, sorted points inside (a, b), b]``; an infinite range gets at least one point.

    Outside ``(-bulk, bulk)`` (in the standardised variable: the bulk of the
    mass) a finite piece is cut at every decade: one rule over ``(4.75, 1e8)``
    put its nodes where the density is nothing and stepped over the mass at
    the near end, and one over ``(600, 1e12)`` lost a fifth of a Student-t
    law's (``nu = 1/2``) slowly falling entropy integrand.
    """
    inner = {float(t) for t in points if a < float(t) < b}
    edges = sorted({a, *inner, b})
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if math.isinf(lo) or math.isinf(hi):
            continue  # a tail: mapped onto (0, 1) by _tail
        # The part of (lo, hi) above bulk, then the part below -bulk (mirrored).
        for sign, near, far in ((1.0, lo, hi), (-1.0, -hi, -lo)):
            r = max(near, bulk)
            while r * 10.0 < far:
                r *= 10.0
                inner.add(sign * r)
    inner = sorted(t for t in inner if a < t < b)
    if not inner:
        if math.isinf(a) and math.isinf(b):
            inner = [0.0]
        elif math.isinf(a):
            inner = [b - 1.0]
        elif math.isinf(b):
            inner = [a + 1.0]
    return [a, *inner, b]


def _moved(soft: list[float]) -> list[float]:
    """The cross-check's version of the law's points: each moved towards the next one.

    The caller's points (kinks, turning points, jumps) stay where they are; the
    law's quantiles only spread the nodes, so the check moves them and its
    nodes share nothing with the first run's.
    """
    s = sorted(set(soft))
    if not s:
        return []
    out = [s[0] - _SPLIT * max(1.0, abs(s[0]))]
    out += [lo + _SPLIT * (hi - lo) for lo, hi in zip(s[:-1], s[1:], strict=True)]
    out.append(s[-1] + _SPLIT * max(1.0, abs(s[-1])))
    return out


def _tail(fun: Callable[[float], float], edge: float, direction: int, stretch: float):
    """``integral from edge to direction*inf`` as an integral over ``w`` in ``(0, 1)``.

    ``t = edge + direction * S (1 - w)/w`` with ``S = stretch * max(|edge|, 1)``:
    QUADPACK's own map for an infinite range has ``S = 1``, so a tail that
    starts at ``3e9`` (a Cauchy law's ``1e-10`` quantile) has all its mass at
    ``w ~ 3e-10``, between the rule's nodes: it reported ``2e-15`` for a tail
    of ``4.6e-9``. Scaled by the edge, the mass sits at ``w`` of order 1.
    """
    scale = stretch * max(abs(edge), 1.0)

    def g(w: float) -> float:
        return fun(edge + direction * scale * (1.0 - w) / w) * scale / (w * w)

    return g


def _run(
    fun: Callable[[float], float], edges: list[float], tol: float, stretch: float = 1.0
) -> tuple[float, float, str]:
    from scipy.integrate import quad

    val = err = 0.0
    message = ""
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if math.isinf(hi):
            g, lo, hi = _tail(fun, lo, 1, stretch), 0.0, 1.0
        elif math.isinf(lo):
            g, lo, hi = _tail(fun, hi, -1, stretch), 0.0, 1.0
        else:
            g = fun
        v, e, _info, *msg = quad(g, lo, hi, limit=LIMIT, epsabs=tol, epsrel=tol, full_output=1)
        val, err = val + v, err + e
        if msg:
            message = " ".join(str(msg[0]).split())
    return val, err, message


def _tail_sign(fun: Callable[[float], float], edge: float, direction: int) -> int:
    """+-1 if ``integral fun`` diverges beyond ``edge`` towards ``direction * inf``, else 0.

    A convergent tail needs ``|u fun(u)| -> 0``. At :data:`PROBES` multiples of
    the outermost breakpoint the product is compared: if it keeps one sign and
    does not fall by half over twelve decades (the integrand decays like
    ``|u|^-1.025`` or slower), the tail diverges. A probe that cannot be
    evaluated (NaN) decides nothing, and QUADPACK's own report stands.
    """
    r = max(abs(edge), 1.0)
    products = []
    for k in PROBES:
        u = edge + direction * r * k
        try:
            v = float(fun(u))
        except (ArithmeticError, ValueError):
            return 0
        if math.isnan(v) or v == 0.0:
            return 0
        products.append(abs(u) * v)
    signs = {math.copysign(1.0, m) for m in products}
    if len(signs) == 1 and abs(products[-1]) >= 0.5 * abs(products[0]):
        return int(signs.pop())
    return 0


def _integrate(
    fun: Callable[[float], float],
    a: float,
    b: float,
    points: Iterable[float],
    soft: Iterable[float],
    *,
    what: str,
    where: str,
    warn: bool,
    divergent: Divergent,
) -> Estimate:
    """The policy of the module docstring, for ``fun`` in the variable it is integrated in.

    ``points`` are where ``fun`` is not smooth (both runs keep them); ``soft``
    only place nodes where the mass is (the check moves them).
    """
    if divergent not in ("raise", "infinite"):
        raise ValueError(f"divergent must be 'raise' or 'infinite', got {divergent!r}")
    if a == b:
        return Estimate(0.0, 0.0)
    points, soft = [float(t) for t in points], [float(t) for t in soft]
    edges = _edges(a, b, [*points, *soft])
    signs = set()
    if math.isinf(a) and (s := _tail_sign(fun, edges[1], -1)):
        signs.add(s)
    if math.isinf(b) and (s := _tail_sign(fun, edges[-2], 1)):
        signs.add(s)
    if len(signs) > 1:
        raise IntegralDivergesError(
            f"{what}: the integral over {where} is undefined: one tail diverges to +inf, "
            "the other to -inf"
        )
    if signs:
        value = math.copysign(math.inf, signs.pop())
        if divergent == "infinite":
            return Estimate(value, 0.0)
        raise IntegralDivergesError(
            f"{what}: the integral over {where} diverges to {value} (its integrand falls off "
            "no faster than 1/|x| in the tail)"
        )
    with warnings.catch_warnings():
        # SciPy's own IntegrationWarning is folded into ours below, with the numbers.
        warnings.simplefilter("ignore")
        val, err, message = _run(fun, edges, QUAD_TOL)
        # The check's tails are stretched differently too: its nodes share nothing with the first.
        finer = _edges(a, b, [*points, *_moved(soft)])
        check, _, _ = _run(fun, finer, CHECK_TOL, stretch=_STRETCH)
        promise = REPORT_TOL * max(1.0, abs(val))
        if abs(val - check) > promise:
            # The cheaper check may itself be what fails: repeat it at full tolerance.
            check, _, _ = _run(fun, finer, QUAD_TOL, stretch=_STRETCH)
    if not (math.isfinite(val) and math.isfinite(check)):
        raise IntegralDivergesError(f"{what}: the integral over {where} diverges (got {val})")
    err = max(err, abs(val - check))
    if warn and err > promise:
        warnings.warn(
            f"{what}: quadrature over {where} reached only error estimate {err:.3g} "
            f"(value {val:.10g}, on a second grid {check:.10g}); the integral may diverge "
            f"or be inaccurate. SciPy: {message or 'no message'}",
            IntegrationWarning,
            stacklevel=3,
        )
    return Estimate(val, err)


def integrate(
    fun: Callable[[float], float],
    a: float,
    b: float,
    *,
    what: str = "integral",
    points: Iterable[float] = (),
    warn: bool = True,
    center: float = 0.0,
    scale: float = 1.0,
    divergent: Divergent = "raise",
) -> Estimate:
    """``integral_a^b fun(t) dt`` with the package's tolerance, cross-check and warning policy.

    Args:
        fun: The integrand, a float function of a float.
        a: Lower end (may be ``-inf``).
        b: Upper end (may be ``inf``).
        what: What is integrated, for messages.
        points: Points inside ``(a, b)`` where the integrand is not smooth.
        warn: Issue :class:`IntegrationWarning` when the error estimate is too large.
        center: Where the integrand's mass lies: the integral is taken in
            ``u = (t - center)/scale`` and split at ``center``.
        scale: The width of that mass (``> 0``).
        divergent: ``"raise"``: a divergent integral raises
            :class:`IntegralDivergesError`; ``"infinite"``: it returns ``+-inf``.

    Returns:
        The :class:`Estimate` (value, error estimate).

    Raises:
        IntegralDivergesError: The integral diverges (see ``divergent``) or is undefined.

    >>> v, e = integrate(lambda t: abs(t), -1, 2, points=[0])
    >>> round(v, 12), e < 1e-11
    (2.5, True)
    >>> v, _ = integrate(lambda t: math.exp(-((t - 50) / 1e-3) ** 2), -math.inf, math.inf,
    ...                  center=50, scale=1e-3)
    >>> round(v / (1e-3 * math.sqrt(math.pi)), 10)
    1.0
    """
    a, b, center, scale = float(a), float(b), float(center), float(scale)
    if not (math.isfinite(center) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"center must be finite and scale > 0, got {center}, {scale}")

    def to_u(t: float) -> float:
        return t if math.isinf(t) else (t - center) / scale

    def in_u(u: float) -> float:
        return scale * float(fun(center + scale * u))

    return _integrate(
        in_u,
        to_u(a),
        to_u(b),
        [to_u(float(t)) for t in points],
        [0.0],
        what=what,
        where=f"({a}, {b})",
        warn=warn,
        divergent=divergent,
    )


def expectation(
    fun: Callable[[float], float],
    law: Any,
    a: float | None = None,
    b: float | None = None,
    *,
    what: str = "expectation",
    points: Iterable[float] = (),
    tail: float | None = None,
    warn: bool = True,
    standardized: bool = False,
    divergent: Divergent = "raise",
) -> Estimate:
    """``integral_a^b p(t) fun(t) dt`` for the density ``p`` of ``law`` (a numeric Law).

    Integrated in the law's standardised variable, split at the law's
    breakpoints and at ``points`` (see the module docstring).

    Args:
        fun: ``g`` in ``E[g(X)]``.
        law: The :class:`~eafo_sym.laws.Law` of ``X`` (numeric parameters).
        a: Lower end (default: the support's).
        b: Upper end (default: the support's).
        what: What is integrated, for messages.
        points: Points (in ``x``) where ``g`` is not smooth.
        tail: Integrate only over the quantile range holding all but ``2*tail``
            of the mass (for integrands that overflow where ``p`` has long
            underflowed, such as ``exp(-x)`` corrections), else the whole interval.
        warn: As in :func:`integrate`.
        standardized: ``fun`` takes the standardised ``u = (x - c)/s`` of
            ``law.frame`` instead of ``x`` (``-log p`` at a tiny scale).
        divergent: As in :func:`integrate`.

    >>> from eafo_sym.laws import laplace
    >>> round(expectation(abs, laplace(0, 2), points=[0]).value, 12)
    2.0
    """
    fr = law.frame
    a_u = fr.lo if a is None else max(fr.to_u(a), fr.lo)
    b_u = fr.hi if b is None else min(fr.to_u(b), fr.hi)
    if tail is not None:
        qa, qb = law.quantile_range(tail)
        a_u, b_u = max(a_u, fr.to_u(qa)), min(b_u, fr.to_u(qb))
    if not a_u < b_u:
        return Estimate(0.0, 0.0)
    logpdf, to_t = fr.logpdf, fr.to_t

    def integrand(u: float) -> float:
        p = math.exp(logpdf(u))
        # p == 0 also covers underflow far in the tails, where p*g -> 0.
        if p == 0.0:
            return 0.0
        return p * float(fun(u if standardized else to_t(u)))

    return _integrate(
        integrand,
        a_u,
        b_u,
        [fr.to_u(t) for t in points],
        fr.points,
        what=what,
        where=f"({to_t(a_u):.10g}, {to_t(b_u):.10g})",
        warn=warn,
        divergent=divergent,
    )
