"""Output entropy of activations without an inverse (branch sums, atoms) against independent numbers."""

import math
import warnings

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

from eafo_sym import catalog as activations
from eafo_sym import x
from eafo_sym.laws import laplace, normal
from eafo_sym.numeric.entropy import output_entropy, output_law
from eafo_sym.numeric.evaluate import numeric
from eafo_sym.numeric.ranking import branch_density, knn_entropy, mc_entropy

# The kNN estimator is biased low by a few 1e-3 for densities with an
# inverse-square-root peak (GELU's minimum); the allowance is that bias.
KNN_BIAS = 0.01


@pytest.mark.parametrize("mu, sigma", [(0, 1), (0, 2), (1, 1)])
def test_square_matches_scipy(mu, sigma):
    """x**2 of N(mu, sigma): sigma^2 * noncentral chi2(1, (mu/sigma)^2)."""
    ref = (
        stats.ncx2(1, (mu / sigma) ** 2, scale=sigma**2).entropy()
        if mu
        else (stats.chi2(1).entropy() + math.log(sigma**2))
    )
    assert output_entropy(x**2, normal(mu, sigma)) == pytest.approx(float(ref), abs=1e-6)


@pytest.mark.parametrize("mu, sigma", [(0, 1), (0, 3), (0.5, 1)])
def test_abs_matches_folded_normal(mu, sigma):
    ref = stats.foldnorm(abs(mu) / sigma, scale=sigma).entropy()
    assert output_entropy(sp.Abs(x), normal(mu, sigma)) == pytest.approx(float(ref), abs=1e-7)


def test_abs_of_laplace_is_exponential():
    assert output_entropy(sp.Abs(x), laplace(0, 2)) == pytest.approx(
        stats.expon(scale=2).entropy(), abs=1e-8
    )


def test_branch_density_matches_chi2_and_integrates_to_one():
    q = branch_density(x**2, normal())
    ys = np.array([0.01, 0.3, 1.0, 4.0])
    assert np.allclose(q(ys), stats.chi2(1).pdf(ys), rtol=1e-9)
    mass = integrate.quad(lambda t: float(q(t)), 0, 60, points=[1e-6, 1], limit=200)[0]
    assert mass == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", ["gelu", "silu", "mish"])
def test_y_space_entropy_of_density_equals_x_space(name):
    """-integral q log q dy on the branch-sum density equals the x-space branch formula."""
    q = branch_density(name, normal())
    law = output_law(name, normal())
    # y_min is where two branches meet and q has an integrable 1/sqrt peak.
    fn = numeric(activations.resolve(name))
    xs = np.linspace(-4, 0, 40001)
    y_min = float(np.min(fn(xs)))

    def integrand(t):
        v = float(q(t))
        return -v * math.log(v) if v > 0 else 0.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = sum(
            integrate.quad(integrand, a, b, limit=400)[0]
            for a, b in [(y_min, y_min + 1e-3), (y_min + 1e-3, 0), (0, 1), (1, 9)]
        )
    assert h == pytest.approx(law.entropy, abs=2e-4)


@pytest.mark.parametrize("name", ["gelu", "silu", "mish"])
def test_non_injective_entropy_against_monte_carlo(name):
    h = output_entropy(name, normal())
    m, se = mc_entropy(name, normal(), n=20000, batches=8, seed=5)
    assert abs(m - h) < 4 * se + KNN_BIAS


def test_non_injective_branch_term_positive():
    """Merging branches loses information: branch term > 0 exactly when f is not injective."""
    assert output_law("gelu", normal()).branch_term > 0.01
    assert output_law("elu", normal()).branch_term == 0.0


@pytest.mark.parametrize("mu", [0.0, 0.7])
def test_relu_atom_and_continuous_part(mu):
    law = output_law("relu", normal(mu, 1))
    ((value, mass),) = law.atoms
    assert value == 0.0 and mass == pytest.approx(stats.norm(mu).cdf(0), abs=1e-12)
    # Continuous part: N(mu, 1) truncated to (0, oo).
    ref = stats.truncnorm(-mu, 40, loc=mu).entropy()
    assert law.continuous_entropy == pytest.approx(float(ref), abs=1e-8)
    assert output_entropy("relu", normal(mu, 1)) == -math.inf


def test_knn_entropy_rejects_bad_input_and_flags_atoms():
    with pytest.raises(ValueError, match="k must be"):
        knn_entropy([1.0, 2.0, 3.0], k=0)
    with pytest.raises(ValueError, match="more than"):
        knn_entropy([1.0], k=1)
    assert knn_entropy(np.r_[np.zeros(100), np.arange(100.0)], k=1) == -math.inf


