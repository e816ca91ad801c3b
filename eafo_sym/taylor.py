r"""Taylor expansion of the entropy functional along a direction.

In x-space ``log(f' + eta h') = log f' + sum_k (-1)^(k+1) (eta h'/f')^k / k``, so

.. math:: H[f + \eta h] - H[f] = \sum_{k \ge 1} c_k \eta^k,\qquad
          c_k = \frac{(-1)^{k+1}}{k} \int p(x) \Big(\frac{h'(x)}{f'(x)}\Big)^k dx .

``c_1`` is the first variation, ``2 c_2 = -integral p h'^2/f'^2 <= 0`` the second.
The series converges where ``|eta h'/f'| < 1`` on the whole interval.

>>> from eafo_sym.distributions import normal
>>> entropy_taylor(x, x * sp.exp(-x**2 / 2), normal(), 2, interval=(0, sp.oo))
[sqrt(2)/8, -sqrt(3)/18]
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import sympy as sp

from ._pieces import LogAbs, Robust, check_activation, integrate_exact, restrict
from ._symbols import x
from .activations import resolve
from .distributions import Distribution, check_distribution
from .entropy import _location, _quad
from .variations import branch_segments

__all__ = ["entropy_taylor", "entropy_change", "second_variation"]


def _pieces_with_direction(f: sp.Expr, h: sp.Expr, dist: Distribution, interval: Any):
    from ._pieces import segments
    from .variations import as_interval

    branch_segments(f, dist, interval)  # refuses flat pieces with a clear message
    a, b = as_interval(interval, dist)
    for seg in segments(f, a, b, dist.pdf, h):
        yield seg, restrict(dist.pdf, seg.a, seg.b), restrict(h, seg.a, seg.b)


def _check_order(order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise TypeError(f"order must be an int, got {type(order).__name__}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    return int(order)


def entropy_taylor(
    f: Any,
    h: Any,
    dist: Distribution,
    order: int,
    *,
    interval: Any = None,
    exact: bool = True,
) -> list[sp.Expr]:
    """Coefficients ``[c_1, ..., c_order]`` of ``H[f + eta*h] - H[f]``.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        h: Direction of the perturbation, an expression in ``x``.
        dist: Law of the input.
        order: Number of coefficients (``>= 1``).
        interval: Restrict the entropy to ``(a, b)`` (ReLU's branch ``(0, oo)``).
        exact: Try SymPy first; each coefficient SymPy cannot integrate falls
            back to quadrature (a SymPy Float). ``False`` goes numeric directly.

    Raises:
        ValueError: ``order < 1``, ``f`` flat on the interval, or an integral diverges.
        TypeError: ``order`` not an int, or ``h`` not an expression.
    """
    order = _check_order(order)
    f = check_activation(resolve(f))
    h = check_activation(resolve(h), "direction h")
    dist = check_distribution(dist)
    pieces = list(_pieces_with_direction(f, h, dist, interval))
    coeffs = []
    for k in range(1, order + 1):
        total = sp.S.Zero
        for seg, p, hk in pieces:
            ratio = sp.diff(hk, x) / sp.diff(seg.expr, x)
            integrand = p * ratio**k
            part = integrate_exact(integrand, seg.a, seg.b, _location(dist)) if exact else None
            if part is None:
                part = sp.Float(_numeric_moment(ratio**k, dist, seg.a, seg.b, f"c_{k}"), 15)
            total += part
        coeffs.append(sp.simplify(sp.Rational((-1) ** (k + 1), k) * total))
    return coeffs


def _numeric_moment(expr: sp.Expr, dist: Distribution, a: sp.Expr, b: sp.Expr, what: str) -> float:
    """``integral_a^b p(x) expr(x) dx`` by quadrature, with SciPy's stable log-density."""
    fn, logpdf = Robust(expr), dist.scipy.logpdf

    def integrand(t: float) -> float:
        p = math.exp(float(logpdf(t)))
        return 0.0 if p == 0.0 else p * float(fn(t))

    with np.errstate(all="ignore"):
        return _quad(integrand, float(a), float(b), what)[0]


def entropy_change(
    f: Any, h: Any, dist: Distribution, eta: float, *, interval: Any = None
) -> float:
    """``H[f + eta*h] - H[f] = integral p log(1 + eta h'/f')`` by quadrature (no series).

    The independent number the Taylor coefficients are checked against.

    >>> from eafo_sym.distributions import normal
    >>> round(entropy_change(x, x, normal(), 1.0), 12)  # f = 2x: log 2
    0.69314718056
    """
    f = check_activation(resolve(f))
    h = check_activation(resolve(h), "direction h")
    dist = check_distribution(dist)
    logpdf = dist.scipy.logpdf
    total = 0.0
    for seg, _p, hk in _pieces_with_direction(f, h, dist, interval):
        fp = sp.diff(seg.expr, x)
        moved = LogAbs(fp + sp.nsimplify(eta) * sp.diff(hk, x))
        base = LogAbs(fp)

        def integrand(t: float, moved=moved, base=base) -> float:
            p = math.exp(float(logpdf(t)))
            return 0.0 if p == 0.0 else p * (moved(t) - base(t))

        val, _ = _quad(integrand, float(seg.a), float(seg.b), "entropy change")
        total += val
    return total


def second_variation(f: Any, h: Any, dist: Distribution, *, interval: Any = None) -> sp.Expr:
    """``d^2/d eta^2 H[f + eta h]`` at ``eta = 0``: ``-integral p h'^2 / f'^2 <= 0``.

    >>> from eafo_sym.distributions import normal
    >>> second_variation(x, x, normal())
    -1
    """
    return 2 * entropy_taylor(f, h, dist, 2, interval=interval)[1]
