"""The worst activation with boundary conditions (``eafo_sym.worst_activation``) against numbers."""

import math

import pytest
import sympy as sp

from eafo_sym import (
    output_entropy,
    worst_activation,
    x,
)
from eafo_sym.laws import laplace, logistic, normal, student_t, uniform
from eafo_sym.numeric.evaluate import numeric

# --- WAFBC ------------------------------------------------------------------
# student_t(30, ...): a CDF kept as a 2F1 (expanding it is slow for large nu).
LAWS = [normal(0.5, 2), logistic(1, 0.5), laplace(0, 2), student_t(4), student_t(30, -1, 3),
        uniform(-1, 3)]


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


# --- half lines and finite intervals ------------------------------------------------------
@pytest.mark.parametrize(
    "dist, interval",
    [
        (student_t(3), (0, sp.oo)),
        (student_t(3), (0, 2)),
        (student_t(3), (-sp.oo, 0)),
        (student_t(5, 1, 2), (1, sp.oo)),
        (normal(0.5, 2), (0, 3)),
        (laplace(0, 1.5), (0, sp.oo)),
    ],
    ids=str,
)
def test_wafbc_on_a_half_line_is_the_scaled_cdf(dist, interval):
    """(F(x) - F(a)) / (F(b) - F(a)), with SciPy's CDF; odd nu used to fail ("0 solutions")."""
    a, b = (float(v) for v in interval)
    w = worst_activation(dist, 0, 1, interval=interval)
    f = numeric(w.expr)
    F = dist.scipy.cdf
    lo = F(a) if math.isfinite(a) else 0.0
    hi = F(b) if math.isfinite(b) else 1.0
    inside = [t for t in (-3.1, -0.4, 0.25, 1.2, 1.9, 6.5) if a < t < b]
    assert inside
    for t in inside:
        assert float(f(t)) == pytest.approx((F(t) - lo) / (hi - lo), abs=1e-12)
    for end, value in ((a, 0.0), (b, 1.0)):
        if math.isfinite(end):
            assert float(w.expr.subs(x, sp.nsimplify(end))) == pytest.approx(value, abs=1e-14)
    assert not w.expr.has(sp.nan, sp.exp_polar)


def test_student_t_cdf_has_no_removable_nan():
    """sympy.stats' hyperexpanded CDF for odd nu is 0/0 at the centre; the law's CDF is not."""
    for nu in (1, 3, 5, 7):
        d = student_t(nu, 0.5, 2)
        assert d.cdf.subs(x, sp.Rational(1, 2)) == sp.Rational(1, 2)
        assert float(d.cdf.subs(x, 2)) == pytest.approx(float(d.scipy.cdf(2.0)), abs=1e-14)
