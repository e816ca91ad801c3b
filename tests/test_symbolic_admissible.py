"""Admissible formulas (``eafo_sym.symbolic.admissible``): real and finitely branched on the support.

Every refusal names a point; the tests evaluate the offending part there with
mpmath (independently of the module's SymPy ``evalf``) to confirm it is complex.
"""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp

from eafo_sym import catalog, x
from eafo_sym.laws import LAWS, laplace, logistic, normal, student_t, uniform
from eafo_sym.parsing import parse_activation
from eafo_sym.symbolic.admissible import (
    MAX_BRANCHES,
    InadmissibleError,
    check_admissible,
    problems,
)

UNIT = uniform(0, 1)


def _complex_at(part: sp.Expr, at: sp.Expr) -> bool:
    f = sp.lambdify(x, part, modules="mpmath")
    with mpmath.workdps(30):
        v = mpmath.mpmathify(f(mpmath.mpf(sp.Rational(at).p) / sp.Rational(at).q))
    return abs(mpmath.im(v)) > 1e-20


@pytest.mark.parametrize(
    "text, part",
    [
        ("sqrt(x)", "sqrt(x)"),
        ("log(x)", "log(x)"),
        ("x**x", "x**x"),
        ("x**(1/3)", "x**(1/3)"),
        ("sqrt(1 - x)", "sqrt(1 - x)"),
        ("sqrt(tanh(x)) + x", "sqrt(tanh(x))"),
        ("tanh(log(x - 3))", "log(x - 3)"),
        ("sqrt(x**2 - 1e-8)", "sqrt(x**2 - 1/100000000)"),  # negative only on (-1e-4, 1e-4)
        ("sqrt(exp(x) - 1 - x - x**2/2)", "sqrt(-x**2/2 - x + exp(x) - 1)"),  # ~x^3/6 < 0 for x < 0
        ("(-1)**x", "(-1)**x"),
    ],
)
def test_not_real_under_a_normal_input_is_refused_with_a_witness(text, part):
    f = parse_activation(text)
    with pytest.raises(InadmissibleError, match="is not real at x = ") as exc:
        check_admissible(f, normal())
    p = exc.value.problem
    assert isinstance(exc.value, ValueError)
    assert p.kind == "not real" and sp.sstr(p.part) == part
    assert "normal(mu=0, sigma=1)" in str(exc.value) and "(-oo, oo)" in str(exc.value)
    assert _complex_at(p.part, p.at)


@pytest.mark.parametrize(
    "text",
    ["sqrt(x)", "log(x)", "x**x", "sqrt(1 - x)", "x**(1/3)", "log(x) + sqrt(x*(1 - x))"],
)
def test_the_same_formulas_are_fine_on_the_unit_interval(text):
    assert check_admissible(parse_activation(text), UNIT) == parse_activation(text)


@pytest.mark.parametrize(
    "text",
    ["sqrt(abs(x))", "log(1 + exp(x))", "log(x**2)", "sqrt(x**2 + 1)", "(x**2 + 0.5)**x",
     "log(cosh(x))", "x*sigmoid(x)", "sqrt(exp(x))"],
)
def test_real_everywhere_is_admissible(text):
    assert problems(parse_activation(text), normal()) == []


@pytest.mark.parametrize(
    "text, part",
    [
        ("sin(x)", "sin(x)"),
        ("abs(sin(x))", "sin(x)"),
        ("cos(cos(x))", "cos(x)"),  # the inner oscillation is the cause
        ("sin(1000*x)", "sin(1000*x)"),
        ("x + sin(x)", "sin(x)"),
        ("max(0, x) + 0.01*cos(x**2)", "cos(x**2)"),
    ],
)
def test_endless_oscillation_on_an_unbounded_support_is_refused(text, part):
    with pytest.raises(InadmissibleError, match="oscillates without end") as exc:
        check_admissible(parse_activation(text), normal())
    assert exc.value.problem.kind == "branches" and sp.sstr(exc.value.problem.part) == part


def test_oscillation_on_a_bounded_support_is_counted():
    assert problems(parse_activation("sin(3*x)"), UNIT) == []
    k = MAX_BRANCHES * 4
    (p,) = problems(parse_activation(f"sin({k}*x)"), UNIT)
    pieces = int(k / float(sp.pi)) + 1
    assert f"has about {pieces} monotone pieces" in p.message and p.kind == "branches"
    # sin(1/x) near 0 has infinitely many pieces even on [0, 1].
    (p,) = problems(parse_activation("sin(1/x)"), UNIT)
    assert "oscillates without end" in p.message


@pytest.mark.parametrize("text", ["sin(atan(x))", "cos(exp(-x**2))", "sin(x/(1 + x**2))",
                                  "sin(tanh(x))*x"])
def test_a_bounded_argument_oscillates_finitely(text):
    assert problems(parse_activation(text), normal()) == []


@pytest.mark.parametrize("law", [normal(), laplace(), logistic(), student_t(5), normal(3, 2)])
@pytest.mark.parametrize("name", catalog.names())
def test_every_catalog_activation_is_admissible(name, law):
    assert problems(catalog.resolve(name), law) == []


def test_problems_lists_realness_first_and_each_part_once():
    f = parse_activation("sin(1/x) + log(x - 2) + log(x - 2)**2")
    kinds = [(p.kind, sp.sstr(p.part)) for p in problems(f, UNIT)]
    assert kinds == [("not real", "log(x - 2)"), ("branches", "sin(1/x)")]


def test_bad_arguments():
    with pytest.raises(TypeError, match="SymPy expression"):
        problems("sqrt(x)", normal())
    with pytest.raises(TypeError, match="law must be"):
        problems(x, "normal")
    a = sp.Symbol("a", real=True)
    with pytest.raises(ValueError, match=r"bind the parameters \(a\)"):
        check_admissible(sp.sqrt(a * x), normal())


def test_laws_with_symbolic_parameters_are_checked_by_proof_only():
    mu = sp.Symbol("mu", real=True)
    assert problems(sp.sqrt(x**2 + 1), normal(mu, 1)) == []
    assert sorted(LAWS) == ["laplace", "logistic", "normal", "student_t", "uniform"]
