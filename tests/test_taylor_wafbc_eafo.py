"""Taylor coefficients, the WAFBC and the EAFO/CRReLU derivation, each against numbers."""

import math

import numpy as np
import pytest
import sympy as sp

from eafo_sym import catalog as activations
from eafo_sym import (
    derive_correction,
    derive_crrelu,
    eafo_iterate,
    eafo_step,
    entropy_change,
    entropy_taylor,
    eps,
    eta,
    output_entropy,
    second_variation,
    worst_activation,
    x,
)
from eafo_sym.laws import laplace, logistic, normal, student_t, uniform
from eafo_sym.numeric.evaluate import numeric


# --- Taylor -----------------------------------------------------------------
@pytest.mark.parametrize(
    "f, h, dist, interval, exact",
    [
        (x, x * sp.exp(-(x**2) / 2), normal(), (0, sp.oo), True),
        (x, x * sp.exp(-(x**2) / 8), normal(0, 2), (0, sp.oo), True),
        (2 * x + x**3 / 3, sp.sin(x), normal(0.3, 1.5), None, False),
        (sp.exp(x), sp.exp(-(x**2)), logistic(0.5, 1), None, False),
    ],
    ids=["crrelu-branch", "crrelu-branch-sigma2", "cubic-sin", "exp-logistic"],
)
def test_taylor_coefficients_match_finite_differences(f, h, dist, interval, exact):
    c = [float(v) for v in entropy_taylor(f, h, dist, 3, interval=interval, exact=exact)]
    d = 1e-3
    H = {k: entropy_change(f, h, dist, k * d, interval=interval) for k in (-2, -1, 1, 2)}
    c1 = (8 * (H[1] - H[-1]) - (H[2] - H[-2])) / (12 * d)
    c2 = (16 * (H[1] + H[-1]) - (H[2] + H[-2])) / (24 * d**2)  # H(0) = 0
    c3 = ((H[2] - H[-2]) - 2 * (H[1] - H[-1])) / (12 * d**3)
    assert c1 == pytest.approx(c[0], rel=1e-7, abs=1e-10)
    assert c2 == pytest.approx(c[1], rel=1e-4, abs=1e-7)
    assert c3 == pytest.approx(c[2], rel=1e-2, abs=1e-4)
    assert c[1] <= 0  # the second variation is never positive


def test_taylor_series_sums_to_entropy_change():
    f, h, iv = x, x * sp.exp(-(x**2) / 2), (0, sp.oo)
    c = [float(v) for v in entropy_taylor(f, h, normal(), 6, interval=iv)]
    for e in (0.05, -0.1):
        series = sum(ck * e ** (k + 1) for k, ck in enumerate(c))
        assert series == pytest.approx(entropy_change(f, h, normal(), e, interval=iv), abs=2e-8)


def test_second_variation_closed_form_and_errors():
    assert second_variation(x, x, normal()) == -1
    with pytest.raises(ValueError, match="order must be >= 1"):
        entropy_taylor(x, x, normal(), 0)
    with pytest.raises(TypeError, match="order must be an int"):
        entropy_taylor(x, x, normal(), 2.0)
    with pytest.raises(ValueError, match="constant on"):
        entropy_taylor("relu", x, normal(), 1)


# --- WAFBC ------------------------------------------------------------------
LAWS = [normal(0.5, 2), logistic(1, 0.5), laplace(0, 2), student_t(4), uniform(-1, 3)]


@pytest.mark.parametrize("dist", LAWS, ids=str)
def test_wafbc_is_the_scaled_cdf(dist):
    y_a, y_b = -1, 2
    w = worst_activation(dist, y_a, y_b)
    f = numeric(w.expr)
    for t in (-2.5, -0.3, 0.0, 0.7, 2.9):
        assert float(f(t)) == pytest.approx(y_a + (y_b - y_a) * dist.scipy.cdf(t), abs=1e-12)
    assert w.concave
    assert float(w.entropy) == pytest.approx(math.log(3), abs=1e-12)


@pytest.mark.parametrize("dist", [normal(), laplace(0, 1.5), student_t(5)], ids=str)
def test_wafbc_output_is_uniform_and_maximal(dist):
    w = worst_activation(dist, 0, 2)
    assert output_entropy(w.expr, dist) == pytest.approx(math.log(2), abs=1e-8)
    # Any other activation with the same limits has lower entropy (concavity).
    for other in [1 + sp.tanh(x), 2 / (1 + sp.exp(-3 * x))]:
        assert output_entropy(other, dist) < math.log(2)


def test_wafbc_second_variation_is_negative_for_a_direction():
    dist = normal(0.2, 1.3)
    w = worst_activation(dist, 0, 1)
    h = sp.Function("h")
    integrand = numeric(w.second_variation.subs(h(x), sp.exp(-(x**2))).doit())
    from scipy import integrate

    assert integrate.quad(lambda t: float(integrand(t)), -30, 30)[0] < 0


