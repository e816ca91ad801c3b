r"""EAFO: move an activation against the entropy gradient, and CRReLU.

One step of gradient descent in function space (``../shared/EAFO-math.md`` §6):

* x-space: ``f_new = f - eta * dH/df``;
* y-space (the paper's form): ``g_new = g - eta * dH/dg``, inverted back to ``f``.

Inverting ``g_new(f_new(x)) = x`` to first order in ``eta`` gives
``f_new = f + eta * f'(x) * dH/dg(f(x)) = f - eta * f'(x) * dH/df(x)``: the two
coordinates move ``f`` in directions that differ by the positive weight ``f'``
(two different metrics), both decreasing ``H`` to first order, and they agree
exactly where ``f' = 1`` (ReLU's branch). Iterating the step is the paper's
"dynamic" variant.

**CRReLU**, derived: on ReLU's invertible branch ``x > 0`` the step is
``x - eta * dH/df``, and ``dH/df`` there is a positive constant times
``x exp(-x**2/2)`` for standard normal input. The paper keeps that shape,
extends it to the whole line and makes its size ``eps`` learnable:
``max(0, x) + eps * x * exp(-x**2/2)``. The entropy-descent step corresponds to
``eps = -eta/sqrt(2*pi) < 0``; the first-order entropy change along ``eps`` is
``+sqrt(2)/8 > 0``. The paper's ``eps = +0.01`` therefore *raises* the branch
entropy to first order: by the paper's own criterion the derived sign is negative.

>>> d = derive_crrelu()
>>> d.expr
epsilon*x*exp(-x**2/2) + Max(0, x)
>>> d.descent_sign, d.entropy_slope
(-1, sqrt(2)/8)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import sympy as sp

from ._pieces import check_activation, segments
from ._symbols import eps, eta, x, y
from .activations import resolve
from .distributions import Distribution, _as_param, check_distribution, normal
from .taylor import entropy_taylor
from .variations import as_interval, coordinates_agree, functional_derivative, inverse

__all__ = ["eafo_step", "eafo_iterate", "derive_crrelu", "derive_correction", "Correction"]


def _eta(value: Any) -> sp.Expr:
    if value is None:
        return eta
    return _as_param("eafo_step", "eta", value)


def eafo_step(
    f: Any,
    dist: Distribution,
    eta: Any = None,
    *,
    space: Literal["x", "y"] = "x",
    interval: Any = None,
) -> sp.Expr:
    """One EAFO step: ``f - eta * dH/df`` (x-space) or the y-space step inverted back.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        dist: Law of the input.
        eta: Step size (number or symbol; default the symbol ``eta``).
        space: ``"x"``, or ``"y"`` for ``g - eta*dH/dg`` mapped back to ``f``
            to first order in ``eta`` (needs an invertible ``f``).
        interval: Restrict to a branch, e.g. ``(0, oo)`` for ReLU.

    Returns:
        The new activation as an expression in ``x``.

    >>> eafo_step("relu", normal(), interval=(0, sp.oo))
    -sqrt(2)*eta*x*exp(-x**2/2)/(2*sqrt(pi)) + x
    >>> eafo_step("relu", normal(), interval=(0, sp.oo), space="y")
    -sqrt(2)*eta*x*exp(-x**2/2)/(2*sqrt(pi)) + x
    """
    f = check_activation(resolve(f))
    dist = check_distribution(dist)
    step = _eta(eta)
    base = _on_interval(f, dist, interval)
    # deep=False: distribute eta over the top-level sum only. A full expand of a
    # second step's rational terms grows 981 operations into 34532.
    if space == "x":
        dH = functional_derivative(f, dist, space="x", interval=interval)
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
    (f1,) = sp.solve(sp.Eq(sp.simplify(first), 0), F1)
    return sp.expand(base + step * sp.simplify(f1), deep=False)


def _on_interval(f: sp.Expr, dist: Distribution, interval: Any) -> sp.Expr:
    """``f`` itself, or its single smooth piece when an interval picks one branch."""
    if interval is None:
        return f
    a, b = as_interval(interval, dist)
    segs = segments(f, a, b, dist.pdf)
    exprs = {s.expr for s in segs}
    return exprs.pop() if len(exprs) == 1 else f


def eafo_iterate(
    f: Any, dist: Distribution, eta: Any, steps: int, *, interval: Any = None
) -> list[sp.Expr]:
    """The dynamic variant: ``[f_0, f_1, ..., f_steps]`` with ``f_{k+1} = eafo_step(f_k)``.

    >>> fs = eafo_iterate(x, normal(), sp.Rational(1, 10), 2)
    >>> len(fs), fs[1]
    (3, x - sqrt(2)*x*exp(-x**2/2)/(20*sqrt(pi)))
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    out = [_on_interval(check_activation(resolve(f)), dist, interval)]
    for _ in range(steps):
        out.append(eafo_step(out[-1], dist, eta, interval=interval))
    return out


