r"""Taylor expansion of the entropy functional along a direction: the exact coefficients.

In x-space ``log(f' + eta h') = log f' + sum_k (-1)^(k+1) (eta h'/f')^k / k``, so

.. math:: H[f + \eta h] - H[f] = \sum_{k \ge 1} c_k \eta^k,\qquad
          c_k = \frac{(-1)^{k+1}}{k} \int p(x) \Big(\frac{h'(x)}{f'(x)}\Big)^k dx

(``docs/mathematics.md`` §5). ``c_1`` is the first variation, ``2 c_2 =
-integral p h'^2/f'^2 <= 0`` the second. The series converges where
``|eta h'/f'| < 1`` on the whole interval. It is the entropy's only for an
injective ``f``; a non-injective one is refused (:func:`taylor_pieces`).

:func:`taylor_coefficients` integrates each ``c_k`` with SymPy and leaves an
unevaluated :class:`~sympy.Integral` where SymPy finds no closed form in
time; :func:`eafo_sym.entropy_taylor` (numeric layer) evaluates those by
quadrature.

>>> from eafo_sym.laws import normal
>>> taylor_coefficients(x, x * sp.exp(-x**2 / 2), normal(), 2, interval=(0, sp.oo))
[sqrt(2)/8, -sqrt(3)/18]
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..laws import Law, check_distribution
from .bases import as_expression
from .functional import as_interval, branch_segments
from .pieces import (
    Segment,
    check_activation,
    injectivity_problem,
    integrate_exact,
    restrict,
    segments,
)
from .symbols import x

__all__ = [
    "TaylorTerm",
    "check_order",
    "integral_value",
    "taylor_coefficients",
    "taylor_pieces",
    "taylor_terms",
]


def check_order(order: Any) -> int:
    """Validate a number of Taylor coefficients (an int ``>= 1``)."""
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise TypeError(f"order must be an int, got {type(order).__name__}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    return int(order)


def taylor_pieces(
    f: sp.Expr, h: sp.Expr, dist: Law, interval: Any = None
) -> Iterator[tuple[Segment, sp.Expr, sp.Expr]]:
    """``(segment of f, density there, direction there)`` on each smooth piece of the interval.

    Refuses flat pieces of ``f`` with a clear message (they have no
    ``h'/f'``), and a non-injective ``f``: where two branches share outputs
    they mix in the output density, a perturbation also moves the branch term
    of ``docs/mathematics.md`` §2, and the series of ``h(X) + E[log|f'|]`` is
    not the entropy's (for ``|x|`` its ``c_2 <= 0`` while the entropy's is
    positive).

    Raises:
        ValueError: ``f`` is flat on part of the interval, or not injective there.
    """
    branch_segments(f, dist, interval)
    a, b = as_interval(interval, dist)
    problem = injectivity_problem(f, a, b, dist)
    if problem is not None:
        raise ValueError(
            f"the Taylor series of H[f + eta*h] needs f = {f} injective on ({a}, {b}), but "
            f"{problem}: its branches mix in the output, so the series of "
            "h(X) + E[log|f'(X)|] is not the entropy's; restrict the interval to one branch, "
            "or difference output_entropy(f + eta*h) (the branch-summed entropy)"
        )
    for seg in segments(f, a, b, dist.pdf, h):
        yield seg, restrict(dist.pdf, seg.a, seg.b), restrict(h, seg.a, seg.b)


@dataclass(frozen=True)
class TaylorTerm:
    """One piece's share of ``integral p (h'/f')^k``.

    Attributes:
        a, b: The piece.
        moment: ``(h'/f')^k`` there (to be averaged over the law).
        integrand: ``p * moment``.
        exact: SymPy's closed form of the integral, or None.
    """

    a: sp.Expr
    b: sp.Expr
    moment: sp.Expr
    integrand: sp.Expr
    exact: sp.Expr | None


def _location(dist: Law) -> sp.Expr:
    loc = dist.location
    return loc if loc is not None and loc.is_number else sp.S.Zero


def taylor_terms(
    f: Any, h: Any, dist: Law, k: int, *, interval: Any = None, exact: bool = True
) -> list[TaylorTerm]:
    """The pieces of ``integral p (h'/f')^k`` with their closed forms where SymPy has them."""
    dist = check_distribution(dist)
    f = check_activation(as_expression(f), parameters=dist.symbols)
    h = check_activation(as_expression(h), "direction h", dist.symbols)
    out = []
    for seg, p, hk in taylor_pieces(f, h, dist, interval):
        moment = (sp.diff(hk, x) / sp.diff(seg.expr, x)) ** k
        integrand = p * moment
        closed = integrate_exact(integrand, seg.a, seg.b, _location(dist)) if exact else None
        out.append(TaylorTerm(seg.a, seg.b, moment, integrand, closed))
    return out


def taylor_coefficients(
    f: Any,
    h: Any,
    dist: Law,
    order: int,
    *,
    interval: Any = None,
    exact: bool = True,
    fallback: Callable[[TaylorTerm, int], sp.Expr] | None = None,
) -> list[sp.Expr]:
    """Coefficients ``[c_1, ..., c_order]`` of ``H[f + eta*h] - H[f]``, exact where SymPy can.

    A piece SymPy cannot integrate in time stays an unevaluated ``Integral``
    (``.evalf()`` evaluates it with mpmath), or becomes what ``fallback(term,
    k)`` returns (:func:`eafo_sym.entropy_taylor` passes quadrature).

    Args:
        f: Activation (base name, Activation or expression in ``x``).
        h: Direction of the perturbation, an expression in ``x``.
        dist: Law of the input.
        order: Number of coefficients (``>= 1``).
        interval: Restrict the entropy to ``(a, b)`` (ReLU's branch ``(0, oo)``).
        exact: Ask SymPy for closed forms (``False``: every piece goes to ``fallback``).
        fallback: The value of a piece without a closed form.

    Raises:
        ValueError: ``order < 1``, or ``f`` flat on the interval.
        TypeError: ``order`` not an int, or ``h`` not an expression.
    """
    order = check_order(order)
    coeffs = []
    for k in range(1, order + 1):
        total = sp.S.Zero
        for t in taylor_terms(f, h, dist, k, interval=interval, exact=exact):
            if t.exact is not None:
                total += t.exact
            elif fallback is not None:
                total += fallback(t, k)
            else:
                total += sp.Integral(t.integrand, (x, t.a, t.b))
        c_k = sp.Rational((-1) ** (k + 1), k) * total
        # simplify() would evaluate an unevaluated Integral, the slow search exact=False skips.
        coeffs.append(c_k if c_k.has(sp.Integral) else sp.simplify(c_k))
    return coeffs


def integral_value(expr: sp.Expr, dps: int = 20) -> float:
    """``expr`` as a float, its unevaluated ``Integral`` s by mpmath's quadrature.

    ``evalf`` walks the expression tree at every node; a lambdified integrand
    is a hundred times faster, which is what a sign needs (an entropy slope
    without a closed form). Each integral is split at 0 and at +-1.

    >>> integral_value(sp.Integral(sp.exp(-x**2), (x, -sp.oo, sp.oo)) - sp.sqrt(sp.pi)) < 1e-15
    True
    """
    import mpmath

    def one(integral: sp.Integral) -> sp.Float:
        (var, a, b), = integral.limits
        fn = sp.lambdify(var, integral.function, modules="mpmath")
        lo, hi = (mpmath.mpf(float(v)) if v.is_finite else (mpmath.inf if v > 0 else -mpmath.inf)
                  for v in (a, b))
        cuts = [lo, *(mpmath.mpf(c) for c in (-1, 0, 1) if lo < c < hi), hi]
        with mpmath.workdps(dps):
            return sp.Float(mpmath.re(mpmath.quad(fn, cuts)), dps)

    done = expr.replace(lambda e: isinstance(e, sp.Integral), one)
    return float(sp.N(done, dps))
