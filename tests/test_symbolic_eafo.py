"""The EAFO step and CRReLU (``eafo_sym.symbolic.eafo``), each against numbers."""


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
    eps,
    eta,
    output_entropy,
    x,
)
from eafo_sym.laws import laplace, logistic, normal


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
    assert sp.simplify(d.gradient_step_eps + eta / sp.sqrt(2 * sp.pi)) == 0


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


# --- the one correction pipeline, for every base -------------------------------------

from eafo_sym.symbolic.bases import BASES  # noqa: E402


def _independent_gradient(f: sp.Expr, p: sp.Expr) -> sp.Expr:
    """-(p/f')' by plain differentiation (no Euler-Lagrange machinery)."""
    return -sp.diff(p / sp.diff(f, x), x)


def _check_shape(c, law, points):
    """weight * (-(p/f')') == coefficient * shape at the points, with default parameters."""
    defaults = {s: sp.nsimplify(v, rational=True) for s, v in c.params.items()}
    f = c.base.subs(defaults)
    shape = c.shape.subs(defaults)
    for t in points:
        t = sp.Rational(t)
        piece = f.rewrite(sp.Piecewise)
        from eafo_sym.symbolic.pieces import restrict

        local = restrict(piece, t - sp.Rational(1, 10**9), t + sp.Rational(1, 10**9))
        ref = _independent_gradient(local, law.pdf)
        if c.turning_points:
            ref = ref * sp.diff(local, x) ** 2
        lhs = sp.N((c.coefficient * shape).subs(x, t), 30)
        rhs = sp.N(ref.subs(x, t), 30)
        assert abs(complex(lhs - rhs)) <= 1e-20 * (1 + abs(complex(rhs))), (c.name, t, lhs, rhs)


@pytest.mark.parametrize("base", sorted(BASES))
def test_derive_correction_for_every_base_is_minus_d_p_over_fprime(base):
    law = normal()
    c = derive_correction(base, law, taylor_order=0, y_space=False)
    assert c.coefficient.is_positive
    a, b = c.interval
    pts = [t for t in ("-2.3", "-0.7", "0.4", "1.9") if (a < sp.Rational(t)) == sp.true
           and (sp.Rational(t) < b) == sp.true]
    assert pts
    _check_shape(c, law, pts)
    # Turning points are exactly where f' changes sign.
    fp = sp.diff(c.base.subs({s: sp.nsimplify(v, rational=True) for s, v in c.params.items()}), x)
    for t in c.turning_points:
        assert abs(float(fp.subs(x, t))) < 1e-12


@pytest.mark.parametrize(
    "base, law",
    [("relu", normal(0.7, 2.5)), ("elu", logistic(0.3, 1.2)), ("softplus", laplace(0.5, 2)),
     ("tanh", normal(-1, 0.5))],
    ids=str,
)
def test_derive_correction_for_unlisted_laws(base, law):
    c = derive_correction(base, law, taylor_order=0, y_space=False)
    pts = [t for t in ("-1.3", "0.35", "0.9", "2.2")
           if (c.interval[0] < sp.Rational(t)) == sp.true and (sp.Rational(t) < c.interval[1]) == sp.true]
    _check_shape(c, law, pts)


def test_derive_crrelu_for_other_laws():
    """Derived, not special-cased: the scale enters the Gaussian factor, Laplace gives exp(-x)."""
    assert sp.simplify(derive_crrelu(normal(0, 2)).shape - x * sp.exp(-(x**2) / 8)) == 0
    lap = derive_crrelu(laplace())
    assert sp.simplify(lap.shape - sp.exp(-x)) == 0
    # On ReLU's branch f' = 1, so the shape is -p' up to a positive constant.
    for law in (normal(0, 2), laplace(), logistic(0, 1.5)):
        c = derive_crrelu(law)
        ratio = sp.simplify(c.coefficient * c.shape / -sp.diff(law.pdf, x).subs(x, x))
        assert ratio == 1 or all(
            float(ratio.subs(x, t)) == pytest.approx(1.0, rel=1e-12) for t in (0.3, 1.1, 2.9)
        )


def test_laws_are_hashable_so_derivations_cache():
    assert derive_crrelu(normal(0, 2)) is derive_crrelu(normal(0, 2))
    assert hash(normal(0, 2)) == hash(normal(0, 2)) and normal(0, 2) != normal(0, 3)


