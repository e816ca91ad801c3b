"""Output entropy against independent numbers (closed forms, SciPy, y-space quadrature)."""

import math
import warnings

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from eafo_sym import EntropyIntegrationWarning, output_entropy, output_law, x
from eafo_sym.laws import laplace, logistic, normal, student_t, uniform

LAWS = [normal(), normal(0.7, 2.5), laplace(-1, 0.5), logistic(0.3, 1.7), student_t(5, 0, 2)]


@pytest.mark.parametrize("dist", LAWS, ids=str)
@pytest.mark.parametrize("a, b", [(2, 1), (-0.5, 3)])
def test_affine_shifts_entropy_by_log_slope(dist, a, b):
    h_x = float(dist.scipy.entropy())
    assert output_entropy(a * x + b, dist) == pytest.approx(h_x + math.log(abs(a)), abs=1e-8)


# Not logistic: SymPy needs polylog for E[log(1 + exp(-X))] and gives up after minutes.
@pytest.mark.parametrize("dist", [normal(1, 3), laplace(0.5, 2), uniform(-1, 2)], ids=str)
def test_symbolic_affine_matches_scipy(dist):
    value = output_entropy(3 * x - 1, dist, method="symbolic")
    assert float(value) == pytest.approx(float(dist.scipy.entropy()) + math.log(3), abs=1e-10)


@pytest.mark.parametrize("dist", [normal(0.4, 1.3), logistic(1, 2), laplace(0, 0.7)], ids=str)
def test_cdf_activation_gives_uniform_output(dist):
    """f = F_X makes f(X) uniform on (0, 1): entropy 0, numerically and symbolically."""
    assert output_entropy(dist.cdf, dist) == pytest.approx(0, abs=1e-8)


def test_symbolic_sigmoid_logistic_is_exactly_zero():
    assert output_entropy("sigmoid", logistic(), method="symbolic") == 0


def test_non_injective_square_is_chi2():
    assert output_entropy(x**2, normal()) == pytest.approx(stats.chi2(1).entropy(), abs=1e-8)
    scale = 1.7
    assert output_entropy(x**2, normal(0, scale)) == pytest.approx(
        stats.chi2(1, scale=scale**2).entropy(), abs=1e-8
    )


def test_abs_is_half_normal_with_log2_branch_term():
    law = output_law(sp.Abs(x), normal())
    assert law.entropy == pytest.approx(stats.halfnorm().entropy(), abs=1e-8)
    assert law.branch_term == pytest.approx(math.log(2), abs=1e-8)


def test_cubic_uses_expected_log_abs_normal():
    # E ln|X| = -(gamma + ln 2)/2 for a standard normal.
    expected = stats.norm().entropy() + math.log(3) - np.euler_gamma - math.log(2)
    assert output_entropy(x**3, normal()) == pytest.approx(expected, abs=1e-8)


def test_relu_has_an_atom():
    law = output_law("relu", normal(0.5, 2))
    (value, mass), = law.atoms
    assert value == 0 and mass == pytest.approx(stats.norm(0.5, 2).cdf(0), abs=1e-14)
    assert output_entropy("relu", normal()) == -math.inf
    # Continuous part: X | X > 0, a truncated normal.
    a = (0 - 0.5) / 2
    assert law.continuous_entropy == pytest.approx(stats.truncnorm(a, 40.0, 0.5, 2).entropy(), abs=1e-8)


def test_constant_activation_is_all_atom():
    assert output_entropy(sp.Integer(3), normal()) == -math.inf


def _mp_entropy(dist, log_fprime):
    """h(X) + E[log f'(X)] with mpmath at 25 digits, from a hand-derived stable log f'."""
    import mpmath

    with mpmath.workdps(25):
        pdf = lambda t: mpmath.mpf(dist.scipy.pdf(float(t)))  # noqa: E731
        val = mpmath.quad(lambda t: pdf(t) * log_fprime(t), [-mpmath.inf, 0, mpmath.inf])
    return float(dist.scipy.entropy()) + float(val)


def _log_tanh_prime(t):
    import mpmath

    a = abs(t)  # log sech^2 = log 4 - 2|t| - 2 log(1 + exp(-2|t|)), stable for all t
    return mpmath.log(4) - 2 * a - 2 * mpmath.log1p(mpmath.exp(-2 * a))


def _log_sigmoid_prime(t):
    import mpmath

    a = abs(t)
    return -a - 2 * mpmath.log1p(mpmath.exp(-a))


