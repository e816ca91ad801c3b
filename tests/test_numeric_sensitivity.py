"""CRReLU's entropy as a function of eps and the derived thresholds (``eafo_sym.numeric.sensitivity``)."""

import math

import numpy as np
import pytest
import sympy as sp

from eafo_sym import x
from eafo_sym.laws import normal
from eafo_sym.numeric.ranking import mc_entropy
from eafo_sym.numeric.sensitivity import (
    crrelu_entropy_curve,
    crrelu_shape,
    crrelu_thresholds,
    small_eps_constant,
)

KNN_BIAS = 0.01  # see test_beyond_branches


def _slope_min(f, lo, hi):
    t = np.linspace(lo, hi, 200001)
    return float(np.min(sp.lambdify(x, sp.diff(f, x), "numpy")(t)))


@pytest.mark.parametrize("sigma", [1, 2])
def test_thresholds_by_brute_force(sigma):
    th = crrelu_thresholds(normal(0, sigma))
    s = th.shape
    # Turning point of the negative side: -sigma (derived; checked on a grid).
    (xt,) = th.negative_turning_points
    assert float(xt) == pytest.approx(-sigma)
    lo, hi = float(th.monotone_eps.inf), float(th.monotone_eps.sup)
    for e, inside in [(lo + 1e-3, True), (lo - 1e-3, False), (hi - 1e-3, True), (hi + 1e-3, False)]:
        m = _slope_min(x + sp.Float(e) * s, 0, 12 * sigma)
        assert (m > 0) is inside, (e, m)
    # The thresholds are scale free: s(x) = x exp(-x^2/(2 sigma^2)) gives the same interval.
    assert th.monotone_eps == sp.Interval.open(-1, sp.exp(sp.Rational(3, 2)) / 2)


def test_overlap_set():
    th = crrelu_thresholds()
    assert th.overlap_eps.contains(-0.5) == sp.true and th.overlap_eps.contains(0.5) == sp.false


def test_small_eps_asymptote():
    c = small_eps_constant()
    rows = crrelu_entropy_curve([1e-6, 1e-4, -1e-6])
    assert rows[0]["entropy"] - (0.5 * math.log(1e-6) + c) == pytest.approx(0, abs=1e-6)
    assert abs(rows[1]["entropy"] - rows[1]["asymptote"]) < 1e-4
    # The sign of a tiny eps hardly matters: the halves are far apart either way.
    assert rows[2]["entropy"] == pytest.approx(rows[0]["entropy"], abs=1e-5)
    # C from its parts: log 2 + 1/2 h(s(X) | X < 0) + 1/2 h(halfnormal), h(s|X<0) by Monte Carlo.
    s = crrelu_shape()
    rng = np.random.default_rng(3)
    from eafo_sym.numeric.ranking import knn_entropy

    xs = -np.abs(rng.normal(size=200000))
    hs = knn_entropy(sp.lambdify(x, s, "numpy")(xs), k=3)
    from scipy import stats

    assert c == pytest.approx(math.log(2) + 0.5 * hs + 0.5 * stats.halfnorm.entropy(), abs=KNN_BIAS)


@pytest.mark.parametrize("e", [-2.0, -0.01, 0.01, 2.3])
def test_curve_against_monte_carlo(e):
    (row,) = crrelu_entropy_curve([e])
    f = sp.Max(0, x) + sp.nsimplify(e) * x * sp.exp(-(x**2) / 2)
    m, se = mc_entropy(f, normal(), n=20000, batches=8, seed=7)
    assert abs(m - row["entropy"]) < 4 * se + KNN_BIAS
    assert row["warnings"] == 0 and row["error"] < 1e-8


def test_curve_zero_and_bad_input():
    assert crrelu_entropy_curve([0])[0]["entropy"] == -math.inf
    with pytest.raises(TypeError):
        crrelu_entropy_curve(["a"])
    with pytest.raises(ValueError):
        crrelu_entropy_curve([math.inf])
