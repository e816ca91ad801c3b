r"""Ranking activations by output entropy, with scale-invariant criteria.

The paper's criterion is the differential entropy ``h(Y)`` of ``Y = f(X)``:
lower is taken as better (class separability). Reviewers noted that it is not
scale invariant, ``h(aY) = h(Y) + log|a|``, so any activation can be made to
"win" by shrinking it. Two scale-invariant repairs, which are one and the same
ranking (the identity is derived in notebook 6):

* the entropy of the standardised output ``h(Y/std(Y)) = h(Y) - log std(Y)``;
* the negentropy ``J(Y) = h(N(0, Var Y)) - h(Y) = 1/2 log(2 pi e Var Y) - h(Y)
  >= 0``: how far ``Y`` is from the Gaussian of the same variance (0 iff
  ``Y`` is Gaussian). ``h(Y/std Y) = 1/2 log(2 pi e) - J(Y)``.

**Atoms (ReLU) and the ranking rule.** A flat piece puts mass ``m`` on one
value; ``h(Y) = -inf`` and ``J = +inf``, which ranks ReLU first by fiat. We keep
those honest values in the table and break the tie with the mixed-measure
(Renyi) convention: ``Y`` has information dimension ``d = 1 - m`` and
``d``-dimensional entropy ``H_d = H_b(m) + d * h_c`` (``H_b`` the binary
entropy of the atom/continuous split, ``h_c`` the entropy of the normalised
continuous part); scaling ``Y`` by ``a`` adds ``d log|a|``, so
``H_d - d log std(Y)`` is its scale-invariant form. Rows sort by ``d`` first
(any atom beats any density, as ``-inf`` says) and then by that value.

>>> from eafo_sym.laws import normal
>>> rows = rank_activations(["tanh", "relu", "elu"], criterion="entropy")
>>> [(r["name"], r["rank"], round(r["value"], 4)) for r in rows]
[('relu', 1, -inf), ('tanh', 2, 0.6698), ('elu', 3, 1.02)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import numpy as np
import sympy as sp

from ..catalog import resolve
from ..laws import Law, check_distribution, normal
from ..symbolic.pieces import check_activation, segments
from ..symbolic.symbols import x
from .entropy import _branches, output_entropy, output_law
from .evaluate import numeric
from .quadrature import expectation

__all__ = [
    "CRITERIA",
    "DEFAULT_ACTIVATIONS",
    "branch_density",
    "output_moments",
    "standardized_entropy",
    "negentropy",
    "knn_entropy",
    "mc_entropy",
    "rank_activations",
    "format_table",
]

#: The criteria :func:`rank_activations` knows.
CRITERIA = ("standardized", "negentropy", "entropy")

#: Activations ranked by default (the paper's baselines and CRReLU). SELU is
#: left out: ``h(SELU) = h(ELU_alpha) + log(lambda)`` and its
#: standardised entropy equals ELU_alpha's, so it adds no information.
DEFAULT_ACTIVATIONS = (
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "softplus",
    "tanh",
    "sigmoid",
    "crrelu",
)

_HALF_LOG_2PIE = 0.5 * math.log(2 * math.pi * math.e)
#: Relative spread below which float64 cannot tell f(X) from its mean (64 ulps).
RESOLUTION = 64 * np.finfo(float).eps


def _check(f: Any, dist: Any) -> tuple[sp.Expr, Law]:
    return check_activation(resolve(f)), check_distribution(dist)


def branch_density(f: Any, dist: Law) -> Callable[[Any], np.ndarray]:
    r"""The density ``q(y)`` of the continuous part of ``f(X)``, by the branch sum.

    .. math:: q(y) = \sum_{x_i:\ f(x_i) = y} p(x_i) / |f'(x_i)|

    over the monotone branches of ``f`` (turning points found numerically,
    preimages by Brent's method). Atoms (flat pieces) are not part of ``q``:
    see :func:`~eafo_sym.entropy.output_law`, so ``q`` integrates to the
    continuous mass.

    Args:
        f: Activation (registry name, Activation or expression in ``x``).
        dist: Law of the input, numeric parameters.

    Returns:
        A vectorised callable ``q(y)`` (NumPy array in, array out).

    >>> from eafo_sym.laws import normal
    >>> q = branch_density(x**2, normal())
    >>> from scipy import stats
    >>> bool(np.allclose(q([0.5, 2.0]), stats.chi2(1).pdf([0.5, 2.0]), rtol=1e-10))
    True
    """
    f, dist = _check(f, dist)
    branches = []
    for seg in segments(f, dist.support.inf, dist.support.sup, dist.pdf):
        if not seg.is_flat:
            with np.errstate(all="ignore"):
                branches.extend(_branches(seg, float(seg.a), float(seg.b)))
    logpdf = dist.scipy.logpdf

    def one(yv: float) -> float:
        total = 0.0
        with np.errstate(all="ignore"):
            for br in branches:
                s = br.preimage(float(yv))
                if s is not None:
                    total += math.exp(float(logpdf(s)) - br.log_fp(s))
        return total

    vec = np.vectorize(one, otypes=[float])

    def q(yv: Any) -> np.ndarray:
        return vec(np.asarray(yv, dtype=float))

    return q


def output_moments(f: Any, dist: Law, *, tail: float = 1e-14) -> tuple[float, float]:
    """Mean and variance of ``f(X)`` by quadrature over ``x`` (atoms included).

    Integrates over the quantile range holding all but ``2*tail`` of the
    mass, split at the breakpoints of ``f``; a heavy tail with infinite
    variance (Student-t with ``nu <= 2``) returns ``inf``. The moments are
    taken of ``f - f(median)``; where the spread is below what float64
    resolves around that value (``RESOLUTION * |f(median)|``, tanh under
    ``N(100, 1)``) the variance is NaN, not a rounding residue.

    >>> from eafo_sym.laws import normal
    >>> m, v = output_moments("relu", normal())
    >>> abs(m - 1 / math.sqrt(2 * math.pi)) < 1e-10, abs(v - (0.5 - 1 / (2 * math.pi))) < 1e-10
    (True, True)
    """
    f, dist = _check(f, dist)
    sc = dist.scipy
    if dist.name in ("student_t",) and float(dist.params["nu"]) <= 2 and _grows(f):
        return float(sc.mean()) if float(dist.params["nu"]) > 1 else math.nan, math.inf
    lo, hi = dist.quantile_range(tail)
    pieces = [(numeric(s.expr), float(s.a), float(s.b)) for s in segments(f, lo, hi, dist.pdf)]
    # Moments of f - c with c = f(median): E[f^2] - E[f]^2 cancels to rounding when the
    # spread is small next to the mean (f = x under N(100, 1e-6)), E[(f - c)^2] does not.
    with np.errstate(all="ignore"):
        c = float(numeric(f)(float(dist.scipy.median())))
        c = c if math.isfinite(c) else 0.0
        d1 = d2 = 0.0
        for fn, a, b in pieces:
            d1 += expectation(lambda t, fn=fn: float(fn(t)) - c, dist, a, b,
                              what="E[f(X)]").value
            d2 += expectation(lambda t, fn=fn: (float(fn(t)) - c) ** 2, dist, a, b,
                              what="E[f(X)^2]").value
    var = max(d2 - d1 * d1, 0.0)
    if var <= (RESOLUTION * c) ** 2 and c != 0.0:
        # tanh under N(100, 1): f - c is 0 in float64 wherever the mass is (std ~ 1e-87).
        return c + d1, math.nan
    return c + d1, var


def _grows(f: sp.Expr) -> bool:
    """Whether ``|f|`` is unbounded (then heavy tails can make moments infinite)."""
    try:
        lim = [sp.limit(f, x, s) for s in (sp.oo, -sp.oo)]
        return any(v.is_infinite or v.has(sp.AccumBounds) for v in lim)
    except (TypeError, ValueError, NotImplementedError):
        # SymPy's limit fails on some piecewise forms (CELU: "comparison of non-real zoo");
        # then |f| is probed far out, where a bounded activation has settled.
        fn = numeric(f)
        with np.errstate(all="ignore"):
            far = [abs(float(fn(s * t))) for s in (1.0, -1.0) for t in (1e6, 1e12)]
        return any(not math.isfinite(v) for v in far) or max(far[1], far[3]) > 1e3 * (
            1.0 + max(far[0], far[2]))


def standardized_entropy(f: Any, dist: Law) -> float:
    """``h(Y / std Y) = h(Y) - log std(Y)``: the scale-invariant entropy (``-inf`` with an atom).

    >>> from eafo_sym.laws import normal
    >>> round(standardized_entropy(3 * x, normal()) - 0.5 * math.log(2 * math.pi * math.e), 9)
    0.0
    """
    h = float(output_entropy(f, dist))
    _, var = output_moments(f, dist)
    return h - 0.5 * math.log(var) if math.isfinite(var) and var > 0 else math.nan


def negentropy(f: Any, dist: Law) -> float:
    """``J(Y) = 1/2 log(2 pi e Var Y) - h(Y) >= 0`` (``+inf`` with an atom).

    >>> from eafo_sym.laws import normal
    >>> round(negentropy("tanh", normal()), 6)
    0.283806
    """
    s = standardized_entropy(f, dist)
    return _HALF_LOG_2PIE - s if not math.isnan(s) else math.nan


def knn_entropy(samples: Any, k: int = 1) -> float:
    r"""Kozachenko-Leonenko ``k``-nearest-neighbour estimate of ``h`` from 1-D samples.

    .. math:: \hat h = \psi(n) - \psi(k) + \log 2 + \frac1n \sum_i \log r_{i,k}

    with ``r_{i,k}`` the distance to the ``k``-th nearest other sample. An
    independent check of the quadrature (no density, no branches). Repeated
    values (atoms) give ``-inf``.

    >>> rng = np.random.default_rng(0)
    >>> round(knn_entropy(rng.normal(size=20000), k=3), 1)  # log(sqrt(2 pi e)) = 1.419
    1.4
    """
    from scipy.special import digamma

    s = np.sort(np.asarray(samples, dtype=float).ravel())
    n = s.size
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if n <= k:
        raise ValueError(f"need more than k={k} samples, got {n}")
    # In 1-D the k nearest neighbours of s[i] lie in s[i-k : i+k+1]; the k-th
    # distance is the k-th smallest of the 2k candidate gaps.
    pad = np.concatenate([np.full(k, -np.inf), s, np.full(k, np.inf)])
    cand = np.stack(
        [np.abs(pad[k + j : k + j + n] - s) for j in range(-k, k + 1) if j != 0], axis=1
    )
    r = np.partition(cand, k - 1, axis=1)[:, k - 1]
    with np.errstate(divide="ignore"):
        return float(digamma(n) - digamma(k) + math.log(2) + np.mean(np.log(r)))


def mc_entropy(
    f: Any, dist: Law, *, n: int = 20000, batches: int = 10, k: int = 3, seed: int = 0
) -> tuple[float, float]:
    """Monte Carlo entropy of ``f(X)``: mean and standard error over independent batches.

    Draws ``batches`` samples of size ``n`` with a fixed seed and applies
    :func:`knn_entropy` to each; the standard error is the batch standard
    deviation over ``sqrt(batches)``.

    >>> from eafo_sym.laws import normal
    >>> m, se = mc_entropy(2 * x, normal(), n=5000, batches=4)
    >>> abs(m - (0.5 * math.log(2 * math.pi * math.e) + math.log(2))) < 5 * se + 0.01
    True
    """
    f, dist = _check(f, dist)
    fn = numeric(f)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(batches):
        xs = dist.scipy.rvs(size=n, random_state=rng)
        with np.errstate(all="ignore"):
            ys = np.asarray(fn(xs), dtype=float) * np.ones_like(xs)
        vals.append(knn_entropy(ys, k))
    v = np.asarray(vals)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(batches)) if batches > 1 else math.nan


def _binary_entropy(m: float) -> float:
    return -sum(p * math.log(p) for p in (m, 1 - m) if 0 < p < 1)


#: Rows already computed, by (registry name and expression, law): the criteria share them.
_ROWS: dict[tuple[str, str], dict] = {}


def _one_row(name: Any, label: str, dist: Law) -> dict:
    """One table row; registry names are memoised per law (expressions are not)."""
    # Keyed by the bound expression too, so re-registering a name cannot serve a stale row.
    key = (f"{name}:{resolve(name)}", repr(dist)) if isinstance(name, str) else None
    if key is not None and key in _ROWS:
        return {**_ROWS[key], "dist": label}
    row = _compute_row(name, label, dist)
    if key is not None:
        _ROWS[key] = row
    return dict(row)


def _compute_row(name: Any, label: str, dist: Law) -> dict:
    try:
        law = output_law(name, dist)
    except ValueError as exc:
        # Kept in the table rather than dropped: an integral diverged (e.g. a
        # Cauchy-like tail), and the note says which.
        nan = math.nan
        return {
            "name": name if isinstance(name, str) else str(name),
            "dist": label,
            **dict.fromkeys(
                (
                    "entropy",
                    "std",
                    "atom_mass",
                    "dimension",
                    "continuous_entropy",
                    "mixed_entropy",
                    "standardized",
                    "mixed_standardized",
                    "negentropy",
                ),
                nan,
            ),
            "note": " ".join(str(exc).split()),
        }
    atom = sum(mass for _, mass in law.atoms)
    d = law.continuous_mass
    _, var = output_moments(name, dist)
    std = math.sqrt(var) if var > 0 else (math.nan if math.isnan(var) else 0.0)
    h = law.entropy
    log_std = math.log(std) if 0 < std < math.inf else math.nan
    # d-dimensional (Renyi) entropy of the mixed law and its scale-free form.
    h_d = _binary_entropy(atom) + (d * law.continuous_entropy if d > 0 else 0.0)
    return {
        "name": name if isinstance(name, str) else str(name),
        "dist": label,
        "entropy": h,
        "std": std,
        "atom_mass": atom,
        "dimension": d,
        "continuous_entropy": law.continuous_entropy,
        "mixed_entropy": h_d,
        "standardized": math.nan if math.isnan(log_std) else (h if math.isinf(h) else h - log_std),
        "mixed_standardized": h_d - d * log_std,
        "negentropy": math.nan
        if math.isnan(log_std)
        else (_HALF_LOG_2PIE - (h - log_std) if math.isfinite(h) else math.inf),
        "note": "the output's spread is below float64 resolution around its mean, so its "
        "standard deviation is unknown" if math.isnan(var) else "",
    }


def rank_activations(
    names: Iterable[Any] | None = None,
    dists: Mapping[str, Law] | Law | None = None,
    criterion: Literal["standardized", "negentropy", "entropy"] = "standardized",
) -> list[dict]:
    """Rank activations by an output-entropy criterion, best (lowest entropy) first.

    Args:
        names: Registry names or expressions (default :data:`DEFAULT_ACTIVATIONS`).
        dists: One input law, or ``{label: law}`` (default ``{"normal": normal()}``).
        criterion: ``"standardized"`` (``h(Y) - log std Y``, ascending),
            ``"negentropy"`` (``J(Y)``, descending; the same order) or
            ``"entropy"`` (the paper's ``h(Y)``, ascending; not scale invariant).

    Returns:
        One dict per (law, activation), sorted by law then rank, with keys
        ``dist, rank, name, value`` (the criterion), ``entropy, std,
        atom_mass, dimension, continuous_entropy, mixed_entropy,
        standardized, mixed_standardized, negentropy`` and ``key`` (what the
        sort used; see the module docstring for atoms) and ``note`` (why a
        row is NaN). ``value`` is NaN where the variance is infinite (heavy
        tails) or the quadrature failed (``note`` says which); those rows rank
        last.

    Raises:
        ValueError: Unknown criterion or activation.
        TypeError: ``dists`` is not a Law or a mapping of them.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    names = list(DEFAULT_ACTIVATIONS if names is None else names)
    if dists is None:
        dists = {"normal": normal()}
    elif isinstance(dists, Law):
        dists = {str(dists): dists}
    if not isinstance(dists, Mapping) or not all(
        isinstance(v, Law) for v in dists.values()
    ):
        raise TypeError("dists must be a Law or a mapping {label: Law}")
    for n in names:
        resolve(n)  # unknown names fail here, not inside the per-row error capture
    out = []
    for label, dist in dists.items():
        rows = [_one_row(n, label, dist) for n in names]
        for r in rows:
            if criterion == "entropy":
                r["value"], sub = r["entropy"], r["mixed_entropy"]
            elif criterion == "standardized":
                r["value"], sub = r["standardized"], r["mixed_standardized"]
            else:
                r["value"] = r["negentropy"]
                # -J_d with J_d = d/2 log(2 pi e) - (H_d - d log std): same order as standardized.
                sub = r["mixed_standardized"] - r["dimension"] * _HALF_LOG_2PIE
            bad = math.isnan(sub)
            r["key"] = (bad, 1.0 if bad else r["dimension"], math.inf if bad else sub)
        rows.sort(key=lambda r: r["key"])
        for i, r in enumerate(rows, 1):
            r["rank"] = i
        out.extend(rows)
    return out


def format_table(rows: list[dict], digits: int = 4) -> str:
    """A plain-text table of :func:`rank_activations` rows.

    >>> print(format_table([{"dist": "normal", "rank": 1, "name": "relu", "value": -math.inf,
    ...     "entropy": -math.inf, "std": 0.58, "atom_mass": 0.5, "mixed_standardized": 1.2}]))
    dist    rank  activation  value  entropy     std  atom  mixed_std
    normal     1  relu         -inf     -inf  0.5800  0.50     1.2000
    """

    def num(v: float) -> str:
        return f"{v:.{digits}f}" if math.isfinite(v) else ("nan" if math.isnan(v) else f"{v:g}")

    head = ["dist", "rank", "activation", "value", "entropy", "std", "atom", "mixed_std"]
    body = [
        [
            str(r["dist"]),
            str(r["rank"]),
            str(r["name"]),
            num(r["value"]),
            num(r["entropy"]),
            num(r["std"]),
            num(r["atom_mass"]) if math.isnan(r["atom_mass"]) else f"{r['atom_mass']:.2f}",
            num(r["mixed_standardized"]),
        ]
        for r in rows
    ]
    widths = [max(len(c) for c in col) for col in zip(head, *body, strict=True)]
    left = {0, 2}

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(head), *(fmt(b) for b in body)])
