"""The statistics of :mod:`eafo_sym.experiment.stats` against hand-checkable numbers and SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats")

from eafo_sym.experiment import stats  # noqa: E402


def test_mean_std_by_hand():
    s = stats.mean_std([0.9, 0.92, 0.94])
    assert s.mean == pytest.approx(0.92) and s.std == pytest.approx(0.02) and s.n == 3
    assert math.isnan(stats.mean_std([0.5]).std)
    with pytest.raises(ValueError):
        stats.mean_std([])


def test_paired_ci_by_hand():
    # Differences 1, 2, 3: mean 2, sd 1. Student's t with 2 dof has the closed-form cdf
    # F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so its 0.975 quantile solves t / sqrt(2 + t^2) = 0.95.
    q = 0.95
    t975 = q * math.sqrt(2 / (1 - q * q))
    assert t975 == pytest.approx(4.3027, abs=1e-4)  # the printed table value
    p = stats.paired_ci([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    half = t975 / math.sqrt(3)
    assert p.diffs == (1.0, 2.0, 3.0) and p.mean == 2.0 and p.std == 1.0
    assert p.low == pytest.approx(2 - half, abs=1e-12)
    assert p.high == pytest.approx(2 + half, abs=1e-12)
    # t = 2 / (1 / sqrt 3) = 2 sqrt 3 with 2 dof; the t(2) cdf has the closed form
    # F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so the two-sided p is 2 (1 - F(t)).
    t = 2 * math.sqrt(3)
    assert p.p_value == pytest.approx(2 * (1 - (0.5 + t / (2 * math.sqrt(2 + t * t)))))


def test_paired_ci_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.02, 7), rng.normal(0.89, 0.02, 7)
    p = stats.paired_ci(a, b, confidence=0.9)
    ref = scipy_stats.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert (p.low, p.high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert p.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_paired_ci_edge_cases():
    same = stats.paired_ci([0.9, 0.9], [0.9, 0.9])
    assert same.mean == 0 and same.low == 0 and same.high == 0 and math.isnan(same.p_value)
    with pytest.raises(ValueError, match="at least 2"):
        stats.paired_ci([1.0], [0.0])
    with pytest.raises(ValueError, match="equal length"):
        stats.paired_ci([1.0, 2.0], [0.0])


def test_paired_vs_matches_seeds_by_value():
    rows = [
        {"model": "vit", "activation": "gelu", "seed": s, "test_accuracy": v}
        for s, v in [(0, 0.90), (1, 0.91), (2, 0.92), (3, 0.5)]
    ] + [
        {"model": "vit", "activation": "crrelu", "seed": s, "test_accuracy": v}
        for s, v in [(2, 0.95), (0, 0.91), (1, 0.93)]  # seed 3 missing, order shuffled
    ]
    p = stats.paired_vs(rows)[("vit", "crrelu")]
    assert p.diffs == pytest.approx((0.01, 0.02, 0.03))
    assert ("vit", "gelu") not in stats.paired_vs(rows)
    with pytest.raises(ValueError, match="duplicate"):
        stats.summarize(rows + rows[:1])



def test_holm_matches_the_step_down_rule_by_hand():
    from eafo_sym.experiment.stats import holm

    p = [0.04, 0.001, 0.03, math.nan, 0.2]
    # Sorted: 0.001 (x4), 0.03 (x3), 0.04 (x2), 0.2 (x1); running maximum; nan left out.
    assert holm(p)[:3] == pytest.approx([0.09, 0.004, 0.09])
    assert math.isnan(holm(p)[3]) and holm(p)[4] == pytest.approx(0.2)
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1


def test_spearman_matches_scipy_and_its_bootstrap_covers_it():
    from scipy import stats

    from eafo_sym.experiment.stats import spearman_ci

    rng = np.random.default_rng(1)
    a = rng.standard_normal(60)
    b = -a + 0.8 * rng.standard_normal(60)
    c = spearman_ci(a, b)
    assert c.rho == pytest.approx(stats.spearmanr(a, b).statistic)
    assert c.low < c.rho < c.high < 0 and c.n == 60
    noise = spearman_ci(a, rng.standard_normal(60))
    assert noise.low < 0 < noise.high
    with pytest.raises(ValueError, match=">= 3 pairs"):
        spearman_ci([1, 2], [2, 1])
