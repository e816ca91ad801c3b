"""Functional derivatives: Euler-Lagrange against direct formulas and against numbers."""

import pytest
import sympy as sp
from scipy import integrate

from eafo_sym import coordinates_agree, entropy_change, functional_derivative, inverse, x, y
from eafo_sym.laws import laplace, logistic, normal, student_t
from eafo_sym.numeric.evaluate import numeric

SMOOTH = [sp.exp(x), x + x**3 / 3, sp.asinh(x) + 2 * x, "softplus", "sigmoid"]
LAWS = [normal(), normal(0.5, 2), logistic(0.2, 1.5), student_t(4)]


@pytest.mark.parametrize("f", SMOOTH, ids=str)
@pytest.mark.parametrize("dist", LAWS, ids=str)
def test_x_space_is_minus_derivative_of_p_over_fprime(f, dist):
    from eafo_sym.catalog import resolve

    fe = resolve(f)
    expected = -sp.diff(dist.pdf / sp.diff(fe, x), x)
    got = functional_derivative(fe, dist)
    fn, ref = numeric(got), numeric(expected)
    for t in (-1.3, 0.2, 0.9, 2.1):
        assert float(fn(t)) == pytest.approx(float(ref(t)), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("dist", [normal(), normal(-0.3, 0.8)], ids=str)
def test_y_space_matches_paper_form(dist):
    """dH/dg = p'(g) g' + p(g) g''/g' (docs/mathematics.md §3)."""
    g = sp.log(y)  # f = exp(x)
    p = dist.pdf
    expected = sp.diff(p, x).subs(x, g) * sp.diff(g, y) + p.subs(x, g) * sp.diff(g, y, 2) / sp.diff(g, y)
    got = functional_derivative(sp.exp(x), dist, space="y")
    assert sp.simplify(got - expected) == 0


@pytest.mark.parametrize(
    "f, dist, interval",
    [
        (sp.exp(x), normal(0.5, 2), None),
        ("sigmoid", normal(), None),
        ("softplus", logistic(), None),
        ("relu", normal(1, 2), (0, sp.oo)),
        ("relu", laplace(0, 3), (0, sp.oo)),
        ("elu", normal(), None),
    ],
    ids=str,
)
def test_coordinates_agree(f, dist, interval):
    assert coordinates_agree(f, dist, interval=interval)


@pytest.mark.parametrize("f", [sp.exp(x) / 2, x + sp.tanh(x)], ids=str)
@pytest.mark.parametrize("dist", [normal(), logistic(0.3, 0.7)], ids=str)
def test_first_variation_predicts_entropy_change(f, dist):
    """(H[f + d*h] - H[f]) / d -> integral dH/df * h for a bump h (quadrature only)."""
    h = sp.exp(-((x - 0.4) ** 2))
    d = 1e-5
    fd = (entropy_change(f, h, dist, d) - entropy_change(f, h, dist, -d)) / (2 * d)
    dH = numeric(functional_derivative(f, dist) * h)
    predicted = integrate.quad(lambda t: float(dH(t)), -40, 40, limit=200, points=[0, 0.4])[0]
    assert fd == pytest.approx(predicted, rel=1e-6, abs=1e-9)


def test_flat_piece_and_inverse_errors():
    with pytest.raises(ValueError, match="constant on"):
        functional_derivative("relu", normal())
    with pytest.raises(ValueError, match="not invertible"):
        functional_derivative(x**2, normal(), space="y")
    with pytest.raises(ValueError, match="space"):
        functional_derivative(x, normal(), space="z")
    with pytest.raises(ValueError, match="a < b"):
        functional_derivative(x, normal(), interval=(2, 1))
    with pytest.raises(TypeError, match="interval"):
        functional_derivative(x, normal(), interval="0..1")
    with pytest.raises(ValueError, match="function of x alone"):
        functional_derivative(sp.Symbol("k", real=True) * x, normal())


def test_inverse_of_several_monotone_functions():
    for f in [sp.exp(x), x**3 + x, sp.tanh(x), 2 * x - 1]:
        g = inverse(f)
        assert sp.simplify(g.subs(y, f) - x) == 0 or abs(complex(sp.N((g.subs(y, f) - x).subs(x, 0.7)))) < 1e-12
