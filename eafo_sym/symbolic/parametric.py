r"""EAFO corrections in closed form in the input law's parameters: what dynamic EAFO prints.

A network's pre-activations are not ``N(0, 1)``; their mean ``mu`` and standard deviation
``sigma`` move during training. :func:`parametric_correction` derives the correction of a
base activation (the one pipeline, :func:`~eafo_sym.symbolic.eafo.derive_correction`) under a
law whose parameters are SymPy symbols, so the result is a closed form in ``x``, ``epsilon``,
``mu`` and ``sigma`` (``docs/mathematics.md`` §6, §11). Besides the normal law, the
Laplace, logistic and Student-t laws enter **matched by moments**: each is the member of
its family with mean ``mu`` and standard deviation ``sigma`` (:func:`moment_matched`), so a
running estimate of the two moments selects one law in every family.

The shape is written in the standardised variable ``u = (x - mu)/sigma``: ReLU under
``N(mu, sigma)`` gives ``u exp(-u**2/2)``, which is CRReLU's shape at ``mu = 0, sigma = 1``.

>>> from eafo_sym.symbolic.symbols import x
>>> c = parametric_correction("relu")
>>> c.shape
(-mu + x)*exp(-(-mu + x)**2/(2*sigma**2))/sigma
>>> sp.simplify(c.shape.subs({MU: 0, SIGMA: 1}) - x * sp.exp(-x**2 / 2))
0

The Laplace density has a kink at its location, which the derivation must place against
the base's own kinks: ReLU's correction under a Laplace law needs a numeric ``mu``
(``parametric_correction("relu", "laplace", mu=0)``; ``sigma`` stays symbolic).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..laws import MU, SIGMA, Law, laplace, logistic, normal, student_t
from .eafo import Correction, derive_correction

__all__ = ["FAMILIES", "MU", "SIGMA", "moment_matched", "parametric_correction"]

#: The laws :func:`moment_matched` knows.
FAMILIES = ("normal", "laplace", "logistic", "student_t")


def moment_matched(family: str = "normal", mu: Any = MU, sigma: Any = SIGMA, *,
                   nu: Any = 5) -> Law:
    """The law of ``family`` with mean ``mu`` and standard deviation ``sigma``.

    Laplace ``b = sigma/sqrt(2)`` (variance ``2 b**2``), logistic ``s = sigma sqrt(3)/pi``
    (variance ``s**2 pi**2/3``), Student-t ``scale = sigma sqrt((nu - 2)/nu)`` (variance
    ``scale**2 nu/(nu - 2)``, so ``nu > 2``).

    Raises:
        ValueError: An unknown family, or ``nu <= 2`` (no variance to match).

    >>> moment_matched("laplace").params["b"]
    sqrt(2)*sigma/2
    >>> sp.simplify(moment_matched("logistic").params["s"] ** 2 * sp.pi**2 / 3)  # variance
    sigma**2
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    if family == "normal":
        return normal(mu, sigma)
    if family == "laplace":
        return laplace(mu, sigma / sp.sqrt(2))
    if family == "logistic":
        return logistic(mu, sigma * sp.sqrt(3) / sp.pi)
    nu = sp.sympify(nu)
    if nu.is_number and not nu > 2:
        raise ValueError(f"student_t: nu must be > 2 to have a variance to match, got {nu}")
    return student_t(nu, mu, sigma * sp.sqrt((nu - 2) / nu))


def parametric_correction(base: Any = "relu", family: str = "normal", *, mu: Any = MU,
                          sigma: Any = SIGMA, nu: Any = 5, taylor_order: int = 0) -> Correction:
    """The EAFO correction of ``base`` under :func:`moment_matched` ``(family)``, in mu, sigma.

    Args:
        base: A base activation (see :func:`~eafo_sym.symbolic.eafo.derive_correction`).
        family: ``"normal"``, ``"laplace"``, ``"logistic"`` or ``"student_t"``.
        mu: The law's mean (default the symbol ``mu``; a number for a Laplace law and a
            base with a kink).
        sigma: The law's standard deviation (default the symbol ``sigma``).
        nu: Student-t's degrees of freedom.
        taylor_order: Taylor coefficients of the entropy to derive (0: none).

    Returns:
        The :class:`~eafo_sym.symbolic.eafo.Correction`; its ``expr`` is
        ``base + epsilon * shape`` with ``shape`` in ``x``, ``mu`` and ``sigma``, and
        ``coefficient * shape`` is ``w * dH/df = -w (p/f')'``.
    """
    return derive_correction(base, moment_matched(family, mu, sigma, nu=nu),
                             taylor_order=taylor_order, y_space=False)