def test_branch_sum_is_continuous_when_f_overflows_far_out():
    """Regression: a branch whose f overflows at 1e8 (Gaussian-damped exp(2x) terms) used to
    drop out of the preimage sum, making H jump by ~0.12 for any tiny perturbation of SiLU."""
    base = output_law("silu", normal())
    moved = output_law(activations.get("eafo_silu").bind(epsilon=1e-4), normal())
    assert abs(moved.branch_term - base.branch_term) < 1e-3
    assert abs(moved.entropy - base.entropy) < 1e-3


def _three_branch_entropy(e):
    """CRReLU_e, e < 0, under N(0, 1) in y-space: q sums the positive branch and, below the jump
    y* = |e| e^(-1/2), the two negative ones; -integral q log q by SciPy, split at y*."""
    from scipy import optimize

    def s(t):
        return t * math.exp(-t * t / 2)

    def ds(t):
        return (1 - t * t) * math.exp(-t * t / 2)

    ystar = abs(e) * math.exp(-0.5)

    def q(v):
        tp = optimize.brentq(lambda t: t + e * s(t) - v, 0, 2 * v + 1, xtol=1e-300, rtol=1e-15)
        total = stats.norm.pdf(tp) / abs(1 + e * ds(tp))
        if v < ystar:
            for lo, hi in ((-60, -1), (-1, 0)):
                tn = optimize.brentq(lambda t: e * s(t) - v, lo, hi, xtol=1e-300, rtol=1e-15)
                total += stats.norm.pdf(tn) / abs(e * ds(tn))
        return total

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 1/sqrt peak at y* is integrable
        pieces = [(0, ystar * 1e-6), (ystar * 1e-6, ystar / 2), (ystar / 2, ystar),
                  (ystar, 2 * ystar), (2 * ystar, 1), (1, 4), (4, 12)]
        return sum(integrate.quad(lambda v: -q(v) * math.log(q(v)), a, b, limit=500,
                                  epsabs=1e-13, epsrel=1e-13)[0] for a, b in pieces)


@pytest.mark.parametrize("e", [-0.001, -0.01, -0.05])
def test_crrelu_negative_eps_overlap_against_a_three_branch_sum(e):
    """The negative half overlaps (0, |e| e^-1/2) of the positive branch: the density jumps there.

    The package's value was off by up to 3e-3 with an error estimate of 1e-11.
    """
    f = sp.Max(0, x) + sp.nsimplify(e) * x * sp.exp(-(x**2) / 2)
    law = output_law(f, normal())
    ref = _three_branch_entropy(e)
    assert law.entropy == pytest.approx(ref, abs=2e-9)
    assert law.error < 1e-8


def test_a_pole_inside_the_support_is_a_branch_end_not_a_division_by_zero():
    """1/x and (x - 2)/|x| under N(0, 1): the pole at 0 ends two branches at +-inf.

    1/X: h(X) - 2 E[log|X|] with E[log|X|] = -(gamma + log 2)/2. (x - 2)/|x|: its two
    branches overlap on y < -1; the reference sums them in y-space with inverses solved by
    hand (x = 2/(1 - y) for x > 0, x = 2/(y + 1) for x < 0, |f'| = 2/x^2 on both).
    """
    import mpmath as mp

    gauss = 0.5 * math.log(2 * math.pi * math.e)
    inverse = float(output_entropy(1 / x, normal()))
    assert inverse == pytest.approx(gauss + float(mp.euler) + math.log(2), abs=1e-8)

    mp.mp.dps = 30
    p = lambda t: mp.exp(-t * t / 2) / mp.sqrt(2 * mp.pi)  # noqa: E731

    def density(y):
        total = mp.mpf(0)
        for xx, on in ((2 / (1 - y), y < 1), (2 / (y + 1), y < -1)):
            if on:
                total += p(xx) * xx * xx / 2
        return total

    def integrand(y):
        v = density(y)
        return -v * mp.log(v) if v > 0 else mp.mpf(0)

    reference = mp.quad(integrand, [-mp.inf, -1e4, -100, -10, -3, -1.5, -1]) + mp.quad(
        integrand, [-1, -0.5, 0, 0.5, 0.9, 0.99, 1]
    )
    mp.mp.dps = 15
    got = float(output_entropy((x - 2) / sp.Abs(x), normal()))
    assert got == pytest.approx(float(reference), abs=1e-8)
