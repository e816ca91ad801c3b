"""Entropies for any location and scale: shifted, tiny and huge laws against closed forms.

Each reference is computed here, from SciPy's entropy of the law, an mpmath
quadrature of a hand-derived integrand, or a closed form derived in the test.
"""

import math
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from eafo_sym import output_entropy, x
from eafo_sym.laws import laplace, logistic, normal, student_t
from eafo_sym.numeric.quadrature import IntegrationWarning, expectation
from eafo_sym.numeric.ranking import rank_activations

FAMILIES = {"normal": normal, "logistic": logistic, "laplace": laplace}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("mu", [50, 100, -73.5])
def test_identity_at_a_far_location_is_the_law_entropy(family, mu):
    """h(X) does not depend on the location: the old split at 0 returned 0 at mu = 100."""
    law = FAMILIES[family](mu, 1.5)
    ref = float(law.scipy.entropy())  # SciPy's closed form
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        assert output_entropy(x, law) == pytest.approx(ref, abs=1e-9)
        assert output_entropy(3 * x - 7, law) == pytest.approx(ref + math.log(3), abs=1e-9)


def _mp_tanh_entropy(mu: float, sigma: float) -> float:
    """h(X) + E[log sech^2 X] for X ~ N(mu, sigma^2), mpmath at 30 digits.

    log sech^2 t = log 4 - 2|t| - 2 log(1 + exp(-2|t|)), stable for every t.
    """
    with mpmath.workdps(30):
        mu, sigma = mpmath.mpf(mu), mpmath.mpf(sigma)

        def integrand(u):  # in u = (t - mu)/sigma
            t = mu + sigma * u
            a = abs(t)
            return mpmath.npdf(u) * (mpmath.log(4) - 2 * a - 2 * mpmath.log1p(mpmath.exp(-2 * a)))

        kink = -mu / sigma  # |t| has its kink at t = 0
        e_log = mpmath.quad(integrand, sorted({-mpmath.inf, -8, 0, 8, mpmath.inf, kink}))
        h_x = mpmath.log(sigma * mpmath.sqrt(2 * mpmath.pi * mpmath.e))
        return float(h_x + e_log)


@pytest.mark.parametrize("mu, sigma", [(0, 1e-4), (0, 1e-6), (100, 1), (-50, 2), (0.3, 1e8)])
def test_tanh_for_tiny_huge_and_shifted_laws(mu, sigma):
    """tanh with sigma = 1e-4 used to give 0 (true about -7.8)."""
    ref = _mp_tanh_entropy(mu, sigma)
    assert output_entropy("tanh", normal(mu, sigma)) == pytest.approx(ref, abs=1e-8, rel=1e-10)


@pytest.mark.parametrize("sigma", [1e-6, 1.0, 1e8, 1e12])
def test_cube_against_its_closed_form(sigma):
    """h(X^3) = h(X) + log 3 + 2 E log|X|, E log|X| = log sigma - (gamma + log 2)/2 (derived here).

    E log|U| for U standard normal: d/ds E|U|^s at s = 0, E|U|^s = 2^(s/2) Gamma((s+1)/2)/sqrt(pi).
    """
    s = sp.Symbol("s")
    moment = 2 ** (s / 2) * sp.gamma((s + 1) / 2) / sp.sqrt(sp.pi)
    e_log_u = float(sp.diff(moment, s).subs(s, 0).evalf(30))
    ref = float(stats.norm(0, sigma).entropy()) + math.log(3) + 2 * (math.log(sigma) + e_log_u)
    assert output_entropy(x**3, normal(0, sigma)) == pytest.approx(ref, abs=1e-8, rel=1e-11)


def test_expectation_resolves_a_narrow_law_far_out():
    law = normal(100, 1e-6)
    assert expectation(lambda t: 1.0, law).value == pytest.approx(1.0, abs=1e-12)
    assert expectation(lambda t: (t - 100) ** 2, law).value == pytest.approx(1e-12, rel=1e-9)
    assert expectation(lambda t: t, laplace(-50, 1e-6)).value == pytest.approx(-50, abs=1e-9)