@dataclass(frozen=True)
class Correction:
    """The EAFO derivation of a corrected activation ``base + eps * shape``.

    Attributes:
        expr: The corrected activation ``base + eps*shape`` (in ``x`` and ``eps``).
        eps: The correction-size symbol (learnable in the generated modules).
        base: The base activation.
        branch: The base on the interval the derivation works on.
        interval: That interval (ReLU: ``(0, oo)``, the invertible branch).
        dH_df: The x-space functional derivative on the branch.
        dH_dg: The y-space functional derivative (in ``y``), or None if SymPy has no inverse.
        coordinates_agree: ``dH/df(x) == -dH/dg(f(x))`` was verified.
        step: ``branch - eta*dH/df``, the EAFO step.
        coefficient: The positive constant in ``dH/df = coefficient * shape``.
        shape: The correction shape (``dH/df`` without its constant).
        eps_descent: The ``eps`` that reproduces the descent step: ``-eta*coefficient``.
        descent_sign: Sign of ``eps`` for entropy descent (-1 or +1).
        entropy_slope: ``dH/d eps`` at ``eps = 0`` on the branch (first Taylor coefficient).
        taylor: Taylor coefficients of the branch entropy in ``eps``.
        paper_eps: The paper's initial value (+0.01 for CRReLU).
        note: Plain-language statement of the sign finding.
    """

    expr: sp.Expr
    eps: sp.Symbol
    base: sp.Expr
    branch: sp.Expr
    interval: tuple
    dH_df: sp.Expr
    dH_dg: sp.Expr | None
    coordinates_agree: bool
    step: sp.Expr
    coefficient: sp.Expr
    shape: sp.Expr
    eps_descent: sp.Expr
    descent_sign: int
    entropy_slope: sp.Expr
    taylor: list = field(default_factory=list)
    paper_eps: float | None = None
    note: str = ""


def derive_correction(
    base: Any,
    dist: Distribution | None = None,
    *,
    interval: Any = None,
    taylor_order: int = 2,
    paper_eps: float | None = None,
) -> Correction:
    """Derive ``base + eps * shape`` from one EAFO step on ``base``.

    The functional derivative on the branch is split into a constant and a
    shape (``as_independent``); the shape becomes the correction, ``eps`` its
    size. If ``interval`` is None and ``base`` has flat pieces (ReLU), the
    interval is the union hull of its non-flat pieces.

    >>> c = derive_correction("relu", normal(0, 2))
    >>> c.shape
    x*exp(-x**2/8)
    """
    base_expr = check_activation(resolve(base))
    dist = normal() if dist is None else check_distribution(dist)
    if interval is None:
        live = [s for s in segments(base_expr, dist.support.inf, dist.support.sup) if not s.is_flat]
        if not live:
            raise ValueError(f"base {base_expr} is constant: nothing to correct")
        interval = (live[0].a, live[-1].b)
    a, b = as_interval(interval, dist)
    branch = _on_interval(base_expr, dist, (a, b))
    dfx = functional_derivative(base_expr, dist, space="x", interval=(a, b))
    try:
        dgy = functional_derivative(base_expr, dist, space="y", interval=(a, b))
        agree = coordinates_agree(base_expr, dist, interval=(a, b))
    except (ValueError, NotImplementedError):
        dgy, agree = None, False
    step = sp.expand(branch - eta * dfx)
    coefficient, shape = sp.factor_terms(dfx).as_independent(x, as_Add=False)
    if coefficient.is_number and coefficient < 0:
        coefficient, shape = -coefficient, -shape
    expr = base_expr + eps * shape
    taylor = entropy_taylor(branch, shape, dist, taylor_order, interval=(a, b))
    slope = taylor[0]
    descent_sign = -1 if (slope > 0) == sp.true else 1
    note = (
        f"The entropy-descent step is eps = -eta*({coefficient}), sign {descent_sign:+d}; "
        f"dH/deps at 0 on ({a}, {b}) is {slope} ({'> 0' if descent_sign < 0 else '< 0'})."
    )
    if paper_eps is not None:
        agrees = (paper_eps > 0) == (descent_sign > 0)
        note += (
            f" The paper initialises eps = {paper_eps:+g}: "
            + (
                "this matches the descent direction."
                if agrees
                else "this is the opposite sign, so to first order it increases the entropy "
                "that EAFO sets out to decrease."
            )
        )
    return Correction(
        expr=expr,
        eps=eps,
        base=base_expr,
        branch=branch,
        interval=(a, b),
        dH_df=dfx,
        dH_dg=dgy,
        coordinates_agree=agree,
        step=step,
        coefficient=coefficient,
        shape=shape,
        eps_descent=-eta * coefficient,
        descent_sign=descent_sign,
        entropy_slope=slope,
        taylor=taylor,
        paper_eps=paper_eps,
        note=note,
    )


@lru_cache(maxsize=8)
def derive_crrelu(dist: Distribution | None = None) -> Correction:
    """Derive CRReLU from ReLU with standard normal input (cached).

    The returned :class:`Correction` has ``.expr == max(0, x) + eps*x*exp(-x**2/2)``
    and keeps every intermediate step; ``.note`` states the sign finding.
    """
    return derive_correction("relu", normal() if dist is None else dist, paper_eps=0.01)
