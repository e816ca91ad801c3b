"""Laws whose parameters are SymPy symbols: construction, validation, binding."""

import math

import pytest
import sympy as sp
from scipy import integrate, stats

from eafo_sym.laws import (
    MU,
    SIGMA,
    laplace,
    logistic,
    mixture,
    normal,
    parametric,
    student_t,
)
from eafo_sym.symbolic.symbols import x

VALUES = {"mu": 0.7, "sigma": 2.5, "b": 1.3, "s": 0.6, "nu": 5}


def _numeric_pdf(law, values):
    fn = sp.lambdify(x, law.pdf.subs({s: sp.Rational(repr(values[str(s)])) for s in law.symbols}))
    return lambda t: float(fn(t))


@pytest.mark.parametrize(
    ("name", "frozen"),
    [
        ("normal", lambda v: stats.norm(v["mu"], v["sigma"])),
        ("laplace", lambda v: stats.laplace(v["mu"], v["b"])),
        ("logistic", lambda v: stats.logistic(v["mu"], v["s"])),
        ("student_t", lambda v: stats.t(v["nu"], v["mu"], v["sigma"])),
    ],
)
def test_parametric_density_substituted_matches_scipy(name, frozen):
    law = parametric(name)
    assert law.symbols and not law.is_numeric
    values = {str(s): VALUES[str(s)] for s in law.symbols}
    pdf = _numeric_pdf(law, values)
    ref = frozen(values)
    for t in (-3.1, -0.2, 0.7, 1.9, 6.0):
        assert pdf(t) == pytest.approx(ref.pdf(t), rel=1e-12)
    total, _ = integrate.quad(pdf, -200, 200, points=[0.7], limit=400)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_bind_rebuilds_the_family_exactly():
    law = parametric("normal").bind(mu=0.7, sigma=2.5)
    assert law.is_numeric
    assert law.params["mu"] == sp.Rational(7, 10) and law.params["sigma"] == sp.Rational(5, 2)
    assert not law.pdf.atoms(sp.Float)
    assert float(law.scipy.std()) == pytest.approx(2.5, rel=1e-15)
    # Binding commutes with the constructor.
    assert law.pdf == normal(sp.Rational(7, 10), sp.Rational(5, 2)).pdf


def test_partial_binding_keeps_the_other_symbol():
    law = parametric("student_t", nu=5).bind(sigma=2)
    assert law.symbols == (MU,)
    assert law.params["nu"] == 5 and law.params["sigma"] == 2


def test_symbolic_entropy_matches_quadrature_after_substitution():
    law = parametric("normal")
    h = law.entropy()
    assert h.free_symbols == {SIGMA}
    value = float(h.subs(SIGMA, sp.Rational(5, 2)))
    bound = law.bind(mu=0.7, sigma=2.5)
    pdf = _numeric_pdf(law, VALUES)
    ref, _ = integrate.quad(lambda t: -pdf(t) * math.log(pdf(t)), -60, 60, limit=200)
    assert value == pytest.approx(ref, rel=1e-10)
    assert value == pytest.approx(float(bound.scipy.entropy()), rel=1e-12)


def test_mixture_with_symbolic_weight_and_components():
    w = sp.Symbol("w", positive=True)
    m = mixture([normal(MU, 1), normal(-1, SIGMA)], [w, 1 - w])
    assert set(m.symbols) == {MU, SIGMA, w}
    bound = m.bind(mu=0.7, sigma=2.5, w=0.3)
    assert bound.is_numeric
    ref = 0.3 * stats.norm(0.7, 1).pdf(0.4) + 0.7 * stats.norm(-1, 2.5).pdf(0.4)
    assert float(bound.scipy.pdf(0.4)) == pytest.approx(ref, rel=1e-12)
    assert float(m.pdf.subs({MU: 0.7, SIGMA: 2.5, w: 0.3, x: 0.4})) == pytest.approx(ref)


def test_symbolic_laws_have_no_numeric_counterpart():
    with pytest.raises(ValueError, match="numeric evaluation needs numeric parameters"):
        _ = parametric("logistic").scipy


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: normal(sp.Symbol("m"), 1), "mu = m must be known to be real"),
        (lambda: normal(0, sp.Symbol("t", real=True)), "sigma = t must be known to be > 0"),
        (lambda: laplace(0, -SIGMA), "b = -sigma must be known to be > 0"),
        (lambda: student_t(sp.Symbol("k")), "nu = k must be known to be real"),
        (lambda: logistic(0, sp.I), "s must be a finite real number"),
        (lambda: parametric("normal").bind(tau=1), "no parameter symbol"),
        (lambda: parametric("normal", tau=1), "parameters are mu, sigma"),
        (lambda: parametric("uniform"), "parametric laws: choose one of"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_parametric_laws_are_hashable_and_keyed():
    assert hash(parametric("normal")) == hash(normal(MU, SIGMA))
    assert parametric("normal").key != parametric("normal", mu=0).key