@settings(max_examples=12, deadline=None)
@given(
    family=st.sampled_from(sorted(FAMILIES)),
    mu=st.floats(-1e3, 1e3),
    log10_scale=st.floats(-6, 8),
    a=st.floats(0.01, 100),
    negative=st.booleans(),
    c=st.floats(-1e3, 1e3),
)
def test_affine_identities_for_any_location_and_scale(family, mu, log10_scale, a, negative, c):
    """h(aX + c) = h(X) + log|a| for X = mu + s U, and h(X) = h(U) + log s."""
    s = 10.0**log10_scale
    a = -a if negative else a
    law, std = FAMILIES[family](mu, s), FAMILIES[family](0, 1)
    h_u = float(std.scipy.entropy())
    assert output_entropy(x, law) == pytest.approx(h_u + math.log(s), abs=1e-8, rel=1e-10)
    got = output_entropy(sp.nsimplify(a) * x + sp.nsimplify(c), law)
    assert got == pytest.approx(h_u + math.log(s) + math.log(abs(a)), abs=1e-8, rel=1e-10)


@pytest.mark.parametrize(
    "law", [normal(3, 2), logistic(100, 3), laplace(-5, 0.5), student_t(1), student_t(3, 50, 2),
            student_t(sp.Rational(5, 2), 0, 4)],
    ids=str,
)
def test_symbolic_affine_is_exact_for_every_law(law):
    """method='symbolic' on a x + b: h(X) + log|a| with h(X) derived in closed form."""
    value = output_entropy(-2 * x + 5, law, method="symbolic")
    assert not value.has(sp.Integral)
    assert float(value) == pytest.approx(float(law.scipy.entropy()) + math.log(2), abs=1e-12)


def test_symbolic_mixture_refuses_at_once():
    from eafo_sym.laws import mixture

    with pytest.raises(NotImplementedError, match="mixture"):
        output_entropy(2 * x, mixture([normal(-1, 1), normal(1, 1)]), method="symbolic")


def test_ranking_at_a_far_location():
    """rank --param mu=100 ranked every activation at entropy 0."""
    law = normal(100, 1)
    rows = {r["name"]: r for r in rank_activations(["tanh", "elu", "softplus"], law, "entropy")}
    h_x = float(stats.norm.entropy())
    # ELU and softplus are x (up to e^-100) at x ~ 100.
    assert rows["elu"]["entropy"] == pytest.approx(h_x, abs=1e-9)
    assert rows["softplus"]["entropy"] == pytest.approx(h_x, abs=1e-9)
    assert rows["tanh"]["entropy"] == pytest.approx(_mp_tanh_entropy(100, 1), abs=1e-8)
    assert rows["tanh"]["rank"] == 1
    # tanh(X) ~ 1 - 2 exp(-2X): its spread (~1e-87) is far below float64's resolution at 1,
    # so the standardised value is NaN with a note, not a rounding residue.
    std = rank_activations(["tanh", "elu"], law)
    by_name = {r["name"]: r for r in std}
    assert math.isnan(by_name["tanh"]["value"]) and "resolution" in by_name["tanh"]["note"]
    assert by_name["elu"]["value"] == pytest.approx(h_x, abs=1e-9)  # std 1: h - log 1


def test_cli_entropy_at_mu_100(capsys):
    from eafo_sym.cli import main

    assert main(["entropy", "--activation", "x", "--param", "mu=100"]) == 0
    out = capsys.readouterr().out
    value = float(out.split("h(f(X)) = ")[1].split()[0])
    assert value == pytest.approx(float(stats.norm.entropy()), abs=1e-9)


def test_numbers_far_out_are_finite_not_silent_zeros():
    """Guard for the old failure mode itself: a shifted law never integrates to an empty density."""
    for mu in (30, 50, 100, 1e4):
        v = expectation(lambda t: 1.0, normal(mu, 1)).value
        assert np.isclose(v, 1.0, atol=1e-12)
