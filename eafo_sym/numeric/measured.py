r"""The measured-law step: the EAFO correction from the pre-activations a network produces.

The closed forms of :func:`eafo_sym.derive_correction` assume an input law. Here the law is
estimated from samples instead (``docs/mathematics.md`` §6): the density ``p`` and its
derivative ``p'`` by a Gaussian kernel density estimate (``method="kde"``, with the
normal-reference bandwidth for a derivative, :func:`derivative_bandwidth`) or a Gaussian
mixture (``method="mixture"``, scikit-learn, components chosen by BIC), and the correction
is the x-space entropy gradient

.. math:: w \, \frac{\delta H}{\delta f} = -w \left(\frac{p}{f'}\right)'
          = -w \, \frac{p' f' - p f''}{f'^2}

on a grid, with ``f'`` the derivative of the base's branch that the derivation continues to
the whole line (ReLU's ``x``) and ``w`` the derivation's weight (1 for a monotone base). It
is what :attr:`~eafo_sym.symbolic.eafo.Correction.coefficient` times
:attr:`~eafo_sym.symbolic.eafo.Correction.shape` is for a known law
(:func:`closed_form_correction`), so the two can be laid over each other. Pointwise
uncertainty bands come from a bootstrap (resampling the samples, same bandwidth or number of
components). :func:`describe` gives the statistics :func:`eafo_sym.observe.observe` records.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> m = measured_correction(rng.standard_normal(20_000), "relu", grid=np.linspace(-3, 3, 61))
>>> ref = closed_form_correction("relu", None, m.grid)
>>> bool(np.max(np.abs(m.value - ref)) < 0.06), round(float(ref.max()), 4)  # 1/sqrt(2 pi e)
(True, 0.242)
>>> bool(m.covers(ref).mean() > 0.7)  # the band holds the variance, not the smoothing bias
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp

from ..laws import Law, normal
from ..symbolic.eafo import Correction, derive_correction
from ..symbolic.symbols import x
from .evaluate import numeric

__all__ = [
    "MeasuredCorrection",
    "closed_form_correction",
    "derivative_bandwidth",
    "describe",
    "measured_correction",
]

#: Density estimators :func:`measured_correction` knows.
METHODS = ("kde", "mixture")

#: Kernel bins per bandwidth for the binned KDE (linear binning; relative error ~1e-4).
_BINS_PER_BANDWIDTH = 10

#: Kernels are cut at this many bandwidths (the Gaussian tail beyond is below 1e-14).
_KERNEL_REACH = 8.0


@dataclass(frozen=True)
class MeasuredCorrection:
    """A correction measured from samples, with its bootstrap band.

    Attributes:
        grid: The points (ascending).
        value: ``-w (p/f')'`` at the grid from all the samples.
        lower: Lower end of the pointwise bootstrap band.
        upper: Upper end of the band.
        density: The estimated density ``p`` at the grid.
        base: The base activation's name.
        method: ``"kde"`` or ``"mixture"``.
        n: Number of samples.
        level: Coverage of the band (0.9: the 5% and 95% bootstrap quantiles).
        detail: ``{"bandwidth": h}`` (kde) or ``{"components": k}`` (mixture).
    """

    grid: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    density: np.ndarray
    base: str
    method: str
    n: int
    level: float
    detail: dict = field(default_factory=dict)

    def covers(self, values: np.ndarray) -> np.ndarray:
        """Whether each of ``values`` (at :attr:`grid`) lies inside the band."""
        values = np.asarray(values, dtype=float)
        return (values >= self.lower) & (values <= self.upper)

    @property
    def half_width(self) -> np.ndarray:
        """Half the band's width at each grid point."""
        return (self.upper - self.lower) / 2


def _samples(samples: Any) -> np.ndarray:
    try:
        a = np.asarray(samples, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(
            f"samples must be an array of real numbers, got {type(samples).__name__}"
        ) from None
    if a.size < 10:
        raise ValueError(f"samples: need at least 10 values to estimate a density, got {a.size}")
    if not np.all(np.isfinite(a)):
        raise ValueError("samples: contain nan or inf")
    if np.ptp(a) == 0:
        raise ValueError("samples: all values are equal; no density to estimate")
    return a


def _correction_of(base: str, law: Law | None) -> Correction:
    return derive_correction(base, normal() if law is None else law, taylor_order=0,
                             y_space=False)


def _branch_derivatives(base: str):
    """``(f', f'', w)`` as NumPy callables: the branch the derivation continues, its weight."""
    c = _correction_of(base, None)
    defaults = {s: sp.nsimplify(v, rational=True) for s, v in c.params.items()}
    branch = sp.sympify(c.branch).subs(defaults)
    d1 = sp.diff(branch, x)
    # A kink's Dirac delta in f'' is dropped: the grid never hits it with positive weight.
    d2 = sp.diff(d1, x).replace(lambda a: isinstance(a, sp.DiracDelta), lambda a: sp.S.Zero)
    calls = [numeric(d1), numeric(d2), numeric(sp.sympify(c.weight).subs(defaults))]

    def on(t: np.ndarray) -> list[np.ndarray]:
        return [np.broadcast_to(np.asarray(f(t), dtype=float), t.shape) for f in calls]

    return on


def _grid(a: np.ndarray, grid: Any) -> np.ndarray:
    if grid is None:
        lo, hi = np.quantile(a, [0.005, 0.995])
        return np.linspace(lo, hi, 201)
    g = np.asarray(grid, dtype=float).ravel()
    if g.size < 2 or not np.all(np.isfinite(g)) or np.any(np.diff(g) <= 0):
        raise ValueError("grid: must be at least two finite, strictly increasing points")
    return g


class _BinnedKde:
    """A Gaussian KDE of fixed bandwidth on linearly binned samples: p and p' at a grid."""

    def __init__(self, grid: np.ndarray, h: float):
        reach = _KERNEL_REACH * h
        self.step = h / _BINS_PER_BANDWIDTH
        self.lo = grid[0] - reach
        m = int(math.ceil((grid[-1] + reach - self.lo) / self.step)) + 1
        centres = self.lo + self.step * np.arange(m)
        u = (grid[:, None] - centres[None, :]) / h
        phi = np.exp(-u * u / 2) / (h * math.sqrt(2 * math.pi))
        self.kernel, self.slope = phi, -u / h * phi
        self.m = m

    def weights(self, a: np.ndarray) -> np.ndarray:
        pos = (a - self.lo) / self.step
        inside = (pos >= 0) & (pos < self.m - 1)
        pos = pos[inside]
        j = np.floor(pos).astype(np.int64)
        t = pos - j
        w = np.bincount(j, 1 - t, minlength=self.m) + np.bincount(j + 1, t, minlength=self.m)
        return w / a.size  # samples beyond the kernels' reach still count in n

    def __call__(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.weights(a)
        return self.kernel @ w, self.slope @ w


def _mixture_fit(a: np.ndarray, k: int, seed: int, start=None):
    """A k-component GaussianMixture of ``a`` (started from the fit ``start`` if given)."""
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError:
        raise ImportError(
            "measured_correction(method='mixture') needs scikit-learn; install it with "
            "pip install 'eafo-sym[experiment]' or use method='kde'"
        ) from None
    warm = {}
    if start is not None:
        # A bootstrap refit starts from the full sample's fit: no k-means, a few EM steps.
        warm = {"weights_init": start.weights_, "means_init": start.means_,
                "precisions_init": start.precisions_}
    return GaussianMixture(n_components=k, random_state=seed, **warm).fit(a.reshape(-1, 1))


def _mixture_values(gm, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = gm.weights_[None, :]
    mu = gm.means_.ravel()[None, :]
    s = np.sqrt(gm.covariances_.ravel())[None, :]
    u = (grid[:, None] - mu) / s
    phi = w * np.exp(-u * u / 2) / (s * math.sqrt(2 * math.pi))
    return phi.sum(axis=1), (-u / s * phi).sum(axis=1)


def _components(a: np.ndarray, most: int, seed: int) -> int:
    """The number of mixture components (1..most) with the lowest BIC."""
    fits = [_mixture_fit(a, k, seed) for k in range(1, most + 1)]
    return 1 + int(np.argmin([g.bic(a.reshape(-1, 1)) for g in fits]))


def derivative_bandwidth(samples: Any) -> float:
    """The normal-reference bandwidth for a density's first derivative, ``s (4/(5n))^(1/7)``.

    The correction needs ``p'``, whose kernel estimate has variance ``~ 1/(n h^3)``: the
    bandwidth that minimises its integrated squared error under a normal law of scale ``s``
    is ``s (4/(5n))^(1/7)``, wider than Scott's ``s n^(-1/5)`` for ``p`` (from
    ``R(K') = 1/(4 sqrt(pi))`` and ``R(p''') = 15/(16 sqrt(pi) s^7)``). ``s`` is the smaller
    of the standard deviation and the interquartile range / 1.349, as in Silverman's rule.

    >>> round(derivative_bandwidth(np.random.default_rng(0).standard_normal(100_000)), 2)
    0.19
    """
    a = _samples(samples)
    q1, q3 = np.quantile(a, [0.25, 0.75])
    sd = float(a.std(ddof=1))
    s = min(sd, float(q3 - q1) / 1.349) or sd
    return s * (4 / (5 * a.size)) ** (1 / 7)


def measured_correction(
    samples: Any,
    base: str = "relu",
    *,
    method: Literal["kde", "mixture"] = "kde",
    grid: Any = None,
    bootstrap: int = 200,
    level: float = 0.9,
    bandwidth: float | None = None,
    components: int | None = None,
    seed: int = 0,
) -> MeasuredCorrection:
    """The EAFO correction ``-w (p/f')'`` of ``base`` under the law the samples come from.

    Args:
        samples: Pre-activations (any shape; flattened).
        base: A base activation of :mod:`eafo_sym.catalog` (``"relu"``, ``"elu"``, ...).
        method: ``"kde"`` (Gaussian kernels, :func:`derivative_bandwidth`) or
            ``"mixture"`` (scikit-learn's GaussianMixture; the number of components by BIC).
        grid: Where to evaluate (default: 201 points between the 0.5% and 99.5% quantiles).
        bootstrap: Bootstrap resamples for the band (0: no band, ``lower = upper = value``).
        level: Pointwise coverage of the band, in (0, 1).
        bandwidth: The KDE's bandwidth (default: :func:`derivative_bandwidth`).
        components: The mixture's components (default: 1..4 by BIC).
        seed: Seed of the bootstrap and of the mixture fits.

    Raises:
        ValueError: Too few, non-finite or constant samples; a bad grid, method, level,
            bandwidth, components or bootstrap count.
        ImportError: ``method="mixture"`` without scikit-learn.
    """
    a = _samples(samples)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise ValueError(f"bootstrap must be an int >= 0, got {bootstrap!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    g = _grid(a, grid)
    fp, fpp, weight = _branch_derivatives(base)(g)
    if np.any(fp <= 0):
        raise ValueError(f"{base}: its branch is not increasing on the grid; -(p/f')' has a pole")
    rng = np.random.default_rng(seed)
    if method == "kde":
        if bandwidth is None:
            h = derivative_bandwidth(a)
        elif not (isinstance(bandwidth, (int, float)) and math.isfinite(bandwidth)
                  and bandwidth > 0):
            raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}")
        else:
            h = float(bandwidth)
        kde = _BinnedKde(g, h)
        estimate, detail = kde, {"bandwidth": h}
    else:
        if components is None:
            k = _components(a, 4, seed)
        elif isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ValueError(f"components must be a positive int, got {components!r}")
        else:
            k = components

        full = _mixture_fit(a, k, seed)

        def estimate(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _mixture_values(full if s is a else _mixture_fit(s, k, seed, full), g)

        detail = {"components": k}

    def correction(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, dp = estimate(s)
        return -weight * (dp * fp - p * fpp) / fp**2, p

    value, density = correction(a)
    if bootstrap:
        reps = np.stack([correction(a[rng.integers(0, a.size, a.size)])[0]
                         for _ in range(bootstrap)])
        lower, upper = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=0)
    else:
        lower = upper = value
    return MeasuredCorrection(g, value, lower, upper, density, base, method, a.size,
                              level, detail)


def closed_form_correction(base: str, law: Law | None, grid: Any) -> np.ndarray:
    """``coefficient * shape`` of the derived correction at ``grid`` (default parameters).

    The same quantity as :attr:`MeasuredCorrection.value`, from
    :func:`~eafo_sym.derive_correction` under a known ``law`` (None: standard normal).

    >>> closed_form_correction("relu", None, [1.0])  # exp(-1/2)/sqrt(2 pi)
    array([0.24197072])
    """
    c = _correction_of(base, law)
    defaults = {s: sp.nsimplify(v, rational=True) for s, v in c.params.items()}
    expr = (c.coefficient * c.shape).subs(defaults)
    g = np.asarray(grid, dtype=float)
    return np.broadcast_to(np.asarray(numeric(expr)(g), dtype=float), g.shape).copy()


def describe(samples: Any, *, normality_samples: int = 5000, seed: int = 0) -> dict[str, float]:
    """Statistics of a batch of pre-activations: what the Gaussian assumption is tested by.

    Returns ``n``, ``mean``, ``std`` (ddof 1), ``skewness``, ``excess_kurtosis`` (0 for a
    normal law), ``below_zero`` (the fraction ``< 0``, where ReLU is flat), and the
    Anderson-Darling statistic ``anderson`` for normality with its p-value ``anderson_p``
    (``scipy.stats.anderson``, interpolated; on at most ``normality_samples`` values drawn
    without replacement, since on a large batch the test rejects any model).

    >>> import numpy as np
    >>> d = describe(np.random.default_rng(1).standard_normal(10_000))
    >>> abs(d["skewness"]) < 0.1 and abs(d["excess_kurtosis"]) < 0.2 and d["anderson_p"] > 0.01
    True
    """
    import warnings

    from scipy import stats

    a = _samples(samples)
    sub = a
    if a.size > normality_samples:
        sub = np.random.default_rng(seed).choice(a, normality_samples, replace=False)
    with warnings.catch_warnings():
        # The p-value table ends at 0.01 and 0.25: the interpolation says so, we clip.
        warnings.simplefilter("ignore", UserWarning)
        ad = stats.anderson(sub, "norm", method="interpolate")
    return {
        "n": float(a.size),
        "mean": float(a.mean()),
        "std": float(a.std(ddof=1)),
        "skewness": float(stats.skew(a)),
        "excess_kurtosis": float(stats.kurtosis(a)),
        "below_zero": float(np.mean(a < 0)),
        "anderson": float(ad.statistic),
        "anderson_p": float(ad.pvalue),
    }
