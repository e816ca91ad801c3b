"""derive_correction under laws with symbolic parameters.

Each closed form is checked at parameter values no document lists, against
``-(p/f')'`` evaluated independently here (SciPy densities, finite differences),
and the first Taylor coefficient against an independent quadrature.
"""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

from eafo_sym.laws import MU, SIGMA, mixture, normal, parametric
from eafo_sym.symbolic.eafo import derive_correction, derive_crrelu
from eafo_sym.symbolic.symbols import x

H = 1e-4


def _minus_p_over_fprime_prime(pdf, fprime, t):
    """``-(p/f')'(t)`` by a central difference of SciPy's density."""
    q = lambda s: pdf(s) / fprime(s)  # noqa: E731
    return -(q(t + H) - q(t - H)) / (2 * H)


def _gradient_at(c, subs, t):
    """``c * shape`` at ``x = t`` with the law's symbols (and the base's defaults) substituted."""
    defaults = {p: sp.nsimplify(v, rational=True) for p, v in c.params.items()}
    return float((c.coefficient * c.shape).subs(defaults).subs(subs).subs(x, t))


@pytest.fixture(scope="module")
def relu_normal():
    return derive_correction("relu", parametric("normal"))


def test_relu_normal_shape_is_a_function_of_the_standardised_variable(relu_normal):
    u = sp.Symbol("u", real=True)
    in_u = sp.simplify(relu_normal.shape.subs(x, MU + SIGMA * u))
    assert in_u.free_symbols == {u}
    assert relu_normal.coefficient.free_symbols <= {SIGMA}
    assert relu_normal.coefficient.subs(SIGMA, sp.Rational(5, 2)) > 0
    assert relu_normal.interval == (0, sp.oo)


@pytest.mark.parametrize(("mu", "sigma"), [(0.7, 2.5), (-1.3, 0.4), (2.0, 1.7)])
def test_relu_normal_gradient_matches_an_independent_minus_p_over_fprime(relu_normal, mu, sigma):
    subs = {MU: sp.Rational(repr(mu)), SIGMA: sp.Rational(repr(sigma))}
    law = stats.norm(mu, sigma)
    for t in (0.3, 1.1, 2.9, 4.4):
        ref = _minus_p_over_fprime_prime(law.pdf, lambda s: 1.0, t)
        assert _gradient_at(relu_normal, subs, t) == pytest.approx(ref, rel=1e-6, abs=1e-12)


def test_relu_normal_reduces_to_crrelu_at_the_standard_law(relu_normal):
    std = derive_crrelu()
    subs = {MU: 0, SIGMA: 1}
    assert sp.simplify(relu_normal.shape.subs(subs) - std.shape) == 0
    assert sp.simplify(relu_normal.entropy_slope.subs(subs) - std.entropy_slope) == 0


def test_relu_normal_sign_is_a_condition_on_the_parameters(relu_normal):
    assert relu_normal.descent_sign is None
    cond = relu_normal.descent_condition
    assert isinstance(cond, sp.core.relational.Relational)
    assert "depends on the law's parameters" in relu_normal.note
    # A location far below the branch flips the slope's sign: both outcomes occur.
    assert bool(cond.subs({MU: 0, SIGMA: 1})) is True
    slopes = [float(relu_normal.entropy_slope.subs({MU: m, SIGMA: 1})) for m in (-3, 0, 3)]
    assert slopes[0] < 0 < slopes[1] < slopes[2]


@pytest.mark.parametrize(("mu", "sigma"), [(0.7, 2.5), (-3.0, 1.0)])
def test_relu_normal_slope_matches_quadrature_of_the_first_variation(relu_normal, mu, sigma):
    """``c_1 = integral_0^oo p s'/f'`` (f' = 1), s' by finite differences."""
    subs = {MU: sp.Rational(repr(mu)), SIGMA: sp.Rational(repr(sigma))}
    s = sp.lambdify(x, relu_normal.shape.subs(subs))
    law = stats.norm(mu, sigma)

    def integrand(t):
        return law.pdf(t) * (s(t + H) - s(t - H)) / (2 * H)

    ref, _ = integrate.quad(integrand, 0, np.inf, limit=200)
    assert float(relu_normal.entropy_slope.subs(subs)) == pytest.approx(ref, rel=1e-6, abs=1e-12)


def test_numbers_stay_exact():
    c = derive_correction("relu", normal(0.7, 2.5), taylor_order=1, y_space=False)
    assert not c.shape.atoms(sp.Float) and not c.coefficient.atoms(sp.Float)
    assert c.descent_sign in (-1, 1)


def test_tanh_perturbation_under_parametric_logistic():
    base = x + sp.Rational(3, 10) * sp.tanh(x)
    c = derive_correction(base, parametric("logistic"), taylor_order=0, y_space=False)
    subs = {sp.Symbol("mu", real=True): sp.Rational(7, 10), sp.Symbol("s", positive=True): 2}
    law = stats.logistic(0.7, 2)
    fprime = lambda t: 1 + 0.3 / np.cosh(t) ** 2  # noqa: E731
    for t in (-2.5, -0.4, 0.9, 3.3):
        ref = _minus_p_over_fprime_prime(law.pdf, fprime, t)
        assert _gradient_at(c, subs, t) == pytest.approx(ref, rel=1e-6, abs=1e-12)


def test_softplus_under_parametric_student_t():
    c = derive_correction("softplus", parametric("student_t", nu=5), taylor_order=0,
                          y_space=False)
    subs = {MU: sp.Rational(7, 10), SIGMA: sp.Rational(5, 2)}
    law = stats.t(5, 0.7, 2.5)
    fprime = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    for t in (-4.0, -1.0, 0.5, 2.0, 7.0):
        ref = _minus_p_over_fprime_prime(law.pdf, fprime, t)
        assert _gradient_at(c, subs, t) == pytest.approx(ref, rel=1e-6, abs=1e-14)


def test_relu_under_a_parametric_two_component_mixture():
    m = mixture([normal(MU, 1), normal(-1, SIGMA)])
    c = derive_correction("relu", m, taylor_order=0, y_space=False)
    subs = {MU: sp.Rational(7, 10), SIGMA: sp.Rational(5, 2)}
    pdf = lambda t: 0.5 * stats.norm(0.7, 1).pdf(t) + 0.5 * stats.norm(-1, 2.5).pdf(t)  # noqa: E731
    for t in (0.2, 1.0, 2.6):
        ref = _minus_p_over_fprime_prime(pdf, lambda s: 1.0, t)
        assert _gradient_at(c, subs, t) == pytest.approx(ref, rel=1e-6, abs=1e-12)
    assert c.descent_sign in (None, -1, 1, 0)
    if c.descent_sign is None:
        assert "not determined" in c.note or "depends on" in c.note


def test_a_kink_at_a_symbolic_location_is_refused():
    with pytest.raises(ValueError, match="depends on symbols"):
        derive_correction("relu", parametric("laplace"), taylor_order=0, y_space=False)


def test_laplace_with_symbolic_scale_keeps_its_sign():
    c = derive_correction("relu", parametric("laplace", mu=0))
    b = sp.Symbol("b", positive=True)
    law = stats.laplace(0, 1.3)
    for t in (0.4, 2.0):
        ref = _minus_p_over_fprime_prime(law.pdf, lambda s: 1.0, t)
        assert _gradient_at(c, {b: sp.Rational(13, 10)}, t) == pytest.approx(ref, rel=1e-6)
    # The end term at 0 wins under every scale: the assumptions decide the sign.
    assert c.descent_sign == 1 and c.descent_condition is None
