r"""EAFO as a design tool: any base activation, any input law, the whole derivation checked.

:func:`design` runs the one correction pipeline
(:func:`eafo_sym.symbolic.eafo.derive_correction`) on a user's base and law and
checks every closed form it returns against an independent number
(``docs/mathematics.md`` §6-§8):

* the gradient ``weight * dH/df = c * shape`` against ``-(p/f')'`` by central
  differences of the law's SciPy density, at points inside each piece;
* each Taylor coefficient ``c_1..c_4`` of ``H[f + eps*shape]`` against finite
  differences of the entropy change integrated by quadrature
  (:func:`eafo_sym.numeric.taylor.entropy_change`, no series);
* the two coordinates, ``dH/df(x) = -dH/dg(f(x))``, where SymPy inverts the base.

It also gives the range of ``eps`` for which the corrected activation stays
increasing wherever the base is, and the iterated steps when ``steps > 1``.

>>> from eafo_sym.laws import normal
>>> d = design("relu", normal(), taylor_order=1)
>>> d.correction.shape, d.descent_sign
(x*exp(-x**2/2), -1)
>>> all(c.passed for c in d.checks)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp

from .. import catalog
from ..laws import Law, check_law
from ..symbolic.bases import Activation
from ..symbolic.eafo import Correction, derive_correction, eafo_iterate
from ..symbolic.pieces import check_activation, segments
from ..symbolic.symbols import eps, x

__all__ = ["Check", "Design", "Piece", "WholeLine", "design", "resolve_base"]

#: Relative step of the central differences that check a gradient.
GRADIENT_STEP = 1e-5
#: Tolerances of the checks: gradient (relative), Taylor coefficients (absolute + relative).
GRADIENT_RTOL = 1e-5
TAYLOR_ATOL = 1e-6
TAYLOR_RTOL = 1e-4


@dataclass(frozen=True)
class Check:
    """One closed form against an independent number.

    Attributes:
        name: What is checked (``"c_2"``, ``"gradient at x = 1.5"``).
        value: The closed form's value.
        reference: The independent number.
        tolerance: The allowed ``|value - reference|``.
        method: How the reference was computed.
    """

    name: str
    value: float
    reference: float
    tolerance: float
    method: str

    @property
    def error(self) -> float:
        """``|value - reference|``."""
        return abs(self.value - self.reference)

    @property
    def passed(self) -> bool:
        """Whether the error is within the tolerance."""
        return bool(self.error <= self.tolerance)

    def as_dict(self) -> dict:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "value": self.value,
            "reference": self.reference,
            "error": self.error,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "method": self.method,
        }


@dataclass(frozen=True)
class Piece:
    """A smooth piece of the base on the law's support.

    Attributes:
        a, b: Its ends.
        expr: The base there.
        flat: Whether it is constant there (it carries no gradient; its mass is an atom).
        branches: Its monotone branches, split at the turning points.
    """

    a: sp.Expr
    b: sp.Expr
    expr: sp.Expr
    flat: bool
    branches: tuple[tuple[sp.Expr, sp.Expr], ...]


@dataclass(frozen=True)
class WholeLine:
    """The entropy of the whole output ``f(X)`` before and after the step, atoms kept apart.

    A flat piece of the base puts an atom in the output (ReLU: mass 1/2 at 0), whose
    differential entropy is then ``-inf``; the correction, defined on the whole line,
    can spread it out. Both laws come from :func:`eafo_sym.numeric.entropy.output_law`.

    Attributes:
        eps: The step, ``descent_sign * 0.01`` (``-0.01`` where the sign is unknown).
        base_atoms, corrected_atoms: ``(value, mass)`` of each atom.
        base_continuous, corrected_continuous: ``-integral q_c log q_c`` of the
            continuous sub-density (the part of the entropy with the atoms set aside).
        base_entropy, corrected_entropy: The differential entropies (``-inf`` with an atom).
    """

    eps: float
    base_atoms: tuple[tuple[float, float], ...]
    corrected_atoms: tuple[tuple[float, float], ...]
    base_continuous: float
    corrected_continuous: float
    base_entropy: float
    corrected_entropy: float

    @property
    def change(self) -> float:
        """``H[f_eps] - H[f]`` on the whole line (``+inf`` where the step removes an atom)."""
        if math.isinf(self.base_entropy) and math.isinf(self.corrected_entropy):
            return math.nan if self.base_entropy == self.corrected_entropy else math.inf
        return self.corrected_entropy - self.base_entropy

    @property
    def continuous_change(self) -> float:
        """The change of the continuous part alone."""
        return self.corrected_continuous - self.base_continuous

    def as_dict(self) -> dict:
        """A JSON-ready dict (infinities as strings)."""

        def num(v: float) -> float | str:
            return v if math.isfinite(v) else str(v)

        return {"eps": self.eps, "base_atoms": [list(a) for a in self.base_atoms],
                "corrected_atoms": [list(a) for a in self.corrected_atoms],
                "base_continuous": num(self.base_continuous),
                "corrected_continuous": num(self.corrected_continuous),
                "base_entropy": num(self.base_entropy),
                "corrected_entropy": num(self.corrected_entropy),
                "change": num(self.change), "continuous_change": num(self.continuous_change)}


@dataclass(frozen=True)
class Design:
    """The EAFO design of ``base + eps * shape`` under a law, with its checks.

    Attributes:
        base: The base activation (parameters bound to their defaults).
        label: A short name for it (registry name or the formula).
        law: The input law.
        metric: ``"x"`` or ``"y"``: the coordinate the step was taken in.
        correction: The pipeline's :class:`~eafo_sym.symbolic.eafo.Correction`
            (shape, positive constant, functional derivatives, point terms, note).
        pieces: The base's smooth pieces, flat ones and monotone branches marked.
        taylor: ``c_1..c_k`` of ``H[f + eps*shape] - H[f]`` on the interval
            (empty for a non-monotone base, whose series is not the entropy's).
        checks: Every closed form against an independent number.
        eps_range: ``(lo, hi)``: the corrected activation is increasing wherever
            the base is, for ``lo < eps < hi`` (scanned on the law's bulk).
        corrected: ``base + eps*shape`` with ``eps`` a symbol.
        iterates: ``[f_0, ..., f_steps]`` for ``steps > 1`` (else empty).
        entropy_change: ``H[f + eps0*shape] - H[f]`` on the interval at
            ``eps0 = descent_sign * 0.01`` by quadrature, or None.
        whole_line: The same step's :class:`WholeLine` (the whole output, atoms
            handled), or None where the output entropy is undefined.
    """

    base: sp.Expr
    label: str
    law: Law
    metric: str
    correction: Correction
    pieces: tuple[Piece, ...]
    taylor: tuple = ()
    checks: tuple[Check, ...] = ()
    eps_range: tuple[float, float] = (-math.inf, math.inf)
    corrected: sp.Expr = field(default=sp.S.Zero)
    iterates: tuple = ()
    entropy_change: float | None = None
    whole_line: WholeLine | None = None

    @property
    def shape(self) -> sp.Expr:
        """The correction shape (bound to the base's defaults)."""
        return _bind(self.correction.shape, self.correction)

    @property
    def descent_sign(self) -> int | None:
        """The sign of ``eps`` that lowers the entropy (see :class:`Correction`)."""
        return self.correction.descent_sign

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)


def resolve_base(base: Any) -> tuple[str, sp.Expr | str | Activation]:
    """``(label, what derive_correction takes)`` for a name, Activation, expression or formula.

    A string that is not a registry name is parsed by the safe parser
    (:func:`eafo_sym.parsing.parse_activation`), never evaluated.

    >>> resolve_base("x + 3/10*tanh(x)")
    ('x + 3*tanh(x)/10', x + 3*tanh(x)/10)
    >>> resolve_base("tanh")[0]
    'tanh'
    >>> resolve_base("y**2")
    Traceback (most recent call last):
    ...
    ValueError: formula: unknown name 'y' (the input is 'x'; declare parameters with params=[...])
    """
    from ..symbolic.bases import BASES

    if isinstance(base, str):
        if base in BASES:
            return base, base
        if base in catalog.names():
            act = catalog.get(base)
            return base, act
        from ..parsing import parse_activation

        f = parse_activation(base)
        return sp.sstr(f), check_activation(f, "base")
    if isinstance(base, Activation):
        return base.name, base
    if isinstance(base, sp.Basic):
        f = check_activation(base, "base")
        return sp.sstr(f), f
    raise TypeError(
        "base must be a registry name, an Activation, a SymPy expression or a formula string, "
        f"got {type(base).__name__}"
    )


def _bind(expr: sp.Expr, c: Correction) -> sp.Expr:
    return expr.subs({s: sp.nsimplify(v, rational=True) for s, v in c.params.items()})


def design(
    base: Any,
    law: Law,
    *,
    metric: Literal["x", "y", "auto"] = "auto",
    steps: int = 1,
    eta: Any = None,
    interval: Any = None,
    taylor_order: int = 4,
) -> Design:
    """Derive and check the EAFO correction of ``base`` under ``law``.

    Args:
        base: A registry name, an :class:`~eafo_sym.symbolic.bases.Activation`,
            a SymPy expression in ``x`` or a formula string (parsed safely).
        law: The input law (numeric parameters: the checks evaluate it).
        metric: ``"x"`` (step in ``f``), ``"y"`` (the paper's inverse-function
            step, which needs SymPy to invert the base), or ``"auto"`` (``"y"``
            where the inverse exists and the coordinates agree, else ``"x"``).
            To first order both give the same correction on a branch where
            ``f' = 1``; ``docs/mathematics.md`` §6.
        steps: Number of EAFO steps for :attr:`Design.iterates` (``1``: none).
        eta: Step size of the iterated steps (default ``1/10``).
        interval: Where the entropy is taken (default: the hull of the base's
            non-flat pieces on the support).
        taylor_order: Taylor coefficients to derive and check (0 to 4).

    Raises:
        ValueError: A bad metric, steps, order, a law with symbolic parameters,
            a formula that is not a function of x, or a base that is constant.
        TypeError: ``base`` or ``law`` of the wrong type.
    """
    law = check_law(law)
    if metric not in ("x", "y", "auto"):
        raise ValueError(f"metric must be 'x', 'y' or 'auto', got {metric!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 5:
        raise ValueError(f"steps must be an int from 1 to 5, got {steps!r}")
    if isinstance(taylor_order, bool) or not isinstance(taylor_order, int) or not (
        0 <= taylor_order <= 4
    ):
        raise ValueError(f"taylor_order must be an int from 0 to 4, got {taylor_order!r}")
    if law.symbols:
        names = ", ".join(map(str, law.symbols))
        raise ValueError(
            f"design checks need numbers: give the law's parameters {names} values "
            "(law.bind(...)); derive_correction gives the closed form in them"
        )
    label, what = resolve_base(base)
    c = derive_correction(what, law, interval=interval, taylor_order=taylor_order,
                          y_space=metric != "x")
    if metric == "y" and c.dH_dg is None:
        raise ValueError(
            f"metric 'y' needs the inverse of {label} on {c.interval}, which SymPy does not find "
            "(or the base has parameters or turning points); use metric 'x'"
        )
    chosen = "y" if metric == "y" or (metric == "auto" and c.coordinates_agree) else "x"
    f = _bind(c.base, c)
    shape = _bind(c.shape, c)
    pieces = _pieces(f, law, c)
    checks = list(_gradient_checks(f, law, c))
    taylor: tuple = ()
    change = None
    if c.taylor:
        taylor = tuple(c.taylor)
        checks += _taylor_checks(f, shape, law, c)
    if c.coordinates_agree:
        checks.append(Check("dH/df(x) = -dH/dg(f(x))", 1.0, 1.0, 0.0,
                            "30-digit comparison at points inside the interval"))
    if not c.turning_points and c.descent_sign:
        change = _entropy_change(f, shape, law, c, 0.01 * c.descent_sign)
    whole = _whole_line(f, shape, law, c)
    if whole is not None:
        checks += _atom_checks(whole, pieces, law)
    iterates: tuple = ()
    if steps > 1:
        step = sp.Rational(1, 10) if eta is None else sp.nsimplify(eta, rational=True)
        iterates = tuple(eafo_iterate(f, law, step, steps, interval=c.interval,
                                      point_terms=False))
    return Design(
        base=f,
        label=label,
        law=law,
        metric=chosen,
        correction=c,
        pieces=pieces,
        taylor=taylor,
        checks=tuple(checks),
        eps_range=_eps_range(f, shape, law, c),
        corrected=f + eps * shape,
        iterates=iterates,
        entropy_change=change,
        whole_line=whole,
    )


def _pieces(f: sp.Expr, law: Law, c: Correction) -> tuple[Piece, ...]:
    out = []
    turns = sorted(c.turning_points, key=float)
    for s in segments(f, law.support.inf, law.support.sup):
        cuts = [t for t in turns if (s.a < t) == sp.true and (t < s.b) == sp.true]
        edges = [s.a, *cuts, s.b]
        branches = () if s.is_flat else tuple(zip(edges[:-1], edges[1:], strict=True))
        out.append(Piece(s.a, s.b, s.expr, s.is_flat, branches))
    return tuple(out)


def _sample_points(law: Law, a: sp.Expr, b: sp.Expr, n: int = 6) -> list[float]:
    """Points inside ``(a, b)`` where the law has mass, away from the ends."""
    lo, hi = law.quantile_range(1e-4)
    lo, hi = max(lo, float(a)) if a.is_finite else lo, min(hi, float(b)) if b.is_finite else hi
    if not lo < hi:
        return []
    return [lo + (hi - lo) * k / (n + 1) for k in range(1, n + 1)]


def _gradient_checks(f: sp.Expr, law: Law, c: Correction) -> list[Check]:
    """``c * shape / weight`` against ``-(p/f')'`` by central differences, on each piece."""
    from ..numeric.evaluate import numeric

    out = []
    shape, weight = _bind(c.shape, c), _bind(c.weight, c)
    closed = numeric(c.coefficient * shape / weight)
    fprime = numeric(sp.diff(f, x))
    pdf = law.scipy.pdf
    turns = [float(t) for t in c.turning_points]
    for s in segments(f, *c.interval):
        if s.is_flat:
            continue
        fp = numeric(sp.diff(s.expr, x))
        for t in _sample_points(law, s.a, s.b):
            if any(abs(t - u) < 0.05 for u in turns):
                continue  # dH/df has a double pole at a turning point
            h = GRADIENT_STEP * max(1.0, abs(t))
            ratio = [float(pdf(t + k * h)) / float(fp(t + k * h)) for k in (-2, -1, 1, 2)]
            ref = -(ratio[0] - 8 * ratio[1] + 8 * ratio[2] - ratio[3]) / (12 * h)
            value = float(closed(t))
            scale = max(abs(ref), float(pdf(t)) / max(abs(float(fprime(t))), 1e-300))
            out.append(Check(f"gradient at x = {t:.4g}", value, ref, GRADIENT_RTOL * scale,
                             "-(p/f')' by a fourth-order central difference of SciPy's density"))
    return out


def _taylor_checks(f: sp.Expr, shape: sp.Expr, law: Law, c: Correction) -> list[Check]:
    """``c_k`` against a polynomial fit of the quadrature-integrated entropy change."""
    from ..numeric.evaluate import numeric
    from ..numeric.taylor import entropy_change

    ratio = numeric(sp.diff(shape, x) / sp.diff(f, x))
    pts = _sample_points(law, *c.interval, n=60)
    peak = max((abs(float(ratio(t))) for t in pts), default=1.0) or 1.0
    base = 0.05 / peak  # well inside the series' radius |eps h'/f'| < 1
    steps = [base * k for k in (1, 2, 3, 4, 5, 6)]
    delta = {e: entropy_change(f, shape, law, e, interval=c.interval) for e in steps}
    delta.update({-e: entropy_change(f, shape, law, -e, interval=c.interval) for e in steps})
    e = np.array(steps)
    odd = np.array([(delta[v] - delta[-v]) / (2 * v) for v in steps])  # c1 + c3 e^2 + c5 e^4
    even = np.array([(delta[v] + delta[-v]) / (2 * v * v) for v in steps])  # c2 + c4 e^2 + ..
    design_matrix = np.stack([np.ones_like(e), e**2, e**4, e**6], axis=1)
    (c1, c3, *_), *_ = np.linalg.lstsq(design_matrix, odd, rcond=None)
    (c2, c4, *_), *_ = np.linalg.lstsq(design_matrix, even, rcond=None)
    fitted = [c1, c2, c3, c4]
    out = []
    for k, coeff in enumerate(c.taylor, 1):
        from ..symbolic.taylor import integral_value

        value = integral_value(coeff) if coeff.has(sp.Integral) else float(sp.N(coeff, 20))
        ref = float(fitted[k - 1])
        # Higher coefficients come from higher powers of small steps: a looser tolerance.
        tol = TAYLOR_ATOL + TAYLOR_RTOL * 10 ** ((k - 1) // 2) * abs(ref)
        out.append(Check(f"c_{k}", value, ref, tol, (
            "fit of H[f + eps*shape] - H[f] (quadrature, no series) at "
            f"eps = +-{base:.3g}..{6 * base:.3g}")))
    return out


def _entropy_change(f, shape, law, c, value) -> float | None:
    from ..numeric.taylor import entropy_change

    try:
        return float(entropy_change(f, shape, law, value, interval=c.interval))
    except (ValueError, ArithmeticError):
        return None


def _eps_range(f: sp.Expr, shape: sp.Expr, law: Law, c: Correction) -> tuple[float, float]:
    """``eps`` keeping ``f' + eps s' > 0`` wherever ``f' > 0``, on a fine grid of the bulk."""
    from ..numeric.evaluate import numeric

    lo, hi = law.quantile_range(1e-9)
    grid = np.linspace(max(lo, -40.0), min(hi, 40.0), 20001)
    turns = [float(t) for t in c.turning_points]
    with np.errstate(all="ignore"):
        fp = np.broadcast_to(np.asarray(numeric(sp.diff(f, x))(grid), dtype=float), grid.shape)
        sp_ = np.broadcast_to(np.asarray(numeric(sp.diff(shape, x))(grid), dtype=float),
                              grid.shape)
    keep = (fp > 0) & np.isfinite(sp_)
    for t in turns:
        keep &= np.abs(grid - t) > 1e-3
    ratio = -fp[keep] / sp_[keep]
    up = sp_[keep] > 0
    lower = float(np.max(ratio[up])) if up.any() else -math.inf
    upper = float(np.min(ratio[~up & (sp_[keep] < 0)])) if (sp_[keep] < 0).any() else math.inf
    return lower, upper


def _whole_line(f: sp.Expr, shape: sp.Expr, law: Law, c: Correction) -> WholeLine | None:
    """:class:`WholeLine` at ``eps = descent_sign * 0.01``; None where an entropy is undefined."""
    from ..numeric.entropy import output_law

    step = 0.01 * (c.descent_sign if c.descent_sign in (-1, 1) else -1)
    try:
        before = output_law(f, law)
        after = output_law(f + sp.Float(step, 17) * shape, law)
    except (ValueError, ArithmeticError, NotImplementedError):
        return None
    return WholeLine(step, before.atoms, after.atoms, before.unnormalised_entropy,
                     after.unnormalised_entropy, before.entropy, after.entropy)


def _atom_checks(w: WholeLine, pieces: tuple[Piece, ...], law: Law) -> list[Check]:
    """Each atom's mass against the law's CDF over the flat piece that makes it."""
    cdf = law.scipy.cdf
    out = []
    for p in pieces:
        if not p.flat:
            continue
        value = float(p.expr)
        ref = float(cdf(float(p.b)) - cdf(float(p.a)))
        mass = sum(m for v, m in w.base_atoms if abs(v - value) <= 1e-9 * max(1.0, abs(value)))
        out.append(Check(f"atom of f(X) at {value:.6g}", mass, ref, 1e-8,
                         "the law's CDF (SciPy) over the flat piece "
                         f"({sp.sstr(p.a)}, {sp.sstr(p.b)})"))
    return out