def test_wafbc_finite_interval_and_dsolve_cross_check():
    w = worst_activation(normal(), -1, 2, interval=(-1, 3))
    assert sp.simplify(w.expr.subs(x, -1) + 1) == 0
    assert sp.simplify(w.expr.subs(x, 3) - 2) == 0
    assert w.entropy is None
    # SymPy's dsolve, where it can, finds the same family C1 + C2*erf(x/sqrt(2)).
    F = sp.Function("f")
    sol = sp.dsolve(worst_activation(normal(), 0, 1).euler_lagrange, F(x))
    C1, C2 = sp.symbols("C1 C2")
    fit = sp.solve([sp.Eq(sp.limit(sol.rhs, x, -sp.oo), 0), sp.Eq(sp.limit(sol.rhs, x, sp.oo), 1)], [C1, C2])
    assert sp.simplify(sol.rhs.subs(fit) - worst_activation(normal(), 0, 1).expr) == 0


def test_wafbc_errors():
    with pytest.raises(ValueError, match="coincide"):
        worst_activation(normal(), 0.5, 0.5)
    with pytest.raises(ValueError, match="a < b"):
        worst_activation(normal(), 0, 1, interval=(1, -1))
    with pytest.raises(TypeError, match="Law"):
        worst_activation("normal", 0, 1)


# --- EAFO and CRReLU ----------------------------------------------------------
def test_crrelu_closed_form_and_registry():
    d = derive_crrelu()
    # The paper's result, which the derivation must reproduce.
    assert sp.simplify(d.expr - (sp.Max(0, x) + eps * x * sp.exp(-(x**2) / 2))) == 0
    act = activations.get("crrelu")
    assert act.derived and act.params == {eps: 0.01}
    assert d.coordinates_agree


def test_crrelu_sign_is_derived_and_checked_numerically():
    d = derive_crrelu()
    assert d.descent_sign == -1
    slope = float(d.entropy_slope)
    e = 1e-4
    fd = (
        entropy_change(d.branch, d.shape, normal(), e, interval=d.interval)
        - entropy_change(d.branch, d.shape, normal(), -e, interval=d.interval)
    ) / (2 * e)
    assert slope > 0 and fd == pytest.approx(slope, rel=1e-6)
    assert "opposite sign" in d.note
    assert sp.simplify(d.eps_descent + eta / sp.sqrt(2 * sp.pi)) == 0


@pytest.mark.parametrize("dist", [normal(0, 2), normal(1, 0.5), laplace(0, 1), logistic()], ids=str)
def test_correction_shape_for_other_laws(dist):
    d = derive_correction("relu", dist, taylor_order=1)
    # dH/df on the branch is -p'(x) (f = x there): the shape must be proportional to it.
    ratio = sp.simplify(d.coefficient * d.shape / (-sp.diff(dist.pdf, x)).subs(sp.Abs(x), x))
    assert ratio == 1 or abs(float(sp.N(ratio.subs(x, 0.8))) - 1) < 1e-12


@pytest.mark.parametrize(
    "f, dist, interval",
    [("relu", normal(), (0, sp.oo)), ("elu", normal(), None), (sp.exp(x), normal(0.3, 1), None)],
    ids=str,
)
def test_eafo_step_decreases_entropy(f, dist, interval):
    base = activations.resolve(f)
    step = eafo_step(base, dist, 0, interval=interval)  # eta=0 gives f back
    new = eafo_step(base, dist, sp.Rational(1, 20), interval=interval)
    direction = sp.simplify(new - step)
    assert entropy_change(step, direction, dist, 1.0, interval=interval) < 0


def test_y_space_step_is_x_step_weighted_by_fprime():
    f, dist = sp.exp(x), normal()
    dx = eafo_step(f, dist, eta, space="x") - f
    dy = eafo_step(f, dist, eta, space="y") - f
    assert sp.simplify(dy - sp.diff(f, x) * dx) == 0


def test_iterated_steps_keep_decreasing():
    dist = normal()
    fs = eafo_iterate(x, dist, sp.Rational(1, 5), 2)
    H = [output_entropy(f, dist) for f in fs]
    assert H[0] > H[1] > H[2]
    with pytest.raises(ValueError, match="steps"):
        eafo_iterate(x, dist, 0.1, -1)
    with pytest.raises(TypeError, match="eta"):
        eafo_step(x, dist, "0.1")
    assert np.isfinite(H[2])


@pytest.mark.slow
def test_three_steps_stay_small_and_equal_the_step_formula():
    """No expression swell: a third step is hundreds of operations (a full expand gave 34532)."""
    from eafo_sym.symbolic.functional import functional_derivative

    dist, eta = normal(), sp.Rational(1, 10)
    fs = eafo_iterate(x, dist, eta, 3)
    assert sp.count_ops(fs[3]) < 2000
    expected = fs[2] - eta * functional_derivative(fs[2], dist)
    pts = [-2.5, -0.7, 0.3, 1.9]
    got = sp.lambdify(x, fs[3], "mpmath")
    ref = sp.lambdify(x, expected, "mpmath")
    assert all(abs(got(p) - ref(p)) < 1e-12 for p in pts)
