"""Input laws (``eafo_sym.laws``): densities, CDFs, moments and entropies against SciPy."""

import math

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from eafo_sym.laws import (
    from_name,
    laplace,
    logistic,
    mixture,
    normal,
    student_t,
    uniform,
)

CASES = [
    normal(),
    normal(0.5, 2),
    laplace(-1, 0.5),
    logistic(1, 3),
    student_t(3),
    student_t(4.5, 1, 2),
    # Large nu: the CDF keeps its hypergeometric form (expanding it is slow and grows with nu).
    student_t(30),
    student_t(100, -1, 3),
    uniform(-1, 2),
    mixture([normal(-2, 1), laplace(2, 0.5)], [0.25, 0.75]),
]


@pytest.mark.parametrize("dist", CASES, ids=str)
def test_pdf_and_cdf_match_scipy(dist):
    from eafo_sym.numeric.evaluate import numeric

    pdf, cdf = numeric(dist.pdf), numeric(dist.cdf)
    pts = np.linspace(-3.7, 3.3, 9)
    np.testing.assert_allclose([float(pdf(t)) for t in pts], dist.scipy.pdf(pts), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose([float(cdf(t)) for t in pts], dist.scipy.cdf(pts), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dist", CASES, ids=str)
def test_pdf_integrates_to_one(dist):
    from eafo_sym.numeric.evaluate import numeric

    pdf = numeric(dist.pdf)
    lo, hi = float(dist.support.inf), float(dist.support.sup)

    def density(t):
        # The naive logistic formula is inf/inf far out, where the density is 0.
        with np.errstate(all="ignore"):
            return float(np.nan_to_num(pdf(t)))

    edges = [lo, -2.0, 0.0, 2.0, hi] if lo < -2 and hi > 2 else [lo, hi]
    mass = sum(integrate.quad(density, a, b, limit=400)[0] for a, b in zip(edges, edges[1:], strict=False))
    assert mass == pytest.approx(1, abs=1e-9)


@pytest.mark.parametrize("dist", [normal(1, 3), laplace(0, 2), logistic(0, 2), uniform(-1, 3)], ids=str)
def test_symbolic_entropy_matches_scipy(dist):
    assert float(dist.entropy()) == pytest.approx(float(dist.scipy.entropy()), abs=1e-10)


def test_mixture_moments_and_sampling(rng):
    m = mixture([normal(-2, 1), normal(3, 0.5)], [0.4, 0.6])
    s = m.scipy.rvs(size=200_000, random_state=rng)
    assert s.mean() == pytest.approx(m.scipy.mean(), abs=5 * s.std() / math.sqrt(s.size))
    assert m.scipy.ppf(np.array([0.5]))[0] == pytest.approx(np.quantile(s, 0.5), abs=0.05)


def test_symbolic_parameters():
    mu = sp.Symbol("mu", real=True)
    d = normal(mu, 2)
    assert d.pdf.has(mu)
    assert not d.is_numeric
    with pytest.raises(ValueError, match="numeric parameters"):
        d.scipy  # noqa: B018


@pytest.mark.parametrize(
    "ctor, kwargs, match",
    [
        (normal, {"sigma": 0}, "sigma must be > 0"),
        (normal, {"sigma": -1.5}, "sigma must be > 0"),
        (laplace, {"b": -1}, "b must be > 0"),
        (logistic, {"s": 0}, "s must be > 0"),
        (student_t, {"nu": -2}, "nu must be > 0"),
        (uniform, {"a": 2, "b": 1}, "need a < b"),
        (normal, {"mu": float("nan")}, "finite"),
        (normal, {"mu": sp.oo}, "finite"),
    ],
)
def test_bad_parameters(ctor, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ctor(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="sigma must be a real number"):
        normal(sigma="1")
    with pytest.raises(TypeError):
        normal(mu=True)
    with pytest.raises(TypeError, match="components"):
        mixture([1, 2])
    with pytest.raises(ValueError, match="sum to 1"):
        mixture([normal(), normal(1)], [0.5, 0.6])


def test_from_name():
    assert str(from_name("student_t", nu=5)) == "student_t(nu=5, mu=0, sigma=1)"
    with pytest.raises(ValueError, match="parameters are"):
        from_name("normal", nu=3)
    with pytest.raises(ValueError, match="unknown distribution"):
        from_name("gamma")


@pytest.mark.parametrize(
    "dist", [normal(0.5, 2), student_t(3), mixture([normal(-1, 1), laplace(2, 0.5)], [0.3, 0.7])],
    ids=str,
)
def test_laws_are_hashable_and_pickle(dist):
    """The derivation cache keys on laws and stores them: both must round-trip exactly."""
    import pickle

    again = pickle.loads(pickle.dumps(dist))
    assert again == dist and hash(again) == hash(dist) and again.key == dist.key
    assert float(again.scipy.cdf(0.3)) == pytest.approx(float(dist.scipy.cdf(0.3)), abs=0)
    assert dist.location == dist.params.get("mu", None)