# --- sign fields that cannot contradict each other -----------------------------------------
@pytest.mark.parametrize("taylor_order", [0, 2])
def test_laplace_descent_sign_and_gradient_step_agree_with_the_numbers(taylor_order):
    """ReLU under Laplace: the gradient step has eps = -eta/2 < 0, but descent is eps > 0.

    The slope is measured here by a central difference of the exact branch entropy change.
    """
    from scipy import integrate, stats

    c = derive_correction("relu", laplace(), taylor_order=taylor_order, paper_eps=0.01)
    e = 1e-4
    fd = (entropy_change(x, c.shape, laplace(), e, interval=c.interval)
          - entropy_change(x, c.shape, laplace(), -e, interval=c.interval)) / (2 * e)
    # By parts on (0, oo) with s = exp(-x), dH/df = p: -p(0) s(0) + integral p s, by SciPy.
    p0 = stats.laplace.pdf(0.0)
    interior = integrate.quad(lambda t: stats.laplace.pdf(t) * np.exp(-t), 0, np.inf)[0]
    assert fd == pytest.approx(-p0 + interior, rel=1e-6) and fd < 0
    assert c.descent_sign == 1 and float(c.entropy_slope) == pytest.approx(fd, rel=1e-6)
    # The gradient step is eps = -eta * c with dH/df = -p' = c s on the branch (at x = 1).
    c_const = stats.laplace.pdf(1.0) / np.exp(-1.0)
    assert float(c.gradient_step_eps.subs(eta, 1)) == pytest.approx(-c_const, rel=1e-14)
    # The point term at the branch end x = 0 is what flips it: -p(0) s(0).
    (end,) = c.point_terms
    assert end.at == 0 and float(end.weight) == pytest.approx(-p0, rel=1e-14)
    assert float(c.point_slope) == pytest.approx(-p0, rel=1e-14)
    assert "points the other way" in c.note and "sign +1" in c.note
    assert "matches the descent direction" in c.note
    with pytest.warns(DeprecationWarning, match="gradient_step_eps"):
        assert c.eps_descent == c.gradient_step_eps


def test_normal_sign_fields_agree():
    c = derive_crrelu()
    assert c.descent_sign == -1 and c.point_slope == 0
    assert "points the other way" not in c.note and "sign -1" in c.note
    assert c.with_slope(-0.3).descent_sign == 1
    assert "sign +1" in c.with_slope(-0.3).note


def test_leaky_relu_kink_is_in_the_derivative():
    """LeakyReLU's kink: p(0) (1/alpha - 1) delta(x), parameters symbolic."""
    c = derive_correction("leaky_relu", taylor_order=0, y_space=False)
    (kink,) = c.point_terms
    alpha = next(iter(c.params))
    assert kink.kind == "kink" and kink.at == 0
    assert sp.simplify(kink.weight - normal().pdf.subs(x, 0) * (1 / alpha - 1)) == 0
    assert sp.simplify(c.dH_df.coeff(sp.DiracDelta(x)) - kink.weight) == 0
    # The shape vanishes at the kink, so the point term does not move dH/deps there.
    assert c.point_slope == 0 and c.descent_sign == -1


def test_derive_cli_sign_line_under_laplace(capsys):
    """The CLI prints the note, so its sign line agrees with descent_sign."""
    from eafo_sym.cli import main

    assert main(["derive", "--dist", "laplace", "--order", "1"]) == 0
    (line,) = [s for s in capsys.readouterr().out.splitlines() if s.startswith("sign:")]
    assert "sign +1" in line and "points the other way" in line


def test_y_space_step_for_sinh_under_student_t_finishes_and_matches_the_x_step():
    """sinh under t(5): sp.solve on the simplified first-order condition ran for 15 minutes.

    The y-space step must equal f + f' (x-step - f) to first order (docs/mathematics.md §6).
    """
    from eafo_sym.laws import student_t

    f, law = sp.sinh(x), student_t(5)
    dy = eafo_step(f, law, eta, space="y") - f
    dx = eafo_step(f, law, eta, space="x") - f
    gap = sp.lambdify(x, (dy - sp.diff(f, x) * dx).subs(eta, 1), "mpmath")
    assert all(abs(gap(t)) < 1e-12 for t in (-2.1, -0.3, 0.4, 1.7))