@pytest.mark.parametrize("dist", [normal(), student_t(3), laplace(0, 2), student_t(2)], ids=str)
def test_tanh_and_sigmoid_against_mpmath(dist):
    """tanh' underflows in float64 far out; heavy-tailed mass there still counts."""
    assert output_entropy("tanh", dist) == pytest.approx(_mp_entropy(dist, _log_tanh_prime), abs=1e-8)
    assert output_entropy("sigmoid", dist) == pytest.approx(
        _mp_entropy(dist, _log_sigmoid_prime), abs=1e-8
    )


def test_divergent_integral_is_reported_as_minus_infinity_not_a_warning():
    """E[log tanh'(X)] for Cauchy X: log sech^2 ~ -2|x| against p ~ 1/(pi x^2) is log-divergent.

    Each decade of the tail adds -(2/pi) ln 10 (computed here by SciPy): no finite value.
    """
    from scipy import integrate as si

    def piece(k):
        return si.quad(lambda t: stats.cauchy.pdf(t) * _log_tanh_prime(t), 10.0**k, 10.0 ** (k + 1))[0]

    for k in (3, 4, 5):
        assert float(piece(k)) == pytest.approx(-2 / math.pi * math.log(10), rel=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EntropyIntegrationWarning)
        assert output_entropy("tanh", student_t(1)) == -math.inf


def test_convergent_cases_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output_entropy("gelu", normal())
        output_entropy("softplus", laplace())


def test_uniform_input():
    assert output_entropy(2 * x, uniform(-1, 2)) == pytest.approx(math.log(6), abs=1e-10)


def test_errors():
    with pytest.raises(TypeError, match="Law"):
        output_entropy("relu", "normal")
    with pytest.raises(ValueError, match="function of x alone"):
        output_entropy(x + sp.Symbol("a"), normal())
    with pytest.raises(ValueError, match="method"):
        output_entropy(x, normal(), method="exact")
    with pytest.raises(ValueError, match="injective"):
        output_entropy(x**2, normal(), method="symbolic")
    with pytest.raises(ValueError, match="unknown activation"):
        output_entropy("nope", normal())
    with pytest.raises(ValueError, match="not eafo_sym.x"):
        output_entropy(sp.Symbol("x") * 2, normal())


@pytest.mark.parametrize("dist", [laplace(), logistic()], ids=str)
def test_gelu_log_derivative_in_heavy_tails(dist):
    """E[log|GELU'(X)|] against the raw formula Phi + x*phi at adaptive mpmath precision.

    1 + erf(x/sqrt(2)) cancels to ~x**2/4.6 digits; float64 loses it by x = -8.
    """
    import mpmath
    from scipy import integrate

    def log_abs_gelu_prime(t):
        with mpmath.workdps(30 + int(t * t / 4)):
            t = mpmath.mpf(t)
            v = mpmath.ncdf(t) + t * mpmath.npdf(t)
            return float(mpmath.log(abs(v)))

    def integrand(t):
        return dist.scipy.pdf(t) * log_abs_gelu_prime(t)

    c = -0.7517915246935645  # GELU's minimum; the log singularity sits there
    ref = sum(
        integrate.quad(integrand, a, b, limit=200, epsabs=1e-12)[0]
        for a, b in [(-60, -10), (-10, c - 1), (c - 1, c), (c, 0), (0, 60)]
    )
    assert output_law("gelu", dist).jacobian_term == pytest.approx(ref, abs=1e-8)


def test_a_sum_of_twenty_hinges_is_split_without_multiplying_out():
    """sum_{i=1}^{20} max(0, x - i) under N(0, 1): an atom P(X <= 1) at 0, slope k on (k, k+1).

    The continuous part's entropy is h(X | X > 1) + E[log f'(X) | X > 1], both computed
    here with SciPy (slope 20 beyond x = 20).
    """
    from scipy import integrate as quad_

    f = sum(sp.Max(0, x - i) for i in range(1, 21))
    law = output_law(f, normal())
    ((where, mass),) = law.atoms
    assert where == 0 and mass == pytest.approx(stats.norm.cdf(1), abs=1e-12)
    tail = stats.norm.sf(1)

    def plogp(t):
        lp = stats.norm.logpdf(t) - math.log(tail)
        return math.exp(lp) * lp

    h_tail = -quad_.quad(plogp, 1, 40, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
    slopes = sum(
        (stats.norm.cdf(k + 1) - stats.norm.cdf(k)) / tail * math.log(k) for k in range(1, 20)
    ) + stats.norm.sf(20) / tail * math.log(20)
    assert float(law.continuous_entropy) == pytest.approx(h_tail + slopes, abs=1e-9)
