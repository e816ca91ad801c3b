r"""The package's one quadrature routine: every integral the numeric layer reports goes here.

:func:`integrate` computes ``integral_a^b fun`` with SciPy's QUADPACK and one
policy for the whole package:

* **Tolerance**: ``QUAD_TOL`` absolute and relative is asked of QUADPACK;
  ``REPORT_TOL`` (or ``1e-6`` relative, whichever is larger) is what is
  promised. An error estimate above it raises an :class:`IntegrationWarning`
  that names the integral, its interval, its value and SciPy's own message.
* **Pieces**: the interval is split at the given ``points`` (kinks, turning
  points), and an infinite end gets a finite neighbour piece, so QUADPACK's
  extrapolation sees an end singularity untransformed.
* **Divergence**: a value that is not finite raises :class:`IntegralDivergesError`
  (a ``ValueError``), never a silent number.

:func:`expectation` is ``E[g(X)] = integral p g`` for a law, with the density
taken from SciPy's log-density (stable far in the tails) and ``p g = 0`` where
the density underflows.

>>> from eafo_sym.laws import normal
>>> round(expectation(lambda t: t * t, normal()).value, 12)
1.0
>>> round(integrate(lambda t: math.exp(-t), 0, math.inf).value, 12)
1.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

__all__ = [
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
#: An error estimate above this (and above 1e-6 relative) is reported: the package promises 1e-8.
REPORT_TOL = 1e-8
#: Subintervals QUADPACK may use per piece.
LIMIT = 400


class IntegrationWarning(RuntimeWarning):
    """A quadrature did not reach the promised accuracy; the message has its error estimate."""


class IntegralDivergesError(ValueError):
    """An integral is infinite or undefined (the message names it)."""


class Estimate(NamedTuple):
    """A quadrature result: ``value`` and QUADPACK's error estimate ``error``."""

    value: float
    error: float


def _edges(a: float, b: float, points: Iterable[float]) -> list[float]:
    inner = sorted({float(t) for t in points if a < float(t) < b})
    if not inner:
        # A finite end may carry a log singularity (a turning point of f): give it a
        # finite piece of its own so QUADPACK's extrapolation sees it untransformed.
        if math.isinf(a) and math.isinf(b):
            inner = [0.0]
        elif math.isinf(a):
            inner = [b - 1.0]
        elif math.isinf(b):
            inner = [a + 1.0]
    else:
        if math.isinf(a):
            inner.insert(0, inner[0] - 1.0)
        if math.isinf(b):
            inner.append(inner[-1] + 1.0)
    return [a, *inner, b]


def integrate(
    fun: Callable[[float], float],
    a: float,
    b: float,
    *,
    what: str = "integral",
    points: Iterable[float] = (),
    warn: bool = True,
) -> Estimate:
    """``integral_a^b fun(t) dt`` with the package's tolerance and warning policy.

    Args:
        fun: The integrand, a float function of a float.
        a: Lower end (may be ``-inf``).
        b: Upper end (may be ``inf``).
        what: What is integrated, for messages.
        points: Points inside ``(a, b)`` where the integrand is not smooth.
        warn: Issue :class:`IntegrationWarning` when the error estimate is too large.

    Returns:
        The :class:`Estimate` (value, summed error estimate).

    Raises:
        IntegralDivergesError: The value is not finite.

    >>> v, e = integrate(lambda t: abs(t), -1, 2, points=[0])
    >>> round(v, 12), e < 1e-11
    (2.5, True)
    """
    from scipy.integrate import quad

    a, b = float(a), float(b)
    if a == b:
        return Estimate(0.0, 0.0)
    edges = _edges(a, b, points)
    val = err = 0.0
    message = ""
    with warnings.catch_warnings():
        # SciPy's own IntegrationWarning is folded into ours below, with the numbers.
        warnings.simplefilter("ignore")
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            v, e, _info, *msg = quad(
                fun, lo, hi, limit=LIMIT, epsabs=QUAD_TOL, epsrel=QUAD_TOL, full_output=1
            )
            val, err = val + v, err + e
            if msg:
                message = " ".join(str(msg[0]).split())
    if not math.isfinite(val):
        raise IntegralDivergesError(f"{what}: the integral over ({a}, {b}) diverges (got {val})")
    if warn and err > max(REPORT_TOL, 1e-6 * abs(val)):
        warnings.warn(
            f"{what}: quadrature over ({a}, {b}) reached only error estimate {err:.3g} "
            f"(value {val:.10g}); the integral may diverge or be inaccurate. SciPy: "
            f"{message or 'no message'}",
            IntegrationWarning,
            stacklevel=2,
        )
    return Estimate(val, err)


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
) -> Estimate:
    """``integral_a^b p(t) fun(t) dt`` for the density ``p`` of ``law`` (a numeric Law).

    Args:
        fun: ``g`` in ``E[g(X)]``.
        law: The :class:`~eafo_sym.laws.Law` of ``X`` (numeric parameters).
        a: Lower end (default: the support's).
        b: Upper end (default: the support's).
        what: What is integrated, for messages.
        points: Points where ``g`` or ``p`` is not smooth.
        tail: Integrate only over the quantile range holding all but ``2*tail``
            of the mass (for integrands that overflow where ``p`` has long
            underflowed, such as ``exp(-x)`` corrections), else the whole interval.
        warn: As in :func:`integrate`.

    >>> from eafo_sym.laws import laplace
    >>> round(expectation(abs, laplace(0, 2), points=[0]).value, 12)
    2.0
    """
    sc = law.scipy
    lo, hi = (float(v) for v in sc.support())
    a = lo if a is None else max(float(a), lo)
    b = hi if b is None else min(float(b), hi)
    if tail is not None:
        qa, qb = law.quantile_range(tail)
        a, b = max(a, qa), min(b, qb)
    logpdf = sc.logpdf

    def integrand(t: float) -> float:
        p = math.exp(float(logpdf(t)))
        # p == 0 also covers underflow far in the tails, where p*g -> 0.
        return 0.0 if p == 0.0 else p * float(fun(t))

    if not a < b:
        return Estimate(0.0, 0.0)
    return integrate(integrand, a, b, what=what, points=points, warn=warn)
