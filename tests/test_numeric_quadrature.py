"""The one quadrature routine (``eafo_sym.numeric.quadrature``): values, policy, divergence."""

import math
import warnings

import pytest
from scipy import stats

from eafo_sym.laws import laplace, logistic, normal, student_t
from eafo_sym.numeric.quadrature import (
    IntegralDivergesError,
    IntegrationWarning,
    expectation,
    integrate,
)


@pytest.mark.parametrize(
    "fun, a, b, exact",
    [
        (math.exp, -math.inf, 0.0, 1.0),
        (lambda t: 1 / (1 + t * t), -math.inf, math.inf, math.pi),
        (lambda t: -math.log(t), 0.0, 1.0, 1.0),  # an end singularity
        (lambda t: math.sqrt(abs(t)), -1.0, 4.0, 2 / 3 + 16 / 3),  # a kink, given as a point
    ],
)
def test_values_within_the_promised_tolerance(fun, a, b, exact):
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        v, e = integrate(fun, a, b, points=[0.0])
    assert abs(v - exact) < 1e-8 and e < 1e-8


def test_an_inaccurate_integral_warns_with_its_numbers():
    with pytest.warns(IntegrationWarning, match=r"my integral: .* error estimate .* SciPy"):
        integrate(lambda t: math.sin(1 / t) / t, 1e-9, 1.0, what="my integral")


def test_divergence_is_an_error_not_a_number():
    with pytest.raises(IntegralDivergesError, match="diverges"):
        integrate(lambda t: math.inf if t < 1 else 0.0, 0.0, 2.0)
    assert issubclass(IntegralDivergesError, ValueError)


@pytest.mark.parametrize("law", [normal(0.3, 2), laplace(-1, 0.5), logistic(2, 0.7), student_t(5, 1, 2)],
                         ids=str)
def test_expectation_against_scipy_moments(law):
    sc = law.scipy
    assert expectation(lambda t: 1.0, law).value == pytest.approx(1.0, abs=1e-9)
    assert expectation(lambda t: t, law).value == pytest.approx(float(sc.mean()), abs=1e-8)
    assert expectation(lambda t: t * t, law).value == pytest.approx(
        float(sc.var() + sc.mean() ** 2), rel=1e-8
    )


def test_expectation_on_a_sub_interval_and_with_tails():
    law = normal()
    assert expectation(lambda t: 1.0, law, 0.0).value == pytest.approx(0.5, abs=1e-12)
    v = expectation(lambda t: 1.0, law, tail=1e-6).value
    assert v == pytest.approx(1 - 2e-6, abs=1e-12)
    assert expectation(lambda t: 1.0, law, 3.0, 1.0).value == 0.0  # empty interval
    tail = expectation(lambda t: t, law, 1.0).value  # E[X; X > 1] = phi(1)
    assert tail == pytest.approx(float(stats.norm.pdf(1.0)), abs=1e-12)
