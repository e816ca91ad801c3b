"""Functional derivatives: Euler-Lagrange against direct formulas and against numbers."""

import math
import warnings

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

from eafo_sym import coordinates_agree, entropy_change, functional_derivative, inverse, x, y
from eafo_sym.laws import laplace, logistic, normal, student_t
from eafo_sym.numeric.evaluate import numeric
from eafo_sym.symbolic.bases import BASES
from eafo_sym.symbolic.functional import point_terms

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


# --- point terms at kinks ------------------------------------------------------------------
ALPHA = 0.3
ELU_03 = BASES["elu"].bind(alpha=sp.Rational(3, 10))


def _bump(t):
    return math.exp(-4 * t * t)


def _bump_prime(t):
    return -8 * t * math.exp(-4 * t * t)


def test_elu_kink_term_against_a_finite_difference_in_function_space():
    """ELU(0.3) under t(4): (H[f + d h] - H[f - d h]) / 2d with a bump h at the kink x = 0.

    H[f + d h] - H[f] = integral p log(1 + d h'/f') by SciPy here; the derivative must add
    the point term p(0) (1/f'(0-) - 1/f'(0+)) h(0) to the integral of its smooth part.
    """
    p = stats.t(4).pdf

    def fprime(t):
        return ALPHA * math.exp(t) if t < 0 else 1.0

    def change(d):
        def integrand(t):
            dh = _bump_prime(t)
            return 0.0 if dh == 0 else p(t) * math.log1p(d * dh / fprime(t))

        return sum(integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                   for a, b in [(-40, -1), (-1, 0), (0, 1), (1, 40)])

    d = 1e-5
    fd = (change(d) - change(-d)) / (2 * d)
    smooth, points = functional_derivative(ELU_03, student_t(4), point_terms=True)
    left, right = (numeric(e) for e, _ in smooth.args[:2])
    inner = (integrate.quad(lambda t: float(left(t)) * _bump(t), -40, 0, limit=200)[0]
             + integrate.quad(lambda t: float(right(t)) * _bump(t), 0, 40, limit=200)[0])
    (kink,) = [t for t in points if t.kind == "kink"]
    assert kink.at == 0
    assert float(kink.weight) == pytest.approx(p(0) * (1 / ALPHA - 1), rel=1e-14)
    assert fd == pytest.approx(inner + float(kink.weight) * _bump(0), rel=1e-7)
    assert abs(fd - inner) > 0.5  # the smooth part alone misses most of it
    # The default form carries the kink as a Dirac delta of the same weight.
    full = functional_derivative(ELU_03, student_t(4))
    assert sp.simplify(full.coeff(sp.DiracDelta(x)) - kink.weight) == 0


def test_elu_kink_term_in_y_space_against_a_finite_difference():
    """The y-space kink weight p(0) log(f'(0-)/f'(0+)) by a finite difference of -integral q log q.

    g = f^-1 is log(1 + y/alpha) on (-alpha, 0) and y on (0, oo); k is a bump at y = 0.
    """
    p = stats.t(4).pdf

    def g(v):
        return math.log1p(v / ALPHA) if v < 0 else v

    def gprime(v):
        return 1 / (ALPHA + v) if v < 0 else 1.0

    def entropy(d):
        def integrand(v):
            if v <= -ALPHA:
                return 0.0
            q = p(g(v) + d * _bump(v)) * (gprime(v) + d * _bump_prime(v))
            return -q * math.log(q)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SciPy's note on the integrable end at -alpha
            return sum(integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-13, limit=400)[0]
                       for a, b in [(-ALPHA, -0.2), (-0.2, 0), (0, 1), (1, np.inf)])

    d = 1e-5
    fd = (entropy(d) - entropy(-d)) / (2 * d)
    full = functional_derivative(ELU_03, student_t(4), space="y")  # kinks as Dirac deltas
    weight = full.coeff(sp.DiracDelta(y))
    (smooth,) = full.atoms(sp.Piecewise)
    parts = [sp.lambdify(y, e, "mpmath") for e, _ in smooth.args[:2]]
    inner = (integrate.quad(lambda v: float(parts[0](v)) * _bump(v), -ALPHA, 0, limit=200)[0]
             + integrate.quad(lambda v: float(parts[1](v)) * _bump(v), 0, np.inf, limit=200)[0])
    assert float(weight) == pytest.approx(p(0) * math.log(ALPHA), rel=1e-12)
    assert fd == pytest.approx(inner + float(weight) * _bump(0), rel=1e-4)


def test_point_terms_of_relu_branch_and_laplace():
    """ReLU's branch (0, oo): the lower end gives -p(0) (f' = 1), for any law."""
    for law in (normal(), laplace(0, 3), student_t(4)):
        (end,) = point_terms("relu", law, interval=(0, sp.oo))
        assert end.kind == "end" and end.at == 0
        assert float(end.weight) == pytest.approx(-float(law.scipy.pdf(0.0)), rel=1e-14)
    assert point_terms(sp.exp(x), normal()) == ()


# --- y-space for shifted and scaled laws -----------------------------------------------------
def test_softplus_y_space_under_a_scaled_logistic():
    """logistic(0.3, 1.2): the y-space derivative used to hold (exp(y) - 1)**(5/6) rewritten wrongly."""
    law = logistic(0.3, 1.2)
    dgy = functional_derivative("softplus", law, space="y")
    # -(p/f')' by plain differentiation, no Euler-Lagrange machinery and no simplification.
    f = sp.log(1 + sp.exp(x))
    dfx = -sp.diff(law.pdf / sp.diff(f, x), x)
    for t in (-1.7, 0.3, 2.2, 5.0):
        yv = math.log1p(math.exp(t))
        v = complex(sp.N(dgy.subs(y, yv), 20))
        assert abs(v.imag) < 1e-15
        assert v.real == pytest.approx(-float(dfx.subs(x, t)), rel=1e-12)


def test_softplus_y_space_against_a_finite_difference_of_the_y_functional():
    """d/dd of -integral q log q, q = p(g + d k)(g' + d k'), against integral dH/dg k (k(0) = 0)."""
    law = logistic(0.3, 1.2)
    p = stats.logistic(0.3, 1.2).pdf

    def k(v):
        return v * v * math.exp(-2 * (v - 1) ** 2)

    def kprime(v):
        return (2 * v - 4 * v * v * (v - 1)) * math.exp(-2 * (v - 1) ** 2)

    def entropy(d):
        def integrand(v):
            g = math.log(math.expm1(v))
            q = p(g + d * k(v)) * (1 / -math.expm1(-v) + d * kprime(v))
            return -q * math.log(q) if q > 0 else 0.0

        return sum(integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-13, limit=400)[0]
                   for a, b in [(0, 0.5), (0.5, 2), (2, 8), (8, 60)])

    d = 1e-5
    fd = (entropy(d) - entropy(-d)) / (2 * d)
    fn = sp.lambdify(y, functional_derivative("softplus", law, space="y"), "mpmath")
    predicted = integrate.quad(lambda v: float(fn(v)) * k(v), 0, 60, limit=400, points=[1, 4])[0]
    assert fd == pytest.approx(predicted, rel=1e-6)


def test_no_closed_inverse_is_a_value_error():
    with pytest.raises(ValueError, match="no inverse"):
        inverse(x + sp.Rational(3, 10) * sp.tanh(x))
    with pytest.raises(ValueError, match="no inverse"):
        functional_derivative(x + sp.Rational(3, 10) * sp.tanh(x), normal(), space="y")
