"""Heavy tails: divergent expectations are reported as +-inf or an error, never a finite number.

The divergence itself is shown independently: mpmath integrates the same
integrand over successive decades of the tail, and the pieces do not shrink.
"""

import math
import warnings

import mpmath
import pytest
import sympy as sp

from eafo_sym import output_entropy, output_law, x
from eafo_sym.laws import student_t
from eafo_sym.numeric.quadrature import IntegralDivergesError, IntegrationWarning, expectation


def _cauchy_pdf(t):
    return 1 / (mpmath.pi * (1 + t * t))


def _decades(log_abs_fprime, ks=(2, 3, 4)):
    """integral of p log|f'| over (-10^(k+1), -10^k) for a Cauchy law, mpmath at 30 digits."""
    with mpmath.workdps(30):
        return [
            float(mpmath.quad(lambda t: _cauchy_pdf(t) * log_abs_fprime(t), [-(10 ** (k + 1)), -(10**k)]))
            for k in ks
        ]


def _log_crrelu_prime(t):
    # f = e t exp(-t^2/2) for t < 0, e = 0.01: |f'| = e (t^2 - 1) exp(-t^2/2), for t < -1.
    return mpmath.log(mpmath.mpf("0.01")) + mpmath.log(t * t - 1) - t * t / 2


def _log_gelu_prime(t):
    # GELU' = Phi(t) + t phi(t) = phi(t) (t + sqrt(pi/2) erfcx(-t/sqrt 2)): no cancellation.
    z = -t / mpmath.sqrt(2)
    mills = mpmath.sqrt(mpmath.pi / 2) * mpmath.erfc(z) * mpmath.exp(z * z)
    return -t * t / 2 - mpmath.log(mpmath.sqrt(2 * mpmath.pi)) + mpmath.log(abs(t + mills))


def _log_tanh_prime(t):
    a = abs(t)
    return mpmath.log(4) - 2 * a - 2 * mpmath.log1p(mpmath.exp(-2 * a))


@pytest.mark.parametrize(
    "name, log_fp",
    [("crrelu", _log_crrelu_prime), ("gelu", _log_gelu_prime), ("tanh", _log_tanh_prime)],
)
def test_cauchy_input_gives_minus_infinity(name, log_fp):
    """E[log|f'(X)|] over x < -1 diverges to -inf: crrelu used to report 0.3908, gelu 1.86."""
    pieces = _decades(log_fp)
    # Every decade adds at least as much as the one before: no finite limit.
    assert all(p < 0 for p in pieces)
    assert all(abs(b) >= 0.99 * abs(a) for a, b in zip(pieces, pieces[1:], strict=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        assert output_entropy(name, student_t(1)) == -math.inf
    assert output_law(name, student_t(1)).jacobian_term == -math.inf


@pytest.mark.parametrize("nu, mu", [("3", "0.5"), ("0.5", "3")])
def test_folded_student_t_against_mpmath(nu, mu):
    """|x| under t(nu, mu, 1): the folded density q(y) = p(y) + p(-y), -integral q log q by mpmath.

    nu = 1/2 puts mass beyond 1e8, where the other branch's preimage must still be found.
    """
    law = student_t(float(nu), float(mu), 1)
    with mpmath.workdps(30):
        nu, mu = mpmath.mpf(nu), mpmath.mpf(mu)
        c = mpmath.gamma((nu + 1) / 2) / (mpmath.sqrt(nu * mpmath.pi) * mpmath.gamma(nu / 2))

        def p(t):
            return c * (1 + (t - mu) ** 2 / nu) ** (-(nu + 1) / 2)

        def q(v):
            return p(v) + p(-v)

        cuts = [0, mu, 1, 3, 10, 100, 10**4, 10**8, mpmath.inf]
        ref = float(-mpmath.quad(lambda v: q(v) * mpmath.log(q(v)), sorted(set(cuts))))
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        assert output_entropy(sp.Abs(x), law) == pytest.approx(ref, abs=1e-10)


def test_quadrature_reports_divergence_instead_of_a_number():
    cauchy, t2, t3 = student_t(1), student_t(2), student_t(3)
    # E|X| under Cauchy: both tails go like 1/|x|.
    assert expectation(abs, cauchy, divergent="infinite").value == math.inf
    with pytest.raises(IntegralDivergesError, match="diverges to inf"):
        expectation(abs, cauchy)
    # E[X]: +inf on one side, -inf on the other: undefined.
    with pytest.raises(IntegralDivergesError, match="undefined"):
        expectation(lambda t: t, cauchy, divergent="infinite")
    # Var of t(2) is infinite, of t(3) it is nu/(nu - 2) = 3.
    assert expectation(lambda t: t * t, t2, divergent="infinite").value == math.inf
    assert expectation(lambda t: t * t, t3).value == pytest.approx(3.0, rel=1e-9)
    # A tail that does vanish is no divergence: E[log(1 + X^2)] for Cauchy is 2 log 2.
    assert expectation(lambda t: math.log1p(t * t), cauchy).value == pytest.approx(
        2 * math.log(2), abs=1e-9
    )
