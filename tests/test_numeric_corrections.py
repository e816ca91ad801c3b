"""EAFO corrections of other bases and non-Gaussian inputs (``eafo_sym.numeric.corrections``).

Each derived shape is checked against the core's functional derivative of
the bound base, each descent sign against the exact (quadrature) entropy
change, and the table of laws against integration by parts.
"""

import math
import subprocess
import sys
import time

import numpy as np
import pytest
import sympy as sp

from eafo_sym import cache, eps, x
from eafo_sym import catalog as activations
from eafo_sym.catalog import CORRECTED_BASES as BASES
from eafo_sym.laws import laplace, logistic, mixture, normal
from eafo_sym.numeric.corrections import correction_shape, eafo_path, non_gaussian_table
from eafo_sym.numeric.entropy import output_entropy
from eafo_sym.numeric.taylor import entropy_change, first_variation
from eafo_sym.symbolic import eafo
from eafo_sym.symbolic.functional import functional_derivative, x_space_gradient


def test_registration_is_lazy():
    code = (
        "import eafo_sym.catalog as a\n"
        "names = [n for n in a.names() if n.startswith('eafo_')]\n"
        "assert names, names\n"
        "assert all(not isinstance(a._REGISTRY[n], a.Activation) for n in names)\n"
        "import eafo_sym.symbolic.eafo as e\n"
        "assert e._derive.cache_info()['memory'] == 0, 'importing the catalog derived something'\n"
        "print(len(names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(BASES)


@pytest.mark.parametrize("base", BASES)
def test_registered_correction_is_fast_and_well_formed(base, monkeypatch):
    monkeypatch.setenv(cache.OFF_ENV, "1")  # derive, do not read the disk cache
    eafo._derive.cache_clear()
    t = time.perf_counter()
    act = eafo.corrected_activation(base)
    elapsed = time.perf_counter() - t
    assert act == activations.get(f"eafo_{base}")
    assert elapsed < 5  # < 3 s on an idle core; slack for a loaded CI machine
    assert act.derived and act.params[eps] == 0.01
    assert set(activations.get(base).params) <= set(act.params)
    vals = [float(act.bind().subs(x, t)) for t in (-3.0, -0.5, 0.0, 0.5, 3.0)]
    assert all(math.isfinite(v) for v in vals)


@pytest.mark.parametrize("base", ["leaky_relu", "elu", "softplus", "tanh"])
def test_shape_is_the_functional_derivative_up_to_a_positive_constant(base):
    """Independent path: the core's functional_derivative on the bound base."""
    c = correction_shape(base)
    bound = activations.get(base).bind()
    defaults = {s: sp.nsimplify(v, rational=True) for s, v in c.params.items()}
    shape = c.shape.subs(defaults)
    fd = functional_derivative(bound, normal())
    for t in (-2.3, -0.7, 0.4, 1.9):
        ref = float(fd.subs(x, t)) if not isinstance(fd, sp.Piecewise) else float(fd.subs(x, t))
        assert float(c.coefficient) * float(shape.subs(x, t)) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("base", ["prelu", "elu", "softplus", "tanh"])
def test_descent_sign_against_exact_entropy_change(base):
    """+eps raises H, -eps lowers it: exact quadrature, no series."""
    c = correction_shape(base, slope=True)
    bound = activations.get(base).bind()
    shape = c.shape.subs({s: sp.nsimplify(v, rational=True) for s, v in c.params.items()})
    h = 1e-4
    up = entropy_change(bound, shape, normal(), h)
    down = entropy_change(bound, shape, normal(), -h)
    # O(h^2) difference error: tanh's third Taylor coefficient is large (cosh^4 growth).
    assert (up - down) / (2 * h) == pytest.approx(c.entropy_slope, rel=1e-4)
    assert c.descent_sign == -1 and up > 0 > down


def test_leaky_relu_slope_matches_closed_form():
    """integral p h'/f' splits into (1 + 1/alpha^2) * sqrt(2)/8 / ... derived from CRReLU's slope."""
    c = correction_shape("leaky_relu", slope=True)
    alpha = 0.01
    relu_slope = math.sqrt(2) / 8  # CRReLU's first Taylor coefficient (core doctest)
    assert c.entropy_slope == pytest.approx(relu_slope * (1 + 1 / alpha**2), rel=1e-8)


def test_silu_turning_point_and_weighted_direction():
    c = correction_shape("silu", slope=True)
    (xt,) = c.turning_points
    assert sp.simplify(xt - (-1 - sp.LambertW(sp.exp(-1)))) == 0
    assert float(sp.diff(activations.resolve("silu"), x).subs(x, xt)) == pytest.approx(0, abs=1e-14)
    # The shape is smooth through the turning point (the unweighted gradient has a double pole).
    s = c.shape
    assert math.isfinite(float(s.subs(x, xt)))
    fd = x_space_gradient(activations.resolve("silu"), normal().pdf)
    assert abs(float(fd.subs(x, xt + sp.Rational(1, 10**6)))) > 1e6
    # Descent: the branch-sum entropy falls for eps < 0 (checked against the slope sign).
    h0 = output_entropy("silu", normal())
    act = activations.get("eafo_silu")
    assert (
        output_entropy(act.bind(epsilon=-0.01), normal())
        < h0
        < output_entropy(act.bind(epsilon=0.01), normal())
    )
    assert c.entropy_slope > 0 and c.descent_sign == -1


def test_shape_follows_the_input_law():
    """Derived, not typed: another scale changes the Gaussian factor."""
    c = correction_shape("elu", normal(0, 2))
    assert c.shape.args[1][0] == x * sp.exp(-(x**2) / 8)


def test_first_variation_of_scaling():
    assert first_variation(x, x, laplace()) == pytest.approx(1.0, abs=1e-9)
    assert first_variation(sp.exp(x), sp.exp(x), normal()) == pytest.approx(1.0, abs=1e-9)


def test_eafo_path_decreases_entropy():
    """The dynamic variant on the identity with N(0, 2) input; each step lowers H."""
    hs = eafo_path(x, normal(0, 2), 1.0, 2)
    assert hs[0] > hs[1] > hs[2]
    assert hs[0] == pytest.approx(float(normal(0, 2).entropy()), abs=1e-12)


@pytest.mark.slow
def test_eafo_path_from_elu():
    """ELU's first step jumps at 0 (dH/df does, through f''), so the second has a kink term."""
    hs = eafo_path("elu", normal(), 0.2, 2, point_terms=False)
    assert hs[0] > hs[1] > hs[2]
    with pytest.raises(ValueError, match="DiracDelta"):
        eafo_path("elu", normal(), 0.2, 2)


def test_non_gaussian_table():
    dists = {
        "normal(0,2)": normal(0, 2),
        "laplace": laplace(),
        "logistic": logistic(),
        "mix": mixture([normal(-2, 1), normal(2, 1)]),
    }
    rows = {r["dist"]: r for r in non_gaussian_table(dists)}
    for label, d in dists.items():
        r = rows[label]
        assert r["wafbc_closed_form"] and r["wafbc_entropy"] == 0
        # Worst activation = CDF: its output is uniform on (0, 1), entropy 0 (quadrature).
        if label in ("laplace", "logistic", "normal(0,2)"):
            assert output_entropy(r["wafbc"], d) == pytest.approx(0.0, abs=1e-7)
        # The correction on ReLU's branch is -p'(x) up to a positive constant.
        ratio = sp.simplify(r["shape"] / (-sp.diff(d.pdf, x)).subs(x, x))
        for t in (0.3, 1.7):
            assert float(ratio.subs(x, t)) > 0
        # Integration by parts: slope = boundary (-p(0) h(0)) + c * integral h^2.
        assert r["entropy_slope"] == pytest.approx(
            r["boundary_term"] + r["interior_term"], abs=1e-8
        )
        assert r["interior_term"] > 0
    # Gaussian-like laws: h(0) = 0, descent sign -1. Laplace: the kink at 0 makes the
    # boundary term win and flips the sign.
    assert all(rows[k]["descent_sign"] == -1 for k in ("normal(0,2)", "logistic", "mix"))
    assert rows["laplace"]["descent_sign"] == 1
    assert rows["laplace"]["entropy_slope"] == pytest.approx(-0.25, abs=1e-9)
    assert rows["normal(0,2)"]["bounded_on_line"] and not rows["laplace"]["bounded_on_line"]


def test_unknown_base(monkeypatch):
    with pytest.raises(ValueError, match="unknown activation"):
        correction_shape("swishh")
    # A constant base, registered only for this test (monkeypatch removes it again,
    # so the codegen staleness check does not see it).
    monkeypatch.setitem(
        activations._REGISTRY, "zero_act", activations.Activation("zero_act", sp.S.Zero)
    )
    with pytest.raises(ValueError, match="constant"):
        correction_shape("zero_act")


def test_codegen_friendly_pieces():
    """Every Piecewise shape ends with a True default (the printer needs no missing case)."""
    for base in BASES:
        s = correction_shape(base).shape
        for pw in s.atoms(sp.Piecewise):
            assert pw.args[-1][1] == sp.true
        assert not s.has(sp.nan)


def test_numbers_are_finite_over_a_wide_range():
    for base in BASES:
        f = sp.lambdify(x, activations.get(f"eafo_{base}").bind(), "numpy")
        with np.errstate(all="ignore"):
            v = np.asarray(f(np.linspace(-30, 30, 601)), dtype=float)
        assert np.all(np.isfinite(v)), base
