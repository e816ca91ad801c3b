r"""Sensitivity of CRReLU to its correction size ``eps`` (sign, size, numerics).

``CRReLU_eps(x) = max(0, x) + eps * s(x)`` with ``s`` the EAFO shape derived on
ReLU's branch (``x exp(-x^2/2)`` for standard normal input). Everything below
is derived from ``s``, so another input law gives its own thresholds:

* **Negative side** ``eps * s(x)``: ``s'`` vanishes at a point ``x_t < 0``
  (``-1`` for the standard normal): for every ``eps != 0`` the negative side is
  non-monotone, so there is *no atom* (unlike ReLU) and the entropy is finite,
  but the whole negative half is squeezed into an interval of width
  ``O(|eps|)``. Hence ``H(eps) = 1/2 log|eps| + C + o(1)`` as ``eps -> 0``:
  the constant ``C`` is the entropy of the same law with the two halves moved
  apart (``log 2 + 1/2 h(s(X) | X<0) + 1/2 h(X | X>0)``), computed by
  :func:`small_eps_constant`.
* **Positive side** ``x + eps s(x)`` is increasing iff ``1 + eps s'(x) > 0`` on
  ``x > 0``, i.e. ``-1/max s' < eps < -1/min s'``: for the standard normal
  ``-1 < eps < exp(3/2)/2`` (``s'`` is extreme at ``0`` and ``sqrt(3)``).
* **Overlap**: for ``eps < 0`` the negative side maps into positive values and
  its outputs overlap the positive branch (three preimages); for ``eps > 0``
  the two halves have disjoint ranges.

>>> t = crrelu_thresholds()
>>> t.negative_turning_points, t.monotone_eps
([-1], Interval.open(-1, exp(3/2)/2))
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..cache import memoize
from ..laws import Law, normal
from ..symbolic.eafo import derive_correction
from ..symbolic.symbols import x
from .entropy import EntropyIntegrationWarning, output_entropy, output_law

__all__ = [
    "CRReLUThresholds",
    "crrelu_thresholds",
    "crrelu_entropy_curve",
    "small_eps_constant",
    "crrelu_shape",
]


def crrelu_shape(dist: Law | None = None) -> sp.Expr:
    """The EAFO shape ``s(x)`` on ReLU's branch for ``dist`` (``x exp(-x^2/2)`` by default).

    >>> from eafo_sym.laws import normal
    >>> crrelu_shape(normal(0, 2))
    x*exp(-x**2/8)
    """
    return derive_correction("relu", dist, taylor_order=0, y_space=False).shape


@dataclass(frozen=True)
class CRReLUThresholds:
    """Where CRReLU_eps changes character, derived from its shape.

    Attributes:
        shape: ``s(x)``.
        negative_turning_points: Zeros of ``s'`` on ``x < 0`` (non-monotone negative side).
        slope_extremes: ``(min s', max s')`` on ``x > 0`` (attained or limit values).
        monotone_eps: The open interval of ``eps`` where ``x + eps s(x)`` increases on ``x > 0``.
        overlap_eps: The ``eps`` for which the two halves' output ranges overlap.
    """

    shape: sp.Expr
    negative_turning_points: list
    slope_extremes: tuple
    monotone_eps: sp.Interval
    overlap_eps: sp.Set


@memoize
def crrelu_thresholds(dist: Law | None = None) -> CRReLUThresholds:
    """Derive the ``eps`` thresholds of CRReLU (see the module docstring).

    >>> crrelu_thresholds().slope_extremes
    (-2*exp(-3/2), 1)
    """
    s = crrelu_shape(dist)
    ds = sp.diff(s, x)
    neg = sorted((r for r in sp.solve(sp.Eq(ds, 0), x) if (r < 0) == sp.true), key=float)
    crit = [r for r in sp.solve(sp.Eq(sp.diff(ds, x), 0), x) if (r > 0) == sp.true]
    cands = [ds.subs(x, 0), sp.limit(ds, x, sp.oo), *(sp.simplify(ds.subs(x, r)) for r in crit)]
    lo, hi = min(cands, key=float), max(cands, key=float)
    # 1 + eps*s' > 0 for all s' in [lo, hi]: eps > -1/hi (if hi > 0) and eps < -1/lo (if lo < 0).
    left = -1 / hi if hi > 0 else -sp.oo
    right = -1 / lo if lo < 0 else sp.oo
    # eps*s(x) on x < 0 has the sign of -eps (s < 0 there): positive outputs iff eps < 0.
    s_neg_sign = sp.sign(s.subs(x, -1))
    overlap = sp.Interval.open(-sp.oo, 0) if s_neg_sign < 0 else sp.Interval.open(0, sp.oo)
    return CRReLUThresholds(
        shape=s,
        negative_turning_points=neg,
        slope_extremes=(sp.simplify(lo), sp.simplify(hi)),
        monotone_eps=sp.Interval.open(sp.simplify(left), sp.simplify(right)),
        overlap_eps=overlap,
    )


@memoize
def small_eps_constant(dist: Law | None = None) -> float:
    """``C = lim_{eps->0+} H(eps) - 1/2 log eps`` by quadrature.

    The negative half of ``CRReLU_eps`` is ``eps * s(X)``; as ``eps -> 0`` it
    separates from the positive half, so ``H`` tends to the entropy of a
    two-part law with disjoint supports: ``log 2 + 1/2 h(s(X)|X<0) +
    1/2 h(X|X>0) + 1/2 log eps``. The activation ``s(x)`` on ``x < 0`` and
    ``x + K`` on ``x > 0`` (``K`` large enough to separate the ranges) has
    exactly that entropy with ``eps = 1``.
    """
    dist = normal() if dist is None else dist
    s = crrelu_shape(dist)
    top = float(sp.maximum(sp.Abs(s), x, sp.Interval(-sp.oo, 0)))
    f = sp.Piecewise((s, x < 0), (x + sp.nsimplify(2 * top + 1, rational=True), True))
    return float(output_entropy(f, dist))


def crrelu_entropy_curve(
    eps_values: Iterable[float], dist: Law | None = None
) -> list[dict[str, Any]]:
    """Output entropy of ``CRReLU_eps`` for each ``eps`` (both signs), with diagnostics.

    Args:
        eps_values: Values of ``eps`` (``0`` gives ReLU: ``-inf``).
        dist: Law of the input (default standard normal).

    Returns:
        One dict per ``eps``: ``eps, entropy, error`` (quadrature error
        estimate), ``asymptote`` (``1/2 log|eps| + C``, the small-``eps`` law for
        ``eps > 0``), ``monotone_positive`` (inside the derived monotone
        interval), ``overlap`` (the halves' ranges overlap) and ``warnings``
        (count of quadrature warnings).

    >>> rows = crrelu_entropy_curve([0.01, 0.0])
    >>> round(rows[0]["entropy"], 6), rows[1]["entropy"]
    (-1.637467, -inf)
    """
    import warnings

    dist = normal() if dist is None else dist
    th, c = crrelu_thresholds(dist), small_eps_constant(dist)
    rows = []
    for e in eps_values:
        if isinstance(e, bool) or not isinstance(e, (int, float)):
            raise TypeError(f"eps values must be numbers, got {type(e).__name__}")
        if not math.isfinite(e):
            raise ValueError(f"eps values must be finite, got {e}")
        f = sp.Max(0, x) + sp.nsimplify(e, rational=True) * th.shape
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", EntropyIntegrationWarning)
            law = output_law(f, dist)
        rows.append(
            {
                "eps": float(e),
                "entropy": law.entropy,
                "error": law.error,
                "asymptote": 0.5 * math.log(e) + c if e > 0 else math.nan,
                "monotone_positive": bool(th.monotone_eps.contains(sp.nsimplify(e))),
                "overlap": bool(th.overlap_eps.contains(sp.nsimplify(e))),
                "warnings": sum(issubclass(w.category, EntropyIntegrationWarning) for w in caught),
            }
        )
    return rows
