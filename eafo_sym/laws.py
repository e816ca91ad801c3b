"""Input laws for the pre-activation ``X``.

Each constructor returns a :class:`Law` holding the SymPy density and CDF in
:data:`eafo_sym.x` (taken from :mod:`sympy.stats`, not retyped), the support,
the names of its location and scale parameters, and, built on first use, the
matching frozen :mod:`scipy.stats` object for numerics. Laws are immutable and
hashable, so derivations keyed by a law can be cached.

Parameters may be numbers (ints, floats, SymPy numbers) or SymPy symbols;
floats are turned into exact rationals (``0.1 -> 1/10``) so that derivations
stay exact. A symbol must carry its assumptions (a location ``real``, a scale
``positive``; :func:`parametric` builds such a law), so that a correction
derived under it is a closed form in the parameters. The SciPy object exists
only when every parameter is numeric: :meth:`Law.bind` gives the symbols values.

>>> d = normal(0, 2)
>>> d.pdf
sqrt(2)*exp(-x**2/8)/(4*sqrt(pi))
>>> round(float(d.scipy.std()), 12)
2.0
>>> normal(sigma=-1)
Traceback (most recent call last):
...
ValueError: normal: sigma must be > 0, got -1
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp
from sympy import stats as sps

from .cache import memoize
from .symbolic.symbols import x

__all__ = [
    "BREAK_PROBABILITIES",
    "Frame",
    "Law",
    "Params",
    "Distribution",
    "normal",
    "laplace",
    "logistic",
    "student_t",
    "uniform",
    "mixture",
    "from_name",
    "parametric",
    "MU",
    "SIGMA",
    "PARAMETER_SYMBOLS",
    "standard_entropy",
    "check_law",
    "check_distribution",
    "LAWS",
    "DISTRIBUTIONS",
]


def _as_param(dist: str, name: str, value: Any) -> sp.Expr:
    """Convert a user parameter to SymPy, rejecting what cannot be one."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, sp.Expr)):
        raise TypeError(
            f"{dist}: {name} must be a real number or a SymPy expression, "
            f"got {type(value).__name__} {value!r}"
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{dist}: {name} must be finite, got {value}")
        return sp.Rational(repr(value))
    expr = sp.sympify(value)
    if expr.is_number and (expr.is_real is False or not expr.is_finite):
        raise ValueError(f"{dist}: {name} must be a finite real number, got {value}")
    if not expr.is_number and expr.is_real is not True:
        # Without the assumption SymPy cannot simplify sqrt((x - mu)**2) or decide signs.
        raise ValueError(
            f"{dist}: {name} = {value} must be known to be real; declare its symbols "
            f"real, e.g. sympy.Symbol({str(value)!r}, real=True)"
        )
    return expr


def _positive(dist: str, name: str, value: Any) -> sp.Expr:
    expr = _as_param(dist, name, value)
    if expr.is_number and not expr > 0:
        raise ValueError(f"{dist}: {name} must be > 0, got {value}")
    if not expr.is_number and expr.is_positive is not True:
        raise ValueError(
            f"{dist}: {name} = {value} must be known to be > 0; declare its symbols "
            f"positive, e.g. sympy.Symbol({str(value)!r}, positive=True)"
        )
    return expr


class _MixtureFrozen:
    """A SciPy-like frozen mixture: the methods eafo_sym's numerics call."""

    def __init__(self, components: Sequence[Any], weights: Sequence[float]):
        self.components = list(components)
        self.weights = np.asarray(weights, dtype=float)

    def pdf(self, t):
        return sum(w * c.pdf(t) for w, c in zip(self.weights, self.components, strict=True))

    def logpdf(self, t):
        logs = [np.log(w) + c.logpdf(t) for w, c in zip(self.weights, self.components, strict=True)]
        return np.logaddexp.reduce(np.stack(np.broadcast_arrays(*logs)), axis=0)

    def cdf(self, t):
        return sum(w * c.cdf(t) for w, c in zip(self.weights, self.components, strict=True))

    def sf(self, t):
        return sum(w * c.sf(t) for w, c in zip(self.weights, self.components, strict=True))

    def mean(self):
        return float(sum(w * c.mean() for w, c in zip(self.weights, self.components, strict=True)))

    def var(self):
        m = self.mean()
        second = sum(
            w * (c.var() + c.mean() ** 2)
            for w, c in zip(self.weights, self.components, strict=True)
        )
        return float(second - m**2)

    def std(self):
        return math.sqrt(self.var())

    def support(self):
        lows, highs = zip(*(c.support() for c in self.components), strict=True)
        return min(lows), max(highs)

    def ppf(self, q):
        from scipy.optimize import brentq

        def one(qq):
            lo = min(c.ppf(qq) for c in self.components)
            hi = max(c.ppf(qq) for c in self.components)
            if lo == hi:
                return lo
            return brentq(lambda t: self.cdf(t) - qq, lo, hi, xtol=1e-14)

        return np.vectorize(one, otypes=[float])(q)

    def rvs(self, size=1, random_state=None):
        rng = np.random.default_rng(random_state)
        which = rng.choice(len(self.components), size=size, p=self.weights)
        out = np.empty(size, dtype=float)
        for i, c in enumerate(self.components):
            mask = which == i
            out[mask] = c.rvs(size=int(mask.sum()), random_state=rng)
        return out

#: Tail probabilities whose quantiles (at both tails, and the median) split a law's support
#: for quadrature, so that no piece holds a narrow peak of the density.
BREAK_PROBABILITIES = (1e-6, 0.02, 0.5)


@dataclass(frozen=True)
class Frame:
    """A numeric law seen in its standardised variable ``U = (X - center) / scale``.

    Quadrature runs in ``u``: there the bulk of the mass has width about 1
    whatever the law's location and scale, so the nodes of a rule cannot
    step over it (a density of width ``1e-6`` centred at ``100`` is as easy as
    the standard one). For a location-scale family the density of ``U`` is the
    standard member's, evaluated without the rounding of ``(t - mu)/sigma``.

    Attributes:
        center: ``c`` in ``X = c + s U``.
        scale: ``s > 0``.
        logpdf: Log-density of ``U`` (a float function of a float).
        cdf: CDF of ``U``.
        lo, hi: The support of ``U``.
        points: Breakpoints in ``u``: the location and the mode, and the
            quantiles at :data:`BREAK_PROBABILITIES` in both tails (of every
            component, for a mixture).

    >>> fr = normal(100, 1e-6).frame
    >>> fr.center, fr.scale, round(fr.logpdf(0.0), 12), fr.to_t(2.0)
    (100.0, 1e-06, -0.918938533205, 100.000002)
    """

    center: float
    scale: float
    logpdf: Any = field(repr=False)
    cdf: Any = field(repr=False)
    lo: float
    hi: float
    points: tuple[float, ...]

    def to_u(self, t: float) -> float:
        """``(t - center) / scale`` (infinite ends stay infinite)."""
        t = float(t)
        return t if math.isinf(t) else (t - self.center) / self.scale

    def to_t(self, u: float) -> float:
        """``center + scale * u``."""
        u = float(u)
        return u if math.isinf(u) else self.center + self.scale * u


class Params(Mapping):
    """The parameters of a law: an immutable, hashable, ordered mapping name -> SymPy value.

    >>> p = Params({"mu": sp.S(0), "sigma": sp.S(2)})
    >>> p["sigma"], list(p), hash(p) == hash(Params(dict(p)))
    (2, ['mu', 'sigma'], True)
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, sp.Expr] | Sequence[tuple[str, sp.Expr]] = ()):
        pairs = items.items() if isinstance(items, Mapping) else items
        object.__setattr__(self, "_items", tuple((str(k), sp.sympify(v)) for k, v in pairs))

    def __getitem__(self, key: str) -> sp.Expr:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Params):
            return self._items == other._items
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Params is immutable")

    def __reduce__(self) -> tuple:
        return (Params, (self._items,))

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in self._items) + "}"


@dataclass(frozen=True)
class Law:
    """A law of the pre-activation ``X``.

    Attributes:
        name: Family name (``"normal"``, ...).
        params: The parameters, in the order of the constructor (a hashable mapping).
        pdf: Density as a SymPy expression in :data:`eafo_sym.x`.
        cdf: Cumulative distribution function in :data:`eafo_sym.x`.
        support: The closure of the set where ``pdf > 0``.
        location_param: Name of the location parameter (``"mu"``), or None.
        scale_param: Name of the scale parameter (``"sigma"``, ``"b"``, ``"s"``), or None.
        components: The component laws of a mixture, else empty.
        scipy_factory: Builds the frozen SciPy law (numeric parameters only).
    """

    name: str
    params: Params
    pdf: sp.Expr
    cdf: sp.Expr
    support: sp.Interval
    location_param: str | None = None
    scale_param: str | None = None
    components: tuple = ()
    scipy_factory: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.params, Params):
            object.__setattr__(self, "params", Params(self.params))

    def __getstate__(self) -> dict:
        # The frozen SciPy object is rebuilt on demand, not pickled.
        return {
            k: v for k, v in self.__dict__.items() if k not in ("scipy", "log_pdf", "frame")
        }

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})"

    @property
    def key(self) -> str:
        """A stable text that identifies the law (family, exact parameters, components).

        >>> normal(0, 2).key
        'normal(mu=Integer(0), sigma=Integer(2))'
        """
        args = ", ".join(f"{k}={sp.srepr(v)}" for k, v in self.params.items())
        parts = f"[{'; '.join(c.key for c in self.components)}]" if self.components else ""
        return f"{self.name}({args}){parts}"

    @property
    def location(self) -> sp.Expr | None:
        """The location parameter's value (``mu``), or None for a law without one."""
        return self.params[self.location_param] if self.location_param else None

    @property
    def scale(self) -> sp.Expr | None:
        """The scale parameter's value (``sigma``, ``b``, ``s``), or None."""
        return self.params[self.scale_param] if self.scale_param else None

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """The SymPy symbols in the law's parameters, sorted by name (empty when numeric).

        >>> normal(MU, SIGMA).symbols
        (mu, sigma)
        """
        found: set[sp.Symbol] = set()
        for v in self.params.values():
            found |= sp.sympify(v).free_symbols
        return tuple(sorted(found, key=str))

    def bind(self, **values: Any) -> Law:
        """The same family with symbols given values, by symbol name (numbers stay exact).

        Every numeric check of a parametric law goes through this: the law is
        rebuilt by its constructor, so its density is the family's, not a
        substitution into a simplified form.

        >>> str(normal(MU, SIGMA).bind(mu=0.7, sigma=2.5))
        'normal(mu=7/10, sigma=5/2)'
        >>> normal(MU, SIGMA).bind(tau=1)
        Traceback (most recent call last):
        ...
        ValueError: normal(mu=mu, sigma=sigma): no parameter symbol(s) tau; it has mu, sigma
        """
        by_name = {str(s): s for s in self.symbols}
        unknown = sorted(set(values) - set(by_name))
        if unknown:
            raise ValueError(
                f"{self}: no parameter symbol(s) {', '.join(unknown)}; "
                f"it has {', '.join(by_name) or 'none'}"
            )
        subs = {by_name[k]: _as_param(self.name, k, v) for k, v in values.items()}
        if self.components:
            n = len(self.components)
            weights = [sp.sympify(self.params[f"w{i}"]).subs(subs) for i in range(n)]
            return mixture([c.bind(**{k: v for k, v in values.items()
                                      if k in {str(s) for s in c.symbols}})
                            for c in self.components], weights)
        return LAWS[self.name](**{k: sp.sympify(v).subs(subs) for k, v in self.params.items()})

    @property
    def is_numeric(self) -> bool:
        """Whether every parameter is a number (so SciPy numerics are available)."""
        return all(sp.sympify(v).is_number for v in self.params.values())

    @cached_property
    def scipy(self) -> Any:
        """The frozen :mod:`scipy.stats` distribution with the same parameters.

        Raises:
            ValueError: If a parameter is symbolic.
        """
        if not self.is_numeric:
            raise ValueError(f"{self}: numeric evaluation needs numeric parameters")
        if self.scipy_factory is None:
            raise ValueError(f"{self}: no numeric counterpart")
        return self.scipy_factory({k: float(v) for k, v in self.params.items()})

    @cached_property
    def log_pdf(self) -> sp.Expr:
        """``log(pdf)`` expanded (``-x**2/2 - log(sqrt(2*pi))`` rather than ``log(exp(..))``)."""
        return sp.expand_log(sp.log(self.pdf), force=True)

    def entropy(self) -> sp.Expr:
        """Differential entropy ``h(X) = -E[log p(X)]`` derived by SymPy, exact (cached).

        A location-scale family uses ``h(c + s U) = h(U) + log s`` (the change
        of variables, ``docs/mathematics.md`` §2) with ``h(U)`` of its standard
        member derived once by :func:`standard_entropy`.

        >>> sp.simplify(normal(0, 3).entropy() - sp.log(3 * sp.sqrt(2 * sp.pi * sp.E)))
        0
        >>> logistic(5, 2).entropy(), student_t(3, 1, 2).entropy()
        (log(2) + 2, -2 + log(16*sqrt(3)*pi))

        Raises:
            NotImplementedError: A mixture (the log of a sum has no closed form
                in general).
        """
        if self.components:
            raise NotImplementedError(
                f"{self}: a mixture's entropy -E[log sum_i w_i p_i(X)] has no closed form; "
                "use numeric quadrature (eafo_sym.output_entropy(x, law))"
            )
        std = self.standard()
        if std is None:
            return standard_entropy(self)
        return sp.simplify(standard_entropy(std) + sp.log(self.scale))

    def standard(self) -> Law | None:
        """The member with location 0 and scale 1 of a location-scale family, else None.

        >>> str(student_t(3, 2, 5).standard())
        'student_t(nu=3, mu=0, sigma=1)'
        """
        if not (self.location_param and self.scale_param) or self.name not in LAWS:
            return None
        if self.location == 0 and self.scale == 1:
            return self
        return LAWS[self.name](
            **{**self.params, self.location_param: 0, self.scale_param: 1}
        )

    def quantile_range(self, tail: float = 1e-12) -> tuple[float, float]:
        """The numeric interval holding all but ``2*tail`` of the mass."""
        s = self.scipy
        return float(s.ppf(tail)), float(s.ppf(1 - tail))

    @cached_property
    def frame(self) -> Frame:
        """The law in its standardised variable, for quadrature (numeric parameters only).

        A location-scale family is standardised by its own location and scale
        (the uniform law by its ends); a mixture by its median and
        half-interquartile range, with every component's breakpoints.

        Raises:
            ValueError: If a parameter is symbolic.
        """
        sc = self.scipy
        if self.components:
            return self._mixture_frame(sc)
        if self.location_param and self.scale_param:
            center, scale = float(self.location), float(self.scale)
            standard = self.scipy_factory(
                {
                    **{k: float(v) for k, v in self.params.items()},
                    self.location_param: 0.0,
                    self.scale_param: 1.0,
                }
            )
            probabilities = BREAK_PROBABILITIES
            extra = (0.0,)  # location = mode of every symmetric family here
        else:  # the uniform law: standardised by its ends onto (0, 1)
            lo, hi = (float(v) for v in sc.support())
            center, scale = lo, hi - lo
            standard = self.scipy_factory({"a": 0.0, "b": 1.0})
            probabilities, extra = (0.5,), ()
        lo_u, hi_u = (float(v) for v in standard.support())
        # isf for the upper tail: ppf(1 - 1e-10) has lost six digits to the rounding of 1 - p.
        quantiles = tuple(
            float(v) for q in probabilities for v in (standard.ppf(q), standard.isf(q))
        )
        return Frame(
            center,
            scale,
            _fast_logpdf(standard, lo_u, hi_u),
            lambda u: float(standard.cdf(u)),
            lo_u,
            hi_u,
            tuple(sorted({*quantiles, *extra})),
        )

    def _mixture_frame(self, sc: Any) -> Frame:
        q1, med, q3 = (float(v) for v in sc.ppf([0.25, 0.5, 0.75]))
        center, scale = med, max((q3 - q1) / 2, 1e-300)
        log_scale = math.log(scale)
        points = {0.0}
        for comp in self.components:
            cf = comp.frame
            points.update((cf.to_t(p) - center) / scale for p in cf.points)
        lo, hi = (float(v) for v in sc.support())
        return Frame(
            center,
            scale,
            lambda u: float(sc.logpdf(center + scale * u)) + log_scale,
            lambda u: float(sc.cdf(center + scale * u)),
            (lo - center) / scale if math.isfinite(lo) else lo,
            (hi - center) / scale if math.isfinite(hi) else hi,
            tuple(sorted(points)),
        )


#: The former name of :class:`Law`.
Distribution = Law

#: Seconds SymPy may spend on each route to an entropy before the next one is tried.
ENTROPY_TIME_LIMIT = 5.0


@memoize(disk=True)
def standard_entropy(law: Law) -> sp.Expr:
    r"""``h(X) = -integral p log p`` by the first of three derivations that SymPy completes.

    1. **Quantile**: where SymPy inverts the CDF in elementary functions,
       ``h(X) = integral_0^1 log Q'(w) dw`` (``X = Q(W)`` with ``W`` uniform;
       the logistic law: ``Q = log(w/(1 - w))``, ``h = 2``).
    2. **Normaliser**: ``h(X) = -d/ds integral p^s dx`` at ``s = 1``; SymPy
       has ``integral p^s`` as Gamma functions for the Student-t law.
    3. **Directly** ``-integral p log p``.

    Each of the first two gets :data:`ENTROPY_TIME_LIMIT` seconds.

    >>> standard_entropy(logistic())
    2
    >>> standard_entropy(student_t(1))
    log(4*pi)
    """
    from .budget import TimeUp, time_limit

    lo, hi = law.support.inf, law.support.sup
    for route in (_entropy_by_quantile, _entropy_by_normaliser):
        try:
            with time_limit(ENTROPY_TIME_LIMIT):
                h = route(law)
        except (TimeUp, NotImplementedError, ValueError, TypeError):
            continue
        if h is not None and not h.has(sp.Integral, sp.nan, sp.zoo, sp.Limit):
            return h
    return sp.simplify(-sp.integrate(law.pdf * law.log_pdf, (x, lo, hi)))


def _entropy_by_quantile(law: Law) -> sp.Expr | None:
    w = sp.Dummy("w", positive=True)
    sols = sp.solve(sp.Eq(law.cdf, w), x)
    if len(sols) != 1 or sols[0].has(sp.Piecewise, sp.erfinv, sp.LambertW, sp.I):
        return None
    dq = sp.diff(sols[0], w)
    h = sp.integrate(sp.expand_log(sp.log(dq), force=True), (w, 0, 1))
    return sp.simplify(h)


def _entropy_by_normaliser(law: Law) -> sp.Expr | None:
    s = sp.Dummy("s", positive=True)
    lo, hi = law.support.inf, law.support.sup
    z = sp.integrate(sp.powsimp(law.pdf**s, force=True), (x, lo, hi), conds="none")
    if z.has(sp.Integral):
        return None
    h = sp.simplify(sp.expand_func(-sp.diff(z, s).subs(s, 1)))
    return sp.simplify(sp.gammasimp(h)) if h.has(sp.gamma, sp.beta) else h


def _fast_logpdf(standard: Any, lo: float, hi: float) -> Any:
    """The log-density of a standard SciPy law as a float function of a float.

    Quadrature calls it tens of thousands of times per entropy; the frozen
    ``logpdf`` spends 20 microseconds per call checking arguments, the
    distribution's own ``_logpdf`` (the method SciPy's subclasses implement)
    a tenth of that. The support is checked here instead.
    """
    dist, shapes = standard.dist, tuple(standard.args[: standard.dist.numargs])
    own = getattr(dist, "_logpdf", None)
    if own is None or standard.kwds:  # pragma: no cover - every law here has one
        return lambda u: float(standard.logpdf(u))
    f64 = np.float64

    def logpdf(u: float) -> float:
        if not lo <= u <= hi:
            return -math.inf
        with np.errstate(all="ignore"):
            return float(own(f64(u), *shapes))

    return logpdf


def check_law(law: Any, what: str = "law") -> Law:
    """Return ``law`` if it is a :class:`Law`, else raise TypeError naming what it got.

    >>> check_law(normal()).name
    'normal'
    >>> check_law("normal")
    Traceback (most recent call last):
    ...
    TypeError: law must be an eafo_sym.laws.Law (e.g. normal()), got str
    """
    if not isinstance(law, Law):
        raise TypeError(
            f"{what} must be an eafo_sym.laws.Law (e.g. normal()), got {type(law).__name__}"
        )
    return law


def check_distribution(dist: Any) -> Law:
    """:func:`check_law` with the argument called ``dist`` in the message.

    >>> check_distribution("normal")
    Traceback (most recent call last):
    ...
    TypeError: dist must be an eafo_sym.laws.Law (e.g. normal()), got str
    """
    return check_law(dist, "dist")


def _from_sympy_stats(
    name: str,
    params: dict[str, sp.Expr],
    rv: Any,
    scipy_factory: Any,
    *,
    loc: sp.Expr = sp.S.Zero,
    scale: sp.Expr = sp.S.One,
    location_param: str | None = None,
    scale_param: str | None = None,
) -> Law:
    """Build a :class:`Law` from a ``sympy.stats`` variable.

    ``loc``/``scale`` shift a standard law that sympy.stats only has in one
    parametrisation (Student-t) by the change of variables ``(x - loc)/scale``.
    """
    pdf = sps.density(rv)(x)
    cdf = sps.cdf(rv)(x)
    # sympy.stats writes the Student-t normaliser with catalan(1/2); gamma form simplifies.
    if pdf.has(sp.catalan):
        pdf = sp.simplify(sp.gammasimp(pdf.rewrite(sp.gamma)))
    # hyperexpand leaves exp_polar(I*pi) (= -1) in hyper arguments; plain exp evaluates it.
    cdf = sp.hyperexpand(cdf).replace(sp.exp_polar, sp.exp)
    if not cdf.subs(x, 0).is_finite:
        # Student-t with odd nu: hyperexpand writes x*atan(x)/x terms, nan at x = 0 although
        # the CDF is 1/2 there; simplify cancels the removable singularity.
        cdf = sp.simplify(cdf).replace(sp.exp_polar, sp.exp)
    if loc != 0 or scale != 1:
        pdf = pdf.subs(x, (x - loc) / scale) / scale
        cdf = cdf.subs(x, (x - loc) / scale)
    support = rv.pspace.set
    if loc != 0 or scale != 1:
        support = sp.Interval(support.inf * scale + loc, support.sup * scale + loc)
    return Law(
        name, Params(params), pdf, cdf, support, location_param, scale_param, (), scipy_factory
    )


# SciPy counterparts, module-level so that laws pickle (the disk cache stores them).
def _scipy_norm(p: Mapping[str, float]) -> Any:
    from scipy import stats

    return stats.norm(p["mu"], p["sigma"])


def _scipy_laplace(p: Mapping[str, float]) -> Any:
    from scipy import stats

    return stats.laplace(p["mu"], p["b"])


def _scipy_logistic(p: Mapping[str, float]) -> Any:
    from scipy import stats

    return stats.logistic(p["mu"], p["s"])


def _scipy_t(p: Mapping[str, float]) -> Any:
    from scipy import stats

    return stats.t(p["nu"], p["mu"], p["sigma"])


def _scipy_uniform(p: Mapping[str, float]) -> Any:
    from scipy import stats

    return stats.uniform(p["a"], p["b"] - p["a"])


def _scipy_mixture(components: Sequence[Law], weights: Sequence[float], _p: Any) -> Any:
    return _MixtureFrozen([c.scipy for c in components], weights)


def _location_scale(
    name: str, rv: Any, scipy_factory: Any, mu: Any, scale_name: str, scale: Any
) -> Law:
    """A location-scale family of ``sympy.stats`` with parameters ``mu`` and ``scale_name``."""
    mu, scale = _as_param(name, "mu", mu), _positive(name, scale_name, scale)
    return _from_sympy_stats(
        name,
        {"mu": mu, scale_name: scale},
        rv("X", mu, scale),
        scipy_factory,
        location_param="mu",
        scale_param=scale_name,
    )


def normal(mu: Any = 0, sigma: Any = 1) -> Law:
    """Gaussian ``N(mu, sigma**2)``, the paper's default (central limit theorem).

    >>> normal().cdf
    erf(sqrt(2)*x/2)/2 + 1/2
    """
    return _location_scale("normal", sps.Normal, _scipy_norm, mu, "sigma", sigma)


def laplace(mu: Any = 0, b: Any = 1) -> Law:
    """Laplace law with location ``mu`` and scale ``b``.

    >>> laplace().pdf
    exp(-Abs(x))/2
    """
    return _location_scale("laplace", sps.Laplace, _scipy_laplace, mu, "b", b)


def logistic(mu: Any = 0, s: Any = 1) -> Law:
    """Logistic law with location ``mu`` and scale ``s`` (its CDF is the sigmoid).

    >>> logistic().cdf
    1/(1 + exp(-x))
    """
    return _location_scale("logistic", sps.Logistic, _scipy_logistic, mu, "s", s)


def student_t(nu: Any, mu: Any = 0, sigma: Any = 1) -> Law:
    """Student-t law with ``nu`` degrees of freedom, location ``mu``, scale ``sigma``.

    >>> student_t(3).pdf
    6*sqrt(3)/(pi*(x**2 + 3)**2)
    >>> student_t(0)
    Traceback (most recent call last):
    ...
    ValueError: student_t: nu must be > 0, got 0
    """
    nu = _positive("student_t", "nu", nu)
    mu, sigma = _as_param("student_t", "mu", mu), _positive("student_t", "sigma", sigma)
    return _from_sympy_stats(
        "student_t",
        {"nu": nu, "mu": mu, "sigma": sigma},
        sps.StudentT("X", nu),
        _scipy_t,
        loc=mu,
        scale=sigma,
        location_param="mu",
        scale_param="sigma",
    )


def uniform(a: Any = 0, b: Any = 1) -> Law:
    """Uniform law on ``[a, b]``.

    >>> uniform(-1, 1).support
    Interval(-1, 1)
    >>> uniform(1, 1)
    Traceback (most recent call last):
    ...
    ValueError: uniform: need a < b, got a=1, b=1
    """
    a, b = _as_param("uniform", "a", a), _as_param("uniform", "b", b)
    if (b - a).is_number and not (b - a) > 0:
        raise ValueError(f"uniform: need a < b, got a={a}, b={b}")
    return _from_sympy_stats(
        "uniform",
        {"a": a, "b": b},
        sps.Uniform("X", a, b),
        _scipy_uniform,
    )


def mixture(components: Sequence[Law], weights: Sequence[Any] | None = None) -> Law:
    """A finite mixture ``sum_i w_i p_i`` (default: equal weights).

    >>> m = mixture([normal(-2, 1), normal(2, 1)])
    >>> round(float(m.scipy.std()), 6)
    2.236068
    >>> mixture([normal()], [2])
    Traceback (most recent call last):
    ...
    ValueError: mixture: weights must be positive and sum to 1, got [2]
    """
    components = list(components)
    if not components or not all(isinstance(c, Law) for c in components):
        raise TypeError("mixture: components must be a non-empty list of Law")
    if weights is None:
        weights = [sp.Rational(1, len(components))] * len(components)
    if len(weights) != len(components):
        raise ValueError(
            f"mixture: {len(components)} components but {len(weights)} weights"
        )
    w = [_as_param("mixture", "weight", v) for v in weights]
    if any(v.is_number and not v > 0 for v in w) or sp.simplify(sum(w) - 1) != 0:
        raise ValueError(f"mixture: weights must be positive and sum to 1, got {list(weights)}")
    pdf = sp.Add(*(wi * c.pdf for wi, c in zip(w, components, strict=True)))
    cdf = sp.Add(*(wi * c.cdf for wi, c in zip(w, components, strict=True)))
    support = sp.Interval(
        sp.Min(*(c.support.inf for c in components)), sp.Max(*(c.support.sup for c in components))
    )
    params = {f"w{i}": wi for i, wi in enumerate(w)}
    for i, c in enumerate(components):
        params.update({f"{k}{i}": v for k, v in c.params.items()})

    numeric = all(v.is_number for v in w)
    factory = (
        functools.partial(_scipy_mixture, tuple(components), tuple(float(v) for v in w))
        if numeric else None
    )
    return Law("mixture", Params(params), pdf, cdf, support, None, None, tuple(components), factory)


#: The symbols :func:`parametric` gives each parameter (locations real, scales positive).
MU = sp.Symbol("mu", real=True)
SIGMA = sp.Symbol("sigma", positive=True)
PARAMETER_SYMBOLS = {
    "mu": MU,
    "sigma": SIGMA,
    "b": sp.Symbol("b", positive=True),
    "s": sp.Symbol("s", positive=True),
    "nu": sp.Symbol("nu", positive=True),
}


def parametric(name: str, **fixed: Any) -> Law:
    """The family ``name`` with every parameter not in ``fixed`` a SymPy symbol.

    The symbols are :data:`PARAMETER_SYMBOLS` (``mu`` real, scales and ``nu``
    positive), so a correction derived under the law is a closed form in them.

    >>> parametric("normal").pdf
    sqrt(2)*exp(-(-mu + x)**2/(2*sigma**2))/(2*sqrt(pi)*sigma)
    >>> str(parametric("student_t", nu=5))
    'student_t(nu=5, mu=mu, sigma=sigma)'
    >>> parametric("uniform")
    Traceback (most recent call last):
    ...
    ValueError: parametric laws: choose one of laplace, logistic, normal, student_t; got 'uniform'
    """
    import inspect

    families = ("laplace", "logistic", "normal", "student_t")
    if name not in families:
        raise ValueError(f"parametric laws: choose one of {', '.join(families)}; got {name!r}")
    names = list(inspect.signature(LAWS[name]).parameters)
    unknown = sorted(set(fixed) - set(names))
    if unknown:
        raise ValueError(f"{name}: parameters are {', '.join(names)}; got {', '.join(unknown)}")
    return LAWS[name](**{k: fixed.get(k, PARAMETER_SYMBOLS[k]) for k in names})


#: Constructors by name, for the CLI.
LAWS = {
    "normal": normal,
    "laplace": laplace,
    "logistic": logistic,
    "student_t": student_t,
    "uniform": uniform,
}
#: The former name of :data:`LAWS`.
DISTRIBUTIONS = LAWS


def from_name(name: str, **params: Any) -> Law:
    """Build a distribution from its family name and keyword parameters.

    >>> str(from_name("laplace", b=2))
    'laplace(mu=0, b=2)'
    >>> from_name("cauchy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown distribution 'cauchy'; choose one of: laplace, logistic, normal, ...
    """
    try:
        ctor = LAWS[name]
    except KeyError:
        raise ValueError(
            f"unknown distribution {name!r}; choose one of: {', '.join(sorted(LAWS))}"
        ) from None
    try:
        return ctor(**params)
    except TypeError as exc:
        if "unexpected keyword" in str(exc) or "missing" in str(exc):
            import inspect

            allowed = ", ".join(inspect.signature(ctor).parameters)
            raise ValueError(f"{name}: parameters are {allowed}; got {sorted(params)}") from None
        raise
