"""Closed forms in the law's parameters: checked at unlisted values against -(p/f')' by numbers."""

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from eafo_sym.numeric.evaluate import numeric
from eafo_sym.symbolic.parametric import MU, SIGMA, moment_matched, parametric_correction
from eafo_sym.symbolic.symbols import x

MU_V, SIGMA_V = 0.7, 2.5


def _minus_density_slope(law, t, h=1e-5):
    """-p'(t) by a central difference of SciPy's density (ReLU's branch has f' = 1)."""
    return -(law.pdf(t + h) - law.pdf(t - h)) / (2 * h)


def _closed_form(c, **values):
    subs = {MU: sp.nsimplify(values.get("mu", MU_V)), SIGMA: sp.nsimplify(SIGMA_V)}
    return numeric((c.coefficient * c.shape).subs(subs))


@pytest.mark.parametrize(
    ("family", "scipy_law"),
    [
        ("normal", stats.norm(MU_V, SIGMA_V)),
        ("logistic", stats.logistic(MU_V, SIGMA_V * np.sqrt(3) / np.pi)),
        ("student_t", stats.t(5, MU_V, SIGMA_V * np.sqrt(3 / 5))),
    ],
)
def test_relu_correction_at_unlisted_parameters_is_minus_the_density_slope(family, scipy_law):
    c = parametric_correction("relu", family)
    assert {MU, SIGMA} <= c.shape.free_symbols
    t = np.array([0.3, 1.1, 2.9, 6.0])  # ReLU's branch x > 0
    got = np.asarray(_closed_form(c)(t), dtype=float)
    assert np.allclose(got, _minus_density_slope(scipy_law, t), rtol=1e-6, atol=1e-12)
    assert scipy_law.std() == pytest.approx(SIGMA_V)  # matched by moments


def test_laplace_correction_with_a_symbolic_scale():
    c = parametric_correction("relu", "laplace", mu=0)
    assert c.shape.free_symbols == {x, SIGMA}
    law = stats.laplace(0, SIGMA_V / np.sqrt(2))
    t = np.array([0.2, 1.0, 3.5])
    got = np.asarray(_closed_form(c, mu=0)(t), dtype=float)
    assert np.allclose(got, _minus_density_slope(law, t), rtol=1e-6)


def test_elu_correction_on_both_pieces():
    """ELU (alpha = 1): -(p/f')' is -p' for x > 0 and -(p e^-x)' for x < 0."""
    c = parametric_correction("elu")
    law = stats.norm(MU_V, SIGMA_V)
    (alpha,) = c.params
    expr = (c.coefficient * c.shape).subs({MU: sp.Rational(7, 10), SIGMA: sp.Rational(5, 2),
                                           alpha: 1})
    t = np.array([-2.0, -0.5, 0.5, 2.0])
    h = 1e-5
    neg = -(law.pdf(t + h) * np.exp(-(t + h)) - law.pdf(t - h) * np.exp(-(t - h))) / (2 * h)
    want = np.where(t < 0, neg, _minus_density_slope(law, t))
    assert np.allclose(np.asarray(numeric(expr)(t), dtype=float), want, rtol=1e-6)


def test_moment_matched_laws_have_the_asked_moments():
    for family in ("normal", "laplace", "logistic", "student_t"):
        law = moment_matched(family, sp.Rational(7, 10), sp.Rational(5, 2))
        assert law.scipy.mean() == pytest.approx(MU_V)
        assert law.scipy.std() == pytest.approx(SIGMA_V)
    with pytest.raises(ValueError, match="unknown family 'cauchy'"):
        moment_matched("cauchy")
    with pytest.raises(ValueError, match="nu must be > 2"):
        moment_matched("student_t", nu=2)
