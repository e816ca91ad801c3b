"""Summary statistics for result rows: mean +- std and paired t-intervals (no torch).

>>> rows = [
...     {"model": "mlp", "activation": a, "seed": s, "test_accuracy": v}
...     for a, vals in {"gelu": [0.90, 0.92, 0.94], "crrelu": [0.91, 0.94, 0.97]}.items()
...     for s, v in enumerate(vals)
... ]
>>> g = summarize(rows)[("mlp", "gelu")]
>>> round(g.mean, 4), round(g.std, 4), g.n
(0.92, 0.02, 3)
>>> d = paired_vs(rows, baseline="gelu")[("mlp", "crrelu")]
>>> round(d.mean, 4), round(d.std, 4), d.n
(0.02, 0.01, 3)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Correlation", "Paired", "Summary", "holm", "mean_std", "paired_ci", "paired_vs",
    "spearman_ci", "summarize",
]


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (``ddof=1``) of ``n`` values."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Paired:
    """A paired comparison ``a - b`` over matched seeds.

    Attributes:
        diffs: The per-seed differences ``a_i - b_i``, in seed order.
        mean: Their mean.
        std: Their sample standard deviation (``ddof=1``).
        n: Number of pairs.
        low: Lower end of the two-sided t confidence interval of the mean difference.
        high: Upper end of that interval.
        p_value: Two-sided p-value of the paired t-test (``nan`` when undefined).
        confidence: Confidence level of ``[low, high]``.
    """

    diffs: tuple[float, ...]
    mean: float
    std: float
    n: int
    low: float
    high: float
    p_value: float
    confidence: float


def mean_std(values: Sequence[float]) -> Summary:
    """Mean and sample standard deviation (``nan`` std for a single value).

    >>> mean_std([1.0, 2.0, 3.0])
    Summary(mean=2.0, std=1.0, n=3)
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("mean_std() needs at least one value")
    std = float(v.std(ddof=1)) if v.size > 1 else math.nan
    return Summary(float(v.mean()), std, int(v.size))


def paired_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Paired:
    """Paired t confidence interval for ``mean(a - b)`` (Student t with ``n - 1`` dof).

    Args:
        a: Values of the candidate, one per seed.
        b: Values of the baseline for the same seeds, in the same order.
        confidence: Two-sided confidence level.

    Returns:
        The differences, their mean and std, the interval and the paired t-test p-value.

    >>> p = paired_ci([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])  # diffs 1, 2, 3
    >>> p.mean, p.std, p.n
    (2.0, 1.0, 3)
    >>> round(p.low, 4), round(p.high, 4)  # 2 -+ t_{0.975,2} / sqrt(3) = 2 -+ 4.3027 / 1.7321
    (-0.4841, 4.4841)
    """
    from scipy import stats

    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_.shape != b_.shape or a_.ndim != 1:
        raise ValueError(
            f"paired_ci() needs two 1-d sequences of equal length, got {a_.shape}, {b_.shape}"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = a_ - b_
    n = d.size
    if n < 2:
        raise ValueError(f"paired_ci() needs at least 2 pairs, got {n}")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    # With identical differences the t statistic is 0/0 (no evidence) or infinite.
    p = float(stats.ttest_rel(a_, b_).pvalue) if sd > 0 else (math.nan if mean == 0 else 0.0)
    return Paired(tuple(float(v) for v in d), mean, sd, n, mean - half, mean + half, p, confidence)


def _by_cell(
    rows: Iterable[Mapping[str, Any]], metric: str
) -> dict[tuple[str, str], dict[int, float]]:
    cells: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for r in rows:
        key = (r["model"], r["activation"])
        if r["seed"] in cells[key]:
            raise ValueError(f"duplicate row for {key} seed {r['seed']}")
        cells[key][int(r["seed"])] = float(r[metric])
    return dict(cells)


def summarize(
    rows: Iterable[Mapping[str, Any]], metric: str = "test_accuracy"
) -> dict[tuple[str, str], Summary]:
    """``(model, activation) -> Summary`` of ``metric`` over seeds, in first-seen order."""
    return {k: mean_std(list(v.values())) for k, v in _by_cell(rows, metric).items()}


def paired_vs(
    rows: Iterable[Mapping[str, Any]],
    baseline: str = "gelu",
    metric: str = "test_accuracy",
    confidence: float = 0.95,
) -> dict[tuple[str, str], Paired]:
    """``(model, activation) -> Paired`` of ``metric(activation) - metric(baseline)``.

    Seeds are matched by value (a seed missing on either side is dropped);
    the baseline itself and cells with fewer than two matched seeds are left out.
    """
    cells = _by_cell(rows, metric)
    out: dict[tuple[str, str], Paired] = {}
    for (model, act), vals in cells.items():
        base = cells.get((model, baseline))
        if act == baseline or base is None:
            continue
        seeds = sorted(set(vals) & set(base))
        if len(seeds) < 2:
            continue
        out[(model, act)] = paired_ci(
            [vals[s] for s in seeds], [base[s] for s in seeds], confidence
        )
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order.

    ``nan`` p-values are left as ``nan`` and do not count towards the family size.

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    ok = np.flatnonzero(~np.isnan(p))
    out = np.full(p.shape, math.nan)
    m = ok.size
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [float(v) for v in out]


@dataclass(frozen=True)
class Correlation:
    """Spearman's rank correlation with a percentile bootstrap interval.

    Attributes:
        rho: Spearman's rho of the pairs.
        low: Lower end of the bootstrap interval.
        high: Upper end of the bootstrap interval.
        n: Number of pairs.
        p_value: SciPy's two-sided p-value for rho.
        confidence: Level of ``[low, high]``.
    """

    rho: float
    low: float
    high: float
    n: int
    p_value: float
    confidence: float


def spearman_ci(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Correlation:
    """Spearman's rho of ``(a_i, b_i)`` with a percentile bootstrap CI (pairs resampled).

    >>> c = spearman_ci([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    >>> round(c.rho, 4), c.n, c.low <= c.rho <= c.high
    (0.8286, 6, True)
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise ValueError(f"spearman_ci() needs two 1-d sequences of >= 3 pairs, got {x.shape}")
    res = stats.spearmanr(x, y)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    rx = np.apply_along_axis(stats.rankdata, 1, x[idx])
    ry = np.apply_along_axis(stats.rankdata, 1, y[idx])
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    den = np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
    boot = np.where(den > 0, (rx * ry).sum(1) / np.where(den > 0, den, 1), np.nan)
    boot = boot[~np.isnan(boot)]
    lo, hi = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Correlation(float(res.statistic), float(lo), float(hi), int(x.size),
                       float(res.pvalue), confidence)  # fmt: skip
